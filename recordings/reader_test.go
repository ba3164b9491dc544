package recordings

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/session"
)

// security-anchors I3: a crash cuts the last line anywhere; the rest loads
// and the cut is reported with the byte where the lost event starts.
func TestReadTruncated(t *testing.T) {
	events := sampleEvents(t)
	var buf bytes.Buffer
	r, err := NewRecorder(&buf, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		r.Event(e)
	}
	file := buf.Bytes()
	lastStart := bytes.LastIndexByte(file[:len(file)-1], '\n') + 1
	for cut := lastStart + 1; cut < len(file)-1; cut += 7 {
		rec, err := Read(bytes.NewReader(file[:cut]))
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if len(rec.Events) != len(events)-1 {
			t.Errorf("cut at %d: %d events, want %d", cut, len(rec.Events), len(events)-1)
		}
		want := fmt.Sprintf("recording truncated at byte %d (last event incomplete)", lastStart)
		if len(rec.Problems) != 1 || rec.Problems[0].Msg != want || rec.Problems[0].Line != len(events)+1 {
			t.Errorf("cut at %d: problems %v, want line %d: %s", cut, rec.Problems, len(events)+1, want)
		}
	}
	// Only the newline missing: the event is whole, nothing to report.
	rec, err := Read(bytes.NewReader(file[:len(file)-1]))
	if err != nil || len(rec.Events) != len(events) || len(rec.Problems) != 0 {
		t.Errorf("without the final newline: %d events, %v, %v", len(rec.Events), rec.Problems, err)
	}
	// A cut inside the header is an error that says so.
	if _, err := Read(bytes.NewReader(file[:20])); err == nil || !strings.Contains(err.Error(), "truncated at byte 0") {
		t.Errorf("cut in the header: %v", err)
	}
}

func TestReadHeaderErrors(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"empty", "", "the file is empty"},
		{"not JSON", "hello\n", "not an ehlo recording"},
		{"other format", `{"format":"har","version":1}` + "\n", `not an ehlo recording: line 1: format is "har"`},
		{"future version", `{"format":"ehlo-recording","version":3}` + "\n", "unsupported recording version 3 (this ehlo reads versions 1 to 2)"},
		{"version 0", `{"format":"ehlo-recording","version":0}` + "\n", "unsupported recording version 0 (this ehlo reads versions 1 to 2)"},
		{"string version", `{"format":"ehlo-recording","version":"1.0"}` + "\n", "unsupported recording version"},
		{"bad field", `{"format":"ehlo-recording","version":1,"secrets":"yes"}` + "\n", "invalid header"},
		{"hostile format", `{"format":"\u001b]52;c;ZXZpbA==\u0007","version":1}` + "\n", `format is "\x1b]52;c;ZXZpbA==\a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Read: %v, want %q", err, tt.want)
			}
			if err != nil && strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("error message carries ESC: %q", err)
			}
		})
	}
}

const header = `{"format":"ehlo-recording","version":1,"created":"2026-11-25T22:50:00Z","server":"\u001b[2Jmx","transport":"smtp","network":"tcp","ehlo":"v1","secrets":false,"insecure":false}`

// security-anchors I5: a hostile recording. Each bad line is reported with
// its number and skipped or mended; nothing panics; the display is clean.
func TestReadHostile(t *testing.T) {
	lines := []string{
		header, // 1
		`{"offset_us":1000,"kind":"server","data":"220 \u001b]0;pwned\u0007 hi\r\n"}`,  // 2 kept: ANSI is data
		`{"offset_us":2000,"kind":"server","data":"250 ok\r*** TLS verified\r\n"}`,     // 3 kept
		`{"offset_us":1e15,"kind":"note","text":"far future"}`,                         // 4 mended
		`{"offset_us":1e400,"kind":"note","text":"overflow"}`,                          // 5 mended
		`{"offset_us":1500,"kind":"note","text":"back in time"}`,                       // 6 mended
		`{"offset_us":3000,"kind":"server","data":"250 ok"`,                            // 7 invalid JSON
		`{"offset_us":3000,"kind":"gopher"}`,                                           // 8 unknown kind
		`{"offset_us":3000,"kind":"server","b64":"!!!"}`,                               // 9 bad base64
		`{"offset_us":3000,"kind":"server","data":"a","b64":"YQ=="}`,                   // 10 both
		`{"offset_us":3000,"kind":"client"}`,                                           // 11 no data
		`{"offset_us":3000,"kind":"tls"}`,                                              // 12 no handshake
		`{"offset_us":3000,"kind":"state","state":{"phase":"nirvana"}}`,                // 13 unknown phase
		`{"offset_us":3000,"kind":"state","state":{"phase":"rcpt","rcpts":-5}}`,        // 14 kept, clamped to 0
		`{"offset_us":3000,"kind":"client","data":"AUTH x","secrets":[[5,99],[-1,2]]}`, // 15 kept, spans dropped
		`{"offset_us":"abc","kind":"note"}`,                                            // 16 invalid number
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),                        // 17 too deep
		`{"offset_us":4000,"kind":"note","text":"\u009b31m\u202eevil"}`,                // 18 kept
		``,                                  // 19 blank: skipped silently
		`{"offset_us":5000,"kind":"close"}`, // 20
	}
	rec, err := Read(strings.NewReader(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantProblems := map[int]string{
		4:  "out of range",
		5:  "out of range",
		6:  "goes back in time",
		7:  "invalid JSON",
		8:  `unknown event kind "gopher"`,
		9:  "invalid base64",
		10: `both "data" and "b64"`,
		11: `client event without "data" or "b64"`,
		12: `tls event without "handshake"`,
		13: `unknown phase "nirvana"`,
		15: "secret span",
		16: "invalid JSON",
		17: "invalid JSON",
	}
	got := map[int]string{}
	for _, p := range rec.Problems {
		got[p.Line] += p.Msg + "; "
	}
	for n, want := range wantProblems {
		if !strings.Contains(got[n], want) {
			t.Errorf("line %d: problems %q, want %q", n, got[n], want)
		}
	}
	for n := range got {
		if _, ok := wantProblems[n]; !ok {
			t.Errorf("line %d: unexpected problem %q", n, got[n])
		}
	}
	kinds := ""
	for i, e := range rec.Events {
		kinds += e.Kind.String() + " "
		if i > 0 && e.Offset < rec.Events[i-1].Offset {
			t.Errorf("event %d goes back in time", i)
		}
		if e.Offset > MaxOffset {
			t.Errorf("event %d: offset %v not clamped", i, e.Offset)
		}
	}
	if want := "server server note note note state client note close "; kinds != want {
		t.Errorf("events: %s, want %s", kinds, want)
	}
	if rec.Events[2].Offset != 2*time.Millisecond {
		t.Errorf("absurd offset became %v, want the previous event's", rec.Events[2].Offset)
	}
	if s := rec.Events[5].State; s.Recipients != 0 {
		t.Errorf("negative recipients kept: %+v", s)
	}
	if e := rec.Events[6]; len(e.Secrets) != 0 {
		t.Errorf("out-of-range spans kept: %v", e.Secrets)
	}

	// H1, H2 through replay --print.
	var out bytes.Buffer
	if err := WriteTranscript(&out, rec); err != nil {
		t.Fatal(err)
	}
	checkTranscriptSafe(t, out.String())
	for _, want := range []string{
		`<-  220 \x1b]0;pwned\x07 hi`,
		`<-  250 ok\r*** TLS verified`,
		`*** \u009b31m\u202eevil`,
		`*** line 7: invalid JSON`,
		`=== Recording of \x1b[2Jmx (smtp over tcp)`,
	} {
		if !strings.Contains(out.String(), want+"\n") && !strings.Contains(out.String(), want) {
			t.Errorf("replay lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReadLongLine(t *testing.T) {
	long := `{"offset_us":1,"kind":"server","data":"` + strings.Repeat("x", 500) + `"}`
	file := header + "\n" + long + "\n" + `{"offset_us":2,"kind":"close"}` + "\n"
	rec, err := read(strings.NewReader(file), 200)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) != 1 || rec.Events[0].Kind != session.KindClose {
		t.Errorf("events: %+v", rec.Events)
	}
	if len(rec.Problems) != 1 || rec.Problems[0].Line != 2 || !strings.Contains(rec.Problems[0].Msg, "longer than 200 bytes") {
		t.Errorf("problems: %v", rec.Problems)
	}
	// The same line under the real cap loads.
	if rec, err := Read(strings.NewReader(file)); err != nil || len(rec.Events) != 2 {
		t.Errorf("under MaxLineBytes: %v %v", rec, err)
	}
}

func TestReadCRLFAndProblemCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(header + "\r\n")
	for range maxProblems + 5 {
		b.WriteString("junk\r\n")
	}
	b.WriteString(`{"offset_us":2,"kind":"close"}` + "\r\n")
	rec, err := Read(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) != 1 {
		t.Errorf("events: %+v", rec.Events)
	}
	if n := len(rec.Problems); n != maxProblems+1 || rec.Problems[n-1].String() != "5 more problems not listed" {
		t.Errorf("%d problems, last %v", n, rec.Problems[n-1])
	}
}

// checkTranscriptSafe: no byte of the output can drive a terminal, and
// every line starts with one of ehlo's markers.
func checkTranscriptSafe(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		checkSafe(t, line)
		ok := false
		for _, m := range []string{markInfo, markError, markClient, markClientTLS, markServer, markServerTLS} {
			ok = ok || strings.HasPrefix(line, m)
		}
		if !ok {
			t.Errorf("line without a marker: %q", line)
		}
	}
}

// encodeAll is the canonical form of events, to compare two readings.
func encodeAll(t *testing.T, events []session.Event) []byte {
	var buf bytes.Buffer
	for _, e := range events {
		line, err := marshalLine(toJSON(e))
		if err != nil {
			t.Fatalf("event read back cannot be written: %v", err)
		}
		buf.Write(line)
	}
	return buf.Bytes()
}

func FuzzRecordingReader(f *testing.F) {
	good := writeRecording(f, sampleEvents(f))
	f.Add(good)
	f.Add(good[:len(good)-10])
	f.Add([]byte(header + "\n" + `{"offset_us":1e15,"kind":"server","b64":"!!"}` + "\n{"))
	f.Add([]byte(header + "\n" + `{"offset_us":1,"kind":"state","state":{"phase":"data","rcpts":-1}}` + "\n"))
	f.Add([]byte(header + "\n" + `{"offset_us":1,"kind":"tls","handshake":{"chain":[{"not_after":"9999-12-31T23:59:59Z"}]}}`))
	f.Add([]byte(`{"format":"ehlo-recording","version":2}`))
	f.Add([]byte(header + "\n" + snapshotLine + "\n" + `{"offset_us":1,"kind":"client","data":"x\r\n","tls":true}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteTranscript(&out, rec); err != nil {
			t.Fatal(err)
		}
		checkTranscriptSafe(t, out.String())
		if len(rec.Events) == 0 {
			return
		}
		// What was read writes back and reads back the same, with nothing
		// to report.
		var buf bytes.Buffer
		r, err := NewRecorder(&buf, rec.Header)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rec.Events {
			r.Event(e)
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		file := buf.Bytes()
		again, err := Read(bytes.NewReader(file))
		if err != nil || len(again.Problems) != 0 {
			t.Fatalf("rewritten recording: %v, %v", err, again.Problems)
		}
		if !bytes.Equal(encodeAll(t, again.Events), encodeAll(t, rec.Events)) {
			t.Fatal("events changed in a write and read")
		}
		// Cut the last event short: the rest is kept and the cut reported.
		lastStart := bytes.LastIndexByte(file[:len(file)-1], '\n') + 1
		cut, err := Read(bytes.NewReader(file[:len(file)-2]))
		if err != nil || len(cut.Events) != len(rec.Events)-1 || len(cut.Problems) != 1 ||
			cut.Problems[0].Msg != fmt.Sprintf("recording truncated at byte %d (last event incomplete)", lastStart) {
			t.Fatalf("truncated: %v events of %d, problems %v, err %v", len(cut.Events), len(rec.Events), cut.Problems, err)
		}
	})
}

// zeros is /dev/zero: an input that never ends and has no line end.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	clear(p)
	z.n += int64(len(p))
	return len(p), nil
}

// An input that is no recording and never ends a line, /dev/zero say, is
// refused once its first line is past MaxHeaderBytes: it used to be read
// for ever, looking for the header's end.
func TestEndlessInputIsRefused(t *testing.T) {
	z := &zeros{}
	done := make(chan error, 1)
	go func() { _, err := Read(z); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "the first line is too long") {
			t.Errorf("Read(/dev/zero) = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read(/dev/zero) still reading after 10 s")
	}
	if z.n > 2*MaxHeaderBytes {
		t.Errorf("read %d bytes of it", z.n)
	}
}

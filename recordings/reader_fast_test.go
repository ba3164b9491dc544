package recordings

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// checkFastMatchesJSON reads data with and without the fast path and
// fails unless both give the same Recording (header, events, problems) and
// the same error; and for each line the fast path accepts, parseEvent
// (encoding/json) must give the same event with nothing to report.
// It returns how many lines the fast path accepted.
func checkFastMatchesJSON(t testing.TB, data []byte, maxLine int) int {
	t.Helper()
	fast, ferr := readWith(bytes.NewReader(data), maxLine, true)
	slow, serr := readWith(bytes.NewReader(data), maxLine, false)
	if fmt.Sprint(ferr) != fmt.Sprint(serr) {
		t.Fatalf("errors differ:\nfast %v\njson %v", ferr, serr)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("recordings differ:\nfast %+v\njson %+v", fast, slow)
	}
	accepted := 0
	var fp fastParser
	for _, line := range bytes.Split(data, []byte("\n")) {
		e, ok := fp.parseEvent(line)
		if !ok {
			continue
		}
		accepted++
		want, warnings, err := parseEvent(line)
		if err != nil || len(warnings) != 0 {
			t.Fatalf("fast path accepted %q, which encoding/json reads with %v %v", line, warnings, err)
		}
		if !reflect.DeepEqual(e, want) {
			t.Fatalf("line %q:\nfast %#v\njson %#v", line, e, want)
		}
	}
	return accepted
}

// The Recorder's own lines, every kind but tls, go through the fast path
// and read as encoding/json reads them.
func TestReaderFastRecorderLines(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	events := append(sampleEvents(t),
		session.Event{Offset: us(6000), Kind: session.KindServer, Data: []byte("ctl \x01\x1f\x7f \t\b\f\\ / \"q\" <>&\u2028\u2029 é 中 😀\r\n")},
		session.Event{Offset: us(6001), Kind: session.KindClient, Data: []byte("\xff")},
		session.Event{Offset: us(6002), Kind: session.KindClient, Data: []byte{}, TLS: true},
		session.Event{Offset: us(6003), Kind: session.KindServer, Data: []byte("x"), Secrets: []protocol.Span{{Start: 0, End: 1}}},
		session.Event{Offset: us(6004), Kind: session.KindClient, Data: []byte("AUTH PLAIN AGEAYg== x\r\n"), Secrets: []protocol.Span{{Start: 0, End: 4}, {Start: 11, End: 19}}},
		session.Event{Offset: us(6005), Kind: session.KindState, State: protocol.State{Phase: protocol.PhaseData, Recipients: 123456}},
		session.Event{Offset: us(6006), Kind: session.KindState},
		session.Event{Offset: us(6007), Kind: session.KindConnect, Network: "unix", Addr: "/run/\"sock\"\n"},
		session.Event{Offset: us(6008), Kind: session.KindNote, Text: "\x1b[31m red \u009b évil", Redacted: true},
		session.Event{Offset: MaxOffset, Kind: session.KindClose, Text: "end"},
	)
	for p := protocol.PhaseDisconnected; p <= protocol.PhaseData; p++ {
		events = append(events, session.Event{Offset: MaxOffset, Kind: session.KindState, State: protocol.State{Phase: p, TLS: true}})
	}
	file := writeRecording(t, events)
	accepted := checkFastMatchesJSON(t, file, MaxLineBytes)
	// All but the tls event, and the close event Close adds.
	if want := len(events); accepted != want {
		t.Errorf("fast path took %d of the Recorder's %d event lines, want %d", accepted, len(events), want)
	}
	// The same with CRLF line ends.
	crlf := bytes.ReplaceAll(file, []byte("\n"), []byte("\r\n"))
	checkFastMatchesJSON(t, crlf, MaxLineBytes)

	bench := benchRecordingFileT(t, 5000)
	if n := checkFastMatchesJSON(t, bench, MaxLineBytes); n != 5000 {
		t.Errorf("fast path took %d of the benchmark's 5000 lines", n)
	}
}

// benchRecordingFileT builds the benchmark's recording in a test
// (benchRecordingFile wants a *testing.B).
func benchRecordingFileT(t *testing.T, n int) []byte {
	var file []byte
	testing.Benchmark(func(b *testing.B) { file = benchRecordingFile(b, n) })
	if file == nil {
		t.Fatal("no benchmark recording")
	}
	return file
}

// Lines near the Recorder's shape that the fast path must decline or read
// exactly as encoding/json does.
func TestReaderFastNearMisses(t *testing.T) {
	lines := []string{
		`{"offset_us":1,"kind":"client","data":"a"}`,
		`{"offset_us":1,"kind":"client","data":"a"} `,
		`{"offset_us":1,"kind":"client","data":"a"}` + "\r",
		`{"offset_us":1,"kind":"client","data":"a"}` + "\t\r",
		` {"offset_us":1,"kind":"client","data":"a"}`,
		`{"offset_us":1,"kind":"client","data":"a"}}`,
		`{"offset_us":1,"kind":"client","data":"a"}x`,
		`{"offset_us":1,"kind":"client","data":"a",}`,
		`{"offset_us":1,"kind":"client","data":"a","data":"b"}`,
		`{"offset_us":1,"kind":"client","b64":"YQ==","data":"b"}`,
		`{"offset_us":1,"kind":"client","data":"b","b64":"YQ=="}`,
		`{"offset_us":1,"kind":"client","Data":"a"}`,
		`{"offset_us":1,"kind":"client","data":"a","extra":1}`,
		`{"offset_us":1,"kind":"client","data":null}`,
		`{"offset_us":1,"kind":"client","data":1}`,
		`{"offset_us":1,"kind":"client"}`,
		`{"offset_us":1,"kind":"Client","data":"a"}`,
		`{"offset_us":1,"kind":"cli\u0065nt","data":"a"}`,
		`{"offset_us":01,"kind":"client","data":"a"}`,
		`{"offset_us":-1,"kind":"client","data":"a"}`,
		`{"offset_us":1.0,"kind":"client","data":"a"}`,
		`{"offset_us":1e3,"kind":"client","data":"a"}`,
		`{"offset_us":"1","kind":"client","data":"a"}`,
		`{"offset_us":2592000000000,"kind":"client","data":"a"}`,
		`{"offset_us":2592000000001,"kind":"client","data":"a"}`,
		`{"offset_us":99999999999999999999,"kind":"client","data":"a"}`,
		`{"offset_us":1,"kind":"client","data":"\ud83d\ude00"}`,
		`{"offset_us":1,"kind":"client","data":"\ud83d"}`,
		`{"offset_us":1,"kind":"client","data":"\u00e9\u00E9\u0000"}`,
		`{"offset_us":1,"kind":"client","data":"\u00g9"}`,
		`{"offset_us":1,"kind":"client","data":"\x"}`,
		`{"offset_us":1,"kind":"client","data":"\"}`,
		`{"offset_us":1,"kind":"client","data":"\\"}`,
		`{"offset_us":1,"kind":"client","data":"tab	raw"}`,
		"{\"offset_us\":1,\"kind\":\"client\",\"data\":\"bad \xff utf8\"}",
		"{\"offset_us\":1,\"kind\":\"client\",\"data\":\"cut \xe4\xb8\"}",
		`{"offset_us":1,"kind":"client","b64":""}`,
		`{"offset_us":1,"kind":"client","data":""}`,
		`{"offset_us":1,"kind":"client","b64":"YQ"}`,
		`{"offset_us":1,"kind":"client","b64":"YR=="}`,
		`{"offset_us":1,"kind":"client","b64":"Y\nQ=="}`,
		`{"offset_us":1,"kind":"client","b64":"Y\/Q=="}`,
		`{"offset_us":1,"kind":"client","b64":"!!!!"}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":[]}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":[[0,2]]}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":[[0,3]]}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":[[1,1]]}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":[[0]]}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":[[0,1,2]]}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":[[0,1],]}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":[[0, 1]]}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":null}`,
		`{"offset_us":1,"kind":"client","data":"ab","secrets":[[0,1]],"tls":true}`,
		`{"offset_us":1,"kind":"client","data":"ab","tls":true,"redacted":false}`,
		`{"offset_us":1,"kind":"client","data":"ab","tls":tru}`,
		`{"offset_us":1,"kind":"client","data":"ab","tls":1}`,
		`{"offset_us":1,"kind":"note","data":"ab"}`,
		`{"offset_us":1,"kind":"note","text":"hi","network":"tcp"}`,
		`{"offset_us":1,"kind":"note","network":"tcp","addr":"a","text":"hi"}`,
		`{"offset_us":1,"kind":"note","text":"\u2028\u001b"}`,
		`{"offset_us":1,"kind":"close"}`,
		`{"offset_us":1,"kind":"close","text":""}`,
		`{"offset_us":1,"kind":"gopher"}`,
		`{"offset_us":1,"kind":"tls"}`,
		`{"offset_us":1,"kind":"tls","handshake":{"complete":true,"verified":false}}`,
		`{"offset_us":1,"kind":"state"}`,
		`{"offset_us":1,"kind":"state","state":{"phase":"data","tls":false,"auth":true,"rcpts":3}}`,
		`{"offset_us":1,"kind":"state","state":{"phase":"data","tls":false,"auth":true,"rcpts":-3}}`,
		`{"offset_us":1,"kind":"state","state":{"phase":"data","tls":false,"auth":true,"rcpts":3,"x":1}}`,
		`{"offset_us":1,"kind":"state","state":{"phase":"data","auth":true,"tls":false,"rcpts":3}}`,
		`{"offset_us":1,"kind":"state","state":{"phase":"nirvana","tls":false,"auth":true,"rcpts":3}}`,
		`{"offset_us":1,"kind":"state","state":{"phase":"data","tls":false,"auth":true,"rcpts":9999999999}}`,
		`{"offset_us":1,"kind":"note","state":{"phase":"data","tls":false,"auth":true,"rcpts":3}}`,
		`{"offset_us":1,"kind":"client","data":"a"`,
		`{"offset_us":1,"kind":"client","data":"a`,
		`{"offset_us":1,"kind":"client","data":`,
		`{"offset_us":1,"kind":"client",`,
		`{"offset_us":1,"kind":"`,
		`{"offset_us":1,`,
		`{"offset_us":`,
	}
	file := header + "\n" + strings.Join(lines, "\n") + "\n"
	checkFastMatchesJSON(t, []byte(file), MaxLineBytes)
	// Each alone, as a last line cut off (no newline).
	for _, l := range lines {
		checkFastMatchesJSON(t, []byte(header+"\n"+l), MaxLineBytes)
		checkFastMatchesJSON(t, []byte(header+"\n"+l+"\n"), 30)
	}
}

// The events' Data share chunks; an append to one must not reach the next.
func TestReaderFastDataIsolated(t *testing.T) {
	file := header + "\n" +
		`{"offset_us":1,"kind":"client","data":"aaaa"}` + "\n" +
		`{"offset_us":2,"kind":"client","b64":"YmJiYg=="}` + "\n" +
		`{"offset_us":3,"kind":"client","data":"c\u0063cc"}` + "\n"
	rec, err := Read(strings.NewReader(file))
	if err != nil || len(rec.Events) != 3 {
		t.Fatalf("%v %v", rec, err)
	}
	for i, e := range rec.Events {
		if cap(e.Data) != len(e.Data) {
			t.Errorf("event %d: cap %d, len %d", i, cap(e.Data), len(e.Data))
		}
		_ = append(e.Data, "XXXXXXXX"...)
	}
	for i, want := range []string{"aaaa", "bbbb", "cccc"} {
		if got := string(rec.Events[i].Data); got != want {
			t.Errorf("event %d: %q, want %q", i, got, want)
		}
	}
}

func TestEventsHint(t *testing.T) {
	line := bytes.Repeat([]byte("x"), 99)
	sample := bytes.Repeat(append(line, '\n'), 650)
	if n := eventsHint(100_000_000, sample); n < 1_000_000 || n > 1_100_000 {
		t.Errorf("hint for 1M lines of 100 bytes: %d", n)
	}
	// A hostile file of newlines reserves no more than remaining/40.
	if n := eventsHint(1<<30, bytes.Repeat([]byte("\n"), 1<<16)); n > 1<<30/40+16 {
		t.Errorf("hint for newlines: %d", n)
	}
	if n := eventsHint(0, sample); n != 0 {
		t.Errorf("hint for nothing: %d", n)
	}
}

func FuzzReaderFastMatchesJSON(f *testing.F) {
	good := writeRecording(f, sampleEvents(f))
	f.Add(good)
	f.Add(good[:len(good)-10])
	f.Add(bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")))
	f.Add([]byte(header + "\n" + `{"offset_us":1,"kind":"client","data":"AUTH x\r\n\u001b\u2028\"","secrets":[[0,4]]}` + "\n"))
	f.Add([]byte(header + "\n" + `{"offset_us":1,"kind":"server","b64":"AAEC/w==","tls":true,"redacted":true}` + "\n"))
	f.Add([]byte(header + "\n" + `{"offset_us":1,"kind":"state","state":{"phase":"rcpt","tls":true,"auth":false,"rcpts":2}}` + "\n"))
	f.Add([]byte(header + "\n" + `{"offset_us":1,"kind":"connect","network":"tcp","addr":"127.0.0.1:25"}` + "\n" + `{"offset_us":2,"kind":"close","text":"bye"}`))
	f.Add([]byte(header + "\n" + `{"offset_us":1,"kind":"note","text":"\ud83d\ude00 \u00e9"}` + "\n"))
	f.Add([]byte(header + "\n" + snapshotLine + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastMatchesJSON(t, data, MaxLineBytes)
		checkFastMatchesJSON(t, data, 64)
	})
}

// failingReader returns data, then err instead of io.EOF.
type failingReader struct {
	r   *bytes.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil {
		return n, f.err
	}
	return n, nil
}

// A large recording with a problem of every kind scattered through it
// reads the same through the fast path as through encoding/json: the same
// events, the same problems in the same order with the same line numbers,
// the same problem cap; and a reader that fails midway gives the same
// partial recording and error.
func TestReadFastMatchesJSONLargeFile(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(header + "\n")
	good := func(i int) string {
		return fmt.Sprintf(`{"offset_us":%d,"kind":"server","data":"250 2.1.5 Ok %d\r\n"}`, i*10, i)
	}
	n := 10_317
	for i := range n {
		switch {
		case i%997 == 5:
			b.WriteString("{not json\n")
		case i%1499 == 7:
			b.WriteString(`{"offset_us":1,"kind":"server","data":"back in time"}` + "\n")
		case i%2011 == 9:
			b.WriteString("   \n")
		case i%3001 == 11:
			b.WriteString(`{"offset_us":5,"kind":"client","data":"` + strings.Repeat("x", 200) + `"}` + "\n")
		case i%17 == 3:
			b.WriteString(`{"offset_us":"x","kind":"weird"}` + "\n")
		default:
			b.WriteString(good(i) + "\n")
		}
	}
	b.WriteString(`{"offset_us":99999999,"kind":"server","da`) // cut off
	data := b.Bytes()
	// 128 bytes: the 200-byte lines are too long.
	checkFastMatchesJSON(t, data, 128)
	if accepted := checkFastMatchesJSON(t, data, MaxLineBytes); accepted < n*9/10 {
		t.Fatalf("fast path took %d of %d lines", accepted, n)
	}
	rec, err := Read(bytes.NewReader(data))
	if err != nil || len(rec.Events) < n*9/10 || len(rec.Problems) < 100 {
		t.Fatalf("%d events, %d problems, %v", len(rec.Events), len(rec.Problems), err)
	}
	if last := rec.Problems[len(rec.Problems)-1]; !strings.Contains(last.Msg, "truncated") && !strings.Contains(last.Msg, "more problems") {
		t.Errorf("last problem %+v", last)
	}
	for i := 1; i < len(rec.Problems); i++ {
		if p, q := rec.Problems[i-1], rec.Problems[i]; q.Line != 0 && q.Line < p.Line {
			t.Fatalf("problems out of order: %+v then %+v", p, q)
		}
	}
	// The underlying reader fails after 60% of the file.
	cut := len(data) * 6 / 10
	boom := fmt.Errorf("disk on fire")
	fast, ferr := readWith(&failingReader{r: bytes.NewReader(data[:cut]), err: boom}, MaxLineBytes, true)
	slow, serr := readWith(&failingReader{r: bytes.NewReader(data[:cut]), err: boom}, MaxLineBytes, false)
	if ferr == nil || fmt.Sprint(ferr) != fmt.Sprint(serr) || !reflect.DeepEqual(fast, slow) {
		t.Fatalf("failing reader: fast %d events %v, sequential %d events %v", len(fast.Events), ferr, len(slow.Events), serr)
	}
}

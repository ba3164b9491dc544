package recordings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// hostileField is what a shared recording can put in any of its strings
// (issue 12 finding 1): SGR conceal, an OSC 8 hyperlink, a DCS, a C1 CSI,
// bidi and zero-width characters, line and paragraph separators, NEL, and
// line breaks meant to start lines of ehlo's own.
const hostileField = "f\x1b[8mx\x1b]8;;http://field.test\x07link\x1b]8;;\x07\x1bP1$q\x1b\\\u009b31m\u202ers\u200b\u2028\u2029\u0085\U000E0041\r\n=== fake\n*** fake\x00\x7f"

// fillStrings sets every string reachable from v (struct fields, string
// slices, structs behind pointers and in slices) to s, so that a field
// added to the recording's types later is covered without changing the
// test.
func fillStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(s)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			fillStrings(v.Elem(), s)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillStrings(v.Field(i), s)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String && v.Len() == 0 && v.CanSet() {
			v.Set(reflect.ValueOf([]string{s}).Convert(v.Type()))
		}
		for i := range v.Len() {
			fillStrings(v.Index(i), s)
		}
	}
}

// hostileRecordingFile is a recording file with an event of every kind,
// every string of the header and the events set to hostileField, hostile
// wire bytes, and a line that does not load (a Problem).
func hostileRecordingFile(t *testing.T) string {
	t.Helper()
	cert := session.Certificate{SANs: []string{""}, NotBefore: testHeader.Created, NotAfter: testHeader.Created}
	events := []session.Event{
		{Kind: session.KindConnect},
		{Kind: session.KindState, State: protocol.State{Phase: protocol.PhaseConnected}},
		{Kind: session.KindServer, Data: []byte("220 \x1b[2J\u202e\r\n")},
		{Kind: session.KindClient, Data: []byte("STARTTLS\r\n")},
		{Kind: session.KindServer, Data: []byte("220 go\r\n")},
		{Kind: session.KindTLS, Handshake: &session.TLSSummary{Complete: true, Chain: []session.Certificate{cert, cert}}},
		{Kind: session.KindTLS, Handshake: &session.TLSSummary{Chain: []session.Certificate{cert}}},
		{Kind: session.KindNote},
		{Kind: session.KindClose},
	}
	h := testHeader
	fillStrings(reflect.ValueOf(&h).Elem(), hostileField)
	for i := range events {
		fillStrings(reflect.ValueOf(&events[i]).Elem(), hostileField)
		events[i].Offset = time.Duration(i) * time.Millisecond
	}
	var buf bytes.Buffer
	r, err := NewRecorder(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		r.Event(e)
	}
	r.Close()
	bad, _ := json.Marshal(map[string]any{"offset_us": 1, "kind": hostileField})
	buf.Write(append(bad, '\n'))
	path := filepath.Join(t.TempDir(), "hostile.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// terminalUnsafe returns the first thing in out a terminal would act on
// or a reader could not see: a C0 control other than LF (and TAB where
// allowed), DEL, bytes that are not UTF-8, a C1 control, a bidi, zero-width
// or other format character, a line or paragraph separator.
func terminalUnsafe(out []byte, tab bool) string {
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRune(out[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return "invalid UTF-8"
		case r == '\n', r == '\t' && tab:
		case r < 0x20 || r == 0x7f:
			return fmt.Sprintf("control %U", r)
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
			return fmt.Sprintf("%U", r)
		}
		i += n
	}
	return ""
}

// Issue 12 findings 1 and 11: every string of a recording, header and
// events, shows in every export only through the sanitizer: no control,
// C1, bidi, zero-width or separator character, and no line break that
// starts a line of ehlo's own. The JSON writes those characters as \u
// escapes and still means the same strings; the pcap holds none of the
// header's text.
func TestExportsSanitizeEveryRecordingString(t *testing.T) {
	src, err := OpenSource(hostileRecordingFile(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, format := range ExportFormats {
		var b bytes.Buffer
		if err := ExportSource(&b, src, format, ExportOptions{}); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		out := b.Bytes()
		if len(src.Problems()) != 1 {
			t.Errorf("%s: problems %v, want the bad line", format, src.Problems())
		}
		if format == "pcap" {
			if bytes.Contains(out, []byte("field.test")) {
				t.Errorf("pcap holds the header's text")
			}
			continue
		}
		if bad := terminalUnsafe(out, format != "json"); bad != "" {
			t.Errorf("%s: %s in the output:\n%q", format, bad, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "=== fake") || strings.HasPrefix(line, "*** fake") {
				t.Errorf("%s: a recording's field starts a line of its own: %q", format, line)
			}
		}
		if format == "json" {
			var doc struct {
				Header Header `json:"header"`
			}
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("json: %v", err)
			}
			if doc.Header.Transport != hostileField {
				t.Errorf("json: the header's transport is %q, want the field as recorded", doc.Header.Transport)
			}
		}
	}
}

// Issue 12 finding 14: the summary pass folds a long run's turns as they
// settle; what it says is what Summarize says with every turn in memory,
// AUTH exchanges and pipelined commands across the folds included.
func TestSummaryPassFoldsLongRuns(t *testing.T) {
	c := func(s string) session.Event { return session.Event{Kind: session.KindClient, Data: []byte(s)} }
	sv := func(s string) session.Event { return session.Event{Kind: session.KindServer, Data: []byte(s)} }
	events := []session.Event{{Kind: session.KindConnect, Network: "tcp", Addr: "mx.test:25"}, sv("220 hi\r\n")}
	for i := range 3000 {
		switch {
		case i%97 == 0 && i < 1500: // the last one fails, long before the end
			final := "235 ok\r\n"
			if i%2 == 1 {
				final = "535 no\r\n"
			}
			events = append(events, c("AUTH LOGIN\r\n"), sv("334 VXNlcm5hbWU6\r\n"), c("dXNlcg==\r\n"),
				sv("334 UGFzc3dvcmQ6\r\n"), c("cGFzcw==\r\n"), sv(final))
		case i%13 == 0:
			events = append(events, c("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n"),
				sv("250 ok\r\n"), sv("550 no such user "+strconv.Itoa(i)+"\r\n"), sv("250 ok\r\n"), sv("354 go\r\n"),
				c("Subject: x\r\n\r\nbody\r\n.\r\n"), sv("250 queued as "+strconv.Itoa(i)+"\r\n"))
		default:
			events = append(events, c("NOOP\r\n"), sv("250 ok\r\n"))
		}
	}
	events = append(events, c("QUIT\r\n"), sv("221 bye\r\n"), session.Event{Kind: session.KindClose})
	rec := &Recording{Header: testHeader, Events: events}
	want := Summarize(rec)
	got, err := summaryPass(RecordingSource(rec), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("folded summary differs:\n got %+v\nwant %+v", got, want)
	}
	if !strings.Contains(got.Outcome, "authentication failed: 535 no") || !strings.Contains(got.Outcome, "more messages") {
		t.Errorf("outcome %q", got.Outcome)
	}
}

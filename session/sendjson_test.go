package session

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// Issue 12 finding 11 and issue 17 item 2: send --json writes C1, bidi
// and zero-width characters from a certificate's names as \u escapes, and
// writes the wire lines as they come, one entry per line, each once.
func TestSendJSONLines(t *testing.T) {
	var out bytes.Buffer
	j := &jsonLines{w: bufio.NewWriterSize(&out, 16)}
	j.event(Event{Kind: KindServer, Data: []byte("220 hi\r\n")})
	j.event(Event{Kind: KindClient, Data: []byte("line one\r\nline ")})
	j.event(Event{Kind: KindClient, Data: []byte("two\r\n.\r\n")})
	if !strings.Contains(out.String(), `"220 hi"`) {
		t.Errorf("the first line is not written before the end: %q", out.String())
	}
	name := "CN=evil\u202eexe.txt\u200b\u009b"
	err := j.finish(struct {
		TLS *TLSSummary `json:"tls"`
	}{&TLSSummary{Chain: []Certificate{{Subject: name, SANs: []string{name}}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"\u202e", "\u200b", "\u009b"} {
		if strings.Contains(out.String(), raw) {
			t.Errorf("%q raw in %s", raw, out.String())
		}
	}
	var doc struct {
		Lines []jsonLine `json:"lines"`
		TLS   TLSSummary
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	var texts []string
	for _, l := range doc.Lines {
		texts = append(texts, l.Text)
		if l.Raw != nil {
			t.Errorf("line %q kept twice (raw)", l.Text)
		}
	}
	if got := strings.Join(texts, "|"); got != "220 hi|line one|line two|." {
		t.Errorf("lines %q", got)
	}
	if doc.TLS.Chain[0].Subject != name {
		t.Errorf("subject %q, want %q", doc.TLS.Chain[0].Subject, name)
	}
}

// appendJSONLine writes what encoding/json would.
func TestAppendJSONLine(t *testing.T) {
	for _, l := range []jsonLine{
		{Offset: 0, Dir: "recv", Text: "220 hi"},
		{Offset: 1.5e-7, Dir: "send", Text: `a "q" \ <b> & é 世 ` + "\t\u2028\x01\xff", TLS: true, Redacted: true},
		{Offset: 12.629984928, Dir: "recv", Text: `220 has\x00nul`, Raw: []byte("220 has\x00nul\r\n")},
		{Offset: 3e21, Dir: "send", Text: ""},
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("    ", "  ")
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
		got := appendJSONLine(nil, &l, "    ")
		if string(got)+"\n" != want.String() {
			t.Errorf("got\n%s\nwant\n%s", got, want.String())
		}
	}
}

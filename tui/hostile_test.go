package tui

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

var sgr = regexp.MustCompile("\x1b\\[([0-9;:]*)m")

// colourSequence returns the first SGR sequence that sets a colour, or "".
func colourSequence(s string) string {
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			n, _ := strconv.Atoi(p)
			if n >= 30 && n <= 49 || n >= 90 && n <= 107 {
				return m[0]
			}
		}
	}
	return ""
}

// stripOwn removes the escape sequences ehlo itself writes (SGR styles),
// leaving any other ESC, which could only have come from the wire.
func stripOwn(s string) string { return sgr.ReplaceAllString(s, "") }

// Hostile server text (security-anchors §6 H1–H4) is shown escaped: no ESC
// from the server reaches the terminal, CR and bidi controls are visible,
// every server line starts with its marker, and none passes for ehlo's own
// "===" or "***" lines.
func TestHostileServerText(t *testing.T) {
	hostile := []struct {
		id, line, shown string
	}{
		{"H1", "220 \x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07 ok", `220 \x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07 ok`},
		{"H2", "250 ok\r*** TLS verified", `250 ok\r*** TLS verified`},
		{"H3", "250 \u202eexe.txt\u200b", `250 \u202eexe.txt\u200b`},
		{"H4", "220-=== TLS established, certificate OK", `220-=== TLS established, certificate OK`},
		{"C1", "250 \u009b31m red", `250 \u009b31m red`},
		{"bytes", "250 \xff\xfe bad utf-8", `250 \xff\xfe bad utf-8`},
	}
	for _, h := range hostile {
		t.Run(h.id, func(t *testing.T) {
			f := newFake()
			f.set(func(s *snapshot) {
				s.Connected, s.State = true, protocol.State{Phase: protocol.PhaseGreeted}
				s.Extensions = []protocol.Extension{{Keyword: "X\x1b[31m", Params: h.line}}
				s.Server = "mx\x1b]0;t\x07.test"
			})
			m := newTestModel(t, f, "dark", 200, 40)
			// Straight from the Capture, as the session delivers it.
			f.cap.Trace(protocol.Event{Kind: protocol.EventRecv, Data: []byte(h.line + "\r\n")})
			f.cap.Trace(protocol.Event{Kind: protocol.EventNote, Text: "note \x1b[2J from " + h.line})
			m.Update(activityMsg{})
			for _, state := range []func(){
				func() {},
				func() { press(m, "shift+tab", "e", "x") }, // explained, beside and in full
				func() { press(m, "ctrl+t") },
			} {
				state()
				view := m.View()
				if strings.Contains(stripOwn(view.Content), "\x1b") {
					t.Fatalf("a raw ESC from the server reaches the terminal: %q", view.Content)
				}
				if strings.ContainsAny(view.Content, "\r\u202e\u200b\u009b") || strings.Contains(view.WindowTitle, "\x1b") {
					t.Fatalf("a raw control reaches the terminal: %q", view.Content)
				}
				screen := ansi.Strip(view.Content)
				if !strings.Contains(screen, "<-  "+h.shown) && !strings.Contains(screen, "<-  "+truncate(h.shown, 60)) {
					t.Errorf("server line not shown escaped after its marker:\n%s", screen)
				}
				for _, l := range strings.Split(screen, "\n") {
					inner := strings.TrimLeft(strings.Trim(l, "│ "), "0123456789:. ")
					if strings.Contains(l, "=== TLS established") && !strings.Contains(l, "220-=== TLS established") {
						t.Errorf("server text without its marker: %q", l)
					}
					if strings.HasPrefix(inner, "*** ") && !strings.Contains(inner, "*** note \\x1b[2J") {
						t.Errorf("a *** line that ehlo did not write: %q", l)
					}
				}
			}
			// The log's copy is escaped too.
			if got := m.log.plain(0); got != "<-  "+h.shown {
				t.Errorf("copied %q", got)
			}
		})
	}
}

// H4: in clear text the Connection pane keeps saying so, and the wire log
// is badged "cleartext", whatever the server claims.
func TestFakeStatusInCleartext(t *testing.T) {
	f := newFake()
	f.set(func(s *snapshot) { s.Connected, s.State = true, protocol.State{Phase: protocol.PhaseGreeted} })
	m := newTestModel(t, f, "dark", 80, 24)
	deliver(m, session.Event{Kind: session.KindServer, Data: []byte("220-=== TLS established, certificate OK\r\n")})
	screen := plain(m)
	for _, want := range []string{"NOT ENCRYPTED", "cleartext", "<-  220-=== TLS established", "not encrypted"} {
		if !strings.Contains(screen, want) {
			t.Errorf("missing %q:\n%s", want, screen)
		}
	}
}

// --insecure: the handshake completed but nothing was verified; the panes
// say so loudly.
func TestNotVerifiedIsLoud(t *testing.T) {
	f := newFake()
	f.snap = demoSnapshot()
	f.snap.TLS.Verified = false
	f.snap.TLS.Error = "x509: certificate signed by unknown authority"
	m := newTestModel(t, f, "dark", 120, 40)
	deliver(m, demoEvents()...)
	screen := plain(m)
	for _, want := range []string{"✗ NOT VERIFIED: x509: certificate", "TLS NOT VERIFIED"} {
		if !strings.Contains(screen, want) {
			t.Errorf("missing %q:\n%s", want, screen)
		}
	}
}

func TestWireLogLines(t *testing.T) {
	log := &wireLog{}
	b := newBuilder(log, false)
	for _, e := range []session.Event{
		{Kind: session.KindServer, Data: []byte("220 hi\r\n")},
		// Pipelined commands in one write, a line split over two.
		{Kind: session.KindClient, Data: []byte("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDA")},
		{Kind: session.KindClient, Data: []byte("TA\r\n")},
		{Kind: session.KindServer, Data: []byte("250 ok\r\n250 ok\r\n")},
		{Kind: session.KindServer, Data: []byte("354 go\r\n")},
		{Kind: session.KindClient, Data: []byte("AUTH PLAIN x\r\n" + strings.Repeat("y", maxLineBytes+10) + "\r\n.\r\n")},
		{Kind: session.KindServer, Data: []byte("250 queued\r\n")},
		{Kind: session.KindClient, Data: []byte("BDAT 5 LAST\r\nab\ncd")},
		{Kind: session.KindServer, Data: []byte("250 chunk\r\n")},
		{Kind: session.KindClose},
	} {
		b.apply(e)
	}
	want := []struct {
		mark, text string
		vb         verb
		payload    bool
	}{
		{"<-  ", "220 hi", verbGreeting, false},
		{" -> ", "MAIL FROM:<a@x>", verbMAIL, false},
		{" -> ", "RCPT TO:<b@x>", verbRCPT, false},
		{" -> ", "DATA", verbDATA, false},
		{"<-  ", "250 ok", verbMAIL, false},
		{"<-  ", "250 ok", verbRCPT, false},
		{"<-  ", "354 go", verbDATA, false},
		{" -> ", "AUTH PLAIN x", verbDATA, true}, // message content, not a command
		{" -> ", strings.Repeat("y", maxLineBytes) + " [+10 bytes]", verbDATA, true},
		{" -> ", ".", verbDataEnd, false},
		{"<-  ", "250 queued", verbDataEnd, false},
		{" -> ", "BDAT 5 LAST", verbBDAT, false},
		{" -> ", "ab", verbBDAT, true},
		{" -> ", "cd", verbBDAT, true},
		{"<-  ", "250 chunk", verbDataEnd, false},
		{"=== ", "Connection closed with remote host.", verbNone, false},
	}
	if log.Len() != len(want) {
		for i := range log.Len() {
			t.Log(log.plain(i))
		}
		t.Fatalf("%d lines, want %d", log.Len(), len(want))
	}
	for i, w := range want {
		l := log.lines[i]
		if got := log.plain(i); got != w.mark+w.text {
			t.Errorf("line %d = %.60q, want %.60q", i, got, w.mark+w.text)
		}
		if l.verb != w.vb || (l.flags&flagPayload != 0) != w.payload {
			t.Errorf("line %d %q: verb %d payload %v, want %d %v", i, w.text, l.verb, l.flags&flagPayload != 0, w.vb, w.payload)
		}
	}
}

func TestSearchIgnoresCase(t *testing.T) {
	log := &wireLog{}
	log.add(lineServer, 0, verbNone, 0, []byte("250 Hello WORLD"), 0)
	log.add(lineServer, 0, verbNone, 0, []byte("250 \x1b[31m red"), 0)
	v := newLogView()
	v.query = "world"
	if i := v.find(log, log.Len(), -1, 1); i != 0 {
		t.Errorf("find world = %d", i)
	}
	v.query = `\x1b[31m`
	if i := v.find(log, log.Len(), 0, 1); i != 1 {
		t.Errorf("find the escaped form = %d", i)
	}
}

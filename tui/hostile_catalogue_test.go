package tui

// What the TUI shows for security-anchors §6 cases that hostile_test.go
// and update_test.go leave open: D9 (a multi-line paste), F11/F12 (stray
// CR, controls, NUL and bytes that are not UTF-8 in a reply), F18 (EHLO
// garbage in the Extensions pane) and F19 (malformed enhanced status
// codes in the explainer).

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// D9: a bracketed paste of NOOP, STARTTLS and AUTH PLAIN with its blob is
// never one write: the TUI hands the completed lines to the session as a
// script, which sends and interprets them one by one (session's
// TestLivePaste: STARTTLS upgrades, AUTH is redacted). The history gets
// each line, the AUTH one redacted; the blob is not on screen.
func TestCatalogueD9Paste(t *testing.T) {
	const blob = "AGFsaWNlAGh1bnRlcjQ="
	f := newFake()
	connected(f)
	m := newTestModel(t, f, "dark", 100, 30)
	m.Update(activityMsg{})
	m.Update(tea.PasteMsg{Content: "NOOP\r\nSTARTTLS\r\nAUTH PLAIN " + blob + "\r\n"})
	wantCalls(t, f, `Input("NOOP\nSTARTTLS\nAUTH PLAIN `+blob+`")`)
	if v := m.comp.input.Value(); v != "" {
		t.Errorf("composer %q, want it empty after a paste that ends with a line break", v)
	}
	if want := []string{"NOOP", "STARTTLS", "AUTH PLAIN [redacted]"}; !slices.Equal(m.comp.history, want) {
		t.Errorf("history %q, want %q", m.comp.history, want)
	}
	if strings.Contains(plain(m), blob) {
		t.Errorf("the pasted blob is on screen")
	}
	// Without a final line break the last line stays in the composer,
	// unsent, as typed text does.
	m.Update(tea.PasteMsg{Content: "NOOP\nRSET"})
	wantCalls(t, f, `Input("NOOP\nSTARTTLS\nAUTH PLAIN `+blob+`")`, `Input("NOOP")`)
	if v := m.comp.input.Value(); v != "RSET" {
		t.Errorf("composer %q, want the unfinished line", v)
	}
}

// F11, F12: replies with a stray CR, a BEL, a NUL and bytes that are not
// UTF-8 are accepted by the protocol layer and shown escaped, each line
// after its "<-  " marker.
func TestCatalogueF11F12ControlsShownEscaped(t *testing.T) {
	for _, tc := range []struct{ id, line, shown string }{
		{"F11_cr", "250 a\rb", `250 a\rb`},
		{"F11_bell", "250 bell\x07", `250 bell\x07`},
		{"F12_nul_bytes", "250 has\x00nul \xff\xfe", `250 has\x00nul \xff\xfe`},
	} {
		t.Run(tc.id, func(t *testing.T) {
			f := newFake()
			connected(f)
			m := newTestModel(t, f, "dark", 120, 30)
			deliver(m, session.Event{Kind: session.KindServer, Data: []byte(tc.line + "\r\n")})
			if got := m.log.plain(m.log.Len() - 1); got != "<-  "+tc.shown {
				t.Errorf("wire log line %q, want %q", got, "<-  "+tc.shown)
			}
			view := m.View().Content
			if strings.ContainsAny(stripOwn(view), "\r\x07\x00\x1b") || strings.Contains(view, "\xff") {
				t.Errorf("a raw control or byte reaches the terminal: %q", view)
			}
			if !strings.Contains(plain(m), "<-  "+tc.shown) {
				t.Errorf("screen lacks %q:\n%s", "<-  "+tc.shown, plain(m))
			}
		})
	}
}

// F18: EHLO garbage in the Extensions pane. No panic; SIZE values that do
// not parse (too big, negative) are shown as the server sent them, never
// converted; a repeated keyword is listed as sent; controls and bidi
// characters in keywords and parameters are escaped; an AUTH line with
// 5000 mechanisms is cut to the pane's width.
func TestCatalogueF18ExtensionsGarbage(t *testing.T) {
	var mechs []string
	for i := range 5000 {
		mechs = append(mechs, fmt.Sprintf("M%d", i))
	}
	f := newFake()
	f.set(func(s *snapshot) {
		s.Connected, s.State = true, protocol.State{Phase: protocol.PhaseHello}
		s.Extensions = []protocol.Extension{
			{Keyword: "SIZE", Params: "99999999999999999999999"},
			{Keyword: "SIZE", Params: "-5"},
			{Keyword: "STARTTLS"}, {Keyword: "STARTTLS"},
			{Keyword: "\u00e9t\u00e9\x1b[31m", Params: "x\u202eyz"},
			{Keyword: "AUTH", Params: strings.Join(mechs, " ")},
		}
	})
	m := newTestModel(t, f, "dark", 120, 40)
	m.Update(activityMsg{})
	view := m.View().Content
	if strings.Contains(stripOwn(view), "\x1b") || strings.Contains(view, "\u202e") {
		t.Fatalf("a raw control from the EHLO reply reaches the terminal: %q", view)
	}
	screen := plain(m)
	for _, want := range []string{`SIZE +99999999999999999999999 `, `SIZE +-5 `, `\\x1b\[31m x\\u202eyz`, `AUTH +M0 M1 M2 `} {
		if !regexp.MustCompile(want).MatchString(screen) {
			t.Errorf("Extensions pane lacks %s:\n%s", want, screen)
		}
	}
	if n := strings.Count(screen, "STARTTLS"); n < 2 {
		t.Errorf("STARTTLS shown %d times, want both lines", n)
	}
	if strings.Contains(screen, "M4999") {
		t.Errorf("the 5000-mechanism line is not cut to the pane")
	}
}

// F19: malformed enhanced status codes are shown raw, with a problem the
// explainer names; nothing crashes.
func TestCatalogueF19EnhancedCodeGarbage(t *testing.T) {
	for _, tc := range []struct{ line, problem string }{
		{"250 2.99999.0 ok", "malformed enhanced status code 2.99999.0"},
		{"550 5.7 x", "malformed enhanced status code 5.7"},
		{"250 5.1.1 mismatch", "class mismatch: reply 250 but enhanced code 5.1.1"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			e := explain(tc.line, replyContext{Verb: verbRCPT})
			if !slices.ContainsFunc(e.Problems, func(p string) bool { return strings.Contains(p, tc.problem) }) {
				t.Errorf("problems %q, want %q", e.Problems, tc.problem)
			}
			f := newFake()
			connected(f)
			m := newTestModel(t, f, "dark", 160, 40)
			deliver(m, session.Event{Kind: session.KindServer, Data: []byte(tc.line + "\r\n")})
			press(m, "shift+tab", "e")
			screen := plain(m)
			if !strings.Contains(screen, "<-  "+tc.line) {
				t.Errorf("line not shown raw:\n%s", screen)
			}
		})
	}
}

package tui

import (
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/charmbracelet/x/ansi"

	"github.com/ehlo-dev/ehlo/session"
)

// hostileField is what a shared recording can put in any of its strings
// (issue 12 finding 1): SGR conceal, an OSC 8 hyperlink, a DCS, a C1 CSI,
// bidi and zero-width characters, and line breaks meant to start a line
// of ehlo's own.
const hostileField = "t\x1b[8mx\x1b]8;;http://evil.test\x07link\x1b]8;;\x07\x1bP1$q\x1b\\\u009b31m\u202ers\u200b\u2028\u0085\r\n=== fake\n*** fake"

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

// unsafeOnScreen returns what in a rendered frame could only have come
// from the recording: an ESC that is not ehlo's own SGR, a C0 or C1
// control, a bidi or zero-width character, a line separator.
func unsafeOnScreen(frame string) string {
	for _, r := range stripOwn(frame) {
		switch {
		case r == '\n':
		case r < 0x20 || r == 0x7f:
			return "C0 control " + strings.ToUpper(string(rune('@'+r)))
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
			return "format or control character " + string(rune(r))
		}
	}
	return ""
}

// Every string field of a recording, header and events, is drawn through
// the sanitizer in every frame of a replay.
func TestReplayDrawsEveryRecordingStringSanitized(t *testing.T) {
	rec := demoRecording()
	ev := rec.Events
	ev[len(ev)-1].Text = "x" // a close with a reason
	ev = append(ev, session.Event{Kind: session.KindNote}, session.Event{Kind: session.KindTLS,
		Handshake: &session.TLSSummary{Complete: false, Chain: []session.Certificate{testCert}}})
	rec.Events = ev
	fillStrings(reflect.ValueOf(rec).Elem(), hostileField)
	for _, w := range []int{80, 160} {
		m := newReplayModel(t, rec, w, 50)
		m.cfg.ReplayName = hostileField
		for pos := 0; pos <= len(rec.Events); pos++ {
			frame := m.View().Content
			if bad := unsafeOnScreen(frame); bad != "" {
				t.Fatalf("width %d, event %d: %s reaches the terminal:\n%q", w, pos, bad, frame)
			}
			for _, l := range strings.Split(ansi.Strip(frame), "\n") {
				inner := strings.TrimLeft(l, "│┃ ")
				if strings.HasPrefix(inner, "=== fake") || strings.HasPrefix(inner, "*** fake") {
					t.Fatalf("width %d, event %d: a recording's field starts a line of its own: %q", w, pos, l)
				}
			}
			press(m, "right")
		}
	}
}

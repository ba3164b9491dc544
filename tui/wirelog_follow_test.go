package tui

import (
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// The wire log takes what each line is from session's annotations, so it
// splits a verb as the server does: AUTH<TAB>LOGIN is AUTH, its 334s are
// challenges, and the lines after them are answers to them, not commands
// (issue 11 #1, item 2). The log used to split on a space only.
func TestWireLogReadsSessionAnnotations(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 120, 40)
	recv := func(s string) { f.cap.Trace(protocol.Event{Kind: protocol.EventRecv, Data: []byte(s + "\r\n")}) }
	sent := func(s string) { f.cap.Trace(protocol.Event{Kind: protocol.EventSend, Data: []byte(s + "\r\n")}) }
	recv("220 mx ready")
	sent("AUTH\tLOGIN")
	recv("334 VXNlcm5hbWU6")
	sent("YWxpY2U=")
	recv("334 UGFzc3dvcmQ6")
	sent("DATA") // an answer that looks like a command is still an answer
	recv("235 2.7.0 Authentication successful")
	m.Update(activityMsg{})
	want := []verb{verbGreeting, verbAUTH, verbAUTH, verbAUTH, verbAUTH, verbAUTH, verbAUTH}
	if m.log.Len() != len(want) {
		t.Fatalf("%d lines, want %d", m.log.Len(), len(want))
	}
	for i, v := range want {
		if got := m.log.lines[i].verb; got != v {
			t.Errorf("line %d %q: verb %v, want %v", i, m.log.raw(i), got, v)
		}
		if m.log.lines[i].flags&flagPayload != 0 {
			t.Errorf("line %d %q taken for message content", i, m.log.raw(i))
		}
	}
	if e := explain(m.log.text(2), replyContext{Verb: m.log.lines[2].verb}); e.Meaning == "" || e.RFC != "RFC 4954 §4" {
		t.Errorf("the 334 is not explained as an AUTH challenge: %+v", e)
	}
}

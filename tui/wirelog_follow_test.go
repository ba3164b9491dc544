package tui

import (
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
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

// Which reply lines go on ("250-") comes from the session too: the round
// trip is shown on a reply's first line only, an explanation beside its
// last only.
func TestReplyContinuationFromSession(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 120, 40)
	deliver(m, session.Event{Kind: session.KindServer, Data: []byte("220 mx\r\n")},
		session.Event{Offset: at(10), Kind: session.KindClient, Data: []byte("EHLO me\r\n")},
		session.Event{Offset: at(30), Kind: session.KindServer, Data: []byte("250-mx\r\n")},
		session.Event{Offset: at(31), Kind: session.KindServer, Data: []byte("250 SIZE 100\r\n")})
	if d, ok := roundTrip(m.log, 2); !ok || d != at(20) {
		t.Errorf("first line of the reply: round trip %v %v, want 20ms", d, ok)
	}
	if _, ok := roundTrip(m.log, 3); ok {
		t.Error("the reply's second line has a round trip of its own")
	}
	if m.log.lines[2].flags&flagMore == 0 || m.log.lines[3].flags&flagMore != 0 {
		t.Errorf("continuation flags %b %b", m.log.lines[2].flags, m.log.lines[3].flags)
	}
}

package session

import (
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Live.Record: before any connection nothing precedes the events; once
// connected, the recording opens with the state at that moment and its
// clock starts at its own origin.
func TestLiveRecordSnapshot(t *testing.T) {
	srv := startSandbox(t)
	h := newHarness(t, srv, protocol.SMTP, srv.Addr())

	var before collect
	remove0 := h.l.Record(&before, time.Now())

	h.connectTLS()
	time.Sleep(300 * time.Millisecond)
	var got collect
	origin := time.Now()
	remove := h.l.Record(&got, origin)
	h.input("NOOP")
	h.settle()
	remove()
	remove0()
	// Every event of the recording happened within this much of its start.
	span := time.Since(origin)

	if len(before.events) == 0 || before.events[0].Kind != KindConnect {
		t.Fatalf("a recording begun before connecting: %d events", len(before.events))
	}
	if len(got.events) == 0 {
		t.Fatal("no event recorded")
	}
	e := got.events[0]
	if e.Kind != KindSnapshot || e.Offset != 0 || e.Start == nil {
		t.Fatalf("first event %+v", e)
	}
	s := e.Start
	if !s.Connected || !s.State.TLS || s.State.Phase != protocol.PhaseHello || s.Handshake == nil || !s.Handshake.Verified ||
		s.Network != "tcp" || s.Addr != srv.Addr() || s.Mode != "command" || !s.SessionStart.Equal(h.l.Capture().Start()) {
		t.Errorf("snapshot %+v", s)
	}
	var auth bool
	for _, x := range s.Extensions {
		auth = auth || x.Keyword == "AUTH"
	}
	if !auth || s.ExtensionsStale {
		t.Errorf("extensions %v stale %v: want those of the EHLO inside TLS", s.Extensions, s.ExtensionsStale)
	}
	for _, ev := range got.events[1:] {
		if ev.Offset > span {
			t.Errorf("%s at %s: offsets must count from the recording's start", ev.Kind, ev.Offset)
		}
	}
}

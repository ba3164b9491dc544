package session

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
)

// startIdleSandbox is a sandbox that gives up on a client silent for
// timeout, with the 421 RFC 5321 §4.5.3.2 asks for.
func startIdleSandbox(t *testing.T, timeout time.Duration) *sandbox.Server {
	t.Helper()
	log := &syncLog{}
	srv, err := sandbox.New(sandbox.Config{Log: log, ReadTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("sandbox log:\n%s", log.String())
		}
	})
	return srv
}

// Defect 6 (issue 11): a 421 the server sends while the user thinks is
// shown when it comes and closes the connection; it is not kept in the
// socket to be read as the reply to the next command.
func TestLiveIdle421(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := "cleartext"
		if tls {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			srv := startIdleSandbox(t, 400*time.Millisecond)
			h := newHarness(t, srv, protocol.SMTP, srv.Addr())
			if tls {
				h.connectTLS()
			} else {
				h.call("Connect", h.l.Connect)
				h.input("EHLO client.test")
				h.noError(h.settle())
			}
			s := h.waitFor("the idle 421 to close the connection", func(s Snapshot) bool { return !s.Connected && s.LastError != "" })
			if !strings.Contains(s.LastError, "421 4.4.2") || !strings.Contains(s.LastError, "unsolicited") {
				t.Errorf("LastError %q: want the unsolicited 421", s.LastError)
			}
			var got421 bool
			for _, ev := range h.log.all() {
				if ev.Kind == KindServer && strings.HasPrefix(string(ev.Data), "421 4.4.2") {
					got421 = ev.TLS == tls
				}
			}
			if !got421 {
				t.Fatal("the 421 is not in the wire log")
			}
			if notes := strings.Join(h.log.notes(), "\n"); !strings.Contains(notes, "server sent") {
				t.Errorf("no note calling the bytes unasked: %s", notes)
			}

			// The next command is not sent, and nothing is its reply.
			h.input("NOOP")
			s = h.settle()
			if !strings.Contains(s.LastError, "not connected") {
				t.Errorf("after the 421, NOOP: LastError %q", s.LastError)
			}
			for _, ev := range h.log.clientWrites() {
				if strings.HasPrefix(string(ev.Data), "NOOP") {
					t.Error("NOOP was sent on a connection the server had closed")
				}
			}
		})
	}
}

// The idle watch hands the connection over to each command at once: a
// conversation with pauses between its commands, in clear text and in
// TLS, gets every reply in step, and Close does not wait for the server.
func TestLiveIdleWatchHandsOver(t *testing.T) {
	srv := startSandbox(t)
	h := newHarness(t, srv, protocol.SMTP, srv.Addr())
	h.connectTLS()
	for _, line := range []string{"NOOP", "MAIL FROM:<a@example.test>", "RSET", "VRFY postmaster"} {
		time.Sleep(30 * time.Millisecond) // long enough for the watch to be reading
		h.input(line)
		s := h.settle()
		h.noError(s)
		if !s.Connected {
			t.Fatalf("%s: disconnected", line)
		}
	}
	var replies []string
	for _, ev := range h.log.all() {
		if ev.Kind == KindServer && ev.TLS {
			replies = append(replies, string(ev.Data[:3]))
		}
	}
	// EHLO's last line, then NOOP, MAIL, RSET and VRFY.
	if n := len(replies); n < 4 || !slices.Equal(replies[n-4:], []string{"250", "250", "250", "252"}) {
		t.Errorf("replies inside TLS %v", replies)
	}
	start := time.Now()
	h.l.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close while watching took %s", d)
	}
}

// Defect 6, second half: a line typed while a reply is pending is shown as
// queued, then sent in its turn; a line that may answer an AUTH challenge
// is never shown.
func TestLiveQueuedVisible(t *testing.T) {
	srv := startSandbox(t, "delay:noop=700ms")
	h := newHarness(t, srv, protocol.SMTP, srv.Addr())
	h.call("Connect", h.l.Connect)
	h.input("EHLO client.test")
	h.settle()

	h.input("NOOP")
	h.waitFor("NOOP pending", func(s Snapshot) bool { return s.Busy && s.Pending == "NOOP" })
	h.input("RSET")
	h.call("Vrfy", func() { h.l.Verify("postmaster") })
	if got := h.l.Snapshot().Queued; !slices.Equal(got, []string{"RSET", "VRFY"}) {
		t.Fatalf("Queued %q while NOOP is pending", got)
	}
	s := h.settle()
	if len(s.Queued) != 0 {
		t.Errorf("Queued %q after the queue ran", s.Queued)
	}
	var sent []string
	for _, ev := range h.log.clientWrites() {
		sent = append(sent, strings.TrimSpace(string(ev.Data)))
	}
	if n := len(sent); n < 3 || !slices.Equal(sent[n-3:], []string{"NOOP", "RSET", "vrfy postmaster"}) {
		t.Errorf("sent %q: the queued lines must follow NOOP in order", sent)
	}

	// Labels hide what may be a secret.
	l := &Live{}
	l.snap.Pending = "NOOP"
	lines := []string{"MAIL FROM:<a@x>", "AUTH PLAIN " + plainIR, "dXNlcg==", "  "}
	ops := make([]op, len(lines))
	for i, line := range lines {
		ops[i].auth = isAuthLine(line)
	}
	l.labelInputs(ops, lines)
	var labels []string
	for _, o := range ops {
		labels = append(labels, o.label)
	}
	want := []string{"MAIL FROM:<a@x>", "AUTH PLAIN " + Marker, Marker, Marker}
	if !slices.Equal(labels, want) {
		t.Errorf("labels %q, want %q", labels, want)
	}
	for _, pending := range []string{"AUTH"} {
		l.snap.Pending = pending
		l.labelInputs(ops[:1], lines[:1])
		if ops[0].label != Marker {
			t.Errorf("a line queued behind a pending %s is shown: %q", pending, ops[0].label)
		}
	}
}

// Cancel names what it drops, so a queued line is never lost in silence.
func TestLiveCancelNamesDropped(t *testing.T) {
	srv := startSandbox(t, "delay:noop=1s")
	h := newHarness(t, srv, protocol.SMTP, srv.Addr())
	h.call("Connect", h.l.Connect)
	h.settle()
	h.input("NOOP")
	h.waitFor("NOOP pending", func(s Snapshot) bool { return s.Busy })
	h.input("RSET")
	h.call("Cancel", h.l.Cancel)
	if notes := strings.Join(h.log.notes(), "\n"); !strings.Contains(notes, "1 queued operation(s) dropped: RSET") {
		t.Errorf("notes %s", notes)
	}
}

package protocol_test

import (
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// never is a stop channel that is never closed.
var never = make(chan struct{})

// watch runs WatchIdle on c, failing the test if it has not returned
// within limit.
func watch(t *testing.T, c *protocol.Client, stop <-chan struct{}) error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- c.Debug().WatchIdle(stop) }()
	select {
	case err := <-res:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("WatchIdle did not return")
		return nil
	}
}

// F16 while idle: a server that gives up on an idle client says 421 and
// closes. The watcher reads it, traces it and closes the connection, so it
// is never taken as the reply to the next command.
func TestWatchIdleUnsolicited421(t *testing.T) {
	for name, send := range map[string][]step{
		"one write": {Sleep(50 * time.Millisecond), S("421 4.4.2 idle timeout")},
		// The code split across segments is still a 421.
		"split": {Sleep(50 * time.Millisecond), SRaw("42"), Sleep(50 * time.Millisecond), SRaw("1 4.4.2 idle timeout\r\n")},
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			srv := newServer(t, append(append([]step{S("220 fake ESMTP")}, send...), Close()))
			c := srv.mustDial(t, withTracer(rec))
			err := watch(t, c, never)
			re := wantErrAs[*protocol.ResponseError](t, err)
			if re.Code != 421 || re.Message != "4.4.2 idle timeout" {
				t.Errorf("error %d %q", re.Code, re.Message)
			}
			wantClosed(t, c)
			if got := rec.received(); got != "220 fake ESMTP\r\n421 4.4.2 idle timeout\r\n" {
				t.Errorf("traced %q: the 421 must be shown as received", got)
			}
			if !rec.hasNote("421 4.4.2 idle timeout") {
				t.Errorf("no note naming the unsolicited bytes: %q", rec.notes())
			}
			if _, err := c.Noop(); err == nil {
				t.Error("a command after the 421 was sent")
			}
		})
	}
}

// Anything else unasked is a protocol violation (F15), and a server that
// simply hangs up is reported as such, both without a command sent.
func TestWatchIdleOtherData(t *testing.T) {
	srv := newServer(t,
		[]step{S("220 fake ESMTP"), Sleep(20 * time.Millisecond), S("250 surprise"), Close()},
		[]step{S("220 fake ESMTP"), Sleep(20 * time.Millisecond), Close()},
	)
	c := srv.mustDial(t)
	wantErrAs[*protocol.ProtocolError](t, watch(t, c, never))
	wantClosed(t, c)

	c = srv.mustDial(t)
	wantErrAs[*protocol.ServerDisconnectedError](t, watch(t, c, never))
	wantClosed(t, c)
}

// Closing stop hands the connection back at once and intact: the next
// command and its reply go through, in clear text and inside TLS, whose
// state must survive the interrupted read.
func TestWatchIdleStopHandsOver(t *testing.T) {
	pki := getPKI(t)
	srv := newServer(t, script(greet("STARTTLS"), []step{
		C("noop"), S("250 ok"),
		C("STARTTLS"), S("220 go ahead"), StartTLS(pki.good),
		C("noop"), S("250 still ok"),
		Sleep(50 * time.Millisecond), S("421 4.3.2 shutting down"), Close(),
	}))
	c := srv.mustDial(t, withTimeout(2*time.Second))
	_, err := c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	stopSoon := func() <-chan struct{} {
		stop := make(chan struct{})
		time.AfterFunc(30*time.Millisecond, func() { close(stop) })
		return stop
	}
	if err := watch(t, c, stopSoon()); err != nil {
		t.Fatalf("stopped watch: %v", err)
	}
	r, err := c.Noop()
	wantNoErr(t, err, "Noop")
	wantReply(t, r, 250, "ok")

	if _, err := c.StartTLS(pki.trusting()); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := watch(t, c, stopSoon()); err != nil {
		t.Fatalf("stopped watch inside TLS: %v", err)
	}
	r, err = c.Noop()
	wantNoErr(t, err, "Noop inside TLS")
	wantReply(t, r, 250, "still ok")

	re := wantErrAs[*protocol.ResponseError](t, watch(t, c, never))
	if re.Code != 421 {
		t.Errorf("inside TLS: %d, want the unsolicited 421", re.Code)
	}
	wantClosed(t, c)
}

// A stop already closed returns at once without reading, and without a
// connection there is nothing to watch.
func TestWatchIdleNothingToDo(t *testing.T) {
	if err := watch(t, newClient(t, protocol.SMTP), never); err != nil {
		t.Fatalf("unconnected: %v", err)
	}
	srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), S("250 ok")})
	c := srv.mustDial(t)
	stop := make(chan struct{})
	close(stop)
	if err := watch(t, c, stop); err != nil {
		t.Fatalf("closed stop: %v", err)
	}
	r, err := c.Noop()
	wantNoErr(t, err, "Noop")
	wantReply(t, r, 250, "ok")
}

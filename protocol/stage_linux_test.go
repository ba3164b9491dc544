//go:build linux

package protocol

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol/smtptest"
)

// TestLockstepCommandsWrittenFromTheReplysRead: without pipelining every
// command, and the write that ends the message, is written from inside
// the read of its reply (Client.stage), so no read tries the socket before
// its reply can be there; the trace still shows each command before its
// reply, and the server gets exactly the conversation.
func TestLockstepCommandsWrittenFromTheReplysRead(t *testing.T) {
	pause := smtptest.Sleep(2 * time.Millisecond) // no reply is there when its read begins
	srv := smtptest.NewServer(t, []smtptest.Step{
		smtptest.S("220 mx.example ESMTP"),
		smtptest.C("ehlo client.example"), pause, smtptest.S("250-mx.example", "250 8BITMIME"),
		smtptest.C("mail FROM:<a@example.org>"), pause, smtptest.S("250 2.1.0 ok"),
		smtptest.C("rcpt TO:<b@example.org>"), pause, smtptest.S("250 2.1.5 ok"),
		smtptest.C("data"), pause, smtptest.S("354 go ahead"),
		smtptest.CData("Subject: hi\r\n\r\nhello\r\n.\r\n"), pause, smtptest.S("250 2.0.0 queued"),
		smtptest.C("quit"), pause, smtptest.S("221 2.0.0 bye"),
	})
	var events []Event
	c, _, err := Dial(SMTP, srv.Host(), srv.Port(), Options{
		LocalHostname: "client.example", Timeout: 5 * time.Second,
		Tracer: TracerFunc(func(e Event) {
			if e.Kind == EventSend || e.Kind == EventRecv {
				e.Data = append([]byte(nil), e.Data...)
				events = append(events, e)
			}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	rs, ok := c.conn.(*rawSocket)
	if !ok {
		t.Fatalf("the client reads through %T", c.conn)
	}
	before := rs.rd.empty
	if _, err := c.Sendmail("a@example.org", []string{"b@example.org"}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	if n := rs.rd.empty - before; n != 0 {
		t.Errorf("reads tried an empty socket %d times after the greeting, want 0", n)
	}
	// The wire, as traced: what was sent, then its reply, in order.
	var wire []string
	for _, e := range events[1:] { // after the greeting
		wire = append(wire, e.Kind.String()+" "+strings.SplitN(string(e.Data), "\r\n", 2)[0])
	}
	want := []string{
		"send ehlo client.example", "recv 250-mx.example", "recv 250 8BITMIME",
		"send mail FROM:<a@example.org>", "recv 250 2.1.0 ok",
		"send rcpt TO:<b@example.org>", "recv 250 2.1.5 ok",
		"send data", "recv 354 go ahead",
		"send Subject: hi", "recv 250 2.0.0 queued",
		"send quit", "recv 221 2.0.0 bye",
	}
	if strings.Join(wire, "\n") != strings.Join(want, "\n") {
		t.Errorf("traced:\n%s\nwant:\n%s", strings.Join(wire, "\n"), strings.Join(want, "\n"))
	}
	for i := 1; i < len(events); i++ {
		if events[i].Time.Before(events[i-1].Time) {
			t.Errorf("event %d (%s) is traced before the one ahead of it", i, events[i].Kind)
		}
	}
}

// TestStagedCommandToAResetServer: a command whose write fails because
// the server reset the connection is the error of Docmd, at once, as a
// disconnection; nothing waits for its reply.
func TestStagedCommandToAResetServer(t *testing.T) {
	greeted := make(chan struct{})
	srv := smtptest.NewServer(t, []smtptest.Step{
		smtptest.S("220 mx.example ESMTP"),
		smtptest.Do("wait for the client to read the greeting", func(*smtptest.Conn) error { <-greeted; return nil }),
		smtptest.Reset(),
	})
	c, _, err := Dial(SMTP, srv.Host(), srv.Port(), Options{LocalHostname: "client.example", Timeout: 5 * time.Second})
	close(greeted)
	if err != nil {
		t.Fatal(err)
	}
	srv.Wait(0)
	time.Sleep(20 * time.Millisecond) // the reset reaches the client's socket
	start := time.Now()
	_, err = c.Docmd("noop", "")
	var sd *ServerDisconnectedError
	if !errors.As(err, &sd) || sd.Msg != "server not connected" {
		t.Fatalf("Docmd after a reset: %v, want the write's failure (server not connected)", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the failure took %s", d)
	}
	if c.Connected() {
		t.Error("still connected after the failure")
	}
}

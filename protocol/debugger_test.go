package protocol_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Client's methods are smtplib's API; the debugger's hooks live on
// Debugger only, so that the Client's godoc reads as smtplib's.
func TestDebuggerHooksAreNotOnClient(t *testing.T) {
	client := reflect.TypeOf(&protocol.Client{})
	debugger := reflect.TypeOf(protocol.Debugger{})
	for _, name := range []string{"Raw", "AuthRespond", "AuthCancel", "SendData", "UpgradeTLS", "CheckUnsolicited", "WatchIdle", "Abort", "DropAtReply"} {
		if _, ok := client.MethodByName(name); ok {
			t.Errorf("Client has %s; it belongs on Debugger", name)
		}
		if _, ok := debugger.MethodByName(name); !ok {
			t.Errorf("Debugger lacks %s", name)
		}
	}
}

// Abort is safe before a connection, twice, and through a Debugger taken
// before the connection closed.
func TestDebuggerAbortAnyTime(t *testing.T) {
	c := protocol.NewClient(protocol.SMTP, protocol.Options{})
	d := c.Debug()
	for i := 0; i < 2; i++ {
		if err := d.Abort(); err != nil {
			t.Errorf("Abort #%d on an unconnected client: %v", i+1, err)
		}
	}
}

// DropAtReply: the commands before the n-th reply are answered as usual;
// the n-th command is written whole, then the connection is closed
// without reading its reply (the server sees the command, then end of
// file), and the method that sent it returns ErrDropped.
func TestDebuggerDropAtReply(t *testing.T) {
	srv := newServer(t, []step{
		S("220 fake ESMTP"),
		C("mail FROM:<a@example.com>"), S("250 ok"),
		C("rcpt TO:<b@example.com>"), S("250 ok"),
		ExpectEOF(),
	})
	c := srv.mustDial(t)
	c.Debug().DropAtReply(2)
	if r, err := c.Mail("a@example.com"); err != nil || r.Code != 250 {
		t.Fatalf("MAIL, the reply before the one dropped: %v %v", r, err)
	}
	if _, err := c.Rcpt("b@example.com"); !errors.Is(err, protocol.ErrDropped) {
		t.Fatalf("RCPT: %v, want ErrDropped", err)
	}
	if c.Connected() {
		t.Error("still connected after the drop")
	}
	srv.Wait(0)

	// Disarmed (0), or never armed: replies are read.
	srv = newServer(t, []step{S("220 fake ESMTP"), C("noop"), S("250 ok"), C("quit"), S("221 bye")})
	c = srv.mustDial(t)
	c.Debug().DropAtReply(1)
	c.Debug().DropAtReply(0)
	if r, err := c.Noop(); err != nil || r.Code != 250 {
		t.Fatalf("NOOP after disarming: %v %v", r, err)
	}
	if _, err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

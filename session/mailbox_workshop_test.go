package session

import (
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
)

// Three students on one workshop sandbox: each reads, over XMAILBOX, the
// messages sent by or to them and no one else's, with the whole envelope
// (a refused recipient too), the TLS version and the AUTH user; a message
// larger than a page arrives whole; the lines are in the wire log.
func TestMailboxWorkshopIsolation(t *testing.T) {
	users := map[string]string{"student01": "pw-one", "student02": "pw-two", "student03": "pw-three"}
	srv, err := sandbox.New(sandbox.Config{Workshop: true, Users: users, TLSListen: "-",
		Faults: []sandbox.Fault{mustFault(t, "refuse-rcpt=nobody@example.test")}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	big := strings.Repeat("a line of the long message, to need two pages\n", 7000) // ~330 KB
	students := map[string]*harness{}
	for _, u := range []string{"student01", "student02", "student03"} {
		h := newHarness(t, srv, protocol.SMTP, srv.Addr())
		h.connectTLS()
		h.call("Login", func() { h.l.Login(u, users[u]) })
		h.noError(h.settle())
		students[u] = h
	}
	send := func(u string, f SendForm) {
		h := students[u]
		h.call("Send", func() { h.l.Send(f) })
		h.settle()
	}
	send("student01", SendForm{From: "student01@example.test", To: []string{"student02@example.test", "nobody@example.test"}, Subject: "for two", Body: "hello 02"})
	send("student03", SendForm{From: "student03@example.test", To: []string{"teacher@example.test"}, Subject: "big", Body: big})

	read := func(u string) []MailboxMessage {
		t.Helper()
		select {
		case r := <-students[u].l.Mailbox():
			if r.Err != nil {
				t.Fatalf("%s: %v\n%s", u, r.Err, students[u].log.dump())
			}
			return r.Messages
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no answer", u)
		}
		return nil
	}
	subjects := func(ms []MailboxMessage) []string {
		var out []string
		for _, m := range ms {
			for _, line := range strings.Split(string(m.Data), "\r\n") {
				if s, ok := strings.CutPrefix(line, "Subject: "); ok {
					out = append(out, s)
				}
			}
		}
		return out
	}
	for u, want := range map[string]string{"student01": "for two", "student02": "for two", "student03": "big"} {
		got := read(u)
		if s := subjects(got); len(s) != 1 || s[0] != want {
			t.Errorf("%s sees %q, want only %q", u, s, want)
		}
	}
	m := read("student02")[0]
	if m.AuthUser != "student01" || !m.TLS || m.TLSVersion == "" || len(m.Rcpts) != 2 || m.Rcpts[0].Code != 250 || m.Rcpts[1].Code < 500 {
		t.Errorf("student02's message: %+v", m)
	}
	if b := read("student03")[0]; !strings.Contains(string(b.Data), strings.ReplaceAll(big[:200], "\n", "\r\n")) || int64(len(b.Data)) != b.Size || b.Size < 300000 {
		t.Errorf("the big message: %d bytes of %d", len(b.Data), b.Size)
	}
	if dump := students["student03"].log.dump(); !strings.Contains(dump, "XMAILBOX FETCH") || !strings.Contains(dump, "XMAILBOX LIST") {
		t.Errorf("the XMAILBOX lines are not in the wire log:\n%.2000s", dump)
	}
}

func mustFault(t *testing.T, spec string) sandbox.Fault {
	t.Helper()
	f, err := sandbox.ParseFault(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Inside a MAIL transaction /mailbox does not greet again to learn
// XMAILBOX: EHLO would end the transaction without a word. It used to, and
// the student's next RCPT got "503 need MAIL".
func TestMailboxKeepsTheTransaction(t *testing.T) {
	users := map[string]string{"student01": "pw-one"}
	srv, err := sandbox.New(sandbox.Config{Workshop: true, Users: users, TLSListen: "-"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	h := newHarness(t, srv, protocol.SMTP, srv.Addr())
	h.connectTLS()
	h.call("Login", func() { h.l.Login("student01", users["student01"]) })
	h.noError(h.settle())
	h.input("MAIL FROM:<student01@example.test>")
	h.noError(h.settle())
	select {
	case r := <-h.l.Mailbox():
		if r.Err == nil || !strings.Contains(r.Err.Error(), "transaction") {
			t.Errorf("Mailbox in a transaction: %v, want an error about the transaction", r.Err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer")
	}
	if s := h.settle(); s.State.Phase != protocol.PhaseMail {
		t.Errorf("phase %v after Mailbox, want the MAIL transaction kept", s.State.Phase)
	}
}

package tui

import (
	"errors"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// workshopFake is a conversation with a workshop sandbox's XMAILBOX.
type workshopFake struct {
	*fakeConv
	result session.MailboxResult
	asked  int
}

func (w *workshopFake) Mailbox() <-chan session.MailboxResult {
	w.asked++
	ch := make(chan session.MailboxResult, 1)
	ch <- w.result
	close(ch)
	return ch
}

func newWorkshopFake(advertised bool, r session.MailboxResult) *workshopFake {
	f := &workshopFake{fakeConv: newFake(), result: r}
	f.snap.Connected = true
	if advertised {
		f.snap.Extensions = []protocol.Extension{{Keyword: "AUTH", Params: "PLAIN"}, {Keyword: "XMAILBOX"}}
	}
	return f
}

// Against a workshop sandbox /mailbox reads the student's messages over
// the connection, and shows each with its whole envelope: every RCPT with
// its reply, a refused one too, TLS and the AUTH user, none of it cut at
// 120 columns.
func TestMailboxFromWorkshopSandbox(t *testing.T) {
	long := "a.very.long.recipient.address.for.the.workshop@students.example.test"
	f := newWorkshopFake(true, session.MailboxResult{Messages: []session.MailboxMessage{{
		ID: "Q1", From: "student01@workshop.test", Helo: "laptop", TLS: true, TLSVersion: "TLS 1.3", AuthUser: "student01",
		Rcpts:    []session.MailboxRcpt{{Addr: long, Code: 250, Text: "2.1.5 Ok"}, {Addr: "nobody@workshop.test", Code: 550, Text: "5.1.1 no such user"}},
		Received: fixedStart, Size: 30, Data: []byte("Subject: hello\r\n\r\nbody text\r\n"), RcptsOmitted: 7,
	}}, Omitted: 2})
	m := newTestModel(t, f.fakeConv, "dark", 120, 40)
	m.conv = f
	cmd := m.openMailbox(cmdArgs{})
	if cmd == nil || f.asked != 1 {
		t.Fatalf("no request made (asked %d)", f.asked)
	}
	m.Update(cmd())
	if m.overlay != overlayMailbox {
		t.Fatalf("overlay %v, flash %q", m.overlay, m.flash)
	}
	scr := plain(m)
	if strings.Count(scr, "…") != 1 { // the one of "… 7 more RCPT TO"
		t.Errorf("an address was cut:\n%s", scr)
	}
	for _, want := range []string{"RCPT TO:<a.very.long.recipient.address.for.the.workshop@students.exa", "mple.test> → 250 2.1.5 Ok (accepted)", "RCPT TO:<nobody@workshop.test> → 550 5.1.1 no such user (REFUSED)",
		"TLS yes (TLS 1.3)", "AUTH as student01", "… 7 more RCPT TO not listed by the server", "(2 older ones the server could not list)", "MAIL FROM:<student01@workshop.test>", "Subject: hello", "body text"} {
		if !strings.Contains(scr, want) {
			t.Errorf("missing %q:\n%s", want, scr)
		}
	}
}

// Typing /mailbox asks the conversation when XMAILBOX is advertised; a
// server that does not advertise it gets the message naming the workshop
// sandbox, and nothing is asked of it.
func TestMailboxCommandNeedsXMAILBOX(t *testing.T) {
	f := newWorkshopFake(false, session.MailboxResult{})
	m := newTestModel(t, f.fakeConv, "dark", 80, 24)
	m.conv = f
	typeText(m, "/mailbox")
	press(m, "enter")
	if f.asked != 0 || m.overlay != overlayNone || !strings.Contains(m.flash, "ehlo sandbox --workshop") {
		t.Errorf("asked %d, overlay %v, flash %q", f.asked, m.overlay, m.flash)
	}
	f.snap.Extensions = []protocol.Extension{{Keyword: "xmailbox"}}
	typeText(m, "/mailbox")
	press(m, "enter")
	if f.asked != 1 {
		t.Errorf("asked %d times with XMAILBOX advertised", f.asked)
	}
}

// An error from the server is said, and no empty mailbox is shown.
func TestMailboxWorkshopError(t *testing.T) {
	f := newWorkshopFake(true, session.MailboxResult{Err: errors.New("XMAILBOX LIST: malformed reply\x1b[2J")})
	m := newTestModel(t, f.fakeConv, "dark", 80, 24)
	m.conv = f
	m.Update(m.openMailbox(cmdArgs{})())
	if m.overlay != overlayNone || !strings.Contains(m.flash, `malformed reply\x1b[2J`) {
		t.Errorf("overlay %v, flash %q", m.overlay, m.flash)
	}
}

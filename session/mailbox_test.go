package session

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/protocol/smtptest"
)

func metaLine(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// mailboxLive connects a Live to a scripted server that advertises
// XMAILBOX, then runs Mailbox and returns its result.
func mailboxLive(t *testing.T, steps ...smtptest.Step) (MailboxResult, *eventLog) {
	t.Helper()
	script := append([]smtptest.Step{
		smtptest.S("220 workshop"),
		smtptest.C("EHLO client.test"), smtptest.S("250-workshop", "250 XMAILBOX"),
	}, steps...)
	srv := smtptest.NewServer(t, append(script, smtptest.Anything()))
	l := NewLive(LiveConfig{Server: srv.Addr(), Kind: protocol.SMTP, Options: protocol.Options{
		Timeout: 5 * time.Second, LocalHostname: "client.test",
	}})
	log := &eventLog{}
	l.Capture().Add(log)
	t.Cleanup(func() { l.Close() })
	l.Connect()
	l.Input("EHLO client.test")
	select {
	case r := <-l.Mailbox():
		return r, log
	case <-time.After(10 * time.Second):
		t.Fatal("Mailbox never answered")
	}
	return MailboxResult{}, nil
}

func TestMailboxReadsMessagesPageByPage(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 20000) // 320000 bytes: two pages
	first, second := body[:256<<10], body[256<<10:]
	meta := metaLine(t, map[string]any{"id": "Q1", "from": "s1@x.test", "params": []string{"SIZE=5"},
		"rcpts": []map[string]any{{"addr": "a@x.test", "code": 250, "text": "2.1.5 Ok"}, {"addr": "bad@x.test", "code": 550, "text": "5.1.1 no"}},
		"helo":  "c.test", "tls": true, "tls_version": "TLS 1.3", "auth_user": "student01", "received": "2026-12-06T20:00:00.5Z",
		"size": len(body), "chunked": false})
	pageLines := func(s string) []string {
		enc := base64.StdEncoding.EncodeToString([]byte(s))
		var out []string
		for len(enc) > 4000 {
			out = append(out, "250-"+enc[:4000])
			enc = enc[4000:]
		}
		return append(out, "250-"+enc)
	}
	r, _ := mailboxLive(t,
		smtptest.C("XMAILBOX LIST"), smtptest.S("250-1 messages", "250-"+meta, "250 end"),
		smtptest.C("XMAILBOX FETCH Q1 0"), smtptest.S(append(append([]string{fmt.Sprintf("250-%d 0 %d", len(body), len(first))}, pageLines(first)...), "250 end")...),
		smtptest.C(fmt.Sprintf("XMAILBOX FETCH Q1 %d", len(first))),
		smtptest.S(append(append([]string{fmt.Sprintf("250-%d %d %d", len(body), len(first), len(second))}, pageLines(second)...), "250 end")...),
	)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if len(r.Messages) != 1 {
		t.Fatalf("%d messages", len(r.Messages))
	}
	m := r.Messages[0]
	if string(m.Data) != body || m.AuthUser != "student01" || !m.TLS || len(m.Rcpts) != 2 || m.Rcpts[1].Code != 550 || m.Received.IsZero() {
		t.Errorf("message = %+v (data %d bytes)", m, len(m.Data))
	}
}

// A server is untrusted: every way its replies can lie is an error that
// says what was wrong, never a panic, a loop or a wrong message.
func TestMailboxHostileReplies(t *testing.T) {
	good := func(size int) string {
		return metaLine(t, map[string]any{"id": "Q1", "from": "a@x", "size": size})
	}
	list := func(lines ...string) []smtptest.Step {
		return []smtptest.Step{smtptest.C("XMAILBOX LIST"), smtptest.S(lines...)}
	}
	fetch := func(off int, lines ...string) []smtptest.Step {
		return []smtptest.Step{smtptest.C(fmt.Sprintf("XMAILBOX FETCH Q1 %d", off)), smtptest.S(lines...)}
	}
	cat := func(parts ...[]smtptest.Step) []smtptest.Step {
		var out []smtptest.Step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	cases := []struct {
		name  string
		steps []smtptest.Step
		want  string
	}{
		{"refused", list("530 5.7.0 Authentication required"), "refused: 530"},
		{"no end", list("250-0 messages", "250 done"), `not "end"`},
		{"count lies", list("250-3 messages", "250-"+good(1), "250 end"), "does not count"},
		{"count with garbage", list("250-1 messagesX", "250-"+good(1), "250 end"), "does not count"},
		{"bad omitted", list("250-1 messages (x older not listed)", "250-"+good(1), "250 end"), "does not count"},
		{"bad base64", list("250-1 messages", "250-!!!notbase64", "250 end"), "not base64"},
		{"bad json", list("250-1 messages", "250-"+b64("{\"id\":"), "250 end"), "not the JSON"},
		{"id with space", list("250-1 messages", "250-"+metaLine(t, map[string]any{"id": "Q1 RSET", "size": 1}), "250 end"), "is not 1 to"},
		{"too big", list("250-1 messages", "250-"+good(MailboxMaxMessage+1), "250 end"), "ehlo reads messages of 0 to"},
		{"negative", list("250-1 messages", "250-"+good(-1), "250 end"), "ehlo reads messages of 0 to"},
		{"too much in all", list("250-3 messages", "250-"+metaLine(t, map[string]any{"id": "A", "size": MailboxMaxMessage}),
			"250-"+metaLine(t, map[string]any{"id": "B", "size": MailboxMaxMessage}), "250-"+metaLine(t, map[string]any{"id": "C", "size": 1}), "250 end"), "add up to more than"},
		{"bad time", list("250-1 messages", "250-"+metaLine(t, map[string]any{"id": "Q1", "size": 1, "received": "yesterday"}), "250 end"), "received"},
		{"size changes", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "250-9 0 3", "250-"+b64("abc"), "250 end")), "its list said 3"},
		{"wrong offset", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "250-3 1 2", "250-"+b64("bc"), "250 end")), "offset 1, not 0"},
		{"empty page", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "250-3 0 0", "250 end")), "empty page"},
		{"page past the end", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "250-3 0 4", "250-"+b64("abcd"), "250 end")), "does not fit"},
		// A page short of both the end and a whole page would let a
		// server dribble a 64 MiB mailbox a byte per command.
		{"short page", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "250-3 0 1", "250-"+b64("a"), "250 end")), "not a whole page"},
		{"page too big", cat(list("250-1 messages", "250-"+good(1<<20), "250 end"), fetch(0, fmt.Sprintf("250-%d 0 %d", 1<<20, 1<<19), "250 end")), "does not fit"},
		{"short base64", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "250-3 0 3", "250-"+b64("ab"), "250 end")), "not the 3 announced"},
		{"long base64", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "250-3 0 3", "250-"+b64("abcdef"), "250 end")), "cannot hold"},
		{"bad page base64", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "250-3 0 3", "250-!!!!", "250 end")), "not base64"},
		{"header not numbers", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "250-three 0 3", "250 end")), "is not \"<size>"},
		{"no such message", cat(list("250-1 messages", "250-"+good(3), "250 end"), fetch(0, "550 5.7.1 not yours")), "refused: 550"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := mailboxLive(t, c.steps...)
			if r.Err == nil || !strings.Contains(r.Err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", r.Err, c.want)
			}
			if r.Messages != nil {
				t.Errorf("messages returned with the error: %+v", r.Messages)
			}
		})
	}
}

// Without XMAILBOX advertised nothing is sent, and the error says why.
func TestMailboxNeedsTheExtension(t *testing.T) {
	srv := smtptest.NewServer(t, []smtptest.Step{
		smtptest.S("220 mx"), smtptest.C("EHLO client.test"), smtptest.S("250-mx", "250 AUTH PLAIN"), smtptest.Anything(),
	})
	l := NewLive(LiveConfig{Server: srv.Addr(), Kind: protocol.SMTP, Options: protocol.Options{Timeout: 5 * time.Second, LocalHostname: "client.test"}})
	defer l.Close()
	l.Connect()
	l.Input("EHLO client.test")
	r := <-l.Mailbox()
	if r.Err != ErrNoXMAILBOX {
		t.Fatalf("err = %v", r.Err)
	}
	l.Close()
	if sent := srv.Wait(0).All(); strings.Contains(sent, "XMAILBOX") {
		t.Errorf("sent %q", sent)
	}
}

// A Mailbox dropped unrun (the session closed) still answers.
func TestMailboxAnswersWhenClosed(t *testing.T) {
	l := NewLive(LiveConfig{Server: "127.0.0.1:1", Kind: protocol.SMTP, Options: protocol.Options{Timeout: time.Second}})
	l.Close()
	select {
	case r := <-l.Mailbox():
		if r.Err == nil {
			t.Fatal("no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Mailbox on a closed session never answered")
	}
}

// A LIST that could not hold every message says how many older ones it
// left out, and a meta cut down counts the recipients it left out.
func TestMailboxOmittedCounts(t *testing.T) {
	meta := metaLine(t, map[string]any{"id": "Q9", "from": "a@x", "size": 0, "rcpts_omitted": 40,
		"rcpts": []map[string]any{{"addr": "b@x", "code": 250, "text": "ok"}}})
	r, _ := mailboxLive(t,
		smtptest.C("XMAILBOX LIST"), smtptest.S("250-1 messages (3 older not listed)", "250-"+meta, "250 end"),
		smtptest.C("XMAILBOX FETCH Q9 0"), smtptest.S("250-0 0 0", "250 end"),
	)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if r.Omitted != 3 || len(r.Messages) != 1 || r.Messages[0].RcptsOmitted != 40 || len(r.Messages[0].Data) != 0 {
		t.Errorf("result %+v", r)
	}
}

// In DATA the server reads lines as the message: Mailbox sends nothing
// and says why.
func TestMailboxRefusedInData(t *testing.T) {
	srv := smtptest.NewServer(t, []smtptest.Step{
		smtptest.S("220 workshop"),
		smtptest.C("EHLO client.test"), smtptest.S("250-workshop", "250 XMAILBOX"),
		smtptest.C("MAIL FROM:<a@x>"), smtptest.S("250 ok"),
		smtptest.C("RCPT TO:<b@x>"), smtptest.S("250 ok"),
		smtptest.C("DATA"), smtptest.S("354 go ahead"),
		smtptest.Anything(),
	})
	l := NewLive(LiveConfig{Server: srv.Addr(), Kind: protocol.SMTP, Options: protocol.Options{Timeout: 5 * time.Second, LocalHostname: "client.test"}})
	defer l.Close()
	l.Connect()
	l.Input("EHLO client.test\nMAIL FROM:<a@x>\nRCPT TO:<b@x>\nDATA")
	r := <-l.Mailbox()
	if r.Err == nil || !strings.Contains(r.Err.Error(), "reading a message") {
		t.Fatalf("err = %v", r.Err)
	}
	l.Close()
	if sent := srv.Wait(0).All(); strings.Contains(sent, "XMAILBOX") {
		t.Errorf("sent %q", sent)
	}
}

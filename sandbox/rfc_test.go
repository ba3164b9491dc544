package sandbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGreetingAndEHLO(t *testing.T) {
	srv, _ := start(t, Config{})
	c := dial(t, "tcp", srv.Addr())
	g := c.expect(220)
	if g.raw != "220 sandbox.ehlo.test ESMTP ehlo sandbox\r\n" {
		t.Fatalf("greeting %q", g.raw)
	}
	r := c.ehlo()
	if r.lines[0] != "sandbox.ehlo.test Hello client.test" {
		t.Errorf("first EHLO line %q", r.lines[0])
	}
	want := []string{"PIPELINING", "SIZE 10485760", "VRFY", "HELP", "STARTTLS", "ENHANCEDSTATUSCODES",
		"8BITMIME", "BINARYMIME", "CHUNKING", "DSN", "SMTPUTF8"}
	if got := r.lines[1:]; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("EHLO keywords %q, want %q", got, want)
	}
	for _, l := range r.lines {
		if strings.HasPrefix(l, "AUTH") {
			t.Errorf("AUTH advertised before TLS: %q", l)
		}
	}
}

func TestCustomBannerHostnameAndInsecureAuth(t *testing.T) {
	srv, _ := start(t, Config{Hostname: "mx.workshop.test", Banner: "ESMTP hello class", AllowInsecureAuth: true, MaxMessageBytes: 1234})
	c := dial(t, "tcp", srv.Addr())
	if g := c.expect(220); g.raw != "220 mx.workshop.test ESMTP hello class\r\n" {
		t.Fatalf("greeting %q", g.raw)
	}
	r := c.ehlo()
	text := r.text()
	if !strings.Contains(text, "AUTH PLAIN LOGIN CRAM-MD5") || !strings.Contains(text, "SIZE 1234") {
		t.Errorf("EHLO reply %q lacks AUTH or SIZE 1234", r.raw)
	}
}

// Enhanced status codes are on after EHLO (RFC 2034) and off after HELO.
func TestEnhancedCodesFollowEHLO(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	if r := c.cmd("HELO client.test", 250); r.raw != "250 sandbox.ehlo.test Hello client.test\r\n" {
		t.Errorf("HELO reply %q", r.raw)
	}
	if r := c.cmd("NOOP", 250); r.raw != "250 Ok\r\n" {
		t.Errorf("NOOP after HELO %q, want no enhanced code", r.raw)
	}
	if r := c.cmd("MAIL FROM:<a@x.test> SIZE=10", 555); strings.HasPrefix(r.lines[0], "5.") {
		t.Errorf("MAIL parameters after HELO: %q", r.raw)
	}
	c.ehlo()
	for _, tc := range []struct {
		line string
		code int
		enh  string
	}{
		{"NOOP", 250, "2.0.0"},
		{"RSET", 250, "2.0.0"},
		{"MAIL FROM:<a@x.test>", 250, "2.1.0"},
		{"RCPT TO:<b@x.test>", 250, "2.1.5"},
		{"VRFY alice", 250, "2.1.5"},
		{"VRFY nobody", 252, "2.5.0"},
		{"HELP", 214, "2.0.0"},
		{"FOO", 500, "5.5.2"},
		{"EXPN list", 502, "5.5.1"},
		{"QUIT", 221, "2.0.0"},
	} {
		c.cmdText(tc.line, tc.code, tc.enh+" ")
	}
	c.expectClosed()
}

// RFC 5321 §4.1.4 and §4.3.2: commands out of order get 503.
func TestBadSequenceIs503(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.cmdText("MAIL FROM:<a@x.test>", 503, "Send HELO/EHLO first")
	c.cmdText("RCPT TO:<b@x.test>", 503, "Need MAIL")
	c.cmdText("DATA", 503, "Need MAIL")
	c.cmd("STARTTLS", 503)
	c.cmd("AUTH PLAIN", 503)
	c.ehlo()
	c.cmdText("RCPT TO:<b@x.test>", 503, "5.5.1 ")
	c.cmdText("DATA", 503, "5.5.1 ")
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmdText("MAIL FROM:<other@x.test>", 503, "5.5.1 Nested MAIL")
	c.cmdText("DATA", 503, "5.5.1 Need RCPT")
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmd("AUTH PLAIN", 503) // RFC 4954 §4: not during a transaction
	c.cmd("RSET", 250)
	c.cmdText("RCPT TO:<b@x.test>", 503, "5.5.1 ")
	// A new EHLO also ends the transaction (RFC 5321 §4.1.4).
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
}

func TestSyntaxErrorsAre501(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.cmd("EHLO", 501)
	c.cmd("EHLO two words", 501)
	c.ehlo()
	for _, tc := range []struct {
		line, enh string
	}{
		{"MAIL", "5.5.4"},
		{"MAIL TO:<a@x.test>", "5.5.4"},
		{"MAIL FROM:a@x.test", "5.5.4"},
		{"MAIL FROM:<a@x.test", "5.5.4"},
		{"MAIL FROM:<a@x.test>SIZE=1", "5.5.4"},
		{"MAIL FROM:<a b@x.test>", "5.1.7"},
		{"MAIL FROM:<a@>", "5.1.7"},
		{"MAIL FROM:<@x.test>", "5.1.7"},
		{"MAIL FROM:<a..b@x.test>", "5.1.7"},
		{"MAIL FROM:<a@x.test> SIZE=big", "5.5.4"},
		{"MAIL FROM:<a@x.test> BODY=9BIT", "5.5.4"},
		{"MAIL FROM:<a@x.test> RET=ALL", "5.5.4"},
		{"MAIL FROM:<a@x.test> SMTPUTF8=yes", "5.5.4"},
		{"MAIL FROM:<a@x.test> SIZE=1 SIZE=2", "5.5.4"},
		{"STARTTLS now", "5.5.4"},
		{"RSET all", "5.5.4"},
		{"QUIT now", "5.5.4"},
		{"VRFY", "5.5.4"},
	} {
		c.cmdText(tc.line, 501, tc.enh+" ")
	}
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmdText("RCPT TO:<>", 501, "5.1.3 ")
	c.cmdText("RCPT TO:b@x.test", 501, "5.5.4 ")
	c.cmdText("RCPT TO:<b@x.test> NOTIFY=SOMETIMES", 501, "5.5.4 ")
	c.cmdText("RCPT TO:<b@x.test> ORCPT=nosemicolon", 501, "5.5.4 ")
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmdText("DATA now", 501, "5.5.4 ")
	c.cmdText("BDAT", 501, "5.5.4 ")
}

func TestAcceptedForms(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("mail from: <>", 250) // null sender, lower case, a space after the colon
	c.cmd("RCPT TO:<postmaster>", 250)
	c.cmd(`RCPT TO:<"john doe"@x.test>`, 250)
	c.cmd("RCPT TO:<@relay.test:b@x.test>", 250) // source route, ignored
	c.cmd("RCPT TO:<b@[127.0.0.1]>", 250)
	c.cmd("RCPT TO:<c@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@x.test", 250)
	c.cmd("RSET", 250)
	c.cmd("MAIL FROM:<a@x.test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 AUTH=<>", 250)
	c.cmd("NOOP anything", 250)
}

func TestUnknownAndUnimplemented(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.cmd("FOO", 500)
	c.cmd("FOOBAR baz", 500)
	c.cmd("LHLO x", 500) // LMTP only
	c.ehlo()
	for _, v := range []string{"EXPN staff", "TURN", "ETRN x.test", "SEND FROM:<a@x>", "VERB"} {
		c.cmdText(v, 502, "5.5.1 ")
	}
	c.cmdText("HELP MAIL", 214, "2.0.0 MAIL FROM:")
	c.cmdText("HELP NOSUCH", 504, "5.5.4 ")
}

// RFC 5321 §4.1.1.11: unknown MAIL/RCPT parameters are 555.
func TestUnknownParameterIs555(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmdText("MAIL FROM:<a@x.test> FOO=bar", 555, "5.5.4 ")
	c.cmdText("MAIL FROM:<a@x.test> REQUIRETLS", 555, "5.5.4 ")
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmdText("RCPT TO:<b@x.test> FOO=bar", 555, "5.5.4 ")
}

func TestSizeLimitIs552(t *testing.T) {
	srv, _ := start(t, Config{MaxMessageBytes: 100})
	c := connect(t, srv)
	c.ehlo()
	c.cmdText("MAIL FROM:<a@x.test> SIZE=101", 552, "5.3.4 ")
	c.cmd("MAIL FROM:<a@x.test> SIZE=100", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmd("DATA", 354)
	c.write(strings.Repeat("0123456789\r\n", 20) + ".\r\n")
	c.expectText(552, "5.3.4 ")
	// The transaction is over, and the session is still in step.
	c.cmd("RCPT TO:<b@x.test>", 503)
	c.sendMessage("a@x.test", []string{"b@x.test"}, "short\r\n")
	if n := srv.Mailbox().Len(); n != 1 {
		t.Fatalf("mailbox has %d messages, want 1", n)
	}
}

func TestNoValidRecipientsIs554(t *testing.T) {
	srv, _ := start(t, Config{Faults: faults(t, "refuse-rcpt")})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmdText("RCPT TO:<b@x.test>", 550, "5.1.1 ")
	c.cmdText("DATA", 554, "5.5.1 No valid recipients")
	// BDAT's octets are read even when it is refused (RFC 3030 §2), so
	// the session stays in step.
	c.write("BDAT 3 LAST\r\nabc")
	c.expectText(554, "5.5.1 ")
	c.cmd("NOOP", 250)
}

func TestMaxRecipientsIs452(t *testing.T) {
	srv, _ := start(t, Config{MaxRecipients: 2})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmd("RCPT TO:<c@x.test>", 250)
	c.cmdText("RCPT TO:<d@x.test>", 452, "4.5.3 ")
	c.cmd("DATA", 354)
	c.write("hi\r\n.\r\n")
	c.expect(250)
	if m := srv.Mailbox().Messages(); len(m) != 1 || len(m[0].To) != 2 {
		t.Fatalf("mailbox %+v", m)
	}
}

func TestFullMailboxSMTPIs452AtRcpt(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmdText("RCPT TO:<full@x.test>", 452, "4.2.2 ")
	c.cmd("RCPT TO:<ok@x.test>", 250)
}

func TestSMTPUTF8(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmdText("MAIL FROM:<jöran@x.test>", 553, "5.6.7 ")
	c.cmd("MAIL FROM:<jöran@x.test> SMTPUTF8", 250)
	c.cmd("RCPT TO:<用户@例子.测试>", 250)
	c.cmd("DATA", 354)
	c.write("Subject: ü\r\n\r\nü\r\n.\r\n")
	c.expect(250)
	m := srv.Mailbox().Messages()
	if len(m) != 1 || m[0].From != "jöran@x.test" || m[0].To[0] != "用户@例子.测试" {
		t.Fatalf("mailbox %+v", m)
	}
}

func TestVRFY(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmdText("VRFY alice", 250, "2.1.5 alice <alice@sandbox.ehlo.test>")
	c.cmdText("VRFY <bob@anything.test>", 250, "2.1.5 bob ")
	c.cmdText("VRFY mallory", 252, "2.5.0 ")
}

func TestQuitCloses(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.cmd("QUIT", 221)
	c.expectClosed()
}

func TestLineTooLong(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmdText("NOOP "+strings.Repeat("x", maxCommandLine+10), 500, "5.5.2 Line too long")
	c.cmd("NOOP", 250) // still in step
}

func TestReadTimeoutSends421AndCloses(t *testing.T) {
	srv, _ := start(t, Config{ReadTimeout: 100 * time.Millisecond})
	c := connect(t, srv)
	c.ehlo()
	c.expectText(421, "4.4.2 ")
	c.expectClosed()
}

func TestTooManyErrorsCloses(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	for i := 0; i < maxErrors-1; i++ {
		c.cmd("BOGUS", 500)
	}
	c.send("BOGUS")
	c.expect(500)
	c.expect(421)
	c.expectClosed()
}

func TestMailboxContentsAndMetadata(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	changed := srv.Mailbox().Changed()
	c.cmd("EHLO me.test", 250)
	c.cmd("MAIL FROM:<a@x.test> BODY=8BITMIME SIZE=20", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmd("RCPT TO:<c@x.test>", 250)
	c.cmd("DATA", 354)
	c.write("Subject: hi\r\n\r\nbody\r\n.\r\n")
	r := c.expect(250)
	select {
	case <-changed: // stored before the 250 was written
	default:
		t.Fatal("Changed not closed by the delivery")
	}
	m := srv.Mailbox().Messages()
	if len(m) != 1 {
		t.Fatalf("%d messages", len(m))
	}
	got := m[0]
	if got.From != "a@x.test" || strings.Join(got.To, ",") != "b@x.test,c@x.test" ||
		string(got.Data) != "Subject: hi\r\n\r\nbody\r\n" || got.Helo != "me.test" ||
		strings.Join(got.Params, " ") != "BODY=8BITMIME SIZE=20" || got.TLS || got.AuthUser != "" ||
		got.Chunked || got.Received.IsZero() || !strings.HasSuffix(r.lines[0], got.ID) {
		t.Fatalf("message %+v, reply %q", got, r.raw)
	}
}

func TestMailboxLimitKeepsNewest(t *testing.T) {
	srv, _ := start(t, Config{MailboxLimit: 2})
	c := connect(t, srv)
	c.ehlo()
	for i := 0; i < 3; i++ {
		c.sendMessage("a@x.test", []string{"b@x.test"}, fmt.Sprintf("n%d\r\n", i))
	}
	m := srv.Mailbox().Messages()
	if len(m) != 2 || string(m[0].Data) != "n1\r\n" || string(m[1].Data) != "n2\r\n" || srv.Mailbox().Total() != 3 {
		t.Fatalf("mailbox %d messages, total %d: %+v", len(m), srv.Mailbox().Total(), m)
	}
	srv.Mailbox().Clear()
	if srv.Mailbox().Len() != 0 || srv.Mailbox().Total() != 3 {
		t.Fatal("Clear")
	}
}

// Many sessions at once, each with its own transaction; run with -race.
func TestConcurrentSessions(t *testing.T) {
	srv, logBuf := start(t, Config{})
	const n = 20
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := connect(t, srv)
			c.ehlo()
			c.sendMessage(fmt.Sprintf("s%d@x.test", i), []string{"b@x.test"}, fmt.Sprintf("message %d\r\n", i))
			c.cmd("QUIT", 221)
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Mailbox().Wait(ctx, n); err != nil {
		t.Fatalf("Wait: %v (have %d)", err, srv.Mailbox().Total())
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, m := range srv.Mailbox().Messages() {
		seen[m.From] = true
		if want := "message " + strings.TrimSuffix(strings.TrimPrefix(m.From, "s"), "@x.test") + "\r\n"; string(m.Data) != want {
			t.Errorf("message from %s has %q", m.From, m.Data)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct senders, want %d", len(seen), n)
	}
	// Every log line is tagged with its session and none is torn. The log
	// is buffered; Close writes it all.
	srv.Close()
	for _, l := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		if !strings.HasPrefix(l, "[s") || !strings.Contains(l, "] ") {
			t.Fatalf("untagged log line %q", l)
		}
	}
}

func TestLogIsTaggedPerSession(t *testing.T) {
	srv, logBuf := start(t, Config{})
	a := connect(t, srv)
	a.ehlo()
	b := connect(t, srv)
	b.cmd("HELO other.test", 250)
	a.cmd("QUIT", 221)
	b.cmd("QUIT", 221)
	a.expectClosed()
	b.expectClosed()
	srv.Close()
	log := logBuf.String()
	for _, want := range []string{
		"[s1] S: 220 sandbox.ehlo.test ESMTP ehlo sandbox\n",
		"[s1] C: EHLO client.test\n",
		"[s1] S: 250-sandbox.ehlo.test Hello client.test\n",
		"[s2] C: HELO other.test\n",
		"[s2] S: 250 sandbox.ehlo.test Hello other.test\n",
		"[s1] S: 221 2.0.0 sandbox.ehlo.test Bye\n",
		"[s2] * closed: client quit\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestLogEscapesControlBytes(t *testing.T) {
	srv, logBuf := start(t, Config{})
	c := connect(t, srv)
	c.cmd("NOOP \x1b[2J\u202e", 250)
	c.cmd("QUIT", 221)
	c.expectClosed()
	srv.Close()
	if log := logBuf.String(); strings.ContainsRune(log, 0x1b) || !strings.Contains(log, `C: NOOP \x1b[2J\u202e`) {
		t.Fatalf("log not escaped:\n%q", log)
	}
}

func TestCloseEndsSessionsAndServe(t *testing.T) {
	srv, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	c := connect(t, srv)
	c.ehlo()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Serve did not return after Close")
	}
	c.expectClosed()
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := srv.Serve(); err == nil {
		t.Fatal("second Serve should fail")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Hostname: "two words"},
		{Banner: "a\r\nb"},
		{Users: map[string]string{"a b": "x"}},
		{TLSCert: "cert.pem"},
		{Listen: "-", TLSListen: "-"},
		{Listen: "256.0.0.1:1"},
	} {
		if srv, err := New(cfg); err == nil {
			srv.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestReadTimeoutDuringData(t *testing.T) {
	srv, _ := start(t, Config{ReadTimeout: 150 * time.Millisecond})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmd("DATA", 354)
	c.write("half a message\r\n")
	c.expectText(421, "4.4.2 ")
	c.expectClosed()
	if srv.Mailbox().Len() != 0 {
		t.Fatal("partial message stored")
	}
}

// Deadlines are renewed lazily (deadlineConn): the pregreet pause and the
// TLS handshake set deadlines of their own on the session's connection,
// and once they are cleared a client that goes quiet must still be timed
// out, not held for ever.
func TestReadTimeoutAfterExplicitDeadlines(t *testing.T) {
	t.Run("pregreet", func(t *testing.T) {
		srv, _ := start(t, Config{ReadTimeout: 300 * time.Millisecond, Faults: faults(t, "pregreet-guard=50ms")})
		c := dial(t, "tcp", srv.Addr())
		c.expect(220)
		c.ehlo()
		c.expectText(421, "4.4.2 ")
		c.expectClosed()
	})
	t.Run("starttls", func(t *testing.T) {
		srv, _ := start(t, Config{ReadTimeout: 300 * time.Millisecond})
		c := connect(t, srv)
		c.ehlo()
		c.startTLS(srv, "localhost")
		c.ehlo()
		c.expectText(421, "4.4.2 ")
		c.expectClosed()
	})
}

// A session that keeps talking is never timed out, however long it lasts
// (here 2.5 timeouts):
// the deadline moves with every command, lazily or not.
func TestReadTimeoutRenewedByCommands(t *testing.T) {
	srv, _ := start(t, Config{ReadTimeout: 600 * time.Millisecond})
	c := connect(t, srv)
	c.ehlo()
	for range 10 {
		time.Sleep(150 * time.Millisecond)
		c.cmd("NOOP", 250)
	}
}

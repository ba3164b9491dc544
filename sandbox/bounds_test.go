package sandbox

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Issue 12 finding 3 (security.md J3): the mailbox is bounded by bytes as
// well as by count, drops the oldest first, says so in the log, and still
// hands messages out oldest first.
func TestMailboxBoundedByBytes(t *testing.T) {
	srv, logBuf := start(t, Config{MailboxBytes: 64 << 10, MaxMessageBytes: 16 << 10})
	c := connect(t, srv)
	c.ehlo()
	body := strings.Repeat("0123456789abcdef", 10<<10/16-1) + "\r\n" // about 10 KiB
	const n = 20
	for range n {
		c.sendMessage("a@x.test", []string{"b@x.test"}, body)
	}
	c.cmd("QUIT", 221)
	mb := srv.Mailbox()
	if mb.Bytes() > 64<<10 || mb.Len() >= n || mb.Len() < 4 || mb.Total() != n {
		t.Fatalf("mailbox holds %d messages, %d bytes (limit %d), total %d", mb.Len(), mb.Bytes(), 64<<10, mb.Total())
	}
	msgs := mb.Messages()
	for i, m := range msgs {
		if want := fmt.Sprintf("s1.%d", n-len(msgs)+1+i); m.ID != want {
			t.Fatalf("message %d is %s, want %s (the newest, oldest first)", i, m.ID, want)
		}
	}
	srv.Close()
	if !strings.Contains(logBuf.String(), "mailbox full (1000 messages, 65536 octets at most): dropped the 1 oldest") {
		t.Fatalf("drops not logged:\n%s", logBuf.String())
	}
}

// A message over the size of the mailbox could never be kept: New says so
// rather than advertise a SIZE it cannot honour; by default SIZE shrinks.
func TestMessageLimitFitsTheBounds(t *testing.T) {
	if _, err := New(Config{MailboxBytes: 1 << 20, MaxMessageBytes: 2 << 20}); err == nil {
		t.Fatal("New accepted a message limit above the mailbox's size")
	}
	srv, _ := start(t, Config{BufferBytes: 1 << 20})
	c := connect(t, srv)
	if r := c.ehlo(); !strings.Contains(r.text(), "SIZE 1048576") {
		t.Fatalf("EHLO %q, want SIZE 1048576", r.text())
	}
}

// The ring keeps the newest MailboxLimit messages, oldest first, across
// wrap-arounds and Clear.
func TestMailboxRing(t *testing.T) {
	m := newMailbox(3, 1<<30)
	for i := range 7 {
		m.add(Message{ID: fmt.Sprint(i)})
		if i == 4 {
			m.Clear()
		}
	}
	var ids []string
	for _, msg := range m.Messages() {
		ids = append(ids, msg.ID)
	}
	if got := strings.Join(ids, ","); got != "4,5,6" && m.Len() != 2 {
		t.Fatalf("messages %s", got)
	}
	if got := strings.Join(ids, ","); got != "5,6" || m.Total() != 7 {
		t.Fatalf("after Clear: messages %s, total %d; want 5,6 and 7", got, m.Total())
	}
	for i := 7; i < 12; i++ {
		m.add(Message{ID: fmt.Sprint(i)})
	}
	ids = ids[:0]
	for _, msg := range m.Messages() {
		ids = append(ids, msg.ID)
	}
	if got := strings.Join(ids, ","); got != "9,10,11" {
		t.Fatalf("messages %s, want 9,10,11", got)
	}
}

// waitBuffered waits until the sessions hold at least n bytes.
func waitBuffered(t *testing.T, srv *Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for srv.buffered.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the sessions hold %d bytes, never %d", srv.buffered.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Issue 12 finding 4 (J4): DATA in flight is bounded across sessions, not
// only per session. A message that does not fit is read to its end and
// refused with 452; once room comes back, it is accepted.
func TestBufferSharedBySessions(t *testing.T) {
	srv, logBuf := start(t, Config{BufferBytes: 64 << 10, MaxMessageBytes: 40 << 10})
	line := strings.Repeat("x", 1022) + "\r\n"
	a := connect(t, srv)
	a.ehlo()
	a.cmd("MAIL FROM:<a@x.test>", 250)
	a.cmd("RCPT TO:<b@x.test>", 250)
	a.cmd("DATA", 354)
	a.write(strings.Repeat(line, 30)) // 30 KiB, no final dot yet
	waitBuffered(t, srv, 30<<10)

	b := connect(t, srv)
	b.ehlo()
	b.cmd("MAIL FROM:<a@x.test>", 250)
	b.cmd("RCPT TO:<b@x.test>", 250)
	b.cmd("DATA", 354)
	b.write(strings.Repeat(line, 39))
	b.write(".\r\n")
	b.expectText(452, "4.3.1 ")
	if srv.buffered.Load() > 64<<10 {
		t.Fatalf("the sessions hold %d bytes, over the 64 KiB bound", srv.buffered.Load())
	}
	a.write(".\r\n")
	a.expect(250)
	b.sendMessage("a@x.test", []string{"b@x.test"}, strings.Repeat(line, 39))
	if got := srv.Mailbox().Len(); got != 2 {
		t.Fatalf("mailbox holds %d messages, want 2", got)
	}
	// BDAT draws on the same buffer.
	a.cmd("MAIL FROM:<a@x.test>", 250)
	a.cmd("RCPT TO:<b@x.test>", 250)
	a.write(fmt.Sprintf("BDAT %d\r\n%s", 30<<10, strings.Repeat(line, 30)))
	a.expect(250)
	b.cmd("MAIL FROM:<a@x.test>", 250)
	b.cmd("RCPT TO:<b@x.test>", 250)
	b.write(fmt.Sprintf("BDAT %d LAST\r\n%s", 39<<10, strings.Repeat(line, 39)))
	b.expectText(452, "4.3.1 ")
	b.cmd("BDAT 0 LAST", 503) // the transaction is over
	a.cmd("BDAT 0 LAST", 250)
	a.cmd("QUIT", 221)
	b.cmd("QUIT", 221)
	b.expectClosed()
	srv.Close()
	if srv.buffered.Load() != 0 {
		t.Errorf("%d bytes still counted after every session ended", srv.buffered.Load())
	}
	if !strings.Contains(logBuf.String(), "buffer full: the sessions hold") {
		t.Fatalf("refusal not logged:\n%s", logBuf.String())
	}
}

// startLimited runs a sandbox with lower connection limits.
func startLimited(t *testing.T, lim limits) *Server {
	t.Helper()
	logBuf := &syncBuffer{}
	srv, err := New(Config{Log: logBuf, ReadTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv.lim = lim
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logBuf.String())
		}
	})
	return srv
}

// closedWithin asserts the server closes c, having sent nothing, within d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, err := c.Read(make([]byte, 1))
	if isTimeout(err) {
		t.Fatalf("%s: still open after %v", what, d)
	}
	if n > 0 {
		t.Fatalf("%s: the server sent data", what)
	}
}

// Issue 12 finding 5 (J5): connections to the implicit-TLS listener count
// from accept, not after the handshake. Past the cap they are answered (or
// dropped) at once instead of holding a descriptor for ReadTimeout, and a
// session's handshake has its own short deadline.
func TestImplicitTLSCountsAtAccept(t *testing.T) {
	srv := startLimited(t, limits{sessions: 2, busy: 1, busyTimeout: 300 * time.Millisecond, handshake: 2 * time.Second})
	silent := func() net.Conn {
		nc, err := net.DialTimeout("tcp", srv.TLSAddr(), ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	held := []net.Conn{silent(), silent()} // two sessions waiting for a ClientHello
	waitConns(t, srv, 2)
	busy := silent() // past the cap: the 421 needs a handshake, which never comes
	waitConns(t, srv, 3)
	over := silent() // past cap and busy allowance: closed at accept
	closedWithin(t, over, time.Second, "a connection past every limit")
	closedWithin(t, busy, ioTimeout, "a silent connection past the session cap")
	waitConns(t, srv, 2)

	// A TLS client past the cap is told 421 inside TLS.
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", srv.TLSAddr(), trusting(t, srv, "localhost"))
	if err != nil {
		t.Fatalf("TLS dial past the cap: %v", err)
	}
	_ = tc.SetReadDeadline(time.Now().Add(ioTimeout))
	if l, _ := bufio.NewReader(tc).ReadString('\n'); !strings.HasPrefix(l, "421 ") {
		t.Fatalf("past the cap over TLS: %q, want a 421", l)
	}
	tc.Close()
	waitConns(t, srv, 2)
	// The plain listener is busy too, and says so at once.
	p := dial(t, "tcp", srv.Addr())
	p.expect(421)

	// The silent sessions lose their slots at the handshake deadline, not
	// at ReadTimeout (a minute here), and the server is free again.
	for _, nc := range held {
		closedWithin(t, nc, ioTimeout, "a session that never sent a ClientHello")
	}
	waitConns(t, srv, 0)
	connect(t, srv).cmd("QUIT", 221)
}

func waitConns(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		srv.mu.Lock()
		got := len(srv.conns)
		srv.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d connections, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Issue 12 finding 13 (J13): wrong credentials end the session after
// maxAuthFailures, with 421, as Postfix's smtpd_hard_error_limit does.
func TestAuthFailuresEndTheSession(t *testing.T) {
	srv, logBuf := start(t, Config{AllowInsecureAuth: true})
	c := connect(t, srv)
	c.ehlo()
	for i := 1; i < maxAuthFailures; i++ {
		c.cmdText("AUTH PLAIN "+b64("\x00alice\x00guess"), 535, "5.7.8 ")
	}
	c.cmd("AUTH LOGIN", 334)
	c.cmd(b64("alice"), 334)
	c.cmdText(b64("guess"), 535, "5.7.8 ")
	c.expectText(421, "4.7.0 ")
	c.expectClosed()
	// A new session starts with a clean slate.
	d := connect(t, srv)
	d.ehlo()
	d.cmdText("AUTH PLAIN "+b64("\x00alice\x00alicepw"), 235, "2.7.0 ")
	srv.Close()
	if !strings.Contains(logBuf.String(), "closed: too many failed AUTH attempts") {
		t.Fatalf("log:\n%s", logBuf.String())
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "64M": 64 << 20, "64MiB": 64 << 20, "10k": 10 << 10, "2G": 2 << 30, "1024": 1024} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "M", "1T", "1.5M", "99999999999G"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

// dialFrom connects to addr from the loopback address src and reads the
// first reply, so that a test can be several clients.
func dialFrom(t *testing.T, src, addr string) (*client, reply) {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	return c, c.readReply()
}

// One client address holds at most perClient sessions, so no one host can
// take every session a room needs; the next connection from it is told
// 421, as Postfix's smtpd_client_connection_count_limit tells it,
// while another address still gets in, and a session that ends frees its
// place. (Loopback counts here; outside tests it is exempt.)
func TestSessionsPerClient(t *testing.T) {
	srv := startLimited(t, limits{sessions: 8, busy: 2, busyTimeout: time.Second, handshake: 2 * time.Second,
		perClient: 2, countLoopback: true})
	first, r := dialFrom(t, "127.0.0.1", srv.Addr())
	if r.code != 220 {
		t.Fatalf("first session: %d %s", r.code, r.text())
	}
	if _, r = dialFrom(t, "127.0.0.1", srv.Addr()); r.code != 220 {
		t.Fatalf("second session: %d %s", r.code, r.text())
	}
	third, r := dialFrom(t, "127.0.0.1", srv.Addr())
	if want := "sandbox.ehlo.test Error: too many connections from 127.0.0.1"; r.code != 421 || r.text() != want {
		t.Fatalf("third session from the same address: %d %q, want 421 %q", r.code, r.text(), want)
	}
	third.expectClosed()
	if _, r = dialFrom(t, "127.0.0.2", srv.Addr()); r.code != 220 {
		t.Fatalf("another address: %d %s, want 220", r.code, r.text())
	}
	first.cmd("QUIT", 221)
	first.expectClosed()
	waitConns(t, srv, 2)
	if _, r = dialFrom(t, "127.0.0.1", srv.Addr()); r.code != 220 {
		t.Fatalf("after a session ended: %d %s, want 220", r.code, r.text())
	}
}

// Loopback is the machine's own users, tests and benchmarks (smtp-source
// opens hundreds of sessions): by default it is not counted.
func TestSessionsPerClientSparesLoopback(t *testing.T) {
	srv := startLimited(t, limits{sessions: 8, busy: 2, busyTimeout: time.Second, handshake: 2 * time.Second,
		perClient: 1})
	for i := range 3 {
		if _, r := dialFrom(t, "127.0.0.1", srv.Addr()); r.code != 220 {
			t.Fatalf("session %d from loopback: %d %s, want 220", i+1, r.code, r.text())
		}
	}
	if srv.perClient == nil || len(srv.perClient) != 0 {
		t.Fatalf("loopback counted: %v", srv.perClient)
	}
}

func TestSessionsPerClientDefault(t *testing.T) {
	for _, tc := range []struct{ sessions, perClient, want int }{{0, 0, 128}, {10, 0, 5}, {1, 0, 1}, {10, 3, 3}} {
		cfg, err := Config{MaxSessions: tc.sessions, MaxSessionsPerClient: tc.perClient}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MaxSessionsPerClient != tc.want {
			t.Errorf("MaxSessions %d, MaxSessionsPerClient %d: got %d per client, want %d",
				tc.sessions, tc.perClient, cfg.MaxSessionsPerClient, tc.want)
		}
	}
}

package sandbox

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// socketPath returns a short path: sun_path holds about 100 bytes, and
// t.TempDir's names can be longer.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sbx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "lmtp.sock")
}

func TestLMTPOverUnixSocket(t *testing.T) {
	path := socketPath(t)
	srv, _ := start(t, Config{LMTP: true, Socket: path, Listen: "-", TLSListen: "-"})
	if srv.SocketPath() != path || srv.Addr() != "" || srv.TLSAddr() != "" {
		t.Fatalf("addresses %q %q %q", srv.SocketPath(), srv.Addr(), srv.TLSAddr())
	}
	c := dial(t, "unix", path)
	if g := c.expect(220); g.raw != "220 sandbox.ehlo.test LMTP ehlo sandbox\r\n" {
		t.Fatalf("greeting %q", g.raw)
	}
	// RFC 2033 §4.1: LHLO only.
	c.cmdText("EHLO client.test", 500, "This is an LMTP server")
	c.cmdText("HELO client.test", 500, "This is an LMTP server")
	c.cmdText("MAIL FROM:<a@x.test>", 503, "Send LHLO first")
	r := c.cmd("LHLO client.test", 250)
	if !strings.Contains(r.text(), "PIPELINING") || !strings.Contains(r.text(), "ENHANCEDSTATUSCODES") {
		t.Fatalf("LHLO reply %q", r.raw)
	}
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<ok@x.test>", 250)
	c.cmd("RCPT TO:<full@x.test>", 250) // accepted now, fails at delivery
	c.cmd("DATA", 354)
	c.write("Subject: lmtp\r\n\r\nhi\r\n.\r\n")
	// One reply per accepted recipient, in RCPT order (RFC 2033 §4.2).
	c.expectText(250, "2.0.0 <ok@x.test> ")
	c.expectText(452, "4.2.2 <full@x.test> Mailbox full")
	c.cmd("NOOP", 250)
	m := srv.Mailbox().Messages()
	if len(m) != 1 || strings.Join(m[0].To, ",") != "ok@x.test" || string(m[0].Data) != "Subject: lmtp\r\n\r\nhi\r\n" {
		t.Fatalf("mailbox %+v", m)
	}
	// The envelope keeps the reply that decided each delivery.
	if r := m[0].Rcpts; len(r) != 2 || r[0] != (Recipient{"ok@x.test", 250, "2.1.5 Ok"}) ||
		r[1] != (Recipient{"full@x.test", 452, "4.2.2 <full@x.test> Mailbox full"}) {
		t.Errorf("Rcpts %+v", r)
	}
	// BDAT LAST also answers per recipient.
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<full@x.test>", 250)
	c.cmd("RCPT TO:<two@x.test>", 250)
	c.write("BDAT 2 LAST\r\nhi")
	c.expectText(452, "4.2.2 <full@x.test>")
	c.expectText(250, "2.0.0 <two@x.test>")
	c.cmd("QUIT", 221)
	c.expectClosed()
	if srv.Mailbox().Len() != 2 {
		t.Fatalf("mailbox has %d messages", srv.Mailbox().Len())
	}
}

func TestLMTPAllRecipientsFullStoresNothing(t *testing.T) {
	srv, _ := start(t, Config{LMTP: true})
	c := connect(t, srv)
	c.cmd("LHLO client.test", 250)
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<full@x.test>", 250)
	c.cmd("DATA", 354)
	c.write("x\r\n.\r\n")
	c.expect(452)
	if srv.Mailbox().Len() != 0 {
		t.Fatal("message stored for a full mailbox")
	}
}

func TestLMTPSizeLimitPerRecipient(t *testing.T) {
	srv, _ := start(t, Config{LMTP: true, MaxMessageBytes: 4})
	c := connect(t, srv)
	c.cmd("LHLO client.test", 250)
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<a@x.test>", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmd("DATA", 354)
	c.write("too long\r\n.\r\n")
	c.expectText(552, "5.3.4 <a@x.test>")
	c.expectText(552, "5.3.4 <b@x.test>")
}

func TestSocketHousekeeping(t *testing.T) {
	path := socketPath(t)
	srv, _ := start(t, Config{Socket: path})
	// A live socket is not taken over.
	if s2, err := New(Config{Socket: path}); err == nil {
		s2.Close()
		t.Fatal("second server took over a live socket")
	}
	srv.Close()
	// A stale socket file (server killed) is replaced.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	srv3, _ := start(t, Config{Socket: path})
	c := dial(t, "unix", srv3.SocketPath())
	c.expect(220)
	// A regular file is never removed.
	file := filepath.Join(filepath.Dir(path), "file")
	if err := os.WriteFile(file, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s4, err := New(Config{Socket: file}); err == nil {
		s4.Close()
		t.Fatal("regular file replaced by a socket")
	}
}

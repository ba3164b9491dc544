package sandbox

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ioTimeout bounds every read a test makes; nothing legitimate takes
// close to it, so hitting it means the server hung.
const ioTimeout = 5 * time.Second

// syncBuffer collects the server log; it is printed when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a sandbox for one test, on loopback, and closes it at the
// end. The server log goes to the test log if the test fails.
func start(t testing.TB, cfg Config) (*Server, *syncBuffer) {
	t.Helper()
	logBuf := &syncBuffer{}
	if cfg.Log == nil {
		cfg.Log = logBuf
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logBuf.String())
		}
	})
	return srv, logBuf
}

func faults(t testing.TB, specs ...string) []Fault {
	t.Helper()
	var out []Fault
	for _, s := range specs {
		f, err := ParseFault(s)
		if err != nil {
			t.Fatalf("ParseFault(%q): %v", s, err)
		}
		out = append(out, f)
	}
	return out
}

// client is a deliberately small raw SMTP client, written here and not
// taken from the protocol package: the sandbox and ehlo's client must not
// share code, or they would share their mistakes.
type client struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

type reply struct {
	code  int
	lines []string // text after "NNN-" / "NNN "
	raw   string   // the bytes as received
}

func (r reply) text() string { return strings.Join(r.lines, "\n") }

func dial(t testing.TB, network, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// connect dials the plain listener and reads the 220 greeting.
func connect(t testing.TB, srv *Server) *client {
	t.Helper()
	c := dial(t, "tcp", srv.Addr())
	c.expect(220)
	return c
}

func (c *client) write(s string) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

func (c *client) send(line string) { c.t.Helper(); c.write(line + "\r\n") }

// readLine returns one raw line including its terminator.
func (c *client) readLine() (string, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	return c.r.ReadString('\n')
}

// readReply reads one complete (possibly multi-line) reply and checks the
// RFC 5321 §4.2 grammar, so a server bug in reply formatting fails here.
func (c *client) readReply() reply {
	c.t.Helper()
	var r reply
	for {
		line, err := c.readLine()
		r.raw += line
		if err != nil {
			c.t.Fatalf("reading reply (so far %q): %v", r.raw, err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			c.t.Fatalf("reply line not CRLF-terminated: %q", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if len(line) < 4 || (line[3] != ' ' && line[3] != '-') {
			c.t.Fatalf("malformed reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 200 || code > 599 {
			c.t.Fatalf("bad reply code in %q", line)
		}
		if r.code != 0 && code != r.code {
			c.t.Fatalf("inconsistent codes in multi-line reply %q", r.raw)
		}
		r.code = code
		r.lines = append(r.lines, line[4:])
		if line[3] == ' ' {
			return r
		}
	}
}

func (c *client) expect(code int) reply {
	c.t.Helper()
	r := c.readReply()
	if r.code != code {
		c.t.Fatalf("got %q, want code %d", r.raw, code)
	}
	return r
}

// expectText checks the code and that the first line starts with the
// enhanced code (or text) prefix.
func (c *client) expectText(code int, prefix string) reply {
	c.t.Helper()
	r := c.expect(code)
	if !strings.HasPrefix(r.lines[0], prefix) {
		c.t.Fatalf("got %q, want %d %s…", r.raw, code, prefix)
	}
	return r
}

func (c *client) cmd(line string, code int) reply {
	c.t.Helper()
	c.send(line)
	return c.expect(code)
}

func (c *client) cmdText(line string, code int, prefix string) reply {
	c.t.Helper()
	c.send(line)
	return c.expectText(code, prefix)
}

func (c *client) ehlo() reply {
	c.t.Helper()
	return c.cmd("EHLO client.test", 250)
}

// expectClosed asserts the server closed the connection without sending
// anything more.
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	b, err := c.r.ReadByte()
	if err == nil {
		rest, _ := c.r.Peek(c.r.Buffered())
		c.t.Fatalf("expected close, got %q", string(b)+string(rest))
	}
	if isTimeout(err) {
		c.t.Fatalf("expected close, connection still open after %v", ioTimeout)
	}
}

// startTLS upgrades after a 220; the client trusts exactly the sandbox's
// certificate.
func (c *client) startTLS(srv *Server, serverName string) *tls.ConnectionState {
	c.t.Helper()
	c.cmd("STARTTLS", 220)
	if n := c.r.Buffered(); n != 0 {
		c.t.Fatalf("%d unexpected bytes after 220", n)
	}
	tc := tls.Client(c.nc, trusting(c.t, srv, serverName))
	_ = tc.SetDeadline(time.Now().Add(ioTimeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.nc = tc
	c.r = bufio.NewReader(tc)
	st := tc.ConnectionState()
	return &st
}

func trusting(t testing.TB, srv *Server, serverName string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CertPEM()) {
		t.Fatal("CertPEM holds no certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// sendMessage runs one transaction and returns the final reply.
func (c *client) sendMessage(from string, to []string, body string) reply {
	c.t.Helper()
	c.cmd("MAIL FROM:<"+from+">", 250)
	for _, r := range to {
		c.cmd("RCPT TO:<"+r+">", 250)
	}
	c.cmd("DATA", 354)
	c.write(body + ".\r\n")
	return c.expect(250)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// TB is the part of testing.TB the server reports to.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Timeouts that only matter when a test is broken: a script may run for
// ScriptTimeout (SendForever for twice that), and when the test ends the
// server waits StopTimeout for the client to close before failing it.
const (
	ScriptTimeout = 10 * time.Second
	StopTimeout   = 5 * time.Second
)

// Server is a running scripted server.
type Server struct {
	t       TB
	ln      net.Listener
	addr    string
	port    int
	scripts [][]Step

	mu       sync.Mutex
	conns    []*Conn
	stopping bool
	wg       sync.WaitGroup
	accepted chan *Conn
}

// NewServer starts a TCP server on 127.0.0.1:0 that plays scripts[i] on
// the i-th connection. It stops when the test ends; cleanups registered
// after it (a client's Close) run first, so it sees the client close.
func NewServer(t TB, scripts ...[]Step) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	return start(t, ln, scripts)
}

// NewUnixServer is NewServer on a Unix socket in a new temporary
// directory (LMTP).
func NewUnixServer(t TB, scripts ...[]Step) *Server {
	t.Helper()
	// Socket paths are limited to about 104 bytes: t.TempDir can be too long.
	dir, err := os.MkdirTemp("", "smtptest")
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "lmtp.sock"))
	if err != nil {
		t.Fatalf("smtptest: listen unix: %v", err)
	}
	return start(t, ln, scripts)
}

func start(t TB, ln net.Listener, scripts [][]Step) *Server {
	s := &Server{t: t, ln: ln, scripts: scripts, accepted: make(chan *Conn, 16)}
	if ta, ok := ln.Addr().(*net.TCPAddr); ok {
		s.addr, s.port = ta.IP.String(), ta.Port
	} else {
		s.addr = ln.Addr().String()
	}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.stop)
	return s
}

// Host is what a client dials: the IP address, or the socket path.
func (s *Server) Host() string { return s.addr }

// Port is the TCP port, 0 for a Unix socket.
func (s *Server) Port() int { return s.port }

// Addr is "host:port", or the socket path.
func (s *Server) Addr() string {
	if s.port == 0 {
		return s.addr
	}
	return net.JoinHostPort(s.addr, fmt.Sprint(s.port))
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for i := 0; ; i++ {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		sc := &Conn{srv: s, idx: i, raw: c, conn: c, done: make(chan struct{})}
		s.mu.Lock()
		s.conns = append(s.conns, sc)
		s.mu.Unlock()
		select {
		case s.accepted <- sc:
		default: // nobody is waiting in Conn: it finds it in s.conns
		}
		if i >= len(s.scripts) {
			s.errorf("unexpected connection #%d (the test scripted %d)", i+1, len(s.scripts))
			c.Close()
			close(sc.done)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer close(sc.done)
			defer c.Close()
			sc.run(s.scripts[sc.idx])
		}()
	}
}

func (s *Server) errorf(format string, args ...any) {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if !stopping {
		s.t.Errorf("scripted server: "+format, args...)
	}
}

// stop waits (bounded) for the scripts to finish, which they do once the
// client closes, then tears everything down.
func (s *Server) stop() {
	done := make(chan struct{})
	go func() {
		s.mu.Lock()
		conns := append([]*Conn(nil), s.conns...)
		s.mu.Unlock()
		for _, c := range conns {
			<-c.done
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(StopTimeout):
		s.t.Errorf("scripted server: connection still open %s after the test ended (client not closed?)", StopTimeout)
	}
	s.mu.Lock()
	s.stopping = true
	for _, c := range s.conns {
		c.raw.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// Conn returns the i-th accepted connection (from 0), waiting for it
// briefly.
func (s *Server) Conn(i int) *Conn {
	s.t.Helper()
	deadline := time.After(StopTimeout)
	for {
		s.mu.Lock()
		if i < len(s.conns) {
			c := s.conns[i]
			s.mu.Unlock()
			return c
		}
		s.mu.Unlock()
		select {
		case <-s.accepted:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			s.t.Fatalf("scripted server: no connection #%d", i+1)
		}
	}
}

// Wait blocks until connection i's script has finished (the client closed
// or the script hung up) and returns it, so its recording is complete.
func (s *Server) Wait(i int) *Conn {
	s.t.Helper()
	c := s.Conn(i)
	select {
	case <-c.done:
	case <-time.After(StopTimeout):
		s.t.Fatalf("scripted server: connection #%d did not finish", i+1)
	}
	return c
}

// NumConns is how many connections were accepted so far.
func (s *Server) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Conn is one accepted connection and what the client sent on it.
type Conn struct {
	srv  *Server
	idx  int
	raw  net.Conn
	conn net.Conn // raw, or TLS over it

	mu      sync.Mutex
	all     bytes.Buffer // every client byte, plaintext and decrypted TLS
	plain   bytes.Buffer // client bytes before TLS (application data only)
	inTLS   bytes.Buffer // client bytes inside TLS (decrypted)
	rawRead bytes.Buffer // bytes read with ReadRaw
	tlsOn   bool
	sni     string // the server name the client sent in its ClientHello
	done    chan struct{}
}

func (sc *Conn) record(b []byte) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.all.Write(b)
	if sc.tlsOn {
		sc.inTLS.Write(b)
	} else {
		sc.plain.Write(b)
	}
}

// All returns every byte the client sent (TLS payload decrypted).
func (sc *Conn) All() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.all.String()
}

// Plain returns the client's bytes before TLS.
func (sc *Conn) Plain() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.plain.String()
}

// InTLS returns the client's bytes inside TLS, decrypted.
func (sc *Conn) InTLS() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.inTLS.String()
}

// RawRead returns the bytes ReadRaw steps read.
func (sc *Conn) RawRead() []byte {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]byte(nil), sc.rawRead.Bytes()...)
}

// SNI returns the server name the client asked for in TLS.
func (sc *Conn) SNI() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.sni
}

// NetConn is the accepted connection itself, under any TLS.
func (sc *Conn) NetConn() net.Conn { return sc.raw }

// Handshake runs a TLS server handshake with cfg on the connection and,
// when it succeeds, carries on inside TLS. For a Do step that needs a
// configuration of its own (versions, client certificates); StartTLS is
// the usual way.
func (sc *Conn) Handshake(cfg *tls.Config) error {
	cfg = cfg.Clone()
	get := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sc.mu.Lock()
		sc.sni = h.ServerName
		sc.mu.Unlock()
		if get != nil {
			return get(h)
		}
		return nil, nil
	}
	tc := tls.Server(sc.raw, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	sc.mu.Lock()
	sc.conn, sc.tlsOn = tc, true
	sc.mu.Unlock()
	return nil
}

// readByte reads one byte and records it.
func (sc *Conn) readByte() (byte, error) {
	var b [1]byte
	for {
		n, err := sc.conn.Read(b[:])
		if n == 1 {
			sc.record(b[:])
			return b[0], nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// ReadLine reads one line, recorded, up to and including its LF; it reads
// byte by byte, so that nothing after the line is consumed before a
// switch to TLS.
func (sc *Conn) ReadLine() ([]byte, error) {
	var line []byte
	for {
		b, err := sc.readByte()
		if err != nil {
			return line, err
		}
		line = append(line, b)
		if b == '\n' {
			return line, nil
		}
	}
}

// ReadFull reads exactly n bytes, recorded.
func (sc *Conn) ReadFull(n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := io.ReadFull(sc.conn, buf)
	sc.record(buf[:got])
	return buf[:got], err
}

// Write sends b in one Write.
func (sc *Conn) Write(b []byte) error {
	_, err := sc.conn.Write(b)
	return err
}

// readRest reads and records everything until EOF or an error.
func (sc *Conn) readRest() ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := sc.conn.Read(buf)
		if n > 0 {
			sc.record(buf[:n])
			out = append(out, buf[:n]...)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
}

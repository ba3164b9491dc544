package protocol_test

// The scripted in-process server every protocol test drives, in the style of
// security-anchors §5 (Dovecot's test-smtp-client-errors, EAST's
// fake-mail-server): it listens on 127.0.0.1:0, or on a Unix socket for
// LMTP, and runs one list of steps per accepted connection.
//
//   - expect: read one client line and compare it byte for byte with what
//     the test says, CRLF included; a difference fails the test with both
//     sides quoted.
//   - send: write exact bytes in ONE Write, so that replies meant to share
//     a TCP segment (injection after STARTTLS's 220) do.
//   - sleep, drip (one byte at a time), close, reset (RST), sendForever.
//   - startTLS: switch to TLS with a chosen certificate (self-signed,
//     expired, wrong host, CA-signed; generated in memory with
//     crypto/x509), or expect the client to reject it.
//   - expectData: read a DATA payload up to CRLF.CRLF and compare it.
//   - readRaw: read bytes without interpreting them (a ClientHello).
//
// Everything the client sends is recorded, before and inside TLS, so a test
// can assert the whole stream ("no AUTH bytes"). When the steps run out the
// server keeps reading until the client closes: any byte it gets then is a
// test failure ("expect nothing more"), unless the script ended with close,
// reset, anything or a TLS failure.
//
// No test relies on a sleep for correctness: ordering comes from the
// steps (the server answers only after reading the client's line), and
// timeout cases use short client timeouts.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// stepKind is what one script step does.
type stepKind int

const (
	stExpect      stepKind = iota // read one line, compare with data
	stExpectRaw                   // read len(data) bytes, compare
	stExpectData                  // read up to and including "\r\n.\r\n", compare
	stSend                        // one Write of data
	stSleep                       // sleep dur
	stDrip                        // write data one byte at a time, dur apart
	stSendForever                 // write data again and again until the client goes
	stClose                       // close the connection
	stReset                       // close with RST
	stTLS                         // TLS server handshake with cert; must succeed
	stTLSFail                     // TLS server handshake with cert; client must refuse
	stReadRaw                     // read n raw bytes, uninterpreted
	stExpectEOF                   // the client must close without sending anything
	stAnything                    // read and record whatever comes until EOF
	stFunc                        // run fn
)

type step struct {
	kind stepKind
	data []byte
	dur  time.Duration
	n    int
	cert *tls.Certificate
	fn   func(sc *serverConn) error
	note string
}

func (s step) String() string {
	switch s.kind {
	case stExpect:
		return fmt.Sprintf("expect %q", s.data)
	case stExpectRaw:
		return fmt.Sprintf("expectRaw %q", s.data)
	case stExpectData:
		return fmt.Sprintf("expectData %q", s.data)
	case stSend:
		return fmt.Sprintf("send %q", clip(s.data, 80))
	case stSleep:
		return fmt.Sprintf("sleep %s", s.dur)
	case stDrip:
		return fmt.Sprintf("drip %q", s.data)
	case stSendForever:
		return fmt.Sprintf("sendForever %q", s.data)
	case stClose:
		return "close"
	case stReset:
		return "reset"
	case stTLS:
		return "startTLS"
	case stTLSFail:
		return "startTLS (client must refuse)"
	case stReadRaw:
		return fmt.Sprintf("readRaw %d", s.n)
	case stExpectEOF:
		return "expectEOF"
	case stAnything:
		return "anything"
	case stFunc:
		return "func " + s.note
	}
	return "?"
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return append(append([]byte(nil), b[:n]...), "…"...)
	}
	return b
}

// C expects the client line l followed by CRLF, exactly.
func C(l string) step { return step{kind: stExpect, data: []byte(l + "\r\n")} }

// CRaw expects exactly these bytes.
func CRaw(b string) step { return step{kind: stExpectRaw, data: []byte(b)} }

// CData expects a whole DATA payload, terminator included.
func CData(payload string) step { return step{kind: stExpectData, data: []byte(payload)} }

// S sends the reply lines, each followed by CRLF, in one Write.
func S(lines ...string) step {
	return step{kind: stSend, data: []byte(strings.Join(lines, "\r\n") + "\r\n")}
}

// SRaw sends exactly these bytes in one Write.
func SRaw(b string) step { return step{kind: stSend, data: []byte(b)} }

// Sleep pauses the script (used to shape timing, never for correctness).
func Sleep(d time.Duration) step { return step{kind: stSleep, dur: d} }

// Drip writes b one byte at a time, every d.
func Drip(b string, d time.Duration) step { return step{kind: stDrip, data: []byte(b), dur: d} }

// SendForever writes b repeatedly until the client closes.
func SendForever(b string) step { return step{kind: stSendForever, data: []byte(b)} }

// Close hangs up (FIN). Nothing the client sends afterwards is checked.
func Close() step { return step{kind: stClose} }

// Reset hangs up with RST.
func Reset() step { return step{kind: stReset} }

// StartTLS switches the connection to TLS with cert; the handshake must succeed.
func StartTLS(cert tls.Certificate) step { return step{kind: stTLS, cert: &cert} }

// TLSRefused runs a TLS handshake with cert that the client must refuse.
func TLSRefused(cert tls.Certificate) step { return step{kind: stTLSFail, cert: &cert} }

// ReadRaw reads n bytes without looking at them (a TLS record header).
func ReadRaw(n int) step { return step{kind: stReadRaw, n: n} }

// ExpectEOF requires the client to close without sending anything more.
func ExpectEOF() step { return step{kind: stExpectEOF} }

// Anything records whatever the client sends until it closes.
func Anything() step { return step{kind: stAnything} }

// Do runs fn as a step.
func Do(note string, fn func(sc *serverConn) error) step {
	return step{kind: stFunc, fn: fn, note: note}
}

// serverConn is one accepted connection and what the client sent on it.
type serverConn struct {
	srv  *scriptServer
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
	extra   bytes.Buffer
	done    chan struct{}
}

func (sc *serverConn) record(b []byte) {
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
func (sc *serverConn) All() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.all.String()
}

// Plain returns the client's bytes before TLS.
func (sc *serverConn) Plain() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.plain.String()
}

// InTLS returns the client's bytes inside TLS, decrypted.
func (sc *serverConn) InTLS() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.inTLS.String()
}

// SNI returns the server name the client asked for in TLS.
func (sc *serverConn) SNI() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.sni
}

// readByte reads one byte and records it.
func (sc *serverConn) readByte() (byte, error) {
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

// readLine reads up to and including '\n' (unbuffered, so that nothing
// after the line is consumed before a TLS switch).
func (sc *serverConn) readLine() ([]byte, error) {
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

// ReadFull reads exactly n bytes (recorded).
func (sc *serverConn) ReadFull(n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := io.ReadFull(sc.conn, buf)
	sc.record(buf[:got])
	return buf[:got], err
}

// Write sends b in one Write.
func (sc *serverConn) Write(b []byte) error {
	_, err := sc.conn.Write(b)
	return err
}

type scriptServer struct {
	t       testing.TB
	ln      net.Listener
	network string
	addr    string // "127.0.0.1:port" or the socket path
	port    int
	scripts [][]step

	mu       sync.Mutex
	conns    []*serverConn
	stopping bool
	wg       sync.WaitGroup
	accepted chan *serverConn
}

// newServer starts a TCP server on 127.0.0.1:0 that runs scripts[i] on the
// i-th connection. It is stopped when the test ends, after the clients
// registered later (dial) have been closed.
func newServer(t testing.TB, scripts ...[]step) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return startServer(t, ln, scripts)
}

// newUnixServer is newServer on a Unix socket (LMTP).
func newUnixServer(t testing.TB, scripts ...[]step) *scriptServer {
	t.Helper()
	// Socket paths are limited to ~104 bytes: t.TempDir can be too long.
	dir, err := os.MkdirTemp("", "ehlo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "lmtp.sock"))
	if err != nil {
		t.Fatalf("listen unix: %v", err)
	}
	return startServer(t, ln, scripts)
}

func startServer(t testing.TB, ln net.Listener, scripts [][]step) *scriptServer {
	s := &scriptServer{t: t, ln: ln, network: ln.Addr().Network(), scripts: scripts, accepted: make(chan *serverConn, 16)}
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

func (s *scriptServer) acceptLoop() {
	defer s.wg.Done()
	for i := 0; ; i++ {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		sc := &serverConn{srv: s, idx: i, raw: c, conn: c, done: make(chan struct{})}
		s.mu.Lock()
		s.conns = append(s.conns, sc)
		s.mu.Unlock()
		s.accepted <- sc
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

func (s *scriptServer) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

func (s *scriptServer) errorf(format string, args ...any) {
	if s.isStopping() {
		return
	}
	s.t.Errorf("scripted server: "+format, args...)
}

// stop waits (bounded) for the scripts to finish, which they do once the
// client closes, then tears everything down.
func (s *scriptServer) stop() {
	done := make(chan struct{})
	go func() {
		s.mu.Lock()
		conns := append([]*serverConn(nil), s.conns...)
		s.mu.Unlock()
		for _, c := range conns {
			<-c.done
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.t.Errorf("scripted server: connection still open 5s after the test ended (client not closed?)")
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

// Conn returns the i-th accepted connection, waiting for it briefly.
func (s *scriptServer) Conn(i int) *serverConn {
	s.t.Helper()
	deadline := time.After(5 * time.Second)
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
		case <-deadline:
			s.t.Fatalf("scripted server: no connection #%d", i+1)
		}
	}
}

// Wait blocks until connection i's script has finished (the client closed
// or the script hung up) and returns it, so its recording is complete.
func (s *scriptServer) Wait(i int) *serverConn {
	s.t.Helper()
	c := s.Conn(i)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		s.t.Fatalf("scripted server: connection #%d did not finish", i+1)
	}
	return c
}

// After closes the client and returns connection 0 once its script has
// seen the EOF, so that its recording is complete.
func (s *scriptServer) After(c *protocol.Client) *serverConn {
	s.t.Helper()
	c.Close()
	return s.Wait(0)
}

// NumConns is how many connections were accepted so far.
func (s *scriptServer) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (sc *serverConn) fail(i int, st step, format string, args ...any) {
	sc.srv.errorf("conn #%d step %d (%s): %s", sc.idx+1, i+1, st, fmt.Sprintf(format, args...))
}

func (sc *serverConn) run(steps []step) {
	_ = sc.raw.SetDeadline(time.Now().Add(10 * time.Second))
	for i, st := range steps {
		switch st.kind {
		case stExpect:
			got, err := sc.readLine()
			if err != nil {
				sc.fail(i, st, "client sent %q then: %v", got, err)
				return
			}
			if !bytes.Equal(got, st.data) {
				sc.fail(i, st, "client line differs\n  want: %q\n  got:  %q", st.data, got)
				return
			}
		case stExpectRaw:
			got, err := sc.ReadFull(len(st.data))
			if err != nil || !bytes.Equal(got, st.data) {
				sc.fail(i, st, "client bytes differ\n  want: %q\n  got:  %q (%v)", st.data, got, err)
				return
			}
		case stExpectData:
			var got []byte
			for !bytes.HasSuffix(got, []byte("\r\n.\r\n")) && !(len(got) == 3 && string(got) == ".\r\n") {
				b, err := sc.readByte()
				if err != nil {
					sc.fail(i, st, "DATA payload cut short after %q: %v", clip(got, 200), err)
					return
				}
				got = append(got, b)
				if len(got) > len(st.data)+(1<<20) {
					sc.fail(i, st, "DATA payload runs on: %q", clip(got, 200))
					return
				}
			}
			if !bytes.Equal(got, st.data) {
				sc.fail(i, st, "DATA payload differs\n  want: %q\n  got:  %q", st.data, got)
				return
			}
		case stSend:
			if err := sc.Write(st.data); err != nil {
				sc.fail(i, st, "write: %v", err)
				return
			}
		case stSleep:
			time.Sleep(st.dur)
		case stDrip:
			for _, b := range st.data {
				if _, err := sc.conn.Write([]byte{b}); err != nil {
					return // the client gave up: that is what drip tests want
				}
				time.Sleep(st.dur)
			}
		case stSendForever:
			_ = sc.raw.SetDeadline(time.Now().Add(20 * time.Second))
			for {
				if _, err := sc.conn.Write(st.data); err != nil {
					return
				}
			}
		case stClose:
			return
		case stReset:
			if tc, ok := sc.raw.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			return
		case stTLS, stTLSFail:
			cfg := &tls.Config{
				Certificates: []tls.Certificate{*st.cert},
				GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
					sc.mu.Lock()
					sc.sni = h.ServerName
					sc.mu.Unlock()
					return nil, nil
				},
			}
			tc := tls.Server(sc.raw, cfg)
			err := tc.Handshake()
			if st.kind == stTLSFail {
				if err == nil {
					sc.fail(i, st, "the client accepted a certificate it must refuse")
				}
				// Nothing may follow a refused handshake: not even QUIT.
				rest, _ := io.ReadAll(sc.raw)
				if len(rest) > 0 && rest[0] != 0x15 { // an alert record is fine
					sc.fail(i, st, "client sent %q after refusing the certificate", clip(rest, 60))
				}
				return
			}
			if err != nil {
				sc.fail(i, st, "TLS handshake: %v", err)
				return
			}
			sc.mu.Lock()
			sc.conn, sc.tlsOn = tc, true
			sc.mu.Unlock()
		case stReadRaw:
			buf := make([]byte, st.n)
			n, err := io.ReadFull(sc.raw, buf)
			sc.mu.Lock()
			sc.rawRead.Write(buf[:n])
			sc.mu.Unlock()
			if err != nil {
				sc.fail(i, st, "read raw: %v", err)
				return
			}
		case stExpectEOF:
			rest, _ := sc.readRest()
			if len(rest) > 0 {
				sc.fail(i, st, "client sent %q; it should have sent nothing more", clip(rest, 200))
			}
			return
		case stAnything:
			sc.readRest()
			return
		case stFunc:
			if err := st.fn(sc); err != nil {
				sc.fail(i, st, "%v", err)
				return
			}
		}
	}
	// Script over: the client must send nothing more.
	rest, _ := sc.readRest()
	if len(rest) > 0 {
		sc.mu.Lock()
		sc.extra.Write(rest)
		sc.mu.Unlock()
		sc.srv.errorf("conn #%d: client sent %q after the end of the script", sc.idx+1, clip(rest, 200))
	}
}

// readRest reads and records everything until EOF or an error.
func (sc *serverConn) readRest() ([]byte, error) {
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

// ---------------------------------------------------------------------------
// Clients

// clientOpts are the options every test starts from: the local hostname of
// smtplib-behaviour §23 and a timeout that only matters when a test breaks.
func clientOpts() protocol.Options {
	return protocol.Options{LocalHostname: "c.example", Timeout: 3 * time.Second}
}

type optFn func(*protocol.Options)

func withTimeout(d time.Duration) optFn { return func(o *protocol.Options) { o.Timeout = d } }
func withCleartext() optFn              { return func(o *protocol.Options) { o.AllowCleartextAuth = true } }
func withTracer(tr protocol.Tracer) optFn {
	return func(o *protocol.Options) { o.Tracer = tr }
}
func withTLS(cfg *tls.Config) optFn { return func(o *protocol.Options) { o.TLSConfig = cfg } }
func withHostname(h string) optFn   { return func(o *protocol.Options) { o.LocalHostname = h } }

// dial connects a client of kind to the server and closes it when the test
// ends (before the server stops, so the server sees EOF).
func (s *scriptServer) dial(t testing.TB, kind protocol.Kind, fns ...optFn) (*protocol.Client, protocol.Reply, error) {
	t.Helper()
	o := clientOpts()
	for _, f := range fns {
		f(&o)
	}
	c, r, err := protocol.Dial(kind, s.host(), s.port, o)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, r, err
}

// mustDial dials an SMTP client and requires a 220 greeting.
func (s *scriptServer) mustDial(t testing.TB, fns ...optFn) *protocol.Client {
	t.Helper()
	return s.mustDialKind(t, protocol.SMTP, fns...)
}

func (s *scriptServer) mustDialKind(t testing.TB, kind protocol.Kind, fns ...optFn) *protocol.Client {
	t.Helper()
	c, _, err := s.dial(t, kind, fns...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

// newClient returns an unconnected client with the test options, closed
// when the test ends.
func newClient(t testing.TB, kind protocol.Kind, fns ...optFn) *protocol.Client {
	o := clientOpts()
	for _, f := range fns {
		f(&o)
	}
	c := protocol.NewClient(kind, o)
	t.Cleanup(func() { c.Close() })
	return c
}

// host is what a client dials: the IP address, or the socket path.
func (s *scriptServer) host() string { return s.addr }

// ---------------------------------------------------------------------------
// Tracing

// recorder is a Tracer that keeps a copy of every event.
type recorder struct {
	mu     sync.Mutex
	events []protocol.Event
}

func (r *recorder) Trace(e protocol.Event) {
	e.Data = append([]byte(nil), e.Data...)
	e.Secrets = append([]protocol.Span(nil), e.Secrets...)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) all() []protocol.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]protocol.Event(nil), r.events...)
}

func (r *recorder) of(kind protocol.EventKind) []protocol.Event {
	var out []protocol.Event
	for _, e := range r.all() {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) notes() []string {
	var out []string
	for _, e := range r.of(protocol.EventNote) {
		out = append(out, e.Text)
	}
	return out
}

func (r *recorder) hasNote(sub string) bool {
	for _, n := range r.notes() {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// sent is every client byte the tracer saw, concatenated.
func (r *recorder) sent() string {
	var b strings.Builder
	for _, e := range r.of(protocol.EventSend) {
		b.Write(e.Data)
	}
	return b.String()
}

// received is every server byte the tracer saw as reply lines.
func (r *recorder) received() string {
	var b strings.Builder
	for _, e := range r.of(protocol.EventRecv) {
		b.Write(e.Data)
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Certificates, generated once per test binary.

type testPKI struct {
	ca         *x509.Certificate
	caKey      *ecdsa.PrivateKey
	pool       *x509.CertPool
	good       tls.Certificate // CA-signed: localhost, mail.test, 127.0.0.1, ::1
	selfSigned tls.Certificate // signs itself, same names
	expired    tls.Certificate // CA-signed, NotAfter yesterday
	notYet     tls.Certificate // CA-signed, NotBefore tomorrow
	wrongHost  tls.Certificate // CA-signed, other.test only
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	pkiErr  error
)

func getPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = makePKI() })
	if pkiErr != nil {
		t.Fatalf("generating certificates: %v", pkiErr)
	}
	return pkiVal
}

var serial int64 = 1

func makePKI() (*testPKI, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ehlo test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &testPKI{ca: ca, caKey: caKey, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	names := []string{"localhost", "mail.test"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	if p.good, err = p.leaf("mail.test", names, ips, now.Add(-time.Hour), now.Add(24*time.Hour), false); err != nil {
		return nil, err
	}
	if p.selfSigned, err = p.leaf("mail.test", names, ips, now.Add(-time.Hour), now.Add(24*time.Hour), true); err != nil {
		return nil, err
	}
	if p.expired, err = p.leaf("mail.test", names, ips, now.Add(-48*time.Hour), now.Add(-24*time.Hour), false); err != nil {
		return nil, err
	}
	if p.notYet, err = p.leaf("mail.test", names, ips, now.Add(24*time.Hour), now.Add(48*time.Hour), false); err != nil {
		return nil, err
	}
	if p.wrongHost, err = p.leaf("other.test", []string{"other.test"}, nil, now.Add(-time.Hour), now.Add(24*time.Hour), false); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *testPKI) leaf(cn string, dns []string, ips []net.IP, nb, na time.Time, self bool) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     dns,
		IPAddresses:  ips,
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := p.ca, any(p.caKey)
	if self {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// trusting returns a client TLS config that trusts the test CA.
func (p *testPKI) trusting() *tls.Config { return &tls.Config{RootCAs: p.pool} }

// ---------------------------------------------------------------------------
// Assertion helpers

func wantNoErr(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v (%T)", what, err, err)
	}
}

// wantErrAs asserts err is (or wraps) a *T and returns it.
func wantErrAs[T error](t testing.TB, err error) T {
	t.Helper()
	var target T
	if err == nil {
		t.Fatalf("got no error, want %T", target)
	}
	if !errors.As(err, &target) {
		t.Fatalf("got %T (%v), want %T", err, err, target)
	}
	return target
}

func wantSMTP(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, protocol.ErrSMTP) {
		t.Errorf("errors.Is(%T, ErrSMTP) is false: %v", err, err)
	}
}

func wantReply(t testing.TB, got protocol.Reply, code int, msg string) {
	t.Helper()
	if got.Code != code || got.Message != msg {
		t.Errorf("reply = (%d, %q), want (%d, %q)", got.Code, got.Message, code, msg)
	}
}

func wantClosed(t testing.TB, c *protocol.Client) {
	t.Helper()
	if c.Connected() {
		t.Errorf("client still connected; want the connection closed")
	}
}

func wantOpen(t testing.TB, c *protocol.Client) {
	t.Helper()
	if !c.Connected() {
		t.Errorf("client closed; want the connection open")
	}
}

// greet is the usual opening: 220, the client's EHLO and a 250 reply with
// the given extension lines.
func greet(ext ...string) []step {
	lines := []string{"250-fake.example"}
	if len(ext) == 0 {
		lines = []string{"250 fake.example"}
	}
	for i, e := range ext {
		if i == len(ext)-1 {
			lines = append(lines, "250 "+e)
		} else {
			lines = append(lines, "250-"+e)
		}
	}
	return []step{S("220 fake ESMTP"), C("ehlo c.example"), S(lines...)}
}

// script concatenates step lists.
func script(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// bufReader is an io.Reader that is not an io.Seeker, like stdin: its size
// cannot be known before it is sent.
type bufReader struct{ r io.Reader }

func (b bufReader) Read(p []byte) (int, error) { return b.r.Read(p) }

func streamOf(s string) io.Reader { return bufReader{strings.NewReader(s)} }

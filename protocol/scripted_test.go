package protocol_test

// The scripted in-process server every protocol test drives is
// protocol/smtptest (security-anchors §5, in the style of Dovecot's
// test-smtp-client-errors and EAST's fake-mail-server): one strict script
// per connection, every client byte recorded. This file gives its steps
// the short names the tests use, and adds what ties it to protocol's
// Client: dialling with the test options, and a Tracer that records.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/protocol/smtptest"
)

type (
	step       = smtptest.Step
	serverConn = smtptest.Conn
)

var (
	C           = smtptest.C
	CRaw        = smtptest.CRaw
	CData       = smtptest.CData
	S           = smtptest.S
	SRaw        = smtptest.SRaw
	Sleep       = smtptest.Sleep
	Drip        = smtptest.Drip
	SendForever = smtptest.SendForever
	Close       = smtptest.Close
	Reset       = smtptest.Reset
	StartTLS    = smtptest.StartTLS
	TLSRefused  = smtptest.TLSRefused
	ReadRaw     = smtptest.ReadRaw
	ExpectEOF   = smtptest.ExpectEOF
	Anything    = smtptest.Anything
	Do          = smtptest.Do
)

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return append(append([]byte(nil), b[:n]...), "…"...)
	}
	return b
}

// scriptServer is a smtptest.Server with the address a client dials.
type scriptServer struct {
	*smtptest.Server
	addr string // the IP address or the socket path
	port int
}

// newServer starts a TCP server on 127.0.0.1:0 that runs scripts[i] on the
// i-th connection. It is stopped when the test ends, after the clients
// registered later (dial) have been closed.
func newServer(t testing.TB, scripts ...[]step) *scriptServer {
	t.Helper()
	return wrap(smtptest.NewServer(t, scripts...))
}

// newUnixServer is newServer on a Unix socket (LMTP).
func newUnixServer(t testing.TB, scripts ...[]step) *scriptServer {
	t.Helper()
	return wrap(smtptest.NewUnixServer(t, scripts...))
}

func wrap(s *smtptest.Server) *scriptServer {
	return &scriptServer{Server: s, addr: s.Host(), port: s.Port()}
}

// After closes the client and returns connection 0 once its script has
// seen the EOF, so that its recording is complete.
func (s *scriptServer) After(c *protocol.Client) *serverConn {
	c.Close()
	return s.Wait(0)
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

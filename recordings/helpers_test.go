package recordings

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// Fake protocol event streams, as session's own tests make them: the
// recording side is tested against what the tracer contract promises, not
// against the live client.

func send(s string, secrets ...protocol.Span) protocol.Event {
	return protocol.Event{Kind: protocol.EventSend, Data: []byte(s), Secrets: secrets}
}

func sendTLS(s string, secrets ...protocol.Span) protocol.Event {
	e := send(s, secrets...)
	e.TLS = true
	return e
}

func recv(s string) protocol.Event {
	return protocol.Event{Kind: protocol.EventRecv, Data: []byte(s)}
}

func recvTLS(s string) protocol.Event {
	e := recv(s)
	e.TLS = true
	return e
}

func state(p protocol.Phase, tls, auth bool) protocol.Event {
	return protocol.Event{Kind: protocol.EventState, State: protocol.State{Phase: p, TLS: tls, Authenticated: auth}}
}

// span returns the span of sub within s, as protocol would mark it.
func span(t testing.TB, s, sub string) protocol.Span {
	t.Helper()
	i := strings.Index(s, sub)
	if i < 0 {
		t.Fatalf("%q not in %q", sub, s)
	}
	return protocol.Span{Start: i, End: i + len(sub)}
}

// collect is a Sink that keeps everything.
type collect struct{ events []session.Event }

func (c *collect) Event(e session.Event) { c.events = append(c.events, e) }

// testCapture is a session.Capture whose clock steps a millisecond per
// traced event, so that offsets are the same at every run.
type testCapture struct {
	*session.Capture
	now time.Time
}

func (c *testCapture) Trace(e protocol.Event) {
	if e.Time.IsZero() {
		c.now = c.now.Add(time.Millisecond)
		e.Time = c.now
	}
	c.Capture.Trace(e)
}

func newTestCapture(r session.Redaction) *testCapture {
	t0 := time.Date(2026, 11, 25, 22, 50, 0, 0, time.UTC)
	return &testCapture{Capture: session.NewCapture(t0, r), now: t0}
}

func selfSigned(t testing.TB, cn string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		Issuer:       pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     notAfter,
		DNSNames:     []string{cn},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// summarizeCert is the summary a Capture makes of a certificate.
func summarizeCert(c *x509.Certificate) session.Certificate {
	var got collect
	capture := session.NewCapture(time.Time{}, session.Redaction{})
	capture.Add(&got)
	capture.Trace(protocol.Event{Kind: protocol.EventTLS, TLSState: &tls.ConnectionState{
		Version: tls.VersionTLS13, HandshakeComplete: true, PeerCertificates: []*x509.Certificate{c}}})
	return got.events[0].Handshake.Chain[0]
}

// syncLog is a thread-safe buffer for the sandbox's log, shown on failure.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secretForms are the ways a secret can leak (security-anchors §6, the
// canary rule): itself, its base64 at the three alignments a longer blob
// can give it, and whole blobs that carry it. The fragments are computed
// here, not with Scrubber's code, so the test does not trust what it tests.
func secretForms(secret string, blobs ...string) []string {
	forms := []string{secret}
	for k := 0; k < 3; k++ {
		enc := base64.RawStdEncoding.EncodeToString(append(make([]byte, k), secret...))
		// Skip the characters that mix in the k leading zero bytes, and
		// the last one, which may mix in what follows the secret.
		skip := (8*k + 5) / 6
		if end := len(enc) - 1; end > skip {
			forms = append(forms, enc[skip:end])
		}
	}
	for _, b := range blobs {
		forms = append(forms, b, base64.StdEncoding.EncodeToString([]byte(b)))
	}
	return forms
}

// checkSafe is the terminal-safety property of Sanitize: valid UTF-8, no
// ESC, CR, LF, other C0 but TAB, DEL, C1, bidi, zero-width or format
// characters (any rune Sanitize would escape).
func checkSafe(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("output is not valid UTF-8: %q", out)
	}
	for _, r := range out {
		if r != '\\' && r != '\t' && session.SanitizeString(string(r)) != string(r) {
			t.Fatalf("unsafe %U in output %q", r, out)
		}
	}
}

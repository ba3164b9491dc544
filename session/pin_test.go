package session

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
)

// untrusting is a harness whose client trusts no certificate authority
// that signed the sandbox's certificate, as against a server with a
// self-signed certificate.
func untrusting(t *testing.T, srv *sandbox.Server) *harness {
	t.Helper()
	h := newHarness(t, srv, protocol.SMTP, srv.Addr())
	h.l.cfg.Options.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return h
}

// failedTLS connects and upgrades, which fails verification, and returns
// the fingerprint the Connection pane would show.
func (h *harness) failedTLS() string {
	h.t.Helper()
	h.call("Connect", h.l.Connect)
	h.input("EHLO client.test")
	h.call("StartTLS", h.l.StartTLS)
	s := h.settle()
	if s.TLS == nil || s.TLS.Complete || !strings.Contains(s.TLS.Error, "certificate") || len(s.TLS.Chain) == 0 {
		h.t.Fatalf("the handshake should fail verification: %+v", s.TLS)
	}
	return s.TLS.Chain[0].SHA256
}

// Trusting the certificate after a failed verification reconnects, upgrades
// with the certificate pinned, and the recording says so; another
// certificate is refused under that pin.
func TestLiveTrustCertificatePins(t *testing.T) {
	srv := startSandbox(t)
	h := untrusting(t, srv)
	var rec collect
	remove := h.l.Capture().Add(&rec)
	fp := h.failedTLS()

	if err := h.l.TrustCertificate("not-a-fingerprint"); err == nil {
		t.Error("a malformed pin was accepted")
	}
	h.call("TrustCertificate", func() {
		if err := h.l.TrustCertificate(strings.ToUpper(fp)); err != nil {
			t.Fatal(err)
		}
	})
	s := h.settle()
	h.noError(s)
	if !s.Connected || !s.State.TLS || s.TLS == nil || !s.TLS.Pinned || !s.TLS.Verified || s.TLS.Error != "" {
		t.Fatalf("after the pin: connected %v, TLS %v, summary %+v", s.Connected, s.State.TLS, s.TLS)
	}
	h.input("EHLO client.test")
	h.input("NOOP")
	h.noError(h.settle())
	remove()

	// What a recording gets (recordings' tests write and read the field
	// back, and the transcript says "pinned").
	var pinned, refused int
	for _, e := range rec.events {
		if e.Kind == KindTLS && e.Handshake.Pinned && e.Handshake.Verified && e.Handshake.Chain[0].SHA256 == fp {
			pinned++
		}
		if e.Kind == KindTLS && !e.Handshake.Complete {
			refused++
		}
	}
	if pinned != 1 || refused != 1 {
		t.Errorf("%d pinned handshakes, %d failed, want 1 and 1", pinned, refused)
	}

	// Another server's certificate (the sandbox makes a new one each
	// start) under the same pin: refused, and not marked pinned.
	other := startSandbox(t)
	h2 := untrusting(t, other)
	if fp2 := h2.failedTLS(); fp2 == fp {
		t.Fatal("two sandboxes share a certificate")
	}
	h2.call("TrustCertificate", func() { _ = h2.l.TrustCertificate(fp) })
	s = h2.settle()
	if s.State.TLS || s.TLS == nil || s.TLS.Complete || s.TLS.Pinned || !strings.Contains(s.TLS.Error, "pinned for this session is "+fp) {
		t.Errorf("a different certificate under the pin: TLS %v, summary %+v", s.State.TLS, s.TLS)
	}
}

// A second pin replaces the first: trusting the certificate a server
// presents after a wrong pin reconnects with it. It used to be checked
// against both pins, so every later handshake was refused.
func TestLiveTrustCertificateRepin(t *testing.T) {
	srv := startSandbox(t)
	h := untrusting(t, srv)
	fp := h.failedTLS()
	wrong := strings.Repeat("0", 64)
	h.call("TrustCertificate", func() { _ = h.l.TrustCertificate(wrong) })
	if s := h.settle(); s.State.TLS || s.TLS == nil || !strings.Contains(s.TLS.Error, "pinned for this session is "+wrong) {
		t.Fatalf("under the wrong pin: TLS %v, summary %+v", s.State.TLS, s.TLS)
	}
	h.call("TrustCertificate", func() { _ = h.l.TrustCertificate(fp) })
	s := h.settle()
	h.noError(s)
	if !s.State.TLS || s.TLS == nil || !s.TLS.Pinned || s.TLS.Error != "" {
		t.Fatalf("after pinning the server's certificate: TLS %v, summary %+v", s.State.TLS, s.TLS)
	}
}

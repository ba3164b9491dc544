package sandbox

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartTLS(t *testing.T) {
	srv, _ := start(t, Config{})
	for _, name := range []string{"localhost", "127.0.0.1", "sandbox.ehlo.test"} {
		t.Run(name, func(t *testing.T) {
			c := connect(t, srv)
			c.ehlo()
			st := c.startTLS(srv, name)
			if st.Version < tls.VersionTLS12 {
				t.Errorf("TLS version %x", st.Version)
			}
			// RFC 3207 §4.2: state is reset; the client must EHLO again.
			c.cmdText("MAIL FROM:<a@x.test>", 503, "Send HELO/EHLO first")
			r := c.ehlo()
			text := r.text()
			if strings.Contains(text, "STARTTLS") || !strings.Contains(text, "AUTH PLAIN LOGIN CRAM-MD5") {
				t.Fatalf("post-TLS EHLO %q", r.raw)
			}
			c.cmdText("STARTTLS", 503, "5.5.1 ")
			c.sendMessage("a@x.test", []string{"b@x.test"}, "tls\r\n")
		})
	}
	for _, m := range srv.Mailbox().Messages() {
		if !m.TLS {
			t.Errorf("message %s not marked TLS", m.ID)
		}
	}
}

// Plaintext pipelined after STARTTLS is discarded, never executed inside
// TLS (RFC 3207 §5; the CVE-2011-0411 class).
func TestStartTLSDiscardsPipelinedCommands(t *testing.T) {
	srv, logBuf := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.write("STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
	c.expect(220)
	tc := tls.Client(c.nc, trusting(t, srv, "localhost"))
	_ = tc.SetDeadline(time.Now().Add(ioTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
	c.ehlo()
	// Had the MAIL been executed, this RCPT would be accepted.
	c.cmd("RCPT TO:<b@x.test>", 503)
	c.cmd("QUIT", 221)
	c.expectClosed()
	srv.Close()
	if !strings.Contains(logBuf.String(), "discarded 25 bytes pipelined after STARTTLS") {
		t.Errorf("log does not report the discarded bytes:\n%s", logBuf.String())
	}
}

func TestStartTLSBadClientHello(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("STARTTLS", 220)
	c.write("EHLO not-tls\r\n")
	c.expectClosed()
}

func TestImplicitTLS(t *testing.T) {
	srv, _ := start(t, Config{})
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", srv.TLSAddr(), trusting(t, srv, "127.0.0.1"))
	if err != nil {
		t.Fatalf("dial TLS: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	c.expect(220)
	r := c.ehlo()
	if strings.Contains(r.text(), "STARTTLS") || !strings.Contains(r.text(), "AUTH ") {
		t.Fatalf("EHLO on implicit TLS %q", r.raw)
	}
	c.cmd("AUTH PLAIN "+b64("\x00alice\x00alicepw"), 235)
	c.sendMessage("a@x.test", []string{"b@x.test"}, "hi\r\n")
	m := srv.Mailbox().Messages()
	if len(m) != 1 || !m[0].TLS || m[0].AuthUser != "alice" {
		t.Fatalf("mailbox %+v", m)
	}
}

func TestCertificate(t *testing.T) {
	srv, _ := start(t, Config{Hostname: "mx.class.test"})
	block, _ := pem.Decode(srv.CertPEM())
	if block == nil {
		t.Fatal("no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cert.DNSNames, ","); got != "localhost,mx.class.test" {
		t.Errorf("DNS SANs %s", got)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if got := strings.Join(ips, ","); got != "127.0.0.1,::1" {
		t.Errorf("IP SANs %s", got)
	}
	if life := time.Until(cert.NotAfter); life < 23*time.Hour || life > 25*time.Hour {
		t.Errorf("valid for %v more, want about 24h", life)
	}
	sum := sha256.Sum256(block.Bytes)
	var parts []string
	for _, b := range sum {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	if fp := strings.Join(parts, ":"); srv.Fingerprint() != fp {
		t.Errorf("Fingerprint %s, want %s", srv.Fingerprint(), fp)
	}
	// The certificate is a trust anchor on its own: it verifies for the
	// names in its SANs and not for others.
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	for name, ok := range map[string]bool{"localhost": true, "mx.class.test": true, "127.0.0.1": true, "::1": true, "other.test": false} {
		_, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name})
		if (err == nil) != ok {
			t.Errorf("Verify(%s) = %v", name, err)
		}
	}
}

func TestCertificateFromFiles(t *testing.T) {
	gen, err := selfSigned("files.test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(gen.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, certPEM(gen), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, _ := start(t, Config{TLSCert: certFile, TLSKey: keyFile})
	if srv.Fingerprint() != fingerprint(gen.Certificate[0]) {
		t.Fatal("served certificate is not the one from the files")
	}
	c := connect(t, srv)
	c.ehlo()
	c.startTLS(srv, "files.test")
	c.ehlo()

	if _, err := New(Config{TLSCert: filepath.Join(dir, "missing.pem"), TLSKey: keyFile}); err == nil {
		t.Error("missing certificate file accepted")
	}
}

// --hostname given as an address (the room's LAN address, or another
// loopback address such as 127.0.0.2) makes the certificate valid for it,
// so students verify the sandbox with --ca alone.
func TestCertificateForAnAddress(t *testing.T) {
	for _, host := range []string{"192.0.2.1", "127.0.0.2", "2001:db8::25"} {
		cert, err := selfSigned(host, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(cert.Leaf)
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("--hostname %s: %v", host, err)
		}
	}
}

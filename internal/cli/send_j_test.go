package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/sandbox"
)

// tlsServer is an implicit-TLS SMTP server on loopback with the given
// configuration: a greeting, 250 to anything, 221 to QUIT.
func tlsServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "220 tls.test ESMTP\r\n")
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(strings.ToUpper(line), "QUIT") {
						io.WriteString(c, "221 bye\r\n")
						return
					}
					io.WriteString(c, "250 ok\r\n")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func serverCert(t *testing.T, key any, pub any, extra []pkix.Extension) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tls.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"tls.test"}, ExtraExtensions: extra,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func runSend(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	app := &appContext{ctx: context.Background(), stdout: &o, stderr: &e, stdin: strings.NewReader("")}
	code = runWith(app, append([]string{"send"}, args...))
	return o.String(), e.String(), code
}

// TestCatalogueJ16WeakCipher: a server restricted to TLS 1.2 and
// TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, which ehlo still offers (Go's
// default list): the TLS line of the transcript and --json say it is weak.
func TestCatalogueJ16WeakCipher(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	addr := tlsServer(t, &tls.Config{
		Certificates: []tls.Certificate{serverCert(t, key, &key.PublicKey, nil)},
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA},
	})
	out, errOut, code := runSend(t, addr, "--tls-on-connect", "--insecure", "--quit-after", "banner", "--timeout", "5s")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "=== TLS started with cipher TLSv1.2:TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA (weak: CBC with SHA-1)\n") {
		t.Errorf("the TLS line does not say the cipher is weak:\n%s", out)
	}
	out, _, _ = runSend(t, addr, "--tls-on-connect", "--insecure", "--quit-after", "banner", "--timeout", "5s", "--json")
	if !strings.Contains(out, `"weak": "CBC with SHA-1"`) {
		t.Errorf("--json does not say the cipher is weak:\n%s", out)
	}

	// A modern suite has no note.
	addr = tlsServer(t, &tls.Config{Certificates: []tls.Certificate{serverCert(t, key, &key.PublicKey, nil)}})
	out, _, _ = runSend(t, addr, "--tls-on-connect", "--insecure", "--quit-after", "banner", "--timeout", "5s")
	if !strings.Contains(out, "=== TLS started with cipher TLSv1.3:") || strings.Contains(out, "weak") {
		t.Errorf("TLS 1.3:\n%s", out)
	}
}

// TestCatalogueJ16CertParseErrorEscapedOnce: a certificate that does not
// parse (a URI name with ESC in it): Go's error quotes the name, so it
// holds "\x1b" already; the final *** line shows it once, not "\\x1b".
func TestCatalogueJ16CertParseErrorEscapedOnce(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte("https://\x1b[31mevil/")}})
	if err != nil {
		t.Fatal(err)
	}
	ext := []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san}}
	addr := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{serverCert(t, key, &key.PublicKey, ext)}})
	for _, json := range []bool{false, true} {
		args := []string{addr, "--tls-on-connect", "--insecure", "--quit-after", "banner", "--timeout", "5s"}
		if json {
			args = append(args, "--json")
		}
		out, errOut, code := runSend(t, args...)
		if code != 29 {
			t.Fatalf("exit %d, want 29\n%s%s", code, out, errOut)
		}
		text := errOut
		if json {
			text = strings.ReplaceAll(out, `\\`, `\`) // JSON's own escaping
		}
		if strings.Contains(text, "\x1b") || !strings.Contains(text, `\x1b[31mevil`) || strings.Contains(text, `\\x1b`) {
			t.Errorf("json %v: want \\x1b escaped once:\n%s", json, text)
		}
	}
}

// TestCatalogueJ7DataFIFOInterrupted: --data @FIFO with nobody writing
// blocks in the FIFO's open; Ctrl+C (the cancelled context) ends the send
// promptly, and nothing is delivered.
func TestCatalogueJ7DataFIFOInterrupted(t *testing.T) {
	srv := plainSandbox(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	defer func() {
		// Release the goroutine blocked in the FIFO's open.
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			f.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	var o, e bytes.Buffer
	app := &appContext{ctx: ctx, stdout: &o, stderr: &e, stdin: strings.NewReader("")}
	done := make(chan int, 1)
	go func() {
		done <- runWith(app, []string{"send", srv.Addr(), "--data", "@" + fifo, "--from", "a@x.test", "--to", "b@x.test", "--timeout", "5s"})
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code == 0 || !strings.Contains(e.String(), "interrupted") {
			t.Fatalf("exit %d\n%s%s", code, o.String(), e.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ctrl+C did not stop a send blocked on a FIFO")
	}
	if n := len(srv.Mailbox().Messages()); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
}

// failingWriter is standard output on a full disk.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// A transcript that cannot be written (stdout redirected to a full disk)
// is an error on stderr and exit 1, as a recording that cannot be is; it
// used to be exit 0 with nothing said.
func TestSendTranscriptWriteFails(t *testing.T) {
	srv := plainSandbox(t)
	var errb bytes.Buffer
	app := &appContext{ctx: t.Context(), stdout: failingWriter{}, stderr: &errb, stdin: strings.NewReader("")}
	code := runWith(app, []string{"send", srv.Addr(), "--from", "a@x.test", "--to", "b@x.test", "--body", "hi"})
	if code != 1 || !strings.Contains(errb.String(), "*** transcript stopped: no space left on device") {
		t.Errorf("exit %d, stderr %q; want 1 and the write error", code, errb.String())
	}
	if n := len(srv.Mailbox().Messages()); n != 1 {
		t.Errorf("%d message(s) delivered, want 1: the send itself went through", n)
	}
}

// The same for --repeat's summary.
func TestSendRepeatSummaryWriteFails(t *testing.T) {
	srv := plainSandbox(t)
	var errb bytes.Buffer
	app := &appContext{ctx: t.Context(), stdout: failingWriter{}, stderr: &errb, stdin: strings.NewReader("")}
	code := runWith(app, []string{"send", srv.Addr(), "--from", "a@x.test", "--to", "b@x.test", "--body", "hi", "--repeat", "2"})
	if code != 1 || !strings.Contains(errb.String(), "*** summary not written: no space left on device") {
		t.Errorf("exit %d, stderr %q; want 1 and the write error", code, errb.String())
	}
	if n := len(srv.Mailbox().Messages()); n != 2 {
		t.Errorf("%d message(s) delivered, want 2", n)
	}
}

// plainSandbox is a sandbox on loopback with its plain port only, stopped
// when the test ends.
func plainSandbox(tb testing.TB) *sandbox.Server {
	tb.Helper()
	srv, err := sandbox.New(sandbox.Config{Listen: "127.0.0.1:0", TLSListen: "-"})
	if err != nil {
		tb.Fatal(err)
	}
	srv.Start()
	tb.Cleanup(func() { srv.Close() })
	return srv
}

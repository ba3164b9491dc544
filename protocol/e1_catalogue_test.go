//go:build interop

package protocol_test

// security-anchors E1 (SMTP smuggling, SEC Consult 2023) against the real
// Postfix 3.7 of the interop test bed, which runs with its default
// smtpd_forbid_bare_newline = no: the server that would end the message at
// a bare "\n.\n". ehlo's DATA encoder turns the body's "\n.\n" into
// "\r\n..\r\n" on the wire, so Postfix sees one message whose body has the
// literal lines "." and "MAIL FROM:<x@y>", and never a second transaction.
//
//	sudo EHLO_INTEROP_SKIP_INSTALL=1 bash testdata/interop/run.sh -run E1 ./protocol/
//
// The addresses and the Maildir come from testdata/interop/run.sh
// (EHLO_INTEROP_POSTFIX_ADDR, _CA, _MAIL); without EHLO_INTEROP the test
// skips.

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// e1Wire keeps every byte the client wrote.
type e1Wire struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *e1Wire) Trace(e protocol.Event) {
	if e.Kind == protocol.EventSend {
		w.mu.Lock()
		w.buf.Write(e.Data)
		w.mu.Unlock()
	}
}

func (w *e1Wire) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func e1Getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// e1Messages returns the content of every Maildir file under dir that
// contains needle.
func e1Messages(dir, needle string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if sub := filepath.Base(filepath.Dir(path)); sub != "new" && sub != "cur" {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(needle)) {
			out = append(out, string(b))
		}
		return nil
	})
	return out
}

func TestCatalogueE1PostfixSmuggling(t *testing.T) {
	if v := os.Getenv("EHLO_INTEROP"); v == "" || v == "0" {
		t.Skip("EHLO_INTEROP is not set: Postfix is started by testdata/interop/run.sh")
	}
	if list := os.Getenv("EHLO_INTEROP_SERVERS"); list != "" && !strings.Contains(" "+list+" ", " postfix ") {
		t.Skipf("postfix is not in EHLO_INTEROP_SERVERS=%q", list)
	}
	base := e1Getenv("EHLO_INTEROP_BASE", "/tmp/ehlo-interop")
	addr := e1Getenv("EHLO_INTEROP_POSTFIX_ADDR", "127.0.0.1:2525")
	caFile := e1Getenv("EHLO_INTEROP_POSTFIX_CA", filepath.Join(base, "postfix", "tls", "cert.pem"))
	mail := e1Getenv("EHLO_INTEROP_POSTFIX_MAIL", filepath.Join(base, "postfix", "mail"))

	// The premise: this Postfix still accepts a bare LF as a line end.
	if out, err := exec.Command("postconf", "-c", filepath.Join(base, "postfix", "etc"), "-h", "smtpd_forbid_bare_newline").CombinedOutput(); err == nil {
		if v := strings.TrimSpace(string(out)); v != "no" {
			t.Fatalf("smtpd_forbid_bare_newline = %q: E1 needs Postfix's old default, no", v)
		}
	} else {
		t.Logf("postconf: %v (%s); assuming Postfix 3.7's default smtpd_forbid_bare_newline = no", err, bytes.TrimSpace(out))
	}

	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("reading Postfix's certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	tok := make([]byte, 8)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	token := "ehlo-e1-" + hex.EncodeToString(tok)

	wire := &e1Wire{}
	c, greet, err := protocol.Dial(protocol.SMTP, addr, 0, protocol.Options{
		LocalHostname: "client.test", Timeout: 20 * time.Second, Tracer: wire,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "mx.example.test", MinVersion: tls.VersionTLS12},
	})
	if err != nil || greet.Code != 220 {
		t.Fatalf("Dial %s: %d %q, %v (is Postfix running?)", addr, greet.Code, greet.Message, err)
	}
	defer c.Close()
	if _, err := c.StartTLS(nil); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	// Bare LF line ends throughout, and the smuggling payload: "\n.\n"
	// then what a lenient server would read as a second transaction.
	body := "From: alice@example.test\n" +
		"To: alice@example.test\n" +
		"Subject: E1 " + token + "\n" +
		"\n" +
		"before " + token + "\n" +
		".\n" +
		"MAIL FROM:<x@y>\n" +
		"RCPT TO:<bob@example.test>\n" +
		"DATA\n" +
		"Subject: smuggled " + token + "\n" +
		"\n" +
		"smuggled " + token + "\n" +
		".\n" +
		"after " + token + "\n"
	refused, err := c.Sendmail("alice@example.test", []string{"alice@example.test"}, strings.NewReader(body), nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("Sendmail: %v, refused %v", err, refused)
	}
	if r, err := c.Quit(); err != nil || r.Code != 221 {
		t.Errorf("QUIT: %d %q, %v", r.Code, r.Message, err)
	}

	w := wire.String()
	if !strings.Contains(w, "\r\n..\r\nMAIL FROM:<x@y>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n") {
		t.Errorf("the wire lacks the stuffed, CRLF-normalised payload:\n%q", w)
	}
	if n := strings.Count(w, "\r\n.\r\n"); n != 1 {
		t.Errorf("%d end-of-data sequences on the wire, want exactly 1", n)
	}
	if strings.Contains(strings.ReplaceAll(w, "\r\n", ""), "\n") {
		t.Errorf("a bare LF reached the wire")
	}

	// Exactly one message carries the token, in alice's Maildir, and its
	// body has the literal lines, unstuffed by Postfix.
	deadline := time.Now().Add(60 * time.Second)
	var msgs []string
	for {
		msgs = e1Messages(mail, token)
		if len(msgs) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(msgs) == 0 {
		t.Fatalf("no message with %s arrived under %s", token, mail)
	}
	// Give a smuggled second message (if Postfix had seen one) time to land.
	time.Sleep(2 * time.Second)
	msgs = e1Messages(mail, token)
	if len(msgs) != 1 {
		t.Fatalf("%d messages carry the token, want exactly 1:\n%s", len(msgs), strings.Join(msgs, "\n-----\n"))
	}
	got := strings.ReplaceAll(msgs[0], "\r\n", "\n")
	want := "\nbefore " + token + "\n.\nMAIL FROM:<x@y>\nRCPT TO:<bob@example.test>\nDATA\nSubject: smuggled " + token + "\n\nsmuggled " + token + "\n.\nafter " + token + "\n"
	if !strings.Contains(got, want) {
		t.Errorf("stored body lacks the literal lines %q:\n%s", want, msgs[0])
	}
	if m := e1Messages(filepath.Join(mail, "bob"), token); len(m) != 0 {
		t.Errorf("bob got %d message(s) with the token: the smuggled transaction was executed", len(m))
	}
}

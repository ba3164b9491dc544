//go:build interop

// Interop tests of `ehlo audit` against the real servers of the test bed
// (testdata/interop), each setting the issue names configured both ways:
// Postfix's STARTTLS listener (bare newlines accepted, relay closed, VRFY
// on) against its audit listener (smtpd_forbid_bare_newline, an open relay
// for mynetworks whose mail is discarded, VRFY disabled); Exim with VRFY
// and EXPN accepted and refused; OpenSMTPD as it comes.
//
//	sudo EHLO_INTEROP_SERVERS="postfix exim opensmtpd" bash testdata/interop/run.sh -run Audit -v
//
// The tests skip without EHLO_INTEROP and fail when a server cannot be
// reached. smtp-smuggling sends only to alice@example.test, which each
// server delivers to its own Maildir on this machine; the open relay's
// recipient is never sent DATA, and the test bed discards relayed mail
// anyway.
package audit

import (
	"bufio"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func iopEnv(t *testing.T, name, def string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func iopBase() string {
	if b := os.Getenv("EHLO_INTEROP_BASE"); b != "" {
		return b
	}
	return "/tmp/ehlo-interop"
}

// iopAudit runs the whole audit against addr, trusting the server's own
// certificate, and returns the findings by id.
func iopAudit(t *testing.T, server, addr, tag string) map[string]Finding {
	t.Helper()
	if os.Getenv("EHLO_INTEROP") == "" {
		t.Skip("EHLO_INTEROP not set: run testdata/interop/run.sh")
	}
	upper := strings.ToUpper(server)
	pem, err := os.ReadFile(iopEnv(t, "EHLO_INTEROP_"+upper+"_CA", filepath.Join(iopBase(), server, "tls", "cert.pem")))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tg, err := ParseTarget(addr, false)
	if err != nil {
		t.Fatal(err)
	}
	tg.SNI = "mx.example.test"
	rep, err := Run(context.Background(), Config{
		Target: tg, RootCAs: roots, Domain: "example.test", To: "alice@example.test", Tag: tag,
		ProbeTimeout: 30 * time.Second, MaxTime: 5 * time.Minute,
	})
	if err != nil {
		t.Fatalf("%s at %s: %v", server, addr, err)
	}
	out := map[string]Finding{}
	for _, f := range rep.Findings {
		out[f.ID] = f
		t.Logf("%-5s %-18s %s", f.Status, f.ID, f.Summary)
	}
	return out
}

// expect checks the statuses the configuration decides; every other
// finding must at least have concluded or been skipped for its reason.
func expect(t *testing.T, got map[string]Finding, want map[string]Status) {
	t.Helper()
	for id, st := range want {
		if f := got[id]; f.Status != st {
			t.Errorf("%s: %s, want %s: %s\n%s", id, f.Status, st, f.Summary, strings.Join(f.Evidence, "\n"))
		}
	}
	for id, f := range got {
		if f.Status == Error {
			t.Errorf("%s: error: %s\n%s", id, f.Summary, strings.Join(f.Evidence, "\n"))
		}
	}
}

// smuggled counts, in a Maildir tree, the messages whose own Subject
// (in the header, not quoted in a body) is a smuggled one of this tag,
// waiting for deliveries to land.
func smuggled(t *testing.T, maildir, tag string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := 0
		_ = filepath.WalkDir(maildir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && headerSubjectHas(p, tag+": SMUGGLED") {
				n++
			}
			return nil
		})
		if n == want || time.Now().After(deadline) {
			if n != want {
				t.Errorf("%s: %d smuggled messages, want %d", maildir, n, want)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func headerSubjectHas(path, s string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			return false
		}
		if strings.HasPrefix(line, "Subject:") && strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func TestAuditInteropPostfix(t *testing.T) {
	mail := iopEnv(t, "EHLO_INTEROP_POSTFIX_MAIL", filepath.Join(iopBase(), "postfix", "mail"))
	tag := "pf" + strings.TrimPrefix(randomUser(), "ehlo-audit-")
	got := iopAudit(t, "postfix", iopEnv(t, "EHLO_INTEROP_POSTFIX_ADDR", "127.0.0.1:2525"), tag)
	expect(t, got, map[string]Status{
		"banner": Pass, "tls-offered": Pass, "certificate": Pass, "dane": Skip, "mta-sts": Skip,
		"starttls-injection": Pass, "cleartext-auth": Pass,
		"open-relay":       Pass, // smtpd_relay_restrictions without permit_mynetworks
		"vrfy-expn":        Fail, // disable_vrfy_command = no: 252 postmaster, 550 unknown
		"rcpt-enumeration": Warn,
		"smtp-smuggling":   Fail, // smtpd_forbid_bare_newline = no
		"pregreet":         Warn, "size-enforced": Pass, "pipelining": Pass,
	})
	// <LF>.<LF>, <LF>.<CR><LF> and <CR><LF>.<LF> each smuggled one.
	smuggled(t, mail, tag, 3)

	tag = "pfa" + strings.TrimPrefix(randomUser(), "ehlo-audit-")
	got = iopAudit(t, "postfix", iopEnv(t, "EHLO_INTEROP_POSTFIX_AUDIT_ADDR", "127.0.0.1:2531"), tag)
	expect(t, got, map[string]Status{
		"open-relay":     Fail, // permit_mynetworks, and loopback is in mynetworks
		"vrfy-expn":      Pass, // disable_vrfy_command = yes: 502 twice
		"smtp-smuggling": Pass, // smtpd_forbid_bare_newline = yes
	})
	smuggled(t, mail, tag, 0)
}

func TestAuditInteropExim(t *testing.T) {
	tag := "ex" + strings.TrimPrefix(randomUser(), "ehlo-audit-")
	got := iopAudit(t, "exim", iopEnv(t, "EHLO_INTEROP_EXIM_ADDR", "127.0.0.1:2526"), tag)
	expect(t, got, map[string]Status{
		"banner":      Warn, // smtp_banner shows $version_number
		"tls-offered": Pass, "certificate": Pass, "starttls-injection": Pass,
		"cleartext-auth":   Fail, // auth_advertise_hosts = *, on purpose
		"open-relay":       Pass,
		"vrfy-expn":        Fail, // acl_smtp_vrfy accepts: 250 against 550
		"rcpt-enumeration": Warn,
		"smtp-smuggling":   Pass,
		"size-enforced":    Pass, "pipelining": Pass,
	})
	if ev := strings.Join(got["vrfy-expn"].Evidence, "\n"); !strings.Contains(ev, "S: 250 <postmaster@example.test> is deliverable") {
		t.Errorf("vrfy-expn evidence:\n%s", ev)
	}
	got = iopAudit(t, "exim", iopEnv(t, "EHLO_INTEROP_EXIM_AUDIT_ADDR", "127.0.0.1:2532"), tag+"a")
	expect(t, got, map[string]Status{"vrfy-expn": Pass}) // the VRFY ACL denies: 252 twice, EXPN 550
}

func TestAuditInteropOpenSMTPD(t *testing.T) {
	tag := "os" + strings.TrimPrefix(randomUser(), "ehlo-audit-")
	got := iopAudit(t, "opensmtpd", iopEnv(t, "EHLO_INTEROP_OPENSMTPD_ADDR", "127.0.0.1:2527"), tag)
	expect(t, got, map[string]Status{
		"banner": Pass, "tls-offered": Pass, "tls-versions": Pass, "certificate": Pass,
		"starttls-injection": Pass, // 500 "Pipelining not supported" to the pipelined STARTTLS
		"cleartext-auth":     Pass, "open-relay": Pass, "vrfy-expn": Pass, "rcpt-enumeration": Warn,
		"smtp-smuggling": Pass,
		"size-enforced":  Fail, // MAIL SIZE over the limit is accepted
		"pipelining":     Skip, // not advertised
	})
}

// Dovecot's submission service, as the test bed runs it: STARTTLS, and
// every transaction only after AUTH (530 before), relaying to a sink.
func TestAuditInteropDovecot(t *testing.T) {
	tag := "dv" + strings.TrimPrefix(randomUser(), "ehlo-audit-")
	got := iopAudit(t, "dovecot", iopEnv(t, "EHLO_INTEROP_DOVECOT_SUBMISSION_ADDR", "127.0.0.1:2587"), tag)
	expect(t, got, map[string]Status{
		"banner": Pass, "tls-offered": Pass, "tls-versions": Pass, "certificate": Pass,
		"tls-ciphers": Warn, // ECDHE with CBC-SHA256 is accepted
		// Dovecot counts a connection from 127.0.0.1 as secure
		// (disable_plaintext_auth spares localhost), so from the test bed
		// it takes AUTH PLAIN before TLS: true of what a local client sees.
		"cleartext-auth": Fail,
		// MAIL wants AUTH first (530): nothing to relay, enumerate,
		// smuggle or size, and the audit does not authenticate.
		"open-relay": Skip, "rcpt-enumeration": Skip, "smtp-smuggling": Skip, "size-enforced": Skip,
		"vrfy-expn": Pass, "pipelining": Pass,
	})
}

// aiosmtpd, as the test bed runs it: a sink that takes every recipient,
// STARTTLS, AUTH only after TLS.
func TestAuditInteropAiosmtpd(t *testing.T) {
	tag := "ai" + strings.TrimPrefix(randomUser(), "ehlo-audit-")
	got := iopAudit(t, "aiosmtpd", iopEnv(t, "EHLO_INTEROP_AIOSMTPD_ADDR", "127.0.0.1:2528"), tag)
	expect(t, got, map[string]Status{
		"banner": Pass, "tls-offered": Pass, "tls-versions": Pass, "certificate": Pass,
		"tls-ciphers":        Warn, // Python's ssl defaults take RSA key exchange
		"starttls-injection": Pass, "cleartext-auth": Pass,
		"open-relay": Fail, // the test bed's handler accepts any recipient
		"vrfy-expn":  Pass, "rcpt-enumeration": Pass, "smtp-smuggling": Pass, "size-enforced": Pass,
		"pipelining": Skip, // not advertised
	})
}

package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// swaksPath finds swaks, an independent client: if the sandbox and swaks
// agree, the agreement is not an artefact of ehlo's own client. The test
// is skipped only when swaks is missing and EHLO_REQUIRE_SWAKS is unset;
// CI sets it, so there a missing swaks fails instead of passing quietly.
func swaksPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("swaks")
	if err != nil {
		if os.Getenv("EHLO_REQUIRE_SWAKS") != "" {
			t.Fatalf("EHLO_REQUIRE_SWAKS is set but swaks is not on PATH: %v", err)
		}
		t.Skip("swaks not on PATH (apt-get install swaks; EHLO_REQUIRE_SWAKS=1 makes this a failure)")
	}
	return p
}

// swaksFeatures maps a feature named by `swaks --support` (TLS, IPv6, …) to
// the Debian package that brings the Perl module swaks needs for it. swaks
// installed with --no-install-recommends has none of them and says so only
// when a test already runs ("TLS not available: requires Net::SSLeay").
var swaksFeatures = map[string]string{
	"TLS": "libnet-ssleay-perl",
}

// swaksWith is swaksPath for a test that needs a feature of swaks beyond
// plain SMTP. It asks swaks itself: `swaks --support` prints a line per
// feature, "=== TLS supported" or "*** TLS not available: requires
// Net::SSLeay", so a swaks that finds the module another way still counts.
// Missing under EHLO_REQUIRE_SWAKS, it fails naming the package to
// install; otherwise it skips saying the same.
func swaksWith(t *testing.T, feature string) string {
	t.Helper()
	p := swaksPath(t)
	out, _ := exec.Command(p, "--support").CombinedOutput()
	why := "not listed by swaks --support"
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case line == "=== "+feature+" supported":
			return p
		case strings.HasPrefix(line, "*** "+feature+" not available"):
			why = strings.TrimPrefix(line, "*** ")
		}
	}
	msg := fmt.Sprintf("swaks lacks %s (%s): apt-get install --no-install-recommends %s",
		feature, why, swaksFeatures[feature])
	if os.Getenv("EHLO_REQUIRE_SWAKS") != "" {
		t.Fatal("EHLO_REQUIRE_SWAKS is set but " + msg)
	}
	t.Skip(msg + " (EHLO_REQUIRE_SWAKS=1 makes this a failure)")
	return ""
}

// runSwaks runs swaks with a fixed sender, HELO name and no config file,
// and returns its transcript and exit code.
func runSwaks(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args = append([]string{"--config", "--from", "a@x.test", "--helo", "swaks.test", "--timeout", "10"}, args...)
	cmd := exec.CommandContext(ctx, swaksPath(t), args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func writeCA(t *testing.T, srv *Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sandbox-ca.pem")
	if err := os.WriteFile(p, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSwaksStartTLSAuth(t *testing.T) {
	swaksWith(t, "TLS")
	srv, _ := start(t, Config{})
	ca := writeCA(t, srv)
	for i, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		t.Run(mech, func(t *testing.T) {
			out, code := runSwaks(t, "--server", srv.Addr(), "--tls", "--tls-verify", "--tls-ca-path", ca,
				"--auth", mech, "--auth-user", "bob", "--auth-password", "bobpw", "--to", "b@x.test")
			if code != 0 || !strings.Contains(out, "<~  235 2.7.0 Authentication successful") ||
				!strings.Contains(out, "<~  250 2.0.0 Ok: queued as") {
				t.Fatalf("swaks exit %d:\n%s", code, out)
			}
			m := srv.Mailbox().Messages()
			if len(m) != i+1 || !m[i].TLS || m[i].AuthUser != "bob" || m[i].Helo != "swaks.test" ||
				!strings.Contains(string(m[i].Data), "X-Mailer: swaks") {
				t.Fatalf("mailbox %+v", m)
			}
		})
	}
	t.Run("verification is real", func(t *testing.T) {
		other, _ := start(t, Config{})
		out, code := runSwaks(t, "--server", srv.Addr(), "--tls", "--tls-verify", "--tls-ca-path", writeCA(t, other),
			"--quit-after", "TLS", "--to", "b@x.test")
		if code != 29 {
			t.Fatalf("swaks trusting another certificate: exit %d, want 29:\n%s", code, out)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		out, code := runSwaks(t, "--server", srv.Addr(), "--tls", "--auth", "PLAIN",
			"--auth-user", "bob", "--auth-password", "nope", "--to", "b@x.test")
		if code != 28 || !strings.Contains(out, "535 5.7.8") {
			t.Fatalf("swaks exit %d, want 28:\n%s", code, out)
		}
	})
	t.Run("no AUTH offered in the clear", func(t *testing.T) {
		out, code := runSwaks(t, "--server", srv.Addr(), "--auth", "PLAIN",
			"--auth-user", "bob", "--auth-password", "bobpw", "--to", "b@x.test")
		if code != 28 || strings.Contains(out, "AUTH PLAIN") {
			t.Fatalf("swaks exit %d, want 28 with no AUTH sent:\n%s", code, out)
		}
	})
}

func TestSwaksImplicitTLS(t *testing.T) {
	swaksWith(t, "TLS")
	srv, _ := start(t, Config{})
	out, code := runSwaks(t, "--server", srv.TLSAddr(), "--tls-on-connect", "--tls-verify", "--tls-ca-path", writeCA(t, srv),
		"--auth", "LOGIN", "--auth-user", "alice", "--auth-password", "alicepw", "--to", "b@x.test")
	if code != 0 || !strings.Contains(out, "235 2.7.0") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
}

func TestSwaksPipeline(t *testing.T) {
	swaksPath(t)
	srv, _ := start(t, Config{})
	out, code := runSwaks(t, "--server", srv.Addr(), "--pipeline", "--to", "b@x.test,c@x.test", "--body", "pipelined")
	if code != 0 || !strings.Contains(out, "-> DATA") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	// swaks writes MAIL, both RCPTs and DATA before reading a reply: the
	// four client lines come before the first 250 in the transcript.
	if i, j := strings.Index(out, " -> DATA"), strings.Index(out, "<-  250 2.1.0"); i < 0 || j < 0 || i > j {
		t.Fatalf("not pipelined:\n%s", out)
	}
	m := srv.Mailbox().Messages()
	if len(m) != 1 || strings.Join(m[0].To, ",") != "b@x.test,c@x.test" || !strings.Contains(string(m[0].Data), "pipelined") {
		t.Fatalf("mailbox %+v", m)
	}
}

func TestSwaksLMTPSocket(t *testing.T) {
	swaksPath(t)
	path := socketPath(t)
	srv, _ := start(t, Config{LMTP: true, Socket: path, Listen: "-", TLSListen: "-"})
	out, _ := runSwaks(t, "--socket", path, "--protocol", "LMTP", "--to", "ok@x.test,full@x.test")
	for _, want := range []string{" -> LHLO swaks.test", "<-  250 2.0.0 <ok@x.test> Ok: delivered", "452 4.2.2 <full@x.test> Mailbox full"} {
		if !strings.Contains(out, want) {
			t.Fatalf("transcript lacks %q:\n%s", want, out)
		}
	}
	m := srv.Mailbox().Messages()
	if len(m) != 1 || strings.Join(m[0].To, ",") != "ok@x.test" {
		t.Fatalf("mailbox %+v", m)
	}
}

func TestSwaksRefusedRecipient(t *testing.T) {
	swaksPath(t)
	srv, _ := start(t, Config{Faults: faults(t, "refuse-rcpt=bad@x.test")})
	out, code := runSwaks(t, "--server", srv.Addr(), "--to", "bad@x.test")
	if code != 24 || !strings.Contains(out, "550 5.1.1 <bad@x.test>: Recipient address rejected") {
		t.Fatalf("swaks exit %d, want 24 (no recipients accepted):\n%s", code, out)
	}
	// With one good recipient the message goes through to it alone.
	out, code = runSwaks(t, "--server", srv.Addr(), "--to", "bad@x.test,good@x.test")
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	if m := srv.Mailbox().Messages(); len(m) != 1 || strings.Join(m[0].To, ",") != "good@x.test" {
		t.Fatalf("mailbox %+v", m)
	}
}

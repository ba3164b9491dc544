//go:build interop

// Interop tests of issue 13's DNS path against real servers: NSD serving a
// DNSSEC-signed zone (dane.test) and an unsigned one (plain.test), Unbound
// validating with dane.test's trust anchor, nginx serving the MTA-STS
// policies over HTTPS, all started on loopback by testdata/interop/dns.sh
// (see its header for the zones):
//
//	sudo EHLO_INTEROP_SERVERS=dns bash testdata/interop/run.sh -run TestDNSInterop -v
//
// The mail itself goes to the sandbox, started here on 127.0.0.1 at the
// port of the TLSA names with the certificate dns.sh made; every MX name
// resolves to 127.0.0.1 (or 127.0.0.2, where nothing listens).
package cli

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/sandbox"
)

type dnsIop struct {
	resolver, port, ca string
	srv                *sandbox.Server
}

func dnsIopBed(t *testing.T) *dnsIop {
	t.Helper()
	sendIopRequire(t, "dns")
	b := &dnsIop{
		resolver: sendIopEnv("EHLO_INTEROP_DNS_RESOLVER", "127.0.13.2:5302"),
		port:     sendIopEnv("EHLO_INTEROP_DNS_MX_PORT", "2591"),
	}
	dir := sendIopEnv("EHLO_INTEROP_DNS_DIR", sendIopBase("dns"))
	b.ca = filepath.Join(dir, "tls", "ca.pem")
	sendIopReachable(t, "dns (Unbound)", "udp", b.resolver, "tcp", b.resolver, "tcp", "127.0.13.3:443")
	srv, err := sandbox.New(sandbox.Config{
		Listen: net.JoinHostPort("127.0.0.1", b.port), TLSListen: "-", Hostname: "mx1.dane.test",
		TLSCert: filepath.Join(dir, "tls", "mx.pem"), TLSKey: filepath.Join(dir, "tls", "mx.key"),
	})
	if err != nil {
		t.Fatalf("the sandbox for the DNS tests: %v", err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	b.srv = srv
	return b
}

func (b *dnsIop) send(t *testing.T, to string, extra ...string) (string, string, int) {
	t.Helper()
	args := append([]string{"--to", to, "--resolver", b.resolver, "--port", b.port, "--ca", b.ca}, extra...)
	out, errs, code := runDNS(t, args...)
	t.Logf("ehlo send %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	return out, errs, code
}

func wantAll(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing %q", w)
		}
	}
}

func TestDNSInterop(t *testing.T) {
	b := dnsIopBed(t)
	delivered := func(t *testing.T, n int) {
		t.Helper()
		if got := b.srv.Mailbox().Len(); got != n {
			t.Errorf("%d messages in the sandbox, want %d", got, n)
		}
	}

	t.Run("MX order and fallback", func(t *testing.T) {
		out, errs, code := b.send(t, "b@order.dane.test")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		wantAll(t, out,
			"=== MX 10 dead.dane.test: 127.0.0.2 (DNSSEC: authenticated)",
			"=== MX 20 mx1.dane.test: 127.0.0.1 (DNSSEC: authenticated)",
			"=== MX 10 dead.dane.test: trying 127.0.0.2 port "+b.port,
			"=== MX 20 mx1.dane.test: trying 127.0.0.1 port "+b.port,
			"=== DANE: verified")
		if strings.Index(out, "trying 127.0.0.2") > strings.Index(out, "trying 127.0.0.1") {
			t.Error("MX 20 tried before MX 10")
		}
		wantAll(t, errs, "trying the next address or MX")
		delivered(t, 1)
	})
	t.Run("implicit MX", func(t *testing.T) {
		out, _, code := b.send(t, "b@implicit.dane.test")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		wantAll(t, out, "implicit.dane.test (no MX: the domain's own address, RFC 5321 §5.1): trying 127.0.0.1")
		delivered(t, 2)
	})
	t.Run("DANE-EE match", func(t *testing.T) {
		out, _, code := b.send(t, "b@dane.test", "--tls-chain")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		wantAll(t, out, "TLSA 3 1 1 ", "(DNSSEC: authenticated): TLS required", " -> STARTTLS",
			"=== DANE: verified: DANE-EE record 3 1 1", "-----BEGIN CERTIFICATE-----", "===   spki sha256: ")
		delivered(t, 3)
	})
	t.Run("DANE-TA match", func(t *testing.T) {
		out, _, code := b.send(t, "b@ta.dane.test")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		wantAll(t, out, "=== DANE: verified: DANE-TA record 2 0 1", "matches chain certificate 1", `issuer "CN=ehlo interop DNS test CA"`)
		delivered(t, 4)
	})
	t.Run("DANE mismatch", func(t *testing.T) {
		_, errs, code := b.send(t, "b@bad.dane.test")
		if code != 29 {
			t.Fatalf("exit %d, want 29", code)
		}
		wantAll(t, errs, "DANE verification failed: no TLSA record matches the server's certificate chain", "exit 29")
		delivered(t, 4)
	})
	t.Run("bogus TLSA record", func(t *testing.T) {
		// RFC 7672 §2.2: a host whose TLSA lookup fails validation is not used.
		_, errs, code := b.send(t, "b@bogus.dane.test")
		if code != 29 {
			t.Fatalf("exit %d, want 29", code)
		}
		wantAll(t, errs, "DANE: mxbogus.dane.test: the TLSA lookup failed", "SERVFAIL", "no MX host could be used")
		delivered(t, 4)
	})
	t.Run("TLSA in an unsigned zone", func(t *testing.T) {
		out, errs, code := b.send(t, "b@plain.test")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		wantAll(t, out, "=== MX 10 mx1.plain.test: 127.0.0.1 (DNSSEC: not authenticated)")
		wantAll(t, errs, "ignored: the TLSA answer is not DNSSEC-authenticated")
		delivered(t, 5)
		_, errs, code = b.send(t, "b@plain.test", "--tls-verify", "dane")
		if code != 29 {
			t.Errorf("--tls-verify dane: exit %d, want 29", code)
		}
		wantAll(t, errs, "no DNSSEC-authenticated TLSA record at _"+b.port+"._tcp.mx1.plain.test (--tls-verify dane)")
		delivered(t, 5)
	})
	t.Run("MTA-STS enforce, matching MX", func(t *testing.T) {
		out, _, code := b.send(t, "b@sts.plain.test")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		wantAll(t, out, `=== MTA-STS: _mta-sts.sts.plain.test TXT "v=STSv1; id=20261206"`,
			"=== MTA-STS: policy https://mta-sts.sts.plain.test/.well-known/mta-sts.txt: mode enforce, mx mx2.plain.test",
			`=== TLS-RPT: _smtp._tls.sts.plain.test TXT "v=TLSRPTv1; rua=mailto:tlsrpt@plain.test"`,
			"=== MTA-STS (enforce): mx2.plain.test matches the policy: TLS required",
			" -> STARTTLS", `subject "CN=mx1.dane.test" issuer "CN=ehlo interop DNS test CA" verified`)
		msgs := b.srv.Mailbox().Messages()
		if len(msgs) != 6 || !msgs[5].TLS {
			t.Errorf("want a 6th message, over TLS")
		}
	})
	t.Run("MTA-STS enforce, MX not in the policy", func(t *testing.T) {
		_, errs, code := b.send(t, "b@stsbad.plain.test")
		if code != 29 {
			t.Fatalf("exit %d, want 29", code)
		}
		wantAll(t, errs, "MTA-STS (enforce): mx2.plain.test matches no mx of the policy (other.plain.test)", "no MX host could be used")
		delivered(t, 6)
	})
}

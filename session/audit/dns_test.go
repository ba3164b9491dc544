package audit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session/mx"
	"github.com/ehlo-dev/ehlo/session/mx/mxtest"
)

// bed is a mail domain on loopback: example.test's MX records (a dead
// one first) point to a sandbox whose certificate names mx1.example.test,
// served by mxtest; an HTTPS server holds its MTA-STS policy.
type bed struct {
	srv    *sandbox.Server
	port   int
	dns    *mxtest.Server
	roots  *x509.CertPool
	policy *policyServer
}

// policyServer serves /.well-known/mta-sts.txt with a body tests change.
type policyServer struct {
	mu   sync.Mutex
	body string
	port int
	cert *x509.Certificate
}

func (p *policyServer) set(body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.body = body
}

// newBed serves zone (after the MX and address records; %[1]d is the
// sandbox's port, %[2]s its TLSA 3 1 1 data), signing the zones given.
func newBed(t *testing.T, zone string, signed ...string) *bed {
	t.Helper()
	b := &bed{srv: start(t, sandbox.Config{Hostname: "mx1.example.test"})}
	_, p, _ := net.SplitHostPort(b.srv.Addr())
	b.port, _ = strconv.Atoi(p)
	blk, _ := pem.Decode(b.srv.CertPEM())
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	b.roots = x509.NewCertPool()
	b.roots.AddCert(cert)
	b.policy = startPolicy(t, b.roots)
	b.dns = mxtest.Start(t, `
example.test. 60 IN MX 10 dead.example.test.
example.test. 60 IN MX 20 mx1.example.test.
dead.example.test. 60 IN A 127.0.0.2
mx1.example.test. 60 IN A 127.0.0.1
mta-sts.example.test. 60 IN A 127.0.0.1
`+fmt.Sprintf(zone, b.port, hex.EncodeToString(spki[:])), signed...)
	return b
}

// startPolicy runs the HTTPS policy server with a certificate for
// mta-sts.example.test, its issuer added to roots.
func startPolicy(t *testing.T, roots *x509.CertPool) *policyServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mta-sts.example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"mta-sts.example.test"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	roots.AddCert(c)
	ps := &policyServer{cert: c}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ps.mu.Lock()
		body := ps.body
		ps.mu.Unlock()
		if req.Host != "mta-sts.example.test" || req.URL.Path != "/.well-known/mta-sts.txt" || body == "" {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, body)
	}))
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	_, p, _ := net.SplitHostPort(hs.Listener.Addr().String())
	ps.port, _ = strconv.Atoi(p)
	return ps
}

// run audits arg (a domain or host, on the sandbox's port) through the
// bed's resolver.
func (b *bed) run(t *testing.T, arg string, mod func(*Config), ids ...string) (*Report, error) {
	t.Helper()
	tg, err := ParseTarget(arg, false)
	if err == nil {
		tg, err = tg.WithPort(b.port)
	}
	if err != nil {
		t.Fatal(err)
	}
	r, err := mx.NewResolver(b.dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Target: tg, Resolver: r, RootCAs: b.roots, PolicyPort: b.policy.port,
		ProbeTimeout: 3 * time.Second, MaxTime: time.Minute, Only: ids}
	if mod != nil {
		mod(&cfg)
	}
	return Run(context.Background(), cfg)
}

func (b *bed) one(t *testing.T, arg, id string) Finding {
	t.Helper()
	rep, err := b.run(t, arg, nil, id)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Findings[0]
}

// A DOMAIN goes to its most preferred MX that answers; the report names
// it and the others; with no MX the domain's own address is audited.
func TestDomainGoesToMX(t *testing.T) {
	b := newBed(t, `
solo.test. 60 IN A 127.0.0.1
null.test. 60 IN MX 0 .
; %[1]d %[2]s
`)
	rep, err := b.run(t, "example.test", nil, "banner", "certificate")
	if err != nil {
		t.Fatal(err)
	}
	c := rep.MX
	if c == nil || c.Audited != "mx1.example.test" || c.Addr != net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) ||
		len(c.Others) != 1 || !strings.HasPrefix(c.Others[0], "10 dead.example.test: no answer (127.0.0.2:") {
		t.Fatalf("mx %+v", c)
	}
	// The certificate is checked against the MX host's name.
	want(t, rep.Findings[1], Warn, "* name: matches mx1.example.test", "* chain: verified")
	var text strings.Builder
	if err := WriteText(&text, rep, Plain{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "MX of example.test: audited mx1.example.test at 127.0.0.1:") ||
		!strings.Contains(text.String(), "other MX 10 dead.example.test: no answer") {
		t.Errorf("text report:\n%s", text.String())
	}

	rep, err = b.run(t, "solo.test", nil, "banner")
	if err != nil || rep.MX == nil || !rep.MX.Implicit || rep.MX.Audited != "solo.test" {
		t.Fatalf("implicit MX: %+v %v", rep, err)
	}
	var ue *UnreachableError
	if _, err := b.run(t, "null.test", nil, "banner"); !errors.As(err, &ue) || !errors.Is(err, mx.ErrNullMX) {
		t.Errorf("null MX: %v", err)
	}
	// With the resolver chosen, its NXDOMAIN is final: no system lookup.
	if _, err := b.run(t, "nowhere.test", func(c *Config) { c.ResolverOnly = true }, "banner"); !errors.As(err, &ue) || !errors.Is(err, mx.ErrNoDomain) {
		t.Errorf("NXDOMAIN: %v", err)
	}
	// A port in the argument names one server: no MX lookup.
	before := len(b.dns.Queries())
	tg, _ := ParseTarget(b.srv.Addr(), false)
	r, _ := mx.NewResolver(b.dns.Addr)
	if rep, err := Run(context.Background(), Config{Target: tg, Resolver: r, Only: []string{"banner"}}); err != nil || rep.MX != nil {
		t.Errorf("host:port: %+v %v", rep, err)
	}
	if q := b.dns.Queries()[before:]; len(q) != 0 {
		t.Errorf("host:port asked DNS: %v", q)
	}
}

func TestDANE(t *testing.T) {
	for _, c := range []struct {
		name, zone string
		signed     []string
		st         Status
		evidence   []string
	}{
		{"pass", "_%[1]d._tcp.mx1.example.test. 60 IN TLSA 3 1 1 %[2]s", []string{"example.test"}, Pass,
			[]string{"DNSSEC-validated (AD bit)", "* verdict: DANE-EE record 3 1 1"}},
		{"fail", "_%[1]d._tcp.mx1.example.test. 60 IN TLSA 3 1 1 " + strings.Repeat("ab", 32), []string{"example.test"}, Fail,
			[]string{"* TLSA 3 1 1 abab", "* chain[0] ", "spki sha256 "}},
		{"unsigned", "_%[1]d._tcp.mx1.example.test. 60 IN TLSA 3 1 1 %[2]s", nil, Warn,
			[]string{"not DNSSEC-validated (no AD bit)"}},
		{"none", "; %[1]d %[2]s", []string{"example.test"}, Skip, nil},
		{"insecure MX", "_%[1]d._tcp.mx1.example.test. 60 IN TLSA 3 1 1 %[2]s", []string{"_tcp.mx1.example.test"}, Warn,
			[]string{"DNSSEC-validated (AD bit)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBed(t, c.zone, c.signed...)
			f := b.one(t, "example.test", "dane")
			want(t, f, c.st, c.evidence...)
			if c.name == "insecure MX" && !strings.Contains(f.Summary, "RFC 7672 §2.2.1") {
				t.Errorf("summary %q", f.Summary)
			}
			if c.name == "unsigned" && !strings.Contains(f.Summary, "TLSA present but not DNSSEC-validated: ignored by senders") {
				t.Errorf("summary %q", f.Summary)
			}
			if c.st == Skip && !strings.Contains(f.Summary, "DANE not in use") {
				t.Errorf("summary %q", f.Summary)
			}
			if c.st == Pass {
				want(t, b.one(t, "mx1.example.test", "dane"), Pass) // the MX host given itself
			}
		})
	}
	// An IP address has no TLSA name: nothing is asked.
	b := newBed(t, "; %[1]d %[2]s")
	f := b.one(t, "127.0.0.1", "dane")
	if f.Status != Skip || !strings.Contains(f.Summary, "IP address") || len(b.dns.Queries()) != 0 {
		t.Errorf("%+v %v", f, b.dns.Queries())
	}
}

func TestMTASTS(t *testing.T) {
	const rec = `_mta-sts.example.test. 60 IN TXT "v=STSv1; id=20261206"
_smtp._tls.example.test. 60 IN TXT "v=TLSRPTv1; rua=mailto:tls@example.test"
; %[1]d %[2]s`
	policy := "version: STSv1\nmode: %s\nmx: %s\nmax_age: 86400\n"
	for _, c := range []struct {
		name, body string
		st         Status
		evidence   []string
	}{
		{"pass", fmt.Sprintf(policy, "enforce", "mx1.example.test"), Pass,
			[]string{"* record _mta-sts.example.test: v=STSv1; id=20261206", "* mx: mx1.example.test matches", "* certificate: valid for mx1.example.test", "* TLS-RPT _smtp._tls.example.test: v=TLSRPTv1; rua=mailto:tls@example.test"}},
		{"wildcard", fmt.Sprintf(policy, "enforce", "*.example.test"), Pass, []string{"mx *.example.test"}},
		{"testing", fmt.Sprintf(policy, "testing", "mx1.example.test"), Warn, []string{"mode testing"}},
		{"mismatch", fmt.Sprintf(policy, "enforce", "mx.elsewhere.test"), Fail, []string{"mx mx.elsewhere.test"}},
		{"unfetchable", "", Fail, []string{"* record _mta-sts.example.test"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBed(t, rec)
			b.policy.set(c.body)
			want(t, b.one(t, "example.test", "mta-sts"), c.st, c.evidence...)
		})
	}
	t.Run("untrusted certificate", func(t *testing.T) {
		b := newBed(t, rec)
		b.policy.set(fmt.Sprintf(policy, "enforce", "mx1.example.test"))
		// Only the policy server's root: the MX's certificate does not verify.
		rep, err := b.run(t, "example.test", func(c *Config) {
			c.RootCAs = x509.NewCertPool()
			c.RootCAs.AddCert(b.policy.cert)
		}, "mta-sts")
		if err != nil {
			t.Fatal(err)
		}
		want(t, rep.Findings[0], Fail, "* certificate: x509:")
	})
	t.Run("none", func(t *testing.T) {
		b := newBed(t, "; %[1]d %[2]s")
		f := b.one(t, "example.test", "mta-sts")
		if f.Status != Skip || !strings.Contains(f.Summary, "MTA-STS not in use") {
			t.Errorf("%+v", f)
		}
	})
	t.Run("bare host", func(t *testing.T) {
		b := newBed(t, rec)
		b.policy.set(fmt.Sprintf(policy, "enforce", "mx1.example.test"))
		// A host name with no MX is a server, not a mail domain.
		f := b.one(t, "mx1.example.test", "mta-sts")
		if f.Status != Skip || !strings.Contains(f.Summary, "needs the mail domain: give DOMAIN, or --domain") {
			t.Errorf("%+v", f)
		}
		rep, err := b.run(t, "mx1.example.test", func(c *Config) { c.Domain = "example.test" }, "mta-sts")
		if err != nil {
			t.Fatal(err)
		}
		want(t, rep.Findings[0], Pass, "* mx: mx1.example.test matches")
	})
}

package session

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session/mx"
	"github.com/ehlo-dev/ehlo/session/mx/mxtest"
)

// routeBed is a sandbox named host on 127.0.0.1 and its DNS.
type routeBed struct {
	srv  *sandbox.Server
	port int
	spki string // sha256 of the sandbox certificate's key, for 3 1 1
	cert *x509.Certificate
}

func newRouteBed(t *testing.T, host string) *routeBed {
	t.Helper()
	srv, err := sandbox.New(sandbox.Config{Listen: "127.0.0.1:0", TLSListen: "-", Hostname: host})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	_, p, _ := net.SplitHostPort(srv.Addr())
	b := &routeBed{srv: srv}
	b.port, _ = strconv.Atoi(p)
	blk, _ := pem.Decode(srv.CertPEM())
	if b.cert, err = x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b.cert.RawSubjectPublicKeyInfo)
	b.spki = hex.EncodeToString(sum[:])
	return b
}

type infoLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *infoLog) add(k InfoKind, s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%d %s", k, s))
}

func (l *infoLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (b *routeBed) send(t *testing.T, zone string, rc RouteConfig, signed ...string) (*SendResult, *mx.Report, *infoLog) {
	t.Helper()
	return b.sendAuth(t, zone, rc, "", "", signed...)
}

func (b *routeBed) sendAuth(t *testing.T, zone string, rc RouteConfig, user, pass string, signed ...string) (*SendResult, *mx.Report, *infoLog) {
	t.Helper()
	dns := mxtest.Start(t, zone, signed...)
	r, err := mx.NewResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	rc.Resolver, rc.ResolverName = r, dns.Addr
	log := &infoLog{}
	cfg := SendConfig{
		Port: b.port, Kind: protocol.SMTP, Helo: "client.test", Timeout: 5 * time.Second,
		From: "a@client.test", HasFrom: true, To: []string{"b@" + rc.Domain},
		Message: strings.NewReader("Subject: route\r\n\r\nhello\r\n"), Info: log.add,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if user != "" {
		cfg.AuthMech, cfg.AuthUser, cfg.AuthPassword = "PLAIN", user, pass
	}
	res, rep := SendRoute(context.Background(), cfg, rc)
	return res, rep, log
}

func mustContain(t *testing.T, log fmt.Stringer, want ...string) {
	t.Helper()
	s := log.String()
	at := 0
	for _, w := range want {
		i := strings.Index(s[at:], w)
		if i < 0 {
			t.Errorf("missing (in order) %q in:\n%s", w, s)
			return
		}
		at += i + len(w)
	}
}

// RFC 5321 §5.1: by preference, the next MX when one cannot be reached,
// and the domain itself when it has no MX.
func TestSendRouteMXOrderAndFallback(t *testing.T) {
	b := newRouteBed(t, "mx1.example.test")
	zone := `
example.test. 60 IN MX 20 mx1.example.test.
example.test. 60 IN MX 10 dead.example.test.
example.test. 60 IN MX 30 gone.example.test.
dead.example.test. 60 IN A 127.0.0.2
mx1.example.test. 60 IN A 127.0.0.1
implicit.test. 60 IN A 127.0.0.1
`
	res, rep, log := b.send(t, zone, RouteConfig{Domain: "example.test"})
	if res.Err != nil {
		t.Fatalf("%v\n%s", res.Err, log)
	}
	p := strconv.Itoa(b.port)
	mustContain(t, log,
		"MX 10 dead.example.test: 127.0.0.2 (DNSSEC: not authenticated)",
		"MX 20 mx1.example.test: 127.0.0.1",
		"MX 30 gone.example.test: no A or AAAA record",
		"MX 10 dead.example.test: trying 127.0.0.2 port "+p,
		"dead.example.test [127.0.0.2]: ", "trying the next address or MX",
		"MX 20 mx1.example.test: trying 127.0.0.1 port "+p)
	if len(rep.Attempts) != 2 || rep.Attempts[1].Result != "ok (exit 0)" || b.srv.Mailbox().Len() != 1 {
		t.Errorf("attempts %+v, %d stored", rep.Attempts, b.srv.Mailbox().Len())
	}

	res, _, log = b.send(t, zone, RouteConfig{Domain: "implicit.test"})
	if res.Err != nil || b.srv.Mailbox().Len() != 2 {
		t.Fatalf("%v\n%s", res.Err, log)
	}
	mustContain(t, log, "implicit.test (no MX: the domain's own address, RFC 5321 §5.1): trying 127.0.0.1")

	res, _, log = b.send(t, "only.test. 60 IN MX 10 dead.only.test.\ndead.only.test. 60 IN A 127.0.0.2\n", RouteConfig{Domain: "only.test"})
	if res.ExitCode() != 2 || strings.Contains(log.String(), "trying the next") {
		t.Errorf("every MX unreachable: exit %d (%v), want 2 and no \"trying the next\"\n%s", res.ExitCode(), res.Err, log)
	}
	res, _, _ = b.send(t, "none.test. 60 IN MX 10 gone.none.test.\n", RouteConfig{Domain: "none.test"})
	if res.ExitCode() != 2 || !strings.Contains(res.Err.Error(), "no MX host could be used: gone.none.test: no A or AAAA record") {
		t.Errorf("no MX with an address: exit %d (%v), want 2", res.ExitCode(), res.Err)
	}
}

func daneZone(b *routeBed, tlsa string) string {
	return fmt.Sprintf(`
dane.test. 60 IN MX 10 mx1.dane.test.
mx1.dane.test. 60 IN A 127.0.0.1
_%d._tcp.mx1.dane.test. 60 IN TLSA %s
`, b.port, tlsa)
}

// RFC 7672: authenticated TLSA records make TLS mandatory and replace the
// certificate authorities (the sandbox's self-signed certificate has no
// trusted root here); a mismatch refuses the mail with exit 29.
func TestSendRouteDANE(t *testing.T) {
	b := newRouteBed(t, "mx1.dane.test")
	res, rep, log := b.send(t, daneZone(b, "3 1 1 "+b.spki), RouteConfig{Domain: "dane.test"}, "dane.test")
	if res.Err != nil {
		t.Fatalf("%v\n%s", res.Err, log)
	}
	mustContain(t, log, "DANE: _"+strconv.Itoa(b.port)+"._tcp.mx1.dane.test TLSA 3 1 1 "+b.spki+" (DNSSEC: authenticated): TLS required",
		"DANE: verified: DANE-EE record 3 1 1")
	if a := rep.Attempts[0]; !a.DANE || a.Verdict == nil || a.Verdict.Status != mx.Verified {
		t.Errorf("attempt %+v", a)
	}
	if msgs := b.srv.Mailbox().Messages(); len(msgs) != 1 || !msgs[0].TLS {
		t.Errorf("stored %+v, want one message over TLS (DANE makes STARTTLS mandatory)", msgs)
	}

	// AUTH over a DANE-verified connection is not "NOT VERIFIED".
	for u, p := range sandbox.DefaultUsers() {
		res, _, log = b.sendAuth(t, daneZone(b, "3 1 1 "+b.spki), RouteConfig{Domain: "dane.test"}, u, p, "dane.test")
		if res.Err != nil || strings.Contains(log.String(), "NOT VERIFIED") {
			t.Errorf("AUTH under DANE: %v\n%s", res.Err, log)
		}
		break
	}

	// RFC 7672 §2.2: only unusable records (PKIX-EE): TLS still required,
	// nothing authenticated, and said so.
	res, _, log = b.send(t, daneZone(b, "1 1 1 "+b.spki), RouteConfig{Domain: "dane.test"}, "dane.test")
	if res.Err != nil {
		t.Fatalf("unusable: %v\n%s", res.Err, log)
	}
	mustContain(t, log, "DANE: none of the 1 TLSA records is usable for SMTP")
	if msgs := b.srv.Mailbox().Messages(); !msgs[len(msgs)-1].TLS {
		t.Error("unusable TLSA records: the message went without TLS")
	}

	wrong := "3 1 1 " + strings.Repeat("ab", 32)
	res, rep, log = b.send(t, daneZone(b, wrong), RouteConfig{Domain: "dane.test"}, "dane.test")
	if res.ExitCode() != 29 || !strings.Contains(res.Err.Error(), "DANE verification failed: no TLSA record matches") {
		t.Errorf("mismatch: exit %d, %v\n%s", res.ExitCode(), res.Err, log)
	}
	if a := rep.Attempts[0]; a.Verdict == nil || a.Verdict.Status != mx.Failed {
		t.Errorf("attempt %+v", a)
	}
	if b.srv.Mailbox().Len() != 3 {
		t.Errorf("%d stored, want the three before the mismatch", b.srv.Mailbox().Len())
	}
}

// A TLSA record in an unsigned zone is ignored, and said so; with
// --tls-verify dane the host is then not used.
func TestSendRouteTLSAUnsigned(t *testing.T) {
	b := newRouteBed(t, "mx1.dane.test")
	wrong := "3 1 1 " + strings.Repeat("ab", 32)
	res, rep, log := b.send(t, daneZone(b, wrong), RouteConfig{Domain: "dane.test"})
	if res.Err != nil {
		t.Fatalf("%v\n%s", res.Err, log)
	}
	mustContain(t, log, "ignored: the TLSA answer is not DNSSEC-authenticated")
	if rep.Attempts[0].DANE {
		t.Errorf("DANE applied: %+v", rep.Attempts[0])
	}
	res, _, log = b.send(t, daneZone(b, wrong), RouteConfig{Domain: "dane.test", RequireDANE: true})
	if res.ExitCode() != 29 || !strings.Contains(res.Err.Error(), "--tls-verify dane") {
		t.Errorf("required: exit %d %v\n%s", res.ExitCode(), res.Err, log)
	}
	if b.srv.Mailbox().Len() != 1 {
		t.Errorf("%d stored", b.srv.Mailbox().Len())
	}
}

// RFC 7672 §2.2: a signed host whose TLSA lookup fails (bogus) is passed
// over; the next MX takes the mail.
func TestSendRouteTLSAServFail(t *testing.T) {
	b := newRouteBed(t, "mx2.dane.test")
	zone := daneZone(b, "3 1 1 "+b.spki) + "dane.test. 60 IN MX 20 mx2.dane.test.\nmx2.dane.test. 60 IN A 127.0.0.1\n"
	dns := mxtest.Start(t, zone, "dane.test")
	dns.ServFail(fmt.Sprintf("_%d._tcp.mx1.dane.test", b.port))
	r, _ := mx.NewResolver(dns.Addr)
	log := &infoLog{}
	res, rep := SendRoute(context.Background(), SendConfig{
		Port: b.port, Helo: "client.test", Timeout: 5 * time.Second, From: "a@client.test", HasFrom: true,
		To: []string{"b@dane.test"}, Message: strings.NewReader("Subject: x\r\n\r\nx\r\n"), Info: log.add,
	}, RouteConfig{Resolver: r, Domain: "dane.test"})
	if res.Err != nil || rep.Attempts[0].Skipped == "" || rep.Attempts[1].Host != "mx2.dane.test" {
		t.Fatalf("%v %+v\n%s", res.Err, rep.Attempts, log)
	}
	mustContain(t, log, "DANE: mx1.dane.test: the TLSA lookup failed", "SERVFAIL", "MX 20 mx2.dane.test: trying 127.0.0.1")
}

// RFC 8461: an enforced policy requires TLS verified for the MX name and
// passes over an MX the policy does not list.
func TestSendRouteMTASTS(t *testing.T) {
	b := newRouteBed(t, "mx1.sts.test")
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/mta-sts.txt", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "version: STSv1\nmode: enforce\nmx: mx1.sts.test\nmax_age: 86400\n")
	})
	hs := httptest.NewTLSServer(mux)
	defer hs.Close()
	_, hp, _ := net.SplitHostPort(hs.Listener.Addr().String())
	hport, _ := strconv.Atoi(hp)
	zone := `
sts.test. 60 IN MX 10 other.sts.test.
sts.test. 60 IN MX 20 mx1.sts.test.
other.sts.test. 60 IN A 127.0.0.1
mx1.sts.test. 60 IN A 127.0.0.1
mta-sts.sts.test. 60 IN A 127.0.0.1
_mta-sts.sts.test. 60 IN TXT "v=STSv1; id=1"
_smtp._tls.sts.test. 60 IN TXT "v=TLSRPTv1; rua=mailto:rpt@sts.test"
`
	dns := mxtest.Start(t, zone)
	r, _ := mx.NewResolver(dns.Addr)
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	roots.AddCert(b.cert)
	client := mx.HTTPClient(r, roots, 5*time.Second, hport)
	client.Transport.(*http.Transport).TLSClientConfig.ServerName = "example.com" // httptest's name
	log := &infoLog{}
	cfg := SendConfig{
		Port: b.port, Helo: "client.test", Timeout: 5 * time.Second, From: "a@client.test", HasFrom: true,
		To: []string{"b@sts.test"}, Message: strings.NewReader("Subject: x\r\n\r\nx\r\n"), Info: log.add,
		TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}
	res, rep := SendRoute(context.Background(), cfg, RouteConfig{Resolver: r, Domain: "sts.test", HTTP: client})
	if res.Err != nil {
		t.Fatalf("%v\n%s", res.Err, log)
	}
	mustContain(t, log, `MTA-STS: _mta-sts.sts.test TXT "v=STSv1; id=1"`, "mode enforce, mx mx1.sts.test",
		`TLS-RPT: _smtp._tls.sts.test TXT "v=TLSRPTv1; rua=mailto:rpt@sts.test"`,
		"MTA-STS (enforce): other.sts.test matches no mx of the policy (mx1.sts.test); not used",
		"MTA-STS (enforce): mx1.sts.test matches the policy: TLS required")
	if rep.MTASTS.Policy == nil || rep.Attempts[0].MTASTS != "mismatch" || rep.Attempts[1].MTASTS != "match" {
		t.Errorf("report %+v", rep)
	}
	if msgs := b.srv.Mailbox().Messages(); len(msgs) != 1 || !msgs[0].TLS {
		t.Errorf("stored %+v, want one message over TLS", msgs)
	}

	// The same policy with only the unlisted MX: refused, exit 29.
	zone2 := strings.Replace(zone, "sts.test. 60 IN MX 20 mx1.sts.test.\n", "", 1)
	dns2 := mxtest.Start(t, zone2)
	r2, _ := mx.NewResolver(dns2.Addr)
	cfg.Message = strings.NewReader("Subject: x\r\n\r\nx\r\n")
	client2 := mx.HTTPClient(r2, roots, 5*time.Second, hport)
	client2.Transport.(*http.Transport).TLSClientConfig.ServerName = "example.com"
	res, _ = SendRoute(context.Background(), cfg, RouteConfig{Resolver: r2, Domain: "sts.test", HTTP: client2})
	if res.ExitCode() != 29 || !strings.Contains(res.Err.Error(), "no MX host could be used: other.sts.test: MTA-STS (enforce)") {
		t.Errorf("exit %d %v", res.ExitCode(), res.Err)
	}
}

// Hostile zones cost bounded work: at most mx.MaxHosts hosts looked up and
// MaxAttempts connections made.
func TestSendRouteBounded(t *testing.T) {
	b := newRouteBed(t, "mx.many.test")
	var zone strings.Builder
	for i := range 30 {
		fmt.Fprintf(&zone, "many.test. 60 IN MX %d mx%d.many.test.\nmx%d.many.test. 60 IN A 127.0.1.%d\nmx%d.many.test. 60 IN A 127.0.2.%d\n", i, i, i, i+1, i, i+1)
	}
	res, rep, log := b.send(t, zone.String(), RouteConfig{Domain: "many.test"})
	if res.ExitCode() != 2 || len(rep.Hosts) != mx.MaxHosts || len(rep.Attempts) != MaxAttempts {
		t.Errorf("exit %d, %d hosts, %d attempts\n%s", res.ExitCode(), len(rep.Hosts), len(rep.Attempts), log)
	}
	mustContain(t, log, "stopped after 10 connection attempts")
}

// RFC 8461 §5: a policy that cannot be fetched is as none; mode testing
// enforces nothing.
func TestSendRouteMTASTSNotEnforced(t *testing.T) {
	b := newRouteBed(t, "mx1.sts.test")
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/mta-sts.txt", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "version: STSv1\nmode: testing\nmx: elsewhere.test\nmax_age: 86400\n")
	})
	hs := httptest.NewTLSServer(mux)
	defer hs.Close()
	_, hp, _ := net.SplitHostPort(hs.Listener.Addr().String())
	hport, _ := strconv.Atoi(hp)
	zone := `
sts.test. 60 IN MX 10 mx1.sts.test.
mx1.sts.test. 60 IN A 127.0.0.1
mta-sts.sts.test. 60 IN A 127.0.0.1
_mta-sts.sts.test. 60 IN TXT "v=STSv1; id=1"
`
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	for _, tc := range []struct {
		name  string
		port  int
		roots *x509.CertPool
		want  string
	}{
		{"testing", hport, roots, "MTA-STS (testing): mx1.sts.test: mismatch; nothing enforced"},
		{"unreachable", 1, roots, "delivering as without MTA-STS (RFC 8461 §5)"},
		{"untrusted certificate", hport, x509.NewCertPool(), "certificate signed by unknown authority; delivering as without MTA-STS"},
	} {
		dns := mxtest.Start(t, zone)
		r, _ := mx.NewResolver(dns.Addr)
		client := mx.HTTPClient(r, tc.roots, 5*time.Second, tc.port)
		client.Transport.(*http.Transport).TLSClientConfig.ServerName = "example.com"
		log := &infoLog{}
		res, _ := SendRoute(context.Background(), SendConfig{
			Port: b.port, Helo: "client.test", Timeout: 5 * time.Second, From: "a@client.test", HasFrom: true,
			To: []string{"b@sts.test"}, Message: strings.NewReader("Subject: x\r\n\r\nx\r\n"), Info: log.add,
		}, RouteConfig{Resolver: r, Domain: "sts.test", HTTP: client})
		if res.Err != nil {
			t.Errorf("%s: %v\n%s", tc.name, res.Err, log)
		}
		mustContain(t, log, tc.want)
	}
	if n := b.srv.Mailbox().Len(); n != 3 {
		t.Errorf("%d delivered, want 3", n)
	}
}

// Ctrl+C while the resolver does not answer ends the send at once, as an
// interrupt (exit 130), not at the lookup's timeout with exit 2.
func TestSendRouteInterruptedDuringTheLookup(t *testing.T) {
	r, err := mx.NewResolver(mxtest.Silent(t))
	if err != nil {
		t.Fatal(err)
	}
	r.Timeout = 20 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res, _ := SendRoute(ctx, SendConfig{Kind: protocol.SMTP, Helo: "client.test", Timeout: 20 * time.Second,
		From: "a@x.test", HasFrom: true, To: []string{"b@x.test"}}, RouteConfig{Resolver: r, ResolverName: "test", Domain: "x.test"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the send ended %s after it began; the interrupt came at 100ms", d.Round(time.Millisecond))
	}
	if !errors.Is(res.Err, ErrInterrupted) || res.ExitCode() != ExitInterrupted {
		t.Errorf("result %v (exit %d), want interrupted (exit %d)", res.Err, res.ExitCode(), ExitInterrupted)
	}
}

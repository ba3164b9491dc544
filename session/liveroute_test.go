package session

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
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

// planLive is a Live on the route DNS gives for dane.test: the sandbox
// behind mx1.dane.test, with TLSA data tlsa in a signed zone.
func planLive(t *testing.T, b *routeBed, tlsa string) (*harness, *Route) {
	t.Helper()
	return routeLive(t, b.srv, daneZone(b, tlsa)+"dead.dane.test. 60 IN A 127.0.0.2\n", "dane.test", b.port, "dane.test")
}

// A TUI session reached through DNS carries the route in its snapshots:
// the MX, the authenticated TLSA records, and DANE's verdict on the
// handshake, which alone verifies the sandbox's certificate here.
func TestPlanLiveDANE(t *testing.T) {
	b := newRouteBed(t, "mx1.dane.test")
	h, route := planLive(t, b, "3 1 1 "+b.spki)
	if route.Host.Name != "mx1.dane.test" || !route.DANE() || !route.TLSRequired || route.DANEVerdict() != "" {
		t.Fatalf("route %+v", route)
	}
	if s := h.l.Snapshot(); s.Route == nil || s.Route.Attempt.TLSA == nil || !s.Route.Attempt.TLSA.Secure {
		t.Fatalf("the first snapshot has no route: %+v", s.Route)
	}
	h.call("Connect", h.l.Connect)
	h.call("StartTLS", h.l.StartTLS)
	s := h.settle()
	h.noError(s)
	if s.TLS == nil || !s.TLS.Verified || s.TLS.Pinned || s.Route.Attempt.Verdict == nil || s.Route.Attempt.Verdict.Status != mx.Verified ||
		!strings.HasPrefix(s.Route.DANEVerdict(), "DANE-EE record 3 1 1") {
		t.Errorf("after STARTTLS: TLS %+v, route %+v", s.TLS, s.Route)
	}
	if s.Server != "127.0.0.1:"+strconv.Itoa(b.port) {
		t.Errorf("connected to %q", s.Server)
	}

	b2 := newRouteBed(t, "mx1.dane.test")
	h2, _ := planLive(t, b2, "3 1 1 "+strings.Repeat("ab", 32))
	h2.call("Connect", h2.l.Connect)
	h2.call("StartTLS", h2.l.StartTLS)
	s = h2.settle()
	if s.State.TLS || s.TLS == nil || s.TLS.Complete || !strings.Contains(s.TLS.Error, "DANE verification failed: no TLSA record matches") ||
		s.Route.Attempt.Verdict == nil || s.Route.Attempt.Verdict.Status != mx.Failed {
		t.Errorf("mismatch: TLS %v, summary %+v, route %+v", s.State.TLS, s.TLS, s.Route)
	}
	// The pin cannot get past DANE: the TLSA check still runs.
	if err := h2.l.TrustCertificate(s.TLS.Chain[0].SHA256); err != nil {
		t.Fatal(err)
	}
	if s = h2.settle(); s.State.TLS || s.TLS.Pinned || !strings.Contains(s.TLS.Error, "DANE verification failed") {
		t.Errorf("a pin under a DANE mismatch: TLS %v, summary %+v", s.State.TLS, s.TLS)
	}
}

// routeLive is a Live on the route zone gives for domain.
func routeLive(t *testing.T, srv *sandbox.Server, zone, domain string, port int, signed ...string) (*harness, *Route) {
	t.Helper()
	dns := mxtest.Start(t, zone, signed...)
	r, err := mx.NewResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := LiveConfig{Server: "ignored", Port: port, Kind: protocol.SMTP, Options: protocol.Options{
		Timeout: 5 * time.Second, LocalHostname: "client.test", TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	}}
	cfg, route, err := PlanLive(context.Background(), cfg, RouteConfig{Resolver: r, ResolverName: dns.Addr, Domain: domain})
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(route.Lines, "\n"))
	}
	l := NewLive(cfg)
	h := &harness{t: t, l: l, log: &eventLog{}, srv: srv}
	l.Capture().Add(h.log)
	t.Cleanup(func() { l.Close() })
	return h, route
}

// An interactive session through DNS falls back as `ehlo send` does: the
// first MX does not answer, so Connect moves on to the second, and the
// session is on that host with that host's TLS plan (its DANE record
// alone can verify the sandbox's certificate). The TLS requirement of a
// later host is known before connecting, so the TUI upgrades whichever
// host answers.
func TestPlanLiveFallsBackToTheNextMX(t *testing.T) {
	b := newRouteBed(t, "mx1.dane.test")
	zone := fmt.Sprintf(`
dane.test. 60 IN MX 10 dead.dane.test.
dane.test. 60 IN MX 20 mx1.dane.test.
dead.dane.test. 60 IN A 127.0.0.2
mx1.dane.test. 60 IN A 127.0.0.1
_%d._tcp.mx1.dane.test. 60 IN TLSA 3 1 1 %s
`, b.port, b.spki)
	h, route := routeLive(t, b.srv, zone, "dane.test", b.port, "dane.test")
	if route.Host.Name != "dead.dane.test" || route.TLSRequired || !route.AnyTLSRequired() {
		t.Fatalf("planned route: host %s, TLS required %v, by any host %v", route.Host.Name, route.TLSRequired, route.AnyTLSRequired())
	}
	h.call("Connect", h.l.Connect)
	h.call("StartTLS", h.l.StartTLS)
	s := h.settle()
	h.noError(s)
	want := "dead.dane.test [127.0.0.2]: "
	if notes := strings.Join(h.log.notes(), "\n"); !strings.Contains(notes, want) || !strings.Contains(notes, "; trying the next address or MX") {
		t.Errorf("notes %q, want the failure at %q and the move to the next", notes, want)
	}
	if s.Server != "127.0.0.1:"+strconv.Itoa(b.port) || s.Route.Host.Name != "mx1.dane.test" || !s.Route.TLSRequired || s.Route.Attempt.Addr != "127.0.0.1" {
		t.Errorf("after the fallback: server %s, route host %s (TLS required %v, addr %s)", s.Server, s.Route.Host.Name, s.Route.TLSRequired, s.Route.Attempt.Addr)
	}
	if s.TLS == nil || !s.TLS.Verified || s.Route.Attempt.Verdict == nil || s.Route.Attempt.Verdict.Status != mx.Verified {
		t.Errorf("STARTTLS on the second MX: TLS %+v, verdict %+v", s.TLS, s.Route.Attempt.Verdict)
	}

	// /connect again starts from the first host, and says so again.
	before := len(h.log.notes())
	h.call("Connect", h.l.Connect)
	s = h.settle()
	h.noError(s)
	if got := strings.Join(h.log.notes()[before:], "\n"); !strings.Contains(got, want) || s.Route.Host.Name != "mx1.dane.test" {
		t.Errorf("reconnecting: notes %q, host %s", got, s.Route.Host.Name)
	}
}

// A greeting other than 220 passes the host over too (RFC 5321 §5.1, as
// SendRoute does); the last failure is the error when none answers.
func TestPlanLiveFallsBackOnABadGreeting(t *testing.T) {
	refusing, good, port := portPair(t,
		sandbox.Config{Listen: "127.0.0.3:0", TLSListen: "-", Hostname: "refuse.plain.test",
			Faults: []sandbox.Fault{mustFault(t, "reply:greeting=554 5.3.2 No SMTP service here")}},
		sandbox.Config{Listen: "127.0.0.4:0", TLSListen: "-", Hostname: "good.plain.test"})
	_ = refusing
	p := strconv.Itoa(port)

	zone := `
plain.test. 60 IN MX 10 refuse.plain.test.
plain.test. 60 IN MX 20 good.plain.test.
refuse.plain.test. 60 IN A 127.0.0.3
good.plain.test. 60 IN A 127.0.0.4
`
	h, route := routeLive(t, good, zone, "plain.test", port)
	if route.AnyTLSRequired() {
		t.Fatal("an unsigned zone without MTA-STS requires TLS")
	}
	h.call("Connect", h.l.Connect)
	s := h.settle()
	h.noError(s)
	if notes := strings.Join(h.log.notes(), "\n"); !strings.Contains(notes, "refuse.plain.test [127.0.0.3]: ") || !strings.Contains(notes, "554") {
		t.Errorf("notes %q, want the 554 of the first MX", notes)
	}
	if !s.Connected || s.Route.Host.Name != "good.plain.test" || s.Server != "127.0.0.4:"+p {
		t.Errorf("connected %v to %s (%s)", s.Connected, s.Server, s.Route.Host.Name)
	}

	// None answers: the last failure is the error, every one before it
	// a note.
	good.Close()
	h.call("Connect", h.l.Connect)
	s = h.settle()
	if s.Connected || !strings.Contains(s.LastError, "connection refused") {
		t.Errorf("no host answering: connected %v, error %q", s.Connected, s.LastError)
	}
}

// At most MaxAttempts connections, as SendRoute makes.
func TestPlanLiveStopsAfterMaxAttempts(t *testing.T) {
	b := newRouteBed(t, "mx1.plain.test")
	var zone strings.Builder
	zone.WriteString("plain.test. 60 IN MX 10 many.plain.test.\nplain.test. 60 IN MX 20 mx1.plain.test.\nmx1.plain.test. 60 IN A 127.0.0.1\n")
	for i := range MaxAttempts {
		fmt.Fprintf(&zone, "many.plain.test. 60 IN A 127.0.1.%d\n", i+1)
	}
	h, _ := routeLive(t, b.srv, zone.String(), "plain.test", b.port)
	h.call("Connect", h.l.Connect)
	s := h.settle()
	notes := strings.Join(h.log.notes(), "\n")
	if s.Connected || !strings.Contains(notes, "stopped after 10 connection attempts") || strings.Contains(notes, "mx1.plain.test") {
		t.Errorf("connected %v; notes %q", s.Connected, notes)
	}
	if n := strings.Count(notes, "; trying the next address or MX"); n != MaxAttempts-1 {
		t.Errorf("%d moves to the next address, want %d", n, MaxAttempts-1)
	}
}

// portPair starts two sandboxes on one port (every host of a route is
// tried on the same one), at the addresses of a and b.
func portPair(t *testing.T, a, b sandbox.Config) (*sandbox.Server, *sandbox.Server, int) {
	t.Helper()
	host, _, _ := net.SplitHostPort(b.Listen)
	for try := 0; ; try++ {
		first, err := sandbox.New(a)
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := net.SplitHostPort(first.Addr())
		b.Listen = net.JoinHostPort(host, p)
		second, err := sandbox.New(b)
		if err != nil {
			first.Close()
			if try == 10 {
				t.Fatalf("no port free on both %s and %s: %v", a.Listen, host, err)
			}
			continue
		}
		first.Start()
		second.Start()
		t.Cleanup(func() { first.Close(); second.Close() })
		port, _ := strconv.Atoi(p)
		return first, second, port
	}
}

// lockedBuffer is a sandbox log read while the server writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Cancel while the first MX keeps the connection silent ends the
// fallback there: the next host is never tried.
func TestPlanLiveCancelStopsTheFallback(t *testing.T) {
	var nextLog lockedBuffer
	_, next, port := portPair(t,
		sandbox.Config{Listen: "127.0.0.5:0", TLSListen: "-", Faults: []sandbox.Fault{mustFault(t, "silent")}},
		sandbox.Config{Listen: "127.0.0.6:0", TLSListen: "-", Log: &nextLog})
	zone := `
plain.test. 60 IN MX 10 silent.plain.test.
plain.test. 60 IN MX 20 next.plain.test.
silent.plain.test. 60 IN A 127.0.0.5
next.plain.test. 60 IN A 127.0.0.6
`
	h, _ := routeLive(t, next, zone, "plain.test", port)
	h.call("Connect", h.l.Connect)
	h.waitFor("the silent MX's greeting to be awaited", func(s Snapshot) bool {
		return s.Busy && strings.HasPrefix(s.Server, "127.0.0.5:")
	})
	h.l.mu.Lock()
	old := h.l.cur
	h.l.mu.Unlock()
	h.call("Cancel", h.l.Cancel)
	select {
	case <-old.exited:
	case <-time.After(waitLimit):
		t.Fatal("the abandoned worker never ended")
	}
	next.FlushLog()
	if s := h.l.Snapshot(); s.Connected || nextLog.String() != "" {
		t.Errorf("after Cancel: connected %v; the next MX's log %q", s.Connected, nextLog.String())
	}
	if notes := strings.Join(h.log.notes(), "\n"); strings.Contains(notes, "trying the next") || !strings.Contains(notes, "cancelled: gave up connecting after ") {
		t.Errorf("notes after Cancel: %q", notes)
	}
}

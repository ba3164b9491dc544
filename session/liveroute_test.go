package session

import (
	"context"
	"crypto/tls"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session/mx"
	"github.com/ehlo-dev/ehlo/session/mx/mxtest"
)

// planLive is a Live on the route DNS gives for dane.test: the sandbox
// behind mx1.dane.test, with TLSA data tlsa in a signed zone.
func planLive(t *testing.T, b *routeBed, tlsa string) (*harness, *Route) {
	t.Helper()
	dns := mxtest.Start(t, daneZone(b, tlsa)+"dead.dane.test. 60 IN A 127.0.0.2\n", "dane.test")
	r, err := mx.NewResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := LiveConfig{Server: "ignored", Port: b.port, Kind: protocol.SMTP, Options: protocol.Options{
		Timeout: 5 * time.Second, LocalHostname: "client.test", TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	}}
	cfg, route, err := PlanLive(context.Background(), cfg, RouteConfig{Resolver: r, ResolverName: dns.Addr, Domain: "dane.test"})
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(route.Lines, "\n"))
	}
	l := NewLive(cfg)
	h := &harness{t: t, l: l, log: &eventLog{}, srv: b.srv}
	l.Capture().Add(h.log)
	t.Cleanup(func() { l.Close() })
	return h, route
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

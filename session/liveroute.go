package session

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session/mx"
)

// Route is how a Live conversation found its server through DNS, for the
// Connection pane: what the lookups said (Report: the MX hosts, MTA-STS,
// TLS-RPT), the host chosen and, in Attempt, its TLSA lookup, whether DANE
// applies, whether it matches the MTA-STS policy and DANE's verdict on the
// last handshake. Lines are the lookups step by step, as `ehlo send`
// prints them. A Snapshot's Route is a copy: read-only.
type Route struct {
	Report  *mx.Report
	Host    mx.Host
	Attempt mx.Attempt
	Lines   []string
	// TLSRequired: DANE or an enforced MTA-STS policy applies, so the
	// connection must be upgraded (RFC 7672 §2.2, RFC 8461 §4.2).
	TLSRequired bool

	at    *mx.Attempt // the verdict's owner: hostConfig's check writes it
	hosts []liveHost  // the usable hosts, in the order Connect tries them
}

// PlanLive finds the server for cfg through DNS as SendRoute does (the MX
// hosts of rc.Domain in preference order, or rc.Host) and secures it as
// SendRoute would (DANE when authenticated TLSA records exist, else an
// enforced MTA-STS policy): cfg comes back pointed at the first address of
// the first host that may be used, with that host's TLS configuration,
// and its Snapshots carry the Route. Connect tries that address first and,
// when it does not answer or greets with anything but 220, the next
// address or usable host, as SendRoute does (at most MaxAttempts); each
// one passed over is a note in the conversation. The hosts passed over by
// DANE or MTA-STS, and why, are in Route.Lines.
func PlanLive(ctx context.Context, cfg LiveConfig, rc RouteConfig) (LiveConfig, *Route, error) {
	r := &Route{Report: &mx.Report{Domain: rc.Domain, Resolver: rc.ResolverName}}
	info := func(k InfoKind, s string) {
		if k == Warning {
			s = "warning: " + s
		}
		r.Lines = append(r.Lines, s)
	}
	hosts, err := routeHosts(ctx, rc, info)
	if err != nil {
		return cfg, r, err
	}
	r.Report.Hosts = hosts
	if rc.Domain != "" {
		r.Report.MTASTS, r.Report.TLSRPT = routePolicy(ctx, rc, info)
	}
	sc := SendConfig{Kind: cfg.Kind, Port: cfg.Port, TLSConfig: cfg.Options.TLSConfig}
	var skipped []string
	for _, h := range hosts {
		at := planHost(ctx, sc, rc, r.Report, h, info)
		if at.Skipped != "" || len(h.Addrs) == 0 {
			skipped = append(skipped, h.Name+": "+at.Skipped)
			continue
		}
		at.Addr = h.Addrs[0].String()
		hc := hostConfig(sc, rc, h, at, info)
		r.hosts = append(r.hosts, liveHost{
			host: h, at: at, tls: hc.TLSConfig,
			tlsRequired: at.DANE || (at.MTASTS == "match" && r.Report.MTASTS.Enforced() != nil),
		})
	}
	if len(r.hosts) == 0 {
		return cfg, r, fmt.Errorf("no MX host can be used: %s", strings.Join(skipped, "; "))
	}
	first := r.hosts[0]
	info(Info, fmt.Sprintf("%s: connecting to %s port %d", hostLabel(first.host, rc), first.at.Addr, first.at.Port))
	r.use(first, first.host.Addrs[0])
	cfg.Server, cfg.Port = r.server(first.host.Addrs[0]), 0
	cfg.Options.TLSConfig = first.tls
	cfg.route = r
	return cfg, r.snapshot(), nil
}

// liveHost is a host PlanLive may connect to, with its TLS plan.
type liveHost struct {
	host        mx.Host
	at          *mx.Attempt // its TLSA findings; the handshake's check writes the verdict here
	tls         *tls.Config // hostConfig's: its name, and DANE's check in place of the CAs
	tlsRequired bool
}

// use makes h, at address a, the host the route is on.
func (r *Route) use(h liveHost, a netip.Addr) {
	h.at.Addr = a.String()
	r.Host, r.at, r.TLSRequired = h.host, h.at, h.tlsRequired
}

// server is the address to dial for a of the route's current host.
func (r *Route) server(a netip.Addr) string {
	return netip.AddrPortFrom(a, uint16(r.at.Port)).String()
}

// AnyTLSRequired says that DANE or an enforced MTA-STS policy requires TLS
// of at least one of the hosts Connect may reach, so the session should
// upgrade as soon as it connects: whichever host answers, TLS is tried.
func (r *Route) AnyTLSRequired() bool {
	if r == nil {
		return false
	}
	for _, h := range r.hosts {
		if h.tlsRequired {
			return true
		}
	}
	return false
}

// snapshot copies r as it stands, the verdict of the last handshake
// included. Called on the worker goroutine, which runs the handshakes
// that write the verdict.
func (r *Route) snapshot() *Route {
	if r == nil {
		return nil
	}
	c := *r
	if r.at != nil {
		c.Attempt = *r.at
		if v := r.at.Verdict; v != nil {
			vc := *v
			c.Attempt.Verdict = &vc
		}
	}
	c.at = nil
	return &c
}

// daneVerified says the handshake e passed DANE on this route: the TLSA
// records, not a certificate authority, verified the server.
func (r *Route) daneVerified(e protocol.Event) bool {
	return r != nil && r.at != nil && r.at.DANE && e.TLSErr == nil && r.at.Verdict != nil && r.at.Verdict.Status == mx.Verified
}

// DANE says DANE applies on this route: the host's TLSA records are
// DNSSEC-authenticated, so they, not certificate authorities, decide.
// False for a nil Route.
func (r *Route) DANE() bool { return r != nil && r.Attempt.DANE }

// DANEVerdict is DANE's verdict on the last handshake in words ("" before
// one, or when DANE does not apply).
func (r *Route) DANEVerdict() string {
	if !r.DANE() || r.Attempt.Verdict == nil {
		return ""
	}
	return r.Attempt.Verdict.Reason
}

package session

import (
	"context"
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

	at *mx.Attempt // the verdict's owner: hostConfig's check writes it
}

// PlanLive finds the server for cfg through DNS as SendRoute does (the MX
// hosts of rc.Domain in preference order, or rc.Host) and secures it as
// SendRoute would (DANE when authenticated TLSA records exist, else an
// enforced MTA-STS policy): cfg comes back pointed at the first address of
// the first host that may be used, with that host's TLS configuration,
// and its Snapshots carry the Route. An interactive session connects
// once: the hosts passed over, and why, are in Route.Lines.
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
		info(Info, fmt.Sprintf("%s: connecting to %s port %d", hostLabel(h, rc), at.Addr, at.Port))
		r.Host, r.at = h, at
		r.TLSRequired = at.DANE || (at.MTASTS == "match" && r.Report.MTASTS.Enforced() != nil)
		cfg.Server, cfg.Port = netip.AddrPortFrom(h.Addrs[0], uint16(at.Port)).String(), 0
		cfg.Options.TLSConfig = hc.TLSConfig
		cfg.route = r
		return cfg, r.snapshot(), nil
	}
	return cfg, r, fmt.Errorf("no MX host can be used: %s", strings.Join(skipped, "; "))
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

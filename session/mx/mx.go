package mx

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/miekg/dns"
)

// Host is one place to deliver a domain's mail.
type Host struct {
	Name       string `json:"name"` // without the trailing dot, lower case
	Preference uint16 `json:"preference"`
	// Implicit: the domain has no MX, so the domain itself is the one
	// host (RFC 5321 §5.1).
	Implicit bool         `json:"implicit,omitempty"`
	Addrs    []netip.Addr `json:"addrs"`
	// Secure: the MX answer and the address answers were all
	// DNSSEC-authenticated; RFC 7672 §2.2.1 looks up TLSA only then.
	Secure bool `json:"dnssec"`
	// Err is why the host has no address (the others may still work).
	Err string `json:"error,omitempty"`
}

// MaxHosts bounds the MX hosts Lookup resolves, so that a hostile zone
// with thousands of MX records costs a bounded number of queries.
const MaxHosts = 10

// ErrNullMX is RFC 7505's "this domain accepts no mail".
var ErrNullMX = errors.New("the domain publishes a null MX (RFC 7505): it accepts no mail")

// ErrNoDomain is NXDOMAIN for the mail domain.
var ErrNoDomain = errors.New("the domain does not exist (NXDOMAIN)")

// Lookup is the hosts that take domain's mail, in the order RFC 5321 §5.1
// tries them: MX records by preference (equal preferences in the order
// the resolver gave, not shuffled, so that a debugging session is
// reproducible), each with its A then AAAA addresses; with no MX the
// domain itself; at most MaxHosts of them. A host whose addresses cannot be found is kept, with
// Err, so that the caller can say why it was passed over.
func Lookup(ctx context.Context, r *Resolver, domain string) ([]Host, error) {
	domain = trimDot(domain)
	ans, err := r.Query(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	if ans.Rcode == dns.RcodeNameError {
		return nil, fmt.Errorf("%s: %w", domain, ErrNoDomain)
	}
	var hosts []Host
	for _, rr := range ans.RRs {
		if m, ok := rr.(*dns.MX); ok {
			hosts = append(hosts, Host{Name: trimDot(m.Mx), Preference: m.Preference, Secure: ans.Secure})
		}
	}
	if len(hosts) == 1 && hosts[0].Name == "" {
		return nil, fmt.Errorf("%s: %w", domain, ErrNullMX)
	}
	if len(hosts) == 0 {
		hosts = []Host{{Name: domain, Implicit: true, Secure: ans.Secure}}
	}
	sort.SliceStable(hosts, func(i, j int) bool { return hosts[i].Preference < hosts[j].Preference })
	if len(hosts) > MaxHosts {
		hosts = hosts[:MaxHosts]
	}
	for i := range hosts {
		if hosts[i].Name == "" {
			hosts[i].Err = "a null MX among other MX records (RFC 7505 §3: ignored)"
			continue
		}
		addrs, secure, err := Addresses(ctx, r, hosts[i].Name)
		hosts[i].Addrs, hosts[i].Secure = addrs, hosts[i].Secure && secure
		if err != nil {
			hosts[i].Err = err.Error()
		} else if len(addrs) == 0 {
			hosts[i].Err = "no A or AAAA record"
		}
	}
	if len(hosts) == 1 && hosts[0].Implicit && len(hosts[0].Addrs) == 0 {
		return nil, fmt.Errorf("%s has no MX and no address (%s)", domain, hosts[0].Err)
	}
	return hosts, nil
}

// Addresses is name's A then AAAA addresses, and whether both answers were
// DNSSEC-authenticated.
func Addresses(ctx context.Context, r *Resolver, name string) ([]netip.Addr, bool, error) {
	var out []netip.Addr
	secure := true
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ans, err := r.Query(ctx, name, qt)
		if err != nil {
			return out, false, err
		}
		secure = secure && ans.Secure
		for _, rr := range ans.RRs {
			var ip []byte
			switch a := rr.(type) {
			case *dns.A:
				ip = a.A.To4()
			case *dns.AAAA:
				ip = a.AAAA.To16()
			}
			if addr, ok := netip.AddrFromSlice(ip); ok {
				out = append(out, addr)
			}
		}
	}
	return out, secure, nil
}

package mx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolver asks one recursive resolver (the first that answers of
// Servers) with the DNSSEC OK and AD bits set, so that a validating
// resolver says whether each answer is authenticated.
type Resolver struct {
	Servers []string // host:port
	Timeout time.Duration
}

// DefaultTimeout bounds each query when Resolver.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// NewResolver is the resolver at addr (HOST, HOST:PORT, [V6]:PORT or a bare
// IPv6 address; port 53 by default), or with addr empty the system's, from
// /etc/resolv.conf.
func NewResolver(addr string) (*Resolver, error) {
	if addr == "" {
		return SystemResolver("/etc/resolv.conf")
	}
	hp, err := hostPort(addr)
	if err != nil {
		return nil, err
	}
	return &Resolver{Servers: []string{hp}}, nil
}

// SystemResolver reads the name servers of a resolv.conf file.
func SystemResolver(path string) (*Resolver, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the system resolver: %w", err)
	}
	if len(cc.Servers) == 0 {
		return nil, fmt.Errorf("%s names no nameserver: pass --resolver HOST[:PORT]", path)
	}
	r := &Resolver{}
	for _, s := range cc.Servers {
		r.Servers = append(r.Servers, net.JoinHostPort(s, cc.Port))
	}
	if cc.Timeout > 0 {
		r.Timeout = time.Duration(cc.Timeout) * time.Second
	}
	return r, nil
}

func hostPort(addr string) (string, error) {
	if ip := net.ParseIP(addr); ip != nil {
		return net.JoinHostPort(addr, "53"), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "53"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("resolver %q: bad port %q", addr, port)
	}
	if host == "" || strings.ContainsAny(host, " \t/") {
		return "", fmt.Errorf("resolver %q: bad host", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// Answer is one DNS reply reduced to what ehlo uses.
type Answer struct {
	Rcode int
	// Secure is the AD bit: the resolver validated the answer with
	// DNSSEC. Only a validating resolver the client trusts (on loopback,
	// or over a trusted path) makes it mean anything (RFC 7672 §8.1).
	Secure bool
	RRs    []dns.RR // the answer section
}

// ErrServFail is a resolver failure: with a validating resolver it is also
// how a bogus (forged or broken) DNSSEC answer shows.
var ErrServFail = errors.New("the resolver answered SERVFAIL (a DNSSEC validation failure looks the same)")

// Query asks for name's records of type qtype. NXDOMAIN and an empty
// answer are answers, not errors; SERVFAIL and the other failures are.
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, fmt.Errorf("%q is not a domain name", name)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(4096, true)
	m.AuthenticatedData = true // RFC 6840 §5.7: ask for the AD bit
	var last error
	for _, srv := range r.Servers {
		in, err := r.exchange(ctx, m, srv)
		if err != nil {
			last = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		switch in.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
			return &Answer{Rcode: in.Rcode, Secure: in.AuthenticatedData, RRs: in.Answer}, nil
		case dns.RcodeServerFailure:
			last = fmt.Errorf("%s %s: %w", dns.TypeToString[qtype], name, ErrServFail)
		default:
			last = fmt.Errorf("%s %s: the resolver answered %s", dns.TypeToString[qtype], name, dns.RcodeToString[in.Rcode])
		}
	}
	if last == nil {
		last = errors.New("no resolver to ask")
	}
	return nil, last
}

// exchange sends m over UDP, and again over TCP when the reply was
// truncated.
func (r *Resolver) exchange(ctx context.Context, m *dns.Msg, srv string) (*dns.Msg, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: timeout, UDPSize: 4096}
	in, err := exchangeOnce(ctx, c, m, srv)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, err = exchangeOnce(ctx, c, m, srv)
	}
	if err != nil {
		return nil, fmt.Errorf("asking %s for %s %s: %w", srv, dns.TypeToString[m.Question[0].Qtype], strings.TrimSuffix(m.Question[0].Name, "."), err)
	}
	return in, nil
}

// exchangeOnce is one query over c's transport. miekg/dns reads only
// ctx's deadline, so a ctx cancelled sooner (Ctrl+C) brings the
// connection's deadline forward itself, and the error says it was
// cancelled rather than timed out.
func exchangeOnce(ctx context.Context, c *dns.Client, m *dns.Msg, srv string) (*dns.Msg, error) {
	co, err := c.DialContext(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { _ = co.SetDeadline(time.Now()) })
	defer stop()
	in, _, err := c.ExchangeWithConnContext(ctx, m, co)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return nil, ctx.Err()
	}
	return in, err
}

// trimDot is a name as users write it: no trailing dot, lower case.
func trimDot(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

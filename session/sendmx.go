package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session/mx"
)

// MaxAttempts bounds the connections SendRoute makes for one message, so
// that MX hosts with many addresses cannot keep it trying for long.
const MaxAttempts = 10

// RouteConfig says how SendRoute finds the servers and secures them.
type RouteConfig struct {
	Resolver     *mx.Resolver
	ResolverName string // for the transcript: the flag's value or "system"
	// Domain: deliver to its MX hosts (RFC 5321 §5.1). Host: to this one
	// host, looked up through Resolver (for DANE against a named server).
	Domain, Host string
	// RequireDANE is --tls-verify dane: a host without authenticated TLSA
	// records is not used.
	RequireDANE bool
	// HTTP fetches the MTA-STS policy (mx.HTTPClient); nil: no MTA-STS.
	HTTP *http.Client
	// Now is the clock for DANE-TA validity (time.Now when nil).
	Now func() time.Time
}

// SendRoute delivers through DNS: the domain's MX hosts (or the one Host)
// in order, each address tried until one takes the message or fails
// after the TLS stage, with DANE (RFC 7672) when authenticated TLSA
// records exist or RequireDANE, else MTA-STS (RFC 8461) when the domain's
// policy enforces. Every step is an info line; the report has them all.
func SendRoute(ctx context.Context, cfg SendConfig, rc RouteConfig) (*SendResult, *mx.Report) {
	info := cfg.Info
	if info == nil {
		info = func(InfoKind, string) {}
	}
	rep := &mx.Report{Domain: rc.Domain, Resolver: rc.ResolverName}
	hosts, err := routeHosts(ctx, rc, info)
	if err != nil {
		if ctx.Err() != nil {
			err = ErrInterrupted
		}
		return &SendResult{Stage: StageConnect, Err: err}, rep
	}
	rep.Hosts = hosts
	if rc.Domain != "" {
		rep.MTASTS, rep.TLSRPT = routePolicy(ctx, rc, info)
	}
	var last *SendResult
	var skipped []string
	stage := StageConnect // of the failure when no host was tried: TLS if a policy refused one
	// A failure is announced as "trying the next" only when there is a
	// next; the last one is the command's own error.
	var failed string
	tried := 0
	next := func() {
		if failed != "" {
			info(Warning, failed+tryingNext)
			failed = ""
		}
	}
	for _, h := range hosts {
		at := planHost(ctx, cfg, rc, rep, h, info)
		if at.Skipped != "" {
			rep.Attempts = append(rep.Attempts, *at)
			skipped = append(skipped, h.Name+": "+at.Skipped)
			if h.Err == "" {
				stage = StageTLS
			}
			continue
		}
		for _, a := range h.Addrs {
			if tried == MaxAttempts {
				info(Warning, attemptsSpent)
				return last, rep
			}
			tried++
			one := *at
			one.Addr = a.String()
			next()
			info(Info, fmt.Sprintf("%s: trying %s port %d", hostLabel(h, rc), a, one.Port))
			last = sendOne(ctx, hostConfig(cfg, rc, h, &one, info), &one, a)
			rep.Attempts = append(rep.Attempts, one)
			if !retryable(ctx, last) {
				return last, rep
			}
			failed = attemptFailed(h, a, last.Err)
		}
	}
	if last == nil {
		what := "no MX host could be used"
		if rc.Host != "" {
			what = "the server could not be used"
		}
		return &SendResult{Stage: stage, Err: fmt.Errorf("%s: %s", what, strings.Join(skipped, "; "))}, rep
	}
	return last, rep
}

// routeHosts is the MX hosts (or the one named host) with their
// addresses, each shown.
func routeHosts(ctx context.Context, rc RouteConfig, info func(InfoKind, string)) ([]mx.Host, error) {
	if rc.Host != "" {
		addrs, secure, err := mx.Addresses(ctx, rc.Resolver, rc.Host)
		if err != nil {
			return nil, fmt.Errorf("looking up %s: %w", rc.Host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%s has no A or AAAA record", rc.Host)
		}
		h := mx.Host{Name: strings.ToLower(strings.TrimSuffix(rc.Host, ".")), Addrs: addrs, Secure: secure}
		info(Info, fmt.Sprintf("%s: %s%s", h.Name, joinAddrs(addrs), secureNote(secure)))
		return []mx.Host{h}, nil
	}
	info(Info, fmt.Sprintf("looking up the MX of %s (resolver %s)", rc.Domain, rc.ResolverName))
	hosts, err := mx.Lookup(ctx, rc.Resolver, rc.Domain)
	if err != nil {
		return nil, fmt.Errorf("MX lookup for %s: %w", rc.Domain, err)
	}
	for _, h := range hosts {
		switch {
		case h.Err != "":
			info(Warning, fmt.Sprintf("%s: %s", hostLabel(h, rc), h.Err))
		default:
			info(Info, fmt.Sprintf("%s: %s%s", hostLabel(h, rc), joinAddrs(h.Addrs), secureNote(h.Secure)))
		}
	}
	return hosts, nil
}

// hostLabel names a host in the transcript: the MX and its preference,
// or the domain itself, or (rc.Host) just the server's name.
func hostLabel(h mx.Host, rc RouteConfig) string {
	if rc.Host != "" {
		return h.Name
	}
	if h.Implicit {
		return h.Name + " (no MX: the domain's own address, RFC 5321 §5.1)"
	}
	return fmt.Sprintf("MX %d %s", h.Preference, h.Name)
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func secureNote(secure bool) string {
	if secure {
		return " (DNSSEC: authenticated)"
	}
	return " (DNSSEC: not authenticated)"
}

// routePolicy shows the domain's MTA-STS record and policy and its TLS-RPT
// record. A policy that cannot be fetched is as no policy (RFC 8461 §5).
func routePolicy(ctx context.Context, rc RouteConfig, info func(InfoKind, string)) (*mx.STSState, string) {
	var st *mx.STSState
	rec, err := mx.LookupMTASTS(ctx, rc.Resolver, rc.Domain)
	switch {
	case err != nil:
		st = &mx.STSState{Error: err.Error()}
		info(Warning, "MTA-STS: "+err.Error()+"; delivering as without MTA-STS")
	case rec == nil:
		info(Info, "MTA-STS: no _mta-sts."+rc.Domain+" record")
	case rc.HTTP == nil:
		st = &mx.STSState{Record: rec}
		info(Info, fmt.Sprintf("MTA-STS: %s TXT %q (policy not fetched)", rec.Name, rec.Text))
	default:
		st = &mx.STSState{Record: rec}
		info(Info, fmt.Sprintf("MTA-STS: %s TXT %q", rec.Name, rec.Text))
		p, err := mx.FetchPolicy(ctx, rc.HTTP, rc.Domain)
		if err != nil {
			st.Error = err.Error()
			info(Warning, "MTA-STS: "+err.Error()+"; delivering as without MTA-STS (RFC 8461 §5)")
			break
		}
		st.Policy = p
		info(Info, fmt.Sprintf("MTA-STS: policy %s: mode %s, mx %s, max_age %d", p.URL, p.Mode, strings.Join(p.MX, ", "), p.MaxAge))
	}
	rpt, err := mx.LookupTLSRPT(ctx, rc.Resolver, rc.Domain)
	switch {
	case err != nil:
		info(Warning, "TLS-RPT: "+err.Error())
	case rpt != "":
		info(Info, fmt.Sprintf("TLS-RPT: _smtp._tls.%s TXT %q", rc.Domain, rpt))
	}
	return st, rpt
}

// port is the port every host is tried on: --port, or the transport's.
func port(cfg SendConfig) int {
	switch {
	case cfg.Port != 0:
		return cfg.Port
	case cfg.Kind == protocol.SMTPS:
		return 465
	case cfg.Kind == protocol.LMTP:
		return 2003
	}
	return 25
}

// retryable says whether the next address or MX should be tried: the
// connection, the greeting or TLS failed (RFC 5321 §5.1; RFC 7672 §2.2
// for a DANE failure), and the user did not interrupt.
func retryable(ctx context.Context, res *SendResult) bool {
	if res.Err == nil || ctx.Err() != nil {
		return false
	}
	return redialable(res.Err) && res.Stage <= StageTLS
}

// redialable says whether the next address may be tried after err: not a
// bad setting (a protocol.ValueError), which every address would fail alike.
func redialable(err error) bool {
	var ve *protocol.ValueError
	return !errors.As(err, &ve)
}

// What a route says as it moves from one address to the next: the
// attempt that failed, then tryingNext; attemptsSpent when MaxAttempts
// ends it.
const tryingNext = "; trying the next address or MX"

var attemptsSpent = fmt.Sprintf("stopped after %d connection attempts (the limit; Postfix's smtp_mx_address_limit is 5)", MaxAttempts)

func attemptFailed(h mx.Host, a netip.Addr, err error) string {
	return fmt.Sprintf("%s [%s]: %s", h.Name, a, errText(err))
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// sendOne is one connection to one address of a host.
func sendOne(ctx context.Context, cfg SendConfig, at *mx.Attempt, a netip.Addr) *SendResult {
	cfg.Server, cfg.Port = a.String(), at.Port
	res := Send(ctx, cfg)
	at.Result = fmt.Sprintf("%s (exit %d)", errText(res.Err), res.ExitCode())
	return res
}

// certNames are the names a DANE-TA or MTA-STS certificate may carry
// (RFC 7672 §3.2.3: the MX host, then the domain).
func certNames(host, domain string) []string {
	if domain == "" || domain == host {
		return []string{host}
	}
	return []string{host, domain}
}

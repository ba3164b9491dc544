package session

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session/mx"
)

// planHost decides how a host is secured: DANE when its TLSA records are
// authenticated (RFC 7672 §2.2), else the domain's enforced MTA-STS
// policy (RFC 8461 §4); Skipped says why the host may not be used.
func planHost(ctx context.Context, cfg SendConfig, rc RouteConfig, rep *mx.Report, h mx.Host, info func(InfoKind, string)) *mx.Attempt {
	at := &mx.Attempt{Host: h.Name, Port: port(cfg)}
	if h.Err != "" {
		at.Skipped = h.Err
		return at
	}
	tlsa, err := mx.LookupTLSA(ctx, rc.Resolver, h.Name, at.Port)
	at.TLSA = &tlsa
	switch {
	case err != nil && h.Secure:
		at.Skipped = fmt.Sprintf("the TLSA lookup failed (%v); RFC 7672 §2.2: the host is not used", err)
		info(Warning, "DANE: "+h.Name+": "+at.Skipped)
		return at
	case err != nil:
		at.TLSA = nil
		info(Info, fmt.Sprintf("DANE: the TLSA lookup failed (%v); %s is not DNSSEC-authenticated, so DANE does not apply", err, h.Name))
	case len(tlsa.Records) > 0 && tlsa.Secure && h.Secure:
		at.DANE = true
		info(Info, fmt.Sprintf("DANE: %s TLSA %s (DNSSEC: authenticated): TLS required, the certificate must match", tlsa.Name, joinTLSA(tlsa.Records)))
	case len(tlsa.Records) > 0:
		why := "the TLSA answer is not DNSSEC-authenticated (the resolver did not set AD)"
		if tlsa.Secure {
			why = "the host's MX or address records are not DNSSEC-authenticated"
		}
		info(Warning, fmt.Sprintf("DANE: %s TLSA %s ignored: %s (RFC 7672 §2.2)", tlsa.Name, joinTLSA(tlsa.Records), why))
	default:
		info(Info, "DANE: no TLSA record at "+tlsa.Name)
	}
	if !at.DANE && rc.RequireDANE {
		at.Skipped = "no DNSSEC-authenticated TLSA record at " + tlsa.Name + " (--tls-verify dane)"
		info(Warning, "DANE: "+at.Skipped)
		return at
	}
	if at.DANE || rep.MTASTS == nil || rep.MTASTS.Policy == nil {
		return at
	}
	p := rep.MTASTS.Policy
	at.MTASTS = "mismatch"
	if p.Matches(h.Name) {
		at.MTASTS = "match"
	}
	switch {
	case p.Mode == "enforce" && at.MTASTS == "mismatch":
		at.Skipped = fmt.Sprintf("MTA-STS (enforce): %s matches no mx of the policy (%s)", h.Name, strings.Join(p.MX, ", "))
		info(Warning, at.Skipped+"; not used")
	case p.Mode == "enforce":
		info(Info, fmt.Sprintf("MTA-STS (enforce): %s matches the policy: TLS required, certificate verified for %s", h.Name, h.Name))
	case p.Mode == "testing":
		info(Info, fmt.Sprintf("MTA-STS (testing): %s: %s; nothing enforced", h.Name, at.MTASTS))
	}
	return at
}

func joinTLSA(rs []mx.TLSA) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// hostConfig is cfg for one address of h: the certificate checked against
// the host's name (SNI too), TLS required under DANE or MTA-STS enforce,
// and under DANE the TLSA records in place of the certificate
// authorities (RFC 7672 §3).
func hostConfig(cfg SendConfig, rc RouteConfig, h mx.Host, at *mx.Attempt, info func(InfoKind, string)) SendConfig {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = h.Name
	}
	enforce := rc.Domain != "" && at.MTASTS == "match"
	switch {
	case at.DANE:
		cfg.StartTLS = cfg.Kind != protocol.SMTPS
		cfg.DANE = true
		tc.InsecureSkipVerify = true // the TLSA records verify instead
		records, names, now := at.TLSA.Records, certNames(h.Name, rc.Domain), rc.Now
		if now == nil {
			now = time.Now
		}
		// The caller's callback (--peer-cert captures the certificate in
		// one) runs once DANE has passed, as it runs once PKIX has.
		next := tc.VerifyConnection
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			v := mx.Verify(cs.PeerCertificates, records, names, now())
			at.Verdict = &v
			if v.Status == mx.Failed {
				return fmt.Errorf("DANE verification failed: %s", v.Reason)
			}
			if next != nil {
				return next(cs)
			}
			return nil
		}
		cfg.Tracer = &daneTracer{at: at, next: cfg.Tracer, info: info}
	case enforce:
		cfg.StartTLS = cfg.Kind != protocol.SMTPS
		if tc.InsecureSkipVerify {
			info(Warning, "MTA-STS (enforce): --insecure turns certificate verification off, so the policy is NOT enforced")
		}
	}
	cfg.TLSConfig = tc
	return cfg
}

// daneTracer shows a DANE-verified handshake as verified (the chain up to
// the matching certificate), then the verdict.
type daneTracer struct {
	at   *mx.Attempt
	next protocol.Tracer
	info func(InfoKind, string)
}

func (d *daneTracer) Trace(e protocol.Event) {
	v := d.at.Verdict
	if e.Kind == protocol.EventTLS && e.TLSErr == nil && e.TLSState != nil && v != nil && v.Status == mx.Verified {
		st := *e.TLSState
		st.VerifiedChains = [][]*x509.Certificate{st.PeerCertificates[:v.Depth+1]}
		e.TLSState = &st
	}
	if d.next != nil {
		d.next.Trace(e)
	}
	if e.Kind != protocol.EventTLS || v == nil {
		return
	}
	switch v.Status {
	case mx.Verified:
		d.info(Info, "DANE: verified: "+v.Reason)
	case mx.Unusable:
		d.info(Warning, "DANE: "+v.Reason)
	}
}

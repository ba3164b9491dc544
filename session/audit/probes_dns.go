package audit

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/session/mx"
)

// dnsName is the host name the DNS findings are about, or why there is
// none: TLSA records and MTA-STS policies name hosts, not addresses.
func (r *runner) dnsName() (string, string) {
	t := r.cfg.Target
	switch {
	case r.cfg.Resolver == nil:
		return "", "no resolver to ask (--resolver)"
	case t.Network != "tcp":
		return "", "a Unix socket has no DNS name"
	case net.ParseIP(t.Host) != nil:
		return "", "an IP address has no DNS name: give the MX host name or the mail DOMAIN"
	}
	return strings.ToLower(strings.TrimSuffix(t.Host, ".")), ""
}

// dane checks the TLSA records at _PORT._tcp.HOST against the chain the
// server presents (RFC 7672), with session/mx's lookup and matching.
func (r *runner) dane(ctx context.Context) Finding {
	host, why := r.dnsName()
	if host == "" {
		return finding(Skip, Info, "Not checked: "+why+" (RFC 7672).", nil)
	}
	res, err := mx.LookupTLSA(ctx, r.cfg.Resolver, host, r.cfg.Target.port())
	if err != nil {
		return finding(Error, High, "The TLSA lookup failed: "+sanitizeErr(err)+".", nil)
	}
	ev := tlsaEvidence(res)
	switch {
	case len(res.Records) == 0:
		return finding(Skip, Info, "No TLSA records at "+sanitizeString(res.Name)+": DANE not in use (RFC 7672).", ev)
	case !res.Secure:
		return finding(Warn, Medium, "TLSA present but not DNSSEC-validated: ignored by senders (RFC 7672 §2.2); sign the zone, or check that the resolver validates.", ev)
	case r.mx != nil && !r.mx.Secure:
		return finding(Warn, Medium, "TLSA present, but the MX or address answers of "+sanitizeString(host)+" are not DNSSEC-validated: senders do not look the TLSA records up (RFC 7672 §2.2.1); sign the domain's zone too.", ev)
	}
	w, st, offered, err := r.tlsSession(ctx, r.cfg.Target.tlsConfig(nil))
	w.quit()
	switch {
	case !offered:
		return finding(Fail, High, "The domain publishes TLSA records but the server does not offer STARTTLS: DANE senders will not deliver (RFC 7672 §2.2).", append(ev, w.lines...))
	case err != nil:
		return broken(High, w, err)
	}
	ev = append(ev, chainEvidence(st.PeerCertificates)...)
	names := []string{host}
	if m := r.cfg.Domain; m != "" && m != host {
		names = append(names, m)
	}
	v := mx.Verify(st.PeerCertificates, res.Records, names, time.Now())
	ev = append(ev, "* verdict: "+sanitizeString(v.Reason))
	switch v.Status {
	case mx.Verified:
		return finding(Pass, High, "The certificate chain matches the DNSSEC-validated TLSA records (RFC 7672 §3).", ev)
	case mx.Unusable:
		return finding(Warn, Medium, "No TLSA record is usable for SMTP: senders require TLS but authenticate nothing (RFC 7672 §3.1.3).", ev)
	}
	return finding(Fail, High, "The certificate chain matches no TLSA record: DANE senders will not deliver to this server (RFC 7672 §3); publish the new key's TLSA before rolling it.", ev)
}

func tlsaEvidence(res mx.TLSAResult) []string {
	ad := "not DNSSEC-validated (no AD bit)"
	if res.Secure {
		ad = "DNSSEC-validated (AD bit)"
	}
	ev := []string{fmt.Sprintf("* TLSA %s: %d records, %s", sanitizeString(res.Name), len(res.Records), ad)}
	for _, t := range res.Records {
		ev = append(ev, "* TLSA "+sanitizeString(t.String()))
	}
	return ev
}

// chainEvidence is the chain's fingerprints, in the forms TLSA records
// take (certificate and public key, SHA-256), to compare by eye.
func chainEvidence(chain []*x509.Certificate) []string {
	var ev []string
	for i, c := range chain {
		full, spki := sha256.Sum256(c.Raw), sha256.Sum256(c.RawSubjectPublicKeyInfo)
		ev = append(ev, fmt.Sprintf("* chain[%d] %s: cert sha256 %s, spki sha256 %s (as TLSA 3 1 1)", i,
			sanitizeString(c.Subject.String()), hex.EncodeToString(full[:]), hex.EncodeToString(spki[:])))
	}
	return ev
}

// mtaSTS checks the mail domain's MTA-STS record and policy (RFC 8461)
// against the audited MX host and its certificate; the TLS-RPT record
// (RFC 8460) goes into the evidence.
func (r *runner) mtaSTS(ctx context.Context) Finding {
	host, why := r.dnsName()
	domain := r.cfg.Domain
	switch {
	case host == "":
		return finding(Skip, Info, "Not checked: "+why+" (RFC 8461).", nil)
	case domain == "":
		return finding(Skip, Info, "Not checked: needs the mail domain: give DOMAIN, or --domain (RFC 8461).", nil)
	}
	var ev []string
	if rpt, err := mx.LookupTLSRPT(ctx, r.cfg.Resolver, domain); err != nil {
		ev = append(ev, "* TLS-RPT: "+sanitizeErr(err))
	} else if rpt != "" {
		ev = append(ev, "* TLS-RPT _smtp._tls."+sanitizeString(domain)+": "+sanitizeString(rpt))
	}
	rec, err := mx.LookupMTASTS(ctx, r.cfg.Resolver, domain)
	switch {
	case err != nil && errors.Is(err, mx.ErrServFail):
		return finding(Error, Medium, "The MTA-STS lookup failed: "+sanitizeErr(err)+".", ev)
	case err != nil:
		return finding(Fail, Medium, "The MTA-STS record is unusable: "+sanitizeErr(err)+".", ev)
	case rec == nil:
		return finding(Skip, Info, "No _mta-sts."+sanitizeString(domain)+" record: MTA-STS not in use (RFC 8461).", ev)
	}
	ev = append(ev, "* record "+sanitizeString(rec.Name)+": "+sanitizeString(rec.Text))
	client := mx.HTTPClient(r.cfg.Resolver, r.cfg.RootCAs, r.cfg.ProbeTimeout, r.cfg.PolicyPort)
	pol, err := mx.FetchPolicy(ctx, client, domain)
	if err != nil {
		return finding(Fail, Medium, "The domain publishes an MTA-STS record but its policy cannot be fetched: "+sanitizeErr(err)+" (RFC 8461 §3.3).", ev)
	}
	ev = append(ev, fmt.Sprintf("* policy %s: mode %s, mx %s, max_age %d", sanitizeString(pol.URL),
		sanitizeString(pol.Mode), sanitizeString(strings.Join(pol.MX, " ")), pol.MaxAge))
	return r.stsVerdict(ctx, host, pol, ev)
}

// stsVerdict weighs the policy against the MX host and its certificate.
func (r *runner) stsVerdict(ctx context.Context, host string, pol *mx.Policy, ev []string) Finding {
	if pol.Mode == "none" {
		return finding(Warn, Medium, "The MTA-STS policy's mode is none: it is being withdrawn, senders apply nothing (RFC 8461 §5).", ev)
	}
	if !pol.Matches(host) {
		return finding(Fail, Medium, fmt.Sprintf("The MX host %s matches none of the policy's mx patterns: senders that enforce will not deliver to it (RFC 8461 §4.1).", sanitizeString(host)), ev)
	}
	ev = append(ev, "* mx: "+sanitizeString(host)+" matches the policy")
	certErr := r.stsCertificate(ctx, host)
	if certErr != "" {
		ev = append(ev, "* certificate: "+certErr)
	} else {
		ev = append(ev, "* certificate: valid for "+sanitizeString(host))
	}
	switch {
	case pol.Mode == "testing":
		return finding(Warn, Medium, "The MTA-STS policy is in testing mode: senders report failures but still deliver without TLS (RFC 8461 §5); switch to enforce.", ev)
	case certErr != "":
		return finding(Fail, Medium, "The MTA-STS policy enforces, but the MX's certificate is not valid for "+sanitizeString(host)+": senders that enforce will not deliver (RFC 8461 §4.2).", ev)
	}
	return finding(Pass, Medium, "The MTA-STS policy enforces, lists "+sanitizeString(host)+" and its certificate is valid (RFC 8461).", ev)
}

// stsCertificate is why the server's certificate does not satisfy
// RFC 8461 §4.2 (a chain to a trusted root, valid for the MX host), "" if
// it does.
func (r *runner) stsCertificate(ctx context.Context, host string) string {
	w, st, offered, err := r.tlsSession(ctx, r.cfg.Target.tlsConfig(nil))
	w.quit()
	switch {
	case !offered:
		return "STARTTLS is not offered"
	case err != nil:
		return "TLS failed: " + sanitizeErr(err)
	case len(st.PeerCertificates) == 0:
		return "the server sent no certificate"
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := st.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: r.cfg.RootCAs, Intermediates: inter, DNSName: host}); err != nil {
		return sanitizeErr(err)
	}
	return ""
}

package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"
)

// expiryWarning is how close to expiry a certificate gets a warning.
const expiryWarning = 14 * 24 * time.Hour

func (r *runner) tlsOffered(ctx context.Context) Finding {
	w, st, offered, err := r.tlsSession(ctx, r.cfg.Target.tlsConfig(nil))
	defer w.quit()
	switch {
	case isBeforeTLS(err):
		return broken(High, w, err)
	case !offered:
		return finding(Fail, High, "STARTTLS is not offered: every message and every password to this server crosses the network in clear (RFC 3207).", w.lines)
	case err != nil:
		return finding(Fail, High, "STARTTLS is offered but TLS does not start: "+sanitizeErr(err)+" (RFC 3207 §4).", brief(w.lines, "STARTTLS"))
	case r.cfg.Target.ImplicitTLS:
		return finding(Pass, High, "The server speaks implicit TLS ("+tls.VersionName(st.Version)+", RFC 8314).", brief(w.lines, "STARTTLS"))
	}
	return finding(Pass, High, "STARTTLS is offered and TLS starts ("+tls.VersionName(st.Version)+", RFC 3207).", brief(w.lines, "STARTTLS"))
}

// legacySuites are every suite Go can offer below TLS 1.3, so that a
// server limited to old versions still finds one it knows.
func legacySuites() []uint16 {
	var ids []uint16
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if !slices.Equal(s.SupportedVersions, []uint16{tls.VersionTLS13}) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

var tlsVersions = []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}

// tlsVersions tries each version alone, each on its own connection.
func (r *runner) tlsVersions(ctx context.Context) Finding {
	var accepted, ev []string
	var old []string
	for _, v := range tlsVersions {
		cfg := r.cfg.Target.tlsConfig(func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = v, v
			if v < tls.VersionTLS13 {
				c.CipherSuites = legacySuites()
			}
		})
		w, _, offered, err := r.tlsSession(ctx, cfg)
		w.quit()
		name := tls.VersionName(v)
		switch {
		case isBeforeTLS(err):
			return broken(Medium, w, err)
		case !offered:
			return finding(Skip, Medium, "STARTTLS is not offered, so no TLS version could be tried (see tls-offered).", w.lines)
		case err != nil:
			ev = append(ev, fmt.Sprintf("* %s: refused (%s)", name, sanitizeErr(err)))
		default:
			accepted = append(accepted, name)
			ev = append(ev, "* "+name+": accepted")
			if v < tls.VersionTLS12 {
				old = append(old, name)
			}
		}
	}
	switch {
	case len(accepted) == 0:
		return finding(Error, Medium, "No TLS version from 1.0 to 1.3 could be negotiated.", ev)
	case len(old) > 0:
		return finding(Fail, Medium, "The server accepts "+strings.Join(old, " and ")+", which RFC 8996 deprecates; accepted: "+strings.Join(accepted, ", ")+".", ev)
	}
	return finding(Pass, Medium, "The server accepts only "+strings.Join(accepted, " and ")+" (RFC 8996 deprecates 1.0 and 1.1). SSL 3 and older cannot be tried: Go does not speak them.", ev)
}

// brokenSuite marks the suites whose cipher is broken outright (RC4,
// 3DES) rather than merely without forward secrecy or with CBC.
func brokenSuite(name string) bool {
	return strings.Contains(name, "RC4") || strings.Contains(name, "3DES")
}

// tlsCiphers offers only the suites Go classes as insecure, up to TLS 1.2,
// and removes each one the server picks until it picks none.
func (r *runner) tlsCiphers(ctx context.Context) Finding {
	var left []uint16
	for _, s := range tls.InsecureCipherSuites() {
		left = append(left, s.ID)
	}
	var accepted, ev []string
	var names []string
	for _, s := range tls.InsecureCipherSuites() {
		names = append(names, s.Name)
	}
	ev = append(ev, "* offered, TLS 1.0 to 1.2: "+strings.Join(names, " "))
	failing := false
	for len(left) > 0 {
		offer := slices.Clone(left)
		cfg := r.cfg.Target.tlsConfig(func(c *tls.Config) {
			c.MinVersion, c.MaxVersion, c.CipherSuites = tls.VersionTLS10, tls.VersionTLS12, offer
		})
		w, st, offered, err := r.tlsSession(ctx, cfg)
		w.quit()
		if isBeforeTLS(err) {
			return broken(Medium, w, err)
		}
		if !offered {
			return finding(Skip, Medium, "STARTTLS is not offered, so no cipher suite could be tried (see tls-offered).", w.lines)
		}
		if err != nil {
			ev = append(ev, "* offered only weak suites, refused: "+sanitizeErr(err))
			break
		}
		name := tls.CipherSuiteName(st.CipherSuite)
		accepted = append(accepted, name)
		ev = append(ev, "* accepted "+name+" ("+tls.VersionName(st.Version)+")")
		failing = failing || brokenSuite(name)
		left = slices.DeleteFunc(left, func(id uint16) bool { return id == st.CipherSuite })
		if len(left) == len(offer) {
			break // the server picked a suite not offered: stop, do not loop
		}
	}
	tested := "Tried: RC4, 3DES, RSA key exchange and CBC-SHA256 suites, the weak ones Go can offer; EXPORT, NULL, anonymous and DHE suites cannot be tried with Go."
	switch {
	case failing:
		return finding(Fail, Medium, "The server accepts broken ciphers ("+strings.Join(accepted, ", ")+"): RC4 (RFC 7465) or 3DES (Sweet32, CVE-2016-2183). "+tested, ev)
	case len(accepted) > 0:
		return finding(Warn, Medium, "The server accepts weak suites without forward secrecy or with CBC ("+strings.Join(accepted, ", ")+"; RFC 9325 §4.2). "+tested, ev)
	}
	return finding(Pass, Medium, "The server refused every weak suite (RFC 9325 §4.2). "+tested, ev)
}

// certificate verifies the chain against the system roots (or --ca), the
// name against the host, and the time left.
func (r *runner) certificate(ctx context.Context) Finding {
	w, st, offered, err := r.tlsSession(ctx, r.cfg.Target.tlsConfig(nil))
	w.quit()
	switch {
	case !offered:
		return finding(Skip, Medium, "STARTTLS is not offered, so there is no certificate to check (see tls-offered).", w.lines)
	case err != nil:
		return broken(Medium, w, err)
	case len(st.PeerCertificates) == 0:
		return finding(Error, Medium, "The server sent no certificate.", w.lines)
	}
	leaf := st.PeerCertificates[0]
	ev := []string{
		"* subject: " + sanitizeString(leaf.Subject.String()),
		"* issuer: " + sanitizeString(leaf.Issuer.String()),
		"* names: " + sanitizeString(strings.Join(certNames(leaf), ", ")),
		"* not after: " + leaf.NotAfter.UTC().Format(time.RFC3339),
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	var problems []string
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: r.cfg.RootCAs, Intermediates: inter}); err != nil {
		problems = append(problems, "the chain does not verify")
		ev = append(ev, "* chain: "+sanitizeErr(err))
	} else {
		ev = append(ev, "* chain: verified")
	}
	host := r.cfg.Target.name()
	switch {
	case host == "":
		ev = append(ev, "* name: not checked (a socket has no host name; give --sni)")
	case leaf.VerifyHostname(host) != nil:
		problems = append(problems, "the name does not match "+sanitizeString(host))
		ev = append(ev, "* name: "+sanitizeErr(leaf.VerifyHostname(host)))
	default:
		ev = append(ev, "* name: matches "+sanitizeString(host))
	}
	left := time.Until(leaf.NotAfter)
	days := int(left.Hours() / 24)
	switch {
	case left <= 0:
		problems = append(problems, "it has expired")
	case len(problems) > 0:
	case left < expiryWarning:
		return finding(Warn, Medium, fmt.Sprintf("The certificate verifies and matches, but expires in %d days (%s).", days, leaf.NotAfter.UTC().Format("2006-01-02")), ev)
	}
	if len(problems) > 0 {
		return finding(Fail, Medium, "The certificate fails: "+strings.Join(problems, "; ")+"; a client that verifies will refuse it, and one that does not cannot tell this server from an impostor (RFC 6125, RFC 7817).", ev)
	}
	return finding(Pass, Medium, fmt.Sprintf("The certificate verifies, matches %s and has %d days left (RFC 6125, RFC 7817).", sanitizeString(host), days), ev)
}

func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/mx"
	"github.com/ehlo-dev/ehlo/themes"
)

// kvLines draws "key value" with the value wrapped under itself rather
// than cut: names and fingerprints are what a user compares.
func kvLines(s themes.Styles, w int, k, v string) []string {
	var out []string
	for i, l := range wrap(v, w-len(k), 0) {
		if i > 0 {
			k = strings.Repeat(" ", len(k))
		}
		out = append(out, s.Muted.Render(k)+s.Text.Render(l))
	}
	return out
}

// chainLines draws the server's certificates, leaf first: subject, issuer,
// names, validity (EXPIRED and NOT YET VALID flagged), key and SHA-256;
// full adds the SHA-256 of the key (SPKI), for the /cert view.
func chainLines(chain []session.Certificate, s themes.Styles, w int, now time.Time, full bool) []string {
	var out []string
	kv := func(k, v string) { out = append(out, kvLines(s, w, k, v)...) }
	for i, c := range chain {
		if len(chain) > 1 || full {
			what := "the server's"
			if i > 0 {
				what = fmt.Sprintf("issuer of %d", i)
			}
			out = append(out, s.Bold.Render(truncate(fmt.Sprintf("certificate %d/%d · %s", i+1, len(chain), what), w)))
		}
		kv("subject ", safe(c.Subject))
		kv("issuer  ", safe(c.Issuer))
		if len(c.SANs) > 0 {
			names := make([]string, len(c.SANs))
			for j, n := range c.SANs {
				names[j] = safe(n)
			}
			kv("names   ", strings.Join(names, ", "))
		}
		valid := c.NotBefore.Format("2006-01-02") + " → " + c.NotAfter.Format("2006-01-02")
		switch {
		case !now.IsZero() && now.After(c.NotAfter):
			out = append(out, s.Muted.Render("valid   ")+s.NotVerified.Render(truncate(valid+" EXPIRED", w-8)))
		case !now.IsZero() && now.Before(c.NotBefore):
			out = append(out, s.Muted.Render("valid   ")+s.NotVerified.Render(truncate(valid+" NOT YET VALID", w-8)))
		default:
			kv("valid   ", valid)
		}
		if c.KeyType != "" {
			kv("key     ", fmt.Sprintf("%s %d bits", safe(c.KeyType), c.KeyBits))
		}
		kv("sha256  ", fingerprint(safe(c.SHA256), w-8))
		if full && c.SPKISHA256 != "" {
			kv("spki    ", fingerprint(safe(c.SPKISHA256), w-8)) // what DANE's "3 1 1" holds
		}
	}
	return out
}

// routeLines says how DNS found the server and what it requires of TLS:
// the MX host, DANE (the TLSA records at _PORT._tcp.HOST, whether the
// resolver authenticated them with the AD bit, the verdict on the
// certificate), MTA-STS (the mode and whether the host matches the
// policy) and the TLS-RPT record. Nothing when the server was named.
func routeLines(r *session.Route, s themes.Styles, w int, full bool) []string {
	if r == nil || r.Report == nil {
		return nil
	}
	var out []string
	add := func(style interface{ Render(...string) string }, text string, maxLines int) {
		for _, l := range wrap(text, w, maxLines) {
			out = append(out, style.Render(l))
		}
	}
	h := r.Host
	where := fmt.Sprintf("MX %d %s", h.Preference, safe(h.Name))
	if h.Implicit {
		where = safe(h.Name) + " (no MX: its own address)"
	}
	add(s.Text, "via DNS: "+where+dnssec(h.Secure), 2)
	out = append(out, daneLines(r, s, w, full)...)
	sts := r.Report.MTASTS
	switch {
	case sts == nil:
		add(s.Muted, "MTA-STS: no policy", 1)
	case sts.Policy == nil && sts.Error != "":
		add(s.Warning, "MTA-STS: "+safe(sts.Error), 2)
	case sts.Policy == nil:
		add(s.Muted, "MTA-STS: record "+safe(sts.Record.Name)+", policy not fetched", 2)
	case r.Attempt.MTASTS == "match":
		add(s.Verified, fmt.Sprintf("MTA-STS %s: ✓ host matches the policy (mx %s)", safe(sts.Policy.Mode), safe(strings.Join(sts.Policy.MX, ", "))), 3)
	default:
		style := s.Muted
		if sts.Policy.Mode == "enforce" {
			style = s.NotVerified
		}
		add(style, fmt.Sprintf("MTA-STS %s: ✗ host matches no mx of the policy (%s)", safe(sts.Policy.Mode), safe(strings.Join(sts.Policy.MX, ", "))), 3)
	}
	if r.Report.TLSRPT != "" {
		add(s.Muted, "TLS-RPT: "+safe(r.Report.TLSRPT), 2)
	}
	return out
}

// daneLines is the TLSA lookup and DANE's verdict: in short for the pane,
// with the whole reason when full (/cert).
func daneLines(r *session.Route, s themes.Styles, w int, full bool) []string {
	t := r.Attempt.TLSA
	if t == nil {
		return []string{s.Muted.Render(truncate("DANE: no TLSA lookup (the host is not DNSSEC-authenticated)", w))}
	}
	var out []string
	add := func(style interface{ Render(...string) string }, text string, maxLines int) {
		for _, l := range wrap(text, w, maxLines) {
			out = append(out, style.Render(l))
		}
	}
	if len(t.Records) == 0 {
		add(s.Muted, "DANE: no TLSA record at "+safe(t.Name), 2)
		return out
	}
	ad := " (AD: authenticated)"
	if !t.Secure {
		ad = " (no AD: not authenticated)"
	}
	add(s.Text, "TLSA "+safe(t.Name)+ad, 2)
	for _, rec := range t.Records {
		add(s.Muted, "  "+safe(rec.String()), 1)
	}
	v := r.Attempt.Verdict
	switch {
	case !r.DANE():
		add(s.Warning, "DANE does not apply: the records are not DNSSEC-authenticated (RFC 7672 §2.2)", 3)
	case v == nil:
		add(s.Muted, "DANE: TLS required; the certificate is checked at the handshake", 2)
	case full && v.Status == mx.Verified:
		add(s.Verified, "✓ DANE match: "+safe(v.Reason), 0)
	case v.Status == mx.Verified && v.Record != nil:
		add(s.Verified, "✓ DANE match: "+daneUsage(*v.Record, v.Depth), 2)
	case v.Status == mx.Unusable:
		add(s.Warning, "DANE: "+safe(v.Reason), 3)
	case full:
		add(s.NotVerified, "✗ DANE mismatch: "+safe(v.Reason), 0)
	default:
		add(s.NotVerified, "✗ DANE mismatch: no usable TLSA record matches the chain (/cert: why)", 3)
	}
	return out
}

// daneUsage names the record that matched and what it matched.
func daneUsage(t mx.TLSA, depth int) string {
	if t.Usage == 3 {
		return fmt.Sprintf("DANE-EE %d %d %d, the server's certificate", t.Usage, t.Selector, t.MatchingType)
	}
	return fmt.Sprintf("DANE-TA %d %d %d, chain certificate %d", t.Usage, t.Selector, t.MatchingType, depth+1)
}

func dnssec(secure bool) string {
	if secure {
		return " (DNSSEC ✓)"
	}
	return " (no DNSSEC)"
}

// connBadge is the Connection pane's badge: where the full detail is.
func connBadge(st paneState) string {
	if st.Route != nil || (st.TLSInfo != nil && len(st.TLSInfo.Chain) > 0) {
		return "/cert"
	}
	return ""
}

// certView is /cert: the whole chain with every detail, and how DNS found
// the server with each lookup, scrolled from top.
func certView(s themes.Styles, st paneState, now time.Time, w, h, top int) []string {
	inner := w - 4
	var lines []string
	if st.TLSInfo == nil || len(st.TLSInfo.Chain) == 0 {
		lines = append(lines, s.Muted.Render(truncate("no certificate yet: STARTTLS (or a TLS port) shows the server's", inner)))
	} else {
		lines = append(lines, verifyLines(st, s, inner)...)
		lines = append(lines, chainLines(st.TLSInfo.Chain, s, inner, now, true)...)
	}
	if r := st.Route; r != nil {
		lines = append(lines, "", s.Bold.Render("DNS"))
		lines = append(lines, routeLines(r, s, inner, true)...)
		lines = append(lines, "")
		for _, l := range r.Lines {
			for _, wl := range wrap(safe(l), inner, 0) {
				lines = append(lines, s.Muted.Render(wl))
			}
		}
	}
	rows := max(1, h-2)
	top = max(0, min(top, len(lines)-rows))
	return box(s, "Certificate chain", "↑↓ scroll · esc close", fit(lines[top:], rows, s), w, min(h, len(lines)-top+2), true)
}

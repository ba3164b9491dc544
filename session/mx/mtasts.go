package mx

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// STSRecord is a domain's _mta-sts TXT record (RFC 8461 §3.1).
type STSRecord struct {
	Name string `json:"name"` // _mta-sts.example.com
	Text string `json:"text"`
	ID   string `json:"id"`
}

// LookupMTASTS finds the _mta-sts TXT record: nil when there is none (the
// domain has no MTA-STS), an error when there are several or it is
// malformed.
func LookupMTASTS(ctx context.Context, r *Resolver, domain string) (*STSRecord, error) {
	name := "_mta-sts." + trimDot(domain)
	recs, err := txtWithPrefix(ctx, r, name, "v=STSv1")
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	if len(recs) > 1 {
		return nil, fmt.Errorf("%s: %d v=STSv1 records; RFC 8461 §3.1 treats that as no policy", name, len(recs))
	}
	rec := &STSRecord{Name: name, Text: recs[0]}
	for _, f := range strings.Split(recs[0], ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		if k == "id" {
			rec.ID = v
		}
	}
	if rec.ID == "" {
		return nil, fmt.Errorf("%s: %q has no id= (RFC 8461 §3.1)", name, recs[0])
	}
	return rec, nil
}

// txtWithPrefix is the TXT records at name that start with prefix
// (each record's strings joined, as RFC 7208 §3.3 does).
func txtWithPrefix(ctx context.Context, r *Resolver, name, prefix string) ([]string, error) {
	ans, err := r.Query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range ans.RRs {
		t, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		s := strings.Join(t.Txt, "")
		if s == prefix || strings.HasPrefix(s, prefix+";") || strings.HasPrefix(s, prefix+" ") {
			out = append(out, s)
		}
	}
	return out, nil
}

// Policy is an MTA-STS policy (RFC 8461 §3.2).
type Policy struct {
	URL     string   `json:"url"`
	Version string   `json:"version"`
	Mode    string   `json:"mode"` // enforce, testing or none
	MX      []string `json:"mx"`
	MaxAge  int      `json:"max_age"`
}

// maxPolicySize bounds the policy body (RFC 8461 §3.3 suggests 64 KiB).
const maxPolicySize = 64 << 10

// PolicyURL is where domain's policy lives.
func PolicyURL(domain string) string {
	return "https://mta-sts." + trimDot(domain) + "/.well-known/mta-sts.txt"
}

// FetchPolicy gets domain's policy over HTTPS with client (see HTTPClient):
// no redirects, status 200, text/plain, at most 64 KiB (RFC 8461 §3.3).
func FetchPolicy(ctx context.Context, client *http.Client, domain string) (*Policy, error) {
	url := PolicyURL(domain)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the MTA-STS policy: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP %s (RFC 8461 §3.3: only 200, no redirects)", url, resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/plain" {
		return nil, fmt.Errorf("fetching %s: media type %q, not text/plain", url, mt)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	if len(body) > maxPolicySize {
		return nil, fmt.Errorf("fetching %s: the policy is over %d bytes", url, maxPolicySize)
	}
	p, err := ParsePolicy(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	p.URL = url
	return p, nil
}

// ParsePolicy reads a policy body: "key: value" lines, CRLF or LF.
func ParsePolicy(body []byte) (*Policy, error) {
	p := &Policy{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("policy line %q is not key: value", line)
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "version":
			p.Version = v
		case "mode":
			p.Mode = v
		case "mx":
			p.MX = append(p.MX, strings.ToLower(strings.TrimSuffix(v, ".")))
		case "max_age":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 31557600 {
				return nil, fmt.Errorf("policy max_age %q is not 0 to 31557600", v)
			}
			p.MaxAge = n
		}
	}
	switch {
	case p.Version != "STSv1":
		return nil, fmt.Errorf("policy version %q is not STSv1", p.Version)
	case p.Mode != "enforce" && p.Mode != "testing" && p.Mode != "none":
		return nil, fmt.Errorf("policy mode %q is not enforce, testing or none", p.Mode)
	case len(p.MX) == 0 && p.Mode != "none":
		return nil, errors.New("policy has no mx line")
	}
	return p, nil
}

// Matches says whether MX host name mx is one the policy allows: an exact
// name, or "*.example.com" for exactly one label more (RFC 8461 §4.1).
func (p *Policy) Matches(mx string) bool {
	mx = trimDot(mx)
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if label, parent, ok := strings.Cut(mx, "."); ok && label != "" && parent == rest {
				return true
			}
		} else if pat == mx {
			return true
		}
	}
	return false
}

// HTTPClient is the client FetchPolicy needs: host names resolved through
// r (not the system), certificates verified against roots (the system's
// when nil), no redirects. A port other than 0 replaces the URL's (443):
// a test bed's HTTPS server need not run as root.
func HTTPClient(r *Resolver, roots *x509.CertPool, timeout time.Duration, port int) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: timeout,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, p, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if port != 0 {
				p = strconv.Itoa(port)
			}
			addrs, _, err := Addresses(ctx, r, host)
			if err != nil {
				return nil, err
			}
			if len(addrs) == 0 {
				return nil, fmt.Errorf("%s has no A or AAAA record", host)
			}
			for _, a := range addrs {
				var c net.Conn
				if c, err = d.DialContext(ctx, network, net.JoinHostPort(a.String(), p)); err == nil {
					return c, nil
				}
			}
			return nil, err
		},
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// LookupTLSRPT is the domain's TLS-RPT record (RFC 8460 §3), "" when there
// is none.
func LookupTLSRPT(ctx context.Context, r *Resolver, domain string) (string, error) {
	recs, err := txtWithPrefix(ctx, r, "_smtp._tls."+trimDot(domain), "v=TLSRPTv1")
	if err != nil || len(recs) == 0 {
		return "", err
	}
	return recs[0], nil
}

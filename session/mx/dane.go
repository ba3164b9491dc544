package mx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TLSA is one TLSA record (RFC 6698).
type TLSA struct {
	Usage        uint8  `json:"usage"`
	Selector     uint8  `json:"selector"`
	MatchingType uint8  `json:"matching_type"`
	Data         string `json:"data"` // lower-case hex, as in zone files
}

func (t TLSA) String() string {
	return fmt.Sprintf("%d %d %d %s", t.Usage, t.Selector, t.MatchingType, t.Data)
}

// Usable says whether RFC 7672 lets SMTP use the record: only DANE-TA(2)
// and DANE-EE(3) (§3.1.3: PKIX-TA and PKIX-EE are not for SMTP), with a
// known selector and matching type.
func (t TLSA) Usable() bool {
	return (t.Usage == 2 || t.Usage == 3) && t.Selector <= 1 && t.MatchingType <= 2
}

// TLSAResult is what DNS says about DANE for one MX host and port.
type TLSAResult struct {
	Name    string `json:"name"` // _25._tcp.mx.example
	Records []TLSA `json:"records,omitempty"`
	// Secure is the resolver's AD bit on the TLSA answer: without it the
	// records must be ignored (RFC 7672 §2.2).
	Secure bool `json:"dnssec"`
}

// LookupTLSA asks for the TLSA records at _PORT._tcp.HOST.
func LookupTLSA(ctx context.Context, r *Resolver, host string, port int) (TLSAResult, error) {
	res := TLSAResult{Name: fmt.Sprintf("_%d._tcp.%s", port, trimDot(host))}
	ans, err := r.Query(ctx, res.Name, dns.TypeTLSA)
	if err != nil {
		return res, err
	}
	res.Secure = ans.Secure
	for _, rr := range ans.RRs {
		if t, ok := rr.(*dns.TLSA); ok {
			res.Records = append(res.Records, TLSA{t.Usage, t.Selector, t.MatchingType, strings.ToLower(t.Certificate)})
		}
	}
	return res, nil
}

// Status is DANE's verdict on a certificate chain.
type Status string

const (
	Verified Status = "verified" // a usable record matched
	Failed   Status = "failed"   // usable records, none matched: no mail
	// Unusable: every record is unusable; RFC 7672 §2.2 then still
	// requires TLS but authenticates nothing.
	Unusable Status = "unusable"
)

// Verdict is the outcome of Verify.
type Verdict struct {
	Status Status `json:"status"`
	// Record is the record that matched and Depth the certificate it
	// matched (0: the server's own).
	Record *TLSA  `json:"record,omitempty"`
	Depth  int    `json:"depth"`
	Reason string `json:"reason"`
}

// Verify checks a server's chain (leaf first, as sent) against TLSA
// records per RFC 7672 §3: DANE-EE(3) matches the server's certificate
// alone, with no name and no expiry check; DANE-TA(2) matches a
// certificate of the chain above the server's, which must then issue the
// server's certificate for one of names (the MX host, then the domain).
func Verify(chain []*x509.Certificate, records []TLSA, names []string, now time.Time) Verdict {
	usable := 0
	var why []string
	for i := range records {
		t := records[i]
		if !t.Usable() {
			continue
		}
		usable++
		if len(chain) == 0 {
			continue
		}
		if t.Usage == 3 {
			if matches(t, chain[0]) {
				return Verdict{Status: Verified, Record: &t, Reason: fmt.Sprintf("DANE-EE record %s matches the server's certificate", t)}
			}
			continue
		}
		for depth := 1; depth < len(chain); depth++ {
			if !matches(t, chain[depth]) {
				continue
			}
			err := issuedBy(chain, depth, names, now)
			if err == nil {
				return Verdict{Status: Verified, Record: &t, Depth: depth, Reason: fmt.Sprintf("DANE-TA record %s matches chain certificate %d, which issued the server's certificate for %s", t, depth, strings.Join(names, " or "))}
			}
			why = append(why, fmt.Sprintf("DANE-TA record %s matches chain certificate %d, but %v", t, depth, err))
		}
	}
	switch {
	case usable == 0:
		return Verdict{Status: Unusable, Reason: fmt.Sprintf("none of the %d TLSA records is usable for SMTP (RFC 7672 §3.1.3): TLS is required, the certificate is not authenticated", len(records))}
	case len(chain) == 0:
		return Verdict{Status: Failed, Reason: "the server sent no certificate"}
	case len(why) > 0:
		return Verdict{Status: Failed, Reason: strings.Join(why, "; ")}
	}
	return Verdict{Status: Failed, Reason: fmt.Sprintf("no TLSA record matches the server's certificate chain (%d usable records, %d certificates; leaf SPKI sha256 %s)", usable, len(chain), spkiSHA256(chain[0]))}
}

func matches(t TLSA, c *x509.Certificate) bool {
	data := c.Raw
	if t.Selector == 1 {
		data = c.RawSubjectPublicKeyInfo
	}
	switch t.MatchingType {
	case 1:
		s := sha256.Sum256(data)
		data = s[:]
	case 2:
		s := sha512.Sum512(data)
		data = s[:]
	}
	want, err := hex.DecodeString(t.Data)
	return err == nil && bytes.Equal(want, data)
}

// issuedBy verifies chain[0] up to chain[depth] as the only trust anchor,
// for one of names.
func issuedBy(chain []*x509.Certificate, depth int, names []string, now time.Time) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[depth])
	for _, c := range chain[1:depth] {
		inter.AddCert(c)
	}
	var err error
	for _, n := range names {
		_, err = chain[0].Verify(x509.VerifyOptions{
			DNSName: n, Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			return nil
		}
	}
	if err == nil {
		err = fmt.Errorf("no name to check the certificate against")
	}
	return err
}

func spkiSHA256(c *x509.Certificate) string {
	s := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(s[:])
}

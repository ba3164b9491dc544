package mx_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/ehlo-dev/ehlo/session/mx"
	"github.com/ehlo-dev/ehlo/session/mx/mxtest"
)

const zone = `
example.test. 300 IN MX 20 mx2.example.test.
example.test. 300 IN MX 10 mx1.example.test.
mx1.example.test. 300 IN A 127.0.0.2
mx2.example.test. 300 IN A 127.0.0.1
mx2.example.test. 300 IN AAAA ::1
implicit.test. 300 IN A 127.0.0.3
null.test. 300 IN MX 0 .
noaddr.test. 300 IN TXT "nothing"
_25._tcp.mx1.example.test. 300 IN TLSA 3 1 1 0011
_mta-sts.example.test. 300 IN TXT "v=STSv1; id=20260101"
_smtp._tls.example.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.test"
_mta-sts.twice.test. 300 IN TXT "v=STSv1; id=1"
_mta-sts.twice.test. 300 IN TXT "v=STSv1; id=2"
_mta-sts.noid.test. 300 IN TXT "v=STSv1;"
`

func resolver(t *testing.T, signed ...string) (*mx.Resolver, *mxtest.Server) {
	t.Helper()
	srv := mxtest.Start(t, zone, signed...)
	r, err := mx.NewResolver(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return r, srv
}

func TestLookupPreferenceOrder(t *testing.T) {
	r, _ := resolver(t, "example.test")
	hosts, err := mx.Lookup(context.Background(), r, "Example.Test.")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hosts {
		got = append(got, fmt.Sprintf("%d %s %v %v", h.Preference, h.Name, h.Addrs, h.Secure))
	}
	want := []string{"10 mx1.example.test [127.0.0.2] true", "20 mx2.example.test [127.0.0.1 ::1] true"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hosts %q, want %q", got, want)
	}
}

func TestLookupImplicitMX(t *testing.T) {
	r, _ := resolver(t)
	hosts, err := mx.Lookup(context.Background(), r, "implicit.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || !hosts[0].Implicit || hosts[0].Name != "implicit.test" || hosts[0].Addrs[0].String() != "127.0.0.3" || hosts[0].Secure {
		t.Errorf("hosts %+v", hosts)
	}
}

func TestLookupFailures(t *testing.T) {
	r, srv := resolver(t)
	srv.ServFail("bogus.test")
	for domain, want := range map[string]string{
		"null.test":    "null MX",
		"nowhere.test": "NXDOMAIN",
		"noaddr.test":  "no MX and no address",
		"bogus.test":   "SERVFAIL",
	} {
		_, err := mx.Lookup(context.Background(), r, domain)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", domain, err, want)
		}
	}
	if _, err := mx.Lookup(context.Background(), r, "null.test"); !errors.Is(err, mx.ErrNullMX) {
		t.Errorf("null MX: %v", err)
	}
}

func TestNewResolver(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1": "127.0.0.1:53", "127.0.0.1:5353": "127.0.0.1:5353", "::1": "[::1]:53", "[::1]:54": "[::1]:54", "localhost": "localhost:53"} {
		r, err := mx.NewResolver(in)
		if err != nil || r.Servers[0] != want {
			t.Errorf("%s: %v %v, want %s", in, r, err, want)
		}
	}
	for _, bad := range []string{"127.0.0.1:0", "127.0.0.1:x", "a b:53"} {
		if _, err := mx.NewResolver(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(conf, []byte("nameserver 127.0.0.9\nnameserver ::1\n"), 0o644)
	r, err := mx.SystemResolver(conf)
	if err != nil || strings.Join(r.Servers, ",") != "127.0.0.9:53,[::1]:53" {
		t.Errorf("resolv.conf: %v %v", r, err)
	}
}

func TestLookupTLSA(t *testing.T) {
	for _, signed := range []bool{true, false} {
		var zones []string
		if signed {
			zones = []string{"example.test"}
		}
		r, _ := resolver(t, zones...)
		res, err := mx.LookupTLSA(context.Background(), r, "mx1.example.test.", 25)
		if err != nil {
			t.Fatal(err)
		}
		if res.Name != "_25._tcp.mx1.example.test" || len(res.Records) != 1 || res.Records[0].String() != "3 1 1 0011" || res.Secure != signed {
			t.Errorf("signed=%v: %+v", signed, res)
		}
	}
}

// certs is a CA and a leaf it issued for names.
func certs(t *testing.T, notAfter time.Time, names ...string) (ca, leaf *x509.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(der)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter, DNSNames: names}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(der)
	return ca, leaf
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestVerify(t *testing.T) {
	ca, leaf := certs(t, time.Now().Add(time.Hour), "mx1.example.test")
	_, expired := certs(t, time.Now().Add(-time.Hour), "elsewhere.test")
	chain := []*x509.Certificate{leaf, ca}
	names := []string{"mx1.example.test", "example.test"}
	ee := mx.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: hexSum(leaf.RawSubjectPublicKeyInfo)}
	eeFull := mx.TLSA{Usage: 3, Selector: 0, MatchingType: 0, Data: hex.EncodeToString(leaf.Raw)}
	ta := mx.TLSA{Usage: 2, Selector: 0, MatchingType: 1, Data: hexSum(ca.Raw)}
	wrong := mx.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: strings.Repeat("00", 32)}
	pkix := mx.TLSA{Usage: 1, Selector: 1, MatchingType: 1, Data: hexSum(leaf.RawSubjectPublicKeyInfo)}
	for _, tc := range []struct {
		name    string
		chain   []*x509.Certificate
		records []mx.TLSA
		names   []string
		want    mx.Status
		depth   int
	}{
		{"DANE-EE SPKI sha256", chain, []mx.TLSA{wrong, ee}, names, mx.Verified, 0},
		{"DANE-EE full certificate", chain, []mx.TLSA{eeFull}, names, mx.Verified, 0},
		// RFC 7672 §3.1.1: neither name nor expiry counts under DANE-EE.
		{"DANE-EE expired, other name", []*x509.Certificate{expired}, []mx.TLSA{{Usage: 3, Selector: 1, MatchingType: 1, Data: hexSum(expired.RawSubjectPublicKeyInfo)}}, names, mx.Verified, 0},
		{"DANE-TA", chain, []mx.TLSA{ta}, names, mx.Verified, 1},
		{"DANE-TA the domain's name", chain, []mx.TLSA{ta}, []string{"other.test", "mx1.example.test"}, mx.Verified, 1},
		{"DANE-TA wrong name", chain, []mx.TLSA{ta}, []string{"mx2.example.test"}, mx.Failed, 0},
		{"DANE-TA on the leaf itself", []*x509.Certificate{leaf}, []mx.TLSA{ta}, names, mx.Failed, 0},
		{"mismatch", chain, []mx.TLSA{wrong}, names, mx.Failed, 0},
		{"no certificate", nil, []mx.TLSA{ee}, names, mx.Failed, 0},
		{"PKIX-EE is unusable for SMTP", chain, []mx.TLSA{pkix}, names, mx.Unusable, 0},
		{"bad hex", chain, []mx.TLSA{{Usage: 3, Selector: 1, MatchingType: 1, Data: "zz"}}, names, mx.Failed, 0},
	} {
		v := mx.Verify(tc.chain, tc.records, tc.names, time.Now())
		if v.Status != tc.want || v.Depth != tc.depth || v.Reason == "" {
			t.Errorf("%s: %+v, want %s at depth %d", tc.name, v, tc.want, tc.depth)
		}
	}
}

func TestParsePolicyAndMatches(t *testing.T) {
	p, err := mx.ParsePolicy([]byte("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.backup.test.\r\nmax_age: 86400\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != "enforce" || p.MaxAge != 86400 || len(p.MX) != 2 {
		t.Errorf("policy %+v", p)
	}
	for host, want := range map[string]bool{
		"mx1.example.test": true, "MX1.Example.Test.": true, "mx2.example.test": false,
		"a.backup.test": true, "a.b.backup.test": false, "backup.test": false,
	} {
		if p.Matches(host) != want {
			t.Errorf("Matches(%s) = %v", host, !want)
		}
	}
	for _, bad := range []string{"version: STSv2\nmode: enforce\nmx: a\n", "version: STSv1\nmode: on\nmx: a\n", "version: STSv1\nmode: enforce\n", "version: STSv1\nmode: enforce\nmx: a\nmax_age: -1\n", "garbage"} {
		if _, err := mx.ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMTASTSRecords(t *testing.T) {
	r, _ := resolver(t)
	ctx := context.Background()
	rec, err := mx.LookupMTASTS(ctx, r, "example.test")
	if err != nil || rec == nil || rec.ID != "20260101" {
		t.Errorf("record %+v %v", rec, err)
	}
	if rec, err := mx.LookupMTASTS(ctx, r, "implicit.test"); rec != nil || err != nil {
		t.Errorf("none: %+v %v", rec, err)
	}
	for _, d := range []string{"twice.test", "noid.test"} {
		if _, err := mx.LookupMTASTS(ctx, r, d); err == nil {
			t.Errorf("%s: no error", d)
		}
	}
	rpt, err := mx.LookupTLSRPT(ctx, r, "example.test")
	if err != nil || rpt != "v=TLSRPTv1; rua=mailto:tlsrpt@example.test" {
		t.Errorf("TLS-RPT %q %v", rpt, err)
	}
}

func TestFetchPolicy(t *testing.T) {
	mux := http.NewServeMux()
	body := "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 600\n"
	mux.HandleFunc("/.well-known/mta-sts.txt", func(w http.ResponseWriter, req *http.Request) {
		switch req.Host {
		case "mta-sts.example.test":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprint(w, body)
		case "mta-sts.html.test":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, body)
		case "mta-sts.moved.test":
			http.Redirect(w, req, "https://mta-sts.example.test/.well-known/mta-sts.txt", http.StatusFound)
		}
	})
	hs := httptest.NewUnstartedServer(mux)
	hs.StartTLS()
	defer hs.Close()
	_, p, _ := net.SplitHostPort(hs.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	srv := mxtest.Start(t, `
mta-sts.example.test. 60 IN A 127.0.0.1
mta-sts.html.test. 60 IN A 127.0.0.1
mta-sts.moved.test. 60 IN A 127.0.0.1
`)
	r, _ := mx.NewResolver(srv.Addr)
	// httptest's certificate is for example.com and 127.0.0.1: trust it
	// as a root but check the name through a pool that holds it.
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	client := mx.HTTPClient(r, roots, 5*time.Second, port)
	client.Transport.(*http.Transport).TLSClientConfig.ServerName = "example.com"
	pol, err := mx.FetchPolicy(context.Background(), client, "example.test")
	if err != nil || pol.Mode != "enforce" || pol.URL != "https://mta-sts.example.test/.well-known/mta-sts.txt" {
		t.Fatalf("policy %+v %v", pol, err)
	}
	for d, want := range map[string]string{"html.test": "not text/plain", "moved.test": "302", "nowhere.test": "A or AAAA"} {
		if _, err := mx.FetchPolicy(context.Background(), client, d); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", d, err, want)
		}
	}
	// Without the test root the certificate is refused: never unverified.
	plain := mx.HTTPClient(r, x509.NewCertPool(), 5*time.Second, port)
	if _, err := mx.FetchPolicy(context.Background(), plain, "example.test"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted: %v", err)
	}
}

// A query to a resolver that never answers ends when its context is
// cancelled (Ctrl+C), not at the resolver's timeout: miekg/dns only reads
// a context's deadline.
func TestQueryCancelledWhileWaiting(t *testing.T) {
	r, err := mx.NewResolver(mxtest.Silent(t))
	if err != nil {
		t.Fatal(err)
	}
	r.Timeout = 20 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = r.Query(ctx, "example.test", dns.TypeMX)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the query ended %s after it began; the cancel came at 100ms", d.Round(time.Millisecond))
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

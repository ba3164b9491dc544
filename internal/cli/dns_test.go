package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/mx/mxtest"
)

// dnsBed is a sandbox on 127.0.0.1 named mx1.example.test, its DNS
// (example.test signed, MX 10 to a dead address, MX 20 to the sandbox,
// a TLSA record for the sandbox's key) and its certificate as a file.
func dnsBed(t *testing.T, tlsa string) (port, resolver, ca string, srv *sandbox.Server) {
	t.Helper()
	srv, err := sandbox.New(sandbox.Config{Listen: "127.0.0.1:0", TLSListen: "-", Hostname: "mx1.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	_, port, _ = net.SplitHostPort(srv.Addr())
	blk, _ := pem.Decode(srv.CertPEM())
	cert, _ := x509.ParseCertificate(blk.Bytes)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if tlsa == "" {
		tlsa = "3 1 1 " + hex.EncodeToString(sum[:])
	}
	dns := mxtest.Start(t, fmt.Sprintf(`
example.test. 60 IN MX 10 dead.example.test.
example.test. 60 IN MX 20 mx1.example.test.
dead.example.test. 60 IN A 127.0.0.2
mx1.example.test. 60 IN A 127.0.0.1
_%s._tcp.mx1.example.test. 60 IN TLSA %s
`, port, tlsa), "example.test")
	ca = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return port, dns.Addr, ca, srv
}

func runDNS(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &appContext{ctx: context.Background(), stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	code := runWith(app, append([]string{"send", "--from", "a@client.test", "--helo", "client.test", "--timeout", "5s"}, args...))
	return out.String(), errb.String(), code
}

func TestSendNoServerMXWithDANE(t *testing.T) {
	port, resolver, _, srv := dnsBed(t, "")
	out, errs, code := runDNS(t, "--to", "b@example.test", "--resolver", resolver, "--port", port, "--tls-chain")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"=== looking up the MX of example.test (resolver " + resolver + ")",
		"=== MX 10 dead.example.test: trying 127.0.0.2 port " + port,
		"=== Trying 127.0.0.2:" + port + "...",
		"=== MX 20 mx1.example.test: trying 127.0.0.1 port " + port,
		"(DNSSEC: authenticated): TLS required",
		" -> STARTTLS",
		"=== TLS peer certificate: subject \"CN=mx1.example.test,O=ehlo sandbox\"",
		"verified",
		"===   key: ECDSA 256 bits",
		"-----BEGIN CERTIFICATE-----",
		"=== DANE: verified: DANE-EE record 3 1 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "*** dead.example.test [127.0.0.2]:") || srv.Mailbox().Len() != 1 {
		t.Errorf("stderr %q, %d stored", errs, srv.Mailbox().Len())
	}
}

func TestSendNoServerDANEMismatchJSON(t *testing.T) {
	port, resolver, _, srv := dnsBed(t, "3 1 1 "+strings.Repeat("00", 32))
	out, _, code := runDNS(t, "--to", "b@example.test", "--resolver", resolver, "--port", port, "--json", "--tls-chain")
	if code != 29 {
		t.Fatalf("exit %d, want 29\n%s", code, out)
	}
	var doc struct {
		Error string `json:"error"`
		Route struct {
			Domain   string `json:"domain"`
			Hosts    []struct{ Name string }
			Attempts []struct {
				Host    string
				DANE    bool                    `json:"dane"`
				Verdict struct{ Status string } `json:"dane_verdict"`
			}
		} `json:"route"`
		ChainPEM []string `json:"tls_chain_pem"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(doc.Error, "DANE verification failed: no TLSA record matches") || doc.Route.Domain != "example.test" ||
		len(doc.Route.Attempts) != 2 || !doc.Route.Attempts[1].DANE || doc.Route.Attempts[1].Verdict.Status != "failed" || len(doc.ChainPEM) != 1 {
		t.Errorf("json %+v", doc)
	}
	if srv.Mailbox().Len() != 0 {
		t.Error("mail delivered despite the DANE mismatch")
	}
}

// --tls-verify dane with SERVER: the server's own TLSA records.
func TestSendServerTLSVerifyDANE(t *testing.T) {
	port, resolver, _, _ := dnsBed(t, "")
	out, errs, code := runDNS(t, "mx1.example.test:"+port, "--to", "b@example.test", "--resolver", resolver, "--tls-verify", "dane")
	if code != 0 || !strings.Contains(out, "=== DANE: verified") || !strings.Contains(out, "=== mx1.example.test: trying 127.0.0.1 port "+port) || strings.Contains(out, "no MX") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
	// Without a TLSA record for the named server, --tls-verify dane refuses it.
	_, errs, code = runDNS(t, "dead.example.test:"+port, "--to", "b@example.test", "--resolver", resolver, "--tls-verify", "dane")
	if code != 29 || !strings.Contains(errs, "the server could not be used: dead.example.test: no DNSSEC-authenticated TLSA record") {
		t.Errorf("no TLSA: exit %d\n%s", code, errs)
	}
}

func TestSendNoServerRefusedInputs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "a@x.test,b@y.test"}, "all recipients must be in one domain"},
		{[]string{"--to", "a@[127.0.0.1]"}, "needs a domain"},
		{[]string{"--to", "a@bücher.test", "--smtputf8"}, "ASCII (xn--) form"},
		{[]string{"--to", "a@x.test", "--lmtp"}, "--lmtp needs SERVER"},
		{[]string{"--to", "a@x.test", "--resolver", "127.0.0.1:99999"}, "--resolver"},
		{[]string{"127.0.0.1", "--to", "a@x.test", "--tls-verify", "dane"}, "needs SERVER as a host name"},
		{[]string{"mx.test", "--to", "a@x.test", "--tls-verify", "dane", "--insecure"}, "exclude each other"},
	} {
		_, errs, code := runDNS(t, tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, %q, want %q", tc.args, code, errs, tc.want)
		}
	}
}

// A recording of a send through several MX hosts holds every attempt and
// reads back.
func TestSendNoServerRecord(t *testing.T) {
	port, resolver, _, _ := dnsBed(t, "")
	rec := filepath.Join(t.TempDir(), "mx.jsonl")
	out, errs, code := runDNS(t, "--to", "b@example.test", "--resolver", resolver, "--port", port, "--record", rec)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	r, err := recordings.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	connects := 0
	for _, e := range r.Events {
		if e.Kind == session.KindConnect {
			connects++
		}
	}
	if connects != 2 {
		t.Errorf("%d connect events, want 2 (the dead MX, then the live one)", connects)
	}
	var pr bytes.Buffer
	if code := runWith(&appContext{ctx: context.Background(), stdout: &pr, stderr: &pr, stdin: strings.NewReader("")}, []string{"replay", "--print", rec}); code != 0 || !strings.Contains(pr.String(), "Trying 127.0.0.2:"+port) {
		t.Errorf("replay --print: exit %d\n%s", code, pr.String())
	}
}

// --peer-cert (swaks --tls-get-peer-cert) writes the certificate under a
// DANE route as without one: the DANE check must not replace the
// callback that captures it.
func TestSendDANEPeerCert(t *testing.T) {
	port, resolver, _, srv := dnsBed(t, "")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--to", "b@example.test", "--port", port, "--peer-cert", filepath.Join(dir, "mx.pem")},
		{"mx1.example.test:" + port, "--to", "b@example.test", "--tls-verify", "dane", "--tls-get-peer-cert", filepath.Join(dir, "dane.pem")},
	} {
		out, errs, code := runDNS(t, append(args, "--resolver", resolver)...)
		if code != 0 || !strings.Contains(out, "=== DANE: verified") {
			t.Fatalf("%q: exit %d\n%s\n%s", args, code, out, errs)
		}
		got, err := os.ReadFile(args[len(args)-1])
		if err != nil || !bytes.Equal(got, srv.CertPEM()) {
			t.Errorf("%q: wrote %q (%v), want the sandbox's certificate", args, got, err)
		}
	}
}

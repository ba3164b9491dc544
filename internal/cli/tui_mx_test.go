package cli

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session/mx/mxtest"
)

// ehlo --mx DOMAIN: the TUI's session goes to the domain's MX, found
// through --resolver, with DANE when the zone has TLSA records, which
// then makes STARTTLS immediate.
func TestTUIMXRoute(t *testing.T) {
	srv, err := sandbox.New(sandbox.Config{Listen: "127.0.0.1:0", TLSListen: "-", Hostname: "mx1.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(srv.Addr())
	blk, _ := pem.Decode(srv.CertPEM())
	cert, _ := x509.ParseCertificate(blk.Bytes)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	dns := mxtest.Start(t, fmt.Sprintf(`
example.test. 60 IN MX 10 mx1.example.test.
mx1.example.test. 60 IN A 127.0.0.1
_%s._tcp.mx1.example.test. 60 IN TLSA 3 1 1 %s
`, port, hex.EncodeToString(sum[:])), "example.test")

	app := &appContext{ctx: context.Background()}
	tc := &tuiCmd{mxFlags: mxFlags{MX: "Example.Test.", Resolver: dns.Addr}}
	tc.Timeout = 5 * time.Second
	tc.Port, _ = strconv.Atoi(port)
	if err := tc.checkMX("", false); err != nil {
		t.Fatal(err)
	}
	lc, startTLS, err := tc.liveConfig(app, "", tc.Port, &tls.Config{MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	if lc.Server != "127.0.0.1:"+port || !startTLS {
		t.Errorf("--mx: server %q, STARTTLS at once %v", lc.Server, startTLS)
	}

	// The first MX has no TLSA record and the second has: the session may
	// end up on either (it falls back from one that does not answer), so
	// it upgrades at once whichever answers.
	dns2 := mxtest.Start(t, fmt.Sprintf(`
example.test. 60 IN MX 10 plain.example.test.
example.test. 60 IN MX 20 mx1.example.test.
plain.example.test. 60 IN A 127.0.0.2
mx1.example.test. 60 IN A 127.0.0.1
_%s._tcp.mx1.example.test. 60 IN TLSA 3 1 1 %s
`, port, hex.EncodeToString(sum[:])), "example.test")
	tc.Resolver = dns2.Addr
	lc, startTLS, err = tc.liveConfig(app, "", tc.Port, &tls.Config{MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	if lc.Server != "127.0.0.2:"+port || !startTLS {
		t.Errorf("--mx, DANE on the second MX only: server %q, STARTTLS at once %v", lc.Server, startTLS)
	}

	for _, tc := range []struct {
		f      mxFlags
		server string
		lmtp   bool
		want   string
	}{
		{mxFlags{MX: "example.test"}, "mx.test", false, "exclude each other"},
		{mxFlags{Resolver: "127.0.0.1"}, "", false, "--resolver is for --mx"},
		{mxFlags{MX: "example.test"}, "", true, "LMTP"},
		{mxFlags{MX: "[127.0.0.1]"}, "", false, "--mx"},
	} {
		if err := tc.f.checkMX(tc.server, tc.lmtp); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v %q: %v, want %q", tc.f, tc.server, err, tc.want)
		}
	}
	// A domain whose MX does not resolve: a clear error before the TUI.
	tc.MX = "nowhere.test"
	if _, _, err := tc.liveConfig(app, "", 0, nil); err == nil || !strings.Contains(err.Error(), "--mx nowhere.test") {
		t.Errorf("unknown domain: %v", err)
	}
}

package tui

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/mx"
	"github.com/ehlo-dev/ehlo/session/mx/mxtest"
	"github.com/ehlo-dev/ehlo/themes"
)

// TrustCertificate makes the fake a truster, as session.Live is.
func (f *fakeConv) TrustCertificate(fp string) error {
	f.call("TrustCertificate(%s)", fp)
	return nil
}

// fixedChain is a server certificate and the CA that issued it, the same
// at every run (Ed25519 keys from fixed seeds sign deterministically), so
// that goldens can show them.
func fixedChain(t testing.TB) []*x509.Certificate {
	t.Helper()
	caKey := ed25519.NewKeyFromSeed([]byte(strings.Repeat("c", ed25519.SeedSize)))
	leafKey := ed25519.NewKeyFromSeed([]byte(strings.Repeat("l", ed25519.SeedSize)))
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Test CA", Organization: []string{"Example"}},
		NotBefore: from, NotAfter: to, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(nil, caT, caT, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mx1.dane.test"},
		DNSNames: []string{"mx1.dane.test", "dane.test"}, NotBefore: from, NotAfter: to,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(nil, leafT, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return []*x509.Certificate{leaf, ca}
}

// summary is the chain as the session summarizes a handshake.
func summary(chain []*x509.Certificate) []session.Certificate {
	var out []session.Certificate
	for _, c := range chain {
		sum, spki := sha256.Sum256(c.Raw), sha256.Sum256(c.RawSubjectPublicKeyInfo)
		out = append(out, session.Certificate{Subject: c.Subject.String(), Issuer: c.Issuer.String(), SANs: c.DNSNames,
			NotBefore: c.NotBefore, NotAfter: c.NotAfter, SHA256: hex.EncodeToString(sum[:]),
			KeyType: "Ed25519", KeyBits: 256, SPKISHA256: hex.EncodeToString(spki[:])})
	}
	return out
}

// daneRoute is the route the in-process DNS gives for dane.test (signed,
// MX 10 mx1.dane.test, a TLSA record tlsa, an MTA-STS and a TLS-RPT
// record) and DANE's verdict on chain, as the handshake would leave it.
func daneRoute(t testing.TB, tlsa string, chain []*x509.Certificate) *session.Route {
	t.Helper()
	dns := mxtest.Start(t, `
dane.test. 60 IN MX 10 mx1.dane.test.
mx1.dane.test. 60 IN A 127.0.0.1
_25._tcp.mx1.dane.test. 60 IN TLSA `+tlsa+`
_mta-sts.dane.test. 60 IN TXT "v=STSv1; id=20260101"
_smtp._tls.dane.test. 60 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@dane.test"
`, "dane.test")
	r, err := mx.NewResolver(dns.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := session.LiveConfig{Port: 25, Kind: protocol.SMTP, Options: protocol.Options{TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	_, route, err := session.PlanLive(context.Background(), cfg, session.RouteConfig{Resolver: r, ResolverName: "test", Domain: "dane.test"})
	if err != nil {
		t.Fatal(err)
	}
	v := mx.Verify(chain, route.Attempt.TLSA.Records, []string{"mx1.dane.test", "dane.test"}, fixedStart)
	route.Attempt.Verdict = &v
	return route
}

func spkiRecord(c *x509.Certificate) string {
	s := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "3 1 1 " + hex.EncodeToString(s[:])
}

// daneStates are the Connection pane's DNS states: a DANE-EE match over a
// two-certificate chain, and a mismatch, whose handshake failed.
func daneStates(t testing.TB) map[string]func(s *snapshot) {
	chain := fixedChain(t)
	match, mismatch := daneRoute(t, spkiRecord(chain[0]), chain), daneRoute(t, "3 1 1 "+strings.Repeat("ab", 32), chain)
	return map[string]func(s *snapshot){
		"dane-match": func(s *snapshot) {
			s.Server, s.Route = "127.0.0.1:25", match
			s.TLS = &session.TLSSummary{Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256", ServerName: "mx1.dane.test",
				Complete: true, Verified: true, Chain: summary(chain)}
		},
		"dane-mismatch": func(s *snapshot) {
			s.Server, s.Route, s.Connected, s.State = "127.0.0.1:25", mismatch, false, protocol.State{}
			s.TLS = &session.TLSSummary{ServerName: "mx1.dane.test", Error: "DANE verification failed: " + mismatch.DANEVerdict(),
				Chain: summary(chain)}
		},
	}
}

var paneSizes = [][2]int{{80, 24}, {120, 40}, {200, 60}}

// The Connection pane through DNS: the DANE verdict (match and mismatch)
// and the whole chain, at the three sizes; /cert shows every detail.
func TestGoldenConnDANE(t *testing.T) {
	for name, set := range daneStates(t) {
		for _, sz := range paneSizes {
			t.Run(fmt.Sprintf("%s/%dx%d", name, sz[0], sz[1]), func(t *testing.T) {
				f := newFake()
				f.snap = demoSnapshot()
				set(&f.snap)
				m := newTestModel(t, f, "dark", sz[0], sz[1])
				deliver(m, demoEvents()[:14]...)
				t.Run("pane", func(t *testing.T) { golden.RequireEqual(t, ansi.Strip(m.View().Content)) })
				typeText(m, "/cert")
				press(m, "enter")
				t.Run("cert", func(t *testing.T) { golden.RequireEqual(t, ansi.Strip(m.View().Content)) })
			})
		}
	}
}

// What the pane and /cert say, whatever the size cuts.
func TestConnDANEVerdicts(t *testing.T) {
	states := daneStates(t)
	f := newFake()
	f.snap = demoSnapshot()
	states["dane-match"](&f.snap)
	m := newTestModel(t, f, "dark", 200, 60)
	m.Update(activityMsg{})
	v := plain(m)
	for _, want := range []string{"✓ verified by DANE (TLSA)", "via DNS: MX 10 mx1.dane.test (DNSSEC ✓)",
		"TLSA _25._tcp.mx1.dane.test (AD: authenticated)", "✓ DANE match: DANE-EE 3 1 1, the server's certificate",
		"certificate 1/2 · the server's", "certificate 2/2 · issuer of 1", "key     Ed25519 256 bits",
		"TLS-RPT: v=TLSRPTv1; rua=mailto:tlsrpt@dane.test"} {
		if !strings.Contains(v, want) {
			t.Errorf("DANE match: the pane lacks %q:\n%s", want, v)
		}
	}
	states["dane-mismatch"](&f.snap)
	m.Update(activityMsg{})
	v = plain(m)
	for _, want := range []string{"✗ TLS handshake failed: DANE verification failed", "✗ DANE mismatch: no usable TLSA record matches"} {
		if !strings.Contains(v, want) {
			t.Errorf("DANE mismatch: the pane lacks %q:\n%s", want, v)
		}
	}
	// No way around DANE is offered: not --insecure, not a pin.
	if strings.Contains(v, "--insecure") || strings.Contains(v, "/cert trust") {
		t.Errorf("a way around a DANE mismatch is offered:\n%s", v)
	}
	press(m, "shift+tab", "t")
	if m.overlay != overlayNone || len(f.Calls()) != 0 {
		t.Errorf("t under a DANE mismatch: overlay %v, calls %q", m.overlay, f.Calls())
	}
}

// The trust offer (issue 14 item 3): after a failed verification the pane
// offers it, t shows the certificate and its sha256, y pins it; any other
// key, or /cert trust then n, changes nothing.
func TestTrustOfferAndConfirm(t *testing.T) {
	chain := summary(fixedChain(t))
	for _, sz := range paneSizes {
		f := newFake()
		f.snap = demoSnapshot()
		f.snap.Connected, f.snap.State = false, protocol.State{}
		f.snap.TLS = &session.TLSSummary{Error: "tls: failed to verify certificate: x509: certificate signed by unknown authority", Chain: chain}
		m := newTestModel(t, f, "dark", sz[0], sz[1])
		deliver(m, session.Event{Kind: session.KindTLS, Handshake: f.snap.TLS})
		// The pane, or at 80×24 the wire log, says how.
		if !strings.Contains(plain(m), "t (in the wire log) or /cert trust") {
			t.Errorf("%dx%d: the pane does not offer the pin:\n%s", sz[0], sz[1], plain(m))
		}
		typeText(m, "/cert trust")
		press(m, "enter")
		v := plain(m)
		if m.overlay != overlayTrust || !strings.Contains(v, "Trust this certificate?") || !strings.Contains(strings.ReplaceAll(v, " ", ""), chain[0].SHA256[:32]) {
			t.Fatalf("%dx%d: /cert trust shows:\n%s", sz[0], sz[1], v)
		}
		checkFrame(t, m, sz[0], sz[1])
		press(m, "n")
		if m.overlay != overlayNone || len(f.Calls()) != 0 {
			t.Errorf("%dx%d: n: overlay %v, calls %q", sz[0], sz[1], m.overlay, f.Calls())
		}
		press(m, "shift+tab", "t", "y")
		if got := f.Calls(); len(got) != 1 || got[0] != "TrustCertificate("+chain[0].SHA256+")" {
			t.Errorf("%dx%d: t then y called %q", sz[0], sz[1], got)
		}
		if !strings.Contains(plain(m), "trusting sha256 "+chain[0].SHA256[:16]) {
			t.Errorf("%dx%d: no word after y:\n%s", sz[0], sz[1], plain(m))
		}
	}
	// A fingerprint that is not 64 digits (a fake or damaged summary) is
	// passed on as shown, without a panic; the session refuses it.
	f0 := newFake()
	f0.snap = demoSnapshot()
	f0.snap.TLS = &session.TLSSummary{Error: "x509: certificate signed by unknown authority", Chain: []session.Certificate{{SHA256: "ab"}}}
	m0 := newTestModel(t, f0, "dark", 80, 24)
	m0.Update(activityMsg{})
	press(m0, "shift+tab", "t", "y")
	if got := f0.Calls(); len(got) != 1 || got[0] != "TrustCertificate(ab)" {
		t.Errorf("short fingerprint: %q", got)
	}
	// Once pinned, the pane says so.
	f := newFake()
	f.snap = demoSnapshot()
	f.snap.TLS = &session.TLSSummary{Version: "TLSv1.3", Complete: true, Verified: true, Pinned: true, Chain: chain}
	m := newTestModel(t, f, "dark", 120, 40)
	m.Update(activityMsg{})
	if v := plain(m); !strings.Contains(v, "✓ certificate pinned for this session") {
		t.Errorf("pinned:\n%s", v)
	}
	press(m, "shift+tab", "t")
	if m.overlay != overlayNone {
		t.Error("t offers a pin when nothing failed")
	}
}

// The new states in every theme and under NO_COLOR, at the three sizes:
// whole frames, and no colour under NO_COLOR.
func TestConnStatesEveryThemeAndSize(t *testing.T) {
	states := map[string]func(f *fakeConv, m *Model){}
	for name, set := range daneStates(t) {
		states[name] = func(f *fakeConv, m *Model) { f.set(set); m.Update(activityMsg{}) }
		states[name+"/cert"] = func(f *fakeConv, m *Model) {
			f.set(set)
			m.Update(activityMsg{})
			typeText(m, "/cert")
			press(m, "enter", "down")
		}
	}
	chain := summary(fixedChain(t))
	states["trust"] = func(f *fakeConv, m *Model) {
		f.set(func(s *snapshot) {
			s.TLS = &session.TLSSummary{Error: "x509: certificate signed by unknown authority", Chain: chain}
		})
		m.Update(activityMsg{})
		press(m, "shift+tab", "t")
	}
	for _, name := range themes.Names() {
		for _, noColor := range []bool{false, true} {
			for st, do := range states {
				for _, sz := range paneSizes {
					f := newFake()
					f.snap = demoSnapshot()
					m, err := New(Config{Conversation: f, Theme: name, NoColor: noColor})
					if err != nil {
						t.Fatal(err)
					}
					m.now = func() time.Time { return fixedStart }
					m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
					deliver(m, demoEvents()...)
					do(f, m)
					checkFrame(t, m, sz[0], sz[1])
					if seq := colourSequence(m.View().Content); noColor && seq != "" {
						t.Errorf("%s/%s/%dx%d: colour sequence %q under NO_COLOR", name, st, sz[0], sz[1], seq)
					}
					m.Close()
				}
			}
		}
	}
}

// The route's other verdicts: MTA-STS matched or not (enforce is loud,
// testing is not), and TLSA records without the AD bit, which DANE
// ignores.
func TestRouteLinesMTASTSAndNoAD(t *testing.T) {
	s := themes.Styles{}
	host := mx.Host{Name: "mx1.example.test", Preference: 10}
	pol := &mx.Policy{Mode: "enforce", MX: []string{"*.example.test"}}
	unsigned := &mx.TLSAResult{Name: "_25._tcp.mx1.example.test", Records: []mx.TLSA{{Usage: 3, Selector: 1, MatchingType: 1, Data: "ab"}}}
	for _, tc := range []struct {
		route session.Route
		want  []string
	}{
		{session.Route{Report: &mx.Report{MTASTS: &mx.STSState{Policy: pol}, TLSRPT: "v=TLSRPTv1; rua=mailto:r@example.test"}, Host: host,
			Attempt: mx.Attempt{MTASTS: "match", TLSA: &mx.TLSAResult{Name: "_25._tcp.mx1.example.test", Secure: true}}},
			[]string{"via DNS: MX 10 mx1.example.test (no DNSSEC)", "DANE: no TLSA record at _25._tcp.mx1.example.test",
				"MTA-STS enforce: ✓ host matches the policy (mx *.example.test)", "TLS-RPT: v=TLSRPTv1; rua=mailto:r@example.test"}},
		{session.Route{Report: &mx.Report{MTASTS: &mx.STSState{Policy: &mx.Policy{Mode: "testing", MX: []string{"other.test"}}}}, Host: host,
			Attempt: mx.Attempt{MTASTS: "mismatch", TLSA: unsigned}},
			[]string{"TLSA _25._tcp.mx1.example.test (no AD: not authenticated)", "  3 1 1 ab",
				"DANE does not apply: the records are not DNSSEC-authenticated", "MTA-STS testing: ✗ host matches no mx of the policy (other.test)"}},
		{session.Route{Report: &mx.Report{}, Host: host}, []string{"DANE: no TLSA lookup", "MTA-STS: no policy"}},
	} {
		got := strings.Join(routeLines(&tc.route, s, 200, false), "\n")
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("missing %q in:\n%s", w, got)
			}
		}
	}
	if routeLines(nil, s, 80, false) != nil {
		t.Error("a named server has route lines")
	}
}

package audit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
)

// start runs a sandbox with the given faults (specs as on the command
// line) and returns it; it stops with the test.
func start(t *testing.T, cfg sandbox.Config, faults ...string) *sandbox.Server {
	t.Helper()
	for _, s := range faults {
		f, err := sandbox.ParseFault(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	if cfg.TLSListen == "" {
		cfg.TLSListen = "-"
	}
	srv, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	return srv
}

// audit runs the named probes against srv's plain listener.
func audit(t *testing.T, srv *sandbox.Server, mod func(*Config), ids ...string) *Report {
	t.Helper()
	tg, err := ParseTarget(srv.Addr(), false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Target: tg, ProbeTimeout: 3 * time.Second, MaxTime: time.Minute, Only: ids}
	if mod != nil {
		mod(&cfg)
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func one(t *testing.T, srv *sandbox.Server, mod func(*Config), id string) Finding {
	t.Helper()
	rep := audit(t, srv, mod, id)
	if len(rep.Findings) != 1 {
		t.Fatalf("%d findings, want 1", len(rep.Findings))
	}
	return rep.Findings[0]
}

func want(t *testing.T, f Finding, st Status, evidence ...string) {
	t.Helper()
	all := strings.Join(f.Evidence, "\n")
	if f.Status != st {
		t.Fatalf("%s: status %s, want %s: %s\n%s", f.ID, f.Status, st, f.Summary, all)
	}
	for _, e := range evidence {
		if !strings.Contains(all, e) {
			t.Errorf("%s: evidence lacks %q:\n%s", f.ID, e, all)
		}
	}
	if f.Summary == "" || f.Severity == "" {
		t.Errorf("%s: empty summary or severity: %+v", f.ID, f)
	}
}

// Each finding, seen failing (or warning) on a sandbox playing the
// vulnerable server, and passing on the sandbox as it comes.
func TestFindingsBothWays(t *testing.T) {
	cases := []struct {
		id       string
		faults   []string
		cfg      sandbox.Config
		mod      func(*Config)
		st       Status
		evidence []string
	}{
		{"banner", nil, sandbox.Config{}, nil, Pass, []string{"S: 220 sandbox.ehlo.test ESMTP ehlo sandbox"}},
		{"banner", nil, sandbox.Config{Banner: "ESMTP Exim 4.96 Sun, 06 Dec 2026"}, nil, Warn, []string{"Exim 4.96"}},
		{"tls-offered", nil, sandbox.Config{}, nil, Pass, []string{"C: STARTTLS", "* TLS established"}},
		{"tls-offered", []string{"caps-before=PIPELINING,SIZE 1000"}, sandbox.Config{}, nil, Fail, []string{"S: 250 SIZE 1000"}},
		{"tls-versions", nil, sandbox.Config{}, nil, Pass, []string{"* TLS 1.0: refused", "* TLS 1.2: accepted", "* TLS 1.3: accepted"}},
		{"tls-versions", []string{"tls-legacy"}, sandbox.Config{}, nil, Fail, []string{"* TLS 1.0: accepted", "* TLS 1.1: accepted"}},
		{"tls-ciphers", nil, sandbox.Config{}, nil, Pass, []string{"refused"}},
		{"tls-ciphers", []string{"tls-legacy"}, sandbox.Config{}, nil, Fail, []string{"* accepted TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"}},
		{"certificate", nil, sandbox.Config{}, nil, Fail, []string{"* chain: ", "* name: matches 127.0.0.1"}},
		{"dane", nil, sandbox.Config{}, nil, Skip, nil},
		{"mta-sts", nil, sandbox.Config{}, nil, Skip, nil},
		{"starttls-injection", nil, sandbox.Config{}, nil, Pass, []string{`C: STARTTLS\r\n`, `C: NOOP\r\n`, "S: 221"}},
		{"starttls-injection", []string{"keep-pipelined"}, sandbox.Config{}, nil, Fail, []string{"* TLS established", "S: 250 Ok\\r\\n\nS: 250 Ok\\r\\n\nS: 221"}},
		{"cleartext-auth", nil, sandbox.Config{}, nil, Pass, []string{"S: 538 5.7.11"}},
		{"cleartext-auth", []string{"auth-before-tls"}, sandbox.Config{}, nil, Fail, []string{"C: AUTH PLAIN", "S: 334", `C: *\r\n`}},
		{"open-relay", nil, sandbox.Config{}, nil, Fail, []string{"C: RCPT TO:<ehlo-audit@example.net>", "S: 250 2.1.5 Ok"}},
		{"open-relay", []string{"relay-denied"}, sandbox.Config{}, nil, Pass, []string{"S: 554 5.7.1 <ehlo-audit@example.net>: Relay access denied"}},
		{"vrfy-expn", nil, sandbox.Config{}, nil, Pass, []string{"C: VRFY postmaster", "S: 252"}},
		{"vrfy-expn", []string{"user-unknown"}, sandbox.Config{}, nil, Fail, []string{"S: 250 2.1.5 postmaster", "S: 550 5.1.1 <ehlo-audit-"}},
		{"rcpt-enumeration", nil, sandbox.Config{}, nil, Pass, []string{"C: RCPT TO:<postmaster@sandbox.ehlo.test>"}},
		{"rcpt-enumeration", []string{"user-unknown"}, sandbox.Config{}, nil, Warn, []string{"S: 550 5.1.1 <ehlo-audit-"}},
		{"smtp-smuggling", nil, sandbox.Config{}, nil, Skip, nil},
		// A server that wants AUTH before MAIL (Dovecot's submission) gives
		// the probe no transaction: skip, not error.
		{"smtp-smuggling", []string{"require-auth"}, sandbox.Config{}, func(c *Config) { c.To = "alice@sandbox.ehlo.test" }, Skip, []string{"S: 530"}},
		{"pregreet", nil, sandbox.Config{}, nil, Warn, []string{"C: EHLO ehlo-audit.invalid", "S: 220 sandbox"}},
		{"pregreet", []string{"pregreet-guard"}, sandbox.Config{}, nil, Pass, []string{"S: 220-sandbox.ehlo.test", "S: 554 sandbox.ehlo.test Protocol error"}},
		{"size-enforced", nil, sandbox.Config{}, nil, Pass, []string{"C: MAIL FROM:<> SIZE=10485761", "S: 552"}},
		{"size-enforced", []string{"caps-before=PIPELINING,SIZE 1000"}, sandbox.Config{}, nil, Fail, []string{"C: MAIL FROM:<> SIZE=1001", "S: 250"}},
		// A 530 says nothing of the size (it passed as enforced before).
		{"size-enforced", []string{"require-auth"}, sandbox.Config{}, nil, Skip, []string{"C: MAIL FROM:<> SIZE=10485761", "S: 530"}},
		{"pipelining", nil, sandbox.Config{}, nil, Pass, []string{"C: RSET", "S: 221"}},
		{"pipelining", []string{"pipeline-short"}, sandbox.Config{}, nil, Fail, []string{"C: RSET", "S: 221"}},
	}
	for _, c := range cases {
		t.Run(c.id+"/"+string(c.st), func(t *testing.T) {
			t.Parallel()
			srv := start(t, c.cfg, c.faults...)
			want(t, one(t, srv, c.mod, c.id), c.st, c.evidence...)
		})
	}
}

// longLivedCert writes a self-signed certificate for 127.0.0.1 valid for a
// year, so the certificate probe can pass.
func longLivedCert(t *testing.T, notAfter time.Time) (certFile, keyFile string, pemBytes []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "audit test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pemBytes = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pemBytes
}

func TestCertificateVerifiedPassesAndNearExpiryWarns(t *testing.T) {
	for _, c := range []struct {
		life time.Duration
		st   Status
	}{{365 * 24 * time.Hour, Pass}, {3 * 24 * time.Hour, Warn}} {
		cf, kf, pemBytes := longLivedCert(t, time.Now().Add(c.life))
		srv := start(t, sandbox.Config{TLSCert: cf, TLSKey: kf})
		f := one(t, srv, func(cfg *Config) {
			cfg.RootCAs = x509.NewCertPool()
			cfg.RootCAs.AppendCertsFromPEM(pemBytes)
		}, "certificate")
		want(t, f, c.st, "* chain: verified", "* name: matches 127.0.0.1")
	}
	// The sandbox's own certificate, trusted, matches but has a day left.
	srv := start(t, sandbox.Config{})
	f := one(t, srv, func(cfg *Config) {
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(srv.CertPEM())
	}, "certificate")
	want(t, f, Warn, "* chain: verified")
	// A name the certificate does not carry fails.
	tg, _ := ParseTarget(srv.Addr(), false)
	tg.SNI = "mx.example.org"
	rep, err := Run(context.Background(), Config{Target: tg, Only: []string{"certificate"}, ProbeTimeout: 3 * time.Second,
		RootCAs: func() *x509.CertPool { p := x509.NewCertPool(); p.AppendCertsFromPEM(srv.CertPEM()); return p }()})
	if err != nil {
		t.Fatal(err)
	}
	want(t, rep.Findings[0], Fail, "* name: x509: certificate is valid for")
}

// smtp-smuggling runs only with --to, and then each variant delivers
// exactly one message to the sandbox; with bare-lf-dot three of them
// deliver a smuggled second message.
func TestSmuggling(t *testing.T) {
	to := func(c *Config) { c.To = "me@sandbox.ehlo.test" }
	srv := start(t, sandbox.Config{})
	want(t, one(t, srv, to, "smtp-smuggling"), Pass, "* <LF>.<LF>: 250 221: one message, not split")
	if n := srv.Mailbox().Len(); n != len(smugglingVariants) {
		t.Errorf("mailbox holds %d messages, want %d", n, len(smugglingVariants))
	}
	srv = start(t, sandbox.Config{}, "bare-lf-dot")
	f := one(t, srv, to, "smtp-smuggling")
	want(t, f, Fail, "* <LF>.<LF>: 6 replies (250 250 250 354 250 221)", "* <CR><LF>.<CR>: 250 221: one message, not split")
	for _, v := range []string{"<LF>.<LF>", "<LF>.<CR><LF>", "<CR><LF>.<LF>"} {
		if !strings.Contains(f.Summary, v) {
			t.Errorf("summary does not name %s: %s", v, f.Summary)
		}
	}
	if n := srv.Mailbox().Len(); n != len(smugglingVariants)+3 {
		t.Errorf("mailbox holds %d messages, want %d (three smuggled)", n, len(smugglingVariants)+3)
	}
}

// The JSON report has exactly the documented shape.
func TestJSONShape(t *testing.T) {
	srv := start(t, sandbox.Config{})
	rep := audit(t, srv, nil, "banner", "dane", "open-relay")
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc) != 3 || doc["server"] == nil || doc["started"] == nil || doc["findings"] == nil {
		t.Fatalf("top-level keys: %s", buf.String())
	}
	var started time.Time
	if err := json.Unmarshal(doc["started"], &started); err != nil {
		t.Fatalf("started: %v", err)
	}
	var fs []map[string]any
	if err := json.Unmarshal(doc["findings"], &fs); err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 {
		t.Fatalf("%d findings", len(fs))
	}
	for _, f := range fs {
		if len(f) != 5 {
			t.Errorf("finding keys: %v", f)
		}
		for _, k := range []string{"id", "status", "severity", "summary"} {
			if _, ok := f[k].(string); !ok {
				t.Errorf("%s is not a string in %v", k, f)
			}
		}
		if _, ok := f["evidence"].([]any); !ok {
			t.Errorf("evidence is not an array in %v", f)
		}
	}
}

// A hostile banner cannot break out of the Markdown report or reach the
// terminal as control characters.
func TestHostileBannerIsInert(t *testing.T) {
	srv := start(t, sandbox.Config{Banner: "ESMTP ````\x1b]0;pwned\x07 | <script> *x*"})
	rep := audit(t, srv, nil, "banner")
	var md, txt bytes.Buffer
	if err := WriteMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&txt, rep, nil); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{md.String(), txt.String()} {
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("control characters in the report:\n%q", out)
		}
	}
	if !strings.Contains(md.String(), "`````text\n") {
		t.Errorf("the fence is not longer than the banner's backticks:\n%s", md.String())
	}
	if strings.Contains(md.String(), "<script>") && !strings.Contains(md.String(), "`````text\n") {
		t.Errorf("raw HTML outside a fence")
	}
}

// --record writes one 0600 recording per probe connection, refuses to
// overwrite, and each file reads back as a recording.
func TestRecord(t *testing.T) {
	srv := start(t, sandbox.Config{})
	dir := filepath.Join(t.TempDir(), "rec")
	mod := func(c *Config) { c.RecordDir = dir }
	audit(t, srv, mod, "banner", "tls-versions")
	for _, name := range []string{"banner.jsonl", "tls-versions.jsonl"} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", name, fi.Mode())
		}
		rec, err := recordings.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		connects := 0
		for _, e := range rec.Events {
			if e.Kind == session.KindConnect {
				connects++
			}
		}
		// tls-versions opens one connection per version, all in its file.
		if want := map[string]int{"banner.jsonl": 1, "tls-versions.jsonl": 4}[name]; connects != want {
			t.Errorf("%s: %d connections recorded, want %d", name, connects, want)
		}
	}
	tg, _ := ParseTarget(srv.Addr(), false)
	_, err := Run(context.Background(), Config{Target: tg, RecordDir: dir, Only: []string{"banner"}})
	if err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("second run into the same directory: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tg, _ := ParseTarget(addr, false)
	_, err = Run(context.Background(), Config{Target: tg, ProbeTimeout: time.Second})
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want an UnreachableError", err)
	}
	// A server that greets with 554 is reached but refuses: also exit 2.
	srv := start(t, sandbox.Config{}, "reply:greeting=554 No SMTP service here")
	tg, _ = ParseTarget(srv.Addr(), false)
	if _, err = Run(context.Background(), Config{Target: tg, ProbeTimeout: time.Second}); !errors.As(err, &ue) {
		t.Fatalf("554 greeting: err = %v, want an UnreachableError", err)
	}
}

// A server that stops answering costs each probe its timeout and the
// audit its time limit, never more.
func TestBoundedBySilentServer(t *testing.T) {
	srv := start(t, sandbox.Config{}, "silent:ehlo")
	tg, _ := ParseTarget(srv.Addr(), false)
	rep, err := Run(context.Background(), Config{Target: tg, ProbeTimeout: 200 * time.Millisecond, MaxTime: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != len(Probes()) {
		t.Fatalf("%d findings, want %d", len(rep.Findings), len(Probes()))
	}
	for _, f := range rep.Findings {
		if f.Status == Pass || f.Status == Fail {
			if f.ID != "pregreet" && f.ID != "smtp-smuggling" {
				t.Errorf("%s concluded %s against a silent server: %s", f.ID, f.Status, f.Summary)
			}
		}
	}
}

// The audit's own stop (its time limit, or the user's Ctrl+C) while a
// probe waits on the server is no finding about the server: that probe is
// an error that says why, and the rest were not run. The interrupt ends
// the wait at once, not at the probe's timeout.
func TestStopWhileAProbeWaits(t *testing.T) {
	srv := start(t, sandbox.Config{}, "delay:starttls=30s")
	tg, _ := ParseTarget(srv.Addr(), false)
	for _, c := range []struct {
		name   string
		ctx    func() context.Context
		max    time.Duration
		why    string
		within time.Duration
	}{
		{"time limit", context.Background, time.Second, "the audit's time limit (1s) was reached", 5 * time.Second},
		{"interrupt", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(500*time.Millisecond, cancel)
			return ctx
		}, time.Minute, "the audit was interrupted", 5 * time.Second},
	} {
		start := time.Now()
		rep, err := Run(c.ctx(), Config{Target: tg, ProbeTimeout: 20 * time.Second, MaxTime: c.max, Only: []string{"banner", "tls-offered", "tls-versions"}})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d := time.Since(start); d > c.within {
			t.Errorf("%s: the audit took %s", c.name, d.Round(time.Millisecond))
		}
		got := map[string]Finding{}
		for _, f := range rep.Findings {
			got[f.ID] = f
		}
		if f := got["banner"]; f.Status != Pass {
			t.Errorf("%s: banner %s: %s", c.name, f.Status, f.Summary)
		}
		if f := got["tls-offered"]; f.Status != Error || f.Summary != "Stopped: "+c.why+" while this probe ran." {
			t.Errorf("%s: the probe under way: %s: %s", c.name, f.Status, f.Summary)
		}
		if f := got["tls-versions"]; f.Status != Error || f.Summary != "Not run: "+c.why+"." {
			t.Errorf("%s: the probe after: %s: %s", c.name, f.Status, f.Summary)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		in, network, addr, host string
		implicit                bool
	}{
		{"mx.example.org", "tcp", "mx.example.org:25", "mx.example.org", false},
		{"mx.example.org", "tcp", "mx.example.org:465", "mx.example.org", true},
		{"127.0.0.1:2525", "tcp", "127.0.0.1:2525", "127.0.0.1", false},
		{"[::1]:25", "tcp", "[::1]:25", "::1", false},
		{"::1", "tcp", "[::1]:25", "::1", false},
		{"/run/smtp.sock", "unix", "/run/smtp.sock", "", false},
	} {
		tg, err := ParseTarget(c.in, c.implicit)
		if err != nil || tg.Network != c.network || tg.Addr != c.addr || tg.Host != c.host {
			t.Errorf("ParseTarget(%q) = %+v, %v", c.in, tg, err)
		}
	}
	for _, bad := range []string{"", "host:0", "host:99999", "host:x", "a b:25"} {
		if _, err := ParseTarget(bad, false); err == nil {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
	tg, _ := ParseTarget("no-such-host.invalid", false)
	// A resolver on a dead loopback port: the test asks no real DNS
	// server, and the answer is the same failure to resolve.
	tg.hosts = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", "127.0.0.1:9")
	}}
	err := tg.Resolve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not resolve as a host") {
		t.Errorf("Resolve of a name that does not resolve: %v", err)
	}
	// Only a name without a port is a mail domain to look up MX for;
	// --port applies to it, and a port given twice is refused.
	for in, want := range map[string]string{"example.org": "example.org", "Example.org.": "Example.org",
		"mx.example.org:25": "", "127.0.0.1": "", "[::1]:25": "", "/run/smtp.sock": "", "localhost": "", "mailhost": "", "a\r\nb.example": "", "a<b.example": ""} {
		tg, _ := ParseTarget(in, false)
		if got := tg.MailDomain(); got != want {
			t.Errorf("MailDomain(%q) = %q, want %q", in, got, want)
		}
	}
	tg, _ = ParseTarget("example.org", false)
	if tg, err = tg.WithPort(2525); err != nil || tg.Addr != "example.org:2525" || tg.MailDomain() != "example.org" {
		t.Errorf("WithPort: %+v %v", tg, err)
	}
	tg, _ = ParseTarget("example.org:25", false)
	if _, err = tg.WithPort(2525); err == nil {
		t.Error("a port given twice was accepted")
	}
}

// A recording that cannot be created is kept for the finding's evidence,
// and the probe goes on without it.
func TestRecordFailureIsReported(t *testing.T) {
	srv := start(t, sandbox.Config{})
	dir := t.TempDir()
	// A directory where the recording would go makes it fail.
	if err := os.Mkdir(filepath.Join(dir, "tls-versions.jsonl"), 0o700); err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: Config{RecordDir: dir, Target: Target{Display: srv.Addr()}}, current: "tls-versions"}
	if tr := r.recorder(); tr != nil || len(r.recErrs) != 1 {
		t.Fatalf("tracer %v, errors %q", tr, r.recErrs)
	}
	// The probe's other connections do not try again.
	if tr := r.recorder(); tr != nil || len(r.recErrs) != 1 {
		t.Fatalf("second connection: tracer %v, errors %q", tr, r.recErrs)
	}
}

// What the caller gives goes on command lines: anything that could add a
// command, or is not an address, is refused before connecting.
func TestConfigRefusesInjection(t *testing.T) {
	srv := start(t, sandbox.Config{})
	tg, _ := ParseTarget(srv.Addr(), false)
	for _, c := range []Config{
		{To: "me@x.test\r\nRSET"},
		{To: "Me <me@x.test>"},
		{To: "not an address"},
		{User: "postmaster\r\nQUIT"},
		{Domain: "example.test\r\nNOOP"},
		{Helo: "a b"},
		{Tag: "x\r\nSubject: y"},
	} {
		c.Target = tg
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("Run(%+v) accepted", c)
		}
	}
	if n := srv.Mailbox().Len(); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestJudgeSmuggling(t *testing.T) {
	v := smugglingVariants[0]
	rs := func(codes ...int) []reply {
		var out []reply
		for _, c := range codes {
			out = append(out, reply{Code: c})
		}
		return out
	}
	for _, c := range []struct {
		codes      []int
		vulnerable bool
		err        bool
	}{
		{[]int{250, 221}, false, false},
		{[]int{250}, false, false},      // closed without answering QUIT
		{[]int{521}, false, false},      // bare LF refused, then closed
		{[]int{550, 221}, false, false}, // message refused
		{[]int{250, 250, 250, 354, 250, 221}, true, false},
		{[]int{250, 554}, true, false}, // smuggled MAIL refused by a sync check
		{nil, false, true},
	} {
		vuln, verdict, err := judgeSmuggling(v, rs(c.codes...))
		if vuln != c.vulnerable || (err != nil) != c.err || !strings.HasPrefix(verdict, "* "+v.name) {
			t.Errorf("%v: vulnerable %v, err %v, verdict %q", c.codes, vuln, err, verdict)
		}
	}
}

// Hostile servers cost the audit a bounded time and produce findings, not
// a crash or a report that lies: every probe that needed the broken reply
// says it could not conclude.
func TestHostileServers(t *testing.T) {
	for _, spec := range []string{"endless:ehlo=2000", "longline:ehlo=9000", "malformed:ehlo=mixed", "binary:ehlo", "cut:ehlo=partial", "drop:starttls"} {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			srv := start(t, sandbox.Config{}, spec)
			tg, _ := ParseTarget(srv.Addr(), false)
			start := time.Now()
			rep, err := Run(context.Background(), Config{Target: tg, ProbeTimeout: 2 * time.Second, MaxTime: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
			for _, f := range rep.Findings {
				// binary only adds bytes to a reply that still parses.
				broken := spec != "drop:starttls" && spec != "binary:ehlo"
				if f.Status == Pass && (f.ID == "tls-offered" || f.ID == "cleartext-auth") && broken {
					t.Errorf("%s: pass on a broken EHLO: %s\n%s", f.ID, f.Summary, strings.Join(f.Evidence, "\n"))
				}
				if len(f.Evidence) > MaxEvidence {
					t.Errorf("%s: %d evidence lines", f.ID, len(f.Evidence))
				}
				for _, e := range f.Evidence {
					if strings.ContainsAny(e, "\x00\x1b\r\n") {
						t.Errorf("%s: raw bytes in evidence %q", f.ID, e)
					}
				}
			}
			if spec == "drop:starttls" {
				if f := rep.Findings[indexOfFinding(rep, "tls-offered")]; f.Status != Fail {
					t.Errorf("tls-offered with STARTTLS dropped: %s %s", f.Status, f.Summary)
				}
			}
		})
	}
}

func indexOfFinding(rep *Report, id string) int {
	for i, f := range rep.Findings {
		if f.ID == id {
			return i
		}
	}
	return -1
}

// A Unix socket and implicit TLS are audited too.
func TestSocketAndImplicitTLS(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	if len(sock) > 100 {
		dir, err := os.MkdirTemp("", "audit")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		sock = filepath.Join(dir, "s.sock")
	}
	srv := start(t, sandbox.Config{Socket: sock, TLSListen: "127.0.0.1:0"})
	tg, err := ParseTarget(sock, false)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Config{Target: tg, ProbeTimeout: 3 * time.Second, Only: []string{"banner", "tls-offered", "certificate", "open-relay"}})
	if err != nil {
		t.Fatal(err)
	}
	want(t, rep.Findings[0], Pass)
	want(t, rep.Findings[1], Pass, "C: STARTTLS")
	want(t, rep.Findings[2], Fail, "* name: not checked (a socket has no host name; give --sni)")
	want(t, rep.Findings[3], Fail)

	tg, _ = ParseTarget(srv.TLSAddr(), true)
	rep, err = Run(context.Background(), Config{Target: tg, ProbeTimeout: 3 * time.Second, Only: []string{"tls-offered", "tls-versions", "starttls-injection", "cleartext-auth", "vrfy-expn"}})
	if err != nil {
		t.Fatal(err)
	}
	want(t, rep.Findings[0], Pass)
	if !strings.Contains(rep.Findings[0].Summary, "implicit TLS") {
		t.Errorf("tls-offered: %s", rep.Findings[0].Summary)
	}
	want(t, rep.Findings[1], Pass, "* TLS 1.0: refused", "* TLS 1.3: accepted")
	want(t, rep.Findings[2], Skip)
	want(t, rep.Findings[3], Pass)
	want(t, rep.Findings[4], Pass)
}

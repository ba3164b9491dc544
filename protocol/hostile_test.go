package protocol_test

// The protocol-level cases of the hostile catalogue, security-anchors §6:
// A (STARTTLS negotiation and buffering), B (certificates), C (credentials
// on the wire), E (DATA bytes on the wire), F (reply parsing) and G
// (timeouts and connection faults). Exit codes and display belong to the
// command line and the TUI; here we assert the errors, the exact client
// bytes and the Tracer's notes, secret spans and state events.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

const canary = "Zq9!canary-7f3a"

// canaryForms are the password and its base64 at the three alignments,
// and the PLAIN blob (security-anchors §6 "Canary absent").
func canaryForms() []string {
	forms := []string{canary, base64.StdEncoding.EncodeToString([]byte("\x00user\x00" + canary))}
	for pad := 0; pad < 3; pad++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", pad) + canary))
		// Drop the characters that depend on the padding bytes and the end.
		start := (pad*4 + 2) / 3
		forms = append(forms, strings.TrimRight(enc[start:len(enc)-4], "="))
	}
	return forms
}

func wantNoCanary(t *testing.T, where, s string) {
	t.Helper()
	for _, f := range canaryForms() {
		if strings.Contains(s, f) {
			t.Errorf("%s contains the canary (form %q)", where, f)
		}
	}
}

// ---------------------------------------------------------------------------
// A. STARTTLS negotiation and buffering

func TestHostileA1StrippedSTARTTLS(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, script(greet("AUTH PLAIN LOGIN"), []step{C("quit"), S("221 bye")}))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.StartTLS(getPKI(t).trusting())
	ns := wantErrAs[*protocol.NotSupportedError](t, err)
	if !strings.Contains(ns.Msg, "STARTTLS extension not supported by server") {
		t.Errorf("NotSupportedError %q", ns.Msg)
	}
	_, err = c.Login("user", canary, true)
	wantErrAs[*protocol.NotSupportedError](t, err)
	_, err = c.Quit()
	wantNoErr(t, err, "Quit")
	sc := srv.After(c)
	if got := sc.All(); got != "ehlo c.example\r\nquit\r\n" {
		t.Errorf("wire %q: want EHLO, then QUIT, nothing else", got)
	}
	wantNoCanary(t, "wire", sc.All())
	wantNoCanary(t, "trace", rec.sent())
}

// startTLSRefusal is A2–A4: STARTTLS is answered with something other than
// a complete 220.
func TestHostileA2toA4OddSTARTTLSReplies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reply  string
		code   int
		closed bool
		proto  bool
	}{
		{"A2_502", "502 5.5.1 Command not implemented\r\n", 502, false, false},
		{"A3_454", "454 TLS not available due to temporary reason\r\n", 454, false, false},
		{"A4_354", "354 do something else\r\n", 354, false, false},
		{"A4_250", "250 ok\r\n", 250, false, false},
		{"A4_221", "221 bye\r\n", 221, false, false},
		{"A4_501", "501 syntax\r\n", 501, false, false},
		{"A4_530", "530 must issue STARTTLS first\r\n", 530, false, false},
		{"A4_220_multiline_garbage", "220-ready\r\n250 garbage\r\n", 0, true, true},
		{"A4_421", "421 4.3.2 shutting down\r\n", 421, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := script(greet("STARTTLS", "AUTH PLAIN"), []step{C("STARTTLS"), SRaw(tc.reply)})
			if tc.closed {
				steps = append(steps, ExpectEOF()) // not even QUIT
			} else {
				steps = append(steps, C("quit"), S("221 bye"))
			}
			srv := newServer(t, steps)
			c := srv.mustDial(t)
			_, err := c.StartTLS(getPKI(t).trusting())
			if tc.proto {
				wantErrAs[*protocol.ProtocolError](t, err)
			} else {
				re := wantErrAs[*protocol.ResponseError](t, err)
				if re.Code != tc.code {
					t.Errorf("code %d, want %d", re.Code, tc.code)
				}
			}
			if c.State().TLS {
				t.Errorf("state says TLS")
			}
			if tc.closed {
				wantClosed(t, c)
				return
			}
			_, err = c.Login("user", canary, true)
			wantErrAs[*protocol.NotSupportedError](t, err)
			_, err = c.Quit()
			wantNoErr(t, err, "Quit")
			sc := srv.After(c)
			if got := sc.All(); got != "ehlo c.example\r\nSTARTTLS\r\nquit\r\n" {
				t.Errorf("wire %q: no handshake, nothing but QUIT", got)
			}
		})
	}
	t.Run("220_multiline_is_complete", func(t *testing.T) {
		pki := getPKI(t)
		srv := newServer(t, script(greet("STARTTLS"), []step{C("STARTTLS"), S("220-go", "220 ahead"), StartTLS(pki.good)}))
		c := srv.mustDial(t)
		r, err := c.StartTLS(pki.trusting())
		wantNoErr(t, err, "StartTLS")
		wantReply(t, r, 220, "go\nahead")
	})
}

// injectionScript is EAST B_1: the STARTTLS reply and forged EHLO lines in
// one write, then TLS.
func TestHostileA6ResponseInjection(t *testing.T) {
	pki := getPKI(t)
	rec := &recorder{}
	srv := newServer(t, script(greet("STARTTLS", "AUTH PLAIN LOGIN"), []step{
		C("STARTTLS"),
		SRaw("220 Ready\r\n250-evil.example\r\n250 AUTH PLAIN LOGIN\r\n"),
		StartTLS(pki.good),
		C("ehlo c.example"), S("250-real.example", "250 AUTH CRAM-MD5"),
		C("AUTH CRAM-MD5"), S("334 " + cramChallenge), C(cramResponse), S("235 ok"),
	}))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.StartTLS(pki.trusting())
	wantNoErr(t, err, "StartTLS")
	if !rec.hasNote("discarded 40 bytes received after 220, before TLS: 250-evil.example\\r\\n250 AUTH PLAIN LOGIN\\r\\n") {
		t.Errorf("notes %q: want the discard note with an escaped preview", rec.notes())
	}
	// The post-TLS EHLO alone decides: CRAM-MD5, not the injected PLAIN.
	_, err = c.Login("tim", "tanstaaftanstaaf", true)
	wantNoErr(t, err, "Login")
	if got := c.Features()["auth"]; got != " CRAM-MD5" {
		t.Errorf("auth feature %q", got)
	}
	for _, e := range rec.of(protocol.EventRecv) {
		if bytes.Contains(e.Data, []byte("evil")) || (e.TLS && bytes.Contains(e.Data, []byte("PLAIN"))) {
			t.Errorf("injected bytes read as a reply line: %q (TLS=%v)", e.Data, e.TLS)
		}
	}
	// The note comes before the TLS event, in wire order.
	var order []string
	for _, e := range rec.all() {
		if e.Kind == protocol.EventNote || e.Kind == protocol.EventTLS {
			order = append(order, e.Kind.String())
		}
	}
	if strings.Join(order, ",") != "note,tls" {
		t.Errorf("event order %v", order)
	}
	checkAuthSecrets(t, rec)
}

func TestHostileA7InjectionWithIgnoredEHLO(t *testing.T) {
	pki := getPKI(t)
	srv := newServer(t, script(greet("STARTTLS"), []step{
		C("STARTTLS"),
		SRaw("220 Ready\r\n250-evil.example\r\n250 AUTH PLAIN LOGIN\r\n"),
		StartTLS(pki.good),
		C("ehlo c.example"), // and no answer
		ExpectEOF(),
	}))
	c := srv.mustDial(t, withTimeout(500*time.Millisecond))
	_, err := c.StartTLS(pki.trusting())
	wantNoErr(t, err, "StartTLS")
	_, err = c.Ehlo("")
	sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
	if !strings.Contains(sd.Msg, "no reply within") {
		t.Errorf("message %q", sd.Msg)
	}
	if c.HasExtn("auth") {
		t.Errorf("EHLO completed with the injected lines")
	}
	wantClosed(t, c)
}

func TestHostileA8PartialLineInjection(t *testing.T) {
	pki := getPKI(t)
	rec := &recorder{}
	srv := newServer(t, script(greet("STARTTLS"), []step{
		C("STARTTLS"), SRaw("220 ok\r\n250-AUTH PLA"), StartTLS(pki.good),
		C("ehlo c.example"), S("250-real.example", "250 SIZE 100"),
	}))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.StartTLS(pki.trusting())
	wantNoErr(t, err, "StartTLS")
	if !rec.hasNote("discarded 12 bytes") {
		t.Errorf("notes %q", rec.notes())
	}
	_, err = c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	for _, ext := range c.Extensions() {
		if strings.HasPrefix(strings.ToUpper(ext.Keyword), "AUTH") || strings.Contains(ext.Params, "PLA") {
			t.Errorf("fragment parsed as an extension: %+v", ext)
		}
	}
	if got := c.Features(); !mapsEqual(got, map[string]string{"size": "100"}) {
		t.Errorf("features %v", got)
	}
}

// A9/A10: plaintext where the ServerHello should be. The handshake fails,
// the first bytes are shown, and nothing more is sent: not even QUIT.
func TestHostileA9A10PlaintextInsteadOfTLS(t *testing.T) {
	for _, tc := range []struct {
		name, reply, plain, shown string
	}{
		{"A9_late_injection", "220 ok\r\n", "250 fake\r\n", "250 f"},
		{"A10_220_then_plaintext", "220 go ahead\r\n", "250 OK\r\n", "250 O"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			srv := newServer(t, script(greet("STARTTLS"), []step{
				C("STARTTLS"), SRaw(tc.reply),
				ReadRaw(5), // the ClientHello's record header: the client is in the handshake
				SRaw(tc.plain),
				Anything(),
			}))
			c := srv.mustDial(t, withTracer(rec))
			_, err := c.StartTLS(getPKI(t).trusting())
			te := wantErrAs[*protocol.TLSError](t, err)
			if !strings.Contains(te.Error(), tc.shown) || !strings.Contains(te.Error(), "did not start TLS") {
				t.Errorf("error %q: want the first bytes %q", te, tc.shown)
			}
			var rh tls.RecordHeaderError
			if !errors.As(err, &rh) {
				t.Errorf("error does not wrap tls.RecordHeaderError")
			}
			wantClosed(t, c)
			sc := srv.After(c)
			raw := sc.RawRead()
			if len(raw) == 0 || raw[0] != 0x16 {
				t.Errorf("first bytes after STARTTLS %q: want a TLS handshake record", raw)
			}
			rest := strings.TrimPrefix(sc.All(), "ehlo c.example\r\nSTARTTLS\r\n")
			for _, cmd := range []string{"quit", "QUIT", "ehlo", "noop", "AUTH"} {
				if strings.Contains(rest, cmd) {
					t.Errorf("client sent %q in plaintext after the failed handshake", cmd)
				}
			}
			ev := rec.of(protocol.EventTLS)
			if len(ev) != 1 || ev[0].TLSErr == nil {
				t.Errorf("TLS events %+v", ev)
			}
		})
	}
}

func TestHostileA11STARTTLSOfferedAgain(t *testing.T) {
	pki := getPKI(t)
	rec := &recorder{}
	srv := newServer(t, script(greet("STARTTLS"), []step{
		C("STARTTLS"), S("220 go ahead"), StartTLS(pki.good),
		C("ehlo c.example"), S("250-fake.example", "250 STARTTLS"),
		C("noop"), S("250 ok"),
	}))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.StartTLS(pki.trusting())
	wantNoErr(t, err, "StartTLS")
	_, err = c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	if !rec.hasNote("re-advertised STARTTLS") {
		t.Errorf("notes %q", rec.notes())
	}
	_, err = c.StartTLS(pki.trusting())
	ns := wantErrAs[*protocol.NotSupportedError](t, err)
	if !strings.Contains(ns.Msg, "already") {
		t.Errorf("NotSupportedError %q", ns.Msg)
	}
	_, err = c.Noop() // the session goes on
	wantNoErr(t, err, "Noop")
	if got := srv.After(c).InTLS(); got != "ehlo c.example\r\nnoop\r\n" {
		t.Errorf("TLS bytes %q: no second STARTTLS", got)
	}
}

func TestHostileA12StateReset(t *testing.T) {
	pki := getPKI(t)
	rec := &recorder{}
	srv := newServer(t, script(greet("SIZE 1000", "AUTH LOGIN", "8BITMIME", "STARTTLS"), []step{
		C("STARTTLS"), S("220 go ahead"), StartTLS(pki.good),
		C("ehlo c.example"), S("250-fake.example", "250-SIZE 52428800", "250 AUTH PLAIN"),
		C("AUTH PLAIN " + b64UserPass), S("235 ok"),
	}, oneTxn("mail FROM:<a@x> size=2", "hi\r\n.\r\n")))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	_, err = c.StartTLS(pki.trusting())
	wantNoErr(t, err, "StartTLS")
	for _, k := range []string{"size", "auth", "8bitmime", "starttls"} {
		if c.HasExtn(k) {
			t.Errorf("HasExtn(%q) between the 220 and the new EHLO", k)
		}
	}
	_, err = c.Login("user", "pass", true)
	wantNoErr(t, err, "Login")
	if v, _ := c.Extn("size"); v != "52428800" {
		t.Errorf("SIZE %q", v)
	}
	_, err = c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	wantNoErr(t, err, "Sendmail") // no BODY=8BITMIME: the script has none
	// State events: TLS and authenticated are reported.
	var sawTLS, sawAuth bool
	for _, e := range rec.of(protocol.EventState) {
		sawTLS = sawTLS || e.State.TLS
		sawAuth = sawAuth || e.State.Authenticated
	}
	if !sawTLS || !sawAuth {
		t.Errorf("state events: TLS %v, authenticated %v", sawTLS, sawAuth)
	}
}

func TestHostileA14ImplicitTLSToPlaintext(t *testing.T) {
	srv := newServer(t, []step{S("220 plain ESMTP"), Anything()})
	c, _, err := srv.dial(t, protocol.SMTPS, withTLS(getPKI(t).trusting()))
	if c != nil {
		t.Errorf("Dial returned a client")
	}
	te := wantErrAs[*protocol.TLSError](t, err)
	msg := te.Error()
	if !strings.Contains(msg, "220 p") || !strings.Contains(msg, "STARTTLS") {
		t.Errorf("error %q: want the first bytes and the STARTTLS hint", msg)
	}
	wantSMTP(t, err)
}

// ---------------------------------------------------------------------------
// B. Certificates

func TestHostileBCertificates(t *testing.T) {
	pki := getPKI(t)
	ipCfg := pki.trusting
	nameCfg := func() *tls.Config { c := pki.trusting(); c.ServerName = "mail.test"; return c }
	for _, tc := range []struct {
		name  string
		cert  tls.Certificate
		cfg   func() *tls.Config
		check func(t *testing.T, err error)
	}{
		{"B1_self_signed", pki.selfSigned, ipCfg, func(t *testing.T, err error) {
			var ua x509.UnknownAuthorityError
			if !errors.As(err, &ua) {
				t.Errorf("%v: want UnknownAuthorityError", err)
			}
		}},
		{"B2_expired", pki.expired, ipCfg, func(t *testing.T, err error) {
			var ci x509.CertificateInvalidError
			if !errors.As(err, &ci) || ci.Reason != x509.Expired || !strings.Contains(err.Error(), "expired") {
				t.Errorf("%v: want an expired CertificateInvalidError", err)
			}
		}},
		{"B3_not_yet_valid", pki.notYet, ipCfg, func(t *testing.T, err error) {
			var ci x509.CertificateInvalidError
			if !errors.As(err, &ci) || ci.Reason != x509.Expired || !strings.Contains(err.Error(), "before") {
				t.Errorf("%v: want a not-yet-valid CertificateInvalidError", err)
			}
		}},
		{"B4_wrong_host_ip", pki.wrongHost, ipCfg, func(t *testing.T, err error) {
			var he x509.HostnameError
			if !errors.As(err, &he) || !strings.Contains(err.Error(), "127.0.0.1") {
				t.Errorf("%v: want a HostnameError naming 127.0.0.1", err)
			}
		}},
		{"B4_wrong_host_name", pki.wrongHost, nameCfg, func(t *testing.T, err error) {
			var he x509.HostnameError
			if !errors.As(err, &he) || !strings.Contains(err.Error(), "other.test") || !strings.Contains(err.Error(), "mail.test") {
				t.Errorf("%v: want 'valid for other.test, not mail.test'", err)
			}
		}},
		{"B8_custom_CA_missing", pki.good, func() *tls.Config { return nil }, func(t *testing.T, err error) {
			var ua x509.UnknownAuthorityError
			if !errors.As(err, &ua) {
				t.Errorf("%v: without the CA the test certificate is unknown", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			srv := newServer(t, script(greet("STARTTLS"), []step{C("STARTTLS"), S("220 go ahead"), TLSRefused(tc.cert)}))
			c := srv.mustDial(t, withTracer(rec))
			_, err := c.StartTLS(tc.cfg())
			wantErrAs[*protocol.TLSError](t, err)
			wantSMTP(t, err)
			tc.check(t, err)
			// Certificate details even on failure (security-anchors §1.4 rule 7).
			var cve *tls.CertificateVerificationError
			if !errors.As(err, &cve) || len(cve.UnverifiedCertificates) == 0 {
				t.Errorf("no CertificateVerificationError with the certificates")
			}
			ev := rec.of(protocol.EventTLS)
			if len(ev) != 1 || ev[0].TLSErr == nil || ev[0].TLSState == nil || len(ev[0].TLSState.PeerCertificates) == 0 {
				t.Errorf("TLS event %+v: want the error and the peer certificates", ev)
			} else if cn := ev[0].TLSState.PeerCertificates[0].Subject.CommonName; cn == "" {
				t.Errorf("peer certificate without subject")
			}
			if c.State().TLS {
				t.Errorf("state says TLS")
			}
			wantClosed(t, c)
			srv.Wait(0) // TLSRefused checks that nothing, not even QUIT, follows
		})
	}
	t.Run("B8_custom_CA_verified", func(t *testing.T) {
		srv := newServer(t, script(greet("STARTTLS"), []step{C("STARTTLS"), S("220 go ahead"), StartTLS(pki.good), C("noop"), S("250 ok")}))
		c := srv.mustDial(t)
		_, err := c.StartTLS(pki.trusting())
		wantNoErr(t, err, "StartTLS")
		cs, _ := c.TLSConnectionState()
		if len(cs.VerifiedChains) == 0 {
			t.Errorf("no verified chain")
		}
		_, err = c.Noop()
		wantNoErr(t, err, "Noop")
	})
}

func TestHostileB9UnixSocketNoServerName(t *testing.T) {
	pki := getPKI(t)
	t.Run("refused", func(t *testing.T) {
		srv := newUnixServer(t, []step{S("220 lmtp"), C("lhlo c.example"), S("250-lmtp.example", "250 STARTTLS")})
		c, _, err := protocol.Dial(protocol.LMTP, srv.addr, 0, clientOpts())
		wantNoErr(t, err, "Dial")
		defer c.Close()
		_, err = c.StartTLS(pki.trusting())
		ve := wantErrAs[*protocol.ValueError](t, err)
		if !strings.Contains(ve.Msg, "server name") {
			t.Errorf("ValueError %q", ve.Msg)
		}
		if got := srv.After(c).All(); got != "lhlo c.example\r\n" {
			t.Errorf("wire %q: no STARTTLS bytes", got)
		}
	})
	t.Run("with_server_name", func(t *testing.T) {
		srv := newUnixServer(t, []step{S("220 lmtp"), C("lhlo c.example"), S("250-lmtp.example", "250 STARTTLS"),
			C("STARTTLS"), S("220 go"), StartTLS(pki.good)})
		c, _, err := protocol.Dial(protocol.LMTP, srv.addr, 0, clientOpts())
		wantNoErr(t, err, "Dial")
		defer c.Close()
		cfg := pki.trusting()
		cfg.ServerName = "mail.test"
		_, err = c.StartTLS(cfg)
		wantNoErr(t, err, "StartTLS")
		if sni := srv.Conn(0).SNI(); sni != "mail.test" {
			t.Errorf("SNI %q", sni)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		srv := newUnixServer(t, []step{S("220 lmtp"), C("lhlo c.example"), S("250-lmtp.example", "250 STARTTLS"),
			C("STARTTLS"), S("220 go"), StartTLS(pki.selfSigned)})
		c, _, err := protocol.Dial(protocol.LMTP, srv.addr, 0, clientOpts())
		wantNoErr(t, err, "Dial")
		defer c.Close()
		_, err = c.StartTLS(&tls.Config{InsecureSkipVerify: true})
		wantNoErr(t, err, "StartTLS")
	})
}

// ---------------------------------------------------------------------------
// C. Credentials

func TestHostileC1NoCleartextAuth(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, greet("AUTH PLAIN LOGIN"))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.Login("user", canary, true)
	ns := wantErrAs[*protocol.NotSupportedError](t, err)
	if !strings.Contains(ns.Msg, "unencrypted") {
		t.Errorf("NotSupportedError %q", ns.Msg)
	}
	a, _ := protocol.PlainAuth("", "user", canary)
	_, err = c.Auth("PLAIN", a, true)
	wantErrAs[*protocol.NotSupportedError](t, err)
	if !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("error %q", err)
	}
	sc := srv.After(c)
	if got := sc.All(); got != "ehlo c.example\r\n" {
		t.Errorf("wire %q: no AUTH line", got)
	}
	wantNoCanary(t, "trace", rec.sent())
	t.Run("C2_opt_in", func(t *testing.T) {
		srv := newServer(t, script(greet("AUTH PLAIN"), []step{C("AUTH PLAIN " + b64UserPass), S("235 ok")}))
		c := srv.mustDial(t, withCleartext())
		_, err := c.Login("user", "pass", true)
		wantNoErr(t, err, "Login with the opt-in")
	})
}

func TestHostileC4LoginMislabelled(t *testing.T) {
	rec := &recorder{}
	var debug bytes.Buffer
	pw := base64.StdEncoding.EncodeToString([]byte(canary))
	srv := newServer(t, script(greet("AUTH LOGIN"), []step{
		C("AUTH LOGIN"), S("334 " + b64Username), C(b64User), S("334 " + b64Username), C(pw), S("235 ok"),
	}))
	c := newClient(t, protocol.SMTP, withCleartext(), withTracer(rec))
	c.SetDebugLevel(2, &debug)
	_, err := c.Connect("127.0.0.1", srv.port)
	wantNoErr(t, err, "Connect")
	_, err = c.Login("user", canary, false)
	wantNoErr(t, err, "Login")
	checkAuthSecrets(t, rec)
	sends := rec.of(protocol.EventSend)
	last := sends[len(sends)-1]
	if string(last.Data) != pw+"\r\n" || len(last.Secrets) != 1 || last.Secrets[0] != (protocol.Span{Start: 0, End: len(pw)}) {
		t.Errorf("password line %q secrets %+v", last.Data, last.Secrets)
	}
	wantNoCanary(t, "debug output", debug.String())
}

func TestHostileC5PlainRechallenge(t *testing.T) {
	rec := &recorder{}
	blob := base64.StdEncoding.EncodeToString([]byte("\x00user\x00" + canary))
	srv := newServer(t, script(greet("AUTH PLAIN"), []step{
		C("AUTH PLAIN " + blob), S("334 "), C("*"), S("501 5.7.0 cancelled"),
	}))
	c := srv.mustDial(t, withCleartext(), withTracer(rec))
	_, err := c.Login("user", canary, true)
	ae := wantErrAs[*protocol.AuthenticationError](t, err)
	if ae.Code != 501 {
		t.Errorf("code %d", ae.Code)
	}
	if n := strings.Count(srv.After(c).All(), blob); n != 1 {
		t.Errorf("the PLAIN blob went out %d times, want once", n)
	}
	checkAuthSecrets(t, rec)
	if !rec.hasNote("cancelling AUTH") {
		t.Errorf("notes %q", rec.notes())
	}
}

func TestHostileC6AuthInfiniteLoop(t *testing.T) {
	rec := &recorder{}
	var debug bytes.Buffer
	pw := base64.StdEncoding.EncodeToString([]byte(canary))
	steps := script(greet("AUTH LOGIN"), []step{C("AUTH LOGIN " + b64User)})
	for i := 0; i < 5; i++ {
		steps = append(steps, S("334 Zm9v"), C(pw))
	}
	steps = append(steps, S("334 Zm9v"), C("*"), S("501 cancelled"))
	srv := newServer(t, steps)
	c := newClient(t, protocol.SMTP, withCleartext(), withTracer(rec))
	c.SetDebugLevel(1, &debug)
	_, err := c.Connect("127.0.0.1", srv.port)
	wantNoErr(t, err, "Connect")
	_, err = c.Login("user", canary, true)
	ex := wantErrAs[*protocol.Exception](t, err)
	if !strings.Contains(ex.Msg, "infinite loop") {
		t.Errorf("Exception %q", ex.Msg)
	}
	checkAuthSecrets(t, rec)
	wantNoCanary(t, "debug output", debug.String())
	if n := strings.Count(debug.String(), "send: '[redacted]\\r\\n'"); n != 5 {
		t.Errorf("%d redacted response lines in the debug output, want 5:\n%s", n, debug.String())
	}
}

func TestHostileC7BadBase64Challenge(t *testing.T) {
	srv := newServer(t, script(greet("AUTH CRAM-MD5"), []step{
		C("AUTH CRAM-MD5"), S("334 !!!notbase64"), C("*"), S("501 5.7.0 cancelled"),
	}))
	c := srv.mustDial(t, withCleartext())
	_, err := c.Login("tim", "tanstaaftanstaaf", true)
	ae := wantErrAs[*protocol.AuthenticationError](t, err)
	if ae.Code != 501 {
		t.Errorf("code %d", ae.Code)
	}
	if got := srv.After(c).All(); got != "ehlo c.example\r\nAUTH CRAM-MD5\r\n*\r\n" {
		t.Errorf("wire %q: no digest may be sent", got)
	}
}

// ---------------------------------------------------------------------------
// E. DATA bytes on the wire

func TestHostileE2SmugglingVariants(t *testing.T) {
	variants := []string{"\n.\n", "\r.\r", "\r.\n", "\n.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r"}
	const want = "a\r\n..\r\nMAIL FROM:<x@y>\r\nb\r\n.\r\n"
	var steps []step
	steps = append(steps, greet()...)
	for range variants {
		for range 2 { // seekable and streamed
			steps = append(steps, oneTxn("mail FROM:<a@x>", want)...)
		}
	}
	srv := newServer(t, steps)
	c := srv.mustDial(t)
	for _, v := range variants {
		msg := "a" + v + "MAIL FROM:<x@y>\nb"
		for _, r := range []io.Reader{bytes.NewReader([]byte(msg)), streamOf(msg)} {
			_, err := c.Sendmail("a@x", []string{"b@y"}, r, nil, nil)
			wantNoErr(t, err, fmt.Sprintf("Sendmail %q", v))
		}
	}
	wire := srv.After(c).All()
	if n := strings.Count(wire, "\r\n.\r\n"); n != 2*len(variants) {
		t.Errorf("%d end-of-data sequences on the wire, want %d", n, 2*len(variants))
	}
	if strings.Contains(strings.ReplaceAll(wire, "\r\n", ""), "\r") || strings.Contains(strings.ReplaceAll(wire, "\r\n", ""), "\n") {
		t.Errorf("bare CR or LF on the wire")
	}
}

func TestHostileE4NoFinalNewline(t *testing.T) {
	for _, tc := range []struct{ name, msg, payload string }{
		{"no_eol", "first\nlast line", "first\r\nlast line\r\n.\r\n"},
		{"lone_cr", "first\nlast line\r", "first\r\nlast line\r\n.\r\n"},
		{"crlf", "last line\r\n", "last line\r\n.\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) { dataCase(t, tc.msg, tc.payload) })
	}
}

func TestHostileE5LeadingDots(t *testing.T) {
	dataCase(t, ".hidden\n.\n..\n. x\nend", "..hidden\r\n..\r\n...\r\n.. x\r\nend\r\n.\r\n")
}

// splitReader returns its data in the given pieces.
type splitReader struct{ pieces []string }

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.pieces[0])
	s.pieces[0] = s.pieces[0][n:]
	if s.pieces[0] == "" {
		s.pieces = s.pieces[1:]
	}
	return n, nil
}

func TestHostileE6ChunkBoundaries(t *testing.T) {
	const msg = "Subject: x\r\n\r\n.dot\r\nline\rtwo\nend\r"
	const payload = "Subject: x\r\n\r\n..dot\r\nline\r\ntwo\r\nend\r\n.\r\n"
	readers := map[string]func() io.Reader{
		"one_byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(msg)) },
		"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(msg)) },
		"data_err": func() io.Reader { return iotest.DataErrReader(strings.NewReader(msg)) },
		"cr_lf_split": func() io.Reader {
			return &splitReader{pieces: []string{"Subject: x\r", "\n\r", "\n.", "dot\r", "\nline\r", "two\nend\r"}}
		},
		"whole": func() io.Reader { return strings.NewReader(msg) },
	}
	var steps []step
	steps = append(steps, greet()...)
	for range readers {
		steps = append(steps, oneTxn("mail FROM:<a@x>", payload)...)
	}
	srv := newServer(t, steps)
	c := srv.mustDial(t)
	for name, mk := range readers {
		_, err := c.Sendmail("a@x", []string{"b@y"}, mk(), nil, nil)
		wantNoErr(t, err, name)
	}
}

// lineSource generates n bytes of message lines without holding them.
type lineSource struct{ left int }

func (l *lineSource) Read(p []byte) (int, error) {
	if l.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), l.left)
	for i := range n {
		if i%78 == 77 {
			p[i] = '\n'
		} else {
			p[i] = 'x'
		}
	}
	l.left -= n
	return n, nil
}

func TestHostileE8ServerClosesMidDATA(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, script(greet(), dataTxn(), []step{
		S("354 go"),
		Do("read 1 MB", func(sc *serverConn) error { _, err := sc.ReadFull(1 << 20); return err }),
		Reset(),
	}))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.Sendmail("a@x", []string{"b@y"}, &lineSource{left: 64 << 20}, nil, nil)
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
	wantClosed(t, c)
	if !rec.hasNote("connection lost after") {
		t.Errorf("notes %q: want the byte count", rec.notes())
	}
	for _, e := range rec.of(protocol.EventSend) {
		if bytes.HasSuffix(e.Data, []byte("\r\n.\r\n")) {
			t.Errorf("terminator sent after the failure")
		}
	}
}

func TestHostileE3NULRefusedBeforeDATA(t *testing.T) {
	srv := newServer(t, greet("SIZE"))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("a\r\n\x00.\r\nb"), nil, nil)
	ve := wantErrAs[*protocol.ValueError](t, err)
	if !strings.Contains(ve.Msg, "NUL byte at offset 3") {
		t.Errorf("ValueError %q", ve.Msg)
	}
	if !errors.Is(err, protocol.ErrNULInData) {
		t.Errorf("not ErrNULInData")
	}
	if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
		t.Errorf("wire %q: refused before MAIL", got)
	}
}

// failingReader returns data, then an error.
type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestHostileE7AbortWithoutTerminator(t *testing.T) {
	boom := errors.New("stdin: read error")
	for _, tc := range []struct {
		name string
		r    io.Reader
		want error
	}{
		{"NUL_in_stream", streamOf("hello\r\n\x00.\r\nworld"), protocol.ErrNULInData},
		{"read_error", &failingReader{data: "partial\r\nmessage", err: boom}, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, script(greet(), dataTxn(), []step{S("354 go"), Anything()}))
			c := srv.mustDial(t)
			_, err := c.Sendmail("a@x", []string{"b@y"}, tc.r, nil, nil)
			ab := wantErrAs[*protocol.AbortError](t, err)
			if !errors.Is(err, protocol.ErrMessageAborted) || !errors.Is(err, tc.want) {
				t.Errorf("AbortError %v does not match %v", ab, tc.want)
			}
			wantClosed(t, c)
			wire := srv.After(c).All()
			if strings.HasSuffix(wire, "\r\n.\r\n") || strings.Contains(wire, "world") {
				t.Errorf("wire %q: the partial message must not be ended", wire)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// F. Reply parsing

func TestHostileF1F2F3LineLimit(t *testing.T) {
	t.Run("F1_8192_greeting", func(t *testing.T) {
		srv := newServer(t, []step{SRaw("220 " + strings.Repeat("x", 8186) + "\r\n")})
		_, _, err := srv.dial(t, protocol.SMTP)
		wantNoErr(t, err, "Dial")
	})
	t.Run("F2_8193_greeting", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, []step{SRaw("220 " + strings.Repeat("x", 8187) + "\r\n"), ExpectEOF()})
		c, _, err := srv.dial(t, protocol.SMTP, withTracer(rec))
		if c != nil {
			t.Errorf("Dial returned a client")
		}
		re := wantErrAs[*protocol.ResponseError](t, err)
		if re.Code != 500 || re.Message != "Line too long" {
			t.Errorf("(%d, %q)", re.Code, re.Message)
		}
		if !rec.hasNote("8193+ bytes") {
			t.Errorf("notes %q", rec.notes())
		}
		srv.Wait(0)
	})
	t.Run("F2_8193_bare_lf", func(t *testing.T) {
		srv := newServer(t, []step{SRaw("220 " + strings.Repeat("x", 8188) + "\n"), ExpectEOF()})
		_, _, err := srv.dial(t, protocol.SMTP)
		wantErrAs[*protocol.ResponseError](t, err)
	})
}

func TestHostileF3EndlessLine(t *testing.T) {
	// Not parallel: the allocation check needs the process to itself.
	srv := newServer(t, []step{SRaw("220 "), SendForever(strings.Repeat("A", 4096))})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, _, err := srv.dial(t, protocol.SMTP, withTimeout(5*time.Second))
	el := time.Since(start)
	runtime.ReadMemStats(&after)
	re := wantErrAs[*protocol.ResponseError](t, err)
	if re.Code != 500 {
		t.Errorf("code %d", re.Code)
	}
	if el > 4*time.Second {
		t.Errorf("took %s: the line limit must fire, not the timeout", el)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes reading an endless line", grew)
	}
}

func TestHostileF4EndlessMultiline(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"lines", "250-x\r\n"},
		{"bytes", "250-" + strings.Repeat("y", 8000) + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, []step{S("220 fake ESMTP"), C("ehlo c.example"), SendForever(tc.line)})
			c := srv.mustDial(t, withTimeout(10*time.Second))
			_, err := c.Ehlo("")
			pe := wantErrAs[*protocol.ProtocolError](t, err)
			if !strings.Contains(pe.Msg, "reply exceeds 1000 lines or 1048576 bytes") {
				t.Errorf("ProtocolError %q", pe.Msg)
			}
			wantClosed(t, c)
		})
	}
}

func TestHostileF5CodeOnly(t *testing.T) {
	srv := newServer(t, []step{
		S("220 fake ESMTP"),
		C("noop"), SRaw("250\r\n"),
		C("noop"), SRaw("250 \r\n"),
		C("ehlo c.example"), SRaw("250-fake.example\r\n250-SIZE 10\r\n250\r\n"),
	})
	c := srv.mustDial(t)
	for i := 0; i < 2; i++ {
		r, err := c.Noop()
		wantNoErr(t, err, "Noop")
		wantReply(t, r, 250, "")
	}
	_, err := c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	if v, ok := c.Extn("size"); !ok || v != "10" {
		t.Errorf("SIZE %q %v", v, ok)
	}
}

func TestHostileF6InconsistentCodes(t *testing.T) {
	srv := newServer(t, script(greet(), []step{
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), SRaw("250-first\r\n550 second\r\n"),
		ExpectEOF(), // no RSET, no QUIT: closed
	}))
	c := srv.mustDial(t)
	start := time.Now()
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	pe := wantErrAs[*protocol.ProtocolError](t, err)
	if !strings.Contains(pe.Msg, "inconsistent reply codes (250, 550)") {
		t.Errorf("ProtocolError %q", pe.Msg)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("hung for %s", time.Since(start))
	}
	wantClosed(t, c)
}

// replyCase greets, sends NOOP and answers with raw; it returns the error.
func replyCase(t *testing.T, raw string) (*protocol.Client, *recorder, protocol.Reply, error) {
	t.Helper()
	rec := &recorder{}
	srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), SRaw(raw), Anything()})
	c := srv.mustDial(t, withTracer(rec))
	r, err := c.Noop()
	return c, rec, r, err
}

func TestHostileF7F8F9MalformedCodes(t *testing.T) {
	for _, tc := range []struct{ id, raw, want string }{
		{"F7", "2x0 ok\r\n", `malformed reply code in 2x0 ok\r\n`},
		{"F7", "+25 ok\r\n", "malformed reply code"},
		{"F7", " 25 ok\r\n", "malformed reply code"},
		{"F7", "2_5 ok\r\n", "malformed reply code"},
		{"F7", "25 ok\r\n", "malformed reply code"},
		{"F7", "2500 ok\r\n", "unexpected 0 after reply code 250"},
		{"F7", "25\r\n", "too short"},
		{"F7", "\x1b[2J\r\n", `\x1b`},
		{"F8", "099 x\r\n", "malformed reply code"},
		{"F8", "100 x\r\n", "malformed reply code"},
		{"F8", "600 x\r\n", "malformed reply code"},
		{"F8", "666 Mouhahahaha!!\r\n", "malformed reply code"},
		{"F8", "999 x\r\n", "malformed reply code"},
		{"F8", "260 x\r\n", "malformed reply code"},
		{"F9", "250Xok\r\n", "unexpected X after reply code 250"},
		{"F9", "250\tok\r\n", `unexpected \t after reply code 250`},
	} {
		t.Run(tc.id+"_"+strings.TrimSpace(fmt.Sprintf("%q", tc.raw)), func(t *testing.T) {
			c, _, _, err := replyCase(t, tc.raw)
			pe := wantErrAs[*protocol.ProtocolError](t, err)
			if !strings.Contains(pe.Msg, tc.want) {
				t.Errorf("ProtocolError %q, want %q", pe.Msg, tc.want)
			}
			if strings.ContainsAny(pe.Msg, "\r\n\t\x1b") {
				t.Errorf("ProtocolError text carries raw control bytes: %q", pe.Msg)
			}
			if string(pe.Line) != tc.raw {
				t.Errorf("Line %q, want the raw line", pe.Line)
			}
			wantSMTP(t, err)
			wantClosed(t, c)
		})
	}
	t.Run("F8_bad_greeting", func(t *testing.T) {
		srv := newServer(t, []step{S("666 bad greeting"), ExpectEOF()})
		_, _, err := srv.dial(t, protocol.SMTP)
		wantErrAs[*protocol.ProtocolError](t, err)
	})
}

func TestHostileF10toF12OddButValid(t *testing.T) {
	t.Run("F10_bare_lf", func(t *testing.T) {
		_, rec, r, err := replyCase(t, "250 ok\n")
		wantNoErr(t, err, "Noop")
		wantReply(t, r, 250, "ok")
		if !rec.hasNote("bare LF") {
			t.Errorf("notes %q", rec.notes())
		}
	})
	t.Run("F11_stray_cr_and_bell", func(t *testing.T) {
		// ehlo's choice: accepted, the bytes kept as data (escaped only
		// when displayed).
		_, rec, r, err := replyCase(t, "250 a\rb\r\n")
		wantNoErr(t, err, "Noop")
		wantReply(t, r, 250, "a\rb")
		if len(rec.notes()) != 0 {
			t.Errorf("notes %q", rec.notes())
		}
		_, _, r, err = replyCase(t, "250 bell\x07\r\n")
		wantNoErr(t, err, "Noop")
		wantReply(t, r, 250, "bell\x07")
	})
	t.Run("F12_nul_and_non_utf8", func(t *testing.T) {
		_, rec, r, err := replyCase(t, "250 has\x00nul \xff\xfe\r\n")
		wantNoErr(t, err, "Noop")
		wantReply(t, r, 250, "has\x00nul \xff\xfe")
		ev := rec.of(protocol.EventRecv)
		if last := ev[len(ev)-1]; string(last.Data) != "250 has\x00nul \xff\xfe\r\n" {
			t.Errorf("recv event %q, want the raw bytes", last.Data)
		}
	})
}

func TestHostileF13F14CloseMidReply(t *testing.T) {
	for _, tc := range []struct{ id, raw, partial string }{
		{"F13", "250-a\r\n250-b", "250-b"},
		{"F14", "500 Command not", "500 Command not"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			rec := &recorder{}
			srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), SRaw(tc.raw), Close()})
			c := srv.mustDial(t, withTracer(rec))
			_, err := c.Noop()
			sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
			if !strings.Contains(sd.Msg, "in the middle of a reply") {
				t.Errorf("message %q", sd.Msg)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("does not wrap io.ErrUnexpectedEOF")
			}
			ev := rec.of(protocol.EventRecv)
			if last := ev[len(ev)-1]; string(last.Data) != tc.partial {
				t.Errorf("last recv event %q, want the partial line %q", last.Data, tc.partial)
			}
			wantClosed(t, c)
		})
	}
}

func TestHostileF15PrematureReply(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{SRaw("220 fake ESMTP\r\n250-fake.example\r\n250 SIZE 10\r\n"), ExpectEOF()})
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.Ehlo("")
	pe := wantErrAs[*protocol.ProtocolError](t, err)
	if !strings.Contains(pe.Msg, "server sent data before the client's command") {
		t.Errorf("ProtocolError %q", pe.Msg)
	}
	if string(pe.Line) != "250-fake.example\r\n250 SIZE 10\r\n" {
		t.Errorf("Line %q", pe.Line)
	}
	if c.HasExtn("size") {
		t.Errorf("the unsolicited 250 was taken as the EHLO reply")
	}
	if rec.sent() != "" {
		t.Errorf("sent %q", rec.sent())
	}
	if !rec.hasNote("server sent 31 bytes before the client's command") {
		t.Errorf("notes %q", rec.notes())
	}
	wantClosed(t, c)
}

func TestHostileF16OutOfTurn421(t *testing.T) {
	t.Run("same_segment", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, script(greet(), []step{C("mail FROM:<a@x>"), SRaw("250 ok\r\n421 4.3.2 shutting down\r\n"), ExpectEOF()}))
		c := srv.mustDial(t, withTracer(rec))
		_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
		re := wantErrAs[*protocol.ResponseError](t, err)
		if re.Code != 421 || re.Message != "4.3.2 shutting down" {
			t.Errorf("ResponseError (%d, %q)", re.Code, re.Message)
		}
		wantClosed(t, c)
		if strings.Contains(rec.sent(), "rcpt") || strings.Contains(rec.sent(), "rset") {
			t.Errorf("sent %q after the 421", rec.sent())
		}
	})
	t.Run("separate_segment_then_close", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, script(greet(), []step{C("mail FROM:<a@x>"), S("250 ok"), S("421 4.3.2 shutting down"), Close()}))
		c := srv.mustDial(t, withTracer(rec))
		_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
		// Depending on timing the 421 is seen before RCPT is written, as
		// the reply to RCPT, or not at all (the server is gone): an error
		// in every case, and never an RSET after it.
		var re *protocol.ResponseError
		var rr *protocol.RecipientsRefusedError
		var sd *protocol.ServerDisconnectedError
		if !errors.As(err, &re) && !errors.As(err, &rr) && !errors.As(err, &sd) {
			t.Errorf("error %v (%T)", err, err)
		}
		if strings.Contains(rec.sent(), "rset") {
			t.Errorf("RSET sent after a 421")
		}
		wantClosed(t, c)
	})
	t.Run("before_ehlo", func(t *testing.T) {
		srv := newServer(t, []step{SRaw("220 fake ESMTP\r\n421 4.3.2 going down\r\n"), ExpectEOF()})
		c := srv.mustDial(t)
		_, err := c.Ehlo("")
		re := wantErrAs[*protocol.ResponseError](t, err)
		if re.Code != 421 {
			t.Errorf("code %d", re.Code)
		}
		wantClosed(t, c)
	})
}

func TestHostileF17Greeting554(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{S("554 No SMTP service here"), ExpectEOF()})
	_, _, err := srv.dial(t, protocol.SMTP, withTracer(rec))
	ce := wantErrAs[*protocol.ConnectError](t, err)
	if ce.Code != 554 || ce.Message != "No SMTP service here" {
		t.Errorf("ConnectError (%d, %q)", ce.Code, ce.Message)
	}
	if !strings.Contains(ce.Error(), "No SMTP service here") {
		t.Errorf("Error() %q", ce.Error())
	}
	// ehlo's choice, as smtplib's: close without QUIT.
	srv.Wait(0)
	if rec.sent() != "" {
		t.Errorf("sent %q", rec.sent())
	}
	if k := rec.all(); k[len(k)-1].Kind != protocol.EventClose {
		t.Errorf("last event %v", k[len(k)-1].Kind)
	}
}

// ---------------------------------------------------------------------------
// G. Timeouts and connection faults

func TestHostileG1NoGreeting(t *testing.T) {
	srv := newServer(t, []step{ExpectEOF()})
	start := time.Now()
	_, _, err := srv.dial(t, protocol.SMTP, withTimeout(300*time.Millisecond))
	el := time.Since(start)
	sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
	if !strings.Contains(sd.Msg, "no reply within 300ms") {
		t.Errorf("message %q", sd.Msg)
	}
	if el < 240*time.Millisecond || el > 3*time.Second {
		t.Errorf("gave up after %s, want about 300ms", el)
	}
}

func TestHostileG2NoReply(t *testing.T) {
	t.Run("to_EHLO", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("ehlo c.example"), ExpectEOF()})
		c := srv.mustDial(t, withTimeout(300*time.Millisecond))
		_, err := c.Ehlo("")
		sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
		if !strings.Contains(sd.Msg, "no reply within") {
			t.Errorf("message %q", sd.Msg)
		}
		wantClosed(t, c)
	})
	t.Run("after_the_final_dot", func(t *testing.T) {
		srv := newServer(t, script(greet(), dataTxn(), []step{S("354 go"), CData("hi\r\n.\r\n"), ExpectEOF()}))
		c := srv.mustDial(t, withTimeout(300*time.Millisecond))
		_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
		wantErrAs[*protocol.ServerDisconnectedError](t, err)
		wantClosed(t, c)
	})
}

func TestHostileG3DripFeed(t *testing.T) {
	// One byte every 100ms, forever: the deadline covers the whole reply.
	srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), Drip(strings.Repeat("250-x\r\n", 20), 100*time.Millisecond)})
	c := srv.mustDial(t, withTimeout(500*time.Millisecond))
	start := time.Now()
	_, err := c.Noop()
	el := time.Since(start)
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
	if el < 400*time.Millisecond || el > 3*time.Second {
		t.Errorf("gave up after %s, want about 500ms", el)
	}
}

func TestHostileG5Refused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	start := time.Now()
	c, _, err := protocol.Dial(protocol.SMTP, "127.0.0.1", port, clientOpts())
	if c != nil || err == nil {
		t.Fatalf("Dial to a closed port: %v", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v, want connection refused", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

func TestHostileG6CloseAfterGreeting(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), Close()})
	c := srv.mustDial(t)
	srv.Wait(0)
	_, err := c.Ehlo("")
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
	wantClosed(t, c)
	// Sticky: every later call fails at once without touching the network.
	_, err = c.Noop()
	sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
	if sd.Msg != "not connected" {
		t.Errorf("message %q", sd.Msg)
	}
}

// ErrCleartextAuth is exported as "the reason credentials were not sent":
// a caller (the session, the exit-code mapping) must be able to recognise
// it with errors.Is rather than by comparing strings.
func TestCleartextRefusalIsErrCleartextAuth(t *testing.T) {
	srv := newServer(t, greet("AUTH PLAIN"))
	c := srv.mustDial(t)
	_, err := c.Login("user", "pass", true)
	if !errors.Is(err, protocol.ErrCleartextAuth) {
		t.Errorf("errors.Is(%v, ErrCleartextAuth) is false", err)
	}
	wantErrAs[*protocol.NotSupportedError](t, err)
}

// ---------------------------------------------------------------------------
// Raw lines (C10, D9, D11): what a user types goes to the server as typed,
// through the CR/LF/NUL choke point, and the client's idea of the protocol
// stays true.

func TestHostileD11RawGuard(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{S("220 fake ESMTP")})
	c := srv.mustDial(t, withTracer(rec), withCleartext())
	for _, line := range []string{"NOOP\r\nQUIT", "NOOP\nSTARTTLS", "NOOP\rRSET", "NOOP\x00"} {
		_, err := c.Debug().Raw(line)
		wantErrAs[*protocol.ValueError](t, err)
		_, err = c.Docmd(line, "")
		wantErrAs[*protocol.ValueError](t, err)
	}
	_, err := c.Debug().Raw("AUTH PLAIN " + b64UserPass + "\r\nNOOP")
	ve := wantErrAs[*protocol.ValueError](t, err)
	if strings.Contains(ve.Msg, b64UserPass) {
		t.Errorf("the AUTH argument is echoed: %q", ve.Msg)
	}
	if rec.sent() != "" {
		t.Errorf("sent %q", rec.sent())
	}
}

func TestHostileC10RawAUTH(t *testing.T) {
	t.Run("refused_in_clear", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, []step{S("220 fake ESMTP")})
		c := srv.mustDial(t, withTracer(rec))
		_, err := c.Debug().Raw("AUTH PLAIN " + b64UserPass)
		wantErrAs[*protocol.NotSupportedError](t, err)
		if rec.sent() != "" {
			t.Errorf("sent %q", rec.sent())
		}
	})
	t.Run("initial_response_marked", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, []step{S("220 fake ESMTP"), C("auth plain " + b64UserPass), S("235 ok")})
		c := srv.mustDial(t, withTracer(rec), withCleartext())
		r, err := c.Debug().Raw("auth plain " + b64UserPass)
		wantNoErr(t, err, "Raw AUTH")
		wantReply(t, r, 235, "ok")
		if !c.State().Authenticated {
			t.Errorf("not authenticated")
		}
		e := rec.of(protocol.EventSend)[0]
		if len(e.Secrets) != 1 || e.Secrets[0] != (protocol.Span{Start: 11, End: 11 + len(b64UserPass)}) {
			t.Errorf("secrets %+v", e.Secrets)
		}
	})
	t.Run("challenge_mode", func(t *testing.T) {
		rec := &recorder{}
		var debug bytes.Buffer
		srv := newServer(t, []step{
			S("220 fake ESMTP"),
			C("AUTH LOGIN"), S("334 " + b64Username), C(b64User), S("334 " + b64Password), C(b64Pass), S("235 ok"),
			C("AUTH LOGIN"), S("334 " + b64Username), C("*"), S("501 cancelled"),
		})
		c := newClient(t, protocol.SMTP, withTracer(rec), withCleartext())
		c.SetDebugLevel(1, &debug)
		_, err := c.Connect("127.0.0.1", srv.port)
		wantNoErr(t, err, "Connect")
		r, err := c.Debug().Raw("AUTH LOGIN")
		wantNoErr(t, err, "Raw")
		ch, err := protocol.DecodeChallenge(r.Message)
		if err != nil || string(ch) != "Username:" {
			t.Errorf("DecodeChallenge %q %v", ch, err)
		}
		_, err = c.Debug().AuthRespond([]byte("user"))
		wantNoErr(t, err, "AuthRespond user")
		r, err = c.Debug().AuthRespond([]byte("pass"))
		wantNoErr(t, err, "AuthRespond pass")
		wantReply(t, r, 235, "ok")
		_, err = c.Debug().Raw("AUTH LOGIN")
		wantNoErr(t, err, "Raw")
		r, err = c.Debug().AuthCancel()
		wantNoErr(t, err, "AuthCancel")
		wantReply(t, r, 501, "cancelled")
		checkAuthSecrets(t, rec)
		if strings.Contains(debug.String(), b64Pass) {
			t.Errorf("debug output has the password: %s", debug.String())
		}
		if _, err := protocol.DecodeChallenge("!!!"); err == nil {
			t.Errorf("DecodeChallenge accepted garbage")
		}
	})
}

func TestHostileD9RawLinesKeepStateTrue(t *testing.T) {
	pki := getPKI(t)
	rec := &recorder{}
	srv := newServer(t, []step{
		S("220 fake ESMTP"),
		C("EHLO c.example"), S("250-fake.example", "250-SIZE 10", "250 STARTTLS"),
		C("MAIL FROM:<a@x>"), S("250 ok"),
		C("RCPT TO:<b@y> NOTIFY=NEVER"), S("250 ok"),
		C("DATA"), S("354 go"), CData("hi\r\n.\r\n"), S("250 queued"),
		C("VRFY j\u00f6@x SMTPUTF8"), S("252 maybe"),
		C("RSET"), S("250 ok"),
		C("HELO c.example"), S("250 hi"),
		C("EHLO c.example"), S("502 no"),
		C("STARTTLS"), S("220 go"), StartTLS(pki.good),
		C("NOOP"), S("421 closing soon"), ExpectEOF(),
	})
	c := srv.mustDial(t, withTracer(rec), withTLS(pki.trusting()))
	_, err := c.Debug().Raw("EHLO c.example")
	wantNoErr(t, err, "EHLO")
	if !c.HasExtn("size") || !c.DoesESMTP() {
		t.Errorf("raw EHLO not parsed")
	}
	_, err = c.Debug().Raw("MAIL FROM:<a@x>")
	wantNoErr(t, err, "MAIL")
	_, err = c.Debug().Raw("RCPT TO:<b@y> NOTIFY=NEVER")
	wantNoErr(t, err, "RCPT")
	if st := c.State(); st.Phase != protocol.PhaseRcpt || st.Recipients != 1 {
		t.Errorf("state %+v", st)
	}
	_, err = c.Debug().Raw("DATA")
	wantNoErr(t, err, "DATA")
	if c.State().Phase != protocol.PhaseData {
		t.Errorf("state %+v", c.State())
	}
	r, err := c.Debug().SendData(strings.NewReader("hi"))
	wantNoErr(t, err, "SendData")
	wantReply(t, r, 250, "queued")
	if c.State().Phase != protocol.PhaseHello {
		t.Errorf("state after DATA %+v", c.State())
	}
	// Non-ASCII needs SMTPUTF8, typed or not: the transaction's (there is
	// none now) or the command's own parameter (RFC 6531 §3.7.4).
	_, err = c.Debug().Raw("VRFY j\u00f6@x")
	wantErrAs[*protocol.ValueError](t, err)
	_, err = c.Debug().Raw("VRFY j\u00f6@x SMTPUTF8")
	wantNoErr(t, err, "VRFY")
	_, err = c.Debug().Raw("RSET")
	wantNoErr(t, err, "RSET")
	_, err = c.Debug().Raw("HELO c.example")
	wantNoErr(t, err, "HELO")
	if resp, ok := c.HeloResp(); !ok || resp != "hi" {
		t.Errorf("HeloResp %q", resp)
	}
	_, err = c.Debug().Raw("EHLO c.example")
	wantNoErr(t, err, "EHLO 502")
	if len(c.Features()) != 0 {
		t.Errorf("features after a refused EHLO: %v", c.Features())
	}
	_, err = c.Debug().Raw("STARTTLS")
	wantNoErr(t, err, "STARTTLS")
	if !c.State().TLS {
		t.Errorf("raw STARTTLS did not upgrade")
	}
	_, err = c.Debug().Raw("STARTTLS")
	wantErrAs[*protocol.NotSupportedError](t, err)
	_, err = c.Debug().Raw("NOOP")
	wantNoErr(t, err, "NOOP 421")
	if !rec.hasNote("421") {
		t.Errorf("notes %q", rec.notes())
	}
	wantClosed(t, c) // a 421 closes: no QUIT after it (F16)
}

func TestHostileRawLMTPAndUpgrade(t *testing.T) {
	pki := getPKI(t)
	srv := newServer(t, []step{
		S("220 lmtp"),
		C("LHLO c.example"), S("250-lmtp.example", "250 STARTTLS"),
		C("STARTTLS"), S("220 go"), StartTLS(pki.good),
		C("MAIL FROM:<a@x>"), S("250 ok"),
		C("RCPT TO:<r1@y>"), S("250 ok"),
		C("RCPT TO:r2@y"), S("250 ok"),
		C("DATA"), S("354 go"), CData("hi\r\n.\r\n"), S("250 r1 ok", "550 r2 failed"),
	})
	c := srv.mustDialKind(t, protocol.LMTP)
	_, err := c.Debug().Raw("LHLO c.example")
	wantNoErr(t, err, "LHLO")
	r, err := c.Docmd("STARTTLS", "")
	wantNoErr(t, err, "STARTTLS")
	wantReply(t, r, 220, "go")
	wantNoErr(t, c.Debug().UpgradeTLS(pki.trusting()), "UpgradeTLS")
	for _, l := range []string{"MAIL FROM:<a@x>", "RCPT TO:<r1@y>", "RCPT TO:r2@y", "DATA"} {
		_, err := c.Debug().Raw(l)
		wantNoErr(t, err, l)
	}
	_, err = c.Debug().SendData(strings.NewReader("hi"))
	wantNoErr(t, err, "SendData")
	got := c.LMTPReplies()
	if len(got) != 2 || got[0].Recipient != "r1@y" || got[1].Recipient != "r2@y" || got[1].Code != 550 {
		t.Errorf("LMTPReplies %+v", got)
	}
	srv.Conn(0)
	c.Close()
	_, err = c.Debug().Raw("NOOP")
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
	_, err = c.Debug().SendData(strings.NewReader("x"))
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
	_, err = c.Debug().AuthRespond([]byte("x"))
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
	_, err = c.Debug().AuthCancel()
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
}

func TestHostileRawSTARTTLS421(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), C("STARTTLS"), S("421 no"), ExpectEOF()})
	c := srv.mustDial(t)
	r, err := c.Debug().Raw("STARTTLS")
	wantNoErr(t, err, "Raw")
	wantReply(t, r, 421, "no")
	wantClosed(t, c)
}

// F16 through raw lines: a 421 to any typed command closes the client side
// at once, with no RSET or QUIT after it, and the state says so.
func TestHostileRaw421Closes(t *testing.T) {
	for _, line := range []string{"RCPT TO:<b@y>", "NOOP", "XYZZY", "MAIL FROM:<a@x>"} {
		t.Run(line, func(t *testing.T) {
			srv := newServer(t, []step{S("220 fake ESMTP"), C(line), S("421 4.3.2 shutting down"), ExpectEOF()})
			rec := &recorder{}
			c := srv.mustDial(t, withTracer(rec))
			r, err := c.Debug().Raw(line)
			wantNoErr(t, err, "Raw")
			wantReply(t, r, 421, "4.3.2 shutting down")
			wantClosed(t, c)
			if st := c.State(); st.Phase != protocol.PhaseDisconnected {
				t.Errorf("phase %v after 421, want disconnected", st.Phase)
			}
			if !rec.hasNote("421") {
				t.Errorf("no note about the 421: %q", rec.notes())
			}
			if _, err := c.Debug().Raw("NOOP"); err == nil {
				t.Error("a command after the 421 was sent")
			}
		})
	}
}

// A raw AUTH separated by a tab is still AUTH to many servers: it must be
// refused in clear text and its initial response marked secret.
func TestRawAuthWithTab(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{S("220 fake ESMTP"), Anything()})
	c := srv.mustDial(t, withTracer(rec), withTimeout(300*time.Millisecond))
	_, err := c.Debug().Raw("AUTH\tPLAIN " + b64UserPass)
	wantErrAs[*protocol.NotSupportedError](t, err)
	if strings.Contains(rec.sent(), b64UserPass) {
		t.Errorf("credentials sent in clear text: %q", rec.sent())
	}
}

// B9 through a raw STARTTLS: over a Unix socket with no server name, the
// STARTTLS must be refused before it is sent, as StartTLS does.
func TestRawSTARTTLSUnixNoServerName(t *testing.T) {
	srv := newUnixServer(t, []step{S("220 lmtp"), Anything()})
	o := clientOpts()
	o.Timeout = 300 * time.Millisecond
	c, _, err := protocol.Dial(protocol.LMTP, srv.addr, 0, o)
	wantNoErr(t, err, "Dial")
	defer c.Close()
	_, err = c.Debug().Raw("STARTTLS")
	wantErrAs[*protocol.ValueError](t, err)
	if got := srv.After(c).All(); got != "" {
		t.Errorf("wire %q: no STARTTLS bytes", got)
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// F2: the wire log must show the first bytes of the over-long line, not
// only the count: something in the trace carries them.
func TestHostileF2ShowsFirstBytes(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{SRaw("220 " + strings.Repeat("x", 8187) + "\r\n"), ExpectEOF()})
	_, _, err := srv.dial(t, protocol.SMTP, withTracer(rec))
	wantErrAs[*protocol.ResponseError](t, err)
	seen := rec.received() + strings.Join(rec.notes(), "\n")
	if !strings.Contains(seen, "220 xxxxxxxx") {
		t.Errorf("no trace event shows the first bytes; notes %q", rec.notes())
	}
}

// D5: what smtplib's quoteaddr would silently shorten is refused before
// anything is sent (no connection work at all in Sendmail).
func TestHostileD5AngleBracketSmuggling(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{S("220 fake ESMTP")})
	c := srv.mustDial(t, withTracer(rec))
	for _, to := range []string{"bob@x.test> NOTIFY=SUCCESS", "a@b,c@d", "bob@x.test>\r\nDATA"} {
		_, err := c.Sendmail("a@x", []string{to}, strings.NewReader("hi"), nil, nil)
		wantErrAs[*protocol.ValueError](t, err)
	}
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, []string{"NOTIFY=SUCCESS ORCPT=rfc822;v@x"})
	wantErrAs[*protocol.ValueError](t, err)
	_, err = c.Sendmail("a@x\r\nRSET", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	wantErrAs[*protocol.ValueError](t, err)
	if rec.sent() != "" {
		t.Errorf("sent %q", rec.sent())
	}
}

// F20: LMTP, two accepted recipients, one delivery status: the error
// names the recipient that got none.
func TestHostileF20LMTPMissingStatus(t *testing.T) {
	srv := newServer(t, []step{
		S("220 lmtp"), C("lhlo c.example"), S("250 lmtp"),
		C("mail FROM:<a@x>"), S("250 ok"), C("rcpt TO:<r1@y>"), S("250 ok"), C("rcpt TO:<r2@y>"), S("250 ok"),
		C("data"), S("354 go"), CData("hi\r\n.\r\n"), S("250 r1 delivered"), ExpectEOF(),
	})
	c := srv.mustDialKind(t, protocol.LMTP, withTimeout(300*time.Millisecond))
	_, err := c.Sendmail("a@x", []string{"r1@y", "r2@y"}, strings.NewReader("hi"), nil, nil)
	sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
	if !strings.Contains(sd.Msg, "no delivery status for r2@y") {
		t.Errorf("message %q", sd.Msg)
	}
	wantClosed(t, c)
}

// F21: LMTP, two recipients, three replies: the extra one is unsolicited,
// never the next command's reply.
func TestHostileF21LMTPExtraStatus(t *testing.T) {
	srv := newServer(t, []step{
		S("220 lmtp"), C("lhlo c.example"), S("250 lmtp"),
		C("mail FROM:<a@x>"), S("250 ok"), C("rcpt TO:<r1@y>"), S("250 ok"), C("rcpt TO:<r2@y>"), S("250 ok"),
		C("data"), S("354 go"), CData("hi\r\n.\r\n"), S("250 r1", "250 r2", "250 extra"), ExpectEOF(),
	})
	c := srv.mustDialKind(t, protocol.LMTP)
	_, err := c.Sendmail("a@x", []string{"r1@y", "r2@y"}, strings.NewReader("hi"), nil, nil)
	wantNoErr(t, err, "Sendmail")
	_, err = c.Noop()
	wantErrAs[*protocol.ProtocolError](t, err)
	wantClosed(t, c)
}

// LMTP where every recipient fails at delivery: a DataError.
func TestLMTPNoneDelivered(t *testing.T) {
	srv := newServer(t, []step{
		S("220 lmtp"), C("lhlo c.example"), S("250 lmtp"),
		C("mail FROM:<a@x>"), S("250 ok"), C("rcpt TO:<r1@y>"), S("250 ok"),
		C("data"), S("354 go"), CData("hi\r\n.\r\n"), S("552 too big"),
	})
	c := srv.mustDialKind(t, protocol.LMTP)
	refused, err := c.Sendmail("a@x", []string{"r1@y"}, strings.NewReader("hi"), nil, nil)
	de := wantErrAs[*protocol.DataError](t, err)
	if de.Code != 552 || refused["r1@y"].Code != 552 {
		t.Errorf("DataError %d, refused %v", de.Code, refused)
	}
}

// Abort, from another goroutine, ends a call blocked on the network.
func TestHostileAbortUnblocks(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), ExpectEOF()})
	c := srv.mustDial(t, withTimeout(10*time.Second))
	done := make(chan error, 1)
	go func() { _, err := c.Noop(); done <- err }()
	srv.Conn(0)
	time.Sleep(50 * time.Millisecond) // let NOOP reach its read; correctness does not depend on it
	wantNoErr(t, c.Debug().Abort(), "Abort")
	select {
	case err := <-done:
		wantErrAs[*protocol.ServerDisconnectedError](t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Abort did not unblock the read")
	}
	wantClosed(t, c)
	wantNoErr(t, c.Debug().Abort(), "second Abort")
	wantNoErr(t, newClient(t, protocol.SMTP).Debug().Abort(), "Abort before connect")
}

func TestQuitOnGoneServer(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), Close()})
	c := srv.mustDial(t)
	srv.Wait(0)
	_, err := c.Quit()
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
	wantClosed(t, c)
}

func TestRsetAfterFailureGarbled(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, script(greet(), []step{C("mail FROM:<a@x>"), S("550 no"), C("rset"), SRaw("2x0 what\r\n"), ExpectEOF()}))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	wantErrAs[*protocol.SenderRefusedError](t, err) // the refusal, not the RSET's failure
	if !rec.hasNote("RSET after a failed transaction") {
		t.Errorf("notes %q", rec.notes())
	}
	wantClosed(t, c)
}

func TestEhloProtocolErrorStopsGreeting(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), C("ehlo c.example"), SRaw("250-x\r\n550 y\r\n"), ExpectEOF()})
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	wantErrAs[*protocol.ProtocolError](t, err)
	if _, ok := c.HeloResp(); ok {
		t.Errorf("HELO sent after a malformed EHLO reply")
	}
}

func TestSourceAddressWithoutPortAndDefaultHostname(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP")})
	_, _, err := srv.dial(t, protocol.SMTP, func(o *protocol.Options) { o.SourceAddress = "127.0.0.1" })
	wantNoErr(t, err, "Dial with a source host")
	c := newClient(t, protocol.SMTP, withHostname(""))
	name := c.LocalHostname()
	if name == "" || strings.ContainsAny(name, " \r\n") || !(strings.Contains(name, ".") || strings.HasPrefix(name, "[")) {
		t.Errorf("default local hostname %q: want an FQDN or a domain literal", name)
	}
	if c.LocalHostname() != name {
		t.Errorf("LocalHostname not stable")
	}
	c2 := newClient(t, protocol.SMTP, func(o *protocol.Options) { o.SourceAddress = "not a host:x" })
	if _, err := c2.Connect("127.0.0.1", srv.port); err == nil {
		t.Errorf("bad source address accepted")
	}
	if n := srv.NumConns(); n != 1 {
		t.Errorf("%d connections", n)
	}
}

package protocol_test

// STARTTLS and implicit TLS: smtplib-behaviour §12, §17 and §23 cases 62–66
// (run from TestAcceptance), plus ehlo's verify-by-default rule. The hostile
// TLS cases (security-anchors A and B) are in hostile_test.go.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

func acc62(t *testing.T) {
	srv := newServer(t, greet("SIZE 10"))
	c := srv.mustDial(t)
	_, err := c.StartTLS(nil)
	ns := wantErrAs[*protocol.NotSupportedError](t, err)
	if ns.Msg != "STARTTLS extension not supported by server" {
		t.Errorf("NotSupportedError %q", ns.Msg)
	}
	if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
		t.Errorf("wire %q: nothing after EHLO", got)
	}
}

func acc63(t *testing.T) {
	// CVE-2016-0772: a non-220 reply is an error and the session must not
	// go on as if it were encrypted.
	srv := newServer(t, script(greet("STARTTLS", "AUTH PLAIN"), []step{C("STARTTLS"), S("454 not now")}))
	c := srv.mustDial(t)
	r, err := c.StartTLS(getPKI(t).trusting())
	re := wantErrAs[*protocol.ResponseError](t, err)
	if re.Code != 454 || re.Message != "not now" {
		t.Errorf("ResponseError (%d, %q)", re.Code, re.Message)
	}
	wantReply(t, r, 454, "not now")
	if c.State().TLS {
		t.Errorf("state says TLS after 454")
	}
	if _, ok := c.TLSConnectionState(); ok {
		t.Errorf("TLSConnectionState after 454")
	}
	wantOpen(t, c)
	_, err = c.Login("user", "pass", true)
	wantErrAs[*protocol.NotSupportedError](t, err) // no credentials in clear text
	if got := srv.After(c).All(); got != "ehlo c.example\r\nSTARTTLS\r\n" {
		t.Errorf("wire %q", got)
	}
}

func acc64(t *testing.T) {
	pki := getPKI(t)
	rec := &recorder{}
	srv := newServer(t, script(greet("STARTTLS", "SIZE 10"), []step{
		C("STARTTLS"), S("220 go ahead"), StartTLS(pki.good),
		C("noop"), S("250 ok"), // a NOOP does not greet
		C("ehlo c.example"), S("250-fake.example", "250-AUTH PLAIN", "250 SIZE 100"),
	}, oneTxn("mail FROM:<a@x> size=2", "hi\r\n.\r\n"), []step{
		C("AUTH PLAIN " + b64UserPass), S("235 ok"),
	}))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	r, err := c.StartTLS(pki.trusting())
	wantNoErr(t, err, "StartTLS")
	wantReply(t, r, 220, "go ahead")
	if len(c.Features()) != 0 || c.DoesESMTP() || c.HasExtn("size") || len(c.Extensions()) != 0 {
		t.Errorf("pre-TLS knowledge survives: features %v esmtp %v", c.Features(), c.DoesESMTP())
	}
	if _, ok := c.EhloResp(); ok {
		t.Errorf("EhloResp survives STARTTLS")
	}
	if _, ok := c.HeloResp(); ok {
		t.Errorf("HeloResp survives STARTTLS")
	}
	if st := c.State(); !st.TLS || st.Phase != protocol.PhaseGreeted {
		t.Errorf("state %+v, want TLS and greeted", st)
	}
	cs, ok := c.TLSConnectionState()
	if !ok || !cs.HandshakeComplete || len(cs.PeerCertificates) == 0 {
		t.Errorf("TLSConnectionState %v %v", ok, cs.HandshakeComplete)
	}
	_, err = c.Noop()
	wantNoErr(t, err, "Noop")
	if c.HasExtn("size") {
		t.Errorf("NOOP after STARTTLS must not greet")
	}
	_, err = c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	wantNoErr(t, err, "Sendmail re-greets")
	if !c.HasExtn("auth") {
		t.Errorf("AUTH hidden before TLS not revealed by the second EHLO")
	}
	_, err = c.Login("user", "pass", true) // over TLS: no opt-in needed
	wantNoErr(t, err, "Login over TLS")

	sc := srv.After(c)
	if sc.Plain() != "ehlo c.example\r\nSTARTTLS\r\n" {
		t.Errorf("plaintext bytes %q", sc.Plain())
	}
	if !strings.HasPrefix(sc.InTLS(), "noop\r\nehlo c.example\r\n") {
		t.Errorf("TLS bytes %q", sc.InTLS())
	}
	// Trace: a TLS event with the state, then every send marked TLS.
	tlsEv := rec.of(protocol.EventTLS)
	if len(tlsEv) != 1 || tlsEv[0].TLSErr != nil || tlsEv[0].TLSState == nil {
		t.Errorf("TLS events %+v", tlsEv)
	}
	for i, e := range rec.of(protocol.EventSend) {
		if want := i >= 2; e.TLS != want { // ehlo and STARTTLS in clear, the rest inside TLS
			t.Errorf("send %q TLS=%v, want %v", e.Data, e.TLS, want)
		}
	}
}

func acc65(t *testing.T) {
	pki := getPKI(t)
	// smtplib's default context does not verify (gh-91826); ehlo verifies
	// unless the configuration says InsecureSkipVerify (--insecure).
	t.Run("verified_by_default", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, script(greet("STARTTLS"), []step{C("STARTTLS"), S("220 go ahead"), TLSRefused(pki.selfSigned)}))
		c := srv.mustDial(t, withTracer(rec))
		_, err := c.StartTLS(nil)
		te := wantErrAs[*protocol.TLSError](t, err)
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) {
			t.Errorf("error %v does not wrap x509.UnknownAuthorityError", te)
		}
		wantSMTP(t, err)
		wantClosed(t, c)
	})
	t.Run("insecure_accepts", func(t *testing.T) {
		srv := newServer(t, script(greet("STARTTLS"), []step{C("STARTTLS"), S("220 go ahead"), StartTLS(pki.selfSigned), C("noop"), S("250 ok")}))
		c := srv.mustDial(t)
		_, err := c.StartTLS(&tls.Config{InsecureSkipVerify: true})
		wantNoErr(t, err, "StartTLS insecure")
		_, err = c.Noop()
		wantNoErr(t, err, "Noop in TLS")
	})
	t.Run("options_tls_config_is_the_default", func(t *testing.T) {
		srv := newServer(t, script(greet("STARTTLS"), []step{C("STARTTLS"), S("220 go ahead"), StartTLS(pki.good)}))
		c := srv.mustDial(t, withTLS(pki.trusting()))
		_, err := c.StartTLS(nil)
		wantNoErr(t, err, "StartTLS with Options.TLSConfig")
		if srv.Conn(0).SNI() != "" {
			// An IP address is not sent as SNI, but it is verified (IP SAN).
			t.Errorf("SNI %q for an IP host", srv.Conn(0).SNI())
		}
	})
}

func acc66(t *testing.T) {
	pki := getPKI(t)
	// smtplib: SMTP_SSL() then connect(host) has an empty server_hostname
	// (bpo-36094). ehlo (like CPython main) uses the host given to Connect
	// as the server name for SNI and verification.
	t.Run("connect_host_is_sni", func(t *testing.T) {
		srv := newServer(t, []step{StartTLS(pki.good), S("220 tls ESMTP"), C("noop"), S("250 ok")})
		c := newClient(t, protocol.SMTPS, withTLS(pki.trusting()))
		r, err := c.Connect("localhost", srv.port)
		wantNoErr(t, err, "Connect")
		wantReply(t, r, 220, "tls ESMTP")
		if sni := srv.Conn(0).SNI(); sni != "localhost" {
			t.Errorf("SNI %q, want localhost", sni)
		}
		_, err = c.Noop()
		wantNoErr(t, err, "Noop")
		if !c.State().TLS {
			t.Errorf("state not TLS")
		}
	})
	t.Run("ip_host_verified", func(t *testing.T) {
		srv := newServer(t, []step{StartTLS(pki.good), S("220 tls ESMTP")})
		_, _, err := srv.dial(t, protocol.SMTPS, withTLS(pki.trusting()))
		wantNoErr(t, err, "Dial SMTPS")
	})
	t.Run("configured_server_name_wins", func(t *testing.T) {
		srv := newServer(t, []step{StartTLS(pki.good), S("220 tls ESMTP")})
		cfg := pki.trusting()
		cfg.ServerName = "mail.test"
		_, _, err := srv.dial(t, protocol.SMTPS, withTLS(cfg))
		wantNoErr(t, err, "Dial SMTPS")
		if sni := srv.Conn(0).SNI(); sni != "mail.test" {
			t.Errorf("SNI %q", sni)
		}
		if cfg.ServerName != "mail.test" || cfg.InsecureSkipVerify {
			t.Errorf("the caller's config was modified")
		}
	})
	t.Run("wrong_host_refused", func(t *testing.T) {
		srv := newServer(t, []step{TLSRefused(pki.wrongHost)})
		c, _, err := srv.dial(t, protocol.SMTPS, withTLS(pki.trusting()))
		if c != nil {
			t.Errorf("Dial returned a client")
		}
		var he x509.HostnameError
		if !errors.As(err, &he) {
			t.Errorf("error %v, want a HostnameError", err)
		}
	})
}

func TestStartTLSAfterHeloFallback(t *testing.T) {
	// security-anchors A5: no ESMTP means no STARTTLS; the HELO fallback
	// happens as in smtplib, then STARTTLS is refused before any byte.
	srv := newServer(t, []step{S("220 fake"), C("ehlo c.example"), S("502 no"), C("helo c.example"), S("250 hi")})
	c := srv.mustDial(t)
	_, err := c.StartTLS(nil)
	wantErrAs[*protocol.NotSupportedError](t, err)
}

func TestStartTLSGreetingFails(t *testing.T) {
	srv := newServer(t, []step{S("220 fake"), C("ehlo c.example"), S("502 no"), C("helo c.example"), S("502 no")})
	c := srv.mustDial(t)
	_, err := c.StartTLS(nil)
	wantErrAs[*protocol.HeloError](t, err)
}

func TestImplicitTLSTrace(t *testing.T) {
	pki := getPKI(t)
	rec := &recorder{}
	srv := newServer(t, []step{StartTLS(pki.good), S("220 tls ESMTP"), C("ehlo c.example"), S("250 ok")})
	c, _, err := srv.dial(t, protocol.SMTPS, withTLS(pki.trusting()), withTracer(rec))
	wantNoErr(t, err, "Dial")
	_, err = c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	for _, e := range rec.of(protocol.EventSend) {
		if !e.TLS {
			t.Errorf("send %q not marked TLS on an implicit TLS connection", e.Data)
		}
	}
	for _, e := range rec.of(protocol.EventRecv) {
		if !e.TLS {
			t.Errorf("recv %q not marked TLS", e.Data)
		}
	}
	if cs, ok := c.TLSConnectionState(); !ok || cs.Version < tls.VersionTLS12 {
		t.Errorf("TLS state %v %x", ok, cs.Version)
	}
	if got := c.Kind().String(); got != "smtps" {
		t.Errorf("kind %q", got)
	}
}

func TestTLSDebugLine(t *testing.T) {
	pki := getPKI(t)
	srv := newServer(t, []step{StartTLS(pki.good), S("220 tls ESMTP")})
	var out strings.Builder
	c := newClient(t, protocol.SMTPS, withTLS(pki.trusting()))
	c.SetDebugLevel(1, &out)
	_, err := c.Connect("127.0.0.1", srv.port)
	wantNoErr(t, err, "Connect")
	if !strings.Contains(out.String(), "\ntls: TLSv1.3 TLS_") {
		t.Errorf("debug output %q lacks the TLS line", out.String())
	}
}

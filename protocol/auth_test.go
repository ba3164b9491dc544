package protocol_test

// AUTH: smtplib-behaviour §11 and §23 cases 51–61 (run from TestAcceptance),
// the mechanism vectors (RFC 2195 CRAM-MD5, curl test908 XOAUTH2, RFC 7628
// OAUTHBEARER) and secret marking (security-anchors §4.3 rule 2).
//
// Most exchanges here run on a plaintext loopback connection with
// AllowCleartextAuth, the explicit opt-in; tls_test.go and hostile_test.go
// cover AUTH over TLS and the refusal without the opt-in (C1).

import (
	"errors"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Base64 of the credentials used throughout (independently computed).
const (
	b64UserPass = "AHVzZXIAcGFzcw==" // "\x00user\x00pass"
	b64User     = "dXNlcg=="         // "user"
	b64Pass     = "cGFzcw=="         // "pass"
	b64Username = "VXNlcm5hbWU6"     // "Username:"
	b64Password = "UGFzc3dvcmQ6"     // "Password:"

	cramChallenge = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+" // <1896.697170952@postoffice.example.net>
	cramResponse  = "dGltIDNkYmM4OGYwNjI0Nzc2YTczN2IzOTA5M2Y2ZWI2NDI3"     // tim 3dbc88f0624776a737b39093f6eb6427
	xoauth2Blob   = "dXNlcj11c2VyAWF1dGg9QmVhcmVyIG1GXzkuQjVmLTQuMUpxTQEB" // curl test908
	oauthBearer   = "bixhPXVzZXIsAWF1dGg9QmVhcmVyIG1GXzkuQjVmLTQuMUpxTQEB" // n,a=user,^Aauth=Bearer mF_9.B5f-4.1JqM^A^A
	googleError   = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ=="
	oauthToken    = "mF_9.B5f-4.1JqM"
)

// fixedAuth answers the initial call with ir and every challenge with resp.
type fixedAuth struct {
	ir, resp   []byte
	challenges [][]byte
}

func (a *fixedAuth) Respond(ch []byte, initial bool) ([]byte, error) {
	if initial {
		return a.ir, nil
	}
	a.challenges = append(a.challenges, ch)
	return a.resp, nil
}

func acc51(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, script(greet("AUTH PLAIN"), []step{C("AUTH PLAIN " + b64UserPass), S("235 2.7.0 ok")}))
	c := srv.mustDial(t, withCleartext(), withTracer(rec))
	r, err := c.Login("user", "pass", true)
	wantNoErr(t, err, "Login")
	wantReply(t, r, 235, "2.7.0 ok")
	if !c.State().Authenticated {
		t.Errorf("state not authenticated after 235")
	}
	// The initial response is marked secret, the verb and mechanism are not.
	sends := rec.of(protocol.EventSend)
	last := sends[len(sends)-1]
	if string(last.Data) != "AUTH PLAIN "+b64UserPass+"\r\n" || len(last.Secrets) != 1 ||
		last.Secrets[0] != (protocol.Span{Start: 11, End: 11 + len(b64UserPass)}) {
		t.Errorf("AUTH line %q secrets %+v", last.Data, last.Secrets)
	}
}

func acc52(t *testing.T) {
	srv := newServer(t, script(greet("AUTH LOGIN"), []step{
		C("AUTH LOGIN " + b64User), S("334 " + b64Password), C(b64Pass), S("235 ok"),
	}))
	c := srv.mustDial(t, withCleartext())
	_, err := c.Login("user", "pass", true)
	wantNoErr(t, err, "Login")
}

func acc53(t *testing.T) {
	srv := newServer(t, script(greet("AUTH LOGIN"), []step{
		C("AUTH LOGIN"), S("334 " + b64Username), C(b64User), S("334 " + b64Password), C(b64Pass), S("235 ok"),
	}))
	c := srv.mustDial(t, withCleartext())
	_, err := c.Login("user", "pass", false)
	wantNoErr(t, err, "Login")
}

func acc54(t *testing.T) {
	srv := newServer(t, script(greet("AUTH CRAM-MD5"), []step{
		C("AUTH CRAM-MD5"), S("334 " + cramChallenge), C(cramResponse), S("235 ok"),
	}))
	c := srv.mustDial(t, withCleartext())
	// CRAM-MD5 never sends an initial response, even when allowed.
	_, err := c.Login("tim", "tanstaaftanstaaf", true)
	wantNoErr(t, err, "Login")
}

func acc55(t *testing.T) {
	srv := newServer(t, script(greet("AUTH PLAIN LOGIN CRAM-MD5"), []step{
		C("AUTH CRAM-MD5"), S("535 5.7.8 bad"),
		C("AUTH PLAIN " + b64UserPass), S("504 5.5.4 no plain"),
		C("AUTH LOGIN " + b64User), S("504 5.5.4 no login"),
	}))
	c := srv.mustDial(t, withCleartext())
	_, err := c.Login("user", "pass", true)
	ae := wantErrAs[*protocol.AuthenticationError](t, err)
	if ae.Code != 504 || ae.Message != "5.5.4 no login" {
		t.Errorf("AuthenticationError (%d, %q), want the last one", ae.Code, ae.Message)
	}
	wantSMTP(t, err)
	wantOpen(t, c)
}

func acc56(t *testing.T) {
	srv := newServer(t, script(greet("AUTH PLAIN LOGIN"), []step{C("AUTH PLAIN " + b64UserPass), S("503 5.5.1 already authenticated")}))
	c := srv.mustDial(t, withCleartext())
	r, err := c.Login("user", "pass", true)
	wantNoErr(t, err, "Login")
	wantReply(t, r, 503, "5.5.1 already authenticated")
}

func acc57(t *testing.T) {
	srv := newServer(t, greet("AUTH plain login"))
	c := srv.mustDial(t, withCleartext())
	_, err := c.Login("user", "pass", true)
	ex := wantErrAs[*protocol.Exception](t, err)
	if ex.Msg != "no suitable authentication method found" {
		t.Errorf("Exception %q", ex.Msg)
	}
	wantSMTP(t, err)
	if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
		t.Errorf("wire %q: no AUTH may be sent", got)
	}
}

func acc58(t *testing.T) {
	srv := newServer(t, greet("SIZE 10"))
	c := srv.mustDial(t, withCleartext())
	_, err := c.Login("user", "pass", true)
	ns := wantErrAs[*protocol.NotSupportedError](t, err)
	if ns.Msg != "SMTP AUTH extension not supported by server" {
		t.Errorf("NotSupportedError %q", ns.Msg)
	}
}

func acc59(t *testing.T) {
	// smtplib sends 6 responses without an initial response (5 with one)
	// and then raises "server AUTH mechanism infinite loop", even if the
	// last reply was 235. ehlo keeps the counts, cancels with "*" so the
	// connection stays in step, and does not turn a 235 into an error.
	loop := func(n int) []step {
		var s []step
		for i := 0; i < n; i++ {
			s = append(s, C("cmVzcA=="), S("334 Zm9v")) // "resp" / "foo"
		}
		return s
	}
	t.Run("without_initial_response", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, script([]step{S("220 fake ESMTP"), C("AUTH X-LOOP"), S("334 Zm9v")}, loop(6),
			[]step{C("*"), S("501 5.7.0 cancelled")}))
		c := srv.mustDial(t, withCleartext(), withTracer(rec))
		a := &fixedAuth{resp: []byte("resp")}
		_, err := c.Auth("x-loop", a, false)
		ex := wantErrAs[*protocol.Exception](t, err)
		if !strings.HasPrefix(ex.Msg, "server AUTH mechanism infinite loop") {
			t.Errorf("Exception %q", ex.Msg)
		}
		if len(a.challenges) != 6 || string(a.challenges[0]) != "foo" {
			t.Errorf("%d challenges %q, want 6 decoded 'foo'", len(a.challenges), a.challenges)
		}
		checkAuthSecrets(t, rec)
		wantOpen(t, c)
	})
	t.Run("with_initial_response", func(t *testing.T) {
		srv := newServer(t, script([]step{S("220 fake ESMTP"), C("AUTH X-LOOP aW5pdA=="), S("334 Zm9v")}, loop(5),
			[]step{C("*"), S("501 5.7.0 cancelled")}))
		c := srv.mustDial(t, withCleartext())
		_, err := c.Auth("X-LOOP", &fixedAuth{ir: []byte("init"), resp: []byte("resp")}, true)
		wantErrAs[*protocol.Exception](t, err)
	})
	t.Run("235_after_the_sixth_response", func(t *testing.T) {
		steps := script([]step{S("220 fake ESMTP"), C("AUTH X-LOOP"), S("334 Zm9v")}, loop(5), []step{C("cmVzcA=="), S("235 finally")})
		srv := newServer(t, steps)
		c := srv.mustDial(t, withCleartext())
		r, err := c.Auth("X-LOOP", &fixedAuth{resp: []byte("resp")}, false)
		wantNoErr(t, err, "Auth")
		wantReply(t, r, 235, "finally")
	})
}

// checkAuthSecrets asserts that every client line of an AUTH exchange that
// carries a response is marked secret over all of its text, and that the
// cancel line "*" is not.
func checkAuthSecrets(t *testing.T, rec *recorder) {
	t.Helper()
	inAuth := false
	for _, e := range rec.of(protocol.EventSend) {
		line := strings.TrimSuffix(string(e.Data), "\r\n")
		switch {
		case strings.HasPrefix(line, "AUTH "):
			inAuth = true
			if sp := strings.IndexByte(line[5:], ' '); sp >= 0 {
				start := 5 + sp + 1
				if len(e.Secrets) != 1 || e.Secrets[0] != (protocol.Span{Start: start, End: len(line)}) {
					t.Errorf("AUTH line %q: secrets %+v, want [%d,%d)", line, e.Secrets, start, len(line))
				}
			}
		case !inAuth:
		case line == "*":
			if len(e.Secrets) != 0 {
				t.Errorf("the cancel line is marked secret: %+v", e.Secrets)
			}
			inAuth = false
		default:
			if len(e.Secrets) != 1 || e.Secrets[0] != (protocol.Span{Start: 0, End: len(line)}) {
				t.Errorf("AUTH response %q: secrets %+v, want the whole line", line, e.Secrets)
			}
		}
	}
}

func acc60(t *testing.T) {
	// smtplib lets binascii.Error escape. ehlo cancels the exchange with
	// "*" (RFC 4954), reads the server's answer and returns an
	// AuthenticationError (security-anchors C7).
	srv := newServer(t, script(greet("AUTH LOGIN"), []step{
		C("AUTH LOGIN"), S("334 !!!notb64"), C("*"), S("501 5.7.0 cancelled"),
	}))
	c := srv.mustDial(t, withCleartext())
	_, err := c.Login("user", "pass", false)
	ae := wantErrAs[*protocol.AuthenticationError](t, err)
	if ae.Code != 501 || !strings.Contains(ae.Message, "not valid base64") {
		t.Errorf("AuthenticationError (%d, %q)", ae.Code, ae.Message)
	}
	wantOpen(t, c)
}

func acc61(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH PLAIN " + b64UserPass), S("235 ok")})
	c := srv.mustDial(t, withCleartext())
	a, err := protocol.PlainAuth("", "user", "pass")
	wantNoErr(t, err, "PlainAuth")
	_, err = c.Auth("plain", a, true)
	wantNoErr(t, err, "Auth")
	if _, ok := c.EhloResp(); ok {
		t.Errorf("Auth greeted")
	}
}

// ---------------------------------------------------------------------------
// Mechanisms

func TestAuthPlainWithoutInitialResponse(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, script(greet("AUTH PLAIN"), []step{C("AUTH PLAIN"), S("334 "), C(b64UserPass), S("235 ok")}))
	c := srv.mustDial(t, withCleartext(), withTracer(rec))
	_, err := c.Login("user", "pass", false)
	wantNoErr(t, err, "Login")
	checkAuthSecrets(t, rec)
}

func TestAuthPlainAuthzid(t *testing.T) {
	// "admin\x00user\x00pass"
	srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH PLAIN YWRtaW4AdXNlcgBwYXNz"), S("235 ok")})
	c := srv.mustDial(t, withCleartext())
	a, err := protocol.PlainAuth("admin", "user", "pass")
	wantNoErr(t, err, "PlainAuth")
	_, err = c.Auth("PLAIN", a, true)
	wantNoErr(t, err, "Auth")
}

func TestAuthCRAMMD5Vector(t *testing.T) {
	a := protocol.CRAMMD5Auth("tim", "tanstaaftanstaaf")
	ir, err := a.Respond(nil, true)
	if ir != nil || err != nil {
		t.Errorf("CRAM-MD5 initial response %q, %v; want none", ir, err)
	}
	got, err := a.Respond([]byte("<1896.697170952@postoffice.example.net>"), false)
	wantNoErr(t, err, "Respond")
	if string(got) != "tim 3dbc88f0624776a737b39093f6eb6427" {
		t.Errorf("CRAM-MD5 response %q", got)
	}
}

func TestAuthXOAUTH2(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH XOAUTH2 " + xoauth2Blob), S("235 2.7.0 Accepted")})
		c := srv.mustDial(t, withCleartext(), withTracer(rec))
		a, err := protocol.NewAuthenticator("xoauth2", "user", oauthToken)
		wantNoErr(t, err, "NewAuthenticator")
		_, err = c.Auth("XOAUTH2", a, true)
		wantNoErr(t, err, "Auth")
		checkAuthSecrets(t, rec)
	})
	t.Run("refused_with_json_challenge", func(t *testing.T) {
		// The server's error comes as a 334 JSON challenge; the client
		// answers with an empty line and gets the final reply.
		srv := newServer(t, []step{
			S("220 fake ESMTP"),
			C("AUTH XOAUTH2 " + xoauth2Blob), S("334 " + googleError),
			C(""), S("535 5.7.8 Username and Password not accepted"),
		})
		c := srv.mustDial(t, withCleartext())
		a, err := protocol.XOAuth2Auth("user", oauthToken)
		wantNoErr(t, err, "XOAuth2Auth")
		_, err = c.Auth("XOAUTH2", a, true)
		ae := wantErrAs[*protocol.AuthenticationError](t, err)
		if ae.Code != 535 {
			t.Errorf("code %d", ae.Code)
		}
	})
	t.Run("no_initial_response", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH XOAUTH2"), S("334 "), C(xoauth2Blob), S("235 ok")})
		c := srv.mustDial(t, withCleartext())
		a, _ := protocol.XOAuth2Auth("user", oauthToken)
		_, err := c.Auth("XOAUTH2", a, false)
		wantNoErr(t, err, "Auth")
	})
}

func TestAuthOAUTHBEARER(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH OAUTHBEARER " + oauthBearer), S("235 ok")})
		c := srv.mustDial(t, withCleartext())
		a, err := protocol.NewAuthenticator("OAUTHBEARER", "user", oauthToken)
		wantNoErr(t, err, "NewAuthenticator")
		_, err = c.Auth("OAUTHBEARER", a, true)
		wantNoErr(t, err, "Auth")
	})
	t.Run("host_and_port", func(t *testing.T) {
		a, err := protocol.OAuthBearerAuth("user", oauthToken, "mail.test", 587)
		wantNoErr(t, err, "OAuthBearerAuth")
		got, _ := a.Respond(nil, true)
		if string(got) != "n,a=user,\x01host=mail.test\x01port=587\x01auth=Bearer mF_9.B5f-4.1JqM\x01\x01" {
			t.Errorf("blob %q", got)
		}
	})
	t.Run("error_acknowledged_with_0x01", func(t *testing.T) {
		// RFC 7628 §3.2.3: the error challenge is answered with %x01.
		srv := newServer(t, []step{
			S("220 fake ESMTP"),
			C("AUTH OAUTHBEARER " + oauthBearer), S("334 " + googleError),
			C("AQ=="), S("535 5.7.8 invalid token"),
		})
		c := srv.mustDial(t, withCleartext())
		a, _ := protocol.OAuthBearerAuth("user", oauthToken, "", 0)
		_, err := c.Auth("OAUTHBEARER", a, true)
		wantErrAs[*protocol.AuthenticationError](t, err)
	})
}

func TestNewAuthenticator(t *testing.T) {
	for _, m := range []string{"PLAIN", "login", "Cram-MD5", "XOAUTH2", "oauthbearer"} {
		if a, err := protocol.NewAuthenticator(m, "user", "secret"); err != nil || a == nil {
			t.Errorf("NewAuthenticator(%q): %v", m, err)
		}
	}
	_, err := protocol.NewAuthenticator("SCRAM-SHA-256", "u", "p")
	wantErrAs[*protocol.NotSupportedError](t, err)

	// C14: NUL in a PLAIN field, \x01 in XOAUTH2/OAUTHBEARER: refused;
	// the error names the field, never the value.
	for _, tc := range []struct {
		name   string
		err    error
		secret string
	}{
		{"plain user", func() error { _, err := protocol.PlainAuth("", "alice\x00admin", "canary-pw"); return err }(), "alice"},
		{"plain password", func() error { _, err := protocol.PlainAuth("", "alice", "canary\x00pw"); return err }(), "canary"},
		{"plain authzid", func() error { _, err := protocol.PlainAuth("x\x00y", "alice", "pw"); return err }(), "x\x00y"},
		{"xoauth2 user", func() error { _, err := protocol.XOAuth2Auth("u\x01", "canary-token"); return err }(), "canary"},
		{"xoauth2 token", func() error { _, err := protocol.XOAuth2Auth("u", "canary\x01token"); return err }(), "canary"},
		{"oauthbearer user", func() error { _, err := protocol.OAuthBearerAuth("a,b", "canary-token", "", 0); return err }(), "canary"},
		{"oauthbearer token", func() error { _, err := protocol.OAuthBearerAuth("u", "canary\x01", "", 0); return err }(), "canary"},
	} {
		ve := wantErrAs[*protocol.ValueError](t, tc.err)
		if strings.Contains(ve.Msg, tc.secret) {
			t.Errorf("%s: error %q echoes the value", tc.name, ve.Msg)
		}
	}
	e, err := protocol.NewAuthenticator("PLAIN", "a\x00b", "p")
	if err == nil || e != nil {
		t.Errorf("NewAuthenticator PLAIN with NUL: %v", err)
	}
}

func TestAuthLoginMechanismOrderIgnoresChallengeText(t *testing.T) {
	a := protocol.LoginAuth("user", "pass")
	first, _ := a.Respond(nil, true)
	second, _ := a.Respond([]byte("Username:"), false)
	third, _ := a.Respond([]byte("Username:"), false)
	if string(first) != "user" || string(second) != "pass" || string(third) != "pass" {
		t.Errorf("LOGIN answers %q %q %q", first, second, third)
	}
}

// errAuth is an Authenticator that fails in a chosen way.
type errAuth struct {
	initialErr, challengeErr error
}

func (a errAuth) Respond(ch []byte, initial bool) ([]byte, error) {
	if initial {
		return nil, a.initialErr
	}
	return nil, a.challengeErr
}

func TestAuthAuthenticatorErrors(t *testing.T) {
	boom := errors.New("token expired")
	t.Run("initial_error_sends_nothing", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP")})
		c := srv.mustDial(t, withCleartext())
		_, err := c.Auth("X", errAuth{initialErr: boom}, true)
		if !errors.Is(err, boom) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("challenge_error_cancels", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH X"), S("334 "), C("*"), S("501 cancelled")})
		c := srv.mustDial(t, withCleartext())
		_, err := c.Auth("X", errAuth{challengeErr: boom}, true)
		if !errors.Is(err, boom) {
			t.Errorf("err %v, want the authenticator's error", err)
		}
		wantOpen(t, c)
	})
	t.Run("challenge_error_then_disconnect", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH X"), S("334 "), C("*"), Close()})
		c := srv.mustDial(t, withCleartext())
		_, err := c.Auth("X", errAuth{challengeErr: boom}, true)
		wantErrAs[*protocol.ServerDisconnectedError](t, err)
	})
	t.Run("err_cancel_auth", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH X"), S("334 "), C("*"), S("501 5.0.0 cancelled")})
		c := srv.mustDial(t, withCleartext())
		_, err := c.Auth("X", errAuth{challengeErr: protocol.ErrCancelAuth}, true)
		ae := wantErrAs[*protocol.AuthenticationError](t, err)
		if ae.Code != 501 {
			t.Errorf("code %d", ae.Code)
		}
	})
	t.Run("disconnect_during_auth", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH PLAIN " + b64UserPass), Close()})
		c := srv.mustDial(t, withCleartext())
		a, _ := protocol.PlainAuth("", "user", "pass")
		_, err := c.Auth("PLAIN", a, true)
		wantErrAs[*protocol.ServerDisconnectedError](t, err)
		wantClosed(t, c)
	})
}

func TestAuthLoginStopsOnNonAuthError(t *testing.T) {
	// A disconnect is not an AuthenticationError: login must not go on to
	// the next mechanism.
	srv := newServer(t, script(greet("AUTH PLAIN LOGIN"), []step{C("AUTH PLAIN " + b64UserPass), Close()}))
	c := srv.mustDial(t, withCleartext())
	_, err := c.Login("user", "pass", true)
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
}

func TestAuthLoginHeloError(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), C("ehlo c.example"), S("502 no"), C("helo c.example"), S("550 no")})
	c := srv.mustDial(t, withCleartext())
	_, err := c.Login("user", "pass", true)
	wantErrAs[*protocol.HeloError](t, err)
}

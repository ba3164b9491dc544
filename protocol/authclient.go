package protocol

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Auth runs one SASL exchange (RFC 4954) with a, smtplib's auth(). It does
// not greet first, as smtplib does not. With initialResponseOK the
// mechanism's initial response goes on the AUTH line. Each 334 challenge is
// base64-decoded and answered; a challenge that is not base64, or an
// Authenticator returning ErrCancelAuth, makes the client send "*". After
// MaxChallenge rounds the exchange is abandoned as an infinite loop. 235
// and 503 (already authenticated) are success; anything else is an
// *AuthenticationError. Every client line of the exchange is marked secret.
//
// Credentials are refused on a connection without TLS unless the client was
// created with AllowCleartextAuth; nothing is sent in that case.
func (c *Client) Auth(mech string, a Authenticator, initialResponseOK bool) (Reply, error) {
	if err := c.checkCleartextAuth(); err != nil {
		return Reply{}, err
	}
	mech = strings.ToUpper(mech)
	deferred, count, err := c.authStart(mech, a, initialResponseOK)
	if err != nil {
		return Reply{}, err
	}
	r, err := c.GetReply()
	if err != nil {
		return r, err
	}
	for r.Code == 334 {
		count++
		resp, cr, err := c.authAnswer(r, a, &deferred)
		if err != nil {
			return cr, err
		}
		enc := base64.StdEncoding.EncodeToString(resp)
		if err = c.putResponse(enc, []Span{{Start: 0, End: len(enc)}}); err != nil {
			return Reply{}, err
		}
		if r, err = c.GetReply(); err != nil {
			return r, err
		}
		if count > MaxChallenge && r.Code == 334 {
			// smtplib raises here even when the reply is 235; ehlo only
			// gives up while the server is still challenging, and cancels
			// so the connection stays in step.
			c.cancelAuth("infinite loop")
			return r, &Exception{Msg: fmt.Sprintf("server AUTH mechanism infinite loop; last response: %d %q", r.Code, r.Message)}
		}
	}
	if r.Code == 235 || r.Code == 503 {
		if r.Code == 235 {
			c.state.Authenticated = true
			c.traceState()
		}
		return r, nil
	}
	return r, &AuthenticationError{ResponseError(r)}
}

// authStart sends the AUTH line, with the initial response when asked and
// it fits. It returns the initial response that RFC 4954 §4 makes wait for
// the first (empty) challenge, because the line would be longer than 512
// octets, and the number of responses sent (for MaxChallenge).
func (c *Client) authStart(mech string, a Authenticator, initialResponseOK bool) (deferred []byte, count int, err error) {
	if !initialResponseOK {
		return nil, 0, c.putLine("AUTH "+mech, nil)
	}
	ir, err := a.Respond(nil, true)
	if err != nil {
		return nil, 0, err
	}
	if ir == nil || len("AUTH "+mech+" ")+base64.StdEncoding.EncodedLen(len(ir))+len(CRLF) > 512 {
		return ir, 0, c.putLine("AUTH "+mech, nil)
	}
	// RFC 4954: an empty initial response is sent as "=" (smtplib sends
	// a trailing space instead).
	enc := "="
	if len(ir) > 0 {
		enc = base64.StdEncoding.EncodeToString(ir)
	}
	line := "AUTH " + mech + " " + enc
	start := len(line) - len(enc)
	return nil, 1, c.putLine(line, []Span{{Start: start, End: len(line)}})
}

// authAnswer is the response to one 334 challenge: the deferred initial
// response if there is one, else the mechanism's answer. When there is
// none to give (a challenge that is not base64, the mechanism cancels or
// fails) it cancels the exchange and returns the error Auth ends with.
func (c *Client) authAnswer(r Reply, a Authenticator, deferred *[]byte) ([]byte, Reply, error) {
	challenge, derr := base64.StdEncoding.DecodeString(r.Message)
	if derr != nil {
		cr, err := c.cancelAuth(fmt.Sprintf("challenge is not valid base64: %v", derr))
		return nil, cr, err
	}
	if *deferred != nil {
		resp := *deferred
		*deferred = nil
		return resp, Reply{}, nil
	}
	resp, rerr := a.Respond(challenge, false)
	if errors.Is(rerr, ErrCancelAuth) {
		cr, err := c.cancelAuth("the mechanism cancelled the exchange")
		return nil, cr, err
	}
	if rerr != nil {
		// The mechanism's own error explains more than the server's
		// answer to "*", unless the connection itself failed.
		_, cerr := c.cancelAuth(rerr.Error())
		var ae *AuthenticationError
		if !errors.As(cerr, &ae) {
			return nil, Reply{}, cerr
		}
		return nil, Reply{}, rerr
	}
	return resp, Reply{}, nil
}

// cancelAuth sends "*" (RFC 4954) and reads the server's answer, so the
// connection leaves the AUTH exchange in step with the server.
func (c *Client) cancelAuth(why string) (Reply, error) {
	c.note("cancelling AUTH: " + why)
	if err := c.putResponse("*", nil); err != nil {
		return Reply{}, err
	}
	r, err := c.GetReply()
	if err != nil {
		return r, err
	}
	return r, &AuthenticationError{ResponseError{Code: r.Code, Message: fmt.Sprintf("%s (AUTH cancelled: %s)", r.Message, why)}}
}

// ErrCleartextAuth is the reason credentials were not sent.
var ErrCleartextAuth = errors.New("refusing to send credentials over an unencrypted connection (use implicit TLS or STARTTLS, or opt in to cleartext authentication explicitly)")

func (c *Client) checkCleartextAuth() error {
	if c.tlsOn || c.opts.AllowCleartextAuth {
		return nil
	}
	return &NotSupportedError{Msg: ErrCleartextAuth.Error(), Err: ErrCleartextAuth}
}

// loginPreference is smtplib's order for login(): strongest first.
var loginPreference = []string{"CRAM-MD5", "PLAIN", "LOGIN"}

// Login authenticates with the first mechanism in smtplib's preference order
// (CRAM-MD5, PLAIN, LOGIN) that the server advertises, trying the next one
// when the server refuses, and returns the last refusal if all fail. The
// comparison with the advertised names is case-sensitive, as in smtplib.
func (c *Client) Login(user, password string, initialResponseOK bool) (Reply, error) {
	if err := c.EhloOrHeloIfNeeded(); err != nil {
		return Reply{}, err
	}
	if !c.HasExtn("auth") {
		return Reply{}, &NotSupportedError{Msg: "SMTP AUTH extension not supported by server"}
	}
	if err := c.checkCleartextAuth(); err != nil {
		return Reply{}, err
	}
	advertised := strings.Fields(c.features["auth"])
	var mechs []string
	for _, m := range loginPreference {
		for _, a := range advertised {
			if a == m {
				mechs = append(mechs, m)
				break
			}
		}
	}
	if len(mechs) == 0 {
		return Reply{}, &Exception{Msg: "no suitable authentication method found"}
	}
	var last error
	for _, m := range mechs {
		a, err := NewAuthenticator(m, user, password)
		if err != nil {
			return Reply{}, err
		}
		r, err := c.Auth(m, a, initialResponseOK)
		if err == nil {
			return r, nil
		}
		var ae *AuthenticationError
		if !errors.As(err, &ae) {
			return r, err
		}
		last = err
	}
	return Reply{}, last
}

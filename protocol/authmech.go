package protocol

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// NewAuthenticator returns the built-in Authenticator for a mechanism name:
// PLAIN, LOGIN or CRAM-MD5 with a user and password; XOAUTH2 and
// OAUTHBEARER with a user and a bearer token in place of the password.
func NewAuthenticator(mech, user, secret string) (Authenticator, error) {
	switch strings.ToUpper(mech) {
	case "PLAIN":
		return PlainAuth("", user, secret)
	case "LOGIN":
		return LoginAuth(user, secret), nil
	case "CRAM-MD5":
		return CRAMMD5Auth(user, secret), nil
	case "XOAUTH2":
		return XOAuth2Auth(user, secret)
	case "OAUTHBEARER":
		return OAuthBearerAuth(user, secret, "", 0)
	}
	return nil, &NotSupportedError{Msg: fmt.Sprintf("no built-in authenticator for %s", mech)}
}

// PlainAuth is RFC 4616 PLAIN: authzid NUL user NUL password. A NUL inside
// a field would shift the fields, so it is refused; the error names the
// field, never the value.
func PlainAuth(authzid, user, password string) (Authenticator, error) {
	for name, v := range map[string]string{"authorization identity": authzid, "user name": user, "password": password} {
		if strings.IndexByte(v, 0) >= 0 {
			return nil, &ValueError{Msg: "NUL character in the " + name + " (PLAIN separates fields with NUL)"}
		}
	}
	return &plainAuth{blob: []byte(authzid + "\x00" + user + "\x00" + password)}, nil
}

type plainAuth struct {
	blob []byte
	sent bool
}

// Respond sends the blob once, as the initial response or in answer to the
// first (empty) challenge. A second challenge would make smtplib send the
// password again; ehlo cancels instead.
func (p *plainAuth) Respond(challenge []byte, initial bool) ([]byte, error) {
	if p.sent {
		return nil, ErrCancelAuth
	}
	p.sent = true
	return p.blob, nil
}

// LoginAuth is the LOGIN mechanism: the user name first, then the password,
// whatever the server's challenges say (they are not trustworthy labels).
func LoginAuth(user, password string) Authenticator {
	return &loginAuth{user: user, password: password}
}

type loginAuth struct {
	user, password string
	step           int
}

func (l *loginAuth) Respond(challenge []byte, initial bool) ([]byte, error) {
	l.step++
	if l.step == 1 {
		return []byte(l.user), nil
	}
	return []byte(l.password), nil
}

// CRAMMD5Auth is RFC 2195 CRAM-MD5: never an initial response; the answer
// to the challenge is the user, a space and the hex HMAC-MD5 of the
// challenge keyed with the password.
func CRAMMD5Auth(user, password string) Authenticator {
	return &cramAuth{user: user, password: password}
}

type cramAuth struct{ user, password string }

func (a *cramAuth) Respond(challenge []byte, initial bool) ([]byte, error) {
	if initial {
		return nil, nil
	}
	m := hmac.New(md5.New, []byte(a.password))
	m.Write(challenge)
	return []byte(a.user + " " + hex.EncodeToString(m.Sum(nil))), nil
}

// XOAuth2Auth is Google's XOAUTH2: "user=U\x01auth=Bearer T\x01\x01". When
// the token is refused the server sends a JSON error as a 334 challenge and
// expects an empty line back before its final reply.
func XOAuth2Auth(user, token string) (Authenticator, error) {
	if strings.ContainsAny(user, "\x01") || strings.ContainsAny(token, "\x01") {
		return nil, &ValueError{Msg: "\\x01 in the XOAUTH2 user name or token"}
	}
	return &oauthAuth{blob: []byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"), ack: []byte{}}, nil
}

// OAuthBearerAuth is RFC 7628 OAUTHBEARER; host and port are optional.
func OAuthBearerAuth(user, token, host string, port int) (Authenticator, error) {
	if strings.ContainsAny(user, "\x01,=") || strings.ContainsAny(token, "\x01") {
		return nil, &ValueError{Msg: "\\x01, ',' or '=' in the OAUTHBEARER user name, or \\x01 in the token"}
	}
	b := "n,a=" + user + ","
	if host != "" {
		b += "\x01host=" + host
	}
	if port != 0 {
		b += "\x01port=" + strconv.Itoa(port)
	}
	b += "\x01auth=Bearer " + token + "\x01\x01"
	// RFC 7628 §3.2.3: the error challenge is acknowledged with a lone %x01.
	return &oauthAuth{blob: []byte(b), ack: []byte{1}}, nil
}

type oauthAuth struct {
	blob, ack []byte
	sent      bool
}

// Respond sends the token blob once; a later challenge carries the
// server's error, which is acknowledged so that the server sends its
// final reply.
func (o *oauthAuth) Respond(challenge []byte, initial bool) ([]byte, error) {
	if o.sent {
		return o.ack, nil
	}
	o.sent = true
	return o.blob, nil
}

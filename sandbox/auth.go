package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxAuthFailures is how many wrong credentials a session may try before
// the server answers 421 and closes, as Postfix's smtpd_hard_error_limit
// ends a session that keeps failing: guessing then costs a connection
// (and a new TLS handshake) every few attempts.
const maxAuthFailures = 5

// errAuthCancelled and errAuthSyntax end an exchange with 501; a wrong
// password ends it with 535.
var (
	errAuthCancelled = errors.New("authentication cancelled")
	errAuthSyntax    = errors.New("cannot decode response")
	errAuthFailed    = errors.New("authentication failed")
)

// authMech splits AUTH's argument as cmdAuth does, on any white space:
// the mechanism, and what follows it (the initial response; "" for none).
// The session log and the room hide what follows, so they split here to
// hide exactly what AUTH takes as the response.
func authMech(arg string) (mech, rest string) {
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		return "", ""
	}
	return fields[0], strings.Join(fields[1:], " ")
}

func (c *conn) cmdAuth(arg string) error {
	fields := strings.Fields(arg)
	switch {
	case !c.esmtp:
		return c.reply(StageAuth, 503, "5.5.1", "Send "+strings.TrimPrefix(c.helloVerb(), "HELO/")+" first")
	case c.authUser != "":
		// RFC 4954 §4: AUTH after a successful AUTH is 503.
		return c.reply(StageAuth, 503, "5.5.1", "Already authenticated")
	case c.inTxn:
		return c.reply(StageAuth, 503, "5.5.1", "AUTH not permitted during a mail transaction")
	case len(fields) == 0 || len(fields) > 2:
		return c.reply(StageAuth, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")
	}
	mech := strings.ToUpper(fields[0])
	if mech != "PLAIN" && mech != "LOGIN" && mech != "CRAM-MD5" {
		return c.reply(StageAuth, 504, "5.5.4", "Unrecognized authentication type")
	}
	if !c.tls && !c.cfg.AllowInsecureAuth {
		// RFC 4954 §6 reply for "this needs TLS"; the mechanisms are not
		// even advertised until STARTTLS.
		return c.reply(StageAuth, 538, "5.7.11", "Encryption required for requested authentication mechanism")
	}
	var ir []byte
	hasIR := len(fields) == 2
	if hasIR {
		switch fields[1] {
		case "*":
			return c.reply(StageAuth, 501, "5.7.0", "Authentication cancelled")
		case "=": // RFC 4954 §4: an empty initial response
		default:
			var err error
			if ir, err = base64.StdEncoding.DecodeString(fields[1]); err != nil {
				return c.reply(StageAuth, 501, "5.5.2", "Cannot decode initial response")
			}
		}
	}
	var user string
	var err error
	switch mech {
	case "PLAIN":
		user, err = c.authPlain(ir, hasIR)
	case "LOGIN":
		user, err = c.authLogin(ir, hasIR)
	case "CRAM-MD5":
		if hasIR {
			return c.reply(StageAuth, 501, "5.5.4", "CRAM-MD5 takes no initial response")
		}
		user, err = c.authCRAM()
	}
	switch {
	case errors.Is(err, errClose):
		return err
	case errors.Is(err, errAuthCancelled):
		return c.reply(StageAuth, 501, "5.7.0", "Authentication cancelled")
	case errors.Is(err, errAuthSyntax):
		return c.reply(StageAuth, 501, "5.5.2", "Cannot decode response")
	case err != nil:
		c.authFails++
		c.note("AUTH %s failed for %q (%d of %d)", mech, user, c.authFails, maxAuthFailures)
		if err := c.reply(StageAuth, 535, "5.7.8", "Authentication credentials invalid"); err != nil {
			return err
		}
		if c.authFails >= maxAuthFailures {
			c.why = "too many failed AUTH attempts"
			_ = c.direct(421, "4.7.0", c.cfg.Hostname+" Error: too many failed authentication attempts")
			return errClose
		}
		return nil
	}
	c.authUser = user
	c.note("AUTH %s succeeded for %q", mech, user)
	return c.reply(StageAuth, 235, "2.7.0", "Authentication successful")
}

// challenge sends a 334 and reads the client's base64 answer.
func (c *conn) challenge(data []byte) ([]byte, error) {
	if err := c.reply(StageAuth, 334, "", base64.StdEncoding.EncodeToString(data)); err != nil {
		return nil, err
	}
	if c.mute {
		return nil, errClose
	}
	line, err := c.readLine()
	if err != nil {
		return nil, c.lost(err, "AUTH")
	}
	text, _ := trimEOL(line)
	if c.sess != nil {
		c.wireClient(authResponseShown(text))
	}
	if string(text) == "*" {
		c.srv.log.printf(c.id, "C: *")
		return nil, errAuthCancelled
	}
	c.srv.log.printf(c.id, "C: <AUTH response hidden, %d octets>", len(text))
	resp, err := base64.StdEncoding.DecodeString(string(text))
	if err != nil {
		return nil, errAuthSyntax
	}
	return resp, nil
}

func (c *conn) checkPassword(user, pass string) bool {
	want, ok := c.cfg.Users[user]
	// Compare anyway so an unknown user costs the same time.
	eq := subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
	return ok && eq
}

// authPlain is RFC 4616: authzid NUL authcid NUL passwd. Without an
// initial response the server sends an empty challenge ("334 ").
func (c *conn) authPlain(ir []byte, hasIR bool) (string, error) {
	resp := ir
	if !hasIR {
		var err error
		if resp, err = c.challenge(nil); err != nil {
			return "", err
		}
	}
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 {
		return "", errAuthSyntax
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		// The sandbox has no proxy rights: acting as someone else fails.
		return user, errAuthFailed
	}
	if !c.checkPassword(user, pass) {
		return user, errAuthFailed
	}
	return user, nil
}

// authLogin is the LOGIN mechanism (draft-murchison-sasl-login): the
// "Username:" and "Password:" prompts, the first skipped when the client
// sent the user name as an initial response.
func (c *conn) authLogin(ir []byte, hasIR bool) (string, error) {
	user := ir
	if !hasIR {
		var err error
		if user, err = c.challenge([]byte("Username:")); err != nil {
			return "", err
		}
	}
	pass, err := c.challenge([]byte("Password:"))
	if err != nil {
		return string(user), err
	}
	if !c.checkPassword(string(user), string(pass)) {
		return string(user), errAuthFailed
	}
	return string(user), nil
}

// authCRAM is RFC 2195: the client answers the challenge with
// "user hex(HMAC-MD5(password, challenge))".
func (c *conn) authCRAM() (string, error) {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	chal := fmt.Sprintf("<%s.%d@%s>", hex.EncodeToString(nonce[:]), time.Now().UnixNano(), c.cfg.Hostname)
	resp, err := c.challenge([]byte(chal))
	if err != nil {
		return "", err
	}
	sp := bytes.LastIndexByte(resp, ' ')
	if sp <= 0 {
		return "", errAuthSyntax
	}
	user, digest := string(resp[:sp]), strings.ToLower(string(resp[sp+1:]))
	pass, ok := c.cfg.Users[user]
	mac := hmac.New(md5.New, []byte(pass))
	mac.Write([]byte(chal))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(digest)) || !ok {
		return user, errAuthFailed
	}
	return user, nil
}

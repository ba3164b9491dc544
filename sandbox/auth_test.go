package sandbox

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// tlsSession is an EHLO'd session inside STARTTLS, where AUTH is offered.
func tlsSession(t *testing.T, srv *Server) *client {
	t.Helper()
	c := connect(t, srv)
	c.ehlo()
	c.startTLS(srv, "localhost")
	c.ehlo()
	return c
}

func decodeChallenge(t *testing.T, r reply) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(r.lines[0])
	if err != nil {
		t.Fatalf("334 text %q is not base64", r.lines[0])
	}
	return string(b)
}

func TestAuthNeedsTLS(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmdText("AUTH PLAIN "+b64("\x00alice\x00alicepw"), 538, "5.7.11 ")
	c.cmdText("AUTH LOGIN", 538, "5.7.11 ")
	c.cmdText("AUTH XOAUTH2", 504, "5.5.4 ")
}

func TestAuthPlain(t *testing.T) {
	srv, _ := start(t, Config{})
	t.Run("initial response", func(t *testing.T) {
		c := tlsSession(t, srv)
		c.cmdText("AUTH PLAIN "+b64("\x00alice\x00alicepw"), 235, "2.7.0 ")
		c.cmdText("AUTH PLAIN "+b64("\x00alice\x00alicepw"), 503, "5.5.1 ") // twice
	})
	t.Run("empty challenge", func(t *testing.T) {
		c := tlsSession(t, srv)
		c.send("AUTH PLAIN")
		if r := c.expect(334); r.raw != "334 \r\n" {
			t.Fatalf("PLAIN challenge %q, want \"334 \\r\\n\"", r.raw)
		}
		c.cmdText(b64("bob\x00bob\x00bobpw"), 235, "2.7.0 ")
	})
	t.Run("wrong password", func(t *testing.T) {
		c := tlsSession(t, srv)
		c.cmdText("AUTH PLAIN "+b64("\x00alice\x00wrong"), 535, "5.7.8 ")
		c.cmdText("AUTH PLAIN "+b64("\x00mallory\x00alicepw"), 535, "5.7.8 ")
		c.cmdText("AUTH PLAIN "+b64("bob\x00alice\x00alicepw"), 535, "5.7.8 ") // no proxy rights
		c.cmdText("AUTH PLAIN "+b64("\x00alice\x00alicepw"), 235, "2.7.0 ")
	})
	t.Run("bad base64 and cancel", func(t *testing.T) {
		c := tlsSession(t, srv)
		c.cmdText("AUTH PLAIN !!!", 501, "5.5.2 ")
		c.cmdText("AUTH PLAIN *", 501, "5.7.0 ")
		c.cmd("AUTH PLAIN", 334)
		c.cmdText("*", 501, "5.7.0 ")
		c.cmd("AUTH PLAIN", 334)
		c.cmdText("not base64!", 501, "5.5.2 ")
		c.cmdText("AUTH PLAIN "+b64("no-nuls"), 501, "5.5.2 ")
		c.cmdText("AUTH", 501, "5.5.4 ")
	})
}

func TestAuthLogin(t *testing.T) {
	srv, _ := start(t, Config{})
	t.Run("prompts", func(t *testing.T) {
		c := tlsSession(t, srv)
		c.send("AUTH LOGIN")
		if r := c.expect(334); r.raw != "334 VXNlcm5hbWU6\r\n" || decodeChallenge(t, r) != "Username:" {
			t.Fatalf("first LOGIN challenge %q", r.raw)
		}
		c.send(b64("alice"))
		if r := c.expect(334); r.raw != "334 UGFzc3dvcmQ6\r\n" {
			t.Fatalf("second LOGIN challenge %q", r.raw)
		}
		c.cmdText(b64("alicepw"), 235, "2.7.0 ")
		c.sendMessage("a@x.test", []string{"b@x.test"}, "x\r\n")
		if m := srv.Mailbox().Messages(); m[len(m)-1].AuthUser != "alice" {
			t.Fatalf("AuthUser %q", m[len(m)-1].AuthUser)
		}
	})
	t.Run("initial response", func(t *testing.T) {
		c := tlsSession(t, srv)
		c.send("AUTH LOGIN " + b64("bob"))
		if r := c.expect(334); decodeChallenge(t, r) != "Password:" {
			t.Fatalf("LOGIN challenge %q", r.raw)
		}
		c.cmdText(b64("wrong"), 535, "5.7.8 ")
	})
	t.Run("cancel", func(t *testing.T) {
		c := tlsSession(t, srv)
		c.cmd("AUTH LOGIN", 334)
		c.cmd(b64("bob"), 334)
		c.cmdText("*", 501, "5.7.0 ")
	})
}

func TestAuthCRAMMD5(t *testing.T) {
	srv, _ := start(t, Config{Users: map[string]string{"carol": "s3cret"}})
	answer := func(user, pass, chal string) string {
		mac := hmac.New(md5.New, []byte(pass))
		mac.Write([]byte(chal))
		return b64(user + " " + hex.EncodeToString(mac.Sum(nil)))
	}
	c := tlsSession(t, srv)
	r := c.cmd("AUTH CRAM-MD5", 334)
	chal := decodeChallenge(t, r)
	if !strings.HasPrefix(chal, "<") || !strings.HasSuffix(chal, "@sandbox.ehlo.test>") {
		t.Fatalf("challenge %q is not an RFC 2195 msg-id", chal)
	}
	c.cmdText(answer("carol", "wrong", chal), 535, "5.7.8 ")
	chal2 := decodeChallenge(t, c.cmd("AUTH CRAM-MD5", 334))
	if chal2 == chal {
		t.Fatal("challenge repeated")
	}
	c.cmdText(answer("carol", "s3cret", chal), 535, "5.7.8 ") // replay of the old challenge
	chal3 := decodeChallenge(t, c.cmd("AUTH CRAM-MD5", 334))
	c.cmdText(answer("carol", "s3cret", chal3), 235, "2.7.0 ")

	d := tlsSession(t, srv)
	d.cmdText("AUTH CRAM-MD5 "+b64("carol x"), 501, "5.5.4 ")
	d.cmd("AUTH CRAM-MD5", 334)
	d.cmdText(b64("no-space"), 501, "5.5.2 ")
	// The default users are replaced, not extended.
	d.cmd("AUTH PLAIN "+b64("\x00alice\x00alicepw"), 535)
}

func TestAuthInsecureAllowed(t *testing.T) {
	srv, logBuf := start(t, Config{AllowInsecureAuth: true})
	c := connect(t, srv)
	c.ehlo()
	c.cmdText("AUTH PLAIN "+b64("\x00bob\x00bobpw"), 235, "2.7.0 ")
	c.sendMessage("a@x.test", []string{"b@x.test"}, "x\r\n")
	if m := srv.Mailbox().Messages(); m[0].AuthUser != "bob" || m[0].TLS {
		t.Fatalf("message %+v", m[0])
	}
	c.cmd("QUIT", 221)
	c.expectClosed()
	srv.Close()
	// The log names the mechanism and hides the response.
	if log := logBuf.String(); strings.Contains(log, b64("\x00bob\x00bobpw")) || !strings.Contains(log, "C: AUTH PLAIN <response hidden>") {
		t.Fatalf("log leaks or lacks the AUTH line:\n%s", log)
	}
}

// The log splits an AUTH line as AUTH itself does (on any white space):
// a tab before the initial response used to put the response, password
// and all, in the log, while AUTH took it and authenticated.
func TestAuthTabHiddenInLog(t *testing.T) {
	srv, logBuf := start(t, Config{AllowInsecureAuth: true})
	c := connect(t, srv)
	c.ehlo()
	c.cmdText("AUTH PLAIN\t"+b64("\x00bob\x00bobpw"), 235, "2.7.0 ")
	c.cmd("QUIT", 221)
	c.expectClosed()
	srv.Close()
	if log := logBuf.String(); strings.Contains(log, b64("\x00bob\x00bobpw")) || !strings.Contains(log, "C: AUTH PLAIN <response hidden>") {
		t.Fatalf("log leaks or lacks the AUTH line:\n%s", log)
	}
}

// RFC 3207 §4.2: authentication does not survive STARTTLS. On the plain
// port with insecure AUTH, authenticate, then STARTTLS: AUTH is needed
// again.
func TestAuthForgottenAfterStartTLS(t *testing.T) {
	srv, _ := start(t, Config{AllowInsecureAuth: true, Faults: faults(t, "require-auth")})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("AUTH PLAIN "+b64("\x00bob\x00bobpw"), 235)
	c.startTLS(srv, "localhost")
	c.ehlo()
	c.cmdText("MAIL FROM:<a@x.test>", 530, "5.7.0 ")
	c.cmd("AUTH PLAIN "+b64("\x00bob\x00bobpw"), 235)
	c.cmd("MAIL FROM:<a@x.test>", 250)
}

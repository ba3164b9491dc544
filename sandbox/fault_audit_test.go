package sandbox

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"
)

// The faults that play the servers `ehlo audit` finds vulnerable, each
// checked with this package's own raw client against the sandbox with and
// without it.

func TestParseAuditFaults(t *testing.T) {
	for _, ok := range []string{"keep-pipelined", "bare-lf-dot", "relay-denied", "auth-before-tls", "user-unknown", "pregreet-guard", "pregreet-guard=2s", "tls-legacy"} {
		if _, err := ParseFault(ok); err != nil {
			t.Errorf("ParseFault(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"keep-pipelined=x", "bare-lf-dot:dot", "relay-denied=a", "pregreet-guard=0s", "pregreet-guard=-1s", "pregreet-guard=2m", "pregreet-guard=x", "tls-legacy:ehlo"} {
		if _, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) accepted", bad)
		}
	}
}

func TestKeepPipelined(t *testing.T) {
	for _, keep := range []bool{false, true} {
		cfg := Config{}
		if keep {
			cfg.Faults = faults(t, "keep-pipelined")
		}
		srv, _ := start(t, cfg)
		c := connect(t, srv)
		c.ehlo()
		c.write("STARTTLS\r\nNOOP\r\n")
		c.expect(220)
		tc := tls.Client(c.nc, trusting(t, srv, "localhost"))
		_ = tc.SetDeadline(time.Now().Add(ioTimeout))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c.nc = tc
		c.r.Reset(tc)
		// Inside TLS: QUIT. The kept NOOP is answered first.
		c.send("QUIT")
		r := c.readReply()
		if keep && r.code != 250 || !keep && r.code != 221 {
			t.Errorf("keep=%v: first reply inside TLS %q", keep, r.raw)
		}
	}
}

func TestBareLFDot(t *testing.T) {
	body := "Subject: x\r\n\r\nfirst\n.\nNOOP\r\n.\r\n"
	for _, loose := range []bool{false, true} {
		cfg := Config{}
		if loose {
			cfg.Faults = faults(t, "bare-lf-dot")
		}
		srv, _ := start(t, cfg)
		c := connect(t, srv)
		c.ehlo()
		c.cmd("MAIL FROM:<a@x.test>", 250)
		c.cmd("RCPT TO:<b@x.test>", 250)
		c.cmd("DATA", 354)
		c.write(body)
		c.expect(250)
		c.send("QUIT")
		r := c.readReply()
		msgs := srv.Mailbox().Messages()
		switch {
		case loose && (r.code != 250 || !strings.HasSuffix(string(msgs[0].Data), "first\n")):
			t.Errorf("bare-lf-dot: NOOP not run after <LF>.<LF> (%q), message %q", r.raw, msgs[0].Data)
		case !loose && (r.code != 221 || !strings.Contains(string(msgs[0].Data), "\n.\nNOOP")):
			t.Errorf("sandbox: data ended early (%q), message %q", r.raw, msgs[0].Data)
		}
	}
}

func TestRelayDeniedAndUserUnknown(t *testing.T) {
	srv, _ := start(t, Config{Faults: faults(t, "relay-denied", "user-unknown")})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmdText("RCPT TO:<b@example.net>", 554, "5.7.1 <b@example.net>: Relay access denied")
	c.cmdText("RCPT TO:<nobody@sandbox.ehlo.test>", 550, "5.1.1 <nobody@sandbox.ehlo.test>: Recipient address rejected: User unknown")
	c.cmd("RCPT TO:<alice@sandbox.ehlo.test>", 250)
	c.cmd("RCPT TO:<postmaster@localhost>", 250)
	c.cmd("RCPT TO:<Postmaster>", 250)
	c.cmdText("VRFY alice", 250, "2.1.5 alice <alice@sandbox.ehlo.test>")
	c.cmdText("VRFY postmaster@sandbox.ehlo.test", 250, "2.1.5 postmaster")
	c.cmdText("VRFY nobody", 550, "5.1.1 <nobody>")
	// user-unknown alone does not close the relay.
	srv, _ = start(t, Config{Faults: faults(t, "user-unknown")})
	c = connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<nobody@example.net>", 250)
}

func TestAuthBeforeTLS(t *testing.T) {
	srv, _ := start(t, Config{Faults: faults(t, "auth-before-tls")})
	c := connect(t, srv)
	if !strings.Contains(c.ehlo().text(), "AUTH PLAIN") {
		t.Error("AUTH not advertised before TLS")
	}
	c.cmd("AUTH PLAIN", 334)
	c.cmd("*", 501)
}

func TestPregreetGuard(t *testing.T) {
	srv, _ := start(t, Config{Faults: faults(t, "pregreet-guard=2s")})
	// A client that talks first is refused and closed.
	c := dial(t, "tcp", srv.Addr())
	c.send("EHLO early.test")
	for _, want := range []string{"220-sandbox.ehlo.test\r\n", "554 sandbox.ehlo.test Protocol error: talking before the greeting\r\n"} {
		if got, err := c.readLine(); got != want {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	}
	c.expectClosed()
	// One that waits gets the rest of the greeting, after the pause.
	srv, _ = start(t, Config{Faults: faults(t, "pregreet-guard=50ms")})
	c = dial(t, "tcp", srv.Addr())
	if r := c.expect(220); len(r.lines) != 2 {
		t.Fatalf("greeting %q", r.raw)
	}
	c.ehlo()
}

func TestTLSLegacy(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		cfg := Config{}
		if legacy {
			cfg.Faults = faults(t, "tls-legacy")
		}
		srv, _ := start(t, cfg)
		c := connect(t, srv)
		c.ehlo()
		c.cmd("STARTTLS", 220)
		conf := trusting(t, srv, "localhost")
		conf.MinVersion, conf.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
		tc := tls.Client(c.nc, conf)
		_ = tc.SetDeadline(time.Now().Add(ioTimeout))
		if err := tc.Handshake(); (err == nil) != legacy {
			t.Errorf("tls-legacy=%v: TLS 1.0 handshake: %v", legacy, err)
		}
	}
}

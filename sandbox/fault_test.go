package sandbox

import (
	"bufio"
	"crypto/tls"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Fault
	}{
		{"delay=5ms", Fault{Kind: FaultDelay, Duration: 5 * time.Millisecond}},
		{"delay:rcpt=2s", Fault{Kind: FaultDelay, Stages: []Stage{StageRcpt}, Duration: 2 * time.Second}},
		{"delay:mail,rcpt,dot=1s", Fault{Kind: FaultDelay, Stages: []Stage{StageMail, StageRcpt, StageDot}, Duration: time.Second}},
		{"drip", Fault{Kind: FaultDrip, Duration: time.Second}},
		{"drip:greeting=10ms", Fault{Kind: FaultDrip, Stages: []Stage{StageGreeting}, Duration: 10 * time.Millisecond}},
		{"drop:mail", Fault{Kind: FaultDrop, Stages: []Stage{StageMail}}},
		{"drop", Fault{Kind: FaultDrop}},
		{"DROP:connect", Fault{Kind: FaultDrop, Stages: []Stage{StageGreeting}}},
		{"421:rcpt", Fault{Kind: Fault421, Stages: []Stage{StageRcpt}}},
		{"421:helo=Go away", Fault{Kind: Fault421, Stages: []Stage{StageEhlo}, Text: []byte("Go away")}},
		{"silent", Fault{Kind: FaultSilent}},
		{"silent:dot", Fault{Kind: FaultSilent, Stages: []Stage{StageDot}}},
		{"refuse-sender", Fault{Kind: FaultRefuseSender}},
		{"refuse-rcpt=bad@x.test,<Worse@x.test>", Fault{Kind: FaultRefuseRcpt, Addrs: []string{"bad@x.test", "Worse@x.test"}}},
		{"require-auth", Fault{Kind: FaultRequireAuth}},
		{"malformed:ehlo", Fault{Kind: FaultMalformed, Stages: []Stage{StageEhlo}, Variant: MalformedCode}},
		{"malformed:rcpt=mixed", Fault{Kind: FaultMalformed, Stages: []Stage{StageRcpt}, Variant: MalformedMixed}},
		{"longline:greeting", Fault{Kind: FaultLongLine, Stages: []Stage{StageGreeting}, Length: 9000}},
		{"longline:noop=8193", Fault{Kind: FaultLongLine, Stages: []Stage{StageNoop}, Length: 8193}},
		{"codeonly:noop=space", Fault{Kind: FaultCodeOnly, Stages: []Stage{StageNoop}, Variant: "space"}},
		{"bare-lf:all", Fault{Kind: FaultBareLF}},
		{"ansi:greeting", Fault{Kind: FaultANSI, Stages: []Stage{StageGreeting}, Text: []byte(DefaultANSI)}},
		{`ansi=\e]0;x\x07`, Fault{Kind: FaultANSI, Text: []byte("\x1b]0;x\x07")}},
		{"inject-starttls", Fault{Kind: FaultInjectStartTLS, Text: []byte(DefaultInjection)}},
		{`inject-starttls=250-AUTH PLA`, Fault{Kind: FaultInjectStartTLS, Text: []byte("250-AUTH PLA")}},
		{"notls", Fault{Kind: FaultNoTLS, Text: []byte(DefaultNoTLS)}},
		{"premature", Fault{Kind: FaultPremature}},
	} {
		got, err := ParseFault(tc.spec)
		if err != nil {
			t.Errorf("ParseFault(%q): %v", tc.spec, err)
			continue
		}
		if got.String() != tc.spec {
			t.Errorf("String() = %q, want %q", got.String(), tc.spec)
		}
		got.spec = ""
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseFault(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
	}
	for _, bad := range []string{
		"", "explode", "delay", "delay=fast", "delay=-1s", "drop:lunch", "drop=now",
		"refuse-rcpt:rcpt", "refuse-rcpt=", "malformed=wobbly", "longline=5", "longline=x",
		"codeonly=tabs", "premature=1", "inject-starttls:ehlo", `ansi=\q`, `ansi=\x4`, "421=a\\r\\nb",
		"require-auth=yes",
	} {
		if f, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) = %+v, want an error", bad, f)
		}
	}
}

func faultServer(t *testing.T, specs ...string) *Server {
	t.Helper()
	srv, _ := start(t, Config{Faults: faults(t, specs...)})
	return srv
}

func TestFaultDelay(t *testing.T) {
	srv := faultServer(t, "delay:rcpt=150ms", "delay=20ms")
	// The clock starts before the dial: the server may accept, and start
	// its delay, before dial returns here (by milliseconds on a busy machine).
	t0 := time.Now()
	c := dial(t, "tcp", srv.Addr())
	c.expect(220)
	if d := time.Since(t0); d < 20*time.Millisecond {
		t.Errorf("greeting after %v, want ≥20ms", d)
	}
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	t0 = time.Now()
	c.cmd("RCPT TO:<b@x.test>", 250)
	if d := time.Since(t0); d < 170*time.Millisecond {
		t.Errorf("RCPT reply after %v, want ≥170ms (delays add up)", d)
	}
}

func TestFaultDrop(t *testing.T) {
	t.Run("mail", func(t *testing.T) {
		srv := faultServer(t, "drop:mail")
		c := connect(t, srv)
		c.ehlo()
		c.send("MAIL FROM:<a@x.test>")
		c.expectClosed()
	})
	t.Run("greeting", func(t *testing.T) {
		srv := faultServer(t, "drop")
		c := dial(t, "tcp", srv.Addr())
		c.expectClosed()
	})
	t.Run("pipelined replies before the drop are sent", func(t *testing.T) {
		srv := faultServer(t, "drop:rcpt")
		c := connect(t, srv)
		c.ehlo()
		c.write("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n")
		c.expect(250)
		c.expectClosed()
	})
}

func TestFault421ClosesTheConnection(t *testing.T) {
	t.Run("rcpt", func(t *testing.T) {
		srv := faultServer(t, "421:rcpt")
		c := connect(t, srv)
		c.ehlo()
		c.cmd("MAIL FROM:<a@x.test>", 250)
		r := c.cmd("RCPT TO:<b@x.test>", 421)
		if r.raw != "421 4.3.2 sandbox.ehlo.test Service not available, closing transmission channel\r\n" {
			t.Errorf("421 reply %q", r.raw)
		}
		c.expectClosed()
	})
	t.Run("greeting", func(t *testing.T) {
		srv := faultServer(t, "421=Too busy, come back later")
		c := dial(t, "tcp", srv.Addr())
		if r := c.expect(421); r.raw != "421 Too busy, come back later\r\n" {
			t.Errorf("421 greeting %q", r.raw)
		}
		c.expectClosed()
	})
}

func TestFaultRefusals(t *testing.T) {
	t.Run("every sender", func(t *testing.T) {
		srv := faultServer(t, "refuse-sender")
		c := connect(t, srv)
		c.ehlo()
		c.cmdText("MAIL FROM:<a@x.test>", 550, "5.7.1 <a@x.test>")
		c.cmdText("MAIL FROM:<>", 550, "5.7.1 <>")
	})
	t.Run("one sender", func(t *testing.T) {
		srv := faultServer(t, "refuse-sender=spam@x.test")
		c := connect(t, srv)
		c.ehlo()
		c.cmd("MAIL FROM:<SPAM@x.test>", 550)
		c.cmd("MAIL FROM:<ham@x.test>", 250)
	})
	t.Run("some recipients", func(t *testing.T) {
		srv := faultServer(t, "refuse-rcpt=bad@x.test,worse@x.test")
		c := connect(t, srv)
		c.ehlo()
		c.cmd("MAIL FROM:<a@x.test>", 250)
		c.cmdText("RCPT TO:<bad@x.test>", 550, "5.1.1 <bad@x.test>")
		c.cmd("RCPT TO:<good@x.test>", 250)
		c.cmd("RCPT TO:<worse@x.test>", 550)
		c.cmd("DATA", 354)
		c.write("x\r\n.\r\n")
		c.expect(250)
		if m := srv.Mailbox().Messages(); len(m) != 1 || strings.Join(m[0].To, ",") != "good@x.test" {
			t.Fatalf("mailbox %+v", m)
		}
	})
	t.Run("require-auth", func(t *testing.T) {
		srv := faultServer(t, "require-auth")
		c := connect(t, srv)
		c.ehlo()
		c.cmdText("MAIL FROM:<a@x.test>", 530, "5.7.0 ")
	})
}

// rawReply reads lines until one has a space (or nothing) after a
// three-character prefix, without judging the grammar.
func (c *client) rawReply() string {
	c.t.Helper()
	var raw string
	for {
		line, err := c.readLine()
		raw += line
		if err != nil {
			c.t.Fatalf("reading raw reply (so far %q): %v", raw, err)
		}
		if len(line) < 4 || line[3] != '-' {
			return raw
		}
	}
}

func TestFaultMalformed(t *testing.T) {
	for _, tc := range []struct {
		spec, cmd, want string
	}{
		{"malformed:noop", "NOOP", "2x0 2.0.0 Ok\r\n"},
		{"malformed:noop=sep", "NOOP", "250X2.0.0 Ok\r\n"},
		{"malformed:noop=range", "NOOP", "650 2.0.0 Ok\r\n"},
		{"malformed:noop=short", "NOOP", "25 2.0.0 Ok\r\n"},
		{"malformed:noop=mixed", "NOOP", "250-2.0.0 Ok\r\n550 inconsistent reply code\r\n"},
		{"malformed:vrfy=mixed", "VRFY nobody", "252-2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n550 inconsistent reply code\r\n"},
		{"malformed:help=mixed", "HELP", "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\r\n214-2.0.0 HELP command gives its syntax; see RFC 5321\r\n550 2.0.0 End of HELP info\r\n"},
		{"codeonly:noop", "NOOP", "250\r\n"},
		{"codeonly:noop=space", "NOOP", "250 \r\n"},
		{"bare-lf:noop", "NOOP", "250 2.0.0 Ok\n"},
		{"ansi:noop", "NOOP", "250 " + DefaultANSI + "2.0.0 Ok\r\n"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			srv := faultServer(t, tc.spec)
			c := connect(t, srv)
			c.ehlo()
			c.send(tc.cmd)
			if got := c.rawReply(); got != tc.want {
				t.Fatalf("reply %q, want %q", got, tc.want)
			}
			// The fault bends bytes only; the session goes on.
			c.cmd("RSET", 250)
		})
	}
}

func TestFaultMalformedEHLO(t *testing.T) {
	srv := faultServer(t, "malformed:ehlo")
	c := connect(t, srv)
	c.send("EHLO client.test")
	raw := c.rawReply()
	lines := strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n")
	if len(lines) != 12 || lines[0] != "2x0-sandbox.ehlo.test Hello client.test" || lines[11] != "2x0 SMTPUTF8" {
		t.Fatalf("EHLO reply %q", raw)
	}

	srv2 := faultServer(t, "malformed:ehlo=mixed", "codeonly:ehlo")
	d := connect(t, srv2)
	d.send("EHLO client.test")
	raw = d.rawReply()
	if !strings.HasPrefix(raw, "250-sandbox.ehlo.test") || !strings.HasSuffix(raw, "250-DSN\r\n550\r\n") {
		t.Fatalf("EHLO reply %q", raw)
	}
}

func TestFaultLongLine(t *testing.T) {
	srv := faultServer(t, "longline:greeting", "longline:noop=8193")
	c := dial(t, "tcp", srv.Addr())
	g, err := c.readLine()
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 9000 || !strings.HasPrefix(g, "220 sandbox.ehlo.test ESMTP ehlo sandbox x") || !strings.HasSuffix(g, "x\r\n") {
		t.Fatalf("greeting of %d bytes: %.60q…", len(g), g)
	}
	c.ehlo()
	c.send("NOOP")
	if l, _ := c.readLine(); len(l) != 8193 {
		t.Fatalf("NOOP reply of %d bytes", len(l))
	}
}

func TestFaultInjectStartTLS(t *testing.T) {
	srv := faultServer(t, "inject-starttls")
	c := connect(t, srv)
	c.ehlo()
	c.send("STARTTLS")
	first, err := c.readLine()
	if err != nil || first != "220 Ready\r\n" {
		t.Fatalf("STARTTLS reply %q, %v", first, err)
	}
	// The injection came in the same write, so it is already buffered.
	injected, _ := c.r.Peek(c.r.Buffered())
	if string(injected) != DefaultInjection || len(injected) != 40 {
		t.Fatalf("buffered after the 220: %q", injected)
	}
	// A correct client throws those bytes away and does TLS; the server
	// really does start TLS.
	tc := tls.Client(c.nc, trusting(t, srv, "localhost"))
	_ = tc.SetDeadline(time.Now().Add(ioTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
	if r := c.ehlo(); !strings.Contains(r.text(), "AUTH PLAIN LOGIN CRAM-MD5") || strings.Contains(r.text(), "evil") {
		t.Fatalf("post-TLS EHLO %q", r.raw)
	}

	srv2 := faultServer(t, `inject-starttls=250-AUTH PLA`)
	d := connect(t, srv2)
	d.ehlo()
	d.send("STARTTLS")
	if l, _ := d.readLine(); l != "220 Ready\r\n" {
		t.Fatalf("STARTTLS reply %q", l)
	}
	if b, _ := d.r.Peek(d.r.Buffered()); string(b) != "250-AUTH PLA" {
		t.Fatalf("partial injection %q", b)
	}
}

func TestFaultNoTLS(t *testing.T) {
	srv := faultServer(t, "notls")
	c := connect(t, srv)
	c.ehlo()
	c.cmd("STARTTLS", 220)
	if l, err := c.readLine(); l != "250 OK\r\n" {
		t.Fatalf("after 220: %q, %v", l, err)
	}
}

func TestFaultSilent(t *testing.T) {
	t.Run("no greeting", func(t *testing.T) {
		srv := faultServer(t, "silent")
		c := dial(t, "tcp", srv.Addr())
		c.send("EHLO client.test")
		_ = c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if b, err := c.r.ReadByte(); !isTimeout(err) {
			t.Fatalf("got %q, %v; want silence", b, err)
		}
	})
	t.Run("after the final dot", func(t *testing.T) {
		srv := faultServer(t, "silent:dot")
		c := connect(t, srv)
		c.ehlo()
		c.cmd("MAIL FROM:<a@x.test>", 250)
		c.cmd("RCPT TO:<b@x.test>", 250)
		c.cmd("DATA", 354)
		c.write("x\r\n.\r\nNOOP\r\n")
		_ = c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if b, err := c.r.ReadByte(); !isTimeout(err) {
			t.Fatalf("got %q, %v; want silence", b, err)
		}
		// The message was stored before the silence: the client cannot
		// know that, which is the lesson.
		if srv.Mailbox().Len() != 1 {
			t.Fatal("message not stored")
		}
	})
}

func TestFaultDrip(t *testing.T) {
	srv := faultServer(t, "drip:greeting=3ms")
	nc := dial(t, "tcp", srv.Addr()).nc
	want := "220 sandbox.ehlo.test ESMTP ehlo sandbox\r\n"
	var got []byte
	reads := 0
	t0 := time.Now()
	buf := make([]byte, 100)
	_ = nc.SetReadDeadline(time.Now().Add(ioTimeout))
	for len(got) < len(want) {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
		reads++
	}
	if string(got) != want {
		t.Fatalf("greeting %q", got)
	}
	if d := time.Since(t0); d < time.Duration(len(want)-1)*3*time.Millisecond || reads < 5 {
		t.Fatalf("greeting came in %d reads over %v; want it dripped", reads, d)
	}
}

func TestFaultPremature(t *testing.T) {
	srv := faultServer(t, "premature")
	c := dial(t, "tcp", srv.Addr())
	c.expect(220)
	// Nothing has been sent, yet a whole EHLO reply is already there.
	buffered, _ := c.r.Peek(c.r.Buffered())
	if !strings.HasPrefix(string(buffered), "250-sandbox.ehlo.test Hello premature\r\n") || !strings.HasSuffix(string(buffered), "250 SMTPUTF8\r\n") {
		t.Fatalf("buffered after greeting: %q", buffered)
	}
	unsolicited := c.expect(250)
	if len(unsolicited.lines) != 12 {
		t.Fatalf("unsolicited reply %q", unsolicited.raw)
	}
	// The real EHLO still gets its own reply.
	if r := c.ehlo(); r.lines[0] != "sandbox.ehlo.test Hello client.test" {
		t.Fatalf("EHLO reply %q", r.raw)
	}
}

func TestFaultANSIBanner(t *testing.T) {
	srv := faultServer(t, "ansi:greeting")
	c := dial(t, "tcp", srv.Addr())
	if l, _ := c.readLine(); l != "220 "+DefaultANSI+"sandbox.ehlo.test ESMTP ehlo sandbox\r\n" {
		t.Fatalf("greeting %q", l)
	}
}

func TestFaultsAreLogged(t *testing.T) {
	srv, logBuf := start(t, Config{Faults: faults(t, "421:mail")})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 421)
	c.expectClosed()
	srv.Close()
	if log := logBuf.String(); !strings.Contains(log, "* fault 421:mail: answering 421 at mail and closing") || !strings.Contains(log, "* closed: 421 fault") {
		t.Fatalf("log:\n%s", log)
	}
}

// A silent fault inside AUTH keeps the connection open, like one at any
// other stage.
func TestFaultSilentDuringAuth(t *testing.T) {
	srv, _ := start(t, Config{AllowInsecureAuth: true, Faults: faults(t, "silent:auth")})
	c := connect(t, srv)
	c.ehlo()
	c.send("AUTH LOGIN")
	_ = c.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if b, err := c.r.ReadByte(); !isTimeout(err) {
		t.Fatalf("got %q, %v; want silence", b, err)
	}
}

// Close does not wait out a fault's delay: a teacher's Ctrl+C is instant.
func TestCloseInterruptsDelay(t *testing.T) {
	srv, err := New(Config{Faults: faults(t, "delay=1h")})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	c := dial(t, "tcp", srv.Addr())
	changed := srv.Mailbox().Changed()
	time.Sleep(20 * time.Millisecond) // let the session reach its delay
	t0 := time.Now()
	srv.Close()
	if d := time.Since(t0); d > ioTimeout {
		t.Fatalf("Close took %v", d)
	}
	c.expectClosed()
	select {
	case <-changed:
		t.Fatal("Changed fired without a delivery")
	default:
	}
}

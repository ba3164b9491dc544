package sandbox

import (
	"crypto/tls"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The faults that play the rest of security-anchors §6 classes A, F and G.

func TestParseHostileFaults(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Fault
	}{
		{"reply:starttls=502 5.5.1 Not implemented", Fault{Kind: FaultReply, Stages: []Stage{StageStartTLS}, Text: []byte("502 5.5.1 Not implemented\r\n")}},
		{`reply:starttls=220-garbage\r\n220 ok\r\n`, Fault{Kind: FaultReply, Stages: []Stage{StageStartTLS}, Text: []byte("220-garbage\r\n220 ok\r\n")}},
		{"reply:greeting=554 No SMTP service here", Fault{Kind: FaultReply, Stages: []Stage{StageGreeting}, Text: []byte("554 No SMTP service here\r\n")}},
		{"silent:ehlo-tls", Fault{Kind: FaultSilent, Stages: []Stage{StageEhloTLS}}},
		{"silent:ehlo-after-tls", Fault{Kind: FaultSilent, Stages: []Stage{StageEhloTLS}}},
		{"inject-late", Fault{Kind: FaultInjectLate, Text: []byte("250 fake\r\n")}},
		{`inject-late=250 a\r\n250 b\r\n`, Fault{Kind: FaultInjectLate, Text: []byte("250 a\r\n250 b\r\n")}},
		{"readvertise-starttls", Fault{Kind: FaultReadvertise}},
		{"caps-before=SIZE 1000, AUTH LOGIN,8BITMIME,STARTTLS", Fault{Kind: FaultCapsBefore, Caps: []string{"SIZE 1000", "AUTH LOGIN", "8BITMIME", "STARTTLS"}}},
		{"caps-after=SIZE 52428800,AUTH PLAIN", Fault{Kind: FaultCapsAfter, Caps: []string{"SIZE 52428800", "AUTH PLAIN"}}},
		{"endless:ehlo", Fault{Kind: FaultEndless, Stages: []Stage{StageEhlo}, Length: DefaultEndless}},
		{"endless:ehlo=200001", Fault{Kind: FaultEndless, Stages: []Stage{StageEhlo}, Length: 200001}},
		{"binary:noop", Fault{Kind: FaultBinary, Stages: []Stage{StageNoop}, Text: []byte("has\x00nul \xff\xfe ")}},
		{"cut:mail", Fault{Kind: FaultCut, Stages: []Stage{StageMail}, Variant: CutMultiline}},
		{"cut:greeting=partial", Fault{Kind: FaultCut, Stages: []Stage{StageGreeting}, Variant: CutPartial}},
		{"unsolicited-421:mail", Fault{Kind: FaultUnsolicited421, Stages: []Stage{StageMail}}},
		{"unsolicited-421:mail=shutting down", Fault{Kind: FaultUnsolicited421, Stages: []Stage{StageMail}, Text: []byte("shutting down")}},
		{"ehlo-garbage", Fault{Kind: FaultEhloGarbage}},
		{"enhanced-garbage", Fault{Kind: FaultEnhGarbage, Variant: EnhLong}},
		{"enhanced-garbage:rcpt=class", Fault{Kind: FaultEnhGarbage, Stages: []Stage{StageRcpt}, Variant: EnhClass}},
		{"lmtp-missing", Fault{Kind: FaultLMTPMissing}},
		{"lmtp-extra", Fault{Kind: FaultLMTPExtra}},
		{"pipeline-short", Fault{Kind: FaultPipelineShort}},
	} {
		got, err := ParseFault(tc.spec)
		if err != nil {
			t.Errorf("ParseFault(%q): %v", tc.spec, err)
			continue
		}
		got.spec = ""
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseFault(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
	}
	for _, bad := range []string{
		"reply", "reply=502 x", "reply:starttls", "reply:starttls=", "reply:starttls=Not implemented",
		"reply:all=250 ok", `reply:ehlo=5\q`, "silent:ehlo-later", "inject-late:starttls",
		"readvertise-starttls=yes", "caps-before", "caps-before=,", "caps-after:ehlo=SIZE 1",
		"endless", "endless:ehlo=0", "endless:ehlo=x", "endless:ehlo=99999999",
		`binary=a\r\nb`, "cut", "cut:mail=whole", "unsolicited-421", `unsolicited-421:mail=a\nb`,
		"ehlo-garbage:ehlo", "enhanced-garbage=wobbly", "lmtp-missing=1", "lmtp-extra:dot",
		"pipeline-short:rcpt",
	} {
		if f, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) = %+v, want an error", bad, f)
		}
	}
}

// readAll reads until the server closes the connection.
func (c *client) readAll() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	b, err := io.ReadAll(c.r)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		c.t.Fatalf("read to close (got %q): %v", b, err)
	}
	return string(b)
}

// expectLine reads one raw line and compares its bytes.
func (c *client) expectLine(want string) {
	c.t.Helper()
	got, err := c.readLine()
	if err != nil || got != want {
		c.t.Fatalf("got %q (%v), want %q", got, err, want)
	}
}

// expectNothing asserts the server sends nothing for d.
func (c *client) expectNothing(d time.Duration) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	b, err := c.r.ReadByte()
	if err == nil {
		c.t.Fatalf("expected silence, got %q", b)
	}
	if !isTimeout(err) {
		c.t.Fatalf("expected silence, got %v", err)
	}
}

func TestFaultReply(t *testing.T) {
	t.Run("starttls 502 stays plaintext", func(t *testing.T) { // A2
		c := connect(t, faultServer(t, "reply:starttls=502 5.5.1 Not implemented"))
		c.ehlo()
		c.send("STARTTLS")
		c.expectLine("502 5.5.1 Not implemented\r\n")
		c.cmd("NOOP", 250)
	})
	t.Run("starttls multi-line 220 garbage", func(t *testing.T) { // A4
		c := connect(t, faultServer(t, `reply:starttls=220-garbage\r\n220 ok`))
		c.ehlo()
		c.send("STARTTLS")
		c.expectLine("220-garbage\r\n")
		c.expectLine("220 ok\r\n")
		c.cmd("NOOP", 250) // no TLS started
	})
	t.Run("starttls 421 closes", func(t *testing.T) { // A4
		c := connect(t, faultServer(t, "reply:starttls=421 4.3.2 bye"))
		c.ehlo()
		c.send("STARTTLS")
		if got := c.readAll(); got != "421 4.3.2 bye\r\n" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("greeting 554", func(t *testing.T) { // F17
		c := dial(t, "tcp", faultServer(t, "reply:greeting=554 No SMTP service here").Addr())
		c.expectLine("554 No SMTP service here\r\n")
		c.cmd("QUIT", 221)
	})
}

func TestFaultSilentEhloTLS(t *testing.T) { // A7
	srv := faultServer(t, "inject-starttls", "silent:ehlo-tls")
	c := connect(t, srv)
	c.ehlo() // the plaintext EHLO is answered
	c.send("STARTTLS")
	c.expectLine("220 Ready\r\n")
	c.expectLine("250-evil.example\r\n")
	c.expectLine("250 AUTH PLAIN LOGIN\r\n")
	tc := tls.Client(c.nc, trusting(t, srv, "localhost"))
	_ = tc.SetDeadline(time.Now().Add(ioTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.nc = tc
	c.r.Reset(tc)
	c.send("EHLO client.test")
	c.expectNothing(300 * time.Millisecond)
}

func TestFaultInjectLate(t *testing.T) { // A9
	c := connect(t, faultServer(t, "inject-late"))
	c.ehlo()
	c.send("STARTTLS")
	c.expectLine("220 2.0.0 Ready to start TLS\r\n")
	t0 := time.Now()
	c.expectLine("250 fake\r\n")
	if d := time.Since(t0); d < LateInjectionPause*8/10 {
		t.Errorf("injection after %v, want ≈%v", d, LateInjectionPause)
	}
}

func TestFaultCapsAndReadvertise(t *testing.T) { // A11, A12
	srv := faultServer(t, "caps-before=SIZE 1000,AUTH LOGIN,8BITMIME,STARTTLS",
		"caps-after=SIZE 52428800,AUTH PLAIN", "readvertise-starttls")
	c := connect(t, srv)
	if r := c.ehlo(); r.raw != "250-sandbox.ehlo.test Hello client.test\r\n250-SIZE 1000\r\n250-AUTH LOGIN\r\n250-8BITMIME\r\n250 STARTTLS\r\n" {
		t.Fatalf("before TLS: %q", r.raw)
	}
	c.startTLS(srv, "localhost")
	if r := c.ehlo(); r.raw != "250-sandbox.ehlo.test Hello client.test\r\n250-SIZE 52428800\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n" {
		t.Fatalf("after TLS: %q", r.raw)
	}
	c.cmdText("STARTTLS", 503, "5.5.1 TLS already active")
}

func TestFaultEndless(t *testing.T) { // F4
	t.Run("cap", func(t *testing.T) {
		c := connect(t, faultServer(t, "endless:ehlo=5000"))
		c.send("EHLO client.test")
		if got := c.readAll(); got != strings.Repeat("250-x\r\n", 5000) {
			t.Fatalf("got %d bytes, want 5000 lines of 250-x", len(got))
		}
	})
	t.Run("client goes", func(t *testing.T) {
		c := connect(t, faultServer(t, "endless:noop"))
		c.ehlo()
		c.send("NOOP")
		for range 20000 {
			c.expectLine("250-x\r\n")
		}
		c.nc.Close() // the server's writes fail; Close in cleanup must not hang
	})
}

func TestFaultBinary(t *testing.T) { // F12
	c := connect(t, faultServer(t, "binary:noop"))
	c.ehlo()
	c.send("NOOP")
	c.expectLine("250 has\x00nul \xff\xfe 2.0.0 Ok\r\n")
}

func TestFaultCut(t *testing.T) { // F13, F14
	for spec, want := range map[string]string{
		"cut:mail":           "250-2.1.0 Ok\r\n250-",
		"cut:mail=multiline": "250-2.1.0 Ok\r\n250-",
		"cut:mail=partial":   "250 2.",
	} {
		t.Run(spec, func(t *testing.T) {
			c := connect(t, faultServer(t, spec))
			c.ehlo()
			c.send("MAIL FROM:<a@x.test>")
			if got := c.readAll(); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestFaultUnsolicited421(t *testing.T) { // F16
	c := connect(t, faultServer(t, "unsolicited-421:mail"))
	c.ehlo()
	c.send("MAIL FROM:<a@x.test>")
	want := "250 2.1.0 Ok\r\n421 4.3.2 sandbox.ehlo.test Service shutting down, closing transmission channel\r\n"
	if got := c.readAll(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestFaultEhloGarbage(t *testing.T) { // F18
	c := connect(t, faultServer(t, "ehlo-garbage"))
	r := c.ehlo()
	has := func(l string) int {
		n := 0
		for _, x := range r.lines {
			if x == l {
				n++
			}
		}
		return n
	}
	if has("SIZE 99999999999999999999999") != 1 || has("SIZE -5") != 1 || has("STARTTLS") != 2 || has("X-CAFé") != 1 {
		t.Fatalf("EHLO reply lacks the garbage: %q", r.lines)
	}
	names := 0
	for _, l := range r.lines {
		if len(l) > 8000 {
			t.Fatalf("line of %d bytes", len(l))
		}
		if strings.HasPrefix(l, "AUTH X-MECH-") {
			names += len(strings.Fields(l)) - 1
		}
	}
	if names != 5000 {
		t.Fatalf("%d AUTH names, want 5000", names)
	}
}

func TestFaultEnhancedGarbage(t *testing.T) { // F19
	for spec, want := range map[string]string{
		"enhanced-garbage:noop":       "250 2.99999.0 Ok\r\n",
		"enhanced-garbage:noop=short": "250 2.7 Ok\r\n",
		"enhanced-garbage:noop=class": "250 5.1.1 Ok\r\n",
	} {
		t.Run(spec, func(t *testing.T) {
			c := connect(t, faultServer(t, spec))
			c.ehlo()
			c.send("NOOP")
			c.expectLine(want)
		})
	}
}

func TestFaultLMTPReplies(t *testing.T) { // F20, F21
	run := func(t *testing.T, spec string) *client {
		srv, _ := start(t, Config{LMTP: true, Faults: faults(t, spec)})
		c := connect(t, srv)
		c.cmd("LHLO client.test", 250)
		c.cmd("MAIL FROM:<a@x.test>", 250)
		c.cmd("RCPT TO:<one@x.test>", 250)
		c.cmd("RCPT TO:<two@x.test>", 250)
		c.cmd("DATA", 354)
		c.write("hi\r\n.\r\n")
		c.expectLine("250 2.0.0 <one@x.test> Ok: delivered as s1.1\r\n")
		return c
	}
	t.Run("missing", func(t *testing.T) {
		c := run(t, "lmtp-missing")
		c.expectNothing(300 * time.Millisecond)
	})
	t.Run("extra", func(t *testing.T) {
		c := run(t, "lmtp-extra")
		c.expectLine("250 2.0.0 <two@x.test> Ok: delivered as s1.1\r\n")
		c.expectLine("250 2.0.0 <extra@sandbox.ehlo.test> Ok: delivered as s1.1\r\n")
	})
}

func TestFaultPipelineShort(t *testing.T) { // F22
	c := connect(t, faultServer(t, "pipeline-short"))
	c.ehlo()
	c.write("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n")
	c.expectLine("250 2.1.0 Ok\r\n")
	c.expectLine("250 2.1.5 Ok\r\n")
	c.expectNothing(300 * time.Millisecond)
	c.cmd("DATA", 354) // both recipients were accepted
	c.write(".\r\n")
	c.expect(250)
	// One command at a time is not a group: every RCPT is answered.
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmd("RCPT TO:<c@x.test>", 250)
}

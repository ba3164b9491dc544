package sandbox

import (
	"strings"
	"testing"
)

func TestDataDotUnstuffingAndEnd(t *testing.T) {
	for _, tc := range []struct {
		name, wire, want string
	}{
		{"plain", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"empty", "", ""},
		{"stuffed dots", "..hidden\r\n..\r\n...\r\n.. x\r\n", ".hidden\r\n.\r\n..\r\n. x\r\n"},
		// Only CRLF "." CRLF ends data; bare-LF variants stay in the
		// content (SMTP smuggling, security-anchors E2).
		{"bare LF dot", "a\n.\nMAIL FROM:<x@y>\r\n", "a\n.\nMAIL FROM:<x@y>\r\n"},
		{"CR dot CR", "a\r.\rb\r\n", "a\r.\rb\r\n"},
		{"LF dot CRLF", "a\n.\r\nb\r\n", "a\n.\r\nb\r\n"},
		{"CRLF dot LF", "a\r\n.\nb\r\n", "a\r\n\nb\r\n"},
		{"long line", strings.Repeat("x", 200000) + "\r\n", strings.Repeat("x", 200000) + "\r\n"},
		{"binary", "\x00\xff\xfe\r\n", "\x00\xff\xfe\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := start(t, Config{})
			c := connect(t, srv)
			c.ehlo()
			c.cmd("MAIL FROM:<a@x.test>", 250)
			c.cmd("RCPT TO:<b@x.test>", 250)
			c.cmd("DATA", 354)
			c.write(tc.wire + ".\r\n")
			c.expect(250)
			m := srv.Mailbox().Messages()
			if len(m) != 1 || string(m[0].Data) != tc.want {
				t.Fatalf("stored %q, want %q", m[0].Data, tc.want)
			}
		})
	}
}

// The smuggling case proper: a second transaction hidden behind "\n.\n"
// is not executed.
func TestDataSmugglingIsOneMessage(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmd("DATA", 354)
	c.write("one\n.\nMAIL FROM:<evil@x.test>\nRCPT TO:<victim@x.test>\nDATA\nevil\n.\n\r\n.\r\n")
	c.expect(250)
	c.cmd("NOOP", 250)
	if n := srv.Mailbox().Len(); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

// RFC 2920: a whole transaction in one write gets its replies in order.
func TestPipelining(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.write("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<bad address>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n")
	c.expect(250)
	c.expect(250)
	c.expect(501)
	c.expect(250)
	c.expect(354)
	c.write("hello\r\n.\r\nMAIL FROM:<d@x.test>\r\nRCPT TO:<e@x.test>\r\nDATA\r\n")
	c.expectText(250, "2.0.0 Ok: queued")
	c.expect(250)
	c.expect(250)
	c.expect(354)
	c.write("second\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n")
	c.expect(250)
	c.expect(250)
	c.expect(250)
	c.expect(221)
	c.expectClosed()
	m := srv.Mailbox().Messages()
	if len(m) != 2 || strings.Join(m[0].To, ",") != "b@x.test,c@x.test" || string(m[1].Data) != "second\r\n" {
		t.Fatalf("mailbox %+v", m)
	}
}

func TestBDAT(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test> BODY=BINARYMIME", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	// BINARYMIME content cannot go through DATA (RFC 3030 §3).
	c.cmdText("DATA", 503, "5.5.1 ")
	// A chunk holding CRLF.CRLF and NUL is content, not an end.
	chunk1 := "Subject: x\r\n\r\n.\r\n\x00" // 18 octets
	c.write("BDAT 18\r\n" + chunk1)
	c.expectText(250, "2.0.0 18 octets received")
	c.cmdText("RCPT TO:<c@x.test>", 503, "5.5.1 ")
	c.cmd("DATA", 503)
	// Pipelined: two chunks in one write, the last one empty-terminated.
	c.write("BDAT 4\r\nabcdBDAT 0 LAST\r\n")
	c.expect(250)
	c.expectText(250, "2.0.0 Ok: queued as ")
	m := srv.Mailbox().Messages()
	if len(m) != 1 || string(m[0].Data) != chunk1+"abcd" || !m[0].Chunked {
		t.Fatalf("mailbox %+v", m)
	}
	// Sequence errors still consume the chunk.
	c.write("BDAT 5 LAST\r\nhello")
	c.expectText(503, "5.5.1 Need MAIL")
	c.cmd("NOOP", 250)
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.write("BDAT 3\r\nabc")
	c.expectText(503, "5.5.1 Need RCPT")
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.write("BDAT 3 FIRST\r\nabc")
	c.expect(501)
	c.write("BDAT 3 last\r\nxyz")
	c.expect(250)
	if m := srv.Mailbox().Messages(); len(m) != 2 || string(m[1].Data) != "xyz" {
		t.Fatalf("mailbox %+v", m)
	}
}

func TestBDATSizeLimit(t *testing.T) {
	srv, _ := start(t, Config{MaxMessageBytes: 10})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.write("BDAT 8\r\n12345678BDAT 8\r\n12345678BDAT 2 LAST\r\n12")
	c.expect(250)
	c.expectText(552, "5.3.4 ")
	c.expectText(503, "5.5.1 ") // the transaction ended with the 552
	c.cmd("NOOP", 250)
	if n := srv.Mailbox().Len(); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

func TestBDATAfterHELOIs503(t *testing.T) {
	srv, _ := start(t, Config{})
	c := connect(t, srv)
	c.cmd("HELO client.test", 250)
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.write("BDAT 2 LAST\r\nhi")
	c.expect(503)
	c.cmd("NOOP", 250)
}

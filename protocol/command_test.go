package protocol_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
)

func TestSplitCommand(t *testing.T) {
	for _, c := range []struct{ line, verb, args string }{
		{"EHLO x", "EHLO", "x"},
		{"auth\tLOGIN", "AUTH", "LOGIN"},
		{" AUTH PLAIN blob", "AUTH", "PLAIN blob"},
		{"\t AUTH \t PLAIN  blob ", "AUTH", "PLAIN  blob "},
		{"NOOP", "NOOP", ""},
		{"", "", ""},
		{"  ", "", ""},
		{"MAIL FROM:<a@x> SMTPUTF8", "MAIL", "FROM:<a@x> SMTPUTF8"},
	} {
		v, a := protocol.SplitCommand(c.line)
		if v != c.verb || a != c.args {
			t.Errorf("SplitCommand(%q) = %q, %q; want %q, %q", c.line, v, a, c.verb, c.args)
		}
	}
}

func TestAuthCommand(t *testing.T) {
	for _, c := range []struct {
		line, mech, ir string
		auth, secret   bool
	}{
		{"AUTH PLAIN AGFAYg==", "PLAIN", "AGFAYg==", true, true},
		{"AUTH\tPLAIN\tAGFAYg==", "PLAIN", "AGFAYg==", true, true},
		{" auth plain AGFAYg==", "PLAIN", "AGFAYg==", true, true},
		{"AUTH LOGIN", "LOGIN", "", true, false},
		{"AUTH\tLOGIN", "LOGIN", "", true, false},
		{"AUTH PLAIN =", "PLAIN", "=", true, false},
		{"AUTHX PLAIN x", "", "", false, false},
		{"NOOP AUTH PLAIN x", "", "", false, false},
	} {
		mech, ir, ok := protocol.AuthCommand(c.line)
		got := c.line[ir.Start:ir.End]
		if ok != c.auth || mech != c.mech || got != c.ir || protocol.IsSecretResponse(got) != c.secret {
			t.Errorf("AuthCommand(%q) = %q, %q, %v (secret %v)", c.line, mech, got, ok, protocol.IsSecretResponse(got))
		}
	}
}

// Issue 11 defect 2: every path that writes a MAIL goes through the one
// encoder, so a non-ASCII sender without SMTPUTF8 is refused before
// anything of the transaction is written, pipelined or not.
func TestEveryPathEncodesAlike(t *testing.T) {
	for _, ext := range [][]string{
		{"PIPELINING", "CHUNKING", "SMTPUTF8"}, // SMTPUTF8 offered but not asked for
		{"PIPELINING", "CHUNKING"},             // not offered at all
	} {
		for _, mode := range []struct {
			name        string
			pipe, chunk bool
			pipeline    bool
		}{
			{"one at a time", false, false, false},
			{"pipelined", true, false, false},
			{"chunked", false, true, false},
			{"pipelined and chunked", true, true, false},
			{"Pipeline DATA", true, false, true},
			{"Pipeline BDAT", true, true, true},
		} {
			t.Run(mode.name+"/"+strings.Join(ext, ","), func(t *testing.T) {
				srv := newServer(t, greet(ext...))
				c := srv.mustDial(t, func(o *protocol.Options) { o.Pipelining, o.Chunking = mode.pipe, mode.chunk })
				var err error
				if mode.pipeline {
					p := c.NewPipeline(2, func(r protocol.TxResult) { err = errors.Join(err, r.Err) })
					p.Send("jörg@example.org", []string{"b@y.test"}, []byte("hi\r\n"), nil, nil)
					p.Flush()
				} else {
					_, err = c.Sendmail("jörg@example.org", []string{"b@y.test"}, strings.NewReader("hi\r\n"), nil, nil)
				}
				if err == nil {
					t.Fatal("a non-ASCII sender without SMTPUTF8 was accepted")
				}
				if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
					t.Errorf("wire %q, want only EHLO", got)
				}
			})
		}
	}
}

// Issue 11 defect 3: a raw MAIL turns UTF-8 mode on only when SMTPUTF8 is
// one of its parameters, not when the text is in the address.
func TestRawMailSMTPUTF8InAddressOnly(t *testing.T) {
	srv := newServer(t, script(greet("SMTPUTF8"), []step{
		C("MAIL FROM:<smtputf8@x.test>"), S("250 ok"),
		C("MAIL FROM:<a@x.test> SMTPUTF8"), S("250 ok"),
		C("rcpt TO:<ü@y.test>"), S("250 ok"),
	}))
	c := srv.mustDial(t)
	wantNoErr(t, c.EhloOrHeloIfNeeded(), "EHLO")
	if _, err := c.Debug().Raw("MAIL FROM:<smtputf8@x.test>"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Rcpt("ü@y.test")
	wantErrAs[*protocol.ValueError](t, err)
	if _, err := c.Debug().Raw("MAIL FROM:<a@x.test> SMTPUTF8"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Rcpt("ü@y.test")
	wantNoErr(t, err, "RCPT after a MAIL with SMTPUTF8")
}

// UTF-8 mode ends with the transaction, as with RSET: a later MAIL without
// SMTPUTF8 does not inherit it.
func TestUTF8ModeEndsWithTransaction(t *testing.T) {
	srv := newServer(t, script(greet("SMTPUTF8", "8BITMIME"), []step{
		C("mail FROM:<jö@x> SMTPUTF8"), S("250 ok"),
		C("rcpt TO:<ü@y>"), S("250 ok"),
		C("data"), S("354 go"), CData("hi\r\n.\r\n"), S("250 ok"),
		C("mail FROM:<a@x>"), S("250 ok"),
	}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("jö@x", []string{"ü@y"}, strings.NewReader("hi"), []string{"SMTPUTF8"}, nil)
	wantNoErr(t, err, "Sendmail")
	_, err = c.Mail("a@x")
	wantNoErr(t, err, "Mail")
	_, err = c.Rcpt("ü@y")
	wantErrAs[*protocol.ValueError](t, err)
}

// A Pipeline's RSET ends UTF-8 mode as Rset does: a transaction written
// behind one that used SMTPUTF8 does not inherit it.
func TestPipelineRsetEndsUTF8Mode(t *testing.T) {
	for _, chunk := range []bool{false, true} {
		s := startSandbox(t, sandbox.Config{})
		rec := &sendRecorder{}
		c := dialFast(t, s.Addr(), protocol.SMTP, true, chunk, rec)
		var results []protocol.TxResult
		p := c.NewPipeline(2, func(r protocol.TxResult) { results = append(results, r) })
		p.Send("jö@x.test", []string{"ü@y.test"}, []byte("Subject: 1\r\n\r\nhi\r\n"), []string{"SMTPUTF8"}, nil)
		p.Send("a@x.test", []string{"ü@y.test"}, []byte("Subject: 2\r\n\r\nhi\r\n"), nil, nil)
		p.Flush()
		// A transaction refused before it is written is reported at once,
		// possibly before the one ahead of it.
		var ok, refused int
		for _, r := range results {
			var ve *protocol.ValueError
			switch {
			case r.Err == nil:
				ok++
			case errors.As(r.Err, &ve):
				refused++
			}
		}
		if len(results) != 2 || ok != 1 || refused != 1 {
			t.Errorf("chunking %v: results %+v, want one sent and one *ValueError", chunk, results)
		}
		if w := rec.find("rset"); w != nil && bytes.Contains(w, []byte("<a@x.test>")) {
			t.Errorf("chunking %v: the second transaction was written: %q", chunk, w)
		}
		for _, w := range rec.writes {
			if bytes.Contains(w, []byte("mail FROM:<a@x.test>")) {
				t.Errorf("chunking %v: the second transaction was written: %q", chunk, w)
			}
		}
	}
}

// The encoder's line-length limits: RFC 5321's 512 octets for a command,
// more for MAIL and RCPT with extension parameters, 12288 for AUTH. Refused
// before anything is written, and the error does not echo an unknown verb
// (it may be a password typed on the wrong line).
func TestCommandLineLimits(t *testing.T) {
	long := strings.Repeat("x", 600)
	srv := newServer(t, script(greet("SMTPUTF8"), []step{
		C("VRFY " + strings.Repeat("x", 505)), S("252 maybe"),
	}))
	c := srv.mustDial(t)
	wantNoErr(t, c.EhloOrHeloIfNeeded(), "EHLO")
	_, err := c.Debug().Raw("VRFY " + long)
	ve := wantErrAs[*protocol.ValueError](t, err)
	if !strings.Contains(ve.Msg, "512") {
		t.Errorf("error %q does not give the limit", ve.Msg)
	}
	_, err = c.Debug().Raw(long)
	ve = wantErrAs[*protocol.ValueError](t, err)
	if strings.Contains(ve.Msg, "XXXX") || strings.Contains(ve.Msg, "xxxx") {
		t.Errorf("error echoes the line: %q", ve.Msg)
	}
	_, err = c.Verify(long)
	wantErrAs[*protocol.ValueError](t, err)
	_, err = c.Debug().Raw("VRFY " + strings.Repeat("x", 505)) // 512 with CRLF
	wantNoErr(t, err, "a 512-octet line")
	if got := srv.After(c).All(); strings.Count(got, "\r\n") != 2 || strings.Contains(got, long) {
		t.Errorf("wire %q", got)
	}
}

// A RCPT over its limit is refused before the transaction's MAIL is
// written, one at a time as well as pipelined.
func TestSendmailChecksEveryLineFirst(t *testing.T) {
	orcpt := "ORCPT=rfc822;" + strings.Repeat("o", 1100)
	for _, pipe := range []bool{false, true} {
		srv := newServer(t, greet("PIPELINING", "DSN"))
		c := srv.mustDial(t, func(o *protocol.Options) { o.Pipelining = pipe; o.Timeout = 2 * time.Second })
		_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, []string{orcpt})
		wantErrAs[*protocol.ValueError](t, err)
		if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
			t.Errorf("pipelining %v: wire %q, want only EHLO", pipe, got)
		}
	}
}

// Issue 11 deliverable 1: the three transaction engines judge an envelope
// with one set of rules. A 421 to MAIL or to a RCPT is the server
// closing: a *SenderRefusedError or a *RecipientsRefusedError, the
// connection closed, no more replies waited for — pipelined or not.
func TestEnginesShareEnvelopeRules(t *testing.T) {
	group := []step{C("mail FROM:<a@x>"), C("rcpt TO:<b@y>"), C("rcpt TO:<c@y>"), C("data")}
	for _, c := range []struct {
		name     string
		pipe     bool
		pipeline bool
		steps    []step
		sender   bool
	}{
		{"one at a time, RCPT 421", false, false, []step{C("mail FROM:<a@x>"), S("250 ok"), C("rcpt TO:<b@y>"), S("421 4.3.2 closing"), Close()}, false},
		{"pipelined, RCPT 421", true, false, append(append([]step{}, group...), SRaw("250 ok\r\n421 4.3.2 closing\r\n"), Close()), false},
		{"Pipeline, RCPT 421", true, true, append(append([]step{}, group...), SRaw("250 ok\r\n421 4.3.2 closing\r\n"), Close()), false},
		{"one at a time, MAIL 421", false, false, []step{C("mail FROM:<a@x>"), S("421 4.3.2 closing"), Close()}, true},
		{"pipelined, MAIL 421", true, false, append(append([]step{}, group...), SRaw("421 4.3.2 closing\r\n"), Close()), true},
		{"Pipeline, MAIL 421", true, true, append(append([]step{}, group...), SRaw("421 4.3.2 closing\r\n"), Close()), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, script(greet("PIPELINING"), c.steps))
			cl := srv.mustDial(t, func(o *protocol.Options) { o.Pipelining = c.pipe })
			var err error
			var refused map[string]protocol.Reply
			if c.pipeline {
				p := cl.NewPipeline(1, func(r protocol.TxResult) { refused, err = r.Refused, r.Err })
				p.Send("a@x", []string{"b@y", "c@y"}, []byte("hi\r\n"), nil, nil)
				p.Flush()
			} else {
				refused, err = cl.Sendmail("a@x", []string{"b@y", "c@y"}, streamOf("hi\r\n"), nil, nil)
			}
			if c.sender {
				wantErrAs[*protocol.SenderRefusedError](t, err)
			} else {
				wantErrAs[*protocol.RecipientsRefusedError](t, err)
				if refused["b@y"].Code != 421 {
					t.Errorf("refused = %v, want b@y with 421", refused)
				}
			}
			wantClosed(t, cl)
		})
	}
}

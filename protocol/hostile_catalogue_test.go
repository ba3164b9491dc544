package protocol_test

// The protocol-level cases of security-anchors §6 that hostile_test.go,
// acceptance_test.go and pipeline_test.go leave open: A13 (STARTTLS alone
// even with PIPELINING), B5/B6/B10/B11 (certificate and handshake corner
// cases), D7/D8 (Bcc removal and encoded words in --data), E9 (a BDAT
// chunk refused in the middle), E10 (over-long lines), F18 (EHLO garbage)
// and F22 (a pipelined group answered short). docs/security.md maps every
// catalogue case to its test.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// catWrites keeps every client write, one entry per write, with its TLS
// flag: what goes out together and what goes out alone.
type catWrites struct {
	mu     sync.Mutex
	writes []protocol.Event
	notes  []string
}

func (w *catWrites) Trace(e protocol.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch e.Kind {
	case protocol.EventSend:
		e.Data = append([]byte(nil), e.Data...)
		w.writes = append(w.writes, e)
	case protocol.EventNote:
		w.notes = append(w.notes, e.Text)
	}
}

func (w *catWrites) all() []protocol.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]protocol.Event(nil), w.writes...)
}

// A13: PIPELINING advertised and asked for, STARTTLS required. STARTTLS is
// the last command of its group (RFC 2920 §3.1, RFC 3207): it goes out in a
// write of its own, nothing follows it before the handshake, and the first
// command inside TLS is EHLO, alone. Only then does the pipelined
// MAIL/RCPT/DATA group go out.
func TestCatalogueA13STARTTLSLastInGroup(t *testing.T) {
	pki := getPKI(t)
	w := &catWrites{}
	srv := newServer(t, script(greet("PIPELINING", "STARTTLS"), []step{
		C("STARTTLS"), S("220 go ahead"), StartTLS(pki.good),
		C("ehlo c.example"), S("250-fake.example", "250 PIPELINING"),
		C("mail FROM:<a@x>"), C("rcpt TO:<b@y>"), C("data"),
		S("250 ok", "250 ok", "354 go"), CData("hi\r\n.\r\n"), S("250 queued"),
	}))
	c := srv.mustDial(t, withTracer(w), func(o *protocol.Options) { o.Pipelining = true })
	_, err := c.StartTLS(pki.trusting())
	wantNoErr(t, err, "StartTLS")
	_, err = c.Sendmail("a@x", []string{"b@y"}, streamOf("hi"), nil, nil)
	wantNoErr(t, err, "Sendmail")
	sc := srv.After(c)
	if got := sc.Plain(); got != "ehlo c.example\r\nSTARTTLS\r\n" {
		t.Errorf("clear-text client bytes %q: the last ones before the ClientHello must be STARTTLS\\r\\n, and no MAIL/RCPT", got)
	}
	var got []string
	for _, e := range w.all() {
		got = append(got, fmt.Sprintf("%v %q", e.TLS, e.Data))
	}
	want := []string{
		`false "ehlo c.example\r\n"`,
		`false "STARTTLS\r\n"`,
		`true "ehlo c.example\r\n"`,
		`true "mail FROM:<a@x>\r\nrcpt TO:<b@y>\r\ndata\r\n"`,
		`true "hi\r\n.\r\n"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("client writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// tlsServer is a scripted-server step that runs a TLS server handshake
// with cfg (certificate, versions, client authentication of the test's
// choosing). When the handshake fails, nothing may follow it from the
// client but an alert: not even QUIT.
//
// With TLS 1.3 the client's side of the handshake may complete before the
// server has judged it, and its next command then goes out encrypted
// (application-data records, 0x17): allowEncrypted accepts those, and
// still refuses any clear-text byte.
func tlsServer(cfg *tls.Config, wantFail, allowEncrypted bool) step {
	return Do("TLS server handshake", func(sc *serverConn) error {
		err := sc.Handshake(cfg)
		if err != nil {
			if !wantFail {
				return fmt.Errorf("TLS handshake: %w", err)
			}
			rest, _ := io.ReadAll(sc.NetConn())
			if len(rest) > 0 && rest[0] != 0x15 && !(allowEncrypted && rest[0] == 0x17) {
				return fmt.Errorf("client sent %q after the failed handshake", clip(rest, 60))
			}
			return nil
		}
		if wantFail {
			return errors.New("the handshake succeeded; the client must refuse it")
		}
		return nil
	})
}

// B5: a wildcard covers exactly one label, the left-most (RFC 6125 §6.4.3,
// RFC 7817 §3): *.example.test matches a.example.test, never
// a.b.example.test.
func TestCatalogueB5WildcardDepth(t *testing.T) {
	pki := getPKI(t)
	now := time.Now()
	wild, err := pki.leaf("*.example.test", []string{"*.example.test"}, nil, now.Add(-time.Hour), now.Add(24*time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("one_label_too_deep", func(t *testing.T) {
		srv := newServer(t, script(greet("STARTTLS"), []step{C("STARTTLS"), S("220 go ahead"), TLSRefused(wild)}))
		c := srv.mustDial(t)
		cfg := pki.trusting()
		cfg.ServerName = "a.b.example.test"
		_, err := c.StartTLS(cfg)
		wantErrAs[*protocol.TLSError](t, err)
		var he x509.HostnameError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), "a.b.example.test") {
			t.Errorf("%v: want a HostnameError naming a.b.example.test", err)
		}
		wantClosed(t, c)
		srv.Wait(0)
	})
	t.Run("left_most_label", func(t *testing.T) {
		srv := newServer(t, script(greet("STARTTLS"), []step{C("STARTTLS"), S("220 go ahead"), StartTLS(wild), C("noop"), S("250 ok")}))
		c := srv.mustDial(t)
		cfg := pki.trusting()
		cfg.ServerName = "a.example.test"
		_, err := c.StartTLS(cfg)
		wantNoErr(t, err, "StartTLS to a.example.test")
		_, err = c.Noop()
		wantNoErr(t, err, "Noop")
	})
}

// B6: a certificate whose name is only in the subject CN, with no SAN, is
// refused (Go ignores the CN; RFC 6125 §6.4.4 only allows it without
// SANs, and ehlo follows Go). The message says why.
func TestCatalogueB6CNOnly(t *testing.T) {
	pki := getPKI(t)
	now := time.Now()
	cnOnly, err := pki.leaf("mail.test", nil, nil, now.Add(-time.Hour), now.Add(24*time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, script(greet("STARTTLS"), []step{C("STARTTLS"), S("220 go ahead"), TLSRefused(cnOnly)}))
	c := srv.mustDial(t)
	cfg := pki.trusting()
	cfg.ServerName = "mail.test"
	_, err = c.StartTLS(cfg)
	wantErrAs[*protocol.TLSError](t, err)
	var he x509.HostnameError
	if !errors.As(err, &he) {
		t.Errorf("%v: want a HostnameError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "Common Name") || !strings.Contains(msg, "SAN") {
		t.Errorf("error %q: want it to say the certificate has only a Common Name, no SAN", msg)
	}
	wantClosed(t, c)
	srv.Wait(0)
}

// B10: a server whose best is TLS 1.1. ehlo requires TLS 1.2 (Go's client
// default) and never downgrades: the handshake fails, the session is not
// encrypted, nothing follows in clear text.
func TestCatalogueB10OldProtocol(t *testing.T) {
	pki := getPKI(t)
	rec := &recorder{}
	srv := newServer(t, script(greet("STARTTLS"), []step{
		C("STARTTLS"), S("220 go ahead"),
		tlsServer(&tls.Config{Certificates: []tls.Certificate{pki.good}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, true, false),
	}))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.StartTLS(pki.trusting())
	te := wantErrAs[*protocol.TLSError](t, err)
	if !strings.Contains(te.Error(), "protocol version") {
		t.Errorf("error %q: want the protocol-version failure", te)
	}
	if c.State().TLS {
		t.Errorf("state says TLS")
	}
	wantClosed(t, c)
	srv.Wait(0)
	if got := rec.sent(); got != "ehlo c.example\r\nSTARTTLS\r\n" {
		t.Errorf("client sent %q: nothing after the failed handshake", got)
	}
	t.Run("names_the_versions", func(t *testing.T) {
		if !strings.Contains(te.Error(), "1.2") {
			t.Errorf("error %q does not say ehlo requires TLS 1.2", te)
		}
	})
}

// B11: the server requires a client certificate and none is configured.
// With TLS 1.2 the client's handshake itself fails; with TLS 1.3 the
// client finishes first and learns of the refusal from the alert that
// arrives instead of the reply to the post-TLS EHLO. Either way: an
// error that carries the alert text, no command after it, nothing sent in
// clear text after STARTTLS.
func TestCatalogueB11ClientCertRequired(t *testing.T) {
	pki := getPKI(t)
	for _, tc := range []struct {
		name    string
		max     uint16
		inHello bool   // the refusal surfaces at the post-TLS EHLO (TLS 1.3)
		alert   string // what the error must say
	}{
		{"TLS1.2", tls.VersionTLS12, false, "handshake failure"},
		{"TLS1.3", tls.VersionTLS13, true, "certificate required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			srv := newServer(t, script(greet("STARTTLS"), []step{
				C("STARTTLS"), S("220 go ahead"),
				tlsServer(&tls.Config{Certificates: []tls.Certificate{pki.good}, MaxVersion: tc.max, ClientAuth: tls.RequireAnyClientCert}, true, tc.inHello),
			}))
			c := srv.mustDial(t, withTracer(rec))
			_, err := c.StartTLS(pki.trusting())
			if tc.inHello {
				wantNoErr(t, err, "StartTLS (TLS 1.3: the client's side of the handshake completes)")
				_, err = c.Ehlo("")
				sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
				if !strings.Contains(sd.Error(), tc.alert) {
					t.Errorf("error %q: want the alert %q", sd, tc.alert)
				}
			} else {
				te := wantErrAs[*protocol.TLSError](t, err)
				if !strings.Contains(te.Error(), tc.alert) {
					t.Errorf("error %q: want the alert %q", te, tc.alert)
				}
			}
			wantClosed(t, c)
			srv.Wait(0)
			sent := rec.sent()
			if !strings.HasPrefix(sent, "ehlo c.example\r\nSTARTTLS\r\n") || strings.Contains(strings.ToLower(sent), "quit") || strings.Contains(sent, "mail") {
				t.Errorf("client sent %q", sent)
			}
			for _, e := range rec.of(protocol.EventSend) {
				if !e.TLS && !bytes.Equal(e.Data, []byte("ehlo c.example\r\n")) && !bytes.Equal(e.Data, []byte("STARTTLS\r\n")) {
					t.Errorf("clear-text write %q after STARTTLS", e.Data)
				}
			}
		})
	}
}

// D7: a --data message whose Bcc header is folded over three lines, plus
// a Resent-Bcc (with no Resent- block, so the envelope comes from To, Bcc
// and Cc): no line of either header reaches the wire, and the Bcc
// addresses still get RCPT TO.
func TestCatalogueD7FoldedBcc(t *testing.T) {
	msg := "From: a@x\r\nTo: b@y\r\nBcc: e@y,\r\n f@y,\r\n\tg@y\r\nResent-Bcc: h@y,\r\n i@y\r\nSubject: s\r\n\r\nbody\r\n"
	_, err := sendMessageCase(t, nil, []step{
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("250 ok"),
		C("rcpt TO:<e@y>"), S("250 ok"),
		C("rcpt TO:<f@y>"), S("250 ok"),
		C("rcpt TO:<g@y>"), S("250 ok"),
		C("data"), S("354 go"),
		CData("From: a@x\r\nTo: b@y\r\nSubject: s\r\n\r\nbody\r\n.\r\n"), S("250 ok"),
	}, msg)
	wantNoErr(t, err, "SendMessage")
}

// D8: encoded words. A display name that decodes to CR LF is dropped with
// the display name (only the address goes into the envelope, and the
// header is sent as written, encoded); an "address" that merely looks
// like an encoded word is never decoded, so it cannot become a newline:
// it is an ordinary atom, checked by ValidateAddress and sent on one line.
// A quoted local part holding CR LF is refused before MAIL.
func TestCatalogueD8EncodedWordNewline(t *testing.T) {
	t.Run("display_name", func(t *testing.T) {
		msg := "From: a@x\r\nTo: =?UTF-8?Q?bob=0D=0ARCPT=20TO=3A=3Cv=40x=3E?= <bob@y>\r\n\r\nhi\r\n"
		_, err := sendMessageCase(t, nil, []step{
			C("mail FROM:<a@x>"), S("250 ok"),
			C("rcpt TO:<bob@y>"), S("250 ok"),
			C("data"), S("354 go"),
			CData("From: a@x\r\nTo: =?UTF-8?Q?bob=0D=0ARCPT=20TO=3A=3Cv=40x=3E?= <bob@y>\r\n\r\nhi\r\n.\r\n"), S("250 ok"),
		}, msg)
		wantNoErr(t, err, "SendMessage")
	})
	t.Run("address_atom", func(t *testing.T) {
		msg := "From: a@x\r\nTo: =?UTF-8?Q?bob=0D=0A?=@y\r\n\r\nhi\r\n"
		_, err := sendMessageCase(t, nil, []step{
			C("mail FROM:<a@x>"), S("250 ok"),
			C("rcpt TO:<=?UTF-8?Q?bob=0D=0A?=@y>"), S("250 ok"),
			C("data"), S("354 go"),
			CData("From: a@x\r\nTo: =?UTF-8?Q?bob=0D=0A?=@y\r\n\r\nhi\r\n.\r\n"), S("250 ok"),
		}, msg)
		wantNoErr(t, err, "SendMessage")
	})
	t.Run("quoted_newline_refused", func(t *testing.T) {
		srv := newServer(t, greet())
		c := srv.mustDial(t)
		// A fold inside a quoted local part is folding white space
		// (RFC 5322 §3.2.4): unfolded, "bob\r\n RCPT"@y is the valid
		// "bob RCPT"@y, which is no injection. A quoted-pair of CR is not.
		for _, msg := range []string{
			"From: \"a\\\r\nb\"@x\r\nTo: b@y\r\n\r\nhi\r\n",
		} {
			_, err := c.SendMessage(strings.NewReader(msg), nil, nil, nil)
			wantErrAs[*protocol.ValueError](t, err)
		}
		if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
			t.Errorf("wire %q: nothing after EHLO", got)
		}
	})
	// A valid quoted local part in a header must keep its quotes on the
	// wire, as --to '"bob> x"@x.test' does (D5). A parser that returned
	// the local part unquoted would make SendMessage refuse the space.
	t.Run("quoted_local_part_kept", func(t *testing.T) {
		msg := "From: a@x\r\nTo: \"john doe\"@y\r\n\r\nhi\r\n"
		_, err := sendMessageCase(t, nil, []step{
			C("mail FROM:<a@x>"), S("250 ok"),
			C(`rcpt TO:<"john doe"@y>`), S("250 ok"),
			C("data"), S("354 go"), CData("From: a@x\r\nTo: \"john doe\"@y\r\n\r\nhi\r\n.\r\n"), S("250 ok"),
		}, msg)
		wantNoErr(t, err, "SendMessage")
	})
}

// bdatStep reads one BDAT command and its chunk and checks that the size
// on the command line is the number of bytes that follow, and that the
// chunk is exactly want (no dot-stuffing, canonical CRLF).
func bdatStep(want []byte, last bool) step {
	cmd := fmt.Sprintf("BDAT %d", len(want))
	if last {
		cmd += " LAST"
	}
	return Do(cmd, func(sc *serverConn) error {
		line, err := sc.ReadLine()
		if err != nil {
			return fmt.Errorf("reading the BDAT line: got %q, %w", line, err)
		}
		if string(line) != cmd+"\r\n" {
			return fmt.Errorf("BDAT line %q, want %q", line, cmd+"\r\n")
		}
		got, err := sc.ReadFull(len(want))
		if err != nil {
			return fmt.Errorf("chunk cut short at %d of %d bytes: %w", len(got), len(want), err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("chunk differs from the message bytes (first difference near %d)", firstDiff(got, want))
		}
		return nil
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// E9: CHUNKING, a message of three chunks, the server answers 552 to the
// second. Chunk sizes on the wire match the BDAT lines exactly, the
// content is not dot-stuffed, no third chunk is sent, and RSET follows
// (smtplib's rule after a failed transaction; RFC 3030 §2 voids it).
func TestCatalogueE9BDATMidReject(t *testing.T) {
	line := ".dot " + strings.Repeat("x", 93) + "\r\n" // 100 bytes, a leading dot
	body := []byte(strings.Repeat(line, (2*protocol.ChunkSize+protocol.ChunkSize/2)/len(line)))
	c1, c2 := body[:protocol.ChunkSize], body[protocol.ChunkSize:2*protocol.ChunkSize]
	w := &catWrites{}
	srv := newServer(t, script(greet("CHUNKING"), []step{
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("250 ok"),
		bdatStep(c1, false), S("250 2.0.0 chunk 1 ok"),
		bdatStep(c2, false), S("552 5.3.4 message too big"),
		C("rset"), S("250 ok"),
		// The script ends: a third chunk (or anything else) fails the test.
	}))
	c := srv.mustDial(t, withTracer(w), func(o *protocol.Options) { o.Chunking = true })
	_, err := c.Sendmail("a@x", []string{"b@y"}, streamOf(string(body)), nil, nil)
	de := wantErrAs[*protocol.DataError](t, err)
	if de.Code != 552 || de.Message != "5.3.4 message too big" {
		t.Errorf("DataError (%d, %q)", de.Code, de.Message)
	}
	wantOpen(t, c)
	bdats := 0
	for _, e := range w.all() {
		if bytes.HasPrefix(e.Data, []byte("BDAT ")) {
			bdats++
		}
	}
	if bdats != 2 {
		t.Errorf("%d BDAT commands, want 2 (none after the refusal)", bdats)
	}
	srv.After(c)
}

// E10: a body line of 5000 octets is sent unfolded (smtplib parity), and
// a note cites RFC 5321's 1000-octet limit; a 5xx after the final dot is
// a DataError.
func TestCatalogueE10OverLongLine(t *testing.T) {
	long := strings.Repeat("L", 5000)
	t.Run("accepted", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, script(greet(), oneTxn("mail FROM:<a@x>", "Subject: x\r\n\r\n"+long+"\r\n.\r\n")))
		c := srv.mustDial(t, withTracer(rec))
		_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("Subject: x\n\n"+long+"\n"), nil, nil)
		wantNoErr(t, err, "Sendmail")
		if !rec.hasNote("1 message line(s) longer than RFC 5321's 1000-octet limit were sent unfolded") {
			t.Errorf("notes %q", rec.notes())
		}
	})
	t.Run("refused", func(t *testing.T) {
		srv := newServer(t, script(greet(), dataTxn(), []step{
			S("354 go"), CData(long + "\r\n.\r\n"), S("552 5.3.4 line too long"), C("rset"), S("250 ok"),
		}))
		c := srv.mustDial(t)
		_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader(long), nil, nil)
		de := wantErrAs[*protocol.DataError](t, err)
		if de.Code != 552 {
			t.Errorf("DataError code %d", de.Code)
		}
	})
}

// F18: EHLO garbage. No panic; SIZE values that do not fit, or are
// negative, are kept as text and never used (ehlo, like smtplib, sends
// the size it counted itself, never one derived from the server's); a
// repeated keyword is listed as often as it was sent and answers HasExtn;
// a keyword that is not ASCII letters and digits is not an extension.
// Thousands of AUTH mechanisms, over several AUTH lines, are all kept; in
// ONE line they exceed the 8192-byte line cap and the reply is refused
// like any over-long line (F2).
func TestCatalogueF18EHLOGarbage(t *testing.T) {
	t.Run("size_and_duplicates", func(t *testing.T) {
		srv := newServer(t, script(greet(
			"SIZE 99999999999999999999999", "SIZE -5", "STARTTLS", "STARTTLS", "\u00e9t\u00e9 x", "X\x1b[31mY z",
		), oneTxn("mail FROM:<a@x> size=2", "hi\r\n.\r\n")))
		c := srv.mustDial(t)
		_, err := c.Ehlo("")
		wantNoErr(t, err, "Ehlo")
		if v, ok := c.Extn("size"); !ok || v != "-5" {
			t.Errorf("SIZE %q %v: the last line wins, kept as text", v, ok)
		}
		n := 0
		for _, e := range c.Extensions() {
			if strings.EqualFold(e.Keyword, "STARTTLS") {
				n++
			}
			if strings.ContainsAny(e.Keyword, "\x1b\u00e9") {
				t.Errorf("keyword %q with a byte outside the keyword grammar", e.Keyword)
			}
		}
		if n != 2 || !c.HasExtn("starttls") {
			t.Errorf("STARTTLS listed %d times, HasExtn %v", n, c.HasExtn("starttls"))
		}
		_, err = c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
		wantNoErr(t, err, "Sendmail with a garbage SIZE")
	})
	t.Run("5000_mechanisms_over_many_lines", func(t *testing.T) {
		var ext []string
		for i := range 50 {
			var names []string
			for j := range 100 {
				names = append(names, fmt.Sprintf("X-M%d", i*100+j))
			}
			ext = append(ext, "AUTH "+strings.Join(names, " "))
		}
		srv := newServer(t, greet(ext...))
		c := srv.mustDial(t)
		_, err := c.Ehlo("")
		wantNoErr(t, err, "Ehlo")
		v, _ := c.Extn("auth")
		if n := len(strings.Fields(v)); n != 5000 {
			t.Errorf("%d mechanisms kept, want 5000", n)
		}
	})
	t.Run("5000_mechanisms_in_one_line", func(t *testing.T) {
		var names []string
		for i := range 5000 {
			names = append(names, fmt.Sprintf("M%d", i))
		}
		srv := newServer(t, []step{S("220 fake ESMTP"), C("ehlo c.example"), S("250-fake.example", "250 AUTH "+strings.Join(names, " ")), ExpectEOF()})
		c := srv.mustDial(t)
		_, err := c.Ehlo("")
		re := wantErrAs[*protocol.ResponseError](t, err)
		if re.Code != 500 || re.Message != "Line too long" {
			t.Errorf("(%d, %q)", re.Code, re.Message)
		}
		wantClosed(t, c)
	})
}

// F22: PIPELINING, MAIL, RCPT, RCPT and DATA in one group; the server
// answers only two. After the timeout the error names the first command
// that got no reply, and the connection is closed: no later reply can be
// taken for it.
func TestCatalogueF22PipelineShort(t *testing.T) {
	srv := newServer(t, script(greet("PIPELINING"), []step{
		C("mail FROM:<a@x>"), C("rcpt TO:<b@y>"), C("rcpt TO:<c@y>"), C("data"),
		S("250 ok", "250 ok"),
		ExpectEOF(),
	}))
	c := srv.mustDial(t, withTimeout(300*time.Millisecond), func(o *protocol.Options) { o.Pipelining = true })
	start := time.Now()
	_, err := c.Sendmail("a@x", []string{"b@y", "c@y"}, strings.NewReader("hi"), nil, nil)
	sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
	if !strings.Contains(sd.Msg, "no reply within") || !strings.Contains(sd.Msg, "(no reply to RCPT TO:<c@y>)") {
		t.Errorf("message %q: want the timeout and the RCPT that got no reply", sd.Msg)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %s", el)
	}
	wantClosed(t, c)
}

// F13/F14 in the trace: the partial line the server sent before closing
// is reported (protocol's TestHostileF13F14CloseMidReply), and it should
// come before the close event, in wire order, so that transcripts and
// recordings do not show "Connection closed" above the server's last
// bytes.
func TestCatalogueF13PartialLineBeforeClose(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), SRaw("250-a\r\n250-b"), Close()})
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.Noop()
	wantErrAs[*protocol.ServerDisconnectedError](t, err)
	var kinds []string
	for _, e := range rec.all() {
		if e.Kind == protocol.EventRecv || e.Kind == protocol.EventClose {
			kinds = append(kinds, e.Kind.String())
		}
	}
	if len(kinds) < 2 || kinds[len(kinds)-1] != protocol.EventClose.String() {
		t.Errorf("events %v: the close must come after the partial line", kinds)
	}
}

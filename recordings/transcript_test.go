package recordings

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

func transcript(opts TranscriptOptions, evs ...protocol.Event) (stdout, stderr string) {
	var out, errw bytes.Buffer
	opts.Errors = &errw
	tr := NewTranscript(&out, opts)
	c := newTestCapture(session.Redaction{})
	c.Add(tr)
	for _, e := range evs {
		c.Trace(e)
	}
	tr.Flush()
	return out.String(), errw.String()
}

// The swaks markers, a STARTTLS session from connect to close.
func TestTranscriptSession(t *testing.T) {
	cert := selfSigned(t, "mx.test", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	stdout, stderr := transcript(TranscriptOptions{},
		protocol.Event{Kind: protocol.EventConnect, Network: "tcp", Addr: "127.0.0.1:2525"},
		state(protocol.PhaseConnected, false, false),
		recv("220 mx.test ESMTP\r\n"),
		send("EHLO client.test\r\n"),
		recv("250-mx.test\r\n"),
		recv("250 STARTTLS\r\n"),
		send("STARTTLS\r\n"),
		recv("220 go ahead\r\n"),
		protocol.Event{Kind: protocol.EventNote, Text: "discarded 20 bytes sent after 220 to STARTTLS"},
		tlsEvent(cert, nil),
		sendTLS("EHLO client.test\r\n"),
		recvTLS("250 mx.test\r\n"),
		sendTLS("QUIT\r\n"),
		recvTLS("221 bye\r\n"),
		protocol.Event{Kind: protocol.EventClose},
	)
	want := `=== Trying 127.0.0.1:2525...
=== Connected to 127.0.0.1:2525.
<-  220 mx.test ESMTP
 -> EHLO client.test
<-  250-mx.test
<-  250 STARTTLS
 -> STARTTLS
<-  220 go ahead
=== TLS started with cipher TLSv1.3:TLS_AES_128_GCM_SHA256
=== TLS peer certificate: subject "CN=mx.test" issuer "CN=mx.test" verified
===   names: mx.test, 127.0.0.1
===   valid: 2026-01-01T00:00:00Z to 2027-01-01T00:00:00Z
===   key: ECDSA 256 bits
===   sha256: ` + fingerprint(cert) + `
===   spki sha256: ` + spkiFingerprint(cert) + `
 ~> EHLO client.test
<~  250 mx.test
 ~> QUIT
<~  221 bye
=== Connection closed with remote host.
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if stderr != "*** discarded 20 bytes sent after 220 to STARTTLS\n" {
		t.Errorf("stderr: %q", stderr)
	}
}

func TestTranscriptTLSFailures(t *testing.T) {
	cert := selfSigned(t, "mx.test", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	stdout, stderr := transcript(TranscriptOptions{},
		tlsEvent(cert, errors.New("x509: certificate signed by unknown authority")),
		protocol.Event{Kind: protocol.EventTLS, TLSErr: errors.New("remote error: tls: \x1b[31mhandshake failure")},
	)
	if !strings.Contains(stdout, `=== TLS peer certificate: subject "CN=mx.test" issuer "CN=mx.test" NOT verified`) {
		t.Errorf("stdout:\n%s", stdout)
	}
	want := "*** TLS certificate not verified: x509: certificate signed by unknown authority\n" +
		`*** TLS handshake failed: remote error: tls: \x1b[31mhandshake failure` + "\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
}

// security-anchors H1, H2, H4: no server text can produce an ehlo line or
// reach the terminal raw.
func TestTranscriptHostileServer(t *testing.T) {
	stdout, stderr := transcript(TranscriptOptions{},
		recv("220 \x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07 ok\r\n"),
		recv("250 ok\r*** TLS verified\r\n"),
		recv("250-ok\n=== TLS established, certificate OK\r\n"),
		recv("220-=== TLS established, certificate OK\r\n"),
		recv("250 \u202eexe.txt\u200b \u009b31m\xff\r\n"),
		recv("500 partial line, no end"),
	)
	want := `<-  220 \x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07 ok
<-  250 ok\r*** TLS verified
<-  250-ok
<-  === TLS established, certificate OK
<-  220-=== TLS established, certificate OK
<-  250 \u202eexe.txt\u200b \u009b31m\xff
<-  500 partial line, no end
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if stderr != "" {
		t.Errorf("server text reached stderr: %q", stderr)
	}
	checkTranscriptSafe(t, stdout)
	if strings.ContainsRune(stdout, 0x1b) {
		t.Error("ESC on stdout")
	}
}

func dataSession(lines int, chunk int) []protocol.Event {
	var body strings.Builder
	for i := range lines {
		fmt.Fprintf(&body, "line %d\r\n", i)
	}
	body.WriteString(".\r\n")
	evs := []protocol.Event{send("DATA\r\n"), recv("354 go ahead\r\n")}
	b := body.String()
	for len(b) > 0 { // streamed in chunks that split lines
		n := min(chunk, len(b))
		evs = append(evs, send(b[:n]))
		b = b[n:]
	}
	return append(evs, recv("250 queued\r\n"), send("QUIT\r\n"))
}

func TestTranscriptDataElided(t *testing.T) {
	for _, chunk := range []int{1, 7, 4096} {
		stdout, _ := transcript(TranscriptOptions{DataLines: 3}, dataSession(100, chunk)...)
		want := ` -> DATA
<-  354 go ahead
 -> line 0
 -> line 1
 -> line 2
=== 97 more lines of message data not shown
 -> .
<-  250 queued
 -> QUIT
`
		if stdout != want {
			t.Errorf("chunks of %d:\n%s\nwant:\n%s", chunk, stdout, want)
		}
	}
}

func TestTranscriptDataFull(t *testing.T) {
	stdout, _ := transcript(TranscriptOptions{Full: true}, dataSession(100, 13)...)
	if n := strings.Count(stdout, "\n -> line "); n != 100 || !strings.Contains(stdout, " -> line 99\n -> .\n<-  250 queued\n") {
		t.Errorf("full output shows %d body lines:\n%s", n, stdout)
	}
	if strings.Contains(stdout, "not shown") {
		t.Error("full output elided lines")
	}
}

func TestTranscriptBDAT(t *testing.T) {
	body := strings.Repeat("x\r\n", 30)
	stdout, _ := transcript(TranscriptOptions{DataLines: 2},
		send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body), body)),
		recv("250 ok\r\n"),
		send("QUIT\r\n"),
	)
	want := ` -> BDAT 90 LAST
 -> x
 -> x
=== 28 more lines of message data not shown
<-  250 ok
 -> QUIT
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}

// A body line in the transcript is sanitized like a server line: the
// message may be hostile too.
func TestTranscriptClientSanitized(t *testing.T) {
	stdout, _ := transcript(TranscriptOptions{},
		send("DATA\r\n"), recv("354 go\r\n"), send("Subject: \x1b[2Jhi\rthere\r\n.\r\n"))
	if !strings.Contains(stdout, ` -> Subject: \x1b[2Jhi\rthere`+"\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
}

type brokenWriter struct{ n int }

func (w *brokenWriter) Write(p []byte) (int, error) {
	if w.n++; w.n > 2 {
		return 0, errors.New("broken pipe")
	}
	return len(p), nil
}

func TestTranscriptWriteError(t *testing.T) {
	w := &brokenWriter{}
	tr := NewTranscript(w, TranscriptOptions{})
	for range 5 {
		tr.Event(session.Event{Kind: session.KindServer, Data: []byte("250 ok\r\n")})
	}
	if err := tr.Err(); err == nil || !strings.Contains(err.Error(), "transcript stopped: broken pipe") {
		t.Errorf("Err() = %v", err)
	}
	if w.n != 3 {
		t.Errorf("%d writes after the error, want none", w.n-3)
	}
}

// tlsEvent is a TLS 1.3 handshake with cert as the peer's certificate,
// verified unless err says otherwise.
func tlsEvent(cert *x509.Certificate, err error) protocol.Event {
	cs := &tls.ConnectionState{
		Version:           tls.VersionTLS13,
		CipherSuite:       tls.TLS_AES_128_GCM_SHA256,
		HandshakeComplete: true,
		PeerCertificates:  []*x509.Certificate{cert},
	}
	if err == nil {
		cs.VerifiedChains = [][]*x509.Certificate{{cert}}
	}
	return protocol.Event{Kind: protocol.EventTLS, TLSState: cs, TLSErr: err}
}

func spkiFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Issue 12 finding 15: on a terminal of 80 columns, a server line padded
// so that "=== TLS started" would begin a visual line is folded by ehlo,
// and every visual line starts with one of ehlo's markers; the folds
// carry the text unchanged.
func TestTranscriptFoldsLongLines(t *testing.T) {
	fake := "=== TLS started with cipher TLSv1.3:TLS_AES_128_GCM_SHA256"
	line := "250-" + strings.Repeat("x", 76) + fake + strings.Repeat(" ", 30) + "é世界" + strings.Repeat("y", 200)
	var out bytes.Buffer
	tr := NewTranscript(&out, TranscriptOptions{Width: 80})
	tr.Event(session.Event{Kind: session.KindServer, Data: []byte(line + "\r\n")})
	tr.Event(session.Event{Kind: session.KindServer, Data: []byte("250 short\r\n"), TLS: true})
	tr.Event(session.Event{Kind: session.KindNote, Text: strings.Repeat("n", 100)})
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	var joined strings.Builder
	for i, l := range lines {
		cols := 0
		for _, r := range l {
			cols += 1 + utf8.RuneLen(r)/3 // 世 and 界 take two columns
		}
		if cols > 80 {
			t.Errorf("line %d is %d columns: %q", i, cols, l)
		}
		switch {
		case i == 0 && strings.HasPrefix(l, markServer):
		case strings.HasPrefix(l, "<-+ ") && joined.Len() < len(line):
		case l == "<~  250 short", l == "*** "+strings.Repeat("n", 76), l == "**+ nnnnnnnnnnnnnnnnnnnnnnnn":
			continue
		default:
			t.Errorf("line %d does not start with the marker expected: %q", i, l)
		}
		joined.WriteString(l[4:])
	}
	if joined.String() != line {
		t.Errorf("the folds do not carry the line:\n got %q\nwant %q", joined.String(), line)
	}
	// Without a width (a file, a pipe), nothing is folded.
	out.Reset()
	NewTranscript(&out, TranscriptOptions{}).Event(session.Event{Kind: session.KindServer, Data: []byte(line + "\r\n")})
	if out.String() != "<-  "+line+"\n" {
		t.Errorf("folded without a width: %q", out.String())
	}
}

// A Transcript reads the same from a live session's annotated events as
// from a recording's, which it annotates itself: a body streamed in
// chunks, a line across them, lines elided, the "." in a send of its own.
func TestTranscriptAnnotatedOrNot(t *testing.T) {
	c := newTestCapture(session.Redaction{})
	var live bytes.Buffer
	c.Add(NewTranscript(&live, TranscriptOptions{DataLines: 2}))
	var all collect
	c.Add(&all)
	c.Trace(protocol.Event{Kind: protocol.EventConnect, Network: "tcp", Addr: "mx:25"})
	for _, ev := range []protocol.Event{
		recv("220 mx\r\n"), send("DATA\r\n"), recv("354 go\r\n"),
		send("one\r\ntwo\r\nthr"), send("ee\r\nfour\r\n"), send(".\r\n"), recv("250 ok\r\n"),
		send("BDAT 8 LAST\r\nab\r\ncd\r\n"), recv("250 ok\r\n"),
	} {
		c.Trace(ev)
	}
	var read bytes.Buffer
	tr := NewTranscript(&read, TranscriptOptions{DataLines: 2})
	for _, e := range all.events {
		e.Parts = nil // as read from a file
		tr.Event(e)
	}
	if live.String() != read.String() || !strings.Contains(live.String(), "=== 2 more lines of message data not shown") {
		t.Errorf("live:\n%s\nread:\n%s", live.String(), read.String())
	}
}

// Package smtptest is a scripted SMTP server for testing SMTP clients: it
// listens on a loopback address (or a Unix socket), and on each accepted
// connection plays one script of steps, the lines the client must send and
// the bytes the server answers with, checked strictly as they come. A
// client line that differs from the script fails the test at once, with
// both sides quoted, and the server hangs up: nothing is compared in a
// final diff, so the failure names the first wrong line.
//
// Steps:
//
//   - C, CRaw, CData: read one client line, exact bytes, or a DATA payload
//     up to CRLF.CRLF, and compare them byte for byte; CMatch matches a
//     line with a regular expression.
//   - S, SRaw: write reply lines (or exact bytes) in ONE Write, so replies
//     meant to share a TCP segment do.
//   - Sleep, Drip (one byte at a time), SendForever, Close, Reset (RST).
//   - StartTLS, TLSRefused: a TLS server handshake with a certificate that
//     the client must accept, or refuse; ReadRaw reads bytes unparsed.
//   - ExpectEOF, Anything: how the script ends; Do runs a function.
//
// Everything the client sends is recorded, before and inside TLS
// (decrypted), so a test can assert the whole stream. When a script runs
// out the server keeps reading until the client closes, and any byte it
// gets then fails the test, unless the script ended with Close, Reset,
// ExpectEOF, Anything or a refused handshake. A connection beyond the
// scripts given fails the test too.
//
// No step relies on a sleep for ordering: the server answers only after
// reading the client's line. The package uses the standard library only
// and knows nothing of any client, so that a client package's own tests
// can use it.
package smtptest

import (
	"crypto/tls"
	"fmt"
	"regexp"
	"strings"
	"time"
)

type stepKind int

const (
	stExpect      stepKind = iota // read one line, compare with data
	stExpectRaw                   // read len(data) bytes, compare
	stExpectData                  // read up to and including "\r\n.\r\n", compare
	stSend                        // one Write of data
	stSleep                       // sleep dur
	stDrip                        // write data one byte at a time, dur apart
	stSendForever                 // write data again and again until the client goes
	stClose                       // close the connection
	stReset                       // close with RST
	stTLS                         // TLS server handshake with cert; must succeed
	stTLSFail                     // TLS server handshake with cert; client must refuse
	stReadRaw                     // read n raw bytes, uninterpreted
	stExpectEOF                   // the client must close without sending anything
	stAnything                    // read and record whatever comes until EOF
	stFunc                        // run fn
	stExpectMatch                 // read one line, match it with re
)

// Step is one step of a script, made by C, S and the other functions of
// this package.
type Step struct {
	kind stepKind
	data []byte
	dur  time.Duration
	n    int
	cert *tls.Certificate
	fn   func(*Conn) error
	re   *regexp.Regexp
	note string
}

// String describes the step as failures quote it.
func (s Step) String() string {
	switch s.kind {
	case stExpect:
		return fmt.Sprintf("expect %q", s.data)
	case stExpectRaw:
		return fmt.Sprintf("expectRaw %q", s.data)
	case stExpectData:
		return fmt.Sprintf("expectData %q", clip(s.data, 200))
	case stSend:
		return fmt.Sprintf("send %q", clip(s.data, 80))
	case stSleep:
		return fmt.Sprintf("sleep %s", s.dur)
	case stDrip:
		return fmt.Sprintf("drip %q", s.data)
	case stSendForever:
		return fmt.Sprintf("sendForever %q", clip(s.data, 80))
	case stClose:
		return "close"
	case stReset:
		return "reset"
	case stTLS:
		return "startTLS"
	case stTLSFail:
		return "startTLS (client must refuse)"
	case stReadRaw:
		return fmt.Sprintf("readRaw %d", s.n)
	case stExpectEOF:
		return "expectEOF"
	case stAnything:
		return "anything"
	case stFunc:
		return "func " + s.note
	case stExpectMatch:
		return fmt.Sprintf("expect /%v/", s.re)
	}
	return fmt.Sprintf("step(%d)", int(s.kind))
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return append(append([]byte(nil), b[:n]...), "…"...)
	}
	return b
}

// C expects the client line l followed by CRLF, exactly.
func C(l string) Step { return Step{kind: stExpect, data: []byte(l + "\r\n")} }

// CMatch expects one client line ending in CRLF that re matches, CRLF
// left out: for a line the test cannot know byte for byte (a host name,
// a random token). It is as strict as C about everything else.
func CMatch(re *regexp.Regexp) Step { return Step{kind: stExpectMatch, re: re} }

// CRaw expects exactly these bytes.
func CRaw(b string) Step { return Step{kind: stExpectRaw, data: []byte(b)} }

// CData expects a whole DATA payload, its terminating ".\r\n" included.
func CData(payload string) Step { return Step{kind: stExpectData, data: []byte(payload)} }

// S sends the reply lines, each followed by CRLF, in one Write.
func S(lines ...string) Step {
	return Step{kind: stSend, data: []byte(strings.Join(lines, "\r\n") + "\r\n")}
}

// SRaw sends exactly these bytes in one Write.
func SRaw(b string) Step { return Step{kind: stSend, data: []byte(b)} }

// Sleep pauses the script, to shape timing, never for correctness.
func Sleep(d time.Duration) Step { return Step{kind: stSleep, dur: d} }

// Drip writes b one byte at a time, every d; a client that gives up ends
// the script without failing it.
func Drip(b string, d time.Duration) Step { return Step{kind: stDrip, data: []byte(b), dur: d} }

// SendForever writes b again and again until the client closes.
func SendForever(b string) Step { return Step{kind: stSendForever, data: []byte(b)} }

// Close hangs up (FIN). Nothing the client sends afterwards is checked.
func Close() Step { return Step{kind: stClose} }

// Reset hangs up with RST.
func Reset() Step { return Step{kind: stReset} }

// StartTLS switches the connection to TLS with cert; the handshake must
// succeed.
func StartTLS(cert tls.Certificate) Step { return Step{kind: stTLS, cert: &cert} }

// TLSRefused runs a TLS handshake with cert that the client must refuse;
// nothing but a TLS alert may follow it.
func TLSRefused(cert tls.Certificate) Step { return Step{kind: stTLSFail, cert: &cert} }

// ReadRaw reads n bytes without looking at them (a TLS record header);
// Conn.RawRead returns them.
func ReadRaw(n int) Step { return Step{kind: stReadRaw, n: n} }

// ExpectEOF requires the client to close without sending anything more.
func ExpectEOF() Step { return Step{kind: stExpectEOF} }

// Anything records whatever the client sends until it closes.
func Anything() Step { return Step{kind: stAnything} }

// Do runs fn as a step; an error it returns fails the test and ends the
// script. note names the step in failures.
func Do(note string, fn func(*Conn) error) Step {
	return Step{kind: stFunc, fn: fn, note: note}
}

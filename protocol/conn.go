package protocol

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Limits of the reply reader. MaxLine is smtplib's _MAXLINE: a reply line of
// exactly 8192 bytes including its line ending is accepted, one byte more is
// an error. smtplib has no cap per reply; ehlo adds one so that a server
// that never stops sending continuation lines cannot exhaust memory.
const (
	MaxLine        = 8192
	MaxReplyLines  = 1000
	MaxReplyBytes  = 1 << 20
	MaxChallenge   = 5 // smtplib's _MAXCHALLENGE: AUTH 334 rounds before giving up
	CRLF           = "\r\n"
	DefaultTimeout = 30 * time.Second
	SMTPPort       = 25
	SMTPSSLPort    = 465
	LMTPPort       = 2003
)

// send writes b to the server after the unsolicited-data check, tracing it
// with the given secret spans. It is the only path by which command bytes
// reach the connection.
func (c *Client) send(b []byte, secrets []Span) error {
	if c.conn == nil {
		return &ServerDisconnectedError{Msg: "not connected"}
	}
	if err := c.checkUnsolicited(); err != nil {
		return err
	}
	return c.write(b, secrets)
}

// write puts b on the wire with a write deadline and traces what was
// written, after the write returned, with the count actually written.
//
// The deadline is the write-side rule: each write (a command, at most
// 64 KiB of DATA, or one BDAT chunk of at most 256 KiB) must be taken
// within Timeout, so a server that stops reading fails the send after
// Timeout; until the message is written, DataTimeout (when set) also
// bounds the whole of it. A write that fails closes the connection, so a
// message cut short is never ended with its "." or BDAT LAST (the
// DataEncoder writes nothing more once a write failed).
func (c *Client) write(b []byte, secrets []Span) error {
	if c.conn == nil {
		return &ServerDisconnectedError{Msg: "not connected"}
	}
	deadline, overall := c.deadline()
	if c.stage(b, secrets, deadline, overall) {
		return nil
	}
	_ = c.conn.SetWriteDeadline(deadline)
	n, err := c.conn.Write(b)
	if n > 0 {
		c.wroteAt = c.now()
		c.trace(Event{Kind: EventSend, Time: c.wroteAt, Data: b[:n], Secrets: clipSpans(secrets, n), TLS: c.tlsOn})
	}
	if err != nil {
		msg := c.writeFailure(err, overall)
		c.closeConn()
		return &ServerDisconnectedError{Msg: msg, Err: err}
	}
	return nil
}

// stager is a connection that can write a command from inside the read
// of its reply, saving the read a try that must find nothing (rawSocket).
type stager interface {
	stageWrite(p []byte, deadline time.Time, done func(n int, err error)) bool
}

// stagedCmd is a command handed to the connection to write from inside
// the read of its reply (Client.stage).
type stagedCmd struct {
	b       []byte
	secrets []Span
	overall bool
	err     error // why it was not written, for GetReply to return
	done    func(n int, err error)
}

// stage hands b to the connection to write at the start of the reply's
// read, when the caller reads the reply next (Docmd) and nothing else is
// awaited. The command is traced as soon as it is written, as write
// traces it; a failed write is GetReply's error, as it would have been
// write's.
func (c *Client) stage(b []byte, secrets []Span, deadline time.Time, overall bool) bool {
	st, ok := c.conn.(stager)
	if !ok || !c.replyNext || c.pipelined > 0 || c.dropAt > 0 {
		return false
	}
	if c.staged.done == nil {
		c.staged.done = c.stagedWritten
	}
	c.staged.b, c.staged.secrets, c.staged.overall, c.staged.err = b, secrets, overall, nil
	return st.stageWrite(b, deadline, c.staged.done)
}

// stagedWritten is told by the connection what it wrote of the staged
// command. It does not close the connection: it runs inside a read, and
// GetReply closes it when the read fails.
func (c *Client) stagedWritten(n int, err error) {
	b, secrets := c.staged.b, c.staged.secrets
	c.staged.b, c.staged.secrets = nil, nil
	if n > 0 {
		c.trace(Event{Kind: EventSend, Data: b[:n], Secrets: clipSpans(secrets, n), TLS: c.tlsOn})
	}
	if err != nil {
		c.staged.err = &ServerDisconnectedError{Msg: c.writeFailure(err, c.staged.overall), Err: err}
	}
}

// readFailed closes the connection after a read failed with err, and
// says why: the staged command's write, when that is what failed.
func (c *Client) readFailed(err error) error {
	c.closeConn()
	if serr := c.staged.err; serr != nil {
		c.staged.err = nil
		return serr
	}
	return err
}

// armDataDeadline starts the clock of Options.DataTimeout: the message
// that follows must be written by then.
func (c *Client) armDataDeadline() {
	c.dataDeadline = time.Time{}
	if c.opts.DataTimeout > 0 {
		c.dataDeadline = time.Now().Add(c.opts.DataTimeout)
	}
}

// messageWritten stops the clock once the "." or BDAT LAST is written: the
// reply that follows may take Timeout, as every reply may, because giving
// up on it would leave a message that may have been delivered looking
// failed.
func (c *Client) messageWritten() { c.dataDeadline = time.Time{} }

// deadline is the deadline of the next write or reply: Timeout from now,
// or sooner when the message being written must be done by then (overall).
// A BDAT chunk's reply counts as part of writing the message, so a server
// that answers each chunk just within Timeout cannot stretch it either.
func (c *Client) deadline() (d time.Time, overall bool) {
	return c.deadlineFrom(time.Now())
}

// deadlineFrom is deadline for a wait that began at start.
func (c *Client) deadlineFrom(start time.Time) (d time.Time, overall bool) {
	d = start.Add(c.opts.Timeout)
	if c.state.Phase == PhaseData && !c.dataDeadline.IsZero() && c.dataDeadline.Before(d) {
		return c.dataDeadline, true
	}
	return d, false
}

// dataTimedOut says the data timeout has run out for the message being
// written.
func (c *Client) dataTimedOut() bool {
	return c.state.Phase == PhaseData && !c.dataDeadline.IsZero() && !time.Now().Before(c.dataDeadline)
}

func (c *Client) dataTimeoutMsg() string {
	return fmt.Sprintf("message not written within the data timeout (%s); connection closed, message not sent", c.opts.DataTimeout)
}

// writeFailure says why a write failed: which time limit ran out, when one
// did.
func (c *Client) writeFailure(err error, overall bool) string {
	var ne net.Error
	switch {
	case !errors.As(err, &ne) || !ne.Timeout():
		return "server not connected"
	case overall:
		return c.dataTimeoutMsg()
	case c.state.Phase == PhaseData:
		return fmt.Sprintf("the server took no message data for %s; connection closed, message not sent", c.opts.Timeout)
	}
	return fmt.Sprintf("the server took no data for %s; connection closed", c.opts.Timeout)
}

func clipSpans(spans []Span, n int) []Span {
	if len(spans) == 0 {
		return nil
	}
	out := make([]Span, 0, len(spans))
	for _, s := range spans {
		if s.Start >= n {
			continue
		}
		if s.End > n {
			s.End = n
		}
		out = append(out, s)
	}
	return out
}

// checkUnsolicited refuses to write a command while the server has sent
// bytes nobody asked for: smtplib would take them as the reply to the next
// command and desynchronise (security-anchors F15, F16). A buffered 421 is
// the server shutting down; anything else is a protocol violation. Either
// way the connection is closed.
func (c *Client) checkUnsolicited() error {
	if c.br == nil || c.br.Buffered() == 0 || c.pipelined > 0 {
		return nil
	}
	pending, _ := c.br.Peek(c.br.Buffered())
	pending = append([]byte(nil), pending...)
	c.note(fmt.Sprintf("server sent %d bytes before the client's command: %s", len(pending), preview(pending, 64)))
	if len(pending) >= 4 && bytes.HasPrefix(pending, []byte("421")) {
		r, err := c.GetReply()
		if err == nil {
			c.closeConn()
			return &ResponseError{Code: r.Code, Message: r.Message}
		}
	}
	c.closeConn()
	return &ProtocolError{Msg: "server sent data before the client's command", Line: pending}
}

// drop counts a reply down to the one Debugger.DropAtReply named, and
// closes the connection in its place.
func (c *Client) drop() bool {
	if c.dropAt--; c.dropAt > 0 {
		return false
	}
	c.closeConn()
	return true
}

// GetReply reads one reply, multi-line or not, under one deadline for the
// whole reply: a server that drips a byte a second cannot stretch it.
//
// The grammar is RFC 5321's, strictly: three digits, the first 2 to 5 and the
// second 0 to 5; then '-', a space or the end of the line; every line of a
// reply carries the same code. A code alone ("250") is accepted, as the RFC
// asks. A bare LF line ending is accepted and noted. Anything else is a
// ProtocolError and the connection is closed, because what follows a
// malformed line cannot be trusted (smtplib desynchronises instead).
func (c *Client) GetReply() (Reply, error) {
	if c.conn == nil || c.br == nil {
		return Reply{}, &ServerDisconnectedError{Msg: "not connected"}
	}
	if c.dropAt > 0 && c.drop() {
		return Reply{}, ErrDropped
	}
	// Right after a command the time it was written is the time the
	// wait began (microseconds ago): a clock read saved on every reply.
	start := c.wroteAt
	if start.IsZero() {
		start = time.Now()
	}
	c.wroteAt = time.Time{}
	// The deadline is left set after the reply: every reader of the
	// connection (GetReply, the idle watch, the TLS handshake) sets its
	// own first, and clearing it would cost a call a reply.
	deadline, _ := c.deadlineFrom(start)
	_ = c.conn.SetReadDeadline(deadline)
	var (
		buf   [4]string // most replies have a line or a few: no allocation
		texts = buf[:0]
		code  int
		total int
		lines int
		bare  bool
	)
	for {
		line, err := c.readLine()
		if len(line) > 0 {
			c.trace(Event{Kind: EventRecv, Data: line, TLS: c.tlsOn})
			if c.debugLevel > 0 {
				c.debugf("reply: %s", pyRepr(line, true))
			}
		}
		if err != nil {
			// Closed only now, so that the partial line is traced before
			// the close: a wire log must show the server's last bytes first.
			return Reply{}, c.readFailed(err)
		}
		lines++
		total += len(line)
		if lines > MaxReplyLines || total > MaxReplyBytes {
			c.closeConn()
			return Reply{}, &ProtocolError{Msg: fmt.Sprintf("reply exceeds %d lines or %d bytes", MaxReplyLines, MaxReplyBytes)}
		}
		lc, sep, text, perr := parseReplyLine(line)
		if perr != nil {
			c.closeConn()
			return Reply{}, perr
		}
		if lines > 1 && lc != code {
			c.closeConn()
			return Reply{}, &ProtocolError{Msg: fmt.Sprintf("inconsistent reply codes (%d, %d)", code, lc), Line: bytes.Clone(line)}
		}
		code = lc
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			bare = true
		}
		texts = append(texts, c.replyTexts.text(text))
		if sep != '-' {
			break
		}
	}
	if bare {
		c.note("reply line ended with a bare LF instead of CRLF")
	}
	msg := joinLines(texts)
	if c.debugLevel > 0 {
		c.debugf("reply: retcode (%d); Msg: %s", code, pyRepr([]byte(msg), true))
	}
	return Reply{Code: code, Message: msg}, nil
}

// replyTexts are the texts of recent reply lines. A load run reads the
// same few replies thousands of times ("2.1.0 Ok"); each is made a string
// once, not once a reply.
type replyTexts struct {
	s    [8]string
	next int
}

// text returns b as a string, the one kept if it is among the recent.
func (r *replyTexts) text(b []byte) string {
	for _, s := range r.s {
		if s == string(b) { // compared in place, not converted
			return s
		}
	}
	s := string(b)
	r.s[r.next] = s
	r.next = (r.next + 1) % len(r.s)
	return s
}

func joinLines(texts []string) string {
	if len(texts) == 1 {
		return texts[0]
	}
	n := len(texts) - 1
	for _, t := range texts {
		n += len(t)
	}
	b := make([]byte, 0, n)
	for i, t := range texts {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, t...)
	}
	return string(b)
}

// parseReplyLine splits one reply line into its code, separator ('-', ' '
// or 0 for a code alone) and text (trimmed of spaces, tabs, CR and LF at
// both ends, as smtplib trims it; a part of line).
func parseReplyLine(line []byte) (code int, sep byte, text []byte, err error) {
	body := line
	body = bytes.TrimSuffix(body, []byte("\n"))
	body = bytes.TrimSuffix(body, []byte("\r"))
	if len(body) < 3 {
		return 0, 0, nil, &ProtocolError{Msg: fmt.Sprintf("reply line too short for a reply code: %s", preview(line, 40)), Line: bytes.Clone(line)}
	}
	d0, d1, d2 := body[0], body[1], body[2]
	if d0 < '2' || d0 > '5' || d1 < '0' || d1 > '5' || d2 < '0' || d2 > '9' {
		return 0, 0, nil, &ProtocolError{Msg: fmt.Sprintf("malformed reply code in %s", preview(line, 40)), Line: bytes.Clone(line)}
	}
	code = int(d0-'0')*100 + int(d1-'0')*10 + int(d2-'0')
	if len(body) == 3 {
		return code, 0, nil, nil
	}
	sep = body[3]
	if sep != '-' && sep != ' ' {
		return 0, 0, nil, &ProtocolError{Msg: fmt.Sprintf("unexpected %s after reply code %d", preview([]byte{sep}, 8), code), Line: bytes.Clone(line)}
	}
	return code, sep, bytes.Trim(body[4:], " \t\r\n"), nil
}

// readLine reads up to and including '\n', with a hard cap of MaxLine
// bytes. It never allocates more than the cap, whatever the server sends.
// A line that is whole in the buffer is returned in place, without a
// copy: it is valid until the next read, and GetReply is done with it by
// then (a Tracer copies what it keeps).
func (c *Client) readLine() ([]byte, error) {
	frag, err := c.br.ReadSlice('\n')
	if err == nil && len(frag) <= MaxLine {
		return frag, nil
	}
	return c.readRest(nil, frag, err)
}

// readRest is readLine for a line that is not whole in the buffer: the
// fragments are copied onto line as they come.
func (c *Client) readRest(line, frag []byte, err error) ([]byte, error) {
	for {
		if len(line)+len(frag) > MaxLine {
			seen := len(line) + len(frag)
			c.closeConn()
			c.note(fmt.Sprintf("reply line longer than %d bytes (%d+ bytes seen), starting %s", MaxLine, seen, preview(append(line, frag...), 80)))
			return nil, &ResponseError{Code: 500, Message: "Line too long"}
		}
		line = append(line, frag...)
		if err == nil {
			return line, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			frag, err = c.br.ReadSlice('\n')
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				return line, &ServerDisconnectedError{Msg: "connection unexpectedly closed in the middle of a reply", Err: io.ErrUnexpectedEOF}
			}
			return nil, &ServerDisconnectedError{Msg: "connection unexpectedly closed", Err: err}
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if c.dataTimedOut() {
				return line, &ServerDisconnectedError{Msg: c.dataTimeoutMsg(), Err: err}
			}
			return line, &ServerDisconnectedError{Msg: fmt.Sprintf("connection unexpectedly closed: no reply within %s", c.opts.Timeout), Err: err}
		}
		return line, &ServerDisconnectedError{Msg: "connection unexpectedly closed: " + err.Error(), Err: err}
	}
}

// preview renders at most n bytes of b with controls escaped, for error
// messages and notes.
func preview(b []byte, n int) string {
	more := ""
	if len(b) > n {
		b = b[:n]
		more = "…"
	}
	return escapeBytes(b) + more
}

// escapeBytes shows b as Go-quoted text without the quotes: printable ASCII
// as is, everything else escaped, so no server byte reaches a terminal raw.
func escapeBytes(b []byte) string {
	var out []byte
	for _, ch := range b {
		switch {
		case ch == '\\':
			out = append(out, '\\', '\\')
		case ch == '\r':
			out = append(out, '\\', 'r')
		case ch == '\n':
			out = append(out, '\\', 'n')
		case ch == '\t':
			out = append(out, '\\', 't')
		case ch >= 0x20 && ch < 0x7f:
			out = append(out, ch)
		default:
			out = append(out, fmt.Sprintf("\\x%02x", ch)...)
		}
	}
	return string(out)
}

// TLSVersionName names a TLS version as OpenSSL and swaks write it
// ("TLSv1.3"), or as crypto/tls names one it does not know ("SSLv3",
// "0x0305").
func TLSVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return tls.VersionName(v)
}

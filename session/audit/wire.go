package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// reply is one server reply as the audit reads it: enough to judge a
// probe, with the exact lines kept for the evidence.
type reply struct {
	Code  int
	Lines []string // the text after "CODE-" or "CODE ", one per line
}

// enhanced is the reply's RFC 3463 code ("5.7.0"), "" when it has none.
func (r reply) enhanced() string {
	return protocol.Reply{Code: r.Code, Message: r.text()}.Enhanced()
}

// wantsAuth says the server refused for want of authentication: 530, or
// an enhanced code of the security class (5.7.x, RFC 3463 §3.8).
func (r reply) wantsAuth() bool {
	return r.Code == 530 || strings.HasPrefix(r.enhanced(), "5.7.") || strings.HasPrefix(r.enhanced(), "4.7.")
}

func (r reply) text() string {
	var b bytes.Buffer
	for i, l := range r.Lines {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return b.String()
}

// errNoReply is what a read that hit the probe's deadline returns.
var errNoReply = errors.New("no reply before the timeout")

// wire is one probe connection. It writes bytes exactly as the probe
// gives them, because several probes exist to send what protocol.Client
// refuses to send (two commands in one write, a bare LF before a dot, a
// command before the greeting). Every byte both ways goes to the tracer
// (the recording) and, escaped, to the transcript the evidence is taken
// from.
type wire struct {
	conn     net.Conn
	raw      net.Conn // under any TLS
	br       *bufio.Reader
	tls      bool
	deadline time.Time
	tracer   protocol.Tracer
	onClose  func()   // ends the recording and the connection's timeout
	lines    []string // "C: …", "S: …", "* …", escaped
}

// dial connects to the target under ctx's deadline. With implicit TLS the
// handshake happens here.
func dial(ctx context.Context, t Target, tracer protocol.Tracer, tlsCfg *tls.Config) (*wire, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(DefaultProbeTimeout)
	}
	w := &wire{deadline: dl, tracer: tracer}
	w.trace(protocol.Event{Kind: protocol.EventConnect, Network: t.Network, Addr: t.Addr})
	d := net.Dialer{Deadline: dl}
	c, err := d.DialContext(ctx, t.Network, t.Addr)
	if err != nil {
		w.note("connect failed: " + err.Error())
		return w, &UnreachableError{Target: t.Display, Err: err}
	}
	_ = c.SetDeadline(dl)
	// Ctrl+C ends the read or write under way now, not at the deadline.
	// ctx ends with the connection too (onClose), so this never outlives it.
	context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	w.conn, w.raw = c, c
	w.br = bufio.NewReaderSize(c, 16<<10)
	w.observe("connected to " + t.Addr)
	if t.ImplicitTLS {
		if _, err := w.handshake(tlsCfg); err != nil {
			return w, err
		}
	}
	return w, nil
}

// UnreachableError says the server could not be reached at all: exit
// status 2 rather than a failed finding.
type UnreachableError struct {
	Target string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s: %v", e.Target, e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

func (w *wire) trace(e protocol.Event) {
	if w.tracer == nil {
		return
	}
	e.Time = time.Now()
	w.tracer.Trace(e)
}

func (w *wire) note(s string) {
	w.lines = append(w.lines, "* "+session.SanitizeText(s))
	w.trace(protocol.Event{Kind: protocol.EventNote, Text: s})
}

// observe adds to the evidence what the recording already shows in its
// own form (a TLS handshake), so that replay does not print it twice.
func (w *wire) observe(s string) {
	w.lines = append(w.lines, "* "+session.SanitizeText(s))
}

// mark and since cut the evidence of one exchange out of the transcript.
func (w *wire) mark() int { return len(w.lines) }

func (w *wire) since(m int) []string {
	return append([]string(nil), w.lines[min(m, len(w.lines)):]...)
}

// write sends b as one write, exactly.
func (w *wire) write(b []byte) error {
	if w.conn == nil {
		return net.ErrClosed
	}
	_, err := w.conn.Write(b)
	for _, l := range splitKeep(b) {
		w.lines = append(w.lines, "C: "+session.Sanitize(l))
	}
	w.trace(protocol.Event{Kind: protocol.EventSend, Data: b, TLS: w.tls})
	if err != nil {
		w.note("write failed: " + err.Error())
	}
	return err
}

// splitKeep splits b after each LF, keeping the line ends so that the
// evidence shows a bare LF as "\n" and a CRLF as "\r\n".
func splitKeep(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return append(out, b)
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

// cmd writes one command line and reads its reply.
func (w *wire) cmd(line string) (reply, error) {
	if err := w.write([]byte(line + "\r\n")); err != nil {
		return reply{}, err
	}
	return w.read()
}

// read reads one reply under the probe's deadline, with protocol's line
// and size limits.
func (w *wire) read() (reply, error) {
	if w.conn == nil {
		return reply{}, net.ErrClosed
	}
	var r reply
	total := 0
	for n := 0; n < protocol.MaxReplyLines; n++ {
		line, err := w.readLine()
		if err != nil {
			return r, err
		}
		total += len(line)
		code, last, text, err := parseLine(line)
		if err != nil {
			w.note(err.Error())
			return r, err
		}
		if r.Lines != nil && code != r.Code {
			err := fmt.Errorf("reply code changed from %d to %d inside one reply", r.Code, code)
			w.note(err.Error())
			return r, err
		}
		r.Code = code
		r.Lines = append(r.Lines, text)
		if last {
			return r, nil
		}
		if total > protocol.MaxReplyBytes {
			break
		}
	}
	err := errors.New("reply too long")
	w.note(err.Error())
	return r, err
}

func (w *wire) readLine() ([]byte, error) {
	var line []byte
	for {
		frag, err := w.br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > protocol.MaxLine {
			w.note("reply line longer than " + strconv.Itoa(protocol.MaxLine) + " bytes")
			return nil, errors.New("reply line too long")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if len(line) > 0 {
			w.lines = append(w.lines, "S: "+session.Sanitize(line))
			w.trace(protocol.Event{Kind: protocol.EventRecv, Data: line, TLS: w.tls})
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				w.note("no reply before the timeout")
				return nil, errNoReply
			}
			w.note("connection closed by the server")
			return nil, err
		}
		return line, nil
	}
}

// parseLine splits "250-text\r\n" into its code, whether it is the last
// line, and the text. The audit is lenient on the line end (a server's
// bare LF is its own finding elsewhere) but strict on the code.
func parseLine(line []byte) (code int, last bool, text string, err error) {
	s := string(bytes.TrimRight(line, "\r\n"))
	if len(s) < 3 {
		return 0, false, "", fmt.Errorf("malformed reply line %q", s)
	}
	code, err = strconv.Atoi(s[:3])
	if err != nil || code < 200 || code > 599 || s[0] == '+' {
		return 0, false, "", fmt.Errorf("malformed reply code in %q", s)
	}
	if len(s) == 3 {
		return code, true, "", nil
	}
	switch s[3] {
	case ' ':
		return code, true, s[4:], nil
	case '-':
		return code, false, s[4:], nil
	}
	return 0, false, "", fmt.Errorf("malformed reply separator in %q", s)
}

// handshake starts TLS on the connection (after a 220 to STARTTLS, or at
// once for implicit TLS). Bytes the server sent before its ServerHello and
// that the reader already holds are reported, then discarded.
func (w *wire) handshake(cfg *tls.Config) (tls.ConnectionState, error) {
	if n := w.br.Buffered(); n > 0 {
		b, _ := w.br.Peek(n)
		w.note(fmt.Sprintf("discarded %d plaintext bytes received before TLS: %s", n, session.Sanitize(b)))
	}
	tc := tls.Client(w.raw, cfg)
	err := tc.Handshake()
	var st tls.ConnectionState
	if err == nil {
		st = tc.ConnectionState()
	}
	if err != nil {
		w.trace(protocol.Event{Kind: protocol.EventTLS, TLSErr: err})
		w.observe("TLS handshake failed: " + err.Error())
		// Nothing more can be said on this connection, not even QUIT.
		w.close()
		return st, err
	}
	w.trace(protocol.Event{Kind: protocol.EventTLS, TLSState: &st})
	w.observe(fmt.Sprintf("TLS established: %s, %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)))
	w.conn, w.tls = tc, true
	w.br = bufio.NewReaderSize(tc, 16<<10)
	return st, nil
}

func (w *wire) close() {
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
		w.trace(protocol.Event{Kind: protocol.EventClose})
	}
	if w.onClose != nil {
		w.onClose()
		w.onClose = nil
	}
}

// quit ends the conversation politely, bounded by the deadline.
func (w *wire) quit() {
	if w.conn != nil {
		_, _ = w.cmd("QUIT")
	}
	w.close()
}

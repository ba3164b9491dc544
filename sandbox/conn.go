package sandbox

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// maxCommandLine is generous on purpose: RFC 5321 §4.5.3.1.4 sets 512
	// octets for a command line, but RFC 4954 §4 lets AUTH lines reach
	// 12288, and a practice server should reject only what is absurd.
	maxCommandLine = 16 << 10
	// maxErrors plays Postfix's smtpd_hard_error_limit: a client that
	// keeps sending garbage (a binary protocol on the wrong port) is shown
	// the door with a 421 instead of an endless stream of 500s. It is
	// above Postfix's 20 so a class making mistakes by hand is not cut off.
	maxErrors = 50
	// readBuffer holds many pipelined commands and whole DATA lines.
	readBuffer = 64 << 10
)

// errClose ends a session: after QUIT, a 421, a drop fault, a failed TLS
// handshake or a lost connection.
var errClose = errors.New("session closed")

var errLineTooLong = errors.New("line too long")

// deadlineConn bounds the client's requests by ReadTimeout (d). A request
// is a line, command or message content, or a BDAT chunk: it must arrive
// whole within d of its first read (the first read after the request
// before it), and content earns a second more for every minDataRate
// octets that arrive, so a long line or a big chunk at a steady rate goes
// on. A per-read timeout would let a client that sends a byte at a time
// hold a session, and with 256 of them the whole server, for as long as
// it likes. A line at a time is Exim's smtp_receive_timeout, kind to a
// student typing a message in telnet; the rate is Postfix's
// smtpd_min_data_rate. A write, which only a reply makes, is bounded by d
// on its own.
//
// A deadline is renewed only when it has aged by more than a fraction of
// the timeout (deadlineSlack): setting one updates a timer in the runtime,
// about 0.6 µs, on every command otherwise. A renewed deadline is set
// that fraction further out, so a request is bounded by at least d and
// at most d plus d/deadlineSlack. Every other deadline on the session
// (the busy 421, the TLS handshake, the pregreet pause) is set through
// SetDeadline and friends here: an explicit deadline is kept as given
// until it is cleared with the zero time, and clearing it makes the next
// read or write renew, so the cached deadline is never stale.
type deadlineConn struct {
	net.Conn
	d            time.Duration
	rdAt, wrAt   time.Time // the deadlines set by renewal; zero forces one
	pinRd, pinWr bool      // an explicit deadline is in force

	// The request being read: begun once its first read has renewed
	// the deadline; content earns time from its first read, at
	// minDataRate, for the got octets since.
	begun, content bool
	from           time.Time
	got            int64
}

// deadlineSlack: a deadline is renewed once it is d/deadlineSlack old.
const deadlineSlack = 8

// minDataRate is the slowest message content, in octets a second, that
// may go on past ReadTimeout (Postfix's smtpd_min_data_rate default).
const minDataRate = 500

// request starts a new request: its clock starts at its first read, so
// a line already buffered costs nothing. content says it is message
// content, which earns time at minDataRate.
func (c *deadlineConn) request(content bool) {
	c.begun, c.content = false, content
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if !c.begun || c.rdAt.IsZero() {
		c.begin()
	}
	n, err := c.Conn.Read(p)
	if c.content && n > 0 {
		c.earn(n)
	}
	return n, err
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.renewWrite()
	return c.Conn.Write(p)
}

// begin renews the read deadline for a request's first read; the reads
// after it, until the next request, are bounded by that deadline.
func (c *deadlineConn) begin() {
	c.begun = true
	now := time.Now()
	if c.content {
		c.from, c.got = now, 0
	}
	if c.pinRd {
		return
	}
	if c.rdAt.Sub(now) < c.d {
		c.rdAt = now.Add(c.d + c.d/deadlineSlack)
		_ = c.Conn.SetReadDeadline(c.rdAt)
	}
}

// earn moves the deadline of message content out by the time n more
// octets have earned, once that is worth a new deadline.
func (c *deadlineConn) earn(n int) {
	c.got += int64(n)
	if c.pinRd || c.from.IsZero() {
		return
	}
	at := c.from.Add(c.d + time.Duration(min(c.got, 1<<40))*(time.Second/minDataRate))
	if at.Sub(c.rdAt) > c.d/deadlineSlack {
		c.rdAt = at
		_ = c.Conn.SetReadDeadline(at)
	}
}

func (c *deadlineConn) renewWrite() {
	if c.pinWr {
		return
	}
	if now := time.Now(); c.wrAt.Sub(now) < c.d {
		c.wrAt = now.Add(c.d + c.d/deadlineSlack)
		_ = c.Conn.SetWriteDeadline(c.wrAt)
	}
}

// SetReadDeadline sets an explicit read deadline; the zero time hands the
// read side back to renewal.
func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.pinRd, c.rdAt = !t.IsZero(), time.Time{}
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline is SetReadDeadline for the write side.
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.pinWr, c.wrAt = !t.IsZero(), time.Time{}
	return c.Conn.SetWriteDeadline(t)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.pinRd, c.pinWr, c.rdAt, c.wrAt = !t.IsZero(), !t.IsZero(), time.Time{}, time.Time{}
	return c.Conn.SetDeadline(t)
}

// conn is one client session: the state machine of RFC 5321 §4.1.4 (or
// RFC 2033 in LMTP mode) over a buffered reader, so pipelined commands
// (RFC 2920) are read in order and answered in order.
type conn struct {
	srv      *Server
	cfg      *Config
	id       string
	raw      *deadlineConn // the accepted connection: set every deadline here
	r        *bufio.Reader
	w        *bufio.Writer
	implicit bool
	why      string // why the session ended, for the log

	tls      bool
	helo     string
	esmtp    bool // EHLO or LHLO accepted: enhanced status codes are on (RFC 2034)
	authUser string
	errors   int
	mute     bool // a silent fault fired: read and discard, never answer
	swallow  bool // pipeline-short: the current command gets no reply
	msgs     int

	// The mail transaction (RFC 5321 §3.3).
	inTxn     bool
	from      string
	params    []string
	body      string // BODY= value, upper case
	utf8      bool   // SMTPUTF8 given
	rcpts     []string
	rcptTried bool      // some RCPT was attempted, accepted or not
	bdat      bool      // BDAT started the content
	chunkBig  bool      // a chunk took the message over MaxMessageBytes
	chunkFull bool      // a chunk did not fit in the shared buffer
	data      []byte    // the content so far (buffer.go)
	out       []byte    // render's buffer for a reply without faults, reused
	outArr    [512]byte // out's first backing array: no allocation per connection
	authFails int

	tlsVersion string      // "TLS 1.3", once TLS is up
	rcptArg    string      // the RCPT being answered, for rcptLog
	rcptLog    []Recipient // every RCPT of the transaction and its reply

	// The workshop's room (room.go): this session's record, and which
	// run-time faults c.cfg holds. nil and zero outside a room.
	sess       *record
	faultGen   uint64
	faultUser  string
	faultSpecs string

	replay *replaying // replay --serve: the recorded connection played; nil in the sandbox
}

// The read and write buffers are pooled: a connection per message, as
// smtp-source and load tests do it, would otherwise allocate 72 KiB each.
var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBuffer) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}
)

func (s *Server) newConn(nc net.Conn, implicit bool) *conn {
	dc := &deadlineConn{Conn: nc, d: s.cfg.ReadTimeout}
	r, w := readers.Get().(*bufio.Reader), writers.Get().(*bufio.Writer)
	r.Reset(dc)
	w.Reset(dc)
	n := s.nextID.Add(1)
	c := &conn{
		srv:      s,
		cfg:      &s.cfg,
		id:       "s" + strconv.FormatInt(n, 10),
		raw:      dc,
		r:        r,
		w:        w,
		implicit: implicit,
	}
	c.out = c.outArr[:0]
	if s.cfg.Script != nil {
		c.replay = newReplaying(s.cfg.Script, n)
		c.implicit = c.replay.run.ImplicitTLS
	}
	if s.room != nil {
		s.room.open(c, uint64(n))
	}
	return c
}

// putBuffers returns the buffers to their pools when the session is over.
func (c *conn) putBuffers() {
	c.r.Reset(nil)
	c.w.Reset(nil)
	readers.Put(c.r)
	writers.Put(c.w)
	c.r, c.w = nil, nil
}

func (c *conn) note(format string, args ...any) {
	c.srv.log.notef(c.id, format, args...)
}

func (c *conn) serve(refuse admission) {
	if c.srv.log.on {
		c.logConnection()
	}
	defer func() {
		_ = c.w.Flush()
		c.raw.Close()
		c.releaseBuffer()
		if c.why == "" {
			c.why = "connection lost"
		}
		if c.srv.log.on {
			c.note("closed: %s", c.why)
		}
		if c.sess != nil {
			c.srv.room.close(c)
		}
		c.putBuffers()
	}()
	if refuse != admitted {
		c.refuse(refuse)
		return
	}
	if c.implicit {
		if c.handshake(c.srv.lim.handshake) != nil {
			return
		}
	}
	if c.greet() != nil {
		return
	}
	for {
		if c.mute {
			c.drain()
			return
		}
		line, err := c.readLine()
		switch {
		case errors.Is(err, errLineTooLong):
			c.srv.log.printf(c.id, "C: %s… (over %d bytes)", escape(line), maxCommandLine)
			if c.reply(StageOther, 500, "5.5.2", "Line too long") != nil {
				return
			}
			continue
		case isTimeout(err):
			c.why = "read timeout"
			_ = c.direct(421, "4.4.2", c.cfg.Hostname+" Error: timeout exceeded")
			return
		case err != nil:
			c.why = "client closed the connection"
			select {
			case <-c.srv.done:
				c.why = "server shut down"
			default:
			}
			return
		}
		if c.dispatch(line) != nil {
			if c.mute {
				// A silent fault fired inside a command (an AUTH
				// challenge): stay connected and say nothing.
				c.drain()
			}
			return
		}
	}
}

// refuse tells a connection the server cannot serve it why, with a 421,
// within busyTimeout, handshake included, whatever the client does: a
// busy server must not wait on it.
func (c *conn) refuse(why admission) {
	_ = c.raw.SetDeadline(time.Now().Add(c.srv.lim.busyTimeout))
	if c.implicit && c.handshake(c.srv.lim.busyTimeout) != nil {
		return
	}
	if why == clientFull {
		// Postfix's words for its smtpd_client_connection_count_limit.
		host, _, _ := net.SplitHostPort(c.raw.RemoteAddr().String())
		c.why = "too many sessions from " + host
		_ = c.direct(421, "4.7.0", c.cfg.Hostname+" Error: too many connections from "+host)
		return
	}
	c.why = "too many sessions"
	_ = c.direct(421, "", c.cfg.Hostname+" Too many connections, try again later")
}

func (c *conn) logConnection() {
	remote := c.raw.RemoteAddr().String()
	if remote == "" || remote == "@" {
		remote = "unix socket " + c.cfg.Socket
	}
	kind := "SMTP"
	if c.cfg.LMTP {
		kind = "LMTP"
	}
	if c.implicit {
		kind += " (implicit TLS)"
	}
	c.note("%s connection from %s", kind, remote)
}

// lost ends a session whose client went away or went quiet in the middle
// of DATA, BDAT or AUTH; a timeout still gets the 421 RFC 5321 §4.5.3.2
// expects.
func (c *conn) lost(err error, during string) error {
	if isTimeout(err) {
		c.why = "read timeout during " + during
		_ = c.direct(421, "4.4.2", c.cfg.Hostname+" Error: timeout exceeded")
		return errClose
	}
	c.why = "connection lost during " + during
	return errClose
}

func isTimeout(err error) bool {
	if err == nil {
		return false // checked on every command line: errors.As would allocate
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// drain swallows everything after a silent fault so the client sees a
// server that is connected but never answers (security-anchors G1, G2).
func (c *conn) drain() {
	_ = c.w.Flush()
	_, _ = io.Copy(io.Discard, c.r)
	c.why = "silent fault; client gone or timed out"
}

func (c *conn) greet() error {
	if c.replay != nil {
		return c.replayGreeting()
	}
	text := c.cfg.Hostname + " " + c.cfg.Banner
	if f, ok := c.fault(FaultPregreet); ok {
		return c.greetGuarded(f, text)
	}
	if !c.hasFault(FaultPremature) {
		return c.reply(StageGreeting, 220, "", text)
	}
	// An unsolicited EHLO reply in the greeting's write (Dovecot's
	// "premature reply", security-anchors F15). The real EHLO is still
	// answered later, so a client that consumed this one desyncs.
	r, closeAfter, err := c.act(StageGreeting, rep{code: 220, lines: []string{text}})
	if err != nil || c.mute {
		return err
	}
	b := append([]byte(nil), c.render(StageGreeting, r)...) // render's bytes last until the next render
	b = append(b, c.render(StageEhlo, rep{code: 250, lines: c.ehloLines("premature")})...)
	c.note("fault premature: greeting and an EHLO reply in one write")
	if err := c.emit(StageGreeting, b); err != nil {
		return err
	}
	if closeAfter {
		return errClose
	}
	return nil
}

func (c *conn) hasFault(k FaultKind) bool {
	_, ok := c.fault(k)
	return ok
}

// faultAt reports whether some fault of kind k applies at stage st.
func (c *conn) faultAt(k FaultKind, st Stage) bool {
	for _, f := range c.cfg.Faults {
		if f.Kind == k && f.applies(st) {
			return true
		}
	}
	return false
}

func (c *conn) fault(k FaultKind) (Fault, bool) {
	for _, f := range c.cfg.Faults {
		if f.Kind == k {
			return f, true
		}
	}
	return Fault{}, false
}

// readLine returns the next command line with its line end. Before it
// may block it flushes pending replies: replies to a pipelined group go
// out together, but never wait for input the client is waiting to send.
func (c *conn) readLine() ([]byte, error) {
	if err := c.flushIfIdle(); err != nil {
		return nil, err
	}
	c.raw.request(false)
	frag, err := c.r.ReadSlice('\n')
	if err == nil && len(frag) <= maxCommandLine {
		// The usual case, a whole line in the buffer: no copy. It is
		// valid until the next read, and every caller is done with it
		// by then.
		return frag, nil
	}
	var line []byte
	tooLong := false
	for {
		if !tooLong {
			line = append(line, frag...)
			if len(line) > maxCommandLine {
				tooLong, line = true, line[:64]
			}
		}
		if err == bufio.ErrBufferFull {
			frag, err = c.r.ReadSlice('\n')
			continue
		}
		if err != nil {
			return nil, err
		}
		if tooLong {
			return line, errLineTooLong
		}
		return line, nil
	}
}

// flushIfIdle writes pending replies unless a complete command is already
// buffered, which is how RFC 2920 §3.1 lets a server batch its replies.
func (c *conn) flushIfIdle() error {
	if c.w.Buffered() == 0 {
		return nil
	}
	if n := c.r.Buffered(); n > 0 {
		if b, _ := c.r.Peek(n); bytes.IndexByte(b, '\n') >= 0 {
			return nil
		}
	}
	return c.w.Flush()
}

func (c *conn) dispatch(raw []byte) error {
	if c.replay != nil {
		return c.replayLine(raw)
	}
	text, eol := trimEOL(raw)
	line := string(text)
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	if c.srv.log.on {
		c.logCommand(verb, arg, text, eol)
	}
	if c.sess != nil {
		c.onCommand(verb, arg, text)
	}
	arg = strings.TrimSpace(arg)
	switch verb {
	case "EHLO", "HELO":
		return c.cmdHello(verb, arg)
	case "LHLO":
		if !c.cfg.LMTP {
			return c.reply(StageEhlo, 500, "5.5.2", "Command unrecognized: LHLO is for LMTP; use EHLO")
		}
		return c.cmdHello(verb, arg)
	case "MAIL":
		return c.cmdMail(arg)
	case "RCPT":
		if c.hasFault(FaultPipelineShort) && c.lastRcptOfGroup() {
			c.swallow = true
			defer func() { c.swallow = false }()
		}
		c.rcptArg = arg
		return c.cmdRcpt(arg)
	case "DATA":
		return c.cmdData(arg)
	case "BDAT":
		return c.cmdBdat(arg)
	case "RSET":
		if arg != "" {
			return c.reply(StageRset, 501, "5.5.4", "Syntax: RSET (no parameters)")
		}
		c.resetTxn()
		return c.reply(StageRset, 250, "2.0.0", "Ok")
	case "NOOP":
		// RFC 5321 §4.1.1.9: a parameter is allowed and ignored.
		return c.reply(StageNoop, 250, "2.0.0", "Ok")
	case "QUIT":
		if arg != "" {
			return c.reply(StageQuit, 501, "5.5.4", "Syntax: QUIT (no parameters)")
		}
		c.why = "client quit"
		if err := c.reply(StageQuit, 221, "2.0.0", c.cfg.Hostname+" Bye"); err != nil {
			return err
		}
		return errClose
	case "VRFY":
		return c.cmdVrfy(arg)
	case "HELP":
		return c.cmdHelp(arg)
	case "STARTTLS":
		return c.cmdStartTLS(arg)
	case "AUTH":
		return c.cmdAuth(arg)
	case "XMAILBOX":
		return c.cmdXMailbox(arg)
	case "EXPN", "TURN", "ETRN", "ATRN", "SEND", "SOML", "SAML", "VERB", "XCLIENT", "XFORWARD":
		// Known verbs this server does not implement: 502, not 500
		// (RFC 5321 §4.2.4).
		return c.reply(StageOther, 502, "5.5.1", verb+" command not implemented")
	default:
		return c.reply(StageOther, 500, "5.5.2", "Command unrecognized")
	}
}

// logCommand logs a command line; of AUTH only the mechanism. Demo
// credentials are public, but a newcomer may type a real password.
func (c *conn) logCommand(verb, arg string, text []byte, eol string) {
	if verb == "AUTH" {
		mech, ir := authMech(arg)
		if ir != "" && ir != "*" {
			ir = "<response hidden>"
		}
		c.srv.log.printf(c.id, "C: AUTH %s", escape([]byte(strings.TrimSpace(mech+" "+ir))))
		return
	}
	c.srv.log.line(c.id, "C: ", text, eol)
}

// lastRcptOfGroup reports whether the RCPT being handled came in a
// pipelined group (an earlier reply of the group is still unsent) and no
// other RCPT follows it in that group.
func (c *conn) lastRcptOfGroup() bool {
	if c.w.Buffered() == 0 {
		return false
	}
	b, _ := c.r.Peek(c.r.Buffered())
	i := bytes.IndexByte(b, '\n')
	return i < 0 || !bytes.HasPrefix(bytes.ToUpper(b[:min(i, 4)]), []byte("RCPT"))
}

func (c *conn) resetTxn() {
	c.inTxn = false
	c.from = ""
	c.params = nil
	c.body = ""
	c.utf8 = false
	c.rcpts = nil
	c.rcptTried = false
	c.bdat = false
	c.chunkBig = false
	c.chunkFull = false
	c.rcptLog = nil
	c.endMessage()
}

func (c *conn) helloVerb() string {
	if c.cfg.LMTP {
		return "LHLO"
	}
	return "HELO/EHLO"
}

func (c *conn) cmdHello(verb, arg string) error {
	st := StageEhloOnly
	if verb == "HELO" {
		st = StageHeloOnly
	}
	if c.tls {
		st = StageEhloTLS
	}
	if c.cfg.LMTP && verb != "LHLO" {
		return c.reply(st, 500, "5.5.1", "This is an LMTP server: use LHLO")
	}
	if arg == "" || strings.ContainsAny(arg, " \t") {
		return c.reply(st, 501, "5.5.4", "Syntax: "+verb+" domain")
	}
	// RFC 5321 §4.1.4: a greeting resets any transaction in progress.
	c.resetTxn()
	c.helo = arg
	c.esmtp = verb != "HELO"
	if verb == "HELO" {
		return c.reply(st, 250, "", c.cfg.Hostname+" Hello "+arg)
	}
	// The EHLO reply carries no enhanced codes: its lines are keywords.
	return c.reply(st, 250, "", c.ehloLines(arg)...)
}

func (c *conn) ehloLines(arg string) []string {
	hello := c.cfg.Hostname + " Hello " + arg
	caps := FaultCapsBefore
	if c.tls {
		caps = FaultCapsAfter
	}
	var lines []string
	if f, ok := c.fault(caps); ok {
		lines = append([]string{hello}, f.Caps...)
	} else {
		lines = c.defaultEhloLines(hello)
	}
	if c.cfg.Workshop && c.authUser != "" {
		lines = append(lines, "XMAILBOX") // xmailbox.go
	}
	if c.tls && c.hasFault(FaultReadvertise) {
		// RFC 3207 §4.2: a server must not offer STARTTLS inside TLS.
		lines = append(lines, "STARTTLS")
	}
	if c.hasFault(FaultEhloGarbage) {
		lines = append(lines, ehloGarbage(lines)...)
	}
	return lines
}

// ehloGarbage is what ehlo-garbage adds to an EHLO reply (security-anchors
// F18): SIZE values no integer holds or that are negative, 5000 AUTH
// mechanism names (over several AUTH lines of at most 1000 bytes, so no
// line trips the 8192-byte line limit of F2), STARTTLS until it appears
// twice, and a keyword with a non-ASCII letter.
func ehloGarbage(lines []string) []string {
	out := []string{"SIZE 99999999999999999999999", "SIZE -5"}
	auth := "AUTH"
	for i := range 5000 {
		name := fmt.Sprintf("X-MECH-%d", i)
		if len(auth)+1+len(name) > 1000 {
			out = append(out, auth)
			auth = "AUTH"
		}
		auth += " " + name
	}
	out = append(out, auth)
	n := 0
	for _, l := range lines {
		if strings.EqualFold(l, "STARTTLS") {
			n++
		}
	}
	for ; n < 2; n++ {
		out = append(out, "STARTTLS")
	}
	return append(out, "X-CAF\u00e9")
}

func (c *conn) defaultEhloLines(hello string) []string {
	lines := []string{
		hello,
		"PIPELINING",
		fmt.Sprintf("SIZE %d", c.cfg.MaxMessageBytes),
		"VRFY",
		"HELP",
	}
	if !c.tls {
		lines = append(lines, "STARTTLS")
	}
	if c.tls || c.cfg.AllowInsecureAuth {
		lines = append(lines, "AUTH PLAIN LOGIN CRAM-MD5")
	}
	return append(lines,
		"ENHANCEDSTATUSCODES",
		"8BITMIME",
		"BINARYMIME",
		"CHUNKING",
		"DSN",
		"SMTPUTF8",
	)
}

func (c *conn) cmdVrfy(arg string) error {
	if arg == "" {
		return c.reply(StageVrfy, 501, "5.5.4", "Syntax: VRFY user")
	}
	name := strings.TrimSuffix(strings.TrimPrefix(arg, "<"), ">")
	if at := strings.LastIndexByte(name, '@'); at >= 0 {
		name = name[:at]
	}
	if c.hasFault(FaultUserUnknown) {
		return c.vrfyEnumerating(name)
	}
	if _, ok := c.cfg.Users[name]; ok {
		return c.reply(StageVrfy, 250, "2.1.5", name+" <"+name+"@"+c.cfg.Hostname+">")
	}
	// RFC 5321 §3.5.3: 252 when the server will not confirm a user but
	// would still accept mail for it.
	return c.reply(StageVrfy, 252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")
}

var helpTopics = map[string]string{
	"HELO":     "HELO domain: greet without extensions (RFC 5321 §4.1.1.1)",
	"EHLO":     "EHLO domain: greet and list extensions (RFC 5321 §4.1.1.1)",
	"LHLO":     "LHLO domain: the LMTP greeting (RFC 2033 §4.1)",
	"MAIL":     "MAIL FROM:<address> [SIZE=n BODY=7BIT|8BITMIME|BINARYMIME SMTPUTF8 RET=FULL|HDRS ENVID=x AUTH=x]",
	"RCPT":     "RCPT TO:<address> [NOTIFY=NEVER|SUCCESS,FAILURE,DELAY ORCPT=type;address]",
	"DATA":     "DATA: then the message, ended by a line holding only \".\"",
	"BDAT":     "BDAT size [LAST]: then exactly size octets (RFC 3030)",
	"RSET":     "RSET: abort the mail transaction",
	"NOOP":     "NOOP: do nothing, answer 250",
	"QUIT":     "QUIT: close the connection",
	"VRFY":     "VRFY user: 250 for a demo user, 252 otherwise",
	"HELP":     "HELP [command]",
	"STARTTLS": "STARTTLS: switch to TLS, then EHLO again (RFC 3207)",
	"AUTH":     "AUTH PLAIN|LOGIN|CRAM-MD5 [initial-response] (RFC 4954), after STARTTLS",
}

func (c *conn) cmdHelp(arg string) error {
	if arg == "" {
		return c.reply(StageHelp, 214, "2.0.0",
			"Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
			"HELP command gives its syntax; see RFC 5321",
			"End of HELP info")
	}
	if t, ok := helpTopics[strings.ToUpper(arg)]; ok {
		return c.reply(StageHelp, 214, "2.0.0", t)
	}
	return c.reply(StageHelp, 504, "5.5.4", "HELP topic unknown")
}

func (c *conn) cmdStartTLS(arg string) error {
	switch {
	case arg != "":
		return c.reply(StageStartTLS, 501, "5.5.4", "Syntax: STARTTLS (no parameters)")
	case c.tls:
		return c.reply(StageStartTLS, 503, "5.5.1", "TLS already active")
	case !c.esmtp:
		return c.reply(StageStartTLS, 503, "5.5.1", "Send "+strings.TrimPrefix(c.helloVerb(), "HELO/")+" first")
	}
	if c.faultAt(FaultReply, StageStartTLS) {
		// The teacher's reply stands for the 220: TLS does not start,
		// whatever it says (security-anchors A2–A4).
		return c.reply(StageStartTLS, 220, "2.0.0", "Ready to start TLS")
	}
	if inj, ok := c.fault(FaultInjectStartTLS); ok {
		// EAST Buffering/B_1: one write holding the 220 and replies the
		// client must throw away (RFC 3207 §4.2).
		r, closeAfter, err := c.act(StageStartTLS, rep{})
		if err != nil || c.mute {
			return err
		}
		if closeAfter {
			return c.finish421(StageStartTLS, r)
		}
		c.note("fault %s: %d bytes after the 220, same write", inj, len(inj.Text))
		if err := c.emit(StageStartTLS, append([]byte("220 Ready\r\n"), inj.Text...)); err != nil {
			return err
		}
	} else if err := c.reply(StageStartTLS, 220, "2.0.0", "Ready to start TLS"); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return errClose
	}
	if f, ok := c.fault(FaultNoTLS); ok {
		c.note("fault %s: staying in plaintext", f)
		if err := c.emit(StageStartTLS, f.Text); err != nil {
			return err
		}
		c.drain()
		c.why = "notls fault"
		return errClose
	}
	if f, ok := c.fault(FaultInjectLate); ok {
		// security-anchors A9: plaintext after the 220 has gone out and
		// the client may already be sending its ClientHello.
		if !c.srv.sleep(LateInjectionPause) {
			c.why = "server closed"
			return errClose
		}
		c.note("fault %s: %d plaintext bytes %v after the 220", f, len(f.Text), LateInjectionPause)
		c.logReply(f.Text)
		if _, err := c.w.Write(f.Text); err != nil || c.w.Flush() != nil {
			return errClose
		}
	}
	if err := c.upgrade(); err != nil {
		return err
	}
	// RFC 3207 §4.2: forget everything learned before TLS.
	c.resetTxn()
	c.helo, c.esmtp, c.authUser = "", false, ""
	return nil
}

// upgrade starts TLS once the 220 to STARTTLS is on the wire.
func (c *conn) upgrade() error {
	if f, ok := c.fault(FaultKeepPipelined); ok {
		return c.upgradeKeeping(f)
	}
	// Anything the client pipelined after STARTTLS arrived in plaintext
	// and must not be executed inside TLS (RFC 3207 §5, CVE-2011-0411).
	if n := c.r.Buffered(); n > 0 {
		_, _ = c.r.Discard(n)
		c.note("discarded %d bytes pipelined after STARTTLS", n)
	}
	return c.handshake(c.srv.lim.handshake)
}

// handshake starts TLS, which must be done within d: a client that
// connects and never sends its ClientHello holds a session and a
// descriptor, and ReadTimeout is minutes.
func (c *conn) handshake(d time.Duration) error {
	tc := tls.Server(c.raw, c.srv.tlsConf)
	_ = c.raw.SetDeadline(time.Now().Add(min(d, c.cfg.ReadTimeout)))
	if err := tc.Handshake(); err != nil {
		c.note("TLS handshake failed: %v", err)
		c.why = "TLS handshake failed"
		return errClose
	}
	_ = c.raw.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.note("TLS established: %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	// tc reads and writes through c.raw, which keeps renewing deadlines.
	c.r.Reset(tc)
	c.w.Reset(tc)
	c.tls, c.tlsVersion = true, tls.VersionName(st.Version)
	return nil
}

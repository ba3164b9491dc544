package session

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A recording seen as a script: what the client said, turn by turn, and
// the replies the server gave to each. `replay --serve` plays the server's
// side of it; the Markdown and JSON exports summarise it.

// turnKind says what a client turn was.
type turnKind uint8

const (
	turnCommand turnKind = iota // a command line
	turnAuth                    // a line answering a 334 challenge
	turnBody                    // a message body sent after DATA, up to "."
)

// turn is one thing the client said, with the replies recorded for it.
type turn struct {
	kind  turnKind
	event int    // index in the recording's Events where it starts
	verb  string // for a command: its verb, upper case
	arg   string // for a command: the rest of the line
	// replies are the replies recorded for this turn, in order. An LMTP
	// body has one per accepted recipient; any reply the server sent
	// when no turn was waiting is kept with the last turn.
	replies []scriptReply
}

// scriptReply is one reply, possibly of several lines, as recorded.
type scriptReply struct {
	lines [][]byte // each with its line ending as received
	code  string   // the code of its last line ("250"), or the line itself if it has none
}

func (r scriptReply) final() string {
	if len(r.lines) == 0 {
		return ""
	}
	return string(trimEOL(r.lines[len(r.lines)-1]))
}

// scriptRun is one connection of a recording: a connect … close run.
type scriptRun struct {
	greeting []scriptReply
	turns    []turn
	// implicitTLS: the run's bytes went through TLS from the first one.
	implicitTLS bool
	// tls is the last completed handshake's summary, if any.
	tls      *TLSSummary
	startTLS bool // a STARTTLS was answered 220 and TLS started
	failed   *TLSSummary
	closed   bool // the recording has a close event for this run
	answered int  // turns before this one have replies (assignReply)
}

// buildScript cuts a recording's events into runs and turns.
func buildScript(events []Event) []*scriptRun {
	return buildScriptSeq(slices.All(events), nil)
}

// buildScriptSeq is buildScript over events read one at a time: it keeps
// copies of the reply lines, not the events (an export's summary pass).
// settled, if not nil, is called with the current run after each event,
// and may take its turns before turns[answered-1] away (summarize folds
// them), so that a run of any length is held in bounded memory.
func buildScriptSeq(events iter.Seq2[int, Event], settled func(*scriptRun)) []*scriptRun {
	var (
		runs    []*scriptRun
		cur     *scriptRun
		fl      flow
		pending []byte // a client command line not complete yet
		inBody  bool   // the last turn is a body still being sent
		reply   scriptReply
		sawData bool // the run has carried client or server bytes
	)
	newRun := func() {
		cur = &scriptRun{}
		runs = append(runs, cur)
		fl, pending, inBody, reply, sawData = flow{}, nil, false, scriptReply{}, false
	}
	flushReply := func() {
		if len(reply.lines) == 0 {
			return
		}
		assignReply(cur, reply)
		reply = scriptReply{}
	}
	for i, e := range events {
		if cur == nil || (e.Kind == KindConnect && (sawData || len(cur.turns) > 0 || cur.closed)) {
			if cur != nil {
				flushReply()
			}
			newRun()
		}
		switch e.Kind {
		case KindTLS:
			if e.Handshake == nil {
				break
			}
			if !e.Handshake.Complete {
				cur.failed = e.Handshake
				break
			}
			cur.tls = e.Handshake
			if !sawData {
				cur.implicitTLS = true
			} else {
				cur.startTLS = true
			}
			fl = flow{}
		case KindClose:
			flushReply()
			cur.closed = true
		case KindServer:
			sawData = true
			for _, line := range splitLinesKeep(e.Data) {
				fl.server(line)
				reply.lines = append(reply.lines, bytes.Clone(line))
				code, final := replyCode(trimEOL(line))
				reply.code = code
				if final || !bytes.HasSuffix(line, []byte("\n")) {
					flushReply()
				}
			}
		case KindClient:
			sawData = true
			fl.client(e.Data, func(p piece) {
				seg := e.Data[p.start:p.end]
				if p.payload && !p.bdat {
					if !inBody {
						cur.turns = append(cur.turns, turn{kind: turnBody, event: i})
						inBody = true
					}
					if p.last {
						inBody = false
					}
					return
				}
				if p.payload { // a BDAT chunk belongs to its BDAT command
					return
				}
				if len(pending) == 0 {
					cur.turns = append(cur.turns, turn{kind: turnCommand, event: i})
				}
				if len(pending) < maxCommandLine {
					pending = append(pending, seg...)
				}
				if p.complete {
					t := &cur.turns[len(cur.turns)-1]
					t.verb, t.arg = splitCommand(pending)
					pending = pending[:0]
				}
			})
		}
		if settled != nil {
			settled(cur)
		}
	}
	if cur != nil {
		flushReply()
	}
	for _, r := range runs {
		markAuth(r)
	}
	return runs
}

// assignReply gives a reply to the earliest turn still waiting for one, so
// that pipelined commands get their replies in order; with no turn waiting
// it is the greeting (before any turn) or an extra reply of the last turn
// (LMTP's one reply per recipient, an unsolicited 421).
func assignReply(r *scriptRun, rep scriptReply) {
	// Every turn before r.answered has its replies, so the search starts
	// there: a run of a million commands is not a million searches.
	for ; r.answered < len(r.turns); r.answered++ {
		if len(r.turns[r.answered].replies) == 0 {
			r.turns[r.answered].replies = append(r.turns[r.answered].replies, rep)
			r.answered++
			return
		}
	}
	if len(r.turns) == 0 {
		r.greeting = append(r.greeting, rep)
		return
	}
	t := &r.turns[len(r.turns)-1]
	t.replies = append(t.replies, rep)
}

// markAuth marks the lines that answered a 334 as AUTH responses: they
// carry credentials (or the marker that replaced them), not a verb.
func markAuth(r *scriptRun) {
	inAuth := false
	for i := range r.turns {
		t := &r.turns[i]
		if t.kind == turnBody {
			inAuth = false
			continue
		}
		if inAuth {
			t.kind, t.verb, t.arg = turnAuth, "", ""
		}
		switch {
		case t.kind == turnAuth || t.verb == "AUTH":
			inAuth = len(t.replies) > 0 && t.replies[len(t.replies)-1].code == "334"
		default:
			inAuth = false
		}
	}
}

// splitLinesKeep splits b after each LF, keeping the line endings; a last
// line without one is kept as it is.
func splitLinesKeep(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

// ServeOptions change what Serve does.
type ServeOptions struct {
	// Certificate is presented after STARTTLS and on connections of an
	// implicit-TLS recording. Nil means an in-memory self-signed one from
	// NewServeCertificate.
	Certificate *tls.Certificate
	// IdleTimeout closes a connection whose client says nothing for this
	// long; zero means 5 minutes.
	IdleTimeout time.Duration
}

// Serve answers every client that connects to ln with the server's side of
// rec, until ctx is done (then it returns nil) or ln fails. It is
// `ehlo replay --serve`: a client bug can be reproduced without the server
// that provoked it. What it does is written to log.
//
// Each connection plays one connect … close run of the recording (the
// first connection the first run, the next the next, starting over after
// the last). It sends the recorded greeting, then for each line the client
// sends, the replies recorded for the client's turn at that point: multi-
// line replies as they were, LMTP's one reply per recipient after the
// body. After a 354 to DATA it reads the message up to CRLF.CRLF, after
// BDAT n the n bytes of the chunk, and answers with the recorded reply. An
// AUTH exchange gets the recorded replies whatever the client sends, since
// the recording's credentials are redacted anyway (security-anchors I7).
// A 220 to STARTTLS is followed by a TLS handshake with the options'
// certificate; a recording of an implicit-TLS session starts every
// connection with one.
//
// Where the client departs from the recording (a verb other than the one
// recorded), Serve writes
//
//	*** client departs from the recording at event N: expected "MAIL", got "RCPT"
//
// to log and carries on best-effort with the reply recorded at that point,
// so that the client sees what the server would have said next. N counts
// the recording's events from 1. A QUIT out of turn is answered with the
// recorded reply to QUIT (or 221) and the connection closes; a command
// after the end of the recording is answered 421 and the connection
// closes.
func Serve(ctx context.Context, rec *Recording, ln net.Listener, log io.Writer) error {
	return ServeWith(ctx, rec, ln, log, ServeOptions{})
}

// ServeWith is Serve with options.
func ServeWith(ctx context.Context, rec *Recording, ln net.Listener, log io.Writer, opts ServeOptions) error {
	runs := buildScript(rec.Events)
	if len(runs) == 0 {
		return errors.New("replay --serve: the recording holds no conversation")
	}
	if opts.Certificate == nil {
		cert, err := NewServeCertificate(ServeHosts(rec.Header)...)
		if err != nil {
			return err
		}
		opts.Certificate = &cert
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	s := &replayServer{
		runs:   runs,
		header: rec.Header,
		log:    &lockedWriter{w: log},
		opts:   opts,
		tls:    &tls.Config{Certificates: []tls.Certificate{*opts.Certificate}},
		conns:  map[net.Conn]struct{}{},
	}
	if log == nil {
		s.log.w = io.Discard
	}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.closeAll()
	})
	defer stop()
	var n atomic.Int64
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.closeAll()
			s.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		id := int(n.Add(1))
		if !s.track(nc) {
			nc.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(nc)
			s.serveConn(nc, id)
		}()
	}
}

// ServeHosts are the names Serve's generated certificate is valid for:
// loopback, and the recorded server's host name, so that a client can keep
// its --sni.
func ServeHosts(h Header) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h.Network == "unix" || strings.HasPrefix(h.Server, "/") {
		return hosts
	}
	host := h.Server
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.Trim(host, "[]")
	if host != "" && host != "localhost" && net.ParseIP(host) == nil && validDNSName(host) {
		hosts = append(hosts, host)
	}
	return hosts
}

func validDNSName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, c := range s {
		if !(c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// ServeListen listens where `replay --serve --listen ADDR` says: an
// absolute path is a Unix socket (which must not exist yet), anything else
// a TCP host:port. It also says whether the address is loopback only: a
// Unix socket is, and so is a TCP address whose host is a loopback IP or
// "localhost".
func ServeListen(addr string) (ln net.Listener, loopback bool, err error) {
	if strings.HasPrefix(addr, "/") {
		ln, err = net.Listen("unix", addr)
		return ln, true, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, false, err
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, false, err
	}
	ip := net.ParseIP(host)
	return ln, host == "localhost" || (ip != nil && ip.IsLoopback()), nil
}

// NewServeCertificate returns a self-signed certificate (ECDSA P-256, its
// own CA, valid from an hour ago for a day) for the given DNS names and IP
// addresses, as `replay --serve` uses after STARTTLS. The leaf is parsed
// into Leaf, so a test can trust exactly it.
func NewServeCertificate(hosts ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ehlo replay", Organization: []string{"ehlo replay --serve"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// CertificateFingerprint is the SHA-256 of a certificate's leaf, as the
// sandbox prints it (AB:CD:…), so a user can compare it by eye.
func CertificateFingerprint(cert *tls.Certificate) string {
	if cert == nil || len(cert.Certificate) == 0 {
		return ""
	}
	sum := sha256.Sum256(cert.Certificate[0])
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

type replayServer struct {
	runs   []*scriptRun
	header Header
	log    *lockedWriter
	opts   ServeOptions
	tls    *tls.Config

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func (s *replayServer) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *replayServer) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *replayServer) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
}

// lockedWriter keeps the log lines of concurrent connections whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

// maxServeLine caps a command line the fake server reads.
const maxServeLine = 64 << 10

// replayConn is one client connection being answered.
type replayConn struct {
	s    *replayServer
	run  *scriptRun
	conn net.Conn
	br   *bufio.Reader
	pos  int  // the next turn of the recording
	auth bool // the last reply sent was a 334 in an AUTH exchange
	tag  string
}

func (s *replayServer) serveConn(nc net.Conn, id int) {
	idx := (id - 1) % len(s.runs)
	c := &replayConn{s: s, run: s.runs[idx], conn: nc, tag: fmt.Sprintf("[c%d]", id)}
	s.log.printf("=== %s connection from %s: playing connection %d of %d of the recording", c.tag, SanitizeString(nc.RemoteAddr().String()), idx+1, len(s.runs))
	if c.run.implicitTLS {
		if !c.startTLS() {
			return
		}
	}
	c.br = bufio.NewReaderSize(c.conn, 16<<10)
	why := c.play()
	s.log.printf("=== %s closed: %s", c.tag, why)
}

func (c *replayConn) startTLS() bool {
	tc := tls.Server(c.conn, c.s.tls)
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.s.log.printf("*** %s TLS handshake failed: %s", c.tag, SanitizeString(err.Error()))
		return false
	}
	c.conn.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.s.log.printf("=== %s TLS started with cipher %s:%s", c.tag, tlsVersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	c.conn = tc
	return true
}

// play runs the conversation and says why it ended.
func (c *replayConn) play() string {
	if err := c.send(c.run.greeting); err != nil {
		return err.Error()
	}
	for {
		line, err := c.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "the client hung up"
			}
			return SanitizeString(err.Error())
		}
		verb, arg := splitCommand(line)
		answeringAuth := c.auth
		if c.pos >= len(c.run.turns) {
			c.departs("its end", "no more commands", c.got(verb, answeringAuth))
			c.write([]byte("421 4.3.0 ehlo replay: the recording ends here\r\n"))
			return "the recording ended"
		}
		t := c.run.turns[c.pos]
		gotVerb := strconv.Quote(clip(SanitizeString(verb)))
		departed := true
		switch {
		case answeringAuth && t.kind != turnAuth:
			c.departs(eventNo(t), strconv.Quote(describe(t)), "an AUTH response")
		case answeringAuth:
			departed = false
		case t.kind == turnAuth:
			c.departs(eventNo(t), "an AUTH response", gotVerb)
		case t.kind == turnBody:
			c.departs(eventNo(t), "the message body", gotVerb)
		case verb != t.verb:
			c.departs(eventNo(t), strconv.Quote(describe(t)), gotVerb)
		default:
			departed = false
		}
		if departed && !answeringAuth && verb == "QUIT" {
			c.send(c.quitReply())
			return "the client quit out of turn"
		}
		c.pos++
		if !answeringAuth && verb == "BDAT" {
			size, _, _ := strings.Cut(arg, " ")
			n, perr := strconv.ParseInt(size, 10, 64)
			if perr != nil || n < 0 {
				c.s.log.printf("*** %s BDAT with a size that is not a number: %q", c.tag, clip(SanitizeString(size)))
			} else if err := c.discard(n); err != nil {
				return SanitizeString(err.Error())
			}
		}
		if err := c.send(t.replies); err != nil {
			return err.Error()
		}
		final := lastCode(t.replies)
		c.auth = final == "334" && (answeringAuth || verb == "AUTH")
		switch {
		case answeringAuth:
		case verb == "DATA" && final == "354":
			if err := c.readBody(); err != nil {
				return SanitizeString(err.Error())
			}
			if !c.bodyTurn() {
				return "the recording ended"
			}
		case verb == "STARTTLS" && final == "220":
			if n := c.br.Buffered(); n > 0 {
				c.s.log.printf("*** %s discarded %d bytes the client sent after STARTTLS, before TLS", c.tag, n)
			}
			if !c.startTLS() {
				return "TLS handshake failed"
			}
			c.br = bufio.NewReaderSize(c.conn, 16<<10)
		case verb == "QUIT" && strings.HasPrefix(final, "2"):
			return "QUIT"
		}
	}
}

// bodyTurn answers a message body with the recorded turn for it.
func (c *replayConn) bodyTurn() bool {
	if c.pos >= len(c.run.turns) {
		c.departs("its end", "no more commands", "a message body")
		c.write([]byte("421 4.3.0 ehlo replay: the recording ends here\r\n"))
		return false
	}
	t := c.run.turns[c.pos]
	if t.kind != turnBody {
		c.departs(eventNo(t), strconv.Quote(describe(t)), "a message body")
	}
	c.pos++
	return c.send(t.replies) == nil
}

// describe names a recorded turn for the log.
func describe(t turn) string {
	switch t.kind {
	case turnAuth:
		return "AUTH response"
	case turnBody:
		return "message body"
	}
	return clip(SanitizeString(t.verb))
}

func (c *replayConn) got(verb string, auth bool) string {
	if auth {
		return "an AUTH response"
	}
	return strconv.Quote(clip(SanitizeString(verb)))
}

func (c *replayConn) departs(where, expected, got string) {
	c.s.log.printf("*** client departs from the recording at %s: expected %s, got %s", where, expected, got)
}

func eventNo(t turn) string { return "event " + strconv.Itoa(t.event+1) }

// quitReply is the recorded reply to QUIT, or a 221 of our own.
func (c *replayConn) quitReply() []scriptReply {
	for _, t := range c.run.turns[c.pos:] {
		if t.kind == turnCommand && t.verb == "QUIT" && len(t.replies) > 0 {
			return t.replies
		}
	}
	return []scriptReply{{lines: [][]byte{[]byte("221 2.0.0 ehlo replay: bye\r\n")}, code: "221"}}
}

func lastCode(replies []scriptReply) string {
	if len(replies) == 0 {
		return ""
	}
	return replies[len(replies)-1].code
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func (c *replayConn) send(replies []scriptReply) error {
	var b bytes.Buffer
	for _, r := range replies {
		for _, l := range r.lines {
			b.Write(l)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return c.write(b.Bytes())
}

func (c *replayConn) write(p []byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.conn.Write(p)
	return err
}

func (c *replayConn) idle() {
	c.conn.SetReadDeadline(time.Now().Add(c.s.opts.IdleTimeout))
}

// readLine reads one command line, without its line ending.
func (c *replayConn) readLine() ([]byte, error) {
	c.idle()
	var line []byte
	for {
		chunk, err := c.br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxServeLine {
			c.write([]byte("500 5.5.2 ehlo replay: line too long\r\n"))
			return nil, fmt.Errorf("a command line longer than %d bytes", maxServeLine)
		}
		switch err {
		case nil:
			return trimEOL(line), nil
		case bufio.ErrBufferFull:
			continue
		default:
			return nil, err
		}
	}
}

// readBody reads a message up to the line ".", whatever its length, without
// keeping it.
func (c *replayConn) readBody() error {
	atStart := true
	for {
		c.idle()
		chunk, err := c.br.ReadSlice('\n')
		switch err {
		case nil:
			if atStart && (string(chunk) == ".\r\n" || string(chunk) == ".\n") {
				return nil
			}
			atStart = true
		case bufio.ErrBufferFull:
			atStart = false
		default:
			return fmt.Errorf("reading the message: %w", err)
		}
	}
}

func (c *replayConn) discard(n int64) error {
	c.idle()
	if _, err := io.CopyN(io.Discard, c.br, n); err != nil {
		return fmt.Errorf("reading a BDAT chunk: %w", err)
	}
	return nil
}

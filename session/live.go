package session

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
)

// LiveConfig says where a Live conversation connects and how it hides
// credentials.
type LiveConfig struct {
	// Server is a host, "host:port", "[v6]:port" or an absolute Unix
	// socket path, as protocol.Client.Connect reads it.
	Server string
	// Port, when not zero, overrides a port in Server; zero means the one
	// in Server, else the Kind's default.
	Port int
	Kind protocol.Kind
	// Options configure each protocol.Client. Live sets Tracer itself;
	// one given here is ignored. Timeout must not be zero (protocol
	// refuses it at Connect).
	Options protocol.Options
	// Redaction is how events are redacted before any sink sees them. A
	// nil Scrubber is replaced by an empty one, because Live adds every
	// secret it learns (passwords given to Login and Auth, initial
	// responses typed on an AUTH line, answers typed in ModeAuth).
	Redaction Redaction

	// route is how PlanLive found the server through DNS; nil otherwise.
	route *Route
}

// Mode is what a line typed in the composer means, which depends on where
// the server is in the conversation.
type Mode int

const (
	// ModeCommand: a line is a command, sent as typed.
	ModeCommand Mode = iota
	// ModeAuth: the server answered an AUTH with 334; a line is the answer
	// to its challenge, sent base64-encoded, and "*" cancels.
	ModeAuth
	// ModeData: the server answered DATA with 354; lines are the message,
	// and a lone "." sends it.
	ModeData
)

func (m Mode) String() string {
	switch m {
	case ModeCommand:
		return "command"
	case ModeAuth:
		return "auth"
	case ModeData:
		return "data"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Snapshot is the state of a Live conversation at one moment, for the
// Connection and Extensions panes and the status line. It is a copy: the
// caller may keep it, and must treat TLS and Extensions as read-only.
type Snapshot struct {
	// Server is the address dialled once a connection was attempted
	// ("127.0.0.1:2525", a socket path), the configured Server before.
	Server    string
	Kind      protocol.Kind
	Connected bool
	// State is the phase, TLS, authenticated and recipients.
	State protocol.State
	// Extensions are those of the last EHLO on this connection.
	Extensions []protocol.Extension
	// ExtensionsStale is true after a TLS upgrade until the next EHLO: the
	// list is what the server said in clear text and no longer holds
	// (RFC 3207 §4.2), but it stays on show so the user can compare.
	ExtensionsStale bool
	// TLS is the last handshake on this connection, a failed one included
	// (Complete false, Error set, and the certificates if any were sent);
	// nil while the connection is in clear text.
	TLS *TLSSummary
	// BytesIn and BytesOut count the SMTP bytes of this connection, as
	// the wire log shows them (no TLS record overhead).
	BytesIn, BytesOut int64
	// Started is when this connection was attempted.
	Started time.Time

	// Busy says an operation is waiting on the network since BusySince;
	// Pending names what for ("EHLO", "connect", "end of DATA"). Cancel
	// gives up on it.
	Busy      bool
	BusySince time.Time
	Pending   string
	// Queued names, in order, what waits behind the pending operation:
	// lines typed meanwhile and / commands. A line that may answer an AUTH
	// challenge is Marker, and an AUTH initial response is hidden as the
	// composer's history hides it. Made safe to show with Sanitize.
	Queued []string

	Mode Mode
	// Challenge is, in ModeAuth, the decoded 334 challenge, made safe to
	// show with Sanitize (the raw text if it is not base64).
	Challenge string
	// SecretInput says, in ModeAuth, that the line the user types now is
	// a secret: mask it, and never keep it in the composer's history. It
	// is false only for the first answer to a challenge that is plainly a
	// user-name prompt, so a server labelling the password prompt
	// "Username:" (security-anchors C4) still gets a masked answer.
	SecretInput bool
	// DataLines is, in ModeData, the number of message lines typed so far.
	DataLines int
	// DataTail is, in ModeData, the last of those lines (at most
	// DataTailLines), so the composer can show the body as it is typed
	// although nothing is sent before the final dot. Raw: sanitize to show.
	DataTail []string

	// LastError is the error of the last operation, scrubbed of known
	// secrets and made safe to show with Sanitize; it is cleared when the
	// next operation starts.
	LastError string

	// Route is how the server was found through DNS (PlanLive): the MX,
	// DANE and MTA-STS, DANE's verdict as of the last handshake; nil when
	// the server was named.
	Route *Route
}

// DataTailLines is how many of the last message lines Snapshot.DataTail
// holds: more than a screen shows, and bounded so that a long pasted body
// is not copied whole at every line.
const DataTailLines = 64

// SendForm is the TUI's /send form. The envelope is From and To exactly;
// the message is composed as `ehlo send` composes one (Composition).
type SendForm struct {
	From    string
	To      []string
	Subject string
	Body    string
}

// Live is a conversation with a server driven by a person: the TUI's
// session. It owns a protocol.Client and runs every call on its own worker
// goroutine, one at a time and in the order they were asked for, so that
// the UI goroutine never waits on the network: each operation returns at
// once, its bytes reach the sinks of Capture as they happen, and
// Snapshot/Notify say how things stand. An error is not returned but
// reported, as a note "error: …" through the Capture and as
// Snapshot.LastError.
//
// Lines the user types go through Input, which keeps the client's idea of
// the protocol true whatever is typed (security-anchors §2.1, D9):
//
//   - In ModeCommand a line is sent as typed (protocol.Client.Raw), so a raw
//     STARTTLS does the handshake on 220, a raw EHLO is parsed, and a raw
//     AUTH has its initial response marked secret.
//   - A raw AUTH answered 334 enters ModeAuth: the challenge is decoded for
//     display, and each line typed is the answer, base64-encoded, marked
//     secret on the wire and added to the Scrubber so that a server
//     echoing it is scrubbed too; "*" cancels (RFC 4954). Any reply but 334
//     ends the mode.
//   - A raw DATA answered 354 enters ModeData: a multi-line editor. Lines
//     are the message as the recipient should see it; a lone "." ends it,
//     and the whole is sent through the same encoder as every other
//     message (normalised, dot-stuffed, terminated), so "..x" typed
//     arrives as "..x" and no line can end the data early. The price is
//     that a message line consisting of a single "." cannot be typed here.
//   - Input holding CR or LF (a bracketed paste) is split into lines, and
//     each is interpreted in turn in the mode the previous one left, never
//     written at once: a pasted STARTTLS still upgrades and a pasted AUTH
//     is still redacted. A pasted block is a script: after a line fails or
//     is answered 4xx/5xx, the rest of the block is dropped, so that lines
//     meant as answers to a 334 or as message text are never sent as
//     commands.
//
// Esc maps to Cancel. A reply that does not come can only be abandoned by
// closing the connection: after SMTP's one-reply-per-command, anything
// else leaves client and server out of step.
//
// Live is safe for concurrent use. Sinks added to Capture are called on
// the worker goroutine (and on the caller's for Cancel's note); a sink must
// not call Cancel or Close.
type Live struct {
	cfg     LiveConfig
	capture *Capture
	scrub   *Scrubber
	notify  chan struct{}
	wake    chan struct{} // an operation was queued
	done    chan struct{} // closed by Close

	mu      sync.Mutex
	snap    Snapshot
	queue   []op
	cur     *worker // the worker whose events count; nil once Close abandoned it
	working bool    // cur is running an operation, busy or not
	closed  bool
	network string // of the last connection, for a recording's snapshot
	// idleStop ends the worker's watch of the idle connection
	// (protocol.Client.WatchIdle); nil when it is not watching.
	idleStop chan struct{}
	// pinned is the SHA-256 of the one certificate trusted for this
	// session (TrustCertificate); empty when none is.
	pinned string
	// unpinned is the TLS configuration from before the first pin, which
	// a later pin replaces the pin in rather than adding to it.
	unpinned *tls.Config
}

// op is one queued operation. Those of one pasted block share a batch.
type op struct {
	batch *batch
	run   func(w *worker)
	// label is what Snapshot.Queued shows while the op waits; auth says
	// it is a raw AUTH line, so the lines queued after it may be answers
	// to its challenges.
	label string
	auth  bool
	// dropped, if set, is called when the op is dropped unrun (Cancel,
	// Close), so that a caller waiting for its result stops waiting.
	dropped func()
}

type batch struct{ stopped bool }

// worker drives one protocol.Client at a time from one goroutine. Cancel
// replaces the worker rather than touching its client: protocol.Client is
// not safe for concurrent use, so the abandoned worker finishes its
// blocked call alone and drops everything it sees afterwards.
type worker struct {
	l      *Live
	gate   sync.Mutex    // held while one of this worker's events is delivered
	dead   bool          // abandoned: deliver nothing more; guarded by gate
	exited chan struct{} // closed when the goroutine returns

	// Owned by the worker goroutine; client is also read under l.mu.
	client    *protocol.Client
	batch     *batch
	mode      Mode
	data      []string
	challenge string
	secret    bool
	authIR    bool // the AUTH line carried an initial response
	answers   int  // lines answered in this AUTH exchange
}

var (
	errNotConnected = errors.New("not connected; connect first")
	errAbandoned    = errors.New("abandoned: cancelled or closed")
)

// NewLive returns a conversation that is not connected yet, with its
// worker started. Close stops it.
func NewLive(cfg LiveConfig) *Live {
	if cfg.Redaction.Scrubber == nil {
		cfg.Redaction.Scrubber = NewScrubber()
	}
	l := &Live{
		cfg:     cfg,
		capture: NewCapture(time.Time{}, cfg.Redaction),
		scrub:   cfg.Redaction.Scrubber,
		notify:  make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	l.snap = Snapshot{Server: cfg.Server, Kind: cfg.Kind, Route: cfg.route.snapshot()}
	l.cur = l.newWorker()
	go l.run(l.cur)
	return l
}

// Capture is where the conversation's events go: add the wire log's store
// and a Recorder here.
func (l *Live) Capture() *Capture { return l.capture }

// Notify is signalled, without blocking and coalesced, whenever the
// snapshot changed or an operation finished; read Snapshot after it fires.
func (l *Live) Notify() <-chan struct{} { return l.notify }

// Snapshot returns the current state.
func (l *Live) Snapshot() Snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.snap
	s.Extensions = slices.Clone(s.Extensions)
	s.Queued = nil
	for _, o := range l.queue {
		if o.label != "" && (o.batch == nil || !o.batch.stopped) {
			s.Queued = append(s.Queued, o.label)
		}
	}
	return s
}

// Record makes s, a recording, receive the conversation's events from now
// on, its offsets counting from origin (its Header.Created). Once a
// connection has been attempted, the recording opens with a KindSnapshot
// event of the state at that moment, so that its replay starts from there
// and not from nothing.
func (l *Live) Record(s Sink, origin time.Time) (remove func()) {
	return l.capture.AddFrom(s, origin, l.startEvents)
}

// startEvents is the snapshot that opens a recording; it runs under the
// Capture's lock, so no event falls between it and the recording's next.
func (l *Live) startEvents() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &l.snap
	if s.Started.IsZero() {
		return nil
	}
	st := &StartState{SessionStart: l.capture.Start(), Connected: s.Connected, Network: l.network, Addr: s.Server, ConnectionStart: s.Started}
	if s.Connected {
		st.State, st.Handshake, st.Mode = s.State, s.TLS, s.Mode.String()
		st.Extensions, st.ExtensionsStale = slices.Clone(s.Extensions), s.ExtensionsStale
	}
	return []Event{{Kind: KindSnapshot, Start: st}}
}

// Connect opens a connection with a fresh protocol.Client and reads the
// greeting (implicit TLS first for protocol.SMTPS). A connection that is
// open is closed first, without QUIT. A greeting other than 220 is an
// error and closes the connection, as smtplib's constructor does.
func (l *Live) Connect() { l.enqueue(op{run: (*worker).connect, label: "/connect"}) }

// Ehlo sends EHLO (LHLO for LMTP) with name, or the local host name.
func (l *Live) Ehlo(name string) {
	l.do("EHLO", func(_ *worker, c *protocol.Client) error { _, err := c.Ehlo(name); return err })
}

// Helo sends HELO with name, or the local host name.
func (l *Live) Helo(name string) {
	l.do("HELO", func(_ *worker, c *protocol.Client) error { _, err := c.Helo(name); return err })
}

// StartTLS upgrades the connection with smtplib's rules (greet first,
// STARTTLS must be advertised, only 220 goes on) and the configured
// TLSConfig.
func (l *Live) StartTLS() {
	l.do("STARTTLS", func(_ *worker, c *protocol.Client) error { _, err := c.StartTLS(nil); return err })
}

// Login authenticates with the first advertised mechanism in smtplib's
// preference order (protocol.Client.Login).
func (l *Live) Login(user, password string) {
	l.do("AUTH", func(_ *worker, c *protocol.Client) error {
		l.scrub.AddPlain("", user, password)
		_, err := c.Login(user, password, true)
		return err
	})
}

// Auth authenticates with one mechanism (protocol.NewAuthenticator): the
// secret is the password, or the bearer token for XOAUTH2 and OAUTHBEARER.
// It greets first if needed, which smtplib's auth() leaves to the caller.
func (l *Live) Auth(mech, user, secret string) {
	l.do("AUTH", func(_ *worker, c *protocol.Client) error {
		switch strings.ToUpper(mech) {
		case "PLAIN":
			l.scrub.AddPlain("", user, secret)
		case "XOAUTH2":
			l.scrub.AddXOAUTH2(user, secret)
		default:
			l.scrub.Add(secret)
		}
		a, err := protocol.NewAuthenticator(mech, user, secret)
		if err != nil {
			return err
		}
		if err := c.EhloOrHeloIfNeeded(); err != nil {
			return err
		}
		_, err = c.Auth(mech, a, true)
		return err
	})
}

// Send composes a message from the form and sends it with send_message's
// rules and the form's envelope. Recipients the server refused, when
// others were accepted, are reported in a note.
func (l *Live) Send(f SendForm) {
	f.To = slices.Clone(f.To)
	l.do("send", func(w *worker, c *protocol.Client) error {
		comp := Composition{From: f.From, To: f.To, Subject: f.Subject, Body: f.Body, Hostname: l.cfg.Options.LocalHostname}
		msg, err := comp.Build()
		if err != nil {
			return err
		}
		from := f.From
		refused, err := c.SendMessage(bytes.NewReader(msg), &protocol.Envelope{From: &from, To: f.To}, nil, nil)
		if err != nil {
			return err
		}
		if len(refused) > 0 {
			var parts []string
			for _, to := range f.To {
				if r, ok := refused[to]; ok {
					parts = append(parts, fmt.Sprintf("%s: %d %s", to, r.Code, firstLine(r.Message)))
				}
			}
			w.note(fmt.Sprintf("%d of %d recipients refused: %s", len(refused), len(f.To), strings.Join(parts, "; ")))
		}
		return nil
	})
}

// Verify sends VRFY with the address part of addr.
func (l *Live) Verify(addr string) {
	l.do("VRFY", func(_ *worker, c *protocol.Client) error { _, err := c.Verify(addr); return err })
}

// Noop sends NOOP.
func (l *Live) Noop() {
	l.do("NOOP", func(_ *worker, c *protocol.Client) error { _, err := c.Noop(); return err })
}

// Rset sends RSET.
func (l *Live) Rset() {
	l.do("RSET", func(_ *worker, c *protocol.Client) error { _, err := c.Rset(); return err })
}

// Quit sends QUIT and closes. In ModeAuth the exchange is cancelled with
// "*" first. In ModeData the message is abandoned instead: the server
// would read QUIT as message text, so the connection is closed without
// ending DATA and the server drops the transaction.
func (l *Live) Quit() { l.enqueue(op{run: (*worker).quit, label: "QUIT"}) }

// Input interprets what the composer submitted, according to the mode
// when each line's turn comes (see Live). In ModeCommand an empty line is
// ignored and a line starting with "/" is refused: /commands are the TUI's
// to parse, so one arriving here came inside a paste and is not for the
// server.
func (l *Live) Input(text string) {
	lines := splitLines(text)
	var b *batch
	if len(lines) > 1 {
		b = &batch{}
	}
	ops := make([]op, len(lines))
	for i, line := range lines {
		ops[i] = op{batch: b, run: func(w *worker) { w.input(line) }, auth: isAuthLine(line)}
	}
	l.mu.Lock()
	l.labelInputs(ops, lines)
	l.mu.Unlock()
	l.enqueue(ops...)
}

// labelInputs names typed lines for Snapshot.Queued without showing a
// secret: once an AUTH exchange may be under way (the mode, the pending
// operation, or an AUTH line queued ahead), every later line may be an
// answer to a challenge and is shown as Marker. Called with l.mu held.
func (l *Live) labelInputs(ops []op, lines []string) {
	secret := l.snap.Mode == ModeAuth || l.snap.Pending == "AUTH"
	for _, o := range l.queue {
		secret = secret || o.auth
	}
	for i, line := range lines {
		switch {
		case secret:
			ops[i].label = Marker
		case strings.TrimSpace(line) == "":
			ops[i].label = "(empty line)"
		default:
			ops[i].label = shortLabel(RedactHistory(line))
		}
		secret = secret || ops[i].auth
	}
}

// isAuthLine says a typed line starts an AUTH exchange. It is about
// labels only: what is sent is decided when the line's turn comes.
func isAuthLine(line string) bool {
	_, _, ok := protocol.AuthCommand(line)
	return ok
}

// shortLabel makes text safe to show and cuts it to a length a title bar
// can hold.
func shortLabel(text string) string {
	const most = 60
	if utf8.RuneCountInString(text) > most {
		text = string([]rune(text)[:most]) + "…"
	}
	return SanitizeString(text)
}

// Cancel gives up on what is pending. While an operation waits on the
// network, it closes the connection, the only way to abandon a reply,
// drops the operations queued behind it and notes it; Connected is false
// when Cancel returns. Otherwise, in ModeData it abandons the message (the
// connection is closed without ending DATA, so nothing is delivered), and
// in ModeAuth it answers "*". Elsewhere it does nothing.
func (l *Live) Cancel() {
	l.mu.Lock()
	if l.closed || l.cur == nil {
		l.mu.Unlock()
		return
	}
	if !l.snap.Busy {
		mode := l.snap.Mode
		l.mu.Unlock()
		switch mode {
		case ModeData:
			l.enqueue(op{run: func(w *worker) { w.abandonData("cancelled") }})
		case ModeAuth:
			l.enqueue(op{run: func(w *worker) {
				if w.mode == ModeAuth {
					w.authLine("*")
				}
			}})
		}
		return
	}
	old := l.cur
	pending, since := l.snap.Pending, l.snap.BusySince
	var dropped []string
	for _, o := range l.queue {
		if o.label != "" {
			dropped = append(dropped, o.label)
		}
	}
	dropOps(l.queue)
	l.queue = nil
	l.cur = l.newWorker()
	l.working = false
	l.snap.Connected, l.snap.State = false, protocol.State{}
	l.snap.Busy, l.snap.BusySince, l.snap.Pending = false, time.Time{}, ""
	l.snap.Mode, l.snap.Challenge, l.snap.SecretInput, l.snap.DataLines, l.snap.DataTail = ModeCommand, "", false, 0, nil
	nw, client := l.cur, old.client
	l.mu.Unlock()

	old.abandon()
	abort(client)
	what := "waiting for the reply to " + pending
	if pending == "connect" {
		what = "connecting" // the dial, or the greeting
	}
	text := fmt.Sprintf("cancelled: gave up %s after %s; the connection is abandoned", what, time.Since(since).Round(time.Millisecond))
	if len(dropped) > 0 {
		text += fmt.Sprintf(", and %d queued operation(s) dropped: %s", len(dropped), strings.Join(dropped, ", "))
	}
	nw.note(text)
	go l.run(nw)
	l.signal()
}

// Close stops the worker and closes the connection without QUIT. An
// operation still waiting on the network is abandoned as Cancel abandons
// it. Later operations do nothing.
func (l *Live) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	dropOps(l.queue)
	l.queue = nil
	l.stopWatch()
	w, busy := l.cur, l.snap.Busy
	if busy {
		l.cur = nil
		l.snap.Connected, l.snap.Busy, l.snap.Pending = false, false, ""
	}
	close(l.done)
	l.mu.Unlock()
	if busy {
		w.abandon()
		abort(w.clientLocked())
		l.capture.Note("closed while waiting for the reply; the connection is abandoned")
		l.signal()
		return nil
	}
	<-w.exited
	l.signal()
	return nil
}

// abort closes c's socket at once, safe while another goroutine is
// blocked in a call on it, so that Cancel does not wait for a pending
// reply to arrive or time out.
func abort(c *protocol.Client) {
	if c == nil {
		return
	}
	c.Debug().Abort()
}

// abandon stops w's events from reaching the sinks. Taking the gate
// waits for an event being delivered, so nothing of the abandoned
// connection follows the note that reports it.
func (w *worker) abandon() {
	w.gate.Lock()
	w.dead = true
	w.gate.Unlock()
}

// dropOps tells the ops dropped unrun that they will not run.
func dropOps(ops []op) {
	for _, o := range ops {
		if o.dropped != nil {
			o.dropped()
		}
	}
}

func (l *Live) newWorker() *worker {
	return &worker{l: l, exited: make(chan struct{})}
}

// do queues an smtplib-level operation that needs a connection in
// ModeCommand.
func (l *Live) do(label string, f func(w *worker, c *protocol.Client) error) {
	l.enqueue(op{label: label, run: func(w *worker) {
		if !w.ready() || !w.begin(label) {
			return
		}
		if err := f(w, w.client); err != nil {
			w.fail(err)
		}
	}})
}

func (l *Live) enqueue(ops ...op) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		dropOps(ops)
		return
	}
	l.queue = append(l.queue, ops...)
	l.stopWatch()
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *Live) signal() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// run is a worker's goroutine.
func (l *Live) run(w *worker) {
	defer close(w.exited)
	for {
		o, ok := l.next(w)
		if !ok {
			break
		}
		if o.batch != nil && o.batch.stopped {
			continue
		}
		w.batch = o.batch
		o.run(w)
		w.finish()
	}
	if w.client != nil {
		w.client.Close()
	}
}

// next waits for w's next operation; false means w is to stop, because
// Live was closed or w was abandoned.
func (l *Live) next(w *worker) (op, bool) {
	for {
		l.mu.Lock()
		if l.cur != w {
			l.mu.Unlock()
			return op{}, false
		}
		if len(l.queue) > 0 {
			o := l.queue[0]
			l.queue = l.queue[1:]
			l.working = true
			l.mu.Unlock()
			return o, true
		}
		if l.closed {
			l.mu.Unlock()
			return op{}, false
		}
		idle := l.working
		l.working = false
		var stop chan struct{}
		if w.connected() {
			stop = make(chan struct{})
			l.idleStop = stop
		}
		l.mu.Unlock()
		if idle {
			l.signal()
		}
		if stop != nil {
			w.watch(stop)
			continue
		}
		select {
		case <-l.wake:
		case <-l.done:
		}
	}
}

// stopWatch hands the connection back from the idle watch to the worker,
// so that the next operation can use it. Called with l.mu held.
func (l *Live) stopWatch() {
	if l.idleStop != nil {
		close(l.idleStop)
		l.idleStop = nil
	}
}

// watch reads the connection while no operation is queued, until stop is
// closed. What the server says meanwhile is unsolicited (an idle timeout's
// 421, a shutdown): protocol shows it in the wire log and closes the
// connection, and watch reports it as an operation's failure would be,
// so it is never taken as the reply to the user's next command.
func (w *worker) watch(stop chan struct{}) {
	err := w.client.Debug().WatchIdle(stop)
	if err == nil {
		// Stopped, or nothing to watch (replies still due): either way
		// wait here for the next operation (or Close) to close stop,
		// never in a loop.
		<-stop
		return
	}
	l := w.l
	l.mu.Lock()
	if l.idleStop == stop {
		l.idleStop = nil
	}
	l.working = true // next signals once this is published
	l.mu.Unlock()
	w.batch = nil
	var gone *protocol.ServerDisconnectedError
	if !errors.As(err, &gone) {
		err = fmt.Errorf("unsolicited, while no command was outstanding: %w; the connection is closed", err)
	}
	w.fail(err)
	w.finish()
}

// quiet says no operation is queued or running; tests wait for it.
func (l *Live) quiet() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue) == 0 && !l.working
}

// Trace implements protocol.Tracer for the worker's client. Events of an
// abandoned worker are dropped: its connection is already reported gone.
func (w *worker) Trace(e protocol.Event) {
	w.gate.Lock()
	defer w.gate.Unlock()
	if w.dead {
		return
	}
	l := w.l
	l.mu.Lock()
	if l.cur != w {
		l.mu.Unlock()
		return
	}
	s := &l.snap
	var handshake *TLSSummary
	switch e.Kind {
	case protocol.EventConnect:
		s.Server, l.network = e.Addr, e.Network
	case protocol.EventSend:
		s.BytesOut += int64(len(e.Data))
	case protocol.EventRecv:
		s.BytesIn += int64(len(e.Data))
	case protocol.EventTLS:
		s.TLS = l.summarize(e)
		handshake = s.TLS
		if e.TLSErr == nil {
			s.ExtensionsStale = len(s.Extensions) > 0
		}
	case protocol.EventState:
		s.State = e.State
		s.Connected = e.State.Phase != protocol.PhaseDisconnected
		// The tracer runs inside the client's own call, on the worker
		// goroutine, so reading the client here is not concurrent use.
		w.syncExtensions()
	case protocol.EventClose:
		s.Connected, s.State = false, protocol.State{}
	}
	l.mu.Unlock()
	if handshake != nil {
		l.capture.traceHandshake(e, handshake)
	} else {
		l.capture.Trace(e)
	}
	l.signal()
}

// syncExtensions takes the extension list from the client whenever it
// holds an EHLO answer; after STARTTLS it holds none, and the old list
// stays, marked stale. Called with l.mu held.
func (w *worker) syncExtensions() {
	if w.client == nil {
		return
	}
	if _, ok := w.client.EhloResp(); ok {
		w.l.snap.Extensions = w.client.Extensions()
		w.l.snap.ExtensionsStale = false
	}
}

// emit runs f if w is still the current worker, in order with w's events.
func (w *worker) emit(f func()) {
	w.gate.Lock()
	defer w.gate.Unlock()
	w.l.mu.Lock()
	current := w.l.cur == w && !w.dead
	w.l.mu.Unlock()
	if current {
		f()
	}
}

func (w *worker) note(text string) {
	w.emit(func() { w.l.capture.Note(text) })
	w.l.signal()
}

// fail reports err and stops the pasted block it belongs to.
func (w *worker) fail(err error) {
	text, _ := w.l.scrub.ScrubString(err.Error())
	w.emit(func() {
		w.l.capture.Note("error: " + text)
		w.l.mu.Lock()
		w.l.snap.LastError = SanitizeText(text)
		w.l.mu.Unlock()
	})
	w.stopBatch()
	w.l.signal()
}

// stopBatch drops the rest of the current pasted block.
func (w *worker) stopBatch() {
	b := w.batch
	if b == nil || b.stopped {
		return
	}
	l := w.l
	l.mu.Lock()
	// Under the lock: Snapshot reads it to leave a stopped block's lines
	// out of the queue it shows (only this goroutine writes it).
	b.stopped = true
	n := 0
	kept := l.queue[:0:0]
	for _, o := range l.queue {
		if o.batch == b {
			n++
			continue
		}
		kept = append(kept, o)
	}
	if l.cur == w {
		l.queue = kept
	}
	l.mu.Unlock()
	if n > 0 {
		w.note(fmt.Sprintf("pasted input stopped: %d remaining line(s) not sent", n))
	}
}

// begin marks the start of network work labelled label. False means w may
// no longer do any: Live was closed or w abandoned.
func (w *worker) begin(label string) bool {
	l := w.l
	l.mu.Lock()
	if l.cur != w || l.closed {
		l.mu.Unlock()
		return false
	}
	l.snap.Busy, l.snap.BusySince, l.snap.Pending = true, time.Now(), label
	l.snap.LastError = ""
	l.mu.Unlock()
	l.signal()
	return true
}

// finish publishes the worker's state after an operation.
func (w *worker) finish() {
	if w.client == nil || !w.client.Connected() {
		w.leaveMode()
	}
	l := w.l
	l.mu.Lock()
	if l.cur == w {
		s := &l.snap
		if w.client != nil {
			s.Connected, s.State = w.client.Connected(), w.client.State()
			w.syncExtensions()
		} else {
			s.Connected = false
		}
		s.Busy, s.BusySince, s.Pending = false, time.Time{}, ""
		s.Mode, s.Challenge, s.SecretInput, s.DataLines = w.mode, w.challenge, w.secret, len(w.data)
		s.DataTail = slices.Clone(w.data[max(0, len(w.data)-DataTailLines):])
	}
	l.mu.Unlock()
	l.signal()
}

func (w *worker) clientLocked() *protocol.Client {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.client
}

func (w *worker) connected() bool { return w.client != nil && w.client.Connected() }

// ready checks that an smtplib-level operation can run: in ModeAuth or
// ModeData the server is waiting for something else, and a command sent
// now would be read as an AUTH answer or as message text.
func (w *worker) ready() bool {
	switch {
	case !w.connected():
		w.fail(errNotConnected)
	case w.mode == ModeAuth:
		w.fail(errors.New("the server is waiting for an answer to its AUTH challenge: answer it, or type * to cancel"))
	case w.mode == ModeData:
		w.fail(errors.New("the server is reading a message: end it with a line holding a lone \".\", or cancel to abandon it"))
	default:
		return true
	}
	return false
}

func (w *worker) leaveMode() {
	w.mode, w.challenge, w.secret, w.data = ModeCommand, "", false, nil
}

func (w *worker) connect() {
	if !w.begin("connect") {
		return
	}
	l := w.l
	if w.client != nil {
		if w.client.Connected() {
			w.note("closing the current connection to reconnect")
		}
		w.client.Close()
	}
	w.leaveMode()
	if r := l.cfg.route; r != nil {
		w.connectRoute(r)
		return
	}
	if err := w.dial(l.cfg.Server, l.cfg.Port, l.cfg.Options.TLSConfig); err != nil {
		w.fail(err)
	}
}

// connectRoute tries the route's addresses in order until one greets with
// 220, as SendRoute does: a failure to connect or a bad greeting moves on
// to the next address or host, said in a note. Whatever happens after the
// greeting (TLS included) is the user's to see, on that host.
func (w *worker) connectRoute(r *Route) {
	l := w.l
	tried := 0
	var failed string
	var last error
	for _, h := range r.hosts {
		for _, a := range h.host.Addrs {
			if tried == MaxAttempts {
				w.note(attemptsSpent)
				w.fail(last)
				return
			}
			if failed != "" {
				w.note(failed + tryingNext)
			}
			tried++
			l.mu.Lock()
			r.use(h, a)
			l.snap.Route = r.snapshot()
			tc := h.tls
			if l.pinned != "" {
				tc = pinnedTLS(h.tls, l.pinned)
			}
			l.mu.Unlock()
			last = w.dial(r.server(a), 0, tc)
			if last == nil || !w.current() || !redialable(last) {
				if last != nil {
					w.fail(last)
				}
				return
			}
			failed = attemptFailed(h.host, a, last)
		}
	}
	if last == nil {
		last = errors.New("the route has no address to connect to")
	}
	w.fail(last)
}

// current says w is still the worker whose work counts: not abandoned by
// Cancel, and Live not closed.
func (w *worker) current() bool {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.cur == w && !w.l.closed
}

// dial opens a connection to server with a fresh protocol.Client and
// reads the greeting; a greeting other than 220 closes it again.
func (w *worker) dial(server string, port int, tc *tls.Config) error {
	l := w.l
	opts := l.cfg.Options
	opts.Tracer, opts.TLSConfig = w, tc
	c := protocol.NewClient(l.cfg.Kind, opts)
	l.mu.Lock()
	if l.cur != w || l.closed {
		// Cancelled or closed before this client existed, so nothing
		// would abort it: do not connect at all.
		l.mu.Unlock()
		return errAbandoned
	}
	w.client = c
	s := &l.snap
	s.Extensions, s.ExtensionsStale, s.TLS = nil, false, nil
	s.BytesIn, s.BytesOut, s.Started = 0, 0, time.Now()
	s.State = protocol.State{}
	l.mu.Unlock()

	r, err := c.Connect(server, port)
	if err != nil {
		if isTimeout(err) {
			err = hintGreeting(err, SendConfig{Kind: l.cfg.Kind, Timeout: l.cfg.Options.Timeout})
		}
		c.Close()
		return err
	}
	if r.Code != 220 {
		c.Close()
		return &protocol.ConnectError{ResponseError: protocol.ResponseError(r)}
	}
	// The greeting and a reply nobody asked for in one segment (F15)
	// would otherwise be taken as the answer to the user's first command.
	if err := c.Debug().CheckUnsolicited(); err != nil {
		w.fail(err)
	}
	return nil
}

func (w *worker) quit() {
	if !w.connected() {
		w.fail(errNotConnected)
		return
	}
	if w.mode == ModeData {
		w.abandonData("quit")
		return
	}
	if !w.begin("QUIT") {
		return
	}
	if w.mode == ModeAuth {
		w.leaveMode()
		if _, err := w.client.Debug().AuthCancel(); err != nil {
			w.fail(err)
			return
		}
	}
	if _, err := w.client.Quit(); err != nil {
		w.fail(err)
	}
}

// abandonData leaves ModeData the only safe way: closing the connection
// without the final dot, so the server discards the transaction
// (security-anchors §2.2 rule 5).
func (w *worker) abandonData(why string) {
	if w.mode != ModeData {
		return
	}
	n := len(w.data)
	w.leaveMode()
	if w.client != nil {
		w.client.Close()
	}
	w.note(fmt.Sprintf("%s: message of %d line(s) abandoned; the connection was closed without ending DATA, so the server discards it", why, n))
}

func (w *worker) input(line string) {
	switch w.mode {
	case ModeAuth:
		w.authLine(line)
	case ModeData:
		w.dataLine(line)
	default:
		w.command(line)
	}
}

// command sends a line typed in ModeCommand as it is.
func (w *worker) command(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	if strings.HasPrefix(strings.TrimLeft(line, " \t"), "/") {
		// The line is not echoed: it may be "/auth PLAIN user password".
		w.fail(errors.New("a line starting with \"/\" is an ehlo command, not sent to the server; give it on a line of its own"))
		return
	}
	if !w.connected() {
		w.fail(errNotConnected)
		return
	}
	// The verb as the server and protocol read it: "AUTH\tLOGIN" and
	// " AUTH LOGIN" are AUTH, and their answers must be secret.
	verb, _ := protocol.SplitCommand(line)
	if !w.begin(label(verb)) {
		return
	}
	if verb == "AUTH" {
		w.authIR, w.answers = w.learnInitialResponse(line), 0
	}
	r, err := w.client.Debug().Raw(line)
	if err != nil {
		w.fail(err)
		return
	}
	switch {
	case verb == "AUTH" && r.Code == 334:
		w.mode = ModeAuth
		w.setChallenge(r.Message)
	case verb == "DATA" && r.Code == 354:
		w.mode, w.data = ModeData, nil
	}
	if r.Code >= 400 {
		w.stopBatch()
	}
}

// label is what Pending shows for a raw command: the verb only, since the
// arguments may be a secret, bounded and made safe to show.
func label(verb string) string {
	if utf8.RuneCountInString(verb) > 16 {
		verb = string([]rune(verb)[:16]) + "…"
	}
	return SanitizeString(verb)
}

// learnInitialResponse adds the secret in a typed "AUTH MECH ir" to the
// Scrubber before it is sent, so that a server quoting it back is scrubbed
// as well as the marked line itself (security-anchors C9, C10). The initial
// responses of LOGIN (the user name, readable by design), EXTERNAL (an
// authorisation identity) and ANONYMOUS (a trace string) are not secrets,
// and scrubbing them would blank ordinary text such as the user's address.
// It reports whether there was an initial response.
func (w *worker) learnInitialResponse(line string) bool {
	mech, span, _ := protocol.AuthCommand(line)
	ir := strings.TrimSpace(line[span.Start:span.End])
	if ir == "" {
		return false
	}
	if ir == "=" { // RFC 4954: an empty initial response
		return true
	}
	s := w.l.scrub
	dec, err := base64.StdEncoding.DecodeString(ir)
	switch mech {
	case "LOGIN", "EXTERNAL", "ANONYMOUS":
		return true
	case "PLAIN":
		if parts := bytes.Split(dec, []byte{0}); err == nil && len(parts) == 3 {
			s.AddPlain(string(parts[0]), string(parts[1]), string(parts[2]))
			return true
		}
	case "XOAUTH2":
		if u, t, ok := parseXOAUTH2(dec); err == nil && ok {
			s.AddXOAUTH2(u, t)
			return true
		}
	}
	s.Add(ir)
	if err == nil {
		s.Add(string(dec))
	}
	return true
}

func parseXOAUTH2(b []byte) (user, token string, ok bool) {
	fields := strings.Split(string(b), "\x01")
	for _, f := range fields {
		switch {
		case strings.HasPrefix(f, "user="):
			user = f[len("user="):]
		case strings.HasPrefix(f, "auth=Bearer "):
			token, ok = f[len("auth=Bearer "):], true
		}
	}
	return user, token, ok
}

// setChallenge shows a 334 challenge and decides whether the answer is a
// secret. Only the first answer, with no initial response sent, to a
// challenge that reads as a user-name prompt is not: the mark follows what
// the client sends, never what the server says it wants, so a password
// prompt labelled "Username:" still gets a masked answer (C4).
func (w *worker) setChallenge(text string) {
	dec, err := protocol.DecodeChallenge(text)
	if err != nil {
		w.challenge, w.secret = SanitizeString(text), true
		w.note("the 334 challenge is not base64; answer it anyway, or type * to cancel")
		return
	}
	w.challenge = SanitizeString(string(dec))
	w.secret = w.authIR || w.answers > 0 || !isUserPrompt(string(dec))
}

func isUserPrompt(s string) bool {
	s = strings.ToLower(strings.Trim(s, " \t\x00"))
	s = strings.TrimSpace(strings.TrimSuffix(s, ":"))
	return s == "username" || s == "user name" || s == "user"
}

// authLine answers a 334 challenge with what was typed, or cancels on "*".
func (w *worker) authLine(line string) {
	if !w.connected() {
		w.leaveMode()
		w.fail(errNotConnected)
		return
	}
	if !w.begin("AUTH") {
		return
	}
	if line == "*" {
		w.leaveMode()
		if _, err := w.client.Debug().AuthCancel(); err != nil {
			w.fail(err)
		}
		return
	}
	if w.secret {
		w.l.scrub.Add(line)
	}
	w.answers++
	r, err := w.client.Debug().AuthRespond([]byte(line))
	if err != nil {
		w.leaveMode()
		w.fail(err)
		return
	}
	if r.Code == 334 {
		w.setChallenge(r.Message)
		return
	}
	w.leaveMode()
	if r.Code >= 400 {
		w.stopBatch()
	}
}

// dataLine adds a message line, or sends the message on a lone ".".
func (w *worker) dataLine(line string) {
	if line != "." {
		if i := strings.IndexByte(line, 0); i >= 0 {
			// Refused here so the editor goes on; the encoder would
			// refuse it only after DATA, at the cost of the connection.
			w.fail(fmt.Errorf("NUL byte at offset %d: the line was not added to the message", i))
			return
		}
		w.data = append(w.data, line)
		return
	}
	if !w.connected() {
		w.leaveMode()
		w.fail(errNotConnected)
		return
	}
	if !w.begin("end of DATA") {
		return
	}
	msg := strings.Join(w.data, "\r\n")
	if len(w.data) > 0 {
		msg += "\r\n"
	}
	w.leaveMode()
	r, err := w.client.Debug().SendData(strings.NewReader(msg))
	if err != nil {
		w.fail(err)
		return
	}
	if r.Code >= 400 {
		w.stopBatch()
	}
}

// splitLines cuts input at CRLF, CR or LF. One line end at the very end
// does not make an empty last line, so a pasted block that ends with a
// newline is the lines it shows.
func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > 1 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// RedactHistory returns what the composer may keep in its history (and
// Ctrl+R search) of text submitted in ModeCommand: an AUTH line keeps its
// verb and mechanism but not its initial response, and in a pasted block
// every line after an AUTH line becomes Marker, since it may be an answer to
// a challenge (security-anchors §4.3 rule 2, C10). Text typed in ModeAuth
// while Snapshot.SecretInput is set must not be kept at all.
func RedactHistory(text string) string {
	lines := splitLines(text)
	auth := false
	for i, line := range lines {
		if auth {
			lines[i] = Marker
			continue
		}
		_, ir, ok := protocol.AuthCommand(line)
		if !ok {
			continue
		}
		auth = true
		if protocol.IsSecretResponse(line[ir.Start:ir.End]) {
			lines[i] = strings.TrimRight(line[:ir.Start], " \t") + " " + Marker
		}
	}
	return strings.Join(lines, "\n")
}

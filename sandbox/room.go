package sandbox

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The room is what an instructor sees of a workshop sandbox: every
// session's summary (Sessions), its wire log followed live (Watch), and
// faults switched on and off for one user or for everyone (SetFault). It
// is on when Config.Workshop or Config.OnSessionEnd is set; otherwise the
// sessions carry no record and pay nothing for it.

// Bounds on what the room keeps. A session's wire log keeps its newest
// wireMaxLines lines within wireMaxBytes, line headers counted (older
// ones are counted in a first "… N earlier lines dropped" line), each
// line at most maxLogLine characters as escape renders it. A closed log
// is trimmed to its lines, a live one may have as much again of spare
// capacity, so the room holds at most (2 × MaxSessions + closedKept) ×
// wireMaxBytes of logs: 48 MiB at the defaults, and a few MiB in a class.
const (
	closedKept    = 256
	wireMaxLines  = 2000
	wireMaxBytes  = 64 << 10
	watchBuffer   = 512
	bodyLinesKept = 200
	// wireLineHeader is what a WireLine costs besides its text: a
	// time.Time, a bool (padded) and a string header, on 64 bits.
	wireLineHeader = 48
)

// roomLogBytes is the most the room's wire logs may hold (see above).
func roomLogBytes(cfg Config) int64 {
	return int64(2*cfg.MaxSessions+closedKept) * wireMaxBytes
}

// SessionInfo is one session as the instructor's list shows it.
type SessionInfo struct {
	ID          uint64
	Remote      string
	Local       string // the address the session reached: a listener's host:port, or the Unix socket's path
	User        string // AUTH user, "" before AUTH
	Phase       string // "connected", "greeted", "hello", "mail", "rcpt", "data", "closed"
	TLS         bool
	LastCommand string // escaped as the log is; AUTH shown as "AUTH PLAIN ***"
	Errors      int    // 4xx and 5xx replies sent
	Messages    int    // accepted messages
	Started     time.Time
	LastActive  time.Time
	Closed      bool
	Fault       string // the room's and the user's fault specs in effect, "" for none
}

// WireLine is one line of a session as it crossed the wire, without its
// CRLF (a bare LF shows as a trailing \n). Text is escaped as the session
// log is (control and invalid bytes as \xHH, a backslash doubled, at most
// 300 characters then "… (N more bytes)"), so it is safe on a terminal;
// AUTH secrets are "***"; of a DATA body the first 200 lines are kept
// (dot-stuffed as sent) and one line counts the rest. Client is false for
// server lines and for the room's own notes ("… N lines dropped").
type WireLine struct {
	At     time.Time
	Client bool
	Text   string
	TLS    bool // the line crossed inside TLS (the reply to STARTTLS does not)
}

// room tracks the sessions and the faults set at run time.
type room struct {
	srv *Server

	mu     sync.Mutex
	live   map[uint64]*record
	closed []*record // oldest first, at most closedKept
	faults map[string]Fault
	cfgs   map[string]*Config // the Config a user's sessions run with, built on demand
	gen    atomic.Uint64      // bumped at every SetFault and ClearFault
}

// record is one session's summary and wire log.
type record struct {
	mu       sync.Mutex
	info     SessionInfo
	lines    []WireLine
	bytes    int
	dropped  int // oldest lines let go to stay within the bounds
	watchers map[*watcher]struct{}
}

type watcher struct {
	ch      chan WireLine
	dropped int
}

func newRoom(s *Server) *room {
	rm := &room{srv: s, live: map[uint64]*record{}, faults: map[string]Fault{}}
	rm.gen.Store(1) // a session's faultGen of 0 means "never looked"
	return rm
}

// open starts the record of a new session and gives it the room's faults.
func (rm *room) open(c *conn, id uint64) {
	now := time.Now()
	rec := &record{info: SessionInfo{ID: id, Remote: remoteName(c), Local: c.raw.LocalAddr().String(), Phase: "connected",
		Started: now, LastActive: now, TLS: c.implicit}}
	c.sess = rec
	rm.mu.Lock()
	rm.live[id] = rec
	rm.mu.Unlock()
	c.refreshFaults()
	rec.mu.Lock()
	rec.info.Fault = c.faultSpecs
	rec.mu.Unlock()
}

func remoteName(c *conn) string {
	remote := c.raw.RemoteAddr().String()
	if remote == "" || remote == "@" {
		remote = "unix socket " + c.cfg.Socket
	}
	return remote
}

// close ends a session's record, closes its watchers and hands its log
// to OnSessionEnd.
func (rm *room) close(c *conn) {
	rec := c.sess
	rec.mu.Lock()
	rec.info.Closed, rec.info.Phase, rec.info.LastActive = true, "closed", time.Now()
	for w := range rec.watchers {
		w.finish()
	}
	rec.watchers = nil
	info, lines := rec.info, rec.snapshot()
	// A closed log no longer grows: let its spare capacity go, so the
	// closed sessions kept cost their lines and no more.
	rec.lines = slices.Clone(rec.lines)
	rec.mu.Unlock()
	rm.mu.Lock()
	delete(rm.live, info.ID)
	if len(rm.closed) == closedKept {
		rm.closed[0] = nil
		rm.closed = rm.closed[1:]
	}
	rm.closed = append(rm.closed, rec)
	rm.mu.Unlock()
	if f := rm.srv.cfg.OnSessionEnd; f != nil {
		f(info, lines)
	}
}

// snapshot copies the log, with a first line counting what was dropped.
func (rec *record) snapshot() []WireLine {
	out := make([]WireLine, 0, len(rec.lines)+1)
	if rec.dropped > 0 {
		at := rec.info.Started
		if len(rec.lines) > 0 {
			at = rec.lines[0].At
		}
		out = append(out, WireLine{At: at, Text: fmt.Sprintf("… %d earlier lines dropped", rec.dropped)})
	}
	return append(out, rec.lines...)
}

// add appends lines to the log and to every watcher that keeps up.
func (rec *record) add(lines ...WireLine) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, l := range lines {
		rec.lines = append(rec.lines, l)
		rec.bytes += len(l.Text) + wireLineHeader
		for w := range rec.watchers {
			w.send(l)
		}
	}
	if len(rec.lines) > wireMaxLines || rec.bytes > wireMaxBytes {
		// Let the oldest quarter go at once, so trimming is rare.
		n := max(len(rec.lines)/4, 1)
		for _, l := range rec.lines[:n] {
			rec.bytes -= len(l.Text) + wireLineHeader
		}
		rec.lines = slices.Delete(rec.lines, 0, n)
		rec.dropped += n
	}
}

// send never blocks: the last slot of the channel is kept for the final
// count of lines a slow reader lost.
func (w *watcher) send(l WireLine) {
	if len(w.ch) < cap(w.ch)-1 {
		w.ch <- l
		return
	}
	w.dropped++
}

func (w *watcher) finish() {
	if w.dropped > 0 {
		w.ch <- WireLine{At: time.Now(), Text: fmt.Sprintf("… %d lines dropped", w.dropped)}
	}
	close(w.ch)
}

// Sessions lists the live sessions and the last 256 closed ones, by ID.
// It is empty unless Config.Workshop or Config.OnSessionEnd is set.
func (s *Server) Sessions() []SessionInfo {
	if s.room == nil {
		return nil
	}
	rm := s.room
	rm.mu.Lock()
	recs := make([]*record, 0, len(rm.live)+len(rm.closed))
	for _, r := range rm.live {
		recs = append(recs, r)
	}
	recs = append(recs, rm.closed...)
	rm.mu.Unlock()
	out := make([]SessionInfo, len(recs))
	for i, r := range recs {
		r.mu.Lock()
		out[i] = r.info
		r.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (rm *room) find(id uint64) *record {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if r := rm.live[id]; r != nil {
		return r
	}
	for _, r := range rm.closed {
		if r.info.ID == id {
			return r
		}
	}
	return nil
}

// Watch follows one session: backlog is its log so far, updates its next
// lines. updates is closed when the session ends or stop is called (stop
// may be called more than once). A reader that falls more than 512 lines
// behind loses the lines that do not fit, counted in a last "… N lines
// dropped" line; the session never waits for it. For a closed session
// updates is already closed. ok is false for an unknown id.
func (s *Server) Watch(id uint64) (backlog []WireLine, updates <-chan WireLine, stop func(), ok bool) {
	if s.room == nil {
		return nil, nil, func() {}, false
	}
	rec := s.room.find(id)
	if rec == nil {
		return nil, nil, func() {}, false
	}
	w := &watcher{ch: make(chan WireLine, watchBuffer)}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	backlog = rec.snapshot()
	if rec.info.Closed {
		close(w.ch)
		return backlog, w.ch, func() {}, true
	}
	if rec.watchers == nil {
		rec.watchers = map[*watcher]struct{}{}
	}
	rec.watchers[w] = struct{}{}
	stop = func() {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if _, on := rec.watchers[w]; on {
			delete(rec.watchers, w)
			w.finish()
		}
	}
	return backlog, w.ch, stop, true
}

// faultsAtStartOnly are the kinds SetFault refuses: they shape the
// listener or the TLS configuration, which exist before any session.
var faultsAtStartOnly = map[FaultKind]bool{FaultTLSLegacy: true}

// SetFault switches a fault on for one user's sessions, or for the whole
// room when user is "". spec is what --fault takes (ParseFault); it
// replaces the fault set before for the same user, and adds to the
// sandbox's own --fault list. A session picks it up at its next command
// (a user's fault once that session has authenticated as the user), and
// a new session at once. It needs Config.Workshop.
func (s *Server) SetFault(user, spec string) error {
	if s.room == nil || !s.cfg.Workshop {
		return errors.New("sandbox: faults per user need a workshop sandbox")
	}
	if _, ok := s.cfg.Users[user]; user != "" && !ok {
		return fmt.Errorf("sandbox: no user %q", user)
	}
	f, err := ParseFault(spec)
	if err != nil {
		return err
	}
	if faultsAtStartOnly[f.Kind] {
		return fmt.Errorf("sandbox: %s applies only from the start (--fault %s)", f.Kind, spec)
	}
	s.room.mu.Lock()
	s.room.faults[user] = f
	s.room.cfgs = nil
	s.room.gen.Add(1)
	s.room.mu.Unlock()
	return nil
}

// ClearFault switches off the fault SetFault set for user ("" for the
// room's). The sandbox's own --fault list stays.
func (s *Server) ClearFault(user string) {
	if s.room == nil {
		return
	}
	s.room.mu.Lock()
	delete(s.room.faults, user)
	s.room.cfgs = nil
	s.room.gen.Add(1)
	s.room.mu.Unlock()
}

// FaultNames are the fault specs an instructor can pick from a list, each
// one a lesson (docs/sandbox.md); SetFault takes any other spec too.
func FaultNames() []string {
	return []string{
		"421",             // the server gives up now
		"421:rcpt",        // … in the middle of a transaction
		"delay=2s",        // a slow server: every reply waits
		"delay:rcpt=3s",   // a slow recipient check
		"drip:mail=200ms", // a reply that arrives byte by byte
		"refuse-rcpt",     // every recipient refused
		"refuse-sender",   // the sender refused
		"require-auth",    // MAIL before AUTH refused
		"reply:rcpt=450 4.2.1 Mailbox busy, try again later", // a temporary failure
		"reply:dot=451 4.3.0 Try again later",                // refused after the data
		"silent:dot",                                         // stored, never confirmed
		"drop:mail",                                          // the connection drops
		"unsolicited-421:mail",                               // a 421 nobody asked for
		"relay-denied",                                       // a closed relay
		"malformed:ehlo=mixed",                               // a broken multi-line reply
		"pipeline-short",                                     // a reply missing from a pipelined group
	}
}

// configFor is the Config a session of user runs with: the sandbox's,
// with the room's fault and the user's appended to its faults.
func (rm *room) configFor(user string) (*Config, string) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	roomF, hasRoom := rm.faults[""]
	userF, hasUser := rm.faults[user]
	if user == "" {
		hasUser = false
	}
	if !hasRoom && !hasUser {
		return &rm.srv.cfg, ""
	}
	var specs []string
	if rm.cfgs == nil {
		rm.cfgs = map[string]*Config{}
	}
	cfg := rm.cfgs[user]
	if cfg == nil {
		cp := rm.srv.cfg
		cp.Faults = slices.Clip(cp.Faults)
		if hasRoom {
			cp.Faults = append(cp.Faults, roomF)
		}
		if hasUser {
			cp.Faults = append(cp.Faults, userF)
		}
		cp.AllowInsecureAuth = cp.AllowInsecureAuth || allowsInsecureAuth(cp.Faults)
		cfg = &cp
		rm.cfgs[user] = cfg
	}
	if hasRoom {
		specs = append(specs, roomF.String())
	}
	if hasUser {
		specs = append(specs, userF.String())
	}
	return cfg, strings.Join(specs, ", ")
}

// refreshFaults gives the session the faults now set for its user, when
// they changed since its last command or it has authenticated since.
func (c *conn) refreshFaults() {
	rm := c.srv.room
	gen := rm.gen.Load()
	if gen == c.faultGen && c.authUser == c.faultUser {
		return
	}
	c.cfg, c.faultSpecs = rm.configFor(c.authUser)
	c.faultGen, c.faultUser = gen, c.authUser
}

// onCommand records a command line: the session's summary and its log.
func (c *conn) onCommand(verb, arg string, text []byte) {
	c.refreshFaults()
	shown := escape(text)
	if verb == "AUTH" {
		shown = authShown(arg)
	}
	now := time.Now()
	rec := c.sess
	rec.mu.Lock()
	rec.info.LastCommand, rec.info.LastActive, rec.info.Fault = shown, now, c.faultSpecs
	c.syncInfo(&rec.info)
	rec.mu.Unlock()
	c.wire(WireLine{At: now, Client: true, Text: shown})
}

// authShown is an AUTH command with its initial response hidden: the
// mechanism is the lesson, the response may be a real password.
func authShown(arg string) string {
	mech, ir := authMech(arg)
	switch {
	case mech == "":
		return "AUTH"
	case ir == "":
		return "AUTH " + escape([]byte(mech))
	}
	return "AUTH " + escape([]byte(mech)) + " ***"
}

// syncInfo copies what the session knows into its summary; rec.mu held.
func (c *conn) syncInfo(info *SessionInfo) {
	info.User, info.TLS = c.authUser, c.tls
	switch {
	case c.bdat:
		info.Phase = "data"
	case len(c.rcpts) > 0:
		info.Phase = "rcpt"
	case c.inTxn:
		info.Phase = "mail"
	case c.helo != "":
		info.Phase = "hello"
	default:
		info.Phase = "greeted"
	}
}

// wireReply records the lines of one reply as it goes out.
func (c *conn) wireReply(b []byte) {
	now := time.Now()
	var lines []WireLine
	replyLines(b, func(text string) { lines = append(lines, WireLine{At: now, Text: text}) })
	rec := c.sess
	rec.mu.Lock()
	rec.info.LastActive = now
	c.syncInfo(&rec.info)
	if len(lines) > 0 {
		code := lines[0].Text
		if code != "" && (code[0] == '4' || code[0] == '5') {
			rec.info.Errors++
		}
		if strings.HasPrefix(code, "354") {
			rec.info.Phase = "data"
		}
	}
	rec.mu.Unlock()
	c.wire(lines...)
}

// wireClient records a line the client sent outside a command: an AUTH
// response ("***") or the end of DATA.
func (c *conn) wireClient(text string) {
	c.wire(WireLine{At: time.Now(), Client: true, Text: text})
}

// wireBody records a DATA body: its first bodyLinesKept lines as they
// were sent (dot-stuffed again), one line counting the rest, then the
// final dot. n counts every octet received, kept or not.
func (c *conn) wireBody(n int) {
	now := time.Now()
	var lines []WireLine
	body := c.data
	kept := 0
	for len(body) > 0 && kept < bodyLinesKept {
		i := bytes.IndexByte(body, '\n')
		var line []byte
		if i < 0 {
			line, body = body, nil
		} else {
			line, body = body[:i+1], body[i+1:]
		}
		text, eol := trimEOL(line)
		if len(text) > 0 && text[0] == '.' {
			text = append([]byte{'.'}, text...)
		}
		lines = append(lines, WireLine{At: now, Client: true, Text: escape(text) + eol})
		kept++
	}
	if len(c.data) == 0 && n > 0 {
		lines = append(lines, WireLine{At: now, Client: true, Text: "<message: " + strconv.Itoa(n) + " octets, not kept>"})
	} else if len(body) > 0 {
		lines = append(lines, WireLine{At: now, Client: true,
			Text: fmt.Sprintf("<… %d more lines, %d octets in all>", bytes.Count(body, []byte("\n")), n)})
	}
	lines = append(lines, WireLine{At: now, Client: true, Text: "."})
	c.wire(lines...)
}

// wire adds lines to the session's log, each marked with whether the
// session was inside TLS when it crossed.
func (c *conn) wire(lines ...WireLine) {
	for i := range lines {
		lines[i].TLS = c.tls
	}
	c.sess.add(lines...)
}

// countMessage adds an accepted message to the session's summary.
func (c *conn) countMessage() {
	c.sess.mu.Lock()
	c.sess.info.Messages++
	c.sess.mu.Unlock()
}

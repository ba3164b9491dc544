package recordings

import (
	"bytes"
	"errors"
	"iter"
	"net"
	"slices"
	"strings"

	"github.com/ehlo-dev/ehlo/session"
)

// A recording seen as a script: what the client said, turn by turn, and
// the replies the server gave to each. `replay --serve` has the sandbox
// play the server's side of it (ServeScript); the Markdown and JSON
// exports summarise it.

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
	verb  string // for a command: its verb, upper case, as session read it
	last  bool   // for a command: BDAT … LAST, whose chunk ends a message
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
	return string(session.TrimEOL(r.lines[len(r.lines)-1]))
}

// scriptRun is one connection of a recording: a connect … close run.
type scriptRun struct {
	greeting []scriptReply
	turns    []turn
	// implicitTLS: the run's bytes went through TLS from the first one.
	implicitTLS bool
	// tls is the last completed handshake's summary, if any.
	tls      *session.TLSSummary
	startTLS bool // a STARTTLS was answered 220 and TLS started
	failed   *session.TLSSummary
	closed   bool // the recording has a close event for this run
	// midway: the recording began with this connection already open
	// (a snapshot), so its greeting and anything before are missing.
	midway   bool
	answered int // turns before this one have replies (assignReply)
}

// buildScript cuts a recording's events into runs and turns; h is the
// recording's header.
func buildScript(h Header, events []session.Event) []*scriptRun {
	return buildScriptSeq(h, slices.All(events), nil)
}

// buildScriptSeq is buildScript over events read one at a time: it keeps
// copies of the reply lines, not the events (an export's summary pass).
// settled, if not nil, is called with the current run after each event,
// and may take its turns before turns[answered-1] away (summarize folds
// them), so that a run of any length is held in bounded memory.
func buildScriptSeq(h Header, events iter.Seq2[int, session.Event], settled func(*scriptRun)) []*scriptRun {
	c := scriptCut{follow: session.NewAnnotator(h.lmtp())}
	for i, e := range events {
		c.event(i, e)
		if settled != nil {
			settled(c.cur)
		}
	}
	if c.cur != nil {
		c.flushReply()
	}
	return c.runs
}

// scriptCut is buildScriptSeq's state between events: the run under way
// and what of it is still incomplete. What the client's bytes are and
// where a reply line ends it reads from the events' Parts.
type scriptCut struct {
	runs    []*scriptRun
	cur     *scriptRun
	follow  *session.Annotator // for events that come without Parts
	inBody  bool               // the last turn is a body still being sent
	reply   scriptReply
	sawData bool // the run has carried client or server bytes
}

// event takes the recording's event i: a connect after anything starts a
// new run.
func (c *scriptCut) event(i int, e session.Event) {
	c.follow.Annotate(&e)
	if c.cur == nil || (e.Kind == session.KindConnect && (c.sawData || len(c.cur.turns) > 0 || c.cur.closed)) {
		if c.cur != nil {
			c.flushReply()
		}
		c.cur = &scriptRun{}
		c.runs = append(c.runs, c.cur)
		c.inBody, c.reply, c.sawData = false, scriptReply{}, false
	}
	switch e.Kind {
	case session.KindSnapshot:
		c.cur.resume(e.Start)
	case session.KindTLS:
		c.handshake(e.Handshake)
	case session.KindClose:
		c.flushReply()
		c.cur.closed = true
	case session.KindServer:
		c.sawData = true
		c.server(e)
	case session.KindClient:
		c.sawData = true
		for _, p := range e.Segments() {
			c.client(i, p)
		}
	}
}

// handshake records a TLS handshake: from the first byte (implicit TLS)
// or after STARTTLS.
func (c *scriptCut) handshake(h *session.TLSSummary) {
	if h == nil {
		return
	}
	if !h.Complete {
		c.cur.failed = h
		return
	}
	c.cur.tls = h
	if !c.sawData {
		c.cur.implicitTLS = true
	} else {
		c.cur.startTLS = true
	}
}

// server adds the reply lines of one server event; each complete reply
// (its last line, or a line cut short) goes to the turn it answers.
func (c *scriptCut) server(e session.Event) {
	for start, p := range e.Segments() {
		line := e.Data[start:p.End]
		c.reply.lines = append(c.reply.lines, bytes.Clone(line))
		c.reply.code, _ = session.ReplyCode(session.TrimEOL(line))
		if !p.More || !p.Complete {
			c.flushReply()
		}
	}
}

// client adds one part of a client send, from event i: a command line
// (or the start of one) starts a command turn, an answer to a 334 an auth
// turn, message content a body turn.
func (c *scriptCut) client(i int, p session.Part) {
	switch {
	case p.Payload && p.Verb == "BDAT": // a BDAT chunk belongs to its BDAT command
	case p.Payload: // DATA's content, or the "." ending it
		if !c.inBody {
			c.cur.turns = append(c.cur.turns, turn{kind: turnBody, event: i})
			c.inBody = true
		}
		if p.Last {
			c.inBody = false
		}
	default:
		if !p.Cont || len(c.cur.turns) == 0 {
			c.cur.turns = append(c.cur.turns, turn{kind: turnCommand, event: i})
		}
		switch t := &c.cur.turns[len(c.cur.turns)-1]; {
		case !p.Complete:
		case p.Answer: // credentials, or their marker, not a verb
			t.kind = turnAuth
		default:
			t.verb, t.last = p.Verb, p.Last
		}
	}
}

// flushReply gives the reply read so far to its turn.
func (c *scriptCut) flushReply() {
	if len(c.reply.lines) == 0 {
		return
	}
	assignReply(c.cur, c.reply)
	c.reply = scriptReply{}
}

// resume marks a run the recording joined already connected, and keeps its
// TLS handshake for the summary.
func (r *scriptRun) resume(s *session.StartState) {
	if s == nil || !s.Connected {
		return
	}
	r.midway = true
	if h := s.Handshake; h != nil && h.Complete {
		r.tls = h
	}
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

// ScriptBuilder receives the server's side of a recording, connection by
// connection, for `ehlo replay --serve`. sandbox.Script is one: the
// sandbox serves the script with its own connection machinery, and this
// package, which must not depend on the sandbox, only reads recordings.
type ScriptBuilder interface {
	// Connection starts a recorded connection: its greeting, and whether
	// its bytes went through TLS from the first one.
	Connection(greeting []byte, implicitTLS bool)
	// Command, AuthResponse and Body add what the client sent next (a
	// command line, a line answering a 334, a DATA message), where it
	// starts in the recording (event, counted from 1), the server's
	// bytes in reply and the code of their last line.
	Command(event int, verb string, reply []byte, code string)
	AuthResponse(event int, reply []byte, code string)
	Body(event int, reply []byte, code string)
}

// ServeScript gives b the server's side of rec. Each connect … close run
// is a connection; each client turn gets the replies recorded for it:
// multi-line replies as they were, LMTP's one reply per recipient after
// the body, pipelined replies each with its command.
func ServeScript(rec *Recording, b ScriptBuilder) error {
	runs := buildScript(rec.Header, rec.Events)
	if len(runs) > 0 && runs[0].midway {
		// Its greeting and TLS upgrade are not in the recording: a client
		// could not get to where it starts.
		runs = runs[1:]
		if len(runs) == 0 {
			return errors.New("replay --serve: the recording begins mid-session, without the greeting; there is no whole connection to serve")
		}
	}
	if len(runs) == 0 {
		return errors.New("replay --serve: the recording holds no conversation")
	}
	for _, r := range runs {
		b.Connection(replyBytes(r.greeting), r.implicitTLS)
		for _, t := range r.turns {
			reply, code := replyBytes(t.replies), lastCode(t.replies)
			switch t.kind {
			case turnAuth:
				b.AuthResponse(t.event+1, reply, code)
			case turnBody:
				b.Body(t.event+1, reply, code)
			default:
				b.Command(t.event+1, t.verb, reply, code)
			}
		}
	}
	return nil
}

// replyBytes are replies as the server sent them, in one piece.
func replyBytes(replies []scriptReply) []byte {
	var b []byte
	for _, r := range replies {
		for _, l := range r.lines {
			b = append(b, l...)
		}
	}
	return b
}

func lastCode(replies []scriptReply) string {
	if len(replies) == 0 {
		return ""
	}
	return replies[len(replies)-1].code
}

// ServeHostname is the recorded server's host name when it is a DNS name,
// "" otherwise: `replay --serve` names its certificate after it too, so
// that a client can keep its --sni.
func ServeHostname(h Header) string {
	if h.Network == "unix" || strings.HasPrefix(h.Server, "/") {
		return ""
	}
	host := h.Server
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.Trim(host, "[]")
	if host == "" || host == "localhost" || net.ParseIP(host) != nil || !validDNSName(host) {
		return ""
	}
	return host
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

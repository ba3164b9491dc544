package sandbox

import (
	"context"
	"strconv"
	"strings"
)

// A Script is a recorded server side for the sandbox to play back instead
// of its own replies: `ehlo replay --serve`, a fake server that reproduces
// a client bug without the server that provoked it. The recording is read
// and cut into steps by ehlo's session package; the sandbox only serves
// the result, through its own listeners, connection cap, deadlines, line
// reader, strict DATA reader and certificate, so a replay is exactly as
// strict and as bounded as the sandbox.
//
// The zero Script is empty; Connection, Command, AuthResponse and Body
// append to it, which lets a package that must not import sandbox (the
// recording reader) fill one through an interface of its own.
type Script struct {
	// Conns are the recorded connections. The n-th client accepted plays
	// Conns[(n-1) % len(Conns)].
	Conns []ScriptConn
}

// ScriptConn is one recorded connection: connect … close.
type ScriptConn struct {
	Greeting []byte // sent as it is, possibly several lines
	// ImplicitTLS: the recorded bytes went through TLS from the first
	// one, so each client playing it starts with a TLS handshake.
	ImplicitTLS bool
	Steps       []Step
}

// StepKind says what the client sent for a step.
type StepKind uint8

const (
	StepCommand StepKind = iota // a command line
	StepAuth                    // a line answering a 334 challenge
	StepBody                    // a DATA message, up to CRLF.CRLF
)

// Step is one thing the recorded client sent and what the server answered.
type Step struct {
	Kind  StepKind
	Verb  string // StepCommand: the verb, upper case
	Event int    // where it starts in the recording, counted from 1, for the log
	Reply []byte // the server's bytes, as received: every line, every reply (LMTP's one per recipient)
	Code  string // the code of the reply's last line ("354"), which says what comes next
}

// Connection starts a recorded connection.
func (s *Script) Connection(greeting []byte, implicitTLS bool) {
	s.Conns = append(s.Conns, ScriptConn{Greeting: greeting, ImplicitTLS: implicitTLS})
}

// Command adds a recorded command line and its reply to the last
// connection.
func (s *Script) Command(event int, verb string, reply []byte, code string) {
	s.add(Step{Kind: StepCommand, Verb: verb, Event: event, Reply: reply, Code: code})
}

// AuthResponse adds a line that answered a 334, and its reply.
func (s *Script) AuthResponse(event int, reply []byte, code string) {
	s.add(Step{Kind: StepAuth, Event: event, Reply: reply, Code: code})
}

// Body adds a DATA message and the reply (or LMTP replies) to it.
func (s *Script) Body(event int, reply []byte, code string) {
	s.add(Step{Kind: StepBody, Event: event, Reply: reply, Code: code})
}

func (s *Script) add(st Step) {
	if len(s.Conns) == 0 {
		s.Connection(nil, false)
	}
	c := &s.Conns[len(s.Conns)-1]
	c.Steps = append(c.Steps, st)
}

// endOfRecording is the reply to a command the recording has no step for.
const endOfRecording = "421 4.3.0 ehlo replay: the recording ends here\r\n"

// replaying is a session's place in the recorded connection it plays.
type replaying struct {
	run  *ScriptConn
	n, N int  // which recorded connection, of how many (from 1)
	pos  int  // the next step
	auth bool // the last reply was a 334 in an AUTH exchange
}

// newReplaying picks the recorded connection the id-th session plays.
func newReplaying(sc *Script, id int64) *replaying {
	i := int((id - 1) % int64(len(sc.Conns)))
	return &replaying{run: &sc.Conns[i], n: i + 1, N: len(sc.Conns)}
}

// replayGreeting stands for the sandbox's greeting.
func (c *conn) replayGreeting() error {
	p := c.replay
	c.note("playing connection %d of %d of the recording", p.n, p.N)
	return c.emit(StageGreeting, p.run.Greeting)
}

// replayLine stands for dispatch: it answers one client line with the
// step the recording has at this point. Where the client departs from
// the recording it says so on the log and answers best-effort with the
// recorded reply, so the client sees what the server would have said
// next. An AUTH exchange is answered whatever the client sends, since a
// recording's credentials are redacted anyway (security-anchors I7).
func (c *conn) replayLine(raw []byte) error {
	p := c.replay
	text, eol := trimEOL(raw)
	verb, arg, _ := strings.Cut(string(text), " ")
	verb = strings.ToUpper(verb)
	answeringAuth := p.auth
	if answeringAuth {
		c.srv.log.printf(c.id, "C: <AUTH response hidden, %d octets>", len(text))
	} else {
		c.logCommand(verb, arg, text, eol)
	}
	st, ok := c.nextStep(verb, answeringAuth)
	if !ok {
		return errClose
	}
	if !answeringAuth && verb == "BDAT" {
		// The chunk follows the command whatever the reply; unread,
		// its octets would be taken for commands.
		size, _, _ := strings.Cut(strings.TrimSpace(arg), " ")
		n, err := strconv.ParseUint(size, 10, 63)
		if err != nil {
			c.note("BDAT with a size that is not a number: %q", clip(escape([]byte(size))))
		} else if err := c.skipChunk(int64(n)); err != nil {
			return c.lost(err, "BDAT")
		}
	}
	if err := c.emit(StageOther, st.Reply); err != nil {
		return err
	}
	p.auth = st.Code == "334" && (answeringAuth || verb == "AUTH")
	switch {
	case answeringAuth:
	case verb == "DATA" && st.Code == "354":
		return c.replayBody()
	case verb == "STARTTLS" && st.Code == "220":
		if c.w.Flush() != nil {
			return errClose
		}
		return c.upgrade()
	case verb == "QUIT" && strings.HasPrefix(st.Code, "2"):
		c.why = "client quit"
		return errClose
	}
	return nil
}

// nextStep takes the next step for what the client sent, logging a
// departure. false ends the session: past the end of the recording (421),
// or a QUIT out of turn, answered with the recorded reply to QUIT.
func (c *conn) nextStep(verb string, answeringAuth bool) (Step, bool) {
	p := c.replay
	got := `"` + clip(escape([]byte(verb))) + `"`
	if answeringAuth {
		got = "an AUTH response"
	}
	if p.pos >= len(p.run.Steps) {
		c.departs("its end", "no more commands", got)
		c.why = "the recording ended"
		_ = c.emit(StageOther, []byte(endOfRecording))
		return Step{}, false
	}
	st := p.run.Steps[p.pos]
	kept := st.Kind == StepAuth
	if !answeringAuth {
		kept = st.Kind == StepCommand && st.Verb == verb
	}
	if !kept {
		c.departs("event "+strconv.Itoa(st.Event), describeStep(st), got)
		if !answeringAuth && verb == "QUIT" {
			c.why = "the client quit out of turn"
			_ = c.emit(StageQuit, p.quitReply())
			return Step{}, false
		}
	}
	p.pos++
	return st, true
}

// replayBody reads a message with the sandbox's DATA reader, so it ends
// on CRLF.CRLF only (security-anchors E1/E2), and answers it as recorded.
func (c *conn) replayBody() error {
	// A replay keeps nothing: the buffer goes back to the shared budget
	// as soon as the message has been read.
	n, _, err := c.readData()
	c.endMessage()
	if err != nil {
		return c.lost(err, "DATA")
	}
	c.srv.log.printf(c.id, "C: <message: %d octets>", n)
	c.srv.log.printf(c.id, "C: .")
	p := c.replay
	if p.pos >= len(p.run.Steps) {
		c.departs("its end", "no more commands", "a message body")
		c.why = "the recording ended"
		_ = c.emit(StageDot, []byte(endOfRecording))
		return errClose
	}
	st := p.run.Steps[p.pos]
	if st.Kind != StepBody {
		c.departs("event "+strconv.Itoa(st.Event), describeStep(st), "a message body")
	}
	p.pos++
	return c.emit(StageDot, st.Reply)
}

func (c *conn) departs(where, expected, got string) {
	c.note("client departs from the recording at %s: expected %s, got %s", where, expected, got)
}

// describeStep names a step for the log.
func describeStep(st Step) string {
	switch st.Kind {
	case StepAuth:
		return "an AUTH response"
	case StepBody:
		return "the message body"
	}
	return `"` + clip(escape([]byte(st.Verb))) + `"`
}

// quitReply is the recorded reply to QUIT, or a 221 of our own.
func (p *replaying) quitReply() []byte {
	for _, st := range p.run.Steps[p.pos:] {
		if st.Kind == StepCommand && st.Verb == "QUIT" && len(st.Reply) > 0 {
			return st.Reply
		}
	}
	return []byte("221 2.0.0 ehlo replay: bye\r\n")
}

// clip keeps a departure line short whatever the client sent.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// LoopbackOnly reports whether every listener only reaches this host.
func (s *Server) LoopbackOnly() bool {
	for _, a := range []string{s.Addr(), s.TLSAddr()} {
		if a != "" && !isLoopback(a) {
			return false
		}
	}
	return true
}

// ServeContext is Serve until ctx is done, then Close.
func (s *Server) ServeContext(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	err := s.Serve()
	s.Close()
	return err
}

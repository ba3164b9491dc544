package lesson

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// record is one thing that happened in the conversation, as a check sees
// it: a command sent, a reply to it, a line of message content, a
// connection opened or closed.
type record struct {
	kind recordKind
	conn int // the connection it happened on, counting from 1
	// verb is the command's, in upper case: "" for a greeting or an
	// unsolicited reply, "." for the replies to the end of a message
	// (DATA's final dot, BDAT … LAST).
	verb string
	tls  bool // the command went through TLS
	code int
	enh  string // RFC 3463 enhanced code, "" when none
	// msg numbers the messages of the conversation, on the replies to
	// their end (LMTP gives one per recipient).
	msg     int
	payload string // kindPayload: the line as sent, without its line end; kindError: the error
}

type recordKind uint8

const (
	kindSent recordKind = iota + 1
	kindReply
	kindGreeting
	kindUnsolicited
	kindPayload
	kindClose
	// kindError is an operation that failed, as the session noted it
	// ("error: …"): ehlo may refuse a command before sending it, such as
	// AUTH on a connection in clear text.
	kindError
)

// trail keeps what happened in a conversation, from its events as the
// session annotated them (session.Event.Parts): which client bytes are
// commands and which message content, and which command each reply
// answers, are the session's reading, never the trail's own.
type trail struct {
	records []record

	conn  int
	reply [][]byte
	// line is the start of a line of message content that goes on in
	// the next send; long says it outgrew session.MaxCommandLine and is
	// not kept.
	line []byte
	long bool
	// msgs counts the messages whose end was answered; inEnd says the
	// last reply answered a message's end, so that LMTP's further
	// replies (one per recipient) count for the same message.
	msgs  int
	inEnd bool

	// gen counts the changes a check can see: a record, the state, the
	// extensions. The checker looks again only when it moved.
	gen int

	state protocol.State
	// exts are the keywords of the last EHLO or LHLO on this connection,
	// upper case; forgotten at a TLS handshake (RFC 3207 §4.2).
	exts map[string]string
}

// maxRecords bounds the trail: a student pasting a million NOOPs must not
// grow it without end. Checks look at the records since their step began,
// and a step's start moves with the ones dropped.
const maxRecords = 4096

// maxReplyLines bounds the lines of one reply kept for its text.
const maxReplyLines = 256

func (t *trail) add(r record) {
	r.conn = t.conn
	t.records = append(t.records, r)
	t.gen++
}

// apply takes one event.
func (t *trail) apply(e session.Event) {
	switch e.Kind {
	case session.KindConnect, session.KindSnapshot, session.KindState, session.KindTLS:
		t.gen++
	}
	switch e.Kind {
	case session.KindConnect:
		t.conn++
		t.reply, t.line, t.long, t.inEnd, t.exts = nil, t.line[:0], false, false, nil
	case session.KindSnapshot:
		if s := e.Start; s != nil && s.Connected {
			t.conn++
			t.state = s.State
			t.exts = map[string]string{}
			for _, x := range s.Extensions {
				t.exts[strings.ToUpper(x.Keyword)] = x.Params
			}
		}
	case session.KindState:
		t.state = e.State
	case session.KindTLS:
		t.line, t.long = t.line[:0], false // as the session's reading starts over
		if e.Handshake != nil && e.Handshake.Complete {
			t.exts = nil
		}
	case session.KindClient:
		for start, p := range e.Segments() {
			t.client(e.Data[start:p.End], p, e.TLS)
		}
	case session.KindServer:
		for start, p := range e.Segments() {
			t.server(e.Data[start:p.End], p, e.TLS)
		}
	case session.KindNote:
		if text, ok := strings.CutPrefix(e.Text, "error: "); ok {
			t.add(record{kind: kindError, payload: text})
		}
	case session.KindClose:
		t.state = protocol.State{}
		t.add(record{kind: kindClose})
	}
}

// client takes one part of a client send: a command is a record, an AUTH
// answer is not (its reply counts as AUTH's), and message content is a
// record per line.
func (t *trail) client(data []byte, p session.Part, tls bool) {
	switch {
	case p.Payload && p.Verb != session.VerbMessageEnd:
		t.content(data, p.Complete, tls)
	case p.Payload, p.Answer, !p.Complete:
		// The end of a message and an AUTH answer only wait for their
		// reply; a command line that goes on in the next send is
		// recorded at its end, where the session reads its verb.
	default:
		t.add(record{kind: kindSent, verb: p.Verb, tls: tls})
	}
}

// content adds a payload record for each line of message content in
// data, keeping the start of a line that goes on in the next send (up to
// session.MaxCommandLine, as the session keeps a command line).
func (t *trail) content(data []byte, complete, tls bool) {
	for len(data) > 0 {
		line, rest, found := bytes.Cut(data, []byte("\n"))
		data = rest
		if !found && !complete {
			t.long = t.long || len(t.line)+len(line) > session.MaxCommandLine
			if !t.long {
				t.line = append(t.line, line...)
			}
			return
		}
		if len(t.line) > 0 || t.long {
			long := t.long || len(t.line)+len(line) > session.MaxCommandLine
			line = append(t.line, line...)
			t.line, t.long = t.line[:0], false
			if long {
				continue
			}
		}
		t.add(record{kind: kindPayload, payload: string(bytes.TrimRight(line, "\r\n")), tls: tls})
	}
}

// server takes one reply line; a reply may span lines and events, and is
// recorded at its last line.
func (t *trail) server(line []byte, p session.Part, tls bool) {
	line = bytes.TrimRight(line, "\r\n")
	if len(t.reply) < maxReplyLines {
		t.reply = append(t.reply, line)
	}
	if !p.More {
		t.replyDone(p.Verb, tls)
	}
}

// replyDone records the reply whose lines t.reply holds, as an answer to
// verb (Part.Verb of its last line).
func (t *trail) replyDone(verb string, tls bool) {
	lines := t.reply
	t.reply = nil
	code, err := strconv.Atoi(string(lines[0][:min(3, len(lines[0]))]))
	if err != nil {
		code = 0 // malformed: matches no code pattern but "*"
	}
	var text []string
	for _, l := range lines {
		if len(l) > 4 {
			text = append(text, string(l[4:]))
		} else {
			text = append(text, "")
		}
	}
	msg := strings.Join(text, "\n")
	r := record{kind: kindReply, verb: verb, tls: tls, code: code, enh: protocol.Reply{Code: code, Message: msg}.Enhanced()}
	end := verb == session.VerbMessageEnd
	switch {
	case verb == session.VerbGreeting:
		r.kind, r.verb = kindGreeting, ""
	case verb == "":
		r.kind = kindUnsolicited
	case end:
		if !t.inEnd {
			t.msgs++
		}
		r.verb, r.msg = ".", t.msgs
	}
	t.inEnd = end
	t.add(r)
	t.learn(r, msg)
}

// learn keeps the extensions an EHLO or LHLO reply lists.
func (t *trail) learn(r record, msg string) {
	if (r.verb == "EHLO" || r.verb == "LHLO") && r.code/100 == 2 {
		features, _ := protocol.ParseEHLO(msg)
		t.gen++
		t.exts = map[string]string{}
		for k, v := range features {
			t.exts[strings.ToUpper(k)] = v
		}
	}
}

// trim drops the oldest records once there are a quarter more than
// maxRecords, down to maxRecords (so that dropping costs little per
// record), and returns how many it dropped.
func (t *trail) trim() int {
	if len(t.records) <= maxRecords+maxRecords/4 {
		return 0
	}
	n := len(t.records) - maxRecords
	t.records = append(t.records[:0], t.records[n:]...)
	return n
}

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

// pending is a command waiting for its reply.
type pending struct {
	verb string
	tls  bool
	left int // LMTP end of data: replies still due
}

// trail follows a conversation from its events and keeps what happened.
// It reads the client's lines with session.ClientLines, so it tells
// commands from message content by the same rule as the transcript.
type trail struct {
	lmtp    bool
	records []record

	conn     int
	lines    session.ClientLines
	queue    []pending
	greeting bool // a greeting is due on this connection
	authCont bool // the server sent 334: the next client line answers it
	reply    [][]byte
	accepted int // RCPTs accepted in the current transaction
	msgs     int

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
		t.queue, t.reply, t.accepted, t.authCont, t.exts = nil, nil, 0, false, nil
		t.greeting = true
		t.lines.Reset()
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
		if e.Handshake != nil && e.Handshake.Complete {
			t.exts = nil
		}
	case session.KindClient:
		t.lines.Client(e.Data, func(l session.ClientLine) { t.client(l, e.TLS) })
	case session.KindServer:
		t.server(e.Data)
	case session.KindNote:
		if text, ok := strings.CutPrefix(e.Text, "error: "); ok {
			t.add(record{kind: kindError, payload: text})
		}
	case session.KindClose:
		t.state = protocol.State{}
		t.queue, t.greeting = nil, false
		t.add(record{kind: kindClose})
	}
}

func (t *trail) client(l session.ClientLine, tls bool) {
	if !l.Complete || l.Line == nil {
		return
	}
	line := string(bytes.TrimRight(l.Line, "\r\n"))
	switch {
	case l.Payload && l.Last:
		t.queue = append(t.queue, pending{verb: ".", tls: tls})
	case l.Payload:
		t.add(record{kind: kindPayload, payload: line, tls: tls})
	case t.authCont:
		t.authCont = false
		t.queue = append(t.queue, pending{verb: "AUTH", tls: tls})
	default:
		verb, args := protocol.SplitCommand(line)
		t.add(record{kind: kindSent, verb: verb, tls: tls})
		if verb == "BDAT" && strings.Contains(strings.ToUpper(args), "LAST") {
			verb = "."
		}
		t.queue = append(t.queue, pending{verb: verb, tls: tls})
	}
}

// server takes the reply lines of one event; a reply may span events.
func (t *trail) server(data []byte) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		t.lines.Server(line)
		line = bytes.TrimRight(line, "\r\n")
		if len(t.reply) < maxReplyLines {
			t.reply = append(t.reply, line)
		}
		if len(line) < 4 || line[3] != '-' {
			t.replyDone()
		}
	}
}

func (t *trail) replyDone() {
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
	r := record{kind: kindReply, code: code, enh: protocol.Reply{Code: code, Message: msg}.Enhanced()}
	switch {
	case t.greeting:
		t.greeting, r.kind = false, kindGreeting
	case len(t.queue) == 0:
		r.kind = kindUnsolicited
	default:
		p := &t.queue[0]
		r.verb, r.tls = p.verb, p.tls
		if p.verb == "." {
			r.msg = t.msgs + 1
			if p.left == 0 {
				p.left = 1
				if t.lmtp {
					p.left = max(1, t.accepted)
				}
			}
			p.left--
			if p.left == 0 {
				t.queue = t.queue[1:]
				t.msgs++
				t.accepted = 0
			}
		} else {
			t.queue = t.queue[1:]
		}
	}
	t.add(r)
	t.learn(r, msg)
}

// learn keeps what a reply changes for later checks.
func (t *trail) learn(r record, msg string) {
	switch {
	case r.verb == "AUTH" && r.code == 334:
		t.authCont = true
	case r.verb == "MAIL" && r.code/100 == 2:
		t.accepted = 0
	case r.verb == "RCPT" && r.code/100 == 2:
		t.accepted++
	case (r.verb == "EHLO" || r.verb == "LHLO") && r.code/100 == 2:
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

package session

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// XMAILBOX is the sandbox-only extension through which a student reads the
// mailbox of a workshop sandbox (`ehlo sandbox --workshop`, docs/sandbox.md):
// advertised in EHLO only after AUTH, and only by that sandbox, so a real
// server never offers it. The replies come from a server ehlo does not
// control, so everything in them is checked before it is believed: the
// counts, the base64, the JSON, each page's sizes and offsets, and the
// bounds below.
const XMAILBOX = "XMAILBOX"

// Bounds of what Mailbox accepts from a server: a message larger than
// MailboxMaxMessage, or messages adding up to more than MailboxMaxTotal,
// are an error, not a reason to grow without end. A page is
// mailboxMaxPage bytes, or what is left of the message, as the extension
// says.
const (
	MailboxMaxMessage = 32 << 20
	MailboxMaxTotal   = 64 << 20
	mailboxMaxPage    = 256 << 10
	mailboxMaxID      = 64
)

// MailboxMessage is one message of a workshop sandbox's mailbox, with the
// envelope and the session it came with, as XMAILBOX describes it. Every
// string is the server's and must go through Sanitize to be shown.
type MailboxMessage struct {
	ID         string
	From       string
	Params     []string      // the MAIL FROM parameters as sent
	Rcpts      []MailboxRcpt // every RCPT TO, the refused ones too, in order
	Helo       string
	TLS        bool
	TLSVersion string
	AuthUser   string
	Received   time.Time
	Size       int64
	Chunked    bool // BDAT rather than DATA
	Data       []byte
	// RcptsOmitted counts recipients the server left out of Rcpts to keep
	// the listing small.
	RcptsOmitted int
}

// MailboxRcpt is one RCPT TO and the server's reply to it.
type MailboxRcpt struct {
	Addr string
	Code int
	Text string
}

// MailboxResult is what Mailbox delivers: the messages, oldest first, or
// why there are none.
type MailboxResult struct {
	Messages []MailboxMessage
	// Omitted counts older messages the server could not list in one
	// reply.
	Omitted int
	Err     error
}

// ErrNoXMAILBOX says the server does not offer XMAILBOX: it is not a
// workshop sandbox, or the session has not authenticated yet.
var ErrNoXMAILBOX = errors.New("the server does not advertise XMAILBOX: only `ehlo sandbox --workshop` offers its mailbox, after AUTH")

// errMailboxInTxn says why Mailbox will not greet again to learn XMAILBOX.
var errMailboxInTxn = errors.New("reading the mailbox needs an EHLO after AUTH, which would end this MAIL transaction: finish the message or send RSET first")

// Mailbox queues the reading of the student's mailbox from a workshop
// sandbox: XMAILBOX LIST, then XMAILBOX FETCH page by page for each
// message. It runs on the session's worker like every other operation, its
// lines reach the wire log as any command's do, and it refuses to start
// when the last EHLO did not advertise XMAILBOX. The channel delivers one
// result and is closed; an operation dropped by Cancel or Close delivers an
// error, so a reader never waits forever. Since XMAILBOX is advertised only
// after AUTH, an authenticated session whose last EHLO came before it
// greets again first, unless it is inside a MAIL transaction, which EHLO
// would end: that is an error.
func (l *Live) Mailbox() <-chan MailboxResult {
	ch := make(chan MailboxResult, 1)
	deliver := func(r MailboxResult) {
		ch <- r
		close(ch)
	}
	l.enqueue(op{label: XMAILBOX, dropped: func() {
		deliver(MailboxResult{Err: errors.New("the mailbox was not read: the operation was cancelled")})
	}, run: func(w *worker) {
		if !w.ready() {
			// ready said why (not connected, in an AUTH exchange, in
			// DATA) as the session's last error.
			l.mu.Lock()
			why := l.snap.LastError
			l.mu.Unlock()
			deliver(MailboxResult{Err: errors.New(why)})
			return
		}
		if !w.begin(XMAILBOX) {
			deliver(MailboxResult{Err: errors.New("the session is closed")})
			return
		}
		if st := w.client.State(); !w.client.HasExtn(XMAILBOX) && st.Authenticated {
			// XMAILBOX is advertised only after AUTH: greet again to
			// learn it, as a student would by hand; but not inside a
			// transaction, which EHLO would end (RFC 5321 §4.1.4).
			if st.Phase == protocol.PhaseMail || st.Phase == protocol.PhaseRcpt {
				w.fail(errMailboxInTxn)
				deliver(MailboxResult{Err: errMailboxInTxn})
				return
			}
			if _, err := w.client.Ehlo(l.cfg.Options.LocalHostname); err != nil {
				w.fail(err)
				deliver(MailboxResult{Err: err})
				return
			}
		}
		if !w.client.HasExtn(XMAILBOX) {
			w.fail(ErrNoXMAILBOX)
			deliver(MailboxResult{Err: ErrNoXMAILBOX})
			return
		}
		res, err := FetchMailbox(w.client.Debug().Raw)
		if err != nil {
			w.fail(err)
			res.Err = err
		}
		deliver(res)
	}})
	return ch
}

// FetchMailbox reads a whole mailbox through exchange, which sends one
// command line and returns its reply (protocol.Debugger.Raw). It is
// Mailbox's work without the worker, for a caller that drives a client
// itself.
func FetchMailbox(exchange func(line string) (protocol.Reply, error)) (MailboxResult, error) {
	r, err := exchange("XMAILBOX LIST")
	if err != nil {
		return MailboxResult{}, err
	}
	msgs, omitted, err := parseMailboxList(r)
	if err != nil {
		return MailboxResult{}, err
	}
	var total int64
	for _, m := range msgs {
		if total += m.Size; total > MailboxMaxTotal {
			return MailboxResult{}, fmt.Errorf("XMAILBOX: the messages add up to more than %d bytes, more than ehlo keeps", MailboxMaxTotal)
		}
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Data, err = fetchMessage(exchange, m.ID, m.Size); err != nil {
			return MailboxResult{}, err
		}
	}
	return MailboxResult{Messages: msgs, Omitted: omitted}, nil
}

// mailboxReply checks that r is a 250 whose last line is "end" and returns
// the lines before it.
func mailboxReply(cmd string, r protocol.Reply) ([]string, error) {
	if r.Code != 250 {
		return nil, fmt.Errorf("%s refused: %d %s", cmd, r.Code, firstLine(r.Message))
	}
	lines := strings.Split(r.Message, "\n")
	if len(lines) < 2 || lines[len(lines)-1] != "end" {
		return nil, fmt.Errorf("%s: malformed reply: its last line is not \"end\"", cmd)
	}
	return lines[:len(lines)-1], nil
}

// mailboxMeta is the JSON of one message in XMAILBOX LIST.
type mailboxMeta struct {
	ID     string   `json:"id"`
	From   string   `json:"from"`
	Params []string `json:"params"`
	Rcpts  []struct {
		Addr string `json:"addr"`
		Code int    `json:"code"`
		Text string `json:"text"`
	} `json:"rcpts"`
	Helo       string `json:"helo"`
	TLS        bool   `json:"tls"`
	TLSVersion string `json:"tls_version"`
	AuthUser   string `json:"auth_user"`
	Received   string `json:"received"`
	Size       int64  `json:"size"`
	Chunked    bool   `json:"chunked"`
	Omitted    int    `json:"rcpts_omitted"`
}

// parseListCount reads LIST's first line, "<n> messages", with
// " (<k> older not listed)" when the reply could not hold them all.
func parseListCount(line string) (n, omitted int, ok bool) {
	count, rest, _ := strings.Cut(line, " messages")
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 || !strings.HasPrefix(line, count+" messages") {
		return 0, 0, false
	}
	if rest == "" {
		return n, 0, true
	}
	k, ok := strings.CutPrefix(rest, " (")
	k, ok2 := strings.CutSuffix(k, " older not listed)")
	omitted, err = strconv.Atoi(k)
	return n, omitted, ok && ok2 && err == nil && omitted >= 0
}

func parseMailboxList(r protocol.Reply) ([]MailboxMessage, int, error) {
	lines, err := mailboxReply("XMAILBOX LIST", r)
	if err != nil {
		return nil, 0, err
	}
	n, omitted, ok := parseListCount(lines[0])
	if !ok || n != len(lines)-1 {
		return nil, 0, fmt.Errorf("XMAILBOX LIST: malformed reply: %q does not count the %d message lines", firstLine(lines[0]), len(lines)-1)
	}
	msgs := make([]MailboxMessage, 0, n)
	for i, line := range lines[1:] {
		m, err := parseMailboxMeta(line)
		if err != nil {
			return nil, 0, fmt.Errorf("XMAILBOX LIST: message %d: %w", i+1, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, omitted, nil
}

func parseMailboxMeta(line string) (MailboxMessage, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(line)
	if err != nil {
		return MailboxMessage{}, fmt.Errorf("not base64: %w", err)
	}
	var j mailboxMeta
	if err := json.Unmarshal(raw, &j); err != nil {
		return MailboxMessage{}, fmt.Errorf("not the JSON XMAILBOX describes: %w", err)
	}
	if !validMailboxID(j.ID) {
		return MailboxMessage{}, fmt.Errorf("id %q is not 1 to %d letters, digits, '.', '-' or '_'", firstLine(j.ID), mailboxMaxID)
	}
	if j.Size < 0 || j.Size > MailboxMaxMessage {
		return MailboxMessage{}, fmt.Errorf("size %d: ehlo reads messages of 0 to %d bytes", j.Size, MailboxMaxMessage)
	}
	m := MailboxMessage{ID: j.ID, From: j.From, Params: j.Params, Helo: j.Helo, TLS: j.TLS, TLSVersion: j.TLSVersion,
		AuthUser: j.AuthUser, Size: j.Size, Chunked: j.Chunked, RcptsOmitted: max(0, j.Omitted)}
	for _, rc := range j.Rcpts {
		m.Rcpts = append(m.Rcpts, MailboxRcpt(rc))
	}
	if j.Received != "" {
		if m.Received, err = time.Parse(time.RFC3339Nano, j.Received); err != nil {
			return MailboxMessage{}, fmt.Errorf("received: %w", err)
		}
	}
	return m, nil
}

// validMailboxID says id can be sent back in a FETCH command as one word.
func validMailboxID(id string) bool {
	if id == "" || len(id) > mailboxMaxID {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// fetchMessage reads one message page by page. Every page must continue
// where the last ended, be whole (mailboxMaxPage bytes) until the last,
// agree with the size LIST gave and hold exactly the bytes it announces,
// so a lying server gets an error rather than a loop or a message of the
// wrong size.
func fetchMessage(exchange func(string) (protocol.Reply, error), id string, size int64) ([]byte, error) {
	data := make([]byte, 0, size)
	for {
		cmd := fmt.Sprintf("XMAILBOX FETCH %s %d", id, len(data))
		r, err := exchange(cmd)
		if err != nil {
			return nil, err
		}
		page, err := parseMailboxPage(cmd, r, size, int64(len(data)))
		if err != nil {
			return nil, err
		}
		data = append(data, page...)
		if int64(len(data)) == size {
			return data, nil
		}
	}
}

// parseMailboxPage checks one FETCH reply, "<size> <offset> <n>", the
// base64 lines and "end", against the size and offset expected.
func parseMailboxPage(cmd string, r protocol.Reply, size, offset int64) ([]byte, error) {
	lines, err := mailboxReply(cmd, r)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(lines[0])
	var nums [3]int64
	if len(f) != 3 {
		return nil, fmt.Errorf("%s: malformed reply: %q is not \"<size> <offset> <n>\"", cmd, firstLine(lines[0]))
	}
	for i, s := range f {
		if nums[i], err = strconv.ParseInt(s, 10, 64); err != nil || nums[i] < 0 {
			return nil, fmt.Errorf("%s: malformed reply: %q is not \"<size> <offset> <n>\"", cmd, firstLine(lines[0]))
		}
	}
	gotSize, gotOff, n := nums[0], nums[1], nums[2]
	switch {
	case gotSize != size:
		return nil, fmt.Errorf("%s: the server says the message has %d bytes, its list said %d", cmd, gotSize, size)
	case gotOff != offset:
		return nil, fmt.Errorf("%s: the server sent the page at offset %d, not %d", cmd, gotOff, offset)
	case n > mailboxMaxPage || n > size-offset:
		return nil, fmt.Errorf("%s: a page of %d bytes at %d does not fit a message of %d (pages are at most %d)", cmd, n, offset, size, mailboxMaxPage)
	case n == 0 && offset < size:
		return nil, fmt.Errorf("%s: an empty page before the end of the message", cmd)
	case n < size-offset && n != mailboxMaxPage:
		// Pages are whole until the last, so a message takes at most
		// size/256 KiB commands, not one per byte a server chose to send.
		return nil, fmt.Errorf("%s: a page of %d bytes at %d, short of the end of a message of %d, is not a whole page (%d bytes)", cmd, n, offset, size, mailboxMaxPage)
	}
	// A page of n bytes is at most 4*ceil(n/3) characters of base64, so
	// the join is bounded by what was announced, not by the reply.
	b64 := strings.Join(lines[1:], "")
	if int64(len(b64)) != (n+2)/3*4 {
		return nil, fmt.Errorf("%s: %d characters of base64 cannot hold the %d bytes announced", cmd, len(b64), n)
	}
	page, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%s: the page is not base64: %w", cmd, err)
	}
	if int64(len(page)) != n {
		return nil, fmt.Errorf("%s: the page holds %d bytes, not the %d announced", cmd, len(page), n)
	}
	return page, nil
}

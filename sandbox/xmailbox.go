package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// XMAILBOX is the workshop sandbox's own SMTP extension: an authenticated
// user lists and fetches the messages of their mailbox (workshop.go) over
// the connection they already have, so ehlo's TUI can show a student's
// mail on a shared sandbox. It is advertised in the EHLO reply only on a
// workshop sandbox and only after a successful AUTH; no real server
// offers it, and the X prefix (RFC 5321 §4.1.5) keeps it out of the way
// of any standard verb. docs/sandbox.md has the wire format:
//
//	C: XMAILBOX LIST
//	S: 250-<n> messages
//	S: 250-<base64 of the JSON meta of one message>   (n lines, oldest first)
//	S: 250 end
//	C: XMAILBOX FETCH <id> <offset>
//	S: 250-<size> <offset> <n>
//	S: 250-<base64 of n bytes from offset, at most 4000 characters a line>
//	S: 250 end
//
// Every reply stays within what a client must accept (and what ehlo's
// does): 1000 lines, 1 MiB, 8192 bytes a line. Faults do not apply to
// the 250 replies (refusals are ordinary replies): the mailbox view keeps
// working while a lesson plays a broken server.
const (
	xmPage      = 256 << 10 // bytes of a message one FETCH returns at most
	xmLineChars = 4000      // base64 characters a line; a multiple of 4
	xmMetaMax   = 6000      // bytes of JSON a LIST line holds: 8000 in base64
	xmMaxLines  = 1000
	xmMaxBytes  = 1 << 20
)

// xmRcpt and xmMeta are the JSON of one message in a LIST reply.
type xmRcpt struct {
	Addr string `json:"addr"`
	Code int    `json:"code"`
	Text string `json:"text"`
}

type xmMeta struct {
	ID           string   `json:"id"`
	From         string   `json:"from"`
	Params       []string `json:"params"`
	Rcpts        []xmRcpt `json:"rcpts"`
	RcptsOmitted int      `json:"rcpts_omitted,omitempty"`
	Helo         string   `json:"helo"`
	TLS          bool     `json:"tls"`
	TLSVersion   string   `json:"tls_version"`
	AuthUser     string   `json:"auth_user"`
	Received     string   `json:"received"`
	Size         int      `json:"size"`
	Chunked      bool     `json:"chunked"`
}

func (c *conn) cmdXMailbox(arg string) error {
	switch {
	case !c.cfg.Workshop:
		return c.reply(StageOther, 502, "5.5.1", "XMAILBOX command not implemented")
	case c.authUser == "":
		return c.reply(StageOther, 530, "5.7.0", "Authentication required")
	}
	f := strings.Fields(arg)
	switch {
	case len(f) == 1 && strings.EqualFold(f[0], "LIST"):
		return c.xmList()
	case len(f) == 3 && strings.EqualFold(f[0], "FETCH"):
		off, err := strconv.ParseUint(f[2], 10, 63)
		if err != nil {
			break
		}
		return c.xmFetch(f[1], int64(off))
	}
	return c.reply(StageOther, 501, "5.5.4", "Syntax: XMAILBOX LIST | XMAILBOX FETCH id offset")
}

// xmMessages are the messages the session's user may see, oldest first.
func (c *conn) xmMessages() []Message {
	box := c.srv.StudentMailbox(c.authUser)
	if box == nil {
		return nil
	}
	all := box.Messages()
	out := all[:0]
	for _, m := range all {
		if visible(&m, c.authUser) {
			out = append(out, m)
		}
	}
	return out
}

// xmList answers LIST with the newest messages that fit in one reply
// (every one, unless the user has hundreds), oldest first; the first
// line says how many follow, and how many older ones were left out.
func (c *conn) xmList() error {
	msgs := c.xmMessages()
	var metas []string
	size := 64
	for i := len(msgs) - 1; i >= 0; i-- {
		line := base64.StdEncoding.EncodeToString(metaJSON(&msgs[i]))
		if len(metas)+3 > xmMaxLines || size+len(line)+6 > xmMaxBytes {
			break
		}
		metas = append(metas, line)
		size += len(line) + 6
	}
	head := strconv.Itoa(len(metas)) + " messages"
	if left := len(msgs) - len(metas); left > 0 {
		head += " (" + strconv.Itoa(left) + " older not listed)"
	}
	lines := make([]string, 0, len(metas)+2)
	lines = append(lines, head)
	for i := len(metas) - 1; i >= 0; i-- {
		lines = append(lines, metas[i])
	}
	return c.xmReply("LIST", append(lines, "end"))
}

// metaJSON is a message's meta, cut down to xmMetaMax bytes when a client
// sent a long HELO, many parameters or a hundred recipients.
func metaJSON(m *Message) []byte {
	meta := xmMeta{
		ID: m.ID, From: m.From, Params: m.Params, Helo: m.Helo, TLS: m.TLS,
		TLSVersion: m.TLSVersion, AuthUser: m.AuthUser, Size: len(m.Data), Chunked: m.Chunked,
		Received: m.Received.UTC().Format(time.RFC3339Nano),
	}
	if meta.Params == nil {
		meta.Params = []string{}
	}
	meta.Rcpts = make([]xmRcpt, 0, len(m.Rcpts))
	for _, r := range m.recipients() {
		meta.Rcpts = append(meta.Rcpts, xmRcpt(r))
	}
	b, _ := json.Marshal(meta)
	if len(b) <= xmMetaMax {
		return b
	}
	meta.Helo = cut(meta.Helo, 255)
	params := make([]string, 0, 8) // not in place: the stored message's own slice
	for _, p := range meta.Params[:min(len(meta.Params), 8)] {
		params = append(params, cut(p, 200))
	}
	meta.Params = params
	// Keep as many recipients as fit. Each one left out makes the JSON
	// shorter (the omitted count grows by fewer bytes than a recipient
	// takes), so a binary search finds that number in a few encodings
	// where dropping one at a time took a hundred, on every LIST.
	all := meta.Rcpts
	encode := func(k int) []byte {
		meta.Rcpts, meta.RcptsOmitted = all[:k], len(all)-k
		b, _ := json.Marshal(meta)
		return b
	}
	return encode(sort.Search(len(all), func(k int) bool { return len(encode(k+1)) > xmMetaMax }))
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// xmFetch answers FETCH with up to xmPage bytes of one of the user's
// messages. A message that is not the user's gets the same 550 as one
// that does not exist, so ids cannot be probed.
func (c *conn) xmFetch(id string, off int64) error {
	var msg *Message
	msgs := c.xmMessages()
	for i := range msgs {
		if msgs[i].ID == id {
			msg = &msgs[i]
			break
		}
	}
	if msg == nil {
		return c.reply(StageOther, 550, "5.7.1", "No such message")
	}
	size := int64(len(msg.Data))
	if off > size {
		return c.reply(StageOther, 501, "5.5.4", "Offset past the end of the message ("+strconv.FormatInt(size, 10)+" bytes)")
	}
	page := msg.Data[off:min(size, off+xmPage)]
	lines := []string{strconv.FormatInt(size, 10) + " " + strconv.FormatInt(off, 10) + " " + strconv.Itoa(len(page))}
	enc := base64.StdEncoding.EncodeToString(page)
	for len(enc) > 0 {
		n := min(len(enc), xmLineChars)
		lines = append(lines, enc[:n])
		enc = enc[n:]
	}
	return c.xmReply("FETCH "+id, append(lines, "end"))
}

// xmReply writes a 250 reply past the faults, logging a summary of it
// rather than every line of base64.
func (c *conn) xmReply(what string, lines []string) error {
	n := 0
	for _, l := range lines {
		n += len(l) + 6
	}
	summary := "250 <XMAILBOX " + what + ": " + strconv.Itoa(len(lines)) + " lines, " + strconv.Itoa(n) + " octets>"
	if c.srv.log.on {
		c.srv.log.printf(c.id, "S: %s", escape([]byte(summary)))
	}
	if c.sess != nil {
		c.wireReply([]byte(summary + "\r\n"))
	}
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		if _, err := c.w.WriteString("250" + sep + l + "\r\n"); err != nil {
			return errClose
		}
	}
	return nil
}

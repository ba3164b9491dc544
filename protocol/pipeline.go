package protocol

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ChunkSize is the largest BDAT chunk Sendmail sends. Two buffers of it
// are the only memory a message of any size needs.
const ChunkSize = 256 << 10

// sendmailFast is Sendmail's transaction when the caller asked for
// PIPELINING or CHUNKING and the server offers it. With PIPELINING, MAIL,
// every RCPT and DATA go in one write; DATA ends the group (RFC 2920 §3.1),
// and so does a BDAT LAST carrying a message that fits one chunk. The
// replies are then read in order and judged with the rules every engine
// shares (envelope). lines are the MAIL and RCPT lines, already checked.
func (c *Client) sendmailFast(from string, to, lines []string, msg io.Reader, opts []string, pipe, chunk bool) (map[string]Reply, error) {
	binary := chunk && c.HasExtn("binarymime") && hasOptionValue(opts, "BODY", "BINARYMIME")
	var body *chunker
	if chunk {
		// One chunker per client: its buffers serve every message.
		if c.chunker == nil {
			c.chunker = &chunker{raw: make([]byte, 32<<10)}
		}
		body = c.chunker
		body.reset(msg, binary)
	}
	if !pipe {
		e, refused, err := c.envelopeOneByOne(from, to, lines)
		if e == nil {
			return refused, err
		}
		return c.bdat(refused, body)
	}
	t := &fastTx{from: from, to: to, lines: lines, chunk: chunk}
	if err := c.writeFastGroup(t, body); err != nil {
		return nil, err
	}
	e, endR, err := c.readFastReplies(t)
	if err != nil {
		return e.result(), err
	}
	if err := e.verdict(); err != nil {
		if endR.Code == 354 {
			// The server took DATA although the transaction failed: end it
			// with an empty message so the connection stays in step.
			c.write([]byte("."+CRLF), nil)
			c.GetReply()
		}
		return c.fail(e, err)
	}
	switch {
	case chunk && !t.single:
		return c.bdat(e.refused, body)
	case t.single:
		return c.judgeFinal(e.refused, endR)
	}
	if c.debugLevel > 0 {
		c.debugf("data: (%d, %s)", endR.Code, pyRepr([]byte(endR.Message), true))
	}
	if endR.Code != 354 {
		if endR.Code == 421 {
			c.closeConn()
		}
		return e.refused, &DataError{ResponseError(endR)}
	}
	c.setPhase(PhaseData)
	r, err := c.sendData(msg)
	if err != nil {
		return e.refused, err
	}
	return c.judgeFinal(e.refused, r)
}

// fastTx is the pipelined group of sendmailFast.
type fastTx struct {
	from   string
	to     []string
	lines  []string // MAIL and every RCPT, then DATA or BDAT LAST if the group has an end
	chunk  bool
	single bool // the group ends with the whole message as BDAT LAST
}

// writeFastGroup writes the group in one write: MAIL, every RCPT, and
// what ends it, DATA or the whole message as BDAT LAST when it fits in
// one chunk; with CHUNKING and a larger message the group has no end.
func (c *Client) writeFastGroup(t *fastTx, body *chunker) error {
	if t.chunk {
		if err := body.fill(); err != nil {
			return c.abortMessage(err, 0)
		}
		if body.last {
			t.single = true
			t.lines = append(t.lines, body.command())
		}
	} else {
		t.lines = append(t.lines, "data")
	}
	wire, err := c.encodeGroup(nil, t.lines)
	if err != nil {
		return err
	}
	if t.single {
		wire = append(wire, body.cur...)
	}
	if err := c.checkUnsolicited(); err != nil {
		return err
	}
	if c.debugLevel > 0 {
		c.debugf("send: %s", pyRepr(wire, false))
	}
	c.pipelined = len(t.lines) // one reply per line
	return c.write(wire, nil)
}

// readFastReplies reads the group's replies in order, up to a 421, and
// the one to what ended the group.
func (c *Client) readFastReplies(t *fastTx) (*envelope, Reply, error) {
	defer func() { c.pipelined = 0 }()
	next := func(what string) (Reply, error) {
		r, err := c.GetReply()
		if c.pipelined > 0 {
			c.pipelined--
		}
		if err != nil {
			return r, c.missing(err, what)
		}
		return r, nil
	}
	e := newEnvelope(t.from, len(t.to))
	mailR, err := next("MAIL FROM")
	if err != nil {
		return e, mailR, err
	}
	c.afterMail(t.lines[0], mailR)
	e.mailReply(mailR)
	for i := 0; i < len(t.to) && !e.closing; i++ {
		r, err := next("RCPT TO:<" + t.to[i] + ">")
		if err != nil {
			return e, r, err
		}
		c.afterRcpt(t.to[i], r)
		e.rcptReply(t.to[i], r)
	}
	switch {
	case e.closing, t.chunk && !t.single:
		return e, Reply{}, nil
	case t.single && c.kind == LMTP && len(c.accepted) > 0:
		// LMTP answers a BDAT LAST once per accepted recipient.
		c.pipelined = 0
		first, err := c.readLMTPReplies()
		return e, first, err
	case t.single:
		r, err := next("BDAT LAST")
		return e, r, err
	}
	r, err := next("DATA")
	return e, r, err
}

// missing adds which pipelined command got no reply to a read error.
func (c *Client) missing(err error, what string) error {
	c.pipelined = 0
	var sd *ServerDisconnectedError
	if errors.As(err, &sd) {
		sd.Msg = fmt.Sprintf("%s (no reply to %s)", sd.Msg, what)
	}
	return err
}

// judgeFinal applies smtplib's rule to the reply after the message, with
// LMTP's per-recipient replies folded into the refused map: a refusal is a
// *DataError, after RSET, or after closing on 421.
func (c *Client) judgeFinal(refused map[string]Reply, r Reply) (map[string]Reply, error) {
	refused, err := c.finalVerdict(refused, r)
	if err != nil && c.kind != LMTP {
		if r.Code == 421 {
			c.closeConn()
		} else {
			c.rsetQuietly()
		}
	}
	return refused, err
}

// finalVerdict is judgeFinal without what it sends: the verdict alone, for
// a Pipeline, which cannot send RSET while replies are still due.
func (c *Client) finalVerdict(refused map[string]Reply, r Reply) (map[string]Reply, error) {
	if c.kind == LMTP {
		delivered := 0
		var last Reply
		for _, rr := range c.lmtpReplies {
			if rr.Code == 250 {
				delivered++
				continue
			}
			refused[rr.Recipient] = rr.Reply
			last = rr.Reply
		}
		if delivered == 0 {
			if len(c.lmtpReplies) == 0 {
				last = r
			}
			return refused, &DataError{ResponseError(last)}
		}
		return refused, nil
	}
	if r.Code != 250 {
		return refused, &DataError{ResponseError(r)}
	}
	c.endTransaction()
	return refused, nil
}

// bdat sends the message as BDAT chunks, one round trip each, and stops at
// the first refusal (RFC 3030 §2: the transaction is then void).
func (c *Client) bdat(refused map[string]Reply, body *chunker) (map[string]Reply, error) {
	c.setPhase(PhaseData)
	var sent int64
	for {
		if body.cur == nil {
			if err := body.fill(); err != nil {
				return refused, c.abortMessage(err, sent)
			}
		}
		// One write for the BDAT line and its chunk, through a buffer kept
		// for the next chunk (tracers copy what they keep).
		out, err := c.encodeLine(body.out[:0], body.command(), lineCommand)
		if err != nil {
			return refused, err
		}
		if c.debugLevel > 0 {
			c.debugf("send: %s", pyRepr(out, false))
		}
		body.out = append(out, body.cur...)
		wire := body.out
		if err := c.write(wire, nil); err != nil {
			return refused, err
		}
		sent += int64(len(body.cur))
		last := body.last
		if last {
			c.messageWritten()
		}
		body.cur = nil
		if last && c.kind == LMTP && len(c.accepted) > 0 {
			first, err := c.readLMTPReplies()
			if err != nil {
				return refused, err
			}
			return c.judgeFinal(refused, first)
		}
		r, err := c.GetReply()
		if err != nil {
			return refused, err
		}
		if last || r.Code != 250 {
			return c.judgeFinal(refused, r)
		}
	}
}

// abortMessage closes the connection when the message cannot be read: no
// BDAT LAST is sent, so the server discards the transaction.
func (c *Client) abortMessage(err error, sent int64) error {
	c.closeConn()
	return &AbortError{Err: err, Sent: sent}
}

// chunker reads the message in BDAT-sized chunks, normalised to CRLF and
// checked for NUL like DATA (RFC 3030 wants canonical form), or untouched
// for BODY=BINARYMIME. It reads one chunk ahead to know which is LAST.
type chunker struct {
	r       io.Reader
	binary  bool
	cur     []byte // the chunk to send next
	last    bool   // cur is the last chunk
	bufs    [2][]byte
	which   int
	prevCR  bool
	endedLE bool // the data so far ends with a line end
	any     bool // any data at all
	off     int64
	eof     bool
	pending []byte // normalised bytes read ahead, not yet in a chunk
	raw     []byte
	out     []byte // a BDAT line and its chunk, as written
}

// reset prepares the chunker for a new message, keeping its buffers.
func (k *chunker) reset(r io.Reader, binary bool) {
	*k = chunker{r: r, binary: binary, raw: k.raw, bufs: k.bufs, pending: k.pending[:0], out: k.out}
}

// command is the BDAT line for cur, without its CRLF.
func (k *chunker) command() string {
	s := "BDAT " + strconv.Itoa(len(k.cur))
	if k.last {
		s += " LAST"
	}
	return s
}

// fill makes cur the next chunk and sets last.
func (k *chunker) fill() error {
	buf := k.bufs[k.which][:0]
	k.which ^= 1
	for len(k.pending) < ChunkSize+1 && !k.eof {
		n, err := k.r.Read(k.raw)
		if n > 0 {
			if err := k.normalize(k.raw[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF {
			k.eof = true
			if k.prevCR {
				k.pending = append(k.pending, '\n')
				k.prevCR = false
			}
			if !k.binary && k.any && !k.endedLE {
				k.pending = append(k.pending, '\r', '\n')
			}
			break
		}
		if err != nil {
			return err
		}
	}
	n := len(k.pending)
	if n > ChunkSize {
		n = ChunkSize
	}
	buf = append(buf, k.pending[:n]...)
	k.pending = k.pending[:copy(k.pending, k.pending[n:])]
	k.bufs[k.which^1] = buf
	k.cur = buf
	k.last = k.eof && len(k.pending) == 0
	return nil
}

func (k *chunker) normalize(p []byte) error {
	k.any = true
	if k.binary {
		k.pending = append(k.pending, p...)
		return nil
	}
	for i, b := range p {
		switch {
		case b == 0:
			return &NULError{Offset: k.off + int64(i)}
		case b == '\n':
			if !k.prevCR {
				k.pending = append(k.pending, '\r')
			}
			k.pending = append(k.pending, '\n')
			k.prevCR = false
			k.endedLE = true
			continue
		case k.prevCR:
			k.pending = append(k.pending, '\n')
		}
		if b == '\r' {
			k.pending = append(k.pending, '\r')
			k.prevCR = true
			k.endedLE = true
			continue
		}
		k.pending = append(k.pending, b)
		k.prevCR = false
		k.endedLE = false
	}
	k.off += int64(len(p))
	return nil
}

// hasOptionValue says whether opts has KEY=VALUE (case-insensitive).
func hasOptionValue(opts []string, key, value string) bool {
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if strings.EqualFold(k, key) && strings.EqualFold(v, value) {
			return true
		}
	}
	return false
}

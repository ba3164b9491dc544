package protocol

import (
	"bytes"
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
// replies are then read in order and judged with smtplib's rules, exactly
// as the one-command-at-a-time path judges them.
func (c *Client) sendmailFast(from string, to []string, msg io.Reader, opts, rcptOpts []string, pipe, chunk bool) (map[string]Reply, error) {
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
		r, err := c.Mail(from, opts...)
		if err != nil {
			return nil, err
		}
		refused, err := c.judgeMail(from, r)
		if err != nil {
			return refused, err
		}
		for _, rcpt := range to {
			r, err := c.Rcpt(rcpt, rcptOpts...)
			if err != nil {
				return refused, err
			}
			if r.Code != 250 && r.Code != 251 {
				refused[rcpt] = r
				if r.Code == 421 {
					c.closeConn()
					return refused, &RecipientsRefusedError{Recipients: refused}
				}
			}
		}
		if len(refused) == len(to) {
			c.rsetQuietly()
			return refused, &RecipientsRefusedError{Recipients: refused}
		}
		return c.bdat(refused, body)
	}

	mailL, err := c.mailLine(from, opts)
	if err != nil {
		return nil, err
	}
	group := []string{mailL}
	for _, rcpt := range to {
		l, err := c.rcptLine(rcpt, rcptOpts)
		if err != nil {
			return nil, err
		}
		group = append(group, l)
	}
	var wire bytes.Buffer
	for _, l := range group {
		if err := ValidateLine(l); err != nil {
			return nil, err
		}
		wire.WriteString(l + CRLF)
	}
	// What ends the group: DATA, or the whole message as BDAT LAST when it
	// fits in one chunk.
	single := false
	if chunk {
		if err := body.fill(); err != nil {
			return nil, c.abortMessage(err, 0)
		}
		if body.last {
			single = true
			wire.WriteString(body.command())
			wire.Write(body.cur)
		}
	} else {
		wire.WriteString("data" + CRLF)
	}
	closer := chunk && !single
	if err := c.checkUnsolicited(); err != nil {
		return nil, err
	}
	if c.debugLevel > 0 {
		c.debugf("send: %s", pyRepr(wire.Bytes(), false))
	}
	expect := len(group)
	if !closer {
		expect++
	}
	c.pipelined = expect
	if err := c.write(wire.Bytes(), nil); err != nil {
		return nil, err
	}
	next := func() (Reply, error) {
		r, err := c.GetReply()
		if c.pipelined > 0 {
			c.pipelined--
		}
		return r, err
	}
	mailR, err := next()
	if err != nil {
		return nil, c.missing(err, "MAIL FROM")
	}
	c.afterMail(mailR)
	refused := map[string]Reply{}
	var rcptErr error
	for _, rcpt := range to {
		r, err := next()
		if err != nil {
			return refused, c.missing(err, "RCPT TO:<"+rcpt+">")
		}
		c.afterRcpt(rcpt, r)
		if r.Code != 250 && r.Code != 251 {
			refused[rcpt] = r
			if r.Code == 421 && rcptErr == nil {
				rcptErr = &RecipientsRefusedError{Recipients: refused}
			}
		}
	}
	var endR Reply
	endName := "DATA"
	if single {
		endName = "BDAT LAST"
	}
	if !closer {
		if single && c.kind == LMTP && len(c.accepted) > 0 {
			// LMTP answers a BDAT LAST once per accepted recipient.
			c.pipelined = 0
			first, err := c.readLMTPReplies()
			if err != nil {
				return refused, err
			}
			endR = first
		} else if endR, err = next(); err != nil {
			return refused, c.missing(err, endName)
		}
	}
	c.pipelined = 0
	if mailR.Code != 250 || rcptErr != nil || len(refused) == len(to) {
		if endR.Code == 354 {
			// The server took DATA although the transaction failed: end it
			// with an empty message so the connection stays in step.
			c.write([]byte("."+CRLF), nil)
			c.GetReply()
		}
		if mailR.Code != 250 {
			_, err := c.judgeMail(from, mailR)
			return nil, err
		}
		if rcptErr != nil {
			c.closeConn()
			return refused, rcptErr
		}
		c.rsetQuietly()
		return refused, &RecipientsRefusedError{Recipients: refused}
	}
	switch {
	case closer:
		return c.bdat(refused, body)
	case single:
		return c.judgeFinal(refused, endR)
	}
	if c.debugLevel > 0 {
		c.debugf("data: (%d, %s)", endR.Code, pyRepr([]byte(endR.Message), true))
	}
	if endR.Code != 354 {
		if endR.Code == 421 {
			c.closeConn()
		}
		return refused, &DataError{ResponseError(endR)}
	}
	c.setPhase(PhaseData)
	r, err := c.SendData(msg)
	if err != nil {
		return refused, err
	}
	return c.judgeFinal(refused, r)
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

// judgeMail applies smtplib's rule to the reply to MAIL: anything but 250
// is a *SenderRefusedError, after RSET, or after closing on 421.
func (c *Client) judgeMail(from string, r Reply) (map[string]Reply, error) {
	if r.Code == 250 {
		return map[string]Reply{}, nil
	}
	if r.Code == 421 {
		c.closeConn()
	} else {
		c.rsetQuietly()
	}
	return nil, &SenderRefusedError{ResponseError(r), from}
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
		body.out = append(append(body.out[:0], body.command()...), body.cur...)
		wire := body.out
		if c.debugLevel > 0 {
			c.debugf("send: %s", pyRepr([]byte(body.command()), false))
		}
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

// command is the BDAT line for cur.
func (k *chunker) command() string {
	s := "BDAT " + strconv.Itoa(len(k.cur))
	if k.last {
		s += " LAST"
	}
	return s + CRLF
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

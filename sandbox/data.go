package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// dataSequence checks what DATA and BDAT share: a transaction with at
// least one accepted recipient. 503 when the client skipped a step, 554
// when it tried and every recipient was refused (RFC 5321 §3.3).
func (c *conn) dataSequence(st Stage) (bool, error) {
	switch {
	case !c.inTxn:
		return false, c.reply(st, 503, "5.5.1", "Need MAIL command")
	case len(c.rcpts) == 0 && !c.rcptTried:
		return false, c.reply(st, 503, "5.5.1", "Need RCPT command")
	case len(c.rcpts) == 0:
		return false, c.reply(st, 554, "5.5.1", "No valid recipients")
	}
	return true, nil
}

func (c *conn) cmdData(arg string) error {
	if arg != "" {
		return c.reply(StageData, 501, "5.5.4", "Syntax: DATA (no parameters)")
	}
	if c.chunks != nil {
		return c.reply(StageData, 503, "5.5.1", "DATA not allowed once BDAT has begun")
	}
	if ok, err := c.dataSequence(StageData); !ok {
		return err
	}
	if c.body == "BINARYMIME" {
		// RFC 3030 §3: BINARYMIME content can only travel in BDAT.
		return c.reply(StageData, 503, "5.5.1", "BODY=BINARYMIME requires BDAT")
	}
	if err := c.reply(StageData, 354, "", "End data with <CR><LF>.<CR><LF>"); err != nil || c.mute {
		return err
	}
	data, tooBig, err := c.readData()
	if err != nil {
		return c.lost(err, "DATA")
	}
	c.srv.log.printf(c.id, "C: <message: %d octets>", len(data))
	c.srv.log.printf(c.id, "C: .")
	if tooBig {
		return c.refuseSize()
	}
	return c.deliver(data, false)
}

// readData reads DATA content up to the end-of-data line and undoes dot
// stuffing (RFC 5321 §4.5.2). Only CRLF "." CRLF ends the data: a line
// start is a position after CRLF, so a bare-LF "\n.\n" is content, not an
// end (the SMTP smuggling defence, security-anchors E1/E2). Content past
// MaxMessageBytes is read and thrown away so the reply comes after the
// end, where the client is listening.
func (c *conn) readData() ([]byte, bool, error) {
	if c.hasFault(FaultBareLFDot) {
		return c.readDataLoose()
	}
	var buf bytes.Buffer
	tooBig := false
	lineStart, prevCR := true, false
	for {
		if err := c.flushIfIdle(); err != nil {
			return nil, false, err
		}
		frag, err := c.r.ReadSlice('\n')
		complete := err == nil
		if err != nil && err != bufio.ErrBufferFull {
			return nil, false, err
		}
		if lineStart && complete && string(frag) == ".\r\n" {
			return buf.Bytes(), tooBig, nil
		}
		out := frag
		if lineStart && len(out) > 0 && out[0] == '.' {
			out = out[1:]
		}
		if !tooBig {
			if int64(buf.Len()+len(out)) > c.cfg.MaxMessageBytes {
				tooBig = true
				buf.Reset()
			} else {
				buf.Write(out)
			}
		}
		if complete {
			n := len(frag)
			lineStart = n >= 2 && frag[n-2] == '\r' || n == 1 && prevCR
			prevCR = false
		} else {
			lineStart = false
			prevCR = len(frag) > 0 && frag[len(frag)-1] == '\r'
		}
	}
}

func (c *conn) refuseSize() error {
	rcpts := c.rcpts
	c.resetTxn()
	const text = "Message size exceeds fixed maximum message size"
	if !c.cfg.LMTP {
		return c.reply(StageDot, 552, "5.3.4", text)
	}
	// LMTP answers every recipient after the data (RFC 2033 §4.2).
	for _, r := range rcpts {
		if err := c.reply(StageDot, 552, "5.3.4", "<"+r+"> "+text); err != nil {
			return err
		}
	}
	return nil
}

// cmdBdat implements RFC 3030 CHUNKING. The chunk's octets follow the
// command whatever the reply will be, so every path reads them first;
// otherwise they would be taken for commands.
func (c *conn) cmdBdat(arg string) error {
	fields := strings.Fields(arg)
	if len(fields) == 0 || len(fields) > 2 {
		return c.reply(StageBdat, 501, "5.5.4", "Syntax: BDAT size [LAST]")
	}
	size, err := strconv.ParseUint(fields[0], 10, 63)
	if err != nil {
		return c.reply(StageBdat, 501, "5.5.4", "Syntax: BDAT size [LAST]")
	}
	last := len(fields) == 2
	st := StageBdat
	if last {
		st = StageDot
	}
	lastOK := !last || strings.EqualFold(fields[1], "LAST")
	keep := lastOK && c.esmtp && c.inTxn && len(c.rcpts) > 0 && !c.chunkBig
	var chunk []byte
	if keep && c.chunkLen()+int64(size) <= c.cfg.MaxMessageBytes {
		chunk = make([]byte, size)
		err = c.readChunk(chunk)
	} else {
		if keep {
			c.chunkBig = true
		}
		err = c.skipChunk(int64(size))
	}
	if err != nil {
		return c.lost(err, "BDAT")
	}
	c.srv.log.printf(c.id, "C: <chunk: %d octets>", size)
	if !lastOK {
		return c.reply(StageBdat, 501, "5.5.4", "Syntax: BDAT size [LAST]")
	}
	if !c.esmtp {
		return c.reply(st, 503, "5.5.1", "Send "+strings.TrimPrefix(c.helloVerb(), "HELO/")+" first")
	}
	if ok, err := c.dataSequence(st); !ok {
		return err
	}
	if c.chunkBig {
		// RFC 3030 §2: after a failed chunk the transaction is over; the
		// chunks that follow get 503 for want of MAIL.
		return c.refuseSize()
	}
	if c.chunks == nil {
		c.chunks = new(bytes.Buffer)
	}
	c.chunks.Write(chunk)
	if !last {
		return c.reply(StageBdat, 250, "2.0.0", fmt.Sprintf("%d octets received", size))
	}
	return c.deliver(c.chunks.Bytes(), true)
}

func (c *conn) chunkLen() int64 {
	if c.chunks == nil {
		return 0
	}
	return int64(c.chunks.Len())
}

func (c *conn) readChunk(p []byte) error {
	if c.r.Buffered() < len(p) {
		if err := c.w.Flush(); err != nil {
			return err
		}
	}
	_, err := io.ReadFull(c.r, p)
	return err
}

func (c *conn) skipChunk(n int64) error {
	if int64(c.r.Buffered()) < n {
		if err := c.w.Flush(); err != nil {
			return err
		}
	}
	_, err := io.CopyN(io.Discard, c.r, n)
	return err
}

// deliver stores the message and answers: one reply in SMTP, one per
// recipient in LMTP (RFC 2033 §4.2), where a "full" mailbox fails alone.
func (c *conn) deliver(data []byte, chunked bool) error {
	c.msgs++
	id := fmt.Sprintf("%s.%d", c.id, c.msgs)
	rcpts := c.rcpts
	msg := Message{
		ID:       id,
		Session:  c.id,
		From:     c.from,
		Data:     append([]byte(nil), data...),
		Received: time.Now(),
		TLS:      c.tls,
		AuthUser: c.authUser,
		Helo:     c.helo,
		Params:   c.params,
		Chunked:  chunked,
	}
	for _, r := range rcpts {
		if !c.cfg.LMTP || !isFullMailbox(r) {
			msg.To = append(msg.To, r)
		}
	}
	c.resetTxn()
	if len(msg.To) > 0 {
		c.srv.mailbox.add(msg)
		c.note("delivered %s: %d octets from <%s> to %s", id, len(msg.Data), msg.From, strings.Join(msg.To, ", "))
	}
	if !c.cfg.LMTP {
		return c.reply(StageDot, 250, "2.0.0", "Ok: queued as "+id)
	}
	missing, extra := c.hasFault(FaultLMTPMissing), c.hasFault(FaultLMTPExtra)
	for i, r := range rcpts {
		if missing && i == len(rcpts)-1 {
			// security-anchors F20: the client must time out and name
			// this recipient.
			c.note("fault lmtp-missing: no reply for <%s>", r)
			continue
		}
		var err error
		if isFullMailbox(r) {
			err = c.reply(StageDot, 452, "4.2.2", "<"+r+"> Mailbox full")
		} else {
			err = c.reply(StageDot, 250, "2.0.0", "<"+r+"> Ok: delivered as "+id)
		}
		if err != nil {
			return err
		}
	}
	if extra {
		// security-anchors F21: one reply more than recipients.
		c.note("fault lmtp-extra: one reply more than recipients")
		return c.reply(StageDot, 250, "2.0.0", "<extra@"+c.cfg.Hostname+"> Ok: delivered as "+id)
	}
	return nil
}

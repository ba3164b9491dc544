package sandbox

import (
	"bufio"
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
	if c.bdat {
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
	n, refused, err := c.readData()
	if err != nil {
		return c.lost(err, "DATA")
	}
	if c.srv.log.on {
		c.srv.log.printf(c.id, "C: <message: %d octets>", n)
		c.srv.log.printf(c.id, "C: .")
	}
	if c.sess != nil {
		c.wireBody(n)
	}
	if refused != nil {
		return refused()
	}
	return c.deliver(c.data, false)
}

// readData reads DATA content up to the end-of-data line and undoes dot
// stuffing (RFC 5321 §4.5.2). Only CRLF "." CRLF ends the data: a line
// start is a position after CRLF, so a bare-LF "\n.\n" is content, not an
// end (the SMTP smuggling defence, security-anchors E1/E2). Content past
// MaxMessageBytes, or past the shared buffer (BufferBytes), is read and
// thrown away so the reply comes after the end, where the client is
// listening; refused then gives that reply. The content is left in c.data;
// n counts every octet, kept or not.
//
// Under the bare-lf-dot fault it reads as a vulnerable server does: a line
// starts after any LF, and a "." line ended by LF or CRLF ends the data
// (<LF>.<LF>, <LF>.<CR><LF> and <CR><LF>.<LF>; CVE-2023-51764 for
// Postfix, -51766 for Exim), so what follows is read as commands.
func (c *conn) readData() (n int, refused func() error, err error) {
	loose := c.hasFault(FaultBareLFDot)
	lineStart, prevCR := true, false
	c.raw.request(true)
	for {
		if err := c.flushIfIdle(); err != nil {
			return n, nil, err
		}
		frag, err := c.r.ReadSlice('\n')
		complete := err == nil
		if err != nil && err != bufio.ErrBufferFull {
			return n, nil, err
		}
		if lineStart && complete && (string(frag) == ".\r\n" || loose && string(frag) == ".\n") {
			return n, refused, nil
		}
		out := frag
		if lineStart && len(out) > 0 && out[0] == '.' {
			out = out[1:]
		}
		n += len(out)
		switch {
		case refused != nil:
		case int64(len(c.data)+len(out)) > c.cfg.MaxMessageBytes:
			refused = c.refuseSize
			c.endMessage()
		case !c.grow(len(out)):
			// The buffer is kept, empty, until the reply: handing its
			// bytes to another session now would only churn memory.
			refused = c.refuseStorage
			c.data = c.data[:0]
		default:
			c.data = append(c.data, out...)
		}
		if complete {
			c.raw.request(true) // the next line has a timeout of its own
		}
		switch {
		case complete && loose:
			lineStart = true
		case complete:
			n := len(frag)
			lineStart = n >= 2 && frag[n-2] == '\r' || n == 1 && prevCR
			prevCR = false
		default:
			lineStart = false
			prevCR = len(frag) > 0 && frag[len(frag)-1] == '\r'
		}
	}
}

func (c *conn) refuseSize() error {
	return c.refuseMessage(552, "5.3.4", "Message size exceeds fixed maximum message size")
}

// refuseStorage answers a message that did not fit in the buffer the
// sessions share: 452, insufficient system storage (RFC 5321 §4.2.2), a
// temporary failure, since the room comes back as other sessions finish.
func (c *conn) refuseStorage() error {
	c.note("buffer full: the sessions hold %d of %d octets (--buffer-bytes); message dropped",
		c.srv.buffered.Load(), c.cfg.BufferBytes)
	return c.refuseMessage(452, "4.3.1", "Insufficient system storage")
}

func (c *conn) refuseMessage(code int, enh, text string) error {
	rcpts := c.rcpts
	c.resetTxn()
	if !c.cfg.LMTP {
		return c.reply(StageDot, code, enh, text)
	}
	// LMTP answers every recipient after the data (RFC 2033 §4.2).
	for _, r := range rcpts {
		if err := c.reply(StageDot, code, enh, "<"+r+"> "+text); err != nil {
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
	keep := lastOK && c.esmtp && c.inTxn && len(c.rcpts) > 0 && !c.chunkBig && !c.chunkFull
	if keep && int64(len(c.data))+int64(size) > c.cfg.MaxMessageBytes {
		keep, c.chunkBig = false, true
		c.endMessage()
	}
	if keep && !c.grow(int(size)) {
		keep, c.chunkFull = false, true
		c.data = c.data[:0]
	}
	if keep {
		n := len(c.data)
		c.data = c.data[:n+int(size)]
		err = c.readChunk(c.data[n:])
	} else {
		err = c.skipChunk(int64(size))
	}
	if err != nil {
		return c.lost(err, "BDAT")
	}
	if c.srv.log.on {
		c.srv.log.printf(c.id, "C: <chunk: %d octets>", size)
	}
	if !lastOK {
		return c.reply(StageBdat, 501, "5.5.4", "Syntax: BDAT size [LAST]")
	}
	if !c.esmtp {
		return c.reply(st, 503, "5.5.1", "Send "+strings.TrimPrefix(c.helloVerb(), "HELO/")+" first")
	}
	if ok, err := c.dataSequence(st); !ok {
		return err
	}
	// RFC 3030 §2: after a failed chunk the transaction is over; the
	// chunks that follow get 503 for want of MAIL.
	if c.chunkBig {
		return c.refuseSize()
	}
	if c.chunkFull {
		return c.refuseStorage()
	}
	c.bdat = true
	if !last {
		return c.reply(StageBdat, 250, "2.0.0", strconv.FormatUint(size, 10)+" octets received")
	}
	return c.deliver(c.data, true)
}

func (c *conn) readChunk(p []byte) error {
	c.raw.request(true)
	if c.r.Buffered() < len(p) {
		if err := c.w.Flush(); err != nil {
			return err
		}
	}
	_, err := io.ReadFull(c.r, p)
	return err
}

func (c *conn) skipChunk(n int64) error {
	c.raw.request(true)
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
	id := c.id + "." + strconv.Itoa(c.msgs)
	rcpts := c.rcpts
	if c.cfg.LMTP {
		lmtpOutcome(c.rcptLog)
	}
	msg := Message{
		ID:         id,
		Session:    c.id,
		From:       c.from,
		Data:       append([]byte(nil), data...),
		Received:   time.Now(),
		TLS:        c.tls,
		TLSVersion: c.tlsVersion,
		Rcpts:      c.rcptLog,
		AuthUser:   c.authUser,
		Helo:       c.helo,
		Params:     c.params,
		Chunked:    chunked,
	}
	for _, r := range rcpts {
		if !c.cfg.LMTP || !isFullMailbox(r) {
			msg.To = append(msg.To, r)
		}
	}
	c.resetTxn()
	if len(msg.To) > 0 {
		dropped, droppedBytes := c.srv.mailbox.add(msg)
		if c.srv.students != nil {
			c.deliverStudents(&msg)
		}
		if c.sess != nil {
			c.countMessage()
		}
		if c.srv.log.on {
			c.note("delivered %s: %d octets from <%s> to %s", id, len(msg.Data), msg.From, strings.Join(msg.To, ", "))
			if dropped > 0 {
				c.note("mailbox full (%d messages, %d octets at most): dropped the %d oldest, %d octets",
					c.cfg.MailboxLimit, c.cfg.MailboxBytes, dropped, droppedBytes)
			}
		}
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
			code, enh, text := lmtpFull(r)
			err = c.reply(StageDot, code, enh, text)
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

package protocol

import (
	"bytes"
	"fmt"
	"time"
)

// Pipeline sends mail transaction after mail transaction on one
// connection, writing the next before the replies to the last are read.
// RFC 2920 §3.1 ends a pipelined group only at DATA, EHLO, STARTTLS, AUTH
// and a few others, and lets message content begin a group; RFC 3030 adds
// no such rule for BDAT. So, when the server offers PIPELINING:
//
//   - with CHUNKING (and Options.Chunking), each transaction is one write,
//     MAIL, every RCPT and the whole message as "BDAT n LAST", and up to
//     depth of them are in flight at once;
//   - without it, the message of one transaction, its final dot, and the
//     next transaction's MAIL, RCPT and DATA go in one write: one round
//     trip per message instead of Sendmail's two.
//
// RFC 5321 §4.1.4 forbids MAIL while a transaction is open, and a
// transaction whose replies have not been read may have failed and left one
// open. So every transaction written behind another whose outcome is not
// known yet, or after one that failed, starts with RSET. After a completed
// transaction RSET changes nothing; it costs one short line each way and
// makes each transaction's outcome independent of the one before.
//
// A message that cannot go this way is sent by Sendmail once everything in
// flight is done: when the server does not offer PIPELINING, Options does
// not ask for it, the message asks for BODY=BINARYMIME, or it is larger
// than ChunkSize.
//
// Results come back in order through the done function given to
// NewPipeline, from Send (for the transactions it had to finish to go on)
// and from Flush. Without CHUNKING the last message is only sent by the
// next Send or by Flush, so a caller must Flush when it has no more to send;
// msg must not change until its result is reported. A Pipeline owns the
// client until Flush returns: nothing else may send commands on it in
// between.
type Pipeline struct {
	c     *Client
	depth int
	done  func(TxResult)

	pending []pendingTx // BDAT: written, replies not read yet, oldest first
	due     int         // replies expected for pending, LMTP's per-recipient ones counted as one
	ready   *readyTx    // DATA: answered 354, its message not sent yet
	dirty   bool        // the last transaction read failed: the server may hold it open
	wire    bytes.Buffer
	group   []byte // one transaction's commands, encoded
	lines   []string

	maxInFlight int
}

// TxResult is the outcome of one transaction sent through a Pipeline, as
// Sendmail would return it, and when its parts happened.
type TxResult struct {
	Refused map[string]Reply
	Err     error
	// Written is when the transaction's commands were written, Envelope
	// when the reply to its last RCPT was read (zero if the transaction
	// went through Sendmail), Done when its last reply was read.
	Written, Envelope, Done time.Time
}

type pendingTx struct {
	mail    string // the MAIL line, for the state reducer
	from    string
	to      []string
	rset    bool
	written time.Time
}

// readyTx is a transaction whose DATA the server accepted with 354.
type readyTx struct {
	pendingTx
	msg      []byte
	refused  map[string]Reply
	envelope time.Time
	// failed is set when the transaction had already failed but the server
	// took DATA anyway: an empty message ends it, and this is the result.
	failed error
}

// DefaultPipelineDepth is how many transactions a Pipeline keeps in
// flight unless told otherwise.
const DefaultPipelineDepth = 16

// maxRepliesDue bounds the replies a Pipeline lets the server owe. The
// client does not read while it writes, so what the server answers in the
// meantime waits in the two sockets' buffers; a few hundred short replies
// fit there many times over, and the server is never left blocked on a
// write while the client is blocked on one too.
const maxRepliesDue = 128

// NewPipeline returns a Pipeline on c keeping up to depth transactions in
// flight (DefaultPipelineDepth when depth < 1); done receives every
// transaction's result, in the order sent. Depth 1 groups exactly as
// Sendmail does, never past the message: no transaction is written before
// the one ahead is answered (RSET then only follows a failure).
func (c *Client) NewPipeline(depth int, done func(TxResult)) *Pipeline {
	if depth < 1 {
		depth = DefaultPipelineDepth
	}
	return &Pipeline{c: c, depth: depth, done: done}
}

// pipeMode is how one message goes.
type pipeMode int

const (
	modeSendmail pipeMode = iota
	modeBDAT
	modeDATA
)

// Send sends one message to the recipients, as Sendmail does, pipelined
// behind the transactions in flight when it can be. Every address and
// option is checked first; a message with an error in them is reported
// through done without anything being sent.
func (p *Pipeline) Send(from string, to []string, msg []byte, mailOpts, rcptOpts []string) {
	c := p.c
	start := c.now()
	fail := func(err error) {
		p.done(TxResult{Err: err, Written: start, Done: c.now()})
	}
	if err := validateEnvelope(from, to, mailOpts, rcptOpts); err != nil {
		fail(err)
		return
	}
	if c.heloResp == nil && c.ehloResp == nil {
		// Greeting waits for its reply; nothing may be in flight.
		p.Flush()
	}
	// This also refuses a message with a NUL in it, before anything is sent.
	opts, err := c.mailOptions(from, to, bytes.NewReader(msg), mailOpts)
	if err != nil {
		fail(err)
		return
	}
	switch p.mode(opts, msg) {
	case modeBDAT:
		p.sendBDAT(from, to, msg, opts, mailOpts, rcptOpts, fail)
	case modeDATA:
		p.sendDATA(from, to, msg, opts, rcptOpts, fail)
	default:
		p.sendmail(from, to, msg, opts, rcptOpts)
	}
}

func (p *Pipeline) mode(opts []string, msg []byte) pipeMode {
	c := p.c
	switch {
	case !c.opts.Pipelining || !c.doesESMTP || !c.HasExtn("pipelining"),
		// BODY=BINARYMIME needs the chunker's binary mode; Sendmail has it.
		hasOptionValue(opts, "BODY", "BINARYMIME"),
		len(msg) > ChunkSize:
		return modeSendmail
	case c.opts.Chunking && c.HasExtn("chunking"):
		return modeBDAT
	}
	return modeDATA
}

// writeGroup puts a transaction's commands in p.group: RSET when asked,
// MAIL, every RCPT, and DATA when asked.
// They go through the client's one encoder, in order, so that the RSET
// ends UTF-8 mode before the MAIL decides it again.
func (p *Pipeline) writeGroup(rset bool, from string, to []string, opts, rcptOpts []string, data bool) error {
	c := p.c
	p.lines = p.lines[:0]
	if rset {
		p.lines = append(p.lines, "rset")
	}
	l, err := c.mailLine(from, opts)
	for i := 0; err == nil; i++ {
		p.lines = append(p.lines, l)
		if i == len(to) {
			break
		}
		l, err = c.rcptLine(to[i], rcptOpts)
	}
	if err != nil {
		return err
	}
	if data {
		p.lines = append(p.lines, "data")
	}
	p.group, err = c.encodeGroup(p.group[:0], p.lines)
	return err
}

// mailLine is the MAIL line of the group writeGroup built last.
func (p *Pipeline) mailLine(rset bool) string {
	if rset {
		return p.lines[1]
	}
	return p.lines[0]
}

// write sends p.wire, after the unsolicited-data check when no reply is
// due (a reply already waiting then was never asked for).
func (p *Pipeline) write() (time.Time, error) {
	c := p.c
	if len(p.pending) == 0 {
		if err := c.checkUnsolicited(); err != nil {
			return c.now(), err
		}
	}
	if c.debugLevel > 0 {
		c.debugf("send: %s", pyRepr(p.wire.Bytes(), false))
	}
	c.pipelined = 1 // replies are due: buffered bytes are not unsolicited
	written := c.now()
	return written, c.write(p.wire.Bytes(), nil)
}

func (p *Pipeline) sendBDAT(from string, to []string, msg []byte, opts, mailOpts, rcptOpts []string, fail func(error)) {
	c := p.c
	p.flushReady()
	if c.chunker == nil {
		c.chunker = &chunker{raw: make([]byte, 32<<10)}
	}
	body := c.chunker
	body.reset(bytes.NewReader(msg), false)
	if err := body.fill(); err != nil {
		fail(err)
		return
	}
	if !body.last {
		// Line ends made it grow past one chunk.
		p.sendmail(from, to, msg, mailOpts, rcptOpts)
		return
	}
	replies := 2 + len(to) // RSET, MAIL, RCPT…, BDAT LAST (LMTP: its first)
	for len(p.pending) > 0 && (len(p.pending) >= p.depth || p.due+replies > maxRepliesDue) {
		p.readOne()
	}
	rset := len(p.pending) > 0 || p.dirty
	if err := p.writeGroup(rset, from, to, opts, rcptOpts, false); err != nil {
		fail(err)
		return
	}
	p.wire.Reset()
	p.wire.Write(p.group)
	bdat, err := c.encodeLine(nil, body.command(), lineCommand)
	if err != nil {
		fail(err)
		return
	}
	p.wire.Write(bdat)
	p.wire.Write(body.cur)
	body.cur = nil
	written, err := p.write()
	if err != nil {
		// The transactions ahead may have been answered before the
		// connection went; read what arrived, then report this one.
		p.Flush()
		p.done(TxResult{Err: err, Written: written, Done: c.now()})
		return
	}
	if !rset {
		replies--
	}
	p.pending = append(p.pending, pendingTx{mail: p.mailLine(rset), from: from, to: to, rset: rset, written: written})
	p.maxInFlight = max(p.maxInFlight, len(p.pending))
	p.due += replies
	p.dirty = false
}

// sendDATA writes the message of the transaction waiting at 354 (if any)
// and this transaction's commands in one write, reads the first one's
// final reply, then this one's replies up to DATA's.
func (p *Pipeline) sendDATA(from string, to []string, msg []byte, opts, rcptOpts []string, fail func(error)) {
	c := p.c
	for len(p.pending) > 0 {
		p.readOne()
	}
	if p.depth == 1 {
		// One transaction at a time: the message goes alone, as Sendmail
		// sends it, and the next group waits for its reply.
		p.flushReady()
	}
	prev := p.ready
	rset := prev != nil || p.dirty
	if err := p.writeGroup(rset, from, to, opts, rcptOpts, true); err != nil {
		fail(err)
		return
	}
	p.ready = nil
	p.wire.Reset()
	if prev != nil {
		if err := p.encode(prev); err != nil {
			c.closeConn()
			p.report(prev, TxResult{Err: err})
			fail(&ServerDisconnectedError{Msg: "connection closed: the message before could not be sent"})
			return
		}
	}
	p.wire.Write(p.group)
	written, err := p.write()
	if err != nil {
		if prev != nil {
			p.report(prev, TxResult{Err: err})
		}
		p.done(TxResult{Err: err, Written: written, Done: c.now()})
		return
	}
	if prev != nil {
		p.maxInFlight = max(p.maxInFlight, 2)
		p.readFinal(prev)
	}
	// Whatever prev, or a failure before it, left open, the RSET in this
	// write has ended.
	p.dirty = false
	t := pendingTx{mail: p.mailLine(rset), from: from, to: to, rset: rset, written: written}
	res := TxResult{Written: written}
	e, err := p.readEnvelope(t, &res)
	refused := e.result()
	if err == nil {
		var dataR Reply
		dataR, err = c.GetReply()
		if err != nil {
			err = c.missing(err, "DATA")
		} else {
			if c.debugLevel > 0 {
				c.debugf("data: (%d, %s)", dataR.Code, pyRepr([]byte(dataR.Message), true))
			}
			err = e.verdict()
			if dataR.Code == 354 {
				c.setPhase(PhaseData)
				p.ready = &readyTx{pendingTx: t, msg: msg, refused: refused, envelope: res.Envelope, failed: err}
				c.pipelined = 0
				return
			}
			if dataR.Code == 421 {
				c.closeConn()
			}
			if err == nil {
				err = &DataError{ResponseError(dataR)}
			}
		}
	}
	c.pipelined = 0
	res.Refused, res.Err = refused, err
	p.dirty = true
	res.Done = c.now()
	p.done(res)
}

// encode appends r's message to p.wire, dot-stuffed and ended with the
// final dot; a transaction that had already failed gets an empty one.
func (p *Pipeline) encode(r *readyTx) error {
	c := p.c
	if r.failed != nil {
		p.wire.WriteString("." + CRLF)
		return nil
	}
	if c.encBuf == nil {
		c.encBuf = make([]byte, 0, encBuf)
	}
	enc := newDataEncoderBuf(&p.wire, c.encBuf)
	if _, err := enc.Write(r.msg); err != nil {
		return &AbortError{Err: err}
	}
	if err := enc.Close(); err != nil {
		return &AbortError{Err: err}
	}
	if n := enc.LongLines(); n > 0 {
		c.note(fmt.Sprintf("%d message line(s) longer than RFC 5321's 1000-octet limit were sent unfolded", n))
	}
	return nil
}

// readFinal reads the reply to the end of r's message (one per accepted
// recipient in LMTP) and reports r.
func (p *Pipeline) readFinal(r *readyTx) {
	c := p.c
	res := TxResult{Written: r.written, Envelope: r.envelope}
	var endR Reply
	var err error
	if c.kind == LMTP && len(c.accepted) > 0 && r.failed == nil {
		endR, err = c.readLMTPReplies()
	} else {
		endR, err = c.GetReply()
		if err != nil {
			err = c.missing(err, "the end of the message")
		} else if c.debugLevel > 0 {
			c.debugf("data: (%d, %s)", endR.Code, pyRepr([]byte(endR.Message), true))
		}
	}
	switch {
	case err != nil:
		res.Refused, res.Err = r.refused, err
	case r.failed != nil:
		res.Refused, res.Err = r.refused, r.failed
		c.endTransaction()
	default:
		if endR.Code == 421 {
			c.closeConn()
		}
		res.Refused, res.Err = c.finalVerdict(r.refused, endR)
	}
	p.report(r, res)
}

// report completes a DATA transaction's result and hands it on.
func (p *Pipeline) report(r *readyTx, res TxResult) {
	res.Written, res.Envelope, res.Done = r.written, r.envelope, p.c.now()
	if res.Refused == nil {
		res.Refused = r.refused
	}
	if res.Err != nil {
		p.dirty = true
	}
	p.done(res)
}

// flushReady sends the message of the transaction waiting at 354 on its
// own and reads its final reply.
func (p *Pipeline) flushReady() {
	r := p.ready
	if r == nil {
		return
	}
	p.ready = nil
	p.wire.Reset()
	if err := p.encode(r); err != nil {
		p.c.closeConn()
		p.report(r, TxResult{Err: err})
		return
	}
	if _, err := p.write(); err != nil {
		p.report(r, TxResult{Err: err})
		return
	}
	p.readFinal(r)
	p.c.pipelined = 0
}

// sendmail sends one message the ordinary way, after everything in
// flight, and reports it like the others. opts are MAIL's options as
// Send worked them out.
func (p *Pipeline) sendmail(from string, to []string, msg []byte, opts, rcptOpts []string) {
	p.Flush()
	c := p.c
	res := TxResult{Written: c.now()}
	res.Refused, res.Err = c.sendmail(from, to, bytes.NewReader(msg), opts, rcptOpts)
	res.Done = c.now()
	p.done(res)
}

// Flush sends what is waiting, reads the replies of every transaction in
// flight and reports them. After a failed transaction it sends RSET, as
// Sendmail would have.
func (p *Pipeline) Flush() {
	for len(p.pending) > 0 {
		p.readOne()
	}
	p.flushReady()
	if p.dirty && p.c.Connected() {
		p.c.rsetQuietly()
	}
	p.dirty = false
}

// Pending is how many transactions have been sent whose final replies
// have not been read.
func (p *Pipeline) Pending() int {
	if p.ready != nil {
		return len(p.pending) + 1
	}
	return len(p.pending)
}

// MaxInFlight is the most transactions that were in flight at once: more
// than one when transactions went one behind another.
func (p *Pipeline) MaxInFlight() int { return p.maxInFlight }

// readOne reads the replies of the oldest BDAT transaction in flight.
func (p *Pipeline) readOne() {
	t := p.pending[0]
	p.pending = p.pending[:copy(p.pending, p.pending[1:])]
	p.due -= 2 + len(t.to)
	if !t.rset {
		p.due++
	}
	res := TxResult{Written: t.written}
	res.Refused, res.Err = p.read(t, &res)
	res.Done = p.c.now()
	if len(p.pending) == 0 {
		// A failure with transactions still behind it needs nothing: they
		// were written starting with RSET.
		p.dirty = res.Err != nil
		p.c.pipelined = 0
	}
	p.done(res)
}

// readEnvelope reads the replies to RSET (when sent), MAIL and every RCPT:
// all of them whatever the first say, since the server answers each
// command written, and judges them with the rules every engine shares
// (envelope). 421 is the server closing: nothing more will come.
func (p *Pipeline) readEnvelope(t pendingTx, res *TxResult) (*envelope, error) {
	c := p.c
	e := newEnvelope(t.from, len(t.to))
	if !c.Connected() {
		return e, &ServerDisconnectedError{Msg: "connection closed before the replies to this transaction were read"}
	}
	next := func(what string) (Reply, error) {
		r, err := c.GetReply()
		if err != nil {
			return r, c.missing(err, what)
		}
		return r, nil
	}
	if t.rset {
		r, err := next("RSET")
		if err != nil {
			return e, err
		}
		if r.Code == 421 {
			c.closeConn()
			return e, &ResponseError{Code: r.Code, Message: r.Message}
		}
		c.observe(sentCmd{verb: "RSET"}, r)
	}
	mailR, err := next("MAIL FROM")
	if err != nil {
		return e, err
	}
	c.accepted = c.accepted[:0]
	c.afterMail(t.mail, mailR)
	ok := e.mailReply(mailR)
	for i := 0; i < len(t.to) && !e.closing; i++ {
		r, err := next("RCPT TO:<" + t.to[i] + ">")
		if err != nil {
			return e, err
		}
		if ok {
			c.afterRcpt(t.to[i], r)
		}
		e.rcptReply(t.to[i], r)
	}
	if e.closing {
		c.closeConn()
		return e, e.verdict()
	}
	res.Envelope = c.now()
	return e, nil
}

// read reads one BDAT transaction's replies and judges them with
// Sendmail's rules.
func (p *Pipeline) read(t pendingTx, res *TxResult) (map[string]Reply, error) {
	c := p.c
	e, err := p.readEnvelope(t, res)
	refused := e.result()
	if err != nil {
		return refused, err
	}
	var endR Reply
	if c.kind == LMTP && len(c.accepted) > 0 {
		endR, err = c.readLMTPReplies()
	} else if endR, err = c.GetReply(); err != nil {
		err = c.missing(err, "BDAT LAST")
	}
	if err != nil {
		return refused, err
	}
	if endR.Code == 421 {
		c.closeConn()
	}
	if err := e.verdict(); err != nil {
		return refused, err
	}
	return c.finalVerdict(refused, endR)
}

package protocol

import (
	"bytes"
	"time"
)

// Pipeline sends mail transaction after mail transaction on one
// connection without waiting for one transaction's replies before writing
// the next. Each transaction is one write: MAIL, every RCPT, and the whole
// message as "BDAT n LAST". RFC 2920 §3.1 lets a group end only with DATA,
// EHLO, STARTTLS, AUTH and a few others, and RFC 3030 adds no such rule for
// BDAT, so the next transaction may follow in the same group; this is what
// takes a load run past one round trip per message, where Sendmail with
// PIPELINING and CHUNKING stops.
//
// RFC 5321 §4.1.4 forbids MAIL while a transaction is open, and a
// transaction whose replies have not been read may have failed and left one
// open. So every transaction written behind another whose outcome is not
// known yet, or after one that failed, starts with RSET. After a completed
// transaction RSET changes nothing; it costs one short line each way and
// makes each transaction's outcome independent of the one before.
//
// A message that cannot go this way is sent by Sendmail once the replies
// still due are read: when the server does not offer both PIPELINING and
// CHUNKING, the client's Options do not ask for both, or the message does
// not fit in one chunk (ChunkSize).
//
// Results come back in order through the done function given to
// NewPipeline, from Send (for the transactions it had to wait for to make
// room) and from Flush. A Pipeline owns the client until Flush returns:
// nothing else may send commands on it in between.
type Pipeline struct {
	c     *Client
	depth int
	done  func(TxResult)

	pending []pendingTx // written, replies not read yet, oldest first
	due     int         // replies expected for pending, LMTP's per-recipient ones counted as one
	dirty   bool        // the last transaction read failed: the server may hold it open
	wire    bytes.Buffer
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
	from    string
	to      []string
	rset    bool
	written time.Time
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
// transaction's result, in the order sent.
func (c *Client) NewPipeline(depth int, done func(TxResult)) *Pipeline {
	if depth < 1 {
		depth = DefaultPipelineDepth
	}
	return &Pipeline{c: c, depth: depth, done: done}
}

// Send sends one message to the recipients, as Sendmail does, pipelined
// behind the transactions still in flight when it can be. Every address
// and option is checked first; a message with an error in them is
// reported through done without anything being sent.
func (p *Pipeline) Send(from string, to []string, msg []byte, mailOpts, rcptOpts []string) {
	c := p.c
	start := c.now()
	fail := func(err error) {
		p.done(TxResult{Err: err, Written: start, Done: c.now()})
	}
	for _, a := range append([]string{from}, to...) {
		if err := ValidateAddress(a); err != nil {
			fail(err)
			return
		}
	}
	for _, o := range append(append([]string(nil), mailOpts...), rcptOpts...) {
		if err := ValidateESMTPParam(o); err != nil {
			fail(err)
			return
		}
	}
	if c.heloResp == nil && c.ehloResp == nil {
		// Greeting waits for its reply; nothing may be in flight.
		p.Flush()
	}
	opts, err := c.mailOptions(from, to, bytes.NewReader(msg), mailOpts)
	if err != nil {
		fail(err)
		return
	}
	if !p.canPipeline(opts) {
		p.sendmail(from, to, msg, mailOpts, rcptOpts)
		return
	}
	if c.chunker == nil {
		c.chunker = &chunker{raw: make([]byte, 32<<10)}
	}
	body := c.chunker
	body.reset(bytes.NewReader(msg), false)
	if err := body.fill(); err != nil {
		// A NUL, refused before anything is sent (messageSize checks
		// for it first, so this is only a second line of defence).
		fail(err)
		return
	}
	if !body.last {
		p.sendmail(from, to, msg, mailOpts, rcptOpts)
		return
	}

	replies := 2 + len(to) // RSET, MAIL, RCPT…, BDAT LAST (LMTP: its first)
	for len(p.pending) > 0 && (len(p.pending) >= p.depth || p.due+replies > maxRepliesDue) {
		p.readOne()
	}
	rset := len(p.pending) > 0 || p.dirty
	p.wire.Reset()
	if rset {
		p.wire.WriteString("rset" + CRLF)
	}
	l, err := c.mailLine(from, opts)
	for i := 0; err == nil; i++ {
		if err = ValidateLine(l); err != nil {
			break
		}
		p.wire.WriteString(l)
		p.wire.WriteString(CRLF)
		if i == len(to) {
			break
		}
		l, err = c.rcptLine(to[i], rcptOpts)
	}
	if err != nil {
		fail(err)
		return
	}
	p.wire.WriteString(body.command())
	p.wire.Write(body.cur)
	body.cur = nil
	if len(p.pending) == 0 {
		if err := c.checkUnsolicited(); err != nil {
			fail(err)
			return
		}
	}
	if c.debugLevel > 0 {
		c.debugf("send: %s", pyRepr(p.wire.Bytes(), false))
	}
	c.pipelined = 1 // replies are due: buffered bytes are not unsolicited
	written := c.now()
	if err := c.write(p.wire.Bytes(), nil); err != nil {
		// The transactions ahead may have been answered before the
		// connection went; read what arrived, then report this one.
		p.Flush()
		p.done(TxResult{Err: err, Written: written, Done: c.now()})
		return
	}
	if !rset {
		replies--
	}
	p.pending = append(p.pending, pendingTx{from: from, to: to, rset: rset, written: written})
	p.due += replies
	p.dirty = false
}

// canPipeline says whether a transaction may go out behind others.
func (p *Pipeline) canPipeline(opts []string) bool {
	c := p.c
	return c.opts.Pipelining && c.opts.Chunking && c.doesESMTP &&
		c.HasExtn("pipelining") && c.HasExtn("chunking") &&
		// BODY=BINARYMIME needs the chunker's binary mode; Sendmail has it.
		!hasOptionValue(opts, "BODY", "BINARYMIME")
}

// sendmail sends one message the ordinary way, after the replies still
// due, and reports it like the others.
func (p *Pipeline) sendmail(from string, to []string, msg []byte, mailOpts, rcptOpts []string) {
	p.Flush()
	c := p.c
	res := TxResult{Written: c.now()}
	res.Refused, res.Err = c.Sendmail(from, to, bytes.NewReader(msg), mailOpts, rcptOpts)
	res.Done = c.now()
	p.done(res)
}

// Flush reads the replies of every transaction in flight and reports them.
// After a failed transaction it sends RSET, as Sendmail would have.
func (p *Pipeline) Flush() {
	for len(p.pending) > 0 {
		p.readOne()
	}
	if p.dirty && p.c.Connected() {
		p.c.rsetQuietly()
		p.dirty = false
	}
}

// Pending is how many transactions have been written whose replies have
// not been read.
func (p *Pipeline) Pending() int { return len(p.pending) }

// readOne reads the replies of the oldest transaction in flight.
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
	if res.Err != nil {
		p.dirty = true
	}
	if len(p.pending) == 0 {
		p.c.pipelined = 0
	}
	p.done(res)
}

// read reads one transaction's replies, every one of them whatever the
// first say (the server answers each command written), and judges them
// with Sendmail's rules.
func (p *Pipeline) read(t pendingTx, res *TxResult) (map[string]Reply, error) {
	c := p.c
	if !c.Connected() {
		return nil, &ServerDisconnectedError{Msg: "Connection closed before the replies to this transaction were read"}
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
			return nil, err
		}
		if r.Code == 421 {
			c.closeConn()
			return nil, &ResponseError{Code: r.Code, Message: r.Message}
		}
		if r.Code == 250 {
			c.endTransaction()
		}
	}
	// 421 anywhere means the server is closing: nothing more will come.
	mailR, err := next("MAIL FROM")
	if err != nil {
		return nil, err
	}
	c.accepted = c.accepted[:0]
	c.afterMail(mailR)
	if mailR.Code == 421 {
		c.closeConn()
		return nil, &SenderRefusedError{ResponseError(mailR), t.from}
	}
	refused := map[string]Reply{}
	for _, rcpt := range t.to {
		r, err := next("RCPT TO:<" + rcpt + ">")
		if err != nil {
			return refused, err
		}
		if mailR.Code == 250 {
			c.afterRcpt(rcpt, r)
		}
		if r.Code != 250 && r.Code != 251 {
			refused[rcpt] = r
			if r.Code == 421 {
				c.closeConn()
				return refused, &RecipientsRefusedError{Recipients: refused}
			}
		}
	}
	res.Envelope = c.now()
	var endR Reply
	if c.kind == LMTP && len(c.accepted) > 0 {
		endR, err = c.readLMTPReplies()
	} else {
		endR, err = next("BDAT LAST")
	}
	if err != nil {
		return refused, err
	}
	if endR.Code == 421 {
		c.closeConn()
	}
	switch {
	case mailR.Code != 250:
		return nil, &SenderRefusedError{ResponseError(mailR), t.from}
	case len(refused) == len(t.to):
		return refused, &RecipientsRefusedError{Recipients: refused}
	}
	return c.finalVerdict(refused, endR)
}

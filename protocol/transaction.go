package protocol

// The rules a transaction's envelope is judged by, one set for the three
// engines that send one: Sendmail one command at a time, its pipelined
// fast path (sendmailFast) and the Pipeline. They are smtplib's sendmail()
// rules: MAIL refused is a *SenderRefusedError; a refused RCPT goes in the
// refused map; every recipient refused is a *RecipientsRefusedError; a 421
// anywhere is the server closing, so nothing more is sent or read and the
// connection is closed; any other failure is followed by RSET.

// envelope collects the replies to one transaction's MAIL and RCPTs.
type envelope struct {
	from    string
	n       int // recipients
	mail    Reply
	refused map[string]Reply
	closing bool // a 421 was read: the server is closing
}

func newEnvelope(from string, n int) *envelope {
	return &envelope{from: from, n: n, refused: map[string]Reply{}}
}

// mailReply takes the reply to MAIL and says whether the transaction may
// go on: a refused MAIL stops Sendmail at once; a pipelined engine still
// reads the replies already due, unless the server is closing.
func (e *envelope) mailReply(r Reply) (ok bool) {
	e.mail = r
	e.closing = r.Code == 421
	return r.Code == 250
}

// rcptReply takes the reply to one RCPT and says whether to stop: after a
// 421 no more replies will come.
func (e *envelope) rcptReply(to string, r Reply) (stop bool) {
	if r.Code == 250 || r.Code == 251 {
		return false
	}
	e.refused[to] = r
	if r.Code == 421 {
		e.closing = true
	}
	return e.closing
}

// verdict is the envelope's outcome: nil, a *SenderRefusedError or a
// *RecipientsRefusedError.
func (e *envelope) verdict() error {
	switch {
	case e.mail.Code != 250:
		return &SenderRefusedError{ResponseError(e.mail), e.from}
	case e.closing || len(e.refused) == e.n:
		return &RecipientsRefusedError{Recipients: e.refused}
	}
	return nil
}

// result is what Sendmail returns with a failed envelope: no map when the
// sender was refused, as smtplib returns none.
func (e *envelope) result() map[string]Reply {
	if e.mail.Code != 250 {
		return nil
	}
	return e.refused
}

// fail ends a failed envelope on the connection: closed after a 421,
// RSET otherwise; and returns what Sendmail returns.
func (c *Client) fail(e *envelope, err error) (map[string]Reply, error) {
	if e.closing {
		c.closeConn()
	} else {
		c.rsetQuietly()
	}
	return e.result(), err
}

// envelopeOneByOne sends MAIL and each RCPT (lines, from envelopeLines)
// and waits for each reply, Sendmail's way without PIPELINING. A non-nil
// envelope means the transaction may go on to the message.
func (c *Client) envelopeOneByOne(from string, to, lines []string) (*envelope, map[string]Reply, error) {
	e := newEnvelope(from, len(to))
	r, err := c.Docmd(lines[0], "")
	if err != nil {
		return nil, nil, err
	}
	c.afterMail(lines[0], r)
	if !e.mailReply(r) {
		refused, err := c.fail(e, e.verdict())
		return nil, refused, err
	}
	for i, rcpt := range to {
		r, err := c.Docmd(lines[1+i], "")
		if err != nil {
			return nil, e.refused, err
		}
		c.afterRcpt(rcpt, r)
		if e.rcptReply(rcpt, r) {
			break
		}
	}
	if err := e.verdict(); err != nil {
		refused, err := c.fail(e, err)
		return nil, refused, err
	}
	return e, e.refused, nil
}

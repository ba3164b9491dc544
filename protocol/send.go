package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Data sends DATA and, after 354, the message: line endings normalised to
// CRLF and dot-stuffed as it streams, so no input can end the data early
// (SMTP smuggling), and ended with CRLF "." CRLF. A NUL byte, or an error
// reading msg, aborts: the connection is closed without the terminating
// dot, so the server discards the partial message.
//
// A refusal of the DATA command itself is a *DataError (421 also closes the
// connection, where smtplib leaves it open: gh-132796). In LMTP mode one
// reply is read per accepted recipient (RFC 2033); the first is returned and
// all of them are available from LMTPReplies.
func (c *Client) Data(msg io.Reader) (Reply, error) {
	r, err := c.Docmd("data", "")
	if err != nil {
		return r, err
	}
	if c.debugLevel > 0 {
		c.debugf("data: (%d, %s)", r.Code, pyRepr([]byte(r.Message), true))
	}
	if r.Code != 354 {
		if r.Code == 421 {
			c.closeConn()
		}
		return r, &DataError{ResponseError(r)}
	}
	c.setPhase(PhaseData)
	if err := c.writeData(msg); err != nil {
		return Reply{}, err
	}
	if c.kind == LMTP {
		return c.readLMTPReplies()
	}
	r, err = c.GetReply()
	if err != nil {
		return r, err
	}
	if c.debugLevel > 0 {
		c.debugf("data: (%d, %s)", r.Code, pyRepr([]byte(r.Message), true))
	}
	c.endTransaction()
	return r, nil
}

// ErrMessageAborted reports that the message could not be read to its end,
// so it was not sent: the connection was closed without ending DATA.
var ErrMessageAborted = errors.New("message aborted; not sent")

// AbortError says why the message was aborted and how much had been sent.
type AbortError struct {
	Err  error
	Sent int64 // bytes of the message (normalised) sent before the abort
}

func (e *AbortError) Error() string {
	if e == nil {
		return nilErr
	}
	return fmt.Sprintf("%v after %d bytes: %v", ErrMessageAborted, e.Sent, e.Err)
}
func (e *AbortError) Unwrap() []error { return []error{ErrMessageAborted, e.Err} }

type dataWriter struct {
	c   *Client
	err error
}

func (w *dataWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.c.debugLevel > 0 {
		w.c.debugf("send: %s", pyRepr(p, true))
	}
	if err := w.c.write(p, nil); err != nil {
		w.err = err
		return 0, err
	}
	return len(p), nil
}

// writeData writes the message after 354 and ends it. Its callers read
// the final reply next, nothing between: the write that ends the message
// may be made by that read (Client.stage).
func (c *Client) writeData(msg io.Reader) error {
	dw := &dataWriter{c: c}
	if c.encBuf == nil {
		c.encBuf = make([]byte, 0, encBuf)
	}
	enc := newDataEncoderBuf(dw, c.encBuf)
	if c.copyBuf == nil {
		c.copyBuf = make([]byte, 32<<10)
	}
	_, err := io.CopyBuffer(enc, msg, c.copyBuf)
	if err == nil {
		// Close makes the one write that ends the message, and the reply
		// to it is read next: written from inside that read, as a command
		// is (Client.stage), unless a note about long lines must follow
		// the write in the trace.
		c.replyNext = c.kind != LMTP && enc.LongLines() == 0
		err = enc.Close()
		c.replyNext = false
	}
	if err != nil {
		enc.Abort()
		if dw.err != nil {
			// The server went away mid-message: say how far it got.
			c.note(fmt.Sprintf("connection lost after %d bytes of DATA", enc.Size()))
			return dw.err
		}
		c.closeConn()
		return &AbortError{Err: err, Sent: enc.Size()}
	}
	c.messageWritten()
	if n := enc.LongLines(); n > 0 {
		c.note(fmt.Sprintf("%d message line(s) longer than RFC 5321's 1000-octet limit were sent unfolded", n))
	}
	return nil
}

// readLMTPReplies reads one reply per recipient accepted in this
// transaction, in RCPT order (RFC 2033 §4.2).
func (c *Client) readLMTPReplies() (Reply, error) {
	c.lmtpReplies = c.lmtpReplies[:0]
	var first Reply
	for i, rcpt := range c.accepted {
		r, err := c.GetReply()
		if err != nil {
			var sd *ServerDisconnectedError
			if errors.As(err, &sd) {
				sd.Msg = fmt.Sprintf("%s (no delivery status for %s)", sd.Msg, rcpt)
			}
			return first, err
		}
		if c.debugLevel > 0 {
			c.debugf("data: (%d, %s)", r.Code, pyRepr([]byte(r.Message), true))
		}
		c.lmtpReplies = append(c.lmtpReplies, RecipientReply{Recipient: rcpt, Reply: r})
		if i == 0 {
			first = r
		}
	}
	c.endTransaction()
	return first, nil
}

// LMTPReplies returns the per-recipient replies of the last LMTP DATA.
func (c *Client) LMTPReplies() []RecipientReply {
	return append([]RecipientReply(nil), c.lmtpReplies...)
}

// normalizedSizer is implemented by messages that know their size after
// line-ending normalisation, which is what SIZE= announces.
type normalizedSizer interface {
	NormalizedSize() (int64, error)
}

// messageSize finds the size SIZE= announces and refuses a NUL before
// anything of the transaction is sent. A message that cannot be read twice
// (stdin) has no known size; its NUL check happens while streaming.
func messageSize(msg io.Reader) (int64, bool, error) {
	if s, ok := msg.(normalizedSizer); ok {
		n, err := s.NormalizedSize()
		if errors.Is(err, errUnknownSize) {
			return 0, false, nil
		}
		return n, err == nil, err
	}
	rs, ok := msg.(io.ReadSeeker)
	if !ok {
		return 0, false, nil
	}
	pos, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false, nil
	}
	n, err := NormalizedSize(rs)
	if _, serr := rs.Seek(pos, io.SeekStart); serr != nil && err == nil {
		err = serr
	}
	return n, err == nil, err
}

// Sendmail sends one message, smtplib's sendmail(): greet if needed, MAIL
// with SIZE (when advertised and known) and the caller's options (only when
// the server speaks ESMTP), one RCPT per recipient, DATA. It returns the
// recipients the server refused; all refused is a *RecipientsRefusedError.
// After a refusal RSET is sent, except after 421, which closes. The
// connection stays open for further transactions.
//
// Every address and option is checked before anything is sent. In LMTP
// mode a recipient refused at delivery is in the returned map too, and if
// none was delivered the error is a *DataError.
func (c *Client) Sendmail(from string, to []string, msg io.Reader, mailOpts, rcptOpts []string) (map[string]Reply, error) {
	if err := validateEnvelope(from, to, mailOpts, rcptOpts); err != nil {
		return nil, err
	}
	opts, err := c.mailOptions(from, to, msg, mailOpts)
	if err != nil {
		return nil, err
	}
	return c.sendmail(from, to, msg, opts, rcptOpts)
}

// sendmail is Sendmail once the envelope has been checked and MAIL's
// options worked out (opts, from mailOptions), so that a Pipeline, which
// has done both to choose how a message goes, does not do them twice.
func (c *Client) sendmail(from string, to []string, msg io.Reader, opts, rcptOpts []string) (map[string]Reply, error) {
	// Every line of the envelope through the encoder before the first is
	// sent, whichever engine sends them.
	lines, err := c.envelopeLines(from, to, opts, rcptOpts)
	if err != nil {
		return nil, err
	}
	pipe := c.opts.Pipelining && c.doesESMTP && c.HasExtn("pipelining")
	chunk := c.opts.Chunking && c.doesESMTP && c.HasExtn("chunking")
	if pipe || chunk {
		return c.sendmailFast(from, to, lines, msg, opts, pipe, chunk)
	}
	e, refused, err := c.envelopeOneByOne(from, to, lines)
	if e == nil {
		return refused, err
	}
	r, err := c.Data(msg)
	if err != nil {
		return refused, err
	}
	return c.judgeFinal(refused, r)
}

// validateEnvelope checks every address and option of a transaction, so
// that nothing of it is sent when one is bad.
func validateEnvelope(from string, to []string, mailOpts, rcptOpts []string) error {
	if err := ValidateAddress(from); err != nil {
		return err
	}
	for _, a := range to {
		if err := ValidateAddress(a); err != nil {
			return err
		}
	}
	for _, opts := range [2][]string{mailOpts, rcptOpts} {
		for _, o := range opts {
			if err := ValidateESMTPParam(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// mailOptions greets if needed and works out MAIL's options as sendmail()
// does: SIZE when advertised and the message's size is known, then the
// caller's, all only when the server speaks ESMTP.
func (c *Client) mailOptions(from string, to []string, msg io.Reader, mailOpts []string) ([]string, error) {
	if err := c.EhloOrHeloIfNeeded(); err != nil {
		return nil, err
	}
	if !allASCII(from, to) && !c.HasExtn("smtputf8") {
		return nil, &NotSupportedError{Msg: "one or more source or delivery addresses require internationalized email support, but the server does not advertise the required SMTPUTF8 capability"}
	}
	size, known, err := messageSize(msg)
	if err != nil {
		return nil, err
	}
	if !c.doesESMTP {
		return nil, nil
	}
	if !c.HasExtn("size") || !known {
		return mailOpts[:len(mailOpts):len(mailOpts)], nil // capped: an append copies
	}
	opts := make([]string, 0, 1+len(mailOpts))
	opts = append(opts, "size="+strconv.FormatInt(size, 10))
	return append(opts, mailOpts...), nil
}

// hasOption says whether opts has the keyword of o (case-insensitive).
func hasOption(opts []string, o string) bool {
	key, _, _ := strings.Cut(o, "=")
	for _, x := range opts {
		k, _, _ := strings.Cut(x, "=")
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func allASCII(from string, to []string) bool {
	if !isASCII(from) {
		return false
	}
	for _, t := range to {
		if !isASCII(t) {
			return false
		}
	}
	return true
}

// Envelope overrides the addresses SendMessage would take from the
// message's headers. A nil From, or a nil To, takes that part from the
// headers.
type Envelope struct {
	From *string
	To   []string
}

// maxHeaderBytes bounds the header block SendMessage parses in memory;
// the body is streamed.
const maxHeaderBytes = 4 << 20

// SendMessage sends an RFC 5322 message as smtplib's send_message() does:
// the envelope sender from Sender, else From (or the Resent- versions when
// the message has one Resent- block); the recipients from To, Bcc and Cc in
// that order; Bcc and Resent-Bcc removed (every folded line of them) before
// transmission; SMTPUTF8 and BODY=8BITMIME added when an address is not
// ASCII. The header block is read into memory, the body streamed.
func (c *Client) SendMessage(msg io.Reader, env *Envelope, mailOpts, rcptOpts []string) (map[string]Reply, error) {
	p, m, err := c.prepare(msg, env, mailOpts)
	if err != nil {
		return nil, err
	}
	return c.Sendmail(p.From, p.To, m.transmitted(), p.MailOptions, rcptOpts)
}

// PreparedMessage is a message read whole, with the envelope SendMessage
// would give it: what a caller sending the same message many times (a load
// run, a Pipeline) works out once.
type PreparedMessage struct {
	From string
	To   []string
	// MailOptions are the caller's, with SMTPUTF8 and BODY=8BITMIME added
	// when an address needs them.
	MailOptions []string
	// Data is the message as transmitted: Bcc and Resent-Bcc removed.
	Data []byte
}

// PrepareMessage reads msg whole and works out its envelope with
// SendMessage's rules. The client must be connected, since whether an
// address that is not ASCII may be sent depends on the server's SMTPUTF8.
func (c *Client) PrepareMessage(msg io.Reader, env *Envelope, mailOpts []string) (*PreparedMessage, error) {
	p, m, err := c.prepare(msg, env, mailOpts)
	if err != nil {
		return nil, err
	}
	if p.Data, err = io.ReadAll(m.transmitted()); err != nil {
		return nil, err
	}
	return p, nil
}

// prepare is what SendMessage and PrepareMessage share: greet if needed,
// parse the header block and work out the envelope. The body is left
// unread in the parsed message.
func (c *Client) prepare(msg io.Reader, env *Envelope, mailOpts []string) (*PreparedMessage, *parsedMessage, error) {
	if err := c.EhloOrHeloIfNeeded(); err != nil {
		return nil, nil, err
	}
	m, err := parseMessage(msg)
	if err != nil {
		return nil, nil, err
	}
	from, to, opts, err := c.envelopeOf(m, env, mailOpts)
	if err != nil {
		return nil, nil, err
	}
	return &PreparedMessage{From: from, To: to, MailOptions: opts}, m, nil
}

// envelopeOf is send_message()'s choice of envelope: the sender from
// Sender, else From (or their Resent- versions when the message has one
// Resent- block), the recipients from To, Bcc and Cc; env overrides either.
func (c *Client) envelopeOf(m *parsedMessage, env *Envelope, mailOpts []string) (string, []string, []string, error) {
	prefix := ""
	switch n := m.count("Resent-Date"); {
	case n == 1:
		prefix = "Resent-"
	case n > 1:
		return "", nil, nil, &ValueError{Msg: "message has more than one 'Resent-' header block"}
	}
	var from string
	if env != nil && env.From != nil {
		from = *env.From
	} else {
		field := prefix + "Sender"
		if m.count(field) == 0 {
			field = prefix + "From"
		}
		addrs, err := m.addresses(field)
		if err != nil {
			return "", nil, nil, err
		}
		if len(addrs) == 0 || addrs[0] == "" {
			// smtplib would send MAIL FROM:<None> here.
			return "", nil, nil, &ValueError{Msg: "message has no " + prefix + "From or " + prefix + "Sender address and no envelope sender was given"}
		}
		from = addrs[0]
	}
	var to []string
	if env != nil && env.To != nil {
		to = env.To
	} else {
		for _, field := range []string{prefix + "To", prefix + "Bcc", prefix + "Cc"} {
			addrs, err := m.addresses(field)
			if err != nil {
				return "", nil, nil, err
			}
			to = append(to, addrs...)
		}
	}
	opts := append([]string(nil), mailOpts...)
	if !allASCII(from, to) {
		if !c.HasExtn("smtputf8") {
			return "", nil, nil, &NotSupportedError{Msg: "one or more source or delivery addresses require internationalized email support, but the server does not advertise the required SMTPUTF8 capability"}
		}
		for _, o := range []string{"SMTPUTF8", "BODY=8BITMIME"} {
			if !hasOption(opts, o) {
				opts = append(opts, o)
			}
		}
	}
	return from, to, opts, nil
}

// parsedMessage is a message's header fields, raw, and its body still to
// be read.
type parsedMessage struct {
	fields  []headerField
	header  []byte // the raw header block, blank line included
	body    io.Reader
	bodyLen func() (int64, error) // normalised size of the body, when it can be known
}

type headerField struct {
	name string
	raw  []byte // every line of the field, folded lines included, as received
}

func (m *parsedMessage) count(name string) int {
	n := 0
	for _, f := range m.fields {
		if strings.EqualFold(f.name, name) {
			n++
		}
	}
	return n
}

// addresses returns the addresses of every field with that name, as
// email.utils.getaddresses takes them (parseHeaderAddrs): display names
// dropped, a bare name kept as the address. An empty group
// ("undisclosed-recipients:;") yields one empty address, which smtplib
// sends as RCPT TO:<>. Each address must pass ValidateAddress, as the
// arguments of Sendmail must.
func (m *parsedMessage) addresses(name string) ([]string, error) {
	var out []string
	for _, f := range m.fields {
		if !strings.EqualFold(f.name, name) {
			continue
		}
		v := string(f.raw[len(f.name)+1:])
		v = strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(v)
		list, err := parseHeaderAddrs(v)
		if err != nil {
			return nil, &ValueError{Msg: fmt.Sprintf("cannot parse the %s header: %v", f.name, err)}
		}
		for _, addr := range list {
			if err := ValidateAddress(addr); err != nil {
				return nil, &ValueError{Msg: fmt.Sprintf("%s header: %v", f.name, err)}
			}
		}
		out = append(out, list...)
	}
	return out, nil
}

// transmitted is the message as it goes on the wire: the header without
// any Bcc or Resent-Bcc line, then the body.
func (m *parsedMessage) transmitted() io.Reader {
	var hdr bytes.Buffer
	for _, f := range m.fields {
		if strings.EqualFold(f.name, "Bcc") || strings.EqualFold(f.name, "Resent-Bcc") {
			continue
		}
		hdr.Write(f.raw)
	}
	hdr.Write(m.header[m.fieldsLen():])
	out := &sizedReader{Reader: io.MultiReader(bytes.NewReader(hdr.Bytes()), m.body)}
	if m.bodyLen != nil {
		hb := hdr.Bytes()
		out.size = func() (int64, error) {
			h, err := NormalizedSize(bytes.NewReader(hb))
			if err != nil {
				return 0, err
			}
			b, err := m.bodyLen()
			return h + b, err
		}
	}
	return out
}

func (m *parsedMessage) fieldsLen() int {
	n := 0
	for _, f := range m.fields {
		n += len(f.raw)
	}
	return n
}

type sizedReader struct {
	io.Reader
	size func() (int64, error)
}

// NormalizedSize makes a sizedReader a normalizedSizer when its size is
// knowable; otherwise it reports an unknown size through messageSize.
func (s *sizedReader) NormalizedSize() (int64, error) {
	if s.size == nil {
		return 0, errUnknownSize
	}
	return s.size()
}

var errUnknownSize = errors.New("size unknown")

func parseMessage(msg io.Reader) (*parsedMessage, error) {
	rs, seekable := msg.(io.ReadSeeker)
	var start int64
	if seekable {
		var err error
		if start, err = rs.Seek(0, io.SeekCurrent); err != nil {
			seekable = false
		}
	}
	br := bufio.NewReader(msg)
	m := &parsedMessage{}
	var hdr bytes.Buffer
	for {
		line, err := readHeaderLine(br)
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				break
			}
			return nil, err
		}
		if hdr.Len()+len(line) > maxHeaderBytes {
			return nil, &ValueError{Msg: fmt.Sprintf("message header block is larger than %d bytes", maxHeaderBytes)}
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			hdr.Write(line)
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(m.fields) > 0 {
			f := &m.fields[len(m.fields)-1]
			f.raw = append(f.raw, line...)
			hdr.Write(line)
			continue
		}
		colon := bytes.IndexByte(trimmed, ':')
		if colon <= 0 || bytes.ContainsAny(trimmed[:colon], " \t") {
			// Not a header line: like Python's parser, the body starts here.
			m.header = hdr.Bytes()
			m.body = io.MultiReader(bytes.NewReader(line), br)
			if seekable {
				m.bodyFromSeeker(rs, start+int64(hdr.Len()))
			}
			return m, nil
		}
		m.fields = append(m.fields, headerField{name: string(trimmed[:colon]), raw: append([]byte(nil), line...)})
		hdr.Write(line)
		if err != nil {
			break
		}
	}
	m.header = hdr.Bytes()
	m.body = br
	if seekable {
		m.bodyFromSeeker(rs, start+int64(hdr.Len()))
	}
	return m, nil
}

// bodyFromSeeker reads the body straight from the seekable source (past
// the header) rather than through the header's read-ahead buffer, so its
// size can be measured before sending.
func (m *parsedMessage) bodyFromSeeker(rs io.ReadSeeker, off int64) {
	if _, err := rs.Seek(off, io.SeekStart); err != nil {
		return
	}
	m.body = rs
	m.bodyLen = func() (int64, error) {
		n, err := NormalizedSize(rs)
		if _, serr := rs.Seek(off, io.SeekStart); serr != nil && err == nil {
			err = serr
		}
		return n, err
	}
}

func readHeaderLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > maxHeaderBytes {
			return nil, &ValueError{Msg: "message header line too long"}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

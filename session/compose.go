package session

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Attachment is one file to attach to a composed message.
type Attachment struct {
	Name        string // file name shown to the recipient
	ContentType string // empty: detected from the name, then the content
	Data        []byte // the content, when it is in memory
	Input       *Input // else the content, streamed (OpenInput)
}

// Composition describes the message `ehlo send` builds when no whole
// message (--data) is given: the default headers, the caller's headers,
// a body, and attachments as a MIME multipart/mixed message.
type Composition struct {
	From    string
	To      []string
	Subject string // empty: "test <date>", as swaks does
	Headers []string
	Body    string // empty: "This is a test mailing"
	// BodyInput, when set, is the body in place of Body, streamed.
	BodyInput   *Input
	Attachments []Attachment
	Date        time.Time
	Hostname    string // for the Message-Id
	Mailer      string // X-Mailer value; empty: none
}

// maxBodyPrefix is how much of a streamed body (stdin, a FIFO) is held in
// memory to choose between 7bit and quoted-printable; a longer one goes
// quoted-printable, which is valid whatever the text.
const maxBodyPrefix = 1 << 20

// maxTextLine is RFC 5321's limit on a line, without its CRLF.
const maxTextLine = 998

// ValidateHeaderLine checks a "Name: value" header given on the command
// line: one line only, a printable name without a colon.
func ValidateHeaderLine(h string) (name, value string, err error) {
	i := strings.IndexByte(h, ':')
	if i <= 0 {
		return "", "", fmt.Errorf("header %q is not of the form \"Name: value\"", h)
	}
	name, value = h[:i], strings.TrimLeft(h[i+1:], " \t")
	if err := protocol.ValidateHeader(name, value); err != nil {
		return "", "", err
	}
	return name, value, nil
}

// Build renders the message, with CRLF line endings, into memory: for
// small messages (the TUI's form). Open streams it.
func (c *Composition) Build() ([]byte, error) {
	m, err := c.Open()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return io.ReadAll(m)
}

// Open returns the message as a reader that encodes the body and the
// attachments as it is read, so memory stays flat whatever their size.
// When every input is in memory or a regular file the reader is also an
// io.Seeker (it starts again and skips), so the protocol can measure it for
// SIZE= before sending it. Close it when done. Its SetStreamLimit lowers
// the cap on streamed inputs (DefaultStreamLimit) to the server's SIZE.
func (c *Composition) Open() (io.ReadCloser, error) {
	head, err := c.header()
	if err != nil {
		return nil, err
	}
	m := &message{limit: DefaultStreamLimit}
	m.text, err = c.planText()
	if err != nil {
		return nil, err
	}
	seekable := m.text.in == nil || m.text.in.regular
	m.head = head
	if len(c.Attachments) == 0 {
		m.head = append(m.head, m.text.header(false)...)
	} else {
		boundary := "ehlo-" + randomToken()
		m.head = append(m.head, "MIME-Version: 1.0\r\n"...)
		m.head = append(m.head, "Content-Type: "+mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary})+"\r\n\r\n"...)
		m.head = append(m.head, "This is a multi-part message in MIME format.\r\n--"+boundary+"\r\n"...)
		m.head = append(m.head, m.text.header(true)...)
		for _, a := range c.Attachments {
			p, err := planAttachment(a, boundary)
			if err != nil {
				return nil, err
			}
			seekable = seekable && (p.in == nil || p.in.regular)
			m.atts = append(m.atts, p)
		}
		m.tail = []byte("\r\n--" + boundary + "--\r\n")
	}
	for _, in := range m.inputs() {
		in.limit = m.streamLimit
	}
	m.start()
	if seekable {
		return &seekableMessage{m}, nil
	}
	return m, nil
}

// header renders the header block, every value checked.
func (c *Composition) header() ([]byte, error) {
	date := c.Date
	if date.IsZero() {
		date = time.Now()
	}
	subject := c.Subject
	if subject == "" {
		subject = "test " + date.Format(time.RFC1123Z)
	}
	if err := protocol.ValidateHeader("Subject", subject); err != nil {
		return nil, err
	}
	host := c.Hostname
	if host == "" || strings.ContainsAny(host, "[]") {
		host = "ehlo.invalid"
	}
	var b bytes.Buffer
	custom := map[string]bool{}
	var extra []string
	for _, h := range c.Headers {
		name, value, err := ValidateHeaderLine(h)
		if err != nil {
			return nil, err
		}
		custom[strings.ToLower(name)] = true
		extra = append(extra, name+": "+value)
	}
	hdr := func(name, value string) {
		if !custom[strings.ToLower(name)] {
			fmt.Fprintf(&b, "%s: %s\r\n", name, value)
		}
	}
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("To", strings.Join(c.To, ", "))
	from := c.From
	if from == "" {
		from = "<>"
	}
	hdr("From", from)
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Message-Id", "<"+date.UTC().Format("20060102150405")+"."+randomToken()+"@"+host+">")
	if c.Mailer != "" {
		hdr("X-Mailer", c.Mailer)
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	return b.Bytes(), nil
}

// textPlan is how the body goes: its first bytes in memory (all of it
// when it is short or given as text), the rest from in, 7bit when it is
// ASCII with short lines, quoted-printable otherwise, so the message is
// valid on any server.
type textPlan struct {
	mem []byte
	in  *Input // the body's file, or the rest of its stream; nil: all in mem
	qp  bool
}

func (c *Composition) planText() (textPlan, error) {
	in := c.BodyInput
	if in == nil {
		return planMemText([]byte(c.Body), "body")
	}
	if !in.regular {
		return planStreamText(in)
	}
	var sc textScan
	if err := sc.scanInput(in); err != nil {
		return textPlan{}, err
	}
	if sc.n == 0 {
		return planMemText(nil, in.label)
	}
	if !sc.qp && sc.nul >= 0 {
		return textPlan{}, fmt.Errorf("%s: %w", in.label, &protocol.NULError{Offset: sc.nul})
	}
	return textPlan{in: in, qp: sc.qp}, nil
}

// planStreamText reads up to maxBodyPrefix of a streamed body to decide.
func planStreamText(in *Input) (textPlan, error) {
	s := in.openStream()
	buf := make([]byte, maxBodyPrefix+1)
	n, err := io.ReadFull(s, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return planMemText(buf[:n], in.label)
	case err != nil:
		return textPlan{}, err
	}
	// Too long to hold: quoted-printable, valid for any text.
	return textPlan{mem: buf[:n], in: in, qp: true}, nil
}

func planMemText(body []byte, label string) (textPlan, error) {
	if len(body) == 0 {
		body = []byte("This is a test mailing\n")
	}
	var sc textScan
	sc.scan(body)
	if !sc.qp && sc.nul >= 0 {
		return textPlan{}, fmt.Errorf("%s: %w", label, &protocol.NULError{Offset: sc.nul})
	}
	return textPlan{mem: body, qp: sc.qp}, nil
}

// header is the text part's MIME header, up to and including the blank
// line.
func (t textPlan) header(inMultipart bool) string {
	if !t.qp && !inMultipart {
		return "\r\n"
	}
	h := ""
	if !inMultipart {
		h = "MIME-Version: 1.0\r\n"
	}
	h += "Content-Type: text/plain; charset=utf-8\r\n"
	if t.qp {
		h += "Content-Transfer-Encoding: quoted-printable\r\n"
	}
	return h + "\r\n"
}

// textScan finds what decides a body's encoding: a byte that is not ASCII
// or a line longer than RFC 5321 allows (either: quoted-printable), and the
// first NUL, which 7bit cannot carry (security-anchors E3).
type textScan struct {
	qp      bool
	lineLen int
	nul     int64
	n       int64
}

func (s *textScan) scan(p []byte) {
	if s.n == 0 {
		s.nul = -1
	}
	for i, b := range p {
		switch {
		case b == '\r' || b == '\n':
			s.lineLen = 0
		case b >= 0x80:
			s.qp = true
		default:
			if b == 0 && s.nul < 0 {
				s.nul = s.n + int64(i)
			}
			if s.lineLen++; s.lineLen > maxTextLine {
				s.qp = true
			}
		}
	}
	s.n += int64(len(p))
}

// scanInput scans a regular file, stopping once quoted-printable is
// decided (nothing later changes it).
func (s *textScan) scanInput(in *Input) error {
	r, err := in.open()
	if err != nil {
		return err
	}
	defer r.Close()
	buf := make([]byte, 32<<10)
	s.nul = -1
	for !s.qp {
		n, err := r.Read(buf)
		s.scan(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// attachmentPlan is one attachment's part: its MIME header and content.
type attachmentPlan struct {
	header []byte
	data   []byte
	in     *Input
}

// planAttachment writes the part's header. Its parameters go through
// mime.FormatMediaType, which quotes a name with a '"' or ';' and uses
// RFC 2231 for one that is not ASCII, so no file name can add a
// parameter.
func planAttachment(a Attachment, boundary string) (attachmentPlan, error) {
	p := attachmentPlan{data: a.Data, in: a.Input}
	ct := a.ContentType
	if ct == "" {
		sniff := a.Data
		if a.Input != nil {
			var err error
			if sniff, err = a.Input.sniff(); err != nil {
				return p, err
			}
		}
		ct = detectType(a.Name, sniff)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, params = "application/octet-stream", map[string]string{}
	}
	params["name"] = a.Name
	ctype := mime.FormatMediaType(mt, params)
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})
	if ctype == "" || disp == "" {
		return p, fmt.Errorf("attachment name %q cannot be written as a MIME parameter", a.Name)
	}
	p.header = []byte("\r\n--" + boundary + "\r\nContent-Type: " + ctype + "\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: " + disp + "\r\n\r\n")
	return p, nil
}

// sniff is the first bytes of a regular file, for detectType; a stream is
// not read ahead (a FIFO would block before connecting).
func (in *Input) sniff() ([]byte, error) {
	if !in.regular {
		return nil, nil
	}
	r, err := in.open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := make([]byte, 512)
	n, err := io.ReadFull(r, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	return trimPartialRune(buf[:n], n == len(buf)), nil
}

// trimPartialRune drops a UTF-8 sequence cut by the end of a sample.
func trimPartialRune(p []byte, cut bool) []byte {
	if !cut {
		return p
	}
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				return p[:i]
			}
			break
		}
	}
	return p
}

// message is a composition being read: fixed header bytes, the text part
// and each attachment encoded as they are read.
type message struct {
	head, tail []byte
	text       textPlan
	atts       []attachmentPlan
	limit      int64
	why        string

	cur  io.Reader
	pos  int64
	open []io.Closer
}

func (m *message) inputs() []*Input {
	var out []*Input
	if m.text.in != nil {
		out = append(out, m.text.in)
	}
	for _, a := range m.atts {
		if a.in != nil {
			out = append(out, a.in)
		}
	}
	return out
}

// SetStreamLimit caps each input that is not a regular file at n bytes,
// the server's SIZE: a message cannot be smaller than one of its parts.
func (m *message) SetStreamLimit(n int64) {
	if n > 0 && n < m.limit {
		m.limit, m.why = n, "the server's SIZE limit"
	}
}

func (m *message) streamLimit() (int64, string) {
	if m.why == "" {
		return m.limit, defaultLimitWhy
	}
	return m.limit, m.why
}

// start (re)builds the chain of readers from the beginning.
func (m *message) start() {
	m.closeOpen()
	rs := []io.Reader{bytes.NewReader(m.head), m.textReader()}
	for _, a := range m.atts {
		rs = append(rs, bytes.NewReader(a.header), m.base64Reader(a))
	}
	rs = append(rs, bytes.NewReader(m.tail))
	m.cur, m.pos = io.MultiReader(rs...), 0
}

func (m *message) source(mem []byte, in *Input) io.Reader {
	if in == nil {
		return bytes.NewReader(mem)
	}
	return io.MultiReader(bytes.NewReader(mem), &lazyReader{open: in.open, m: m})
}

func (m *message) textReader() io.Reader {
	src := m.source(m.text.mem, m.text.in)
	if !m.text.qp {
		// The DATA encoder turns every CR, LF and CRLF into CRLF.
		return &endLine{r: src}
	}
	return newEncodingReader(src, func(w io.Writer) io.WriteCloser {
		lb := &lastByte{w: w}
		return &qpText{Writer: quotedprintable.NewWriter(lb), out: lb}
	})
}

func (m *message) base64Reader(a attachmentPlan) io.Reader {
	return newEncodingReader(m.source(a.data, a.in), func(w io.Writer) io.WriteCloser {
		lw := &lineWrap{w: w}
		return &b64Lines{WriteCloser: base64.NewEncoder(base64.StdEncoding, lw), lw: lw}
	})
}

func (m *message) Read(p []byte) (int, error) {
	n, err := m.cur.Read(p)
	m.pos += int64(n)
	return n, err
}

func (m *message) closeOpen() {
	for _, c := range m.open {
		c.Close()
	}
	m.open = m.open[:0]
}

// Close closes what is open, streams included.
func (m *message) Close() error {
	m.closeOpen()
	for _, in := range m.inputs() {
		if in.stream != nil {
			in.stream.Close()
		}
	}
	return nil
}

// seekableMessage is a message whose inputs can all be read again: Seek
// starts again and skips, which costs a read but no memory.
type seekableMessage struct{ *message }

func (m *seekableMessage) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += m.pos
	default:
		return m.pos, errors.New("composed message: cannot seek from the end")
	}
	if off < 0 {
		return m.pos, errors.New("composed message: negative position")
	}
	if off < m.pos {
		m.start()
	}
	if _, err := io.CopyN(io.Discard, m.message, off-m.pos); err != nil {
		return m.pos, err
	}
	return m.pos, nil
}

// qpText ends quoted-printable with a line end, as the message needs.
type qpText struct {
	*quotedprintable.Writer
	out *lastByte
}

func (q *qpText) Close() error {
	q.Writer.Close()
	if q.out.last != '\n' {
		q.out.Write([]byte("\r\n"))
	}
	return nil
}

// b64Lines ends the last base64 line.
type b64Lines struct {
	io.WriteCloser
	lw *lineWrap
}

func (b *b64Lines) Close() error {
	err := b.WriteCloser.Close()
	b.lw.end()
	return err
}

func detectType(name string, data []byte) string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	// A full sniffer (net/http's) would cost start-up time for one flag;
	// text or not is what matters for a test attachment. A stream is not
	// sniffed: it is octets.
	if data != nil && utf8.Valid(data) && !bytes.ContainsRune(data, 0) {
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

func randomToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

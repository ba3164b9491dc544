package session

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session/mx"
)

// The JSON report of `ehlo send --json`. It is the outcome of a Send (a
// SendResult, the route session/mx found) with the conversation that led
// to it, written while the conversation goes, so it lives with Send: it
// is a report of one live send, not a recording (recordings holds those,
// and its own JSON export), and nothing reads it back.

// SendReport is the --json document of a send: "lines", every wire line
// written as it comes (a Sink of the send's Capture), then the outcome
// (Finish). A message of any size is never held: each line is encoded
// and written as soon as it ends.
type SendReport struct {
	lines jsonLines
	tls   *TLSSummary
	notes []reportInfo
	infos []reportInfo
}

// reportInfo is one of ehlo's own lines in the report's "notes".
type reportInfo struct {
	Level string `json:"level"`
	Text  string `json:"text"`
}

// NewSendReport returns a SendReport writing to w.
func NewSendReport(w io.Writer) *SendReport {
	return &SendReport{lines: jsonLines{w: bufio.NewWriterSize(w, 64<<10)}}
}

// Event writes the wire lines of e at once; the TLS summary and the notes
// are kept for the end.
func (r *SendReport) Event(e Event) {
	switch e.Kind {
	case KindTLS:
		r.tls = e.Handshake
	case KindNote:
		r.notes = append(r.notes, reportInfo{Level: "note", Text: SanitizeString(e.Text)})
	}
	r.lines.event(e)
}

// Lapse gives the next line received its round trip, d (swaks's
// --show-time-lapse).
func (r *SendReport) Lapse(d time.Duration) {
	sec := d.Seconds()
	r.lines.lapse = &sec
}

// Info adds one of ehlo's own information lines, already sanitized, to
// the notes.
func (r *SendReport) Info(text string) {
	r.infos = append(r.infos, reportInfo{Level: "info", Text: text})
}

// SendOutcome is what the report says of a send beyond its SendResult.
type SendOutcome struct {
	Server   string     // as the user gave it
	ExitCode int        // the exit code ehlo ends with
	Error    string     // the error, scrubbed and sanitized; empty on success
	Route    *mx.Report // the MX, DANE and MTA-STS findings, if any
	ChainPEM []string   // the server's certificates (--tls-chain)
}

// Finish ends the document that the lines began: "lines" comes first, as
// the conversation went, and the outcome after it.
func (r *SendReport) Finish(res *SendResult, o SendOutcome) error {
	out := struct {
		Server   string                    `json:"server"`
		ExitCode int                       `json:"exit_code"`
		Stage    string                    `json:"stage"`
		OK       bool                      `json:"ok"`
		Error    string                    `json:"error,omitempty"`
		Greeting *protocol.Reply           `json:"greeting,omitempty"`
		Refused  map[string]protocol.Reply `json:"refused,omitempty"`
		LMTP     []protocol.RecipientReply `json:"lmtp,omitempty"`
		TLS      *TLSSummary               `json:"tls,omitempty"`
		Notes    []reportInfo              `json:"notes,omitempty"`
		Route    *mx.Report                `json:"route,omitempty"`
		ChainPEM []string                  `json:"tls_chain_pem,omitempty"`
	}{Route: o.Route, ChainPEM: o.ChainPEM, Server: o.Server, ExitCode: o.ExitCode, Stage: res.Stage.String(), OK: o.ExitCode == 0, Error: o.Error,
		Refused: res.Refused, LMTP: res.LMTP, TLS: r.tls, Notes: append(r.infos, r.notes...)}
	if res.Greeting.Code != 0 {
		g := res.Greeting
		g.Message = SanitizeString(g.Message)
		out.Greeting = &g
	}
	for k, rep := range out.Refused {
		rep.Message = SanitizeString(rep.Message)
		out.Refused[k] = rep
	}
	for i := range out.LMTP {
		out.LMTP[i].Message = SanitizeString(out.LMTP[i].Message)
	}
	return r.lines.finish(out)
}

// jsonLine is one wire line in --json output. Text is always valid UTF-8
// (sanitised); Raw carries the exact bytes in base64 when they were not
// printable text, so nothing the server sent is lost.
type jsonLine struct {
	Offset   float64 `json:"t"`
	Dir      string  `json:"dir"`
	TLS      bool    `json:"tls,omitempty"`
	Text     string  `json:"text"`
	Raw      []byte  `json:"raw,omitempty"`
	Redacted bool    `json:"redacted,omitempty"`
	// Lapse (--show-time-lapse) is the seconds since the last line sent.
	Lapse *float64 `json:"lapse,omitempty"`
}

// jsonLines writes the "lines" of --json as the conversation goes, one
// entry per wire line, so that a message of any size is never held: a
// client line split across writes is joined (up to 64 KiB, then written
// in pieces), and each line is kept once, as text, with its bytes in
// "raw" only when the text could not carry them.
type jsonLines struct {
	w       *bufio.Writer
	started bool
	n       int
	pend    []byte // the start of a client line not ended yet
	pendAt  time.Duration
	pendTLS bool
	pendRed bool
	enc     bytes.Buffer
	lineBuf []byte // one wire line, encoded
	out     []byte
	err     error
	lapse   *float64 // --show-time-lapse: for the next line received
}

const jsonMaxPending = 64 << 10

func (j *jsonLines) event(e Event) {
	switch e.Kind {
	case KindClient:
		j.split("send", e)
	case KindServer:
		j.flush()
		j.split("recv", e)
	default:
		j.flush()
	}
}

func (j *jsonLines) split(dir string, e Event) {
	data := e.Data
	if len(data) == 0 {
		j.line(dir, e.Offset, e.TLS, e.Redacted, data)
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 && dir == "recv" {
			j.line(dir, e.Offset, e.TLS, e.Redacted, data)
			return
		}
		if i < 0 {
			if len(j.pend) == 0 {
				j.pendAt, j.pendTLS = e.Offset, e.TLS
			}
			j.pend, j.pendRed = append(j.pend, data...), j.pendRed || e.Redacted
			if len(j.pend) >= jsonMaxPending {
				j.flush()
			}
			return
		}
		seg := data[:i+1]
		data = data[i+1:]
		if len(j.pend) > 0 {
			j.pend, j.pendRed = append(j.pend, seg...), j.pendRed || e.Redacted
			j.flush()
			continue
		}
		j.line(dir, e.Offset, e.TLS, e.Redacted, seg)
	}
}

// flush writes the client line pending, if any.
func (j *jsonLines) flush() {
	if len(j.pend) > 0 {
		j.line("send", j.pendAt, j.pendTLS, j.pendRed, j.pend)
		j.pend, j.pendRed = j.pend[:0], false
	}
}

func (j *jsonLines) line(dir string, at time.Duration, tls, redacted bool, b []byte) {
	trimmed := bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	l := jsonLine{Offset: at.Seconds(), Dir: dir, TLS: tls, Text: Sanitize(trimmed), Redacted: redacted}
	if dir == "recv" {
		l.Lapse, j.lapse = j.lapse, nil
	}
	if l.Text != string(trimmed) {
		l.Raw = b
	}
	j.start()
	if j.n > 0 {
		j.write([]byte(","))
	}
	j.n++
	j.write([]byte("\n    "))
	j.lineBuf = appendJSONLine(j.lineBuf[:0], &l, "    ")
	j.out = AppendJSONSafe(j.out[:0], j.lineBuf)
	j.write(j.out)
}

// appendJSONLine appends l as encoding/json's Encoder with SetIndent(prefix,
// "  ") writes it, without the final newline: a message has a line per
// 70 bytes or so, and reflection for each would cost more than the rest
// of --json together. TestAppendJSONLine holds it to the Encoder.
func appendJSONLine(b []byte, l *jsonLine, prefix string) []byte {
	field := func(name string) {
		b = append(b, ",\n"...)
		b = append(b, prefix...)
		b = append(b, `  "`...)
		b = append(b, name...)
		b = append(b, `": `...)
	}
	b = append(b, "{\n"...)
	b = append(b, prefix...)
	b = append(b, `  "t": `...)
	b = appendJSONFloat(b, l.Offset)
	field("dir")
	b = appendJSONString(b, l.Dir)
	if l.TLS {
		field("tls")
		b = append(b, "true"...)
	}
	field("text")
	b = appendJSONString(b, l.Text)
	if len(l.Raw) > 0 {
		field("raw")
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, l.Raw)
		b = append(b, '"')
	}
	if l.Redacted {
		field("redacted")
		b = append(b, "true"...)
	}
	if l.Lapse != nil {
		field("lapse")
		b = appendJSONFloat(b, *l.Lapse)
	}
	b = append(b, '\n')
	b = append(b, prefix...)
	return append(b, '}')
}

// appendJSONFloat appends t as encoding/json writes a float64.
func appendJSONFloat(b []byte, t float64) []byte {
	if t == 0 || t >= 1e-6 && t < 1e21 {
		return strconv.AppendFloat(b, t, 'f', -1, 64)
	}
	n, _ := json.Marshal(t)
	return append(b, n...)
}

// appendJSONString quotes s as encoding/json does with HTML escaping on.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			default:
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}

func (j *jsonLines) start() {
	if !j.started {
		j.started = true
		j.write([]byte("{\n  \"lines\": ["))
	}
}

// finish closes "lines" and writes the fields of rest (a struct) after it.
func (j *jsonLines) finish(rest any) error {
	j.flush()
	j.start()
	if j.n > 0 {
		j.write([]byte("\n  "))
	}
	j.write([]byte("]"))
	if j.encode(rest, "") {
		// rest is "{\n  ...\n}": its fields follow those written.
		j.write([]byte(","))
		j.write(j.out[1:])
		j.write([]byte("\n"))
	}
	if err := j.w.Flush(); err != nil && j.err == nil {
		j.err = err
	}
	return j.err
}

// encode indents v as the rest of the document is, into j.out, with the
// characters a terminal could act on escaped (AppendJSONSafe).
func (j *jsonLines) encode(v any, prefix string) bool {
	j.enc.Reset()
	enc := json.NewEncoder(&j.enc)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		if j.err == nil {
			j.err = err
		}
		return false
	}
	j.out = AppendJSONSafe(j.out[:0], bytes.TrimSuffix(j.enc.Bytes(), []byte("\n")))
	return true
}

func (j *jsonLines) write(b []byte) {
	if j.err == nil {
		_, j.err = j.w.Write(b)
	}
}

package cli

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/mx"
)

// sendOutput is where a send's events go: the transcript (unless --quiet
// or --json), the recording (--record), and the JSON summary (--json).
// Every sink gets events after redaction; the recording keeps secrets only
// with --record-secrets.
type sendOutput struct {
	app     *appContext
	cmd     *sendCmd
	capture *session.Capture
	trans   *recordings.Transcript
	rec     *recordings.Recorder
	lines   *jsonLines // --json: the wire lines, written as they come
	tls     *session.TLSSummary
	notes   []jsonInfo
	infos   []jsonInfo
	scrub   *session.Scrubber
	route   *mx.Report // MX, DANE and MTA-STS findings (no SERVER, or --tls-verify dane)
	pems    []string   // --tls-chain with --json
	clock   lapseClock // --show-time-lapse in --json
}

type jsonInfo struct {
	Level string `json:"level"`
	Text  string `json:"text"`
}

func newSendOutput(app *appContext, s *sendCmd, secret string) (*sendOutput, error) {
	o := &sendOutput{app: app, cmd: s}
	o.scrub = session.NewScrubber()
	if secret != "" {
		o.scrub.Add(secret)
		o.scrub.AddPlain("", s.AuthUser, secret)
		o.scrub.AddXOAUTH2(s.AuthUser, secret)
	}
	o.capture = session.NewCapture(time.Time{}, session.Redaction{Scrubber: o.scrub})
	if !s.Quiet && !s.JSON {
		o.trans = recordings.NewTranscript(app.stdout, recordings.TranscriptOptions{Errors: app.stderr, Width: terminalWidth(app.stdout), DataLines: s.dataLines()})
		o.capture.Add(o.transcriptSink())
	}
	if s.JSON {
		o.lines = &jsonLines{w: bufio.NewWriterSize(app.stdout, 64<<10)}
		o.capture.Add(session.SinkFunc(o.jsonEvent))
	}
	if s.Record != "" {
		network := "tcp"
		if strings.HasPrefix(s.Server, "/") {
			network = "unix"
		}
		rec, err := recordings.Create(s.Record, recordings.Header{
			Created: o.capture.Start(), Server: s.Server, Transport: s.kind().String(), Network: network,
			EhloVersion: ehloVersion(), Secrets: s.RecordSecrets, Insecure: s.Insecure,
		})
		if err != nil {
			return nil, fmt.Errorf("--record: %w", err)
		}
		o.rec = rec
		o.capture.Add(rec)
	}
	return o, nil
}

// tracer is nil when nothing listens (--quiet without --json or --record):
// a 100 MB message then skips the copy and the redaction of every byte.
func (o *sendOutput) tracer() protocol.Tracer {
	if o.trans == nil && !o.cmd.JSON && o.rec == nil {
		return nil
	}
	return o.capture
}

// scrubWriter removes known secrets from each write (one debug line each).
type scrubWriter struct {
	w     io.Writer
	scrub *session.Scrubber
}

func (s *scrubWriter) Write(p []byte) (int, error) {
	out, _ := s.scrub.Scrub(p)
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// info prints ehlo's own lines: "===" information on stdout, "***"
// warnings and errors on stderr, always sanitised and scrubbed.
func (o *sendOutput) info(kind session.InfoKind, text string) {
	text, _ = o.scrub.ScrubString(text)
	if kind != session.Info {
		// A warning is a note event: the transcript prints it ("***" on
		// stderr), the recording keeps it and --json lists it, once each.
		o.capture.Note(text)
		if o.trans == nil && !o.cmd.JSON {
			fmt.Fprintf(o.app.stderr, "*** %s\n", session.SanitizeText(text))
		}
		return
	}
	text = session.SanitizeText(text)
	if o.cmd.JSON {
		o.infos = append(o.infos, jsonInfo{Level: "info", Text: text})
		return
	}
	if o.trans != nil && !o.cmd.hides(session.KindState) {
		o.trans.Flush()
		fmt.Fprintf(o.app.stdout, "=== %s\n", text)
	}
}

// finish reports the outcome and turns it into the exit code.
func (o *sendOutput) finish(res *session.SendResult) error {
	code := res.ExitCode()
	var errText string
	if res.Err != nil {
		errText, _ = o.scrub.ScrubString(res.Err.Error())
		// An error's text is ehlo's, quoting bytes that are often escaped
		// already (Go's %q in x509 errors, protocol's previews): escaped
		// once more, "" would show as "\x1b".
		errText = session.SanitizeText(errText)
	}
	if o.trans != nil {
		o.trans.Flush()
	}
	if res.Err != nil && !o.cmd.JSON {
		fmt.Fprintf(o.app.stderr, "*** %s (stage %s, exit %d)\n", errText, res.Stage, code)
	}
	if o.rec != nil {
		if err := o.rec.Close(); err != nil {
			fmt.Fprintf(o.app.stderr, "*** recording %s: %v\n", o.cmd.Record, err)
			if code == 0 {
				code = 1
			}
		}
	}
	if o.cmd.JSON {
		if err := o.writeJSON(res, code, errText); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
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

// jsonEvent is the --json sink: wire lines are written at once, the TLS
// summary and the notes kept for the end.
func (o *sendOutput) jsonEvent(e session.Event) {
	switch e.Kind {
	case session.KindTLS:
		o.tls = e.Handshake
	case session.KindNote:
		o.notes = append(o.notes, jsonInfo{Level: "note", Text: session.SanitizeString(e.Text)})
	}
	if lapse, ok := o.clock.reply(e); ok && o.cmd.ShowTimeLapse {
		sec := lapse.Seconds()
		o.lines.lapse = &sec
	}
	o.lines.event(e)
}

// writeJSON ends the --json document that jsonLines began: "lines" comes
// first, as the conversation went, and the outcome after it.
func (o *sendOutput) writeJSON(res *session.SendResult, code int, errText string) error {
	out := struct {
		Server   string                    `json:"server"`
		ExitCode int                       `json:"exit_code"`
		Stage    string                    `json:"stage"`
		OK       bool                      `json:"ok"`
		Error    string                    `json:"error,omitempty"`
		Greeting *protocol.Reply           `json:"greeting,omitempty"`
		Refused  map[string]protocol.Reply `json:"refused,omitempty"`
		LMTP     []protocol.RecipientReply `json:"lmtp,omitempty"`
		TLS      *session.TLSSummary       `json:"tls,omitempty"`
		Notes    []jsonInfo                `json:"notes,omitempty"`
		Route    *mx.Report                `json:"route,omitempty"`
		ChainPEM []string                  `json:"tls_chain_pem,omitempty"`
	}{Route: o.route, ChainPEM: o.pems, Server: o.cmd.Server, ExitCode: code, Stage: res.Stage.String(), OK: code == 0, Error: errText,
		Refused: res.Refused, LMTP: res.LMTP, TLS: o.tls, Notes: append(o.infos, o.notes...)}
	if res.Greeting.Code != 0 {
		g := res.Greeting
		g.Message = session.SanitizeString(g.Message)
		out.Greeting = &g
	}
	for k, r := range out.Refused {
		r.Message = session.SanitizeString(r.Message)
		out.Refused[k] = r
	}
	for i := range out.LMTP {
		out.LMTP[i].Message = session.SanitizeString(out.LMTP[i].Message)
	}
	return o.lines.finish(out)
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

func (j *jsonLines) event(e session.Event) {
	switch e.Kind {
	case session.KindClient:
		j.split("send", e)
	case session.KindServer:
		j.flush()
		j.split("recv", e)
	default:
		j.flush()
	}
}

func (j *jsonLines) split(dir string, e session.Event) {
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
	l := jsonLine{Offset: at.Seconds(), Dir: dir, TLS: tls, Text: session.Sanitize(trimmed), Redacted: redacted}
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
	j.out = session.AppendJSONSafe(j.out[:0], j.lineBuf)
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
// characters a terminal could act on escaped (session.AppendJSONSafe).
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
	j.out = session.AppendJSONSafe(j.out[:0], bytes.TrimSuffix(j.enc.Bytes(), []byte("\n")))
	return true
}

func (j *jsonLines) write(b []byte) {
	if j.err == nil {
		_, j.err = j.w.Write(b)
	}
}

package recordings

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// The swaks markers (PRODUCT §4): sysadmins read transcripts by them, and
// colour, when there is any, only reinforces them.
const (
	markInfo      = "=== "
	markError     = "*** "
	markClient    = " -> "
	markClientTLS = " ~> "
	markServer    = "<-  "
	markServerTLS = "<~  "
)

// DefaultDataLines is how many lines of a message body a Transcript shows
// before it elides the rest with a count.
const DefaultDataLines = 20

// maxPending bounds the client line a Transcript holds while waiting for
// its end: a body streamed in chunks may have a line of any length, and a
// 100 MB message must not be held in memory for display.
const maxPending = 64 << 10

// TranscriptOptions changes what a Transcript prints.
type TranscriptOptions struct {
	// Errors receives the *** lines (warnings, notes, TLS failures); swaks
	// writes them to stderr. Nil means the main writer.
	Errors io.Writer
	// DataLines is how many lines of each message body (DATA or BDAT) are
	// shown; 0 means DefaultDataLines, and a negative number none.
	DataLines int
	// Full shows every line of every body.
	Full bool
	// Width, if not zero, is the terminal's width in columns: a line
	// wider than that is folded by ehlo, each continuation starting with
	// a marker of its own (foldMarks), so that no text from the wire can
	// start a visual line where the terminal would wrap it.
	Width int
}

// foldMarks are the markers of a folded line's continuations. Wire text
// always follows a marker of its own ("<-  ", " -> " ...), so only ehlo's
// folding puts one of these at the start of a line.
var foldMarks = map[string]string{
	markInfo:      "==+ ",
	markError:     "**+ ",
	markClient:    " -+ ",
	markClientTLS: " ~+ ",
	markServer:    "<-+ ",
	markServerTLS: "<~+ ",
}

// minFold is the fewest columns of text a folded line holds, however
// narrow the terminal says it is.
const minFold = 16

// Transcript is a Sink that prints a conversation as swaks does, one line
// per wire line, as events arrive:
//
//	=== information (connect, TLS summary)
//	 -> client line       ~> client line inside TLS
//	<-  server line      <~  server line inside TLS
//	*** warning or error (to Options.Errors)
//
// Every byte shown goes through Sanitize, client bytes included, so no text
// from the wire can move the cursor, start an escape sequence, or begin a
// line with ehlo's own "===" or "***" (security-anchors §3.4, H1–H4).
//
// A Transcript is not safe for concurrent use; a Capture serialises its
// calls.
type Transcript struct {
	w, errw io.Writer
	opts    TranscriptOptions
	err     error

	// follow annotates the events that come without Parts (a
	// recording); what is a command and what message content, and where
	// a message ends, the Transcript reads from the Parts.
	follow     *session.Annotator
	addr       string
	connected  bool
	pending    []byte // the start of a client line not yet ended
	pendingTLS bool
	shown      int // body lines shown in the current DATA or BDAT
	hidden     int // and elided
}

var _ session.Sink = (*Transcript)(nil)

// NewTranscript returns a Transcript writing to w.
func NewTranscript(w io.Writer, opts TranscriptOptions) *Transcript {
	t := &Transcript{w: w, errw: opts.Errors, opts: opts, follow: session.NewAnnotator(false)}
	if t.errw == nil {
		t.errw = w
	}
	if t.opts.DataLines == 0 {
		t.opts.DataLines = DefaultDataLines
	}
	return t
}

// Err returns the first write error; after it the Transcript prints
// nothing more.
func (t *Transcript) Err() error { return t.err }

// Event prints e.
func (t *Transcript) Event(e session.Event) {
	t.follow.Annotate(&e)
	if e.Kind != session.KindClient {
		t.Flush()
	}
	switch e.Kind {
	case session.KindConnect:
		t.addr, t.connected = e.Addr, false
		t.info("Trying " + session.SanitizeString(e.Addr) + "...")
	case session.KindState:
		if e.State.Phase >= protocol.PhaseConnected && !t.connected {
			t.connected = true
			t.info("Connected to " + session.SanitizeString(t.addr) + ".")
		}
	case session.KindTLS:
		t.handshake(e.Handshake)
	case session.KindSnapshot:
		t.resume(e.Start)
	case session.KindClient:
		t.client(e)
	case session.KindServer:
		t.server(e)
	case session.KindNote:
		t.warn(e.Text)
	case session.KindClose:
		t.endBody()
		t.connected = false
		if e.Text == "" {
			t.info("Connection closed with remote host.")
		} else {
			t.info(session.SanitizeString(e.Text) + ".")
		}
	}
}

// Flush prints a client line whose end has not been seen yet.
func (t *Transcript) Flush() {
	if len(t.pending) > 0 {
		t.line(t.w, clientMark(t.pendingTLS), t.pending)
		t.pending = t.pending[:0]
	}
}

// resume starts a transcript from the state a recording begun mid-session
// opens with.
func (t *Transcript) resume(s *session.StartState) {
	if s == nil {
		return
	}
	t.addr, t.connected = s.Addr, s.Connected
	t.info(session.SanitizeString(s.Summary()))
}

func clientMark(tls bool) string {
	if tls {
		return markClientTLS
	}
	return markClient
}

// client prints a client send, part by part as session read it. Message
// content comes as one part per send, cut here into its lines for display.
func (t *Transcript) client(e session.Event) {
	mark := clientMark(e.TLS)
	for start, p := range e.Segments() {
		seg := e.Data[start:p.End]
		switch {
		case !p.Payload:
			t.piece(mark, e.TLS, seg, p.Complete, false)
		case p.Verb == session.VerbMessageEnd:
			// The terminator is always shown: it says the body ended. It
			// may have come in two sends while the body was elided, so
			// it is written, not joined.
			t.pending = t.pending[:0]
			t.endBody()
			t.line(t.w, mark, []byte("."))
		default:
			t.body(mark, e.TLS, seg, p.Complete)
			if p.Last {
				t.endBody() // the end of a BDAT chunk
			}
		}
	}
}

// body prints the lines of message content; complete says its last line
// ends with it (a BDAT chunk need not end with a line ending).
func (t *Transcript) body(mark string, tls bool, seg []byte, complete bool) {
	for len(seg) > 0 {
		line, ends := seg, complete
		if i := bytes.IndexByte(seg, '\n'); i >= 0 {
			line, ends = seg[:i+1], true
		}
		seg = seg[len(line):]
		t.piece(mark, tls, line, ends, true)
	}
}

// piece prints one line, or keeps the start of one whose end is to come;
// the lines of a body past Options.DataLines are counted, not shown.
func (t *Transcript) piece(mark string, tls bool, seg []byte, complete, payload bool) {
	eliding := payload && !t.opts.Full && t.shown >= t.opts.DataLines
	switch {
	case !complete && eliding:
	case !complete:
		t.pending, t.pendingTLS = append(t.pending, seg...), tls
		if len(t.pending) >= maxPending {
			t.Flush()
		}
	case eliding:
		t.pending = t.pending[:0]
		t.hidden++
	default:
		t.emit(mark, seg)
		if payload {
			t.shown++
		}
	}
}

// emit prints a complete client line, joined to what was pending.
func (t *Transcript) emit(mark string, seg []byte) {
	line := seg
	if len(t.pending) > 0 {
		line = append(t.pending, seg...)
		t.pending = t.pending[:0]
	}
	t.line(t.w, mark, session.TrimEOL(line))
}

// endBody closes the count of a body: it says how many lines were elided.
func (t *Transcript) endBody() {
	if t.hidden > 0 {
		t.info(fmt.Sprintf("%d more lines of message data not shown", t.hidden))
	}
	t.shown, t.hidden = 0, 0
}

func (t *Transcript) server(e session.Event) {
	mark := markServer
	if e.TLS {
		mark = markServerTLS
	}
	// One event is one reply line; should one hold several, each still
	// gets its own marker.
	rest := e.Data
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			t.line(t.w, mark, rest)
			return
		}
		t.line(t.w, mark, session.TrimEOL(rest[:i+1]))
		if rest = rest[i+1:]; len(rest) == 0 {
			return
		}
	}
}

func (t *Transcript) handshake(h *session.TLSSummary) {
	if h == nil {
		return
	}
	if h.Complete {
		t.info(session.SanitizeString(h.StartedText()))
	} else {
		t.warn("TLS handshake failed: " + h.Error)
	}
	for i, c := range h.Chain {
		label, status := fmt.Sprintf("TLS chain certificate %d", i), ""
		if i == 0 {
			label = "TLS peer certificate"
			switch {
			case h.Pinned:
				status = " pinned (trusted for this session by its sha256)"
			case h.Verified:
				status = " verified"
			case h.Error != "":
				status = " NOT verified"
			default:
				status = " not verified (verification disabled)"
			}
		}
		t.info(fmt.Sprintf(`%s: subject "%s" issuer "%s"%s`, label, session.SanitizeString(c.Subject), session.SanitizeString(c.Issuer), status))
		if len(c.SANs) > 0 {
			names := make([]string, len(c.SANs))
			for j, n := range c.SANs {
				names[j] = session.SanitizeString(n)
			}
			t.info("  names: " + strings.Join(names, ", "))
		}
		t.info("  valid: " + c.NotBefore.Format(time.RFC3339) + " to " + c.NotAfter.Format(time.RFC3339))
		if c.KeyType != "" {
			t.info(fmt.Sprintf("  key: %s %d bits", session.SanitizeString(c.KeyType), c.KeyBits))
		}
		t.info("  sha256: " + session.SanitizeString(c.SHA256))
		if c.SPKISHA256 != "" {
			t.info("  spki sha256: " + session.SanitizeString(c.SPKISHA256))
		}
	}
	if h.Complete && h.Error != "" {
		t.warn("TLS certificate not verified: " + h.Error)
	}
}

// info prints an ehlo line; s must already be sanitized.
func (t *Transcript) info(s string) {
	t.write(t.w, t.fold(markInfo, s))
}

// warn prints a *** line; s is sanitized here.
func (t *Transcript) warn(s string) {
	t.write(t.errw, t.fold(markError, session.SanitizeText(s)))
}

func (t *Transcript) line(w io.Writer, mark string, b []byte) {
	t.write(w, t.fold(mark, session.Sanitize(b)))
}

// fold returns mark and the sanitized text s as one line, or with
// Options.Width as several, each no wider than the terminal.
func (t *Transcript) fold(mark, s string) string {
	room := max(t.opts.Width-len(mark), minFold)
	if t.opts.Width <= 0 || len(s) <= room {
		return mark + s + "\n"
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/room*(len(mark)+1) + len(mark) + 1)
	b.WriteString(mark)
	cols := 0
	for i, r := range s {
		if w := runeColumns(r); cols+w > room {
			b.WriteString("\n")
			b.WriteString(foldMarks[mark])
			cols = 0
		}
		cols += runeColumns(r)
		b.WriteString(s[i : i+utf8.RuneLen(r)])
	}
	b.WriteString("\n")
	return b.String()
}

// runeColumns is how many columns a rune of sanitized text may take: two
// for anything past the Latin, Greek and Cyrillic blocks, which may be
// wide. Guessing wide folds a line early, never late.
func runeColumns(r rune) int {
	if r < 0x1100 {
		return 1
	}
	return 2
}

// write issues one Write per line, so lines from the two writers never
// interleave mid-line.
func (t *Transcript) write(w io.Writer, s string) {
	if t.err != nil {
		return
	}
	if _, err := io.WriteString(w, s); err != nil {
		t.err = fmt.Errorf("transcript stopped: %w", err)
	}
}

// WriteTranscript prints a recording as `ehlo replay --print` does: a line
// about the recording, a warning if it holds credentials, every event with
// every body line, then what was wrong with the file. Everything goes to w.
func WriteTranscript(w io.Writer, rec *Recording) error {
	return writeTranscript(w, RecordingSource(rec), 0)
}

// WriteTranscriptSource is WriteTranscript for a recording read event by
// event, in the memory of one event; the output is buffered. Of opts only
// Width counts: every body line is shown, everything goes to w.
func WriteTranscriptSource(w io.Writer, src *Source, opts TranscriptOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := writeTranscript(bw, src, opts.Width); err != nil {
		return err
	}
	return bw.Flush()
}

func writeTranscript(w io.Writer, src *Source, width int) error {
	t := newTranscriptOf(w, TranscriptOptions{Full: true, Width: width}, src.Header)
	transcriptHead(t, src.Header)
	probs, err := src.Each(func(e session.Event) error {
		t.Event(e)
		return t.Err()
	})
	if err != nil {
		return err
	}
	t.Flush()
	for _, p := range probs {
		t.warn(p.String())
	}
	return t.Err()
}

// newTranscriptOf is NewTranscript for the recording that h heads.
func newTranscriptOf(w io.Writer, opts TranscriptOptions, h Header) *Transcript {
	t := NewTranscript(w, opts)
	t.follow = session.NewAnnotator(h.lmtp())
	return t
}

// transcriptHead prints the lines about the recording that come before
// its events.
func transcriptHead(t *Transcript, h Header) {
	t.info(fmt.Sprintf("Recording of %s (%s over %s), started %s, written by ehlo %s",
		session.SanitizeString(h.Server), session.SanitizeString(h.Transport), session.SanitizeString(h.Network),
		h.Created.Format(time.RFC3339), session.SanitizeString(h.EhloVersion)))
	if h.Secrets {
		t.warn("this recording contains credentials (it was made with --record-secrets)")
	}
	if h.Insecure {
		t.warn("certificates were not verified in this session (--insecure)")
	}
}

package tui

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ehlo-dev/ehlo/session"
)

// lineKind is a wire-log line's role. Each has a swaks marker, so roles
// survive NO_COLOR and copy-paste; colour only reinforces them.
type lineKind uint8

const (
	lineClient lineKind = iota // what the client sent:  " -> " / " ~> "
	lineServer                 // what the server sent:  "<-  " / "<~  "
	lineInfo                   // ehlo's information:    "=== "
	lineTLS                    // the TLS handshake:     "=== "
	lineNote                   // notes and errors:      "*** "
)

const (
	flagTLS      uint8 = 1 << iota // the bytes went through TLS
	flagRedacted                   // a secret was replaced by a marker
	flagPayload                    // message content (DATA or BDAT), not a command
	flagPlain                      // printable ASCII only: shown as stored
	flagMore                       // a reply line its reply goes on after ("250-…")
)

// verb is the command a client line starts, or that a server line answers;
// the explainer needs it (a 220 means something else after STARTTLS).
type verb uint8

const (
	verbNone verb = iota
	verbGreeting
	verbEHLO
	verbHELO
	verbLHLO
	verbSTARTTLS
	verbAUTH
	verbMAIL
	verbRCPT
	verbDATA
	verbDataEnd // the "." ending DATA, or a BDAT chunk
	verbBDAT
	verbRSET
	verbVRFY
	verbEXPN
	verbHELP
	verbNOOP
	verbQUIT
	verbOther
)

var verbNames = map[string]verb{
	"EHLO": verbEHLO, "HELO": verbHELO, "LHLO": verbLHLO, "STARTTLS": verbSTARTTLS,
	"AUTH": verbAUTH, "MAIL": verbMAIL, "RCPT": verbRCPT, "DATA": verbDATA, "BDAT": verbBDAT,
	"RSET": verbRSET, "VRFY": verbVRFY, "EXPN": verbEXPN, "HELP": verbHELP, "NOOP": verbNOOP,
	"QUIT": verbQUIT,
}

// maxLineBytes is how much of one line the log keeps; the rest is counted
// and shown as "[+N bytes]". A server may send a reply line of any length
// and a message body may have lines of megabytes.
const maxLineBytes = 4096

// wireLine is one line of the wire log, kept small: a million of them is
// 32 MB plus their text. The text is the raw bytes, in an arena; it is
// sanitized only when the line is drawn, so only visible lines pay for it.
type wireLine struct {
	at    time.Duration // offset from the start of the session
	chunk uint32        // where the text is in the arena
	off   uint32
	n     uint32 // bytes kept
	cut   uint32 // bytes dropped beyond maxLineBytes
	kind  lineKind
	flags uint8
	verb  verb
}

// arenaChunk is the size of one arena block. Lines never straddle blocks,
// so a block is never reallocated and a line's bytes never move.
const arenaChunk = 256 << 10

// wireLog stores the conversation as lines. It is owned by the UI
// goroutine; the session reaches it only through a feed.
type wireLog struct {
	lines  []wireLine
	chunks [][]byte
	// filter is the search index: for each block of blockLines lines, a
	// set of the trigrams of their searched text (see contains). A search
	// reads only the blocks that hold every trigram of the query, so a
	// million lines are searched within a frame (issue 17).
	filter []uint64
}

// A block's trigram set is a bitmap of filterBits bits, an 8-byte
// overhead a line. With a few thousand distinct trigrams in a block of
// message text a quarter of the bits are set, so a query of five
// trigrams reads about one block in a thousand that does not hold it.
const (
	blockLines  = 128
	filterBits  = 8192
	filterWords = filterBits / 64
	filterShift = 32 - 13 // log2(filterBits)
)

func (w *wireLog) Len() int { return len(w.lines) }

// reserve makes room for about n more lines at once: a replay knows its
// size up front, and growing a million-line slice by doubling copies it
// again and again (a fifth of opening a 1,000,000-event recording).
func (w *wireLog) reserve(n int) {
	w.lines = slices.Grow(w.lines, n)
	w.filter = slices.Grow(w.filter, (n/blockLines+1)*filterWords)
}

func (w *wireLog) add(kind lineKind, flags uint8, vb verb, at time.Duration, text []byte, dropped int) {
	if len(text) > maxLineBytes {
		dropped += len(text) - maxLineBytes
		text = text[:maxLineBytes]
	}
	if len(w.chunks) == 0 || cap(w.chunks[len(w.chunks)-1])-len(w.chunks[len(w.chunks)-1]) < len(text) {
		w.chunks = append(w.chunks, make([]byte, 0, arenaChunk))
	}
	if plainASCII(text) {
		flags |= flagPlain
	}
	ci := len(w.chunks) - 1
	c := w.chunks[ci]
	off := len(c)
	w.chunks[ci] = append(c, text...)
	w.lines = append(w.lines, wireLine{
		at: at, chunk: uint32(ci), off: uint32(off), n: uint32(len(text)), cut: uint32(dropped),
		kind: kind, flags: flags, verb: vb,
	})
	i := len(w.lines) - 1
	if i%blockLines == 0 {
		w.filter = slices.Grow(w.filter, filterWords)
		w.filter = w.filter[:len(w.filter)+filterWords]
		clear(w.filter[len(w.filter)-filterWords:])
	}
	if flags&flagPlain == 0 {
		text = []byte(w.text(i)) // what contains searches
	}
	addTrigrams(w.filter[len(w.filter)-filterWords:], text)
}

// addTrigrams adds the trigrams of b, ASCII letters folded to lower case
// as indexFold compares them, to a block's set.
func addTrigrams(f []uint64, b []byte) {
	if len(b) < 3 {
		return
	}
	h := uint32(foldASCII[b[0]])<<8 | uint32(foldASCII[b[1]])
	for _, c := range b[2:] {
		h = (h<<8 | uint32(foldASCII[c])) & 0xffffff
		k := trigramBit(h)
		f[k>>6] |= 1 << (k & 63)
	}
}

func trigramBit(h uint32) uint32 { return (h * 0x9e3779b1) >> filterShift }

// trigramBits are the bits of q's trigrams (q lower case), or nil when q
// is too short to have any: then every block may hold it.
func trigramBits(q string) []uint32 {
	if len(q) < 3 {
		return nil
	}
	bits := make([]uint32, 0, len(q)-2)
	for i := 0; i+3 <= len(q); i++ {
		bits = append(bits, trigramBit(uint32(q[i])<<16|uint32(q[i+1])<<8|uint32(q[i+2])))
	}
	return bits
}

// mayContain reports whether block b can hold a line containing the query
// whose trigramBits are bits: false only when it certainly cannot.
func (w *wireLog) mayContain(b int, bits []uint32) bool {
	f := w.filter[b*filterWords : (b+1)*filterWords]
	for _, k := range bits {
		if f[k>>6]&(1<<(k&63)) == 0 {
			return false
		}
	}
	return true
}

// search looks for q in lines [lo, hi), forward (dir > 0) or backward,
// reading lines worth at most *budget (a line costs its length plus
// lineCost); blocks the index rules out cost nothing. It returns the line
// found or -1, and the part of [lo, hi) not read yet (empty when done).
func (w *wireLog) search(lo, hi, dir int, q string, budget *int) (found, restLo, restHi int) {
	bits := trigramBits(q)
	for lo < hi && *budget > 0 {
		if dir > 0 {
			b := lo / blockLines
			end := min(hi, (b+1)*blockLines)
			if w.mayContain(b, bits) {
				for i := lo; i < end; i++ {
					*budget -= int(w.lines[i].n) + lineCost
					if w.contains(i, q) {
						return i, i + 1, hi
					}
				}
			}
			lo = end
			continue
		}
		b := (hi - 1) / blockLines
		start := max(lo, b*blockLines)
		if w.mayContain(b, bits) {
			for i := hi - 1; i >= start; i-- {
				*budget -= int(w.lines[i].n) + lineCost
				if w.contains(i, q) {
					return i, lo, i
				}
			}
		}
		hi = start
	}
	return -1, lo, hi
}

// lineCost is what reading a line costs besides its bytes, in bytes.
const lineCost = 32

// raw returns the bytes of line i as received or sent (after redaction).
func (w *wireLog) raw(i int) []byte {
	l := &w.lines[i]
	return w.chunks[l.chunk][l.off : l.off+l.n : l.off+l.n]
}

// text returns line i made safe for a terminal (security-anchors §3.4):
// every byte from the wire goes through session.Sanitize before anything
// styles it.
func (w *wireLog) text(i int) string {
	var s string
	if w.lines[i].kind == lineNote {
		// ehlo's own words, which quote server bytes already escaped:
		// Sanitize would double their backslashes ("Ok\\r\\n").
		s = session.SanitizeText(string(w.raw(i)))
	} else {
		s = session.Sanitize(w.raw(i))
	}
	s = strings.ReplaceAll(s, "\t", "    ")
	if c := w.lines[i].cut; c > 0 {
		s += " [+" + strconv.FormatUint(uint64(c), 10) + " bytes]"
	}
	return s
}

// marker is the swaks marker of a line.
func (l wireLine) marker() string {
	tls := l.flags&flagTLS != 0
	switch l.kind {
	case lineClient:
		if tls {
			return " ~> "
		}
		return " -> "
	case lineServer:
		if tls {
			return "<~  "
		}
		return "<-  "
	case lineNote:
		return "*** "
	}
	return "=== "
}

// plain returns line i as it is copied to the clipboard: marker and
// sanitized text.
func (w *wireLog) plain(i int) string {
	return w.lines[i].marker() + w.text(i)
}

// safe makes text from the wire fit for a pane: sanitized, and a TAB
// (which Sanitize keeps) made a space so that widths stay exact.
func safe(s string) string {
	return strings.ReplaceAll(session.SanitizeString(s), "\t", " ")
}

// tabless makes a TAB a space in text that is already sanitized.
func tabless(s string) string { return strings.ReplaceAll(s, "\t", " ") }

// contains reports whether line i's shown text contains q, ignoring ASCII
// case; q must be lower case. Plain ASCII lines are searched in place,
// without sanitizing, so a search over a million lines allocates little.
func (w *wireLog) contains(i int, q string) bool {
	if w.lines[i].flags&flagPlain != 0 {
		return indexFold(w.raw(i), q) >= 0
	}
	return indexFold([]byte(w.text(i)), q) >= 0
}

func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// indexFold is bytes.Index ignoring ASCII case; q is lower case. It jumps
// from one occurrence of q's first byte (either case) to the next.
func indexFold(b []byte, q string) int {
	if q == "" {
		return 0
	}
	n := len(q)
	first, upper := q[0], q[0]
	if first >= 'a' && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for i := 0; i+n <= len(b); i++ {
		j := bytes.IndexByte(b[i:len(b)-n+1], first)
		if upper != first {
			if k := bytes.IndexByte(b[i:len(b)-n+1], upper); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return -1
		}
		i += j
		j = 1
		for j < n && lower(b[i+j]) == q[j] {
			j++
		}
		if j == n {
			return i
		}
	}
	return -1
}

func lower(c byte) byte { return foldASCII[c] }

// foldASCII maps a byte to its lower case: ASCII letters only, as the
// search compares them.
var foldASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// feed is the Sink the TUI adds to the session's Capture. The Capture calls
// Event with its lock held on the session's goroutine, so Event only
// appends under a mutex and signals without blocking: the session never
// waits for the UI. The UI drains the feed in batches (STYLE B2).
type feed struct {
	mu      sync.Mutex
	pending []session.Event
	signal  chan struct{}
}

func newFeed() *feed { return &feed{signal: make(chan struct{}, 1)} }

// Event implements session.Sink.
func (f *feed) Event(e session.Event) {
	f.mu.Lock()
	f.pending = append(f.pending, e)
	f.mu.Unlock()
	select {
	case f.signal <- struct{}{}:
	default:
	}
}

// drain returns what arrived since the last drain.
func (f *feed) drain() []session.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	evs := f.pending
	f.pending = nil
	return evs
}

// builder turns events into wire-log lines. What each line is (a command
// and its verb, message content, the end of a message, the command a reply
// answers) it reads from the events' annotations (session.Event.Parts):
// session follows the conversation once, and nothing here parses SMTP
// again. A live session's events come annotated by its Capture; a
// replay's builder runs a session.Follower of its own over the recording.
// For replay, where there is no session to ask, it also keeps the state
// the Connection and Extensions panes show.
type builder struct {
	log    *wireLog          // nil: follow the state only
	follow *session.Follower // nil: the events come annotated
	parts  []session.Part    // follow's scratch space

	addr      string
	connected bool

	partial    []byte // the start of a client line not yet ended
	partialCut int
	partialTLS bool
	partialPay bool // the line is message content
	partialAt  time.Duration
	lastByte   byte // the last byte added to partial, to drop a CR before LF

	st paneState // replay: the state at this point
}

func (b *builder) clone() builder {
	c := *b
	c.log = nil
	c.partial = bytes.Clone(b.partial)
	c.parts = nil
	if b.follow != nil {
		c.follow = b.follow.Clone()
	}
	c.st.Exts = append([]extension(nil), b.st.Exts...)
	return c
}

func (b *builder) line(kind lineKind, flags uint8, vb verb, at time.Duration, text []byte, cut int) {
	if b.log != nil {
		b.log.add(kind, flags, vb, at, text, cut)
	}
}

func (b *builder) info(kind lineKind, at time.Duration, text string) {
	b.line(kind, 0, verbNone, at, []byte(text), 0)
}

// newBuilder returns a builder that follows the events itself, as a
// replay needs; lmtp says the recording's transport is LMTP.
func newBuilder(log *wireLog, lmtp bool) *builder {
	return &builder{log: log, follow: session.NewFollower(lmtp)}
}

// newLiveBuilder returns a builder for a live session's events, which its
// Capture annotates.
func newLiveBuilder(log *wireLog) *builder { return &builder{log: log} }

// apply adds one event.
func (b *builder) apply(e session.Event) {
	if b.follow != nil {
		e.Parts = b.parts[:0]
		b.follow.Annotate(&e)
		b.parts = e.Parts[:0]
	}
	if e.Kind != session.KindClient {
		b.flushPartial()
	}
	switch e.Kind {
	case session.KindConnect:
		b.addr, b.connected = e.Addr, false
		b.st.Server = e.Addr
		b.info(lineInfo, e.Offset, "Trying "+e.Addr+"...")
	case session.KindState:
		b.st.applyState(e)
		if b.st.Step >= session.StepConnected && !b.connected {
			b.connected = true
			b.info(lineInfo, e.Offset, "Connected to "+b.addr+".")
		}
		if b.st.Step == session.StepNone {
			b.connected = false
		}
	case session.KindTLS:
		b.handshake(e)
	case session.KindSnapshot:
		b.resume(e)
	case session.KindClient:
		b.st.Out += int64(len(e.Data))
		b.client(e)
	case session.KindServer:
		b.st.In += int64(len(e.Data))
		b.server(e)
	case session.KindNote:
		b.info(lineNote, e.Offset, e.Text)
	case session.KindClose:
		b.connected = false
		b.st.Connected = false
		b.st.Step = session.StepNone
		if e.Text == "" {
			b.info(lineInfo, e.Offset, "Connection closed with remote host.")
		} else {
			b.info(lineInfo, e.Offset, e.Text+".")
		}
	}
	b.st.Offset = e.Offset
}

func (b *builder) handshake(e session.Event) {
	h := e.Handshake
	if h == nil {
		return
	}
	b.st.TLSInfo = h
	if h.Complete {
		// RFC 3207 §4.2: what was learnt before TLS is forgotten.
		b.st.Stale = len(b.st.Exts) > 0
		b.info(lineTLS, e.Offset, h.StartedText())
	} else {
		b.info(lineNote, e.Offset, "TLS handshake failed: "+h.Error)
	}
	if len(h.Chain) > 0 {
		c := h.Chain[0]
		b.info(lineTLS, e.Offset, fmt.Sprintf(`TLS peer certificate: subject "%s" issuer "%s"`, c.Subject, c.Issuer))
	}
	for _, l := range waysOut(h, nil) {
		b.info(lineInfo, e.Offset, l)
	}
	switch {
	case h.Complete && h.Pinned:
		b.info(lineTLS, e.Offset, "certificate pinned: the one trusted for this session by its sha256")
	case h.Complete && h.Verified:
		b.info(lineTLS, e.Offset, "certificate verified")
	case h.Complete && h.Error == "":
		b.info(lineNote, e.Offset, "certificate NOT VERIFIED (verification disabled)")
	case h.Complete:
		b.info(lineNote, e.Offset, "certificate NOT VERIFIED: "+h.Error)
	}
}

// client adds the lines of a client send, part by part as session read
// it. A DATA body is streamed in chunks, so a line may span events: its
// start waits in partial. Bytes no Follower annotated are shown as lines
// without a verb.
func (b *builder) client(e session.Event) {
	flags := uint8(0)
	if e.TLS {
		flags |= flagTLS
	}
	if e.Redacted {
		flags |= flagRedacted
	}
	start := 0
	for _, p := range e.Parts {
		if p.End < start || p.End > len(e.Data) {
			break
		}
		b.part(e.Data[start:p.End], flags, p, e.Offset)
		start = p.End
	}
	if start < len(e.Data) {
		b.part(e.Data[start:], flags, session.Part{}, e.Offset)
	}
}

// part adds the lines of one part of a client send. Message content is
// flagged as such (the "." ending DATA is not: it is the client's
// command to end it), and a BDAT chunk's end ends a line, since a chunk
// need not end with one.
func (b *builder) part(seg []byte, flags uint8, p session.Part, at time.Duration) {
	vb := verbOf(p.Verb)
	payload := p.Payload && p.Verb != session.VerbMessageEnd
	if payload {
		flags |= flagPayload
	}
	for len(seg) > 0 {
		i := bytes.IndexByte(seg, '\n')
		if i < 0 {
			b.appendPartial(seg, flags&flagTLS != 0, payload, at)
			break
		}
		b.appendPartial(seg[:i], flags&flagTLS != 0, payload, at)
		seg = seg[i+1:]
		line, cut, at := b.takeLine()
		if vb == verbEHLO || vb == verbLHLO {
			b.st.pendingExts = true
		}
		b.line(lineClient, flags, vb, at, line, cut)
	}
	if p.Last && p.Verb == "BDAT" {
		b.flushAs(flags, vb)
	}
}

// appendPartial adds bytes of a line whose end has not been seen, keeping
// at most maxLineBytes and counting the rest.
func (b *builder) appendPartial(p []byte, tls, payload bool, at time.Duration) {
	if len(b.partial) == 0 && b.partialCut == 0 {
		b.partialAt, b.partialTLS, b.partialPay = at, tls, payload
	}
	if len(p) == 0 {
		return
	}
	b.lastByte = p[len(p)-1]
	room := max(0, maxLineBytes-len(b.partial))
	if len(p) > room {
		b.partialCut += len(p) - room
		p = p[:room]
	}
	b.partial = append(b.partial, p...)
}

// takeLine returns the line ended by the LF just seen, without its CR.
func (b *builder) takeLine() (line []byte, cut int, at time.Duration) {
	line, cut, at = b.partial, b.partialCut, b.partialAt
	if b.lastByte == '\r' {
		if cut > 0 {
			cut--
		} else if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	b.partial, b.partialCut, b.lastByte = b.partial[:0], 0, 0
	return line, cut, at
}

// flushPartial shows a client line whose end has not come, as the
// transcript does before any other event.
func (b *builder) flushPartial() {
	flags := uint8(0)
	if b.partialPay {
		flags |= flagPayload
	}
	b.flushAs(flags, verbNone)
}

func (b *builder) flushAs(flags uint8, vb verb) {
	if len(b.partial) == 0 && b.partialCut == 0 {
		return
	}
	if b.partialTLS {
		flags |= flagTLS
	}
	b.line(lineClient, flags, vb, b.partialAt, b.partial, b.partialCut)
	b.partial, b.partialCut, b.lastByte = b.partial[:0], 0, 0
}

// server adds the reply lines of an event (one, as received; a recording
// may hold more), each with the command session says it answers.
func (b *builder) server(e session.Event) {
	flags := uint8(0)
	if e.TLS {
		flags |= flagTLS
	}
	if e.Redacted {
		flags |= flagRedacted
	}
	start := 0
	for _, p := range e.Parts {
		if p.End < start || p.End > len(e.Data) {
			break
		}
		more := uint8(0)
		if p.More {
			more = flagMore
		}
		b.reply(trimEOL(e.Data[start:p.End]), flags|more, verbOf(p.Verb), e.Offset)
		start = p.End
	}
	for rest := e.Data[start:]; len(rest) > 0; { // not annotated
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		b.reply(trimEOL(line), flags, verbNone, e.Offset)
	}
}

func (b *builder) reply(line []byte, flags uint8, vb verb, at time.Duration) {
	b.line(lineServer, flags, vb, at, line, 0)
	if (vb == verbEHLO || vb == verbLHLO) && bytes.HasPrefix(line, []byte("250")) {
		b.st.ehloLine(line)
	}
}

// verbOf is the verb session named (session.Part.Verb).
func verbOf(name string) verb {
	switch name {
	case "":
		return verbNone
	case session.VerbGreeting:
		return verbGreeting
	case session.VerbMessageEnd:
		return verbDataEnd
	}
	if v, ok := verbNames[name]; ok {
		return v
	}
	return verbOther
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

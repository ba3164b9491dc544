package recordings

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// The fast path of the reader. A Recorder writes every event line in one
// shape: the fields of eventJSON in their declared order, no spaces, strings
// escaped as encoding/json escapes them. fastParser reads exactly that
// shape, and only the lines that load cleanly: anything else (an unknown
// field, a field out of order, a duplicate, a space, null, a surrogate
// escape, invalid UTF-8, an offset out of range, a bad span, a tls event,
// any line that would give a Problem) makes it decline, and Read hands the
// line to parseEvent and encoding/json. So for every line it accepts it
// must return the Event parseEvent would, with no warnings; the
// differential tests and FuzzReaderFastMatchesJSON check that.

// fastParser keeps the arena the events' Data is cut from.
type fastParser struct {
	arena byteArena
}

// Field numbers, in the order eventJSON declares (and the encoder writes)
// them.
const (
	fData = iota + 1
	fB64
	fTLS
	fRedacted
	fSecrets
	fNetwork
	fAddr
	fHandshake
	fState
	fText
)

var fastFields = map[string]int{
	"data": fData, "b64": fB64, "tls": fTLS, "redacted": fRedacted,
	"secrets": fSecrets, "network": fNetwork, "addr": fAddr,
	"handshake": fHandshake, "state": fState, "text": fText,
}

// parseEvent reads line if it is in the Recorder's shape and loads with
// nothing to report; ok is false otherwise, and e is then meaningless.
func (p *fastParser) parseEvent(line []byte) (e session.Event, ok bool) {
	// Trailing JSON whitespace (a CRLF file leaves a "\r").
	for len(line) > 0 {
		if c := line[len(line)-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			break
		}
		line = line[:len(line)-1]
	}
	e, i, ok := fastHead(line)
	if !ok {
		return e, false
	}
	var (
		raw  fastRaw
		last int
	)
	for {
		if i >= len(line) {
			return e, false
		}
		if line[i] == '}' {
			i++
			break
		}
		if line[i] != ',' || i+1 >= len(line) || line[i+1] != '"' {
			return e, false
		}
		fieldStart := i + 2
		keyEnd := bytes.IndexByte(line[fieldStart:], '"')
		if keyEnd < 0 {
			return e, false
		}
		f := fastFields[string(line[fieldStart:fieldStart+keyEnd])]
		i = fieldStart + keyEnd + 1
		if f <= last || i >= len(line) || line[i] != ':' {
			return e, false
		}
		last = f
		if i, ok = raw.field(line, i+1, f, &e); !ok {
			return e, false
		}
	}
	if i != len(line) {
		return e, false
	}
	return e, p.settle(&e, &raw)
}

// fastHead reads the two fields every line starts with, the offset and
// the kind, and returns where the others start. A tls or snapshot event
// is left to encoding/json.
func fastHead(line []byte) (e session.Event, i int, ok bool) {
	const head = `{"offset_us":`
	if !bytes.HasPrefix(line, []byte(head)) {
		return e, 0, false
	}
	us, i, ok := scanUint(line, len(head), 13)
	if !ok || us > MaxOffset.Microseconds() {
		return e, 0, false
	}
	e.Offset = time.Duration(us) * time.Microsecond

	const kindKey = `,"kind":"`
	if !bytes.HasPrefix(line[i:], []byte(kindKey)) {
		return e, 0, false
	}
	i += len(kindKey)
	end := bytes.IndexByte(line[i:], '"')
	if end < 0 {
		return e, 0, false
	}
	kind, ok := fastKind(line[i : i+end])
	if !ok || kind == session.KindTLS || kind == session.KindSnapshot {
		return e, 0, false
	}
	e.Kind = kind
	return e, i + end + 1, true
}

// fastRaw is what the fields of a line left to decode once the whole line
// has been read: the bytes, and the spans that must fall within them.
type fastRaw struct {
	data, b64       []byte // raw JSON string contents
	dataEsc         bool
	hasData, hasB64 bool
	secrets         []protocol.Span
	hasState        bool
}

// field reads the value of field f at line[i:] into e, or into r for the
// bytes, and returns where it ends. A field the kind does not have, or one
// the fast path leaves to encoding/json, is not ok.
func (r *fastRaw) field(line []byte, i, f int, e *session.Event) (next int, ok bool) {
	isData := e.Kind == session.KindClient || e.Kind == session.KindServer
	switch f {
	case fData, fB64:
		if !isData {
			return i, false
		}
		var s []byte
		var esc bool
		if s, esc, i, ok = scanString(line, i); !ok {
			return i, false
		}
		if f == fData {
			r.data, r.dataEsc, r.hasData = s, esc, true
		} else {
			if esc {
				return i, false
			}
			r.b64, r.hasB64 = s, true
		}
	case fTLS, fRedacted:
		var v bool
		if v, i, ok = scanBool(line, i); !ok {
			return i, false
		}
		if f == fTLS {
			e.TLS = v
		} else {
			e.Redacted = v
		}
	case fSecrets:
		if !isData {
			return i, false
		}
		if r.secrets, i, ok = scanSpans(line, i); !ok {
			return i, false
		}
	case fNetwork, fAddr, fText:
		var s string
		if s, i, ok = scanText(line, i); !ok {
			return i, false
		}
		switch f {
		case fNetwork:
			e.Network = s
		case fAddr:
			e.Addr = s
		default:
			e.Text = s
		}
	case fState:
		if e.Kind != session.KindState {
			return i, false
		}
		if e.State, i, ok = scanState(line, i); !ok {
			return i, false
		}
		r.hasState = true
	default: // fHandshake, or an unknown field
		return i, false
	}
	return i, true
}

// settle checks that the line had the fields its kind needs and decodes
// the bytes into the arena.
func (p *fastParser) settle(e *session.Event, r *fastRaw) bool {
	switch e.Kind {
	case session.KindClient, session.KindServer:
		if r.hasData == r.hasB64 {
			return false
		}
		var ok bool
		if r.hasData {
			e.Data, ok = p.arena.unquote(r.data, r.dataEsc)
		} else {
			e.Data, ok = p.arena.base64(r.b64)
		}
		if !ok {
			return false
		}
		for _, s := range r.secrets {
			if s.Start < 0 || s.Start >= s.End || s.End > len(e.Data) {
				return false
			}
		}
		e.Secrets = r.secrets
	case session.KindState:
		return r.hasState
	}
	return true
}

func fastKind(b []byte) (session.Kind, bool) {
	// A name is short: the conversion stays on the stack.
	return session.ParseKind(string(b))
}

// scanUint reads a JSON number that is a non-negative integer of at most
// maxDigits digits, without a leading zero.
func scanUint(b []byte, i, maxDigits int) (v int64, next int, ok bool) {
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i-start >= maxDigits {
			return 0, i, false
		}
		v = v*10 + int64(b[i]-'0')
		i++
	}
	switch {
	case i == start, i-start > 1 && b[start] == '0':
		return 0, i, false
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
		return 0, i, false
	}
	return v, i, true
}

func scanBool(b []byte, i int) (v bool, next int, ok bool) {
	switch {
	case bytes.HasPrefix(b[i:], []byte("true")):
		return true, i + 4, true
	case bytes.HasPrefix(b[i:], []byte("false")):
		return false, i + 5, true
	}
	return false, i, false
}

// scanString reads a JSON string at b[i]: its raw contents (between the
// quotes), whether they hold escapes, and the index after it. It declines
// raw control characters and invalid UTF-8 (which encoding/json would
// replace); the escapes are checked when they are decoded.
func scanString(b []byte, i int) (s []byte, esc bool, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, false, i, false
	}
	i++
	start, ascii := i, true
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			s = b[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, false, i, false
			}
			return s, esc, i + 1, true
		case c == '\\':
			esc = true
			i++ // the escaped byte is never the closing quote
		case c < 0x20:
			return nil, false, i, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false, i, false
}

// scanText reads a JSON string into a Go string.
func scanText(b []byte, i int) (string, int, bool) {
	s, esc, i, ok := scanString(b, i)
	if !ok {
		return "", i, false
	}
	if !esc {
		switch string(s) { // the common ones, without an allocation
		case "":
			return "", i, true
		case "tcp":
			return "tcp", i, true
		case "unix":
			return "unix", i, true
		}
		return string(s), i, true
	}
	u, ok := appendUnescaped(make([]byte, 0, len(s)), s)
	return string(u), i, ok
}

// appendUnescaped decodes the contents of a JSON string as encoding/json
// does, declining a surrogate escape (which it would pair or replace).
func appendUnescaped(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				j = len(s) - i
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(s) {
			return dst, false
		}
		switch c := s[i+1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if i+6 > len(s) {
				return dst, false
			}
			var r rune
			for _, h := range s[i+2 : i+6] {
				switch {
				case h >= '0' && h <= '9':
					h -= '0'
				case h >= 'a' && h <= 'f':
					h -= 'a' - 10
				case h >= 'A' && h <= 'F':
					h -= 'A' - 10
				default:
					return dst, false
				}
				r = r<<4 | rune(h)
			}
			if utf16.IsSurrogate(r) {
				return dst, false
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default:
			return dst, false
		}
		i += 2
	}
	return dst, true
}

// scanSpans reads "secrets": [[start,end],...] of non-negative integers.
func scanSpans(b []byte, i int) (spans []protocol.Span, next int, ok bool) {
	if i >= len(b) || b[i] != '[' {
		return nil, i, false
	}
	i++
	if i < len(b) && b[i] == ']' {
		return nil, i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '[' {
			return nil, i, false
		}
		var s, e int64
		if s, i, ok = scanUint(b, i+1, 9); !ok || i >= len(b) || b[i] != ',' {
			return nil, i, false
		}
		if e, i, ok = scanUint(b, i+1, 9); !ok || i >= len(b) || b[i] != ']' {
			return nil, i, false
		}
		spans = append(spans, protocol.Span{Start: int(s), End: int(e)})
		i++
		if i >= len(b) {
			return nil, i, false
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return spans, i + 1, true
		default:
			return nil, i, false
		}
	}
}

// scanState reads {"phase":"…","tls":…,"auth":…,"rcpts":…} as stateJSON
// writes it.
func scanState(b []byte, i int) (st protocol.State, next int, ok bool) {
	const phaseKey = `{"phase":"`
	if !bytes.HasPrefix(b[i:], []byte(phaseKey)) {
		return st, i, false
	}
	i += len(phaseKey)
	end := bytes.IndexByte(b[i:], '"')
	if end < 0 {
		return st, i, false
	}
	if st.Phase, ok = fastPhase(b[i : i+end]); !ok {
		return st, i, false
	}
	i += end + 1
	for _, f := range []struct {
		key string
		v   *bool
	}{{`,"tls":`, &st.TLS}, {`,"auth":`, &st.Authenticated}} {
		if !bytes.HasPrefix(b[i:], []byte(f.key)) {
			return st, i, false
		}
		if *f.v, i, ok = scanBool(b, i+len(f.key)); !ok {
			return st, i, false
		}
	}
	const rcptsKey = `,"rcpts":`
	if !bytes.HasPrefix(b[i:], []byte(rcptsKey)) {
		return st, i, false
	}
	n, i, ok := scanUint(b, i+len(rcptsKey), 9)
	if !ok || i >= len(b) || b[i] != '}' {
		return st, i, false
	}
	st.Recipients = int(n)
	return st, i + 1, true
}

func fastPhase(b []byte) (protocol.Phase, bool) {
	for p := protocol.PhaseDisconnected; p <= protocol.PhaseData; p++ {
		if p.String() == string(b) {
			return p, true
		}
	}
	return 0, false
}

// byteArena hands out the Data of events from shared chunks, so that a
// million events are not a million allocations. Every slice handed out has
// its capacity cut to its length, so an append to one cannot write into
// the next.
type byteArena struct {
	buf  []byte
	next int // size of the next chunk
}

const (
	arenaMinChunk = 4 << 10
	arenaMaxChunk = 1 << 20
)

// reset lets the arena hand out its current chunk again: the events cut
// from it are no longer used (a Scanner, one event at a time).
func (a *byteArena) reset() {
	a.buf = a.buf[:0]
}

// alloc returns n bytes, never nil.
func (a *byteArena) alloc(n int) []byte {
	if n > arenaMaxChunk/4 {
		return make([]byte, n)
	}
	if a.buf == nil || cap(a.buf)-len(a.buf) < n {
		a.next = min(max(a.next*2, arenaMinChunk), arenaMaxChunk)
		a.buf = make([]byte, 0, max(a.next, n))
	}
	s := len(a.buf)
	a.buf = a.buf[:s+n]
	return a.buf[s : s+n : s+n]
}

// shrink cuts b, the slice alloc returned last, to m bytes, giving the
// rest back.
func (a *byteArena) shrink(b []byte, m int) []byte {
	if n := len(b); n > 0 && len(a.buf) >= n && &a.buf[len(a.buf)-n] == &b[0] {
		a.buf = a.buf[:len(a.buf)-(n-m)]
	}
	return b[:m:m]
}

// unquote copies the contents of a JSON string into the arena, decoding
// its escapes.
func (a *byteArena) unquote(s []byte, esc bool) ([]byte, bool) {
	d := a.alloc(len(s)) // a decoded string is never longer
	if !esc {
		copy(d, s)
		return d, true
	}
	u, ok := appendUnescaped(d[:0], s)
	if !ok || len(u) > len(d) {
		a.shrink(d, 0)
		return nil, false
	}
	return a.shrink(d, len(u)), true
}

// base64 decodes s into the arena as base64.StdEncoding.DecodeString does.
func (a *byteArena) base64(s []byte) ([]byte, bool) {
	d := a.alloc(base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(d, s)
	if err != nil {
		a.shrink(d, 0)
		return nil, false
	}
	return a.shrink(d, n), true
}

// sizeHint is how many bytes r has left to read, or -1 if it cannot say
// cheaply.
func sizeHint(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }: // *bytes.Reader, *bytes.Buffer, *strings.Reader
		return int64(v.Len())
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil || pos > fi.Size() {
			return -1
		}
		return fi.Size() - pos
	}
	return -1
}

// eventsHint guesses how many events are in the remaining bytes from the
// newlines in sample, the bytes that follow the header. The guess is
// capped so that a hostile file cannot make it reserve much more memory
// than its own size: no event line is shorter than 16 bytes, and a real
// one is rarely under 40.
func eventsHint(remaining int64, sample []byte) int {
	if remaining <= 0 || len(sample) == 0 {
		return 0
	}
	nl := int64(bytes.Count(sample, []byte{'\n'})) + 1
	est := remaining*nl/int64(len(sample)) + remaining*nl/int64(len(sample))/16 + 16
	return int(min(est, remaining/40+16, 1<<22))
}

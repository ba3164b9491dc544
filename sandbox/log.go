package sandbox

import (
	"fmt"
	"io"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxLogLine keeps a 9000-byte longline fault or a pasted blob from
// flooding the teacher's terminal; the byte count is still shown.
const maxLogLine = 300

// logger serialises lines from every session onto one writer. Lines are
// buffered and written together, at most logFlushDelay after the first
// of them or once logFlushBytes are waiting, so a busy server makes one
// write(2) per batch rather than per line; Close flushes the rest. Lines
// are appended whole under the lock, so sessions never interleave within
// a line. When the writer is io.Discard, on is false and callers skip the
// formatting too.
type logger struct {
	on bool

	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	timer *time.Timer
	armed bool
}

const (
	logFlushDelay = 20 * time.Millisecond
	logFlushBytes = 32 << 10
)

func newLogger(w io.Writer) *logger {
	l := &logger{w: w, on: w != io.Discard}
	l.timer = time.AfterFunc(time.Hour, l.flush)
	l.timer.Stop()
	return l
}

func (l *logger) printf(id, format string, args ...any) { l.appendf(id, "", format, args...) }

// notef is printf for the server's own notes, which the log marks "* ".
func (l *logger) notef(id, format string, args ...any) { l.appendf(id, "* ", format, args...) }

func (l *logger) appendf(id, mark, format string, args ...any) {
	if !l.on {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.begin(id)
	l.buf = append(l.buf, mark...)
	l.buf = fmt.Appendf(l.buf, format, args...)
	l.end()
}

// line logs prefix, then text escaped, then eol: the client's and the
// server's lines, most of what a busy log holds, formatted straight into
// the buffer (printf's boxed arguments and escape's string cost a
// logged message 40 allocations).
func (l *logger) line(id, prefix string, text []byte, eol string) {
	if !l.on {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.begin(id)
	l.buf = append(l.buf, prefix...)
	l.buf = appendEscaped(l.buf, text)
	l.buf = append(l.buf, eol...)
	l.end()
}

func (l *logger) begin(id string) {
	l.buf = append(l.buf, '[')
	l.buf = append(l.buf, id...)
	l.buf = append(l.buf, "] "...)
}

// end finishes a line and writes the batch, or arms the timer that will.
func (l *logger) end() {
	l.buf = append(l.buf, '\n')
	switch {
	case len(l.buf) >= logFlushBytes:
		l.writeLocked()
	case !l.armed:
		l.armed = true
		l.timer.Reset(logFlushDelay)
	}
}

func (l *logger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writeLocked()
}

func (l *logger) writeLocked() {
	l.armed = false
	if len(l.buf) == 0 {
		return
	}
	_, _ = l.w.Write(l.buf)
	if cap(l.buf) > 4*logFlushBytes {
		l.buf = nil
	} else {
		l.buf = l.buf[:0]
	}
}

// close writes what is buffered.
func (l *logger) close() {
	l.timer.Stop()
	l.flush()
}

// escape renders client or server bytes for the log. Both sides may be
// hostile (a client typing ANSI escapes, an ansi fault), and the log goes
// to a terminal, so every control, bidi and invalid byte becomes a visible
// escape (security-anchors §3.4).
func escape(b []byte) string { return string(appendEscaped(nil, b)) }

// appendEscaped appends b to dst as escape renders it: at most maxLogLine
// characters, then a count of the bytes left.
func appendEscaped(dst, b []byte) []byte {
	for n := 0; len(b) > 0; n++ {
		if n >= maxLogLine {
			return fmt.Appendf(dst, "… (%d more bytes)", len(b))
		}
		if c := b[0]; c >= 0x20 && c < 0x7f && c != '\\' {
			dst, b = append(dst, c), b[1:] // printable ASCII, nearly all of it
			continue
		}
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			dst = appendHex(dst, `\x`, uint32(b[0]), 2)
		case r == '\\':
			dst = append(dst, `\\`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r < 0x80:
			dst = appendHex(dst, `\x`, uint32(r), 2) // the other C0 controls and DEL
		case !unicode.IsPrint(r):
			dst = appendHex(dst, `\u`, uint32(r), 4)
		default:
			dst = utf8.AppendRune(dst, r)
		}
		b = b[size:]
	}
	return dst
}

// appendHex appends prefix and v in lower-case hex, at least digits long
// (as %02x and %04x print it).
func appendHex(dst []byte, prefix string, v uint32, digits int) []byte {
	dst = append(dst, prefix...)
	var tmp [8]byte
	i := len(tmp)
	for v > 0 || len(tmp)-i < digits {
		i--
		tmp[i] = "0123456789abcdef"[v&0xf]
		v >>= 4
	}
	return append(dst, tmp[i:]...)
}

// trimEOL drops one CRLF, or a bare LF, which the log then shows as \n so
// a bare-LF line stays visible.
func trimEOL(line []byte) ([]byte, string) {
	switch {
	case len(line) >= 2 && line[len(line)-2] == '\r' && line[len(line)-1] == '\n':
		return line[:len(line)-2], ""
	case len(line) >= 1 && line[len(line)-1] == '\n':
		return line[:len(line)-1], `\n`
	}
	return line, ""
}

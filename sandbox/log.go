package sandbox

import (
	"fmt"
	"io"
	"strings"
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

func (l *logger) printf(id, format string, args ...any) {
	if !l.on {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, '[')
	l.buf = append(l.buf, id...)
	l.buf = append(l.buf, "] "...)
	l.buf = fmt.Appendf(l.buf, format, args...)
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
func escape(b []byte) string {
	var sb strings.Builder
	n := 0
	for len(b) > 0 {
		if n >= maxLogLine {
			fmt.Fprintf(&sb, "… (%d more bytes)", len(b))
			break
		}
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&sb, `\x%02x`, b[0])
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r < 0x80 && (r < 0x20 || r == 0x7f):
			fmt.Fprintf(&sb, `\x%02x`, r)
		case r >= 0x80 && !unicode.IsPrint(r):
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
		b = b[size:]
		n++
	}
	return sb.String()
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

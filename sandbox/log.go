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
	l.lineAdded()
}

// wire logs one line of the conversation ("[s3] C: …", "[s3] S: …"):
// printf(id, dir+"%s%s", escape(text), eol) without fmt or a copy of the
// line, since every command and reply goes through it.
func (l *logger) wire(id, dir string, text []byte, eol string) {
	if !l.on {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, '[')
	l.buf = append(l.buf, id...)
	l.buf = append(l.buf, "] "...)
	l.buf = append(l.buf, dir...)
	l.buf = appendEscape(l.buf, text)
	l.buf = append(l.buf, eol...)
	l.lineAdded()
}

// lineAdded ends the line just appended and writes the batch when it is
// due; l.mu is held.
func (l *logger) lineAdded() {
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
func escape(b []byte) string { return string(appendEscape(nil, b)) }

// appendEscape is escape appending to dst, so a logged line is escaped
// straight into the log's buffer.
func appendEscape(dst, b []byte) []byte {
	n := 0
	for len(b) > 0 {
		if n >= maxLogLine {
			dst = fmt.Appendf(dst, "… (%d more bytes)", len(b))
			break
		}
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			dst = fmt.Appendf(dst, `\x%02x`, b[0])
		case r == '\\':
			dst = append(dst, `\\`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r < 0x80 && (r < 0x20 || r == 0x7f):
			dst = fmt.Appendf(dst, `\x%02x`, r)
		case r >= 0x80 && !unicode.IsPrint(r):
			dst = fmt.Appendf(dst, `\u%04x`, r)
		default:
			dst = utf8.AppendRune(dst, r)
		}
		b = b[size:]
		n++
	}
	return dst
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

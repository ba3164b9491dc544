package sandbox

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// maxLogLine keeps a 9000-byte longline fault or a pasted blob from
// flooding the teacher's terminal; the byte count is still shown.
const maxLogLine = 300

// logger serialises lines from every session onto one writer, one Write
// per line, so concurrent sessions never interleave within a line.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) printf(id, format string, args ...any) {
	line := "[" + id + "] " + fmt.Sprintf(format, args...) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line)
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

package protocol

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SetDebugLevel turns on smtplib's set_debuglevel output, written to w
// (os.Stderr when nil): level 1 prints what is sent and received in
// smtplib's exact formats; level 2 prefixes each line with the time of day.
// Unlike smtplib's, credentials are never printed: the bytes of an AUTH
// exchange appear as [redacted].
func (c *Client) SetDebugLevel(level int, w io.Writer) {
	c.debugLevel = level
	if w != nil {
		c.debugOut = w
	}
}

// RedactedMarker replaces credentials wherever this package prints them.
const RedactedMarker = "[redacted]"

func (c *Client) debugf(format string, args ...any) {
	if c.debugLevel <= 0 {
		return
	}
	line := fmt.Sprintf(format, args...)
	if c.debugLevel > 1 {
		line = pyTime(c.now()) + " " + line
	}
	fmt.Fprintln(c.debugOut, line)
}

// pyTime formats like Python's datetime.now().time(): no fraction when the
// microsecond is zero.
func pyTime(t time.Time) string {
	if t.Nanosecond()/1000 == 0 {
		return t.Format("15:04:05")
	}
	return t.Format("15:04:05.000000")
}

// pyRepr renders b as Python's repr() of a bytes object (isBytes) or of a
// str, so debug lines match smtplib's character for character.
func pyRepr(b []byte, isBytes bool) string {
	q := byte('\'')
	if strings.IndexByte(string(b), '\'') >= 0 && strings.IndexByte(string(b), '"') < 0 {
		q = '"'
	}
	var sb strings.Builder
	if isBytes {
		sb.WriteByte('b')
	}
	sb.WriteByte(q)
	pyEscape(&sb, b, isBytes, q)
	sb.WriteByte(q)
	return sb.String()
}

// DebugForms returns every way secret can be written inside the debug
// output (SetDebugLevel): escaped as in the repr of a bytes object and of
// a str, each with either quote character, since which one repr uses
// depends on the whole line. Backslash, TAB and non-ASCII letters change
// there; a filter of that output must look for each form, as well as the
// secret itself.
func DebugForms(secret string) []string {
	var out []string
	for _, isBytes := range []bool{true, false} {
		for _, q := range []byte{'\'', '"'} {
			var sb strings.Builder
			pyEscape(&sb, []byte(secret), isBytes, q)
			if f := sb.String(); f != secret && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// pyEscape writes the inside of a repr quoted with q.
func pyEscape(sb *strings.Builder, b []byte, isBytes bool, q byte) {
	for i := 0; i < len(b); {
		ch := b[i]
		switch {
		case ch == q || ch == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(ch)
		case ch == '\n':
			sb.WriteString(`\n`)
		case ch == '\r':
			sb.WriteString(`\r`)
		case ch == '\t':
			sb.WriteString(`\t`)
		case ch >= 0x20 && ch < 0x7f:
			sb.WriteByte(ch)
		case ch < 0x80 || isBytes:
			fmt.Fprintf(sb, `\x%02x`, ch)
		default:
			r, size := utf8.DecodeRune(b[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				fmt.Fprintf(sb, `\x%02x`, ch)
			case unicode.IsPrint(r):
				// Go's IsPrint is Python's str.isprintable: letters, marks,
				// numbers, punctuation and symbols, no other spaces.
				sb.WriteRune(r)
			case r < 0x100:
				fmt.Fprintf(sb, `\x%02x`, r)
			case r < 0x10000:
				fmt.Fprintf(sb, `\u%04x`, r)
			default:
				fmt.Fprintf(sb, `\U%08x`, r)
			}
			i += size
			continue
		}
		i++
	}
}

// pyAddr renders a dial address as smtplib's debug line shows it:
// ('host', port) for TCP, the path for a Unix socket.
func pyAddr(addr, network string) string {
	if network == "unix" {
		return addr
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return fmt.Sprintf("('%s', %s)", h, p)
}

func pySource(src string) string {
	if src == "" {
		return "None"
	}
	h, p, err := net.SplitHostPort(src)
	if err != nil {
		return fmt.Sprintf("('%s', 0)", src)
	}
	return fmt.Sprintf("('%s', %s)", h, p)
}

// redactSpans returns b with the secret spans replaced by RedactedMarker.
func redactSpans(b []byte, spans []Span) []byte {
	if len(spans) == 0 {
		return b
	}
	var out []byte
	last := 0
	for _, s := range spans {
		out = append(out, b[last:s.Start]...)
		out = append(out, RedactedMarker...)
		last = s.End
	}
	return append(out, b[last:]...)
}

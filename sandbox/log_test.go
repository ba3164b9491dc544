package sandbox

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// escapeOracle is the log's escaping written the plain way, with fmt, as
// it was before appendEscaped took its fast path; the two must agree on
// every input.
func escapeOracle(b []byte) string {
	var sb strings.Builder
	for n := 0; len(b) > 0; n++ {
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
	}
	return sb.String()
}

func TestEscapeMatchesOracle(t *testing.T) {
	cases := []string{
		"", "MAIL FROM:<a@example.com>", "a\\b", "\x00\x01\x1b[31m\x7f", "\r\n\t",
		"\xff\xfe", "ok \u202e evil", "\u200b", "\U000e0001 tag", "\ufffd", "naïve 日本",
		"\xc3", "\xe2\x80", strings.Repeat("x", maxLogLine+5), strings.Repeat("é", maxLogLine+1),
		strings.Repeat("\x1b", maxLogLine-1) + "abc",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", " ", "\\", "\x00", "\x1b", "\x7f", "\r", "\n", "\xff", "é", "\u202e", "\U0001f600", "\xe2"}
	for range 2000 {
		var sb strings.Builder
		for range rng.IntN(2 * maxLogLine) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		cases = append(cases, sb.String())
	}
	for _, in := range cases {
		if got, want := escape([]byte(in)), escapeOracle([]byte(in)); got != want {
			t.Fatalf("escape(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// A logged command and reply cost no allocation of their own: the log is
// on for every class, and a busy sandbox logs ten lines a message.
func TestLogLineAllocatesNothing(t *testing.T) {
	var sink strings.Builder
	l := newLogger(&sink)
	defer l.close()
	text := []byte("RCPT TO:<student07@sandbox.ehlo.test> NOTIFY=NEVER \x1b[2J")
	l.line("s1", "C: ", text, "") // the buffer grows once
	l.mu.Lock()
	l.buf = l.buf[:0]
	l.mu.Unlock()
	if n := testing.AllocsPerRun(100, func() {
		l.line("s1", "C: ", text, "")
		l.mu.Lock()
		l.buf = l.buf[:0]
		l.mu.Unlock()
	}); n != 0 {
		t.Fatalf("%v allocations a line, want 0", n)
	}
	l.line("s1", "S: ", []byte("250 2.1.5 Ok"), `\n`)
	l.flush()
	if got, want := sink.String(), "[s1] S: 250 2.1.5 Ok\\n\n"; got != want {
		t.Fatalf("logged %q, want %q", got, want)
	}
}

package session

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Sanitize makes bytes chosen by a server safe to put on a terminal
// (security-anchors §3.4, cases H1–H3). A hostile server can clear the
// screen, set the title, write the clipboard (OSC 52), move the cursor back
// over ehlo's own markers with a lone CR, or reorder what is shown with bidi
// overrides; none of that may survive. So every byte that a terminal could
// act on, or that a reader could not see, is shown as a visible escape:
//
//   - C0 controls except TAB, and DEL: \r, \n, or \xHH (\x1b for ESC);
//   - bytes that are not valid UTF-8: \xHH;
//   - C1 controls (U+0080–U+009F), bidi controls (U+200E, U+200F, U+061C,
//     U+202A–U+202E, U+2066–U+2069), zero-width characters (U+200B–U+200D,
//     U+2060, U+FEFF), the line and paragraph separators and every other
//     Unicode format character (tags, soft hyphen): \uHHHH or \UHHHHHHHH;
//   - the backslash itself: \\, so that the escaping can be undone
//     (Unsanitize) and a server cannot forge an escape.
//
// The result is valid UTF-8 and holds one line: it never contains LF or CR.
func Sanitize(b []byte) string {
	if isPlain(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 16)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			writeASCII(&sb, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			writeHex(&sb, 'x', uint32(c), 2)
			i++
			continue
		}
		writeRune(&sb, r)
		i += n
	}
	return sb.String()
}

// SanitizeText makes ehlo's own messages (notes, errors) safe for a
// terminal like Sanitize, but leaves backslashes alone: such messages
// often quote server bytes already escaped ("\r\n"), and escaping them
// again would print "\\r\\n". It is for display only; it cannot be undone.
func SanitizeText(s string) string {
	if !strings.Contains(s, `\`) {
		return SanitizeString(s)
	}
	parts := strings.Split(s, `\`)
	for i, p := range parts {
		parts[i] = SanitizeString(p)
	}
	return strings.Join(parts, `\`)
}

// SanitizeString is Sanitize for a string.
func SanitizeString(s string) string {
	return Sanitize([]byte(s))
}

func writeASCII(sb *strings.Builder, c byte) {
	switch {
	case c == '\\':
		sb.WriteString(`\\`)
	case c == '\r':
		sb.WriteString(`\r`)
	case c == '\n':
		sb.WriteString(`\n`)
	case c == '\t':
		sb.WriteByte(c)
	case c < 0x20 || c == 0x7f:
		writeHex(sb, 'x', uint32(c), 2)
	default:
		sb.WriteByte(c)
	}
}

func writeRune(sb *strings.Builder, r rune) {
	if !unsafeRune(r) {
		sb.WriteRune(r)
		return
	}
	if r <= 0xffff {
		writeHex(sb, 'u', uint32(r), 4)
	} else {
		writeHex(sb, 'U', uint32(r), 8)
	}
}

// writeHex writes \<kind> and v as width lower-case hex digits. Binary
// message bodies go through here byte by byte, so no fmt.
func writeHex(sb *strings.Builder, kind byte, v uint32, width int) {
	const digits = "0123456789abcdef"
	sb.WriteByte('\\')
	sb.WriteByte(kind)
	for shift := 4 * (width - 1); shift >= 0; shift -= 4 {
		sb.WriteByte(digits[v>>uint(shift)&0xf])
	}
}

// unsafeRune reports whether a (non-ASCII) rune must be escaped. Cc covers
// C1; Cf covers the bidi controls, the zero-width characters, U+FEFF and the
// invisible tag characters; Zl and Zp are line breaks in some terminals.
func unsafeRune(r rune) bool {
	return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r)
}

// isPlain is the fast path: printable ASCII, TAB, no backslash.
func isPlain(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// AppendJSONSafe appends the JSON text src to dst with every character
// that Sanitize would escape and JSON leaves raw (DEL, C1 controls, bidi
// and zero-width characters, other format characters) written as a \u escape
// instead (a surrogate pair above U+FFFF). The JSON means the same; a
// terminal or a reader shown it sees the escape, not the effect. src must
// be JSON, where such characters can only be inside strings.
func AppendJSONSafe(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if c == 0x7f {
				dst = appendJSONEscape(dst, rune(c))
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n <= 1 || !unsafeRune(r) {
			dst = append(dst, src[i:i+n]...)
			i += n
			continue
		}
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			dst = appendJSONEscape(dst, r1)
			dst = appendJSONEscape(dst, r2)
		} else {
			dst = appendJSONEscape(dst, r)
		}
		i += n
	}
	return dst
}

func appendJSONEscape(dst []byte, r rune) []byte {
	const digits = "0123456789abcdef"
	return append(dst, '\\', 'u', digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf])
}

// Unsanitize undoes Sanitize: Unsanitize(Sanitize(b)) returns b. It accepts
// only the escapes Sanitize writes, so that a malformed string is an error
// rather than a guess.
func Unsanitize(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return nil, errors.New("unsanitize: backslash at end of input")
		}
		switch s[i+1] {
		case '\\':
			out = append(out, '\\')
			i += 2
		case 'r':
			out = append(out, '\r')
			i += 2
		case 'n':
			out = append(out, '\n')
			i += 2
		case 'x', 'u', 'U':
			width := 2
			switch s[i+1] {
			case 'u':
				width = 4
			case 'U':
				width = 8
			}
			if i+2+width > len(s) {
				return nil, fmt.Errorf("unsanitize: short escape at byte %d", i)
			}
			v, err := strconv.ParseUint(s[i+2:i+2+width], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("unsanitize: bad escape at byte %d", i)
			}
			if s[i+1] == 'x' {
				out = append(out, byte(v))
			} else {
				if !utf8.ValidRune(rune(v)) {
					return nil, fmt.Errorf("unsanitize: invalid code point at byte %d", i)
				}
				out = utf8.AppendRune(out, rune(v))
			}
			i += 2 + width
		default:
			return nil, fmt.Errorf("unsanitize: unknown escape %q at byte %d", s[i:i+2], i)
		}
	}
	return out, nil
}

package protocol

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the checks that stand between user input and the wire
// (security-anchors §2.1). ValidateLine is the one choke point every command
// passes; the others run earlier, before connecting, so that a bad flag
// costs nothing and the error can point at the offending character.
//
// Where smtplib silently rewrites (quoteaddr turns "x@y> NOTIFY=SUCCESS"
// into "<x@y>" and "a@b,c@d" into "<a@b>", dropping a recipient), ehlo
// refuses. That is a deliberate difference: in a debugger a silent rewrite
// is a bug report waiting to happen.
//
// Every refusal is a *ValueError. Offsets are byte offsets into the string
// the caller passed, counted from 0.

// ValidateLine is smtplib's putcmd check (bpo-43124), extended to NUL: a
// command line must not contain CR, LF or NUL anywhere, or the server would
// read it as more than one command (golang/go#21159). The error text is
// smtplib's: "command and arguments contain prohibited newline characters: "
// and the line with CR and LF shown as \r and \n.
//
// Other control characters are escaped in the echo too, so that the error
// is safe to print; the arguments of an AUTH line are never echoed, because
// they may be credentials typed into the composer.
func ValidateLine(line string) error {
	if !strings.ContainsAny(line, "\r\n\x00") {
		return nil
	}
	what := "prohibited newline characters"
	if !strings.ContainsAny(line, "\r\n") {
		what = "prohibited NUL character"
	}
	return &ValueError{Msg: "command and arguments contain " + what + ": " + escapeControls(redactAuthArgs(line))}
}

// escapeControls shows controls, other unprintable runes (bidi overrides
// among them) and invalid UTF-8 as Go escapes and leaves everything else
// alone, so that an ordinary line with a stray CRLF reads exactly as
// smtplib prints it and no line can smuggle a terminal escape into the
// error.
func escapeControls(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError && size == 1, r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// redactAuthArgs keeps "AUTH" and the mechanism name of an AUTH line and
// replaces the rest: an initial response is base64 of the password. The
// mechanism ends at any separator, CR and LF included, since a newline
// right after it may be followed by the secret.
func redactAuthArgs(line string) string {
	const seps = " \t\r\n\x00"
	verbEnd := strings.IndexAny(line, seps)
	if verbEnd < 0 || !strings.EqualFold(line[:verbEnd], "AUTH") {
		return line
	}
	mechStart := verbEnd + 1
	mechEnd := len(line)
	if k := strings.IndexAny(line[mechStart:], seps); k >= 0 {
		mechEnd = mechStart + k
	}
	if mechEnd == len(line) {
		return line
	}
	return line[:mechEnd] + " [redacted]"
}

// refuse builds the error for a bad character: what is wrong, in which
// field, and where. The value is quoted with strconv.Quote so that controls
// in it cannot reach a terminal.
func refuse(field, value string, off int, what string) error {
	return &ValueError{Msg: fmt.Sprintf("%s in %s %s at offset %d", what, field, strconv.Quote(value), off)}
}

// describeRune names a character for an error message.
func describeRune(r rune) string {
	switch r {
	case ' ':
		return "space"
	case 0:
		return `control character '\x00' (NUL)`
	case '\t':
		return `control character '\t' (TAB)`
	case '\n':
		return `'\n' (LF)`
	case '\r':
		return `'\r' (CR)`
	case 0x1b:
		return `control character '\x1b' (ESC)`
	case 0x7f:
		return `control character '\x7f' (DEL)`
	}
	if isControl(r) {
		return "control character " + strconv.QuoteRuneToASCII(r)
	}
	if unicode.IsSpace(r) {
		return fmt.Sprintf("whitespace %U", r)
	}
	if !unicode.IsPrint(r) {
		// Bidi and other format characters would reorder or hide the
		// message itself.
		return fmt.Sprintf("character %U", r)
	}
	return "'" + string(r) + "'"
}

// isControl is C0, DEL and C1: none of them belongs in an envelope, and the
// C1 ones can act as terminal escapes when an error is printed.
func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f)
}

// firstBadRune finds the first control character or invalid UTF-8 byte in
// s. Non-ASCII text is otherwise fine: whether it may be sent is decided
// by SMTPUTF8, not here.
func firstBadRune(s string) (off int, what string, bad bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if isControl(rune(c)) {
				return i, controlWhat(rune(c)), true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i, fmt.Sprintf("invalid UTF-8 byte 0x%02x", c), true
		}
		if isControl(r) {
			return i, controlWhat(r), true
		}
		i += size
	}
	return 0, "", false
}

// controlWhat words the refusal of a control character. CR and LF use
// smtplib's phrase, so that every newline refusal, whichever field it is
// in, says "prohibited newline characters" (smtplib-behaviour §23 case 26).
func controlWhat(r rune) string {
	switch r {
	case '\r', '\n':
		return "prohibited newline characters: " + describeRune(r)
	case 0:
		return "prohibited NUL character"
	}
	return "unexpected " + describeRune(r)
}

// envelopeAddr extracts the mailbox from an envelope address as ehlo
// accepts it: "" or "<>" (the null sender), "mailbox", "<mailbox>" or
// "display name <mailbox>". On refusal it returns the offset of the
// offending byte and a description of it.
//
// The mailbox may have a quoted local part, which may hold anything but
// controls, '"' and '\' unescaped; outside it, '<', '>', ',', '"' and
// whitespace are refused, because a server reads them as the end of the
// path or of the address (wneessen/go-mail#496: "a@x> ORCPT=…" smuggles an
// ESMTP parameter without any CR or LF).
func envelopeAddr(addr string) (box string, off int, what string, ok bool) {
	if off, what, bad := firstBadRune(addr); bad {
		return "", off, what, false
	}
	start, end := 0, len(addr)
	for start < end && addr[start] == ' ' {
		start++
	}
	for end > start && addr[end-1] == ' ' {
		end--
	}
	lt := indexUnquoted(addr, start, end, '<')
	if lt < 0 {
		return checkMailbox(addr, start, end)
	}
	// The display name is dropped, but it must still be one name: an
	// unquoted '>' or ',' there means the string is not one address.
	inQ := false
	for i := start; i < lt; i++ {
		switch c := addr[i]; {
		case inQ && c == '\\':
			i++
		case c == '"':
			inQ = !inQ
		case !inQ && c == '>':
			return "", i, "unexpected '>'", false
		case !inQ && c == ',':
			return "", i, "unexpected ',' (one address per argument)", false
		}
	}
	gt := indexUnquoted(addr, lt+1, end, '>')
	if gt < 0 {
		return "", lt, "unmatched '<'", false
	}
	box, off, what, ok = checkMailbox(addr, lt+1, gt)
	if ok && gt != end-1 {
		r, _ := utf8.DecodeRuneInString(addr[gt+1:])
		return "", gt + 1, "unexpected " + describeRune(r) + " after '>'", false
	}
	return box, off, what, ok
}

// indexUnquoted is the offset of the first c in s[from:to] outside a
// quoted string, or -1. An unterminated quote runs to the end.
func indexUnquoted(s string, from, to int, c byte) int {
	inQ := false
	for i := from; i < to; i++ {
		switch s[i] {
		case '\\':
			if inQ {
				i++
			}
		case '"':
			inQ = !inQ
		case c:
			if !inQ {
				return i
			}
		}
	}
	return -1
}

// checkMailbox checks s[from:to] as a mailbox (RFC 5321 §4.1.2, loosely:
// only what could break the command line or the path is refused, so that
// odd but harmless addresses can still be tried against a server). An
// empty mailbox is the null reverse-path.
func checkMailbox(s string, from, to int) (box string, off int, what string, ok bool) {
	i := from
	if i < to && s[i] == '"' {
		i++
		for i < to && s[i] != '"' {
			if s[i] == '\\' {
				i++
			}
			i++
		}
		if i >= to {
			return "", from, "unterminated quoted local part", false
		}
		i++
		if i < to && s[i] != '@' {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return "", i, "unexpected " + describeRune(r) + " after quoted local part", false
		}
	}
	for i < to {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '<' || r == '>' || r == '"':
			return "", i, "unexpected " + describeRune(r), false
		case r == ',':
			return "", i, "unexpected ',' (one address per argument)", false
		case unicode.IsSpace(r):
			return "", i, "unexpected " + describeRune(r), false
		}
		i += size
	}
	return s[from:to], 0, "", true
}

// ValidateAddress checks an envelope address (MAIL FROM, RCPT TO) before
// anything is sent. It accepts "" and "<>" (the null sender), "a@b",
// "<a@b>" and "Name <a@b>", whose display name QuoteAddr drops. A quoted
// local part may contain '>' and spaces: `"bob> x"@x.test` is sent as
// `<"bob> x"@x.test>`.
//
// It refuses control characters anywhere, invalid UTF-8, a second address
// after a comma, and '<', '>', '"' or whitespace in the mailbox outside a
// quoted local part. "bob@x.test> NOTIFY=SUCCESS" is refused, never
// shortened to "<bob@x.test>" as smtplib's quoteaddr does. Comments
// ("a@b (c)") are refused too. Non-ASCII is accepted here; the client
// decides whether it may be sent (SMTPUTF8).
func ValidateAddress(addr string) error {
	if _, off, what, ok := envelopeAddr(addr); !ok {
		return refuse("address", addr, off, what)
	}
	return nil
}

// QuoteAddr is smtplib's quoteaddr: the address in angle brackets as MAIL
// and RCPT send it, with any display name dropped. "" and "<>" give "<>".
//
// It is a formatter, not a check: callers run ValidateAddress first. For
// input that ValidateAddress refuses, QuoteAddr follows smtplib where
// smtplib is safe ("a@b (c)" gives "<a@b>", "<foo" gives "<foo>") and
// otherwise keeps only the leading part that is a well-formed mailbox, so
// that its result can never carry a second path or an ESMTP parameter,
// whatever it is given.
func QuoteAddr(addr string) string {
	if box, _, _, ok := envelopeAddr(addr); ok {
		return "<" + box + ">"
	}
	return "<" + lenientMailbox(addr) + ">"
}

// AddrOnly is smtplib's _addr_only, used by VRFY and EXPN: the mailbox
// without display name or brackets ("Bob <bob@x>" gives "bob@x"). Input
// that is not one address is returned as it is, as in smtplib; the command
// line is still checked by ValidateLine.
func AddrOnly(addr string) string {
	box, _, _, ok := envelopeAddr(addr)
	if !ok || box == "" {
		return addr
	}
	return box
}

// lenientMailbox is QuoteAddr's fallback: stop at the first control byte
// (smtplib turns "x@y\r\nRSET" into "<x@y>"), drop comments, take what is
// inside the first angle bracket if there is one, then keep the longest
// prefix that checkMailbox accepts.
func lenientMailbox(addr string) string {
	if off, _, bad := firstBadRune(addr); bad {
		addr = addr[:off]
	}
	s := strings.TrimSpace(stripComments(addr))
	if lt := indexUnquoted(s, 0, len(s), '<'); lt >= 0 {
		s = s[lt+1:]
		if gt := indexUnquoted(s, 0, len(s), '>'); gt >= 0 {
			s = s[:gt]
		}
		s = strings.TrimSpace(s)
	}
	for {
		box, off, _, ok := checkMailbox(s, 0, len(s))
		if ok {
			return box
		}
		s = s[:off]
	}
}

// stripComments replaces RFC 5322 comments outside quoted strings with a
// space. An unterminated comment runs to the end.
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	depth, inQ := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case depth > 0:
			switch c {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					b.WriteByte(' ')
				}
			}
			continue
		case inQ && c == '\\':
			b.WriteByte(c)
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
			continue
		case c == '"':
			inQ = !inQ
		case !inQ && c == '(':
			depth = 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ValidateESMTPParam checks one MAIL or RCPT parameter against RFC 5321
// §4.1.2: esmtp-keyword is 1*(ALPHA / DIGIT / "-") starting with ALPHA or
// DIGIT, optionally followed by "=" and an esmtp-value of printable ASCII
// other than '=' (%d33-60 / %d62-126). One parameter per call: a space
// would start a second one, so "NOTIFY=SUCCESS ORCPT=rfc822;v@x" is
// refused (the nodemailer envelope.size advisory, security-anchors D4).
func ValidateESMTPParam(p string) error {
	const field = "esmtp-param"
	if p == "" {
		return &ValueError{Msg: "empty esmtp-param"}
	}
	if off, what, bad := firstBadRune(p); bad {
		return refuse(field, p, off, what)
	}
	eq := strings.IndexByte(p, '=')
	kwEnd := len(p)
	if eq >= 0 {
		kwEnd = eq
	}
	if kwEnd == 0 {
		return refuse(field, p, 0, "empty keyword")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == ' ':
			return refuse(field, p, i, "unexpected space (one esmtp-param per flag)")
		case i < kwEnd:
			if !isAlnumByte(c) && (c != '-' || i == 0) {
				return refuse(field, p, i, "unexpected "+describeByte(c)+" in keyword")
			}
		case i == eq:
		case c < 33 || c > 126:
			return refuse(field, p, i, "unexpected "+describeByte(c)+" in value (printable ASCII only)")
		case c == '=':
			return refuse(field, p, i, "unexpected '=' in value")
		}
	}
	if eq == len(p)-1 {
		return refuse(field, p, eq, "empty value after '='")
	}
	return nil
}

// describeByte names a byte that may be half of a UTF-8 sequence.
func describeByte(c byte) string {
	if c >= utf8.RuneSelf {
		return fmt.Sprintf("non-ASCII byte 0x%02x", c)
	}
	return describeRune(rune(c))
}

func isAlnumByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// ValidateHeloName checks the name HELO or EHLO sends (RFC 5321 §4.1.1.1):
// a domain or an address literal such as "[192.0.2.1]" or "[IPv6:2001:db8::1]".
// No spaces and no controls: the name is an argument like any other (the
// nodemailer EHLO-name advisory, security-anchors D3). Domain labels may
// hold letters, digits, '-', '_' and non-ASCII, so that a server's HELO
// checks can be probed; anything stranger can be typed as a raw line.
func ValidateHeloName(name string) error {
	const field = "HELO name"
	if name == "" {
		return &ValueError{Msg: "empty HELO name"}
	}
	if off, what, bad := firstBadRune(name); bad {
		return refuse(field, name, off, what)
	}
	if name[0] == '[' {
		if !strings.HasSuffix(name, "]") {
			return refuse(field, name, 0, "unterminated address literal")
		}
		if len(name) == 2 {
			return refuse(field, name, 0, "empty address literal")
		}
		if what := checkAddressLiteral(name[1 : len(name)-1]); what != "" {
			return refuse(field, name, 1, what)
		}
		return nil
	}
	if len(name) > 255 {
		return &ValueError{Msg: fmt.Sprintf("HELO name is %d octets long; a domain has at most 255", len(name))}
	}
	labelStart := 0
	for i := 0; i <= len(name); {
		if i == len(name) || name[i] == '.' {
			switch {
			case i == labelStart:
				return refuse(field, name, i, "empty label")
			case i-labelStart > 63:
				return refuse(field, name, labelStart, "label longer than 63 octets")
			}
			i++
			labelStart = i
			continue
		}
		r, size := utf8.DecodeRuneInString(name[i:])
		if r < utf8.RuneSelf && !isAlnumByte(byte(r)) && r != '-' && r != '_' {
			return refuse(field, name, i, "unexpected "+describeRune(r))
		}
		if r >= utf8.RuneSelf && unicode.IsSpace(r) {
			return refuse(field, name, i, "unexpected "+describeRune(r))
		}
		i += size
	}
	return nil
}

// checkAddressLiteral checks the inside of "[...]" (RFC 5321 §4.1.3) and
// says what is wrong with it, or "".
func checkAddressLiteral(lit string) string {
	if a, err := netip.ParseAddr(lit); err == nil {
		if a.Is4() {
			return ""
		}
		return "IPv6 address literal needs the \"IPv6:\" tag"
	}
	if tag, rest, ok := strings.Cut(lit, ":"); ok {
		if strings.EqualFold(tag, "IPv6") {
			a, err := netip.ParseAddr(rest)
			if err != nil || !a.Is6() || a.Zone() != "" {
				return "invalid IPv6 address literal"
			}
			return ""
		}
		// General-address-literal: Standardized-tag ":" 1*dcontent.
		if tag == "" || rest == "" || !isAlnumByte(tag[0]) {
			return "invalid address literal"
		}
		for i := 0; i < len(tag); i++ {
			if !isAlnumByte(tag[i]) && tag[i] != '-' {
				return "invalid address literal tag"
			}
		}
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; c < 33 || c > 126 || c == '[' || c == '\\' || c == ']' {
				return "invalid address literal"
			}
		}
		return ""
	}
	return "invalid IPv4 address literal"
}

// ValidateHeader checks a header given on the command line or in the send
// form. The name must be printable ASCII without ':' (RFC 5322 §2.2); the
// value must not contain CR, LF or NUL. ehlo refuses rather than folds: the
// user asked for one line, and a newline there would add a header such as
// Bcc (security-anchors D6). The value is never echoed in the error, since
// it may be a token.
func ValidateHeader(name, value string) error {
	if name == "" {
		return &ValueError{Msg: "empty header name"}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f {
			return refuse("header name", name, i, controlWhat(rune(c)))
		}
		if c == ' ' || c > 126 || c == ':' {
			return refuse("header name", name, i, "unexpected "+describeByte(c))
		}
	}
	if i := strings.IndexAny(value, "\r\n\x00"); i >= 0 {
		return &ValueError{Msg: fmt.Sprintf("%s in the value of header %s at offset %d (a header value must be one line; ehlo does not fold)",
			controlWhat(rune(value[i])), strconv.Quote(name), i)}
	}
	return nil
}

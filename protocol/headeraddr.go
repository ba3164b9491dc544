package protocol

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The header-address rule of SendMessage: a port of the parser behind
// Python's email.utils.getaddresses (email._parseaddr.AddrlistClass),
// which is what smtplib's send_message() uses to find the envelope. It
// takes what smtplib takes: "a@x", "Name <a@x>", comma lists, groups,
// comments, route addresses, and a bare name ("To: John") that becomes the
// address as written, as Sendmail("John", ...) accepts it.
//
// Where getaddresses silently rewrites or drops part of a header, this
// parser refuses the header instead (docs/smtplib-differences.md P1): a
// phrase of several words, or a quoted one, with no address ("John Smith"
// is "John" for Python, `"<x@y>"` is x@y), text after an address
// ("<a@x> junk"), an unterminated quoted string, comment, domain literal,
// angle address or group, two '@' or a space inside a domain ("a@x y" is
// "a@xy" for Python), and stray special characters. Empty list elements are skipped (RFC 5322 obs-addr-list),
// where strict getaddresses turns the whole header into one empty address.

const (
	addrSpecials = "()<>@,:;.\"[]"
	addrLWS      = " \t"
	addrCR       = "\r\n"
)

var (
	atomEnds   = addrSpecials + addrLWS + addrCR
	phraseEnds = strings.ReplaceAll(atomEnds, ".", "")
)

// headerAddrs is the parser's state over one header value.
type headerAddrs struct {
	s   string
	pos int
}

// addrParseError is a header the parser refuses: what and where.
type addrParseError struct {
	off  int
	what string
}

func (e *addrParseError) Error() string { return fmt.Sprintf("%s at offset %d", e.what, e.off) }

func (p *headerAddrs) fail(what string) error { return &addrParseError{off: p.pos, what: what} }

func (p *headerAddrs) more() bool { return p.pos < len(p.s) }
func (p *headerAddrs) peek() byte { return p.s[p.pos] }

// parseHeaderAddrs returns the addresses of a header value, display names
// and comments dropped, as getaddresses gives their second elements. An
// empty group ("undisclosed-recipients:;") gives one empty address.
func parseHeaderAddrs(v string) ([]string, error) {
	p := &headerAddrs{s: v}
	var out []string
	for {
		p.skipCFWS()
		for p.more() && p.peek() == ',' {
			p.pos++
			p.skipCFWS()
		}
		if !p.more() {
			return out, nil
		}
		addrs, err := p.address(false)
		if err != nil {
			return nil, err
		}
		out = append(out, addrs...)
	}
}

// address is AddrlistClass.getaddress: one mailbox, bare name or group,
// with the comma after it consumed. inGroup allows a ';' to end it.
func (p *headerAddrs) address(inGroup bool) ([]string, error) {
	start := p.pos
	plist, quoted, err := p.phraseList()
	if err != nil {
		return nil, err
	}
	p.skipCFWS()
	var out []string
	switch {
	case p.more() && strings.IndexByte(".@", p.peek()) >= 0:
		p.pos = start
		a, err := p.addrSpec()
		if err != nil {
			return nil, err
		}
		out = []string{a}
	case p.more() && p.peek() == ':':
		if inGroup {
			return nil, p.fail("group inside a group")
		}
		if out, err = p.group(); err != nil {
			return nil, err
		}
	case p.more() && p.peek() == '<':
		a, err := p.routeAddr()
		if err != nil {
			return nil, err
		}
		out = []string{a}
	case len(plist) == 1 && quoted:
		// Python unquotes it and sends what was a display name.
		p.pos = start
		return nil, p.fail(fmt.Sprintf("quoted display name %q without an address", plist[0]))
	case len(plist) == 1:
		// A bare name: smtplib sends it as the address, RCPT TO:<John>.
		out = []string{plist[0]}
	case len(plist) > 1:
		p.pos = start
		return nil, p.fail(fmt.Sprintf("display name %q without an address", strings.Join(plist, " ")))
	default:
		return nil, p.fail("unexpected " + describeRune(p.runeAt()))
	}
	return out, p.endOfAddress(inGroup)
}

// endOfAddress requires what follows an address to be a comma (consumed),
// the end, or in a group its ';': getaddresses would read anything else as
// a further address the header never separated.
func (p *headerAddrs) endOfAddress(inGroup bool) error {
	p.skipCFWS()
	switch {
	case !p.more():
	case p.peek() == ',':
		p.pos++
	case inGroup && p.peek() == ';':
	default:
		return p.fail("unexpected " + describeRune(p.runeAt()) + " after an address")
	}
	return nil
}

func (p *headerAddrs) runeAt() rune {
	r, _ := utf8.DecodeRuneInString(p.s[p.pos:])
	return r
}

// group reads "name: members;" from the ':'. An empty group is one empty
// address; a group left open at the end of the header ends there, as in
// getaddresses.
func (p *headerAddrs) group() ([]string, error) {
	p.pos++
	var out []string
	for {
		p.skipCFWS()
		for p.more() && p.peek() == ',' {
			p.pos++
			p.skipCFWS()
		}
		if !p.more() {
			break
		}
		if p.peek() == ';' {
			p.pos++
			break
		}
		addrs, err := p.address(true)
		if err != nil {
			return nil, err
		}
		out = append(out, addrs...)
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out, nil
}

// routeAddr is getrouteaddr: "<addr-spec>", with an obsolete source route
// ("<@a,@b:x@y>") dropped and "<>" the null address.
func (p *headerAddrs) routeAddr() (string, error) {
	open := p.pos
	p.pos++
	p.skipCFWS()
	for p.more() && (p.peek() == '@' || p.peek() == ',' || p.peek() == ':') {
		if p.peek() == '@' {
			p.pos++
			if _, err := p.domain(); err != nil {
				return "", err
			}
		} else {
			p.pos++
		}
		p.skipCFWS()
	}
	addr := ""
	if p.more() && p.peek() != '>' {
		var err error
		if addr, err = p.addrSpec(); err != nil {
			return "", err
		}
		p.skipCFWS()
	}
	if !p.more() {
		p.pos = open
		return "", p.fail("unterminated '<'")
	}
	if p.peek() != '>' {
		return "", p.fail("unexpected " + describeRune(p.runeAt()) + " in an angle address")
	}
	p.pos++
	return addr, nil
}

// addrSpec is getaddrspec: a local part of atoms, dots and quoted strings
// (re-quoted, so "john doe"@y stays quoted), then '@' and a domain. White
// space inside the local part is kept, for ValidateAddress to refuse; a
// local part with no '@' is returned alone, as Python does.
func (p *headerAddrs) addrSpec() (string, error) {
	var b strings.Builder
	p.skipCFWS()
	for p.more() {
		c := p.peek()
		switch {
		case c == '.':
			b.WriteByte('.')
			p.pos++
		case c == '"':
			q, err := p.delimited('"', '"', false)
			if err != nil {
				return "", err
			}
			b.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(q) + `"`)
		case strings.IndexByte(atomEnds, c) >= 0:
			return p.addrSpecDomain(strings.TrimRight(b.String(), addrLWS))
		default:
			b.WriteString(p.atom(atomEnds))
		}
		ws := p.skipCFWS()
		if c != '.' && ws != "" && p.more() && p.peek() != '.' && p.peek() != '@' {
			b.WriteString(ws)
		}
	}
	return b.String(), nil
}

func (p *headerAddrs) addrSpecDomain(local string) (string, error) {
	if !p.more() || p.peek() != '@' {
		return local, nil
	}
	p.pos++
	p.skipCFWS()
	d, err := p.domain()
	if err != nil {
		return "", err
	}
	if d == "" {
		return "", p.fail("missing domain after '@'")
	}
	return local + "@" + d, nil
}

// domain is getdomain: atoms, dots and domain literals. A second '@' is
// refused, as Python does (bpo-34155); so is white space between two
// parts with no dot, which Python joins ("a@x y" is "a@xy").
func (p *headerAddrs) domain() (string, error) {
	var b strings.Builder
	gap, last := false, byte(0)
	for p.more() {
		c := p.peek()
		switch {
		case strings.IndexByte(addrLWS+addrCR, c) >= 0 || c == '(':
			if at := p.pos; p.skipCFWS() == "" && p.pos == at {
				return "", p.fail("unterminated '('")
			}
			gap = true
			continue
		case c == '@':
			return "", p.fail("second '@' in an address")
		case c == '.':
			b.WriteByte('.')
			p.pos++
			last, gap = '.', false
			continue
		case strings.IndexByte(atomEnds, c) >= 0 && c != '[':
			return b.String(), nil
		}
		if gap && last != 0 && last != '.' {
			return "", p.fail("space inside a domain")
		}
		if c == '[' {
			lit, err := p.delimited('[', ']', false)
			if err != nil {
				return "", err
			}
			b.WriteString("[" + lit + "]")
		} else {
			b.WriteString(p.atom(atomEnds))
		}
		last, gap = 'a', false
	}
	return b.String(), nil
}

// phraseList is getphraselist: the words of a display name, quoted
// strings unquoted; dots belong to the words. quoted says a quoted string
// was among them.
func (p *headerAddrs) phraseList() (words []string, quoted bool, err error) {
	for p.more() {
		c := p.peek()
		switch {
		case strings.IndexByte(addrLWS+addrCR, c) >= 0:
			p.pos++
		case c == '"':
			q, err := p.delimited('"', '"', false)
			if err != nil {
				return nil, false, err
			}
			words, quoted = append(words, q), true
		case c == '(':
			if err := p.comment(); err != nil {
				return nil, false, err
			}
		case strings.IndexByte(phraseEnds, c) >= 0:
			return words, quoted, nil
		default:
			words = append(words, p.atom(phraseEnds))
		}
	}
	return words, quoted, nil
}

func (p *headerAddrs) atom(ends string) string {
	start := p.pos
	for p.more() && strings.IndexByte(ends, p.peek()) < 0 {
		p.pos++
	}
	return p.s[start:p.pos]
}

// skipCFWS is gotonext: it skips white space, line ends and comments and
// returns the white space it skipped. An unterminated comment stops it at
// the '(' so that the caller's next step refuses it.
func (p *headerAddrs) skipCFWS() string {
	var ws strings.Builder
	for p.more() {
		c := p.peek()
		switch {
		case c == ' ' || c == '\t':
			ws.WriteByte(c)
			p.pos++
		case c == '\r' || c == '\n':
			p.pos++
		case c == '(':
			at := p.pos
			if p.comment() != nil {
				p.pos = at
				return ws.String()
			}
		default:
			return ws.String()
		}
	}
	return ws.String()
}

func (p *headerAddrs) comment() error {
	_, err := p.delimited('(', ')', true)
	return err
}

// delimited is getdelimited: the text between open and close, with
// quoted-pairs undone and nested comments skipped when comments is set.
// Unlike Python it refuses a missing close.
func (p *headerAddrs) delimited(open, close byte, comments bool) (string, error) {
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.more() {
		c := p.peek()
		switch {
		case c == '\\' && p.pos+1 < len(p.s):
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
			continue
		case c == '\\':
			p.pos++
			continue
		case c == close:
			p.pos++
			return b.String(), nil
		case comments && c == '(':
			if err := p.comment(); err != nil {
				return "", err
			}
			continue
		}
		b.WriteByte(c)
		p.pos++
	}
	p.pos = start
	return "", p.fail(fmt.Sprintf("unterminated '%c'", open))
}

package sandbox

import (
	"errors"
	"fmt"
	"strings"
)

// Where a byte of a path stands for quoted.next: a quote or a backslash
// escape (and the byte it escapes), inside a quoted string, or outside.
const (
	quoting = iota
	inside
	outside
)

// quoted follows the quoted strings of a path (RFC 5321 §4.1.2), one byte
// at a time, for the two scans that must skip them: the closing bracket
// and the '@' of the mailbox.
type quoted struct{ in, esc bool }

func (q *quoted) next(ch byte) int {
	switch {
	case q.esc:
		q.esc = false
		return quoting
	case ch == '\\' && q.in:
		q.esc = true
		return quoting
	case ch == '"':
		q.in = !q.in
		return quoting
	case q.in:
		return inside
	}
	return outside
}

// splitPath takes "<path> params" (the text after "FROM:" or "TO:") and
// returns the path without brackets and the parameter text. The closing
// bracket is searched outside quoted strings, so "<\"a>b\"@x>" is one
// path (security-anchors D5 is the client side of this).
func splitPath(s string) (path, rest string, err error) {
	// RFC 5321 has no space after the colon; many clients send one and
	// Postfix accepts it, so a practice server does too.
	s = strings.TrimLeft(s, " ")
	if !strings.HasPrefix(s, "<") {
		return "", "", errors.New("address must be in angle brackets")
	}
	var q quoted
	for i := 1; i < len(s); i++ {
		if ch := s[i]; q.next(ch) == outside && ch == '>' {
			rest = s[i+1:]
			if rest != "" && rest[0] != ' ' {
				return "", "", errors.New("text after the closing bracket")
			}
			return s[1:i], strings.TrimSpace(rest), nil
		}
	}
	return "", "", errors.New("no closing bracket")
}

// checkMailbox validates a path (RFC 5321 §4.1.2), ignoring a source
// route as §4.1.2 and appendix C require, and returns the mailbox.
func checkMailbox(p string) (string, error) {
	if strings.HasPrefix(p, "@") {
		i := strings.IndexByte(p, ':')
		if i < 0 {
			return "", errors.New("bad source route")
		}
		p = p[i+1:]
	}
	at := -1
	var q quoted
	for i := 0; i < len(p); i++ {
		ch := p[i]
		switch where := q.next(ch); {
		case where == outside && ch == '@':
			at = i
		case where == outside && (ch <= ' ' || ch == 0x7f):
			return "", fmt.Errorf("control or space character 0x%02x", ch)
		case where == inside && (ch < ' ' && ch != '\t' || ch == 0x7f):
			return "", fmt.Errorf("control character 0x%02x", ch)
		}
	}
	if q.in {
		return "", errors.New("unterminated quoted string")
	}
	if at <= 0 || at == len(p)-1 {
		return "", errors.New("expected local-part@domain")
	}
	local, domain := p[:at], p[at+1:]
	// RFC 5321 §4.5.3.1.1 and §4.5.3.1.2.
	if len(local) > 64 {
		return "", errors.New("local part longer than 64 octets")
	}
	if len(domain) > 255 {
		return "", errors.New("domain longer than 255 octets")
	}
	if !strings.HasPrefix(local, `"`) {
		for _, atom := range strings.Split(local, ".") {
			if atom == "" {
				return "", errors.New("empty atom in local part")
			}
			for i := 0; i < len(atom); i++ {
				if !isAtext(atom[i]) {
					return "", fmt.Errorf("character %q not allowed in local part", atom[i])
				}
			}
		}
	} else if len(local) < 2 || !strings.HasSuffix(local, `"`) {
		return "", errors.New("bad quoted local part")
	}
	if strings.HasPrefix(domain, "[") {
		if !strings.HasSuffix(domain, "]") || len(domain) < 3 {
			return "", errors.New("bad address literal")
		}
		return p, nil
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return "", errors.New("bad domain label")
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch >= 0x80) {
				return "", fmt.Errorf("character %q not allowed in domain", ch)
			}
		}
	}
	return p, nil
}

// isAtext is RFC 5322 atext, plus UTF-8 bytes for RFC 6531.
func isAtext(ch byte) bool {
	switch {
	case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", ch) >= 0
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// param is one esmtp-param (RFC 5321 §4.1.2): keyword[=value].
type param struct {
	raw, key, value string
	hasValue        bool
}

func parseParams(s string) ([]param, error) {
	var out []param
	seen := map[string]bool{}
	for _, f := range strings.Fields(s) {
		k, v, has := strings.Cut(f, "=")
		if k == "" || !isKeyword(k) {
			return nil, fmt.Errorf("bad parameter %q", f)
		}
		if has && v == "" {
			return nil, fmt.Errorf("empty value in %q", f)
		}
		uk := strings.ToUpper(k)
		if seen[uk] {
			return nil, fmt.Errorf("duplicate parameter %s", uk)
		}
		seen[uk] = true
		out = append(out, param{raw: f, key: uk, value: v, hasValue: has})
	}
	return out, nil
}

func isKeyword(k string) bool {
	for i := 0; i < len(k); i++ {
		ch := k[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		if !alnum && (i == 0 || ch != '-') {
			return false
		}
	}
	return true
}

// isXtext checks RFC 3461 §4 xtext: printable ASCII except "+" and "=",
// with "+HH" (upper-case hex) escapes.
func isXtext(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '+':
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				return false
			}
			i += 2
		case ch < '!' || ch > '~' || ch == '=':
			return false
		}
	}
	return true
}

func isUpperHex(ch byte) bool { return ch >= '0' && ch <= '9' || ch >= 'A' && ch <= 'F' }

func isFullMailbox(addr string) bool {
	return strings.EqualFold(localPart(addr), "full")
}

// localPart is a mailbox's local part: what comes before its last '@' (a
// quoted local part may hold one), or the whole of an address without.
func localPart(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[:at]
	}
	return addr
}

package lesson

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Check is one check: line of a lesson, parsed. It matches when any of its
// alternatives ("A or B") does.
type Check struct {
	src  string
	alts []cond
}

// String is the check as written.
func (c Check) String() string { return c.src }

// cond is one condition. Conditions about what happened look at the
// records since the step began; tls and auth look at the state now.
type cond struct {
	what string // reply, sent, greeted, tls, plain, auth, closed, extension, recipients, delivered, payload, error
	verb string
	code string // "250", "5xx", "*"
	enh  string
	tls  int // 0 either, 1 inside TLS, -1 in clear text
	ok   int
	bad  int
	arg  string // extension keyword; payload text
	mode string // payload: prefix or contains
}

var condNames = []string{"reply", "sent", "greeted", "tls", "plain", "auth", "closed", "extension", "recipients", "delivered", "payload", "error"}

// ParseCheck reads a check as a lesson's check: and wrong: lines write it.
func ParseCheck(s string) (Check, error) {
	c := Check{src: strings.TrimSpace(s)}
	var words []string
	for _, w := range append(strings.Fields(c.src), "or") {
		if w != "or" {
			words = append(words, w)
			continue
		}
		d, err := parseCond(words)
		if err != nil {
			return Check{}, err
		}
		c.alts, words = append(c.alts, d), nil
	}
	return c, nil
}

func parseCond(f []string) (cond, error) {
	if len(f) == 0 {
		return cond{}, errors.New("an empty condition")
	}
	d := cond{what: f[0]}
	args := f[1:]
	switch d.what {
	case "reply", "sent":
		if len(args) < 1 || (d.what == "reply" && len(args) < 2) {
			return d, fmt.Errorf("want %s VERB%s", d.what, map[bool]string{true: " CODE", false: ""}[d.what == "reply"])
		}
		d.verb, args = strings.ToUpper(args[0]), args[1:]
		if d.what == "reply" {
			if !codePattern(args[0]) {
				return d, fmt.Errorf("reply code %q: want three digits, x for any digit (5xx), or *", args[0])
			}
			d.code, args = strings.ToLower(args[0]), args[1:]
		}
		return d, d.options(args, "tls", "plain", "enhanced=")
	case "greeted", "tls", "plain", "auth", "closed":
		return d, d.options(args)
	case "extension":
		if len(args) != 1 {
			return d, errors.New("want extension KEYWORD")
		}
		d.arg = strings.ToUpper(args[0])
		return d, nil
	case "recipients", "delivered":
		if d.what == "delivered" && len(args) == 0 {
			d.ok = 1
		}
		return d, d.options(args, "ok=", "refused=")
	case "error":
		if len(args) == 0 {
			return d, errors.New("want error TEXT")
		}
		d.arg = strings.ToLower(strings.Join(args, " "))
		return d, nil
	case "payload":
		if len(args) != 1 || (!strings.HasPrefix(args[0], "prefix=") && !strings.HasPrefix(args[0], "contains=")) {
			return d, errors.New("want payload prefix=TEXT or payload contains=TEXT")
		}
		d.mode, d.arg, _ = strings.Cut(args[0], "=")
		if d.arg == "" {
			return d, errors.New("payload: empty TEXT")
		}
		return d, nil
	}
	return d, fmt.Errorf("unknown condition %q (known: %s)", d.what, strings.Join(condNames, ", "))
}

// options reads the optional words after a condition.
func (d *cond) options(args []string, allowed ...string) error {
	for _, a := range args {
		key, val, hasVal := strings.Cut(a, "=")
		if hasVal {
			key += "="
		}
		known := false
		for _, k := range allowed {
			known = known || k == key
		}
		if !known {
			return fmt.Errorf("%s: unknown option %q", d.what, a)
		}
		var err error
		switch key {
		case "tls":
			d.tls = 1
		case "plain":
			d.tls = -1
		case "enhanced=":
			d.enh = val
		case "ok=":
			d.ok, err = count(val)
		case "refused=":
			d.bad, err = count(val)
		}
		if err != nil {
			return fmt.Errorf("%s: %s: %v", d.what, a, err)
		}
	}
	return nil
}

func count(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1000 {
		return 0, errors.New("want a number from 0 to 1000")
	}
	return n, nil
}

func codePattern(p string) bool {
	if p == "*" {
		return true
	}
	if len(p) != 3 || p[0] < '2' || p[0] > '5' {
		return false
	}
	for _, c := range p[1:] {
		if (c < '0' || c > '9') && c != 'x' && c != 'X' {
			return false
		}
	}
	return true
}

func codeMatches(p string, code int) bool {
	if p == "*" {
		return true
	}
	s := strconv.Itoa(code)
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if p[i] != 'x' && p[i] != s[i] {
			return false
		}
	}
	return true
}

// scan is how far a condition has read the records, and what it found:
// conditions about what happened hold once they have held (a reply that
// came stays come), so each record is read once per step, not at every
// event.
type scan struct {
	pos          int  // the next record to read
	hit          bool // the condition has held
	ok, bad, msg int  // recipients and delivered: the counts so far
}

// scans keeps a scan per condition, from one starting record.
type scans struct {
	from int
	m    map[*cond]*scan
}

func (ss *scans) reset(from int) { ss.from, ss.m = from, nil }

// shift follows the records' indexes down when the trail drops n.
func (ss *scans) shift(n int) {
	ss.from = max(0, ss.from-n)
	for _, sc := range ss.m {
		sc.pos = max(0, sc.pos-n)
	}
}

func (ss *scans) of(d *cond) *scan {
	if ss.m == nil {
		ss.m = map[*cond]*scan{}
	}
	sc, ok := ss.m[d]
	if !ok {
		sc = &scan{pos: ss.from}
		ss.m[d] = sc
	}
	return sc
}

// matches says whether c holds for the records since ss began, and the
// state now.
func (c *Check) matches(t *trail, ss *scans) bool {
	for i := range c.alts {
		if c.alts[i].matches(t, ss.of(&c.alts[i])) {
			return true
		}
	}
	return false
}

func (d *cond) matches(t *trail, sc *scan) bool {
	switch d.what {
	case "tls":
		return t.state.TLS
	case "plain":
		return t.state.Phase > 0 && !t.state.TLS
	case "auth":
		return t.state.Authenticated
	case "extension":
		_, ok := t.exts[d.arg]
		return ok
	}
	for ; !sc.hit && sc.pos < len(t.records); sc.pos++ {
		r := t.records[sc.pos]
		switch d.what {
		case "recipients":
			sc.hit = d.recipient(r, sc)
		case "delivered":
			sc.hit = d.delivery(r, sc)
		default:
			sc.hit = d.one(r)
		}
	}
	return sc.hit
}

// one says whether a single record satisfies d.
func (d *cond) one(r record) bool {
	tlsOK := d.tls == 0 || (d.tls == 1) == r.tls
	switch d.what {
	case "greeted":
		return r.kind == kindGreeting && r.code == 220
	case "closed":
		return r.kind == kindClose
	case "sent":
		return r.kind == kindSent && (d.verb == "*" || d.verb == r.verb) && tlsOK
	case "reply":
		if r.kind != kindReply && !(r.kind == kindUnsolicited && d.verb == "*") {
			return false
		}
		return (d.verb == "*" || d.verb == r.verb) && codeMatches(d.code, r.code) && tlsOK && (d.enh == "" || d.enh == r.enh)
	case "error":
		return r.kind == kindError && strings.Contains(strings.ToLower(r.payload), d.arg)
	case "payload":
		if r.kind != kindPayload {
			return false
		}
		if d.mode == "prefix" {
			return strings.HasPrefix(r.payload, d.arg)
		}
		return strings.Contains(r.payload, d.arg)
	}
	return false
}

// recipient reads one record for "recipients": one transaction (from an
// accepted MAIL) with at least ok recipients accepted and bad refused.
func (d *cond) recipient(r record, sc *scan) bool {
	switch {
	case r.kind == kindGreeting || (r.kind == kindReply && r.verb == "MAIL" && r.code/100 == 2):
		sc.ok, sc.bad = 0, 0
	case r.kind == kindReply && r.verb == "RCPT" && r.code/100 == 2:
		sc.ok++
	case r.kind == kindReply && r.verb == "RCPT" && r.code >= 400:
		sc.bad++
	}
	return (sc.ok > 0 || sc.bad > 0) && sc.ok >= d.ok && sc.bad >= d.bad
}

// delivery reads one record for "delivered": one message whose end got at
// least ok replies that accept it and bad that refuse it (LMTP answers
// once per recipient).
func (d *cond) delivery(r record, sc *scan) bool {
	if r.kind != kindReply || r.verb != "." {
		return false
	}
	if r.msg != sc.msg {
		sc.ok, sc.bad, sc.msg = 0, 0, r.msg
	}
	if r.code/100 == 2 {
		sc.ok++
	} else if r.code >= 400 {
		sc.bad++
	}
	return sc.ok >= d.ok && sc.bad >= d.bad
}

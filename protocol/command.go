package protocol

import (
	"fmt"
	"strings"
)

// This file is the command path: every line the client writes outside
// message content, whether a method built it, the user typed it (Raw) or a
// pipelined group carries it, is split by SplitCommand, encoded by
// encodeLine and, once answered, observed by observe. Nothing else decides
// what a verb is, what may go on the wire or how a reply moves the state.

// Command-line limits in octets, CRLF included. RFC 5321 §4.5.3.1.4 gives
// a command line 512; extensions raise it for the commands they add to:
// SIZE (RFC 1870) 26 and the DSN parameters (RFC 3461 §4) 100 on MAIL, AUTH=
// (RFC 4954 §5) 500 on MAIL, ORCPT and NOTIFY 500 on RCPT. An AUTH command
// and the answers to its challenges may be 12288 (RFC 4954 §4).
const (
	MaxCommandLine = 512
	MaxMailLine    = MaxCommandLine + 26 + 100 + 500
	MaxRcptLine    = MaxCommandLine + 500
	MaxAuthLine    = 12288
)

// SplitCommand splits a command line as a server reads it: white space
// (SP or HTAB) before the verb is skipped, the verb ends at the first SP or
// HTAB, and the arguments are the rest with the white space before them
// skipped. The verb is returned in upper case. A line ending, if any, is
// left in args; callers pass a line without it.
//
// It is the one tokenizer of the module: the client, the live session,
// the redaction of logs and recordings and the composer's history all use
// it, so that "AUTH\tLOGIN" or " AUTH PLAIN …" is AUTH to every one of
// them as it is to the server.
func SplitCommand(line string) (verb, args string) {
	verb, args = cutVerb(line)
	return strings.ToUpper(verb), args
}

// cutVerb is SplitCommand without the change of case, which allocates:
// the encoder and the reducer compare with knownVerb instead.
func cutVerb(line string) (verb, args string) {
	line = trimSMTPSpace(line)
	end := strings.IndexAny(line, " \t")
	if end < 0 {
		return line, ""
	}
	return line[:end], trimSMTPSpace(line[end:])
}

// knownVerb returns, in upper case, a verb whose rules the encoder or the
// reducer apply, and "" for any other.
func knownVerb(v string) string {
	for _, k := range [...]string{"MAIL", "RCPT", "RSET", "DATA", "AUTH", "VRFY", "EXPN", "EHLO", "LHLO", "HELO", "STARTTLS", "QUIT"} {
		if strings.EqualFold(v, k) {
			return k
		}
	}
	return ""
}

func trimSMTPSpace(s string) string { return strings.TrimLeft(s, " \t") }

// AuthCommand says whether line is an AUTH command and, if so, returns its
// mechanism (upper case) and the byte range of its initial response within
// line: everything after the mechanism and the white space that follows
// it, to the end of the line. The range is empty when there is no initial
// response.
//
// It is the one place that decides which part of a typed AUTH line is a
// secret: the initial response is, unless it is "=", RFC 4954's empty
// response (see IsSecretResponse). Every line that answers a 334 challenge
// is a secret too; that needs the conversation, so each caller follows it.
func AuthCommand(line string) (mech string, ir Span, ok bool) {
	verb, args := SplitCommand(line)
	if verb != "AUTH" {
		return "", Span{}, false
	}
	m, rest := SplitCommand(args)
	start := len(line) - len(rest)
	if rest == "" {
		start = len(line)
	}
	return m, Span{Start: start, End: len(line)}, true
}

// IsSecretResponse says whether an initial response, as AuthCommand found
// it, carries a credential: anything but nothing and "=" (RFC 4954's empty
// response).
func IsSecretResponse(ir string) bool {
	ir = strings.TrimRight(ir, " \t")
	return ir != "" && ir != "="
}

// lineKind says what rules a line is encoded with.
type lineKind int

const (
	lineCommand  lineKind = iota // a command: verb and arguments
	lineResponse                 // an answer to a 334 challenge (or "*")
)

// encodeLine is the one encoder every command line goes through, and
// appends the line and its CRLF to dst. It refuses, before anything is
// written:
//
//   - CR, LF or NUL anywhere (ValidateLine): they would end the command
//     early and start another;
//   - anything but ASCII unless SMTPUTF8 allows it: the transaction's MAIL
//     carried the SMTPUTF8 parameter, or the command itself does (RFC 6531
//     §3.4);
//   - a line longer than its limit (MaxCommandLine and the others).
//
// Then it applies what sending the command means for the encoding of the
// next: RSET ends UTF-8 mode, a MAIL with SMTPUTF8 starts it. A pipelined
// group is encoded line by line in order, so a RCPT after its MAIL in the
// same write is judged by that MAIL.
func (c *Client) encodeLine(dst []byte, line string, kind lineKind) ([]byte, error) {
	if err := c.admit(line, kind); err != nil {
		return dst, err
	}
	return append(append(dst, line...), CRLF...), nil
}

// admit is encodeLine without the bytes: the checks, then the change of
// encoding state the command makes.
func (c *Client) admit(line string, kind lineKind) error {
	if err := ValidateLine(line); err != nil {
		return err
	}
	verb, args := "", ""
	limit := MaxAuthLine
	if kind == lineCommand {
		verb, args = cutVerb(line)
		verb = knownVerb(verb)
		limit = lineLimit(verb)
	}
	utf8 := c.utf8 || commandSMTPUTF8(verb, args)
	if verb == "RSET" {
		utf8 = false
	}
	if !utf8 && !isASCII(line) {
		return &ValueError{Msg: "command contains non-ASCII characters; they need the SMTPUTF8 option (RFC 6531): give MAIL the SMTPUTF8 parameter"}
	}
	if n := len(line) + len(CRLF); n > limit {
		// The verb is named only when it is one the limit depends on: an
		// unknown one may be a password typed on the wrong line.
		what := "the command line"
		switch {
		case kind == lineResponse:
			what = "the answer to the AUTH challenge"
		case limit != MaxCommandLine:
			what = "the " + verb + " line"
		}
		return &ValueError{Msg: fmt.Sprintf("%s is %d octets long with its CRLF; the limit is %d (%s)", what, n, limit, limitRFC(verb, kind))}
	}
	switch verb {
	case "RSET":
		c.utf8 = false
	case "MAIL":
		c.utf8 = utf8
	}
	return nil
}

// encodeGroup encodes the lines of one pipelined write in order. On an
// error nothing is written and the encoding state is as it was.
func (c *Client) encodeGroup(dst []byte, lines []string) ([]byte, error) {
	utf8 := c.utf8
	for _, l := range lines {
		var err error
		if dst, err = c.encodeLine(dst, l, lineCommand); err != nil {
			c.utf8 = utf8
			return dst, err
		}
	}
	return dst, nil
}

// envelopeLines builds a transaction's MAIL and RCPT lines and runs them
// through the encoder without sending, so that a line the encoder would
// refuse stops the transaction before its MAIL is written, whichever
// engine then sends them.
func (c *Client) envelopeLines(from string, to []string, opts, rcptOpts []string) ([]string, error) {
	mail, err := c.mailLine(from, opts)
	if err != nil {
		return nil, err
	}
	lines := append(make([]string, 0, 1+len(to)), mail)
	for _, rcpt := range to {
		l, err := c.rcptLine(rcpt, rcptOpts)
		if err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	utf8 := c.utf8
	defer func() { c.utf8 = utf8 }()
	for _, l := range lines {
		if err := c.admit(l, lineCommand); err != nil {
			return nil, err
		}
	}
	return lines, nil
}

// lineLimit is the longest line a verb may have, CRLF included.
func lineLimit(verb string) int {
	switch verb {
	case "MAIL":
		return MaxMailLine
	case "RCPT":
		return MaxRcptLine
	case "AUTH":
		return MaxAuthLine
	}
	return MaxCommandLine
}

func limitRFC(verb string, kind lineKind) string {
	switch {
	case kind == lineResponse || verb == "AUTH":
		return "RFC 4954 §4"
	case verb == "MAIL" || verb == "RCPT":
		return "RFC 5321 §4.5.3.1.4 with the ESMTP extensions' allowances"
	}
	return "RFC 5321 §4.5.3.1.4"
}

// commandSMTPUTF8 says whether a command carries the SMTPUTF8 parameter:
// among MAIL's ESMTP parameters, after the path (the text "SMTPUTF8" in
// the address does not count), or after the argument of VRFY and EXPN
// (RFC 6531 §3.7.4).
func commandSMTPUTF8(verb, args string) bool {
	var params string
	switch verb {
	case "MAIL":
		params = mailParams(args)
	case "VRFY", "EXPN":
		_, params = cutVerb(args)
	default:
		return false
	}
	for params != "" {
		var p string
		p, params = cutVerb(params)
		if strings.EqualFold(p, "SMTPUTF8") {
			return true
		}
	}
	return false
}

// mailParams returns the ESMTP parameters of MAIL's arguments
// ("FROM:<path> PARAMS"): what follows the closing '>' of the path, or,
// for a path written without brackets, what follows the first white space
// after the colon. A quoted local part may hold '>' and spaces.
func mailParams(args string) string {
	_, path, ok := strings.Cut(args, ":")
	if !ok {
		return ""
	}
	path = trimSMTPSpace(path)
	if strings.HasPrefix(path, "<") {
		if gt := indexUnquoted(path, 1, len(path), '>'); gt >= 0 {
			return path[gt+1:]
		}
		return ""
	}
	if i := strings.IndexAny(path, " \t"); i >= 0 {
		return path[i:]
	}
	return ""
}

// sentCmd is a command as observe sees it.
type sentCmd struct {
	verb, args string
	// rcpt is the recipient of a RCPT as the caller named it, which LMTP's
	// per-recipient replies report; empty for a raw RCPT, whose path is
	// taken from args.
	rcpt string
}

// commandOf is a line as observe sees it. Only the verbs observe acts on
// are kept; any other is "", which observe ignores.
func commandOf(line string) sentCmd {
	v, a := cutVerb(line)
	return sentCmd{verb: knownVerb(v), args: a}
}

// observe is the one state reducer: what a reply to a command means for
// the client's knowledge of the conversation, whichever path sent the
// command (a method, Raw, a pipelined group). STARTTLS, QUIT and AUTH's
// challenges need more than state and are handled by their callers.
func (c *Client) observe(cmd sentCmd, r Reply) {
	switch cmd.verb {
	case "EHLO", "LHLO":
		msg := r.Message
		c.ehloResp = &msg
		c.features, c.extensions = map[string]string{}, nil
		if r.Code == 250 {
			c.doesESMTP = true
			c.features, c.extensions = ParseEHLO(r.Message)
			if _, ok := c.features["starttls"]; ok && c.tlsOn {
				c.note("server re-advertised STARTTLS inside TLS (RFC 3207 violation); ignored")
			}
			c.setPhase(PhaseHello)
		}
	case "HELO":
		msg := r.Message
		c.heloResp = &msg
		if r.Code/100 == 2 {
			c.setPhase(PhaseHello)
		}
	case "MAIL":
		c.observeMail(cmd, r)
	case "RCPT":
		if r.Code == 250 || r.Code == 251 {
			if cmd.rcpt == "" {
				cmd.rcpt = rawPath(cmd.args)
			}
			c.accepted = append(c.accepted, cmd.rcpt)
			c.state.Phase = PhaseRcpt
			c.state.Recipients++
			c.traceState()
		}
	case "RSET":
		c.utf8 = false
		if r.Code == 250 {
			c.endTransaction()
		}
	case "AUTH":
		c.authAfter(r)
	case "DATA":
		if r.Code == 354 {
			c.setPhase(PhaseData)
		}
	}
}

// observeMail: a 250 opens a transaction, in UTF-8 mode when the MAIL
// carried SMTPUTF8; a refusal leaves no transaction open, so no UTF-8 mode
// either, unless one was open already (a nested MAIL refused with 503).
func (c *Client) observeMail(cmd sentCmd, r Reply) {
	if r.Code != 250 {
		if c.state.Phase < PhaseMail {
			c.utf8 = false
		}
		return
	}
	c.utf8 = commandSMTPUTF8("MAIL", cmd.args)
	c.state.Phase, c.state.Recipients = PhaseMail, 0
	c.accepted = c.accepted[:0]
	c.traceState()
}

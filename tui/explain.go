package tui

import (
	"strconv"
	"strings"
)

// explanation says what one server reply line means, for workshops: the
// reply code's class and meaning (RFC 5321 §4.2), the enhanced status
// code's (RFC 3463), anything malformed about either, and where to read
// more. It is built from the line's text only and never echoes it, so it
// needs no sanitizing of its own beyond the Enhanced field, which is
// digits and dots by construction.
type explanation struct {
	Code    int    // the reply code, 0 if the line has none
	Class   string // "2xx positive completion: …"
	Meaning string // what this code means, for the command it answers
	// Enhanced is the RFC 3463 code found at the start of the text,
	// "5.1.1"; EnhancedMeaning says what its class, subject and detail
	// mean.
	Enhanced        string
	EnhancedMeaning string
	// Problems are what is wrong with the line: no valid code, a
	// malformed enhanced code, a class that disagrees with the reply code.
	Problems []string
	RFC      string // where to read more: "RFC 5321 §4.2.3"
}

// replyContext is what the explainer knows about the exchange a reply
// belongs to.
type replyContext struct {
	Verb verb // the command the reply answers
	LMTP bool // the session is LMTP (RFC 2033)
}

// explain explains one server line (without its line ending).
func explain(line string, ctx replyContext) explanation {
	var e explanation
	if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) {
		e.Problems = append(e.Problems, "no reply code: a reply line starts with three digits (RFC 5321 §4.2)")
		return e
	}
	if len(line) > 3 && line[3] != ' ' && line[3] != '-' {
		e.Problems = append(e.Problems, "the code must be followed by a space, a hyphen or the end of the line (RFC 5321 §4.2)")
	}
	e.Code, _ = strconv.Atoi(line[:3])
	first := line[0] - '0'
	second := line[1] - '0'
	switch first {
	case 2:
		e.Class = "2xx positive completion: the command succeeded"
	case 3:
		e.Class = "3xx positive intermediate: go on, the server waits for more"
	case 4:
		e.Class = "4xx transient failure: not now, try again later"
	case 5:
		e.Class = "5xx permanent failure: do not repeat this unchanged"
	default:
		e.Problems = append(e.Problems, "the first digit must be 2, 3, 4 or 5 (RFC 5321 §4.2.1)")
	}
	if second > 5 {
		e.Problems = append(e.Problems, "the second digit must be 0 to 5 (RFC 5321 §4.2.1)")
	}
	e.Meaning, e.RFC = codeMeaning(e.Code, ctx)
	if e.Meaning == "" {
		e.Meaning = secondDigit[min(int(second), len(secondDigit)-1)]
	}
	if len(line) > 4 {
		e.enhanced(strings.TrimLeft(line[4:], " "), first)
	}
	return e
}

// secondDigit is RFC 5321 §4.2.1's meaning of the middle digit, for codes
// the tables do not name.
var secondDigit = []string{
	"x0x: syntax",
	"x1x: information",
	"x2x: the transmission channel",
	"x3x: unspecified",
	"x4x: unspecified",
	"x5x: the mail system",
	"not a defined category",
}

// enhanced reads an RFC 3463 status code at the start of text. Only a
// token of digits and dots is considered one, so "250 mx.example.com" is
// not flagged, while "250 2.1" and "550 5.1.1.1" are.
func (e *explanation) enhanced(text string, class byte) {
	tok, _, _ := strings.Cut(text, " ")
	if tok == "" || !isDigit(tok[0]) || !strings.Contains(tok, ".") || strings.Trim(tok, "0123456789.") != "" {
		return
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		e.Problems = append(e.Problems, "malformed enhanced status code "+tok+": RFC 3463 wants class.subject.detail")
		return
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 {
			e.Problems = append(e.Problems, "malformed enhanced status code "+tok+": subject and detail are 1 to 3 digits (RFC 3463 §2)")
			return
		}
		if len(p) > 1 && p[0] == '0' {
			e.Problems = append(e.Problems, "enhanced status code "+tok+" has a leading zero (RFC 3463 §2)")
		}
	}
	e.Enhanced = tok
	c := parts[0]
	if c != "2" && c != "4" && c != "5" {
		e.Problems = append(e.Problems, "enhanced status class "+c+" does not exist: only 2, 4 and 5 (RFC 3463 §3.1)")
		return
	}
	if c[0]-'0' != class {
		if class == 3 {
			e.Problems = append(e.Problems, "a 3xx reply carries no enhanced status code (RFC 3463 defines classes 2, 4 and 5 only)")
		} else {
			e.Problems = append(e.Problems, "class mismatch: reply "+strconv.Itoa(e.Code)+" but enhanced code "+tok+" (RFC 3463 §2: the classes must agree)")
		}
	}
	subj, _ := strconv.Atoi(parts[1])
	det, _ := strconv.Atoi(parts[2])
	e.EnhancedMeaning = enhancedMeaning(c, subj, det)
}

var enhancedClass = map[string]string{
	"2": "success",
	"4": "persistent transient failure",
	"5": "permanent failure",
}

// enhancedSubject is RFC 3463 §3's subject sub-codes.
var enhancedSubject = map[int]string{
	0: "other or undefined status",
	1: "addressing status",
	2: "mailbox status",
	3: "mail system status",
	4: "network and routing status",
	5: "mail delivery protocol status",
	6: "message content or media status",
	7: "security or policy status",
}

// enhancedDetail is X.subject.detail as registered by RFC 3463 and its
// updates (RFC 4954, 5248, 6531, 6710, 7293, 7372, 7505), with the RFC
// that defines each.
var enhancedDetail = map[[2]int]struct{ text, rfc string }{
	{0, 0}:  {"other undefined status", "RFC 3463"},
	{1, 0}:  {"other address status", "RFC 3463"},
	{1, 1}:  {"bad destination mailbox address: no such user here", "RFC 3463"},
	{1, 2}:  {"bad destination system address: no such host or domain", "RFC 3463"},
	{1, 3}:  {"bad destination mailbox address syntax", "RFC 3463"},
	{1, 4}:  {"destination mailbox address ambiguous", "RFC 3463"},
	{1, 5}:  {"destination address valid", "RFC 3463"},
	{1, 6}:  {"destination mailbox has moved, no forwarding address", "RFC 3463"},
	{1, 7}:  {"bad sender's mailbox address syntax", "RFC 3463"},
	{1, 8}:  {"bad sender's system address", "RFC 3463"},
	{1, 10}: {"recipient address has null MX", "RFC 7505"},
	{2, 0}:  {"other or undefined mailbox status", "RFC 3463"},
	{2, 1}:  {"mailbox disabled, not accepting messages", "RFC 3463"},
	{2, 2}:  {"mailbox full", "RFC 3463"},
	{2, 3}:  {"message length exceeds administrative limit", "RFC 3463"},
	{2, 4}:  {"mailing list expansion problem", "RFC 3463"},
	{3, 0}:  {"other or undefined mail system status", "RFC 3463"},
	{3, 1}:  {"mail system full", "RFC 3463"},
	{3, 2}:  {"system not accepting network messages", "RFC 3463"},
	{3, 3}:  {"system not capable of selected features", "RFC 3463"},
	{3, 4}:  {"message too big for system", "RFC 3463"},
	{3, 5}:  {"system incorrectly configured", "RFC 3463"},
	{3, 6}:  {"requested priority was changed", "RFC 6710"},
	{4, 0}:  {"other or undefined network or routing status", "RFC 3463"},
	{4, 1}:  {"no answer from host", "RFC 3463"},
	{4, 2}:  {"bad connection", "RFC 3463"},
	{4, 3}:  {"directory server failure", "RFC 3463"},
	{4, 4}:  {"unable to route", "RFC 3463"},
	{4, 5}:  {"mail system congestion", "RFC 3463"},
	{4, 6}:  {"routing loop detected", "RFC 3463"},
	{4, 7}:  {"delivery time expired", "RFC 3463"},
	{5, 0}:  {"other or undefined protocol status", "RFC 3463"},
	{5, 1}:  {"invalid command", "RFC 3463"},
	{5, 2}:  {"syntax error", "RFC 3463"},
	{5, 3}:  {"too many recipients", "RFC 3463"},
	{5, 4}:  {"invalid command arguments", "RFC 3463"},
	{5, 5}:  {"wrong protocol version", "RFC 3463"},
	{5, 6}:  {"authentication exchange line is too long", "RFC 4954"},
	{6, 0}:  {"other or undefined media error", "RFC 3463"},
	{6, 1}:  {"media not supported", "RFC 3463"},
	{6, 2}:  {"conversion required and prohibited", "RFC 3463"},
	{6, 3}:  {"conversion required but not supported", "RFC 3463"},
	{6, 4}:  {"conversion with loss performed", "RFC 3463"},
	{6, 5}:  {"conversion failed", "RFC 3463"},
	{6, 7}:  {"non-ASCII addresses not permitted for that sender or recipient", "RFC 6531"},
	{6, 8}:  {"UTF-8 string reply is required, but not permitted by the client", "RFC 6531"},
	{6, 9}:  {"UTF-8 header message cannot be transferred to one or more recipients", "RFC 6531"},
	{7, 0}:  {"other or undefined security status", "RFC 3463"},
	{7, 1}:  {"delivery not authorized, message refused", "RFC 3463"},
	{7, 2}:  {"mailing list expansion prohibited", "RFC 3463"},
	{7, 3}:  {"security conversion required but not possible", "RFC 3463"},
	{7, 4}:  {"security features not supported", "RFC 3463"},
	{7, 5}:  {"cryptographic failure", "RFC 3463"},
	{7, 6}:  {"cryptographic algorithm not supported", "RFC 3463"},
	{7, 7}:  {"message integrity failure", "RFC 3463"},
	{7, 8}:  {"authentication credentials invalid", "RFC 4954"},
	{7, 9}:  {"authentication mechanism is too weak", "RFC 4954"},
	{7, 10}: {"encryption needed", "RFC 5248"},
	{7, 11}: {"encryption required for requested authentication mechanism", "RFC 4954"},
	{7, 12}: {"a password transition is needed", "RFC 4954"},
	{7, 13}: {"user account disabled", "RFC 5248"},
	{7, 14}: {"trust relationship required", "RFC 5248"},
	{7, 15}: {"priority level is too low", "RFC 6710"},
	{7, 16}: {"message is too big for the specified priority", "RFC 6710"},
	{7, 17}: {"mailbox owner has changed", "RFC 7293"},
	{7, 18}: {"domain owner has changed", "RFC 7293"},
	{7, 19}: {"RRVS test cannot be completed", "RFC 7293"},
	{7, 20}: {"no passing DKIM signature found", "RFC 7372"},
	{7, 21}: {"no acceptable DKIM signature found", "RFC 7372"},
	{7, 22}: {"no valid author-matched DKIM signature found", "RFC 7372"},
	{7, 23}: {"SPF validation failed", "RFC 7372"},
	{7, 24}: {"SPF validation error", "RFC 7372"},
	{7, 25}: {"reverse DNS validation failed", "RFC 7372"},
	{7, 26}: {"multiple authentication checks failed", "RFC 7372"},
	{7, 27}: {"sender address has null MX", "RFC 7505"},
}

func enhancedMeaning(class string, subj, det int) string {
	s := enhancedClass[class]
	subject, ok := enhancedSubject[subj]
	if !ok {
		return s + "; subject " + strconv.Itoa(subj) + " is not defined (RFC 3463 §3)"
	}
	if d, ok := enhancedDetail[[2]int{subj, det}]; ok {
		return s + "; " + subject + ": " + d.text + " (" + d.rfc + ")"
	}
	return s + "; " + subject + ": detail " + strconv.Itoa(det) + " not registered"
}

// codeMeaning says what code means in answer to ctx.Verb, and where that is
// specified: RFC 3207 for STARTTLS, RFC 4954 for AUTH, RFC 2033 for LMTP's
// LHLO and end of data, RFC 5321 for the rest.
func codeMeaning(code int, ctx replyContext) (meaning, rfc string) {
	if ctx.Verb == verbDataEnd {
		if m, ok := dataEndMeaning(code, ctx.LMTP); ok {
			return m.meaning, m.rfc
		}
	}
	if m, ok := verbMeanings[ctx.Verb][code]; ok {
		return m.meaning, m.rfc
	}
	if m, ok := codeTable[code]; ok {
		return m, codeRFC(code)
	}
	return "", "RFC 5321 §4.2.1"
}

// meaningRef is what a reply code means and the section that says so.
type meaningRef struct{ meaning, rfc string }

// dataEndMeaning explains the reply after the message: LMTP's one reply
// per accepted recipient, or a refusal after the data.
func dataEndMeaning(code int, lmtp bool) (meaningRef, bool) {
	if lmtp {
		switch code / 100 {
		case 2:
			return meaningRef{"delivered to one recipient: LMTP sends one reply per accepted RCPT, in order", "RFC 2033 §4.2"}, true
		case 4, 5:
			return meaningRef{"not delivered to one recipient: LMTP sends one reply per accepted RCPT, in order", "RFC 2033 §4.2"}, true
		}
	}
	switch code {
	case 451, 452, 552, 554:
		return meaningRef{codeTable[code] + " (after the message: it was not accepted)", "RFC 5321 §4.2.5"}, true
	}
	return meaningRef{}, false
}

// verbMeanings is what a code means in answer to a given command, where
// that says more than RFC 5321 §4.2.2's general table.
var verbMeanings = map[verb]map[int]meaningRef{
	verbSTARTTLS: {
		220: {"ready to start TLS: the client begins the handshake now", "RFC 3207 §4"},
		454: {"TLS not available due to a temporary reason", "RFC 3207 §4"},
		501: {"syntax error: STARTTLS takes no parameters", "RFC 3207 §4"},
	},
	verbAUTH: {
		235: {"authentication succeeded", "RFC 4954 §6"},
		334: {"server challenge: base64 text; answer in base64, or * to cancel", "RFC 4954 §4"},
		432: {"a password transition is needed", "RFC 4954 §6"},
		454: {"temporary authentication failure", "RFC 4954 §6"},
		500: {"authentication exchange line is too long", "RFC 4954 §6"},
		501: {"the exchange was cancelled, or the response was not valid base64", "RFC 4954 §4"},
		503: {"bad sequence: already authenticated, or AUTH during a transaction", "RFC 4954 §4"},
		504: {"unrecognized authentication mechanism", "RFC 4954 §4"},
		530: {"authentication required", "RFC 4954 §6"},
		534: {"authentication mechanism is too weak", "RFC 4954 §6"},
		535: {"authentication credentials invalid", "RFC 4954 §6"},
		538: {"encryption required for the requested authentication mechanism", "RFC 4954 §6"},
	},
	verbLHLO:    {250: {"LHLO accepted: the lines that follow list the extensions", "RFC 2033 §4.1"}},
	verbDataEnd: {250: {"message accepted for delivery: the server is now responsible for it", "RFC 5321 §4.2.5"}},
	verbEHLO:    {250: {"EHLO accepted: the lines that follow list the extensions", "RFC 5321 §4.1.1.1"}},
	verbHELO:    {250: {"HELO accepted: no extensions (plain SMTP)", "RFC 5321 §4.1.1.1"}},
	verbGreeting: {
		220: {"service ready: the server's greeting", "RFC 5321 §3.1"},
		554: {"no SMTP service here: the server refuses the connection", "RFC 5321 §3.1"},
	},
	verbMAIL: {250: {"sender accepted: the transaction has started", "RFC 5321 §4.1.1.2"}},
	verbRCPT: {
		250: {"recipient accepted", "RFC 5321 §4.1.1.3"},
		251: {"recipient accepted", "RFC 5321 §4.1.1.3"},
	},
	verbVRFY: {
		250: {"the address is valid here", "RFC 5321 §3.5.3"},
		252: {"cannot verify the user, but will accept mail for it", "RFC 5321 §3.5.3"},
	},
	verbBDAT: {250: {"chunk accepted", "RFC 3030 §2"}},
}

// codeTable is RFC 5321 §4.2.2 (and RFC 7504 for 521 and 556).
var codeTable = map[int]string{
	211: "system status, or system help reply",
	214: "help message",
	220: "service ready",
	221: "service closing transmission channel",
	235: "authentication succeeded",
	250: "requested action okay, completed",
	251: "user not local; will forward",
	252: "cannot verify the user, but will accept the message and attempt delivery",
	334: "server challenge (AUTH)",
	354: "start mail input; end with <CRLF>.<CRLF>",
	421: "service not available, closing transmission channel",
	450: "mailbox unavailable (busy or blocked for policy reasons): try again later",
	451: "requested action aborted: local error in processing",
	452: "insufficient system storage, or too many recipients",
	454: "temporary failure (TLS or authentication not available now)",
	455: "server unable to accommodate parameters",
	500: "syntax error, command unrecognized (or line too long)",
	501: "syntax error in parameters or arguments",
	502: "command not implemented",
	503: "bad sequence of commands",
	504: "command parameter not implemented",
	521: "this host does not accept mail",
	530: "authentication (or STARTTLS) required first",
	534: "authentication mechanism is too weak",
	535: "authentication credentials invalid",
	538: "encryption required for the requested authentication mechanism",
	550: "mailbox unavailable: not found, no access, or refused by policy",
	551: "user not local; please try another path",
	552: "exceeded storage allocation",
	553: "mailbox name not allowed (bad syntax)",
	554: "transaction failed",
	555: "MAIL FROM or RCPT TO parameters not recognized or not implemented",
	556: "the domain does not accept mail",
}

// codeRFC is where a code is specified when the command does not decide.
func codeRFC(code int) string {
	switch code {
	case 221:
		return "RFC 5321 §4.1.1.10"
	case 235, 334, 534, 535, 538:
		return "RFC 4954 §6"
	case 251, 551:
		return "RFC 5321 §3.4"
	case 252:
		return "RFC 5321 §3.5.3"
	case 354:
		return "RFC 5321 §4.1.1.4"
	case 421:
		return "RFC 5321 §3.8"
	case 452:
		return "RFC 5321 §4.5.3.1.10"
	case 502:
		return "RFC 5321 §4.2.4"
	case 503:
		return "RFC 5321 §4.1.4"
	case 521, 556:
		return "RFC 7504 §3"
	case 530:
		return "RFC 4954 §6, RFC 3207 §4"
	case 555:
		return "RFC 5321 §4.1.1.11"
	}
	return "RFC 5321 §4.2.3"
}

// Short is the one-line form shown beside a reply line: the code's
// meaning and the enhanced code's detail, each up to its first colon.
func (e explanation) Short() string {
	if e.Code == 0 {
		if len(e.Problems) > 0 {
			return "! " + e.Problems[0]
		}
		return ""
	}
	head := func(s string) string { h, _, _ := strings.Cut(s, ":"); return h }
	out := strconv.Itoa(e.Code) + " "
	if e.Meaning != "" {
		out += head(e.Meaning)
	} else {
		out += head(e.Class)
	}
	if e.Enhanced != "" && e.EnhancedMeaning != "" {
		_, detail, _ := strings.Cut(e.EnhancedMeaning, "; ")
		if _, d, ok := strings.Cut(detail, ": "); ok {
			detail = d
		}
		detail, _, _ = strings.Cut(detail, " (RFC")
		out += " · " + e.Enhanced + " " + head(detail)
	}
	if len(e.Problems) > 0 {
		out += " · ! " + e.Problems[0]
	}
	return out
}

// Lines is the long form, shown on demand for the selected line.
func (e explanation) Lines() []string {
	var out []string
	if e.Code != 0 {
		out = append(out, "reply "+strconv.Itoa(e.Code)+": "+e.Class)
		if e.Meaning != "" {
			out = append(out, "  "+e.Meaning+" ("+e.RFC+")")
		}
	}
	if e.Enhanced != "" {
		out = append(out, "enhanced "+e.Enhanced+": "+e.EnhancedMeaning)
	}
	for _, p := range e.Problems {
		out = append(out, "! "+p)
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

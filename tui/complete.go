package tui

import (
	"slices"
	"strings"

	"github.com/sahilm/fuzzy"

	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
)

// command is one of the composer's / commands.
type command struct {
	name, args, help string
}

// commands are the / commands, in the order /help lists them.
var commands = []command{
	{"/connect", "", "connect to the server"},
	{"/ehlo", "[NAME]", "EHLO: greet and list the extensions"},
	{"/helo", "[NAME]", "HELO: greet without extensions"},
	{"/starttls", "", "upgrade to TLS (RFC 3207); then /ehlo for what it offers now"},
	{"/login", "USER [PASSWORD]", "log in with the best mechanism offered (asks for the password)"},
	{"/auth", "MECH [USER [SECRET]]", "authenticate with one mechanism"},
	{"/send", "", "send a message: a form for from, to, subject, body"},
	{"/verify", "ADDRESS", "VRFY an address"},
	{"/noop", "", "NOOP"},
	{"/rset", "", "RSET: abort the transaction"},
	{"/quit", "", "QUIT and leave"},
	{"/record", "", "show (or toggle) the recording"},
	{"/theme", "NAME", "switch theme: " + strings.Join(themes.Names(), ", ")},
	{"/explain", "", "explain every reply beside it (toggle)"},
	{"/mailbox", "", "the sandbox's received messages"},
	{"/ca", "", "the sandbox's certificate, to save for --ca FILE"},
	{"/cert", "[trust]", "the chain, DANE, MTA-STS in full; trust: pin a failed certificate"},
	{"/help", "", "keys and commands"},
}

// smtpVerbs are offered for the first word of a raw line.
var smtpVerbs = []string{
	"EHLO ", "HELO ", "LHLO ", "MAIL FROM:<", "RCPT TO:<", "DATA", "BDAT ", "RSET", "VRFY ",
	"EXPN ", "HELP", "NOOP", "QUIT", "STARTTLS", "AUTH ",
}

// suggestion is one completion.
type suggestion struct {
	text    string // what replaces the word (or the line)
	args    string // the arguments it takes, shown after it (the / commands)
	desc    string // what it does, shown beside it (the / commands)
	line    bool   // replaces the whole line (a history entry)
	matched []int  // rune indexes of text that matched, for highlighting
}

// maxSuggestions is how many completions a word gets; the / commands are
// all listed, since they are what a newcomer looks for.
const maxSuggestions = 6

// complete ranks completions for value, whose last word is being typed:
// / commands and their arguments, SMTP verbs, the MAIL and RCPT parameters
// the server advertised, AUTH mechanisms, and whole lines from history.
// Right after a space, where a word may start, every candidate for that
// place is offered ("MAIL FROM:<a@b> " lists the parameters).
func complete(value string, st paneState, history []string) []suggestion {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	word := value[strings.LastIndexByte(value, ' ')+1:]
	cands, args, descs := candidates(value, st)
	limit := maxSuggestions
	if descs != nil {
		limit = len(cands)
	}
	var out []suggestion
	switch {
	case word == "" || word == "/":
		// Nothing to rank by: all of them, in their own order.
		for i, c := range cands {
			out = append(out, suggestion{text: c, args: descAt(args, i), desc: descAt(descs, i)})
		}
	default:
		for _, m := range fuzzy.Find(word, cands) {
			if m.Str != word {
				out = append(out, suggestion{text: m.Str, args: descAt(args, m.Index), desc: descAt(descs, m.Index), matched: m.MatchedIndexes})
			}
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	for _, h := range fromHistory(value, history, maxSuggestions-len(out)) {
		if !slices.ContainsFunc(out, func(s suggestion) bool { return s.text == h.text }) {
			out = append(out, h)
		}
	}
	return out
}

func descAt(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// candidates are the words that may stand where value's last word is, and
// for the / commands their arguments and what each does.
func candidates(value string, st paneState) (cands, args, descs []string) {
	head := strings.Fields(value)
	switch {
	case strings.HasPrefix(value, "/") && !strings.Contains(value, " "):
		for _, c := range commands {
			cands, args, descs = append(cands, c.name), append(args, c.args), append(descs, c.help)
		}
		return cands, args, descs
	case strings.HasPrefix(value, "/theme ") && len(head) <= 2:
		cands = themes.Names()
	case strings.HasPrefix(value, "/auth ") && len(head) <= 2:
		cands = mechanisms(st)
	case strings.HasPrefix(value, "/"):
	case !strings.Contains(value, " "):
		cands = smtpVerbs
	case strings.EqualFold(head[0], "MAIL") && strings.Contains(value, ">"):
		cands = mailParams(st)
	case strings.EqualFold(head[0], "RCPT") && strings.Contains(value, ">"):
		cands = rcptParams(st)
	case strings.EqualFold(head[0], "AUTH") && len(head) <= 2:
		cands = mechanisms(st)
	}
	return cands, nil, nil
}

// fromHistory offers up to n whole lines from history, newest first, that
// hold the line so far in order.
func fromHistory(value string, history []string, n int) []suggestion {
	if len(value) < 2 || n <= 0 {
		return nil
	}
	seen := map[string]bool{}
	var hist []string
	for i := len(history) - 1; i >= 0 && len(hist) < 200; i-- {
		h := history[i]
		if !seen[h] && h != value {
			seen[h] = true
			hist = append(hist, h)
		}
	}
	var out []suggestion
	for _, m := range fuzzy.Find(value, hist) {
		if len(out) >= n {
			break
		}
		out = append(out, suggestion{text: m.Str, line: true, matched: m.MatchedIndexes})
	}
	return out
}

// apply puts suggestion s into value.
func (s suggestion) apply(value string) string {
	if s.line {
		return s.text
	}
	return value[:strings.LastIndexByte(value, ' ')+1] + s.text
}

// mechanisms are the AUTH mechanisms the server advertised.
func mechanisms(st paneState) []string {
	p, ok := st.has("AUTH")
	if !ok {
		return nil
	}
	return strings.Fields(strings.ToUpper(p))
}

// mailParams are the MAIL FROM parameters the advertised extensions allow
// (RFC 1870 SIZE, 6152 8BITMIME, 3030 BINARYMIME, 6531 SMTPUTF8, 3461 DSN,
// 8689 REQUIRETLS, 4954 AUTH).
func mailParams(st paneState) []string {
	var out []string
	add := func(ext string, params ...string) {
		if _, ok := st.has(ext); ok {
			out = append(out, params...)
		}
	}
	add("SIZE", "SIZE=")
	add("8BITMIME", "BODY=8BITMIME", "BODY=7BIT")
	add("BINARYMIME", "BODY=BINARYMIME")
	add("SMTPUTF8", "SMTPUTF8")
	add("DSN", "RET=FULL", "RET=HDRS", "ENVID=")
	add("REQUIRETLS", "REQUIRETLS")
	add("AUTH", "AUTH=<>")
	add("MT-PRIORITY", "MT-PRIORITY=")
	return out
}

// rcptParams are the RCPT TO parameters (RFC 3461 DSN).
func rcptParams(st paneState) []string {
	if _, ok := st.has("DSN"); !ok {
		return nil
	}
	return []string{"NOTIFY=SUCCESS,FAILURE", "NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY=NEVER", "ORCPT=rfc822;"}
}

// historyEntry is what history keeps of a submitted line: secrets never
// enter it (security-anchors §4.3 rule 2). /login and /auth lose their
// secret arguments; a raw AUTH line keeps only its mechanism.
func historyEntry(line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	switch strings.ToLower(f[0]) {
	case "/login":
		if len(f) > 2 {
			return "/login " + f[1]
		}
	case "/auth":
		if len(f) > 3 {
			return strings.Join(f[:3], " ")
		}
	}
	return session.RedactHistory(line)
}

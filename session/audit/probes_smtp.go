package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
)

// knownSoftware are names a greeting or EHLO reply may give away.
var knownSoftware = []string{
	"Postfix", "Exim", "Sendmail", "OpenSMTPD", "Microsoft ESMTP", "Exchange", "qmail",
	"Haraka", "hMailServer", "MDaemon", "Zimbra", "Courier", "Kerio", "IceWarp", "Axigen",
	"CommuniGate", "Domino", "MailEnable", "SmarterMail", "Mercury", "aiosmtpd", "Python SMTP",
	"Dovecot", "ehlo sandbox",
}

// isDomainName says s has the shape of a host or domain name: letters,
// digits, dots and hyphens, at most 252 of them, starting and ending with
// a letter or digit. (Written out: the regexp with {0,250} took 3 ms and
// 1,500 allocations to compile at every start of ehlo.)
func isDomainName(s string) bool {
	if s == "" || len(s) > 252 || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == ""
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// versionRE is compiled on first use: every ehlo command links this
// package, few run an audit.
var versionRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\b[vV]?\d+\.\d+(?:\.\d+)*[a-z]?\b`)
})

// revealed finds a software name and a version number in text; an IPv4
// address is not a version.
func revealed(text string) (name, version string) {
	low := strings.ToLower(text)
	for _, s := range knownSoftware {
		if strings.Contains(low, strings.ToLower(s)) {
			name = s
			break
		}
	}
	for _, v := range versionRE().FindAllString(text, -1) {
		if net.ParseIP(v) == nil {
			return name, v
		}
	}
	return name, ""
}

func (r *runner) banner(ctx context.Context) Finding {
	w, g, err := r.open(ctx, false)
	defer w.quit()
	if err != nil {
		return broken(Low, w, err)
	}
	e, _, err := r.hello(w)
	if err != nil {
		return broken(Low, w, err)
	}
	ev := brief(w.since(0))
	text := g.text()
	if len(e.Lines) > 0 {
		text += " " + e.Lines[0]
	}
	name, ver := revealed(text)
	switch {
	case ver != "":
		return finding(Warn, Low, fmt.Sprintf("The greeting or EHLO reply gives a version (%s), which tells an attacker which CVEs apply; RFC 5321 §4.3.1 leaves the text free, so leave the version out.",
			strings.TrimSpace(name+" "+ver)), ev)
	case name != "":
		return finding(Pass, Low, "The greeting names the software ("+name+") but no version (RFC 5321 §4.3.1).", ev)
	}
	return finding(Pass, Low, "The greeting and EHLO reply name no software and no version (RFC 5321 §4.3.1).", ev)
}

// starttlsInjection sends STARTTLS and NOOP in one write, as the attacker
// of CVE-2011-0411 does, then NOOP and QUIT inside TLS: a server that kept
// the plaintext NOOP answers three times instead of two.
func (r *runner) starttlsInjection(ctx context.Context) Finding {
	if r.cfg.Target.ImplicitTLS {
		return finding(Skip, High, "Implicit TLS: there is no STARTTLS to inject into (RFC 8314).", nil)
	}
	w, _, err := r.open(ctx, false)
	defer w.close()
	if err != nil {
		return broken(High, w, err)
	}
	_, ext, err := r.hello(w)
	if err != nil {
		return broken(High, w, err)
	}
	if _, ok := ext["starttls"]; !ok {
		return finding(Skip, High, "STARTTLS is not offered, so there is nothing to inject into.", w.lines)
	}
	m := w.mark()
	if err := w.write([]byte("STARTTLS\r\nNOOP\r\n")); err != nil {
		return broken(High, w, err)
	}
	s, err := w.read()
	switch {
	case err != nil:
		return broken(High, w, err)
	case s.Code/100 == 4 || s.Code/100 == 5:
		return finding(Pass, High, fmt.Sprintf("The server refused (%d) a STARTTLS with a command behind it in the same write, so nothing could be injected (RFC 3207 §5, CVE-2011-0411).", s.Code), w.since(m))
	case s.Code != 220:
		return finding(Error, High, fmt.Sprintf("STARTTLS sent with a second command was answered %d, neither 220 nor a refusal.", s.Code), w.since(m))
	}
	if _, err := w.handshake(r.cfg.Target.tlsConfig(nil)); err != nil {
		return finding(Pass, High, "TLS did not start after a STARTTLS with a command behind it ("+sanitizeErr(err)+"), so the command could not run inside TLS (RFC 3207 §5, CVE-2011-0411).", w.since(m))
	}
	if err := w.write([]byte("NOOP\r\nQUIT\r\n")); err != nil {
		return broken(High, w, err)
	}
	got := readUntilQuit(w, 4)
	if len(got) >= 3 {
		return finding(Fail, High, fmt.Sprintf("The server ran the NOOP sent in plaintext with STARTTLS as if it came inside TLS (%d replies to 2 commands): a man in the middle can inject commands into the encrypted session (RFC 3207 §5, CVE-2011-0411).", len(got)), w.since(m))
	}
	return finding(Pass, High, "The server threw away the command pipelined behind STARTTLS: inside TLS it answered only what was sent inside TLS (RFC 3207 §5, CVE-2011-0411).", w.since(m))
}

// readUntilQuit reads replies until a 221, the end of the connection or
// max replies.
func readUntilQuit(w *wire, max int) []reply {
	var got []reply
	for len(got) < max {
		rp, err := w.read()
		if err != nil {
			break
		}
		got = append(got, rp)
		if rp.Code == 221 {
			break
		}
	}
	return got
}

// cleartextAuth looks for AUTH before TLS, advertised or accepted. It
// never sends a credential: a 334 is cancelled with "*" (RFC 4954 §4).
func (r *runner) cleartextAuth(ctx context.Context) Finding {
	if r.cfg.Target.ImplicitTLS {
		return finding(Pass, High, "Implicit TLS: nothing, AUTH included, is sent before TLS (RFC 8314).", nil)
	}
	w, _, err := r.open(ctx, false)
	defer w.quit()
	if err != nil {
		return broken(High, w, err)
	}
	_, ext, err := r.hello(w)
	if err != nil {
		return broken(High, w, err)
	}
	mechs, advertised := ext["auth"]
	ev := brief(w.since(0), "AUTH")
	if !advertised {
		ev = append(ev, fmt.Sprintf("* no AUTH among the %d keywords of the EHLO reply before TLS", len(ext)))
	}
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		m := w.mark()
		a, err := w.cmd("AUTH " + mech)
		if err != nil {
			return broken(High, w, err)
		}
		if a.Code == 334 {
			_, _ = w.cmd("*")
			return finding(Fail, High, "The server accepts AUTH "+mech+" before TLS, so a password would cross the network in clear (RFC 4954 §4, RFC 8314 §3).", append(ev, w.since(m)...))
		}
		ev = append(ev, w.since(m)...)
	}
	if advertised {
		return finding(Fail, High, "The server advertises AUTH"+mechList(mechs)+" before TLS, inviting clients to send passwords in clear (RFC 4954 §4, RFC 8314 §3).", ev)
	}
	return finding(Pass, High, "AUTH is neither advertised nor accepted before TLS (RFC 4954 §4).", ev)
}

func mechList(mechs string) string {
	if mechs = strings.TrimSpace(mechs); mechs == "" {
		return ""
	}
	return " (" + sanitizeString(mechs) + ")"
}

// openRelay tries a sender and a recipient in domains that are not the
// server's. It never sends DATA: a 250 to RCPT is the finding.
func (r *runner) openRelay(ctx context.Context) Finding {
	w, _, err := r.session(ctx)
	defer w.quit()
	if err != nil {
		return broken(High, w, err)
	}
	m := w.mark()
	mail, err := w.cmd("MAIL FROM:<ehlo-audit@example.com>")
	if err == nil && mail.Code/100 != 2 {
		_, _ = w.cmd("RSET")
		mail, err = w.cmd("MAIL FROM:<>")
	}
	if err != nil {
		return broken(High, w, err)
	}
	if mail.Code/100 != 2 {
		return finding(Skip, High, "Every MAIL was refused, so relaying could not be tried.", w.since(m))
	}
	rcpt, err := w.cmd("RCPT TO:<ehlo-audit@example.net>")
	if err != nil {
		return broken(High, w, err)
	}
	_, _ = w.cmd("RSET")
	ev := w.since(m)
	if rcpt.Code/100 == 2 {
		return finding(Fail, High, "The server accepted a recipient in a domain it does not serve from an unauthenticated client: an open relay, which spammers find within hours (RFC 5321 §7.1, RFC 2505).", ev)
	}
	return finding(Pass, High, fmt.Sprintf("The server refused (%d) to relay to a domain it does not serve (RFC 5321 §7.1, RFC 2505).", rcpt.Code), ev)
}

// randomUser is a local part no server knows.
func randomUser() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "ehlo-audit-" + hex.EncodeToString(b[:])
}

// sameAnswer reports whether two replies tell nothing apart: the same
// code (a 250 and a 252 differ).
func sameAnswer(a, b reply) bool { return a.Code == b.Code }

func (r *runner) vrfyExpn(ctx context.Context) Finding {
	w, _, err := r.session(ctx)
	defer w.quit()
	if err != nil {
		return broken(Low, w, err)
	}
	m := w.mark()
	known, err := w.cmd("VRFY " + r.address(r.cfg.User))
	if err != nil {
		return broken(Low, w, err)
	}
	unknown, err := w.cmd("VRFY " + r.address(randomUser()))
	if err != nil {
		return broken(Low, w, err)
	}
	expn, err := w.cmd("EXPN " + r.address(r.cfg.User))
	if err != nil {
		return broken(Low, w, err)
	}
	ev := w.since(m)
	switch {
	case !sameAnswer(known, unknown):
		return finding(Fail, Low, fmt.Sprintf("VRFY answers %s (%d) and an unknown user (%d) differently, so anyone can test which mailboxes exist (RFC 5321 §3.5.3, §7.3).", r.address(r.cfg.User), known.Code, unknown.Code), ev)
	case expn.Code/100 == 2:
		return finding(Fail, Low, "EXPN expands "+r.address(r.cfg.User)+", giving away who receives its mail (RFC 5321 §3.5.3, §7.3).", ev)
	}
	return finding(Pass, Low, fmt.Sprintf("VRFY gives the same answer (%d) for a known and an unknown user, and EXPN expands nothing (RFC 5321 §7.3).", known.Code), ev)
}

// domain is the server's mail domain for recipients: --domain, or the
// first word of the greeting.
func (r *runner) domain() string {
	if r.cfg.Domain != "" {
		return r.cfg.Domain
	}
	if len(r.greet.Lines) > 0 {
		// The server's own words go into our commands only if they
		// look like a domain.
		if f := strings.Fields(r.greet.Lines[0]); len(f) > 0 && isDomainName(f[0]) {
			return f[0]
		}
	}
	return "localhost"
}

// address is user at the server's domain, unless user has a domain.
func (r *runner) address(user string) string {
	if strings.Contains(user, "@") {
		return user
	}
	return user + "@" + r.domain()
}

func (r *runner) rcptEnumeration(ctx context.Context) Finding {
	w, _, err := r.session(ctx)
	defer w.quit()
	if err != nil {
		return broken(Low, w, err)
	}
	m := w.mark()
	mail, err := w.cmd("MAIL FROM:<>")
	if err != nil {
		return broken(Low, w, err)
	}
	if mail.Code/100 != 2 {
		return finding(Skip, Low, "MAIL FROM:<> was refused, so no recipient could be tried.", w.since(m))
	}
	d := r.domain()
	known, err := w.cmd("RCPT TO:<" + r.address(r.cfg.User) + ">")
	if err != nil {
		return broken(Low, w, err)
	}
	unknown, err := w.cmd("RCPT TO:<" + r.address(randomUser()) + ">")
	if err != nil {
		return broken(Low, w, err)
	}
	_, _ = w.cmd("RSET")
	ev := w.since(m)
	switch {
	case known.Code/100 == 4 || unknown.Code/100 == 4:
		return finding(Skip, Low, "A recipient was deferred (4xx, greylisting or a limit), so the answers cannot be compared.", ev)
	case !sameAnswer(known, unknown):
		// Refusing unknown users at RCPT is also what stops backscatter,
		// so this is a warning, not a failure.
		return finding(Warn, Low, fmt.Sprintf("RCPT answers %s (%d) and an unknown user (%d) differently, so anyone can test which mailboxes exist (RFC 5321 §7.3); answering the same, or limiting refusals, slows harvesting.", r.address(r.cfg.User), known.Code, unknown.Code), ev)
	}
	return finding(Pass, Low, fmt.Sprintf("RCPT gives the same answer (%d) for a known and an unknown user at %s (RFC 5321 §7.3).", known.Code, d), ev)
}

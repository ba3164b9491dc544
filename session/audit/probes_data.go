package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// smugglingVariant is one end-of-data sequence of SEC Consult's smtpsmug:
// a dot between line ends that are not both CRLF.
type smugglingVariant struct{ name, seq string }

var smugglingVariants = []smugglingVariant{
	{`<LF>.<LF>`, "\n.\n"},
	{`<LF>.<CR><LF>`, "\n.\r\n"},
	{`<CR><LF>.<LF>`, "\r\n.\n"},
	{`<CR>.<CR>`, "\r.\r"},
	{`<CR>.<CR><LF>`, "\r.\r\n"},
	{`<CR><LF>.<CR>`, "\r\n.\r"},
}

// smuggling sends, for each variant on its own connection, one message to
// --to whose body holds the variant followed by a second, smuggled
// transaction, then QUIT in the same write. A server that ends the data at
// the variant runs the smuggled MAIL, RCPT and DATA and answers them; one
// that does not answers once for the message and once for QUIT.
func (r *runner) smuggling(ctx context.Context) Finding {
	if r.cfg.To == "" {
		return finding(Skip, High, "Needs --to ADDR, a mailbox you own: a vulnerable server delivers the probe message, and a smuggled second one, to it.", nil)
	}
	// The verdict of every variant first, then the conversations that
	// show the vulnerable ones.
	var ev, shown, bad []string
	for _, v := range smugglingVariants {
		vulnerable, lines, err := r.smuggle(ctx, v)
		var refused *envelopeRefused
		switch {
		case errors.As(err, &refused):
			// Not an error of the probe: the server will not take this
			// transaction at all (Dovecot's submission wants AUTH first).
			return finding(Skip, High, fmt.Sprintf("The server refused the probe's transaction (%s), so no message could be sent to try the end-of-data variants; the audit does not authenticate (RFC 5321 §4.1.1.4).", refused), append(ev, lines...))
		case err != nil:
			return finding(Error, High, fmt.Sprintf("The probe could not conclude on %s: %s.", v.name, sanitizeErr(err)), append(ev, lines...))
		case vulnerable:
			bad = append(bad, v.name)
			shown = append(shown, lines[:len(lines)-1]...)
		}
		ev = append(ev, lines[len(lines)-1])
	}
	ev = append(ev, shown...)
	if len(bad) > 0 {
		return finding(Fail, High, "The server ends DATA at "+strings.Join(bad, ", ")+", not only at <CR><LF>.<CR><LF>, so a message relayed through it can carry a second, forged one (SMTP smuggling: CVE-2023-51764, -51765, -51766; RFC 5321 §4.1.1.4).", ev)
	}
	return finding(Pass, High, fmt.Sprintf("None of the %d bare CR and LF end-of-data variants ended the message; only <CR><LF>.<CR><LF> does (RFC 5321 §4.1.1.4).", len(smugglingVariants)), ev)
}

// envelopeRefused is a MAIL or RCPT the server refused with a reply: the
// probe has no transaction to smuggle in.
type envelopeRefused struct {
	verb string
	code int
}

func (e *envelopeRefused) Error() string { return fmt.Sprintf("%s was answered %d", e.verb, e.code) }

// smuggle runs one variant. The evidence is the whole conversation when
// the server is vulnerable; its last line always sums up the variant.
func (r *runner) smuggle(ctx context.Context, v smugglingVariant) (bool, []string, error) {
	w, _, err := r.session(ctx)
	defer w.close()
	if err != nil {
		return false, w.lines, err
	}
	to := "<" + r.cfg.To + ">"
	m := w.mark()
	for _, c := range []string{"MAIL FROM:" + to, "RCPT TO:" + to} {
		rp, err := w.cmd(c)
		if err == nil && rp.Code/100 != 2 {
			err = &envelopeRefused{verb: strings.Fields(c)[0], code: rp.Code}
		}
		if err != nil {
			return false, w.since(m), err
		}
	}
	d, err := w.cmd("DATA")
	if err == nil && d.Code != 354 {
		err = fmt.Errorf("DATA was answered %d", d.Code)
	}
	if err != nil {
		return false, w.since(m), err
	}
	body := "From: " + to + "\r\nTo: " + to + "\r\nSubject: ehlo audit " + r.cfg.Tag + ": smtp-smuggling probe, " + v.name +
		"\r\n\r\nOne message is expected. A second one, marked SMUGGLED, means the server ended the data at " + v.name + "." +
		v.seq + "MAIL FROM:" + to + "\r\nRCPT TO:" + to + "\r\nDATA\r\nFrom: " + to + "\r\nTo: " + to +
		"\r\nSubject: ehlo audit " + r.cfg.Tag + ": SMUGGLED after " + v.name + "\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n"
	if err := w.write([]byte(body)); err != nil {
		return false, w.since(m), err
	}
	got := readUntilQuit(w, 8)
	vulnerable, verdict, err := judgeSmuggling(v, got)
	return vulnerable, append(w.since(m), verdict), err
}

// judgeSmuggling reads the replies to one message and QUIT sent in one
// write: a server that ended the data at the variant answered the
// smuggled commands too.
func judgeSmuggling(v smugglingVariant, got []reply) (bool, string, error) {
	codes := make([]string, len(got))
	for i, g := range got {
		codes[i] = strconv.Itoa(g.Code)
	}
	list := strings.Join(codes, " ")
	switch {
	case len(got) > 2:
		return true, fmt.Sprintf("* %s: %d replies (%s) to one message and QUIT: the smuggled commands ran", v.name, len(got), list), nil
	case len(got) == 2 && got[0].Code/100 == 2 && got[1].Code != 221:
		// The data ended at the variant and the smuggled MAIL was read
		// as a command, even if something (a synchronisation check)
		// refused it.
		return true, fmt.Sprintf("* %s: %s: a reply that is not QUIT's after the message: the data ended at %s", v.name, list, v.name), nil
	case len(got) == 0:
		return false, "* " + v.name + ": no reply after the message", fmt.Errorf("no reply after the message")
	case got[0].Code/100 != 2:
		return false, fmt.Sprintf("* %s: %s: the message was refused, not split", v.name, list), nil
	}
	return false, fmt.Sprintf("* %s: %s: one message, not split", v.name, list), nil
}

// pregreet speaks before the greeting, as spambots do. Postfix's
// postscreen and similar guards notice and refuse; a server that answers
// as if nothing happened does not use that test.
func (r *runner) pregreet(ctx context.Context) Finding {
	w, _, err := r.open(ctx, true)
	defer w.quit()
	if err != nil {
		return broken(Info, w, err)
	}
	if err := w.write([]byte("EHLO " + r.cfg.Helo + "\r\n")); err != nil {
		return broken(Info, w, err)
	}
	g, gerr := w.read()
	var e reply
	var eerr error
	if gerr == nil && g.Code == 220 {
		e, eerr = w.read()
	}
	ev := brief(w.since(0))
	switch {
	case gerr != nil || g.Code != 220:
		return finding(Pass, Info, "The server noticed the client speaking before its greeting and did not greet it normally (RFC 5321 §4.3.1; postscreen's pregreet test).", ev)
	case eerr != nil || e.Code != 250:
		return finding(Pass, Info, "The server refused the EHLO sent before its greeting (RFC 5321 §4.3.1; postscreen's pregreet test).", ev)
	}
	return finding(Warn, Info, "The server answered an EHLO sent before its greeting as if it had waited: it does not penalise clients that talk first, which postscreen uses to stop spambots (RFC 5321 §4.3.1).", ev)
}

// sizeEnforced announces a message one byte over the advertised limit.
func (r *runner) sizeEnforced(ctx context.Context) Finding {
	w, ext, err := r.session(ctx)
	defer w.quit()
	if err != nil {
		return broken(Low, w, err)
	}
	v, ok := ext["size"]
	if !ok {
		return finding(Skip, Low, "SIZE is not advertised (RFC 1870).", nil)
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(v), 10, 63)
	if err != nil || limit <= 0 {
		return finding(Skip, Low, "SIZE gives no fixed limit (RFC 1870 §4), so there is none to exceed.", nil)
	}
	m := w.mark()
	mail, err := w.cmd(fmt.Sprintf("MAIL FROM:<> SIZE=%d", limit+1))
	if err != nil {
		return broken(Low, w, err)
	}
	_, _ = w.cmd("RSET")
	ev := append([]string{fmt.Sprintf("* SIZE %d advertised", limit)}, w.since(m)...)
	switch {
	case mail.Code/100 == 2:
		return finding(Fail, Low, "The server accepted MAIL with SIZE over its own advertised limit, so it reads the whole message before refusing it (RFC 1870 §6).", ev)
	case mail.wantsAuth():
		// A 530 says nothing about the size: the MAIL never got that far.
		return finding(Skip, Low, fmt.Sprintf("MAIL was refused for want of authentication (%d), so the size limit could not be tried (RFC 1870 §6).", mail.Code), ev)
	case mail.Code == 552 || mail.enhanced() == "5.3.4" || mail.enhanced() == "5.2.3":
		return finding(Pass, Low, fmt.Sprintf("MAIL with SIZE over the advertised limit was refused (%d) before any data (RFC 1870 §6).", mail.Code), ev)
	}
	return finding(Warn, Low, fmt.Sprintf("MAIL with SIZE over the advertised limit was refused (%d), but not as too large (552, 5.3.4): the refusal may have another reason (RFC 1870 §6).", mail.Code), ev)
}

// pipelining sends a group in one write and checks that every command got
// its reply, in order (RFC 2920 §3.1).
func (r *runner) pipelining(ctx context.Context) Finding {
	w, ext, err := r.session(ctx)
	defer w.close()
	if err != nil {
		return broken(Low, w, err)
	}
	if _, ok := ext["pipelining"]; !ok {
		return finding(Skip, Low, "PIPELINING is not advertised (RFC 2920).", nil)
	}
	cmds := []string{"MAIL FROM:<>", "RCPT TO:<" + r.address(r.cfg.User) + ">", "RCPT TO:<" + r.address(randomUser()) + ">", "RSET", "NOOP", "QUIT"}
	m := w.mark()
	if err := w.write([]byte(strings.Join(cmds, "\r\n") + "\r\n")); err != nil {
		return broken(Low, w, err)
	}
	got := readUntilQuit(w, len(cmds)+2)
	ev := w.since(m)
	n := len(got)
	if n == len(cmds) && got[3].Code == 250 && got[4].Code == 250 && got[5].Code == 221 {
		return finding(Pass, Low, fmt.Sprintf("The server answered a pipelined group of %d commands with %d replies, in order (RFC 2920 §3.1).", len(cmds), n), ev)
	}
	return finding(Fail, Low, fmt.Sprintf("The server answered a pipelined group of %d commands with %d replies, or out of order: a client that pipelines loses track of which reply is whose (RFC 2920 §3.1).", len(cmds), n), ev)
}

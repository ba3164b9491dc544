package sandbox

import (
	"strconv"
	"strings"
)

func (c *conn) cmdMail(arg string) error {
	switch {
	case c.helo == "":
		return c.reply(StageMail, 503, "5.5.1", "Send "+c.helloVerb()+" first")
	case c.inTxn:
		return c.reply(StageMail, 503, "5.5.1", "Nested MAIL command")
	}
	if f, ok := c.fault(FaultRequireAuth); ok && c.authUser == "" {
		c.note("fault %s: MAIL before AUTH", f)
		return c.reply(StageMail, 530, "5.7.0", "Authentication required")
	}
	if len(arg) < 5 || !strings.EqualFold(arg[:5], "FROM:") {
		return c.reply(StageMail, 501, "5.5.4", "Syntax: MAIL FROM:<address>")
	}
	path, rest, err := splitPath(arg[5:])
	if err != nil {
		return c.reply(StageMail, 501, "5.5.4", "Syntax: MAIL FROM:<address> ("+err.Error()+")")
	}
	if path != "" {
		if path, err = checkMailbox(path); err != nil {
			return c.reply(StageMail, 501, "5.1.7", "Bad sender address syntax: "+err.Error())
		}
	}
	params, err := parseParams(rest)
	if err != nil {
		return c.reply(StageMail, 501, "5.5.4", "Syntax error in parameters: "+err.Error())
	}
	if len(params) > 0 && !c.esmtp {
		// Parameters are an ESMTP feature; after HELO none is in effect.
		return c.reply(StageMail, 555, "5.5.4", "MAIL parameters need EHLO")
	}
	body, utf8, no := c.mailParams(params)
	if no != nil {
		return c.reply(StageMail, no.code, no.enh, no.text)
	}
	if !utf8 && !isASCII(path) {
		return c.reply(StageMail, 553, "5.6.7", "Non-ASCII address needs SMTPUTF8")
	}
	for _, f := range c.cfg.Faults {
		if f.Kind == FaultRefuseSender && f.matchesAddr(path) {
			c.note("fault %s: refusing sender <%s>", f, path)
			return c.reply(StageMail, 550, "5.7.1", "<"+path+">: Sender address rejected")
		}
	}
	c.inTxn, c.from, c.body, c.utf8 = true, path, body, utf8
	for _, p := range params {
		c.params = append(c.params, p.raw)
	}
	return c.reply(StageMail, 250, "2.1.0", "Ok")
}

// refusal is the reply that refuses a command.
type refusal struct {
	code      int
	enh, text string
}

// mailParams checks MAIL's parameters (RFC 1870 SIZE, RFC 6152 BODY,
// RFC 6531 SMTPUTF8, RFC 3461 RET and ENVID, RFC 4954 AUTH) and returns
// the BODY type and whether SMTPUTF8 was asked for, or the refusal.
func (c *conn) mailParams(params []param) (body string, utf8 bool, no *refusal) {
	for _, p := range params {
		bad := func(why string) *refusal {
			return &refusal{501, "5.5.4", "Bad " + p.key + " parameter: " + why}
		}
		switch p.key {
		case "SIZE":
			n, err := strconv.ParseUint(p.value, 10, 63)
			if !p.hasValue || err != nil {
				return "", false, bad("expected a number of octets")
			}
			if int64(n) > c.cfg.MaxMessageBytes {
				return "", false, &refusal{552, "5.3.4", "Message size exceeds fixed maximum message size"}
			}
		case "BODY":
			body = strings.ToUpper(p.value)
			if body != "7BIT" && body != "8BITMIME" && body != "BINARYMIME" {
				return "", false, bad("expected 7BIT, 8BITMIME or BINARYMIME")
			}
		case "SMTPUTF8":
			if p.hasValue {
				return "", false, bad("takes no value")
			}
			utf8 = true
		case "RET":
			if v := strings.ToUpper(p.value); v != "FULL" && v != "HDRS" {
				return "", false, bad("expected FULL or HDRS")
			}
		case "ENVID":
			if !p.hasValue || len(p.value) > 100 || !isXtext(p.value) {
				return "", false, bad("expected xtext of at most 100 characters")
			}
		case "AUTH":
			// RFC 4954 §5: the submitter's identity; accepted and unused.
			if !p.hasValue || (p.value != "<>" && !isXtext(p.value)) {
				return "", false, bad("expected xtext or <>")
			}
		default:
			// RFC 5321 §4.1.1.11: an unrecognised parameter is 555.
			return "", false, &refusal{555, "5.5.4", "Unsupported MAIL parameter " + p.key}
		}
	}
	return body, utf8, nil
}

func (c *conn) cmdRcpt(arg string) error {
	switch {
	case !c.inTxn:
		return c.reply(StageRcpt, 503, "5.5.1", "Need MAIL before RCPT")
	case c.bdat:
		return c.reply(StageRcpt, 503, "5.5.1", "RCPT not allowed once BDAT has begun")
	}
	if len(arg) < 3 || !strings.EqualFold(arg[:3], "TO:") {
		return c.reply(StageRcpt, 501, "5.5.4", "Syntax: RCPT TO:<address>")
	}
	path, rest, err := splitPath(arg[3:])
	if err != nil {
		return c.reply(StageRcpt, 501, "5.5.4", "Syntax: RCPT TO:<address> ("+err.Error()+")")
	}
	// RFC 5321 §4.1.1.3: <Postmaster> without a domain must be accepted.
	if !strings.EqualFold(path, "postmaster") {
		if path == "" {
			return c.reply(StageRcpt, 501, "5.1.3", "Bad recipient address syntax: empty")
		}
		if path, err = checkMailbox(path); err != nil {
			return c.reply(StageRcpt, 501, "5.1.3", "Bad recipient address syntax: "+err.Error())
		}
	}
	params, err := parseParams(rest)
	if err != nil {
		return c.reply(StageRcpt, 501, "5.5.4", "Syntax error in parameters: "+err.Error())
	}
	if len(params) > 0 && !c.esmtp {
		return c.reply(StageRcpt, 555, "5.5.4", "RCPT parameters need EHLO")
	}
	for _, p := range params {
		switch p.key {
		case "NOTIFY":
			if !validNotify(p.value) {
				return c.reply(StageRcpt, 501, "5.5.4", "Bad NOTIFY parameter: expected NEVER or SUCCESS,FAILURE,DELAY")
			}
		case "ORCPT":
			typ, addr, ok := strings.Cut(p.value, ";")
			if !ok || typ == "" || addr == "" || !isKeyword(typ) {
				return c.reply(StageRcpt, 501, "5.5.4", "Bad ORCPT parameter: expected addr-type;address")
			}
		default:
			return c.reply(StageRcpt, 555, "5.5.4", "Unsupported RCPT parameter "+p.key)
		}
	}
	c.rcptTried = true
	if !c.utf8 && !isASCII(path) {
		return c.reply(StageRcpt, 553, "5.6.7", "Non-ASCII address needs SMTPUTF8")
	}
	if len(c.rcpts) >= c.cfg.MaxRecipients {
		// RFC 5321 §4.5.3.1.10: 452 for too many recipients.
		return c.reply(StageRcpt, 452, "4.5.3", "Too many recipients")
	}
	for _, f := range c.cfg.Faults {
		if f.Kind == FaultRefuseRcpt && f.matchesAddr(path) {
			c.note("fault %s: refusing recipient <%s>", f, path)
			return c.reply(StageRcpt, 550, "5.1.1", "<"+path+">: Recipient address rejected")
		}
	}
	if handled, err := c.rcptFault(path); handled {
		return err
	}
	if isFullMailbox(path) && !c.cfg.LMTP {
		// In LMTP the same mailbox fails after the data instead, which
		// is the per-recipient reply LMTP exists for.
		return c.reply(StageRcpt, 452, "4.2.2", "<"+path+">: Mailbox full")
	}
	c.rcpts = append(c.rcpts, path)
	return c.reply(StageRcpt, 250, "2.1.5", "Ok")
}

func validNotify(v string) bool {
	if strings.EqualFold(v, "NEVER") {
		return true
	}
	seen := map[string]bool{}
	for _, k := range strings.Split(strings.ToUpper(v), ",") {
		if (k != "SUCCESS" && k != "FAILURE" && k != "DELAY") || seen[k] {
			return false
		}
		seen[k] = true
	}
	return v != ""
}

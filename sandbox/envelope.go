package sandbox

import (
	"bytes"
	"strconv"
	"strings"
)

// recordRcpt keeps the reply an RCPT got, accepted or refused, for the
// message's Rcpts: b is the reply as it went out, faults and all, so the
// envelope shows what the client saw. The text is that of the last line.
func (c *conn) recordRcpt(b []byte) {
	addr := strings.TrimSpace(c.rcptArg)
	if len(addr) >= 3 && strings.EqualFold(addr[:3], "TO:") {
		if p, _, err := splitPath(addr[3:]); err == nil {
			addr = p
		}
	}
	b = bytes.TrimRight(b, "\r\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	b = bytes.TrimSuffix(b, []byte("\r"))
	code := 0
	if len(b) >= 3 {
		code, _ = strconv.Atoi(string(b[:3]))
	}
	if code/100 != 2 && c.refusedLogged() >= c.cfg.MaxRecipients {
		// A client may try any number of refused recipients; the
		// envelope keeps as many as it could accept.
		return
	}
	text := ""
	if len(b) > 4 {
		// The usual acceptance costs no allocation (the comparison
		// with a constant does not copy).
		switch string(b[4:]) {
		case "2.1.5 Ok":
			text = "2.1.5 Ok"
		case "Ok":
			text = "Ok"
		default:
			text = string(b[4:])
		}
	}
	c.rcptLog = append(c.rcptLog, Recipient{Addr: addr, Code: code, Text: text})
}

// authResponseShown is an AUTH response line as the room shows it: "*"
// (cancel) as is, anything else hidden.
func authResponseShown(text []byte) string {
	if string(text) == "*" {
		return "*"
	}
	return "***"
}

func (c *conn) refusedLogged() int {
	n := 0
	for _, r := range c.rcptLog {
		if r.Code/100 != 2 {
			n++
		}
	}
	return n
}

// lmtpFull is LMTP's reply after the data for a recipient whose mailbox
// is full (RFC 2033 §4.2: the per-recipient failure LMTP exists for).
func lmtpFull(addr string) (code int, enh, text string) {
	return 452, "4.2.2", "<" + addr + "> Mailbox full"
}

// lmtpOutcome gives an LMTP envelope's recipients the reply that decided
// their delivery: a full mailbox, accepted at RCPT, fails after the data.
func lmtpOutcome(rcpts []Recipient) {
	for i, r := range rcpts {
		if r.Code/100 == 2 && isFullMailbox(r.Addr) {
			code, enh, text := lmtpFull(r.Addr)
			rcpts[i] = Recipient{Addr: r.Addr, Code: code, Text: enh + " " + text}
		}
	}
}

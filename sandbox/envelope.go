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
		text = string(b[4:])
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

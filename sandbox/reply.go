package sandbox

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// rep is one reply before it is put on the wire.
type rep struct {
	code  int
	enh   string // RFC 3463 enhanced status code, "" for none
	lines []string
	raw   []byte // a reply fault's exact bytes; replaces code, enh and lines
}

// encode renders the reply lines without line ends.
func (r rep) encode(esmtp bool) []string {
	out := make([]string, max(1, len(r.lines)))
	for i := range out {
		out[i] = string(r.appendLine(nil, i, esmtp))
	}
	return out
}

// appendLine appends line i of the reply to dst, without its line end
// (a reply with no lines has one empty line). Enhanced status codes
// appear only once the client used EHLO or LHLO (RFC 2034 §3) and never
// on 3xx intermediate replies (334, 354), which RFC 3463 gives no class.
func (r rep) appendLine(dst []byte, i int, esmtp bool) []byte {
	l := ""
	if len(r.lines) > 0 {
		l = r.lines[i]
	}
	if r.code >= 100 && r.code <= 999 {
		dst = strconv.AppendInt(dst, int64(r.code), 10)
	} else {
		dst = fmt.Appendf(dst, "%03d", r.code)
	}
	if i < len(r.lines)-1 {
		dst = append(dst, '-')
	} else {
		dst = append(dst, ' ')
	}
	if r.enh == "" || !esmtp || r.code/100 == 3 {
		return append(dst, l...)
	}
	dst = append(append(append(dst, r.enh...), ' '), l...)
	// One trailing space is dropped: "2.0.0 " + "" is "2.0.0".
	return bytes.TrimSuffix(dst, []byte(" "))
}

// isSequenceOrSyntax reports the codes that count towards maxErrors:
// client mistakes, not refusals such as 550 or 535.
func isSequenceOrSyntax(code int) bool {
	switch code {
	case 500, 501, 502, 503, 504, 555:
		return true
	}
	return false
}

// reply sends one reply at stage st with every matching fault applied.
func (c *conn) reply(st Stage, code int, enh string, lines ...string) error {
	if c.mute {
		return nil
	}
	if c.swallow {
		c.note("fault pipeline-short: not sending the %d reply to the last RCPT of the group", code)
		return nil
	}
	r, closeAfter, err := c.act(st, rep{code: code, enh: enh, lines: lines})
	if err != nil || c.mute {
		return err
	}
	if closeAfter {
		return c.finish421(st, r)
	}
	b := c.render(st, r)
	for _, f := range c.cfg.Faults {
		if !f.applies(st) {
			continue
		}
		switch f.Kind {
		case FaultCut:
			c.note("fault %s: closing in the middle of the reply", f)
			c.why = "cut fault"
			_ = c.emit(st, b)
			return errClose
		case FaultUnsolicited421:
			text := c.cfg.Hostname + " Service shutting down, closing transmission channel"
			if f.Text != nil {
				text = string(f.Text)
			}
			for _, l := range (rep{code: 421, enh: "4.3.2", lines: []string{text}}).encode(c.esmtp) {
				b = append(b, l+"\r\n"...)
			}
			c.note("fault %s: an unasked 421 in the same write, then closing", f)
			c.why = "unsolicited-421 fault"
			_ = c.emit(st, b)
			return errClose
		}
	}
	if err := c.emit(st, b); err != nil {
		return err
	}
	if isSequenceOrSyntax(code) {
		c.errors++
		if c.errors >= maxErrors {
			c.why = "too many errors"
			_ = c.direct(421, "4.7.0", c.cfg.Hostname+" Error: too many errors")
			return errClose
		}
	}
	return nil
}

// finish421 sends a 421 and ends the session: RFC 5321 §3.8 says a 421
// closes the channel, which go-smtp did not do.
func (c *conn) finish421(st Stage, r rep) error {
	_ = c.emit(st, c.render(st, r))
	return errClose
}

// act applies the faults that replace the reply or end the session:
// silent, drop, 421, reply and endless. The first matching one wins.
func (c *conn) act(st Stage, r rep) (rep, bool, error) {
	for _, f := range c.cfg.Faults {
		if !f.applies(st) {
			continue
		}
		switch f.Kind {
		case FaultSilent:
			c.note("fault %s: not answering from now on", f)
			c.mute = true
			return r, false, nil
		case FaultDrop:
			c.note("fault %s: dropping the connection at %s", f, st)
			c.why = "drop fault"
			return r, false, errClose
		case Fault421:
			text := c.cfg.Hostname + " Service not available, closing transmission channel"
			if f.Text != nil {
				text = string(f.Text)
			}
			c.note("fault %s: answering 421 at %s and closing", f, st)
			c.why = "421 fault"
			return rep{code: 421, enh: "4.3.2", lines: []string{text}}, true, nil
		case FaultReply:
			c.note("fault %s: answering %s with the given reply", f, st)
			r = rep{code: r.code, raw: f.Text}
			if bytes.HasPrefix(f.Text, []byte("421")) {
				c.why = "reply fault with 421"
				return r, true, nil
			}
			return r, false, nil
		case FaultEndless:
			return r, false, c.endless(f, r.code)
		}
	}
	return r, false, nil
}

// render encodes a reply and applies the faults that bend its bytes, in
// the order they were given.
//
// The bytes returned are valid until the next render.
func (c *conn) render(st Stage, r rep) []byte {
	if r.raw != nil {
		return r.raw
	}
	if len(c.cfg.Faults) == 0 {
		// Every reply of a session without faults: no allocation.
		b := c.out[:0]
		for i := range max(1, len(r.lines)) {
			b = append(r.appendLine(b, i, c.esmtp), "\r\n"...)
		}
		c.out = b
		return b
	}
	for _, f := range c.cfg.Faults {
		if f.Kind == FaultEnhGarbage && f.applies(st) && r.enh != "" {
			r.enh = enhGarbage(f.Variant, r.code, r.enh)
		}
	}
	lines, eol, cut := c.bend(st, r.encode(c.esmtp), r.code)
	return joinReply(lines, eol, cut)
}

// bend applies the faults that change a reply's lines, and returns the
// line ending and the cut (CutPartial, CutMultiline) the faults ask for.
func (c *conn) bend(st Stage, lines []string, code int) ([]string, string, string) {
	eol, cut := "\r\n", ""
	for _, f := range c.cfg.Faults {
		if !f.applies(st) {
			continue
		}
		switch f.Kind {
		case FaultBinary, FaultANSI:
			if len(lines[0]) >= 4 {
				lines[0] = lines[0][:4] + string(f.Text) + lines[0][4:]
			}
		case FaultCut:
			cut = f.Variant
		case FaultMalformed:
			lines = malform(lines, f.Variant, code)
		case FaultLongLine:
			last := lines[len(lines)-1]
			if pad := f.Length - 2 - len(last); pad > 1 {
				lines[len(lines)-1] = last + " " + strings.Repeat("x", pad-1)
			}
		case FaultCodeOnly:
			last := lines[len(lines)-1]
			if len(last) >= 3 {
				last = last[:3]
				if f.Variant == "space" {
					last += " "
				}
				lines[len(lines)-1] = last
			}
		case FaultBareLF:
			eol = "\n"
		}
	}
	return lines, eol, cut
}

// joinReply writes the lines with their ending, or cut as a fault asks.
func joinReply(lines []string, eol, cut string) []byte {
	n := 0
	for _, l := range lines {
		n += len(l) + len(eol)
	}
	b := bytes.NewBuffer(make([]byte, 0, n+4))
	switch cut {
	case CutPartial:
		// Half of the first line and no line end (F14).
		l := lines[0]
		b.WriteString(l[:min(len(l), max(4, len(l)/2))])
	case CutMultiline:
		// Every line as a continuation, then the start of one more (F13).
		for _, l := range lines {
			if len(l) >= 4 {
				l = l[:3] + "-" + l[4:]
			}
			b.WriteString(l)
			b.WriteString(eol)
		}
		b.WriteString(lines[0][:min(3, len(lines[0]))] + "-")
	default:
		for _, l := range lines {
			b.WriteString(l)
			b.WriteString(eol)
		}
	}
	return b.Bytes()
}

// enhGarbage breaks an RFC 3463 enhanced status code the ways
// security-anchors F19 lists.
func enhGarbage(variant string, code int, enh string) string {
	switch variant {
	case EnhShort:
		return enh[:1] + ".7"
	case EnhClass:
		if code/100 == 2 {
			return "5.1.1"
		}
		return "2.0.0"
	}
	return enh[:1] + ".99999.0"
}

// endless answers with "CODE-x" continuation lines that never end, until
// the client goes, the server shuts down or f.Length lines were written;
// then it closes the connection (security-anchors F4). Only the first
// line is logged.
func (c *conn) endless(f Fault, code int) error {
	line := []byte(fmt.Sprintf("%03d-x\r\n", code))
	if f.Line {
		// F3: the code, then "A" with no line end, until the cap.
		c.note("fault %s: one line without an end (cap %d bytes)", f, f.Length)
		if _, err := c.w.Write([]byte(fmt.Sprintf("%03d ", code))); err != nil {
			return errClose
		}
		line = bytes.Repeat([]byte("A"), 1024)
	}
	c.note("fault %s: %03d-x lines until the client goes (cap %d lines)", f, code, f.Length)
	c.logReply(line)
	for i := 0; i < f.Length; i++ {
		if i%1024 == 0 {
			select {
			case <-c.srv.done:
				c.why = "server shut down"
				return errClose
			default:
			}
		}
		if _, err := c.w.Write(line); err != nil {
			c.why = "endless fault: client gone"
			return errClose
		}
	}
	c.why = "endless fault: cap reached"
	return errClose
}

// malform breaks RFC 5321 §4.2's reply grammar in one of the ways the
// security-anchors catalogue (F6–F9) says a client must reject.
func malform(lines []string, variant string, code int) []string {
	out := append([]string(nil), lines...)
	switch variant {
	case MalformedMixed:
		other := "550"
		if code/100 == 5 {
			other = "250"
		}
		if len(out) == 1 {
			text := ""
			if len(out[0]) > 4 {
				text = out[0][4:]
			}
			return []string{out[0][:3] + "-" + text, other + " inconsistent reply code"}
		}
		out[len(out)-1] = other + out[len(out)-1][3:]
		return out
	}
	for i, l := range out {
		if len(l) < 4 {
			continue
		}
		switch variant {
		case MalformedCode:
			out[i] = l[:1] + "x" + l[2:]
		case MalformedSep:
			out[i] = l[:3] + "X" + l[4:]
		case MalformedRange:
			out[i] = "6" + l[1:]
		case MalformedShort:
			out[i] = l[:2] + l[3:]
		}
	}
	return out
}

// emit logs and writes reply bytes, applying delay and drip. A delayed
// or dripped reply first flushes what is pending, so the pause falls on
// this reply and not on earlier ones.
func (c *conn) emit(st Stage, b []byte) error {
	var delay, drip time.Duration
	for _, f := range c.cfg.Faults {
		if !f.applies(st) {
			continue
		}
		switch f.Kind {
		case FaultDelay:
			delay += f.Duration
		case FaultDrip:
			drip = f.Duration
		}
	}
	c.logReply(b)
	if st == StageRcpt && c.inTxn {
		c.recordRcpt(b)
	}
	if delay > 0 || drip > 0 {
		if c.w.Flush() != nil {
			return errClose
		}
	}
	if !c.srv.sleep(delay) {
		c.why = "server closed"
		return errClose
	}
	if drip <= 0 {
		if _, err := c.w.Write(b); err != nil {
			return errClose
		}
		return nil
	}
	for i := range b {
		if i > 0 && !c.srv.sleep(drip) {
			c.why = "server closed"
			return errClose
		}
		if _, err := c.w.Write(b[i : i+1]); err != nil {
			return errClose
		}
		if c.w.Flush() != nil {
			return errClose
		}
	}
	return nil
}

// direct writes a server-initiated reply (timeout, too many errors, busy)
// with no faults applied, and flushes it.
func (c *conn) direct(code int, enh, text string) error {
	var b bytes.Buffer
	for _, l := range (rep{code: code, enh: enh, lines: []string{text}}).encode(c.esmtp) {
		b.WriteString(l + "\r\n")
	}
	c.logReply(b.Bytes())
	if _, err := c.w.Write(b.Bytes()); err != nil {
		return err
	}
	return c.w.Flush()
}

// replyLines calls fn with each line of a reply as the logs show it:
// escaped, its line ending named, "(no line end)" for a last line without
// one.
func replyLines(b []byte, fn func(text string)) {
	splitReply(b, func(text []byte, eol string) { fn(escape(text) + eol) })
}

// splitReply calls fn with each line of a reply before escaping: the
// text, and what the logs show for its ending.
func splitReply(b []byte, fn func(text []byte, eol string)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i+1], b[i+1:]
		}
		text, eol := trimEOL(line)
		if i < 0 {
			eol = " (no line end)"
		}
		fn(text, eol)
	}
}

func (c *conn) logReply(b []byte) {
	if c.sess != nil {
		c.wireReply(b)
	}
	if !c.srv.log.on {
		return
	}
	splitReply(b, func(text []byte, eol string) { c.srv.log.line(c.id, "S: ", text, eol) })
}

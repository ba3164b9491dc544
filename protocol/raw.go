package protocol

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"strings"
)

// Raw sends a line exactly as the user typed it (smtplib's docmd with the
// line whole) and keeps the client's idea of the protocol true, so that a
// debugger can let people type commands by hand:
//
//   - EHLO, LHLO and HELO record the greeting; a 250 to EHLO or LHLO is
//     parsed for extensions, as Ehlo does.
//   - MAIL, RCPT, RSET and QUIT move the state machine; QUIT closes, and
//     so does a 421 to any command (RFC 5321 §3.8).
//   - STARTTLS answered 220 upgrades the connection at once, exactly as
//     StartTLS does (bytes after the 220 discarded and reported, EHLO
//     knowledge forgotten). It is refused inside TLS.
//   - AUTH is refused without TLS unless AllowCleartextAuth, and its
//     initial response is marked secret; a 334 reply is for the caller to
//     answer with AuthRespond or AuthCancel.
//   - DATA answered 354 is for the caller to follow with SendData.
//
// The line goes through the one encoder every command passes (CR, LF and
// NUL refused; non-ASCII only under SMTPUTF8, that is after a MAIL with
// the SMTPUTF8 parameter or in a command carrying it; the line-length
// limits), and its reply through the one state reducer.
func (d Debugger) Raw(line string) (Reply, error) {
	c := d.c
	// Servers split the verb on any white space, so must we: "AUTH\tPLAIN"
	// is AUTH to them and must get AUTH's protections here.
	cmd := commandOf(line)
	var secrets []Span
	switch cmd.verb {
	case "STARTTLS":
		if c.tlsOn {
			return Reply{}, &NotSupportedError{Msg: "TLS is already active on this connection"}
		}
		if conf := c.tlsConfig(nil); conf.ServerName == "" && !conf.InsecureSkipVerify {
			return Reply{}, &ValueError{Msg: "no server name to verify the certificate against (a Unix socket has none); set TLSConfig.ServerName or InsecureSkipVerify"}
		}
	case "AUTH":
		if err := c.checkCleartextAuth(); err != nil {
			return Reply{}, err
		}
		if _, ir, _ := AuthCommand(line); IsSecretResponse(line[ir.Start:ir.End]) {
			secrets = []Span{ir}
		}
	}
	if err := c.putLine(line, secrets); err != nil {
		return Reply{}, err
	}
	r, err := c.GetReply()
	if err != nil {
		return r, err
	}
	c.observe(cmd, r)
	switch cmd.verb {
	case "QUIT":
		c.forgetGreeting()
		c.closeConn()
	case "STARTTLS":
		if r.Code == 220 {
			return r, c.upgrade(c.tlsConfig(nil))
		}
	}
	if r.Code == 421 && cmd.verb != "QUIT" {
		// RFC 5321 §3.8: a 421 answers any command and the server closes.
		// Close too, as every smtplib-level method does here, so that the
		// state says disconnected now rather than at the next command.
		c.note("server answered 421: it is closing the connection")
		c.closeConn()
	}
	return r, nil
}

func (c *Client) authAfter(r Reply) {
	if r.Code == 235 {
		c.state.Authenticated = true
		c.traceState()
	}
}

// rawPath takes the address out of "TO:<a@b> PARAMS".
func rawPath(args string) string {
	if i := strings.IndexByte(args, '<'); i >= 0 {
		if j := strings.IndexByte(args[i:], '>'); j > 0 {
			return args[i+1 : i+j]
		}
	}
	_, rest, _ := strings.Cut(args, ":")
	return strings.TrimSpace(rest)
}

// AuthRespond answers a 334 challenge of a raw AUTH exchange with resp,
// base64-encoded. The line is marked secret.
func (d Debugger) AuthRespond(resp []byte) (Reply, error) {
	c := d.c
	enc := base64.StdEncoding.EncodeToString(resp)
	if err := c.putResponse(enc, []Span{{Start: 0, End: len(enc)}}); err != nil {
		return Reply{}, err
	}
	r, err := c.GetReply()
	if err == nil {
		c.authAfter(r)
	}
	return r, err
}

// AuthCancel cancels a raw AUTH exchange with "*" (RFC 4954).
func (d Debugger) AuthCancel() (Reply, error) {
	c := d.c
	if err := c.putResponse("*", nil); err != nil {
		return Reply{}, err
	}
	return c.GetReply()
}

// DecodeChallenge decodes the text of a 334 reply, for showing it.
func DecodeChallenge(text string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimSpace(text))
}

// SendData sends a message after a raw DATA was answered 354, with the
// same encoder as Data (normalised, dot-stuffed, ended with "."), and reads
// the final reply (one per accepted recipient for LMTP).
func (d Debugger) SendData(msg io.Reader) (Reply, error) { return d.c.sendData(msg) }

func (c *Client) sendData(msg io.Reader) (Reply, error) {
	if err := c.writeData(msg); err != nil {
		return Reply{}, err
	}
	if c.kind == LMTP {
		return c.readLMTPReplies()
	}
	r, err := c.GetReply()
	if err != nil {
		return r, err
	}
	c.endTransaction()
	return r, nil
}

// UpgradeTLS performs the handshake after a STARTTLS the caller sent and
// saw answered 220 by other means; Raw does this by itself.
func (d Debugger) UpgradeTLS(cfg *tls.Config) error {
	return d.c.upgrade(d.c.tlsConfig(cfg))
}

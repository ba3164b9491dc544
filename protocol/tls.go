package protocol

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"
)

// tlsConfig is the configuration for a handshake: the caller's, else the
// client's, else a verifying default; the server name defaults to the host
// connected to, so certificates are checked against what the user typed.
func (c *Client) tlsConfig(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		cfg = c.opts.TLSConfig
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" && c.raw != nil && c.raw.RemoteAddr().Network() != "unix" {
		cfg.ServerName = c.host
	}
	return cfg
}

// StartTLS upgrades the connection (RFC 3207). It greets first if needed,
// refuses when STARTTLS is not advertised, treats any reply but 220 as an
// error (smtplib's CVE-2016-0772 fix), discards and reports whatever the
// server sent after the 220 and before the handshake, builds TLS on the raw
// connection, and forgets everything EHLO said: the next command greets
// again. Certificates are verified unless the configuration says otherwise.
func (c *Client) StartTLS(cfg *tls.Config) (Reply, error) {
	if err := c.EhloOrHeloIfNeeded(); err != nil {
		return Reply{}, err
	}
	if c.tlsOn {
		return Reply{}, &NotSupportedError{Msg: "TLS is already active on this connection"}
	}
	if !c.HasExtn("starttls") {
		return Reply{}, &NotSupportedError{Msg: "STARTTLS extension not supported by server"}
	}
	conf := c.tlsConfig(cfg)
	if conf.ServerName == "" && !conf.InsecureSkipVerify {
		return Reply{}, &ValueError{Msg: "no server name to verify the certificate against (a Unix socket has none); set TLSConfig.ServerName or InsecureSkipVerify"}
	}
	r, err := c.Docmd("STARTTLS", "")
	if err != nil {
		return r, err
	}
	if r.Code != 220 {
		if r.Code == 421 {
			c.closeConn()
		}
		return r, &ResponseError{Code: r.Code, Message: r.Message}
	}
	return r, c.upgrade(conf)
}

// upgrade is what follows a 220 to STARTTLS: report and discard whatever
// the server sent after it in clear text, hand-shake on the raw connection,
// and forget everything EHLO said.
func (c *Client) upgrade(conf *tls.Config) error {
	if n := c.br.Buffered(); n > 0 {
		pending, _ := c.br.Peek(n)
		c.note(fmt.Sprintf("discarded %d bytes received after 220, before TLS: %s", n, preview(pending, 80)))
	}
	if err := c.handshake(conf); err != nil {
		return err
	}
	c.forgetGreeting()
	c.setPhase(PhaseGreeted)
	return nil
}

// handshake runs a TLS client handshake on the raw connection and replaces
// the reader, so no byte buffered in clear text can be read as if it came
// through TLS. A failure closes the connection without QUIT: its state is
// unknown.
func (c *Client) handshake(conf *tls.Config) error {
	tc := tls.Client(c.raw, conf)
	_ = c.raw.SetDeadline(time.Now().Add(c.opts.Timeout))
	err := tc.Handshake()
	_ = c.raw.SetDeadline(time.Time{})
	if err != nil {
		st := tc.ConnectionState()
		var stp *tls.ConnectionState
		if len(st.PeerCertificates) > 0 {
			stp = &st
		}
		var cve *tls.CertificateVerificationError
		if errors.As(err, &cve) && stp == nil {
			stp = &tls.ConnectionState{PeerCertificates: cve.UnverifiedCertificates}
		}
		c.trace(Event{Kind: EventTLS, TLSState: stp, TLSErr: err})
		c.closeConn()
		return &TLSError{Err: explainTLS(err)}
	}
	st := tc.ConnectionState()
	c.conn = tc
	c.br = bufio.NewReaderSize(tc, 4096)
	c.tlsOn, c.tlsState = true, &st
	c.state.TLS = true
	c.trace(Event{Kind: EventTLS, TLSState: &st})
	c.debugf("tls: %s %s", TLSVersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	return nil
}

// explainTLS adds the hint a person needs to the handshake errors that
// have a usual cause.
func explainTLS(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "protocol version not supported"):
		return fmt.Errorf("%w: the server offers only TLS 1.1 or older; ehlo requires TLS 1.2 or later", err)
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"):
		return fmt.Errorf("%w: the server wants a client certificate (--cert and --key)", err)
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return fmt.Errorf("server did not start TLS (first record looks like %q): %w; if it speaks plaintext, try STARTTLS instead of implicit TLS", escapeBytes(rh.RecordHeader[:]), err)
	}
	return err
}

package sandbox

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"strings"
	"time"
)

// The faults of this file make the sandbox play the vulnerable servers
// that `ehlo audit` looks for, so that every finding can be seen failing
// and passing, and so that a workshop can show each hole on a server it
// owns. docs/sandbox.md gives each one's lesson.

// upgradeKeeping is upgrade under keep-pipelined: the bytes the client
// sent in plaintext behind STARTTLS are read as if they had come inside
// TLS, which is CVE-2011-0411 (the "STARTTLS command injection" of Postfix
// before 2.8.4 and of many servers since).
func (c *conn) upgradeKeeping(f Fault) error {
	n := c.r.Buffered()
	kept, _ := c.r.Peek(n)
	kept = bytes.Clone(kept)
	_, _ = c.r.Discard(n)
	if err := c.handshake(c.srv.lim.handshake); err != nil {
		return err
	}
	if n > 0 {
		c.note("fault %s: %d bytes pipelined after STARTTLS kept and run inside TLS", f, n)
		c.r = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(kept), c.r), readBuffer)
	}
	return nil
}

// knownUser is whom user-unknown admits exists: the demo users and
// postmaster (RFC 5321 §4.5.1).
func (c *conn) knownUser(local string) bool {
	if strings.EqualFold(local, "postmaster") {
		return true
	}
	_, ok := c.cfg.Users[local]
	return ok
}

// localDomain reports whether domain is the sandbox's own: its hostname,
// localhost, or none at all.
func (c *conn) localDomain(domain string) bool {
	return domain == "" || strings.EqualFold(domain, c.cfg.Hostname) || strings.EqualFold(domain, "localhost")
}

// vrfyEnumerating is VRFY under user-unknown: 250 for a known user, 550
// for any other, so VRFY tells who exists (RFC 5321 §7.3).
func (c *conn) vrfyEnumerating(name string) error {
	if c.knownUser(name) {
		return c.reply(StageVrfy, 250, "2.1.5", name+" <"+name+"@"+c.cfg.Hostname+">")
	}
	return c.reply(StageVrfy, 550, "5.1.1", "<"+name+">: Recipient address rejected: User unknown in local recipient table")
}

// rcptFault answers RCPT under relay-denied and user-unknown; handled is
// false when neither applies to path.
func (c *conn) rcptFault(path string) (handled bool, err error) {
	local, domain := path, ""
	if at := strings.LastIndexByte(path, '@'); at >= 0 {
		local, domain = path[:at], path[at+1:]
	}
	if f, ok := c.fault(FaultRelayDenied); ok && !c.localDomain(domain) {
		c.note("fault %s: <%s> is not a local domain", f, path)
		return true, c.reply(StageRcpt, 554, "5.7.1", "<"+path+">: Relay access denied")
	}
	if f, ok := c.fault(FaultUserUnknown); ok && c.localDomain(domain) && !c.knownUser(local) {
		c.note("fault %s: <%s> is not a known user", f, path)
		return true, c.reply(StageRcpt, 550, "5.1.1", "<"+path+">: Recipient address rejected: User unknown in local recipient table")
	}
	return false, nil
}

// greetGuarded is the greeting under pregreet-guard, the way Postfix's
// postscreen greets: the first line of a multi-line 220, a pause, and a
// client that spoke during the pause is a spambot that did not wait for
// the greeting (RFC 5321 §4.3.1), answered 554 and closed.
func (c *conn) greetGuarded(f Fault, text string) error {
	if c.implicit {
		return c.reply(StageGreeting, 220, "", text)
	}
	first := "220-" + c.cfg.Hostname + "\r\n"
	c.logReply([]byte(first))
	if _, err := c.w.WriteString(first); err != nil || c.w.Flush() != nil {
		return errClose
	}
	_ = c.raw.SetReadDeadline(time.Now().Add(f.Duration))
	var b [1]byte
	n, err := c.raw.Read(b[:])
	_ = c.raw.SetReadDeadline(time.Time{})
	switch {
	case n > 0:
		c.note("fault %s: the client spoke before the greeting", f)
		c.why = "pregreet"
		_ = c.direct(554, "5.5.1", c.cfg.Hostname+" Protocol error: talking before the greeting")
		return errClose
	case err != nil && !isTimeout(err):
		c.why = "client closed the connection"
		return errClose
	}
	return c.reply(StageGreeting, 220, "", text)
}

// legacyTLS is the TLS configuration under tls-legacy: TLS 1.0 and 1.1 and
// every suite Go can speak, broken ones included (RFC 8996, RFC 7465,
// Sweet32).
func legacyTLS(conf *tls.Config, faults []Fault) {
	for _, f := range faults {
		if f.Kind != FaultTLSLegacy {
			continue
		}
		conf.MinVersion = tls.VersionTLS10
		conf.CipherSuites = nil
		for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
			conf.CipherSuites = append(conf.CipherSuites, s.ID)
		}
		return
	}
}

// allowsInsecureAuth reports whether auth-before-tls is among faults.
func allowsInsecureAuth(faults []Fault) bool {
	for _, f := range faults {
		if f.Kind == FaultAuthNoTLS {
			return true
		}
	}
	return false
}

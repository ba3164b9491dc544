package sandbox

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultListen          = "127.0.0.1:0"
	DefaultHostname        = "sandbox.ehlo.test"
	DefaultBanner          = "ESMTP ehlo sandbox"
	DefaultLMTPBanner      = "LMTP ehlo sandbox"
	DefaultMaxMessageBytes = 10 << 20
	DefaultMaxRecipients   = 100
	DefaultReadTimeout     = 5 * time.Minute
	DefaultMailboxLimit    = 1000
	DefaultMailboxBytes    = 32 << 20
	DefaultBufferBytes     = 32 << 20
)

// DefaultUsers returns the demo credentials used when Config.Users is
// empty. They are printed by Run, so they are public by design.
func DefaultUsers() map[string]string {
	return map[string]string{"alice": "alicepw", "bob": "bobpw"}
}

// Config describes one sandbox. The zero value is a working loopback
// server; see the Default constants.
type Config struct {
	// Listen is the plain SMTP listener (STARTTLS offered). Empty means
	// DefaultListen; "-" disables it.
	Listen string
	// TLSListen is the implicit-TLS listener (RFC 8314). Empty means
	// DefaultListen; "-" disables it.
	TLSListen string
	// LMTP makes every listener speak LMTP (RFC 2033): LHLO instead of
	// EHLO, and one reply per accepted recipient after the message.
	LMTP bool
	// Socket, when set, adds a listener on this Unix socket path. Set
	// Listen and TLSListen to "-" to listen on the socket alone.
	Socket string
	// Hostname is the domain in the greeting and the EHLO reply, and a SAN
	// of the generated certificate.
	Hostname string
	// Banner is the text after "220 <Hostname> ".
	Banner string
	// TLSCert and TLSKey are PEM files. Both empty means an in-memory
	// self-signed ECDSA certificate valid for 24 hours with SANs localhost,
	// 127.0.0.1, ::1 and Hostname.
	TLSCert, TLSKey string
	// Users maps user names to passwords for AUTH; empty means
	// DefaultUsers. VRFY answers 250 for these names.
	Users map[string]string
	// AllowInsecureAuth offers and accepts AUTH on connections without
	// TLS. Off by default: AUTH is only advertised after TLS, and an AUTH
	// in the clear gets 538 (RFC 4954 §6).
	AllowInsecureAuth bool
	// MaxMessageBytes is advertised with SIZE and enforced for DATA and
	// BDAT (552 5.3.4). Zero means DefaultMaxMessageBytes, lowered to
	// MailboxBytes or BufferBytes if either is smaller; a value given
	// above either is an error, since such a message could never be kept.
	MaxMessageBytes int64
	// MaxRecipients caps RCPT per transaction (452 4.5.3 above it).
	MaxRecipients int
	// MailboxLimit is how many messages the Mailbox keeps; older ones are
	// dropped (and the drop logged) so a sandbox used as a load-test sink
	// stays bounded.
	MailboxLimit int
	// MailboxBytes bounds the Mailbox's size the same way (see
	// Message.size); DefaultMailboxBytes when zero.
	MailboxBytes int64
	// BufferBytes bounds the message content held by all sessions
	// together while it arrives (DATA and BDAT); a message that would
	// take the total over it is read to its end, dropped and refused
	// with 452 4.3.1. DefaultBufferBytes when zero.
	BufferBytes int64
	// Faults are injected into every session, in order (see ParseFault).
	Faults []Fault
	// Log receives one line per command, reply line and event, tagged
	// with the session id: "[s3] C: EHLO x". nil discards.
	Log io.Writer
	// WriteCA, for Run, is a file to write the server's certificate to
	// (PEM), so a client can verify the sandbox with --ca FILE instead
	// of --insecure, without openssl. It is replaced if it exists.
	WriteCA string
	// ReadTimeout bounds each request from a client (RFC 5321 §4.5.3.2
	// suggests 5 minutes for the next command): each line, command or
	// message content, and each BDAT chunk must arrive whole within it,
	// content with a second more for every 500 octets received. When it
	// expires the server answers 421 and closes. A request may take up to an eighth longer: the
	// deadline is renewed only once it has aged that much (deadlineConn).
	ReadTimeout time.Duration
	// MaxSessions caps concurrent sessions, counted at accept; a client
	// past it is answered 421 and closed. Zero means 256.
	MaxSessions int
	// MaxSessionsPerClient caps the sessions one client address holds
	// at once, so that no one host takes the whole server; past it the
	// client is answered 421 and closed. Loopback and Unix-socket
	// clients are not counted. Zero means half of MaxSessions.
	MaxSessionsPerClient int
	// Script, when set, makes the server play a recorded server side
	// instead of its own replies (`ehlo replay --serve`; see Script).
	// Every listener serves it, each connection beginning with TLS if
	// its recorded one did; the SMTP settings above (LMTP, Banner,
	// Users, Faults…) do not apply.
	Script *Script

	// Workshop makes one sandbox serve a room (workshop.go, room.go,
	// xmailbox.go): a mailbox per user that holds only what was sent to
	// or by that user, the XMAILBOX extension that lets an authenticated
	// user read it, and the room API (Sessions, Watch, SetFault).
	Workshop bool
	// StudentMailboxBytes bounds each user's mailbox in a workshop, as
	// MailboxBytes bounds the sandbox's (MailboxLimit bounds the count).
	// Zero means MailboxBytes divided among the users, at least
	// minStudentBytes. The message size limit is lowered to it.
	StudentMailboxBytes int64
	// OnSessionEnd, when set, is called once per closed session with its
	// summary and its whole (bounded) wire log, on the session's own
	// goroutine: keep it short (hand the lines to another goroutine to
	// save them as a recording). Setting it also turns on Sessions.
	OnSessionEnd func(info SessionInfo, lines []WireLine)
	// AccountsCSV, for Run, is a file to write the users and passwords
	// to (user,password; mode 0600), never over an existing file unless
	// AccountsOverwrite is set.
	AccountsCSV       string
	AccountsOverwrite bool
}

func (c Config) withDefaults() (Config, error) {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.TLSListen == "" {
		c.TLSListen = DefaultListen
	}
	if c.Hostname == "" {
		c.Hostname = DefaultHostname
	}
	if c.Banner == "" {
		c.Banner = DefaultBanner
		if c.LMTP {
			c.Banner = DefaultLMTPBanner
		}
	}
	if len(c.Users) == 0 {
		c.Users = DefaultUsers()
	} else {
		// Copy so the caller cannot change credentials under a running
		// server's feet.
		u := make(map[string]string, len(c.Users))
		for k, v := range c.Users {
			u[k] = v
		}
		c.Users = u
	}
	if allowsInsecureAuth(c.Faults) {
		c.AllowInsecureAuth = true
	}
	if c.MailboxBytes <= 0 {
		c.MailboxBytes = DefaultMailboxBytes
	}
	if c.BufferBytes <= 0 {
		c.BufferBytes = DefaultBufferBytes
	}
	c.studentDefaults()
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = min(DefaultMaxMessageBytes, c.MailboxBytes, c.BufferBytes, c.studentCap())
	}
	if c.MaxMessageBytes > c.MailboxBytes || c.MaxMessageBytes > c.BufferBytes || c.MaxMessageBytes > c.studentCap() {
		return c, fmt.Errorf("sandbox: the message size limit (%d bytes) is above the mailbox's (%d), the buffer's (%d) or a student's mailbox's (%d)",
			c.MaxMessageBytes, c.MailboxBytes, c.BufferBytes, c.StudentMailboxBytes)
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = DefaultMaxRecipients
	}
	if c.MailboxLimit <= 0 {
		c.MailboxLimit = DefaultMailboxLimit
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = maxSessions
	}
	if c.MaxSessionsPerClient <= 0 {
		c.MaxSessionsPerClient = max(1, c.MaxSessions/2)
	}
	if c.Script != nil && len(c.Script.Conns) == 0 {
		return c, errors.New("sandbox: the script holds no connection")
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	return c, nil
}

// validate refuses what would put CR, LF or white space where a reply
// carries it (the hostname, the banner, the users), and settings that
// cannot work together.
func (c Config) validate() error {
	if strings.ContainsAny(c.Hostname, " \t\r\n") {
		return fmt.Errorf("sandbox: hostname %q contains white space", c.Hostname)
	}
	if strings.ContainsAny(c.Banner, "\r\n") {
		return errors.New("sandbox: banner contains CR or LF")
	}
	for name, pass := range c.Users {
		if name == "" || strings.ContainsAny(name, " \t\r\n\x00") {
			return fmt.Errorf("sandbox: user name %q is empty or contains white space or NUL", name)
		}
		if strings.ContainsAny(pass, "\r\n\x00") {
			return fmt.Errorf("sandbox: password of %q contains CR, LF or NUL", name)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("sandbox: TLSCert and TLSKey must be given together")
	}
	if c.Listen == "-" && c.TLSListen == "-" && c.Socket == "" {
		return errors.New("sandbox: every listener is disabled")
	}
	return nil
}

// ParseSize reads a byte count for a flag: a whole number with an
// optional binary suffix K, M or G (KiB, MiB, GiB; "64M" is 64 << 20).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	shift := 0
	switch {
	case strings.HasSuffix(t, "K"):
		shift = 10
	case strings.HasSuffix(t, "M"):
		shift = 20
	case strings.HasSuffix(t, "G"):
		shift = 30
	}
	if shift > 0 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, with K, M or G for KiB, MiB, GiB", s)
	}
	return n << shift, nil
}

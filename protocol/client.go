package protocol

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is the flavour of connection, one per smtplib class.
type Kind int

const (
	SMTP  Kind = iota // smtplib.SMTP: plain TCP, STARTTLS on request; port 25
	SMTPS             // smtplib.SMTP_SSL: implicit TLS; port 465
	LMTP              // smtplib.LMTP: LHLO, one reply per recipient; port 2003, or a Unix socket
)

func (k Kind) String() string {
	if names := [...]string{"smtp", "smtps", "lmtp"}; k >= 0 && int(k) < len(names) {
		return names[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// DefaultPort is the port a Kind connects to when none is given.
func (k Kind) DefaultPort() int {
	switch k {
	case SMTPS:
		return SMTPSSLPort
	case LMTP:
		return LMTPPort
	}
	return SMTPPort
}

// Options configure a Client. Timeout must be set: zero is an error, as in
// smtplib (it would mean a non-blocking socket), not "no timeout".
type Options struct {
	// LocalHostname is the name sent with HELO/EHLO; empty means the
	// machine's FQDN, or a domain literal of its address as smtplib does.
	LocalHostname string
	// Timeout bounds connecting, each write and each whole reply. A write
	// of the message is at most 64 KiB (DATA) or one 256 KiB chunk (BDAT),
	// so a server that takes no data for Timeout fails the send.
	Timeout time.Duration
	// DataTimeout, when set, bounds writing a whole message, from the 354
	// (or the first BDAT) to its last byte, BDAT chunks' replies included:
	// a server that keeps taking a little data cannot stretch the transfer
	// past it. The reply after the message has Timeout. Zero: no bound.
	DataTimeout time.Duration
	// SourceAddress is the local "host" or "host:port" to bind.
	SourceAddress string
	// Network narrows a TCP connection to IPv4 ("tcp4") or IPv6 ("tcp6");
	// empty means either, as the resolver orders them.
	Network string
	// Dial, when set, opens the connection in place of a socket, given the
	// host Connect was called with (swaks's --pipe: a command's stdin and
	// stdout). The trace calls its network "pipe".
	Dial func(host string) (net.Conn, error)
	// Preamble is written as soon as the connection opens, before TLS on
	// connect and before the greeting is read: a PROXY protocol header.
	Preamble []byte
	// TLSConfig is used for implicit TLS and as StartTLS's default.
	// Certificates are verified unless it says InsecureSkipVerify; an empty
	// ServerName is filled with the host connected to.
	TLSConfig *tls.Config
	// Tracer sees every byte, the TLS handshake and every state change.
	Tracer Tracer
	// AllowCleartextAuth is the one explicit opt-in to send credentials on
	// a connection without TLS. There is no localhost exception.
	AllowCleartextAuth bool
	// Pipelining lets Sendmail send MAIL, every RCPT and DATA (or a whole
	// one-chunk BDAT) in one write when the server offers PIPELINING
	// (RFC 2920), saving a round trip per command.
	Pipelining bool
	// Chunking lets Sendmail send the message with BDAT when the server
	// offers CHUNKING (RFC 3030): no dot-stuffing, exact chunk sizes, and
	// the message's own bytes with BODY=BINARYMIME where offered and asked.
	Chunking bool
}

// Client is one conversation with one SMTP, ESMTP or LMTP server, the
// counterpart of an smtplib.SMTP object. It is not safe for concurrent use.
type Client struct {
	kind Kind
	opts Options

	host string   // the host connected to: the TLS server name unless TLSConfig names one
	raw  net.Conn // the TCP or Unix connection, under any TLS
	conn net.Conn // what commands go through: raw, or TLS on top of it
	br   *bufio.Reader

	tlsOn    bool
	tlsState *tls.ConnectionState

	// heloResp/ehloResp are smtplib's helo_resp and ehlo_resp, nil for
	// None: they decide whether ehlo_or_helo_if_needed greets.
	heloResp, ehloResp *string
	doesESMTP          bool
	features           map[string]string
	extensions         []Extension

	utf8 bool // smtplib's command_encoding is utf-8 (SMTPUTF8 accepted), until RSET

	state State

	dataDeadline time.Time // when writing the message must end (Options.DataTimeout)

	pipelined int // replies outstanding in a pipelined group

	accepted    []string // recipients accepted in this transaction, for LMTP's replies
	lmtpReplies []RecipientReply
	encBuf      []byte // the DATA encoder's buffer, reused across messages
	copyBuf     []byte // and the buffer the message is read through
	chunker     *chunker
	wroteAt     time.Time  // when the last write returned, until a reply is read (conn.go)
	replyTexts  replyTexts // recent reply texts, made strings once (conn.go)
	dropAt      int        // the reply, counted from 1, read no more (Debugger.DropAtReply); 0: none
	replyNext   bool       // the reply to the command being written is read next (Docmd)
	staged      stagedCmd  // a command the reply's read writes (conn.go)

	debugLevel int
	debugOut   io.Writer
	now        func() time.Time

	// abortMu guards what Abort, which may run on another goroutine
	// than the one driving the client, acts on: the connection, or the
	// dial under way (cancelDial), or, with neither, the next dial
	// (abortNext).
	abortMu    sync.Mutex
	abortConn  net.Conn
	cancelDial context.CancelFunc
	abortNext  bool
}

// Extension is one advertised EHLO keyword, in the order advertised.
type Extension struct {
	Keyword string // as the server wrote it
	Params  string
}

// RecipientReply is an LMTP per-recipient reply to the end of DATA.
type RecipientReply struct {
	Recipient string `json:"recipient"`
	Reply
}

// NewClient returns an unconnected client.
func NewClient(kind Kind, opts Options) *Client {
	return &Client{kind: kind, opts: opts, features: map[string]string{}, now: time.Now, debugOut: os.Stderr}
}

// Dial connects and reads the greeting, like constructing smtplib.SMTP with
// a host: a greeting other than 220 closes the connection and returns a
// *ConnectError. Port 0 means the Kind's default, or the port in host.
func Dial(kind Kind, host string, port int, opts Options) (*Client, Reply, error) {
	c := NewClient(kind, opts)
	r, err := c.Connect(host, port)
	if err != nil {
		return nil, r, err
	}
	if r.Code != 220 {
		c.Close()
		return nil, r, &ConnectError{ResponseError(r)}
	}
	return c, r, nil
}

// Kind says what flavour of client this is.
func (c *Client) Kind() Kind { return c.kind }

// State is the client's current position in the protocol.
func (c *Client) State() State { return c.state }

// TLSConnectionState returns the TLS state when the connection is encrypted.
func (c *Client) TLSConnectionState() (tls.ConnectionState, bool) {
	if c.tlsState == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tlsState, true
}

// Connected says whether there is a connection.
func (c *Client) Connected() bool { return c.conn != nil }

// SplitHostPort parses a server string as smtplib's connect() does, plus the
// bracketed "[v6]:port" form: "host:port" is split only when port is 0 and
// the host has exactly one colon, so "::1" stays a host.
func SplitHostPort(host string, port int) (string, int, error) {
	if port != 0 {
		return host, port, nil
	}
	if strings.HasPrefix(host, "[") {
		if end := strings.Index(host, "]"); end > 0 {
			rest := host[end+1:]
			h := host[1:end]
			if rest == "" {
				return h, 0, nil
			}
			if !strings.HasPrefix(rest, ":") {
				return "", 0, &ValueError{Msg: fmt.Sprintf("unexpected %q after ']'", rest)}
			}
			p, err := strconv.Atoi(rest[1:])
			if err != nil || p <= 0 || p > 65535 {
				return "", 0, portError(rest[1:], err)
			}
			return h, p, nil
		}
	}
	i, j := strings.Index(host, ":"), strings.LastIndex(host, ":")
	if i >= 0 && i == j {
		p, err := strconv.Atoi(host[i+1:])
		if err != nil || p < 0 || p > 65535 {
			return "", 0, portError(host[i+1:], err)
		}
		return host[:i], p, nil
	}
	return host, 0, nil
}

// portError says what is wrong with a port: smtplib's "nonnumeric port"
// when it is not a number, and, where Python's socket layer would refuse a
// number too large, that it is out of range rather than not a number.
func portError(text string, err error) error {
	if err != nil {
		return &ValueError{Msg: fmt.Sprintf("nonnumeric port %q", text)}
	}
	return &ValueError{Msg: fmt.Sprintf("port %s out of range (1-65535)", text)}
}

// Connect opens the connection and reads the greeting. Like smtplib's
// connect() it returns whatever the server greeted with; only Dial treats a
// greeting other than 220 as an error. It does not forget earlier EHLO
// knowledge (smtplib gh-85642): use Quit, or a new Client, for a clean start.
func (c *Client) Connect(host string, port int) (Reply, error) {
	if c.conn != nil {
		c.Close()
	}
	network, addr, host, err := c.target(host, port)
	if err != nil {
		return Reply{}, err
	}
	c.trace(Event{Kind: EventConnect, Network: network, Addr: addr})
	if c.opts.Timeout <= 0 {
		return Reply{}, &ValueError{Msg: ErrTimeoutZero.Error(), Err: ErrTimeoutZero}
	}
	if c.kind == SMTPS {
		c.debugf("connect: %s", pyAddr(addr, network))
	}
	c.debugf("connect: to %s %s", pyAddr(addr, network), pySource(c.opts.SourceAddress))
	conn, err := c.dial(network, addr)
	if err != nil {
		if network == "unix" {
			c.debugf("connect fail: %s", addr)
		}
		return Reply{}, err
	}
	c.host = host
	c.raw, c.conn = conn, conn
	c.br = bufio.NewReaderSize(conn, 4096)
	c.tlsOn, c.tlsState = false, nil
	c.setPhase(PhaseConnected)
	if len(c.opts.Preamble) > 0 {
		if err := c.write(c.opts.Preamble, nil); err != nil {
			return Reply{}, err
		}
	}
	if c.kind == SMTPS {
		if err := c.handshake(c.tlsConfig(nil)); err != nil {
			return Reply{}, err
		}
	}
	r, err := c.GetReply()
	if err != nil {
		return r, err
	}
	if c.debugLevel > 0 {
		c.debugf("connect: %s", pyRepr([]byte(r.Message), true))
	}
	if r.Code == 220 {
		c.setPhase(PhaseGreeted)
	}
	return r, nil
}

// target is where Connect goes: a custom dialer's name, a Unix socket (a
// path), or host and port, with smtplib's defaults (localhost, the kind's
// port). host comes back without the port, for TLS's server name.
func (c *Client) target(host string, port int) (network, addr, h string, err error) {
	switch {
	case c.opts.Dial != nil:
		return "pipe", host, host, nil
	case strings.HasPrefix(host, "/"):
		return "unix", host, host, nil
	}
	h, p, err := SplitHostPort(host, port)
	if err != nil {
		return "", "", "", err
	}
	if h == "" {
		h = "localhost"
	}
	if p == 0 {
		p = c.kind.DefaultPort()
	}
	return "tcp", net.JoinHostPort(h, strconv.Itoa(p)), h, nil
}

// dial opens the connection to target's address, from Options'
// SourceAddress and over its Network (tcp4, tcp6) when set.
func (c *Client) dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.abortMu.Lock()
	if c.abortNext {
		c.abortNext = false
		cancel()
	}
	c.cancelDial = cancel
	c.abortMu.Unlock()

	conn, err := c.dialContext(ctx, network, addr)

	c.abortMu.Lock()
	defer c.abortMu.Unlock()
	c.cancelDial = nil
	if err == nil && ctx.Err() != nil {
		// Aborted as the connection was made (or by a custom Dial,
		// which cannot be interrupted).
		conn.Close()
		err = &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	if err != nil {
		return nil, err
	}
	c.abortConn = conn
	return conn, nil
}

// dialContext makes the connection; cancelling ctx (Abort) stops it.
func (c *Client) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if ctx.Err() != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	if c.opts.Dial != nil {
		return c.opts.Dial(addr)
	}
	d := net.Dialer{Timeout: c.opts.Timeout}
	if c.opts.SourceAddress != "" && network == "tcp" {
		la, err := resolveSource(c.opts.SourceAddress)
		if err != nil {
			return nil, err
		}
		d.LocalAddr = la
	}
	if network == "tcp" && c.opts.Network != "" {
		network = c.opts.Network
	}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	// Only a socket the client dialled itself: a caller's Options.Dial
	// gets its connection used as it gave it.
	return withRawIO(conn), nil
}

func resolveSource(s string) (net.Addr, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		h, p = s, "0"
	}
	return net.ResolveTCPAddr("tcp", net.JoinHostPort(h, p))
}

// Close closes the connection without sending anything; it is idempotent.
func (c *Client) Close() error {
	c.closeConn()
	return nil
}

// Abort closes the network connection at once, so that a call blocked
// on it in another goroutine returns with an error; while Connect is
// dialling, it stops the dial (a server that never answers the SYN would
// otherwise hold it for Timeout). With no connection and no dial under
// way, the next dial fails at once: the Abort was meant for a Connect
// about to start. It is the one method that is safe to call concurrently;
// the goroutine driving the client still sees the failure and does the
// rest of the clean-up.
func (d Debugger) Abort() error {
	c := d.c
	c.abortMu.Lock()
	defer c.abortMu.Unlock()
	switch {
	case c.cancelDial != nil:
		c.cancelDial()
	case c.abortConn != nil:
		return c.abortConn.Close()
	default:
		c.abortNext = true
	}
	return nil
}

func (c *Client) closeConn() {
	c.abortMu.Lock()
	c.abortConn = nil
	c.abortMu.Unlock()
	if c.conn == nil {
		return
	}
	c.conn.Close()
	if c.raw != nil && c.raw != c.conn {
		c.raw.Close()
	}
	c.conn, c.raw, c.br = nil, nil, nil
	c.pipelined = 0
	c.state = State{Phase: PhaseDisconnected}
	c.trace(Event{Kind: EventClose})
}

// Putcmd sends one command line through the encoder every command passes
// (encodeLine): CR, LF or NUL anywhere, non-ASCII without SMTPUTF8, or a
// line over its length limit is refused before anything is written.
func (c *Client) Putcmd(cmd, args string) error {
	line := cmd
	if args != "" {
		line = cmd + " " + args
	}
	return c.putLine(line, nil)
}

func (c *Client) putLine(line string, secrets []Span) error {
	return c.putEncoded(line, lineCommand, secrets)
}

// putResponse sends an answer to a 334 challenge.
func (c *Client) putResponse(line string, secrets []Span) error {
	return c.putEncoded(line, lineResponse, secrets)
}

func (c *Client) putEncoded(line string, kind lineKind, secrets []Span) error {
	utf8 := c.utf8
	b, err := c.encodeLine(make([]byte, 0, len(line)+len(CRLF)), line, kind)
	if err != nil {
		return err
	}
	if c.debugLevel > 0 {
		c.debugf("send: %s", pyRepr(redactSpans(b, secrets), false))
	}
	if err := c.send(b, secrets); err != nil {
		c.utf8 = utf8 // not sent: the command changed nothing
		return err
	}
	return nil
}

// Docmd sends a command and returns the reply: the raw "type a line" primitive.
func (c *Client) Docmd(cmd, args string) (Reply, error) {
	c.replyNext = true
	err := c.Putcmd(cmd, args)
	c.replyNext = false
	if err != nil {
		return Reply{}, err
	}
	return c.GetReply()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// LocalHostname is the name HELO and EHLO send by default.
func (c *Client) LocalHostname() string {
	if c.opts.LocalHostname != "" {
		return c.opts.LocalHostname
	}
	if name := fqdn(); name != "" {
		c.opts.LocalHostname = name
		return name
	}
	// No FQDN: smtplib sends a literal of the host's address. The
	// connection's own local address is the one the server sees, where a
	// lookup of the host name may give another interface or loopback.
	if c.raw != nil {
		if a, ok := c.raw.LocalAddr().(*net.TCPAddr); ok {
			return addressLiteral(a.IP)
		}
	}
	return defaultLocalHostname()
}

// hostname is os.Hostname; tests replace it.
var hostname = os.Hostname

// fqdn is the host's fully qualified name, as smtplib takes it: the host
// name if it has a dot, else its canonical name if that has one; "" when
// there is none.
func fqdn() string {
	name, err := hostname()
	if err != nil {
		return ""
	}
	if strings.Contains(name, ".") {
		return name
	}
	if cname, err := net.LookupCNAME(name); err == nil {
		cname = strings.TrimSuffix(cname, ".")
		if strings.Contains(cname, ".") {
			return cname
		}
	}
	return ""
}

// addressLiteral is an RFC 5321 §4.1.3 address literal.
func addressLiteral(ip net.IP) string {
	if ip4 := ip.To4(); ip4 != nil {
		return "[" + ip4.String() + "]"
	}
	return "[IPv6:" + ip.String() + "]"
}

// defaultLocalHostname is the literal of the host's address, else
// [127.0.0.1], for a client that is not connected.
func defaultLocalHostname() string {
	if name, err := hostname(); err == nil {
		if addrs, err := net.LookupHost(name); err == nil {
			for _, a := range addrs {
				if ip := net.ParseIP(a); ip != nil && ip.To4() != nil {
					return "[" + a + "]"
				}
			}
		}
	}
	return "[127.0.0.1]"
}

// Helo sends HELO and remembers the reply whatever its code.
func (c *Client) Helo(name string) (Reply, error) {
	if name == "" {
		name = c.LocalHostname()
	}
	r, err := c.Docmd("helo", name)
	if err == nil {
		c.observe(sentCmd{verb: "HELO", args: name}, r)
	}
	return r, err
}

// Ehlo sends EHLO (LHLO for LMTP) and parses the advertised extensions
// exactly as smtplib does when the reply is 250.
func (c *Client) Ehlo(name string) (Reply, error) {
	if name == "" {
		name = c.LocalHostname()
	}
	c.features = map[string]string{}
	c.extensions = nil
	verb := "ehlo"
	if c.kind == LMTP {
		verb = "lhlo"
	}
	r, err := c.Docmd(verb, name)
	if err == nil {
		c.observe(sentCmd{verb: strings.ToUpper(verb), args: name}, r)
	}
	return r, err
}

// ParseEHLO parses the text of a 250 EHLO reply as smtplib does: the first
// line (the server's name) is skipped; keywords are lower-cased; a later
// duplicate overwrites an earlier one, except AUTH, whose parameters
// accumulate, old-style "AUTH=" lines included. It also returns the
// extensions in advertised order for display.
func ParseEHLO(msg string) (map[string]string, []Extension) {
	features := map[string]string{}
	var exts []Extension
	lines := strings.Split(msg, "\n")
	for _, line := range lines[1:] {
		if len(line) >= 5 && strings.EqualFold(line[:5], "auth=") {
			features["auth"] = features["auth"] + " " + line[5:]
			exts = append(exts, Extension{Keyword: line[:4], Params: line[5:]})
			continue
		}
		n := 0
		for n < len(line) && (isAlnum(line[n]) || (n > 0 && line[n] == '-')) {
			n++
		}
		if n == 0 {
			continue
		}
		key := strings.ToLower(line[:n])
		params := strings.TrimSpace(line[n:])
		if key == "auth" {
			features[key] = features[key] + " " + params
		} else {
			features[key] = params
		}
		exts = append(exts, Extension{Keyword: line[:n], Params: params})
	}
	return features, exts
}

func isAlnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// EhloOrHeloIfNeeded greets the server unless this connection already has:
// EHLO, and HELO if EHLO is not answered 2xx. Both refused is a *HeloError.
func (c *Client) EhloOrHeloIfNeeded() error {
	if c.heloResp != nil || c.ehloResp != nil {
		return nil
	}
	r, err := c.Ehlo("")
	if err != nil {
		return err
	}
	if r.Code/100 == 2 {
		return nil
	}
	if c.kind == LMTP {
		// RFC 2033 §4.1: an LMTP server refuses HELO and EHLO; falling back
		// to HELO as smtplib does could only reach a server that is not
		// speaking LMTP.
		return &HeloError{ResponseError(r)}
	}
	r, err = c.Helo("")
	if err != nil {
		return err
	}
	if r.Code/100 != 2 {
		return &HeloError{ResponseError(r)}
	}
	return nil
}

// HasExtn says whether the server advertised the extension (case-insensitive).
func (c *Client) HasExtn(name string) bool {
	_, ok := c.features[strings.ToLower(name)]
	return ok
}

// Extn returns the parameters of an advertised extension.
func (c *Client) Extn(name string) (string, bool) {
	v, ok := c.features[strings.ToLower(name)]
	return v, ok
}

// Features returns a copy of smtplib's esmtp_features.
func (c *Client) Features() map[string]string {
	m := make(map[string]string, len(c.features))
	for k, v := range c.features {
		m[k] = v
	}
	return m
}

// Extensions returns the advertised extensions in the server's order.
func (c *Client) Extensions() []Extension { return append([]Extension(nil), c.extensions...) }

// DoesESMTP says whether the last EHLO was answered 250.
func (c *Client) DoesESMTP() bool { return c.doesESMTP }

// EhloResp returns the text of the last EHLO reply, if EHLO was sent.
func (c *Client) EhloResp() (string, bool) {
	if c.ehloResp == nil {
		return "", false
	}
	return *c.ehloResp, true
}

// HeloResp returns the text of the last HELO reply, if HELO was sent.
func (c *Client) HeloResp() (string, bool) {
	if c.heloResp == nil {
		return "", false
	}
	return *c.heloResp, true
}

func (c *Client) forgetGreeting() {
	c.heloResp, c.ehloResp = nil, nil
	c.features = map[string]string{}
	c.extensions = nil
	c.doesESMTP = false
}

// Help sends HELP and returns the text of the reply only, as smtplib does.
func (c *Client) Help(args string) (string, error) {
	r, err := c.Docmd("help", args)
	return r.Message, err
}

// Rset sends RSET; it also returns the command encoding to ASCII.
func (c *Client) Rset() (Reply, error) {
	c.utf8 = false
	r, err := c.Docmd("rset", "")
	if err == nil {
		c.observe(sentCmd{verb: "RSET"}, r)
	}
	return r, err
}

// rsetQuietly is smtplib's _rset: a disconnect here is swallowed so the
// caller reports the error that made it reset, and the disconnect surfaces
// on the next command.
func (c *Client) rsetQuietly() {
	if _, err := c.Rset(); err != nil {
		var sd *ServerDisconnectedError
		if !errors.As(err, &sd) {
			c.note("RSET after a failed transaction: " + err.Error())
		}
	}
}

// Noop sends NOOP.
func (c *Client) Noop() (Reply, error) { return c.Docmd("noop", "") }

// Verify sends VRFY with the address part of addr.
func (c *Client) Verify(addr string) (Reply, error) { return c.Docmd("vrfy", AddrOnly(addr)) }

// Expn sends EXPN with the address part of addr.
func (c *Client) Expn(addr string) (Reply, error) { return c.Docmd("expn", AddrOnly(addr)) }

// Quit sends QUIT, forgets the greeting and closes. The reply is returned
// whatever its code.
func (c *Client) Quit() (Reply, error) {
	r, err := c.Docmd("quit", "")
	if err != nil {
		c.closeConn()
		return r, err
	}
	c.forgetGreeting()
	c.closeConn()
	return r, nil
}

// Exit is what leaving smtplib's with-block does: QUIT, an error unless the
// reply is 221, a server already gone is no error, and always close.
func (c *Client) Exit() error {
	defer c.closeConn()
	r, err := c.Docmd("QUIT", "")
	if err != nil {
		var sd *ServerDisconnectedError
		if errors.As(err, &sd) {
			return nil
		}
		return err
	}
	if r.Code != 221 {
		e := ResponseError(r)
		return &e
	}
	return nil
}

// Mail sends MAIL FROM. Options go out only when the server spoke ESMTP, as
// in smtplib; SMTPUTF8 among them needs the server's SMTPUTF8 and switches
// commands to UTF-8 until RSET.
func (c *Client) Mail(from string, opts ...string) (Reply, error) {
	line, err := c.mailLine(from, opts)
	if err != nil {
		return Reply{}, err
	}
	r, err := c.Docmd(line, "")
	if err == nil {
		c.observe(commandOf(line), r)
	}
	return r, err
}

// mailLine builds MAIL FROM with smtplib's rules: options only when the
// server spoke ESMTP; SMTPUTF8 among them needs the server's SMTPUTF8. The
// encoder switches commands to UTF-8 when the line goes out.
func (c *Client) mailLine(from string, opts []string) (string, error) {
	params, err := c.envelopeParams(from, opts)
	if err != nil {
		return "", err
	}
	if params != "" {
		for _, o := range opts {
			if strings.EqualFold(o, "smtputf8") && !c.HasExtn("smtputf8") {
				return "", &NotSupportedError{Msg: "SMTPUTF8 not supported by server"}
			}
		}
	}
	return "mail FROM:" + QuoteAddr(from) + space(params) + params, nil
}

// space is the space before a command's parameters, when it has any.
func space(params string) string {
	if params == "" {
		return ""
	}
	return " "
}

// envelopeParams checks an envelope address and its ESMTP parameters and
// returns the parameters as they follow the address on the line (after a
// space): none unless the server spoke ESMTP (smtplib's rule for MAIL and
// RCPT alike).
func (c *Client) envelopeParams(addr string, opts []string) (string, error) {
	if err := ValidateAddress(addr); err != nil {
		return "", err
	}
	for _, o := range opts {
		if err := ValidateESMTPParam(o); err != nil {
			return "", err
		}
	}
	if len(opts) == 0 || !c.doesESMTP {
		return "", nil
	}
	return strings.Join(opts, " "), nil
}

// Rcpt sends RCPT TO; options only when the server spoke ESMTP.
func (c *Client) Rcpt(to string, opts ...string) (Reply, error) {
	line, err := c.rcptLine(to, opts)
	if err != nil {
		return Reply{}, err
	}
	r, err := c.Docmd(line, "")
	if err == nil {
		c.afterRcpt(to, r)
	}
	return r, err
}

func (c *Client) rcptLine(to string, opts []string) (string, error) {
	params, err := c.envelopeParams(to, opts)
	if err != nil {
		return "", err
	}
	return "rcpt TO:" + QuoteAddr(to) + space(params) + params, nil
}

func (c *Client) afterRcpt(to string, r Reply) {
	c.observe(sentCmd{verb: "RCPT", rcpt: to}, r)
}

// afterMail observes the reply to a MAIL line built by mailLine.
func (c *Client) afterMail(line string, r Reply) {
	c.observe(commandOf(line), r)
}

func (c *Client) setPhase(p Phase) {
	c.state.Phase = p
	if p == PhaseData {
		c.armDataDeadline()
	}
	c.state.TLS = c.tlsOn
	if p <= PhaseGreeted {
		c.state.Recipients = 0
	}
	c.traceState()
}

// endTransaction is the end of a transaction, by RSET or by the reply
// after the message: UTF-8 mode, which the transaction's MAIL turned on,
// ends with it.
func (c *Client) endTransaction() {
	c.utf8 = false
	if c.state.Phase > PhaseHello {
		c.state.Phase, c.state.Recipients = PhaseHello, 0
		c.traceState()
	}
}

func (c *Client) traceState() {
	c.trace(Event{Kind: EventState, State: c.state})
}

func (c *Client) trace(e Event) {
	if e.Time.IsZero() {
		e.Time = c.now()
	}
	if c.opts.Tracer != nil {
		c.opts.Tracer.Trace(e)
	}
}

func (c *Client) note(text string) {
	c.trace(Event{Kind: EventNote, Text: text})
}

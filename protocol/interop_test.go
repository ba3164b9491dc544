//go:build interop

// Interop tests: the protocol client against real mail servers on loopback
// (Postfix, Exim, OpenSMTPD, Dovecot, aiosmtpd), started by
// testdata/interop/run.sh, which is what `make interop` runs:
//
//	sudo make interop
//	sudo bash testdata/interop/run.sh -run 'Interop/Postfix' -v   # one server, verbose
//
// Every test skips when EHLO_INTEROP is unset and fails (never skips) when it
// is set and a server cannot be reached. The addresses, the certificates to
// trust and the Maildirs to look in come from the EHLO_INTEROP_* variables
// run.sh exports; the defaults below match its defaults. Delivery is checked
// by finding each message, by a unique token, in the server's Maildir.
package protocol_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

const (
	interopTimeout      = 20 * time.Second // per reply; Dovecot delays failed AUTH by ~2 s
	interopDeliveryWait = 60 * time.Second // how long a message may take to reach the Maildir (a loaded CI box is slow)
	interopClientName   = "client.test"
	interopCertName     = "mx.example.test" // CN and SAN of every test-bed certificate (also localhost, 127.0.0.1)
)

// ---------------------------------------------------------------------------
// environment

func interopBase() string {
	if b := os.Getenv("EHLO_INTEROP_BASE"); b != "" {
		return b
	}
	return "/tmp/ehlo-interop"
}

// requireInterop skips unless EHLO_INTEROP=1, and skips a server that
// EHLO_INTEROP_SERVERS leaves out; from then on, an unreachable server fails.
func requireInterop(t *testing.T, server string) {
	t.Helper()
	if v := os.Getenv("EHLO_INTEROP"); v == "" || v == "0" {
		t.Skip("EHLO_INTEROP is not set: real mail servers are started by `make interop` (testdata/interop/run.sh)")
	}
	if list := os.Getenv("EHLO_INTEROP_SERVERS"); list != "" && server != "" {
		for _, s := range strings.Fields(list) {
			if s == server {
				return
			}
		}
		t.Skipf("%s is not in EHLO_INTEROP_SERVERS=%q", server, list)
	}
}

func iopEnv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// caConfig trusts exactly one certificate, the server's own self-signed one.
func iopCAConfig(t *testing.T, caFile, serverName string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("reading the server's certificate (EHLO_INTEROP is set, so the server should be running): %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// ---------------------------------------------------------------------------
// wire transcript: logged when a test fails, credentials masked

type iopTranscript struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (tr *iopTranscript) Trace(e protocol.Event) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch e.Kind {
	case protocol.EventSend:
		data := append([]byte(nil), e.Data...)
		for _, s := range e.Secrets {
			for i := s.Start; i < s.End && i < len(data); i++ {
				data[i] = '*'
			}
		}
		if len(data) > 2048 {
			data = append(data[:2048:2048], []byte(fmt.Sprintf("... (%d bytes)\r\n", len(e.Data)))...)
		}
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if l != "" {
				fmt.Fprintf(&tr.buf, "C: %s", strings.TrimRight(l, "\r\n")+"\n")
			}
		}
	case protocol.EventRecv:
		fmt.Fprintf(&tr.buf, "S: %s\n", strings.TrimRight(string(e.Data), "\r\n"))
	case protocol.EventTLS:
		if e.TLSErr != nil {
			fmt.Fprintf(&tr.buf, "-- TLS failed: %v\n", e.TLSErr)
		} else if e.TLSState != nil {
			fmt.Fprintf(&tr.buf, "-- TLS %s %s\n", tls.VersionName(e.TLSState.Version), tls.CipherSuiteName(e.TLSState.CipherSuite))
		}
	case protocol.EventConnect:
		fmt.Fprintf(&tr.buf, "-- connect %s %s\n", e.Network, e.Addr)
	case protocol.EventNote:
		fmt.Fprintf(&tr.buf, "-- note: %s\n", e.Text)
	case protocol.EventClose:
		fmt.Fprintf(&tr.buf, "-- closed\n")
	}
}

func (tr *iopTranscript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.buf.String()
}

// sent says whether any client line started with the given command.
func (tr *iopTranscript) sent(cmd string) bool {
	for _, l := range strings.Split(tr.String(), "\n") {
		if strings.HasPrefix(strings.ToUpper(l), "C: "+strings.ToUpper(cmd)) {
			return true
		}
	}
	return false
}

func iopNewTranscript(t *testing.T) *iopTranscript {
	tr := &iopTranscript{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("wire transcript:\n%s", tr.String())
		}
	})
	return tr
}

func iopOptions(tr *iopTranscript, tlsConf *tls.Config) protocol.Options {
	return protocol.Options{
		LocalHostname: interopClientName,
		Timeout:       interopTimeout,
		TLSConfig:     tlsConf,
		Tracer:        tr,
	}
}

// iopReachable fails the whole suite at once, with one clear message, when
// a listener of the server is down (network, address pairs).
func iopReachable(t *testing.T, server string, pairs ...string) {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		conn, err := net.DialTimeout(pairs[i], pairs[i+1], 5*time.Second)
		if err != nil {
			t.Fatalf("%s is not reachable on %s %s although EHLO_INTEROP is set: %v (start it with testdata/interop/run.sh, or set EHLO_INTEROP_SERVERS)", server, pairs[i], pairs[i+1], err)
		}
		conn.Close()
	}
}

// iopDial connects and checks the greeting; failing to reach the server fails the test.
func iopDial(t *testing.T, kind protocol.Kind, addr string, opts protocol.Options) *protocol.Client {
	t.Helper()
	c, greet, err := protocol.Dial(kind, addr, 0, opts)
	if err != nil {
		t.Fatalf("Dial(%v, %s): %v (greeting %d %q)", kind, addr, err, greet.Code, greet.Message)
	}
	if greet.Code != 220 {
		t.Fatalf("greeting %d %q, want 220", greet.Code, greet.Message)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func iopEhlo(t *testing.T, c *protocol.Client) protocol.Reply {
	t.Helper()
	r, err := c.Ehlo(interopClientName)
	if err != nil || r.Code != 250 {
		t.Fatalf("EHLO: %d %q, %v", r.Code, r.Message, err)
	}
	return r
}

func iopQuit(t *testing.T, c *protocol.Client) {
	t.Helper()
	r, err := c.Quit()
	if err != nil || r.Code != 221 {
		t.Errorf("QUIT: %d %q, %v; want 221", r.Code, r.Message, err)
	}
}

func iopNoop(t *testing.T, c *protocol.Client) {
	t.Helper()
	r, err := c.Noop()
	if err != nil || r.Code != 250 {
		t.Errorf("NOOP after the refusal: %d %q, %v; want 250 (the connection should still be usable)", r.Code, r.Message, err)
	}
}

// ---------------------------------------------------------------------------
// messages and Maildirs

func iopToken(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "ehlo-" + hex.EncodeToString(b)
}

// iopMessage has CRLF line endings, the token in the subject and the body,
// and body lines that need dot-stuffing.
func iopMessage(token, from, to string) string {
	return "From: " + from + "\r\n" +
		"To: " + to + "\r\n" +
		"Subject: interop " + token + "\r\n" +
		"Message-ID: <" + token + "@client.test>\r\n" +
		"\r\n" +
		"body of " + token + "\r\n" +
		".leading dot\r\n" +
		"..two leading dots\r\n" +
		".\r\n" +
		"last line\r\n"
}

// findMail waits until a file under dir (any Maildir below it, new/ or cur/)
// contains needle, and returns its content; it fails the test after
// deliveryWait.
func iopFindMail(t *testing.T, dir, needle string) string {
	t.Helper()
	deadline := time.Now().Add(interopDeliveryWait)
	for {
		if content, ok := iopScanMaildir(dir, needle); ok {
			return content
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message containing %q arrived under %s within %v", needle, dir, interopDeliveryWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func iopScanMaildir(dir, needle string) (string, bool) {
	var found string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return nil
		}
		sub := filepath.Base(filepath.Dir(path))
		if sub != "new" && sub != "cur" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(needle)) {
			found = string(b)
			return fs.SkipAll
		}
		return nil
	})
	return found, found != ""
}

// noMail checks, after the other messages of the test have arrived, that no
// file under dir contains needle.
func iopNoMail(t *testing.T, dir, needle string) {
	t.Helper()
	if content, ok := iopScanMaildir(dir, needle); ok {
		t.Errorf("a message containing %q was delivered under %s, and should not have been:\n%s", needle, dir, content)
	}
}

func iopCheckBody(t *testing.T, content, token string) {
	t.Helper()
	want := "body of " + token + "\n.leading dot\n..two leading dots\n.\nlast line\n"
	got := strings.ReplaceAll(content, "\r\n", "\n")
	if !strings.Contains(got, want) {
		t.Errorf("stored message does not carry the body unchanged (dot-stuffing); want it to contain %q, stored:\n%s", want, content)
	}
}

// ---------------------------------------------------------------------------
// the SMTP servers

type iopSMTPServer struct {
	name string // as in EHLO_INTEROP_SERVERS and testdata/interop/<name>.sh

	addr      string // STARTTLS listener
	smtpsAddr string // implicit TLS listener
	caFile    string
	// mailbox is the Maildir root where a message for user@example.test lands.
	mailbox func(user string) string

	authBeforeTLS bool     // AUTH advertised on the plain connection
	mechs         []string // AUTH mechanisms advertised after TLS (those the client has)
	extensions    []string // EHLO keywords that must be advertised after TLS
	absent        []string // EHLO keywords that must not be advertised
	smtputf8      bool
	dsn           bool
	dsnReport     bool // a NOTIFY=SUCCESS message produces a success DSN to the sender
	dsnEnvid      bool // ... which carries the ENVID (Original-Envelope-Id)

	unknownRcpt string // a local recipient the server refuses at RCPT ("" = none)
	unknownCode int

	relayDeniedCode int   // RCPT to another domain without AUTH (0 = accepted)
	authRequired    int   // MAIL without AUTH is refused with this code (0 = not required)
	sizeLimit       int64 // SIZE advertised; a larger SIZE= is refused at MAIL (0 = don't test)
	sizeCode        int

	vrfyKnown, vrfyUnknown int // VRFY codes (0 = don't check)
	badPasswordCode        int
}

func iopBase(elem ...string) string {
	return filepath.Join(append([]string{interopBase()}, elem...)...)
}

func iopPostfix() iopSMTPServer {
	mail := iopEnv("EHLO_INTEROP_POSTFIX_MAIL", iopBase("postfix", "mail"))
	return iopSMTPServer{
		name:      "postfix",
		addr:      iopEnv("EHLO_INTEROP_POSTFIX_ADDR", "127.0.0.1:2525"),
		smtpsAddr: iopEnv("EHLO_INTEROP_POSTFIX_SMTPS_ADDR", "127.0.0.1:4655"),
		caFile:    iopEnv("EHLO_INTEROP_POSTFIX_CA", iopBase("postfix", "tls", "cert.pem")),
		mailbox:   func(u string) string { return filepath.Join(mail, u) },
		mechs:     []string{"PLAIN", "LOGIN", "CRAM-MD5"},
		extensions: []string{"pipelining", "size", "vrfy", "etrn", "enhancedstatuscodes", "8bitmime",
			"dsn", "smtputf8", "chunking", "auth"},
		absent:          []string{"starttls"},
		smtputf8:        true,
		dsn:             true,
		dsnReport:       true,
		dsnEnvid:        true,
		unknownRcpt:     "nobody@example.test",
		unknownCode:     550,
		relayDeniedCode: 554,
		sizeLimit:       10485760,
		sizeCode:        552,
		vrfyKnown:       252,
		vrfyUnknown:     550,
		badPasswordCode: 535,
	}
}

func iopExim() iopSMTPServer {
	mail := iopEnv("EHLO_INTEROP_EXIM_MAIL", iopBase("exim", "mail"))
	return iopSMTPServer{
		name:            "exim",
		addr:            iopEnv("EHLO_INTEROP_EXIM_ADDR", "127.0.0.1:2526"),
		smtpsAddr:       iopEnv("EHLO_INTEROP_EXIM_SMTPS_ADDR", "127.0.0.1:4650"),
		caFile:          iopEnv("EHLO_INTEROP_EXIM_CA", iopBase("exim", "tls", "cert.pem")),
		mailbox:         func(u string) string { return filepath.Join(mail, u) },
		authBeforeTLS:   true,
		mechs:           []string{"PLAIN", "LOGIN", "CRAM-MD5"},
		extensions:      []string{"size", "8bitmime", "dsn", "vrfy", "pipelining", "auth", "chunking", "prdr", "smtputf8"},
		absent:          []string{"starttls", "enhancedstatuscodes"},
		smtputf8:        true,
		dsn:             true,
		dsnReport:       true,
		dsnEnvid:        true,
		unknownRcpt:     "nobody@example.test",
		unknownCode:     550,
		relayDeniedCode: 550,
		sizeLimit:       10485760,
		sizeCode:        552,
		vrfyKnown:       250,
		vrfyUnknown:     550,
		badPasswordCode: 535,
	}
}

func iopOpenSMTPD() iopSMTPServer {
	mail := iopEnv("EHLO_INTEROP_OPENSMTPD_MAIL", iopBase("opensmtpd", "mail"))
	return iopSMTPServer{
		name:            "opensmtpd",
		addr:            iopEnv("EHLO_INTEROP_OPENSMTPD_ADDR", "127.0.0.1:2527"),
		smtpsAddr:       iopEnv("EHLO_INTEROP_OPENSMTPD_SMTPS_ADDR", "127.0.0.1:4651"),
		caFile:          iopEnv("EHLO_INTEROP_OPENSMTPD_CA", iopBase("opensmtpd", "tls", "cert.pem")),
		mailbox:         func(u string) string { return filepath.Join(mail, u) },
		mechs:           []string{"PLAIN", "LOGIN"},
		extensions:      []string{"8bitmime", "enhancedstatuscodes", "size", "dsn", "auth"},
		absent:          []string{"starttls", "smtputf8", "pipelining", "vrfy", "chunking"},
		dsn:             true,
		dsnReport:       true, // without the ENVID
		unknownRcpt:     "nobody@example.test",
		unknownCode:     524,
		relayDeniedCode: 550,
		vrfyKnown:       500, // VRFY is not implemented: "500 5.5.1 Invalid command"
		vrfyUnknown:     500,
		badPasswordCode: 535,
	}
}

func iopAiosmtpd() iopSMTPServer {
	mail := iopEnv("EHLO_INTEROP_AIOSMTPD_MAIL", iopBase("aiosmtpd", "mail"))
	return iopSMTPServer{
		name:            "aiosmtpd",
		addr:            iopEnv("EHLO_INTEROP_AIOSMTPD_ADDR", "127.0.0.1:2528"),
		smtpsAddr:       iopEnv("EHLO_INTEROP_AIOSMTPD_SMTPS_ADDR", "127.0.0.1:4658"),
		caFile:          iopEnv("EHLO_INTEROP_AIOSMTPD_CA", iopBase("aiosmtpd", "tls", "cert.pem")),
		mailbox:         func(string) string { return mail }, // one Maildir for everybody
		mechs:           []string{"PLAIN", "LOGIN"},
		extensions:      []string{"size", "8bitmime", "smtputf8", "auth"},
		absent:          []string{"starttls", "pipelining", "dsn", "chunking"},
		smtputf8:        true,
		unknownRcpt:     "reject-nobody@example.test", // the server's scripted refusal
		unknownCode:     550,
		sizeLimit:       10485760,
		sizeCode:        552,
		vrfyKnown:       252,
		vrfyUnknown:     252,
		badPasswordCode: 535,
	}
}

// dovecotSubmission relays everything it accepts to the sink, whose Maildir
// is the one place mail lands.
func iopDovecotSubmission() iopSMTPServer {
	relayed := iopEnv("EHLO_INTEROP_DOVECOT_RELAYED", iopBase("dovecot", "relayed"))
	return iopSMTPServer{
		name:            "dovecot",
		addr:            iopEnv("EHLO_INTEROP_DOVECOT_SUBMISSION_ADDR", "127.0.0.1:2587"),
		smtpsAddr:       iopEnv("EHLO_INTEROP_DOVECOT_SUBMISSIONS_ADDR", "127.0.0.1:4653"),
		caFile:          iopEnv("EHLO_INTEROP_DOVECOT_CA", iopBase("dovecot", "tls", "cert.pem")),
		mailbox:         func(string) string { return relayed },
		authBeforeTLS:   true, // Dovecot treats connections from 127.0.0.1 as secure
		mechs:           []string{"PLAIN", "LOGIN", "CRAM-MD5"},
		extensions:      []string{"8bitmime", "auth", "chunking", "enhancedstatuscodes", "size", "pipelining"},
		absent:          []string{"starttls", "smtputf8", "dsn"},
		authRequired:    530,
		sizeLimit:       10485760,
		sizeCode:        552,
		badPasswordCode: 535,
	}
}

func TestInteropPostfix(t *testing.T)           { iopRunSMTP(t, iopPostfix()) }
func TestInteropExim(t *testing.T)              { iopRunSMTP(t, iopExim()) }
func TestInteropOpenSMTPD(t *testing.T)         { iopRunSMTP(t, iopOpenSMTPD()) }
func TestInteropAiosmtpd(t *testing.T)          { iopRunSMTP(t, iopAiosmtpd()) }
func TestInteropDovecotSubmission(t *testing.T) { iopRunSMTP(t, iopDovecotSubmission()) }

func iopRunSMTP(t *testing.T, s iopSMTPServer) {
	requireInterop(t, s.name)
	t.Parallel()
	iopReachable(t, s.name, "tcp", s.addr, "tcp", s.smtpsAddr)
	cases := []struct {
		name string
		fn   func(*testing.T, iopSMTPServer)
	}{
		{"StartTLSLoginSend", iopStartTLSLoginSend},
		{"StartTLSUntrustedCert", iopStartTLSUntrusted},
		{"StartTLSWrongName", iopStartTLSWrongName},
		{"ImplicitTLS", iopImplicitTLS},
		{"ImplicitTLSIPAddressName", iopImplicitTLSIPName},
		{"AuthMechanisms", iopAuthMechanisms},
		{"BadPassword", iopBadPassword},
		{"CleartextAuthRefused", iopCleartextAuth},
		{"UnknownRecipient", iopUnknownRecipient},
		{"RelayDenied", iopRelayDenied},
		{"RelayAfterAuth", iopRelayAfterAuth},
		{"SMTPUTF8", iopSMTPUTF8},
		{"DSN", iopDSN},
		{"VRFY", iopVRFY},
		{"SizeLimit", iopSizeLimit},
		{"SendMessageBcc", iopSendMessageBcc},
		{"TwoTransactionsLFMessage", iopTwoTransactions},
		{"LargeMessage", iopLargeMessage},
		{"ImplicitTLSOnPlainPort", iopImplicitTLSOnPlainPort},
		{"PlainOnImplicitTLSPortTimesOut", iopPlainOnTLSPort},
		{"ScriptedRefusals", iopScriptedRefusals},
		{"RawSession", iopRawSession},
		{"PipelinedTransactions", iopPipelinedTransactions},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
	}
}

// iopStartTLSLogin dials the STARTTLS listener, upgrades with the server's own
// certificate as the only root, and logs in as alice.
func iopStartTLSLogin(t *testing.T, s iopSMTPServer, tr *iopTranscript, user, password string) *protocol.Client {
	t.Helper()
	c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, nil))
	if r, err := c.StartTLS(iopCAConfig(t, s.caFile, interopCertName)); err != nil || r.Code != 220 {
		t.Fatalf("STARTTLS: %d %q, %v", r.Code, r.Message, err)
	}
	if r, err := c.Login(user, password, true); err != nil || r.Code != 235 {
		t.Fatalf("Login(%s) after STARTTLS: %d %q, %v", user, r.Code, r.Message, err)
	}
	return c
}

func iopStartTLSLoginSend(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, nil))
	iopEhlo(t, c)
	if !c.HasExtn("starttls") {
		t.Fatalf("STARTTLS not advertised on %s; features %v", s.addr, c.Features())
	}
	if got := c.HasExtn("auth"); got != s.authBeforeTLS {
		t.Errorf("AUTH advertised before TLS: %v, want %v (features %v)", got, s.authBeforeTLS, c.Features())
	}
	r, err := c.StartTLS(iopCAConfig(t, s.caFile, interopCertName))
	if err != nil || r.Code != 220 {
		t.Fatalf("STARTTLS: %d %q, %v", r.Code, r.Message, err)
	}
	st, ok := c.TLSConnectionState()
	if !ok || len(st.VerifiedChains) == 0 {
		t.Fatalf("after STARTTLS: TLS state %v, verified chains %d; want a verified connection", ok, len(st.VerifiedChains))
	}
	if !c.State().TLS {
		t.Errorf("State().TLS is false after STARTTLS")
	}
	if len(c.Features()) != 0 {
		t.Errorf("EHLO knowledge not forgotten after STARTTLS: %v", c.Features())
	}
	iopEhlo(t, c)
	for _, e := range s.extensions {
		if !c.HasExtn(e) {
			t.Errorf("%s not advertised after STARTTLS; features %v", e, c.Features())
		}
	}
	for _, e := range s.absent {
		if c.HasExtn(e) {
			t.Errorf("%s advertised after STARTTLS, not expected from %s; features %v", e, s.name, c.Features())
		}
	}
	auth, _ := c.Extn("auth")
	for _, m := range s.mechs {
		if !strings.Contains(" "+strings.ToUpper(auth)+" ", " "+m+" ") {
			t.Errorf("AUTH mechanism %s not advertised (AUTH %s)", m, auth)
		}
	}
	r, err = c.Login("alice", "alicepw", true)
	if err != nil || r.Code != 235 {
		t.Fatalf("Login: %d %q, %v", r.Code, r.Message, err)
	}
	if !c.State().Authenticated {
		t.Errorf("State().Authenticated is false after 235")
	}
	token := iopToken(t)
	refused, err := c.Sendmail("alice@example.test", []string{"bob@example.test"},
		strings.NewReader(iopMessage(token, "alice@example.test", "bob@example.test")), nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("Sendmail: refused %v, %v", refused, err)
	}
	iopQuit(t, c)
	content := iopFindMail(t, s.mailbox("bob"), token)
	iopCheckBody(t, content, token)
}

func iopStartTLSUntrusted(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, nil))
	pool := x509.NewCertPool() // empty pool: the server's certificate is not trusted
	_, err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: interopCertName})
	var te *protocol.TLSError
	if !errors.As(err, &te) {
		t.Fatalf("STARTTLS with an untrusted certificate: err %v (%T), want *protocol.TLSError", err, err)
	}
	var uae x509.UnknownAuthorityError
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &uae) && !errors.As(err, &cve) {
		t.Errorf("STARTTLS error %v does not wrap the certificate verification failure", err)
	}
	if !errors.Is(err, protocol.ErrSMTP) {
		t.Errorf("errors.Is(%v, ErrSMTP) = false", err)
	}
	if c.Connected() {
		t.Errorf("connection still open after a failed TLS handshake")
	}
	if tr.sent("AUTH") || tr.sent("MAIL") {
		t.Errorf("commands sent after the failed handshake")
	}

	// No TLS configuration at all means the system roots, which do not
	// know the test bed's self-signed certificate. (Host and port given
	// separately this time.)
	host, portStr, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	var port int
	fmt.Sscan(portStr, &port)
	tr2 := iopNewTranscript(t)
	c2, greet, err := protocol.Dial(protocol.SMTP, host, port, iopOptions(tr2, nil))
	if err != nil || greet.Code != 220 {
		t.Fatalf("Dial(%s, %d): %d %q, %v", host, port, greet.Code, greet.Message, err)
	}
	defer c2.Close()
	if _, err := c2.StartTLS(nil); !errors.As(err, &te) {
		t.Fatalf("STARTTLS with the default configuration (system roots): %v (%T), want *protocol.TLSError", err, err)
	}
}

func iopStartTLSWrongName(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, iopCAConfig(t, s.caFile, "wrong.example.test")))
	// nil: the Options.TLSConfig (right root, wrong name) is used.
	_, err := c.StartTLS(nil)
	var te *protocol.TLSError
	if !errors.As(err, &te) {
		t.Fatalf("STARTTLS with a wrong server name: err %v (%T), want *protocol.TLSError", err, err)
	}
	var he x509.HostnameError
	if !errors.As(err, &he) {
		t.Errorf("STARTTLS error %v does not wrap an x509.HostnameError", err)
	}
}

func iopImplicitTLS(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTPS, s.smtpsAddr, iopOptions(tr, iopCAConfig(t, s.caFile, "localhost")))
	st, ok := c.TLSConnectionState()
	if !ok || len(st.VerifiedChains) == 0 {
		t.Fatalf("implicit TLS: state %v, %d verified chains", ok, len(st.VerifiedChains))
	}
	iopEhlo(t, c)
	if c.HasExtn("starttls") {
		t.Errorf("STARTTLS advertised inside implicit TLS")
	}
	if !c.HasExtn("auth") {
		t.Fatalf("AUTH not advertised on the implicit-TLS listener; features %v", c.Features())
	}
	if r, err := c.Login("bob", "bobpw", true); err != nil || r.Code != 235 {
		t.Fatalf("Login: %d %q, %v", r.Code, r.Message, err)
	}
	token := iopToken(t)
	refused, err := c.Sendmail("bob@example.test", []string{"alice@example.test"},
		strings.NewReader(iopMessage(token, "bob@example.test", "alice@example.test")), nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("Sendmail: refused %v, %v", refused, err)
	}
	iopQuit(t, c)
	iopCheckBody(t, iopFindMail(t, s.mailbox("alice"), token), token)
}

// iopImplicitTLSIPName leaves ServerName empty: the client must verify the
// certificate against the address it dialled (the certificates carry an
// IP SAN for 127.0.0.1).
func iopImplicitTLSIPName(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	conf := iopCAConfig(t, s.caFile, "")
	c := iopDial(t, protocol.SMTPS, s.smtpsAddr, iopOptions(tr, conf))
	if st, ok := c.TLSConnectionState(); !ok || len(st.VerifiedChains) == 0 {
		t.Fatalf("implicit TLS without ServerName: not verified")
	}
	iopEhlo(t, c)
	iopQuit(t, c)
}

func iopAuthMechanisms(t *testing.T, s iopSMTPServer) {
	for _, mech := range s.mechs {
		for _, ir := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/initial-response=%v", mech, ir), func(t *testing.T) {
				tr := iopNewTranscript(t)
				c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, nil))
				if _, err := c.StartTLS(iopCAConfig(t, s.caFile, interopCertName)); err != nil {
					t.Fatalf("STARTTLS: %v", err)
				}
				iopEhlo(t, c)
				// alice@example.test is accepted as a user name everywhere, bob too
				user := "alice"
				if ir {
					user = "alice@example.test"
				}
				if mech == "CRAM-MD5" {
					user = "alice" // the CRAM-MD5 secrets are stored under the bare name
				}
				a, err := protocol.NewAuthenticator(mech, user, "alicepw")
				if err != nil {
					t.Fatal(err)
				}
				r, err := c.Auth(mech, a, ir)
				if err != nil || r.Code != 235 {
					t.Fatalf("AUTH %s as %s: %d %q, %v", mech, user, r.Code, r.Message, err)
				}
				iopQuit(t, c)
			})
		}
	}
}

func iopBadPassword(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, nil))
	if _, err := c.StartTLS(iopCAConfig(t, s.caFile, interopCertName)); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	r, err := c.Login("alice", "wrong-password", true)
	var ae *protocol.AuthenticationError
	if !errors.As(err, &ae) {
		t.Fatalf("Login with a bad password: %d %q, err %v (%T); want *protocol.AuthenticationError", r.Code, r.Message, err, err)
	}
	if ae.Code != s.badPasswordCode {
		t.Errorf("AuthenticationError code %d (%q), want %d", ae.Code, ae.Message, s.badPasswordCode)
	}
	if !errors.Is(err, protocol.ErrSMTP) {
		t.Errorf("errors.Is(AuthenticationError, ErrSMTP) = false")
	}
	if c.State().Authenticated {
		t.Errorf("State().Authenticated after a refused login")
	}
	if strings.Contains(tr.String(), "wrong-password") {
		t.Errorf("the password appears in clear in the trace")
	}
	// Every mechanism the client knows was tried, strongest first.
	want := []string{}
	for _, m := range []string{"CRAM-MD5", "PLAIN", "LOGIN"} {
		for _, have := range s.mechs {
			if m == have {
				want = append(want, m)
			}
		}
	}
	for _, m := range want {
		if !tr.sent("AUTH " + m) {
			t.Errorf("Login did not try %s (advertised); tried: %s", m, iopAuthLines(tr))
		}
	}
	// The connection survives a failed AUTH; the right password then works.
	if r, err := c.Login("alice", "alicepw", true); err != nil || r.Code != 235 {
		t.Errorf("Login with the right password after a failure: %d %q, %v", r.Code, r.Message, err)
	}
	iopQuit(t, c)
}

func iopAuthLines(tr *iopTranscript) string {
	var out []string
	for _, l := range strings.Split(tr.String(), "\n") {
		if strings.HasPrefix(l, "C: AUTH") {
			out = append(out, strings.TrimPrefix(l, "C: "))
		}
	}
	return strings.Join(out, " | ")
}

// iopCleartextAuth: where AUTH is offered before TLS, the client refuses to
// send credentials without TLS unless AllowCleartextAuth is set.
func iopCleartextAuth(t *testing.T, s iopSMTPServer) {
	if !s.authBeforeTLS {
		t.Skipf("%s offers AUTH only after STARTTLS", s.name)
	}
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, nil))
	iopEhlo(t, c)
	_, err := c.Login("alice", "alicepw", true)
	var ns *protocol.NotSupportedError
	if !errors.As(err, &ns) {
		t.Fatalf("Login without TLS: err %v (%T), want *protocol.NotSupportedError", err, err)
	}
	if tr.sent("AUTH") {
		t.Fatalf("AUTH was sent in clear text without AllowCleartextAuth")
	}
	iopQuit(t, c)

	opts := iopOptions(tr, nil)
	opts.AllowCleartextAuth = true
	c = iopDial(t, protocol.SMTP, s.addr, opts)
	if r, err := c.Login("alice", "alicepw", true); err != nil || r.Code != 235 {
		t.Fatalf("Login with AllowCleartextAuth: %d %q, %v", r.Code, r.Message, err)
	}
	iopQuit(t, c)
}

func iopUnknownRecipient(t *testing.T, s iopSMTPServer) {
	if s.unknownRcpt == "" {
		t.Skipf("%s accepts every recipient", s.name)
	}
	tr := iopNewTranscript(t)
	c := iopStartTLSLogin(t, s, tr, "alice", "alicepw")
	token := iopToken(t)
	// One good and one unknown recipient: the message goes to the good one.
	refused, err := c.Sendmail("alice@example.test", []string{"bob@example.test", s.unknownRcpt},
		strings.NewReader(iopMessage(token, "alice@example.test", "bob@example.test")), nil, nil)
	if err != nil {
		t.Fatalf("Sendmail with one unknown recipient: %v", err)
	}
	if r, ok := refused[s.unknownRcpt]; !ok || r.Code != s.unknownCode || len(refused) != 1 {
		t.Errorf("refused = %v, want only %s with %d", refused, s.unknownRcpt, s.unknownCode)
	}
	// Only unknown recipients: *RecipientsRefusedError, then RSET, connection usable.
	_, err = c.Sendmail("alice@example.test", []string{s.unknownRcpt},
		strings.NewReader(iopMessage(token+"-none", "alice@example.test", s.unknownRcpt)), nil, nil)
	var rre *protocol.RecipientsRefusedError
	if !errors.As(err, &rre) {
		t.Fatalf("Sendmail to an unknown recipient only: %v (%T), want *protocol.RecipientsRefusedError", err, err)
	}
	if r := rre.Recipients[s.unknownRcpt]; r.Code != s.unknownCode {
		t.Errorf("RecipientsRefusedError %v, want %s with %d", rre.Recipients, s.unknownRcpt, s.unknownCode)
	}
	if !errors.Is(err, protocol.ErrSMTP) {
		t.Errorf("errors.Is(RecipientsRefusedError, ErrSMTP) = false")
	}
	if !tr.sent("RSET") {
		t.Errorf("no RSET after every recipient was refused")
	}
	iopNoop(t, c)
	iopQuit(t, c)
	iopFindMail(t, s.mailbox("bob"), token)
	iopNoMail(t, s.mailbox("alice"), token+"-none")
}

func iopRelayDenied(t *testing.T, s iopSMTPServer) {
	if s.relayDeniedCode == 0 && s.authRequired == 0 {
		t.Skipf("%s accepts mail for any domain", s.name)
	}
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, nil))
	_, err := c.Sendmail("someone@example.org", []string{"someone-else@example.net"},
		strings.NewReader(iopMessage("relay", "someone@example.org", "someone-else@example.net")), nil, nil)
	if s.authRequired != 0 {
		var sre *protocol.SenderRefusedError
		if !errors.As(err, &sre) || sre.Code != s.authRequired {
			t.Fatalf("Sendmail without AUTH: %v (%T), want *protocol.SenderRefusedError %d", err, err, s.authRequired)
		}
		if sre.Sender != "someone@example.org" {
			t.Errorf("SenderRefusedError.Sender = %q", sre.Sender)
		}
	} else {
		var rre *protocol.RecipientsRefusedError
		if !errors.As(err, &rre) {
			t.Fatalf("relay without AUTH: %v (%T), want *protocol.RecipientsRefusedError", err, err)
		}
		if r := rre.Recipients["someone-else@example.net"]; r.Code != s.relayDeniedCode {
			t.Errorf("relay refusal %v, want %d", rre.Recipients, s.relayDeniedCode)
		}
	}
	if tr.sent("DATA") {
		t.Errorf("DATA sent although the transaction was refused")
	}
	iopNoop(t, c)
	iopQuit(t, c)
}

func iopRelayAfterAuth(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopStartTLSLogin(t, s, tr, "alice", "alicepw")
	token := iopToken(t)
	refused, err := c.Sendmail("alice@example.test", []string{"someone@example.org"},
		strings.NewReader(iopMessage(token, "alice@example.test", "someone@example.org")), nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("authenticated Sendmail to another domain: refused %v, %v", refused, err)
	}
	iopQuit(t, c)
}

func iopSMTPUTF8(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopStartTLSLogin(t, s, tr, "alice", "alicepw")
	token := iopToken(t)
	from := "jörg@example.org"
	msg := "From: Jörg <" + from + ">\r\nTo: bob@example.test\r\nSubject: grüße " + token + "\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n" +
		"\r\nünïcødé body " + token + "\r\n"
	if !s.smtputf8 {
		_, err := c.Sendmail(from, []string{"bob@example.test"}, strings.NewReader(msg), nil, nil)
		var ns *protocol.NotSupportedError
		if !errors.As(err, &ns) {
			t.Fatalf("non-ASCII sender to a server without SMTPUTF8: %v (%T), want *protocol.NotSupportedError", err, err)
		}
		if tr.sent("MAIL") {
			t.Errorf("MAIL was sent although the server cannot take the address")
		}
		iopNoop(t, c)
		iopQuit(t, c)
		return
	}
	refused, err := c.Sendmail(from, []string{"bob@example.test"}, strings.NewReader(msg),
		[]string{"SMTPUTF8", "BODY=8BITMIME"}, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("Sendmail with SMTPUTF8: refused %v, %v", refused, err)
	}
	// SendMessage adds SMTPUTF8 and BODY=8BITMIME itself for a non-ASCII address.
	token2 := token + "-sendmessage"
	msg2 := strings.ReplaceAll(msg, token, token2)
	refused, err = c.SendMessage(strings.NewReader(msg2), nil, nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("SendMessage with a non-ASCII From: refused %v, %v", refused, err)
	}
	iopQuit(t, c)
	for _, tok := range []string{token, token2} {
		content := iopFindMail(t, s.mailbox("bob"), tok)
		if !strings.Contains(content, "grüße "+tok) || !strings.Contains(content, "ünïcødé body") {
			t.Errorf("UTF-8 subject or body not stored intact:\n%s", content)
		}
		if !strings.Contains(content, from) {
			t.Errorf("the UTF-8 envelope sender %s is not in the stored message:\n%s", from, content)
		}
	}
}

func iopDSN(t *testing.T, s iopSMTPServer) {
	if !s.dsn {
		t.Skipf("%s does not offer DSN", s.name)
	}
	tr := iopNewTranscript(t)
	c := iopStartTLSLogin(t, s, tr, "alice", "alicepw")
	if !c.HasExtn("dsn") {
		t.Fatalf("DSN not advertised; features %v", c.Features())
	}
	token := iopToken(t)
	envid := strings.ToUpper(token) + "-ENVID" // appears nowhere in the message itself
	refused, err := c.Sendmail("alice@example.test", []string{"bob@example.test"},
		strings.NewReader(iopMessage(token, "alice@example.test", "bob@example.test")),
		[]string{"RET=HDRS", "ENVID=" + envid},
		[]string{"NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.test"})
	if err != nil || len(refused) != 0 {
		t.Fatalf("Sendmail with DSN options: refused %v, %v", refused, err)
	}
	for _, want := range []string{"RET=HDRS", "ENVID=" + envid, "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.test"} {
		if !strings.Contains(tr.String(), want) {
			t.Errorf("%s not sent", want)
		}
	}
	iopQuit(t, c)
	iopFindMail(t, s.mailbox("bob"), token)
	if s.dsnReport {
		// The success notification goes back to alice; where the server
		// supports it, it carries the ENVID. RET=HDRS: headers, not the body.
		needle := "Subject: interop " + token
		if s.dsnEnvid {
			needle = envid
		}
		report := iopFindMail(t, s.mailbox("alice"), needle)
		if !strings.Contains(strings.ToLower(report), "message/delivery-status") {
			t.Errorf("the message for alice is not a delivery status notification:\n%s", report)
		}
		if !strings.Contains(report, "Subject: interop "+token) {
			t.Errorf("RET=HDRS: the notification does not return the original headers:\n%s", report)
		}
		if strings.Contains(report, "body of "+token) {
			t.Errorf("RET=HDRS: the notification returns the original body:\n%s", report)
		}
		if !strings.Contains(strings.ToLower(report), "rfc822; bob@example.test") &&
			!strings.Contains(strings.ToLower(report), "rfc822;bob@example.test") {
			t.Errorf("the notification does not name the recipient:\n%s", report)
		}
	}
}

func iopVRFY(t *testing.T, s iopSMTPServer) {
	if s.vrfyKnown == 0 {
		t.Skipf("VRFY not checked on %s", s.name)
	}
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, nil))
	iopEhlo(t, c)
	r, err := c.Verify("Alice <alice@example.test>") // the display name is dropped
	if err != nil || r.Code != s.vrfyKnown {
		t.Errorf("VRFY alice: %d %q, %v; want %d", r.Code, r.Message, err, s.vrfyKnown)
	}
	if !tr.sent("VRFY alice@example.test") {
		t.Errorf("VRFY did not send the bare address")
	}
	r, err = c.Verify("nobody@example.test")
	if err != nil || r.Code != s.vrfyUnknown {
		t.Errorf("VRFY nobody: %d %q, %v; want %d", r.Code, r.Message, err, s.vrfyUnknown)
	}
	iopNoop(t, c)
	iopQuit(t, c)
}

// sizedMessage is an io.ReadSeeker, so the client knows its size before
// sending and announces SIZE=; the server refuses at MAIL, before any data.
func iopSizeLimit(t *testing.T, s iopSMTPServer) {
	if s.sizeLimit == 0 {
		t.Skipf("SIZE limit not checked on %s", s.name)
	}
	tr := iopNewTranscript(t)
	c := iopStartTLSLogin(t, s, tr, "alice", "alicepw")
	if v, _ := c.Extn("size"); v != fmt.Sprint(s.sizeLimit) {
		t.Errorf("SIZE advertised %q, want %d", v, s.sizeLimit)
	}
	big := bytes.Repeat([]byte("0123456789012345678901234567890123456789012345678901234567890123456789\r\n"), int(s.sizeLimit/72)+1000)
	msg := append([]byte("Subject: too big\r\n\r\n"), big...)
	_, err := c.Sendmail("alice@example.test", []string{"bob@example.test"}, bytes.NewReader(msg), nil, nil)
	var sre *protocol.SenderRefusedError
	if !errors.As(err, &sre) {
		t.Fatalf("Sendmail of %d bytes: %v (%T), want *protocol.SenderRefusedError", len(msg), err, err)
	}
	if sre.Code != s.sizeCode {
		t.Errorf("SIZE refusal %d %q, want %d", sre.Code, sre.Message, s.sizeCode)
	}
	if !tr.sent(fmt.Sprintf("MAIL FROM:<alice@example.test> size=%d", len(msg))) &&
		!tr.sent(fmt.Sprintf("MAIL FROM:<alice@example.test> SIZE=%d", len(msg))) {
		t.Errorf("MAIL did not announce SIZE=%d", len(msg))
	}
	if tr.sent("DATA") {
		t.Errorf("DATA sent although MAIL was refused")
	}
	iopNoop(t, c)
	iopQuit(t, c)
}

// iopSendMessageBcc: the envelope comes from the headers, Bcc recipients
// get the message, and no stored copy carries the Bcc header.
func iopSendMessageBcc(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopStartTLSLogin(t, s, tr, "alice", "alicepw")
	token := iopToken(t)
	msg := "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\n" +
		"Bcc: Postmaster <postmaster@example.test>,\r\n  secret-" + token + "@example.test\r\n" +
		"Subject: bcc " + token + "\r\n\r\nhello " + token + "\r\n"
	// secret-…@example.test is unknown where local users are checked: refused at RCPT, fine
	refused, err := c.SendMessage(strings.NewReader(msg), nil, nil, nil)
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	for rcpt := range refused {
		if !strings.HasPrefix(rcpt, "secret-") {
			t.Errorf("recipient %s refused: %v", rcpt, refused[rcpt])
		}
	}
	for _, want := range []string{"RCPT TO:<bob@example.test>", "RCPT TO:<postmaster@example.test>", "RCPT TO:<secret-" + token + "@example.test>"} {
		if !tr.sent(want) {
			t.Errorf("%s not sent", want)
		}
	}
	iopQuit(t, c)
	for _, user := range []string{"bob", "postmaster"} {
		content := iopFindMail(t, s.mailbox(user), "bcc "+token)
		norm := "\n" + strings.ToLower(strings.ReplaceAll(content, "\r\n", "\n"))
		if strings.Contains(norm, "\nbcc:") || strings.Contains(norm, "\n  secret-"+token) {
			t.Errorf("the Bcc header reached %s's copy:\n%s", user, content)
		}
	}
	if strings.Contains(strings.ToLower(tr.String()), "c: bcc:") {
		t.Errorf("a Bcc header line was transmitted")
	}
}

// iopTwoTransactions: two messages on one connection, the second with
// bare LF line endings, which the client sends as CRLF.
func iopTwoTransactions(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopStartTLSLogin(t, s, tr, "alice", "alicepw")
	t1, t2 := iopToken(t), iopToken(t)
	if _, err := c.Sendmail("alice@example.test", []string{"bob@example.test"},
		strings.NewReader(iopMessage(t1, "alice@example.test", "bob@example.test")), nil, nil); err != nil {
		t.Fatalf("first Sendmail: %v", err)
	}
	if r, err := c.Rset(); err != nil || r.Code != 250 {
		t.Fatalf("RSET between transactions: %d %q, %v", r.Code, r.Message, err)
	}
	lf := strings.ReplaceAll(iopMessage(t2, "alice@example.test", "bob@example.test"), "\r\n", "\n")
	if _, err := c.Sendmail("alice@example.test", []string{"bob@example.test"}, strings.NewReader(lf), nil, nil); err != nil {
		t.Fatalf("second Sendmail (LF line endings): %v", err)
	}
	iopQuit(t, c)
	iopCheckBody(t, iopFindMail(t, s.mailbox("bob"), t1), t1)
	content := iopFindMail(t, s.mailbox("bob"), t2)
	iopCheckBody(t, content, t2)
	// Postfix, Exim and OpenSMTPD store LF; aiosmtpd stores the bytes received
	// (CRLF). A mix would mean a bare LF went over the wire.
	if strings.Contains(content, "\r\n") && strings.Count(content, "\n") != strings.Count(content, "\r\n") {
		t.Errorf("bare LF in a stored copy that otherwise has CRLF: the client sent a bare LF:\n%q", content)
	}
}

// ---------------------------------------------------------------------------
// LMTP

type iopLMTPServer struct {
	name    string
	socket  string
	tcpAddr string
	caFile  string
	mailbox func(user string) string

	unknownRcpt string // refused at RCPT
	unknownCode int
	failRcpt    string // accepted at RCPT, refused after DATA
	failCode    int
	smtputf8    bool
}

func iopDovecotLMTP() iopLMTPServer {
	mail := iopEnv("EHLO_INTEROP_DOVECOT_MAIL", iopBase("dovecot", "mail"))
	return iopLMTPServer{
		name:        "dovecot",
		socket:      iopEnv("EHLO_INTEROP_DOVECOT_LMTP_SOCKET", iopBase("dovecot", "lmtp.sock")),
		tcpAddr:     iopEnv("EHLO_INTEROP_DOVECOT_LMTP_ADDR", "127.0.0.1:2424"),
		caFile:      iopEnv("EHLO_INTEROP_DOVECOT_CA", iopBase("dovecot", "tls", "cert.pem")),
		mailbox:     func(u string) string { return filepath.Join(mail, u, "Maildir") },
		unknownRcpt: "nobody@example.test",
		unknownCode: 550,
		failRcpt:    "full@example.test", // 1-byte quota: 552 5.2.2 after DATA
		failCode:    552,
	}
}

func iopAiosmtpdLMTP() iopLMTPServer {
	mail := iopEnv("EHLO_INTEROP_AIOSMTPD_MAIL", iopBase("aiosmtpd", "mail"))
	return iopLMTPServer{
		name:        "aiosmtpd",
		socket:      iopEnv("EHLO_INTEROP_AIOSMTPD_LMTP_SOCKET", iopBase("aiosmtpd", "lmtp.sock")),
		tcpAddr:     iopEnv("EHLO_INTEROP_AIOSMTPD_LMTP_ADDR", "127.0.0.1:2429"),
		mailbox:     func(string) string { return mail },
		unknownRcpt: "reject-nobody@example.test",
		unknownCode: 550,
		failRcpt:    "faildata-x@example.test",
		failCode:    550,
		smtputf8:    true,
	}
}

func TestInteropDovecotLMTP(t *testing.T)  { iopRunLMTP(t, iopDovecotLMTP()) }
func TestInteropAiosmtpdLMTP(t *testing.T) { iopRunLMTP(t, iopAiosmtpdLMTP()) }

func iopRunLMTP(t *testing.T, s iopLMTPServer) {
	requireInterop(t, s.name)
	t.Parallel()
	iopReachable(t, s.name, "unix", s.socket, "tcp", s.tcpAddr)
	t.Run("UnixSocketUnknownRecipient", func(t *testing.T) { iopLMTPUnknown(t, s, s.socket) })
	t.Run("TCPUnknownRecipient", func(t *testing.T) { iopLMTPUnknown(t, s, s.tcpAddr) })
	t.Run("PerRecipientDataReplies", func(t *testing.T) { iopLMTPPerRecipient(t, s) })
	t.Run("AllFailAfterData", func(t *testing.T) { iopLMTPAllFail(t, s) })
	t.Run("StartTLSOverUnixSocket", func(t *testing.T) { iopLMTPStartTLS(t, s) })
	t.Run("SMTPUTF8", func(t *testing.T) { iopLMTPSMTPUTF8(t, s) })
	t.Run("RawSession", func(t *testing.T) { iopLMTPRawSession(t, s) })
	t.Run("PipelinedTransactions", func(t *testing.T) { iopLMTPPipelined(t, s) })
}

// iopLMTPUnknown: two recipients, one unknown: the unknown one is refused at
// RCPT, the other gets its own reply after DATA and its mail arrives.
func iopLMTPUnknown(t *testing.T, s iopLMTPServer, addr string) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.LMTP, addr, iopOptions(tr, nil))
	r := iopEhlo(t, c)
	if !tr.sent("LHLO " + interopClientName) {
		t.Errorf("LMTP client did not greet with LHLO (reply %q)", r.Message)
	}
	token := iopToken(t)
	refused, err := c.Sendmail("sender@example.org", []string{"alice@example.test", s.unknownRcpt},
		strings.NewReader(iopMessage(token, "sender@example.org", "alice@example.test")), nil, nil)
	if err != nil {
		t.Fatalf("LMTP Sendmail: %v (refused %v)", err, refused)
	}
	if rr, ok := refused[s.unknownRcpt]; !ok || rr.Code != s.unknownCode || len(refused) != 1 {
		t.Errorf("refused = %v, want only %s with %d", refused, s.unknownRcpt, s.unknownCode)
	}
	replies := c.LMTPReplies()
	if len(replies) != 1 || replies[0].Recipient != "alice@example.test" || replies[0].Code != 250 {
		t.Errorf("LMTP replies after DATA = %+v, want one 250 for alice", replies)
	}
	iopQuit(t, c)
	iopCheckBody(t, iopFindMail(t, s.mailbox("alice"), token), token)
}

// iopLMTPPerRecipient: three recipients accepted at RCPT, one refused after
// DATA: one reply each, in RCPT order, the failure in the refused map.
func iopLMTPPerRecipient(t *testing.T, s iopLMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.LMTP, s.socket, iopOptions(tr, nil))
	token := iopToken(t)
	rcpts := []string{"alice@example.test", s.failRcpt, "bob@example.test", s.unknownRcpt}
	refused, err := c.Sendmail("sender@example.org", rcpts,
		strings.NewReader(iopMessage(token, "sender@example.org", "alice@example.test")), nil, nil)
	if err != nil {
		t.Fatalf("LMTP Sendmail: %v (refused %v)", err, refused)
	}
	if len(refused) != 2 || refused[s.failRcpt].Code != s.failCode || refused[s.unknownRcpt].Code != s.unknownCode {
		t.Errorf("refused = %v, want %s %d (after DATA) and %s %d (at RCPT)", refused, s.failRcpt, s.failCode, s.unknownRcpt, s.unknownCode)
	}
	replies := c.LMTPReplies()
	want := []struct {
		rcpt string
		code int
	}{{"alice@example.test", 250}, {s.failRcpt, s.failCode}, {"bob@example.test", 250}}
	if len(replies) != len(want) {
		t.Fatalf("LMTP replies = %+v, want %d", replies, len(want))
	}
	for i, w := range want {
		if replies[i].Recipient != w.rcpt || replies[i].Code != w.code {
			t.Errorf("LMTP reply %d = %s %d %q, want %s %d", i, replies[i].Recipient, replies[i].Code, replies[i].Message, w.rcpt, w.code)
		}
		if !strings.Contains(replies[i].Message, w.rcpt) {
			t.Errorf("LMTP reply %d (%q) does not name %s: replies out of step with the recipients", i, replies[i].Message, w.rcpt)
		}
	}
	iopNoop(t, c)
	iopQuit(t, c)
	iopFindMail(t, s.mailbox("alice"), token)
	iopFindMail(t, s.mailbox("bob"), token)
	if s.name == "dovecot" {
		iopNoMail(t, s.mailbox("full"), token)
	}
}

func iopLMTPAllFail(t *testing.T, s iopLMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.LMTP, s.socket, iopOptions(tr, nil))
	token := iopToken(t)
	refused, err := c.Sendmail("sender@example.org", []string{s.failRcpt},
		strings.NewReader(iopMessage(token, "sender@example.org", s.failRcpt)), nil, nil)
	var de *protocol.DataError
	if !errors.As(err, &de) || de.Code != s.failCode {
		t.Fatalf("LMTP Sendmail, every recipient refused after DATA: %v (%T), want *protocol.DataError %d", err, err, s.failCode)
	}
	if refused[s.failRcpt].Code != s.failCode {
		t.Errorf("refused = %v", refused)
	}
	iopNoop(t, c)
	iopQuit(t, c)
}

// iopLMTPStartTLS: over a Unix socket there is no host name to verify the
// certificate against; the client must refuse unless one is given.
func iopLMTPStartTLS(t *testing.T, s iopLMTPServer) {
	if s.caFile == "" {
		t.Skipf("%s LMTP does not offer STARTTLS", s.name)
	}
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.LMTP, s.socket, iopOptions(tr, nil))
	iopEhlo(t, c)
	if !c.HasExtn("starttls") {
		t.Fatalf("STARTTLS not advertised by LMTP; features %v", c.Features())
	}
	pool := iopCAConfig(t, s.caFile, "").RootCAs
	_, err := c.StartTLS(&tls.Config{RootCAs: pool})
	var ve *protocol.ValueError
	if !errors.As(err, &ve) {
		t.Fatalf("StartTLS over a Unix socket without ServerName: %v (%T), want *protocol.ValueError", err, err)
	}
	if tr.sent("STARTTLS") {
		t.Errorf("STARTTLS sent although the certificate could not be verified")
	}
	r, err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: interopCertName})
	if err != nil || r.Code != 220 {
		t.Fatalf("StartTLS over a Unix socket with ServerName: %d %q, %v", r.Code, r.Message, err)
	}
	token := iopToken(t)
	refused, err := c.Sendmail("sender@example.org", []string{"bob@example.test"},
		strings.NewReader(iopMessage(token, "sender@example.org", "bob@example.test")), nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("LMTP Sendmail inside TLS: refused %v, %v", refused, err)
	}
	if strings.Count(strings.ToUpper(tr.String()), "C: LHLO") != 2 {
		t.Errorf("want LHLO before and after STARTTLS")
	}
	iopQuit(t, c)
	iopFindMail(t, s.mailbox("bob"), token)

	// Over TCP the address dialled is the name checked (IP SAN 127.0.0.1):
	// no ServerName needed, Options.TLSConfig used by StartTLS(nil).
	tr2 := iopNewTranscript(t)
	c = iopDial(t, protocol.LMTP, s.tcpAddr, iopOptions(tr2, &tls.Config{RootCAs: pool}))
	if r, err := c.StartTLS(nil); err != nil || r.Code != 220 {
		t.Fatalf("LMTP StartTLS over TCP: %d %q, %v", r.Code, r.Message, err)
	}
	iopEhlo(t, c)
	if c.HasExtn("starttls") {
		t.Errorf("STARTTLS still advertised inside TLS")
	}
	iopQuit(t, c)
}

func iopLMTPSMTPUTF8(t *testing.T, s iopLMTPServer) {
	if !s.smtputf8 {
		t.Skipf("%s LMTP does not offer SMTPUTF8", s.name)
	}
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.LMTP, s.socket, iopOptions(tr, nil))
	token := iopToken(t)
	msg := "From: Jörg <jörg@example.org>\r\nTo: Ünïcødé <ünïcødé@example.test>\r\nSubject: grüße " + token + "\r\n\r\nü\r\n"
	refused, err := c.SendMessage(strings.NewReader(msg), nil, nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("LMTP SendMessage with UTF-8 addresses: refused %v, %v", refused, err)
	}
	if !tr.sent("MAIL FROM:<jörg@example.org>") || !strings.Contains(tr.String(), "SMTPUTF8") {
		t.Errorf("MAIL without SMTPUTF8 for a UTF-8 sender")
	}
	iopQuit(t, c)
	content := iopFindMail(t, s.mailbox("x"), token)
	if !strings.Contains(content, "X-Testbed-Envelope-To: <ünïcødé@example.test>") {
		t.Errorf("UTF-8 recipient not in the envelope:\n%s", content)
	}
}

// iopLargeMessage: 3 MB over implicit TLS, with dot lines scattered through
// it; the stored copy must have every line.
func iopLargeMessage(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTPS, s.smtpsAddr, iopOptions(tr, iopCAConfig(t, s.caFile, "localhost")))
	if r, err := c.Login("alice", "alicepw", true); err != nil || r.Code != 235 {
		t.Fatalf("Login: %d %q, %v", r.Code, r.Message, err)
	}
	token := iopToken(t)
	var b strings.Builder
	b.WriteString("From: alice@example.test\r\nTo: bob@example.test\r\nSubject: large " + token + "\r\n\r\n")
	const lines = 40000
	for i := 0; i < lines; i++ {
		if i%1000 == 0 {
			fmt.Fprintf(&b, ".dot line %06d\r\n", i)
			continue
		}
		fmt.Fprintf(&b, "line %06d %s\r\n", i, strings.Repeat("x", 60))
	}
	b.WriteString("end " + token + "\r\n")
	msg := b.String()
	refused, err := c.Sendmail("alice@example.test", []string{"bob@example.test"}, strings.NewReader(msg), nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("Sendmail of %d bytes: refused %v, %v", len(msg), refused, err)
	}
	iopQuit(t, c)
	content := strings.ReplaceAll(iopFindMail(t, s.mailbox("bob"), "end "+token), "\r\n", "\n")
	for _, want := range []string{"\n.dot line 000000\n", "\n.dot line 039000\n", "\nline 039999 ", "\nline 000001 "} {
		if !strings.Contains(content, want) {
			t.Errorf("stored copy (%d bytes) lacks %q", len(content), want)
		}
	}
	if n := strings.Count(content, "\nline ") + strings.Count(content, "\n.dot line "); n != lines {
		t.Errorf("stored copy has %d of the %d body lines", n, lines)
	}
}

// iopImplicitTLSOnPlainPort: TLS against a plaintext greeting fails with a
// TLSError that explains the likely mistake.
func iopImplicitTLSOnPlainPort(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	_, _, err := protocol.Dial(protocol.SMTPS, s.addr, 0, iopOptions(tr, iopCAConfig(t, s.caFile, interopCertName)))
	var te *protocol.TLSError
	if !errors.As(err, &te) {
		t.Fatalf("implicit TLS to the plaintext port %s: %v (%T), want *protocol.TLSError", s.addr, err, err)
	}
	if !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("TLSError %q does not suggest STARTTLS", err)
	}
}

// iopPlainOnTLSPort: a plaintext client on the implicit-TLS port waits for a
// greeting that never comes; the client's timeout must end the wait.
func iopPlainOnTLSPort(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	opts := iopOptions(tr, nil)
	opts.Timeout = 1500 * time.Millisecond
	start := time.Now()
	c, r, err := protocol.Dial(protocol.SMTP, s.smtpsAddr, 0, opts)
	elapsed := time.Since(start)
	if err == nil {
		c.Close()
		t.Fatalf("plaintext Dial to the implicit-TLS port %s got a greeting %d %q", s.smtpsAddr, r.Code, r.Message)
	}
	if !errors.Is(err, protocol.ErrSMTP) {
		t.Errorf("error %v (%T) is not an ErrSMTP", err, err)
	}
	if elapsed > 10*time.Second {
		t.Errorf("Dial took %v with a %v timeout", elapsed, opts.Timeout)
	}
}

// iopScriptedRefusals uses aiosmtpd's scripted recipients: a 451 at RCPT
// lands in the refused map, and a message refused after the data is a
// *DataError, after which the connection is reset and still usable.
func iopScriptedRefusals(t *testing.T, s iopSMTPServer) {
	if s.name != "aiosmtpd" {
		t.Skipf("scripted refusals exist only on aiosmtpd")
	}
	tr := iopNewTranscript(t)
	c := iopStartTLSLogin(t, s, tr, "alice", "alicepw")
	token := iopToken(t)
	refused, err := c.Sendmail("alice@example.test", []string{"tempfail-x@example.test", "bob@example.test"},
		strings.NewReader(iopMessage(token, "alice@example.test", "bob@example.test")), nil, nil)
	if err != nil || len(refused) != 1 || refused["tempfail-x@example.test"].Code != 451 {
		t.Fatalf("Sendmail with a 451 recipient: refused %v, %v; want only tempfail-x with 451", refused, err)
	}
	_, err = c.Sendmail("alice@example.test", []string{"faildata-x@example.test"},
		strings.NewReader(iopMessage(token+"-refused", "alice@example.test", "faildata-x@example.test")), nil, nil)
	var de *protocol.DataError
	if !errors.As(err, &de) || de.Code != 554 {
		t.Fatalf("message refused after the data: %v (%T), want *protocol.DataError 554", err, err)
	}
	if !tr.sent("RSET") {
		t.Errorf("no RSET after the refused message")
	}
	iopNoop(t, c)
	// and the next transaction works
	refused, err = c.Sendmail("alice@example.test", []string{"bob@example.test"},
		strings.NewReader(iopMessage(token+"-after", "alice@example.test", "bob@example.test")), nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("Sendmail after a DataError: refused %v, %v", refused, err)
	}
	iopQuit(t, c)
	content := iopFindMail(t, s.mailbox("bob"), "interop "+token+"\r")
	if !strings.Contains(content, "X-Testbed-Envelope-To: <bob@example.test>\r\n") {
		t.Errorf("envelope of the first message: want only bob:\n%s", content)
	}
	iopFindMail(t, s.mailbox("bob"), token+"-after")
	iopNoMail(t, s.mailbox("bob"), token+"-refused")
}

// TestInteropAiosmtpdSizeMatchesData: aiosmtpd records the MAIL parameters
// and stores the bytes it received, so the SIZE= the client announced can be
// compared with what actually went over the wire after the 354 (RFC 1870
// §4: "the number of octets, including CR-LF pairs, but not the SMTP DATA
// command's terminating dot or doubled quoting dots, to be transmitted by
// the SMTP client after receiving reply code 354").
func TestInteropAiosmtpdSizeMatchesData(t *testing.T) {
	requireInterop(t, "aiosmtpd")
	t.Parallel()
	s := iopAiosmtpd()
	cases := []struct {
		name, body, wire string
		appended         int
	}{
		// LF line ends, a lone CR, dot lines: each normalised to CRLF.
		{"EndsWithNewline", ".one\n..two\nlone\rcr\nlast\n", ".one\r\n..two\r\nlone\r\ncr\r\nlast\r\n", 0},
		// The client completes the last line with CRLF before the final dot.
		// smtplib's SIZE counts the normalised message without those two
		// octets (its acceptance case 49: an empty message announces
		// size=0); ehlo keeps that, so SIZE is 2 below what RFC 1870 §4
		// would count. Servers' limits are far from 2 octets away.
		{"NoFinalNewline", "first\nno final newline", "first\r\nno final newline\r\n", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := iopNewTranscript(t)
			c := iopStartTLSLogin(t, s, tr, "alice", "alicepw")
			token := iopToken(t)
			head := "Subject: size " + token
			if _, err := c.Sendmail("alice@example.test", []string{"bob@example.test"},
				strings.NewReader(head+"\n\n"+tc.body), nil, nil); err != nil {
				t.Fatalf("Sendmail: %v", err)
			}
			iopQuit(t, c)
			content := iopFindMail(t, s.mailbox("bob"), head)
			received := content[strings.Index(content, head):]
			if want := head + "\r\n\r\n" + tc.wire; received != want {
				t.Errorf("server received %q, want %q", received, want)
			}
			announced := -1
			for _, f := range strings.Fields(iopHeaderLine(content, "X-Testbed-Options")) {
				if v, ok := strings.CutPrefix(strings.ToUpper(f), "MAIL=SIZE="); ok {
					fmt.Sscan(v, &announced)
				} else if v, ok := strings.CutPrefix(strings.ToUpper(f), "SIZE="); ok {
					fmt.Sscan(v, &announced)
				}
			}
			if announced != len(received)-tc.appended {
				t.Errorf("MAIL announced SIZE=%d, but %d octets were transmitted after the 354 (RFC 1870 §4); %s",
					announced, len(received), iopHeaderLine(content, "X-Testbed-Options"))
			}
		})
	}
}

func iopHeaderLine(content, name string) string {
	for _, l := range strings.Split(strings.ReplaceAll(content, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(l, name+":") {
			return l
		}
	}
	return ""
}

func iopRaw(t *testing.T, c *protocol.Client, line string, want int) protocol.Reply {
	t.Helper()
	r, err := c.Debug().Raw(line)
	if err != nil || r.Code != want {
		t.Fatalf("Raw(%q): %d %q, %v; want %d", line, r.Code, r.Message, err, want)
	}
	return r
}

// iopRawSession types a whole session by hand, as the debugger does: the
// client must follow along (STARTTLS upgrade, EHLO knowledge, AUTH
// continuation lines kept secret, DATA through SendData).
func iopRawSession(t *testing.T, s iopSMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.SMTP, s.addr, iopOptions(tr, iopCAConfig(t, s.caFile, interopCertName)))
	iopRaw(t, c, "EHLO "+interopClientName, 250)
	if !c.HasExtn("starttls") {
		t.Fatalf("EHLO typed by hand: features not recorded (%v)", c.Features())
	}
	iopRaw(t, c, "STARTTLS", 220)
	if st, ok := c.TLSConnectionState(); !ok || len(st.VerifiedChains) == 0 {
		t.Fatalf("typed STARTTLS did not upgrade to a verified TLS connection")
	}
	if len(c.Features()) != 0 {
		t.Errorf("EHLO knowledge not forgotten after a typed STARTTLS: %v", c.Features())
	}
	iopRaw(t, c, "EHLO "+interopClientName, 250)
	if !c.HasExtn("auth") {
		t.Fatalf("AUTH not advertised after TLS: %v", c.Features())
	}
	iopRaw(t, c, "AUTH LOGIN", 334)
	if r, err := c.Debug().AuthRespond([]byte("alice")); err != nil || r.Code != 334 {
		t.Fatalf("AUTH LOGIN user: %d %q, %v", r.Code, r.Message, err)
	}
	if r, err := c.Debug().AuthRespond([]byte("alicepw")); err != nil || r.Code != 235 {
		t.Fatalf("AUTH LOGIN password: %d %q, %v", r.Code, r.Message, err)
	}
	if !c.State().Authenticated {
		t.Errorf("State().Authenticated false after a typed AUTH got 235")
	}
	if strings.Contains(tr.String(), "YWxpY2Vwdw==") { // base64("alicepw")
		t.Errorf("the AUTH LOGIN password was traced without a secret mark")
	}
	token := iopToken(t)
	iopRaw(t, c, "MAIL FROM:<alice@example.test>", 250)
	iopRaw(t, c, "RCPT TO:<bob@example.test>", 250)
	if st := c.State(); st.Phase != protocol.PhaseRcpt || st.Recipients != 1 {
		t.Errorf("state after a typed RCPT: %+v", st)
	}
	iopRaw(t, c, "DATA", 354)
	if r, err := c.Debug().SendData(strings.NewReader(iopMessage(token, "alice@example.test", "bob@example.test"))); err != nil || r.Code != 250 {
		t.Fatalf("SendData: %d %q, %v", r.Code, r.Message, err)
	}
	if st := c.State(); st.Phase != protocol.PhaseHello {
		t.Errorf("state after the message: %+v, want hello", st)
	}
	iopRaw(t, c, "QUIT", 221)
	if c.Connected() {
		t.Errorf("still connected after a typed QUIT")
	}
	iopCheckBody(t, iopFindMail(t, s.mailbox("bob"), token), token)
}

// iopLMTPRawSession: typed LMTP, with the per-recipient replies after the
// data matched to the recipients the server accepted.
func iopLMTPRawSession(t *testing.T, s iopLMTPServer) {
	tr := iopNewTranscript(t)
	c := iopDial(t, protocol.LMTP, s.socket, iopOptions(tr, nil))
	iopRaw(t, c, "LHLO "+interopClientName, 250)
	iopRaw(t, c, "MAIL FROM:<sender@example.org>", 250)
	iopRaw(t, c, "RCPT TO:<alice@example.test>", 250)
	iopRaw(t, c, "RCPT TO:<"+s.unknownRcpt+">", s.unknownCode)
	iopRaw(t, c, "RCPT TO:<"+s.failRcpt+">", 250)
	iopRaw(t, c, "DATA", 354)
	token := iopToken(t)
	r, err := c.Debug().SendData(strings.NewReader(iopMessage(token, "sender@example.org", "alice@example.test")))
	if err != nil || r.Code != 250 {
		t.Fatalf("SendData: first reply %d %q, %v; want alice's 250", r.Code, r.Message, err)
	}
	replies := c.LMTPReplies()
	if len(replies) != 2 || replies[0].Recipient != "alice@example.test" || replies[0].Code != 250 ||
		replies[1].Recipient != s.failRcpt || replies[1].Code != s.failCode {
		t.Errorf("LMTP replies %+v, want alice 250 then %s %d", replies, s.failRcpt, s.failCode)
	}
	iopRaw(t, c, "NOOP", 250)
	iopRaw(t, c, "QUIT", 221)
	iopFindMail(t, s.mailbox("alice"), token)
}

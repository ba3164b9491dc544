// Package cli is ehlo's command line: it parses flags (kong), wires the
// packages together and maps outcomes to exit codes, which travel as
// *exitError values. The work is done in protocol (the SMTP client),
// session (live and recorded conversations, send, audit, MX/DANE/MTA-STS),
// sandbox (the practice server) and tui (the terminal interface); the
// top-level main.go only calls Main.
//
// cli.go holds the commands; dns.go the no-SERVER route of send; swaks.go
// and pipe.go swaks's options (the spellings themselves are translated by
// internal/cli/swaksargs before kong parses).
package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/alecthomas/kong"
	"github.com/charmbracelet/x/term"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/audit"
	"github.com/ehlo-dev/ehlo/session/mx"
	"github.com/ehlo-dev/ehlo/themes"
	"github.com/ehlo-dev/ehlo/tui"
)

// version is set by -ldflags "-X github.com/ehlo-dev/ehlo/internal/cli.version=…"; otherwise the module
// version from the build info is used.
var version = ""

func ehloVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

type versionCmd struct{}

func (versionCmd) Run(app *appContext) error {
	fmt.Fprintf(app.stdout, "ehlo %s\n", ehloVersion())
	return nil
}

// cli is the whole command line. Each command's flags and Run method live
// in this package; the work is done by the packages.
type cli struct {
	TUI        tuiCmd        `cmd:"" name:"tui" default:"withargs" help:"Open the TUI on SERVER, or on the embedded sandbox (the default command: ehlo [flags] [SERVER])."`
	Send       sendCmd       `cmd:"" help:"Send one message and print a swaks-style transcript."`
	Version    versionCmd    `cmd:"" help:"Print the version."`
	Completion completionCmd `cmd:"" help:"Print a shell completion script: bash, zsh or fish."`
	Sandbox    sandboxCmd    `cmd:"" help:"Run the practice SMTP server in the foreground. Limits: 256 sessions (then 421), 10 MiB a message, 5 failed AUTH attempts a session (then 421), a TLS handshake within 10 s; see docs/sandbox.md."`
	Replay     replayCmd     `cmd:"" help:"Replay a recording: --print the transcript, --serve it as a fake server, --list the samples."`
	Export     exportCmd     `cmd:"" help:"Export a recording as text, Markdown, JSON or pcap (credentials hidden)."`
	Audit      auditCmd      `cmd:"" help:"Audit a mail server's security: TLS, certificate, STARTTLS injection, open relay, smuggling… in one report."`
}

// Main runs ehlo with the process's arguments and returns the exit code.
func Main() int {
	return run(os.Args[1:])
}

// exitError carries a specific exit code out of a command's Run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &appContext{ctx: ctx, stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin}
	return runWith(app, args)
}

func runWith(app *appContext, args []string) int {
	var c cli
	exitCode := -1
	parser, err := kong.New(&c,
		kong.Name("ehlo"),
		kong.Description("An interactive terminal SMTP debugger."),
		kong.UsageOnError(),
		kong.Writers(app.stdout, app.stderr),
		kong.Exit(func(code int) { exitCode = code; panic(kongExit{}) }),
		kong.Bind(app),
	)
	if err != nil {
		fmt.Fprintln(app.stderr, "ehlo:", err)
		return 1
	}
	code := func() (code int) {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(kongExit); !ok {
					panic(r)
				}
				code = exitCode
				if code > 0 {
					code = 1 // swaks: 1 is a bad command line
				}
			}
		}()
		args, err := translateSwaks(args)
		if err != nil {
			fmt.Fprintf(app.stderr, "ehlo: %v\n", err)
			return 1
		}
		kctx, err := parser.Parse(args)
		if err != nil {
			fmt.Fprintf(app.stderr, "ehlo: %v\n", err)
			return 1
		}
		if err := kctx.Run(app); err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				if ee.err != nil {
					fmt.Fprintf(app.stderr, "*** %v\n", ee.err)
				}
				return ee.code
			}
			fmt.Fprintf(app.stderr, "*** %v\n", err)
			return 1
		}
		return 0
	}()
	return code
}

type kongExit struct{}

// connFlags are the connection flags the TUI and `send` share (PRODUCT.md §4).
type connFlags struct {
	Port          int           `help:"Server port (default: 25, 465 with --tls-on-connect, 2003 with --lmtp)."`
	TLSOnConnect  bool          `name:"tls-on-connect" help:"Implicit TLS (the default when the port is 465)."`
	StartTLS      bool          `name:"starttls" help:"Require STARTTLS: stop if it is not offered or fails."`
	LMTP          bool          `name:"lmtp" help:"Speak LMTP (LHLO, one reply per recipient)."`
	Helo          string        `help:"Name for HELO/EHLO (default: this host's FQDN)."`
	Timeout       time.Duration `default:"30s" help:"Timeout for connecting and for each reply; zero is an error."`
	Source        string        `help:"Local address to bind, HOST[:PORT]."`
	Insecure      bool          `help:"Accept any certificate (TLS is then NOT verified)."`
	CA            string        `name:"ca" type:"existingfile" help:"Verify the server against the CA certificates in this PEM file."`
	Cert          string        `type:"existingfile" help:"Client certificate (PEM), with --key."`
	Key           string        `type:"existingfile" help:"Client certificate's key (PEM)."`
	SNI           string        `name:"sni" help:"Server name for TLS (SNI and verification)."`
	Record        string        `help:"Record the session to this JSON Lines file (created, never overwritten)." type:"path"`
	RecordSecrets bool          `help:"Keep AUTH secrets in the recording (off by default)."`

	serverArg string // the command's SERVER, for checks that depend on it
}

// kind is the protocol flavour the flags ask for.
func (f *connFlags) kind() protocol.Kind {
	switch {
	case f.LMTP:
		return protocol.LMTP
	case f.TLSOnConnect || f.Port == 465:
		return protocol.SMTPS
	}
	return protocol.SMTP
}

// check refuses contradictory or unusable connection flags before anything
// connects.
func (f *connFlags) check() error {
	if f.Timeout <= 0 {
		return fmt.Errorf("--timeout must be greater than zero (zero would mean a non-blocking socket)")
	}
	if f.StartTLS && (f.TLSOnConnect || f.Port == 465) {
		return fmt.Errorf("--starttls and implicit TLS (--tls-on-connect or port 465) exclude each other")
	}
	if strings.HasPrefix(f.server(), "/") && (f.StartTLS || f.TLSOnConnect) && f.SNI == "" && !f.Insecure {
		return fmt.Errorf("a Unix socket has no server name to verify the certificate against: pass --sni NAME (or --insecure)")
	}
	if (f.Cert == "") != (f.Key == "") {
		return fmt.Errorf("--cert and --key go together")
	}
	if f.Helo != "" {
		if err := protocol.ValidateHeloName(f.Helo); err != nil {
			return fmt.Errorf("--helo: %w", err)
		}
	}
	return nil
}

// tlsConfig builds the TLS configuration: verified against the system roots
// or --ca unless --insecure.
func (f *connFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: f.SNI, InsecureSkipVerify: f.Insecure, MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate found", f.CA)
		}
		cfg.RootCAs = pool
	}
	if f.Cert != "" {
		kp, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// sendCmd: `ehlo send`, swaks for people who read transcripts.
type sendCmd struct {
	connFlags `embed:""`

	Server string `arg:"" optional:"" help:"host, host:port, [v6]:port or an absolute Unix socket path; without it, the MX hosts of the recipients' domain (docs/dns.md)."`

	Resolver  string `help:"DNS server for MX, TLSA and MTA-STS lookups, HOST[:PORT] (default: /etc/resolv.conf's)." placeholder:"HOST[:PORT]"`
	TLSChain  bool   `name:"tls-chain" help:"Print the server's certificate chain as PEM."`
	TLSVerify string `name:"tls-verify" enum:",dane" default:"" placeholder:"dane" help:"dane: require DANE (RFC 7672) TLSA records and check the certificate against them (DANE is automatic when TLSA records exist without SERVER)."`

	From    *string  `help:"Envelope sender (<> for the null sender)."`
	To      []string `help:"Recipient (repeatable, or comma separated)."`
	Header  []string `sep:"none" help:"Add a header, \"Name: value\" (repeatable)."`
	Subject string   `help:"Subject (default: \"test\" and the date)."`
	Body    string   `help:"Body: TEXT, @FILE or - for stdin."`
	Data    string   `help:"A whole RFC 5322 message, @FILE or - for stdin (envelope from its headers unless --from/--to)."`
	Attach  []string `sep:"none" type:"path" help:"Attach a file (repeatable). Read as it is sent; one that is not a regular file (a FIFO, a device) is cut off at the server's SIZE, or 64 MiB."`

	DataTimeout time.Duration `name:"data-timeout" help:"Limit on writing the whole message (DATA or BDAT), from the 354 to its last byte; 0: none. Either way the send fails when the server takes no data for --timeout. Not with --repeat." placeholder:"DURATION"`

	Auth              string `help:"Authenticate: a mechanism (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER) or auto."`
	AuthUser          string `help:"User name for --auth."`
	AuthPassword      string `help:"Password or token (visible in ps; prefer EHLO_PASSWORD or the prompt)."`
	NoInitialResponse bool   `help:"Do not send an initial response with AUTH."`
	AuthCleartext     bool   `help:"Allow sending credentials without TLS (the one explicit opt-in)."`

	MailOption []string `sep:"none" help:"ESMTP parameter for MAIL FROM, one per flag (repeatable)."`
	RcptOption []string `sep:"none" help:"ESMTP parameter for RCPT TO, one per flag (repeatable)."`
	SMTPUTF8   bool     `name:"smtputf8" help:"Ask for SMTPUTF8 (RFC 6531)."`
	Pipeline   bool     `help:"Use PIPELINING when the server offers it: MAIL, RCPT and DATA in one write (RFC 2920)."`
	Chunking   bool     `help:"Use CHUNKING when the server offers it: BDAT instead of DATA (RFC 3030)."`
	NoPipeline bool     `help:"With --repeat: do not pipeline (it is on by default there)."`
	// PipelineDepth 1 is the RFC-conservative reading: a group never goes
	// past the message (DATA or BDAT LAST) into the next transaction.
	PipelineDepth int `default:"16" help:"With --repeat: transactions in flight per connection, one behind another (1: each waits for the one before, as --pipeline alone)." placeholder:"N"`

	Repeat      int    `help:"Send N messages and report messages per second and per-stage latency (a load generator). Pipelined; with --chunking, each transaction goes out behind the previous ones." placeholder:"N"`
	Connections int    `default:"1" help:"With --repeat: spread the messages over C connections." placeholder:"C"`
	Notify      string `help:"DSN: NOTIFY= for every recipient (NEVER or SUCCESS,FAILURE,DELAY)."`
	Ret         string `help:"DSN: RET=FULL or HDRS."`
	Envid       string `help:"DSN: ENVID=."`

	QuitAfter string `enum:",connect,banner,first-helo,helo,tls,xclient,auth,mail,rcpt" default:"" help:"Stop after this stage and QUIT: connect, banner, first-helo (the greeting before STARTTLS), helo (the last greeting), tls, xclient, auth, mail, rcpt; swaks's words in any case too."`
	Debug     int    `enum:"0,1,2" default:"0" help:"smtplib's debug output on stderr (1, or 2 with timestamps)."`
	JSON      bool   `name:"json" help:"One JSON object with every reply and the outcome on stdout instead of the transcript."`
	Quiet     bool   `help:"No transcript."`

	// swaks's options with no ehlo spelling of their own (docs: README's
	// "Coming from swaks"); swaksargs translates the rest before kong.
	IPv4              bool     `name:"ipv4" help:"Connect over IPv4 only (swaks -4)."`
	IPv6              bool     `name:"ipv6" help:"Connect over IPv6 only (swaks -6)."`
	AttachType        []string `sep:"none" placeholder:"TYPE" help:"MIME type of the --attach at the same position (empty: from the name, then the content)."`
	AttachName        []string `sep:"none" placeholder:"NAME" help:"File name shown for the --attach at the same position (empty: the file's)."`
	ShowTimeLapse     bool     `help:"Print how long each reply took (=== response in 0.043s), and give it in --json."`
	Silent            int      `enum:"0,1,2,3" default:"0" help:"1: no output unless the send fails, then all of it; 2: only errors; 3: nothing (swaks --silent)."`
	HideSend          bool     `help:"Do not print the lines sent."`
	HideReceive       bool     `help:"Do not print the lines received."`
	HideInformational bool     `help:"Do not print ehlo's === lines."`
	HideAll           bool     `help:"Print nothing, errors included: the exit code says how it went (swaks -ha)."`

	SuppressData      bool     `help:"Show no line of the message, only how many were not shown (swaks -n)."`
	ProxyVersion      int      `placeholder:"1|2" help:"Send a HAProxy PROXY protocol header first, version 1 (text, the default) or 2 (binary)."`
	Proxy             string   `placeholder:"RAW" help:"The PROXY header's body as given (v1: after \"PROXY \"; v2: after the signature, base64: for binary)."`
	ProxyFamily       string   `placeholder:"FAMILY" help:"PROXY family: TCP4, TCP6, UNKNOWN (v1); AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC (v2)."`
	ProxyProtocol     string   `placeholder:"PROTO" help:"PROXY v2 transport: STREAM (default), DGRAM, UNSPEC."`
	ProxyCommand      string   `placeholder:"CMD" help:"PROXY v2 command: PROXY (default) or LOCAL."`
	ProxySource       string   `placeholder:"ADDR" help:"PROXY source address (v2 AF_UNIX: a path)."`
	ProxySourcePort   string   `placeholder:"PORT" help:"PROXY source port."`
	ProxyDest         string   `placeholder:"ADDR" help:"PROXY destination address."`
	ProxyDestPort     string   `placeholder:"PORT" help:"PROXY destination port."`
	XClient           []string `name:"xclient" sep:"none" placeholder:"ATTRS" help:"Send Postfix's XCLIENT with these NAME=VALUE attributes (xtext-encoded) after the last greeting, then greet again (repeatable: one command each)."`
	TLSProtocol       string   `name:"tls-protocol" placeholder:"SPEC" help:"TLS versions, as swaks: allowed (tlsv1_2,tlsv1_3) or forbidden (no_tlsv1_3); ehlo speaks only 1.2 and 1.3."`
	HeloOnly          bool     `help:"Greet with HELO, never EHLO (swaks --protocol SMTP): no extensions, so no STARTTLS, AUTH or PIPELINING."`
	XClientNoVerify   bool     `name:"xclient-no-verify" help:"Send XCLIENT attributes the server did not list."`
	PeerCert          string   `placeholder:"FILE" help:"Write the server's certificate (PEM) to FILE, or - for stdout, once verified (swaks --tls-get-peer-cert)."`
	PeerChain         string   `placeholder:"FILE" help:"The same with every certificate the server sent (swaks --tls-get-peer-chain)."`
	Pipe              string   `placeholder:"COMMAND" help:"Speak SMTP to COMMAND's stdin and stdout (swaks --pipe, e.g. \"sendmail -bs\"); run without a shell. SERVER is then a name for the transcript."`
	StartTLSIfOffered bool     `name:"starttls-if-offered" help:"STARTTLS when the server offers it; without it, carry on in clear text (swaks --tls-optional-strict). A failed STARTTLS still stops."`

	preamble []byte // the PROXY header, built by Validate
}

// Validate refuses every bad input before anything connects (exit 1).
func (s *sendCmd) Validate() error {
	s.serverArg = s.Server
	if err := s.connFlags.check(); err != nil {
		return err
	}
	if s.From != nil {
		if err := protocol.ValidateAddress(*s.From); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	s.To = splitList(s.To)
	for _, to := range s.To {
		if err := protocol.ValidateAddress(to); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	for _, h := range s.Header {
		if _, _, err := session.ValidateHeaderLine(h); err != nil {
			return fmt.Errorf("--header: %w", err)
		}
	}
	if err := protocol.ValidateHeader("Subject", s.Subject); err != nil {
		return fmt.Errorf("--subject: %w", err)
	}
	for _, o := range append(append([]string(nil), s.MailOption...), s.RcptOption...) {
		if err := protocol.ValidateESMTPParam(o); err != nil {
			return fmt.Errorf("--mail-option/--rcpt-option %w", err)
		}
	}
	if s.Data != "" && (s.Body != "" || len(s.Attach) > 0 || len(s.Header) > 0 || s.Subject != "") {
		return fmt.Errorf("--data is a whole message: it excludes --body, --attach, --header and --subject")
	}
	if s.DataTimeout < 0 {
		return errors.New("--data-timeout cannot be negative")
	}
	if s.PipelineDepth < 1 {
		return errors.New("--pipeline-depth must be at least 1")
	}
	if s.Repeat < 0 || s.Connections < 1 {
		return fmt.Errorf("--repeat and --connections take positive numbers")
	}
	if s.Repeat > 0 && (s.Record != "" || s.JSON || s.QuitAfter != "") {
		return fmt.Errorf("--repeat excludes --record, --json and --quit-after")
	}
	if s.Repeat > 0 && s.DataTimeout > 0 {
		return fmt.Errorf("--data-timeout applies to one message, not to --repeat")
	}
	if s.Data != "" && s.Data != "-" && !strings.HasPrefix(s.Data, "@") {
		return fmt.Errorf("--data takes @FILE or - (stdin)")
	}
	needRcpt := s.QuitAfter == "" || s.QuitAfter == "rcpt"
	if needRcpt && len(s.To) == 0 && s.Data == "" {
		return fmt.Errorf("--to is required")
	}
	if err := s.validateRoute(); err != nil {
		return err
	}
	if err := s.checkSwaksOptions(); err != nil {
		return err
	}
	if s.Auth != "" && s.AuthUser == "" {
		return fmt.Errorf("--auth needs --auth-user")
	}
	if s.Auth != "" && !strings.EqualFold(s.Auth, "auto") {
		switch strings.ToUpper(s.Auth) {
		case "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER":
		default:
			return fmt.Errorf("--auth %s: unknown mechanism (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER or auto)", s.Auth)
		}
	}
	return nil
}

// splitList splits comma-separated values of a repeatable flag.
func splitList(in []string) []string {
	var out []string
	for _, v := range in {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// readArg opens a body given as @FILE or - (stdin) as a streamed input;
// TEXT is returned as is, with a nil input.
func readArg(app *appContext, flag, v string) (*session.Input, string, error) {
	switch {
	case v == "-":
		return session.StreamInput(app.ctx, flag+" -", app.stdin), "", nil
	case strings.HasPrefix(v, "@"):
		in, err := session.OpenInput(app.ctx, flag+" "+v, v[1:])
		return in, "", err
	}
	return nil, v, nil
}

// password finds the AUTH secret: the flag (with a warning), EHLO_PASSWORD,
// or a prompt without echo; with no terminal to prompt on it is an error.
func (s *sendCmd) password(app *appContext) (string, error) {
	if s.AuthPassword != "" {
		fmt.Fprintln(app.stderr, "*** warning: --auth-password is visible in ps and shell history; prefer EHLO_PASSWORD or the prompt")
		return s.AuthPassword, nil
	}
	if p, ok := os.LookupEnv("EHLO_PASSWORD"); ok {
		return p, nil
	}
	f, ok := app.stdin.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return "", fmt.Errorf("cannot prompt for password without a terminal (use EHLO_PASSWORD)")
	}
	fmt.Fprintf(app.stderr, "Password for %s: ", s.AuthUser)
	p, err := term.ReadPassword(f.Fd())
	fmt.Fprintln(app.stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(p), nil
}

func (s *sendCmd) Run(app *appContext) error {
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	var secret string
	if s.Auth != "" {
		if secret, err = s.password(app); err != nil {
			return &exitError{code: 1, err: err}
		}
		if _, err := protocol.NewAuthenticator(strings.ToUpper(s.Auth), s.AuthUser, secret); err != nil && !strings.EqualFold(s.Auth, "auto") {
			return &exitError{code: 1, err: fmt.Errorf("--auth-user/--auth-password: %w", err)}
		} else if strings.EqualFold(s.Auth, "auto") {
			if _, err := protocol.PlainAuth("", s.AuthUser, secret); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("--auth-user/--auth-password: %w", err)}
			}
		}
	}
	msg, err := s.message(app)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if c, ok := msg.(io.Closer); ok {
		defer c.Close()
	}
	mailOpts := append([]string(nil), s.MailOption...)
	rcptOpts := append([]string(nil), s.RcptOption...)
	if s.SMTPUTF8 {
		mailOpts = append(mailOpts, "SMTPUTF8")
	}
	if s.Ret != "" {
		mailOpts = append(mailOpts, "RET="+s.Ret)
	}
	if s.Envid != "" {
		mailOpts = append(mailOpts, "ENVID="+s.Envid)
	}
	if s.Notify != "" {
		rcptOpts = append(rcptOpts, "NOTIFY="+s.Notify)
	}
	for _, o := range append(append([]string(nil), mailOpts...), rcptOpts...) {
		if err := protocol.ValidateESMTPParam(o); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	cfg := session.SendConfig{
		Server: s.Server, Port: s.Port, Kind: s.kind(), StartTLS: s.StartTLS,
		Helo: s.Helo, Timeout: s.Timeout, DataTimeout: s.DataTimeout, Source: s.Source, TLSConfig: tlsCfg,
		To: s.To, Message: msg,
		AuthMech: s.Auth, AuthUser: s.AuthUser, AuthPassword: secret,
		NoInitialResponse: s.NoInitialResponse, AuthCleartext: s.AuthCleartext,
		MailOptions: mailOpts, RcptOptions: rcptOpts, QuitAfter: s.QuitAfter,
		Pipelining: s.Pipeline, Chunking: s.Chunking, DSN: s.Notify != "" || s.Ret != "" || s.Envid != "",
		DebugLevel: s.Debug, DebugOut: app.stderr,
	}
	if s.From != nil {
		cfg.From, cfg.HasFrom = *s.From, true
		if cfg.From == "<>" {
			cfg.From = ""
		}
	} else if s.Data == "" {
		cfg.From, cfg.HasFrom = defaultSender(), true
	}
	if s.Repeat > 0 {
		return s.runRepeat(app, cfg)
	}
	unsilence := s.silence(app)
	out, err := newSendOutput(app, s, secret)
	if err != nil {
		return unsilence(&exitError{code: 1, err: err})
	}
	cfg.Tracer, cfg.Info = out.tracer(), out.info
	// smtplib's debug format prints server text as received; a server that
	// echoes credentials must not get them onto stderr.
	cfg.DebugOut = &scrubWriter{w: app.stderr, scrub: out.scrub}
	if s.Insecure {
		out.info(session.Warning, "TLS NOT VERIFIED (--insecure): certificates are not checked")
	}
	cfg.Tracer = out.chainTracer(cfg.Tracer)
	do := func(cfg session.SendConfig) *session.SendResult { return session.Send(app.ctx, cfg) }
	if s.routed() {
		do = func(cfg session.SendConfig) *session.SendResult { return s.sendRoute(app, cfg, out) }
	}
	return unsilence(out.finish(s.send(app, cfg, out, do)))
}

// message builds the message: --data as given, else the default message
// with the caller's headers, subject, body and attachments.
func (s *sendCmd) message(app *appContext) (io.Reader, error) {
	if s.Data != "" {
		if s.Data == "-" {
			return interruptible(app.ctx, app.stdin), nil // streamed, never read whole
		}
		return dataFile(app.ctx, s.Data[1:])
	}
	comp := session.Composition{To: s.To, Subject: s.Subject, Headers: s.Header, Hostname: localHostname()}
	if s.From != nil {
		comp.From = *s.From
	} else {
		comp.From = defaultSender()
	}
	if s.Body != "" {
		in, text, err := readArg(app, "--body", s.Body)
		if err != nil {
			return nil, err
		}
		comp.Body, comp.BodyInput = text, in
	}
	for _, path := range s.Attach {
		var in *session.Input
		var err error
		if path == "-" { // swaks's manual attaches EICAR from stdin
			in = session.StreamInput(app.ctx, "--attach -", app.stdin)
		} else if in, err = session.OpenInput(app.ctx, "--attach "+path, path); err != nil {
			return nil, err
		}
		comp.Attachments = append(comp.Attachments, session.Attachment{Name: attachmentName(path), Input: in})
	}
	s.describeAttachments(comp.Attachments)
	// Streamed: a body or attachment file is read while it is sent.
	return comp.Open()
}

// attachmentName is the name an attachment goes by unless --attach-name
// gives one: the file's base name, "attachment" for stdin.
func attachmentName(path string) string {
	if path == "-" {
		return "attachment"
	}
	return filepath.Base(path)
}

// dataFile opens --data @FILE. A regular file is checked for NUL before
// anything connects (it is read twice: here, and while sending); anything
// else (a FIFO, a device) is streamed as stdin is, so that its open and its
// reads, which may never return, still end on Ctrl+C.
func dataFile(ctx context.Context, path string) (io.Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("--data %s: is a directory", path)
	}
	if !st.Mode().IsRegular() {
		return session.Interruptible(ctx, func() (io.ReadCloser, error) { return os.Open(path) }), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	if _, err := protocol.NormalizedSize(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--data %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("--data: %w", err)
	}
	return f, nil
}

// interruptible makes a read of r (stdin) end when ctx is cancelled, so
// Ctrl+C aborts a message still being typed or piped instead of waiting
// for its end.
func interruptible(ctx context.Context, r io.Reader) io.Reader {
	return session.Interruptible(ctx, func() (io.ReadCloser, error) { return io.NopCloser(r), nil })
}

func localHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// defaultSender is swaks's default: the login name at this host.
func defaultSender() string {
	u := os.Getenv("LOGNAME")
	if u == "" {
		u = os.Getenv("USER")
	}
	if u == "" {
		u = "ehlo"
	}
	return u + "@" + localHostname()
}

// appContext is what every command's Run receives: the process's streams
// and a context cancelled on SIGINT or SIGTERM. Tests substitute buffers.
type appContext struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
}

// sandboxCmd: `ehlo sandbox`. Its flags map onto sandbox.Config. The
// listeners default to loopback, so reaching the sandbox from another host
// takes an explicit --listen or --tls-listen.
type sandboxCmd struct {
	Listen            string   `help:"Plain SMTP listener, STARTTLS offered (default: loopback, a free port); \"-\" disables it. Only an explicit address leaves loopback." default:"127.0.0.1:0" placeholder:"ADDR"`
	TLSListen         string   `name:"tls-listen" help:"Implicit-TLS listener (default: loopback, a free port); \"-\" disables it." default:"127.0.0.1:0" placeholder:"ADDR"`
	LMTP              bool     `name:"lmtp" help:"Speak LMTP (LHLO, one reply per recipient) instead of SMTP."`
	Socket            string   `help:"Also listen on this Unix socket path." placeholder:"PATH"`
	TLSCert           string   `name:"tls-cert" help:"PEM certificate chain (default: an in-memory self-signed certificate)." placeholder:"FILE"`
	TLSKey            string   `name:"tls-key" help:"PEM private key for --tls-cert." placeholder:"FILE"`
	User              []string `name:"user" sep:"none" help:"Demo user NAME:PASS (repeatable; replaces alice:alicepw and bob:bobpw)." placeholder:"NAME:PASS"`
	Fault             []string `name:"fault" sep:"none" help:"Inject a fault, KIND[:STAGE,...][=VALUE] (repeatable; see docs/sandbox.md)." placeholder:"SPEC"`
	Hostname          string   `help:"Name in the greeting, the EHLO reply and the certificate." default:"sandbox.ehlo.test"`
	AllowInsecureAuth bool     `name:"allow-insecure-auth" help:"Offer and accept AUTH without TLS."`
	WriteCA           string   `name:"write-ca" type:"path" help:"Write the sandbox's certificate (PEM) to FILE, for ehlo --ca FILE." placeholder:"FILE"`
	Quiet             bool     `help:"No session log; only the ready banner and the stop line."`
	LogFile           string   `name:"log" help:"Append the session log to FILE instead of standard output." placeholder:"FILE"`
	MailboxLimit      int      `name:"mailbox-limit" help:"Messages the mailbox keeps (default 1000); the oldest are dropped first (logged)." default:"1000" placeholder:"N"`
	MailboxBytes      string   `name:"mailbox-bytes" help:"Bytes the mailbox keeps (default 32M; K, M, G are KiB, MiB, GiB); the oldest are dropped first (logged)." default:"32M" placeholder:"SIZE"`
	BufferBytes       string   `name:"buffer-bytes" help:"Bytes of message content all sessions together may hold while it arrives (default 32M); past it a message gets 452 (logged)." default:"32M" placeholder:"SIZE"`
}

// limits fills cfg's bounds and session log from the flags; the log file,
// if any, is for the caller to close.
func (s *sandboxCmd) limits(cfg *sandbox.Config) (io.Closer, error) {
	var err error
	if cfg.MailboxBytes, err = sandbox.ParseSize(s.MailboxBytes); err != nil {
		return nil, fmt.Errorf("--mailbox-bytes: %w", err)
	}
	if cfg.BufferBytes, err = sandbox.ParseSize(s.BufferBytes); err != nil {
		return nil, fmt.Errorf("--buffer-bytes: %w", err)
	}
	if s.MailboxLimit < 1 {
		return nil, fmt.Errorf("--mailbox-limit %d: want at least 1", s.MailboxLimit)
	}
	cfg.MailboxLimit = s.MailboxLimit
	switch {
	case s.Quiet && s.LogFile != "":
		return nil, errors.New("--quiet and --log: choose one")
	case s.Quiet:
		cfg.Log = io.Discard
	case s.LogFile != "":
		f, err := os.OpenFile(s.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		cfg.Log = f
		return f, nil
	}
	return nil, nil
}

func (s *sandboxCmd) Run(app *appContext) error {
	cfg := sandbox.Config{
		Listen:            s.Listen,
		TLSListen:         s.TLSListen,
		LMTP:              s.LMTP,
		Socket:            s.Socket,
		Hostname:          s.Hostname,
		TLSCert:           s.TLSCert,
		TLSKey:            s.TLSKey,
		AllowInsecureAuth: s.AllowInsecureAuth,
		WriteCA:           s.WriteCA,
	}
	if len(s.User) > 0 {
		cfg.Users = make(map[string]string, len(s.User))
		for _, u := range s.User {
			name, pass, ok := strings.Cut(u, ":")
			if !ok || name == "" {
				return fmt.Errorf("--user %q: want NAME:PASS", u)
			}
			if _, dup := cfg.Users[name]; dup {
				return fmt.Errorf("--user %q: %s given twice", u, name)
			}
			cfg.Users[name] = pass
		}
	}
	for _, spec := range s.Fault {
		f, err := sandbox.ParseFault(spec)
		if err != nil {
			return fmt.Errorf("--fault: %w", err)
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	logFile, err := s.limits(&cfg)
	if err != nil {
		return err
	}
	if logFile != nil {
		defer logFile.Close()
	}
	sandbox.TuneProcess(cfg)
	return sandbox.Run(app.ctx, cfg, app.stdout)
}

// sendOutput is where a send's events go: the transcript (unless --quiet
// or --json), the recording (--record), and the JSON summary (--json).
// Every sink gets events after redaction; the recording keeps secrets only
// with --record-secrets.
type sendOutput struct {
	app     *appContext
	cmd     *sendCmd
	capture *session.Capture
	trans   *session.Transcript
	rec     *session.Recorder
	lines   *jsonLines // --json: the wire lines, written as they come
	tls     *session.TLSSummary
	notes   []jsonInfo
	infos   []jsonInfo
	scrub   *session.Scrubber
	route   *mx.Report // MX, DANE and MTA-STS findings (no SERVER, or --tls-verify dane)
	pems    []string   // --tls-chain with --json
	clock   lapseClock // --show-time-lapse in --json
}

type jsonInfo struct {
	Level string `json:"level"`
	Text  string `json:"text"`
}

func newSendOutput(app *appContext, s *sendCmd, secret string) (*sendOutput, error) {
	o := &sendOutput{app: app, cmd: s}
	o.scrub = session.NewScrubber()
	if secret != "" {
		o.scrub.Add(secret)
		o.scrub.AddPlain("", s.AuthUser, secret)
		o.scrub.AddXOAUTH2(s.AuthUser, secret)
	}
	o.capture = session.NewCapture(time.Time{}, session.Redaction{Scrubber: o.scrub})
	if !s.Quiet && !s.JSON {
		o.trans = session.NewTranscript(app.stdout, session.TranscriptOptions{Errors: app.stderr, Width: terminalWidth(app.stdout), DataLines: s.dataLines()})
		o.capture.Add(o.transcriptSink())
	}
	if s.JSON {
		o.lines = &jsonLines{w: bufio.NewWriterSize(app.stdout, 64<<10)}
		o.capture.Add(session.SinkFunc(o.jsonEvent))
	}
	if s.Record != "" {
		network := "tcp"
		if strings.HasPrefix(s.Server, "/") {
			network = "unix"
		}
		rec, err := session.Create(s.Record, session.Header{
			Created: o.capture.Start(), Server: s.Server, Transport: s.kind().String(), Network: network,
			EhloVersion: ehloVersion(), Secrets: s.RecordSecrets, Insecure: s.Insecure,
		})
		if err != nil {
			return nil, fmt.Errorf("--record: %w", err)
		}
		o.rec = rec
		o.capture.Add(rec)
	}
	return o, nil
}

// tracer is nil when nothing listens (--quiet without --json or --record):
// a 100 MB message then skips the copy and the redaction of every byte.
func (o *sendOutput) tracer() protocol.Tracer {
	if o.trans == nil && !o.cmd.JSON && o.rec == nil {
		return nil
	}
	return o.capture
}

// scrubWriter removes known secrets from each write (one debug line each).
type scrubWriter struct {
	w     io.Writer
	scrub *session.Scrubber
}

func (s *scrubWriter) Write(p []byte) (int, error) {
	out, _ := s.scrub.Scrub(p)
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// info prints ehlo's own lines: "===" information on stdout, "***"
// warnings and errors on stderr, always sanitised and scrubbed.
func (o *sendOutput) info(kind session.InfoKind, text string) {
	text, _ = o.scrub.ScrubString(text)
	if kind != session.Info {
		// A warning is a note event: the transcript prints it ("***" on
		// stderr), the recording keeps it and --json lists it, once each.
		o.capture.Note(text)
		if o.trans == nil && !o.cmd.JSON {
			fmt.Fprintf(o.app.stderr, "*** %s\n", session.SanitizeText(text))
		}
		return
	}
	text = session.SanitizeText(text)
	if o.cmd.JSON {
		o.infos = append(o.infos, jsonInfo{Level: "info", Text: text})
		return
	}
	if o.trans != nil && !o.cmd.hides(session.KindState) {
		o.trans.Flush()
		fmt.Fprintf(o.app.stdout, "=== %s\n", text)
	}
}

// finish reports the outcome and turns it into the exit code.
func (o *sendOutput) finish(res *session.SendResult) error {
	code := res.ExitCode()
	var errText string
	if res.Err != nil {
		errText, _ = o.scrub.ScrubString(res.Err.Error())
		// An error's text is ehlo's, quoting bytes that are often escaped
		// already (Go's %q in x509 errors, protocol's previews): escaped
		// once more, "" would show as "\x1b".
		errText = session.SanitizeText(errText)
	}
	if o.trans != nil {
		o.trans.Flush()
	}
	if res.Err != nil && !o.cmd.JSON {
		fmt.Fprintf(o.app.stderr, "*** %s (stage %s, exit %d)\n", errText, res.Stage, code)
	}
	if o.rec != nil {
		if err := o.rec.Close(); err != nil {
			fmt.Fprintf(o.app.stderr, "*** recording %s: %v\n", o.cmd.Record, err)
			if code == 0 {
				code = 1
			}
		}
	}
	if o.cmd.JSON {
		if err := o.writeJSON(res, code, errText); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// jsonLine is one wire line in --json output. Text is always valid UTF-8
// (sanitised); Raw carries the exact bytes in base64 when they were not
// printable text, so nothing the server sent is lost.
type jsonLine struct {
	Offset   float64 `json:"t"`
	Dir      string  `json:"dir"`
	TLS      bool    `json:"tls,omitempty"`
	Text     string  `json:"text"`
	Raw      []byte  `json:"raw,omitempty"`
	Redacted bool    `json:"redacted,omitempty"`
	// Lapse (--show-time-lapse) is the seconds since the last line sent.
	Lapse *float64 `json:"lapse,omitempty"`
}

// jsonEvent is the --json sink: wire lines are written at once, the TLS
// summary and the notes kept for the end.
func (o *sendOutput) jsonEvent(e session.Event) {
	switch e.Kind {
	case session.KindTLS:
		o.tls = e.Handshake
	case session.KindNote:
		o.notes = append(o.notes, jsonInfo{Level: "note", Text: session.SanitizeString(e.Text)})
	}
	if lapse, ok := o.clock.reply(e); ok && o.cmd.ShowTimeLapse {
		sec := lapse.Seconds()
		o.lines.lapse = &sec
	}
	o.lines.event(e)
}

// writeJSON ends the --json document that jsonLines began: "lines" comes
// first, as the conversation went, and the outcome after it.
func (o *sendOutput) writeJSON(res *session.SendResult, code int, errText string) error {
	out := struct {
		Server   string                    `json:"server"`
		ExitCode int                       `json:"exit_code"`
		Stage    string                    `json:"stage"`
		OK       bool                      `json:"ok"`
		Error    string                    `json:"error,omitempty"`
		Greeting *protocol.Reply           `json:"greeting,omitempty"`
		Refused  map[string]protocol.Reply `json:"refused,omitempty"`
		LMTP     []protocol.RecipientReply `json:"lmtp,omitempty"`
		TLS      *session.TLSSummary       `json:"tls,omitempty"`
		Notes    []jsonInfo                `json:"notes,omitempty"`
		Route    *mx.Report                `json:"route,omitempty"`
		ChainPEM []string                  `json:"tls_chain_pem,omitempty"`
	}{Route: o.route, ChainPEM: o.pems, Server: o.cmd.Server, ExitCode: code, Stage: res.Stage.String(), OK: code == 0, Error: errText,
		Refused: res.Refused, LMTP: res.LMTP, TLS: o.tls, Notes: append(o.infos, o.notes...)}
	if res.Greeting.Code != 0 {
		g := res.Greeting
		g.Message = session.SanitizeString(g.Message)
		out.Greeting = &g
	}
	for k, r := range out.Refused {
		r.Message = session.SanitizeString(r.Message)
		out.Refused[k] = r
	}
	for i := range out.LMTP {
		out.LMTP[i].Message = session.SanitizeString(out.LMTP[i].Message)
	}
	return o.lines.finish(out)
}

// jsonLines writes the "lines" of --json as the conversation goes, one
// entry per wire line, so that a message of any size is never held: a
// client line split across writes is joined (up to 64 KiB, then written
// in pieces), and each line is kept once, as text, with its bytes in
// "raw" only when the text could not carry them.
type jsonLines struct {
	w       *bufio.Writer
	started bool
	n       int
	pend    []byte // the start of a client line not ended yet
	pendAt  time.Duration
	pendTLS bool
	pendRed bool
	enc     bytes.Buffer
	lineBuf []byte // one wire line, encoded
	out     []byte
	err     error
	lapse   *float64 // --show-time-lapse: for the next line received
}

const jsonMaxPending = 64 << 10

func (j *jsonLines) event(e session.Event) {
	switch e.Kind {
	case session.KindClient:
		j.split("send", e)
	case session.KindServer:
		j.flush()
		j.split("recv", e)
	default:
		j.flush()
	}
}

func (j *jsonLines) split(dir string, e session.Event) {
	data := e.Data
	if len(data) == 0 {
		j.line(dir, e.Offset, e.TLS, e.Redacted, data)
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 && dir == "recv" {
			j.line(dir, e.Offset, e.TLS, e.Redacted, data)
			return
		}
		if i < 0 {
			if len(j.pend) == 0 {
				j.pendAt, j.pendTLS = e.Offset, e.TLS
			}
			j.pend, j.pendRed = append(j.pend, data...), j.pendRed || e.Redacted
			if len(j.pend) >= jsonMaxPending {
				j.flush()
			}
			return
		}
		seg := data[:i+1]
		data = data[i+1:]
		if len(j.pend) > 0 {
			j.pend, j.pendRed = append(j.pend, seg...), j.pendRed || e.Redacted
			j.flush()
			continue
		}
		j.line(dir, e.Offset, e.TLS, e.Redacted, seg)
	}
}

// flush writes the client line pending, if any.
func (j *jsonLines) flush() {
	if len(j.pend) > 0 {
		j.line("send", j.pendAt, j.pendTLS, j.pendRed, j.pend)
		j.pend, j.pendRed = j.pend[:0], false
	}
}

func (j *jsonLines) line(dir string, at time.Duration, tls, redacted bool, b []byte) {
	trimmed := bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	l := jsonLine{Offset: at.Seconds(), Dir: dir, TLS: tls, Text: session.Sanitize(trimmed), Redacted: redacted}
	if dir == "recv" {
		l.Lapse, j.lapse = j.lapse, nil
	}
	if l.Text != string(trimmed) {
		l.Raw = b
	}
	j.start()
	if j.n > 0 {
		j.write([]byte(","))
	}
	j.n++
	j.write([]byte("\n    "))
	j.lineBuf = appendJSONLine(j.lineBuf[:0], &l, "    ")
	j.out = session.AppendJSONSafe(j.out[:0], j.lineBuf)
	j.write(j.out)
}

// appendJSONLine appends l as encoding/json's Encoder with SetIndent(prefix,
// "  ") writes it, without the final newline: a message has a line per
// 70 bytes or so, and reflection for each would cost more than the rest
// of --json together. TestAppendJSONLine holds it to the Encoder.
func appendJSONLine(b []byte, l *jsonLine, prefix string) []byte {
	field := func(name string) {
		b = append(b, ",\n"...)
		b = append(b, prefix...)
		b = append(b, `  "`...)
		b = append(b, name...)
		b = append(b, `": `...)
	}
	b = append(b, "{\n"...)
	b = append(b, prefix...)
	b = append(b, `  "t": `...)
	b = appendJSONFloat(b, l.Offset)
	field("dir")
	b = appendJSONString(b, l.Dir)
	if l.TLS {
		field("tls")
		b = append(b, "true"...)
	}
	field("text")
	b = appendJSONString(b, l.Text)
	if len(l.Raw) > 0 {
		field("raw")
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, l.Raw)
		b = append(b, '"')
	}
	if l.Redacted {
		field("redacted")
		b = append(b, "true"...)
	}
	if l.Lapse != nil {
		field("lapse")
		b = appendJSONFloat(b, *l.Lapse)
	}
	b = append(b, '\n')
	b = append(b, prefix...)
	return append(b, '}')
}

// appendJSONFloat appends t as encoding/json writes a float64.
func appendJSONFloat(b []byte, t float64) []byte {
	if t == 0 || t >= 1e-6 && t < 1e21 {
		return strconv.AppendFloat(b, t, 'f', -1, 64)
	}
	n, _ := json.Marshal(t)
	return append(b, n...)
}

// appendJSONString quotes s as encoding/json does with HTML escaping on.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			default:
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}

func (j *jsonLines) start() {
	if !j.started {
		j.started = true
		j.write([]byte("{\n  \"lines\": ["))
	}
}

// finish closes "lines" and writes the fields of rest (a struct) after it.
func (j *jsonLines) finish(rest any) error {
	j.flush()
	j.start()
	if j.n > 0 {
		j.write([]byte("\n  "))
	}
	j.write([]byte("]"))
	if j.encode(rest, "") {
		// rest is "{\n  ...\n}": its fields follow those written.
		j.write([]byte(","))
		j.write(j.out[1:])
		j.write([]byte("\n"))
	}
	if err := j.w.Flush(); err != nil && j.err == nil {
		j.err = err
	}
	return j.err
}

// encode indents v as the rest of the document is, into j.out, with the
// characters a terminal could act on escaped (session.AppendJSONSafe).
func (j *jsonLines) encode(v any, prefix string) bool {
	j.enc.Reset()
	enc := json.NewEncoder(&j.enc)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		if j.err == nil {
			j.err = err
		}
		return false
	}
	j.out = session.AppendJSONSafe(j.out[:0], bytes.TrimSuffix(j.enc.Bytes(), []byte("\n")))
	return true
}

func (j *jsonLines) write(b []byte) {
	if j.err == nil {
		_, j.err = j.w.Write(b)
	}
}

// runRepeat is `ehlo send --repeat N`: the message is built once and sent
// N times; only the summary is printed.
func (s *sendCmd) runRepeat(app *appContext, cfg session.SendConfig) error {
	msg, err := io.ReadAll(cfg.Message)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	cfg.Pipelining = !s.NoPipeline
	cfg.PipelineDepth = s.PipelineDepth
	res := session.SendRepeat(app.ctx, cfg, msg, s.Repeat, s.Connections)
	conns := "connection"
	if res.Connections != 1 {
		conns += "s"
	}
	fmt.Fprintf(app.stdout, "=== %d messages sent, %d failed, over %d %s in %.3fs: %.1f messages/s\n",
		res.Messages, res.Failed, res.Connections, conns, res.Elapsed.Seconds(), res.PerSecond())
	if res.InFlight > 1 {
		fmt.Fprintf(app.stdout, "=== transactions pipelined one behind another: up to %d in flight per connection, each written behind another starting with RSET\n", res.InFlight)
	}
	fmt.Fprintf(app.stdout, "=== %-12s %10s %10s %8s\n", "stage", "median", "p99", "count")
	for _, st := range session.RepeatStageOrder {
		if len(res.Stages[st]) == 0 {
			continue
		}
		fmt.Fprintf(app.stdout, "=== %-12s %10s %10s %8d\n", st,
			res.Percentile(st, 50).Round(time.Microsecond), res.Percentile(st, 99).Round(time.Microsecond), len(res.Stages[st]))
	}
	if res.Err != nil {
		code := session.ExitCodeFor(res.Err)
		fmt.Fprintf(app.stderr, "*** %s (exit %d)\n", session.SanitizeText(res.Err.Error()), code)
		return &exitError{code: code}
	}
	if res.Failed > 0 || res.Messages == 0 {
		return &exitError{code: 26}
	}
	return nil
}

// tuiCmd is the default command: `ehlo [flags] [SERVER]` opens the TUI on a
// live session; with no SERVER it starts the embedded sandbox on a free
// loopback port and connects to it, trusting the certificate it made.
type tuiCmd struct {
	connFlags `embed:""`
	Theme     string `help:"Colour theme: default, light, dark, high-contrast or mono."`
	Server    string `arg:"" optional:"" help:"host, host:port, [v6]:port or an absolute Unix socket path; none: the embedded sandbox."`
}

func (t *tuiCmd) Run(app *appContext) error {
	t.serverArg = t.Server
	cfgPath := configPath()
	uc, err := t.applyConfig(cfgPath)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if err := t.check(); err != nil {
		return &exitError{code: 1, err: err}
	}
	if t.Theme != "" {
		if _, err := themes.Get(t.Theme); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("--theme: %w", err)} // the error lists the themes
		}
	}
	tlsCfg, err := t.tlsConfig()
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	server, port := t.Server, t.Port
	var mailbox func() []tui.MailItem
	var sandboxCA []byte
	if server == "" {
		sb, err := sandbox.New(sandbox.Config{})
		if err != nil {
			return fmt.Errorf("starting the sandbox: %w", err)
		}
		sb.Start()
		defer sb.Close()
		// ehlo made this certificate, so it is the one root to trust: TLS
		// against the sandbox is verified, not --insecure.
		pool := x509.NewCertPool()
		sandboxCA = sb.CertPEM()
		pool.AppendCertsFromPEM(sandboxCA)
		tlsCfg.RootCAs = pool
		server, port = sb.Addr(), 0
		if t.TLSOnConnect {
			server = sb.TLSAddr()
		}
		mailbox = func() []tui.MailItem {
			var out []tui.MailItem
			for _, m := range sb.Mailbox().Messages() {
				out = append(out, tui.MailItem{From: m.From, To: m.To, Received: m.Received, Data: m.Data,
					ID: m.ID, Helo: m.Helo, Params: m.Params, TLS: m.TLS, AuthUser: m.AuthUser, Chunked: m.Chunked})
			}
			return out
		}
	}
	live := session.NewLive(session.LiveConfig{
		Server: server, Port: port, Kind: t.kind(),
		Options: protocol.Options{LocalHostname: t.Helo, Timeout: t.Timeout, SourceAddress: t.Source, TLSConfig: tlsCfg},
	})
	defer live.Close()
	network := "tcp"
	if strings.HasPrefix(server, "/") {
		network = "unix"
	}
	rt := &recordToggle{record: live.Record, path: t.Record, header: session.Header{
		Server: server, Transport: t.kind().String(), Network: network,
		EhloVersion: ehloVersion(), Secrets: t.RecordSecrets, Insecure: t.Insecure,
	}}
	if t.Record != "" {
		if _, _, err := rt.toggle(); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("--record: %w", err)}
		}
	}
	err = tui.Run(app.ctx, tui.Config{
		Conversation: live, Connect: true, StartTLS: t.StartTLS, Theme: t.Theme, NoColor: themes.NoColor(os.LookupEnv),
		Mailbox: mailbox, Recording: t.Record != "", RecordPath: t.Record, ToggleRecord: rt.toggle,
		DefaultFrom: uc.From, SandboxCA: sandboxCA,
		SaveTheme: func(name string) (string, error) {
			return cfgPath, saveConfigKey(cfgPath, "theme", name)
		},
	})
	if cerr := rt.stop(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// applyConfig fills what the flags left empty from the config file at
// path (flags win), and checks the file's values as the flags' are.
func (t *tuiCmd) applyConfig(path string) (userConfig, error) {
	uc, err := loadConfig(path)
	if err != nil {
		return uc, fmt.Errorf("config: %w", err)
	}
	if uc.Theme != "" {
		if _, err := themes.Get(uc.Theme); err != nil {
			return uc, fmt.Errorf("config %s: theme: %w", path, err)
		}
		if t.Theme == "" {
			t.Theme = uc.Theme
		}
	}
	if uc.Helo != "" {
		if err := protocol.ValidateHeloName(uc.Helo); err != nil {
			return uc, fmt.Errorf("config %s: helo: %w", path, err)
		}
		if t.Helo == "" {
			t.Helo = uc.Helo
		}
	}
	return uc, nil
}

// replayCmd: `ehlo replay`. A recording is a JSON Lines FILE or the NAME
// of a sample embedded in the binary (package recordings). Every output
// hides the credentials of a recording made with --record-secrets unless
// --with-secrets, and warns on stderr that the file holds them
// (security-anchors §4.3 rule 6).
type replayCmd struct {
	Recording   string `arg:"" optional:"" name:"recording" help:"A recording (JSON Lines file) or the NAME of an embedded sample (see --list)."`
	List        bool   `help:"List the embedded sample recordings."`
	Print       bool   `help:"Write the transcript to stdout instead of opening the TUI."`
	Serve       bool   `help:"Answer any client with the recorded server side: a fake server that reproduces the session."`
	Listen      string `default:"127.0.0.1:0" placeholder:"ADDR" help:"With --serve: where to listen (default: loopback, a free port); an absolute path is a Unix socket. Only an explicit address leaves loopback."`
	TLSCert     string `name:"tls-cert" type:"existingfile" placeholder:"FILE" help:"With --serve: PEM certificate for STARTTLS and implicit TLS (default: an in-memory self-signed one)."`
	TLSKey      string `name:"tls-key" type:"existingfile" placeholder:"FILE" help:"With --serve: PEM private key for --tls-cert."`
	WithSecrets bool   `help:"Show the credentials of a recording made with --record-secrets (hidden by default)."`
	Theme       string `help:"Colour theme for the TUI: default, light, dark, high-contrast or mono."`
}

// Validate refuses contradictory flags before anything is read.
func (r *replayCmd) Validate() error {
	switch {
	case r.List && (r.Recording != "" || r.Print || r.Serve):
		return fmt.Errorf("--list takes no recording and no --print or --serve")
	case r.List:
		return nil
	case r.Recording == "":
		return fmt.Errorf("a recording FILE or sample NAME is required (ehlo replay --list shows the samples)")
	case r.Print && r.Serve:
		return fmt.Errorf("--print and --serve exclude each other")
	case (r.TLSCert == "") != (r.TLSKey == ""):
		return fmt.Errorf("--tls-cert and --tls-key go together")
	case r.TLSCert != "" && !r.Serve:
		return fmt.Errorf("--tls-cert is for --serve")
	}
	return nil
}

func (r *replayCmd) Run(app *appContext) error {
	if r.List {
		for _, n := range recordings.Names() {
			fmt.Fprintf(app.stdout, "%-26s %s\n", n, recordings.Description(n))
		}
		return nil
	}
	if r.Print {
		return r.print(app)
	}
	rec, name, err := loadRecording(r.Recording)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	warnSecrets(app, name, rec.Header, r.WithSecrets)
	shown := rec
	if !r.WithSecrets {
		shown = session.Redacted(rec)
	}
	if r.Serve {
		reportProblems(app, name, rec.Problems)
		return r.serve(app, shown, name)
	}
	return r.tui(app, shown, name)
}

// print is `replay --print`: the transcript, read and written one event
// at a time, so a recording of any size prints in little memory.
func (r *replayCmd) print(app *appContext) error {
	src, name, err := openWarned(app, r.Recording, r.WithSecrets)
	if err != nil {
		return err
	}
	defer src.Close()
	shown := src
	if !r.WithSecrets {
		if shown, err = session.RedactedSource(src); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	err = session.WriteTranscriptSource(app.stdout, shown, session.TranscriptOptions{Width: terminalWidth(app.stdout)})
	if n := len(src.Problems()); n > 0 {
		fmt.Fprintf(app.stderr, "*** %s: %d problem(s) reading the recording, listed at the end of the transcript\n", session.SanitizeString(name), n)
	}
	return err
}

// tui opens rec in the TUI's replay mode.
func (r *replayCmd) tui(app *appContext, rec *session.Recording, name string) error {
	if name == "" {
		name = r.Recording
	}
	return tui.Run(app.ctx, tui.Config{Replay: rec, ReplayName: name, Theme: r.Theme, NoColor: themes.NoColor(os.LookupEnv)})
}

// serve is `replay --serve`: the sandbox plays the recording's server
// side (so a replay is as strict and as bounded as the sandbox). It prints
// where it listens, as the sandbox does, then logs each connection on
// stderr until Ctrl+C.
func (r *replayCmd) serve(app *appContext, rec *session.Recording, name string) error {
	var script sandbox.Script
	if err := session.ServeScript(rec, &script); err != nil {
		return &exitError{code: 1, err: err}
	}
	cfg := sandbox.Config{Listen: r.Listen, TLSListen: "-", Hostname: session.ServeHostname(rec.Header),
		TLSCert: r.TLSCert, TLSKey: r.TLSKey, Script: &script, Log: app.stderr}
	if strings.HasPrefix(r.Listen, "/") {
		cfg.Listen, cfg.Socket = "-", r.Listen
	}
	srv, err := sandbox.New(cfg)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	origin := "in-memory self-signed"
	if r.TLSCert != "" {
		origin = r.TLSCert
	}
	addr := srv.Addr() + srv.SocketPath()
	fmt.Fprintf(app.stdout, "ehlo replay serving %s (%s)\n", session.SanitizeString(name), session.SanitizeString(rec.Header.Transport))
	fmt.Fprintf(app.stdout, "listen: %s\n", addr)
	fmt.Fprintf(app.stdout, "certificate: SHA-256 %s (%s)\n", srv.Fingerprint(), origin)
	if !srv.LoopbackOnly() {
		fmt.Fprintf(app.stdout, "warning: %s is not loopback: anyone who can reach it gets the recorded replies\n", addr)
	}
	fmt.Fprintln(app.stdout, "stop with Ctrl+C")
	err = srv.ServeContext(app.ctx)
	fmt.Fprintln(app.stdout, "ehlo replay stopped")
	return err
}

// exportCmd: `ehlo export`.
type exportCmd struct {
	Recording   string `arg:"" name:"recording" help:"A recording (JSON Lines file) or the NAME of an embedded sample (see ehlo replay --list)."`
	Format      string `short:"f" enum:"text,markdown,json,pcap" default:"text" help:"text (the transcript), markdown (for a bug report), json (one document) or pcap (for Wireshark)."`
	Output      string `short:"o" type:"path" placeholder:"OUT" help:"Write to OUT (created with mode 0600; an existing file is an error unless --force) instead of stdout."`
	Force       bool   `help:"Replace an existing OUT (written to a temporary file, then renamed over it)."`
	WithSecrets bool   `help:"Keep the credentials of a recording made with --record-secrets (hidden by default; Markdown of such a recording needs it)."`
}

// Run reads the recording one event at a time (session.ExportSource); the
// problems found in it are reported once it has been read.
func (x *exportCmd) Run(app *appContext) error {
	src, name, err := openWarned(app, x.Recording, x.WithSecrets)
	if err != nil {
		return err
	}
	defer src.Close()
	defer func() { reportProblems(app, name, src.Problems()) }()
	opts := session.ExportOptions{WithSecrets: x.WithSecrets}
	if x.Format == "markdown" && src.Header.Secrets && !x.WithSecrets {
		return &exitError{code: 1, err: session.ErrMarkdownSecrets}
	}
	if x.Output == "" {
		if f, ok := app.stdout.(*os.File); ok && x.Format == "pcap" && term.IsTerminal(f.Fd()) {
			return &exitError{code: 1, err: fmt.Errorf("not writing a pcap to a terminal: use -o FILE or redirect stdout")}
		}
		return session.ExportSource(app.stdout, src, x.Format, opts)
	}
	err = session.WriteFileAtomic(app.ctx, x.Output, x.Force, func(w io.Writer) error {
		return session.ExportSource(w, src, x.Format, opts)
	})
	if errors.Is(err, os.ErrExist) {
		err = fmt.Errorf("%w (--force replaces it)", err)
	}
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	fmt.Fprintf(app.stderr, "=== wrote %s (%s)\n", session.SanitizeString(x.Output), x.Format)
	return nil
}

// openWarned opens a recording to stream (replay --print, export) and
// says on stderr when it holds credentials, as both commands must.
func openWarned(app *appContext, arg string, withSecrets bool) (*session.Source, string, error) {
	src, name, err := openRecording(arg)
	if err != nil {
		return nil, "", &exitError{code: 1, err: err}
	}
	warnSecrets(app, name, src.Header, withSecrets)
	return src, name, nil
}

// loadRecording reads a recording file or, if no file has that name, the
// embedded sample of that name. It returns a name to show for it.
func loadRecording(arg string) (*session.Recording, string, error) {
	if _, err := os.Stat(arg); err == nil {
		rec, err := session.ReadFile(arg)
		return rec, arg, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	if !recordings.Has(arg) {
		return nil, "", fmt.Errorf("%s: no such file, and no sample of that name (ehlo replay --list shows the samples)", arg)
	}
	f, err := recordings.Open(arg)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	rec, err := session.Read(f)
	return rec, "sample " + strings.TrimSuffix(arg, ".jsonl"), err
}

// terminalWidth is the width of the terminal w writes to, or 0 if it is
// not one: a transcript on a terminal folds long lines itself (see
// session.TranscriptOptions.Width), one written to a file or a pipe never.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return 0
	}
	if cols, _, err := term.GetSize(f.Fd()); err == nil && cols > 0 {
		return cols
	}
	return 80
}

// openRecording is loadRecording for reading event by event: a file is
// opened as a session.Source, not read into memory.
func openRecording(arg string) (*session.Source, string, error) {
	if _, err := os.Stat(arg); !errors.Is(err, os.ErrNotExist) {
		src, err := session.OpenSource(arg)
		return src, arg, err
	}
	rec, name, err := loadRecording(arg)
	if err != nil {
		return nil, "", err
	}
	return session.RecordingSource(rec), name, nil
}

// warnSecrets says on stderr that a recording holds credentials (C11).
func warnSecrets(app *appContext, name string, h session.Header, shown bool) {
	if !h.Secrets {
		return
	}
	how := "they are hidden here (--with-secrets shows them)"
	if shown {
		how = "--with-secrets shows them"
	}
	fmt.Fprintf(app.stderr, "*** warning: %s contains credentials (recorded with --record-secrets); %s\n", session.SanitizeString(name), how)
}

// reportProblems lists on stderr what was wrong with the file.
func reportProblems(app *appContext, name string, problems []session.Problem) {
	for _, p := range problems {
		fmt.Fprintf(app.stderr, "*** %s: %s\n", session.SanitizeString(name), session.SanitizeString(p.String()))
	}
}

// server is the SERVER argument of the command the flags belong to.
func (f *connFlags) server() string { return f.serverArg }

// completionCmd prints a completion script for the commands and flags, read
// from the command-line model so it cannot drift from the real flags.
type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

func (c *completionCmd) Run(app *appContext, kctx *kong.Context) error {
	root := kctx.Model.Node
	cmds := map[string][]string{}
	var names []string
	for _, n := range root.Children {
		if n.Hidden {
			continue
		}
		names = append(names, n.Name)
		for _, f := range n.Flags {
			if !f.Hidden {
				cmds[n.Name] = append(cmds[n.Name], "--"+f.Name)
			}
		}
	}
	w := app.stdout
	switch c.Shell {
	case "bash", "zsh":
		if c.Shell == "zsh" {
			fmt.Fprintln(w, "autoload -U +X bashcompinit && bashcompinit")
		}
		fmt.Fprintln(w, "_ehlo() {")
		fmt.Fprintln(w, `  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} words`)
		fmt.Fprintln(w, `  if [ "$COMP_CWORD" -eq 1 ]; then words="`+strings.Join(names, " ")+` $(ehlo_flags tui)";`)
		fmt.Fprintln(w, "  else words=$(ehlo_flags \"$cmd\"); fi")
		fmt.Fprintln(w, `  COMPREPLY=($(compgen -W "$words" -- "$cur"))`)
		fmt.Fprintln(w, "}")
		fmt.Fprintln(w, "ehlo_flags() {")
		fmt.Fprintln(w, `  case "$1" in`)
		for _, n := range names {
			fmt.Fprintf(w, "    %s) echo \"%s --help\" ;;\n", n, strings.Join(cmds[n], " "))
		}
		fmt.Fprintf(w, "    *) echo \"%s --help\" ;;\n", strings.Join(cmds["tui"], " "))
		fmt.Fprintln(w, "  esac")
		fmt.Fprintln(w, "}")
		fmt.Fprintln(w, "complete -o default -F _ehlo ehlo")
	case "fish":
		for _, n := range root.Children {
			if n.Hidden {
				continue
			}
			fmt.Fprintf(w, "complete -c ehlo -n __fish_use_subcommand -a %s -d %q\n", n.Name, n.Help)
			for _, f := range n.Flags {
				if !f.Hidden {
					fmt.Fprintf(w, "complete -c ehlo -n '__fish_seen_subcommand_from %s' -l %s -d %q\n", n.Name, f.Name, f.Help)
				}
			}
		}
	}
	return nil
}

// recordToggle lets /record start and stop a recording during a TUI
// session. A new recording after a stop goes to a new file: recordings are
// never appended to or overwritten. Each starts its clock when it starts,
// and one started mid-session opens with the session's state
// (session.Live.Record), so that its replay shows the right state and time.
type recordToggle struct {
	mu     sync.Mutex
	record func(s session.Sink, origin time.Time) (remove func())
	header session.Header
	path   string
	rec    *session.Recorder
	remove func()
}

func (r *recordToggle) toggle() (on bool, path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rec != nil {
		err := r.stopLocked()
		return false, r.path, err
	}
	if r.path == "" {
		r.path = "ehlo-" + time.Now().Format("20060102-150405") + ".jsonl"
	}
	h := r.header
	h.Created = time.Now()
	rec, err := session.Create(r.path, h)
	if err != nil {
		path := r.path
		r.path = ""
		return false, path, err
	}
	r.rec, r.remove = rec, r.record(rec, rec.Header().Created)
	return true, r.path, nil
}

func (r *recordToggle) stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopLocked()
}

func (r *recordToggle) stopLocked() error {
	if r.rec == nil {
		return nil
	}
	r.remove()
	err := r.rec.Close()
	r.rec = nil
	if err != nil {
		err = fmt.Errorf("recording %s: %w", r.path, err)
	}
	r.path = "" // the next /record starts a new file
	return err
}

// auditCmd: `ehlo audit`, a mail server's security report (docs/audit.md).
// Exit status: 0 nothing fails, 1 bad command line, 2 unreachable, 3 a
// finding fails.
type auditCmd struct {
	Server       string        `arg:"" help:"The mail server (HOST, HOST:PORT or a Unix socket path) or a mail DOMAIN: a name without a port goes to its most preferred MX that answers (its own address when it has no MX)."`
	TLSOnConnect bool          `name:"tls-on-connect" help:"Implicit TLS (the default port is then 465)."`
	Port         int           `help:"Port to connect to (default 25, or 465 with --tls-on-connect)."`
	Resolver     string        `help:"DNS resolver for MX, TLSA and MTA-STS, HOST[:PORT] (default: the system's); only a validating resolver you trust makes DANE meaningful."`
	Helo         string        `help:"Name for EHLO." default:"ehlo-audit.invalid"`
	CA           string        `name:"ca" type:"existingfile" help:"Verify the certificate against the CA certificates in this PEM file instead of the system roots."`
	SNI          string        `name:"sni" help:"Name the certificate must match (default: the host; required to check a Unix socket's certificate name)."`
	To           string        `help:"A mailbox you own: smtp-smuggling delivers its probe messages there, and runs only with it."`
	User         string        `default:"postmaster" help:"A user the server knows, for vrfy-expn and rcpt-enumeration."`
	Domain       string        `help:"The server's mail domain for mta-sts, rcpt-enumeration and pipelining (default: the DOMAIN given, else the name in its greeting)."`
	Only         []string      `help:"Run only these probes (comma-separated ids; see docs/audit.md)."`
	ProbeTimeout time.Duration `name:"probe-timeout" default:"10s" help:"Bound on each probe connection."`
	MaxTime      time.Duration `name:"max-time" default:"3m" help:"Bound on the whole audit."`
	JSON         bool          `name:"json" help:"Print the report as JSON."`
	Markdown     bool          `help:"Print the report as Markdown, safe to paste into an issue."`
	Record       string        `type:"path" help:"Record each probe's conversation into this directory (DIR/ID.jsonl, never overwritten)."`
	Theme        string        `help:"Colour theme: default, light, dark, high-contrast or mono (NO_COLOR wins)."`
}

func (a *auditCmd) Validate() error {
	switch {
	case a.JSON && a.Markdown:
		return errors.New("--json and --markdown exclude each other")
	case a.ProbeTimeout <= 0 || a.MaxTime <= 0:
		return errors.New("--probe-timeout and --max-time must be greater than zero")
	}
	if _, err := themes.Get(a.Theme); err != nil {
		return fmt.Errorf("--theme: %w", err)
	}
	return nil
}

// config turns the flags into the audit's configuration.
func (a *auditCmd) config(app *appContext) (audit.Config, error) {
	t, err := audit.ParseTarget(a.Server, a.TLSOnConnect)
	if err == nil {
		t, err = t.WithPort(a.Port)
	}
	if err != nil {
		return audit.Config{}, err
	}
	t.SNI = a.SNI
	res, err := auditResolver(a.Resolver, t)
	if err != nil {
		return audit.Config{}, err
	}
	cfg := audit.Config{
		Target: t, Helo: a.Helo, To: a.To, User: a.User, Domain: a.Domain, Only: a.Only,
		ProbeTimeout: a.ProbeTimeout, MaxTime: a.MaxTime, RecordDir: a.Record, Version: ehloVersion(),
		Resolver: res, ResolverOnly: a.Resolver != "",
	}
	if a.CA != "" {
		pem, err := os.ReadFile(a.CA)
		if err != nil {
			return cfg, fmt.Errorf("--ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return cfg, fmt.Errorf("--ca %s: no PEM certificate found", a.CA)
		}
	}
	if f, ok := app.stderr.(*os.File); ok && term.IsTerminal(f.Fd()) {
		cfg.Progress = func(p audit.Progress) { auditProgress(app.stderr, p) }
	}
	return cfg, nil
}

// auditResolver is --resolver, or the system's; with neither the audit
// still runs on a server's name or address, without its DNS findings.
func auditResolver(addr string, t audit.Target) (*mx.Resolver, error) {
	r, err := mx.NewResolver(addr)
	switch {
	case err != nil && addr != "":
		return nil, fmt.Errorf("--resolver: %w", err)
	case err != nil && t.MailDomain() != "":
		return nil, fmt.Errorf("%s: no resolver for its MX lookup (%v): pass --resolver HOST[:PORT]", t.Display, err)
	case err != nil:
		return nil, nil
	}
	return r, nil
}

func (a *auditCmd) Run(app *appContext) error {
	cfg, err := a.config(app)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	rep, err := audit.Run(app.ctx, cfg)
	var ue *audit.UnreachableError
	switch {
	case errors.As(err, &ue):
		return &exitError{code: 2, err: err}
	case err != nil:
		return &exitError{code: 1, err: err}
	}
	if err := a.write(app, rep); err != nil {
		return err
	}
	if rep.Failed() {
		return &exitError{code: 3}
	}
	return nil
}

// write prints the report in the form asked for; colours only on a
// terminal and never with NO_COLOR.
func (a *auditCmd) write(app *appContext, rep *audit.Report) error {
	switch {
	case a.JSON:
		return audit.WriteJSON(app.stdout, rep)
	case a.Markdown:
		return audit.WriteMarkdown(app.stdout, rep)
	}
	f, ok := app.stdout.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return audit.WriteText(app.stdout, rep, audit.Plain{})
	}
	theme, err := themes.Resolve(a.Theme, themes.NoColor(os.LookupEnv))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := audit.WriteText(&b, rep, auditStyle{themes.NewStyles(theme, true)}); err != nil {
		return err
	}
	_, err = lipgloss.Fprint(app.stdout, b.String())
	return err
}

// auditProgress is the line per probe on a terminal.
func auditProgress(w io.Writer, p audit.Progress) {
	if p.Finding == nil {
		fmt.Fprintf(w, "[%2d/%d] %s…", p.Index, p.Total, p.ID)
		return
	}
	fmt.Fprintf(w, " %s\n", p.Finding.Status)
}

// auditStyle colours the audit report with a theme.
type auditStyle struct{ s themes.Styles }

func (st auditStyle) Status(s audit.Status, text string) string {
	switch s {
	case audit.Pass:
		return st.s.Verified.Render(text)
	case audit.Warn:
		return st.s.Warning.Render(text)
	case audit.Fail, audit.Error:
		return st.s.Error.Render(text)
	}
	return st.s.Muted.Render(text)
}
func (st auditStyle) Muted(text string) string { return st.s.Muted.Render(text) }
func (st auditStyle) Bold(text string) string  { return st.s.Bold.Render(text) }

// Command ehlo is an interactive terminal SMTP debugger.
//
// main.go owns the command line: it parses flags, wires the packages
// together and maps outcomes to exit codes. The work is done in protocol
// (the SMTP client), session (live and recorded conversations), sandbox
// (the practice server) and tui (the terminal interface).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/charmbracelet/x/term"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
	"github.com/ehlo-dev/ehlo/tui"
)

// version is set by -ldflags "-X main.version=…"; otherwise the module
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
// in main.go; the work is done by the packages.
type cli struct {
	TUI        tuiCmd        `cmd:"" name:"tui" default:"withargs" help:"Open the TUI on SERVER, or on the embedded sandbox (the default command: ehlo [flags] [SERVER])."`
	Send       sendCmd       `cmd:"" help:"Send one message and print a swaks-style transcript."`
	Version    versionCmd    `cmd:"" help:"Print the version."`
	Completion completionCmd `cmd:"" help:"Print a shell completion script: bash, zsh or fish."`
	Sandbox    sandboxCmd    `cmd:"" help:"Run the practice SMTP server in the foreground."`
	Replay     replayCmd     `cmd:"" help:"Replay a recording: --print the transcript, --serve it as a fake server, --list the samples."`
	Export     exportCmd     `cmd:"" help:"Export a recording as text, Markdown, JSON or pcap (credentials hidden)."`
}

func main() {
	os.Exit(run(os.Args[1:]))
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

	Server string `arg:"" help:"host, host:port, [v6]:port or an absolute Unix socket path."`

	From    *string  `help:"Envelope sender (<> for the null sender)."`
	To      []string `help:"Recipient (repeatable, or comma separated)."`
	Header  []string `sep:"none" help:"Add a header, \"Name: value\" (repeatable)."`
	Subject string   `help:"Subject (default: \"test\" and the date)."`
	Body    string   `help:"Body: TEXT, @FILE or - for stdin."`
	Data    string   `help:"A whole RFC 5322 message, @FILE or - for stdin (envelope from its headers unless --from/--to)."`
	Attach  []string `sep:"none" type:"path" help:"Attach a file (repeatable)."`

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
	if s.PipelineDepth < 1 {
		return errors.New("--pipeline-depth must be at least 1")
	}
	if s.Repeat < 0 || s.Connections < 1 {
		return fmt.Errorf("--repeat and --connections take positive numbers")
	}
	if s.Repeat > 0 && (s.Record != "" || s.JSON || s.QuitAfter != "") {
		return fmt.Errorf("--repeat excludes --record, --json and --quit-after")
	}
	if s.Data != "" && s.Data != "-" && !strings.HasPrefix(s.Data, "@") {
		return fmt.Errorf("--data takes @FILE or - (stdin)")
	}
	needRcpt := s.QuitAfter == "" || s.QuitAfter == "rcpt"
	if needRcpt && len(s.To) == 0 && s.Data == "" {
		return fmt.Errorf("--to is required")
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

// readArg reads TEXT, @FILE or - (stdin).
func readArg(app *appContext, v string) ([]byte, error) {
	switch {
	case v == "-":
		return io.ReadAll(app.stdin)
	case strings.HasPrefix(v, "@"):
		return os.ReadFile(v[1:])
	}
	return []byte(v), nil
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
		Helo: s.Helo, Timeout: s.Timeout, Source: s.Source, TLSConfig: tlsCfg,
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
	res := s.send(app, cfg, out)
	return unsilence(out.finish(res))
}

// message builds the message: --data as given, else the default message
// with the caller's headers, subject, body and attachments.
func (s *sendCmd) message(app *appContext) (io.Reader, error) {
	if s.Data != "" {
		if s.Data == "-" {
			return interruptible(app.ctx, app.stdin), nil // streamed, never read whole
		}
		f, err := os.Open(s.Data[1:])
		if err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		// A NUL byte is refused before connecting (the file is read twice:
		// once here, once while sending).
		if _, err := protocol.NormalizedSize(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--data %s: %w", s.Data[1:], err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("--data: %w", err)
		}
		return f, nil
	}
	comp := session.Composition{To: s.To, Subject: s.Subject, Headers: s.Header, Hostname: localHostname()}
	if s.From != nil {
		comp.From = *s.From
	} else {
		comp.From = defaultSender()
	}
	if s.Body != "" {
		b, err := readArg(app, s.Body)
		if err != nil {
			return nil, fmt.Errorf("--body: %w", err)
		}
		comp.Body = string(b)
	}
	for _, path := range s.Attach {
		a, err := loadAttachment(app, path)
		if err != nil {
			return nil, err
		}
		comp.Attachments = append(comp.Attachments, a)
	}
	s.describeAttachments(comp.Attachments)
	b, err := comp.Build()
	if err != nil {
		return nil, err
	}
	if _, err := protocol.NormalizedSize(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("the message: %w", err)
	}
	return bytes.NewReader(b), nil
}

// interruptible makes a read of r (stdin) end when ctx is cancelled, so
// Ctrl+C aborts a message still being typed or piped instead of waiting
// for its end. The goroutine blocked in r's Read is left to the process's
// exit.
func interruptible(ctx context.Context, r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err)
	}()
	context.AfterFunc(ctx, func() { pw.CloseWithError(errors.New("interrupted")) })
	return pr
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
	events  []session.Event
	infos   []jsonInfo
	scrub   *session.Scrubber
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
		o.trans = session.NewTranscript(app.stdout, session.TranscriptOptions{Errors: app.stderr, DataLines: s.dataLines()})
		o.capture.Add(o.transcriptSink())
	}
	if s.JSON {
		o.capture.Add(session.SinkFunc(func(e session.Event) { o.events = append(o.events, e) }))
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
		errText = session.SanitizeString(errText)
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
		Lines    []jsonLine                `json:"lines"`
		Notes    []jsonInfo                `json:"notes,omitempty"`
	}{Server: o.cmd.Server, ExitCode: code, Stage: res.Stage.String(), OK: code == 0, Error: errText,
		Refused: res.Refused, LMTP: res.LMTP, Notes: o.infos, Lines: []jsonLine{}}
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
	clock := &lapseClock{}
	for _, e := range o.events {
		lapse, isReply := clock.reply(e)
		switch e.Kind {
		case session.KindClient, session.KindServer:
			dir := "send"
			if e.Kind == session.KindServer {
				dir = "recv"
			}
			line := bytes.TrimSuffix(bytes.TrimSuffix(e.Data, []byte("\n")), []byte("\r"))
			text := session.Sanitize(line)
			l := jsonLine{Offset: e.Offset.Seconds(), Dir: dir, TLS: e.TLS, Text: text, Redacted: e.Redacted}
			if !printableText(e.Data) {
				l.Raw = e.Data
			}
			if isReply && o.cmd.ShowTimeLapse {
				sec := lapse.Seconds()
				l.Lapse = &sec
			}
			out.Lines = append(out.Lines, l)
		case session.KindTLS:
			out.TLS = e.Handshake
		case session.KindNote:
			out.Notes = append(out.Notes, jsonInfo{Level: "note", Text: session.SanitizeString(e.Text)})
		}
	}
	enc := json.NewEncoder(o.app.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// printableText says whether b round-trips through Sanitize unchanged
// apart from its line ending.
func printableText(b []byte) bool {
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return session.Sanitize(b) == string(b)
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
	if err := t.check(); err != nil {
		return &exitError{code: 1, err: err}
	}
	if t.Theme != "" {
		if _, err := themes.Get(t.Theme); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("--theme: %w (choose from %s)", err, strings.Join(themes.Names(), ", "))}
		}
	}
	tlsCfg, err := t.tlsConfig()
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	server, port := t.Server, t.Port
	var mailbox func() []tui.MailItem
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
		pool.AppendCertsFromPEM(sb.CertPEM())
		tlsCfg.RootCAs = pool
		server, port = sb.Addr(), 0
		if t.TLSOnConnect {
			server = sb.TLSAddr()
		}
		mailbox = func() []tui.MailItem {
			var out []tui.MailItem
			for _, m := range sb.Mailbox().Messages() {
				out = append(out, tui.MailItem{From: m.From, To: m.To, Received: m.Received, Data: m.Data})
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
	})
	if cerr := rt.stop(); cerr != nil && err == nil {
		err = cerr
	}
	return err
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
	rec, name, err := loadRecording(r.Recording)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	warnSecrets(app, name, rec, r.WithSecrets)
	shown := rec
	if !r.WithSecrets {
		shown = session.Redacted(rec)
	}
	switch {
	case r.Print:
		if n := len(rec.Problems); n > 0 {
			fmt.Fprintf(app.stderr, "*** %s: %d problem(s) reading the recording, listed at the end of the transcript\n", session.SanitizeString(name), n)
		}
		return session.WriteTranscript(app.stdout, shown)
	case r.Serve:
		reportProblems(app, name, rec)
		return r.serve(app, shown, name)
	}
	return r.tui(app, shown, name)
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

func (x *exportCmd) Run(app *appContext) error {
	rec, name, err := loadRecording(x.Recording)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	warnSecrets(app, name, rec, x.WithSecrets)
	reportProblems(app, name, rec)
	opts := session.ExportOptions{WithSecrets: x.WithSecrets}
	if x.Format == "markdown" && rec.Header.Secrets && !x.WithSecrets {
		return &exitError{code: 1, err: session.ErrMarkdownSecrets}
	}
	if x.Output == "" {
		if f, ok := app.stdout.(*os.File); ok && x.Format == "pcap" && term.IsTerminal(f.Fd()) {
			return &exitError{code: 1, err: fmt.Errorf("not writing a pcap to a terminal: use -o FILE or redirect stdout")}
		}
		return session.Export(app.stdout, rec, x.Format, opts)
	}
	err = session.WriteFileAtomic(app.ctx, x.Output, x.Force, func(w io.Writer) error {
		return session.Export(w, rec, x.Format, opts)
	})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	fmt.Fprintf(app.stderr, "=== wrote %s (%s)\n", session.SanitizeString(x.Output), x.Format)
	return nil
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

// warnSecrets says on stderr that a recording holds credentials (C11).
func warnSecrets(app *appContext, name string, rec *session.Recording, shown bool) {
	if !rec.Header.Secrets {
		return
	}
	how := "they are hidden here (--with-secrets shows them)"
	if shown {
		how = "--with-secrets shows them"
	}
	fmt.Fprintf(app.stderr, "*** warning: %s contains credentials (recorded with --record-secrets); %s\n", session.SanitizeString(name), how)
}

// reportProblems lists on stderr what was wrong with the file.
func reportProblems(app *appContext, name string, rec *session.Recording) {
	for _, p := range rec.Problems {
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

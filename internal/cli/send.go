package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/ehlo-dev/ehlo/internal/cli/onep"
	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

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

	Auth               string `help:"Authenticate: a mechanism (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER) or auto."`
	AuthUser           string `help:"User name for --auth (without --auth: auto, as in swaks)."`
	AuthPassword       string `help:"Password or token (visible in ps; prefer EHLO_PASSWORD or the prompt)."`
	AuthOptional       bool   `help:"With --auth: go on unauthenticated if AUTH fails (swaks -ao)."`
	AuthOptionalStrict bool   `help:"With --auth: go on unauthenticated only if AUTH was not tried (not offered, no common mechanism, no TLS); a refusal still fails (swaks -aos)."`
	NoInitialResponse  bool   `help:"Do not send an initial response with AUTH."`
	AuthCleartext      bool   `help:"Allow sending credentials without TLS (the one explicit opt-in)."`

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

	QuitAfter     string `enum:",connect,banner,first-helo,helo,tls,xclient,auth,mail,rcpt" default:"" help:"Stop after this stage and QUIT: connect, banner, first-helo (the greeting before STARTTLS), helo (the last greeting), tls, xclient, auth, mail, rcpt; swaks's words in any case too."`
	DropAfter     string `enum:",connect,banner,first-helo,helo,tls,xclient,auth,mail,rcpt,data,dot" default:"" help:"Stop after this stage's reply by closing the connection, without QUIT, as a client that goes away: --quit-after's stages, data (after the 354, the message not sent) and dot (after the message's reply)."`
	DropAfterSend string `enum:",connect,banner,first-helo,helo,tls,xclient,auth,mail,rcpt,data,dot" default:"" help:"Close the connection as soon as this stage's command is sent, without reading its reply: --drop-after's stages; connect and banner close before the banner, dot right after the message's final dot. A stage whose command is not sent (tls without STARTTLS, xclient, auth) closes where it would have been sent."`
	Debug         int    `enum:"0,1,2" default:"0" help:"smtplib's debug output on stderr (1, or 2 with timestamps)."`
	JSON          bool   `name:"json" help:"One JSON object with every reply and the outcome on stdout instead of the transcript."`
	Quiet         bool   `help:"No transcript."`

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
	if stops := len(slices.DeleteFunc([]string{s.QuitAfter, s.DropAfter, s.DropAfterSend}, func(v string) bool { return v == "" })); stops > 1 {
		return fmt.Errorf("--quit-after, --drop-after and --drop-after-send exclude each other")
	}
	if s.Repeat > 0 && (s.Record != "" || s.JSON || s.stopAfter() != "") {
		return fmt.Errorf("--repeat excludes --record, --json, --quit-after, --drop-after and --drop-after-send")
	}
	if s.DropAfterSend == "dot" && s.Chunking {
		// Which reply follows the last BDAT depends on the chunks.
		return fmt.Errorf("--drop-after-send dot and --chunking exclude each other")
	}
	if s.Repeat > 0 && s.DataTimeout > 0 {
		return fmt.Errorf("--data-timeout applies to one message, not to --repeat")
	}
	if s.Data != "" && s.Data != "-" && !strings.HasPrefix(s.Data, "@") {
		return fmt.Errorf("--data takes @FILE or - (stdin)")
	}
	needRcpt := slices.Contains([]string{"", "rcpt", "data", "dot"}, s.stopAfter())
	if needRcpt && len(s.To) == 0 && s.Data == "" {
		return fmt.Errorf("--to is required")
	}
	if err := s.validateRoute(); err != nil {
		return err
	}
	if err := s.validateAuth(); err != nil {
		return err
	}
	return s.checkSwaksOptions()
}

// validateAuth checks the AUTH flags, and makes credentials imply --auth
// auto, as swaks does: a user who gave them meant them to be used, and a
// send that quietly went without AUTH would look like the server's doing.
func (s *sendCmd) validateAuth() error {
	if s.AuthOptional && s.AuthOptionalStrict {
		return fmt.Errorf("--auth-optional and --auth-optional-strict exclude each other")
	}
	if s.Auth == "" && (s.AuthUser != "" || s.AuthPassword != "" || s.AuthOptional || s.AuthOptionalStrict) {
		if s.AuthUser == "" {
			return fmt.Errorf("--auth-password needs --auth-user")
		}
		s.Auth = "auto"
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

// oneP gives `ehlo send` one P and returns the number the process had (0
// when it left it alone): onep's init has done it already when the command
// line starts with "send", and this does it for one that swaks's spellings
// turned into a send. A send is one conversation that waits for the server
// at every step; with a second P, each wait left an idle P whose thread the
// scheduler woke to look for work. One P measured 5% less CPU a message
// with --no-pipeline in one series (the same in another), 3% with
// pipelining, less for a 100 MB message, and 15% less for a one-message
// send (docs/performance.md, findings 16 and 18). The sandbox does the same
// (sandbox.TuneProcess). --connections C > 1 gets the Ps back (morePs): C
// conversations at once may want more than one CPU, for TLS above all.
func oneP() int {
	if n := onep.Took(); n > 0 {
		return n
	}
	return onep.Take()
}

// morePs gives back the Ps oneP took, for --connections C > 1.
func (s *sendCmd) morePs(app *appContext) {
	if s.Repeat > 0 && s.Connections > 1 && app.procs > 1 {
		runtime.GOMAXPROCS(app.procs)
	}
}

func (s *sendCmd) Run(app *appContext) error {
	s.morePs(app)
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	secret, err := s.credentials(app)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	msg, err := s.message(app)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if c, ok := msg.(io.Closer); ok {
		defer c.Close()
	}
	mailOpts, rcptOpts, err := s.envelopeOptions()
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	cfg := session.SendConfig{
		Server: s.Server, Port: s.Port, Kind: s.kind(), StartTLS: s.StartTLS,
		Helo: s.Helo, Timeout: s.Timeout, DataTimeout: s.DataTimeout, Source: s.Source, TLSConfig: tlsCfg,
		To: s.To, Message: msg,
		AuthMech: s.Auth, AuthUser: s.AuthUser, AuthPassword: secret, AuthOptional: s.authOptionality(),
		NoInitialResponse: s.NoInitialResponse, AuthCleartext: s.AuthCleartext,
		MailOptions: mailOpts, RcptOptions: rcptOpts, QuitAfter: s.stopAfter(), DropAfter: s.DropAfter != "",
		DropAfterSend: s.DropAfterSend != "",
		Pipelining:    s.Pipeline, Chunking: s.Chunking, DSN: s.Notify != "" || s.Ret != "" || s.Envid != "",
		DebugLevel: s.Debug, DebugOut: app.stderr,
	}
	cfg.From, cfg.HasFrom = s.sender()
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

// stopAfter is the stage the send stops at, with QUIT or without.
func (s *sendCmd) stopAfter() string {
	switch {
	case s.DropAfterSend != "":
		return s.DropAfterSend
	case s.DropAfter != "":
		return s.DropAfter
	}
	return s.QuitAfter
}

func (s *sendCmd) authOptionality() session.AuthOptionality {
	switch {
	case s.AuthOptional:
		return session.AuthOptional
	case s.AuthOptionalStrict:
		return session.AuthOptionalStrict
	}
	return session.AuthRequired
}

// credentials reads the AUTH secret (asking for it when it was not given)
// and checks that the mechanism can use it before anything is sent.
func (s *sendCmd) credentials(app *appContext) (string, error) {
	if s.Auth == "" {
		return "", nil
	}
	secret, err := s.password(app)
	if err != nil {
		return "", err
	}
	if strings.EqualFold(s.Auth, "auto") {
		_, err = protocol.PlainAuth("", s.AuthUser, secret)
	} else {
		_, err = protocol.NewAuthenticator(strings.ToUpper(s.Auth), s.AuthUser, secret)
	}
	if err != nil {
		return "", fmt.Errorf("--auth-user/--auth-password: %w", err)
	}
	return secret, nil
}

// envelopeOptions are the MAIL and RCPT parameters: --mail-option and
// --rcpt-option as given, then those the flags stand for (--smtputf8, the
// DSN flags), each checked before anything is sent.
func (s *sendCmd) envelopeOptions() (mail, rcpt []string, err error) {
	mail = append([]string(nil), s.MailOption...)
	rcpt = append([]string(nil), s.RcptOption...)
	if s.SMTPUTF8 {
		mail = append(mail, "SMTPUTF8")
	}
	if s.Ret != "" {
		mail = append(mail, "RET="+s.Ret)
	}
	if s.Envid != "" {
		mail = append(mail, "ENVID="+s.Envid)
	}
	if s.Notify != "" {
		rcpt = append(rcpt, "NOTIFY="+s.Notify)
	}
	for _, o := range append(append([]string(nil), mail...), rcpt...) {
		if err := protocol.ValidateESMTPParam(o); err != nil {
			return nil, nil, err
		}
	}
	return mail, rcpt, nil
}

// sender is the envelope sender: --from ("<>" is the null sender), else
// the user's address unless --data's headers give it.
func (s *sendCmd) sender() (from string, given bool) {
	switch {
	case s.From != nil && *s.From == "<>":
		return "", true
	case s.From != nil:
		return *s.From, true
	case s.Data == "":
		return defaultSender(), true
	}
	return "", false
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

// repeatSummary is what --repeat prints: the counts, the rate and each
// stage's median and 99th percentile.
func repeatSummary(res *session.RepeatResult) string {
	var b strings.Builder
	conns := "connection"
	if res.Connections != 1 {
		conns += "s"
	}
	fmt.Fprintf(&b, "=== %d messages sent, %d failed, over %d %s in %.3fs: %.1f messages/s\n",
		res.Messages, res.Failed, res.Connections, conns, res.Elapsed.Seconds(), res.PerSecond())
	if res.InFlight > 1 {
		fmt.Fprintf(&b, "=== transactions pipelined one behind another: up to %d in flight per connection, each written behind another starting with RSET\n", res.InFlight)
	}
	fmt.Fprintf(&b, "=== %-12s %10s %10s %8s\n", "stage", "median", "p99", "count")
	for _, st := range session.RepeatStageOrder {
		if len(res.Stages[st]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "=== %-12s %10s %10s %8d\n", st,
			res.Percentile(st, 50).Round(time.Microsecond), res.Percentile(st, 99).Round(time.Microsecond), len(res.Stages[st]))
	}
	return b.String()
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
	// In one write, whose error is not lost: a summary redirected to a
	// full disk says so (exit 1 when nothing else failed).
	_, werr := io.WriteString(app.stdout, repeatSummary(res))
	if werr != nil {
		fmt.Fprintf(app.stderr, "*** summary not written: %v\n", werr)
	}
	if res.Err != nil {
		code := session.ExitCodeFor(res.Err)
		fmt.Fprintf(app.stderr, "*** %s (exit %d)\n", session.SanitizeText(res.Err.Error()), code)
		return &exitError{code: code}
	}
	if res.Failed > 0 || res.Messages == 0 {
		return &exitError{code: 26}
	}
	if werr != nil {
		return &exitError{code: 1}
	}
	return nil
}

package session

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Stage is where a one-shot send is in swaks's sequence of stages; a
// failure's exit code is the code of the stage it happened in.
type Stage int

const (
	StageConnect Stage = iota
	StageBanner
	StageHelo
	StageTLS
	StageHeloAfterTLS
	StageXClient
	StageHeloAfterXClient
	StageAuth
	StageMail
	StageRcpt
	StageData
	StageDot
	StageQuit
	StageDone
)

var stageNames = [...]string{"connect", "banner", "helo", "tls", "helo-after-tls", "xclient", "helo-after-xclient", "auth", "mail", "rcpt", "data", "dot", "quit", "done"}

func (s Stage) String() string {
	if s < 0 || int(s) >= len(stageNames) {
		return "stage(" + strconv.Itoa(int(s)) + ")"
	}
	return stageNames[s]
}

// exitCodes are swaks's (swaks --help, "EXIT CODES").
var exitCodes = map[Stage]int{
	StageConnect: 2, StageBanner: 21, StageHelo: 22, StageTLS: 29, StageHeloAfterTLS: 32, StageXClient: 33, StageHeloAfterXClient: 34,
	StageAuth: 28, StageMail: 23, StageRcpt: 24, StageData: 25, StageDot: 26, StageQuit: 27,
}

// QuitAfterStages are the stops --quit-after accepts.
// first-helo is the greeting before STARTTLS; helo the last greeting.
// xclient is after XCLIENT, before the greeting that follows it.
var QuitAfterStages = []string{"connect", "banner", "first-helo", "helo", "tls", "xclient", "auth", "mail", "rcpt"}

// DropAfterStages are the stops --drop-after accepts: --quit-after's, and
// data (DATA's 354, the message not sent) and dot (the message's reply),
// as swaks's --drop-after.
var DropAfterStages = append(QuitAfterStages[:len(QuitAfterStages):len(QuitAfterStages)], "data", "dot")

// SendConfig is everything `ehlo send` needs for one message.
type SendConfig struct {
	Server   string // host, host:port, [v6]:port or an absolute Unix socket path
	Port     int
	Kind     protocol.Kind
	StartTLS bool // STARTTLS is required: stop if it is not offered or fails
	Helo     string
	Timeout  time.Duration
	// DataTimeout bounds writing the whole message (protocol.Options);
	// zero: only Timeout, per write.
	DataTimeout time.Duration
	Source      string
	TLSConfig   *tls.Config

	// StartTLSIfOffered sends STARTTLS when the server offers it and
	// carries on without TLS, saying so, when it does not; a failed
	// STARTTLS still stops the send (swaks --tls-optional-strict).
	StartTLSIfOffered bool
	// Network is "tcp4" or "tcp6" to force IPv4 or IPv6 (-4, -6).
	Network string
	// Dial replaces the socket (protocol.Options.Dial; --pipe).
	Dial func(host string) (net.Conn, error)
	// Preamble is sent first on the connection (a PROXY header, --proxy).
	Preamble []byte
	// XClient are Postfix XCLIENT commands' arguments, sent after the last
	// greeting; XClientNoVerify sends attributes the server did not list.
	XClient         []string
	XClientNoVerify bool
	HeloOnly        bool // greet with HELO, never EHLO (swaks --protocol SMTP)
	// DANE says the TLSA records verify the certificate in place of the
	// certificate authorities (hostConfig): InsecureSkipVerify is then
	// not --insecure. Said here, not read from a VerifyConnection, since
	// other callbacks (--peer-cert) set one too.
	DANE bool

	From    string
	HasFrom bool // From was given (it may be the null sender "")
	To      []string
	// Message is the whole message; Envelope decides whether From/To come
	// from the flags (HasFrom, To) or from its headers.
	Message io.Reader

	AuthMech          string // "", "auto" or a mechanism name
	AuthUser          string
	AuthPassword      string
	NoInitialResponse bool
	AuthCleartext     bool
	// AuthOptional lets the send go on unauthenticated when AUTH fails:
	// AuthOptional whatever the failure, AuthOptionalStrict only when
	// no AUTH was tried (not offered, no common mechanism, or no TLS for
	// the credentials), as swaks's -ao and -aos. A connection lost in
	// AUTH ends the send either way.
	AuthOptional AuthOptionality

	MailOptions, RcptOptions []string

	QuitAfter string // one of QuitAfterStages (DropAfterStages with DropAfter or DropAfterSend), or ""
	// DropAfter closes the connection at QuitAfter's stop instead of
	// sending QUIT, as a client that goes away does (swaks --drop-after).
	DropAfter bool
	// DropAfterSend closes it as soon as the stop's command is written,
	// without reading its reply (swaks --drop-after-send): before the
	// banner for connect and banner, after the message's final dot for
	// dot. A stop whose command is not sent (tls without STARTTLS, xclient
	// without XCLIENT, auth without AUTH) drops where it would have been.
	DropAfterSend bool

	// DSN says the caller asked for DSN parameters (--notify, --ret,
	// --envid): RFC 3461 forbids them unless the server offers DSN, so the
	// send stops before MAIL instead of collecting a 555.
	DSN bool

	Pipelining bool // use PIPELINING when offered (--pipeline)
	Chunking   bool // use CHUNKING/BDAT when offered (--chunking)
	// PipelineDepth is how many transactions SendRepeat keeps in flight
	// per connection (--pipeline-depth; 0: protocol.DefaultPipelineDepth).
	PipelineDepth int

	Tracer     protocol.Tracer
	DebugLevel int
	DebugOut   io.Writer
	// Info receives the "===" and "***" lines of the transcript that are
	// not wire bytes (connecting, TLS summary, per-recipient LMTP results).
	Info func(kind InfoKind, text string)
}

// InfoKind says whether an info line is information or an error.
type InfoKind int

const (
	Info InfoKind = iota
	Warning
	Failure
)

// SendResult is the outcome of a one-shot send.
type SendResult struct {
	Stage    Stage // where it stopped: StageDone on success
	Err      error
	Greeting protocol.Reply
	Refused  map[string]protocol.Reply
	LMTP     []protocol.RecipientReply
	// closed: the failure was the connection closing under us, which is
	// exit 6 unless a stage's own reply came first.
	closed bool
}

// ExitCode is swaks's exit code for the result: 0 on success, 6 when the
// connection closed unexpectedly, otherwise the code of the failing stage.
func (r *SendResult) ExitCode() int {
	if r.Err == nil {
		return 0
	}
	if interrupted(r.Err) {
		return ExitInterrupted
	}
	var ve *protocol.ValueError
	if errors.As(r.Err, &ve) && r.Stage <= StageConnect {
		return 1
	}
	if r.closed {
		return 6
	}
	return exitCodes[r.Stage]
}

// Send runs one transaction, stage by stage, as swaks does: connect,
// banner, EHLO (HELO if refused), STARTTLS and EHLO again when asked, AUTH
// when asked, then the message with send_message's rules. After a failure
// it sends QUIT when the connection is still usable, never after a failed
// TLS handshake.
func Send(ctx context.Context, cfg SendConfig) *SendResult {
	s := &sendRun{ctx: ctx, cfg: cfg, res: &SendResult{Stage: StageConnect}, info: cfg.Info}
	if s.info == nil {
		s.info = func(InfoKind, string) {}
	}
	s.stages = &stageTracker{next: cfg.Tracer}
	opts := protocol.Options{
		LocalHostname:      cfg.Helo,
		Timeout:            cfg.Timeout,
		DataTimeout:        cfg.DataTimeout,
		SourceAddress:      cfg.Source,
		Network:            cfg.Network,
		Dial:               cfg.Dial,
		Preamble:           cfg.Preamble,
		TLSConfig:          cfg.TLSConfig,
		Tracer:             s.stages,
		AllowCleartextAuth: cfg.AuthCleartext,
		Pipelining:         cfg.Pipelining,
		Chunking:           cfg.Chunking,
	}
	s.c = protocol.NewClient(cfg.Kind, opts)
	if cfg.DebugLevel > 0 {
		s.c.SetDebugLevel(cfg.DebugLevel, cfg.DebugOut)
	}
	stop := context.AfterFunc(ctx, func() { s.c.Debug().Abort() })
	defer stop()
	for _, stage := range []func() *SendResult{s.connect, s.greet, s.authenticate} {
		if res := stage(); res != nil {
			return res
		}
	}
	return s.message()
}

// sendRun is one Send in progress. Each stage returns the final result
// when the send ends there (failed, or --quit-after), nil to go on.
type sendRun struct {
	ctx    context.Context
	cfg    SendConfig
	c      *protocol.Client
	res    *SendResult
	info   func(InfoKind, string)
	stages *stageTracker
}

// fail ends the send at stage, with QUIT when the connection is usable.
func (s *sendRun) fail(stage Stage, err error) *SendResult {
	res := s.res
	if errors.Is(err, protocol.ErrDropped) {
		res.Stage = stage // --drop-after-send's stop: the send did what was asked
		return res
	}
	res.Stage, res.Err = stage, err
	res.closed = isClosed(err)
	if s.ctx.Err() != nil {
		res.Err = fmt.Errorf("%w; %w", ErrInterrupted, protocol.ErrMessageAborted)
		if stage < StageData {
			res.Err = ErrInterrupted
		}
		res.closed = false
	}
	if s.c.Connected() {
		s.c.Quit()
	}
	return res
}

// connect opens the connection and reads the banner.
func (s *sendRun) connect() *SendResult {
	c, cfg := s.c, s.cfg
	s.dropAtReply("connect", "banner")
	r, err := c.Connect(cfg.Server, cfg.Port)
	if errors.Is(err, protocol.ErrDropped) {
		return s.fail(StageBanner, err)
	}
	if err != nil {
		var (
			tlsErr  *protocol.TLSError
			respErr *protocol.ResponseError
			protErr *protocol.ProtocolError
		)
		switch {
		case errors.As(err, &tlsErr):
			return s.fail(StageTLS, err)
		case errors.As(err, &respErr), errors.As(err, &protErr):
			// The greeting arrived but was over-long or malformed.
			return s.fail(StageBanner, err)
		case c.Connected() || isClosed(err) || isTimeout(err):
			return s.fail(StageBanner, hintGreeting(err, cfg))
		}
		return s.fail(StageConnect, err)
	}
	s.res.Greeting = r
	if r.Code != 220 {
		// As smtplib's constructor: close without QUIT (docs/security.md, F17).
		c.Close()
		return s.fail(StageBanner, &protocol.ConnectError{ResponseError: protocol.ResponseError(r)})
	}
	if err := c.Debug().CheckUnsolicited(); err != nil {
		return s.fail(StageBanner, err)
	}
	if stopAfter(cfg.QuitAfter, "connect", "banner") {
		return stop(c, cfg, s.res)
	}
	return nil
}

// greet sends EHLO (HELO under HeloOnly), then STARTTLS and EHLO again
// when asked, or when offered under StartTLSIfOffered.
func (s *sendRun) greet() *SendResult {
	c, cfg := s.c, s.cfg
	s.res.Stage = StageHelo
	xc := len(cfg.XClient) > 0 // then helo is the greeting after XCLIENT
	s.dropAtReply("first-helo")
	if !cfg.StartTLS && !cfg.StartTLSIfOffered && !xc {
		s.dropAtReply("helo") // the only greeting
	}
	err := greet(c, cfg)
	s.c.Debug().DropAtReply(0)
	if err != nil {
		return s.fail(StageHelo, err)
	}
	startTLS := cfg.StartTLS || cfg.StartTLSIfOffered && c.HasExtn("starttls")
	if cfg.StartTLSIfOffered && !startTLS {
		s.info(Warning, "STARTTLS not offered: carrying on without TLS (--tls-optional-strict)")
	}
	if stopAfter(cfg.QuitAfter, "first-helo") || stopAfter(cfg.QuitAfter, "helo", "xclient") && !startTLS && !xc {
		return stop(c, cfg, s.res)
	}
	if !startTLS {
		if stopAfter(cfg.QuitAfter, "tls") {
			return stop(c, cfg, s.res)
		}
		return nil
	}
	s.res.Stage = StageTLS
	s.dropAtReply("tls")
	if _, err := c.StartTLS(nil); err != nil {
		return s.fail(StageTLS, err)
	}
	if stopAfter(cfg.QuitAfter, "tls") {
		return stop(c, cfg, s.res)
	}
	s.res.Stage = StageHeloAfterTLS
	if !xc {
		s.dropAtReply("helo")
	}
	if err := c.EhloOrHeloIfNeeded(); err != nil {
		// With TLS 1.3 a server refusing the client's certificate says
		// so with an alert in place of the first reply.
		var alert tls.AlertError
		if errors.As(err, &alert) || strings.Contains(err.Error(), "remote error: tls:") {
			// Not a plain disconnect (exit 6): the handshake's outcome.
			return s.fail(StageTLS, &protocol.TLSError{Err: fmt.Errorf("%s (the server may want a client certificate: --cert and --key)", err)})
		}
		return s.fail(StageHeloAfterTLS, err)
	}
	if stopAfter(cfg.QuitAfter, "helo", "xclient") && !xc {
		return stop(c, cfg, s.res)
	}
	return nil
}

// AuthOptionality says whether a send needs AUTH to succeed.
type AuthOptionality uint8

const (
	AuthRequired       AuthOptionality = iota // AUTH must succeed (--auth)
	AuthOptional                              // go on whatever AUTH's failure (--auth-optional)
	AuthOptionalStrict                        // go on only if no AUTH was tried (--auth-optional-strict)
)

// authenticate sends XCLIENT when asked, then runs AUTH when asked.
func (s *sendRun) authenticate() *SendResult {
	if len(s.cfg.XClient) > 0 {
		if done := xclientStage(s.c, s.cfg, s.res, s.fail); done != nil {
			return done
		}
	}
	if s.cfg.AuthMech != "" {
		s.res.Stage = StageAuth
		s.dropAtReply("auth")
		err := authenticate(s.c, s.cfg, s.info)
		s.c.Debug().DropAtReply(0) // AUTH may fail before it sends a line
		if err != nil && !s.goOnWithoutAuth(err) {
			return s.fail(StageAuth, err)
		}
	}
	if stopAfter(s.cfg.QuitAfter, "auth") {
		return stop(s.c, s.cfg, s.res)
	}
	return nil
}

// goOnWithoutAuth reports whether the send may go on after AUTH failed
// with err, and says so when it does. The server's refusal of an AUTH
// that was tried is an AuthenticationError; anything else that leaves
// the connection up never sent a credential.
func (s *sendRun) goOnWithoutAuth(err error) bool {
	if s.cfg.AuthOptional == AuthRequired || !s.c.Connected() {
		return false
	}
	var refused *protocol.AuthenticationError
	tried := errors.As(err, &refused)
	flag := "--auth-optional"
	if s.cfg.AuthOptional == AuthOptionalStrict {
		if tried {
			return false
		}
		flag = "--auth-optional-strict"
	}
	s.info(Warning, fmt.Sprintf("%v; going on without AUTH (%s)", err, flag))
	return true
}

// message sends the envelope and the message, then QUIT.
func (s *sendRun) message() *SendResult {
	c, cfg, res := s.c, s.cfg, s.res
	res.Stage = StageMail
	if cfg.DSN && !c.HasExtn("dsn") {
		return s.fail(StageMail, &protocol.NotSupportedError{Msg: "DSN not supported by server (--notify, --ret and --envid need it)"})
	}
	if stopAfter(cfg.QuitAfter, "mail", "rcpt", "data") {
		return envelopeOnly(c, cfg, res, s.fail)
	}
	limitStreams(c, cfg.Message)
	var refused map[string]protocol.Reply
	var err error
	if cfg.DropAfterSend && cfg.QuitAfter == "dot" {
		refused, err = sendDroppingAtDot(c, cfg)
	} else {
		refused, err = c.SendMessage(cfg.Message, cfg.envelope(), cfg.MailOptions, cfg.RcptOptions)
	}
	res.Refused = refused
	res.LMTP = c.LMTPReplies()
	for _, rr := range res.LMTP {
		kind := Info
		if rr.Code != 250 {
			kind = Failure
		}
		s.info(kind, fmt.Sprintf("%s: %d %s", rr.Recipient, rr.Code, firstLine(rr.Message)))
	}
	if err != nil {
		return s.fail(s.stages.stage(err), err)
	}
	if len(refused) > 0 {
		s.info(Warning, fmt.Sprintf("%d of %d recipients refused", len(refused), len(cfg.To)))
	}
	if cfg.QuitAfter == "dot" {
		return stop(c, cfg, res)
	}
	return quit(c, res)
}

// ErrInterrupted is a send stopped by the user (Ctrl+C, SIGTERM): the
// transaction is abandoned where it stood, without the final dot when it was
// in DATA, so nothing was delivered.
var ErrInterrupted = errors.New("interrupted")

// ExitInterrupted is the exit code of an interrupted send: 128 + SIGINT, as
// the shell reports a program killed by Ctrl+C, so that a script can tell
// the user's interrupt from every refusal the server can give (swaks has no
// code of its own for it).
const ExitInterrupted = 130

// interrupted says err is the user's interrupt: ErrInterrupted, or a
// context cancelled by it (a DNS lookup, a dial).
func interrupted(err error) bool {
	return errors.Is(err, ErrInterrupted) || errors.Is(err, context.Canceled)
}

// ExitCodeFor is the swaks exit code of an error seen outside Send's stage
// tracking (a --repeat run): by the error's type.
func ExitCodeFor(err error) int {
	var (
		auth *protocol.AuthenticationError
		tlsE *protocol.TLSError
		rcpt *protocol.RecipientsRefusedError
		snd  *protocol.SenderRefusedError
		data *protocol.DataError
		helo *protocol.HeloError
		conn *protocol.ConnectError
	)
	switch {
	case err == nil:
		return 0
	case interrupted(err):
		return ExitInterrupted
	case errors.Is(err, protocol.ErrCleartextAuth), errors.As(err, &auth):
		return 28
	case errors.As(err, &tlsE):
		return 29
	case errors.As(err, &rcpt):
		return 24
	case errors.As(err, &snd):
		return 23
	case errors.As(err, &data):
		return 26
	case errors.As(err, &helo):
		return 22
	case errors.As(err, &conn):
		return 21
	case isClosed(err):
		return 6
	case !errors.Is(err, protocol.ErrSMTP):
		return 2
	}
	return 1
}

// envelope is what overrides the message's headers: the sender when
// --from was given, the recipients when --to was.
func (cfg SendConfig) envelope() *protocol.Envelope {
	env := &protocol.Envelope{}
	if cfg.HasFrom {
		from := cfg.From
		env.From = &from
	}
	if len(cfg.To) > 0 {
		env.To = cfg.To
	}
	return env
}

// limitStreams caps a composed message's streamed inputs (stdin, a FIFO,
// /dev/zero) at the server's SIZE, when it advertises one: past it the
// message cannot be accepted, so it is aborted rather than sent on.
func limitStreams(c *protocol.Client, msg io.Reader) {
	l, ok := msg.(interface{ SetStreamLimit(int64) })
	if !ok {
		return
	}
	v, _ := c.Extn("size")
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > 0 {
		l.SetStreamLimit(n)
	}
}

// stopAfter says whether --quit-after names one of the stages.
func stopAfter(quitAfter string, stages ...string) bool {
	for _, s := range stages {
		if quitAfter == s {
			return true
		}
	}
	return false
}

// stop ends a send at its --quit-after stop: QUIT, or under --drop-after
// the connection closed without a word.
func stop(c *protocol.Client, cfg SendConfig, res *SendResult) *SendResult {
	if !cfg.DropAfter && !cfg.DropAfterSend {
		return quit(c, res)
	}
	c.Close()
	return res
}

// dropAtReply arms the client to close the connection in place of the
// next reply when --drop-after-send stops at one of stages: the command
// about to be sent is the stop's.
func dropAtReply(c *protocol.Client, cfg SendConfig, stages ...string) {
	if cfg.DropAfterSend && stopAfter(cfg.QuitAfter, stages...) {
		c.Debug().DropAtReply(1)
	}
}

func (s *sendRun) dropAtReply(stages ...string) { dropAtReply(s.c, s.cfg, stages...) }

// sendDroppingAtDot is SendMessage for --drop-after-send dot: the message
// is read whole to learn its recipients, so that the reply after the
// final dot can be counted (MAIL, each RCPT, DATA, then the dot's, in that
// order with or without PIPELINING); --chunking is refused with it, as a
// message's BDAT replies depend on its chunks.
func sendDroppingAtDot(c *protocol.Client, cfg SendConfig) (map[string]protocol.Reply, error) {
	p, err := c.PrepareMessage(cfg.Message, cfg.envelope(), cfg.MailOptions)
	if err != nil {
		return nil, err
	}
	c.Debug().DropAtReply(len(p.To) + 3)
	defer c.Debug().DropAtReply(0) // a transaction that failed before its dot
	return c.Sendmail(p.From, p.To, bytes.NewReader(p.Data), p.MailOptions, cfg.RcptOptions)
}

// quit ends a successful session: an error reply to QUIT is exit 27.
func quit(c *protocol.Client, res *SendResult) *SendResult {
	r, err := c.Quit()
	if err != nil {
		res.Stage, res.Err, res.closed = StageQuit, err, false
		return res
	}
	if r.Code != 221 {
		e := protocol.ResponseError(r)
		res.Stage, res.Err = StageQuit, &e
		return res
	}
	res.Stage = StageDone
	return res
}

// envelopeOnly runs MAIL (and RCPT, and DATA) for a stop at mail, rcpt or
// data, with the envelope a whole send would have.
func envelopeOnly(c *protocol.Client, cfg SendConfig, res *SendResult, fail func(Stage, error) *SendResult) *SendResult {
	from, rcpts, mailOpts := cfg.From, cfg.To, cfg.MailOptions
	if !cfg.HasFrom || len(cfg.To) == 0 {
		// What SendMessage would take from --data's headers; the message
		// itself is never sent.
		p, err := c.PrepareMessage(cfg.Message, cfg.envelope(), cfg.MailOptions)
		if err != nil {
			return fail(StageMail, err)
		}
		from, rcpts, mailOpts = p.From, p.To, p.MailOptions
	}
	dropAtReply(c, cfg, "mail")
	r, err := c.Mail(from, mailOpts...)
	if err != nil {
		return fail(StageMail, err)
	}
	if r.Code != 250 {
		return fail(StageMail, &protocol.SenderRefusedError{ResponseError: protocol.ResponseError(r), Sender: from})
	}
	if cfg.QuitAfter == "mail" {
		return stop(c, cfg, res)
	}
	res.Stage = StageRcpt
	refused := map[string]protocol.Reply{}
	for i, to := range rcpts {
		if i == len(rcpts)-1 {
			dropAtReply(c, cfg, "rcpt")
		}
		r, err := c.Rcpt(to, cfg.RcptOptions...)
		if err != nil {
			return fail(StageRcpt, err)
		}
		if r.Code != 250 && r.Code != 251 {
			refused[to] = r
		}
	}
	res.Refused = refused
	if len(refused) == len(rcpts) {
		return fail(StageRcpt, &protocol.RecipientsRefusedError{Recipients: refused})
	}
	if cfg.QuitAfter == "data" {
		res.Stage = StageData
		dropAtReply(c, cfg, "data")
		r, err := c.Docmd("data", "") // as Data sends it
		if err != nil {
			return fail(StageData, err)
		}
		if r.Code != 354 {
			return fail(StageData, &protocol.DataError{ResponseError: protocol.ResponseError(r)})
		}
	}
	return stop(c, cfg, res)
}

func authenticate(c *protocol.Client, cfg SendConfig, info func(InfoKind, string)) error {
	if !c.HasExtn("auth") {
		msg := "Host did not advertise authentication"
		if _, tls := c.TLSConnectionState(); !tls && c.HasExtn("starttls") {
			// The usual cause (Postfix's smtpd_tls_auth_only and the
			// like), and the one a sysadmin should not have to guess.
			msg += " before TLS; it offers STARTTLS, after which servers often do (--starttls)"
		}
		return &protocol.NotSupportedError{Msg: msg}
	}
	if _, ok := c.TLSConnectionState(); !ok && cfg.AuthCleartext {
		info(Warning, "sending credentials over an unencrypted connection (--auth-cleartext)")
	} else if ok && cfg.TLSConfig != nil && cfg.TLSConfig.InsecureSkipVerify && !cfg.DANE {
		info(Warning, "sending credentials over TLS that was NOT VERIFIED (--insecure): anyone in the path may be the server")
	}
	if strings.EqualFold(cfg.AuthMech, "auto") {
		_, err := c.Login(cfg.AuthUser, cfg.AuthPassword, !cfg.NoInitialResponse)
		return err
	}
	mech := strings.ToUpper(cfg.AuthMech)
	offered := false
	params, _ := c.Extn("auth")
	for _, m := range strings.Fields(params) {
		if strings.EqualFold(m, mech) {
			offered = true
		}
	}
	if !offered {
		return &protocol.NotSupportedError{Msg: fmt.Sprintf("Host did not advertise %s (it offers: %s)", mech, strings.TrimSpace(params))}
	}
	a, err := protocol.NewAuthenticator(mech, cfg.AuthUser, cfg.AuthPassword)
	if err != nil {
		return err
	}
	_, err = c.Auth(mech, a, !cfg.NoInitialResponse)
	return err
}

// stageTracker follows the last command sent, so that an error returned
// by SendMessage is charged to the stage it happened in. It passes every
// event on to the next tracer.
type stageTracker struct {
	last    Stage
	waiting []Stage // commands of a pipelined write still awaiting replies
	next    protocol.Tracer
}

func (s *stageTracker) Trace(e protocol.Event) {
	switch {
	case e.Kind == protocol.EventState && e.State.Phase == protocol.PhaseData:
		s.last, s.waiting = StageDot, nil
	case e.Kind == protocol.EventSend && s.last != StageDot:
		s.waiting = s.waiting[:0]
		for _, line := range strings.Split(string(e.Data), "\r\n") {
			verb, _, _ := strings.Cut(line, " ")
			st, ok := map[string]Stage{"MAIL": StageMail, "RCPT": StageRcpt, "DATA": StageData, "BDAT": StageDot}[strings.ToUpper(verb)]
			if !ok {
				continue
			}
			s.waiting = append(s.waiting, st)
			if st == StageDot {
				break // the rest of the write is message content
			}
		}
		if len(s.waiting) > 0 {
			s.last = s.waiting[0]
		}
	case e.Kind == protocol.EventRecv && len(e.Data) > 3 && e.Data[3] != '-' && len(s.waiting) > 0:
		// A reply is complete: the next pipelined command is the one waiting.
		s.waiting = s.waiting[1:]
		if len(s.waiting) > 0 {
			s.last = s.waiting[0]
		}
	}
	if s.next != nil {
		s.next.Trace(e)
	}
}

func (s *stageTracker) stage(err error) Stage {
	var rr *protocol.RecipientsRefusedError
	if errors.As(err, &rr) {
		return StageRcpt
	}
	var sr *protocol.SenderRefusedError
	if errors.As(err, &sr) {
		return StageMail
	}
	var ns *protocol.NotSupportedError
	if errors.As(err, &ns) {
		return StageMail
	}
	var ab *protocol.AbortError
	if errors.As(err, &ab) {
		return StageDot
	}
	if s.last == 0 {
		return StageMail
	}
	return s.last
}

func isClosed(err error) bool {
	var sd *protocol.ServerDisconnectedError
	return errors.As(err, &sd) && !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// hintGreeting adds the usual cause to a missing greeting. It says that
// ehlo gave up, since the server only stayed silent, and names implicit TLS
// as one cause of that silence, without claiming the port is 465.
func hintGreeting(err error, cfg SendConfig) error {
	if isTimeout(err) && cfg.Kind != protocol.SMTPS {
		return fmt.Errorf("no greeting within %s, so ehlo gave up waiting (--timeout): %w; the server accepted the connection but said nothing, as one that expects TLS at once (port 465) does: if so, try --tls-on-connect", cfg.Timeout, err)
	}
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

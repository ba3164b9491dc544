package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ehlo-dev/ehlo/sandbox"
)

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

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

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
	Workshop          bool     `help:"Serve a room: a mailbox per user that only that user can read (XMAILBOX after AUTH), faults per user. See docs/sandbox.md."`
	Students          int      `help:"With --workshop: make N accounts student01… with generated passwords, written to --accounts-csv (never printed: the screen may be projected)." placeholder:"N"`
	AccountsCSV       string   `name:"accounts-csv" type:"path" help:"Where --students writes user,password (mode 0600)." default:"ehlo-workshop-accounts.csv" placeholder:"FILE"`
	Force             bool     `help:"Let --accounts-csv replace an existing file."`
	UsersFile         string   `name:"users-file" type:"path" help:"Read the users from FILE, one NAME:PASS a line (# comments); like --user." placeholder:"FILE"`
	workshopFlags
}

// users fills cfg's users and workshop settings from --user, --users-file
// and --students (one of them).
func (s *sandboxCmd) users(cfg *sandbox.Config) error {
	given := 0
	for _, on := range []bool{len(s.User) > 0, s.UsersFile != "", s.Students != 0} {
		if on {
			given++
		}
	}
	switch {
	case given > 1:
		return errors.New("--user, --users-file and --students: choose one")
	case s.Students != 0 && !s.Workshop:
		return errors.New("--students needs --workshop")
	}
	cfg.Workshop = s.Workshop
	var err error
	switch {
	case len(s.User) > 0:
		cfg.Users, _, err = sandbox.ParseUsers(s.User)
	case s.UsersFile != "":
		cfg.Users, _, err = sandbox.ReadUsersFile(s.UsersFile)
		if err != nil {
			err = fmt.Errorf("--users-file: %w", err)
		}
	case s.Students != 0:
		if cfg.Users, _, err = sandbox.GenerateStudents(s.Students); err != nil {
			return fmt.Errorf("--students: %w", err)
		}
		cfg.AccountsCSV, cfg.AccountsOverwrite = s.AccountsCSV, s.Force
	}
	return err
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
	if err := s.users(&cfg); err != nil {
		return err
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
	if s.Workshop {
		return s.runWorkshop(app, cfg)
	} else if s.Headless || s.SaveDir != "" {
		return errNoWorkshop
	}
	sandbox.TuneProcess(cfg)
	return sandbox.Run(app.ctx, cfg, app.stdout)
}

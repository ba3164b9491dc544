package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/lesson"
	"github.com/ehlo-dev/ehlo/themes"
	"github.com/ehlo-dev/ehlo/tui"
)

// tuiCmd is the default command: `ehlo [flags] [SERVER]` opens the TUI on a
// live session; with no SERVER it starts the embedded sandbox on a free
// loopback port and connects to it, trusting the certificate it made.
type tuiCmd struct {
	connFlags `embed:""`
	mxFlags   `embed:""`
	Theme     string `help:"Colour theme: default, light, dark, high-contrast or mono."`
	Server    string `arg:"" optional:"" help:"host, host:port, [v6]:port or an absolute Unix socket path; none: the embedded sandbox."`

	// Set by `ehlo lesson` (lesson.go): the embedded sandbox's settings
	// and the lesson its side pane follows.
	sandboxCfg sandbox.Config
	lesson     *lesson.Lesson
}

func (t *tuiCmd) Run(app *appContext) error {
	t.serverArg = t.Server
	cfgPath := configPath()
	uc, err := t.applyConfig(cfgPath)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if err := errors.Join(t.check(), t.checkMX(t.Server, t.LMTP)); err != nil {
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
	if server == "" && t.MX == "" {
		sb, err := sandbox.New(t.sandboxCfg)
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
				out = append(out, mailItem(m))
			}
			return out
		}
	}
	lc, startTLS, err := t.liveConfig(app, server, port, tlsCfg)
	if err != nil {
		return planExit(app, err)
	}
	live := session.NewLive(lc)
	defer live.Close()
	network := "tcp"
	if strings.HasPrefix(lc.Server, "/") {
		network = "unix"
	}
	rt := recordings.NewToggle(live.Record, t.Record, recordings.Header{
		Server: lc.Server, Transport: t.kind().String(), Network: network,
		EhloVersion: ehloVersion(), Secrets: t.RecordSecrets, Insecure: t.Insecure,
	})
	if t.Record != "" {
		if _, _, err := rt.Toggle(); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("--record: %w", err)}
		}
	}
	err = tui.Run(app.ctx, tui.Config{
		Conversation: live, Connect: true, StartTLS: startTLS, Theme: t.Theme, NoColor: themes.NoColor(os.LookupEnv),
		Mailbox: mailbox, Recording: t.Record != "", RecordPath: t.Record, ToggleRecord: rt.Toggle,
		DefaultFrom: uc.From, SandboxCA: sandboxCA, Lesson: t.lesson, LessonRemote: t.Server != "",
		SaveTheme: func(name string) (string, error) {
			return cfgPath, saveConfigKey(cfgPath, "theme", name)
		},
	})
	if cerr := rt.Stop(); cerr != nil && err == nil {
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

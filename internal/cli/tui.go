package cli

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
	"github.com/ehlo-dev/ehlo/tui"
)

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
				out = append(out, mailItem(m))
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

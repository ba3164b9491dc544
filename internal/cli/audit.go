package cli

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/term"

	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/audit"
	"github.com/ehlo-dev/ehlo/session/mx"
	"github.com/ehlo-dev/ehlo/themes"
)

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
	// Ctrl+C (SIGINT, SIGTERM) is exit 130, as for send, never the
	// "cannot reach" that the aborted connection looks like; the report
	// so far is still printed.
	interrupted := &exitError{code: session.ExitInterrupted, err: session.ErrInterrupted}
	var ue *audit.UnreachableError
	switch {
	case err != nil && app.ctx.Err() != nil:
		return interrupted
	case errors.As(err, &ue):
		return &exitError{code: 2, err: err}
	case err != nil:
		return &exitError{code: 1, err: err}
	}
	if err := a.write(app, rep); err != nil {
		return err
	}
	switch {
	case app.ctx.Err() != nil:
		return interrupted
	case rep.Failed():
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

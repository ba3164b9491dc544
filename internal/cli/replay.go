package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
	"github.com/ehlo-dev/ehlo/tui"
)

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
		var b strings.Builder
		for _, n := range recordings.Names() {
			fmt.Fprintf(&b, "%-26s %s\n", n, recordings.Description(n))
		}
		_, err := io.WriteString(app.stdout, b.String())
		return err
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
		shown = recordings.Redacted(rec)
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
		if shown, err = recordings.RedactedSource(src); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	err = recordings.WriteTranscriptSource(app.stdout, shown, recordings.TranscriptOptions{Width: terminalWidth(app.stdout)})
	if n := len(src.Problems()); n > 0 {
		fmt.Fprintf(app.stderr, "*** %s: %d problem(s) reading the recording, listed at the end of the transcript\n", session.SanitizeString(name), n)
	}
	return err
}

// tui opens rec in the TUI's replay mode.
func (r *replayCmd) tui(app *appContext, rec *recordings.Recording, name string) error {
	if name == "" {
		name = r.Recording
	}
	return tui.Run(app.ctx, tui.Config{Replay: rec, ReplayName: name, Theme: r.Theme, NoColor: themes.NoColor(os.LookupEnv)})
}

// serve is `replay --serve`: the sandbox plays the recording's server
// side (so a replay is as strict and as bounded as the sandbox). It prints
// where it listens, as the sandbox does, then logs each connection on
// stderr until Ctrl+C.
func (r *replayCmd) serve(app *appContext, rec *recordings.Recording, name string) error {
	var script sandbox.Script
	if err := recordings.ServeScript(rec, &script); err != nil {
		return &exitError{code: 1, err: err}
	}
	cfg := sandbox.Config{Listen: r.Listen, TLSListen: "-", Hostname: recordings.ServeHostname(rec.Header),
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

// openWarned opens a recording to stream (replay --print, export) and
// says on stderr when it holds credentials, as both commands must.
func openWarned(app *appContext, arg string, withSecrets bool) (*recordings.Source, string, error) {
	src, name, err := openRecording(arg)
	if err != nil {
		return nil, "", &exitError{code: 1, err: err}
	}
	warnSecrets(app, name, src.Header, withSecrets)
	return src, name, nil
}

// loadRecording reads a recording file or, if no file has that name, the
// embedded sample of that name. It returns a name to show for it.
func loadRecording(arg string) (*recordings.Recording, string, error) {
	if _, err := os.Stat(arg); err == nil {
		rec, err := recordings.ReadFile(arg)
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
	rec, err := recordings.Read(f)
	return rec, "sample " + strings.TrimSuffix(arg, ".jsonl"), err
}

// openRecording is loadRecording for reading event by event: a file is
// opened as a recordings.Source, not read into memory.
func openRecording(arg string) (*recordings.Source, string, error) {
	if _, err := os.Stat(arg); !errors.Is(err, os.ErrNotExist) {
		src, err := recordings.OpenSource(arg)
		return src, arg, err
	}
	rec, name, err := loadRecording(arg)
	if err != nil {
		return nil, "", err
	}
	return recordings.RecordingSource(rec), name, nil
}

// warnSecrets says on stderr that a recording holds credentials (C11).
func warnSecrets(app *appContext, name string, h recordings.Header, shown bool) {
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
func reportProblems(app *appContext, name string, problems []recordings.Problem) {
	for _, p := range problems {
		fmt.Fprintf(app.stderr, "*** %s: %s\n", session.SanitizeString(name), session.SanitizeString(p.String()))
	}
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/charmbracelet/x/term"

	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
)

// exportCmd: `ehlo export`.
type exportCmd struct {
	Recording   string `arg:"" name:"recording" help:"A recording (JSON Lines file) or the NAME of an embedded sample (see ehlo replay --list)."`
	Format      string `short:"f" enum:"text,markdown,json,pcap" default:"text" help:"text (the transcript), markdown (for a bug report), json (one document) or pcap (for Wireshark)."`
	Output      string `short:"o" type:"path" placeholder:"OUT" help:"Write to OUT (created with mode 0600; an existing file is an error unless --force) instead of stdout."`
	Force       bool   `help:"Replace an existing OUT (written to a temporary file, then renamed over it)."`
	WithSecrets bool   `help:"Keep the credentials of a recording made with --record-secrets (hidden by default; Markdown of such a recording needs it)."`
}

// Run reads the recording one event at a time (recordings.ExportSource); the
// problems found in it are reported once it has been read.
func (x *exportCmd) Run(app *appContext) error {
	src, name, err := openWarned(app, x.Recording, x.WithSecrets)
	if err != nil {
		return err
	}
	defer src.Close()
	defer func() { reportProblems(app, name, src.Problems()) }()
	opts := recordings.ExportOptions{WithSecrets: x.WithSecrets}
	if x.Format == "markdown" && src.Header.Secrets && !x.WithSecrets {
		return &exitError{code: 1, err: recordings.ErrMarkdownSecrets}
	}
	if x.Output == "" {
		if f, ok := app.stdout.(*os.File); ok && x.Format == "pcap" && term.IsTerminal(f.Fd()) {
			return &exitError{code: 1, err: fmt.Errorf("not writing a pcap to a terminal: use -o FILE or redirect stdout")}
		}
		return recordings.ExportSource(app.stdout, src, x.Format, opts)
	}
	err = recordings.WriteFileAtomic(app.ctx, x.Output, x.Force, func(w io.Writer) error {
		return recordings.ExportSource(w, src, x.Format, opts)
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

// Package cli is ehlo's command line: it parses flags (kong), wires the
// packages together and maps outcomes to exit codes, which travel as
// *exitError values. The work is done in protocol (the SMTP client),
// session (the live conversation, send and its --json report, audit,
// MX/DANE/MTA-STS), recordings (the recording format, the exports, /record),
// sandbox (the practice server) and tui (the terminal interface); the
// top-level main.go only calls Main. deps_test.go holds the package graph.
//
// One file per command: send.go (with send_output.go, its transcript,
// recording and --json sinks; dns.go, the no-SERVER route; swaks.go and
// pipe.go, swaks's options, whose spellings internal/cli/swaksargs
// translates before kong parses), sandbox.go, tui.go, replay.go, export.go,
// audit.go, completion.go and version.go. cli.go holds what they share:
// the command tree, exit codes and the process's context; connflags.go the
// connection flags of send and the TUI; config.go the user's config file.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/charmbracelet/x/term"
)

// cli is the whole command line. Each command's flags and Run method live
// in this package; the work is done by the packages.
type cli struct {
	TUI        tuiCmd        `cmd:"" name:"tui" default:"withargs" help:"Open the TUI on SERVER, or on the embedded sandbox (the default command: ehlo [flags] [SERVER])."`
	Send       sendCmd       `cmd:"" help:"Send one message and print a swaks-style transcript."`
	Version    versionCmd    `cmd:"" help:"Print the version."`
	Completion completionCmd `cmd:"" help:"Print a shell completion script: bash, zsh or fish."`
	Sandbox    sandboxCmd    `cmd:"" help:"Run the practice SMTP server in the foreground. Limits: 256 sessions, 128 from one address other than loopback (then 421), 10 MiB a message, 5 failed AUTH attempts a session (then 421), a TLS handshake within 10 s, each line within 5 min of the one before; see docs/sandbox.md."`
	Replay     replayCmd     `cmd:"" help:"Replay a recording: --print the transcript, --serve it as a fake server, --list the samples."`
	Export     exportCmd     `cmd:"" help:"Export a recording as text, Markdown, JSON or pcap (credentials hidden)."`
	Audit      auditCmd      `cmd:"" help:"Audit a mail server's security: TLS, certificate, STARTTLS injection, open relay, smuggling… in one report."`
	Lesson     lessonCmd     `cmd:"" help:"Guided exercises, checked against the live conversation: no NAME lists them."`
}

// sendOnly is the command line as `ehlo send` sees it. Building kong's
// model of every command cost about 10,000 allocations and two to seven
// milliseconds at each start, of which send's own flags are under half; a
// script that calls `ehlo send` in a loop pays it every time. Its help
// and errors are the full tree's (TestSendOnlyGrammarMatchesTheFullTree
// keeps the two in step).
type sendOnly struct {
	Send sendCmd `cmd:"" help:"Send one message and print a swaks-style transcript."`
}

// grammar is what kong parses args with: the send command's model alone
// for `ehlo send`, every command's otherwise.
func grammar(args []string) any {
	if len(args) > 0 && args[0] == "send" {
		return &sendOnly{}
	}
	return &cli{}
}

// Main runs ehlo with the process's arguments and returns the exit code.
func Main() int {
	return run(os.Args[1:])
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
	// The first Ctrl+C (or SIGTERM) cancels ctx, and the command stops
	// cleanly: a recording closed, QUIT or not as the protocol wants.
	// The second has its default action, so that a command stuck where
	// it does not look at ctx (a read of a pipe that never ends) can
	// still be stopped, and the user is told so if it is slow to stop.
	context.AfterFunc(ctx, func() {
		stop()
		time.AfterFunc(2*time.Second, func() {
			fmt.Fprintln(os.Stderr, "*** interrupted, still stopping: press Ctrl+C again to quit at once")
		})
	})
	app := &appContext{ctx: ctx, stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, process: true}
	return runWith(app, args)
}

func runWith(app *appContext, args []string) int {
	if code, done := runVersionFast(app, args); done {
		return code
	}
	args, err := translateSwaks(args)
	if err != nil {
		fmt.Fprintf(app.stderr, "ehlo: %v\n", err)
		return 1
	}
	if app.process && len(args) > 0 && args[0] == "send" {
		// Before kong runs: the second P, once it has cached memory,
		// costs a one-message send 2-4 ms to give up. For a command line
		// that starts with "send", onep's init took it before most of the
		// binary initialised.
		app.procs = oneP()
	}
	return runGrammar(app, args, grammar(args))
}

// runGrammar parses args with kong's model of g and runs the command.
func runGrammar(app *appContext, args []string, g any) int {
	exitCode := -1
	parser, err := kong.New(g,
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

// appContext is what every command's Run receives: the process's streams
// and a context cancelled on SIGINT or SIGTERM. Tests substitute buffers.
type appContext struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	// process is set when the command owns the process (Main), so that
	// it may tune the Go runtime; tests run commands inside go test's.
	process bool
	// procs is GOMAXPROCS as the process started, when oneP lowered it
	// (0 otherwise), for a command that turns out to want them back.
	procs int
}

// terminalWidth is the width of the terminal w writes to, or 0 if it is
// not one: a transcript on a terminal folds long lines itself (see
// recordings.TranscriptOptions.Width), one written to a file or a pipe never.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return 0
	}
	if cols, _, err := term.GetSize(f.Fd()); err == nil && cols > 0 {
		return cols
	}
	return 80
}

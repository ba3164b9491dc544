// Command ehlo is an interactive terminal SMTP debugger.
//
// main.go owns the command line: it parses flags, wires the packages
// together and maps outcomes to exit codes. The work is done in protocol
// (the SMTP client), session (live and recorded conversations), sandbox
// (the practice server) and tui (the terminal interface).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kong"
)

// version is set by -ldflags "-X main.version=…"; otherwise the module
// version from the build info is used.
var version = ""

func ehloVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

type versionCmd struct{}

func (versionCmd) Run(app *appContext) error {
	fmt.Fprintf(app.stdout, "ehlo %s\n", ehloVersion())
	return nil
}

// cli is the whole command line. Each command's flags and Run method live
// in main.go; the work is done by the packages.
type cli struct {
	Version versionCmd `cmd:"" help:"Print the version."`
	Sandbox sandboxCmd `cmd:"" help:"Run the practice SMTP server in the foreground."`
}

func main() {
	os.Exit(run(os.Args[1:]))
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
	app := &appContext{ctx: ctx, stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin}
	return runWith(app, args)
}

func runWith(app *appContext, args []string) int {
	var c cli
	exitCode := -1
	parser, err := kong.New(&c,
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
			if ee, ok := err.(*exitError); ok {
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
}

// sandboxCmd: `ehlo sandbox`. Its flags map onto sandbox.Config.
type sandboxCmd struct {
	// Flags are filled in with the sandbox package (PRODUCT.md §4).
}

func (s *sandboxCmd) Run(app *appContext) error {
	return fmt.Errorf("sandbox: not built yet")
}

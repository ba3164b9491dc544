package tui

import (
	"context"
	"errors"
	"io"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session/lesson"
)

// Config is what Run needs. Exactly one of Conversation (a live session)
// and Replay (a recording) is set.
type Config struct {
	// Conversation is the live session, usually a *session.Live. Run adds
	// a Sink to its Capture and removes it on return; it does not Close
	// the Conversation, which belongs to the caller.
	Conversation Conversation
	// Connect makes the TUI call Conversation.Connect once its Sink is in
	// place, so that the wire log shows the connection from the first
	// byte. Events the Capture delivered before Run are not shown.
	Connect bool
	// StartTLS follows the connection with STARTTLS and a new EHLO
	// (--starttls); a failure shows in the wire log and the session stays
	// closed, never in clear text.
	StartTLS bool
	// Replay is a recording to play back in the same panes.
	Replay *recordings.Recording
	// ReplayName names the recording in the status bar (a file name).
	ReplayName string

	// Theme is a themes name; empty means "default".
	Theme string
	// NoColor is NO_COLOR (themes.NoColor): the mono theme and no colour
	// sequences at all, whatever Theme says.
	NoColor bool

	// SandboxCA is the sandbox's certificate (PEM), for /ca; nil when the
	// server is not the sandbox.
	SandboxCA []byte

	// DefaultFrom is the sender the /send form starts with (the config
	// file's "from").
	DefaultFrom string
	// SaveTheme, if set, keeps a theme chosen with /theme for the next
	// run; it returns where it saved it. Like Mailbox and ToggleRecord it
	// is called from a tea.Cmd, on another goroutine than the UI's.
	SaveTheme func(name string) (where string, err error)

	// Mailbox returns the sandbox's received messages, oldest first; nil
	// when the server is not the sandbox (/mailbox then says so).
	Mailbox func() []MailItem

	// Recording says the session is being recorded (the red dot), to
	// RecordPath. ToggleRecord, if set, lets /record start or stop it; it
	// returns the new state and the file.
	Recording    bool
	RecordPath   string
	ToggleRecord func() (on bool, path string, err error)

	// Lesson, if set, opens the lesson side pane (lesson.go), which
	// checks the live conversation against it. LessonRemote says the
	// server is not the embedded sandbox the lesson set up, so the pane
	// shows what the lesson needs of it (Lesson.Server).
	Lesson       *lesson.Lesson
	LessonRemote bool

	// Input and Output replace the terminal (tests); nil means the TTY
	// and stdout.
	Input  io.Reader
	Output io.Writer
	// Width and Height fix the window size instead of asking the terminal
	// (tests).
	Width, Height int
}

// Run runs the TUI until the user quits or ctx is done. A cancelled ctx is
// not an error.
func Run(ctx context.Context, cfg Config) error {
	m, err := New(cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	return runProgram(ctx, m, terminal{cfg.Input, cfg.Output, cfg.NoColor, cfg.Width, cfg.Height})
}

// terminal is where a program runs: the TTY unless tests give other
// streams and a fixed size, in colour unless NO_COLOR.
type terminal struct {
	in            io.Reader
	out           io.Writer
	noColor       bool
	width, height int
}

// runProgram runs model until the user quits or ctx is done; a cancelled
// ctx is not an error.
func runProgram(ctx context.Context, model tea.Model, t terminal) error {
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if t.in != nil {
		opts = append(opts, tea.WithInput(t.in))
	}
	if t.out != nil {
		opts = append(opts, tea.WithOutput(t.out))
	}
	if t.noColor {
		// Attributes (bold, reverse) only; the mono theme has no colour
		// either, so no colour sequence is ever written.
		opts = append(opts, tea.WithColorProfile(colorprofile.Ascii))
	}
	if t.width > 0 && t.height > 0 {
		opts = append(opts, tea.WithWindowSize(t.width, t.height))
	}
	_, err := tea.NewProgram(model, opts...).Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return nil
	}
	return err
}

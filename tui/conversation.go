package tui

import "github.com/ehlo-dev/ehlo/session"

// Conversation is what the TUI needs of a live session; *session.Live
// satisfies it, and the tests use a fake.
//
// Snapshot's Challenge and LastError come sanitized (session.Live makes
// them so); everything else from the server is sanitized here.
//
// The action methods (Connect … Cancel) queue work on the session's own
// goroutine and return at once. Update calls them directly, rather than
// from a tea.Cmd, so that lines reach the server in the order they were
// typed: commands run concurrently and could swap two quick Enters.
type Conversation interface {
	// Capture is where the wire events come from; the TUI adds a Sink.
	Capture() *session.Capture
	// Notify signals that Snapshot changed.
	Notify() <-chan struct{}
	Snapshot() session.Snapshot

	Connect()
	Ehlo(name string)
	Helo(name string)
	StartTLS()
	Login(user, password string)
	Auth(mech, user, secret string)
	Send(f session.SendForm)
	Verify(addr string)
	Noop()
	Rset()
	Quit()
	// Input sends a raw line, an AUTH challenge answer or a DATA line,
	// as the session's mode says; never a line starting with '/'.
	Input(line string)
	// Cancel stops the operation being waited for (Esc).
	Cancel()
}

// The session types the TUI builds on, by short names.
type (
	snapshot  = session.Snapshot
	sendForm  = session.SendForm
	inputMode = session.Mode
)

const (
	modeCommand = session.ModeCommand
	modeAuth    = session.ModeAuth
	modeData    = session.ModeData
)

var _ Conversation = (*session.Live)(nil)

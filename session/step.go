package session

import (
	"strconv"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Step is how far a connection has gone through an SMTP conversation, in
// the order the steps come: the Connection pane compares and names steps
// without knowing SMTP's phases (issue 11: nothing above session
// interprets the protocol). TLS, authentication and the number of
// recipients are the State's booleans and count beside it.
type Step int

const (
	StepNone      Step = iota // not connected
	StepConnected             // the connection is up, no greeting yet
	StepGreeted               // the server's 220 greeting was read
	StepHello                 // EHLO, HELO or LHLO accepted
	StepMail                  // MAIL accepted
	StepRcpt                  // at least one RCPT accepted
	StepData                  // DATA answered 354: the message is being sent
)

var stepNames = [...]string{"disconnected", "connected", "greeted", "hello", "MAIL", "RCPT", "DATA"}

// String is the step's name as the Connection pane shows it.
func (s Step) String() string {
	if s >= 0 && int(s) < len(stepNames) {
		return stepNames[s]
	}
	return "step(" + strconv.Itoa(int(s)) + ")"
}

// StepOf is the step a protocol state has reached; a phase protocol may
// add later counts as not connected rather than as a step that is not.
func StepOf(st protocol.State) Step {
	switch st.Phase {
	case protocol.PhaseConnected:
		return StepConnected
	case protocol.PhaseGreeted:
		return StepGreeted
	case protocol.PhaseHello:
		return StepHello
	case protocol.PhaseMail:
		return StepMail
	case protocol.PhaseRcpt:
		return StepRcpt
	case protocol.PhaseData:
		return StepData
	}
	return StepNone
}

// Step is how far the connection has gone.
func (s Snapshot) Step() Step { return StepOf(s.State) }

// Step is, for a KindState event, the step it reports.
func (e Event) Step() Step { return StepOf(e.State) }

// Step is the step the session had reached when the recording began.
func (s *StartState) Step() Step { return StepOf(s.State) }

// ExtensionOf reads one line of a 250 reply to EHLO or LHLO, code and
// separator included ("250-SIZE 10240000"), as protocol.ParseEHLO reads
// the whole reply, so that a replay lists the extensions a live session
// would; ok is false for a line that names none. The reply's first line
// names the server, not an extension: the caller skips it.
func ExtensionOf(line []byte) (e protocol.Extension, ok bool) {
	if len(line) < 4 {
		return e, false
	}
	_, exts := protocol.ParseEHLO("\n" + string(line[4:]))
	if len(exts) != 1 {
		return e, false
	}
	return exts[0], true
}

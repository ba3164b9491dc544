package protocol

import (
	"crypto/tls"
	"strconv"
	"time"
)

// EventKind says what a trace Event reports.
type EventKind int

const (
	// EventConnect is reported before dialling (smtplib's audit event
	// smtplib.connect), with Network and Addr set.
	EventConnect EventKind = iota + 1
	// EventSend carries bytes written to the server, after the write
	// returned; Secrets marks the ranges that are credentials.
	EventSend
	// EventRecv carries one reply line as received, line ending included.
	EventRecv
	// EventTLS reports a finished TLS handshake, successful or not.
	EventTLS
	// EventState reports a move in the SMTP state machine.
	EventState
	// EventNote is something the client noticed and the user should see
	// (bytes discarded after STARTTLS, a bare-LF reply, a deviation).
	EventNote
	// EventClose reports that the connection was closed.
	EventClose
)

func (k EventKind) String() string {
	switch k {
	case EventConnect:
		return "connect"
	case EventSend:
		return "send"
	case EventRecv:
		return "recv"
	case EventTLS:
		return "tls"
	case EventState:
		return "state"
	case EventNote:
		return "note"
	case EventClose:
		return "close"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Span is a half-open byte range [Start, End) within Event.Data.
type Span struct{ Start, End int }

// Event is one thing a Tracer sees. Data is only valid during the call;
// a tracer that keeps it must copy it.
type Event struct {
	Kind    EventKind
	Time    time.Time
	Data    []byte // EventSend, EventRecv: the exact bytes
	Secrets []Span // EventSend: ranges of Data that are credentials
	TLS     bool   // EventSend, EventRecv: the bytes went through TLS

	Network, Addr string // EventConnect: "tcp" or "unix", and the address

	TLSState *tls.ConnectionState // EventTLS: the handshake result (nil if it failed early)
	TLSErr   error                // EventTLS: why the handshake or verification failed

	State State // EventState: the new state

	Text string // EventNote: the message
}

// Tracer sees every byte written and read, the connect, the TLS handshake
// and every state change. Trace is called synchronously on the goroutine
// that drives the client, in wire order.
type Tracer interface {
	Trace(Event)
}

// TracerFunc adapts a function to Tracer.
type TracerFunc func(Event)

// Trace calls f(e).
func (f TracerFunc) Trace(e Event) { f(e) }

// Phase is a position in the SMTP state machine.
type Phase int

const (
	PhaseDisconnected Phase = iota
	PhaseConnected          // TCP (or TLS) up, greeting not yet read
	PhaseGreeted            // 220 received
	PhaseHello              // EHLO/HELO accepted
	PhaseMail               // MAIL accepted
	PhaseRcpt               // at least one RCPT accepted
	PhaseData               // 354 received, message being sent
)

func (p Phase) String() string {
	if names := [...]string{"disconnected", "connected", "greeted", "hello", "mail", "rcpt", "data"}; p >= 0 && int(p) < len(names) {
		return names[p]
	}
	return "Phase(" + strconv.Itoa(int(p)) + ")"
}

// State is the client's position in the protocol.
type State struct {
	Phase         Phase
	TLS           bool // the connection is encrypted
	Authenticated bool
	Recipients    int // RCPTs accepted in this transaction
}

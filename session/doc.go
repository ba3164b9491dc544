// Package session owns a live conversation with a server as a stream of
// Events: what the TUI's wire log shows, what `ehlo send` prints and what
// a recording (package recordings) holds.
//
// The flow is one way. protocol reports every byte, the TLS handshake and
// every state change to a protocol.Tracer; a Capture is that tracer. It
// copies each report into a self-contained, timestamped Event, removes the
// credentials (Redaction, Scrubber) and only then hands the Event to its
// Sinks: a recordings.Recorder, a recordings.Transcript, the --json report
// (SendReport), the TUI. Because redaction happens in that one place, no
// sink can leak a password by forgetting to redact. The follower of the
// client's bytes (what is a command, where DATA or BDAT content starts and
// ends, which command a reply answers) is here too, once: it annotates
// every Event a Capture delivers (Event.Parts), redaction reads those
// annotations, and the readers of a recording borrow it (Follower,
// Annotator), as they borrow the redaction rules (Redactor, SecretFinder,
// HideMarked) for a recording made with --record-secrets.
//
// Anything that came over the wire is shown only through Sanitize, which
// makes every byte visible and inert on a terminal.
//
// Live builds on Capture: it runs protocol calls off the UI goroutine and
// interprets raw lines the user types (STARTTLS, AUTH, DATA) so the
// protocol state stays true. Between operations it keeps reading the
// connection, so that what the server says unasked (an idle timeout's 421)
// is shown when it comes; Record attaches a sink mid-session, opening with
// a snapshot of the state (StartState), so that a recording's replay
// starts from there.
//
// Live.Mailbox reads a workshop sandbox's mailbox through its sandbox-only
// XMAILBOX extension, on the session like any command, and believes
// nothing of the reply it has not checked.
//
// `ehlo send`'s side is Send (one message, stage by stage, swaks's exit
// codes, with swaks's optional stages: a PROXY protocol header first and
// Postfix's XCLIENT after the last greeting), its --json report
// (SendReport), SendRepeat (the load driver of --repeat) and Composition,
// which builds the default message as a reader that encodes the body and
// attachments as they are read, so no input is ever held whole (Input).
// SendRoute runs Send through DNS when no server is given: the MX hosts in
// order, secured by DANE or MTA-STS as session/mx finds them.
//
// The package imports protocol, session/mx (and through it
// github.com/miekg/dns) and the standard library; never recordings, tui,
// the sandbox or the command line (internal/cli's deps_test.go).
package session

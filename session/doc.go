// Package session owns a conversation with a server, live or replayed, as a
// stream of Events: what the TUI's wire log shows, what `ehlo send` prints,
// what a recording holds and what a replay plays back.
//
// The flow is one way. protocol reports every byte, the TLS handshake and
// every state change to a protocol.Tracer; a Capture is that tracer. It
// copies each report into a self-contained, timestamped Event, removes the
// credentials (Redaction, Scrubber) and only then hands the Event to its
// Sinks: a Recorder (a JSON Lines file, docs/recording-format.md), a
// Transcript (swaks-style lines), and later the TUI. Because redaction
// happens in that one place, no sink can leak a password by forgetting to
// redact. Read turns a recording, which may come from anyone, back into the
// same Events; WriteTranscript prints them.
//
// Anything that came over the wire is shown only through Sanitize, which
// makes every byte visible and inert on a terminal, and pasted into
// Markdown only through MarkdownEscape and MarkdownFence (the exports, and
// the reports of session/audit, `ehlo audit`).
//
// The live side builds on Capture: Live runs protocol calls off the UI
// goroutine and interprets raw lines the user types (STARTTLS, AUTH, DATA)
// so the protocol state stays true, and everything it does reaches the
// sinks through its Capture. Between operations it keeps reading the
// connection, so that what the server says unasked (an idle timeout's 421)
// is shown when it comes; Record starts a recording mid-session with a
// snapshot of the state, so that its replay starts from there. Replay,
// exports and `replay --serve` are to feed a Recording's Events to the same Sinks.
//
// Live.Mailbox reads a workshop sandbox's mailbox through its sandbox-only
// XMAILBOX extension, on the session like any command, and believes
// nothing of the reply it has not checked.
//
// For `replay --serve` the package cuts a recording into a script and
// hands it to a ScriptBuilder (ServeScript); the sandbox serves it, with
// its own connection machinery, so there is one server and one DATA
// reader.
//
// `ehlo send`'s side is Send (one message, stage by stage, swaks's exit
// codes, with swaks's optional stages: a PROXY protocol header first and
// Postfix's XCLIENT after the last greeting) and Composition, which
// builds the default message as a reader that encodes the body and
// attachments as they are read, so no input is ever held whole (Input).
// SendRoute runs Send through DNS when no server is given: the MX hosts in
// order, secured by DANE or MTA-STS as session/mx finds them.
//
// The package imports protocol, session/mx (and through it
// github.com/miekg/dns) and the standard library.
package session

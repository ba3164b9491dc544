// Package recordings owns ehlo's recording format (docs/recording-format.md)
// and everything made from a recording after the fact; it also ships the
// sample recordings.
//
//   - Writing: a Recorder is a session.Sink that writes each Event of a
//     live session as one JSON Lines record (Create for a file, never
//     overwritten; Toggle for /record, which starts and stops recordings
//     of a session.Live).
//   - Reading: Read and ReadFile load a recording whole; Scanner and
//     Source read it one event at a time, so that a file of any size is
//     printed or exported in bounded memory. A recording may come from
//     anyone: what is wrong in it is a Problem, never a panic, and the
//     fast path for the Recorder's own lines gives exactly what
//     encoding/json would.
//   - Exports: Transcript (swaks-style text, also `ehlo send`'s live
//     output), Markdown, JSON and pcap (Export, ExportSource), with the
//     summary they share (Summarize). Redacted and RedactedSource hide the
//     credentials of a recording made with --record-secrets by session's
//     redaction rules, as a live session would have.
//   - `replay --serve`: ServeScript cuts a recording into connections and
//     turns and hands them to a ScriptBuilder (the sandbox's Script), so
//     that the sandbox serves it with its one DATA reader.
//   - The samples (*.jsonl, embedded): Names, Open, Description.
//
// The flow of a conversation is session's: this package reads what each
// piece of a session.Event is (a command and its verb, message content and
// where it ends, an answer to an AUTH challenge, a reply line and whether
// more follow) from the event's Parts, which a live session's Capture sets
// and a session.Annotator sets for a recording read from a file, so that
// it is decided in one place: nothing here looks for a verb, a 354 or a
// ".". It imports session and protocol only; session never imports it (a
// Live records through session.Sink), tui and the command line do
// (internal/cli's deps_test.go holds the graph).
package recordings

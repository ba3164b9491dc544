package recordings

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ehlo-dev/ehlo/session"
)

// ExportFormats are the formats `ehlo export --format` takes.
var ExportFormats = []string{"text", "markdown", "json", "pcap"}

// ExportOptions change what Export writes.
type ExportOptions struct {
	// WithSecrets keeps the credentials of a recording made with
	// --record-secrets (`--with-secrets`). Without it every export hides
	// them behind Marker, as a recording made without --record-secrets
	// would have.
	WithSecrets bool
}

// ErrMarkdownSecrets is Export's answer to a Markdown export of a recording
// that holds credentials, without WithSecrets: Markdown is made to be
// pasted into a public bug report, so that takes an explicit flag
// (security-anchors §4.3 rule 6).
var ErrMarkdownSecrets = errors.New("the recording contains credentials (made with --record-secrets); a Markdown export is meant for pasting in public, so it takes --with-secrets (or export --format text, which hides them)")

// Export writes rec in one of ExportFormats: "text" is the transcript
// `replay --print` shows, "markdown" a heading, a summary table and the
// transcript in a code fence, "json" one JSON document with the header, a
// summary and every event, and "pcap" a synthetic capture (WritePcap).
// Credentials are hidden unless opts.WithSecrets (see Redacted).
func Export(w io.Writer, rec *Recording, format string, opts ExportOptions) error {
	return ExportSource(w, RecordingSource(rec), format, opts)
}

// ExportSource is Export for a recording read event by event: a file of
// any size is exported in the memory of one event. What must be known
// before the first line (the secrets to hide, the Markdown table, the
// JSON summary) is found by a pass of its own over src. The output is
// buffered; it is complete once ExportSource returns nil.
func ExportSource(w io.Writer, src *Source, format string, opts ExportOptions) error {
	switch format {
	case "text", "markdown", "json", "pcap":
	default:
		return fmt.Errorf("unknown export format %q (want %s)", format, strings.Join(ExportFormats, ", "))
	}
	if format == "markdown" && src.Header.Secrets && !opts.WithSecrets {
		return ErrMarkdownSecrets
	}
	if !opts.WithSecrets {
		var err error
		if src, err = RedactedSource(src); err != nil {
			return err
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch format {
	case "text":
		err = writeTranscript(bw, src, 0)
	case "markdown":
		err = writeMarkdown(bw, src)
	case "json":
		err = writeJSON(bw, src)
	default:
		err = writePcap(bw, src)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// Redacted returns a copy of rec without credentials, whose header says
// secrets: false.
//
// A recording made with --record-secrets holds the bytes as sent, with
// each event's credentials marked (Event.Secrets). Its events are run
// through the same redaction a live session applies (Redaction), so the
// copy is what a recording made without --record-secrets would have held:
// the marked ranges and every AUTH response replaced, the PLAIN and LOGIN
// user name kept visible. The secrets found that way also feed a
// Scrubber, so a server that quoted them back (case C9) is caught too.
//
// A recording made without secrets is already redacted; any range still
// marked in it is replaced by Marker all the same.
func Redacted(rec *Recording) *Recording {
	src, _ := RedactedSource(RecordingSource(rec)) // in memory: no error
	out := &Recording{Header: src.Header, Events: make([]session.Event, 0, len(rec.Events))}
	out.Problems, _ = src.Each(func(e session.Event) error {
		out.Events = append(out.Events, e)
		return nil
	})
	return out
}

// RedactedSource is Redacted for a Source: each pass over it hides the
// credentials, event by event. For a recording made with --record-secrets
// it first makes a pass to find them.
func RedactedSource(src *Source) (*Source, error) {
	out := *src
	out.Header.Secrets = false
	inner := src.redact
	if !src.Header.Secrets {
		out.redact = func() func(session.Event) session.Event {
			next := passThrough(inner)
			return func(e session.Event) session.Event { return session.HideMarked(next(e)) }
		}
		return &out, nil
	}
	f := session.NewSecretFinder()
	if _, err := src.Each(func(e session.Event) error { f.Add(e); return nil }); err != nil {
		return nil, err
	}
	out.redact = func() func(session.Event) session.Event {
		next := passThrough(inner)
		r := session.NewRedactor(session.Redaction{Scrubber: f.Scrubber()})
		return func(e session.Event) session.Event { return r.Apply(next(e)) }
	}
	return &out, nil
}

// passThrough starts a pass of an optional event filter.
func passThrough(f func() func(session.Event) session.Event) func(session.Event) session.Event {
	if f == nil {
		return func(e session.Event) session.Event { return e }
	}
	return f()
}

// Summary is what the Markdown and JSON exports say about a recording
// before its transcript. Every field is sanitized text.
type Summary struct {
	Server    string `json:"server"`
	Transport string `json:"transport"`
	TLS       string `json:"tls"`
	Outcome   string `json:"outcome"`
}

// Summarize reads what happened in rec: how TLS went and how the
// conversation ended (the message accepted or refused, an AUTH failure, a
// refused sender or recipients, a connection that closed early).
func Summarize(rec *Recording) Summary {
	return summarize(rec.Header, buildScript(rec.Header, rec.Events), nil)
}

// foldEvery is how many settled turns the summary pass lets a run gather
// before it folds them into the run's outcome and drops them.
const foldEvery = 256

// summaryPass makes a pass over src for its Summary, calling also (if not
// nil) with each event on the way. The turns of a run are folded as they
// settle, so a run of any length is summarised in bounded memory.
func summaryPass(src *Source, also func(session.Event)) (Summary, error) {
	var err error
	accs := map[*scriptRun]*outcomeAcc{}
	settle := func(r *scriptRun) {
		if r.answered-1 < foldEvery {
			return
		}
		a := accs[r]
		if a == nil {
			a = &outcomeAcc{}
			accs[r] = a
		}
		a.fold(r)
	}
	// One Follower for the pass: its annotations serve also and the script.
	follow := session.NewAnnotator(src.Header.lmtp())
	runs := buildScriptSeq(src.Header, func(yield func(int, session.Event) bool) {
		i := 0
		_, err = src.Each(func(e session.Event) error {
			follow.Annotate(&e)
			if also != nil {
				also(e)
			}
			if !yield(i, e) {
				return errStopPass
			}
			i++
			return nil
		})
	}, settle)
	return summarize(src.Header, runs, accs), err
}

// fold folds the settled turns of r, those before turns[answered-1]: no
// reply can reach them any more (assignReply).
func (a *outcomeAcc) fold(r *scriptRun) {
	k := r.answered - 1
	for j := 0; j < k; j++ {
		a.turn(&r.turns[j], r.turns[j+1].kind == turnAuth)
	}
	n := copy(r.turns, r.turns[k:])
	clear(r.turns[n:])
	r.turns = r.turns[:n]
	r.answered -= k
}

var errStopPass = errors.New("pass stopped")

// summarize writes the summary of runs; accs holds what the summary pass
// folded of them already.
func summarize(h Header, runs []*scriptRun, accs map[*scriptRun]*outcomeAcc) Summary {
	s := Summary{
		Server:    session.SanitizeString(h.Server),
		Transport: session.SanitizeString(h.Transport) + " over " + session.SanitizeString(h.Network),
	}
	var tlsParts, outcomes []string
	for _, r := range runs {
		if t := describeTLS(r, h.Insecure); t != "" {
			tlsParts = append(tlsParts, t)
		}
		a := accs[r]
		if a == nil {
			a = &outcomeAcc{}
		}
		a.turns(r.turns)
		outcomes = append(outcomes, a.result(r))
	}
	s.TLS = strings.Join(dedupe(tlsParts), "; ")
	if s.TLS == "" {
		s.TLS = "none (cleartext)"
	}
	if len(outcomes) == 0 {
		outcomes = []string{"nothing was exchanged"}
	}
	if len(outcomes) > 1 {
		for i := range outcomes {
			outcomes[i] = fmt.Sprintf("connection %d: %s", i+1, outcomes[i])
		}
	}
	s.Outcome = strings.Join(outcomes, "; ")
	return s
}

func dedupe(in []string) []string {
	var out []string
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func describeTLS(r *scriptRun, insecure bool) string {
	if r.failed != nil && r.tls == nil {
		return "handshake failed: " + session.SanitizeString(r.failed.Error)
	}
	if r.tls == nil {
		return ""
	}
	how := "STARTTLS"
	switch {
	case r.implicitTLS:
		how = "implicit TLS"
	case r.midway && !r.startTLS:
		how = "TLS begun before the recording"
	}
	parts := []string{how, session.SanitizeString(r.tls.Version), session.SanitizeString(r.tls.Cipher)}
	switch {
	case r.tls.Verified:
		parts = append(parts, "certificate verified")
	case r.tls.Error != "":
		parts = append(parts, "certificate NOT verified: "+session.SanitizeString(r.tls.Error))
	case insecure:
		parts = append(parts, "certificate not verified (--insecure)")
	default:
		parts = append(parts, "certificate not verified")
	}
	return strings.Join(nonEmpty(parts), ", ")
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// outcomeAcc says how one connection ended, from the replies to the turns
// that decide it. It gathers them turn by turn, so that the summary
// pass can fold the turns that are settled and drop them. Its lists are
// capped (maxOutcomeItems, the rest counted): a recording of a million
// messages is summarised in a line, not a million.
type outcomeAcc struct {
	msgs, notes, refused  []string
	moreMsgs, moreRefused int
	moreNotes             int
	lastReply, authFailed string
	rcptOK, rcptRefused   int
}

const maxOutcomeItems = 10

// outcomeReplies is the text of replies in the summary: each one's last
// line, sanitized and cut short.
func outcomeReplies(reps []scriptReply) string {
	var parts []string
	for _, rep := range reps {
		parts = append(parts, clipText(session.SanitizeString(rep.final()), 120))
	}
	return strings.Join(parts, "; ")
}

func capAppend(list []string, more *int, s string) []string {
	if len(list) >= maxOutcomeItems {
		*more++
		return list
	}
	return append(list, s)
}

// turns folds turns in order.
func (a *outcomeAcc) turns(ts []turn) {
	for i := range ts {
		a.turn(&ts[i], i+1 < len(ts) && ts[i+1].kind == turnAuth)
	}
}

// turn folds one turn whose replies are all in; nextAuth says the turn
// after it answers a 334.
func (a *outcomeAcc) turn(t *turn, nextAuth bool) {
	if len(t.replies) > 0 {
		a.lastReply = outcomeReplies(t.replies[len(t.replies)-1:])
	}
	code := lastCode(t.replies)
	switch {
	case t.kind == turnBody || (t.verb == "BDAT" && t.last):
		a.msgs = capAppend(a.msgs, &a.moreMsgs, bodyOutcome(t.replies, outcomeReplies))
	case t.verb == "AUTH" || t.kind == turnAuth:
		// The reply that ends the exchange decides; a later AUTH that
		// succeeds makes an earlier failure history.
		if !nextAuth && code != "" && code != "334" {
			a.authFailed = ""
			if !strings.HasPrefix(code, "2") {
				a.authFailed = outcomeReplies(t.replies)
			}
		}
	case t.verb == "MAIL":
		if code != "" && !strings.HasPrefix(code, "2") {
			a.notes = capAppend(a.notes, &a.moreNotes, "sender refused: "+outcomeReplies(t.replies))
		}
	case t.verb == "RCPT":
		if strings.HasPrefix(code, "2") {
			a.rcptOK++
		} else if code != "" {
			a.rcptRefused++
			a.refused = capAppend(a.refused, &a.moreRefused, outcomeReplies(t.replies))
		}
	}
}

// result is the outcome of r once every turn is folded.
func (a *outcomeAcc) result(r *scriptRun) string {
	if len(r.greeting) > 0 && !strings.HasPrefix(r.greeting[len(r.greeting)-1].code, "2") {
		return "greeting refused: " + outcomeReplies(r.greeting)
	}
	notes := a.notes
	if a.rcptRefused > 0 {
		list := strings.Join(a.refused, "; ")
		if a.moreRefused > 0 {
			list += fmt.Sprintf("; and %d more", a.moreRefused)
		}
		if a.rcptOK == 0 {
			notes = append(notes, "no recipient accepted: "+list)
		} else {
			notes = append(notes, fmt.Sprintf("%d of %d recipients refused: %s", a.rcptRefused, a.rcptOK+a.rcptRefused, list))
		}
	}
	var out []string
	if a.authFailed != "" {
		out = append(out, "authentication failed: "+a.authFailed)
	}
	out = append(out, a.msgs...)
	if a.moreMsgs > 0 {
		out = append(out, fmt.Sprintf("and %d more messages", a.moreMsgs))
	}
	out = append(out, notes...)
	if a.moreNotes > 0 {
		out = append(out, fmt.Sprintf("and %d more refused senders", a.moreNotes))
	}
	if len(a.msgs) == 0 {
		switch {
		case r.failed != nil && r.tls == nil:
			out = append(out, "TLS handshake failed: "+session.SanitizeString(r.failed.Error))
		case len(out) == 0 && a.lastReply != "":
			out = append(out, "no message sent (last reply: "+a.lastReply+")")
		case len(out) == 0:
			out = append(out, "no reply recorded")
		}
	}
	return strings.Join(out, "; ")
}

func bodyOutcome(replies []scriptReply, first func([]scriptReply) string) string {
	if len(replies) == 0 {
		return "message sent, no reply recorded"
	}
	ok := 0
	for _, rep := range replies {
		if strings.HasPrefix(rep.code, "2") {
			ok++
		}
	}
	switch {
	case len(replies) == 1 && ok == 1:
		return "message accepted: " + first(replies)
	case len(replies) == 1:
		return "message refused: " + first(replies)
	case ok == len(replies):
		return fmt.Sprintf("message accepted for all %d recipients: %s", ok, first(replies))
	}
	return fmt.Sprintf("message accepted for %d of %d recipients: %s", ok, len(replies), first(replies))
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xc0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// WriteMarkdown writes rec for a bug report: a heading, a table with the
// server, transport, TLS and outcome, and the transcript in a code fence.
//
// Everything in it came from the recording, which a hostile server could
// have filled with Markdown or HTML (case H5). The transcript is already
// sanitized (no control characters); the fence around it is one backtick
// longer than the longest run of backticks inside, so no line of it can
// close the block, and the table escapes every character that Markdown or
// HTML would act on and breaks mentions, references, links and emoji
// shortcodes (mdEscape).
func WriteMarkdown(w io.Writer, rec *Recording) error {
	return writeMarkdown(w, RecordingSource(rec))
}

// writeMarkdown makes two passes: the first for the table and the fence
// (the transcript is written to a counter), the second for the transcript.
func writeMarkdown(w io.Writer, src *Source) error {
	var (
		run      backtickRun
		redacted bool
	)
	first := NewTranscript(&run, TranscriptOptions{Full: true})
	transcriptHead(first, src.Header)
	sum, err := summaryPass(src, func(e session.Event) {
		first.Event(e)
		redacted = redacted || e.Redacted
	})
	if err != nil {
		return err
	}
	first.Flush()
	fence := strings.Repeat("`", max(3, run.longest+1))
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "## SMTP session with %s\n\n", mdCode(sum.Server))
	b.WriteString("| | |\n| --- | --- |\n")
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, mdCode(v)) }
	row("server", sum.Server)
	row("transport", sum.Transport)
	row("TLS", sum.TLS)
	row("outcome", sum.Outcome)
	row("recorded", src.Header.Created.UTC().Format(time.RFC3339)+" by ehlo "+session.SanitizeString(src.Header.EhloVersion))
	b.WriteString("\n")
	if src.Header.Secrets {
		b.WriteString("**This transcript contains credentials.**\n\n")
	} else if redacted {
		b.WriteString("Credentials were replaced by " + mdEscape(session.Marker) + ".\n\n")
	}
	b.WriteString(fence + "text\n")
	if err := writeTranscript(b, src, 0); err != nil {
		return err
	}
	b.WriteString(fence + "\n")
	return b.Flush()
}

// backtickRun is a writer that keeps only the longest run of backticks
// written to it.
type backtickRun struct{ cur, longest int }

func (r *backtickRun) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '`' {
			r.cur++
			r.longest = max(r.longest, r.cur)
		} else {
			r.cur = 0
		}
	}
	return len(p), nil
}

// longestRun is the length of the longest run of c in b.
func longestRun(b []byte, c byte) int {
	best, n := 0, 0
	for _, x := range b {
		if x == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// mdCode puts sanitized text from the server or the file in a code span,
// where Markdown and HTML are shown as they are and GitHub makes no
// mention (@user), issue reference (#1), link (a bare URL) or emoji
// (:smile:) of it (issue 12 finding 10); escaping characters cannot stop
// those, which are found in the text after the Markdown is read. The span
// is delimited by one backtick more than the longest run inside, padded
// with a space where CommonMark would otherwise eat one, and a pipe is
// GFM's "\|", which a table cell needs even inside code.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	fence := strings.Repeat("`", longestRun([]byte(s), '`')+1)
	pad := ""
	if s[0] == '`' || s[len(s)-1] == '`' || s[0] == ' ' && s[len(s)-1] == ' ' && strings.Trim(s, " ") != "" {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", `\|`) + pad + fence
}

// mdEscape makes sanitized text inert in a Markdown table cell, which
// holds inline content only: HTML's three special characters become
// entities, and the characters that start emphasis, code, links or
// strikethrough are backslash-escaped (CommonMark §2.4; "\|" is GFM's
// escape for a pipe inside a table).
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\\', '`', '*', '_', '[', ']', '|', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// The document `export --format json` writes is an object with "format"
// (JSONExportFormat), "version", "header", "summary", "events" and, if the
// file had any, "problems" (docs/recording-format.md). Events are encoded
// as in the recording: bytes in "data" when they are valid UTF-8 text, in
// "b64" otherwise, so the document is valid JSON whatever the server sent
// and the bytes come back exactly. An event in "b64" also has "display",
// the bytes as the transcript shows them, for readers.
type jsonExportEvent struct {
	eventJSON
	Display string `json:"display,omitempty"`
}

// JSONExportFormat names the JSON export.
const JSONExportFormat = "ehlo-export"

// WriteJSON writes rec as one JSON document (described above).
func WriteJSON(w io.Writer, rec *Recording) error {
	return writeJSON(w, RecordingSource(rec))
}

// writeJSON writes the document as encoding/json would
// indent it, one event at a time: a pass for the summary, then one for
// the events. C1, bidi and zero-width characters are \u escapes
// (AppendJSONSafe).
func writeJSON(w io.Writer, src *Source) error {
	sum, err := summaryPass(src, nil)
	if err != nil {
		return err
	}
	h := src.Header
	h.Format, h.Version = FormatName, FormatVersion
	jw := &jsonWriter{w: w}
	jw.raw("{\n  \"format\": ")
	jw.value(JSONExportFormat, "  ")
	jw.raw(",\n  \"version\": ")
	jw.value(FormatVersion, "  ")
	jw.raw(",\n  \"header\": ")
	jw.value(h, "  ")
	jw.raw(",\n  \"summary\": ")
	jw.value(sum, "  ")
	jw.raw(",\n  \"events\": [")
	n := 0
	probs, err := src.Each(func(e session.Event) error {
		j := jsonExportEvent{eventJSON: toJSON(e)}
		if j.B64 != nil {
			j.Display = session.Sanitize(session.TrimEOL(e.Data))
		}
		if n > 0 {
			jw.raw(",")
		}
		n++
		jw.raw("\n    ")
		jw.value(j, "    ")
		return jw.err
	})
	if err != nil {
		return err
	}
	if n > 0 {
		jw.raw("\n  ")
	}
	jw.raw("]")
	if len(probs) > 0 {
		list := make([]string, len(probs))
		for i, p := range probs {
			list[i] = p.String()
		}
		jw.raw(",\n  \"problems\": ")
		jw.value(list, "  ")
	}
	jw.raw("\n}\n")
	return jw.err
}

// jsonWriter writes a JSON document piece by piece, each value indented as
// encoding/json's Encoder with SetIndent(prefix, "  ") would, without
// HTML escaping, and made safe for a terminal by AppendJSONSafe.
type jsonWriter struct {
	w   io.Writer
	buf bytes.Buffer
	out []byte
	err error
}

func (j *jsonWriter) raw(s string) {
	if j.err == nil {
		_, j.err = io.WriteString(j.w, s)
	}
}

func (j *jsonWriter) value(v any, prefix string) {
	if j.err != nil {
		return
	}
	j.buf.Reset()
	enc := json.NewEncoder(&j.buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if j.err = enc.Encode(v); j.err != nil {
		return
	}
	j.out = session.AppendJSONSafe(j.out[:0], bytes.TrimSuffix(j.buf.Bytes(), []byte("\n")))
	_, j.err = j.w.Write(j.out)
}

// WriteFileAtomic writes a file with write, so that the path either does
// not change or holds the complete output (security-anchors §4.3 rules 7
// and 8, cases I1, I2 and I8): the output goes to a temporary file of mode
// 0600 in the same directory, is synced, and only then takes the path's
// place. Without force an existing path, a symlink included, is an error
// ("file exists") and is left alone: the temporary file is hard-linked to
// the path, which fails if anything is there. With force it is renamed
// over the path, which replaces a symlink rather than writing through it.
// On any failure, or when ctx is done while writing, the temporary file is
// removed. Only a SIGKILL can leave one (.NAME.*.tmp) behind.
func WriteFileAtomic(ctx context.Context, path string, force bool, write func(io.Writer) error) (err error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.IsDir() {
			return &os.PathError{Op: "create", Path: path, Err: errors.New("is a directory")}
		}
		if !force {
			return &os.PathError{Op: "create", Path: path, Err: syscall.EEXIST}
		}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if err := write(&ctxWriter{ctx: ctx, w: f}); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		f = nil
		return err
	}
	f = nil
	if err := ctx.Err(); err != nil {
		return err
	}
	if force {
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	} else {
		switch err := os.Link(tmp, path); {
		case errors.Is(err, os.ErrExist):
			return &os.PathError{Op: "create", Path: path, Err: syscall.EEXIST}
		case err != nil:
			// A file system without hard links: check, then rename.
			// Only this fallback leaves a moment for a race.
			if _, serr := os.Lstat(path); serr == nil {
				return &os.PathError{Op: "create", Path: path, Err: syscall.EEXIST}
			}
			if err := os.Rename(tmp, path); err != nil {
				return err
			}
		default:
			os.Remove(tmp)
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ctxWriter stops a write once ctx is done (Ctrl+C during an export).
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// ParseExportFormat checks a --format value.
func ParseExportFormat(s string) (string, error) {
	for _, f := range ExportFormats {
		if strings.EqualFold(s, f) {
			return f, nil
		}
	}
	if strings.EqualFold(s, "md") {
		return "markdown", nil
	}
	return "", fmt.Errorf("unknown format %s (want %s)", strconv.Quote(s), strings.Join(ExportFormats, ", "))
}

package recordings

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// authConversation is a STARTTLS session as the protocol tracer reports
// it: AUTH LOGIN refused by a server that quotes the password line back
// (case C9), then AUTH PLAIN with an initial response (C3), then a message
// and QUIT. protocol marks the credentials it sends.
func authConversation(t testing.TB, password string) []protocol.Event {
	user, pass := b64("alice"), b64(password)
	plain := "AUTH PLAIN " + b64("\x00alice\x00"+password) + "\r\n"
	return []protocol.Event{
		{Kind: protocol.EventConnect, Network: "tcp", Addr: "mx.test:25"},
		state(protocol.PhaseConnected, false, false),
		recv("220 mx.test ESMTP\r\n"),
		state(protocol.PhaseGreeted, false, false),
		send("EHLO client.test\r\n"),
		recv("250-mx.test\r\n"), recv("250 STARTTLS\r\n"),
		send("STARTTLS\r\n"),
		recv("220 2.0.0 go ahead\r\n"),
		{Kind: protocol.EventTLS, TLSState: &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, HandshakeComplete: true}},
		sendTLS("EHLO client.test\r\n"),
		recvTLS("250-mx.test\r\n"), recvTLS("250 AUTH PLAIN LOGIN\r\n"),
		sendTLS("AUTH LOGIN\r\n"),
		recvTLS("334 VXNlcm5hbWU6\r\n"),
		sendTLS(user+"\r\n", protocol.Span{Start: 0, End: len(user)}),
		recvTLS("334 UGFzc3dvcmQ6\r\n"),
		sendTLS(pass+"\r\n", protocol.Span{Start: 0, End: len(pass)}),
		recvTLS("535 5.7.8 authentication failed for " + pass + "\r\n"),
		sendTLS(plain, span(t, plain, plain[len("AUTH PLAIN "):len(plain)-2])),
		recvTLS("235 2.7.0 ok\r\n"),
		state(protocol.PhaseHello, true, true),
		sendTLS("MAIL FROM:<alice@mx.test>\r\n"), recvTLS("250 2.1.0 ok\r\n"),
		sendTLS("RCPT TO:<bob@mx.test>\r\n"), recvTLS("250 2.1.5 ok\r\n"),
		sendTLS("DATA\r\n"), recvTLS("354 go on\r\n"),
		sendTLS("Subject: hi\r\n\r\nAUTH PLAIN is only a body line here\r\n.\r\n"),
		recvTLS("250 2.0.0 queued as 1\r\n"),
		sendTLS("QUIT\r\n"), recvTLS("221 2.0.0 bye\r\n"),
		{Kind: protocol.EventClose},
	}
}

// recordConversation runs events through a Capture into a Recorder, as
// `ehlo send --record` does (with --record-secrets when secrets), and
// returns the file.
func recordConversation(t testing.TB, events []protocol.Event, password string, secrets bool) []byte {
	t.Helper()
	sc := session.NewScrubber()
	if password != "" {
		sc.Add(password)
		sc.AddPlain("", "alice", password)
	}
	c := newTestCapture(session.Redaction{Scrubber: sc})
	var buf bytes.Buffer
	h := testHeader
	h.Created, h.Secrets = c.Start(), secrets
	r, err := NewRecorder(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	c.Add(r)
	for _, e := range events {
		c.Trace(e)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readRecording(t testing.TB, file []byte) *Recording {
	t.Helper()
	rec, err := Read(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Problems) > 0 {
		t.Fatalf("problems reading the recording: %v", rec.Problems)
	}
	return rec
}

func exportString(t testing.TB, rec *Recording, format string, opts ExportOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := Export(&b, rec, format, opts); err != nil {
		t.Fatalf("export %s: %v", format, err)
	}
	return b.String()
}

// The JSON export holds the recording exactly: its header and events,
// encoded again one per line, are the original file byte for byte, bytes
// that are not UTF-8 included; and the document is valid JSON.
func TestExportJSONRoundTrip(t *testing.T) {
	cases := map[string][]byte{
		"captured": recordConversation(t, authConversation(t, canary(t)), "", false),
		"hostile bytes": writeRecording(t, append(sampleEvents(t)[:8:8],
			session.Event{Offset: 4 * time.Millisecond, Kind: session.KindServer, Data: []byte("250 ```\xff\x1b[2J <img src=x>\r\n")},
			session.Event{Offset: 5 * time.Millisecond, Kind: session.KindClose})),
	}
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			rec := readRecording(t, file)
			out := exportString(t, rec, "json", ExportOptions{})
			if !json.Valid([]byte(out)) {
				t.Fatalf("not valid JSON:\n%s", out)
			}
			if strings.Contains(out, "\x1b") {
				t.Error("a raw ESC in the JSON export")
			}
			var doc struct {
				Format string
				Header Header
				Events []eventJSON
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Format != JSONExportFormat {
				t.Errorf("format %q", doc.Format)
			}
			var again bytes.Buffer
			line, _ := marshalLine(doc.Header)
			again.Write(line)
			for _, e := range doc.Events {
				line, _ := marshalLine(e)
				again.Write(line)
			}
			if !bytes.Equal(again.Bytes(), file) {
				t.Errorf("the JSON export does not give the recording back:\n got %q\nwant %q", again.Bytes(), file)
			}
		})
	}
	// A b64 event also carries a readable form.
	rec := readRecording(t, cases["hostile bytes"])
	out := exportString(t, rec, "json", ExportOptions{})
	if !strings.Contains(out, `"display": "250 `+"```"+`\\xff\\x1b[2J <img src=x>"`) {
		t.Errorf("no sanitized display for the b64 event:\n%s", out)
	}
}

// security-anchors I6 and C11: the canary is in no export, in any form,
// whether the recording was redacted when made or made with
// --record-secrets; only --with-secrets brings it back.
func TestExportRedactionEverywhere(t *testing.T) {
	pw := canary(t)
	blob := "\x00alice\x00" + pw
	forms := secretForms(pw, blob)
	for _, secrets := range []bool{false, true} {
		file := recordConversation(t, authConversation(t, pw), pw, secrets)
		rec := readRecording(t, file)
		if got := bytes.Contains(file, []byte(pw)) || bytes.Contains(file, []byte(base64.StdEncoding.EncodeToString([]byte(blob)))); got != secrets {
			t.Fatalf("secrets=%v: the recording holds the password: %v", secrets, got)
		}
		for _, format := range ExportFormats {
			var out string
			if format == "markdown" && secrets {
				var b bytes.Buffer
				if err := Export(&b, rec, format, ExportOptions{}); !errors.Is(err, ErrMarkdownSecrets) || b.Len() > 0 {
					t.Errorf("markdown of a recording with secrets: err %v, %d bytes written", err, b.Len())
				}
				var md bytes.Buffer
				if err := WriteMarkdown(&md, Redacted(rec)); err != nil {
					t.Fatal(err)
				}
				out = md.String()
			} else {
				out = exportString(t, rec, format, ExportOptions{})
			}
			for _, f := range forms {
				if strings.Contains(out, f) {
					t.Errorf("secrets=%v %s: the export holds %q", secrets, format, f)
				}
			}
			if format != "pcap" && !strings.Contains(out, `[redacted user=\"alice\"]`) && !strings.Contains(out, `[redacted user="alice"]`) {
				t.Errorf("secrets=%v %s: the PLAIN user name is not kept visible:\n%s", secrets, format, out)
			}
			if format == "text" && strings.Contains(out, "only a body line here") && !strings.Contains(out, "AUTH PLAIN is only a body line here") {
				t.Errorf("a body line was taken for a command")
			}
		}
		if !secrets {
			continue
		}
		// The explicit opt-in shows them; the test can see a leak.
		for _, format := range []string{"text", "markdown", "json", "pcap"} {
			out := exportString(t, rec, format, ExportOptions{WithSecrets: true})
			if !strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(blob))) {
				t.Errorf("--with-secrets %s: the PLAIN blob is not there", format)
			}
		}
		if red := Redacted(rec); red.Header.Secrets {
			t.Error("Redacted keeps secrets: true in the header")
		}
	}
}

// Redacted applied to a recording made with --record-secrets gives what
// the same session recorded without it holds.
func TestRedactedMatchesLiveRedaction(t *testing.T) {
	pw := canary(t)
	live := readRecording(t, recordConversation(t, authConversation(t, pw), pw, false))
	kept := Redacted(readRecording(t, recordConversation(t, authConversation(t, pw), pw, true)))
	if got, want := encodeAll(t, kept.Events), encodeAll(t, live.Events); !bytes.Equal(got, want) {
		t.Errorf("Redacted differs from live redaction:\n got %s\nwant %s", got, want)
	}
}

// security-anchors H5: server text with backtick fences, HTML and table
// syntax stays inside the code block of the Markdown export, and the
// table and heading escape it.
func TestMarkdownFence(t *testing.T) {
	hostile := "```\n" // a bare LF: Sanitize shows it as \n, the backticks stay
	events := []session.Event{
		{Kind: session.KindConnect, Network: "tcp", Addr: "mx.test:25"},
		{Offset: time.Millisecond, Kind: session.KindServer, Data: []byte("220 ```` <img src=x onerror=alert(1)> ok\r\n")},
		{Offset: 2 * time.Millisecond, Kind: session.KindClient, Data: []byte("EHLO client.test\r\n")},
		{Offset: 3 * time.Millisecond, Kind: session.KindServer, Data: []byte("250-``````````\r\n")},
		{Offset: 3 * time.Millisecond, Kind: session.KindServer, Data: []byte("250 " + hostile)},
		{Offset: 4 * time.Millisecond, Kind: session.KindClient, Data: []byte("MAIL FROM:<a@b>\r\n")},
		{Offset: 5 * time.Millisecond, Kind: session.KindServer, Data: []byte("550 5.7.1 | *no* [x](javascript:alert(1)) ``` <script>x</script>\r\n")},
		{Offset: 6 * time.Millisecond, Kind: session.KindClose},
	}
	h := testHeader
	h.Server = "mx`<img src=x>`|*.test"
	var buf bytes.Buffer
	r, _ := NewRecorder(&buf, h)
	for _, e := range events {
		r.Event(e)
	}
	r.Close()
	rec := readRecording(t, buf.Bytes())
	md := exportString(t, rec, "markdown", ExportOptions{})

	var transcript bytes.Buffer
	if err := WriteTranscript(&transcript, rec); err != nil {
		t.Fatal(err)
	}
	outside, blocks := parseFences(md)
	if len(blocks) != 1 {
		t.Fatalf("%d code blocks, want 1:\n%s", len(blocks), md)
	}
	if blocks[0] != transcript.String() {
		t.Errorf("the code block is not the transcript:\n got %q\nwant %q", blocks[0], transcript.String())
	}
	for _, bad := range []string{"<img", "<script", "](", "`", "*no*", "\x1b"} {
		for _, line := range strings.Split(outside, "\n") {
			if live := liveText(line); strings.Contains(unescapeMarkdown(live), bad) && strings.Contains(live, bad) {
				t.Errorf("outside the code block, %q is live in %q", bad, line)
			}
		}
	}
	// Every table row has exactly three unescaped pipes: server text
	// cannot add a cell.
	for _, line := range strings.Split(outside, "\n") {
		if strings.HasPrefix(line, "| ") {
			if n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(line, -1)); n != 3 {
				t.Errorf("table row with %d pipes: %q", n, line)
			}
		}
	}
	if !strings.Contains(md, "message") && !strings.Contains(md, "sender refused") {
		t.Errorf("no outcome in the table:\n%s", md)
	}
}

// parseFences reads Markdown as CommonMark reads fenced code blocks
// (§4.5): a line of three or more backticks (after at most three spaces)
// opens one, and only a line of at least as many backticks, and nothing
// else but spaces, closes it. It returns the text outside any block and
// the content of each block.
func parseFences(md string) (outside string, blocks []string) {
	var out, cur strings.Builder
	fence := 0
	for _, line := range strings.SplitAfter(md, "\n") {
		trimmed := strings.TrimRight(strings.TrimLeft(line, " "), "\n")
		indent := len(line) - len(strings.TrimLeft(line, " "))
		run := len(trimmed) - len(strings.TrimLeft(trimmed, "`"))
		switch {
		case fence == 0 && indent <= 3 && run >= 3 && !strings.Contains(trimmed[run:], "`"):
			fence = run
			cur.Reset()
		case fence > 0 && indent <= 3 && run >= fence && strings.TrimSpace(trimmed[run:]) == "":
			blocks = append(blocks, cur.String())
			fence = 0
		case fence > 0:
			cur.WriteString(line)
		default:
			out.WriteString(line)
		}
	}
	if fence > 0 { // an unclosed block runs to the end of the document
		blocks = append(blocks, cur.String())
	}
	return out.String(), blocks
}

// liveText drops the code spans from a line of Markdown as CommonMark
// reads them (§6.1): a run of n backticks opens one, and only the next run
// of exactly n closes it; a run never closed is literal text.
func liveText(line string) string {
	var out strings.Builder
	for i := 0; i < len(line); {
		if line[i] != '`' {
			out.WriteByte(line[i])
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		end := -1
		for j := i + n; j < len(line); {
			if line[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(line) && line[j+m] == '`' {
				m++
			}
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end < 0 {
			out.WriteString(line[i : i+n])
			i += n
			continue
		}
		out.WriteString("CODE")
		i = end
	}
	return out.String()
}

// Issue 12 finding 10: a mention, an issue reference, a bare URL or an
// emoji shortcode from the server or the file is not live in any row or
// the heading of the Markdown export; it is inside a code span.
func TestMarkdownNoLiveReferences(t *testing.T) {
	live := "@octocat #1 GH-2 owner/repo#3 https://evil.test/x www.evil.test a@b.test :smile: "
	h := testHeader
	h.Server, h.Transport, h.Network, h.EhloVersion = live+"mx", live, live, live
	rec := &Recording{Header: h, Events: []session.Event{
		{Kind: session.KindConnect, Network: "tcp", Addr: "mx.test:25"},
		{Kind: session.KindServer, Data: []byte("220 " + live + "\r\n")},
		{Kind: session.KindClient, Data: []byte("MAIL FROM:<a@b>\r\n")},
		{Kind: session.KindServer, Data: []byte("550 " + live + "`x`\r\n")},
		{Kind: session.KindTLS, Handshake: &session.TLSSummary{Error: live}},
		{Kind: session.KindClose},
	}}
	md := exportString(t, rec, "markdown", ExportOptions{})
	outside, _ := parseFences(md)
	for _, line := range strings.Split(outside, "\n") {
		rest := liveText(line)
		for _, tok := range strings.Fields(live) {
			if strings.Contains(rest, strings.Trim(tok, ":")) {
				t.Errorf("%q is live in %q", tok, line)
			}
		}
	}
	if !strings.Contains(md, "| outcome | `") {
		t.Errorf("the outcome is not a code span:\n%s", md)
	}
}

// unescapeMarkdown drops backslash escapes and the entities mdEscape
// writes, to see what a renderer would act on: a character still there
// after that was not escaped.
func unescapeMarkdown(s string) string {
	s = regexp.MustCompile(`\\.`).ReplaceAllString(s, "")
	return strings.NewReplacer("&lt;", "", "&gt;", "", "&amp;", "").Replace(s)
}

func TestSummarize(t *testing.T) {
	pw := canary(t)
	rec := readRecording(t, recordConversation(t, authConversation(t, pw), pw, false))
	s := Summarize(rec)
	if s.Server != "mx.test:25" || s.Transport != "smtp over tcp" {
		t.Errorf("server/transport: %+v", s)
	}
	if !strings.HasPrefix(s.TLS, "STARTTLS") {
		t.Errorf("TLS: %q", s.TLS)
	}
	if s.Outcome != "message accepted: 250 2.0.0 queued as 1" {
		t.Errorf("outcome: %q", s.Outcome)
	}
}

func TestExportUnknownFormat(t *testing.T) {
	rec := readRecording(t, recordConversation(t, authConversation(t, "x"), "", false))
	if err := Export(io.Discard, rec, "html", ExportOptions{}); err == nil {
		t.Error("an unknown format was accepted")
	}
	if f, err := ParseExportFormat("MD"); err != nil || f != "markdown" {
		t.Errorf("ParseExportFormat(MD) = %q, %v", f, err)
	}
}

// security-anchors I1, I2, I8: the export file is 0600, never written over
// an existing file or through a symlink without --force, replaced whole
// (the link itself, not its target) with it, and a failed or cancelled
// export leaves neither a partial file nor a temporary one.
func TestWriteFileAtomic(t *testing.T) {
	ctx := context.Background()
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	dir := t.TempDir()
	noTemp := func() {
		t.Helper()
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				t.Errorf("temporary file left behind: %s", e.Name())
			}
		}
	}
	out := filepath.Join(dir, "out.md")
	if err := WriteFileAtomic(ctx, out, false, write("one")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	// I2: an existing file is refused, and left alone.
	err := WriteFileAtomic(ctx, out, false, write("two"))
	if !errors.Is(err, os.ErrExist) || !strings.Contains(err.Error(), "file exists") {
		t.Errorf("existing file: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "one" {
		t.Errorf("existing file changed: %q", b)
	}
	// I2: a symlink planted at the path is refused; with force it is
	// replaced, and its target is untouched.
	target := filepath.Join(dir, "bashrc")
	os.WriteFile(target, []byte("precious"), 0o644)
	link := filepath.Join(dir, "link.md")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := WriteFileAtomic(ctx, link, false, write("x")); !errors.Is(err, os.ErrExist) {
		t.Errorf("symlink: %v", err)
	}
	if err := WriteFileAtomic(ctx, link, true, write("forced")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("written through the symlink: %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("--force left %v", fi.Mode())
	}
	// I8: a write that fails half-way, or a Ctrl+C, changes nothing.
	half := func(w io.Writer) error {
		io.WriteString(w, "partial")
		return errors.New("killed")
	}
	if err := WriteFileAtomic(ctx, filepath.Join(dir, "new.pcap"), false, half); err == nil {
		t.Error("a failed write succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "new.pcap")); !os.IsNotExist(err) {
		t.Error("a failed export left its destination")
	}
	if err := WriteFileAtomic(ctx, out, true, half); err == nil {
		t.Error("a failed write succeeded")
	}
	if b, _ := os.ReadFile(out); string(b) != "one" {
		t.Errorf("a failed --force export changed the previous file: %q", b)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := WriteFileAtomic(cctx, filepath.Join(dir, "c.json"), false, write("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.json")); !os.IsNotExist(err) {
		t.Error("a cancelled export left its destination")
	}
	if err := WriteFileAtomic(ctx, dir, true, write("x")); err == nil {
		t.Error("a directory was replaced")
	}
	noTemp()
}

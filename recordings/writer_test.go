package recordings

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

var testHeader = Header{
	Created:     time.Date(2026, 11, 25, 22, 50, 0, 123000000, time.UTC),
	Server:      "mx.test:25",
	Transport:   "smtp",
	Network:     "tcp",
	EhloVersion: "v0.1.0-test",
}

// sampleEvents covers every kind and every data encoding. Offsets are whole
// microseconds, the file's resolution.
func sampleEvents(t testing.TB) []session.Event {
	cert := selfSigned(t, "mx.test", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	return []session.Event{
		{Offset: 0, Kind: session.KindConnect, Network: "tcp", Addr: "127.0.0.1:25"},
		{Offset: us(10), Kind: session.KindState, State: protocol.State{Phase: protocol.PhaseConnected}},
		{Offset: us(1500), Kind: session.KindServer, Data: []byte("220 mx.test ESMTP\r\n")},
		{Offset: us(1600), Kind: session.KindClient, Data: []byte("EHLO client.test\r\n")},
		// security-anchors F12: NUL and bytes that are not UTF-8.
		{Offset: us(2000), Kind: session.KindServer, Data: []byte("250 has\x00nul \xff\xfe\r\n")},
		// C1 is valid UTF-8 but is stored as base64.
		{Offset: us(2001), Kind: session.KindServer, Data: []byte("250 \u009b31m\r\n")},
		{Offset: us(2002), Kind: session.KindServer, Data: []byte{}},
		{Offset: us(2003), Kind: session.KindServer, Data: []byte("250 <b>&amp; \"quoted\" \u202e\r\n")},
		{Offset: us(3000), Kind: session.KindTLS, Handshake: &session.TLSSummary{
			Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256", ServerName: "mx.test", Complete: true,
			Error: "x509: certificate signed by unknown authority",
			Chain: []session.Certificate{summarizeCert(cert)},
		}},
		{Offset: us(3100), Kind: session.KindState, State: protocol.State{Phase: protocol.PhaseRcpt, TLS: true, Authenticated: true, Recipients: 2}},
		{Offset: us(3200), Kind: session.KindClient, TLS: true, Redacted: true, Data: []byte("AUTH PLAIN [redacted]\r\n")},
		{Offset: us(3300), Kind: session.KindClient, TLS: true, Data: []byte("AUTH PLAIN AGEAYg==\r\n"), Secrets: []protocol.Span{{Start: 11, End: 19}}},
		{Offset: us(4000), Kind: session.KindNote, Text: "3 bytes discarded after STARTTLS"},
		{Offset: us(5000), Kind: session.KindClose},
	}
}

func writeRecording(t testing.TB, events []session.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	r, err := NewRecorder(&buf, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		r.Event(e)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	events := sampleEvents(t)
	// security-anchors I4: a 10 MB DATA event, not UTF-8 so base64.
	big := bytes.Repeat([]byte("0123456789abcde\xff"), 10<<20/16)
	events = append(events[:len(events)-1], session.Event{Offset: 4500 * time.Microsecond, Kind: session.KindClient, Data: big}, events[len(events)-1])

	file := writeRecording(t, events)
	rec, err := Read(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Problems) != 0 {
		t.Errorf("problems: %v", rec.Problems)
	}
	want := testHeader
	want.Format, want.Version = FormatName, FormatVersion
	if !reflect.DeepEqual(rec.Header, want) {
		t.Errorf("header:\n got %+v\nwant %+v", rec.Header, want)
	}
	if len(rec.Events) != len(events) {
		t.Fatalf("read %d events, wrote %d", len(rec.Events), len(events))
	}
	for i := range events {
		if !reflect.DeepEqual(rec.Events[i], events[i]) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, short(rec.Events[i]), short(events[i]))
		}
	}
	// Each event is one line; the header is the first.
	if n := bytes.Count(file, []byte("\n")); n != len(events)+1 {
		t.Errorf("%d lines for %d events and a header", n, len(events))
	}
	// Non-UTF-8 and C1 data went to base64, the rest stayed readable.
	lines := strings.Split(string(file), "\n")
	if !strings.Contains(lines[5], `"b64":`) || !strings.Contains(lines[6], `"b64":`) {
		t.Errorf("non-UTF-8 or C1 data not stored as base64:\n%s\n%s", lines[5], lines[6])
	}
	if !strings.Contains(lines[3], `"data":"220 mx.test ESMTP\r\n"`) {
		t.Errorf("text data not stored as text: %s", lines[3])
	}
}

func short(e session.Event) session.Event {
	if len(e.Data) > 64 {
		e.Data = append(e.Data[:64:64], "…"...)
	}
	return e
}

// The Recorder adds a close event unless the conversation already ended
// with one.
func TestRecorderCloseEvent(t *testing.T) {
	rec, err := Read(bytes.NewReader(writeRecording(t, []session.Event{{Kind: session.KindServer, Data: []byte("220 hi\r\n")}})))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Events); n != 2 || rec.Events[1].Kind != session.KindClose {
		t.Errorf("events: %+v", rec.Events)
	}
	rec, _ = Read(bytes.NewReader(writeRecording(t, []session.Event{{Kind: session.KindClose}})))
	if n := len(rec.Events); n != 1 {
		t.Errorf("a second close event was added: %+v", rec.Events)
	}
}

func TestRecorderFlushesEachEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.jsonl")
	r, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range sampleEvents(t) {
		r.Event(e)
		// Nothing is held in a buffer: what a crash now would leave
		// already holds this event.
		data, _ := os.ReadFile(path)
		rec, err := Read(bytes.NewReader(data))
		if err != nil || len(rec.Events) != i+1 || len(rec.Problems) != 0 {
			t.Fatalf("after event %d the file holds %v events, problems %v, err %v", i, len(rec.Events), rec.Problems, err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err == nil {
		t.Error("a second Close returned nil")
	}
}

// security-anchors I2: O_EXCL refuses an existing file and a planted symlink,
// and leaves the target alone.
func TestCreateRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "bashrc")
	os.WriteFile(target, []byte("precious\n"), 0o644)

	existing := filepath.Join(dir, "existing.jsonl")
	os.WriteFile(existing, []byte("old\n"), 0o644)
	link := filepath.Join(dir, "link.jsonl")
	os.Symlink(target, link)
	dangling := filepath.Join(dir, "dangling.jsonl")
	os.Symlink(filepath.Join(dir, "nowhere"), dangling)

	for _, path := range []string{existing, link, dangling} {
		r, err := Create(path, testHeader)
		if err == nil {
			r.Close()
			t.Errorf("Create(%s) succeeded", path)
			continue
		}
		if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "file exists") {
			t.Errorf("Create(%s): %v, want \"file exists\"", path, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("symlink target changed: %q", b)
	}
	if b, _ := os.ReadFile(existing); string(b) != "old\n" {
		t.Errorf("existing file changed: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("the dangling symlink's target was created")
	}
}

// With --force the file is replaced by rename: a symlink is replaced, its
// target is untouched, and no temporary file is left.
func TestCreateForce(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "bashrc")
	os.WriteFile(target, []byte("precious\n"), 0o644)
	link := filepath.Join(dir, "link.jsonl")
	os.Symlink(target, link)
	existing := filepath.Join(dir, "existing.jsonl")
	os.WriteFile(existing, []byte("old\n"), 0o644)

	for _, path := range []string{link, existing, filepath.Join(dir, "new.jsonl")} {
		r, err := Create(path, testHeader, Force())
		if err != nil {
			t.Fatalf("Create(%s, Force): %v", path, err)
		}
		r.Event(session.Event{Kind: session.KindServer, Data: []byte("220 hi\r\n")})
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s after Force: %v, %v; want a regular 0600 file", path, fi.Mode(), err)
		}
		if rec, err := ReadFile(path); err != nil || len(rec.Events) != 2 {
			t.Errorf("%s: %v, %v", path, rec, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("symlink target changed: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if _, err := Create(dir, testHeader, Force()); err == nil {
		t.Error("Force over a directory succeeded")
	}
}

// enospc accepts limit bytes, then fails as a full disk does.
type enospc struct {
	limit int
	buf   bytes.Buffer
}

func (w *enospc) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.limit {
		n := w.limit - w.buf.Len()
		w.buf.Write(p[:n])
		return n, &fs.PathError{Op: "write", Path: "s.jsonl", Err: syscall.ENOSPC}
	}
	return w.buf.Write(p)
}

// security-anchors I9: a full disk stops the recording, loudly, and nothing
// else.
func TestRecorderDiskFull(t *testing.T) {
	w := &enospc{limit: 400}
	r, err := NewRecorder(w, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestCapture(session.Redaction{})
	var stdout, stderr bytes.Buffer
	c.Add(r)
	c.Add(NewTranscript(&stdout, TranscriptOptions{Errors: &stderr}))
	for range 20 {
		c.Trace(recv("250 " + strings.Repeat("x", 40) + "\r\n"))
	}
	if err := r.Err(); err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "recording stopped: write s.jsonl: no space left on device") {
		t.Errorf("Err() = %v", err)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "*** recording stopped:") || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr: %q, want one *** recording stopped line", got)
	}
	if n := strings.Count(stdout.String(), "<-  250"); n != 20 {
		t.Errorf("the transcript went on with %d of 20 replies", n)
	}
	written := w.buf.Len()
	r.Event(session.Event{Kind: session.KindNote, Text: "after"})
	if err := r.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close() = %v", err)
	}
	if w.buf.Len() != written {
		t.Error("the recorder wrote after its error")
	}
	// What reached the disk is a recording whose last event is cut off.
	rec, err := Read(bytes.NewReader(w.buf.Bytes()))
	if err != nil || len(rec.Problems) != 1 || !strings.Contains(rec.Problems[0].Msg, "truncated") {
		t.Errorf("reading the partial file: %v, %v", rec, err)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestRecorderShortWrite(t *testing.T) {
	if _, err := NewRecorder(shortWriter{}, testHeader); err == nil || !strings.Contains(err.Error(), "short write") {
		t.Errorf("NewRecorder on a short writer: %v", err)
	}
}

func TestRecorderPhaseOutOfRange(t *testing.T) {
	// protocol.Phase.String indexes an array; a phase this package does not
	// know must not panic the recorder.
	file := writeRecording(t, []session.Event{{Kind: session.KindState, State: protocol.State{Phase: 99}}})
	rec, err := Read(bytes.NewReader(file))
	if err != nil || len(rec.Problems) != 1 || !strings.Contains(rec.Problems[0].Msg, "unknown phase") {
		t.Errorf("%v %v", rec, err)
	}
}

// Notes come from other goroutines than the protocol's; a signal handler
// closes the recorder while events flow. Run with -race.
func TestCaptureConcurrent(t *testing.T) {
	c := newTestCapture(session.Redaction{})
	var buf syncBuffer
	r, err := NewRecorder(&buf, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	var got collect
	c.Add(r)
	c.Add(&got)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			c.Note("from the UI")
		}
	}()
	for i := range 100 {
		c.Trace(recv("250 ok\r\n"))
		if i == 50 {
			go r.Close()
		}
	}
	<-done
	if len(got.events) != 200 {
		t.Errorf("%d events, want 200", len(got.events))
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// A certificate the user pinned for the session (the TUI's trust) is
// recorded as pinned, reads back so, and the transcript says so rather
// than "verified" (issue 14 item 3).
func TestPinnedHandshakeRoundTrip(t *testing.T) {
	cert := summarizeCert(selfSigned(t, "mx.test", time.Now().Add(time.Hour)))
	events := []session.Event{
		{Kind: session.KindConnect, Addr: "127.0.0.1:25"},
		{Offset: time.Millisecond, Kind: session.KindTLS, Handshake: &session.TLSSummary{
			Complete: true, Version: "TLSv1.3", Verified: true, Pinned: true, Chain: []session.Certificate{cert}}},
	}
	rec, err := Read(bytes.NewReader(writeRecording(t, events)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) < 2 || rec.Events[1].Handshake == nil || !rec.Events[1].Handshake.Pinned {
		t.Fatalf("the pin did not survive the file: %+v", rec.Events)
	}
	var tr strings.Builder
	if err := WriteTranscript(&tr, rec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tr.String(), `issuer "CN=mx.test" pinned (trusted for this session by its sha256)`) {
		t.Errorf("the transcript does not say pinned:\n%s", tr.String())
	}
}

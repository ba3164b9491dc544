package recordings

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// snapshotLine is a snapshot event as the Recorder writes it, for the
// fuzzers' seeds.
const snapshotLine = `{"offset_us":0,"kind":"snapshot","snapshot":{"session_start":"2026-11-25T22:40:38+02:00","connected":true,"network":"tcp","addr":"mx.test:25","connection_start":"2026-11-25T22:40:39Z","state":{"phase":"hello","tls":true,"auth":true,"rcpts":0},"handshake":{"version":"TLSv1.3","complete":true,"verified":true},"extensions":[{"keyword":"SIZE","params":"10"},{"keyword":"AUTH"}],"extensions_stale":true,"mode":"auth"}}`

// sampleStart is the state of a session after EHLO, STARTTLS and EHLO.
func sampleStart(t testing.TB) *session.StartState {
	cert := selfSigned(t, "mx.test", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	return &session.StartState{
		SessionStart: time.Date(2026, 11, 25, 22, 40, 38, 0, time.UTC),
		Connected:    true, Network: "tcp", Addr: "127.0.0.1:2525",
		ConnectionStart: time.Date(2026, 11, 25, 22, 40, 39, 0, time.UTC),
		State:           protocol.State{Phase: protocol.PhaseHello, TLS: true},
		Handshake: &session.TLSSummary{Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256", ServerName: "mx.test",
			Complete: true, Verified: true, Chain: []session.Certificate{summarizeCert(cert)}},
		Extensions: []protocol.Extension{{Keyword: "SIZE", Params: "10485760"}, {Keyword: "AUTH", Params: "PLAIN LOGIN"}, {Keyword: "8BITMIME"}},
		Mode:       "command",
	}
}

// The snapshot event is written as version 2 and reads back whole, on
// the encoding/json path (the fast path declines it).
func TestSnapshotRoundTrip(t *testing.T) {
	start := sampleStart(t)
	events := []session.Event{
		{Kind: session.KindSnapshot, Start: start},
		{Offset: time.Millisecond, Kind: session.KindClient, Data: []byte("NOOP\r\n"), TLS: true},
		{Offset: 2 * time.Millisecond, Kind: session.KindServer, Data: []byte("250 ok\r\n"), TLS: true},
		{Offset: 3 * time.Millisecond, Kind: session.KindClose},
	}
	file := writeRecording(t, events)
	if !bytes.HasPrefix(file, []byte(`{"format":"ehlo-recording","version":2,`)) {
		t.Errorf("header %s", bytes.SplitN(file, []byte("\n"), 2)[0])
	}
	checkFastMatchesJSON(t, file, MaxLineBytes)
	rec, err := Read(bytes.NewReader(file))
	if err != nil || len(rec.Problems) > 0 {
		t.Fatalf("read: %v %v", err, rec.Problems)
	}
	if !reflect.DeepEqual(rec.Events, events) {
		t.Errorf("events:\n got %+v\nwant %+v", rec.Events[0].Start, start)
	}

	var out bytes.Buffer
	tr := NewTranscript(&out, TranscriptOptions{})
	for _, e := range rec.Events {
		tr.Event(e)
	}
	want := "=== recording begins mid-session (the session began 2026-11-25 22:40:38 UTC): connected to 127.0.0.1:2525, hello, TLS TLSv1.3\n ~> NOOP\n<~  250 ok\n"
	if got := out.String(); !strings.HasPrefix(got, want) {
		t.Errorf("transcript:\n%s\nwant it to start\n%s", got, want)
	}
}

// A damaged snapshot is reported and skipped or mended like any event.
func TestSnapshotHostile(t *testing.T) {
	head := `{"format":"ehlo-recording","version":2,"created":"2026-11-25T22:50:00Z"}` + "\n"
	for _, tc := range []struct{ line, problem string }{
		{`{"offset_us":0,"kind":"snapshot"}`, `snapshot event without "snapshot"`},
		{`{"offset_us":0,"kind":"snapshot","snapshot":{"connected":true,"state":{"phase":"warp"}}}`, `unknown phase "warp"`},
		{`{"offset_us":0,"kind":"snapshot","snapshot":{"connected":true,"mode":"\u001b[2J"}}`, `unknown snapshot mode "\x1b[2J", taken as command`},
		{`{"offset_us":0,"kind":"snapshot","snapshot":{"connected":"yes"}}`, `invalid JSON`},
	} {
		rec, err := Read(strings.NewReader(head + tc.line + "\n"))
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		if len(rec.Problems) != 1 || !strings.Contains(rec.Problems[0].Msg, tc.problem) {
			t.Errorf("%s: problems %v, want %q", tc.line, rec.Problems, tc.problem)
		}
		checkFastMatchesJSON(t, []byte(head+tc.line+"\n"), MaxLineBytes)
	}
}

// Version-1 files still read: the samples shipped in recordings/ are all
// version 1, and load without a problem.
func TestVersion1StillReads(t *testing.T) {
	files, err := filepath.Glob("../recordings/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte(`{"format":"ehlo-recording","version":1,`)) {
			continue
		}
		rec, err := Read(bytes.NewReader(data))
		if err != nil || len(rec.Problems) > 0 || rec.Header.Version != 1 || len(rec.Events) == 0 {
			t.Errorf("%s: %v %v version %d", f, err, rec.Problems, rec.Header.Version)
		}
	}
}

// The export's summary reads the TLS state from the snapshot, and the fake
// server refuses a recording whose only connection began before it, which
// no client could reach (no greeting, no STARTTLS).
func TestSnapshotExportAndServe(t *testing.T) {
	rec := &Recording{Header: Header{Format: FormatName, Version: FormatVersion, Server: "127.0.0.1:2525", Transport: "smtp", Network: "tcp"},
		Events: []session.Event{
			{Kind: session.KindSnapshot, Start: sampleStart(t)},
			{Offset: time.Millisecond, Kind: session.KindClient, Data: []byte("NOOP\r\n"), TLS: true},
			{Offset: 2 * time.Millisecond, Kind: session.KindServer, Data: []byte("250 ok\r\n"), TLS: true},
			{Offset: 3 * time.Millisecond, Kind: session.KindClose},
		}}
	if s := Summarize(rec); !strings.Contains(s.TLS, "TLS begun before the recording, TLSv1.3") {
		t.Errorf("summary TLS %q", s.TLS)
	}
	var b nopScript
	err := ServeScript(rec, &b)
	if err == nil || !strings.Contains(err.Error(), "begins mid-session") || b.connections != 0 {
		t.Errorf("ServeScript: %v, %d connections", err, b.connections)
	}
}

// nopScript is a ScriptBuilder that counts the connections it is given.
type nopScript struct{ connections int }

func (n *nopScript) Connection([]byte, bool)             { n.connections++ }
func (n *nopScript) Command(int, string, []byte, string) {}
func (n *nopScript) AuthResponse(int, []byte, string)    {}
func (n *nopScript) Body(int, []byte, string)            {}

// A recording begun inside a message reads its lines as the message's,
// as session's Follower does: the summary says the message was accepted,
// rather than taking each body line for a command (the script builder
// followed the client's bytes with a flow of its own, which did not
// resume from the snapshot).
func TestSnapshotInsideDataSummary(t *testing.T) {
	start := sampleStart(t)
	start.Mode = "data"
	rec := &Recording{Header: Header{Server: "mx.test:25", Transport: "smtp", Network: "tcp"}, Events: []session.Event{
		{Kind: session.KindSnapshot, Start: start},
		{Kind: session.KindClient, Data: []byte("Subject: hi\r\n\r\nQUIT\r\n.\r\n"), TLS: true},
		{Kind: session.KindServer, Data: []byte("250 2.0.0 queued\r\n"), TLS: true},
		{Kind: session.KindClose},
	}}
	if got, want := Summarize(rec).Outcome, "message accepted: 250 2.0.0 queued"; got != want {
		t.Errorf("outcome %q, want %q", got, want)
	}
}

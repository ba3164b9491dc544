package recordings

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// The recording format, described in docs/recording-format.md. The version
// changes only when a reader of the old version would misread a new file;
// new optional fields do not change it. Version 2 added the snapshot that
// opens a recording begun mid-session, whose Created is then when the
// recording began, not the session: a version-1 reader would replay such a
// file from nothing. Version 1 files still read (MinFormatVersion).
const (
	FormatName       = "ehlo-recording"
	FormatVersion    = 2
	MinFormatVersion = 1
)

// Header is the first line of a recording.
type Header struct {
	Format  string `json:"format"`  // always FormatName; set by the writer
	Version int    `json:"version"` // always FormatVersion; set by the writer
	// Created is when the recording started (in version 1, the session):
	// event offsets count from it.
	Created     time.Time `json:"created"`
	Server      string    `json:"server"`    // as the user gave it: host, host:port or a socket path
	Transport   string    `json:"transport"` // "smtp", "smtps" (implicit TLS) or "lmtp"
	Network     string    `json:"network"`   // "tcp" or "unix"
	EhloVersion string    `json:"ehlo"`      // the ehlo version that wrote the file
	// Secrets says credentials were kept (--record-secrets): replay and
	// export must warn before showing the file.
	Secrets bool `json:"secrets"`
	// Insecure says certificates were not verified (--insecure).
	Insecure bool `json:"insecure"`
}

// Recorder writes a recording as the session runs: one Write per event,
// nothing held in a buffer, so a crash loses at most the event in flight.
// It is a Sink. A write error (a full disk) stops the recording for good;
// Err reports it and the session goes on (security-anchors §4.3 rule 10).
//
// A Recorder is safe for concurrent use, so that a signal handler can Close
// it while events arrive.
type Recorder struct {
	mu       sync.Mutex
	w        io.Writer
	h        Header
	now      func() time.Time
	err      error
	closed   bool
	lastKind session.Kind
	last     time.Duration

	f        *os.File
	tmp, dst string // with Force: the file written, and where Close puts it
}

var _ session.Sink = (*Recorder)(nil)

// NewRecorder writes h to w and returns a Recorder that appends events to
// it. Format and Version are filled in, and a zero Created becomes now.
// Closing the Recorder does not close w.
func NewRecorder(w io.Writer, h Header) (*Recorder, error) {
	r := &Recorder{w: w, now: time.Now}
	h.Format, h.Version = FormatName, FormatVersion
	if h.Created.IsZero() {
		h.Created = r.now()
	}
	h.Created = h.Created.UTC()
	r.h = h
	line, err := marshalLine(h)
	if err == nil {
		err = r.writeLine(line)
	}
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	return r, nil
}

// CreateOption changes how Create opens the file.
type CreateOption func(*createOptions)

type createOptions struct{ force bool }

// Force lets Create replace an existing file (--force). The recording is
// written to a temporary file in the same directory and renamed over the
// path by Close, which replaces a symlink rather than writing through it.
// If the process dies before Close, the path is untouched and the events so
// far are in the temporary file (.NAME.*.tmp).
func Force() CreateOption { return func(o *createOptions) { o.force = true } }

// Create starts a recording in a new file of mode 0600 (whatever the
// umask), refusing a path that exists, a symlink included: it opens with
// O_CREATE|O_EXCL, so nothing can make it write over another file
// (security-anchors §4.3 rule 7, case I2).
func Create(path string, h Header, opts ...CreateOption) (*Recorder, error) {
	var o createOptions
	for _, opt := range opts {
		opt(&o)
	}
	var f *os.File
	var err error
	if o.force {
		if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
			return nil, &os.PathError{Op: "create", Path: path, Err: errors.New("is a directory")}
		}
		f, err = os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	} else {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Recorder, error) {
		f.Close()
		os.Remove(f.Name()) // ours: O_EXCL created it
		return nil, err
	}
	// The umask can only remove bits, but one that removes the owner's
	// would leave a file its owner cannot rewrite; be exact.
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	r, err := NewRecorder(f, h)
	if err != nil {
		return fail(err)
	}
	r.f = f
	if o.force {
		r.tmp, r.dst = f.Name(), path
	}
	return r, nil
}

// Header returns the header as written.
func (r *Recorder) Header() Header { return r.h }

// KeepsSecrets tells a Capture to hand this Recorder events as sent, without
// redaction, when its header says secrets: true.
func (r *Recorder) KeepsSecrets() bool { return r.h.Secrets }

// Event appends e. After a write error or Close it does nothing.
func (r *Recorder) Event(e session.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.write(e)
}

func (r *Recorder) write(e session.Event) {
	if r.err != nil || r.closed {
		return
	}
	line, err := marshalLine(toJSON(e))
	if err == nil {
		err = r.writeLine(line)
	}
	if err != nil {
		r.err = fmt.Errorf("recording stopped: %w", err)
		return
	}
	r.lastKind, r.last = e.Kind, max(r.last, e.Offset)
}

func (r *Recorder) writeLine(line []byte) error {
	n, err := r.w.Write(line)
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	return err
}

// Err returns why the recording stopped, or nil.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close ends the recording with a close event (unless the last event was
// one), syncs and closes the file, and with Force renames it into place. It
// returns the error that stopped the recording, if any.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("recording already closed")
	}
	if r.lastKind != session.KindClose {
		r.write(session.Event{Kind: session.KindClose, Offset: max(r.last, r.now().Sub(r.h.Created)), Text: "end of recording"})
	}
	r.closed = true
	err := r.err
	if r.f == nil {
		return err
	}
	// A crash loses at most an event; power loss could lose more without
	// this sync (security-anchors §4.3 rule 8).
	if e := r.f.Sync(); e != nil && err == nil {
		err = e
	}
	if e := r.f.Close(); e != nil && err == nil {
		err = e
	}
	if r.tmp != "" {
		if e := os.Rename(r.tmp, r.dst); e != nil {
			os.Remove(r.tmp)
			if err == nil {
				err = e
			}
		} else if d, e := os.Open(filepath.Dir(r.dst)); e == nil {
			d.Sync()
			d.Close()
		}
	}
	return err
}

// eventJSON is one event line. Data is either "data" (valid UTF-8 free of
// C1 controls) or "b64" (anything else), never both, so that a replay is
// byte-exact.
type eventJSON struct {
	Offset    json.Number         `json:"offset_us"`
	Kind      string              `json:"kind"`
	Data      *string             `json:"data,omitempty"`
	B64       *string             `json:"b64,omitempty"`
	TLS       bool                `json:"tls,omitempty"`
	Redacted  bool                `json:"redacted,omitempty"`
	Secrets   [][2]int            `json:"secrets,omitempty"`
	Network   string              `json:"network,omitempty"`
	Addr      string              `json:"addr,omitempty"`
	Handshake *session.TLSSummary `json:"handshake,omitempty"`
	State     *stateJSON          `json:"state,omitempty"`
	Text      string              `json:"text,omitempty"`
	// Start is last: the reader's fast path (reader_fast.go) knows the
	// fields above in this order and declines a snapshot line.
	Start *startJSON `json:"snapshot,omitempty"`
}

// startJSON is a StartState, as docs/recording-format.md describes it.
type startJSON struct {
	SessionStart    time.Time           `json:"session_start"`
	Connected       bool                `json:"connected"`
	Network         string              `json:"network,omitempty"`
	Addr            string              `json:"addr,omitempty"`
	ConnectionStart *time.Time          `json:"connection_start,omitempty"`
	State           *stateJSON          `json:"state,omitempty"`
	Handshake       *session.TLSSummary `json:"handshake,omitempty"`
	Extensions      []extJSON           `json:"extensions,omitempty"`
	ExtensionsStale bool                `json:"extensions_stale,omitempty"`
	Mode            string              `json:"mode,omitempty"`
}

type extJSON struct {
	Keyword string `json:"keyword"`
	Params  string `json:"params,omitempty"`
}

func toStartJSON(s *session.StartState) *startJSON {
	j := &startJSON{
		SessionStart: s.SessionStart.UTC(), Connected: s.Connected, Network: s.Network, Addr: s.Addr,
		Handshake: s.Handshake, ExtensionsStale: s.ExtensionsStale, Mode: s.Mode,
	}
	if !s.ConnectionStart.IsZero() {
		t := s.ConnectionStart.UTC()
		j.ConnectionStart = &t
	}
	if s.Connected {
		j.State = toStateJSON(s.State)
	}
	for _, e := range s.Extensions {
		j.Extensions = append(j.Extensions, extJSON{e.Keyword, e.Params})
	}
	return j
}

// startState reads a snapshot back; warnings are what was mended.
func (j *startJSON) startState() (s *session.StartState, warnings []string, err error) {
	s = &session.StartState{
		SessionStart: j.SessionStart, Connected: j.Connected, Network: j.Network, Addr: j.Addr,
		Handshake: j.Handshake, ExtensionsStale: j.ExtensionsStale, Mode: j.Mode,
	}
	if j.ConnectionStart != nil {
		s.ConnectionStart = *j.ConnectionStart
	}
	if j.State != nil {
		if s.State, err = j.State.state(); err != nil {
			return nil, nil, err
		}
	}
	switch s.Mode {
	case "command", "auth", "data":
	case "":
		s.Mode = "command"
	default:
		warnings = append(warnings, fmt.Sprintf("unknown snapshot mode %s, taken as command", shortQuote(s.Mode)))
		s.Mode = "command"
	}
	for _, e := range j.Extensions {
		s.Extensions = append(s.Extensions, protocol.Extension{Keyword: e.Keyword, Params: e.Params})
	}
	return s, warnings, nil
}

func toStateJSON(st protocol.State) *stateJSON {
	return &stateJSON{
		Phase:         phaseName(st.Phase),
		TLS:           st.TLS,
		Authenticated: st.Authenticated,
		Recipients:    st.Recipients,
	}
}

func (j *stateJSON) state() (protocol.State, error) {
	p, ok := parsePhase(j.Phase)
	if !ok {
		return protocol.State{}, fmt.Errorf("unknown phase %s", shortQuote(j.Phase))
	}
	return protocol.State{Phase: p, TLS: j.TLS, Authenticated: j.Authenticated, Recipients: max(0, j.Recipients)}, nil
}

type stateJSON struct {
	Phase         string `json:"phase"`
	TLS           bool   `json:"tls"`
	Authenticated bool   `json:"auth"`
	Recipients    int    `json:"rcpts"`
}

func toJSON(e session.Event) eventJSON {
	j := eventJSON{
		Offset:   json.Number(strconv.FormatInt(max(0, e.Offset.Microseconds()), 10)),
		Kind:     e.Kind.String(),
		TLS:      e.TLS,
		Redacted: e.Redacted,
		Network:  e.Network,
		Addr:     e.Addr,
		Text:     e.Text,
	}
	switch e.Kind {
	case session.KindClient, session.KindServer:
		if textSafe(e.Data) {
			s := string(e.Data)
			j.Data = &s
		} else {
			s := base64.StdEncoding.EncodeToString(e.Data)
			j.B64 = &s
		}
		for _, s := range e.Secrets {
			j.Secrets = append(j.Secrets, [2]int{s.Start, s.End})
		}
	case session.KindTLS:
		j.Handshake = e.Handshake
	case session.KindState:
		j.State = toStateJSON(e.State)
	case session.KindSnapshot:
		if e.Start != nil {
			j.Start = toStartJSON(e.Start)
		}
	}
	return j
}

// textSafe says data can be stored as a JSON string and read back exactly.
// C1 controls are valid UTF-8 but go to base64 too: JSON escapes C0 and the
// line separators, not C1, and a recording pasted to a terminal should not
// carry a raw CSI (U+009B).
func textSafe(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for i := 0; i+1 < len(data); i++ {
		if data[i] == 0xc2 && data[i+1] >= 0x80 && data[i+1] <= 0x9f {
			return false
		}
	}
	return true
}

// phaseName guards protocol.Phase.String, which indexes an array.
func phaseName(p protocol.Phase) string {
	if p < protocol.PhaseDisconnected || p > protocol.PhaseData {
		return "phase(" + strconv.Itoa(int(p)) + ")"
	}
	return p.String()
}

func parsePhase(s string) (protocol.Phase, bool) {
	for p := protocol.PhaseDisconnected; p <= protocol.PhaseData; p++ {
		if p.String() == s {
			return p, true
		}
	}
	return 0, false
}

// marshalLine encodes v as one line. HTML escaping is off: a recording is
// read by people and ehlo, not embedded in a page.
func marshalLine(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// lmtp says the recording is of an LMTP conversation, whose end of a
// message is answered once per recipient.
func (h Header) lmtp() bool { return strings.EqualFold(h.Transport, "lmtp") }

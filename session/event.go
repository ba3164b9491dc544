package session

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Kind says what an Event reports. Its String form is the "kind" field of a
// recording, so the names are part of the file format.
type Kind uint8

const (
	KindConnect Kind = iota + 1 // about to dial: Network and Addr
	KindClient                  // bytes the client wrote: Data
	KindServer                  // one reply line as received: Data
	KindTLS                     // a finished (or failed) TLS handshake: Handshake
	KindState                   // a move in the SMTP state machine: State
	KindNote                    // something the user should see: Text
	KindClose                   // the connection (or the recording) ended
	// KindSnapshot opens a recording begun in the middle of a session:
	// Start is the state the session was in.
	KindSnapshot
)

var kindNames = [...]string{
	KindConnect:  "connect",
	KindClient:   "client",
	KindServer:   "server",
	KindTLS:      "tls",
	KindState:    "state",
	KindNote:     "note",
	KindClose:    "close",
	KindSnapshot: "snapshot",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind is the Kind whose String form is s, as a recording's "kind"
// field names it.
func ParseKind(s string) (Kind, bool) {
	for k, name := range kindNames {
		if name != "" && name == s {
			return Kind(k), true
		}
	}
	return 0, false
}

// Event is one timestamped thing that happened in a conversation, as the
// session keeps it: unlike a protocol.Event it owns its bytes, holds no live
// TLS state, and is what every sink, every recording and every replay sees.
// Sinks share one Event between them and must treat Data as read-only.
type Event struct {
	// Offset is the time since the session started (Capture.Start, or the
	// Created time of a recording).
	Offset time.Duration
	Kind   Kind

	// Data is the exact bytes, for KindClient and KindServer, after
	// redaction unless the sink keeps secrets.
	Data []byte
	// TLS says the bytes went through TLS (the swaks markers ~> and <~).
	TLS bool
	// Redacted says Data or Text is not what went over the wire: a secret
	// was replaced by a marker.
	Redacted bool
	// Secrets marks the credentials in Data: the ranges protocol marked
	// and those the redaction rules found (see Redaction). It is set only
	// on events for a sink that keeps secrets (--record-secrets), so that
	// a later export can still hide them; redacted events never carry it.
	Secrets []protocol.Span

	Network, Addr string // KindConnect

	Handshake *TLSSummary // KindTLS

	State protocol.State // KindState

	// Text is the message of a KindNote, or why a KindClose happened.
	Text string

	Start *StartState // KindSnapshot

	// Parts is what session read in Data, for a KindClient or KindServer
	// event a Follower has seen (a Capture's sinks get every event so
	// annotated; a recording read from a file is not, until it goes
	// through a Follower). They cover Data in order, each starting where
	// the one before it ended. It is not part of the recording format.
	Parts []Part
}

// Part is one piece of a client send or one line of a server reply, with
// what session knows of it, so that nothing above session parses SMTP
// again (issue 11 item 2).
type Part struct {
	// End is where the part ends in Data, line ending included.
	End int
	// Verb names, for a command line, its verb in upper case as the
	// server splits it (protocol.SplitCommand), or "AUTH" for an answer
	// to an AUTH challenge; for message content "DATA" or "BDAT", and
	// VerbMessageEnd for the "." ending DATA; for a reply line the
	// command it answers, VerbGreeting, or "" when it answers none that
	// is outstanding (unsolicited). Empty too for a command line that
	// goes on in the next send, or is too long to read.
	Verb string
	// Payload says the bytes are message content (after DATA's 354, or
	// the n bytes after BDAT n), not a command; the "." ending DATA is
	// payload too.
	Payload bool
	// Complete says the part ends a line (or a BDAT chunk); false for
	// the start of a line that goes on in the next send.
	Complete bool
	// Last says the part ends a message: the "." after DATA, or the
	// last byte of a BDAT chunk; on a BDAT command line, that it is
	// BDAT … LAST (its chunk ends the message).
	Last bool
	// Cont says the part continues a line begun in an earlier send (the
	// part before it was not Complete).
	Cont bool
	// Answer says a client line answers an AUTH challenge (a 334): it
	// carries credentials, or the marker that replaced them, not a
	// command; its Verb is "AUTH".
	Answer bool
	// More says a reply line is not its reply's last ("250-…"): more
	// lines of the same reply follow.
	More bool
}

// Segments yields each of e's Parts with where it starts in Data (where
// the one before it ended), in order. It stops at a part that does not
// fit Data, as Parts set by hand might not.
func (e *Event) Segments() iter.Seq2[int, Part] {
	return func(yield func(int, Part) bool) {
		start := 0
		for _, p := range e.Parts {
			if p.End < start || p.End > len(e.Data) || !yield(start, p) {
				return
			}
			start = p.End
		}
	}
}

// The verbs of Part.Verb that are not commands; lower case, so that no
// command (upper-cased) can be taken for one.
const (
	VerbGreeting   = "greeting"    // the server's first reply
	VerbMessageEnd = "message end" // the "." after DATA, a BDAT chunk's end, and their replies
)

// StartState is the state of a session when a recording of it began, for a
// recording begun mid-session (/record): without it a replay would start
// from nothing, showing a TLS session as disconnected and in clear text.
// Only the first event of a recording carries one.
type StartState struct {
	// SessionStart is when the session began. The recording's offsets
	// count from its own start (Header.Created), which is later.
	SessionStart time.Time
	// Connected says a connection was open; Network and Addr are the
	// last connection's, as its KindConnect gave them, and ConnectionStart
	// is when it was attempted.
	Connected       bool
	Network, Addr   string
	ConnectionStart time.Time
	State           protocol.State
	// Handshake is the connection's TLS handshake, nil in clear text.
	Handshake *TLSSummary
	// Extensions are those of the last EHLO; ExtensionsStale says a TLS
	// upgrade came after it (RFC 3207 §4.2).
	Extensions      []protocol.Extension
	ExtensionsStale bool
	// Mode is what the client was doing: "command", or "auth" inside an
	// AUTH exchange (the next client lines answer challenges), or "data"
	// inside a message (the next client lines are its text).
	Mode string
}

// Summary describes s in one line of plain text, unsanitized, for a
// transcript or a wire log.
func (s *StartState) Summary() string {
	var b strings.Builder
	b.WriteString("recording begins mid-session")
	if !s.SessionStart.IsZero() {
		b.WriteString(" (the session began " + s.SessionStart.UTC().Format("2006-01-02 15:04:05 UTC") + ")")
	}
	if !s.Connected {
		b.WriteString(": not connected")
		return b.String()
	}
	b.WriteString(": connected to " + s.Addr + ", " + s.State.Phase.String())
	if s.Handshake != nil && s.Handshake.Complete {
		b.WriteString(", TLS " + s.Handshake.Version)
	} else {
		b.WriteString(", not encrypted")
	}
	if s.State.Authenticated {
		b.WriteString(", authenticated")
	}
	if s.State.Recipients > 0 {
		b.WriteString(", " + strconv.Itoa(s.State.Recipients) + " recipient(s)")
	}
	switch s.Mode {
	case "auth":
		b.WriteString(", inside an AUTH exchange")
	case "data":
		b.WriteString(", inside a message (DATA)")
	}
	return b.String()
}

// resume puts a flow where s says the client is, so that the lines of a
// message begun before the recording are still taken for message text.
func (f *flow) resume(s *StartState) {
	*f = flow{inData: s != nil && s.Mode == "data"}
}

// TLSSummary is what a TLS handshake showed, kept as plain values so that it
// can be recorded and shown long after the connection is gone.
type TLSSummary struct {
	Version string `json:"version,omitempty"` // "TLSv1.3", as swaks writes it
	Cipher  string `json:"cipher,omitempty"`  // "TLS_AES_128_GCM_SHA256"
	// Weak says why the version or cipher is weak ("CBC with SHA-1"); empty
	// when it is not.
	Weak       string `json:"weak,omitempty"`
	ServerName string `json:"server_name,omitempty"`
	// Complete says the handshake finished.
	Complete bool `json:"complete"`
	// Verified says the peer's chain was verified and nothing failed. It is
	// false with --insecure (nothing verified) and whenever Error is set.
	Verified bool `json:"verified"`
	// Error is why the handshake or the verification failed.
	Error string `json:"error,omitempty"`
	// Chain is the peer's certificates as sent, leaf first.
	Chain []Certificate `json:"chain,omitempty"`
	// Pinned says the leaf was trusted because it is the very certificate
	// the user accepted for this session after seeing its fingerprint
	// (Live.TrustCertificate), not through a certificate authority;
	// Verified is then true too.
	Pinned bool `json:"pinned,omitempty"`
}

// Certificate is what a user debugging TLS needs to see of one certificate.
type Certificate struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	SANs      []string  `json:"sans,omitempty"` // DNS names, IP addresses, e-mail addresses, URIs
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"` // of the DER encoding, lower-case hex
	// KeyType and KeyBits are the public key's algorithm and size ("RSA"
	// 2048, "ECDSA" 256, "Ed25519" 256); SPKISHA256 is the SHA-256 of the
	// key (SubjectPublicKeyInfo), what a DANE "3 1 1" record holds.
	KeyType    string `json:"key_type,omitempty"`
	KeyBits    int    `json:"key_bits,omitempty"`
	SPKISHA256 string `json:"spki_sha256,omitempty"`
}

func summarizeTLS(cs *tls.ConnectionState, err error) *TLSSummary {
	s := &TLSSummary{}
	if err != nil {
		s.Error = err.Error()
	}
	if cs == nil {
		return s
	}
	if cs.Version != 0 {
		s.Version = protocol.TLSVersionName(cs.Version)
	}
	if cs.CipherSuite != 0 {
		s.Cipher = tls.CipherSuiteName(cs.CipherSuite)
	}
	s.ServerName = cs.ServerName
	s.Complete = cs.HandshakeComplete
	if s.Complete {
		s.Weak = weakTLS(s.Version, s.Cipher)
	}
	s.Verified = err == nil && len(cs.VerifiedChains) > 0
	for _, c := range cs.PeerCertificates {
		s.Chain = append(s.Chain, summarizeCert(c))
	}
	return s
}

func summarizeCert(c *x509.Certificate) Certificate {
	sum := sha256.Sum256(c.Raw)
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	out := Certificate{
		Subject:    c.Subject.String(),
		Issuer:     c.Issuer.String(),
		NotBefore:  c.NotBefore.UTC(),
		NotAfter:   c.NotAfter.UTC(),
		SHA256:     hex.EncodeToString(sum[:]),
		SPKISHA256: hex.EncodeToString(spki[:]),
	}
	out.KeyType, out.KeyBits = keyInfo(c)
	out.SANs = append(out.SANs, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out.SANs = append(out.SANs, ip.String())
	}
	out.SANs = append(out.SANs, c.EmailAddresses...)
	for _, u := range c.URIs {
		out.SANs = append(out.SANs, u.String())
	}
	return out
}

// Sink receives events in wire order. Event is called with the Capture's
// lock held, so it must not block for long and must not call back into the
// Capture.
type Sink interface {
	Event(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Event calls f(e).
func (f SinkFunc) Event(e Event) { f(e) }

// A sink that can fail (a Recorder, a Transcript) reports it through Err; the
// Capture then stops feeding it and tells the other sinks, so that a full
// disk is a loud note rather than a dead session (security-anchors §4.3 rule
// 10).
type failingSink interface {
	Err() error
}

// A sink that keeps secrets gets events as they went over the wire. Only a
// Recorder whose header says secrets: true is one, so the header can never
// claim a redacted file holds secrets, or the reverse.
type secretKeeper interface {
	KeepsSecrets() bool
}

// Capture turns protocol tracer callbacks into Events and hands them to its
// sinks. It is the one place where redaction happens, before any sink sees
// anything (security-anchors §4.3 rule 2): the wire log, the transcript, the
// recording and the exports all read from here.
//
// Capture is safe for concurrent use; events are delivered one at a time in
// the order they arrived.
type Capture struct {
	mu    sync.Mutex
	start time.Time
	now   func() time.Time
	last  time.Duration
	red   redactor
	// follow annotates every event delivered (Event.Parts); before is
	// where it stood before the last client or server event.
	follow, before *Follower
	sinks          []*sinkEntry
}

type sinkEntry struct {
	s    Sink
	raw  bool
	base time.Duration // subtracted from offsets: the sink began then
}

// NewCapture returns a Capture whose offsets count from start (the zero time
// means now) and which redacts as r says.
func NewCapture(start time.Time, r Redaction) *Capture {
	c := &Capture{start: start, now: time.Now, red: redactor{Redaction: r}, follow: NewFollower(false)}
	if c.start.IsZero() {
		c.start = c.now()
	}
	return c
}

// Start is the time offsets count from; a recording's Header.Created should
// be this.
func (c *Capture) Start() time.Time { return c.start }

// Add makes s receive every later event, and returns a function that stops
// it. s gets redacted events unless it keeps secrets (a Recorder created
// with Header.Secrets, for --record-secrets).
func (c *Capture) Add(s Sink) (remove func()) { return c.AddFrom(s, c.start, nil) }

// AddFrom is Add for a sink that begins in the middle of the session, such
// as a recording started with /record: its offsets count from origin
// rather than from Start, and it first gets the events first returns, at
// offset 0. first runs with the Capture's lock held, so no event can come
// between the state it describes and the first event s gets; it must not
// call back into the Capture.
func (c *Capture) AddFrom(s Sink, origin time.Time, first func() []Event) (remove func()) {
	e := &sinkEntry{s: s, base: max(0, origin.Sub(c.start))}
	if k, ok := s.(secretKeeper); ok && k.KeepsSecrets() {
		e.raw = true
	}
	c.mu.Lock()
	if first != nil {
		for _, ev := range first() {
			ev.Offset = 0
			s.Event(ev)
		}
	}
	c.sinks = append(c.sinks, e)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.drop(e)
	}
}

func (c *Capture) drop(e *sinkEntry) {
	for i, x := range c.sinks {
		if x == e {
			c.sinks = append(c.sinks[:i:i], c.sinks[i+1:]...)
			return
		}
	}
}

var _ protocol.Tracer = (*Capture)(nil)

// Trace implements protocol.Tracer.
func (c *Capture) Trace(pe protocol.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	raw := convert(pe)
	raw.Offset = c.offset(pe.Time)
	c.deliver(raw)
}

// Note reports something the session noticed (a recording that stopped, an
// error after a call) to every sink, as a KindNote event.
func (c *Capture) Note(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deliver(Event{Kind: KindNote, Text: text, Offset: c.offset(time.Time{})})
}

// offset keeps offsets non-decreasing, so that a replay never waits a
// negative time even if the protocol's clock and ours disagree.
func (c *Capture) offset(t time.Time) time.Duration {
	if t.IsZero() {
		t = c.now()
	}
	d := t.Sub(c.start)
	if d < c.last {
		d = c.last
	}
	c.last = d
	return d
}

func (c *Capture) deliver(raw Event) {
	red := c.annotate(&raw)
	var failed []error
	// drop builds a new slice, so this range is not disturbed by it.
	for _, e := range c.sinks {
		ev := red
		if e.raw {
			ev = raw
		}
		if e.base > 0 {
			ev.Offset = max(0, ev.Offset-e.base)
		}
		e.s.Event(ev)
		if f, ok := e.s.(failingSink); ok {
			if err := f.Err(); err != nil {
				c.drop(e)
				failed = append(failed, err)
			}
		}
	}
	for _, err := range failed {
		c.deliver(Event{Kind: KindNote, Text: err.Error(), Offset: raw.Offset})
	}
}

// annotate follows the conversation once for both streams, and returns
// the redacted copy of raw: the raw events a sink keeping secrets gets
// and the redacted ones the others get. The redactor reads what was sent
// as the Follower read it. Redaction keeps verbs and reply codes but not
// lengths, so where it changed the bytes the redacted event is annotated
// from the same point.
func (c *Capture) annotate(raw *Event) Event {
	if c.follow == nil { // a Capture not made by NewCapture
		c.follow = NewFollower(false)
	}
	data := raw.Kind == KindClient || raw.Kind == KindServer
	if data {
		if c.before == nil {
			c.before = &Follower{}
		}
		c.follow.copyTo(c.before)
	}
	c.follow.Annotate(raw) // the Follower goes on from what was sent
	red := c.red.apply(raw)
	if data && red.Redacted {
		red.Parts = nil
		c.before.Annotate(&red)
	}
	return red
}

// convert copies a protocol.Event, whose Data is only valid during the
// Trace call.
func convert(pe protocol.Event) Event {
	switch pe.Kind {
	case protocol.EventConnect:
		return Event{Kind: KindConnect, Network: pe.Network, Addr: pe.Addr}
	case protocol.EventSend:
		data := bytes.Clone(pe.Data)
		if data == nil {
			data = []byte{}
		}
		return Event{Kind: KindClient, Data: data, TLS: pe.TLS, Secrets: cleanSpans(pe.Secrets, len(data))}
	case protocol.EventRecv:
		data := bytes.Clone(pe.Data)
		if data == nil {
			data = []byte{}
		}
		return Event{Kind: KindServer, Data: data, TLS: pe.TLS}
	case protocol.EventTLS:
		return Event{Kind: KindTLS, Handshake: summarizeTLS(pe.TLSState, pe.TLSErr)}
	case protocol.EventState:
		return Event{Kind: KindState, State: pe.State}
	case protocol.EventNote:
		return Event{Kind: KindNote, Text: pe.Text}
	case protocol.EventClose:
		return Event{Kind: KindClose}
	}
	return Event{Kind: KindNote, Text: "unknown protocol event " + pe.Kind.String()}
}

// cleanSpans clamps spans to [0, n), drops empty ones, sorts and merges
// them: a protocol bug must widen redaction or be ignored, never panic.
func cleanSpans(spans []protocol.Span, n int) []protocol.Span {
	var out []protocol.Span
	for _, s := range spans {
		s.Start = max(0, min(s.Start, n))
		s.End = max(0, min(s.End, n))
		if s.Start < s.End {
			out = append(out, s)
		}
	}
	return mergeSpans(out)
}

func mergeSpans(spans []protocol.Span) []protocol.Span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(x, y protocol.Span) int { return x.Start - y.Start })
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.Start <= last.End {
			last.End = max(last.End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

// flow follows the client's side of the conversation just far enough to
// tell command lines from message content: after DATA is answered 354, the
// lines up to "." are content, and after BDAT n the next n bytes are. Both
// the redactor (which must not take a body line "AUTH PLAIN x" for a
// command) and the transcript (which elides long bodies) need that, from
// live events and from recordings alike.
//
// It reads client bytes as they were sent, which may split a line across
// sends (DATA is streamed in chunks); it keeps the start of the current line
// to parse it when it completes.
type flow struct {
	dataPending bool  // DATA sent; a 354 starts the content
	inData      bool  // DATA content, up to the line "."
	bdatLeft    int64 // BDAT content bytes still to come
	lineLen     int   // bytes of the current line already seen in earlier sends
	cur         []byte
}

// MaxCommandLine bounds what flow keeps of a line split across sends: the
// verb of a longer line is not read (Part.Verb is empty). RFC 5321 allows
// 512 bytes for a command; a longer one is never DATA or BDAT.
const MaxCommandLine = 4096

// piece is one line, or the part of one line, within a client send.
type piece struct {
	start, end int    // in the send's Data, line ending included
	line       []byte // the whole line if complete and short enough, else nil
	payload    bool   // message content, not a command
	complete   bool   // the line (or the BDAT chunk) ends here
	cont       bool   // continues a line begun in an earlier send
	last       bool   // payload: the "." ending DATA, or the end of a BDAT chunk
	bdat       bool   // payload of a BDAT chunk
	verb       string // a complete command line's verb (commandVerb); "" if too long to keep
}

// resetAtTLS forgets the bytes a new TLS layer makes void: a line begun
// or a message under way in clear text does not go on inside TLS (RFC
// 3207 §4.2).
func (f *flow) resetAtTLS() { *f = flow{cur: f.cur[:0]} }

func (f *flow) client(data []byte, fn func(piece)) {
	for i := 0; i < len(data); {
		limit := len(data)
		bdat := f.bdatLeft > 0
		if bdat {
			limit = i + int(min(int64(len(data)-i), f.bdatLeft))
		}
		end, complete := limit, false
		if k := bytes.IndexByte(data[i:limit], '\n'); k >= 0 {
			end, complete = i+k+1, true
		}
		seg := data[i:end]
		p := piece{start: i, end: end, payload: bdat || f.inData, cont: f.lineLen > 0, bdat: bdat}
		if bdat {
			f.bdatLeft -= int64(len(seg))
			if f.bdatLeft == 0 {
				complete, p.last = true, true
			}
		}
		p.complete = complete
		if complete {
			p.line = f.assemble(seg)
			if !bdat {
				f.lineDone(p.line, &p)
			}
			f.lineLen, f.cur = 0, f.cur[:0]
		} else {
			if f.lineLen+len(seg) <= MaxCommandLine {
				f.cur = append(f.cur, seg...)
			}
			f.lineLen += len(seg)
		}
		fn(p)
		i = end
	}
}

// assemble returns the whole line ending in seg, or nil if it was too long
// to keep.
func (f *flow) assemble(seg []byte) []byte {
	if f.lineLen == 0 {
		return seg
	}
	if f.lineLen+len(seg) > MaxCommandLine {
		return nil
	}
	return append(f.cur, seg...)
}

func (f *flow) lineDone(line []byte, p *piece) {
	if f.inData {
		if string(line) == ".\r\n" || string(line) == ".\n" { // compared in place
			f.inData, p.last = false, true
		}
		return
	}
	p.verb = commandVerb(line)
	switch p.verb {
	case "DATA":
		_, arg := SplitCommand(line)
		f.dataPending = arg == ""
	case "BDAT":
		f.dataPending = false
		_, arg := SplitCommand(line)
		size, rest := protocol.SplitCommand(arg)
		if n, err := strconv.ParseInt(size, 10, 64); err == nil && n > 0 {
			f.bdatLeft = n
		}
		p.last = strings.EqualFold(strings.TrimSpace(rest), "LAST")
	default:
		f.dataPending = false
	}
}

func (f *flow) server(line []byte) {
	if f.dataPending && len(line) >= 3 && string(line[:3]) == "354" && (len(line) == 3 || line[3] != '-') {
		f.dataPending, f.inData = false, true
	}
}

// SplitCommand returns a command line's verb in upper case and the rest,
// without the line ending, split as protocol.SplitCommand splits it.
func SplitCommand(line []byte) (verb, arg string) {
	return protocol.SplitCommand(string(TrimEOL(line)))
}

// TrimEOL drops one CRLF or LF.
func TrimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// ReplyCode returns the code of a reply line and whether it is the last line
// of its reply.
func ReplyCode(line []byte) (code string, final bool) {
	if len(line) < 3 {
		return string(line), true
	}
	return string(line[:3]), len(line) == 3 || line[3] != '-'
}

// Follower follows a conversation's events in order and annotates them
// (Event.Parts): which client bytes are commands, and their verbs, which
// are message content and where a message ends, which command each reply
// line answers. It is session's one reading of the byte stream for
// everything above it: the TUI's wire log and explanations read these
// annotations rather than parse SMTP themselves. A Capture runs one for
// its sinks; a replay of a recording read from a file runs its own.
type Follower struct {
	fl flow
	// lmtp: the end of a message is answered once per accepted recipient
	// (RFC 2033 §4.2), so its replies go on answering it until the next
	// command. NewFollower's argument sets it; so does a LHLO answered 250.
	lmtp      bool
	queue     []string // commands sent, waiting for their reply
	inReply   bool     // a reply is under way, to answering
	answering string
	authCont  bool // 334 answered AUTH: the next client line answers it
}

// NewFollower returns a Follower at the start of a conversation, the
// server's greeting awaited. lmtp says the transport is LMTP (a
// recording's Header.Transport); a LHLO answered 250 says it too.
func NewFollower(lmtp bool) *Follower {
	return &Follower{lmtp: lmtp, inReply: true, answering: VerbGreeting}
}

// Clone returns an independent copy, to annotate from the same point on
// (a replay keeps one at each checkpoint).
func (f *Follower) Clone() *Follower {
	c := &Follower{}
	f.copyTo(c)
	return c
}

// copyTo makes dst a copy of f, reusing dst's buffers.
func (f *Follower) copyTo(dst *Follower) {
	cur, queue := dst.fl.cur[:0], dst.queue[:0]
	*dst = *f
	dst.fl.cur = append(cur, f.fl.cur...)
	dst.queue = append(queue, f.queue...)
}

// Annotate follows e and sets e.Parts for a client or server event,
// reusing its capacity; every other kind only moves the Follower on.
func (f *Follower) Annotate(e *Event) {
	switch e.Kind {
	case KindConnect, KindClose:
		*f = Follower{lmtp: f.lmtp, queue: f.queue[:0], inReply: true, answering: VerbGreeting}
	case KindTLS:
		f.fl.resetAtTLS()
	case KindSnapshot:
		// Begun mid-session: no reply under way, and the next client
		// lines are answers to a challenge, or message text.
		*f = Follower{lmtp: f.lmtp, queue: f.queue[:0], authCont: e.Start != nil && e.Start.Mode == "auth"}
		f.fl.resume(e.Start)
	case KindClient:
		e.Parts = f.client(e.Data, e.Parts[:0])
	case KindServer:
		e.Parts = f.server(e.Data, e.Parts[:0])
	}
}

// Annotator annotates the events of one conversation that come without
// Parts (a recording read from a file) with a Follower of its own; once
// an event comes annotated (a Capture's sinks get them so), it lets every
// event pass as it is. The Parts it sets are overwritten by its next
// call: a reader that keeps events must not keep their Parts.
type Annotator struct {
	f         *Follower
	parts     []Part
	annotated bool
}

// NewAnnotator returns an Annotator at the start of a conversation; lmtp
// says the transport is LMTP (a recording's Header.Transport).
func NewAnnotator(lmtp bool) *Annotator { return &Annotator{f: NewFollower(lmtp)} }

// Annotate sets e.Parts, unless the events come annotated.
func (a *Annotator) Annotate(e *Event) {
	data := e.Kind == KindClient || e.Kind == KindServer
	if a.annotated || (data && e.Parts != nil) {
		a.annotated = true
		return
	}
	if !data {
		a.f.Annotate(e)
		return
	}
	e.Parts = a.parts[:0]
	a.f.Annotate(e)
	a.parts = e.Parts[:0]
}

func (f *Follower) client(data []byte, parts []Part) []Part {
	if parts == nil {
		parts = []Part{} // annotated, if empty
	}
	f.fl.client(data, func(p piece) {
		part := Part{End: p.end, Payload: p.payload, Complete: p.complete, Last: p.last, Cont: p.cont}
		switch {
		case p.payload && p.last && !p.bdat:
			part.Verb = VerbMessageEnd
			f.queue = append(f.queue, VerbMessageEnd)
		case p.payload:
			part.Verb = "DATA"
			if p.bdat {
				part.Verb = "BDAT"
			}
			if p.last { // a chunk's end is answered as the message's
				f.queue = append(f.queue, VerbMessageEnd)
			}
		case !p.complete:
			// The verb comes with the line's end.
		case f.authCont:
			part.Verb, part.Answer, f.authCont = "AUTH", true, false
			f.queue = append(f.queue, part.Verb)
		default:
			part.Verb = p.verb
			if part.Verb != "BDAT" || f.fl.bdatLeft == 0 {
				f.queue = append(f.queue, part.Verb) // BDAT n: at its chunk's end
			}
		}
		parts = appendPart(parts, part)
	})
	return parts
}

// commandVerb is the verb of a command line, as splitCommand cuts it,
// without keeping the line: a known verb is a constant, another a copy.
// Only the line's head is converted to a string, which then stays on the
// stack, unless the verb may go on past it.
func commandVerb(line []byte) string {
	line = TrimEOL(line)
	head := line[:min(len(line), 32)]
	verb, rest := protocol.SplitCommand(string(head))
	if rest == "" && len(head) < len(line) {
		long, _ := protocol.SplitCommand(string(line))
		return long
	}
	if v, ok := commonVerbs[verb]; ok {
		return v
	}
	return strings.Clone(verb)
}

var commonVerbs = func() map[string]string {
	m := map[string]string{}
	for _, v := range []string{"EHLO", "HELO", "LHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT",
		"RSET", "VRFY", "EXPN", "HELP", "NOOP", "QUIT", "XCLIENT", "ETRN"} {
		m[v] = v
	}
	return m
}()

// appendPart adds p, run into the part before it when both are message
// content of the same kind: a streamed body is one part per send, not one
// per line.
func appendPart(parts []Part, p Part) []Part {
	if n := len(parts); n > 0 && p.Payload && parts[n-1].Payload && !parts[n-1].Last && parts[n-1].Verb == p.Verb {
		parts[n-1].End, parts[n-1].Complete, parts[n-1].Last = p.End, p.Complete, p.Last
		return parts
	}
	return append(parts, p)
}

// server annotates reply lines (an event holds one, as received, but a
// recording may hold more) with the command each answers.
func (f *Follower) server(data []byte, parts []Part) []Part {
	if parts == nil {
		parts = []Part{}
	}
	for i := 0; i < len(data); {
		end := len(data)
		if k := bytes.IndexByte(data[i:], '\n'); k >= 0 {
			end = i + k + 1
		}
		line := TrimEOL(data[i:end])
		f.fl.server(line)
		_, final := ReplyCode(line)
		parts = append(parts, Part{End: end, Verb: f.reply(line), Complete: end > i && data[end-1] == '\n', More: !final})
		i = end
	}
	return parts
}

// reply returns what one reply line answers: the oldest command waiting,
// when no reply is under way.
func (f *Follower) reply(line []byte) string {
	lmtpMore := f.inReply && f.answering == VerbMessageEnd && f.lmtp && len(f.queue) > 0
	if (!f.inReply || lmtpMore) && len(f.queue) > 0 {
		f.answering, f.inReply = f.queue[0], true
		// Shift rather than reslice, so that the array is reused: the
		// queue is as long as a pipelined group at most.
		f.queue = f.queue[:copy(f.queue, f.queue[1:])]
	}
	if !f.inReply {
		return "" // unsolicited
	}
	verb := f.answering
	code, final := ReplyCode(line)
	if !final {
		return verb
	}
	switch {
	case verb == "AUTH" && code == "334":
		f.authCont = true
	case verb == "LHLO" && code == "250":
		f.lmtp = true
	}
	if verb == VerbMessageEnd && f.lmtp && len(f.queue) == 0 {
		return verb // LMTP: one reply per recipient; the next answers it too
	}
	f.inReply = false
	return verb
}

// keyInfo is the certificate's public key algorithm and size.
func keyInfo(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return c.PublicKeyAlgorithm.String(), 0
}

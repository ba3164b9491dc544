package session

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Marker replaces a secret. It is fixed, obviously fake, and the same
// whatever the secret's length, so a redacted file does not even leak how
// long a password is (security-anchors §4.3 rule 4).
const Marker = "[redacted]"

// Redaction says how a Capture hides credentials.
//
// Two nets catch them (security-anchors §4.3 rules 2 and 3). The first is
// what the client sends: the byte ranges protocol marks as secret, and, so
// that a raw AUTH typed in the composer is covered too, the initial response
// on any AUTH command line and every client line after it until the server
// ends the exchange with a reply other than 334. The server's challenges
// play no part, so a server that labels both LOGIN challenges "Username:"
// (case C4) changes nothing. For SCRAM the server-final message (v=) is
// hidden as well, since with the salt it allows offline guessing (C8).
//
// The second net is the Scrubber: exact occurrences of the known secrets,
// in any event, from either side (a server that quotes the PLAIN blob back
// in its 535, case C9).
//
// A PLAIN or LOGIN user name stays readable, as swaks keeps it: the first
// response of a PLAIN exchange becomes `[redacted user="alice"]` (with
// authzid="…" first when one was sent) and the LOGIN user line becomes
// `[redacted user="alice"]`. Every other secret becomes Marker.
type Redaction struct {
	// Scrubber holds the secrets the client knows; nil scrubs nothing.
	Scrubber *Scrubber
	// HideUser replaces the PLAIN and LOGIN user name too, since user
	// names can be personal data.
	HideUser bool
}

// redactor is Redaction plus what it must remember between events: where
// an AUTH exchange is. Which client bytes are command lines and which are
// message content it reads from the events' Parts (a Follower's).
type redactor struct {
	Redaction
	auth  bool   // inside an AUTH exchange
	mech  string // its mechanism, upper case
	nresp int    // client responses so far in it
}

// apply returns the redacted copy of e, which a Follower has annotated.
// It also sets e.Secrets to every range it hid (protocol's and its own),
// so that a sink keeping secrets records where they are and a later
// export can still hide them.
func (r *redactor) apply(e *Event) Event {
	out := *e
	out.Secrets = nil
	var changed bool
	switch e.Kind {
	case KindConnect, KindClose, KindTLS:
		// No exchange survives a new connection or a new TLS layer; an
		// AUTH whose reply never came must not redact the next EHLO.
		r.auth = false
	case KindSnapshot:
		// A recording begun inside an AUTH exchange or a message goes
		// on from there: its next client lines are answers, or text.
		r.auth, r.mech, r.nresp = e.Start != nil && e.Start.Mode == "auth", "", 0
	}
	switch e.Kind {
	case KindClient:
		out.Data, out.Redacted, e.Secrets = r.client(e)
	case KindServer:
		out.Data, out.Redacted, e.Secrets = r.server(e.Data)
	case KindTLS:
		if e.Handshake != nil {
			h := *e.Handshake
			h.Error, changed = r.Scrubber.ScrubString(h.Error)
			out.Handshake, out.Redacted = &h, changed
		}
	}
	if e.Text != "" {
		out.Text, changed = r.Scrubber.ScrubString(e.Text)
		out.Redacted = out.Redacted || changed
	}
	return out
}

// client redacts the command lines of a client send, as e's Parts say
// where they are.
func (r *redactor) client(e *Event) ([]byte, bool, []protocol.Span) {
	data, marked := e.Data, e.Secrets
	var secret []protocol.Span
	for _, s := range marked {
		// The line ending is not secret, and keeping it keeps the
		// transcript one line per wire line.
		for s.End > s.Start && (data[s.End-1] == '\n' || data[s.End-1] == '\r') {
			s.End--
		}
		if s.Start < s.End {
			secret = append(secret, s)
		}
	}
	user := protocol.Span{Start: -1}
	for start, p := range e.Segments() {
		if !p.Payload {
			secret = r.line(data, start, p, secret, &user)
		}
	}
	out := data
	if secret = mergeSpans(secret); len(secret) > 0 {
		var b bytes.Buffer
		prev := 0
		for _, s := range secret {
			b.Write(data[prev:s.Start])
			if s == user {
				b.WriteString(r.userMarker(data[s.Start:s.End]))
			} else {
				b.WriteString(Marker)
			}
			prev = s.End
		}
		b.Write(data[prev:])
		out = b.Bytes()
	}
	out, scrubbed := r.Scrubber.Scrub(out)
	return out, len(secret) > 0 || scrubbed, secret
}

// line finds the secrets in one command line, or the part of one, that
// ends at p.End; user is set to the span of a user name.
func (r *redactor) line(data []byte, start int, p Part, secret []protocol.Span, user *protocol.Span) []protocol.Span {
	end := start + len(TrimEOL(data[start:p.End]))
	if !p.Cont {
		line := string(data[start:end])
		if mech, ir, ok := protocol.AuthCommand(line); ok {
			r.auth, r.mech, r.nresp = true, mech, 0
			if protocol.IsSecretResponse(line[ir.Start:ir.End]) {
				r.nresp = 1
				*user = protocol.Span{Start: start + ir.Start, End: start + ir.End}
				secret = append(secret, *user)
			}
			return secret
		}
	}
	if !r.auth || start == end || string(data[start:end]) == "*" {
		return secret // "*" cancels; an empty line answers an XOAUTH2 error
	}
	s := protocol.Span{Start: start, End: end}
	if !p.Cont {
		r.nresp++
		if r.nresp == 1 {
			*user = s
		}
	}
	return append(secret, s)
}

// userMarker keeps the user name of a PLAIN or LOGIN first response visible.
// Anything that does not decode as the mechanism says gets the plain Marker.
func (r *redactor) userMarker(resp []byte) string {
	if r.HideUser || (r.mech != "PLAIN" && r.mech != "LOGIN") {
		return Marker
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(resp)))
	if err != nil {
		return Marker
	}
	if r.mech == "LOGIN" {
		return "[redacted user=" + strconv.QuoteToASCII(string(dec)) + "]"
	}
	parts := bytes.Split(dec, []byte{0})
	if len(parts) != 3 {
		return Marker
	}
	var authz string
	if len(parts[0]) > 0 {
		authz = "authzid=" + strconv.QuoteToASCII(string(parts[0])) + " "
	}
	return "[redacted " + authz + "user=" + strconv.QuoteToASCII(string(parts[1])) + "]"
}

func (r *redactor) server(data []byte) ([]byte, bool, []protocol.Span) {
	out, changed := data, false
	var secret []protocol.Span
	if r.auth {
		line := TrimEOL(data)
		code, final := ReplyCode(line)
		switch {
		case code == "334" && final && strings.HasPrefix(r.mech, "SCRAM-") && len(line) > 4:
			dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(line[4:])))
			if err == nil && bytes.HasPrefix(dec, []byte("v=")) {
				out = slices.Concat(data[:4], []byte(Marker), data[len(line):])
				changed = true
				secret = []protocol.Span{{Start: 4, End: len(line)}}
			}
		case final && code != "334":
			r.auth = false
		}
	}
	out, scrubbed := r.Scrubber.Scrub(out)
	return out, changed || scrubbed, secret
}

// Scrubber replaces exact occurrences of known secrets with Marker: the
// secret itself and its escaped forms (transcript, --debug), its base64 at
// each of the three alignments it can have inside a longer base64 blob,
// and the whole PLAIN and XOAUTH2 blobs, encoded and not. It catches what marking cannot: a server that echoes the
// credentials back, a secret pasted into a note.
//
// Base64 fragments shorter than four characters are not used: they would
// match everywhere and say almost nothing about the secret. The secret
// itself is scrubbed whatever its length.
//
// A Scrubber is safe for concurrent use; a nil *Scrubber scrubs nothing.
type Scrubber struct {
	mu      sync.RWMutex
	needles [][]byte
}

// NewScrubber returns a Scrubber for the given secrets (passwords, tokens).
func NewScrubber(secrets ...string) *Scrubber {
	s := &Scrubber{}
	s.Add(secrets...)
	return s
}

// Add adds secrets in every form ehlo's output can give them: as they
// are, escaped as the transcript and the wire log show text (Sanitize),
// escaped as the --debug output's Python reprs show it
// (protocol.DebugForms: "\\", "\t", "\xc3\xa4", "\'"), and their base64
// fragments.
func (s *Scrubber) Add(secrets ...string) {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		s.addNeedle([]byte(sec))
		s.addNeedle([]byte(SanitizeString(sec)))
		for _, f := range protocol.DebugForms(sec) {
			s.addNeedle([]byte(f))
		}
		for _, f := range base64Fragments([]byte(sec)) {
			if len(f) >= 4 {
				s.addNeedle(f)
			}
		}
	}
}

// AddPlain adds a PLAIN password and the blobs (RFC 4616) that carry it:
// authzid\0user\0password, \0user\0password and user\0user\0password, raw and
// base64-encoded, with and without padding.
func (s *Scrubber) AddPlain(authzid, user, password string) {
	s.Add(password)
	if password == "" {
		return
	}
	for _, z := range []string{authzid, "", user} {
		s.addBlob(z + "\x00" + user + "\x00" + password)
	}
}

// AddXOAUTH2 adds a bearer token and the XOAUTH2 blob that carries it.
func (s *Scrubber) AddXOAUTH2(user, token string) {
	s.Add(token)
	if token != "" {
		s.addBlob("user=" + user + "\x01auth=Bearer " + token + "\x01\x01")
	}
}

func (s *Scrubber) addBlob(blob string) {
	s.addNeedle([]byte(blob))
	s.addNeedle([]byte(base64.StdEncoding.EncodeToString([]byte(blob))))
	s.addNeedle([]byte(base64.RawStdEncoding.EncodeToString([]byte(blob))))
}

func (s *Scrubber) addNeedle(n []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.needles {
		if bytes.Equal(x, n) {
			return
		}
	}
	s.needles = append(s.needles, n)
}

// base64Fragments returns, for each alignment of secret within a base64
// stream (preceded by 0, 1 or 2 bytes), the characters that depend on the
// secret's bits only. Whatever surrounds the secret, its encoding contains
// one of them.
func base64Fragments(secret []byte) [][]byte {
	var out [][]byte
	for k := 0; k < 3; k++ {
		buf := make([]byte, k+len(secret))
		copy(buf[k:], secret)
		enc := base64.RawStdEncoding.EncodeToString(buf)
		// Character i covers bits [6i, 6i+6); keep those inside
		// [8k, 8(k+len(secret))).
		first := (8*k + 5) / 6
		last := (8*(k+len(secret)) - 6) / 6
		if last >= first {
			out = append(out, []byte(enc[first:last+1]))
		}
	}
	return out
}

// Scrub returns b with every known secret replaced by Marker, and whether
// anything was. When nothing was, it returns b itself.
func (s *Scrubber) Scrub(b []byte) ([]byte, bool) {
	if s == nil || len(b) == 0 {
		return b, false
	}
	s.mu.RLock()
	var found []protocol.Span
	for _, n := range s.needles {
		for off := 0; off < len(b); {
			i := bytes.Index(b[off:], n)
			if i < 0 {
				break
			}
			found = append(found, protocol.Span{Start: off + i, End: off + i + len(n)})
			off += i + 1 // overlapping occurrences too
		}
	}
	s.mu.RUnlock()
	if len(found) == 0 {
		return b, false
	}
	found = mergeSpans(found)
	out := make([]byte, 0, len(b))
	prev := 0
	for _, f := range found {
		out = append(out, b[prev:f.Start]...)
		out = append(out, Marker...)
		prev = f.End
	}
	return append(out, b[prev:]...), true
}

// ScrubString is Scrub for a string.
func (s *Scrubber) ScrubString(str string) (string, bool) {
	out, changed := s.Scrub([]byte(str))
	if !changed {
		return str, false
	}
	return string(out), true
}

// HideMarked replaces the ranges e marks as secret (Event.Secrets) by
// Marker: what a recording made without --record-secrets may still mark.
func HideMarked(e Event) Event {
	if len(e.Secrets) == 0 {
		return e
	}
	spans := cleanSpans(append(e.Secrets[:0:0], e.Secrets...), len(e.Data))
	var b bytes.Buffer
	prev := 0
	for _, s := range spans {
		b.Write(e.Data[prev:s.Start])
		b.WriteString(Marker)
		prev = s.End
	}
	b.Write(e.Data[prev:])
	e.Data, e.Secrets, e.Redacted = b.Bytes(), nil, true
	return e
}

// SecretFinder recovers, event by event, from what redaction hides in a
// recording made with --record-secrets, the credentials the live session's
// Scrubber knew (the password or token, and the user it went with): the
// PLAIN blob, the XOAUTH2 and OAUTHBEARER blobs, the LOGIN user and
// password lines. It adds them to its Scrubber as `ehlo send` adds its
// --auth-password, so that a redacted copy of the recording scrubs exactly
// what live redaction would have.
type SecretFinder struct {
	sc   *Scrubber
	r    redactor
	a    *Annotator
	user string
}

// NewSecretFinder returns a SecretFinder that knows no secret yet.
func NewSecretFinder() *SecretFinder {
	return &SecretFinder{sc: NewScrubber(), a: NewAnnotator(false)}
}

// Scrubber holds the secrets found so far.
func (f *SecretFinder) Scrubber() *Scrubber { return f.sc }

func (f *SecretFinder) addSecret(secret string) {
	f.sc.Add(secret)
	f.sc.AddPlain("", f.user, secret)
	f.sc.AddXOAUTH2(f.user, secret)
}

// Add looks for secrets in the next event of the recording.
func (f *SecretFinder) Add(e Event) {
	raw := e
	f.a.Annotate(&raw)
	f.r.apply(&raw) // sets raw.Secrets to every range it hides
	if e.Kind != KindClient {
		return
	}
	for _, s := range raw.Secrets {
		resp := bytes.TrimSpace(e.Data[s.Start:s.End])
		dec, err := base64.StdEncoding.DecodeString(string(resp))
		if err != nil {
			continue
		}
		switch {
		case f.r.mech == "PLAIN" && bytes.Count(dec, []byte{0}) == 2: // authzid\0user\0password
			parts := bytes.SplitN(dec, []byte{0}, 3)
			f.user = string(parts[1])
			f.addSecret(string(parts[2]))
			f.sc.AddPlain(string(parts[0]), f.user, string(parts[2]))
		case bytes.Contains(dec, []byte("auth=Bearer ")): // XOAUTH2, OAUTHBEARER
			if _, u, ok := bytes.Cut(dec, []byte("user=")); ok {
				u, _, _ = bytes.Cut(u, []byte{1})
				f.user = string(u)
			}
			_, tok, _ := bytes.Cut(dec, []byte("auth=Bearer "))
			tok, _, _ = bytes.Cut(tok, []byte{1})
			f.addSecret(string(tok))
		case f.r.mech == "LOGIN" && f.r.nresp == 1: // the user line
			f.user = string(dec)
		case f.r.mech == "LOGIN": // the password line
			f.addSecret(string(dec))
		}
	}
}

// Redactor applies a Redaction to the events of a recording, in order, as
// a Capture applies it to a live session's: it remembers where an AUTH
// exchange is, and follows the conversation (Annotator) for where a
// message is.
type Redactor struct {
	r redactor
	a *Annotator
}

// NewRedactor returns a Redactor at the start of a recording.
func NewRedactor(r Redaction) *Redactor {
	return &Redactor{r: redactor{Redaction: r}, a: NewAnnotator(false)}
}

// Apply returns the redacted copy of the next event, without Parts: its
// reader annotates it (Annotator), as it would a recording read from a
// file.
func (r *Redactor) Apply(e Event) Event {
	r.a.Annotate(&e)
	out := r.r.apply(&e)
	out.Parts = nil
	return out
}

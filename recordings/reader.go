package recordings

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// Limits of the reader. A recording may come from a bug report, so nothing
// in it is trusted (security-anchors §4.3 rule 9, cases I3–I5).
const (
	// MaxLineBytes caps one line. A DATA event of many megabytes is
	// normal; bufio.Scanner's 64 KiB default would refuse it.
	MaxLineBytes = 64 << 20
	// MaxHeaderBytes caps the first line, the header, which is read no
	// further once past it: an input that is not a recording, such as
	// /dev/zero, is refused at once rather than read to a line end that
	// never comes.
	MaxHeaderBytes = 1 << 20
	// MaxOffset is the largest offset believed; a larger one (or one that
	// goes backwards) is set to the previous event's, so that a replay
	// never waits for days.
	MaxOffset = 30 * 24 * time.Hour
	// maxProblems caps the list; the rest are counted.
	maxProblems = 1000
)

// Recording is a recording read back.
type Recording struct {
	Header Header
	Events []session.Event
	// Problems are what was wrong with the file but did not stop it
	// loading: lines skipped, offsets clamped, a last event cut off.
	Problems []Problem
}

// Problem is one thing wrong in a recording.
type Problem struct {
	Line   int   // 1-based line number
	Offset int64 // byte offset of the line's start
	Msg    string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return p.Msg
	}
	return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
}

// ReadFile reads the recording at path.
func ReadFile(path string) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Read reads a recording. Only a missing or unreadable header is an error;
// everything else wrong with the file (bad JSON, bad base64, an unknown
// kind, an absurd offset, a line over MaxLineBytes) becomes a Problem
// naming the line, and the event is skipped or mended. A last line cut off
// mid-event, as a crash leaves it, is reported as "recording truncated at
// byte X (last event incomplete)", X being where that event starts, and
// the events before it are kept.
//
// If the underlying reader fails, Read returns what it read so far along
// with the error.
func Read(r io.Reader) (*Recording, error) {
	return read(r, MaxLineBytes)
}

func read(r io.Reader, maxLine int) (*Recording, error) {
	return readWith(r, maxLine, true)
}

// readWith reads a recording; without fast, every event line goes through
// encoding/json (parseEvent), which the tests compare the fast path with.
func readWith(r io.Reader, maxLine int, fast bool) (*Recording, error) {
	size := sizeHint(r)
	sc, err := newScanner(r, maxLine, fast, true)
	if err != nil {
		return nil, err
	}
	rec := &Recording{Header: sc.h}
	if size > 0 && sc.err == nil {
		// Reserve the events from the newlines in what follows the
		// header (the line is no longer needed, so Peek may move it).
		remaining := size - sc.lr.off
		sample, _ := sc.lr.br.Peek(int(min(remaining, int64(sc.lr.br.Size()))))
		if n := eventsHint(remaining, sample); n > 0 {
			rec.Events = make([]session.Event, 0, n)
		}
	}
	for sc.Next() {
		rec.Events = append(rec.Events, sc.e)
	}
	rec.Problems = sc.Problems()
	return rec, sc.Err()
}

// Scanner reads a recording one event at a time, so that printing or
// exporting a recording of any size holds one event, not the file. It
// reads and checks as Read does, and reports the same Problems.
type Scanner struct {
	h       Header
	lr      *lineReader
	fp      *fastParser
	keep    bool // events outlive the next call (Read); else Data is reused
	e       session.Event
	err     error // io.EOF at the end of the input
	n       int   // line number of the last line read
	prev    time.Duration
	probs   []Problem
	dropped int
}

// NewScanner reads the header of a recording from r. Like Read, it fails
// only if the header is missing or unreadable.
func NewScanner(r io.Reader) (*Scanner, error) {
	return newScanner(r, MaxLineBytes, true, false)
}

func newScanner(r io.Reader, maxLine int, fast, keep bool) (*Scanner, error) {
	lr := &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: min(maxLine, MaxHeaderBytes), stop: true}
	line, complete, err := lr.next()
	lr.max, lr.stop = maxLine, false
	switch {
	case err != nil && err != io.EOF:
		return nil, fmt.Errorf("reading recording: %w", err)
	case len(line) == 0 && !lr.tooLong && err == io.EOF:
		return nil, errors.New("not an ehlo recording: the file is empty")
	}
	h, herr := parseHeader(line, lr.tooLong)
	if herr != nil {
		if !complete && !lr.tooLong {
			return nil, fmt.Errorf("recording truncated at byte 0 (header incomplete): %w", herr)
		}
		return nil, herr
	}
	sc := &Scanner{h: h, lr: lr, keep: keep, err: err, n: 1}
	if fast {
		sc.fp = &fastParser{}
	}
	return sc, nil
}

// Header is the recording's header.
func (sc *Scanner) Header() Header { return sc.h }

// Event is the event the last Next read. Its Data is good only until the
// next call to Next.
func (sc *Scanner) Event() session.Event { return sc.e }

// Err is the error that stopped the scan, if it was not the end of the
// input.
func (sc *Scanner) Err() error {
	if sc.err == io.EOF {
		return nil
	}
	return sc.err
}

// Problems are what was wrong with the lines read so far; once Next has
// returned false, with the count of those not listed.
func (sc *Scanner) Problems() []Problem {
	if sc.dropped > 0 && sc.err != nil {
		return append(sc.probs[:len(sc.probs):len(sc.probs)], Problem{Msg: fmt.Sprintf("%d more problems not listed", sc.dropped)})
	}
	return sc.probs
}

func (sc *Scanner) problem(off int64, format string, args ...any) {
	if len(sc.probs) < maxProblems {
		sc.probs = append(sc.probs, Problem{Line: sc.n, Offset: off, Msg: fmt.Sprintf(format, args...)})
	} else {
		sc.dropped++
	}
}

// Next reads the next event, skipping (and reporting) the lines that hold
// none; it returns false at the end of the input or on a read error.
func (sc *Scanner) Next() bool {
	lr := sc.lr
	if sc.fp != nil && !sc.keep {
		sc.fp.arena.reset()
	}
	for sc.err == nil {
		line, complete, err := lr.next()
		sc.n++
		if err != nil && err != io.EOF {
			sc.err = fmt.Errorf("reading recording: line %d: %w", sc.n, err)
			return false
		}
		sc.err = err
		switch {
		case lr.tooLong:
			sc.problem(lr.start, "event longer than %d bytes, skipped", lr.max)
			continue
		case len(bytes.TrimSpace(line)) == 0:
			continue
		}
		if e, ok := sc.parse(line, complete); ok {
			sc.e = e
			return true
		}
	}
	return false
}

// parse reads one event line, reporting what is wrong with it.
func (sc *Scanner) parse(line []byte, complete bool) (session.Event, bool) {
	start := sc.lr.start
	var (
		e        session.Event
		warnings []string
		perr     error
		ok       bool
	)
	if sc.fp != nil {
		e, ok = sc.fp.parseEvent(line)
	}
	if !ok {
		e, warnings, perr = parseEvent(line)
	}
	if perr != nil {
		if !complete {
			sc.problem(start, "recording truncated at byte %d (last event incomplete)", start)
		} else {
			sc.problem(start, "%v", perr)
		}
		return e, false
	}
	for _, w := range warnings {
		sc.problem(start, "%s", w)
	}
	switch {
	case e.Offset < 0: // already reported by parseOffset
		e.Offset = sc.prev
	case e.Offset < sc.prev:
		sc.problem(start, "offset goes back in time; set to the previous event's")
		e.Offset = sc.prev
	}
	sc.prev = e.Offset
	return e, true
}

// lineReader reads lines of any length up to max bytes from a
// bufio.Reader, tracking byte offsets for the messages.
type lineReader struct {
	br      *bufio.Reader
	max     int // longest line kept
	buf     []byte
	off     int64 // bytes consumed
	start   int64 // where the last line returned starts
	tooLong bool  // the last line was over max and was dropped
	stop    bool  // a line over max ends there, unread to its end (the header)
}

// next returns the next line without its "\n", and whether the "\n" was
// there. At the end of input it returns io.EOF, with the last line if it
// had no "\n". The line is good until the next call, or any other use of
// br: a line that fits in br's buffer is returned from it, uncopied.
func (lr *lineReader) next() (line []byte, complete bool, err error) {
	lr.buf, lr.start, lr.tooLong = lr.buf[:0], lr.off, false
	for first := true; ; first = false {
		chunk, err := lr.br.ReadSlice('\n')
		lr.off += int64(len(chunk))
		if first && err == nil && len(chunk) <= lr.max+1 {
			return chunk[:len(chunk)-1], true, nil
		}
		if !lr.tooLong {
			if len(lr.buf)+len(chunk) > lr.max+1 {
				lr.tooLong, lr.buf = true, lr.buf[:0]
				if lr.stop {
					return nil, false, nil
				}
			} else {
				lr.buf = append(lr.buf, chunk...)
			}
		}
		switch err {
		case nil:
			return lr.buf[:len(lr.buf)-min(1, len(lr.buf))], true, nil
		case bufio.ErrBufferFull:
			continue
		default:
			return lr.buf, false, err
		}
	}
}

func parseHeader(line []byte, tooLong bool) (Header, error) {
	var h Header
	if tooLong {
		return h, errors.New("not an ehlo recording: the first line is too long")
	}
	var probe struct {
		Format  string      `json:"format"`
		Version json.Number `json:"version"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return h, fmt.Errorf("not an ehlo recording: line 1: %v", err)
	}
	if probe.Format != FormatName {
		return h, fmt.Errorf("not an ehlo recording: line 1: format is %s, not %q", shortQuote(probe.Format), FormatName)
	}
	if v, err := strconv.Atoi(probe.Version.String()); err != nil || v < MinFormatVersion || v > FormatVersion {
		// A json.Number holds only number syntax, safe to show; cut it short.
		v := probe.Version.String()
		if v == "" {
			return h, errors.New("not an ehlo recording: line 1: no version")
		}
		if len(v) > 20 {
			v = v[:20] + "…"
		}
		return h, fmt.Errorf("unsupported recording version %s (this ehlo reads versions %d to %d)", v, MinFormatVersion, FormatVersion)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, fmt.Errorf("line 1: invalid header: %v", err)
	}
	return h, nil
}

// shortQuote quotes text from the file for an error message: escaped, and
// cut so a hostile file cannot fill the screen.
func shortQuote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.QuoteToASCII(s)
}

func parseEvent(line []byte) (e session.Event, warnings []string, err error) {
	var j eventJSON
	if err := json.Unmarshal(line, &j); err != nil {
		return e, nil, fmt.Errorf("invalid JSON: %v", err)
	}
	kind, ok := session.ParseKind(j.Kind)
	if !ok {
		return e, nil, fmt.Errorf("unknown event kind %s", shortQuote(j.Kind))
	}
	e = session.Event{Kind: kind, TLS: j.TLS, Redacted: j.Redacted, Network: j.Network, Addr: j.Addr, Text: j.Text}
	var warn string
	e.Offset, warn = parseOffset(j.Offset)
	if warn != "" {
		warnings = append(warnings, warn)
	}
	switch kind {
	case session.KindClient, session.KindServer:
		switch {
		case j.Data != nil && j.B64 != nil:
			return e, nil, errors.New(`both "data" and "b64"`)
		case j.Data != nil:
			e.Data = []byte(*j.Data)
		case j.B64 != nil:
			if e.Data, err = base64.StdEncoding.DecodeString(*j.B64); err != nil {
				return e, nil, fmt.Errorf("invalid base64: %v", err)
			}
		default:
			return e, nil, fmt.Errorf(`%s event without "data" or "b64"`, kind)
		}
		for _, s := range j.Secrets {
			if s[0] < 0 || s[0] >= s[1] || s[1] > len(e.Data) {
				warnings = append(warnings, fmt.Sprintf("secret span [%d,%d] outside the data, ignored", s[0], s[1]))
				continue
			}
			e.Secrets = append(e.Secrets, protocol.Span{Start: s[0], End: s[1]})
		}
	case session.KindTLS:
		if j.Handshake == nil {
			return e, nil, errors.New(`tls event without "handshake"`)
		}
		e.Handshake = j.Handshake
	case session.KindState:
		if j.State == nil {
			return e, nil, errors.New(`state event without "state"`)
		}
		p, ok := parsePhase(j.State.Phase)
		if !ok {
			return e, nil, fmt.Errorf("unknown phase %s", shortQuote(j.State.Phase))
		}
		e.State = protocol.State{Phase: p, TLS: j.State.TLS, Authenticated: j.State.Authenticated, Recipients: max(0, j.State.Recipients)}
	case session.KindSnapshot:
		if j.Start == nil {
			return e, nil, errors.New(`snapshot event without "snapshot"`)
		}
		var warn []string
		if e.Start, warn, err = j.Start.startState(); err != nil {
			return e, nil, err
		}
		warnings = append(warnings, warn...)
	}
	return e, warnings, nil
}

// parseOffset reads offset_us. A value that is not a sane number of
// microseconds comes back as -1, which Read turns into the previous
// event's offset.
func parseOffset(n json.Number) (time.Duration, string) {
	if n == "" {
		return -1, "no offset; set to the previous event's"
	}
	us, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || math.IsNaN(f) || f < 0 || f > float64(MaxOffset.Microseconds()) {
			return -1, fmt.Sprintf("offset %s out of range; set to the previous event's", shortQuote(string(n)))
		}
		us = int64(f)
	}
	if us < 0 || us > MaxOffset.Microseconds() {
		return -1, fmt.Sprintf("offset %dµs out of range; set to the previous event's", us)
	}
	return time.Duration(us) * time.Microsecond, ""
}

// Source is a recording that can be read more than once, one event at a
// time: a file (OpenSource), read again for each pass, or a Recording
// already in memory (RecordingSource). The exports read it so: a report
// that needs the whole recording before its first line (the Markdown
// table, the JSON summary, the secrets to hide) makes a pass of its own
// rather than holding the events.
type Source struct {
	Header Header
	f      *os.File
	rec    *Recording
	// redact, if set, starts a pass of a filter every event goes
	// through (RedactedSource).
	redact func() func(session.Event) session.Event
	// last holds the problems of the last pass, shared by the Sources
	// made from this one.
	last *[]Problem
}

// OpenSource opens the recording at path and reads its header, failing as
// ReadFile does. Close it when done.
func OpenSource(path string) (*Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sc, err := NewScanner(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Source{Header: sc.Header(), f: f, last: new([]Problem)}, nil
}

// RecordingSource is rec as a Source.
func RecordingSource(rec *Recording) *Source {
	return &Source{Header: rec.Header, rec: rec, last: new([]Problem)}
}

// Problems are what was wrong with the recording, as the last complete
// pass over it (Each) found.
func (s *Source) Problems() []Problem { return *s.last }

// Close closes the file of a Source from OpenSource.
func (s *Source) Close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// Each calls fn with every event in order, and returns the problems of
// the recording. An event's Data is good only during the call. An error
// from fn stops the pass and is returned.
func (s *Source) Each(fn func(session.Event) error) ([]Problem, error) {
	if s.redact != nil {
		filter := s.redact()
		inner := *s
		inner.redact = nil
		return inner.Each(func(e session.Event) error { return fn(filter(e)) })
	}
	probs, err := s.each(fn)
	if err == nil {
		*s.last = probs
	}
	return probs, err
}

func (s *Source) each(fn func(session.Event) error) ([]Problem, error) {
	if s.rec != nil {
		for _, e := range s.rec.Events {
			if err := fn(e); err != nil {
				return s.rec.Problems, err
			}
		}
		return s.rec.Problems, nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	sc, err := NewScanner(s.f)
	if err != nil {
		return nil, err
	}
	for sc.Next() {
		if err := fn(sc.Event()); err != nil {
			return sc.Problems(), err
		}
	}
	return sc.Problems(), sc.Err()
}

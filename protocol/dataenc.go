package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// This file is the DATA payload encoder (RFC 5321 §4.1.1.4, §4.5.2).
//
// It is deliberately stricter than both references, because the difference
// between them and a strict receiver is exactly what SMTP smuggling exploits
// (SEC Consult 2023, CVE-2023-51764/51765/51766; security-anchors §2.2):
//
//   - smtplib normalises line ends only for str messages, and never stuffs a
//     dot that follows a lone CR; bytes go out with bare CR and LF.
//   - Go's textproto.DotWriter turns LF into CRLF but passes a lone CR, and
//     the dot after it, through unchanged.
//
// Here CRLF, lone LF and lone CR all become CRLF for every input, then every
// line that starts with "." gets a second one, then "\r\n.\r\n" ends the
// payload. The wire therefore has exactly one CRLF.CRLF, at the end, and no
// bare CR or LF anywhere, whatever the input bytes were.

// maxTextLine is the longest line RFC 5321 §4.5.3.1.6 lets a server insist
// on: 1000 octets including CRLF, not counting the transparency dot.
const maxTextLine = 998

const (
	// encPiece bounds how much input one appendEncoded call sees, so that
	// its worst-case output (every byte doubled) always fits in the free
	// half of the buffer and append never reallocates.
	encPiece = 16 << 10
	// encFlush is the fill level at which the buffer goes to the writer:
	// large enough that a connection sees few, big writes.
	encFlush = 32 << 10
	encBuf   = encFlush + 2*encPiece
)

// ErrNULInData matches (with errors.Is) the *NULError returned when message
// data contains a NUL byte.
var ErrNULInData = errors.New("NUL byte in message data")

// ErrDataAborted matches the error Close returns on an encoder that was
// aborted, by Abort or by a failure: the terminating "." was not sent, so
// the server will discard the transaction once the connection is closed.
var ErrDataAborted = errors.New("DATA aborted; end of data not sent")

// ErrDataEncoderClosed is returned by Write and by a second Close after the
// encoder was closed.
var ErrDataEncoderClosed = errors.New("data encoder already closed")

// NULError reports a NUL byte in message data. NUL is never legal in DATA:
// RFC 5321 text and 8BITMIME both exclude it, only BINARYMIME (BDAT) allows
// it, and servers that strip it turn "\r\n\x00.\r\n" into an end-of-data
// (smtpsmug's nullbefore variant). smtplib sends it; ehlo refuses.
//
// Offset counts input bytes from the start of the data as given, before
// line-end normalisation, so it points into the caller's file. The error
// unwraps to a *ValueError, because like every ValueError it means "the
// input must not be sent".
type NULError struct{ Offset int64 }

func (e *NULError) Error() string {
	if e == nil {
		return nilErr
	}
	return fmt.Sprintf("NUL byte at offset %d", e.Offset)
}
func (e *NULError) Is(target error) bool { return target == ErrNULInData }
func (e *NULError) Unwrap() error        { return &ValueError{Msg: e.Error()} }

// encState is the part of the encoder that survives between writes. Keeping
// it this small is what makes the encoder constant-memory and makes its
// output independent of how the input is split into writes.
type encState struct {
	// lineStart: the next input byte begins a line, so a '.' there is
	// doubled. True at the start of the data.
	lineStart bool
	// skipLF: the last byte seen was a CR, already written as CRLF, so an
	// LF that comes next (perhaps in the next write) belongs to it.
	skipLF  bool
	lineLen int64 // normalised octets in the current line so far
	size    int64 // normalised octets so far
	long    int   // lines that went past maxTextLine
}

// appendEncoded appends the normalised, dot-stuffed form of p to dst. p
// must not contain NUL (callers cut it off first); QuoteData's legacy path
// relies on NUL simply being copied.
//
// The scan uses bytes.IndexByte, which is vectorised, and remembers the
// next CR and LF positions so that text without CR (or without LF) is
// searched once, not once per line.
func (s *encState) appendEncoded(dst, p []byte) []byte {
	n := len(p)
	i := 0
	if n > 0 && s.skipLF {
		s.skipLF = false
		if p[0] == '\n' {
			i = 1
		}
	}
	cr, lf := -1, -1
	for i < n {
		if s.lineStart {
			s.lineStart = false
			if p[i] == '.' {
				dst = append(dst, '.')
			}
		}
		if cr < i {
			cr = indexByteFrom(p, i, '\r')
		}
		if lf < i {
			lf = indexByteFrom(p, i, '\n')
		}
		j := min(cr, lf)
		dst = append(dst, p[i:j]...)
		seg := int64(j - i)
		s.size += seg
		if s.lineLen <= maxTextLine && s.lineLen+seg > maxTextLine {
			s.long++
		}
		s.lineLen += seg
		if j == n {
			break
		}
		dst = append(dst, '\r', '\n')
		s.size += 2
		s.lineLen = 0
		s.lineStart = true
		if p[j] == '\r' {
			if j+1 == n {
				s.skipLF = true
			} else if p[j+1] == '\n' {
				j++
			}
		}
		i = j + 1
	}
	return dst
}

// indexByteFrom is the position of the first c in p at or after i, or
// len(p) if there is none.
func indexByteFrom(p []byte, i int, c byte) int {
	k := bytes.IndexByte(p[i:], c)
	if k < 0 {
		return len(p)
	}
	return i + k
}

// DataEncoder turns message bytes into the DATA payload that follows a 354
// reply: line ends normalised to CRLF, leading dots doubled, and "\r\n.\r\n"
// written by Close. It is the counterpart of textproto.DotWriter and of the
// payload half of smtplib's data(), with the stricter rules described at
// the top of this file.
//
// Output is buffered and reaches w in large writes; the bytes sent do not
// depend on how the input is split across Write calls. Memory use is
// constant whatever the message size.
//
// Once anything fails (a NUL byte, a write error, Abort) the encoder is
// aborted: nothing more is written and Close does not send the terminator,
// because ending a partial message would deliver it as if it were complete
// (security-anchors §2.2 rule 5). The caller must then close the
// connection, which makes the server drop the transaction.
type DataEncoder struct {
	w      io.Writer
	buf    []byte
	st     encState
	in     int64 // raw input bytes accepted, for NUL offsets
	err    error // why the encoder was aborted, or nil
	closed bool
}

var _ io.WriteCloser = (*DataEncoder)(nil)

// NewDataEncoder returns an encoder that writes the DATA payload to w.
func NewDataEncoder(w io.Writer) *DataEncoder {
	return newDataEncoderBuf(w, make([]byte, 0, encBuf))
}

// newDataEncoderBuf reuses buf (a Client's) so that sending many messages
// does not allocate an encoder buffer each.
func newDataEncoderBuf(w io.Writer, buf []byte) *DataEncoder {
	return &DataEncoder{w: w, buf: buf[:0], st: encState{lineStart: true}}
}

var scanBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Write encodes p. A NUL byte in p is refused with a *NULError giving its
// offset in the whole input; the bytes before it are consumed and the
// encoder is aborted. Any error from the underlying writer also aborts it.
func (e *DataEncoder) Write(p []byte) (int, error) {
	if e.closed {
		return 0, ErrDataEncoderClosed
	}
	if e.err != nil {
		return 0, e.err
	}
	total := len(p)
	nul := bytes.IndexByte(p, 0)
	if nul >= 0 {
		p = p[:nul]
	}
	done := 0
	for done < len(p) {
		k := min(len(p)-done, encPiece)
		e.buf = e.st.appendEncoded(e.buf, p[done:done+k])
		done += k
		if len(e.buf) >= encFlush {
			if err := e.flush(); err != nil {
				e.in += int64(done)
				return done, err
			}
		}
	}
	if nul >= 0 {
		err := &NULError{Offset: e.in + int64(nul)}
		e.in += int64(nul)
		e.fail(err)
		return nul, err
	}
	e.in += int64(total)
	return total, nil
}

// flush hands the buffer to w. A failed or short write aborts the encoder:
// how much of the payload the server got is unknown, so it must not be
// ended.
func (e *DataEncoder) flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	n, err := e.w.Write(e.buf)
	if err == nil && n < len(e.buf) {
		err = io.ErrShortWrite
	}
	e.buf = e.buf[:0]
	if err != nil {
		e.fail(err)
		return err
	}
	return nil
}

// fail records the first reason for aborting and drops buffered output.
func (e *DataEncoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
	e.buf = e.buf[:0]
}

// Close completes the last line if the data did not end with a line end,
// writes the terminating ".\r\n" and flushes. Like smtplib, an empty
// message becomes "\r\n.\r\n": one empty line.
//
// On an aborted encoder Close writes nothing and returns an error matching
// ErrDataAborted (and the error that caused the abort, if any). A second
// Close returns ErrDataEncoderClosed.
func (e *DataEncoder) Close() error {
	if e.closed {
		return ErrDataEncoderClosed
	}
	e.closed = true
	defer func() { e.buf = nil }()
	if e.err != nil {
		if e.err == ErrDataAborted {
			return ErrDataAborted
		}
		return fmt.Errorf("%w: %w", ErrDataAborted, e.err)
	}
	if !e.st.lineStart || e.st.size == 0 {
		e.buf = append(e.buf, '\r', '\n')
	}
	e.buf = append(e.buf, '.', '\r', '\n')
	return e.flush()
}

// Abort marks the message as failed, for instance because reading the
// input failed or the user interrupted: buffered output is dropped and
// Close will not write the terminator. Abort after Close does nothing.
func (e *DataEncoder) Abort() {
	if e.closed {
		return
	}
	e.fail(ErrDataAborted)
}

// Size is the number of octets of CRLF-normalised input seen so far: what
// the SIZE parameter of MAIL (RFC 1870) announces, and what smtplib counts
// (after its EOL fix, before dot-stuffing and without the CRLF that Close
// may add).
func (e *DataEncoder) Size() int64 { return e.st.size }

// LongLines is the number of lines so far longer than 998 octets, the RFC
// 5321 §4.5.3.1.6 limit (1000 with CRLF). They are sent unfolded, as
// smtplib sends them; the count is for a warning, since servers may refuse
// or break such lines.
func (e *DataEncoder) LongLines() int { return e.st.long }

// NormalizedSize reads r to the end and returns the size a DataEncoder's
// Size would report for the same bytes, which is the value SIZE= must
// announce before DATA. It refuses NUL with a *NULError, so that a file is
// rejected before anything is sent (security-anchors E3).
//
// It counts instead of encoding: every lone CR and lone LF grows by one
// octet, CRLF stays two, everything else is copied.
func NormalizedSize(r io.Reader) (int64, error) {
	var m sizeMeter
	if br, ok := r.(*bytes.Reader); ok {
		// A message in memory (a load run's, every message) is measured
		// where it lies, not copied through the scan buffer.
		_, err := br.WriteTo(&m)
		if m.err != nil {
			err = m.err
		}
		return m.size, err
	}
	// The scan buffer is pooled, so that a load run does not allocate
	// 32 KiB per message.
	bp := scanBufs.Get().(*[]byte)
	defer scanBufs.Put(bp)
	buf := *bp
	for {
		n, err := r.Read(buf)
		if _, werr := m.Write(buf[:n]); werr != nil {
			return m.size, werr
		}
		if err == io.EOF {
			return m.size, nil
		}
		if err != nil {
			return m.size, err
		}
	}
}

// sizeMeter adds up the normalised size of what is written to it, and
// stops at a NUL byte.
type sizeMeter struct {
	size, off int64
	prevCR    bool
	err       error
}

func (m *sizeMeter) Write(p []byte) (int, error) {
	if i := bytes.IndexByte(p, 0); i >= 0 {
		m.size += normalizedLen(p[:i], m.prevCR)
		m.err = &NULError{Offset: m.off + int64(i)}
		return i, m.err
	}
	if len(p) > 0 {
		m.size += normalizedLen(p, m.prevCR)
		m.prevCR = p[len(p)-1] == '\r'
		m.off += int64(len(p))
	}
	return len(p), nil
}

// normalizedLen is the normalised length of p when it follows a chunk that
// ended in CR (prevCR): that CR was already counted as a full line end, so
// an LF at the start of p adds nothing.
func normalizedLen(p []byte, prevCR bool) int64 {
	n := int64(len(p)) + int64(bytes.Count(p, []byte{'\r'})) +
		int64(bytes.Count(p, []byte{'\n'})) - 2*int64(bytes.Count(p, []byte("\r\n")))
	if prevCR && len(p) > 0 && p[0] == '\n' {
		n -= 2
	}
	return n
}

// QuoteData is smtplib's quotedata: line ends normalised to CRLF and
// leading dots doubled, with no terminator and no CRLF added at the end.
// Like smtplib it lets NUL through; use a DataEncoder for anything that
// goes to a server.
func QuoteData(s string) string {
	st := encState{lineStart: true}
	return string(st.appendEncoded(make([]byte, 0, len(s)+len(s)/16+8), []byte(s)))
}

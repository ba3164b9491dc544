package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// DefaultStreamLimit caps what is read from a body or an attachment that is
// not a regular file (stdin, a FIFO, a device such as /dev/zero) when the
// server advertises no SIZE: such an input has no size to check before it
// is sent, and some never end. The server's SIZE, when it has one, is the
// cap instead (SetStreamLimit).
const DefaultStreamLimit = 64 << 20

// errInterrupted is what a read returns once the send's context is
// cancelled (Ctrl+C).
var errInterrupted = errors.New("interrupted")

// Input is a body or an attachment, read while the message is sent and
// never whole. A regular file is opened anew for each reading (SIZE= and
// the send each read it) and never read past the size it had when
// OpenInput saw it, so a file that grows cannot stretch the message. Any
// other input is a stream: read once, through a goroutine so that Ctrl+C
// ends even a read (or a FIFO's open) that would never return, and capped.
type Input struct {
	label   string // how errors name it: "--attach x.pdf"
	path    string
	regular bool
	size    int64
	ctx     context.Context
	src     io.Reader // a stream given as a reader (stdin)

	stream io.ReadCloser // a stream, once opened: there is only one
	limit  func() (int64, string)
}

// OpenInput checks that path can be read and says whether it is a regular
// file. A missing or unreadable file is an error now, before anything
// connects; a stream (a FIFO, a device) is not opened yet, because opening
// a FIFO waits for its writer.
func OpenInput(ctx context.Context, label, path string) (*Input, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	in := &Input{label: label, path: path, ctx: ctx}
	switch {
	case st.IsDir():
		return nil, fmt.Errorf("%s: is a directory", label)
	case st.Mode().IsRegular():
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		f.Close()
		in.regular, in.size = true, st.Size()
	}
	return in, nil
}

// StreamInput is an input read from r (stdin): once, interruptibly, capped.
func StreamInput(ctx context.Context, label string, r io.Reader) *Input {
	return &Input{label: label, src: r, ctx: ctx}
}

// open returns a reader of the input from its start: a new one for a
// regular file, the one stream otherwise.
func (in *Input) open() (io.ReadCloser, error) {
	if !in.regular {
		return in.openStream(), nil
	}
	f, err := os.Open(in.path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.label, err)
	}
	return &fileReader{ctx: in.ctx, r: io.LimitReader(f, in.size), f: f, label: in.label}, nil
}

func (in *Input) openStream() io.ReadCloser {
	if in.stream != nil {
		return in.stream
	}
	open := func() (io.ReadCloser, error) {
		if in.src != nil {
			return io.NopCloser(in.src), nil
		}
		f, err := os.Open(in.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.label, err)
		}
		return f, nil
	}
	in.stream = &cappedReader{r: Interruptible(in.ctx, open), in: in}
	return in.stream
}

func (in *Input) cap() (int64, string) {
	if in.limit != nil {
		return in.limit()
	}
	return DefaultStreamLimit, defaultLimitWhy
}

const defaultLimitWhy = "ehlo's limit for input that is not a regular file"

// fileReader reads a regular file, checking for Ctrl+C between reads (a
// read of a regular file does not block for long).
type fileReader struct {
	ctx   context.Context
	r     io.Reader
	f     *os.File
	label string
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.ctx != nil && r.ctx.Err() != nil {
		return 0, errInterrupted
	}
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", r.label, err)
	}
	return n, err
}

func (r *fileReader) Close() error { return r.f.Close() }

// cappedReader refuses a stream once it passes its cap: what follows
// would be a message no server takes, and /dev/zero never ends.
type cappedReader struct {
	r    io.ReadCloser
	in   *Input
	read int64
}

func (r *cappedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.read += int64(n)
	if limit, why := r.in.cap(); r.read > limit {
		return n, fmt.Errorf("%s: not a regular file, and longer than %d bytes (%s)", r.in.label, limit, why)
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", r.in.label, err)
	}
	return n, err
}

func (r *cappedReader) Close() error { return r.r.Close() }

// Interruptible reads what open returns through a pipe fed by a goroutine,
// so that a read that never returns (stdin at a terminal, a FIFO nobody
// writes to, whose very open blocks) still ends when ctx is cancelled: the
// reader then fails with "interrupted". A goroutine blocked in the source is
// left to the process's exit; otherwise it stops at its next read after
// Close.
func Interruptible(ctx context.Context, open func() (io.ReadCloser, error)) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		src, err := open()
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		defer src.Close()
		_, err = io.Copy(pw, src)
		pw.CloseWithError(err)
	}()
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(errInterrupted) })
	return &interruptibleReader{PipeReader: pr, stop: stop}
}

type interruptibleReader struct {
	*io.PipeReader
	stop func() bool
}

func (r *interruptibleReader) Close() error {
	r.stop()
	return r.PipeReader.Close()
}

// lazyReader opens its input at the first read, so that a message with
// many attachments holds one file open at a time, and closes it at the end.
type lazyReader struct {
	open func() (io.ReadCloser, error)
	rc   io.ReadCloser
	done bool
	m    *message // registers what is open, for Close and Seek
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.done {
		return 0, io.EOF
	}
	if l.rc == nil {
		rc, err := l.open()
		if err != nil {
			return 0, err
		}
		l.rc = rc
		l.m.open = append(l.m.open, rc)
	}
	n, err := l.rc.Read(p)
	if err == io.EOF {
		l.done = true
	}
	return n, err
}

// encodingReader pulls src through a push encoder (quoted-printable,
// base64) one chunk at a time, so only one chunk's encoding is ever in
// memory.
type encodingReader struct {
	src   io.Reader
	out   bytes.Buffer
	enc   io.WriteCloser
	chunk []byte
	err   error // io.EOF once src and the encoder are done
}

func newEncodingReader(src io.Reader, mk func(io.Writer) io.WriteCloser) *encodingReader {
	r := &encodingReader{src: src, chunk: make([]byte, 16<<10)}
	r.enc = mk(&r.out)
	return r
}

func (r *encodingReader) Read(p []byte) (int, error) {
	for r.out.Len() == 0 && r.err == nil {
		n, err := r.src.Read(r.chunk)
		// The encoders write to a bytes.Buffer, which cannot fail.
		_, _ = r.enc.Write(r.chunk[:n])
		switch {
		case err == io.EOF:
			_ = r.enc.Close()
			r.err = io.EOF
		case err != nil:
			r.err = err
		}
	}
	if r.out.Len() > 0 {
		return r.out.Read(p)
	}
	return 0, r.err
}

var crlf = []byte("\r\n")

// lineWrap breaks base64 into lines of 76 characters (RFC 2045 §6.8), each
// ended with CRLF, the last one too.
type lineWrap struct {
	w   io.Writer
	col int
}

func (l *lineWrap) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(76-l.col, len(p))
		l.w.Write(p[:k])
		l.col += k
		p = p[k:]
		if l.col == 76 {
			l.w.Write(crlf)
			l.col = 0
		}
	}
	return n, nil
}

func (l *lineWrap) end() {
	if l.col > 0 {
		l.w.Write(crlf)
		l.col = 0
	}
}

// endLine makes sure text ends with a line end: "\r\n" is added after the
// last byte unless it is CR or LF.
type endLine struct {
	r    io.Reader
	last byte
	tail []byte
	eof  bool
}

func (e *endLine) Read(p []byte) (int, error) {
	if e.eof {
		if len(e.tail) == 0 {
			return 0, io.EOF
		}
		n := copy(p, e.tail)
		e.tail = e.tail[n:]
		return n, nil
	}
	n, err := e.r.Read(p)
	if n > 0 {
		e.last = p[n-1]
	}
	if err == io.EOF {
		e.eof = true
		if e.last != '\n' && e.last != '\r' {
			e.tail = []byte("\r\n")
		}
		if n > 0 {
			return n, nil
		}
		return e.Read(p)
	}
	return n, err
}

// lastByte remembers the last byte written through it.
type lastByte struct {
	w    io.Writer
	last byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}

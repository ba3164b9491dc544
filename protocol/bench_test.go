package protocol

// Benchmarks of the client's own work, with no network and no server
// process: the reply reader over an in-memory connection that repeats a
// canned reply, and whole transactions against benchServer, an in-memory
// SMTP responder that answers synchronously inside the client's Write.
// What they measure is CPU per reply and per message on the client side
// alone; docs/performance.md has the numbers and the loopback comparison
// (`make compare`) that includes the kernel and a real server.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchLoopConn is a net.Conn whose reads return data over and over, cut
// into reads of at most chunk bytes (0: as much as the caller asks for);
// writes are discarded and deadlines ignored.
type benchLoopConn struct {
	data  []byte
	off   int
	chunk int
}

func (c *benchLoopConn) Read(p []byte) (int, error) {
	if c.chunk > 0 && len(p) > c.chunk {
		p = p[:c.chunk]
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.data[c.off:])
		n += k
		c.off = (c.off + k) % len(c.data)
	}
	return n, nil
}

func (c *benchLoopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *benchLoopConn) Close() error                     { return nil }
func (c *benchLoopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *benchLoopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *benchLoopConn) SetDeadline(time.Time) error      { return nil }
func (c *benchLoopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *benchLoopConn) SetWriteDeadline(time.Time) error { return nil }

// benchClient is a connected Client on conn, as Connect leaves it.
func benchClient(conn net.Conn, opts Options) *Client {
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	c := NewClient(SMTP, opts)
	c.host = "bench.test"
	c.raw, c.conn = conn, conn
	c.abortConn = conn
	c.br = bufio.NewReaderSize(conn, 4096)
	c.setPhase(PhaseGreeted)
	return c
}

// benchEHLOReply is what Postfix's smtp-sink answers to EHLO.
const benchEHLOReply = "250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250-XCLIENT NAME HELO\r\n" +
	"250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 SIZE 10240000\r\n"

// BenchmarkReadReply is GetReply on replies already in memory: the parser,
// the line-length and reply-size caps, and the joining of a multi-line
// reply. Bytes per second are reply bytes.
func BenchmarkReadReply(b *testing.B) {
	var long strings.Builder
	for i := range 99 {
		long.WriteString("250-line " + strconv.Itoa(i) + " of a long multi-line reply, as HELP or a chatty EHLO sends\r\n")
	}
	long.WriteString("250 end\r\n")
	for _, bc := range []struct {
		name   string
		reply  string
		chunk  int
		lines  int
		tracer bool
	}{
		{name: "single", reply: "250 2.0.0 Ok: queued as 4Xq9Lw0Yx1z2\r\n", lines: 1},
		{name: "single-traced", reply: "250 2.0.0 Ok: queued as 4Xq9Lw0Yx1z2\r\n", lines: 1, tracer: true},
		{name: "ehlo-11-lines", reply: benchEHLOReply, lines: 11},
		{name: "ehlo-11-lines-8-byte-reads", reply: benchEHLOReply, lines: 11, chunk: 8},
		{name: "multi-100-lines", reply: long.String(), lines: 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			conn := &benchLoopConn{data: []byte(bc.reply), chunk: bc.chunk}
			var opts Options
			if bc.tracer {
				opts.Tracer = TracerFunc(func(Event) {})
			}
			c := benchClient(conn, opts)
			b.SetBytes(int64(len(bc.reply)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := c.GetReply()
				if err != nil {
					b.Fatal(err)
				}
				if r.Code/100 != 2 {
					b.Fatalf("reply %d %q", r.Code, r.Message)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "replies/s")
		})
	}
}

// benchServer is an in-memory SMTP server that answers inside the client's
// Write, so a transaction runs with no goroutine, socket or scheduler in
// between: Read returns only replies the client has earned, which keeps
// CheckUnsolicited honest. It understands just enough (EHLO, MAIL, RCPT,
// DATA with its CRLF.CRLF end, BDAT with its octet count, RSET, NOOP, QUIT)
// and accepts everything.
type benchServer struct {
	out      []byte // replies not yet read
	line     []byte // a command line not yet complete
	mode     int    // benchCmd, benchData or benchBdat
	dataSt   int    // progress through "\r\n.\r\n" in DATA
	bdatLeft int
	bdatLast bool
	messages int
}

const (
	benchCmd = iota
	benchData
	benchBdat
)

var errBenchNoReply = errors.New("benchServer: the client waits for a reply that was never earned")

func (s *benchServer) Read(p []byte) (int, error) {
	if len(s.out) == 0 {
		return 0, errBenchNoReply
	}
	n := copy(p, s.out)
	s.out = s.out[:copy(s.out, s.out[n:])]
	return n, nil
}

func (s *benchServer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		switch s.mode {
		case benchCmd:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				s.line = append(s.line, p...)
				return n, nil
			}
			s.line = append(s.line, p[:i+1]...)
			p = p[i+1:]
			s.command(s.line)
			s.line = s.line[:0]
		case benchData:
			// "\r\n.\r\n", with the state starting after a line end.
			for i, ch := range p {
				switch {
				case ch == "\r\n.\r\n"[s.dataSt]:
					s.dataSt++
				case ch == '\r':
					s.dataSt = 1
				default:
					s.dataSt = 0
				}
				if s.dataSt == 5 {
					s.reply("250 2.0.0 Ok: queued as 4Xq9Lw0Yx1z2")
					s.messages++
					s.mode = benchCmd
					p = p[i+1:]
					break
				}
			}
			if s.mode == benchData {
				return n, nil
			}
		case benchBdat:
			k := min(s.bdatLeft, len(p))
			s.bdatLeft -= k
			p = p[k:]
			if s.bdatLeft == 0 {
				s.endChunk()
			}
		}
	}
	return n, nil
}

func (s *benchServer) endChunk() {
	s.mode = benchCmd
	if s.bdatLast {
		s.messages++
		s.reply("250 2.0.0 Ok: queued as 4Xq9Lw0Yx1z2")
		return
	}
	s.reply("250 2.0.0 Ok")
}

func (s *benchServer) reply(text string) {
	s.out = append(s.out, text...)
	s.out = append(s.out, '\r', '\n')
}

func (s *benchServer) command(line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	verb, args, _ := bytes.Cut(line, []byte(" "))
	switch strings.ToUpper(string(verb)) {
	case "EHLO":
		s.out = append(s.out, benchEHLOReply...)
	case "HELO":
		s.reply("250 smtp-sink")
	case "MAIL":
		s.reply("250 2.1.0 Ok")
	case "RCPT":
		s.reply("250 2.1.5 Ok")
	case "RSET", "NOOP":
		s.reply("250 2.0.0 Ok")
	case "DATA":
		s.reply("354 End data with <CR><LF>.<CR><LF>")
		s.mode, s.dataSt = benchData, 2
	case "BDAT":
		size, last, _ := bytes.Cut(args, []byte(" "))
		n, err := strconv.Atoi(string(size))
		if err != nil {
			s.reply("501 5.5.4 Syntax: BDAT count [LAST]")
			return
		}
		s.bdatLeft, s.bdatLast = n, bytes.EqualFold(last, []byte("LAST"))
		s.mode = benchBdat
		if n == 0 {
			s.endChunk()
		}
	case "QUIT":
		s.reply("221 2.0.0 Bye")
	default:
		s.reply("502 5.5.2 Error: command not recognized")
	}
}

func (s *benchServer) Close() error                     { return nil }
func (s *benchServer) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (s *benchServer) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (s *benchServer) SetDeadline(time.Time) error      { return nil }
func (s *benchServer) SetReadDeadline(time.Time) error  { return nil }
func (s *benchServer) SetWriteDeadline(time.Time) error { return nil }

// benchMessage is a message of about size bytes: a header block and
// 70-column lines, as the loopback comparison sends.
func benchMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: ehlo benchmark message\r\n" +
		"Message-ID: <bench@example.com>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n")
	const line = "The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij.\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// BenchmarkSendmailInMemory is one SendMessage of a 1 KB message (what
// `ehlo send --repeat` does per message) against benchServer: the client's
// CPU per message, without the kernel or a server. With a Tracer, as a
// recorded or transcribed session has, and without, as --repeat runs.
func BenchmarkSendmailInMemory(b *testing.B) {
	msg := benchMessage(1024)
	from, to := "sender@example.com", []string{"rcpt@example.com"}
	env := &Envelope{From: &from, To: to}
	for _, bc := range []struct {
		name        string
		pipe, chunk bool
		tracer      bool
	}{
		{name: "plain"},
		{name: "pipelined", pipe: true},
		{name: "chunking", chunk: true},
		{name: "pipelined-chunking", pipe: true, chunk: true},
		{name: "pipelined-traced", pipe: true, tracer: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := &benchServer{}
			opts := Options{LocalHostname: "client.example.com", Pipelining: bc.pipe, Chunking: bc.chunk}
			if bc.tracer {
				opts.Tracer = TracerFunc(func(Event) {})
			}
			c := benchClient(srv, opts)
			if err := c.EhloOrHeloIfNeeded(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.SendMessage(bytes.NewReader(msg), env, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			if srv.messages != b.N {
				b.Fatalf("server took %d messages, want %d", srv.messages, b.N)
			}
		})
	}
}

// BenchmarkPipelineInMemory is what `ehlo send --repeat --chunking` does
// per message: the envelope worked out once (PrepareMessage), then one
// Pipeline.Send per message, transactions in flight behind each other.
// Against BenchmarkSendmailInMemory/pipelined-chunking it shows what
// parsing the header each time and waiting for each reply cost.
func BenchmarkPipelineInMemory(b *testing.B) {
	msg := benchMessage(1024)
	from, to := "sender@example.com", []string{"rcpt@example.com"}
	srv := &benchServer{}
	c := benchClient(srv, Options{LocalHostname: "client.example.com", Pipelining: true, Chunking: true})
	prep, err := c.PrepareMessage(bytes.NewReader(msg), &Envelope{From: &from, To: to}, nil)
	if err != nil {
		b.Fatal(err)
	}
	var failed error
	p := c.NewPipeline(0, func(r TxResult) {
		if r.Err != nil && failed == nil {
			failed = r.Err
		}
	})
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		p.Send(prep.From, prep.To, prep.Data, prep.MailOptions, nil)
	}
	p.Flush()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if failed != nil || srv.messages != b.N {
		b.Fatalf("server took %d messages of %d: %v", srv.messages, b.N, failed)
	}
}

// BenchmarkNoPipelineInMemory is what `ehlo send --repeat --no-pipeline`
// does per message (as smtp-source does): the envelope worked out once,
// then MAIL, RCPT, DATA and the message, each waiting for its reply.
// It is the client's CPU per message on that path, without the kernel.
func BenchmarkNoPipelineInMemory(b *testing.B) {
	msg := benchMessage(1024)
	from, to := "sender@example.com", []string{"rcpt@example.com"}
	srv := &benchServer{}
	c := benchClient(srv, Options{LocalHostname: "client.example.com"})
	prep, err := c.PrepareMessage(bytes.NewReader(msg), &Envelope{From: &from, To: to}, nil)
	if err != nil {
		b.Fatal(err)
	}
	var failed error
	p := c.NewPipeline(0, func(r TxResult) {
		if r.Err != nil && failed == nil {
			failed = r.Err
		}
	})
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		p.Send(prep.From, prep.To, prep.Data, prep.MailOptions, nil)
	}
	p.Flush()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if failed != nil || srv.messages != b.N {
		b.Fatalf("server took %d messages of %d: %v", srv.messages, b.N, failed)
	}
}

// BenchmarkDataLarge streams a 16 MiB message through DATA against
// benchServer: the DATA path end to end (message size, dot-stuffing,
// writes), in bytes per second, and its memory per message.
func BenchmarkDataLarge(b *testing.B) {
	msg := benchMessage(16 << 20)
	from, to := "sender@example.com", []string{"rcpt@example.com"}
	for _, bc := range []struct {
		name  string
		chunk bool
	}{{"data", false}, {"bdat", true}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := &benchServer{}
			c := benchClient(srv, Options{LocalHostname: "client.example.com", Chunking: bc.chunk})
			if err := c.EhloOrHeloIfNeeded(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Sendmail(from, to, bytes.NewReader(msg), nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var _ io.ReadWriter = (*benchServer)(nil)

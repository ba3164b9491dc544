package session

// Benchmarks of what `ehlo send --repeat` and the recording reader do:
// sending over loopback (the sandbox in this process, or an external
// server) and loading a 1,000,000-event recording. docs/performance.md
// has the numbers and the comparison with other clients (`make compare`).

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
)

// benchMessage1K is a message of about 1 KB, as the comparison sends.
func benchMessage1K() []byte {
	var b bytes.Buffer
	b.WriteString("From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: ehlo benchmark message\r\n" +
		"Message-ID: <bench@example.com>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n")
	const line = "The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij.\r\n"
	for b.Len()+len(line) <= 1024 {
		b.WriteString(line)
	}
	return b.Bytes()
}

// benchServerAddr is the server the loopback benchmark sends to: the
// sandbox, started in this process, or EHLO_BENCH_SMTP (host:port of, say,
// Postfix's smtp-sink, so that a CPU profile shows the client alone:
// smtp-sink -u nobody 127.0.0.1:2525 256 &
// EHLO_BENCH_SMTP=127.0.0.1:2525 go test -bench SendmailLoopback -cpuprofile cpu.out ./session).
func benchServerAddr(b *testing.B) string {
	if addr := os.Getenv("EHLO_BENCH_SMTP"); addr != "" {
		return addr
	}
	srv, err := sandbox.New(sandbox.Config{TLSListen: "-", MailboxLimit: 16})
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	b.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

// BenchmarkSendmailLoopback is `ehlo send --repeat b.N` over one
// connection to a server on loopback, one message of about 1 KB per
// iteration, with and without PIPELINING and CHUNKING. The connection and
// EHLO are made once per run, as --repeat makes them. With the sandbox the
// server's CPU is in the same process and on the same two cores, so the
// absolute rate is lower than against smtp-sink; the comparison between
// the modes is what it shows.
func BenchmarkSendmailLoopback(b *testing.B) {
	addr := benchServerAddr(b)
	msg := benchMessage1K()
	for _, bc := range []struct {
		name        string
		pipe, chunk bool
	}{
		{"one-at-a-time", false, false},
		{"pipelined", true, false},
		{"pipelined-chunking", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := SendConfig{
				Server: addr, Kind: protocol.SMTP, Helo: "client.example.com", Timeout: 30 * time.Second,
				From: "sender@example.com", HasFrom: true, To: []string{"rcpt@example.com"},
				Pipelining: bc.pipe, Chunking: bc.chunk,
			}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			res := SendRepeat(context.Background(), cfg, msg, b.N, 1)
			b.StopTimer()
			if res.Err != nil || res.Failed != 0 || res.Messages != b.N {
				b.Fatalf("sent %d of %d, %d failed: %v", res.Messages, b.N, res.Failed, res.Err)
			}
			b.ReportMetric(res.PerSecond(), "msgs/s")
			b.ReportMetric(float64(res.Percentile("transaction", 50).Microseconds()), "µs-median-txn")
		})
	}
}

// benchRecording is a recording of n events, built once per size: what a
// long --repeat or a capture of a busy session would leave. Each message
// is ten events (four commands, their replies, the message text and two
// state changes), one in a hundred messages is binary (base64), and the
// offsets grow as they would over a run of a few minutes.
var benchRecording = struct {
	sync.Mutex
	files map[int][]byte
}{files: map[int][]byte{}}

func benchRecordingFile(b *testing.B, n int) []byte {
	benchRecording.Lock()
	defer benchRecording.Unlock()
	if f, ok := benchRecording.files[n]; ok {
		return f
	}
	var buf bytes.Buffer
	buf.Grow(n * 110)
	if _, err := NewRecorder(&buf, Header{
		Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Server: "127.0.0.1:2525",
		Transport: "smtp", Network: "tcp", EhloVersion: "bench",
	}); err != nil {
		b.Fatal(err)
	}
	// Each event is encoded once by the Recorder's own encoder, with offset
	// 0, and written with its real offset in place of the 0: the lines are
	// exactly what a Recorder writes, at a fraction of the cost.
	const zero = `{"offset_us":0,`
	encode := func(e Event) []byte {
		line, err := marshalLine(toJSON(e))
		if err != nil || !bytes.HasPrefix(line, []byte(zero)) {
			b.Fatalf("event line %q (%v) does not start with %s", line, err, zero)
		}
		return line[len(zero):]
	}
	off := int64(0)
	write := func(rest []byte) {
		off += 37
		buf.WriteString(`{"offset_us":`)
		buf.Write(strconv.AppendInt(nil, off, 10))
		buf.WriteByte(',')
		buf.Write(rest)
	}
	body := []byte("From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: recorded message\r\n\r\n" +
		"The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij.\r\n.\r\n")
	binary := encode(Event{Kind: KindClient, Data: append([]byte("\x00\x01\x02\xff binary body \xfe\r\n"), body...)})
	var rcpts [1000][]byte
	for i := range rcpts {
		rcpts[i] = encode(Event{Kind: KindClient, Data: []byte("RCPT TO:<rcpt" + strconv.Itoa(i) + "@example.com>\r\n")})
	}
	steps := [][]byte{
		encode(Event{Kind: KindClient, Data: []byte("MAIL FROM:<sender@example.com> SIZE=" + strconv.Itoa(len(body)) + "\r\n")}),
		encode(Event{Kind: KindServer, Data: []byte("250 2.1.0 Ok\r\n")}),
		nil, // RCPT, one of rcpts
		encode(Event{Kind: KindServer, Data: []byte("250 2.1.5 Ok\r\n")}),
		encode(Event{Kind: KindClient, Data: []byte("DATA\r\n")}),
		encode(Event{Kind: KindServer, Data: []byte("354 End data with <CR><LF>.<CR><LF>\r\n")}),
		encode(Event{Kind: KindState, State: protocol.State{Phase: protocol.PhaseData, Recipients: 1}}),
		encode(Event{Kind: KindClient, Data: body}),
		encode(Event{Kind: KindServer, Data: []byte("250 2.0.0 Ok: queued as 4Xq9Lw0Yx1z2\r\n")}),
		encode(Event{Kind: KindState, State: protocol.State{Phase: protocol.PhaseHello}}),
	}
	write(encode(Event{Kind: KindConnect, Network: "tcp", Addr: "127.0.0.1:2525"}))
	for i, msgNo := 1, 0; i < n-1; msgNo++ {
		for j, rest := range steps {
			if i >= n-1 {
				break
			}
			switch {
			case j == 2:
				rest = rcpts[msgNo%len(rcpts)]
			case j == 7 && msgNo%100 == 99:
				rest = binary
			}
			write(rest)
			i++
		}
	}
	write(encode(Event{Kind: KindClose, Text: "end of recording"}))
	f := buf.Bytes()
	benchRecording.files[n] = f
	return f
}

// BenchmarkRecordingRead1M is session.Read of a 1,000,000-event recording
// (about 100 MB of JSON Lines) from memory: the time `ehlo replay` and
// the TUI take to load it before showing anything. The target is under a
// second.
func BenchmarkRecordingRead1M(b *testing.B) {
	const n = 1_000_000
	file := benchRecordingFile(b, n)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec, err := Read(bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		if len(rec.Events) != n || len(rec.Problems) != 0 {
			b.Fatalf("%d events, problems %v", len(rec.Events), rec.Problems)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "events/s")
}

package session

// Benchmarks of what `ehlo send --repeat` does: sending over loopback
// (the sandbox in this process, or an external server). The recording
// reader's are in recordings. docs/performance.md has the numbers and the
// comparison with other clients (`make compare`).

import (
	"bytes"
	"context"
	"os"
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
			cpu0, cpuOK := processCPU()
			b.ResetTimer()
			res := SendRepeat(context.Background(), cfg, msg, b.N, 1)
			b.StopTimer()
			cpu1, _ := processCPU()
			if res.Err != nil || res.Failed != 0 || res.Messages != b.N {
				b.Fatalf("sent %d of %d, %d failed: %v", res.Messages, b.N, res.Failed, res.Err)
			}
			b.ReportMetric(res.PerSecond(), "msgs/s")
			b.ReportMetric(float64(res.Percentile("transaction", 50).Microseconds()), "µs-median-txn")
			if cpuOK {
				// The process's CPU: the client's alone with EHLO_BENCH_SMTP,
				// the client's and the sandbox's without.
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
			}
		})
	}
}

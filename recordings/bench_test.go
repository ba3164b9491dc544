package recordings

// The benchmark of the recording reader: loading a 1,000,000-event
// recording. docs/performance.md has the numbers.

import (
	"bytes"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

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
	encode := func(e session.Event) []byte {
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
	binary := encode(session.Event{Kind: session.KindClient, Data: append([]byte("\x00\x01\x02\xff binary body \xfe\r\n"), body...)})
	var rcpts [1000][]byte
	for i := range rcpts {
		rcpts[i] = encode(session.Event{Kind: session.KindClient, Data: []byte("RCPT TO:<rcpt" + strconv.Itoa(i) + "@example.com>\r\n")})
	}
	steps := [][]byte{
		encode(session.Event{Kind: session.KindClient, Data: []byte("MAIL FROM:<sender@example.com> SIZE=" + strconv.Itoa(len(body)) + "\r\n")}),
		encode(session.Event{Kind: session.KindServer, Data: []byte("250 2.1.0 Ok\r\n")}),
		nil, // RCPT, one of rcpts
		encode(session.Event{Kind: session.KindServer, Data: []byte("250 2.1.5 Ok\r\n")}),
		encode(session.Event{Kind: session.KindClient, Data: []byte("DATA\r\n")}),
		encode(session.Event{Kind: session.KindServer, Data: []byte("354 End data with <CR><LF>.<CR><LF>\r\n")}),
		encode(session.Event{Kind: session.KindState, State: protocol.State{Phase: protocol.PhaseData, Recipients: 1}}),
		encode(session.Event{Kind: session.KindClient, Data: body}),
		encode(session.Event{Kind: session.KindServer, Data: []byte("250 2.0.0 Ok: queued as 4Xq9Lw0Yx1z2\r\n")}),
		encode(session.Event{Kind: session.KindState, State: protocol.State{Phase: protocol.PhaseHello}}),
	}
	write(encode(session.Event{Kind: session.KindConnect, Network: "tcp", Addr: "127.0.0.1:2525"}))
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
	write(encode(session.Event{Kind: session.KindClose, Text: "end of recording"}))
	f := buf.Bytes()
	benchRecording.files[n] = f
	return f
}

// BenchmarkRecordingRead1M is Read of a 1,000,000-event recording
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

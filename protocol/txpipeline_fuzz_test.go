package protocol

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// fuzzServerConn plays a server that greets with a fixed EHLO reply and
// then answers with whatever the fuzzer gives, then closes; what the
// client writes is thrown away.
type fuzzServerConn struct{ r io.Reader }

func (c *fuzzServerConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *fuzzServerConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *fuzzServerConn) Close() error                     { return nil }
func (c *fuzzServerConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fuzzServerConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fuzzServerConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzServerConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzServerConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzPipeline gives a Pipeline any reply stream: whatever the server
// says, every message sent gets exactly one result, in order, nothing
// panics, and a result without error is one the replies allowed.
func FuzzPipeline(f *testing.F) {
	ok := "250 ok\r\n"
	f.Add([]byte(ok+ok+ok+"250 done\r\n"+ok+ok+ok+ok+"250 done\r\n"), uint8(2), uint8(0), uint8(3))
	f.Add([]byte("250 ok\r\n550 no\r\n550 no\r\n554 none\r\n250 reset\r\n421 bye\r\n"), uint8(3), uint8(1), uint8(3))
	f.Add([]byte(ok+ok+ok+"354 go\r\n250 one\r\n250 reset\r\n"+ok+ok+ok+"354 go\r\n250 two\r\n"), uint8(2), uint8(0), uint8(0))
	f.Add([]byte(ok+ok+ok+"250 2.0.0 b ok\r\n452 4.2.2 c full\r\n"), uint8(1), uint8(0), uint8(5))
	f.Fuzz(func(t *testing.T, replies []byte, n, depth, flags uint8) {
		greeting := "250-fuzz.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
		conn := &fuzzServerConn{r: io.MultiReader(strings.NewReader(greeting), bytes.NewReader(replies))}
		c := benchClient(conn, Options{Pipelining: true, Chunking: flags&1 != 0, Timeout: time.Second})
		if flags&4 != 0 {
			c.kind = LMTP
		}
		if err := c.EhloOrHeloIfNeeded(); err != nil {
			t.Fatalf("EHLO: %v", err)
		}
		var got []TxResult
		p := c.NewPipeline(int(depth%20), func(r TxResult) { got = append(got, r) })
		want := int(n%8) + 1
		for range want {
			p.Send("a@x.test", []string{"b@y.test", "c@y.test"}, []byte("Subject: f\r\n\r\nbody\r\n"), nil, nil)
		}
		p.Flush()
		if len(got) != want {
			t.Fatalf("%d results for %d messages", len(got), want)
		}
		for i, r := range got {
			if r.Err == nil && len(r.Refused) >= 2 {
				t.Fatalf("message %d: no error with every recipient refused: %v", i, r.Refused)
			}
			if r.Done.Before(r.Written) {
				t.Fatalf("message %d: done before written", i)
			}
		}
	})
}

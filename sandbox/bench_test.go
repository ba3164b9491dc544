package sandbox

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
)

// devNull is a writer that is not io.Discard, so the log is formatted and
// written as it is into /dev/null.
type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkServe is the sandbox as smtp-source drives it: one command at
// a time, a 1 KiB message, into a mailbox already full at the default
// limit (issue 17: a full mailbox used to cost a copy of every message per
// delivery). The client is as lean as it can be; most of the CPU is the
// server's and the kernel's.
func BenchmarkServe(b *testing.B) {
	body := strings.Repeat(strings.Repeat("x", 70)+"\r\n", 14) // about 1 KiB
	txn := []string{"MAIL FROM:<a@x.test>\r\n", "RCPT TO:<b@x.test>\r\n", "DATA\r\n", body + ".\r\n"}
	for _, bc := range []struct {
		name    string
		log     io.Writer
		perConn bool
	}{
		{"persistent/quiet", io.Discard, false},
		{"persistent/log", devNull{}, false},
		{"connection-per-message/quiet", io.Discard, true},
		{"connection-per-message/log", devNull{}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv, err := New(Config{Log: bc.log, TLSListen: "-"})
			if err != nil {
				b.Fatal(err)
			}
			srv.Start()
			defer srv.Close()
			for range DefaultMailboxLimit {
				srv.mailbox.add(Message{From: "a@x.test", To: []string{"b@x.test"}, Data: []byte(body)})
			}
			var nc net.Conn
			var r *bufio.Reader
			open := func() {
				if nc, err = net.Dial("tcp", srv.Addr()); err != nil {
					b.Fatal(err)
				}
				r = bufio.NewReader(nc)
				expect(b, r, '2')
				send(b, nc, r, "EHLO client.test\r\n", '2')
			}
			shut := func() {
				send(b, nc, r, "QUIT\r\n", '2')
				nc.Close()
			}
			if !bc.perConn {
				open()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if bc.perConn {
					open()
				}
				send(b, nc, r, txn[0], '2')
				send(b, nc, r, txn[1], '2')
				send(b, nc, r, txn[2], '3')
				send(b, nc, r, txn[3], '2')
				if bc.perConn {
					shut()
				}
			}
			b.StopTimer()
			if !bc.perConn {
				shut()
			}
			if srv.Mailbox().Len() != DefaultMailboxLimit {
				b.Fatalf("mailbox holds %d", srv.Mailbox().Len())
			}
		})
	}
}

func send(b *testing.B, nc net.Conn, r *bufio.Reader, s string, class byte) {
	if _, err := io.WriteString(nc, s); err != nil {
		b.Fatal(err)
	}
	expect(b, r, class)
}

// expect reads one reply, which must be of the class given ('2', '3').
func expect(b *testing.B, r *bufio.Reader, class byte) {
	for {
		l, err := r.ReadSlice('\n')
		if err != nil || len(l) < 4 || l[0] != class {
			b.Fatalf("reply %q, %v", l, err)
		}
		if l[3] == ' ' {
			return
		}
	}
}

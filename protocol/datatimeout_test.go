package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// slowServer answers a transaction and, after 354, reads the message
// through a small receive buffer at most chunk bytes every pause (pause
// < 0: never). It reports everything it read after the 354.
func slowServer(t *testing.T, chunk int, pause time.Duration) (addr string, got <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	out := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			out <- nil
			return
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetReadBuffer(4096)
		br := bufio.NewReader(conn)
		io.WriteString(conn, "220 slow ESMTP\r\n")
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				out <- nil
				return
			}
			switch strings.ToUpper(line[:4]) {
			case "EHLO":
				io.WriteString(conn, "250-slow\r\n250 8BITMIME\r\n")
			case "DATA":
				io.WriteString(conn, "354 go ahead\r\n")
				out <- drain(conn, br, chunk, pause)
				return
			default:
				io.WriteString(conn, "250 ok\r\n")
			}
		}
	}()
	return ln.Addr().String(), out
}

func drain(conn net.Conn, br *bufio.Reader, chunk int, pause time.Duration) []byte {
	var data []byte
	buf := make([]byte, chunk)
	if pause < 0 {
		// Read nothing until the client has surely given up, then see
		// what it sent.
		time.Sleep(time.Second)
		conn.SetReadDeadline(time.Now().Add(time.Second))
		data, _ = io.ReadAll(br)
		return data
	}
	for {
		time.Sleep(pause)
		n, err := br.Read(buf)
		data = append(data, buf[:n]...)
		if bytes.HasSuffix(data, []byte("\r\n.\r\n")) {
			io.WriteString(conn, "250 queued\r\n")
			return data
		}
		if err != nil {
			return data
		}
	}
}

func slowClient(t *testing.T, addr string, timeout, dataTimeout time.Duration) *Client {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	c := NewClient(SMTP, Options{LocalHostname: "client.test", Timeout: timeout, DataTimeout: dataTimeout})
	if _, err := c.Connect(host, atoiPort(port)); err != nil {
		t.Fatal(err)
	}
	// A small send buffer, so the test's message need not be large to
	// fill the path between the two sockets.
	raw := c.raw
	if u, ok := raw.(interface{ NetConn() net.Conn }); ok {
		raw = u.NetConn()
	}
	raw.(*net.TCPConn).SetWriteBuffer(8192)
	return c
}

func atoiPort(s string) int {
	n := 0
	for _, ch := range s {
		n = n*10 + int(ch-'0')
	}
	return n
}

// TestCatalogueJ8DataTimeout: a server that keeps draining the message,
// slowly, makes progress within every --timeout; the overall data timeout
// still ends the send, promptly, and the message is not ended with ".".
func TestCatalogueJ8DataTimeout(t *testing.T) {
	addr, got := slowServer(t, 4096, 5*time.Millisecond)
	c := slowClient(t, addr, time.Second, 300*time.Millisecond)
	msg := bytes.Repeat([]byte("Subject: x\r\n\r\n"+strings.Repeat("y", 998)+"\r\n"), 4000) // 4 MB
	start := time.Now()
	_, err := c.Sendmail("a@x.test", []string{"b@x.test"}, bytes.NewReader(msg), nil, nil)
	elapsed := time.Since(start)
	var sd *ServerDisconnectedError
	if !errors.As(err, &sd) || !strings.Contains(err.Error(), "message not written within the data timeout (300ms)") {
		t.Fatalf("err = %v, want the data timeout", err)
	}
	t.Logf("failed after %s", elapsed)
	if elapsed > 3*time.Second {
		t.Fatalf("the send took %s with a data timeout of 300ms", elapsed)
	}
	data := <-got
	if bytes.HasSuffix(data, []byte("\r\n.\r\n")) || len(data) >= len(msg) {
		t.Fatalf("the server got the whole message (%d bytes, ends %q)", len(data), data[max(0, len(data)-5):])
	}
}

// TestCatalogueJ8NoProgress: a server that stops reading fails the send
// after --timeout, with no data timeout set, and without the ".".
func TestCatalogueJ8NoProgress(t *testing.T) {
	addr, got := slowServer(t, 0, -1)
	c := slowClient(t, addr, 300*time.Millisecond, 0)
	msg := bytes.Repeat([]byte("Subject: x\r\n\r\n"+strings.Repeat("y", 998)+"\r\n"), 4000)
	start := time.Now()
	_, err := c.Sendmail("a@x.test", []string{"b@x.test"}, bytes.NewReader(msg), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "the server took no message data for 300ms") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the send took %s with a timeout of 300ms", d)
	}
	if data := <-got; bytes.Contains(data, []byte("\r\n.\r\n")) {
		t.Fatal("the server got the end of data")
	}
}

// TestDataTimeoutEndsWithTransaction: the data timeout covers writing one
// message; commands after it are not held to it.
func TestDataTimeoutEndsWithTransaction(t *testing.T) {
	addr, got := slowServer(t, 64<<10, 0)
	c := slowClient(t, addr, time.Second, 200*time.Millisecond)
	if _, err := c.Sendmail("a@x.test", []string{"b@x.test"}, strings.NewReader("Subject: x\r\n\r\nhi\r\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	<-got
	time.Sleep(250 * time.Millisecond)
	if err := c.write([]byte("NOOP\r\n"), nil); err != nil {
		t.Fatalf("a command after the message fell under its deadline: %v", err)
	}
}

// TestCatalogueJ8DataTimeoutBDAT: with CHUNKING, a server that takes each
// chunk at once but answers it just within --timeout cannot stretch the
// message either: the data timeout ends it, the wait for a chunk's reply
// included, and BDAT LAST is never sent.
func TestCatalogueJ8DataTimeoutBDAT(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sawLast := make(chan bool, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			sawLast <- false
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		io.WriteString(conn, "220 slow ESMTP\r\n")
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				sawLast <- false
				return
			}
			f := strings.Fields(line)
			switch strings.ToUpper(f[0]) {
			case "EHLO":
				io.WriteString(conn, "250-slow\r\n250 CHUNKING\r\n")
			case "BDAT":
				if len(f) > 2 {
					sawLast <- true
					return
				}
				n := atoiPort(f[1])
				io.CopyN(io.Discard, br, int64(n))
				time.Sleep(900 * time.Millisecond)
				io.WriteString(conn, "250 chunk ok\r\n")
			default:
				io.WriteString(conn, "250 ok\r\n")
			}
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	c := NewClient(SMTP, Options{LocalHostname: "client.test", Timeout: 2 * time.Second, DataTimeout: 300 * time.Millisecond, Chunking: true})
	if _, err := c.Connect(host, atoiPort(port)); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("Subject: x\r\n\r\n"+strings.Repeat("y", 998)+"\r\n"), 4000) // 16 chunks
	start := time.Now()
	_, err = c.Sendmail("a@x.test", []string{"b@x.test"}, bytes.NewReader(msg), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "message not written within the data timeout (300ms)") {
		t.Fatalf("err = %v", err)
	}
	// The wait for the first chunk's reply is cut short too (900 ms
	// otherwise).
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Fatalf("the send took %s", d)
	}
	if <-sawLast {
		t.Fatal("BDAT LAST was sent")
	}
}

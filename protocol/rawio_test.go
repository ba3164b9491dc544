//go:build linux

package protocol

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestRawSocketKeepsConnContract: the raw path (rawio_linux.go) is what a
// TCP client reads and writes through, and it keeps net.Conn's contract:
// a write larger than the socket buffer to a slow reader arrives whole, a
// read deadline times out as a net.Error, a closed peer reads as io.EOF.
func TestRawSocketKeepsConnContract(t *testing.T) {
	nc, peer := tcpPair(t)
	c := withRawIO(nc)
	if _, ok := c.(*rawSocket); !ok {
		t.Fatalf("withRawIO gave %T", c)
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		var buf bytes.Buffer
		p := make([]byte, 4096)
		for buf.Len() < len(big) {
			n, err := peer.Read(p)
			buf.Write(p[:n])
			if err != nil {
				break
			}
			if buf.Len()%(1<<20) < 4096 {
				time.Sleep(time.Millisecond)
			}
		}
		got <- buf.Bytes()
	}()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("peer read %d bytes, not the %d written", len(b), len(big))
	}

	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read with nothing sent: %v, want a timeout", err)
	}

	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 10)
	if n, err := c.Read(p); err != nil || string(p[:n]) != "hello" {
		t.Fatalf("Read: %q, %v", p[:n], err)
	}
	peer.Close()
	if _, err := c.Read(p); err != io.EOF {
		t.Fatalf("Read after the peer closed: %v, want io.EOF", err)
	}
}

// TestRawIOOrdersWritesBeforeReads: a value set before a write is ordered
// before the read that gets those bytes, as net.Conn's ordinary calls
// order them for the race detector (rawio_race.go). Under -race, as `make
// test` runs, the pair below is reported as a race without that edge.
func TestRawIOOrdersWritesBeforeReads(t *testing.T) {
	nc, peer := tcpPair(t)
	writer, reader := withRawIO(nc), withRawIO(peer)
	if _, ok := reader.(*rawSocket); !ok {
		t.Fatalf("withRawIO gave %T", reader)
	}
	var shared int
	seen := make(chan int)
	go func() {
		if _, err := reader.Read(make([]byte, 1)); err != nil {
			t.Error(err)
		}
		seen <- shared
	}()
	shared = 42
	if _, err := writer.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if v := <-seen; v != 42 {
		t.Errorf("the reader saw %d", v)
	}
}

// tcpPair returns both ends of a TCP connection on loopback, closed when
// the test ends: the one dialled, then the one accepted.
func tcpPair(t *testing.T) (dialled, accepted net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peerc := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		peerc <- c
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-peerc
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { nc.Close(); peer.Close() })
	return nc, peer
}

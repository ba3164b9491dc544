//go:build linux

package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
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
	return connPair(t, "tcp", "127.0.0.1:0")
}

// unixPair is tcpPair for a Unix stream socket.
func unixPair(t *testing.T) (dialled, accepted net.Conn) {
	t.Helper()
	return connPair(t, "unix", t.TempDir()+"/s")
}

func connPair(t *testing.T, network, addr string) (dialled, accepted net.Conn) {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peerc := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		peerc <- c
	}()
	nc, err := net.Dial(network, l.Addr().String())
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

// exchange stages cmd on c, reads the reply the peer sends after delay,
// and checks that the write was reported, whole, before the reply came.
func exchange(t *testing.T, c *rawSocket, peer net.Conn, cmd, reply string, delay time.Duration) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		p := make([]byte, len(cmd))
		if _, err := io.ReadFull(peer, p); err != nil || string(p) != cmd {
			errc <- fmt.Errorf("peer read %q, %v", p, err)
			return
		}
		time.Sleep(delay)
		_, err := peer.Write([]byte(reply))
		errc <- err
	}()
	written := -1
	if !c.stageWrite([]byte(cmd), time.Now().Add(10*time.Second), func(n int, err error) {
		if err != nil {
			t.Errorf("staged write: %v", err)
		}
		written = n
	}) {
		t.Fatal("stageWrite refused after a read that took everything")
	}
	if written != -1 {
		t.Fatal("the staged write was made before the read")
	}
	p := make([]byte, 4096)
	n, err := c.Read(p)
	if err != nil || string(p[:n]) != reply {
		t.Fatalf("Read: %q, %v; want %q", p[:n], err, reply)
	}
	if written != len(cmd) {
		t.Fatalf("the read reported %d bytes of the staged write, want %d", written, len(cmd))
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestStagedWriteSavesTheEmptyRead: a command staged with stageWrite is
// written by the read of its reply, after the read is armed, so the read
// waits for the reply without first trying a socket that cannot have it
// yet (the system call finding 23 of docs/performance.md saves). The same
// exchanges written ordinarily make that try each time.
func TestStagedWriteSavesTheEmptyRead(t *testing.T) {
	nc, peer := tcpPair(t)
	c := withRawIO(nc).(*rawSocket)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	peerSays(t, c, peer, "220 hi\r\n")
	p := make([]byte, 4096)
	const rounds = 20
	before := c.rd.empty
	for range rounds {
		exchange(t, c, peer, "NOOP\r\n", "250 ok\r\n", 2*time.Millisecond)
	}
	if got := c.rd.empty - before; got != 0 {
		t.Errorf("staged exchanges tried an empty socket %d times, want 0", got)
	}

	before = c.rd.empty
	for range rounds {
		go func() {
			q := make([]byte, 6)
			_, _ = io.ReadFull(peer, q)
			time.Sleep(2 * time.Millisecond)
			_, _ = peer.Write([]byte("250 ok\r\n"))
		}()
		if _, err := c.Write([]byte("NOOP\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(p); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.rd.empty - before; got < rounds/2 {
		t.Errorf("ordinary exchanges tried an empty socket %d times in %d, want most", got, rounds)
	}
}

// TestStageNeedsADrainedSocket: bytes the last read left in the socket
// would be read only when the reply's arrival woke the read, so a write
// is staged only after a read that took everything.
func TestStageNeedsADrainedSocket(t *testing.T) {
	nc, peer := tcpPair(t)
	c := withRawIO(nc).(*rawSocket)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if c.stageWrite([]byte("NOOP\r\n"), time.Now().Add(10*time.Second), func(int, error) {}) {
		t.Fatal("staged before any read")
	}
	if _, err := peer.Write([]byte("220 hello\r\n")); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4)
	if n, err := io.ReadFull(c, p); n != 4 || err != nil {
		t.Fatal(n, err)
	}
	if c.stageWrite([]byte("NOOP\r\n"), time.Now().Add(10*time.Second), func(int, error) {}) {
		t.Fatal("staged after a read that filled its buffer")
	}
	if _, err := c.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	exchange(t, c, peer, "NOOP\r\n", "250 ok\r\n", 0)
}

// TestStagedWriteTooBigForTheSocket: a staged write the socket takes only
// in part is finished under the write deadline before the reply is read,
// and reported whole.
func TestStagedWriteTooBigForTheSocket(t *testing.T) {
	nc, peer := tcpPair(t)
	_ = nc.(*net.TCPConn).SetWriteBuffer(4096)
	c := withRawIO(nc).(*rawSocket)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	peerSays(t, c, peer, "354 go\r\n")
	big := bytes.Repeat([]byte("0123456789abcd\r\n"), 1<<16) // 1 MiB
	big = append(big, ".\r\n"...)
	// 1 MiB does not fit in the socket's buffers: the read's write
	// is partial.
	exchange(t, c, peer, string(big), "250 queued\r\n", 0)
	if c.st.n >= len(big) {
		t.Fatalf("the socket took all %d bytes at once: no partial write to finish", c.st.n)
	}
	if c.st.rest != nil || c.st.done != nil {
		t.Error("the staged write is still held after the read")
	}
}

// TestStagedWriteFailureIsTheReadsError: a staged write the kernel
// refuses (the peer reset the connection) is reported to its caller and
// fails the read; nothing waits for a reply that cannot come.
func TestStagedWriteFailureIsTheReadsError(t *testing.T) {
	nc, peer := tcpPair(t)
	c := withRawIO(nc).(*rawSocket)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	peerSays(t, c, peer, "220 hi\r\n")
	_ = peer.(*net.TCPConn).SetLinger(0)
	peer.Close()
	time.Sleep(20 * time.Millisecond) // the reset reaches the client's socket
	var calls int
	var werr error
	if !c.stageWrite([]byte("NOOP\r\n"), time.Now().Add(10*time.Second), func(n int, err error) {
		calls++
		werr = err
		if n != 0 {
			t.Errorf("reported %d bytes written to a reset connection", n)
		}
	}) {
		t.Fatal("stageWrite refused")
	}
	start := time.Now()
	_, err := c.Read(make([]byte, 64))
	if err == nil || calls != 1 || !errors.Is(err, werr) {
		t.Fatalf("Read: %v; the write was reported %d times, last with %v", err, calls, werr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the failure took %s", d)
	}
}

// TestStagedWriteRestHasItsDeadline: what the socket does not take at once
// of a staged write must be taken by the deadline given with it, as an
// ordinary write must; a peer that stops reading fails the read with a
// timeout, and the write is reported as far as it got.
func TestStagedWriteRestHasItsDeadline(t *testing.T) {
	nc, peer := tcpPair(t)
	_ = nc.(*net.TCPConn).SetWriteBuffer(4096)
	c := withRawIO(nc).(*rawSocket)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	peerSays(t, c, peer, "354 go\r\n")
	big := bytes.Repeat([]byte("0123456789abcd\r\n"), 1<<16)
	written, calls := 0, 0
	var werr error
	if !c.stageWrite(big, time.Now().Add(100*time.Millisecond), func(n int, err error) {
		written, werr = n, err
		calls++
	}) {
		t.Fatal("stageWrite refused")
	}
	start := time.Now()
	_, err := c.Read(make([]byte, 64)) // the peer reads nothing
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, werr) {
		t.Fatalf("Read: %v (write reported %v), want the write's timeout", err, werr)
	}
	if calls != 1 || written <= 0 || written >= len(big) {
		t.Errorf("write reported %d times, %d of %d bytes", calls, written, len(big))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timeout took %s", d)
	}
}

// TestStagedWriteToAFullSocket: a staged write that finds the socket's
// buffer full (EAGAIN) is not a failure: all of it is written the ordinary
// way, under its deadline, once the peer reads. A Unix socket, because a
// full TCP one may still take a few bytes into its last segment.
func TestStagedWriteToAFullSocket(t *testing.T) {
	nc, peer := unixPair(t)
	c := withRawIO(nc).(*rawSocket)
	// Fill the socket's buffer to the last byte it takes.
	rc, err := nc.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	filled := 0
	if err := rc.Write(func(fd uintptr) bool {
		for {
			if n, err := syscall.Write(int(fd), []byte("x")); err != nil || n != 1 {
				return true
			}
			filled++
		}
	}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	peerSays(t, c, peer, "250 ok\r\n")
	cmd := "\r\nNOOP\r\n"
	errc := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		got, err := io.ReadAll(io.LimitReader(peer, int64(filled+len(cmd))))
		if err == nil && !strings.HasSuffix(string(got), cmd) {
			err = fmt.Errorf("peer read %d bytes ending %q", len(got), got[max(0, len(got)-16):])
		}
		if err == nil {
			_, err = peer.Write([]byte("250 ok\r\n"))
		}
		errc <- err
	}()
	var written int
	if !c.stageWrite([]byte(cmd), time.Now().Add(10*time.Second), func(n int, err error) {
		if err != nil {
			t.Errorf("staged write: %v", err)
		}
		written = n
	}) {
		t.Fatal("stageWrite refused")
	}
	p := make([]byte, 64)
	n, err := c.Read(p)
	if err != nil || string(p[:n]) != "250 ok\r\n" || written != len(cmd) {
		t.Fatalf("Read: %q, %v; %d bytes of the staged write reported", p[:n], err, written)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if c.st.n != 0 {
		t.Errorf("the read's write took %d bytes of a full socket", c.st.n)
	}
}

// peerSays has the peer write line and c read all of it, which leaves c's
// socket drained, as a reply read before a staged write leaves it.
func peerSays(t *testing.T, c, peer net.Conn, line string) {
	t.Helper()
	if _, err := peer.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4096)
	if n, err := io.ReadAtLeast(c, p, len(line)); err != nil || string(p[:n]) != line {
		t.Fatalf("read %q, %v; want the peer's %q", p[:n], err, line)
	}
}

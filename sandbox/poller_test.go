//go:build linux

package sandbox

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// serverSide returns the server's end of the one session open on srv.
func serverSide(t *testing.T, srv *Server) *conn {
	t.Helper()
	for range 200 {
		srv.mu.Lock()
		for c := range srv.conns {
			srv.mu.Unlock()
			return c
		}
		srv.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no session")
	return nil
}

// TestAcceptedConnectionsHaveNoKeepAlive: keep-alive cost four system
// calls per accepted connection (listen.go says why it is not needed);
// TCP_NODELAY, which the net package sets, is set by the poller too.
func TestAcceptedConnectionsHaveNoKeepAlive(t *testing.T) {
	srv, _ := start(t, Config{})
	for _, addr := range []string{srv.Addr(), srv.TLSAddr()} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := serverSide(t, srv)
		pc, ok := c.raw.Conn.(*pconn)
		if !ok {
			t.Fatalf("%s: accepted as %T, not in the sandbox's poller", addr, c.raw.Conn)
		}
		for _, o := range []struct {
			level, name, want int
		}{{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 0}, {syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1}} {
			if v, err := syscall.GetsockoptInt(pc.fd, o.level, o.name); err != nil || v != o.want {
				t.Errorf("%s: option %d is %d (%v), want %d", addr, o.name, v, err, o.want)
			}
		}
		nc.Close()
		for range 200 {
			srv.mu.Lock()
			n := len(srv.conns)
			srv.mu.Unlock()
			if n == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// pollPair returns both ends of a connection on loopback (network "tcp"
// or "unix"): the one dialled, and the one accepted into a poller. Both
// are closed, and the poller stopped, when the test ends.
func pollPair(t *testing.T, network string) (dialled net.Conn, accepted *pconn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	return pollPairAt(t, network, addr, "")
}

// pollPairAt is pollPair on a listener at addr, dialled on host dialHost
// if set (for a listener on every address).
func pollPairAt(t *testing.T, network, addr, dialHost string) (dialled net.Conn, accepted *pconn) {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		c   net.Conn
		err error
	}
	accepted1 := make(chan result, 1)
	done := make(chan struct{})
	defer close(done) // closes the listener's duplicate
	go func() {
		c, err := p.accept(l, done)
		accepted1 <- result{c, err}
	}()
	dial := l.Addr().String()
	if dialHost != "" {
		_, port, _ := net.SplitHostPort(dial)
		dial = net.JoinHostPort(dialHost, port)
	}
	nc, err := net.Dial(network, dial)
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted1
	if r.err != nil {
		t.Fatal(r.err)
	}
	pc := r.c.(*pconn)
	t.Cleanup(func() { nc.Close(); pc.Close(); p.close() })
	return nc, pc
}

// TestPollConnSemantics: the poller's connections keep net.Conn's
// contract: a write larger than the socket buffer to a slow reader
// arrives whole, a read deadline times out as a net.Error, a deadline
// already past fails at once, a write to a peer that reads nothing ends
// at its deadline, and a closed peer reads as io.EOF.
func TestPollConnSemantics(t *testing.T) {
	for _, where := range pollPlaces {
		t.Run(where.name, func(t *testing.T) {
			client, pc := pollPair(t, "tcp")
			where.put(t, client, pc)
			testPollConnSemantics(t, client, pc)

			// A peer that reads nothing: the write waits, and ends at
			// its deadline (64 MiB is more than both sockets' buffers).
			client, pc = pollPair(t, "tcp")
			where.put(t, client, pc)
			_ = pc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := pc.Write(make([]byte, 64<<20))
			if !errors.Is(err, os.ErrDeadlineExceeded) || n >= 64<<20 {
				t.Fatalf("Write to a peer that reads nothing: %d bytes, %v; want a timeout", n, err)
			}
		})
	}
}

func testPollConnSemantics(t *testing.T, client net.Conn, pc *pconn) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		var buf bytes.Buffer
		p := make([]byte, 4096)
		for buf.Len() < len(big) {
			n, err := client.Read(p)
			buf.Write(p[:n])
			if err != nil {
				break
			}
			if buf.Len()%(1<<20) < 4096 {
				time.Sleep(time.Millisecond) // slow: the server's writes fill the socket
			}
		}
		got <- buf.Bytes()
	}()
	_ = pc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if n, err := pc.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("peer read %d bytes, not the %d written", len(b), len(big))
	}

	_ = pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := pc.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with nothing sent: %v, want a timeout", err)
	}
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := pc.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline, with data waiting: %v, want a timeout", err)
	}
	_ = pc.SetReadDeadline(time.Time{})
	p := make([]byte, 10)
	if n, err := pc.Read(p); err != nil || string(p[:n]) != "hello" {
		t.Fatalf("Read: %q, %v", p[:n], err)
	}
	client.Close()
	if _, err := pc.Read(p); err != io.EOF {
		t.Fatalf("Read after the peer closed: %v, want io.EOF", err)
	}
}

// TestPollConnWaitsEnd: a wait in progress ends when another goroutine
// closes the connection (Server.Close does) or brings its deadline
// forward; a second Close says the connection is closed.
func TestPollConnWaitsEnd(t *testing.T) {
	for _, where := range pollPlaces {
		t.Run(where.name, func(t *testing.T) {
			client, pc := pollPair(t, "tcp")
			where.put(t, client, pc)
			testPollConnWaitsEnd(t, pc)
		})
	}
}

// pollPlaces are where a connection can wait, each test of the contract
// run in each: the poller's set, the runtime's poller, and the runtime's
// poller with other sessions there too, where a read that finds nothing
// tries again before it waits (spinRead).
var pollPlaces = []struct {
	name string
	put  func(t *testing.T, client net.Conn, pc *pconn)
}{
	{"in the set", func(*testing.T, net.Conn, *pconn) {}},
	{"moved", move},
	{"moved, others busy", func(t *testing.T, client net.Conn, pc *pconn) {
		move(t, client, pc)
		pc.p.moved.Add(spinPeers) // as if other sessions had moved too
	}},
}

// TestSpinReadOnlyWhenOthersBusy: a read that found nothing is tried
// again only while other sessions are in the runtime's poller, and a try
// that finds the next command returns it; a lone session goes straight
// to its wait, its command left for the read after the wait.
func TestSpinReadOnlyWhenOthersBusy(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	p := &poller{}
	o := &rawOp{p: make([]byte, 64)}
	if _, err := syscall.Write(fds[1], []byte("RCPT TO:<b@example.com>\r\n")); err != nil {
		t.Fatal(err)
	}
	p.moved.Store(1)
	if p.spinRead(o, uintptr(fds[0])) || o.n != 0 {
		t.Fatalf("a lone session tried again: %v, read %q", o.errno, o.p[:o.n])
	}
	p.moved.Store(spinPeers)
	if !p.spinRead(o, uintptr(fds[0])) || string(o.p[:o.n]) != "RCPT TO:<b@example.com>\r\n" {
		t.Fatalf("with others busy: %v, read %q; want the command", o.errno, o.p[:o.n])
	}
	if p.spinRead(o, uintptr(fds[0])) || o.errno != syscall.EAGAIN {
		t.Fatalf("nothing to read: %v, want EAGAIN after the tries", o.errno)
	}
}

// move has pc wait for client until it moves to the runtime's poller,
// and checks that it moved at its moveAfter'th wait, no sooner or later.
func move(t *testing.T, client net.Conn, pc *pconn) {
	t.Helper()
	b := make([]byte, 1)
	for range 10 * moveAfter {
		if pc.file.Load() != nil {
			break
		}
		go func() {
			time.Sleep(time.Millisecond) // the read waits
			_, _ = client.Write([]byte{'x'})
		}()
		if _, err := pc.Read(b); err != nil {
			t.Fatal(err)
		}
	}
	if pc.file.Load() == nil || pc.waits.Load() != moveAfter {
		t.Fatalf("moved %v after %d waits, want after %d", pc.file.Load() != nil, pc.waits.Load(), moveAfter)
	}
}

func testPollConnWaitsEnd(t *testing.T, pc *pconn) {
	readErr := func(during func()) error {
		errc := make(chan error, 1)
		go func() {
			_, err := pc.Read(make([]byte, 1))
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond) // the read is waiting
		during()
		select {
		case err := <-errc:
			return err
		case <-time.After(ioTimeout):
			t.Fatal("the read still waits")
			return nil
		}
	}
	_ = pc.SetReadDeadline(time.Now().Add(time.Hour))
	if err := readErr(func() { _ = pc.SetReadDeadline(time.Now()) }); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("deadline brought forward: %v, want a timeout", err)
	}
	_ = pc.SetReadDeadline(time.Time{})
	if err := readErr(func() { pc.Close() }); !errors.Is(err, net.ErrClosed) {
		t.Errorf("closed while reading: %v, want net.ErrClosed", err)
	}
	if err := pc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := pc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

// TestPollConnAddrs: the addresses are the ones the net package gives for
// the same connection: the peer as its own end names itself, and for a
// Unix socket the unnamed client as net shows it.
func TestPollConnAddrs(t *testing.T) {
	client, pc := pollPair(t, "tcp")
	if got, want := pc.RemoteAddr().String(), client.LocalAddr().String(); got != want {
		t.Errorf("tcp RemoteAddr %q, want %q", got, want)
	}
	if got, want := pc.LocalAddr().String(), client.RemoteAddr().String(); got != want {
		t.Errorf("tcp LocalAddr %q, want %q", got, want)
	}
	if pc.RemoteAddr().Network() != "tcp" {
		t.Errorf("tcp RemoteAddr network %q", pc.RemoteAddr().Network())
	}
	// A listener on every address (a workshop's): the address reached.
	client, pc = pollPairAt(t, "tcp", "0.0.0.0:0", "127.0.0.1")
	if got, want := pc.LocalAddr().String(), client.RemoteAddr().String(); got != want {
		t.Errorf("LocalAddr on 0.0.0.0 %q, want %q", got, want)
	}

	uclient, upc := pollPair(t, "unix")
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "n"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := net.Dial("unix", l.Addr().String()); err == nil {
			defer c.Close()
		}
	}()
	ordinary, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer ordinary.Close()
	if got, want := upc.RemoteAddr().String(), ordinary.RemoteAddr().String(); got != want {
		t.Errorf("unix RemoteAddr %q, the net package's %q", got, want)
	}
	if got, want := upc.LocalAddr().String(), uclient.RemoteAddr().String(); got != want {
		t.Errorf("unix LocalAddr %q, want %q", got, want)
	}
}

// TestRawIOOrdersWritesBeforeReads: a value set before a write is ordered
// before the read that gets those bytes, as net.Conn's ordinary calls
// order them for the race detector (rawio_race.go), both ways between a
// raw end and an ordinary one. Under -race, as `make test` runs, each
// pair below is reported as a race without that edge.
func TestRawIOOrdersWritesBeforeReads(t *testing.T) {
	client, pc := pollPair(t, "tcp")
	for _, dir := range []struct {
		name           string
		writer, reader net.Conn
	}{{"raw write", pc, client}, {"raw read", client, pc}} {
		var shared int
		seen := make(chan int)
		go func() {
			if _, err := dir.reader.Read(make([]byte, 1)); err != nil {
				t.Error(err)
			}
			seen <- shared
		}()
		shared = 42
		if _, err := dir.writer.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if v := <-seen; v != 42 {
			t.Errorf("%s: the reader saw %d", dir.name, v)
		}
	}
}

// TestLongSessionMovesToRuntimePoller: a session that outlasts moveAfter
// waits moves to the runtime's poller mid-conversation and goes on as
// before; one that carries a message stays in the set.
func TestLongSessionMovesToRuntimePoller(t *testing.T) {
	srv, _ := start(t, Config{})
	c := dial(t, "tcp", srv.Addr())
	c.expectText(220, "")
	c.cmd("EHLO client.test", 250)
	c.sendMessage("a@x.test", []string{"b@x.test"}, "Subject: 1\r\n\r\none\r\n")
	pc := serverSide(t, srv).raw.Conn.(*pconn)
	if pc.file.Load() != nil {
		t.Fatalf("moved after one message (%d waits)", pc.waits.Load())
	}
	// A wait is a read that found nothing yet, which depends on timing:
	// as many messages as it takes, within a bound.
	n := 1
	for ; n < 40*moveAfter && pc.file.Load() == nil; n++ {
		c.sendMessage("a@x.test", []string{"b@x.test"}, "Subject: "+strconv.Itoa(n+1)+"\r\n\r\nbody\r\n")
	}
	if pc.file.Load() == nil || pc.waits.Load() != moveAfter {
		t.Fatalf("moved %v after %d messages and %d waits, want after %d waits", pc.file.Load() != nil, n, pc.waits.Load(), moveAfter)
	}
	c.sendMessage("a@x.test", []string{"b@x.test"}, "Subject: moved\r\n\r\nbody\r\n")
	n++
	c.cmd("NOOP", 250)
	c.cmd("QUIT", 221)
	c.expectClosed()
	if got := srv.Mailbox().Len(); got != n {
		t.Errorf("%d messages in the mailbox, want %d", got, n)
	}
}

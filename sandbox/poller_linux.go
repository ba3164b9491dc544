//go:build linux

package sandbox

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// poller is the sandbox's own epoll set: every plain connection is
// accepted, read, written and closed with raw system calls, and waits in
// this set, which the runtime's poller watches as one descriptor (nested
// epoll). A dispatcher goroutine (run) hands each edge to the goroutine
// waiting for it. The listeners wait in the runtime's poller, through
// duplicates (listening).
//
// Why: an ordinary system call (syscall.Syscall, not RawSyscall) made
// while every P is idle wakes the runtime's monitor thread, which then
// polls every 20 µs until it sees the P idle again. A server that answers
// one client at a time is idle after every reply, and the standard
// library cannot accept, register or close a descriptor without an
// ordinary call (net's accept4 and close, os.NewFile's fcntl). With a
// connection per message that was 10.7 thread switches a message against
// smtp-sink's 7.0 (docs/performance.md, findings 15 and 17). Here a
// connection makes no ordinary call, and 7.0 switches; the price is the
// dispatcher's hand-off on each wait, which is why a long session moves
// to the runtime's poller (pconn).
type poller struct {
	ep   *os.File // the epoll descriptor, waited on by the runtime's poller
	epfd int      // its number: ep.Fd would make it blocking
	rc   syscall.RawConn
	done chan struct{} // closed when run returns

	mu        sync.Mutex
	conns     []*pconn                         // by descriptor number; nil where none
	listeners map[net.Listener]syscall.RawConn // their duplicates' (listening)

	moved atomic.Int32 // connections open in the runtime's poller (spinRead)
}

// spinRead tries a read that found nothing again, spinReads times, with
// other goroutines let run between tries, while at least spinPeers
// sessions are open in the runtime's poller; true once a try reads (or
// fails other than with EAGAIN).
//
// Why: a server that has answered every session waits in epoll, and its
// CPU goes idle; the client's next command must then wake it, which in a
// virtual machine is an interrupt across CPUs and costs the client more
// than the command. Under smtp-source with eight persistent sessions
// the sandbox slept 0.7 times a message, smtp-sink (busier per message)
// never, and smtp-source spent 4 to 10 µs more CPU a message on the
// sandbox, which made it the slower of the two (docs/performance.md,
// finding 22). A few tries more usually find the next command: the
// sandbox's rate rose by 3% on a quiet host and by a tenth to a half on a
// busy one, its CPU a message the same. With one session the client's
// turn is longer than the tries, which cost a third more CPU a message
// there, so a lone session waits at once.
func (p *poller) spinRead(o *rawOp, fd uintptr) bool {
	if p.moved.Load() < spinPeers {
		return false
	}
	for range spinReads {
		runtime.Gosched()
		if o.do(syscall.SYS_READ, fd) {
			return true
		}
	}
	return false
}

// spinReads and spinPeers: see spinRead.
const (
	spinReads = 8
	spinPeers = 2
)

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	// Non-blocking, so that os.NewFile hands it to the runtime's poller.
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "sandbox-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &poller{ep: f, epfd: fd, rc: rc, done: make(chan struct{}), listeners: make(map[net.Listener]syscall.RawConn)}
	go p.run()
	return p, nil
}

// close stops the dispatcher. Every connection is closed before it (Server.Close).
func (p *poller) close() {
	if p == nil {
		return
	}
	p.ep.Close()
	<-p.done
}

// run hands each readiness event to the connection's waiting goroutine.
// Registrations are edge-triggered: a connection reads or writes until
// EAGAIN before it waits, and a token left in its channel from an earlier
// edge costs one retry, never a lost wake-up.
//
// The callback never reports done, so the whole life of the poller is one
// RawConn.Read: RawConn.Read clears the poller's readiness as it starts,
// and a new call per batch would have to make a second epoll_pwait before
// every wait to be sure it lost no edge. Within one call, an edge that
// comes after the callback returns is kept for the wait that follows.
func (p *poller) run() {
	defer close(p.done)
	var events [64]syscall.EpollEvent
	_ = p.rc.Read(func(fd uintptr) bool {
		for {
			r, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd,
				uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
			switch {
			case errno == syscall.EINTR:
				continue
			case errno != 0:
				return true // a bad descriptor: closed under us
			}
			p.dispatch(events[:r])
			if int(r) < len(events) {
				return false // none left: wait
			}
		}
	})
}

func (p *poller) dispatch(events []syscall.EpollEvent) {
	p.mu.Lock()
	for _, ev := range events {
		fd := int(ev.Fd)
		if fd < 0 || fd >= len(p.conns) || p.conns[fd] == nil {
			continue // closed since; a reused number is registered anew
		}
		c := p.conns[fd]
		if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
			c.rd.poke()
		}
		if ev.Events&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
			c.wr.poke()
		}
	}
	p.mu.Unlock()
}

// accept takes the next connection on l (a TCP or Unix listener) with a
// raw accept4 and registers it; any other listener, or a nil poller, is
// accepted the ordinary way. The wait is the runtime poller's, on a
// duplicate of the listener's descriptor (listening), so that a new
// connection wakes this goroutine directly. done ends the wait.
func (p *poller) accept(l net.Listener, done <-chan struct{}) (net.Conn, error) {
	if p == nil {
		return l.Accept()
	}
	lrc, err := p.listening(l, done)
	if err != nil {
		return l.Accept()
	}
	c := &pconn{p: p, laddr: l.Addr()}
	var errno syscall.Errno
	err = lrc.Read(func(fd uintptr) bool {
		for {
			size := uint32(unsafe.Sizeof(c.peer))
			r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(&c.peer)),
				uintptr(unsafe.Pointer(&size)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
			if e != syscall.EINTR {
				c.fd, errno = int(r), e
				return e != syscall.EAGAIN
			}
		}
	})
	switch {
	case err != nil:
		return nil, &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: net.ErrClosed}
	case errno != 0:
		return nil, &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: os.NewSyscallError("accept4", errno)}
	}
	if c.peer.Addr.Family != syscall.AF_UNIX {
		one := int32(1)
		_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(c.fd), syscall.IPPROTO_TCP,
			syscall.TCP_NODELAY, uintptr(unsafe.Pointer(&one)), 4, 0)
	}
	c.rd.init()
	c.wr.init()
	if err := p.add(c); err != nil {
		_, _, _ = syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(c.fd), 0, 0)
		return nil, err
	}
	return c, nil
}

// listening returns the RawConn of l's duplicate, made on the first
// accept: an os.File whose Read waits in the runtime's poller (a
// listener's own RawConn can only Control). The duplicate keeps the
// socket listening, so it is closed as soon as done is.
func (p *poller) listening(l net.Listener, done <-chan struct{}) (syscall.RawConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rc := p.listeners[l]; rc != nil {
		return rc, nil
	}
	sc, ok := l.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	lrc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup, errno := -1, syscall.Errno(0)
	if err := lrc.Control(func(fd uintptr) {
		r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		dup, errno = int(r), e
	}); err != nil {
		return nil, err
	}
	if errno != 0 {
		return nil, os.NewSyscallError("fcntl", errno)
	}
	f := os.NewFile(uintptr(dup), "sandbox-listener")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		<-done
		f.Close()
	}()
	p.listeners[l] = rc
	return rc, nil
}

// add registers c. It is in p.conns first, so an edge that the
// registration itself reports finds it.
func (p *poller) add(c *pconn) error {
	p.mu.Lock()
	if c.fd >= len(p.conns) {
		p.conns = append(p.conns, make([]*pconn, c.fd+1-len(p.conns))...)
	}
	p.conns[c.fd] = c
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | -syscall.EPOLLET, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		p.forget(c)
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// forget takes c out of the table, unless its number is another's now.
func (p *poller) forget(c *pconn) {
	p.mu.Lock()
	if p.conns[c.fd] == c {
		p.conns[c.fd] = nil
	}
	p.mu.Unlock()
}

// pconn is a connection in the poller: a net.Conn over raw calls. Close
// may come from another goroutine (Server.Close) while a read waits; the
// descriptor is closed only once no call on it is in flight, so its
// number cannot be reused under a read.
//
// A connection that has waited for its client moveAfter times moves to the
// runtime's poller (move): a wait in the set costs the hand-off from the
// dispatcher and a nested epoll wake, 3 µs or so, which over a persistent
// session of many messages came to more than the two ordinary calls (the
// registration's fcntl and the close) that the move costs once. A session
// that carries one message, as smtp-source's or swaks's, never moves.
type pconn struct {
	p      *poller
	fd     int
	peer   syscall.RawSockaddrAny
	laddr  net.Addr
	rd, wr waiter
	waits  atomic.Int32 // waits in the set, reads' and writes'
	file   atomic.Pointer[movedConn]

	mu     sync.Mutex
	ops    int
	closed bool
}

// moveAfter: see pconn. A connection per message waits six to ten times
// (smtp-source: the greeting's write aside, one read per command; STARTTLS
// adds the handshake's).
const moveAfter = 24

// movedConn is a connection once it is in the runtime's poller: an
// os.File, read and written with raw calls through its RawConn, whose
// callbacks are made once so that a call allocates nothing.
type movedConn struct {
	f      *os.File
	rc     syscall.RawConn
	rd, wr rawOp
}

type rawOp struct {
	p     []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// do makes one call on o.p; false (EAGAIN) lets the runtime's poller wait.
func (o *rawOp) do(trap, fd uintptr) bool {
	o.n, o.errno = rawIO(trap, fd, o.p)
	return o.errno != syscall.EAGAIN
}

// waited counts a wait about to start in the set, and moves the
// connection once it has made moveAfter; true if it has moved.
func (c *pconn) waited() bool {
	if c.waits.Add(1) < moveAfter {
		return false
	}
	c.move()
	return c.file.Load() != nil
}

// move takes the descriptor out of the set and hands it to an os.File,
// with the deadlines in force. A wait in the set on the other side is
// woken to find the file.
func (c *pconn) move() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.file.Load() != nil {
		return
	}
	var ev syscall.EpollEvent
	if syscall.EpollCtl(c.p.epfd, syscall.EPOLL_CTL_DEL, c.fd, &ev) != nil {
		return
	}
	c.p.forget(c)
	f := os.NewFile(uintptr(c.fd), "sandbox-conn")
	rc, _ := f.SyscallConn() // fails only for a nil *os.File
	m := &movedConn{f: f, rc: rc}
	m.rd.fn = func(fd uintptr) bool { return m.rd.do(syscall.SYS_READ, fd) || c.p.spinRead(&m.rd, fd) }
	m.wr.fn = func(fd uintptr) bool { return m.wr.do(syscall.SYS_WRITE, fd) }
	if d := c.rd.deadline.Load(); d != 0 {
		_ = f.SetReadDeadline(time.Unix(0, d))
	}
	if d := c.wr.deadline.Load(); d != 0 {
		_ = f.SetWriteDeadline(time.Unix(0, d))
	}
	c.p.moved.Add(1)
	c.file.Store(m)
	c.rd.poke()
	c.wr.poke()
}

func (c *pconn) movedRead(m *movedConn, b []byte) (int, error) {
	m.rd.p = b
	err := m.rc.Read(m.rd.fn)
	n, errno := m.rd.n, m.rd.errno
	m.rd.p = nil
	switch {
	case err != nil:
		return 0, c.opError("read", movedError(err))
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *pconn) movedWrite(m *movedConn, b []byte) (int, error) {
	written := 0
	for written < len(b) {
		m.wr.p = b[written:]
		err := m.rc.Write(m.wr.fn)
		n, errno := m.wr.n, m.wr.errno
		m.wr.p = nil
		if err != nil {
			return written, c.opError("write", movedError(err))
		}
		if errno != 0 {
			return written, c.opError("write", os.NewSyscallError("write", errno))
		}
		written += n
	}
	return written, nil
}

// movedError is an os.File's RawConn error as net.Conn gives it: a
// deadline, or else the file closed under the call.
func movedError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	return net.ErrClosed
}

// waiter is one direction's readiness: a token from the poller, from the
// deadline's timer or from Close, each of which sends the waiting
// goroutine back to try its call again; the call's loop checks the
// deadline and Close.
type waiter struct {
	ready    chan struct{} // capacity one
	deadline atomic.Int64  // UnixNano; zero for none

	mu    sync.Mutex  // timer and armed: the waiting goroutine's and Close's
	timer *time.Timer // pokes ready at armed
	armed int64
}

func (w *waiter) init() { w.ready = make(chan struct{}, 1) }

func (w *waiter) poke() {
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// wait blocks until the next token. The timer is armed for the deadline
// and left so: a deadline is renewed far less often than a wait starts
// (deadlineConn), and a token from a timer that fired after its wait
// costs one retry.
func (w *waiter) wait() {
	if d := w.deadline.Load(); d != 0 {
		w.arm(d)
	}
	<-w.ready
}

func (w *waiter) arm(d int64) {
	w.mu.Lock()
	if w.armed != d {
		left := time.Duration(d - time.Now().UnixNano())
		if w.timer == nil {
			w.timer = time.AfterFunc(left, w.fired)
		} else {
			w.timer.Reset(left)
		}
		w.armed = d
	}
	w.mu.Unlock()
}

// fired pokes the wait, and has the next one arm the timer again: the
// deadline is on the wall clock, the timer on the monotonic one, and a
// clock set back could otherwise leave a wait with no timer.
func (w *waiter) fired() {
	w.mu.Lock()
	w.armed = 0
	w.mu.Unlock()
	w.poke()
}

// stop lets the timer go with the connection rather than when it fires.
func (w *waiter) stop() {
	w.mu.Lock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
}

// setDeadline wakes a wait in progress so that it sees the new deadline.
func (w *waiter) setDeadline(t time.Time) {
	var d int64
	if !t.IsZero() {
		d = t.UnixNano()
		if d == 0 {
			d = 1 // 1970 exactly: already past
		}
	}
	w.deadline.Store(d)
	w.poke()
}

// expired reports a deadline already past, which fails an operation before
// it starts, as in the standard library.
func (w *waiter) expired() bool {
	d := w.deadline.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

// begin counts a call on the descriptor; false once closed.
func (c *pconn) begin() bool {
	c.mu.Lock()
	ok := !c.closed
	if ok {
		c.ops++
	}
	c.mu.Unlock()
	return ok
}

func (c *pconn) end() {
	c.mu.Lock()
	c.ops--
	last := c.closed && c.ops == 0
	c.mu.Unlock()
	if last && c.file.Load() == nil {
		c.release()
	}
}

func (c *pconn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		if m := c.file.Load(); m != nil {
			return c.movedRead(m, b)
		}
		if c.rd.expired() {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		if !c.begin() {
			return 0, c.opError("read", net.ErrClosed)
		}
		n, errno := rawIO(syscall.SYS_READ, uintptr(c.fd), b)
		c.end()
		switch {
		case errno == syscall.EAGAIN:
			if c.waited() {
				continue
			}
			c.rd.wait()
		case errno != 0:
			return 0, c.opError("read", os.NewSyscallError("read", errno))
		case n == 0:
			return 0, io.EOF
		default:
			return n, nil
		}
	}
}

func (c *pconn) Write(b []byte) (int, error) {
	written := 0
	for written < len(b) {
		if m := c.file.Load(); m != nil {
			n, err := c.movedWrite(m, b[written:])
			return written + n, err
		}
		if c.wr.expired() {
			return written, c.opError("write", os.ErrDeadlineExceeded)
		}
		if !c.begin() {
			return written, c.opError("write", net.ErrClosed)
		}
		n, errno := rawIO(syscall.SYS_WRITE, uintptr(c.fd), b[written:])
		c.end()
		switch errno {
		case 0:
			written += n
		case syscall.EAGAIN:
			if c.waited() {
				continue
			}
			c.wr.wait()
		default:
			return written, c.opError("write", os.NewSyscallError("write", errno))
		}
	}
	return written, nil
}

// Close wakes every wait and closes the descriptor once no call is on it.
func (c *pconn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	last := c.ops == 0
	m := c.file.Load()
	c.mu.Unlock()
	c.rd.stop()
	c.wr.stop()
	c.rd.poke()
	c.wr.poke()
	if m != nil {
		c.p.moved.Add(-1)
		return m.f.Close()
	}
	if last {
		c.release()
	}
	return nil
}

// release closes the descriptor, which also takes it out of the epoll set.
// It leaves the poller's table first, so that a number the kernel hands
// out again is registered by its new connection alone.
func (c *pconn) release() {
	c.p.forget(c)
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(c.fd), 0, 0)
}

func (c *pconn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

func (c *pconn) SetReadDeadline(t time.Time) error {
	c.rd.setDeadline(t)
	if m := c.file.Load(); m != nil {
		return m.f.SetReadDeadline(t)
	}
	return nil
}

func (c *pconn) SetWriteDeadline(t time.Time) error {
	c.wr.setDeadline(t)
	if m := c.file.Load(); m != nil {
		return m.f.SetWriteDeadline(t)
	}
	return nil
}

// LocalAddr is the listener's address, or for a listener on every
// address the one the client reached (getsockname), as the net package
// gives it.
func (c *pconn) LocalAddr() net.Addr {
	if a, ok := c.laddr.(*net.TCPAddr); ok && a.IP.IsUnspecified() && c.begin() {
		defer c.end()
		var sa syscall.RawSockaddrAny
		size := uint32(unsafe.Sizeof(sa))
		if _, _, e := syscall.RawSyscall(syscall.SYS_GETSOCKNAME, uintptr(c.fd),
			uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&size))); e == 0 {
			return sockaddr(&sa)
		}
	}
	return c.laddr
}

// peerAddr is the peer's IP as accept4 gave it, without RemoteAddr's
// allocations: the server reads it for every connection it accepts.
func (c *pconn) peerAddr() (netip.Addr, bool) {
	switch c.peer.Addr.Family {
	case syscall.AF_INET:
		return netip.AddrFrom4((*syscall.RawSockaddrInet4)(unsafe.Pointer(&c.peer)).Addr), true
	case syscall.AF_INET6:
		return netip.AddrFrom16((*syscall.RawSockaddrInet6)(unsafe.Pointer(&c.peer)).Addr), true
	}
	return netip.Addr{}, false
}

// RemoteAddr is the peer as accept4 gave it.
func (c *pconn) RemoteAddr() net.Addr { return sockaddr(&c.peer) }

// sockaddr is a raw address in the types the net package uses.
func sockaddr(rsa *syscall.RawSockaddrAny) net.Addr {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: port(sa.Port)}
	case syscall.AF_INET6:
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: port(sa.Port)}
		if sa.Scope_id != 0 {
			a.Zone = zoneName(int(sa.Scope_id))
		}
		return a
	case syscall.AF_UNIX:
		sa := (*syscall.RawSockaddrUnix)(unsafe.Pointer(rsa))
		return &net.UnixAddr{Name: unixName(sa.Path[:]), Net: "unix"}
	}
	return &net.UnixAddr{Net: "unix"}
}

// port reads a port in network byte order.
func port(p uint16) int {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return int(b[0])<<8 | int(b[1])
}

func zoneName(index int) string {
	if ifi, err := net.InterfaceByIndex(index); err == nil {
		return ifi.Name
	}
	return strconv.Itoa(index)
}

// unixName is a socket path as the net package shows it: an unnamed peer,
// the usual client, is "@" there too.
func unixName(path []int8) string {
	b := make([]byte, 0, len(path))
	for i, ch := range path {
		if ch == 0 {
			if i == 0 {
				b = append(b, '@')
				continue
			}
			break
		}
		b = append(b, byte(ch))
	}
	return string(b)
}

// opError is err as the net package reports it. End of file never comes
// here: it is io.EOF itself, as from net.
func (c *pconn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.laddr.Network(), Source: c.laddr, Addr: c.RemoteAddr(), Err: err}
}

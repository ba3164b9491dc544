//go:build linux

package sandbox

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// rawConn reads and writes a plain TCP or Unix socket with raw system
// calls inside the runtime's poller (syscall.RawConn), with the same
// per-wait deadline as deadlineConn (whose deadline methods it keeps).
//
// Why: the socket is non-blocking, so a read or write never waits in the
// kernel, but Go's ordinary path still marks the goroutine as in a system
// call. With one P (run.go) and a machine under load, such a call can last
// past a tick of the runtime's monitor, which then takes the P away and
// starts a second thread to poll the network; the first thread comes back
// without a P and sleeps. Measured under smtp-source on the shared 2-CPU
// machine: four to eight thread switches and 30 to 70 µs of CPU a message
// on top of the server's own work. A raw call keeps the P, as a C server
// like smtp-sink keeps its one thread. EAGAIN hands the wait to the poller,
// which honours the deadline.
type rawConn struct {
	*deadlineConn
	rc syscall.RawConn
	rawState
}

// newDeadlineConn wraps a freshly accepted connection so that every wait
// for the client is bounded by d.
func newDeadlineConn(nc net.Conn, d time.Duration) net.Conn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return &deadlineConn{Conn: nc, d: d}
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return &deadlineConn{Conn: nc, d: d}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return &deadlineConn{Conn: nc, d: d}
	}
	c := &rawConn{deadlineConn: &deadlineConn{Conn: nc, d: d}, rc: rc}
	c.init()
	return c
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.renewRead()
	c.rd.p = p
	err := c.rc.Read(c.rd.fn)
	n, errno := c.rd.n, c.rd.errno
	c.rd.p = nil
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Addr: c.RemoteAddr(), Err: errno}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *rawConn) Write(p []byte) (int, error) {
	c.renewWrite()
	written := 0
	for written < len(p) {
		c.wr.p = p[written:]
		err := c.rc.Write(c.wr.fn)
		n, errno := c.wr.n, c.wr.errno
		c.wr.p = nil
		if err != nil {
			return written, err
		}
		if errno != 0 {
			return written, &net.OpError{Op: "write", Net: c.LocalAddr().Network(), Addr: c.RemoteAddr(), Err: errno}
		}
		written += n
	}
	return written, nil
}

// Close ends the stream with a raw shutdown before the ordinary close, so
// that the client's end of file leaves right behind the last reply. The
// close alone is an ordinary system call, which first wakes the runtime's
// monitor (docs/performance.md, finding 15). From the 221 to the client's
// end of file, medians of 2,000 sessions (testdata/compare/steps): 7 to 41
// µs over six runs before, 1.7 to 1.8 µs after, as from smtp-sink.
func (c *rawConn) Close() error {
	_ = c.rc.Control(shutWrite)
	return c.deadlineConn.Close()
}

func shutWrite(fd uintptr) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_SHUTDOWN, fd, syscall.SHUT_WR, 0)
}

// rawState is what the poller's callbacks work on, kept with the
// connection and the callbacks made once, so that a read or a write
// allocates nothing (a closure per call escaped to the heap). Reads and
// writes have their own halves: net.Conn allows one of each at a time.
type rawState struct {
	rd, wr rawOp
}

type rawOp struct {
	p     []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

func (s *rawState) init() {
	s.rd.fn = func(fd uintptr) bool { return s.rd.do(syscall.SYS_READ, fd) }
	s.wr.fn = func(fd uintptr) bool { return s.wr.do(syscall.SYS_WRITE, fd) }
}

// do makes one call on o.p; false (EAGAIN) lets the poller wait.
func (o *rawOp) do(trap, fd uintptr) bool {
	o.n, o.errno = rawIO(trap, fd, o.p)
	return o.errno != syscall.EAGAIN
}

// rawIO is one read or write on a non-blocking descriptor, retried on
// EINTR; n is 0 when errno is set.
func rawIO(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	if trap == syscall.SYS_WRITE {
		raceReleaseIO(fd)
	}
	for {
		r, _, errno := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != syscall.EINTR {
			if errno != 0 {
				return 0, errno
			}
			if trap == syscall.SYS_READ {
				raceAcquireIO(fd)
			}
			return int(r), 0
		}
	}
}

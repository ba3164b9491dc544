//go:build linux

package protocol

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawSocket reads and writes a TCP or Unix connection with raw system
// calls inside the runtime's poller (syscall.RawConn); deadlines, Close
// and addresses are the connection's own.
//
// Why: a client waits for every reply, so between commands the process
// has nothing to run and the runtime's monitor thread goes to sleep; the
// next ordinary system call wakes it again (a futex call and a thread
// switch), and once awake it polls every 20 µs until the next wait. Over
// `--repeat --no-pipeline` that was a wake-up per command, four per
// message, and on a loaded machine a call that outlasted one of its ticks
// lost the P to another thread. The socket is non-blocking, so a raw call
// never waits in the kernel: it is what a C client such as smtp-source
// does, one read or write and no scheduler around it. EAGAIN hands the
// wait to the poller, which honours the deadline.
type rawSocket struct {
	net.Conn
	rc syscall.RawConn
	rawState
}

// withRawIO returns nc reading and writing through rawSocket when it is a
// TCP or Unix connection, nc itself otherwise. The client applies it only
// to the sockets it dials itself, never to what a caller's Options.Dial
// returns.
func withRawIO(nc net.Conn) net.Conn {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nc
	}
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return nc
	}
	c := &rawSocket{Conn: nc, rc: rc}
	c.init()
	return c
}

// NetConn is the connection underneath, as tls.Conn's NetConn is.
func (c *rawSocket) NetConn() net.Conn { return c.Conn }

func (c *rawSocket) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
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

func (c *rawSocket) Write(p []byte) (int, error) {
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

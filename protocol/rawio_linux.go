//go:build linux

package protocol

import (
	"io"
	"net"
	"syscall"
	"time"
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
	fn := c.rd.fn
	if c.st.done != nil {
		fn = c.st.fn
	}
	c.rd.p = p
	err := c.rc.Read(fn)
	n, errno := c.rd.n, c.rd.errno
	c.rd.p = nil
	c.drained = false
	if c.st.done != nil {
		// The staged write was not written whole from inside the read.
		if err := c.finishStaged(err); err != nil {
			return 0, err
		}
		return c.Read(p)
	}
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Addr: c.RemoteAddr(), Err: errno}
	case n == 0:
		return 0, io.EOF
	}
	c.drained = n < len(p)
	return n, nil
}

// stageWrite has the next Read write p before it reads, and says whether
// it will; done is told what was written, as soon as it was.
//
// Why: a read after a command tries the socket first, finds nothing, and
// only then waits in the poller; the reply cannot be there yet, so that
// try is a system call spent for nothing, four a message with
// `--no-pipeline`, 6% of its CPU (docs/performance.md, finding 23). The try
// cannot simply be skipped: the runtime forgets any readiness it saw
// before a read begins, and a reply that arrived between the write and
// the read would then wake nothing. Written from inside the read, the
// command goes out after the read is armed, and the wait sees its reply.
//
// Only when the last read left the socket empty: bytes already waiting
// would then be read only when the reply's arrival wakes the read. The
// write deadline is set only if the socket does not take p whole at once,
// when the rest of p is written the ordinary way: a write that cannot
// wait needs none, and setting one costs a call a command.
func (c *rawSocket) stageWrite(p []byte, deadline time.Time, done func(n int, err error)) bool {
	if !c.drained || len(p) == 0 {
		return false
	}
	c.st.p, c.st.deadline, c.st.done = p, deadline, done
	return true
}

// finishStaged ends a staged write that the read did not write whole:
// never tried (the read failed first, with err), refused, or taken in
// part, when the rest goes the ordinary way, under the write deadline.
func (c *rawSocket) finishStaged(err error) error {
	done, p := c.st.done, c.st.p
	c.st.done, c.st.p = nil, nil
	switch {
	case p != nil:
		done(0, err)
		return err
	case c.st.errno != 0:
		err := &net.OpError{Op: "write", Net: c.LocalAddr().Network(), Addr: c.RemoteAddr(), Err: c.st.errno}
		done(0, err)
		return err
	}
	_ = c.SetWriteDeadline(c.st.deadline)
	m, err := c.Write(c.st.rest)
	done(c.st.n+m, err)
	c.st.rest = nil
	return err
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
	rd, wr  rawOp
	st      stagedOp
	drained bool // the last read took all the socket had
}

// stagedOp is a write the next read makes first (stageWrite).
type stagedOp struct {
	p, rest  []byte    // to write; what the read left unwritten
	deadline time.Time // for the rest
	n        int
	errno    syscall.Errno
	done     func(n int, err error) // nil: nothing staged
	fn       func(fd uintptr) bool
}

type rawOp struct {
	p     []byte
	n     int
	errno syscall.Errno
	empty int // calls that found nothing to do (EAGAIN), for the tests
	fn    func(fd uintptr) bool
}

func (s *rawState) init() {
	s.rd.fn = func(fd uintptr) bool { return s.rd.do(syscall.SYS_READ, fd) }
	s.wr.fn = func(fd uintptr) bool { return s.wr.do(syscall.SYS_WRITE, fd) }
	s.st.fn = func(fd uintptr) bool {
		p := s.st.p
		if p == nil {
			return s.rd.do(syscall.SYS_READ, fd)
		}
		s.st.p = nil
		s.st.n, s.st.errno = rawIO(syscall.SYS_WRITE, fd, p)
		if s.st.errno == syscall.EAGAIN { // full: all of p is the rest
			s.st.errno = 0
		}
		if s.st.errno != 0 || s.st.n < len(p) {
			s.st.rest = p[s.st.n:]
			return true // Read finishes it
		}
		done := s.st.done
		s.st.done = nil
		done(len(p), nil)
		return false // the reply cannot be here yet: wait for it
	}
}

// do makes one call on o.p; false (EAGAIN) lets the poller wait.
func (o *rawOp) do(trap, fd uintptr) bool {
	o.n, o.errno = rawIO(trap, fd, o.p)
	if o.errno == syscall.EAGAIN {
		o.empty++
		return false
	}
	return true
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

//go:build linux

package sandbox

import (
	"syscall"
	"unsafe"
)

// rawIO is one read or write on a non-blocking descriptor, retried on
// EINTR; n is 0 when errno is set. A raw call keeps the goroutine's P and
// never wakes the runtime's monitor, as an ordinary one may
// (poller_linux.go); the descriptor never blocks, so neither is needed.
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

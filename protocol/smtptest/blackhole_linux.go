//go:build linux

package smtptest

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Blackhole returns the address of a TCP socket on 127.0.0.1 that listens
// but whose accept queue is full, so that the kernel drops a client's SYN
// and its connect waits until it gives up: a server that does not answer
// at all, on loopback. It is closed when the test ends.
func Blackhole(t testing.TB) (host string, port int) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("blackhole: socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("blackhole: bind: %v", err)
	}
	// A backlog of 0 leaves room for one connection, which nobody accepts.
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatalf("blackhole: listen: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("blackhole: getsockname: %v", err)
	}
	port = sa.(*syscall.SockaddrInet4).Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return "127.0.0.1", port // this SYN was dropped: the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("blackhole: 16 connections to a backlog of 0 all completed")
	return "", 0
}

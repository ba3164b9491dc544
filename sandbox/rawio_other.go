//go:build !linux

package sandbox

import (
	"net"
	"time"
)

// newDeadlineConn wraps a freshly accepted connection so that every wait
// for the client is bounded by d (rawio_linux.go says why Linux differs).
func newDeadlineConn(nc net.Conn, d time.Duration) net.Conn { return &deadlineConn{Conn: nc, d: d} }

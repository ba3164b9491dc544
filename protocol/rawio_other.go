//go:build !linux

package protocol

import "net"

// withRawIO returns nc unchanged (rawio_linux.go says what Linux does).
func withRawIO(nc net.Conn) net.Conn { return nc }

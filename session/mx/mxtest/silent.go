package mxtest

import (
	"net"
	"testing"
)

// Silent returns the address of a resolver that reads every query and
// answers none, until the test ends: a DNS server that has gone away
// without saying so.
func Silent(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

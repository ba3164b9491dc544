//go:build !linux

package sandbox

import (
	"errors"
	"net"
)

// poller is Linux's own epoll set (poller_linux.go); elsewhere every
// connection is accepted the ordinary way.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.ErrUnsupported }

func (p *poller) accept(l net.Listener, _ <-chan struct{}) (net.Conn, error) { return l.Accept() }

func (p *poller) close() {}

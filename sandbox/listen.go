package sandbox

import (
	"context"
	"net"
)

// listenTCP binds a TCP listener whose accepted connections get no TCP
// keep-alive. Go turns it on for every accepted connection by default,
// four setsockopt calls each, which is a tenth of what the sandbox spends
// on a connection that carries one message (smtp-source, load tests). It
// buys nothing here: ReadTimeout already closes a session whose client
// went quiet, and a session is never idle longer than that.
func listenTCP(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), "tcp", addr)
}

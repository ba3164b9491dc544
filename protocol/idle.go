package protocol

import (
	"bytes"
	"errors"
	"net"
	"time"
)

// longAgo is a read deadline already past: setting it makes a blocked
// read return at once with a timeout, and leaves the connection usable
// (crypto/tls keeps its state across a timeout, unlike after an error).
var longAgo = time.Unix(1, 0)

// WatchIdle waits, while no command is outstanding, for the server to speak
// on its own: an interactive client sits idle for minutes between commands,
// and a server that gives up on it (an idle timeout, a shutdown) says 421
// and closes. Without a read meanwhile that 421 would wait in the socket and
// be taken as the reply to the user's next command.
//
// WatchIdle returns nil as soon as stop is closed, with nothing read, so
// the caller can send its next command; it must be called from the
// goroutine that drives the client, and stop is the only way to end it
// early. Bytes that arrive first are unsolicited and handled as
// CheckUnsolicited handles them: an unsolicited 421 is read, traced and
// returned as a *ResponseError, anything else is a *ProtocolError, and
// either way the connection is closed (security-anchors F15, F16). A server
// that closes the connection gives a *ServerDisconnectedError.
//
// Without a connection, or while pipelined replies are due, it returns nil
// at once.
func (d Debugger) WatchIdle(stop <-chan struct{}) error {
	c := d.c
	if c.conn == nil || c.br == nil || c.pipelined > 0 {
		return nil
	}
	if c.br.Buffered() == 0 {
		err := c.peekUntil(stop)
		if err != nil && isTimeout(err) {
			return nil // stopped: the caller takes the connection over
		}
		if err != nil {
			c.closeConn()
			return &ServerDisconnectedError{Msg: "connection unexpectedly closed while no command was outstanding", Err: err}
		}
	}
	c.awaitLine()
	return c.checkUnsolicited()
}

// peekUntil blocks until a byte is buffered, the connection fails, or stop
// is closed, which moves the read deadline into the past to end the wait.
func (c *Client) peekUntil(stop <-chan struct{}) error {
	conn := c.conn
	_ = conn.SetReadDeadline(time.Time{})
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-stop:
			_ = conn.SetReadDeadline(longAgo)
		case <-done:
		}
	}()
	_, err := c.br.Peek(1)
	close(done)
	// The deadline is cleared only after the goroutine is gone, so that
	// a stop racing with arriving bytes cannot cut the next reply short.
	<-exited
	_ = conn.SetReadDeadline(time.Time{})
	return err
}

// awaitLine gives bytes that arrived unasked up to one Timeout to make a
// whole line, so that a 421 split across segments is still read as a 421
// and the note shows the whole line.
func (c *Client) awaitLine() {
	_ = c.conn.SetReadDeadline(time.Now().Add(c.opts.Timeout))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	for n := c.br.Buffered(); n < c.br.Size() && n < MaxLine; n = c.br.Buffered() {
		b, _ := c.br.Peek(n)
		if bytes.IndexByte(b, '\n') >= 0 {
			return
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

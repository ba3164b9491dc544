package protocol

import "errors"

// Debugger is the view of a Client that an interactive debugger needs and
// smtplib has no counterpart for: sending a line as typed (Raw), answering
// or cancelling the challenges of a typed AUTH, sending a message after a
// typed DATA, upgrading after a STARTTLS sent by other means, watching for
// what the server says between commands, closing the connection in place
// of a reply (DropAtReply), and closing it from another goroutine. Each call goes through the same encoder, reply reader
// and state reducer as the Client's own methods, so the client's idea of
// the conversation stays true whichever view drives it.
//
// A Debugger is a handle on its Client, not a copy: it has no state of
// its own, and like the Client it is not safe for concurrent use, except
// for Abort.
type Debugger struct{ c *Client }

// Debug returns the debugger's view of c.
func (c *Client) Debug() Debugger { return Debugger{c: c} }

// CheckUnsolicited returns a *ProtocolError (or the *ResponseError of an
// unsolicited 421) and closes the connection if the server has sent bytes
// that no command asked for, such as a reply pipelined after the greeting.
// Every command checks this before it is written; a debugger calls it to
// report such bytes before the user types anything.
func (d Debugger) CheckUnsolicited() error { return d.c.checkUnsolicited() }

// ErrDropped is what the reply read returns when DropAtReply closed the
// connection in its place.
var ErrDropped = errors.New("connection closed before the reply, as asked")

// DropAtReply has the client close the connection in place of reading
// the n-th reply from now (1: the next), and return ErrDropped for it, as
// a client that goes away right after a command does (swaks's
// --drop-after-send). 0 disarms it. The commands before are sent and
// answered as usual, by whichever method sends them.
func (d Debugger) DropAtReply(n int) { d.c.dropAt = max(n, 0) }

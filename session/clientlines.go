package session

// ClientLines tells, from the events of a conversation, the client's
// command lines from message content, by the one rule the redactor and the
// transcript use (flow): after DATA is answered 354 the lines up to "." are
// content, and after BDAT n the next n bytes are. It is for readers of
// events outside this package (the lesson checker), so that the rule is
// not written twice.
type ClientLines struct{ f flow }

// ClientLine is one line (or BDAT chunk) of client bytes.
type ClientLine struct {
	// Line is the whole line with its line end, nil when it was too long
	// to keep or is still incomplete.
	Line []byte
	// Payload says the line is message content, not a command; Last says
	// it ends the content (DATA's "." or the end of a BDAT chunk).
	Payload, Last bool
	// Complete says the line (or chunk) ends in these bytes.
	Complete bool
}

// Client reads the bytes of a KindClient event and calls fn for each line
// or part of a line in them.
func (c *ClientLines) Client(data []byte, fn func(ClientLine)) {
	c.f.client(data, func(p piece) {
		fn(ClientLine{Line: p.line, Payload: p.payload, Last: p.last, Complete: p.complete})
	})
}

// Server reads one server reply line, so that a 354 to DATA starts the
// content.
func (c *ClientLines) Server(line []byte) { c.f.server(line) }

// Reset forgets everything: a new connection starts in command mode.
func (c *ClientLines) Reset() { c.f = flow{} }

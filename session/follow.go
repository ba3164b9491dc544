package session

// LineFollower lends flow, the one follower of the client's byte stream
// (Follower's too), line by line to the readers of a conversation above
// this package that need each line's bytes (the transcript, the exports,
// the script of `replay --serve`), so that what is a command, what is
// message content and where it ends are decided here, once, for a live
// session and a recording alike. Follower gives the same reading per
// event, as Event.Parts.
//
// The zero LineFollower is at the start of a connection; assign a new
// zero value when a connection or a TLS layer starts over.
type LineFollower struct{ f flow }

// Piece is one line, or the part of one line, within a client send.
type Piece struct {
	Start, End int    // in the send's Data, line ending included
	Line       []byte // the whole line if complete and at most MaxCommandLine bytes, else nil
	Payload    bool   // message content, not a command
	Complete   bool   // the line (or the BDAT chunk) ends here
	Cont       bool   // continues a line begun in an earlier send
	Last       bool   // payload: the "." ending DATA, or the end of a BDAT chunk
	BDAT       bool   // payload of a BDAT chunk
}

// Client cuts the bytes of one client send into pieces, in order, and
// calls fn with each.
func (f *LineFollower) Client(data []byte, fn func(Piece)) {
	f.f.client(data, func(p piece) {
		fn(Piece{Start: p.start, End: p.end, Line: p.line, Payload: p.payload,
			Complete: p.complete, Cont: p.cont, Last: p.last, BDAT: p.bdat})
	})
}

// Server takes one reply line the server sent: a 354 to DATA starts the
// message content.
func (f *LineFollower) Server(line []byte) { f.f.server(line) }

// Resume puts the follower where a recording begun mid-session says the
// client was (inside a message or not).
func (f *LineFollower) Resume(s *StartState) { f.f.resume(s) }

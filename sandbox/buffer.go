package sandbox

// The message a session is receiving (DATA content, or BDAT chunks so far)
// lives in conn.data, whose capacity is taken from a budget the sessions
// share (Config.BufferBytes): each session's own limit (MaxMessageBytes)
// times 256 sessions would allow gigabytes.

// keepBuffer is the largest buffer a session keeps for its next message;
// a larger one goes back to the collector and its bytes to the budget.
const keepBuffer = 16 << 10

// reserve takes n bytes from the shared budget, or reports that it cannot.
func (s *Server) reserve(n int64) bool {
	for {
		cur := s.buffered.Load()
		if cur+n > s.cfg.BufferBytes {
			return false
		}
		if s.buffered.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// grow makes room for n more bytes in c.data, false when the budget is
// spent. It doubles (up to MaxMessageBytes) so a message costs a few
// copies, not one per line.
func (c *conn) grow(n int) bool {
	need := len(c.data) + n
	if need <= cap(c.data) {
		return true
	}
	newCap := min(max(2*cap(c.data), need, 4096), max(need, int(c.cfg.MaxMessageBytes)))
	if !c.srv.reserve(int64(newCap - cap(c.data))) {
		if newCap == need || !c.srv.reserve(int64(need-cap(c.data))) {
			return false
		}
		newCap = need
	}
	grown := make([]byte, len(c.data), newCap)
	copy(grown, c.data)
	c.data = grown
	return true
}

// endMessage empties the buffer once a message is stored or refused.
func (c *conn) endMessage() {
	c.data = c.data[:0]
	if cap(c.data) > keepBuffer {
		c.releaseBuffer()
	}
}

// releaseBuffer gives the buffer back: after a large message or a
// refusal (through endMessage) and at the end of the session.
func (c *conn) releaseBuffer() {
	c.srv.buffered.Add(-int64(cap(c.data)))
	c.data = nil
}

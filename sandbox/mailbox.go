package sandbox

import (
	"context"
	"sync"
	"time"
)

// Message is one delivered message, as the envelope and bytes arrived.
// Data is exactly what the client transmitted after dot-unstuffing (DATA)
// or the concatenated chunks (BDAT); the sandbox adds no Received header,
// so tests can compare bytes. Treat a Message as read-only: Messages hands
// out the stored slices, not copies.
type Message struct {
	ID      string   // queue id, "<session>.<n>", also in the 250 reply
	Session string   // session id of the log lines, "s3"
	From    string   // reverse-path without angle brackets; "" for <>
	To      []string // accepted recipients (LMTP: those delivered)
	// Rcpts is every RCPT of the transaction with the reply it got,
	// refused ones too (issue 14: the envelope as the server saw it).
	Rcpts    []Recipient
	Data     []byte    // message content
	Received time.Time // when the final reply was sent
	TLS      bool      // whether the session was under TLS
	// TLSVersion is the session's TLS version ("TLS 1.3"), "" without.
	TLSVersion string
	AuthUser   string   // AUTH identity, "" when not authenticated
	Helo       string   // argument of the last HELO/EHLO/LHLO
	Params     []string // MAIL parameters as sent, e.g. "SIZE=123"
	Chunked    bool     // sent with BDAT rather than DATA
}

// Mailbox is the sandbox's in-memory store. It is safe for concurrent
// use. It keeps the most recent messages within two bounds, a count
// (Config.MailboxLimit) and a size (Config.MailboxBytes), dropping the
// oldest first; the newest message is always kept. It is a ring, so a
// delivery into a full mailbox costs the same as into an empty one.
type Mailbox struct {
	mu       sync.Mutex
	ring     []Message // grows up to limit; ring[head] is the oldest
	head, n  int
	bytes    int64
	limit    int
	maxBytes int64
	total    int
	changed  chan struct{}
}

func newMailbox(limit int, maxBytes int64) *Mailbox {
	return &Mailbox{limit: limit, maxBytes: maxBytes, changed: make(chan struct{})}
}

// size is what a message counts against MailboxBytes: its content and
// envelope, which a client controls, plus a fixed amount for the rest.
func (msg *Message) size() int64 {
	n := len(msg.Data) + len(msg.From) + len(msg.Helo) + len(msg.AuthUser) + len(msg.ID) + 256
	for _, s := range msg.To {
		n += len(s) + 16
	}
	for _, s := range msg.Params {
		n += len(s) + 16
	}
	for _, r := range msg.Rcpts {
		n += len(r.Addr) + len(r.Text) + 40
	}
	return int64(n)
}

// Recipient is one RCPT of a transaction: the address as given (without
// angle brackets) and the reply's code and text (the enhanced code
// included, when the session used EHLO).
type Recipient struct {
	Addr string
	Code int
	Text string
}

// recipients is Rcpts, or To as accepted recipients for a Message built
// without them.
func (msg *Message) recipients() []Recipient {
	if len(msg.Rcpts) > 0 {
		return msg.Rcpts
	}
	out := make([]Recipient, len(msg.To))
	for i, t := range msg.To {
		out[i] = Recipient{Addr: t, Code: 250}
	}
	return out
}

// add stores msg and reports how many older messages, of how many bytes,
// it dropped to make room.
func (m *Mailbox) add(msg Message) (dropped int, droppedBytes int64) {
	size := msg.size()
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.n > 0 && (m.n >= m.limit || m.bytes+size > m.maxBytes) {
		old := &m.ring[m.head]
		b := old.size()
		*old = Message{} // let the collector have its data
		m.head = (m.head + 1) % len(m.ring)
		m.n--
		m.bytes -= b
		dropped++
		droppedBytes += b
	}
	if m.n == len(m.ring) {
		grown := make([]Message, min(max(2*len(m.ring), 16), m.limit))
		for i := range m.n {
			grown[i] = m.ring[(m.head+i)%len(m.ring)]
		}
		m.ring, m.head = grown, 0
	}
	m.ring[(m.head+m.n)%len(m.ring)] = msg
	m.n++
	m.bytes += size
	m.total++
	close(m.changed)
	m.changed = make(chan struct{})
	return dropped, droppedBytes
}

// Messages returns the stored messages, oldest first.
func (m *Mailbox) Messages() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Message, m.n)
	for i := range m.n {
		out[i] = m.ring[(m.head+i)%len(m.ring)]
	}
	return out
}

// Bytes is what the stored messages count against Config.MailboxBytes.
func (m *Mailbox) Bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// Len is the number of stored messages.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Total is the number of messages delivered since the server started,
// including those the limit has since dropped and those Clear removed.
func (m *Mailbox) Total() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Clear removes the stored messages; Total keeps counting.
func (m *Mailbox) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring, m.head, m.n, m.bytes = nil, 0, 0, 0
}

// Changed returns a channel that is closed at the next delivery.
func (m *Mailbox) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// Wait blocks until Total reaches n or ctx is done. Tests use it instead
// of sleeping: the final reply is written before the client can see it,
// but the message is stored before that reply.
func (m *Mailbox) Wait(ctx context.Context, n int) error {
	for {
		m.mu.Lock()
		total, ch := m.total, m.changed
		m.mu.Unlock()
		if total >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

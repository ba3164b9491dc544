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
	ID       string    // queue id, "<session>.<n>", also in the 250 reply
	Session  string    // session id of the log lines, "s3"
	From     string    // reverse-path without angle brackets; "" for <>
	To       []string  // accepted recipients (LMTP: those delivered)
	Data     []byte    // message content
	Received time.Time // when the final reply was sent
	TLS      bool      // whether the session was under TLS
	AuthUser string    // AUTH identity, "" when not authenticated
	Helo     string    // argument of the last HELO/EHLO/LHLO
	Params   []string  // MAIL parameters as sent, e.g. "SIZE=123"
	Chunked  bool      // sent with BDAT rather than DATA
}

// Mailbox is the sandbox's in-memory store. It is safe for concurrent
// use; it keeps the most recent Config.MailboxLimit messages.
type Mailbox struct {
	mu      sync.Mutex
	msgs    []Message
	total   int
	limit   int
	changed chan struct{}
}

func newMailbox(limit int) *Mailbox {
	return &Mailbox{limit: limit, changed: make(chan struct{})}
}

func (m *Mailbox) add(msg Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	if over := len(m.msgs) - m.limit; over > 0 {
		m.msgs = append(m.msgs[:0:0], m.msgs[over:]...)
	}
	m.total++
	close(m.changed)
	m.changed = make(chan struct{})
}

// Messages returns the stored messages, oldest first.
func (m *Mailbox) Messages() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.msgs...)
}

// Len is the number of stored messages.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
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
	m.msgs = nil
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

package session

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// A server that never greets is ehlo giving up, whatever the port: the
// hint must not say the server is on port 465 (issue 14 item 10).
func TestHintGreetingSaysEhloGaveUp(t *testing.T) {
	err := hintGreeting(fmt.Errorf("read: %w", os.ErrDeadlineExceeded), SendConfig{Kind: protocol.SMTP, Timeout: time.Second})
	msg := err.Error()
	for _, want := range []string{"no greeting within 1s", "ehlo gave up", "--timeout", "try --tls-on-connect"} {
		if !strings.Contains(msg, want) {
			t.Errorf("hint %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "a server on port 465") {
		t.Errorf("hint %q claims the server is on port 465", msg)
	}
}

// An error quoting server bytes already escaped ("Ok\r\n" as four
// characters) is shown as it reads, not with its backslashes doubled
// (issue 14 item 10).
func TestLastErrorKeepsEscapes(t *testing.T) {
	l := NewLive(LiveConfig{Server: "127.0.0.1:1", Options: protocol.Options{Timeout: time.Second}})
	defer l.Close()
	l.mu.Lock()
	w := l.cur
	l.mu.Unlock()
	w.fail(fmt.Errorf(`unexpected reply: '650 2.0.0 Ok\r\n'`))
	if got := l.Snapshot().LastError; got != `unexpected reply: '650 2.0.0 Ok\r\n'` {
		t.Errorf("LastError = %q", got)
	}
}

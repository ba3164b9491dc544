package session

import (
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// FuzzMailboxReplies feeds any reply text to the LIST and FETCH parsers:
// an error or a result within the bounds, never a panic, and a page never
// longer than it said.
func FuzzMailboxReplies(f *testing.F) {
	f.Add("1 messages\neyJpZCI6IlExIiwic2l6ZSI6M30=\nend", int64(3), int64(0))
	f.Add("3 0 3\nYWJj\nend", int64(3), int64(0))
	f.Add("997 messages (3 older not listed)\nend", int64(0), int64(0))
	f.Add("9 0 99999999999999999999\nend", int64(9), int64(0))
	f.Fuzz(func(t *testing.T, text string, size, offset int64) {
		r := protocol.Reply{Code: 250, Message: text}
		if msgs, omitted, err := parseMailboxList(r); err == nil {
			if omitted < 0 || len(msgs) != strings.Count(text, "\n")-1 {
				t.Fatalf("list of %d (omitted %d) from %q", len(msgs), omitted, text)
			}
		}
		if size < 0 || offset < 0 || offset > size {
			return
		}
		if page, err := parseMailboxPage("XMAILBOX FETCH Q 0", r, size, offset); err == nil && int64(len(page)) > size-offset {
			t.Fatalf("a page of %d bytes at %d of %d", len(page), offset, size)
		}
	})
}

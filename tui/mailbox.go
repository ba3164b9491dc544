package tui

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
)

// MailItem is one message the sandbox received, as main hands it over.
type MailItem struct {
	From     string
	To       []string
	Received time.Time
	Data     []byte
}

// mailboxView lists the sandbox's messages and shows the selected one. A
// message is bytes a client sent, so it is sanitized line by line like
// anything else from the wire.
type mailboxView struct {
	items  []MailItem
	sel    int
	scroll int
}

func (v *mailboxView) set(items []MailItem) {
	v.items = items
	if v.sel >= len(items) {
		v.sel = max(0, len(items)-1)
	}
}

func (v *mailboxView) move(d int) {
	if len(v.items) == 0 {
		return
	}
	v.sel = min(max(v.sel+d, 0), len(v.items)-1)
	v.scroll = 0
}

// view draws the list (left) and the message (right) in w by h cells.
func (v *mailboxView) view(s themes.Styles, w, h int) []string {
	listW := min(max(w*2/5, 30), 50)
	var list []string
	if len(v.items) == 0 {
		list = append(list, s.Muted.Render("no messages yet: /send one"))
	}
	inner := listW - 4
	for i, it := range v.items {
		line := fmt.Sprintf("%s %s → %s", it.Received.Format("15:04:05"), safe(it.From), safe(strings.Join(it.To, ", ")))
		line = padRight(truncate(line, inner), inner)
		if i == v.sel {
			line = s.Selected.Render(line)
		}
		list = append(list, line)
	}
	// Keep the selection in view.
	rows := h - 2
	if v.sel >= rows && len(list) > rows {
		list = list[v.sel-rows+1:]
	}
	left := box(s, fmt.Sprintf("Mailbox (%d)", len(v.items)), "esc close", list, listW, h, true)
	var msg []string
	title := "Message"
	if len(v.items) > 0 {
		it := v.items[v.sel]
		title = fmt.Sprintf("Message %d · %s", v.sel+1, humanBytes(int64(len(it.Data))))
		all := bytes.Split(it.Data, []byte("\n"))
		v.scroll = min(max(v.scroll, 0), max(0, len(all)-(h-2)))
		for _, l := range all[v.scroll:min(len(all), v.scroll+h-2)] {
			msg = append(msg, s.Text.Render(strings.ReplaceAll(session.Sanitize(bytes.TrimSuffix(l, []byte("\r"))), "\t", "    ")))
		}
	}
	right := box(s, title, "↑/↓ pgup/pgdn", msg, w-listW, h, false)
	return joinColumns(left, right)
}

package tui

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
)

// MailItem is one message the sandbox received, as main hands it over,
// with the envelope and session it came with.
type MailItem struct {
	From     string
	To       []string // the accepted recipients
	Received time.Time
	Data     []byte

	ID       string   // the queue id of the 250 reply
	Helo     string   // the last HELO/EHLO argument
	Params   []string // MAIL FROM parameters as sent
	TLS      bool
	AuthUser string // "" when not authenticated
	Chunked  bool   // BDAT rather than DATA
}

// envelope is how the message came: the session (HELO, TLS, AUTH) and the
// envelope as commands, each recipient on its own line, so nothing is cut.
func (it MailItem) envelope() []string {
	tls, auth := "no (cleartext)", "no"
	if it.TLS {
		tls = "yes"
	}
	if it.AuthUser != "" {
		auth = "as " + safe(it.AuthUser)
	}
	from := "MAIL FROM:<" + safe(it.From) + ">"
	if len(it.Params) > 0 {
		from += " " + safe(strings.Join(it.Params, " "))
	}
	helo := safe(it.Helo)
	if helo == "" {
		helo = "(none)"
	}
	out := []string{"HELO " + helo + " · TLS " + tls + " · AUTH " + auth, from}
	for _, to := range it.To {
		out = append(out, "RCPT TO:<"+safe(to)+"> → 250 accepted")
	}
	body := "DATA"
	if it.Chunked {
		body = "BDAT"
	}
	id := ""
	if it.ID != "" {
		id = " as " + safe(it.ID)
	}
	return append(out, body+" → 250 queued"+id)
}

// mailboxView lists the sandbox's messages and shows the selected one. A
// message is bytes a client sent, so it is sanitized line by line like
// anything else from the wire.
type mailboxView struct {
	keys   mailboxKeyMap // mailbox_keys.go
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
	// Two rows an item: the sender, then the recipients, so that neither
	// is cut to make room for the other.
	for i, it := range v.items {
		to := "→ " + safe(strings.Join(it.To, ", "))
		rows := []string{it.Received.Format("15:04:05") + " " + safe(it.From), "  " + to}
		for _, r := range rows {
			r = padRight(truncate(r, inner), inner)
			if i == v.sel {
				r = s.Selected.Render(r)
			}
			list = append(list, r)
		}
	}
	// Keep the selection in view.
	rows := h - 2
	if last := 2*v.sel + 1; last >= rows && len(list) > rows {
		list = list[last-rows+1:]
	}
	left := box(s, fmt.Sprintf("Mailbox (%d)", len(v.items)), "esc close", list, listW, h, true)
	var msg []string
	title := "Message"
	if len(v.items) > 0 {
		it := v.items[v.sel]
		title = fmt.Sprintf("Message %d · %s", v.sel+1, humanBytes(int64(len(it.Data))))
		var all []string
		for _, e := range it.envelope() {
			for _, l := range wrap(e, w-listW-4, 0) {
				all = append(all, s.Muted.Render(l))
			}
		}
		all = append(all, s.Border.Render(strings.Repeat("┄", max(0, w-listW-4))))
		for _, l := range bytes.Split(it.Data, []byte("\n")) {
			all = append(all, s.Text.Render(strings.ReplaceAll(session.Sanitize(bytes.TrimSuffix(l, []byte("\r"))), "\t", "    ")))
		}
		v.scroll = min(max(v.scroll, 0), max(0, len(all)-(h-2)))
		msg = all[v.scroll:min(len(all), v.scroll+h-2)]
	}
	right := box(s, title, "↑/↓ pgup/pgdn", msg, w-listW, h, false)
	return joinColumns(left, right)
}

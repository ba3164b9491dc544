package tui

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

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
	// Rcpts is every RCPT TO with its reply, the refused ones too, when
	// the server kept them; nil shows To as accepted.
	Rcpts []MailRcpt
	// RcptsOmitted counts recipients the server left out of Rcpts.
	RcptsOmitted int

	ID         string   // the queue id of the 250 reply
	Helo       string   // the last HELO/EHLO argument
	Params     []string // MAIL FROM parameters as sent
	TLS        bool
	TLSVersion string // "TLS 1.3"; "" when unknown
	AuthUser   string // "" when not authenticated
	Chunked    bool   // BDAT rather than DATA
}

// MailRcpt is one RCPT TO and the server's reply to it.
type MailRcpt struct {
	Addr string
	Code int
	Text string
}

// envelope is how the message came: the session (HELO, TLS, AUTH) and the
// envelope as commands, each recipient on its own line, so nothing is cut.
func (it MailItem) envelope() []string {
	tls, auth := "no (cleartext)", "no"
	if it.TLS {
		tls = "yes"
		if it.TLSVersion != "" {
			tls = "yes (" + safe(it.TLSVersion) + ")"
		}
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
	for _, rc := range it.Rcpts {
		verdict := "accepted"
		if rc.Code >= 400 {
			verdict = "REFUSED"
		}
		out = append(out, fmt.Sprintf("RCPT TO:<%s> → %d %s (%s)", safe(rc.Addr), rc.Code, safe(rc.Text), verdict))
	}
	if it.RcptsOmitted > 0 {
		out = append(out, fmt.Sprintf("… %d more RCPT TO not listed by the server", it.RcptsOmitted))
	}
	if it.Rcpts == nil {
		for _, to := range it.To {
			out = append(out, "RCPT TO:<"+safe(to)+"> → 250 accepted")
		}
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
	// The sender, then the recipients, each wrapped rather than cut, so
	// that no address is lost (issue 14 item 8); first[i] is item i's
	// first row.
	first := make([]int, len(v.items)+1)
	for i, it := range v.items {
		first[i] = len(list)
		rows := wrap(it.Received.Format("15:04:05")+" "+safe(it.From), inner, 0)
		rows = append(rows, wrap("  → "+safe(strings.Join(it.To, ", ")), inner, 0)...)
		for _, r := range rows {
			r = padRight(r, inner)
			if i == v.sel {
				r = s.Selected.Render(r)
			}
			list = append(list, r)
		}
	}
	first[len(v.items)] = len(list)
	// Keep the selection in view.
	rows := h - 2
	if len(v.items) > 0 {
		if last := first[v.sel+1] - 1; last >= rows && len(list) > rows {
			list = list[last-rows+1:]
		}
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

// mailboxSource is a conversation that can read a workshop sandbox's
// mailbox over the connection (*session.Live, through XMAILBOX).
type mailboxSource interface {
	Mailbox() <-chan session.MailboxResult
}

// mailboxLoadedMsg carries what a workshop sandbox's mailbox held.
type mailboxLoadedMsg struct {
	items   []MailItem
	omitted int
	err     error
}

// openMailbox reads the embedded sandbox's mailbox, or asks a workshop
// sandbox for the student's over the connection: the request is queued
// here, in order with what was typed. Either is waited for in a tea.Cmd,
// never in Update (mailboxMsg, mailboxLoadedMsg).
func (m *Model) openMailbox(cmdArgs) tea.Cmd {
	if m.cfg.Mailbox != nil {
		get := m.cfg.Mailbox
		return func() tea.Msg { return mailboxMsg{get()} }
	}
	src, ok := m.conv.(mailboxSource)
	if snap := m.conv.Snapshot(); !ok || !advertises(snap, session.XMAILBOX) && !(snap.Connected && snap.State.Authenticated) {
		m.setFlash("no mailbox: not ehlo's sandbox (ehlo sandbox --workshop offers one after AUTH)", true)
		return nil
	}
	ch := src.Mailbox()
	m.setFlash("reading your mailbox (XMAILBOX, in the wire log)…", false)
	return func() tea.Msg {
		r := <-ch
		return mailboxLoadedMsg{items: mailItems(r.Messages), omitted: r.Omitted, err: r.Err}
	}
}

func (m *Model) mailboxLoaded(msg mailboxLoadedMsg) {
	if msg.err != nil {
		m.setFlash("mailbox: "+safe(msg.err.Error()), true)
		return
	}
	flash := fmt.Sprintf("%d messages in your mailbox", len(msg.items))
	if msg.omitted > 0 {
		flash += fmt.Sprintf(" (%d older ones the server could not list)", msg.omitted)
	}
	m.setFlash(flash, false)
	m.mailbox.set(msg.items)
	m.overlay = overlayMailbox
}

func advertises(s snapshot, keyword string) bool {
	if s.ExtensionsStale {
		return false
	}
	for _, e := range s.Extensions {
		if strings.EqualFold(e.Keyword, keyword) {
			return true
		}
	}
	return false
}

// mailItems turns XMAILBOX's messages into the mailbox view's.
func mailItems(msgs []session.MailboxMessage) []MailItem {
	items := make([]MailItem, 0, len(msgs))
	for _, mm := range msgs {
		it := MailItem{From: mm.From, Received: mm.Received, Data: mm.Data, ID: mm.ID, Helo: mm.Helo, Params: mm.Params,
			TLS: mm.TLS, TLSVersion: mm.TLSVersion, AuthUser: mm.AuthUser, Chunked: mm.Chunked, Rcpts: []MailRcpt{}, RcptsOmitted: mm.RcptsOmitted}
		for _, rc := range mm.Rcpts {
			it.Rcpts = append(it.Rcpts, MailRcpt(rc))
			if rc.Code >= 200 && rc.Code < 300 {
				it.To = append(it.To, rc.Addr)
			}
		}
		items = append(items, it)
	}
	return items
}

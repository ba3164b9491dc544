package tui

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
)

// msgs runs cmd and the commands it batches, each for at most a moment: the
// session listener blocks by design, and is left behind.
func msgs(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-ch:
	case <-time.After(50 * time.Millisecond):
		return nil
	}
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, msgs(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

func hasQuit(cmd tea.Cmd) bool {
	return slices.ContainsFunc(msgs(cmd), func(m tea.Msg) bool { _, ok := m.(tea.QuitMsg); return ok })
}

func wantCalls(t *testing.T, f *fakeConv, want ...string) {
	t.Helper()
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

func connected(f *fakeConv) {
	f.set(func(s *snapshot) {
		s.Connected = true
		s.State = protocol.State{Phase: protocol.PhaseHello}
		s.Extensions = []protocol.Extension{{Keyword: "SIZE", Params: "35882577"}, {Keyword: "AUTH", Params: "PLAIN LOGIN CRAM-MD5"}, {Keyword: "8BITMIME"}, {Keyword: "DSN"}, {Keyword: "SMTPUTF8"}}
	})
}

func TestRawLineGoesToInput(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 80, 24)
	typeText(m, "EHLO client.example")
	press(m, "enter")
	wantCalls(t, f, `Input("EHLO client.example")`)
	if v := m.comp.input.Value(); v != "" {
		t.Errorf("composer keeps %q after Enter", v)
	}
	if !slices.Equal(m.comp.history, []string{"EHLO client.example"}) {
		t.Errorf("history = %q", m.comp.history)
	}
	// An empty line is not sent.
	press(m, "enter")
	wantCalls(t, f, `Input("EHLO client.example")`)
}

func TestSlashCommands(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"/connect", []string{"Connect"}},
		{"/ehlo", []string{`Ehlo("")`}},
		{"/ehlo client.example", []string{`Ehlo("client.example")`}},
		{"/helo me", []string{`Helo("me")`}},
		{"/starttls", []string{"StartTLS"}},
		{"/verify postmaster@example.test", []string{`Verify("postmaster@example.test")`}},
		{"/verify", nil},
		{"/noop", []string{"Noop"}},
		{"/RSET", []string{"Rset"}},
		{"/login alice pass word", []string{`Login("alice", "pass word")`}},
		{"/auth plain alice s3cret", []string{`Auth("PLAIN", "alice", "s3cret")`}},
		{"/auth EXTERNAL", []string{`Auth("EXTERNAL", "", "")`}},
		{"/bogus", nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			f := newFake()
			connected(f)
			m := newTestModel(t, f, "dark", 80, 24)
			m.Update(activityMsg{})
			typeText(m, tt.line)
			press(m, "enter")
			wantCalls(t, f, tt.want...)
			if tt.want == nil && m.flash == "" {
				t.Errorf("no message for %q", tt.line)
			}
		})
	}
}

// Secrets never enter the history (security-anchors §4.3 rule 2): /login
// and /auth lose their secret, a raw AUTH its initial response, and lines
// typed while the session asks for a secret are not kept at all.
func TestHistoryKeepsNoSecrets(t *testing.T) {
	f := newFake()
	connected(f)
	m := newTestModel(t, f, "dark", 80, 24)
	m.Update(activityMsg{})
	for _, line := range []string{"/login alice hunter2", "/auth PLAIN bob hunter3", "AUTH PLAIN AGFsaWNlAGh1bnRlcjQ="} {
		typeText(m, line)
		press(m, "enter")
	}
	f.set(func(s *snapshot) { s.Mode, s.Challenge, s.SecretInput = modeAuth, "Password:", true })
	m.Update(activityMsg{})
	if m.comp.input.EchoMode != textinput.EchoPassword {
		t.Fatal("input not masked while the session asks for a secret")
	}
	typeText(m, "hunter5")
	if strings.Contains(plain(m), "hunter5") {
		t.Error("a secret being typed is on screen")
	}
	press(m, "enter")
	wantCalls(t, f, `Login("alice", "hunter2")`, `Auth("PLAIN", "bob", "hunter3")`, `Input("AUTH PLAIN AGFsaWNlAGh1bnRlcjQ=")`, `Input("hunter5")`)
	want := []string{"/login alice", "/auth PLAIN bob", "AUTH PLAIN [redacted]"}
	if !slices.Equal(m.comp.history, want) {
		t.Errorf("history = %q, want %q", m.comp.history, want)
	}
	for _, h := range m.comp.history {
		if strings.Contains(h, "hunter") || strings.Contains(h, "AGFsaWNl") {
			t.Errorf("secret in history: %q", h)
		}
	}
}

// /login USER asks for the password masked; it reaches Login and nowhere
// else.
func TestLoginPrompt(t *testing.T) {
	f := newFake()
	connected(f)
	m := newTestModel(t, f, "dark", 80, 24)
	typeText(m, "/login alice")
	press(m, "enter")
	if m.comp.prompt == nil || m.comp.input.EchoMode != textinput.EchoPassword {
		t.Fatal("no masked password prompt after /login USER")
	}
	typeText(m, "s3cret!")
	if strings.Contains(plain(m), "s3cret") {
		t.Error("password on screen")
	}
	press(m, "enter")
	wantCalls(t, f, `Login("alice", "s3cret!")`)
	if m.comp.prompt != nil || m.comp.input.EchoMode != textinput.EchoNormal {
		t.Error("prompt still up after the password")
	}
	if !slices.Equal(m.comp.history, []string{"/login alice"}) {
		t.Errorf("history = %q", m.comp.history)
	}
	// Esc abandons a prompt.
	typeText(m, "/auth LOGIN bob")
	press(m, "enter", "esc")
	if m.comp.prompt != nil {
		t.Error("Esc left the prompt up")
	}
}

func TestDataMode(t *testing.T) {
	f := newFake()
	connected(f)
	f.set(func(s *snapshot) { s.Mode, s.DataLines = modeData, 2 })
	m := newTestModel(t, f, "dark", 80, 24)
	m.Update(activityMsg{})
	view := plain(m)
	if !strings.Contains(view, "DATA · 2 lines") || !strings.Contains(view, "DATA> ") {
		t.Errorf("no DATA mode indicator:\n%s", view)
	}
	typeText(m, "Hello Bob,")
	press(m, "enter")
	// A pasted body goes in one Input, in order; the unfinished line stays.
	m.Update(tea.PasteMsg{Content: "line two\r\nline three\r\n.\r\nQUIT"})
	wantCalls(t, f, `Input("Hello Bob,")`, `Input("line two\nline three\n.")`)
	if v := m.comp.input.Value(); v != "QUIT" {
		t.Errorf("composer = %q, want the unfinished line", v)
	}
	if len(m.comp.history) != 0 {
		t.Errorf("DATA lines in history: %q", m.comp.history)
	}
}

func TestEscCancelsWhileBusy(t *testing.T) {
	f := newFake()
	f.set(func(s *snapshot) { s.Busy, s.BusySince, s.Pending = true, fixedStart.Add(40*time.Second), "EHLO" })
	m := newTestModel(t, f, "dark", 80, 24)
	m.Update(activityMsg{})
	if !strings.Contains(plain(m), "EHLO 2.0s") {
		t.Errorf("no busy indicator with elapsed time:\n%s", plain(m))
	}
	press(m, "esc")
	wantCalls(t, f, "Cancel")
	// Not busy: Esc does not cancel.
	f.set(func(s *snapshot) { s.Busy = false })
	m.Update(activityMsg{})
	press(m, "esc")
	wantCalls(t, f, "Cancel")
}

func TestHistoryNavigation(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 80, 24)
	for _, l := range []string{"NOOP", "HELP", "VRFY bob"} {
		typeText(m, l)
		press(m, "enter")
	}
	typeText(m, "RS")
	press(m, "up")
	if v := m.comp.input.Value(); v != "VRFY bob" {
		t.Errorf("up: %q", v)
	}
	press(m, "up", "up", "up")
	if v := m.comp.input.Value(); v != "NOOP" {
		t.Errorf("up×4: %q", v)
	}
	press(m, "down", "down", "down")
	if v := m.comp.input.Value(); v != "RS" {
		t.Errorf("back down to the draft: %q", v)
	}
}

func TestReverseSearch(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 80, 24)
	for _, l := range []string{"MAIL FROM:<a@x>", "RCPT TO:<b@x>", "MAIL FROM:<c@x>", "NOOP"} {
		typeText(m, l)
		press(m, "enter")
	}
	press(m, "ctrl+r")
	typeText(m, "mail")
	if v := m.comp.input.Value(); v != "MAIL FROM:<c@x>" {
		t.Errorf("ctrl+r mail: %q", v)
	}
	if !strings.Contains(plain(m), "(reverse-i-search)`mail'") {
		t.Errorf("no search prompt:\n%s", plain(m))
	}
	press(m, "ctrl+r")
	if v := m.comp.input.Value(); v != "MAIL FROM:<a@x>" {
		t.Errorf("ctrl+r again: %q", v)
	}
	press(m, "esc")
	if v := m.comp.input.Value(); v != "" || m.comp.searching {
		t.Errorf("esc: %q searching=%v", v, m.comp.searching)
	}
	press(m, "ctrl+r")
	typeText(m, "rcpt")
	press(m, "enter") // accept for editing, not send
	if v := m.comp.input.Value(); v != "RCPT TO:<b@x>" || m.comp.searching {
		t.Errorf("accept: %q", v)
	}
	if n := len(f.Calls()); n != 4 {
		t.Errorf("accepting a search match sent it (%d calls)", n)
	}
}

func TestCompletion(t *testing.T) {
	tests := []struct {
		typed, want string
	}{
		{"/st", "/starttls"},
		{"/th", "/theme"},
		{"/theme hi", "/theme high-contrast"},
		{"ml", "MAIL FROM:<"},
		{"rc", "RCPT TO:<"},
		{"MAIL FROM:<a@x> SI", "MAIL FROM:<a@x> SIZE="},
		{"MAIL FROM:<a@x> 8bit", "MAIL FROM:<a@x> BODY=8BITMIME"},
		{"MAIL FROM:<a@x> utf", "MAIL FROM:<a@x> SMTPUTF8"},
		{"MAIL FROM:<a@x> RET", "MAIL FROM:<a@x> RET=FULL"},
		{"RCPT TO:<b@x> NOT", "RCPT TO:<b@x> NOTIFY=NEVER"},
		{"AUTH cr", "AUTH CRAM-MD5"},
		{"/auth pl", "/auth PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			f := newFake()
			connected(f)
			m := newTestModel(t, f, "dark", 120, 40)
			m.Update(activityMsg{})
			typeText(m, tt.typed)
			if !strings.Contains(plain(m), "tab completes") {
				t.Errorf("no completion list:\n%s", plain(m))
			}
			press(m, "tab")
			if v := m.comp.input.Value(); v != tt.want {
				t.Errorf("tab: %q, want %q", v, tt.want)
			}
		})
	}
}

// Parameters the server did not advertise are not offered.
func TestCompletionFollowsExtensions(t *testing.T) {
	st := paneState{Exts: []extension{{"SIZE", "1000"}}}
	for _, s := range complete("MAIL FROM:<a@x> BO", st, nil) {
		if strings.HasPrefix(s.text, "BODY=") {
			t.Errorf("offered %q without 8BITMIME", s.text)
		}
	}
	if got := complete("MAIL FROM:<a@x> SI", st, nil); len(got) == 0 || got[0].text != "SIZE=" {
		t.Errorf("SIZE= not offered: %v", got)
	}
	// History lines are offered whole.
	got := complete("MAIL bo", st, []string{"MAIL FROM:<bob@example.test>", "NOOP"})
	if !slices.ContainsFunc(got, func(s suggestion) bool { return s.line && s.text == "MAIL FROM:<bob@example.test>" }) {
		t.Errorf("history not offered: %v", got)
	}
}

func TestCompletionSelectAndDismiss(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 80, 24)
	typeText(m, "/e")
	if len(m.comp.sugg) < 2 {
		t.Fatalf("suggestions for /e: %v", m.comp.sugg)
	}
	second := m.comp.sugg[1].text
	press(m, "ctrl+n", "tab")
	if v := m.comp.input.Value(); v != second {
		t.Errorf("ctrl+n tab: %q, want %q", v, second)
	}
	m.comp.input.SetValue("")
	typeText(m, "/e")
	press(m, "esc")
	if len(m.comp.sugg) != 0 {
		t.Error("esc did not hide the suggestions")
	}
	press(m, "tab")
	if v := m.comp.input.Value(); v != "/e" {
		t.Errorf("tab after esc changed the line: %q", v)
	}
}

func TestThemeCommand(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 80, 24)
	typeText(m, "/theme light")
	press(m, "enter")
	if m.theme.Name != "light" || m.styles.Theme.Name != "light" {
		t.Errorf("theme = %q", m.theme.Name)
	}
	typeText(m, "/theme nope")
	press(m, "enter")
	if !m.flashErr || !strings.Contains(m.flash, "unknown theme") || m.theme.Name != "light" {
		t.Errorf("flash = %q, theme %q", m.flash, m.theme.Name)
	}
	// NO_COLOR wins over /theme.
	mono, _ := New(Config{Conversation: f, Theme: "dark", NoColor: true})
	defer mono.Close()
	mono.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	typeText(mono, "/theme dark")
	press(mono, "enter")
	if mono.theme.Name != "mono" {
		t.Errorf("NO_COLOR theme switched to %q", mono.theme.Name)
	}
}

func TestQuit(t *testing.T) {
	t.Run("not connected", func(t *testing.T) {
		f := newFake()
		m := newTestModel(t, f, "dark", 80, 24)
		typeText(m, "/quit")
		if !hasQuit(press(m, "enter")) {
			t.Error("/quit while disconnected did not quit")
		}
	})
	t.Run("connected", func(t *testing.T) {
		f := newFake()
		connected(f)
		m := newTestModel(t, f, "dark", 80, 24)
		m.Update(activityMsg{})
		typeText(m, "/quit")
		press(m, "enter")
		wantCalls(t, f, "Quit")
		// The program waits for the server to close.
		f.set(func(s *snapshot) { s.Connected = false })
		_, cmd := m.Update(activityMsg{})
		if !hasQuit(cmd) {
			t.Error("no quit once the connection closed")
		}
	})
	t.Run("ctrl+c", func(t *testing.T) {
		m := newTestModel(t, newFake(), "dark", 80, 24)
		if !hasQuit(press(m, "ctrl+c")) {
			t.Error("ctrl+c did not quit")
		}
	})
}

func TestSendForm(t *testing.T) {
	f := newFake()
	connected(f)
	m := newTestModel(t, f, "dark", 80, 24)
	typeText(m, "/send")
	press(m, "enter")
	if m.overlay != overlaySend || !strings.Contains(plain(m), "Send a message") {
		t.Fatalf("no form:\n%s", plain(m))
	}
	typeText(m, "alice@example.test")
	press(m, "tab")
	typeText(m, "bob@example.test, carol@example.test")
	press(m, "enter")
	typeText(m, "Hello")
	press(m, "tab")
	typeText(m, "Hi Bob")
	press(m, "enter")
	typeText(m, "bye")
	press(m, "ctrl+s")
	wantCalls(t, f, `Send({From:alice@example.test To:[bob@example.test carol@example.test] Subject:Hello Body:Hi Bob
bye})`)
	if m.overlay != overlayNone {
		t.Error("form still open")
	}
	// The next /send starts from the last one.
	typeText(m, "/send")
	press(m, "enter")
	if v := m.sendForm.fields[0].Value(); v != "alice@example.test" {
		t.Errorf("from = %q", v)
	}
	press(m, "esc")
	if m.overlay != overlayNone {
		t.Error("esc left the form open")
	}
}

func TestSendFormNeedsRecipient(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 80, 24)
	typeText(m, "/send")
	press(m, "enter", "ctrl+s")
	if len(f.Calls()) != 0 || m.overlay != overlaySend || !strings.Contains(plain(m), "at least one recipient") {
		t.Errorf("sent without recipient: %v\n%s", f.Calls(), plain(m))
	}
}

func TestMailbox(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 80, 24)
	typeText(m, "/mailbox")
	press(m, "enter")
	if m.overlay != overlayNone || !strings.Contains(m.flash, "no mailbox") {
		t.Errorf("mailbox without a sandbox: overlay %v flash %q", m.overlay, m.flash)
	}
	m.cfg.Mailbox = func() []MailItem {
		return []MailItem{
			{From: "alice@example.test", To: []string{"bob@example.test"}, Received: fixedStart, Data: []byte("Subject: one\r\n\r\nfirst\r\n")},
			{From: "evil@example.test", To: []string{"bob@example.test"}, Received: fixedStart, Data: []byte("Subject: \x1b]0;pwned\x07two\r\n\r\nsecond\r\n")},
		}
	}
	typeText(m, "/mailbox")
	settle(m, press(m, "enter"))
	press(m, "down")
	v := m.View().Content
	if !strings.Contains(ansi.Strip(v), `Subject: \x1b]0;pwned\x07two`) || strings.Contains(v, "\x1b]0;pwned") {
		t.Errorf("message not shown sanitized:\n%s", ansi.Strip(v))
	}
	press(m, "esc")
	if m.overlay != overlayNone {
		t.Error("esc left the mailbox open")
	}
}

func TestExplainToggle(t *testing.T) {
	f := newFake()
	f.snap = demoSnapshot()
	m := newTestModel(t, f, "dark", 120, 40)
	deliver(m, demoEvents()...)
	typeText(m, "/explain")
	press(m, "enter")
	if !m.view.beside || !strings.Contains(plain(m), "550 mailbox unavail") {
		t.Errorf("no explanation beside the 550:\n%s", plain(m))
	}
	press(m, "shift+tab", "x")
	if m.view.beside {
		t.Error("x did not toggle explanations off")
	}
}

func TestLogFocusSelectCopySearch(t *testing.T) {
	f := newFake()
	f.snap = demoSnapshot()
	m := newTestModel(t, f, "dark", 120, 40)
	deliver(m, demoEvents()...)
	press(m, "shift+tab")
	if m.focus != focusLog || m.view.sel != m.log.Len()-1 {
		t.Fatalf("focus %v sel %d", m.focus, m.view.sel)
	}
	// Search for the refused recipient, then explain it.
	press(m, "/")
	typeText(m, "550")
	press(m, "enter")
	if got := m.log.plain(m.view.sel); !strings.HasPrefix(got, "<~  550 5.1.1") {
		t.Fatalf("search selected %q", got)
	}
	press(m, "e")
	if !strings.Contains(plain(m), "enhanced 5.1.1: permanent failure; addressing status: bad destination") {
		t.Errorf("no explanation of the selected line:\n%s", plain(m))
	}
	var copied []string
	for _, msg := range msgs(press(m, "y")) {
		copied = append(copied, fmt.Sprint(msg))
	}
	if len(copied) != 1 || !strings.HasPrefix(copied[0], "<~  550 5.1.1 <nobody@example.test>") {
		t.Errorf("copied %q", copied)
	}
	press(m, "n")
	if got := m.log.plain(m.view.sel); !strings.HasPrefix(got, "<~  550") {
		t.Errorf("n went to %q (the only match)", got)
	}
	press(m, "/")
	typeText(m, "no such text")
	press(m, "enter")
	if m.view.notice != "no match" {
		t.Errorf("notice %q", m.view.notice)
	}
	press(m, "i")
	if m.focus != focusComposer {
		t.Error("i did not return to the composer")
	}
}

// A resize keeps what the user scrolled to (STYLE B6).
func TestResizeKeepsScroll(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 100, 30)
	var evs []session.Event
	for i := range 500 {
		evs = append(evs, session.Event{Kind: session.KindServer, Data: fmt.Appendf(nil, "250 line %d\r\n", i)})
	}
	deliver(m, evs...)
	press(m, "pgup", "pgup")
	top := m.view.window(m.lines(), m.logRows())
	if m.view.follow || top == 0 {
		t.Fatalf("follow %v top %d", m.view.follow, top)
	}
	for _, sz := range [][2]int{{80, 24}, {200, 60}, {120, 40}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		if got := m.view.window(m.lines(), m.logRows()); got != top {
			t.Errorf("%v: top %d, want %d", sz, got, top)
		}
	}
	// New lines do not move a scrolled view; the end follows again.
	deliver(m, session.Event{Kind: session.KindServer, Data: []byte("250 more\r\n")})
	if got := m.view.window(m.lines(), m.logRows()); got != top {
		t.Errorf("new line moved the view to %d", got)
	}
	for range 30 {
		press(m, "pgdown")
	}
	if !m.view.follow {
		t.Error("scrolling to the end did not follow again")
	}
	m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	if m.view.follow {
		t.Error("wheel up still follows")
	}
}

func TestClickSelectsLine(t *testing.T) {
	f := newFake()
	f.snap = demoSnapshot()
	m := newTestModel(t, f, "dark", 120, 40)
	deliver(m, demoEvents()...)
	r := m.lay.Log
	m.Update(tea.MouseClickMsg{Button: tea.MouseLeft, X: r.X + 5, Y: r.Y + 1})
	top := m.view.window(m.lines(), m.logRows())
	if m.focus != focusLog || m.view.sel != top {
		t.Errorf("click: focus %v sel %d top %d", m.focus, m.view.sel, top)
	}
}

func TestTimestamps(t *testing.T) {
	f := newFake()
	f.snap = demoSnapshot()
	m := newTestModel(t, f, "dark", 120, 40)
	deliver(m, demoEvents()...)
	// Ctrl+T first shows each reply's round trip (issue 14 item 7): from
	// the last line sent to the reply's first line, not on its
	// continuation lines.
	press(m, "ctrl+t")
	v := plain(m)
	for _, want := range []string{"   39ms <~  250 2.0.0 Ok: queued as 4Xk2", "   10ms <~  550 5.1.1", "   10ms <~  250-mx.example.test Hello", "         <~  250-SIZE 10485760"} {
		if !strings.Contains(v, want) {
			t.Errorf("no round trip %q:\n%s", want, v)
		}
	}
	press(m, "ctrl+t")
	if !strings.Contains(plain(m), "00:00.260 <~  250 2.0.0 Ok: queued as 4Xk2") {
		t.Errorf("no timestamps:\n%s", plain(m))
	}
	press(m, "ctrl+t")
	if v := plain(m); strings.Contains(v, "00:00.260") || strings.Contains(v, "39ms") {
		t.Errorf("a third ctrl+t leaves a time column:\n%s", v)
	}
}

func TestHelpOverlay(t *testing.T) {
	m := newTestModel(t, newFake(), "dark", 80, 24)
	press(m, "f1")
	if m.overlay != overlayHelp || !strings.Contains(plain(m), "/starttls") {
		t.Fatalf("no help:\n%s", plain(m))
	}
	press(m, "esc")
	typeText(m, "/help")
	press(m, "enter")
	if m.overlay != overlayHelp {
		t.Error("/help did not open help")
	}
}

// At 80×24 the help does not fit; every command and key must still be
// reachable by scrolling, and no line may be cut at the box's edge.
func TestHelpOverlayScrollsToEverything(t *testing.T) {
	for _, size := range [][2]int{{minWidth, minHeight}, {100, 30}, {120, 40}} {
		m := newTestModel(t, newFake(), "dark", size[0], size[1])
		press(m, "f1")
		seen := plain(m)
		for range 40 {
			press(m, "down")
			seen += plain(m)
		}
		for _, c := range commands {
			if !strings.Contains(seen, c.name) {
				t.Errorf("%dx%d: %s never shown", size[0], size[1], c.name)
			}
		}
		for _, want := range []string{"round trip/time", "explain all", "follow", "sent to the server as typed", "log in with the best mechanism offered (asks", "for the password)"} {
			if !strings.Contains(seen, want) {
				t.Errorf("%dx%d: %q never shown", size[0], size[1], want)
			}
		}
		if strings.Contains(seen, "…") {
			t.Errorf("%dx%d: a line was cut:\n%s", size[0], size[1], seen)
		}
		bottom := plain(m)
		press(m, "down")
		if plain(m) != bottom {
			t.Errorf("%dx%d: scrolled past the end", size[0], size[1])
		}
		press(m, "g")
		if m.helpOv.top != 0 {
			t.Errorf("%dx%d: g left the help at line %d", size[0], size[1], m.helpOv.top)
		}
		press(m, "esc", "f1")
		if m.overlay != overlayHelp || m.helpOv.top != 0 {
			t.Errorf("%dx%d: help reopened at line %d", size[0], size[1], m.helpOv.top)
		}
	}
}

func TestRecordCommand(t *testing.T) {
	f := newFake()
	m, _ := New(Config{Conversation: f, Recording: true, RecordPath: "/tmp/s.jsonl"})
	defer m.Close()
	m.now = func() time.Time { return fixedStart }
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if !strings.Contains(plain(m), "● REC") {
		t.Error("no recording dot")
	}
	typeText(m, "/record")
	press(m, "enter")
	if !strings.Contains(m.flash, "recording to /tmp/s.jsonl") {
		t.Errorf("flash %q", m.flash)
	}
	on := true
	m.cfg.ToggleRecord = func() (bool, string, error) { on = !on; return on, "/tmp/s.jsonl", nil }
	typeText(m, "/record")
	settle(m, press(m, "enter"))
	if m.recording || strings.Contains(plain(m), "● REC") {
		t.Error("toggle did not stop the recording")
	}
}

func TestUnknownThemeIsAnError(t *testing.T) {
	if _, err := New(Config{Conversation: newFake(), Theme: "nope"}); err == nil {
		t.Error("New accepted an unknown theme")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted neither a conversation nor a recording")
	}
}

// In AUTH challenge mode Esc cancels the exchange (the session answers
// "*"). In DATA the first Esc says what it would do, any other key keeps
// the message, and a second Esc in a row abandons it (issue 14 item 1).
func TestEscInModes(t *testing.T) {
	f := newFake()
	connected(f)
	f.set(func(s *snapshot) { s.Mode, s.Challenge, s.SecretInput = modeAuth, "Username:", false })
	m := newTestModel(t, f, "dark", 80, 24)
	m.Update(activityMsg{})
	press(m, "esc")
	wantCalls(t, f, "Cancel")
	f.set(func(s *snapshot) { s.Mode, s.DataLines, s.DataTail = modeData, 1, []string{"Subject: hi"} })
	m.Update(activityMsg{})
	press(m, "esc")
	wantCalls(t, f, "Cancel")
	if v := plain(m); !strings.Contains(v, "esc again abandons the message and closes the connection") ||
		!strings.Contains(v, "SMTP has no way to cancel DATA") {
		t.Errorf("the first Esc in DATA does not say what a second would do:\n%s", v)
	}
	typeText(m, "x") // any other key disarms
	press(m, "esc")
	wantCalls(t, f, "Cancel")
	press(m, "esc")
	wantCalls(t, f, "Cancel", "Cancel")
	if v := plain(m); !strings.Contains(v, "not sent: closed before the final dot; /connect again") {
		t.Errorf("the second Esc does not say what it did:\n%s", v)
	}
	if v := m.comp.input.Value(); v != "" {
		t.Errorf("the composer keeps %q of the abandoned message", v)
	}
}

// The message typed after DATA is on screen before the final dot: the last
// lines, with how many came before (issue 14 item 1).
func TestDataBodyShown(t *testing.T) {
	f := newFake()
	connected(f)
	var tail []string
	for i := 1; i <= 40; i++ {
		tail = append(tail, fmt.Sprintf("body line %d", i))
	}
	f.set(func(s *snapshot) { s.Mode, s.DataLines, s.DataTail = modeData, 100, tail })
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		m := newTestModel(t, f, "dark", size[0], size[1])
		m.Update(activityMsg{})
		v := plain(m)
		if !strings.Contains(v, "Message · 100 lines · not sent yet") || !strings.Contains(v, "body line 40") {
			t.Errorf("%dx%d: the body typed so far is not shown:\n%s", size[0], size[1], v)
		}
		if !strings.Contains(v, "earlier lines") || strings.Contains(v, "body line 1\n") {
			t.Errorf("%dx%d: no count of the lines above the box:\n%s", size[0], size[1], v)
		}
		checkFrame(t, m, size[0], size[1])
	}
}

// After a search or an explanation (i) in the wire log, going back to the
// composer follows the conversation again: the reply to the next command
// is on screen, not below it (issue 14 item 2). A command sent after
// scrolling up (PgUp) brings the log back to its end too.
func TestFollowAfterSearchAndExplain(t *testing.T) {
	newReply := session.Event{Offset: at(200), Kind: session.KindServer, Data: []byte("250 2.0.0 the newest reply\r\n"), TLS: true}
	for _, tc := range []struct {
		name string
		act  func(m *Model)
	}{
		{"search", func(m *Model) {
			press(m, "shift+tab", "/")
			typeText(m, "EHLO")
			press(m, "enter", "esc")
		}},
		{"explain", func(m *Model) { press(m, "shift+tab", "up", "up", "up", "e", "esc") }},
		{"explain+shift+tab", func(m *Model) { press(m, "shift+tab", "up", "up", "up", "e", "shift+tab") }},
		{"explain+i", func(m *Model) { press(m, "shift+tab", "up", "up", "up", "e", "i") }},
		{"pgup+send", func(m *Model) {
			press(m, "pgup")
			typeText(m, "NOOP")
			press(m, "enter")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.snap = demoSnapshot()
			m := newTestModel(t, f, "dark", 80, 24)
			deliver(m, demoEvents()...)
			tc.act(m)
			deliver(m, newReply)
			if v := plain(m); !strings.Contains(v, "the newest reply") || strings.Contains(v, "scrolled") {
				t.Errorf("the new reply is not on screen:\n%s", v)
			}
		})
	}
}

// A note quoting server bytes already escaped keeps its backslashes single
// in the wire log (issue 14 item 10); a server line's own backslash is
// still escaped, so a server cannot forge an escape.
func TestNoteEscapesNotDoubled(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 120, 40)
	deliver(m,
		session.Event{Offset: at(1), Kind: session.KindNote, Text: `error: unexpected reply '650 2.0.0 Ok\r\n'`},
		session.Event{Offset: at(2), Kind: session.KindServer, Data: []byte("250 a\\b\r\n")},
	)
	v := plain(m)
	if !strings.Contains(v, `'650 2.0.0 Ok\r\n'`) {
		t.Errorf("the note's escapes are doubled:\n%s", v)
	}
	if !strings.Contains(v, `250 a\\b`) {
		t.Errorf("a server's backslash is not escaped:\n%s", v)
	}
}

// Completion right after a space offers every candidate for the next word,
// and "/" lists every command with what it does, at every size (issue 14
// item 5).
func TestCompletionAfterSpaceAndAllCommands(t *testing.T) {
	f := newFake()
	connected(f)
	m := newTestModel(t, f, "dark", 80, 24)
	m.Update(activityMsg{})
	texts := func(ss []suggestion) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.text)
		}
		return out
	}
	if got := texts(complete("MAIL FROM:<a@b> ", m.st, nil)); !slices.Contains(got, "SIZE=") || !slices.Contains(got, "BODY=8BITMIME") {
		t.Errorf("after MAIL FROM:<a@b> and a space: %q", got)
	}
	if got := texts(complete("/theme ", m.st, nil)); !slices.Equal(got, themes.Names()) {
		t.Errorf("after /theme and a space: %q, want %q", got, themes.Names())
	}
	typeText(m, "MAIL FROM:<a@b> ")
	press(m, "tab")
	if v := m.comp.input.Value(); v != "MAIL FROM:<a@b> SIZE=" {
		t.Errorf("tab after the space gave %q", v)
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		m := newTestModel(t, f, "dark", size[0], size[1])
		m.Update(activityMsg{})
		typeText(m, "/")
		if len(m.comp.sugg) != len(commands) {
			t.Errorf("%dx%d: / offers %d of %d commands", size[0], size[1], len(m.comp.sugg), len(commands))
		}
		v := plain(m)
		for _, want := range []string{"/connect", "connect to the server", "/help", "keys and commands", "/mailbox"} {
			if !strings.Contains(v, want) {
				t.Errorf("%dx%d: the / list lacks %q:\n%s", size[0], size[1], want, v)
			}
		}
		checkFrame(t, m, size[0], size[1])
	}
}

// Layout at every size (issue 14 item 4): an Extensions list too long for
// its pane says how many more there are; the certificate's fingerprint is
// shown whole, wrapped; /explain leaves the server's text most of the row.
func TestLayoutNothingCutSilently(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		f := newFake()
		f.snap = demoSnapshot()
		for i := range 30 {
			f.snap.Extensions = append(f.snap.Extensions, protocol.Extension{Keyword: fmt.Sprintf("X-EXT%02d", i)})
		}
		m := newTestModel(t, f, "dark", sz[0], sz[1])
		deliver(m, demoEvents()...)
		v := plain(m)
		if !strings.Contains(v, " more ") && !regexp.MustCompile(`\+\d+ more`).MatchString(v) {
			t.Errorf("%dx%d: the Extensions list is cut without +N more:\n%s", sz[0], sz[1], v)
		}
		lines := connLines(m.st, m.styles, m.lay.Conn.W-4, m.now(), false)
		flat := strings.ReplaceAll(ansi.Strip(strings.Join(lines, " ")), " ", "")
		if !strings.Contains(flat, testCert.SHA256) {
			t.Errorf("%dx%d: the fingerprint is not shown whole:\n%s", sz[0], sz[1], ansi.Strip(strings.Join(lines, "\n")))
		}
	}
	f := newFake()
	f.snap = demoSnapshot()
	m := newTestModel(t, f, "dark", 120, 40)
	deliver(m, demoEvents()...)
	press(m, "shift+tab", "x")
	if v := plain(m); !strings.Contains(v, "<nobody@example.test>: Recipient ad") {
		t.Errorf("/explain cuts the server's text short at 120 columns:\n%s", v)
	}
}

// /mailbox shows how a message came: HELO, TLS, the AUTH user, MAIL FROM
// with its parameters and every recipient, and neither sender nor
// recipients are cut in the list at 120 columns (issue 14 item 8).
func TestMailboxEnvelope(t *testing.T) {
	items := []MailItem{{
		From: "alice.longname@example.test", To: []string{"bob.longername@example.test", "carol@example.test"},
		Received: fixedStart, Data: []byte("Subject: hi\r\n\r\nbody\r\n"),
		ID: "s1.1", Helo: "client.example", Params: []string{"SIZE=21"}, TLS: true, AuthUser: "alice",
	}}
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		f := newFake()
		m, err := New(Config{Conversation: f, Theme: "dark", Mailbox: func() []MailItem { return items }})
		if err != nil {
			t.Fatal(err)
		}
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		typeText(m, "/mailbox")
		settle(m, press(m, "enter"))
		v := plain(m)
		for _, want := range []string{"HELO client.example · TLS yes · AUTH", "MAIL FROM:<alice.longname@example.test>", "SIZE=21",
			"RCPT TO:<bob.longername@example.test>", "→ 250 accepted", "RCPT TO:<carol@example.test>", "DATA → 250 queued as s1.1", "Subject: hi"} {
			if !strings.Contains(v, want) {
				t.Errorf("%dx%d: the mailbox lacks %q:\n%s", sz[0], sz[1], want, v)
			}
		}
		if sz[0] >= 120 && (!strings.Contains(v, "alice.longname@example.test ") || !strings.Contains(v, "AUTH as alice") || !strings.Contains(v, "→ bob.longername@example.test,") || !strings.Contains(v, "│ carol@example.test ")) {
			t.Errorf("%dx%d: the list cuts the sender or the recipients:\n%s", sz[0], sz[1], v)
		}
		checkFrame(t, m, sz[0], sz[1])
		m.Close()
	}
}

// A certificate that fails verification is not a dead end: the pane shows
// the whole reason, the two ways out and the fingerprint to compare, at
// every size (issue 14 item 3).
func TestCertificateFailureWaysOut(t *testing.T) {
	reason := "tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of \"crypto/rsa: verification error\" while trying to verify candidate authority certificate \"sandbox\")"
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		f := newFake()
		f.snap = demoSnapshot()
		f.snap.State = st(protocol.PhaseHello, false, false, 0)
		f.snap.TLS = &session.TLSSummary{ServerName: "mx.example.test", Error: reason, Chain: []session.Certificate{testCert}}
		m := newTestModel(t, f, "dark", sz[0], sz[1])
		m.Update(activityMsg{})
		lines := ansi.Strip(strings.Join(connLines(m.st, m.styles, m.lay.Conn.W-4, m.now(), false), " "))
		flat := strings.Join(strings.Fields(lines), " ")
		for _, want := range []string{reason, "--ca FILE", "--insecure", "ehlo sandbox --write-ca FILE", testCert.SHA256} {
			if !strings.Contains(flat, want) && !strings.Contains(strings.ReplaceAll(flat, " ", ""), strings.ReplaceAll(want, " ", "")) {
				t.Errorf("%dx%d: the Connection pane lacks %q:\n%s", sz[0], sz[1], want, lines)
			}
		}
		checkFrame(t, m, sz[0], sz[1])
	}
}

// The config file's sender starts the /send form, and /theme hands the
// theme to SaveTheme to be kept (issue 14 item 9).
func TestConfigDefaultsReachTheTUI(t *testing.T) {
	var saved string
	m, err := New(Config{Conversation: newFake(), Theme: "dark", DefaultFrom: "cfg@example.test",
		SaveTheme: func(name string) (string, error) { saved = name; return "/cfg/ehlo/config.toml", nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	typeText(m, "/theme light")
	settle(m, press(m, "enter"))
	if saved != "light" || !strings.Contains(plain(m), "theme light, kept in /cfg/ehlo/config.toml") {
		t.Errorf("saved %q:\n%s", saved, plain(m))
	}
	typeText(m, "/send")
	press(m, "enter")
	if !strings.Contains(plain(m), "cfg@example.test") {
		t.Errorf("the /send form does not start with the configured sender:\n%s", plain(m))
	}
}

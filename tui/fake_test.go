package tui

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// fixedStart is the clock of every deterministic test.
var fixedStart = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// fakeConv is a Conversation that records calls and serves a snapshot the
// test sets.
type fakeConv struct {
	mu     sync.Mutex
	cap    *session.Capture
	notify chan struct{}
	snap   snapshot
	calls  []string
	onCall func(f *fakeConv, call string)
	// follow annotates what deliver hands the model, as the Capture
	// annotates a live session's events.
	follow *session.Follower
}

func newFake() *fakeConv {
	return &fakeConv{
		cap:    session.NewCapture(fixedStart, session.Redaction{}),
		notify: make(chan struct{}, 1),
		snap:   snapshot{Server: "mx.example.test:25", Started: fixedStart},
		follow: session.NewFollower(false),
	}
}

func (f *fakeConv) call(format string, args ...any) {
	c := fmt.Sprintf(format, args...)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	hook := f.onCall
	f.mu.Unlock()
	if hook != nil {
		hook(f, c)
	}
}

func (f *fakeConv) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeConv) set(fn func(s *snapshot)) {
	f.mu.Lock()
	fn(&f.snap)
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

func (f *fakeConv) Capture() *session.Capture { return f.cap }
func (f *fakeConv) Notify() <-chan struct{}   { return f.notify }
func (f *fakeConv) Snapshot() snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}
func (f *fakeConv) Connect()                       { f.call("Connect") }
func (f *fakeConv) Ehlo(name string)               { f.call("Ehlo(%q)", name) }
func (f *fakeConv) Helo(name string)               { f.call("Helo(%q)", name) }
func (f *fakeConv) StartTLS()                      { f.call("StartTLS") }
func (f *fakeConv) Login(user, password string)    { f.call("Login(%q, %q)", user, password) }
func (f *fakeConv) Auth(mech, user, secret string) { f.call("Auth(%q, %q, %q)", mech, user, secret) }
func (f *fakeConv) Send(s sendForm)                { f.call("Send(%+v)", s) }
func (f *fakeConv) Verify(addr string)             { f.call("Verify(%q)", addr) }
func (f *fakeConv) Noop()                          { f.call("Noop") }
func (f *fakeConv) Rset()                          { f.call("Rset") }
func (f *fakeConv) Quit()                          { f.call("Quit") }
func (f *fakeConv) Input(line string)              { f.call("Input(%q)", line) }
func (f *fakeConv) Cancel()                        { f.call("Cancel") }

var _ Conversation = (*fakeConv)(nil)

// at is an offset from fixedStart.
func at(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

// testCert is a certificate summary with fixed values, so goldens are
// stable.
var testCert = session.Certificate{
	Subject:   "CN=mx.example.test",
	Issuer:    "CN=Example Test CA,O=Example",
	SANs:      []string{"mx.example.test", "192.0.2.25"},
	NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	NotAfter:  time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	SHA256:    "3f1c0a9e5b7d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6",
}

func st(phase protocol.Phase, tls, auth bool, rcpts int) protocol.State {
	return protocol.State{Phase: phase, TLS: tls, Authenticated: auth, Recipients: rcpts}
}

// demoEvents is a whole session: greeting, EHLO, STARTTLS, EHLO again,
// AUTH, a message, QUIT.
func demoEvents() []session.Event {
	c := func(ms int, s string, tls bool) session.Event {
		return session.Event{Offset: at(ms), Kind: session.KindClient, Data: []byte(s), TLS: tls}
	}
	s := func(ms int, line string, tls bool) session.Event {
		return session.Event{Offset: at(ms), Kind: session.KindServer, Data: []byte(line + "\r\n"), TLS: tls}
	}
	state := func(ms int, p protocol.Phase, tls, auth bool, n int) session.Event {
		return session.Event{Offset: at(ms), Kind: session.KindState, State: st(p, tls, auth, n)}
	}
	return []session.Event{
		{Offset: 0, Kind: session.KindConnect, Network: "tcp", Addr: "mx.example.test:25"},
		state(12, protocol.PhaseConnected, false, false, 0),
		s(20, "220 mx.example.test ESMTP ready", false),
		state(20, protocol.PhaseGreeted, false, false, 0),
		c(30, "EHLO client.example\r\n", false),
		s(41, "250-mx.example.test Hello client.example [192.0.2.1]", false),
		s(41, "250-SIZE 10485760", false),
		s(41, "250-PIPELINING", false),
		s(41, "250-8BITMIME", false),
		s(41, "250-ENHANCEDSTATUSCODES", false),
		s(41, "250 STARTTLS", false),
		state(41, protocol.PhaseHello, false, false, 0),
		c(50, "STARTTLS\r\n", false),
		s(60, "220 2.0.0 Ready to start TLS", false),
		{Offset: at(95), Kind: session.KindTLS, Handshake: &session.TLSSummary{
			Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256", ServerName: "mx.example.test",
			Complete: true, Verified: true, Chain: []session.Certificate{testCert},
		}},
		state(95, protocol.PhaseGreeted, true, false, 0),
		c(100, "EHLO client.example\r\n", true),
		s(110, "250-mx.example.test Hello client.example [192.0.2.1]", true),
		s(110, "250-SIZE 10485760", true),
		s(110, "250-AUTH PLAIN LOGIN", true),
		s(110, "250-DSN", true),
		s(110, "250-SMTPUTF8", true),
		s(110, "250 ENHANCEDSTATUSCODES", true),
		state(110, protocol.PhaseHello, true, false, 0),
		{Offset: at(120), Kind: session.KindClient, Data: []byte("AUTH PLAIN [redacted user=\"alice\"]\r\n"), TLS: true, Redacted: true},
		s(130, "235 2.7.0 Authentication successful", true),
		state(130, protocol.PhaseHello, true, true, 0),
		c(140, "MAIL FROM:<alice@example.test> SIZE=321\r\n", true),
		s(150, "250 2.1.0 Ok", true),
		state(150, protocol.PhaseMail, true, true, 0),
		c(160, "RCPT TO:<bob@example.test>\r\n", true),
		s(170, "250 2.1.5 Ok", true),
		state(170, protocol.PhaseRcpt, true, true, 1),
		c(180, "RCPT TO:<nobody@example.test>\r\n", true),
		s(190, "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown", true),
		c(200, "DATA\r\n", true),
		s(210, "354 End data with <CR><LF>.<CR><LF>", true),
		state(210, protocol.PhaseData, true, true, 1),
		c(220, "Subject: hello\r\n\r\nHi Bob,\r\n", true),
		c(221, "this is a test.\r\n.\r\n", true),
		s(260, "250 2.0.0 Ok: queued as 4Xk2", true),
		state(260, protocol.PhaseHello, true, true, 0),
	}
}

// demoSnapshot is the session's snapshot after demoEvents.
func demoSnapshot() snapshot {
	return snapshot{
		Server:    "mx.example.test:25",
		Kind:      protocol.SMTP,
		Connected: true,
		State:     st(protocol.PhaseHello, true, true, 0),
		Extensions: []protocol.Extension{
			{Keyword: "SIZE", Params: "10485760"}, {Keyword: "AUTH", Params: "PLAIN LOGIN"},
			{Keyword: "DSN"}, {Keyword: "SMTPUTF8"}, {Keyword: "ENHANCEDSTATUSCODES"},
		},
		TLS: &session.TLSSummary{
			Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256", ServerName: "mx.example.test",
			Complete: true, Verified: true, Chain: []session.Certificate{testCert},
		},
		BytesIn: 812, BytesOut: 301,
		Started: fixedStart,
	}
}

// newTestModel builds a live model on a fake, sized w×h, with the fixed
// clock and the given theme.
func newTestModel(t testing.TB, f *fakeConv, theme string, w, h int) *Model {
	t.Helper()
	m, err := New(Config{Conversation: f, Theme: theme})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.now = func() time.Time { return fixedStart.Add(42 * time.Second) }
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

// deliver hands events to the model as the Capture would, then the
// activity message the listener would send.
func deliver(m *Model, evs ...session.Event) {
	f := m.conv.(*fakeConv)
	for _, e := range evs {
		f.follow.Annotate(&e)
		m.feed.Event(e)
	}
	m.Update(activityMsg{})
}

// press sends keys: "enter", "ctrl+r", or text typed rune by rune.
func press(m *Model, keys ...string) tea.Cmd {
	var cmds []tea.Cmd
	for _, k := range keys {
		_, c := m.Update(keyMsg(k))
		cmds = append(cmds, c)
	}
	return tea.Batch(cmds...)
}

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "f1":
		return tea.KeyPressMsg{Code: tea.KeyF1}
	}
	if c, ok := strings.CutPrefix(k, "ctrl+"); ok {
		return tea.KeyPressMsg{Code: rune(c[0]), Mod: tea.ModCtrl}
	}
	r := []rune(k)
	if len(r) == 1 {
		return tea.KeyPressMsg{Code: r[0], Text: k}
	}
	panic("unknown key " + k)
}

// plain is the view without styles.
func plain(m *Model) string { return ansi.Strip(m.View().Content) }

// settle runs what cmd does outside Update (the file and network work of
// /record, /theme, /mailbox) and hands its answers back to the model, as
// the program would; the session listener and timers are left behind.
func settle(m *Model, cmd tea.Cmd) {
	for _, msg := range msgs(cmd) {
		switch msg.(type) {
		case recordMsg, themeSavedMsg, mailboxMsg:
			m.Update(msg)
		}
	}
}

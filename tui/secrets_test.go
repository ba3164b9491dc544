package tui

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// Issue 12 #9 and issue 11 defect 1: history splits a command as the
// server does. An AUTH typed after a space, or with a TAB after the verb
// (pasted: Tab completes in the composer), keeps no secret in history, so
// neither Up nor Ctrl+R can bring one back.
func TestHistorySplitsVerbsLikeTheServer(t *testing.T) {
	f := newFake()
	connected(f)
	m := newTestModel(t, f, "dark", 80, 24)
	m.Update(activityMsg{})
	blob := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00hunter7"))
	typeText(m, " AUTH PLAIN "+blob)
	press(m, "enter")
	m.Update(tea.PasteMsg{Content: "AUTH\tLOGIN\nalice\nhunter8\n"})
	m.Update(tea.PasteMsg{Content: "AUTH\tPLAIN\t" + blob + "\nNOOP\n"})
	leaks := func(s string) bool {
		return strings.Contains(s, "hunter") || strings.Contains(s, blob) || strings.Contains(s, "AGFsaWNl")
	}
	want := []string{" AUTH PLAIN [redacted]", "AUTH\tLOGIN", "[redacted]", "AUTH\tPLAIN [redacted]", "[redacted]"}
	if !slices.Equal(m.comp.history, want) {
		t.Errorf("history = %q, want %q", m.comp.history, want)
	}
	for range m.comp.history {
		press(m, "up")
		if v := m.comp.input.Value(); leaks(v) {
			t.Errorf("Up brought back a secret: %q", v)
		}
	}
	press(m, "esc")
	m.comp.input.Reset()
	press(m, "ctrl+r")
	typeText(m, "AUTH")
	for range 4 {
		if v := m.comp.input.Value(); leaks(v) {
			t.Errorf("Ctrl+R brought back a secret: %q", v)
		}
		press(m, "ctrl+r")
	}
}

// lenientServer splits commands on any white space, as Postfix does (the
// sandbox takes SP only): just enough EHLO and AUTH LOGIN to show what the
// client sends, every line recorded.
type lenientServer struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
}

func startLenient(t *testing.T) *lenientServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lenientServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *lenientServer) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	read := func() string {
		l, _ := br.ReadString('\n')
		l = strings.TrimRight(l, "\r\n")
		s.mu.Lock()
		s.lines = append(s.lines, l)
		s.mu.Unlock()
		return l
	}
	fmt.Fprint(c, "220 lenient\r\n")
	for {
		f := strings.Fields(read())
		if len(f) == 0 {
			return
		}
		switch strings.ToUpper(f[0]) {
		case "EHLO":
			fmt.Fprint(c, "250-lenient\r\n250 AUTH LOGIN\r\n")
		case "AUTH":
			fmt.Fprint(c, "334 VXNlcm5hbWU6\r\n")
			read()
			fmt.Fprint(c, "334 UGFzc3dvcmQ6\r\n")
			read()
			fmt.Fprint(c, "235 2.7.0 ok\r\n")
		default:
			fmt.Fprint(c, "500 5.5.2 what\r\n")
		}
	}
}

func (s *lenientServer) sent() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// Issue 11 defect 1 through the TUI and a real session: "AUTH<TAB>LOGIN"
// pasted in the composer starts the AUTH exchange, so the password typed
// next is masked, sent base64 as an answer, and kept out of history and
// the wire log; never sent as a command in clear.
func TestComposerAuthWithTab(t *testing.T) {
	srv := startLenient(t)
	live := session.NewLive(session.LiveConfig{Server: srv.ln.Addr().String(), Kind: protocol.SMTP, Options: protocol.Options{
		Timeout: 5 * time.Second, LocalHostname: "client.test", AllowCleartextAuth: true,
	}})
	t.Cleanup(func() { live.Close() })
	m, err := New(Config{Conversation: live, Theme: "dark"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	wait := func(what string, cond func(session.Snapshot) bool) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for !cond(live.Snapshot()) || live.Snapshot().Busy {
			select {
			case <-live.Notify():
			case <-time.After(10 * time.Millisecond):
			case <-deadline:
				t.Fatalf("no %s; snapshot %+v\nserver got:\n%s", what, live.Snapshot(), srv.sent())
			}
		}
		m.Update(activityMsg{})
	}
	live.Connect()
	wait("connection", func(s session.Snapshot) bool { return s.Connected })
	typeText(m, "EHLO client.test")
	press(m, "enter")
	wait("EHLO", func(s session.Snapshot) bool { return len(s.Extensions) > 0 })
	m.Update(tea.PasteMsg{Content: "AUTH\tLOGIN\n"})
	wait("AUTH exchange", func(s session.Snapshot) bool { return s.Mode == session.ModeAuth })
	typeText(m, "alice")
	press(m, "enter")
	wait("password prompt", func(s session.Snapshot) bool { return s.SecretInput })
	typeText(m, "hunter9x")
	press(m, "enter")
	wait("authentication", func(s session.Snapshot) bool { return s.State.Authenticated })
	if got := srv.sent(); strings.Contains(got, "hunter9x") {
		t.Errorf("the password went to the server in clear:\n%s", got)
	}
	for _, h := range m.comp.history {
		if strings.Contains(h, "hunter9x") {
			t.Errorf("password in history: %q", h)
		}
	}
	if v := plain(m); strings.Contains(v, "hunter9x") || strings.Contains(v, base64.StdEncoding.EncodeToString([]byte("hunter9x"))) {
		t.Errorf("password on screen:\n%s", v)
	}
}

// A / command typed after a space is ehlo's, as it is without one: the
// password in it goes to Login, not to the server as a raw line.
func TestSlashCommandAfterSpace(t *testing.T) {
	f := newFake()
	connected(f)
	m := newTestModel(t, f, "dark", 80, 24)
	m.Update(activityMsg{})
	typeText(m, " /login alice hunter6")
	press(m, "enter")
	wantCalls(t, f, `Login("alice", "hunter6")`)
	if !slices.Equal(m.comp.history, []string{"/login alice"}) {
		t.Errorf("history = %q", m.comp.history)
	}
}

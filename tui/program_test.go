package tui

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/ehlo-dev/ehlo/protocol"
)

// echoServer makes the fake answer raw lines as a server would: the client
// line and a reply go through the Capture, as with a real session.
func echoServer(f *fakeConv, call string) {
	line, ok := strings.CutPrefix(call, `Input("`)
	if !ok {
		return
	}
	line = strings.TrimSuffix(line, `")`)
	f.cap.Trace(protocol.Event{Kind: protocol.EventSend, Data: []byte(line + "\r\n")})
	f.cap.Trace(protocol.Event{Kind: protocol.EventRecv, Data: []byte("250 mx.example.test Hello " + strings.TrimPrefix(line, "EHLO ") + "\r\n")})
}

// A program-level flow (teatest): type a raw command, press Enter, see the
// reply in the wire log; the fake received exactly the line typed.
func TestProgramRawCommand(t *testing.T) {
	f := newFake()
	f.snap.Connected = true
	f.onCall = echoServer
	m, err := New(Config{Conversation: f, Theme: "dark"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	tm.Type("EHLO x")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("Hello x"))
	}, teatest.WithDuration(5*time.Second))
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	if got := f.Calls(); !slices.Equal(got, []string{`Input("EHLO x")`}) {
		t.Errorf("calls = %q", got)
	}
	screen := ansi.Strip(fm.View().Content)
	for _, want := range []string{" -> EHLO x", "<-  250 mx.example.test Hello x"} {
		if !strings.Contains(screen, want) {
			t.Errorf("missing %q:\n%s", want, screen)
		}
	}
}

// /quit ends the program by itself once the connection is gone.
func TestProgramQuit(t *testing.T) {
	f := newFake()
	f.snap.Connected = true
	f.onCall = func(f *fakeConv, call string) {
		if call == "Quit" {
			go f.set(func(s *snapshot) { s.Connected = false })
		}
	}
	m, err := New(Config{Conversation: f, Theme: "mono"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	tm.Type("/quit")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if got := f.Calls(); !slices.Equal(got, []string{"Quit"}) {
		t.Errorf("calls = %q", got)
	}
}

// Run drives a replay to its end and returns when asked to stop; a
// cancelled context is not an error.
func TestRunReplay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &signalWriter{want: []byte("Replay"), seen: make(chan struct{})}
	in := strings.NewReader("")
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Replay: demoRecording(), Input: in, Output: out, Width: 80, Height: 24, NoColor: true})
	}()
	select {
	case <-out.seen:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing drawn")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if seq := colourSequence(out.String()); seq != "" {
		t.Errorf("colour %q with NoColor", seq)
	}
}

// signalWriter collects output and closes seen once want was written.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want []byte
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

package tui

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// floodRate is PRODUCT's and the performance issue's figure: a session
// producing 50,000 wire-log lines a second must not starve the keyboard.
const floodRate = 50_000

// flood feeds the capture 50 one-line replies every millisecond until stop
// is closed, and counts them.
func flood(c *session.Capture, stop <-chan struct{}, sent *atomic.Int64) {
	line := []byte("250 2.1.5 Ok\r\n")
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			for range floodRate / 1000 {
				c.Trace(protocol.Event{Kind: protocol.EventRecv, Data: line, TLS: true})
			}
			sent.Add(floodRate / 1000)
		}
	}
}

// While the log grows by 50,000 lines a second, what is typed appears in
// the composer and Enter submits it: the activity from the session is
// drained in one batch per message, so keys never queue behind it.
func TestProgramKeysAnswerUnderFlood(t *testing.T) {
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
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() { flood(f.cap, stop, &sent) })
	defer func() { close(stop); wg.Wait() }()
	// Let the flood run before typing, so the keys arrive in the middle of it.
	for sent.Load() < floodRate/10 {
		time.Sleep(5 * time.Millisecond)
	}
	// The renderer writes only the cells that change, so the typed text is
	// checked where it ends up: in what Enter hands to the session.
	tm.Type("EHLO flood")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	deadline := time.Now().Add(10 * time.Second) // a hang guard, not a measurement
	for !slices.Contains(f.Calls(), `Input("EHLO flood")`) {
		if time.Now().After(deadline) {
			t.Fatalf("Enter under the flood was not handled; calls %q", f.Calls())
		}
		time.Sleep(5 * time.Millisecond)
	}
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	if n := fm.log.Len(); n < floodRate/10 {
		t.Errorf("the wire log has %d lines; the flood sent %d and the log should have kept up", n, sent.Load())
	}
}

// BenchmarkKeystrokeUnderFlood is what a keystroke costs while the session
// produces 50,000 lines a second, on a log that already holds a million:
// per op, one frame's worth of lines (1/60 s of the flood) is taken into
// the log, then the key is handled and the frame drawn. ns/op is the
// longest a key waits for its frame beyond the renderer's own tick; it must
// stay well under 16 ms.
func BenchmarkKeystrokeUnderFlood(b *testing.B) {
	f := newFake()
	f.snap = demoSnapshot()
	m := newTestModel(b, f, "dark", 120, 40)
	millionLines(b, m, 1_000_000)
	m.setFocus(focusComposer)
	perFrame := floodRate / 60
	line := []byte("250 2.1.5 Ok\r\n")
	key := tea.KeyPressMsg{Code: 'x', Text: "x"}
	back := tea.KeyPressMsg{Code: tea.KeyBackspace}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for range perFrame {
			m.feed.Event(session.Event{Kind: session.KindServer, Data: line, TLS: true})
		}
		m.Update(activityMsg{})
		if i%2 == 0 {
			m.Update(key)
		} else {
			m.Update(back)
		}
		i++
		_ = m.View()
	}
	b.ReportMetric(float64(perFrame), "lines/op")
}

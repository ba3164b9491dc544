package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// timers records the timers a model starts instead of starting them.
type timers struct{ waits []time.Duration }

func recordTimers(m *Model) *timers {
	r := &timers{}
	m.tick = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		r.waits = append(r.waits, d)
		return func() tea.Msg { return fn(time.Time{}) }
	}
	return r
}

// idleModel is a live model on f whose timers are recorded, before Init.
func idleModel(t *testing.T, f *fakeConv, now *time.Time) (*Model, *timers) {
	t.Helper()
	m, err := New(Config{Conversation: f, Theme: "dark"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.now = func() time.Time { return *now }
	return m, recordTimers(m)
}

// An idle TUI does no work while nothing changes (issue 17): no timer runs
// unless something on screen moves with time.
func TestIdleNoTimerWithoutClock(t *testing.T) {
	f := newFake()
	f.snap.Started = time.Time{} // never connected: no elapsed time shown
	now := fixedStart
	m, r := idleModel(t, f, &now)
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.Update(activityMsg{})
	press(m, "x")
	if len(r.waits) != 0 {
		t.Fatalf("timers started with no clock on screen: %v", r.waits)
	}
}

// The connection's elapsed time is shown in minutes, so it changes once a
// minute and one timer, set for the moment it changes, is all it needs.
func TestIdleClockTicksOncePerMinute(t *testing.T) {
	f := newFake() // connected at fixedStart
	now := fixedStart.Add(42 * time.Second)
	m, r := idleModel(t, f, &now)
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.Update(activityMsg{})
	press(m, "x")
	if len(r.waits) != 1 || r.waits[0] != 18*time.Second {
		t.Fatalf("timers = %v, want one of 18s (to the next whole minute)", r.waits)
	}
	if !strings.Contains(ansi.Strip(m.View().Content), "· <1 min") {
		t.Errorf("connection pane does not show \"<1 min\":\n%s", ansi.Strip(m.View().Content))
	}
	now = fixedStart.Add(60 * time.Second)
	m.Update(clockMsg{})
	if len(r.waits) != 2 || r.waits[1] != time.Minute {
		t.Fatalf("timers = %v, want a second one of 1m0s", r.waits)
	}
	if !strings.Contains(ansi.Strip(m.View().Content), "· 1 min") {
		t.Errorf("connection pane does not show \"1 min\":\n%s", ansi.Strip(m.View().Content))
	}
}

// A replay's clock is the cursor's offset: it moves only when the cursor
// does, and no timer runs while it is paused.
func TestIdleReplayNoTimer(t *testing.T) {
	m, err := New(Config{Replay: demoRecording(), ReplayName: "demo.jsonl", Theme: "dark"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	r := recordTimers(m)
	m.Init()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	press(m, "x")
	if len(r.waits) != 0 {
		t.Fatalf("timers started in a paused replay: %v", r.waits)
	}
}

func TestMinutes(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "<1 min"}, {0, "<1 min"}, {59 * time.Second, "<1 min"},
		{time.Minute, "1 min"}, {59*time.Minute + 59*time.Second, "59 min"},
		{time.Hour, "1 h 00 min"}, {26*time.Hour + 5*time.Minute, "26 h 05 min"},
	} {
		if got := minutes(c.d); got != c.want {
			t.Errorf("minutes(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

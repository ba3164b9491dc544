package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/lesson"
	"github.com/ehlo-dev/ehlo/themes"
)

func newLessonModel(t testing.TB, l *lesson.Lesson, theme string, noColor bool, w, h int) *Model {
	t.Helper()
	f := newFake()
	f.snap = demoSnapshot()
	m, err := New(Config{Conversation: f, Theme: theme, NoColor: noColor, Lesson: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.now = func() time.Time { return fixedStart.Add(42 * time.Second) }
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func mustLesson(t testing.TB, name string) *lesson.Lesson {
	t.Helper()
	l, err := lesson.Find(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// deliverLesson hands events to the wire log and to the lesson pane, as
// the Capture does (each has its Sink, and gets the events annotated),
// then the activity message.
func deliverLesson(m *Model, evs ...session.Event) {
	f := m.conv.(*fakeConv)
	for _, e := range evs {
		f.follow.Annotate(&e)
		m.feed.Event(e)
		m.lesson.feed.Event(e)
	}
	m.Update(activityMsg{})
}

func fkey(n int) tea.KeyPressMsg { return tea.KeyPressMsg{Code: tea.KeyF1 + rune(n-1)} }

// mailBeforeEhlo is the mistake the greet lesson anticipates first.
func mailBeforeEhlo() []session.Event {
	return append(demoEvents()[:4],
		session.Event{Offset: at(30), Kind: session.KindClient, Data: []byte("MAIL FROM:<student@example.test>\r\n")},
		session.Event{Offset: at(40), Kind: session.KindServer, Data: []byte("503 5.5.1 Error: send HELO/EHLO first\r\n")},
	)
}

var lessonScenarios = []struct {
	name string
	evs  func() []session.Event
}{
	{"greeted", func() []session.Event { return demoEvents()[:12] }}, // EHLO listed SIZE and STARTTLS
	{"wrong", mailBeforeEhlo},
}

// The pane at 80×24 (floating over the wire log) and 120×40 (a column).
func TestGoldenLesson(t *testing.T) {
	for _, sc := range lessonScenarios {
		for _, sz := range [][2]int{{80, 24}, {120, 40}} {
			t.Run(fmt.Sprintf("%s/%dx%d", sc.name, sz[0], sz[1]), func(t *testing.T) {
				m := newLessonModel(t, mustLesson(t, "greet"), "dark", false, sz[0], sz[1])
				deliverLesson(m, sc.evs()...)
				checkFrame(t, m, sz[0], sz[1])
				golden.RequireEqual(t, ansi.Strip(m.View().Content))
			})
		}
	}
}

func TestLessonPaneFollowsSteps(t *testing.T) {
	m := newLessonModel(t, mustLesson(t, "greet"), "dark", false, 120, 40)
	view := func() string { return plain(m) }
	if v := view(); !strings.Contains(v, "▸ 1/4 Read the greeting") || !strings.Contains(v, "○ 2 Greet with EHLO") {
		t.Fatalf("the first step is not current:\n%s", v)
	}
	deliverLesson(m, mailBeforeEhlo()...)
	if v := view(); !strings.Contains(v, "✓ 1 Read the greeting") || !strings.Contains(v, "✗ Not quite") || !strings.Contains(v, "bad sequence") {
		t.Fatalf("no tick for the greeting, or no hint for MAIL before EHLO:\n%s", v)
	}
	m.Update(fkey(3)) // F3: back to the step's own hints
	if v := view(); strings.Contains(v, "Not quite") || !strings.Contains(v, "Hint 1/2") {
		t.Fatalf("f3 did not bring the step's hint back:\n%s", v)
	}
	m.Update(fkey(3))
	if v := view(); !strings.Contains(v, "Hint 2/2") {
		t.Fatalf("f3 did not show the next hint:\n%s", v)
	}
	deliverLesson(m, demoEvents()[4:12]...)
	deliverLesson(m,
		session.Event{Offset: at(50), Kind: session.KindClient, Data: []byte("HELP\r\n")},
		session.Event{Offset: at(60), Kind: session.KindServer, Data: []byte("214 2.0.0 see RFC 5321\r\n")},
	)
	if v := view(); !strings.Contains(v, "✓ done") || !strings.Contains(v, "✓ 4 Ask for HELP") {
		t.Fatalf("the lesson is not done:\n%s", v)
	}
}

// F2 hides the pane and gives its columns back to the panes, at every
// size; the frame stays whole.
func TestLessonPaneToggle(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		m := newLessonModel(t, mustLesson(t, "greet"), "dark", false, sz[0], sz[1])
		deliverLesson(m, demoEvents()[:12]...)
		if !strings.Contains(plain(m), "Greet the server and") {
			t.Fatalf("%dx%d: no pane at start", sz[0], sz[1])
		}
		logW := m.lay.Log.W
		if sz[0] < dockMinWidth {
			m.Update(fkey(2)) // floating: first the whole pane
			checkFrame(t, m, sz[0], sz[1])
			if v := plain(m); !strings.Contains(v, "Every SMTP conversation") || !strings.Contains(v, "✓ 1 Read the greeting") {
				t.Fatalf("%dx%d: f2 did not show the whole pane:\n%s", sz[0], sz[1], v)
			}
		}
		m.Update(fkey(2))
		checkFrame(t, m, sz[0], sz[1])
		if strings.Contains(plain(m), "╭─ Lesson") {
			t.Fatalf("%dx%d: f2 did not hide the pane", sz[0], sz[1])
		}
		if sz[0] >= dockMinWidth && m.lay.Log.W <= logW {
			t.Errorf("%dx%d: the wire log did not get the pane's columns back (%d, was %d)", sz[0], sz[1], m.lay.Log.W, logW)
		}
		m.Update(fkey(2))
		checkFrame(t, m, sz[0], sz[1])
		if !strings.Contains(plain(m), "Greet the server and") {
			t.Fatalf("%dx%d: f2 did not show the pane again", sz[0], sz[1])
		}
	}
}

// Every theme, NO_COLOR, the three sizes, in each state: whole frames,
// and no colour under NO_COLOR.
func TestLessonPaneEveryThemeAndSize(t *testing.T) {
	for _, name := range themes.Names() {
		for _, noColor := range []bool{false, true} {
			for _, sc := range lessonScenarios {
				for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
					m := newLessonModel(t, mustLesson(t, "recipients"), name, noColor, sz[0], sz[1])
					deliverLesson(m, sc.evs()...)
					checkFrame(t, m, sz[0], sz[1])
					if seq := colourSequence(m.View().Content); noColor && seq != "" {
						t.Errorf("%s/%s/%dx%d: colour sequence %q under NO_COLOR", name, sc.name, sz[0], sz[1], seq)
					}
				}
			}
		}
	}
}

// A teacher's lesson file is input like any other: its text reaches the
// screen escaped.
func TestLessonPaneEscapesTheFile(t *testing.T) {
	l, err := lesson.Parse("evil.md", []byte("# Evil \x1b[2J\x1b]0;pwned\x07\nTask \x1b[31mred\n## S \u202e\ncheck: greeted\nhint: \x1b]52;c;ZXZpbA==\x07\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := newLessonModel(t, l, "dark", false, 120, 40)
	v := m.View().Content
	for _, bad := range []string{"\x1b[2J", "\x1b]0;", "\x1b]52", "\u202e", "\x1b[31mred"} {
		if strings.Contains(v, bad) {
			t.Errorf("the view holds %q from the lesson file", bad)
		}
	}
	if !strings.Contains(ansi.Strip(v), `\x1b[2J`) {
		t.Errorf("the escape is not shown escaped:\n%s", ansi.Strip(v))
	}
}

// On a server the lesson did not set up, the pane says what it needs.
func TestLessonPaneRemoteNote(t *testing.T) {
	f := newFake()
	m, err := New(Config{Conversation: f, Theme: "dark", Lesson: mustLesson(t, "recover-421"), LessonRemote: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	if v := plain(m); !strings.Contains(v, "On this server: start the") || !strings.Contains(v, "421:noop") {
		t.Fatalf("no note for the workshop sandbox:\n%s", v)
	}
	m2, _ := New(Config{Conversation: newFake(), Theme: "dark", Lesson: mustLesson(t, "recover-421")})
	defer m2.Close()
	m2.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	if strings.Contains(plain(m2), "On this server") {
		t.Fatal("the note shows on the embedded sandbox, which the lesson set up")
	}
}

// The layout sweep with the lesson pane, shown, floating in full, and
// hidden: every frame whole from 80×24 to 200×60, the panes never below
// their minimum beside the lesson column.
func TestLessonPaneLayoutSweep(t *testing.T) {
	m := newLessonModel(t, mustLesson(t, "end-of-data"), "dark", false, 80, 24)
	deliverLesson(m, demoEvents()...)
	for w := 80; w <= 200; w += 7 {
		for h := 24; h <= 60; h += 6 {
			for range 3 {
				m.Update(tea.WindowSizeMsg{Width: w, Height: h})
				checkFrame(t, m, w, h)
				if m.lay.TooSmall {
					t.Fatalf("%dx%d: the lesson column left the panes too small", w, h)
				}
				m.Update(fkey(2))
			}
		}
	}
}

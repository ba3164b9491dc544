package tui

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// fakeRoom is a workshop sandbox as the instructor's view sees it.
type fakeRoom struct {
	mu       sync.Mutex
	sessions []RoomSession
	backlog  map[uint64][]RoomLine
	watchers map[uint64]chan RoomLine
	faults   map[string]string // user ("" = room) → spec
	calls    []string
}

func newFakeRoom() *fakeRoom {
	return &fakeRoom{backlog: map[uint64][]RoomLine{}, watchers: map[uint64]chan RoomLine{}, faults: map[string]string{}}
}

func (r *fakeRoom) Sessions() []RoomSession {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.sessions)
	for i := range out {
		if f, ok := r.faults[out[i].User]; ok && out[i].User != "" {
			out[i].Fault = f
		} else if f, ok := r.faults[""]; ok {
			out[i].Fault = f
		}
	}
	return out
}

func (r *fakeRoom) Watch(id uint64) ([]RoomLine, <-chan RoomLine, func(), bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("Watch(%d)", id))
	ch := make(chan RoomLine, 16)
	r.watchers[id] = ch
	var once sync.Once
	return slices.Clone(r.backlog[id]), ch, func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.calls = append(r.calls, fmt.Sprintf("stop(%d)", id))
		})
	}, true
}

func (r *fakeRoom) SetFault(user, spec string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("SetFault(%q, %q)", user, spec))
	r.faults[user] = spec
	return nil
}

func (r *fakeRoom) ClearFault(user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("ClearFault(%q)", user))
	delete(r.faults, user)
}

func (r *fakeRoom) FaultNames() []string { return []string{"421", "slow", "refuse-rcpt"} }

func (r *fakeRoom) add(s RoomSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions = append(r.sessions, s)
}

func (r *fakeRoom) say(id uint64, l RoomLine) {
	r.mu.Lock()
	ch := r.watchers[id]
	r.mu.Unlock()
	ch <- l
}

func (r *fakeRoom) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// screenSpy is the instructor's view, keeping the last frame it drew
// (after every message) for the test to read: teatest's output is a
// stream of cell updates, where a changed count is one character.
type screenSpy struct {
	*Instructor
	mu   *sync.Mutex
	last *string
}

func (s screenSpy) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := s.Instructor.Update(msg)
	v := ansi.Strip(s.Instructor.View().Content)
	s.mu.Lock()
	*s.last = v
	s.mu.Unlock()
	return s, cmd
}

func (s screenSpy) screen() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.last
}

func waitRoomScreen(t *testing.T, spy screenSpy, what string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		scr := spy.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(scr, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q never appeared:\n%s", what, missing, scr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The instructor's view: sessions appear as students connect, Enter
// follows one session's wire log live, and a fault chosen for one student
// reaches that student only; Esc goes back, C clears the room.
func TestInstructorView(t *testing.T) {
	room := newFakeRoom()
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	room.add(RoomSession{ID: 1, Remote: "192.0.2.11:50001", User: "student01", Phase: "hello", TLS: true, LastCommand: "EHLO laptop1", Started: t0})
	in, err := NewInstructor(InstructorConfig{Room: room, Title: "192.0.2.1:2525", Theme: "mono", Refresh: 20 * time.Millisecond,
		Status: func() string { return "sessions saved in ehlo-workshop-2026-12-06/" }})
	if err != nil {
		t.Fatal(err)
	}
	spy := screenSpy{Instructor: in, mu: &sync.Mutex{}, last: new(string)}
	tm := teatest.NewTestModel(t, spy, teatest.WithInitialTermSize(120, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	waitRoomScreen(t, spy, "the first student", "student01", "192.0.2.11:50001", "EHLO laptop1", "saved in ehlo-workshop")

	room.add(RoomSession{ID: 2, Remote: "192.0.2.12:50002", User: "student02", Phase: "mail", LastCommand: "MAIL FROM:<s2@x>", Errors: 1})
	room.mu.Lock()
	room.backlog[2] = []RoomLine{{At: t0, Client: true, Text: "MAIL FROM:<s2@x>"}, {At: t0, Text: "250 2.1.0 Ok"}}
	room.mu.Unlock()
	waitRoomScreen(t, spy, "the second student appears by itself", "student02", "MAIL FROM:<s2@x>", "2 live, 0 closed")

	tm.Send(tea.KeyPressMsg{Code: tea.KeyDown})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitRoomScreen(t, spy, "the backlog of session 2", "Session 2 · student02 · read-only", "<-  250 2.1.0 Ok")
	room.say(2, RoomLine{At: t0, Client: true, Text: "RCPT TO:<live@x>\x1b[2J"})
	waitRoomScreen(t, spy, "a line followed live, escaped", ` -> RCPT TO:<live@x>\x1b[2J`, "following")

	tm.Send(tea.KeyPressMsg{Code: 'f', Text: "f"})
	waitRoomScreen(t, spy, "the fault picker", "Fault for student02", "refuse-rcpt")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitRoomScreen(t, spy, "the fault switched on", "fault 421 on for student02")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	waitRoomScreen(t, spy, "back to the list, the fault shown", "Sessions (2)", "faults on (c/C clears): student02: 421")

	tm.Send(tea.KeyPressMsg{Code: 'F', Text: "F"})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyDown})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitRoomScreen(t, spy, "the room's fault", "fault slow on for the whole room")
	waitRoomScreen(t, spy, "both faults listed", "faults on (c/C clears): the room: slow · student02: 421")
	tm.Send(tea.KeyPressMsg{Code: 'C', Text: "C"})
	waitRoomScreen(t, spy, "the room's fault off", "no fault for the room now", "faults on (c/C clears): student02: 421")
	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	waitRoomScreen(t, spy, "quitting asks first", "press q again to stop the sandbox")
	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))

	want := []string{"Watch(2)", `SetFault("student02", "421")`, "stop(2)", `SetFault("", "slow")`, `ClearFault("")`}
	if got := room.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls = %q\nwant    %q", got, want)
	}
	if f := room.Sessions()[0].Fault; f != "" {
		t.Errorf("student01 got fault %q", f)
	}
}

// A session that has not authenticated has no student to set a fault
// for; the view says so and asks nothing of the room.
func TestInstructorFaultNeedsAStudent(t *testing.T) {
	room := newFakeRoom()
	room.add(RoomSession{ID: 7, Remote: "192.0.2.9:1", Phase: "greeted"})
	in, err := NewInstructor(InstructorConfig{Room: room, Theme: "mono"})
	if err != nil {
		t.Fatal(err)
	}
	in.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	in.Update(tea.KeyPressMsg{Code: 'f', Text: "f"})
	if in.screen != screenSessions || !strings.Contains(in.flash, "not authenticated") || len(room.Calls()) != 0 {
		t.Errorf("screen %v flash %q calls %q", in.screen, in.flash, room.Calls())
	}
	if v := ansi.Strip(in.View().Content); !strings.Contains(v, "—") || !bytes.Contains([]byte(v), []byte("192.0.2.9:1")) {
		t.Errorf("view:\n%s", v)
	}
}

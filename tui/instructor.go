package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/themes"
)

// Room is what the instructor's view needs of a workshop sandbox
// (`ehlo sandbox --workshop`); internal/cli adapts sandbox.Server to it, so
// that this package imports neither sandbox nor protocol. Everything in it
// came from students' clients and is drawn through Sanitize.
type Room interface {
	// Sessions are the live sessions and the last closed ones, by ID.
	Sessions() []RoomSession
	// Watch follows one session's wire log: what it said so far, then each
	// new line on updates until stop is called or the session ends (the
	// channel is then closed). ok is false for an unknown session.
	Watch(id uint64) (backlog []RoomLine, updates <-chan RoomLine, stop func(), ok bool)
	// SetFault switches a fault (a --fault spec) on for one student, or
	// for the whole room when user is ""; ClearFault switches it off.
	SetFault(user, spec string) error
	ClearFault(user string)
	// FaultNames are the faults to offer.
	FaultNames() []string
}

// RoomSession is one student's session as the instructor's list shows it.
type RoomSession struct {
	ID          uint64
	Remote      string // the student's address
	Local       string // the address the student reached: a listener, or the Unix socket
	User        string // the AUTH user, "" before AUTH
	Phase       string // connected, greeted, hello, mail, rcpt, data, closed
	TLS         bool
	LastCommand string
	Errors      int
	Messages    int
	Started     time.Time
	LastActive  time.Time
	Closed      bool
	Fault       string // the fault that applies, "" for none
}

// RoomLine is one line of a session's wire log.
type RoomLine struct {
	At     time.Time
	Client bool // the student's line; false: the sandbox's reply
	Text   string
	TLS    bool // the line crossed inside TLS
}

// InstructorConfig is what RunInstructor needs.
type InstructorConfig struct {
	Room Room
	// Title says where the sandbox listens, for the status bar.
	Title string
	// Status, if set, is asked at each refresh for a line under the list
	// (where sessions are saved, and how many).
	Status func() string
	// Refresh is how often the list is read again; zero means a second.
	Refresh time.Duration

	Theme   string
	NoColor bool
	// Input, Output, Width and Height replace the terminal (tests).
	Input         io.Reader
	Output        io.Writer
	Width, Height int
}

// InstructorKeyMap is every key of the instructor's view.
type InstructorKeyMap struct {
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	Open             key.Binding // a session's wire log
	Back             key.Binding
	Follow           key.Binding
	FaultStudent     key.Binding
	FaultRoom        key.Binding
	ClearStudent     key.Binding
	ClearRoom        key.Binding
	Apply            key.Binding
	Quit             key.Binding // q: asks, then stops the room (back, in the list of faults)
	Interrupt        key.Binding // ctrl+c: the same from anywhere
}

// DefaultInstructorKeyMap returns the instructor's keys.
func DefaultInstructorKeyMap() InstructorKeyMap {
	return InstructorKeyMap{
		Up:           key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:         key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:       key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown:     key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
		Open:         key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "watch the session")),
		Back:         key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Follow:       key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "follow the end")),
		FaultStudent: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "fault for this student")),
		FaultRoom:    key.NewBinding(key.WithKeys("F"), key.WithHelp("F", "fault for the room")),
		ClearStudent: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "clear the student's fault")),
		ClearRoom:    key.NewBinding(key.WithKeys("C"), key.WithHelp("C", "clear the room's fault")),
		Apply:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "switch it on")),
		Quit:         key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		Interrupt:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	}
}

type instructorScreen int

const (
	screenSessions instructorScreen = iota
	screenWatch
	screenFault
)

// instructorLogMax bounds the lines kept of the watched session; older
// ones are dropped, as a student can send without end.
const instructorLogMax = 20000

type (
	roomTickMsg  struct{}
	roomLinesMsg struct {
		gen    int
		lines  []RoomLine
		closed bool
	}
)

// Instructor is the instructor's view of a workshop sandbox: the list of
// sessions, one session's wire log followed live, and the faults.
type Instructor struct {
	cfg    InstructorConfig
	keys   InstructorKeyMap
	help   help.Model
	styles themes.Styles

	w, h     int
	screen   instructorScreen
	sessions []RoomSession
	sel      int
	status   string
	flash    string
	flashErr bool
	// quitArmed: q or ctrl+c was pressed once; a second one quits.
	quitArmed bool

	// The watched session.
	watchID   uint64
	watchUser string
	gen       int
	lines     []RoomLine
	dropped   int
	ended     bool
	follow    bool
	top       int // first line shown when not following
	stop      func()
	updates   <-chan RoomLine

	// setFaults are the faults switched on from this view, by user ("" for
	// the room): a session takes one at its next command, so the list's
	// column can lag; this says at once what is on.
	setFaults map[string]string

	// The fault picker.
	faultFor string // "" for the whole room
	faults   []string
	faultSel int
	back     instructorScreen
}

// NewInstructor builds the view; RunInstructor runs it.
func NewInstructor(cfg InstructorConfig) (*Instructor, error) {
	if cfg.Room == nil {
		return nil, errors.New("tui: the instructor's view needs a Room")
	}
	theme, err := themes.Resolve(cfg.Theme, cfg.NoColor)
	if err != nil {
		return nil, err
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Second
	}
	in := &Instructor{cfg: cfg, keys: DefaultInstructorKeyMap(), help: help.New(), styles: themes.NewStyles(theme, true), setFaults: map[string]string{}}
	s := in.styles
	in.help.Styles = help.Styles{Ellipsis: s.HelpSep, ShortKey: s.HelpKey, ShortDesc: s.HelpDesc, ShortSeparator: s.HelpSep}
	in.refresh()
	return in, nil
}

// RunInstructor runs the instructor's view until the user quits or ctx is
// done (not an error).
func RunInstructor(ctx context.Context, cfg InstructorConfig) error {
	in, err := NewInstructor(cfg)
	if err != nil {
		return err
	}
	defer in.unwatch()
	return runProgram(ctx, in, terminal{cfg.Input, cfg.Output, cfg.NoColor, cfg.Width, cfg.Height})
}

// Init starts the refresh of the list.
func (in *Instructor) Init() tea.Cmd { return in.tick() }

func (in *Instructor) tick() tea.Cmd {
	return tea.Tick(in.cfg.Refresh, func(time.Time) tea.Msg { return roomTickMsg{} })
}

// Update implements tea.Model.
func (in *Instructor) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		in.w, in.h = msg.Width, msg.Height
	case roomTickMsg:
		in.refresh()
		return in, in.tick()
	case roomLinesMsg:
		return in, in.gotLines(msg)
	case tea.KeyPressMsg:
		return in, in.key(msg)
	}
	return in, nil
}

// refresh reads the list again, keeping the selection on the same session.
func (in *Instructor) refresh() {
	var selID uint64
	if in.sel < len(in.sessions) {
		selID = in.sessions[in.sel].ID
	}
	in.sessions = in.cfg.Room.Sessions()
	in.sel = min(in.sel, max(0, len(in.sessions)-1))
	for i, s := range in.sessions {
		if s.ID == selID {
			in.sel = i
		}
	}
	if in.cfg.Status != nil {
		in.status = in.cfg.Status()
	}
}

func (in *Instructor) setFlash(text string, isErr bool) { in.flash, in.flashErr = text, isErr }

func (in *Instructor) key(k tea.KeyPressMsg) tea.Cmd {
	ks := in.keys
	// q in the list of faults goes back; ctrl+c quits from anywhere.
	if key.Matches(k, ks.Interrupt) || key.Matches(k, ks.Quit) && in.screen != screenFault {
		// Quitting stops the sandbox under a whole room: ask once more.
		if in.quitArmed {
			in.unwatch()
			return tea.Quit
		}
		in.quitArmed = true
		in.setFlash("press "+k.String()+" again to stop the sandbox for the whole room; any other key keeps it", true)
		return nil
	}
	in.quitArmed = false
	in.flash = ""
	switch in.screen {
	case screenWatch:
		return in.watchKey(k)
	case screenFault:
		in.faultKey(k)
		return nil
	}
	switch {
	case key.Matches(k, ks.Up):
		in.sel = max(0, in.sel-1)
	case key.Matches(k, ks.Down):
		in.sel = min(max(0, len(in.sessions)-1), in.sel+1)
	case key.Matches(k, ks.Open):
		return in.watch()
	case key.Matches(k, ks.FaultStudent):
		if user, ok := in.selectedStudent(); ok {
			in.openFaults(user)
		}
	case key.Matches(k, ks.FaultRoom):
		in.openFaults("")
	case key.Matches(k, ks.ClearStudent):
		if user, ok := in.selectedStudent(); ok {
			in.cfg.Room.ClearFault(user)
			delete(in.setFaults, user)
			in.setFlash("no fault for "+safe(user)+" now", false)
		}
	case key.Matches(k, ks.ClearRoom):
		in.cfg.Room.ClearFault("")
		delete(in.setFaults, "")
		in.setFlash("no fault for the room now", false)
	}
	return nil
}

// selectedStudent is the AUTH user of the selected session: faults are
// set per student, so a session that has not authenticated has none.
func (in *Instructor) selectedStudent() (string, bool) {
	if in.sel >= len(in.sessions) {
		in.setFlash("no session selected", true)
		return "", false
	}
	if u := in.sessions[in.sel].User; u != "" {
		return u, true
	}
	in.setFlash("this session has not authenticated: a fault is for a student (F: the whole room)", true)
	return "", false
}

func (in *Instructor) openFaults(user string) {
	in.faults = in.cfg.Room.FaultNames()
	in.faultFor, in.faultSel, in.back, in.screen = user, 0, in.screen, screenFault
}

func (in *Instructor) faultKey(k tea.KeyPressMsg) {
	ks := in.keys
	switch {
	case key.Matches(k, ks.Back, ks.Quit):
		in.screen = in.back
	case key.Matches(k, ks.Up):
		in.faultSel = max(0, in.faultSel-1)
	case key.Matches(k, ks.Down):
		in.faultSel = min(max(0, len(in.faults)-1), in.faultSel+1)
	case key.Matches(k, ks.Apply):
		if in.faultSel >= len(in.faults) {
			return
		}
		spec := in.faults[in.faultSel]
		who := "the whole room"
		if in.faultFor != "" {
			who = safe(in.faultFor)
		}
		if err := in.cfg.Room.SetFault(in.faultFor, spec); err != nil {
			in.setFlash("fault "+safe(spec)+": "+safe(err.Error()), true)
			return
		}
		in.setFaults[in.faultFor] = spec
		in.setFlash("fault "+safe(spec)+" on for "+who+" (c/C clears it)", false)
		in.screen = in.back
		in.refresh()
	}
}

// watch opens the selected session's wire log and starts following it.
func (in *Instructor) watch() tea.Cmd {
	if in.sel >= len(in.sessions) {
		return nil
	}
	s := in.sessions[in.sel]
	backlog, updates, stop, ok := in.cfg.Room.Watch(s.ID)
	if !ok {
		in.setFlash(fmt.Sprintf("session %d is gone", s.ID), true)
		return nil
	}
	in.unwatch()
	in.gen++
	in.watchID, in.watchUser, in.stop, in.updates = s.ID, s.User, stop, updates
	in.lines, in.dropped, in.ended, in.follow, in.top = nil, 0, false, true, 0
	in.addLines(backlog)
	in.screen = screenWatch
	if updates == nil {
		in.ended = true
		return nil
	}
	return waitLines(in.gen, updates)
}

func (in *Instructor) unwatch() {
	if in.stop != nil {
		in.stop()
		in.stop = nil
	}
	in.updates = nil
	in.gen++
}

// waitLines waits for the next lines of a watched session, and takes all
// that are ready at once, so that a busy session costs one frame a batch.
func waitLines(gen int, ch <-chan RoomLine) tea.Cmd {
	return func() tea.Msg {
		l, ok := <-ch
		if !ok {
			return roomLinesMsg{gen: gen, closed: true}
		}
		lines := []RoomLine{l}
		for len(lines) < 4096 {
			select {
			case l, ok := <-ch:
				if !ok {
					return roomLinesMsg{gen: gen, lines: lines, closed: true}
				}
				lines = append(lines, l)
			default:
				return roomLinesMsg{gen: gen, lines: lines}
			}
		}
		return roomLinesMsg{gen: gen, lines: lines}
	}
}

func (in *Instructor) gotLines(msg roomLinesMsg) tea.Cmd {
	if msg.gen != in.gen || in.screen == screenSessions {
		return nil
	}
	in.addLines(msg.lines)
	if msg.closed {
		in.ended = true
		return nil
	}
	// The channel is still open: keep reading it, even under the fault
	// picker, so the session never waits for the view.
	return waitLines(in.gen, in.updates)
}

func (in *Instructor) addLines(lines []RoomLine) {
	in.lines = append(in.lines, lines...)
	if over := len(in.lines) - instructorLogMax; over > 0 {
		in.lines = append(in.lines[:0:0], in.lines[over:]...)
		in.dropped += over
		in.top = max(0, in.top-over)
	}
}

func (in *Instructor) watchKey(k tea.KeyPressMsg) tea.Cmd {
	ks, rows := in.keys, in.logRows()
	last := max(0, len(in.lines)-rows)
	if in.follow {
		in.top = last
	}
	switch {
	case key.Matches(k, ks.Back):
		in.unwatch()
		in.screen = screenSessions
		in.refresh()
		return nil
	case key.Matches(k, ks.Up):
		in.top--
	case key.Matches(k, ks.Down):
		in.top++
	case key.Matches(k, ks.PageUp):
		in.top -= rows
	case key.Matches(k, ks.PageDown):
		in.top += rows
	case key.Matches(k, ks.Follow):
		in.top = last
	case key.Matches(k, ks.FaultStudent):
		if in.watchUser == "" {
			in.setFlash("this session has not authenticated: a fault is for a student (F: the whole room)", true)
		} else {
			in.openFaults(in.watchUser)
		}
	case key.Matches(k, ks.FaultRoom):
		in.openFaults("")
	}
	in.top = min(max(0, in.top), last)
	in.follow = in.top == last
	return nil
}

// logRows is how many wire-log lines the watch screen shows.
func (in *Instructor) logRows() int { return max(1, in.h-4) }

// ShortHelp implements help.KeyMap.
func (in *Instructor) ShortHelp() []key.Binding {
	k := in.keys
	switch in.screen {
	case screenWatch:
		return []key.Binding{k.Up, k.Down, k.PageUp, k.Follow, k.FaultStudent, k.FaultRoom, k.Back, k.Quit}
	case screenFault:
		return []key.Binding{k.Up, k.Down, k.Apply, k.Back}
	}
	return []key.Binding{k.Up, k.Down, k.Open, k.FaultStudent, k.FaultRoom, k.ClearStudent, k.ClearRoom, k.Quit}
}

// FullHelp implements help.KeyMap.
func (in *Instructor) FullHelp() [][]key.Binding { return [][]key.Binding{in.ShortHelp()} }

// View implements tea.Model.
func (in *Instructor) View() tea.View {
	v := tea.View{AltScreen: true}
	v.WindowTitle = "ehlo workshop"
	if in.w == 0 || in.h == 0 {
		return v
	}
	if in.w < minWidth || in.h < minHeight {
		v.SetContent(strings.Join(wrap(fmt.Sprintf("ehlo needs at least %d×%d (now %d×%d)", minWidth, minHeight, in.w, in.h), in.w, in.h), "\n"))
		return v
	}
	out := []string{in.statusBar()}
	body := in.h - 2
	switch in.screen {
	case screenWatch:
		out = append(out, in.watchView(body)...)
	case screenFault:
		out = append(out, in.faultView(body)...)
	default:
		out = append(out, in.sessionsView(body)...)
	}
	out = append(out, padRight(truncate(in.help.ShortHelpView(in.ShortHelp()), in.w), in.w))
	v.SetContent(strings.Join(out, "\n"))
	return v
}

func (in *Instructor) statusBar() string {
	s, w := in.styles, in.w
	sep := s.Muted.Render(" │ ")
	live := 0
	for _, x := range in.sessions {
		if !x.Closed {
			live++
		}
	}
	left := s.Brand.Render("ehlo workshop") + sep + s.StatusBar.Render(safe(in.cfg.Title)) + sep +
		s.StatusBar.Render(fmt.Sprintf("%d live, %d closed", live, len(in.sessions)-live))
	right := ""
	if in.flash != "" {
		right = s.Note.Render(in.flash)
		if in.flashErr {
			right = s.Error.Render(in.flash)
		}
	}
	lw, rw := displayWidth(left), displayWidth(right)
	if lw+rw+1 > w {
		right = truncate(right, max(w*2/3, w-lw-1))
		rw = displayWidth(right)
		left = truncate(left, max(0, w-rw-1))
		lw = displayWidth(left)
	}
	return left + strings.Repeat(" ", max(0, w-lw-rw)) + right
}

// sessionColumns are the list's columns and their widths in inner
// cells: the address gives way at 80 columns, and the last command takes
// what is left.
func sessionColumns(inner int) []struct {
	name string
	w    int
} {
	addr := min(21, max(12, (inner-50)/2))
	return []struct {
		name string
		w    int
	}{{"#", 4}, {"student", 11}, {"address", addr}, {"state", 8}, {"TLS", 4}, {"AUTH", 5}, {"err", 4}, {"msgs", 5}, {"fault", 9}, {"last command", 0}}
}

func (in *Instructor) sessionsView(h int) []string {
	s, inner := in.styles, in.w-4
	cols := sessionColumns(inner)
	row := func(cells []string) string {
		var b strings.Builder
		used := 0
		for i, c := range cols {
			w := c.w
			if w == 0 {
				w = max(0, inner-used)
			}
			b.WriteString(padRight(truncate(cells[i], max(0, w-1)), w))
			used += w
		}
		return truncate(b.String(), inner)
	}
	var names []string
	for _, c := range cols {
		names = append(names, c.name)
	}
	lines := []string{s.Bold.Render(row(names))}
	if len(in.sessions) == 0 {
		lines = append(lines, s.Muted.Render("no student has connected yet"))
	}
	rows := max(1, h-3-boolInt(in.status != "")-boolInt(len(in.setFaults) > 0))
	first := max(0, in.sel-rows+1)
	for i := first; i < len(in.sessions) && i < first+rows; i++ {
		x := in.sessions[i]
		student, auth, tls, state := "—", "no", "no", safe(x.Phase)
		if x.User != "" {
			student, auth = safe(x.User), "yes"
		}
		if x.TLS {
			tls = "yes"
		}
		if x.Closed {
			state = "closed"
		}
		fault := safe(x.Fault)
		if fault == "" {
			fault = "—"
		}
		line := row([]string{fmt.Sprint(x.ID), student, safe(x.Remote), state, tls, auth, fmt.Sprint(x.Errors), fmt.Sprint(x.Messages), fault, safe(x.LastCommand)})
		switch {
		case i == in.sel:
			line = s.Selected.Render(padRight(line, inner))
		case x.Closed:
			line = s.Muted.Render(line)
		case x.Errors > 0:
			line = s.Warning.Render(line)
		}
		lines = append(lines, line)
	}
	var foot []string
	if on := in.faultsOn(); on != "" {
		foot = append(foot, s.Warning.Render(on))
	}
	if in.status != "" {
		foot = append(foot, s.Muted.Render(safe(in.status)))
	}
	for len(lines)+len(foot) < h-2 && len(foot) > 0 {
		lines = append(lines, "")
	}
	lines = append(lines, foot...)
	return box(s, fmt.Sprintf("Sessions (%d)", len(in.sessions)), "enter watches one", lines, in.w, h, true)
}

// faultsOn lists the faults switched on from this view, the room's first.
func (in *Instructor) faultsOn() string {
	if len(in.setFaults) == 0 {
		return ""
	}
	users := make([]string, 0, len(in.setFaults))
	for u := range in.setFaults {
		users = append(users, u)
	}
	slices.Sort(users)
	parts := make([]string, len(users))
	for i, u := range users {
		who := u
		if u == "" {
			who = "the room"
		}
		parts[i] = safe(who) + ": " + safe(in.setFaults[u])
	}
	return "faults on (c/C clears): " + strings.Join(parts, " · ")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (in *Instructor) watchView(h int) []string {
	s, rows, inner := in.styles, in.logRows(), in.w-4
	if in.follow {
		in.top = max(0, len(in.lines)-rows)
	}
	var lines []string
	if in.dropped > 0 && in.top == 0 {
		lines = append(lines, s.Muted.Render(fmt.Sprintf("… %d earlier lines not kept", in.dropped)))
	}
	for i := in.top; i < len(in.lines) && len(lines) < rows; i++ {
		l := in.lines[i]
		at := s.Timestamp.Render(l.At.Format("15:04:05") + " ")
		text := truncate(safe(l.Text), max(0, inner-len(" -> ")-9))
		if l.Client {
			lines = append(lines, at+s.MarkClient.Render(" -> ")+s.Client.Render(text))
		} else {
			lines = append(lines, at+s.MarkServer.Render("<-  ")+s.Server.Render(text))
		}
	}
	who := safe(in.watchUser)
	if who == "" {
		who = "not authenticated"
	}
	title := fmt.Sprintf("Session %d · %s · read-only", in.watchID, who)
	badge := "following"
	switch {
	case in.ended && in.follow:
		badge = "ended"
	case !in.follow:
		badge = "scrolled (G follows)"
	}
	return box(s, title, badge, lines, in.w, h, true)
}

func (in *Instructor) faultView(h int) []string {
	s := in.styles
	who := "the whole room"
	if in.faultFor != "" {
		who = safe(in.faultFor)
	}
	var lines []string
	if len(in.faults) == 0 {
		lines = append(lines, s.Muted.Render("the sandbox offers no faults"))
	}
	first := max(0, in.faultSel-(h-3))
	for i := first; i < len(in.faults) && len(lines) < h-2; i++ {
		l := padRight(truncate(safe(in.faults[i]), in.w-4), in.w-4)
		if i == in.faultSel {
			l = s.Selected.Render(l)
		}
		lines = append(lines, l)
	}
	return box(s, "Fault for "+who, "enter switches it on · esc back", lines, in.w, h, true)
}

package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/session/lesson"
	"github.com/ehlo-dev/ehlo/themes"
)

// The lesson pane (`ehlo lesson NAME`): the task, the steps with ticks,
// the current hint, and "done" at the end. A lesson.Checker follows the
// conversation through a Sink of its own on the session's Capture, so the
// pane needs nothing of the wire log. From dockMinWidth columns it is a
// column at the right of the screen; below, it floats over the top of the
// wire log (whose newest lines, at the bottom, stay in view), showing the
// current step and its hint; F2 then goes round: the whole pane over the
// wire log (the task and every step), hidden, the current step again.
// Docked, F2 hides and shows it.

// LessonKeyMap is the lesson pane's keys. Function keys, since the
// composer has the focus while the student types.
type LessonKeyMap struct {
	Toggle key.Binding
	Hint   key.Binding
}

// DefaultLessonKeyMap returns the lesson pane's keys.
func DefaultLessonKeyMap() LessonKeyMap {
	return LessonKeyMap{
		Toggle: key.NewBinding(key.WithKeys("f2"), key.WithHelp("f2", "lesson pane")),
		Hint:   key.NewBinding(key.WithKeys("f3"), key.WithHelp("f3", "next hint")),
	}
}

// dockMinWidth is the narrowest screen with a lesson column: the panes
// keep their 80 columns beside it.
const dockMinWidth = 120

type lessonPane struct {
	check  *lesson.Checker
	feed   *feed
	rm     func()
	keys   LessonKeyMap
	hidden bool
	full   bool // floating: the whole pane, over the whole wire log
	remote bool
}

// newLessonPane is nil without a lesson, or in replay.
func newLessonPane(cfg Config) *lessonPane {
	if cfg.Lesson == nil || cfg.Conversation == nil {
		return nil
	}
	p := &lessonPane{check: lesson.NewChecker(cfg.Lesson), feed: newFeed(), keys: DefaultLessonKeyMap(), remote: cfg.LessonRemote}
	p.rm = cfg.Conversation.Capture().Add(p.feed)
	return p
}

func (p *lessonPane) close() {
	if p != nil && p.rm != nil {
		p.rm()
		p.rm = nil
	}
}

// dock is the width of the lesson column on a w-wide screen: 0 when the
// pane is hidden, floats, or there is none.
func (p *lessonPane) dock(w int) int {
	if p == nil || p.hidden || w < dockMinWidth {
		return 0
	}
	return min(max(w/4, 34), 56)
}

// lessonUpdate is the pane's hook in Update: it takes the session's new
// events on every activity, and its own keys, which it reports as handled.
func (m *Model) lessonUpdate(msg tea.Msg) (tea.Cmd, bool) {
	p := m.lesson
	if p == nil {
		return nil, false
	}
	switch msg := msg.(type) {
	case activityMsg, notifyClosedMsg:
		for _, e := range p.feed.drain() {
			p.check.Event(e)
		}
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, p.keys.Toggle):
			p.toggle(m.w)
			m.resize(m.w, m.h)
			return nil, true
		case key.Matches(msg, p.keys.Hint):
			p.check.NextHint()
			return nil, true
		}
	}
	return nil, false
}

// toggle is F2: docked, hide or show; floating, go round from the current
// step to the whole pane to hidden.
func (p *lessonPane) toggle(w int) {
	switch {
	case w >= dockMinWidth || p.hidden:
		p.hidden, p.full = !p.hidden, false
	case !p.full:
		p.full = true
	default:
		p.hidden, p.full = true, false
	}
}

// lessonView is the pane's hook in View: it adds the column to the rows of
// the screen (the status bar and help bar span the whole width) or floats
// the pane over the wire log.
func (m *Model) lessonView(rows []string) {
	p := m.lesson
	if p == nil || p.hidden || m.lay.TooSmall || len(rows) < 3 {
		return
	}
	if dw := p.dock(m.w); dw > 0 {
		pane := p.lines(m.styles, dw, len(rows)-2, false)
		for i, l := range pane {
			rows[i+1] = padRight(rows[i+1], m.w-dw) + l
		}
		last := len(rows) - 1
		rows[last] = padRight(truncate(rows[last], m.w), m.w)
		return
	}
	l := m.lay.Log
	if p.full {
		overlay(rows, p.lines(m.styles, l.W, l.H, false), l.X, l.Y, m.w)
		return
	}
	overlay(rows, p.lines(m.styles, l.W, min(l.H, max(8, l.H/2+2)), true), l.X, l.Y, m.w)
}

// lines draws the pane w wide and at most h high (exactly h when docked);
// compact shows only the current step, for the floating pane.
func (p *lessonPane) lines(s themes.Styles, w, h int, compact bool) []string {
	c := p.check
	l, pr := c.Lesson(), c.Progress()
	inner := w - 4
	hint := p.hintLines(s, pr, inner, max(2, h/3))
	steps := p.stepLines(s, pr, inner, compact)
	var note []string
	if p.remote && l.Server != "" {
		note = styled(s.Warning, wrap("On this server: "+oneLine(l.Server), inner, 3))
	}
	// The hint and the steps matter most: the task gets the rows left,
	// at most two in the floating pane.
	head := append(styled(s.Accent, wrap(oneLine(l.Title), inner, 2)), "")
	sections := [][]string{nil, note, steps, hint}
	used := -1
	for _, sec := range sections[1:] {
		if len(sec) > 0 {
			used += len(sec) + 1
		}
	}
	if room := h - 2 - used - 1 - len(head); room > 0 {
		if compact {
			room = min(room, 2)
		}
		sections[0] = styled(s.Text, wrap(oneLine(l.Task), inner, room))
	}
	out := head
	for i, sec := range sections {
		if len(sec) == 0 {
			continue
		}
		if i > 0 && len(out) > len(head) {
			out = append(out, "")
		}
		out = append(out, sec...)
	}
	if len(out) > h-2 {
		out = out[len(out)-(h-2):]
	}
	height := h
	if compact {
		height = min(h, len(out)+2)
	}
	badge := s.Muted.Render("f2 hide")
	if compact {
		badge = s.Muted.Render("f2 more")
	}
	return box(s, "Lesson", badge, out, w, height, false)
}

func styled(st interface{ Render(...string) string }, lines []string) []string {
	for i, l := range lines {
		lines[i] = st.Render(l)
	}
	return lines
}

// stepLines are the steps with their ticks (✓ done, ▸ current, ○ to do),
// the current one with its text; compact keeps the current one alone.
func (p *lessonPane) stepLines(s themes.Styles, pr lesson.Progress, inner int, compact bool) []string {
	steps := p.check.Lesson().Steps
	var out []string
	for i, st := range steps {
		switch {
		case i < pr.Step:
			if !compact {
				out = append(out, s.StepDone.Render(truncate(fmt.Sprintf("✓ %d %s", i+1, oneLine(st.Title)), inner)))
			}
		case i == pr.Step:
			out = append(out, s.StepCurrent.Render(truncate(fmt.Sprintf("▸ %d/%d %s", i+1, len(steps), oneLine(st.Title)), inner)))
			rows := 4
			if compact {
				rows = 2
			}
			for _, t := range wrap(oneLine(st.Text), inner-2, rows) {
				out = append(out, "  "+s.Text.Render(t))
			}
		default:
			if !compact {
				out = append(out, s.StepTodo.Render(truncate(fmt.Sprintf("○ %d %s", i+1, oneLine(st.Title)), inner)))
			}
		}
	}
	if pr.Done {
		out = append(out, s.Verified.Render(truncate("✓ done: every step checked, lesson complete", inner)),
			s.Muted.Render(truncate("ehlo lesson lists the others", inner)))
	}
	return out
}

// hintLines is the current hint, or the hint for the mistake just made.
func (p *lessonPane) hintLines(s themes.Styles, pr lesson.Progress, inner, rows int) []string {
	if pr.Done {
		return nil
	}
	var head string
	st := s.Note
	switch {
	case pr.Wrong:
		head, st = "✗ Not quite (f3: the step's hint)", s.Warning
	case pr.Hints > 1:
		head = fmt.Sprintf("Hint %d/%d (f3: next)", pr.HintNumber, pr.Hints)
	default:
		head = "Hint"
	}
	out := []string{st.Render(truncate(head, inner))}
	return append(out, styled(s.Text, wrap(oneLine(pr.Hint), inner, rows))...)
}

// oneLine makes a lesson's text one paragraph for wrap, and safe to show:
// a teacher's file is input like any other.
func oneLine(s string) string {
	return safe(strings.Join(strings.Fields(s), " "))
}

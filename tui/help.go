package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ehlo-dev/ehlo/themes"
)

// helpKeyMap is the help overlay's: scroll it, close it.
type helpKeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom, Close key.Binding
}

func defaultHelpKeyMap() helpKeyMap {
	return helpKeyMap{
		Up:       binding("↑/k", "up", "up", "k"),
		Down:     binding("↓/j", "down", "down", "j"),
		PageUp:   binding("pgup", "scroll up", "pgup"),
		PageDown: binding("pgdn", "scroll down", "pgdown", "space"),
		Top:      binding("g", "first line", "home", "g"),
		Bottom:   binding("G", "last line", "end", "G"),
		Close:    binding("esc", "close", "esc", "f1", "q", "?"),
	}
}

// FullHelp is the overlay's own keys, for the help's last section.
func (k helpKeyMap) FullHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Close}
}

// ShortHelp is what the help bar shows while the overlay is up; the
// scroll keys only when there is something to scroll.
func (k helpKeyMap) ShortHelp(scrolls bool) []key.Binding {
	if scrolls {
		return []key.Binding{k.Up, k.Down, k.PageDown, k.Close}
	}
	return []key.Binding{k.Close}
}

// helpOverlay is F1: every key and command, scrolled when they do not all
// fit (an 80×24 terminal shows about half). Its lines come from the key
// maps (Model.helpLines); it owns only where the view is.
type helpOverlay struct {
	keys helpKeyMap
	top  int // the first line shown
}

func newHelpOverlay() helpOverlay { return helpOverlay{keys: defaultHelpKeyMap()} }

// update handles a key for total lines in rows rows; closed says the
// overlay closed.
func (h *helpOverlay) update(msg tea.KeyPressMsg, total, rows int) (closed bool) {
	k, page := h.keys, max(1, rows-1)
	switch {
	case key.Matches(msg, k.Up):
		h.scroll(-1, total, rows)
	case key.Matches(msg, k.Down):
		h.scroll(1, total, rows)
	case key.Matches(msg, k.PageUp):
		h.scroll(-page, total, rows)
	case key.Matches(msg, k.PageDown):
		h.scroll(page, total, rows)
	case key.Matches(msg, k.Top):
		h.top = 0
	case key.Matches(msg, k.Bottom):
		h.scroll(1<<30, total, rows)
	case key.Matches(msg, k.Close):
		return true
	}
	return false
}

// scroll moves the view by n lines, never past its ends.
func (h *helpOverlay) scroll(n, total, rows int) {
	h.top = min(max(h.top+n, 0), max(0, total-rows))
}

// view draws lines in a box of w by ht cells, from the line at top, with
// the badge saying where the view is.
func (h *helpOverlay) view(s themes.Styles, lines []string, w, ht int) []string {
	rows := ht - 2
	top := min(max(h.top, 0), max(0, len(lines)-rows))
	badge := "esc close"
	if len(lines) > rows {
		badge = fmt.Sprintf("%d–%d of %d · ↑↓ esc", top+1, min(top+rows, len(lines)), len(lines))
	}
	return box(s, "Help", badge, lines[top:], w, ht, true)
}

// helpSize is the help overlay's box: as wide as 100 columns and as high as
// 30 rows where the terminal has them.
func (m *Model) helpSize() (w, h int) {
	return min(m.lay.W-4, 100), min(m.lay.H-2, 30)
}

func (m *Model) openHelp() {
	m.overlay, m.helpOv.top = overlayHelp, 0
}

// helpKey is a key while the help is up.
func (m *Model) helpKey(msg tea.KeyPressMsg) tea.Cmd {
	w, h := m.helpSize()
	if m.helpOv.update(msg, len(m.helpLines(w-4)), h-2) {
		m.overlay = overlayNone
	}
	return nil
}

// FullHelp implements help.KeyMap: every key of the TUI and of its
// components, from their key maps, whatever applies now.
func (m *Model) FullHelp() [][]key.Binding {
	k, all := m.keys, enableAll
	groups := [][]key.Binding{
		all(k.Quit, k.Help, k.Focus, k.PageUp, k.PageDown, k.Cancel, k.Timestamps),
	}
	if m.rep == nil {
		groups = append(groups, all(k.Submit, k.Complete, k.NextSuggestion, k.PrevSuggestion, k.HistoryPrev, k.HistoryNext, k.HistorySearch))
	}
	groups = append(groups, all(k.Up, k.Down, k.Top, k.Bottom, k.Search, k.NextMatch)) // n/N: PrevMatch too
	if m.rep != nil {                                                                  // no composer to go back to; the player's keys instead
		return append(groups, all(k.Follow, k.Explain, k.Beside, k.Copy), all(m.rep.keys.FullHelp()...))
	}
	return append(groups, all(k.Follow, k.Explain, k.Beside, k.Copy, k.Back, k.Trust))
}

// overlayHelp is, for each overlay a command opens, its keys from its key
// map, for the help's last section.
func (m *Model) overlayHelp() []command {
	keys := func(bs []key.Binding) string {
		var parts []string
		for _, b := range bs {
			parts = append(parts, b.Help().Key+" "+b.Help().Desc)
		}
		return strings.Join(parts, " · ")
	}
	return []command{
		{name: "/send", help: keys(m.sendKeys.FullHelp())},
		{name: "/mailbox", help: keys(m.mailbox.keys.FullHelp())},
		{name: "/cert", help: keys(m.certKeys.FullHelp())},
		{name: "/ca", help: keys([]key.Binding{m.caKeys.Copy, m.caKeys.Close})},
		{name: "f1", help: keys(m.helpOv.keys.FullHelp())},
	}
}

// helpLines lays the help out for inner columns. Key groups sit side by side
// as far as they fit and wrap to another band below, and a command's
// description wraps under itself, so nothing is cut at the right edge.
func (m *Model) helpLines(inner int) []string {
	s := m.styles
	hm := m.help
	hm.SetWidth(0) // measure whole groups; fitting them is done here
	widest := func(v string) int {
		n := 0
		for _, l := range strings.Split(v, "\n") {
			n = max(n, ansi.StringWidth(l))
		}
		return n
	}
	var lines []string
	var band [][]key.Binding
	flush := func() {
		if len(band) == 0 {
			return
		}
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, strings.Split(hm.FullHelpView(band), "\n")...)
		band = nil
	}
	for _, g := range m.FullHelp() {
		try := append(band[:len(band):len(band)], g)
		if len(band) > 0 && widest(hm.FullHelpView(try)) > inner {
			flush()
			try = [][]key.Binding{g}
		}
		band = try
	}
	flush()
	if m.rep != nil {
		return lines
	}
	lines = append(lines, "", s.Accent.Render("Commands"))
	lines = append(lines, commandHelp(s, commands, inner)...)
	note := "Anything else is sent to the server as typed (RFC 5321 commands)."
	lines = append(lines, "")
	for _, l := range wrap(note, inner, 0) {
		lines = append(lines, s.Muted.Render(l))
	}
	lines = append(lines, "", s.Accent.Render("Keys in the overlays"))
	return append(lines, commandHelp(s, m.overlayHelp(), inner)...)
}

// commandHelp lays out cs as a table for inner columns: each name with its
// arguments, and its description wrapped under itself.
func commandHelp(s themes.Styles, cs []command, inner int) []string {
	var lines []string
	nameW := 0
	for _, c := range cs {
		nameW = max(nameW, displayWidth(strings.TrimSpace(c.name+" "+c.args))+2)
	}
	// The screen is at least 80 wide (minWidth), which leaves a
	// description 44 columns; a longer one wraps under itself.
	for _, c := range cs {
		name := strings.TrimSpace(c.name + " " + c.args)
		desc := wrap(c.help, inner-nameW, 0)
		lines = append(lines, s.HelpKey.Render(padRight(name, nameW))+s.HelpDesc.Render(desc[0]))
		for _, d := range desc[1:] {
			lines = append(lines, strings.Repeat(" ", nameW)+s.HelpDesc.Render(d))
		}
	}
	return lines
}

package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// searchBudget is how much of the wire log one step of a search reads
// (bytes, see wireLog.search): a few milliseconds. The index makes most
// searches one step; one it cannot narrow goes on in later steps, with
// frames and keys between them, instead of holding up the screen.
const searchBudget = 16 << 20

// findMsg carries a search on to its next step.
type findMsg struct{ gen int }

func (m *Model) findNext(from, dir int) tea.Cmd {
	m.view.startFind(m.searchLines(), from, dir)
	return m.stepFind()
}

// searchLines is how many lines a search covers: in a replay the whole
// recording, not only what has been played.
func (m *Model) searchLines() int {
	if m.rep != nil {
		return m.log.Len()
	}
	return m.lines()
}

func (m *Model) stepFind() tea.Cmd {
	i, done := m.view.stepFind(m.log, m.searchLines(), searchBudget)
	switch {
	case !done:
		m.view.notice = "searching…"
		gen := m.view.finds
		return func() tea.Msg { return findMsg{gen} }
	case i < 0:
		m.view.notice = "no match"
	default:
		m.view.notice = ""
		if m.rep != nil && i >= m.lines() {
			// A match further on: move the cursor to the event that
			// shows it.
			m.rep.reveal(i)
			m.afterSeek()
		}
		m.view.selectLine(i, m.lines(), m.logRows())
	}
	return nil
}

func (m *Model) searchKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Close):
		m.searching = false
		m.search.Blur()
		return nil
	case key.Matches(msg, m.keys.Find):
		m.searching = false
		m.search.Blur()
		m.view.query = strings.ToLower(m.search.Value())
		from := m.view.sel
		if from < 0 {
			from = m.view.window(m.lines(), m.logRows()) - 1
		}
		if m.view.query != "" {
			return m.findNext(from, 1)
		}
		return nil
	}
	var cmd tea.Cmd
	m.search, cmd = m.search.Update(msg)
	return cmd
}

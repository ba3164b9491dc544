package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// mailboxKeyMap is the mailbox overlay's: choose a message, scroll it,
// close.
type mailboxKeyMap struct {
	Up, Down, PageUp, PageDown, Close key.Binding
}

func defaultMailboxKeyMap() mailboxKeyMap {
	return mailboxKeyMap{
		Up:       binding("↑/k", "up", "up", "k"),
		Down:     binding("↓/j", "down", "down", "j"),
		PageUp:   binding("pgup", "scroll up", "pgup"),
		PageDown: binding("pgdn", "scroll down", "pgdown", "space"),
		Close:    binding("esc", "close", "esc", "q"),
	}
}

// ShortHelp is what the help bar shows while the mailbox is up.
func (k mailboxKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageDown, k.Close}
}

// FullHelp is the mailbox's group in the help overlay.
func (k mailboxKeyMap) FullHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Close}
}

// update handles a key; page is how far pgup and pgdn scroll the message.
// closed says the mailbox closed.
func (v *mailboxView) update(msg tea.KeyPressMsg, page int) (closed bool) {
	k := v.keys
	switch {
	case key.Matches(msg, k.Close):
		return true
	case key.Matches(msg, k.Up):
		v.move(-1)
	case key.Matches(msg, k.Down):
		v.move(1)
	case key.Matches(msg, k.PageDown):
		v.scroll += page
	case key.Matches(msg, k.PageUp):
		v.scroll -= page
	}
	return false
}

// wheel scrolls the message with the mouse wheel.
func (v *mailboxView) wheel(b tea.MouseButton) {
	switch b {
	case tea.MouseWheelUp:
		v.scroll -= 3
	case tea.MouseWheelDown:
		v.scroll += 3
	}
}

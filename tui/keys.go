package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the TUI answers, with its help text. Bindings that do
// not apply in the current mode are disabled, so they neither match nor
// show in the help bar (bubbles/key: help "should self-manage").
type KeyMap struct {
	// Everywhere.
	Quit       key.Binding
	Help       key.Binding
	Focus      key.Binding
	PageUp     key.Binding
	PageDown   key.Binding
	Cancel     key.Binding
	Timestamps key.Binding

	// The composer.
	Submit         key.Binding
	Complete       key.Binding
	NextSuggestion key.Binding
	PrevSuggestion key.Binding
	HistoryPrev    key.Binding
	HistoryNext    key.Binding
	HistorySearch  key.Binding

	// The wire log, when it has the focus (and in replay).
	Up        key.Binding
	Down      key.Binding
	Top       key.Binding
	Bottom    key.Binding
	Search    key.Binding
	NextMatch key.Binding
	PrevMatch key.Binding
	Follow    key.Binding
	Explain   key.Binding
	Beside    key.Binding
	Copy      key.Binding
	Back      key.Binding
	Trust     key.Binding // offer to pin a certificate that failed verification

	// Replay.
	PlayPause   key.Binding
	StepForward key.Binding
	StepBack    key.Binding
	Faster      key.Binding
	Slower      key.Binding
	Start       key.Binding
	End         key.Binding

	// Overlays: the /send form and the mailbox.
	Close     key.Binding
	NextField key.Binding
	PrevField key.Binding
	SendForm  key.Binding
}

// DefaultKeyMap returns the key map. Function keys and Ctrl combinations
// are used for what must work while typing; plain letters only where no
// text is typed (the wire log, replay).
func DefaultKeyMap() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:       b("ctrl+c", "quit", "ctrl+c"),
		Help:       b("f1", "help", "f1"),
		Focus:      b("shift+tab", "log/composer", "shift+tab"),
		PageUp:     b("pgup", "scroll up", "pgup"),
		PageDown:   b("pgdn", "scroll down", "pgdown"),
		Cancel:     b("esc", "cancel", "esc"),
		Timestamps: b("ctrl+t", "round trip/time", "ctrl+t"),

		Submit:         b("enter", "send", "enter"),
		Complete:       b("tab", "complete", "tab"),
		NextSuggestion: b("ctrl+n", "next match", "ctrl+n"),
		PrevSuggestion: b("ctrl+p", "previous match", "ctrl+p"),
		HistoryPrev:    b("↑", "history", "up"),
		HistoryNext:    b("↓", "history", "down"),
		HistorySearch:  b("ctrl+r", "search history", "ctrl+r"),

		Up:        b("↑/k", "up", "up", "k"),
		Down:      b("↓/j", "down", "down", "j"),
		Top:       b("g", "first line", "g"),
		Bottom:    b("G", "last line", "G"),
		Search:    b("/", "search", "/"),
		NextMatch: b("n/N", "next/prev match", "n"),
		PrevMatch: b("N", "previous match", "N"),
		Follow:    b("f", "follow", "f"),
		Explain:   b("e", "explain line", "e"),
		Beside:    b("x", "explain all", "x"),
		Copy:      b("y", "copy line", "y"),
		Back:      b("i", "composer", "i"),
		Trust:     b("t", "trust cert", "t"),

		PlayPause:   b("space", "play/pause", "space"),
		StepForward: b("→", "step", "right", "l"),
		StepBack:    b("←", "back", "left", "h"),
		Faster:      b("+", "faster", "+", "="),
		Slower:      b("-", "slower", "-"),
		Start:       b("home", "start", "home"),
		End:         b("end", "end", "end"),

		Close:     b("esc", "close", "esc"),
		NextField: b("tab", "next field", "tab"),
		PrevField: b("shift+tab", "previous field", "shift+tab"),
		SendForm:  b("ctrl+s", "send", "ctrl+s"),
	}
}

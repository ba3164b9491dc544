package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the TUI itself answers, with its help text: the keys
// that work everywhere, the composer's and the wire log's. The overlays
// and replay have key maps of their own (helpKeyMap, sendKeyMap,
// mailboxKeyMap, caKeyMap, replayKeyMap), which the help lists too. Raw
// key strings live only in these maps. Bindings that do not apply in the
// current mode are disabled, so they neither match nor show in the help
// bar (bubbles/key: help "should self-manage").
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
	// Dismiss (esc) closes the completions or gives up a secret prompt;
	// NoTab swallows a tab with nothing to complete, which must not be
	// typed into the line. Neither is shown in the help.
	Dismiss key.Binding
	NoTab   key.Binding

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
	// BackEsc is esc as another way back to the composer; LogHelp is ?
	// as another way to the help, where no text is typed.
	BackEsc key.Binding
	LogHelp key.Binding

	// The search prompt: Find runs it, Close (esc) gives it up.
	Find  key.Binding
	Close key.Binding
}

// binding is a key.Binding with its help.
func binding(help, desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
}

// DefaultKeyMap returns the key map. Function keys and Ctrl combinations
// are used for what must work while typing; plain letters only where no
// text is typed (the wire log, replay).
func DefaultKeyMap() KeyMap {
	b := binding
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
		Dismiss:        key.NewBinding(key.WithKeys("esc")),
		NoTab:          key.NewBinding(key.WithKeys("tab")),

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
		BackEsc:   key.NewBinding(key.WithKeys("esc")),
		LogHelp:   key.NewBinding(key.WithKeys("?")),

		Find:  b("enter", "find", "enter"),
		Close: b("esc", "close", "esc"),
	}
}

// caKeyMap is the /ca overlay's: copy the certificate, close.
type caKeyMap struct {
	Copy  key.Binding
	Close key.Binding
}

func defaultCAKeyMap() caKeyMap {
	return caKeyMap{
		Copy:  binding("y", "copy the certificate", "y"),
		Close: binding("esc", "close", "esc", "q"),
	}
}

// enableAll returns copies of bs, all enabled: the full help lists every
// key, whatever applies now.
func enableAll(bs ...key.Binding) []key.Binding {
	out := make([]key.Binding, len(bs))
	for i, b := range bs {
		b.SetEnabled(true)
		out[i] = b
	}
	return out
}

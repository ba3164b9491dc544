package themes

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles are the Lip Gloss styles the TUI draws with, all built from one
// Theme by NewStyles, so that a theme switch is one call and no component
// keeps a colour of its own (STYLE A10: semantic fields, one styles file).
type Styles struct {
	Theme  Theme
	IsDark bool

	Text   lipgloss.Style
	Muted  lipgloss.Style
	Accent lipgloss.Style
	Bold   lipgloss.Style

	// Panes: borders and the title drawn in the top border.
	Border        lipgloss.Style
	BorderFocused lipgloss.Style
	Title         lipgloss.Style
	TitleFocused  lipgloss.Style

	// The status bar along the top.
	StatusBar lipgloss.Style
	Brand     lipgloss.Style
	Recording lipgloss.Style // the red dot
	Busy      lipgloss.Style // spinner and elapsed time

	// Wire-log line bodies by role, and their swaks markers.
	Client     lipgloss.Style
	Server     lipgloss.Style
	TLS        lipgloss.Style
	Note       lipgloss.Style
	Error      lipgloss.Style
	MarkClient lipgloss.Style
	MarkServer lipgloss.Style
	MarkTLS    lipgloss.Style
	MarkNote   lipgloss.Style
	MarkError  lipgloss.Style
	Timestamp  lipgloss.Style
	Selected   lipgloss.Style // the selected line, whole width
	Match      lipgloss.Style // a search match
	Explain    lipgloss.Style // a reply explanation beside a line

	// Loud statements in the Connection pane and status bar.
	Cleartext   lipgloss.Style // "not encrypted"
	NotVerified lipgloss.Style // "NOT VERIFIED"
	Verified    lipgloss.Style
	Warning     lipgloss.Style

	// The state machine: reached, current and not yet reached steps.
	StepDone    lipgloss.Style
	StepCurrent lipgloss.Style
	StepTodo    lipgloss.Style

	// The Extensions pane.
	Keyword lipgloss.Style
	Params  lipgloss.Style
	Stale   lipgloss.Style

	// The composer and its completion list.
	Prompt             lipgloss.Style
	PromptSecret       lipgloss.Style
	PromptData         lipgloss.Style
	Input              lipgloss.Style
	Placeholder        lipgloss.Style
	Suggestion         lipgloss.Style
	SuggestionSelected lipgloss.Style
	SuggestionMatch    lipgloss.Style

	// The help bar (bubbles/help).
	HelpKey  lipgloss.Style
	HelpDesc lipgloss.Style
	HelpSep  lipgloss.Style
}

// NewStyles builds the styles of theme t for a dark or light background.
func NewStyles(t Theme, isDark bool) Styles {
	s := Styles{Theme: t, IsDark: isDark}
	base := lipgloss.NewStyle()
	if t.Mono {
		return monoStyles(s, base)
	}
	p := t.Palette(isDark)
	fg := func(c color.Color) lipgloss.Style { return base.Foreground(c) }

	s.Text = fg(p.Text)
	s.Muted = fg(p.Muted)
	s.Accent = fg(p.Accent)
	s.Bold = base.Bold(true)

	s.Border = fg(p.Border)
	s.BorderFocused = fg(p.Accent)
	s.Title = fg(p.Muted).Bold(true)
	s.TitleFocused = fg(p.Accent).Bold(true)

	s.StatusBar = fg(p.Text)
	s.Brand = fg(p.Accent).Bold(true)
	s.Recording = fg(p.Error).Bold(true)
	s.Busy = fg(p.Accent)

	s.Client = fg(p.Client)
	s.Server = fg(p.Server)
	s.TLS = fg(p.TLS)
	s.Note = fg(p.Note)
	s.Error = fg(p.Error)
	s.MarkClient = fg(p.Client).Bold(true)
	s.MarkServer = fg(p.Server).Bold(true)
	s.MarkTLS = fg(p.TLS).Bold(true)
	s.MarkNote = fg(p.Note).Bold(true)
	s.MarkError = fg(p.Error).Bold(true)
	s.Timestamp = fg(p.Muted)
	s.Selected = base.Background(p.Selection).Foreground(p.Text)
	s.Match = base.Reverse(true)
	s.Explain = fg(p.Muted).Italic(true)

	s.Cleartext = fg(p.Warning).Bold(true)
	s.NotVerified = fg(p.Error).Bold(true)
	s.Verified = fg(p.Success).Bold(true)
	s.Warning = fg(p.Warning)

	s.StepDone = fg(p.Success)
	s.StepCurrent = fg(p.Accent).Bold(true)
	s.StepTodo = fg(p.Muted)

	s.Keyword = fg(p.Text).Bold(true)
	s.Params = fg(p.Muted)
	s.Stale = fg(p.Warning).Italic(true)

	s.Prompt = fg(p.Accent).Bold(true)
	s.PromptSecret = fg(p.Warning).Bold(true)
	s.PromptData = fg(p.Note).Bold(true)
	s.Input = fg(p.Text)
	s.Placeholder = fg(p.Muted)
	s.Suggestion = fg(p.Text)
	s.SuggestionSelected = fg(p.Accent).Bold(true).Reverse(true)
	s.SuggestionMatch = fg(p.Accent).Underline(true)

	s.HelpKey = fg(p.Accent)
	s.HelpDesc = fg(p.Muted)
	s.HelpSep = fg(p.Border)
	return s
}

// monoStyles is the NO_COLOR look: roles are told apart by their markers
// and words, and emphasis by bold, faint, underline and reverse, which are
// not colour.
func monoStyles(s Styles, base lipgloss.Style) Styles {
	bold := base.Bold(true)
	faint := base.Faint(true)
	s.Text, s.Muted, s.Accent, s.Bold = base, faint, bold, bold
	s.Border, s.BorderFocused, s.Title, s.TitleFocused = faint, base, faint, bold
	s.StatusBar, s.Brand, s.Recording, s.Busy = base, bold, bold, base
	s.Client, s.Server, s.TLS, s.Note, s.Error = base, base, base, base, bold
	s.MarkClient, s.MarkServer, s.MarkTLS, s.MarkNote, s.MarkError = bold, bold, bold, bold, bold
	s.Timestamp = faint
	s.Selected = base.Reverse(true)
	s.Match = base.Underline(true).Bold(true)
	s.Explain = faint
	s.Cleartext = bold.Reverse(true)
	s.NotVerified = bold.Reverse(true)
	s.Verified = bold
	s.Warning = bold
	s.StepDone, s.StepCurrent, s.StepTodo = base, bold.Underline(true), faint
	s.Keyword, s.Params, s.Stale = bold, base, faint
	s.Prompt, s.PromptSecret, s.PromptData = bold, bold, bold
	s.Input, s.Placeholder = base, faint
	s.Suggestion, s.SuggestionSelected, s.SuggestionMatch = base, base.Reverse(true), base.Underline(true)
	s.HelpKey, s.HelpDesc, s.HelpSep = bold, faint, faint
	return s
}

// Package themes owns ehlo's named colour palettes and the Lip Gloss styles
// built from them, so that the tui package and its components share one
// source of colour without an import cycle (STYLE A5, A8).
//
// A Theme is semantic colours only: what a client line, a server line, TLS,
// a note, an error, the accent, muted text and a warning look like. Styles
// are built from a Theme by NewStyles, in one place, as gh-dash separates
// its theme from its styles. Colour only reinforces what the text already
// says: every role the TUI shows also has a marker or a word, so the "mono"
// theme, which uses no colour at all, loses nothing (NO_COLOR,
// https://no-color.org).
//
// The package imports Lip Gloss and the standard library only.
package themes

import (
	"errors"
	"fmt"
	"image/color"
	"slices"
	"strings"

	"charm.land/lipgloss/v2"
)

// Palette is a theme's semantic colours for one terminal background. A nil
// colour means "the terminal's own".
type Palette struct {
	Text    color.Color // ordinary text
	Muted   color.Color // secondary text, timestamps, unreached states
	Accent  color.Color // titles, the focused border, the selected suggestion
	Border  color.Color // pane borders when not focused
	Client  color.Color // what the client sent
	Server  color.Color // what the server sent
	TLS     color.Color // TLS handshake and certificate lines
	Note    color.Color // ehlo's own information lines
	Error   color.Color // errors, "NOT VERIFIED"
	Warning color.Color // "not encrypted", stale extensions
	Success color.Color // verified, accepted
	// Selection is the background of the selected wire-log line.
	Selection color.Color
}

// Theme is a named set of palettes.
type Theme struct {
	Name string
	// Dark and Light are the palettes for a dark and a light terminal
	// background. A theme that does not adapt has the same palette in both.
	Dark, Light Palette
	// Adaptive says the theme follows the terminal's background (the
	// "default" theme); the TUI asks the terminal and assumes dark until
	// it answers, since some terminals (tmux 3.3a) never do.
	Adaptive bool
	// Mono says the theme uses no colour at all: only bold, faint,
	// underline and reverse. NO_COLOR selects it.
	Mono bool
}

// Palette returns the palette for a dark or light background.
func (t Theme) Palette(isDark bool) Palette {
	if isDark {
		return t.Dark
	}
	return t.Light
}

// The built-in theme names. Default is the one used when none is given.
const (
	Default      = "default"
	Dark         = "dark"
	Light        = "light"
	HighContrast = "high-contrast"
	Mono         = "mono"
)

var (
	darkPalette = Palette{
		Text:      lipgloss.Color("#c0caf5"),
		Muted:     lipgloss.Color("#737aa2"),
		Accent:    lipgloss.Color("#7dcfff"),
		Border:    lipgloss.Color("#3b4261"),
		Client:    lipgloss.Color("#7aa2f7"),
		Server:    lipgloss.Color("#9ece6a"),
		TLS:       lipgloss.Color("#bb9af7"),
		Note:      lipgloss.Color("#e0af68"),
		Error:     lipgloss.Color("#f7768e"),
		Warning:   lipgloss.Color("#ff9e64"),
		Success:   lipgloss.Color("#9ece6a"),
		Selection: lipgloss.Color("#2e3c64"),
	}
	lightPalette = Palette{
		Text:      lipgloss.Color("#343b58"),
		Muted:     lipgloss.Color("#6c6f93"),
		Accent:    lipgloss.Color("#006c86"),
		Border:    lipgloss.Color("#9699a3"),
		Client:    lipgloss.Color("#2959aa"),
		Server:    lipgloss.Color("#33635c"),
		TLS:       lipgloss.Color("#7847bd"),
		Note:      lipgloss.Color("#8f5e15"),
		Error:     lipgloss.Color("#b4213a"),
		Warning:   lipgloss.Color("#965027"),
		Success:   lipgloss.Color("#385f0d"),
		Selection: lipgloss.Color("#c4c8da"),
	}
	// highContrastPalette uses the 16 basic ANSI colours only, which every
	// terminal maps to its own, legible, values.
	highContrastPalette = Palette{
		Text:      lipgloss.BrightWhite,
		Muted:     lipgloss.White,
		Accent:    lipgloss.BrightYellow,
		Border:    lipgloss.BrightWhite,
		Client:    lipgloss.BrightCyan,
		Server:    lipgloss.BrightGreen,
		TLS:       lipgloss.BrightMagenta,
		Note:      lipgloss.BrightYellow,
		Error:     lipgloss.BrightRed,
		Warning:   lipgloss.BrightYellow,
		Success:   lipgloss.BrightGreen,
		Selection: lipgloss.Blue,
	}
)

var builtin = []Theme{
	{Name: Default, Dark: darkPalette, Light: lightPalette, Adaptive: true},
	{Name: Light, Dark: lightPalette, Light: lightPalette},
	{Name: Dark, Dark: darkPalette, Light: darkPalette},
	{Name: HighContrast, Dark: highContrastPalette, Light: highContrastPalette},
	{Name: Mono, Mono: true},
}

// Names returns the built-in theme names, "default" first.
func Names() []string {
	names := make([]string, len(builtin))
	for i, t := range builtin {
		names[i] = t.Name
	}
	return names
}

// ErrUnknown is returned (wrapped) by Get for a name it does not know.
var ErrUnknown = errors.New("unknown theme")

// Get returns the built-in theme called name, ignoring case. The empty name
// is "default".
func Get(name string) (Theme, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		n = Default
	}
	i := slices.IndexFunc(builtin, func(t Theme) bool { return t.Name == n })
	if i < 0 {
		return Theme{}, fmt.Errorf("%w %q (choose one of %s)", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	return builtin[i], nil
}

// NoColor reports whether the environment asks for no colour: NO_COLOR set
// to a non-empty value (https://no-color.org). lookup is os.LookupEnv or a
// test's stand-in.
func NoColor(lookup func(string) (string, bool)) bool {
	v, ok := lookup("NO_COLOR")
	return ok && v != ""
}

// Resolve returns the theme to use: mono whenever noColor is set, whatever
// was asked for, else Get(name).
func Resolve(name string, noColor bool) (Theme, error) {
	if noColor {
		return Get(Mono)
	}
	return Get(name)
}

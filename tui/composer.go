package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/ehlo-dev/ehlo/themes"
)

const maxHistory = 1000

const placeholder = "type an SMTP command, or / for ehlo's commands"

// secretPrompt is a /login or /auth waiting for its secret, typed masked.
type secretPrompt struct {
	login      bool // /login USER; else /auth MECH USER
	user, mech string
}

// composer is the one-line input: / commands and raw lines, history,
// Ctrl+R history search and fuzzy completion. It is a dumb component: the
// root decides what a submitted line does.
type composer struct {
	input textinput.Model

	history []string
	histPos int    // len(history) when not browsing
	draft   string // the line being typed before browsing began

	sugg      []suggestion
	suggSel   int
	dismissed bool // Esc hid the suggestions until the next edit

	searching  bool // Ctrl+R
	searchKeys historySearchKeyMap
	query      string
	hit        int // index into history of the match, -1 for none
	saved      string

	prompt *secretPrompt
	secret bool // the input is masked: no history, no completion
}

func newComposer(s themes.Styles) composer {
	in := textinput.New()
	in.Prompt = "> "
	in.Placeholder = placeholder
	in.CharLimit = 8192
	in.SetVirtualCursor(false)
	// The composer completes with fuzzy ranking itself; textinput's own
	// prefix suggestions and their keys are off.
	in.ShowSuggestions = false
	in.KeyMap.AcceptSuggestion.SetEnabled(false)
	in.KeyMap.NextSuggestion.SetEnabled(false)
	in.KeyMap.PrevSuggestion.SetEnabled(false)
	in.Focus()
	c := composer{input: in, hit: -1, searchKeys: defaultHistorySearchKeyMap()}
	c.setStyles(s)
	return c
}

func (c *composer) setStyles(s themes.Styles) {
	st := textinput.Styles{
		Focused: textinput.StyleState{Text: s.Input, Placeholder: s.Placeholder, Suggestion: s.Muted, Prompt: s.Prompt},
		Blurred: textinput.StyleState{Text: s.Input, Placeholder: s.Placeholder, Suggestion: s.Muted, Prompt: s.Muted},
	}
	st.Cursor.Blink = false
	c.input.SetStyles(st)
}

// setMode sets the prompt and masking for the session's input mode.
func (c *composer) setMode(st paneState, s themes.Styles) {
	secret := st.Secret || c.prompt != nil
	if secret != c.secret {
		c.secret = secret
		c.sugg = nil
		if secret {
			c.input.EchoMode = textinput.EchoPassword
		} else {
			c.input.EchoMode = textinput.EchoNormal
		}
	}
	prompt, ps, holder := "> ", s.Prompt, placeholder
	switch {
	case c.prompt != nil:
		prompt, ps, holder = "secret> ", s.PromptSecret, "typed hidden, sent once, never kept"
	case st.Mode == modeAuth && st.Secret:
		prompt, ps, holder = "AUTH (hidden)> ", s.PromptSecret, "the answer, hidden; it is sent base64-encoded"
	case st.Mode == modeAuth:
		prompt, ps, holder = "AUTH> ", s.PromptSecret, "the answer; it is sent base64-encoded"
	case st.Mode == modeData:
		prompt, ps, holder = "DATA> ", s.PromptData, "a line of the message; a line holding only . sends it"
	}
	c.input.Placeholder = holder
	if c.searching {
		prompt, ps = "(reverse-i-search)`"+c.query+"': ", s.Accent
	}
	c.input.Prompt = prompt
	styles := c.input.Styles()
	styles.Focused.Prompt = ps
	c.input.SetStyles(styles)
}

func (c *composer) setWidth(w int) { c.input.SetWidth(max(1, w-displayWidth(c.input.Prompt)-1)) }

// remember adds a submitted line to the history.
func (c *composer) remember(line string) {
	if line == "" {
		return
	}
	if n := len(c.history); n == 0 || c.history[n-1] != line {
		c.history = append(c.history, line)
		if len(c.history) > maxHistory {
			c.history = c.history[len(c.history)-maxHistory:]
		}
	}
	c.histPos = len(c.history)
	c.draft = ""
}

// historyMove browses the history by delta (-1 older, +1 newer).
func (c *composer) historyMove(delta int) {
	if c.secret || len(c.history) == 0 {
		return
	}
	if c.histPos == len(c.history) {
		c.draft = c.input.Value()
	}
	pos := min(max(c.histPos+delta, 0), len(c.history))
	if pos == c.histPos {
		return
	}
	c.histPos = pos
	if pos == len(c.history) {
		c.input.SetValue(c.draft)
	} else {
		c.input.SetValue(c.history[pos])
	}
	c.input.CursorEnd()
	c.sugg = nil
}

// startSearch begins (or, if searching, continues to an older match of) a
// Ctrl+R reverse history search.
func (c *composer) startSearch() {
	if c.secret {
		return
	}
	if !c.searching {
		c.searching, c.query, c.hit, c.saved = true, "", -1, c.input.Value()
		return
	}
	c.searchFrom(c.hit - 1)
}

// searchFrom finds the newest history entry at or before i containing the
// query.
func (c *composer) searchFrom(i int) {
	if i >= len(c.history) {
		i = len(c.history) - 1
	}
	q := strings.ToLower(c.query)
	for ; i >= 0; i-- {
		if strings.Contains(strings.ToLower(c.history[i]), q) {
			c.hit = i
			c.input.SetValue(c.history[i])
			c.input.CursorEnd()
			return
		}
	}
}

// historySearchKeyMap is Ctrl+R's, while it searches: give up and restore
// the line, keep the match for editing, take back a letter of the query.
// Any other text extends the query.
type historySearchKeyMap struct {
	Restore, Keep, Erase key.Binding
}

func defaultHistorySearchKeyMap() historySearchKeyMap {
	return historySearchKeyMap{
		Restore: key.NewBinding(key.WithKeys("esc", "ctrl+g")),
		Keep:    key.NewBinding(key.WithKeys("enter", "tab", "right", "left", "up", "down")),
		Erase:   key.NewBinding(key.WithKeys("backspace")),
	}
}

// searchKey handles a key during Ctrl+R search; it reports whether the
// search consumed it.
func (c *composer) searchKey(msg tea.KeyPressMsg) bool {
	k := c.searchKeys
	switch {
	case key.Matches(msg, k.Restore):
		c.searching = false
		c.input.SetValue(c.saved)
		c.input.CursorEnd()
		return true
	case key.Matches(msg, k.Keep):
		c.searching = false // keep the match for editing
		return true
	case key.Matches(msg, k.Erase):
		if c.query != "" {
			r := []rune(c.query)
			c.query = string(r[:len(r)-1])
			c.searchFrom(len(c.history) - 1)
		}
		return true
	}
	if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
		c.query += msg.Text
		c.searchFrom(len(c.history) - 1)
		return true
	}
	return false
}

// refreshSuggestions recomputes the completions for the current value.
func (c *composer) refreshSuggestions(st paneState) {
	// A message line or a challenge answer is not a command: nothing to
	// complete, and Esc must reach the session.
	if st.Mode != modeCommand || c.secret || c.searching || c.dismissed || c.input.Position() != len([]rune(c.input.Value())) {
		c.sugg = nil
		return
	}
	c.sugg = complete(c.input.Value(), st, c.history)
	if c.suggSel >= len(c.sugg) {
		c.suggSel = 0
	}
}

// accept applies the selected suggestion.
func (c *composer) accept() bool {
	if len(c.sugg) == 0 {
		return false
	}
	c.input.SetValue(c.sugg[c.suggSel].apply(c.input.Value()))
	c.input.CursorEnd()
	c.sugg, c.suggSel = nil, 0
	return true
}

// popup draws the suggestions, the selected one marked, matched letters
// underlined, and what a / command does beside its name. At most maxRows
// rows high: a longer list scrolls with the selection.
func (c *composer) popup(s themes.Styles, maxW, maxRows int) []string {
	if len(c.sugg) == 0 || maxRows < 3 {
		return nil
	}
	nameW, descW := 0, 0
	for _, sg := range c.sugg {
		nameW = max(nameW, displayWidth(strings.TrimSpace(sg.text+" "+sg.args)))
		if sg.desc != "" {
			descW = max(descW, displayWidth(sg.desc)+2)
		}
	}
	w := min(max(nameW+2+descW, 16), maxW-4)
	nameW = min(nameW, w-2)
	rows := min(len(c.sugg), maxRows-2)
	top := min(max(0, c.suggSel-rows+1), len(c.sugg)-rows)
	var lines []string
	for i := top; i < top+rows; i++ {
		sg := c.sugg[i]
		text := truncate(sg.text, nameW)
		style := s.Suggestion
		mark := "  "
		if i == c.suggSel {
			style, mark = s.SuggestionSelected, "› "
		}
		line := mark + lipgloss.StyleRunes(text, sg.matched, style.Inherit(s.SuggestionMatch), style)
		used := 2 + displayWidth(text)
		muted := s.Muted.Inherit(style)
		if sg.args != "" && used+1 < 2+nameW {
			a := truncate(" "+sg.args, 2+nameW-used)
			line += muted.Render(a)
			used += displayWidth(a)
		}
		if sg.desc != "" && w-used > 4 {
			pad := strings.Repeat(" ", max(0, 2+nameW-used)+2)
			d := truncate(sg.desc, w-used-len(pad))
			line += style.Render(pad) + muted.Render(d)
			used += len(pad) + displayWidth(d)
		}
		lines = append(lines, line+style.Render(strings.Repeat(" ", max(0, w-used))))
	}
	badge := ""
	if rows < len(c.sugg) {
		badge = fmt.Sprintf("%d of %d", c.suggSel+1, len(c.sugg))
	}
	return box(s, "tab completes", badge, lines, w+4, len(lines)+2, true)
}

// queuedTitle is the composer's title while lines typed during a pending
// reply wait their turn: each is shown, so that none seems to vanish when
// Enter clears the composer. Empty when nothing waits.
func queuedTitle(st paneState) string {
	if len(st.Queued) == 0 {
		return ""
	}
	after := "the pending reply"
	if st.Busy && st.Pending != "" {
		after = "the reply to " + st.Pending
	}
	return fmt.Sprintf("%d queued, sent after %s: %s", len(st.Queued), after, strings.Join(st.Queued, " · "))
}

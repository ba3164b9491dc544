package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/themes"
)

// sendView is the /send form: from, to, subject and body, sent with
// Conversation.Send (smtplib's sendmail rules apply in the session).
type sendView struct {
	keys   sendKeyMap
	fields [3]textinput.Model // from, to, subject
	body   textarea.Model
	focus  int // 0..2 the fields, 3 the body
	err    string
}

// sendKeyMap is the /send form's. In the one-line fields enter and ↓ move
// to the next field, ↑ to the previous; in the body they edit the text.
type sendKeyMap struct {
	NextField, PrevField key.Binding
	NextLine, PrevLine   key.Binding // the fields only
	Send, Close          key.Binding
}

func defaultSendKeyMap() sendKeyMap {
	return sendKeyMap{
		NextField: binding("tab", "next field", "tab"),
		PrevField: binding("shift+tab", "previous field", "shift+tab"),
		NextLine:  key.NewBinding(key.WithKeys("enter", "down")),
		PrevLine:  key.NewBinding(key.WithKeys("up")),
		Send:      binding("ctrl+s", "send", "ctrl+s"),
		Close:     binding("esc", "close", "esc"),
	}
}

// ShortHelp is what the help bar shows while the form is up.
func (k sendKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.NextField, k.Send, k.Close} }

// FullHelp is the form's group in the help overlay.
func (k sendKeyMap) FullHelp() []key.Binding {
	return []key.Binding{k.NextField, k.PrevField, k.Send, k.Close}
}

// formResult is what a key did to the form.
type formResult int

const (
	formEditing formResult = iota
	formCancel             // closed without sending
	formSend               // to be sent, if form() accepts it
)

var sendLabels = [...]string{"From", "To", "Subject"}

func newSendView(s themes.Styles, last sendForm, keys sendKeyMap) *sendView {
	v := &sendView{keys: keys}
	vals := [3]string{last.From, strings.Join(last.To, ", "), last.Subject}
	holders := [3]string{"sender@example.com", "rcpt@example.com, other@example.com", "ehlo test"}
	for i := range v.fields {
		in := textinput.New()
		in.Prompt = ""
		in.Placeholder = holders[i]
		in.SetValue(vals[i])
		in.CharLimit = 998
		v.fields[i] = in
	}
	v.body = textarea.New()
	v.body.ShowLineNumbers = false
	v.body.Prompt = ""
	v.body.Placeholder = "The message body. Ctrl+S sends."
	v.body.SetValue(last.Body)
	v.setStyles(s)
	v.setFocus(0)
	return v
}

func (v *sendView) setStyles(s themes.Styles) {
	ti := textinput.Styles{
		Focused: textinput.StyleState{Text: s.Input, Placeholder: s.Placeholder, Prompt: s.Prompt},
		Blurred: textinput.StyleState{Text: s.Muted, Placeholder: s.Placeholder, Prompt: s.Muted},
	}
	ti.Cursor.Blink = false
	for i := range v.fields {
		v.fields[i].SetStyles(ti)
	}
	ta := textarea.Styles{
		Focused: textarea.StyleState{Text: s.Input, Placeholder: s.Placeholder, EndOfBuffer: s.Muted},
		Blurred: textarea.StyleState{Text: s.Muted, Placeholder: s.Placeholder, EndOfBuffer: s.Muted},
	}
	ta.Cursor.Blink = false
	v.body.SetStyles(ta)
}

func (v *sendView) setFocus(i int) {
	v.focus = (i + 4) % 4
	for j := range v.fields {
		if j == v.focus {
			v.fields[j].Focus()
		} else {
			v.fields[j].Blur()
		}
	}
	if v.focus == 3 {
		v.body.Focus()
	} else {
		v.body.Blur()
	}
}

// form returns what was typed; err is set if it cannot be sent.
func (v *sendView) form() (sendForm, bool) {
	f := sendForm{
		From:    strings.TrimSpace(v.fields[0].Value()),
		Subject: v.fields[2].Value(),
		Body:    v.body.Value(),
	}
	f.To = strings.FieldsFunc(v.fields[1].Value(), func(r rune) bool { return r == ',' || r == ' ' || r == ';' })
	switch {
	case len(f.To) == 0:
		v.err = "at least one recipient (To)"
		v.setFocus(1)
		return f, false
	}
	return f, true
}

// update handles a key.
func (v *sendView) update(msg tea.KeyPressMsg) (tea.Cmd, formResult) {
	k, inField := v.keys, v.focus < 3
	switch {
	case key.Matches(msg, k.Close):
		return nil, formCancel
	case key.Matches(msg, k.Send):
		return nil, formSend
	case key.Matches(msg, k.NextField), inField && key.Matches(msg, k.NextLine):
		v.setFocus(v.focus + 1)
		return nil, formEditing
	case key.Matches(msg, k.PrevField), inField && key.Matches(msg, k.PrevLine):
		v.setFocus(v.focus - 1)
		return nil, formEditing
	}
	v.err = ""
	return v.edit(msg), formEditing
}

// edit hands a key or a paste to the field that has the focus.
func (v *sendView) edit(msg tea.Msg) (cmd tea.Cmd) {
	if v.focus < 3 {
		v.fields[v.focus], cmd = v.fields[v.focus].Update(msg)
	} else {
		v.body, cmd = v.body.Update(msg)
	}
	return cmd
}

// view draws the form as a box of w by h cells.
func (v *sendView) view(s themes.Styles, w, h int) []string {
	inner := w - 4
	labelW := 9
	for i := range v.fields {
		v.fields[i].SetWidth(max(1, inner-labelW-1))
	}
	bodyH := max(3, h-2-len(v.fields)-4)
	v.body.SetWidth(inner)
	v.body.SetHeight(bodyH)
	var lines []string
	for i, f := range v.fields {
		ls := s.Muted
		if i == v.focus {
			ls = s.Accent
		}
		lines = append(lines, ls.Render(padRight(sendLabels[i], labelW))+f.View())
	}
	ls := s.Muted
	if v.focus == 3 {
		ls = s.Accent
	}
	lines = append(lines, ls.Render("Body"))
	lines = append(lines, strings.Split(v.body.View(), "\n")...)
	for len(lines) < h-3 {
		lines = append(lines, "")
	}
	lines = lines[:h-3]
	if v.err != "" {
		lines = append(lines, s.Error.Render(truncate("✗ "+v.err, inner)))
	} else {
		lines = append(lines, s.Muted.Render(truncate("tab next field · ctrl+s send · esc cancel", inner)))
	}
	return box(s, "Send a message", "", lines, w, h, true)
}

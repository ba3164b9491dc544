package tui

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/themes"
)

// Each component is driven by its own key map, without a Model: rebinding
// a key in the map moves the component's behaviour with it.

func TestHelpOverlayKeyMap(t *testing.T) {
	h := newHelpOverlay()
	const total, rows = 50, 10
	h.update(keyMsg("j"), total, rows)
	h.update(keyMsg("down"), total, rows)
	if h.top != 2 {
		t.Fatalf("two downs: top %d", h.top)
	}
	h.update(keyMsg("G"), total, rows)
	if h.top != total-rows {
		t.Errorf("G: top %d, want %d", h.top, total-rows)
	}
	h.update(keyMsg("pgup"), total, rows)
	if h.top != total-rows-(rows-1) {
		t.Errorf("pgup: top %d", h.top)
	}
	h.update(keyMsg("g"), total, rows)
	if h.top != 0 {
		t.Errorf("g: top %d", h.top)
	}
	h.keys.Down = key.NewBinding(key.WithKeys("x"))
	h.update(keyMsg("j"), total, rows)
	h.update(keyMsg("x"), total, rows)
	if h.top != 1 {
		t.Errorf("rebound down: top %d, want 1 (x moves, j no longer does)", h.top)
	}
	for _, k := range []string{"esc", "q", "?", "f1"} {
		if !h.update(keyMsg(k), total, rows) {
			t.Errorf("%s does not close the help", k)
		}
	}
}

func TestSendViewKeyMap(t *testing.T) {
	dark, _ := themes.Get("dark")
	v := newSendView(themes.NewStyles(dark, true), sendForm{}, defaultSendKeyMap())
	typeInto := func(s string) {
		for _, r := range s {
			v.update(tea.KeyPressMsg{Code: r, Text: string(r)})
		}
	}
	typeInto("alice@example.test")
	v.update(keyMsg("enter")) // a field: enter moves on
	typeInto("bob@example.test")
	v.update(keyMsg("tab"))
	typeInto("Hi")
	v.update(keyMsg("tab"))
	typeInto("one")
	v.update(keyMsg("enter")) // the body: enter is a new line
	typeInto("two")
	if _, res := v.update(keyMsg("ctrl+s")); res != formSend {
		t.Fatalf("ctrl+s: %v, want formSend", res)
	}
	f, ok := v.form()
	if !ok || f.From != "alice@example.test" || !slices.Equal(f.To, []string{"bob@example.test"}) || f.Subject != "Hi" || f.Body != "one\ntwo" {
		t.Errorf("form %+v ok %v", f, ok)
	}
	v.keys.Send = key.NewBinding(key.WithKeys("ctrl+d"))
	if _, res := v.update(keyMsg("ctrl+s")); res == formSend {
		t.Error("ctrl+s still sends after Send was rebound")
	}
	if _, res := v.update(keyMsg("ctrl+d")); res != formSend {
		t.Error("the rebound Send does not send")
	}
	if _, res := v.update(keyMsg("esc")); res != formCancel {
		t.Errorf("esc: %v, want formCancel", res)
	}
}

func TestMailboxKeyMap(t *testing.T) {
	v := mailboxView{keys: defaultMailboxKeyMap()}
	v.set([]MailItem{{From: "a@x"}, {From: "b@x"}, {From: "c@x"}})
	v.update(keyMsg("down"), 10)
	v.update(keyMsg("j"), 10)
	v.update(keyMsg("j"), 10) // stops at the last
	if v.sel != 2 {
		t.Errorf("sel %d, want 2", v.sel)
	}
	v.update(keyMsg("pgdown"), 10)
	if v.scroll != 10 {
		t.Errorf("pgdown: scroll %d, want 10", v.scroll)
	}
	v.keys.Up = key.NewBinding(key.WithKeys("w"))
	v.update(keyMsg("k"), 10)
	v.update(keyMsg("w"), 10)
	if v.sel != 1 {
		t.Errorf("rebound up: sel %d, want 1", v.sel)
	}
	if !v.update(keyMsg("q"), 10) || !v.update(keyMsg("esc"), 10) {
		t.Error("q or esc does not close the mailbox")
	}
}

func TestReplayKeyMap(t *testing.T) {
	r := newReplayer(demoRecording(), &wireLog{})
	if _, ok, moved := r.update(keyMsg("right")); !ok || !moved || r.pos != 1 {
		t.Fatalf("→: handled %v moved %v pos %d", ok, moved, r.pos)
	}
	r.update(keyMsg("end"))
	if r.pos != r.total() {
		t.Errorf("end: pos %d of %d", r.pos, r.total())
	}
	r.update(keyMsg("h"))
	if r.pos != r.total()-1 {
		t.Errorf("h: pos %d", r.pos)
	}
	if cmd, ok, _ := r.update(keyMsg("q")); !ok || !hasQuit(cmd) {
		t.Error("q does not quit the replay")
	}
	if _, ok, _ := r.update(keyMsg("z")); ok {
		t.Error("z is taken as a player key")
	}
	r.keys.StepForward = key.NewBinding(key.WithKeys("s"))
	pos := r.pos
	r.update(keyMsg("right"))
	r.update(keyMsg("s"))
	if r.pos != pos+1 {
		t.Errorf("rebound step: pos %d, want %d", r.pos, pos+1)
	}
}

// Every / command the help and completion list has a handler, and no
// handler is missing from the list.
func TestCommandsHaveHandlers(t *testing.T) {
	for _, c := range commands {
		if commandHandlers[c.name] == nil {
			t.Errorf("%s has no handler", c.name)
		}
	}
	for name := range commandHandlers {
		if !slices.ContainsFunc(commands, func(c command) bool { return c.name == name }) {
			t.Errorf("handler %s is not in the commands table", name)
		}
	}
}

// File and network work leaves Update: /record, /theme's save and
// /mailbox return from Update without calling the function that touches
// the disk or the sandbox; the tea.Cmd calls it, and its answer, back as a
// message, updates the screen.
func TestFileIOLeavesUpdate(t *testing.T) {
	var toggles, saves, reads int
	m, err := New(Config{Conversation: newFake(), Theme: "dark",
		ToggleRecord: func() (bool, string, error) { toggles++; return true, "/tmp/r.jsonl", nil },
		SaveTheme:    func(name string) (string, error) { saves++; return "/cfg/config.toml", nil },
		Mailbox:      func() []MailItem { reads++; return []MailItem{{From: "a@example.test"}} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})

	typeText(m, "/record")
	cmd := press(m, "enter")
	typeText(m, "/record")
	press(m, "enter") // while the first is under way
	if toggles != 0 || m.recording {
		t.Fatalf("Update toggled the recording itself (%d calls)", toggles)
	}
	if !strings.Contains(m.flash, "still under way") {
		t.Errorf("a second /record during the first: flash %q", m.flash)
	}
	settle(m, cmd)
	if toggles != 1 || !m.recording || !strings.Contains(m.flash, "recording to /tmp/r.jsonl") {
		t.Errorf("after the Cmd: %d toggles, recording %v, flash %q", toggles, m.recording, m.flash)
	}

	typeText(m, "/theme light")
	cmd = press(m, "enter")
	if saves != 0 || m.theme.Name != "light" {
		t.Fatalf("Update saved the theme itself (%d), or did not switch (%s)", saves, m.theme.Name)
	}
	settle(m, cmd)
	if saves != 1 || !strings.Contains(m.flash, "kept in /cfg/config.toml") {
		t.Errorf("after the Cmd: %d saves, flash %q", saves, m.flash)
	}

	typeText(m, "/mailbox")
	cmd = press(m, "enter")
	if reads != 0 || m.overlay != overlayNone {
		t.Fatalf("Update read the mailbox itself (%d), overlay %v", reads, m.overlay)
	}
	settle(m, cmd)
	if reads != 1 || m.overlay != overlayMailbox || !strings.Contains(plain(m), "a@example.test") {
		t.Errorf("after the Cmd: %d reads, overlay %v", reads, m.overlay)
	}
}

// Raw key strings live only in key maps: no production code compares a
// key's String() (msg.String() == "esc") instead of matching a binding.
func TestNoRawKeyComparisons(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "String" {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "msg" {
				t.Errorf("%s: a key compared by its string; use a key.Binding", fset.Position(call.Pos()))
			}
			return true
		})
		// Whatever the key's name: a String() compared with a literal.
		ast.Inspect(f, func(n ast.Node) bool {
			be, ok := n.(*ast.BinaryExpr)
			if !ok || (be.Op != token.EQL && be.Op != token.NEQ) {
				return true
			}
			for _, side := range [][2]ast.Expr{{be.X, be.Y}, {be.Y, be.X}} {
				call, ok := side[0].(*ast.CallExpr)
				lit, isLit := side[1].(*ast.BasicLit)
				if !ok || !isLit || lit.Kind != token.STRING {
					continue
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "String" && len(call.Args) == 0 {
					t.Errorf("%s: %s compared with a String(); use a key.Binding", fset.Position(be.Pos()), lit.Value)
				}
			}
			return true
		})
	}
}

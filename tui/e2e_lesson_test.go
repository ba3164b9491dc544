package tui_test

import (
	"os"
	"os/exec"
	"testing"
)

// The lesson flow (issue 16, deliverable 4): `ehlo lesson recipients` at
// 120×40 opens the TUI on a sandbox that refuses nobody@…, with the lesson
// in a column; typing the lesson's commands ticks each step, and the pane
// ends with "done". At 80×24 the pane floats over the wire log and f2
// shows the whole of it.
func TestE2ELesson(t *testing.T) {
	tmuxPath, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("EHLO_REQUIRE_TMUX") != "" {
			t.Fatalf("EHLO_REQUIRE_TMUX is set but tmux is not on PATH: %v", err)
		}
		t.Skip("tmux not on PATH (apt-get install tmux; EHLO_REQUIRE_TMUX=1 makes this a failure)")
	}
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs the binary (-short)")
	}
	bin := buildEhlo(t)
	t.Run("recipients_120x40", func(t *testing.T) {
		p := startPane(t, tmuxPath, 120, 40, []string{"env", "-u", "NO_COLOR", bin, "lesson", "recipients"})
		p.waitFor("the lesson pane", "╭─ Lesson", "Send to two", "▸ 1/4 Greet the server", "<-  220 sandbox.ehlo.test")
		p.typeLine("EHLO e2e.example")
		p.waitFor("the first tick", "✓ 1 Greet the server", "▸ 2/4 Name the sender")
		p.typeLine("MAIL FROM:<student@example.test>")
		p.typeLine("RCPT TO:<nobody@sandbox.ehlo.test>")
		p.typeLine("DATA")
		p.waitFor("the hint for a DATA with no recipient", "✗ Not quite", "no valid")
		p.typeLine("RCPT TO:<alice@sandbox.ehlo.test>")
		p.waitFor("the recipients step", "✓ 3 Name two recipients", "▸ 4/4 Send the message")
		p.typeLine("DATA")
		p.typeLine("Subject: hello")
		p.typeLine("")
		p.typeLine("hi")
		p.typeLine(".")
		p.waitFor("the lesson done", "✓ done", "✓ 4 Send the message anyway")
		p.typeLine("/quit")
		p.waitExit(0)
	})
	t.Run("greet_80x24", func(t *testing.T) {
		p := startPane(t, tmuxPath, 80, 24, []string{"env", "NO_COLOR=1", bin, "lesson", "greet"})
		p.waitFor("the floating pane, the greeting ticked", "▸ 2/4 Greet with EHLO", "f2 more")
		p.keys("F2")
		p.waitFor("the whole pane", "Every SMTP conversation", "✓ 1 Read the greeting", "○ 4 Ask for HELP")
		p.keys("F2")
		p.waitGone("the pane hidden", "╭─ Lesson")
		p.keys("F2")
		p.typeLine("EHLO e2e.example")
		p.waitFor("the steps ticked", "▸ 4/4 Ask for HELP")
		p.typeLine("/quit")
		p.waitExit(0)
	})
}

package tui_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestE2EIssue14Sizes is issue 14's "Done when" for what needs the real
// program, at each of its three sizes: the real ehlo against a sandbox
// started on its own, whose certificate it does not trust. In one session:
// the wire log follows the next reply after a search and after selecting
// a line and pressing i (item 2); the body typed after DATA is shown, and
// Esc twice abandons it, saying the connection closed before the final
// dot (item 1); after /connect, STARTTLS fails verification with the ways
// on, and t then y pins the certificate (item 3). At 200×60 the window is
// then shrunk to 80×24 and the wire log keeps the line it was scrolled to.
// TestIssue14Sweep checks the model at the same sizes in every theme and
// under NO_COLOR.
func TestE2EIssue14Sizes(t *testing.T) {
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
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			t.Parallel()
			testE2EIssue14(t, tmuxPath, bin, sz[0], sz[1])
		})
	}
}

func testE2EIssue14(t *testing.T, tmuxPath, bin string, w, h int) {
	addr := startSandbox(t, bin, filepath.Join(t.TempDir(), "sandbox-ca.pem"))
	p := startPane(t, tmuxPath, w, h, []string{"env", "-u", "NO_COLOR", bin, addr})
	p.waitFor("the greeting", "<-  220 sandbox.ehlo.test", "not encrypted", "Composer")
	p.typeLine("EHLO e2e.example")
	p.waitFor("the EHLO reply", "<-  250 SMTPUTF8")

	// Item 2: following after a search, and after a selection left with i.
	p.keys("BTab", "Up", "Up", "Up", "Up", "/")
	p.text("220")
	p.keys("Enter")
	p.waitFor("the search", "/220")
	p.keys("Escape")
	p.waitFor("the composer", "enter send") // else NOOP reads as alt+N
	p.typeLine("NOOP")
	p.waitUntil("the NOOP and its reply, following", func(scr string) bool {
		return strings.Contains(scr, " -> NOOP") && !strings.Contains(scr, "scrolled") && lastLogRow(scr, w) != " -> NOOP"
	})
	p.keys("BTab", "Up", "Up", "Up", "i")
	p.waitFor("the composer", "enter send")
	p.typeLine("VRFY bob")
	p.waitUntil("the VRFY and its reply, following", func(scr string) bool {
		return strings.Contains(scr, " -> VRFY bob") && !strings.Contains(scr, "scrolled") && lastLogRow(scr, w) != " -> VRFY bob"
	})

	// Item 1: the body shown as typed; esc, esc abandons it.
	for _, l := range []string{"MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>", "DATA"} {
		p.typeLine(l)
	}
	p.waitFor("DATA mode", "<-  354", "DATA> ")
	p.typeLine("Subject: never sent")
	p.typeLine("")
	p.typeLine("first body line")
	p.waitFor("the body so far", "Message · 3 lines · not sent yet", "Subject: never sent", "first body line")
	p.keys("Escape")
	p.waitFor("the question", "esc again abandons the message", "SMTP has no way to cancel DATA")
	p.keys("Escape")
	scr := p.waitFor("the message abandoned", "not sent: closed before the final dot", "message of 3 line(s) abandoned", "> type an SMTP command")
	p.noneOf(scr, "DATA> ", "not sent yet")

	// Item 3: the certificate the client does not trust, pinned.
	p.typeLine("/connect")
	p.waitFor("connected again", "not encrypted")
	p.typeLine("EHLO e2e.example")
	p.waitFor("the EHLO reply", "<-  250 SMTPUTF8")
	p.typeLine("STARTTLS")
	p.waitFor("the failure and the ways on", "TLS handshake failed", "--ca FILE", "--insecure", "/cert trust")
	p.keys("BTab")
	p.keys("t")
	p.waitFor("the question", "Trust this certificate?", "sha256")
	p.keys("y")
	p.waitFor("the pinned connection", "TLS ✓", "certificate pinned")
	p.keys("i")
	p.waitFor("the composer", "enter send")

	if w == 200 {
		testE2EResizeKeepsScroll(t, p)
	}
	p.typeLine("/quit")
	p.waitExit(0)
}

// testE2EResizeKeepsScroll scrolls the wire log up at 200×60, shrinks the
// window to 80×24, and checks the log still starts at the same line.
func testE2EResizeKeepsScroll(t *testing.T, p *tmuxPane) {
	t.Helper()
	// Pasted in one block (sent line by line): typed, 60 lines take the
	// race-enabled binary longer than e2eWait.
	var lines strings.Builder
	for i := range 60 {
		fmt.Fprintf(&lines, "VRFY user%02d\n", i)
	}
	p.must("set-buffer", "-b", "vrfy", lines.String())
	p.must("paste-buffer", "-p", "-b", "vrfy", "-t", p.target)
	p.waitFor("the last VRFY", " ~> VRFY user59")
	p.keys("PPage")
	before := p.waitFor("scrolled", "scrolled")
	top := firstLogRows(before, 200, 3)
	// A client line among them names the line: the EHLO replies repeat.
	if len(top) < 3 || !regexp.MustCompile(`VRFY user\d\d`).MatchString(strings.Join(top, "\n")) {
		t.Fatalf("the wire log at 200×60 does not start in the VRFY lines: %q\n%s", top, before)
	}
	t.Logf("the wire log at 200×60 scrolled to %q", top)
	p.must("resize-window", "-t", p.target, "-x", "80", "-y", "24")
	p.waitUntil(fmt.Sprintf("the wire log at 80×24 from the same line %q", top), func(scr string) bool {
		got := firstLogRows(scr, 80, 3)
		if len(strings.Split(strings.TrimRight(scr, "\n"), "\n")) != 24 || len(got) < 3 || !strings.Contains(scr, "scrolled") {
			return false
		}
		for i := range top {
			// A row is cut at 80 columns: its start is the same line.
			if n := min(len([]rune(got[i])), len([]rune(top[i])), 30); n < 8 || string([]rune(got[i])[:n]) != string([]rune(top[i])[:n]) {
				return false
			}
		}
		return true
	})
}

// logColumn is where the wire log's text starts in a row at width w: the
// side column's width (computeLayout's), its border and a space.
func logColumn(w int) int { return min(max(w*3/10+6, 30), 76) + 2 }

// firstLogRows is the text of the wire log's first n rows.
func firstLogRows(scr string, w, n int) []string {
	rows := strings.Split(scr, "\n")
	var out []string
	for _, r := range rows[min(2, len(rows)):] {
		rr := []rune(r)
		if len(rr) < w {
			continue
		}
		out = append(out, strings.TrimRight(string(rr[logColumn(w):w-2]), " "))
		if len(out) == n {
			break
		}
	}
	return out
}

// lastLogRow is the text of the wire log's last non-empty row.
func lastLogRow(scr string, w int) string {
	rows := strings.Split(scr, "\n")
	last := ""
	for _, r := range rows[min(2, len(rows)):] {
		rr := []rune(r)
		if len(rr) < w || strings.HasPrefix(string(rr[logColumn(w)-2:]), "╰") {
			break
		}
		if t := strings.TrimRight(string(rr[logColumn(w):w-2]), " "); t != "" {
			last = t
		}
	}
	return last
}

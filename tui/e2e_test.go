package tui_test

// End-to-end tests: the real ehlo binary in a real terminal (tmux), driven
// with send-keys and read back with capture-pane, as a user would. They are
// the acceptance flows:
//
//   - TestE2E/live_sandbox (120×40): `ehlo` with no SERVER opens the TUI on
//     the embedded sandbox; EHLO, STARTTLS (verified), EHLO, /login, /send
//     through the form, the message in /mailbox, /quit ends the process.
//   - TestE2E/no_color_80x24: NO_COLOR=1 at the minimum size; the screen
//     holds no colour (see sgrColours for what that means precisely), while
//     the same binary without NO_COLOR does draw colours in the same tmux.
//   - TestE2E/replay: `ehlo replay NAME` of a sample from `ehlo replay
//     --list`; End shows the last server line, q quits.
//   - Issue 14: follow_data_cancel_80x24 (the log follows after a search
//     and an explanation; Esc twice abandons a message in DATA),
//     certificate_120x40 (a self-signed certificate refused with its ways
//     out, then verified with sandbox --write-ca and --ca), resize (80×24,
//     200×60, 120×40), theme_kept_200x60 (/theme kept in the config file).
//   - Issue 14's "Done when" (e2e_issue14_test.go): TestE2EIssue14Sizes
//     runs items 1, 2 and 3 against a sandbox the client does not trust
//     at 80×24, 120×40 and 200×60, and at 200×60 a resize to 80×24 that
//     keeps the wire log's scroll position.
//   - Issue 16 (e2e_workshop_test.go): workshop_120x40 (the instructor's
//     view: students appear, a log followed live, a fault for one student,
//     a saved session replayed) and workshop_student_120x40 (a student's
//     /mailbox over XMAILBOX).
//
// Each flow has its own tmux server (-L with a unique socket name, killed in
// Cleanup) and polls capture-pane until the expected text appears or a
// deadline passes: no fixed sleeps decide anything. The binary is built once
// (with -race when the test binary is, so that `make test` reuses the
// compiled packages and runs the binary under the race detector too).
//
// Skipped only when tmux is not on PATH and EHLO_REQUIRE_TMUX is unset; CI
// installs tmux and sets EHLO_REQUIRE_TMUX=1.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// e2eWait is how long one expected screen may take to appear. Generous,
// because a loaded 2-core CI machine runs other packages' tests (with
// -race) at the same time; a passing run waits only as long as it must.
const e2eWait = 20 * time.Second

func TestE2E(t *testing.T) {
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
	t.Run("live_sandbox", func(t *testing.T) {
		t.Parallel()
		testE2ELiveSandbox(t, tmuxPath, bin)
	})
	t.Run("no_color_80x24", func(t *testing.T) {
		t.Parallel()
		testE2ENoColor(t, tmuxPath, bin)
	})
	t.Run("replay", func(t *testing.T) {
		t.Parallel()
		testE2EReplay(t, tmuxPath, bin)
	})
	t.Run("resize", func(t *testing.T) {
		t.Parallel()
		testE2EResize(t, tmuxPath, bin)
	})
	t.Run("theme_kept_200x60", func(t *testing.T) {
		t.Parallel()
		testE2EThemeKept(t, tmuxPath, bin)
	})
	t.Run("certificate_120x40", func(t *testing.T) {
		t.Parallel()
		testE2ECertificate(t, tmuxPath, bin)
	})
	t.Run("follow_data_cancel_80x24", func(t *testing.T) {
		t.Parallel()
		testE2EFollowDataCancel(t, tmuxPath, bin)
	})
	t.Run("workshop_120x40", func(t *testing.T) {
		t.Parallel()
		testE2EWorkshop(t, tmuxPath, bin)
	})
	t.Run("workshop_student_120x40", func(t *testing.T) {
		t.Parallel()
		testE2EWorkshopStudent(t, tmuxPath, bin)
	})
}

// Flow G (issue 14 item 4): at 80×24 the Extensions list ends with
// "+N more"; resized to 200×60 it is whole, the side column wider; back
// at 120×40 the frame is still whole.
func testE2EResize(t *testing.T, tmuxPath, bin string) {
	p := startPane(t, tmuxPath, 80, 24, []string{"env", "-u", "NO_COLOR", bin})
	p.waitFor("the sandbox's greeting", "<-  220 sandbox.ehlo.test")
	p.typeLine("EHLO e2e.example")
	p.waitFor("the Extensions pane cut with a count", "<-  250 SMTPUTF8", "more")
	for _, sz := range [][2]int{{200, 60}, {120, 40}} {
		p.must("resize-window", "-t", p.target, "-x", strconv.Itoa(sz[0]), "-y", strconv.Itoa(sz[1]))
		scr := p.waitUntil(fmt.Sprintf("the frame at %dx%d", sz[0], sz[1]), func(scr string) bool {
			lines := strings.Split(strings.TrimRight(scr, "\n"), "\n")
			return len(lines) == sz[1] && strings.Contains(scr, "SMTPUTF8") && !regexp.MustCompile(`\+\d+ more`).MatchString(scr) &&
				strings.HasPrefix(lines[sz[1]-4], "╭─ Composer")
		})
		p.noneOf(scr, "needs at least")
	}
	p.typeLine("/quit")
	p.waitExit(0)
}

// Flow F (issue 14 item 9): a theme chosen with /theme is kept in the
// config file and is the next run's theme.
func testE2EThemeKept(t *testing.T, tmuxPath, bin string) {
	cfg := t.TempDir()
	argv := []string{"env", "-u", "NO_COLOR", "XDG_CONFIG_HOME=" + cfg, bin}
	p := startPane(t, tmuxPath, 200, 60, argv)
	p.waitFor("the sandbox's greeting", "<-  220 sandbox.ehlo.test")
	p.typeLine("/theme high-contrast")
	p.waitFor("the theme kept", "theme high-contrast, kept in "+filepath.Join(cfg, "ehlo", "config.toml"))
	p.typeLine("/quit")
	p.waitExit(0)

	p = startPane(t, tmuxPath, 200, 60, argv)
	p.waitFor("the sandbox's greeting", "<-  220 sandbox.ehlo.test")
	p.typeLine("/theme")
	p.waitFor("the theme of the last run", "now high-contrast · themes:")
	p.typeLine("/quit")
	p.waitExit(0)
}

// Flow E (issue 14 item 3): against a server with a self-signed certificate
// (ehlo sandbox, started on its own), STARTTLS fails verification and the
// TUI says why in full, the ways out and the fingerprint, and t then y pins
// the certificate for the session; with the certificate from --write-ca
// given to --ca, the same STARTTLS verifies.
func testE2ECertificate(t *testing.T, tmuxPath, bin string) {
	ca := filepath.Join(t.TempDir(), "sandbox-ca.pem")
	addr := startSandbox(t, bin, ca)

	p := startPane(t, tmuxPath, 120, 40, []string{"env", "-u", "NO_COLOR", bin, addr})
	p.waitFor("the greeting", "<-  220 sandbox.ehlo.test", "not encrypted")
	p.typeLine("EHLO e2e.example")
	p.waitFor("the EHLO reply", "<-  250 SMTPUTF8")
	p.typeLine("STARTTLS")
	p.waitFor("the failure, its reason and the ways out", "TLS handshake failed", "x509:",
		"--ca FILE", "--insecure", "compare first: its sha256 is", "ehlo sandbox --write-ca FILE)",
		"t (in the wire log) or /cert trust")
	// The third way (issue 14 item 3): t shows the certificate and its
	// sha256, y pins it, reconnects and upgrades again.
	p.keys("BTab")
	p.keys("t")
	p.waitFor("the question", "Trust this certificate?", "y: trust and reconnect")
	p.keys("y")
	p.waitFor("the pinned connection", "TLS ✓", "certificate pinned for this session", "*** trusting the certificate with sha256",
		"=== certificate pinned: the one trusted for this session")
	p.keys("i")
	p.typeLine("/quit")
	p.waitExit(0)

	p = startPane(t, tmuxPath, 120, 40, []string{"env", "-u", "NO_COLOR", bin, "--ca", ca, addr})
	p.waitFor("the greeting", "<-  220 sandbox.ehlo.test", "not encrypted")
	p.typeLine("EHLO e2e.example")
	p.waitFor("the EHLO reply", "<-  250 SMTPUTF8")
	p.typeLine("STARTTLS")
	p.waitFor("TLS, verified with --ca", "TLS ✓", "certificate verified")
	p.typeLine("/quit")
	p.waitExit(0)
}

// startSandbox runs `ehlo sandbox` on its own (a server whose certificate
// the client does not trust), writing its certificate to ca, and returns
// its address; Cleanup stops it.
func startSandbox(t *testing.T, bin, ca string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sb := exec.CommandContext(ctx, bin, "sandbox", "--tls-listen", "-", "--write-ca", ca)
	out, err := sb.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sb.Wait() })
	var addr string
	var banner bytes.Buffer
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(e2eWait); addr == "" || !strings.Contains(banner.String(), "stop with Ctrl+C"); {
		if time.Now().After(deadline) {
			t.Fatalf("no sandbox banner:\n%s", banner.String())
		}
		n, err := out.Read(buf)
		banner.Write(buf[:n])
		if err != nil {
			t.Fatalf("sandbox: %v\n%s", err, banner.String())
		}
		if m := regexp.MustCompile(`listen: (\S+)`).FindStringSubmatch(banner.String()); m != nil {
			addr = m[1]
		}
	}
	go io.Copy(io.Discard, out)
	return addr
}

// Flow D (issue 14 items 1, 2): after a search and after an explanation
// the wire log follows the next reply; the body typed after DATA is shown
// as it is typed; Esc twice abandons it by closing the connection without
// the final dot, the sandbox's mailbox stays empty, and /connect starts
// again.
func testE2EFollowDataCancel(t *testing.T, tmuxPath, bin string) {
	p := startPane(t, tmuxPath, 80, 24, []string{"env", "-u", "NO_COLOR", bin})
	p.waitFor("the sandbox's greeting", "<-  220 sandbox.ehlo.test", "Composer")
	// Item 2: after a search, and after an explanation, the next reply is
	// on screen without f or shift+tab.
	p.typeLine("EHLO e2e.example")
	p.waitFor("the EHLO reply", "<-  250 SMTPUTF8")
	p.keys("BTab", "Up", "Up", "Up", "Up", "/")
	p.text("220")
	p.keys("Enter")
	p.waitFor("the search", "/220")
	p.keys("Escape")
	p.waitFor("the composer", "enter send") // else NOOP reads as alt+N
	p.typeLine("NOOP")
	p.waitFor("the NOOP following a search", " -> NOOP")
	p.keys("BTab", "Up", "Up", "Up", "e")
	p.waitFor("an explanation", "┄┄┄")
	p.keys("Escape")
	p.waitFor("the composer", "enter send")
	p.typeLine("VRFY bob")
	p.waitFor("the VRFY following an explanation", " -> VRFY bob")

	for _, l := range []string{"MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>", "DATA"} {
		p.typeLine(l)
	}
	p.waitFor("DATA mode", "<-  354", "DATA> ")
	p.typeLine("Subject: never sent")
	p.typeLine("")
	p.typeLine("first body line")
	p.waitFor("the body so far", "Message · 3 lines · not sent yet", "Subject: never sent", "first body line")
	p.keys("Escape")
	p.waitFor("the question", "esc again abandons the message")
	p.keys("Escape")
	scr := p.waitFor("the message abandoned", "message of 3 line(s) abandoned", "DATA", "> type an SMTP command")
	p.noneOf(scr, "DATA> ", "not sent yet")
	p.typeLine("/mailbox")
	p.waitFor("an empty mailbox", "Mailbox (0)")
	p.keys("Escape")
	p.waitGone("the mailbox closed", "Mailbox (0)")
	p.typeLine("/connect")
	p.waitFor("connected again", "not encrypted")
	p.typeLine("/quit")
	p.waitExit(0)
}

// buildEhlo builds github.com/ehlo-dev/ehlo into a temporary directory.
func buildEhlo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ehlo")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "github.com/ehlo-dev/ehlo")
	start := time.Now()
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("go %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return bin
}

// raceEnabled says whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// Flow A: the live TUI on the embedded sandbox.
func testE2ELiveSandbox(t *testing.T, tmuxPath, bin string) {
	p := startPane(t, tmuxPath, 120, 40, []string{"env", "-u", "NO_COLOR", bin})

	// No SERVER: the sandbox, connected and greeted, in clear text.
	p.waitFor("the sandbox's greeting", "<-  220 sandbox.ehlo.test", "not encrypted", "Composer")

	p.typeLine("EHLO e2e.example")
	scr := p.waitFor("the EHLO reply and the Extensions pane",
		"<-  250-sandbox.ehlo.test Hello e2e.example", "<-  250 SMTPUTF8",
		"Extensions", "SIZE 10 MiB", "STARTTLS")
	p.noneOf(scr, "AUTH PLAIN") // the sandbox offers AUTH only inside TLS

	p.typeLine("STARTTLS")
	p.waitFor("TLS, verified, and the extensions stale",
		"<-  220 2.0.0 Ready to start TLS", "TLS ✓", "certificate verified", "stale")

	p.typeLine("EHLO e2e.example")
	p.waitFor("the EHLO inside TLS", " ~> EHLO e2e.example", "<~  250 SMTPUTF8", "AUTH PLAIN LOGIN CRAM-MD5")

	p.typeLine("/login alice alicepw")
	scr = p.waitFor("AUTH accepted", "<~  235 2.7.0 Authentication successful", "● auth")
	// The password went over the wire redacted and left the composer.
	p.noneOf(scr, "alicepw")

	// The history keeps the command without its password.
	p.keys("Up")
	scr = p.waitFor("/login in the history", "> /login alice")
	p.noneOf(scr, "alicepw")
	p.keys("C-u")
	p.waitFor("the composer emptied", "> type an SMTP command")

	const subject = "ehlo e2e flow A"
	p.typeLine("/send")
	p.waitFor("the /send form", "Send a message", "From", "Subject", "ctrl+s send")
	p.text("alice@example.test")
	p.keys("Tab")
	p.text("bob@example.test")
	p.keys("Tab")
	p.text(subject)
	p.keys("Tab")
	p.text("Hello from the end-to-end test.")
	p.waitFor("the form filled in", "alice@example.test", "bob@example.test", subject, "Hello from the end-to-end test.")
	p.keys("C-s")
	scr = p.waitFor("the message queued", " ~> Subject: "+subject, "<~  250 2.0.0 Ok: queued as")
	p.noneOf(scr, "Send a message") // the form closed

	p.typeLine("/mailbox")
	p.waitFor("the message and its envelope in the sandbox mailbox", "Mailbox (1)", "→ bob@example.test", "Subject: "+subject,
		"TLS yes (TLS 1.3) · AUTH as alice", "MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test> → 250 2.1.5 Ok (accepted)")
	p.keys("Escape")
	p.waitFor("the mailbox closed", "Composer", "> type an SMTP command")
	p.waitGone("the mailbox closed", "Mailbox (1)")

	p.typeLine("/quit")
	p.waitExit(0)
}

// Flow B: NO_COLOR at the minimum size.
//
// "No colour" is asserted on `tmux capture-pane -e`, which renders each
// cell's attributes as SGR sequences: no SGR may carry a parameter that
// selects a colour, foreground, background or underline (30–37, 38;…,
// 40–47, 48;…, 58;…, 90–97, 100–107). Attributes (bold, dim, italic,
// underline, reverse…) are allowed, since the mono theme marks roles with
// them, and so are 39, 49 and 59, which select the terminal's default
// colours: tmux itself writes 39 and 49 after every attribute change in a
// capture, coloured or not.
func testE2ENoColor(t *testing.T, tmuxPath, bin string) {
	p := startPane(t, tmuxPath, 80, 24, []string{"env", "NO_COLOR=1", bin})
	check := func(when string) {
		t.Helper()
		if bad := sgrColours(p.captureANSI()); len(bad) > 0 {
			t.Fatalf("NO_COLOR=1, %s: %d colour SGR sequences, first %q\n%s", when, len(bad), bad[0], p.capture())
		}
	}
	scr := p.waitFor("the sandbox's greeting", "<-  220 sandbox.ehlo.test", "Composer")
	p.noneOf(scr, "needs at least") // 80×24 is enough
	check("after the greeting")

	p.typeLine("EHLO e2e.example")
	p.waitFor("the EHLO reply", "<-  250 SMTPUTF8", "SIZE 10 MiB")
	check("after EHLO")

	p.typeLine("STARTTLS")
	p.waitFor("TLS", "TLS ✓", "certificate verified")
	check("after STARTTLS")

	p.typeLine("/theme high-contrast")
	p.waitFor("the theme refused", "NO_COLOR is set")
	check("after /theme high-contrast")

	p.keys("F1")
	p.waitFor("the help", "Help", "Commands")
	check("with the help open")
	p.keys("Escape")
	p.waitGone("the help closed", "Commands")

	// The control: the same binary without NO_COLOR draws colours, so the
	// check above can see them.
	c := startPane(t, tmuxPath, 80, 24, []string{"env", "-u", "NO_COLOR", bin})
	c.waitFor("the greeting (colour)", "<-  220 sandbox.ehlo.test", "Composer")
	if len(sgrColours(c.captureANSI())) == 0 {
		t.Fatalf("without NO_COLOR the capture has no colour either: the NO_COLOR check proves nothing\n%q", c.captureANSI())
	}

	p.keys("C-c")
	p.waitExit(0)
}

// sgrRE matches an SGR sequence; its parameters are group 1.
var sgrRE = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// sgrColours returns the SGR sequences in s that select a colour.
func sgrColours(s string) []string {
	var bad []string
	for _, m := range sgrRE.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.Split(m[1], ";") {
			p, _, _ = strings.Cut(p, ":") // 38:2:r:g:b
			n, err := strconv.Atoi(p)
			if err != nil {
				continue // empty: a reset
			}
			if n >= 30 && n <= 38 || n >= 40 && n <= 48 || n == 58 || n >= 90 && n <= 97 || n >= 100 && n <= 107 {
				bad = append(bad, m[0])
				break
			}
		}
	}
	return bad
}

// Flow C: replay a sample recording.
func testE2EReplay(t *testing.T, tmuxPath, bin string) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "replay", "--list").Output()
	if err != nil {
		t.Fatalf("ehlo replay --list: %v\n%s", err, stderrOf(err))
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	if len(names) == 0 {
		t.Fatalf("ehlo replay --list lists no sample:\n%s", out)
	}
	name := names[0]
	for _, n := range names {
		if n == "postfix-starttls-auth" {
			name = n
		}
	}
	// The last server line, from the transcript of the same recording.
	out, err = exec.CommandContext(ctx, bin, "replay", "--print", name).Output()
	if err != nil {
		t.Fatalf("ehlo replay --print %s: %v\n%s", name, err, stderrOf(err))
	}
	var last string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "<-  ") || strings.HasPrefix(l, "<~  ") {
			last = strings.TrimRight(l, " \r")
		}
	}
	if last == "" {
		t.Fatalf("ehlo replay --print %s: no server line:\n%s", name, out)
	}
	if r := []rune(last); len(r) > 40 {
		last = string(r[:40]) // the wire log may cut a long line
	}

	p := startPane(t, tmuxPath, 120, 40, []string{"env", "-u", "NO_COLOR", bin, "replay", name})
	var status string
	scr := p.waitUntil("the replay TUI (or ehlo's exit)", func(scr string) bool {
		if strings.Contains(scr, "Replay ·") {
			return true
		}
		st, ok := p.exited()
		status = st
		return ok
	})
	if !strings.Contains(scr, "Replay ·") {
		// tmux may lose the last output of a command that exits at once,
		// so what ehlo said is read again outside tmux.
		ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "replay", name)
		cmd.Stdin = nil
		said, _ := cmd.CombinedOutput()
		t.Fatalf("ehlo replay %s exited (status %s) without opening the TUI:\n%s\nit says, outside tmux:\n%s", name, status, scr, said)
	}
	p.keys("End")
	p.waitFor("the last server line", last)
	p.waitUntil("the replay bar at the last event", func(scr string) bool {
		m := replayEventRE.FindStringSubmatch(scr)
		return m != nil && m[1] == m[2] && m[1] != "0"
	})
	p.keys("q")
	p.waitExit(0)
}

// replayEventRE finds "event N/TOTAL" in the replay bar.
var replayEventRE = regexp.MustCompile(`event (\d+)/(\d+)`)

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// tmuxPane is one tmux server with one session running one command.
type tmuxPane struct {
	t       *testing.T
	tmux    string
	socket  string
	env     []string
	target  string
	lastScr string
	// deadSince is when exited first saw the pane dead without a status.
	deadSince time.Time
}

var tmuxSockets atomic.Int64

// startPane starts a tmux server of its own with a w×h session running
// argv (executed directly, no shell). The pane stays after the command
// exits (remain-on-exit), so that its exit status and last screen can be
// read; Cleanup kills the server.
func startPane(t *testing.T, tmuxPath string, w, h int, argv []string) *tmuxPane {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	// Status line off: the pane is the whole w×h window.
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &tmuxPane{
		t:      t,
		tmux:   tmuxPath,
		socket: fmt.Sprintf("ehlo-e2e-%d-%d", os.Getpid(), tmuxSockets.Add(1)),
		target: "e2e",
	}
	// Not inside the caller's tmux, and the colour environment is the
	// test's to choose (argv sets NO_COLOR or unsets it).
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "TMUX", "TMUX_PANE", "NO_COLOR", "TERM", "COLORTERM", "CLICOLOR", "CLICOLOR_FORCE", "TTY_FORCE",
			"XDG_CONFIG_HOME": // the config file is the test's (HOME below), never the developer's
			continue
		}
		p.env = append(p.env, kv)
	}
	p.env = append(p.env, "TERM=xterm-256color", "HOME="+dir)
	args := append([]string{"-f", conf, "new-session", "-d", "-s", p.target,
		"-x", strconv.Itoa(w), "-y", strconv.Itoa(h)}, argv...)
	out, err := p.run(args...)
	// The socket's file is left behind by kill-server: removed in Cleanup.
	sock, _ := p.run("display-message", "-p", "#{socket_path}")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last screen of %s:\n%s", strings.Join(argv, " "), p.capture())
		}
		p.run("kill-server")
		if sock = strings.TrimSpace(sock); filepath.Base(sock) == p.socket {
			os.Remove(sock)
		}
	})
	if err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	return p
}

func (p *tmuxPane) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.tmux, append([]string{"-L", p.socket}, args...)...)
	cmd.Env = p.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (p *tmuxPane) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// text types s literally.
func (p *tmuxPane) text(s string) {
	p.t.Helper()
	p.must("send-keys", "-t", p.target, "-l", "--", s)
}

// keys sends tmux key names (Enter, Tab, C-s, Escape, F1…).
func (p *tmuxPane) keys(names ...string) {
	p.t.Helper()
	p.must(append([]string{"send-keys", "-t", p.target}, names...)...)
}

// typeLine types s into the composer and presses Enter.
func (p *tmuxPane) typeLine(s string) {
	p.t.Helper()
	p.text(s)
	p.keys("Enter")
}

// capture is the screen as text; captureANSI with its attributes.
func (p *tmuxPane) capture() string {
	out, _ := p.run("capture-pane", "-p", "-t", p.target)
	return out
}

func (p *tmuxPane) captureANSI() string {
	return p.must("capture-pane", "-p", "-e", "-t", p.target)
}

// exited says whether the command has exited, and how: its exit status,
// or "signal N". tmux marks the pane dead when its terminal closes, and
// has the status once it has reaped the process. tmux 3.3a now and then
// misses the SIGCHLD: the process stays a zombie and the pane never gets a
// status (seen here about once in ten runs). So when a dead pane has had
// no status for a while, the tmux server, which this test started, is sent
// a SIGCHLD, on which it reaps every child that has exited.
func (p *tmuxPane) exited() (string, bool) {
	out, err := p.run("display-message", "-p", "-t", p.target, "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}|#{pid}")
	f := strings.Split(strings.TrimSpace(out), "|")
	if err != nil || len(f) != 4 || f[0] != "1" {
		return "", false
	}
	switch {
	case f[1] != "":
		return f[1], true
	case f[2] != "":
		return "signal " + f[2], true
	}
	if p.deadSince.IsZero() {
		p.deadSince = time.Now()
	} else if time.Since(p.deadSince) > 500*time.Millisecond {
		if pid, err := strconv.Atoi(f[3]); err == nil && pid > 1 {
			p.t.Logf("tmux has not reaped ehlo %v after its terminal closed: SIGCHLD to the tmux server (pid %d)", time.Since(p.deadSince).Round(time.Millisecond), pid)
			syscall.Kill(pid, syscall.SIGCHLD)
			p.deadSince = time.Now()
		}
	}
	return "", false
}

// waitUntil polls the screen until ok says yes, and returns that screen.
func (p *tmuxPane) waitUntil(what string, ok func(screen string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(e2eWait)
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		p.lastScr = p.capture()
		if ok(p.lastScr) {
			return p.lastScr
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%v without %s; the screen:\n%s", e2eWait, what, p.lastScr)
		}
		time.Sleep(delay)
	}
}

// waitFor waits until the screen shows every one of wants.
func (p *tmuxPane) waitFor(what string, wants ...string) string {
	p.t.Helper()
	return p.waitUntil(what+" "+fmt.Sprintf("%q", wants), func(scr string) bool {
		for _, w := range wants {
			if !strings.Contains(scr, w) {
				return false
			}
		}
		return true
	})
}

// waitGone waits until the screen no longer shows gone.
func (p *tmuxPane) waitGone(what, gone string) {
	p.t.Helper()
	p.waitUntil(what+fmt.Sprintf(" (%q gone)", gone), func(scr string) bool { return !strings.Contains(scr, gone) })
}

// noneOf fails if the screen shows any of bad.
func (p *tmuxPane) noneOf(scr string, bad ...string) {
	p.t.Helper()
	for _, b := range bad {
		if strings.Contains(scr, b) {
			p.t.Fatalf("the screen shows %q:\n%s", b, scr)
		}
	}
}

// waitExit waits until the command has exited, and checks its status.
func (p *tmuxPane) waitExit(status int) {
	p.t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		got, ok := p.exited()
		if ok {
			if got != strconv.Itoa(status) {
				p.t.Fatalf("ehlo exited with status %s, want %d; the screen:\n%s", got, status, p.capture())
			}
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("ehlo still running %v later; the screen:\n%s", e2eWait, p.capture())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package tui_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Flow W (issue 16): `ehlo sandbox --workshop` on a terminal is the
// instructor's view. Two students connect (this test's own clients):
// both appear; Enter follows student01's wire log live; f and Enter put
// the first fault, 421, on student01, whose next command gets it while
// student02's does not; the session student02 ends is saved, and `ehlo
// replay --print` of the file shows it.
func testE2EWorkshop(t *testing.T, tmuxPath, bin string) {
	dir := t.TempDir()
	p := startPane(t, tmuxPath, 120, 40, []string{"env", "-u", "NO_COLOR", bin, "sandbox", "--workshop",
		"--listen", "127.0.0.1:0", "--tls-listen", "-", "--allow-insecure-auth",
		"--user", "student01:pw-one", "--user", "student02:pw-two", "--save-dir", dir})
	scr := p.waitFor("the instructor's view", "ehlo workshop", "no student has connected yet")
	m := regexp.MustCompile(`ehlo workshop │ 127\.0\.0\.1:(\d+)`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no address in the status bar:\n%s", scr)
	}
	port, _ := strconv.Atoi(m[1])
	student := func(user, pw string) *protocol.Client {
		c, _, err := protocol.Dial(protocol.SMTP, "127.0.0.1", port, protocol.Options{Timeout: 10 * time.Second, LocalHostname: user + ".laptop", AllowCleartextAuth: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Login(user, pw, true); err != nil {
			t.Fatal(err)
		}
		return c
	}
	one := student("student01", "pw-one")
	two := student("student02", "pw-two")
	p.waitFor("both students", "student01", "student02", "2 live, 0 closed")

	p.keys("Enter")
	p.waitFor("student01's wire log", "Session 1 · student01 · read-only", "following", " -> ehlo student01.laptop")
	if _, err := one.Noop(); err != nil {
		t.Fatal(err)
	}
	p.waitFor("a line followed live", " -> noop")

	p.keys("f")
	p.waitFor("the fault picker", "Fault for student01", "refuse-rcpt")
	p.keys("Enter")
	p.waitFor("the fault on", "fault 421 on for student01")
	if r, _ := one.Noop(); r.Code != 421 {
		t.Errorf("student01 got %v, want the 421 fault", r)
	}
	if r, err := two.Noop(); err != nil || r.Code != 250 {
		t.Errorf("student02 got %v %v, want 250", r, err)
	}
	p.keys("Escape")
	two.Quit()
	p.waitFor("the saved sessions", "2 session(s) saved in")

	p.keys("q")
	p.waitFor("quitting asks first", "press q again")
	p.keys("q")
	p.waitExit(0)
	files, _ := filepath.Glob(filepath.Join(dir, "*-student02.jsonl"))
	if len(files) != 1 {
		t.Fatalf("recordings of student02: %v", files)
	}
	out, err := exec.Command(bin, "replay", "--print", files[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("replay --print: %v\n%s", err, out)
	}
	for _, want := range []string{" -> ehlo student02.laptop", " -> noop", " -> quit", "<-  221"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the replay lacks %q:\n%s", want, out)
		}
	}
}

// Flow W2 (issue 16): a student's TUI on a workshop sandbox. student01
// (this test's client) sends to student02 and to the teacher; student02,
// in the real TUI with --ca, upgrades to TLS, logs in and types /mailbox:
// the message appears with its envelope, read over XMAILBOX (its lines in
// the wire log), and nothing of the mail between others.
func testE2EWorkshopStudent(t *testing.T, tmuxPath, bin string) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "room-ca.pem")
	server := startPane(t, tmuxPath, 120, 40, []string{bin, "sandbox", "--workshop", "--headless",
		"--listen", "127.0.0.1:0", "--tls-listen", "-", "--write-ca", ca, "--allow-insecure-auth",
		"--user", "student01:pw-one", "--user", "student02:pw-two", "--save-dir", filepath.Join(dir, "saved")})
	scr := server.waitFor("the sandbox's banner", "stop with Ctrl+C")
	m := regexp.MustCompile(`listen: 127\.0\.0\.1:(\d+)`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no address in the banner:\n%s", scr)
	}
	port, _ := strconv.Atoi(m[1])
	c, _, err := protocol.Dial(protocol.SMTP, "127.0.0.1", port, protocol.Options{Timeout: 10 * time.Second, LocalHostname: "one.laptop", AllowCleartextAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login("student01", "pw-one", true); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"student02@room.test", "teacher@room.test"} {
		msg := "Subject: for " + to + "\r\n\r\nhello\r\n"
		if _, err := c.Sendmail("student01@room.test", []string{to}, strings.NewReader(msg), nil, nil); err != nil {
			t.Fatal(err)
		}
	}

	p := startPane(t, tmuxPath, 120, 40, []string{"env", "-u", "NO_COLOR", bin, "--ca", ca, "127.0.0.1:" + m[1]})
	p.waitFor("the greeting", "<-  220 ")
	p.typeLine("/mailbox")
	p.waitFor("no mailbox before AUTH", "ehlo sandbox --workshop")
	for _, line := range []string{"EHLO two.laptop", "STARTTLS", "EHLO two.laptop", "/login student02 pw-two"} {
		p.typeLine(line)
	}
	p.waitFor("logged in", "Authentication successful")
	p.typeLine("/mailbox")
	scr = p.waitFor("student02's mailbox", "Mailbox (1)", "AUTH as student01", "RCPT TO:<student02@room.test> → 250", "Subject: for student02@room.test")
	p.noneOf(scr, "teacher@room.test")
	p.keys("Escape")
	p.waitFor("the XMAILBOX lines in the wire log", "~> XMAILBOX LIST", "~> XMAILBOX FETCH")
	// The sandbox saves a session as it ends: both stopped here, so that
	// none is written into dir while its cleanup removes it.
	p.typeLine("/quit")
	p.waitExit(0)
	server.keys("C-c")
	server.waitUntil("the sandbox stopped", func(string) bool { _, ok := server.exited(); return ok })
}

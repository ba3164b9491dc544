package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/tui"
)

var roomUsers = map[string]string{"student01": "pw-one", "student02": "pw-two"}

func workshopSandbox(t *testing.T, onEnd func(sandbox.SessionInfo, []sandbox.WireLine)) *sandbox.Server {
	t.Helper()
	srv, err := sandbox.New(sandbox.Config{Workshop: true, Users: roomUsers, TLSListen: "-", AllowInsecureAuth: true, OnSessionEnd: onEnd})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	return srv
}

// student connects, greets and authenticates (in clear text: a loopback
// test of the room, not of TLS).
func studentClient(t *testing.T, srv *sandbox.Server, user string) *protocol.Client {
	t.Helper()
	host, port := splitHostPort(t, srv.Addr())
	c, _, err := protocol.Dial(protocol.SMTP, host, port, protocol.Options{Timeout: 5 * time.Second, LocalHostname: "laptop.test", AllowCleartextAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Login(user, roomUsers[user], true); err != nil {
		t.Fatal(err)
	}
	return c
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int
	for _, c := range addr[i+1:] {
		port = port*10 + int(c-'0')
	}
	return addr[:i], port
}

func key(in *tui.Instructor, keys ...string) {
	for _, k := range keys {
		switch k {
		case "enter":
			in.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
		case "down":
			in.Update(tea.KeyPressMsg{Code: tea.KeyDown})
		case "esc":
			in.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
		default:
			in.Update(tea.KeyPressMsg{Code: rune(k[0]), Text: k})
		}
	}
}

// The instructor's view on a real workshop sandbox: a fault chosen for
// one student (f, then the first of FaultNames, 421) reaches that
// student's session and not the other's; c switches it off again.
func TestWorkshopFaultReachesOneStudent(t *testing.T) {
	srv := workshopSandbox(t, nil)
	one := studentClient(t, srv, "student01")
	two := studentClient(t, srv, "student02")
	in, err := tui.NewInstructor(tui.InstructorConfig{Room: serverRoom{srv}, Theme: "mono", Title: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	in.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	view := ansi.Strip(in.View().Content)
	if !strings.Contains(view, "student01") || !strings.Contains(view, "student02") {
		t.Fatalf("the two students are not listed:\n%s", view)
	}
	if sandbox.FaultNames()[0] != "421" {
		t.Fatalf("FaultNames()[0] = %q; the test picks the first", sandbox.FaultNames()[0])
	}
	key(in, "f", "enter") // the first row is student01's session, the first fault 421
	if r, err := one.Noop(); r.Code != 421 {
		t.Errorf("student01's NOOP got %d %q (%v), want the 421 fault", r.Code, r.Message, err)
	}
	if r, err := two.Noop(); err != nil || r.Code != 250 {
		t.Errorf("student02's NOOP: %v %v, want 250: the fault is student01's only", r, err)
	}
	key(in, "c")
	again := studentClient(t, srv, "student01")
	if r, err := again.Noop(); err != nil || r.Code != 250 {
		t.Errorf("after c, student01's NOOP: %v %v", r, err)
	}
}

// Every session that ends is saved as a recording that `ehlo replay
// --print` shows, with the AUTH secret hidden.
func TestWorkshopSavedSessionReplays(t *testing.T) {
	dir := t.TempDir()
	saver := &sessionSaver{dir: dir}
	srv := workshopSandbox(t, saver.save)
	c := studentClient(t, srv, "student02")
	if _, err := c.Sendmail("student02@example.test", []string{"student01@example.test"}, strings.NewReader("Subject: saved\r\n\r\nhello\r\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	file := savedOne(t, saver, dir, "*-student02.jsonl")
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the recording's mode: %v %v", fi, err)
	}
	// The address the student reached, from the session itself: the
	// headless room (sandbox.Run) has no other way to know it.
	if rec, err := recordings.ReadFile(file); err != nil {
		t.Fatal(err)
	} else if rec.Header.Server != srv.Addr() || rec.Header.Network != "tcp" {
		t.Errorf("the recording's server: %q over %q, want %q over tcp", rec.Header.Server, rec.Header.Network, srv.Addr())
	}
	var o, e bytes.Buffer
	app := &appContext{ctx: context.Background(), stdout: &o, stderr: &e, stdin: strings.NewReader("")}
	if code := runWith(app, []string{"replay", "--print", file}); code != 0 {
		t.Fatalf("replay --print: exit %d: %s", code, e.String())
	}
	out := o.String()
	for _, want := range []string{" -> ehlo laptop.test", " -> mail FROM:<student02@example.test>", " -> rcpt TO:<student01@example.test>", "<-  250 2.0.0 Ok: queued", " -> quit", "workshop session 1 of student02"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay --print lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, roomUsers["student02"]) || strings.Contains(out, "cHctdHdv") {
		t.Errorf("the password is in the recording:\n%s", out)
	}
	if !strings.Contains(saver.status(), "1 session(s) saved in "+dir) {
		t.Errorf("status %q", saver.status())
	}
}

// A session over the Unix socket is saved as one: its path is the
// recording's server, over unix.
func TestWorkshopSavedSessionOverUnixSocket(t *testing.T) {
	dir := t.TempDir()
	saver := &sessionSaver{dir: dir}
	sock := filepath.Join(t.TempDir(), "room.sock")
	srv, err := sandbox.New(sandbox.Config{Workshop: true, Users: roomUsers, TLSListen: "-", Socket: sock, OnSessionEnd: saver.save})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	for _, cmd := range []string{"", "QUIT\r\n"} {
		if cmd != "" {
			if _, err := nc.Write([]byte(cmd)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := recordings.ReadFile(savedOne(t, saver, dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Header.Server != sock || rec.Header.Network != "unix" {
		t.Errorf("the recording's server: %q over %q, want %q over unix", rec.Header.Server, rec.Header.Network, sock)
	}
}

// A saved session marks the lines that crossed inside TLS, as a recording
// of ehlo's own does: replay --print shows them with swaks's ~> and <~.
func TestWorkshopSavedSessionMarksTLS(t *testing.T) {
	dir := t.TempDir()
	saver := &sessionSaver{dir: dir}
	srv := workshopSandbox(t, saver.save)
	host, port := splitHostPort(t, srv.Addr())
	c, _, err := protocol.Dial(protocol.SMTP, host, port, protocol.Options{Timeout: 5 * time.Second, LocalHostname: "laptop.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(srv.CertPEM())
	if _, err := c.Ehlo(""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartTLS(&tls.Config{RootCAs: roots, ServerName: "localhost"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ehlo(""); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	file := savedOne(t, saver, dir, "*-anonymous.jsonl")
	var o, e bytes.Buffer
	app := &appContext{ctx: context.Background(), stdout: &o, stderr: &e, stdin: strings.NewReader("")}
	if code := runWith(app, []string{"replay", "--print", file}); code != 0 {
		t.Fatalf("replay --print: exit %d: %s", code, e.String())
	}
	out := o.String()
	for _, want := range []string{" -> starttls", "<-  220 2.0.0", " ~> ehlo laptop.test", "<~  250-sandbox.ehlo.test", " ~> quit", "<~  221 "} {
		if !strings.Contains(strings.ToLower(out), strings.ToLower(want)) {
			t.Errorf("replay --print lacks %q:\n%s", want, out)
		}
	}
}

// savedOne waits (10 s at most) for saver to have saved one session, and
// returns the one file in dir that matches pattern.
func savedOne(t *testing.T, saver *sessionSaver, dir, pattern string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasPrefix(saver.status(), "1 ") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(files) != 1 {
		t.Fatalf("saved: %v (%s)", files, saver.status())
	}
	return files[0]
}

// A user name cannot steer where a recording is written.
func TestWorkshopFileSafe(t *testing.T) {
	for in, want := range map[string]string{"student01": "student01", "../../etc/passwd": "etcpasswd", ".hidden": "hidden", "a b\x1b": "ab"} {
		if got := fileSafe(in); got != want {
			t.Errorf("fileSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// --headless and --save-dir belong to a workshop.
func TestWorkshopFlagsNeedWorkshop(t *testing.T) {
	for _, args := range [][]string{{"sandbox", "--headless"}, {"sandbox", "--save-dir", t.TempDir()}} {
		var o, e bytes.Buffer
		app := &appContext{ctx: context.Background(), stdout: &o, stderr: &e, stdin: strings.NewReader("")}
		if code := runWith(app, args); code == 0 || !strings.Contains(e.String(), "need --workshop") {
			t.Errorf("%q: exit %d, stderr %q", args, code, e.String())
		}
	}
}

// Headless (standard output is not a terminal here) keeps the session
// log and says where the sessions are saved.
func TestWorkshopHeadlessSaves(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "room")
	var e bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	w := &syncBuffer{}
	app := &appContext{ctx: ctx, stdout: w, stderr: &e, stdin: strings.NewReader("")}
	go func() {
		done <- runWith(app, []string{"sandbox", "--workshop", "--user", "student01:pw-one", "--tls-listen", "-", "--allow-insecure-auth", "--save-dir", dir})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.String(), "stop with Ctrl+C") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	if out := w.String(); !strings.Contains(out, "recordings: every session is saved in "+dir+"/") || !strings.Contains(out, "ehlo sandbox ready") {
		t.Errorf("stdout:\n%s", out)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the save directory: %v %v", fi, err)
	}
}

// The embedded sandbox's /mailbox shows every RCPT with its reply, the
// refused one too (issue 14 item 8), now that the sandbox keeps them.
func TestEmbeddedMailboxKeepsRefusedRecipients(t *testing.T) {
	f, err := sandbox.ParseFault("refuse-rcpt=nobody@example.test")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sandbox.New(sandbox.Config{TLSListen: "-", Faults: []sandbox.Fault{f}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	host, port := splitHostPort(t, srv.Addr())
	c, _, err := protocol.Dial(protocol.SMTP, host, port, protocol.Options{Timeout: 5 * time.Second, LocalHostname: "laptop.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Sendmail("a@example.test", []string{"bob@example.test", "nobody@example.test"}, strings.NewReader("Subject: x\r\n\r\nx\r\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Mailbox().Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	it := mailItem(msgs[0])
	if len(it.Rcpts) != 2 || it.Rcpts[0].Code != 250 || it.Rcpts[1].Addr != "nobody@example.test" || it.Rcpts[1].Code < 500 {
		t.Errorf("rcpts %+v", it.Rcpts)
	}
}

// The instructor's view takes the theme the config file keeps; a file it
// cannot read gives the default rather than stopping the room.
func TestWorkshopConfigTheme(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	if err := os.MkdirAll(filepath.Join(dir, "ehlo"), 0o700); err != nil {
		t.Fatal(err)
	}
	for content, want := range map[string]string{"theme = \"light\"\n": "light", "theme = \"bogus\"\n": "", "not toml\n": ""} {
		if err := os.WriteFile(filepath.Join(dir, "ehlo", "config.toml"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := configTheme(); got != want {
			t.Errorf("%q: theme %q, want %q", content, got, want)
		}
	}
}

package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/lesson"
)

// A scripted student: session.Live driven as the TUI drives it (typed lines
// through Input, / commands through their methods), against the sandbox
// `ehlo lesson` starts for the lesson (lessonSandbox), with a
// lesson.Checker on the session's Capture as the TUI's pane has.
type student struct {
	t    *testing.T
	live *session.Live
	srv  *sandbox.Server

	mu      sync.Mutex
	check   *lesson.Checker
	replies int // final reply lines, closes and errors: what a command waits for
}

func newStudent(t *testing.T, name string) *student {
	t.Helper()
	l, err := lesson.Find(name)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := lessonSandbox(l)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log = &bytes.Buffer{}
	srv, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CertPEM())
	kind := protocol.SMTP
	if l.LMTP {
		kind = protocol.LMTP
	}
	s := &student{t: t, srv: srv, check: lesson.NewChecker(l)}
	s.live = session.NewLive(session.LiveConfig{Server: srv.Addr(), Kind: kind, Options: protocol.Options{
		LocalHostname: "student.example", Timeout: 5 * time.Second, TLSConfig: &tls.Config{RootCAs: pool},
	}})
	t.Cleanup(func() { s.live.Close() })
	s.live.Capture().Add(session.SinkFunc(s.event))
	s.do(s.live.Connect)
	return s
}

func (s *student) event(e session.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.check.Event(e)
	switch {
	case e.Kind == session.KindServer:
		for _, line := range bytes.SplitAfter(e.Data, []byte("\n")) {
			if len(line) >= 3 && (len(line) < 4 || line[3] != '-') {
				s.replies++
			}
		}
	case e.Kind == session.KindClose, e.Kind == session.KindNote && strings.HasPrefix(e.Text, "error:"):
		s.replies++
	}
}

// do runs f and waits for one more reply (or a close, or an error).
func (s *student) do(f func()) {
	s.t.Helper()
	s.mu.Lock()
	n := s.replies
	s.mu.Unlock()
	f()
	s.waitFor("a reply", func() bool { return s.replies > n })
}

// typ sends typed lines, each waiting for its reply; in DATA, lines before
// the dot get none and are only queued.
func (s *student) typ(lines ...string) {
	s.t.Helper()
	for _, l := range lines {
		if s.live.Snapshot().Mode == session.ModeData && l != "." {
			s.live.Input(l)
			continue
		}
		s.do(func() { s.live.Input(l) })
	}
}

func (s *student) waitFor(what string, ok func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		done := ok()
		s.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s; progress %+v", what, s.progress())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (s *student) progress() lesson.Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.check.Progress()
}

// at waits for the student to be at step i (0-based) with no mistake
// shown: a reply may come before the state it changes (the TLS handshake
// follows the 220 to STARTTLS).
func (s *student) at(i int) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("step %d", i+1), func() bool { p := s.check.Progress(); return p.Step == i && !p.Wrong })
}

// wrong waits for the current step to show the anticipated mistake's hint
// containing want.
func (s *student) wrong(want string) {
	s.t.Helper()
	s.waitFor("the hint saying "+want, func() bool { p := s.check.Progress(); return p.Wrong && strings.Contains(p.Hint, want) })
}

func (s *student) done() {
	s.t.Helper()
	s.waitFor("the lesson done", func() bool { return s.check.Progress().Done })
}

// nextHint is F3.
func (s *student) nextHint() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.check.NextHint()
}

const (
	mailFrom = "MAIL FROM:<student@example.test>"
	rcptOK   = "RCPT TO:<alice@sandbox.ehlo.test>"
)

// Each shipped lesson, done right by a scripted student, step by step.
var rightWay = map[string]func(s *student){
	"greet": func(s *student) {
		s.at(1) // the greeting came with the connection
		s.typ("EHLO student.example")
		s.at(3) // EHLO listed SIZE and STARTTLS: that step is done too
		s.typ("HELP")
	},
	"starttls": func(s *student) {
		s.typ("EHLO student.example")
		s.at(1)
		s.typ("STARTTLS")
		s.at(2)
		s.typ("EHLO student.example")
	},
	"auth": func(s *student) {
		s.typ("EHLO student.example", "STARTTLS")
		s.at(1)
		s.typ("EHLO student.example")
		s.at(2)
		s.do(func() { s.live.Login("alice", "alicepw") })
		s.waitFor("AUTH", func() bool { return s.check.Progress().Step == 3 })
		s.typ("MAIL FROM:<alice@sandbox.ehlo.test>")
	},
	"recipients": func(s *student) {
		s.typ("EHLO student.example", mailFrom, rcptOK)
		s.at(2)
		s.typ("RCPT TO:<nobody@sandbox.ehlo.test>")
		s.at(3)
		s.typ("DATA", "Subject: hello", "", "hi", ".")
	},
	"recover-421": func(s *student) {
		s.typ("EHLO student.example")
		s.do(s.live.Noop)
		s.at(2)
		s.do(s.live.Connect)
		s.at(3)
		s.typ("EHLO student.example", mailFrom, rcptOK, "DATA", "hi", ".")
	},
	"end-of-data": func(s *student) {
		s.typ("EHLO student.example", mailFrom, rcptOK, "DATA")
		s.at(2)
		s.typ(".signature", "text", ".")
		s.waitFor("the mailbox", func() bool { return s.srv.Mailbox().Len() == 1 })
		if got := string(s.srv.Mailbox().Messages()[0].Data); !strings.HasPrefix(got, ".signature\r\n") {
			s.t.Errorf("stored %q; want the dot unstuffed", got)
		}
	},
	"lmtp": func(s *student) {
		s.typ("LHLO student.example", mailFrom, rcptOK, "RCPT TO:<full@sandbox.ehlo.test>")
		s.at(2)
		s.typ("DATA", "hi", ".")
		// Two replies to the dot, one per recipient.
		s.waitFor("both LMTP replies", func() bool { return s.check.Progress().Done })
	},
	"vrfy": func(s *student) {
		s.typ("EHLO student.example")
		s.do(func() { s.live.Verify("alice") })
		s.at(2)
		s.typ("VRFY mallory")
		s.at(3)
		s.typ("EXPN staff")
	},
	"size": func(s *student) {
		s.typ("EHLO student.example")
		s.at(1)
		s.typ(mailFrom + " SIZE=99999999")
		s.at(2)
		s.typ(mailFrom + " SIZE=1000")
	},
}

// Each shipped lesson, done wrong in a way it anticipates: the step's
// hint for that mistake shows, and the right move still finishes the step.
var wrongWay = map[string]func(s *student){
	"greet": func(s *student) {
		s.typ(mailFrom)
		s.wrong("bad sequence")
		s.typ("EHLO")
		s.wrong("needs an argument")
	},
	"starttls": func(s *student) {
		s.typ("EHLO student.example", "STARTTLS", mailFrom)
		s.wrong("RFC 3207")
		s.typ("EHLO student.example")
		s.done()
	},
	"auth": func(s *student) {
		s.typ("EHLO student.example", "AUTH PLAIN AGFsaWNlAGFsaWNlcHc=")
		s.wrong("never goes over a connection in clear text")
		s.typ("STARTTLS", "EHLO student.example", "AUTH PLAIN AGFsaWNlAHdyb25n")
		s.wrong("535")
	},
	"recipients": func(s *student) {
		s.typ("EHLO student.example", mailFrom, "RCPT TO:<nobody@sandbox.ehlo.test>", "DATA")
		s.wrong("no valid recipients")
	},
	"recover-421": func(s *student) {
		s.typ("EHLO student.example")
		s.do(s.live.Noop)
		s.typ("RSET")
		s.wrong("not even QUIT or RSET")
		s.do(s.live.Connect)
		s.typ(mailFrom)
		s.wrong("greet it with EHLO")
	},
	"end-of-data": func(s *student) {
		s.typ("EHLO student.example", mailFrom, rcptOK, "DATA", `hello\n.\nQUIT`, ".")
		s.wrong("backslash")
		s.nextHint() // F3: the step's own hint again
		s.at(2)
		s.typ(mailFrom, rcptOK, "DATA", "plain text", ".")
		s.wrong("no line of it started with a dot")
	},
	"lmtp": func(s *student) {
		s.typ("EHLO student.example")
		s.wrong("only LHLO")
	},
	"vrfy": func(s *student) {
		s.typ("EHLO student.example", "VRFY mallory")
		s.wrong("alice or bob")
		s.typ("VRFY bob")
		s.at(2)
	},
	"size": func(s *student) {
		s.typ("EHLO student.example", mailFrom+" SIZE=1000")
		s.wrong("within the limit")
	},
}

func TestLessonsDoneRight(t *testing.T) {
	all, err := lesson.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		t.Run(l.Name, func(t *testing.T) {
			script, ok := rightWay[l.Name]
			if !ok {
				t.Fatalf("lesson %s ships without a scripted student", l.Name)
			}
			s := newStudent(t, l.Name)
			script(s)
			s.done()
		})
	}
}

func TestLessonsDoneWrong(t *testing.T) {
	all, err := lesson.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		t.Run(l.Name, func(t *testing.T) {
			script, ok := wrongWay[l.Name]
			if !ok {
				t.Fatalf("lesson %s ships without a test of a mistake", l.Name)
			}
			script(newStudent(t, l.Name))
		})
	}
}

func TestLessonList(t *testing.T) {
	var out, errb bytes.Buffer
	code := runWith(&appContext{ctx: t.Context(), stdout: &out, stderr: &errb}, []string{"lesson"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{" 1  greet", "recover-421", "(sandbox: 421:noop)", "(sandbox: LMTP)", "ehlo lesson FILE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("ehlo lesson printed\n%s\nwant %q in it", out.String(), want)
		}
	}
}

// A lesson file that is wrong is refused before anything starts, naming
// the file and the line; so is one whose fault the sandbox does not know.
func TestLessonBadFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.md")
	os.WriteFile(bad, []byte("# T\ntask\n## S\ncheck: reply MAIL 2x\nhint: h\n"), 0o600)
	fault := filepath.Join(dir, "fault.md")
	os.WriteFile(fault, []byte("# T\ntask\nfault: teleport\n## S\ncheck: greeted\nhint: h\n"), 0o600)
	for file, want := range map[string]string{bad: "bad.md:4: check: reply code", fault: "lesson fault: fault: ", "nope": `no such lesson "nope"`} {
		var out, errb bytes.Buffer
		code := runWith(&appContext{ctx: t.Context(), stdout: &out, stderr: &errb}, []string{"lesson", file})
		if code != 1 || !strings.Contains(errb.String(), want) {
			t.Errorf("ehlo lesson %s: exit %d, stderr %q; want 1 and %q", file, code, errb.String(), want)
		}
	}
}

// Every anticipated mistake of every shipped lesson can be made: a
// scripted student reaches the step and makes it, and the step shows that
// mistake's hint. A wrong: line ehlo makes impossible (a command it never
// sends) fails here, and so does one added without a script.
var everyMistake = []struct {
	lesson      string
	step, wrong int
	do          []string // typed lines; /connect, /noop, /login U P as the TUI runs them
}{
	{"greet", 1, 0, []string{"EHLO"}},
	{"greet", 1, 1, []string{"RCPT TO:<a@b.example>"}},
	{"greet", 1, 2, []string{"HELO student.example"}},
	{"starttls", 1, 0, []string{"EHLO x.example", "/connect", "STARTTLS"}}, // a new connection, not greeted
	{"starttls", 1, 1, []string{"EHLO x.example", "STARTTLS now"}},
	{"starttls", 2, 0, []string{"EHLO x.example", "STARTTLS", "AUTH PLAIN AGFsaWNlAGFsaWNlcHc="}},
	{"auth", 0, 0, []string{"EHLO x.example", "AUTH PLAIN AGFsaWNlAGFsaWNlcHc="}},
	{"auth", 0, 1, []string{"/login alice alicepw"}},
	{"auth", 2, 0, []string{"EHLO x.example", "STARTTLS", "EHLO x.example", "/login alice wrong"}},
	{"auth", 2, 1, []string{"EHLO x.example", "STARTTLS", "EHLO x.example", "AUTH FOO"}},
	{"auth", 2, 2, []string{"EHLO x.example", "STARTTLS", "EHLO x.example", "/connect", "EHLO x.example", "AUTH PLAIN AGFsaWNlAGFsaWNlcHc="}},
	{"auth", 2, 3, []string{"EHLO x.example", "STARTTLS", "EHLO x.example", "AUTH PLAIN", "*"}},
	{"recipients", 0, 0, []string{mailFrom}},
	{"recipients", 1, 0, []string{"EHLO x.example", "MAIL FROM:student@example.test"}},
	{"recipients", 2, 0, []string{"EHLO x.example", mailFrom, "RSET", rcptOK}},
	{"recipients", 2, 1, []string{"EHLO x.example", mailFrom, "RCPT TO:alice@sandbox.ehlo.test"}},
	{"recipients", 2, 2, []string{"EHLO x.example", mailFrom, "RCPT TO:<nobody@sandbox.ehlo.test>", "DATA"}},
	{"recipients", 3, 0, []string{"EHLO x.example", mailFrom, rcptOK, "RCPT TO:<nobody@sandbox.ehlo.test>", "RSET", mailFrom, "RCPT TO:<nobody@sandbox.ehlo.test>", "DATA"}},
	{"recover-421", 2, 0, []string{"EHLO x.example", "/noop", "QUIT"}},
	{"recover-421", 3, 0, []string{"EHLO x.example", "/noop", "/connect", mailFrom}},
	{"recover-421", 3, 1, []string{"EHLO x.example", "/noop", "/connect", "EHLO x.example", "/noop"}},
	{"end-of-data", 1, 0, []string{"EHLO x.example", "DATA"}},
	{"end-of-data", 2, 0, []string{"EHLO x.example", mailFrom, rcptOK, "DATA", `a\n.\nb`, "."}},
	{"end-of-data", 2, 1, []string{"EHLO x.example", mailFrom, rcptOK, "DATA", "text", "."}},
	{"lmtp", 0, 0, []string{"HELO x.example"}},
	{"lmtp", 1, 0, []string{"LHLO x.example", rcptOK}},
	{"lmtp", 2, 0, []string{"LHLO x.example", mailFrom, rcptOK, "RCPT TO:<bob@sandbox.ehlo.test>", "RSET", mailFrom, rcptOK, "DATA", "hi", "."}},
	{"vrfy", 1, 0, []string{"EHLO x.example", "VRFY nobody"}},
	{"vrfy", 1, 1, []string{"EHLO x.example", "VRFY"}},
	{"vrfy", 3, 0, []string{"EHLO x.example", "VRFY alice", "VRFY mallory", "VRFY bob"}},
	{"size", 1, 0, []string{"EHLO x.example", mailFrom, mailFrom + " SIZE=99999999"}},
	{"size", 1, 1, []string{"EHLO x.example", mailFrom}},
	{"size", 1, 2, []string{"EHLO x.example", mailFrom + " SIZE=lots"}},
}

func TestLessonsEveryMistake(t *testing.T) {
	all, err := lesson.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	scripted := map[[3]any]bool{}
	for _, m := range everyMistake {
		scripted[[3]any{m.lesson, m.step, m.wrong}] = true
	}
	for _, l := range all {
		for i, st := range l.Steps {
			for j, w := range st.Wrong {
				if !scripted[[3]any{l.Name, i, j}] {
					t.Errorf("%s, step %d (%s): no script makes the mistake %q", l.Name, i+1, st.Title, w.Check)
				}
			}
		}
	}
	for _, m := range everyMistake {
		t.Run(fmt.Sprintf("%s/%d/%d", m.lesson, m.step+1, m.wrong+1), func(t *testing.T) {
			s := newStudent(t, m.lesson)
			l := s.check.Lesson()
			want := l.Steps[m.step].Wrong[m.wrong].Hint
			for _, line := range m.do {
				s.act(line)
			}
			s.waitFor(fmt.Sprintf("step %d's hint %q", m.step+1, want), func() bool {
				p := s.check.Progress()
				return p.Step == m.step && p.Wrong && p.Hint == want
			})
		})
	}
}

// act is one thing the student does: a typed line, or a / command as the
// TUI runs it.
func (s *student) act(line string) {
	s.t.Helper()
	f := strings.Fields(line)
	switch {
	case line == "/connect":
		s.do(s.live.Connect)
	case line == "/noop":
		s.do(s.live.Noop)
	case len(f) == 3 && f[0] == "/login":
		s.do(func() { s.live.Login(f[1], f[2]) })
	default:
		s.typ(line)
	}
}

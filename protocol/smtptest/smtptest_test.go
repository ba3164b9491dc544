package smtptest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol/smtptest"
)

// fakeT records what the server reports, so that a test can check the
// server fails a script when it must.
type fakeT struct {
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}
func (f *fakeT) Fatalf(format string, args ...any) { f.Errorf(format, args...) }
func (f *fakeT) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }

// end runs the cleanups, last first, as testing does, and returns the
// failures reported.
func (f *fakeT) end() []string {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errs
}

func dial(t *testing.T, s *smtptest.Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c)
}

func TestScriptPlayedAndRecorded(t *testing.T) {
	ft := &fakeT{}
	s := smtptest.NewServer(ft, []smtptest.Step{
		smtptest.S("220 test ESMTP"),
		smtptest.C("EHLO c.example"), smtptest.S("250-test", "250 8BITMIME"),
		smtptest.C("QUIT"), smtptest.S("221 bye"),
	})
	c, br := dial(t, s)
	var got []string
	read := func() {
		for {
			l, err := br.ReadString('\n')
			got = append(got, l)
			if err != nil || len(l) < 4 || l[3] != '-' {
				return
			}
		}
	}
	read()
	io.WriteString(c, "EHLO c.example\r\n")
	read()
	io.WriteString(c, "QUIT\r\n")
	read()
	c.Close()
	sc := s.Wait(0)
	if errs := ft.end(); len(errs) > 0 {
		t.Fatalf("failures: %q", errs)
	}
	if want := "220 test ESMTP\r\n250-test\r\n250 8BITMIME\r\n221 bye\r\n"; strings.Join(got, "") != want {
		t.Errorf("client read %q, want %q", strings.Join(got, ""), want)
	}
	if sc.All() != "EHLO c.example\r\nQUIT\r\n" || sc.Plain() != sc.All() || sc.InTLS() != "" {
		t.Errorf("recorded %q", sc.All())
	}
}

// A wrong line fails the script at that line, with both sides quoted,
// and the server hangs up instead of answering: the client sees EOF, not
// the reply the script had for the right line.
func TestWrongLineFailsAtOnce(t *testing.T) {
	ft := &fakeT{}
	s := smtptest.NewServer(ft, []smtptest.Step{
		smtptest.S("220 test"),
		smtptest.C("EHLO c.example"), smtptest.S("250 test"),
		smtptest.C("QUIT"), smtptest.S("221 bye"),
	})
	c, br := dial(t, s)
	br.ReadString('\n')
	io.WriteString(c, "HELO c.example\r\n")
	if l, err := br.ReadString('\n'); err != io.EOF {
		t.Errorf("after a wrong line the client read %q, %v; want EOF", l, err)
	}
	c.Close()
	errs := ft.end()
	if len(errs) != 1 || !strings.Contains(errs[0], `step 2 (expect "EHLO c.example\r\n")`) ||
		!strings.Contains(errs[0], `got:  "HELO c.example\r\n"`) {
		t.Errorf("failures %q", errs)
	}
}

func TestBytesAfterTheScriptFail(t *testing.T) {
	ft := &fakeT{}
	s := smtptest.NewServer(ft, []smtptest.Step{smtptest.S("220 test")})
	c, br := dial(t, s)
	br.ReadString('\n')
	io.WriteString(c, "NOOP\r\n")
	c.Close()
	s.Wait(0)
	if errs := ft.end(); len(errs) != 1 || !strings.Contains(errs[0], `client sent "NOOP\r\n" after the end of the script`) {
		t.Errorf("failures %q", errs)
	}
}

func TestUnscriptedConnectionFails(t *testing.T) {
	ft := &fakeT{}
	s := smtptest.NewServer(ft, []smtptest.Step{smtptest.Close()})
	for i := 0; i < 2; i++ {
		c, br := dial(t, s)
		if _, err := br.ReadString('\n'); err != io.EOF {
			t.Errorf("connection %d: %v, want EOF", i+1, err)
		}
		c.Close()
	}
	s.Wait(1)
	if errs := ft.end(); len(errs) != 1 || !strings.Contains(errs[0], "unexpected connection #2") {
		t.Errorf("failures %q", errs)
	}
}

func TestStepStringSafe(t *testing.T) {
	if got := (smtptest.Step{}).String(); got == "" {
		t.Error("zero Step has no description")
	}
	if got := smtptest.C("NOOP").String(); got != `expect "NOOP\r\n"` {
		t.Errorf("C(NOOP) = %s", got)
	}
}

func TestCMatch(t *testing.T) {
	for _, c := range []struct {
		send string
		ok   bool
	}{
		{"EHLO host-42.example\r\n", true},
		{"EHLO \r\n", false},
		{"EHLO host\n", false}, // CRLF is still required
		{"HELO host\r\n", false},
	} {
		ft := &fakeT{}
		s := smtptest.NewServer(ft, []smtptest.Step{smtptest.CMatch(regexp.MustCompile(`^EHLO \S+$`)), smtptest.S("250 ok")})
		conn, br := dial(t, s)
		io.WriteString(conn, c.send)
		br.ReadString('\n')
		conn.Close()
		s.Wait(0)
		if errs := ft.end(); (len(errs) == 0) != c.ok {
			t.Errorf("%q: failures %q", c.send, errs)
		}
	}
}

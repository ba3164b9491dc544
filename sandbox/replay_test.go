package sandbox

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script builds a one-connection Script from "S: …" greeting lines and
// "C: VERB" / "C: <body>" / "C: <auth>" steps, each followed by its
// "S: …" reply lines.
func script(implicitTLS bool, lines ...string) *Script {
	var s Script
	s.Connection(nil, implicitTLS)
	conn := &s.Conns[0]
	for i, l := range lines {
		text := l[3:]
		if strings.HasPrefix(l, "S: ") {
			if len(conn.Steps) == 0 {
				conn.Greeting = append(conn.Greeting, text+"\r\n"...)
				continue
			}
			st := &conn.Steps[len(conn.Steps)-1]
			st.Reply = append(st.Reply, text+"\r\n"...)
			st.Code = text[:3]
			continue
		}
		switch text {
		case "<body>":
			s.Body(i+1, nil, "")
		case "<auth>":
			s.AuthResponse(i+1, nil, "")
		default:
			s.Command(i+1, text, nil, "")
		}
	}
	return &s
}

// startReplay serves sc on a loopback port.
func startReplay(t testing.TB, sc *Script, cfg Config) (*Server, *syncBuffer) {
	t.Helper()
	cfg.TLSListen, cfg.Script = "-", sc
	return start(t, cfg)
}

var dataScript = []string{
	"S: 220 mx.test ESMTP",
	"C: DATA", "S: 354 go ahead",
	"C: <body>", "S: 250 2.0.0 queued",
	"C: NOOP", "S: 250 2.0.0 noop",
	"C: QUIT", "S: 221 2.0.0 bye",
}

// Only CRLF.CRLF ends a replayed DATA, as in the sandbox: a dot line with a
// bare LF on either side is content, and the QUIT after it is message
// text, not a command (issue 11 defect 4, security-anchors E1/E2; the
// fake server used to end DATA on all three and run the QUIT).
func TestReplayDataEndsOnlyOnCRLFDotCRLF(t *testing.T) {
	for _, tc := range []struct {
		end     string
		unstuff int // a dot at a line start (after CRLF) is dot-stuffing
	}{{"\n.\n", 0}, {"\r\n.\n", 1}, {"\n.\r\n", 0}} {
		end := tc.end
		t.Run(fmt.Sprintf("%q", end), func(t *testing.T) {
			srv, logBuf := startReplay(t, script(false, dataScript...), Config{})
			c := connect(t, srv)
			c.cmd("DATA", 354)
			body := "smuggled" + end + "QUIT\r\n"
			c.write(body + ".\r\n")
			c.expectText(250, "2.0.0 queued")
			// Had the dot ended DATA, the QUIT would have run and
			// answered 221 here.
			c.cmdText("NOOP", 250, "2.0.0 noop")
			c.cmdText("QUIT", 221, "2.0.0 bye")
			c.expectClosed()
			if want := fmt.Sprintf("C: <message: %d octets>", len(body)-tc.unstuff); !strings.Contains(logOf(srv, logBuf), want) {
				t.Errorf("log lacks %q:\n%s", want, logOf(srv, logBuf))
			}
			if strings.Contains(logOf(srv, logBuf), "departs") {
				t.Errorf("the client kept to the recording, yet:\n%s", logOf(srv, logBuf))
			}
		})
	}
}

// A replay reads lines with the sandbox's limit: an absurd one gets 500
// and is not taken for the next step.
func TestReplayLineTooLong(t *testing.T) {
	srv, _ := startReplay(t, script(false, dataScript...), Config{})
	c := connect(t, srv)
	c.write(strings.Repeat("x", maxCommandLine+10) + "\r\n")
	c.expectText(500, "Line too long")
	c.cmd("DATA", 354)
}

// Past the connection cap a client gets the sandbox's 421 and the replay
// goes on serving: the ones inside the cap, and new ones once a place is
// free (issue 12 finding 6: 300 clients used to make it exit).
func TestReplayConnectionCap(t *testing.T) {
	const limit = 3
	srv, _ := startReplay(t, script(false, dataScript...), Config{MaxSessions: limit})
	var held []*client
	for range limit {
		held = append(held, connect(t, srv))
	}
	for range 2 * limit {
		c := dial(t, "tcp", srv.Addr())
		c.expectText(421, srv.Hostname()+" Too many connections")
		c.expectClosed()
	}
	held[0].cmd("DATA", 354)
	for _, c := range held {
		c.nc.Close()
	}
	// The sessions end when the server reads their EOF, a moment after
	// the close; until then a new client may still be refused.
	deadline := time.Now().Add(ioTimeout)
	for {
		c := dial(t, "tcp", srv.Addr())
		if r := c.readReply(); r.code == 220 {
			c.cmd("DATA", 354)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no place came free after the held clients left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Out of descriptors, a replay backs off and keeps serving rather than
// exiting with "accept4: too many open files". The server runs in a child
// process whose RLIMIT_NOFILE is far below the number of clients.
func TestReplayOutOfDescriptors(t *testing.T) {
	if os.Getenv("EHLO_REPLAY_FD_CHILD") != "" {
		replayFDChild()
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplayOutOfDescriptors$")
	cmd.Env = append(os.Environ(), "EHLO_REPLAY_FD_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	br := bufio.NewReader(out)
	line, err := br.ReadString('\n')
	go func() { _, _ = br.WriteTo(os.Stderr); exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		t.Fatalf("child said %q: %v", line, err)
	}

	var flood []net.Conn
	for range 300 {
		nc, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		flood = append(flood, nc)
	}
	time.Sleep(200 * time.Millisecond) // let the child run out of descriptors
	select {
	case err := <-exited:
		t.Fatalf("the replay exited under the flood: %v", err)
	default:
	}
	for _, nc := range flood {
		nc.Close()
	}
	c := dial(t, "tcp", addr)
	c.expectText(220, "mx.test")
	c.cmd("DATA", 354)
}

// replayFDChild serves dataScript with 64 descriptors and prints its
// address; the parent kills it.
func replayFDChild() {
	lim := syscall.Rlimit{Cur: 64, Max: 64}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	srv, err := New(Config{TLSListen: "-", Script: script(false, dataScript...)})
	if err != nil {
		fmt.Println("new:", err)
		os.Exit(1)
	}
	fmt.Println("addr", srv.Addr())
	err = srv.Serve()
	fmt.Println("serve returned:", err)
	os.Exit(1)
}

// A client that connects to a TLS-from-the-first-byte replay, or says
// STARTTLS, and then never sends its ClientHello is dropped at the
// deadline instead of holding its place for good.
func TestReplayHandshakeDeadline(t *testing.T) {
	cfg := Config{ReadTimeout: 200 * time.Millisecond}
	t.Run("implicit", func(t *testing.T) {
		srv, logBuf := startReplay(t, script(true, dataScript...), cfg)
		c := dial(t, "tcp", srv.Addr())
		c.expectClosed()
		if !strings.Contains(logOf(srv, logBuf), "TLS handshake failed") {
			t.Errorf("log:\n%s", logOf(srv, logBuf))
		}
	})
	t.Run("starttls", func(t *testing.T) {
		srv, _ := startReplay(t, script(false, "S: 220 mx.test ESMTP", "C: STARTTLS", "S: 220 go ahead"), cfg)
		c := connect(t, srv)
		c.cmd("STARTTLS", 220)
		c.expectClosed()
	})
	t.Run("completes", func(t *testing.T) {
		srv, _ := startReplay(t, script(true, dataScript...), Config{})
		raw := dial(t, "tcp", srv.Addr())
		tc := tls.Client(raw.nc, trusting(t, srv, "localhost"))
		c := &client{t: t, nc: tc, r: bufio.NewReader(tc)}
		c.expectText(220, "mx.test")
		c.cmd("DATA", 354)
	})
}

// Departures are logged with the recording's event number and answered
// with the recorded reply; a QUIT out of turn gets the recorded 221, a
// command past the end the replay's 421.
func TestReplayDeparts(t *testing.T) {
	srv, logBuf := startReplay(t, script(false, dataScript...), Config{})
	c := connect(t, srv)
	c.cmdText("NOOP", 354, "go ahead")
	c.cmdText("QUIT", 221, "2.0.0 bye")
	c.expectClosed()
	want := `* client departs from the recording at event 2: expected "DATA", got "NOOP"`
	if !strings.Contains(logOf(srv, logBuf), want) {
		t.Errorf("log lacks %q:\n%s", want, logOf(srv, logBuf))
	}

	srv, _ = startReplay(t, script(false, "S: 220 mx.test ESMTP", "C: NOOP", "S: 250 ok"), Config{})
	c = connect(t, srv)
	c.cmd("NOOP", 250)
	c.cmdText("NOOP", 421, "4.3.0 ehlo replay: the recording ends here")
	c.expectClosed()
}

// BDAT's chunk is read before the recorded reply, never taken for
// commands.
func TestReplayBdat(t *testing.T) {
	srv, logBuf := startReplay(t, script(false,
		"S: 220 mx.test ESMTP",
		"C: BDAT", "S: 250 2.0.0 chunk",
		"C: QUIT", "S: 221 bye"), Config{})
	c := connect(t, srv)
	c.write("BDAT 12 LAST\r\nQUIT\r\nQUIT\r\n")
	c.expectText(250, "2.0.0 chunk")
	c.cmd("QUIT", 221)
	if strings.Contains(logOf(srv, logBuf), "departs") {
		t.Errorf("log:\n%s", logOf(srv, logBuf))
	}
}

func TestScriptNeedsAConnection(t *testing.T) {
	if _, err := New(Config{TLSListen: "-", Script: &Script{}}); err == nil {
		t.Error("an empty script was accepted")
	}
}

// logOf is the server's log so far: the log is written in batches, so it
// is flushed first.
func logOf(srv *Server, b *syncBuffer) string {
	srv.FlushLog()
	return b.String()
}

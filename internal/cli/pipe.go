package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// pipeConn is a command's stdin and stdout as a connection, for --pipe
// (swaks's "speak SMTP to sendmail -bs"). Its pipes are os.Pipe files, so
// the read and write deadlines of protocol's timeouts hold; Close ends the
// child: stdin closed, then killed if it has not exited within a second.
type pipeConn struct {
	cmd    *exec.Cmd
	errBuf *bytes.Buffer // the child's stderr, when the user's is not a file
	stdin  *os.File      // ours: the child's stdin
	stdout *os.File      // ours: the child's stdout
	addr   pipeAddr
	done   chan struct{}
}

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// dialPipe starts the command. It is split into words and run without a
// shell, so nothing in it is expanded. Its stderr is the user's when that
// is a file; otherwise (a test, --silent) it is held until the child ends
// and written by flushStderr, since exec would copy it from a goroutine of
// its own while ehlo writes there too.
func dialPipe(command string, stderr io.Writer) (*pipeConn, error) {
	words := strings.Fields(command)
	if len(words) == 0 {
		return nil, errors.New("--pipe: no command")
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(words[0], words[1:]...)
	c := &pipeConn{cmd: cmd, addr: pipeAddr(command), done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, stderr
	if _, isFile := stderr.(*os.File); !isFile {
		c.errBuf = &bytes.Buffer{}
		cmd.Stderr = &limitWriter{w: c.errBuf, n: 64 << 10}
	}
	err = cmd.Start()
	inR.Close() // the child's ends
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("--pipe %s: %w", words[0], err)
	}
	c.stdin, c.stdout = inW, outR
	go func() { cmd.Wait(); close(c.done) }()
	return c, nil
}

func (c *pipeConn) Read(b []byte) (int, error)  { return c.stdout.Read(b) }
func (c *pipeConn) Write(b []byte) (int, error) { return c.stdin.Write(b) }
func (c *pipeConn) LocalAddr() net.Addr         { return c.addr }
func (c *pipeConn) RemoteAddr() net.Addr        { return c.addr }

func (c *pipeConn) SetDeadline(t time.Time) error {
	return errors.Join(c.stdout.SetReadDeadline(t), c.stdin.SetWriteDeadline(t))
}
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return c.stdout.SetReadDeadline(t) }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return c.stdin.SetWriteDeadline(t) }

// flushStderr ends the child and writes what it said on stderr, if held.
func (c *pipeConn) flushStderr(w io.Writer) {
	c.Close()
	if c.errBuf != nil {
		w.Write(c.errBuf.Bytes())
	}
}

// limitWriter keeps the first n bytes and drops the rest.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if k := min(len(p), l.n); k > 0 {
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// Close is idempotent, as protocol's Abort and Close need.
func (c *pipeConn) Close() error {
	c.stdin.Close()
	c.stdout.Close()
	select {
	case <-c.done:
	case <-time.After(time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
	return nil
}

// Command steps times each step of an SMTP session against a server on
// loopback, N sessions one after another, a new connection each: from
// connect to the greeting, each command to its reply, and from the 221 to
// the server's end of file. It showed where the sandbox's time per
// connection differs from smtp-sink's (docs/performance.md, finding 15):
// not in the commands but at the two ends of the connection.
//
//	GOMAXPROCS=1 go run . 127.0.0.1:2525 3000
//
// It prints the median and the 90th percentile of each step.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: steps HOST:PORT SESSIONS")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "steps: SESSIONS must be a positive number")
		os.Exit(2)
	}
	if err := run(os.Args[1], n); err != nil {
		fmt.Fprintln(os.Stderr, "steps:", err)
		os.Exit(1)
	}
}

// The message is smtp-source's -l 1024, near enough: 14 lines of 70.
var (
	body  = "Subject: steps\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 14) + ".\r\n"
	cmds  = []string{"EHLO steps.example\r\n", "MAIL FROM:<a@example.com>\r\n", "RCPT TO:<b@example.com>\r\n", "DATA\r\n", body, "QUIT\r\n"}
	names = []string{"connect to greeting", "EHLO", "MAIL", "RCPT", "DATA", "message", "QUIT", "221 to end of file"}
)

func run(addr string, n int) error {
	times := make([][]time.Duration, len(names))
	for range n {
		if err := session(addr, times); err != nil {
			return err
		}
	}
	var sum time.Duration
	for i, name := range names {
		t := times[i]
		slices.Sort(t)
		sum += t[len(t)/2]
		fmt.Printf("%-20s p50 %7.1f µs   p90 %7.1f µs\n", name, us(t[len(t)/2]), us(t[len(t)*9/10]))
	}
	fmt.Printf("%-20s     %7.1f µs\n", "sum of the medians", us(sum))
	return nil
}

func session(addr string, times [][]time.Duration) error {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	if err := reply(r, '2'); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	times[0] = append(times[0], time.Since(start))
	for i, cmd := range cmds {
		start = time.Now()
		if _, err := c.Write([]byte(cmd)); err != nil {
			return err
		}
		want := byte('2')
		if cmd == "DATA\r\n" {
			want = '3'
		}
		if err := reply(r, want); err != nil {
			return fmt.Errorf("%s: %w", names[i+1], err)
		}
		times[i+1] = append(times[i+1], time.Since(start))
	}
	start = time.Now()
	if _, err := r.ReadByte(); err == nil {
		return fmt.Errorf("bytes after the 221")
	}
	times[len(names)-1] = append(times[len(names)-1], time.Since(start))
	return nil
}

// reply reads one reply, multiline or not, and checks its first digit.
func reply(r *bufio.Reader, want byte) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if len(line) < 4 || line[0] != want {
			return fmt.Errorf("unexpected reply %q", strings.TrimSpace(line))
		}
		if line[3] != '-' {
			return nil
		}
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

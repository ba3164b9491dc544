//go:build linux

package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// BenchmarkServeProcess is BenchmarkServe with the client in another
// process (this test binary run again), so that the server's own CPU and
// thread switches are measured, with one P as `ehlo sandbox` runs: the
// figures smtp-source into the real server gives, without smtp-source.
// server-µs/msg is user+system CPU of this process per message;
// switches/msg the context switches of all its threads; client-µs/msg the
// client process's CPU per message, its start included. persistent-8 is
// `smtp-source -s 8 -d`: eight sessions at once, where the server's reads
// try again before they wait (spinRead) and the client's CPU is what sets
// the rate.
func BenchmarkServeProcess(b *testing.B) {
	for _, mode := range []string{"persistent", "connection-per-message", "persistent-8"} {
		b.Run(mode, func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			srv, err := New(Config{Log: io.Discard, TLSListen: "-"})
			if err != nil {
				b.Fatal(err)
			}
			srv.Start()
			defer srv.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSMTPSourceClient$")
			cmd.Env = append(os.Environ(), "EHLO_SOURCE_ADDR="+srv.Addr(), "EHLO_SOURCE_MODE="+mode,
				"EHLO_SOURCE_N="+strconv.Itoa(b.N))
			cmd.Stderr = os.Stderr
			var before, after syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			b.ResetTimer()
			if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "sent ") {
				b.Fatalf("client: %v %s", err, out)
			}
			b.StopTimer()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := tv(after.Utime) - tv(before.Utime) + tv(after.Stime) - tv(before.Stime)
			b.ReportMetric(float64(cpu)/float64(b.N), "server-µs/msg")
			sw := after.Nvcsw - before.Nvcsw + after.Nivcsw - before.Nivcsw
			b.ReportMetric(float64(sw)/float64(b.N), "switches/msg")
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				b.ReportMetric(float64(tv(ru.Utime)+tv(ru.Stime))/float64(b.N), "client-µs/msg")
			}
		})
	}
}

func tv(t syscall.Timeval) int64 { return t.Sec*1e6 + t.Usec }

// TestHelperSMTPSourceClient is BenchmarkServeProcess's client, run in a
// process of its own; it does nothing in a normal test run.
func TestHelperSMTPSourceClient(t *testing.T) {
	addr := os.Getenv("EHLO_SOURCE_ADDR")
	if addr == "" {
		return
	}
	runtime.GOMAXPROCS(1)
	n, _ := strconv.Atoi(os.Getenv("EHLO_SOURCE_N"))
	mode := os.Getenv("EHLO_SOURCE_MODE")
	sessions := 1
	if mode == "persistent-8" {
		sessions = min(8, n)
	}
	errs := make(chan error, sessions)
	for i := range sessions {
		share := n / sessions
		if i < n%sessions {
			share++
		}
		go func() { errs <- smtpSource(addr, share, mode == "connection-per-message") }()
	}
	for range sessions {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("sent %d\n", n)
}

// smtpSource sends n 1 KiB messages one command at a time, as
// `smtp-source -s 1 -l 1024` does (with -d when !perConn).
func smtpSource(addr string, n int, perConn bool) error {
	body := strings.Repeat(strings.Repeat("x", 70)+"\r\n", 14)
	txn := []string{"MAIL FROM:<a@x.test>\r\n", "RCPT TO:<b@x.test>\r\n", "DATA\r\n", body + ".\r\n"}
	var nc net.Conn
	var r *bufio.Reader
	say := func(s string) error {
		if s != "" {
			if _, err := io.WriteString(nc, s); err != nil {
				return err
			}
		}
		for {
			l, err := r.ReadSlice('\n')
			if err != nil || len(l) < 4 || l[0] > '3' {
				return fmt.Errorf("reply %q to %q: %v", l, s, err)
			}
			if l[3] == ' ' {
				return nil
			}
		}
	}
	open := func() (err error) {
		if nc, err = net.Dial("tcp", addr); err != nil {
			return err
		}
		r = bufio.NewReader(nc)
		if err = say(""); err == nil {
			err = say("EHLO client.test\r\n")
		}
		return err
	}
	shut := func() error {
		defer nc.Close()
		return say("QUIT\r\n")
	}
	for i := 0; i < n; i++ {
		if perConn || i == 0 {
			if err := open(); err != nil {
				return err
			}
		}
		for _, s := range txn {
			if err := say(s); err != nil {
				return err
			}
		}
		if perConn || i == n-1 {
			if err := shut(); err != nil {
				return err
			}
		}
	}
	return nil
}

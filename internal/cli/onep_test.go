package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSendTakesOnePOnlyInItsOwnProcess: `ehlo send` runs with one P, as
// measured in docs/performance.md (finding 16), unless GOMAXPROCS is set
// or --connections asks for several conversations at once; a send run
// inside another process (these tests) leaves its runtime alone.
func TestSendTakesOnePOnlyInItsOwnProcess(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })

	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "")
	if was := oneP(); was != 4 {
		t.Errorf("oneP returned %d, want the 4 it took", was)
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS after oneP = %d, want 1", got)
	}

	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "4")
	if was := oneP(); was != 0 {
		t.Errorf("GOMAXPROCS=4 in the environment: oneP returned %d, want 0", was)
	}
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("GOMAXPROCS=4 in the environment: after oneP %d, want 4", got)
	}

	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "")
	var out, errb bytes.Buffer
	app := &appContext{ctx: t.Context(), stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	if code := runWith(app, []string{"send", "127.0.0.1:1", "--to", "a@example.com", "--timeout", "1s"}); code == 0 {
		t.Fatalf("a send to a closed port exited 0: %s", out.String())
	}
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("a send inside the test process changed GOMAXPROCS to %d", got)
	}

	// Main's path, as `ehlo send` runs it: one P before the command runs.
	app.process = true
	if code := runWith(app, []string{"send", "127.0.0.1:1", "--to", "a@example.com", "--timeout", "1s"}); code == 0 {
		t.Fatalf("a send to a closed port exited 0: %s", out.String())
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS after a send that owns the process = %d, want 1", got)
	}

	// A load of several connections at once gets its Ps back.
	runtime.GOMAXPROCS(4)
	if code := runWith(app, []string{"send", "127.0.0.1:1", "--to", "a@example.com", "--timeout", "1s", "--repeat", "4", "--connections", "2"}); code == 0 {
		t.Fatalf("a send to a closed port exited 0: %s", out.String())
	}
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("GOMAXPROCS after --connections 2 = %d, want the 4 the process had", got)
	}
}

// BenchmarkSendProcess is `ehlo send` of one message as a script runs it:
// a new process each time, built as `make build` builds it, into the
// sandbox. cpu-ms/op is the process's own CPU (user and system, from
// its rusage), which start-up dominates (docs/performance.md, finding
// 18); ns/op is its wall time. EHLO_BENCH_BIN names another binary to
// run, so that two builds can be compared with benchstat.
func BenchmarkSendProcess(b *testing.B) {
	bin := os.Getenv("EHLO_BENCH_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "ehlo")
		build := exec.Command("go", "build", "-o", bin, "../..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	srv := plainSandbox(b)
	var cpu time.Duration
	for b.Loop() {
		cmd := exec.Command(bin, "send", srv.Addr(), "--from", "a@example.com", "--to", "b@example.com", "--quiet")
		cmd.Env = append(os.Environ(), "GOMAXPROCS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ehlo send: %v\n%s", err, out)
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

package tui_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestE2EIdleCPU is issue 17's idle measurement: `ehlo` (the embedded
// sandbox, connected and greeted) left alone in a tmux pane, its CPU read
// from the kernel's accounting (utime+stime in /proc/PID/stat) before and
// after. The target is under 0.1% of a CPU (PRODUCT, second pass).
//
// It takes a minute, so it runs only when EHLO_IDLE_SECONDS is set (60 is
// the figure; `make bench` does not run tests). Linux only: it
// reads /proc.
func TestE2EIdleCPU(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("EHLO_IDLE_SECONDS"))
	if secs <= 0 {
		t.Skip("a measurement of a minute: set EHLO_IDLE_SECONDS=60 to run it")
	}
	tmuxPath, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("EHLO_IDLE_SECONDS is set but tmux is not on PATH: %v", err)
	}
	// Never -race: the detector's own goroutines are not ehlo's cost.
	bin := filepath.Join(t.TempDir(), "ehlo")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ehlo-dev/ehlo").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p := startPane(t, tmuxPath, 120, 40, []string{"env", "-u", "NO_COLOR", bin})
	before := p.waitFor("the sandbox's greeting", "<-  220 sandbox.ehlo.test", "Composer")
	pid, err := strconv.Atoi(strings.TrimSpace(p.must("display-message", "-p", "-t", p.target, "#{pane_pid}")))
	if err != nil {
		t.Fatal(err)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != "ehlo" {
		t.Fatalf("pane process %d is %q, not ehlo", pid, comm)
	}
	// Let the start-up settle (Bubble Tea's renderer parks after half a
	// second without a change).
	time.Sleep(2 * time.Second)
	cpu0, sw0 := procCPU(t, pid)
	time.Sleep(time.Duration(secs) * time.Second)
	cpu1, sw1 := procCPU(t, pid)

	used := cpu1 - cpu0
	share := float64(used) / float64(time.Duration(secs)*time.Second) * 100
	t.Logf("idle %d s: %v of CPU (user+system, kernel ticks of 10 ms) = %.3f%% of a CPU; %d context switches (%.1f/s)",
		secs, used, share, sw1-sw0, float64(sw1-sw0)/float64(secs))
	if share >= 0.1 {
		t.Errorf("idle TUI used %.3f%% of a CPU, target under 0.1%%", share)
	}
	// Nothing moved: the screen is what it was (the connection's age is
	// shown in minutes; a run over a minute boundary may change it).
	if after := p.capture(); secs < 60 && after != before {
		t.Errorf("the screen changed while idle:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// procCPU returns a process's user+system CPU time and the context
// switches of all its threads.
func procCPU(t *testing.T, pid int) (time.Duration, int) {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name may hold spaces: fields count from after its ')'.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	const userHZ = 100                          // USER_HZ, fixed on Linux
	cpu := time.Duration(utime+stime) * time.Second / userHZ

	switches := 0
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, s := range tasks {
		b, err := os.ReadFile(s)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.HasSuffix(k, "ctxt_switches") {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				switches += n
			}
		}
	}
	return cpu, switches
}

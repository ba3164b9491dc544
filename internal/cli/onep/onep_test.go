package onep

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestMain doubles as the child that the tests start: with ONEP_CHILD set
// it prints the P count init left and what it took, as a process started
// with those arguments would see them.
func TestMain(m *testing.M) {
	if os.Getenv("ONEP_CHILD") != "" {
		fmt.Println(runtime.GOMAXPROCS(0), Took())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child starts this test binary as `BINARY args...` and returns what
// TestMain printed: "PROCS TOOK".
func child(t *testing.T, gomaxprocs string, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	// GORACE: under -race each child would sleep a second at exit.
	cmd.Env = append(os.Environ(), "ONEP_CHILD=1", "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, "GOMAXPROCS="+gomaxprocs)
	if gomaxprocs == "" {
		env := cmd.Env[:0]
		for _, kv := range cmd.Env {
			if !strings.HasPrefix(kv, "GOMAXPROCS=") {
				env = append(env, kv)
			}
		}
		cmd.Env = env
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// TestSendStartsWithOneP: a process started as `ehlo send` has one P by
// the time its other packages initialise, and remembers how many it had;
// any other command keeps the runtime's default, and GOMAXPROCS in the
// environment wins.
func TestSendStartsWithOneP(t *testing.T) {
	var procs, took int
	if _, err := fmt.Sscan(child(t, "", "version"), &procs, &took); err != nil {
		t.Fatal(err)
	}
	if took != 0 {
		t.Errorf("`version` took %d Ps", took)
	}
	want := "1 0" // one CPU: nothing to take
	if procs > 1 {
		want = fmt.Sprintf("1 %d", procs)
	}
	if got := child(t, "", "send", "--to", "a@example.com"); got != want {
		t.Errorf("`send`: procs, took = %s, want %s", got, want)
	}
	if got := child(t, "3", "send"); got != "3 0" {
		t.Errorf("`send` with GOMAXPROCS=3: procs, took = %s, want 3 0", got)
	}
	if got := child(t, "", "sandbox"); got != fmt.Sprintf("%d 0", procs) {
		t.Errorf("`sandbox`: procs, took = %s, want %d 0", got, procs)
	}
}

// TestTake: Take lowers the P count to one and reports what there was,
// unless the environment sets GOMAXPROCS.
func TestTake(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "")
	if n := Take(); n != 4 || runtime.GOMAXPROCS(0) != 1 {
		t.Errorf("Take() = %d, leaving %d Ps; want 4, leaving 1", n, runtime.GOMAXPROCS(0))
	}
	if n := Take(); n != 0 {
		t.Errorf("Take() with one P = %d, want 0", n)
	}
	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "4")
	if n := Take(); n != 0 || runtime.GOMAXPROCS(0) != 4 {
		t.Errorf("Take() under GOMAXPROCS=4 = %d, leaving %d Ps; want 0, leaving 4", n, runtime.GOMAXPROCS(0))
	}
}

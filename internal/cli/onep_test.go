package cli

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
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

package cli

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// TestVersionPrintsWithoutTheCommandTree: `ehlo version` prints what it
// always printed, without building kong's model of every command (which
// cost about 10,000 allocations, the larger part of the command's start-up
// after the runtime's own). Allocations are counted, not time.
func TestVersionPrintsWithoutTheCommandTree(t *testing.T) {
	var out, errOut bytes.Buffer
	app := &appContext{ctx: context.Background(), stdout: &out, stderr: &errOut}
	if code := runWith(app, []string{"version"}); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if want := "ehlo " + ehloVersion() + "\n"; out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
	allocs := testing.AllocsPerRun(20, func() {
		runWith(&appContext{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard}, []string{"version"})
	})
	if allocs > 100 {
		t.Fatalf("ehlo version made %.0f allocations; the command tree is being built for it", allocs)
	}
}

// TestVersionHelpStillParsed: anything beyond the bare command still goes
// through the command line parser.
func TestVersionHelpStillParsed(t *testing.T) {
	var out, errOut bytes.Buffer
	app := &appContext{ctx: context.Background(), stdout: &out, stderr: &errOut}
	runWith(app, []string{"version", "--help"})
	if !bytes.Contains(out.Bytes(), []byte("Print the version.")) {
		t.Fatalf("version --help printed %q", out.String())
	}
}

func BenchmarkVersion(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		runWith(&appContext{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard}, []string{"version"})
	}
}

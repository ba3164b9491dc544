package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
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

// TestSendOnlyGrammarMatchesTheFullTree: `ehlo send` is parsed with the
// send command's model alone; what it prints (help, usage on an error)
// and what it runs must be what the whole command tree gives.
func TestSendOnlyGrammarMatchesTheFullTree(t *testing.T) {
	for _, args := range [][]string{
		{"send", "--help"},
		{"send", "-h"},
		{"send", "--no-such-flag"},
		{"send", "extra", "args"},
		{"send", "--repeat", "x", "--to", "a@b.test"},
		{"send", "--server", "127.0.0.1:1", "--to", "a@b.test", "--ipv4", "--ipv6"},
		{"send", "--silent", "--quit-after", "rcpt", "--to", "a@b.test", "--server", "127.0.0.1:1", "--timeout", "1s"},
	} {
		run := func(g any) (int, string, string) {
			var out, errOut bytes.Buffer
			app := &appContext{ctx: context.Background(), stdout: &out, stderr: &errOut}
			translated, err := translateSwaks(args)
			if err != nil {
				t.Fatal(err)
			}
			if g == nil {
				return runWith(app, args), out.String(), errOut.String()
			}
			return runGrammar(app, translated, g), out.String(), errOut.String()
		}
		code, out, errOut := run(nil)
		fullCode, fullOut, fullErr := run(&cli{})
		if code != fullCode || out != fullOut || errOut != fullErr {
			t.Errorf("ehlo %q:\nsend alone: %d %q %q\nfull tree:  %d %q %q", args, code, out, errOut, fullCode, fullOut, fullErr)
		}
	}
	if _, ok := grammar([]string{"send"}).(*sendOnly); !ok {
		t.Error("send is parsed with the whole tree")
	}
}

// What a command prints to a stdout that cannot take it (a full disk) is
// an error and exit 1, never exit 0 with a file cut short: a completion
// script written to ~/.bashrc.d, say.
func TestOutputWriteFails(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"completion", "bash"}, {"completion", "fish"}, {"replay", "--list"}} {
		var errb bytes.Buffer
		app := &appContext{ctx: context.Background(), stdout: failingWriter{}, stderr: &errb, stdin: strings.NewReader("")}
		if code := runWith(app, args); code != 1 || !strings.Contains(errb.String(), "no space left on device") {
			t.Errorf("ehlo %q: exit %d, stderr %q; want 1 and the write error", args, code, errb.String())
		}
	}
}

package sandbox

import (
	"context"
	"go/build"
	"strings"
	"testing"
	"time"
)

// waitFor polls the output until it contains want; Run has no other
// signal that it is ready, exactly as a script driving `ehlo sandbox`.
func waitFor(t *testing.T, out *syncBuffer, want string) string {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for time.Now().Before(deadline) {
		if s := out.String(); strings.Contains(s, want) {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("output never contained %q:\n%s", want, out.String())
	return ""
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Faults: faults(t, "delay:rcpt=1ms")}, out)
	}()
	banner := waitFor(t, out, "stop with Ctrl+C\n")
	lines := strings.Split(banner, "\n")
	if lines[0] != "ehlo sandbox ready (SMTP)" {
		t.Fatalf("first line %q", lines[0])
	}
	var addr string
	for _, want := range []string{"listen: 127.0.0.1:", "tls-listen: 127.0.0.1:", "certificate: SHA-256 ",
		"users: alice:alicepw bob:bobpw", "faults: delay:rcpt=1ms", "hostname: sandbox.ehlo.test"} {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, want) {
				found = true
				if strings.HasPrefix(l, "listen: ") {
					addr = strings.Fields(l)[1]
				}
			}
		}
		if !found {
			t.Errorf("banner lacks a line starting %q:\n%s", want, banner)
		}
	}
	if strings.Contains(banner, "warning:") {
		t.Errorf("loopback sandbox warns:\n%s", banner)
	}
	c := dial(t, "tcp", addr)
	c.expect(220)
	c.ehlo()
	c.cmd("QUIT", 221)
	c.expectClosed()
	waitFor(t, out, "[s1] * closed: client quit")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Run did not stop on cancel")
	}
	if s := out.String(); !strings.Contains(s, "[s1] C: EHLO client.test\n") || !strings.HasSuffix(s, "ehlo sandbox stopped: 0 message(s) received\n") {
		t.Fatalf("output:\n%s", s)
	}
}

func TestRunLMTPSocketBanner(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	path := socketPath(t)
	go func() {
		done <- Run(ctx, Config{LMTP: true, Socket: path, Listen: "-", TLSListen: "-", Users: map[string]string{"t": "p"}}, out)
	}()
	banner := waitFor(t, out, "stop with Ctrl+C\n")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ehlo sandbox ready (LMTP)\n", "socket: " + path + "\n", "users: t:p\n"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if strings.Contains(banner, "listen:") {
		t.Errorf("disabled listener printed:\n%s", banner)
	}
}

func TestRunBadConfig(t *testing.T) {
	if err := Run(context.Background(), Config{Listen: "-", TLSListen: "-"}, &syncBuffer{}); err == nil {
		t.Fatal("Run with no listener succeeded")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:25": true, "[::1]:25": true, "localhost:25": true, "127.1.2.3:0": true,
		"0.0.0.0:25": false, "[::]:25": false, "192.0.2.1:25": false, ":25": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
}

// The sandbox must share no code with the client it is used to test
// (PRODUCT.md §2): standard library only, in the package and its tests.
func TestImportsStandardLibraryOnly(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imports := range [][]string{pkg.Imports, pkg.TestImports, pkg.XTestImports} {
		for _, imp := range imports {
			if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
				t.Errorf("sandbox imports %s; it may use the standard library only", imp)
			}
		}
	}
}

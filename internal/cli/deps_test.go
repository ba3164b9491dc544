package cli

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The package graph (README's layout notes): what each of ehlo's packages
// may import, checked on the production imports that `go list` reports
// (test files are free). Each rule is the strongest that holds: tui, for
// one, imports protocol only through session and the sandbox not at all.
// That tui keeps no copy of protocol's enums is a review rule, not tested
// here.

const module = "github.com/ehlo-dev/ehlo"

// listedPackage is what `go list -deps -json` says of one package.
type listedPackage struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// goList lists every package of the module and everything they import.
func goList(t *testing.T) map[string]*listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]*listedPackage{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs
}

// ehlo reports whether path is one of the module's packages, or a package
// under one of the named ones (relative to the module: "session").
func ehlo(path string, under ...string) bool {
	rel, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return false
	}
	if len(under) == 0 {
		return true
	}
	for _, u := range under {
		if rel == u || strings.HasPrefix(rel, u+"/") {
			return true
		}
	}
	return false
}

// chain is the shortest import path from one package to another, for the
// message: "sandbox → x → protocol".
func chain(pkgs map[string]*listedPackage, from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for p := to; p != ""; p = prev[p] {
				path = append(path, strings.TrimPrefix(p, module+"/"))
			}
			slices.Reverse(path)
			return strings.Join(path, " → ")
		}
		if p := pkgs[cur]; p != nil {
			for _, next := range p.Imports {
				if _, seen := prev[next]; !seen {
					prev[next] = cur
					queue = append(queue, next)
				}
			}
		}
	}
	return from + " → … → " + to
}

// depsRule says what packages may not import.
type depsRule struct {
	pkgs   []string // the packages it applies to, relative to the module
	direct bool     // only their own imports, not their dependencies'
	bad    func(p *listedPackage) bool
	why    string
}

var depsRules = []depsRule{
	{pkgs: []string{"protocol", "protocol/smtptest"},
		bad: func(p *listedPackage) bool { return !p.Standard },
		why: "protocol is a library on the standard library only"},
	{pkgs: []string{"tui"}, direct: true,
		bad: func(p *listedPackage) bool { return ehlo(p.ImportPath, "protocol") },
		why: "tui reads the conversation through session, never protocol directly"},
	{pkgs: []string{"tui"},
		bad: func(p *listedPackage) bool { return ehlo(p.ImportPath, "sandbox") },
		why: "tui shows a conversation, whoever the server is: no sandbox, even indirectly"},
	{pkgs: []string{"sandbox"},
		bad: func(p *listedPackage) bool { return ehlo(p.ImportPath) && !ehlo(p.ImportPath, "sandbox") },
		why: "sandbox imports nothing of the client"},
	{pkgs: []string{"session", "session/mx"},
		bad: func(p *listedPackage) bool { return ehlo(p.ImportPath, "recordings", "tui", "sandbox", "internal") },
		why: "session is below recordings, tui, sandbox and the command line (a Live records through its Sink)"},
	{pkgs: []string{"recordings"},
		bad: func(p *listedPackage) bool { return ehlo(p.ImportPath, "tui", "internal", "sandbox") },
		why: "recordings is below tui and the command line, and hands replay --serve's script to a ScriptBuilder rather than to the sandbox"},
	{pkgs: []string{"themes"},
		bad: func(p *listedPackage) bool { return ehlo(p.ImportPath) && !ehlo(p.ImportPath, "themes") },
		why: "themes imports no ehlo package"},
}

// depsViolations checks the rules against the graph and returns one line
// per forbidden edge.
func depsViolations(pkgs map[string]*listedPackage) []string {
	var out []string
	for _, r := range depsRules {
		for _, name := range r.pkgs {
			p := pkgs[module+"/"+name]
			if p == nil {
				out = append(out, name+": not in the module any more; update depsRules")
				continue
			}
			imports := p.Deps
			if r.direct {
				imports = p.Imports
			}
			for _, dep := range imports {
				d := pkgs[dep]
				if d == nil || !r.bad(d) {
					continue
				}
				out = append(out, chain(pkgs, p.ImportPath, dep)+": "+r.why)
			}
		}
	}
	return out
}

func TestPackageGraph(t *testing.T) {
	for _, v := range depsViolations(goList(t)) {
		t.Error(v)
	}
}

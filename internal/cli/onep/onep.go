// Package onep gives `ehlo send` one P (GOMAXPROCS=1) before the other
// packages of the binary initialise, and owns the rule for when a send
// takes it.
//
// Why a package of its own: Go initialises packages in import-path order
// as far as their imports allow, so one that imports only os and runtime
// runs its init right after os's, before the TUI's libraries, kong and
// the rest (about ninety initialisers). With a second P, each goroutine
// those start woke a thread for it, and giving the P up later cost the
// heap spans it had cached: a one-message send took about 10% more CPU
// (docs/performance.md, finding 18). Keep its imports to those two.
package onep

import (
	"os"
	"runtime"
)

// took is what init took: the process's P count, when init lowered it.
var took int

func init() {
	if len(os.Args) > 1 && os.Args[1] == "send" {
		took = Take()
	}
}

// Take gives the process one P unless GOMAXPROCS is set in the
// environment, and returns the number it had (0 when it left it alone or
// had one already).
func Take() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return 0
	}
	if n := runtime.GOMAXPROCS(1); n > 1 {
		return n
	}
	return 0
}

// Took returns what init took for a process started as `ehlo send`: the
// P count it had, or 0.
func Took() int { return took }

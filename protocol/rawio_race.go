//go:build linux && race

package protocol

import "syscall"

// Under the race detector, syscall.Write and syscall.Read order every
// write to a descriptor before every read that follows it, as a
// happens-before edge: a goroutine that sets a value and then sends on a
// socket is ordered before the one that reads the socket and then uses
// the value. The raw calls of rawIO bypass those annotations, and a test
// that relied on the edge (TestWorkshopSavedSessionReplays) was reported
// as a race. A zero-length call of each gives rawIO the same edges; it
// transfers nothing, and only race builds make it.
func raceReleaseIO(fd uintptr) { _, _ = syscall.Write(int(fd), nil) }

func raceAcquireIO(fd uintptr) { _, _ = syscall.Read(int(fd), nil) }

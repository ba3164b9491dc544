//go:build linux && !race

package protocol

// raceReleaseIO and raceAcquireIO matter only to the race detector
// (rawio_race.go).
func raceReleaseIO(uintptr) {}

func raceAcquireIO(uintptr) {}

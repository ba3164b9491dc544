//go:build linux && !race

package sandbox

// raceReleaseIO and raceAcquireIO matter only to the race detector
// (rawio_race.go).
func raceReleaseIO(uintptr) {}

func raceAcquireIO(uintptr) {}

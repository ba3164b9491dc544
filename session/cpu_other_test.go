//go:build !unix

package session

import "time"

// processCPU is not measured here (cpu_unix_test.go).
func processCPU() (time.Duration, bool) { return 0, false }

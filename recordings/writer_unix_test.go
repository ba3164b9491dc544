//go:build unix

package recordings

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// security-anchors I1: the recording is 0600 under umask 000 (and under a
// umask that would take the owner's bits away).
func TestCreateMode0600(t *testing.T) {
	for _, mask := range []int{0o000, 0o277} {
		old := syscall.Umask(mask)
		path := filepath.Join(t.TempDir(), "s.jsonl")
		r, err := Create(path, testHeader)
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("umask %03o: mode %v, want 0600", mask, fi.Mode().Perm())
		}
	}
}

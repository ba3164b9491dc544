package session

import (
	"strconv"
	"testing"
)

// A Stage's String is safe for any value: an out-of-range stage (a caller's
// arithmetic, a zero value from elsewhere) must not panic in a log line.
func TestStageStringAnyValue(t *testing.T) {
	for _, tc := range []struct {
		s    Stage
		want string
	}{{StageConnect, "connect"}, {StageQuit, "quit"}, {-1, "stage(-1)"}, {Stage(len(stageNames)), "stage(" + strconv.Itoa(len(stageNames)) + ")"}} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("Stage(%d).String() = %q, want %q", int(tc.s), got, tc.want)
		}
	}
}

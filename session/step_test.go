package session

import (
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// The steps keep protocol's phases in their order, so that the TUI can
// compare them without a copy of protocol's enum (issue 11).
func TestStepOfFollowsProtocolPhases(t *testing.T) {
	want := []Step{StepNone, StepConnected, StepGreeted, StepHello, StepMail, StepRcpt, StepData}
	for p := protocol.PhaseDisconnected; p <= protocol.PhaseData; p++ {
		if got := StepOf(protocol.State{Phase: p}); got != want[p] {
			t.Errorf("%v: step %v, want %v", p, got, want[p])
		}
		if p > 0 && !(want[p] > want[p-1]) {
			t.Errorf("%v does not come after %v", want[p], want[p-1])
		}
	}
	if got := StepOf(protocol.State{Phase: 99}); got != StepNone {
		t.Errorf("unknown phase: %v", got)
	}
	s := Snapshot{State: protocol.State{Phase: protocol.PhaseRcpt}}
	if s.Step() != StepRcpt || s.Step().String() != "RCPT" || Step(42).String() != "step(42)" {
		t.Errorf("snapshot step %v", s.Step())
	}
}

func TestExtensionOf(t *testing.T) {
	for line, want := range map[string]protocol.Extension{
		"250-AUTH=LOGIN PLAIN": {Keyword: "AUTH", Params: "LOGIN PLAIN"},
		"250-SIZE\t1000":       {Keyword: "SIZE", Params: "1000"},
		"250 8BITMIME":         {Keyword: "8BITMIME"},
	} {
		if got, ok := ExtensionOf([]byte(line)); !ok || got != want {
			t.Errorf("%q: %+v %v, want %+v", line, got, ok, want)
		}
	}
	for _, line := range []string{"", "250", "250- ", "250-\x00"} {
		if got, ok := ExtensionOf([]byte(line)); ok {
			t.Errorf("%q: %+v, want none", line, got)
		}
	}
}

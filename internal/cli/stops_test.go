package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/session"
)

// The stops --quit-after, --drop-after and --drop-after-send accept are session's lists, the
// ones the send obeys; kong's enum tags must name exactly those.
func TestStopFlagsMatchSession(t *testing.T) {
	typ := reflect.TypeFor[sendCmd]()
	for _, tc := range []struct {
		field  string
		stages []string
	}{
		{"QuitAfter", session.QuitAfterStages},
		{"DropAfter", session.DropAfterStages},
		{"DropAfterSend", session.DropAfterStages},
	} {
		f, ok := typ.FieldByName(tc.field)
		if !ok {
			t.Fatalf("sendCmd has no field %s", tc.field)
		}
		if got, want := f.Tag.Get("enum"), ","+strings.Join(tc.stages, ","); got != want {
			t.Errorf("%s: enum %q, want %q", tc.field, got, want)
		}
	}
}

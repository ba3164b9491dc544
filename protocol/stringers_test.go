package protocol_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Every String and Error method of the package answers for any value: the
// zero value, an enum out of range, a nil pointer receiver, an error with
// no wrapped error. A library's caller may print any of these while
// debugging, and a panic there would hide the bug being looked for.
func TestStringersSafeForAnyValue(t *testing.T) {
	for _, c := range []struct {
		name string
		v    fmt.Stringer
		want string // "" means: anything but a panic or an empty text
	}{
		{"Kind zero", protocol.Kind(0), "smtp"},
		{"Kind LMTP", protocol.LMTP, "lmtp"},
		{"Kind out of range", protocol.Kind(3), "Kind(3)"},
		{"Kind negative", protocol.Kind(-1), "Kind(-1)"},
		{"Phase zero", protocol.Phase(0), "disconnected"},
		{"Phase data", protocol.PhaseData, "data"},
		{"Phase out of range", protocol.Phase(7), "Phase(7)"},
		{"Phase negative", protocol.Phase(-2), "Phase(-2)"},
		{"EventKind zero", protocol.EventKind(0), "EventKind(0)"},
		{"EventKind close", protocol.EventClose, "close"},
		{"EventKind out of range", protocol.EventKind(99), "EventKind(99)"},
	} {
		got := callString(t, c.name, c.v.String)
		if got != c.want {
			t.Errorf("%s: String() = %q, want %q", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"nil *Exception", (*protocol.Exception)(nil), "<nil>"},
		{"nil *NotSupportedError", (*protocol.NotSupportedError)(nil), "<nil>"},
		{"nil *ServerDisconnectedError", (*protocol.ServerDisconnectedError)(nil), "<nil>"},
		{"nil *ResponseError", (*protocol.ResponseError)(nil), "<nil>"},
		{"nil *SenderRefusedError", (*protocol.SenderRefusedError)(nil), "<nil>"},
		{"nil *RecipientsRefusedError", (*protocol.RecipientsRefusedError)(nil), "<nil>"},
		{"nil *DataError", (*protocol.DataError)(nil), "<nil>"},
		{"nil *ConnectError", (*protocol.ConnectError)(nil), "<nil>"},
		{"nil *HeloError", (*protocol.HeloError)(nil), "<nil>"},
		{"nil *AuthenticationError", (*protocol.AuthenticationError)(nil), "<nil>"},
		{"nil *ProtocolError", (*protocol.ProtocolError)(nil), "<nil>"},
		{"nil *ValueError", (*protocol.ValueError)(nil), "<nil>"},
		{"nil *TLSError", (*protocol.TLSError)(nil), "<nil>"},
		{"nil *AbortError", (*protocol.AbortError)(nil), "<nil>"},
		{"nil *NULError", (*protocol.NULError)(nil), "<nil>"},
		{"zero TLSError", &protocol.TLSError{}, "TLS: <nil>"},
		{"zero AbortError", &protocol.AbortError{}, "message aborted; not sent after 0 bytes: <nil>"},
		{"zero ResponseError", &protocol.ResponseError{}, "0 "},
		{"zero SenderRefusedError", &protocol.SenderRefusedError{}, "sender  refused: 0 "},
		{"zero RecipientsRefusedError", &protocol.RecipientsRefusedError{}, "no recipients"},
		{"zero DataError", &protocol.DataError{}, "data refused: 0 "},
		{"zero ProtocolError", &protocol.ProtocolError{}, "protocol error: "},
		{"zero NULError", &protocol.NULError{}, "NUL byte at offset 0"},
	} {
		got := callString(t, c.name, c.err.Error)
		if got != c.want {
			t.Errorf("%s: Error() = %q, want %q", c.name, got, c.want)
		}
	}
}

func callString(t *testing.T, name string, f func() string) (s string) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s: panic: %v", name, p)
			s = "panic: " + strings.TrimSpace(fmt.Sprint(p))
		}
	}()
	return f()
}

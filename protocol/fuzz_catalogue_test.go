package protocol_test

// FuzzValidateHeader: the header check behind --header, --subject and the
// TUI's send form (security-anchors D6, §5 "FuzzValidateArg"). The issue's
// other fuzz targets live next to the code they test: FuzzReadReply and
// FuzzParseEHLO (fuzz_reply_test.go), FuzzDotEncode (dataenc_test.go),
// FuzzValidateAddress and FuzzValidateLine (validate_test.go), and in
// package session FuzzRecordingReader, FuzzScrub and FuzzSanitize.

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
)

// headerOK is an independent statement of the rule: a name of printable
// ASCII without ':' (RFC 5322 §2.2 ftext), a value without CR, LF or NUL.
func headerOK(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return !strings.ContainsAny(value, "\r\n\x00")
}

// maskValue keeps the bytes that decide a refusal (CR, LF, NUL) and
// replaces every other byte of the value.
func maskValue(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c != '\r' && c != '\n' && c != 0 {
			b[i] = 'Q'
		}
	}
	return string(b)
}

// printable says s has no control, format (bidi) or other non-printing
// character: strconv.Quote escapes those, and so must every refusal.
func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func FuzzValidateHeader(f *testing.F) {
	for _, s := range [][2]string{
		{"Subject", "hi"}, {"X-A", "1\r\nBcc: v@x"}, {"Subject", "hi\nBcc: v@x"}, {"X-A", "a\x00"},
		{"Bad Name", "v"}, {"", "x"}, {"X:A", "x"}, {"X\u00e9", "x"}, {"X\x1b", "x"}, {"X-A\r\nBcc", "x"},
		{"X-Tab", "a\tb"}, {"Authorization", "Bearer s3cr3t-token\r\nX: y"}, {"X-Bidi", "\u202eexe.txt"},
		{"X-Enc", "=?UTF-8?Q?bob=0D=0A?="}, {"X", "\r"}, {"X", "\xff\xfe"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		err := protocol.ValidateHeader(name, value)
		if ok := headerOK(name, value); ok != (err == nil) {
			t.Fatalf("ValidateHeader(%q, %q) = %v, the rule says ok=%v", name, value, err, ok)
		}
		if err == nil {
			// What is accepted is one header line on the wire.
			line := name + ": " + value
			if protocol.ValidateLine(line) != nil || strings.Count(line+"\r\n", "\r\n") != 1 {
				t.Fatalf("accepted %q, %q is not one line", name, value)
			}
			return
		}
		var ve *protocol.ValueError
		if !errors.As(err, &ve) {
			t.Fatalf("refusal %v is a %T, not a *ValueError", err, err)
		}
		if !utf8.ValidString(ve.Msg) || !printable(ve.Msg) {
			t.Fatalf("refusal %q is not printable: it would reach a terminal raw", ve.Msg)
		}
		// The value may be a token: nothing of it but the kind and offset
		// of the byte that made it fail reaches the message.
		if masked := protocol.ValidateHeader(name, maskValue(value)); masked == nil || masked.Error() != err.Error() {
			t.Fatalf("the refusal depends on the value's other bytes: %q vs %v", err, masked)
		}
	})
}

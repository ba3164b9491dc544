package session

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "250 mx.test ESMTP", "250 mx.test ESMTP"},
		{"tab kept", "250\tok", "250\tok"},
		// security-anchors H1: clear screen, set title, OSC 52 clipboard.
		{"H1 ansi-in-banner", "220 \x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07 ok",
			`220 \x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07 ok`},
		// H2: a lone CR would move the cursor back over the "<-  " marker.
		{"H2 CR-overwrite", "250 ok\r*** TLS verified", `250 ok\r*** TLS verified`},
		{"line feed", "a\nb", `a\nb`},
		// H3: bidi overrides and zero-width characters.
		{"H3 bidi", "250 \u202eexe.txt", `250 \u202eexe.txt`},
		{"H3 isolates and marks", "\u2066\u2067\u2068\u2069\u200e\u200f\u061c", `\u2066\u2067\u2068\u2069\u200e\u200f\u061c`},
		{"H3 zero-width", "a\u200bb\u200cc\u200dd\u2060e\ufefff", `a\u200bb\u200cc\u200dd\u2060e\ufefff`},
		{"C1 CSI", "a\u009b31mb", `a\u009b31mb`},
		{"C1 range", "\u0080\u009f", `\u0080\u009f`},
		{"DEL and NUL", "a\x7fb\x00c", `a\x7fb\x00c`},
		{"invalid UTF-8", "has\x00nul \xff\xfe", `has\x00nul \xff\xfe`},
		{"raw C1 byte is invalid UTF-8", "\x9b", `\x9b`},
		{"backslash escaped", `C:\x1b`, `C:\\x1b`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"tag characters", "a\U000E0041b", `a\U000e0041b`},
		{"printable unicode kept", "jöran@例え.jp ✓", "jöran@例え.jp ✓"},
		{"surrogate encoding is invalid", "\xed\xa0\x80", `\xed\xa0\x80`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sanitize([]byte(tt.in))
			if got != tt.want {
				t.Errorf("Sanitize(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
			back, err := Unsanitize(got)
			if err != nil || string(back) != tt.in {
				t.Errorf("Unsanitize(%s) = %q, %v; want %q", got, back, err, tt.in)
			}
		})
	}
}

func TestUnsanitizeRejects(t *testing.T) {
	for _, s := range []string{`\`, `\q`, `\x1`, `\xzz`, `\u12`, `\ud800`, `\U00110000`} {
		if _, err := Unsanitize(s); err == nil {
			t.Errorf("Unsanitize(%q) accepted a malformed escape", s)
		}
	}
}

// checkSafe is the terminal-safety property of Sanitize: valid UTF-8, no
// ESC, CR, LF, other C0 but TAB, DEL, C1, bidi, zero-width or format
// characters.
func checkSafe(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("output is not valid UTF-8: %q", out)
	}
	for _, r := range out {
		switch {
		case r < 0x20 && r != '\t', r == 0x7f, r >= 0x80 && r <= 0x9f:
			t.Fatalf("control %U in output %q", r, out)
		case r >= utf8.RuneSelf && unsafeRune(r):
			t.Fatalf("unsafe %U in output %q", r, out)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		"", "250 ok\r\n", "220 \x1b[2J\x1b]0;pwned\x07", "250 ok\r*** TLS verified",
		"250 \u202eexe.txt\u200b", "\xff\xfe\x00", `\x1b`, "\u009b", "\xc2\x9b", "\U000E0041",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := Sanitize(b)
		checkSafe(t, out)
		if strings.ContainsAny(out, "\x1b\r\n") {
			t.Fatalf("ESC, CR or LF in %q", out)
		}
		back, err := Unsanitize(out)
		if err != nil {
			t.Fatalf("Unsanitize(Sanitize(%q)): %v", b, err)
		}
		if !bytes.Equal(back, b) {
			t.Fatalf("round trip: %q -> %s -> %q", b, out, back)
		}
	})
}

// Issue 12 finding 11: JSON text keeps its meaning, and C1, bidi,
// zero-width, tag characters and DEL become \u escapes (a surrogate pair
// above U+FFFF).
func TestAppendJSONSafe(t *testing.T) {
	in := "a\u009b31m \u202eexe.txt\u200b \U000E0041 \u00e9\u4e16 \x7f \\\" done"
	enc, err := json.Marshal(map[string]string{"k": in})
	if err != nil {
		t.Fatal(err)
	}
	out := AppendJSONSafe(nil, enc)
	for _, r := range []string{"\u009b", "\u202e", "\u200b", "\U000E0041", "\x7f"} {
		if bytes.Contains(out, []byte(r)) {
			t.Errorf("%q left raw in %s", r, out)
		}
	}
	for _, esc := range []string{`\u009b`, `\u202e`, `\u200b`, `\udb40\udc41`, `\u007f`, "\u00e9\u4e16"} {
		if !bytes.Contains(out, []byte(esc)) {
			t.Errorf("%s missing from %s", esc, out)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["k"] != in {
		t.Errorf("round trip: %q, %v", back["k"], err)
	}
}

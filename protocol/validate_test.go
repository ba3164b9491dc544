package protocol

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// wantValueError asserts err is a *ValueError whose text contains every
// part and is safe to print: no raw control byte survives in it.
func wantValueError(t *testing.T, call string, err error, parts ...string) {
	t.Helper()
	var ve *ValueError
	if !errors.As(err, &ve) {
		t.Errorf("%s: err = %v (%T), want *ValueError", call, err, err)
		return
	}
	for _, p := range parts {
		if !strings.Contains(ve.Msg, p) {
			t.Errorf("%s: error %q does not contain %q", call, ve.Msg, p)
		}
	}
	if !printable(ve.Msg) {
		t.Errorf("%s: error text is not printable as it is: %q", call, ve.Msg)
	}
	if errors.Is(err, ErrSMTP) {
		t.Errorf("%s: a ValueError must not match ErrSMTP", call)
	}
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}

// printable: every rune of an error text can be shown as it is, so no
// escape, bidi override or invalid byte reaches the terminal.
func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

// TestValidateLine is smtplib-behaviour §23 case 26 and security-anchors
// D11: the choke point refuses CR, LF and NUL with smtplib's text.
func TestValidateLine(t *testing.T) {
	for _, ok := range []string{"NOOP", "", "MAIL FROM:<a@b> SIZE=10", "EHLO jöran.test", "HELP\tx"} {
		if err := ValidateLine(ok); err != nil {
			t.Errorf("ValidateLine(%q) = %v", ok, err)
		}
	}
	for _, tc := range []struct{ line, want string }{
		{"NOOP\r\nRSET", `command and arguments contain prohibited newline characters: NOOP\r\nRSET`},
		{"mail FROM:<a@x> X\nY", `command and arguments contain prohibited newline characters: mail FROM:<a@x> X\nY`},
		{"ehlo hi\nX-INJECTED", `command and arguments contain prohibited newline characters: ehlo hi\nX-INJECTED`},
		{"rcpt TO:<b@y>\rDATA", `command and arguments contain prohibited newline characters: rcpt TO:<b@y>\rDATA`},
		{"NOOP\x00", `command and arguments contain prohibited NUL character: NOOP\x00`},
		{"NOOP\x1b[2J\n", `command and arguments contain prohibited newline characters: NOOP\x1b[2J\n`},
		{"\r\n", `command and arguments contain prohibited newline characters: \r\n`},
		{"NOOP\u009b31m\xff\n", `command and arguments contain prohibited newline characters: NOOP\u009b31m\xff\n`},
	} {
		err := ValidateLine(tc.line)
		var ve *ValueError
		if !errors.As(err, &ve) || ve.Msg != tc.want {
			t.Errorf("ValidateLine(%q) = %v\nwant %s", tc.line, err, tc.want)
		}
	}
}

// TestValidateLineAuthNotEchoed: a raw AUTH line typed with a newline must
// not put the initial response (base64 of the password) into the error
// (security-anchors §2.1, C10).
func TestValidateLineAuthNotEchoed(t *testing.T) {
	for _, tc := range []struct{ line, keep string }{
		{"AUTH PLAIN AHVzZXIAcGFzcw==\r\n", "AUTH PLAIN [redacted]"},
		{"AUTH PLAIN dXNlcgBwYXNz\r\nRSET", "AUTH PLAIN [redacted]"},
		{"auth login\ndXNlcg==", "auth login [redacted]"},
		{"AUTH PLAIN\nAHVzZXIAcGFzcw==", "AUTH PLAIN [redacted]"},
		{"AUTH\tXOAUTH2 dXNlcj1h\x00", "AUTH\\tXOAUTH2 [redacted]"},
	} {
		err := ValidateLine(tc.line)
		wantValueError(t, "ValidateLine", err, tc.keep)
		for _, secret := range []string{"AHVz", "dXNl"} {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("ValidateLine(%q) echoed the credential: %q", tc.line, err)
			}
		}
	}
}

// quoteAddrCases is smtplib-behaviour §10 and §23 case 28, the brief's
// extra rows, and the security-anchors §2.1 smtplib quirks. valid says
// whether ValidateAddress accepts the input; QuoteAddr formats it either
// way, but never into something that could carry a second path or a
// parameter.
var quoteAddrCases = []struct {
	in, want string
	valid    bool
}{
	{"<>", "<>", true},
	{"", "<>", true},
	{"Name <a@b>", "<a@b>", true},
	{"a@b (c)", "<a@b>", false},
	{"@@@", "<@@@>", true},
	{"<foo", "<foo>", false},
	{"a@b", "<a@b>", true},
	{"<a@b>", "<a@b>", true},
	{`"q" <a@b>`, "<a@b>", true},
	{`"bob> x"@x.test`, `<"bob> x"@x.test>`, true},
	{`Bob <"bob> x"@x.test>`, `<"bob> x"@x.test>`, true},
	{`"Doe, John" <j@x.test>`, "<j@x.test>", true},
	{"  a@b  ", "<a@b>", true},
	{"Name <>", "<>", true},
	// smtplib's silent rewrites: ehlo refuses these, and the formatter
	// alone never lets the tail through.
	{"x@y> NOTIFY=SUCCESS", "<x@y>", false},
	{"bad address", "<bad>", false},
	{"a@b,c@d", "<a@b>", false},
	{"x@y\r\nRSET", "<x@y>", false},
	{"<x@y> ORCPT=rfc822;v@x", "<x@y>", false},
	{`"unterminated@x> NOTIFY=NEVER`, "<>", false},
	{"a@b (comment) > NOTIFY=NEVER", "<a@b>", false},
	{`a@b (x (y) \) z)`, "<a@b>", false},
	{`"a (b)"@c (d)`, `<"a (b)"@c>`, false},
	{`"a\"(b"@c (x`, `<"a\"(b"@c>`, false},
}

func TestQuoteAddr(t *testing.T) {
	for _, tc := range quoteAddrCases {
		if got := QuoteAddr(tc.in); got != tc.want {
			t.Errorf("QuoteAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
		err := ValidateAddress(tc.in)
		if tc.valid && err != nil {
			t.Errorf("ValidateAddress(%q) = %v, want accepted", tc.in, err)
		}
		if !tc.valid && err == nil {
			t.Errorf("ValidateAddress(%q) accepted", tc.in)
		}
	}
}

// TestAddrOnly is smtplib-behaviour §10 and §23 case 24 (VRFY, EXPN).
func TestAddrOnly(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Bob Smith <bob@x>", "bob@x"},
		{"Bob <bob@x>", "bob@x"},
		{"bob@x", "bob@x"},
		{"<bob@x>", "bob@x"},
		{`"q" <a@b>`, "a@b"},
		{"postmaster", "postmaster"},
		{"<>", "<>"},
		{"", ""},
		{"John Smith", "John Smith"}, // not an address: sent as it is
		{"list-name (comment)", "list-name (comment)"},
	} {
		if got := AddrOnly(tc.in); got != tc.want {
			t.Errorf("AddrOnly(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidateAddressAccepts(t *testing.T) {
	for _, a := range []string{
		"", "<>", "a@b", "<a@b>", "Name <a@b>", `"Name" <a@b>`, `"Doe, John" <a@b>`,
		`"bob> x"@x.test`, `<"bob> x"@x.test>`, `"a\"b"@x`, `"a\\"@x`, `""@x`,
		"jöran@x.test", "用户@例子.广告", "postmaster", "user@[192.0.2.1]",
		"user@[IPv6:2001:db8::1]", "a+tag@x.test", "=?UTF-8?Q?J=C3=B6?= <j@x.test>",
	} {
		if err := ValidateAddress(a); err != nil {
			t.Errorf("ValidateAddress(%q) = %v", a, err)
		}
	}
}

// TestValidateAddressRefuses is security-anchors D1, D2 and D5 and the
// brief's rules; each error names the character and its offset.
func TestValidateAddressRefuses(t *testing.T) {
	for _, tc := range []struct {
		in    string
		parts []string
	}{
		{"bob@x.test> NOTIFY=SUCCESS", []string{"unexpected '>' in address", `"bob@x.test> NOTIFY=SUCCESS"`, "at offset 10"}},
		{"<bob@x.test> NOTIFY=SUCCESS", []string{"unexpected space after '>'", "at offset 12"}},
		{"<bob@x.test>> x", []string{"unexpected '>' after '>'", "at offset 12"}},
		{"bob@x.test>\r\nDATA\r\nevil\r\n.", []string{"prohibited newline characters", `'\r' (CR)`, "at offset 11", `\r\nDATA`}},
		{"a@x.test\nRSET", []string{"prohibited newline characters", `'\n' (LF)`, "at offset 8"}},
		{"a@x.test\rRSET", []string{`'\r' (CR)`, "at offset 8"}},
		{"a\x00@x.test", []string{"prohibited NUL character", "at offset 1"}},
		{"a@b\x7f", []string{`'\x7f' (DEL)`, "at offset 3"}},
		{"a@b\x1b[2J", []string{`'\x1b' (ESC)`, "at offset 3"}},
		{"a\tb@x", []string{`'\t' (TAB)`, "at offset 1"}},
		{"a\u0085@x", []string{`control character '\u0085'`, "at offset 1"}},
		{"a\xff@x", []string{"invalid UTF-8 byte 0xff", "at offset 1"}},
		{"a\u00a0b@x", []string{"whitespace U+00A0", "at offset 1"}},
		{"a@b,c@d", []string{"unexpected ','", "one address per argument", "at offset 3"}},
		{"a@b, c@d", []string{"unexpected ','", "at offset 3"}},
		{"A <a@b>, B <c@d>", []string{"unexpected ',' after '>'", "at offset 7"}},
		{"Doe, John <a@b>", []string{"unexpected ','", "at offset 3"}},
		{"bad address", []string{"unexpected space", "at offset 3"}},
		{"a@b (c)", []string{"unexpected space", "at offset 3"}},
		{"<a@b", []string{"unmatched '<'", "at offset 0"}},
		{"a@b>", []string{"unexpected '>'", "at offset 3"}},
		{"<<a@b>>", []string{"unexpected '<'", "at offset 1"}},
		{"< a@b>", []string{"unexpected space", "at offset 1"}},
		{"Evil> <a@b>", []string{"unexpected '>'", "at offset 4"}},
		{`"unterminated@x`, []string{"unterminated quoted local part", "at offset 0"}},
		{`"q"x@y`, []string{"unexpected 'x' after quoted local part", "at offset 3"}},
		{`a@"b c"`, []string{`unexpected '"'`, "at offset 2"}},
		{`a"b"@c`, []string{`unexpected '"'`, "at offset 1"}},
		{"\"q\"\u202ex@y", []string{"unexpected character U+202E after quoted local part", "at offset 3"}},
	} {
		wantValueError(t, "ValidateAddress("+tc.in+")", ValidateAddress(tc.in), tc.parts...)
	}
}

func TestValidateESMTPParam(t *testing.T) {
	for _, ok := range []string{
		"SIZE=1000", "BODY=8BITMIME", "SMTPUTF8", "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;v@x",
		"RET=HDRS", "X-FOO", "AUTH=<>", "ENVID=QQ+2B", "9X=1", "size=25", "MT-PRIORITY=-3",
	} {
		if err := ValidateESMTPParam(ok); err != nil {
			t.Errorf("ValidateESMTPParam(%q) = %v", ok, err)
		}
	}
	for _, tc := range []struct {
		in    string
		parts []string
	}{
		{"", []string{"empty esmtp-param"}},
		{"SIZE=1\r\nRCPT TO:<v@x>", []string{"prohibited newline characters", `'\r' (CR)`, "at offset 6"}}, // D4
		{"X\nY", []string{"prohibited newline characters"}},                                                // case 26
		{"NOTIFY=SUCCESS ORCPT=rfc822;v@x", []string{"one esmtp-param per flag", "at offset 14"}},          // D4
		{" SIZE=1", []string{"unexpected space", "at offset 0"}},
		{"SIZE=1 ", []string{"unexpected space", "at offset 6"}},
		{"=1", []string{"empty keyword"}},
		{"SIZE=", []string{"empty value after '='", "at offset 4"}},
		{"SIZE=1=2", []string{"unexpected '=' in value", "at offset 6"}},
		{"-X", []string{"unexpected '-' in keyword", "at offset 0"}},
		{"X_Y=1", []string{"unexpected '_' in keyword", "at offset 1"}},
		{"SIZE=é", []string{"non-ASCII byte 0xc3 in value", "at offset 5"}},
		{"SIZE=\x7f", []string{`'\x7f' (DEL)`}},
		{"SIZE=1\x00", []string{"prohibited NUL character"}},
	} {
		wantValueError(t, "ValidateESMTPParam("+tc.in+")", ValidateESMTPParam(tc.in), tc.parts...)
	}
}

func TestValidateHeloName(t *testing.T) {
	for _, ok := range []string{
		"c.example", "localhost", "mail.example.com", "my_host", "xn--jran-ioa.test", "jöran.test",
		"[127.0.0.1]", "[IPv6:2001:db8::1]", "[IPv6:::1]", "[ipv6:::ffff:192.0.2.1]", "[x-tag:foo]",
		strings.Repeat("a", 63) + ".test",
	} {
		if err := ValidateHeloName(ok); err != nil {
			t.Errorf("ValidateHeloName(%q) = %v", ok, err)
		}
	}
	for _, tc := range []struct {
		in    string
		parts []string
	}{
		{"", []string{"empty HELO name"}},
		{"me\r\nMAIL FROM:<x@y>", []string{"prohibited newline characters", "HELO name", "at offset 2"}}, // D3
		{"hi\nX-INJECTED", []string{"prohibited newline characters", `hi\nX-INJECTED`}},                  // case 26
		{"a b", []string{"unexpected space", "at offset 1"}},
		{"a..b", []string{"empty label", "at offset 2"}},
		{".a", []string{"empty label", "at offset 0"}},
		{"a.", []string{"empty label", "at offset 2"}},
		{"a>b", []string{"unexpected '>'", "at offset 1"}},
		{"a\u3000b", []string{"whitespace U+3000"}},
		{strings.Repeat("a", 64) + ".test", []string{"label longer than 63 octets"}},
		{strings.Repeat("a.", 128), []string{"at most 255"}},
		{"[1.2.3.4", []string{"unterminated address literal"}},
		{"[]", []string{"empty address literal"}},
		{"[1.2.3]", []string{"invalid IPv4 address literal"}},
		{"[::1]", []string{`needs the "IPv6:" tag`}},
		{"[IPv6:1.2.3.4]", []string{"invalid IPv6 address literal"}},
		{"[IPv6:fe80::1%eth0]", []string{"invalid IPv6 address literal"}},
		{"[x-tag:a]b]", []string{"invalid address literal"}},
		{"[:foo]", []string{"invalid address literal"}},
	} {
		wantValueError(t, "ValidateHeloName("+tc.in+")", ValidateHeloName(tc.in), tc.parts...)
	}
}

// TestValidateHeader is security-anchors D6: refuse rather than fold.
func TestValidateHeader(t *testing.T) {
	for _, ok := range [][2]string{
		{"Subject", "hi"}, {"X-A", "1"}, {"X-Tab", "a\tb"}, {"X-Empty", ""}, {"Subject", "jöran"},
		{"X-Weird!#$%", "v"},
	} {
		if err := ValidateHeader(ok[0], ok[1]); err != nil {
			t.Errorf("ValidateHeader(%q, %q) = %v", ok[0], ok[1], err)
		}
	}
	for _, tc := range []struct {
		name, value string
		parts       []string
	}{
		{"X-A", "1\r\nBcc: v@x", []string{"prohibited newline characters", `header "X-A"`, "at offset 1", "does not fold"}},
		{"Subject", "hi\nBcc: v@x", []string{`'\n' (LF)`, "at offset 2"}},
		{"X-A", "a\x00", []string{"prohibited NUL character", "at offset 1"}},
		{"Bad Name", "v", []string{"unexpected space in header name", "at offset 3"}},
		{"", "x", []string{"empty header name"}},
		{"X:A", "x", []string{"unexpected ':' in header name", "at offset 1"}},
		{"Xé", "x", []string{"non-ASCII byte 0xc3", "at offset 1"}},
		{"X\x1b", "x", []string{`'\x1b' (ESC)`}},
		{"X-A\r\nBcc", "x", []string{"prohibited newline characters", "at offset 3"}},
	} {
		wantValueError(t, "ValidateHeader", ValidateHeader(tc.name, tc.value), tc.parts...)
	}
	// The value may be a token: it is never echoed.
	err := ValidateHeader("Authorization", "Bearer s3cr3t-token\r\nX: y")
	wantValueError(t, "ValidateHeader", err, `header "Authorization"`)
	if err != nil && strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("header value echoed: %q", err)
	}
}

// checkQuoted is an independent check of an envelope path as it goes on
// the wire: "<", an optional quoted local part, then no control, no
// whitespace and none of < > , " until the closing ">".
func checkQuoted(q string) string {
	if len(q) < 2 || q[0] != '<' || q[len(q)-1] != '>' {
		return "not in angle brackets"
	}
	inner := q[1 : len(q)-1]
	if !utf8.ValidString(inner) {
		return "invalid UTF-8"
	}
	if hasControl(inner) {
		return "control character"
	}
	rest := inner
	if strings.HasPrefix(inner, `"`) {
		closed := false
		for i := 1; i < len(inner); i++ {
			if inner[i] == '\\' {
				i++
				continue
			}
			if inner[i] == '"' {
				rest, closed = inner[i+1:], true
				break
			}
		}
		if !closed {
			return "unterminated quote"
		}
		if rest != "" && rest[0] != '@' {
			return "text after the quoted local part"
		}
	}
	for _, r := range rest {
		if strings.ContainsRune(`<>,"`, r) || unicode.IsSpace(r) {
			return "unquoted " + string(r)
		}
	}
	return ""
}

// FuzzValidateAddress is the security-anchors §5 FuzzAddress target.
// Anything accepted has no control characters; whatever the input,
// QuoteAddr gives one path with nothing outside a quoted local part that
// could end it early, which passes ValidateAddress itself and makes one
// command line.
func FuzzValidateAddress(f *testing.F) {
	for _, tc := range quoteAddrCases {
		f.Add(tc.in)
	}
	for _, s := range []string{
		"bob@x.test>\r\nDATA\r\nevil\r\n.", "a@x.test\nRSET", "a\x00@x.test", "toni@example.com> ORCPT=admin@x",
		`"a\"b> c"@x`, `"\`, `<"a>b`, "(((", "a@b (c (d) \\) e", "<a@b> (x)", "\"\"<\"\">", "a\u2028b@x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		err := ValidateAddress(addr)
		q := QuoteAddr(addr)
		_ = AddrOnly(addr)
		if why := checkQuoted(q); why != "" {
			t.Fatalf("QuoteAddr(%q) = %q: %s", addr, q, why)
		}
		if err := ValidateAddress(q); err != nil {
			t.Fatalf("QuoteAddr(%q) = %q, which ValidateAddress refuses: %v", addr, q, err)
		}
		if QuoteAddr(q) != q {
			t.Fatalf("QuoteAddr not idempotent: %q -> %q -> %q", addr, q, QuoteAddr(q))
		}
		if err := ValidateLine("RCPT TO:" + q); err != nil {
			t.Fatalf("QuoteAddr(%q) = %q is not one line: %v", addr, q, err)
		}
		if err != nil {
			var ve *ValueError
			if !errors.As(err, &ve) || !printable(ve.Msg) {
				t.Fatalf("refusal %q (%T) is not a printable ValueError", err, err)
			}
			return
		}
		if hasControl(addr) || !utf8.ValidString(addr) {
			t.Fatalf("accepted %q, which has a control character or invalid UTF-8", addr)
		}
		if box := AddrOnly(addr); box != "" && box != addr && "<"+box+">" != q {
			t.Fatalf("AddrOnly(%q) = %q disagrees with QuoteAddr %q", addr, box, q)
		}
	})
}

// FuzzValidateLine covers the single-line checks (the security-anchors §5
// FuzzValidateArg target): ValidateLine refuses exactly CR, LF and NUL;
// whatever the other validators accept fits in one command or header
// line without adding a word or a line.
func FuzzValidateLine(f *testing.F) {
	for _, s := range []string{
		"NOOP", "NOOP\r\nRSET", "NOOP\x00", "AUTH PLAIN AHVzZXIAcGFzcw==\r\n", "SIZE=1\r\nRCPT TO:<v@x>",
		"NOTIFY=SUCCESS ORCPT=rfc822;v@x", "me\r\nMAIL FROM:<x@y>", "[IPv6:::1]", "[1.2.3.4]", "X-A",
		"Bad Name", "c.example", "ORCPT=rfc822;v@x", "\x1b[31m", "é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateLine(s)
		if bad := strings.ContainsAny(s, "\r\n\x00"); bad != (err != nil) {
			t.Fatalf("ValidateLine(%q) = %v", s, err)
		}
		if err != nil {
			var ve *ValueError
			if !errors.As(err, &ve) || !printable(ve.Msg) {
				t.Fatalf("refusal %q is not a printable ValueError", err)
			}
		}
		printableWord := func(what string) {
			for i := 0; i < len(s); i++ {
				if s[i] <= ' ' || s[i] == 0x7f {
					t.Fatalf("%s accepted %q with byte %#x at %d", what, s, s[i], i)
				}
			}
		}
		if ValidateESMTPParam(s) == nil {
			printableWord("ValidateESMTPParam")
			if s[0] == '-' || s[0] == '=' || strings.Count(s, "=") > 1 || strings.HasSuffix(s, "=") {
				t.Fatalf("ValidateESMTPParam accepted %q", s)
			}
			for _, c := range []byte(s) {
				if c >= 0x80 {
					t.Fatalf("ValidateESMTPParam accepted non-ASCII %q", s)
				}
			}
		}
		if ValidateHeloName(s) == nil {
			printableWord("ValidateHeloName")
			if len(strings.Fields("EHLO "+s)) != 2 || hasControl(s) || !utf8.ValidString(s) {
				t.Fatalf("ValidateHeloName accepted %q", s)
			}
		}
		if ValidateHeader(s, s) == nil {
			printableWord("ValidateHeader name")
			if strings.Contains(s, ":") {
				t.Fatalf("ValidateHeader accepted name %q", s)
			}
			if err := ValidateLine(s + ": " + s); err != nil {
				t.Fatalf("accepted header is not one line: %v", err)
			}
		}
	})
}

func ExampleValidateAddress() {
	for _, a := range []string{"Bob <bob@x.test>", `"bob> x"@x.test`, "bob@x.test> NOTIFY=SUCCESS"} {
		if err := ValidateAddress(a); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println("RCPT TO:" + QuoteAddr(a))
	}
	// Output:
	// RCPT TO:<bob@x.test>
	// RCPT TO:<"bob> x"@x.test>
	// unexpected '>' in address "bob@x.test> NOTIFY=SUCCESS" at offset 10
}

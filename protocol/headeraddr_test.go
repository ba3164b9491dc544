package protocol

import (
	"strings"
	"testing"
)

// FuzzHeaderAddrs: the header-address parser ends on any input without
// panicking, and an address it returns that ValidateAddress accepts is sent
// as it was found: QuoteAddr does not rewrite it.
func FuzzHeaderAddrs(f *testing.F) {
	for _, s := range []string{
		"John", "John, Dinsdale", "Martha <m@x>, Jeff", `"john doe"@y`, "g: a@x, b@y;, c@z",
		"undisclosed-recipients:;", "(c) a@x (d)", "<@a,@b:x@y>", "a@[1.2.3.4]", "a@x (c",
		`"a\`, "<a@x", "a . b @ x . y", "=?UTF-8?Q?bob=0D=0A?= <bob@y>", "g: h: a@x;;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		addrs, err := parseHeaderAddrs(v)
		if err != nil {
			return
		}
		for _, a := range addrs {
			if ValidateAddress(a) != nil {
				continue
			}
			if q := QuoteAddr(a); q != "<"+strings.TrimSpace(a)+">" {
				t.Errorf("%q: address %q is sent as %s", v, a, q)
			}
		}
	})
}

// BenchmarkHeaderAddrs parses a To: header of three addresses, as
// SendMessage does for each address header.
func BenchmarkHeaderAddrs(b *testing.B) {
	const v = ` "John Root" <root@localhost>, Dinsdale <warped@silly.walks.com>, b@y.example`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseHeaderAddrs(v); err != nil {
			b.Fatal(err)
		}
	}
}

package session

import (
	"strings"
	"testing"
)

// TestProxyHeader checks the encodings against the HAProxy PROXY protocol
// specification (proxy-protocol.txt, sections 2.1 and 2.2).
func TestProxyHeader(t *testing.T) {
	sig := "\r\n\r\n\x00\r\nQUIT\n"
	for _, tc := range []struct {
		p    Proxy
		want string
	}{
		{Proxy{Version: 1, Family: "tcp4", Source: "192.0.2.1", Dest: "192.0.2.2", SourcePort: "1000", DestPort: "25"},
			"PROXY TCP4 192.0.2.1 192.0.2.2 1000 25\r\n"},
		{Proxy{Version: 1, Family: "UNKNOWN"}, "PROXY UNKNOWN\r\n"},
		{Proxy{Version: 1, Raw: "PROXY TCP4 a b 1 2"}, "PROXY TCP4 a b 1 2\r\n"},
		{Proxy{Version: 2, Family: "AF_INET", Source: "192.0.2.1", Dest: "192.0.2.2", SourcePort: "1000", DestPort: "25"},
			sig + "\x21\x11\x00\x0c\xc0\x00\x02\x01\xc0\x00\x02\x02\x03\xe8\x00\x19"},
		{Proxy{Version: 2, Command: "LOCAL", Family: "AF_UNSPEC"}, sig + "\x20\x00\x00\x00"},
		{Proxy{Version: 2, Family: "AF_UNIX", Source: "/a", Dest: "/b", SourcePort: "0", DestPort: "0"},
			sig + "\x21\x31\x00\xd8/a" + strings.Repeat("\x00", 106) + "/b" + strings.Repeat("\x00", 106)},
		{Proxy{Version: 2, Raw: "base64:AAE="}, sig + "\x00\x01"},
	} {
		got, err := tc.p.Header()
		if err != nil || string(got) != tc.want {
			t.Errorf("%+v: got %q, %v; want %q", tc.p, got, err, tc.want)
		}
	}
	for _, p := range []Proxy{
		{Version: 3},
		{Version: 1, Family: "TCP4", Source: "a"},
		{Version: 1, Raw: "TCP4\r\nMAIL FROM:<x>"},
		{Version: 1, Family: "TCP4", Source: "a b", Dest: "c", SourcePort: "1", DestPort: "2"},
		{Version: 2, Family: "AF_INET", Source: "::1", Dest: "::2", SourcePort: "1", DestPort: "2"},
		{Version: 2, Family: "AF_INET", Source: "192.0.2.1", Dest: "192.0.2.2", SourcePort: "65536", DestPort: "2"},
		{Version: 2, Family: "AF_BOGUS"},
	} {
		if _, err := p.Header(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
}

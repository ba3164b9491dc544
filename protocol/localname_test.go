package protocol_test

import (
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Without an FQDN the default EHLO name is a literal of the connection's
// own local address, the one the server sees, not of whatever the host
// name resolves to (issue 14 item 9: [127.0.0.1] from 192.0.2.2).
func TestDefaultHostnameIsTheConnectionsAddress(t *testing.T) {
	defer protocol.SetHostname(func() (string, error) { return "localhost", nil })()
	srv := newServer(t, []step{S("220 fake ESMTP")})
	c := newClient(t, protocol.SMTP, withHostname(""), func(o *protocol.Options) { o.SourceAddress = "127.0.0.2" })
	if _, err := c.Connect("127.0.0.1", srv.port); err != nil {
		t.Fatal(err)
	}
	if got := c.LocalHostname(); got != "[127.0.0.2]" {
		t.Errorf("default name %q, want the connection's address [127.0.0.2]", got)
	}
}

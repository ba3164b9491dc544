package sandbox

import (
	"bytes"
	"io"
	"testing"
)

// A5: EHLO refused, HELO accepted: the no-ESMTP downgrade a client with
// --starttls must refuse to fall for.
func TestFaultEhloOnlyRefusedHeloAccepted(t *testing.T) {
	srv, _ := start(t, Config{Faults: faults(t, "reply:ehlo-only=502 5.5.2 EHLO not implemented")})
	c := connect(t, srv)
	c.cmdText("EHLO client.test", 502, "5.5.2 EHLO not implemented")
	c.cmd("HELO client.test", 250)
	c.cmd("QUIT", 221)
}

// F3: a reply line that never ends; the server stops at its cap (1 MiB)
// and closes, so a client test cannot hang.
func TestFaultEndlessLine(t *testing.T) {
	srv, _ := start(t, Config{Faults: faults(t, "endless:greeting=line")})
	c := dial(t, "tcp", srv.Addr())
	all, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(all, []byte("220 AAAA")) || bytes.ContainsAny(all, "\r\n") || len(all) != 4+1<<20 {
		t.Fatalf("got %d bytes starting %q; want \"220 \" and 1 MiB of A with no line end", len(all), all[:min(len(all), 16)])
	}
}

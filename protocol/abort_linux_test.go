//go:build linux

package protocol_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/protocol/smtptest"
)

// Abort stops a Connect that is still dialling a server that never
// answers, at once rather than after Timeout: Ctrl+C on `ehlo send`, Esc
// in the TUI.
func TestAbortStopsTheDial(t *testing.T) {
	host, port := smtptest.Blackhole(t)
	c := newClient(t, protocol.SMTP, withTimeout(30*time.Second))
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := c.Connect(host, port); done <- err }()
	time.Sleep(100 * time.Millisecond) // into the dial; an earlier Abort is the next test's case
	wantNoErr(t, c.Debug().Abort(), "Abort")
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Connect after Abort: %v, want a cancelled dial", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Abort did not stop the dial")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Connect returned after %s", d)
	}
	wantClosed(t, c)
}

// An Abort that comes before the dial has started (no connection, none
// under way) is for the Connect about to start: it fails at once, and the
// one after it goes through.
func TestAbortBeforeTheDial(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), ExpectEOF()})
	c := newClient(t, protocol.SMTP)
	wantNoErr(t, c.Debug().Abort(), "Abort")
	if _, err := c.Connect(srv.host(), srv.port); !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect after an early Abort: %v, want a cancelled dial", err)
	}
	r, err := c.Connect(srv.host(), srv.port)
	if err != nil || r.Code != 220 {
		t.Fatalf("the next Connect: %v %v", r, err)
	}
}

//go:build linux

package session

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/protocol/smtptest"
)

// Ctrl+C while the connect is still waiting for a server that does not
// answer ends the send at once, as an interrupt (exit 130), not after
// Timeout (it used to wait the whole of it: 18.6 s of a 20 s timeout).
func TestSendInterruptedWhileConnecting(t *testing.T) {
	host, port := smtptest.Blackhole(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res := Send(ctx, SendConfig{
		Server: net.JoinHostPort(host, strconv.Itoa(port)), Kind: protocol.SMTP, Helo: "client.test", Timeout: 30 * time.Second,
		From: "a@x.test", HasFrom: true, To: []string{"b@x.test"}, Message: streamed{strings.NewReader("Subject: x\n\nx\n")},
	})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the send ended %s after it began; the interrupt came at 100ms", d.Round(time.Millisecond))
	}
	if !errors.Is(res.Err, ErrInterrupted) || res.ExitCode() != ExitInterrupted {
		t.Errorf("result %v (exit %d), want interrupted (exit %d)", res.Err, res.ExitCode(), ExitInterrupted)
	}
}

// The same for a --repeat run: every connection's dial is stopped.
func TestSendRepeatInterruptedWhileConnecting(t *testing.T) {
	host, port := smtptest.Blackhole(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res := SendRepeat(ctx, SendConfig{
		Server: net.JoinHostPort(host, strconv.Itoa(port)), Kind: protocol.SMTP, Helo: "client.test", Timeout: 30 * time.Second,
		From: "a@x.test", HasFrom: true, To: []string{"b@x.test"},
	}, []byte("Subject: x\r\n\r\nx\r\n"), 4, 2)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the run ended %s after it began; the interrupt came at 100ms", d.Round(time.Millisecond))
	}
	if !errors.Is(res.Err, ErrInterrupted) || res.Messages != 0 {
		t.Errorf("result %v, %d sent; want interrupted, none sent", res.Err, res.Messages)
	}
}

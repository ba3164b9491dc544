package sandbox

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// drip writes s to the server a byte at a time, every interval, in the
// background, until it is written, the server stops taking it, or the test
// ends. It is the slow client of the "slowloris" attack: each byte keeps a
// per-read timeout from firing while the command never completes.
func (c *client) drip(s string, every time.Duration) {
	done := make(chan struct{})
	c.t.Cleanup(func() { close(done) })
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 0; i < len(s); i++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			_ = c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
			if _, err := c.nc.Write([]byte{s[i]}); err != nil {
				return
			}
		}
	}()
}

// timedOutWithin reads the server's 421 and the close, and fails unless
// they came within limit of start: a timeout that each byte renewed would
// come only after the drip, or never.
func (c *client) timedOutWithin(start time.Time, limit time.Duration) {
	c.t.Helper()
	c.expectText(421, "4.4.2 ")
	if took := time.Since(start); took > limit {
		c.t.Fatalf("421 after %v; the whole request is bounded by ReadTimeout, want within %v", took, limit)
	}
	c.expectClosed()
}

// A command line must arrive whole within ReadTimeout of its first byte,
// not within ReadTimeout of each byte (RFC 5321 §4.5.3.2.7 bounds the wait
// for the next command). Here the line would take 6 s to complete at a
// byte every 100 ms; ReadTimeout is 300 ms.
func TestReadTimeoutBoundsACommandLine(t *testing.T) {
	srv, _ := start(t, Config{ReadTimeout: 300 * time.Millisecond})
	c := connect(t, srv)
	c.ehlo()
	begin := time.Now()
	c.drip("NOOP "+strings.Repeat("x", 55)+"\r\n", 100*time.Millisecond)
	c.timedOutWithin(begin, 2*time.Second)
}

// A line of message content, and a BDAT chunk, must arrive within
// ReadTimeout plus what it earns at Postfix's default smtpd_min_data_rate
// (minDataRate octets a second), so a client slower than that is cut off
// near ReadTimeout however steadily it drips.
func TestReadTimeoutBoundsSlowData(t *testing.T) {
	for _, tc := range []struct{ name, cmd string }{
		{"DATA", "DATA"},
		{"BDAT", "BDAT 200 LAST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := start(t, Config{ReadTimeout: 300 * time.Millisecond})
			c := connect(t, srv)
			c.ehlo()
			c.cmd("MAIL FROM:<a@x.test>", 250)
			c.cmd("RCPT TO:<b@x.test>", 250)
			if tc.name == "DATA" {
				c.cmd("DATA", 354)
			} else {
				c.send(tc.cmd)
			}
			begin := time.Now()
			c.drip(strings.Repeat("slow line\r\n", 20), 50*time.Millisecond) // 20 octets a second, 11 s
			c.timedOutWithin(begin, 2*time.Second)
			if srv.Mailbox().Len() != 0 {
				t.Fatal("a partial message was stored")
			}
		})
	}
}

// Content that does not end a line, one long DATA line or a BDAT chunk,
// arriving at twice the minimum rate goes on for as long as it takes,
// well past ReadTimeout: the bound is on the rate, not the size.
func TestDataAboveTheMinimumRateOutlastsReadTimeout(t *testing.T) {
	const pieces = 12 // 1.2 s, four timeouts
	piece := strings.Repeat("y", minDataRate/5)
	for _, name := range []string{"DATA", "BDAT"} {
		t.Run(name, func(t *testing.T) {
			srv, _ := start(t, Config{ReadTimeout: 300 * time.Millisecond})
			c := connect(t, srv)
			c.ehlo()
			c.cmd("MAIL FROM:<a@x.test>", 250)
			c.cmd("RCPT TO:<b@x.test>", 250)
			if name == "DATA" {
				c.cmd("DATA", 354)
			} else {
				c.send(fmt.Sprintf("BDAT %d LAST", pieces*len(piece)))
			}
			for range pieces {
				c.write(piece) // twice minDataRate, no line end
				time.Sleep(100 * time.Millisecond)
			}
			if name == "DATA" {
				c.write("\r\n.\r\n")
			}
			c.expect(250)
			if srv.Mailbox().Len() != 1 {
				t.Fatalf("mailbox holds %d messages, want 1", srv.Mailbox().Len())
			}
		})
	}
}

// A student typing a message by hand in telnet sends a line at a time,
// with pauses: each line has ReadTimeout of its own, however long the
// whole message takes (Exim's smtp_receive_timeout is per line too).
func TestReadTimeoutGivesEachDataLineItsOwn(t *testing.T) {
	srv, _ := start(t, Config{ReadTimeout: 300 * time.Millisecond})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<b@x.test>", 250)
	c.cmd("DATA", 354)
	for _, line := range []string{"Subject: typed", "", "Dear class,", "this took a while", "to type."} {
		time.Sleep(200 * time.Millisecond) // 1 s in all, over three timeouts
		c.send(line)
	}
	c.send(".")
	c.expect(250)
	if srv.Mailbox().Len() != 1 {
		t.Fatalf("mailbox holds %d messages, want 1", srv.Mailbox().Len())
	}
}

// Command gosmtp sends one message N times over one connection with
// github.com/emersion/go-smtp's client, the way a Go program using that
// library would: Dial, Hello, then SendMail on the open connection for each
// message, then Quit. It is the go-smtp row of `make compare`
// (testdata/compare/compare.py); it prints one line:
//
//	gosmtp: N messages in S s: R messages/s
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:25", "server host:port")
	n := flag.Int("n", 1, "messages to send")
	from := flag.String("from", "sender@example.com", "envelope sender")
	to := flag.String("to", "rcpt@example.com", "envelope recipient")
	data := flag.String("data", "", "message file (CRLF line ends)")
	helo := flag.String("helo", "client.example.com", "EHLO name")
	flag.Parse()
	if err := run(*addr, *n, *from, *to, *data, *helo); err != nil {
		fmt.Fprintln(os.Stderr, "gosmtp:", err)
		os.Exit(1)
	}
}

func run(addr string, n int, from, to, data, helo string) error {
	msg, err := os.ReadFile(data)
	if err != nil {
		return err
	}
	start := time.Now()
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(helo); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := c.SendMail(from, []string{to}, bytes.NewReader(msg)); err != nil {
			return fmt.Errorf("message %d: %w", i+1, err)
		}
	}
	if err := c.Quit(); err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Printf("gosmtp: %d messages in %.3f s: %.1f messages/s\n", n, d.Seconds(), float64(n)/d.Seconds())
	return nil
}

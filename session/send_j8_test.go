package session

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestCatalogueJ8SendDataTimeout: `ehlo send --data-timeout` against a
// server that drains the message slowly but steadily (progress within
// every --timeout): the send stops at the data timeout, exit 26 at stage
// dot, and the server never gets the end of data.
func TestCatalogueJ8SendDataTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ended := make(chan bool, 1)
	stop := make(chan struct{})
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			ended <- false
			return
		}
		defer conn.Close()
		conn.(*net.TCPConn).SetReadBuffer(4096)
		br := bufio.NewReader(conn)
		io.WriteString(conn, "220 slow ESMTP\r\n")
		for {
			line, err := br.ReadString('\n')
			if err != nil || len(line) < 4 {
				ended <- false
				return
			}
			switch strings.ToUpper(line[:4]) {
			case "EHLO":
				io.WriteString(conn, "250 slow\r\n")
			case "DATA":
				io.WriteString(conn, "354 go ahead\r\n")
				var tail []byte
				buf := make([]byte, 4096)
				for {
					select {
					case <-stop: // the client gave up; what is still in its buffers is of no interest
						ended <- false
						return
					default:
					}
					time.Sleep(5 * time.Millisecond)
					n, err := br.Read(buf)
					tail = append(tail, buf[:n]...)
					if len(tail) > 16 {
						tail = tail[len(tail)-16:]
					}
					if bytes.HasSuffix(tail, []byte("\r\n.\r\n")) {
						io.WriteString(conn, "250 queued\r\n")
						ended <- true
						return
					}
					if err != nil {
						ended <- false
						return
					}
				}
			default:
				io.WriteString(conn, "250 ok\r\n")
			}
		}
	}()
	msg := "Subject: slow\r\n\r\n" + strings.Repeat(strings.Repeat("z", 900)+"\r\n", 40000) // 36 MB
	start := time.Now()
	res := Send(context.Background(), SendConfig{
		Server: ln.Addr().String(), Timeout: 2 * time.Second, DataTimeout: 300 * time.Millisecond,
		From: "a@x.test", HasFrom: true, To: []string{"b@x.test"}, Message: streamed{strings.NewReader(msg)},
	})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("send took %s", d)
	}
	if res.ExitCode() != 26 || res.Stage != StageDot || !strings.Contains(res.Err.Error(), "data timeout (300ms)") {
		t.Fatalf("exit %d stage %s err %v", res.ExitCode(), res.Stage, res.Err)
	}
	close(stop)
	if <-ended {
		t.Fatal("the server got the end of data")
	}
}

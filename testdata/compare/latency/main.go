// Command latency is a TCP proxy on loopback that holds every byte the
// server sends for a fixed delay before passing it on, so that each reply
// reaches the client DELAY after the server wrote it; what the client sends
// passes at once. It stands in for `tc netem` where the kernel has no
// sch_netem (the machine `make compare` was first run on has none), and
// behaves like a server that waits DELAY before every reply, except that
// replies written together (a pipelined group's) are delayed together
// rather than one after another: it models latency, which is what
// PIPELINING and CHUNKING save, not a server's thinking time.
//
//	latency -listen 127.0.0.1:0 -target 127.0.0.1:2525 -delay 5ms
//
// It prints "listening on ADDR" once it accepts connections, and exits on
// SIGINT or SIGTERM, or after -max-time.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept clients on (loopback only)")
	target := flag.String("target", "", "server address, host:port (loopback only)")
	delay := flag.Duration("delay", 5*time.Millisecond, "how long each server write is held")
	maxTime := flag.Duration("max-time", 30*time.Minute, "exit after this long whatever happens")
	flag.Parse()
	for _, a := range []string{*listen, *target} {
		if !loopback(a) {
			fmt.Fprintf(os.Stderr, "latency: %q is not a loopback address\n", a)
			os.Exit(2)
		}
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", l.Addr())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		select {
		case <-sig:
		case <-time.After(*maxTime):
		}
		os.Exit(0)
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "latency:", err)
			os.Exit(1)
		}
		go proxy(c.(*net.TCPConn), *target, *delay)
	}
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func proxy(client *net.TCPConn, target string, delay time.Duration) {
	defer client.Close()
	sc, err := net.Dial("tcp", target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		return
	}
	server := sc.(*net.TCPConn)
	defer server.Close()
	done := make(chan struct{})
	go func() {
		// Client to server: at once.
		io.Copy(server, client)
		server.CloseWrite()
		close(done)
	}()
	// Server to client: each read is stamped and written DELAY later, in
	// order, by a second goroutine, so that reading never waits for the
	// delay and consecutive writes keep their spacing.
	type chunk struct {
		due  time.Time
		data []byte
	}
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 64<<10)
			n, err := server.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range q {
		if d := time.Until(ch.due); d > 0 {
			time.Sleep(d)
		}
		if _, err := client.Write(ch.data); err != nil {
			go func() {
				for range q { // let the reader finish
				}
			}()
			break
		}
	}
	client.CloseWrite()
	<-done
}

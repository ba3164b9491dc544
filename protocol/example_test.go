package protocol_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// exampleServer is a tiny in-process mail server for the examples: it
// offers STARTTLS with a certificate it generates, then PLAIN inside TLS,
// accepts mail for anyone but nobody@…, and in LMTP mode gives one reply
// per recipient after the message. It records the envelope it receives.
type exampleServer struct {
	Host  string
	Port  int
	Roots *x509.CertPool // trust this to verify the server's certificate

	ln       net.Listener
	cert     tls.Certificate
	lmtp     bool
	wg       sync.WaitGroup
	mu       sync.Mutex
	envelope []string
}

func startExampleServer(lmtp bool) *exampleServer {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mail.example"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	leaf, _ := x509.ParseCertificate(der)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := &exampleServer{
		Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Roots: x509.NewCertPool(),
		ln: ln, cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, lmtp: lmtp,
	}
	s.Roots.AddCert(leaf)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		s.serve(conn)
	}()
	return s
}

// Envelope returns the MAIL and RCPT commands the server accepted, once
// the client has quit.
func (s *exampleServer) Envelope() []string {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.envelope
}

func (s *exampleServer) Close() { s.ln.Close(); s.wg.Wait() }

func (s *exampleServer) serve(conn net.Conn) {
	r := bufio.NewReader(conn)
	say := func(lines ...string) { fmt.Fprint(conn, strings.Join(lines, "\r\n")+"\r\n") }
	say("220 mail.example ESMTP")
	inTLS := false
	var rcpts []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		switch verb {
		case "EHLO", "LHLO":
			if inTLS {
				say("250-mail.example", "250-AUTH PLAIN", "250 SIZE 10240000")
			} else {
				say("250-mail.example", "250-STARTTLS", "250 SIZE 10240000")
			}
		case "STARTTLS":
			say("220 2.0.0 go ahead")
			tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{s.cert}})
			if tc.Handshake() != nil {
				return
			}
			conn, r, inTLS = tc, bufio.NewReader(tc), true
		case "AUTH":
			say("235 2.7.0 authenticated")
		case "MAIL":
			rcpts = nil
			s.record(line)
			say("250 2.1.0 ok")
		case "RCPT":
			s.record(line)
			if strings.Contains(line, "nobody@") {
				say("550 5.1.1 no such user")
				continue
			}
			rcpts = append(rcpts, line)
			say("250 2.1.5 ok")
		case "DATA":
			say("354 go ahead")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			if !s.lmtp {
				say("250 2.0.0 queued")
				continue
			}
			for i := range rcpts {
				if i == 1 {
					say("452 4.2.2 mailbox full")
				} else {
					say("250 2.0.0 delivered")
				}
			}
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("502 5.5.2 not implemented")
		}
	}
}

func (s *exampleServer) record(line string) {
	s.mu.Lock()
	s.envelope = append(s.envelope, line)
	s.mu.Unlock()
}

// A whole session: connect, EHLO, STARTTLS (the certificate is verified
// against the roots in TLSConfig), log in over TLS, send a message whose
// envelope comes from its headers (Bcc included, but never transmitted),
// and quit.
func Example() {
	srv := startExampleServer(false)
	defer srv.Close()

	c, greeting, err := protocol.Dial(protocol.SMTP, srv.Host, srv.Port, protocol.Options{
		LocalHostname: "client.example",
		Timeout:       5 * time.Second,
		TLSConfig:     &tls.Config{RootCAs: srv.Roots},
	})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	fmt.Println(greeting.Code, greeting.Message)

	if _, err := c.Ehlo(""); err != nil {
		fmt.Println("ehlo:", err)
		return
	}
	fmt.Println("STARTTLS offered:", c.HasExtn("starttls"), "AUTH offered:", c.HasExtn("auth"))

	if _, err := c.StartTLS(nil); err != nil {
		fmt.Println("starttls:", err)
		return
	}
	fmt.Println("encrypted:", c.State().TLS, "extensions forgotten:", len(c.Features()) == 0)

	// Login greets again (inside TLS) and picks PLAIN, the only offer.
	r, err := c.Login("alice", "secret", true)
	if err != nil {
		fmt.Println("login:", err)
		return
	}
	fmt.Println(r.Code, r.Message)

	msg := "From: Alice <alice@example.org>\r\n" +
		"To: bob@example.net, Nobody <nobody@example.net>\r\n" +
		"Bcc: carol@example.com\r\n" +
		"Subject: hello\r\n" +
		"\r\n" +
		"Hi Bob.\r\n"
	refused, err := c.SendMessage(strings.NewReader(msg), nil, nil, nil)
	if err != nil {
		fmt.Println("send:", err)
		return
	}
	for rcpt, reply := range refused {
		fmt.Println("refused:", rcpt, reply.Code, reply.Message)
	}

	r, _ = c.Quit()
	fmt.Println(r.Code, r.Message)
	for _, line := range srv.Envelope() {
		fmt.Println("server got:", line)
	}
	// Output:
	// 220 mail.example ESMTP
	// STARTTLS offered: true AUTH offered: false
	// encrypted: true extensions forgotten: true
	// 235 2.7.0 authenticated
	// refused: nobody@example.net 550 5.1.1 no such user
	// 221 2.0.0 bye
	// server got: mail FROM:<alice@example.org> size=110
	// server got: rcpt TO:<bob@example.net>
	// server got: rcpt TO:<nobody@example.net>
	// server got: rcpt TO:<carol@example.com>
}

// LMTP gives one reply per accepted recipient after the message (RFC 2033):
// Sendmail reports the recipients refused at delivery, and LMTPReplies has
// every recipient's reply in RCPT order.
func ExampleClient_LMTPReplies() {
	srv := startExampleServer(true)
	defer srv.Close()

	c, _, err := protocol.Dial(protocol.LMTP, srv.Host, srv.Port, protocol.Options{
		LocalHostname: "client.example",
		Timeout:       5 * time.Second,
	})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()

	refused, err := c.Sendmail("alice@example.org", []string{"bob@example.net", "carol@example.net"},
		strings.NewReader("Subject: hi\r\n\r\nhello\r\n"), nil, nil)
	if err != nil {
		fmt.Println("sendmail:", err)
		return
	}
	for _, rr := range c.LMTPReplies() {
		fmt.Println(rr.Recipient, rr.Code, rr.Message)
	}
	fmt.Println("refused:", len(refused), refused["carol@example.net"].Code)
	c.Quit()
	// Output:
	// bob@example.net 250 2.0.0 delivered
	// carol@example.net 452 4.2.2 mailbox full
	// refused: 1 452
}

// ParseEHLO reads an EHLO reply as smtplib does: keywords lower-cased, the
// parameters of AUTH (old-style AUTH= included) accumulated.
func ExampleParseEHLO() {
	features, exts := protocol.ParseEHLO("mx.example\nSIZE 35882577\nAUTH=LOGIN\nAUTH PLAIN LOGIN\n8BITMIME")
	fmt.Printf("%q\n", features["size"])
	fmt.Printf("%q\n", features["auth"])
	for _, e := range exts {
		fmt.Println(e.Keyword, e.Params)
	}
	// Output:
	// "35882577"
	// " LOGIN PLAIN LOGIN"
	// SIZE 35882577
	// AUTH LOGIN
	// AUTH PLAIN LOGIN
	// 8BITMIME
}

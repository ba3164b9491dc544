package protocol_test

import (
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
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/protocol/smtptest"
)

// The examples talk to a protocol/smtptest server that plays the
// conversation each one has, strictly: a line the client sends that is
// not in the script fails it. exampleT stands for the *testing.T a real
// test would give smtptest, and prints what it reports.
type exampleT struct{ cleanups []func() }

func (t *exampleT) Helper()                           {}
func (t *exampleT) Errorf(format string, args ...any) { fmt.Printf("FAIL: "+format+"\n", args...) }
func (t *exampleT) Fatalf(format string, args ...any) { t.Errorf(format, args...) }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }

// done ends the example as a test ends: the server stops after the
// client has gone, and reports a conversation left unfinished.
func (t *exampleT) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// exampleCert is a self-signed certificate for 127.0.0.1, and the pool
// that trusts it.
func exampleCert() (tls.Certificate, *x509.CertPool) {
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
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots
}

// A whole session: connect, EHLO, STARTTLS (the certificate is verified
// against the roots in TLSConfig), log in over TLS, send a message whose
// envelope comes from its headers (Bcc included, but never transmitted),
// and quit.
func Example() {
	t := &exampleT{}
	defer t.done()
	cert, roots := exampleCert()
	srv := smtptest.NewServer(t, []smtptest.Step{
		smtptest.S("220 mail.example ESMTP"),
		smtptest.C("ehlo client.example"), smtptest.S("250-mail.example", "250-STARTTLS", "250 SIZE 10240000"),
		smtptest.C("STARTTLS"), smtptest.S("220 2.0.0 go ahead"),
		smtptest.StartTLS(cert),
		smtptest.C("ehlo client.example"), smtptest.S("250-mail.example", "250-AUTH PLAIN", "250 SIZE 10240000"),
		smtptest.C("AUTH PLAIN AGFsaWNlAHNlY3JldA=="), smtptest.S("235 2.7.0 authenticated"),
		smtptest.C("mail FROM:<alice@example.org> size=110"), smtptest.S("250 2.1.0 ok"),
		smtptest.C("rcpt TO:<bob@example.net>"), smtptest.S("250 2.1.5 ok"),
		smtptest.C("rcpt TO:<nobody@example.net>"), smtptest.S("550 5.1.1 no such user"),
		smtptest.C("rcpt TO:<carol@example.com>"), smtptest.S("250 2.1.5 ok"),
		smtptest.C("data"), smtptest.S("354 go ahead"),
		smtptest.CData("From: Alice <alice@example.org>\r\nTo: bob@example.net, Nobody <nobody@example.net>\r\n" +
			"Subject: hello\r\n\r\nHi Bob.\r\n.\r\n"),
		smtptest.S("250 2.0.0 queued"),
		smtptest.C("quit"), smtptest.S("221 2.0.0 bye"),
	})

	c, greeting, err := protocol.Dial(protocol.SMTP, srv.Host(), srv.Port(), protocol.Options{
		LocalHostname: "client.example",
		Timeout:       5 * time.Second,
		TLSConfig:     &tls.Config{RootCAs: roots},
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
	// Output:
	// 220 mail.example ESMTP
	// STARTTLS offered: true AUTH offered: false
	// encrypted: true extensions forgotten: true
	// 235 2.7.0 authenticated
	// refused: nobody@example.net 550 5.1.1 no such user
	// 221 2.0.0 bye
}

// LMTP gives one reply per accepted recipient after the message (RFC 2033):
// Sendmail reports the recipients refused at delivery, and LMTPReplies has
// every recipient's reply in RCPT order.
func ExampleClient_LMTPReplies() {
	t := &exampleT{}
	defer t.done()
	srv := smtptest.NewServer(t, []smtptest.Step{
		smtptest.S("220 mail.example LMTP"),
		smtptest.C("lhlo client.example"), smtptest.S("250-mail.example", "250 8BITMIME"),
		smtptest.C("mail FROM:<alice@example.org>"), smtptest.S("250 2.1.0 ok"),
		smtptest.C("rcpt TO:<bob@example.net>"), smtptest.S("250 2.1.5 ok"),
		smtptest.C("rcpt TO:<carol@example.net>"), smtptest.S("250 2.1.5 ok"),
		smtptest.C("data"), smtptest.S("354 go ahead"),
		smtptest.CData("Subject: hi\r\n\r\nhello\r\n.\r\n"),
		smtptest.S("250 2.0.0 delivered", "452 4.2.2 mailbox full"),
		smtptest.C("quit"), smtptest.S("221 2.0.0 bye"),
	})

	c, _, err := protocol.Dial(protocol.LMTP, srv.Host(), srv.Port(), protocol.Options{
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

// A debugger sends lines as the user typed them through Client.Debug; the
// client keeps its idea of the conversation true, as if its own methods
// had sent them.
func ExampleClient_Debug() {
	t := &exampleT{}
	defer t.done()
	srv := smtptest.NewServer(t, []smtptest.Step{
		smtptest.S("220 mail.example ESMTP"),
		smtptest.C("EHLO me.example"), smtptest.S("250-mail.example", "250 PIPELINING"),
		smtptest.C("MAIL FROM:<a@example.org>"), smtptest.S("250 2.1.0 ok"),
		smtptest.C("RCPT TO:<b@example.org>"), smtptest.S("550 5.1.1 no such user"),
		smtptest.C("RSET"), smtptest.S("250 2.0.0 ok"),
		smtptest.C("QUIT"), smtptest.S("221 2.0.0 bye"),
	})
	c, _, err := protocol.Dial(protocol.SMTP, srv.Host(), srv.Port(), protocol.Options{Timeout: 5 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := c.Debug()
	for _, line := range []string{"EHLO me.example", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "RSET", "QUIT"} {
		r, err := d.Raw(line)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-26s %d %-8s phase %s\n", line, r.Code, r.Enhanced(), c.State().Phase)
	}
	// QUIT, typed, forgot what EHLO said and closed, as Quit does.
	fmt.Println("PIPELINING offered:", c.HasExtn("pipelining"), "connected:", c.Connected())
	// Output:
	// EHLO me.example            250          phase hello
	// MAIL FROM:<a@example.org>  250 2.1.0    phase mail
	// RCPT TO:<b@example.org>    550 5.1.1    phase mail
	// RSET                       250 2.0.0    phase hello
	// QUIT                       221 2.0.0    phase disconnected
	// PIPELINING offered: false connected: false
}

package smtptest_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/protocol/smtptest"
)

// A test of code that sends mail scripts the conversation it expects; a
// client that sends anything else fails the test at that line. In a real
// test t is the test's *testing.T; here fakeT (smtptest_test.go) collects
// the failures, and there are none.
func Example() {
	t := &fakeT{}
	defer func() { fmt.Println("failures:", t.end()) }()
	srv := smtptest.NewServer(t, []smtptest.Step{
		smtptest.S("220 mx.example ESMTP"),
		smtptest.C("ehlo client.example"), smtptest.S("250-mx.example", "250 8BITMIME"),
		smtptest.C("mail FROM:<a@example.org>"), smtptest.S("250 2.1.0 ok"),
		smtptest.C("rcpt TO:<b@example.org>"), smtptest.S("550 5.1.1 no such user"),
		smtptest.C("rset"), smtptest.S("250 2.0.0 ok"),
		smtptest.C("quit"), smtptest.S("221 2.0.0 bye"),
	})
	c, _, err := protocol.Dial(protocol.SMTP, srv.Host(), srv.Port(), protocol.Options{
		LocalHostname: "client.example", Timeout: 5 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.Sendmail("a@example.org", []string{"b@example.org"}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n"), nil, nil)
	if rr, ok := err.(*protocol.RecipientsRefusedError); ok {
		fmt.Println(rr.Recipients["b@example.org"].Enhanced())
	}
	c.Quit()
	fmt.Printf("%q\n", srv.Wait(0).All())
	// Output:
	// 5.1.1
	// "ehlo client.example\r\nmail FROM:<a@example.org>\r\nrcpt TO:<b@example.org>\r\nrset\r\nquit\r\n"
	// failures: []
}

package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/protocol/smtptest"
)

// A server that offers no AUTH fails the send at the auth stage (exit 28);
// when it offers STARTTLS and the send did not take it, the error says
// that servers often offer AUTH only after it, since that is the usual
// cause (Postfix's smtpd_tls_auth_only), and says nothing of the kind
// otherwise.
func TestSendAuthNotAdvertised(t *testing.T) {
	for _, tc := range []struct {
		name, caps, want string
		hint             bool
	}{
		{"starttls offered", "250 STARTTLS", "Host did not advertise authentication before TLS; it offers STARTTLS", true},
		{"no starttls", "250 8BITMIME", "Host did not advertise authentication", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, []smtptest.Step{
				smtptest.S("220 noauth.test ESMTP"),
				smtptest.C("ehlo client.test"),
				smtptest.S("250-noauth.test", tc.caps),
				smtptest.C("quit"), smtptest.S("221 bye"),
			})
			res := Send(context.Background(), SendConfig{
				Server: srv.Host(), Port: srv.Port(), Kind: protocol.SMTP, Helo: "client.test", Timeout: 5 * time.Second,
				From: "a@client.test", HasFrom: true, To: []string{"b@noauth.test"},
				Message:  strings.NewReader("Subject: x\r\n\r\nhello\r\n"),
				AuthMech: "auto", AuthUser: "alice", AuthPassword: "pw", AuthCleartext: true,
			})
			if res.ExitCode() != 28 || res.Err == nil {
				t.Fatalf("exit %d (%v), want 28", res.ExitCode(), res.Err)
			}
			msg := res.Err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "STARTTLS") != tc.hint {
				t.Fatalf("error %q, want %q (the STARTTLS hint: %v)", msg, tc.want, tc.hint)
			}
		})
	}
}

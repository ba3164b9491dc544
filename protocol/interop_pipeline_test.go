//go:build interop

package protocol_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// iopPipelinedTransactions sends twelve messages through a Pipeline after
// STARTTLS and AUTH, every fourth to the server's unknown recipient. Each
// is judged on its own replies and every other one is delivered intact.
// Where the server offers PIPELINING they go one behind another: with
// CHUNKING as RSET, MAIL, RCPT and BDAT LAST in one write, several in
// flight; without it, a message's dot and the next RSET, MAIL, RCPT and
// DATA in one write.
func iopPipelinedTransactions(t *testing.T, s iopSMTPServer) {
	t.Run("BDAT", func(t *testing.T) { iopPipelined(t, s, true) })
	t.Run("DATA", func(t *testing.T) { iopPipelined(t, s, false) })
}

func iopPipelined(t *testing.T, s iopSMTPServer, chunking bool) {
	tr := iopNewTranscript(t)
	opts := iopOptions(tr, nil)
	opts.Pipelining, opts.Chunking = true, chunking
	c := iopDial(t, protocol.SMTP, s.addr, opts)
	if r, err := c.StartTLS(iopCAConfig(t, s.caFile, interopCertName)); err != nil || r.Code != 220 {
		t.Fatalf("STARTTLS: %d %q, %v", r.Code, r.Message, err)
	}
	if r, err := c.Login("alice", "alicepw", true); err != nil || r.Code != 235 {
		t.Fatalf("Login: %d %q, %v", r.Code, r.Message, err)
	}
	var got []protocol.TxResult
	p := c.NewPipeline(4, func(r protocol.TxResult) { got = append(got, r) })
	base := iopToken(t)
	for i := 0; i < 12; i++ {
		to := "bob@example.test"
		if s.unknownRcpt != "" && i%4 == 3 {
			to = s.unknownRcpt
		}
		tok := fmt.Sprintf("%s-%02d", base, i)
		p.Send("alice@example.test", []string{to}, []byte(iopMessage(tok, "alice@example.test", to)), nil, nil)
	}
	p.Flush()
	inFlight := p.MaxInFlight()
	if c.HasExtn("pipelining") && (inFlight < 2 || !strings.Contains(tr.String(), "C: rset\nC: mail FROM:")) {
		t.Errorf("%s offers PIPELINING, but transactions were not pipelined (%d in flight at most)", s.name, inFlight)
	}
	t.Logf("%s: PIPELINING %v, CHUNKING %v, up to %d transactions in flight", s.name, c.HasExtn("pipelining"), c.HasExtn("chunking"), inFlight)
	if len(got) != 12 {
		t.Fatalf("%d results, want 12", len(got))
	}
	for i, r := range got {
		bad := s.unknownRcpt != "" && i%4 == 3
		var rre *protocol.RecipientsRefusedError
		switch {
		case bad && (!errors.As(r.Err, &rre) || rre.Recipients[s.unknownRcpt].Code != s.unknownCode):
			t.Errorf("message %d to %s: %v, want refused with %d", i, s.unknownRcpt, r.Err, s.unknownCode)
		case !bad && (r.Err != nil || len(r.Refused) != 0):
			t.Errorf("message %d: refused %v, %v", i, r.Refused, r.Err)
		}
	}
	iopNoop(t, c)
	iopQuit(t, c)
	for i := 0; i < 12; i++ {
		if s.unknownRcpt != "" && i%4 == 3 {
			continue
		}
		tok := fmt.Sprintf("%s-%02d", base, i)
		iopCheckBody(t, iopFindMail(t, s.mailbox("bob"), tok), tok)
	}
}

// iopLMTPPipelined sends six messages through a Pipeline over the LMTP
// socket, each to a recipient that is delivered and one refused after the
// message: every transaction gets its own per-recipient replies.
func iopLMTPPipelined(t *testing.T, s iopLMTPServer) {
	tr := iopNewTranscript(t)
	opts := iopOptions(tr, nil)
	opts.Pipelining, opts.Chunking = true, true
	c := iopDial(t, protocol.LMTP, s.socket, opts)
	iopEhlo(t, c)
	var got []protocol.TxResult
	p := c.NewPipeline(0, func(r protocol.TxResult) { got = append(got, r) })
	base := iopToken(t)
	for i := 0; i < 6; i++ {
		tok := fmt.Sprintf("%s-%02d", base, i)
		p.Send("sender@example.org", []string{"alice@example.test", s.failRcpt},
			[]byte(iopMessage(tok, "sender@example.org", "alice@example.test")), nil, nil)
	}
	p.Flush()
	inFlight := p.MaxInFlight()
	t.Logf("%s: PIPELINING %v, CHUNKING %v, up to %d transactions in flight", s.name, c.HasExtn("pipelining"), c.HasExtn("chunking"), inFlight)
	if c.HasExtn("pipelining") && inFlight < 2 {
		t.Errorf("%s offers PIPELINING, but transactions were not pipelined", s.name)
	}
	if len(got) != 6 {
		t.Fatalf("%d results, want 6", len(got))
	}
	for i, r := range got {
		if r.Err != nil || len(r.Refused) != 1 || r.Refused[s.failRcpt].Code != s.failCode {
			t.Errorf("transaction %d: refused %v, %v; want only %s with %d", i, r.Refused, r.Err, s.failRcpt, s.failCode)
		}
	}
	iopNoop(t, c)
	iopQuit(t, c)
	for i := 0; i < 6; i++ {
		tok := fmt.Sprintf("%s-%02d", base, i)
		iopCheckBody(t, iopFindMail(t, s.mailbox("alice"), tok), tok)
	}
}

package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
)

func withFast() optFn {
	return func(o *protocol.Options) { o.Pipelining, o.Chunking = true, true }
}

// tx is one pipelined transaction as the server reads it: RSET first when
// it was written behind another, then MAIL, RCPT and the one chunk.
func tx(rset bool, to string, body string) []step {
	var s []step
	if rset {
		s = append(s, C("rset"))
	}
	return append(s, C("mail FROM:<a@x.test>"), C("rcpt TO:<"+to+">"),
		C(fmt.Sprintf("BDAT %d LAST", len(body))), CRaw(body))
}

// results collects what a Pipeline reports.
type results []protocol.TxResult

func (r *results) add(x protocol.TxResult) { *r = append(*r, x) }

// The server reads three whole transactions before it answers anything: a
// client that waited for a reply before writing the next transaction
// would stall here until its timeout.
func TestPipelineWritesAheadOfReplies(t *testing.T) {
	srv := newServer(t, script(greet("PIPELINING", "CHUNKING"),
		tx(false, "b@y.test", "hi\r\n"), tx(true, "b@y.test", "hi\r\n"), tx(true, "b@y.test", "hi\r\n"),
		[]step{SRaw("250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 one\r\n" +
			"250 2.0.0 reset\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 two\r\n" +
			"250 2.0.0 reset\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 three\r\n"),
			C("quit"), S("221 bye")}))
	rec := &sendRecorder{}
	c := srv.mustDial(t, withFast(), withTracer(rec))
	var got results
	p := c.NewPipeline(0, got.add)
	for i := 0; i < 3; i++ {
		p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	}
	if p.Pending() != 3 || len(got) != 0 {
		t.Fatalf("after three Sends: %d pending, %d reported; want 3 and 0", p.Pending(), len(got))
	}
	p.Flush()
	if len(got) != 3 {
		t.Fatalf("reported %d transactions, want 3", len(got))
	}
	for i, r := range got {
		if r.Err != nil || len(r.Refused) != 0 {
			t.Errorf("transaction %d: %v %v", i, r.Refused, r.Err)
		}
		if r.Written.After(r.Envelope) || r.Envelope.After(r.Done) {
			t.Errorf("transaction %d: times out of order: %v %v %v", i, r.Written, r.Envelope, r.Done)
		}
	}
	// One write per transaction.
	if w := rec.find("mail FROM:"); string(w) != "mail FROM:<a@x.test>\r\nrcpt TO:<b@y.test>\r\nBDAT 4 LAST\r\nhi\r\n" {
		t.Errorf("first transaction's write = %q", w)
	}
	if w := rec.find("rset"); !bytes.HasPrefix(w, []byte("rset\r\nmail FROM:")) || !bytes.HasSuffix(w, []byte("BDAT 4 LAST\r\nhi\r\n")) {
		t.Errorf("a pipelined transaction's write = %q", w)
	}
	if r, err := c.Quit(); err != nil || r.Code != 221 {
		t.Fatalf("QUIT: %v %v", r, err)
	}
}

// Depth bounds what is in flight: the third Send first reads the first
// transaction's replies.
func TestPipelineDepth(t *testing.T) {
	ok := "250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 done\r\n"
	srv := newServer(t, script(greet("PIPELINING", "CHUNKING"),
		tx(false, "b@y.test", "hi\r\n"), tx(true, "b@y.test", "hi\r\n"), []step{SRaw(ok)},
		tx(true, "b@y.test", "hi\r\n"), []step{SRaw("250 reset\r\n" + ok + "250 reset\r\n" + ok)}))
	c := srv.mustDial(t, withFast())
	var got results
	p := c.NewPipeline(2, got.add)
	for i := 0; i < 3; i++ {
		p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	}
	if len(got) != 1 || p.Pending() != 2 {
		t.Fatalf("after three Sends at depth 2: %d reported, %d pending; want 1 and 2", len(got), p.Pending())
	}
	p.Flush()
	for i, r := range got {
		if r.Err != nil {
			t.Errorf("transaction %d: %v", i, r.Err)
		}
	}
}

// A transaction that fails does not take the next one with it: each is
// judged on its own replies, and the RSET in front of the next one ends
// whatever the failed one left open.
func TestPipelineFailuresStayInTheirTransaction(t *testing.T) {
	srv := newServer(t, script(greet("PIPELINING", "CHUNKING"),
		tx(false, "bad@y.test", "hi\r\n"), tx(true, "b@y.test", "hi\r\n"), tx(true, "b@y.test", "hi\r\n"),
		[]step{SRaw("250 2.1.0 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n" +
			"250 2.0.0 reset\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 two\r\n" +
			"250 2.0.0 reset\r\n550 5.7.1 sender refused\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n"),
			// After the last failure Flush resets, as Sendmail would.
			C("rset"), S("250 2.0.0 reset"),
			C("noop"), S("250 2.0.0 noop")}))
	c := srv.mustDial(t, withFast())
	var got results
	p := c.NewPipeline(0, got.add)
	p.Send("a@x.test", []string{"bad@y.test"}, []byte("hi\n"), nil, nil)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	p.Flush()
	if len(got) != 3 {
		t.Fatalf("%d results", len(got))
	}
	var rr *protocol.RecipientsRefusedError
	if !errors.As(got[0].Err, &rr) || rr.Recipients["bad@y.test"].Code != 550 {
		t.Errorf("first: %v, want the recipient refused with 550", got[0].Err)
	}
	if got[1].Err != nil {
		t.Errorf("second: %v, want delivered", got[1].Err)
	}
	var sr *protocol.SenderRefusedError
	if !errors.As(got[2].Err, &sr) || sr.Code != 550 || sr.Sender != "a@x.test" {
		t.Errorf("third: %v, want the sender refused with 550", got[2].Err)
	}
	// The next command gets its own reply: nothing was left unread.
	if r, err := c.Noop(); err != nil || r.Code != 250 || r.Message != "2.0.0 noop" {
		t.Fatalf("NOOP after the pipeline: %v %v", r, err)
	}
}

// 421 ends the session: the transaction that got it says so, and the ones
// behind it report that the connection closed before their replies.
func TestPipeline421ClosesForTheRest(t *testing.T) {
	srv := newServer(t, script(greet("PIPELINING", "CHUNKING"),
		tx(false, "b@y.test", "hi\r\n"), tx(true, "b@y.test", "hi\r\n"), tx(true, "b@y.test", "hi\r\n"),
		[]step{SRaw("421 4.3.2 going down\r\n"), Close()}))
	c := srv.mustDial(t, withFast())
	var got results
	p := c.NewPipeline(0, got.add)
	for i := 0; i < 3; i++ {
		p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	}
	p.Flush()
	var sr *protocol.SenderRefusedError
	if len(got) != 3 || !errors.As(got[0].Err, &sr) || sr.Code != 421 {
		t.Fatalf("results %+v; want the first refused with 421", got)
	}
	for _, r := range got[1:] {
		var sd *protocol.ServerDisconnectedError
		if !errors.As(r.Err, &sd) {
			t.Errorf("a transaction behind the 421: %v, want *ServerDisconnectedError", r.Err)
		}
	}
	wantClosed(t, c)
	// Nothing is sent on a closed connection.
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	if len(got) != 4 || got[3].Err == nil {
		t.Fatalf("Send after the close: %+v", got[len(got)-1])
	}
}

// A server that stops answering mid-pipeline: the transaction waiting is
// named in the error, and nothing hangs past the timeout.
func TestPipelineServerGoesSilent(t *testing.T) {
	srv := newServer(t, script(greet("PIPELINING", "CHUNKING"),
		tx(false, "b@y.test", "hi\r\n"), tx(true, "b@y.test", "hi\r\n"),
		[]step{SRaw("250 2.1.0 ok\r\n250 2.1.5 ok\r\n"), Sleep(2 * time.Second), Close()}))
	c := srv.mustDial(t, withFast(), withTimeout(300*time.Millisecond))
	var got results
	p := c.NewPipeline(0, got.add)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	start := time.Now()
	p.Flush()
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("Flush took %v with a 300 ms timeout", d)
	}
	if len(got) != 2 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "BDAT LAST") {
		t.Fatalf("first: %+v, want an error naming BDAT LAST", got)
	}
	if got[1].Err == nil {
		t.Fatalf("second: no error")
	}
}

// Without CHUNKING a message's content, its final dot and the next
// transaction's commands go in one write: one round trip per message.
func TestPipelineDATAOneRoundTripPerMessage(t *testing.T) {
	srv := newServer(t, script(greet("PIPELINING"),
		[]step{C("mail FROM:<a@x.test>"), C("rcpt TO:<b@y.test>"), C("data"), S("250 ok", "250 ok", "354 go"),
			CData("one\r\n.\r\n"), C("rset"), C("mail FROM:<a@x.test>"), C("rcpt TO:<b@y.test>"), C("data"),
			S("250 queued one", "250 reset", "250 ok", "250 ok", "354 go"),
			// Flush sends the last message on its own.
			CData("..two\r\n.\r\n"), S("250 queued two"),
			C("quit"), S("221 bye")}))
	rec := &sendRecorder{}
	c := srv.mustDial(t, withTracer(rec), func(o *protocol.Options) { o.Pipelining = true })
	var got results
	p := c.NewPipeline(0, got.add)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("one\n"), nil, nil)
	if len(got) != 0 || p.Pending() != 1 {
		t.Fatalf("after the first Send: %d reported, %d pending; want 0 and 1 (waiting at 354)", len(got), p.Pending())
	}
	p.Send("a@x.test", []string{"b@y.test"}, []byte(".two\n"), nil, nil)
	if len(got) != 1 || got[0].Err != nil {
		t.Fatalf("after the second Send: %+v; want the first delivered", got)
	}
	p.Flush()
	if len(got) != 2 || got[1].Err != nil || got[1].Envelope.IsZero() {
		t.Fatalf("after Flush: %+v", got)
	}
	if w := rec.find("one\r\n"); string(w) != "one\r\n.\r\nrset\r\nmail FROM:<a@x.test>\r\nrcpt TO:<b@y.test>\r\ndata\r\n" {
		t.Errorf("the write after the first 354 = %q; want the message, its dot and the next transaction", w)
	}
	if p.MaxInFlight() != 2 {
		t.Errorf("MaxInFlight = %d, want 2", p.MaxInFlight())
	}
	c.Quit()
}

// Without CHUNKING: a transaction refused at DATA sends no message, and
// the next one still goes; a server that takes DATA although no recipient
// was accepted gets an empty message, and the transaction is reported
// failed.
func TestPipelineDATARefusals(t *testing.T) {
	srv := newServer(t, script(greet("PIPELINING"),
		[]step{C("mail FROM:<a@x.test>"), C("rcpt TO:<bad@y.test>"), C("data"),
			S("250 ok", "550 5.1.1 unknown", "554 5.5.1 no valid recipients"),
			C("rset"), C("mail FROM:<a@x.test>"), C("rcpt TO:<bad@y.test>"), C("data"),
			S("250 reset", "250 ok", "550 5.1.1 unknown", "354 go anyway"),
			C("."), C("rset"), C("mail FROM:<a@x.test>"), C("rcpt TO:<b@y.test>"), C("data"),
			S("250 empty queued", "250 reset", "250 ok", "250 ok", "354 go"),
			CData("hi\r\n.\r\n"), S("250 queued"),
			C("noop"), S("250 noop")}))
	c := srv.mustDial(t, func(o *protocol.Options) { o.Pipelining = true })
	var got results
	p := c.NewPipeline(0, got.add)
	p.Send("a@x.test", []string{"bad@y.test"}, []byte("hi\n"), nil, nil)
	p.Send("a@x.test", []string{"bad@y.test"}, []byte("hi\n"), nil, nil)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	p.Flush()
	if len(got) != 3 {
		t.Fatalf("%d results", len(got))
	}
	for i, r := range got[:2] {
		var rr *protocol.RecipientsRefusedError
		if !errors.As(r.Err, &rr) || rr.Recipients["bad@y.test"].Code != 550 {
			t.Errorf("transaction %d: %v, want the recipient refused", i, r.Err)
		}
	}
	if got[2].Err != nil {
		t.Errorf("third: %v", got[2].Err)
	}
	if r, err := c.Noop(); err != nil || r.Message != "noop" {
		t.Fatalf("NOOP: %v %v", r, err)
	}
}

// Without PIPELINING each message goes by Sendmail, one command at a time.
func TestPipelineWithoutPipeliningUsesSendmail(t *testing.T) {
	srv := newServer(t, script(greet("CHUNKING"),
		[]step{C("mail FROM:<a@x.test>"), S("250 ok"), C("rcpt TO:<b@y.test>"), S("250 ok"),
			C("BDAT 4 LAST"), CRaw("hi\r\n"), S("250 queued")}))
	c := srv.mustDial(t, withFast())
	var got results
	p := c.NewPipeline(0, got.add)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	if len(got) != 1 || got[0].Err != nil || !got[0].Envelope.IsZero() || p.MaxInFlight() != 0 {
		t.Fatalf("result %+v, in flight %d", got, p.MaxInFlight())
	}
	p.Flush()
}

// Bad input is refused before anything is written, and reported like any
// other failure.
func TestPipelineRefusesBadInputUnsent(t *testing.T) {
	srv := newServer(t, script(greet("PIPELINING", "CHUNKING"), []step{C("quit"), S("221 bye")}))
	rec := &sendRecorder{}
	c := srv.mustDial(t, withFast(), withTracer(rec))
	var got results
	p := c.NewPipeline(0, got.add)
	p.Send("a@x.test\r\nrset", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), []string{"X=1\r\nDATA"}, nil)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("a\x00b\n"), nil, nil)
	p.Flush()
	if len(got) != 3 {
		t.Fatalf("%d results", len(got))
	}
	for i, r := range got {
		if r.Err == nil {
			t.Errorf("input %d accepted", i)
		}
	}
	if w := rec.find("mail"); w != nil {
		t.Fatalf("wrote %q", w)
	}
	c.Quit()
}

// End to end against the sandbox: many messages, every fourth to a
// recipient it refuses, one too big for a single chunk; every message is
// judged on its own and the mailbox holds exactly the accepted ones, byte
// for byte.
func TestPipelineAgainstSandbox(t *testing.T) {
	for _, chunk := range []bool{true, false} {
		t.Run(map[bool]string{true: "bdat", false: "data"}[chunk], func(t *testing.T) { testPipelineAgainstSandbox(t, chunk) })
	}
}

func testPipelineAgainstSandbox(t *testing.T, chunk bool) {
	s := startSandbox(t, sandbox.Config{MaxMessageBytes: 4 << 20, MailboxLimit: 1000,
		Faults: mustFaults(t, "refuse-rcpt=bad@y.test")})
	c := dialFast(t, s.Addr(), protocol.SMTP, true, chunk, &sendRecorder{})
	var got results
	p := c.NewPipeline(4, got.add)
	big := strings.Repeat(strings.Repeat("y", 79)+"\n", protocol.ChunkSize/40)
	var want []string
	for i := 0; i < 40; i++ {
		to, body := "b@y.test", fmt.Sprintf("Subject: %d\n\nmessage %d\n.dot\n", i, i)
		if i%4 == 3 {
			to = "bad@y.test"
		}
		if i == 10 {
			body += big
		}
		p.Send("a@x.test", []string{to}, []byte(body), nil, nil)
		if to != "bad@y.test" {
			want = append(want, strings.ReplaceAll(body, "\n", "\r\n"))
		}
	}
	p.Flush()
	if len(got) != 40 {
		t.Fatalf("%d results", len(got))
	}
	for i, r := range got {
		if (r.Err != nil) != (i%4 == 3) {
			t.Errorf("message %d: %v", i, r.Err)
		}
	}
	msgs := s.Mailbox().Messages()
	if len(msgs) != len(want) {
		t.Fatalf("mailbox has %d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		if string(m.Data) != want[i] {
			t.Fatalf("message %d differs: %.40q", i, m.Data)
		}
	}
	if p.MaxInFlight() < 2 {
		t.Errorf("MaxInFlight = %d: transactions were not pipelined", p.MaxInFlight())
	}
	if r, err := c.Noop(); err != nil || r.Code != 250 {
		t.Fatalf("NOOP: %v %v", r, err)
	}
}

// LMTP answers a BDAT LAST once per accepted recipient; the Pipeline reads
// them all and keeps the next transaction's replies apart.
func TestPipelineLMTP(t *testing.T) {
	for _, chunk := range []bool{true, false} {
		t.Run(map[bool]string{true: "bdat", false: "data"}[chunk], func(t *testing.T) { testPipelineLMTP(t, chunk) })
	}
}

func testPipelineLMTP(t *testing.T, chunk bool) {
	sock := t.TempDir() + "/lmtp.sock"
	s := startSandbox(t, sandbox.Config{LMTP: true, Socket: sock, Listen: "-"})
	c, _, err := protocol.Dial(protocol.LMTP, sock, 0, protocol.Options{Timeout: 5 * time.Second, LocalHostname: "c.example", Pipelining: true, Chunking: chunk})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got results
	p := c.NewPipeline(0, got.add)
	for i := 0; i < 5; i++ {
		p.Send("a@x.test", []string{"ok@y.test", "full@y.test", "also@y.test"}, []byte("Subject: l\n\nhi\n"), nil, nil)
	}
	p.Flush()
	if p.MaxInFlight() < 2 {
		t.Fatalf("LMTP transactions were not pipelined: at most %d in flight", p.MaxInFlight())
	}
	for i, r := range got {
		if r.Err != nil || len(r.Refused) != 1 || r.Refused["full@y.test"].Code != 452 {
			t.Errorf("transaction %d: %v %v", i, r.Refused, r.Err)
		}
	}
	if n := s.Mailbox().Len(); n != 5 {
		t.Fatalf("mailbox has %d messages, want 5", n)
	}
	if r, err := c.Noop(); err != nil || r.Code != 250 {
		t.Fatalf("NOOP: %v %v", r, err)
	}
}

// A failure already covered by the RSET of a transaction behind it needs
// no RSET of its own at Flush.
func TestPipelineNoExtraRSET(t *testing.T) {
	srv := newServer(t, script(greet("PIPELINING", "CHUNKING"),
		tx(false, "bad@y.test", "hi\r\n"), tx(true, "b@y.test", "hi\r\n"),
		[]step{SRaw("250 ok\r\n550 no\r\n554 no valid recipients\r\n250 reset\r\n250 ok\r\n250 ok\r\n250 queued\r\n"),
			C("quit"), S("221 bye")}))
	c := srv.mustDial(t, withFast())
	var got results
	p := c.NewPipeline(0, got.add)
	p.Send("a@x.test", []string{"bad@y.test"}, []byte("hi\n"), nil, nil)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	p.Flush()
	if len(got) != 2 || got[0].Err == nil || got[1].Err != nil {
		t.Fatalf("results %+v", got)
	}
	if r, err := c.Quit(); err != nil || r.Code != 221 {
		t.Fatalf("QUIT right after Flush: %v %v", r, err)
	}
}

// Depth 1 groups as Sendmail does: the message goes alone and the next
// transaction waits for its reply; no RSET when nothing failed.
func TestPipelineDepthOneDATA(t *testing.T) {
	one := []step{C("mail FROM:<a@x.test>"), C("rcpt TO:<b@y.test>"), C("data"), S("250 ok", "250 ok", "354 go"),
		CData("hi\r\n.\r\n"), S("250 queued")}
	srv := newServer(t, script(greet("PIPELINING"), one, one, []step{C("quit"), S("221 bye")}))
	c := srv.mustDial(t, func(o *protocol.Options) { o.Pipelining = true })
	var got results
	p := c.NewPipeline(1, got.add)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	p.Send("a@x.test", []string{"b@y.test"}, []byte("hi\n"), nil, nil)
	p.Flush()
	if len(got) != 2 || got[0].Err != nil || got[1].Err != nil || p.MaxInFlight() != 0 {
		t.Fatalf("results %+v, in flight %d", got, p.MaxInFlight())
	}
	c.Quit()
}

// PrepareMessage works out the envelope as SendMessage does (To, Bcc, Cc
// in that order; Bcc never transmitted; SMTPUTF8 and BODY=8BITMIME for an
// address that is not ASCII) and reads the message once.
func TestPrepareMessage(t *testing.T) {
	srv := newServer(t, script(greet("SMTPUTF8", "PIPELINING"), []step{C("quit"), S("221 bye")}))
	c := srv.mustDial(t)
	msg := "From: Ann <ann@x.test>\r\nTo: b@y.test\r\nBcc: hidden@y.test,\r\n\tmore@y.test\r\nCc: jörg@y.test\r\nSubject: s\r\n\r\nbody\r\n"
	p, err := c.PrepareMessage(strings.NewReader(msg), nil, []string{"X-OPT"})
	if err != nil {
		t.Fatal(err)
	}
	if p.From != "ann@x.test" || strings.Join(p.To, " ") != "b@y.test hidden@y.test more@y.test jörg@y.test" {
		t.Errorf("envelope %q → %q", p.From, p.To)
	}
	if strings.Join(p.MailOptions, " ") != "X-OPT SMTPUTF8 BODY=8BITMIME" {
		t.Errorf("mail options %q", p.MailOptions)
	}
	if want := "From: Ann <ann@x.test>\r\nTo: b@y.test\r\nCc: jörg@y.test\r\nSubject: s\r\n\r\nbody\r\n"; string(p.Data) != want {
		t.Errorf("data %q, want %q", p.Data, want)
	}
	from := "env@x.test"
	p, err = c.PrepareMessage(strings.NewReader(msg), &protocol.Envelope{From: &from, To: []string{"r@y.test"}}, nil)
	if err != nil || p.From != from || len(p.To) != 1 || p.To[0] != "r@y.test" {
		t.Fatalf("with an envelope: %+v %v", p, err)
	}
	c.Quit()
}

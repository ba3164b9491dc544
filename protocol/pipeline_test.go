package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
)

// The sandbox is a real, independent server (it shares no code with the
// client), so these tests check PIPELINING and CHUNKING end to end.
func startSandbox(t *testing.T, cfg sandbox.Config) *sandbox.Server {
	t.Helper()
	if cfg.TLSListen == "" {
		cfg.TLSListen = "-"
	}
	s, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Close() })
	return s
}

// sendRecorder keeps every EventSend, one entry per write.
type sendRecorder struct {
	mu     sync.Mutex
	writes [][]byte
}

func (r *sendRecorder) Trace(e protocol.Event) {
	if e.Kind == protocol.EventSend {
		r.mu.Lock()
		r.writes = append(r.writes, append([]byte(nil), e.Data...))
		r.mu.Unlock()
	}
}

func (r *sendRecorder) find(prefix string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.writes {
		if bytes.HasPrefix(w, []byte(prefix)) {
			return w
		}
	}
	return nil
}

func dialFast(t *testing.T, addr string, kind protocol.Kind, pipe, chunk bool, rec *sendRecorder) *protocol.Client {
	t.Helper()
	c, _, err := protocol.Dial(kind, addr, 0, protocol.Options{
		Timeout: 5 * time.Second, LocalHostname: "c.example", Tracer: rec, Pipelining: pipe, Chunking: chunk,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPipelinedGroupIsOneWrite(t *testing.T) {
	s := startSandbox(t, sandbox.Config{})
	rec := &sendRecorder{}
	c := dialFast(t, s.Addr(), protocol.SMTP, true, false, rec)
	refused, err := c.Sendmail("a@x.test", []string{"b@y.test", "c@y.test"}, strings.NewReader("Subject: p\n\n.dot\nbody\n"), nil, nil)
	if err != nil || len(refused) != 0 {
		t.Fatalf("Sendmail: %v %v", refused, err)
	}
	group := rec.find("mail FROM:")
	want := "mail FROM:<a@x.test> size=26\r\nrcpt TO:<b@y.test>\r\nrcpt TO:<c@y.test>\r\ndata\r\n"
	if string(group) != want {
		t.Fatalf("pipelined group = %q, want %q in one write", group, want)
	}
	msgs := s.Mailbox().Messages()
	if len(msgs) != 1 || !bytes.Contains(msgs[0].Data, []byte("\r\n.dot\r\n")) || len(msgs[0].To) != 2 {
		t.Fatalf("mailbox: %+v", msgs)
	}
}

func TestPipelinedRefusalsKeepTheConnectionInStep(t *testing.T) {
	s := startSandbox(t, sandbox.Config{Faults: mustFaults(t, "refuse-rcpt=bad@y.test")})
	c := dialFast(t, s.Addr(), protocol.SMTP, true, false, &sendRecorder{})
	refused, err := c.Sendmail("a@x.test", []string{"bad@y.test", "good@y.test"}, strings.NewReader("x\n"), nil, nil)
	if err != nil || len(refused) != 1 || refused["bad@y.test"].Code/100 != 5 {
		t.Fatalf("one refused: %v %v", refused, err)
	}
	_, err = c.Sendmail("a@x.test", []string{"bad@y.test"}, strings.NewReader("x\n"), nil, nil)
	var rr *protocol.RecipientsRefusedError
	if !errors.As(err, &rr) {
		t.Fatalf("all refused: %v", err)
	}
	// The next command must get its own reply, not a leftover.
	if r, err := c.Noop(); err != nil || r.Code != 250 {
		t.Fatalf("NOOP after pipelined refusal: %v %v", r, err)
	}
	if n := s.Mailbox().Len(); n != 1 {
		t.Fatalf("mailbox has %d messages, want 1", n)
	}
}

func TestChunkingSendsExactBDAT(t *testing.T) {
	for _, pipe := range []bool{false, true} {
		s := startSandbox(t, sandbox.Config{})
		rec := &sendRecorder{}
		c := dialFast(t, s.Addr(), protocol.SMTP, pipe, true, rec)
		body := "Subject: c\n\n.not stuffed\nlone\rcr\nend"
		if _, err := c.Sendmail("a@x.test", []string{"b@y.test"}, strings.NewReader(body), nil, nil); err != nil {
			t.Fatalf("pipe=%v: %v", pipe, err)
		}
		want := "Subject: c\r\n\r\n.not stuffed\r\nlone\r\ncr\r\nend\r\n"
		msgs := s.Mailbox().Messages()
		if len(msgs) != 1 || string(msgs[0].Data) != want || !msgs[0].Chunked {
			t.Fatalf("pipe=%v: mailbox %+v", pipe, msgs)
		}
		bdat := fmt.Sprintf("BDAT %d LAST\r\n", len(want)) + want
		if w := rec.find("BDAT"); !pipe && string(w) != bdat {
			t.Fatalf("BDAT write = %q", w)
		}
		if pipe && !bytes.HasSuffix(rec.find("mail FROM:"), []byte(bdat)) {
			t.Fatalf("with pipelining the one chunk ends the group: %q", rec.find("mail FROM:"))
		}
	}
}

func TestChunkingLargeMessageInSeveralChunks(t *testing.T) {
	s := startSandbox(t, sandbox.Config{MaxMessageBytes: 4 << 20})
	c := dialFast(t, s.Addr(), protocol.SMTP, true, true, &sendRecorder{})
	line := strings.Repeat("x", 99) + "\n"
	body := strings.Repeat(line, (protocol.ChunkSize*2+500)/len(line))
	if _, err := c.Sendmail("a@x.test", []string{"b@y.test"}, strings.NewReader(body), nil, nil); err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(body, "\n", "\r\n")
	if msgs := s.Mailbox().Messages(); len(msgs) != 1 || string(msgs[0].Data) != want {
		t.Fatalf("message differs after chunking (%d messages)", len(msgs))
	}
}

func TestChunkingLMTPPerRecipient(t *testing.T) {
	sock := t.TempDir() + "/lmtp.sock"
	s := startSandbox(t, sandbox.Config{LMTP: true, Socket: sock, Listen: "-"})
	_ = s
	c, _, err := protocol.Dial(protocol.LMTP, sock, 0, protocol.Options{Timeout: 5 * time.Second, LocalHostname: "c.example", Pipelining: true, Chunking: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	refused, err := c.Sendmail("a@x.test", []string{"ok@y.test", "full@y.test"}, strings.NewReader("Subject: l\n\nhi\n"), nil, nil)
	if err != nil || len(refused) != 1 || refused["full@y.test"].Code != 452 {
		t.Fatalf("LMTP per-recipient over BDAT: %v %v", refused, err)
	}
	if r, err := c.Noop(); err != nil || r.Code != 250 {
		t.Fatalf("NOOP after LMTP BDAT: %v %v", r, err)
	}
}

func mustFaults(t *testing.T, specs ...string) []sandbox.Fault {
	t.Helper()
	var out []sandbox.Fault
	for _, s := range specs {
		f, err := sandbox.ParseFault(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

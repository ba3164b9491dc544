package lesson

import (
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

func cl(s string) session.Event { return session.Event{Kind: session.KindClient, Data: []byte(s)} }
func sv(s string) session.Event { return session.Event{Kind: session.KindServer, Data: []byte(s)} }

// fed is a Checker fed as a live session's Capture feeds it: every event
// annotated by the session's Follower first.
type fed struct {
	*Checker
	follow *session.Follower
}

func newChecker(l *Lesson) *fed { return &fed{NewChecker(l), session.NewFollower(false)} }

func feed(c *fed, evs ...session.Event) {
	for _, e := range evs {
		c.follow.Annotate(&e)
		c.Event(e)
	}
}

func lessonOf(t *testing.T, src string) *Lesson {
	t.Helper()
	l, err := Parse("t.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Replies are paired with their commands as the server means them: a
// multi-line reply is one, an AUTH answer's reply is AUTH's, a pipelined
// group's replies go in order, LMTP gives one per accepted recipient after
// the dot, and a 421 nobody asked for is no command's.
func TestTrailPairsReplies(t *testing.T) {
	l := lessonOf(t, `# T
task
lmtp:
## greet
check: greeted
hint: h
## ehlo
check: reply LHLO 250
check: extension SIZE
hint: h
## auth
check: reply AUTH 334
check: reply AUTH 235 enhanced=2.7.0
hint: h
## pipelined
check: recipients ok=2 refused=1
hint: h
## lmtp
check: delivered ok=1 refused=1
check: payload prefix=..
hint: h
## unsolicited
check: reply * 421
check: closed
hint: h
`)
	c := newChecker(l)
	step := func(want int) {
		t.Helper()
		if p := c.Progress(); p.Step != want {
			t.Fatalf("at step %d; want %d (%+v)", p.Step, want, p)
		}
	}
	feed(c, session.Event{Kind: session.KindConnect}, sv("220 hi\r\n"))
	step(1)
	feed(c, cl("LHLO x\r\n"), sv("250-hi\r\n"), sv("250-SIZE 100\r\n"))
	step(1) // the reply is not over
	feed(c, sv("250 PIPELINING\r\n"))
	step(2)
	feed(c, cl("AUTH LOGIN\r\n"), sv("334 VXNlcm5hbWU6\r\n"), cl("YWxpY2U=\r\n"), sv("334 UGFzc3dvcmQ6\r\n"), cl("[redacted]\r\n"), sv("235 2.7.0 ok\r\n"))
	step(3)
	feed(c, cl("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nRCPT TO:<g@h>\r\n"),
		sv("250 ok\r\n"), sv("250 ok\r\n"), sv("550 no\r\n"), sv("250 ok\r\n"))
	step(4)
	feed(c, cl("DATA\r\n"), sv("354 go\r\n"), cl("..dot\r\nx\r\n.\r\n"), sv("250 2.0.0 <c@d> ok\r\n"))
	step(4) // LMTP: one reply per accepted recipient, two here
	feed(c, sv("452 4.2.2 <g@h> full\r\n"))
	step(5)
	feed(c, sv("421 4.3.2 bye\r\n"), session.Event{Kind: session.KindClose})
	if !c.Progress().Done {
		t.Fatalf("not done: %+v", c.Progress())
	}
}

// A step's checks look only at what happened since the step before was
// done, and a mistake's hint shows until the step is done or f3.
func TestCheckerStepsAndMistakes(t *testing.T) {
	l := lessonOf(t, `# T
task
## one
check: reply NOOP 250
hint: first
hint: second
wrong: reply NOOP 5xx | mistake
## two
check: reply NOOP 250
hint: again
`)
	c := newChecker(l)
	feed(c, session.Event{Kind: session.KindConnect}, sv("220 hi\r\n"))
	if p := c.Progress(); p.Hint != "first" || p.HintNumber != 1 || p.Hints != 2 {
		t.Fatalf("%+v", p)
	}
	c.NextHint()
	if p := c.Progress(); p.Hint != "second" {
		t.Fatalf("%+v", p)
	}
	feed(c, cl("NOOP\r\n"), sv("502 no\r\n"))
	if p := c.Progress(); !p.Wrong || p.Hint != "mistake" {
		t.Fatalf("%+v", p)
	}
	c.NextHint()
	feed(c, cl("RSET\r\n"), sv("250 ok\r\n"))
	if p := c.Progress(); p.Wrong {
		t.Fatalf("a dismissed mistake came back: %+v", p)
	}
	feed(c, cl("NOOP\r\n"), sv("250 ok\r\n"))
	if p := c.Progress(); p.Step != 1 || p.Hint != "again" {
		t.Fatalf("the same reply finished two steps, or none: %+v", p)
	}
	feed(c, cl("NOOP\r\n"), sv("250 ok\r\n"))
	if !c.Progress().Done {
		t.Fatalf("%+v", c.Progress())
	}
}

// State checks read the state now; TLS forgets the extensions.
func TestCheckerState(t *testing.T) {
	l := lessonOf(t, "# T\ntask\n## s\ncheck: tls\ncheck: auth\ncheck: extension AUTH\nhint: h\n")
	c := newChecker(l)
	feed(c, session.Event{Kind: session.KindConnect}, sv("220 hi\r\n"), cl("EHLO x\r\n"), sv("250-hi\r\n250 AUTH PLAIN\r\n"),
		session.Event{Kind: session.KindTLS, Handshake: &session.TLSSummary{Complete: true}},
		session.Event{Kind: session.KindState, State: protocol.State{Phase: protocol.PhaseHello, TLS: true, Authenticated: true}})
	if c.Progress().Done {
		t.Fatal("the extensions said before TLS still count after it")
	}
	feed(c, cl("EHLO x\r\n"), sv("250-hi\r\n250 AUTH PLAIN\r\n"))
	if !c.Progress().Done {
		t.Fatalf("%+v", c.Progress())
	}
}

// A flood of commands keeps the checker bounded.
func TestCheckerBounded(t *testing.T) {
	c := newChecker(lessonOf(t, "# T\ntask\n## s\ncheck: reply QUIT 221\nhint: h\n"))
	feed(c, session.Event{Kind: session.KindConnect}, sv("220 hi\r\n"))
	for i := 0; i < 3*maxRecords; i++ {
		feed(c, cl("NOOP\r\n"), sv("250 ok\r\n"))
	}
	if n := len(c.t.records); n > maxRecords+maxRecords/4 {
		t.Fatalf("%d records kept", n)
	}
	feed(c, cl("QUIT\r\n"), sv("221 bye\r\n"))
	if !c.Progress().Done {
		t.Fatalf("%+v", c.Progress())
	}
}

// Whatever the wire holds, the checker does not panic.
func FuzzChecker(f *testing.F) {
	f.Add([]byte("220 x\r\n"), []byte("EHLO x\r\n"), []byte("250-x\r\n250 SIZE\r\n"))
	f.Add([]byte("2"), []byte("DATA\r\n.\r\n"), []byte("354\r\n\n\n-"))
	l, err := Find("lmtp")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		ch := newChecker(l)
		feed(ch, session.Event{Kind: session.KindConnect}, session.Event{Kind: session.KindServer, Data: a},
			session.Event{Kind: session.KindClient, Data: b}, session.Event{Kind: session.KindServer, Data: c},
			session.Event{Kind: session.KindNote, Text: "error: " + strings.ToValidUTF8(string(c), "")})
		_ = ch.Progress()
	})
}

// BenchmarkCheckerFlood: a student pasting NOOPs by the thousand, in a
// lesson whose step waits for something else, with a mistake to look for
// too. Per event: the TUI feeds the checker on its own goroutine.
func BenchmarkCheckerFlood(b *testing.B) {
	l, err := Parse("b.md", []byte("# T\ntask\n## s\ncheck: reply QUIT 221\ncheck: recipients ok=1\nhint: h\nwrong: delivered ok=3 | w\nwrong: reply VRFY 5xx | w\n"))
	if err != nil {
		b.Fatal(err)
	}
	c := newChecker(l)
	feed(c, session.Event{Kind: session.KindConnect}, sv("220 hi\r\n"))
	// The Capture annotates each event once for all its sinks; the
	// checker's share is reading the annotations.
	noop, ok := cl("NOOP\r\n"), sv("250 2.0.0 Ok\r\n")
	c.follow.Annotate(&noop)
	c.follow.Annotate(&ok)
	state := session.Event{Kind: session.KindState, State: protocol.State{Phase: protocol.PhaseHello}}
	for i := 0; i < maxRecords; i++ {
		c.Event(noop)
		c.Event(ok)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Event(noop)
		c.Event(ok)
		c.Event(state)
	}
}

// The checker reads the conversation as the session annotated it, so it
// cannot disagree with the session about it: a recording begun in the
// middle of a message (or of an AUTH exchange) goes on as content (or as
// an answer), not as the commands the bytes alone would look like.
func TestTrailReadsTheSessionsAnnotations(t *testing.T) {
	l := lessonOf(t, `# T
task
## message
check: delivered ok=1
check: payload prefix=AUTH
hint: h
wrong: sent AUTH | the message's text was taken for a command
## auth
check: reply AUTH 235
hint: h
wrong: sent * | the answer to a challenge was taken for a command
`)
	c := newChecker(l)
	snap := func(mode string) session.Event {
		return session.Event{Kind: session.KindSnapshot, Start: &session.StartState{Connected: true, State: protocol.State{Phase: protocol.PhaseHello}, Mode: mode}}
	}
	feed(c, snap("data"), cl("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n.\r\n"), sv("250 2.0.0 queued\r\n"))
	if p := c.Progress(); p.Step != 1 || p.Wrong {
		t.Fatalf("after a message begun before the recording: %+v", p)
	}
	feed(c, snap("auth"), cl("[redacted]\r\n"), sv("235 2.7.0 ok\r\n"))
	if p := c.Progress(); !p.Done {
		t.Fatalf("after an AUTH exchange begun before the recording: %+v", p)
	}
}

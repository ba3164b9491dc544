package protocol

import (
	"bytes"
	"testing"
)

// A reply seen before costs no allocation (issue 17: --no-pipeline reads
// four replies a message, the same ones again and again): the line is
// parsed where it lies in the read buffer and its text is made a string
// once. What a tracer sees and what the Reply holds are still exact, and
// a multi-line reply and a new text are still read right.
func TestReplyReadAllocatesNothingForARepeatedReply(t *testing.T) {
	replies := "250 2.1.0 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250-first\r\n250 second\r\n"
	conn := &benchLoopConn{data: []byte(replies)}
	var seen [][]byte
	c := benchClient(conn, Options{Tracer: TracerFunc(func(e Event) {
		if e.Kind == EventRecv {
			seen = append(seen, bytes.Clone(e.Data))
		}
	})})
	want := []Reply{{250, "2.1.0 Ok"}, {354, "End data with <CR><LF>.<CR><LF>"}, {250, "first\nsecond"}}
	for round := range 2 {
		for _, w := range want {
			r, err := c.GetReply()
			if err != nil || r != w {
				t.Fatalf("round %d: GetReply = %+v, %v; want %+v", round, r, err, w)
			}
		}
	}
	if got := string(bytes.Join(seen, nil)); got != replies+replies {
		t.Fatalf("the tracer saw %q, want the replies twice", got)
	}

	c = benchClient(&benchLoopConn{data: []byte("250 2.1.5 Ok\r\n")}, Options{})
	c.GetReply() // the first time the text is made a string
	if n := testing.AllocsPerRun(100, func() {
		if r, err := c.GetReply(); err != nil || r.Code != 250 {
			t.Fatalf("GetReply = %+v, %v", r, err)
		}
	}); n != 0 {
		t.Errorf("GetReply of a reply seen before: %v allocations, want 0", n)
	}
}

package tui

import (
	"fmt"
	"time"
)

// Ctrl+T cycles the wire log's time column: none, the round trip of each
// reply (logView.rtt), the time since the session started (logView.stamps).
// The round trip is what a sysadmin asks of a slow server: how long each
// reply took.

// rttWidth is the round-trip column: "12.345s " at most.
const rttWidth = 8

// rttScan bounds how far back a reply's command is looked for, so a
// frame's cost does not depend on the log (a DATA body is many lines).
const rttScan = 512

// roundTrip is how long the reply starting at line i took: from the last
// line ehlo sent before it to its first line. ok is false for a line that
// is not the first of a reply, or with no command before it (a greeting's
// round trip is the connection's, shown from its "Trying" line).
func roundTrip(w *wireLog, i int) (d time.Duration, ok bool) {
	l := w.lines[i]
	if l.kind != lineServer {
		return 0, false
	}
	if i > 0 && w.lines[i-1].kind == lineServer && w.lines[i-1].flags&flagMore != 0 {
		return 0, false // a continuation line of the same reply
	}
	for j := i - 1; j >= 0 && j >= i-rttScan; j-- {
		switch w.lines[j].kind {
		case lineClient, lineInfo:
			return l.at - w.lines[j].at, true
		}
	}
	return 0, false
}

// rttText formats a round trip for the column.
func rttText(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

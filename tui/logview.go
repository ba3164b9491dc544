package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/ehlo-dev/ehlo/themes"
)

// logView is the scroll, selection, search and display state of the wire
// log. It draws only the rows on screen: the cost of a frame does not
// depend on how many lines the log holds (deps-eval §A.4).
type logView struct {
	top    int  // first line shown, when not following
	follow bool // stay at the end as lines arrive
	sel    int  // the selected line, -1 for none

	stamps  bool // show each line's time
	rtt     bool // show each reply's round trip (rtt.go)
	beside  bool // explain every reply beside it
	details bool // explain the selected line in full

	query  string // the search, lower case
	notice string // "no match", shown in the pane's badge
	seek   seek   // the search under way, a frame's worth at a time
	finds  int    // searches begun: a step of an older one is dropped
}

func newLogView() logView { return logView{follow: true, sel: -1} }

// window returns the first line to show, given n lines and rows rows.
func (v *logView) window(n, rows int) int {
	last := max(0, n-rows)
	if v.follow {
		return last
	}
	return min(max(v.top, 0), last)
}

// scroll moves the view by delta lines; reaching the end follows again.
func (v *logView) scroll(delta, n, rows int) {
	top := v.window(n, rows) + delta
	last := max(0, n-rows)
	v.top = min(max(top, 0), last)
	v.follow = v.top >= last
}

// selectLine selects line i (clamped) and scrolls it into view.
func (v *logView) selectLine(i, n, rows int) {
	if n == 0 {
		v.sel = -1
		return
	}
	i = min(max(i, 0), n-1)
	v.sel = i
	top := v.window(n, rows)
	switch {
	case i < top:
		top = i
	case i >= top+rows:
		top = i - rows + 1
	}
	last := max(0, n-rows)
	v.top = top
	v.follow = top >= last && i == n-1
}

// find searches from line from in direction dir (+1 or -1), wrapping, for
// the query; it returns -1 if no line matches.
func (v *logView) find(w *wireLog, n, from, dir int) int {
	v.startFind(n, from, dir)
	for {
		if i, done := v.stepFind(w, n, math.MaxInt); done {
			return i
		}
	}
}

// seek is a search under way: the ranges of lines still to read, in
// order, and the direction.
type seek struct {
	dir  int
	segs [][2]int
}

// startFind begins a search as find does; stepFind carries it on.
func (v *logView) startFind(n, from, dir int) {
	v.seek = seek{}
	v.finds++
	if v.query == "" || n == 0 {
		return
	}
	start := ((from+dir)%n + n) % n
	if dir > 0 {
		v.seek = seek{dir: 1, segs: [][2]int{{start, n}, {0, start}}}
	} else {
		v.seek = seek{dir: -1, segs: [][2]int{{0, start + 1}, {start + 1, n}}}
	}
}

// stepFind reads lines worth at most budget bytes of the search under way
// (see wireLog.search) and says whether it is over: with the line found,
// or -1. n is how many lines exist now (a replay's cursor may have moved
// back since the search began).
func (v *logView) stepFind(w *wireLog, n, budget int) (found int, done bool) {
	s := &v.seek
	for len(s.segs) > 0 {
		seg := &s.segs[0]
		i, lo, hi := w.search(seg[0], min(seg[1], n), s.dir, v.query, &budget)
		if i >= 0 {
			s.segs = nil
			return i, true
		}
		if lo < hi {
			seg[0], seg[1] = lo, hi
			return -1, false
		}
		s.segs = s.segs[1:]
	}
	return -1, true
}

// logRender is what drawing the wire log needs besides the view state.
type logRender struct {
	log    *wireLog
	n      int // lines that exist (replay: up to the cursor)
	styles themes.Styles
	lmtp   bool
}

// rows returns the content rows of the wire-log pane: the visible lines,
// then the selected line's explanation when asked for.
func (v *logView) rows(r logRender, w, h int) []string {
	var detail []string
	if v.details && v.sel >= 0 && v.sel < r.n {
		detail = v.detailRows(r, w, min(6, h/2))
	}
	rows := h - len(detail)
	top := v.window(r.n, rows)
	out := make([]string, 0, h)
	for i := top; i < top+rows && i < r.n; i++ {
		out = append(out, v.line(r, i, w))
	}
	for len(out) < rows {
		out = append(out, "")
	}
	return append(out, detail...)
}

func (v *logView) detailRows(r logRender, w, max int) []string {
	s := r.styles
	l := r.log.lines[v.sel]
	var text []string
	if l.kind == lineServer {
		e := explain(r.log.text(v.sel), replyContext{Verb: l.verb, LMTP: r.lmtp})
		for _, t := range e.Lines() {
			text = append(text, wrap(t, w, 2)...)
		}
	} else {
		text = append(text, "not a reply: select a server line (<-) to explain it")
	}
	if len(text) > max-1 {
		text = text[:max-1]
	}
	out := []string{s.Border.Render(strings.Repeat("┄", w))}
	for _, t := range text {
		out = append(out, s.Explain.Render(t))
	}
	return out
}

// minBeside is the fewest cells worth giving a short explanation beside
// a reply.
const minBeside = 12

// stamp writes an offset as mm:ss.mmm.
func stamp(d time.Duration) string {
	ms := int64(d / time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	if ms >= 3600_000 {
		return fmt.Sprintf("%d:%02d:%02d", ms/3600_000, ms/60_000%60, ms/1000%60)
	}
	return fmt.Sprintf("%02d:%02d.%03d", ms/60_000, ms/1000%60, ms%1000)
}

// line draws line i in w cells: [time] marker text [explanation]. The text
// is sanitized before it is styled or measured, and a server line always
// begins with its marker, so nothing a server sends can pass for ehlo's
// own "===" or "***" lines (security-anchors H2, H4).
func (v *logView) line(r logRender, i, w int) string {
	s := r.styles
	l := r.log.lines[i]
	var prefix, stampText string
	if v.stamps {
		stampText = stamp(l.at) + " "
	}
	if v.rtt {
		stampText = strings.Repeat(" ", rttWidth)
		if d, ok := roundTrip(r.log, i); ok {
			stampText = fmt.Sprintf("%*s ", rttWidth-1, rttText(d))
		}
	}
	mark := l.marker()
	prefix = stampText + mark
	avail := w - displayWidth(prefix)
	text := r.log.text(i)
	var expl string
	// Beside the last line of each reply: a 250- list explained on every
	// line would drown it.
	if v.beside && l.kind == lineServer && l.flags&flagMore == 0 {
		expl = explain(text, replyContext{Verb: l.verb, LMTP: r.lmtp}).Short()
	}
	tw := displayWidth(text)
	if expl != "" {
		ew := displayWidth(expl) + 3
		if tw > avail {
			// Cut anyway: the explanation gets a glimpse of the row
			// (e explains the line in full).
			text = truncate(text, max(avail-ew, avail-24))
			tw = displayWidth(text)
		}
		// The server's own words first, whole when the row holds them:
		// the explanation gets what is left, if that is worth reading.
		if avail-tw >= minBeside {
			expl = truncate("  "+expl, avail-tw)
		} else {
			expl = ""
		}
	} else {
		text = truncate(text, avail)
	}
	if i == v.sel {
		return s.Selected.Render(padRight(prefix+text+expl, w))
	}
	var body, markStyle lipgloss.Style
	switch l.kind {
	case lineClient:
		body, markStyle = s.Client, s.MarkClient
	case lineServer:
		body, markStyle = s.Server, s.MarkServer
	case lineTLS:
		body, markStyle = s.TLS, s.MarkTLS
	case lineNote:
		body, markStyle = s.Error, s.MarkError
	default:
		body, markStyle = s.Note, s.MarkNote
	}
	if l.kind == lineClient && l.flags&flagTLS != 0 || l.kind == lineServer && l.flags&flagTLS != 0 {
		markStyle = s.MarkTLS
	}
	var b strings.Builder
	if stampText != "" {
		b.WriteString(s.Timestamp.Render(stampText))
	}
	b.WriteString(markStyle.Render(mark))
	b.WriteString(highlight(text, v.query, body, s.Match))
	if expl != "" {
		b.WriteString(s.Explain.Render(expl))
	}
	return b.String()
}

// highlight styles text with body, and the occurrences of q (lower case)
// with match.
func highlight(text, q string, body, match lipgloss.Style) string {
	if q == "" {
		return body.Render(text)
	}
	var b strings.Builder
	rest := text
	for {
		i := indexFold([]byte(rest), q)
		if i < 0 {
			break
		}
		if i > 0 {
			b.WriteString(body.Render(rest[:i]))
		}
		b.WriteString(match.Render(rest[i : i+len(q)]))
		rest = rest[i+len(q):]
	}
	if rest != "" {
		b.WriteString(body.Render(rest))
	}
	return b.String()
}

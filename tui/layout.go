package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/ehlo-dev/ehlo/themes"
)

// Minimum terminal size; below it the TUI says so instead of drawing
// panes that cannot hold their content (STYLE B2, A9).
const (
	minWidth  = 80
	minHeight = 24
)

// rect is a screen area.
type rect struct{ X, Y, W, H int }

func (r rect) contains(x, y int) bool {
	return x >= r.X && x < r.X+r.W && y >= r.Y && y < r.Y+r.H
}

// layout is where each part of the screen goes. It is a pure function of
// the size, so every size can be tested (layout_test.go).
type layout struct {
	W, H     int
	TooSmall bool
	Status   rect // one row at the top
	Conn     rect // the Connection pane, top of the side column
	Ext      rect // the Extensions pane, below it
	Log      rect // the wire log, right of the side column
	Composer rect // three rows: a bordered line (or the replay controls)
	Help     rect // the help bar, the last row
}

func computeLayout(w, h int) layout {
	l := layout{W: w, H: h}
	if w < minWidth || h < minHeight {
		l.TooSmall = true
		return l
	}
	const statusH, composerH, helpH = 1, 3, 1
	mainH := h - statusH - composerH - helpH
	// The side column grows with the screen, so that on a wide one the
	// certificate's names and fingerprint fit rather than the log getting
	// every extra column.
	sideW := min(max(w*3/10+6, 30), 76)
	connH := min(max(mainH/2+1, 10), 19)
	l.Status = rect{0, 0, w, statusH}
	l.Conn = rect{0, statusH, sideW, connH}
	l.Ext = rect{0, statusH + connH, sideW, mainH - connH}
	l.Log = rect{sideW, statusH, w - sideW, mainH}
	l.Composer = rect{0, statusH + mainH, w, composerH}
	l.Help = rect{0, h - helpH, w, helpH}
	return l
}

// truncate cuts s (which may hold styles) to w cells, with an ellipsis.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

func displayWidth(s string) int { return ansi.StringWidth(s) }

// padRight fills s (which fits) with spaces to w cells.
func padRight(s string, w int) string {
	if n := w - ansi.StringWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// wrap hard-wraps plain text to w cells, at most maxLines lines, the last
// one ellipsised if text remains.
func wrap(s string, w, maxLines int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	for s != "" {
		if len(out) == maxLines-1 || ansi.StringWidth(s) <= w {
			out = append(out, truncate(s, w))
			break
		}
		// Break at the last space that fits, else hard. A word that ends
		// exactly at the edge stays on the line.
		cut := ansi.Truncate(s, w, "")
		if rest := s[len(cut):]; !strings.HasPrefix(rest, " ") {
			if i := strings.LastIndexByte(cut, ' '); i > w/3 {
				cut = cut[:i+1]
			}
		}
		out = append(out, strings.TrimRight(cut, " "))
		s = strings.TrimLeft(s[len(cut):], " ")
	}
	return out
}

// box draws a pane: a rounded border with the title in the top edge, an
// optional badge at its right, and lines padded or cut to fit. Every line
// of the result is exactly w cells wide, and there are exactly h lines:
// widths include the border (STYLE A10).
func box(s themes.Styles, title, badge string, lines []string, w, h int, focused bool) []string {
	if w < 4 || h < 2 {
		return blank(w, h)
	}
	bs, ts := s.Border, s.Title
	if focused {
		bs, ts = s.BorderFocused, s.TitleFocused
	}
	inner := w - 4
	out := make([]string, 0, h)
	// Top edge: ╭─ Title ─────── badge ─╮
	title = truncate(title, max(0, w-6))
	top := bs.Render("╭─") + ts.Render(" "+title+" ")
	used := 2 + displayWidth(title) + 2
	badgeW := 0
	if badge != "" {
		badge = truncate(badge, max(0, w-used-5))
		badgeW = displayWidth(badge)
	}
	fill := w - used - 1 - badgeW
	if badgeW > 0 {
		fill -= 3
	}
	if fill < 0 {
		fill = 0
	}
	top += bs.Render(strings.Repeat("─", fill))
	if badgeW > 0 {
		top += " " + badge + " " + bs.Render("─")
	}
	top += bs.Render("╮")
	out = append(out, top)
	side := bs.Render("│")
	for i := 0; i < h-2; i++ {
		line := ""
		if i < len(lines) {
			line = truncate(lines[i], inner)
		}
		out = append(out, side+" "+padRight(line, inner)+" "+side)
	}
	out = append(out, bs.Render("╰"+strings.Repeat("─", w-2)+"╯"))
	return out
}

func blank(w, h int) []string {
	out := make([]string, max(h, 0))
	for i := range out {
		out[i] = strings.Repeat(" ", max(w, 0))
	}
	return out
}

// joinColumns puts blocks of lines side by side; each block's lines must
// already have the block's width.
func joinColumns(cols ...[]string) []string {
	n := 0
	for _, c := range cols {
		n = max(n, len(c))
	}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for _, c := range cols {
			if i < len(c) {
				b.WriteString(c[i])
			}
		}
		out[i] = b.String()
	}
	return out
}

// splitSide moves the boundary between the Connection and Extensions
// panes to what they hold: the Connection pane (a certificate chain, the
// DNS route) takes the rows the Extensions pane leaves empty, never the
// ones its list needs up to its own size.
func splitSide(conn, ext rect, connNeed, extNeed int) (rect, rect) {
	total := conn.H + ext.H
	extMin := min(ext.H, max(4, extNeed+2))
	h := max(conn.H, min(connNeed+2, total-extMin))
	conn.H = h
	ext.Y, ext.H = conn.Y+h, total-h
	return conn, ext
}

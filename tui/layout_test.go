package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// checkFrame fails unless the view has exactly h rows of exactly w cells.
func checkFrame(t *testing.T, m *Model, w, h int) {
	t.Helper()
	content := m.View().Content
	rows := strings.Split(content, "\n")
	if len(rows) != h {
		t.Fatalf("%d×%d: %d rows", w, h, len(rows))
	}
	for i, r := range rows {
		if got := ansi.StringWidth(r); got != w {
			t.Fatalf("%d×%d: row %d is %d cells wide:\n%s", w, h, i, got, ansi.Strip(content))
		}
	}
}

// The layout sweep (STYLE A9, B6): from 80×24 to 200×60, in every state,
// every row is exactly as wide as the terminal and the frame exactly as
// tall; below 80×24 the TUI says what it needs.
func TestLayoutSweep(t *testing.T) {
	var sizes [][2]int
	for w := 80; w <= 200; w += 7 {
		for h := 24; h <= 60; h += 5 {
			sizes = append(sizes, [2]int{w, h})
		}
	}
	sizes = append(sizes, [2]int{80, 24}, [2]int{81, 25}, [2]int{200, 60}, [2]int{120, 40})
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := sc.build(t, 80, 24)
			for _, sz := range sizes {
				m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
				checkFrame(t, m, sz[0], sz[1])
			}
		})
	}
}

func TestTooSmall(t *testing.T) {
	for _, sz := range [][2]int{{79, 24}, {80, 23}, {40, 10}, {20, 5}} {
		m := newTestModel(t, newFake(), "dark", sz[0], sz[1])
		view := ansi.Strip(m.View().Content)
		want := fmt.Sprintf("(now %d×%d)", sz[0], sz[1])
		if !strings.Contains(strings.ReplaceAll(view, "\n", " "), want) {
			t.Errorf("%v: %q", sz, view)
		}
		for _, r := range strings.Split(view, "\n") {
			if ansi.StringWidth(r) > sz[0] {
				t.Errorf("%v: row wider than the terminal: %q", sz, r)
			}
		}
		// Keys do nothing but quit.
		press(m, "f1")
		if m.overlay != overlayNone {
			t.Error("f1 opened help on a too-small screen")
		}
	}
}

func TestComputeLayout(t *testing.T) {
	for w := 80; w <= 200; w++ {
		for h := 24; h <= 60; h++ {
			l := computeLayout(w, h)
			if l.TooSmall {
				t.Fatalf("%d×%d too small", w, h)
			}
			if l.Conn.W+l.Log.W != w || l.Conn.H+l.Ext.H != l.Log.H ||
				l.Status.H+l.Log.H+l.Composer.H+l.Help.H != h || l.Ext.H < 6 || l.Log.W < 48 {
				t.Fatalf("%d×%d: %+v", w, h, l)
			}
		}
	}
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		s    string
		w, n int
		want []string
	}{
		{"stale after STARTTLS: EHLO again", 26, 0, []string{"stale after STARTTLS: EHLO", "again"}}, // a word ending at the edge stays
		{"stale after STARTTLS: EHLO again", 25, 0, []string{"stale after STARTTLS:", "EHLO again"}},
		{"switch theme: default, high-contrast", 30, 0, []string{"switch theme: default,", "high-contrast"}}, // never at a hyphen
		{"abcdefghijkl", 5, 0, []string{"abcde", "fghij", "kl"}},                                             // no space: hard
		{"one two three four", 8, 2, []string{"one two", "three f…"}},                                        // maxLines cuts the rest
		{"fits", 10, 0, []string{"fits"}},
		{"x", 0, 0, nil},
	} {
		if got := wrap(c.s, c.w, c.n); !slices.Equal(got, c.want) {
			t.Errorf("wrap(%q, %d, %d) = %q, want %q", c.s, c.w, c.n, got, c.want)
		}
	}
}

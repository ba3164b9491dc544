package tui

import (
	"math/rand/v2"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// scanFind is find as it was before the index: every line read, in order.
func scanFind(w *wireLog, n, from, dir int, q string) int {
	if q == "" || n == 0 {
		return -1
	}
	for k := 1; k <= n; k++ {
		i := ((from+dir*k)%n + n) % n
		if w.contains(i, q) {
			return i
		}
	}
	return -1
}

// The index only skips blocks that cannot match: find answers exactly
// what reading every line answers, whatever the text (case, escapes,
// UTF-8, lines cut at maxLineBytes), the query and where it starts.
func TestSearchIndexAgreesWithScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"MAIL", "rcpt", "To:<", "250", "2.1.5", "Ok", "Recipient", "é", "\x1b[31m", `\`, "\t",
		"unknown", "x", "queued", "BDAT", "\xff", "mailbox", " ", ".", "ä"}
	log := &wireLog{}
	for range 5 * blockLines {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(words[rng.IntN(len(words))])
		}
		if rng.IntN(50) == 0 {
			b.WriteString(strings.Repeat("long", maxLineBytes/3)) // cut
		}
		log.add(lineKind(rng.IntN(5)), 0, verbNone, 0, []byte(b.String()), 0)
	}
	n := log.Len()
	for k := range 3000 {
		var q string
		switch k % 3 {
		case 0: // a piece of a line: usually found
			s := log.text(rng.IntN(n))
			if s == "" {
				continue
			}
			i := rng.IntN(len(s))
			q = s[i:min(len(s), i+1+rng.IntN(8))]
		case 1: // words that may or may not meet
			q = words[rng.IntN(len(words))] + words[rng.IntN(len(words))]
		default: // anything
			q = string([]byte{byte(rng.IntN(128)), byte(rng.IntN(128)), byte(rng.IntN(128))})
		}
		q = strings.ToLower(q)
		v := newLogView()
		v.query = q
		from, dir := rng.IntN(n+2)-1, 1-2*rng.IntN(2)
		if got, want := v.find(log, n, from, dir), scanFind(log, n, from, dir, q); got != want {
			t.Fatalf("find(%q from %d dir %d) = %d, reading every line finds %d", q, from, dir, got, want)
		}
		// And in a replay, where only the lines up to the cursor exist.
		m := rng.IntN(n) + 1
		if got, want := v.find(log, m, from, dir), scanFind(log, m, from, dir, q); got != want {
			t.Fatalf("find(%q in %d lines from %d dir %d) = %d, reading every line finds %d", q, m, from, dir, got, want)
		}
	}
}

// A search the index cannot narrow goes on a frame's worth at a time:
// the key returns at once with "searching…", each step is a message, so
// frames and keys come between steps (issue 17: never block a frame), and
// the end is the same line reading everything finds.
func TestSearchStepsBetweenFrames(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 120, 40)
	// Every block holds every trigram of the query, and one line holds
	// it all, after 300,000 lines (23 MB) the search reads from the end.
	millionLines(t, m, 300_000)
	want := m.log.Len()
	m.build.info(lineInfo, 0, "unknown in virtual mailbox table.")
	millionLines(t, m, 600_000)
	press(m, "shift+tab", "/")
	typeText(m, "unknown in virtual mailbox table.")
	cmd := press(m, "enter")
	steps := 0
	for cmd != nil {
		if !strings.Contains(m.logBadge(), "searching") {
			t.Fatalf("step %d: the badge does not say the search goes on: %q", steps, m.logBadge())
		}
		msg := findStep(t, cmd)
		steps++
		// A key between two steps is handled, and the search goes on.
		press(m, "ctrl+t")
		_, cmd = m.Update(msg)
	}
	if steps < 1 {
		t.Fatal("the whole search ran inside one key press")
	}
	if m.view.sel != want || m.view.notice != "" {
		t.Fatalf("after %d steps: selected %d (notice %q), want line %d", steps, m.view.sel, m.view.notice, want)
	}
	t.Logf("%d lines searched in %d steps after the key", m.log.Len(), steps)

	// A new search drops the steps of the one before.
	press(m, "/")
	typeText(m, "user unknown in virtual mailbox table.")
	old := press(m, "enter")
	press(m, "n")
	stale := findStep(t, old)
	sel := m.view.sel
	m.Update(stale)
	if m.view.finds != stale.gen+1 || m.view.sel != sel {
		t.Fatalf("a step of a replaced search was carried on")
	}
}

// findStep runs cmd and returns the findMsg in what it sends.
func findStep(t *testing.T, cmd tea.Cmd) findMsg {
	t.Helper()
	msgs := []tea.Msg{cmd()}
	for len(msgs) > 0 {
		msg := msgs[0]
		msgs = msgs[1:]
		switch msg := msg.(type) {
		case findMsg:
			return msg
		case tea.BatchMsg:
			for _, c := range msg {
				if c != nil {
					msgs = append(msgs, c())
				}
			}
		}
	}
	t.Fatal("no findMsg in the command")
	return findMsg{}
}

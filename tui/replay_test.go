package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
)

func demoRecording() *recordings.Recording {
	return &recordings.Recording{
		Header: recordings.Header{Format: recordings.FormatName, Version: recordings.FormatVersion, Created: fixedStart,
			Server: "mx.example.test", Transport: "smtp", Network: "tcp", EhloVersion: "test"},
		Events: demoEvents(),
	}
}

func newReplayModel(t testing.TB, rec *recordings.Recording, w, h int) *Model {
	t.Helper()
	m, err := New(Config{Replay: rec, ReplayName: "demo.jsonl", Theme: "dark"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.now = func() time.Time { return fixedStart.Add(time.Hour) }
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

// The panes show the state at the replay position, computed from the
// events up to the cursor, stepping forward or back.
func TestReplayStepsState(t *testing.T) {
	m := newReplayModel(t, demoRecording(), 120, 40)
	if m.lines() != 0 || m.st.Connected {
		t.Fatalf("at start: %d lines, connected %v", m.lines(), m.st.Connected)
	}
	check := func(pos int, want func(st paneState) string) {
		t.Helper()
		press(m, "home")
		for range pos {
			press(m, "right")
		}
		if m.rep.pos != pos {
			t.Fatalf("pos %d, want %d", m.rep.pos, pos)
		}
		if msg := want(m.st); msg != "" {
			t.Errorf("at %d: %s", pos, msg)
		}
	}
	check(3, func(st paneState) string {
		if st.Step != session.StepConnected || st.TLS {
			return fmt.Sprintf("step %v tls %v", st.Step, st.TLS)
		}
		return ""
	})
	check(12, func(st paneState) string {
		if st.Step != session.StepHello || len(st.Exts) != 5 || st.Exts[0].Keyword != "SIZE" || st.Stale {
			return fmt.Sprintf("after EHLO: %+v", st)
		}
		return ""
	})
	check(16, func(st paneState) string {
		if !st.TLS || !st.Stale || st.TLSInfo == nil || !st.TLSInfo.Verified {
			return fmt.Sprintf("after STARTTLS: tls %v stale %v", st.TLS, st.Stale)
		}
		return ""
	})
	check(24, func(st paneState) string {
		if st.Stale || len(st.Exts) != 5 || st.Exts[1].Keyword != "AUTH" {
			return fmt.Sprintf("after the second EHLO: stale %v exts %v", st.Stale, st.Exts)
		}
		return ""
	})
	check(34, func(st paneState) string {
		if st.Step != session.StepRcpt || st.Rcpts != 1 || !st.Auth {
			return fmt.Sprintf("after RCPT: %+v", st)
		}
		return ""
	})
	// Step back from the end lands on the same state as stepping forward.
	press(m, "end")
	if !strings.Contains(plain(m), "■ end") || m.lines() != m.log.Len() {
		t.Errorf("end: %d of %d lines\n%s", m.lines(), m.log.Len(), plain(m))
	}
	press(m, "left")
	back := m.st
	press(m, "home")
	for range len(demoEvents()) - 1 {
		press(m, "right")
	}
	if fmt.Sprint(back) != fmt.Sprint(m.st) {
		t.Errorf("back %+v\nforward %+v", back, m.st)
	}
}

// Stepping back across checkpoints recomputes the same state as replaying
// from the start.
func TestReplaySeekMatchesReplay(t *testing.T) {
	var evs []session.Event
	for i := range 3*checkpointEvery + 17 {
		evs = append(evs, session.Event{Offset: at(i), Kind: session.KindClient, Data: []byte("NOOP\r\n")},
			session.Event{Offset: at(i), Kind: session.KindServer, Data: []byte("250 2.0.0 Ok\r\n")})
	}
	rec := &recordings.Recording{Header: recordings.Header{Created: fixedStart, Transport: "smtp"}, Events: evs}
	m := newReplayModel(t, rec, 80, 24)
	r := m.rep
	for _, pos := range []int{len(evs), 700, 3, 513, 256, 255, 0, 1000} {
		r.seek(pos)
		want := newReplayer(rec, &wireLog{})
		for range pos {
			want.step()
		}
		if fmt.Sprint(r.cur.st) != fmt.Sprint(want.cur.st) || r.lines() != pos {
			t.Errorf("seek %d: %+v lines %d, want %+v", pos, r.cur.st, r.lines(), want.cur.st)
		}
	}
}

func TestReplayPlay(t *testing.T) {
	m := newReplayModel(t, demoRecording(), 80, 24)
	cmd := press(m, "space")
	if !m.rep.playing || cmd == nil {
		t.Fatal("space did not start playing")
	}
	// Ticks advance; a stale tick (after a pause) does nothing.
	gen := m.rep.gen
	m.Update(replayTickMsg{gen: gen})
	pos := m.rep.pos
	if pos == 0 {
		t.Fatal("tick did not advance")
	}
	press(m, "space")
	m.Update(replayTickMsg{gen: gen})
	if m.rep.pos != pos || m.rep.playing {
		t.Errorf("a tick after pause moved to %d", m.rep.pos)
	}
	press(m, "+", "+", "-")
	if replaySpeeds[m.rep.speed] != 2 {
		t.Errorf("speed %v", replaySpeeds[m.rep.speed])
	}
	// Waits are clamped.
	m.rep.rec.Events[pos].Offset = m.rep.rec.Events[pos-1].Offset + 10*time.Hour
	if d := m.rep.delay(); d != maxReplayDelay {
		t.Errorf("delay %v", d)
	}
	// Playing to the end stops.
	press(m, "space")
	for i := 0; m.rep.playing && i < 1000; i++ {
		m.Update(replayTickMsg{gen: m.rep.gen})
	}
	if m.rep.playing || m.rep.pos != m.rep.total() {
		t.Errorf("end: playing %v pos %d", m.rep.playing, m.rep.pos)
	}
}

// An LMTP recording explains each per-recipient reply after the data with
// RFC 2033.
func TestReplayLMTP(t *testing.T) {
	c := func(s string) session.Event { return session.Event{Kind: session.KindClient, Data: []byte(s)} }
	s := func(s string) session.Event { return session.Event{Kind: session.KindServer, Data: []byte(s + "\r\n")} }
	rec := &recordings.Recording{Header: recordings.Header{Created: fixedStart, Transport: "lmtp"}, Events: []session.Event{
		s("220 lmtp ready"), c("LHLO me\r\n"), s("250-lmtp"), s("250 PIPELINING"),
		c("MAIL FROM:<a@x>\r\n"), s("250 ok"), c("RCPT TO:<b@x>\r\n"), s("250 ok"), c("RCPT TO:<c@x>\r\n"), s("250 ok"),
		c("DATA\r\n"), s("354 go"), c("hi\r\n.\r\n"), s("250 2.1.5 <b@x> delivered"), s("452 4.2.2 <c@x> mailbox full"),
		c("QUIT\r\n"), s("221 bye"),
	}}
	m := newReplayModel(t, rec, 80, 24)
	press(m, "end")
	want := map[string]string{
		"250 2.1.5 <b@x> delivered":    "RFC 2033 §4.2",
		"452 4.2.2 <c@x> mailbox full": "RFC 2033 §4.2",
		"250-lmtp":                     "RFC 2033 §4.1",
		"221 bye":                      "RFC 5321 §4.1.1.10",
	}
	for i := range m.log.Len() {
		l := m.log.lines[i]
		text := m.log.text(i)
		if rfc, ok := want[text]; ok {
			e := explain(text, replyContext{Verb: l.verb, LMTP: true})
			if e.RFC != rfc {
				t.Errorf("%q: %s, want %s (verb %d)", text, e.RFC, rfc, l.verb)
			}
			delete(want, text)
		}
	}
	if len(want) > 0 {
		t.Errorf("lines not found: %v", want)
	}
}

// closingEvents end demoEvents' session as a real recording does: QUIT,
// 221, and a close event with no state change before it.
func closingEvents() []session.Event {
	return []session.Event{
		{Offset: at(270), Kind: session.KindClient, Data: []byte("QUIT\r\n"), TLS: true},
		{Offset: at(280), Kind: session.KindServer, Data: []byte("221 2.0.0 Bye\r\n"), TLS: true},
		{Offset: at(281), Kind: session.KindClose},
	}
}

// connPane is the Connection pane's text: the left column of the screen.
func connPane(m *Model) string {
	var b strings.Builder
	for _, l := range strings.Split(plain(m), "\n") {
		if r := []rune(l); len(r) > m.lay.Conn.W {
			l = string(r[:m.lay.Conn.W])
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// At the end of a session the Connection pane says how far it went, not a
// row of empty steps; stepping back before the close shows the live state again, and a new
// connection in the same recording starts from nothing.
func TestReplayClosedShowsHowFarItWent(t *testing.T) {
	rec := demoRecording()
	rec.Events = append(rec.Events, closingEvents()...)
	reconnect := []session.Event{
		{Offset: at(300), Kind: session.KindConnect, Network: "tcp", Addr: "mx.example.test:25"},
		{Offset: at(310), Kind: session.KindState, State: st(protocol.PhaseConnected, false, false, 0)},
		{Offset: at(320), Kind: session.KindState, State: st(protocol.PhaseDisconnected, false, false, 0)},
	}
	rec.Events = append(rec.Events, reconnect...)
	m := newReplayModel(t, rec, 120, 40)
	press(m, "end")
	for range reconnect {
		press(m, "left")
	}
	pane := connPane(m)
	for _, want := range []string{"smtp · closed", "was TLS TLSv1.3 TLS_AES_128_GCM_SHA256", "✓ connected", "✓ greeted", "✓ TLS", "✓ auth", "✓ MAIL", "✓ RCPT (1)", "✓ DATA"} {
		if !strings.Contains(pane, want) {
			t.Errorf("closed: no %q in\n%s", want, pane)
		}
	}
	if strings.Contains(pane, "○") || strings.Contains(pane, "●") || strings.Contains(pane, "not encrypted") {
		t.Errorf("closed: a step or encryption line of a live connection\n%s", pane)
	}

	press(m, "left") // before the close
	if pane := connPane(m); !strings.Contains(pane, "smtp · connected") || !strings.Contains(pane, "● auth › ○ MAIL") || strings.Contains(pane, "✓ DATA") {
		t.Errorf("one step back, before the close:\n%s", pane)
	}

	press(m, "end", "left")
	pane = connPane(m)
	if !strings.Contains(pane, "smtp · connected") || !strings.Contains(pane, "● connected") || !strings.Contains(pane, "○ TLS") || !strings.Contains(pane, "⚠ NOT ENCRYPTED") {
		t.Errorf("a new connection still shows the old one:\n%s", pane)
	}
	press(m, "right")
	pane = connPane(m)
	if !strings.Contains(pane, "smtp · closed") || !strings.Contains(pane, "✓ connected › ○ greeted") || !strings.Contains(pane, "○ TLS") || !strings.Contains(pane, "was not encrypted") {
		t.Errorf("the second connection's close shows the first's steps:\n%s", pane)
	}
}

// The same for a live session the server closed.
func TestLiveClosedShowsHowFarItWent(t *testing.T) {
	f := newFake()
	m := newTestModel(t, f, "dark", 120, 40)
	f.snap = demoSnapshot()
	deliver(m, demoEvents()...)
	f.snap.Connected, f.snap.State = false, st(protocol.PhaseDisconnected, false, false, 0)
	deliver(m, closingEvents()...)
	pane := connPane(m)
	for _, want := range []string{"smtp · closed", "was TLS TLSv1.3", "✓ auth"} {
		if !strings.Contains(pane, want) {
			t.Errorf("no %q in\n%s", want, pane)
		}
	}
	// Before anything connected, nothing was reached.
	m = newTestModel(t, newFake(), "dark", 120, 40)
	if pane := connPane(m); !strings.Contains(pane, "smtp · disconnected") || !strings.Contains(pane, "○ connected") {
		t.Errorf("never connected:\n%s", pane)
	}
}

// A damaged recording says so in the replay bar, as --print does (issue
// 14 item 6), at every size.
func TestReplayWarnsOfDamage(t *testing.T) {
	rec := demoRecording()
	rec.Problems = []recordings.Problem{{Line: 3, Msg: "not a JSON object"}, {Line: 41, Msg: "the last line is cut"}}
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		m := newReplayModel(t, rec, sz[0], sz[1])
		if v := plain(m); !strings.Contains(v, "⚠ damaged: 2 problems") {
			t.Errorf("%dx%d: no warning of the damage:\n%s", sz[0], sz[1], v)
		}
	}
	m := newReplayModel(t, rec, 200, 60)
	if v := plain(m); !strings.Contains(v, "line 3: not a JSON object") {
		t.Errorf("the first problem is not named:\n%s", v)
	}
	if v := plain(newReplayModel(t, demoRecording(), 120, 40)); strings.Contains(v, "damaged") {
		t.Errorf("a sound recording is called damaged:\n%s", v)
	}
}

// Search in a replay covers the whole recording, not only the events
// played so far: at event 0 a later reply is found, and the cursor moves
// to the event that shows it (issue 14 item 6).
func TestReplaySearchWholeRecording(t *testing.T) {
	m := newReplayModel(t, demoRecording(), 120, 40)
	if m.rep.pos != 0 {
		t.Fatalf("replay starts at event %d", m.rep.pos)
	}
	press(m, "/")
	typeText(m, "550")
	press(m, "enter")
	if m.view.notice != "" || m.view.sel < 0 {
		t.Fatalf("no match at event 0: notice %q sel %d", m.view.notice, m.view.sel)
	}
	if got := m.log.plain(m.view.sel); !strings.Contains(got, "550 5.1.1") {
		t.Errorf("selected %q", got)
	}
	if m.view.sel >= m.lines() || m.rep.pos == 0 {
		t.Errorf("the cursor (event %d, %d lines) does not show the match %d", m.rep.pos, m.lines(), m.view.sel)
	}
	if v := plain(m); !strings.Contains(v, "550 5.1.1") {
		t.Errorf("the match is not on screen:\n%s", v)
	}
}

package tui

import (
	"fmt"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/session"
)

// millionLines is a log of a long session: commands, replies and message
// content, built as the session delivers them.
func millionLines(tb testing.TB, m *Model, n int) {
	tb.Helper()
	b := m.build
	b.apply(session.Event{Kind: session.KindServer, Data: []byte("220 mx.example.test ESMTP\r\n")})
	for i := 0; m.log.Len() < n; i++ {
		at := time.Duration(i) * time.Millisecond
		switch i % 4 {
		case 0:
			b.apply(session.Event{Offset: at, Kind: session.KindClient, Data: fmt.Appendf(nil, "RCPT TO:<user%d@example.test>\r\n", i), TLS: true})
		case 1:
			b.apply(session.Event{Offset: at, Kind: session.KindServer, Data: []byte("250 2.1.5 Ok\r\n"), TLS: true})
		case 2:
			b.apply(session.Event{Offset: at, Kind: session.KindClient, Data: []byte("NOOP\r\n"), TLS: true})
		case 3:
			b.apply(session.Event{Offset: at, Kind: session.KindServer, Data: []byte("550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table\r\n"), TLS: true})
		}
	}
}

// BenchmarkLogView1M is one frame with a 1,000,000-line wire log at
// 120×40 (PRODUCT §7: under 16 ms). Only the visible rows are drawn, so the
// cost does not depend on the log's length.
func BenchmarkLogView1M(b *testing.B) {
	for _, v := range []struct {
		name string
		set  func(m *Model)
	}{
		{"follow", func(m *Model) {}},
		{"scrolled", func(m *Model) { m.view.scroll(-500_000, m.lines(), m.logRows()) }},
		{"stamps+explain+search", func(m *Model) {
			m.view.stamps, m.view.beside, m.view.query = true, true, "nobody"
			m.setFocus(focusLog)
			m.view.details = true
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			f := newFake()
			f.snap = demoSnapshot()
			m := newTestModel(b, f, "dark", 120, 40)
			millionLines(b, m, 1_000_000)
			v.set(m)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkAppendBatch is one activity message bringing 256 new events into
// a log of a million lines: appending does not depend on the log's length
// either (deps-eval §A.4: never SetContent the whole log).
func BenchmarkAppendBatch(b *testing.B) {
	f := newFake()
	f.snap = demoSnapshot()
	m := newTestModel(b, f, "dark", 120, 40)
	millionLines(b, m, 1_000_000)
	evs := make([]session.Event, 256)
	for i := range evs {
		evs[i] = session.Event{Kind: session.KindServer, Data: []byte("250 2.1.5 Ok\r\n"), TLS: true}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, e := range evs {
			m.feed.Event(e)
		}
		m.Update(activityMsg{})
	}
}

// A search over a million lines, the worst case (no match).
func BenchmarkSearch1M(b *testing.B) {
	f := newFake()
	m := newTestModel(b, f, "dark", 120, 40)
	millionLines(b, m, 1_000_000)
	m.view.query = "no such text"
	b.ResetTimer()
	for b.Loop() {
		m.view.find(m.log, m.lines(), 0, 1)
	}
}

package tui

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/recordings"
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

// BenchmarkSearch1M is a search over a million lines that matches none
// (PRODUCT, second pass: within a frame, 16 ms). "absent" has a trigram
// no line holds, so the index rules out every block; "every-block" is
// made of trigrams every block holds, so every line is read.
func BenchmarkSearch1M(b *testing.B) {
	f := newFake()
	m := newTestModel(b, f, "dark", 120, 40)
	millionLines(b, m, 1_000_000)
	for _, c := range []struct{ name, q string }{
		{"absent", "no such text"},
		{"every-block", "unknown in virtual mailbox table."},
	} {
		b.Run(c.name, func(b *testing.B) {
			m.view.query = c.q
			for b.Loop() {
				if i := m.view.find(m.log, m.lines(), 0, 1); i >= 0 {
					b.Fatalf("%q found at line %d", c.q, i)
				}
			}
		})
	}
}

// millionEvents is a recording of a long session, ten events a message,
// as BenchmarkRecordingRead1M's file holds (session/bench_test.go).
func millionEvents(n int) *recordings.Recording {
	rec := demoRecording()
	rec.Events = rec.Events[:0]
	body := []byte("From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: recorded message\r\n\r\n" +
		"The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij.\r\n.\r\n")
	steps := []session.Event{
		{Kind: session.KindClient, Data: []byte("MAIL FROM:<sender@example.com>\r\n")},
		{Kind: session.KindServer, Data: []byte("250 2.1.0 Ok\r\n")},
		{Kind: session.KindClient, Data: []byte("RCPT TO:<rcpt@example.com>\r\n")},
		{Kind: session.KindServer, Data: []byte("250 2.1.5 Ok\r\n")},
		{Kind: session.KindClient, Data: []byte("DATA\r\n")},
		{Kind: session.KindServer, Data: []byte("354 End data with <CR><LF>.<CR><LF>\r\n")},
		{Kind: session.KindClient, Data: body},
		{Kind: session.KindServer, Data: []byte("250 2.0.0 Ok: queued as 4XyZ\r\n")},
		{Kind: session.KindClient, Data: []byte("RSET\r\n")},
		{Kind: session.KindServer, Data: []byte("250 2.0.0 Ok\r\n")},
	}
	for i := 0; len(rec.Events) < n; i++ {
		e := steps[i%len(steps)]
		e.Offset = time.Duration(i) * 37 * time.Microsecond
		rec.Events = append(rec.Events, e)
	}
	return rec
}

// BenchmarkReplayOpen1M is `ehlo replay FILE` up to its first frame for a
// 1,000,000-event recording: recordings.Read of the file as the Recorder
// wrote it, every wire-log line and replay checkpoint built, one frame
// drawn. The target is under 1 s.
func BenchmarkReplayOpen1M(b *testing.B) {
	var file bytes.Buffer
	w, err := recordings.NewRecorder(&file, demoRecording().Header)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range millionEvents(1_000_000).Events {
		w.Event(e)
	}
	b.SetBytes(int64(file.Len()))
	b.ReportAllocs()
	// Building the file leaves hundreds of megabytes of garbage; collect it
	// now, or the first iteration pays for it, which `ehlo replay` in a
	// fresh process never does.
	runtime.GC()
	for b.Loop() {
		rec, err := recordings.Read(bytes.NewReader(file.Bytes()))
		if err != nil || len(rec.Events) < 1_000_000 {
			b.Fatalf("read %d events: %v", len(rec.Events), err)
		}
		m, err := New(Config{Replay: rec, ReplayName: "big.jsonl", Theme: "dark"})
		if err != nil {
			b.Fatal(err)
		}
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		_ = m.View()
		m.Close()
	}
}

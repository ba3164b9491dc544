package tui

import (
	"fmt"
	"image/color"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
)

// Golden views: the whole screen without styles, per pane state, at 80×24
// and 120×40 (STYLE B6). Regenerate with `go test ./tui -run Golden -update`.

// scenarios build a model in one state each.
var scenarios = []struct {
	name  string
	build func(t testing.TB, w, h int) *Model
}{
	{"start", func(t testing.TB, w, h int) *Model {
		f := newFake()
		return newTestModel(t, f, "dark", w, h)
	}},
	{"cleartext", func(t testing.TB, w, h int) *Model {
		f := newFake()
		f.snap = demoSnapshot()
		f.snap.TLS, f.snap.State = nil, st(protocol.PhaseHello, false, false, 0)
		f.snap.Extensions = []protocol.Extension{{Keyword: "SIZE", Params: "10485760"}, {Keyword: "PIPELINING"}, {Keyword: "8BITMIME"}, {Keyword: "ENHANCEDSTATUSCODES"}, {Keyword: "STARTTLS"}}
		m := newTestModel(t, f, "dark", w, h)
		deliver(m, demoEvents()[:12]...)
		return m
	}},
	{"session", func(t testing.TB, w, h int) *Model {
		f := newFake()
		f.snap = demoSnapshot()
		m := newTestModel(t, f, "dark", w, h)
		deliver(m, demoEvents()...)
		return m
	}},
	{"insecure-stale", func(t testing.TB, w, h int) *Model {
		f := newFake()
		f.snap = demoSnapshot()
		f.snap.State = st(protocol.PhaseGreeted, true, false, 0)
		f.snap.ExtensionsStale = true
		f.snap.Extensions = []protocol.Extension{{Keyword: "SIZE", Params: "10485760"}, {Keyword: "STARTTLS"}}
		tls := *f.snap.TLS
		tls.Verified = false
		f.snap.TLS = &tls
		m := newTestModel(t, f, "dark", w, h)
		deliver(m, demoEvents()[:14]...)
		deliver(m, session.Event{Offset: at(95), Kind: session.KindTLS, Handshake: &tls})
		return m
	}},
	{"auth", func(t testing.TB, w, h int) *Model {
		f := newFake()
		f.snap = demoSnapshot()
		f.snap.State.Authenticated = false
		f.snap.Mode, f.snap.Challenge, f.snap.SecretInput = modeAuth, "Password:", true
		m := newTestModel(t, f, "dark", w, h)
		deliver(m, demoEvents()[:24]...)
		deliver(m,
			session.Event{Offset: at(120), Kind: session.KindClient, Data: []byte("AUTH LOGIN\r\n"), TLS: true},
			session.Event{Offset: at(125), Kind: session.KindServer, Data: []byte("334 VXNlcm5hbWU6\r\n"), TLS: true},
			session.Event{Offset: at(126), Kind: session.KindClient, Data: []byte("[redacted user=\"alice\"]\r\n"), TLS: true, Redacted: true},
			session.Event{Offset: at(130), Kind: session.KindServer, Data: []byte("334 UGFzc3dvcmQ6\r\n"), TLS: true},
		)
		typeText(m, "hunter2")
		return m
	}},
	{"data", func(t testing.TB, w, h int) *Model {
		f := newFake()
		f.snap = demoSnapshot()
		f.snap.State = st(protocol.PhaseData, true, true, 1)
		f.snap.Mode, f.snap.DataLines = modeData, 3
		f.snap.DataTail = []string{"Subject: hello", "", "Hi Bob,"}
		m := newTestModel(t, f, "dark", w, h)
		deliver(m, demoEvents()[:38]...)
		typeText(m, "Regards, Alice")
		return m
	}},
	{"busy", func(t testing.TB, w, h int) *Model {
		f := newFake()
		f.snap = demoSnapshot()
		f.snap.Busy, f.snap.BusySince, f.snap.Pending = true, fixedStart.Add(39500e6), "RCPT"
		f.snap.LastError = ""
		m := newTestModel(t, f, "dark", w, h)
		deliver(m, demoEvents()[:32]...)
		return m
	}},
	{"explain", func(t testing.TB, w, h int) *Model {
		f := newFake()
		f.snap = demoSnapshot()
		m := newTestModel(t, f, "dark", w, h)
		deliver(m, demoEvents()...)
		press(m, "shift+tab", "/")
		typeText(m, "5.1.1")
		press(m, "enter", "e", "x")
		return m
	}},
	{"completion", func(t testing.TB, w, h int) *Model {
		f := newFake()
		f.snap = demoSnapshot()
		m := newTestModel(t, f, "dark", w, h)
		deliver(m, demoEvents()...)
		typeText(m, "MAIL FROM:<a@example.test> S")
		return m
	}},
	{"help", func(t testing.TB, w, h int) *Model {
		m := newTestModel(t, newFake(), "dark", w, h)
		press(m, "f1")
		return m
	}},
	{"send", func(t testing.TB, w, h int) *Model {
		m := newTestModel(t, newFake(), "dark", w, h)
		typeText(m, "/send")
		press(m, "enter")
		typeText(m, "alice@example.test")
		return m
	}},
	{"mailbox", func(t testing.TB, w, h int) *Model {
		f := newFake()
		m, err := New(Config{Conversation: f, Theme: "dark", Mailbox: func() []MailItem {
			return []MailItem{{From: "alice@example.test", To: []string{"bob@example.test"}, Received: fixedStart,
				Data: []byte("From: alice@example.test\r\nTo: bob@example.test\r\nSubject: hello\r\n\r\nHi Bob,\r\nthis is a test.\r\n")}}
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		m.now = newTestModel(t, f, "dark", w, h).now
		m.Update(tea.WindowSizeMsg{Width: w, Height: h})
		typeText(m, "/mailbox")
		settle(m, press(m, "enter"))
		return m
	}},
	{"replay", func(t testing.TB, w, h int) *Model {
		m := newReplayModel(t, demoRecording(), w, h)
		for range 20 {
			press(m, "right")
		}
		return m
	}},
	{"replay-closed", func(t testing.TB, w, h int) *Model {
		rec := demoRecording()
		rec.Events = append(rec.Events, closingEvents()...)
		m := newReplayModel(t, rec, w, h)
		press(m, "end")
		return m
	}},
}

func TestGolden(t *testing.T) {
	for _, sc := range scenarios {
		for _, sz := range [][2]int{{80, 24}, {120, 40}} {
			t.Run(fmt.Sprintf("%s/%dx%d", sc.name, sz[0], sz[1]), func(t *testing.T) {
				m := sc.build(t, sz[0], sz[1])
				golden.RequireEqual(t, ansi.Strip(m.View().Content))
			})
		}
	}
}

func TestGoldenTooSmall(t *testing.T) {
	m := newTestModel(t, newFake(), "dark", 79, 24)
	golden.RequireEqual(t, ansi.Strip(m.View().Content))
}

// One styled golden per theme: the colours are part of the contract too.
// Lip Gloss renders full colour whatever the terminal; the program
// downsamples, so these are deterministic.
func TestGoldenThemes(t *testing.T) {
	for _, name := range themes.Names() {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.snap = demoSnapshot()
			m := newTestModel(t, f, name, 80, 24)
			deliver(m, demoEvents()...)
			golden.RequireEqual(t, m.View().Content)
		})
	}
	// The default theme follows a light background once the terminal says
	// so.
	t.Run("default-light", func(t *testing.T) {
		f := newFake()
		f.snap = demoSnapshot()
		m := newTestModel(t, f, "default", 80, 24)
		m.Update(tea.BackgroundColorMsg{Color: color.White})
		deliver(m, demoEvents()...)
		golden.RequireEqual(t, m.View().Content)
	})
}

// NO_COLOR: no colour sequence at all, only attributes.
func TestNoColorHasNoColour(t *testing.T) {
	f := newFake()
	f.snap = demoSnapshot()
	m, err := New(Config{Conversation: f, Theme: "high-contrast", NoColor: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.now = func() time.Time { return fixedStart }
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	deliver(m, demoEvents()...)
	for _, state := range []func(){func() {}, func() { press(m, "shift+tab", "e") }, func() { press(m, "f1") }} {
		state()
		if seq := colourSequence(m.View().Content); seq != "" {
			t.Fatalf("colour sequence %q under NO_COLOR", seq)
		}
	}
}

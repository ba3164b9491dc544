package tui

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
)

// liveOnSandbox is a model on a real session.Live talking to the sandbox
// with cfg, connected and greeted with EHLO.
func liveOnSandbox(t *testing.T, cfg sandbox.Config) (*Model, *session.Live) {
	t.Helper()
	srv, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	live := session.NewLive(session.LiveConfig{
		Server: srv.Addr(), Kind: protocol.SMTP,
		Options: protocol.Options{Timeout: 5 * time.Second, LocalHostname: "client.test"},
	})
	t.Cleanup(func() { live.Close() })
	m, err := New(Config{Conversation: live, Theme: "mono"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 32})
	live.Connect()
	live.Ehlo("")
	return m, live
}

// waitScreen feeds the session's activity to m, as the program's listen
// loop does, until the screen satisfies ok.
func waitScreen(t *testing.T, m *Model, live *session.Live, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		m.Update(activityMsg{})
		if scr := plain(m); ok(scr) {
			return scr
		}
		select {
		case <-live.Notify():
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; screen:\n%s", what, plain(m))
		}
	}
}

func contains(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

// Defect 6: a 421 the server sends while the user is idle shows up by
// itself, and the Connection pane says closed; the next line typed is not
// sent, and the 421 is not shown as its reply.
func TestIdle421ShownAndClosed(t *testing.T) {
	m, live := liveOnSandbox(t, sandbox.Config{ReadTimeout: 500 * time.Millisecond})
	waitScreen(t, m, live, "the EHLO reply", contains("<-  250 SMTPUTF8"))
	// Shown as it comes, called unsolicited, and the connection closed.
	waitScreen(t, m, live, "the idle 421", contains("<-  421 4.4.2", "smtp · closed", "unsolicited"))
	typeText(m, "NOOP")
	press(m, "enter")
	scr := waitScreen(t, m, live, "the refusal", contains("not connected"))
	if strings.Contains(scr, " -> NOOP") {
		t.Errorf("NOOP was sent after the server closed:\n%s", scr)
	}
}

// Defect 6: a line typed while a reply is pending is shown as queued, then
// sent in its turn.
func TestQueuedLineShownThenSent(t *testing.T) {
	m, live := liveOnSandbox(t, sandbox.Config{Faults: mustFaults(t, "delay:noop=1s")})
	waitScreen(t, m, live, "the EHLO reply", contains("<-  250 SMTPUTF8"))
	typeText(m, "NOOP")
	press(m, "enter")
	waitScreen(t, m, live, "NOOP pending", func(string) bool { return m.st.Busy })
	typeText(m, "RSET")
	press(m, "enter")
	if v := m.comp.input.Value(); v != "" {
		t.Errorf("composer keeps %q", v)
	}
	waitScreen(t, m, live, "RSET shown as queued", contains("1 queued, sent after the reply to NOOP: RSET"))
	scr := waitScreen(t, m, live, "RSET sent and answered", contains(" -> RSET", "<-  250 2.0.0 Ok"))
	if strings.Contains(scr, "queued") {
		t.Errorf("still shown as queued after it was sent:\n%s", scr)
	}
}

func mustFaults(t *testing.T, specs ...string) []sandbox.Fault {
	t.Helper()
	var out []sandbox.Fault
	for _, s := range specs {
		f, err := sandbox.ParseFault(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// Defect 5 (issue 11): a recording begun with /record after EHLO and
// STARTTLS replays from the session's state, with its own clock. The first
// frame already shows the connection greeted, in TLS, with the extensions
// of the EHLO inside TLS, and the clock at 00:00; the session had been
// running for over a second before the recording began.
func TestRecordMidSessionReplaysFromState(t *testing.T) {
	srv, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CertPEM())
	live := session.NewLive(session.LiveConfig{
		Server: srv.Addr(), Kind: protocol.SMTP,
		Options: protocol.Options{Timeout: 5 * time.Second, LocalHostname: "client.test", TLSConfig: &tls.Config{RootCAs: pool}},
	})
	t.Cleanup(func() { live.Close() })
	live.Connect()
	live.Input("EHLO client.test\nSTARTTLS\nEHLO client.test")
	waitSettled(t, live, func(s session.Snapshot) bool { return s.State.TLS && !s.Busy && len(s.Extensions) > 0 })
	time.Sleep(1100 * time.Millisecond) // the session's clock is past 00:01

	var file bytes.Buffer
	rec, err := recordings.NewRecorder(&file, recordings.Header{Server: srv.Addr(), Transport: "smtp", Network: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	remove := live.Record(rec, rec.Header().Created)
	live.Noop()
	waitSettled(t, live, func(s session.Snapshot) bool { return s.BytesOut > 0 && !s.Busy && len(s.Queued) == 0 })
	remove()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	span := time.Since(rec.Header().Created) // everything recorded happened within it

	r, err := recordings.Read(&file)
	if err != nil || len(r.Problems) > 0 {
		t.Fatalf("read back: %v %v", err, r.Problems)
	}
	m := newReplayModel(t, r, 120, 40)
	press(m, "right")
	pane := connPane(m)
	for _, want := range []string{"smtp · connected", "TLS TLSv1.3", "certificate verified", "● connected › ● greeted › ● TLS", "00:00"} {
		if !strings.Contains(pane, want) {
			t.Errorf("first frame: no %q in\n%s", want, pane)
		}
	}
	if strings.Contains(pane, "NOT ENCRYPTED") || strings.Contains(pane, "not encrypted") || strings.Contains(pane, "disconnected") {
		t.Errorf("first frame shows a session in clear text or disconnected:\n%s", pane)
	}
	if _, ok := m.st.has("AUTH"); !ok || m.st.Stale {
		t.Errorf("first frame: extensions %v stale %v, want those of the EHLO inside TLS", m.st.Exts, m.st.Stale)
	}
	if scr := plain(m); !strings.Contains(scr, "recording begins mid-session") || !strings.Contains(scr, "· 00:00.000 / 00:00.") {
		t.Errorf("first frame:\n%s", scr)
	}
	press(m, "end")
	if scr := plain(m); !strings.Contains(scr, "~> noop") || !strings.Contains(scr, "<~  250") {
		t.Errorf("the NOOP is not shown inside TLS:\n%s", scr)
	}
	if got := r.Events[len(r.Events)-1].Offset; got > span {
		t.Errorf("last event at %s: the clock counts from the session, not the recording", got)
	}
}

// waitSettled waits until the session's snapshot satisfies ok.
func waitSettled(t *testing.T, live *session.Live, ok func(session.Snapshot) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !ok(live.Snapshot()) {
		select {
		case <-live.Notify():
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out; snapshot %+v", live.Snapshot())
		}
	}
}

// A snapshot from a hostile file reaches the screen only sanitized.
func TestReplaySnapshotHostile(t *testing.T) {
	rec := demoRecording()
	rec.Events = []session.Event{{Kind: session.KindSnapshot, Start: &session.StartState{
		Connected: true, Addr: "evil\x1b]0;pwned\x07:25", State: protocol.State{Phase: protocol.PhaseRcpt, Recipients: 2},
		Extensions: []protocol.Extension{{Keyword: "X-\x1b[2J", Params: "\u202e"}}, Mode: "data",
	}}, {Offset: at(5), Kind: session.KindClient, Data: []byte("Subject: still the message\r\n")}}
	m := newReplayModel(t, rec, 120, 40)
	press(m, "end")
	scr := m.View().Content
	if strings.Contains(scr, "\x1b]0;") || strings.Contains(scr, "\x1b[2J") || strings.Contains(scr, "\u202e") {
		t.Errorf("raw escape from the snapshot on screen: %q", scr)
	}
	p := plain(m)
	for _, want := range []string{`evil\x1b]0;pwned\x07:25`, "● RCPT (2)", `X-\x1b[2J`} {
		if !strings.Contains(p, want) {
			t.Errorf("no %q:\n%s", want, p)
		}
	}
	// Inside DATA, the next client line is message text, not a command.
	last := m.log.lines[m.log.Len()-1]
	if last.kind != lineClient || last.flags&flagPayload == 0 || last.verb != verbDATA {
		t.Errorf("after a snapshot in DATA the client line is not message text: kind %v flags %b verb %v", last.kind, last.flags, last.verb)
	}
}

// /ca shows the sandbox's certificate and its fingerprint, the same the
// sandbox prints, and how to use it with --ca (issue 14 item 3).
func TestSlashCAShowsTheSandboxCertificate(t *testing.T) {
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	m, err := New(Config{Conversation: newFake(), Theme: "dark", SandboxCA: sb.CertPEM()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		typeText(m, "/ca")
		press(m, "enter")
		v := plain(m)
		fp := strings.ToLower(strings.ReplaceAll(sb.Fingerprint(), ":", ""))
		flat := strings.ReplaceAll(strings.ReplaceAll(v, " ", ""), "│", "")
		if !strings.Contains(flat, fp[:32]) || !strings.Contains(flat, fp[32:]) || !strings.Contains(v, "-----BEGIN CERTIFICATE-----") || !strings.Contains(v, "--ca FILE") {
			t.Errorf("%dx%d: /ca lacks the fingerprint, the PEM or the way to use it:\n%s", sz[0], sz[1], v)
		}
		checkFrame(t, m, sz[0], sz[1])
		press(m, "esc")
		if m.overlay != overlayNone {
			t.Fatal("esc left /ca open")
		}
	}
	m2 := newTestModel(t, newFake(), "dark", 80, 24)
	typeText(m2, "/ca")
	press(m2, "enter")
	if !strings.Contains(plain(m2), "/ca is the sandbox's certificate") {
		t.Errorf("/ca on another server:\n%s", plain(m2))
	}
}

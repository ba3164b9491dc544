package tui

import (
	"slices"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// A replay's Extensions pane reads an EHLO reply as the live session does
// (protocol.ParseEHLO, through session): an old-style "AUTH=" line is
// AUTH, a keyword ends where protocol says it ends (a TAB too), and a line
// with no keyword adds nothing (issue 11: one reader of EHLO).
func TestReplayExtensionsAsLive(t *testing.T) {
	reply := "250-mx.example.test\r\n250-AUTH=LOGIN PLAIN\r\n250-SIZE\t1000\r\n250- \r\n250 8BITMIME\r\n"
	rec := demoRecording()
	rec.Events = []session.Event{
		{Kind: session.KindConnect, Network: "tcp", Addr: "mx.example.test:25"},
		{Kind: session.KindState, State: st(protocol.PhaseConnected, false, false, 0)},
		{Kind: session.KindServer, Data: []byte("220 mx.example.test ESMTP\r\n")},
		{Kind: session.KindState, State: st(protocol.PhaseGreeted, false, false, 0)},
		{Kind: session.KindClient, Data: []byte("EHLO client.example\r\n")},
		{Kind: session.KindServer, Data: []byte(reply)},
		{Kind: session.KindState, State: st(protocol.PhaseHello, false, false, 0)},
	}
	m := newReplayModel(t, rec, 120, 40)
	press(m, "end")
	// The live session's list: the reply's text as protocol reads it.
	_, live := protocol.ParseEHLO("mx.example.test\nAUTH=LOGIN PLAIN\nSIZE\t1000\n \n8BITMIME")
	want := make([]extension, 0, len(live))
	for _, e := range live {
		want = append(want, extension{e.Keyword, e.Params})
	}
	if !slices.Equal(m.st.Exts, want) {
		t.Errorf("replay extensions %q, live %q", m.st.Exts, want)
	}
}

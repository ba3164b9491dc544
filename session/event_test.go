package session

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Fake protocol event streams: the session is tested against what the
// tracer contract promises, not against the live client.

func send(s string, secrets ...protocol.Span) protocol.Event {
	return protocol.Event{Kind: protocol.EventSend, Data: []byte(s), Secrets: secrets}
}

func recv(s string) protocol.Event {
	return protocol.Event{Kind: protocol.EventRecv, Data: []byte(s)}
}

func state(p protocol.Phase, tls, auth bool) protocol.Event {
	return protocol.Event{Kind: protocol.EventState, State: protocol.State{Phase: p, TLS: tls, Authenticated: auth}}
}

// collect is a Sink that keeps everything.
type collect struct{ events []Event }

func (c *collect) Event(e Event) { c.events = append(c.events, e) }

// fakeClock steps a millisecond per call.
func fakeClock(t0 time.Time) func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return t0.Add(time.Duration(n) * time.Millisecond)
	}
}

func newTestCapture(r Redaction) *Capture {
	t0 := time.Date(2026, 11, 25, 22, 50, 0, 0, time.UTC)
	c := NewCapture(t0, r)
	c.now = fakeClock(t0)
	return c
}

func TestCaptureCopiesAndTimestamps(t *testing.T) {
	c := newTestCapture(Redaction{})
	var got collect
	c.Add(&got)

	buf := []byte("EHLO client.test\r\n")
	c.Trace(protocol.Event{Kind: protocol.EventConnect, Network: "tcp", Addr: "127.0.0.1:25"})
	c.Trace(protocol.Event{Kind: protocol.EventSend, Data: buf, Time: c.Start().Add(5 * time.Second)})
	copy(buf, "XXXX") // protocol may reuse its buffer once Trace returns
	c.Trace(recv("250 ok\r\n"))
	c.Trace(state(protocol.PhaseHello, false, false))
	c.Trace(protocol.Event{Kind: protocol.EventNote, Text: "bare LF"})
	c.Trace(protocol.Event{Kind: protocol.EventClose})

	want := []Kind{KindConnect, KindClient, KindServer, KindState, KindNote, KindClose}
	if len(got.events) != len(want) {
		t.Fatalf("got %d events, want %d", len(got.events), len(want))
	}
	for i, e := range got.events {
		if e.Kind != want[i] {
			t.Errorf("event %d: kind %v, want %v", i, e.Kind, want[i])
		}
		if i > 0 && e.Offset < got.events[i-1].Offset {
			t.Errorf("event %d: offset %v goes back from %v", i, e.Offset, got.events[i-1].Offset)
		}
	}
	if s := string(got.events[1].Data); s != "EHLO client.test\r\n" {
		t.Errorf("client data %q: the capture did not copy it", s)
	}
	if got.events[1].Offset != 5*time.Second {
		t.Errorf("offset from the event's own time: %v, want 5s", got.events[1].Offset)
	}
	// The clock said 1ms, but an offset never goes back.
	if got.events[2].Offset != 5*time.Second {
		t.Errorf("offset after a later event: %v, want 5s (monotonic)", got.events[2].Offset)
	}
	if e := got.events[0]; e.Network != "tcp" || e.Addr != "127.0.0.1:25" {
		t.Errorf("connect: %+v", e)
	}
	if e := got.events[3]; e.State.Phase != protocol.PhaseHello {
		t.Errorf("state: %+v", e.State)
	}
	if e := got.events[4]; e.Text != "bare LF" {
		t.Errorf("note: %+v", e)
	}
}

func TestCaptureRemove(t *testing.T) {
	c := newTestCapture(Redaction{})
	var a, b collect
	removeA := c.Add(&a)
	c.Add(SinkFunc(b.Event)) // a func sink: removal must not compare it
	c.Trace(recv("220 hi\r\n"))
	removeA()
	c.Trace(recv("250 ok\r\n"))
	if len(a.events) != 1 || len(b.events) != 2 {
		t.Errorf("after remove: a got %d events (want 1), b got %d (want 2)", len(a.events), len(b.events))
	}
}

// A sink that fails is dropped, and the others hear why (security-anchors
// §4.3 rule 10, case I9).
type failing struct {
	n   int
	err error
}

func (f *failing) Event(Event) {
	f.n++
	if f.n == 2 {
		f.err = errors.New("recording stopped: no space left on device")
	}
}
func (f *failing) Err() error { return f.err }

func TestCaptureDropsFailedSink(t *testing.T) {
	c := newTestCapture(Redaction{})
	f := &failing{}
	var other collect
	c.Add(f)
	c.Add(&other)
	for range 4 {
		c.Trace(recv("250 ok\r\n"))
	}
	if f.n != 2 {
		t.Errorf("failed sink got %d events, want 2 (dropped after its error)", f.n)
	}
	var notes []string
	for _, e := range other.events {
		if e.Kind == KindNote {
			notes = append(notes, e.Text)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "no space left on device") {
		t.Errorf("notes to the other sinks: %q", notes)
	}
	if len(other.events) != 5 {
		t.Errorf("other sink got %d events, want 4 replies and 1 note", len(other.events))
	}
}

func TestCleanSpans(t *testing.T) {
	sp := func(a, b int) protocol.Span { return protocol.Span{Start: a, End: b} }
	got := cleanSpans([]protocol.Span{sp(8, 20), sp(-3, 2), sp(5, 3), sp(1, 4), sp(30, 40)}, 10)
	want := []protocol.Span{sp(0, 4), sp(8, 10)}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("cleanSpans = %v, want %v", got, want)
	}
}

// Wild spans from a buggy protocol never panic and never un-redact.
func TestCaptureBadSpans(t *testing.T) {
	c := newTestCapture(Redaction{})
	var got collect
	c.Add(&got)
	c.Trace(send("AUTH PLAIN c2VjcmV0\r\n", protocol.Span{Start: 11, End: 1000}, protocol.Span{Start: -5, End: -1}))
	if s := string(got.events[0].Data); s != "AUTH PLAIN [redacted]\r\n" {
		t.Errorf("got %q", s)
	}
}

func selfSigned(t testing.TB, cn string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		Issuer:       pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     notAfter,
		DNSNames:     []string{cn},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCaptureTLSSummary(t *testing.T) {
	cert := selfSigned(t, "mx.test", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	cs := &tls.ConnectionState{
		Version:           tls.VersionTLS13,
		CipherSuite:       tls.TLS_AES_128_GCM_SHA256,
		HandshakeComplete: true,
		ServerName:        "mx.test",
		PeerCertificates:  []*x509.Certificate{cert},
	}
	c := newTestCapture(Redaction{})
	var got collect
	c.Add(&got)
	c.Trace(protocol.Event{Kind: protocol.EventTLS, TLSState: cs, TLSErr: errors.New("x509: certificate signed by unknown authority")})
	cs.VerifiedChains = [][]*x509.Certificate{{cert}}
	c.Trace(protocol.Event{Kind: protocol.EventTLS, TLSState: cs})
	c.Trace(protocol.Event{Kind: protocol.EventTLS, TLSErr: errors.New("tls: handshake failure")})

	h := got.events[0].Handshake
	sum := sha256.Sum256(cert.Raw)
	if h.Version != "TLSv1.3" || h.Cipher != "TLS_AES_128_GCM_SHA256" || !h.Complete || h.Verified || h.ServerName != "mx.test" {
		t.Errorf("summary: %+v", h)
	}
	if h.Error != "x509: certificate signed by unknown authority" {
		t.Errorf("error: %q", h.Error)
	}
	if len(h.Chain) != 1 {
		t.Fatalf("chain: %+v", h.Chain)
	}
	if c := h.Chain[0]; c.Subject != "CN=mx.test" || c.Issuer != "CN=mx.test" || c.SHA256 != hex.EncodeToString(sum[:]) ||
		strings.Join(c.SANs, ",") != "mx.test,127.0.0.1" || !c.NotAfter.Equal(cert.NotAfter) {
		t.Errorf("certificate: %+v", c)
	}
	if !got.events[1].Handshake.Verified {
		t.Errorf("verified chain, no error: Verified = false")
	}
	if h := got.events[2].Handshake; h.Complete || h.Error != "tls: handshake failure" || len(h.Chain) != 0 {
		t.Errorf("failed handshake: %+v", h)
	}
}

func TestFlowDataAndBDAT(t *testing.T) {
	var f flow
	var kinds []string
	feed := func(s string) {
		f.client([]byte(s), func(p piece) {
			k := "cmd"
			if p.payload {
				k = "body"
			}
			if p.last {
				k += "-last"
			}
			if !p.complete {
				k += "-partial"
			}
			kinds = append(kinds, k)
		})
	}
	feed("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n")
	f.server([]byte("250 ok\r\n"))
	f.server([]byte("250 ok\r\n"))
	f.server([]byte("354 go\r\n"))
	feed("AUTH PLAIN eA==\r\nline two\r\n.")
	feed("\r\nQUIT\r\n")
	feed("BDAT 12 LAST\r\n0123456789\r\nRSET\r\n")
	want := "cmd cmd cmd body body body-partial body-last cmd cmd-last body-last cmd"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("pieces:\n got %s\nwant %s", got, want)
	}
}

func TestFlowIgnoresUnsolicited354(t *testing.T) {
	var f flow
	f.server([]byte("354 go ahead\r\n")) // no DATA was sent
	payload := false
	f.client([]byte("AUTH PLAIN eA==\r\n"), func(p piece) { payload = payload || p.payload })
	if payload {
		t.Error("a 354 nobody asked for turned commands into message content")
	}
}

// parts follows evs with a new Follower and returns, for each event, its
// parts as "verb|flags|text" strings (p payload, l last, + complete).
func followAll(lmtp bool, evs ...Event) [][]string {
	f := NewFollower(lmtp)
	var out [][]string
	for _, e := range evs {
		f.Annotate(&e)
		var got []string
		start := 0
		for _, p := range e.Parts {
			flags := ""
			if p.Payload {
				flags += "p"
			}
			if p.Last {
				flags += "l"
			}
			if p.Complete {
				flags += "+"
			}
			if p.More {
				flags += "m"
			}
			if p.Cont {
				flags += "c"
			}
			if p.Answer {
				flags += "a"
			}
			got = append(got, p.Verb+"|"+flags+"|"+string(TrimEOL(e.Data[start:p.End])))
			start = p.End
		}
		out = append(out, got)
	}
	return out
}

func cl(s string) Event { return Event{Kind: KindClient, Data: []byte(s)} }
func sv(s string) Event { return Event{Kind: KindServer, Data: []byte(s + "\r\n")} }

// The Follower names each command's verb as the server splits it, each
// reply's command, message content and its end, and an AUTH answer.
func TestFollowerAnnotates(t *testing.T) {
	got := followAll(false,
		Event{Kind: KindConnect, Addr: "mx:25"},
		sv("220 mx ready"),
		cl("EHLO me\r\n"), sv("250-mx"), sv("250 PIPELINING"),
		// A TAB after the verb: the server splits there too (issue 11 #1).
		cl("AUTH\tLOGIN\r\n"), sv("334 VXNlcm5hbWU6"), cl("YWxpY2U=\r\n"), sv("334 UGFzc3dvcmQ6"), cl("c2VjcmV0\r\n"), sv("235 2.7.0 ok"),
		// A pipelined group in one send.
		cl("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"), sv("250 ok"), sv("250 ok"), sv("354 go"),
		// The body streamed in two sends, a line across them, then the dot
		// and QUIT in one send.
		cl("Subject: hi\r\n\r\nline one\r\nline "), cl("two\r\n.\r\nQUIT\r\n"),
		sv("250 queued"), sv("221 bye"),
		sv("421 unasked"),
	)
	want := [][]string{
		nil,
		{"greeting|+|220 mx ready"},
		{"EHLO|+|EHLO me"}, {"EHLO|+m|250-mx"}, {"EHLO|+|250 PIPELINING"},
		{"AUTH|+|AUTH\tLOGIN"}, {"AUTH|+|334 VXNlcm5hbWU6"}, {"AUTH|+a|YWxpY2U="}, {"AUTH|+|334 UGFzc3dvcmQ6"}, {"AUTH|+a|c2VjcmV0"}, {"AUTH|+|235 2.7.0 ok"},
		{"MAIL|+|MAIL FROM:<a@x>", "RCPT|+|RCPT TO:<b@x>", "DATA|+|DATA"}, {"MAIL|+|250 ok"}, {"RCPT|+|250 ok"}, {"DATA|+|354 go"},
		{"DATA|p|Subject: hi\r\n\r\nline one\r\nline "}, {"DATA|p+c|two", "message end|pl+|.", "QUIT|+|QUIT"},
		{"message end|+|250 queued"}, {"QUIT|+|221 bye"},
		{"|+|421 unasked"},
	}
	for i := range want {
		if strings.Join(got[i], " / ") != strings.Join(want[i], " / ") {
			t.Errorf("event %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// BDAT n's n bytes are content whatever they hold, and the chunk's end is
// answered as the message's; LMTP answers the end once per recipient.
func TestFollowerBDATAndLMTP(t *testing.T) {
	got := followAll(false,
		sv("220 lmtp"), cl("LHLO me\r\n"), sv("250 CHUNKING"),
		cl("BDAT 9 LAST\r\nQUIT\r\nabc"), sv("250 one"), sv("452 two"), cl("NOOP\r\n"), sv("250 noop"),
	)
	want := [][]string{
		{"greeting|+|220 lmtp"}, {"LHLO|+|LHLO me"}, {"LHLO|+|250 CHUNKING"},
		{"BDAT|l+|BDAT 9 LAST", "BDAT|pl+|QUIT\r\nabc"}, {"message end|+|250 one"}, {"message end|+|452 two"},
		{"NOOP|+|NOOP"}, {"NOOP|+|250 noop"},
	}
	for i := range want {
		if strings.Join(got[i], " / ") != strings.Join(want[i], " / ") {
			t.Errorf("event %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// A recording begun inside a message goes on with message text; one
// begun inside an AUTH exchange, with an answer.
func TestFollowerResumesFromSnapshot(t *testing.T) {
	data := followAll(false, Event{Kind: KindSnapshot, Start: &StartState{Connected: true, Mode: "data"}}, cl("RCPT TO:<x>\r\n.\r\n"))
	if got := strings.Join(data[1], " / "); got != "DATA|p+|RCPT TO:<x> / message end|pl+|." {
		t.Errorf("in data: %s", got)
	}
	auth := followAll(false, Event{Kind: KindSnapshot, Start: &StartState{Connected: true, Mode: "auth"}}, cl("c2VjcmV0\r\n"), sv("235 ok"))
	if got := strings.Join(append(auth[1], auth[2]...), " / "); got != "AUTH|+a|c2VjcmV0 / AUTH|+|235 ok" {
		t.Errorf("in auth: %s", got)
	}
}

// Every sink gets annotated events, and a sink keeping secrets gets parts
// that fit its own, unredacted bytes.
func TestCaptureAnnotates(t *testing.T) {
	c := NewCapture(time.Time{}, Redaction{})
	var red, raw []Event
	c.Add(SinkFunc(func(e Event) { red = append(red, e) }))
	c.Add(&secretSink{fn: func(e Event) { raw = append(raw, e) }})
	c.Trace(protocol.Event{Kind: protocol.EventRecv, Data: []byte("220 mx\r\n")})
	c.Trace(send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"))
	c.Trace(protocol.Event{Kind: protocol.EventRecv, Data: []byte("235 ok\r\n")})
	for _, evs := range [][]Event{red, raw} {
		if len(evs) != 3 || len(evs[0].Parts) != 1 || evs[0].Parts[0].Verb != VerbGreeting {
			t.Fatalf("greeting not annotated: %+v", evs)
		}
		for _, e := range evs[1:] {
			if len(e.Parts) != 1 || e.Parts[0].Verb != "AUTH" || e.Parts[0].End != len(e.Data) {
				t.Errorf("redacted %v: parts %+v for %q", e.Redacted, e.Parts, e.Data)
			}
		}
	}
	if !red[1].Redacted || raw[1].Redacted || len(red[1].Data) == len(raw[1].Data) {
		t.Fatalf("the test needs a redacted and a raw stream: %q / %q", red[1].Data, raw[1].Data)
	}
}

// secretSink keeps secrets: it gets the raw events.
type secretSink struct{ fn func(Event) }

func (s *secretSink) Event(e Event)      { s.fn(e) }
func (s *secretSink) KeepsSecrets() bool { return true }

// A command line split across sends is one line: its second part says it
// continues the first and carries the verb. Only BDAT … LAST is Last.
func TestFollowerContAndBDATLast(t *testing.T) {
	got := followAll(false,
		sv("220 mx"), cl("MAIL FROM:<a"), cl("@x>\r\n"), sv("250 ok"),
		cl("BDAT 3\r\nabcBDAT 0 last\r\n"), sv("250 chunk"), sv("250 done"),
	)
	want := [][]string{
		{"greeting|+|220 mx"}, {"||MAIL FROM:<a"}, {"MAIL|+c|@x>"}, {"MAIL|+|250 ok"},
		{"BDAT|+|BDAT 3", "BDAT|pl+|abc", "BDAT|l+|BDAT 0 last"}, {"message end|+|250 chunk"}, {"BDAT|+|250 done"},
	}
	for i := range want {
		if strings.Join(got[i], " / ") != strings.Join(want[i], " / ") {
			t.Errorf("event %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// A new TLS layer voids what was under way in clear text (a line begun, a
// message), and a close ends the conversation: what follows is read
// afresh. The redactor and the readers of recordings rely on it.
func TestFollowerResetsAtTLSAndClose(t *testing.T) {
	got := followAll(false,
		sv("220 mx"), cl("DATA\r\n"), sv("354 go"), cl("half a li"),
		Event{Kind: KindTLS, Handshake: &TLSSummary{Complete: true}},
		cl("QUIT\r\n"), sv("221 bye"),
		Event{Kind: KindClose}, sv("220 again"),
	)
	want := [][]string{
		{"greeting|+|220 mx"}, {"DATA|+|DATA"}, {"DATA|+|354 go"}, {"DATA|p|half a li"},
		nil, {"QUIT|+|QUIT"}, {"QUIT|+|221 bye"}, nil, {"greeting|+|220 again"},
	}
	for i := range want {
		if strings.Join(got[i], " / ") != strings.Join(want[i], " / ") {
			t.Errorf("event %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// An Annotator annotates the events that come without Parts, and lets
// through those a Capture annotated.
func TestAnnotator(t *testing.T) {
	a := NewAnnotator(false)
	e := cl("EHLO me\r\n")
	a.Annotate(&e)
	if len(e.Parts) != 1 || e.Parts[0].Verb != "EHLO" {
		t.Fatalf("unannotated event: %+v", e.Parts)
	}
	given := []Part{{End: 3, Verb: "X", Complete: true}}
	e = Event{Kind: KindClient, Data: []byte("abc"), Parts: given}
	a.Annotate(&e)
	if len(e.Parts) != 1 || e.Parts[0].Verb != "X" {
		t.Fatalf("annotated event changed: %+v", e.Parts)
	}
}

// Segments gives each part with where it starts, and stops at a part
// that does not fit the data rather than slice out of it.
func TestSegments(t *testing.T) {
	e := Event{Kind: KindClient, Data: []byte("ab\r\ncd"), Parts: []Part{{End: 4}, {End: 6}, {End: 9}, {End: 7}}}
	var got []string
	for start, p := range e.Segments() {
		got = append(got, string(e.Data[start:p.End]))
	}
	if strings.Join(got, "|") != "ab\r\n|cd" {
		t.Errorf("segments %q", got)
	}
}

package recordings

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
)

// serveLog is a concurrency-safe log for Serve.
type serveLog struct {
	mu  sync.Mutex
	b   bytes.Buffer
	srv *sandbox.Server // flushed before a read: the sandbox writes its log in batches
}

func (l *serveLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *serveLog) String() string {
	if l.srv != nil {
		l.srv.FlushLog()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe has the sandbox serve rec's script on a loopback port, with
// a certificate the caller can trust; it stops when the test ends, and
// checks that serving ended without error.
func startServe(t *testing.T, rec *Recording) (addr string, roots *x509.CertPool, log *serveLog) {
	t.Helper()
	var script sandbox.Script
	if err := ServeScript(rec, &script); err != nil {
		t.Fatal(err)
	}
	log = &serveLog{}
	srv, err := sandbox.New(sandbox.Config{TLSListen: "-", Script: &script, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	log.srv = srv
	roots = x509.NewCertPool()
	roots.AppendCertsFromPEM(srv.CertPEM())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeContext returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ServeContext did not return after the context was cancelled")
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", log.String())
		}
	})
	return srv.Addr(), roots, log
}

// sendCase is one `ehlo send` configuration, run once against a real
// server (the sandbox) while recording, and once against `replay --serve`
// of that recording.
type sendCase struct {
	name   string
	shows  string // what the recorded client bytes must hold
	lmtp   bool
	faults []string
	cfg    func(srv *sandbox.Server) session.SendConfig
}

func sendCases() []sendCase {
	msg := "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: replay\r\n\r\n" +
		strings.Repeat("a long line ", 3000) + "\r\n.starts with a dot\r\nbye\r\n"
	base := func(srv *sandbox.Server) session.SendConfig {
		return session.SendConfig{
			Server: srv.Addr(), Kind: protocol.SMTP, StartTLS: true, Helo: "client.test",
			Timeout: 10 * time.Second, From: "alice@example.test", HasFrom: true,
			To: []string{"bob@example.test"}, Message: strings.NewReader(msg),
			AuthMech: "PLAIN", AuthUser: "alice", AuthPassword: "alicepw",
		}
	}
	return []sendCase{
		{name: "starttls-auth", shows: "AUTH PLAIN", cfg: base},
		{name: "login-pipelining", shows: "RCPT TO:<bob@example.test>\r\nRCPT TO:<carol@example.test>", cfg: func(srv *sandbox.Server) session.SendConfig {
			c := base(srv)
			c.AuthMech, c.Pipelining = "LOGIN", true
			c.To = []string{"bob@example.test", "carol@example.test"}
			return c
		}},
		{name: "chunking", shows: "BDAT ", cfg: func(srv *sandbox.Server) session.SendConfig {
			c := base(srv)
			c.Chunking = true
			return c
		}},
		{name: "implicit-tls", shows: "MAIL FROM", cfg: func(srv *sandbox.Server) session.SendConfig {
			c := base(srv)
			c.Server, c.Kind, c.StartTLS = srv.TLSAddr(), protocol.SMTPS, false
			return c
		}},
		{name: "lmtp", shows: "LHLO", lmtp: true, faults: []string{"refuse-rcpt=nobody@example.test"}, cfg: func(srv *sandbox.Server) session.SendConfig {
			c := base(srv)
			c.Kind, c.StartTLS, c.AuthMech = protocol.LMTP, false, ""
			c.To = []string{"bob@example.test", "nobody@example.test", "carol@example.test"}
			return c
		}},
	}
}

// runSend runs one send and returns its events, as received.
func runSend(t *testing.T, cfg session.SendConfig, roots *x509.CertPool, rec io.Writer, h Header) (*session.SendResult, []session.Event) {
	t.Helper()
	cfg.TLSConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	sc := session.NewScrubber(cfg.AuthPassword)
	c := session.NewCapture(time.Time{}, session.Redaction{Scrubber: sc})
	var evs collect
	var mu sync.Mutex
	c.Add(session.SinkFunc(func(e session.Event) { mu.Lock(); evs.Event(e); mu.Unlock() }))
	if rec != nil {
		h.Created = c.Start()
		r, err := NewRecorder(rec, h)
		if err != nil {
			t.Fatal(err)
		}
		c.Add(r)
		defer r.Close()
	}
	cfg.Tracer = c
	res := session.Send(context.Background(), cfg)
	return res, evs.events
}

// serverLines are the server's bytes of a conversation, one reply line per
// element, with whether they came through TLS.
func serverLines(evs []session.Event) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == session.KindServer {
			out = append(out, fmt.Sprintf("%v %q", e.TLS, e.Data))
		}
	}
	return out
}

// replay --serve answers a real protocol client, running the same send as
// the one recorded, with exactly the recorded replies, TLS included, and
// whatever password it sends (security-anchors I7).
func TestServeAnswersTheSameSend(t *testing.T) {
	for _, tc := range sendCases() {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sandbox.Config{LMTP: tc.lmtp, Log: &syncLog{}}
			for _, spec := range tc.faults {
				f, err := sandbox.ParseFault(spec)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Faults = append(cfg.Faults, f)
			}
			srv, err := sandbox.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv.Start()
			defer srv.Close()
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(srv.CertPEM())

			var file bytes.Buffer
			first := tc.cfg(srv)
			h := Header{Server: first.Server, Transport: first.Kind.String(), Network: "tcp", EhloVersion: "test"}
			res1, live := runSend(t, first, roots, &file, h)
			if res1.Err != nil && !tc.lmtp {
				t.Fatalf("the recorded send failed: %v", res1.Err)
			}
			rec := readRecording(t, file.Bytes())
			if c, _ := wireBytes(rec); !bytes.Contains(bytes.ToUpper(c), bytes.ToUpper([]byte(tc.shows))) {
				t.Fatalf("the recorded session does not show %q:\n%s", tc.shows, c)
			}

			addr, serveRoots, log := startServe(t, rec)
			again := tc.cfg(srv)
			again.Server = addr
			again.AuthPassword = "not-the-password"
			res2, replayed := runSend(t, again, serveRoots, nil, Header{})
			if res2.ExitCode() != res1.ExitCode() {
				t.Errorf("exit code %d against the replay, %d against the server (%v / %v)", res2.ExitCode(), res1.ExitCode(), res2.Err, res1.Err)
			}
			want, got := serverLines(live), serverLines(replayed)
			if len(want) < 6 {
				t.Fatalf("only %d reply lines recorded", len(want))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("replies differ:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
			if strings.Contains(log.String(), "departs") {
				t.Errorf("the same send departed from the recording:\n%s", log.String())
			}
		})
	}
}

// scriptRecording is a plain recording of a short session, for the tests
// that talk to Serve by hand.
func scriptRecording(t *testing.T, lines ...string) *Recording {
	t.Helper()
	var evs []session.Event
	evs = append(evs, session.Event{Kind: session.KindConnect, Network: "tcp", Addr: "mx.test:25"})
	for i, l := range lines {
		d := time.Duration(i+1) * time.Millisecond
		switch {
		case strings.HasPrefix(l, "C: "):
			evs = append(evs, session.Event{Offset: d, Kind: session.KindClient, Data: []byte(l[3:] + "\r\n")})
		case strings.HasPrefix(l, "S: "):
			evs = append(evs, session.Event{Offset: d, Kind: session.KindServer, Data: []byte(l[3:] + "\r\n")})
		}
	}
	evs = append(evs, session.Event{Offset: time.Second, Kind: session.KindClose})
	return &Recording{Header: testHeader, Events: evs}
}

// rawClient talks to Serve a line at a time.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawClient) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// expect reads one line and compares it.
func (r *rawClient) expect(want string) {
	r.t.Helper()
	line, err := r.br.ReadString('\n')
	if err != nil {
		r.t.Fatalf("reading %q: %v (got %q)", want, err, line)
	}
	if line != want+"\r\n" {
		r.t.Fatalf("got %q, want %q", line, want)
	}
}

func (r *rawClient) expectEOF() {
	r.t.Helper()
	if line, err := r.br.ReadString('\n'); err != io.EOF {
		r.t.Fatalf("want the connection closed, got %q %v", line, err)
	}
}

// A client that departs from the recording is told so on the log, with the
// event number, gets the recorded reply all the same, and a QUIT out of
// turn gets the recorded 221; past the end of the recording, 421.
func TestServeDeparts(t *testing.T) {
	rec := scriptRecording(t,
		"S: 220 mx.test ESMTP",
		"C: EHLO client.test",
		"S: 250-mx.test", "S: 250 PIPELINING",
		"C: MAIL FROM:<a@x.test>", "S: 250 2.1.0 ok",
		"C: RCPT TO:<b@x.test>", "S: 250 2.1.5 ok",
		"C: QUIT", "S: 221 2.0.0 bye",
	)
	addr, _, log := startServe(t, rec)

	c := dialRaw(t, addr)
	c.expect("220 mx.test ESMTP")
	c.send("ehlo other.name\r\n") // the verb is what counts, in any case
	c.expect("250-mx.test")
	c.expect("250 PIPELINING")
	c.send("RCPT TO:<z@x.test>\r\n")
	c.expect("250 2.1.0 ok")
	c.send("QUIT\r\n")
	c.expect("221 2.0.0 bye")
	c.expectEOF()
	want := `* client departs from the recording at event 6: expected "MAIL", got "RCPT"`
	if !strings.Contains(log.String(), want+"\n") {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
	if !strings.Contains(log.String(), `expected "RCPT", got "QUIT"`) {
		t.Errorf("no departure for the early QUIT:\n%s", log.String())
	}

	c = dialRaw(t, addr)
	c.expect("220 mx.test ESMTP")
	for _, l := range []string{"EHLO a", "MAIL FROM:<>", "RCPT TO:<b@x.test>"} {
		c.send(l + "\r\n")
		c.br.ReadString('\n')
		if l == "EHLO a" {
			c.br.ReadString('\n')
		}
	}
	c.send("QUIT\r\n")
	c.expect("221 2.0.0 bye")
	c.expectEOF()

	// A third connection plays the run again; a pipelined group gets its
	// replies in order, and a command past the end gets 421.
	c = dialRaw(t, addr)
	c.expect("220 mx.test ESMTP")
	c.send("EHLO a\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n")
	for _, w := range []string{"250-mx.test", "250 PIPELINING", "250 2.1.0 ok", "250 2.1.5 ok"} {
		c.expect(w)
	}
	c.send("QUIT\r\n")
	c.expect("221 2.0.0 bye")
	c.expectEOF()
	if n := strings.Count(log.String(), "departs"); n != 2 {
		t.Errorf("%d departures logged, want 2:\n%s", n, log.String())
	}
}

func TestServeEndOfRecording(t *testing.T) {
	rec := scriptRecording(t, "S: 220 mx.test ESMTP", "C: NOOP", "S: 250 ok")
	addr, _, log := startServe(t, rec)
	c := dialRaw(t, addr)
	c.expect("220 mx.test ESMTP")
	c.send("NOOP\r\n")
	c.expect("250 ok")
	c.send("NOOP\r\n")
	c.expect("421 4.3.0 ehlo replay: the recording ends here")
	c.expectEOF()
	if !strings.Contains(log.String(), `* client departs from the recording at its end: expected no more commands, got "NOOP"`) {
		t.Errorf("log:\n%s", log.String())
	}
}

// An AUTH exchange is answered as recorded whatever the client sends, and
// the log never shows what it sent (I7).
func TestServeAuthAnyCredentials(t *testing.T) {
	rec := scriptRecording(t,
		"S: 220 mx.test ESMTP",
		"C: AUTH LOGIN",
		"S: 334 VXNlcm5hbWU6",
		"C: [redacted user=\"alice\"]",
		"S: 334 UGFzc3dvcmQ6",
		"C: [redacted]",
		"S: 235 2.7.0 ok",
		"C: QUIT", "S: 221 bye",
	)
	addr, _, log := startServe(t, rec)
	c := dialRaw(t, addr)
	c.expect("220 mx.test ESMTP")
	c.send("AUTH LOGIN\r\n")
	c.expect("334 VXNlcm5hbWU6")
	c.send("bWFsbG9yeQ==\r\n")
	c.expect("334 UGFzc3dvcmQ6")
	c.send("c2VjcmV0LWNhbmFyeQ==\r\n")
	c.expect("235 2.7.0 ok")
	c.send("QUIT\r\n")
	c.expect("221 bye")
	if strings.Contains(log.String(), "departs") || strings.Contains(log.String(), "c2VjcmV0") {
		t.Errorf("log:\n%s", log.String())
	}
	// A client whose mechanism needs another round departs, and the log
	// names an AUTH response, never its content.
	c = dialRaw(t, addr)
	c.expect("220 mx.test ESMTP")
	c.send("EHLO x\r\n")
	c.expect("334 VXNlcm5hbWU6")
	c.send("AUTH PLAIN\r\n")
	c.expect("334 UGFzc3dvcmQ6")
	c.send("c2VjcmV0LWNhbmFyeQ==\r\n")
	c.expect("235 2.7.0 ok")
	if strings.Contains(log.String(), "c2VjcmV0") {
		t.Errorf("the log shows what the client sent:\n%s", log.String())
	}
	if !strings.Contains(log.String(), `expected "AUTH", got "EHLO"`) {
		t.Errorf("log:\n%s", log.String())
	}
	// A QUIT out of turn, where the recording has an AUTH response, still
	// gets the recorded 221 and the connection closes.
	c = dialRaw(t, addr)
	c.expect("220 mx.test ESMTP")
	c.send("NOOP\r\n")
	c.expect("334 VXNlcm5hbWU6")
	c.send("QUIT\r\n")
	c.expect("221 bye")
	c.expectEOF()
	if !strings.Contains(log.String(), `* client departs from the recording at event 5: expected an AUTH response, got "QUIT"`) {
		t.Errorf("log:\n%s", log.String())
	}
}

// replay --serve listens on loopback unless told otherwise, and knows when
// it does not; a Unix socket works too.
func TestServeListen(t *testing.T) {
	rec := scriptRecording(t, "S: 220 mx.test ESMTP", "C: NOOP", "S: 250 ok")
	var script sandbox.Script
	if err := ServeScript(rec, &script); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ehlo") // t.TempDir can pass a socket path's 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cases := []struct {
		listen, socket string
		loopback       bool
	}{
		{"127.0.0.1:0", "", true},
		{"[::1]:0", "", true},
		{"localhost:0", "", true},
		{"-", filepath.Join(dir, "s.sock"), true},
		{"0.0.0.0:0", "", false},
	}
	for _, tc := range cases {
		srv, err := sandbox.New(sandbox.Config{Listen: tc.listen, Socket: tc.socket, TLSListen: "-", Script: &script})
		if err != nil {
			if strings.Contains(tc.listen, "::1") {
				continue // no IPv6 here
			}
			t.Fatalf("%s: %v", tc.listen, err)
		}
		if got := srv.LoopbackOnly(); got != tc.loopback {
			t.Errorf("%s: loopback %v, want %v", tc.listen, got, tc.loopback)
		}
		if tc.socket != "" {
			srv.Start()
			c, err := net.Dial("unix", tc.socket)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			r := &rawClient{t: t, c: c, br: bufio.NewReader(c)}
			r.expect("220 mx.test ESMTP")
			r.send("NOOP\r\n")
			r.expect("250 ok")
			c.Close()
		}
		srv.Close()
	}
}

// An empty recording is no script.
func TestServeScriptEmpty(t *testing.T) {
	var script sandbox.Script
	if err := ServeScript(&Recording{Header: testHeader}, &script); err == nil {
		t.Error("an empty recording made a script")
	}
}

// The recorded server's name goes into the certificate only when it is a
// DNS name.
func TestServeHostname(t *testing.T) {
	for server, want := range map[string]string{
		"mx.example.test:25": "mx.example.test", "mx.example.test": "mx.example.test",
		"127.0.0.1:25": "", "[::1]:25": "", "localhost:25": "", "/run/smtp.sock": "", "bad name:25": "",
	} {
		if got := ServeHostname(Header{Server: server, Network: "tcp"}); got != want {
			t.Errorf("ServeHostname(%q) = %q, want %q", server, got, want)
		}
	}
}

// The script of a recording: pipelined replies go to their commands, LMTP
// keeps every reply after the body, AUTH responses are told from commands.
func TestBuildScript(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	evs := []session.Event{
		{Kind: session.KindConnect},
		{Offset: us(1), Kind: session.KindServer, Data: []byte("220-first\r\n")},
		{Offset: us(1), Kind: session.KindServer, Data: []byte("220 second\r\n")},
		{Offset: us(2), Kind: session.KindClient, Data: []byte("AUTH LOGIN\r\n")},
		{Offset: us(3), Kind: session.KindServer, Data: []byte("334 VXNlcm5hbWU6\r\n")},
		{Offset: us(4), Kind: session.KindClient, Data: []byte("[redacted]\r\n")},
		{Offset: us(5), Kind: session.KindServer, Data: []byte("235 ok\r\n")},
		{Offset: us(6), Kind: session.KindClient, Data: []byte("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\nDATA\r\n")},
		{Offset: us(7), Kind: session.KindServer, Data: []byte("250 m\r\n")},
		{Offset: us(7), Kind: session.KindServer, Data: []byte("250 r1\r\n")},
		{Offset: us(7), Kind: session.KindServer, Data: []byte("550 r2\r\n")},
		{Offset: us(7), Kind: session.KindServer, Data: []byte("354 go\r\n")},
		{Offset: us(8), Kind: session.KindClient, Data: []byte("QUIT is body text\r\n")},
		{Offset: us(9), Kind: session.KindClient, Data: []byte(".\r\n")},
		{Offset: us(10), Kind: session.KindServer, Data: []byte("250 for b\r\n")},
		{Offset: us(10), Kind: session.KindServer, Data: []byte("452 for c\r\n")},
		{Offset: us(11), Kind: session.KindClose},
		{Offset: us(12), Kind: session.KindConnect},
		{Offset: us(13), Kind: session.KindTLS, Handshake: &session.TLSSummary{Complete: true}},
		{Offset: us(14), Kind: session.KindServer, TLS: true, Data: []byte("220 again\r\n")},
	}
	runs := buildScript(Header{}, evs)
	if len(runs) != 2 {
		t.Fatalf("%d runs", len(runs))
	}
	r := runs[0]
	var got []string
	got = append(got, fmt.Sprintf("greeting %d", len(r.greeting[0].lines)))
	for _, tu := range r.turns {
		var codes []string
		for _, rep := range tu.replies {
			codes = append(codes, rep.code)
		}
		got = append(got, fmt.Sprintf("%d %s @%d: %s", tu.kind, tu.verb, tu.event+1, strings.Join(codes, ",")))
	}
	want := []string{
		"greeting 2",
		"0 AUTH @4: 334",
		"1  @6: 235",
		"0 MAIL @8: 250",
		"0 RCPT @8: 250",
		"0 RCPT @8: 550",
		"0 DATA @8: 354",
		"2  @13: 250,452",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("script:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !runs[1].implicitTLS || len(runs[1].greeting) != 1 {
		t.Errorf("second run: %+v", runs[1])
	}
}

package recordings_test

// Every sample is a test vector (STYLE.md B6): it must read without a
// problem, print, export in every format, and be served back by
// `replay --serve` byte for byte, to a client that replays the recorded
// client side and to the same `ehlo send` as the one recorded.

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
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
)

func load(t *testing.T, name string) *recordings.Recording {
	t.Helper()
	f, err := recordings.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec, err := recordings.Read(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(rec.Problems) > 0 {
		t.Fatalf("%s: problems: %v", name, rec.Problems)
	}
	return rec
}

func TestNamesAndDescriptions(t *testing.T) {
	names := recordings.Names()
	if len(names) < 9 {
		t.Fatalf("only %d samples: %v", len(names), names)
	}
	if !slices.IsSorted(names) {
		t.Errorf("Names not sorted: %v", names)
	}
	for _, n := range names {
		if d := recordings.Description(n); d == "" || strings.Contains(d, "\n") || len(d) > 100 {
			t.Errorf("%s: description %q (want one line of at most 100 bytes)", n, d)
		}
		if !recordings.Has(n) || !recordings.Has(n+".jsonl") {
			t.Errorf("Has(%q) is false", n)
		}
		if recordings.Description(n+".jsonl") == "" {
			t.Errorf("Description(%q.jsonl) is empty", n)
		}
	}
	if recordings.Has("no-such-sample") || recordings.Has("../recordings.go") {
		t.Error("Has accepts a name that is no sample")
	}
	if _, err := recordings.Open("no-such-sample"); err == nil {
		t.Error("Open of an unknown name succeeded")
	}
}

// Each sample reads without a problem, holds no credential, prints, and
// exports in every format.
func TestSamplesReadPrintExport(t *testing.T) {
	for _, name := range recordings.Names() {
		t.Run(name, func(t *testing.T) {
			rec := load(t, name)
			if rec.Header.Secrets {
				t.Error("a sample made with --record-secrets")
			}
			var out bytes.Buffer
			if err := recordings.WriteTranscript(&out, rec); err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(out.Bytes(), "\x1b\r") || !strings.Contains(out.String(), "<-  220 ") && !strings.Contains(out.String(), "<~  220 ") {
				t.Errorf("transcript:\n%s", out.String())
			}
			for _, f := range recordings.ExportFormats {
				var b bytes.Buffer
				if err := recordings.Export(&b, rec, f, recordings.ExportOptions{}); err != nil || b.Len() == 0 {
					t.Errorf("export %s: %v (%d bytes)", f, err, b.Len())
				}
			}
			if s := recordings.Summarize(rec); s.Outcome == "" || strings.HasPrefix(s.Outcome, "no reply") {
				t.Errorf("summary: %+v", s)
			}
		})
	}
}

// startServe has the sandbox serve a recording's script on loopback, with
// a certificate the test trusts.
func startServe(t *testing.T, rec *recordings.Recording) (string, *x509.CertPool, *lockedBuffer) {
	t.Helper()
	var script sandbox.Script
	if err := recordings.ServeScript(rec, &script); err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	srv, err := sandbox.New(sandbox.Config{TLSListen: "-", Script: &script, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(srv.CertPEM())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", log.String())
		}
	})
	return srv.Addr(), roots, log
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Serve plays every sample back byte for byte to a client that sends the
// recorded client bytes, through STARTTLS or implicit TLS as recorded.
func TestSamplesServeByteForByte(t *testing.T) {
	for _, name := range recordings.Names() {
		t.Run(name, func(t *testing.T) {
			rec := load(t, name)
			addr, roots, log := startServe(t, rec)
			var runs [][]session.Event
			for _, e := range rec.Events {
				if e.Kind == session.KindConnect || len(runs) == 0 {
					runs = append(runs, nil)
				}
				runs[len(runs)-1] = append(runs[len(runs)-1], e)
			}
			for _, run := range runs {
				replayClient(t, addr, roots, run)
			}
			if strings.Contains(log.String(), "departs") {
				t.Errorf("departures:\n%s", log.String())
			}
		})
	}
}

func replayClient(t *testing.T, addr string, roots *x509.CertPool, events []session.Event) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	var c net.Conn = raw
	br := bufio.NewReader(c)
	for i, e := range events {
		switch e.Kind {
		case session.KindTLS:
			if e.Handshake == nil || !e.Handshake.Complete {
				continue
			}
			if br.Buffered() > 0 {
				t.Fatalf("event %d: %d bytes before the TLS handshake", i+1, br.Buffered())
			}
			tc := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
			if err := tc.Handshake(); err != nil {
				t.Fatalf("event %d: TLS: %v", i+1, err)
			}
			c, br = tc, bufio.NewReader(tc)
		case session.KindClient:
			if _, err := c.Write(e.Data); err != nil {
				t.Fatalf("event %d: %v", i+1, err)
			}
		case session.KindServer:
			got := make([]byte, len(e.Data))
			if _, err := io.ReadFull(br, got); err != nil {
				t.Fatalf("event %d: want %q: %v (got %q)", i+1, e.Data, err, got)
			}
			if !bytes.Equal(got, e.Data) {
				t.Fatalf("event %d: got %q, want %q", i+1, got, e.Data)
			}
		}
	}
}

// The same `ehlo send` as the one that made a sample, run against
// `replay --serve` of it, sees the very replies the real server gave, and
// ends with the same exit code: a client bug reproduced without the
// server. record.sh has the original commands.
func TestSamplesAnswerTheSameSend(t *testing.T) {
	msg := "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: ehlo sample\r\n\r\nHello from ehlo.\r\n"
	base := SendLike{Kind: protocol.SMTP, StartTLS: true, To: []string{"bob@example.test"}}
	cases := map[string]SendLike{
		"postfix-starttls-auth": base.with(func(s *SendLike) { s.Auth = true }),
		"postfix-auth-failure":  base.with(func(s *SendLike) { s.Auth = true }),
		"postfix-pipelining":    base.with(func(s *SendLike) { s.Pipelining, s.To = true, []string{"bob@example.test", "nobody@example.test"} }),
		"exim-implicit-tls":     base.with(func(s *SendLike) { s.Kind, s.StartTLS = protocol.SMTPS, false }),
		"exim-chunking":         base.with(func(s *SendLike) { s.Chunking = true }),
		"dovecot-lmtp": base.with(func(s *SendLike) {
			s.Kind, s.StartTLS, s.To = protocol.LMTP, false, []string{"bob@example.test", "nobody@example.test"}
		}),
		"opensmtpd-refusal": base.with(func(s *SendLike) { s.To = []string{"nobody@example.test"} }),
		"aiosmtpd-smtputf8": base.with(func(s *SendLike) {
			s.StartTLS, s.From, s.MailOptions = false, "élodie@example.test", []string{"SMTPUTF8"}
		}),
		"sandbox-inject-starttls": base,
	}
	for _, name := range recordings.Names() {
		sl, ok := cases[name]
		if !ok {
			continue // exim-vrfy-expn: not a send
		}
		t.Run(name, func(t *testing.T) {
			rec := load(t, name)
			addr, roots, log := startServe(t, rec)
			from := sl.From
			if from == "" {
				from = "alice@example.test"
			}
			cfg := session.SendConfig{
				Server: addr, Kind: sl.Kind, StartTLS: sl.StartTLS, Helo: "client.example.test",
				Timeout: 10 * time.Second, TLSConfig: &tls.Config{RootCAs: roots},
				From: from, HasFrom: true, To: sl.To, Message: strings.NewReader(msg),
				Pipelining: sl.Pipelining, Chunking: sl.Chunking, MailOptions: sl.MailOptions,
			}
			if sl.Auth {
				cfg.AuthMech, cfg.AuthUser, cfg.AuthPassword = "PLAIN", "alice", "whatever-it-was"
			}
			var mu sync.Mutex
			var got []string
			c := session.NewCapture(time.Time{}, session.Redaction{Scrubber: session.NewScrubber(cfg.AuthPassword)})
			c.Add(session.SinkFunc(func(e session.Event) {
				if e.Kind == session.KindServer {
					mu.Lock()
					got = append(got, fmt.Sprintf("%v %q", e.TLS, e.Data))
					mu.Unlock()
				}
			}))
			cfg.Tracer = c
			res := session.Send(context.Background(), cfg)
			var want []string
			for _, e := range rec.Events {
				if e.Kind == session.KindServer {
					want = append(want, fmt.Sprintf("%v %q", e.TLS, e.Data))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("replies differ:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
			if code, want := res.ExitCode(), recordedExit(name); code != want {
				t.Errorf("exit code %d, want %d as recorded (%v)", code, want, res.Err)
			}
			if strings.Contains(log.String(), "departs") {
				t.Errorf("departures:\n%s", log.String())
			}
		})
	}
}

// SendLike is what differs between the samples' send commands.
type SendLike struct {
	Kind                 protocol.Kind
	StartTLS, Auth       bool
	Pipelining, Chunking bool
	From                 string
	To, MailOptions      []string
}

func (s SendLike) with(f func(*SendLike)) SendLike { f(&s); return s }

// recordedExit is the exit status record.sh expects of each sample.
func recordedExit(name string) int {
	switch name {
	case "postfix-auth-failure":
		return 28
	case "opensmtpd-refusal":
		return 24
	}
	return 0
}

// tshark decodes the pcap export of every sample, the commands after
// STARTTLS included (the capture puts them on a second connection, see
// recordings/pcap.go). Skipped without tshark unless EHLO_REQUIRE_TSHARK=1.
func TestSamplesPcapTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("EHLO_REQUIRE_TSHARK") == "1" {
			t.Fatal("EHLO_REQUIRE_TSHARK=1 but tshark is not on PATH")
		}
		t.Skip("tshark not installed (EHLO_REQUIRE_TSHARK=1 makes this a failure)")
	}
	dir := t.TempDir()
	for _, name := range recordings.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // tshark takes a second to start
			rec := load(t, name)
			file := filepath.Join(dir, name+".pcap")
			err := recordings.WriteFileAtomic(context.Background(), file, false, func(w io.Writer) error {
				return recordings.Export(w, rec, "pcap", recordings.ExportOptions{})
			})
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"-r", file}
			if rec.Header.Transport == "lmtp" {
				args = append(args, "-d", "tcp.port==24,smtp") // no LMTP dissector
			}
			cmd := exec.Command(tshark, append(args, "-Y", "smtp.req.command", "-T", "fields", "-e", "smtp.req.command")...)
			cmd.Env = append(os.Environ(), "HOME="+dir)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			// Several commands in one segment (PIPELINING) come as one
			// field, comma separated.
			got := strings.Fields(strings.ReplaceAll(strings.ToUpper(string(out)), ",", " "))
			// What the recording says the client sent, as tshark names it:
			// a verb by its first four letters (STARTTLS is STAR). A BDAT
			// written together with its chunk is one segment, which
			// Wireshark shows as a "DATA fragment", as it would in a real
			// capture.
			var want []string
			for _, e := range rec.Events {
				if e.Kind != session.KindClient {
					continue
				}
				if line, rest, _ := strings.Cut(string(e.Data), "\n"); strings.HasPrefix(strings.ToUpper(line), "BDAT ") && rest != "" {
					continue
				}
				for _, line := range strings.SplitAfter(string(e.Data), "\n") {
					verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
					verb = strings.ToUpper(verb)
					if len(verb) > 4 {
						verb = verb[:4]
					}
					switch verb {
					case "EHLO", "LHLO", "STAR", "AUTH", "MAIL", "RCPT", "DATA", "BDAT", "QUIT", "VRFY", "EXPN", "RSET":
						want = append(want, verb)
					}
				}
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("tshark decodes %v, want %v", got, want)
			}
			if slices.Contains(want, "STAR") && slices.Index(want, "STAR") > slices.Index(want, "EHLO") {
				after := got[slices.Index(got, "STAR")+1:]
				if !slices.Contains(after, "EHLO") {
					t.Errorf("no EHLO decoded after STARTTLS: %v", got)
				}
			}
		})
	}
}

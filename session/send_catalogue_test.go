package session

// Exit codes of `ehlo send` (session.Send) for security-anchors §6 cases
// whose servers the command-line scripts cannot play: E9 (a BDAT chunk
// refused with 552 in the middle of the message, by the sandbox's size
// limit) and B11 (a server that requires a client certificate).

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/protocol/smtptest"
	"github.com/ehlo-dev/ehlo/sandbox"
)

// catSends keeps every client write.
type catSends struct {
	mu     sync.Mutex
	writes []string
}

func (c *catSends) Trace(e protocol.Event) {
	if e.Kind == protocol.EventSend {
		c.mu.Lock()
		c.writes = append(c.writes, string(e.Data))
		c.mu.Unlock()
	}
}

func (c *catSends) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

// streamed is a message reader that is not a Seeker (like stdin), so its
// size is not known before it is sent and MAIL carries no SIZE= the
// server could refuse up front.
type streamed struct{ r io.Reader }

func (s streamed) Read(p []byte) (int, error) { return s.r.Read(p) }

// E9: CHUNKING, a message of three 256 KiB chunks to a sandbox whose limit
// is 300 KiB. The sandbox accepts chunk 1 and answers chunk 2 with 552:
// no third chunk, RSET, exit 26 at stage dot, nothing stored.
func TestCatalogueE9ExitCode(t *testing.T) {
	srv, err := sandbox.New(sandbox.Config{Listen: "127.0.0.1:0", TLSListen: "-", MaxMessageBytes: 300 << 10})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close() })
	line := ".dot " + strings.Repeat("x", 93) + "\n"
	body := "Subject: e9\n\n" + strings.Repeat(line, (2*protocol.ChunkSize+protocol.ChunkSize/2)/len(line))
	rec := &catSends{}
	res := Send(context.Background(), SendConfig{
		Server: srv.Addr(), Kind: protocol.SMTP, Helo: "client.test", Timeout: 5 * time.Second,
		From: "a@x.test", HasFrom: true, To: []string{"b@x.test"},
		Message: streamed{strings.NewReader(body)}, Chunking: true, Tracer: rec,
	})
	if code := res.ExitCode(); code != 26 || res.Stage != StageDot {
		t.Fatalf("exit %d at stage %s (%v), want 26 at stage dot", code, res.Stage, res.Err)
	}
	var de *protocol.DataError
	if !errors.As(res.Err, &de) || de.Code != 552 {
		t.Errorf("error %v, want a DataError 552", res.Err)
	}
	var bdats []string
	rset := false
	for _, w := range rec.all() {
		if strings.HasPrefix(w, "BDAT ") {
			cmd, _, _ := strings.Cut(w, "\r\n")
			bdats = append(bdats, cmd)
		}
		rset = rset || w == "RSET\r\n" || w == "rset\r\n"
	}
	if strings.Join(bdats, ",") != "BDAT 262144,BDAT 262144" {
		t.Errorf("BDAT commands %q, want two full chunks and nothing after the 552", bdats)
	}
	if !rset {
		t.Errorf("no RSET after the refused chunk: %q", rec.all())
	}
	if n := srv.Mailbox().Len(); n != 0 {
		t.Errorf("%d messages stored", n)
	}
}

// clientCertServer is a one-connection scripted server that offers
// STARTTLS and then requires a client certificate, up to TLS version max.
func clientCertServer(t *testing.T, max uint16) string {
	t.Helper()
	cert, err := sandbox.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.NewServer(t, []smtptest.Step{
		smtptest.S("220 cert.test ESMTP"),
		smtptest.Do("EHLO, whatever its name", func(sc *smtptest.Conn) error {
			l, err := sc.ReadLine()
			if err == nil && !strings.HasPrefix(strings.ToUpper(string(l)), "EHLO ") {
				err = fmt.Errorf("client sent %q, want EHLO", l)
			}
			return err
		}),
		smtptest.S("250-cert.test", "250 STARTTLS"),
		smtptest.C("STARTTLS"), smtptest.S("220 go ahead"),
		smtptest.Do("handshake requiring a client certificate", func(sc *smtptest.Conn) error {
			cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: max, ClientAuth: tls.RequireAnyClientCert}
			if sc.Handshake(cfg) == nil {
				return errors.New("the server's handshake succeeded without a client certificate")
			}
			io.Copy(io.Discard, sc.NetConn())
			return nil
		}),
		smtptest.Close(),
	})
	return srv.Addr()
}

// B11: the server requires a client certificate and none is given. The
// session never goes on in clear text and never reaches MAIL. With TLS
// 1.2 the handshake fails: exit 29 (stage tls). With TLS 1.3 the client's
// side of the handshake completes first and the refusal (alert
// "certificate required") arrives in place of the reply to the post-TLS
// EHLO.
func TestCatalogueB11ExitCode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		max   uint16
		codes []int // acceptable exit codes
		text  string
	}{
		{"TLS1.2", tls.VersionTLS12, []int{29}, "handshake failure"},
		// Today exit 6 at helo-after-tls (the refusal is read as the
		// connection closing); the catalogue wants 29 and a hint about
		// --cert/--key: TLS1.3_exit_29 below, skipped until fixed.
		{"TLS1.3", tls.VersionTLS13, []int{6, 29}, "certificate required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientCertServer(t, tc.max)
			rec := &catSends{}
			res := Send(context.Background(), SendConfig{
				Server: addr, Kind: protocol.SMTP, StartTLS: true, Helo: "client.test", Timeout: 5 * time.Second,
				TLSConfig: &tls.Config{InsecureSkipVerify: true},
				From:      "a@x.test", HasFrom: true, To: []string{"b@x.test"},
				Message: strings.NewReader("Subject: b11\n\nhi\n"), Tracer: rec,
			})
			if code := res.ExitCode(); !slices.Contains(tc.codes, code) || (res.Stage != StageTLS && res.Stage != StageHeloAfterTLS) {
				t.Errorf("exit %d at stage %s, want one of %v at tls or helo-after-tls (%v)", code, res.Stage, tc.codes, res.Err)
			}
			if res.Err == nil || !strings.Contains(res.Err.Error(), tc.text) {
				t.Errorf("error %v: want it to say %q", res.Err, tc.text)
			}
			for i, w := range rec.all() {
				lw := strings.ToLower(w)
				if i >= 2 && !strings.HasPrefix(lw, "ehlo ") || strings.Contains(lw, "mail from") || strings.HasPrefix(lw, "quit") {
					t.Errorf("write %d %q after STARTTLS: only the post-TLS EHLO may go out", i, w)
				}
			}
		})
	}
	t.Run("TLS1.3_exit_29", func(t *testing.T) {
		addr := clientCertServer(t, tls.VersionTLS13)
		res := Send(context.Background(), SendConfig{
			Server: addr, Kind: protocol.SMTP, StartTLS: true, Helo: "client.test", Timeout: 5 * time.Second,
			TLSConfig: &tls.Config{InsecureSkipVerify: true},
			From:      "a@x.test", HasFrom: true, To: []string{"b@x.test"},
			Message: strings.NewReader("Subject: b11\n\nhi\n"),
		})
		if code := res.ExitCode(); code != 29 || !strings.Contains(res.Err.Error(), "--cert") {
			t.Errorf("exit %d (%v), want 29 with a hint about --cert/--key", code, res.Err)
		}
	})
}

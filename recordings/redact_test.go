package recordings

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func canary(t testing.TB) string {
	b := make([]byte, 12)
	rand.Read(b)
	return "canary-" + hex.EncodeToString(b)
}

// forms are the ways a secret can show up: itself, and its base64 at the
// three alignments (a conservative middle cut, computed independently of
// base64Fragments), plus whatever blobs the test adds.
func forms(secret string, blobs ...string) []string {
	out := []string{secret}
	for _, prefix := range []string{"", "a", "ab"} {
		enc := base64.RawStdEncoding.EncodeToString([]byte(prefix + secret))
		out = append(out, enc[4:len(enc)-4])
	}
	for _, b := range blobs {
		out = append(out, b, b64(b))
	}
	return out
}

// outputs runs a fake protocol event stream through a Capture with every
// sink a session has, and returns everything they wrote: the recording
// file, the live transcript (stdout and stderr), the replayed transcript.
func outputs(t *testing.T, r session.Redaction, evs ...protocol.Event) map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.jsonl")
	rec, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr, replay bytes.Buffer
	c := newTestCapture(r)
	var got collect
	c.Add(rec)
	c.Add(NewTranscript(&stdout, TranscriptOptions{Errors: &stderr, Full: true}))
	c.Add(&got)
	for _, e := range evs {
		c.Trace(e)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(path)
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTranscript(&replay, back); err != nil {
		t.Fatal(err)
	}
	var events strings.Builder
	for _, e := range got.events {
		events.Write(e.Data)
		events.WriteString(e.Text)
	}
	return map[string]string{
		"recording": string(file), "stdout": stdout.String(), "stderr": stderr.String(),
		"replay": replay.String(), "events": events.String(),
	}
}

func assertAbsent(t *testing.T, out map[string]string, secrets ...string) {
	t.Helper()
	for name, text := range out {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains %q:\n%s", name, s, text)
			}
		}
	}
}

func assertPresent(t *testing.T, out map[string]string, names []string, want string) {
	t.Helper()
	for _, name := range names {
		if !strings.Contains(out[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, out[name])
		}
	}
}

// security-anchors C3 and C9: PLAIN with an initial response over TLS, then
// a server that quotes the blob back in its 535. The user stays visible.
func TestRedactPlain(t *testing.T) {
	pw := canary(t)
	blob := "\x00alice\x00" + pw
	authLine := "AUTH PLAIN " + b64(blob) + "\r\n"
	s := session.NewScrubber()
	s.AddPlain("", "alice", pw)
	out := outputs(t, session.Redaction{Scrubber: s},
		recvTLS("250 AUTH PLAIN\r\n"),
		sendTLS(authLine, span(t, authLine, b64(blob))),
		recvTLS("535 5.7.8 bad credentials for "+b64(blob)+"\r\n"),
		recvTLS("535 5.7.8 or was it "+pw+"?\r\n"),
		sendTLS("QUIT\r\n"),
	)
	assertAbsent(t, out, forms(pw, blob)...)
	assertPresent(t, out, []string{"stdout", "replay"}, ` ~> AUTH PLAIN [redacted user="alice"]`)
	assertPresent(t, out, []string{"stdout", "replay"}, `<~  535 5.7.8 bad credentials for [redacted]`)
	assertPresent(t, out, []string{"recording"}, `"redacted":true`)
}

// The PLAIN blob after an empty 334, with an authzid; and HideUser.
func TestRedactPlainChallengeAuthzid(t *testing.T) {
	pw := canary(t)
	blob := "admin\x00alice\x00" + pw
	line := b64(blob) + "\r\n"
	evs := []protocol.Event{
		sendTLS("AUTH PLAIN\r\n"),
		recvTLS("334 \r\n"),
		sendTLS(line, span(t, line, b64(blob))),
		recvTLS("235 2.7.0 ok\r\n"),
	}
	out := outputs(t, session.Redaction{}, evs...)
	assertAbsent(t, out, forms(pw, blob)...)
	assertPresent(t, out, []string{"stdout"}, ` ~> [redacted authzid="admin" user="alice"]`+"\n")

	out = outputs(t, session.Redaction{HideUser: true}, evs...)
	assertAbsent(t, out, append(forms(pw, blob), "alice")...)
	assertPresent(t, out, []string{"stdout"}, " ~> [redacted]\n")
}

// security-anchors C4: the server labels both LOGIN challenges "Username:".
// The second client line is redacted because of what the client sends, not
// what the server asks; with protocol's spans and, for a raw AUTH typed in
// the composer, without them.
func TestRedactLoginMislabelled(t *testing.T) {
	pw := canary(t)
	for _, marked := range []bool{true, false} {
		mark := func(line string) []protocol.Span {
			if !marked {
				return nil
			}
			return []protocol.Span{{Start: 0, End: len(line)}} // protocol marks the whole line
		}
		user, pass := b64("alice")+"\r\n", b64(pw)+"\r\n"
		out := outputs(t, session.Redaction{},
			sendTLS("AUTH LOGIN\r\n"),
			recvTLS("334 VXNlcm5hbWU6\r\n"),
			sendTLS(user, mark(user)...),
			recvTLS("334 VXNlcm5hbWU6\r\n"),
			sendTLS(pass, mark(pass)...),
			recvTLS("235 2.7.0 ok\r\n"),
			sendTLS("MAIL FROM:<alice@x.test>\r\n"),
		)
		assertAbsent(t, out, forms(pw)...)
		want := " ~> [redacted user=\"alice\"]\n<~  334 VXNlcm5hbWU6\n ~> [redacted]\n"
		assertPresent(t, out, []string{"stdout", "replay"}, want)
		assertPresent(t, out, []string{"stdout"}, " ~> MAIL FROM:<alice@x.test>\n")
	}
}

// LOGIN with the user as initial response, and a cancelled exchange.
func TestRedactLoginInitialAndCancel(t *testing.T) {
	pw := canary(t)
	out := outputs(t, session.Redaction{},
		sendTLS("AUTH LOGIN "+b64("alice")+"\r\n"),
		recvTLS("334 UGFzc3dvcmQ6\r\n"),
		sendTLS(b64(pw)+"\r\n"),
		recvTLS("535 no\r\n"),
		sendTLS("AUTH CRAM-MD5\r\n"),
		recvTLS("334 !!!notbase64\r\n"),
		sendTLS("*\r\n"),
		recvTLS("501 cancelled\r\n"),
	)
	assertAbsent(t, out, forms(pw)...)
	assertPresent(t, out, []string{"stdout"}, ` ~> AUTH LOGIN [redacted user="alice"]`+"\n<~  334 UGFzc3dvcmQ6\n ~> [redacted]\n")
	assertPresent(t, out, []string{"stdout"}, " ~> *\n")
}

// security-anchors C8: CRAM-MD5 keeps the challenge and hides the response;
// XOAUTH2 hides the whole blob (curl test908's vector); SCRAM hides the
// client proof and the server's v=.
func TestRedactCrackable(t *testing.T) {
	token := "mF_9.B5f-4.1JqM"
	xoauth := "dXNlcj11c2VyAWF1dGg9QmVhcmVyIG1GXzkuQjVmLTQuMUpxTQEB"
	if b64("user=user\x01auth=Bearer "+token+"\x01\x01") != xoauth {
		t.Fatal("curl test908 vector")
	}
	cram := b64("alice 5f0bb0b4b36e05a8a5d2ee2f30f7b3b1")
	clientFinal := b64("c=biws,r=nonce,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	serverFinal := b64("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
	s := session.NewScrubber()
	s.AddXOAUTH2("user", token)
	out := outputs(t, session.Redaction{Scrubber: s},
		sendTLS("AUTH CRAM-MD5\r\n"),
		recvTLS("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n"),
		sendTLS(cram+"\r\n"),
		recvTLS("235 ok\r\n"),
		sendTLS("AUTH XOAUTH2 "+xoauth+"\r\n"),
		recvTLS("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
		sendTLS("\r\n"),
		recvTLS("535 no\r\n"),
		sendTLS("AUTH SCRAM-SHA-256 "+b64("n,,n=alice,r=nonce")+"\r\n"),
		recvTLS("334 "+b64("r=nonceserver,s=c2FsdA==,i=4096")+"\r\n"),
		sendTLS(clientFinal+"\r\n"),
		recvTLS("334 "+serverFinal+"\r\n"),
		sendTLS("\r\n"),
		recvTLS("235 ok\r\n"),
	)
	assertAbsent(t, out, append(forms(token), cram, xoauth, clientFinal, serverFinal)...)
	assertPresent(t, out, []string{"stdout"}, "<~  334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\n ~> [redacted]\n")
	assertPresent(t, out, []string{"stdout"}, " ~> AUTH XOAUTH2 [redacted]\n<~  334 eyJzdGF0dXMiOiI0MDEifQ==\n ~> \n")
	assertPresent(t, out, []string{"stdout"}, "<~  334 [redacted]\n ~> \n<~  235 ok\n")
}

// A body line that looks like AUTH is message content, sent and recorded
// byte for byte.
func TestRedactLeavesBodyAlone(t *testing.T) {
	body := "AUTH PLAIN AGFsaWNlAHB3\r\nsecond line\r\n.\r\n"
	out := outputs(t, session.Redaction{},
		send("DATA\r\n"),
		recv("354 go ahead\r\n"),
		send(body),
		recv("250 queued\r\n"),
		send("NOOP\r\n"),
	)
	assertPresent(t, out, []string{"stdout"}, " -> AUTH PLAIN AGFsaWNlAHB3\n -> second line\n -> .\n<-  250 queued\n -> NOOP\n")
	if strings.Contains(out["recording"], "redacted") {
		t.Errorf("message content was redacted:\n%s", out["recording"])
	}
}

// security-anchors C11: with --record-secrets the file keeps them, says so,
// marks where they are; the transcript still hides them.
func TestRecordSecrets(t *testing.T) {
	pw := canary(t)
	line := "AUTH PLAIN " + b64("\x00alice\x00"+pw) + "\r\n"
	h := testHeader
	h.Secrets = true
	path := filepath.Join(t.TempDir(), "s.jsonl")
	rec, err := Create(path, h)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	c := newTestCapture(session.Redaction{Scrubber: session.NewScrubber(pw)})
	c.Add(rec)
	c.Add(NewTranscript(&stdout, TranscriptOptions{}))
	c.Trace(sendTLS(line, span(t, line, b64("\x00alice\x00"+pw))))
	c.Trace(recvTLS("535 " + pw + "\r\n"))
	rec.Close()

	if strings.Contains(stdout.String(), pw) {
		t.Errorf("transcript shows the secret: %s", stdout.String())
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Header.Secrets {
		t.Error("header does not say secrets: true")
	}
	if e := back.Events[0]; string(e.Data) != line || e.Redacted || len(e.Secrets) != 1 || string(e.Data[e.Secrets[0].Start:e.Secrets[0].End]) != b64("\x00alice\x00"+pw) {
		t.Errorf("kept event: %+v", e)
	}
	if e := back.Events[1]; !strings.Contains(string(e.Data), pw) {
		t.Errorf("kept server event: %q", e.Data)
	}
	var replay bytes.Buffer
	WriteTranscript(&replay, back)
	if !strings.Contains(replay.String(), "*** this recording contains credentials") {
		t.Errorf("replay does not warn:\n%s", replay.String())
	}
}

// keeper is a sink that keeps secrets, like a Recorder made with
// --record-secrets.
type keeper struct{ collect }

func (*keeper) KeepsSecrets() bool { return true }

// A sink that keeps secrets learns where they are, including those found by
// the rules rather than marked by protocol (a raw AUTH typed in the
// composer).
func TestKeptEventsCarrySpans(t *testing.T) {
	c := newTestCapture(session.Redaction{})
	var k keeper
	var red collect
	c.Add(&k)
	c.Add(&red)
	c.Trace(sendTLS("AUTH LOGIN\r\n"))
	c.Trace(recvTLS("334 VXNlcm5hbWU6\r\n"))
	c.Trace(sendTLS("YWxpY2U=\r\n"))
	c.Trace(recvTLS("334 UGFzc3dvcmQ6\r\n"))
	c.Trace(sendTLS("aHVudGVyMg==\r\n"))
	kept := k.events[4]
	if string(kept.Data) != "aHVudGVyMg==\r\n" || len(kept.Secrets) != 1 || kept.Secrets[0] != (protocol.Span{Start: 0, End: 12}) {
		t.Errorf("kept: %q %v", kept.Data, kept.Secrets)
	}
	if r := red.events[4]; string(r.Data) != "[redacted]\r\n" || r.Secrets != nil || !r.Redacted {
		t.Errorf("redacted: %q %v %v", r.Data, r.Secrets, r.Redacted)
	}
}

// An AUTH whose reply never came (the connection dropped) must not redact
// the next connection's commands.
func TestRedactResetsOnReconnect(t *testing.T) {
	out := outputs(t, session.Redaction{},
		sendTLS("AUTH LOGIN\r\n"),
		protocol.Event{Kind: protocol.EventClose},
		protocol.Event{Kind: protocol.EventConnect, Network: "tcp", Addr: "mx.test:25"},
		recv("220 hi\r\n"),
		send("EHLO client.test\r\n"),
	)
	assertPresent(t, out, []string{"stdout", "replay"}, " -> EHLO client.test\n")
}

// Issue 11 defect 1, issue 12 #9: an AUTH line with a TAB after the verb,
// or white space before it, is AUTH to the redactor as it is to the
// server, with or without protocol's marks.
func TestRedactAuthSplitLikeTheServer(t *testing.T) {
	pw := canary(t)
	blob := "\x00alice\x00" + pw
	for _, line := range []string{"AUTH\tLOGIN\r\n", " AUTH LOGIN\r\n", "\tauth\t login\r\n"} {
		user, pass := b64("alice")+"\r\n", b64(pw)+"\r\n"
		out := outputs(t, session.Redaction{},
			sendTLS(line),
			recvTLS("334 VXNlcm5hbWU6\r\n"),
			sendTLS(user),
			recvTLS("334 UGFzc3dvcmQ6\r\n"),
			sendTLS(pass),
			recvTLS("235 2.7.0 ok\r\n"),
		)
		assertAbsent(t, out, forms(pw)...)
	}
	for _, line := range []string{"AUTH\tPLAIN\t" + b64(blob) + "\r\n", " AUTH PLAIN " + b64(blob) + "\r\n"} {
		out := outputs(t, session.Redaction{}, sendTLS(line), recvTLS("235 2.7.0 ok\r\n"))
		assertAbsent(t, out, forms(pw, blob)...)
	}
}

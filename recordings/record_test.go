//go:build record

package recordings_test

// The one sample `ehlo send` cannot make: a VRFY/EXPN session, recorded
// through the same session.Capture and recordings.Recorder that `ehlo send
// --record` uses. record.sh runs it:
//
//	EHLO_RECORD_EXIM_ADDR=127.0.0.1:2526 EHLO_RECORD_EXIM_CA=…/exim/tls/cert.pem \
//	EHLO_RECORD_OUT=recordings/exim-vrfy-expn.jsonl \
//	go test -tags record -count=1 -run TestRecordEximVrfyExpn ./recordings/

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
)

func TestRecordEximVrfyExpn(t *testing.T) {
	addr, caFile, out := os.Getenv("EHLO_RECORD_EXIM_ADDR"), os.Getenv("EHLO_RECORD_EXIM_CA"), os.Getenv("EHLO_RECORD_OUT")
	if addr == "" || caFile == "" || out == "" {
		t.Skip("set EHLO_RECORD_EXIM_ADDR, EHLO_RECORD_EXIM_CA and EHLO_RECORD_OUT (see record.sh)")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificate", caFile)
	}
	capture := session.NewCapture(time.Time{}, session.Redaction{Scrubber: session.NewScrubber()})
	rec, err := recordings.Create(out, recordings.Header{
		Created: capture.Start(), Server: addr, Transport: "smtp", Network: "tcp", EhloVersion: "devel",
	})
	if err != nil {
		t.Fatal(err)
	}
	capture.Add(rec)
	c := protocol.NewClient(protocol.SMTP, protocol.Options{
		LocalHostname: "client.example.test",
		Timeout:       30 * time.Second,
		TLSConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		Tracer:        capture,
	})
	step := func(what string, r protocol.Reply, err error) {
		t.Helper()
		if err != nil {
			t.Logf("%s: %v", what, err)
		} else {
			t.Logf("%s: %d %s", what, r.Code, r.Message)
		}
	}
	r, err := c.Connect(addr, 0)
	step("connect", r, err)
	r, err = c.Ehlo("")
	step("ehlo", r, err)
	r, err = c.StartTLS(nil)
	step("starttls", r, err)
	r, err = c.Ehlo("")
	step("ehlo", r, err)
	r, err = c.Verify("alice@example.test")
	step("vrfy alice", r, err)
	r, err = c.Verify("nobody@example.test")
	step("vrfy nobody", r, err)
	r, err = c.Expn("postmaster@example.test")
	step("expn postmaster", r, err)
	r, err = c.Expn("nobody@example.test")
	step("expn nobody", r, err)
	r, err = c.Quit()
	step("quit", r, err)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}

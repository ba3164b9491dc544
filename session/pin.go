package session

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/ehlo-dev/ehlo/protocol"
)

// TrustCertificate pins, for the rest of this conversation, the one
// certificate whose SHA-256 (of its DER encoding, hex, as
// Certificate.SHA256 has it) is fp, then reconnects and, unless the
// transport is implicit TLS, upgrades with STARTTLS again. It is the
// third way past a certificate that failed verification, beside --ca and
// --insecure, for a user who has compared the fingerprint: a handshake
// is then accepted when the server's leaf is exactly that certificate and
// refused otherwise, so nothing else is loosened, and the TLS summary
// says Pinned. The pin lives in memory only.
func (l *Live) TrustCertificate(fp string) error {
	fp = strings.ToLower(strings.TrimSpace(fp))
	if b, err := hex.DecodeString(fp); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("a certificate pin is a SHA-256 fingerprint, 64 hex digits, not %q", SanitizeText(fp))
	}
	b := &batch{}
	ops := []op{{batch: b, label: "/connect (pinned)", run: func(w *worker) {
		w.pin(fp)
		w.connect()
	}}}
	if l.cfg.Kind != protocol.SMTPS {
		ops = append(ops, op{batch: b, label: "STARTTLS", run: func(w *worker) {
			if !w.ready() || !w.begin("STARTTLS") {
				return
			}
			if _, err := w.client.StartTLS(nil); err != nil {
				w.fail(err)
			}
		}})
	}
	l.enqueue(ops...)
	return nil
}

// pin makes the connections from now on accept only the certificate fp,
// in place of any certificate pinned before.
// It runs on the worker goroutine, the only one that reads l.cfg's TLS
// configuration (connect).
func (w *worker) pin(fp string) {
	l := w.l
	l.mu.Lock()
	if l.pinned == "" {
		l.unpinned = l.cfg.Options.TLSConfig
	}
	l.pinned = fp
	l.mu.Unlock()
	l.cfg.Options.TLSConfig = pinnedTLS(l.unpinned, fp)
	w.note("trusting the certificate with sha256 " + fp + " for this session only (pinned); reconnecting")
}

// pinnedTLS is base with the certificate authorities replaced by the pin:
// the leaf must be the certificate fp, whatever its names or dates say,
// since the user accepted that very certificate.
func pinnedTLS(base *tls.Config, fp string) *tls.Config {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		tc = base.Clone()
	}
	tc.InsecureSkipVerify = true // the pin below verifies instead
	next := tc.VerifyConnection
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate to check against the pin")
		}
		if got := leafSHA256(cs); got != fp {
			return fmt.Errorf("certificate not trusted: its sha256 is %s, and the certificate pinned for this session is %s", got, fp)
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
	return tc
}

func leafSHA256(cs tls.ConnectionState) string {
	sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
	return hex.EncodeToString(sum[:])
}

// summarize is the TLS summary of a handshake on this conversation: one
// that passed DANE is Verified, one that passed the pin is Verified and
// Pinned; the Snapshot's Route takes DANE's verdict. Called with l.mu held,
// on the worker goroutine.
func (l *Live) summarize(e protocol.Event) *TLSSummary {
	h := summarizeTLS(e.TLSState, e.TLSErr)
	if r := l.cfg.route; r != nil {
		l.snap.Route = r.snapshot()
		h.Verified = h.Verified || r.daneVerified(e) && h.Complete
	}
	if l.pinned != "" && e.TLSErr == nil && h.Complete && e.TLSState != nil &&
		len(e.TLSState.PeerCertificates) > 0 && leafSHA256(*e.TLSState) == l.pinned {
		h.Verified, h.Pinned = true, true
	}
	return h
}

// traceHandshake delivers a KindTLS event whose summary the caller made
// (Live.summarize), so that a recording says when a handshake was pinned.
func (c *Capture) traceHandshake(pe protocol.Event, h *TLSSummary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *h
	c.deliver(Event{Kind: KindTLS, Handshake: &cp, Offset: c.offset(pe.Time)})
}

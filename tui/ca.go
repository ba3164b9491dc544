package tui

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"strings"

	"github.com/ehlo-dev/ehlo/themes"
)

// caView is /ca: the sandbox's certificate, its fingerprint and how to
// use it, so a student can verify the sandbox with --ca FILE instead of
// --insecure, without openssl.
func caView(s themes.Styles, certPEM []byte, w, h int) []string {
	inner := w - 4
	var lines []string
	if b, _ := pem.Decode(certPEM); b != nil {
		sum := sha256.Sum256(b.Bytes)
		lines = append(lines, s.Muted.Render("sha256 ")+s.Text.Render(fingerprint(hex.EncodeToString(sum[:]), inner-7)))
	}
	for _, l := range wrap("Save it as a file (y copies it; ehlo sandbox --write-ca FILE writes it), then: ehlo --ca FILE, or ehlo send --ca FILE, verifies the sandbox.", inner, 0) {
		lines = append(lines, s.Note.Render(l))
	}
	lines = append(lines, "")
	for _, l := range strings.Split(strings.TrimSpace(string(certPEM)), "\n") {
		lines = append(lines, s.Text.Render(safe(l)))
	}
	return box(s, "The sandbox's certificate", "y copy · esc close", lines, w, min(h, len(lines)+2), true)
}

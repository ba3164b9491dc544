package session

import (
	"crypto/tls"
	"strings"
)

// weakTLS says why a negotiated TLS version and cipher suite are weak, or
// "" when they are not. It takes the names a TLSSummary keeps, so a replay
// of an old recording is judged as a live session is. ehlo still offers
// these suites (Go's default list has the ECDHE CBC-SHA1 ones), because a
// debugger must reach the old servers that mail is full of; it says so
// instead.
func weakTLS(version, cipher string) string {
	var why []string
	switch version {
	case "TLSv1.0", "TLSv1.1", "SSLv3":
		why = append(why, version+" (older than TLS 1.2)")
	}
	switch {
	case strings.Contains(cipher, "_RC4_"):
		why = append(why, "RC4")
	case strings.Contains(cipher, "_3DES_"):
		why = append(why, "3DES")
	case strings.HasSuffix(cipher, "_CBC_SHA"):
		why = append(why, "CBC with SHA-1")
	case cipher != "" && insecureSuite(cipher):
		why = append(why, "a suite Go's crypto/tls lists as insecure")
	}
	return strings.Join(why, ", ")
}

func insecureSuite(name string) bool {
	for _, s := range tls.InsecureCipherSuites() {
		if s.Name == name {
			return true
		}
	}
	return false
}

// StartedText is the line that reports a finished handshake, as the
// transcript and the TUI show it (before sanitizing): the version and
// cipher, and why they are weak when they are.
func (h *TLSSummary) StartedText() string {
	line := "TLS started with cipher " + h.Version + ":" + h.Cipher
	if weak := weakTLS(h.Version, h.Cipher); weak != "" {
		line += " (weak: " + weak + ")"
	}
	return line
}

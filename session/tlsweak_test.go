package session

import "testing"

func TestWeakTLS(t *testing.T) {
	for _, c := range []struct{ version, cipher, want string }{
		{"TLSv1.3", "TLS_AES_128_GCM_SHA256", ""},
		{"TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", ""},
		{"TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "CBC with SHA-1"},
		{"TLSv1.2", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "3DES"},
		{"TLSv1.2", "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "RC4"},
		{"TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "a suite Go's crypto/tls lists as insecure"},
		{"TLSv1.0", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLSv1.0 (older than TLS 1.2), CBC with SHA-1"},
		{"", "", ""},
	} {
		if got := weakTLS(c.version, c.cipher); got != c.want {
			t.Errorf("weakTLS(%s, %s) = %q, want %q", c.version, c.cipher, got, c.want)
		}
	}
}

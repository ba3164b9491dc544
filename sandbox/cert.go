package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// selfSigned makes the sandbox's in-memory certificate. It is its own CA
// (IsCA, keyCertSign) because OpenSSL-based clients such as swaks only
// accept a self-signed certificate from a CA file when it may sign; Go's
// verifier accepts it either way. NotBefore is an hour back so a client
// whose clock is a little behind still verifies it.
func selfSigned(hostname string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname, Organization: []string{"ehlo sandbox"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(hostname); ip != nil {
		// Any address the students are told to use, 127.0.0.2 too: only
		// the two already listed are left out.
		if !ip.Equal(net.IPv4(127, 0, 0, 1)) && !ip.Equal(net.IPv6loopback) {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	} else if !strings.EqualFold(hostname, "localhost") {
		tmpl.DNSNames = append(tmpl.DNSNames, hostname)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// SelfSigned is the certificate a sandbox makes for itself when given
// none, for hostname, valid from an hour ago for a day, with its leaf
// parsed: for tests and tools that need a loopback TLS server of their
// own.
func SelfSigned(hostname string) (tls.Certificate, error) {
	return selfSigned(hostname, time.Now())
}

// loadCert reads a PEM pair from disk and makes sure the leaf is parsed,
// since Fingerprint and Run need it.
func loadCert(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if _, statErr := os.Stat(certFile); statErr != nil {
			return cert, fmt.Errorf("sandbox: TLS certificate: %w", statErr)
		}
		return cert, fmt.Errorf("sandbox: TLS key pair: %w", err)
	}
	if cert.Leaf == nil {
		cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return cert, fmt.Errorf("sandbox: TLS certificate: %w", err)
		}
	}
	return cert, nil
}

// certPEM encodes the whole chain the server presents.
func certPEM(cert tls.Certificate) []byte {
	var b []byte
	for _, der := range cert.Certificate {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return b
}

// fingerprint is the SHA-256 of the leaf's DER in the form OpenSSL prints
// (upper-case hex pairs joined by colons), so a teacher can compare it
// with `openssl x509 -fingerprint -sha256` or a client's display.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var sb strings.Builder
	for i, b := range sum {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02X", b)
	}
	return sb.String()
}

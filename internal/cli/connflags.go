package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// connFlags are the connection flags the TUI and `send` share (PRODUCT.md §4).
type connFlags struct {
	Port          int           `help:"Server port (default: 25, 465 with --tls-on-connect, 2003 with --lmtp)."`
	TLSOnConnect  bool          `name:"tls-on-connect" help:"Implicit TLS (the default when the port is 465)."`
	StartTLS      bool          `name:"starttls" help:"Require STARTTLS: stop if it is not offered or fails."`
	LMTP          bool          `name:"lmtp" help:"Speak LMTP (LHLO, one reply per recipient)."`
	Helo          string        `help:"Name for HELO/EHLO (default: this host's FQDN)."`
	Timeout       time.Duration `default:"30s" help:"Timeout for connecting and for each reply; zero is an error."`
	Source        string        `help:"Local address to bind, HOST[:PORT]."`
	Insecure      bool          `help:"Accept any certificate (TLS is then NOT verified)."`
	CA            string        `name:"ca" type:"existingfile" help:"Verify the server against the CA certificates in this PEM file."`
	Cert          string        `type:"existingfile" help:"Client certificate (PEM), with --key."`
	Key           string        `type:"existingfile" help:"Client certificate's key (PEM)."`
	SNI           string        `name:"sni" help:"Server name for TLS (SNI and verification)."`
	Record        string        `help:"Record the session to this JSON Lines file (created, never overwritten)." type:"path"`
	RecordSecrets bool          `help:"Keep AUTH secrets in the recording (off by default)."`

	serverArg string // the command's SERVER, for checks that depend on it
}

// kind is the protocol flavour the flags ask for.
func (f *connFlags) kind() protocol.Kind {
	switch {
	case f.LMTP:
		return protocol.LMTP
	case f.TLSOnConnect || f.Port == 465:
		return protocol.SMTPS
	}
	return protocol.SMTP
}

// check refuses contradictory or unusable connection flags before anything
// connects.
func (f *connFlags) check() error {
	if f.Timeout <= 0 {
		return fmt.Errorf("--timeout must be greater than zero (zero would mean a non-blocking socket)")
	}
	if f.StartTLS && (f.TLSOnConnect || f.Port == 465) {
		return fmt.Errorf("--starttls and implicit TLS (--tls-on-connect or port 465) exclude each other")
	}
	if strings.HasPrefix(f.server(), "/") && (f.StartTLS || f.TLSOnConnect) && f.SNI == "" && !f.Insecure {
		return fmt.Errorf("a Unix socket has no server name to verify the certificate against: pass --sni NAME (or --insecure)")
	}
	if (f.Cert == "") != (f.Key == "") {
		return fmt.Errorf("--cert and --key go together")
	}
	if f.Helo != "" {
		if err := protocol.ValidateHeloName(f.Helo); err != nil {
			return fmt.Errorf("--helo: %w", err)
		}
	}
	return nil
}

// tlsConfig builds the TLS configuration: verified against the system roots
// or --ca unless --insecure.
func (f *connFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: f.SNI, InsecureSkipVerify: f.Insecure, MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate found", f.CA)
		}
		cfg.RootCAs = pool
	}
	if f.Cert != "" {
		kp, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// server is the SERVER argument of the command the flags belong to.
func (f *connFlags) server() string { return f.serverArg }

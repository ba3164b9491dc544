package sandbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
)

// lockedWriter lets the ready banner and the session log share stdout
// without interleaving inside a line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// writeCAFile writes pem to path through a temporary file renamed over it, so
// a symlink at path is replaced rather than written through, and a reader
// never sees half a certificate.
func writeCAFile(path string, pem []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(pem)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644) // a certificate is public
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// Run is `ehlo sandbox`: it starts the server, prints where it listens,
// the certificate fingerprint and the demo credentials, logs every
// session to stdout (unless cfg.Log is set) and stops when ctx is done.
//
// The first line is "ehlo sandbox ready"; the lines after it are
// "key: value" pairs, so scripts can wait for the banner and pick the
// address out of it.
func Run(ctx context.Context, cfg Config, stdout io.Writer) error {
	out := &lockedWriter{w: stdout}
	if cfg.Log == nil {
		cfg.Log = out
	}
	srv, err := New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()

	banner, err := srv.Announce()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(out, banner+"stop with Ctrl+C\n"); err != nil {
		return err
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case <-ctx.Done():
		srv.Close()
		<-errc
	case err = <-errc:
		srv.Close()
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "ehlo sandbox stopped: %d message(s) received\n", srv.Mailbox().Total())
	return nil
}

// Announce writes the files the configuration asks for (--accounts-csv,
// --write-ca) and returns the banner that says where the sandbox is: its
// listeners, certificate, users, faults, and a warning for an address
// other hosts can reach.
func (s *Server) Announce() (string, error) {
	var b strings.Builder
	s.listenerLines(&b)
	names := s.userLines(&b)
	cfg := s.cfg
	if cfg.AccountsCSV != "" {
		if err := WriteAccountsCSV(cfg.AccountsCSV, cfg.Users, names, cfg.AccountsOverwrite); err != nil {
			return "", fmt.Errorf("--accounts-csv: %w", err)
		}
		fmt.Fprintf(&b, "accounts: %s (user,password; %d users)\n", cfg.AccountsCSV, len(names))
	}
	if len(cfg.Faults) > 0 {
		specs := make([]string, len(cfg.Faults))
		for i, f := range cfg.Faults {
			specs[i] = f.String()
		}
		fmt.Fprintf(&b, "faults: %s\n", strings.Join(specs, " "))
	}
	for _, a := range []string{s.Addr(), s.TLSAddr()} {
		switch {
		case a == "" || isLoopback(a):
		case cfg.Workshop:
			fmt.Fprintf(&b, "warning: %s is reachable from other hosts\n", a)
		default:
			fmt.Fprintf(&b, "warning: %s is reachable from other hosts, and the demo credentials above are public\n", a)
		}
	}
	if cfg.WriteCA != "" {
		if err := writeCAFile(cfg.WriteCA, s.CertPEM()); err != nil {
			return "", fmt.Errorf("--write-ca: %w", err)
		}
		fmt.Fprintf(&b, "ca: %s (ehlo --ca %s verifies this sandbox)\n", cfg.WriteCA, cfg.WriteCA)
	}
	return b.String(), nil
}

// listenerLines are the banner's first lines: the protocol, where it
// listens, its name and certificate.
func (s *Server) listenerLines(b *strings.Builder) {
	proto := "SMTP"
	if s.cfg.LMTP {
		proto = "LMTP"
	}
	fmt.Fprintf(b, "ehlo sandbox ready (%s)\n", proto)
	if a := s.Addr(); a != "" {
		fmt.Fprintf(b, "listen: %s (plain, STARTTLS offered)\n", a)
	}
	if a := s.TLSAddr(); a != "" {
		fmt.Fprintf(b, "tls-listen: %s (implicit TLS)\n", a)
	}
	if p := s.SocketPath(); p != "" {
		fmt.Fprintf(b, "socket: %s\n", p)
	}
	fmt.Fprintf(b, "hostname: %s\n", s.cfg.Hostname)
	origin := "in-memory self-signed"
	if s.cfg.TLSCert != "" {
		origin = "from " + s.cfg.TLSCert
	}
	leaf := s.cert.Leaf
	fmt.Fprintf(b, "certificate: SHA-256 %s (%s, subject %s, valid until %s)\n",
		s.Fingerprint(), origin, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
}

// userLines says who may log in, and how; it returns the user names in
// order.
func (s *Server) userLines(b *strings.Builder) []string {
	names := make([]string, 0, len(s.cfg.Users))
	for n := range s.cfg.Users {
		names = append(names, n)
	}
	sort.Strings(names)
	switch {
	case s.cfg.Workshop:
		// An instructor's screen is often projected: a password on it
		// would let anyone read that student's mail over XMAILBOX.
		where := "as given"
		if s.cfg.AccountsCSV != "" {
			where = "in " + s.cfg.AccountsCSV
		}
		fmt.Fprintf(b, "users: %s (passwords not shown, %s)\n", strings.Join(names, " "), where)
	default:
		creds := make([]string, len(names))
		for i, n := range names {
			creds[i] = n + ":" + s.cfg.Users[n]
		}
		fmt.Fprintf(b, "users: %s\n", strings.Join(creds, " "))
	}
	if s.cfg.AllowInsecureAuth {
		b.WriteString("auth: PLAIN LOGIN CRAM-MD5, also without TLS (--allow-insecure-auth)\n")
	} else {
		b.WriteString("auth: PLAIN LOGIN CRAM-MD5, after STARTTLS or on the implicit-TLS listener\n")
	}
	if s.cfg.Workshop {
		fmt.Fprintf(b, "workshop: %d mailboxes of %s each, each user sees only their own (XMAILBOX after AUTH)\n",
			len(names), sizeName(s.cfg.StudentMailboxBytes))
	}
	return names
}

// TuneProcess sets the Go runtime for a process that is a sandbox and
// nothing else (`ehlo sandbox`; not the TUI, which embeds one):
//
//   - a soft memory limit of MailboxBytes + BufferBytes + 48 MiB (the
//     sessions' read buffers, a message being stored, the program).
//     Without it the collector lets the heap grow to twice what is live,
//     and a 32 MiB mailbox full of 10 MB messages cost 200 MB of RSS;
//   - one P (GOMAXPROCS=1), as smtp-sink is one thread. The server waits
//     on the network; with two Ps every command's wake-up crossed threads
//     and spun the scheduler, which cost more CPU than the command itself
//     (a connection per message: about 370 against 250 µs a message).
//
// GOMEMLIMIT and GOMAXPROCS in the environment win.
func TuneProcess(cfg Config) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit := cfg.MailboxBytes + cfg.BufferBytes + 48<<20
		if cfg.Workshop {
			// The users' mailboxes share messages with the sandbox's,
			// but may each keep ones it has dropped; and the room
			// keeps the sessions' wire logs (room.go).
			limit += cfg.StudentMailboxBytes*int64(len(cfg.Users)) + roomLogBytes(cfg)
		}
		debug.SetMemoryLimit(limit)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// sizeName shows a byte count the way the --*-bytes flags take it.
func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

package sandbox

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Connection limits. Up to Config.MaxSessions (maxSessions by default)
// sessions are served; the next
// maxBusy connections are told 421 (RFC 5321 §3.1 lets a busy server do
// so) within busyTimeout, the TLS handshake included on the implicit-TLS
// listener, and closed; past those, a connection is closed as soon as it
// is accepted. Every connection counts from accept, so connections that
// never finish a handshake cannot pile up descriptors, and a session's TLS
// handshake must finish within handshakeTimeout, not ReadTimeout. One
// client address holds at most Config.MaxSessionsPerClient of them (half
// of MaxSessions by default), so no one host can take the whole server;
// past that it is told 421 in the same way. Loopback and Unix-socket
// clients, the machine's own users, are not counted.
const (
	maxSessions      = 256
	maxBusy          = 64
	busyTimeout      = 2 * time.Second
	handshakeTimeout = 10 * time.Second
)

// limits are the constants above, in a struct so tests can lower them.
type limits struct {
	sessions, busy         int
	busyTimeout, handshake time.Duration
	perClient              int
	countLoopback          bool // count loopback clients too, for tests
}

// admission says whether a connection is served, or told 421 at once and why.
type admission uint8

const (
	admitted   admission = iota
	serverFull           // MaxSessions reached
	clientFull           // MaxSessionsPerClient reached for its address
)

// Server is one running sandbox: its listeners, certificate, mailbox and
// sessions. New binds; Serve (or Start) accepts; Close stops everything.
type Server struct {
	cfg     Config
	cert    tls.Certificate
	tlsConf *tls.Config
	certPEM []byte
	finger  string
	mailbox *Mailbox
	log     *logger
	lim     limits

	// buffered is the capacity of every session's message buffer, held
	// within cfg.BufferBytes (buffer.go).
	buffered atomic.Int64

	plain, implicit, unix net.Listener

	done      chan struct{}
	closeOnce sync.Once
	serving   atomic.Bool
	nextID    atomic.Int64
	sessions  sync.WaitGroup

	mu        sync.Mutex
	conns     map[*conn]struct{}
	perClient map[netip.Addr]int // connections held, by counted client address

	room     *room        // Sessions, Watch, SetFault (room.go); nil unless Workshop or OnSessionEnd
	students *studentMail // per-user mailboxes (workshop.go); nil unless Workshop
}

// New validates cfg, prepares the certificate and binds every listener,
// so Addr, TLSAddr and SocketPath are known before Serve.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		mailbox: newMailbox(cfg.MailboxLimit, cfg.MailboxBytes),
		log:     newLogger(cfg.Log),
		lim: limits{sessions: cfg.MaxSessions, busy: maxBusy, busyTimeout: busyTimeout,
			handshake: handshakeTimeout, perClient: cfg.MaxSessionsPerClient},
		done:      make(chan struct{}),
		conns:     make(map[*conn]struct{}),
		perClient: make(map[netip.Addr]int),
	}
	if cfg.Workshop || cfg.OnSessionEnd != nil {
		s.room = newRoom(s)
	}
	if cfg.Workshop {
		s.students = newStudentMail(&s.cfg)
	}
	if cfg.TLSCert != "" {
		s.cert, err = loadCert(cfg.TLSCert, cfg.TLSKey)
	} else {
		s.cert, err = selfSigned(cfg.Hostname, time.Now())
	}
	if err != nil {
		return nil, err
	}
	s.tlsConf = &tls.Config{
		Certificates: []tls.Certificate{s.cert},
		MinVersion:   tls.VersionTLS12,
	}
	legacyTLS(s.tlsConf, cfg.Faults)
	s.certPEM = certPEM(s.cert)
	s.finger = fingerprint(s.cert.Certificate[0])

	if cfg.Listen != "-" {
		if s.plain, err = listenTCP(cfg.Listen); err != nil {
			return nil, fmt.Errorf("sandbox: listen %s: %w", cfg.Listen, err)
		}
	}
	if cfg.TLSListen != "-" {
		if s.implicit, err = listenTCP(cfg.TLSListen); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("sandbox: listen (TLS) %s: %w", cfg.TLSListen, err)
		}
	}
	if cfg.Socket != "" {
		if err = removeStaleSocket(cfg.Socket); err == nil {
			s.unix, err = net.Listen("unix", cfg.Socket)
		}
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("sandbox: listen %s: %w", cfg.Socket, err)
		}
	}
	return s, nil
}

// removeStaleSocket deletes a socket file left by a sandbox that died, but
// never a live socket or a file that is not a socket.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s is in use by another server", path)
	}
	return os.Remove(path)
}

func (s *Server) closeListeners() error {
	var first error
	for _, l := range []net.Listener{s.plain, s.implicit, s.unix} {
		if l == nil {
			continue
		}
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) && first == nil {
			first = err
		}
	}
	return first
}

// Serve accepts on every listener until Close, then returns nil. It may
// be called once.
func (s *Server) Serve() error {
	if !s.serving.CompareAndSwap(false, true) {
		return errors.New("sandbox: Serve called twice")
	}
	// Without its own poller (not Linux, or no epoll) the sandbox serves
	// through the net package's, only slower (poller_linux.go).
	poll, _ := newPoller()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	for _, l := range []struct {
		l        net.Listener
		implicit bool
	}{{s.plain, false}, {s.implicit, true}, {s.unix, false}} {
		if l.l == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.accept(poll, l.l, l.implicit); err != nil {
				errc <- err
				s.Close()
			}
		}()
	}
	wg.Wait()
	// Every accept loop has ended, so Close has been called: the
	// poller goes once the sessions in it have.
	s.sessions.Wait()
	poll.close()
	close(errc)
	return <-errc
}

// Start runs Serve in the background, for callers (tests, the TUI) that
// only need the addresses.
func (s *Server) Start() {
	go s.Serve() //nolint:errcheck // Serve only fails if the listener breaks; Close reports that
}

func (s *Server) accept(poll *poller, l net.Listener, implicit bool) error {
	var backoff time.Duration
	for {
		nc, err := poll.accept(l, s.done)
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) ||
				errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
				// Out of descriptors or a client that gave up during the
				// handshake: transient, so back off rather than stop
				// serving a whole class.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("sandbox: accept: %w", err)
		}
		backoff = 0
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			nc.Close()
			return nil
		default:
		}
		n := len(s.conns)
		if n >= s.lim.sessions+s.lim.busy {
			s.mu.Unlock()
			nc.Close()
			s.log.printf("accept", "* %d connections held: closed one from %s without a reply", n, nc.RemoteAddr())
			continue
		}
		client, counted := s.clientOf(nc)
		refuse := admitted
		switch {
		case n >= s.lim.sessions:
			refuse = serverFull
		case counted && s.perClient[client] >= s.lim.perClient:
			refuse = clientFull
		}
		c := s.newConn(nc, implicit)
		s.conns[c] = struct{}{}
		if counted {
			s.perClient[client]++
		}
		s.sessions.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.sessions.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				if counted {
					if s.perClient[client]--; s.perClient[client] == 0 {
						delete(s.perClient, client)
					}
				}
				s.mu.Unlock()
			}()
			c.serve(refuse)
		}()
	}
}

// clientOf is the address a connection counts against for the
// per-client cap, and whether it counts: a TCP peer's IP, IPv4-mapped
// addresses as IPv4; loopback only when the limits say so.
func (s *Server) clientOf(nc net.Conn) (netip.Addr, bool) {
	var ip netip.Addr
	if p, ok := nc.(interface{ peerAddr() (netip.Addr, bool) }); ok {
		// The sandbox's poller has the address accept gave it, without
		// RemoteAddr's allocations on every connection.
		if ip, ok = p.peerAddr(); !ok {
			return ip, false
		}
	} else if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		if ip, ok = netip.AddrFromSlice(a.IP); !ok {
			return ip, false
		}
	} else {
		return ip, false // a Unix socket
	}
	ip = ip.Unmap()
	return ip, s.lim.countLoopback || !ip.IsLoopback()
}

// Close stops the listeners, closes every session and waits for their
// goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.closeListeners()
		s.mu.Lock()
		for c := range s.conns {
			c.raw.Close()
		}
		s.mu.Unlock()
		s.sessions.Wait()
		s.log.close()
	})
	return err
}

// FlushLog writes the log lines still buffered. The log is written in
// batches (within 20 ms of a line, and at Close); a caller that reads
// Config.Log while the server runs, as a test does, flushes first.
func (s *Server) FlushLog() { s.log.flush() }

// Addr is the plain listener's address, "" when disabled.
func (s *Server) Addr() string { return addrOf(s.plain) }

// TLSAddr is the implicit-TLS listener's address, "" when disabled.
func (s *Server) TLSAddr() string { return addrOf(s.implicit) }

// SocketPath is the Unix socket path, "" when none.
func (s *Server) SocketPath() string {
	if s.unix == nil {
		return ""
	}
	return s.cfg.Socket
}

// CertPEM is the certificate chain the server presents, PEM-encoded, so a
// client can trust exactly this server.
func (s *Server) CertPEM() []byte { return append([]byte(nil), s.certPEM...) }

// Fingerprint is the SHA-256 of the leaf certificate's DER, upper-case hex
// with colons.
func (s *Server) Fingerprint() string { return s.finger }

// Mailbox is where delivered messages are kept.
func (s *Server) Mailbox() *Mailbox { return s.mailbox }

// Hostname is the configured (or default) hostname.
func (s *Server) Hostname() string { return s.cfg.Hostname }

// Users returns a copy of the demo credentials in effect.
func (s *Server) Users() map[string]string {
	u := make(map[string]string, len(s.cfg.Users))
	for k, v := range s.cfg.Users {
		u[k] = v
	}
	return u
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// isLoopback reports whether a listen address only reaches this host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sleep pauses for d unless the server closes first; false means closed.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

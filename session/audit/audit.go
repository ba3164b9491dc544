// Package audit is `ehlo audit`: a mail server's security report in one
// command. It owns the probes (each on its own connections, bounded in
// count and time), the findings they produce with the evidence taken from
// the conversation itself, the report's text, JSON and Markdown forms,
// and the per-probe recordings of --record DIR.
//
// Most probes send what a well-behaved client never sends (two commands
// in one write, a bare LF before a dot, a command before the greeting), so
// the package drives its connections itself rather than through
// protocol.Client, whose choke point refuses those bytes; it reuses
// protocol's limits and trace events, session's capture and escaping, and
// recordings' recorder and Markdown helpers. docs/audit.md lists every probe.
package audit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/mx"
)

// Defaults of the bounds.
const (
	DefaultProbeTimeout = 10 * time.Second
	DefaultMaxTime      = 3 * time.Minute
	DefaultHelo         = "ehlo-audit.invalid"
)

// Status is a finding's verdict.
type Status string

// Statuses, from best to worst; skip and error say the probe did not
// conclude.
const (
	Pass  Status = "pass"
	Warn  Status = "warn"
	Fail  Status = "fail"
	Skip  Status = "skip"
	Error Status = "error"
)

// Severity says how much a failing finding matters.
type Severity string

// Severities.
const (
	Info   Severity = "info"
	Low    Severity = "low"
	Medium Severity = "medium"
	High   Severity = "high"
)

// Finding is one line of the report.
type Finding struct {
	ID       string   `json:"id"`
	Status   Status   `json:"status"`
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
	Evidence []string `json:"evidence"`
}

// Report is the whole audit.
type Report struct {
	Server  string    `json:"server"`
	Started time.Time `json:"started"`
	// MX says which MX host of a DOMAIN was audited; nil for a SERVER.
	MX       *MXChoice `json:"mx,omitempty"`
	Findings []Finding `json:"findings"`
}

// Failed reports whether some finding failed (exit status 3).
func (r *Report) Failed() bool {
	for _, f := range r.Findings {
		if f.Status == Fail {
			return true
		}
	}
	return false
}

// Target is the server to audit.
type Target struct {
	Display string // as the user gave it
	Network string // "tcp" or "unix"
	Addr    string // host:port or the socket path
	Host    string // the host dialled; "" for a socket
	// SNI, when set, is the name sent in TLS and checked against the
	// certificate instead of Host (--sni; a socket has no other name).
	SNI         string
	ImplicitTLS bool
	portGiven   bool // the argument had its own port
	// hosts resolves Host in Resolve; nil is the system's resolver.
	hosts *net.Resolver
}

// name is what the certificate must match.
func (t Target) name() string {
	if t.SNI != "" {
		return t.SNI
	}
	return t.Host
}

// ParseTarget reads SERVER: a host, host:port, [v6]:port or a Unix socket
// path (starting with "/"). The port defaults to 25, or 465 with implicit
// TLS.
func ParseTarget(arg string, implicitTLS bool) (Target, error) {
	t := Target{Display: arg, Network: "tcp", ImplicitTLS: implicitTLS}
	switch {
	case arg == "":
		return t, errors.New("no server given")
	case strings.HasPrefix(arg, "/"):
		t.Network, t.Addr = "unix", arg
		return t, nil
	}
	host, port, err := net.SplitHostPort(arg)
	t.portGiven = err == nil
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(arg, "["), "]"), "25"
		if implicitTLS {
			port = "465"
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return t, fmt.Errorf("%q: bad port %q", arg, port)
	}
	if host == "" || strings.ContainsAny(host, " /\t") {
		return t, fmt.Errorf("%q: bad host", arg)
	}
	t.Host, t.Addr = host, net.JoinHostPort(host, port)
	return t, nil
}

// WithPort is t on another port (--port); a port given twice is refused.
func (t Target) WithPort(port int) (Target, error) {
	switch {
	case port == 0:
		return t, nil
	case port < 0 || port > 65535:
		return t, fmt.Errorf("--port %d: not a port", port)
	case t.Network != "tcp":
		return t, errors.New("--port: a Unix socket has no port")
	case t.portGiven:
		return t, fmt.Errorf("%q already has a port: give it once", t.Display)
	}
	t.Addr = net.JoinHostPort(t.Host, strconv.Itoa(port))
	return t, nil
}

// MailDomain is the name to look up MX records for: a host name given
// without a port (a port names one server); "" for an IP address, a
// socket, localhost, a single label or anything not a plain domain name
// (it goes into RCPT commands as the mail domain).
func (t Target) MailDomain() string {
	d := strings.TrimSuffix(t.Host, ".")
	if t.Network != "tcp" || t.portGiven || net.ParseIP(d) != nil || !isDomainName(d) ||
		!strings.Contains(d, ".") || strings.EqualFold(d, "localhost") {
		return ""
	}
	return d
}

// port is the TCP port dialled; 0 for a socket.
func (t Target) port() int {
	_, p, err := net.SplitHostPort(t.Addr)
	if t.Network != "tcp" || err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// Resolve checks that a host name resolves, so that a mail domain given
// where a server belongs gets a clear error instead of a connect failure.
func (t Target) Resolve(ctx context.Context) error {
	h, _, _ := net.SplitHostPort(t.Addr)
	if t.Network != "tcp" || net.ParseIP(h) != nil {
		return nil
	}
	r := t.hosts
	if r == nil {
		r = net.DefaultResolver
	}
	if _, err := r.LookupHost(ctx, t.Host); err != nil {
		return &UnreachableError{Target: t.Display, Err: fmt.Errorf(
			"%s does not resolve as a host (%v), and has no MX record either", t.Host, err)}
	}
	return nil
}

// tlsConfig is the probing configuration: certificates are not verified
// (the certificate probe does that), and every version and suite Go has is
// offered, strongest first, so that a probe about something else still
// gets through to a server stuck on TLS 1.0; adjust narrows it.
func (t Target) tlsConfig(adjust func(*tls.Config)) *tls.Config {
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, CipherSuites: legacySuites()}
	if net.ParseIP(t.name()) == nil {
		cfg.ServerName = t.name()
	}
	if adjust != nil {
		adjust(cfg)
	}
	return cfg
}

// Config is one audit.
type Config struct {
	Target Target
	// Helo is the EHLO name; empty means DefaultHelo.
	Helo string
	// RootCAs verifies the certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// ProbeTimeout bounds each connection of a probe; MaxTime the audit.
	ProbeTimeout, MaxTime time.Duration
	// To is a mailbox the user owns: the only address smtp-smuggling
	// sends to. Empty skips that probe.
	To string
	// User is a name the server is expected to know, for vrfy-expn and
	// rcpt-enumeration; empty means postmaster (RFC 5321 §4.5.1).
	User string
	// Domain is the server's mail domain for rcpt-enumeration; empty
	// means the name in its greeting.
	Domain string
	// Tag goes into the subjects of smtp-smuggling's messages, so that
	// the owner of To can find them; empty means a random one.
	Tag string
	// RecordDir, when set, receives one recording per probe connection.
	RecordDir string
	// Only, when set, runs just these probes (ids).
	Only []string
	// Progress is told when each probe starts and ends.
	Progress func(Progress)
	// Version is the ehlo version written in recordings.
	Version string
	// Resolver answers the MX, TLSA and MTA-STS lookups; nil does none:
	// the target is dialled as given and dane and mta-sts skip.
	Resolver *mx.Resolver
	// ResolverOnly: the resolver was chosen (--resolver), so its answer
	// on a DOMAIN is final; otherwise a name it cannot look up is dialled
	// through the system's lookup (/etc/hosts included), as a SERVER.
	ResolverOnly bool
	// PolicyPort, when set, replaces 443 for fetching the MTA-STS policy
	// (a test bed's HTTPS server need not run as root).
	PolicyPort int
}

// Progress reports one probe starting (Finding nil) or done.
type Progress struct {
	Index, Total int
	ID           string
	Finding      *Finding
}

// probe is one check. run returns the finding; it opens its own
// connections through the runner.
type probe struct {
	id  string
	run func(*runner, context.Context) Finding
}

// Probes lists the probe ids in the order they run.
func Probes() []string {
	var ids []string
	for _, p := range probes() {
		ids = append(ids, p.id)
	}
	return ids
}

func probes() []probe {
	return []probe{
		{"banner", (*runner).banner},
		{"tls-offered", (*runner).tlsOffered},
		{"tls-versions", (*runner).tlsVersions},
		{"tls-ciphers", (*runner).tlsCiphers},
		{"certificate", (*runner).certificate},
		{"dane", (*runner).dane},
		{"mta-sts", (*runner).mtaSTS},
		{"starttls-injection", (*runner).starttlsInjection},
		{"cleartext-auth", (*runner).cleartextAuth},
		{"open-relay", (*runner).openRelay},
		{"vrfy-expn", (*runner).vrfyExpn},
		{"rcpt-enumeration", (*runner).rcptEnumeration},
		{"smtp-smuggling", (*runner).smuggling},
		{"pregreet", (*runner).pregreet},
		{"size-enforced", (*runner).sizeEnforced},
		{"pipelining", (*runner).pipelining},
	}
}

// Run audits cfg.Target. It returns an *UnreachableError when not even
// the first connection gets a greeting, and an error for a bad --record
// directory; otherwise every probe has a finding, error or not. When ctx
// is cancelled (the user interrupts), the probes not yet run say so, and
// the caller can tell from ctx.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	list, err := selected(cfg.Only)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, started: time.Now().UTC(), user: ctx}
	if err := r.prepareRecordDir(list); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxTime)
	defer cancel()
	choice, err := r.reachMX(ctx)
	if err != nil {
		return nil, err
	}
	r.mx = choice
	rep := &Report{Server: cfg.Target.Display, Started: r.started, MX: choice}
	for i, p := range list {
		r.progress(Progress{Index: i + 1, Total: len(list), ID: p.id})
		f := r.runOne(ctx, p)
		rep.Findings = append(rep.Findings, f)
		r.progress(Progress{Index: i + 1, Total: len(list), ID: p.id, Finding: &f})
	}
	return rep, nil
}

func (c Config) withDefaults() Config {
	if c.Helo == "" {
		c.Helo = DefaultHelo
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	if c.MaxTime <= 0 {
		c.MaxTime = DefaultMaxTime
	}
	if c.User == "" {
		c.User = "postmaster"
	}
	if c.Tag == "" {
		c.Tag = strings.TrimPrefix(randomUser(), "ehlo-audit-")
	}
	return c
}

// check refuses values that would put bytes of the caller's choosing into
// the probes' commands: each of them goes on a command line.
func (c Config) check() error {
	if !isTag(c.Tag) {
		return fmt.Errorf("tag %q: only letters, digits, dots and hyphens, at most 64", c.Tag)
	}
	if err := protocol.ValidateHeloName(c.Helo); err != nil {
		return fmt.Errorf("helo: %w", err)
	}
	if c.Domain != "" && !isDomainName(c.Domain) {
		return fmt.Errorf("domain %q: not a domain name", c.Domain)
	}
	user := c.User
	if !strings.Contains(user, "@") {
		user += "@example.test"
	}
	if err := bareAddress(user); err != nil {
		return fmt.Errorf("user %q: %w", c.User, err)
	}
	if c.To != "" {
		if err := bareAddress(c.To); err != nil {
			return fmt.Errorf("to %q: %w", c.To, err)
		}
	}
	return nil
}

// bareAddress accepts what protocol accepts as an envelope address, but
// only in its bare form (no angle brackets, no display name), since the
// probes write it between brackets themselves.
func bareAddress(a string) error {
	if err := protocol.ValidateAddress(a); err != nil {
		return err
	}
	if a == "" || protocol.AddrOnly(a) != a || strings.ContainsAny(a, "<>") {
		return errors.New("give a bare address, like user@example.org")
	}
	return nil
}

func selected(only []string) ([]probe, error) {
	all := probes()
	if len(only) == 0 {
		return all, nil
	}
	var out []probe
	for _, id := range only {
		i := indexOf(all, id)
		if i < 0 {
			return nil, fmt.Errorf("unknown probe %q (known: %s)", id, strings.Join(Probes(), ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func indexOf(ps []probe, id string) int {
	for i, p := range ps {
		if p.id == id {
			return i
		}
	}
	return -1
}

func (r *runner) progress(p Progress) {
	if r.cfg.Progress != nil {
		r.cfg.Progress(p)
	}
}

// runOne runs a probe unless the overall time is up; a probe that panics
// on hostile input would be a bug, but it must not take the report down.
func (r *runner) runOne(ctx context.Context, p probe) (f Finding) {
	if ended(ctx) {
		return Finding{ID: p.id, Status: Error, Severity: Info, Summary: "Not run: " + r.stopped() + ".", Evidence: []string{}}
	}
	r.current, r.recErrs = p.id, nil
	defer func() {
		r.endRecording()
		for _, e := range r.recErrs {
			f.Evidence = append(f.Evidence, "* recording failed: "+session.SanitizeText(e))
		}
		if v := recover(); v != nil {
			f = Finding{ID: p.id, Status: Error, Severity: Info, Summary: fmt.Sprintf("The probe crashed: %v.", v), Evidence: []string{}}
		}
		if f.Evidence == nil {
			f.Evidence = []string{}
		}
		f.Evidence = capEvidence(f.Evidence)
	}()
	f = p.run(r, ctx)
	f.ID = p.id
	if ended(ctx) && f.Status != Pass && f.Status != Skip {
		// What went wrong is the audit's own stop, not the server:
		// a reply cut off by it is no finding.
		f.Status, f.Severity = Error, Info
		f.Summary = "Stopped: " + r.stopped() + " while this probe ran."
	}
	return f
}

// ended says the audit's context is over. Its deadline counts from the
// instant it passes: a connection's deadline, set from it, may expire a
// moment before the context's own timer says so.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// stopped says why the audit's context ended: the user, or its time limit.
func (r *runner) stopped() string {
	if r.user.Err() != nil {
		return "the audit was interrupted"
	}
	return fmt.Sprintf("the audit's time limit (%v) was reached", r.cfg.MaxTime)
}

// MaxEvidence caps a finding's evidence lines, so that a server that
// answers with a thousand-line reply does not bury the report; the middle
// is cut, and --record keeps every byte.
const MaxEvidence = 200

func capEvidence(ev []string) []string {
	if len(ev) <= MaxEvidence {
		return ev
	}
	head, tail := MaxEvidence/2, MaxEvidence/2-1
	out := append([]string(nil), ev[:head]...)
	out = append(out, fmt.Sprintf("* … %d lines cut (--record keeps them all)", len(ev)-head-tail))
	return append(out, ev[len(ev)-tail:]...)
}

// runner holds what the probes share.
type runner struct {
	cfg     Config
	started time.Time
	current string // the probe running, for recording names

	// The current probe's recording: capt feeds rec; recTried says
	// creating it was attempted; recErrs are what went wrong.
	capt     *session.Capture
	rec      *recordings.Recorder
	recTried bool
	recErrs  []string
	greet    reply     // the first greeting
	mx       *MXChoice // the MX audited, for a DOMAIN
	// user is Run's own context, before the time limit: cancelled when
	// the user interrupts.
	user context.Context
}

// reach makes the first connection: no greeting there means exit status 2
// rather than a page of errors.
func (r *runner) reach(ctx context.Context) error {
	if err := r.cfg.Target.Resolve(ctx); err != nil {
		return err
	}
	r.current = "reach"
	w, g, err := r.open(ctx, false)
	defer func() {
		if w != nil {
			w.quit()
		}
	}()
	if err != nil {
		var ue *UnreachableError
		if errors.As(err, &ue) {
			return ue
		}
		return &UnreachableError{Target: r.cfg.Target.Display, Err: err}
	}
	r.greet = g
	return nil
}

// prepareRecordDir creates DIR (0700) and refuses to start if a
// recording of this audit would overwrite a file.
func (r *runner) prepareRecordDir(list []probe) error {
	if r.cfg.RecordDir == "" {
		return nil
	}
	if err := os.MkdirAll(r.cfg.RecordDir, 0o700); err != nil {
		return fmt.Errorf("--record: %w", err)
	}
	for _, p := range list {
		f := filepath.Join(r.cfg.RecordDir, p.id+".jsonl")
		if _, err := os.Lstat(f); err == nil {
			return fmt.Errorf("--record: %s already exists; recordings are never overwritten: choose an empty directory", f)
		}
	}
	return nil
}

// recorder returns the tracer of the current probe's recording,
// DIR/ID.jsonl, starting it at the probe's first connection; every
// connection of the probe is one connect … close run in that file
// (docs/recording-format.md). A file that cannot be created is reported
// in the finding and the probe goes on unrecorded.
func (r *runner) recorder() protocol.Tracer {
	if r.cfg.RecordDir == "" || r.current == "reach" {
		return nil
	}
	if r.capt != nil {
		return r.capt
	}
	if r.recTried {
		return nil
	}
	r.recTried = true
	transport := "smtp"
	if r.cfg.Target.ImplicitTLS {
		transport = "smtps"
	}
	capt := session.NewCapture(time.Time{}, session.Redaction{})
	rec, err := recordings.Create(filepath.Join(r.cfg.RecordDir, r.current+".jsonl"), recordings.Header{
		Created: capt.Start(), Server: r.cfg.Target.Display, Transport: transport,
		Network: r.cfg.Target.Network, EhloVersion: r.cfg.Version, Insecure: true,
	})
	if err != nil {
		r.recErrs = append(r.recErrs, err.Error())
		return nil
	}
	capt.Add(rec)
	r.capt, r.rec = capt, rec
	return capt
}

// endRecording closes the current probe's recording, if any.
func (r *runner) endRecording() {
	if r.rec != nil {
		if err := r.rec.Close(); err != nil {
			r.recErrs = append(r.recErrs, err.Error())
		}
	}
	r.capt, r.rec, r.recTried = nil, nil, false
}

// isTag says s can mark the probe's messages: 1 to 64 letters, digits,
// dots and hyphens.
func isTag(s string) bool {
	return s != "" && len(s) <= 64 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == ""
}

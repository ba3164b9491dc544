package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/internal/cli/swaksargs"
	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
)

// translateSwaks rewrites swaks's spellings in `ehlo send`'s arguments
// into ehlo's (package swaksargs); other commands are left alone.
func translateSwaks(args []string) ([]string, error) {
	if len(args) == 0 || args[0] != "send" {
		return args, nil
	}
	rest, err := swaksargs.Translate(args[1:])
	if err != nil {
		return nil, err
	}
	return append([]string{"send"}, rest...), nil
}

// checkSwaksOptions refuses bad values of the options that came from swaks.
func (s *sendCmd) checkSwaksOptions() error {
	if s.IPv4 && s.IPv6 {
		return errors.New("--ipv4 (-4) and --ipv6 (-6) exclude each other")
	}
	if len(s.AttachType) > len(s.Attach) || len(s.AttachName) > len(s.Attach) {
		return errors.New("--attach-type and --attach-name go with the --attach at the same position: more of them than attachments")
	}
	for _, t := range s.AttachType {
		if t == "" {
			continue
		}
		if _, _, err := mime.ParseMediaType(t); err != nil || strings.ContainsAny(t, "\r\n") {
			return fmt.Errorf("--attach-type %q: not a MIME type (type/subtype[; param=value])", t)
		}
	}
	for _, n := range s.AttachName {
		if strings.ContainsAny(n, "\"\\/") || strings.IndexFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return fmt.Errorf("--attach-name %q: a file name without quotes, backslashes, slashes or control characters", n)
		}
	}
	if s.StartTLSIfOffered && (s.TLSOnConnect || s.Port == 465) {
		return errors.New("--starttls-if-offered (--tls-optional-strict) and implicit TLS (--tls-on-connect or port 465) exclude each other")
	}
	if s.Pipe != "" && (s.StartTLS || s.TLSOnConnect || s.StartTLSIfOffered) && s.SNI == "" && !s.Insecure {
		return errors.New("a --pipe command has no server name to verify the certificate against: pass --sni NAME (or --insecure)")
	}
	if s.JSON && (s.PeerCert == "-" || s.PeerChain == "-") {
		return errors.New("--peer-cert - and --peer-chain - write to stdout, where --json goes: give a FILE")
	}
	if s.HeloOnly && (s.StartTLS || s.StartTLSIfOffered || s.Auth != "" || s.LMTP || len(s.XClient) > 0) {
		return errors.New("--helo-only (--protocol SMTP) greets without extensions: no STARTTLS, AUTH, XCLIENT or LMTP (--protocol ESMTP has them)")
	}
	if _, _, err := tlsVersions(s.TLSProtocol); err != nil {
		return err
	}
	if err := s.buildProxy(); err != nil {
		return err
	}
	for _, x := range s.XClient {
		for _, attr := range strings.Fields(x) {
			if name, _, ok := strings.Cut(attr, "="); !ok || name == "" {
				return fmt.Errorf("--xclient %q: NAME=VALUE attributes, separated by spaces", x)
			}
		}
		if strings.TrimSpace(x) == "" || strings.IndexFunc(x, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return fmt.Errorf("--xclient %q: one line of NAME=VALUE attributes, without control characters", x)
		}
	}
	stdin := 0
	for _, v := range append([]string{s.Body, s.Data}, s.Attach...) {
		if v == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return errors.New("stdin (-) can be read once: for --data, --body or one --attach")
	}
	if (s.Silent > 0 || s.HideAll) && (s.JSON || s.Quiet) {
		return errors.New("--silent and --hide-all exclude --json and --quiet")
	}
	return nil
}

// network is the dial network -4/-6 ask for.
func (s *sendCmd) network() string {
	switch {
	case s.IPv4:
		return "tcp4"
	case s.IPv6:
		return "tcp6"
	}
	return ""
}

// describeAttachments gives each attachment the type and name given for
// it by position.
func (s *sendCmd) describeAttachments(as []session.Attachment) {
	for i := range as {
		if i < len(s.AttachType) && s.AttachType[i] != "" {
			as[i].ContentType = s.AttachType[i]
		}
		if i < len(s.AttachName) && s.AttachName[i] != "" {
			as[i].Name = s.AttachName[i]
		}
	}
}

// silence applies --silent to the streams the send writes to. The returned
// function restores them and, at level 1, shows everything held back when
// the send failed.
func (s *sendCmd) silence(app *appContext) func(error) error {
	out, errw := app.stdout, app.stderr
	var heldOut, heldErr bytes.Buffer
	level := s.Silent
	if s.HideAll {
		level = 3 // swaks's --hide-all hides its errors too
	}
	switch level {
	case 1:
		app.stdout, app.stderr = &heldOut, &heldErr
	case 2:
		app.stdout = io.Discard
	case 3:
		app.stdout, app.stderr = io.Discard, io.Discard
	}
	return func(err error) error {
		app.stdout, app.stderr = out, errw
		if err != nil && level == 1 {
			out.Write(heldOut.Bytes())
			errw.Write(heldErr.Bytes())
		}
		if level == 3 {
			var ee *exitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.code} // its message was for the terminal
			}
		}
		return err
	}
}

// hides says whether the transcript leaves out events of kind k.
func (s *sendCmd) hides(k session.Kind) bool {
	switch k {
	case session.KindClient:
		return s.HideSend || s.HideAll
	case session.KindServer:
		return s.HideReceive || s.HideAll
	case session.KindConnect, session.KindState, session.KindTLS, session.KindClose, session.KindSnapshot:
		return s.HideInformational || s.HideAll
	}
	return false
}

// transcriptSink is the transcript as --hide-* and --show-time-lapse ask.
func (o *sendOutput) transcriptSink() session.Sink {
	s, clock := o.cmd, &lapseClock{}
	return session.SinkFunc(func(e session.Event) {
		if lapse, ok := clock.reply(e); ok && s.ShowTimeLapse && !s.hides(session.KindState) {
			o.trans.Flush()
			fmt.Fprintf(o.app.stdout, "=== response in %.3fs\n", lapse.Seconds())
		}
		if !s.hides(e.Kind) {
			o.trans.Event(e)
		}
	})
}

// lapseClock measures each reply's round trip as swaks's --show-time-lapse
// does: from the last line sent (or the connection) to the reply's first
// line.
type lapseClock struct {
	since   time.Duration
	waiting bool
}

func (c *lapseClock) reply(e session.Event) (time.Duration, bool) {
	switch e.Kind {
	case session.KindConnect, session.KindClient:
		c.since, c.waiting = e.Offset, true
	case session.KindState:
		if e.State.Phase == protocol.PhaseConnected && c.waiting {
			c.since = e.Offset
		}
	case session.KindServer:
		if c.waiting {
			c.waiting = false
			return e.Offset - c.since, true
		}
	}
	return 0, false
}

// dataLines is how many lines of the message the transcript shows.
func (s *sendCmd) dataLines() int {
	if s.SuppressData {
		return -1
	}
	return 0
}

// peerCerts holds the certificates the server sent, as verified.
type peerCerts struct{ chain []*x509.Certificate }

// capturePeer records the server's certificates in cfg's verification
// callback, which runs only once verification passed (or with --insecure):
// what it saves is what ehlo trusted.
func capturePeer(cfg *tls.Config) *peerCerts {
	p := &peerCerts{}
	next := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if next != nil {
			if err := next(cs); err != nil {
				return err
			}
		}
		p.chain = cs.PeerCertificates
		return nil
	}
	return p
}

// writePeer is --peer-cert and --peer-chain: PEM to a file (replaced
// whole, never half-written) or to stdout.
func (s *sendCmd) writePeer(app *appContext, p *peerCerts) error {
	for _, w := range []struct {
		flag, path string
		all        bool
	}{{"--peer-cert", s.PeerCert, false}, {"--peer-chain", s.PeerChain, true}} {
		if w.path == "" {
			continue
		}
		if len(p.chain) == 0 {
			return fmt.Errorf("%s: no verified server certificate to write (no TLS, or the handshake failed)", w.flag)
		}
		certs := p.chain[:1]
		if w.all {
			certs = p.chain
		}
		write := func(out io.Writer) error {
			for _, c := range certs {
				if err := pem.Encode(out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
					return err
				}
			}
			return nil
		}
		var err error
		if w.path == "-" {
			err = write(app.stdout)
		} else {
			err = recordings.WriteFileAtomic(app.ctx, w.path, true, write)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", w.flag, err)
		}
	}
	return nil
}

// buildProxy encodes the --proxy* options' header, if any was given.
func (s *sendCmd) buildProxy() error {
	p := session.Proxy{Version: s.ProxyVersion, Raw: s.Proxy, Family: s.ProxyFamily, Protocol: s.ProxyProtocol,
		Command: s.ProxyCommand, Source: s.ProxySource, SourcePort: s.ProxySourcePort, Dest: s.ProxyDest, DestPort: s.ProxyDestPort}
	if p == (session.Proxy{}) {
		return nil
	}
	if p.Version == 0 {
		p.Version = 1
	}
	if s.Pipe != "" || strings.HasPrefix(s.Server, "/") {
		return errors.New("--proxy*: the PROXY header is for a TCP connection, not --pipe or a Unix socket")
	}
	hdr, err := p.Header()
	s.preamble = hdr
	return err
}

// send runs do (session.Send, or the MX route) with the options that came from swaks: the
// transport (-4/-6, --pipe, the PROXY header), STARTTLS when offered,
// XCLIENT, and --peer-cert once it is over.
func (s *sendCmd) send(app *appContext, cfg session.SendConfig, out *sendOutput, do func(session.SendConfig) *session.SendResult) *session.SendResult {
	cfg.Network, cfg.Preamble = s.network(), s.preamble
	cfg.StartTLSIfOffered, cfg.HeloOnly = s.StartTLSIfOffered, s.HeloOnly
	cfg.XClient, cfg.XClientNoVerify = s.XClient, s.XClientNoVerify
	var pipe *pipeConn
	if s.Pipe != "" {
		cfg.Dial = func(string) (net.Conn, error) {
			var err error
			pipe, err = dialPipe(s.Pipe, app.stderr)
			if err != nil {
				return nil, err // not a nil *pipeConn in a non-nil interface
			}
			return pipe, nil
		}
	}
	cfg.TLSConfig.MinVersion, cfg.TLSConfig.MaxVersion, _ = tlsVersions(s.TLSProtocol)
	peer := capturePeer(cfg.TLSConfig)
	res := do(cfg)
	if pipe != nil {
		pipe.flushStderr(app.stderr)
	}
	if err := s.writePeer(app, peer); err != nil {
		out.info(session.Warning, err.Error())
	}
	return res
}

// tlsVersions reads swaks's --tls-protocol: a list of the versions allowed
// (tlsv1_2,tlsv1_3) or of those forbidden (no_tlsv1_3), not both. ehlo
// speaks TLS 1.2 and 1.3 only, so what remains of those two is the range.
func tlsVersions(spec string) (lo, hi uint16, err error) {
	names := map[string]uint16{"sslv2": 0, "sslv3": 0, "tlsv1": 0, "tlsv1_1": 0, "tlsv1_2": tls.VersionTLS12, "tlsv1_3": tls.VersionTLS13}
	ok := map[uint16]bool{tls.VersionTLS12: spec == "" || strings.HasPrefix(spec, "no_"), tls.VersionTLS13: spec == "" || strings.HasPrefix(spec, "no_")}
	for _, w := range strings.Split(spec, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		name, neg := strings.CutPrefix(w, "no_")
		v, known := names[name]
		if !known || neg != strings.HasPrefix(strings.ToLower(spec), "no_") {
			return 0, 0, fmt.Errorf("--tls-protocol %q: versions sslv2 … tlsv1_3, all allowed or all forbidden (no_tlsv1)", spec)
		}
		if v != 0 {
			ok[v] = !neg
		}
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if ok[v] && lo == 0 {
			lo = v
		}
		if ok[v] {
			hi = v
		}
	}
	if lo == 0 {
		return 0, 0, fmt.Errorf("--tls-protocol %q leaves no version ehlo speaks (TLS 1.2 and 1.3)", spec)
	}
	return lo, hi, nil
}

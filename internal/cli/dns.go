package cli

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/mx"
)

// routed says whether the send goes through DNS: no SERVER (the
// recipients' MX), or DANE asked for a named server.
func (s *sendCmd) routed() bool { return s.Server == "" || s.TLSVerify == "dane" }

// validateRoute refuses what the DNS path cannot do, before any lookup.
func (s *sendCmd) validateRoute() error {
	if s.Resolver != "" {
		if _, err := mx.NewResolver(s.Resolver); err != nil {
			return fmt.Errorf("--resolver: %w", err)
		}
	}
	if s.TLSVerify == "dane" && s.Insecure {
		return errors.New("--tls-verify dane and --insecure exclude each other")
	}
	if s.Server != "" {
		if s.TLSVerify != "dane" {
			return nil
		}
		host, _, err := splitServer(s.Server)
		if err != nil || strings.HasPrefix(s.Server, "/") || net.ParseIP(host) != nil {
			return fmt.Errorf("--tls-verify dane needs SERVER as a host name (its TLSA records are looked up by name), not %q", s.Server)
		}
		return nil
	}
	switch {
	case s.LMTP:
		return errors.New("--lmtp needs SERVER: LMTP is not found through MX records")
	case s.Repeat > 0:
		return errors.New("--repeat needs SERVER")
	case len(s.To) == 0:
		return errors.New("without SERVER, --to names the domain whose MX hosts take the message")
	}
	_, err := recipientDomain(s.To)
	return err
}

// recipientDomain is the one domain of all recipients.
func recipientDomain(to []string) (string, error) {
	var domain string
	for _, a := range to {
		i := strings.LastIndexByte(a, '@')
		d := strings.ToLower(strings.TrimSuffix(a[i+1:], "."))
		if i < 0 || d == "" || strings.HasPrefix(d, "[") {
			return "", fmt.Errorf("without SERVER, every --to needs a domain to look up (%q has none)", a)
		}
		if !isASCII(d) {
			// The A-label conversion (IDNA) is not in the standard library.
			return "", fmt.Errorf("without SERVER, give the domain of %q in its ASCII (xn--) form", a)
		}
		if domain != "" && d != domain {
			return "", fmt.Errorf("without SERVER, all recipients must be in one domain (%s and %s): send once per domain", domain, d)
		}
		domain = d
	}
	return domain, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// splitServer is SERVER's host and port (0 when none was given).
func splitServer(server string) (string, int, error) {
	host, p, err := net.SplitHostPort(server)
	if err != nil {
		return strings.Trim(server, "[]"), 0, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, n, nil
}

// sendRoute is the send through DNS: session.SendRoute with the resolver,
// the recipients' domain (or SERVER's name) and MTA-STS over HTTPS
// verified against --ca (or the system roots).
func (s *sendCmd) sendRoute(app *appContext, cfg session.SendConfig, out *sendOutput) *session.SendResult {
	rc, err := routeConfig(s.Resolver, s.Timeout)
	if err != nil {
		return &session.SendResult{Stage: session.StageConnect, Err: &protocol.ValueError{Msg: err.Error()}}
	}
	r := rc.Resolver
	rc.RequireDANE = s.TLSVerify == "dane"
	if s.Server == "" {
		rc.Domain, _ = recipientDomain(s.To)
		var roots *x509.CertPool
		if cfg.TLSConfig != nil {
			roots = cfg.TLSConfig.RootCAs
		}
		rc.HTTP = mx.HTTPClient(r, roots, s.Timeout, 0)
	} else {
		host, port, _ := splitServer(s.Server)
		rc.Host = host
		if cfg.Port == 0 {
			cfg.Port = port
		}
	}
	res, rep := session.SendRoute(app.ctx, cfg, rc)
	out.route = rep
	return res
}

// routeConfig is the DNS side of a route through --resolver (the
// system's servers when empty), each query bounded by timeout as each
// reply is.
func routeConfig(resolver string, timeout time.Duration) (session.RouteConfig, error) {
	r, err := mx.NewResolver(resolver)
	if err != nil {
		return session.RouteConfig{}, err
	}
	r.Timeout = timeout
	rc := session.RouteConfig{Resolver: r, ResolverName: resolver}
	if rc.ResolverName == "" {
		rc.ResolverName = "system: " + strings.Join(r.Servers, ", ")
	}
	return rc, nil
}

// chainTracer prints (or, with --json, keeps) the server's certificate
// chain as PEM after each handshake when --tls-chain asks for it.
func (o *sendOutput) chainTracer(next protocol.Tracer) protocol.Tracer {
	if !o.cmd.TLSChain {
		return next
	}
	return tracerFunc(func(e protocol.Event) {
		if next != nil {
			next.Trace(e)
		}
		if e.Kind != protocol.EventTLS || e.TLSState == nil {
			return
		}
		for _, c := range e.TLSState.PeerCertificates {
			p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
			if o.cmd.JSON {
				o.pems = append(o.pems, p)
				continue
			}
			if o.trans != nil {
				o.trans.Flush()
			}
			fmt.Fprint(o.app.stdout, p)
		}
	})
}

type tracerFunc func(protocol.Event)

func (f tracerFunc) Trace(e protocol.Event) { f(e) }

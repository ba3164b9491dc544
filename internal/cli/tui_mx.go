package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/mx"
)

// mxFlags let the TUI reach a domain's mail server through DNS, as `ehlo
// send` without SERVER does: its MX hosts, DANE and MTA-STS.
type mxFlags struct {
	MX       string `name:"mx" placeholder:"DOMAIN" help:"Connect to DOMAIN's most preferred usable MX host that answers, found through DNS, with DANE (RFC 7672) or MTA-STS (RFC 8461) as its records say; the Connection pane shows the verdicts."`
	Resolver string `help:"DNS server for --mx's MX, TLSA and MTA-STS lookups, HOST[:PORT] (default: /etc/resolv.conf's)." placeholder:"HOST[:PORT]"`
}

// checkMX refuses what --mx cannot do, before any lookup.
func (f *mxFlags) checkMX(server string, lmtp bool) error {
	switch {
	case f.MX == "" && f.Resolver != "":
		return errors.New("--resolver is for --mx DOMAIN")
	case f.MX == "":
		return nil
	case server != "":
		return errors.New("--mx DOMAIN and SERVER exclude each other: --mx finds the server")
	case lmtp:
		return errors.New("--mx: LMTP is not found through MX records")
	}
	if _, err := recipientDomain([]string{"postmaster@" + f.MX}); err != nil {
		return fmt.Errorf("--mx takes a domain name, in ASCII (xn--) form, not %q", f.MX)
	}
	return nil
}

// planMX points cfg at --mx's server (session.PlanLive): the MTA-STS
// policy is fetched over HTTPS verified as the server is (--ca or the
// system's roots).
func (f *mxFlags) planMX(app *appContext, cfg session.LiveConfig) (session.LiveConfig, *session.Route, error) {
	rc, err := routeConfig(f.Resolver, cfg.Options.Timeout)
	if err != nil {
		return cfg, nil, fmt.Errorf("--resolver: %w", err)
	}
	rc.Domain, _ = recipientDomain([]string{"postmaster@" + f.MX})
	var roots *x509.CertPool
	if cfg.Options.TLSConfig != nil {
		roots = cfg.Options.TLSConfig.RootCAs
	}
	rc.HTTP = mx.HTTPClient(rc.Resolver, roots, cfg.Options.Timeout, 0)
	out, route, err := session.PlanLive(app.ctx, cfg, rc)
	if err != nil {
		return cfg, route, fmt.Errorf("--mx %s: %w", f.MX, err)
	}
	return out, route, nil
}

// liveConfig is the session's configuration for server (SERVER or the
// sandbox), or with --mx for the servers DNS finds; startTLS says to
// upgrade at once: --starttls, or DANE or an enforced MTA-STS policy
// requiring it of any host the session may reach (it falls back from one
// that does not answer to the next).
func (t *tuiCmd) liveConfig(app *appContext, server string, port int, tlsCfg *tls.Config) (_ session.LiveConfig, startTLS bool, _ error) {
	lc := session.LiveConfig{
		Server: server, Port: port, Kind: t.kind(),
		Options: protocol.Options{LocalHostname: t.Helo, Timeout: t.Timeout, SourceAddress: t.Source, TLSConfig: tlsCfg},
	}
	if t.MX == "" {
		return lc, t.StartTLS, nil
	}
	lc, route, err := t.planMX(app, lc)
	if err != nil {
		return lc, false, err
	}
	return lc, t.StartTLS || route.AnyTLSRequired() && lc.Kind != protocol.SMTPS, nil
}

// planExit is how a failed liveConfig ends the command: exit 130 when
// Ctrl+C cut --mx's lookups short, as for send, else 2 (no server).
func planExit(app *appContext, err error) error {
	if app.ctx.Err() != nil {
		return &exitError{code: session.ExitInterrupted, err: session.ErrInterrupted}
	}
	return &exitError{code: 2, err: err}
}

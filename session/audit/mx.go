package audit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ehlo-dev/ehlo/session/mx"
)

// MXChoice is the MX host of a mail domain that the audit went to.
type MXChoice struct {
	Domain  string `json:"domain"`
	Audited string `json:"audited"` // the MX host name
	Addr    string `json:"addr"`    // the address that answered
	// Implicit: the domain has no MX, so its own A/AAAA took the mail
	// (RFC 5321 §5.1).
	Implicit bool `json:"implicit,omitempty"`
	// Others are the other MX hosts, each with its preference and why it
	// was not audited.
	Others []string `json:"others"`
	// Secure: the MX and address answers of the audited host were
	// DNSSEC-validated; RFC 7672 §2.2.1 has senders look up TLSA only then.
	Secure bool `json:"dnssec"`
}

// reachMX makes the first connection. For a host name without a port and
// a resolver, it looks up the MX records first and goes to the most
// preferred host that greets (session/mx has the RFC 5321 §5.1 order and
// the no-MX fallback); a name whose lookup fails is dialled as given, so
// that a server's host name (or one only /etc/hosts knows) keeps working.
func (r *runner) reachMX(ctx context.Context) (*MXChoice, error) {
	domain := r.cfg.Target.MailDomain()
	if domain == "" || r.cfg.Resolver == nil {
		return nil, r.reach(ctx)
	}
	hosts, err := mx.Lookup(ctx, r.cfg.Resolver, domain)
	switch {
	case errors.Is(err, mx.ErrNullMX) || (err != nil && r.cfg.ResolverOnly):
		return nil, &UnreachableError{Target: r.cfg.Target.Display, Err: err}
	case err != nil:
		if rerr := r.reach(ctx); rerr != nil {
			return nil, fmt.Errorf("%w (MX lookup: %s)", rerr, sanitizeErr(err))
		}
		return nil, nil
	}
	c := &MXChoice{Domain: domain, Implicit: len(hosts) == 1 && hosts[0].Implicit, Others: []string{}}
	given := r.cfg.Target
	var tried []string
	for _, h := range hosts {
		label := fmt.Sprintf("%d %s", h.Preference, h.Name)
		switch {
		case c.Audited != "":
			c.Others = append(c.Others, label+": not audited (less preferred)")
		case h.Err != "":
			c.Others = append(c.Others, label+": "+sanitizeString(h.Err))
			tried = append(tried, label+": "+sanitizeString(h.Err))
		default:
			why := r.reachHost(ctx, given, h, c)
			if why != "" {
				c.Others = append(c.Others, label+": "+why)
				tried = append(tried, label+": "+why)
			}
		}
	}
	if c.Audited == "" {
		return nil, &UnreachableError{Target: given.Display, Err: fmt.Errorf("no MX host of %s answers: %s", domain, strings.Join(tried, "; "))}
	}
	// The mail domain of mta-sts and rcpt-enumeration; a name with no MX
	// is taken for a server's, not a mail domain.
	if r.cfg.Domain == "" && !c.Implicit {
		r.cfg.Domain = domain
	}
	return c, nil
}

// reachHost tries h's addresses in turn; on a greeting the audit's target
// becomes that address, under h's name (the name its certificate, TLSA
// and MTA-STS policy are about). It returns why h did not answer.
func (r *runner) reachHost(ctx context.Context, given Target, h mx.Host, c *MXChoice) string {
	var why []string
	for _, a := range h.Addrs {
		t := given
		t.Host, t.Addr = h.Name, net.JoinHostPort(a.String(), strconv.Itoa(given.port()))
		r.cfg.Target = t
		err := r.reach(ctx)
		if err == nil {
			c.Audited, c.Addr, c.Secure = h.Name, t.Addr, h.Secure
			return ""
		}
		var ue *UnreachableError
		if errors.As(err, &ue) {
			err = ue.Err
		}
		why = append(why, t.Addr+": "+sanitizeErr(err))
	}
	r.cfg.Target = given
	return "no answer (" + strings.Join(why, "; ") + ")"
}

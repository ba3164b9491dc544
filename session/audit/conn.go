package audit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

func sanitizeString(s string) string { return session.SanitizeString(s) }

func sanitizeErr(err error) string {
	if err == nil {
		return "no error"
	}
	return session.SanitizeText(err.Error())
}

// open makes one probe connection under its own timeout and reads the
// greeting, unless raw says the probe reads it itself. The caller closes
// the wire (quit or close) whatever the error.
func (r *runner) open(ctx context.Context, raw bool) (*wire, reply, error) {
	return r.openTLS(ctx, raw, r.cfg.Target.tlsConfig(nil))
}

func (r *runner) openTLS(ctx context.Context, raw bool, tlsCfg *tls.Config) (*wire, reply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ProbeTimeout)
	w, err := dial(ctx, r.cfg.Target, r.recorder(), tlsCfg)
	w.onClose = cancel
	if err != nil || raw {
		return w, reply{}, err
	}
	g, err := w.read()
	if err != nil {
		return w, g, fmt.Errorf("no greeting: %w", err)
	}
	if g.Code != 220 {
		return w, g, fmt.Errorf("the server greeted with %d, not 220", g.Code)
	}
	return w, g, nil
}

// hello sends EHLO and returns the advertised keywords, lower-cased, as
// protocol parses them.
func (r *runner) hello(w *wire) (reply, map[string]string, error) {
	e, err := w.cmd("EHLO " + r.cfg.Helo)
	if err != nil {
		return e, nil, err
	}
	if e.Code != 250 {
		return e, nil, fmt.Errorf("EHLO was answered %d", e.Code)
	}
	ext, _ := protocol.ParseEHLO(strings.Join(e.Lines, "\n"))
	return e, ext, nil
}

// startTLS upgrades a greeted connection with cfg and greets again.
func (r *runner) startTLS(w *wire, cfg *tls.Config) (tls.ConnectionState, map[string]string, error) {
	s, err := w.cmd("STARTTLS")
	if err != nil {
		return tls.ConnectionState{}, nil, err
	}
	if s.Code != 220 {
		return tls.ConnectionState{}, nil, fmt.Errorf("STARTTLS was answered %d", s.Code)
	}
	st, err := w.handshake(cfg)
	if err != nil {
		return st, nil, err
	}
	_, ext, err := r.hello(w)
	return st, ext, err
}

// session is the ordinary start of a probe: greeting, EHLO and, when the
// server offers it, STARTTLS and EHLO again, the way a sending MTA goes in.
func (r *runner) session(ctx context.Context) (*wire, map[string]string, error) {
	w, _, err := r.open(ctx, false)
	if err != nil {
		return w, nil, err
	}
	_, ext, err := r.hello(w)
	if err != nil || r.cfg.Target.ImplicitTLS {
		return w, ext, err
	}
	if _, ok := ext["starttls"]; ok {
		_, ext, err = r.startTLS(w, r.cfg.Target.tlsConfig(nil))
	}
	return w, ext, err
}

// tlsSession opens a connection and starts TLS with cfg, by STARTTLS or
// implicitly. offered is false when the server does not offer STARTTLS.
func (r *runner) tlsSession(ctx context.Context, cfg *tls.Config) (w *wire, st tls.ConnectionState, offered bool, err error) {
	w, _, err = r.openTLS(ctx, false, cfg)
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return w, st, true, beforeTLS{err}
	}
	if r.cfg.Target.ImplicitTLS {
		if tc, ok := w.conn.(*tls.Conn); ok && err == nil {
			st = tc.ConnectionState()
		}
		return w, st, true, err
	}
	if err != nil {
		return w, st, true, beforeTLS{err}
	}
	_, ext, err := r.hello(w)
	if err != nil {
		return w, st, true, beforeTLS{err}
	}
	if _, ok := ext["starttls"]; !ok {
		return w, st, false, nil
	}
	st, _, err = r.startTLS(w, cfg)
	return w, st, true, err
}

// beforeTLS is a failure before TLS could be tried (no greeting, EHLO
// refused): the TLS probes cannot conclude from it.
type beforeTLS struct{ error }

func (e beforeTLS) Unwrap() error { return e.error }

func isBeforeTLS(err error) bool {
	var b beforeTLS
	return errors.As(err, &b)
}

// brief keeps of a transcript the lines that show something: it drops the
// connect notes and, of each EHLO reply, every keyword line but the hello
// line and those naming one of keywords.
func brief(lines []string, keywords ...string) []string {
	var out []string
	inEhlo, first := false, false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "* connected to "):
			continue
		case strings.HasPrefix(l, "C: EHLO "):
			inEhlo, first = true, true
		case inEhlo && strings.HasPrefix(l, "S: 220"):
			// The greeting, read after an EHLO sent before it (pregreet).
		case inEhlo && strings.HasPrefix(l, "S: 250"):
			keep := first || hasKeyword(l[7:], keywords)
			inEhlo = len(l) > 6 && l[6] == '-'
			first = false
			if !keep {
				continue
			}
		default:
			inEhlo = false
		}
		out = append(out, l)
	}
	return out
}

func hasKeyword(line string, keywords []string) bool {
	for _, k := range keywords {
		if len(line) >= len(k) && strings.EqualFold(line[:len(k)], k) {
			return true
		}
	}
	return false
}

func finding(st Status, sev Severity, summary string, ev []string) Finding {
	if ev == nil {
		ev = []string{}
	}
	return Finding{Status: st, Severity: sev, Summary: summary, Evidence: ev}
}

// broken is the finding of a probe whose conversation failed before it
// could conclude.
func broken(sev Severity, w *wire, err error) Finding {
	var ev []string
	if w != nil {
		ev = w.lines
	}
	return finding(Error, sev, "The probe could not conclude: "+sanitizeErr(err)+".", ev)
}

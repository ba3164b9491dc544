package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/session"
)

// truster is a Conversation that can pin one certificate for the session
// (session.Live.TrustCertificate); the TUI offers /trust only then.
type truster interface {
	TrustCertificate(sha256 string) error
}

// certOverlay is the state of /cert and /trust: the line at the top, and
// for /trust the fingerprint the user is asked to trust (the one shown,
// never the one of a later handshake).
type certOverlay struct {
	top int
	fp  string
}

// trustable is the certificate /trust would pin: the leaf of a handshake
// that failed verification, when ehlo offers a way past it (never past a
// DANE mismatch, see waysOut).
func trustable(st paneState) (session.Certificate, bool) {
	h := st.TLSInfo
	if len(waysOut(h, st.Route)) == 0 || len(h.Chain) == 0 || h.Chain[0].SHA256 == "" {
		return session.Certificate{}, false
	}
	return h.Chain[0], true
}

func (m *Model) canTrust() bool {
	_, ok := trustable(m.st)
	_, can := m.conv.(truster)
	return ok && can
}

// openCert opens /cert, or with trust the confirmation of /trust, which
// shows the certificate and its SHA-256 first.
func (m *Model) openCert(trust bool) {
	m.cert = certOverlay{}
	if !trust {
		m.overlay = overlayCert
		return
	}
	c, ok := trustable(m.st)
	switch {
	case m.rep != nil:
		m.setFlash("a replay has no connection to trust a certificate for", true)
	case !ok:
		m.setFlash("nothing to trust: /trust is for a certificate that failed verification (see the Connection pane)", true)
	case !m.canTrust():
		m.setFlash("this session cannot pin a certificate", true)
	default:
		m.cert.fp = c.SHA256
		m.overlay = overlayTrust
	}
}

// certKeyMap is the /cert view's (scroll, close) and the trust
// question's (y trusts; any other key declines).
type certKeyMap struct {
	Up, Down, PageUp, PageDown, Top, Close key.Binding
	Yes, No                                key.Binding
}

func defaultCertKeyMap() certKeyMap {
	return certKeyMap{
		Up:       binding("↑/k", "up", "up", "k"),
		Down:     binding("↓/j", "down", "down", "j"),
		PageUp:   binding("pgup", "scroll up", "pgup"),
		PageDown: binding("pgdn", "scroll down", "pgdown", "space"),
		Top:      binding("home/g", "top", "home", "g"),
		Close:    binding("esc", "close", "esc", "q"),
		Yes:      binding("y", "trust for this session", "y"),
		No:       key.NewBinding(key.WithHelp("any other key", "no")),
	}
}

// FullHelp is the /cert view's group in the help overlay.
func (k certKeyMap) FullHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Close, k.Yes}
}

// certKey answers keys in /cert (scroll, close) and the trust question
// (y trusts and reconnects; any other key declines).
func (m *Model) certKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.certKeys
	if m.overlay == overlayTrust {
		m.overlay = overlayNone
		if !key.Matches(msg, k.Yes) {
			m.setFlash("not trusted: nothing changed", false)
			return nil
		}
		if err := m.conv.(truster).TrustCertificate(m.cert.fp); err != nil {
			m.setFlash(err.Error(), true)
			return nil
		}
		m.setFlash("trusting sha256 "+truncate(safe(m.cert.fp), 17)+" for this session only; reconnecting", false)
		return nil
	}
	switch {
	case key.Matches(msg, k.Close):
		m.overlay = overlayNone
	case key.Matches(msg, k.Up):
		m.cert.top = max(0, m.cert.top-1)
	case key.Matches(msg, k.Down):
		m.cert.top++
	case key.Matches(msg, k.PageUp):
		m.cert.top = max(0, m.cert.top-(m.lay.H-4))
	case key.Matches(msg, k.PageDown):
		m.cert.top += m.lay.H - 4
	case key.Matches(msg, k.Top):
		m.cert.top = 0
	}
	return nil
}

func (m *Model) certHelp() []key.Binding {
	if m.overlay == overlayTrust {
		return []key.Binding{m.certKeys.Yes, m.certKeys.No}
	}
	return []key.Binding{m.certKeys.Up, m.certKeys.Down, m.certKeys.Close}
}

// certBox is the /cert view, or the /trust question over the certificate.
func (m *Model) certBox() *overlaySpec {
	l, s := m.lay, m.styles
	w, h := min(l.W-4, 96), l.H-2
	if m.overlay == overlayCert {
		lines := certView(s, m.st, m.now(), w, h, m.cert.top)
		return &overlaySpec{lines, (l.W - w) / 2, 1}
	}
	var c session.Certificate
	if h := m.st.TLSInfo; h != nil && len(h.Chain) > 0 && h.Chain[0].SHA256 == m.cert.fp {
		c = h.Chain[0]
	} else {
		c.SHA256 = m.cert.fp
	}
	inner := w - 4
	lines := chainLines([]session.Certificate{c}, s, inner, m.now(), false)
	for _, t := range []string{
		"Trust this certificate for this session only? ehlo reconnects and accepts the server only if it presents exactly this certificate (the sha256 above); nothing else is loosened and nothing is saved.",
		"Compare the sha256 with the server's own (openssl x509 -noout -fingerprint -sha256 on the server) before you answer.",
	} {
		lines = append(lines, "")
		for _, wl := range wrap(t, inner, 0) {
			lines = append(lines, s.Note.Render(wl))
		}
	}
	lines = append(lines, "", s.Bold.Render("y: trust and reconnect · any other key: no"))
	return &overlaySpec{box(s, "Trust this certificate?", "", fit(lines, h-2, s), w, min(h, len(lines)+2), true), (l.W - w) / 2, 1}
}

package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
)

// extension is one EHLO keyword and its parameters, as the server sent
// them (raw: they are sanitized when drawn).
type extension struct{ Keyword, Params string }

// paneState is what the Connection and Extensions panes and the status bar
// show. A live session fills it from its Snapshot; a replay computes it
// from the events up to the cursor.
type paneState struct {
	Server    string
	Transport string // "smtp", "smtps", "lmtp"
	Connected bool
	Step      session.Step // how far the conversation has gone
	TLS       bool
	Auth      bool
	Rcpts     int

	Exts        []extension
	Stale       bool // STARTTLS since the last EHLO (RFC 3207 §4.2)
	pendingExts bool // EHLO sent: its 250 reply replaces Exts

	TLSInfo *session.TLSSummary
	Route   *session.Route // how DNS found the server; nil when named
	In, Out int64
	Started time.Time
	Offset  time.Duration // replay: the time at the cursor

	Busy      bool
	BusySince time.Time
	Pending   string
	Queued    []string // sanitized by the session
	Mode      inputMode
	Challenge string
	Secret    bool
	DataLines int
	DataTail  []string // raw: sanitize to show
	LastError string

	// Reached is how far the last connection got. It outlives the close,
	// so that a session that has ended (a replay at its end, a server
	// that said 421) still shows whether it was encrypted, authenticated
	// and how far mail went, instead of a row of empty steps.
	Reached reached
}

// reached is the furthest a connection went: phase and recipients at their
// highest, and whether TLS and auth ever held.
type reached struct {
	Step      session.Step
	TLS, Auth bool
	Rcpts     int
}

// track folds the current state into Reached; was is whether the previous
// state was connected, so that a new connection starts afresh.
func (st *paneState) track(was bool) {
	if !st.Connected {
		return
	}
	if !was {
		st.Reached = reached{}
	}
	r := &st.Reached
	r.Step, r.Rcpts = max(r.Step, st.Step), max(r.Rcpts, st.Rcpts)
	r.TLS, r.Auth = r.TLS || st.TLS, r.Auth || st.Auth
}

// closed is whether a connection was made and has ended.
func (st *paneState) closed() bool { return !st.Connected && st.Reached.Step > session.StepNone }

func fromSnapshot(s snapshot) paneState {
	st := paneState{
		Server:    s.Server,
		Transport: s.Kind.String(),
		Connected: s.Connected,
		Step:      s.Step(),
		TLS:       s.State.TLS,
		Auth:      s.State.Authenticated,
		Rcpts:     s.State.Recipients,
		Stale:     s.ExtensionsStale,
		TLSInfo:   s.TLS,
		Route:     s.Route,
		In:        s.BytesIn,
		Out:       s.BytesOut,
		Started:   s.Started,
		Busy:      s.Busy,
		BusySince: s.BusySince,
		Pending:   s.Pending,
		Queued:    s.Queued,
		Mode:      s.Mode,
		Challenge: s.Challenge,
		Secret:    s.SecretInput,
		DataLines: s.DataLines,
		DataTail:  s.DataTail,
		LastError: s.LastError,
	}
	for _, e := range s.Extensions {
		st.Exts = append(st.Exts, extension{e.Keyword, e.Params})
	}
	return st
}

// next is the live state after a new snapshot: s, with how far the
// connection got carried over from st.
func (st paneState) next(s snapshot) paneState {
	n := fromSnapshot(s)
	n.Reached = st.Reached
	n.track(st.Connected)
	return n
}

// applyState follows a KindState event (replay).
func (st *paneState) applyState(e session.Event) {
	defer st.track(st.Connected)
	st.Step = e.Step()
	st.Connected = st.Step != session.StepNone
	st.TLS = e.State.TLS
	st.Auth = e.State.Authenticated
	st.Rcpts = e.State.Recipients
}

// ehloLine follows one line of a 250 reply to EHLO or LHLO (replay),
// read as the live session reads it (session.ExtensionOf).
func (st *paneState) ehloLine(line []byte) {
	if st.pendingExts {
		// The first line names the server; the extensions follow.
		st.pendingExts, st.Exts, st.Stale = false, nil, false
		return
	}
	if e, ok := session.ExtensionOf(line); ok {
		st.Exts = append(st.Exts, extension{e.Keyword, e.Params})
	}
}

func (st *paneState) has(kw string) (params string, ok bool) {
	for _, e := range st.Exts {
		if strings.EqualFold(e.Keyword, kw) {
			return e.Params, true
		}
	}
	return "", false
}

// readableParams makes an extension's parameters readable: SIZE in KiB or
// MiB, the rest as sent. The result is sanitized.
func readableParams(e extension) string {
	p := safe(e.Params)
	if strings.EqualFold(e.Keyword, "SIZE") {
		if p == "" || p == "0" {
			return "no fixed limit"
		}
		if n, err := strconv.ParseInt(p, 10, 64); err == nil && n > 0 {
			return humanBytes(n)
		}
	}
	return p
}

// humanBytes writes n in B, KiB, MiB or GiB, with one decimal unless exact.
func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if u == 0 {
		return strconv.FormatInt(n, 10) + " B"
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[u])
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}

// clock writes a duration as mm:ss, or h:mm:ss past an hour.
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// minutes writes a live connection's age to the minute: shown to the
// second it would redraw the screen every second, and an idle TUI should
// cost nothing (issue 17).
func minutes(d time.Duration) string {
	m := int64(d / time.Minute)
	switch {
	case m < 1:
		return "<1 min"
	case m < 60:
		return strconv.FormatInt(m, 10) + " min"
	}
	return fmt.Sprintf("%d h %02d min", m/60, m%60)
}

// connLines draws the Connection pane's content, most important first, so
// that a short pane cuts the details, not the facts: where, whether the
// channel is encrypted and verified (loudly when not: RFC 8314 §5 asks for
// a prominent indication), where in the state machine, bytes and time,
// what DNS said (DANE, MTA-STS) when the server was found through it, and
// then the certificate chain (/cert shows it in full).
func connLines(st paneState, s themes.Styles, w int, now time.Time, replay bool) []string {
	out := connHeader(st, s, w)
	out = append(out, verifyLines(st, s, w)...)
	out = append(out, stateMachine(st, s, w)...)
	elapsed := minutes(0)
	switch {
	case replay:
		elapsed = clock(st.Offset)
	case !st.Started.IsZero():
		elapsed = minutes(now.Sub(st.Started))
	}
	out = append(out, s.Muted.Render(truncate(fmt.Sprintf("↑%s ↓%s · %s", humanBytes(st.Out), humanBytes(st.In), elapsed), w)))
	out = append(out, routeLines(st.Route, s, w, false)...)
	if h := st.TLSInfo; h != nil {
		out = append(out, chainLines(h.Chain, s, w, now, false)...)
	}
	return out
}

// connHeader is the server, the transport and whether the channel is
// encrypted.
func connHeader(st paneState, s themes.Styles, w int) []string {
	var out []string
	add := func(line string) { out = append(out, line) }
	server := safe(st.Server)
	if server == "" {
		server = "(no server)"
	}
	add(s.Bold.Render(truncate(server, w)))
	status := "disconnected"
	switch {
	case st.Connected:
		status = "connected"
	case st.closed():
		status = "closed"
	}
	tr := safe(st.Transport)
	if tr == "" {
		tr = "smtp"
	}
	add(s.Muted.Render(truncate(tr+" · "+status, w)))

	// A recording's close event leaves the last TLS state in place; a
	// closed connection is described in the past whatever it says.
	switch {
	case st.closed() && st.Reached.TLS && st.TLSInfo != nil:
		add(s.Muted.Render(truncate("was TLS "+safe(st.TLSInfo.Version)+" "+safe(st.TLSInfo.Cipher), w)))
	case st.closed() && st.Reached.TLS:
		add(s.Muted.Render("was TLS"))
	case st.closed():
		add(s.Cleartext.Render(truncate("was not encrypted (cleartext)", w)))
	case st.TLS && st.TLSInfo != nil:
		add(s.Verified.Render(truncate("TLS "+safe(st.TLSInfo.Version), w)) +
			s.Muted.Render(truncate(" "+safe(st.TLSInfo.Cipher), w-4-len(st.TLSInfo.Version))))
	case st.TLS:
		add(s.Verified.Render("TLS"))
	case st.Connected:
		add(s.Cleartext.Render(truncate("⚠ NOT ENCRYPTED (cleartext)", w)))
	default:
		add(s.Muted.Render(truncate("not encrypted", w)))
	}
	return out
}

// verifyLines says whether the certificate was verified, how (a
// certificate authority, DANE, the user's pin) and, when it failed, the
// whole reason and the ways on.
func verifyLines(st paneState, s themes.Styles, w int) []string {
	h := st.TLSInfo
	if h == nil {
		return nil
	}
	var out []string
	add := func(style lipgloss.Style, text string, maxLines int) {
		for _, l := range wrap(text, w, maxLines) {
			out = append(out, style.Render(l))
		}
	}
	switch {
	case !h.Complete:
		// The whole reason, then what to do about it: a dead end
		// otherwise.
		add(s.NotVerified, "✗ TLS handshake failed: "+safe(h.Error), 0)
		for _, way := range waysOut(h, st.Route) {
			add(s.Note, safe(way), 0)
		}
	case h.Pinned:
		add(s.Verified, "✓ certificate pinned for this session (you trusted its sha256)", 2)
	case h.Verified && st.Route.DANEVerdict() != "":
		add(s.Verified, "✓ verified by DANE (TLSA)", 1)
	case h.Verified:
		msg := "✓ certificate verified"
		if name := safe(h.ServerName); name != "" {
			msg += " for " + name
		}
		out = append(out, s.Verified.Render(truncate(msg, w))) // the name is the first line's
	case h.Error == "" && st.Route.DANEVerdict() != "":
		add(s.NotVerified, "✗ NOT VERIFIED: "+st.Route.DANEVerdict(), 3)
	case h.Error == "":
		add(s.NotVerified, "✗ NOT VERIFIED: --insecure, nothing checked", 2)
	default:
		add(s.NotVerified, "✗ NOT VERIFIED: "+safe(h.Error), 3)
	}
	return out
}

// stateMachine draws connected → greeted → TLS → auth → MAIL → RCPT (n) →
// DATA, wrapped to w: ● reached, ○ not yet, the current step emphasised.
// Once the connection has closed it shows how far it got: ✓ for each step
// it reached, none current.
func stateMachine(st paneState, s themes.Styles, w int) []string {
	type step struct {
		label string
		done  bool
	}
	r := reached{st.Step, st.TLS, st.Auth, st.Rcpts}
	closed := st.closed()
	if closed {
		r = st.Reached
	}
	rcpt := "RCPT"
	if r.Rcpts > 0 {
		rcpt = "RCPT (" + strconv.Itoa(r.Rcpts) + ")"
	}
	steps := []step{
		{"connected", r.Step >= session.StepConnected},
		{"greeted", r.Step >= session.StepGreeted},
		{"TLS", r.TLS},
		{"auth", r.Auth},
		{"MAIL", r.Step >= session.StepMail},
		{rcpt, r.Step >= session.StepRcpt},
		{"DATA", r.Step >= session.StepData},
	}
	current := -1
	for i, stp := range steps {
		if stp.done && !closed {
			current = i
		}
	}
	var lines []string
	var cur strings.Builder
	curW := 0
	for i, stp := range steps {
		mark, style := "○ ", s.StepTodo
		switch {
		case i == current:
			mark, style = "● ", s.StepCurrent
		case stp.done && closed:
			mark, style = "✓ ", s.StepDone
		case stp.done:
			mark, style = "● ", s.StepDone
		}
		item := mark + stp.label
		iw := displayWidth(item)
		sep := " › "
		if curW > 0 && curW+len(sep)-2+iw > w {
			lines = append(lines, cur.String())
			cur.Reset()
			curW = 0
		}
		if curW > 0 {
			cur.WriteString(s.Muted.Render(" › "))
			curW += 3
		}
		cur.WriteString(style.Render(item))
		curW += iw
	}
	if curW > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// waysOut says how to get past a certificate that failed verification:
// the two flags, and the fingerprint to check the certificate by before
// trusting it, or trusting it for this session (/trust). Nothing for
// other handshake failures, nor for a failed DANE check: the TLSA
// records are the domain's own word, and no way around them is offered.
func waysOut(h *session.TLSSummary, r *session.Route) []string {
	if h == nil || h.Complete || !strings.Contains(h.Error, "certificate") || r.DANE() || strings.Contains(h.Error, "DANE") {
		return nil
	}
	out := []string{"not verified, so ehlo closed the connection; the ways on:"}
	if len(h.Chain) > 0 {
		// First: the one that works without leaving the TUI.
		out = append(out, "t (in the wire log) or /cert trust: trust this one certificate, for this session only")
	}
	out = append(out,
		"--ca FILE: run again trusting the CA or the certificate in FILE",
		"  (for the sandbox: ehlo sandbox --write-ca FILE)",
		"--insecure: run again checking nothing (shown as NOT VERIFIED)",
	)
	if len(h.Chain) > 0 {
		out = append(out, "compare first: its sha256 is")
		// In halves: a row of the wire log at 80 columns holds 32 digits,
		// not 64, and a fingerprint cut short cannot be compared.
		fp := h.Chain[0].SHA256
		for len(fp) > 32 {
			out, fp = append(out, "  "+fp[:32]), fp[32:]
		}
		out = append(out, "  "+fp)
	}
	return out
}

// fingerprint breaks a hex fingerprint that does not fit in w cells into
// groups of 32 or 16 digits, one per line, easier to compare than an
// arbitrary cut.
func fingerprint(hex string, w int) string {
	if len(hex) <= w {
		return hex
	}
	group := 32
	if w < group {
		group = 16
	}
	var parts []string
	for len(hex) > group {
		parts, hex = append(parts, hex[:group]), hex[group:]
	}
	return strings.Join(append(parts, hex), " ")
}

// fit cuts lines to rows, the last row then saying how many more there
// are, so that a pane never ends mid-list without saying so.
func fit(lines []string, rows int, s themes.Styles) []string {
	if rows <= 0 || len(lines) <= rows {
		return lines
	}
	more := len(lines) - rows + 1
	return append(lines[:rows-1:rows-1], s.Muted.Render(fmt.Sprintf("+%d more", more)))
}

// extLines draws the Extensions pane's content.
func extLines(st paneState, s themes.Styles, w int) []string {
	var out []string
	if st.Stale {
		for _, l := range wrap("stale after STARTTLS: EHLO again", w, 2) {
			out = append(out, s.Stale.Render(l))
		}
	}
	if len(st.Exts) == 0 {
		return append(out, s.Muted.Render(truncate("none yet (EHLO lists them)", w)))
	}
	// Align the parameters; keywords without any do not widen the column.
	kw := 0
	for _, e := range st.Exts {
		if e.Params != "" {
			kw = max(kw, displayWidth(safe(e.Keyword)))
		}
	}
	kw = min(kw, max(8, w/2))
	for _, e := range st.Exts {
		p := readableParams(e)
		k := safe(e.Keyword)
		if p != "" {
			k = truncate(k, kw)
			k += strings.Repeat(" ", kw-displayWidth(k))
		} else {
			k = truncate(k, w)
		}
		ks, ps := s.Keyword, s.Params
		if st.Stale {
			ks, ps = s.Stale, s.Stale
		}
		line := ks.Render(k)
		if p != "" {
			line += ps.Render(truncate(" "+p, w-kw))
		}
		out = append(out, line)
	}
	return out
}

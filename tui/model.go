// Package tui is ehlo's terminal interface, a Bubble Tea program: the
// Connection, Extensions and Wire log panes, the composer with its /
// commands, history and fuzzy completion, reply explanations for
// workshops, the sandbox mailbox (a workshop sandbox's over XMAILBOX), and
// replay of recordings in the same panes (PRODUCT §5); and the instructor's
// view of a workshop sandbox (RunInstructor, through the Room interface).
//
// It sees a live session only through the Conversation interface and a
// Sink on the session's Capture, so the session's goroutine never waits for
// the UI (STYLE B2). Everything that came over the wire is drawn through
// session.Sanitize, and every wire-log line keeps its swaks marker, so no
// server text can move the cursor or pass for ehlo's own lines
// (security-anchors §3.4). The wire log draws only the rows on screen.
//
// The package imports session, themes, the Charm libraries and fuzzy; not
// protocol (STYLE B1).
package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ehlo-dev/ehlo/themes"
)

type focusArea int

const (
	focusComposer focusArea = iota
	focusLog
)

func (f focusArea) String() string { return [...]string{"composer", "log"}[f] }

type overlayKind int

const (
	overlayNone overlayKind = iota
	overlayHelp
	overlaySend
	overlayMailbox
	overlayCA
)

// Messages.
type (
	activityMsg      struct{} // the session has events or a new snapshot
	notifyClosedMsg  struct{} // Notify's channel was closed
	clockMsg         struct{} // the connection's elapsed time reached a new minute
	quitTimeoutMsg   struct{} // /quit waited long enough for the server
	stopListeningMsg struct{} // the TUI is closing
)

// Model is the root model. It owns routing, focus and layout; the panes
// are dumb (STYLE A10).
type Model struct {
	cfg  Config
	conv Conversation
	feed *feed
	rm   func()
	done chan struct{}

	log   *wireLog
	build *builder
	view  logView
	st    paneState
	rep   *replayer

	keys   KeyMap
	help   help.Model
	comp   composer
	search textinput.Model
	spin   spinner.Model

	searching bool
	spinning  bool
	sendForm  *sendView
	lastForm  sendForm
	mailbox   mailboxView
	helpTop   int // the first line of the help overlay shown

	theme   themes.Theme
	styles  themes.Styles
	isDark  bool
	noColor bool

	w, h    int
	lay     layout
	focus   focusArea
	overlay overlayKind

	flash      string
	flashErr   bool
	recording  bool
	recordPath string
	quitting   bool
	// abandonArmed: Esc was pressed once in DATA; a second Esc abandons
	// the message (and the connection), any other key disarms it.
	abandonArmed bool

	notifyClosed bool
	clockOn      bool // a clockMsg is on its way

	now  func() time.Time
	tick func(time.Duration, func(time.Time) tea.Msg) tea.Cmd // tea.Tick; tests record
}

// New builds the model for cfg. Use it with tea.NewProgram (Run does), or
// directly in tests.
func New(cfg Config) (*Model, error) {
	if (cfg.Conversation == nil) == (cfg.Replay == nil) {
		return nil, errors.New("tui: exactly one of Conversation and Replay must be set")
	}
	theme, err := themes.Resolve(cfg.Theme, cfg.NoColor)
	if err != nil {
		return nil, err
	}
	m := &Model{
		cfg:        cfg,
		conv:       cfg.Conversation,
		done:       make(chan struct{}),
		log:        &wireLog{},
		view:       newLogView(),
		keys:       DefaultKeyMap(),
		help:       help.New(),
		theme:      theme,
		isDark:     true,
		noColor:    cfg.NoColor,
		recording:  cfg.Recording,
		recordPath: cfg.RecordPath,
		lastForm:   sendForm{From: cfg.DefaultFrom},
		now:        time.Now,
		tick:       tea.Tick,
	}
	m.spin = spinner.New(spinner.WithSpinner(spinner.MiniDot))
	m.search = textinput.New()
	m.search.Prompt = "/"
	m.search.Placeholder = "search the wire log"
	m.search.SetVirtualCursor(false)
	m.styles = themes.NewStyles(theme, m.isDark)
	m.comp = newComposer(m.styles)
	m.applyStyles()
	if cfg.Replay != nil {
		m.rep = newReplayer(cfg.Replay, m.log)
		m.st = m.rep.state()
		m.focus = focusLog
	} else {
		m.feed = newFeed()
		m.rm = cfg.Conversation.Capture().Add(m.feed)
		m.st = paneState{}.next(cfg.Conversation.Snapshot())
		m.build = newBuilder(m.log, m.st.Transport == "lmtp")
	}
	m.sync()
	return m, nil
}

// Close removes the TUI's Sink and stops its listener. Run calls it.
func (m *Model) Close() {
	select {
	case <-m.done:
	default:
		close(m.done)
	}
	if m.rm != nil {
		m.rm()
		m.rm = nil
	}
}

// Init starts listening to the session, asks the terminal for its
// background (the default theme adapts; tmux may never answer, so the
// dark palette stands until it does), and connects if asked to.
func (m *Model) Init() tea.Cmd {
	var cmds []tea.Cmd
	if m.theme.Adaptive {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	if m.conv != nil {
		if m.cfg.Connect {
			m.conv.Connect()
			if m.cfg.StartTLS {
				m.conv.StartTLS()
				m.conv.Ehlo("")
			}
		}
		cmds = append(cmds, m.listen(), m.tickClock())
	}
	return tea.Batch(cmds...)
}

// listen waits for the session (glow's and realtime's "wait for activity"
// pattern): new events in the feed or a new snapshot. Update issues it
// again after each activityMsg.
func (m *Model) listen() tea.Cmd {
	if m.conv == nil {
		return nil
	}
	sig, notify, done := m.feed.signal, m.conv.Notify(), m.done
	if m.notifyClosed {
		notify = nil // a closed channel would always be ready
	}
	return func() tea.Msg {
		select {
		case <-sig:
			return activityMsg{}
		case _, ok := <-notify:
			if !ok {
				return notifyClosedMsg{}
			}
			return activityMsg{}
		case <-done:
			return stopListeningMsg{}
		}
	}
}

// tickClock sets a timer for the next change of the elapsed time the
// Connection pane shows, if it shows one and no timer is set. Nothing else
// on screen moves by itself (the spinner runs only while waiting), so an
// idle TUI does no work at all (issue 17): the time is shown in minutes,
// and one wake-up a minute is all it costs.
func (m *Model) tickClock() tea.Cmd {
	if m.conv == nil || m.clockOn || m.st.Started.IsZero() {
		return nil
	}
	m.clockOn = true
	wait := time.Minute - m.now().Sub(m.st.Started)%time.Minute
	return m.tick(wait, func(time.Time) tea.Msg { return clockMsg{} })
}

// pull takes what the session has: new events become wire-log lines, and
// the snapshot replaces the panes' state.
func (m *Model) pull() {
	for _, e := range m.feed.drain() {
		m.build.apply(e)
	}
	m.st = m.st.next(m.conv.Snapshot())
	m.build.lmtp = m.st.Transport == "lmtp"
}

// lines is how many wire-log lines exist now (in replay, up to the cursor).
func (m *Model) lines() int {
	if m.rep != nil {
		return m.rep.lines()
	}
	return m.log.Len()
}

// Update routes a message: sizes first, then the session, then global
// keys, then the overlay or the focused pane (STYLE B2).
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
	case tea.BackgroundColorMsg:
		if m.theme.Adaptive {
			m.isDark = msg.IsDark()
			m.styles = themes.NewStyles(m.theme, m.isDark)
			m.applyStyles()
		}
	case activityMsg:
		m.pull()
		cmds = append(cmds, m.listen())
		if m.quitting && !m.st.Connected {
			cmds = append(cmds, tea.Quit)
		}
	case notifyClosedMsg:
		m.notifyClosed = true
		m.pull()
		cmds = append(cmds, m.listen())
		if m.quitting {
			cmds = append(cmds, tea.Quit)
		}
	case clockMsg:
		m.clockOn = false
	case quitTimeoutMsg:
		cmds = append(cmds, tea.Quit)
	case findMsg:
		if msg.gen == m.view.finds {
			cmds = append(cmds, m.stepFind())
		}
	case spinner.TickMsg:
		if m.st.Busy {
			var c tea.Cmd
			m.spin, c = m.spin.Update(msg)
			cmds = append(cmds, c)
		} else {
			m.spinning = false
		}
	case replayTickMsg:
		if m.rep != nil && msg.gen == m.rep.gen && m.rep.playing {
			m.rep.advance()
			m.afterSeek()
			cmds = append(cmds, m.rep.tick())
		}
	case mailboxLoadedMsg:
		m.mailboxLoaded(msg)
	case tea.KeyPressMsg:
		cmds = append(cmds, m.key(msg))
	case tea.MouseWheelMsg:
		m.wheel(tea.Mouse(msg))
	case tea.MouseClickMsg:
		m.click(tea.Mouse(msg))
	case tea.PasteMsg:
		cmds = append(cmds, m.paste(msg))
	}
	cmds = append(cmds, m.sync(), m.tickClock())
	return m, tea.Batch(cmds...)
}

func (m *Model) resize(w, h int) {
	m.w, m.h = w, h
	m.lay = computeLayout(w, h)
	m.help.SetWidth(w)
	m.comp.setWidth(w - 4)
	m.search.SetWidth(max(1, w-6))
}

// sync brings derived state up to date after any message: the composer's
// prompt and masking, which keys apply, the spinner.
func (m *Model) sync() tea.Cmd {
	m.comp.setMode(m.st, m.styles)
	m.comp.setWidth(m.lay.Composer.W - 4)
	m.updateKeys()
	if m.st.Busy && !m.spinning {
		m.spinning = true
		return m.spin.Tick
	}
	return nil
}

// updateKeys enables the bindings that apply now; help shows only those.
func (m *Model) updateKeys() {
	k := &m.keys
	live, replay := m.rep == nil, m.rep != nil
	none := m.overlay == overlayNone && !m.searching
	inComposer := live && m.focus == focusComposer && none
	inLog := (m.focus == focusLog || replay) && none
	k.Focus.SetEnabled(live && none)
	// Esc gives up on a reply being waited for, answers "*" to an AUTH
	// challenge, or in DATA abandons the message (session.Live.Cancel);
	// the last closes the connection, so it asks for a second Esc.
	k.Cancel.SetEnabled(live && none && (m.st.Busy || m.st.Mode != modeCommand) && m.comp.prompt == nil)
	k.Timestamps.SetEnabled(none)
	k.PageUp.SetEnabled(none)
	k.PageDown.SetEnabled(none)
	k.Help.SetEnabled(true)

	k.Submit.SetEnabled(inComposer)
	k.Complete.SetEnabled(inComposer && len(m.comp.sugg) > 0)
	k.NextSuggestion.SetEnabled(inComposer && len(m.comp.sugg) > 1)
	k.PrevSuggestion.SetEnabled(inComposer && len(m.comp.sugg) > 1)
	k.HistoryPrev.SetEnabled(inComposer && !m.comp.secret)
	k.HistoryNext.SetEnabled(inComposer && !m.comp.secret)
	k.HistorySearch.SetEnabled(inComposer && !m.comp.secret)

	for _, b := range []*key.Binding{&k.Up, &k.Down, &k.Top, &k.Bottom, &k.Search, &k.Follow, &k.Explain, &k.Beside, &k.Copy} {
		b.SetEnabled(inLog)
	}
	k.NextMatch.SetEnabled(inLog && m.view.query != "")
	k.PrevMatch.SetEnabled(inLog && m.view.query != "")
	k.Back.SetEnabled(inLog && live)

	for _, b := range []*key.Binding{&k.PlayPause, &k.StepForward, &k.StepBack, &k.Faster, &k.Slower, &k.Start, &k.End} {
		b.SetEnabled(replay && none)
	}
	k.Close.SetEnabled(m.overlay != overlayNone || m.searching)
	k.NextField.SetEnabled(m.overlay == overlaySend)
	k.PrevField.SetEnabled(m.overlay == overlaySend)
	k.SendForm.SetEnabled(m.overlay == overlaySend)
}

// ShortHelp implements help.KeyMap: the bindings that apply now.
func (m *Model) ShortHelp() []key.Binding {
	k := m.keys
	switch {
	case m.overlay == overlaySend:
		return []key.Binding{k.NextField, k.SendForm, k.Close}
	case m.overlay == overlayMailbox:
		return []key.Binding{k.Up, k.Down, k.PageDown, k.Close}
	case m.overlay == overlayCA:
		return []key.Binding{k.Close}
	case m.overlay == overlayHelp:
		if w, h := m.helpSize(); len(m.helpLines(w-4)) > h-2 {
			// The log's scroll keys scroll the help here; they are
			// disabled for the log while an overlay is up.
			up, down, pgdn := k.Up, k.Down, k.PageDown
			up.SetEnabled(true)
			down.SetEnabled(true)
			pgdn.SetEnabled(true)
			return []key.Binding{up, down, pgdn, k.Close, k.Quit}
		}
		return []key.Binding{k.Close, k.Quit}
	case m.searching:
		return []key.Binding{k.Submit, k.Close}
	case m.rep != nil:
		return []key.Binding{k.PlayPause, k.StepForward, k.StepBack, k.Faster, k.Slower, k.Start, k.End, k.Search, k.Explain, k.Help, k.Quit}
	case m.focus == focusLog:
		return []key.Binding{k.Up, k.Down, k.Search, k.NextMatch, k.Explain, k.Beside, k.Copy, k.Follow, k.Back, k.Cancel, k.Help, k.Quit}
	}
	return []key.Binding{k.Submit, k.Complete, k.HistoryPrev, k.HistorySearch, k.Focus, k.PageUp, k.Cancel, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.keys
	all := func(bs ...key.Binding) []key.Binding {
		out := make([]key.Binding, len(bs))
		for i, b := range bs {
			b.SetEnabled(true)
			out[i] = b
		}
		return out
	}
	groups := [][]key.Binding{
		all(k.Quit, k.Help, k.Focus, k.PageUp, k.PageDown, k.Cancel, k.Timestamps),
	}
	if m.rep == nil {
		groups = append(groups, all(k.Submit, k.Complete, k.NextSuggestion, k.PrevSuggestion, k.HistoryPrev, k.HistoryNext, k.HistorySearch))
	}
	groups = append(groups, all(k.Up, k.Down, k.Top, k.Bottom, k.Search, k.NextMatch)) // n/N: PrevMatch too
	if m.rep == nil {
		groups = append(groups, all(k.Follow, k.Explain, k.Beside, k.Copy, k.Back))
	} else { // no composer to go back to; the player's keys instead
		groups = append(groups, all(k.Follow, k.Explain, k.Beside, k.Copy),
			all(k.PlayPause, k.StepForward, k.StepBack, k.Faster, k.Slower, k.Start, k.End))
	}
	return groups
}

// applyStyles hands the theme's styles to the bubbles.
func (m *Model) applyStyles() {
	s := m.styles
	m.help.Styles = help.Styles{
		Ellipsis: s.HelpSep, ShortKey: s.HelpKey, ShortDesc: s.HelpDesc, ShortSeparator: s.HelpSep,
		FullKey: s.HelpKey, FullDesc: s.HelpDesc, FullSeparator: s.HelpSep,
	}
	m.comp.setStyles(s)
	m.spin.Style = s.Busy
	ss := textinput.Styles{
		Focused: textinput.StyleState{Text: s.Input, Placeholder: s.Placeholder, Prompt: s.Prompt},
		Blurred: textinput.StyleState{Text: s.Input, Placeholder: s.Placeholder, Prompt: s.Muted},
	}
	ss.Cursor.Blink = false
	m.search.SetStyles(ss)
	if m.sendForm != nil {
		m.sendForm.setStyles(s)
	}
}

func (m *Model) setFlash(msg string, isErr bool) {
	m.flash, m.flashErr = msg, isErr
}

// logRows is how many rows of lines the wire-log pane shows.
func (m *Model) logRows() int {
	h := m.lay.Log.H - 2 - len(m.dataBox())
	if m.view.details && m.view.sel >= 0 {
		h -= min(6, h/2)
	}
	return max(1, h)
}

func (m *Model) renderer() logRender {
	return logRender{log: m.log, n: m.lines(), styles: m.styles, lmtp: m.st.Transport == "lmtp"}
}

// afterSeek keeps the selection within the lines that exist.
func (m *Model) afterSeek() {
	m.st = m.rep.state()
	if m.view.sel >= m.lines() {
		m.view.sel = m.lines() - 1
	}
}

// key handles a key press.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if key.Matches(msg, k.Quit) {
		return tea.Quit
	}
	m.flash = ""
	armed := m.abandonArmed
	m.abandonArmed = false
	if m.lay.TooSmall {
		return nil
	}
	switch m.overlay {
	case overlayHelp:
		_, h := m.helpSize()
		page := max(1, h-3)
		switch msg.String() {
		case "up", "k":
			m.scrollHelp(-1)
		case "down", "j":
			m.scrollHelp(1)
		case "pgup":
			m.scrollHelp(-page)
		case "pgdown", "space":
			m.scrollHelp(page)
		case "home", "g":
			m.scrollHelp(-m.helpTop)
		case "end", "G":
			m.scrollHelp(1 << 30)
		default:
			if key.Matches(msg, k.Close, k.Help) || msg.String() == "q" || msg.String() == "?" {
				m.overlay = overlayNone
			}
		}
		return nil
	case overlaySend:
		cmd, done, send := m.sendForm.update(msg, k)
		if send {
			f, ok := m.sendForm.form()
			if !ok {
				return cmd
			}
			m.lastForm = f
			m.conv.Send(f)
		}
		if done {
			if !send {
				m.lastForm, _ = m.sendForm.form()
			}
			m.overlay, m.sendForm = overlayNone, nil
		}
		return cmd
	case overlayCA:
		switch {
		case key.Matches(msg, k.Close) || msg.String() == "q":
			m.overlay = overlayNone
		case msg.String() == "y":
			m.setFlash("copied the certificate to the clipboard: save it as a file for --ca", false)
			return tea.SetClipboard(string(m.cfg.SandboxCA))
		}
		return nil
	case overlayMailbox:
		switch {
		case key.Matches(msg, k.Close) || msg.String() == "q":
			m.overlay = overlayNone
		case msg.String() == "up" || msg.String() == "k":
			m.mailbox.move(-1)
		case msg.String() == "down" || msg.String() == "j":
			m.mailbox.move(1)
		case msg.String() == "pgdown" || msg.String() == "space":
			m.mailbox.scroll += m.lay.Log.H - 3
		case msg.String() == "pgup":
			m.mailbox.scroll -= m.lay.Log.H - 3
		}
		return nil
	}
	if m.searching {
		return m.searchKey(msg)
	}
	switch {
	case key.Matches(msg, k.Help):
		m.openHelp()
		return nil
	case key.Matches(msg, k.Cancel):
		m.cancel(armed)
		return nil
	case key.Matches(msg, k.Focus):
		if m.focus == focusComposer {
			m.setFocus(focusLog)
		} else {
			m.setFocus(focusComposer)
		}
		return nil
	case key.Matches(msg, k.PageUp):
		m.view.scroll(-(m.logRows() - 1), m.lines(), m.logRows())
		return nil
	case key.Matches(msg, k.PageDown):
		m.view.scroll(m.logRows()-1, m.lines(), m.logRows())
		return nil
	case key.Matches(msg, k.Timestamps):
		// Cycle: off, each reply's round trip, the time since the start.
		switch {
		case m.view.rtt:
			m.view.rtt, m.view.stamps = false, true
			m.setFlash("time since the session started (ctrl+t: off)", false)
		case m.view.stamps:
			m.view.stamps = false
		default:
			m.view.rtt = true
			m.setFlash("round trip of each reply (ctrl+t: time since the start)", false)
		}
		return nil
	}
	if m.rep != nil {
		if cmd, ok := m.replayKey(msg); ok {
			return cmd
		}
	}
	if m.focus == focusLog || m.rep != nil {
		return m.logKey(msg)
	}
	return m.composerKey(msg)
}

// cancel is Esc while something can be given up. In DATA, SMTP has no
// way to take the message back: the only way out without sending it is to
// close the connection before the final dot, so the first Esc says so
// and the second does it.
func (m *Model) cancel(armed bool) {
	if m.st.Mode != modeData || m.st.Busy {
		m.conv.Cancel()
		return
	}
	if !armed {
		m.abandonArmed = true
		m.setFlash("SMTP has no way to cancel DATA", true)
		return
	}
	m.conv.Cancel()
	m.comp.input.Reset()
	m.setFlash("message abandoned; /connect starts again", false)
}

// followEnd puts the wire log back at its end, following, with no line
// selected. Reading (a search, a selection, an explanation, a scroll) stops
// following; going back to the composer, or sending anything, means the
// next reply is what matters, so it must not arrive below the pane.
func (m *Model) followEnd() {
	m.view.follow, m.view.sel = true, -1
}

func (m *Model) setFocus(f focusArea) {
	m.focus = f
	if f == focusComposer {
		m.comp.input.Focus()
		m.view.details = false
		m.followEnd()
	} else {
		m.comp.input.Blur()
		if m.view.sel < 0 && m.lines() > 0 {
			m.view.selectLine(m.lines()-1, m.lines(), m.logRows())
		}
	}
}

func (m *Model) replayKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k, r := m.keys, m.rep
	switch {
	case key.Matches(msg, k.PlayPause):
		return r.togglePlay(), true
	case key.Matches(msg, k.StepForward):
		r.gen++
		r.playing = false
		r.step()
	case key.Matches(msg, k.StepBack):
		r.gen++
		r.playing = false
		r.seek(r.pos - 1)
	case key.Matches(msg, k.Faster):
		r.speed = min(r.speed+1, len(replaySpeeds)-1)
	case key.Matches(msg, k.Slower):
		r.speed = max(r.speed-1, 0)
	case key.Matches(msg, k.Start):
		r.gen++
		r.playing = false
		r.seek(0)
	case key.Matches(msg, k.End):
		r.gen++
		r.playing = false
		r.seek(r.total())
	case msg.String() == "q":
		return tea.Quit, true
	default:
		return nil, false
	}
	m.afterSeek()
	return nil, true
}

func (m *Model) logKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	n, rows := m.lines(), m.logRows()
	cur := m.view.sel
	if cur < 0 {
		cur = min(m.view.window(n, rows)+rows, n) - 1
	}
	switch {
	case key.Matches(msg, k.Up):
		m.view.selectLine(cur-1, n, rows)
	case key.Matches(msg, k.Down):
		m.view.selectLine(cur+1, n, rows)
	case key.Matches(msg, k.Top):
		m.view.selectLine(0, n, rows)
	case key.Matches(msg, k.Bottom):
		m.view.selectLine(n-1, n, rows)
		m.view.follow = true
	case key.Matches(msg, k.Search):
		m.searching = true
		m.search.SetValue("")
		return m.search.Focus()
	case key.Matches(msg, k.NextMatch):
		return m.findNext(cur, 1)
	case key.Matches(msg, k.PrevMatch):
		return m.findNext(cur, -1)
	case key.Matches(msg, k.Follow):
		m.view.follow = !m.view.follow
		if m.view.follow {
			m.view.sel = -1
		} else {
			m.view.top = m.view.window(n, rows)
		}
	case key.Matches(msg, k.Explain):
		m.view.details = !m.view.details
		if m.view.details && n > 0 {
			// The explanation takes rows: keep the line in view.
			m.view.selectLine(cur, n, m.logRows())
		}
	case key.Matches(msg, k.Beside):
		m.view.beside = !m.view.beside
	case key.Matches(msg, k.Copy):
		if m.view.sel >= 0 && m.view.sel < n {
			m.setFlash(fmt.Sprintf("copied line %d to the clipboard", m.view.sel+1), false)
			return tea.SetClipboard(m.log.plain(m.view.sel))
		}
		m.setFlash("select a line to copy (↑/↓)", true)
	case key.Matches(msg, k.Back), msg.String() == "esc" && m.rep == nil:
		m.setFocus(focusComposer)
	case msg.String() == "?":
		m.openHelp()
	}
	return nil
}

// searchBudget is how much of the wire log one step of a search reads
// (bytes, see wireLog.search): a few milliseconds. The index makes most
// searches one step; one it cannot narrow goes on in later steps, with
// frames and keys between them, instead of holding up the screen.
const searchBudget = 16 << 20

// findMsg carries a search on to its next step.
type findMsg struct{ gen int }

func (m *Model) findNext(from, dir int) tea.Cmd {
	m.view.startFind(m.searchLines(), from, dir)
	return m.stepFind()
}

// searchLines is how many lines a search covers: in a replay the whole
// recording, not only what has been played.
func (m *Model) searchLines() int {
	if m.rep != nil {
		return m.log.Len()
	}
	return m.lines()
}

func (m *Model) stepFind() tea.Cmd {
	i, done := m.view.stepFind(m.log, m.searchLines(), searchBudget)
	switch {
	case !done:
		m.view.notice = "searching…"
		gen := m.view.finds
		return func() tea.Msg { return findMsg{gen} }
	case i < 0:
		m.view.notice = "no match"
	default:
		m.view.notice = ""
		if m.rep != nil && i >= m.lines() {
			// A match further on: move the cursor to the event that
			// shows it.
			m.rep.reveal(i)
			m.afterSeek()
		}
		m.view.selectLine(i, m.lines(), m.logRows())
	}
	return nil
}

func (m *Model) searchKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "esc":
		m.searching = false
		m.search.Blur()
		return nil
	case "enter":
		m.searching = false
		m.search.Blur()
		m.view.query = strings.ToLower(m.search.Value())
		from := m.view.sel
		if from < 0 {
			from = m.view.window(m.lines(), m.logRows()) - 1
		}
		if m.view.query != "" {
			return m.findNext(from, 1)
		}
		return nil
	}
	var cmd tea.Cmd
	m.search, cmd = m.search.Update(msg)
	return cmd
}

func (m *Model) composerKey(msg tea.KeyPressMsg) tea.Cmd {
	k, c := m.keys, &m.comp
	if c.searching && c.searchKey(msg) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Submit):
		return m.submit()
	case key.Matches(msg, k.Complete):
		c.accept()
		c.refreshSuggestions(m.st)
		return nil
	case key.Matches(msg, k.NextSuggestion):
		c.suggSel = (c.suggSel + 1) % len(c.sugg)
		return nil
	case key.Matches(msg, k.PrevSuggestion):
		c.suggSel = (c.suggSel - 1 + len(c.sugg)) % len(c.sugg)
		return nil
	case key.Matches(msg, k.HistoryPrev):
		c.historyMove(-1)
		return nil
	case key.Matches(msg, k.HistoryNext):
		c.historyMove(1)
		return nil
	case key.Matches(msg, k.HistorySearch):
		c.startSearch()
		return nil
	case msg.String() == "esc":
		switch {
		case len(c.sugg) > 0:
			c.sugg, c.dismissed = nil, true
		case c.prompt != nil:
			c.prompt = nil
			c.input.Reset()
		}
		return nil
	case msg.String() == "tab":
		return nil // nothing to complete: do not insert a TAB
	}
	before := c.input.Value()
	var cmd tea.Cmd
	c.input, cmd = c.input.Update(msg)
	if c.input.Value() != before {
		c.dismissed = false
		c.histPos = len(c.history)
	}
	c.refreshSuggestions(m.st)
	return cmd
}

// paste handles a bracketed paste. A paste with line breaks is a script:
// the lines it completes go to the session in one Input, which sends them
// one by one in the mode each leaves (a pasted DATA body, a pasted
// STARTTLS), and the unfinished last line stays in the composer.
func (m *Model) paste(msg tea.PasteMsg) tea.Cmd {
	if m.overlay == overlaySend {
		var cmd tea.Cmd
		if m.sendForm.focus == 3 {
			m.sendForm.body, cmd = m.sendForm.body.Update(msg)
		} else {
			f := &m.sendForm.fields[m.sendForm.focus]
			*f, cmd = f.Update(msg)
		}
		return cmd
	}
	if m.rep != nil || m.focus != focusComposer || m.overlay != overlayNone {
		return nil
	}
	c := &m.comp
	text := strings.ReplaceAll(strings.ReplaceAll(msg.Content, "\r\n", "\n"), "\r", "\n")
	i := strings.LastIndexByte(text, '\n')
	if i < 0 || c.prompt != nil || strings.HasPrefix(c.input.Value(), "/") {
		// One line, or a line for a prompt or a / command: keep only the
		// first line, since a line break would end it.
		first, _, _ := strings.Cut(text, "\n")
		var cmd tea.Cmd
		c.input, cmd = c.input.Update(tea.PasteMsg{Content: first})
		c.refreshSuggestions(m.st)
		return cmd
	}
	block := c.input.Value() + text[:i]
	c.input.SetValue(text[i+1:])
	c.input.CursorEnd()
	if m.st.Mode == modeCommand && !m.st.Secret {
		for _, l := range strings.Split(historyEntry(block), "\n") {
			c.remember(l)
		}
	}
	m.conv.Input(block)
	return nil
}

// submit handles Enter in the composer.
func (m *Model) submit() tea.Cmd {
	c := &m.comp
	line := c.input.Value()
	c.input.Reset()
	c.sugg, c.dismissed, c.histPos = nil, false, len(c.history)
	m.followEnd()
	if p := c.prompt; p != nil {
		c.prompt = nil
		if p.login {
			m.conv.Login(p.user, line)
		} else {
			m.conv.Auth(p.mech, p.user, line)
		}
		return nil
	}
	if strings.HasPrefix(strings.TrimLeft(line, " \t"), "/") {
		if !m.st.Secret && m.st.Mode == modeCommand {
			c.remember(historyEntry(line))
		}
		return m.command(line)
	}
	switch {
	case m.st.Mode == modeAuth || m.st.Secret:
		m.conv.Input(line) // a challenge answer: never in history
	case m.st.Mode == modeData:
		m.conv.Input(line)
	case strings.TrimSpace(line) == "":
	default:
		c.remember(historyEntry(line))
		m.conv.Input(line)
	}
	return nil
}

// command runs a / command.
func (m *Model) command(line string) tea.Cmd {
	name, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	rest = strings.TrimSpace(rest)
	name = strings.ToLower(name)
	arg1, arg2, _ := strings.Cut(rest, " ")
	arg2 = strings.TrimLeft(arg2, " ")
	switch name {
	case "/connect":
		m.conv.Connect()
	case "/ehlo":
		m.conv.Ehlo(rest)
	case "/helo":
		m.conv.Helo(rest)
	case "/starttls":
		m.conv.StartTLS()
	case "/login":
		switch {
		case arg1 == "":
			m.setFlash("usage: /login USER [PASSWORD]", true)
		case arg2 == "":
			m.comp.prompt = &secretPrompt{login: true, user: arg1}
			m.setFlash("password for "+safe(arg1)+" (hidden; Esc cancels)", false)
		default:
			m.conv.Login(arg1, arg2)
		}
	case "/auth":
		user, secret, _ := strings.Cut(arg2, " ")
		switch {
		case arg1 == "":
			m.setFlash("usage: /auth MECH [USER [SECRET]]", true)
		case user != "" && secret == "":
			m.comp.prompt = &secretPrompt{mech: strings.ToUpper(arg1), user: user}
			m.setFlash("secret for "+safe(user)+" (hidden; Esc cancels)", false)
		default:
			m.conv.Auth(strings.ToUpper(arg1), user, strings.TrimLeft(secret, " "))
		}
	case "/send":
		m.sendForm = newSendView(m.styles, m.lastForm)
		m.overlay = overlaySend
	case "/verify":
		if rest == "" {
			m.setFlash("usage: /verify ADDRESS", true)
			return nil
		}
		m.conv.Verify(rest)
	case "/noop":
		m.conv.Noop()
	case "/rset":
		m.conv.Rset()
	case "/quit":
		m.quitting = true
		if !m.st.Connected {
			return tea.Quit
		}
		m.conv.Quit()
		return tea.Tick(3*time.Second, func(time.Time) tea.Msg { return quitTimeoutMsg{} })
	case "/record":
		m.record()
	case "/theme":
		m.setTheme(rest)
	case "/explain":
		m.view.beside = !m.view.beside
		if m.view.beside {
			m.setFlash("explaining every reply beside it (/explain again to stop)", false)
		}
	case "/mailbox":
		return m.openMailbox()
	case "/ca":
		if m.cfg.SandboxCA == nil {
			m.setFlash("/ca is the sandbox's certificate; another server's is in the Connection pane after STARTTLS", true)
			return nil
		}
		m.overlay = overlayCA
	case "/help":
		m.openHelp()
	default:
		m.setFlash("unknown command "+safe(name)+": /help lists them", true)
	}
	return nil
}

func (m *Model) record() {
	if m.cfg.ToggleRecord != nil {
		on, path, err := m.cfg.ToggleRecord()
		if err != nil {
			m.setFlash("recording: "+safe(err.Error()), true)
			return
		}
		m.recording, m.recordPath = on, path
	}
	switch {
	case m.recording:
		m.setFlash("recording to "+safe(m.recordPath)+" (/record again stops)", false)
	case m.cfg.ToggleRecord != nil:
		m.setFlash("recording stopped; /record starts a new file", false)
	default:
		m.setFlash("not recording (start ehlo with --record FILE)", false)
	}
}

func (m *Model) setTheme(name string) {
	if name == "" {
		m.setFlash("themes: "+strings.Join(themes.Names(), ", ")+" (now "+m.theme.Name+")", false)
		return
	}
	if m.noColor {
		m.setFlash("NO_COLOR is set: colours stay off", true)
		return
	}
	t, err := themes.Get(name)
	if err != nil {
		m.setFlash(safe(err.Error()), true)
		return
	}
	m.theme = t
	m.styles = themes.NewStyles(t, m.isDark)
	m.applyStyles()
	m.setFlash("theme "+t.Name, false)
	if m.cfg.SaveTheme != nil {
		if where, err := m.cfg.SaveTheme(t.Name); err != nil {
			m.setFlash("theme "+t.Name+", for this run only: "+safe(err.Error()), true)
		} else {
			m.setFlash("theme "+t.Name+", kept in "+safe(where), false)
		}
	}
}

func (m *Model) wheel(ms tea.Mouse) {
	if m.overlay == overlayMailbox {
		switch ms.Button {
		case tea.MouseWheelUp:
			m.mailbox.scroll -= 3
		case tea.MouseWheelDown:
			m.mailbox.scroll += 3
		}
		return
	}
	if m.overlay != overlayNone || m.lay.TooSmall {
		return
	}
	switch ms.Button {
	case tea.MouseWheelUp:
		m.view.scroll(-3, m.lines(), m.logRows())
	case tea.MouseWheelDown:
		m.view.scroll(3, m.lines(), m.logRows())
	}
}

func (m *Model) click(ms tea.Mouse) {
	if m.overlay != overlayNone || m.lay.TooSmall || ms.Button != tea.MouseLeft {
		return
	}
	r := m.lay.Log
	if !r.contains(ms.X, ms.Y) {
		if m.lay.Composer.contains(ms.X, ms.Y) && m.rep == nil {
			m.setFocus(focusComposer)
		}
		return
	}
	row := ms.Y - r.Y - 1
	rows := m.logRows()
	if row < 0 || row >= rows {
		return
	}
	i := m.view.window(m.lines(), rows) + row
	if i < m.lines() {
		if m.rep == nil {
			m.setFocus(focusLog)
		}
		m.view.selectLine(i, m.lines(), rows)
	}
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	v := tea.View{AltScreen: true, MouseMode: tea.MouseModeCellMotion}
	v.WindowTitle = "ehlo"
	if srv := safe(m.st.Server); srv != "" {
		v.WindowTitle = "ehlo · " + srv
	}
	if m.w == 0 || m.h == 0 {
		return v
	}
	if m.lay.TooSmall {
		v.SetContent(m.sizeWarning())
		return v
	}
	lines := m.screen()
	ov := m.overlayBox()
	if ov != nil {
		overlay(lines, ov.lines, ov.x, ov.y, m.w)
	}
	content := strings.Join(lines, "\n")
	if ov == nil && m.rep == nil && m.focus == focusComposer && !m.searching {
		if c := m.comp.input.Cursor(); c != nil {
			c.X += m.lay.Composer.X + 2
			c.Y += m.lay.Composer.Y + 1
			v.Cursor = c
		}
	}
	if m.searching {
		if c := m.search.Cursor(); c != nil {
			c.X += m.lay.Composer.X + 2
			c.Y += m.lay.Composer.Y + 1
			v.Cursor = c
		}
	}
	v.SetContent(content)
	return v
}

func (m *Model) sizeWarning() string {
	msg := fmt.Sprintf("ehlo needs at least %d×%d (now %d×%d)", minWidth, minHeight, m.w, m.h)
	return strings.Join(wrap(msg, m.w, m.h), "\n")
}

// screen draws every row of the screen, each exactly m.w cells wide.
func (m *Model) screen() []string {
	l, s := m.lay, m.styles
	out := make([]string, 0, m.h)
	out = append(out, m.statusBar())

	conn := box(s, "Connection", "", fit(connLines(m.st, s, l.Conn.W-4, m.now(), m.rep != nil), l.Conn.H-2, s), l.Conn.W, l.Conn.H, false)
	extTitle := "Extensions"
	extBadge := ""
	if m.st.Stale {
		extBadge = s.Stale.Render("stale")
	}
	ext := box(s, extTitle, extBadge, fit(extLines(m.st, s, l.Ext.W-4), l.Ext.H-2, s), l.Ext.W, l.Ext.H, false)
	side := append(conn, ext...)

	data := m.dataBox()
	logH := l.Log.H - len(data)
	logBox := box(s, m.logTitle(), m.logBadge(), m.view.rows(m.renderer(), l.Log.W-4, logH-2), l.Log.W, logH, m.focus == focusLog || m.rep != nil)
	logBox = append(logBox, data...)
	out = append(out, joinColumns(side, logBox)...)
	out = append(out, m.bottomBox()...)
	out = append(out, padRight(truncate(m.help.View(m), l.Help.W), l.Help.W))
	return out
}

func (m *Model) logTitle() string {
	t := "Wire log"
	if m.lines() > 0 {
		t += fmt.Sprintf(" · %d lines", m.lines())
	}
	return t
}

// logBadge says, at the wire log's top right, whether the channel is in
// clear text (security-anchors H4: a server line that claims TLS is still
// under this badge), following, and how a search went.
func (m *Model) logBadge() string {
	s := m.styles
	var parts []string
	if m.view.notice != "" {
		parts = append(parts, s.Warning.Render(m.view.notice))
	} else if m.view.query != "" {
		parts = append(parts, s.Muted.Render("/"+safe(m.view.query)))
	}
	if !m.view.follow {
		parts = append(parts, s.Muted.Render("scrolled"))
	}
	if m.view.beside {
		parts = append(parts, s.Muted.Render("explain"))
	}
	if m.st.Connected && !m.st.TLS {
		parts = append(parts, s.Cleartext.Render("cleartext"))
	}
	return strings.Join(parts, s.Muted.Render(" · "))
}

// bottomBox is the composer, or the search prompt, or the replay bar.
func (m *Model) bottomBox() []string {
	l, s := m.lay, m.styles
	inner := l.Composer.W - 4
	switch {
	case m.searching:
		return box(s, "Search the wire log", "enter find · esc cancel", []string{m.search.View()}, l.Composer.W, l.Composer.H, true)
	case m.rep != nil:
		name := m.cfg.ReplayName
		if name == "" {
			name = "recording"
		}
		return box(s, "Replay · "+safe(name), m.replayProblems(), []string{m.rep.controls(s, inner)}, l.Composer.W, l.Composer.H, true)
	}
	title := "Composer"
	badge := ""
	switch {
	case m.comp.prompt != nil:
		title = "Secret (not echoed, not kept)"
	case m.st.Mode == modeAuth:
		title = "AUTH challenge: " + tabless(m.st.Challenge) // sanitized by the session
		badge = s.Muted.Render("esc or * cancels")
	case m.st.Mode == modeData && m.abandonArmed:
		title = "esc again abandons the message and closes the connection"
		badge = s.Warning.Render("any other key keeps it")
	case m.st.Mode == modeData:
		title = fmt.Sprintf("DATA · %d %s · end with a line holding only .", m.st.DataLines, plural(m.st.DataLines, "line"))
		badge = s.PromptData.Render("esc abandons")
	case m.comp.searching:
		title = "History search"
	}
	if q := queuedTitle(m.st); q != "" {
		title, badge = q, ""
	}
	return box(s, title, badge, []string{m.comp.input.View()}, l.Composer.W, l.Composer.H, m.focus == focusComposer)
}

// replayProblems is the replay bar's warning that the recording is
// damaged (lines that are not events, a cut last line), as --print says,
// with the first problem; empty for a sound recording.
func (m *Model) replayProblems() string {
	ps := m.rep.rec.Problems
	if len(ps) == 0 {
		return ""
	}
	return m.styles.Warning.Render(fmt.Sprintf("⚠ damaged: %d %s, first %s", len(ps), plural(len(ps), "problem"), safe(ps[0].String())))
}

// statusBar draws the top row: where, how safe, recording, busy, and the
// last message.
func (m *Model) statusBar() string {
	s, w := m.styles, m.w
	sep := s.Muted.Render(" │ ")
	left := []string{s.Brand.Render("ehlo")}
	if m.rep != nil {
		left[0] = s.Brand.Render("ehlo replay")
	}
	if srv := safe(m.st.Server); srv != "" {
		left = append(left, s.StatusBar.Render(srv))
	}
	switch {
	case m.st.Connected && m.st.TLS && m.st.TLSInfo != nil && m.st.TLSInfo.Complete && !m.st.TLSInfo.Verified:
		left = append(left, s.NotVerified.Render("TLS NOT VERIFIED"))
	case m.st.Connected && m.st.TLS:
		left = append(left, s.Verified.Render("TLS ✓"))
	case m.st.Connected:
		left = append(left, s.Cleartext.Render("not encrypted"))
	case m.st.closed():
		left = append(left, s.Muted.Render("closed"))
	default:
		left = append(left, s.Muted.Render("disconnected"))
	}
	var right []string
	if m.st.Busy {
		what := safe(m.st.Pending)
		if what == "" {
			what = "waiting"
		}
		el := m.now().Sub(m.st.BusySince)
		right = append(right, s.Busy.Render(m.spin.View()+" "+what+" "+fmt.Sprintf("%.1fs", el.Seconds())+" (esc cancels)"))
	}
	if m.recording {
		right = append(right, s.Recording.Render("● REC"))
	}
	switch {
	case m.flash != "" && m.flashErr:
		right = append(right, s.Error.Render(m.flash))
	case m.flash != "":
		right = append(right, s.Note.Render(m.flash))
	case m.st.LastError != "":
		right = append(right, s.Error.Render("✗ "+tabless(m.st.LastError))) // sanitized by the session
	}
	l := strings.Join(left, sep)
	r := strings.Join(right, sep)
	lw, rw := displayWidth(l), displayWidth(r)
	if lw+rw+1 > w {
		// The right side (what just happened) wins; the left is cut.
		r = truncate(r, max(w*2/3, w-lw-1))
		rw = displayWidth(r)
		l = truncate(l, max(0, w-rw-1))
		lw = displayWidth(l)
	}
	return l + strings.Repeat(" ", max(0, w-lw-rw)) + r
}

type overlaySpec struct {
	lines []string
	x, y  int
}

// overlayBox is what floats above the panes: help, the send form, the
// mailbox, or the completion list.
func (m *Model) overlayBox() *overlaySpec {
	l, s := m.lay, m.styles
	switch m.overlay {
	case overlayHelp:
		w, h := m.helpSize()
		return &overlaySpec{m.helpView(w, h), (l.W - w) / 2, (l.H - h) / 2}
	case overlaySend:
		w, h := min(l.W-4, 76), min(l.H-2, 18)
		return &overlaySpec{m.sendForm.view(s, w, h), (l.W - w) / 2, (l.H - h) / 2}
	case overlayMailbox:
		h := l.H - 2
		return &overlaySpec{m.mailbox.view(s, l.W, h), 0, 1}
	case overlayCA:
		w, h := min(l.W-4, 80), l.H-2
		return &overlaySpec{caView(s, m.cfg.SandboxCA, w, h), (l.W - w) / 2, 1}
	}
	if m.rep == nil && m.focus == focusComposer && !m.searching {
		if p := m.comp.popup(s, l.W-4, l.Composer.Y-l.Log.Y); p != nil {
			return &overlaySpec{p, 2 + displayWidth(m.comp.input.Prompt), l.Composer.Y - len(p)}
		}
	}
	return nil
}

// dataBox shows the message typed after DATA, which the server sees only
// at the final dot: the last lines, up to a third of the wire log's
// height, in a box under the log (which gives up those rows). Nil outside
// DATA.
func (m *Model) dataBox() []string {
	if m.rep != nil || m.st.Mode != modeData || m.lay.TooSmall {
		return nil
	}
	l, s := m.lay, m.styles
	rows := max(1, (l.Log.H-2)/3)
	var lines []string
	tail := m.st.DataTail
	switch {
	case m.st.DataLines == 0:
		lines = []string{s.Muted.Render("(empty) headers, a blank line, then the body")}
	case m.st.DataLines > len(tail) || len(tail) > rows:
		rows--
		skipped := m.st.DataLines - min(len(tail), rows)
		lines = append(lines, s.Muted.Render(fmt.Sprintf("… %d earlier %s", skipped, plural(skipped, "line"))))
	}
	for _, t := range tail[max(0, len(tail)-rows):] {
		lines = append(lines, s.Input.Render(tabless(safe(t))))
	}
	title := fmt.Sprintf("Message · %d %s · not sent yet", m.st.DataLines, plural(m.st.DataLines, "line"))
	return box(s, title, "", lines, l.Log.W, len(lines)+2, false)
}

// helpSize is the help overlay's box: as wide as 100 columns and as high as
// 30 rows where the terminal has them.
func (m *Model) helpSize() (w, h int) {
	return min(m.lay.W-4, 100), min(m.lay.H-2, 30)
}

func (m *Model) openHelp() {
	m.overlay, m.helpTop = overlayHelp, 0
}

// scrollHelp moves the help overlay by n lines, never past its ends.
func (m *Model) scrollHelp(n int) {
	w, h := m.helpSize()
	last := max(0, len(m.helpLines(w-4))-(h-2))
	m.helpTop = min(max(m.helpTop+n, 0), last)
}

// helpView is the help overlay: every key and command, scrolled to helpTop
// when they do not all fit (an 80×24 terminal shows about half), with the
// badge saying where the view is.
func (m *Model) helpView(w, h int) []string {
	lines := m.helpLines(w - 4)
	rows := h - 2
	top := min(max(m.helpTop, 0), max(0, len(lines)-rows))
	badge := "esc close"
	if len(lines) > rows {
		badge = fmt.Sprintf("%d–%d of %d · ↑↓ esc", top+1, min(top+rows, len(lines)), len(lines))
	}
	return box(m.styles, "Help", badge, lines[top:], w, h, true)
}

// helpLines lays the help out for inner columns. Key groups sit side by side
// as far as they fit and wrap to another band below, and a command's
// description wraps under itself, so nothing is cut at the right edge.
func (m *Model) helpLines(inner int) []string {
	s := m.styles
	hm := m.help
	hm.SetWidth(0) // measure whole groups; fitting them is done here
	widest := func(v string) int {
		n := 0
		for _, l := range strings.Split(v, "\n") {
			n = max(n, ansi.StringWidth(l))
		}
		return n
	}
	var lines []string
	var band [][]key.Binding
	flush := func() {
		if len(band) == 0 {
			return
		}
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, strings.Split(hm.FullHelpView(band), "\n")...)
		band = nil
	}
	for _, g := range m.FullHelp() {
		try := append(band[:len(band):len(band)], g)
		if len(band) > 0 && widest(hm.FullHelpView(try)) > inner {
			flush()
			try = [][]key.Binding{g}
		}
		band = try
	}
	flush()
	if m.rep != nil {
		return lines
	}
	lines = append(lines, "", s.Accent.Render("Commands"))
	nameW := 0
	for _, c := range commands {
		nameW = max(nameW, displayWidth(strings.TrimSpace(c.name+" "+c.args))+2)
	}
	// The screen is at least 80 wide (minWidth), which leaves a
	// description 44 columns; a longer one wraps under itself.
	for _, c := range commands {
		name := strings.TrimSpace(c.name + " " + c.args)
		desc := wrap(c.help, inner-nameW, 0)
		lines = append(lines, s.HelpKey.Render(padRight(name, nameW))+s.HelpDesc.Render(desc[0]))
		for _, d := range desc[1:] {
			lines = append(lines, strings.Repeat(" ", nameW)+s.HelpDesc.Render(d))
		}
	}
	note := "Anything else is sent to the server as typed (RFC 5321 commands)."
	lines = append(lines, "")
	for _, l := range wrap(note, inner, 0) {
		lines = append(lines, s.Muted.Render(l))
	}
	return lines
}

// overlay draws box over the rows of base from column x, row y. The rows
// keep their width w: the cells to the left and right of the box stay, with
// their styles (TruncateLeft keeps the escape sequences it skips).
func overlay(base, box []string, x, y, w int) {
	x = max(x, 0)
	for i, l := range box {
		row := y + i
		if row < 0 || row >= len(base) {
			continue
		}
		bw := ansi.StringWidth(l)
		left := padRight(ansi.Truncate(base[row], x, ""), x)
		right := ansi.TruncateLeft(base[row], x+bw, "")
		out := left + "\x1b[m" + l + "\x1b[m" + right
		if ansi.StringWidth(out) != w {
			out = padRight(truncate(out, w), w)
		}
		base[row] = out
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Package tui is ehlo's terminal interface, a Bubble Tea program: the
// Connection, Extensions and Wire log panes, the composer with its /
// commands, history and fuzzy completion, reply explanations for
// workshops, the sandbox mailbox (a workshop sandbox's over XMAILBOX),
// replay of recordings in the same panes (PRODUCT §5), the side pane of
// `ehlo lesson` (lesson.go), and the instructor's view of a workshop
// sandbox (RunInstructor, through the Room interface).
//
// It sees a live session only through the Conversation interface and a
// Sink on the session's Capture, so the session's goroutine never waits for
// the UI (STYLE B2). Everything that came over the wire is drawn through
// session.Sanitize, and every wire-log line keeps its swaks marker, so no
// server text can move the cursor or pass for ehlo's own lines
// (security-anchors §3.4). The wire log draws only the rows on screen, and
// takes what each line is from the session's annotations (Event.Parts):
// it parses no SMTP itself.
//
// Model routes; the help overlay, the /send form, the mailbox and replay
// are components, each with its state, its key map and its own update and
// view. Work on the disk or the network runs in a tea.Cmd.
//
// The package imports session, recordings (for replay), themes, the Charm
// libraries and fuzzy; not protocol (STYLE B1) nor the sandbox
// (internal/cli's deps_test.go).
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

// overlayKind is the overlay that is up, if any. An overlay is a
// component with its own state and key map; to add one, give it a kind,
// a case in overlayKey (its keys), in ShortHelp (its help bar) and in
// overlayBox (its view), and its keys in overlayHelp (the help's list).
type overlayKind int

const (
	overlayNone overlayKind = iota
	overlayHelp
	overlaySend
	overlayMailbox
	overlayCA
	overlayCert  // /cert: the whole chain and the DNS route
	overlayTrust // /trust: confirm pinning the certificate shown
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

	// The overlays: each owns its state and its key map.
	helpOv   helpOverlay
	sendForm *sendView // nil unless the /send form is up
	sendKeys sendKeyMap
	lastForm sendForm
	mailbox  mailboxView
	caKeys   caKeyMap
	cert     certOverlay
	certKeys certKeyMap

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
	recordIO   bool // a /record toggle is under way (recordMsg)
	quitting   bool
	// abandonArmed: Esc was pressed once in DATA; a second Esc abandons
	// the message (and the connection), any other key disarms it.
	abandonArmed bool

	notifyClosed bool
	clockOn      bool // a clockMsg is on its way

	now  func() time.Time
	tick func(time.Duration, func(time.Time) tea.Msg) tea.Cmd // tea.Tick; tests record

	lesson *lessonPane // `ehlo lesson`: nil otherwise (lesson.go)
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
		helpOv:     newHelpOverlay(),
		sendKeys:   defaultSendKeyMap(),
		mailbox:    mailboxView{keys: defaultMailboxKeyMap()},
		caKeys:     defaultCAKeyMap(),
		certKeys:   defaultCertKeyMap(),
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
		m.build = newLiveBuilder(m.log)
		m.lesson = newLessonPane(cfg)
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
	m.lesson.close()
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
	if cmd, done := m.lessonUpdate(msg); done {
		return m, cmd
	}
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
	case recordMsg, themeSavedMsg, mailboxMsg:
		m.ioMsg(msg)
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
	m.lay = computeLayout(w-m.lesson.dock(w), h)
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
	k.BackEsc.SetEnabled(inLog && live)
	k.Trust.SetEnabled(inLog && live && m.canTrust())
	k.LogHelp.SetEnabled(inLog)
	k.Dismiss.SetEnabled(inComposer)
	k.NoTab.SetEnabled(inComposer)
	k.Find.SetEnabled(m.searching)
	k.Close.SetEnabled(m.searching)
}

// ShortHelp implements help.KeyMap: the bindings that apply now.
func (m *Model) ShortHelp() []key.Binding {
	k := m.keys
	switch {
	case m.overlay == overlaySend:
		return m.sendKeys.ShortHelp()
	case m.overlay == overlayMailbox:
		return m.mailbox.keys.ShortHelp()
	case m.overlay == overlayCA:
		return []key.Binding{m.caKeys.Close}
	case m.overlay == overlayCert || m.overlay == overlayTrust:
		return m.certHelp()
	case m.overlay == overlayHelp:
		w, h := m.helpSize()
		return append(m.helpOv.keys.ShortHelp(len(m.helpLines(w-4)) > h-2), k.Quit)
	case m.searching:
		return []key.Binding{k.Submit, k.Close}
	case m.rep != nil:
		return append(m.rep.keys.ShortHelp(), k.Search, k.Explain, k.Help, k.Quit)
	case m.focus == focusLog:
		return []key.Binding{k.Trust, k.Up, k.Down, k.Search, k.NextMatch, k.Explain, k.Beside, k.Copy, k.Follow, k.Back, k.Cancel, k.Help, k.Quit}
	}
	return []key.Binding{k.Submit, k.Complete, k.HistoryPrev, k.HistorySearch, k.Focus, k.PageUp, k.Cancel, k.Help, k.Quit}
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

// key handles a key press: quit first, then the overlay or the search
// prompt that has the keys, then the keys that work everywhere, then
// replay's or the focused pane's.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Quit) {
		return tea.Quit
	}
	m.flash = ""
	armed := m.abandonArmed
	m.abandonArmed = false
	switch {
	case m.lay.TooSmall:
		return nil
	case m.overlay != overlayNone:
		return m.overlayKey(msg)
	case m.searching:
		return m.searchKey(msg)
	}
	if cmd, ok := m.globalKey(msg, armed); ok {
		return cmd
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

// overlayKey hands a key to the overlay that is up.
func (m *Model) overlayKey(msg tea.KeyPressMsg) tea.Cmd {
	switch m.overlay {
	case overlayHelp:
		return m.helpKey(msg)
	case overlaySend:
		return m.sendKey(msg)
	case overlayMailbox:
		if m.mailbox.update(msg, m.lay.Log.H-3) {
			m.overlay = overlayNone
		}
	case overlayCA:
		switch {
		case key.Matches(msg, m.caKeys.Close):
			m.overlay = overlayNone
		case key.Matches(msg, m.caKeys.Copy):
			m.setFlash("copied the certificate to the clipboard: save it as a file for --ca", false)
			return tea.SetClipboard(string(m.cfg.SandboxCA))
		}
	case overlayCert, overlayTrust:
		return m.certKey(msg)
	}
	return nil
}

// sendKey is a key while the /send form is up: the form is sent (and
// kept for the next /send) or given up (and kept all the same).
func (m *Model) sendKey(msg tea.KeyPressMsg) tea.Cmd {
	cmd, res := m.sendForm.update(msg)
	switch res {
	case formSend:
		f, ok := m.sendForm.form()
		if !ok {
			return cmd
		}
		m.lastForm = f
		m.conv.Send(f)
	case formCancel:
		m.lastForm, _ = m.sendForm.form()
	default:
		return cmd
	}
	m.overlay, m.sendForm = overlayNone, nil
	return cmd
}

// globalKey handles the keys that work wherever the focus is; ok says the
// key was one of them.
func (m *Model) globalKey(msg tea.KeyPressMsg, armed bool) (cmd tea.Cmd, ok bool) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Help):
		m.openHelp()
	case key.Matches(msg, k.Cancel):
		m.cancel(armed)
	case key.Matches(msg, k.Focus):
		if m.focus == focusComposer {
			m.setFocus(focusLog)
		} else {
			m.setFocus(focusComposer)
		}
	case key.Matches(msg, k.PageUp):
		m.view.scroll(-(m.logRows() - 1), m.lines(), m.logRows())
	case key.Matches(msg, k.PageDown):
		m.view.scroll(m.logRows()-1, m.lines(), m.logRows())
	case key.Matches(msg, k.Timestamps):
		m.cycleTimestamps()
	default:
		return nil, false
	}
	return nil, true
}

// cycleTimestamps turns the wire log's time column in turn: each reply's
// round trip, the time since the start, off.
func (m *Model) cycleTimestamps() {
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

// replayKey hands a key to the player; ok says it was one of its keys.
func (m *Model) replayKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	cmd, ok, moved := m.rep.update(msg)
	if moved {
		m.afterSeek()
	}
	return cmd, ok
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
	case key.Matches(msg, k.Trust):
		m.openCert(true)
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
	case key.Matches(msg, k.Back, k.BackEsc):
		m.setFocus(focusComposer)
	case key.Matches(msg, k.LogHelp):
		m.openHelp()
	}
	return nil
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
	case key.Matches(msg, k.Dismiss):
		switch {
		case len(c.sugg) > 0:
			c.sugg, c.dismissed = nil, true
		case c.prompt != nil:
			c.prompt = nil
			c.input.Reset()
		}
		return nil
	case key.Matches(msg, k.NoTab):
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
		return m.sendForm.edit(msg)
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

func (m *Model) wheel(ms tea.Mouse) {
	if m.overlay == overlayMailbox {
		m.mailbox.wheel(ms.Button)
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
	m.lessonView(lines)
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

	cl, el := connLines(m.st, s, l.Conn.W-4, m.now(), m.rep != nil), extLines(m.st, s, l.Ext.W-4)
	cr, er := splitSide(l.Conn, l.Ext, len(cl), len(el))
	conn := box(s, "Connection", connBadge(m.st), fit(cl, cr.H-2, s), cr.W, cr.H, false)
	extTitle := "Extensions"
	extBadge := ""
	if m.st.Stale {
		extBadge = s.Stale.Render("stale")
	}
	ext := box(s, extTitle, extBadge, fit(el, er.H-2, s), er.W, er.H, false)
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
		return &overlaySpec{m.helpOv.view(s, m.helpLines(w-4), w, h), (l.W - w) / 2, (l.H - h) / 2}
	case overlaySend:
		w, h := min(l.W-4, 76), min(l.H-2, 18)
		return &overlaySpec{m.sendForm.view(s, w, h), (l.W - w) / 2, (l.H - h) / 2}
	case overlayMailbox:
		h := l.H - 2
		return &overlaySpec{m.mailbox.view(s, l.W, h), 0, 1}
	case overlayCA:
		w, h := min(l.W-4, 80), l.H-2
		return &overlaySpec{caView(s, m.cfg.SandboxCA, w, h), (l.W - w) / 2, 1}
	case overlayCert, overlayTrust:
		return m.certBox()
	}
	if m.rep == nil && m.focus == focusComposer && !m.searching {
		// The list may cover the status bar too: at 80×24 that is the
		// row that lets every / command show at once.
		if p := m.comp.popup(s, l.W-4, l.Composer.Y); p != nil {
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

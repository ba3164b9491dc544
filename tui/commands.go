package tui

import (
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/themes"
)

// cmdArgs is a / command's line cut into words: rest is everything after
// the name, arg1 its first word and arg2 what follows that.
type cmdArgs struct {
	rest, arg1, arg2 string
}

// commandHandlers run the / commands that complete.go's commands table
// names and describes, one function each. A handler that needs the disk
// or the network returns a tea.Cmd that does it, so Update never waits.
var commandHandlers = map[string]func(m *Model, a cmdArgs) tea.Cmd{
	"/connect":  func(m *Model, _ cmdArgs) tea.Cmd { m.conv.Connect(); return nil },
	"/ehlo":     func(m *Model, a cmdArgs) tea.Cmd { m.conv.Ehlo(a.rest); return nil },
	"/helo":     func(m *Model, a cmdArgs) tea.Cmd { m.conv.Helo(a.rest); return nil },
	"/starttls": func(m *Model, _ cmdArgs) tea.Cmd { m.conv.StartTLS(); return nil },
	"/login":    (*Model).login,
	"/auth":     (*Model).auth,
	"/send":     (*Model).openSendForm,
	"/verify":   (*Model).verify,
	"/noop":     func(m *Model, _ cmdArgs) tea.Cmd { m.conv.Noop(); return nil },
	"/rset":     func(m *Model, _ cmdArgs) tea.Cmd { m.conv.Rset(); return nil },
	"/quit":     (*Model).quit,
	"/record":   func(m *Model, _ cmdArgs) tea.Cmd { return m.record() },
	"/theme":    func(m *Model, a cmdArgs) tea.Cmd { return m.setTheme(a.rest) },
	"/explain":  (*Model).toggleExplain,
	"/mailbox":  (*Model).openMailbox,
	"/ca":       (*Model).openCA,
	"/cert":     func(m *Model, a cmdArgs) tea.Cmd { m.openCert(strings.EqualFold(a.rest, "trust")); return nil },
	"/help":     func(m *Model, _ cmdArgs) tea.Cmd { m.openHelp(); return nil },
}

// command runs a / command.
func (m *Model) command(line string) tea.Cmd {
	name, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	a := cmdArgs{rest: strings.TrimSpace(rest)}
	a.arg1, a.arg2, _ = strings.Cut(a.rest, " ")
	a.arg2 = strings.TrimLeft(a.arg2, " ")
	run, ok := commandHandlers[strings.ToLower(name)]
	if !ok {
		m.setFlash("unknown command "+safe(name)+": /help lists them", true)
		return nil
	}
	return run(m, a)
}

func (m *Model) login(a cmdArgs) tea.Cmd {
	switch {
	case a.arg1 == "":
		m.setFlash("usage: /login USER [PASSWORD]", true)
	case a.arg2 == "":
		m.comp.prompt = &secretPrompt{login: true, user: a.arg1}
		m.setFlash("password for "+safe(a.arg1)+" (hidden; Esc cancels)", false)
	default:
		m.conv.Login(a.arg1, a.arg2)
	}
	return nil
}

func (m *Model) auth(a cmdArgs) tea.Cmd {
	user, secret, _ := strings.Cut(a.arg2, " ")
	switch {
	case a.arg1 == "":
		m.setFlash("usage: /auth MECH [USER [SECRET]]", true)
	case user != "" && secret == "":
		m.comp.prompt = &secretPrompt{mech: strings.ToUpper(a.arg1), user: user}
		m.setFlash("secret for "+safe(user)+" (hidden; Esc cancels)", false)
	default:
		m.conv.Auth(strings.ToUpper(a.arg1), user, strings.TrimLeft(secret, " "))
	}
	return nil
}

func (m *Model) openSendForm(cmdArgs) tea.Cmd {
	m.sendForm = newSendView(m.styles, m.lastForm, m.sendKeys)
	m.overlay = overlaySend
	return nil
}

func (m *Model) verify(a cmdArgs) tea.Cmd {
	if a.rest == "" {
		m.setFlash("usage: /verify ADDRESS", true)
		return nil
	}
	m.conv.Verify(a.rest)
	return nil
}

// quit sends QUIT and leaves once the server closes, or after 3 s.
func (m *Model) quit(cmdArgs) tea.Cmd {
	m.quitting = true
	if !m.st.Connected {
		return tea.Quit
	}
	m.conv.Quit()
	return tea.Tick(3*time.Second, func(time.Time) tea.Msg { return quitTimeoutMsg{} })
}

func (m *Model) toggleExplain(cmdArgs) tea.Cmd {
	m.view.beside = !m.view.beside
	if m.view.beside {
		m.setFlash("explaining every reply beside it (/explain again to stop)", false)
	}
	return nil
}

func (m *Model) openCA(cmdArgs) tea.Cmd {
	if m.cfg.SandboxCA == nil {
		m.setFlash("/ca is the sandbox's certificate; another server's is in the Connection pane after STARTTLS", true)
		return nil
	}
	m.overlay = overlayCA
	return nil
}

// The answers of the commands that read or write outside the program,
// which run in a tea.Cmd.
type (
	// recordMsg is what ToggleRecord did: a recording file created or
	// closed.
	recordMsg struct {
		on   bool
		path string
		err  error
	}
	// themeSavedMsg is where SaveTheme kept the theme (the config file).
	themeSavedMsg struct {
		name, where string
		err         error
	}
	// mailboxMsg is the sandbox's messages, as Mailbox returned them.
	mailboxMsg struct{ items []MailItem }
)

// record starts or stops the recording where the command line allows it:
// the file is created or closed in a tea.Cmd, and recordMsg says how it
// went. One toggle at a time.
func (m *Model) record() tea.Cmd {
	switch {
	case m.cfg.ToggleRecord == nil:
		m.recordFlash()
		return nil
	case m.recordIO:
		m.setFlash("recording: the last /record is still under way", true)
		return nil
	}
	m.recordIO = true
	toggle := m.cfg.ToggleRecord
	return func() tea.Msg {
		on, path, err := toggle()
		return recordMsg{on, path, err}
	}
}

func (m *Model) recorded(msg recordMsg) {
	m.recordIO = false
	if msg.err != nil {
		m.setFlash("recording: "+safe(msg.err.Error()), true)
		return
	}
	m.recording, m.recordPath = msg.on, msg.path
	m.recordFlash()
}

func (m *Model) recordFlash() {
	switch {
	case m.recording:
		m.setFlash("recording to "+safe(m.recordPath)+" (/record again stops)", false)
	case m.cfg.ToggleRecord != nil:
		m.setFlash("recording stopped; /record starts a new file", false)
	default:
		m.setFlash("not recording (start ehlo with --record FILE)", false)
	}
}

// setTheme switches the theme at once, and keeps it for the next run in a
// tea.Cmd (themeSavedMsg) when the command line allows.
func (m *Model) setTheme(name string) tea.Cmd {
	if name == "" {
		// The current theme first: at 80 columns the status bar cuts
		// the end of a message.
		m.setFlash("now "+m.theme.Name+" · themes: "+strings.Join(themes.Names(), ", "), false)
		return nil
	}
	if m.noColor {
		m.setFlash("NO_COLOR is set: colours stay off", true)
		return nil
	}
	t, err := themes.Get(name)
	if err != nil {
		m.setFlash(safe(err.Error()), true)
		return nil
	}
	m.theme = t
	m.styles = themes.NewStyles(t, m.isDark)
	m.applyStyles()
	m.setFlash("theme "+t.Name, false)
	save := m.cfg.SaveTheme
	if save == nil {
		return nil
	}
	return func() tea.Msg {
		where, err := save(t.Name)
		return themeSavedMsg{t.Name, where, err}
	}
}

func (m *Model) themeSaved(msg themeSavedMsg) {
	if msg.err != nil {
		m.setFlash("theme "+msg.name+", for this run only: "+safe(msg.err.Error()), true)
		return
	}
	m.setFlash("theme "+msg.name+", kept in "+safe(msg.where), false)
}

// ioMsg handles the answer of a command that ran outside Update.
func (m *Model) ioMsg(msg tea.Msg) {
	switch msg := msg.(type) {
	case recordMsg:
		m.recorded(msg)
	case themeSavedMsg:
		m.themeSaved(msg)
	case mailboxMsg:
		if m.overlay == overlayNone { // not over what was opened since
			m.mailbox.set(msg.items)
			m.overlay = overlayMailbox
		}
	}
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
	"github.com/ehlo-dev/ehlo/tui"
)

// workshopFlags are `ehlo sandbox --workshop`'s own: the instructor's view
// and where every session is saved.
type workshopFlags struct {
	Headless bool   `help:"With --workshop: keep the session log on standard output instead of the instructor's view (also when standard output is not a terminal)."`
	SaveDir  string `name:"save-dir" type:"path" help:"With --workshop: save every session as a recording in DIR (default ehlo-workshop-<date>/); ehlo replay FILE replays one." placeholder:"DIR"`
}

// runWorkshop serves a room: every session saved as a recording, and on
// a terminal the instructor's view, else (or with --headless) the log.
func (s *sandboxCmd) runWorkshop(app *appContext, cfg sandbox.Config) error {
	dir := s.SaveDir
	if dir == "" {
		dir = "ehlo-workshop-" + time.Now().Format("2006-01-02")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--save-dir: %w", err)
	}
	saver := &sessionSaver{dir: dir}
	cfg.OnSessionEnd = saver.save
	f, ok := app.stdout.(*os.File)
	if s.Headless || !ok || !term.IsTerminal(f.Fd()) {
		saver.errs = app.stderr
		fmt.Fprintf(app.stdout, "recordings: every session is saved in %s/ (ehlo replay FILE)\n", dir)
		sandbox.TuneProcess(cfg)
		err := sandbox.Run(app.ctx, cfg, app.stdout)
		saver.close() // Run has closed the server: every session has ended
		return err
	}
	if cfg.Log == nil {
		// The view owns the screen: the session log goes beside the
		// recordings.
		logf, err := os.OpenFile(filepath.Join(dir, "sandbox.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer logf.Close()
		cfg.Log = logf
	}
	srv, err := sandbox.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	where, err := s.prepareRoom(app.stdout, srv, cfg)
	if err != nil {
		return err
	}
	status := saver.status
	if where != "" {
		status = func() string { return where + " · " + saver.status() }
	}
	go srv.Serve()
	err = tui.RunInstructor(app.ctx, tui.InstructorConfig{
		Room: serverRoom{srv}, Title: srv.Addr(), Status: status, Theme: configTheme(), NoColor: themes.NoColor(os.LookupEnv),
	})
	srv.Close()
	saver.close()
	fmt.Fprintf(app.stdout, "ehlo sandbox stopped: %d message(s) received; %s\n", srv.Mailbox().Total(), saver.status())
	return err
}

// prepareRoom writes the accounts and the certificate as Run would, prints
// the sandbox's banner (it stays on the terminal after the view closes),
// and says where the accounts and the certificate are.
func (s *sandboxCmd) prepareRoom(out io.Writer, srv *sandbox.Server, cfg sandbox.Config) (string, error) {
	banner, err := srv.Announce()
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(out, banner); err != nil {
		return "", err
	}
	var where []string
	if cfg.AccountsCSV != "" {
		where = append(where, "accounts in "+cfg.AccountsCSV)
	}
	if cfg.WriteCA != "" {
		where = append(where, "CA in "+cfg.WriteCA)
	}
	return strings.Join(where, " · "), nil
}

// configTheme is the theme the config file keeps (docs/tui.md,
// Settings), the TUI's too; one it cannot read is no reason to stop a
// room, so that gives the default.
func configTheme() string {
	uc, err := loadConfig(configPath())
	if err != nil {
		return ""
	}
	if _, err := themes.Get(uc.Theme); err != nil {
		return ""
	}
	return uc.Theme
}

// serverRoom adapts a workshop sandbox to the instructor's view, which
// imports neither sandbox nor protocol.
type serverRoom struct{ srv *sandbox.Server }

func (r serverRoom) Sessions() []tui.RoomSession {
	infos := r.srv.Sessions()
	out := make([]tui.RoomSession, len(infos))
	for i, x := range infos {
		out[i] = tui.RoomSession(x)
	}
	return out
}

func (r serverRoom) Watch(id uint64) ([]tui.RoomLine, <-chan tui.RoomLine, func(), bool) {
	backlog, updates, stop, ok := r.srv.Watch(id)
	if !ok {
		return nil, nil, stop, false
	}
	lines := make([]tui.RoomLine, len(backlog))
	for i, l := range backlog {
		lines[i] = tui.RoomLine(l)
	}
	out := make(chan tui.RoomLine, 64)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for l := range updates {
			select {
			case out <- tui.RoomLine(l):
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return lines, out, func() {
		once.Do(func() { close(done) })
		stop()
	}, true
}

func (r serverRoom) SetFault(user, spec string) error { return r.srv.SetFault(user, spec) }
func (r serverRoom) ClearFault(user string)           { r.srv.ClearFault(user) }
func (r serverRoom) FaultNames() []string             { return sandbox.FaultNames() }

// sessionSaver writes each session that ends as a recording
// (docs/recording-format.md) in dir. OnSessionEnd runs on the session's
// goroutine, so save only queues the lines; one goroutine writes them.
// A queue that is full (a disk slower than a room closing sessions) drops
// the session and counts it rather than hold the sandbox up.
type sessionSaver struct {
	dir  string
	errs io.Writer // where a failed save is said in headless mode

	start sync.Once
	queue chan endedSession
	done  chan struct{}

	mu      sync.Mutex
	saved   int
	failed  int
	lastErr error
}

type endedSession struct {
	info  sandbox.SessionInfo
	lines []sandbox.WireLine
}

// saverQueue is how many ended sessions may wait to be written.
const saverQueue = 1024

func (s *sessionSaver) save(info sandbox.SessionInfo, lines []sandbox.WireLine) {
	s.start.Do(func() {
		s.queue, s.done = make(chan endedSession, saverQueue), make(chan struct{})
		go s.write()
	})
	select {
	case s.queue <- endedSession{info, lines}:
	default:
		s.report(info.ID, errors.New("too many sessions waiting to be saved"))
	}
}

func (s *sessionSaver) write() {
	defer close(s.done)
	for e := range s.queue {
		if _, err := saveSession(s.dir, e.info, e.lines); err != nil {
			s.report(e.info.ID, err)
			continue
		}
		s.mu.Lock()
		s.saved++
		s.mu.Unlock()
	}
}

func (s *sessionSaver) report(id uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed++
	s.lastErr = err
	if s.errs != nil {
		fmt.Fprintf(s.errs, "ehlo: session %d not saved: %v\n", id, err)
	}
}

// close writes what is queued and returns when it is written; call it
// once the server has stopped calling save.
func (s *sessionSaver) close() {
	s.start.Do(func() {}) // nothing was queued: nothing to wait for
	if s.queue != nil {
		close(s.queue)
		<-s.done
	}
}

func (s *sessionSaver) status() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := fmt.Sprintf("%d session(s) saved in %s/", s.saved, s.dir)
	if s.lastErr != nil {
		st += fmt.Sprintf("; %d not saved, the last: %v", s.failed, s.lastErr)
	}
	return st
}

// saveSession writes one session's wire log as a recording, through a
// Capture, so that it is redacted as every recording is, and returns its
// path. The lines are as the sandbox logged them: escaped, AUTH secrets
// hidden, a message body cut after its first lines.
func saveSession(dir string, info sandbox.SessionInfo, lines []sandbox.WireLine) (string, error) {
	who := fileSafe(info.User)
	if who == "" {
		who = "anonymous"
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-s%d-%s.jsonl", info.Started.Format("20060102-150405"), info.ID, who))
	network := "tcp"
	if _, _, err := net.SplitHostPort(info.Local); err != nil {
		network = "unix" // the socket's path, which need not be absolute
	}
	rec, err := recordings.Create(path, recordings.Header{Created: info.Started, Server: info.Local, Transport: "smtp", Network: network, EhloVersion: ehloVersion()})
	if err != nil {
		return "", err
	}
	capture := session.NewCapture(info.Started, session.Redaction{})
	capture.Add(rec)
	capture.Trace(protocol.Event{Kind: protocol.EventConnect, Time: info.Started, Network: network, Addr: info.Local})
	capture.Trace(protocol.Event{Kind: protocol.EventNote, Time: info.Started, Text: fmt.Sprintf(
		"workshop session %d of %s from %s (TLS at the end: %s), as the sandbox logged it: escaped, AUTH secrets hidden",
		info.ID, orNone(info.User), info.Remote, yesNo(info.TLS))})
	for _, l := range lines {
		e := protocol.Event{Kind: protocol.EventRecv, Time: l.At, Data: []byte(l.Text + "\r\n"), TLS: l.TLS}
		switch {
		case l.Client:
			e.Kind = protocol.EventSend
		case strings.HasPrefix(l.Text, "… "):
			// The room's own note ("… N lines dropped"), not a reply.
			e = protocol.Event{Kind: protocol.EventNote, Time: l.At, Text: l.Text}
		}
		capture.Trace(e)
	}
	capture.Trace(protocol.Event{Kind: protocol.EventClose, Time: info.LastActive})
	if err := rec.Close(); err != nil {
		return "", err
	}
	return path, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(user string) string {
	if user == "" {
		return "(not authenticated)"
	}
	return user
}

// fileSafe keeps the letters, digits, '.', '-' and '_' of a user name, so
// that a name can never leave the directory or hide a file.
func fileSafe(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || (c == '.' && b.Len() > 0) {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// mailItem is one of the embedded sandbox's messages as /mailbox shows it.
func mailItem(m sandbox.Message) tui.MailItem {
	it := tui.MailItem{From: m.From, To: m.To, Received: m.Received, Data: m.Data, ID: m.ID, Helo: m.Helo, Params: m.Params,
		TLS: m.TLS, TLSVersion: m.TLSVersion, AuthUser: m.AuthUser, Chunked: m.Chunked}
	if m.Rcpts != nil {
		it.Rcpts = make([]tui.MailRcpt, len(m.Rcpts))
		for i, r := range m.Rcpts {
			it.Rcpts[i] = tui.MailRcpt(r)
		}
	}
	return it
}

var errNoWorkshop = errors.New("--headless and --save-dir need --workshop")

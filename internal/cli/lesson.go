package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session/lesson"
)

// lessonCmd: `ehlo lesson` lists the lessons; `ehlo lesson NAME|FILE
// [SERVER]` opens the TUI with the lesson's side pane, on the embedded
// sandbox set up as the lesson asks (its faults, LMTP, users), or on a
// workshop sandbox given as SERVER, which the pane then says how to set up.
type lessonCmd struct {
	connFlags `embed:""`
	Theme     string `help:"Colour theme: default, light, dark, high-contrast or mono."`
	Name      string `arg:"" optional:"" help:"A lesson (ehlo lesson lists them, by name or number) or a lesson FILE (docs/lessons.md)."`
	Server    string `arg:"" optional:"" help:"A workshop sandbox to run the lesson against; none: the embedded sandbox, set up as the lesson says."`
}

func (c *lessonCmd) Run(app *appContext) error {
	if c.Name == "" {
		return listLessons(app.stdout)
	}
	l, err := loadLesson(c.Name)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	cfg, err := lessonSandbox(l)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	t := &tuiCmd{connFlags: c.connFlags, Theme: c.Theme, Server: c.Server, sandboxCfg: cfg, lesson: l}
	if l.LMTP {
		t.LMTP = true
	}
	return t.Run(app)
}

// listLessons prints the embedded lessons, numbered in course order.
func listLessons(w io.Writer) error {
	all, err := lesson.Embedded()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, l := range all {
		var needs []string
		if l.LMTP {
			needs = append(needs, "LMTP")
		}
		needs = append(needs, l.Faults...)
		if len(needs) == 0 {
			fmt.Fprintf(tw, "%2d\t%s\t%s\n", i+1, l.Name, l.Title)
			continue
		}
		fmt.Fprintf(tw, "%2d\t%s\t%s\t(sandbox: %s)\n", i+1, l.Name, l.Title, strings.Join(needs, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, "\nehlo lesson NAME opens one on the embedded sandbox; ehlo lesson NAME SERVER on a workshop sandbox; ehlo lesson FILE a lesson of your own (docs/lessons.md).")
	return err
}

// loadLesson reads an embedded lesson by name or number, or a lesson file
// when arg names one (a path, or a name ending in .md).
func loadLesson(arg string) (*lesson.Lesson, error) {
	isFile := strings.ContainsAny(arg, `/\`) || strings.HasSuffix(arg, ".md")
	if !isFile {
		if _, err := os.Stat(arg); err == nil {
			isFile = true
		}
	}
	if !isFile {
		return lesson.Find(arg)
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One byte more than a lesson may hold, so that Parse says it is too
	// long rather than reading a huge file whole.
	b, err := io.ReadAll(io.LimitReader(f, lesson.MaxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	return lesson.Parse(arg, b)
}

// lessonSandbox is the embedded sandbox a lesson asks for: its faults,
// LMTP, and its users added to the demo users.
func lessonSandbox(l *lesson.Lesson) (sandbox.Config, error) {
	cfg := sandbox.Config{LMTP: l.LMTP}
	for _, spec := range l.Faults {
		f, err := sandbox.ParseFault(spec)
		if err != nil {
			return cfg, fmt.Errorf("lesson %s: fault: %w", l.Name, err)
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	if len(l.Users) > 0 {
		cfg.Users = sandbox.DefaultUsers()
		for _, u := range l.Users {
			name, pass, _ := strings.Cut(u, ":")
			if _, dup := cfg.Users[name]; dup {
				return cfg, errors.New("lesson " + l.Name + ": user " + name + " given twice")
			}
			cfg.Users[name] = pass
		}
	}
	return cfg, nil
}

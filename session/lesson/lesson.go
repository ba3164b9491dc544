// Package lesson owns ehlo's guided exercises (`ehlo lesson`): the lesson
// file format and its parser, the lessons that ship embedded in the binary
// (lessons/*.md), and the checker that follows a live conversation through
// its session.Events and says which step the student has reached, and which
// hint applies. It reads events, never a connection, so the same checker
// follows the TUI's session, a scripted student in a test, or a recording;
// and it reads them as the session annotated them (Event.Parts), never
// parsing SMTP itself (a recording's events need a session.Annotator).
// The format is described in docs/lessons.md.
package lesson

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Lesson is one parsed lesson file.
type Lesson struct {
	// Name is the file's base name without ".md": what `ehlo lesson NAME`
	// takes.
	Name  string
	Title string
	// Task is what the student is asked to do, as the file states it.
	Task string
	// Faults are sandbox fault specs (docs/sandbox.md) the embedded
	// sandbox runs with; the command line parses them.
	Faults []string
	// LMTP says the sandbox speaks LMTP and the client connects with LMTP.
	LMTP bool
	// Users are extra sandbox accounts, NAME:PASS, added to the demo users.
	Users []string
	// Server says what a workshop sandbox given as SERVER must be started
	// with, since the lesson cannot set it up there.
	Server string
	Steps  []Step
}

// Step is one thing to do, checked against the conversation.
type Step struct {
	Title string
	// Text explains the step.
	Text string
	// Checks must all match for the step to be done.
	Checks []Check
	// Hints are shown while the step is current, the first at once.
	Hints []string
	// Wrong are the mistakes the lesson anticipates, each with its hint.
	Wrong []Wrong
	// Line is where the step starts in its file.
	Line int
}

// Wrong is an anticipated mistake: when Check matches while the step is
// current, Hint is shown.
type Wrong struct {
	Check Check
	Hint  string
}

// MaxFile bounds a lesson file: lessons are a page or two of text, and a
// teacher's file that is not one should be refused, not read into memory.
const MaxFile = 256 << 10

// ParseError says where a lesson file is wrong.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Parse reads a lesson file. name is used in errors and becomes the
// lesson's Name (without directory and ".md").
func Parse(name string, data []byte) (*Lesson, error) {
	p := parser{file: name, l: &Lesson{Name: strings.TrimSuffix(path.Base(strings.ReplaceAll(name, "\\", "/")), ".md")}}
	if len(data) > MaxFile {
		return nil, p.errAt(0, "%d bytes: a lesson file is at most %d", len(data), MaxFile)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, p.errAt(0, "a NUL byte: not a text file")
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxFile)
	for n := 1; sc.Scan(); n++ {
		if err := p.line(n, strings.TrimRight(sc.Text(), " \t\r")); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, p.errAt(0, "%v", err)
	}
	return p.finish()
}

type parser struct {
	file   string
	l      *Lesson
	step   *Step
	task   []string
	stext  []string
	inNote bool // inside an HTML comment
}

func (p *parser) errAt(line int, format string, args ...any) error {
	return &ParseError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

var directives = []string{"fault", "lmtp", "user", "server", "check", "hint", "wrong"}

func (p *parser) line(n int, s string) error {
	switch {
	case p.inNote:
		p.inNote = !strings.Contains(s, "-->")
		return nil
	case strings.HasPrefix(s, "<!--"):
		p.inNote = !strings.Contains(s, "-->")
		return nil
	case strings.HasPrefix(s, "# "):
		if p.l.Title != "" {
			return p.errAt(n, "a second title (# …): a file is one lesson; steps are ## headings")
		}
		if p.step != nil {
			return p.errAt(n, "the title (# …) must come before the steps")
		}
		p.l.Title = strings.TrimSpace(s[2:])
		return nil
	case strings.HasPrefix(s, "## "):
		if p.l.Title == "" {
			return p.errAt(n, "a step before the title: start the file with \"# Title\"")
		}
		p.endStep()
		p.step = &Step{Title: strings.TrimSpace(s[3:]), Line: n}
		if p.step.Title == "" {
			return p.errAt(n, "a step with no title")
		}
		return nil
	case strings.HasPrefix(s, "#"):
		return p.errAt(n, "only \"# Title\" and \"## Step\" headings are known")
	}
	if key, val, ok := directive(s); ok {
		return p.directive(n, key, val)
	}
	if p.l.Title == "" && strings.TrimSpace(s) != "" {
		return p.errAt(n, "text before the title: start the file with \"# Title\"")
	}
	if p.step != nil {
		p.stext = append(p.stext, s)
	} else {
		p.task = append(p.task, s)
	}
	return nil
}

// directive recognises "key: value" where key is lower-case letters and
// hyphens; anything else is text.
func directive(s string) (key, val string, ok bool) {
	key, val, ok = strings.Cut(s, ":")
	if !ok || key == "" {
		return "", "", false
	}
	for _, r := range key {
		if (r < 'a' || r > 'z') && r != '-' {
			return "", "", false
		}
	}
	return key, strings.TrimSpace(val), true
}

func (p *parser) directive(n int, key, val string) error {
	if !slices.Contains(directives, key) {
		return p.errAt(n, "unknown directive %q (known: %s); text must not start with \"word:\"", key, strings.Join(directives, ", "))
	}
	if p.l.Title == "" {
		return p.errAt(n, "%s: before the title: start the file with \"# Title\"", key)
	}
	if val == "" && key != "lmtp" {
		return p.errAt(n, "%s: needs a value", key)
	}
	stepOnly := key == "check" || key == "hint" || key == "wrong"
	if stepOnly && p.step == nil {
		return p.errAt(n, "%s: belongs to a step (## …), not to the lesson", key)
	}
	if !stepOnly && p.step != nil {
		return p.errAt(n, "%s: belongs before the first step", key)
	}
	switch key {
	case "fault":
		p.l.Faults = append(p.l.Faults, val)
	case "lmtp":
		if val != "" && val != "yes" {
			return p.errAt(n, "lmtp: takes no value, or \"yes\"")
		}
		p.l.LMTP = true
	case "user":
		name, pass, ok := strings.Cut(val, ":")
		if !ok || name == "" || pass == "" || strings.ContainsAny(val, " \t") {
			return p.errAt(n, "user: want NAME:PASS, got %q", val)
		}
		p.l.Users = append(p.l.Users, val)
	case "server":
		p.l.Server = strings.TrimSpace(p.l.Server + " " + val)
	case "check":
		c, err := ParseCheck(val)
		if err != nil {
			return p.errAt(n, "check: %v", err)
		}
		p.step.Checks = append(p.step.Checks, c)
	case "hint":
		p.step.Hints = append(p.step.Hints, val)
	case "wrong":
		spec, hint, ok := strings.Cut(val, " | ")
		if !ok || strings.TrimSpace(hint) == "" {
			return p.errAt(n, "wrong: want CHECK | HINT, got %q", val)
		}
		c, err := ParseCheck(spec)
		if err != nil {
			return p.errAt(n, "wrong: %v", err)
		}
		p.step.Wrong = append(p.step.Wrong, Wrong{Check: c, Hint: strings.TrimSpace(hint)})
	}
	return nil
}

func (p *parser) endStep() {
	if p.step == nil {
		return
	}
	p.step.Text = paragraph(p.stext)
	p.l.Steps = append(p.l.Steps, *p.step)
	p.step, p.stext = nil, nil
}

func (p *parser) finish() (*Lesson, error) {
	if p.inNote {
		return nil, p.errAt(0, "an HTML comment (<!--) is never closed")
	}
	p.endStep()
	l := p.l
	l.Task = paragraph(p.task)
	switch {
	case l.Title == "":
		return nil, p.errAt(0, "no title: start the file with \"# Title\"")
	case l.Task == "":
		return nil, p.errAt(0, "no task: say what the student is to do, between the title and the first step")
	case len(l.Steps) == 0:
		return nil, p.errAt(0, "no steps: a lesson needs at least one \"## Step\" with a check:")
	}
	for _, s := range l.Steps {
		if len(s.Checks) == 0 {
			return nil, p.errAt(s.Line, "step %q has no check: (how would the student finish it?)", s.Title)
		}
		if len(s.Hints) == 0 {
			return nil, p.errAt(s.Line, "step %q has no hint:", s.Title)
		}
	}
	return l, nil
}

// paragraph joins text lines, keeping blank lines as paragraph breaks and
// dropping those at either end.
func paragraph(lines []string) string {
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

//go:embed lessons/*.md
var embedded embed.FS

// ErrNotFound says no embedded lesson has the name asked for.
var ErrNotFound = errors.New("no such lesson")

// Embedded returns the lessons that ship with ehlo, in the order of their
// file names (which start with a number, so that the list is a course).
func Embedded() ([]*Lesson, error) {
	names, err := fs.Glob(embedded, "lessons/*.md")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]*Lesson, 0, len(names))
	for _, n := range names {
		b, err := embedded.ReadFile(n)
		if err != nil {
			return nil, err
		}
		l, err := Parse(n, b)
		if err != nil {
			return nil, err
		}
		l.Name = shortName(l.Name)
		out = append(out, l)
	}
	return out, nil
}

// shortName drops the ordering prefix "01-" from a file's name.
func shortName(name string) string {
	if i := strings.IndexByte(name, '-'); i > 0 && strings.Trim(name[:i], "0123456789") == "" {
		return name[i+1:]
	}
	return name
}

// Find returns the embedded lesson called name (with or without its
// number: "greet" or "01-greet", or the number alone).
func Find(name string) (*Lesson, error) {
	all, err := Embedded()
	if err != nil {
		return nil, err
	}
	var names []string
	for i, l := range all {
		if l.Name == name || fmt.Sprintf("%02d-%s", i+1, l.Name) == name || fmt.Sprint(i+1) == strings.TrimLeft(name, "0") {
			return l, nil
		}
		names = append(names, l.Name)
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrNotFound, name, strings.Join(names, ", "))
}

package lesson

import (
	"errors"
	"strings"
	"testing"
)

func TestEmbeddedLessonsParse(t *testing.T) {
	all, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 8 {
		t.Fatalf("%d lessons ship; want at least 8", len(all))
	}
	seen := map[string]bool{}
	for _, l := range all {
		if seen[l.Name] {
			t.Errorf("two lessons named %q", l.Name)
		}
		seen[l.Name] = true
		if l.Title == "" || l.Task == "" || len(l.Steps) < 2 {
			t.Errorf("%s: title %q, task %d bytes, %d steps", l.Name, l.Title, len(l.Task), len(l.Steps))
		}
	}
	for _, name := range []string{"greet", "01-greet", "1", "01"} {
		if l, err := Find(name); err != nil || l.Name != "greet" {
			t.Errorf("Find(%q) = %v, %v", name, l, err)
		}
	}
	if _, err := Find("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "greet") {
		t.Errorf("Find(nope) = %v; want ErrNotFound listing the lessons", err)
	}
}

const good = `# T
Do it.
fault: 421:noop
lmtp: yes
user: carol:carolpw
server: start with --lmtp

## One
Text.
check: reply EHLO 250 tls or greeted
check: recipients ok=1 refused=2
hint: h1
hint: h2
wrong: reply MAIL 5xx enhanced=5.5.1 | w1
`

func TestParseGood(t *testing.T) {
	l, err := Parse("x/good.md", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "good" || l.Title != "T" || l.Task != "Do it." || !l.LMTP || len(l.Faults) != 1 || len(l.Users) != 1 || l.Server != "start with --lmtp" {
		t.Errorf("lesson = %+v", l)
	}
	s := l.Steps[0]
	if s.Title != "One" || s.Text != "Text." || len(s.Checks) != 2 || len(s.Hints) != 2 || len(s.Wrong) != 1 || s.Wrong[0].Hint != "w1" || s.Line != 8 {
		t.Errorf("step = %+v", s)
	}
	if len(s.Checks[0].alts) != 2 {
		t.Errorf("alternatives: %+v", s.Checks[0])
	}
}

// Every bad file is a *ParseError naming the line, and nothing panics.
func TestParseBad(t *testing.T) {
	step := "\n## S\ncheck: greeted\nhint: h\n"
	for _, c := range []struct {
		name, file string
		line       int
		want       string
	}{
		{"empty", "", 0, "no title"},
		{"text first", "hello\n# T\n", 1, "text before the title"},
		{"no task", "# T\n" + step, 0, "no task"},
		{"no steps", "# T\ntask\n", 0, "no steps"},
		{"two titles", "# T\ntask\n# U\n", 3, "a second title"},
		{"h3", "# T\ntask\n### x\n", 3, "headings"},
		{"unknown directive", "# T\ntask\nfoo: bar\n", 3, `unknown directive "foo"`},
		{"check outside step", "# T\ntask\ncheck: greeted\n", 3, "belongs to a step"},
		{"fault in step", "# T\ntask\n## S\nfault: 421\n", 4, "before the first step"},
		{"bad check", "# T\ntask\n## S\ncheck: teleport\n", 4, `unknown condition "teleport"`},
		{"bad code", "# T\ntask\n## S\ncheck: reply MAIL 25\n", 4, "reply code"},
		{"bad code 6xx", "# T\ntask\n## S\ncheck: reply MAIL 650\n", 4, "reply code"},
		{"reply without code", "# T\ntask\n## S\ncheck: reply MAIL\n", 4, "want reply VERB CODE"},
		{"bad option", "# T\ntask\n## S\ncheck: greeted loudly\n", 4, "unknown option"},
		{"bad count", "# T\ntask\n## S\ncheck: recipients ok=-1\n", 4, "a number"},
		{"empty or", "# T\ntask\n## S\ncheck: greeted or \n", 4, "empty condition"},
		{"wrong without hint", "# T\ntask\n## S\ncheck: greeted\nhint: h\nwrong: greeted\n", 6, "CHECK | HINT"},
		{"no check", "# T\ntask\n## S\nhint: h\n", 3, "has no check"},
		{"no hint", "# T\ntask\n## S\ncheck: greeted\n", 3, "has no hint"},
		{"empty value", "# T\ntask\n## S\nhint:\n", 4, "needs a value"},
		{"bad user", "# T\ntask\nuser: carol\n", 3, "NAME:PASS"},
		{"bad lmtp", "# T\ntask\nlmtp: no\n", 3, "lmtp"},
		{"open comment", "# T\ntask\n<!-- x\n" + step, 0, "never closed"},
		{"payload", "# T\ntask\n## S\ncheck: payload ..\n", 4, "payload prefix="},
		{"NUL", "# T\x00\n", 0, "NUL"},
		{"huge", "# T\n" + strings.Repeat("x", MaxFile), 0, "at most"},
		{"long line", "# T\ntask\n" + strings.Repeat("y", 70000) + step, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.md", []byte(c.file))
			if c.name == "long line" {
				if err != nil {
					t.Fatalf("a long text line is text: %v", err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v; want a *ParseError", err)
			}
			if pe.Line != c.line || !strings.Contains(pe.Msg, c.want) {
				t.Errorf("err = %v; want line %d and %q", err, c.line, c.want)
			}
			if c.line > 0 && !strings.HasPrefix(err.Error(), "bad.md:") {
				t.Errorf("err = %q; want it to start with file:line", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse("f.md", b)
		if err == nil && (l.Title == "" || len(l.Steps) == 0) {
			t.Fatalf("accepted a lesson without title or steps")
		}
	})
}

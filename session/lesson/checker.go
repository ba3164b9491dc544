package lesson

import "github.com/ehlo-dev/ehlo/session"

// Checker follows a conversation for one lesson: fed the conversation's
// events in order, it says which step is current, whether the lesson is
// done, and which hint to show. A step is done when all its checks match
// what happened since the step before it was done (and the state now); a
// wrong move the step anticipates shows that move's hint instead of the
// step's own. It is not safe for concurrent use: the TUI feeds it from its
// own goroutine.
type Checker struct {
	l     *Lesson
	t     trail
	step  int // the current step; len(l.Steps) once done
	hint  int // which of the step's hints is shown
	wrong int // the anticipated mistake whose hint is shown, -1 none
	// checks read the records from where the current step began; wrongs
	// from there too, or from after the last mistake the student
	// dismissed with NextHint.
	checks, wrongs scans
	gen            int // the trail's generation last checked
}

// NewChecker starts l at its first step.
func NewChecker(l *Lesson) *Checker {
	return &Checker{l: l, wrong: -1}
}

// Lesson is the lesson being checked.
func (c *Checker) Lesson() *Lesson { return c.l }

// Event takes one event of the conversation; it has the shape of a
// session.Sink, but must be called from one goroutine.
func (c *Checker) Event(e session.Event) {
	c.t.apply(e)
	if n := c.t.trim(); n > 0 {
		c.checks.shift(n)
		c.wrongs.shift(n)
	}
	if c.t.gen == c.gen {
		return // nothing a check reads has changed
	}
	c.gen = c.t.gen
	c.advance()
}

func (c *Checker) advance() {
	for c.step < len(c.l.Steps) {
		s := &c.l.Steps[c.step]
		if !c.all(s.Checks) {
			break
		}
		c.step++
		c.hint, c.wrong = 0, -1
		c.checks.reset(len(c.t.records))
		c.wrongs.reset(len(c.t.records))
	}
	if c.step >= len(c.l.Steps) {
		return
	}
	ws := c.l.Steps[c.step].Wrong
	for i := range ws {
		if ws[i].Check.matches(&c.t, &c.wrongs) {
			c.wrong = i
			return
		}
	}
}

func (c *Checker) all(checks []Check) bool {
	for i := range checks {
		if !checks[i].matches(&c.t, &c.checks) {
			return false
		}
	}
	return true
}

// NextHint shows the current step's next hint (and drops a wrong move's
// hint), going round to the first after the last.
func (c *Checker) NextHint() {
	if c.step >= len(c.l.Steps) {
		return
	}
	if c.wrong >= 0 {
		c.wrong = -1
		c.wrongs.reset(len(c.t.records))
		return
	}
	c.hint = (c.hint + 1) % len(c.l.Steps[c.step].Hints)
}

// Progress is where the student stands.
type Progress struct {
	// Step is the index of the current step; Done says every step is
	// done (Step is then len(Steps)).
	Step int
	Done bool
	// Hint is the hint to show now; Wrong says it answers a mistake the
	// lesson anticipated. HintNumber and Hints say which of the step's
	// hints it is (0 for a mistake's).
	Hint       string
	Wrong      bool
	HintNumber int
	Hints      int
}

// Progress returns where the student stands.
func (c *Checker) Progress() Progress {
	p := Progress{Step: c.step, Done: c.step >= len(c.l.Steps)}
	if p.Done {
		return p
	}
	s := c.l.Steps[c.step]
	p.Hints = len(s.Hints)
	if c.wrong >= 0 {
		p.Hint, p.Wrong = s.Wrong[c.wrong].Hint, true
		return p
	}
	p.Hint, p.HintNumber = s.Hints[c.hint], c.hint+1
	return p
}

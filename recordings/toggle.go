package recordings

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"sync"
	"time"

	"github.com/ehlo-dev/ehlo/session"
)

// Toggle starts and stops recordings of a live session, for the TUI's
// /record and --record. A new recording after a stop goes to a new file:
// recordings are never appended to or overwritten. Each starts its clock
// when it starts, and one started mid-session opens with the session's
// state (session.Live.Record), so that its replay shows the right state
// and time.
type Toggle struct {
	mu     sync.Mutex
	record func(s session.Sink, origin time.Time) (remove func())
	header Header
	path   string
	rec    *Recorder
	remove func()
}

// NewToggle returns a Toggle that attaches its recordings with record
// (session.Live.Record), writes the first one to path (a name made of the
// time when empty) and gives each the header h, Created set.
func NewToggle(record func(s session.Sink, origin time.Time) (remove func()), path string, h Header) *Toggle {
	return &Toggle{record: record, path: path, header: h}
}

// Toggle stops the recording under way (path is then empty), or starts
// one to path.
func (r *Toggle) Toggle() (on bool, path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rec != nil {
		err := r.stopLocked()
		return false, r.path, err
	}
	h := r.header
	h.Created = time.Now()
	var rec *Recorder
	if r.path == "" {
		rec, err = r.createNamed(h)
	} else {
		rec, err = Create(r.path, h)
	}
	if err != nil {
		path := r.path
		r.path = ""
		return false, path, err
	}
	r.rec, r.remove = rec, r.record(rec, rec.Header().Created)
	return true, r.path, nil
}

// createNamed creates a recording named after the time it starts, with
// "-2", "-3"… when a recording of the same second (a /record pressed
// twice within it) or another file has the name.
func (r *Toggle) createNamed(h Header) (*Recorder, error) {
	stamp := "ehlo-" + h.Created.Format("20060102-150405")
	r.path = stamp + ".jsonl"
	rec, err := Create(r.path, h)
	for n := 2; errors.Is(err, fs.ErrExist) && n < 100; n++ {
		r.path = stamp + "-" + strconv.Itoa(n) + ".jsonl"
		rec, err = Create(r.path, h)
	}
	return rec, err
}

// Stop stops the recording under way, if any, and closes its file.
func (r *Toggle) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopLocked()
}

func (r *Toggle) stopLocked() error {
	if r.rec == nil {
		return nil
	}
	r.remove()
	err := r.rec.Close()
	r.rec = nil
	if err != nil {
		err = fmt.Errorf("recording %s: %w", r.path, err)
	}
	r.path = "" // the next /record starts a new file
	return err
}

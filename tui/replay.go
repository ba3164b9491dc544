package tui

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/themes"
)

// Replay speeds, and the longest wait between two events whatever the
// recording says: a session that idled for an hour replays in seconds.
var replaySpeeds = []float64{0.25, 0.5, 1, 2, 4, 8, 16, 64}

const (
	replayDefaultSpeed = 2 // 1×
	maxReplayDelay     = 2 * time.Second
	checkpointEvery    = 256
	// maxBurst bounds the events applied in one tick when they come
	// without delay, so that a long burst still lets the UI draw.
	maxBurst = 2048
)

// replayer drives the panes from a recording. The wire log holds every
// line of the recording, built once; the cursor says how many events have
// happened, and so how many lines exist. The panes' state at the cursor is
// recomputed from the nearest checkpoint, so stepping back is cheap too.
type replayer struct {
	keys    replayKeyMap
	rec     *recordings.Recording
	pos     int   // events applied
	lineEnd []int // lines that exist after event i
	cps     []builder
	cur     builder
	playing bool
	speed   int
	gen     int // tick generation: a pause or a seek voids ticks in flight
}

type replayTickMsg struct{ gen int }

func newReplayer(rec *recordings.Recording, log *wireLog) *replayer {
	lmtp := strings.EqualFold(rec.Header.Transport, "lmtp")
	b := newBuilder(log, lmtp)
	b.st.Server = rec.Header.Server
	r := &replayer{keys: defaultReplayKeyMap(), rec: rec, speed: replayDefaultSpeed, lineEnd: make([]int, len(rec.Events))}
	lines := 0
	for _, e := range rec.Events {
		lines += bytes.Count(e.Data, []byte("\n")) + 1
	}
	log.reserve(lines)
	for i, e := range rec.Events {
		if i%checkpointEvery == 0 {
			r.cps = append(r.cps, b.clone())
		}
		b.apply(e)
		r.lineEnd[i] = log.Len()
	}
	b.flushPartial()
	if n := len(r.lineEnd); n > 0 {
		r.lineEnd[n-1] = log.Len()
	}
	if len(r.cps) == 0 {
		r.cps = append(r.cps, b.clone())
	}
	r.cur = r.cps[0].clone()
	return r
}

// lines is how many wire-log lines exist at the cursor.
func (r *replayer) lines() int {
	if r.pos == 0 {
		return 0
	}
	return r.lineEnd[r.pos-1]
}

func (r *replayer) state() paneState {
	st := r.cur.st
	st.Started = r.rec.Header.Created
	if st.Server == "" {
		st.Server = r.rec.Header.Server
	}
	st.Transport = r.rec.Header.Transport
	return st
}

func (r *replayer) total() int { return len(r.rec.Events) }

// step applies the next event.
func (r *replayer) step() bool {
	if r.pos >= r.total() {
		return false
	}
	r.cur.apply(r.rec.Events[r.pos])
	r.pos++
	return true
}

// seek moves the cursor to pos events, from the nearest checkpoint.
func (r *replayer) seek(pos int) {
	pos = min(max(pos, 0), r.total())
	if pos >= r.pos && pos-r.pos < checkpointEvery {
		for r.pos < pos {
			r.step()
		}
		return
	}
	k := min(pos/checkpointEvery, len(r.cps)-1)
	r.cur = r.cps[k].clone()
	r.pos = k * checkpointEvery
	for r.pos < pos {
		r.step()
	}
}

// reveal pauses and moves the cursor just far enough for line i to exist
// (a search hit beyond it).
func (r *replayer) reveal(i int) {
	r.pause()
	r.seek(sort.SearchInts(r.lineEnd, i+1) + 1)
}

// delay is how long to wait before the event at the cursor, at the
// current speed, clamped.
func (r *replayer) delay() time.Duration {
	if r.pos == 0 || r.pos >= r.total() {
		return 0
	}
	d := r.rec.Events[r.pos].Offset - r.rec.Events[r.pos-1].Offset
	d = time.Duration(float64(d) / replaySpeeds[r.speed])
	return min(max(d, 0), maxReplayDelay)
}

// tick schedules the next step while playing.
func (r *replayer) tick() tea.Cmd {
	if !r.playing || r.pos >= r.total() {
		r.playing = false
		return nil
	}
	gen := r.gen
	d := max(r.delay(), time.Millisecond)
	return tea.Tick(d, func(time.Time) tea.Msg { return replayTickMsg{gen} })
}

// advance plays the event at the cursor and those that follow it without
// delay.
func (r *replayer) advance() {
	for n := 0; n < maxBurst; n++ {
		if !r.step() {
			r.playing = false
			return
		}
		if r.delay() >= time.Millisecond {
			return
		}
	}
}

func (r *replayer) togglePlay() tea.Cmd {
	r.gen++
	if r.playing {
		r.playing = false
		return nil
	}
	if r.pos >= r.total() {
		r.seek(0)
	}
	r.playing = true
	return r.tick()
}

func (r *replayer) elapsed() time.Duration {
	if r.pos == 0 {
		return 0
	}
	return r.rec.Events[r.pos-1].Offset
}

func (r *replayer) length() time.Duration {
	if n := r.total(); n > 0 {
		return r.rec.Events[n-1].Offset
	}
	return 0
}

func speedLabel(f float64) string {
	if f < 1 {
		return fmt.Sprintf("%g×", f)
	}
	return fmt.Sprintf("%d×", int(f))
}

// controls draws the replay bar that stands where the composer is.
func (r *replayer) controls(s themes.Styles, w int) string {
	state := "❚❚ paused"
	if r.playing {
		state = "▶ playing"
	}
	if r.pos >= r.total() && !r.playing {
		state = "■ end"
	}
	info := fmt.Sprintf("%s · %s · event %d/%d · %s / %s ", state, speedLabel(replaySpeeds[r.speed]),
		r.pos, r.total(), stamp(r.elapsed()), stamp(r.length()))
	barW := w - displayWidth(info)
	if barW < 10 {
		return truncate(s.Accent.Render(info), w)
	}
	done := 0
	if r.total() > 0 {
		done = barW * r.pos / r.total()
	}
	return s.Accent.Render(info) + s.StepDone.Render(strings.Repeat("━", done)) + s.StepTodo.Render(strings.Repeat("─", barW-done))
}

// replayKeyMap is the replay bar's: the player's keys, and q to leave
// (no text is typed in a replay).
type replayKeyMap struct {
	PlayPause, StepForward, StepBack, Faster, Slower, Start, End, Quit key.Binding
}

func defaultReplayKeyMap() replayKeyMap {
	return replayKeyMap{
		PlayPause:   binding("space", "play/pause", "space"),
		StepForward: binding("→", "step", "right", "l"),
		StepBack:    binding("←", "back", "left", "h"),
		Faster:      binding("+", "faster", "+", "="),
		Slower:      binding("-", "slower", "-"),
		Start:       binding("home", "start", "home"),
		End:         binding("end", "end", "end"),
		Quit:        binding("q", "quit", "q"),
	}
}

// ShortHelp is the player's part of the help bar.
func (k replayKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.PlayPause, k.StepForward, k.StepBack, k.Faster, k.Slower, k.Start, k.End}
}

// FullHelp is the player's group in the help overlay.
func (k replayKeyMap) FullHelp() []key.Binding { return k.ShortHelp() }

// update handles a key of the player. handled says it was one; moved
// that the cursor may have moved, so the panes must follow.
func (r *replayer) update(msg tea.KeyPressMsg) (cmd tea.Cmd, handled, moved bool) {
	k := r.keys
	switch {
	case key.Matches(msg, k.PlayPause):
		return r.togglePlay(), true, false
	case key.Matches(msg, k.Quit):
		return tea.Quit, true, false
	case key.Matches(msg, k.Faster):
		r.speed = min(r.speed+1, len(replaySpeeds)-1)
	case key.Matches(msg, k.Slower):
		r.speed = max(r.speed-1, 0)
	case key.Matches(msg, k.StepForward):
		r.pause()
		r.step()
	case key.Matches(msg, k.StepBack):
		r.pause()
		r.seek(r.pos - 1)
	case key.Matches(msg, k.Start):
		r.pause()
		r.seek(0)
	case key.Matches(msg, k.End):
		r.pause()
		r.seek(r.total())
	default:
		return nil, false, false
	}
	return nil, true, true
}

// pause stops playing and voids the ticks in flight.
func (r *replayer) pause() {
	r.gen++
	r.playing = false
}

// resume starts from the state a recording begun mid-session opens with,
// so that its first frame shows the connection as it was (greeted, in
// TLS, its extensions) rather than a disconnected session in clear text.
// Where the client was (inside an AUTH exchange, inside a message) the
// session's Follower takes from the same event.
func (b *builder) resume(e session.Event) {
	s := e.Start
	if s == nil {
		return
	}
	b.addr, b.connected = s.Addr, s.Connected
	st := &b.st
	if s.Addr != "" {
		st.Server = s.Addr
	}
	st.Connected, st.TLSInfo, st.Stale = s.Connected, s.Handshake, s.ExtensionsStale
	st.Step = s.Step()
	st.TLS, st.Auth, st.Rcpts = s.State.TLS, s.State.Authenticated, s.State.Recipients
	st.Exts = st.Exts[:0:0]
	for _, x := range s.Extensions {
		st.Exts = append(st.Exts, extension{x.Keyword, x.Params})
	}
	st.Reached = reached{}
	st.track(true)
	b.info(lineInfo, e.Offset, s.Summary())
}

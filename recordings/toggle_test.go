package recordings

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/session"
)

// /record: the first recording goes to the path given, is fed by the live
// session while on and closed when toggled off; the next one goes to a new
// file and never overwrites the first.
func TestToggle(t *testing.T) {
	t.Chdir(t.TempDir())
	var sink session.Sink
	record := func(s session.Sink, origin time.Time) func() {
		sink = s
		return func() { sink = nil }
	}
	tg := NewToggle(record, "first.jsonl", Header{Server: "127.0.0.1:2525", Transport: "smtp", Network: "tcp"})
	on, path, err := tg.Toggle()
	if !on || path != "first.jsonl" || err != nil || sink == nil {
		t.Fatalf("start: %v %q %v, sink %v", on, path, err, sink)
	}
	sink.Event(session.Event{Kind: session.KindServer, Data: []byte("250 ok\r\n")})
	if on, path, err := tg.Toggle(); on || path != "" || err != nil || sink != nil {
		t.Fatalf("stop: %v %q %v", on, path, err)
	}
	rec, err := ReadFile("first.jsonl")
	if err != nil || len(rec.Events) == 0 || string(rec.Events[0].Data) != "250 ok\r\n" || rec.Header.Server != "127.0.0.1:2525" {
		t.Fatalf("first recording: %v %+v", err, rec)
	}
	on, path, err = tg.Toggle()
	if !on || err != nil || path == "first.jsonl" || filepath.Ext(path) != ".jsonl" {
		t.Fatalf("second start: %v %q %v", on, path, err)
	}
	if err := tg.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("second recording: %v", err)
	}
	if err := tg.Stop(); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

// Two recordings named after the same second get two files: /record
// pressed twice within a second used to fail with "file exists" because
// the name made of the time was taken.
func TestToggleSameSecond(t *testing.T) {
	t.Chdir(t.TempDir())
	now := time.Now()
	for s := range 3 { // the names the next seconds would make, taken
		name := "ehlo-" + now.Add(time.Duration(s)*time.Second).Format("20060102-150405") + ".jsonl"
		if err := os.WriteFile(name, []byte("someone else's\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tg := NewToggle(func(session.Sink, time.Time) func() { return func() {} }, "", Header{Transport: "smtp"})
	on, path, err := tg.Toggle()
	if !on || err != nil || filepath.Ext(path) != ".jsonl" {
		t.Fatalf("start: %v %q %v", on, path, err)
	}
	if err := tg.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err != nil {
		t.Errorf("the recording %s: %v", path, err)
	}
}

package sandbox

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The workshop's tests: accounts, isolation between students, XMAILBOX,
// the room API (Sessions, Watch, SetFault, OnSessionEnd), and a room of
// 60 students sending at once.

func students(n int) map[string]string {
	u := map[string]string{}
	for i := 1; i <= n; i++ {
		u[fmt.Sprintf("student%02d", i)] = fmt.Sprintf("pw%02d", i)
	}
	return u
}

// login is a student's session: EHLO, STARTTLS, EHLO, AUTH PLAIN, and the
// EHLO after AUTH that advertises XMAILBOX.
func login(t testing.TB, srv *Server, user, pass string) *client {
	t.Helper()
	c := connect(t, srv)
	c.ehlo()
	c.startTLS(srv, "localhost")
	c.ehlo()
	c.cmdText("AUTH PLAIN "+b64("\x00"+user+"\x00"+pass), 235, "2.7.0 ")
	return c
}

func advertises(r reply, kw string) bool {
	for _, l := range r.lines[1:] {
		if strings.EqualFold(strings.Fields(l)[0], kw) {
			return true
		}
	}
	return false
}

// list runs XMAILBOX LIST and returns the metas.
func (c *client) list() []xmMeta {
	c.t.Helper()
	r := c.cmd("XMAILBOX LIST", 250)
	n, err := strconv.Atoi(strings.Fields(r.lines[0])[0])
	if err != nil || r.lines[0] != strconv.Itoa(n)+" messages" || len(r.lines) != n+2 || r.lines[n+1] != "end" {
		c.t.Fatalf("LIST reply %q", r.raw)
	}
	var out []xmMeta
	for _, l := range r.lines[1 : n+1] {
		b, err := base64.StdEncoding.DecodeString(l)
		if err != nil {
			c.t.Fatalf("LIST line %q: %v", l, err)
		}
		var m xmMeta
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("LIST meta %s: %v", b, err)
		}
		out = append(out, m)
	}
	return out
}

// fetch reads a whole message through FETCH pages, checking each page's
// header and the reply's limits.
func (c *client) fetch(id string) []byte {
	c.t.Helper()
	var data []byte
	for {
		r := c.cmd("XMAILBOX FETCH "+id+" "+strconv.Itoa(len(data)), 250)
		if len(r.raw) > 1<<20 || len(r.lines) > 1000 {
			c.t.Fatalf("FETCH reply of %d bytes, %d lines", len(r.raw), len(r.lines))
		}
		var size, off, n int
		if _, err := fmt.Sscanf(r.lines[0], "%d %d %d", &size, &off, &n); err != nil || off != len(data) {
			c.t.Fatalf("FETCH header %q at offset %d", r.lines[0], len(data))
		}
		if n > xmPage || r.lines[len(r.lines)-1] != "end" {
			c.t.Fatalf("FETCH page of %d bytes, last line %q", n, r.lines[len(r.lines)-1])
		}
		var page []byte
		for _, l := range r.lines[1 : len(r.lines)-1] {
			if len(l) > 4000 {
				c.t.Fatalf("FETCH line of %d characters", len(l))
			}
			b, err := base64.StdEncoding.DecodeString(l)
			if err != nil {
				c.t.Fatalf("FETCH line: %v", err)
			}
			page = append(page, b...)
		}
		if len(page) != n {
			c.t.Fatalf("FETCH page holds %d bytes, header says %d", len(page), n)
		}
		data = append(data, page...)
		if len(data) >= size {
			return data
		}
	}
}

func ids(metas []xmMeta) []string {
	var out []string
	for _, m := range metas {
		out = append(out, m.ID)
	}
	return out
}

func queuedID(t testing.TB, r reply) string {
	t.Helper()
	_, id, ok := strings.Cut(r.text(), "queued as ")
	if !ok {
		t.Fatalf("no queue id in %q", r.raw)
	}
	return id
}

func TestWorkshopIsolation(t *testing.T) {
	srv, _ := start(t, Config{Workshop: true, Users: students(3)})
	s1 := login(t, srv, "student01", "pw01")
	s2 := login(t, srv, "student02", "pw02")
	s3 := login(t, srv, "student03", "pw03")
	for _, c := range []*client{s1, s2, s3} {
		if !advertises(c.ehlo(), "XMAILBOX") {
			t.Fatal("XMAILBOX not advertised after AUTH")
		}
	}
	body := "Subject: x\r\n\r\nhello\r\n"
	a := queuedID(t, s1.sendMessage("student01@x.test", []string{"Student02@room.test"}, body)) // to 02: 01's and 02's
	b := queuedID(t, s2.sendMessage("student02@x.test", []string{"nobody@x.test"}, body))       // 02's alone
	c := queuedID(t, s3.sendMessage("student01@x.test", []string{"student03@x.test"}, body))    // 03's: the From is not the rule
	// A session that never authenticated, to student01.
	anon := connect(t, srv)
	anon.ehlo()
	d := queuedID(t, anon.sendMessage("x@x.test", []string{"student01@elsewhere.test"}, body))

	want := map[*client][]string{s1: {a, d}, s2: {a, b}, s3: {c}}
	all := []string{a, b, c, d}
	for cl, mine := range want {
		if got := ids(cl.list()); !slices.Equal(got, mine) {
			t.Errorf("LIST = %v, want %v", got, mine)
		}
		for _, id := range all {
			if slices.Contains(mine, id) {
				if got := string(cl.fetch(id)); got != body {
					t.Errorf("FETCH %s = %q", id, got)
				}
				continue
			}
			// Another's message is answered exactly like a missing one.
			other := cl.cmd("XMAILBOX FETCH "+id+" 0", 550)
			missing := cl.cmd("XMAILBOX FETCH s999.1 0", 550)
			if other.raw != missing.raw {
				t.Errorf("FETCH of another's %s: %q; of a missing id: %q", id, other.raw, missing.raw)
			}
		}
	}
	if n := srv.Mailbox().Len(); n != 4 {
		t.Errorf("the sandbox's own mailbox holds %d messages, want all 4", n)
	}
}

func TestXMailboxRefused(t *testing.T) {
	t.Run("before AUTH", func(t *testing.T) {
		srv, _ := start(t, Config{Workshop: true, Users: students(1)})
		c := connect(t, srv)
		if advertises(c.ehlo(), "XMAILBOX") {
			t.Error("XMAILBOX advertised before STARTTLS and AUTH")
		}
		c.startTLS(srv, "localhost")
		if advertises(c.ehlo(), "XMAILBOX") {
			t.Error("XMAILBOX advertised before AUTH")
		}
		c.cmdText("XMAILBOX LIST", 530, "5.7.0 ")
		c.cmdText("XMAILBOX FETCH s1.1 0", 530, "5.7.0 ")
		c.cmdText("AUTH PLAIN "+b64("\x00student01\x00wrong"), 535, "5.7.8 ")
		c.cmdText("XMAILBOX LIST", 530, "5.7.0 ")
		c.cmdText("AUTH PLAIN "+b64("\x00student01\x00pw01"), 235, "2.7.0 ")
		for _, bad := range []string{"XMAILBOX", "XMAILBOX LIST x", "XMAILBOX FETCH s1.1", "XMAILBOX FETCH s1.1 -1", "XMAILBOX FETCH s1.1 x", "XMAILBOX DELETE s1.1"} {
			c.cmdText(bad, 501, "5.5.4 ")
		}
	})
	t.Run("without --workshop", func(t *testing.T) {
		srv, _ := start(t, Config{})
		c := tlsSession(t, srv)
		c.cmdText("AUTH PLAIN "+b64("\x00alice\x00alicepw"), 235, "2.7.0 ")
		if advertises(c.ehlo(), "XMAILBOX") {
			t.Error("XMAILBOX advertised without --workshop")
		}
		c.cmdText("XMAILBOX LIST", 502, "5.5.1 ")
		if srv.Sessions() != nil {
			t.Error("Sessions outside a workshop")
		}
		if err := srv.SetFault("", "421"); err == nil {
			t.Error("SetFault outside a workshop")
		}
	})
}

func TestXMailboxPaging(t *testing.T) {
	srv, _ := start(t, Config{Workshop: true, Users: students(2)})
	c := login(t, srv, "student01", "pw01")
	var sb strings.Builder
	sb.WriteString("Subject: big\r\n\r\n")
	for i := 0; sb.Len() < 600<<10; i++ {
		fmt.Fprintf(&sb, "%06d %s\r\n", i, strings.Repeat("abcdefghij", 7))
	}
	body := sb.String()
	id := queuedID(t, c.sendMessage("student01@x.test", []string{"a@x.test"}, body))
	if got := c.fetch(id); string(got) != body {
		t.Fatalf("paged FETCH gave %d bytes, want the %d sent", len(got), len(body))
	}
	r := c.cmd("XMAILBOX FETCH "+id+" 262144", 250)
	if want := fmt.Sprintf("%d 262144 262144", len(body)); r.lines[0] != want {
		t.Errorf("second page header %q, want %q", r.lines[0], want)
	}
	c.cmd(fmt.Sprintf("XMAILBOX FETCH %s %d", id, len(body)), 250) // the end: an empty page
	c.cmdText(fmt.Sprintf("XMAILBOX FETCH %s %d", id, len(body)+1), 501, "5.5.4 ")
	m := c.list()[0]
	if m.Size != len(body) || m.AuthUser != "student01" || !m.TLS || m.TLSVersion != "TLS 1.3" || m.Helo != "client.test" {
		t.Errorf("meta %+v", m)
	}
	if _, err := time.Parse(time.RFC3339Nano, m.Received); err != nil {
		t.Errorf("received %q: %v", m.Received, err)
	}
}

func TestRefusedRecipientsKept(t *testing.T) {
	srv, _ := start(t, Config{Faults: faults(t, "refuse-rcpt=bad@x.test")})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	c.cmd("RCPT TO:<good@x.test>", 250)
	c.cmd("RCPT TO:<bad@x.test>", 550)
	c.cmd("RCPT TO:<full@x.test>", 452)
	c.cmd("RCPT TO:<broken", 501)
	c.cmd("DATA", 354)
	c.write("Subject: x\r\n\r\nhi\r\n.\r\n")
	c.expect(250)
	msgs := srv.Mailbox().Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	want := []Recipient{
		{"good@x.test", 250, "2.1.5 Ok"},
		{"bad@x.test", 550, "5.1.1 <bad@x.test>: Recipient address rejected"},
		{"full@x.test", 452, "4.2.2 <full@x.test>: Mailbox full"},
		{"TO:<broken", 501, "5.5.4 Syntax: RCPT TO:<address> (no closing bracket)"},
	}
	if got := msgs[0].Rcpts; !slices.Equal(got, want) {
		t.Errorf("Rcpts = %+v\nwant     %+v", got, want)
	}
	if !slices.Equal(msgs[0].To, []string{"good@x.test"}) {
		t.Errorf("To = %q", msgs[0].To)
	}
	// The next transaction starts with a clean list.
	c.sendMessage("a@x.test", []string{"z@x.test"}, "x\r\n")
	if got := srv.Mailbox().Messages()[1].Rcpts; len(got) != 1 || got[0].Addr != "z@x.test" {
		t.Errorf("second message's Rcpts = %+v", got)
	}
}

func TestRefusedRecipientsBounded(t *testing.T) {
	srv, _ := start(t, Config{MaxRecipients: 3, Faults: faults(t, "refuse-rcpt=bad@x.test")})
	c := connect(t, srv)
	c.ehlo()
	c.cmd("MAIL FROM:<a@x.test>", 250)
	for range 20 {
		c.cmd("RCPT TO:<bad@x.test>", 550)
	}
	c.cmd("RCPT TO:<good@x.test>", 250)
	c.cmd("DATA", 354)
	c.write("x\r\n.\r\n")
	c.expect(250)
	got := srv.Mailbox().Messages()[0].Rcpts
	if len(got) != 4 || got[3].Addr != "good@x.test" {
		t.Errorf("Rcpts = %+v, want 3 refused and the accepted one", got)
	}
}

func TestGenerateStudents(t *testing.T) {
	users, names, err := GenerateStudents(60)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 60 || len(names) != 60 || names[0] != "student01" || names[59] != "student60" {
		t.Fatalf("names %v", names)
	}
	seen := map[string]bool{}
	pw := regexp.MustCompile(`^[bdfghkmnprstv][aeiou][bdfghkmnprstv][aeiou][bdfghkmnprstv][aeiou]-[bdfghkmnprstv][aeiou][bdfghkmnprstv][aeiou][bdfghkmnprstv][aeiou]$`)
	for _, n := range names {
		p := users[n]
		if !pw.MatchString(p) || seen[p] {
			t.Errorf("%s: password %q (seen before: %v)", n, p, seen[p])
		}
		seen[p] = true
	}
	if _, names, _ := GenerateStudents(100); names[0] != "student001" || names[99] != "student100" {
		t.Errorf("100 students: %s…%s", names[0], names[99])
	}
	for _, n := range []int{0, -1, maxStudents + 1} {
		if _, _, err := GenerateStudents(n); err == nil {
			t.Errorf("GenerateStudents(%d) succeeded", n)
		}
	}
	// Two rooms never share passwords by construction of crypto/rand;
	// at least they differ here.
	other, _, _ := GenerateStudents(60)
	if other["student01"] == users["student01"] && other["student02"] == users["student02"] {
		t.Error("two calls gave the same passwords")
	}
}

func TestWriteAccountsCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts.csv")
	users := map[string]string{"student01": "bafemo-tikuda", "student02": "a,b\"c"}
	names := []string{"student01", "student02"}
	if err := WriteAccountsCSV(path, users, names, false); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if want := "user,password\nstudent01,bafemo-tikuda\nstudent02,\"a,b\"\"c\"\n"; string(b) != want {
		t.Errorf("CSV %q, want %q", b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	err := WriteAccountsCSV(path, map[string]string{"student01": "new"}, []string{"student01"}, false)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second write without overwrite: %v", err)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Error("existing file changed")
	}
	if err := WriteAccountsCSV(path, map[string]string{"student01": "new"}, []string{"student01"}, true); err != nil {
		t.Fatal(err)
	}
	if b3, _ := os.ReadFile(path); string(b3) != "user,password\nstudent01,new\n" {
		t.Errorf("overwritten CSV %q", b3)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestReadUsersFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	os.WriteFile(path, []byte("# the room\r\nann:pw1\r\n\nbob:p:w2\n"), 0o600)
	users, names, err := ReadUsersFile(path)
	if err != nil || !slices.Equal(names, []string{"ann", "bob"}) || users["ann"] != "pw1" || users["bob"] != "p:w2" {
		t.Fatalf("%v %v %v", users, names, err)
	}
	os.WriteFile(path, []byte("ann:1\n\nnocolon\n"), 0o600)
	if _, _, err := ReadUsersFile(path); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad line: %v", err)
	}
	os.WriteFile(path, []byte("ann:1\nann:2\n"), 0o600)
	if _, _, err := ReadUsersFile(path); err == nil || !strings.Contains(err.Error(), "line 2: ann given twice") {
		t.Errorf("duplicate: %v", err)
	}
}

// waitClosed waits until the room has closed session id: the client sees
// the close a moment before the server's goroutine records it.
func waitClosed(t *testing.T, srv *Server, id uint64) {
	t.Helper()
	for deadline := time.Now().Add(ioTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		for _, s := range srv.Sessions() {
			if s.ID == id && s.Closed {
				return
			}
		}
	}
	t.Fatalf("session %d never closed", id)
}

// sessionOf finds the live session of user.
func sessionOf(t *testing.T, srv *Server, user string) SessionInfo {
	t.Helper()
	for _, s := range srv.Sessions() {
		if s.User == user && !s.Closed {
			return s
		}
	}
	t.Fatalf("no live session of %s in %+v", user, srv.Sessions())
	return SessionInfo{}
}

func TestRoomFaultReachesOneStudent(t *testing.T) {
	srv, _ := start(t, Config{Workshop: true, Users: students(2)})
	s1 := login(t, srv, "student01", "pw01")
	s2 := login(t, srv, "student02", "pw02")
	if err := srv.SetFault("student01", "refuse-rcpt"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]string{{"nobody", "421"}, {"student01", "nonsense"}, {"", "tls-legacy"}} {
		if err := srv.SetFault(bad[0], bad[1]); err == nil {
			t.Errorf("SetFault(%q, %q) succeeded", bad[0], bad[1])
		}
	}
	s1.cmd("MAIL FROM:<a@x.test>", 250)
	s1.cmdText("RCPT TO:<b@x.test>", 550, "5.1.1 ")
	s2.cmd("MAIL FROM:<a@x.test>", 250)
	s2.cmdText("RCPT TO:<b@x.test>", 250, "2.1.5 ")
	if f := sessionOf(t, srv, "student01").Fault; f != "refuse-rcpt" {
		t.Errorf("student01's session shows fault %q", f)
	}
	if f := sessionOf(t, srv, "student02").Fault; f != "" {
		t.Errorf("student02's session shows fault %q", f)
	}
	srv.ClearFault("student01")
	s1.cmdText("RCPT TO:<b@x.test>", 250, "2.1.5 ")

	// The whole room: existing sessions at their next command, new
	// sessions from the greeting.
	if err := srv.SetFault("", "421"); err != nil {
		t.Fatal(err)
	}
	s1.cmd("NOOP", 421)
	s2.cmd("NOOP", 421)
	s1.expectClosed()
	dial(t, "tcp", srv.Addr()).expect(421)
	srv.ClearFault("")
	connect(t, srv).cmd("NOOP", 250)

	waitClosed(t, srv, 1)
	info := srv.Sessions()
	if len(info) != 4 || !info[0].Closed || info[0].User != "student01" || info[0].Errors != 2 || info[0].Phase != "closed" {
		t.Errorf("sessions %+v", info)
	}
}

func TestWatch(t *testing.T) {
	srv, _ := start(t, Config{Workshop: true, Users: students(1)})
	c := login(t, srv, "student01", "pw01")
	id := sessionOf(t, srv, "student01").ID
	backlog, updates, stop, ok := srv.Watch(id)
	if !ok || len(backlog) == 0 || backlog[0].Client || !strings.HasPrefix(backlog[0].Text, "220 ") {
		t.Fatalf("backlog %+v", backlog)
	}
	c.cmd("NOOP hello", 250)
	want := []WireLine{{Client: true, Text: "NOOP hello"}, {Text: "250 2.0.0 Ok"}}
	for _, w := range want {
		select {
		case l := <-updates:
			if l.Client != w.Client || l.Text != w.Text || l.At.IsZero() {
				t.Errorf("line %+v, want %+v", l, w)
			}
		case <-time.After(ioTimeout):
			t.Fatal("no line")
		}
	}
	stop()
	stop()
	if _, open := <-updates; open {
		t.Error("updates open after stop")
	}
	if _, _, _, ok := srv.Watch(999); ok {
		t.Error("Watch of an unknown session")
	}

	// A reader that never reads: the session goes on, and the channel
	// ends with the count of what it lost.
	_, slow, _, _ := srv.Watch(id)
	const n = 600
	for range n {
		c.send("NOOP")
	}
	for range n {
		c.expect(250)
	}
	c.cmd("QUIT", 221)
	var got []WireLine
	for l := range slow {
		got = append(got, l)
	}
	sent := 2*n + 2
	last := got[len(got)-1].Text
	if len(got) != watchBuffer || last != fmt.Sprintf("… %d lines dropped", sent-(watchBuffer-1)) {
		t.Errorf("%d lines, last %q", len(got), last)
	}
	// A closed session can still be opened.
	if backlog, upd, _, ok := srv.Watch(id); !ok || len(backlog) == 0 {
		t.Error("closed session not watchable")
	} else if _, open := <-upd; open {
		t.Error("updates of a closed session open")
	}
}

func TestOnSessionEndHidesAuth(t *testing.T) {
	type ended struct {
		info  SessionInfo
		lines []WireLine
	}
	got := make(chan ended, 4)
	srv, _ := start(t, Config{Workshop: true, Users: students(1), OnSessionEnd: func(i SessionInfo, l []WireLine) {
		got <- ended{i, l}
	}})
	c := login(t, srv, "student01", "pw01")
	body := "Subject: s\r\n\r\n" + strings.Repeat("line\r\n", 300) + "..dot\r\n"
	c.sendMessage("student01@x.test", []string{"x@x.test"}, body)
	c.cmd("QUIT", 221)
	c2 := connect(t, srv)
	c2.ehlo()
	c2.startTLS(srv, "localhost")
	c2.ehlo()
	c2.cmd("AUTH LOGIN", 334)
	c2.cmd(b64("student01"), 334)
	c2.cmd(b64("pw01"), 235)
	c2.cmd("QUIT", 221)

	e, e2 := <-got, <-got
	if e.info.ID > e2.info.ID {
		e, e2 = e2, e
	}
	if !e.info.Closed || e.info.User != "student01" || e.info.Messages != 1 || !e.info.TLS || e.info.LastCommand != "QUIT" {
		t.Errorf("info %+v", e.info)
	}
	var texts []string
	for _, l := range e.lines {
		texts = append(texts, l.Text)
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"AUTH PLAIN ***", "Subject: s", "<… 103 more lines, ", "\n.\n250 2.0.0 Ok: queued as s1.1"} {
		if !strings.Contains(all, want) {
			t.Errorf("lines lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, b64("\x00student01\x00pw01")) || strings.Contains(all, "pw01") {
		t.Error("the password is in the lines")
	}
	var auth []string
	for _, l := range e2.lines {
		if l.Client && (strings.HasPrefix(l.Text, "AUTH") || l.Text == "***" || strings.Contains(l.Text, b64("pw01"))) {
			auth = append(auth, l.Text)
		}
	}
	if !slices.Equal(auth, []string{"AUTH LOGIN", "***", "***"}) {
		t.Errorf("AUTH LOGIN lines %q", auth)
	}
}

// A session's lines say which crossed inside TLS: STARTTLS and its 220
// in the clear, everything after the handshake inside.
func TestOnSessionEndMarksTLSLines(t *testing.T) {
	got := make(chan []WireLine, 1)
	srv, _ := start(t, Config{Workshop: true, Users: students(1), OnSessionEnd: func(_ SessionInfo, l []WireLine) {
		got <- l
	}})
	c := connect(t, srv)
	c.ehlo()
	c.startTLS(srv, "localhost")
	c.ehlo()
	c.cmd("QUIT", 221)
	var lines []string
	inside := false
	for _, l := range <-got {
		lines = append(lines, fmt.Sprintf("%v %s", l.TLS, l.Text))
		if strings.HasPrefix(l.Text, "220 2.0.0") { // the reply to STARTTLS
			if l.TLS {
				t.Errorf("the reply to STARTTLS is marked TLS")
			}
			inside = true
			continue
		}
		if l.TLS != inside {
			t.Errorf("%q: TLS %v, want %v", l.Text, l.TLS, inside)
		}
	}
	if !inside || !strings.HasSuffix(lines[len(lines)-1], "221 2.0.0 sandbox.ehlo.test Bye") || !strings.HasPrefix(lines[len(lines)-1], "true") {
		t.Errorf("lines:\n%s", strings.Join(lines, "\n"))
	}
}

// TestWorkshopLoad is a room of 60 students sending at once: every
// message is accepted, each student lists exactly their own, and the
// heap afterwards stays within what the bounds allow.
func TestWorkshopLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	heap := roomLoad(t, 60, 12)
	t.Logf("heap after 60 students × 12 messages: %d KiB", heap>>10)
}

// roomLoad runs n students, each sending per messages of 40 KiB (to the
// next student, so each mailbox receives 2 × per), then listing their
// mailbox in the same session. The bounds are small enough to be
// reached: each student's mailbox keeps 128 KiB (three messages), the
// sandbox's 4 MiB. It checks that every message was accepted and each
// student lists only their own, and returns the growth of the live heap.
func roomLoad(t testing.TB, n, per int) int64 {
	const studentBytes = 128 << 10
	before := heapInUse()
	srv, _ := start(t, Config{Workshop: true, Users: students(n), Log: devNull{},
		MailboxBytes: 4 << 20, StudentMailboxBytes: studentBytes, MaxMessageBytes: 64 << 10})
	// 40 KiB in lines of 975: what is measured is the room, not the
	// DATA reader's cost per line (under -race, 512 short lines a
	// message made the test slow enough to time out on a busy machine).
	body := strings.Repeat(strings.Repeat("x", 973)+"\r\n", 42)
	var done, sentAll sync.WaitGroup
	sent := make([][]string, n+1)
	for i := 1; i <= n; i++ {
		done.Add(1)
		sentAll.Add(1)
		go func() {
			defer done.Done()
			// A failed helper ends this goroutine; it must still let
			// the others past the barrier.
			var once sync.Once
			defer once.Do(sentAll.Done)
			me, next := fmt.Sprintf("student%02d", i), fmt.Sprintf("student%02d", i%n+1)
			c := login(t, srv, me, fmt.Sprintf("pw%02d", i))
			for range per {
				sent[i] = append(sent[i], queuedID(t, c.sendMessage(me+"@room.test", []string{next + "@room.test"}, body)))
			}
			once.Do(sentAll.Done)
			sentAll.Wait()
			if t.Failed() {
				return
			}
			prev := (i+n-2)%n + 1
			theirs := append(slices.Clone(sent[i]), sent[prev]...)
			got := ids(c.list())
			// The newest that fit: some, and only the student's.
			if len(got) == 0 || len(got) > studentBytes/(40<<10) {
				t.Errorf("%s lists %d messages", me, len(got))
			}
			for _, id := range got {
				if !slices.Contains(theirs, id) {
					t.Errorf("%s lists %s, not theirs (theirs: %v)", me, id, theirs)
				}
			}
			c.cmd("QUIT", 221)
		}()
	}
	done.Wait()
	if got := srv.Mailbox().Total(); got != n*per {
		t.Errorf("%d messages accepted, want %d", got, n*per)
	}
	for i := 1; i <= n; i++ {
		if b := srv.StudentMailbox(fmt.Sprintf("student%02d", i)).Bytes(); b > studentBytes {
			t.Errorf("student%02d's mailbox holds %d bytes", i, b)
		}
	}
	grown := heapInUse() - before
	srv.Close()
	// What the bounds allow: the sandbox's mailbox (4 MiB), every
	// student's (n × 128 KiB; they share messages with the sandbox's, so
	// this counts some twice), each session's wire log (64 KiB counting
	// the line headers, twice that with the slice's spare room), plus 8
	// MiB for TLS state, goroutines and the runtime: 27 MiB for 60. With
	// per = 12, unbounded mailboxes would keep all 28 MiB sent.
	bound := int64(4<<20 + n*studentBytes + n*2*wireMaxBytes + 8<<20)
	if grown > bound {
		t.Errorf("heap grew by %d KiB, over the %d KiB the bounds allow", grown>>10, bound>>10)
	}
	return grown
}

// heapInUse is the live heap after the collections that also empty the
// buffer pools.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func BenchmarkWorkshop60(b *testing.B) {
	var heap int64
	for range b.N {
		heap = max(heap, roomLoad(b, 60, 12))
	}
	b.ReportMetric(float64(heap), "heap-B")
}

func TestRunWorkshop(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "accounts.csv")
	users, _, err := GenerateStudents(3)
	if err != nil {
		t.Fatal(err)
	}
	run := func(overwrite bool) (string, error) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Config{Workshop: true, Users: users, AccountsCSV: csvPath, AccountsOverwrite: overwrite}, out)
		}()
		deadline := time.After(ioTimeout)
		for !strings.Contains(out.String(), "stop with Ctrl+C\n") {
			select {
			case err := <-done:
				return out.String(), err
			case <-deadline:
				t.Fatalf("no banner:\n%s", out.String())
			case <-time.After(5 * time.Millisecond):
			}
		}
		cancel()
		return out.String(), <-done
	}
	banner, err := run(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"users: student01 student02 student03 (passwords not shown, in " + csvPath + ")\n",
		"workshop: 3 mailboxes of 10922K each, each user sees only their own (XMAILBOX after AUTH)\n",
		"accounts: " + csvPath + " (user,password; 3 users)\n",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	for _, pw := range users {
		if strings.Contains(banner, pw) {
			t.Errorf("a student's password is on the (projected) banner:\n%s", banner)
		}
	}
	b, _ := os.ReadFile(csvPath)
	if !strings.HasPrefix(string(b), "user,password\nstudent01,"+users["student01"]+"\n") {
		t.Errorf("CSV %q", b)
	}
	if _, err := run(false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second run over the CSV: %v", err)
	}
	if _, err := run(true); err != nil {
		t.Errorf("second run with overwrite: %v", err)
	}
}

// TestXMailboxListLimits: a LIST of more messages than one reply holds
// keeps the newest, says how many older ones it left out, and each line
// stays within 8192 bytes even for a message with a hundred long
// recipients and a long HELO.
func TestXMailboxListLimits(t *testing.T) {
	srv, _ := start(t, Config{Workshop: true, Users: students(1), MailboxLimit: 2000})
	box := srv.StudentMailbox("student01")
	long := Message{ID: "s0.0", AuthUser: "student01", Helo: strings.Repeat("h", 10000), Data: []byte("x")}
	for i := range 100 {
		addr := fmt.Sprintf("%s%03d@%s", strings.Repeat("r", 60), i, strings.Repeat("d", 200))
		long.To = append(long.To, addr)
		long.Rcpts = append(long.Rcpts, Recipient{addr, 550, "5.1.1 <" + addr + ">: Recipient address rejected"})
	}
	for i := range 20 {
		long.Params = append(long.Params, fmt.Sprintf("X%d=%s", i, strings.Repeat("v", 300)))
	}
	box.add(long)
	for i := range 1100 {
		box.add(Message{ID: fmt.Sprintf("s0.%d", i+1), AuthUser: "student01", Data: []byte("x")})
	}
	c := login(t, srv, "student01", "pw01")
	c.send("XMAILBOX LIST")
	r := c.expect(250)
	if len(r.raw) > 1<<20 || len(r.lines) > 1000 {
		t.Fatalf("LIST reply of %d bytes, %d lines", len(r.raw), len(r.lines))
	}
	n := len(r.lines) - 2
	if want := fmt.Sprintf("%d messages (%d older not listed)", n, 1101-n); r.lines[0] != want {
		t.Errorf("first line %q, want %q", r.lines[0], want)
	}
	b, _ := base64.StdEncoding.DecodeString(r.lines[len(r.lines)-2])
	if !strings.Contains(string(b), `"id":"s0.1100"`) {
		t.Errorf("last meta %s, want the newest message", b)
	}
	m := metaJSON(&long)
	var meta xmMeta
	if err := json.Unmarshal(m, &meta); err != nil || len(m) > xmMetaMax || meta.RcptsOmitted == 0 ||
		len(meta.Rcpts)+meta.RcptsOmitted != 100 || len(meta.Helo) != 255 {
		t.Errorf("meta of %d bytes: %d recipients, %d omitted, helo %d: %v", len(m), len(meta.Rcpts), meta.RcptsOmitted, len(meta.Helo), err)
	}
	if len(long.Params[0]) != 303 || len(meta.Params) != 8 || len(meta.Params[0]) != 200 {
		t.Errorf("params cut in the stored message (%d) or not in the meta (%d of %d)", len(long.Params[0]), len(meta.Params), len(meta.Params[0]))
	}
}

// TestXMailboxSparedByFaults: a fault on every "other" reply breaks an
// unknown verb's, not XMAILBOX's listing.
func TestXMailboxSparedByFaults(t *testing.T) {
	srv, _ := start(t, Config{Workshop: true, Users: students(1)})
	c := login(t, srv, "student01", "pw01")
	c.sendMessage("student01@x.test", []string{"a@x.test"}, "x\r\n")
	if err := srv.SetFault("student01", "reply:other=554 5.0.0 broken"); err != nil {
		t.Fatal(err)
	}
	c.cmdText("FOO", 554, "5.0.0 broken")
	if got := ids(c.list()); len(got) != 1 {
		t.Errorf("LIST under a fault: %v", got)
	}
}

// longMeta is a message whose meta is far over xmMetaMax: a hundred long
// recipients, refused, and a long HELO, as a student can send.
func longMeta() Message {
	m := Message{ID: "s0.0", AuthUser: "student01", Helo: strings.Repeat("h", 10000), Data: []byte("x")}
	for i := range 100 {
		addr := fmt.Sprintf("%s%03d@%s", strings.Repeat("r", 60), i, strings.Repeat("d", 200))
		m.To = append(m.To, addr)
		m.Rcpts = append(m.Rcpts, Recipient{addr, 550, "5.1.1 <" + addr + ">: Recipient address rejected"})
	}
	return m
}

// TestMetaJSONKeepsMostRecipients: a meta cut down to xmMetaMax keeps as
// many recipients as fit, so one more would not.
func TestMetaJSONKeepsMostRecipients(t *testing.T) {
	m := longMeta()
	var meta xmMeta
	if err := json.Unmarshal(metaJSON(&m), &meta); err != nil {
		t.Fatal(err)
	}
	k := len(meta.Rcpts)
	if k == 0 || meta.RcptsOmitted != 100-k {
		t.Fatalf("%d recipients kept, %d omitted", k, meta.RcptsOmitted)
	}
	meta.Rcpts = append(meta.Rcpts, xmRcpt(m.Rcpts[k]))
	meta.RcptsOmitted--
	if b, _ := json.Marshal(meta); len(b) <= xmMetaMax {
		t.Errorf("%d recipients kept, but %d fit in %d bytes", k, k+1, len(b))
	}
}

// BenchmarkMetaJSONLong is the cost of one LIST line for a message whose
// meta must be cut down.
func BenchmarkMetaJSONLong(b *testing.B) {
	m := longMeta()
	b.ReportAllocs()
	for b.Loop() {
		metaJSON(&m)
	}
}

package sandbox

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A workshop sandbox (Config.Workshop) serves a room: every user has a
// mailbox of their own, bounded like the sandbox's (MailboxLimit messages,
// StudentMailboxBytes bytes), holding what that user sent and what was
// sent to an address whose local part is the user's name. This file makes
// the accounts and fills those mailboxes; room.go watches the sessions and
// xmailbox.go lets a user read their mailbox over SMTP.

const (
	// maxStudents bounds --students: past it a room is a load test, and
	// the per-student floor below times this is already 1 GiB.
	maxStudents = 999
	// minStudentBytes is the least a student's mailbox keeps, whatever
	// MailboxBytes divided among the users gives, so a room of 60 can
	// still send a small attachment (and the message size limit, lowered
	// to it, stays useful).
	minStudentBytes = 1 << 20
)

// studentDefaults gives a workshop's per-user mailbox its size: what the
// caller set, or MailboxBytes shared out among the users, at least
// minStudentBytes. The sum over users is what per-user mailboxes may hold.
func (c *Config) studentDefaults() {
	if !c.Workshop || c.StudentMailboxBytes > 0 {
		return
	}
	share := c.MailboxBytes / int64(max(len(c.Users), 1)) &^ (1<<10 - 1) // whole KiB, as the banner shows it
	c.StudentMailboxBytes = max(share, minStudentBytes)
}

// studentCap is the largest message a user's mailbox can keep, which
// bounds the message size limit too; unbounded outside a workshop.
func (c *Config) studentCap() int64 {
	if !c.Workshop {
		return math.MaxInt64
	}
	return c.StudentMailboxBytes
}

// Letters of generated passwords: no letters that read alike (l, 1, I, O,
// 0), none that keyboards move (y, z, q, w), so a student types what the
// teacher reads out on any layout.
const (
	pwConsonants = "bdfghkmnprstv"
	pwVowels     = "aeiou"
)

// GenerateStudents makes n accounts student01…studentNN (three digits from
// 100 up), each with its own password from crypto/rand, in syllables that
// are easy to read out and type: "bafemo-tikuda" (two groups of three
// consonant-vowel pairs, 65^6, about 36 bits). names is in order.
func GenerateStudents(n int) (users map[string]string, names []string, err error) {
	if n < 1 || n > maxStudents {
		return nil, nil, fmt.Errorf("sandbox: %d students: want 1 to %d", n, maxStudents)
	}
	width := 2
	if n >= 100 {
		width = 3
	}
	users = make(map[string]string, n)
	used := make(map[string]bool, n)
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("student%0*d", width, i)
		var pw string
		for pw == "" || used[pw] {
			if pw, err = easyPassword(); err != nil {
				return nil, nil, err
			}
		}
		used[pw] = true
		users[name] = pw
		names = append(names, name)
	}
	return users, names, nil
}

func easyPassword() (string, error) {
	var b strings.Builder
	for i := range 6 {
		if i == 3 {
			b.WriteByte('-')
		}
		for _, set := range []string{pwConsonants, pwVowels} {
			k, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
			if err != nil {
				return "", fmt.Errorf("sandbox: random password: %w", err)
			}
			b.WriteByte(set[k.Int64()])
		}
	}
	return b.String(), nil
}

// WriteAccountsCSV writes "user,password" and one line per name to path,
// mode 0600 (it holds passwords). The file appears whole or not at all:
// it is written beside path and then linked (no overwrite) or renamed
// (overwrite) into place, so an existing file is never replaced unless
// overwrite is set, even by a race.
func WriteAccountsCSV(path string, users map[string]string, names []string, overwrite bool) error {
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s exists; --force replaces it", path)
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"user", "password"})
	for _, n := range names {
		_ = w.Write([]string{n, users[n]})
	}
	w.Flush()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if overwrite {
		return os.Rename(tmp, path)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists; --force replaces it", path)
		}
		return err
	}
	return nil
}

// ParseUsers reads NAME:PASS entries (the --user flags) into a map;
// names keeps their order. Duplicates and entries without a name are
// errors.
func ParseUsers(entries []string) (users map[string]string, names []string, err error) {
	users = make(map[string]string, len(entries))
	for _, e := range entries {
		if names, err = addUser(users, names, e); err != nil {
			return nil, nil, fmt.Errorf("--user %q: %w", e, err)
		}
	}
	return users, names, nil
}

func addUser(users map[string]string, names []string, entry string) ([]string, error) {
	name, pass, ok := strings.Cut(entry, ":")
	if !ok || name == "" {
		return names, errors.New("want NAME:PASS")
	}
	if _, dup := users[name]; dup {
		return names, fmt.Errorf("%s given twice", name)
	}
	users[name] = pass
	return append(names, name), nil
}

// ReadUsersFile reads a --users-file: one NAME:PASS a line; blank lines
// and lines starting with # are skipped. A CR before the line end is
// dropped, so a file saved on Windows reads the same.
func ReadUsersFile(path string) (users map[string]string, names []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	users = map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if names, err = addUser(users, names, l); err != nil {
			return nil, nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("%s: no NAME:PASS line", path)
	}
	return users, names, nil
}

// studentMail is the workshop's per-user mailboxes, and who may see what.
type studentMail struct {
	boxes   map[string]*Mailbox // by configured user name
	byLocal map[string][]string // lower-case name → the user names it matches
}

func newStudentMail(cfg *Config) *studentMail {
	sm := &studentMail{boxes: map[string]*Mailbox{}, byLocal: map[string][]string{}}
	names := make([]string, 0, len(cfg.Users))
	for n := range cfg.Users {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sm.boxes[n] = newMailbox(cfg.MailboxLimit, cfg.StudentMailboxBytes)
		k := strings.ToLower(n)
		sm.byLocal[k] = append(sm.byLocal[k], n)
	}
	return sm
}

// owners are the users who may see msg: its AUTH user, and every user
// whose name is an accepted recipient's local part (case-insensitive).
func (sm *studentMail) owners(msg *Message) []string {
	var out []string
	add := func(n string) {
		for _, o := range out {
			if o == n {
				return
			}
		}
		out = append(out, n)
	}
	if _, ok := sm.boxes[msg.AuthUser]; ok {
		add(msg.AuthUser)
	}
	for _, to := range msg.To {
		for _, n := range sm.byLocal[strings.ToLower(localPart(to))] {
			add(n)
		}
	}
	return out
}

// visible is the isolation rule itself, checked again at every read.
func visible(msg *Message, user string) bool {
	if msg.AuthUser == user {
		return true
	}
	for _, to := range msg.To {
		if strings.EqualFold(localPart(to), user) {
			return true
		}
	}
	return false
}

// deliverStudents files a delivered message in its owners' mailboxes.
func (c *conn) deliverStudents(msg *Message) {
	sm := c.srv.students
	for _, u := range sm.owners(msg) {
		dropped, droppedBytes := sm.boxes[u].add(*msg)
		if dropped > 0 && c.srv.log.on {
			c.note("mailbox of %s full (%d messages, %d octets at most): dropped the %d oldest, %d octets",
				u, c.cfg.MailboxLimit, c.cfg.StudentMailboxBytes, dropped, droppedBytes)
		}
	}
}

// StudentMailbox is user's own mailbox in a workshop sandbox, nil for an
// unknown user or outside a workshop.
func (s *Server) StudentMailbox(user string) *Mailbox {
	if s.students == nil {
		return nil
	}
	return s.students.boxes[user]
}

//go:build interop

// Interop tests of the command line: `ehlo send`, run in-process through
// runWith with buffers for stdout and stderr, against the real mail servers
// of the interop test bed (Postfix, Exim, OpenSMTPD, Dovecot, aiosmtpd) that
// testdata/interop/run.sh starts on loopback:
//
//	sudo bash testdata/interop/run.sh -run 'TestSendInterop' -v
//
// Every test skips when EHLO_INTEROP is unset and fails (never skips) when it
// is set and a server cannot be reached. Addresses, certificates and Maildirs
// come from the EHLO_INTEROP_* variables run.sh exports (the defaults below
// are run.sh's). A message counts as sent only when it is found, by a
// unique token in its subject, in the server's Maildir.
//
// What is checked, per server: STARTTLS with the server's own certificate as
// the only root and AUTH with each mechanism it offers (and auto, and
// without an initial response), the password taken from EHLO_PASSWORD;
// implicit TLS; the swaks markers; the swaks exit codes of the PRODUCT.md §4
// contract (24 refused recipient or relay, 23 refused sender or no
// SMTPUTF8, 28 bad password or refused cleartext AUTH, 29 TLS, 26 refused
// after the data, 21 no greeting, 1 bad command line); SMTPUTF8;
// --pipeline, --chunking, --repeat, --data with Bcc, --attach, DSN,
// --quit-after, --debug, --insecure; --json; --record (mode 0600, readable
// by recordings.ReadFile, no password in it unless --record-secrets). LMTP:
// Dovecot's socket (and TCP) and aiosmtpd's, with per-recipient replies.
// Every run also checks that the password appears in no output, in no form.
//
// ehlo sends smtplib's lower-case verbs ("mail FROM:"), so transcript lines
// are matched without regard to case.
package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
)

const (
	sendIopTimeout      = "20s"            // --timeout: per reply (a loaded CI box is slow)
	sendIopDeliveryWait = 60 * time.Second // how long a message may take to reach the Maildir
	sendIopHelo         = "client.test"
	sendIopCertName     = "mx.example.test" // CN and SAN of every test-bed certificate
	sendIopUser         = "alice"
	sendIopPassword     = "alicepw" // alice's password on every server; given through EHLO_PASSWORD
	sendIopBadPassword  = "wrong-Pa55word-for-alice"
)

// ---------------------------------------------------------------------------
// environment

func sendIopEnv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func sendIopBase(elem ...string) string {
	base := sendIopEnv("EHLO_INTEROP_BASE", "/tmp/ehlo-interop")
	return filepath.Join(append([]string{base}, elem...)...)
}

func sendIopEnabled() bool {
	v := os.Getenv("EHLO_INTEROP")
	return v != "" && v != "0"
}

// sendIopRequire skips unless EHLO_INTEROP is set, and skips a server that
// EHLO_INTEROP_SERVERS leaves out ("" = no particular server).
func sendIopRequire(t *testing.T, server string) {
	t.Helper()
	if !sendIopEnabled() {
		t.Skip("EHLO_INTEROP is not set: real mail servers are started by `make interop` (testdata/interop/run.sh)")
	}
	if list := os.Getenv("EHLO_INTEROP_SERVERS"); list != "" && server != "" {
		for _, s := range strings.Fields(list) {
			if s == server {
				return
			}
		}
		t.Skipf("%s is not in EHLO_INTEROP_SERVERS=%q", server, list)
	}
}

// sendIopReachable fails at once, with one clear message, when a listener
// of the server is down (network, address pairs).
func sendIopReachable(t *testing.T, server string, pairs ...string) {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		conn, err := net.DialTimeout(pairs[i], pairs[i+1], 5*time.Second)
		if err != nil {
			t.Fatalf("%s is not reachable on %s %s although EHLO_INTEROP is set: %v (start it with testdata/interop/run.sh, or set EHLO_INTEROP_SERVERS)",
				server, pairs[i], pairs[i+1], err)
		}
		conn.Close()
	}
}

// ---------------------------------------------------------------------------
// running `ehlo send`

// sendIopGroup runs subtests concurrently, each in its own goroutine, and
// Wait waits for them all. It stands in for t.Parallel, which go test caps
// at -parallel (GOMAXPROCS: 2 on a small CI box) although these tests
// spend their time waiting on the servers. sendIopSlots bounds how many
// sends run at once, so no server's connection limit is reached (Exim's
// smtp_accept_max is 20).
type sendIopGroup struct {
	t  *testing.T
	wg sync.WaitGroup
}

func sendIopNewGroup(t *testing.T) *sendIopGroup { return &sendIopGroup{t: t} }

func (g *sendIopGroup) Run(name string, fn func(t *testing.T)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.t.Run(name, fn)
	}()
}

func (g *sendIopGroup) Wait() { g.wg.Wait() }

var sendIopSlots = make(chan struct{}, 10)

// sendIopBuffer is a bytes.Buffer safe for concurrent writes.
type sendIopBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *sendIopBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *sendIopBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type sendIopOut struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// sendIopRun runs `ehlo send ARGS...` in-process; the command line and its
// output are logged when the test fails.
func sendIopRun(t *testing.T, args ...string) sendIopOut {
	t.Helper()
	var stdout, stderr sendIopBuffer
	app := &appContext{ctx: t.Context(), stdout: &stdout, stderr: &stderr, stdin: strings.NewReader("")}
	sendIopSlots <- struct{}{}
	start := time.Now()
	code := runWith(app, append([]string{"send"}, args...))
	<-sendIopSlots
	out := sendIopOut{code: code, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ehlo send %s\nexit %d after %v\n--- stdout:\n%s--- stderr:\n%s", sendIopQuote(args), out.code, out.elapsed.Round(time.Millisecond), out.stdout, out.stderr)
		}
	})
	return out
}

func sendIopQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\,") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func (o sendIopOut) wantCode(t *testing.T, want int) {
	t.Helper()
	if o.code != want {
		t.Fatalf("exit %d, want %d", o.code, want)
	}
}

// has wants a line of stdout that starts with prefix.
func (o sendIopOut) has(t *testing.T, prefix string) {
	t.Helper()
	if !sendIopHasLine(o.stdout, prefix) {
		t.Errorf("stdout has no line starting with %q", prefix)
	}
}

func (o sendIopOut) hasNot(t *testing.T, prefix string) {
	t.Helper()
	if sendIopHasLine(o.stdout, prefix) {
		t.Errorf("stdout has a line starting with %q, and should not", prefix)
	}
}

// match wants stdout (or stderr) to match the regular expression.
func (o sendIopOut) match(t *testing.T, stream, re string) {
	t.Helper()
	text := o.stdout
	if stream == "stderr" {
		text = o.stderr
	}
	if !regexp.MustCompile(re).MatchString(text) {
		t.Errorf("%s does not match %q", stream, re)
	}
}

func sendIopHasLine(text, prefix string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.ToLower(l), strings.ToLower(prefix)) {
			return true
		}
	}
	return false
}

// sendIopSecretForms are the ways a secret can leak: itself, its base64 at
// each of the three alignments (the groups that depend on the secret's
// bytes alone), and the AUTH PLAIN blob (with and without the domain).
func sendIopSecretForms(secret, user string) []string {
	forms := []string{secret}
	for k := 0; k < 3; k++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, k), secret...))
		start := 0
		if k > 0 {
			start = 4 // the first group mixes the prefix in
		}
		end := (k + len(secret)) / 3 * 4 // whole groups only
		if end-start >= 8 {
			forms = append(forms, enc[start:end])
		}
	}
	for _, u := range []string{user, user + "@example.test"} {
		forms = append(forms, base64.StdEncoding.EncodeToString([]byte("\x00"+u+"\x00"+secret)))
	}
	return forms
}

// sendIopNoSecret: the secret is in none of the texts, in no form.
func sendIopNoSecret(t *testing.T, secret string, texts map[string]string) {
	t.Helper()
	for name, text := range texts {
		for _, f := range sendIopSecretForms(secret, sendIopUser) {
			if strings.Contains(text, f) {
				t.Errorf("%s holds the password (as %q)", name, f)
			}
		}
	}
}

func (o sendIopOut) noSecret(t *testing.T, secret string) {
	t.Helper()
	sendIopNoSecret(t, secret, map[string]string{"stdout": o.stdout, "stderr": o.stderr})
}

// sendIopClearAfterStartTLS: after STARTTLS and its 220, every line of the
// transcript is inside TLS (~> and <~).
func sendIopClearAfterStartTLS(t *testing.T, stdout string) {
	t.Helper()
	lines := strings.Split(stdout, "\n")
	i := 0
	for i < len(lines) && lines[i] != " -> STARTTLS" {
		i++
	}
	for i++; i < len(lines) && !strings.HasPrefix(lines[i], "<-  220"); i++ {
	}
	for _, l := range lines[min(i+1, len(lines)):] {
		if strings.HasPrefix(l, " -> ") || strings.HasPrefix(l, "<-  ") {
			t.Errorf("clear-text line after STARTTLS: %q", l)
		}
	}
}

// sendIopOnce: each warning is printed once. Today sendOutput.info both
// prints a warning and hands it to the Capture as a note, which the
// Transcript prints again (and --json lists twice, as "warning"/"error"
// and as "note").
func sendIopOnce(t *testing.T, stderr, line string) {
	t.Helper()
	t.Run("BUG-WarningPrintedOnce", func(t *testing.T) {
		if n := strings.Count(stderr, line+"\n"); n != 1 {
			t.Errorf("%q is on stderr %d times, want once:\n%s", line, n, stderr)
		}
	})
}

// ---------------------------------------------------------------------------
// messages and Maildirs

func sendIopToken(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "sendiop-" + hex.EncodeToString(b)
}

// sendIopMsg is the --subject and --body for a message with token: the
// body has lines that need dot-stuffing.
func sendIopMsg(token string) []string {
	return []string{"--subject", "ehlo send " + token, "--body", "body of " + token + "\n.leading dot\n..two dots\n.\nlast line\n"}
}

// sendIopFind waits until a file under dir (new/ or cur/ of any Maildir
// below it) contains needle, and returns it.
func sendIopFind(t *testing.T, dir, needle string) string {
	t.Helper()
	deadline := time.Now().Add(sendIopDeliveryWait)
	for {
		if content, ok := sendIopScan(dir, needle); ok {
			return content
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message containing %q arrived under %s within %v", needle, dir, sendIopDeliveryWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sendIopScan(dir, needle string) (string, bool) {
	var found string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return nil
		}
		if sub := filepath.Base(filepath.Dir(path)); sub != "new" && sub != "cur" {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(needle)) {
			found = string(b)
			return fs.SkipAll
		}
		return nil
	})
	return found, found != ""
}

// sendIopCount waits until n files under dir contain needle.
func sendIopCount(t *testing.T, dir, needle string, n int) {
	t.Helper()
	deadline := time.Now().Add(sendIopDeliveryWait)
	for {
		got := 0
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if sub := filepath.Base(filepath.Dir(path)); sub != "new" && sub != "cur" {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(needle)) {
				got++
			}
			return nil
		})
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("%d messages containing %q under %s, want %d", got, needle, dir, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sendIopLineAfter returns the stdout line after the first one starting
// (case-insensitively) with prefix.
func sendIopLineAfter(stdout, prefix string) string {
	lines := strings.Split(stdout, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.ToLower(l), strings.ToLower(prefix)) && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}

// sendIopDelivered finds the message and checks the subject and the body
// arrived intact (dot-stuffing undone).
func sendIopDelivered(t *testing.T, dir, token string) string {
	t.Helper()
	content := sendIopFind(t, dir, "Subject: ehlo send "+token)
	got := strings.ReplaceAll(content, "\r\n", "\n")
	if want := "body of " + token + "\n.leading dot\n..two dots\n.\nlast line\n"; !strings.Contains(got, want) {
		t.Errorf("stored message does not carry the body unchanged; want it to contain %q, stored:\n%s", want, content)
	}
	return content
}

// ---------------------------------------------------------------------------
// the servers

type sendIopServer struct {
	name      string
	addr      string // plain listener, STARTTLS offered
	smtpsAddr string // implicit TLS
	caFile    string
	mailbox   func(user string) string // Maildir root of user@example.test

	mechs         []string // AUTH mechanisms offered after STARTTLS
	authBeforeTLS bool     // AUTH offered on the plain connection too
	smtputf8      bool
	pipelining    bool // PIPELINING advertised after STARTTLS
	chunking      bool // CHUNKING advertised after STARTTLS
	dsn           bool // DSN advertised
	dsnEnvid      bool // the success notification carries the ENVID

	unknownRcpt string // refused at RCPT ("" = every recipient accepted)
	unknownText string // regexp of the server's refusal, as the transcript shows it

	relayExit int    // exit code for an unauthenticated relay attempt (0 = relaying not refused)
	relayText string // regexp of the refusal
}

func (s sendIopServer) tlsArgs() []string {
	return []string{"--ca", s.caFile, "--sni", sendIopCertName, "--helo", sendIopHelo, "--timeout", sendIopTimeout}
}

// startTLSAuth: STARTTLS verified against the server's certificate, then
// AUTH as alice with mech (password from EHLO_PASSWORD).
func (s sendIopServer) startTLSAuth(mech string) []string {
	return append(s.tlsArgs(), "--starttls", "--auth", mech, "--auth-user", sendIopUser, "--from", "alice@example.test")
}

func sendIopServers() []sendIopServer {
	pfMail := sendIopEnv("EHLO_INTEROP_POSTFIX_MAIL", sendIopBase("postfix", "mail"))
	exMail := sendIopEnv("EHLO_INTEROP_EXIM_MAIL", sendIopBase("exim", "mail"))
	osMail := sendIopEnv("EHLO_INTEROP_OPENSMTPD_MAIL", sendIopBase("opensmtpd", "mail"))
	aioMail := sendIopEnv("EHLO_INTEROP_AIOSMTPD_MAIL", sendIopBase("aiosmtpd", "mail"))
	relayed := sendIopEnv("EHLO_INTEROP_DOVECOT_RELAYED", sendIopBase("dovecot", "relayed"))
	return []sendIopServer{{
		name:        "postfix",
		addr:        sendIopEnv("EHLO_INTEROP_POSTFIX_ADDR", "127.0.0.1:2525"),
		smtpsAddr:   sendIopEnv("EHLO_INTEROP_POSTFIX_SMTPS_ADDR", "127.0.0.1:4655"),
		caFile:      sendIopEnv("EHLO_INTEROP_POSTFIX_CA", sendIopBase("postfix", "tls", "cert.pem")),
		mailbox:     func(u string) string { return filepath.Join(pfMail, u) },
		mechs:       []string{"PLAIN", "LOGIN", "CRAM-MD5"},
		smtputf8:    true,
		pipelining:  true,
		chunking:    true,
		dsn:         true,
		dsnEnvid:    true,
		unknownRcpt: "nobody@example.test",
		unknownText: `(?m)^<~  550 5\.1\.1 <nobody@example\.test>`,
		relayExit:   24,
		relayText:   `(?m)^<-  554 5\.7\.1 .*[Rr]elay access denied`,
	}, {
		name:          "exim",
		addr:          sendIopEnv("EHLO_INTEROP_EXIM_ADDR", "127.0.0.1:2526"),
		smtpsAddr:     sendIopEnv("EHLO_INTEROP_EXIM_SMTPS_ADDR", "127.0.0.1:4650"),
		caFile:        sendIopEnv("EHLO_INTEROP_EXIM_CA", sendIopBase("exim", "tls", "cert.pem")),
		mailbox:       func(u string) string { return filepath.Join(exMail, u) },
		mechs:         []string{"PLAIN", "LOGIN", "CRAM-MD5"},
		authBeforeTLS: true,
		smtputf8:      true,
		pipelining:    true,
		chunking:      true,
		dsn:           true,
		dsnEnvid:      true,
		unknownRcpt:   "nobody@example.test",
		unknownText:   `(?m)^<~  550 Unrouteable address`,
		relayExit:     24,
		relayText:     `(?m)^<-  550 relay not permitted`,
	}, {
		name:        "opensmtpd",
		addr:        sendIopEnv("EHLO_INTEROP_OPENSMTPD_ADDR", "127.0.0.1:2527"),
		smtpsAddr:   sendIopEnv("EHLO_INTEROP_OPENSMTPD_SMTPS_ADDR", "127.0.0.1:4651"),
		caFile:      sendIopEnv("EHLO_INTEROP_OPENSMTPD_CA", sendIopBase("opensmtpd", "tls", "cert.pem")),
		mailbox:     func(u string) string { return filepath.Join(osMail, u) },
		mechs:       []string{"PLAIN", "LOGIN"},
		dsn:         true,
		unknownRcpt: "nobody@example.test",
		unknownText: `(?m)^<~  524 5\.2\.4 `,
		relayExit:   24,
		relayText:   `(?m)^<-  550 `,
	}, {
		name:        "aiosmtpd",
		addr:        sendIopEnv("EHLO_INTEROP_AIOSMTPD_ADDR", "127.0.0.1:2528"),
		smtpsAddr:   sendIopEnv("EHLO_INTEROP_AIOSMTPD_SMTPS_ADDR", "127.0.0.1:4658"),
		caFile:      sendIopEnv("EHLO_INTEROP_AIOSMTPD_CA", sendIopBase("aiosmtpd", "tls", "cert.pem")),
		mailbox:     func(string) string { return aioMail }, // one Maildir for everybody
		mechs:       []string{"PLAIN", "LOGIN"},
		smtputf8:    true,
		unknownRcpt: "reject-nobody@example.test", // the server's scripted refusal
		unknownText: `(?m)^<~  550 5\.1\.1 <reject-nobody@example\.test>: recipient rejected`,
	}, {
		// Dovecot submission relays what it accepts to a sink, whose Maildir
		// is where mail lands; it wants AUTH before MAIL.
		name:          "dovecot",
		addr:          sendIopEnv("EHLO_INTEROP_DOVECOT_SUBMISSION_ADDR", "127.0.0.1:2587"),
		smtpsAddr:     sendIopEnv("EHLO_INTEROP_DOVECOT_SUBMISSIONS_ADDR", "127.0.0.1:4653"),
		caFile:        sendIopEnv("EHLO_INTEROP_DOVECOT_CA", sendIopBase("dovecot", "tls", "cert.pem")),
		mailbox:       func(string) string { return relayed },
		mechs:         []string{"PLAIN", "LOGIN", "CRAM-MD5"},
		authBeforeTLS: true, // Dovecot counts loopback as secure
		pipelining:    true,
		chunking:      true,
		relayExit:     23,
		relayText:     `(?m)^<-  530 5\.7\.0 `,
	}}
}

// ---------------------------------------------------------------------------
// the tests

// TestSendInterop runs every case against every server, concurrently
// (sendIopGroup); the password is in EHLO_PASSWORD for all of them, set
// here, before any subtest starts.
func TestSendInterop(t *testing.T) {
	sendIopRequire(t, "")
	t.Setenv("EHLO_PASSWORD", sendIopPassword)
	start := time.Now()
	t.Cleanup(func() { t.Logf("TestSendInterop took %v", time.Since(start).Round(time.Millisecond)) })

	cases := []struct {
		name string
		fn   func(*testing.T, sendIopServer)
	}{
		{"StartTLSAuth", sendIopStartTLSAuth},
		{"ImplicitTLS", sendIopImplicitTLS},
		{"UnknownRecipient", sendIopUnknownRecipient},
		{"OneRecipientRefused", sendIopOneRefused},
		{"RelayDenied", sendIopRelayDenied},
		{"BadPassword", sendIopBadPasswordCase},
		{"CleartextAuth", sendIopCleartextAuth},
		{"SMTPUTF8", sendIopSMTPUTF8},
		{"SMTPUTF8OptionWithoutExtension", sendIopSMTPUTF8ASCII},
		{"TLSOnConnectToPlainPort", sendIopTLSOnPlainPort},
		{"StartTLSToImplicitTLSPort", sendIopStartTLSOnTLSPort},
		{"StartTLSWrongName", sendIopWrongName},
		{"StartTLSSystemRoots", sendIopSystemRoots},
		{"Insecure", sendIopInsecure},
		{"JSON", sendIopJSONCase},
		{"Record", sendIopRecordCase},
		{"ScriptedRefusals", sendIopScripted},
		{"Pipelining", sendIopPipelining},
		{"Chunking", sendIopChunking},
		{"Repeat", sendIopRepeat},
		{"DataFileBcc", sendIopDataFile},
		{"Attachment", sendIopAttachment},
		{"DSN", sendIopDSN},
		{"QuitAfter", sendIopQuitAfter},
		{"Debug", sendIopDebug},
		{"LargeBody", sendIopLargeBody},
	}
	g := sendIopNewGroup(t)
	defer g.Wait()
	for _, s := range sendIopServers() {
		g.Run(s.name, func(t *testing.T) {
			sendIopRequire(t, s.name)
			sendIopReachable(t, s.name, "tcp", s.addr, "tcp", s.smtpsAddr)
			g := sendIopNewGroup(t)
			defer g.Wait()
			for _, tc := range cases {
				g.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
			}
		})
	}
	g.Run("dovecot-lmtp", func(t *testing.T) {
		sendIopRequire(t, "dovecot")
		sendIopDovecotLMTP(t)
	})
	g.Run("aiosmtpd-lmtp", func(t *testing.T) {
		sendIopRequire(t, "aiosmtpd")
		sendIopAiosmtpdLMTP(t)
	})
	g.Run("dovecot-relay-sink", func(t *testing.T) {
		sendIopRequire(t, "dovecot")
		sendIopNoStartTLS(t)
	})
	g.Run("BadCommandLine", func(t *testing.T) {
		s := sendIopServers()[0]
		// --starttls and implicit TLS exclude each other: exit 1, nothing connects.
		o := sendIopRun(t, append(s.tlsArgs(), "--starttls", "--tls-on-connect", "--to", "bob@example.test", s.smtpsAddr)...)
		o.wantCode(t, 1)
		o.hasNot(t, "=== Trying")
	})
}

// sendIopStartTLSAuth: every mechanism the server offers, and auto; exit 0,
// the swaks markers, and the message in bob's Maildir.
func sendIopStartTLSAuth(t *testing.T, s sendIopServer) {
	g := sendIopNewGroup(t)
	defer g.Wait()
	variants := append(append([]string(nil), s.mechs...), "auto", "PLAIN/no-initial-response")
	for _, variant := range variants {
		g.Run(variant, func(t *testing.T) {
			mech, noIR := strings.CutSuffix(variant, "/no-initial-response")
			token := sendIopToken(t)
			args := append(append(s.startTLSAuth(mech), sendIopMsg(token)...), "--to", "bob@example.test", s.addr)
			if noIR {
				// the credentials go on their own line after the 334
				args = append([]string{"--no-initial-response"}, args...)
			}
			o := sendIopRun(t, args...)
			o.wantCode(t, 0)
			o.has(t, "=== Trying "+s.addr)
			o.has(t, "=== Connected to ")
			o.has(t, "<-  220 ")
			o.has(t, " -> EHLO "+sendIopHelo)
			o.has(t, " -> STARTTLS")
			o.has(t, " ~> EHLO "+sendIopHelo)
			switch {
			case noIR:
				o.match(t, "stdout", `(?m)^ ~> AUTH PLAIN\n<~  334 ?\n ~> \[redacted user="alice"\]\n<~  235`)
			case mech != "auto":
				o.has(t, " ~> AUTH "+mech)
			default:
				o.has(t, " ~> AUTH ")
			}
			o.has(t, "<~  235")
			o.has(t, " ~> MAIL FROM:<alice@example.test>")
			o.has(t, " ~> RCPT TO:<bob@example.test>")
			o.has(t, " ~> DATA")
			o.has(t, " ~> QUIT")
			o.has(t, "<~  221")
			sendIopClearAfterStartTLS(t, o.stdout)
			if strings.Contains(o.stderr, "*** ") {
				t.Errorf("errors or warnings on stderr: %q", o.stderr)
			}
			o.noSecret(t, sendIopPassword)
			sendIopDelivered(t, s.mailbox("bob"), token)
		})
	}
}

// sendIopImplicitTLS: --tls-on-connect on the SMTPS port; every client line
// goes inside TLS.
func sendIopImplicitTLS(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	args := append(s.tlsArgs(), "--tls-on-connect", "--auth", "auto", "--auth-user", sendIopUser, "--from", "alice@example.test", "--to", "bob@example.test")
	rec := filepath.Join(t.TempDir(), "smtps.jsonl")
	o := sendIopRun(t, append(append(args, sendIopMsg(token)...), "--record", rec, s.smtpsAddr)...)
	o.wantCode(t, 0)
	if r, err := recordings.ReadFile(rec); err != nil {
		t.Errorf("reading the recording of an implicit-TLS session: %v", err)
	} else if len(r.Problems) != 0 || r.Header.Transport != "smtps" || r.Header.Network != "tcp" {
		t.Errorf("recording of an implicit-TLS session: problems %v, header %+v; want transport smtps over tcp", r.Problems, r.Header)
	} else {
		for _, e := range r.Events {
			if (e.Kind == session.KindClient || e.Kind == session.KindServer) && !e.TLS {
				t.Errorf("event outside TLS in an implicit-TLS session: %q", e.Data)
			}
		}
	}
	o.hasNot(t, " -> ")
	o.hasNot(t, "<-  ")
	o.has(t, "<~  220 ")
	o.has(t, " ~> EHLO "+sendIopHelo)
	o.has(t, "<~  235")
	o.has(t, " ~> QUIT")
	o.noSecret(t, sendIopPassword)
	sendIopDelivered(t, s.mailbox("bob"), token)
}

// sendIopUnknownRecipient: the only recipient refused: exit 24, the server's
// text on the transcript, no DATA.
func sendIopUnknownRecipient(t *testing.T, s sendIopServer) {
	if s.unknownRcpt == "" {
		t.Skipf("%s accepts every recipient after AUTH", s.name)
	}
	o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(sendIopToken(t))...), "--to", s.unknownRcpt, s.addr)...)
	o.wantCode(t, 24)
	o.has(t, " ~> RCPT TO:<"+s.unknownRcpt+">")
	o.match(t, "stdout", s.unknownText)
	o.hasNot(t, " ~> DATA")
	o.match(t, "stderr", `(?m)^\*\*\* .*exit 24\)$`)
}

// sendIopOneRefused: a good and an unknown recipient: the message goes to
// the good one, exit 0 (swaks: success when a recipient was accepted), and a
// warning names the refusal.
func sendIopOneRefused(t *testing.T, s sendIopServer) {
	if s.unknownRcpt == "" {
		t.Skipf("%s accepts every recipient after AUTH", s.name)
	}
	token := sendIopToken(t)
	o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(token)...), "--to", "bob@example.test,"+s.unknownRcpt, s.addr)...)
	o.wantCode(t, 0)
	o.match(t, "stdout", s.unknownText)
	o.has(t, " ~> DATA")
	o.match(t, "stderr", `(?m)^\*\*\* 1 of 2 recipients refused$`)
	sendIopDelivered(t, s.mailbox("bob"), token)
	sendIopOnce(t, o.stderr, "*** 1 of 2 recipients refused")
}

// sendIopRelayDenied: no TLS, no AUTH, another domain: refused at RCPT
// (exit 24) or, where AUTH is required, at MAIL (exit 23).
func sendIopRelayDenied(t *testing.T, s sendIopServer) {
	if s.relayExit == 0 {
		t.Skipf("%s accepts mail for any domain", s.name)
	}
	o := sendIopRun(t, "--helo", sendIopHelo, "--timeout", sendIopTimeout,
		"--from", "someone@example.org", "--to", "someone-else@example.net", s.addr)
	o.wantCode(t, s.relayExit)
	o.match(t, "stdout", s.relayText)
	o.hasNot(t, " -> DATA")
	o.has(t, " -> QUIT")
}

// sendIopBadPasswordCase: --auth-password overrides EHLO_PASSWORD (with a
// warning); the server says 535; exit 28; the password appears nowhere.
func sendIopBadPasswordCase(t *testing.T, s sendIopServer) {
	args := append(s.tlsArgs(), "--starttls", "--auth", "auto", "--auth-user", sendIopUser, "--auth-password", sendIopBadPassword,
		"--from", "alice@example.test", "--to", "bob@example.test", s.addr)
	o := sendIopRun(t, args...)
	o.wantCode(t, 28)
	o.match(t, "stdout", `(?m)^<~  535[ -]`)
	o.hasNot(t, " ~> MAIL")
	o.match(t, "stderr", `(?m)^\*\*\* warning: --auth-password is visible`)
	o.match(t, "stderr", `(?m)^\*\*\* .*\(stage auth, exit 28\)$`)
	o.noSecret(t, sendIopBadPassword)
}

// sendIopCleartextAuth: where AUTH is offered before TLS, ehlo refuses to
// send credentials in clear text (exit 28, no AUTH byte sent) unless
// --auth-cleartext is given; then it sends them, with a warning.
func sendIopCleartextAuth(t *testing.T, s sendIopServer) {
	g := sendIopNewGroup(t)
	defer g.Wait()
	if !s.authBeforeTLS {
		t.Skipf("%s offers AUTH only after STARTTLS", s.name)
	}
	base := []string{"--helo", sendIopHelo, "--timeout", sendIopTimeout, "--auth", "PLAIN", "--auth-user", sendIopUser, "--from", "alice@example.test", "--to", "bob@example.test"}
	g.Run("Refused", func(t *testing.T) {
		o := sendIopRun(t, append(base, s.addr)...)
		o.wantCode(t, 28)
		o.match(t, "stdout", `(?m)^<-  250[ -]AUTH `)
		o.hasNot(t, " -> AUTH")
		o.hasNot(t, " -> MAIL")
		o.match(t, "stderr", `(?m)^\*\*\* refusing to send credentials over an unencrypted connection.*\(stage auth, exit 28\)$`)
	})
	g.Run("OptIn", func(t *testing.T) {
		token := sendIopToken(t)
		o := sendIopRun(t, append(append(base, sendIopMsg(token)...), "--auth-cleartext", s.addr)...)
		o.wantCode(t, 0)
		o.has(t, " -> AUTH PLAIN")
		o.hasNot(t, " ~> ")
		o.match(t, "stderr", `(?m)^\*\*\* sending credentials over an unencrypted connection \(--auth-cleartext\)$`)
		o.noSecret(t, sendIopPassword)
		sendIopDelivered(t, s.mailbox("bob"), token)
		sendIopOnce(t, o.stderr, "*** sending credentials over an unencrypted connection (--auth-cleartext)")
	})
}

// sendIopSMTPUTF8: where the server offers SMTPUTF8, a UTF-8 sender and
// recipient go through with --smtputf8; where it does not, ehlo stops
// before MAIL with exit 23.
func sendIopSMTPUTF8(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	from := "jörg@example.org"
	// aiosmtpd stores every recipient; elsewhere only alice, bob and
	// postmaster have mailboxes, so the UTF-8 recipient is in another
	// domain (accepted after AUTH and discarded) next to bob.
	utf8Rcpt, mailbox := "ünïcødé@example.org", s.mailbox("bob")
	to := "bob@example.test," + utf8Rcpt
	if s.name == "aiosmtpd" {
		utf8Rcpt = "ünïcødé@example.test"
		to = utf8Rcpt
	}
	args := append(s.tlsArgs(), "--starttls", "--auth", "auto", "--auth-user", sendIopUser, "--smtputf8",
		"--from", from, "--to", to)
	o := sendIopRun(t, append(append(args, sendIopMsg(token)...), s.addr)...)
	if !s.smtputf8 {
		o.wantCode(t, 23)
		o.hasNot(t, " ~> MAIL")
		o.match(t, "stderr", `SMTPUTF8`)
		o.match(t, "stderr", `(?m)^\*\*\* .*\(stage mail, exit 23\)$`)
		return
	}
	o.wantCode(t, 0)
	o.match(t, "stdout", `(?mi)^ ~> MAIL FROM:<jörg@example\.org>.* SMTPUTF8`)
	o.has(t, " ~> RCPT TO:<"+utf8Rcpt+">")
	if strings.Contains(o.stderr, "refused") {
		t.Errorf("a recipient was refused: %q", o.stderr)
	}
	content := sendIopDelivered(t, mailbox, token)
	if !strings.Contains(content, from) {
		t.Errorf("the UTF-8 envelope sender %s is not in the stored message:\n%s", from, content)
	}
	if s.name == "aiosmtpd" && !strings.Contains(content, "X-Testbed-Envelope-To: <"+utf8Rcpt+">") {
		t.Errorf("the UTF-8 recipient is not in the stored envelope:\n%s", content)
	}
}

// sendIopSMTPUTF8ASCII: --smtputf8 with ASCII addresses. Where the server
// offers SMTPUTF8 the parameter goes on MAIL; where it does not, RFC 6531
// §3.4 (and RFC 5321 §4.1.1.11: no parameters of an extension not
// advertised) forbid sending it, so ehlo must stop before MAIL, exit 23.
func sendIopSMTPUTF8ASCII(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	o := sendIopRun(t, append(append(s.startTLSAuth("auto"), "--smtputf8", "--to", "bob@example.test"), append(sendIopMsg(token), s.addr)...)...)
	if s.smtputf8 {
		o.wantCode(t, 0)
		o.match(t, "stdout", `(?mi)^ ~> MAIL FROM:<alice@example\.test>.* SMTPUTF8`)
		sendIopDelivered(t, s.mailbox("bob"), token)
		return
	}
	o.wantCode(t, 23)
	o.hasNot(t, " ~> MAIL")
	o.match(t, "stderr", `(?m)^\*\*\* SMTPUTF8 not supported by server \(stage mail, exit 23\)$`)
}

// sendIopTLSOnPlainPort: implicit TLS against a plaintext greeting: exit 29.
func sendIopTLSOnPlainPort(t *testing.T, s sendIopServer) {
	o := sendIopRun(t, append(s.tlsArgs(), "--tls-on-connect", "--to", "bob@example.test", s.addr)...)
	o.wantCode(t, 29)
	o.hasNot(t, " ~> ")
	o.hasNot(t, " -> ")
}

// sendIopStartTLSOnTLSPort: --starttls against the implicit-TLS port. The
// server waits for a ClientHello, ehlo for a greeting: after --timeout it
// is swaks's banner error, exit 21, with the hint to use --tls-on-connect.
func sendIopStartTLSOnTLSPort(t *testing.T, s sendIopServer) {
	args := []string{"--ca", s.caFile, "--sni", sendIopCertName, "--helo", sendIopHelo, "--timeout", "1500ms",
		"--starttls", "--to", "bob@example.test", s.smtpsAddr}
	o := sendIopRun(t, args...)
	o.wantCode(t, 21)
	o.match(t, "stderr", `--tls-on-connect`)
	o.hasNot(t, " -> EHLO")
	if o.elapsed > 10*time.Second {
		t.Errorf("took %v with --timeout 1500ms", o.elapsed)
	}
}

// sendIopWrongName: the right root, the wrong name: exit 29, and nothing
// (AUTH above all) is sent after the failed handshake.
func sendIopWrongName(t *testing.T, s sendIopServer) {
	args := []string{"--ca", s.caFile, "--sni", "wrong.example.test", "--helo", sendIopHelo, "--timeout", sendIopTimeout,
		"--starttls", "--auth", "PLAIN", "--auth-user", sendIopUser, "--from", "alice@example.test", "--to", "bob@example.test", s.addr}
	o := sendIopRun(t, args...)
	o.wantCode(t, 29)
	o.has(t, " -> STARTTLS")
	o.hasNot(t, " ~> ")
	o.hasNot(t, " -> AUTH")
	if !strings.Contains(o.stdout+o.stderr, "wrong.example.test") {
		t.Errorf("the name that did not match is not in the output")
	}
	o.noSecret(t, sendIopPassword)
}

// sendIopSystemRoots: without --ca the system roots do not know the test
// bed's self-signed certificate: exit 29.
func sendIopSystemRoots(t *testing.T, s sendIopServer) {
	o := sendIopRun(t, "--helo", sendIopHelo, "--timeout", sendIopTimeout, "--starttls",
		"--from", "alice@example.test", "--to", "bob@example.test", s.addr)
	o.wantCode(t, 29)
	o.hasNot(t, " ~> ")
	o.hasNot(t, " -> MAIL")
}

// sendIopJSON is the part of `--json` the tests read.
type sendIopJSON struct {
	Server   string `json:"server"`
	ExitCode int    `json:"exit_code"`
	Stage    string `json:"stage"`
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Greeting *struct {
		Code int `json:"code"`
	} `json:"greeting"`
	TLS *struct {
		Version  string `json:"version"`
		Complete bool   `json:"complete"`
		Verified bool   `json:"verified"`
	} `json:"tls"`
	Lines []struct {
		Dir      string `json:"dir"`
		TLS      bool   `json:"tls"`
		Text     string `json:"text"`
		Redacted bool   `json:"redacted"`
	} `json:"lines"`
	Notes []struct {
		Level string `json:"level"`
		Text  string `json:"text"`
	} `json:"notes"`
	LMTP []struct {
		Recipient string `json:"recipient"`
		Code      int    `json:"code"`
		Message   string `json:"message"`
	} `json:"lmtp"`
	Refused map[string]struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"refused"`
}

func sendIopParseJSON(t *testing.T, o sendIopOut) sendIopJSON {
	t.Helper()
	var j sendIopJSON
	dec := json.NewDecoder(strings.NewReader(o.stdout))
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("--json: stdout is not a JSON object: %v", err)
	}
	if dec.More() {
		t.Errorf("--json: more than one JSON value on stdout")
	}
	return j
}

// sendIopJSONCase: --json, STARTTLS and AUTH PLAIN: one JSON object on
// stdout, exit_code 0, the lines inside TLS marked, the AUTH line redacted.
func sendIopJSONCase(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	o := sendIopRun(t, append(append(s.startTLSAuth("PLAIN"), sendIopMsg(token)...), "--json", "--to", "bob@example.test", s.addr)...)
	o.wantCode(t, 0)
	j := sendIopParseJSON(t, o)
	if j.ExitCode != 0 || !j.OK || j.Error != "" || j.Stage != "done" {
		t.Errorf("exit_code %d, ok %v, stage %q, error %q; want 0, true, done, none", j.ExitCode, j.OK, j.Stage, j.Error)
	}
	if j.Server != s.addr {
		t.Errorf("server %q, want %q", j.Server, s.addr)
	}
	if j.Greeting == nil || j.Greeting.Code != 220 {
		t.Errorf("greeting %+v, want 220", j.Greeting)
	}
	if j.TLS == nil || !j.TLS.Complete || !j.TLS.Verified || !strings.HasPrefix(j.TLS.Version, "TLS") {
		t.Errorf("tls %+v, want a complete, verified handshake", j.TLS)
	}
	var sawMail, sawAuth, sawStartTLS, sawData bool
	for _, l := range j.Lines {
		switch {
		case l.Dir == "send" && strings.EqualFold(l.Text, "STARTTLS"):
			sawStartTLS = true
			if l.TLS {
				t.Errorf("STARTTLS marked as inside TLS")
			}
		case l.Dir == "send" && strings.HasPrefix(strings.ToUpper(l.Text), "AUTH PLAIN"):
			sawAuth = true
			if !l.Redacted || !l.TLS {
				t.Errorf("AUTH line %+v: want redacted and inside TLS", l)
			}
		case l.Dir == "send" && strings.HasPrefix(strings.ToUpper(l.Text), "MAIL FROM:<ALICE@EXAMPLE.TEST>"):
			sawMail = true
			if !l.TLS {
				t.Errorf("MAIL not marked as inside TLS")
			}
		case l.Dir == "recv" && strings.HasPrefix(l.Text, "354"):
			sawData = true
		}
	}
	if !sawStartTLS || !sawAuth || !sawMail || !sawData {
		t.Errorf("lines lack STARTTLS %v, AUTH PLAIN %v, MAIL %v, 354 %v", sawStartTLS, sawAuth, sawMail, sawData)
	}
	if strings.Contains(o.stdout, "=== ") || strings.Contains(o.stdout, " ~> ") {
		t.Errorf("--json: transcript lines on stdout")
	}
	o.noSecret(t, sendIopPassword)
	sendIopDelivered(t, s.mailbox("bob"), token)

	// a failure: exit_code and stage in the JSON match the exit status
	args := append(s.tlsArgs(), "--starttls", "--auth", "PLAIN", "--auth-user", sendIopUser, "--auth-password", sendIopBadPassword,
		"--json", "--from", "alice@example.test", "--to", "bob@example.test", s.addr)
	o = sendIopRun(t, args...)
	o.wantCode(t, 28)
	j = sendIopParseJSON(t, o)
	if j.ExitCode != 28 || j.OK || j.Stage != "auth" || !strings.Contains(j.Error, "535") {
		t.Errorf("bad password: exit_code %d, ok %v, stage %q, error %q; want 28, false, auth, the 535", j.ExitCode, j.OK, j.Stage, j.Error)
	}
	o.noSecret(t, sendIopBadPassword)
}

// sendIopRecordCase: --record with each mechanism: a 0600 file that
// recordings.ReadFile reads without problems, with the whole session and no
// password; a second run refuses to overwrite it.
func sendIopRecordCase(t *testing.T, s sendIopServer) {
	dir := t.TempDir()
	g := sendIopNewGroup(t)
	defer g.Wait()
	for _, mech := range s.mechs {
		g.Run(mech, func(t *testing.T) {
			path := filepath.Join(dir, strings.ToLower(mech)+".jsonl")
			token := sendIopToken(t)
			o := sendIopRun(t, append(append(s.startTLSAuth(mech), sendIopMsg(token)...), "--record", path, "--to", "bob@example.test", s.addr)...)
			o.wantCode(t, 0)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("--record: %v", err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("recording mode %o, want 600", perm)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := recordings.ReadFile(path)
			if err != nil {
				t.Fatalf("recordings.ReadFile: %v", err)
			}
			for _, p := range rec.Problems {
				t.Errorf("recording problem: %s", p)
			}
			h := rec.Header
			if h.Server != s.addr || h.Transport != "smtp" || h.Network != "tcp" || h.Secrets || h.Insecure {
				t.Errorf("header %+v", h)
			}
			var client, server, tlsEv, redacted int
			var sawMail, sawAuth bool
			for _, e := range rec.Events {
				switch e.Kind {
				case session.KindClient:
					client++
					if e.Redacted {
						redacted++
					}
					if bytes.HasPrefix(bytes.ToUpper(e.Data), []byte("MAIL FROM:<ALICE@EXAMPLE.TEST>")) && e.TLS {
						sawMail = true
					}
					if bytes.HasPrefix(bytes.ToUpper(e.Data), []byte("AUTH "+mech)) && e.TLS {
						sawAuth = true
					}
				case session.KindServer:
					server++
				case session.KindTLS:
					tlsEv++
					if e.Handshake == nil || !e.Handshake.Verified {
						t.Errorf("TLS event %+v: want a verified handshake", e.Handshake)
					}
				}
				if len(e.Secrets) > 0 {
					t.Errorf("event %+v carries secret spans without --record-secrets", e)
				}
			}
			if client == 0 || server == 0 || tlsEv != 1 || !sawMail || !sawAuth {
				t.Errorf("recording: %d client, %d server, %d TLS events, MAIL inside TLS %v, AUTH %s inside TLS %v",
					client, server, tlsEv, sawMail, mech, sawAuth)
			}
			if redacted == 0 {
				t.Errorf("no client event marked redacted (AUTH %s)", mech)
			}
			sendIopNoSecret(t, sendIopPassword, map[string]string{"the recording": string(raw)})
			o.noSecret(t, sendIopPassword)
			sendIopDelivered(t, s.mailbox("bob"), token)

			// --record-secrets keeps them, and says so in the header
			withSecrets := filepath.Join(dir, strings.ToLower(mech)+"-secrets.jsonl")
			o3 := sendIopRun(t, append(append(s.startTLSAuth(mech), sendIopMsg(token+"-secrets")...), "--record", withSecrets, "--record-secrets", "--to", "bob@example.test", s.addr)...)
			o3.wantCode(t, 0)
			o3.noSecret(t, sendIopPassword) // the transcript still hides it
			if fi, err := os.Stat(withSecrets); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("--record-secrets file: %v, %v; want mode 600", fi, err)
			}
			if r, err := recordings.ReadFile(withSecrets); err != nil {
				t.Errorf("--record-secrets: %v", err)
			} else if len(r.Problems) != 0 || !r.Header.Secrets {
				t.Errorf("--record-secrets: problems %v, header %+v; want secrets true", r.Problems, r.Header)
			} else if mech != "CRAM-MD5" {
				spans := 0
				for _, e := range r.Events {
					spans += len(e.Secrets)
				}
				if spans == 0 {
					t.Errorf("--record-secrets: no event marks its secret")
				}
			}

			// created, never overwritten
			o2 := sendIopRun(t, append(append(s.startTLSAuth(mech), sendIopMsg(token+"-again")...), "--record", path, "--to", "bob@example.test", s.addr)...)
			o2.wantCode(t, 1)
			o2.hasNot(t, "=== Trying")
			if again, _ := os.ReadFile(path); !bytes.Equal(again, raw) {
				t.Errorf("the recording changed on a second --record to the same file")
			}
		})
	}
}

// sendIopScripted: aiosmtpd's scripted refusals: 451 at RCPT (exit 24) and
// a message refused after the data (exit 26).
func sendIopScripted(t *testing.T, s sendIopServer) {
	if s.name != "aiosmtpd" {
		t.Skipf("scripted refusals exist only on aiosmtpd")
	}
	g := sendIopNewGroup(t)
	defer g.Wait()
	g.Run("TempfailRecipient", func(t *testing.T) {
		o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(sendIopToken(t))...), "--to", "tempfail-x@example.test", s.addr)...)
		o.wantCode(t, 24)
		o.match(t, "stdout", `(?m)^<~  451 `)
	})
	g.Run("RefusedAfterData", func(t *testing.T) {
		token := sendIopToken(t)
		o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(token)...), "--to", "faildata-x@example.test", s.addr)...)
		o.wantCode(t, 26)
		o.match(t, "stdout", `(?m)^<~  554 5\.7\.1 message refused after the data`)
		o.match(t, "stderr", `(?m)^\*\*\* .*\(stage dot, exit 26\)$`)
		if _, ok := sendIopScan(s.mailbox("x"), token); ok {
			t.Errorf("the refused message was stored")
		}
	})
}

// sendIopNoStartTLS: --starttls against a server that does not offer it
// (the Dovecot test bed's relay sink, a plain aiosmtpd): exit 29, nothing
// sent after EHLO but QUIT.
func sendIopNoStartTLS(t *testing.T) {
	addr := sendIopEnv("EHLO_INTEROP_DOVECOT_RELAY_ADDR", "127.0.0.1:2530")
	sendIopReachable(t, "dovecot relay sink", "tcp", addr)
	o := sendIopRun(t, "--helo", sendIopHelo, "--timeout", sendIopTimeout, "--starttls",
		"--from", "alice@example.test", "--to", "bob@example.test", addr)
	o.wantCode(t, 29)
	o.hasNot(t, " -> STARTTLS")
	o.hasNot(t, " -> MAIL")
	o.match(t, "stderr", `(?i)starttls`)
}

// ---------------------------------------------------------------------------
// LMTP

// sendIopDovecotLMTP: Dovecot's LMTP on its Unix socket. alice exists,
// nobody does (550 at RCPT), full is accepted at RCPT and refused after the
// data (552, 1-byte quota). ehlo follows swaks: success when at least one
// recipient got the message; every recipient's reply is on the transcript.
func sendIopDovecotLMTP(t *testing.T) {
	g := sendIopNewGroup(t)
	defer g.Wait()
	sock := sendIopEnv("EHLO_INTEROP_DOVECOT_LMTP_SOCKET", sendIopBase("dovecot", "lmtp.sock"))
	mail := sendIopEnv("EHLO_INTEROP_DOVECOT_MAIL", sendIopBase("dovecot", "mail"))
	ca := sendIopEnv("EHLO_INTEROP_DOVECOT_CA", sendIopBase("dovecot", "tls", "cert.pem"))
	sendIopReachable(t, "dovecot", "unix", sock, "tcp", sendIopEnv("EHLO_INTEROP_DOVECOT_LMTP_ADDR", "127.0.0.1:2424"))
	mailbox := func(u string) string { return filepath.Join(mail, u, "Maildir") }
	lmtpTo := func(server, to string, extra ...string) []string {
		return append(append([]string{"--lmtp", "--helo", sendIopHelo, "--timeout", sendIopTimeout, "--from", "sender@example.org", "--to", to}, extra...), server)
	}
	lmtp := func(to string, extra ...string) []string { return lmtpTo(sock, to, extra...) }

	g.Run("OneUnknownRecipient", func(t *testing.T) {
		token := sendIopToken(t)
		o := sendIopRun(t, lmtp("alice@example.test,nobody@example.test", sendIopMsg(token)...)...)
		o.wantCode(t, 0)
		o.has(t, " -> LHLO "+sendIopHelo)
		o.match(t, "stdout", `(?m)^<-  550 5\.1\.1 <nobody@example\.test> User doesn't exist`)
		o.match(t, "stdout", `(?m)^=== alice@example\.test: 250 `)
		o.match(t, "stderr", `(?m)^\*\*\* 1 of 2 recipients refused$`)
		sendIopDelivered(t, mailbox("alice"), token)
		sendIopOnce(t, o.stderr, "*** 1 of 2 recipients refused")
	})
	g.Run("OneRefusedAfterData", func(t *testing.T) {
		token := sendIopToken(t)
		o := sendIopRun(t, lmtp("alice@example.test,full@example.test", sendIopMsg(token)...)...)
		o.wantCode(t, 0)
		o.match(t, "stdout", `(?m)^=== alice@example\.test: 250 `)
		o.match(t, "stderr", `(?m)^\*\*\* full@example\.test: 552 5\.2\.2 `)
		o.match(t, "stdout", `(?m)^<-  552 5\.2\.2 `)
		o.match(t, "stderr", `(?m)^\*\*\* 1 of 2 recipients refused$`)
		sendIopDelivered(t, mailbox("alice"), token)
		sendIopOnce(t, o.stderr, "*** full@example.test: 552 5.2.2 <full@example.test> Quota exceeded (mailbox for user is full)")
	})
	g.Run("JSON", func(t *testing.T) {
		token := sendIopToken(t)
		o := sendIopRun(t, lmtp("alice@example.test,full@example.test,nobody@example.test", append(sendIopMsg(token), "--json")...)...)
		o.wantCode(t, 0)
		j := sendIopParseJSON(t, o)
		if j.ExitCode != 0 || len(j.LMTP) != 2 || j.LMTP[0].Recipient != "alice@example.test" || j.LMTP[0].Code != 250 ||
			j.LMTP[1].Recipient != "full@example.test" || j.LMTP[1].Code != 552 {
			t.Errorf("exit_code %d, lmtp %+v; want 0, alice 250 then full 552", j.ExitCode, j.LMTP)
		}
		if j.Refused["nobody@example.test"].Code != 550 || j.Refused["full@example.test"].Code != 552 || len(j.Refused) != 2 {
			t.Errorf("refused %+v, want nobody 550 and full 552", j.Refused)
		}
		sendIopDelivered(t, mailbox("alice"), token)
		t.Run("BUG-NoteListedOnce", func(t *testing.T) {
			seen := map[string]int{}
			for _, n := range j.Notes {
				seen[n.Text]++
			}
			for text, n := range seen {
				if n != 1 {
					t.Errorf("note %q listed %d times: %+v", text, n, j.Notes)
				}
			}
		})
	})
	g.Run("Record", func(t *testing.T) {
		token := sendIopToken(t)
		rec := filepath.Join(t.TempDir(), "lmtp.jsonl")
		o := sendIopRun(t, lmtp("alice@example.test,nobody@example.test", append(sendIopMsg(token), "--record", rec)...)...)
		o.wantCode(t, 0)
		r, err := recordings.ReadFile(rec)
		if err != nil {
			t.Fatalf("recordings.ReadFile: %v", err)
		}
		if len(r.Problems) != 0 || r.Header.Transport != "lmtp" || r.Header.Network != "unix" || r.Header.Server != sock {
			t.Errorf("recording over the LMTP socket: problems %v, header %+v; want lmtp over unix to %s", r.Problems, r.Header, sock)
		}
		var replies []string
		for _, e := range r.Events {
			if e.Kind == session.KindServer {
				replies = append(replies, string(e.Data))
			}
		}
		all := strings.Join(replies, "")
		if !strings.Contains(all, "550 5.1.1 <nobody@example.test>") || !strings.Contains(all, "250 2.0.0 <alice@example.test>") {
			t.Errorf("recording lacks the per-recipient replies:\n%s", all)
		}
		sendIopDelivered(t, mailbox("alice"), token)
	})
	g.Run("AllRefusedAfterData", func(t *testing.T) {
		o := sendIopRun(t, lmtp("full@example.test", sendIopMsg(sendIopToken(t))...)...)
		o.wantCode(t, 26)
		o.match(t, "stderr", `(?m)^\*\*\* full@example\.test: 552 `)
	})
	g.Run("OnlyUnknownRecipient", func(t *testing.T) {
		o := sendIopRun(t, lmtp("nobody@example.test", sendIopMsg(sendIopToken(t))...)...)
		o.wantCode(t, 24)
		o.hasNot(t, " -> DATA")
	})
	g.Run("StartTLSOverSocket", func(t *testing.T) {
		token := sendIopToken(t)
		o := sendIopRun(t, lmtp("bob@example.test", append(sendIopMsg(token), "--starttls", "--ca", ca, "--sni", sendIopCertName)...)...)
		o.wantCode(t, 0)
		o.has(t, " -> STARTTLS")
		o.has(t, " ~> LHLO "+sendIopHelo)
		o.match(t, "stdout", `(?m)^=== bob@example\.test: 250 `)
		sendIopDelivered(t, mailbox("bob"), token)
	})
	g.Run("TCPStartTLS", func(t *testing.T) {
		// over TCP the address dialled is the name checked (IP SAN 127.0.0.1)
		addr := sendIopEnv("EHLO_INTEROP_DOVECOT_LMTP_ADDR", "127.0.0.1:2424")
		token := sendIopToken(t)
		o := sendIopRun(t, lmtpTo(addr, "bob@example.test", append(sendIopMsg(token), "--starttls", "--ca", ca)...)...)
		o.wantCode(t, 0)
		o.has(t, " ~> LHLO "+sendIopHelo)
		o.match(t, "stdout", `(?m)^=== TLS peer certificate: .* verified$`)
		sendIopDelivered(t, mailbox("bob"), token)
	})
	g.Run("StartTLSOverSocketWithoutName", func(t *testing.T) {
		// A Unix socket has no host name to check the certificate against:
		// without --sni the certificate cannot be verified; exit 29, and
		// STARTTLS is not even sent.
		o := sendIopRun(t, lmtp("bob@example.test", "--starttls", "--ca", ca)...)
		// Refused as a bad command line, before connecting.
		o.wantCode(t, 1)
		o.hasNot(t, " -> STARTTLS")
		o.match(t, "stderr", `(?i)sni|server ?name`)
		t.Run("BUG-NamesTheFlag", func(t *testing.T) {
			// The error is protocol's, in API words: "set TLSConfig.ServerName
			// or InsecureSkipVerify"; a command-line user needs the flags.
			o.match(t, "stderr", `--sni`)
		})
	})
}

// sendIopAiosmtpdLMTP: aiosmtpd's LMTP socket: per-recipient replies after
// the data, a scripted refusal at RCPT, and no STARTTLS.
func sendIopAiosmtpdLMTP(t *testing.T) {
	g := sendIopNewGroup(t)
	defer g.Wait()
	sock := sendIopEnv("EHLO_INTEROP_AIOSMTPD_LMTP_SOCKET", sendIopBase("aiosmtpd", "lmtp.sock"))
	mail := sendIopEnv("EHLO_INTEROP_AIOSMTPD_MAIL", sendIopBase("aiosmtpd", "mail"))
	sendIopReachable(t, "aiosmtpd", "unix", sock)
	base := []string{"--lmtp", "--helo", sendIopHelo, "--timeout", sendIopTimeout, "--from", "sender@example.org"}

	g.Run("PerRecipientReplies", func(t *testing.T) {
		token := sendIopToken(t)
		args := append(append(base, sendIopMsg(token)...), "--to", "alice@example.test,reject-x@example.test,faildata-x@example.test,bob@example.test", sock)
		o := sendIopRun(t, args...)
		o.wantCode(t, 0)
		o.match(t, "stdout", `(?m)^<-  550 5\.1\.1 <reject-x@example\.test>`)
		o.match(t, "stdout", `(?m)^=== alice@example\.test: 250 `)
		o.match(t, "stdout", `(?m)^=== bob@example\.test: 250 `)
		o.match(t, "stderr", `(?m)^\*\*\* faildata-x@example\.test: 550 `)
		o.match(t, "stderr", `(?m)^\*\*\* 2 of 4 recipients refused$`)
		content := sendIopDelivered(t, mail, token)
		if !strings.Contains(content, "X-Testbed-Envelope-To: <alice@example.test>, <bob@example.test>\r\n") {
			t.Errorf("envelope of the stored message: want alice and bob only:\n%s", content)
		}
	})
	g.Run("StartTLSNotOffered", func(t *testing.T) {
		o := sendIopRun(t, append(base, "--starttls", "--sni", "mx.example.test", "--to", "alice@example.test", sock)...)
		o.wantCode(t, 29)
		o.hasNot(t, " -> STARTTLS")
		o.hasNot(t, " -> MAIL")
	})
}

// sendIopPipelining: --pipeline. Where PIPELINING is offered, MAIL, RCPT
// and DATA go in one write, before any reply; a refused recipient among
// them is still just a warning (exit 0), every recipient refused is exit 24
// with no message body sent. Elsewhere ehlo falls back to one command at a
// time and the message still goes.
func sendIopPipelining(t *testing.T, s sendIopServer) {
	g := sendIopNewGroup(t)
	defer g.Wait()
	g.Run("Send", func(t *testing.T) {
		token := sendIopToken(t)
		to := "bob@example.test"
		if s.unknownRcpt != "" {
			to += "," + s.unknownRcpt
		}
		o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(token)...), "--pipeline", "--to", to, s.addr)...)
		o.wantCode(t, 0)
		if next := sendIopLineAfter(o.stdout, " ~> mail FROM:"); s.pipelining != strings.HasPrefix(strings.ToLower(next), " ~> rcpt to:") {
			t.Errorf("server offers PIPELINING: %v; the line after MAIL is %q", s.pipelining, next)
		}
		if s.unknownRcpt != "" {
			o.match(t, "stdout", s.unknownText)
			o.match(t, "stderr", `(?m)^\*\*\* 1 of 2 recipients refused$`)
		}
		sendIopDelivered(t, s.mailbox("bob"), token)
	})
	g.Run("EveryRecipientRefused", func(t *testing.T) {
		if s.unknownRcpt == "" {
			t.Skipf("%s accepts every recipient after AUTH", s.name)
		}
		token := sendIopToken(t)
		o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(token)...), "--pipeline", "--to", s.unknownRcpt, s.addr)...)
		o.wantCode(t, 24)
		o.match(t, "stdout", s.unknownText)
		o.hasNot(t, " ~> Subject:")
		o.hasNot(t, " ~> body of ")
	})
}

// sendIopChunking: --chunking. Where CHUNKING is offered the message goes
// with BDAT, unstuffed, and arrives intact; elsewhere with DATA.
func sendIopChunking(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(token)...), "--chunking", "--to", "bob@example.test", s.addr)...)
	o.wantCode(t, 0)
	if s.chunking {
		o.match(t, "stdout", `(?m)^ ~> BDAT [0-9]+ LAST$`)
		o.hasNot(t, " ~> data")
		o.has(t, " ~> ..two dots") // no dot-stuffing in BDAT
	} else {
		o.has(t, " ~> data")
		o.has(t, " ~> ...two dots")
	}
	sendIopDelivered(t, s.mailbox("bob"), token)
}

// sendIopRepeat: --repeat 4 --connections 2, each connection with STARTTLS
// and AUTH: exit 0, the summary line, and four copies delivered.
func sendIopRepeat(t *testing.T, s sendIopServer) {
	g := sendIopNewGroup(t)
	defer g.Wait()
	token := sendIopToken(t)
	o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(token)...), "--repeat", "4", "--connections", "2", "--to", "bob@example.test", s.addr)...)
	o.wantCode(t, 0)
	o.match(t, "stdout", `(?m)^=== 4 messages sent, 0 failed, over 2 connections in [0-9.]+s: [0-9.]+ messages/s$`)
	o.match(t, "stdout", `(?m)^=== final-reply +\S+ +\S+ +4$`)
	o.noSecret(t, sendIopPassword)
	sendIopCount(t, s.mailbox("bob"), "Subject: ehlo send "+token, 4)

	// A load run that fails says why, with the exit code of the stage
	// that failed (PRODUCT §4), as a single send does.
	g.Run("BadPassword", func(t *testing.T) {
		args := append(s.tlsArgs(), "--starttls", "--auth", "auto", "--auth-user", sendIopUser, "--auth-password", sendIopBadPassword,
			"--from", "alice@example.test", "--to", "bob@example.test", "--repeat", "2", s.addr)
		o := sendIopRun(t, args...)
		o.match(t, "stdout", `(?m)^=== 0 messages sent, 2 failed, over 1 connection `)
		o.match(t, "stderr", `(?m)^\*\*\* authentication failed: 535`)
		o.noSecret(t, sendIopBadPassword)
		o.wantCode(t, 28)
	})
	g.Run("RecipientRefused", func(t *testing.T) {
		if s.unknownRcpt == "" {
			t.Skipf("%s accepts every recipient after AUTH", s.name)
		}
		o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(sendIopToken(t))...), "--to", s.unknownRcpt, "--repeat", "2", s.addr)...)
		o.match(t, "stdout", `(?m)^=== 0 messages sent, 2 failed, over 1 connection `)
		if o.code == 0 {
			t.Errorf("exit 0 although no message was sent")
		}
		o.wantCode(t, 24)
		o.match(t, "stderr", `(?m)^\*\*\* .*`+regexp.QuoteMeta(s.unknownRcpt))
	})
}

// sendIopDataFile: --data @FILE, no --from/--to: the envelope comes from
// the headers (To and Bcc), and the Bcc header is never sent.
func sendIopDataFile(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	file := filepath.Join(t.TempDir(), "msg.eml")
	msg := "From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\nBcc: alice@example.test\nSubject: ehlo send " + token +
		"\nMessage-ID: <" + token + "@client.test>\n\nbody of " + token + "\n.leading dot\n..two dots\n.\nlast line\n"
	if err := os.WriteFile(file, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(s.tlsArgs(), "--starttls", "--auth", "auto", "--auth-user", sendIopUser, "--data", "@"+file, s.addr)
	o := sendIopRun(t, args...)
	o.wantCode(t, 0)
	o.match(t, "stdout", `(?mi)^ ~> mail FROM:<alice@example\.test>`)
	o.match(t, "stdout", `(?mi)^ ~> rcpt TO:<bob@example\.test>`)
	o.match(t, "stdout", `(?mi)^ ~> rcpt TO:<alice@example\.test>`)
	if strings.Contains(o.stdout, " ~> Bcc:") {
		t.Errorf("the Bcc header was sent")
	}
	for _, u := range []string{"bob", "alice"} {
		content := sendIopDelivered(t, s.mailbox(u), token)
		if strings.Contains(content, "\nBcc:") {
			t.Errorf("the copy for %s holds the Bcc header:\n%s", u, content)
		}
	}
}

// sendIopAttachment: --attach: the file arrives base64-encoded in a
// multipart message, with its name.
func sendIopAttachment(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	file := filepath.Join(t.TempDir(), "sendiop-data.bin")
	data := []byte("\x00\x01binary " + token + "\xff\xfe")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(token)...), "--attach", file, "--to", "bob@example.test", s.addr)...)
	o.wantCode(t, 0)
	content := strings.ReplaceAll(sendIopFind(t, s.mailbox("bob"), "Subject: ehlo send "+token), "\r\n", "\n")
	for _, want := range []string{"filename=sendiop-data.bin", "Content-Transfer-Encoding: base64", base64.StdEncoding.EncodeToString(data), "body of " + token} {
		if !strings.Contains(content, want) {
			t.Errorf("stored message lacks %q:\n%s", want, content)
		}
	}
}

// sendIopDSN: --notify, --ret, --envid. Where DSN is offered they go on
// MAIL and RCPT and the success notification comes back to alice; where it
// is not, RFC 3461 §4 forbids them, and ehlo should stop before MAIL as it
// does for --smtputf8.
func sendIopDSN(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	envid := strings.ToUpper(token) + "-ENVID"
	o := sendIopRun(t, append(append(s.startTLSAuth("auto"), sendIopMsg(token)...),
		"--notify", "SUCCESS,FAILURE", "--ret", "HDRS", "--envid", envid, "--to", "bob@example.test", s.addr)...)
	if !s.dsn {
		o.wantCode(t, 23)
		o.hasNot(t, " ~> mail")
		o.match(t, "stderr", `DSN`)
		return
	}
	o.wantCode(t, 0)
	o.match(t, "stdout", `(?mi)^ ~> mail FROM:<alice@example\.test>.* RET=HDRS ENVID=`+envid+`$`)
	o.match(t, "stdout", `(?mi)^ ~> rcpt TO:<bob@example\.test> NOTIFY=SUCCESS,FAILURE$`)
	sendIopDelivered(t, s.mailbox("bob"), token)
	needle := "Subject: ehlo send " + token
	if s.dsnEnvid {
		needle = envid
	}
	report := sendIopFind(t, s.mailbox("alice"), needle)
	if !strings.Contains(strings.ToLower(report), "message/delivery-status") {
		t.Errorf("the message for alice is not a delivery status notification:\n%s", report)
	}
}

// sendIopQuitAfter: --quit-after stops at the stage and QUITs, exit 0.
func sendIopQuitAfter(t *testing.T, s sendIopServer) {
	g := sendIopNewGroup(t)
	defer g.Wait()
	g.Run("tls", func(t *testing.T) {
		o := sendIopRun(t, append(s.tlsArgs(), "--starttls", "--quit-after", "tls", "--to", "bob@example.test", s.addr)...)
		o.wantCode(t, 0)
		o.has(t, " -> STARTTLS")
		o.match(t, "stdout", `(?m)^=== TLS peer certificate: .* verified$`)
		o.hasNot(t, " ~> ehlo")
		o.has(t, " ~> quit")
	})
	g.Run("rcpt", func(t *testing.T) {
		o := sendIopRun(t, append(s.startTLSAuth("auto"), "--quit-after", "rcpt", "--to", "bob@example.test", s.addr)...)
		o.wantCode(t, 0)
		o.has(t, " ~> rcpt TO:<bob@example.test>")
		o.hasNot(t, " ~> data")
		o.hasNot(t, " ~> BDAT")
		o.has(t, " ~> quit")
	})
}

// sendIopDebug: --debug 2 --quiet: smtplib's debug lines on stderr, no
// transcript, and the password in neither.
func sendIopDebug(t *testing.T, s sendIopServer) {
	g := sendIopNewGroup(t)
	defer g.Wait()
	for _, mech := range s.mechs {
		g.Run(mech, func(t *testing.T) {
			o := sendIopRun(t, append(append(s.startTLSAuth(mech), sendIopMsg(sendIopToken(t))...), "--debug", "2", "--quiet", "--to", "bob@example.test", s.addr)...)
			o.wantCode(t, 0)
			if strings.TrimSpace(o.stdout) != "" {
				t.Errorf("--quiet: stdout %q", o.stdout)
			}
			o.match(t, "stderr", `(?m)^[0-9:.]+ send: 'AUTH `+mech)
			o.match(t, "stderr", `(?m)^[0-9:.]+ reply: retcode \(235\)`)
			o.noSecret(t, sendIopPassword)
		})
	}
}

// sendIopLargeBody: a 2.9 MB body of 40000 lines from --body @FILE, dot
// lines among them: exit 0, the transcript elides the body instead of
// printing it, and every line arrives.
func sendIopLargeBody(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	var b strings.Builder
	const lines = 40000
	for i := 0; i < lines; i++ {
		if i%1000 == 0 {
			fmt.Fprintf(&b, ".dot line %06d\n", i)
		} else {
			fmt.Fprintf(&b, "line %06d %s\n", i, strings.Repeat("x", 60))
		}
	}
	file := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	o := sendIopRun(t, append(s.startTLSAuth("auto"), "--subject", "ehlo send "+token, "--body", "@"+file, "--to", "bob@example.test", s.addr)...)
	o.wantCode(t, 0)
	o.match(t, "stdout", `(?m)^=== [0-9]+ more lines of message data not shown$`)
	if len(o.stdout) > 64<<10 {
		t.Errorf("transcript of %d bytes for a large message: the body is not elided", len(o.stdout))
	}
	content := strings.ReplaceAll(sendIopFind(t, s.mailbox("bob"), "Subject: ehlo send "+token), "\r\n", "\n")
	if n := strings.Count(content, "\nline ") + strings.Count(content, "\n.dot line "); n != lines {
		t.Errorf("stored copy has %d of the %d body lines", n, lines)
	}
	for _, want := range []string{"\n.dot line 000000\n", "\n.dot line 039000\n", "\nline 039999 "} {
		if !strings.Contains(content, want) {
			t.Errorf("stored copy lacks %q", want)
		}
	}
}

// sendIopInsecure: --insecure with no --ca: the handshake is not verified,
// the transcript and the recording say so, and sending credentials over
// it draws a warning.
func sendIopInsecure(t *testing.T, s sendIopServer) {
	token := sendIopToken(t)
	rec := filepath.Join(t.TempDir(), "insecure.jsonl")
	o := sendIopRun(t, append(sendIopMsg(token), "--helo", sendIopHelo, "--timeout", sendIopTimeout, "--starttls", "--insecure",
		"--auth", "auto", "--auth-user", sendIopUser, "--from", "alice@example.test", "--to", "bob@example.test", "--record", rec, s.addr)...)
	o.wantCode(t, 0)
	o.match(t, "stdout", `(?m)^=== TLS peer certificate: .* not verified \(verification disabled\)$`)
	const warning = "*** sending credentials over TLS that was NOT VERIFIED (--insecure): anyone in the path may be the server"
	o.match(t, "stderr", `(?m)^`+regexp.QuoteMeta(warning)+`$`)
	if r, err := recordings.ReadFile(rec); err != nil {
		t.Errorf("reading the recording: %v", err)
	} else if !r.Header.Insecure {
		t.Errorf("recording header %+v: want insecure true", r.Header)
	}
	o.noSecret(t, sendIopPassword)
	sendIopDelivered(t, s.mailbox("bob"), token)
	sendIopOnce(t, o.stderr, warning)
}

package cli

// The command-line acceptance tests: testdata/script/*.txtar run `ehlo send`
// and `ehlo sandbox` as a user would, against servers that live in this
// test process (STYLE.md A11, A12, B6).
//
// The ehlo binary is this test binary (testscript.Main installs it in $PATH
// under the name "ehlo"), so `exec ehlo …` runs run() with coverage and the
// race detector. The servers are in-process and loopback-only:
//
//	sandbox [--fault SPEC]... [--lmtp] [--socket] [--allow-insecure-auth]
//	        [--user NAME:PASS]... [--no-plain] [--no-tls]
//	    starts a sandbox.Server for the rest of the script (a second call
//	    replaces the first) and sets $SANDBOX (host:port of the plain
//	    listener), $SANDBOX_HOST, $SANDBOX_PORT, $SANDBOX_TLS and
//	    $SANDBOX_TLS_PORT (the implicit-TLS listener), $SANDBOX_SOCK (with
//	    --socket), and writes the server's certificate to $WORK/ca.pem.
//	mailbox N                 the sandbox holds exactly N messages (waiting up to 5 s for them)
//	mailcontains [-n I] RE    a message's bytes match RE (the last one, or
//	                          message I counting from 0); with !, none does
//	mailenv FIELD RE          a field of the last message matches RE as a
//	                          whole: from, to (comma-joined), params
//	                          (space-joined), helo, tls, auth, chunked
//	connections N             the sandbox accepted exactly N connections
//	sandboxlog RE             the sandbox's session log matches RE (within 5 s; ! at once)
//	fakeserver FILE           a scripted TCP server (see cmdFakeServer) at
//	                          $FAKE, $FAKE_PORT
//	fakecheck                 every connection of the fake server played its
//	                          script to the end with no mismatch
//	fakeconns N               the fake server accepted exactly N connections
//	fakelog RE                what clients sent the fake server matches RE
//	exitcode N PROG ARGS...   runs PROG like exec and wants exit status N
//	interrupt [-close] N ARGS...
//	                          runs ehlo ARGS with a stdin that sends part of
//	                          a message and then stalls, sends ehlo SIGINT
//	                          once the sandbox has answered DATA, and wants
//	                          exit status N within 5 seconds; -close also
//	                          closes stdin 300ms later (the writer of a
//	                          shell pipeline gets the same Ctrl+C)
//	freeport                  $FREEPORT: a loopback port nobody listens on
//	dnszone FILE [ZONE]...    $RESOLVER: a DNS server on loopback answering
//	                          from FILE (zone-file lines, $VARS expanded;
//	                          $CA_SPKI: ca.pem's key hash), AD under ZONEs
//	sockdir                   $SOCKDIR: a short directory for Unix sockets
//	                          ($WORK may be too long for one)
//	waitlisten ADDR           waits until something accepts on ADDR
//	                          (host:port or a Unix socket path)
//	canary [TEXT]             $CANARY: a random password, with TEXT (Go
//	                          escapes undone) in its middle; $CANARY_PLAIN:
//	                          the AUTH PLAIN blob of alice and $CANARY
//	nosecret SECRET USER FILE...
//	                          SECRET is in none of the files (stdout and
//	                          stderr included): neither plain, nor escaped
//	                          as --debug's Python reprs or the transcript
//	                          write it, nor in base64 at any of the three
//	                          alignments, nor as the PLAIN or XOAUTH2 blob
//	                          of USER; with !, one of the files holds it
//	writebytes FILE TEXT      writes TEXT with Go escapes (\r \n \x00) undone
//	gencert NAME              writes a self-signed NAME.pem and NAME.key
//	filemode FILE MODE        FILE's permission bits are MODE (octal)
//	jsonfield FILE PATH VAL   FILE (or stdout) is one JSON value whose PATH
//	                          (a.b.0.c, or a/b.c/d for keys with dots) is
//	                          VAL
//	jsonraw FILE TEXT         some line's "raw" in FILE's JSON holds the
//	                          bytes of TEXT (Go escapes undone)
//
// Control characters cannot be typed in a script line, so the environment
// has $CR, $LF, $TAB, $SOH and $ESC.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/protocol/smtptest"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/sandbox"
	"github.com/ehlo-dev/ehlo/session"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ehlo": func() { os.Exit(run(os.Args[1:])) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("CR", "\r")
			env.Setenv("LF", "\n")
			env.Setenv("TAB", "\t")
			env.Setenv("SOH", "\x01")
			env.Setenv("ESC", "\x1b")
			// The default sender is $LOGNAME@host, as swaks's.
			env.Setenv("LOGNAME", "tester")
			// Under -race every ehlo run would sleep a second at exit
			// (the race runtime's atexit_sleep_ms) for goroutines still
			// running to report; a race is still reported when it
			// happens, and makes ehlo exit 66, which exitcode catches.
			env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			env.Values[stateKey{}] = &scriptState{}
			env.Defer(func() { env.Values[stateKey{}].(*scriptState).close() })
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sandbox":      cmdSandbox,
			"mailbox":      cmdMailbox,
			"mailcontains": cmdMailContains,
			"mailenv":      cmdMailEnv,
			"connections":  cmdConnections,
			"sandboxlog":   cmdSandboxLog,
			"fakeserver":   cmdFakeServer,
			"fakecheck":    cmdFakeCheck,
			"fakeconns":    cmdFakeConns,
			"fakelog":      cmdFakeLog,
			"exitcode":     cmdExitCode,
			"interrupt":    cmdInterrupt,
			"stuck":        cmdStuck,
			"freeport":     cmdFreePort,
			"waitlisten":   cmdWaitListen,
			"sockdir":      cmdSockDir,
			"canary":       cmdCanary,
			"nosecret":     cmdNoSecret,
			"writebytes":   cmdWriteBytes,
			"gencert":      cmdGenCert,
			"filemode":     cmdFileMode,
			"jsonfield":    cmdJSONField,
			"jsonraw":      cmdJSONRaw,
			"bigfile":      cmdBigFile,
			"dnszone":      cmdDNSZone,
		},
	})
}

type stateKey struct{}

// scriptState is what one script's custom commands share.
type scriptState struct {
	srv     *sandbox.Server
	srvLog  *syncBuffer
	sockDir string
	fake    *fakeServer
}

func (s *scriptState) close() {
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
	if s.sockDir != "" {
		os.RemoveAll(s.sockDir)
		s.sockDir = ""
	}
	if s.fake != nil {
		s.fake.close()
		s.fake = nil
	}
}

func state(ts *testscript.TestScript) *scriptState {
	return ts.Value(stateKey{}).(*scriptState)
}

func noNeg(ts *testscript.TestScript, neg bool, name string) {
	if neg {
		ts.Fatalf("%s does not support !", name)
	}
}

// syncBuffer is the sandbox log: written by its sessions, read by the
// script.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ---- the sandbox ----

func cmdSandbox(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "sandbox")
	st := state(ts)
	if st.srv != nil {
		st.srv.Close()
		st.srv = nil
	}
	cfg := sandbox.Config{}
	socket := false
	for i := 0; i < len(args); i++ {
		next := func() string {
			i++
			if i >= len(args) {
				ts.Fatalf("sandbox: %s needs a value", args[i-1])
			}
			return args[i]
		}
		switch args[i] {
		case "--fault":
			f, err := sandbox.ParseFault(next())
			ts.Check(err)
			cfg.Faults = append(cfg.Faults, f)
		case "--lmtp":
			cfg.LMTP = true
		case "--socket":
			socket = true
		case "--allow-insecure-auth":
			cfg.AllowInsecureAuth = true
		case "--user":
			name, pass, ok := strings.Cut(next(), ":")
			if !ok {
				ts.Fatalf("sandbox: --user NAME:PASS")
			}
			if cfg.Users == nil {
				cfg.Users = map[string]string{}
			}
			cfg.Users[name] = pass
		case "--no-plain":
			cfg.Listen = "-"
		case "--no-tls":
			cfg.TLSListen = "-"
		default:
			ts.Fatalf("sandbox: unknown flag %q", args[i])
		}
	}
	if socket {
		cfg.Socket = filepath.Join(sockDir(ts), "sandbox.sock")
	}
	st.srvLog = &syncBuffer{}
	cfg.Log = st.srvLog
	srv, err := sandbox.New(cfg)
	ts.Check(err)
	srv.Start()
	st.srv = srv
	ts.Setenv("SANDBOX", srv.Addr())
	if host, port, err := net.SplitHostPort(srv.Addr()); err == nil {
		ts.Setenv("SANDBOX_HOST", host)
		ts.Setenv("SANDBOX_PORT", port)
	}
	ts.Setenv("SANDBOX_TLS", srv.TLSAddr())
	if _, port, err := net.SplitHostPort(srv.TLSAddr()); err == nil {
		ts.Setenv("SANDBOX_TLS_PORT", port)
	}
	ts.Setenv("SANDBOX_SOCK", srv.SocketPath())
	ts.Check(os.WriteFile(ts.MkAbs("ca.pem"), srv.CertPEM(), 0o644))
}

// sockDir is a short directory for Unix sockets, whose paths are limited
// to about 108 bytes; $WORK can be longer.
func sockDir(ts *testscript.TestScript) string {
	st := state(ts)
	if st.sockDir == "" {
		dir, err := os.MkdirTemp("", "ehlo-sock")
		ts.Check(err)
		st.sockDir = dir
	}
	return st.sockDir
}

func cmdSockDir(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "sockdir")
	ts.Setenv("SOCKDIR", sockDir(ts))
}

func sandboxOf(ts *testscript.TestScript) *sandbox.Server {
	st := state(ts)
	if st.srv == nil {
		ts.Fatalf("no sandbox running (use the sandbox command first)")
	}
	st.srv.FlushLog()
	return st.srv
}

func atoi(ts *testscript.TestScript, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		ts.Fatalf("%q is not a number", s)
	}
	return n
}

func cmdMailbox(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "mailbox")
	if len(args) != 1 {
		ts.Fatalf("usage: mailbox N")
	}
	// A client that does not wait for the final reply (--drop-after-send
	// dot) can exit before the server has stored the message.
	srv, want := sandboxOf(ts), atoi(ts, args[0])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Mailbox().Wait(ctx, want)
	cancel()
	if got := srv.Mailbox().Len(); got != want {
		ts.Fatalf("the sandbox holds %d message(s), want %d", got, want)
	}
}

func cmdMailContains(ts *testscript.TestScript, neg bool, args []string) {
	idx := -1
	if len(args) == 3 && args[0] == "-n" {
		idx, args = atoi(ts, args[1]), args[2:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: mailcontains [-n I] REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	ts.Check(err)
	msgs := sandboxOf(ts).Mailbox().Messages()
	if len(msgs) == 0 {
		ts.Fatalf("the sandbox holds no message")
	}
	if idx < 0 {
		idx = len(msgs) - 1
	}
	if idx >= len(msgs) {
		ts.Fatalf("no message %d (the sandbox holds %d)", idx, len(msgs))
	}
	data := msgs[idx].Data
	ts.Logf("[message %d]\n%s", idx, data)
	switch found := re.Match(data); {
	case found && neg:
		ts.Fatalf("message %d matches %q", idx, args[0])
	case !found && !neg:
		ts.Fatalf("message %d does not match %q", idx, args[0])
	}
}

func cmdMailEnv(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "mailenv")
	if len(args) != 2 {
		ts.Fatalf("usage: mailenv from|to|params|helo|tls|auth|chunked REGEXP")
	}
	msgs := sandboxOf(ts).Mailbox().Messages()
	if len(msgs) == 0 {
		ts.Fatalf("the sandbox holds no message")
	}
	m := msgs[len(msgs)-1]
	var got string
	switch args[0] {
	case "from":
		got = m.From
	case "to":
		got = strings.Join(m.To, ",")
	case "params":
		got = strings.Join(m.Params, " ")
	case "helo":
		got = m.Helo
	case "tls":
		got = strconv.FormatBool(m.TLS)
	case "auth":
		got = m.AuthUser
	case "chunked":
		got = strconv.FormatBool(m.Chunked)
	default:
		ts.Fatalf("mailenv: unknown field %q", args[0])
	}
	re, err := regexp.Compile("^(?:" + args[1] + ")$")
	ts.Check(err)
	if !re.MatchString(got) {
		ts.Fatalf("%s of the last message is %q, want %q", args[0], got, args[1])
	}
}

func cmdConnections(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "connections")
	if len(args) != 1 {
		ts.Fatalf("usage: connections N")
	}
	sandboxOf(ts)
	log := state(ts).srvLog.String()
	if got, want := strings.Count(log, " connection from "), atoi(ts, args[0]); got != want {
		ts.Fatalf("the sandbox accepted %d connection(s), want %d\n%s", got, want, log)
	}
}

func cmdSandboxLog(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: sandboxlog REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	ts.Check(err)
	// A match may wait for the server to read what a client that did not
	// wait for the reply sent (--drop-after-send); a line that must be
	// absent is checked at once.
	var log string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		sandboxOf(ts)
		log = state(ts).srvLog.String()
		if neg || re.MatchString(log) || time.Now().After(deadline) {
			break
		}
	}
	switch found := re.MatchString(log); {
	case found && neg:
		ts.Fatalf("the sandbox log matches %q:\n%s", args[0], log)
	case !found && !neg:
		ts.Fatalf("the sandbox log does not match %q:\n%s", args[0], log)
	}
}

// ---- the scripted fake server ----

// fakeConns is how many connections a fake server scripts: the script is
// played on each, and a connection beyond them is a failure.
const fakeConns = 16

// fakeServer is a protocol/smtptest server playing a script file, and
// what it reported: testscript has no testing.T to give it, so fakeServer
// stands in for one and fakecheck reports the failures.
type fakeServer struct {
	srv *smtptest.Server

	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeServer) Helper() {}
func (f *fakeServer) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}
func (f *fakeServer) Fatalf(format string, args ...any) { f.Errorf(format, args...) }
func (f *fakeServer) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }

// close stops the server, as the end of a test would.
func (f *fakeServer) close() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.cleanups = nil
}

func parseFakeScript(ts *testscript.TestScript, text string) []smtptest.Step {
	var steps []smtptest.Step
	var send []byte // consecutive S: and R: lines, sent in one write
	flush := func() {
		if send != nil {
			steps = append(steps, smtptest.SRaw(string(send)))
			send = nil
		}
	}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = os.Expand(line, ts.Getenv)
		verb, arg, _ := strings.Cut(line, " ")
		switch verb {
		case "S:":
			send = append(send, arg+"\r\n"...)
			continue
		case "R:":
			send = append(send, unquote(ts, arg)...)
			continue
		}
		flush()
		switch verb {
		case "C:":
			steps = append(steps, smtptest.CMatch(regexp.MustCompile("(?i)^"+strings.ReplaceAll(regexp.QuoteMeta(arg), `\*`, ".*")+"$")))
		case "sleep":
			d, err := time.ParseDuration(arg)
			ts.Check(err)
			steps = append(steps, smtptest.Sleep(d))
		case "tls":
			cert, err := fakeCert()
			ts.Check(err)
			steps = append(steps, smtptest.StartTLS(cert))
		case "clienthello":
			steps = append(steps, smtptest.Do("clienthello", readClientHello))
		case "data":
			steps = append(steps, smtptest.Do("data", readMessage))
		case "eof":
			steps = append(steps, smtptest.ExpectEOF())
		case "close":
			steps = append(steps, smtptest.Close())
		default:
			ts.Fatalf("fake script line %d: unknown step %q", n+1, line)
		}
	}
	flush()
	// When the script ends the server hangs up, as a script's last reply
	// (a 221, a 421) says it will: the client is not waited for.
	if end := len(steps) - 1; end < 0 || !strings.HasPrefix(steps[end].String(), "close") && steps[end].String() != "expectEOF" {
		steps = append(steps, smtptest.Close())
	}
	return steps
}

// readClientHello reads one TLS handshake record and ignores it.
func readClientHello(sc *smtptest.Conn) error {
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(sc.NetConn(), hdr); err != nil {
		return fmt.Errorf("want a TLS record: %w", err)
	}
	if hdr[0] != 0x16 {
		return fmt.Errorf("want a TLS handshake record, got %q", hdr)
	}
	if _, err := io.CopyN(io.Discard, sc.NetConn(), int64(hdr[3])<<8|int64(hdr[4])); err != nil {
		return fmt.Errorf("reading the ClientHello: %w", err)
	}
	return nil
}

// readMessage reads message lines up to and including the "." line.
func readMessage(sc *smtptest.Conn) error {
	for {
		line, err := sc.ReadLine()
		if err != nil {
			return fmt.Errorf("message data: %w", err)
		}
		if string(line) == ".\r\n" {
			return nil
		}
	}
}

// cmdFakeServer starts a loopback server that plays the script in FILE on
// every connection (up to fakeConns), strictly, on protocol/smtptest.
// Lines:
//
//	S: TEXT     send TEXT and CRLF
//	R: TEXT     send TEXT with Go escapes undone (\r \n \x00), no CRLF
//	C: GLOB     read one line; it must match GLOB (* is any run of
//	            characters, case is ignored)
//	tls         TLS server handshake (self-signed certificate: the client
//	            needs --insecure)
//	clienthello read one TLS record (the ClientHello) and ignore it
//	data        read message lines up to and including the "." line
//	sleep DUR   pause
//	eof         the client must close without sending anything more
//	close       hang up now
//
// Consecutive S: and R: lines go out in one write, so a greeting and an
// unsolicited reply share a segment. $VARS are expanded from the script's
// environment. Blank lines and lines starting with # are ignored. When the
// script ends the server hangs up.
func cmdFakeServer(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "fakeserver")
	if len(args) != 1 {
		ts.Fatalf("usage: fakeserver FILE")
	}
	st := state(ts)
	if st.fake != nil {
		st.fake.close()
	}
	steps := parseFakeScript(ts, ts.ReadFile(args[0]))
	scripts := make([][]smtptest.Step, fakeConns)
	for i := range scripts {
		scripts[i] = steps
	}
	f := &fakeServer{}
	f.srv = smtptest.NewServer(f, scripts...)
	st.fake = f
	ts.Setenv("FAKE", f.srv.Addr())
	ts.Setenv("FAKE_PORT", strconv.Itoa(f.srv.Port()))
}

func fakeOf(ts *testscript.TestScript) *fakeServer {
	f := state(ts).fake
	if f == nil {
		ts.Fatalf("no fake server running (use fakeserver first)")
	}
	return f
}

// received waits for every connection's script to end and returns what
// the clients sent, line by line, every connection in turn.
func (f *fakeServer) received() string {
	var all []string
	for i := 0; i < f.srv.NumConns(); i++ {
		all = append(all, strings.TrimSuffix(f.srv.Wait(i).All(), "\r\n"))
	}
	return strings.ReplaceAll(strings.Join(all, "\n"), "\r\n", "\n")
}

func cmdFakeCheck(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "fakecheck")
	f := fakeOf(ts)
	got := f.received()
	ts.Logf("[fake server received]\n%s", got)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		ts.Fatalf("fake server: %s", strings.Join(f.errs, "; "))
	}
}

func cmdFakeConns(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "fakeconns")
	if len(args) != 1 {
		ts.Fatalf("usage: fakeconns N")
	}
	if got, want := fakeOf(ts).srv.NumConns(), atoi(ts, args[0]); got != want {
		ts.Fatalf("the fake server accepted %d connection(s), want %d", got, want)
	}
}

func cmdFakeLog(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fakelog REGEXP")
	}
	log := fakeOf(ts).received()
	re, err := regexp.Compile("(?m)" + args[0])
	ts.Check(err)
	switch found := re.MatchString(log); {
	case found && neg:
		ts.Fatalf("the client sent a line matching %q:\n%s", args[0], log)
	case !found && !neg:
		ts.Fatalf("the client sent no line matching %q:\n%s", args[0], log)
	}
}

var (
	fakeCertOnce sync.Once
	fakeCertVal  tls.Certificate
	fakeCertErr  error
)

// fakeCert is the fake server's self-signed certificate, made once.
func fakeCert() (tls.Certificate, error) {
	fakeCertOnce.Do(func() {
		certPEM, keyPEM, err := selfSignedPEM("fake.ehlo.test")
		if err != nil {
			fakeCertErr = err
			return
		}
		fakeCertVal, fakeCertErr = tls.X509KeyPair(certPEM, keyPEM)
	})
	return fakeCertVal, fakeCertErr
}

func selfSignedPEM(cn string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{cn},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// ---- running ehlo ----

// cmdExitCode is exec with a specific exit status: swaks's codes are the
// CLI contract, and testscript's exec only knows zero and non-zero.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "exitcode")
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG [ARGS...]")
	}
	want := atoi(ts, args[0])
	err := ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// lookPath finds a program in the script's $PATH, where testscript.Main
// installed ehlo.
func lookPath(ts *testscript.TestScript, name string) string {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	ts.Fatalf("%s not found in $PATH", name)
	return ""
}

// cmdInterrupt plays security-anchors E7: the input of --data - stops in
// the middle of the message and the user presses Ctrl+C. With -at TEXT the
// signal comes once the sandbox log shows TEXT instead of the 354 to DATA,
// to interrupt another stage.
func cmdInterrupt(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "interrupt")
	closeStdin, at := false, "S: 354 "
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-close":
			closeStdin = true
		case "-at":
			if len(args) < 2 {
				ts.Fatalf("interrupt: -at needs a log text")
			}
			at, args = args[1], args[1:]
		default:
			ts.Fatalf("interrupt: unknown option %s", args[0])
		}
		args = args[1:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: interrupt [-close] [-at LOGTEXT] N ARGS...")
	}
	want := atoi(ts, args[0])
	sandboxOf(ts)
	log := state(ts).srvLog
	var stdout, stderr syncBuffer
	cmd, stdin, done := startEhlo(ts, args[1:], &stdout, &stderr)
	defer stdin.Close()
	var err error
	_, _ = io.WriteString(stdin, "From: a@x.test\r\nTo: b@x.test\r\nSubject: cut off\r\n\r\nthe first line\r\n")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), at) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			ts.Fatalf("the sandbox log never showed %q\n%s\n%s", at, stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Let the client write what it has read of the message.
	time.Sleep(200 * time.Millisecond)
	ts.Check(cmd.Process.Signal(os.Interrupt))
	if closeStdin {
		// After the signal has surely arrived: an EOF that wins the race
		// ends the message normally, and it is delivered.
		time.Sleep(300 * time.Millisecond)
		stdin.Close()
	}
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		ts.Fatalf("ehlo did not stop within 5s of SIGINT\n%s\n%s", stdout.String(), stderr.String())
	}
	_, _ = io.WriteString(ts.Stdout(), stdout.String())
	_, _ = io.WriteString(ts.Stderr(), stderr.String())
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("ehlo: %v", err)
	}
	if got != want {
		ts.Fatalf("ehlo exited with %d, want %d\n%s\n%s", got, want, stdout.String(), stderr.String())
	}
}

func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "freeport")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	ts.Setenv("FREEPORT", port)
}

func cmdWaitListen(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "waitlisten")
	if len(args) != 1 {
		ts.Fatalf("usage: waitlisten ADDR")
	}
	network := "tcp"
	if strings.HasPrefix(args[0], "/") {
		network = "unix"
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout(network, args[0], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("nothing listens on %s: %v", args[0], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- secrets ----

func cmdCanary(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "canary")
	var b [8]byte
	_, _ = rand.Read(b[:])
	extra := ""
	if len(args) == 1 {
		extra = string(unquote(ts, args[0]))
	}
	c := "Zq9!canary-" + extra + hex.EncodeToString(b[:])
	ts.Setenv("CANARY", c)
	ts.Setenv("CANARY_PLAIN", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+c)))
}

// secretForms are the ways a secret can leak: itself, its base64 at each
// of the three alignments (the part of the encoding that depends on the
// secret's bytes alone), and the AUTH PLAIN and XOAUTH2 blobs.
func secretForms(secret, user string) []string {
	forms := []string{secret, escapedLikeTranscript(secret)}
	for _, isBytes := range []bool{true, false} {
		for _, q := range []byte{'\'', '"'} {
			forms = append(forms, escapedLikePython(secret, isBytes, q))
		}
	}
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
	forms = append(forms,
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+secret)),
		base64.StdEncoding.EncodeToString([]byte("user="+user+"\x01auth=Bearer "+secret+"\x01\x01")))
	return forms
}

// escapedLikePython is the inside of Python's repr of secret (a bytes
// object or a str) between quotes q, as --debug prints it, written from
// Python's rules rather than with ehlo's code.
func escapedLikePython(secret string, isBytes bool, q byte) string {
	var b strings.Builder
	for _, r := range secret {
		switch {
		case r == '\\' || r == rune(q):
			b.WriteString(`\` + string(r))
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x80 || !isBytes:
			b.WriteRune(r)
		default:
			for _, c := range []byte(string(r)) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		}
	}
	return b.String()
}

// escapedLikeTranscript is secret as the transcript shows text: a
// backslash doubled (so escapes can be undone), other characters as they
// are for the ones a password may hold.
func escapedLikeTranscript(secret string) string {
	return strings.ReplaceAll(secret, `\`, `\\`)
}

func cmdNoSecret(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: nosecret SECRET USER FILE...")
	}
	forms := secretForms(args[0], args[1])
	found := ""
	for _, file := range args[2:] {
		text := ts.ReadFile(file)
		for _, f := range forms {
			if strings.Contains(text, f) {
				if !neg {
					ts.Fatalf("%s holds the secret (as %q)", file, f)
				}
				found = file
			}
		}
	}
	if neg && found == "" {
		ts.Fatalf("the secret is in none of %s", strings.Join(args[2:], ", "))
	}
}

// ---- files ----

// unquote undoes Go string escapes, so \x00 is one byte.
func unquote(ts *testscript.TestScript, s string) []byte {
	u, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		ts.Fatalf("bad escapes in %q: %v", s, err)
	}
	return []byte(u)
}

func cmdWriteBytes(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "writebytes")
	if len(args) != 2 {
		ts.Fatalf("usage: writebytes FILE TEXT")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), unquote(ts, args[1]), 0o644))
}

func cmdGenCert(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "gencert")
	if len(args) != 1 {
		ts.Fatalf("usage: gencert NAME")
	}
	c, k, err := selfSignedPEM(args[0] + ".ehlo.test")
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".pem"), c, 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".key"), k, 0o600))
}

func cmdFileMode(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "filemode")
	if len(args) != 2 {
		ts.Fatalf("usage: filemode FILE MODE")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if got := fi.Mode().Perm(); got != os.FileMode(want) {
		ts.Fatalf("%s has mode %#o, want %#o", args[0], got, want)
	}
}

// ---- JSON ----

func readJSON(ts *testscript.TestScript, file string) any {
	text := ts.ReadFile(file)
	dec := json.NewDecoder(strings.NewReader(text))
	var v any
	if err := dec.Decode(&v); err != nil {
		ts.Fatalf("%s is not JSON: %v", file, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		ts.Fatalf("%s holds more than one JSON value", file)
	}
	return v
}

func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonfield FILE PATH VALUE")
	}
	v := readJSON(ts, args[0])
	sep := "."
	if strings.Contains(args[1], "/") {
		sep = "/" // for keys holding dots: refused/b@x.test/code
	}
	for _, k := range strings.Split(args[1], sep) {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := atoi(ts, k)
			if i < 0 || i >= len(x) {
				v = nil
				break
			}
			v = x[i]
		default:
			v = nil
		}
	}
	got := fmt.Sprint(v)
	if v == nil {
		got = "null"
	}
	switch {
	case got == args[2] && neg:
		ts.Fatalf("%s of %s is %q", args[1], args[0], got)
	case got != args[2] && !neg:
		ts.Fatalf("%s of %s is %q, want %q", args[1], args[0], got, args[2])
	}
}

func cmdJSONRaw(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "jsonraw")
	if len(args) != 2 {
		ts.Fatalf("usage: jsonraw FILE TEXT")
	}
	want := unquote(ts, args[1])
	var out struct {
		Lines []struct {
			Raw []byte `json:"raw"`
		} `json:"lines"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &out))
	for _, l := range out.Lines {
		if bytes.Contains(l.Raw, want) {
			return
		}
	}
	ts.Fatalf("no line of %s has raw bytes holding %q", args[0], want)
}

// cmdBigFile: bigfile FILE PREFIX UNIT COUNT.
func cmdBigFile(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "bigfile")
	if len(args) != 4 {
		ts.Fatalf("usage: bigfile FILE PREFIX UNIT COUNT")
	}
	n, err := strconv.Atoi(args[3])
	ts.Check(err)
	var b bytes.Buffer
	b.Write(unquote(ts, args[1]))
	unit := unquote(ts, args[2])
	for range n {
		b.Write(unit)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b.Bytes(), 0o644))
}

// enospcWriter takes limit bytes, then fails as a full disk does.
type enospcWriter struct {
	buf   bytes.Buffer
	limit int
}

func (w *enospcWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.limit {
		return 0, &os.PathError{Op: "write", Path: "r.jsonl", Err: syscall.ENOSPC}
	}
	return w.buf.Write(p)
}

// I9: the recording fails with ENOSPC in the middle of a session that
// itself succeeds. The "*** recording stopped" line is on stderr (the
// transcript's error stream) and the final exit status is non-zero (1),
// although every SMTP stage succeeded.
func TestCatalogueI9RecordingFailureExitCode(t *testing.T) {
	var stdout, stderr bytes.Buffer
	app := &appContext{stdout: &stdout, stderr: &stderr}
	cmd := &sendCmd{}
	cmd.Record = "r.jsonl"
	o := &sendOutput{app: app, cmd: cmd, scrub: session.NewScrubber()}
	o.capture = session.NewCapture(time.Time{}, session.Redaction{Scrubber: o.scrub})
	o.trans = recordings.NewTranscript(&stdout, recordings.TranscriptOptions{Errors: &stderr})
	o.capture.Add(o.trans)
	w := &enospcWriter{limit: 600}
	rec, err := recordings.NewRecorder(w, recordings.Header{Server: "127.0.0.1:25", Transport: "smtp", Network: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	o.rec = rec
	o.capture.Add(rec)
	for range 30 {
		o.capture.Trace(protocol.Event{Kind: protocol.EventRecv, Data: []byte("250 " + strings.Repeat("x", 40) + "\r\n")})
	}
	err = o.finish(&session.SendResult{Stage: session.StageDone})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("finish = %v, want exit 1 after a failed recording", err)
	}
	if !strings.Contains(stderr.String(), "*** recording stopped:") || !strings.Contains(stderr.String(), "no space left on device") {
		t.Errorf("stderr %q: want the *** recording stopped line", stderr.String())
	}
	if n := strings.Count(stdout.String(), "<-  250 "); n != 30 {
		t.Errorf("the transcript went on with %d of 30 replies", n)
	}
}

// cmdStuck: stuck ARGS... runs ehlo ARGS with a standard input that stays
// open and empty, so that a command reading it waits there. One SIGINT
// cancels the command's context; a command still running must then say
// that a second Ctrl+C quits, and the second must end it.
func cmdStuck(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "stuck")
	var stdout, stderr syncBuffer
	cmd, stdin, done := startEhlo(ts, args, &stdout, &stderr)
	defer stdin.Close()
	var err error
	time.Sleep(500 * time.Millisecond)
	ts.Check(cmd.Process.Signal(os.Interrupt))
	// Until the hint (due 2 s after the signal; a loaded machine may be
	// late): then the second signal.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "press Ctrl+C again"); {
		select {
		case err := <-done:
			ts.Fatalf("ehlo ended at the first SIGINT (%v): nothing to test here\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			ts.Fatalf("no hint 10 s after the first SIGINT\n%s", stderr.String())
		}
	}
	ts.Check(cmd.Process.Signal(os.Interrupt))
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		ts.Fatalf("ehlo did not stop at the second SIGINT\n%s", stderr.String())
	}
	_, _ = io.WriteString(ts.Stdout(), stdout.String())
	_, _ = io.WriteString(ts.Stderr(), stderr.String())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
		ts.Fatalf("ehlo ended with %v, want killed by the second SIGINT", err)
	}
}

// startEhlo starts ehlo ARGS in the script's directory, with a standard
// input the caller writes and closes; done delivers Wait's result.
func startEhlo(ts *testscript.TestScript, args []string, stdout, stderr io.Writer) (*exec.Cmd, io.WriteCloser, <-chan error) {
	cmd := exec.Command(lookPath(ts, "ehlo"), args...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = []string{"PATH=" + ts.Getenv("PATH"), "GORACE=" + ts.Getenv("GORACE"), "LOGNAME=tester", "HOME=/no-home"}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	stdin, err := cmd.StdinPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, stdin, done
}

package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/sandbox"
)

// swaksOrSkip finds swaks, with its TLS module, as sandbox/swaks_test.go
// does: skipped without it unless EHLO_REQUIRE_SWAKS is set, which makes a
// missing swaks a failure naming the package to install.
func swaksOrSkip(t *testing.T) string {
	t.Helper()
	msg := "swaks with TLS (apt-get install --no-install-recommends swaks libnet-ssleay-perl)"
	p, err := exec.LookPath("swaks")
	if err == nil {
		out, _ := exec.Command(p, "--support").CombinedOutput()
		if !strings.Contains(string(out), "=== TLS supported") {
			err = errors.New("swaks --support: TLS not available")
		}
	}
	if err != nil {
		if os.Getenv("EHLO_REQUIRE_SWAKS") != "" {
			t.Fatalf("EHLO_REQUIRE_SWAKS is set but %s is missing: %v", msg, err)
		}
		t.Skipf("%s is missing: %v (EHLO_REQUIRE_SWAKS=1 makes this a failure)", msg, err)
	}
	return p
}

// swaksExample is one invocation from swaks's manual. {SERVER}, {TLS},
// {SOCK}, {CA} and {FILE} are filled in per run; the manual's own targets
// (test-server.example.net, MX routing) become the sandbox.
type swaksExample struct {
	name    string
	args    string
	cfg     sandbox.Config
	stdin   string
	headers []string // headers of the received message that must agree
	body    bool     // the received body must agree too
	// attachment: the decoded content of the message's last MIME part
	// must agree (the two tools name and type it differently).
	attachment bool
	// refused: ehlo refuses this invocation (exit 1, nothing sent) with a
	// message containing this text, naming what to do instead.
	refused string
	// safer: ehlo's exit code where it keeps a safer default than swaks's
	// (it verifies certificates); nothing may have been received.
	safer int
	// delivered: messages the sandbox must have stored before the mailbox
	// is read, when the client does not wait for the final reply
	// (--drop-after-send DOT) and may exit before the server has them.
	delivered int
}

var swaksManual = []swaksExample{
	// QUICK START, in the order of swaks --help.
	{name: "standard test email", args: "--to user@example.com --server {SERVER}", headers: []string{"To", "From"}, body: true},
	{name: "CRAM-MD5 and an X-Test header",
		args:    "--to user@example.com --from me@example.com --auth CRAM-MD5 --auth-user me@example.com --header-X-Test test_email --tls --tls-ca-path {CA} --auth-password pw --server {SERVER}",
		cfg:     sandbox.Config{Users: map[string]string{"me@example.com": "pw"}},
		headers: []string{"To", "From", "X-Test"}, body: true},
	{name: "EICAR in an attachment", args: "-t user@example.com --attach - --server {SERVER} --suppress-data", stdin: "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR",
		headers: []string{"To"}, attachment: true},
	{name: "GTUBE in the body", args: "--to user@example.com --body {FILE} --server {SERVER}", headers: []string{"To"}, body: true},
	{name: "LMTP over a Unix socket", args: "--to user@example.com --socket {SOCK} --protocol LMTP",
		cfg: sandbox.Config{LMTP: true, Listen: "-", TLSListen: "-"}, headers: []string{"To", "From"}, body: true},
	{name: "non-verifiable recipient", args: "--to nobody@example.com --server {SERVER} --quit-after RCPT --hide-all",
		cfg: sandbox.Config{Faults: []sandbox.Fault{mustFault("refuse-rcpt=nobody@example.com")}}},
	{name: "verifiable recipient", args: "--to user@example.com --server {SERVER} --quit-after RCPT --hide-all"},
	// The options issue 13 lists, as swaks's manual spells them.
	{name: "short options", args: "-s {SERVER} -t user@example.com -f me@example.com -h client.example", headers: []string{"To", "From"}},
	{name: "HOST/PORT", args: "-s {HOSTSLASHPORT} -t user@example.com", headers: []string{"To"}},
	{name: "headers", args: "--server {SERVER} -t user@example.com --h-Subject swaks_subject --add-header X-Added:_yes --header X-Replaced:_1",
		headers: []string{"Subject", "X-Added", "X-Replaced"}},
	{name: "data file without @", args: "--server {SERVER} -t user@example.com -f me@example.com --data {FILE}", headers: []string{"Subject"}, body: true},
	{name: "ESMTPSA", args: "--server {SERVER} -t user@example.com --protocol ESMTPSA -au alice -ap alicepw --tls-ca-path {CA}", headers: []string{"To"}},
	{name: "SSMTP", args: "--server {TLS} -t user@example.com --protocol SSMTP --tls-ca-path {CA}", headers: []string{"To"}},
	{name: "SSMTP unverified", args: "--server {TLS} -t user@example.com --protocol SSMTP", safer: 29},
	{name: "STARTTLS unverified", args: "--server {SERVER} -t user@example.com --tls", safer: 29},
	{name: "tls-on-connect", args: "--server {TLS} -t user@example.com -tlsc --tls-verify --tls-ca-path {CA}", headers: []string{"To"}},
	{name: "quit after EHLO", args: "--server {SERVER} -t user@example.com --quit-after EHLO --timeout 10"},
	{name: "quit after FIRST-HELO with TLS", args: "--server {SERVER} -t user@example.com -tls --quit-after FIRST-HELO"},
	{name: "LMTP to an SMTP server", args: "--server {SERVER} -t user@example.com --protocol LMTP -4"},
	{name: "pipe", args: "--pipe {PIPE} -t user@example.com -f me@example.com", headers: []string{"To", "From"}, body: true},
	{name: "tls-optional-strict", args: "--server {SERVER} -t user@example.com -tlsos --tls-ca-path {CA}", headers: []string{"To"}},
	// AUTH made optional: the sandbox offers it only inside TLS, and
	// alicepw is alice's password.
	{name: "auth-optional, AUTH not offered", args: "--server {SERVER} -t user@example.com -ao -au alice -ap alicepw", headers: []string{"To"}},
	{name: "auth-optional, AUTH refused", args: "--server {SERVER} -t user@example.com -tls --tls-ca-path {CA} -ao PLAIN -au alice -ap wrong", headers: []string{"To"}},
	{name: "auth-optional-strict, AUTH not offered", args: "--server {SERVER} -t user@example.com -aos -au alice -ap alicepw", headers: []string{"To"}},
	{name: "auth-optional-strict, AUTH refused", args: "--server {SERVER} -t user@example.com -tls --tls-ca-path {CA} -aos PLAIN -au alice -ap wrong"},
	{name: "tls-protocol", args: "--server {SERVER} -t user@example.com -tls --tls-ca-path {CA} --tls-protocol tlsv1_2", headers: []string{"To"}},
	{name: "protocol SMTP", args: "--server {SERVER} -t user@example.com --protocol SMTP", headers: []string{"To"}},
	{name: "protocol SMTPS", args: "--server {TLS} -t user@example.com --protocol SMTPS --tls-ca-path {CA}", headers: []string{"To"}},
	{name: "XCLIENT not offered", args: "--server {SERVER} -t user@example.com --xclient-addr 192.0.2.1"},
	{name: "drop after RCPT", args: "--server {SERVER} -t user@example.com --drop-after RCPT"},
	{name: "drop after DATA", args: "--server {SERVER} -t user@example.com --drop-after DATA"},
	{name: "drop after DOT", args: "--server {SERVER} -t user@example.com -da DOT", headers: []string{"To"}, body: true},
	{name: "drop after send MAIL", args: "--server {SERVER} -t user@example.com --drop-after-send MAIL"},
	{name: "drop after send RCPT", args: "--server {SERVER} -t user@example.com --drop-after-send RCPT"},
	{name: "drop after send DATA", args: "--server {SERVER} -t user@example.com -das DATA"},
	{name: "drop after send DOT", args: "--server {SERVER} -t user@example.com --drop-after-send DOT", headers: []string{"To"}, body: true, delivered: 1},
	{name: "silent", args: "--server {SERVER} -t user@example.com --silent 2 --show-time-lapse", headers: []string{"To"}},
}

func mustFault(spec string) sandbox.Fault {
	f, err := sandbox.ParseFault(spec)
	if err != nil {
		panic(err)
	}
	return f
}

// TestSwaksManual runs each invocation with swaks and with ehlo send
// against a fresh sandbox and compares the exit codes and what the sandbox
// received: envelope, TLS, AUTH user and the headers that matter.
func TestSwaksManual(t *testing.T) {
	swaks := swaksOrSkip(t)
	t.Setenv("LOGNAME", "tester")
	t.Setenv("EHLO_PIPE_CHILD", "1")
	dir := t.TempDir()
	file := filepath.Join(dir, "gtube.eml")
	if err := os.WriteFile(file, []byte("Subject: from a file\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ex := range swaksManual {
		t.Run(ex.name, func(t *testing.T) {
			sc, sm, so := runExample(t, ex, file, func(args []string, stdin string) (int, string) {
				return runSwaksCmd(t, swaks, dir, args, stdin)
			})
			ec, em, eo := runExample(t, ex, file, func(args []string, stdin string) (int, string) {
				return runEhloSend(args, stdin)
			})
			t.Logf("swaks exit %d, ehlo exit %d; the sandbox received:\n%s", sc, ec, em)
			if ex.refused != "" {
				if ec != 1 || em != "" || !strings.Contains(eo, ex.refused) || strings.Contains(eo, "unknown flag") {
					t.Fatalf("ehlo: exit %d, want 1 and a message with %q:\n%s", ec, ex.refused, eo)
				}
				return
			}
			if ex.safer != 0 {
				if sc != 0 || ec != ex.safer || em != "" {
					t.Fatalf("swaks exit %d (want 0), ehlo exit %d (want %d), ehlo delivered %q:\n%s", sc, ec, ex.safer, em, eo)
				}
				return
			}
			if sc != ec {
				t.Fatalf("swaks exit %d, ehlo exit %d\nswaks:\n%s\nehlo:\n%s", sc, ec, so, eo)
			}
			if sm != em {
				t.Fatalf("the sandbox received different mail\nswaks:\n%s\nehlo:\n%s", sm, em)
			}
		})
	}
}

// runExample starts a sandbox for ex, runs the invocation and returns the
// exit code, a summary of the mailbox and the output.
func runExample(t *testing.T, ex swaksExample, file string, run func([]string, string) (int, string)) (code int, mailbox, output string) {
	t.Helper()
	cfg := ex.cfg
	sockDir, err := os.MkdirTemp("", "ehlo-swaks")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	if cfg.LMTP {
		cfg.Socket = filepath.Join(sockDir, "lmtp.sock")
	}
	srv, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	ca := filepath.Join(sockDir, "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EHLO_PIPE_HELPER", srv.Addr())
	r := strings.NewReplacer("{PIPE}", os.Args[0]+"_-test.run=^TestPipeHelper$", "{SERVER}", srv.Addr(), "{TLS}", srv.TLSAddr(), "{SOCK}", srv.SocketPath(),
		"{CA}", ca, "{FILE}", file, "{HOSTSLASHPORT}", strings.Replace(srv.Addr(), ":", "/", 1))
	var args []string
	for _, a := range strings.Fields(ex.args) {
		args = append(args, strings.ReplaceAll(r.Replace(a), "_", " "))
	}
	code, output = run(args, ex.stdin)
	if ex.delivered > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = srv.Mailbox().Wait(ctx, ex.delivered) // a timeout shows as mail missing
		cancel()
	}
	return code, mailboxSummary(t, srv, ex), output
}

func mailboxSummary(t *testing.T, srv *sandbox.Server, ex swaksExample) string {
	var b strings.Builder
	for _, m := range srv.Mailbox().Messages() {
		fmt.Fprintf(&b, "from=%s to=%s tls=%v auth=%s\n", m.From, strings.Join(m.To, ","), m.TLS, m.AuthUser)
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("the sandbox received an unreadable message: %v\n%s", err, m.Data)
		}
		for _, h := range ex.headers {
			fmt.Fprintf(&b, "%s: %q\n", h, msg.Header[h])
		}
		if ex.attachment {
			fmt.Fprintf(&b, "attachment: %q\n", lastPart(t, msg))
		}
		if ex.body {
			var body bytes.Buffer
			body.ReadFrom(msg.Body)
			fmt.Fprintf(&b, "body: %q\n", strings.TrimSpace(strings.ReplaceAll(body.String(), "\r\n", "\n")))
		}
	}
	return b.String()
}

func runSwaksCmd(t *testing.T, swaks, home string, args []string, stdin string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, swaks, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("swaks: %v\n%s", err, out)
	return 0, ""
}

// runEhloSend runs `ehlo send` in this process, as a user would type it.
func runEhloSend(args []string, stdin string) (int, string) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app := &appContext{ctx: ctx, stdout: &out, stderr: &out, stdin: strings.NewReader(stdin)}
	code := runWith(app, append([]string{"send"}, args...))
	return code, out.String()
}

// lastPart decodes the last part of a multipart message.
func lastPart(t *testing.T, msg *mail.Message) string {
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	last := ""
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		var data []byte
		data, _ = io.ReadAll(p)
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			data, _ = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(data)), ""))
		}
		last = string(data)
	}
	return last
}

// TestPipeHelper is the command of the --pipe examples: run as a child
// process with EHLO_PIPE_HELPER set, it joins its stdin and stdout to the
// sandbox at that address, so swaks and ehlo speak SMTP to a command.
func TestPipeHelper(t *testing.T) {
	addr := os.Getenv("EHLO_PIPE_HELPER")
	if addr == "" || os.Getenv("EHLO_PIPE_CHILD") == "" {
		t.Skip("the --pipe examples' command, run by TestSwaksManual")
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	go func() { io.Copy(conn, os.Stdin); conn.(*net.TCPConn).CloseWrite() }()
	io.Copy(os.Stdout, conn)
	os.Exit(0)
}

func TestTLSVersions(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		lo, hi uint16
		bad    bool
	}{
		{"", tls.VersionTLS12, tls.VersionTLS13, false},
		{"tlsv1_2", tls.VersionTLS12, tls.VersionTLS12, false},
		{"TLSv1_3", tls.VersionTLS13, tls.VersionTLS13, false},
		{"tlsv1,tlsv1_1,tlsv1_2,tlsv1_3", tls.VersionTLS12, tls.VersionTLS13, false},
		{"no_tlsv1_3", tls.VersionTLS12, tls.VersionTLS12, false},
		{"no_sslv3,no_tlsv1", tls.VersionTLS12, tls.VersionTLS13, false},
		{"tlsv1", 0, 0, true},
		{"no_tlsv1_2,no_tlsv1_3", 0, 0, true},
		{"tlsv1_2,no_tlsv1_3", 0, 0, true},
		{"tlsv9", 0, 0, true},
	} {
		lo, hi, err := tlsVersions(tc.spec)
		if (err != nil) != tc.bad || lo != tc.lo || hi != tc.hi {
			t.Errorf("%q: %x %x %v", tc.spec, lo, hi, err)
		}
	}
}

// TestPipeStderr: what a --pipe command says on stderr reaches ehlo's
// stderr, also when that is not a file (held until the command ends, so
// it is never written from two goroutines at once).
func TestPipeStderr(t *testing.T) {
	code, out := runEhloSend([]string{"--pipe", "cat /nonexistent-ehlo-pipe", "-t", "b@x.test", "--timeout", "5s"}, "")
	if code == 0 || !strings.Contains(out, "/nonexistent-ehlo-pipe") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

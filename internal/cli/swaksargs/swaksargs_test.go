package swaksargs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTranslate(t *testing.T) {
	dir := t.TempDir()
	msg := filepath.Join(dir, "msg.eml")
	if err := os.WriteFile(msg, []byte("Subject: x\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"-s host -t a@x -f b@x", []string{"--to=a@x", "--from=b@x", "host"}},
		{"--server host/2525 --to a@x", []string{"--to=a@x", "host:2525"}},
		{"--server ::1/2525", []string{"[::1]:2525"}},
		{"-server host -TO a@x", []string{"--to=a@x", "host"}},
		{"-p smtp host", []string{"--port=25", "host"}},
		{"-au alice -ap pw -a", []string{"--auth-user=alice", "--auth-password=pw", "--auth=auto"}},
		{"--auth CRAM-MD5 host", []string{"--auth=CRAM-MD5", "host"}},
		{"--auth host", []string{"--auth=auto", "host"}},
		{"-ao -au alice", []string{"--auth=auto", "--auth-optional", "--auth-user=alice"}},
		{"--auth-optional-strict PLAIN host", []string{"--auth=PLAIN", "--auth-optional-strict", "host"}},
		{"--quit-after RCPT", []string{"--quit-after=rcpt"}},
		{"-q first-EHLO", []string{"--quit-after=first-helo"}},
		{"--quit-after=To", []string{"--quit-after=rcpt"}},
		{"--drop-after FROM", []string{"--drop-after=mail"}},
		{"-da DOT", []string{"--drop-after=dot"}},
		{"--drop-after Data", []string{"--drop-after=data"}},
		{"--drop-after-send RCPT", []string{"--drop-after-send=rcpt"}},
		{"-das connect", []string{"--drop-after-send=connect"}},
		{"--das DOT", []string{"--drop-after-send=dot"}},
		{"--timeout 10", []string{"--timeout=10s"}},
		{"--timeout 2m", []string{"--timeout=2m"}},
		{"--timeout 1m30s", []string{"--timeout=1m30s"}},
		{"--data " + msg, []string{"--data=@" + msg}},
		{"--data @x", []string{"--data=@x"}},
		{"-d -", []string{"--data=-"}},
		{"-g", []string{"--data=-"}},
		{"--body hello", []string{"--body=hello"}},
		{"--h-Subject hi --header-X-Test t", []string{"--header=Subject: hi", "--header=X-Test: t"}},
		{"--header X:y", []string{"--header", "X:y"}},
		{`-ah X-A:1\nX-B:2`, []string{"--header=X-A:1", "--header=X-B:2"}},
		{"--protocol ESMTPSA host", []string{"--starttls", "--auth=auto", "host"}},
		{"--protocol lmtp --socket /run/l.sock", []string{"--lmtp", "/run/l.sock"}},
		{"--protocol SSMTP", []string{"--tls-on-connect"}},
		{"--protocol smtp", []string{"--helo-only"}},
		{"--protocol SMTPS", []string{"--helo-only", "--tls-on-connect"}},
		{"-tls --tls-verify --tls-ca-path ca.pem --tls-sni n", []string{"--starttls", "--ca=ca.pem", "--sni=n"}},
		{"--tls-verify dane", []string{"--tls-verify=dane"}},
		{"--tls-verify host", []string{"host"}},
		{"-tlsc --tls-cert c --tls-key k --tls-chain", []string{"--tls-on-connect", "--cert=c", "--key=k", "--tls-chain"}},
		{"-4", []string{"--ipv4"}},
		{"-JSON --Insecure --Mail-Option=SIZE=1 -x", []string{"--json", "--insecure", "--mail-option=SIZE=1", "-x"}},
		{"--from -t a@x", []string{"--to=a@x"}},
		{"-f <> -t a@x", []string{"--from=<>", "--to=a@x"}},
		{"--xclient-name a+b=c --xclient-addr 192.0.2.1 --xclient-delim --xclient-helo x --xclient RAW=1 --xclient-no-verify",
			[]string{"--xclient-no-verify", "--xclient=NAME=a+2Bb+3Dc ADDR=192.0.2.1", "--xclient=HELO=x", "--xclient=RAW=1"}},
		{"--xclient-reverse-name n", []string{"--xclient=REVERSE_NAME=n"}},
		{"--Proxy-Version 2 --proxy-family AF_INET", []string{"--proxy-version=2", "--proxy-family=AF_INET"}},
		{"--tls-get-peer-cert host", []string{"--peer-cert=-", "host"}},
		{"--tls-get-peer-cert out.PEM host", []string{"--peer-cert=out.PEM", "host"}},
		{"--tls-get-peer-chain=chain", []string{"--peer-chain=chain"}},
		{"-t t@x --cc a@x,b@x --bcc c@x --cc d@x", []string{"--to=t@x", "--to=c@x", "--to=a@x", "--to=b@x", "--to=d@x", "--header=Cc: a@x, b@x, d@x", "--header=To: t@x"}},
		{"-t t@x --bcc c@x", []string{"--to=t@x", "--to=c@x", "--header=To: t@x"}},
		{"--pipe sendmail", []string{"--pipe=sendmail", "sendmail"}},
		{"-6", []string{"--ipv6"}},
		{"-h client.test", []string{"--helo=client.test"}},
		{"-h", []string{"--help"}},
		{"--ehlo e --lhlo l", []string{"--helo=e", "--helo=l"}},
		{"--silent", []string{"--silent=1"}},
		{"-S 2 host", []string{"--silent=2", "host"}},
		{"--silent host", []string{"--silent=1", "host"}},
		{"-hs -hr -hi -ha", []string{"--hide-send", "--hide-receive", "--hide-informational", "--hide-all"}},
		{"-stl i", []string{"--show-time-lapse"}},
		{"--show-time-lapse host", []string{"--show-time-lapse", "host"}},
		{"--auth-hide-password --protect-prompt", nil},
		{"-li 127.0.0.1 -lp 2000", []string{"--source=127.0.0.1:2000"}},
		{"--attach @a --attach-type text/x --attach b --attach-name n --attach c",
			[]string{"--attach=a", "--attach-type=", "--attach-name=", "--attach=b", "--attach-type=text/x", "--attach-name=",
				"--attach=c", "--attach-type=text/x", "--attach-name=n"}},
		{"--attach a --attach b", []string{"--attach=a", "--attach=b"}},
		{"--attach -", []string{"--attach=-"}},
		{"-n -tlsos", []string{"--suppress-data", "--starttls-if-offered"}},
		{"--json --insecure host -- -x", []string{"--json", "--insecure", "host", "--", "-x"}},
	} {
		got, err := Translate(strings.Fields(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%s:\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestRefused: every swaks option ehlo cannot honour is refused with a
// message naming what ehlo does instead, never a bare "unknown flag".
func TestRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ in, want string }{
		{"--xclient-optional", "a failure stops the send"},
		{"--tls-optional", "--tls-optional-strict (--starttls-if-offered) uses STARTTLS when offered"},
		{"-tlso", "--starttls requires it"},
		{"--tls-cipher HIGH", "Go's TLS cipher suites"},
		{"--tls-ca-path " + dir, "ehlo takes one PEM file of CA certificates (--ca FILE)"},
		{"--auth PLAIN,LOGIN", "--auth MECH"},
		{"--auth-plaintext", "never shows credentials"},
		{"--timeout 0", "ehlo always has a timeout"},
		{"--quit-after DATA", "--quit-after must be one of"},
		{"--protocol FOO", "one of SMTP"},
		{"--data 'Subject: x'", "--data takes @FILE or - (stdin)"},
		{"--attach-type text/plain", "none follows it"},
		{"--attach a --attach-name n", "none follows it"},
		{"--attach-body x", "use --body"},
		{"--show-raw-text", "--record FILE every byte"},
		{"--drop-after-send RCPT-ish", "--drop-after-send must be one of"},
		{"--drop-after HELO-ish", "--drop-after must be one of"},
		{"--output-file f", "redirect stdout"},
		{"--no-hints", "markers are always shown"},
		{"--dump", "--dump is not supported yet"},
		{"--config", "no configuration file"},
		{"--prdr", "PRDR is not supported yet"},
		{"--server a --socket /b", "name the target once"},
		{"--server a --pipe b", "name the target once"},
		{"-p nosuchservice", "neither a number nor a known service"},
		{"--server", "needs a host"},
		{"-t", "needs a value"},
	} {
		_, err := Translate(strings.Fields(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
}

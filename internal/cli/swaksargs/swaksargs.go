// Package swaksargs owns swaks's spellings of ehlo send's options: it
// rewrites a command line typed from swaks memory (-s, -t, -au, --h-Subject,
// --protocol ESMTPSA, --quit-after RCPT, --timeout 10, --data FILE …) into
// ehlo's own flags before kong parses it, and refuses each swaks option
// ehlo cannot honour with a message that names what ehlo does instead, so
// no swaks option ever ends as a bare "unknown flag".
//
// swaks's rules kept here: long names are case-insensitive and take one or
// two dashes, single letters are case-sensitive, "--opt=value" is "--opt
// value". Flags it does not know are passed through untouched for kong.
package swaksargs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// argKind is how an option takes its value.
type argKind int

const (
	noArg argKind = iota
	required
	optional // takes the next word only when accept says it is a value
)

type rule struct {
	arg    argKind
	accept func(next string) bool // for optional: is next this option's value?
	// apply emits ehlo's spelling for the option with its value (has: a
	// value was given).
	apply func(t *translation, flag, v string, has bool) error
}

// translation is the state of one command line being rewritten.
type translation struct {
	front []string // implied by --protocol: first, so explicit flags win
	out   []string
	tail  []string // SERVER from --server or --socket

	attaches         []attachment
	attachType       string // swaks: applies to every later --attach
	attachName       string // swaks: applies to the next --attach
	nameSet, typeSet bool
	typeUsed         bool
	srcHost, srcPort string
	cc               []string // --cc: recipients that the Cc header names
	to               []string // --to, for the To header when --cc or --bcc add recipients
	bcc              bool
	xclient          []string // XCLIENT commands, in order
	xclientOpen      bool     // the last command takes more --xclient-ATTR
}

type attachment struct{ path, typ, name string }

// Translate rewrites the arguments that follow `ehlo send`.
func Translate(args []string) ([]string, error) {
	t := &translation{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			t.out = append(t.out, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			t.out = append(t.out, a)
			continue
		}
		name, val, hasEq := splitFlag(a)
		r, flag, ok := lookup(name)
		if !ok {
			t.out = append(t.out, ehloSpelling(a, name, val, hasEq))
			continue
		}
		has := hasEq
		switch {
		case hasEq:
		case r.arg == required:
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a value", a)
			}
			i++
			val, has = args[i], true
		case r.arg == optional && i+1 < len(args) && r.accept(args[i+1]):
			i++
			val, has = args[i], true
		}
		if err := r.apply(t, flag, val, has); err != nil {
			return nil, err
		}
	}
	return t.finish()
}

// ehloSpelling passes a flag swaks does not have on to kong, with swaks's
// leniency: one dash or two, any case ("-JSON" is --json). ehlo's flags
// are lower-case and it has no short ones but -h.
func ehloSpelling(a, name, val string, hasEq bool) string {
	if len(name) < 2 {
		return a
	}
	out := "--" + strings.ToLower(name)
	if hasEq {
		out += "=" + val
	}
	return out
}

// splitFlag returns the option's name without its dashes, and its value
// when it was given as --name=value.
func splitFlag(a string) (name, val string, hasEq bool) {
	name = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, val, hasEq = strings.Cut(name, "=")
	return name, val, hasEq
}

// lookup finds swaks's option. flag is the option as swaks users know it
// (for messages); a header option is returned bound to its header name.
func lookup(name string) (rule, string, bool) {
	key := name
	if len(name) > 1 {
		key = strings.ToLower(name)
	}
	for _, p := range []string{"h-", "header-"} {
		if strings.HasPrefix(key, p) && len(key) > len(p) {
			header := name[len(p):]
			return rule{arg: required, apply: func(t *translation, _ string, v string, _ bool) error {
				t.out = append(t.out, "--header="+header+": "+v)
				return nil
			}}, "--" + name, true
		}
	}
	rulesOnce.Do(buildRules)
	r, ok := rules[key]
	return r, "--" + name, ok
}

func (t *translation) finish() ([]string, error) {
	if t.nameSet {
		return nil, errors.New("--attach-name names the next --attach: none follows it")
	}
	if t.typeSet && !t.typeUsed {
		return nil, errors.New("--attach-type applies to the --attach options after it: none follows it")
	}
	if t.srcHost != "" || t.srcPort != "" {
		src := t.srcHost
		if t.srcPort != "" {
			h, _, err := net.SplitHostPort(src)
			if err != nil {
				h = strings.Trim(src, "[]")
			}
			src = net.JoinHostPort(h, t.srcPort)
		}
		t.out = append(t.out, "--source="+src)
	}
	if len(t.cc) > 0 || t.bcc {
		// ehlo's default To header names every envelope recipient; swaks's
		// names only --to's.
		for _, a := range t.cc {
			t.out = append(t.out, "--to="+a)
		}
		if len(t.cc) > 0 {
			t.out = append(t.out, "--header=Cc: "+strings.Join(t.cc, ", "))
		}
		t.out = append(t.out, "--header=To: "+strings.Join(t.to, ", "))
	}
	for _, x := range t.xclient {
		t.out = append(t.out, "--xclient="+x)
	}
	typed := false
	for _, a := range t.attaches {
		typed = typed || a.typ != "" || a.name != ""
	}
	for _, a := range t.attaches {
		t.out = append(t.out, "--attach="+a.path)
		if typed {
			t.out = append(t.out, "--attach-type="+a.typ, "--attach-name="+a.name)
		}
	}
	out := append(append(t.front, t.out...), t.tail...)
	if len(t.tail) > 1 {
		return nil, errors.New("--server, --socket and --pipe name the target once (swaks's transports exclude each other)")
	}
	return out, nil
}

// refusal is an option ehlo does not have: its message says what to do.
func refusal(why string) rule {
	return rule{arg: noArg, apply: func(_ *translation, flag, _ string, _ bool) error {
		return fmt.Errorf("%s (swaks): %s", flag, why)
	}}
}

// rename emits ehlo's flag with the value as given. An optional value
// left out means ehlo's default (swaks would prompt), so the flag goes.
func rename(arg argKind, to string) rule {
	return rule{arg: arg, accept: notFlag, apply: func(t *translation, _ string, v string, has bool) error {
		switch {
		case has:
			t.out = append(t.out, to+"="+v)
		case arg == noArg:
			t.out = append(t.out, to)
		}
		return nil
	}}
}

// drop accepts an option whose effect ehlo always has.
func drop(arg argKind) rule {
	return rule{arg: arg, accept: notFlag, apply: func(*translation, string, string, bool) error { return nil }}
}

func notFlag(next string) bool { return next == "-" || !strings.HasPrefix(next, "-") }

// QuitAfterWords maps every stop word swaks takes, in any case, to the
// stop ehlo names it by. Stops of stages a send skips stop where the stage
// would have run, as swaks does.
var QuitAfterWords = map[string]string{
	"connect": "connect", "banner": "banner", "proxy": "connect",
	"first-helo": "first-helo", "first-ehlo": "first-helo", "first-lhlo": "first-helo",
	"tls": "tls", "starttls": "tls",
	"helo": "helo", "ehlo": "helo", "lhlo": "helo", "xclient": "xclient", "xclient-helo": "helo",
	"auth": "auth", "mail": "mail", "from": "mail", "rcpt": "rcpt", "to": "rcpt",
}

func quitAfter(t *translation, flag, v string, _ bool) error {
	w, ok := QuitAfterWords[strings.ToLower(v)]
	if !ok {
		return fmt.Errorf("--quit-after must be one of connect, banner, first-helo, helo, tls, xclient, auth, mail, rcpt (or swaks's words for them, in any case), not %q", v)
	}
	t.out = append(t.out, "--quit-after="+w)
	return nil
}

// dropAfter is quitAfter for --drop-after and --drop-after-send (name),
// which also stop at DATA and at DOT.
func dropAfter(name string) func(*translation, string, string, bool) error {
	return func(t *translation, _, v string, _ bool) error {
		w, ok := QuitAfterWords[strings.ToLower(v)]
		switch lv := strings.ToLower(v); {
		case ok:
		case lv == "data" || lv == "dot":
			w = lv
		default:
			return fmt.Errorf("%s must be one of connect, banner, first-helo, helo, tls, xclient, auth, mail, rcpt, data, dot (or swaks's words for them, in any case), not %q", name, v)
		}
		t.out = append(t.out, name+"="+w)
		return nil
	}
}

// timeout takes swaks's N, Ns, Nm, Nh and Go durations.
func timeout(t *translation, flag, v string, _ bool) error {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		if n == 0 {
			return fmt.Errorf("%s 0: --timeout must be greater than zero: ehlo always has a timeout (swaks's 0 means none); give a long one, e.g. --timeout 1h", flag)
		}
		v += "s"
	}
	t.out = append(t.out, "--timeout="+v)
	return nil
}

func port(t *translation, flag, v string, _ bool) error {
	if _, err := strconv.Atoi(v); err != nil {
		p, lerr := net.LookupPort("tcp", v)
		if lerr != nil {
			return fmt.Errorf("%s %q: neither a number nor a known service name", flag, v)
		}
		v = strconv.Itoa(p)
	}
	t.out = append(t.out, "--port="+v)
	return nil
}

// server turns swaks's HOST/PORT form into HOST:PORT and makes it the
// SERVER argument.
func server(t *translation, flag, v string, has bool) error {
	if !has || v == "" {
		return fmt.Errorf("%s needs a host: ehlo does not prompt for one", flag)
	}
	if h, p, ok := strings.Cut(v, "/"); ok && h != "" && !strings.Contains(p, "/") {
		h = strings.Trim(h, "[]")
		v = net.JoinHostPort(h, p)
	}
	t.tail = append(t.tail, v)
	return nil
}

// pipe is --pipe COMMAND; the command also names the target in the
// transcript, as SERVER.
func pipe(t *translation, flag, v string, _ bool) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s needs a command", flag)
	}
	t.out = append(t.out, "--pipe="+v)
	t.tail = append(t.tail, v)
	return nil
}

func socket(t *translation, flag, v string, _ bool) error {
	abs, err := filepath.Abs(v)
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, v, err)
	}
	t.tail = append(t.tail, abs)
	return nil
}

// fileArg is swaks 2020's reading of --data and --body: @FILE, - (stdin),
// and a bare argument that names an existing file is that file.
func fileArg(to string, textOK bool) func(*translation, string, string, bool) error {
	return func(t *translation, flag, v string, _ bool) error {
		switch {
		case v == "-" || strings.HasPrefix(v, "@"):
		case isFile(v):
			v = "@" + v
		case !textOK:
			return fmt.Errorf("%s %q: no such file; --data takes @FILE or - (stdin), or an existing FILE: a whole message, not its text", flag, v)
		}
		t.out = append(t.out, to+"="+v)
		return nil
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func caPath(t *translation, flag, v string, _ bool) error {
	if st, err := os.Stat(v); err == nil && st.IsDir() {
		return fmt.Errorf("%s %s: a directory; ehlo takes one PEM file of CA certificates (--ca FILE)", flag, v)
	}
	t.out = append(t.out, "--ca="+v)
	return nil
}

// authMechs are the names swaks and ehlo know, for telling --auth's
// optional mechanism list from the next word.
var authMechs = map[string]bool{"PLAIN": true, "LOGIN": true, "CRAM-MD5": true, "CRAM-SHA1": true,
	"DIGEST-MD5": true, "NTLM": true, "SPA": true, "MSN": true, "LOGIN-INITIAL": true,
	"XOAUTH2": true, "OAUTHBEARER": true, "AUTO": true}

func isMechList(v string) bool {
	for _, m := range strings.Split(v, ",") {
		if !authMechs[strings.ToUpper(m)] {
			return false
		}
	}
	return true
}

func auth(t *translation, flag, v string, has bool) error {
	switch {
	case !has || v == "":
		v = "auto"
	case strings.Contains(v, ","):
		return fmt.Errorf("%s %s: ehlo tries one mechanism (--auth MECH) or the best one offered (--auth auto)", flag, v)
	}
	t.out = append(t.out, "--auth="+v)
	return nil
}

// optionalAuth is -a's translation followed by the flag that makes the
// AUTH optional (-ao, -aos).
func optionalAuth(flag string) func(*translation, string, string, bool) error {
	return func(t *translation, f, v string, has bool) error {
		if err := auth(t, f, v, has); err != nil {
			return err
		}
		t.out = append(t.out, flag)
		return nil
	}
}

// protocols are --protocol's words: the flags each implies. Port defaults
// stay ehlo's (465 with TLS on connect, 2003 with LMTP): swaks's 24 for
// LMTP takes --port 24.
var protocols = map[string][]string{
	"SMTP": {"--helo-only"}, "SMTPS": {"--helo-only", "--tls-on-connect"},
	"ESMTP": {}, "ESMTPA": {"--auth=auto"}, "ESMTPS": {"--starttls"}, "ESMTPSA": {"--starttls", "--auth=auto"},
	"SSMTP": {"--tls-on-connect"}, "SSMTPA": {"--tls-on-connect", "--auth=auto"},
	"LMTP": {"--lmtp"}, "LMTPA": {"--lmtp", "--auth=auto"}, "LMTPS": {"--lmtp", "--starttls"},
	"LMTPSA": {"--lmtp", "--starttls", "--auth=auto"},
}

func protocolWord(t *translation, flag, v string, _ bool) error {
	implied, ok := protocols[strings.ToUpper(v)]
	if !ok {
		return fmt.Errorf("%s %q: one of SMTP, SMTPS, SSMTP, SSMTPA, ESMTP, ESMTPA, ESMTPS, ESMTPSA, LMTP, LMTPA, LMTPS, LMTPSA", flag, v)
	}
	t.front = append(t.front, implied...)
	return nil
}

// tlsVerify is swaks's --tls-verify (no value: ehlo always verifies) unless
// a value follows that is ehlo's own --tls-verify word.
func tlsVerify(t *translation, _ string, v string, has bool) error {
	if has {
		t.out = append(t.out, "--tls-verify="+v)
	}
	return nil
}

func silent(t *translation, _ string, v string, has bool) error {
	if !has {
		v = "1"
	}
	t.out = append(t.out, "--silent="+v)
	return nil
}

// addHeader splits swaks's \n-separated headers into one --header each.
func addHeader(t *translation, _ string, v string, _ bool) error {
	for _, h := range strings.Split(v, `\n`) {
		t.out = append(t.out, "--header="+h)
	}
	return nil
}

func attach(t *translation, flag, v string, _ bool) error {
	switch {
	case strings.HasPrefix(v, "@"):
		v = v[1:]
	}
	t.attaches = append(t.attaches, attachment{path: v, typ: t.attachType, name: t.attachName})
	t.attachName, t.nameSet = "", false
	t.typeUsed = t.typeSet
	return nil
}

func attachType(t *translation, _ string, v string, _ bool) error {
	t.attachType, t.typeSet, t.typeUsed = v, true, false
	return nil
}

func attachName(t *translation, _ string, v string, _ bool) error {
	t.attachName, t.nameSet = v, true
	return nil
}

func to(t *translation, _ string, v string, _ bool) error {
	t.out = append(t.out, "--to="+v)
	t.to = append(t.to, v)
	return nil
}

// bcc is swaks's --bcc: envelope recipients no header names.
func bcc(t *translation, _ string, v string, _ bool) error {
	t.out = append(t.out, "--to="+v)
	t.bcc = true
	return nil
}

// xclientAttr adds NAME=VALUE, the value xtext-encoded (RFC 3461 §4),
// to the XCLIENT command being built.
func xclientAttr(name string) func(*translation, string, string, bool) error {
	return func(t *translation, _ string, v string, _ bool) error {
		attr := name + "=" + xtext(v)
		if t.xclientOpen {
			t.xclient[len(t.xclient)-1] += " " + attr
		} else {
			t.xclient, t.xclientOpen = append(t.xclient, attr), true
		}
		return nil
	}
}

// xtext encodes "+", "=" and every byte outside "!" to "~" as +HH.
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '!' || c > '~' || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cc is swaks's --cc: envelope recipients that a Cc header names.
func cc(t *translation, _ string, v string, _ bool) error {
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			t.cc = append(t.cc, a)
		}
	}
	return nil
}

// isCertFile tells --tls-get-peer-cert's optional FILE from SERVER: a
// word ending in .pem, .crt or .cer (or the --opt=FILE form).
func isCertFile(next string) bool {
	for _, ext := range []string{".pem", ".crt", ".cer"} {
		if strings.HasSuffix(strings.ToLower(next), ext) {
			return true
		}
	}
	return false
}

// peerCert is --tls-get-peer-cert [FILE]: stdout without a FILE.
func peerCert(to string) func(*translation, string, string, bool) error {
	return func(t *translation, _ string, v string, has bool) error {
		if !has || v == "" {
			v = "-"
		}
		t.out = append(t.out, to+"="+v)
		return nil
	}
}

// tlsChain is --tls-chain: alone, ehlo's (print the server's chain as PEM);
// with swaks's FILE (the client's chain), refused with where ehlo takes it.
func tlsChain(t *translation, _ string, v string, has bool) error {
	if has {
		return fmt.Errorf("--tls-chain %s: swaks's client certificate chain is read by ehlo from --cert (a PEM file holding the certificate and its chain); ehlo's --tls-chain, with no value, prints the server's chain", v)
	}
	t.out = append(t.out, "--tls-chain")
	return nil
}

func localInterface(t *translation, _ string, v string, _ bool) error {
	t.srcHost = v
	return nil
}

func localPort(t *translation, _ string, v string, _ bool) error {
	t.srcPort = v
	return nil
}

func oneOf(words ...string) func(string) bool {
	return func(next string) bool {
		for _, w := range words {
			if next == w {
				return true
			}
		}
		return false
	}
}

func fn(arg argKind, f func(*translation, string, string, bool) error) rule {
	return rule{arg: arg, accept: notFlag, apply: f}
}

const notYet = " is not supported yet"

// rules are swaks's options by every name swaks gives them (lower case;
// single letters as typed). They are built on first use, not at start-up:
// most commands never translate a swaks option.
var rules map[string]rule

var rulesOnce sync.Once

func buildRules() {
	rules = map[string]rule{}
	transportRules()
	protocolRules()
	tlsRules()
	authRules()
	messageRules()
	outputRules()
}

func add(r rule, names ...string) {
	for _, n := range names {
		rules[n] = r
	}
}

func transportRules() {
	add(fn(optional, server), "s", "server")
	add(fn(required, port), "p", "port")
	add(fn(required, socket), "socket")
	add(fn(required, localInterface), "li", "local-interface")
	add(fn(required, localPort), "lp", "local-port", "lport")
	add(rename(noArg, "--ipv4"), "4")
	add(rename(noArg, "--ipv6"), "6")
	add(fn(required, pipe), "pipe")
	// XCLIENT: the attributes, in the order given, build one command until
	// --xclient-delim; --xclient RAW is a command of its own.
	for _, a := range []string{"name", "addr", "port", "proto", "destaddr", "destport", "helo", "login", "reverse-name"} {
		add(fn(required, xclientAttr(strings.ToUpper(strings.ReplaceAll(a, "-", "_")))), "xclient-"+a)
	}
	add(fn(required, func(t *translation, _ string, v string, _ bool) error {
		t.xclient, t.xclientOpen = append(t.xclient, v), false
		return nil
	}), "xclient")
	add(rule{arg: noArg, apply: func(t *translation, _ string, _ string, _ bool) error {
		t.xclientOpen = false
		return nil
	}}, "xclient-delim")
	add(rename(noArg, "--xclient-no-verify"), "xclient-no-verify")
	add(refusal("ehlo sends XCLIENT after STARTTLS and its greeting"), "xclient-before-starttls")
	add(refusal("ehlo's XCLIENT is required: a failure stops the send"), "xclient-optional", "xclient-optional-strict")
	for _, n := range []string{"proxy", "proxy-version", "proxy-family", "proxy-protocol", "proxy-command",
		"proxy-source", "proxy-source-port", "proxy-dest", "proxy-dest-port"} {
		add(rename(required, "--"+n), n)
	}
	add(refusal("ehlo routes by SERVER; without SERVER it looks up the recipients' MX"), "copy-routing")
}

func protocolRules() {
	add(fn(required, to), "t", "to")
	add(rename(optional, "--from"), "f", "from")
	add(rule{arg: optional, accept: notFlag, apply: func(t *translation, _ string, v string, has bool) error {
		if has {
			t.out = append(t.out, "--helo="+v)
		}
		return nil
	}}, "helo", "ehlo", "lhlo")
	// swaks's -h is --helo; alone, or before another flag, it stays help.
	add(rule{arg: optional, accept: notFlag, apply: func(t *translation, _ string, v string, has bool) error {
		if has {
			t.out = append(t.out, "--helo="+v)
		} else {
			t.out = append(t.out, "--help")
		}
		return nil
	}}, "h")
	add(fn(required, quitAfter), "q", "quit", "quit-after")
	add(fn(required, timeout), "timeout")
	add(fn(required, protocolWord), "protocol")
	add(rename(noArg, "--pipeline"), "pipeline")
	add(fn(required, cc), "cc")
	add(fn(required, bcc), "bcc")
	add(refusal("PRDR"+notYet), "prdr")
	add(refusal("ehlo's default sender is $LOGNAME@host; give --from to choose another"), "force-getpwuid")
	add(fn(required, dropAfter("--drop-after")), "da", "drop-after")
	add(fn(required, dropAfter("--drop-after-send")), "das", "drop-after-send")
}

func tlsRules() {
	add(rename(noArg, "--starttls"), "tls")
	add(rename(noArg, "--tls-on-connect"), "tlsc", "tls-on-connect")
	add(refusal("ehlo never falls back to clear text after a STARTTLS that failed; --tls-optional-strict (--starttls-if-offered) uses STARTTLS when offered, --starttls requires it"), "tlso", "tls-optional")
	add(rename(noArg, "--starttls-if-offered"), "tlsos", "tls-optional-strict")
	add(rule{arg: optional, accept: oneOf("dane"), apply: tlsVerify}, "tls-verify")
	add(drop(noArg), "tls-verify-ca", "tls-verify-host")
	add(rename(required, "--sni"), "tls-verify-target", "tls-sni")
	add(fn(required, caPath), "tls-ca-path")
	add(rename(required, "--cert"), "tls-cert")
	add(rename(required, "--key"), "tls-key")
	add(rule{arg: optional, accept: isCertFile, apply: tlsChain}, "tls-chain")
	add(rename(required, "--tls-protocol"), "tlsp", "tls-protocol")
	add(refusal("ehlo uses Go's TLS cipher suites; choosing them"+notYet), "tls-cipher")
	add(rule{arg: optional, accept: isCertFile, apply: peerCert("--peer-cert")}, "tls-get-peer-cert")
	add(rule{arg: optional, accept: isCertFile, apply: peerCert("--peer-chain")}, "tls-get-peer-chain")
}

func authRules() {
	add(rule{arg: optional, accept: isMechList, apply: auth}, "a", "auth")
	add(rename(required, "--auth-user"), "au", "auth-user")
	add(rename(required, "--auth-password"), "ap", "auth-password")
	add(rule{arg: optional, accept: func(string) bool { return false }, apply: func(*translation, string, string, bool) error { return nil }}, "ahp", "auth-hide-password")
	add(drop(noArg), "pp", "protect-prompt")
	add(rule{arg: optional, accept: isMechList, apply: optionalAuth("--auth-optional")}, "ao", "auth-optional")
	add(rule{arg: optional, accept: isMechList, apply: optionalAuth("--auth-optional-strict")}, "aos", "auth-optional-strict")
	add(refusal("ehlo never shows credentials, decoded or not (the transcript says [redacted user=...])"), "apt", "auth-plaintext")
	add(refusal("DIGEST-MD5 and NTLM are not supported; ehlo offers PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and OAUTHBEARER"), "ae", "auth-extra", "am", "auth-map")
}

func messageRules() {
	add(fn(required, fileArg("--data", false)), "d", "data")
	add(rule{arg: noArg, apply: func(t *translation, _ string, _ string, _ bool) error {
		t.out = append(t.out, "--data=-")
		return nil
	}}, "g")
	add(fn(required, fileArg("--body", true)), "body")
	add(fn(required, addHeader), "ah", "add-header")
	add(fn(required, attach), "attach")
	add(fn(required, attachType), "attach-type")
	add(rule{arg: optional, accept: notFlag, apply: attachName}, "attach-name")
	add(refusal("use --body for the text part (ehlo builds one text part and the --attach files)"), "attach-body")
	add(refusal("ehlo sends --data as given but for CRLF line endings and dot-stuffing, which SMTP needs"), "ndf", "no-data-fixup", "nsf", "no-strip-from")
	add(refusal("--dump"+notYet), "dab", "dump-as-body", "dabsp", "dump-as-body-shows-password", "dump", "dump-mail")
}

func outputRules() {
	add(rule{arg: optional, accept: oneOf("1", "2", "3"), apply: silent}, "S", "silent")
	add(rename(noArg, "--hide-send"), "hs", "hide-send")
	add(rename(noArg, "--hide-receive"), "hr", "hide-receive")
	add(rename(noArg, "--hide-informational"), "hi", "hide-informational")
	add(rename(noArg, "--hide-all"), "ha", "hide-all")
	add(rule{arg: optional, accept: oneOf("i"), apply: func(t *translation, _ string, _ string, _ bool) error {
		t.out = append(t.out, "--show-time-lapse")
		return nil
	}}, "stl", "show-time-lapse")
	add(rename(noArg, "--suppress-data"), "n", "suppress-data")
	add(refusal("the hex dump"+notYet+"; --json carries the raw bytes of any line that is not plain text, and --record FILE every byte"), "raw", "show-raw-text")
	add(refusal("the transcript's markers are always shown"), "nih", "no-info-hints", "nsh", "no-send-hints", "nrh", "no-receive-hints", "nth", "no-hints")
	add(refusal("redirect stdout and stderr with the shell"), "output", "output-file", "output-file-stdout", "output-file-stderr")
	add(refusal("ehlo is one binary with every feature built in; `ehlo version` prints its version"), "support")
	add(refusal("ehlo reads no configuration file"), "config")
}

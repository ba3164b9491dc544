package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Stage names the server reply a fault applies to: the greeting, or the
// reply to one command. A fault with no stages applies to every reply.
type Stage string

// Stages. StageDot is the reply that accepts or refuses the message: the
// one after DATA's final "." and the one to BDAT … LAST (in LMTP, each of
// the per-recipient replies). StageBdat is the reply to every other BDAT.
// StageOther covers commands with no stage of their own (EXPN, unknown
// verbs, …).
const (
	StageGreeting Stage = "greeting"
	StageEhlo     Stage = "ehlo" // also HELO and LHLO
	// StageEhloTLS is the EHLO (or LHLO) reply inside TLS only. A fault
	// on StageEhlo covers it too.
	StageEhloTLS Stage = "ehlo-tls"
	// StageEhloOnly and StageHeloOnly tell EHLO (or LHLO) from HELO before
	// TLS, so that a fault can refuse EHLO and let HELO through (A5).
	StageEhloOnly Stage = "ehlo-only"
	StageHeloOnly Stage = "helo-only"
	StageStartTLS Stage = "starttls"
	StageAuth     Stage = "auth"
	StageMail     Stage = "mail"
	StageRcpt     Stage = "rcpt"
	StageData     Stage = "data"
	StageDot      Stage = "dot"
	StageBdat     Stage = "bdat"
	StageRset     Stage = "rset"
	StageVrfy     Stage = "vrfy"
	StageNoop     Stage = "noop"
	StageHelp     Stage = "help"
	StageQuit     Stage = "quit"
	StageOther    Stage = "other"
)

var stageNames = map[string]Stage{
	"greeting": StageGreeting, "connect": StageGreeting, "banner": StageGreeting,
	"ehlo": StageEhlo, "helo": StageEhlo, "lhlo": StageEhlo,
	"ehlo-tls": StageEhloTLS, "ehlo-after-tls": StageEhloTLS,
	"ehlo-only": StageEhloOnly, "helo-only": StageHeloOnly,
	"starttls": StageStartTLS, "tls": StageStartTLS,
	"auth": StageAuth, "mail": StageMail, "rcpt": StageRcpt,
	"data": StageData, "dot": StageDot, "bdat": StageBdat,
	"rset": StageRset, "vrfy": StageVrfy, "noop": StageNoop,
	"help": StageHelp, "quit": StageQuit, "other": StageOther,
}

// FaultKind is what a fault does.
type FaultKind string

// Fault kinds; docs/sandbox.md gives the lesson each one teaches.
const (
	FaultDelay          FaultKind = "delay"           // sleep before the reply
	FaultDrip           FaultKind = "drip"            // write the reply one byte at a time
	FaultDrop           FaultKind = "drop"            // close the connection instead of replying
	Fault421            FaultKind = "421"             // answer 421 and close
	FaultSilent         FaultKind = "silent"          // never reply again (no greeting by default)
	FaultRefuseSender   FaultKind = "refuse-sender"   // MAIL gets 550
	FaultRefuseRcpt     FaultKind = "refuse-rcpt"     // RCPT gets 550
	FaultRequireAuth    FaultKind = "require-auth"    // MAIL before AUTH gets 530
	FaultMalformed      FaultKind = "malformed"       // a reply code that breaks RFC 5321 §4.2
	FaultLongLine       FaultKind = "longline"        // pad the reply line past the limits
	FaultCodeOnly       FaultKind = "codeonly"        // the last line is the code alone
	FaultBareLF         FaultKind = "bare-lf"         // lines end in LF, not CRLF
	FaultANSI           FaultKind = "ansi"            // terminal escape sequences in the text
	FaultInjectStartTLS FaultKind = "inject-starttls" // extra bytes in the same write as the 220 to STARTTLS
	FaultNoTLS          FaultKind = "notls"           // 220 to STARTTLS, then plaintext instead of a handshake
	FaultPremature      FaultKind = "premature"       // greeting and an EHLO reply in one write, unasked

	FaultReply          FaultKind = "reply"                // answer the stage with exactly these bytes
	FaultInjectLate     FaultKind = "inject-late"          // 220 to STARTTLS, a pause, plaintext bytes, then TLS
	FaultReadvertise    FaultKind = "readvertise-starttls" // STARTTLS advertised again inside TLS
	FaultCapsBefore     FaultKind = "caps-before"          // the EHLO keywords before TLS
	FaultCapsAfter      FaultKind = "caps-after"           // the EHLO keywords inside TLS
	FaultEndless        FaultKind = "endless"              // CODE-x lines forever (up to a cap), then close
	FaultBinary         FaultKind = "binary"               // NUL and non-UTF-8 bytes in the text
	FaultCut            FaultKind = "cut"                  // close in the middle of a reply
	FaultUnsolicited421 FaultKind = "unsolicited-421"      // the reply, a 421 in the same write, then close
	FaultEhloGarbage    FaultKind = "ehlo-garbage"         // absurd, duplicate and non-ASCII EHLO keywords
	FaultEnhGarbage     FaultKind = "enhanced-garbage"     // malformed RFC 3463 enhanced codes
	FaultLMTPMissing    FaultKind = "lmtp-missing"         // LMTP: no reply for the last recipient
	FaultLMTPExtra      FaultKind = "lmtp-extra"           // LMTP: one reply more than recipients
	FaultPipelineShort  FaultKind = "pipeline-short"       // no reply to the last RCPT of a pipelined group

	// The vulnerable servers `ehlo audit` finds (docs/audit.md); each is
	// one finding's failing case.
	FaultKeepPipelined FaultKind = "keep-pipelined"  // commands pipelined behind STARTTLS run inside TLS (CVE-2011-0411)
	FaultBareLFDot     FaultKind = "bare-lf-dot"     // DATA also ends at <LF>.<LF>, <LF>.<CR><LF>, <CR><LF>.<LF> (SMTP smuggling)
	FaultRelayDenied   FaultKind = "relay-denied"    // RCPT to a domain not the sandbox's gets 554 5.7.1: a closed relay
	FaultAuthNoTLS     FaultKind = "auth-before-tls" // AUTH advertised and accepted before TLS
	FaultUserUnknown   FaultKind = "user-unknown"    // VRFY and RCPT tell known users from unknown ones
	FaultPregreet      FaultKind = "pregreet-guard"  // "220-", a pause, and 554 to a client that spoke first
	FaultTLSLegacy     FaultKind = "tls-legacy"      // TLS 1.0 and 1.1, RC4, 3DES and CBC suites accepted
)

// Variants of cut and enhanced-garbage.
const (
	CutMultiline = "multiline" // "250-…\r\n250-" then close (F13)
	CutPartial   = "partial"   // half of the first line, no line end, then close (F14)
	EnhLong      = "long"      // "2.99999.0" (F19)
	EnhShort     = "short"     // "5.7" (F19)
	EnhClass     = "class"     // class that contradicts the reply code: "250 5.1.1" (F19)
)

// Malformed variants (the value of a malformed fault).
const (
	MalformedCode  = "code"  // middle digit becomes x: "2x0 …" (security-anchors F7)
	MalformedMixed = "mixed" // multi-line reply whose last code differs (F6)
	MalformedSep   = "sep"   // X instead of SP or "-" after the code (F9)
	MalformedRange = "range" // first digit 6: "650 …" (F8)
	MalformedShort = "short" // two-digit code: "25 …" (F7)
)

// Default fault payloads.
const (
	// DefaultInjection is what inject-starttls sends after "220 Ready\r\n"
	// in the same write: EAST's Buffering/B_1 case (security-anchors A6).
	DefaultInjection = "250-evil.example\r\n250 AUTH PLAIN LOGIN\r\n"
	// DefaultANSI clears the screen, sets the window title and writes the
	// clipboard through OSC 52 (security-anchors H1).
	DefaultANSI = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07"
	// DefaultNoTLS is what notls sends where a ServerHello belongs
	// (security-anchors A10).
	DefaultNoTLS = "250 OK\r\n"
	// DefaultLongLine is the length of a longline reply line, CRLF
	// included: beyond smtplib's and ehlo's 8192.
	DefaultLongLine = 9000
	// DefaultDrip is the pause between bytes of a drip fault.
	DefaultDrip = time.Second
	// DefaultLateInjection is what inject-late sends, in plaintext, after
	// the 220 to STARTTLS and a pause (security-anchors A9).
	DefaultLateInjection = "250 fake\r\n"
	// LateInjectionPause is inject-late's pause after the 220.
	LateInjectionPause = 100 * time.Millisecond
	// DefaultBinary is what binary puts after the reply code: a NUL and
	// two bytes that are not UTF-8 (security-anchors F12).
	DefaultBinary = "has\x00nul \xff\xfe "
	// DefaultEndless caps an endless reply, in lines; then the server
	// closes the connection.
	DefaultEndless = 1 << 20
	// DefaultPregreetWait is how long pregreet-guard waits, after its
	// "220-" line, for a client that talks first.
	DefaultPregreetWait = 500 * time.Millisecond
	// maxEndless is the largest cap endless accepts.
	maxEndless = 1 << 24
)

// Fault is one parsed --fault SPEC. Build it with ParseFault.
type Fault struct {
	Kind FaultKind
	// Stages the fault applies to; empty means every reply.
	Stages []Stage
	// Duration is the pause of delay and drip.
	Duration time.Duration
	// Length is the longline line length, CRLF included, or the line
	// cap of endless.
	Length int
	// Variant is the malformed, cut or enhanced-garbage variant, or
	// "space" for codeonly.
	Variant string
	// Addrs limits refuse-sender and refuse-rcpt; empty means every
	// address.
	Addrs []string
	// Text is the byte payload of reply, inject-starttls, inject-late,
	// ansi, binary and notls, or the text of a 421.
	Text []byte
	// Caps are the EHLO keyword lines of caps-before and caps-after.
	Caps []string
	// Line makes endless write one line without an end (F3) instead of
	// continuation lines.
	Line bool

	spec string
}

// String returns the spec the fault was parsed from.
func (f Fault) String() string { return f.spec }

func (f Fault) applies(st Stage) bool {
	if len(f.Stages) == 0 {
		return true
	}
	for _, s := range f.Stages {
		if s == st || (s == StageEhlo && (st == StageEhloTLS || st == StageEhloOnly || st == StageHeloOnly)) {
			return true
		}
	}
	return false
}

// matchesAddr reports whether a refusal fault covers addr (case-insensitive,
// compared without angle brackets).
func (f Fault) matchesAddr(addr string) bool {
	if len(f.Addrs) == 0 {
		return true
	}
	for _, a := range f.Addrs {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

// kindRule says which parts of the grammar a kind accepts.
type kindRule struct {
	stages    bool // takes :STAGES
	value     int  // 0 none, 1 optional, 2 required
	needStage bool // :STAGES is required
}

var kindRules = map[FaultKind]kindRule{
	FaultDelay:          {stages: true, value: 2},
	FaultDrip:           {stages: true, value: 1},
	FaultDrop:           {stages: true},
	Fault421:            {stages: true, value: 1},
	FaultSilent:         {stages: true},
	FaultRefuseSender:   {value: 1},
	FaultRefuseRcpt:     {value: 1},
	FaultRequireAuth:    {},
	FaultMalformed:      {stages: true, value: 1},
	FaultLongLine:       {stages: true, value: 1},
	FaultCodeOnly:       {stages: true, value: 1},
	FaultBareLF:         {stages: true},
	FaultANSI:           {stages: true, value: 1},
	FaultInjectStartTLS: {value: 1},
	FaultNoTLS:          {value: 1},
	FaultPremature:      {},
	FaultReply:          {stages: true, value: 2, needStage: true},
	FaultInjectLate:     {value: 1},
	FaultReadvertise:    {},
	FaultCapsBefore:     {value: 2},
	FaultCapsAfter:      {value: 2},
	FaultEndless:        {stages: true, value: 1, needStage: true},
	FaultBinary:         {stages: true, value: 1},
	FaultCut:            {stages: true, value: 1, needStage: true},
	FaultUnsolicited421: {stages: true, value: 1, needStage: true},
	FaultEhloGarbage:    {},
	FaultEnhGarbage:     {stages: true, value: 1},
	FaultLMTPMissing:    {},
	FaultLMTPExtra:      {},
	FaultPipelineShort:  {},
	FaultKeepPipelined:  {},
	FaultBareLFDot:      {},
	FaultRelayDenied:    {},
	FaultAuthNoTLS:      {},
	FaultUserUnknown:    {},
	FaultPregreet:       {value: 1},
	FaultTLSLegacy:      {},
}

// ParseFault parses one fault spec:
//
//	KIND[:STAGE[,STAGE…]][=VALUE]
//
// For example "delay=5ms", "delay:rcpt=2s", "drop:mail", "421:rcpt",
// "refuse-rcpt=bad@x.test", "malformed:ehlo=mixed", "longline:greeting",
// "inject-starttls", "silent", "drip:greeting=10ms", "premature",
// "codeonly:noop", "bare-lf", "ansi:greeting". Without stages a fault
// applies to every reply, so drop, 421 and silent without stages act on
// the greeting. Text values understand \r \n \t \e \\ and \xHH.
// docs/sandbox.md lists every kind.
func ParseFault(spec string) (Fault, error) {
	f := Fault{spec: spec}
	head, value, hasValue := strings.Cut(spec, "=")
	kind, stages, hasStages := strings.Cut(head, ":")
	f.Kind = FaultKind(strings.ToLower(strings.TrimSpace(kind)))
	rule, ok := kindRules[f.Kind]
	if !ok {
		return f, fmt.Errorf("fault %q: unknown kind %q (known: %s)", spec, kind, knownKinds())
	}
	if hasStages {
		if !rule.stages {
			return f, fmt.Errorf("fault %q: %s takes no stage", spec, f.Kind)
		}
		var err error
		if f.Stages, err = parseStages(stages); err != nil {
			return f, fmt.Errorf("fault %q: %v", spec, err)
		}
	}
	switch {
	case rule.needStage && len(f.Stages) == 0:
		return f, fmt.Errorf("fault %q: %s needs a stage (%s:STAGE…)", spec, f.Kind, f.Kind)
	case hasValue && rule.value == 0:
		return f, fmt.Errorf("fault %q: %s takes no value", spec, f.Kind)
	case !hasValue && rule.value == 2:
		return f, fmt.Errorf("fault %q: %s needs a value (%s=…)", spec, f.Kind, f.Kind)
	}
	if parse := valueParsers[f.Kind]; parse != nil {
		if err := parse(&f, value, hasValue); err != nil {
			return f, fmt.Errorf("fault %q: %v", spec, err)
		}
	}
	return f, nil
}

// parseStages reads STAGE[,STAGE…]; "all" or "*" means every reply (nil).
func parseStages(list string) ([]Stage, error) {
	var out []Stage
	for _, s := range strings.Split(list, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "all" || s == "*" {
			return nil, nil
		}
		st, ok := stageNames[s]
		if !ok {
			return nil, fmt.Errorf("unknown stage %q (known: greeting, ehlo, ehlo-tls, ehlo-only, helo-only, starttls, auth, mail, rcpt, data, dot, bdat, rset, vrfy, noop, help, quit, other, all)", s)
		}
		out = append(out, st)
	}
	return out, nil
}

// valueParsers read a kind's =VALUE (has says one was given) into f, with
// the kind's default when none was. A kind missing here takes no value.
var valueParsers = map[FaultKind]func(f *Fault, v string, has bool) error{
	FaultPregreet: func(f *Fault, v string, has bool) error {
		return parseDuration(&f.Duration, DefaultPregreetWait, v, has, time.Minute)
	},
	FaultDelay: func(f *Fault, v string, has bool) error { return parseDuration(&f.Duration, DefaultDrip, v, has, 0) },
	FaultDrip:  func(f *Fault, v string, has bool) error { return parseDuration(&f.Duration, DefaultDrip, v, has, 0) },
	FaultReply: parseReplyText,
	FaultInjectLate: func(f *Fault, v string, has bool) error {
		return parseText(&f.Text, DefaultLateInjection, v, has, "")
	},
	FaultCapsBefore: parseCaps,
	FaultCapsAfter:  parseCaps,
	FaultEndless:    parseEndless,
	FaultBinary: func(f *Fault, v string, has bool) error {
		return parseText(&f.Text, DefaultBinary, v, has, "binary text cannot contain CR or LF")
	},
	FaultCut: func(f *Fault, v string, has bool) error {
		return parseVariant(&f.Variant, CutMultiline, v, has, CutMultiline, CutPartial)
	},
	FaultEnhGarbage: func(f *Fault, v string, has bool) error {
		return parseVariant(&f.Variant, EnhLong, v, has, EnhLong, EnhShort, EnhClass)
	},
	Fault421: func(f *Fault, v string, has bool) error {
		return parseText(&f.Text, "", v, has, "the text of a 421 cannot contain CR or LF")
	},
	FaultUnsolicited421: func(f *Fault, v string, has bool) error {
		return parseText(&f.Text, "", v, has, "the text of a 421 cannot contain CR or LF")
	},
	FaultRefuseSender: parseAddrs,
	FaultRefuseRcpt:   parseAddrs,
	FaultMalformed: func(f *Fault, v string, has bool) error {
		return parseVariant(&f.Variant, MalformedCode, v, has, MalformedCode, MalformedMixed, MalformedSep, MalformedRange, MalformedShort)
	},
	FaultLongLine: func(f *Fault, v string, has bool) error {
		return parseLength(&f.Length, DefaultLongLine, v, has, 16, 1<<20)
	},
	FaultCodeOnly: func(f *Fault, v string, has bool) error {
		return parseVariant(&f.Variant, "", v, has, "space")
	},
	FaultANSI: func(f *Fault, v string, has bool) error { return parseText(&f.Text, DefaultANSI, v, has, "") },
	FaultInjectStartTLS: func(f *Fault, v string, has bool) error {
		return parseText(&f.Text, DefaultInjection, v, has, "")
	},
	FaultNoTLS: func(f *Fault, v string, has bool) error { return parseText(&f.Text, DefaultNoTLS, v, has, "") },
}

// parseDuration reads a duration (0 < d, and d <= most when most > 0;
// otherwise 0 <= d), or sets def.
func parseDuration(d *time.Duration, def time.Duration, v string, has bool, most time.Duration) error {
	*d = def
	if !has {
		return nil
	}
	var err error
	*d, err = time.ParseDuration(v)
	switch {
	case most > 0 && (err != nil || *d <= 0 || *d > most):
		return fmt.Errorf("bad duration %q (0 < wait <= %s)", v, most)
	case err != nil || *d < 0:
		return fmt.Errorf("bad duration %q", v)
	}
	return nil
}

// parseText reads an escaped text (\r \n \t \e \\ \xHH) or sets def;
// noLines, when set, is the error for a text holding CR or LF.
func parseText(t *[]byte, def, v string, has bool, noLines string) error {
	if def != "" {
		*t = []byte(def)
	}
	if !has {
		return nil
	}
	var err error
	if *t, err = unescape(v); err != nil {
		return err
	}
	if noLines != "" && bytes.ContainsAny(*t, "\r\n") {
		return errors.New(noLines)
	}
	return nil
}

// parseVariant reads one of the allowed words (any case), or sets def.
func parseVariant(out *string, def, v string, has bool, allowed ...string) error {
	*out = def
	if !has {
		return nil
	}
	*out = strings.ToLower(v)
	if slices.Contains(allowed, *out) {
		return nil
	}
	return fmt.Errorf("unknown variant %q (%s)", v, strings.Join(allowed, ", "))
}

// parseLength reads a whole number in lo..hi, or sets def.
func parseLength(n *int, def int, v string, has bool, lo, hi int) error {
	*n = def
	if !has {
		return nil
	}
	var err error
	if *n, err = strconv.Atoi(v); err != nil {
		return err
	}
	if *n < lo || *n > hi {
		return fmt.Errorf("length %d out of range %d..%d", *n, lo, hi)
	}
	return nil
}

func parseReplyText(f *Fault, v string, _ bool) error {
	var err error
	if f.Text, err = unescape(v); err != nil {
		return err
	}
	if !validReplyStart(f.Text) {
		return errors.New("the reply must start with a three-digit code, like \"502 5.5.1 Not implemented\"")
	}
	if !bytes.HasSuffix(f.Text, []byte("\n")) {
		f.Text = append(f.Text, '\r', '\n')
	}
	return nil
}

func parseCaps(f *Fault, v string, _ bool) error {
	for _, c := range strings.Split(v, ",") {
		if c = strings.TrimSpace(c); c != "" {
			f.Caps = append(f.Caps, c)
		}
	}
	if len(f.Caps) == 0 {
		return errors.New("empty keyword list")
	}
	return nil
}

// parseEndless reads endless's value: "line" (F3: one line that never
// ends, written 1 KiB at a time up to 1 MiB), or a cap on the lines.
func parseEndless(f *Fault, v string, has bool) error {
	if has && v == "line" {
		f.Line, f.Length = true, 1024
		return nil
	}
	f.Length = DefaultEndless
	if !has {
		return nil
	}
	var err error
	if f.Length, err = strconv.Atoi(v); err != nil {
		return err
	}
	if f.Length < 1 || f.Length > maxEndless {
		return fmt.Errorf("line cap %d out of range 1..%d", f.Length, maxEndless)
	}
	return nil
}

func parseAddrs(f *Fault, v string, has bool) error {
	if !has {
		return nil
	}
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a), "<"), ">")
		if a != "" {
			f.Addrs = append(f.Addrs, a)
		}
	}
	if len(f.Addrs) == 0 {
		return errors.New("empty address list")
	}
	return nil
}

func knownKinds() string {
	return "delay, drip, drop, 421, silent, refuse-sender, refuse-rcpt, require-auth, malformed, longline, codeonly, bare-lf, ansi, inject-starttls, notls, premature, " +
		"reply, inject-late, readvertise-starttls, caps-before, caps-after, endless, binary, cut, unsolicited-421, ehlo-garbage, enhanced-garbage, lmtp-missing, lmtp-extra, pipeline-short, " +
		"keep-pipelined, bare-lf-dot, relay-denied, auth-before-tls, user-unknown, pregreet-guard, tls-legacy"
}

// validReplyStart reports whether b starts like a reply line: three
// digits. The rest is the teacher's choice, garbage included.
func validReplyStart(b []byte) bool {
	return len(b) >= 3 && b[0] >= '0' && b[0] <= '9' && b[1] >= '0' && b[1] <= '9' && b[2] >= '0' && b[2] <= '9'
}

// unescape turns the backslash escapes of a fault value into bytes, so a
// spec given on a command line can carry CR, LF and ESC.
func unescape(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		i++
		if i == len(s) {
			return nil, errors.New("trailing backslash")
		}
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'e':
			out = append(out, 0x1b)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+3 > len(s) {
				return nil, errors.New(`\x needs two hex digits`)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf(`bad escape \x%s`, s[i+1:i+3])
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf(`unknown escape \%c`, s[i])
		}
	}
	return out, nil
}

package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		ctx      replyContext
		code     int
		class    string // prefix of Class
		meaning  string // substring of Meaning
		enhanced string
		emeaning string // substring of EnhancedMeaning
		rfc      string
		problem  string // substring of one Problem; "" means none
	}{
		{"greeting", "220 mx.example.test ESMTP", replyContext{Verb: verbGreeting}, 220, "2xx", "greeting", "", "", "RFC 5321 §3.1", ""},
		{"domain is not an enhanced code", "250 mx.example.test", replyContext{Verb: verbNOOP}, 250, "2xx", "completed", "", "", "RFC 5321 §4.2.3", ""},
		{"mail ok", "250 2.1.0 Ok", replyContext{Verb: verbMAIL}, 250, "2xx", "sender accepted", "2.1.0", "other address status", "RFC 5321 §4.1.1.2", ""},
		{"rcpt ok", "250 2.1.5 Ok", replyContext{Verb: verbRCPT}, 250, "2xx", "recipient accepted", "2.1.5", "destination address valid", "RFC 5321 §4.1.1.3", ""},
		{"unknown user", "550 5.1.1 <x@y>: User unknown", replyContext{Verb: verbRCPT}, 550, "5xx", "mailbox unavailable", "5.1.1", "bad destination mailbox address", "RFC 5321 §4.2.3", ""},
		{"bad system", "550 5.1.2 no such domain", replyContext{Verb: verbRCPT}, 550, "5xx", "", "5.1.2", "bad destination system address", "", ""},
		{"mailbox full", "452 4.2.2 Mailbox full", replyContext{Verb: verbRCPT}, 452, "4xx", "insufficient system storage", "4.2.2", "mailbox full", "RFC 5321 §4.5.3.1.10", ""},
		{"too big", "552 5.3.4 Message too big", replyContext{Verb: verbDataEnd}, 552, "5xx", "not accepted", "5.3.4", "message too big for system", "RFC 5321 §4.2.5", ""},
		{"routing", "451 4.4.1 no answer", replyContext{Verb: verbDataEnd}, 451, "4xx", "local error", "4.4.1", "no answer from host", "", ""},
		{"congestion", "421 4.4.5 Too busy", replyContext{Verb: verbMAIL}, 421, "4xx", "closing transmission channel", "4.4.5", "mail system congestion", "RFC 5321 §3.8", ""},
		{"syntax", "501 5.5.2 Syntax error", replyContext{Verb: verbMAIL}, 501, "5xx", "syntax error in parameters", "5.5.2", "syntax error", "", ""},
		{"bad sequence", "503 5.5.1 Error: need MAIL command", replyContext{Verb: verbRCPT}, 503, "5xx", "bad sequence", "5.5.1", "invalid command", "RFC 5321 §4.1.4", ""},
		{"not implemented", "502 5.5.1 VRFY disabled", replyContext{Verb: verbVRFY}, 502, "5xx", "not implemented", "5.5.1", "", "RFC 5321 §4.2.4", ""},
		{"params", "555 5.5.4 Unsupported option: FOO", replyContext{Verb: verbMAIL}, 555, "5xx", "parameters not recognized", "5.5.4", "invalid command arguments", "RFC 5321 §4.1.1.11", ""},
		{"policy", "554 5.7.1 Relay access denied", replyContext{Verb: verbRCPT}, 554, "5xx", "transaction failed", "5.7.1", "delivery not authorized", "", ""},
		{"auth ok", "235 2.7.0 Authentication successful", replyContext{Verb: verbAUTH}, 235, "2xx", "authentication succeeded", "2.7.0", "security or policy status", "RFC 4954 §6", ""},
		{"auth challenge", "334 VXNlcm5hbWU6", replyContext{Verb: verbAUTH}, 334, "3xx", "server challenge", "", "", "RFC 4954 §4", ""},
		{"auth failed", "535 5.7.8 Authentication credentials invalid", replyContext{Verb: verbAUTH}, 535, "5xx", "credentials invalid", "5.7.8", "authentication credentials invalid (RFC 4954)", "RFC 4954 §6", ""},
		{"encryption required", "538 5.7.11 Encryption required", replyContext{Verb: verbAUTH}, 538, "5xx", "encryption required", "5.7.11", "encryption required for requested authentication mechanism", "RFC 4954 §6", ""},
		{"starttls go", "220 2.0.0 Ready to start TLS", replyContext{Verb: verbSTARTTLS}, 220, "2xx", "start TLS", "2.0.0", "other undefined status", "RFC 3207 §4", ""},
		{"starttls busy", "454 4.7.0 TLS not available", replyContext{Verb: verbSTARTTLS}, 454, "4xx", "TLS not available", "4.7.0", "security", "RFC 3207 §4", ""},
		{"auth temp", "454 4.7.0 Temporary authentication failure", replyContext{Verb: verbAUTH}, 454, "4xx", "temporary authentication failure", "4.7.0", "", "RFC 4954 §6", ""},
		{"lmtp per recipient", "250 2.1.5 <bob@x> delivered", replyContext{Verb: verbDataEnd, LMTP: true}, 250, "2xx", "LMTP sends one reply per accepted RCPT", "2.1.5", "", "RFC 2033 §4.2", ""},
		{"lmtp refused", "550 5.2.1 <bob@x> mailbox disabled", replyContext{Verb: verbDataEnd, LMTP: true}, 550, "5xx", "not delivered", "5.2.1", "mailbox disabled", "RFC 2033 §4.2", ""},
		{"lhlo", "250-lmtp.example.test", replyContext{Verb: verbLHLO}, 250, "2xx", "LHLO accepted", "", "", "RFC 2033 §4.1", ""},
		{"data go", "354 End data with <CR><LF>.<CR><LF>", replyContext{Verb: verbDATA}, 354, "3xx", "start mail input", "", "", "RFC 5321 §4.1.1.4", ""},
		{"queued", "250 2.0.0 Ok: queued as 4Xk2", replyContext{Verb: verbDataEnd}, 250, "2xx", "accepted for delivery", "2.0.0", "", "RFC 5321 §4.2.5", ""},
		{"null mx", "556 5.1.10 Recipient address has null MX", replyContext{Verb: verbRCPT}, 556, "5xx", "does not accept mail", "5.1.10", "null MX (RFC 7505)", "RFC 7504 §3", ""},
		{"spf", "550 5.7.23 SPF validation failed", replyContext{Verb: verbDataEnd}, 550, "5xx", "", "5.7.23", "SPF validation failed (RFC 7372)", "", ""},
		{"unregistered detail", "550 5.7.99 custom", replyContext{Verb: verbRCPT}, 550, "5xx", "", "5.7.99", "detail 99 not registered", "", ""},

		// Malformed lines and codes are flagged, not guessed.
		{"class mismatch", "550 2.1.1 oops", replyContext{Verb: verbRCPT}, 550, "5xx", "", "2.1.1", "", "", "class mismatch"},
		{"enhanced on 3xx", "354 2.0.0 go ahead", replyContext{Verb: verbDATA}, 354, "3xx", "", "2.0.0", "", "", "3xx reply carries no enhanced status code"},
		{"two parts", "550 5.1 nope", replyContext{Verb: verbRCPT}, 550, "5xx", "", "", "", "", "malformed enhanced status code 5.1"},
		{"four parts", "550 5.1.1.1 nope", replyContext{Verb: verbRCPT}, 550, "5xx", "", "", "", "", "malformed enhanced status code 5.1.1.1"},
		{"long subject", "550 5.1000.1 nope", replyContext{Verb: verbRCPT}, 550, "5xx", "", "", "", "", "1 to 3 digits"},
		{"bad class", "550 6.1.1 nope", replyContext{Verb: verbRCPT}, 550, "5xx", "", "6.1.1", "", "", "class 6 does not exist"},
		{"leading zero", "550 5.01.1 nope", replyContext{Verb: verbRCPT}, 550, "5xx", "", "5.01.1", "", "", "leading zero"},
		{"undefined subject", "550 5.9.1 nope", replyContext{Verb: verbRCPT}, 550, "5xx", "", "5.9.1", "subject 9 is not defined", "", ""},
		{"no code", "hello world", replyContext{}, 0, "", "", "", "", "", "no reply code"},
		{"code glued to text", "250OK", replyContext{}, 250, "2xx", "", "", "", "", "followed by a space"},
		{"first digit 6", "699 obscure", replyContext{}, 699, "", "", "", "", "", "first digit must be 2, 3, 4 or 5"},
		{"second digit 9", "290 odd", replyContext{}, 290, "2xx", "", "", "", "", "second digit must be 0 to 5"},
		{"code only", "250", replyContext{Verb: verbNOOP}, 250, "2xx", "completed", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := explain(tt.line, tt.ctx)
			if e.Code != tt.code {
				t.Errorf("Code = %d, want %d", e.Code, tt.code)
			}
			if !strings.HasPrefix(e.Class, tt.class) {
				t.Errorf("Class = %q, want prefix %q", e.Class, tt.class)
			}
			if !strings.Contains(e.Meaning, tt.meaning) {
				t.Errorf("Meaning = %q, want %q in it", e.Meaning, tt.meaning)
			}
			if e.Enhanced != tt.enhanced {
				t.Errorf("Enhanced = %q, want %q", e.Enhanced, tt.enhanced)
			}
			if !strings.Contains(e.EnhancedMeaning, tt.emeaning) {
				t.Errorf("EnhancedMeaning = %q, want %q in it", e.EnhancedMeaning, tt.emeaning)
			}
			if tt.rfc != "" && e.RFC != tt.rfc {
				t.Errorf("RFC = %q, want %q", e.RFC, tt.rfc)
			}
			switch {
			case tt.problem == "" && len(e.Problems) > 0:
				t.Errorf("Problems = %q, want none", e.Problems)
			case tt.problem != "" && !slices.ContainsFunc(e.Problems, func(p string) bool { return strings.Contains(p, tt.problem) }):
				t.Errorf("Problems = %q, want one with %q", e.Problems, tt.problem)
			}
			if e.Code != 0 && e.Short() == "" || len(e.Lines()) == 0 {
				t.Errorf("empty Short %q or Lines %q", e.Short(), e.Lines())
			}
		})
	}
}

// Every registered enhanced detail names a real subject and an RFC.
func TestEnhancedTable(t *testing.T) {
	for k, v := range enhancedDetail {
		if _, ok := enhancedSubject[k[0]]; !ok {
			t.Errorf("X.%d.%d: no subject", k[0], k[1])
		}
		if !strings.HasPrefix(v.rfc, "RFC ") || v.text == "" {
			t.Errorf("X.%d.%d: %+v", k[0], k[1], v)
		}
	}
	for _, c := range []string{"1.1", "1.2", "1.3", "2.2", "3.4", "4.1", "4.7", "5.1", "5.3", "7.1", "7.8", "7.9"} {
		var s, d int
		if _, err := fmtSscanf(c, &s, &d); err != nil {
			t.Fatal(err)
		}
		if _, ok := enhancedDetail[[2]int{s, d}]; !ok {
			t.Errorf("X.%s missing", c)
		}
	}
}

func TestExplainShort(t *testing.T) {
	got := explain("550 5.1.1 <nobody@x>: User unknown", replyContext{Verb: verbRCPT}).Short()
	want := "550 mailbox unavailable · 5.1.1 bad destination mailbox address"
	if got != want {
		t.Errorf("Short =\n%q\nwant\n%q", got, want)
	}
}

func fmtSscanf(s string, a, b *int) (int, error) { return fmt.Sscanf(s, "%d.%d", a, b) }

func TestExplainShortForms(t *testing.T) {
	for line, want := range map[string]string{
		"220 2.0.0 Ready to start TLS": "220 ready to start TLS · 2.0.0 other undefined status",
		"550 2.1.1 oops":               "550 mailbox unavailable · 2.1.1 bad destination mailbox address · ! class mismatch: reply 550 but enhanced code 2.1.1 (RFC 3463 §2: the classes must agree)",
		"garbage":                      "! no reply code: a reply line starts with three digits (RFC 5321 §4.2)",
	} {
		ctx := replyContext{Verb: verbSTARTTLS}
		if got := explain(line, ctx).Short(); got != want {
			t.Errorf("%q: Short =\n%q\nwant\n%q", line, got, want)
		}
	}
}

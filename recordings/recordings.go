package recordings

// The samples are the sessions that ship inside ehlo: recordings made
// through `ehlo send --record` against real mail servers on loopback,
// started by the project's own
// scripts in testdata/interop. `ehlo replay --list` lists them, `ehlo
// replay NAME`, `replay --print NAME`, `replay --serve NAME` and `ehlo
// export NAME` take one by name, and every test that needs a real
// conversation reads them: each file is a test vector.
//
// Every sample was recorded without --record-secrets, so none holds a
// credential; the demo passwords of the test bed would not matter anyway.
//
// | name | server | what it shows |
// | --- | --- | --- |
// | postfix-starttls-auth | Postfix 3.7 | STARTTLS verified against the server's own certificate (--ca), AUTH PLAIN, a message accepted |
// | postfix-auth-failure | Postfix 3.7 | STARTTLS, AUTH PLAIN with a wrong password: 535, exit 28 |
// | postfix-pipelining | Postfix 3.7 | --pipeline: MAIL, two RCPTs and DATA in one write, one recipient unknown |
// | exim-implicit-tls | Exim 4.96 | implicit TLS from the first byte, a message accepted |
// | exim-chunking | Exim 4.96 | --chunking: the message as one BDAT LAST chunk |
// | exim-vrfy-expn | Exim 4.96 | VRFY and EXPN of known and unknown addresses |
// | dovecot-lmtp | Dovecot 2.3 LMTP | LMTP over a Unix socket, two recipients, one unknown (550) |
// | opensmtpd-refusal | OpenSMTPD 7.4 | the only recipient refused (524 5.2.4), exit 24 |
// | aiosmtpd-smtputf8 | aiosmtpd 1.4 | SMTPUTF8: a UTF-8 sender address and message |
// | sandbox-inject-starttls | ehlo sandbox | the inject-starttls fault: replies injected after the 220 to STARTTLS, discarded and reported |
//
// record.sh makes them again (`sudo bash recordings/record.sh`): it starts
// the servers with testdata/interop's scripts, records each sample with
// `bin/ehlo send … --record`, and stops the servers. VRFY and EXPN are
// not stages of `ehlo send`, so exim-vrfy-expn comes from a small test
// (record_test.go, build tag "record") that drives protocol through the
// same session.Capture and Recorder.

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed *.jsonl
var files embed.FS

// descriptions are the one-line descriptions `ehlo replay --list` prints;
// every embedded file has one (a test checks it).
var descriptions = map[string]string{
	"postfix-starttls-auth":   "Postfix: STARTTLS (certificate verified), AUTH PLAIN, one message accepted",
	"postfix-auth-failure":    "Postfix: STARTTLS, then AUTH PLAIN with a wrong password refused (535)",
	"postfix-pipelining":      "Postfix: PIPELINING, MAIL + 2 RCPT + DATA in one write, one recipient unknown",
	"exim-implicit-tls":       "Exim: implicit TLS from the first byte, one message accepted",
	"exim-chunking":           "Exim: CHUNKING, the message sent as one BDAT LAST chunk",
	"exim-vrfy-expn":          "Exim: VRFY and EXPN of known and unknown addresses",
	"dovecot-lmtp":            "Dovecot LMTP over a Unix socket: two recipients, one unknown (550)",
	"opensmtpd-refusal":       "OpenSMTPD: STARTTLS, the only recipient refused (524), nothing sent",
	"aiosmtpd-smtputf8":       "aiosmtpd: SMTPUTF8 with a UTF-8 sender address and message",
	"sandbox-inject-starttls": "ehlo sandbox, fault inject-starttls: replies injected after the 220 to STARTTLS, discarded",
}

const ext = ".jsonl"

// Names returns the names of the embedded samples, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ext) {
			names = append(names, strings.TrimSuffix(n, ext))
		}
	}
	return names
}

// Has says whether name (with or without ".jsonl") is an embedded sample.
func Has(name string) bool {
	_, err := fs.Stat(files, fileName(name))
	return err == nil
}

// Open opens the embedded sample name (with or without ".jsonl").
func Open(name string) (fs.File, error) {
	return files.Open(fileName(name))
}

// Description returns the one-line description of a sample, or "".
func Description(name string) string {
	return descriptions[strings.TrimSuffix(name, ext)]
}

func fileName(name string) string {
	if strings.HasSuffix(name, ext) {
		return name
	}
	return name + ext
}

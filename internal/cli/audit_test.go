package cli

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ehlo-dev/ehlo/session/mx/mxtest"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdDNSZone is `dnszone FILE [SIGNED-ZONE]...`: an in-process DNS server
// on loopback answering from FILE's zone-file lines (with $VARS expanded;
// $CA_SPKI is the SHA-256 of $WORK/ca.pem's public key, for a TLSA 3 1 1
// record of the sandbox), with the AD bit under the SIGNED zones; it sets
// $RESOLVER to its address.
func cmdDNSZone(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "dnszone")
	if len(args) < 1 {
		ts.Fatalf("usage: dnszone FILE [SIGNED-ZONE]...")
	}
	if b, err := os.ReadFile(filepath.Join(ts.Getenv("WORK"), "ca.pem")); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			c, err := x509.ParseCertificate(blk.Bytes)
			ts.Check(err)
			sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
			ts.Setenv("CA_SPKI", hex.EncodeToString(sum[:]))
		}
	}
	zone := os.Expand(ts.ReadFile(args[0]), ts.Getenv)
	srv := mxtest.Start(scriptTB{ts: ts}, zone, args[1:]...)
	ts.Setenv("RESOLVER", srv.Addr)
}

// scriptTB lets mxtest, written for tests, run under a script: failures
// fail the script and cleanups run when it ends.
type scriptTB struct {
	testing.TB // nil: mxtest calls only the methods below
	ts         *testscript.TestScript
}

func (s scriptTB) Helper()                   {}
func (s scriptTB) Fatal(a ...any)            { s.ts.Fatalf("%s", fmt.Sprint(a...)) }
func (s scriptTB) Fatalf(f string, a ...any) { s.ts.Fatalf(f, a...) }
func (s scriptTB) Cleanup(f func())          { s.ts.Defer(f) }

// Command ehlo is an interactive terminal SMTP debugger: a TUI that shows
// every byte of an SMTP, ESMTP or LMTP conversation, a swaks-style sender,
// a practice server, recordings and a security audit. The command line
// lives in internal/cli; this file only calls it.
package main

import (
	"os"

	"github.com/ehlo-dev/ehlo/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}

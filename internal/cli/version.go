package cli

import (
	"fmt"
	"runtime/debug"
)

// version is set by -ldflags "-X github.com/ehlo-dev/ehlo/internal/cli.version=…"; otherwise the module
// version from the build info is used.
var version = ""

func ehloVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

type versionCmd struct{}

func (versionCmd) Run(app *appContext) error {
	_, err := fmt.Fprintf(app.stdout, "ehlo %s\n", ehloVersion())
	return err // stdout on a full disk: said, and exit 1
}

// runVersionFast answers a bare `ehlo version` without building kong's
// model of the whole command tree (about 10,000 allocations, a tenth of
// the command's start-up), since printing the version needs none of it.
// Anything more (flags, --help) goes through kong as usual.
func runVersionFast(app *appContext, args []string) (int, bool) {
	if len(args) != 1 || args[0] != "version" {
		return 0, false
	}
	if err := (versionCmd{}).Run(app); err != nil {
		fmt.Fprintf(app.stderr, "*** %v\n", err)
		return 1, true
	}
	return 0, true
}

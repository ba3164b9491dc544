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
	fmt.Fprintf(app.stdout, "ehlo %s\n", ehloVersion())
	return nil
}

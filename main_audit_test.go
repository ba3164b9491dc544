package main

import (
	"regexp"
	"testing"

	"github.com/ehlo-dev/ehlo/session/audit"
	"github.com/ehlo-dev/ehlo/themes"
)

// colourSGR matches an SGR sequence that sets a colour (30–49, 90–107,
// 38;… and 48;…), not bold or faint.
var colourSGR = regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7]|10[0-7])(;[0-9;]*)?m`)

// With NO_COLOR the audit report's styles add no colour, whatever theme
// was asked for; with a colour theme they do.
func TestAuditStyleHonoursNoColor(t *testing.T) {
	for _, noColor := range []bool{true, false} {
		th, err := themes.Resolve("default", noColor)
		if err != nil {
			t.Fatal(err)
		}
		st := auditStyle{themes.NewStyles(th, true)}
		out := st.Status(audit.Fail, "FAIL") + st.Status(audit.Pass, "PASS") + st.Status(audit.Warn, "WARN") + st.Muted("S: 250 ok")
		if got := colourSGR.MatchString(out); got == noColor {
			t.Errorf("NO_COLOR=%v: colour in %q is %v", noColor, out, got)
		}
	}
}

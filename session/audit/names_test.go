package audit

import (
	"regexp"
	"strings"
	"testing"
)

// isDomainName and isTag are the regexps they replaced, written out;
// they must agree with them on every kind of input.
func TestNamesAgreeWithTheirRegexps(t *testing.T) {
	domainRE := regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,250}[A-Za-z0-9])?$`)
	tagRE := regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)
	for _, s := range []string{"", "a", "-", ".", "a-", "-a", "a.b", "mx.example.test", "a_b", "a b", "é.test",
		"1.2.3.4", "a..b", strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("a", 252), strings.Repeat("a", 253),
		"a" + strings.Repeat("-", 250) + "a", "x\n", "ab\x00"} {
		if got, want := isDomainName(s), domainRE.MatchString(s); got != want {
			t.Errorf("isDomainName(%q) = %v, the regexp says %v", s, got, want)
		}
		if got, want := isTag(s), tagRE.MatchString(s); got != want {
			t.Errorf("isTag(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

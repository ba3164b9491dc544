package themes

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
)

func TestNames(t *testing.T) {
	want := []string{"default", "light", "dark", "high-contrast", "mono"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	for _, n := range want {
		th, err := Get(strings.ToUpper(n))
		if err != nil || th.Name != n {
			t.Errorf("Get(%q) = %q, %v", n, th.Name, err)
		}
	}
	if th, err := Get(""); err != nil || th.Name != Default {
		t.Errorf("Get(\"\") = %q, %v", th.Name, err)
	}
	_, err := Get("solarized")
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "high-contrast") {
		t.Errorf("Get(solarized) error = %v", err)
	}
}

func TestNoColor(t *testing.T) {
	env := func(v string, ok bool) func(string) (string, bool) {
		return func(string) (string, bool) { return v, ok }
	}
	if NoColor(env("", false)) || NoColor(env("", true)) || !NoColor(env("1", true)) {
		t.Error("NO_COLOR: only a non-empty value counts (no-color.org)")
	}
	th, err := Resolve("high-contrast", true)
	if err != nil || th.Name != Mono {
		t.Errorf("Resolve with NO_COLOR = %q, %v", th.Name, err)
	}
	if th, _ := Resolve("light", false); th.Name != Light {
		t.Errorf("Resolve(light) = %q", th.Name)
	}
}

var sgr = regexp.MustCompile("\x1b\\[([0-9;:]*)m")

func hasColour(s string) bool {
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			if n, _ := strconv.Atoi(p); n >= 30 && n <= 49 || n >= 90 && n <= 107 {
				return true
			}
		}
	}
	return false
}

// eachStyle calls fn with every lipgloss.Style field of s.
func eachStyle(s Styles, fn func(name string, st lipgloss.Style)) {
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		if st, ok := v.Field(i).Interface().(lipgloss.Style); ok {
			fn(v.Type().Field(i).Name, st)
		}
	}
}

// The mono theme (NO_COLOR) writes no colour at all; the roles must still
// be told apart, which is the markers' job, and emphasis stays.
func TestMonoHasNoColour(t *testing.T) {
	th, _ := Get(Mono)
	for _, dark := range []bool{true, false} {
		eachStyle(NewStyles(th, dark), func(name string, st lipgloss.Style) {
			if out := st.Render("x"); hasColour(out) {
				t.Errorf("mono %s: %q", name, out)
			}
		})
	}
	s := NewStyles(th, true)
	if s.Cleartext.Render("x") == "x" || s.NotVerified.Render("x") == "x" || s.Selected.Render("x") == "x" {
		t.Error("mono loses the loud warnings or the selection")
	}
}

// Every colour theme sets every style, and tells the roles apart.
func TestColourThemes(t *testing.T) {
	for _, name := range Names() {
		th, _ := Get(name)
		if th.Mono {
			continue
		}
		for _, dark := range []bool{true, false} {
			s := NewStyles(th, dark)
			roles := map[string]bool{}
			for _, st := range []lipgloss.Style{s.Client, s.Server, s.TLS, s.Note, s.Error} {
				roles[st.Render("x")] = true
			}
			if len(roles) != 5 {
				t.Errorf("%s (dark %v): roles share colours", name, dark)
			}
			eachStyle(s, func(field string, st lipgloss.Style) {
				if st.Render("x") == "x" && field != "Bold" {
					if !hasColour(st.Render("x")) && field != "Match" {
						t.Errorf("%s.%s renders plain", name, field)
					}
				}
			})
		}
	}
	def, _ := Get(Default)
	if !def.Adaptive || def.Palette(true) == def.Palette(false) {
		t.Error("default does not adapt to the background")
	}
	dark, _ := Get(Dark)
	if dark.Adaptive || dark.Palette(true) != dark.Palette(false) {
		t.Error("dark adapts")
	}
}

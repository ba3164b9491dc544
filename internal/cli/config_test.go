package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The config file (issue 14 item 9): read with its comments, rewritten
// keeping them, errors naming the line; a missing file is no config.
func TestConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ehlo", "config.toml")
	if c, err := loadConfig(path); err != nil || c != (userConfig{}) {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	if err := saveConfigKey(path, "theme", "dark"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("# mine\ntheme = \"dark\"\nhelo = \"client.example\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := saveConfigKey(path, "theme", "light"); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(path)
	if err != nil || c.Theme != "light" || c.Helo != "client.example" {
		t.Fatalf("after saving: %+v, %v", c, err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "# mine\n") {
		t.Errorf("the comment was lost:\n%s", b)
	}
	for _, bad := range []string{"theme = dark\n", "colour = \"red\"\n", "just words\n"} {
		os.WriteFile(path, []byte("# ok\n"+bad), 0o600)
		if _, err := loadConfig(path); err == nil || !strings.Contains(err.Error(), ":2:") {
			t.Errorf("%q: error %v, want one naming line 2", bad, err)
		}
	}
}

// Flags win over the file; the file fills what they leave empty.
func TestConfigFlagsWin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, []byte("theme = \"light\"\nhelo = \"from.config\"\nfrom = \"a@x.test\"\n"), 0o600)
	var tc tuiCmd
	tc.Theme = "mono"
	uc, err := tc.applyConfig(path)
	if err != nil || tc.Theme != "mono" || tc.Helo != "from.config" || uc.From != "a@x.test" {
		t.Errorf("theme %q helo %q from %q, %v", tc.Theme, tc.Helo, uc.From, err)
	}
	os.WriteFile(path, []byte("theme = \"bogus\"\n"), 0o600)
	if _, err := (&tuiCmd{}).applyConfig(path); err == nil || !strings.Contains(err.Error(), "theme: unknown theme") {
		t.Errorf("a bad theme in the file: %v", err)
	}
}

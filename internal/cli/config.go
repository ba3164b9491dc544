package cli

// The user's settings file: $XDG_CONFIG_HOME/ehlo/config.toml (else the
// platform's user config directory). It holds a few defaults, each a
// `key = "value"` line; command-line flags win over it. ehlo reads the
// subset of TOML it writes (comments, blank lines, basic strings with
// \" and \\), not the whole language, rather than take a TOML parser as a
// dependency for three keys.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userConfig is what the file may set.
type userConfig struct {
	Theme string // the TUI's theme, also saved by /theme
	Helo  string // the HELO/EHLO name (--helo)
	From  string // the sender the /send form starts with
}

var configKeys = []string{"theme", "helo", "from"}

func (c *userConfig) field(key string) *string {
	switch key {
	case "theme":
		return &c.Theme
	case "helo":
		return &c.Helo
	case "from":
		return &c.From
	}
	return nil
}

// configPath is where the file is; "" when there is no config directory.
func configPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return ""
		}
	}
	return filepath.Join(dir, "ehlo", "config.toml")
}

// loadConfig reads path; a missing file is an empty config. A line it
// cannot read is an error naming the line, so a typo is not ignored.
func loadConfig(path string) (userConfig, error) {
	var c userConfig
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		key, val, ok, err := parseConfigLine(sc.Text())
		if err != nil {
			return c, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if !ok {
			continue
		}
		f := c.field(key)
		if f == nil {
			return c, fmt.Errorf("%s:%d: unknown key %q (known: %s)", path, n, key, strings.Join(configKeys, ", "))
		}
		*f = val
	}
	return c, sc.Err()
}

// parseConfigLine reads `key = "value"`; ok is false for a blank line or a
// comment.
func parseConfigLine(line string) (key, val string, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return "", "", false, nil
	}
	key, rest, found := strings.Cut(line, "=")
	key, rest = strings.TrimSpace(key), strings.TrimSpace(rest)
	if !found || key == "" {
		return "", "", false, fmt.Errorf("want key = \"value\", got %q", line)
	}
	val, err = strconv.Unquote(rest)
	if err != nil || !strings.HasPrefix(rest, `"`) {
		return "", "", false, fmt.Errorf("%s: the value must be a double-quoted string", key)
	}
	return key, val, true, nil
}

// saveConfigKey sets key in the file at path, keeping its other lines,
// through a temporary file renamed over it.
func saveConfigKey(path, key, val string) error {
	if path == "" {
		return errors.New("no config directory")
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var out []string
	set := fmt.Sprintf("%s = %s", key, strconv.Quote(val))
	done := false
	for _, l := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		if k, _, ok, _ := parseConfigLine(l); ok && k == key {
			l, done = set, true
		}
		if l != "" || len(out) > 0 {
			out = append(out, l)
		}
	}
	if !done {
		out = append(out, set)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".config.toml.*.tmp")
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(out, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

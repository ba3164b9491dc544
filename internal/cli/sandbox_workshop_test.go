package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehlo-dev/ehlo/sandbox"
)

// The workshop flags of `ehlo sandbox` map onto sandbox.Config: one way
// to name the users, --students only in a workshop, the CSV only for
// generated accounts.
func TestSandboxWorkshopFlags(t *testing.T) {
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "room.txt")
	if err := os.WriteFile(usersFile, []byte("# room 12\nann:a1\nbob:b2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cmd  sandboxCmd
		err  string
		want func(t *testing.T, cfg sandbox.Config)
	}{
		{name: "students", cmd: sandboxCmd{Workshop: true, Students: 12, AccountsCSV: "a.csv", Force: true},
			want: func(t *testing.T, cfg sandbox.Config) {
				if len(cfg.Users) != 12 || cfg.Users["student12"] == "" || !cfg.Workshop || cfg.AccountsCSV != "a.csv" || !cfg.AccountsOverwrite {
					t.Errorf("config %+v", cfg)
				}
			}},
		{name: "users file", cmd: sandboxCmd{Workshop: true, UsersFile: usersFile, AccountsCSV: "a.csv"},
			want: func(t *testing.T, cfg sandbox.Config) {
				if len(cfg.Users) != 2 || cfg.Users["bob"] != "b2" || cfg.AccountsCSV != "" {
					t.Errorf("config %+v", cfg)
				}
			}},
		{name: "user flags", cmd: sandboxCmd{User: []string{"x:1", "y:2"}},
			want: func(t *testing.T, cfg sandbox.Config) {
				if len(cfg.Users) != 2 || cfg.Users["y"] != "2" || cfg.Workshop {
					t.Errorf("config %+v", cfg)
				}
			}},
		{name: "students without workshop", cmd: sandboxCmd{Students: 3}, err: "--students needs --workshop"},
		{name: "two ways", cmd: sandboxCmd{Workshop: true, Students: 3, User: []string{"x:1"}}, err: "choose one"},
		{name: "too many", cmd: sandboxCmd{Workshop: true, Students: 1000}, err: "--students"},
		{name: "bad user", cmd: sandboxCmd{User: []string{"nocolon"}}, err: `--user "nocolon": want NAME:PASS`},
		{name: "duplicate user", cmd: sandboxCmd{User: []string{"x:1", "x:2"}}, err: "x given twice"},
		{name: "missing file", cmd: sandboxCmd{UsersFile: filepath.Join(dir, "none")}, err: "--users-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg sandbox.Config
			err := tc.cmd.users(&cfg)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.want != nil:
				tc.want(t, cfg)
			}
		})
	}
}

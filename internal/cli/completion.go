package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
)

// completionCmd prints a completion script for the commands and flags, read
// from the command-line model so it cannot drift from the real flags.
type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

func (c *completionCmd) Run(app *appContext, kctx *kong.Context) error {
	root := kctx.Model.Node
	cmds := map[string][]string{}
	var names []string
	for _, n := range root.Children {
		if n.Hidden {
			continue
		}
		names = append(names, n.Name)
		for _, f := range n.Flags {
			if !f.Hidden {
				cmds[n.Name] = append(cmds[n.Name], "--"+f.Name)
			}
		}
	}
	// Written in one go at the end, so that a script that cannot be
	// written (a full disk) is an error, not a file cut short.
	w := &strings.Builder{}
	switch c.Shell {
	case "bash", "zsh":
		if c.Shell == "zsh" {
			fmt.Fprintln(w, "autoload -U +X bashcompinit && bashcompinit")
		}
		fmt.Fprintln(w, "_ehlo() {")
		fmt.Fprintln(w, `  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} words`)
		fmt.Fprintln(w, `  if [ "$COMP_CWORD" -eq 1 ]; then words="`+strings.Join(names, " ")+` $(ehlo_flags tui)";`)
		fmt.Fprintln(w, "  else words=$(ehlo_flags \"$cmd\"); fi")
		fmt.Fprintln(w, `  COMPREPLY=($(compgen -W "$words" -- "$cur"))`)
		fmt.Fprintln(w, "}")
		fmt.Fprintln(w, "ehlo_flags() {")
		fmt.Fprintln(w, `  case "$1" in`)
		for _, n := range names {
			fmt.Fprintf(w, "    %s) echo \"%s --help\" ;;\n", n, strings.Join(cmds[n], " "))
		}
		fmt.Fprintf(w, "    *) echo \"%s --help\" ;;\n", strings.Join(cmds["tui"], " "))
		fmt.Fprintln(w, "  esac")
		fmt.Fprintln(w, "}")
		fmt.Fprintln(w, "complete -o default -F _ehlo ehlo")
	case "fish":
		for _, n := range root.Children {
			if n.Hidden {
				continue
			}
			fmt.Fprintf(w, "complete -c ehlo -n __fish_use_subcommand -a %s -d %q\n", n.Name, n.Help)
			for _, f := range n.Flags {
				if !f.Hidden {
					fmt.Fprintf(w, "complete -c ehlo -n '__fish_seen_subcommand_from %s' -l %s -d %q\n", n.Name, f.Name, f.Help)
				}
			}
		}
	}
	_, err := io.WriteString(app.stdout, w.String())
	return err
}

#!/usr/bin/env bash
# shot.sh OUT.png COLS ROWS COMMAND... < STEPS
#
# Runs COMMAND (the real ehlo binary, usually bin/ehlo) in a detached tmux
# window of COLS×ROWS, plays STEPS read from stdin, one a line:
#   keys ARGS...   tmux send-keys ARGS (e.g. keys 'EHLO client.example.test' Enter)
#   wait TEXT      until the screen shows TEXT (at most 10 s)
#   sleep SECONDS
#   run CMD...     a shell command, waited for (e.g. a student's ehlo send)
# then captures the screen with its colours and draws it into OUT.png with
# render.go, and prints it as text. README's screenshots are made this way (see README.md).
set -euo pipefail
out=$(realpath -m "$1") cols=$2 rows=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
name=ehlo-shot-$$
tmux new-session -d -s "$name" -x "$cols" -y "$rows" "$@"
trap 'tmux kill-session -t "$name" 2>/dev/null || true' EXIT
sleep 0.5
while read -r verb rest; do
	case $verb in
	''|'#'*) ;;
	keys) eval "tmux send-keys -t $name $rest" ;;
	sleep) sleep "$rest" ;;
	run) bash -c "$rest" ;;
	wait)
		for _ in $(seq 100); do
			tmux capture-pane -p -t "$name" | grep -qF -- "$rest" && break
			sleep 0.1
		done
		tmux capture-pane -p -t "$name" | grep -qF -- "$rest" || { echo "shot.sh: never saw: $rest" >&2; tmux capture-pane -p -t "$name" >&2; exit 1; }
		;;
	*) echo "shot.sh: unknown step: $verb" >&2; exit 1 ;;
	esac
done
tmux capture-pane -e -p -t "$name" > "${out%.png}.ansi"
tmux capture-pane -p -t "$name" # the same screen as text, for README
(cd "$here" && go run . -o "$out") < "${out%.png}.ansi"
rm -f "${out%.png}.ansi"

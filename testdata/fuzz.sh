#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each (go test -fuzz takes one target per run).
#
# Go before 1.27 can report its own -fuzztime deadline as a failure: when the
# budget runs out, the coordinator may see the deadline before the workers'
# context is cancelled and print a bare "context deadline exceeded" with no
# failing input (golang/go#75804; fixed in Go 1.27). A run that fails in
# exactly that way, on such a Go, and wrote no new input to the target's
# testdata/fuzz directory fuzzed for its whole budget and found nothing, so it
# passes with a note. Every other failure fails: a crasher, a hang, a timeout,
# or that same message from a target's own code (it writes a failing input).
set -euo pipefail
time=${1:-60s}
cd "$(dirname "$0")/.."

# deadline_race_possible: whether this Go has golang/go#75804.
deadline_race_possible() {
  local v
  v=$(go env GOVERSION)                 # go1.26.8, go1.27rc1, devel …
  [[ $v =~ ^go1\.([0-9]+) ]] || return 1
  (( BASH_REMATCH[1] < 27 ))
}

# only_the_deadline_race LOG TARGET: whether go test's output LOG shows
# nothing but the coordinator's own deadline as TARGET's failure.
only_the_deadline_race() {
  local log=$1 target=$2
  grep -q 'Failing input written to\|fuzzing process hung' "$log" && return 1
  [[ $(grep -c -- '--- FAIL:' "$log") == 1 ]] || return 1
  grep -A1 -- "^--- FAIL: ${target} (" "$log" | tail -n1 | grep -qx '    context deadline exceeded'
}

# inputs DIR: how many inputs DIR holds (none when it does not exist yet).
inputs() { if [[ -d $1 ]]; then find "$1" -type f | wc -l; else echo 0; fi; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "=== fuzz $pkg $target ($time)"
    corpus="$dir/testdata/fuzz/$target"
    before=$(inputs "$corpus")
    if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime 5s "$pkg" 2>&1 | tee "$log"; then
      continue
    fi
    if deadline_race_possible && only_the_deadline_race "$log" "$target" && [[ $(inputs "$corpus") == "$before" ]]; then
      echo "note: $target ran its whole budget and found no failing input; the failure above is $(go env GOVERSION)'s fuzz coordinator reporting its own -fuzztime deadline (golang/go#75804), not the target"
      continue
    fi
    exit 1
  done
done

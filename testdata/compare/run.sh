#!/usr/bin/env bash
# `make compare`: install what is missing, build ehlo, the go-smtp client and the latency
# proxy, then run compare.py (see its docstring for what is measured and how).
#
#   bash testdata/compare/run.sh [compare.py options]      e.g. --runs 1 --skip big
#
# On a fresh Debian 12 machine it must run as root: it apt-installs Postfix (for smtp-sink and
# smtp-source; "No configuration", and no service is started), swaks, python3, python3-aiosmtpd,
# hyperfine and time. `--only server` runs only the server table (smtp-source into the sandbox,
# smtp-sink and aiosmtpd). Everything listens on 127.0.0.1 only, on ports chosen free at the time, and every
# server it starts is stopped again. It takes about four minutes; the results are printed
# and written to bin/compare/results.{json,md}.
#
# Environment: COMPARE_RUNS (3), COMPARE_MESSAGES (4000), COMPARE_DELAYED_MESSAGES (300),
# COMPARE_SWAKS_MESSAGES (50), COMPARE_SERVER_MESSAGES (4000), COMPARE_DELAY (5ms),
# COMPARE_BIG_MB (100), GO (go).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$REPO/bin/compare
GO=${GO:-go}
say() { echo "run.sh: $*" >&2; }

# ---------- install ----------
need=()
command -v smtp-sink >/dev/null || [ -x /usr/sbin/smtp-sink ] || need+=(postfix)
command -v smtp-source >/dev/null || [ -x /usr/sbin/smtp-source ] || need+=(postfix)
command -v swaks >/dev/null || need+=(swaks)
[ -x /usr/bin/python3 ] || command -v python3 >/dev/null || need+=(python3)
# aiosmtpd is a server of the server table; Debian's package is for /usr/bin/python3.
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  read -r -a need <<< "$(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')"
  if [ "$(id -u)" != 0 ]; then
    say "missing ${need[*]}; run as root to install them, or install them yourself"
    exit 1
  fi
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Keep Debian from starting Postfix (or anything else) during the install.
  policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy=/usr/sbin/policy-rc.d
  fi
  trap '[ -n "$policy" ] && rm -f "$policy"' EXIT
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}" >/dev/null
  [ -n "$policy" ] && rm -f "$policy"
  policy=
fi
export PATH=$PATH:/usr/sbin
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# ---------- build ----------
mkdir -p "$OUT"
say "building bin/ehlo, the go-smtp client and the latency proxy"
(cd "$REPO" && CGO_ENABLED=${CGO_ENABLED:-0} "$GO" build -o bin/ehlo .)  # as make build links it
# Nested modules: go-smtp stays out of the main module and the ehlo binary.
(cd "$HERE/gosmtp" && GOFLAGS=-mod=mod "$GO" build -o "$OUT/gosmtp" .)
(cd "$HERE/latency" && GOFLAGS=-mod=mod "$GO" build -o "$OUT/latency" .)

# ---------- measure ----------
exec "$PY" "$HERE/compare.py" --ehlo "$REPO/bin/ehlo" --gosmtp "$OUT/gosmtp" --latency "$OUT/latency" \
  --out "$OUT" --python "$PY" "$@"

#!/usr/bin/env bash
# `make interop`: install (if needed) and start real mail servers on loopback, run every
# Go test built with the `interop` tag against them, and stop the servers again.
#
#   sudo bash testdata/interop/run.sh [go test flags...]      e.g. -run Postfix -v
#
# Environment (all optional):
#   BASE / EHLO_INTEROP_BASE    where the servers keep config, certs, spool, logs and mail
#                               (default /tmp/ehlo-interop; the per-server directories are
#                               wiped at the start of a run and left in place afterwards)
#   EHLO_INTEROP_SERVERS        which servers to start (default: the five mail servers and
#                               dns, the DNS/DNSSEC/MTA-STS bed of dns.sh)
#   EHLO_INTEROP_SKIP_INSTALL=1 do not run install.sh (the servers must already be installed)
#   EHLO_INTEROP_KEEP=1         leave the servers running after the tests (stop them with
#                               `bash testdata/interop/<server>.sh stop`)
#   EHLO_INTEROP_GO_TIMEOUT     go test -timeout (default 5m)
#   POSTFIX_PORT, EXIM_PORT, ... the listener ports, see each <server>.sh
#
# The Go tests read (exported here):
#   EHLO_INTEROP=1, EHLO_INTEROP_BASE, EHLO_INTEROP_SERVERS,
#   EHLO_INTEROP_<SERVER>_ADDR (STARTTLS listener), _SMTPS_ADDR (implicit TLS), _CA (the
#   server's self-signed certificate, to be used as the only trusted root), _MAIL (Maildir
#   root), and for LMTP _LMTP_ADDR / _LMTP_SOCKET; Dovecot also _SUBMISSION_ADDR,
#   _SUBMISSIONS_ADDR, _RELAYED (the relay sink's Maildir) and _RELAY_ADDR (the sink itself);
#   EHLO_INTEROP_DNS_RESOLVER (Unbound), _DNS_MX_PORT and _DNS_DIR for dns.sh's bed.
#
# Exit status: non-zero when installing or starting a server failed or any test failed.
# The servers are always stopped on exit (trap), also on failure and on Ctrl-C.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export BASE=${EHLO_INTEROP_BASE:-${BASE:-/tmp/ehlo-interop}}
case $BASE in
  /?*/*|/tmp/?*) ;;
  *) echo "run.sh: refusing BASE=$BASE (use an absolute path at least two levels deep, or under /tmp)" >&2; exit 2 ;;
esac
read -r -a SERVERS <<< "${EHLO_INTEROP_SERVERS:-postfix exim opensmtpd dovecot aiosmtpd dns}"
GO=${GO:-go}

t_start=$(date +%s)
log() { echo "run.sh: [$(( $(date +%s) - t_start ))s] $*"; }

if [ "$(id -u)" != 0 ]; then
  echo "run.sh: must run as root (the servers bind ports, deliver as service users, and install.sh uses apt)" >&2
  exit 1
fi
for s in "${SERVERS[@]}"; do
  [ -f "$HERE/$s.sh" ] || { echo "run.sh: unknown server '$s' in EHLO_INTEROP_SERVERS" >&2; exit 2; }
done

# ---------- install ----------
if [ "${EHLO_INTEROP_SKIP_INSTALL:-0}" != 1 ]; then
  log "install.sh"
  if ! bash "$HERE/install.sh"; then
    echo "run.sh: install.sh failed" >&2
    exit 1
  fi
fi

# ---------- stop / clean up after an earlier run, then start ----------
started=()
rc=0
gotest_pid=
show_logs() {
  local s f
  for s in "${started[@]}"; do
    for f in "$BASE/$s"/log/*log; do
      case $f in */configcheck.log|*/start.log) continue ;; esac
      [ -s "$f" ] || continue
      echo "----- last lines of $f"
      tail -n 25 "$f"
    done
  done
}
cleanup() {
  local code=$?
  [ "$rc" = 0 ] && rc=$code
  trap - EXIT INT TERM
  if [ -n "$gotest_pid" ] && kill -0 "$gotest_pid" 2>/dev/null; then
    kill -TERM "$gotest_pid" 2>/dev/null || true   # interrupted while the tests ran
    wait "$gotest_pid" 2>/dev/null
  fi
  if [ "$rc" != 0 ] && [ ${#started[@]} -gt 0 ]; then show_logs; fi
  if [ "${EHLO_INTEROP_KEEP:-0}" = 1 ]; then
    log "EHLO_INTEROP_KEEP=1: leaving ${started[*]:-nothing} running under $BASE"
  elif [ ${#started[@]} -gt 0 ]; then
    wait    # for starts still in progress (interrupted run), so that their PIDs are recorded
    # in parallel: each stop waits for its own server to exit (1-4 s each)
    local s pids=()
    for s in "${started[@]}"; do
      bash "$HERE/$s.sh" stop > "$BASE/.stop-$s.out" 2>&1 &
      pids+=($!)
    done
    wait "${pids[@]}" 2>/dev/null
    for s in "${started[@]}"; do cat "$BASE/.stop-$s.out" 2>/dev/null; rm -f "$BASE/.stop-$s.out"; done
  fi
  log "finished with exit status $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'rc=130; exit 130' INT
trap 'rc=143; exit 143' TERM

mkdir -p "$BASE"
chmod 755 "$BASE"
for s in "${SERVERS[@]}"; do
  bash "$HERE/$s.sh" stop >/dev/null 2>&1 || true      # a server left over from an aborted run
  rm -rf "${BASE:?}/$s"
done

# Start them all at once (Postfix alone needs 2-6 s); report in a fixed order.
log "starting ${SERVERS[*]}"
declare -A start_pid
for s in "${SERVERS[@]}"; do
  started+=("$s")
  bash "$HERE/$s.sh" start > "$BASE/.start-$s.out" 2>&1 &
  start_pid[$s]=$!
done
failed=()
for s in "${SERVERS[@]}"; do
  wait "${start_pid[$s]}" || failed+=("$s")
  cat "$BASE/.start-$s.out"; rm -f "$BASE/.start-$s.out"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: did not start: ${failed[*]}" >&2
  rc=1
  exit 1
fi

# ---------- what the Go tests read ----------
L=127.0.0.1
export EHLO_INTEROP=1 EHLO_INTEROP_BASE=$BASE EHLO_INTEROP_SERVERS="${SERVERS[*]}"

export EHLO_INTEROP_POSTFIX_ADDR=$L:${POSTFIX_PORT:-2525}
export EHLO_INTEROP_POSTFIX_SMTPS_ADDR=$L:${POSTFIX_SMTPS_PORT:-4655}
export EHLO_INTEROP_POSTFIX_AUDIT_ADDR=$L:${POSTFIX_AUDIT_PORT:-2531}
export EHLO_INTEROP_POSTFIX_CA=$BASE/postfix/tls/cert.pem
export EHLO_INTEROP_POSTFIX_MAIL=$BASE/postfix/mail

export EHLO_INTEROP_EXIM_ADDR=$L:${EXIM_PORT:-2526}
export EHLO_INTEROP_EXIM_SMTPS_ADDR=$L:${EXIM_SMTPS_PORT:-4650}
export EHLO_INTEROP_EXIM_AUDIT_ADDR=$L:${EXIM_AUDIT_PORT:-2532}
export EHLO_INTEROP_EXIM_CA=$BASE/exim/tls/cert.pem
export EHLO_INTEROP_EXIM_MAIL=$BASE/exim/mail

export EHLO_INTEROP_OPENSMTPD_ADDR=$L:${OPENSMTPD_PORT:-2527}
export EHLO_INTEROP_OPENSMTPD_SMTPS_ADDR=$L:${OPENSMTPD_SMTPS_PORT:-4651}
export EHLO_INTEROP_OPENSMTPD_CA=$BASE/opensmtpd/tls/cert.pem
export EHLO_INTEROP_OPENSMTPD_MAIL=$BASE/opensmtpd/mail

export EHLO_INTEROP_DOVECOT_LMTP_SOCKET=$BASE/dovecot/lmtp.sock
export EHLO_INTEROP_DOVECOT_LMTP_ADDR=$L:${DOVECOT_LMTP_PORT:-2424}
export EHLO_INTEROP_DOVECOT_SUBMISSION_ADDR=$L:${DOVECOT_SUBMISSION_PORT:-2587}
export EHLO_INTEROP_DOVECOT_SUBMISSIONS_ADDR=$L:${DOVECOT_SUBMISSIONS_PORT:-4653}
export EHLO_INTEROP_DOVECOT_CA=$BASE/dovecot/tls/cert.pem
export EHLO_INTEROP_DOVECOT_MAIL=$BASE/dovecot/mail
export EHLO_INTEROP_DOVECOT_RELAYED=$BASE/dovecot/relayed
export EHLO_INTEROP_DOVECOT_RELAY_ADDR=$L:${DOVECOT_RELAY_PORT:-2530}   # the relay sink: SMTP without STARTTLS

export EHLO_INTEROP_AIOSMTPD_ADDR=$L:${AIOSMTPD_PORT:-2528}
export EHLO_INTEROP_AIOSMTPD_SMTPS_ADDR=$L:${AIOSMTPD_SMTPS_PORT:-4658}
export EHLO_INTEROP_AIOSMTPD_LMTP_ADDR=$L:${AIOSMTPD_LMTP_PORT:-2429}
export EHLO_INTEROP_AIOSMTPD_LMTP_SOCKET=$BASE/aiosmtpd/lmtp.sock
export EHLO_INTEROP_AIOSMTPD_CA=$BASE/aiosmtpd/tls/cert.pem
export EHLO_INTEROP_AIOSMTPD_MAIL=$BASE/aiosmtpd/mail

# dns.sh: NSD (signed dane.test, unsigned plain.test), Unbound validating, nginx for MTA-STS;
# the tests run the sandbox on 127.0.0.1:$EHLO_INTEROP_DNS_MX_PORT with $BASE/dns/tls/mx.pem
export EHLO_INTEROP_DNS_RESOLVER=127.0.13.2:${DNS_RESOLVER_PORT:-5302}
export EHLO_INTEROP_DNS_MX_PORT=${DNS_MX_PORT:-2591}
export EHLO_INTEROP_DNS_DIR=$BASE/dns

env | grep '^EHLO_INTEROP' | sort > "$BASE/env"
log "servers up: ${SERVERS[*]} (environment in $BASE/env)"

# ---------- the tests ----------
log "$GO test -tags interop -count=1 ./... $*"
cd "$REPO" || exit 1
# in the background, so that a TERM/INT to this script is handled at once (bash defers traps
# while a foreground command runs); cleanup() ends it by its PID
"$GO" test -tags interop -count=1 -timeout "${EHLO_INTEROP_GO_TIMEOUT:-5m}" "$@" ./... &
gotest_pid=$!
wait "$gotest_pid"
rc=$?
gotest_pid=
if [ "$rc" = 0 ]; then log "interop tests passed"; else log "interop tests FAILED (go test exit status $rc)"; fi
exit "$rc"

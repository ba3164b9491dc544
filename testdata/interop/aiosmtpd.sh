#!/usr/bin/env bash
# aiosmtpd (Debian's python3-aiosmtpd, run by /usr/bin/python3) test server for the interop
# tests: SMTP + SMTPS + LMTP (TCP and Unix socket), see aiosmtpd_server.py.
#
#   BASE=/tmp/ehlo-interop bash aiosmtpd.sh start|stop|status|restart
#
# Listens (loopback / private socket only):
#   127.0.0.1:${AIOSMTPD_PORT:-2528}        SMTP, STARTTLS offered, AUTH PLAIN/LOGIN after STARTTLS
#                                           (AIOSMTPD_AUTH_WITHOUT_TLS=1: AUTH also before TLS)
#   127.0.0.1:${AIOSMTPD_SMTPS_PORT:-4658}  implicit TLS, AUTH offered
#   127.0.0.1:${AIOSMTPD_LMTP_PORT:-2429}   LMTP
#   $BASE/aiosmtpd/lmtp.sock                LMTP on a Unix socket
# Accepts any recipient (local parts reject* -> 550, tempfail* -> 451, faildata* -> refused
# after the data) and stores every message in the one Maildir $BASE/aiosmtpd/mail/ with
# X-Testbed-Envelope-From/-To, X-Testbed-Options and X-Testbed-Rcpt-Options headers.
set -euo pipefail
NAME=aiosmtpd.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

DIR=$ROOT/aiosmtpd
PORT=${AIOSMTPD_PORT:-2528}
SMTPS_PORT=${AIOSMTPD_SMTPS_PORT:-4658}
LMTP_PORT=${AIOSMTPD_LMTP_PORT:-2429}
SERVER=$HERE/aiosmtpd_server.py
PIDFILE=$DIR/run/aiosmtpd.pid

start() {
  if pid_alive "$PIDFILE"; then echo "$NAME: already running (pid $(tr -d ' ' < "$PIDFILE")) on $HOST:$PORT"; return 0; fi
  "$SYSPY" -c 'import aiosmtpd' 2>/dev/null || die "python3-aiosmtpd not installed for $SYSPY: run install.sh"
  [ -r "$SERVER" ] || die "$SERVER missing"
  check_ports "$PORT" "$SMTPS_PORT" "$LMTP_PORT"
  local t0; t0=$(now_ms)
  prepare_root
  mkdir -p "$DIR/run" "$DIR/log" "$DIR/mail"
  chmod 755 "$DIR"
  make_cert "$DIR/tls"
  local extra=()
  [ "${AIOSMTPD_AUTH_WITHOUT_TLS:-0}" = 1 ] && extra+=(--auth-without-tls)
  touch "$DIR/log/aiosmtpd.log"
  local from; from=$(( $(wc -l < "$DIR/log/aiosmtpd.log") + 1 ))   # READY must be a new line
  setsid "$SYSPY" -u "$SERVER" --dir "$DIR" --host "$HOST" --smtp-port "$PORT" \
    --smtps-port "$SMTPS_PORT" --lmtp-port "$LMTP_PORT" --lmtp-socket "$DIR/lmtp.sock" \
    --cert "$DIR/tls/cert.pem" --key "$DIR/tls/key.pem" "${extra[@]}" \
    </dev/null >>"$DIR/log/aiosmtpd.log" 2>&1 &
  local pid=$!
  echo "$pid" > "$PIDFILE"
  local ok=0 i
  for ((i = 0; i < READY_WAIT * 10; i++)); do
    if tail -n "+$from" "$DIR/log/aiosmtpd.log" | grep -q '^READY'; then ok=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$ok" != 1 ] || ! wait_banner "$HOST" "$PORT" "$READY_WAIT" || ! wait_banner "$HOST" "$LMTP_PORT" "$READY_WAIT" \
     || ! wait_tls_banner "$HOST" "$SMTPS_PORT" "$READY_WAIT" || ! wait_unix_banner "$DIR/lmtp.sock" "$READY_WAIT"; then
    tail -20 "$DIR/log/aiosmtpd.log" >&2 || true
    stop >/dev/null
    die "not ready"
  fi
  echo "$NAME: ready on $HOST:$PORT (STARTTLS, AUTH after TLS), $HOST:$SMTPS_PORT (implicit TLS)," \
    "LMTP $HOST:$LMTP_PORT and $DIR/lmtp.sock; pid $pid; log $DIR/log/aiosmtpd.log;" \
    "took $(( $(now_ms) - t0 )) ms"
}

stop() {
  stop_pidfile "$PIDFILE" aiosmtpd
  rm -f "$DIR/lmtp.sock"
}

status() {
  if pid_alive "$PIDFILE"; then echo "$NAME: running (pid $(tr -d ' ' < "$PIDFILE")) on $HOST:$PORT"; return 0; fi
  echo "$NAME: not running"; return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop; start ;;
  *) usage_exit ;;
esac

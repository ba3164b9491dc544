# Shared settings and helpers for the interop scripts; sourced, not run.
# shellcheck shell=bash

# Everything a server writes lives under $ROOT/<server>/ (config, TLS, spool, logs, mail).
ROOT=${BASE:-${EHLO_INTEROP_BASE:-/tmp/ehlo-interop}}
case $ROOT in
  /*) ;;
  *) ROOT=$(pwd)/$ROOT ;;
esac
# Where install.sh unpacks Exim and OpenSMTPD (they cannot be apt-installed next to Postfix).
OPT=${EHLO_INTEROP_OPT:-/opt/ehlo-interop}
EXIM_BIN=${EXIM_BIN:-$OPT/exim4/usr/sbin/exim4}
SMTPD_BIN=${OPENSMTPD_BIN:-$OPT/opensmtpd/usr/sbin/smtpd}
# Debian's python, where python3-aiosmtpd lives (a pyenv python3 may come first on PATH).
SYSPY=/usr/bin/python3
HOST=127.0.0.1
# How long `start` waits for a server to answer (seconds). Generous: on a loaded 2-core
# machine Postfix has been seen to need 25 s.
READY_WAIT=${EHLO_INTEROP_READY_WAIT:-90}
NAME=${NAME:-$(basename "$0")}

die() { echo "$NAME: $*" >&2; exit 1; }

now_ms() { date +%s%3N; }

# wait_banner HOST PORT SECONDS -> 0 once a 220 greeting has been read on a plain connection
wait_banner() {
  local h=$1 p=$2 n=$(( $3 * 10 )) line i
  for ((i = 0; i < n; i++)); do
    if { exec 3<>"/dev/tcp/$h/$p"; } 2>/dev/null; then
      if IFS= read -r -t 3 line <&3 && [[ $line == 220* ]]; then
        printf 'QUIT\r\n' >&3 2>/dev/null || true
        exec 3<&- 3>&-
        return 0
      fi
      { exec 3<&- 3>&-; } 2>/dev/null || true
    fi
    sleep 0.1
  done
  return 1
}

# wait_tls_banner HOST PORT SECONDS -> 0 once a 220 greeting has been read over implicit TLS
wait_tls_banner() {
  "$SYSPY" - "$@" <<'EOF'
import socket, ssl, sys, time
host, port, deadline = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
while time.time() < deadline:
    try:
        with socket.create_connection((host, port), timeout=3) as raw:
            with ctx.wrap_socket(raw) as s:
                s.settimeout(3)
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n"); sys.exit(0)
    except (OSError, ssl.SSLError):
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}

# wait_unix_banner SOCKET SECONDS -> 0 once a 220 greeting has been read on the Unix socket
wait_unix_banner() {
  "$SYSPY" - "$1" "$2" <<'EOF'
import socket, sys, time
path, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(path)
        if s.recv(512).startswith(b"220"):
            s.sendall(b"QUIT\r\n"); s.close(); sys.exit(0)
        s.close()
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# check_ports PORT... -> dies naming the first port some other process already listens on
check_ports() {
  local p
  for p in "$@"; do
    if port_busy "$p"; then
      die "port $p is already in use ($(ss -Hltnp "sport = :$p" 2>/dev/null | sed -n 's/.*users:((\("[^"]*"\).*/\1/p' | head -1)); stop whatever listens there or choose other ports (see run.sh)"
    fi
  done
}

pid_alive() { [ -f "$1" ] && kill -0 "$(tr -d ' \n' < "$1")" 2>/dev/null; }

# stop_pidfile PIDFILE LABEL: TERM the recorded PID (only that one), KILL after 10 s
stop_pidfile() {
  if ! pid_alive "$1"; then rm -f "$1"; echo "$NAME: $2 not running"; return 0; fi
  local pid i; pid=$(tr -d ' \n' < "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$1"
  echo "$NAME: stopped $2 (pid $pid)"
}

# make_cert DIR: self-signed certificate, CN and SAN mx.example.test, SAN localhost,
# 127.0.0.1 and ::1. Clients verify it by trusting DIR/cert.pem itself as the CA.
make_cert() {
  local d=$1
  [ -s "$d/cert.pem" ] && [ -s "$d/key.pem" ] && return 0
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mx.example.test" \
    -addext "subjectAltName=DNS:mx.example.test,DNS:localhost,IP:127.0.0.1,IP:::1" \
    -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
  chmod 600 "$d/key.pem"; chmod 644 "$d/cert.pem"
}

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# prepare_root: the base directory must be traversable by the service users
prepare_root() {
  mkdir -p "$ROOT"
  chmod 755 "$ROOT" 2>/dev/null || true
}

usage_exit() { echo "usage: BASE=/tmp/ehlo-interop $0 start|stop|status|restart" >&2; exit 2; }

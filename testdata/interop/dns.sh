#!/usr/bin/env bash
# The DNS and HTTPS part of the interop test bed (issue 13): a real authoritative server
# (NSD) serving a DNSSEC-signed zone and an unsigned one, a real validating resolver
# (Unbound) with the signed zone's trust anchor, and nginx serving MTA-STS policies over
# HTTPS. Everything on loopback, configured at run time under $BASE/dns.
#
#   BASE=/tmp/ehlo-interop bash dns.sh start|stop|status|restart
#
# Listens (loopback only):
#   127.0.13.1:${DNS_AUTH_PORT:-5301}      NSD, authoritative for dane.test (signed) and plain.test
#   127.0.13.2:${DNS_RESOLVER_PORT:-5302}  Unbound, validating (sets AD), stub zones to NSD
#   127.0.13.3:443                         nginx, https://mta-sts.{sts,stsbad}.plain.test/
# Mail goes to 127.0.0.1:${DNS_MX_PORT:-2591}, where the Go test runs the sandbox with
# $BASE/dns/tls/mx.pem (leaf and CA) and mx.key; the TLSA records are computed from them.
#
# The zones (MX hosts all at 127.0.0.1, except dead.dane.test at 127.0.0.2 where nothing
# listens):
#   dane.test        MX 10 mx1.dane.test, TLSA 3 1 1 of the MX key     (DANE-EE match)
#   ta.dane.test     MX 10 mxta.dane.test, TLSA 2 0 1 of the CA         (DANE-TA match)
#   bad.dane.test    MX 10 mxbad.dane.test, TLSA 3 1 1 of another key   (DANE mismatch)
#   bogus.dane.test  MX 10 mxbogus.dane.test, its TLSA forged after signing (bogus: SERVFAIL)
#   order.dane.test  MX 10 dead.dane.test, MX 20 mx1.dane.test          (MX order, fallback)
#   implicit.dane.test  no MX, A 127.0.0.1                              (implicit MX)
#   plain.test       MX 10 mx1.plain.test, TLSA 3 1 1 of another key    (unsigned: ignored)
#   sts.plain.test   MX 10 mx2.plain.test, MTA-STS enforce, mx: mx2.plain.test
#   stsbad.plain.test MX 10 mx2.plain.test, MTA-STS enforce, mx: other.plain.test
set -euo pipefail
NAME=dns.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

DIR=$ROOT/dns
AUTH_ADDR=127.0.13.1
AUTH_PORT=${DNS_AUTH_PORT:-5301}
RES_ADDR=127.0.13.2
RES_PORT=${DNS_RESOLVER_PORT:-5302}
HTTPS_ADDR=127.0.13.3
MX_PORT=${DNS_MX_PORT:-2591}

# make_pki: a CA, the MX certificate (every MX name) and the MTA-STS HTTPS certificate.
make_pki() {
  local d=$DIR/tls
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=ehlo interop DNS test CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  leaf mx "mx1.dane.test" "DNS:mx1.dane.test,DNS:mxta.dane.test,DNS:mxbad.dane.test,DNS:mx1.plain.test,DNS:mx2.plain.test"
  leaf https "mta-sts.sts.plain.test" "DNS:mta-sts.sts.plain.test,DNS:mta-sts.stsbad.plain.test"
  cat "$d/mx.crt" "$d/ca.pem" > "$d/mx.pem"     # the chain the sandbox sends (DANE-TA needs the CA)
  cat "$d/https.crt" "$d/ca.pem" > "$d/https.pem"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=someone else" -keyout "$d/other.key" -out "$d/other.pem" 2>/dev/null
  chmod 644 "$d"/*.pem "$d"/*.crt; chmod 600 "$d"/*.key
  chmod 644 "$d/https.key"    # nginx's workers (www-data) read it; a throwaway test key
}

leaf() {
  local d=$DIR/tls n=$1 cn=$2 san=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
    -keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$d/$n.ext"
  openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 30 -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
}

# tlsa311 CERT / tlsa201 CERT: the record data for DANE-EE (SPKI sha256) and DANE-TA (cert sha256)
tlsa311() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
tlsa201() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

make_zones() {
  local z=$DIR/zones ee ta other
  mkdir -p "$z"
  ee=$(tlsa311 "$DIR/tls/mx.crt"); ta=$(tlsa201 "$DIR/tls/ca.pem"); other=$(tlsa311 "$DIR/tls/other.pem")
  cat > "$z/dane.test.zone" <<ZONE
\$ORIGIN dane.test.
\$TTL 60
@           IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 60
@           IN NS  ns.dane.test.
ns          IN A   $AUTH_ADDR
@           IN MX  10 mx1.dane.test.
mx1         IN A   127.0.0.1
_$MX_PORT._tcp.mx1   IN TLSA 3 1 1 $ee
ta          IN MX  10 mxta.dane.test.
mxta        IN A   127.0.0.1
_$MX_PORT._tcp.mxta  IN TLSA 2 0 1 $ta
bad         IN MX  10 mxbad.dane.test.
mxbad       IN A   127.0.0.1
_$MX_PORT._tcp.mxbad IN TLSA 3 1 1 $other
bogus       IN MX  10 mxbogus.dane.test.
mxbogus     IN A   127.0.0.1
_$MX_PORT._tcp.mxbogus IN TLSA 3 1 1 $ee
order       IN MX  20 mx1.dane.test.
order       IN MX  10 dead.dane.test.
dead        IN A   127.0.0.2
implicit    IN A   127.0.0.1
ZONE
  cat > "$z/plain.test.zone" <<ZONE
\$ORIGIN plain.test.
\$TTL 60
@           IN SOA ns.plain.test. hostmaster.plain.test. 1 3600 600 86400 60
@           IN NS  ns.plain.test.
ns          IN A   $AUTH_ADDR
@           IN MX  10 mx1.plain.test.
mx1         IN A   127.0.0.1
_$MX_PORT._tcp.mx1   IN TLSA 3 1 1 $other
mx2         IN A   127.0.0.1
other       IN A   127.0.0.1
sts         IN MX  10 mx2.plain.test.
_mta-sts.sts IN TXT "v=STSv1; id=20261206"
_smtp._tls.sts IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@plain.test"
mta-sts.sts IN A   $HTTPS_ADDR
stsbad      IN MX  10 mx2.plain.test.
_mta-sts.stsbad IN TXT "v=STSv1; id=20261206"
mta-sts.stsbad IN A $HTTPS_ADDR
ZONE
  # sign dane.test: a KSK and a ZSK; the KSK's DS is Unbound's trust anchor
  ( cd "$z"
    local ksk zsk
    ksk=$(ldns-keygen -a ECDSAP256SHA256 -k dane.test)
    zsk=$(ldns-keygen -a ECDSAP256SHA256 dane.test)
    ldns-signzone -f dane.test.zone.signed dane.test.zone "$zsk" "$ksk"
    # forge mxbogus's TLSA record after signing: its RRSIG no longer matches, so the
    # validating resolver answers SERVFAIL (bogus)
    sed -i "/^_$MX_PORT\._tcp\.mxbogus\.dane\.test\..*TLSA/s/$ee/$other/" dane.test.zone.signed
    grep -q "mxbogus.*TLSA.*$other" dane.test.zone.signed || { echo "$NAME: could not forge the bogus TLSA record" >&2; exit 1; }
    cp "$ksk.ds" trust-anchor.ds )
  chmod -R a+rX "$z"
}

make_www() {
  mkdir -p "$DIR/www/sts/.well-known" "$DIR/www/stsbad/.well-known"
  printf 'version: STSv1\r\nmode: enforce\r\nmx: mx2.plain.test\r\nmax_age: 86400\r\n' > "$DIR/www/sts/.well-known/mta-sts.txt"
  printf 'version: STSv1\r\nmode: enforce\r\nmx: other.plain.test\r\nmax_age: 86400\r\n' > "$DIR/www/stsbad/.well-known/mta-sts.txt"
  chmod -R a+rX "$DIR/www"
}

write_configs() {
  cat > "$DIR/nsd.conf" <<CONF
server:
  ip-address: $AUTH_ADDR
  port: $AUTH_PORT
  username: ""
  chroot: ""
  zonesdir: "$DIR/zones"
  database: ""
  zonelistfile: "$DIR/run/zone.list"
  xfrdfile: "$DIR/run/xfrd.state"
  xfrdir: "$DIR/run"
  pidfile: "$DIR/run/nsd.pid"
  logfile: "$DIR/log/nsd.log"
  verbosity: 1
  do-ip6: no
remote-control:
  control-enable: no
zone:
  name: dane.test
  zonefile: dane.test.zone.signed
zone:
  name: plain.test
  zonefile: plain.test.zone
CONF
  cat > "$DIR/unbound.conf" <<CONF
server:
  interface: $RES_ADDR
  port: $RES_PORT
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$DIR"
  pidfile: "$DIR/run/unbound.pid"
  logfile: "$DIR/log/unbound.log"
  use-syslog: no
  verbosity: 1
  val-log-level: 2
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "validator iterator"
  trust-anchor-file: "$DIR/zones/trust-anchor.ds"
  local-zone: "test." nodefault
  qname-minimisation: no
  cache-max-ttl: 0
stub-zone:
  name: "dane.test"
  stub-addr: $AUTH_ADDR@$AUTH_PORT
stub-zone:
  name: "plain.test"
  stub-addr: $AUTH_ADDR@$AUTH_PORT
remote-control:
  control-enable: no
CONF
  cat > "$DIR/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $DIR/run/nginx.pid;
error_log $DIR/log/nginx-error.log;
events { worker_connections 64; }
http {
  access_log $DIR/log/nginx-access.log;
  client_body_temp_path $DIR/run/nginx-body;
  proxy_temp_path $DIR/run/nginx-proxy;
  fastcgi_temp_path $DIR/run/nginx-fastcgi;
  uwsgi_temp_path $DIR/run/nginx-uwsgi;
  scgi_temp_path $DIR/run/nginx-scgi;
  types { text/plain txt; }
  default_type application/octet-stream;
  ssl_certificate $DIR/tls/https.pem;
  ssl_certificate_key $DIR/tls/https.key;
  server { listen $HTTPS_ADDR:443 ssl; server_name mta-sts.sts.plain.test; root $DIR/www/sts; }
  server { listen $HTTPS_ADDR:443 ssl; server_name mta-sts.stsbad.plain.test; root $DIR/www/stsbad; }
}
CONF
}

# run_bg NAME PIDFILE CMD...: start a foreground server in its own session, record its PID
run_bg() {
  local n=$1 pf=$2; shift 2
  setsid "$@" </dev/null >>"$DIR/log/$n.out" 2>&1 &
  echo $! > "$pf"
}

# wait_dns ADDR PORT NAME TYPE: until the server answers (any rcode)
wait_dns() {
  local i
  for ((i = 0; i < READY_WAIT * 10; i++)); do
    drill -p "$2" "$3" "@$1" "$4" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

start() {
  if pid_alive "$DIR/run/unbound.run"; then echo "$NAME: already running"; return 0; fi
  command -v nsd >/dev/null && command -v unbound >/dev/null && command -v ldns-signzone >/dev/null \
    && command -v nginx >/dev/null || die "nsd, unbound, ldnsutils or nginx-light missing: run install.sh"
  ss -Hltn "sport = :443" 2>/dev/null | grep -q "$HTTPS_ADDR\|\*:443\|0.0.0.0:443" && die "port $HTTPS_ADDR:443 is in use"
  local t0; t0=$(now_ms)
  prepare_root
  rm -rf "$DIR"; mkdir -p "$DIR/run" "$DIR/log"; chmod 755 "$DIR"
  make_pki; make_zones; make_www; write_configs
  nsd-checkconf "$DIR/nsd.conf" || die "nsd.conf does not check"
  unbound-checkconf "$DIR/unbound.conf" >/dev/null || die "unbound.conf does not check"
  run_bg nsd "$DIR/run/nsd.run" nsd -d -c "$DIR/nsd.conf"
  run_bg unbound "$DIR/run/unbound.run" unbound -d -c "$DIR/unbound.conf"
  run_bg nginx "$DIR/run/nginx.run" nginx -c "$DIR/nginx.conf" -p "$DIR"
  if ! wait_dns "$AUTH_ADDR" "$AUTH_PORT" dane.test SOA || ! wait_dns "$RES_ADDR" "$RES_PORT" dane.test MX; then
    tail -n 20 "$DIR"/log/*.log "$DIR"/log/*.out >&2 2>/dev/null || true
    stop >/dev/null; die "DNS servers not ready"
  fi
  # the resolver must validate: AD on the signed zone, none on the unsigned one
  if ! drill -D -p "$RES_PORT" dane.test "@$RES_ADDR" MX | grep -q 'flags:.* ad'; then
    drill -D -p "$RES_PORT" dane.test "@$RES_ADDR" MX >&2 || true
    tail -n 20 "$DIR/log/unbound.log" >&2 || true
    stop >/dev/null; die "Unbound does not validate dane.test (no AD bit)"
  fi
  local i ok=0
  for ((i = 0; i < READY_WAIT * 10; i++)); do
    if (exec 3<>"/dev/tcp/$HTTPS_ADDR/443") 2>/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  if [ "$ok" != 1 ]; then tail -n 20 "$DIR/log/nginx-error.log" "$DIR/log/nginx.out" >&2 || true; stop >/dev/null; die "nginx not ready"; fi
  echo "$NAME: ready: NSD $AUTH_ADDR:$AUTH_PORT, Unbound $RES_ADDR:$RES_PORT (validating)," \
    "nginx https://$HTTPS_ADDR:443; mail expected on 127.0.0.1:$MX_PORT; took $(( $(now_ms) - t0 )) ms"
}

stop() {
  stop_pidfile "$DIR/run/nginx.run" nginx
  stop_pidfile "$DIR/run/unbound.run" unbound
  stop_pidfile "$DIR/run/nsd.run" nsd
}

status() {
  if pid_alive "$DIR/run/unbound.run"; then echo "$NAME: running"; return 0; fi
  echo "$NAME: not running"; return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop; start ;;
  *) usage_exit ;;
esac

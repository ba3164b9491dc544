#!/usr/bin/env bash
# Installs the real mail servers used by `make interop`, non-interactively, on Debian 12.
# Adapted from the shared test-bed notes (../shared/mta); this copy is the project's own.
#
#   sudo bash testdata/interop/install.sh          # ~25-45 s the first time, <1 s afterwards
#   EHLO_INTEROP_FORCE_INSTALL=1 bash install.sh   # redo everything even if it looks installed
#
# What it does (idempotent, safe to re-run):
#   * apt-get installs Postfix, Dovecot (core, lmtpd, submissiond), python3-aiosmtpd,
#     NSD, Unbound, ldnsutils and nginx-light (dns.sh's DNS and MTA-STS test bed),
#     Cyrus SASL tools, openssl, iproute2, and swaks with the Perl modules behind its TLS
#     (--no-install-recommends leaves them out; swaks --support lists what it has). Debian's service start-up is blocked during
#     the install with a temporary /usr/sbin/policy-rc.d, so nothing listens on the
#     standard ports afterwards; Postfix gets "No configuration".
#   * Exim and OpenSMTPD cannot be installed with apt next to Postfix (the Debian MTA
#     packages conflict), so their .debs are fetched with `apt-get download` and unpacked
#     under $EHLO_INTEROP_OPT (default /opt/ehlo-interop); only their shared-library
#     dependencies are installed with apt. OpenSMTPD comes from bookworm-backports (7.x):
#     the 6.8 in Debian 12 fails every TLS handshake with OpenSSL 3.
#   * Creates the system users the servers need: mtatest (owner of delivered test mail),
#     Debian-exim (compiled into the exim binary), opensmtpd / opensmtpq.
#   * Points /usr/libexec/opensmtpd (compiled into smtpd) at the unpacked helpers.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
NAME=install.sh

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
          -o DPkg::Lock::Timeout=300 --no-install-recommends)
APT_PKGS=(postfix dovecot-core dovecot-lmtpd dovecot-submissiond python3 python3-aiosmtpd
          sasl2-bin libsasl2-modules libsasl2-modules-db openssl ca-certificates iproute2
          swaks libnet-ssleay-perl libio-socket-ssl-perl
          nsd unbound ldnsutils nginx-light)   # dns.sh: authoritative, validating resolver, signer, HTTPS

[ "$(id -u)" = 0 ] || die "must run as root"

# ---------- fast path: everything already there ----------
installed() {
  local p b
  for p in "${APT_PKGS[@]}"; do
    [ "$(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || return 1
  done
  for b in "$EXIM_BIN" "$SMTPD_BIN"; do
    [ -x "$b" ] || return 1
    ldd "$b" 2>/dev/null | grep -q 'not found' && return 1
  done
  [ -s "$OPT/exim4/.version" ] && [ -s "$OPT/opensmtpd/.version" ] || return 1
  [ -x /usr/libexec/opensmtpd/mail.maildir ] || return 1
  for u in mtatest Debian-exim opensmtpd opensmtpq dovecot dovenull postfix; do id "$u" >/dev/null 2>&1 || return 1; done
  getent group postdrop >/dev/null || return 1
  "$SYSPY" -c 'import aiosmtpd' 2>/dev/null || return 1
  return 0
}
if [ "${EHLO_INTEROP_FORCE_INSTALL:-0}" != 1 ] && installed; then
  echo "install.sh: already installed (exim4 $(cat "$OPT/exim4/.version"), opensmtpd $(cat "$OPT/opensmtpd/.version"))"
  exit 0
fi

t0=$(date +%s)

# ---------- keep Debian from starting the packaged services ----------
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, written by ehlo testdata/interop/install.sh\nexit 101\n' > "$POLICY"
  chmod 755 "$POLICY"
  created_policy=1
fi
dl=""
cleanup() {
  if [ "$created_policy" = 1 ]; then rm -f "$POLICY"; fi
  if [ -n "$dl" ]; then rm -rf "$dl"; fi
}
trap cleanup EXIT

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string mx.example.test" | debconf-set-selections

# EHLO_INTEROP_APT_UPDATE=0 skips the update (only when the package lists are known to be fresh)
if [ "${EHLO_INTEROP_APT_UPDATE:-1}" != 0 ]; then
  apt-get -o DPkg::Lock::Timeout=300 update -q
fi

# ---------- fetch Exim (heavy daemon) and OpenSMTPD .debs, to unpack outside dpkg ----------
dl=$(mktemp -d)
chmod 777 "$dl"          # _apt must be able to write here
( cd "$dl" && apt-get download -q exim4-daemon-heavy )
EXIM_DEB=$(ls "$dl"/exim4-daemon-heavy_*.deb)

# OpenSMTPD 7.x from <codename>-backports, with a private apt configuration for this one
# download: the system's sources and package lists are not touched.
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null \
           | awk -v c="$codename" '$2 == c { print $1; exit }')
OSMTPD_DEB=""
if [ -n "$mirror" ] && [ "${EHLO_INTEROP_OPENSMTPD_BACKPORTS:-1}" != 0 ]; then
  bp="$dl/bpo"; mkdir -p "$bp/lists/partial" "$bp/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} ${codename}-backports main" > "$bp/sources.list"
  BPO=(-o "Dir::Etc::SourceList=$bp/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o "Dir::State::Lists=$bp/lists" -o "Dir::Cache=$bp/cache")
  if apt-get "${BPO[@]}" -q update && ( cd "$dl" && apt-get "${BPO[@]}" -q download opensmtpd ); then
    OSMTPD_DEB=$(ls "$dl"/opensmtpd_*.deb 2>/dev/null | head -1)
  fi
fi
if [ -z "$OSMTPD_DEB" ]; then
  echo "install.sh: WARNING: no OpenSMTPD from ${codename}-backports; using the stable one, whose TLS is broken" >&2
  ( cd "$dl" && apt-get download -q opensmtpd )
  OSMTPD_DEB=$(ls "$dl"/opensmtpd_*.deb | head -1)
fi

# their runtime dependencies (first alternative of each, minus packages we must not pull in)
deps_of() {
  dpkg-deb -f "$1" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' \
    | grep -v -E '^(exim4-base|exim4-config|debconf|debconf-2.0|)$'
}
mapfile -t EXTRA_DEPS < <( { deps_of "$EXIM_DEB"; deps_of "$OSMTPD_DEB"; } | sort -u )

apt-get install "${APT_OPTS[@]}" "${APT_PKGS[@]}" "${EXTRA_DEPS[@]}"

# ---------- unpack Exim and OpenSMTPD under $OPT ----------
mkdir -p "$OPT"
for pair in "exim4:$EXIM_DEB" "opensmtpd:$OSMTPD_DEB"; do
  name=${pair%%:*}; deb=${pair#*:}
  ver=$(dpkg-deb -f "$deb" Version)
  if [ "$(cat "$OPT/$name/.version" 2>/dev/null || true)" != "$ver" ]; then
    rm -rf "$OPT/$name.new"
    mkdir -p "$OPT/$name.new"
    dpkg-deb -x "$deb" "$OPT/$name.new"
    echo "$ver" > "$OPT/$name.new/.version"
    rm -rf "$OPT/$name"
    mv "$OPT/$name.new" "$OPT/$name"
  fi
done

# ---------- users ----------
getent group mtatest >/dev/null || addgroup --system mtatest
id mtatest >/dev/null 2>&1 || adduser --system --ingroup mtatest --home /nonexistent \
  --no-create-home --disabled-password --gecos "MTA test bed mail owner" mtatest
# the unpacked exim4 binary has the user name Debian-exim compiled in (as exim4-base creates it)
getent passwd Debian-exim >/dev/null || adduser --system --group --quiet --home /var/spool/exim4 \
  --no-create-home --disabled-login --force-badname Debian-exim
mkdir -p /var/lib/opensmtpd/empty
for name in opensmtpd opensmtpq; do
  getent group "$name" >/dev/null || addgroup --system "$name"
  id "$name" >/dev/null 2>&1 || adduser --system --home /var/lib/opensmtpd/empty \
    --no-create-home --disabled-password --gecos "OpenSMTPD $name" --ingroup "$name" "$name"
done
# smtpctl is setgid opensmtpq in the real package
chown root:opensmtpq "$OPT/opensmtpd/usr/sbin/smtpctl" && chmod 2755 "$OPT/opensmtpd/usr/sbin/smtpctl"

# OpenSMTPD looks for its delivery helpers in /usr/libexec/opensmtpd (compiled in).
if [ ! -e /usr/libexec/opensmtpd ] && [ ! -L /usr/libexec/opensmtpd ]; then
  mkdir -p /usr/libexec
  ln -s "$OPT/opensmtpd/usr/libexec/opensmtpd" /usr/libexec/opensmtpd
elif [ -L /usr/libexec/opensmtpd ] && [ ! -x /usr/libexec/opensmtpd/mail.maildir ]; then
  # dangling, or pointing at something without the helpers: take it over
  ln -sfn "$OPT/opensmtpd/usr/libexec/opensmtpd" /usr/libexec/opensmtpd
fi

# ---------- make sure no packaged service was left running on the standard ports ----------
if [ -f /var/spool/postfix/pid/master.pid ] && kill -0 "$(tr -d ' \n' < /var/spool/postfix/pid/master.pid)" 2>/dev/null; then
  postfix stop || true
fi
if [ -f /run/dovecot/master.pid ] && kill -0 "$(tr -d ' \n' < /run/dovecot/master.pid)" 2>/dev/null; then
  doveadm stop || true
fi

installed || die "installation incomplete (see the output above)"
echo "install.sh: done in $(( $(date +%s) - t0 ))s (exim4 $(cat "$OPT/exim4/.version"), opensmtpd $(cat "$OPT/opensmtpd/.version") under $OPT)"

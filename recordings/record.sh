#!/usr/bin/env bash
# Makes the sample recordings again, through `ehlo send --record`, against the real
# servers of the interop test bed (testdata/interop) and the ehlo sandbox.
#
#   sudo bash recordings/record.sh            # needs root, like testdata/interop/run.sh
#
# It builds bin/ehlo, installs the servers if needed, starts them under $BASE on ports of
# their own (so it can run next to `make interop`), records every sample into
# recordings/*.jsonl (an existing sample is replaced: --record refuses to overwrite, so
# the old file is moved aside first and restored if its recording fails), and stops
# the servers again. Nothing is recorded with --record-secrets: the samples hold no
# credential. Then run `go test ./recordings/`: every sample must read without problems.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
cd "$REPO" || exit 1
export BASE=${BASE:-/tmp/ehlo-rec}
export POSTFIX_PORT=3525 POSTFIX_SMTPS_PORT=5655 EXIM_PORT=3526 EXIM_SMTPS_PORT=5650
export OPENSMTPD_PORT=3527 OPENSMTPD_SMTPS_PORT=5651 DOVECOT_LMTP_PORT=3424
export DOVECOT_SUBMISSION_PORT=3587 DOVECOT_SUBMISSIONS_PORT=5653 DOVECOT_RELAY_PORT=3530
export AIOSMTPD_PORT=3528 AIOSMTPD_SMTPS_PORT=5658 AIOSMTPD_LMTP_PORT=3429
SERVERS=(postfix exim opensmtpd dovecot aiosmtpd)
L=127.0.0.1
EHLO=$REPO/bin/ehlo
COMMON=(--helo client.example.test --subject "ehlo sample" --body "Hello from ehlo.")

[ "$(id -u)" = 0 ] || { echo "record.sh: must run as root (the servers need it)" >&2; exit 1; }
go build -o "$EHLO" . || exit 1
bash testdata/interop/install.sh || exit 1

sandbox_pid=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null
  for s in "${SERVERS[@]}"; do bash "testdata/interop/$s.sh" stop >/dev/null 2>&1; done
}
trap cleanup EXIT
mkdir -p "$BASE" && chmod 755 "$BASE"
for s in "${SERVERS[@]}"; do
  bash "testdata/interop/$s.sh" stop >/dev/null 2>&1
  bash "testdata/interop/$s.sh" start || { echo "record.sh: $s did not start" >&2; exit 1; }
done

failed=()
# record NAME EXPECTED_EXIT ehlo-send-args...
record() {
  local name=$1 want=$2 out=recordings/$1.jsonl rc
  shift 2
  [ -e "$out" ] && mv "$out" "$out.old"
  "$EHLO" send "$@" --record "$out" > "$BASE/$name.transcript" 2>&1
  rc=$?
  if [ "$rc" != "$want" ]; then
    echo "record.sh: $name: exit $rc, want $want (transcript in $BASE/$name.transcript)" >&2
    rm -f "$out"; [ -e "$out.old" ] && mv "$out.old" "$out"
    failed+=("$name")
    return
  fi
  rm -f "$out.old"
  echo "record.sh: $name recorded (exit $rc)"
}

EHLO_PASSWORD=alicepw record postfix-starttls-auth 0 $L:$POSTFIX_PORT --starttls \
  --ca "$BASE/postfix/tls/cert.pem" --auth PLAIN --auth-user alice \
  --from alice@example.test --to bob@example.test "${COMMON[@]}"
EHLO_PASSWORD=not-the-password record postfix-auth-failure 28 $L:$POSTFIX_PORT --starttls \
  --ca "$BASE/postfix/tls/cert.pem" --auth PLAIN --auth-user alice \
  --from alice@example.test --to bob@example.test "${COMMON[@]}"
record exim-implicit-tls 0 $L:$EXIM_SMTPS_PORT --tls-on-connect --ca "$BASE/exim/tls/cert.pem" \
  --from alice@example.test --to bob@example.test "${COMMON[@]}"
record dovecot-lmtp 0 "$BASE/dovecot/lmtp.sock" --lmtp \
  --from alice@example.test --to bob@example.test --to nobody@example.test "${COMMON[@]}"
record opensmtpd-refusal 24 $L:$OPENSMTPD_PORT --starttls --ca "$BASE/opensmtpd/tls/cert.pem" \
  --from alice@example.test --to nobody@example.test "${COMMON[@]}"
record aiosmtpd-smtputf8 0 $L:$AIOSMTPD_PORT --smtputf8 \
  --from 'élodie@example.test' --to 'bob@example.test' --helo client.example.test \
  --subject 'Grüße, ünïcödé' --body 'Ça marche : SMTPUTF8 (RFC 6531).'
record postfix-pipelining 0 $L:$POSTFIX_PORT --starttls --ca "$BASE/postfix/tls/cert.pem" --pipeline \
  --from alice@example.test --to bob@example.test --to nobody@example.test "${COMMON[@]}"
record exim-chunking 0 $L:$EXIM_PORT --starttls --ca "$BASE/exim/tls/cert.pem" --chunking \
  --from alice@example.test --to bob@example.test "${COMMON[@]}"

# VRFY and EXPN: `ehlo send` has no such stage, so a small Go test drives protocol through
# the same Capture and Recorder.
out=recordings/exim-vrfy-expn.jsonl
[ -e "$out" ] && mv "$out" "$out.old"
if EHLO_RECORD_EXIM_ADDR=$L:$EXIM_PORT EHLO_RECORD_EXIM_CA=$BASE/exim/tls/cert.pem \
   EHLO_RECORD_OUT=$REPO/$out go test -tags record -count=1 -run TestRecordEximVrfyExpn -v ./recordings/ \
   > "$BASE/exim-vrfy-expn.transcript" 2>&1; then
  rm -f "$out.old"; echo "record.sh: exim-vrfy-expn recorded"
else
  echo "record.sh: exim-vrfy-expn failed (see $BASE/exim-vrfy-expn.transcript)" >&2
  rm -f "$out"; [ -e "$out.old" ] && mv "$out.old" "$out"; failed+=(exim-vrfy-expn)
fi

# The sandbox with the inject-starttls fault (its certificate is in memory: --insecure).
"$EHLO" sandbox --fault inject-starttls --tls-listen - > "$BASE/sandbox.out" 2>&1 &
sandbox_pid=$!
for _ in $(seq 50); do grep -q '^stop with' "$BASE/sandbox.out" 2>/dev/null && break; sleep 0.1; done
sbaddr=$(awk '/^listen:/ {print $2}' "$BASE/sandbox.out")
record sandbox-inject-starttls 0 "$sbaddr" --starttls --insecure \
  --from alice@example.test --to bob@example.test "${COMMON[@]}"
kill "$sandbox_pid"; wait "$sandbox_pid" 2>/dev/null; sandbox_pid=

# The samples are public test vectors, not private recordings: readable like the sources.
chmod 644 recordings/*.jsonl
if [ ${#failed[@]} -gt 0 ]; then
  echo "record.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "record.sh: all samples recorded; now: go test ./recordings/"

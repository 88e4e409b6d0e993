#!/usr/bin/env bash
# The gateway's Unix time follows the system clock while it runs: the system
# clock is stepped (date -s) minutes ahead and then behind, and each time an
# fwknop packet stamped by the client's new clock is accepted within 2 s
# (max-age 120 s), the event log's times follow, and `ctl list print` shows
# no negative or wrapped time left. The clock is restored on exit, counting
# the time that passed. Needs root; meson runs it alone (is_parallel: false).
# Usage: clock_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=t$$$RANDOM
ID=${ID:0:8}
LOG=/tmp/kg-$ID-gate.log
KEYS=$HERE/../data/spa/keys.txt
KEY=$(sed -n 's/^KEY_BASE64: *//p' "$KEYS")
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: *//p' "$KEYS")

# The true time is the clock at the start plus the monotonic time since.
read -r REAL0 MONO0 < <(/usr/bin/python3 -c 'import time; print(time.time(), time.monotonic())')
restore_clock() {
  local now
  now=$(/usr/bin/python3 -c "import time; print(f'{$REAL0 + time.monotonic() - $MONO0:.6f}')")
  date -s "@$now" >/dev/null
}
stepped=0
trap '((stepped)) && restore_clock; lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT
step_clock() {  # step_clock SECONDS: from the true time, SECONDS ahead (or behind)
  stepped=1
  date -s "@$(/usr/bin/python3 -c "import time; print(f'{$REAL0 + time.monotonic() - $MONO0 + $1:.6f}')")" >/dev/null
}

C="ip netns exec $(lab_ns "$ID" c)"
SERVER=$LAB_SERVER_IP
open_from() { lab_open "$ID" "$1"; }
closed_from() { ! open_from "$1"; }
spa_from() {  # spa_from ADDRESS: one fwknop packet, stamped now, from ADDRESS
  $C ip route replace "$SERVER/32" dev c0 src "$1"
  HOME=/tmp/kg-$ID-home $C fwknop -A tcp/80 -D "$SERVER" --use-hmac --no-save-args -a "$1" \
    --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC" >>"/tmp/kg-$ID-fwknop.log" 2>&1
}
granted() {  # granted ADDRESS: the grant is logged (within 2 s)
  for _ in $(seq 1 20); do
    grep -q "spa-grant user=web list=secured address=$1 " "$LOG" && return 0
    sleep 0.1
  done
  return 1
}
# The log line's time against the clock when the packet left, in seconds.
log_lag() {
  local t
  t=$(grep "spa-grant user=web list=secured address=$1 " "$LOG" | tail -n 1 | cut -d' ' -f1)
  /usr/bin/python3 -c "
import datetime
t = datetime.datetime.strptime('$t', '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc)
print(f'{t.timestamp() - $2:.6f}')"
}
# Logged after sending, and within a second of it (not minutes off).
lag_ok() { /usr/bin/python3 -c "import sys; sys.exit(0 if -0.05 < $1 < 1.0 else 1)"; }
ctl() { "$LAB_KNOCKGATE" ctl --config "$CONFIG" "$@"; }
# Every time left that list print shows is a duration, none negative or huge.
times_sane() {
  ctl list print secured >"/tmp/kg-$ID-print" 2>&1 || return 1
  grep -q "$1" "/tmp/kg-$ID-print" || return 1
  ! grep -Eq -- '-[0-9]|[0-9]{6,}' "/tmp/kg-$ID-print"
}

mkdir -p "/tmp/kg-$ID-home"
lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
CONFIG=$(lab_config "$ID" 5s 300s)
sed -i "s|^socket = .*|socket = \"/tmp/kg-$ID-ctl.sock\"|" "$CONFIG"
cat >>"$CONFIG" <<TOML

[[spa]]
name = "web"
key-file = "$KEYS"
grant-list = "secured"
grant-timeout = "10m"
max-age = "120s"
access = ["tcp/80"]
TOML
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1

spa_from 10.77.0.2
expect "an SPA packet opens the gate before any step" granted 10.77.0.2

for step in 300 -600; do
  case $step in 300) who=10.77.0.3 ;; -600) who=10.77.0.4 ;; esac
  step_clock "$step"
  sleep 1.2  # the gate re-samples the clock every half second
  sent=$(date +%s.%N)
  spa_from "$who"
  expect "after date -s by ${step}s, a packet stamped by the new clock is accepted" granted "$who"
  expect "it opens the gate" open_from "$who"
  lag=$(log_lag "$who" "$sent")
  expect "the grant's log time follows the new clock (logged ${lag:-?}s after sending)" \
    lag_ok "${lag:-99}"
  expect "list print shows no negative or wrapped time left" times_sane "$who"
done
restore_clock
stepped=0
sleep 1.2
spa_from 10.77.0.5
expect "with the clock restored, packets are accepted again" granted 10.77.0.5
expect "no packet was refused as stale" bash -c "! grep -q 'reason=stale' '$LOG'"
if ((fail)); then
  cat "/tmp/kg-$ID-fwknop.log" "/tmp/kg-$ID-print"
  cat "$LOG"
fi
exit $fail

#!/usr/bin/env bash
# Rotating knock sequences in the lab: `knockgate knock` opens the gate with
# the current period's sequence; `knockgate knock --print` gives what a
# second implementation of the README's derivation (knock_ref.py) gives, and
# nmap knocking it opens the gate too; the same packets sent again two
# periods later open nothing, while that period's own sequence does. Needs root.
# Usage: knock_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=r$$$RANDOM
ID=${ID:0:8}
LOG=/tmp/kg-$ID-gate.log
SECRET="lab-rotating-secret-$RANDOM$RANDOM"
trap 'lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT

C="ip netns exec $(lab_ns "$ID" c)"
SERVER=$LAB_SERVER_IP
KG=${LAB_KNOCKGATE:-$HERE/../../build/app/knockgate/knockgate}
# nmap_knock SOURCE "PORT:PROTO ...": the sequence as --print gives it.
nmap_knock() {
  local step port proto
  for step in $2; do
    port=${step%%:*} proto=${step##*:}
    if [[ $proto == udp ]]; then
      $C nmap -n -Pn -sU -S "$1" -e c0 -p "$port" "$SERVER" >/dev/null 2>&1
    else
      $C nmap -n -Pn -sS -S "$1" -e c0 -p "$port" "$SERVER" >/dev/null 2>&1
    fi
  done
}
opens() { for _ in 1 2 3 4 5 6 7 8 9 10; do lab_open "$ID" "$1" 1 && return 0; sleep 0.2; done; return 1; }
closed() { ! lab_open "$ID" "$1" 2; }
period_now() { echo $(($(date +%s) / 10)); }

lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
CONFIG=$(lab_config "$ID" 30s 2m)
cat >>"$CONFIG" <<TOML

[[knock]]
name = "rot"
secret = "$SECRET"
period = "10s"
steps = ["tcp", "udp", "tcp"]
grant-list = "rotated"
grant-timeout = "2m"
TOML
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1

expect "--check names the rotating knock and never its secret" \
  sh -c "'$KG' --check --config '$CONFIG' | grep -q 'name=rot steps=tcp,udp,tcp period=10s port-range=10000-60000' &&
         ! '$KG' --check --config '$CONFIG' | grep -q -- '$SECRET'"
expect "the server is hidden before any knock" closed "$LAB_CLIENT_IP"
at=$(date +%s)
printed=$("$KG" knock --print --at "$at" --config "$CONFIG" rot)
reference=$(/usr/bin/python3 "$HERE/knock_ref.py" "$SECRET" $((at / 10)) 10000 60000 3)
expect "--print ($printed) is the README's derivation ($reference), protocols as the steps say" \
  test "$(echo "$printed" | sed 's/:tcp//g; s/:udp//g')" = "$reference" -a \
  "$(echo "$printed" | sed 's/[0-9]*://g')" = "tcp udp tcp"

$C "$KG" knock --config "$CONFIG" rot "$SERVER"
expect "knockgate knock opens the gate" opens "$LAB_CLIENT_IP"
expect "the grant is logged with the knock's comment, not its ports" \
  grep -q "list-add .*list=rotated address=$LAB_CLIENT_IP .*comment=\"knock rot step 3/3 (rotating)\"" "$LOG"

p=$(period_now)
sequence=$("$KG" knock --print --config "$CONFIG" rot)
[[ $(period_now) == "$p" ]] || { p=$(period_now); sequence=$("$KG" knock --print --config "$CONFIG" rot); }
nmap_knock 10.77.0.3 "$sequence"
expect "nmap knocking the printed sequence opens the gate" opens 10.77.0.3

# Two periods later: the same packets open nothing; that period's sequence does.
while (($(period_now) < p + 2)); do sleep 0.5; done
nmap_knock 10.77.0.4 "$sequence"
expect "the same sequence two periods later is refused ($sequence)" closed 10.77.0.4
nmap_knock 10.77.0.5 "$("$KG" knock --print --config "$CONFIG" rot)"
expect "while that period's own sequence opens" opens 10.77.0.5
expect "the gate moved periods without a reload" sh -c "! grep -q 'reload' '$LOG'"
if ((fail)); then
  tail -40 "$LOG"
fi
exit $fail

#!/usr/bin/env bash
# State changes under a hard flood: hping3 --flood --rand-source at the first
# knock port, as fast as this host sends (beside the gate, on its CPUs),
# while a real client knocks (nmap) and another sends fwknop's SPA packet.
# Whatever the flood does to their packets, a client the gate let in has its
# grant in the log, every time: state changes are never dropped; the flood's
# knock steps are what is held back or lost, and counted. Needs root.
# Usage: event_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=e$$$RANDOM
ID=${ID:0:8}
LOG=/tmp/kg-$ID-gate.log
KEYS=$HERE/../data/spa/keys.txt
KEY=$(sed -n 's/^KEY_BASE64: *//p' "$KEYS")
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: *//p' "$KEYS")
trap 'pkill -f "hping3.*$LAB_SERVER_IP" 2>/dev/null; lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT

C="ip netns exec $(lab_ns "$ID" c)"
SERVER=$LAB_SERVER_IP
open_from() { lab_open "$ID" "$1" 5; }

mkdir -p "/tmp/kg-$ID-home"
lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
CONFIG=$(lab_config "$ID" 10s 300s)
sed -i "s|^socket = .*|socket = \"/tmp/kg-$ID-ctl.sock\"|" "$CONFIG"
cat >>"$CONFIG" <<TOML

[[spa]]
name = "web"
key-file = "$KEYS"
grant-timeout = "300s"
access = ["tcp/80"]
TOML
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1

$C hping3 --rand-source -S -p 888 --flood -q "$SERVER" >/dev/null 2>&1 &
sleep 2
# A real client retries when its packets are lost; what is checked is that
# the gate logs every grant it made.
knocked=0
for _ in 1 2 3 4 5; do
  for x in 888 555 222; do $C nmap -n -Pn -S 10.77.0.5 -e c0 -p $x "$SERVER" >/dev/null 2>&1; done
  if open_from 10.77.0.5; then knocked=1; break; fi
done
ip -n "$(lab_ns "$ID" c)" route change 10.77.0.0/24 dev c0 src 10.77.0.6
granted=0
for _ in 1 2 3 4 5; do
  HOME=/tmp/kg-$ID-home $C fwknop -A tcp/80 -D "$SERVER" --use-hmac --no-save-args -a 10.77.0.6 \
    --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC" >>"/tmp/kg-$ID-fwknop.log" 2>&1
  if open_from 10.77.0.6; then granted=1; break; fi
done
ip -n "$(lab_ns "$ID" c)" route change 10.77.0.0/24 dev c0 src "$LAB_CLIENT_IP"
sleep 1
pkill -f "hping3.*$SERVER"
lab_gate_stop

expect "the knocking client got in during the flood" test "$knocked" -eq 1
expect "the fwknop client got in during the flood" test "$granted" -eq 1
expect "the knock's grant is in the log" grep -q " list=secured address=10.77.0.5 " "$LOG"
expect "the fwknop grant is in the log" \
  grep -q " spa-grant user=web list=secured address=10.77.0.6 " "$LOG"
expect "no state change was lost on its way out of the worker" \
  grep -q "state-events-lost=0, " "$LOG"
steps=$(awk '/^final counters:/{f=1} f && /^list 888:/' "$LOG")
echo "# the flood: $steps; $(grep -o 'events-lost=[0-9]*, state-events-lost=[0-9]*, state-stalls=[0-9]*' "$LOG"); $(grep '^log: ' "$LOG")"
expect "the flood made knock steps by the thousand" \
  sh -c "echo '$steps' | awk '{sub(/added=/, \"\", \$4); exit !(\$4 > 10000)}'"
if ((fail)); then
  tail -30 "$LOG"
fi
exit $fail

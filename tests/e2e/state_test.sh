#!/usr/bin/env bash
# The state file against the flood it is sized for: hping3 --rand-source
# fills knock list 888 with more than 500,000 spoofed sources while a real
# client knocks and another is granted by fwknop; `ctl list print 888`
# prints every one of them; the gate stops and starts again. The granted client is let in without knocking, the gate says how
# many entries it restored (the file is past the 16 MiB the old restore read),
# and the fwknop packet accepted before the restart, replayed after it, is
# refused as a replay. Needs root.
# Usage: state_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=v$$$RANDOM
ID=${ID:0:8}
LOG=/tmp/kg-$ID-gate.log
STATE=/tmp/kg-$ID-lists.state
FLOOD_TARGET=500000
KEYS=$HERE/../data/spa/keys.txt
KEY=$(sed -n 's/^KEY_BASE64: *//p' "$KEYS")
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: *//p' "$KEYS")
trap 'pkill -f "hping3.*$LAB_SERVER_IP" 2>/dev/null; lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT

C="ip netns exec $(lab_ns "$ID" c)"
G="ip netns exec $(lab_ns "$ID" g)"
SERVER=$LAB_SERVER_IP
open_from() { lab_open "$ID" "$1"; }
closed_from() { ! open_from "$1"; }
list_entries() {  # list_entries LIST: its size, from /metrics
  $G curl -s -m 2 http://127.0.0.1:9642/metrics |
    sed -n "s/^knockgate_list_entries{list=\"$1\"} \([0-9]*\)$/\1/p"
}
logged() { for _ in $(seq 1 30); do grep -q -- "$1" "$LOG" && return 0; sleep 0.1; done; return 1; }

mkdir -p "/tmp/kg-$ID-home"
lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
# Knock steps that outlive the flood; the flooded step list saved too, so
# that the file is as large as a flood makes it.
CONFIG=$(lab_config "$ID" 600s 600s)
sed -i "s|^socket = .*|socket = \"/tmp/kg-$ID-ctl.sock\"|" "$CONFIG"
cat >>"$CONFIG" <<TOML

[state]
file = "$STATE"
interval = "1h"
lists = ["secured", "888"]

[metrics]
listen = "127.0.0.1:9642"

[[spa]]
name = "web"
key-file = "$KEYS"
grant-list = "secured"
grant-timeout = "10m"
access = ["tcp/80"]
TOML
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1
ip -n "$(lab_ns "$ID" g)" link set lo up

for x in 888 555 222; do $C nmap -n -Pn -S 10.77.0.3 -e c0 -p $x "$SERVER" >/dev/null 2>&1; done
expect "a client knocks its way in" open_from 10.77.0.3
HOME=/tmp/kg-$ID-home $C fwknop -A tcp/80 -D "$SERVER" --use-hmac --no-save-args -a 10.77.0.2 \
  --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC" -B "/tmp/kg-$ID-spa.pkt" \
  >"/tmp/kg-$ID-fwknop.log" 2>&1
expect "an fwknop client is granted" logged "spa-grant user=web list=secured address=10.77.0.2"

$C hping3 --rand-source -S -p 888 --flood -q "$SERVER" >/dev/null 2>&1 &
size=0
for _ in $(seq 1 120); do
  size=$(list_entries 888)
  ((${size:-0} > FLOOD_TARGET)) && break
  sleep 0.5
done
pkill -f "hping3.*$SERVER"
echo "# list 888 holds ${size:-0} entries after the flood"
expect "the flood filled list 888 past $FLOOD_TARGET entries" test "${size:-0}" -gt "$FLOOD_TARGET"
# The whole list through the control socket: a header and a line an entry,
# however far past the socket's buffer (the entries live 600 s: none leaves).
"$LAB_KNOCKGATE" ctl --config "$CONFIG" list print 888 >"/tmp/kg-$ID-print" 2>"/tmp/kg-$ID-print.err"
rc=$?
lines=$(wc -l <"/tmp/kg-$ID-print")
size=$(list_entries 888)
echo "# ctl list print 888: exit $rc, $lines lines for ${size:-0} entries"
expect "ctl list print 888 prints every entry of the flooded list" \
  test "$rc" -eq 0 -a "$lines" -eq $((${size:-0} + 1))

t0=$(date +%s.%N)
lab_gate_stop
t1=$(date +%s.%N)
bytes=$(stat -c %s "$STATE" 2>/dev/null || echo 0)
echo "# stop (the last save included) took $(/usr/bin/python3 -c "print(f'{$t1 - $t0:.2f}')") s; the state file has $bytes bytes"
expect "the state file is larger than the 16 MiB the restore used to read" \
  test "$bytes" -gt $((16 << 20))
expect "it holds the knocked and the SPA grant" \
  sh -c "grep -q '^secured.10.77.0.3.' '$STATE' && grep -q '^secured.10.77.0.2.' '$STATE'"
expect "it holds the accepted SPA message's digest" grep -q '^!spa-replay.10.77.0.2.' "$STATE"

mv "$LOG" "$LOG.first"
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1
# The restore runs beside the forwarding workers; it says when it is done.
for _ in $(seq 1 100); do grep -q '^knockgate: restored' "$LOG" && break; sleep 0.1; done
grep '^knockgate: restored' "$LOG" | sed 's/^/# /'
restored=$(sed -n 's/^knockgate: restored \([0-9]*\) list entries.*/\1/p' "$LOG")
expect "the restart restores every entry and says how many" test "${restored:-0}" -gt "$FLOOD_TARGET"
expect "it restores the SPA digest" grep -q "and 1 SPA replay digests" "$LOG"
expect "the knocked client is let in without knocking again" open_from 10.77.0.3
expect "the SPA client is let in too" open_from 10.77.0.2
# A granted source's packets pass the rules before [[spa]] sees them: the
# operator revokes the grant first, as after a stolen key.
"$LAB_KNOCKGATE" ctl --config "$CONFIG" list remove secured 10.77.0.2 >/dev/null
expect "with its grant revoked, the SPA client is out" closed_from 10.77.0.2
printf '%s' "$(cat "/tmp/kg-$ID-spa.pkt")" | $C socat -u - "UDP4-SENDTO:$SERVER:62201,bind=10.77.0.2"
expect "the SPA packet from before the restart is refused as a replay after it" \
  logged "spa-reject user=web reason=replay"
expect "and not let in" closed_from 10.77.0.2
if ((fail)); then
  cat "/tmp/kg-$ID-fwknop.log" "$LOG.first" "$LOG" | grep -v '^.*list-add rule=[0-9]* list=888' | tail -n 80
fi
exit $fail

#!/usr/bin/env bash
# Floods in the lab: hping3 --rand-source SYN floods at the first knock port
# and at closed ports while a granted client's HTTP loop, fresh knockers
# (knockd's `knock`), the gate's memory and its log are watched; and ping
# against an ICMP accept rule under RouterOS's limit. Needs root.
# Usage: flood_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=f$$$RANDOM
ID=${ID:0:8}
LOG=/tmp/kg-$ID-gate.log
FLOOD_SECONDS=20
PPS=500           # per flood; two floods
FIRST_STEP=2048   # capacity of list 888: a flood entry lives FIRST_STEP / PPS seconds
RATE=20
BURST=40
trap 'pkill -f "hping3.*$LAB_SERVER_IP" 2>/dev/null; lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT

C="ip netns exec $(lab_ns "$ID" c)"
SERVER=$LAB_SERVER_IP
open_from() { lab_open "$ID" "$1"; }
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$(pgrep -f "file-prefix kg$ID" | head -1)/status"; }

lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
CONFIG=$(lab_config "$ID" 5s 300s)
sed -i -e "s/^rate = 100$/rate = $RATE/" -e "s/^burst = 200$/burst = $BURST/" \
  -e "s/^\"888\" = [0-9]*$/\"888\" = $FIRST_STEP/" "$CONFIG"
# Ahead of the established rule (an echo is established once answered), as
# RouterOS's ICMP rules stand: accept under limit, drop the rest.
awk 'NR == FNR { rules = rules $0 "\n"; next }
     /^\[\[filter\]\]/ && !done { printf "%s\n", rules; done = 1 } { print }' - "$CONFIG" \
  >"$CONFIG.new" <<'TOML' && mv "$CONFIG.new" "$CONFIG"
# /ip firewall filter add chain=input protocol=icmp limit=5/1s,5:packet action=accept
[[filter]]
chain = "input"
action = "accept"
in-interface-list = "WAN"
protocol = "icmp"
limit = "5/1s,5:packet"

# /ip firewall filter add chain=input protocol=icmp action=drop
[[filter]]
chain = "input"
action = "drop"
in-interface-list = "WAN"
protocol = "icmp"
TOML
grep -q "^rate = $RATE$" "$CONFIG" && grep -q "^\"888\" = $FIRST_STEP$" "$CONFIG" ||
  { echo "FAIL - the flood config did not take its settings"; exit 1; }
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1

# RouterOS limit: 5 a second after a burst of 5, whatever ping sends.
received=$($C ping -n -q -i 0.05 -c 60 "$SERVER" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
echo "# ping: 60 sent in 3s, ${received:-0} answered (limit 5/1s, burst 5)"
expect "ping under limit=5/1s,5 gets about 5 + 5 a second through" \
  test "${received:-0}" -ge 12 -a "${received:-0}" -le 26

# A client granted before the flood.
for x in 888 555 222; do $C nmap -n -Pn -S 10.77.0.3 -e c0 -p $x "$SERVER" >/dev/null 2>&1; done
expect "a client is granted before the flood" open_from 10.77.0.3

rss_before=$(rss_kib)
$C hping3 --rand-source -S -p 888 -i u$((1000000 / PPS)) -q "$SERVER" >/dev/null 2>&1 &
$C hping3 --rand-source -S -p ++1000 -i u$((1000000 / PPS)) -q "$SERVER" >/dev/null 2>&1 &
start=$(date +%s)
sleep 3
rss_early=$(rss_kib)
http_ok=0
http_lost=0
fresh=()
next_knock=$start
n=4
while (($(date +%s) - start < FLOOD_SECONDS)); do
  if open_from 10.77.0.3; then ((http_ok++)); else ((http_lost++)); fi
  if (($(date +%s) >= next_knock && n <= 9)); then
    # `knock` has no source option: the route's source makes this a new client.
    ip -n "$(lab_ns "$ID" c)" route change 10.77.0.0/24 dev c0 src "10.77.0.$n"
    $C knock -d 200 "$SERVER" 888 555 222 >/dev/null
    if open_from "10.77.0.$n"; then fresh+=("$n"); else echo "# fresh knocker 10.77.0.$n failed"; fi
    n=$((n + 1))
    next_knock=$(($(date +%s) + 3))
  fi
  sleep 0.5
done
rss_late=$(rss_kib)
pkill -f "hping3.*$SERVER"
ip -n "$(lab_ns "$ID" c)" route change 10.77.0.0/24 dev c0 src 10.77.0.2
elapsed=$(($(date +%s) - start))

echo "# HTTP from the granted client during the flood: $http_ok ok, $http_lost lost"
expect "(a) the granted client's HTTP loop loses nothing" test "$http_ok" -gt 10 -a "$http_lost" -eq 0
echo "# fresh knockers that got in: ${fresh[*]:-none} of $((n - 4))"
expect "(b) fresh clients knock with knock and connect" test "${#fresh[@]}" -ge 4 -a "${#fresh[@]}" -eq $((n - 4))
echo "# knockgate RSS: ${rss_before} KiB before, ${rss_early} KiB 3s in, ${rss_late} KiB at ${elapsed}s"
expect "(c) memory grows less than 5% after the first seconds" \
  test $((rss_late * 100)) -lt $((rss_early * 105))

lab_gate_stop
lines=$(grep -c ' list-add rule=\| log rule=' "$LOG")
summaries=$(grep -c ' suppressed [0-9]* list-add events' "$LOG")
flood_adds=$(awk '/^final counters:/{f=1} f && /888/' "$LOG" | head -3)
echo "# log: $lines event lines, $summaries summaries; $(grep -o 'log: .*' "$LOG")"
echo "# list 888 in the final counters: $flood_adds"
limit=$((BURST + RATE * (elapsed + 30)))  # the whole run, start-up included
expect "(d) the log stays under its rate ($lines <= $limit lines)" test "$lines" -le "$limit"
expect "and says what it held back, once a second at most" \
  test "$summaries" -ge 3 -a "$summaries" -le $((elapsed + 30))
for f in "${fresh[@]}"; do
  expect "the grant of 10.77.0.$f is logged despite the flood" \
    grep -q "list=secured address=10.77.0.$f " "$LOG"
done
if ((fail)); then
  echo "--- gate log (head) ---"
  head -50 "$LOG"
fi
exit $fail

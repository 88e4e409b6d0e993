#!/usr/bin/env bash
# End to end in network namespaces: real nmap, knock, curl, nc against
# knockgate on net_af_packet vdevs, with the shipped recipe on short timers.
# Needs root. Usage: lab_test.sh [KNOCKGATE]; LAB_WORKERS=2 runs the gate with
# two workers (dispatcher steering, three lcores on the two CPUs).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=e$$$RANDOM
ID=${ID:0:8}
WINDOW=5s
GRANT=15
LOG=/tmp/kg-$ID-gate.log
trap 'lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT

C="ip netns exec $(lab_ns "$ID" c)"
SERVER=$LAB_SERVER_IP
open_from() { lab_open "$ID" "$1" 3; }
closed_from() { ! open_from "$1"; }
open6() { $C curl -s -m 3 -g "http://[$LAB_SERVER_IP6]/" | grep -q "hello from the LAN"; }
closed6() { ! open6; }
nmap_knock() {  # nmap_knock SRC PORT...: one nmap run per port, in order
  local src=$1 port
  shift
  for port in "$@"; do
    $C nmap -n -Pn -S "$src" -e c0 -p "$port" "$SERVER" >/dev/null 2>&1
  done
}
granted() { grep -q "list=secured address=$1 " "$LOG"; }

lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
lab_http "$ID" c || exit 1
S="ip netns exec $(lab_ns "$ID" s)"
CONFIG=$(lab_config "$ID" "$WINDOW" "${GRANT}s")
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1

expect "the server is invisible before knocking" closed_from 10.77.0.2
expect "nmap sees no open port" sh -c "! $C nmap -n -Pn -p 22,80,443 $SERVER | grep -q open"

# Connection tracking: the LAN host browses out and gets its replies.
expect "the LAN host reaches a WAN web server (replies are established)" \
  sh -c "$S curl -s -m 3 http://$LAB_CLIENT_IP:8080/ | grep -q 'hello from the WAN'"
expect "while that WAN host still cannot reach into the LAN" closed_from 10.77.0.2

# The seed's knock, one nmap run per port, in order (the README says why).
for x in 888 555 222; do $C nmap -n -Pn -p $x "$SERVER" >/dev/null; done
expect "nmap knock 888 555 222 opens it" open_from 10.77.0.2
expect "the grant is logged" granted 10.77.0.2
expect "a second client address stays closed" closed_from 10.77.0.3
expect "a v4 grant does not open IPv6" closed6
for x in 888 555 222; do $C nmap -6 -n -Pn -p $x "$LAB_SERVER_IP6" >/dev/null; done
expect "nmap -6 knock 888 555 222 opens it over IPv6" open6
expect "the IPv6 grant is logged" granted "$LAB_CLIENT_IP6"

nmap_knock 10.77.0.4 555 888 222
expect "a wrong order stays closed" closed_from 10.77.0.4

nmap_knock 10.77.0.5 888
sleep 6
nmap_knock 10.77.0.5 555 222
expect "a step after its window stays closed" closed_from 10.77.0.5

echo "# waiting ${GRANT}s for the grant to expire"
sleep $((GRANT + 1))
expect "the grant expires" closed_from 10.77.0.2
$C knock -d 100 "$SERVER" 888 555 222 >/dev/null
expect "knock (knockd's client) 888 555 222 opens it again" open_from 10.77.0.2

echo passphrase/ | $C nc -u -w1 -s 10.77.0.6 "$SERVER" 888
nmap_knock 10.77.0.6 555 222
expect "a UDP passphrase knock (echo | nc -u) opens it" open_from 10.77.0.6
echo wrongphrase/ | $C nc -u -w1 -s 10.77.0.7 "$SERVER" 888
nmap_knock 10.77.0.7 555 222
expect "a wrong passphrase stays closed" closed_from 10.77.0.7
printf 'passphrase' | $C socat - "UDP4-SENDTO:$SERVER:888,bind=10.77.0.7"
nmap_knock 10.77.0.7 555 222
expect "a truncated passphrase stays closed" closed_from 10.77.0.7
printf 'my passphrase/\n' | $C socat - "UDP4-SENDTO:$SERVER:888,bind=10.77.0.7"
nmap_knock 10.77.0.7 555 222
expect "a padded passphrase stays closed" closed_from 10.77.0.7
printf 'passphrase/' | $C socat - "UDP4-SENDTO:$SERVER:888,bind=10.77.0.8"
nmap_knock 10.77.0.8 555 222
expect "socat sends the passphrase too" open_from 10.77.0.8

# Hot reload: a bad file is refused and the running policy stays; a good one
# swaps the rules in and keeps every list entry.
wait_log() { for _ in $(seq 1 50); do grep -q "$1" "$LOG" && return 0; sleep 0.1; done; return 1; }
nmap_knock 10.77.0.9 888 555 222
expect "a client is granted before the reload" open_from 10.77.0.9
cp "$CONFIG" "$CONFIG.good"
echo 'not = = toml' >>"$CONFIG"
kill -HUP "$LAB_GATE_PID"
expect "SIGHUP with a bad file is refused, saying why" \
  wait_log "reload failed, keeping the running config: $CONFIG:"
expect "and the running policy stays" open_from 10.77.0.9
sed 's/^dst-port = "555"$/dst-port = "5555"/' "$CONFIG.good" >"$CONFIG"
kill -HUP "$LAB_GATE_PID"
expect "SIGHUP reloads a changed recipe" wait_log "knockgate: reloaded $CONFIG"
expect "grants survive the reload" open_from 10.77.0.9
nmap_knock 10.77.0.3 888 5555 222
expect "the reloaded sequence (888 5555 222) opens" open_from 10.77.0.3
nmap_knock 10.77.0.4 888 555 222
expect "the old sequence no longer does" closed_from 10.77.0.4

lab_gate_stop
expect "knockgate stops cleanly and prints its counters" grep -q '^final counters:' "$LOG"

# The seed's RouterOS commands, imported, behave like the shipped recipe.
IMPORTED=/tmp/kg-$ID-imported.toml
"$LAB_KNOCKGATE" --import-routeros "$HERE/../data/seed.rsc" >"$IMPORTED"
expect "the seed's RouterOS commands import" test -s "$IMPORTED"
LOG=/tmp/kg-$ID-gate-imported.log
lab_gate_start "$ID" "$(lab_config "$ID" "$WINDOW" "${GRANT}s" "$IMPORTED")" "$LOG" || exit 1
expect "the imported recipe keeps the server invisible" closed_from 10.77.0.9
nmap_knock 10.77.0.9 888 555 222
expect "the imported recipe opens to the same knock" open_from 10.77.0.9
nmap_knock 10.77.0.3 555 888 222
expect "and stays closed to a wrong order" closed_from 10.77.0.3
lab_gate_stop
if ((fail)); then
  echo "--- gate log ---"
  cat "$LOG"
fi
exit $fail

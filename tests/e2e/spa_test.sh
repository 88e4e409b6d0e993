#!/usr/bin/env bash
# Single packet authorization in the lab: Debian's fwknop client against a
# [[spa]] section behind the shipped recipe; the same packet replayed
# (socat) from the same source after its grant expired and from another
# source, a wrong key, a clock ten minutes off; a granted client's next
# packets (never forwarded, a valid one refreshes); fwknop -s; knocks keep
# working beside it; two users with their own keys on one port. Needs root.
# Usage: spa_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=s$$$RANDOM
ID=${ID:0:8}
LOG=/tmp/kg-$ID-gate.log
KEYS=$HERE/../data/spa/keys.txt
KEY=$(sed -n 's/^KEY_BASE64: *//p' "$KEYS")
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: *//p' "$KEYS")
OTHER_KEY=$(sed -n 's/^OTHER_KEY_BASE64: *//p' "$KEYS")
OTHER_HMAC=$(sed -n 's/^OTHER_HMAC_KEY_BASE64: *//p' "$KEYS")
trap 'lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT

C="ip netns exec $(lab_ns "$ID" c)"
SERVER=$LAB_SERVER_IP
open_from() { lab_open "$ID" "$1"; }
closed_from() { ! open_from "$1"; }
spa() {  # spa ARGS...: fwknop from the client's namespace, no rc file (ACCESS: -A)
  HOME=/tmp/kg-$ID-home $C fwknop -A "${ACCESS:-tcp/80}" -D "$SERVER" --use-hmac --no-save-args "$@" \
    >>"/tmp/kg-$ID-fwknop.log" 2>&1
}
logged() { for _ in $(seq 1 20); do grep -q -- "$1" "$LOG" && return 0; sleep 0.1; done; return 1; }
# logged_times PATTERN N: the log holds exactly N such lines, once the last
# has had time to be written (the gate writes its log as it goes).
logged_times() {
  for _ in $(seq 1 20); do
    [[ $(grep -c -- "$1" "$LOG") -ge $2 ]] && break
    sleep 0.1
  done
  test "$(grep -c -- "$1" "$LOG")" -eq "$2"
}

mkdir -p "/tmp/kg-$ID-home"
lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
CONFIG=$(lab_config "$ID" 5s 300s)
sed -i "s|^socket = .*|socket = \"/tmp/kg-$ID-ctl.sock\"|" "$CONFIG"
cat >>"$CONFIG" <<TOML

# fwknopd's access.conf stanza, as a [[spa]] section.
[[spa]]
name = "web"
key-file = "$KEYS"
grant-list = "secured"
grant-timeout = "6s"
access = ["tcp/80"]

[[spa]]
name = "any-source"
key-file = "$KEYS"
port = 62202
grant-timeout = "6s"
require-source-address = false

# Two users on one port, each with their own keys and access (the address
# to open is the message's: the client sends from 10.77.0.2).
[[spa]]
name = "alice"
key-file = "$KEYS"
port = 62203
grant-timeout = "6s"
require-source-address = false
access = ["tcp/80"]

[[spa]]
name = "bob"
key-base64 = "$OTHER_KEY"
hmac-key-base64 = "$OTHER_HMAC"
port = 62203
grant-timeout = "6s"
require-source-address = false
access = ["tcp/22"]
TOML
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1

expect "the server is invisible before the SPA packet" closed_from 10.77.0.2
spa -a 10.77.0.2 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC" -B "/tmp/kg-$ID-spa.pkt"
expect "fwknop's SPA packet opens it to curl" open_from 10.77.0.2
expect "the grant is logged" logged "spa-grant user=web list=secured address=10.77.0.2 timeout=6s"
sleep 6.5
expect "the grant expires" closed_from 10.77.0.2

PACKET=$(cat "/tmp/kg-$ID-spa.pkt")
printf '%s' "$PACKET" | $C socat -u - "UDP4-SENDTO:$SERVER:62201,bind=10.77.0.2"
expect "the same packet again from the same source does not open it" closed_from 10.77.0.2
expect "it is refused as a replay" logged "spa-reject user=web reason=replay"
printf '%s' "$PACKET" | $C socat -u - "UDP4-SENDTO:$SERVER:62201,bind=10.77.0.3"
expect "from another source it does not either" closed_from 10.77.0.3
expect "refused for its source" logged "spa-reject user=web reason=source"

spa -a 10.77.0.2 --key-base64-rijndael "$OTHER_KEY" --key-base64-hmac "$OTHER_HMAC"
expect "a client with the wrong keys stays out" closed_from 10.77.0.2
expect "refused at the HMAC" logged "spa-reject user=web reason=hmac"
spa -a 10.77.0.2 --time-offset-minus 10m --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
expect "a message with the clock ten minutes off stays out" closed_from 10.77.0.2
expect "refused as stale" logged "spa-reject user=web reason=stale"

# A granted client's next SPA packets pass the recipe's "accept secured"
# rule, which stands before the section: they must still be verified, never
# forwarded, and a valid one refreshes the grant. The LAN side watches for
# them, and for a plain UDP datagram the accept rule does forward (the
# capture's own check).
S="ip netns exec $(lab_ns "$ID" s)"
CAP=/tmp/kg-$ID-lan.pcap
$S tcpdump -n -U -i s0 -w "$CAP" 'udp and (port 62201 or port 62202 or port 9999)' \
  2>"/tmp/kg-$ID-tcpdump.log" &
TCPDUMP=$!
for _ in $(seq 1 50); do grep -q listening "/tmp/kg-$ID-tcpdump.log" && break; sleep 0.1; done
spa -a 10.77.0.2 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
expect "a new grant opens it again" open_from 10.77.0.2
spa -a 10.77.0.2 --key-base64-rijndael "$OTHER_KEY" --key-base64-hmac "$OTHER_HMAC"
expect "a granted client's forged SPA packet is refused at the HMAC" \
  logged_times 'spa-reject user=web reason=hmac' 2
sleep 3
spa -a 10.77.0.2 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
expect "a granted client's valid SPA packet refreshes its grant" \
  logged "spa-grant user=web list=secured address=10.77.0.2 timeout=6s refresh=yes"
echo datagram | $C socat -u - "UDP4-SENDTO:$SERVER:9999,bind=10.77.0.2"
sleep 4
expect "the refreshed grant outlives the first one's six seconds" open_from 10.77.0.2
sleep 0.5
kill -INT "$TCPDUMP"
wait "$TCPDUMP"
lan_udp() { tcpdump -n -r "$CAP" 2>/dev/null | grep -c "> $SERVER.$1:" ; }
expect "the LAN saw the accepted datagram (the capture works)" test "$(lan_udp 9999)" -eq 1
expect "the LAN saw none of the SPA packets" test "$(lan_udp 62201)" -eq 0
sleep 2.5

# fwknop -s: "use my packet's source" (the message says 0.0.0.0). Refused
# where the address inside is required; granted to the packet's source
# where it is not, as fwknopd does.
spa -s --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
expect "fwknop -s is refused where the source address is required" \
  logged_times 'spa-reject user=web reason=source' 2
expect "and opens nothing" closed_from 10.77.0.2
spa -s -p 62202 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
expect "fwknop -s grants the packet's source where it is not required" \
  logged "spa-grant user=any-source list=secured address=10.77.0.2 timeout=6s worker"
expect "which opens it" open_from 10.77.0.2
expect "0.0.0.0 is never granted" sh -c "! grep -q 'address=0.0.0.0' '$LOG'"

# Two users on port 62203: each gets in with their own keys, and bob's
# message asking for alice's tcp/80 is refused in bob's name.
spa -p 62203 -a 10.77.0.6 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
expect "alice gets in with her keys" logged "spa-grant user=alice list=secured address=10.77.0.6 "
expect "which opens it to her" open_from 10.77.0.6
spa -p 62203 -a 10.77.0.7 --key-base64-rijndael "$OTHER_KEY" --key-base64-hmac "$OTHER_HMAC"
expect "bob asking for tcp/80 is refused: his access is tcp/22" \
  logged "spa-reject user=bob reason=access "
expect "and stays out" closed_from 10.77.0.7
ACCESS=tcp/22 spa -p 62203 -a 10.77.0.7 --key-base64-rijndael "$OTHER_KEY" --key-base64-hmac "$OTHER_HMAC"
expect "bob gets in with his keys for tcp/22" \
  logged "spa-grant user=bob list=secured address=10.77.0.7 "

for x in 888 555 222; do $C nmap -n -Pn -S 10.77.0.5 -e c0 -p $x "$SERVER" >/dev/null 2>&1; done
expect "knock sequences still work beside SPA" open_from 10.77.0.5
lab_gate_stop
expect "every SPA packet was consumed, none forwarded (drop reason spa)" grep -q "^drops:.* spa=13" "$LOG"
expect "the final counters count SPA by reason" \
  grep -q "^spa web: accepts=3 rejects: format=0 hmac=2 stale=1 source=2 access=0 replay=1" "$LOG"
expect "and the other section's" \
  grep -q "^spa any-source: accepts=1 rejects: format=0 hmac=0 stale=0" "$LOG"
expect "and each user's on the shared port" \
  grep -q "^spa bob: accepts=1 rejects: format=0 hmac=0 stale=0 source=0 access=1 " "$LOG"
if ((fail)); then
  cat "/tmp/kg-$ID-fwknop.log"
  cat "$LOG"
fi
exit $fail

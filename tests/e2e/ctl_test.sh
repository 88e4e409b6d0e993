#!/usr/bin/env bash
# Operating a running gateway in the lab: knockgate ctl over its control
# socket (list print/add/remove, stats, reload, errors, a silent client) and
# DPDK telemetry with Debian's dpdk-telemetry.py. Needs root.
# Usage: ctl_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=k$$$RANDOM
ID=${ID:0:8}
LOG=/tmp/kg-$ID-gate.log
SOCK=/tmp/kg-$ID-ctl/control.sock
STATE=/tmp/kg-$ID-lists.state
trap 'lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT

C="ip netns exec $(lab_ns "$ID" c)"
SERVER=$LAB_SERVER_IP
open_from() { lab_open "$ID" "$1"; }
closed_from() { ! open_from "$1"; }
ctl() { "$LAB_KNOCKGATE" ctl --config "$CONFIG" "$@"; }
ctl_says() {  # ctl_says PATTERN ARGS...: exit 0 and PATTERN in the output
  local pattern=$1
  shift
  ctl "$@" >"/tmp/kg-$ID-out" 2>&1 && grep -q -- "$pattern" "/tmp/kg-$ID-out"
}
ctl_refuses() {  # ctl_refuses PATTERN ARGS...: exit 1 and PATTERN on stderr
  local pattern=$1
  shift
  ! ctl "$@" >/dev/null 2>"/tmp/kg-$ID-err" && grep -q -- "$pattern" "/tmp/kg-$ID-err"
}

lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
CONFIG=$(lab_config "$ID" 5s 300s)
sed -i "s|^socket = .*|socket = \"$SOCK\"|" "$CONFIG"
grep -q "^socket = \"$SOCK\"" "$CONFIG" || { echo "FAIL - the shipped config names no socket"; exit 1; }
cat >>"$CONFIG" <<TOML

[state]
file = "$STATE"
interval = "1s"

[metrics]
listen = "127.0.0.1:9641"

[[address-list]]
list = "secured"
address = "10.77.0.9"
TOML
# systemd's notify protocol, with a listener in its place.
NOTES=/tmp/kg-$ID-notify.txt
/usr/bin/python3 "$HERE/notify_listener.py" "/tmp/kg-$ID-notify.sock" "$NOTES" &
LISTENER=$!
PROMETHEUS=
trap 'kill $LISTENER $PROMETHEUS 2>/dev/null; lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT
for _ in $(seq 1 20); do [[ -S /tmp/kg-$ID-notify.sock ]] && break; sleep 0.1; done
NOTIFY_SOCKET=/tmp/kg-$ID-notify.sock WATCHDOG_USEC=400000 lab_gate_start "$ID" "$CONFIG" "$LOG" ||
  exit 1

expect "systemd hears READY=1 with a status line" \
  grep -q "^READY=1 | STATUS=forwarding: 1 worker(s), 9 rules, policy generation 0$" "$NOTES"
sleep 1
expect "and watchdog pings while the workers run (every 200 ms)" \
  test "$(grep -c '^WATCHDOG=1$' "$NOTES")" -ge 4
expect "the control socket is 0600" test "$(stat -c %a "$SOCK")" = 600
expect "list print shows the static entry" ctl_says "10.77.0.9 .*static" list print secured
expect "a static entry lets its client in" open_from 10.77.0.9

expect "before: 10.77.0.3 is shut out" closed_from 10.77.0.3
expect "list add secured 10.77.0.3 (no timeout)" ctl_says "added 10.77.0.3 in secured" \
  list add secured 10.77.0.3
expect "it is let in at once" open_from 10.77.0.3
expect "and the add is logged as an event" grep -q "list-add by=ctl list=secured address=10.77.0.3 " "$LOG"
expect "list print shows it until removed" ctl_says "10.77.0.3 .*none-dynamic" list print secured

expect "list add with --timeout 3s" ctl_says "added 10.77.0.4" list add secured 10.77.0.4 --timeout 3s
expect "that client is let in" open_from 10.77.0.4
sleep 3.5
expect "and shut out again when the timeout ran out" closed_from 10.77.0.4

for x in 888 555 222; do $C nmap -n -Pn -S 10.77.0.5 -e c0 -p $x "$SERVER" >/dev/null 2>&1; done
expect "a knocking client is granted" open_from 10.77.0.5
expect "list print shows the knocked grant with its time left" ctl_says "10.77.0.5 .*[0-9]m" \
  list print secured
expect "list remove secured 10.77.0.5" ctl_says "removed 10.77.0.5 from secured" \
  list remove secured 10.77.0.5
expect "ends that client's access at once" closed_from 10.77.0.5
expect "and is logged" grep -q "list-remove by=ctl list=secured address=10.77.0.5 " "$LOG"

expect "removing a static entry is refused, saying why" \
  ctl_refuses "static entry of \"secured\"" list remove secured 10.77.0.9
expect "an unknown list is refused, naming the lists" \
  ctl_refuses 'no address list is named "nope" (lists: ' list add nope 10.77.0.6
expect "a bad address is refused" ctl_refuses '"10.77.0.300" is not an IPv4' \
  list add secured 10.77.0.300
expect "removing an absent address says so" ctl_refuses "is not in" list remove secured 10.77.0.6
expect "an unknown command is refused" ctl_refuses "unknown command" frobnicate
expect "a bad timeout is refused" ctl_refuses "--timeout" list add secured 10.77.0.6 --timeout soon

# A client that connects and says nothing does not block the others.
socat -u EXEC:"sleep 8" "UNIX-CONNECT:$SOCK" &
silent=$!
sleep 0.3
start=$(date +%s%N)
expect "stats answers while a silent client holds a connection" ctl_says "worker" stats
expect "within a second" test $((($(date +%s%N) - start) / 1000000)) -lt 1000
kill "$silent" 2>/dev/null

expect "reload prints the result" ctl_says "reloaded $CONFIG" reload
expect "systemd hears RELOADING=1, then READY=1 with the new generation" \
  sh -c "grep -v WATCHDOG '$NOTES' | grep -A1 '^RELOADING=1$' | grep -q 'READY=1 | STATUS=forwarding: .*generation 1'"
cp "$CONFIG" "$CONFIG.good"
echo 'not = = toml' >>"$CONFIG"
expect "a bad reload fails with the reason" ctl_refuses "$CONFIG:" reload
# A reload applies each section whole or refuses, naming every section that
# needs a restart, and leaves the running config as it was: here [metrics]
# moved to another port, [state] saves every 2s and a knock step changed.
sed -e 's/^listen = "127.0.0.1:9641"$/listen = "127.0.0.1:9642"/' -e 's/^interval = "1s"$/interval = "2s"/' \
  -e 's/^dst-port = "555"$/dst-port = "5555"/' "$CONFIG.good" >"$CONFIG"
grep -q '9642' "$CONFIG" && grep -q '"2s"' "$CONFIG" && grep -q '"5555"' "$CONFIG" ||
  echo "FAIL - the edited config did not take its edits"
expect "ctl reload refuses, naming every section that needs a restart" \
  ctl_refuses "changes that need a restart, so nothing was applied: \[state\], \[metrics\]" reload
G="ip netns exec $(lab_ns "$ID" g)"
ip -n "$(lab_ns "$ID" g)" link set lo up
expect "metrics are still served where they were" \
  sh -c "$G curl -s -m 2 http://127.0.0.1:9641/metrics | grep -q '^knockgate_policy_generation 1$'"
expect "and not where the file now says" sh -c "! $G curl -s -m 1 http://127.0.0.1:9642/metrics"
nmap_knock() { for x in "${@:2}"; do $C nmap -n -Pn -S "$1" -e c0 -p "$x" "$SERVER" >/dev/null 2>&1; done; }
nmap_knock 10.77.0.4 888 5555 222
expect "the rules in the same file were not applied either" closed_from 10.77.0.4
kill -HUP "$LAB_GATE_PID"
expect "SIGHUP logs the same line" sh -c "for _ in \$(seq 1 50); do grep -q 'reload failed, keeping the running config: changes that need a restart, so nothing was applied: \[state\], \[metrics\]' '$LOG' && exit 0; sleep 0.1; done; exit 1"
sed -e 's/^dst-port = "555"$/dst-port = "5555"/' "$CONFIG.good" >"$CONFIG"
expect "with only the rules changed, the reload applies them" ctl_says "reloaded $CONFIG" reload
nmap_knock 10.77.0.4 888 5555 222
expect "and the new knock opens" open_from 10.77.0.4
ctl list remove secured 10.77.0.4 >/dev/null
cp "$CONFIG.good" "$CONFIG"
expect "and back" ctl_says "reloaded $CONFIG" reload
expect "the gateway runs on after a client's mistakes" open_from 10.77.0.3
no_gateway() {
  ! "$LAB_KNOCKGATE" ctl --socket "/tmp/kg-$ID-none.sock" stats 2>"/tmp/kg-$ID-err" &&
    grep -q "cannot reach knockgate" "/tmp/kg-$ID-err"
}
expect "ctl without a gateway says it cannot reach one" no_gateway

# DPDK telemetry, with Debian's client (it reads commands from stdin).
tel() { echo "$1" | dpdk-telemetry.py -f "kg$ID" 2>&1 | tr -d ' \n'; }
tel_says() {  # tel_says PATTERN COMMAND: the reply, spaces and newlines gone, has PATTERN
  local out
  out=$(tel "$2")
  grep -q -- "$1" <<<"$out" || { echo "# $2 answered: ${out:0:300}"; return 1; }
}
expect "/knockgate/info names the config and the steering" \
  tel_says "\"config\":\"$CONFIG\".*\"steering\":\"single\",\"workers\":1" /knockgate/info
expect "/knockgate/stats counts the ports and drops live" \
  tel_says '"port/wan":{"rx":[1-9][0-9]*.*"drops":{.*"wan_default":[1-9]' /knockgate/stats
expect "/knockgate/rules counts the secured rule's packets" \
  tel_says '"rule/8":{"index":8,"action":"accept","packets":[1-9][0-9]*,"bytes":[1-9][0-9]*,"disabled":0,"comment":"[^"]*secured' \
  /knockgate/rules
expect "/knockgate/lists shows secured's entries and capacity" \
  tel_says '"list/0":{"name":"secured","entries":1,"capacity":65536,"inserts":[0-9]*,"evictions":0}' /knockgate/lists
expect "/knockgate/list,secured pages its entries and statics" \
  tel_says '"page":0,"pages":1,"address":\["10.77.0.3"\],"remaining_s":\[-1\],"static":\["10.77.0.9"\]' \
  /knockgate/list,secured
expect "/knockgate/list of an unknown list answers an error" \
  tel_says '"error":"noaddresslistisnamed' /knockgate/list,nope

for x in 888 555 222; do $C nmap -n -Pn -S 10.77.0.6 -e c0 -p $x "$SERVER" >/dev/null 2>&1; done
expect "a client knocks in before a restart" open_from 10.77.0.6
# Prometheus: the exposition passes promtool, and a real server scrapes it
# and answers a query for a grant after a knock.
$G curl -s -m 2 http://127.0.0.1:9641/metrics >"/tmp/kg-$ID-metrics.txt"
expect "GET /metrics passes promtool check metrics" \
  sh -c "promtool check metrics <'/tmp/kg-$ID-metrics.txt' >'/tmp/kg-$ID-promtool.txt' 2>&1"
grep -q . "/tmp/kg-$ID-promtool.txt" && sed 's/^/# promtool: /' "/tmp/kg-$ID-promtool.txt"
expect "it counts the ports, drops, rules and lists" sh -c "
  grep -q '^knockgate_port_packets_total{port=\"wan\",direction=\"rx\"} [1-9]' '/tmp/kg-$ID-metrics.txt' &&
  grep -q '^knockgate_drops_total{reason=\"wan_default\"} [1-9]' '/tmp/kg-$ID-metrics.txt' &&
  grep -q '^knockgate_rule_packets_total{rule=\"[0-9]*\",comment=\"[^\"]*secured[^\"]*\"} [1-9]' '/tmp/kg-$ID-metrics.txt' &&
  grep -q '^knockgate_list_entries{list=\"secured\"} [1-9]' '/tmp/kg-$ID-metrics.txt' &&
  grep -q '^knockgate_policy_generation 3$' '/tmp/kg-$ID-metrics.txt' &&
  grep -q '^knockgate_log_lines_total{result=\"written\"} [1-9]' '/tmp/kg-$ID-metrics.txt'"
lab_prometheus "$ID" "/tmp/kg-$ID-prometheus"
PROMETHEUS=$LAB_PROMETHEUS_PID
query() {  # the first value of an instant query, or nothing
  $G curl -s -m 2 "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$1" |
    sed -n 's/.*"value":\[[0-9.]*,"\([0-9.]*\)"\].*/\1/p'
}
for _ in $(seq 1 60); do [[ -n $(query 'knockgate_policy_generation') ]] && break; sleep 0.5; done
before=$(query 'knockgate_list_inserts_total{list="secured"}')
for x in 888 555 222; do $C nmap -n -Pn -S 10.77.0.8 -e c0 -p $x "$SERVER" >/dev/null 2>&1; done
after=$before
for _ in $(seq 1 40); do
  after=$(query 'knockgate_list_inserts_total{list="secured"}')
  [[ -n $after && -n $before && $after -gt $before ]] && break
  sleep 0.5
done
echo "# prometheus: knockgate_list_inserts_total{list=\"secured\"} ${before:-none} -> ${after:-none}"
expect "a Prometheus server scrapes the gate and sees the grant after a knock" \
  test -n "$before" -a -n "$after" -a "${after:-0}" -gt "${before:-0}"
kill "$PROMETHEUS" 2>/dev/null
wait "$PROMETHEUS" 2>/dev/null

# One collector: /metrics, telemetry and the stop report agree on a quiet
# gateway (drops by reason, every rule, every list, events lost).
sleep 1
$G curl -s -m 2 http://127.0.0.1:9641/metrics >"/tmp/kg-$ID-views-metrics.txt"
printf '/knockgate/stats\n/knockgate/rules\n/knockgate/lists\n' | dpdk-telemetry.py -f "kg$ID" \
  >"/tmp/kg-$ID-views-telemetry.txt" 2>&1
lab_gate_stop
expect "the three views of the counters agree" /usr/bin/python3 "$HERE/views_agree.py" \
  "/tmp/kg-$ID-views-metrics.txt" "/tmp/kg-$ID-views-telemetry.txt" "$LOG"
expect "systemd hears STOPPING=1" grep -q "^STOPPING=1$" "$NOTES"
expect "the socket is removed at stop" test ! -e "$SOCK"
expect "the state file holds the grants at stop" \
  sh -c "head -1 '$STATE' | grep -qx 'knockgate-state 1' && grep -q '^secured	10.77.0.6	[0-9]' '$STATE' && grep -q '^secured	10.77.0.3	never' '$STATE'"

# Grants survive a restart, with the time they had left.
LOG=/tmp/kg-$ID-gate-2.log
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1
expect "the restart restores them and says so" grep -q "restored [1-9][0-9]* list entries from $STATE" "$LOG"
expect "the knocked grant survives the restart" open_from 10.77.0.6
expect "and so does the ctl add without a timeout" open_from 10.77.0.3
expect "an entry removed before the restart stays removed" closed_from 10.77.0.5
expect "restored grants keep their remaining time" ctl_says "10.77.0.6 .*[0-9]m" list print secured
lab_gate_stop

# A damaged state file is set aside and the gateway starts anyway.
printf 'knockgate-state 1\nsecured\t10.77.0.7\tnev' >"$STATE"
LOG=/tmp/kg-$ID-gate-3.log
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1
expect "a truncated state file is reported in one line" \
  grep -q "state file unusable, set aside as $STATE.bad-[0-9]*, lists start empty: $STATE:2: truncated" "$LOG"
expect "and set aside, not deleted" sh -c "ls $STATE.bad-* >/dev/null"
expect "nothing of it is loaded" closed_from 10.77.0.7
expect "the gateway runs" ctl_says "worker" stats
lab_gate_stop
if ((fail)); then
  echo "--- gate log ---"
  cat "$LOG"
fi
exit $fail

#!/usr/bin/env bash
# Two gateways sharing grants and jails through one real redis-server on a
# Unix socket (started here): two labs whose clients share their addresses,
# a knock through gate A opens gate B, a jail on B shuts A, B restarted
# learns what A granted meanwhile, Redis stopped leaves both enforcing, Redis
# started again (empty) converges them. A Prometheus server scrapes gate A
# throughout, and every query of the shipped Grafana dashboard returns data
# from it. Needs root.
# Usage: sync_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

A=a$$$RANDOM
A=${A:0:7}
B=b${A:1}
TMP=/tmp/kg-$A-sync
mkdir -p "$TMP"
SOCK=$TMP/redis.sock
GATE_A=
GATE_B=
REDIS=
PROMETHEUS=
KEYS=$HERE/../data/spa/keys.txt
stop_pid() { [[ -n $1 ]] && kill -INT "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
cleanup() {
  [[ -n $PROMETHEUS ]] && kill "$PROMETHEUS" 2>/dev/null
  stop_pid "$GATE_A"
  stop_pid "$GATE_B"
  [[ -n $REDIS ]] && kill "$REDIS" 2>/dev/null
  lab_down "$A"
  lab_down "$B"
  rm -rf /tmp/kg-$A-* /tmp/kg-$B-*
}
trap cleanup EXIT

curl_via() { lab_open "$1" "$2"; }  # curl_via LAB SOURCE: through that lab's gate
# Until it holds, within 5 s: what crosses between gates takes a moment.
open_via() { for _ in $(seq 1 25); do curl_via "$1" "$2" && return 0; sleep 0.2; done; return 1; }
closed_via() { for _ in $(seq 1 25); do curl_via "$1" "$2" || return 0; sleep 0.2; done; return 1; }
knock_via() {  # knock_via LAB SOURCE
  local x
  for x in 888 555 222; do
    ip netns exec "$(lab_ns "$1" c)" nmap -n -Pn -S "$2" -e c0 -p "$x" "$LAB_SERVER_IP" >/dev/null 2>&1
  done
}
logged() {  # logged FILE PATTERN: within 10 s
  for _ in $(seq 1 50); do grep -q -- "$2" "$1" && return 0; sleep 0.2; done
  return 1
}
start_redis() {
  redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --save '' --appendonly no \
    --daemonize no >"$TMP/redis.log" 2>&1 &
  REDIS=$!
  for _ in $(seq 1 50); do redis-cli -s "$SOCK" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  echo "redis-server did not start" >&2
  cat "$TMP/redis.log" >&2
  return 1
}
config_for() {  # config_for LAB NODE: the shipped recipe, blacklists on, [sync]
  local c
  c=$(lab_config "$1" 5s 300s)
  # The recipe ships its blacklist rules disabled (its only disabled ones); here they jail.
  sed -i '/^disabled = true$/d' "$c"
  sed -i "s|^socket = .*|socket = \"$TMP/ctl-$1.sock\"|" "$c"
  cat >>"$c" <<TOML

[sync]
redis = "unix://$SOCK"
lists = ["secured", "blacklist"]
node = "$2"

[metrics]
listen = "127.0.0.1:9641"

[[spa]]
name = "web"
key-file = "$KEYS"
access = ["tcp/80"]
TOML
  echo "$c"
}
ctl() { "$LAB_KNOCKGATE" ctl --socket "$TMP/ctl-$1.sock" "${@:2}"; }

start_redis || exit 1
for lab in "$A" "$B"; do
  lab_up "$lab" || exit 1
  lab_http "$lab" || exit 1
done
CONF_A=$(config_for "$A" gate-a)
CONF_B=$(config_for "$B" gate-b)
LOG_A=$TMP/gate-a.log
LOG_B=$TMP/gate-b.log
lab_gate_start "$A" "$CONF_A" "$LOG_A" || exit 1
GATE_A=$LAB_GATE_PID
lab_gate_start "$B" "$CONF_B" "$LOG_B" || exit 1
GATE_B=$LAB_GATE_PID
expect "gate A says what it shares" grep -q "sync: sharing secured, blacklist through unix://$SOCK as gate-a" "$LOG_A"
# Prometheus scrapes gate A from its namespace for the dashboard's queries.
GA="ip netns exec $(lab_ns "$A" g)"
lab_prometheus "$A" "$TMP/prometheus"
PROMETHEUS=$LAB_PROMETHEUS_PID

expect "the server is shut through both gates" closed_via "$A" 10.77.0.2
expect "  (gate B too)" closed_via "$B" 10.77.0.2
knock_via "$A" 10.77.0.2
expect "a knock through gate A opens it there" open_via "$A" 10.77.0.2
expect "and through gate B, without knocking" open_via "$B" 10.77.0.2
expect "Redis holds the grant as PREFIX:e:LIST:ADDRESS, expiring at its absolute time" \
  bash -c "redis-cli -s '$SOCK' pttl knockgate:e:secured:10.77.0.2 | awk '\$1 > 290000 && \$1 <= 300000 {ok=1} END {exit !ok}'"
expect "gate B logs where it came from" logged "$LOG_B" "list-add by=sync list=secured address=10.77.0.2"
KEY=$(sed -n 's/^KEY_BASE64: *//p' "$KEYS")
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: *//p' "$KEYS")
HOME=$TMP ip netns exec "$(lab_ns "$A" c)" fwknop -A tcp/80 -a 10.77.0.2 -D "$LAB_SERVER_IP" \
  --use-hmac --no-save-args --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC" >/dev/null 2>&1
expect "an fwknop packet through gate A refreshes the grant" \
  logged "$LOG_A" "spa-grant user=web list=secured address=10.77.0.2 timeout=30m refresh=yes"
ip netns exec "$(lab_ns "$A" g)" curl -s -m 2 http://127.0.0.1:9641/metrics >"$TMP/metrics-a.txt"
expect "gate A's /metrics passes promtool" \
  sh -c "test -s '$TMP/metrics-a.txt' && promtool check metrics <'$TMP/metrics-a.txt' >/dev/null 2>&1"
expect "  and says it is connected and has published" \
  grep -qx 'knockgate_sync_connected 1' "$TMP/metrics-a.txt"
expect "  (published > 0)" \
  grep -q '^knockgate_sync_changes_total{result="published"} [1-9]' "$TMP/metrics-a.txt"

knock_via "$A" 10.77.0.3
expect "10.77.0.3 knocks through A" open_via "$A" 10.77.0.3
ip netns exec "$(lab_ns "$B" c)" nmap -n -Pn -S 10.77.0.3 -e c0 -p 666 "$LAB_SERVER_IP" >/dev/null 2>&1
expect "a jail on gate B (port 666) shuts it out through B" closed_via "$B" 10.77.0.3
expect "and through gate A" closed_via "$A" 10.77.0.3

stop_pid "$GATE_B"
GATE_B=
knock_via "$A" 10.77.0.4
expect "with gate B stopped, 10.77.0.4 knocks through A" open_via "$A" 10.77.0.4
lab_gate_start "$B" "$CONF_B" "$LOG_B.2" || exit 1
GATE_B=$LAB_GATE_PID
expect "gate B, started again, knows the grant it missed" open_via "$B" 10.77.0.4
expect "  (and the older ones)" open_via "$B" 10.77.0.2
expect "  (and the jail)" closed_via "$B" 10.77.0.3

ctl "$A" list remove secured 10.77.0.2 >/dev/null
expect "a removal with knockgate ctl on A shuts 10.77.0.2 out through B" closed_via "$B" 10.77.0.2

kill "$REDIS"
wait "$REDIS" 2>/dev/null
REDIS=
expect "with Redis stopped, granted clients still get through A" open_via "$A" 10.77.0.4
expect "  and through B" open_via "$B" 10.77.0.4
expect "  and jails still hold" closed_via "$A" 10.77.0.3
knock_via "$A" 10.77.0.5
expect "a knock through A works without Redis" open_via "$A" 10.77.0.5
expect "gate A logs the outage" logged "$LOG_A" "sync: lost Redis at unix://$SOCK"
sleep 3
expect "  once, not once per retry" test "$(grep -c 'sync: lost Redis' "$LOG_A")" -eq 1

start_redis || exit 1
expect "Redis started again (empty): gate B learns A's grant made meanwhile" open_via "$B" 10.77.0.5
expect "gate A says Redis is back" logged "$LOG_A" "sync: Redis at unix://$SOCK is back after"
expect "Redis is refilled with the gates' entries" \
  bash -c "redis-cli -s '$SOCK' exists knockgate:e:secured:10.77.0.4 knockgate:e:blacklist:10.77.0.3 | grep -qx 2"

# The shipped dashboard, query by query, against what Prometheus scraped.
for _ in $(seq 1 40); do
  [[ -n $($GA curl -s -m 2 'http://127.0.0.1:9090/api/v1/query?query=knockgate_sync_lag_seconds' |
    grep -o '"value"') ]] && break
  sleep 0.5
done
$GA /usr/bin/python3 "$HERE/dashboard_check.py" "$HERE/../../conf/grafana/knockgate.json" \
  http://127.0.0.1:9090 >"$TMP/dashboard.txt" 2>&1
expect "every query of the Grafana dashboard returns data from Prometheus" \
  grep -q '^# [1-9][0-9]* queries run, 0 failed$' "$TMP/dashboard.txt"
grep -v '^ok ' "$TMP/dashboard.txt"
kill "$PROMETHEUS" 2>/dev/null
wait "$PROMETHEUS" 2>/dev/null
PROMETHEUS=

stop_pid "$GATE_A"
GATE_A=
stop_pid "$GATE_B"
GATE_B=
expect "gate A's final counters count what it published and applied" \
  grep -q "^sync: connected to unix://$SOCK as gate-a, published [1-9][0-9]*, applied [1-9]" "$LOG_A"
if ((fail)); then
  for f in "$LOG_A" "$LOG_B" "$LOG_B.2" "$TMP/redis.log"; do
    echo "--- $f"
    cat "$f"
  done
fi
exit $fail

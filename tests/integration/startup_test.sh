#!/usr/bin/env bash
# Start-up errors end in one clear line and a non-zero exit; SIGTERM stops a
# running gate cleanly with its counters. net_null ports stand in for NICs.
set -u
KG=$1
SRC=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" /var/run/dpdk/kgstart$$*' EXIT
fail=0
n=0

config() {  # config WAN LAN WORKERS MBUFS
  sed -e "s/\"net_af_packet0\"/\"$1\"/; s/\"net_af_packet1\"/\"$2\"/" \
      -e "s/^workers = 1/workers = $3/; s/^mbufs = 65536/mbufs = $4/" \
      "$SRC/conf/knockgate.toml" >"$tmp/c.toml"
}
run() {  # run LCORES EXTRA_VDEV_ARGS...: knockgate on two net_null ports
  n=$((n + 1))
  local lcores=$1
  shift
  timeout -s TERM 5 "$KG" -l "$lcores" --no-huge -m 256 --no-pci --no-shconf \
    --file-prefix "kgstart$$-$n" "$@" -- --config "$tmp/c.toml" >"$tmp/out" 2>&1
}
expect_error() {  # expect_error WHAT PATTERN
  local rc=$1 what=$2 pattern=$3
  if [[ $rc -ne 0 && $rc -ne 124 ]] && grep -q -- "$pattern" "$tmp/out"; then
    echo "ok   - $what"
  else
    echo "FAIL - $what (exit $rc)"
    cat "$tmp/out"
    fail=1
  fi
}
nulls=(--vdev net_null0 --vdev net_null1)

config net_nowhere net_null1 1 8192
run 0-1 "${nulls[@]}"
expect_error $? "an unknown port is named" 'port "net_nowhere" not found (ports present: net_null0, net_null1)'

config net_null0 net_null1 3 16384
run 0-1 "${nulls[@]}"
expect_error $? "too few lcores for the workers" '3 workers need 4 lcores'

config net_null0 net_null1 1 1024
run 0-1 "${nulls[@]}"
expect_error $? "a mempool too small for the queues" 'mbufs = 1024 is too small'

/usr/bin/python3 - "$tmp/big.pcap" <<'PY'
import sys
from scapy.all import IP, TCP, Ether, wrpcap
frame = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / IP(dst="192.0.2.10") / TCP(dport=80)
wrpcap(sys.argv[1], [frame] * 9000)
PY
config net_pcap0 net_null1 1 8192
run 0-1 --vdev "net_pcap0,rx_pcap=$tmp/big.pcap,infinite_rx=1" --vdev net_null1
expect_error $? "a pcap with more packets than mbufs" 'mbufs must hold every packet of the pcap'

config net_null0 net_null1 1 8192
run 0-1 "${nulls[@]}"
rc=$?
if [[ $rc -eq 124 ]] && grep -q '^knockgate: SIGTERM, stopping' "$tmp/out" &&
  grep -q '^final counters:' "$tmp/out" && grep -q '^port wan: rx=[1-9]' "$tmp/out"; then
  echo "ok   - SIGTERM stops a running gate and prints its counters"
else
  echo "FAIL - SIGTERM stop (exit $rc)"
  cat "$tmp/out"
  fail=1
fi

# A [control] socket path that names a file: the gate runs without a socket
# and leaves the file alone.
config net_null0 net_null1 1 8192
echo "precious" >"$tmp/not-a-socket"
sed -i "s|^socket = .*|socket = \"$tmp/not-a-socket\"|" "$tmp/c.toml"
run 0-1 "${nulls[@]}"
rc=$?
if [[ $rc -eq 124 ]] && grep -q "warning: no control socket.*$tmp/not-a-socket exists and is not a socket" "$tmp/out" &&
  [[ $(cat "$tmp/not-a-socket") == precious ]]; then
  echo "ok   - a control socket path naming a file is refused and the file kept"
else
  echo "FAIL - a control socket path naming a file (exit $rc)"
  cat "$tmp/out"
  fail=1
fi

# Control threads (ctl, state saver, metrics server) run where no lcore polls:
# with both lcores on CPU 0, on CPU 1; with an lcore on every CPU, anywhere
# at the lowest priority. Read from /proc, as ps -L shows them.
thread_field() {  # thread_field PID NAME: "CPUS NICE" of the thread named NAME
  local t
  for t in /proc/"$1"/task/*; do
    if [[ $(cat "$t/comm" 2>/dev/null) == "$2" ]]; then
      echo "$(awk '/^Cpus_allowed_list:/{print $2}' "$t/status") $(awk '{print $19}' "$t/stat")"
      return
    fi
  done
  echo "missing"
}
placement() {  # placement LCORE-ARGS...: starts a gate, prints its control threads' places
  config net_null0 net_null1 1 8192
  sed -i "s|^socket = .*|socket = \"$tmp/ctl.sock\"|" "$tmp/c.toml"
  printf '\n[state]\nfile = "%s"\ninterval = "1s"\n\n[metrics]\nlisten = "127.0.0.1:%d"\n' \
    "$tmp/lists.state" $((19000 + $$ % 1000)) >>"$tmp/c.toml"
  n=$((n + 1))
  "$KG" "$@" --no-huge -m 256 --no-pci --no-shconf --file-prefix "kgstart$$-$n" \
    "${nulls[@]}" -- --config "$tmp/c.toml" >"$tmp/out" 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do grep -q '^knockgate: running' "$tmp/out" && break; sleep 0.1; done
  curl -s -m 2 "http://127.0.0.1:$((19000 + $$ % 1000))/metrics" >/dev/null
  sleep 0.2
  local name
  for name in kg-ctl kg-state kg-metrics rte-worker-1; do
    echo "$name $(thread_field "$pid" "$name")"
  done
  kill -TERM "$pid"
  wait "$pid"
}
if (($(nproc) >= 2)); then
  placement --lcores 0@0,1@0 >"$tmp/threads"
  if grep -q '^knockgate: control threads on CPUs 1, where no lcore polls (lcores on 0)' "$tmp/out" &&
    grep -q '^kg-ctl 1 0$' "$tmp/threads" && grep -q '^kg-state 1 0$' "$tmp/threads" &&
    grep -q '^kg-metrics 1 0$' "$tmp/threads" && grep -q '^rte-worker-1 0 ' "$tmp/threads"; then
    echo "ok   - with both lcores on CPU 0, the control threads run on CPU 1"
  else
    echo "FAIL - control threads beside lcores on CPU 0"
    cat "$tmp/threads" "$tmp/out"
    fail=1
  fi
  placement -l 0-1 >"$tmp/threads"
  if grep -q '^knockgate: control threads on CPUs 0,1 at the lowest priority' "$tmp/out" &&
    grep -q '^kg-ctl 0-1 19$' "$tmp/threads" && grep -q '^kg-state 0-1 19$' "$tmp/threads" &&
    grep -q '^kg-metrics 0-1 19$' "$tmp/threads"; then
    echo "ok   - with an lcore on every CPU, they run anywhere at the lowest priority"
  else
    echo "FAIL - control threads with an lcore on every CPU"
    cat "$tmp/threads" "$tmp/out"
    fail=1
  fi
fi

printf '[policy]\nwan-default = "maybe"\n' >"$tmp/c.toml"
"$KG" --no-huge -- --config "$tmp/c.toml" >"$tmp/out" 2>&1
expect_error $? "a bad config never starts EAL" "c.toml:2:15: wan-default: expected"
if grep -q '^EAL' "$tmp/out"; then
  echo "FAIL - EAL started for a bad config"
  fail=1
fi
exit $fail

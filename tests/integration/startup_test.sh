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

printf '[policy]\nwan-default = "maybe"\n' >"$tmp/c.toml"
"$KG" --no-huge -- --config "$tmp/c.toml" >"$tmp/out" 2>&1
expect_error $? "a bad config never starts EAL" "c.toml:2:15: wan-default: expected"
if grep -q '^EAL' "$tmp/out"; then
  echo "FAIL - EAL started for a bad config"
  fail=1
fi
exit $fail

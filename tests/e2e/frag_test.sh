#!/usr/bin/env bash
# IP fragments through the gate as a NIC delivers them: knockgate on net_pcap
# ports with iface= (libpcap; nothing reassembles in front of the gate, unlike
# net_af_packet's fanout group). A LAN host's UDP exchange with 3,000- and
# 6,000-byte replies, fragmented by the WAN host's kernel, must arrive; an
# unsolicited fragmented datagram from the WAN must not. With one worker and
# with two. Needs root. Usage: frag_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=f$$$RANDOM
ID=${ID:0:8}
trap 'lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT
PEER=$HERE/udp_peer.py
C="ip netns exec $(lab_ns "$ID" c)"
S="ip netns exec $(lab_ns "$ID" s)"

lab_up "$ID" || exit 1
$C "$PEER" serve 5353 &

run_with_workers() {
  local log=/tmp/kg-$1-gate.log config workers=$1
  export LAB_WORKERS=$workers
  config=$(lab_config "$ID" 30s 30m)
  sed -i -e 's/net_af_packet0/net_pcap0/; s/net_af_packet1/net_pcap1/' "$config"
  LAB_EAL="$(lab_lcores) --no-huge -m 256 --no-pci --file-prefix kg$ID \
--vdev net_pcap0,iface=kg-wan --vdev net_pcap1,iface=kg-lan" lab_gate_start "$ID" "$config" "$log" ||
    { fail=1; return; }
  grep -m1 steering "$log"

  local answers
  answers=$($S "$PEER" ask "$LAB_CLIENT_IP" 5353 1000 3000 6000)
  echo "$answers" | sed 's/^/     asked, got: /'
  for n in 1000 3000 6000; do
    expect "$workers worker(s): a LAN host gets its $n-byte reply" \
      grep -qx "$n $n" <<<"$answers"
  done

  $S "$PEER" count 7000 3 >/tmp/kg-$ID-count &
  local counter=$!
  sleep 0.5
  $C "$PEER" send "$LAB_SERVER_IP" 7000 3000 6000 200
  wait "$counter"
  expect "$workers worker(s): unsolicited datagrams from the WAN, fragmented or not, stay out" \
    grep -qx 0 /tmp/kg-$ID-count

  lab_gate_stop
  grep -E '^drops:' "$log" | tail -1 | sed 's/^/     /'
  expect "$workers worker(s): the unsolicited datagrams' later fragments were dropped as such" \
    grep -Eq '^drops:.*fragment_of_dropped=[1-9]' "$log"
}

run_with_workers 1
run_with_workers 2

exit $fail

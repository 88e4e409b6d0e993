#!/usr/bin/env bash
# Packet capture on a running gateway: knockgate on hugepages with its own
# file prefix, Debian's dpdk-dumpcap attached as a secondary process to the
# WAN port. Skips (77) when hugepages cannot be had. Needs root.
# Usage: capture_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
before=$(cat "$NR" 2>/dev/null || echo 0)
restore_pages() { [[ -w $NR ]] && echo "$before" >"$NR"; }
if ! mountpoint -q /dev/hugepages; then
  mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null
fi
((before < 512)) && echo 512 >"$NR" 2>/dev/null
free=$(awk '/^HugePages_Free:/{print $2}' /proc/meminfo)
if ! mountpoint -q /dev/hugepages || ((free < 384)); then
  echo "SKIP: no 2 MB hugepages to be had (free: ${free:-0}); dpdk-dumpcap needs them"
  restore_pages
  exit 77
fi

ID=p$$$RANDOM
ID=${ID:0:8}
LOG=/tmp/kg-$ID-gate.log
CAP=/tmp/kg-$ID-wan.pcapng
trap 'kill $DUMPCAP 2>/dev/null; lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-* /dev/hugepages/kg$ID*; restore_pages' EXIT
DUMPCAP=
C="ip netns exec $(lab_ns "$ID" c)"

lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
CONFIG=$(lab_config "$ID" 5s 300s)
sed -i "s|^socket = .*|socket = \"/tmp/kg-$ID-ctl.sock\"|" "$CONFIG"
# On hugepages (no --no-huge): a secondary process can attach.
LAB_EAL="$(lab_lcores) -m 256 --no-pci --file-prefix kg$ID \
  --vdev net_af_packet0,iface=kg-wan --vdev net_af_packet1,iface=kg-lan" \
  lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1
expect "the start-up line says how to capture" \
  grep -q "packet capture: dpdk-dumpcap --file-prefix=kg$ID -i PORT" "$LOG"

timeout 30 dpdk-dumpcap --file-prefix="kg$ID" -i net_af_packet0 -c 20 -w "$CAP" \
  >"/tmp/kg-$ID-dumpcap.log" 2>&1 &
DUMPCAP=$!
for _ in $(seq 1 50); do grep -q "Capturing on" "/tmp/kg-$ID-dumpcap.log" && break; sleep 0.2; done
for x in 888 555 222; do $C nmap -n -Pn -p $x "$LAB_SERVER_IP" >/dev/null 2>&1; done
for _ in $(seq 1 10); do $C curl -s -m 2 "http://$LAB_SERVER_IP/" >/dev/null; done
wait "$DUMPCAP"
rc=$?
DUMPCAP=
expect "dpdk-dumpcap attaches to the running gateway and captures 20 packets" test "$rc" -eq 0
packets=$(tcpdump -n -r "$CAP" 2>/dev/null | wc -l)
echo "# $packets packets in $CAP"
# dpdk-dumpcap checks -c after each burst it writes, so it may write a few more.
expect "the capture holds them" test "$packets" -ge 20 -a "$packets" -le 52
expect "the knocks are among them, as they arrived on the WAN port" \
  sh -c "tcpdump -n -r '$CAP' 2>/dev/null | grep -q '> $LAB_SERVER_IP.888: Flags \[S\]'"
expect "the gateway forwards on after the capture" \
  sh -c "$C curl -s -m 2 http://$LAB_SERVER_IP/ | grep -q 'hello from the LAN'"
lab_gate_stop
if ((fail)); then
  cat "/tmp/kg-$ID-dumpcap.log"
  cat "$LOG"
fi
exit $fail

#!/usr/bin/env bash
# The namespace lab: a WAN client, a LAN server and knockgate between them on
# net_af_packet vdevs. Source it for the lab_* functions, or run it:
#   scripts/lab.sh up ID | down ID
#
#   [kg-ID-c]  c0 ==veth== kg-wan  [kg-ID-g: knockgate]  kg-lan ==veth== s0  [kg-ID-s]
# The gate's ends carry the names conf/knockgate.toml's [eal].args expect.
#   10.77.0.2/24 (+ .3-.9)                                  10.77.0.10/24
#   fd77::2/64                                               fd77::10/64
set -euo pipefail

LAB_CLIENT_IP=10.77.0.2
LAB_SERVER_IP=10.77.0.10
LAB_CLIENT_IP6=fd77::2
LAB_SERVER_IP6=fd77::10
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_KNOCKGATE=${LAB_KNOCKGATE:-$LAB_ROOT/build/app/knockgate/knockgate}

lab_ns() { echo "kg-$1-$2"; }  # lab_ns ID c|s|g

lab_up() {
  local id=$1 c s g
  c=$(lab_ns "$id" c) s=$(lab_ns "$id" s) g=$(lab_ns "$id" g)
  lab_down "$id" 2>/dev/null || true
  ip netns add "$c"
  ip netns add "$s"
  ip netns add "$g"
  ip link add c0 netns "$c" type veth peer name kg-wan netns "$g"
  ip link add s0 netns "$s" type veth peer name kg-lan netns "$g"
  # The gate's ends carry no stack of their own: no IPv6 autoconf chatter.
  for ifc in kg-wan kg-lan; do
    ip netns exec "$g" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1"
    ip -n "$g" link set "$ifc" up
  done
  ip -n "$c" addr add "$LAB_CLIENT_IP/24" dev c0
  for n in 3 4 5 6 7 8 9; do
    ip -n "$c" addr add "10.77.0.$n/24" dev c0
  done
  ip -n "$s" addr add "$LAB_SERVER_IP/24" dev s0
  ip -n "$c" addr add "$LAB_CLIENT_IP6/64" dev c0 nodad
  ip -n "$s" addr add "$LAB_SERVER_IP6/64" dev s0 nodad
  for pair in "$c c0" "$s s0"; do
    set -- $pair
    ip -n "$1" link set lo up
    ip -n "$1" link set "$2" up
    # veth TX checksum offload would leave TCP checksums unfilled through af_packet.
    ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
  done
}

lab_down() {
  local id=$1 ns pid
  for ns in "$(lab_ns "$id" g)" "$(lab_ns "$id" c)" "$(lab_ns "$id" s)"; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill "$pid" 2>/dev/null || true
      done
      sleep 0.2
      for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -9 "$pid" 2>/dev/null || true
      done
      ip netns del "$ns"
    fi
  done
  rm -rf "/var/run/dpdk/kg$id"
}

# lab_config ID WINDOW GRANT [SOURCE]: the shipped recipe (or SOURCE) with
# shorter knock windows and grant, and LAB_WORKERS workers if that is set.
lab_config() {
  local out=/tmp/kg-$1-lab-$RANDOM.toml src=${4:-$LAB_ROOT/conf/knockgate.toml}
  sed -e "s/address-list-timeout = \"30s\"/address-list-timeout = \"$2\"/" \
      -e "s/address-list-timeout = \"30m\"/address-list-timeout = \"$3\"/" \
      -e 's/^mbufs = 65536/mbufs = 16384/' \
      "$src" >"$out"
  grep -q '^\[dataplane\]' "$out" || printf '\n[dataplane]\nmbufs = 16384\n' >>"$out"
  if [[ -n ${LAB_WORKERS:-} ]]; then
    sed -i '/^workers = /d' "$out"
    sed -i "s/^\[dataplane\]/[dataplane]\nworkers = $LAB_WORKERS/" "$out"
  fi
  echo "$out"
}

# The EAL lcore arguments for LAB_WORKERS workers (default 1) on this
# machine's CPUs: the main lcore on CPU 0, the workers sharing CPU 1.
lab_lcores() {
  local n=${LAB_WORKERS:-1} w map=0@0
  for ((w = 1; w <= n; ++w)); do
    map+=",$w@1"
  done
  echo "--lcores $map"
}

# lab_gate_start ID CONFIG LOG [shipped]: knockgate on the gate's two veth
# ends; with "shipped", EAL arguments come from the config's [eal].args, and
# LAB_EAL, if set, replaces the default EAL arguments (other vdevs, lcores).
lab_gate_start() {
  local id=$1 config=$2 log=$3
  # shellcheck disable=SC2207  # lab_lcores prints words
  local -a eal=($(lab_lcores) --no-huge -m 256 --no-pci --file-prefix "kg$id"
    --vdev net_af_packet0,iface=kg-wan --vdev net_af_packet1,iface=kg-lan --)
  # shellcheck disable=SC2206  # LAB_EAL is a word list
  [[ -n ${LAB_EAL:-} ]] && eal=($LAB_EAL --)
  [[ ${4:-} == shipped ]] && eal=()
  ip netns exec "$(lab_ns "$id" g)" "$LAB_KNOCKGATE" "${eal[@]}" --config "$config" >"$log" 2>&1 &
  LAB_GATE_PID=$!
  # Forwarding starts a few seconds in: wait for ARP to cross the gate.
  local i
  for i in $(seq 1 60); do
    ip -n "$(lab_ns "$id" c)" neigh flush dev c0 2>/dev/null || true
    ip netns exec "$(lab_ns "$id" c)" ping -c1 -W1 "$LAB_SERVER_IP" >/dev/null 2>&1 || true
    if ip -n "$(lab_ns "$id" c)" neigh show "$LAB_SERVER_IP" | grep -q lladdr; then
      return 0
    fi
    if ! kill -0 "$LAB_GATE_PID" 2>/dev/null; then
      echo "lab: knockgate exited:" >&2
      cat "$log" >&2
      return 1
    fi
  done
  echo "lab: ARP never crossed the gate" >&2
  return 1
}

lab_gate_stop() {
  if [[ -n ${LAB_GATE_PID:-} ]] && kill -0 "$LAB_GATE_PID" 2>/dev/null; then
    kill -INT "$LAB_GATE_PID"
    wait "$LAB_GATE_PID" || true
  fi
}

# lab_http ID [c|s]: a web server in the LAN server's namespace (default) on
# port 80, or in the WAN client's on port 8080.
lab_http() {
  local id=$1 where=${2:-s} dir=/tmp/kg-$1-www-${2:-s} port=80 ip=$LAB_SERVER_IP
  [[ $where == c ]] && port=8080 ip=$LAB_CLIENT_IP
  mkdir -p "$dir"
  echo "hello from the $([[ $where == c ]] && echo WAN || echo LAN)" >"$dir/index.html"
  ip netns exec "$(lab_ns "$id" "$where")" /usr/bin/python3 -m http.server "$port" --bind :: \
    --directory "$dir" >/dev/null 2>&1 &
  local i
  for i in $(seq 1 50); do
    ip netns exec "$(lab_ns "$id" "$where")" curl -s -m 1 "http://$ip:$port/" >/dev/null && return 0
    sleep 0.1
  done
  echo "lab: http server did not start" >&2
  return 1
}

# lab_prometheus ID DIR: a Prometheus server in lab ID's gate namespace that
# scrapes the gate's metrics (127.0.0.1:9641) every second, its API on
# 127.0.0.1:9090 there, its files under DIR; sets LAB_PROMETHEUS_PID.
lab_prometheus() {
  local ns dir=$2
  ns=$(lab_ns "$1" g)
  ip -n "$ns" link set lo up
  mkdir -p "$dir"
  cat >"$dir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: knockgate
    static_configs:
      - targets: ["127.0.0.1:9641"]
YML
  ip netns exec "$ns" prometheus --config.file="$dir/prometheus.yml" \
    --storage.tsdb.path="$dir/tsdb" --web.listen-address=127.0.0.1:9090 >"$dir/prometheus.log" 2>&1 &
  LAB_PROMETHEUS_PID=$!
}

# For the e2e tests. expect DESCRIPTION COMMAND...: runs COMMAND and prints
# "ok   - DESCRIPTION" or "FAIL - DESCRIPTION"; a failure sets fail=1, which
# the test exits with.
fail=0
expect() {
  local what=$1
  shift
  if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi
}

# lab_open ID SOURCE [SECONDS]: whether curl from lab ID's client, bound to
# SOURCE, gets the LAN server's page (within SECONDS, default 2).
lab_open() {
  ip netns exec "$(lab_ns "$1" c)" curl -s -m "${3:-2}" --interface "$2" "http://$LAB_SERVER_IP/" |
    grep -q "hello from the LAN"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case ${1:-} in
    up) lab_up "$2" ;;
    down) lab_down "$2" ;;
    *) echo "usage: $0 up|down ID" >&2; exit 2 ;;
  esac
fi

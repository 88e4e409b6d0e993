#!/usr/bin/env bash
# Installs every Debian 12 package knockgate needs to build, test and run.
# Idempotent: packages already present are skipped, so it is cheap to re-run.
set -euo pipefail

packages=(
  # build (git: check-format.sh lists the tracked files with it)
  build-essential meson ninja-build pkg-config clang-format scdoc git
  # fuzzing (tests/fuzz, scripts/fuzz.sh): clang alone brings no sanitizer
  # runtime or headers; libclang-rt-14-dev has them
  clang libfuzzer-14-dev libclang-rt-14-dev
  # libraries
  libdpdk-dev dpdk dpdk-dev libhyperscan-dev libabsl-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev libpcap-dev libpcre2-dev libmicrohttpd-dev libssl-dev libhiredis-dev
  # test and lab tools
  iproute2 ethtool nmap knockd curl socat hping3 netcat-openbsd tcpdump prometheus fwknop-client
  python3-scapy procps iputils-ping redis-server redis-sentinel
  # performance harness (perf/)
  python3-matplotlib
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: packages, build,
# formatting, then every meson suite. Run as root (namespaces need it).
# Each step runs under a name (scripts/step.sh): a failing one says which.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/step.sh
step install-deps ./scripts/install-deps.sh
step build ./scripts/build.sh
step check-format ./scripts/check-format.sh
# A packager's build: release, the project's warnings still errors.
if [[ ! -f build-release/build.ninja ]]; then
  step setup-release meson setup build-release --buildtype=release
fi
step build-release ninja -C build-release
step meson-test meson test -C build --print-errorlogs --num-processes 2 "$@"
# Everything but the namespace lab again under AddressSanitizer and UBSan
# (EAL-using tests included); any finding fails the run.
if [[ ! -f build-asan/build.ninja ]]; then
  step setup-asan meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
step build-asan ninja -C build-asan
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 step meson-test-asan meson test -C build-asan \
  --no-rebuild --print-errorlogs --num-processes 2 --suite unit --suite integration
# Every libFuzzer target for half a minute from its seed corpus (clang, ASan +
# UBSan); scripts/fuzz.sh runs them for hours.
step fuzz ./scripts/fuzz.sh 30

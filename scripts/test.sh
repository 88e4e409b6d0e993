#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: packages, build,
# formatting, then every meson suite. Run as root (namespaces need it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
./scripts/check-format.sh
# A packager's build: release, the project's warnings still errors.
if [[ ! -f build-release/build.ninja ]]; then
  meson setup build-release --buildtype=release
fi
ninja -C build-release
meson test -C build --print-errorlogs --num-processes 2 "$@"
# Everything but the namespace lab again under AddressSanitizer and UBSan
# (EAL-using tests included); any finding fails the run.
if [[ ! -f build-asan/build.ninja ]]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-asan
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C build-asan --no-rebuild \
  --print-errorlogs --num-processes 2 --suite unit --suite integration
# Every libFuzzer target for half a minute from its seed corpus (clang, ASan +
# UBSan); scripts/fuzz.sh runs them for hours.
./scripts/fuzz.sh 30

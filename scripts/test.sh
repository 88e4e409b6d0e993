#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: packages, build,
# formatting, then every meson suite. Run as root (namespaces need it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
./scripts/check-format.sh
meson test -C build --print-errorlogs --num-processes 2 "$@"

#!/usr/bin/env bash
# knockgate's main job on its embedded default: install, build, validate the
# shipped recipe, and replay the bundled seed capture through the classifier.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh >/dev/null
echo "== knockgate --check --config conf/knockgate.toml"
./build/app/knockgate/knockgate --check --config conf/knockgate.toml
echo
echo "== knockgate --replay tests/data/seed.pcap --config conf/knockgate.toml"
./build/app/knockgate/knockgate --replay tests/data/seed.pcap --config conf/knockgate.toml

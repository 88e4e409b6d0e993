#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into build-fuzz and runs
# each for SECONDS (default an hour): scripts/fuzz.sh [SECONDS] [TARGET...]
# with TARGET among parser classify config routeros replay. New inputs go to
# build-fuzz/corpus/TARGET, crashes to build-fuzz/findings/; a finding fails
# the run. The test command runs every target briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/step.sh
seconds=${1:-3600}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(parser classify config routeros replay)
if [[ ! -f build-fuzz/build.ninja ]]; then
  CXX=clang++ quiet_step setup-fuzz meson setup build-fuzz -Dfuzz=true \
    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false
fi
quiet_step build-fuzz ninja -C build-fuzz "${targets[@]/#/tests/fuzz/fuzz_}"
mkdir -p build-fuzz/findings
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  log=build-fuzz/fuzz-$t.log
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "build-fuzz/tests/fuzz/fuzz_$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/findings/$t-" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" \
    >"$log" 2>&1; then
    echo "fuzz $t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') executions in ${seconds}s, no finding"
  else
    echo "fuzz $t: FINDING (see $log and build-fuzz/findings/)"
    tail -n 40 "$log"
    status=1
  fi
done
exit $status

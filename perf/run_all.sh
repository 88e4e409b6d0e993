#!/usr/bin/env bash
# One command for every performance figure: builds, generates the traffic
# pcaps, runs the three benchmarks and the side-by-side throughput harness,
# and rewrites perf/RESULTS.md and perf/RESULTS.png. About 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh >/dev/null
./scripts/build.sh >/dev/null
OUT=perf/out
mkdir -p "$OUT"
[[ -f $OUT/pcaps/mix-1518.pcap ]] || /usr/bin/python3 perf/gen_traffic.py "$OUT/pcaps" 4096
for b in bench_classify bench_lists bench_l7; do
  echo "== $b"
  ./build/perf/$b --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$OUT/$b.json" --benchmark_out_format=json
done
echo "== throughput"
/usr/bin/python3 perf/throughput.py build/app/knockgate/knockgate "$OUT/pcaps" "$OUT/throughput.json"
/usr/bin/python3 perf/report.py "$OUT" perf/RESULTS.md perf/RESULTS.png
echo "wrote perf/RESULTS.md and perf/RESULTS.png"

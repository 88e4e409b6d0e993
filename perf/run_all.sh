#!/usr/bin/env bash
# One command for every performance figure, on the recipe as shipped: builds,
# generates the traffic pcaps, runs the benchmarks (bench_classify with its
# curves, bench_lists, bench_l7, bench_spa, bench_sync), the side-by-side
# throughput harness on every profile, the harness with 1 and 2 workers and,
# with PKTGEN set (pktgen 23.03.0's binary, README: building pktgen), the
# pktgen scripts over memif; then rewrites perf/RESULTS.md, perf/RESULTS.png
# and perf/curves.png from that run alone. About 40 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh >/dev/null
./scripts/build.sh >/dev/null
OUT=perf/out
rm -rf "$OUT/results" && mkdir -p "$OUT/results"
R=$OUT/results
[[ -f $OUT/pcaps/spaflood-1518.pcap ]] || /usr/bin/python3 perf/gen_traffic.py "$OUT/pcaps" 4096
for b in bench_classify bench_lists bench_l7 bench_spa; do
  echo "== $b"
  ./build/perf/$b --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$R/$b.json" --benchmark_out_format=json
done
echo "== bench_sync"
./build/perf/bench_sync | tee "$R/bench_sync.txt"
echo "== throughput"
/usr/bin/python3 perf/throughput.py build/app/knockgate/knockgate "$OUT/pcaps" "$R/throughput.json"
for w in 1 2; do
  echo "== throughput, $w worker(s)"
  /usr/bin/python3 perf/throughput.py build/app/knockgate/knockgate "$OUT/pcaps" \
    "$R/workers-$w.json" --profiles trusted --sizes 64 --workers "$w" --no-testpmd --rounds 3
done
if [[ -n ${PKTGEN:-} ]]; then
  for s in knock trusted flood; do
    echo "== pktgen over memif: $s.lua"
    perf/pktgen/run-memif.sh "$s.lua" | tee "$R/memif-$s.txt" || echo "FAIL - run-memif.sh $s.lua exited non-zero" | tee -a "$R/memif-$s.txt"
  done
fi
/usr/bin/python3 perf/report.py "$R" perf/RESULTS.md perf/RESULTS.png
echo "wrote perf/RESULTS.md, perf/RESULTS.png and perf/curves.png"

#!/usr/bin/env bash
# Runs one pktgen script against knockgate on this machine, over memif:
# knockgate with two net_memif server ports (perf/pktgen/knockgate.toml),
# pktgen 23.03.0 with the client peers, the script, then knockgate stopped
# before pktgen (memif port counters reset when a peer leaves). Prints
# pktgen's port totals, knockgate's event lines and final counters, and
# exits 0 only when the script's expected outcome (written at its top) held.
#
#   PKTGEN=/opt/pktgen-23.03.0/build/app/pktgen perf/pktgen/run-memif.sh knock.lua
#
# PKTGEN: pktgen's binary (README: building pktgen); PKTGEN_DIR: its source
# tree (default: two folders above the binary), where Pktgen.lua is, which
# pktgen needs as its working directory. KNOCKGATE: knockgate's binary
# (default build/app/knockgate/knockgate). Needs root, hugepages for pktgen
# (about 4 GiB free), and util-linux's `script` (pktgen wants a terminal).
# Not part of the test command: pktgen is not a Debian package.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCRIPT=${1:?usage: run-memif.sh knock.lua|trusted.lua|flood.lua}
NAME=$(basename "$SCRIPT" .lua)
[[ -f $SCRIPT ]] || SCRIPT=$HERE/$NAME.lua
[[ -f $SCRIPT ]] || { echo "run-memif: no script $1" >&2; exit 2; }
SCRIPT=$(cd "$(dirname "$SCRIPT")" && pwd)/$(basename "$SCRIPT")
PKTGEN=${PKTGEN:?set PKTGEN to pktgen 23.03.0\'s binary (see README: building pktgen)}
PKTGEN_DIR=${PKTGEN_DIR:-$(cd "$(dirname "$PKTGEN")/../.." && pwd)}
KNOCKGATE=${KNOCKGATE:-$ROOT/build/app/knockgate/knockgate}
LIMIT=${LIMIT:-180}  # seconds for the whole run
[[ -x $PKTGEN ]] || { echo "run-memif: PKTGEN=$PKTGEN is not an executable" >&2; exit 2; }
[[ -f $PKTGEN_DIR/Pktgen.lua ]] || {
  echo "run-memif: $PKTGEN_DIR has no Pktgen.lua; set PKTGEN_DIR to pktgen's source tree" >&2
  exit 2
}
[[ -x $KNOCKGATE ]] || { echo "run-memif: no knockgate at $KNOCKGATE (build it first)" >&2; exit 2; }

# pktgen's mempools live in hugepages: about 4 GiB.
need_mb=${PKTGEN_HUGE_MB:-4096}
free_pages=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
page_kb=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
free_mb=$((free_pages * page_kb / 1024))
if ((free_mb < need_mb)); then
  echo "run-memif: pktgen needs about $need_mb MiB of free hugepages, $free_mb MiB are free." >&2
  echo "  reserve them:  echo $((need_mb * 1024 / page_kb + 64)) > /sys/kernel/mm/hugepages/hugepages-${page_kb}kB/nr_hugepages" >&2
  echo "  (and mount hugetlbfs on /dev/hugepages if it is not)" >&2
  exit 2
fi

OUT=$(mktemp -d /tmp/kg-pktgen-XXXXXX)
KG_PID=
PG_PID=
cleanup() {
  [[ -n $KG_PID ]] && kill -INT "$KG_PID" 2>/dev/null
  touch "$OUT/done"
  [[ -n $PG_PID ]] && { sleep 2; kill "$PG_PID" 2>/dev/null; }
  wait 2>/dev/null
}
trap cleanup EXIT

PKTGEN_ARGS=()
if [[ $NAME == flood ]]; then
  # One frame per source: a pcap of a million first-step knocks from
  # distinct sources (pktgen's range mode cannot make that many).
  PCAP=${FLOOD_PCAP:-/tmp/kg-flood-1m.pcap}
  [[ -s $PCAP ]] || /usr/bin/python3 "$HERE/make_flood_pcap.py" 1000000 "$PCAP" || exit 2
  PKTGEN_ARGS=(-s "0:$PCAP")
fi

"$KNOCKGATE" --config "$HERE/knockgate.toml" >"$OUT/knockgate.log" 2>&1 &
KG_PID=$!
for _ in $(seq 1 100); do
  grep -q "knockgate: running" "$OUT/knockgate.log" && break
  kill -0 "$KG_PID" 2>/dev/null || { cat "$OUT/knockgate.log"; exit 1; }
  sleep 0.1
done

(
  cd "$PKTGEN_DIR" &&
    KG_OUT=$OUT KG_PKTGEN_DIR=$HERE timeout --foreground "$LIMIT" script -qfec \
      "$PKTGEN -l 0-1 -n 1 --in-memory --no-pci \
        --vdev net_memif0,role=client,id=0,socket=/run/knockgate-memif-wan.sock \
        --vdev net_memif1,role=client,id=0,socket=/run/knockgate-memif-lan.sock \
        -- -P -T -m 1.[0-1] ${PKTGEN_ARGS[*]} -f $SCRIPT" /dev/null
) >"$OUT/pktgen.log" 2>&1 &
PG_PID=$!

for _ in $(seq 1 $((LIMIT * 10))); do
  [[ -f $OUT/pktgen-totals.txt ]] && break
  kill -0 "$PG_PID" 2>/dev/null || break
  sleep 0.1
done
if [[ ! -f $OUT/pktgen-totals.txt ]]; then
  echo "run-memif: pktgen ended without its totals; its output, without screen codes:" >&2
  sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$OUT/pktgen.log" | tr '\r' '\n' |
    grep -ao "\(EAL\|lua-shell\|Cannot\|rror\|panic\|Executing\).\{0,200\}" | head -20 >&2
  exit 1
fi
kill -INT "$KG_PID"
wait "$KG_PID"
KG_PID=
touch "$OUT/done"
wait "$PG_PID" 2>/dev/null
PG_PID=

cat "$OUT/pktgen-totals.txt"
echo "--- knockgate's event lines (first 20) and final counters"
grep -E "list-add|list-refresh|log rule|suppressed" "$OUT/knockgate.log" | head -20
sed -n '/^final counters:/,$p' "$OUT/knockgate.log"

# The expected outcomes.
pg() {  # pg PORT FIELD: a pktgen total
  sed -n "s/^pktgen port $1: .*\\b$2=\\([0-9]*\\).*/\\1/p" "$OUT/pktgen-totals.txt"
}
kg() {  # kg REGEX: knockgate's final counter matched by REGEX's first group
  sed -n "/^final counters:/,\$ s/$1/\\1/p" "$OUT/knockgate.log" | head -1
}
ok=1
check() {  # check DESCRIPTION CONDITION...
  local what=$1
  shift
  if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; ok=0; fi
}
case $NAME in
  knock)
    for l in 888 555 secured; do
      check "knockgate logs 198.51.100.7 joining list $l" \
        grep -q "list-add rule=[0-9]* list=$l address=198.51.100.7 " "$OUT/knockgate.log"
    done
    check "the 1,000 SYNs to tcp/443 and the granting knock cross (pktgen port 1 rx=$(pg 1 rx))" \
      test "$(pg 1 rx)" -eq 1001
    ;;
  trusted)
    tx=$(pg 0 tx) rx=$(pg 1 rx)
    check "pktgen sent the trusted flow (port 0 tx=$tx)" test "${tx:-0}" -ge 1000000
    check "what knockgate received it forwarded: none dropped by a rule or the default" \
      bash -c "! grep -qE '^drops:.*(rule|wan_default)=' '$OUT/knockgate.log'"
    check "pktgen's port 1 received what knockgate sent to the LAN ($rx)" \
      test "$rx" -eq "$(kg '^port lan: rx=[0-9]* tx=\([0-9]*\).*')"
    ;;
  flood)
    added=$(kg '^list 888: entries=[0-9]* added=\([0-9]*\).*')
    check "a million distinct sources reached the first knock step (list 888 added=$added)" \
      test "${added:-0}" -ge 1000000
    check "none of the flood crossed the gate (pktgen port 1 rx=$(pg 1 rx))" test "$(pg 1 rx)" -eq 0
    check "nobody was granted" bash -c "! grep -q 'list=secured' '$OUT/knockgate.log'"
    ;;
esac
rm -rf "$OUT"
trap - EXIT
((ok)) && exit 0 || exit 1

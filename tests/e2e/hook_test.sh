#!/usr/bin/env bash
# [[hook]] in the lab: a hook script records a real client's grant (an nmap
# knock), its expiry and a jail (a SYN to the recipe's blacklist port); a
# hook that sleeps past its timeout is killed and counted while grants keep
# coming and the recording hook keeps running. Needs root.
# Usage: hook_test.sh [KNOCKGATE]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ -n ${1:-} ]] && export LAB_KNOCKGATE=$1
source "$HERE/../../scripts/lab.sh"
set +e

ID=h$$$RANDOM
ID=${ID:0:8}
LOG=/tmp/kg-$ID-gate.log
REC=/tmp/kg-$ID-hooks.txt
trap 'lab_gate_stop; lab_down "$ID"; rm -rf /tmp/kg-$ID-*' EXIT

C="ip netns exec $(lab_ns "$ID" c)"
SERVER=$LAB_SERVER_IP
knock() { for x in 888 555 222; do $C nmap -n -Pn -S "$1" -e c0 -p $x "$SERVER" >/dev/null 2>&1; done; }
recorded() {  # recorded PATTERN [SECONDS]
  for _ in $(seq 1 $((${2:-5} * 10))); do grep -q -- "$1" "$REC" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

lab_up "$ID" || exit 1
lab_http "$ID" || exit 1
CONFIG=$(lab_config "$ID" 10s 4s)  # knock steps 10 s, secured 4 s
sed -i 's/^disabled = true/disabled = false/' "$CONFIG"  # the recipe's blacklist rules
sed -i "s|^socket = .*|socket = \"/tmp/kg-$ID-ctl.sock\"|" "$CONFIG"
cat >>"$CONFIG" <<TOML

# Records what it hears; an argv, run without a shell (the sh is the hook's own).
[[hook]]
on = ["grant", "expire", "jail"]
command = ["/bin/sh", "-c", "echo \"\$KNOCKGATE_EVENT \$KNOCKGATE_LIST \$KNOCKGATE_ADDRESS \$KNOCKGATE_EXPIRES\" >> $REC"]

# Sleeps past its timeout on every grant.
[[hook]]
on = ["grant"]
command = ["/bin/sleep", "30"]
timeout = "1s"
TOML
lab_gate_start "$ID" "$CONFIG" "$LOG" || exit 1

knock 10.77.0.2
expect "a knocking client gets in" lab_open "$ID" 10.77.0.2
expect "the hook records its grant" recorded "^grant secured 10.77.0.2 "
expires=$(awk '$1 == "grant" && $3 == "10.77.0.2" {print $4; exit}' "$REC")
now=$(date +%s)
expect "KNOCKGATE_EXPIRES is the grant's end, in Unix seconds ($expires, now $now)" \
  test "${expires:-0}" -ge $((now + 1)) -a "${expires:-0}" -le $((now + 8))
$C nmap -n -Pn -S 10.77.0.4 -e c0 -p 666 "$SERVER" >/dev/null 2>&1
expect "the hook records a jail" recorded "^jail blacklist 10.77.0.4 "
knock 10.77.0.3
expect "grants keep coming while the sleeping hook runs" recorded "^grant secured 10.77.0.3 "
expect "the hook records the first grant's expiry" recorded "^expire secured 10.77.0.2 " 8
expect "the sleeping hook is killed at its timeout, and the log says so" \
  grep -q "hook 1 (/bin/sleep): 0 failed, [0-9]* killed at timeout; last: killed at its timeout of 1s" "$LOG"
expect "knock steps are no grants" sh -c "! grep -q '^grant 888 \|^grant 555 ' '$REC'"
expect "but their expiries are heard (every list is watched)" recorded "^expire 888 10.77.0.2 " 8
lab_gate_stop
expect "the final counters count the hooks' runs and kills" \
  grep -q "^hooks: runs=[0-9]* failed=0 timed-out=[2-9] dropped=0" "$LOG"
if ((fail)); then
  cat "$REC"
  tail -40 "$LOG"
fi
exit $fail

#!/usr/bin/env bash
# knockgate's main job on its embedded default: install, build, bring up the
# namespace lab, run knockgate with conf/knockgate.toml as shipped, and show
# the seed's story: the LAN server is invisible, a client knocks, it opens.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/step.sh
step install-deps ./scripts/install-deps.sh
quiet_step build ./scripts/build.sh
source scripts/lab.sh

ID=demo
C="ip netns exec $(lab_ns $ID c)"
LOG=/tmp/kg-demo-gate.log
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "knockgate --check --config conf/knockgate.toml"
./build/app/knockgate/knockgate --check --config conf/knockgate.toml

say "namespace lab: client 10.77.0.2 (WAN) | knockgate | server 10.77.0.10 (LAN, HTTP on :80)"
lab_up $ID
lab_http $ID
lab_gate_start $ID "$PWD/conf/knockgate.toml" "$LOG" shipped
grep -v '^EAL\|^TELEMETRY' "$LOG"

say "before knocking: curl http://10.77.0.10/ from the WAN client"
$C curl -s -m 3 http://10.77.0.10/ || echo "curl: no answer (exit $?): the server is invisible"
say "before knocking: nmap -n -Pn -p 22,80,443 10.77.0.10"
$C nmap -n -Pn -p 22,80,443 10.77.0.10 | grep -E '^[0-9]+/tcp'

say "knock: for x in 888 555 222; do nmap -n -Pn -p \$x 10.77.0.10; done"
for x in 888 555 222; do $C nmap -n -Pn -p $x 10.77.0.10 | grep -E '^[0-9]+/tcp'; done

say "after knocking: curl http://10.77.0.10/"
$C curl -s -m 3 http://10.77.0.10/

say "knockgate's event log ($LOG)"
grep -E 'list-add|log ' "$LOG"

cat <<EOT

The lab is still up and knockgate is running (pid $LAB_GATE_PID).
  knock by hand:   ip netns exec kg-demo-c knock 10.77.0.10 888 555 222
  passphrase:      echo passphrase/ | ip netns exec kg-demo-c nc -u -w1 10.77.0.10 888
  browse:          ip netns exec kg-demo-c curl http://10.77.0.10/
  events:          tail -f $LOG
  tear down:       scripts/lab.sh down demo    (stops knockgate, removes the namespaces)
EOT

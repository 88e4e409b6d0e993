#!/usr/bin/env bash
# The knockgate binary from the outside: --check on good and bad files, --help,
# and a replay of the bundled seed pcap with the verdicts the recipe implies.
set -u
KG=$1
SRC=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect() {  # expect DESCRIPTION CONDITION...
  local what=$1
  shift
  if "$@"; then
    echo "ok   - $what"
  else
    echo "FAIL - $what"
    fail=1
  fi
}

"$KG" --check --config "$SRC/conf/knockgate.toml" >"$tmp/check.out" 2>&1
expect "--check accepts the shipped config" test $? -eq 0
expect "--check prints the compiled rules" grep -q 'dst-port=222 src-address-list=555' "$tmp/check.out"

printf '[[filter]]\naction = "drop"\nprotocol = "tcp"\ndst-port = "70000"\n' >"$tmp/bad.toml"
"$KG" --check --config "$tmp/bad.toml" >"$tmp/bad.out" 2>&1
rc=$?
expect "--check rejects a bad port with status 1" test $rc -eq 1
expect "the error names file, line, column and key" \
  grep -q "^$tmp/bad.toml:4:12: dst-port: " "$tmp/bad.out"

printf '[[filter]]\naction = "accept"\nsrc-address-list = "nobody-fills-me"\n' >"$tmp/warn.toml"
"$KG" --check --config "$tmp/warn.toml" >"$tmp/warn.out" 2>&1
expect "--check passes with a warning for an empty list" test $? -eq 0
expect "the warning names the list" grep -q 'warning: .*"nobody-fills-me" is never filled' "$tmp/warn.out"

expect "--check prints each worker's memory" \
  grep -Eq '^memory: [0-9.]+ MiB per worker \(lists [0-9.]+, conntrack [0-9.]+, fragments [0-9.]+ MiB\)' "$tmp/check.out"
{
  printf '[dataplane]\nworkers = 64\n[lists]\ncapacity = 67108864\n'
  for l in a b c d; do printf '[[filter]]\naction = "add-src-to-address-list"\naddress-list = "%s"\nin-interface-list = "WAN"\n' $l; done
} >"$tmp/huge.toml"
"$KG" --check --config "$tmp/huge.toml" >"$tmp/huge.out" 2>&1
expect "--check refuses tables that cannot fit, with status 1" test $? -eq 1
expect "the refusal gives the figure" grep -q "huge.toml: memory: .* MiB for 64 workers, more than this machine's MemTotal" "$tmp/huge.out"

"$KG" --help >"$tmp/help.out"
expect "--help exits 0 and documents --check" grep -q -- '--check' "$tmp/help.out"
"$KG" --bogus >/dev/null 2>&1
expect "an unknown option fails" test $? -ne 0

"$KG" --replay "$SRC/tests/data/seed.pcap" --config "$SRC/conf/knockgate.toml" >"$tmp/replay.out" 2>&1
expect "replay runs" test $? -eq 0
verdict() { grep -E "^ *[0-9.]+ #$1 " "$tmp/replay.out"; }
expect "client closed before knocking" sh -c "$(declare -f verdict); tmp=$tmp; verdict 6 | grep -q 'drop (wan_default)'"
expect "knock 3 is granted" grep -q 'list-add rule=7 list=secured address=198.51.100.7 timeout=30m' "$tmp/replay.out"
expect "client open after knocking" sh -c "$(declare -f verdict); tmp=$tmp; verdict 10 | grep -q 'forward rule=8'"
expect "wrong order stays closed" sh -c "$(declare -f verdict); tmp=$tmp; verdict 14 | grep -q 'drop'"
expect "passphrase knock grants" grep -q 'list=secured address=198.51.100.9' "$tmp/replay.out"
expect "wrong passphrase does not knock" sh -c "! grep -q '^ *8.000000 list-add' '$tmp/replay.out'"
expect "fragment never knocks" sh -c "! grep -q 'address=203.0.113.66' '$tmp/replay.out'"
expect "late knock stays closed" sh -c "$(declare -f verdict); tmp=$tmp; verdict 24 | grep -q 'drop'"
expect "grant over after 30m" sh -c "$(declare -f verdict); tmp=$tmp; verdict 25 | grep -q 'drop (wan_default)'"
expect "counters printed" grep -q '^frames=25 forwarded=5$' "$tmp/replay.out"

# Hostile files: one line naming file and position, exit 1, never a crash.
head -c -10 "$SRC/tests/data/seed.pcap" >"$tmp/cut.pcap"
"$KG" --replay "$tmp/cut.pcap" --config "$SRC/conf/knockgate.toml" >"$tmp/cut.out" 2>&1
expect "--replay of a truncated capture fails with status 1" test $? -eq 1
expect "and names the record" grep -q "^knockgate: $tmp/cut.pcap: record 25: truncated dump file" "$tmp/cut.out"
/usr/bin/python3 -c "
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
struct.pack_into('<I', d, 24 + 8, 0x7fffffff)  # the first record's captured length
open(sys.argv[2], 'wb').write(d)" "$SRC/tests/data/seed.pcap" "$tmp/absurd.pcap"
"$KG" --replay "$tmp/absurd.pcap" --config "$SRC/conf/knockgate.toml" >"$tmp/absurd.out" 2>&1
expect "--replay of an absurd record length fails with status 1, naming the record" \
  sh -c "test $? -eq 1 && grep -q '^knockgate: $tmp/absurd.pcap: record 1: invalid packet capture length' '$tmp/absurd.out'"
/usr/bin/python3 -c "import sys; sys.stdout.write('.'.join(['a'] * 50000) + ' = 1\n')" >"$tmp/deep.toml"
"$KG" --check --config "$tmp/deep.toml" >"$tmp/deep.out" 2>&1
expect "--check of a key 50,000 parts deep fails with status 1" test $? -eq 1
expect "and says where" grep -q "^$tmp/deep.toml:1:1: a.a.a.*: a key of more than 32 dotted parts" "$tmp/deep.out"
head -c 3000 /dev/urandom | tr -d '\n' >"$tmp/garbage.rsc"
"$KG" --import-routeros "$tmp/garbage.rsc" >"$tmp/garbage.out" 2>&1
expect "--import-routeros of binary garbage fails with status 1" test $? -eq 1
expect "with one short, printable line" \
  sh -c "test \$(wc -l <'$tmp/garbage.out') -eq 1 && test \$(wc -c <'$tmp/garbage.out') -lt 400 && ! LC_ALL=C grep -q '[^[:print:]]' '$tmp/garbage.out'"

printf '/ip firewall filter\nadd chain=input in-interface=ether1 action=drop\n' >"$tmp/x.rsc"
"$KG" --import-routeros "$tmp/x.rsc" >"$tmp/import.out" 2>&1
expect "--import-routeros refuses what it cannot express, with status 1" test $? -eq 1
expect "the refusal names the line and the word" grep -q "^$tmp/x.rsc:2: in-interface: " "$tmp/import.out"
"$KG" --import-routeros "$SRC/tests/data/seed.rsc" >"$tmp/seed.toml"
expect "--import-routeros translates the seed" "$KG" --check --config "$tmp/seed.toml"

"$KG" --version >"$tmp/version.out"
expect "--version names the version" grep -qx 'knockgate [0-9]*\.[0-9]*\.[0-9]*' "$tmp/version.out"
"$KG" ctl list print >/dev/null 2>"$tmp/ctl.out"
expect "ctl without --config or --socket is a usage error (status 2)" test $? -eq 2
"$KG" ctl --socket "$tmp/none.sock" stats >/dev/null 2>"$tmp/ctl.out"
expect "ctl without a gateway fails with status 1" test $? -eq 1
expect "and says it cannot reach one" grep -q "cannot reach knockgate on $tmp/none.sock" "$tmp/ctl.out"

# A reply cut short (a gateway that stopped mid-reply, a reader too slow) is
# an error, never a shorter answer: a stand-in server announces 100 bytes
# and sends 6.
/usr/bin/python3 - "$tmp/short.sock" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
c, _ = s.accept()
c.recv(4096)
c.sendall(b"ok 100\nshort\n")
c.close()
PY
for _ in $(seq 1 50); do [[ -S $tmp/short.sock ]] && break; sleep 0.1; done
"$KG" ctl --socket "$tmp/short.sock" list print 888 >"$tmp/short.out" 2>"$tmp/ctl.out"
expect "ctl exits 1 when the reply is shorter than announced" test $? -eq 1
expect "and says so, printing nothing of it" \
  sh -c "grep -q 'the reply was cut short: 6 of 100 bytes' '$tmp/ctl.out' && ! test -s '$tmp/short.out'"
wait
MAN=$(dirname "$KG")/../../knockgate.8
expect "knockgate(8) is built from its scdoc source" grep -q '^\.SH CTL COMMANDS' "$MAN"

if [ $fail -ne 0 ]; then
  echo "--- replay output ---"
  cat "$tmp/replay.out"
fi
exit $fail

#!/usr/bin/env bash
# Regenerates vectors.tsv with Debian's fwknop client (fwknop-client 2.6.10):
# one SPA packet per case, as sent on the wire, with the timestamp inside it
# (from fwknop --verbose) so the unit tests can fake the clock to it.
# Not part of the test command: the vectors are checked in.
set -euo pipefail
cd "$(dirname "$0")"
KEY=$(sed -n 's/^KEY_BASE64: *//p' keys.txt)
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: *//p' keys.txt)
OTHER_KEY=$(sed -n 's/^OTHER_KEY_BASE64: *//p' keys.txt)
OTHER_HMAC=$(sed -n 's/^OTHER_HMAC_KEY_BASE64: *//p' keys.txt)
PORT=62299
out=vectors.tsv
: >"$out"
vector() {  # vector NAME FWKNOP-ARGS...
  local name=$1 payload ts
  shift
  timeout 5 socat -u "UDP-RECV:$PORT,bind=127.0.0.1" "OPEN:/tmp/spa-$name.bin,creat,trunc" &
  sleep 0.3
  ts=$(HOME=/tmp fwknop -D 127.0.0.1 -p "$PORT" --use-hmac --verbose "$@" 2>&1 |
    sed -n 's/^ *Timestamp: //p')
  wait
  payload=$(cat "/tmp/spa-$name.bin")
  printf '%s\t%s\t%s\n' "$name" "$ts" "$payload" >>"$out"
}
vector accept -A tcp/22 -a 10.77.0.2 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
vector client-timeout -A tcp/22 -a 10.77.0.2 -f 60 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
vector two-ports -A tcp/22,tcp/8080 -a 10.77.0.2 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
vector access-8080 -A tcp/8080 -a 10.77.0.2 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
vector past-10m -A tcp/22 -a 10.77.0.2 --time-offset-minus 10m --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
vector future-10m -A tcp/22 -a 10.77.0.2 --time-offset-plus 10m --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
vector wrong-keys -A tcp/22 -a 10.77.0.2 --key-base64-rijndael "$OTHER_KEY" --key-base64-hmac "$OTHER_HMAC"
vector wrong-enc-key -A tcp/22 -a 10.77.0.2 --key-base64-rijndael "$OTHER_KEY" --key-base64-hmac "$HMAC"
vector md5-digest -A tcp/22 -a 10.77.0.2 -m md5 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
vector source-from-packet -A tcp/22 -s --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
vector sha512-digest -A tcp/22 -a 10.77.0.2 -m sha512 --key-base64-rijndael "$KEY" --key-base64-hmac "$HMAC"
rm -f /tmp/spa-*.bin

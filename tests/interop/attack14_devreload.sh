#!/bin/sh
# attack14: --curve-allow's help says DIR is re-read on "reload (SIGHUP,
# 'zrelay ctl reload')"; for a one-device verb SIGHUP stops the device
# (exit 0) and ctl reload is refused, so a removed key cannot be revoked
# without a restart. Usage: attack14_devreload.sh path/to/zrelay
Z=$1; T=$(mktemp -d); P=$(( 20000 + $$ % 20000 ))
mkdir "$T/allow"; "$Z" keygen "$T/server" 2>/dev/null; "$Z" keygen "$T/alice" 2>/dev/null
cp "$T/alice" "$T/allow/"
"$Z" streamer --curve-secret "$T/server_secret" --curve-allow "$T/allow" \
  --control tcp://127.0.0.1:$P tcp://127.0.0.1:$((P+1)) tcp://127.0.0.1:$((P+2)) \
  >"$T/out" 2>"$T/err" & PID=$!
i=0; while ! grep -q '^ready' "$T/out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
"$Z" --help >/dev/null; "$Z" streamer --help | grep -A3 -- '--curve-allow DIR'
"$Z" ctl tcp://127.0.0.1:$P reload --curve-server-key "$T/server" --curve-cert "$T/alice_secret"
echo "ctl reload rc=$?"
kill -HUP $PID; sleep 1
if kill -0 $PID 2>/dev/null; then echo "PASS: alive after SIGHUP"; kill $PID; exit 0
else wait $PID; echo "FAIL: SIGHUP stopped the device (exit $?)"; exit 1; fi

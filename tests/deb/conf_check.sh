#!/bin/sh
# conf_check.sh - dist/zrelay.conf is the embedded default, byte for byte:
# what `zrelay run` runs without a config is what `make install` and the
# Debian package put in /etc/zrelay/zrelay.conf.
#
# usage: conf_check.sh ZRELAY SOURCE_DIR
# ZRT_WRITE_DOCS=1 rewrites dist/zrelay.conf from the binary instead.
set -eu
zrelay=$1 src=$2
tmp=$(mktemp "${TMPDIR:-/tmp}/zrelay-conf.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$zrelay" run --print-default >"$tmp"
if [ "${ZRT_WRITE_DOCS:-}" = 1 ]; then
    cp "$tmp" "$src/dist/zrelay.conf"
    echo "conf_check: wrote $src/dist/zrelay.conf"
    exit 0
fi
if ! cmp -s "$tmp" "$src/dist/zrelay.conf"; then
    diff -u "$src/dist/zrelay.conf" "$tmp" || true
    echo "FAIL: dist/zrelay.conf is not the embedded default (zrelay run" \
        "--print-default, src/config.c); to rewrite it:" \
        "ZRT_WRITE_DOCS=1 ctest -R dist_conf" >&2
    exit 1
fi
echo "ok: dist/zrelay.conf is the embedded default"

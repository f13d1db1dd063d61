#!/bin/sh
# build_test.sh - `make deb`'s packages build from a copy of the tree,
# lintian has nothing to say (beyond debian/*.lintian-overrides), the
# source tree is left as it was, and the packages hold what they should.
# Installing them is tests/deb/install_test.sh's job (root, CI).
#
# usage: build_test.sh SOURCE_DIR OUT_DIR     (exit 77: tools missing)
set -eu
src=$1 out=$2

for tool in dpkg-buildpackage dh lintian; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is missing (scripts/deps.sh --deb installs it)"
        exit 77
    fi
done
fail() { echo "FAIL: $*" >&2; exit 1; }

before=""
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    before=$(git -C "$src" status --porcelain --ignored=no)
fi
"$src/dist/make-deb.sh" "$out" 2 || fail "dist/make-deb.sh"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    after=$(git -C "$src" status --porcelain --ignored=no)
    [ "$before" = "$after" ] ||
        fail "the package build changed the source tree:
$after"
fi

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
deb=$out/zrelay_${version}_$arch.deb
for p in zrelay libzrelay0 libzrelay-dev; do
    [ -f "$out/${p}_${version}_$arch.deb" ] || fail "no ${p}_${version}_$arch.deb"
done
has() { # PACKAGE PATH
    dpkg-deb -c "$out/$1_${version}_$arch.deb" | awk '{print $6}' |
        grep -qx "\./$2" || fail "$1 lacks /$2"
}
has zrelay usr/bin/zrelay
has zrelay usr/share/man/man1/zrelay.1.gz
has zrelay usr/share/man/man5/zrelay.conf.5.gz
has zrelay lib/systemd/system/zrelay.service
has zrelay etc/zrelay/zrelay.conf
has libzrelay0 "usr/lib/$ma/libzrelay.so.0"
has libzrelay-dev usr/include/zrelay.h
has libzrelay-dev "usr/lib/$ma/libzrelay.so"
has libzrelay-dev "usr/lib/$ma/libzrelay.a"
has libzrelay-dev "usr/lib/$ma/pkgconfig/zrelay.pc"
has libzrelay-dev "usr/lib/$ma/cmake/zrelay/zrelayConfig.cmake"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zrelay-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$tmp/conffiles"
grep -qx /etc/zrelay/zrelay.conf "$tmp/conffiles" ||
    fail "/etc/zrelay/zrelay.conf is not a conffile"
cmp -s "$tmp/etc/zrelay/zrelay.conf" "$src/dist/zrelay.conf" ||
    fail "the package's zrelay.conf is not dist/zrelay.conf"
unit=$tmp/lib/systemd/system/zrelay.service
grep -qx "User=zrelay" "$unit" || fail "the unit does not run as zrelay"
grep -qx "DynamicUser=yes" "$unit" && fail "the unit has DynamicUser=yes"
grep -qx "ExecStart=/usr/bin/zrelay run /etc/zrelay/zrelay.conf" "$unit" ||
    fail "ExecStart in the unit: $(grep ExecStart= "$unit")"
grep -qx "StateDirectory=zrelay" "$unit" || fail "no StateDirectory=zrelay"
if readelf -d "$tmp/usr/bin/zrelay" | grep -Eq "RPATH|RUNPATH"; then
    fail "usr/bin/zrelay has an RPATH (lintian: custom-library-search-path)"
fi
echo "ok: packages built, lintian clean, source tree untouched"

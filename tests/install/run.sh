#!/bin/sh
# run.sh - install a zrelay build tree into a temporary prefix and build
# programs against it the two documented ways: pkg-config and
# find_package(zrelay). Also checks a DESTDIR install (nothing outside the
# stage, paths in the files name the real prefix).
#
# usage: run.sh BUILD_DIR CC CMAKE PKG_CONFIG GENERATOR [SANITIZER_FLAGS]
# SANITIZER_FLAGS: the -fsanitize=... the build tree was compiled with;
# a program linking its libzrelay needs them too.
set -eu

build=$1 cc=$2 cmake=$3 pkgconfig=$4 generator=$5 san=${6:-}
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zrelay-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
unset DESTDIR
prefix=$tmp/prefix

step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
    { cat "$tmp/install.log"; fail "install"; }

for f in bin/zrelay include/zrelay.h lib/systemd/system/zrelay.service; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
# Under LIBDIR, which may be lib, lib64 or lib/x86_64-linux-gnu.
for f in libzrelay.a libzrelay.so pkgconfig/zrelay.pc \
         cmake/zrelay/zrelayConfig.cmake cmake/zrelay/zrelayConfigVersion.cmake
do
    [ -n "$(find "$prefix" -path "*/$f")" ] || fail "not installed: $f"
done

step "installed binary, with the libzrelay.so installed beside it"
"$prefix/bin/zrelay" --version || fail "$prefix/bin/zrelay --version"
ldd "$prefix/bin/zrelay" | grep -q "libzrelay.so.* => $prefix/" ||
    { ldd "$prefix/bin/zrelay"; fail "bin/zrelay does not use $prefix's"; }

step "unit file names the prefix"
unit=$prefix/lib/systemd/system/zrelay.service
grep -qx "ExecStart=$prefix/bin/zrelay run $prefix/etc/zrelay/zrelay.conf" \
    "$unit" || { grep Exec "$unit"; fail "ExecStart in $unit"; }

if command -v systemd-analyze >/dev/null 2>&1; then
    step "systemd-analyze verify zrelay.service"
    # Only what it says about our unit counts: a container without a
    # running systemd may add remarks about itself.
    out=$(systemd-analyze verify --man=no "$unit" 2>&1) ||
        fail "systemd-analyze verify: $out"
    if printf '%s\n' "$out" | grep "zrelay.service"; then
        fail "systemd-analyze verify complains about zrelay.service"
    fi
fi

pcdir=$(dirname "$(find "$prefix" -path "*/pkgconfig/zrelay.pc")")
libdir=$(dirname "$pcdir")

step "pkg-config: cc consumer.c \$(pkg-config --cflags --libs zrelay)"
flags=$(PKG_CONFIG_PATH=$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} \
        "$pkgconfig" --cflags --libs zrelay) || fail "pkg-config zrelay"
echo "   $flags"
# shellcheck disable=SC2086 # flags are words
"$cc" $san -Wall -Werror -o "$tmp/consumer-pc" "$here/consumer.c" $flags \
    -Wl,-rpath,"$libdir"
ldd "$tmp/consumer-pc" | grep -q "libzrelay.so.* => $libdir/" ||
    { ldd "$tmp/consumer-pc"; fail "consumer-pc does not use $libdir"; }
"$tmp/consumer-pc" || fail "consumer built with pkg-config"

step "find_package(zrelay) with CMAKE_PREFIX_PATH=$prefix"
"$cmake" -S "$here/consumer" -B "$tmp/consumer" -G "$generator" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_FLAGS="$san -Wall -Werror" \
    -DCMAKE_EXE_LINKER_FLAGS="$san" >"$tmp/consumer.log" 2>&1 ||
    { cat "$tmp/consumer.log"; fail "configuring the consumer project"; }
"$cmake" --build "$tmp/consumer" >"$tmp/consumer.log" 2>&1 ||
    { cat "$tmp/consumer.log"; fail "building the consumer project"; }
ldd "$tmp/consumer/consumer" | grep -q "libzrelay.so.* => $libdir/" ||
    { ldd "$tmp/consumer/consumer"; fail "consumer does not use $libdir"; }
"$tmp/consumer/consumer" || fail "consumer (zrelay::zrelay)"
"$tmp/consumer/consumer_static" || fail "consumer_static (zrelay::zrelay_static)"

step "DESTDIR=$tmp/stage cmake --install --prefix /opt/zrelay"
DESTDIR=$tmp/stage "$cmake" --install "$build" --prefix /opt/zrelay \
    >"$tmp/install.log" || { cat "$tmp/install.log"; fail "DESTDIR install"; }
stray=$(grep -v "^-- Install configuration" "$tmp/install.log" |
        grep -v -e "-- \(Installing\|Up-to-date\|Keeping\): $tmp/stage/" \
            -e "-- Set runtime path of \"$tmp/stage/" || true)
[ -z "$stray" ] || fail "installed outside the stage: $stray"
[ -x "$tmp/stage/opt/zrelay/bin/zrelay" ] || fail "no staged binary"
# It finds its libzrelay.so relative to itself, wherever the tree is.
"$tmp/stage/opt/zrelay/bin/zrelay" --version >/dev/null ||
    fail "the staged binary does not run where it is"
grep -qx "prefix=/opt/zrelay" \
    "$(find "$tmp/stage" -path "*/pkgconfig/zrelay.pc")" ||
    fail "staged zrelay.pc does not say prefix=/opt/zrelay"
grep -qx "ExecStart=/opt/zrelay/bin/zrelay run /etc/opt/zrelay/zrelay/zrelay.conf" \
    "$tmp/stage/opt/zrelay/lib/systemd/system/zrelay.service" ||
    fail "staged unit file does not name /opt/zrelay"

echo "PASS"

#!/bin/sh
# install_test.sh - the Debian packages as an administrator meets them:
# `make deb`, `dpkg -i`, the zrelay user, the conffile and the state
# directory in place, the library and the -dev files usable, the relay
# started without systemd as the zrelay user and a request answered
# through it, then `dpkg --purge` and nothing of it left.
#
# It installs into this machine's /usr, /etc and /var and adds a system
# user, so it is not part of `make test`: .ci/run runs it on CI's
# throwaway machine after make test. It refuses to run unless root, and
# unless nothing of zrelay is installed (no package, no zrelay user, no
# /etc/zrelay, no /var/lib/zrelay): it must not purge what it did not
# install. Whatever happens, it purges what it installed.
#
# The daemon runs in a network namespace of its own (unshare -n) when it
# can, so the default ports 5558-5571 of the host are not touched; else
# on the host, after checking that they are free.
#
# usage: tests/deb/install_test.sh [DEBDIR]   (default build-deb; it runs
#        `make deb DEBDIR=...` first)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
packages="zrelay libzrelay-dev libzrelay0"

step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------
# Inside the network namespace: start the relay as the zrelay user,
# get a request through it, stop it.
if [ "${1:-}" = "--relay" ]; then
    tmp=$2
    if [ "${3:-}" = "netns" ]; then
        ip link set lo up
    fi
    relay="" rep=""
    # On a failure, what this part started is stopped, by its ids.
    trap 'for p in $rep $(pgrep -P "${relay:-0}") $relay; do
        kill "$p" 2>/dev/null || true; done' EXIT
    runuser -u zrelay -- /usr/bin/zrelay run /etc/zrelay/zrelay.conf \
        >"$tmp/run.out" 2>"$tmp/run.err" &
    relay=$!
    end=$(($(date +%s) + 20))
    until grep -qx ready "$tmp/run.out"; do
        if ! kill -0 "$relay" 2>/dev/null; then
            cat "$tmp/run.err" >&2
            fail "zrelay run exited before 'ready'"
        fi
        [ "$(date +%s)" -lt "$end" ] || fail "no 'ready' within 20 s"
        sleep 0.1 # polling a file, within the deadline
    done
    sed 's/^/   /' "$tmp/run.out"
    # runuser runs zrelay as its child (or becomes it).
    pid=$(pgrep -P "$relay" || echo "$relay")
    owner=$(ps -o user= -p "$pid" | tr -d ' ')
    [ "$owner" = zrelay ] || fail "zrelay runs as '$owner', not zrelay"
    echo "   the relay runs as user $owner"
    # A worker on seed-handshake's backend answers with what it got.
    /usr/bin/zrelay rep tcp://127.0.0.1:5562 --echo --count 1 \
        >"$tmp/rep.out" 2>"$tmp/rep.err" &
    rep=$!
    reply=$(/usr/bin/zrelay req tcp://127.0.0.1:5561 \
        --data "hello through the package" --timeout 10s) ||
        fail "req: no reply through the relay"
    [ "$reply" = "hello through the package" ] ||
        fail "req: the reply is '$reply'"
    echo "   req -> seed-handshake -> rep: '$reply'"
    wait "$rep" || fail "rep exited $?"
    /usr/bin/zrelay ctl terminate >/dev/null || fail "ctl terminate"
    status=0
    wait "$relay" || status=$?
    relay="" rep=""
    [ "$status" = 0 ] || fail "zrelay run exited $status after terminate"
    echo "   zrelay ctl terminate: the relay exited 0"
    exit 0
fi

# ------------------------------------------------------------------
debdir=${1:-build-deb}
case $debdir in /*) ;; *) debdir=$src/$debdir ;; esac

[ "$(id -u)" = 0 ] ||
    fail "run as root: it installs into this machine's /usr (CI runs it)"
for p in $packages; do
    if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
        grep -qv "not-installed"; then
        fail "$p is installed already (dpkg -l $p): this test installs and" \
            "purges its own; it touches no installation it did not make"
    fi
done
getent passwd zrelay >/dev/null && fail "a user zrelay exists already"
getent group zrelay >/dev/null && fail "a group zrelay exists already"
[ -e /etc/zrelay ] && fail "/etc/zrelay exists already"
[ -e /var/lib/zrelay ] && fail "/var/lib/zrelay exists already"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zrelay-install.XXXXXX")
chmod 755 "$tmp"
installed=false
cleanup() {
    status=$?
    if $installed; then
        # shellcheck disable=SC2086
        dpkg --purge $packages >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
    exit $status
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step "make deb"
make -C "$src" --no-print-directory deb DEBDIR="$debdir" >"$tmp/deb.log" 2>&1 ||
    { cat "$tmp/deb.log"; fail "make deb"; }
tail -n 6 "$tmp/deb.log" | sed 's/^/   /'
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
debs=""
for p in $packages; do
    debs="$debs $debdir/${p}_${version}_$arch.deb"
done

step "dpkg -i$(for d in $debs; do printf ' %s' "$(basename "$d")"; done)"
installed=true
# shellcheck disable=SC2086
dpkg -i $debs >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i"; }
# shellcheck disable=SC2086
dpkg -l $packages | grep '^ii' | sed 's/^/   /'

step "the zrelay system user, the state directory, the conffile"
entry=$(getent passwd zrelay) || fail "no user zrelay"
echo "   $entry"
uid=$(echo "$entry" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "zrelay is not a system user (uid $uid)"
[ "$(echo "$entry" | cut -d: -f6)" = /var/lib/zrelay ] ||
    fail "zrelay's home is not /var/lib/zrelay"
case $(echo "$entry" | cut -d: -f7) in
*/nologin | */false) ;;
*) fail "zrelay has a login shell" ;;
esac
getent group zrelay >/dev/null || fail "no group zrelay"
state=$(stat -c '%U:%G %a' /var/lib/zrelay) || fail "no /var/lib/zrelay"
[ "$state" = "zrelay:zrelay 750" ] || fail "/var/lib/zrelay is $state"
echo "   /var/lib/zrelay: $state"
dpkg-query -W -f='${Conffiles}\n' zrelay | grep -q ' /etc/zrelay/zrelay.conf ' ||
    fail "/etc/zrelay/zrelay.conf is not a conffile of zrelay"
/usr/bin/zrelay run --print-default | cmp -s - /etc/zrelay/zrelay.conf ||
    fail "/etc/zrelay/zrelay.conf is not the embedded default"
echo "   /etc/zrelay/zrelay.conf: a conffile, the embedded default"
/usr/bin/zrelay check /etc/zrelay/zrelay.conf | sed 's/^/   /'

step "the command and the library"
/usr/bin/zrelay --version | sed 's/^/   /'
# /lib is /usr/lib on a merged-/usr system (Debian 12's default).
ldd /usr/bin/zrelay | grep -Eq "libzrelay.so.0 => (/usr)?/lib/$ma/libzrelay.so.0" ||
    { ldd /usr/bin/zrelay; fail "zrelay does not use /usr/lib/$ma's"; }
echo "   $(ldd /usr/bin/zrelay | grep libzrelay | tr -d '\t')"
if command -v man >/dev/null 2>&1; then
    if ! man -w zrelay >/dev/null || ! man -w zrelay.conf >/dev/null; then
        fail "man pages not found"
    fi
fi
if command -v systemd-analyze >/dev/null 2>&1; then
    out=$(systemd-analyze verify --man=no /lib/systemd/system/zrelay.service \
        2>&1) || fail "systemd-analyze verify: $out"
    if printf '%s\n' "$out" | grep "zrelay.service"; then
        fail "systemd-analyze verify complains about zrelay.service"
    fi
    echo "   systemd-analyze verify zrelay.service: ok"
fi

step "libzrelay-dev: a program built with pkg-config"
cat >"$tmp/v.c" <<'EOF'
#include <stdio.h>
#include <zrelay.h>
int main(void) { printf("%s\n", zr_version()); return 0; }
EOF
# shellcheck disable=SC2046
cc -o "$tmp/v" "$tmp/v.c" $(pkg-config --cflags --libs zrelay) ||
    fail "cc against libzrelay-dev"
got=$("$tmp/v")
[ "$got" = "$version" ] || fail "zr_version() is '$got', not $version"
echo "   zr_version(): $got (pkg-config zrelay $(pkg-config --modversion zrelay))"

if [ -d /run/systemd/system ]; then
    step "systemd: the unit the package started"
    end=$(($(date +%s) + 20))
    until systemctl is-active --quiet zrelay; do
        [ "$(date +%s)" -lt "$end" ] ||
            { systemctl status zrelay; fail "zrelay.service not active"; }
        sleep 0.2 # polling systemd, within the deadline
    done
    systemctl show -p User -p ActiveState zrelay | sed 's/^/   /'
    # The start without systemd below needs the default ports.
    systemctl stop zrelay
fi

step "zrelay run /etc/zrelay/zrelay.conf as the zrelay user, no systemd"
if unshare -n true 2>/dev/null && command -v ip >/dev/null 2>&1; then
    echo "   (in a network namespace of its own: unshare -n)"
    unshare -n sh "$here/install_test.sh" --relay "$tmp" netns
else
    echo "   (on the host's network: no namespace here)"
    for port in 5558 5559 5560 5561 5562 5565 5570 5571; do
        if ss -ltnH "sport = :$port" | grep -q .; then
            fail "port $port is in use: the default config cannot start"
        fi
    done
    sh "$here/install_test.sh" --relay "$tmp" host
fi

step "dpkg --purge $packages"
# shellcheck disable=SC2086
dpkg --purge $packages >"$tmp/purge.log" 2>&1 ||
    { cat "$tmp/purge.log"; fail "dpkg --purge"; }
installed=false
left=""
for p in $packages; do
    if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
        grep -qv "not-installed"; then
        left="$left package:$p"
    fi
done
getent passwd zrelay >/dev/null && left="$left user:zrelay"
getent group zrelay >/dev/null && left="$left group:zrelay"
for f in /etc/zrelay /var/lib/zrelay /usr/bin/zrelay /usr/include/zrelay.h \
    "/usr/lib/$ma/libzrelay.so.0" /lib/systemd/system/zrelay.service; do
    [ -e "$f" ] && left="$left $f"
done
[ -z "$left" ] || fail "left after purge:$left"
echo "   no package, user, group, /etc/zrelay, /var/lib/zrelay or file left"
echo "ok: install_test"

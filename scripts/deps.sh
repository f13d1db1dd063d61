#!/bin/sh
# deps.sh - install what building, testing and running zrelay needs, from
# Debian's packages (docs/DEPENDENCIES.md says why each one is there).
# Idempotent: prints nothing and changes nothing when all is present.
#   scripts/deps.sh           build, test and run
#   scripts/deps.sh --bench   also what `make bench` plots with and
#                             `make bench-cost` counts system calls with
#   scripts/deps.sh --fuzz    also clang and libFuzzer, for `make fuzz`
#   scripts/deps.sh --deb     also Debian's packaging tools, for `make deb`
#   scripts/deps.sh --browser also Chromium (about 120 MB to download,
#                             410 MB installed), for the status page's
#                             test in a real browser; CI (.ci/run) adds
#                             it, `make test` skips that test without it
# Groups add up: scripts/deps.sh --deb --browser.
set -eu

PACKAGES="gcc make cmake pkg-config libzmq3-dev libcjson-dev libinih-dev
    libsystemd-dev libbsd-dev libczmq-dev libmicrohttpd-dev liblmdb-dev
    python3-zmq
    iproute2 nftables valgrind tmux prometheus curl"
for group in "$@"; do
    case "$group" in
    --bench) PACKAGES="$PACKAGES gnuplot-nox linux-perf" ;;
    --deb) PACKAGES="$PACKAGES debhelper dpkg-dev lintian adduser" ;;
    --fuzz) PACKAGES="$PACKAGES clang-14 libfuzzer-14-dev" ;;
    --browser) PACKAGES="$PACKAGES chromium" ;;
    *)
        echo "deps.sh: unknown group '$group' (--bench, --deb, --fuzz," \
            "--browser)" >&2
        exit 2
        ;;
    esac
done

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing$missing" >&2
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps.sh: need root to run: apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2

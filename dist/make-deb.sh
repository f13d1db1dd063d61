#!/bin/sh
# make-deb.sh - the Debian packages, built out of the source tree: a copy
# of the tree's files (those git tracks or would track: not build trees,
# not what .gitignore names) in OUT/zrelay-VERSION, dpkg-buildpackage
# there (debian/: debhelper, cmake), then lintian on the result. The
# source tree gets nothing; OUT (build-deb, ignored) gets
#   zrelay_VERSION_ARCH.deb  libzrelay0_VERSION_ARCH.deb
#   libzrelay-dev_VERSION_ARCH.deb  zrelay_VERSION_ARCH.changes  build.log
#
# usage: dist/make-deb.sh [OUT] [JOBS]     (make deb)
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-build-deb}
jobs=${2:-2}
case $out in /*) ;; *) out=$src/$out ;; esac

version=$(sed -n 's/^project(zrelay VERSION \([0-9.]*\).*/\1/p' \
    "$src/CMakeLists.txt")
changelog=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
if [ "$version" != "$changelog" ]; then
    echo "make-deb: CMakeLists.txt says $version, debian/changelog" \
        "$changelog: add a changelog entry (dch -v $version)" >&2
    exit 1
fi

tree=$out/zrelay-$version
rm -rf "$out"
mkdir -p "$tree"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and untracked-but-not-ignored files, as they are now (a file
    # deleted but not yet committed is skipped).
    # shellcheck disable=SC2016
    (cd "$src" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' - |
        tar --null -T - -cf -) | tar -xf - -C "$tree"
else
    (cd "$src" && tar --exclude='./build' --exclude='./build-*' \
        --exclude='./.git' -cf - .) | tar -xf - -C "$tree"
fi

echo "make-deb: dpkg-buildpackage in $tree (log: $out/build.log)"
if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=$jobs" \
        dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log" >&2
    echo "make-deb: the package build failed (all of it: $out/build.log)" >&2
    exit 1
fi

changes=$(ls "$out"/zrelay_"$version"_*.changes)
echo "make-deb: lintian $changes"
# Fails on any error or warning; info tags are shown. Each tag we keep
# is overridden in debian/*.lintian-overrides with the reason.
lintian --fail-on error,warning --display-info "$changes"
ls -1 "$out"/*.deb

#!/bin/bash
# package.sh - build the Debian package of ntpverify from this tree.
#
#   scripts/package.sh [OUTDIR]          OUTDIR defaults to build/package
#
# dpkg-buildpackage builds in the source tree and writes the packages
# into its parent directory, so this copies the tree (the files git
# tracks plus untracked ones it does not ignore; without git, everything
# but build/ and .git) to OUTDIR/ntpverify-VERSION and runs
# `dpkg-buildpackage -us -uc -b` there. The result, in OUTDIR:
#
#   ntpverify_VERSION-REV_ARCH.deb          the package
#   ntpverify-dbgsym_VERSION-REV_ARCH.deb   its detached debug symbols
#   ntpverify_VERSION-REV_ARCH.buildinfo, .changes
#
# Temporary files go to OUTDIR/tmp (TMPDIR), and the copy is removed after
# a successful build, so nothing is written outside OUTDIR. Needs
# debhelper, dpkg-dev and the Build-Depends of debian/control (missing
# ones are listed by dpkg-checkbuilddeps); root is not needed.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build/package}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(sed -n 's/^project(ntpverify VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || { echo "package.sh: no project(VERSION) in CMakeLists.txt" >&2; exit 1; }
deb_version=$(sed -n '1s/^ntpverify (\([^)]*\)).*/\1/p' "$src/debian/changelog")
if [ "${deb_version%-*}" != "$version" ]; then
	echo "package.sh: debian/changelog says $deb_version, CMakeLists.txt $version:" \
		"add a changelog entry ($version-1)" >&2
	exit 1
fi

copy=$out/ntpverify-$version
# Only what an earlier run of this script left here.
rm -rf "$copy" "$out/tmp" "$out"/ntpverify_*.deb "$out"/ntpverify-dbgsym_*.deb \
	"$out"/ntpverify_*.buildinfo "$out"/ntpverify_*.changes
mkdir -p "$copy" "$out/tmp"

# The tree's files, relative to it, NUL-separated; never OUTDIR itself
# when it lies inside the tree.
rel_out=${out#"$src"/}
[ "$rel_out" = "$out" ] && rel_out=
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$src" ls-files -z --cached --others --exclude-standard
else
	(cd "$src" && find . \( -path ./build -o -path ./.git \) -prune -o \( -type f -o -type l \) -print0 |
		sed -z 's|^\./||')
fi | while IFS= read -r -d '' f; do
	# A tracked file deleted in the work tree is not there to copy.
	[ -e "$src/$f" ] || [ -L "$src/$f" ] || continue
	[ -n "$rel_out" ] && [[ $f == "$rel_out"/* ]] && continue
	printf '%s\0' "$f"
done | tar -C "$src" --null -T - -cf - | tar -C "$copy" -xf -

jobs=$(nproc 2>/dev/null || echo 1)
case " ${DEB_BUILD_OPTIONS:-} " in
*" parallel="*) ;;
*) export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$jobs" ;;
esac
export TMPDIR=$out/tmp

echo "package.sh: building ntpverify $deb_version in $copy" >&2
if ! (cd "$copy" && dpkg-buildpackage -us -uc -b); then
	echo "package.sh: dpkg-buildpackage failed; the build tree is kept in $copy" >&2
	exit 1
fi
rm -rf "$copy" "$out/tmp"
ls -1 "$out"/ntpverify*_"$deb_version"_*.deb

#!/usr/bin/env bash
# Builds coolingd and coolingctl of one commit of this repository, for the
# upgrade test (tests/e2e/test_upgrade.c), and prints the directory that
# holds them. The commit's tree comes from `git archive` into a temporary
# directory; the binaries are kept in CACHE_DIR/COMMIT/bin, so a re-run with
# the same commit builds nothing.
#
#   tests/scripts/build_release.sh SOURCE_DIR COMMIT CACHE_DIR
#
# Exits 1, saying why, when the clone does not hold the commit (a shallow
# clone: `git fetch --unshallow`) or the build fails (its log is kept).
set -euo pipefail

[ $# -eq 3 ] || {
	echo "usage: $0 SOURCE_DIR COMMIT CACHE_DIR" >&2
	exit 2
}
src=$1
commit=$2
cache=$3

if ! git -C "$src" cat-file -e "$commit^{commit}" 2>/dev/null; then
	echo "build_release: the clone in $src has no commit $commit (named in RELEASES);" \
		"a shallow clone needs 'git fetch --unshallow'" >&2
	exit 1
fi
commit=$(git -C "$src" rev-parse "$commit^{commit}")
out=$cache/$commit
if [ -x "$out/bin/coolingd" ] && [ -x "$out/bin/coolingctl" ]; then
	echo "build_release: $commit already built" >&2
	echo "$out/bin"
	exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build-$commit.XXXXXX")
log=$cache/build-$commit.log
started=$(date +%s)
echo "build_release: building $commit (log: $log)" >&2
if ! {
	mkdir "$work/src" &&
		git -C "$src" archive "$commit" | tar -x -C "$work/src" &&
		cmake -S "$work/src" -B "$work/build" -DCOOLINGD_TESTS=OFF \
			-DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		cmake --build "$work/build" -j2 --target coolingd coolingctl
} >"$log" 2>&1; then
	echo "build_release: the build of $commit failed; the end of $log:" >&2
	tail -n 30 "$log" >&2
	rm -rf "$work"
	exit 1
fi
# Moved into place whole, so that an interrupted build is never taken for a
# finished one.
mkdir -p "$work/out/bin"
cp "$work/build/bin/coolingd" "$work/build/bin/coolingctl" "$work/out/bin/"
rm -rf "$out"
mv "$work/out" "$out"
rm -rf "$work"
echo "build_release: built $commit in $(($(date +%s) - started)) s" >&2
echo "$out/bin"

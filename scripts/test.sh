#!/usr/bin/env bash
# The test command: installs what is missing, builds a plain tree (with the
# flags of a Debian package) and an ASan+UBSan tree, starts a throwaway
# PostgreSQL and runs every CTest suite (unit, integration, e2e) against both
# builds (the package, failover, console and upgrade suites against the
# plain one only).
#
#   scripts/test.sh [--fast] [--no-fuzz] [-L LABEL]... [-R REGEX]
#
#   --fast      skip the sanitizer build and fuzzing
#   --no-fuzz   skip fuzzing (scripts/fuzz.sh, clang, after the ASan tests)
#   -L LABEL    only tests with that CTest label (unit, integration, e2e, api, console,
#               package)
#   -R REGEX    only tests whose name matches
#
# PG_FSYNC=off in the environment runs the throwaway cluster without fsync.
set -euo pipefail

started=$(date +%s)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

fast=0
fuzz=1
ctest_args=()
usage() {
	sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--fast) fast=1 ;;
	--no-fuzz) fuzz=0 ;;
	-L | -R)
		[ $# -ge 2 ] || usage
		ctest_args+=("$1" "$2")
		shift
		;;
	-h | --help) usage ;;
	*)
		echo "test.sh: unknown argument: $1" >&2
		usage
		;;
	esac
	shift
done

pgdir=
testtmp=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$pgdir" ]; then
		scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true
		rm -rf "$pgdir"
	fi
	if [ -n "$testtmp" ]; then
		if [ "$rc" -eq 0 ]; then
			rm -rf "$testtmp"
		else
			echo "test.sh: the tests' temporary files (daemon logs) are kept in $testtmp"
		fi
	fi
	echo "test.sh: total elapsed $(($(date +%s) - started)) s"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
# The plain tree is built as a Debian package builds it (debhelper's cmake
# step: build type None, dpkg-buildflags' CFLAGS with its CPPFLAGS, and its
# LDFLAGS: -O2, _FORTIFY_SOURCE, the stack protector, format-security,
# RELRO), so that the warnings of an optimised build stop the tests here.
# dpkg-buildflags comes with build-essential (dpkg-dev).
step "build (build/, with the flags of a Debian package)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=None \
	-DCMAKE_C_FLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
	-DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)"
cmake --build build -j"$jobs"
if [ "$fast" -eq 0 ]; then
	step "build with ASan+UBSan (build-asan/)"
	cmake -S . -B build-asan -DCOOLINGD_SANITIZE=ON
	cmake --build build-asan -j"$jobs"
fi

# The first loopback port from $1 on that nobody answers on; the cluster
# also gets its own socket directory, so it never meets a system cluster.
free_port() {
	local p
	for ((p = $1; p < 55532; p++)); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "test.sh: no free port in 55432-55531" >&2
	return 1
}

step "throwaway PostgreSQL"
pgdir=$(mktemp -d)
# A port that answered nothing may still be taken by the time the server
# binds it (a socket that does not listen, another run starting): the next.
port=55431 url=
for _ in 1 2 3 4 5; do
	port=$(free_port $((port + 1)))
	url=$(scripts/pg.sh start "$pgdir" "$port" | tail -n 1) && break
	url=
	echo "test.sh: port $port was taken; trying the next" >&2
done
[ -n "$url" ] || {
	echo "test.sh: the throwaway PostgreSQL did not start" >&2
	exit 1
}
echo "$url"

# Settings of the developer's shell must not leak into the daemon under test.
while read -r var; do
	unset "$var"
done < <(compgen -e | grep -E '^COOLINGD_(SERVER|DATABASE|POLICY|LOG|METRICS)_' || true)

# The daemons' config files and logs go here: removed after a green run,
# kept for reading after a red one.
testtmp=$(mktemp -d)
export TMPDIR=$testtmp

export COOLINGD_TEST_DATABASE_URL=$url
export COOLINGD_TEST_PGDATA=$pgdir/data
COOLINGD_TEST_PGCTL=$(scripts/pg.sh pgctl)
export COOLINGD_TEST_PGCTL

failed=()
# docs/openapi.yaml: its Node.js checks (tests/api), and every answer that
# the e2e tests of the plain build receive, recorded there and validated
# after them.
step "packages of the API checks (tests/api, npm ci)"
(cd tests/api && npm ci --no-audit --no-fund --loglevel=error)
# The console's browser tests (tests/console): playwright-core, pinned.
step "packages of the console's browser tests (tests/console, npm ci)"
(cd tests/console && npm ci --no-audit --no-fund --loglevel=error)
export COOLINGD_TEST_RECORD_DIR=$testtmp/api-exchanges
mkdir -p "$COOLINGD_TEST_RECORD_DIR"

step "tests (build/)"
ctest --test-dir build --output-on-failure --no-tests=error -j1 "${ctest_args[@]}" ||
	failed+=(build)

step "answers of the e2e tests against docs/openapi.yaml"
if ctest --test-dir build -N "${ctest_args[@]}" | grep -qE ' e2e_' ||
	compgen -G "$COOLINGD_TEST_RECORD_DIR/*.jsonl" >/dev/null; then
	tests/api/check.sh responses "$COOLINGD_TEST_RECORD_DIR" || failed+=(api-answers)
else
	echo "no e2e test selected: nothing recorded"
fi
unset COOLINGD_TEST_RECORD_DIR

# Tests that mostly drive other programs run once, with the plain build's
# tests above: the package (it builds its own from the sources), the
# failover (pg_autoctl's formation), the console (Chromium) and the upgrade
# (it builds the last release).
once='^(package|ha|console|upgrade)$'
if [ "$fast" -eq 0 ]; then
	step "tests with ASan+UBSan (build-asan/)"
	if ctest --test-dir build-asan -N -LE "$once" "${ctest_args[@]}" |
		grep -q 'Total Tests: [1-9]'; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			ctest --test-dir build-asan --output-on-failure --no-tests=error -j1 \
			-LE "$once" "${ctest_args[@]}" || failed+=(build-asan)
	else
		echo "no test selected that runs under ASan"
	fi
fi
if [ "$fast" -eq 0 ] && [ "$fuzz" -eq 1 ]; then
	step "fuzzing, 20 s per target (build-fuzz/)"
	scripts/fuzz.sh 20 || failed+=(fuzz)
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "test.sh: FAILED in: ${failed[*]}"
	exit 1
fi
echo "test.sh: all tests passed"

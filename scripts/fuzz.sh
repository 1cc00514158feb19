#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang in build-fuzz/ and runs
# each for a bounded time on a copy of its seed corpus (docs/fuzzing.md).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET]...
#
#   SECONDS_PER_TARGET  default 20 (seven targets: about three minutes)
#   TARGET              fuzz_codec_approval fuzz_money fuzz_time fuzz_iin
#                       fuzz_config fuzz_cursor fuzz_refusal_csv (default: all)
#
# Prints the executions of each target and exits non-zero when any target
# crashed, failed a check, leaked, timed out or ran out of memory; the input
# is kept in build-fuzz/crashes/TARGET/ and the log in build-fuzz/logs/.
# The committed corpus in fuzz/corpus/ is never written to. Needs clang and
# its libFuzzer runtime (Debian 12: clang, libclang-rt-14-dev); no network.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

all_targets=(fuzz_codec_approval fuzz_money fuzz_time fuzz_iin fuzz_config fuzz_cursor fuzz_refusal_csv)
usage() {
	sed -n '2,16s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

seconds=20
if [ $# -gt 0 ]; then
	case "$1" in
	-h | --help) usage ;;
	esac
	if ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
		echo "fuzz.sh: SECONDS_PER_TARGET must be a positive whole number: $1" >&2
		usage
	fi
	seconds=$1
	shift
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	targets=("${all_targets[@]}")
fi
for t in "${targets[@]}"; do
	if [[ " ${all_targets[*]} " != *" $t "* ]]; then
		echo "fuzz.sh: unknown target: $t" >&2
		usage
	fi
done

cc=
for c in clang clang-14; do
	if command -v "$c" >/dev/null 2>&1; then
		cc=$(command -v "$c")
		break
	fi
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# libFuzzer's runtime is a separate package from the compiler; say so rather
# than fail deep inside the build.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return (void)d, (int)(n & 0); }\n' \
	>"$scratch/probe.c"
if [ -z "$cc" ] || ! "$cc" -fsanitize=fuzzer,address,undefined "$scratch/probe.c" \
	-o "$scratch/probe" >/dev/null 2>&1; then
	echo "fuzz.sh: needs clang with libFuzzer; on Debian 12, as root:" >&2
	echo "  apt-get install -y --no-install-recommends clang libclang-rt-14-dev" >&2
	exit 1
fi

build="build-fuzz"
jobs=$(nproc 2>/dev/null || echo 2)
echo "==> build ($build/, $("$cc" --version | head -n 1))"
cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCOOLINGD_FUZZ=ON -DCOOLINGD_TESTS=OFF \
	-DCOOLINGD_BENCH=OFF >"$scratch/configure.log" 2>&1 || {
	cat "$scratch/configure.log" >&2
	exit 1
}
cmake --build "$build" --target fuzz -j"$jobs"

mkdir -p "$build/logs" "$build/crashes"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

results=()
failed=()
for t in "${targets[@]}"; do
	work=$build/corpus-run/$t
	crashes=$root/$build/crashes/$t
	log=$build/logs/$t.log
	rm -rf "$work"
	mkdir -p "$work" "$crashes"
	cp -R "fuzz/corpus/$t/." "$work/"
	args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$crashes/")
	if [ -f "fuzz/$t.dict" ]; then
		args+=(-dict="fuzz/$t.dict")
	fi
	echo "==> $t (${seconds} s)"
	rc=0
	# libFuzzer stops itself; timeout only guards against a run that does not.
	timeout --kill-after=10 $((seconds + 120)) "$build/bin/$t" "${args[@]}" "$work" \
		>"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=${execs:-?}
	if [ "$rc" -eq 0 ]; then
		results+=("$(printf '%-22s %12s  ok' "$t" "$execs")")
		continue
	fi
	failed+=("$t")
	artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	results+=("$(printf '%-22s %12s  FAILED (exit %d) %s' "$t" "$execs" "$rc" "${artifact:-}")")
	# The report: the sanitizer's or the check's own lines, not the fuzzer's.
	grep -v -E '^(#[0-9]+|INFO:|MS:|	NEW_FUNC|base unit:|0x[0-9a-f]|\\x)' "$log" | tail -n 40 >&2 ||
		true
	echo "fuzz.sh: $t failed; log $log" >&2
	if [ -n "$artifact" ]; then
		echo "fuzz.sh: crash input kept in $artifact; replay: $build/bin/$t $artifact" >&2
	fi
done

echo
printf '%-22s %12s  %s\n' target executions result
printf '%s\n' "${results[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: FAILED: ${failed[*]}"
	exit 1
fi
echo "fuzz.sh: no crashes (${seconds} s per target)"

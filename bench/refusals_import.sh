#!/usr/bin/env bash
# Benchmark of `coolingctl refusals import`: the rate and, above all, the
# peak memory of importing the bureau's file (it streams: the RSS must not
# grow with the number of lines), the second import of the same file (every
# change already known) and the lookup the gate makes in the filled table.
#
#   bench/refusals_import.sh [LINES]        default 1000000
#
# Starts its own throwaway PostgreSQL (scripts/pg.sh in a mktemp directory,
# port 55481), creates and migrates a database, writes LINES changes with
# bench/gen_refusals.sh, imports them twice under /usr/bin/time -v, prints
# the figures and removes the cluster. Needs a built tree
# (cmake --build build) and /usr/bin/time.
set -euo pipefail

LINES=${1:-1000000}
PORT=55481
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CTL=$ROOT/build/bin/coolingctl

[ -x "$CTL" ] || { echo "refusals_import: build first: cmake --build build" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "refusals_import: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
[[ "$LINES" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [LINES]" >&2; exit 2; }

work=$(mktemp -d /tmp/cd-refusals-bench.XXXXXX)
cleanup() {
	"$ROOT/scripts/pg.sh" stop "$work" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }
rate() { echo "$1 / $2" | bc -l | xargs printf '%.0f'; }
peak_mib() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }

echo "== machine"
echo "nproc: $(nproc)"
free -h | sed -n '1,2p'
grep -m1 'model name' /proc/cpuinfo | sed 's/^model name\s*: /cpu: /' || true
# other work on the machine skews every figure below
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== cluster"
server=$("$ROOT/scripts/pg.sh" start "$work" "$PORT" | tail -n 1)
psql "$server" -qXc "CREATE DATABASE coolingd_bench TEMPLATE template0 ENCODING 'UTF8'"
url=${server/\/postgres\?//coolingd_bench?}
"$CTL" -c /dev/null --database "$url" migrate
psql "$url" -AtXc "SELECT version()"

echo "== the file: $LINES lines"
t0=$(now)
"$ROOT/bench/gen_refusals.sh" "$LINES" >"$work/refusals.csv"
echo "written in $(elapsed "$t0" "$(now)") s, $(du -m "$work/refusals.csv" | cut -f1) MiB"

run_import() { # NAME
	local log=$work/time-$1.log t0 t1 s
	t0=$(now)
	/usr/bin/time -v "$CTL" -c /dev/null --database "$url" refusals import "$work/refusals.csv" \
		>"$work/out-$1.txt" 2>"$log"
	t1=$(now)
	s=$(elapsed "$t0" "$t1")
	cat "$work/out-$1.txt"
	echo "$1: ${s} s, $(rate "$LINES" "$s") lines/s, peak RSS $(peak_mib "$log") MiB"
	grep -E 'Maximum resident set size|Elapsed \(wall clock\)|User time|System time' "$log" |
		sed 's/^\s*/    /'
	eval "${1}_s=$s; ${1}_rss=$(peak_mib "$log")"
}

echo "== import (every change new)"
run_import first
echo "== the same file again (every change already known)"
run_import again

echo "== the gate's lookup in the filled table"
psql "$url" -qXc "VACUUM ANALYZE voluntary_refusal"
iin=$(sed -n 2p "$work/refusals.csv" | cut -d, -f1)
psql "$url" -AtXc "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT cd_refusal_active('$iin')" |
	sed 's/^/    /'
psql "$url" -AtXc "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT r.active FROM voluntary_refusal r
  WHERE r.iin = '$iin' AND r.effective_at <= now() ORDER BY r.effective_at DESC, r.seq DESC LIMIT 1" |
	sed 's/^/    /'

echo "== summary"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %10s %12s %14s\n' step seconds lines/s "peak RSS MiB"
printf '%-8s %10s %12s %14s\n' first "$first_s" "$(rate "$LINES" "$first_s")" "$first_rss"
printf '%-8s %10s %12s %14s\n' again "$again_s" "$(rate "$LINES" "$again_s")" "$again_rss"
for r in "$first_rss" "$again_rss"; do
	if awk -v r="$r" 'BEGIN { exit !(r >= 64) }'; then
		echo "refusals_import: peak RSS $r MiB is not below 64 MiB" >&2
		exit 1
	fi
done

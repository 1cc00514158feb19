#!/usr/bin/env bash
# What recording a compliance read in the personal-data access log costs (by
# hand, not a test): the same single-loan reads (bench/reads.lua, GET
# /v1/lenders/{lender}/loans/{loan_id}) against one coolingd, with the
# lender's token (a lender's own reads are not recorded: off) and with a
# compliance token (each read recorded in access_log, committed before the
# answer: on), in alternating rounds off, on, off, on, ...
#
#   bench/access_log.sh [--quick] [--rounds N] [--seconds S] [--loans N]
#
#   --quick       2 rounds of 10 s (BENCH_QUICK=1 too); else 3 rounds of 30 s
#   --rounds N    off/on pairs
#   --seconds S   seconds per measurement
#   --loans N     loans created through the API and read at random (2000)
#
# Builds, starts PostgreSQL and coolingd and tears them down as bench/run.sh
# does (bench/lib/), and takes BENCH_REV, BENCH_POOL_SIZE, BENCH_NICE,
# BENCH_QUIET_WAIT and BENCH_KEEP as it does. Prints reads/s, mean latency,
# p50/p99 and CPU per read of each side, the ratio on / off, and the
# access_log rows each side wrote; results go to
# bench/results/access-<UTC timestamp>.txt and .json (git ignores them).
# shellcheck disable=SC2034,SC2154 # settings used by, and set in, the parts in bench/lib/
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
bench=$root/bench
build=$root/build-release

quick=${BENCH_QUICK:-0}
rounds=
dur=
read_n=2000
usage() {
	sed -n '2,21s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--rounds | --seconds | --loans)
		[ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || usage
		case "$1" in --rounds) rounds=$2 ;; --seconds) dur=$2 ;; --loans) read_n=$2 ;; esac
		shift
		;;
	-h | --help) usage ;;
	*)
		echo "access_log.sh: unknown argument: $1" >&2
		usage
		;;
	esac
	shift
done
[ "$quick" = 1 ] || quick=0
[ -n "$rounds" ] || rounds=$([ $quick -eq 1 ] && echo 2 || echo 3)
[ -n "$dur" ] || dur=$([ $quick -eq 1 ] && echo 10 || echo 30)
[ $((read_n % 2)) -eq 0 ] || { echo "access_log.sh: --loans must be even" >&2; exit 2; }

# ---- settings (as bench/run.sh's, for the parts in bench/lib/) ----
conns=32
threads=2
idle_conns=1000 # raise_fd_limit's floor
read_base=1000000
lender=BANK1
client_name=bench
timezone=Asia/Almaty
cooling_period=1h
iin_n=300
profile=0
profiler=perf
pgss=0

for part in util setup postgres coolingd measure fixtures peak access; do
	# shellcheck source=/dev/null
	. "$bench/lib/$part.sh"
done
ab_begin access

prepare_run
create_lender_client
create_compliance_client
launch_coolingd
create_fixtures
sql -c "VACUUM ANALYZE" >/dev/null

# Warm-up, not reported: both tokens, so that neither side pays for the
# first prepared statements and caches.
read_env=("BENCH_READ_BASE=$read_base" "BENCH_READ_N=$read_n")
log "warming up (2s per token)"
run_wrk warm.access.off reads.lua 2 "${read_env[@]}"
run_wrk warm.access.on reads.lua 2 BENCH_TOKEN="$compliance_token" "${read_env[@]}"
wait_for_quiet
log "measuring: $rounds rounds of off (lender token) and on (compliance token), ${dur}s each"
measure_access

elapsed=$(($(date +%s) - started))
write_access_results

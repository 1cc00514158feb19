#!/usr/bin/env bash
# The benchmark harness (by hand, not a test): coolingd against the
# essential work done by pgbench (the reference: one loan row and one audit
# row per write, one primary-key lookup per read), and against pgbench
# running exactly the same SQL as coolingd, side by side, in one run.
#
#   bench/run.sh [--quick] [--no-profile] [--preload N] [--webhooks[=only]] [--http-only]
#
#   --quick       5 s per measurement and 20,000 requests for the memory
#                 check instead of 10 s and 1,000,000 (BENCH_QUICK=1 too)
#   --no-profile  skip the perf (or callgrind) profile
#   --preload N   after the runs on the (nearly) empty database, insert N
#                 loans of N/10 borrowers and measure again (1000000; 0: off)
#   --webhooks    also measure approvals with webhooks on and off, alternating
#                 (bench/lib/webhooks.sh); =only: that and nothing else
#   --http-only   only the HTTP floor: GET /healthz on coolingd and on nginx
#                 serving the same answer (bench/lib/http.sh), which every
#                 run measures after the peak for the read limit; no loans,
#                 pgbench scripts nor warm-up beforehand
#
# Installs what is missing (wrk, jq, linux-perf, nginx-light), builds
# build-release/ (Release, no tests), starts its own PostgreSQL
# (scripts/pg.sh, fsync on, pg_stat_statements preloaded) in a temporary
# directory on a free port, a coolingd on another (and an nginx on a third),
# measures, and tears everything down. Everything talks to 127.0.0.1 only. Results go to bench/results/<UTC timestamp>.txt and
# .json (and -profile.txt, and the generated pgbench scripts -*.sql), which
# git ignores: docs/performance.md says what is measured, how to read it, and
# how a run it cites is committed.
#
# Environment (docs/performance.md has the table):
#   BENCH_ROUNDS=N        rounds per workload, coolingd and pgbench alternating,
#                         best kept (1)
#   BENCH_REV=COMMIT      measure that commit's coolingd instead of the work
#                         tree's (built in the temporary directory with this
#                         bench/), for a stable figure while others edit
#   BENCH_POOL_SIZE=N     coolingd's database.pool_size (the daemon's default)
#   BENCH_MEM_REQS=N      requests between the two RSS samples
#   BENCH_IIN_N=N         borrowers the approvals are drawn from (300)
#   BENCH_PRELOAD=N       as --preload N
#   BENCH_WEBHOOKS=1|only as --webhooks, --webhooks=only (0: off)
#   BENCH_HTTP=1|0|only   the HTTP floor after the peak (1); 0: without it
#                         nor the read limit; only: as --http-only
#   BENCH_PRELOAD_REFUSALS=N  after the runs with data, insert N voluntary
#                         refusals (3000000 for docs/refusals.md) and measure
#                         approvals, reads and the gate again (0: off)
#   BENCH_PGSS=0          without pg_stat_statements (default 1 when installed)
#   BENCH_QUIET_WAIT=S    wait for other work on the machine to calm down (30;
#                         --quick 0)
#   BENCH_NICE=N          niceness of everything started (-10 as root; 0: leave)
#   BENCH_PROFILER=perf|callgrind, BENCH_KEEP=1 (keep the temporary directory)
# shellcheck disable=SC2034 # settings used by the parts in bench/lib/
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
bench=$root/bench
build=$root/build-release

quick=${BENCH_QUICK:-0}
profile=1
preload=${BENCH_PRELOAD:-1000000}
webhooks=${BENCH_WEBHOOKS:-0}
http=${BENCH_HTTP:-1}
usage() {
	sed -n '2,50s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--no-profile) profile=0 ;;
	--webhooks) webhooks=1 ;;
	--webhooks=only) webhooks=only ;;
	--http-only) http=only ;;
	--preload)
		[ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || usage
		preload=$2
		shift
		;;
	-h | --help) usage ;;
	*)
		echo "run.sh: unknown argument: $1" >&2
		usage
		;;
	esac
	shift
done

# ---- settings ----
dur=10          # seconds per measurement
mem_reqs=1000000 # requests between the two RSS samples
if [ "$quick" = 1 ]; then
	dur=5
	mem_reqs=20000
else
	quick=0
fi
mem_reqs=${BENCH_MEM_REQS:-$mem_reqs}
conns=32
threads=2
idle_conns=1000
idle_hold=4        # seconds (< server.request_timeout, which closes idle connections)
read_base=1000000  # loans read_base+1 .. read_base+read_n: odd eligible, even cooling
read_n=2000
lender=BANK1
client_name=bench
timezone=Asia/Almaty
cooling_period=1h  # the gate needs loans that stay in their cooling period
rss_tolerance_kib=4096
active_conns=1000  # connections of the memory check under load (wrk -c)
iin_n=${BENCH_IIN_N:-300} # borrowers the approvals are drawn from: "a few hundred"
preload_refusals=${BENCH_PRELOAD_REFUSALS:-0}
preload_borrowers=$((preload / 10))
profiler=${BENCH_PROFILER:-perf}
pgss=${BENCH_PGSS:-1}
case $webhooks in 0 | 1 | only) ;; *) echo "run.sh: BENCH_WEBHOOKS must be 0, 1 or only" >&2; exit 2 ;; esac
case $http in 0 | 1 | only) ;; *) echo "run.sh: BENCH_HTTP must be 0, 1 or only" >&2; exit 2 ;; esac
[ "$webhooks" != only ] || [ "$http" != only ] ||
	{ echo "run.sh: --webhooks=only and --http-only exclude each other" >&2; exit 2; }
[[ "$iin_n" =~ ^[1-9][0-9]*$ ]] && [ "$iin_n" -le 10000 ] || { echo "run.sh: BENCH_IIN_N must be 1..10000" >&2; exit 2; }
[[ "$preload" =~ ^[0-9]+$ ]] || { echo "run.sh: BENCH_PRELOAD must be a number" >&2; exit 2; }
[[ "$preload_refusals" =~ ^[0-9]+$ ]] || { echo "run.sh: BENCH_PRELOAD_REFUSALS must be a number" >&2; exit 2; }
[ "$preload_refusals" = 0 ] || [ "$preload" -gt 0 ] ||
	{ echo "run.sh: BENCH_PRELOAD_REFUSALS needs the runs with data (--preload N > 0)" >&2; exit 2; }
[ "$preload" -eq 0 ] || [ "$preload_borrowers" -ge "$iin_n" ] ||
	{ echo "run.sh: --preload must be at least 10 x BENCH_IIN_N ($((10 * iin_n)))" >&2; exit 2; }

# Everything started from here on (PostgreSQL, coolingd, wrk, pgbench)
# inherits this niceness: on a shared machine, other work then disturbs the
# figures less, and both sides equally.
bench_nice=${BENCH_NICE:-$([ "$(id -u)" -eq 0 ] && echo -10 || echo 0)}
[ "$bench_nice" = 0 ] || renice -n "$bench_nice" -p $$ >/dev/null

started=$(date +%s)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results_dir=$bench/results
mkdir -p "$results_dir"
out_txt=$results_dir/$stamp.txt
out_json=$results_dir/$stamp.json
out_profile=$results_dir/$stamp-profile.txt

# The harness's parts, each a file of functions (and a few settings they
# share); this file runs them in order.
for part in util setup postgres coolingd measure fixtures scripts peak memory data profile webhooks http summary; do
	# shellcheck source=/dev/null
	. "$bench/lib/$part.sh"
done

# ---- 1. what we need ----
prepare_run
create_reference
create_lender_client
launch_coolingd
if [ "$http" != only ]; then # /healthz needs no loans, no pgbench scripts, no warm database
	create_fixtures
	probe_approval
	write_pgbench_scripts
	check_pgbench_approval
	sql -c "VACUUM ANALYZE" >/dev/null
	quiesce
	warm_up
fi
wait_for_quiet
setup_s=$(($(date +%s) - started))
log "setup done in ${setup_s}s; measuring, ${dur}s each, $conns connections, $threads threads"

if [ "$webhooks" = only ] || [ "$http" = only ]; then
	if [ "$webhooks" = only ]; then measure_webhooks; else measure_http; fi
	profile_done=none
	elapsed=$(($(date +%s) - started))
	write_results
	exit 0
fi

# ---- 2. throughput at the peak, the HTTP floor, latency at half the peak, memory, with data ----
measure_peak
[ "$http" = 0 ] || measure_http
[ "$webhooks" = 0 ] || measure_webhooks
measure_gate
measure_half_peak
measure_memory
measure_with_data
measure_with_refusals

# ---- 3. profile ----
profile_writes

# ---- summary ----
cpu_quotients
elapsed=$(($(date +%s) - started))
write_results

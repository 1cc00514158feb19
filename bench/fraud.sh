#!/usr/bin/env bash
# What the payee check and the claim check cost a payout (by hand, not a
# test): the gate's workload (bench/gate.lua: fresh eligible loans and
# cooling ones alternating, half allowed) against one coolingd, without a
# payee (off: no payee check) and with a payee that is not flagged (on: the
# payee check), in pairs off, on. Each round measures a pair on empty
# registries, preloads the suspicious payees and fraud claims (INSERT ...
# SELECT generate_series), measures a pair on them and empties them again;
# each phase starts with a warm-up of 10 s that is not measured.
# The claim check runs in every payout: what shows of it is how its cost
# grows with the claims.
#
#   bench/fraud.sh [--quick] [--rounds N] [--seconds S] [--payees N] [--claims N] [--pool N]
#
#   --quick       2 rounds of 5 s, 20,000 payees, 2,000 claims (BENCH_QUICK=1
#                 too); else 5 rounds of 30 s, 1,000,000 and 100,000
#   --rounds N    rounds of an off/on pair on empty registries and one on
#                 preloaded ones
#   --seconds S   seconds per measurement
#   --payees N    suspicious payee rows preloaded (at least 2,000)
#   --claims N    fraud claims preloaded, half of them open
#   --pool N      eligible loans per measurement (default: from the warm-up's
#                 rate)
#
# Builds, starts PostgreSQL and coolingd and tears them down as bench/run.sh
# does (bench/lib/), and takes BENCH_REV, BENCH_POOL_SIZE, BENCH_NICE,
# BENCH_QUIET_WAIT and BENCH_KEEP as it does. Prints payouts/s, latency, CPU
# per payout of each side, the ratios on / off and preloaded / empty;
# results go to bench/results/fraud-<UTC timestamp>.txt and .json (git
# ignores them).
# shellcheck disable=SC2034,SC2154 # settings used by, and set in, the parts in bench/lib/
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
bench=$root/bench
build=$root/build-release

quick=${BENCH_QUICK:-0}
rounds=
dur=
payees_n=
claims_n=
pool_n=
usage() {
	sed -n '2,29s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--rounds | --seconds | --payees | --claims | --pool)
		[ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || usage
		case "$1" in
		--rounds) rounds=$2 ;;
		--seconds) dur=$2 ;;
		--payees) payees_n=$2 ;;
		--claims) claims_n=$2 ;;
		--pool) pool_n=$2 ;;
		esac
		shift
		;;
	-h | --help) usage ;;
	*)
		echo "fraud.sh: unknown argument: $1" >&2
		usage
		;;
	esac
	shift
done
[ "$quick" = 1 ] || quick=0
[ -n "$rounds" ] || rounds=$([ $quick -eq 1 ] && echo 2 || echo 5)
[ -n "$dur" ] || dur=$([ $quick -eq 1 ] && echo 5 || echo 30)
warm_s=$([ $quick -eq 1 ] && echo 2 || echo 10) # each phase's warm-up (bench/lib/fraud.sh)
[ -n "$payees_n" ] || payees_n=$([ $quick -eq 1 ] && echo 20000 || echo 1000000)
[ -n "$claims_n" ] || claims_n=$([ $quick -eq 1 ] && echo 2000 || echo 100000)
payee_n=1000 # the payees the payouts name, each with a withdrawn flag
[ "$payees_n" -ge $((2 * payee_n)) ] || { echo "fraud.sh: --payees must be at least $((2 * payee_n))" >&2; exit 2; }

# ---- settings (as bench/run.sh's, for the parts in bench/lib/) ----
conns=32
threads=2
idle_conns=1000 # raise_fd_limit's floor
read_base=1000000
read_n=2000
lender=BANK1
client_name=bench
timezone=Asia/Almaty
cooling_period=1h # the gate needs loans that stay in their cooling period
iin_n=300
profile=0
profiler=perf
pgss=0

for part in util setup postgres coolingd measure fixtures peak fraud; do
	# shellcheck source=/dev/null
	. "$bench/lib/$part.sh"
done
ab_begin fraud

prepare_run
create_lender_client
launch_coolingd
create_fixtures

# Warm-up, not reported: both sides, so that neither pays for the first
# prepared statements and caches; its rate sizes the pools (only every
# other request takes an eligible loan: twice what a round needs).
log "warming up (3s per side)"
make_pool "$(fraud_pool 0)" 40000
sql -c "VACUUM ANALYZE" >/dev/null
gate_env=(BENCH_POOL_N=20000 "BENCH_COOL_BASE=$read_base" BENCH_COOL_N=$((read_n / 2)))
run_wrk warm.fraud.off gate.lua 3 "${gate_env[@]}" BENCH_POOL_BASE="$(fraud_pool 0)"
quiesce
run_wrk warm.fraud.on gate.lua 3 "${gate_env[@]}" BENCH_POOL_BASE=$(($(fraud_pool 0) + 20000)) \
	BENCH_PAYEE_N=$payee_n
quiesce
[ -n "$pool_n" ] || pool_n=$(calc "(${R[warm.fraud.off.rps]} > ${R[warm.fraud.on.rps]} ? ${R[warm.fraud.off.rps]} : ${R[warm.fraud.on.rps]}) * $dur + 1000" 0)
put fraud.pool_n "$pool_n"
# Every pool before the first measurement: the loan table is the same for
# the runs on empty registries and on preloaded ones.
warm_pool_n=$(calc "$pool_n * $warm_s / $dur + 1000" 0)
log "creating $((4 * rounds)) pools of $pool_n eligible loans and $((2 * rounds)) of $warm_pool_n for the warm-ups"
for ((i = 1; i <= 4 * rounds; i++)); do
	make_pool "$(fraud_pool "$i")" "$pool_n"
done
for ((i = 1; i <= rounds; i++)); do
	make_pool "$(fraud_warm_pool empty "$i")" "$warm_pool_n"
	make_pool "$(fraud_warm_pool data "$i")" "$warm_pool_n"
done
sql -c "VACUUM ANALYZE loan" >/dev/null
wait_for_quiet

log "$rounds rounds of off (no payee) and on (a payee), ${dur}s each, on empty registries then preloaded ones"
measure_fraud_rounds

elapsed=$(($(date +%s) - started))
write_fraud_results

#!/usr/bin/env bash
# The benchmark harness (by hand, not a test): coolingd against the
# essential work done by pgbench (the reference: one loan row and one audit
# row per write, one primary-key lookup per read), and against pgbench
# running exactly the same SQL as coolingd, side by side, in one run.
#
#   bench/run.sh [--quick] [--no-profile] [--preload N]
#
#   --quick       5 s per measurement and 20,000 requests for the memory
#                 check instead of 10 s and 1,000,000 (BENCH_QUICK=1 too)
#   --no-profile  skip the perf (or callgrind) profile
#   --preload N   after the runs on the (nearly) empty database, insert N
#                 loans of N/10 borrowers and measure again (1000000; 0: off)
#
# Installs what is missing (wrk, jq, linux-perf), builds build-release/
# (Release, no tests), starts its own PostgreSQL (scripts/pg.sh, fsync on,
# pg_stat_statements preloaded) in a temporary directory on a free port, a
# coolingd on another, measures, and tears everything down. Everything talks
# to 127.0.0.1 only. Results go to bench/results/<UTC timestamp>.txt and
# .json (and -profile.txt); see docs/performance.md for what is measured and
# how to read it.
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
#   BENCH_PRELOAD_REFUSALS=N  after the runs with data, insert N voluntary
#                         refusals (3000000 for docs/refusals.md) and measure
#                         approvals, reads and the gate again (0: off)
#   BENCH_PGSS=0          without pg_stat_statements (default 1 when installed)
#   BENCH_QUIET_WAIT=S    wait for other work on the machine to calm down (30;
#                         --quick 0)
#   BENCH_NICE=N          niceness of everything started (-10 as root; 0: leave)
#   BENCH_PROFILER=perf|callgrind, BENCH_KEEP=1 (keep the temporary directory)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
bench=$root/bench
build=$root/build-release

quick=${BENCH_QUICK:-0}
profile=1
preload=${BENCH_PRELOAD:-1000000}
usage() {
	sed -n '2,40s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--no-profile) profile=0 ;;
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

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
calc() { awk "BEGIN { printf \"%.${2:-2}f\", ($1) }"; }

declare -A R=()  # every figure, for the .json
declare -a R_ORDER=()
put() {
	[ -n "${R[$1]+x}" ] || R_ORDER+=("$1")
	R[$1]=$2
}

# ---- 1. what we need ----
log "checking dependencies"
"$root/scripts/deps.sh"
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v ss >/dev/null 2>&1 || missing+=(iproute2)
if [ $profile -eq 1 ] && [ "$profiler" = perf ] && ! command -v perf >/dev/null 2>&1; then
	missing+=(linux-perf)
fi
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; install them as root"
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
pgbin=$(pg_config --bindir 2>/dev/null || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/pgbench" ]; then
	pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -n "$pgbin" ] && [ -x "$pgbin/pgbench" ] || die "pgbench not found (package postgresql)"
pgbench=$pgbin/pgbench

# 1,000 idle connections need as many descriptors, in coolingd and here.
hard=$(ulimit -Hn)
want=65536
[ "$hard" = unlimited ] || [ "$hard" -ge $want ] || want=$hard
ulimit -n "$want" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((idle_conns + 200)) ] ||
	die "ulimit -n is $(ulimit -n); the idle-connection test needs more than $((idle_conns + 200))"

work=$(mktemp -d /tmp/coolingd-bench.XXXXXX)
chmod 0755 "$work" # the postgres user must reach the cluster inside

cd_pid=
bg_pids=()
cleanup() {
	local rc=$?
	set +e
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	if [ -n "$cd_pid" ] && kill -0 "$cd_pid" 2>/dev/null; then
		kill -TERM "$cd_pid"
		for _ in $(seq 100); do
			kill -0 "$cd_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$cd_pid" 2>/dev/null
		wait "$cd_pid" 2>/dev/null
	fi
	"$root/scripts/pg.sh" stop "$work/pg" >/dev/null 2>&1
	if [ $rc -ne 0 ]; then
		log "failed; last lines of the logs:"
		tail -n 15 "$work/coolingd.log" >&2 2>/dev/null
		tail -n 15 "$work/pg/postgres.log" >&2 2>/dev/null
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build ----
src=$root
version="$(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD -- daemon lib cli sql CMakeLists.txt 2>/dev/null || echo '+work tree changes')"
if [ -n "${BENCH_REV:-}" ]; then
	rev=$(git -C "$root" rev-parse --verify --quiet "$BENCH_REV^{commit}") || die "BENCH_REV: no commit $BENCH_REV"
	src=$work/src
	build=$work/build-release
	mkdir -p "$src"
	git -C "$root" archive "$rev" | tar -x -C "$src"
	rm -rf "$src/bench"
	mkdir -p "$src/bench"
	cp "$bench"/*.c "$bench"/*.lua "$bench"/*.awk "$src/bench/"
	grep -q 'add_executable(print_sql' "$src/CMakeLists.txt" ||
		sed -n '/^# bench\/: print_sql/,$p' "$root/CMakeLists.txt" | sed '/^endif()/q' >>"$src/CMakeLists.txt"
	version="$(git -C "$root" rev-parse --short "$rev") (BENCH_REV)"
fi
log "building $build (Release) from $src"
# -Wno-error=maybe-uninitialized: at -O3 GCC 12 sees a false "may be used
# uninitialized" in lib/codec.c that -O2 does not; the warning stays visible.
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCOOLINGD_TESTS=OFF -DCOOLINGD_BENCH=ON \
	-DCMAKE_C_FLAGS="-Wno-error=maybe-uninitialized" >"$work/cmake.log" 2>&1 ||
	{
		tail -n 30 "$work/cmake.log" >&2
		die "cmake failed"
	}
cmake --build "$build" -j"$(nproc)" >"$work/build.log" 2>&1 ||
	{
		tail -n 30 "$work/build.log" >&2
		die "build failed"
	}
coolingd_bin=$build/bin/coolingd
coolingctl=$build/bin/coolingctl
print_sql=$build/bin/print_sql
cc -O2 -Wall -Wextra -D_GNU_SOURCE -o "$work/idle_conns" "$bench/idle_conns.c"

free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if ! ss -Htan "( sport = :$p or dport = :$p )" | grep -q . &&
			! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# ---- PostgreSQL ----
pg_port=$(free_port)
log "starting PostgreSQL on 127.0.0.1:$pg_port (fsync on) in $work/pg"
PG_FSYNC=on "$root/scripts/pg.sh" start "$work/pg" "$pg_port" >/dev/null
# Modestly more shared memory than the 128MB default; max_connections is
# 200 already (scripts/pg.sh): 32 pgbench + coolingd's pool + a few.
# pg_stat_statements (postgresql-contrib, part of Debian's postgresql-15)
# must be preloaded; track_planning counts the plans per call.
pgss_note=
pg_major=$("$pgbin/postgres" -V | awk '{print int($3)}')
if [ "$pgss" = 1 ] && [ ! -f "/usr/share/postgresql/$pg_major/extension/pg_stat_statements.control" ]; then
	pgss=0
	pgss_note="pg_stat_statements is not installed (package postgresql-contrib)"
	log "warning: $pgss_note; no per-statement figures"
fi
[ "$pgss" = 1 ] || [ -n "$pgss_note" ] || pgss_note="pg_stat_statements off (BENCH_PGSS=0)"
pg_alter=("ALTER SYSTEM SET shared_buffers = '256MB'")
[ "$pgss" != 1 ] || pg_alter+=("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
for stmt in "${pg_alter[@]}"; do
	psql "$("$root/scripts/pg.sh" url "$work/pg")" -X -q -v ON_ERROR_STOP=1 -c "$stmt" >/dev/null
done
"$root/scripts/pg.sh" stop "$work/pg"
PG_FSYNC=on "$root/scripts/pg.sh" start "$work/pg" "$pg_port" >/dev/null
pg_url=$("$root/scripts/pg.sh" url "$work/pg")
psql "$pg_url" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE coolingd_bench" >/dev/null
db_url="postgresql:///coolingd_bench?host=$work/pg&port=$pg_port&user=postgres"
export COOLINGD_DATABASE_URL=$db_url
sql() { psql "$db_url" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
pg_settings=$(sql -F' ' -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
  FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections',
  'wal_level', 'max_wal_size', 'checkpoint_timeout')")
pg_version=$(sql -c "SHOW server_version")
if [ "$pgss" = 1 ]; then
	# the module's settings exist once it is loaded: after the restart
	sql -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" -c "SELECT pg_reload_conf()" >/dev/null
	sql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
	sleep 0.2
	pg_settings+=" pg_stat_statements.track_planning=$(sql -c "SHOW pg_stat_statements.track_planning")"
fi

# The reference: the essential work of an approval (one loan row and one
# audit row, one commit) and of a read (one lookup by the unique key), in a
# database of its own on the same server, run by pgbench.
ref_db=coolingd_ref
ref_url="postgresql:///$ref_db?host=$work/pg&port=$pg_port&user=postgres"
psql "$pg_url" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $ref_db" >/dev/null
refsql() { psql "$ref_url" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
refsql <<'SQL'
create table ref_loans(id bigserial primary key, lender text not null, loan_id text not null,
  iin char(12) not null, amount_tiyn bigint not null, channel text not null, secured bool not null,
  first_time bool not null, approved_at timestamptz not null default now(), consent_at timestamptz,
  cooling_ends_at timestamptz, mrp int, threshold_tiyn bigint, state text not null,
  unique(lender, loan_id));
create index on ref_loans(iin);
create table ref_audit(seq bigserial primary key, at timestamptz not null default now(),
  actor text, lender text, loan_id text, kind text, detail jsonb);
SQL

log "migrating; lender $lender, lender client $client_name"
"$coolingctl" migrate >/dev/null
"$coolingctl" lender add "$lender" --kind bank --name "Bench Bank" >/dev/null
token=$("$coolingctl" client add --name "$client_name" --role lender --lender "$lender")
[[ "$token" =~ ^cdt_([0-9a-f]{12})_[0-9a-f]{40}$ ]] || die "unexpected token from coolingctl client add"
token_id=${BASH_REMATCH[1]}
export BENCH_TOKEN=$token BENCH_LENDER=$lender BENCH_THREADS=$threads BENCH_IIN_N=$iin_n

# ---- coolingd ----
port=$(free_port)
url=http://127.0.0.1:$port
metrics_port=$(free_port)
cd_env=("COOLINGD_SERVER_LISTEN=127.0.0.1:$port" "COOLINGD_DATABASE_URL=$db_url"
	"COOLINGD_METRICS_LISTEN=127.0.0.1:$metrics_port"
	COOLINGD_LOG_LEVEL=warn "COOLINGD_POLICY_COOLING_PERIOD=$cooling_period"
	COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM=true) # 1h is below the legal 24h
[ -z "${BENCH_POOL_SIZE:-}" ] || cd_env+=(COOLINGD_DATABASE_POOL_SIZE="$BENCH_POOL_SIZE")
[ -z "${BENCH_AUDIT_SEAL:-}" ] || cd_env+=(COOLINGD_AUDIT_SEAL="$BENCH_AUDIT_SEAL")
start_coolingd() { # [command prefix...]
	env "${cd_env[@]}" "$@" "$coolingd_bin" -c /dev/null >>"$work/coolingd.log" 2>&1 &
	cd_pid=$!
	local deadline=$(($(date +%s) + 60))
	while [ "$(date +%s)" -lt $deadline ]; do
		if curl -fsS -m 2 -o /dev/null "$url/readyz" 2>/dev/null; then
			return 0
		fi
		kill -0 "$cd_pid" 2>/dev/null || die "coolingd exited at start"
		sleep 0.1
	done
	die "coolingd did not answer /readyz within 60 s"
}
stop_coolingd() {
	kill -TERM "$cd_pid"
	wait "$cd_pid" || true
	cd_pid=
}
log "starting coolingd on $url (cooling_period=$cooling_period, log level warn)"
start_coolingd
cd_threads=$(awk '/^Threads:/ {print $2}' "/proc/$cd_pid/status")
pool_size=$(env "${cd_env[@]}" "$coolingd_bin" -c /dev/null --check-config 2>/dev/null |
	awk -F' = ' '$1 == "database.pool_size" {print $2}' || true)

# ---- helpers: CPU accounting, statuses ----
clk_tck=$(getconf CLK_TCK)
# utime+stime (and, with a second argument, the reaped children's) in ticks
proc_ticks() {
	awk -v kids="${2:-0}" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " ");
	  t = f[12] + f[13]; if (kids) t += f[14] + f[15]; print t }' "/proc/$1/stat" 2>/dev/null || echo 0
}
pg_ticks() { # the postmaster, the backends it reaped, and the live ones
	local pm t c
	pm=$(head -n 1 "$work/pg/data/postmaster.pid")
	t=$(proc_ticks "$pm" 1)
	for c in $(ps -o pid= --ppid "$pm"); do
		t=$((t + $(proc_ticks "$c")))
	done
	echo "$t"
}
cpu_snap() { # coolingd pg idle total (ticks)
	local idle total
	read -r idle total < <(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat)
	echo "$(proc_ticks "$cd_pid") $(pg_ticks) $idle $total"
}
# Puts per-request CPU figures for KEY from two snapshots, the client's
# user+system seconds and the number of requests.
cpu_account() { # key before after client_seconds requests
	local key=$1 n=$5
	local b a
	read -ra b <<<"$2"
	read -ra a <<<"$3"
	local cd=$((a[0] - b[0])) pg=$((a[1] - b[1])) idle=$((a[2] - b[2])) total=$((a[3] - b[3]))
	[ "$n" -gt 0 ] || n=1
	put "$key.cpu_ms_per_req.coolingd" "$(calc "$cd * 1000 / $clk_tck / $n" 3)"
	put "$key.cpu_ms_per_req.postgres" "$(calc "$pg * 1000 / $clk_tck / $n" 3)"
	put "$key.cpu_ms_per_req.client" "$(calc "$4 * 1000 / $n" 3)"
	put "$key.cpu_s.coolingd" "$(calc "$cd / $clk_tck" 2)"
	put "$key.cpu_s.postgres" "$(calc "$pg / $clk_tck" 2)"
	put "$key.cpu_s.client" "$(calc "$4" 2)"
	put "$key.wall_s" "$(calc "($total / $(nproc)) / $clk_tck" 2)"
	put "$key.machine_busy_pct" "$(calc "($total - $idle) * 100 / ($total > 0 ? $total : 1)" 1)"
	# CPU that neither coolingd, PostgreSQL nor the load generator used:
	# anything else on the machine disturbs the figure
	local other
	other=$(calc "(($total - $idle) - $cd - $pg - $4 * $clk_tck) * 100 / ($total > 0 ? $total : 1)" 1)
	put "$key.other_cpu_pct" "$other"
	awk -v o="$other" 'BEGIN { exit !(o > 10) }' &&
		log "warning: $key: other processes used $other% of the machine meanwhile" || true
}
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# Waits until coolingd's sealer has chained every audit event (so that one
# phase's backlog does not load the next), then checkpoints.
quiesce() {
	local left=0
	# without the sealer (BENCH_AUDIT_SEAL=off) nothing chains them: no wait
	case ${BENCH_AUDIT_SEAL:-on} in off | false | no | 0) sql -c "CHECKPOINT" >/dev/null; sleep 0.5; return ;; esac
	for _ in $(seq 600); do
		left=$(sql -c "SELECT (SELECT count(*) FROM audit_event) - (SELECT count(*) FROM audit_chain)")
		[ "$left" -le 0 ] && break
		sleep 0.2
	done
	[ "$left" -le 0 ] || log "warning: $left audit events still unsealed"
	sql -c "CHECKPOINT" >/dev/null
	sleep 0.5
}

# coolingd's pool counters (coolingd_db_statements_total, _batches_total,
# _batched_requests_total of the primary pools), "statements batches batched".
pool_snap() {
	curl -fsS -m 2 "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null | awk '
	  /^coolingd_db_statements_total\{pool="primary"\}/ {s = $2}
	  /^coolingd_db_batches_total\{pool="primary"\}/ {b = $2}
	  /^coolingd_db_batched_requests_total\{pool="primary"\}/ {r = $2}
	  END {printf "%d %d %d\n", s, b, r}'
}

to_ms() { # wrk's "612.00us" / "9.50ms" / "1.02s" -> ms
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n;
	  else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

# [wrk_conns=N] [pgss_run=1] run_wrk KEY SCRIPT SECONDS [VAR=VALUE...]: puts KEY.rps, .p50_ms, .p99_ms,
# .requests, .non2xx, .cpu figures.
run_wrk() {
	local key=$1 script=$2 secs=$3
	shift 3
	local out=$work/$key.wrk before after
	[ "${pgss_run:-0}" != 1 ] || pgss_reset
	local pool_before pool_after
	pool_before=$(pool_snap)
	before=$(cpu_snap)
	env "$@" /usr/bin/time -f '%U %S' -o "$work/$key.time" \
		wrk -t"$threads" -c"${wrk_conns:-$conns}" -d"${secs}s" --latency -s "$bench/$script" "$url" >"$out" 2>&1 ||
		{
			cat "$out" >&2
			die "wrk failed ($key)"
		}
	after=$(cpu_snap)
	pool_after=$(pool_snap)
	local rps avg p50 p99 reqs non2xx errs client
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	avg=$(to_ms "$(awk '$1 == "Latency" {print $2; exit}' "$out")")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	reqs=$(awk '/ requests in / {print $1}' "$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	errs=$(grep -o 'Socket errors:.*' "$out" || true)
	client=$(awk '{print $1 + $2}' "$work/$key.time")
	[ "${pgss_run:-0}" != 1 ] || pgss_collect "$key" "$reqs"
	put "$key.rps" "$rps"
	put "$key.avg_ms" "$avg"
	put "$key.p50_ms" "$p50"
	put "$key.p99_ms" "$p99"
	put "$key.requests" "$reqs"
	put "$key.non2xx" "${non2xx:-0}"
	[ -z "$errs" ] || {
		put "$key.socket_errors" "${errs#Socket errors: }"
		log "warning: $key: $errs"
	}
	cpu_account "$key" "$before" "$after" "$client" "$reqs"
	# the statements coolingd sent per request, and the requests per batch
	local s0 b0 r0 s1 b1 r1
	read -r s0 b0 r0 <<<"$pool_before"
	read -r s1 b1 r1 <<<"$pool_after"
	put "$key.pool.statements_per_req" "$(calc "($s1 - $s0) / (${reqs:-0} > 0 ? ${reqs:-1} : 1)" 2)"
	put "$key.pool.batches" "$((b1 - b0))"
	put "$key.pool.requests_per_batch" "$(calc "($r1 - $r0) / ($b1 - $b0 > 0 ? $b1 - $b0 : 1)" 1)"
}

# [pgbench_db=DB] [pgss_run=1] run_pgbench KEY SCRIPT SECONDS CLIENTS [pgbench options...]: puts KEY.tps,
# .p50_ms, .p99_ms (from the per-transaction log, schedule lag excluded),
# .transactions, .failed, .cpu figures.
run_pgbench() {
	local key=$1 script=$2 secs=$3 clients=$4
	shift 4
	local jobs=$((clients < threads ? clients : threads))
	local dir=$work/pglog-$key before after
	mkdir -p "$dir"
	[ "${pgss_run:-0}" != 1 ] || pgss_reset
	before=$(cpu_snap)
	(cd "$dir" && /usr/bin/time -f '%U %S' -o "$work/$key.time" \
		"$pgbench" -n -M prepared -c "$clients" -j "$jobs" -T "$secs" -l --log-prefix=tx \
		-h "$work/pg" -p "$pg_port" -U postgres -f "$script" "$@" "${pgbench_db:-coolingd_bench}") \
		>"$work/$key.pgbench" 2>&1 ||
		{
			tail -n 20 "$work/$key.pgbench" >&2
			die "pgbench failed ($key)"
		}
	after=$(cpu_snap)
	local tps n failed client lat
	n=$(awk '/^number of transactions actually processed:/ {split($NF, a, "/"); print a[1]}' "$work/$key.pgbench")
	[ "${pgss_run:-0}" != 1 ] || pgss_collect "$key" "${n:-0}" "${pgbench_db:-coolingd_bench}"
	tps=$(calc "$(awk '/^tps = / {print $3}' "$work/$key.pgbench")" 1)
	failed=$(awk '/^number of failed transactions:/ {print $5}' "$work/$key.pgbench")
	client=$(awk '{print $1 + $2}' "$work/$key.time")
	lat=$(cat "$dir"/tx.* | awk '{ l = $3; if (NF >= 7) l -= $7; print l }' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0"; exit }
		  i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1;
		  printf "%.2f %.2f", v[i50] / 1000, v[i99] / 1000 }')
	put "$key.tps" "$tps"
	put "$key.p50_ms" "${lat% *}"
	put "$key.p99_ms" "${lat#* }"
	put "$key.transactions" "${n:-0}"
	put "$key.failed" "${failed:-0}"
	[ "${failed:-0}" = 0 ] || log "warning: $key: $failed failed transactions"
	grep -q "aborted" "$work/$key.pgbench" && log "warning: $key: $(grep aborted "$work/$key.pgbench")"
	cpu_account "$key" "$before" "$after" "$client" "${n:-0}"
	rm -rf "$dir"
}

audit_mark() { sql -c "SELECT coalesce(max(id), 0) FROM audit_event"; }
decisions_since() { # mark -> "allowed refused"
	sql -F' ' -c "SELECT count(*) FILTER (WHERE type = 'disbursement_allowed'),
	  count(*) FILTER (WHERE type = 'disbursement_refused') FROM audit_event WHERE id > $1"
}

iin_for() { # 11 digits -> 12-digit IIN with its check digit (lib/iin.c), or fail
	local s=$1 i sum=0 c
	local w1=(1 2 3 4 5 6 7 8 9 10 11) w2=(3 4 5 6 7 8 9 10 11 1 2)
	for i in {0..10}; do sum=$((sum + ${s:i:1} * w1[i])); done
	c=$((sum % 11))
	if [ $c -eq 10 ]; then
		sum=0
		for i in {0..10}; do sum=$((sum + ${s:i:1} * w2[i])); done
		c=$((sum % 11))
		[ $c -ne 10 ] || return 1
	fi
	echo "$s$c"
}
[ "$(iin_for 90010130012)" = 900101300126 ] || die "iin_for disagrees with the contract's example"

# ---- fixtures: the loans that reads and the gate use ----
now_rfc3339() { date -u +%Y-%m-%dT%H:%M:%S+00:00; }
approval_body() { # loan_id iin kind(eligible|cooling) ts
	if [ "$3" = eligible ]; then
		printf '{"loan_id":"%s","borrower_iin":"%s","amount":"100.00","currency":"KZT","channel":"online","secured":true,"first_time_borrower":false,"approved_at":"%s","consent_at":"%s"}' "$1" "$2" "$4" "$4"
	else
		printf '{"loan_id":"%s","borrower_iin":"%s","amount":"700000.00","currency":"KZT","channel":"online","secured":false,"first_time_borrower":false,"approved_at":"%s","consent_at":"%s"}' "$1" "$2" "$4" "$4"
	fi
}
log "creating $read_n loans through the API (odd ids eligible, even ids cooling)"
ts=$(now_rfc3339)
serial=0
{
	for ((n = 1; n <= read_n; n++)); do
		while :; do
			serial=$((serial + 1))
			iin=$(iin_for "$(printf '8501013%04d' "$serial")") && break
		done
		kind=cooling
		[ $((n % 2)) -eq 1 ] && kind=eligible
		body=$(approval_body "$((read_base + n))" "$iin" "$kind" "$ts")
		printf 'url = "%s/v1/lenders/%s/loans"\n' "$url" "$lender"
		printf 'header = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\n' "$token"
		printf 'data = "%s"\n' "${body//\"/\\\"}"
		printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
		[ $n -eq $read_n ] || printf 'next\n'
	done
} >"$work/create.curl"
created=$(curl -sS -K "$work/create.curl" | grep -c '^201$' || true)
[ "$created" -eq "$read_n" ] || die "created $created of $read_n loans"
statuses=$(sql -F' ' -c "SELECT
  (SELECT count(*) FROM loan WHERE loan_id::bigint % 2 = 1 AND consent_at IS NOT NULL AND NOT cooling_required
     AND NOT in_person_required AND lender_id = '$lender' AND loan_id::bigint BETWEEN $((read_base + 1)) AND $((read_base + read_n))),
  (SELECT count(*) FROM loan WHERE loan_id::bigint % 2 = 0 AND cooling_required AND cooling_ends_at > now() + interval '10 minutes'
     AND lender_id = '$lender' AND loan_id::bigint BETWEEN $((read_base + 1)) AND $((read_base + read_n)))")
[ "$statuses" = "$((read_n / 2)) $((read_n / 2))" ] || die "fixture loans are not as expected: $statuses"

# A probe approval of the shape approvals.lua sends: its stored row gives the
# values that coolingd computes for such a loan, for pgbench's parameters.
probe_id=9000000001
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' "$url/v1/lenders/$lender/loans" \
	--data "$(approval_body $probe_id 900101300126 cooling "$(now_rfc3339)")")
[ "$code" = 201 ] || die "probe approval answered $code"
IFS='|' read -r p_amount p_channel p_secured p_first p_first_given p_policy p_mrp p_threshold \
	p_cooling p_period p_inperson p_product p_kind p_rule p_age < <(sql -F'|' -c "SELECT amount_tiyn, channel,
	  CASE WHEN secured THEN 'true' ELSE 'false' END, CASE WHEN first_time_borrower THEN 'true' ELSE 'false' END,
	  CASE WHEN first_time_given THEN 'true' ELSE 'false' END, policy, mrp_tenge, threshold_tiyn,
	  CASE WHEN cooling_required THEN 'true' ELSE 'false' END, cooling_period_s,
	  CASE WHEN in_person_required THEN 'true' ELSE 'false' END, product, lender_kind,
	  coalesce(rule, 'card'), borrower_age
	  FROM loan WHERE lender_id = '$lender' AND loan_id = '$probe_id'")
p_detail=$(sql -c "SELECT detail::text FROM audit_event WHERE loan_id = '$probe_id' AND type = 'approval_recorded'" | jq -c .)
# A refusal of a cooling loan, as coolingd sends it (and passes it to
# STMT_REFUSE as the stored answer).
refusal_body=$(curl -sS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
	--data '{}' "$url/v1/lenders/$lender/loans/$((read_base + 2))/disbursement" | jq -c .)
[ "$(jq -r .decision <<<"$refusal_body")" = refused ] || die "expected a refusal, got: $refusal_body"
refuse_detail=$(jq -c '{blockers: .blockers}' <<<"$refusal_body")

# ---- pgbench scripts, generated from db.c's statements ----
# Each pgbench transaction is what one coolingd request runs, statement for
# statement, each its own implicit transaction as in the daemon: STMT_AUTH
# and then the call's statements, or, where the daemon has them (since
# 9d307bd), the combined STMT_AUTH_* statement that authenticates and does
# the first read in one round trip. Parameters that coolingd sends as NULL
# are NULL literals (pgbench variables cannot be NULL).
# shellcheck disable=SC2054 # the commas are print_sql's, inside one word
if "$print_sql" --list | grep -q '^auth_loan_get '; then
	sql_mode=combined
	first_writes=(auth_approval_context=lender,loan_no,approved_us,tz,iin,lender,token_id)
	first_reads=(auth_loan_get=lender,loan_no,token_id)
	first_gate=(auth_disburse_context=lender,loan_no,NULL,token_id@gset)
else
	sql_mode=separate
	first_writes=(auth=token_id approval_context=lender,loan_no,approved_us,tz,iin,lender)
	first_reads=(auth=token_id loan_get=lender,loan_no)
	first_gate=(auth=token_id disburse_context=lender,loan_no,NULL@gset)
fi
put sql_mode "$sql_mode"
# the loan's columns in lib/db.c's LOAN_COLUMNS order (the probe's values;
# exemption NULL, the day's amount the loan's own, no extra confirmation or
# reconfirmation, as kz-card fixes them), then the actor and the detail; no
# day's sum (kz-card adds none up)
approval_vars="lender,loan_no,iin,amount_tiyn,channel,secured,first_time,first_time_given,policy,mrp,threshold,cooling_required,period_s,in_person_required,approved_us,consent_us,cooling_ends_us,NULL,product,lender_kind,NULL,amount_tiyn,rule,borrower_age,false_,false_,actor,detail,NULL,NULL,NULL"
{
	echo '\set seq :seq + 1'
	echo '\set loan_no :id_base + :client_id * 1000000 + :seq'
	echo '\set iin 900101300000 + random(0, :niins - 1)'
	"$print_sql" "${first_writes[@]}" "loan_insert=$approval_vars"
} >"$work/writes.sql"
{
	echo "\\set loan_no $read_base + random(1, $read_n)"
	"$print_sql" "${first_reads[@]}"
} >"$work/reads.sql"
{
	echo '\set seq :seq + 1'
	echo '\if :seq % 2 = 1'
	echo '\set loan_no :pool_base + 1 + ((:client_id + :nclients * (:seq / 2)) % :pool_n)'
	echo '\else'
	echo "\\set loan_no $read_base + 2 * random(1, $((read_n / 2)))"
	echo '\endif'
	"$print_sql" "${first_gate[@]}"
	echo '\if :seq % 2 = 1'
	"$print_sql" disburse=id,actor,NULL,lender,empty_detail
	echo '\else'
	"$print_sql" refuse=lender,loan_no,actor,refuse_detail,NULL,id,refusal_body
	echo '\endif'
} >"$work/gate.sql"

common_d=(-D token_id="$token_id" -D lender="$lender" -D actor="$client_name")
writes_d() { # id_base -> pgbench -D options for writes.sql, timestamps of now
	local now_us
	now_us=$(date +%s%6N)
	printf '%s\0' "${common_d[@]}" -D seq=0 -D id_base="$1" -D tz="$timezone" -D niins="$iin_n" \
		-D approved_us="$now_us" -D consent_us="$now_us" \
		-D cooling_ends_us="$((now_us + p_period * 1000000))" -D amount_tiyn="$p_amount" \
		-D channel="$p_channel" -D secured="$p_secured" -D first_time="$p_first" \
		-D first_time_given="$p_first_given" -D policy="$p_policy" -D mrp="$p_mrp" \
		-D threshold="$p_threshold" -D cooling_required="$p_cooling" -D period_s="$p_period" \
		-D in_person_required="$p_inperson" -D detail="$p_detail" -D product="$p_product" \
		-D lender_kind="$p_kind" -D rule="$p_rule" -D borrower_age="$p_age" -D false_=false
}
gate_d() { # pool_base pool_n [clients]
	printf '%s\0' "${common_d[@]}" -D seq=0 -D pool_base="$1" -D pool_n="$2" -D nclients="${3:-$conns}" \
		-D empty_detail='{}' -D refuse_detail="$refuse_detail" -D refusal_body="$refusal_body"
}
mapfile -d '' reads_args < <(printf '%s\0' "${common_d[@]}")

# ---- the reference's pgbench scripts ----
# write: the loan row and its audit row in one transaction, the values of
# the benchmark's approval (from the probe above), borrowers drawn from as
# many IINs as approvals.lua's; read: one row by (lender, loan_id), the ids
# of the 2,000 read fixtures.
cat >"$work/ref_write.sql" <<'SQL'
\set seq :seq + 1
\set loan_no :id_base + :client_id * 1000000 + :seq
\set iin 900101300000 + random(0, :niins - 1)
BEGIN;
INSERT INTO ref_loans (lender, loan_id, iin, amount_tiyn, channel, secured, first_time, consent_at, cooling_ends_at, mrp, threshold_tiyn, state) VALUES (:lender, :loan_no, :iin, :amount_tiyn, :channel, :secured, :first_time, now(), now() + make_interval(secs => :period_s), :mrp, :threshold, 'cooling');
INSERT INTO ref_audit (actor, lender, loan_id, kind, detail) VALUES (:actor, :lender, :loan_no, 'approval_recorded', :detail);
COMMIT;
SQL
cat >"$work/ref_read.sql" <<'SQL'
\set loan_no :read_base + random(1, :read_n)
SELECT * FROM ref_loans WHERE lender = :lender AND loan_id = :loan_no;
SQL
ref_write_d() { # id_base -> pgbench -D options for ref_write.sql
	printf '%s\0' -D lender="$lender" -D actor="$client_name" -D seq=0 -D id_base="$1" -D niins="$iin_n" \
		-D amount_tiyn="$p_amount" -D channel="$p_channel" -D secured="$p_secured" \
		-D first_time="$p_first" -D period_s="${p_period:-0}" -D mrp="$p_mrp" \
		-D threshold="$p_threshold" -D detail="$p_detail"
}
mapfile -d '' ref_read_args < <(printf '%s\0' -D lender="$lender" -D read_base="$read_base" -D read_n="$read_n")
# The reference's 2,000 loans to read, as the API's fixtures: odd ids
# eligible, even ids cooling.
refsql -v lender="$lender" -v base="$read_base" -v n="$read_n" -v mrp="$p_mrp" -v thr="$p_threshold" <<'SQL'
INSERT INTO ref_loans (lender, loan_id, iin, amount_tiyn, channel, secured, first_time,
    consent_at, cooling_ends_at, mrp, threshold_tiyn, state)
SELECT :'lender', (:base + g)::text, (850101300000 + g)::text,
       CASE WHEN g % 2 = 1 THEN 10000 ELSE 70000000 END, 'online', g % 2 = 1, false, now(),
       CASE WHEN g % 2 = 1 THEN NULL ELSE now() + interval '1 hour' END, :mrp, :thr, CASE WHEN g % 2 = 1 THEN 'eligible' ELSE 'cooling' END
  FROM generate_series(1, :n) g;
VACUUM ANALYZE;
SQL

# pg_stat_statements around a run (pgss_run=1 run_wrk / run_pgbench): reset
# before, read after, the statements of one database (coolingd_bench: the
# daemon's, the audit sealer's included; coolingd_ref: the reference's).
pgss_reset() { [ "$pgss" != 1 ] || sql -c "SELECT pg_stat_statements_reset()" >/dev/null; }
pgss_collect() { # key requests [database]
	[ "$pgss" = 1 ] || return 0
	local db=${3:-coolingd_bench} i=0 calls plans ppc mexec mplan pct q tc tp te
	while IFS=$'\t' read -r calls plans ppc mexec mplan pct q; do
		i=$((i + 1))
		put "$1.pgss.s$i.calls" "$calls"
		put "$1.pgss.s$i.plans" "$plans"
		put "$1.pgss.s$i.plans_per_call" "$ppc"
		put "$1.pgss.s$i.mean_exec_ms" "$mexec"
		put "$1.pgss.s$i.mean_plan_ms" "$mplan"
		put "$1.pgss.s$i.exec_pct" "$pct"
		put "$1.pgss.s$i.query" "$q"
	done < <(sql -F$'\t' -c "WITH s AS (SELECT s.* FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
	  WHERE d.datname = '$db' AND s.calls > 0 AND s.query !~* 'pg_stat_statements')
	SELECT calls, plans, round(plans::numeric / calls, 3), round(mean_exec_time::numeric, 3),
	  round(mean_plan_time::numeric, 3),
	  round((100 * total_exec_time / nullif(sum(total_exec_time) OVER (), 0))::numeric, 1),
	  left(regexp_replace(query, '\s+', ' ', 'g'), 90)
	  FROM s ORDER BY calls DESC, total_exec_time DESC LIMIT 8")
	put "$1.pgss.statements" "$i"
	IFS=$'\t' read -r tc tp te < <(sql -F$'\t' -c "SELECT coalesce(sum(calls), 0), coalesce(sum(plans), 0),
	  coalesce(sum(total_exec_time + total_plan_time), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
	  WHERE d.datname = '$db' AND s.query !~* 'pg_stat_statements'")
	put "$1.pgss.calls" "$tc"
	put "$1.pgss.plans" "$tp"
	put "$1.pgss.plans_per_call" "$(calc "$tp / ($tc > 0 ? $tc : 1)" 4)"
	put "$1.pgss.calls_per_req" "$(calc "$tc / ($2 > 0 ? $2 : 1)" 2)"
	put "$1.pgss.db_ms_per_req" "$(calc "$te / ($2 > 0 ? $2 : 1)" 3)"
}

# The gate's pools of eligible loans, each asked about once: copies of an
# eligible fixture loan, made in SQL (they only need to exist).
make_pool() { # base n
	sql -v base="$1" -v n="$2" -v lender="$lender" -v tpl="$((read_base + 1))" <<'SQL'
INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, secured,
    first_time_borrower, first_time_given, policy, mrp_tenge, threshold_tiyn, cooling_required,
    cooling_period_s, in_person_required, approved_at, consent_at, cooling_ends_at,
    in_person_verified_at)
SELECT t.lender_id, (:base + g)::text, (800000000000 + (:base / 100000000) * 1000000 + g)::text, t.amount_tiyn,
    t.channel, t.secured, t.first_time_borrower, t.first_time_given, t.policy, t.mrp_tenge,
    t.threshold_tiyn, t.cooling_required, t.cooling_period_s, t.in_person_required, t.approved_at,
    t.consent_at, t.cooling_ends_at, t.in_person_verified_at
  FROM loan t, generate_series(1, :n) g
 WHERE t.lender_id = :'lender' AND t.loan_id = :'tpl';
SQL
}

sql -c "VACUUM ANALYZE" >/dev/null
quiesce
# Warm-up, not reported: the first seconds after start (connections,
# prepared statements, caches) would otherwise count against whoever goes
# first.
log "warming up (wrk, pgbench and the reference, writes and reads, 2s each)"
read_env=("BENCH_READ_BASE=$read_base" "BENCH_READ_N=$read_n")
run_wrk warm.writes.coolingd approvals.lua 2 BENCH_ID_BASE=8000000000
mapfile -d '' args < <(writes_d 4300000000)
run_pgbench warm.writes.pgbench "$work/writes.sql" 2 "$conns" "${args[@]}"
run_wrk warm.reads.coolingd reads.lua 2 "${read_env[@]}"
run_pgbench warm.reads.pgbench "$work/reads.sql" 2 "$conns" "${reads_args[@]}"
mapfile -d '' args < <(ref_write_d 14000000000)
pgbench_db=$ref_db run_pgbench warm.writes.ref "$work/ref_write.sql" 2 "$conns" "${args[@]}"
pgbench_db=$ref_db run_pgbench warm.reads.ref "$work/ref_read.sql" 2 "$conns" "${ref_read_args[@]}"
quiesce
# Other work on this machine skews every figure: wait (a while) for quiet.
quiet_wait=${BENCH_QUIET_WAIT:-$([ $quick -eq 1 ] && echo 0 || echo 30)}
quiet_since=$(date +%s)
while :; do
	read -r b0 b1 b2 b3 < <(cpu_snap)
	sleep 2
	read -r a0 a1 a2 a3 < <(cpu_snap)
	busy=$(calc "(($a3 - $b3) - ($a2 - $b2) - ($a0 - $b0) - ($a1 - $b1)) * 100 / ($a3 - $b3)" 1)
	awk -v v="$busy" 'BEGIN { exit !(v <= 10) }' && break
	if [ $(($(date +%s) - quiet_since)) -ge "$quiet_wait" ]; then
		log "warning: other processes keep ${busy}% of the machine busy; measuring anyway"
		break
	fi
	log "other processes keep ${busy}% of the machine busy; waiting for quiet"
done
setup_s=$(($(date +%s) - started))
log "setup done in ${setup_s}s; measuring, ${dur}s each, $conns connections, $threads threads"

# ---- 2. throughput at the peak ----
# Each workload runs coolingd, pgbench, coolingd, pgbench, ... ($rounds
# rounds, alternating so that a passing disturbance hits both sides) and
# keeps each side's best round: its rate, latencies and CPU figures.
measure() { # workload side(coolingd|pgbench|ref) round
	local w=$1 side=$2 r=$3 key=$1.$2.r$3
	local pgss_run=0
	[ "$side" = pgbench ] || pgss_run=1
	case $w.$side in
	writes.coolingd) run_wrk "$key" approvals.lua "$dur" BENCH_ID_BASE=$((5000000000 + (r - 1) * 300000000)) ;;
	writes.ref | gate.ref)
		# the gate is compared with the reference write, measured next to it
		local idb=10000000000
		[ "$w" = writes ] || idb=11000000000
		mapfile -d '' args < <(ref_write_d $((idb + (r - 1) * 100000000)))
		pgbench_db=$ref_db run_pgbench "$key" "$work/ref_write.sql" "$dur" "$conns" "${args[@]}"
		;;
	reads.ref) pgbench_db=$ref_db run_pgbench "$key" "$work/ref_read.sql" "$dur" "$conns" "${ref_read_args[@]}" ;;
	writes.pgbench)
		mapfile -d '' args < <(writes_d $((4000000000 + (r - 1) * 50000000)))
		run_pgbench "$key" "$work/writes.sql" "$dur" "$conns" "${args[@]}"
		;;
	reads.coolingd) run_wrk "$key" reads.lua "$dur" "${read_env[@]}" ;;
	reads.pgbench) run_pgbench "$key" "$work/reads.sql" "$dur" "$conns" "${reads_args[@]}" ;;
	gate.coolingd | gate.pgbench)
		local mark a n
		mark=$(audit_mark)
		if [ "$side" = coolingd ]; then
			run_wrk "$key" gate.lua "$dur" BENCH_POOL_BASE=$((2000000000 + (r - 1) * 10000000)) \
				BENCH_POOL_N="$pool_w" BENCH_COOL_BASE=$read_base BENCH_COOL_N=$((read_n / 2))
		else
			mapfile -d '' args < <(gate_d $((3000000000 + (r - 1) * 10000000)) "$pool_p")
			run_pgbench "$key" "$work/gate.sql" "$dur" "$conns" "${args[@]}"
		fi
		read -r a n < <(decisions_since "$mark")
		put "$key.allowed" "$a"
		put "$key.refused" "$n"
		;;
	esac
	local rate=${R[$key.rps]:-${R[$key.tps]:-}}
	log "  $w $side round $r: $rate/s, p50 ${R[$key.p50_ms]} ms, p99 ${R[$key.p99_ms]} ms$([ "$w.$side" != gate.coolingd ] && [ "$w.$side" != gate.pgbench ] ||
		echo ", allowed ${R[$key.allowed]}, refused ${R[$key.refused]}")$([ "$side" != coolingd ] ||
		echo ", non-2xx ${R[$key.non2xx]}"); other processes ${R[$key.other_cpu_pct]}%"
	quiesce
}
best_of() { # workload side: copies the best round's figures to workload.side.*
	local w=$1 side=$2 metric=rps r best=0 bestv=-1 v list='' k
	[ "$side" = coolingd ] || metric=tps
	for ((r = 1; r <= rounds; r++)); do
		v=${R[$w.$side.r$r.$metric]}
		list+="${list:+ }$v"
		if awk -v a="$v" -v b="$bestv" 'BEGIN { exit !(a > b) }'; then
			best=$r
			bestv=$v
		fi
	done
	for k in "${R_ORDER[@]}"; do
		[[ "$k" == "$w.$side.r$best."* ]] || continue
		put "$w.$side.${k#"$w.$side.r$best."}" "${R[$k]}"
	done
	put "$w.$side.rounds" "$list"
}
rounds=${BENCH_ROUNDS:-1}
put rounds "$rounds"
for w in writes reads; do
	log "$w: coolingd (wrk), pgbench (the same SQL) and the reference (pgbench), $rounds round(s) of ${dur}s each"
	for ((r = 1; r <= rounds; r++)); do
		measure "$w" coolingd "$r"
		measure "$w" pgbench "$r"
		measure "$w" ref "$r"
	done
	best_of "$w" coolingd
	best_of "$w" pgbench
	best_of "$w" ref
	[ "${R[$w.coolingd.non2xx]}" = 0 ] || log "warning: $w: coolingd answered non-2xx"
	put "$w.ratio" "$(calc "${R[$w.coolingd.rps]} / ${R[$w.pgbench.tps]}" 3)"
	put "$w.ref_ratio" "$(calc "${R[$w.coolingd.rps]} / ${R[$w.ref.tps]}" 3)"
	log "$w: best ${R[$w.coolingd.rps]} req/s vs ${R[$w.pgbench.tps]} tps (same SQL): ratio ${R[$w.ratio]};" \
		"vs ${R[$w.ref.tps]} tps (reference): ratio ${R[$w.ref_ratio]}"
	# The same SQL with only as many connections as coolingd's pool has:
	# how much of the gap is the pool's size rather than the daemon's work.
	log "$w: pgbench with $pool_size clients (coolingd's pool_size)"
	if [ "$w" = writes ]; then
		mapfile -d '' args < <(writes_d 4200000000)
		run_pgbench writes.pgbench_pool "$work/writes.sql" "$dur" "$pool_size" "${args[@]}"
	else
		run_pgbench reads.pgbench_pool "$work/reads.sql" "$dur" "$pool_size" "${reads_args[@]}"
	fi
	log "  ${R[$w.pgbench_pool.tps]} tps, p50 ${R[$w.pgbench_pool.p50_ms]} ms, p99 ${R[$w.pgbench_pool.p99_ms]} ms"
	quiesce
done

# The gate's pools of eligible loans, one per run, sized from the write
# rates: a gate request costs about what an approval does, and only every
# other one takes an eligible loan.
pool_w=$(calc "${R[writes.coolingd.rps]} * $dur + 1000" 0)
pool_p=$(calc "${R[writes.pgbench.tps]} * $dur + 1000" 0)
log "gate: creating pools of eligible loans ($pool_w per coolingd run, $pool_p per pgbench run)"
for ((r = 1; r <= rounds; r++)); do
	make_pool $((2000000000 + (r - 1) * 10000000)) "$pool_w"
	make_pool $((3000000000 + (r - 1) * 10000000)) "$pool_p"
done
make_pool 2500000000 "$pool_w" # half peak
make_pool 2700000000 "$pool_w" # its pilot
make_pool 3500000000 "$pool_p" # pgbench at half its peak
sql -c "VACUUM ANALYZE loan" >/dev/null
quiesce
log "gate: coolingd (wrk gate.lua) and pgbench (the same SQL), fresh eligible and cooling loans alternating"
for ((r = 1; r <= rounds; r++)); do
	measure gate coolingd "$r"
	measure gate pgbench "$r"
	measure gate ref "$r"
done
best_of gate coolingd
best_of gate pgbench
best_of gate ref
put gate.ratio "$(calc "${R[gate.coolingd.rps]} / ${R[gate.pgbench.tps]}" 3)"
put gate.ref_ratio "$(calc "${R[gate.coolingd.rps]} / ${R[gate.ref.tps]}" 3)"
log "gate: best ${R[gate.coolingd.rps]} req/s vs ${R[gate.pgbench.tps]} tps (same SQL): ratio ${R[gate.ratio]};" \
	"vs ${R[gate.ref.tps]} tps (reference write): ratio ${R[gate.ref_ratio]}"

# ---- latency at half the peak ----
# wrk2 is not in Debian: wrk's delay() paces each connection, so that
# conns / delay ~ the target rate; the achieved rate is reported. pgbench
# paces itself (-R); its latencies exclude the schedule lag, like wrk's.
half() { calc "$1 / 2" 1; }
delay_for() { calc "$conns * 1000 / $1" 3; }
# A connection's cycle is its delay plus the answer's latency, so
# conns / delay alone falls short of the target: a short pilot at that
# delay measures the mean latency, and the run uses
# delay = conns / target - mean latency.
pilot=$((dur >= 10 ? 2 : 1))
paced_wrk() { # key seconds delay_ms id_base pool_base
	case ${1%%.*} in
	writes) run_wrk "$1" approvals.lua "$2" BENCH_DELAY_MS="$3" BENCH_ID_BASE="$4" ;;
	reads) run_wrk "$1" reads.lua "$2" BENCH_DELAY_MS="$3" "${read_env[@]}" ;;
	gate) run_wrk "$1" gate.lua "$2" BENCH_DELAY_MS="$3" BENCH_POOL_BASE="$5" \
		BENCH_POOL_N="$pool_w" BENCH_COOL_BASE=$read_base BENCH_COOL_N=$((read_n / 2)) ;;
	esac
}
for ph in writes reads gate; do
	target=$(half "${R[$ph.coolingd.rps]}")
	d0=$(delay_for "$target")
	paced_wrk "$ph.half.pilot" "$pilot" "$d0" 7500000000 2700000000
	lat=${R[$ph.half.pilot.avg_ms]}
	# at most halved: a pilot slowed down by other work on the machine would
	# otherwise shrink the delay to nothing and the run would go flat out
	d=$(calc "($d0 - $lat) > $d0 / 2 ? ($d0 - $lat) : $d0 / 2" 3)
	put "$ph.half.target_rps" "$target"
	put "$ph.half.delay_ms" "$d"
	log "$ph at half the peak: target $target req/s; delay $d ms per request and connection" \
		"(pilot at $d0 ms: ${R[$ph.half.pilot.rps]} req/s, mean latency $lat ms)"
	quiesce
	paced_wrk "$ph.half.coolingd" "$dur" "$d" 7000000000 2500000000
	log "  achieved ${R[$ph.half.coolingd.rps]} req/s, p50 ${R[$ph.half.coolingd.p50_ms]} ms, p99 ${R[$ph.half.coolingd.p99_ms]} ms"
	quiesce
	ptarget=$(half "${R[$ph.pgbench.tps]}")
	case $ph in
	writes) mapfile -d '' args < <(writes_d 4100000000) ;;
	reads) args=("${reads_args[@]}") ;;
	gate) mapfile -d '' args < <(gate_d 3500000000 "$pool_p") ;;
	esac
	run_pgbench "$ph.half.pgbench" "$work/$ph.sql" "$dur" "$conns" -R "$ptarget" "${args[@]}"
	put "$ph.half.pgbench.target_tps" "$ptarget"
	log "  pgbench at $ptarget tps: achieved ${R[$ph.half.pgbench.tps]}, p50 ${R[$ph.half.pgbench.p50_ms]} ms, p99 ${R[$ph.half.pgbench.p99_ms]} ms"
	quiesce
	# the reference at the rate coolingd was paced to (half of coolingd's peak)
	if [ "$ph" = reads ]; then
		pgbench_db=$ref_db run_pgbench "$ph.half.ref" "$work/ref_read.sql" "$dur" "$conns" -R "$target" "${ref_read_args[@]}"
	else
		mapfile -d '' args < <(ref_write_d "$([ "$ph" = gate ] && echo 12100000000 || echo 12000000000)")
		pgbench_db=$ref_db run_pgbench "$ph.half.ref" "$work/ref_write.sql" "$dur" "$conns" -R "$target" "${args[@]}"
	fi
	put "$ph.half.ref.target_tps" "$target"
	log "  reference at $target tps: achieved ${R[$ph.half.ref.tps]}, p50 ${R[$ph.half.ref.p50_ms]} ms, p99 ${R[$ph.half.ref.p99_ms]} ms"
	quiesce
done

# ---- memory ----
put mem.hwm_whole_run_kib "$(status_kib "$cd_pid" VmHWM)"
log "memory: $idle_conns idle keep-alive connections for ${idle_hold}s"
put mem.rss_before_idle_kib "$(status_kib "$cd_pid" VmRSS)"
echo 5 >"/proc/$cd_pid/clear_refs" # resets VmHWM to the current RSS
"$work/idle_conns" 127.0.0.1 "$port" "$idle_conns" "$idle_hold" >"$work/idle.out" 2>&1 &
idle_pid=$!
bg_pids+=("$idle_pid")
for _ in $(seq 300); do
	grep -q '^open' "$work/idle.out" && break
	kill -0 "$idle_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q '^open' "$work/idle.out" || {
	cat "$work/idle.out" >&2
	die "could not open $idle_conns connections"
}
est=$(ss -Htn state established "( sport = :$port )" | wc -l)
max_rss=0
for _ in $(seq $((idle_hold * 2 - 2))); do
	v=$(status_kib "$cd_pid" VmRSS)
	[ "$v" -gt "$max_rss" ] && max_rss=$v
	sleep 0.5
done
wait "$idle_pid" || die "idle_conns failed: $(cat "$work/idle.out")"
bg_pids=()
alive=$(awk '/^alive/ {print $2}' "$work/idle.out")
put mem.idle_conns "$idle_conns"
put mem.idle_established "$est"
put mem.idle_alive_at_end "$alive"
put mem.idle_rss_kib "$max_rss"
put mem.idle_hwm_kib "$(status_kib "$cd_pid" VmHWM)"
log "  established $est, still open at the end $alive; VmRSS $max_rss KiB, VmHWM ${R[mem.idle_hwm_kib]} KiB"

# 1,000 connections that all make requests: wrk -c1000 on the reads; VmHWM
# reset first, VmRSS and the established connections sampled meanwhile.
hwm=$(status_kib "$cd_pid" VmHWM)
[ "$hwm" -le "${R[mem.hwm_whole_run_kib]}" ] || put mem.hwm_whole_run_kib "$hwm"
log "memory: $active_conns active connections (wrk -t$threads -c$active_conns, reads) for ${dur}s"
echo 5 >"/proc/$cd_pid/clear_refs"
(
	while :; do
		printf '%s %s\n' "$(status_kib "$cd_pid" VmRSS)" \
			"$(ss -Htn state established "( sport = :$port )" | wc -l)"
		sleep 0.5
	done
) >"$work/active.samples" 2>/dev/null &
sampler_pid=$!
bg_pids+=("$sampler_pid")
wrk_conns=$active_conns run_wrk mem.active reads.lua "$dur" "${read_env[@]}"
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
bg_pids=()
put mem.active_conns "$active_conns"
put mem.active_rss_kib "$(awk '$1 > m { m = $1 } END { print m + 0 }' "$work/active.samples")"
put mem.active_established_max "$(awk '$2 > m { m = $2 } END { print m + 0 }' "$work/active.samples")"
put mem.active_hwm_kib "$(status_kib "$cd_pid" VmHWM)"
log "  ${R[mem.active.rps]} req/s, p99 ${R[mem.active.p99_ms]} ms; established up to ${R[mem.active_established_max]};" \
	"VmRSS ${R[mem.active_rss_kib]} KiB, VmHWM ${R[mem.active_hwm_kib]} KiB"
quiesce

log "memory: RSS before and after $mem_reqs GET requests"
sleep 1
put mem.rss_before_kib "$(status_kib "$cd_pid" VmRSS)"
total=0
i=0
while [ "$total" -lt "$mem_reqs" ]; do
	i=$((i + 1))
	secs=$(calc "($mem_reqs - $total) / ${R[reads.coolingd.rps]} * 1.05 + 1" 0)
	log "  $total so far; wrk for ${secs}s"
	run_wrk "mem.run$i" reads.lua "$secs" "${read_env[@]}"
	total=$((total + ${R[mem.run$i.requests]}))
done
sleep 1
put mem.requests "$total"
put mem.rss_after_kib "$(status_kib "$cd_pid" VmRSS)"
put mem.rss_growth_kib "$((${R[mem.rss_after_kib]} - ${R[mem.rss_before_kib]}))"
put mem.hwm_end_kib "$(status_kib "$cd_pid" VmHWM)"
hwm_end=${R[mem.hwm_end_kib]}
hwm_run=${R[mem.hwm_whole_run_kib]}
put mem.hwm_whole_run_kib "$((hwm_end > hwm_run ? hwm_end : hwm_run))"
if [ "${R[mem.rss_growth_kib]}" -le $rss_tolerance_kib ]; then
	put mem.rss_growth_ok yes
else
	put mem.rss_growth_ok no
fi
log "  before ${R[mem.rss_before_kib]} KiB, after ${R[mem.rss_after_kib]} KiB over $total requests (growth ${R[mem.rss_growth_kib]} KiB, ok: ${R[mem.rss_growth_ok]})"

# ---- with data: the same workloads after preloading loans ----
# One INSERT ... SELECT generate_series per table: $preload loans of
# $preload_borrowers borrowers (10 each; the first $iin_n of them are the
# borrowers approvals.lua draws from), in coolingd's loan table and in
# ref_loans. No audit events are generated for them (the sealer would chain
# them all during the runs). Of every 10 loans of a borrower: 6 disbursed,
# 1 cancelled, 3 consented and past their cooling period but not disbursed;
# approved 2 to 32 days ago.
if [ "$preload" -gt 0 ]; then
	bench_iins=()
	serial=0
	day=1
	while [ ${#bench_iins[@]} -lt "$iin_n" ]; do # the IINs of common.iins(), in order
		if iin=$(iin_for "$(printf '9001%02d3%04d' "$day" "$serial")"); then
			bench_iins+=("$iin")
		fi
		serial=$((serial + 1))
		[ $serial -le 9999 ] || { serial=0; day=$((day + 1)); }
	done
	iins_lit="{$(IFS=,; echo "${bench_iins[*]}")}"
	log "with data: inserting $preload loans of $preload_borrowers borrowers into loan and ref_loans (no audit events)"
	t0=$(date +%s)
	sql -v n="$preload" -v nb="$preload_borrowers" -v lender="$lender" -v iins="$iins_lit" \
		-v amount="$p_amount" -v policy="$p_policy" -v mrp="$p_mrp" -v thr="$p_threshold" <<'SQL'
INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, secured,
    first_time_borrower, first_time_given, policy, mrp_tenge, threshold_tiyn, cooling_required,
    cooling_period_s, in_person_required, approved_at, consent_at, cooling_ends_at,
    disbursed_at, cancelled_at, cancel_reason, created_at)
SELECT :'lender', 'P' || g, x.iin, :amount, 'online', false, false, true, :'policy', :mrp, :thr,
       true, 86400, false, x.at, x.at, x.at + interval '1 day',
       CASE WHEN x.k < 6 THEN x.at + interval '1 day 1 minute' END,
       CASE WHEN x.k = 6 THEN x.at + interval '1 hour' END,
       CASE WHEN x.k = 6 THEN 'preloaded' END, x.at
  FROM generate_series(1, :n) g,
       LATERAL (SELECT CASE WHEN (g - 1) % :nb < cardinality(:'iins'::text[])
                            THEN (:'iins'::text[])[(g - 1) % :nb + 1]
                            ELSE (700000000000 + (g - 1) % :nb)::text END AS iin,
                       g % 10 AS k,
                       now() - interval '2 days' - (g % 720) * interval '1 hour' AS at) x;
VACUUM ANALYZE loan;
SQL
	refsql -v n="$preload" -v nb="$preload_borrowers" -v lender="$lender" -v iins="$iins_lit" \
		-v amount="$p_amount" -v mrp="$p_mrp" -v thr="$p_threshold" <<'SQL'
INSERT INTO ref_loans (lender, loan_id, iin, amount_tiyn, channel, secured, first_time,
    approved_at, consent_at, cooling_ends_at, mrp, threshold_tiyn, state)
SELECT :'lender', 'P' || g, x.iin, :amount, 'online', false, false, x.at, x.at,
       x.at + interval '1 day', :mrp, :thr,
       CASE WHEN x.k < 6 THEN 'disbursed' WHEN x.k = 6 THEN 'cancelled' ELSE 'eligible' END
  FROM generate_series(1, :n) g,
       LATERAL (SELECT CASE WHEN (g - 1) % :nb < cardinality(:'iins'::text[])
                            THEN (:'iins'::text[])[(g - 1) % :nb + 1]
                            ELSE (700000000000 + (g - 1) % :nb)::text END AS iin,
                       g % 10 AS k,
                       now() - interval '2 days' - (g % 720) * interval '1 hour' AS at) x;
VACUUM ANALYZE ref_loans;
SQL
	put data.preload_loans "$preload"
	put data.preload_borrowers "$preload_borrowers"
	put data.preload_audit_events 0
	put data.preload_s "$(($(date +%s) - t0))"
	put data.loans_total "$(sql -c "SELECT count(*) FROM loan")"
	log "  done in ${R[data.preload_s]}s; loan has ${R[data.loans_total]} rows"

	make_pool 3800000000 "$pool_w"
	sql -c "VACUUM ANALYZE loan" >/dev/null
	quiesce
	log "with data: approvals, reads and the gate (coolingd), the reference write and read"
	pgss_run=1 # pg_stat_statements around each of these runs
	for ph in writes reads gate; do
		case $ph in
		writes) run_wrk data.writes.coolingd approvals.lua "$dur" BENCH_ID_BASE=6500000000 ;;
		reads) run_wrk data.reads.coolingd reads.lua "$dur" "${read_env[@]}" ;;
		gate)
			mark=$(audit_mark)
			run_wrk data.gate.coolingd gate.lua "$dur" BENCH_POOL_BASE=3800000000 \
				BENCH_POOL_N="$pool_w" BENCH_COOL_BASE=$read_base BENCH_COOL_N=$((read_n / 2))
			read -r a n < <(decisions_since "$mark")
			put data.gate.coolingd.allowed "$a"
			put data.gate.coolingd.refused "$n"
			;;
		esac
		put "data.$ph.vs_empty" "$(calc "${R[data.$ph.coolingd.rps]} / ${R[$ph.coolingd.rps]}" 3)"
		log "  $ph: ${R[data.$ph.coolingd.rps]} req/s with data vs ${R[$ph.coolingd.rps]} without: ${R[data.$ph.vs_empty]}"
		quiesce
		[ "$ph" != gate ] || continue
		if [ "$ph" = writes ]; then
			mapfile -d '' args < <(ref_write_d 13000000000)
			pgbench_db=$ref_db run_pgbench data.writes.ref "$work/ref_write.sql" "$dur" "$conns" "${args[@]}"
		else
			pgbench_db=$ref_db run_pgbench data.reads.ref "$work/ref_read.sql" "$dur" "$conns" "${ref_read_args[@]}"
		fi
		put "data.$ph.ref.vs_empty" "$(calc "${R[data.$ph.ref.tps]} / ${R[$ph.ref.tps]}" 3)"
		put "data.$ph.ref_ratio" "$(calc "${R[data.$ph.coolingd.rps]} / ${R[data.$ph.ref.tps]}" 3)"
		log "  $ph reference: ${R[data.$ph.ref.tps]} tps with data vs ${R[$ph.ref.tps]} without: ${R[data.$ph.ref.vs_empty]}"
		quiesce
	done
	pgss_run=0
	put data.gate.ref_ratio "$(calc "${R[data.gate.coolingd.rps]} / ${R[data.writes.ref.tps]}" 3)"
fi

# ---- with refusals: the same workloads with N voluntary refusals ----
# Every loan read and every payout looks the borrower up in the registry
# (cd_refusal_active, one descent of voluntary_refusal_state_idx). N - 2 x
# BENCH_IIN_N refusals in force of other borrowers, and for each borrower
# the approvals draw from a refusal set two days ago and withdrawn one day
# ago: their lookups find rows, and their loans stay payable. Measured
# after the runs with data, on the same (slightly larger) tables: a ratio
# below 1 includes that growth.
if [ "$preload_refusals" -gt 0 ]; then
	log "with refusals: inserting $preload_refusals voluntary refusals"
	t0=$(date +%s)
	sql -v n="$preload_refusals" -v iins="$iins_lit" <<'SQL'
INSERT INTO voluntary_refusal (iin, active, effective_at, source, reference)
SELECT (600000000000 + g)::text, true, now() - (g % 1000) * interval '1 hour', 'fcb', 'R-' || g
  FROM generate_series(1, :n - 2 * cardinality(:'iins'::text[])) g;
INSERT INTO voluntary_refusal (iin, active, effective_at, source)
SELECT i, a, now() - CASE WHEN a THEN interval '2 days' ELSE interval '1 day' END, 'fcb'
  FROM unnest(:'iins'::text[]) i, (VALUES (true), (false)) v(a);
VACUUM ANALYZE voluntary_refusal;
SQL
	put refusals.preload_refusals "$preload_refusals"
	put refusals.preload_s "$(($(date +%s) - t0))"
	log "  done in ${R[refusals.preload_s]}s"
	make_pool 3900000000 "$pool_w"
	sql -c "VACUUM ANALYZE loan" >/dev/null
	quiesce
	log "with refusals: approvals, reads and the gate (coolingd)"
	for ph in writes reads gate; do
		case $ph in
		writes) run_wrk refusals.writes.coolingd approvals.lua "$dur" BENCH_ID_BASE=6600000000 ;;
		reads) run_wrk refusals.reads.coolingd reads.lua "$dur" "${read_env[@]}" ;;
		gate)
			mark=$(audit_mark)
			run_wrk refusals.gate.coolingd gate.lua "$dur" BENCH_POOL_BASE=3900000000 \
				BENCH_POOL_N="$pool_w" BENCH_COOL_BASE=$read_base BENCH_COOL_N=$((read_n / 2))
			read -r a n < <(decisions_since "$mark")
			put refusals.gate.coolingd.allowed "$a"
			put refusals.gate.coolingd.refused "$n"
			;;
		esac
		put "refusals.$ph.vs_data" "$(calc "${R[refusals.$ph.coolingd.rps]} / ${R[data.$ph.coolingd.rps]}" 3)"
		log "  $ph: ${R[refusals.$ph.coolingd.rps]} req/s with refusals vs ${R[data.$ph.coolingd.rps]} without: ${R[refusals.$ph.vs_data]}"
		quiesce
	done
fi

# ---- 3. profile ----
profile_done=none
if [ $profile -eq 1 ] && [ "$profiler" = perf ]; then
	log "profile: perf record (system-wide, DWARF call graphs) during ${dur}s of writes"
	quiesce
	if perf record -q -a -F 499 --call-graph dwarf,16384 -o "$work/perf.data" -- sleep 0.2 \
		>"$work/perf-probe.log" 2>&1; then
		perf record -q -a -F 499 --call-graph dwarf,16384 -o "$work/perf.data" -- sleep "$dur" \
			>"$work/perf.log" 2>&1 &
		perf_pid=$!
		bg_pids+=("$perf_pid")
		sleep 0.3
		run_wrk profile.coolingd approvals.lua "$((dur > 1 ? dur - 1 : 1))" BENCH_ID_BASE=6000000000
		wait "$perf_pid" || true
		bg_pids=()
		# our cluster's processes only: other PostgreSQL servers may share the machine
		pg_pids=$(ps -o pid= --ppid "$(head -n 1 "$work/pg/data/postmaster.pid")" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')
		log "  ${R[profile.coolingd.rps]} req/s under perf; writing the report"
		perf_report() { perf report -i "$work/perf.data" --stdio --quiet "$@" 2>/dev/null || true; }
		set +o pipefail # head closes the pipes early
		{
			echo "# coolingd under perf: writes (approvals.lua), ${dur}s, $conns connections; run $stamp"
			echo "# perf record -a -F 499 --call-graph dwarf,16384; ${R[profile.coolingd.rps]} req/s meanwhile"
			echo
			echo "## CPU by command (% of all samples of both CPUs, idle = swapper; other work on the machine included)"
			perf_report --no-children --sort comm -g none --percent-limit 0.5
			echo
			echo "## CPU by command and shared object"
			perf_report --no-children --sort comm,dso -g none --percent-limit 0.5
			echo
			echo "## coolingd (bench/profile.awk over perf script; % of coolingd's samples)"
			perf script --no-inline -i "$work/perf.data" --pid "$cd_pid" -F comm,tid,ip,sym,dso 2>/dev/null |
				awk -v top=30 -f "$bench/profile.awk"
			echo
			echo "## postgres: this benchmark's cluster (% of its samples)"
			perf script --no-inline -i "$work/perf.data" --pid "$pg_pids" -F comm,tid,ip,sym,dso 2>/dev/null |
				awk -v top=30 -f "$bench/profile.awk"
		} >"$out_profile"
		set -o pipefail
		profile_done=perf
	else
		log "perf is not usable here ($(head -n 1 "$work/perf-probe.log")); falling back to callgrind"
		profiler=callgrind
	fi
fi
if [ $profile -eq 1 ] && [ "$profiler" = callgrind ]; then
	command -v valgrind >/dev/null 2>&1 || {
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind >/dev/null
	}
	log "profile: coolingd under callgrind, a short writes run (4 connections)"
	stop_coolingd
	start_coolingd valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" -q
	env BENCH_ID_BASE=6000000000 wrk -t1 -c4 -d"$((dur > 5 ? 5 : dur))s" -s "$bench/approvals.lua" "$url" \
		>"$work/profile.wrk" 2>&1 || true
	stop_coolingd
	set +o pipefail
	{
		echo "# coolingd under callgrind: writes (approvals.lua), 4 connections; run $stamp"
		echo "## self"
		callgrind_annotate "$work/callgrind.out" 2>/dev/null | head -n 45
		echo "## inclusive"
		callgrind_annotate --inclusive=yes "$work/callgrind.out" 2>/dev/null | head -n 45
	} >"$out_profile"
	set -o pipefail
	profile_done=callgrind
fi
put profile "$profile_done"

# ---- summary ----
# On two CPUs that the server, PostgreSQL and the load generator share, the
# rate ratio tends to the inverse ratio of all CPU spent per request: a
# figure that other work on the machine disturbs much less than the rates.
for ph in writes reads gate; do
	cd_ms=${R[$ph.coolingd.cpu_ms_per_req.coolingd]} pg_ms=${R[$ph.coolingd.cpu_ms_per_req.postgres]}
	cl_ms=${R[$ph.coolingd.cpu_ms_per_req.client]}
	rpg_ms=${R[$ph.ref.cpu_ms_per_req.postgres]} rcl_ms=${R[$ph.ref.cpu_ms_per_req.client]}
	put "$ph.ref_cpu_ratio" "$(calc "($cd_ms + $pg_ms) / ($rpg_ms > 0 ? $rpg_ms : 1)" 2)"
	put "$ph.ref_cpu_predicted_ratio" "$(calc "($rpg_ms + $rcl_ms) / (($cd_ms + $pg_ms + $cl_ms) > 0 ? ($cd_ms + $pg_ms + $cl_ms) : 1)" 3)"
done
elapsed=$(($(date +%s) - started))
mib() { calc "$1 / 1024" 1; }
f() { printf '%s' "${R[$1]:-?}"; }
ok_ratio() { awk -v r="$1" -v t="$2" 'BEGIN { print ((r + 0 >= t + 0) ? "ok" : "BELOW") }'; }
ok_below() { awk -v v="$1" -v t="$2" 'BEGIN { print ((v + 0 < t + 0) ? "ok" : "ABOVE") }'; }
summary() {
	local ph k key row="%-38s %17s %17s %7s  %s\n"
	echo "coolingd benchmark $stamp ($([ $quick -eq 1 ] && echo quick || echo full), ${dur}s per measurement, wrk -t$threads -c$conns / pgbench -M prepared -j$threads -c$conns; ${elapsed}s in all)"
	echo "machine: $(nproc) CPUs, $(lscpu | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2}'), $(free -h | awk '/^Mem:/ {print $2}') RAM, kernel $(uname -r)"
	echo "coolingd $version, $cd_threads threads, pool_size ${pool_size:-?}, cooling_period $cooling_period; PostgreSQL $pg_version: $pg_settings"
	echo "best of $rounds round(s) per workload; harness processes at nice $bench_nice; approvals from $iin_n borrowers; same-SQL pgbench runs the $sql_mode statements (see docs/performance.md)"
	echo
	echo "## Against the essential work (reference: ref_loans + ref_audit, pgbench; database $ref_db, same server)"
	printf "$row" "figure" "coolingd" "reference" "ratio" "target"
	printf "$row" "approvals req/s | ref write tps" "$(f writes.coolingd.rps)" "$(f writes.ref.tps)" "$(f writes.ref_ratio)" ">= 1.0: $(ok_ratio "$(f writes.ref_ratio)" 1.0)"
	printf "$row" "loan reads req/s | ref read tps" "$(f reads.coolingd.rps)" "$(f reads.ref.tps)" "$(f reads.ref_ratio)" ">= 0.9: $(ok_ratio "$(f reads.ref_ratio)" 0.9)"
	printf "$row" "gate req/s | ref write tps (next to it)" "$(f gate.coolingd.rps)" "$(f gate.ref.tps)" "$(f gate.ref_ratio)" ">= 0.9: $(ok_ratio "$(f gate.ref_ratio)" 0.9)"
	printf "$row" "  gate decisions allowed/refused" "$(f gate.coolingd.allowed)/$(f gate.coolingd.refused)" "" "" ""
	for ph in writes reads gate; do
		printf "$row" "$ph p50/p99 ms at peak" "$(f $ph.coolingd.p50_ms)/$(f $ph.coolingd.p99_ms)" "$(f $ph.ref.p50_ms)/$(f $ph.ref.p99_ms)" "" ""
	done
	for ph in writes reads gate; do
		printf "$row" "$ph p50/p99 ms at half coolingd's peak" "$(f $ph.half.coolingd.p50_ms)/$(f $ph.half.coolingd.p99_ms)" "$(f $ph.half.ref.p50_ms)/$(f $ph.half.ref.p99_ms)" "" "p99 < 10 ms: $(ok_below "$(f $ph.half.coolingd.p99_ms)" 10)"
		printf "$row" "  achieved rate (target)" "$(f $ph.half.coolingd.rps) ($(f $ph.half.target_rps))" "$(f $ph.half.ref.tps) ($(f $ph.half.ref.target_tps))" "" ""
	done
	for ph in writes reads gate; do
		printf "$row" "$ph CPU ms/req: daemon+postgres" "$(f $ph.coolingd.cpu_ms_per_req.coolingd)+$(f $ph.coolingd.cpu_ms_per_req.postgres)" "0+$(f $ph.ref.cpu_ms_per_req.postgres)" "$(f $ph.ref_cpu_ratio)" "(coolingd's side / reference)"
		printf "$row" "  load generator ms/req; other%" "$(f $ph.coolingd.cpu_ms_per_req.client); $(f $ph.coolingd.other_cpu_pct)" "$(f $ph.ref.cpu_ms_per_req.client); $(f $ph.ref.other_cpu_pct)" \
			"$(f $ph.ref_cpu_predicted_ratio)" "(the ratio this CPU per request predicts)"
	done
	printf "$row" "RSS MiB, $(f mem.idle_conns) idle conns (VmHWM)" "$(mib "$(f mem.idle_hwm_kib)")" "" "" "< 64 MiB: $(ok_below "$(mib "$(f mem.idle_hwm_kib)")" 64)"
	printf "$row" "RSS MiB, $(f mem.active_conns) active conns (VmHWM)" "$(mib "$(f mem.active_hwm_kib)")" "" "" "< 64 MiB: $(ok_below "$(mib "$(f mem.active_hwm_kib)")" 64)"
	printf "$row" "  req/s, p99 ms; established (max)" "$(f mem.active.rps), $(f mem.active.p99_ms); $(f mem.active_established_max)" "" "" ""
	printf "$row" "RSS MiB, peak of the whole run" "$(mib "$(f mem.hwm_whole_run_kib)")" "" "" "< 64 MiB: $(ok_below "$(mib "$(f mem.hwm_whole_run_kib)")" 64)"
	printf "$row" "RSS MiB before/after $(f mem.requests) req" "$(mib "$(f mem.rss_before_kib)")/$(mib "$(f mem.rss_after_kib)")" "" "" "growth $(f mem.rss_growth_kib) KiB <= $rss_tolerance_kib: $(f mem.rss_growth_ok)"
	if [ "$preload" -gt 0 ]; then
		echo
		echo "## With data: $(f data.preload_loans) loans of $(f data.preload_borrowers) borrowers preloaded (no audit events; loan table $(f data.loans_total) rows; ${R[data.preload_s]}s to insert)"
		printf "$row" "figure" "with data" "without" "ratio" "target"
		printf "$row" "approvals req/s" "$(f data.writes.coolingd.rps)" "$(f writes.coolingd.rps)" "$(f data.writes.vs_empty)" ">= 0.9: $(ok_ratio "$(f data.writes.vs_empty)" 0.9)"
		printf "$row" "loan reads req/s" "$(f data.reads.coolingd.rps)" "$(f reads.coolingd.rps)" "$(f data.reads.vs_empty)" ""
		printf "$row" "gate req/s" "$(f data.gate.coolingd.rps)" "$(f gate.coolingd.rps)" "$(f data.gate.vs_empty)" ""
		printf "$row" "reference write tps" "$(f data.writes.ref.tps)" "$(f writes.ref.tps)" "$(f data.writes.ref.vs_empty)" ""
		printf "$row" "reference read tps" "$(f data.reads.ref.tps)" "$(f reads.ref.tps)" "$(f data.reads.ref.vs_empty)" ""
		printf "$row" "with data: approvals / ref write" "" "" "$(f data.writes.ref_ratio)" ""
		printf "$row" "with data: reads / ref read" "" "" "$(f data.reads.ref_ratio)" ""
		printf "$row" "with data: gate / ref write" "" "" "$(f data.gate.ref_ratio)" ""
		for ph in writes gate; do
			printf "$row" "with data: $ph CPU ms/req daemon+pg" "$(f data.$ph.coolingd.cpu_ms_per_req.coolingd)+$(f data.$ph.coolingd.cpu_ms_per_req.postgres)" "$(f $ph.coolingd.cpu_ms_per_req.coolingd)+$(f $ph.coolingd.cpu_ms_per_req.postgres)" "" ""
		done
	fi
	if [ "$preload_refusals" -gt 0 ]; then
		echo
		echo "## With refusals: $(f refusals.preload_refusals) voluntary refusals preloaded (${R[refusals.preload_s]}s to insert), on the data above"
		printf "$row" "figure" "with refusals" "without" "ratio" "target"
		printf "$row" "approvals req/s" "$(f refusals.writes.coolingd.rps)" "$(f data.writes.coolingd.rps)" "$(f refusals.writes.vs_data)" ">= 0.9: $(ok_ratio "$(f refusals.writes.vs_data)" 0.9)"
		printf "$row" "loan reads req/s" "$(f refusals.reads.coolingd.rps)" "$(f data.reads.coolingd.rps)" "$(f refusals.reads.vs_data)" ">= 0.9: $(ok_ratio "$(f refusals.reads.vs_data)" 0.9)"
		printf "$row" "gate req/s" "$(f refusals.gate.coolingd.rps)" "$(f data.gate.coolingd.rps)" "$(f refusals.gate.vs_data)" ">= 0.9: $(ok_ratio "$(f refusals.gate.vs_data)" 0.9)"
		printf "$row" "  gate allowed/refused" "$(f refusals.gate.coolingd.allowed)/$(f refusals.gate.coolingd.refused)" "$(f data.gate.coolingd.allowed)/$(f data.gate.coolingd.refused)" "" ""
	fi
	echo
	echo "## The same SQL (pgbench runs coolingd's own statements)"
	printf "$row" "figure" "coolingd" "pgbench" "ratio" ""
	printf "$row" "writes (approval) req/s | tps" "$(f writes.coolingd.rps)" "$(f writes.pgbench.tps)" "$(f writes.ratio)" ""
	printf "$row" "  pgbench -c$pool_size (= pool_size)" "" "$(f writes.pgbench_pool.tps)" "$(calc "$(f writes.coolingd.rps) / $(f writes.pgbench_pool.tps)" 3)" ""
	printf "$row" "reads (GET loan) req/s | tps" "$(f reads.coolingd.rps)" "$(f reads.pgbench.tps)" "$(f reads.ratio)" ""
	printf "$row" "  pgbench -c$pool_size (= pool_size)" "" "$(f reads.pgbench_pool.tps)" "$(calc "$(f reads.coolingd.rps) / $(f reads.pgbench_pool.tps)" 3)" ""
	printf "$row" "gate (disbursement) req/s | tps" "$(f gate.coolingd.rps)" "$(f gate.pgbench.tps)" "$(f gate.ratio)" ""
	printf "$row" "  decisions allowed/refused" "$(f gate.coolingd.allowed)/$(f gate.coolingd.refused)" "$(f gate.pgbench.allowed)/$(f gate.pgbench.refused)" "" ""
	for ph in writes reads gate; do
		printf "$row" "$ph p50/p99 ms at peak" "$(f $ph.coolingd.p50_ms)/$(f $ph.coolingd.p99_ms)" "$(f $ph.pgbench.p50_ms)/$(f $ph.pgbench.p99_ms)" "" ""
	done
	for ph in writes reads gate; do
		printf "$row" "$ph p50/p99 ms at half its own peak" "$(f $ph.half.coolingd.p50_ms)/$(f $ph.half.coolingd.p99_ms)" "$(f $ph.half.pgbench.p50_ms)/$(f $ph.half.pgbench.p99_ms)" "" ""
		printf "$row" "  achieved rate (target)" "$(f $ph.half.coolingd.rps) ($(f $ph.half.target_rps))" "$(f $ph.half.pgbench.tps) ($(f $ph.half.pgbench.target_tps))" "" ""
	done
	for ph in writes reads gate; do
		printf "$row" "$ph CPU ms/req: daemon+postgres" "$(f $ph.coolingd.cpu_ms_per_req.coolingd)+$(f $ph.coolingd.cpu_ms_per_req.postgres)" "0+$(f $ph.pgbench.cpu_ms_per_req.postgres)" "" ""
	done
	echo
	echo "## CPU seconds per run (coolingd, PostgreSQL = postmaster + backends, load generator = wrk or pgbench)"
	local crow="%-28s %9s %9s %9s %9s %8s %6s %6s\n"
	printf "$crow" "run" "requests" "coolingd" "postgres" "client" "wall" "busy%" "other%"
	for k in "${R_ORDER[@]}"; do
		[[ "$k" == *.cpu_s.coolingd ]] || continue
		key=${k%.cpu_s.coolingd}
		[[ "$key" != *.r[0-9]* ]] || [ "$rounds" -gt 1 ] || continue # the best round is listed under its own name
		printf "$crow" "$key" "${R[$key.requests]:-${R[$key.transactions]:-?}}" "$(f "$key.cpu_s.coolingd")" \
			"$(f "$key.cpu_s.postgres")" "$(f "$key.cpu_s.client")" "$(f "$key.wall_s")" \
			"$(f "$key.machine_busy_pct")" "$(f "$key.other_cpu_pct")"
	done
	echo
	if [ "$pgss" = 1 ]; then
		echo "## pg_stat_statements per run: coolingd's statements (database coolingd_bench, the sealer's included) and the reference's (coolingd_ref)"
		echo "(reset before the run, read after; track_planning on; calls per request, plans per call, plan+exec time per request; top 8 by calls)"
		local prow="%-22s %8s %8s %7s %9s %9s %6s  %s\n"
		for key in writes.coolingd writes.ref reads.coolingd reads.ref gate.coolingd \
			data.writes.coolingd data.writes.ref data.reads.coolingd data.gate.coolingd; do
			[ -n "${R[$key.pgss.calls]+x}" ] || continue
			echo "$key: $(f "$key.pgss.calls") calls ($(f "$key.pgss.calls_per_req") per request or transaction), $(f "$key.pgss.plans") plans: $(f "$key.pgss.plans_per_call") plans per call; plan+exec $(f "$key.pgss.db_ms_per_req") ms per request"
			[ -z "${R[$key.pool.batches]:-}" ] ||
				echo "  coolingd's pool: $(f "$key.pool.statements_per_req") statements per request; $(f "$key.pool.batches") batches of $(f "$key.pool.requests_per_batch") requests on average"
			printf "$prow" "" "calls" "plans" "plan/c" "exec ms" "plan ms" "exec%" "statement"
			for ((i = 1; i <= ${R[$key.pgss.statements]:-0}; i++)); do
				printf "$prow" "" "$(f "$key.pgss.s$i.calls")" "$(f "$key.pgss.s$i.plans")" "$(f "$key.pgss.s$i.plans_per_call")" \
					"$(f "$key.pgss.s$i.mean_exec_ms")" "$(f "$key.pgss.s$i.mean_plan_ms")" "$(f "$key.pgss.s$i.exec_pct")" "$(f "$key.pgss.s$i.query")"
			done
		done
	else
		echo "## pg_stat_statements: not measured ($pgss_note)"
	fi
	echo
	echo "CPU ms/req: CPU time per request (coolingd's and PostgreSQL's; the reference and pgbench have no daemon); client = wrk or pgbench;"
	echo "busy% = both CPUs' busy share; other% = CPU used by processes outside the benchmark (disturbs the figure when high)."
	echo "Half peak: coolingd paced by wrk delay() (wrk2 is not in Debian), the reference by pgbench -R at the same target; pgbench latencies exclude its schedule lag."
	[ "$profile_done" = none ] || echo "profile ($profile_done): ${out_profile#"$root"/}"
}
summary | tee "$out_txt"
{
	echo
	echo "# raw outputs"
	for fname in "$work"/*.wrk "$work"/*.pgbench; do
		echo "## $(basename "$fname")"
		cat "$fname"
	done
} >>"$out_txt"
for s in writes reads gate ref_write ref_read; do # the pgbench scripts of this run
	cp "$work/$s.sql" "$results_dir/$stamp-$s.sql"
done
for k in "${R_ORDER[@]}"; do
	printf '%s\t%s\n' "$k" "${R[$k]}"
done | jq -Rn --arg stamp "$stamp" --argjson quick "$quick" --argjson dur "$dur" \
	'[inputs | split("\t") | {(.[0]): (.[1] | tonumber? // .)}] | add + {stamp: $stamp, quick: ($quick == 1), duration_s: $dur}' \
	>"$out_json"
log "results: $out_txt, $out_json"

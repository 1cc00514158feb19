#!/usr/bin/env bash
# Benchmark of `coolingctl export` and `coolingctl audit verify` on a large
# audit trail: throughput and, above all, peak memory (the export streams row
# by row, so its RSS must not grow with the number of events).
#
#   bench/export_bench.sh [EVENTS]        default 1000000
#
# Starts its own throwaway PostgreSQL (scripts/pg.sh in a mktemp directory,
# port 55480), creates and migrates a database, inserts EVENTS audit events
# with one INSERT ... SELECT generate_series, seals them (timed), exports
# them as CSV and as JSON Lines under /usr/bin/time -v, verifies the chain,
# prints the figures and removes the cluster. Needs a built tree
# (cmake --build build) and /usr/bin/time.
set -euo pipefail

EVENTS=${1:-1000000}
PORT=55480
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CTL=$ROOT/build/bin/coolingctl

[ -x "$CTL" ] || { echo "export_bench: build first: cmake --build build" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "export_bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
[[ "$EVENTS" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [EVENTS]" >&2; exit 2; }

work=$(mktemp -d /tmp/cd-export-bench.XXXXXX)
cleanup() {
	"$ROOT/scripts/pg.sh" stop "$work" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }
rate() { echo "$1 / $2" | bc -l | xargs printf '%.0f'; }
# "Maximum resident set size (kbytes): N" of a /usr/bin/time -v log, in MiB
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
"$CTL" --database "$url" migrate
psql "$url" -AtXc "SELECT version()"

echo "== inserting $EVENTS audit events"
t0=$(now)
# A realistic mix: the operations of 20 lenders' loans over the last year,
# with the detail each event type carries.
psql "$url" -qX <<SQL
INSERT INTO audit_event (at, actor, lender_id, loan_id, type, detail)
SELECT now() - (($EVENTS - g) * interval '30 seconds'),
       'core' || (g % 20),
       'BANK' || (g % 20),
       'LN-' || (g / 6),
       (ARRAY['approval_recorded', 'consent_recorded', 'disbursement_refused',
              'in_person_verified', 'disbursement_allowed', 'cancelled'])[g % 6 + 1],
       CASE g % 6
         WHEN 0 THEN jsonb_build_object('amount', (g % 5000 + 100) * 1000 || '.00',
                     'borrower_iin', lpad((g % 999999999999)::text, 12, '0'),
                     'channel', 'online', 'cooling_required', true, 'mrp', 4325)
         WHEN 1 THEN jsonb_build_object('consent_at', to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                     'cooling_ends_at', to_char(now() + interval '1 day', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
         WHEN 2 THEN jsonb_build_object('blockers', jsonb_build_array('cooling_period_active'),
                     'idempotency_key', md5(g::text))
         WHEN 3 THEN jsonb_build_object('branch_id', 'BR-' || (g % 300), 'officer_id', 'OF-' || (g % 5000))
         WHEN 4 THEN jsonb_build_object('idempotency_key', md5(g::text))
         ELSE jsonb_build_object('reason', 'Заёмщик отказался, "передумал"')
       END
  FROM generate_series(1, $EVENTS) g;
SQL
t1=$(now)
insert_s=$(elapsed "$t0" "$t1")
echo "inserted in ${insert_s} s"

echo "== sealing (cd_audit_seal, 10000 a call, as coolingctl and coolingd do)"
t0=$(now)
while :; do
	n=$(psql "$url" -AtXc "SELECT cd_audit_seal(10000)")
	[ "$n" -eq 10000 ] || break
done
t1=$(now)
seal_s=$(elapsed "$t0" "$t1")
sealed=$(psql "$url" -AtXc "SELECT count(*) FROM audit_chain")
echo "sealed $sealed events in ${seal_s} s ($(rate "$sealed" "$seal_s") events/s)"

# After a bulk insert the first full read sets every tuple's hint bits and
# so writes the tables again; autovacuum would do that in production. Done
# here (timed apart) so that the first export is not charged for it.
echo "== vacuum (analyze)"
t0=$(now)
psql "$url" -qXc "VACUUM (ANALYZE) audit_event, audit_chain"
echo "vacuumed in $(elapsed "$t0" "$(now)") s"

run_export() { # FORMAT FILE
	local log=$work/time-$1.log t0 t1 s
	t0=$(now)
	/usr/bin/time -v "$CTL" --database "$url" export --format "$1" --output "$2" 2>"$log"
	t1=$(now)
	s=$(elapsed "$t0" "$t1")
	grep '^exported' "$log"
	echo "$1: ${s} s, $(rate "$sealed" "$s") events/s, peak RSS $(peak_mib "$log") MiB," \
		"file $(du -m "$2" | cut -f1) MiB"
	grep -E 'Maximum resident set size|Elapsed \(wall clock\)|User time|System time' "$log" |
		sed 's/^\s*/    /'
	eval "${1}_s=$s; ${1}_rss=$(peak_mib "$log")"
}

echo "== export"
echo "+ /usr/bin/time -v coolingctl --database URL export --format csv --output $work/x.csv"
run_export csv "$work/x.csv"
rm -f "$work/x.csv"
echo "+ /usr/bin/time -v coolingctl --database URL export --format jsonl --output $work/x.jsonl"
run_export jsonl "$work/x.jsonl"
rm -f "$work/x.jsonl"

echo "== audit verify"
t0=$(now)
/usr/bin/time -v "$CTL" --database "$url" audit verify 2>"$work/time-verify.log"
t1=$(now)
verify_s=$(elapsed "$t0" "$t1")
echo "verify: ${verify_s} s, $(rate "$sealed" "$verify_s") events/s, peak RSS" \
	"$(peak_mib "$work/time-verify.log") MiB"

echo "== summary"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %10s %12s %14s\n' step seconds events/s "peak RSS MiB"
printf '%-8s %10s %12s %14s\n' insert "$insert_s" "$(rate "$sealed" "$insert_s")" -
printf '%-8s %10s %12s %14s\n' seal "$seal_s" "$(rate "$sealed" "$seal_s")" -
printf '%-8s %10s %12s %14s\n' csv "$csv_s" "$(rate "$sealed" "$csv_s")" "$csv_rss"
printf '%-8s %10s %12s %14s\n' jsonl "$jsonl_s" "$(rate "$sealed" "$jsonl_s")" "$jsonl_rss"
printf '%-8s %10s %12s %14s\n' verify "$verify_s" "$(rate "$sealed" "$verify_s")" \
	"$(peak_mib "$work/time-verify.log")"
for r in "$csv_rss" "$jsonl_rss"; do
	if awk -v r="$r" 'BEGIN { exit !(r >= 64) }'; then
		echo "export_bench: peak RSS $r MiB is not below 64 MiB" >&2
		exit 1
	fi
done

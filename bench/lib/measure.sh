# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# One measured run and what is counted around it: CPU time of coolingd,
# PostgreSQL and the load generator, pg_stat_statements, coolingd's pool
# counters, the audit sealer's backlog. Sourced, not run.

clk_tck=$(getconf CLK_TCK)
# utime+stime (and, with a second argument, the reaped children's) in ticks
proc_ticks() {
	awk -v kids="${2:-0}" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " ");
	  t = f[12] + f[13]; if (kids) t += f[14] + f[15]; print t }' "/proc/$1/stat" 2>/dev/null || echo 0
}
tree_ticks() { # a process, the children it reaped, and the live ones
	local t c
	t=$(proc_ticks "$1" 1)
	for c in $(ps -o pid= --ppid "$1"); do
		t=$((t + $(proc_ticks "$c")))
	done
	echo "$t"
}
pg_ticks() { tree_ticks "$(head -n 1 "$work/pg/data/postmaster.pid")"; } # postmaster and backends
# nginx's master and workers while bench/lib/http.sh runs it, else 0
nginx_ticks() { if [ -n "${nginx_pid:-}" ]; then tree_ticks "$nginx_pid"; else echo 0; fi; }
cpu_snap() { # coolingd pg idle total nginx (ticks)
	local idle total
	read -r idle total < <(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat)
	echo "$(proc_ticks "$cd_pid") $(pg_ticks) $idle $total $(nginx_ticks)"
}
# Puts per-request CPU figures for KEY from two snapshots, the client's
# user+system seconds and the number of requests.
cpu_account() { # key before after client_seconds requests
	local key=$1 n=$5
	local b a
	read -ra b <<<"$2"
	read -ra a <<<"$3"
	local cd=$((a[0] - b[0])) pg=$((a[1] - b[1])) idle=$((a[2] - b[2])) total=$((a[3] - b[3]))
	local ng=$((${a[4]:-0} - ${b[4]:-0}))
	[ "$n" -gt 0 ] || n=1
	put "$key.cpu_ms_per_req.coolingd" "$(calc "$cd * 1000 / $clk_tck / $n" 3)"
	put "$key.cpu_ms_per_req.postgres" "$(calc "$pg * 1000 / $clk_tck / $n" 3)"
	put "$key.cpu_ms_per_req.client" "$(calc "$4 * 1000 / $n" 3)"
	put "$key.cpu_s.coolingd" "$(calc "$cd / $clk_tck" 2)"
	put "$key.cpu_s.postgres" "$(calc "$pg / $clk_tck" 2)"
	put "$key.cpu_s.client" "$(calc "$4" 2)"
	if [ -n "${nginx_pid:-}" ]; then
		put "$key.cpu_ms_per_req.nginx" "$(calc "$ng * 1000 / $clk_tck / $n" 3)"
		put "$key.cpu_s.nginx" "$(calc "$ng / $clk_tck" 2)"
	fi
	put "$key.wall_s" "$(calc "($total / $(nproc)) / $clk_tck" 2)"
	put "$key.machine_busy_pct" "$(calc "($total - $idle) * 100 / ($total > 0 ? $total : 1)" 1)"
	# CPU that neither coolingd, PostgreSQL, nginx nor the load generator
	# used: anything else on the machine disturbs the figure
	local other
	other=$(calc "(($total - $idle) - $cd - $pg - $ng - $4 * $clk_tck) * 100 / ($total > 0 ? $total : 1)" 1)
	put "$key.other_cpu_pct" "$other"
	awk -v o="$other" 'BEGIN { exit !(o > 10) }' &&
		log "warning: $key: other processes used $other% of the machine meanwhile" || true
}

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

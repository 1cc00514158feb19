# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The summary (.txt) and every figure (.json) of a run. Sourced, not run.

# On two CPUs that the server, PostgreSQL and the load generator share, the
# rate ratio tends to the inverse ratio of all CPU spent per request: a
# figure that other work on the machine disturbs much less than the rates.
cpu_quotients() {
	for ph in writes reads gate; do
		cd_ms=${R[$ph.coolingd.cpu_ms_per_req.coolingd]} pg_ms=${R[$ph.coolingd.cpu_ms_per_req.postgres]}
		cl_ms=${R[$ph.coolingd.cpu_ms_per_req.client]}
		rpg_ms=${R[$ph.ref.cpu_ms_per_req.postgres]} rcl_ms=${R[$ph.ref.cpu_ms_per_req.client]}
		put "$ph.ref_cpu_ratio" "$(calc "($cd_ms + $pg_ms) / ($rpg_ms > 0 ? $rpg_ms : 1)" 2)"
		put "$ph.ref_cpu_predicted_ratio" "$(calc "($rpg_ms + $rcl_ms) / (($cd_ms + $pg_ms + $cl_ms) > 0 ? ($cd_ms + $pg_ms + $cl_ms) : 1)" 3)"
	done
}

summary() {
	local ph k key row="%-38s %17s %17s %7s  %s\n"
	echo "coolingd benchmark $stamp ($([ $quick -eq 1 ] && echo quick || echo full), ${dur}s per measurement, wrk -t$threads -c$conns / pgbench -M prepared -j$threads -c$conns; ${elapsed}s in all)"
	echo "machine: $(nproc) CPUs, $(lscpu | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2}'), $(free -h | awk '/^Mem:/ {print $2}') RAM, kernel $(uname -r)"
	echo "coolingd $version, $cd_threads threads, pool_size ${pool_size:-?}, cooling_period $cooling_period; PostgreSQL $pg_version: $pg_settings"
	echo "best of $rounds round(s) per workload; harness processes at nice $bench_nice$([ "$http" = only ] ||
		echo "; approvals from $iin_n borrowers; same-SQL pgbench runs the $sql_mode statements (see docs/performance.md)")"
	if [ "$webhooks" = only ] || [ "$http" = only ]; then
		if [ "$webhooks" = only ]; then webhooks_summary; else http_summary; fi
		return
	fi
	echo
	echo "## Against the essential work (reference: ref_loans + ref_audit, pgbench; database $ref_db, same server)"
	printf "$row" "figure" "coolingd" "reference" "ratio" "target"
	printf "$row" "approvals req/s | ref write tps" "$(f writes.coolingd.rps)" "$(f writes.ref.tps)" "$(f writes.ref_ratio)" ">= 1.0: $(ok_ratio "$(f writes.ref_ratio)" 1.0)"
	printf "$row" "loan reads req/s | ref read tps" "$(f reads.coolingd.rps)" "$(f reads.ref.tps)" "$(f reads.ref_ratio)" "$([ "$http" = 0 ] || echo "(the limit below is the target)")"
	if [ "$http" != 0 ]; then
		printf "$row" "loan reads req/s | read limit" "$(f reads.coolingd.rps)" "$(f reads.limit)" "$(f reads.limit_ratio)" ">= 1.0: $(ok_ratio "$(f reads.limit_ratio)" 1.0)"
		printf "$row" "  limit = 1/(1/nginx + 1/ref read)" "" "$(f http.nginx.rps), $(f reads.ref.tps)" "" "(/healthz on nginx req/s, ref read tps)"
	fi
	printf "$row" "gate req/s | ref write tps (next to it)" "$(f gate.coolingd.rps)" "$(f gate.ref.tps)" "$(f gate.ref_ratio)" ">= 0.9: $(ok_ratio "$(f gate.ref_ratio)" 0.9)"
	printf "$row" "  gate decisions allowed/refused" "$(f gate.coolingd.allowed)/$(f gate.coolingd.refused)" "" "" ""
	if [ "$http" != 0 ]; then
		printf "$row" "/healthz req/s | nginx req/s" "$(f http.coolingd.rps)" "$(f http.nginx.rps)" "$(f http.ratio)" ">= 0.9: $(ok_ratio "$(f http.ratio)" 0.9)"
		printf "$row" "  CPU us/req: coolingd | nginx" "$(f http.coolingd.cpu_us_per_req)" "$(f http.nginx.cpu_us_per_req)" "$(f http.cpu_ratio)" "(the HTTP servers alone)"
	fi
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
	[ "$webhooks" = 0 ] || webhooks_summary
	[ "$http" = 0 ] || http_summary
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

write_results() {
	summary | tee "$out_txt"
	{
		echo
		echo "# raw outputs"
		for fname in "$work"/*.wrk "$work"/*.pgbench; do
			[ -f "$fname" ] || continue # no pgbench run with --http-only
			echo "## $(basename "$fname")"
			cat "$fname"
		done
	} >>"$out_txt"
	for s in writes reads gate ref_write ref_read; do # the pgbench scripts of this run (none with --http-only)
		[ ! -f "$work/$s.sql" ] || cp "$work/$s.sql" "$results_dir/$stamp-$s.sql"
	done
	for k in "${R_ORDER[@]}"; do
		printf '%s\t%s\n' "$k" "${R[$k]}"
	done | jq -Rn --arg stamp "$stamp" --argjson quick "$quick" --argjson dur "$dur" \
		'[inputs | split("\t") | {(.[0]): (.[1] | tonumber? // .)}] | add + {stamp: $stamp, quick: ($quick == 1), duration_s: $dur}' \
		>"$out_json"
	log "results: $out_txt, $out_json"
}

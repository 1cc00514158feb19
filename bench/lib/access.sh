# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# What recording a compliance read costs (bench/access_log.sh): the same
# loan reads with the lender's token (not recorded: off) and with a
# compliance token (each read recorded in access_log before the answer: on),
# alternating. Sourced, not run.

create_compliance_client() {
	compliance_token=$("$coolingctl" client add --name bench-compliance --role compliance)
	[[ "$compliance_token" =~ ^cdt_[0-9a-f]{12}_[0-9a-f]{40}$ ]] ||
		die "unexpected token from coolingctl client add --role compliance"
}

access_rows() { sql -c "SELECT count(*) FROM access_log"; }

# One round of one side: puts access.SIDE.rR.* (run_wrk's figures) and
# .access_rows, the rows the round added to access_log.
access_round() { # side(off|on) round
	local side=$1 r=$2 key=access.$1.r$2 tok=$token before
	[ "$side" = off ] || tok=$compliance_token
	quiesce
	before=$(access_rows)
	run_wrk "$key" reads.lua "$dur" BENCH_TOKEN="$tok" "${read_env[@]}"
	put "$key.access_rows" "$(($(access_rows) - before))"
	[ "${R[$key.non2xx]}" = 0 ] || die "$key: ${R[$key.non2xx]} answers were not 2xx"
	log "  $side r$r: ${R[$key.rps]} reads/s, mean ${R[$key.avg_ms]} ms, p99 ${R[$key.p99_ms]} ms," \
		"${R[$key.access_rows]} access_log rows for ${R[$key.requests]} reads"
}

# off, on, off, on, ... ($rounds each), then the means over the rounds and
# the ratio on / off of each round pair (a passing disturbance hits the two
# halves of a pair alike).
measure_access() {
	local r side k
	for ((r = 1; r <= rounds; r++)); do
		access_round off "$r"
		access_round on "$r"
		put "access.ratio.r$r" "$(calc "${R[access.on.r$r.rps]} / ${R[access.off.r$r.rps]}" 3)"
	done
	for side in off on; do
		for k in rps avg_ms p50_ms p99_ms cpu_ms_per_req.coolingd cpu_ms_per_req.postgres \
			pool.statements_per_req other_cpu_pct access_rows requests; do
			put "access.$side.$k" "$(for ((r = 1; r <= rounds; r++)); do echo "${R[access.$side.r$r.$k]}"; done |
				awk '{ s += $1 } END { printf "%.3f", s / NR }')"
		done
	done
	put access.ratio "$(calc "${R[access.on.rps]} / ${R[access.off.rps]}" 3)"
	put access.ratio.min "$(for ((r = 1; r <= rounds; r++)); do echo "${R[access.ratio.r$r]}"; done | sort -n | head -n 1)"
	put access.ratio.max "$(for ((r = 1; r <= rounds; r++)); do echo "${R[access.ratio.r$r]}"; done | sort -n | tail -n 1)"
	local off_rows=0 on_rows=0 off_reqs=0 on_reqs=0
	for ((r = 1; r <= rounds; r++)); do
		off_rows=$((off_rows + ${R[access.off.r$r.access_rows]}))
		on_rows=$((on_rows + ${R[access.on.r$r.access_rows]}))
		off_reqs=$((off_reqs + ${R[access.off.r$r.requests]}))
		on_reqs=$((on_reqs + ${R[access.on.r$r.requests]}))
	done
	put access.off.rows_total "$off_rows"
	put access.on.rows_total "$on_rows"
	put access.off.requests_total "$off_reqs"
	put access.on.requests_total "$on_reqs"
	[ "$off_rows" -eq 0 ] || die "the lender's reads wrote $off_rows access_log rows"
	# wrk stops counting with requests still in flight: those are recorded too
	[ "$on_rows" -ge "$on_reqs" ] || die "$on_reqs compliance reads but only $on_rows access_log rows"
}

access_summary() {
	local row="%-34s %14s %14s %8s\n" r
	echo "coolingd: recording a compliance read, $stamp ($([ "$quick" = 1 ] && echo quick || echo full): $rounds rounds of off/on, ${dur}s each, wrk -t$threads -c$conns, bench/reads.lua over $read_n loans; ${elapsed}s in all)"
	echo "machine: $(nproc) CPUs, $(lscpu | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2}'), kernel $(uname -r); harness at nice $bench_nice"
	echo "coolingd $version, $cd_threads threads, pool_size ${pool_size:-?}; PostgreSQL $pg_version: $pg_settings"
	echo "off = lender token (not recorded), on = compliance token (one INSERT into access_log committed before each answer)"
	echo
	printf "$row" "round" "off reads/s" "on reads/s" "on/off"
	for ((r = 1; r <= rounds; r++)); do
		printf "$row" "r$r" "$(f access.off.r$r.rps)" "$(f access.on.r$r.rps)" "$(f access.ratio.r$r)"
	done
	printf "$row" "mean of the rounds" "$(f access.off.rps)" "$(f access.on.rps)" "$(f access.ratio)"
	printf "$row" "  on/off of the pairs: min..max" "" "" "$(f access.ratio.min)..$(f access.ratio.max)"
	printf "$row" "mean latency ms (mean of rounds)" "$(f access.off.avg_ms)" "$(f access.on.avg_ms)" ""
	printf "$row" "p50 / p99 ms (mean of rounds)" "$(f access.off.p50_ms) / $(f access.off.p99_ms)" "$(f access.on.p50_ms) / $(f access.on.p99_ms)" ""
	printf "$row" "CPU ms/read: coolingd" "$(f access.off.cpu_ms_per_req.coolingd)" "$(f access.on.cpu_ms_per_req.coolingd)" ""
	printf "$row" "CPU ms/read: PostgreSQL" "$(f access.off.cpu_ms_per_req.postgres)" "$(f access.on.cpu_ms_per_req.postgres)" ""
	printf "$row" "statements per read (pool)" "$(f access.off.pool.statements_per_req)" "$(f access.on.pool.statements_per_req)" ""
	printf "$row" "other% of the machine (mean)" "$(f access.off.other_cpu_pct)" "$(f access.on.other_cpu_pct)" ""
	printf "$row" "reads answered (all rounds)" "$(f access.off.requests_total)" "$(f access.on.requests_total)" ""
	printf "$row" "access_log rows written" "$(f access.off.rows_total)" "$(f access.on.rows_total)" ""
}

write_access_results() {
	access_summary | tee "$out_txt"
	write_ab_results access
}

# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The measurements: warm-up, the wait for a quiet machine, throughput at the
# peak (coolingd, the same SQL, the reference; best of BENCH_ROUNDS) and
# latency at half the peak. Sourced, not run.

# Warm-up, not reported: the first seconds after start (connections,
# prepared statements, caches) would otherwise count against whoever goes
# first.
warm_up() {
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
}

# Other work on this machine skews every figure: wait (a while) for quiet.
wait_for_quiet() {
	quiet_wait=${BENCH_QUIET_WAIT:-$([ $quick -eq 1 ] && echo 0 || echo 30)}
	quiet_since=$(date +%s)
	while :; do
		read -r b0 b1 b2 b3 _ < <(cpu_snap)
		sleep 2
		read -r a0 a1 a2 a3 _ < <(cpu_snap)
		busy=$(calc "(($a3 - $b3) - ($a2 - $b2) - ($a0 - $b0) - ($a1 - $b1)) * 100 / ($a3 - $b3)" 1)
		awk -v v="$busy" 'BEGIN { exit !(v <= 10) }' && break
		if [ $(($(date +%s) - quiet_since)) -ge "$quiet_wait" ]; then
			log "warning: other processes keep ${busy}% of the machine busy; measuring anyway"
			break
		fi
		log "other processes keep ${busy}% of the machine busy; waiting for quiet"
	done
}

# Each workload runs coolingd, pgbench, coolingd, pgbench, ... ($rounds
# rounds, alternating so that a passing disturbance hits both sides) and
# keeps each side's best round: its rate, latencies and CPU figures.
measure() { # workload side(coolingd|pgbench|ref) round
	local w=$1 side=$2 r=$3 key=$1.$2.r$3
	local pgss_run=0
	case $w.$side in *.pgbench | http.*) ;; *) pgss_run=1 ;; esac
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
	http.coolingd) run_wrk "$key" healthz.lua "$dur" ;;
	http.nginx) url=$nginx_url run_wrk "$key" healthz.lua "$dur" ;;
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
		echo ", allowed ${R[$key.allowed]}, refused ${R[$key.refused]}")$([ -z "${R[$key.non2xx]+x}" ] ||
		echo ", non-2xx ${R[$key.non2xx]}"); other processes ${R[$key.other_cpu_pct]}%"
	quiesce
}
best_of() { # workload side: copies the best round's figures to workload.side.*
	local w=$1 side=$2 metric=tps r best=0 bestv=-1 v list='' k
	case $side in coolingd | nginx) metric=rps ;; esac # wrk's sides
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

measure_peak() {
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
}

# The gate's pools of eligible loans, one per run, sized from the write
# rates: a gate request costs about what an approval does, and only every
# other one takes an eligible loan.
measure_gate() {
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
}

# wrk2 is not in Debian: wrk's delay() paces each connection, so that
# conns / delay ~ the target rate; the achieved rate is reported. pgbench
# paces itself (-R); its latencies exclude the schedule lag, like wrk's.
half() { calc "$1 / 2" 1; }
delay_for() { calc "$conns * 1000 / $1" 3; }
paced_wrk() { # key seconds delay_ms id_base pool_base
	case ${1%%.*} in
	writes) run_wrk "$1" approvals.lua "$2" BENCH_DELAY_MS="$3" BENCH_ID_BASE="$4" ;;
	reads) run_wrk "$1" reads.lua "$2" BENCH_DELAY_MS="$3" "${read_env[@]}" ;;
	gate) run_wrk "$1" gate.lua "$2" BENCH_DELAY_MS="$3" BENCH_POOL_BASE="$5" \
		BENCH_POOL_N="$pool_w" BENCH_COOL_BASE=$read_base BENCH_COOL_N=$((read_n / 2)) ;;
	esac
}

# A connection's cycle is its delay plus the answer's latency, so
# conns / delay alone falls short of the target: a short pilot at that
# delay measures the mean latency, and the run uses
# delay = conns / target - mean latency.
measure_half_peak() {
	pilot=$((dur >= 10 ? 2 : 1))
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
}

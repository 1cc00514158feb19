# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# Memory: 1,000 idle keep-alive connections, 1,000 active ones, and RSS
# growth over BENCH_MEM_REQS requests. Sourced, not run.

measure_memory() {
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
}

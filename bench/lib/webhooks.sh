# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# What webhooks cost the approval rate (--webhooks, BENCH_WEBHOOKS): the
# approvals measured with coolingd delivering every event of the lender to a
# receiver on loopback (docs/webhooks/receiver.py, which verifies each
# signature and prints each event) and without, alternating off and on for
# $rounds rounds in the same run, the best of each kept. The time events'
# statement (every 500 ms, nothing to write: the approvals are not consented)
# runs in both. Sourced, not run.

hex32() { head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }

# Sealed events of the lender that the endpoint has not acknowledged yet.
hook_behind() {
	sql -c "SELECT (SELECT coalesce(max(c.seq), 0) FROM audit_chain c JOIN audit_event e
		ON e.id = c.event_id WHERE e.lender_id = '$lender') - delivered_seq
		FROM webhook WHERE id = $hook_id"
}

# Waits until the endpoint has every sealed event; puts KEY the seconds it
# took.
hook_catch_up() { # KEY
	local t0 left
	t0=$(date +%s.%N)
	quiesce
	for _ in $(seq 1200); do
		left=$(hook_behind)
		[ "$left" -le 0 ] && break
		sleep 0.1
	done
	[ "$left" -le 0 ] || die "webhooks: the endpoint is still $left events behind after 2 minutes"
	put "$1" "$(calc "$(date +%s.%N) - $t0" 1)"
}

# Restarts coolingd with webhooks off (no [webhooks] secret_key) or on.
hook_restart() { # off|on
	stop_coolingd
	cd_env=("${hook_base_env[@]}")
	[ "$1" = off ] || cd_env+=("COOLINGD_WEBHOOKS_SECRET_KEY=$hook_key")
	start_coolingd
}

measure_webhooks() {
	rounds=${BENCH_ROUNDS:-1}
	put rounds "$rounds"
	hook_key=$work/webhooks.key
	local secret=$work/webhook.secret hook_port recv_pid
	(umask 077 && hex32 >"$hook_key" && hex32 >"$secret")
	hook_port=$(free_port)
	python3 "$root/docs/webhooks/receiver.py" --port "$hook_port" --secret-file "$secret" \
		>"$work/receiver.out" 2>&1 &
	recv_pid=$!
	bg_pids+=("$recv_pid")
	for _ in $(seq 100); do
		grep -q '^listening on ' "$work/receiver.out" && break
		sleep 0.1
	done
	grep -q '^listening on ' "$work/receiver.out" || die "webhooks: the receiver did not start"
	quiesce
	hook_after=$(sql -c "SELECT coalesce(max(seq), 0) FROM audit_chain")
	hook_id=$(COOLINGD_WEBHOOKS_SECRET_KEY=$hook_key "$coolingctl" webhook add --lender "$lender" \
		--url "http://127.0.0.1:$hook_port/" --secret-file "$secret" --after "$hook_after" |
		sed -n 's/^id: //p')
	[ -n "$hook_id" ] || die "webhooks: coolingctl webhook add printed no id"
	hook_base_env=("${cd_env[@]}")
	log "webhooks: approvals without and with deliveries to a receiver on 127.0.0.1:$hook_port, $rounds round(s) of ${dur}s each"
	local r mode k=0 recv0 key
	for ((r = 1; r <= rounds; r++)); do
		for mode in off on; do
			hook_restart "$mode"
			key=webhooks_$mode.coolingd.r$r
			# the off round's events reach the endpoint before the on round
			[ "$mode" = off ] || hook_catch_up "$key.backlog_s"
			quiesce
			recv0=$(proc_ticks "$recv_pid")
			run_wrk "$key" approvals.lua "$dur" BENCH_ID_BASE=$((20000000000 + k * 300000000))
			k=$((k + 1))
			if [ "$mode" = on ]; then
				put "$key.behind_at_end" "$(hook_behind)"
				put "$key.receiver_cpu_s" "$(calc "($(proc_ticks "$recv_pid") - $recv0) / $clk_tck" 2)"
				hook_catch_up "$key.catch_up_s"
			fi
			log "  webhooks $mode round $r: ${R[$key.rps]}/s, p50 ${R[$key.p50_ms]} ms, p99 ${R[$key.p99_ms]} ms$([ "$mode" = off ] ||
				echo ", ${R[$key.behind_at_end]} events behind at the end, caught up ${R[$key.catch_up_s]} s later")"
		done
	done
	hook_restart off # the phases after run as before
	best_of webhooks_off coolingd
	best_of webhooks_on coolingd
	put webhooks.on_vs_off "$(calc "${R[webhooks_on.coolingd.rps]} / ${R[webhooks_off.coolingd.rps]}" 3)"
	put webhooks.events_printed "$(grep -c '^event ' "$work/receiver.out" || true)"
	put webhooks.events_sealed "$(sql -c "SELECT count(*) FROM audit_chain c JOIN audit_event e
		ON e.id = c.event_id WHERE e.lender_id = '$lender' AND c.seq > $hook_after")"
	[ "${R[webhooks.events_printed]}" = "${R[webhooks.events_sealed]}" ] ||
		log "warning: webhooks: the receiver printed ${R[webhooks.events_printed]} events of ${R[webhooks.events_sealed]}"
	log "webhooks: approvals ${R[webhooks_off.coolingd.rps]}/s off, ${R[webhooks_on.coolingd.rps]}/s on: ratio ${R[webhooks.on_vs_off]}"
}

webhooks_summary() {
	local row="%-38s %17s %17s %7s  %s\n"
	echo
	echo "## Webhooks: approvals with every event of $lender delivered to a receiver on loopback (docs/webhooks/receiver.py) and without, alternating"
	printf "$row" "figure" "webhooks on" "off" "ratio" ""
	printf "$row" "approvals req/s" "$(f webhooks_on.coolingd.rps)" "$(f webhooks_off.coolingd.rps)" "$(f webhooks.on_vs_off)" "rounds: on $(f webhooks_on.coolingd.rounds) | off $(f webhooks_off.coolingd.rounds)"
	printf "$row" "  p50/p99 ms" "$(f webhooks_on.coolingd.p50_ms)/$(f webhooks_on.coolingd.p99_ms)" "$(f webhooks_off.coolingd.p50_ms)/$(f webhooks_off.coolingd.p99_ms)" "" ""
	printf "$row" "  CPU ms/req: daemon+postgres" "$(f webhooks_on.coolingd.cpu_ms_per_req.coolingd)+$(f webhooks_on.coolingd.cpu_ms_per_req.postgres)" "$(f webhooks_off.coolingd.cpu_ms_per_req.coolingd)+$(f webhooks_off.coolingd.cpu_ms_per_req.postgres)" "" ""
	printf "$row" "  receiver CPU s (same machine)" "$(f webhooks_on.coolingd.receiver_cpu_s)" "" "" ""
	printf "$row" "  events behind at the run's end" "$(f webhooks_on.coolingd.behind_at_end)" "" "" "caught up $(f webhooks_on.coolingd.catch_up_s) s later"
	printf "$row" "  events printed by the receiver" "$(f webhooks.events_printed)" "" "" "of $(f webhooks.events_sealed) sealed (each once)"
}

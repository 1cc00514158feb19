# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# What the fraud chain costs a payout (bench/fraud.sh): the gate's workload
# without a payee (off: no payee check) and with a payee that is not flagged
# (on: the payee check), alternating, on empty registries and then with the
# suspicious payees and fraud claims preloaded (the claim check runs on
# both sides). Sourced, not run.

# The eligible loans of one measured run, each asked about once: pool i
# starts at fraud_pool_base + i x 10,000,000 (make_pool, bench/lib/fixtures.sh).
fraud_pool_base=2000000000
fraud_pool() { echo $((fraud_pool_base + $1 * 10000000)); }

# One INSERT ... SELECT generate_series per table. Payees: N - 2 x
# payee_n flags in force of other payees (the three kinds), and for each
# payee the payouts name (account BP-1 .. BP-payee_n) a flag set two days
# ago and withdrawn a day ago, so that their lookups find rows and the
# payouts stay allowed. Claims: M of borrowers no loan here belongs to, half
# open, half closed (confirmed and unfounded alternating), so that the open
# claims' index is as large as a bad season would make it. No audit events
# (the sealer would chain them during the runs).
preload_fraud() {
	log "preloading $payees_n suspicious payees and $claims_n fraud claims"
	local t0
	t0=$(date +%s)
	sql -v n="$payees_n" -v pn="$payee_n" <<'SQL'
INSERT INTO suspicious_payee (kind, id, active, effective_at, source, reference)
SELECT (ARRAY['account', 'card', 'wallet'])[g % 3 + 1], 'FP-' || g, true,
       now() - (g % 1000) * interval '1 hour', 'afc', 'R-' || g
  FROM generate_series(1, :n - 2 * :pn) g;
INSERT INTO suspicious_payee (kind, id, active, effective_at, source)
SELECT 'account', 'BP-' || k, a, now() - CASE WHEN a THEN interval '2 days' ELSE interval '1 day' END, 'afc'
  FROM generate_series(1, :pn) k, (VALUES (true), (false)) v(a);
VACUUM ANALYZE suspicious_payee;
SQL
	sql -v m="$claims_n" <<'SQL'
INSERT INTO fraud_claim (borrower_iin, reference, opened_at, opened_by, closed_at, closed_by, outcome)
SELECT (500000000000 + g)::text, 'C-' || g, x.at, 'bench-antifraud',
       CASE WHEN g % 2 = 1 THEN x.at + interval '1 day' END,
       CASE WHEN g % 2 = 1 THEN 'bench-antifraud' END,
       CASE WHEN g % 4 = 1 THEN 'confirmed' WHEN g % 4 = 3 THEN 'unfounded' END
  FROM generate_series(1, :m) g,
       LATERAL (SELECT now() - interval '2 days' - (g % 1000) * interval '1 hour' AS at) x;
VACUUM ANALYZE fraud_claim;
SQL
	put fraud.preload_s "$(($(date +%s) - t0))"
	put fraud.payees_rows "$(sql -c "SELECT count(*) FROM suspicious_payee")"
	put fraud.claims_rows "$(sql -c "SELECT count(*) FROM fraud_claim")"
	put fraud.claims_open "$(sql -c "SELECT count(*) FROM fraud_claim WHERE closed_at IS NULL")"
	log "  done in ${R[fraud.preload_s]}s: ${R[fraud.payees_rows]} payee rows," \
		"${R[fraud.claims_rows]} claims (${R[fraud.claims_open]} open)"
}

# One round of one side: puts fraud.PHASE.SIDE.rR.* (run_wrk's figures) and
# .allowed, .refused (the decisions' audit events of the round).
fraud_round() { # phase(empty|data) side(off|on) round pool
	local phase=$1 side=$2 r=$3 key=fraud.$1.$2.r$3 mark a n with
	local payee=()
	[ "$side" = off ] || payee=(BENCH_PAYEE_N="$payee_n")
	quiesce
	mark=$(audit_mark)
	run_wrk "$key" gate.lua "$dur" BENCH_POOL_BASE="$(fraud_pool "$4")" BENCH_POOL_N="$pool_n" \
		BENCH_COOL_BASE=$read_base BENCH_COOL_N=$((read_n / 2)) "${payee[@]}"
	read -r a n < <(decisions_since "$mark")
	put "$key.allowed" "$a"
	put "$key.refused" "$n"
	# every decision of on names the payee, none of off
	with=$(sql -c "SELECT count(*) FROM audit_event WHERE id > $mark AND detail ? 'payee'
	  AND type IN ('disbursement_allowed', 'disbursement_refused')")
	[ "$with" -eq "$([ "$side" = off ] && echo 0 || echo $((a + n)))" ] ||
		die "$key: $with of $((a + n)) decisions name a payee"
	# wrk stops counting with requests in flight: those are decided too
	[ $((a + n)) -ge "${R[$key.requests]}" ] ||
		die "$key: ${R[$key.requests]} payouts but $a allowed and $n refused (answers other than a decision?)"
	[ "${R[$key.non2xx]}" -le "$n" ] || die "$key: ${R[$key.non2xx]} non-2xx answers for $n refusals"
	[ "$a" -lt "$pool_n" ] || die "$key: the pool of $pool_n eligible loans ran out (raise --pool)"
	log "  $phase $side r$r: ${R[$key.rps]} payouts/s, p99 ${R[$key.p99_ms]} ms, allowed $a, refused $n;" \
		"other processes ${R[$key.other_cpu_pct]}%"
}

# Back to empty registries (between the preloaded phase of a round and the
# empty phase of the next): the append-only triggers are the bench
# database's own to lift for the TRUNCATE.
unload_fraud() {
	sql <<'SQL'
ALTER TABLE suspicious_payee DISABLE TRIGGER USER;
ALTER TABLE fraud_claim DISABLE TRIGGER USER;
TRUNCATE suspicious_payee, fraud_claim;
ALTER TABLE suspicious_payee ENABLE TRIGGER USER;
ALTER TABLE fraud_claim ENABLE TRIGGER USER;
ANALYZE suspicious_payee;
ANALYZE fraud_claim;
SQL
	log "  registries emptied"
}

# One pair of a phase: off then on, and its ratio on / off (a passing
# disturbance hits both halves of a pair alike).
fraud_pair() { # phase round first_pool
	local p=fraud.$1
	fraud_round "$1" off "$2" "$3"
	fraud_round "$1" on "$2" $(($3 + 1))
	put "$p.ratio.r$2" "$(calc "${R[$p.on.r$2.rps]} / ${R[$p.off.r$2.rps]}" 3)"
}

# The means of a phase's pairs, its ratio on / off and the pairs' range.
fraud_phase_means() { # phase pairs
	local phase=$1 pairs=$2 r side k p=fraud.$1
	for side in off on; do
		for k in rps avg_ms p50_ms p99_ms cpu_ms_per_req.coolingd cpu_ms_per_req.postgres \
			pool.statements_per_req other_cpu_pct allowed refused; do
			put "$p.$side.$k" "$(for ((r = 1; r <= pairs; r++)); do echo "${R[$p.$side.r$r.$k]}"; done |
				awk '{ s += $1 } END { printf "%.3f", s / NR }')"
		done
	done
	put "$p.ratio" "$(calc "${R[$p.on.rps]} / ${R[$p.off.rps]}" 3)"
	put "$p.ratio.min" "$(for ((r = 1; r <= pairs; r++)); do echo "${R[$p.ratio.r$r]}"; done | sort -n | head -n 1)"
	put "$p.ratio.max" "$(for ((r = 1; r <= pairs; r++)); do echo "${R[$p.ratio.r$r]}"; done | sort -n | tail -n 1)"
}

# The warm-up of a phase, not measured: the preload, or the emptying, has
# just gone through PostgreSQL's shared buffers, and the pages the payouts
# use come back into them here, so that neither phase pays for the other's
# preparation. Its payouts name a payee (both checks), from a pool of their
# own (fraud_warm_pool).
fraud_warm_pool() { # phase(empty|data) round
	fraud_pool $((100 + 2 * $2 + $([ "$1" = data ] && echo 1 || echo 0)))
}
fraud_warm() { # phase round
	quiesce
	run_wrk "warm.fraud.$1.r$2" gate.lua "$warm_s" BENCH_POOL_BASE="$(fraud_warm_pool "$1" "$2")" \
		BENCH_POOL_N="$warm_pool_n" BENCH_COOL_BASE=$read_base BENCH_COOL_N=$((read_n / 2)) \
		BENCH_PAYEE_N="$payee_n"
}

# Round r: a pair on empty registries, the preload, a pair on the preloaded
# ones, and (but after the last) the registries emptied again; so that the
# two phases alternate and the machine's drift over the run falls on both.
# Then each phase's means, and of each round the ratios preloaded / empty
# (the registries' size: off / off; the payee check and the size: on / off).
measure_fraud_rounds() {
	local r pool=1
	for ((r = 1; r <= rounds; r++)); do
		log "round $r of $rounds: empty registries, then preloaded"
		fraud_warm empty "$r"
		fraud_pair empty "$r" "$pool"
		preload_fraud
		fraud_warm data "$r"
		fraud_pair data "$r" $((pool + 2))
		[ "$r" -eq "$rounds" ] || unload_fraud
		put "fraud.size.r$r" "$(calc "${R[fraud.data.off.r$r.rps]} / ${R[fraud.empty.off.r$r.rps]}" 3)"
		put "fraud.both.r$r" "$(calc "${R[fraud.data.on.r$r.rps]} / ${R[fraud.empty.off.r$r.rps]}" 3)"
		pool=$((pool + 4))
	done
	fraud_phase_means empty "$rounds"
	fraud_phase_means data "$rounds"
}

fraud_summary() {
	local row="%-38s %19s %19s %8s\n" r ph
	echo "coolingd: the payee check and the claim check at the payout, $stamp ($([ "$quick" = 1 ] && echo quick || echo full): $rounds rounds of off/on on empty registries then preloaded ones, ${dur}s each, wrk -t$threads -c$conns, bench/gate.lua; ${elapsed}s in all)"
	echo "machine: $(nproc) CPUs, $(lscpu | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2}'), kernel $(uname -r); harness at nice $bench_nice"
	echo "coolingd $version, $cd_threads threads, pool_size ${pool_size:-?}; PostgreSQL $pg_version: $pg_settings"
	echo "preloaded: ${R[fraud.payees_rows]} suspicious payee rows, ${R[fraud.claims_rows]} fraud claims (${R[fraud.claims_open]} open)"
	echo "off = no payee (no payee check), on = a payee that is not flagged, of $payee_n whose flags were withdrawn (the payee check); the claim check runs in every payout"
	for ph in data empty; do
		echo
		[ "$ph" = data ] && echo "with the registries preloaded:" || echo "on empty registries (each round's first pair):"
		printf "$row" "round" "off payouts/s" "on payouts/s" "on/off"
		for ((r = 1; r <= rounds; r++)); do
			printf "$row" "r$r" "$(f fraud.$ph.off.r$r.rps)" "$(f fraud.$ph.on.r$r.rps)" "$(f fraud.$ph.ratio.r$r)"
		done
		printf "$row" "mean of the rounds" "$(f fraud.$ph.off.rps)" "$(f fraud.$ph.on.rps)" "$(f fraud.$ph.ratio)"
		printf "$row" "  on/off of the pairs: min..max" "" "" "$(f fraud.$ph.ratio.min)..$(f fraud.$ph.ratio.max)"
		printf "$row" "p50 / p99 ms (mean of rounds)" "$(f fraud.$ph.off.p50_ms) / $(f fraud.$ph.off.p99_ms)" "$(f fraud.$ph.on.p50_ms) / $(f fraud.$ph.on.p99_ms)" ""
		printf "$row" "CPU ms/payout: coolingd" "$(f fraud.$ph.off.cpu_ms_per_req.coolingd)" "$(f fraud.$ph.on.cpu_ms_per_req.coolingd)" ""
		printf "$row" "CPU ms/payout: PostgreSQL" "$(f fraud.$ph.off.cpu_ms_per_req.postgres)" "$(f fraud.$ph.on.cpu_ms_per_req.postgres)" ""
		printf "$row" "statements per payout (pool)" "$(f fraud.$ph.off.pool.statements_per_req)" "$(f fraud.$ph.on.pool.statements_per_req)" ""
		printf "$row" "allowed / refused per round (mean)" "$(f fraud.$ph.off.allowed) / $(f fraud.$ph.off.refused)" "$(f fraud.$ph.on.allowed) / $(f fraud.$ph.on.refused)" ""
		printf "$row" "other% of the machine (mean)" "$(f fraud.$ph.off.other_cpu_pct)" "$(f fraud.$ph.on.other_cpu_pct)" ""
	done
	echo
	echo "the ratios: the median of the rounds' (each of two runs a minute apart at most, so that one"
	echo "fast or slow minute of the machine moves no more than its round), then the ratio of the means"
	printf "%-64s %s\n" "the payee check, on / off preloaded (target >= 0.9):" "$(f fraud.data.ratio.median) $(ok_ratio "${R[fraud.data.ratio.median]}" 0.9) (means $(f fraud.data.ratio))"
	printf "%-64s %s\n" "both checks at size, on preloaded / off empty (>= 0.9):" "$(f fraud.both.median) $(ok_ratio "${R[fraud.both.median]}" 0.9) (means $(f fraud.both))"
	printf "%-64s %s\n" "the registries' size, off preloaded / off empty:" "$(f fraud.size.median) (means $(f fraud.size))"
	printf "%-64s %s\n" "  of the rounds: on / off preloaded" "$(for ((r = 1; r <= rounds; r++)); do printf '%s ' "$(f fraud.data.ratio.r$r)"; done)"
	printf "%-64s %s\n" "  of the rounds: on preloaded / off empty" "$(for ((r = 1; r <= rounds; r++)); do printf '%s ' "$(f fraud.both.r$r)"; done)"
	printf "%-64s %s\n" "  of the rounds: off preloaded / off empty" "$(for ((r = 1; r <= rounds; r++)); do printf '%s ' "$(f fraud.size.r$r)"; done)"
	echo "(each round measures empty, then preloads, then measures preloaded: the phases alternate over the run)"
}

write_fraud_results() {
	put fraud.both "$(calc "${R[fraud.data.on.rps]} / ${R[fraud.empty.off.rps]}" 3)"
	put fraud.size "$(calc "${R[fraud.data.off.rps]} / ${R[fraud.empty.off.rps]}" 3)"
	local k
	for k in fraud.data.ratio fraud.both fraud.size; do
		put "$k.median" "$(for ((r = 1; r <= rounds; r++)); do echo "${R[$k.r$r]}"; done | sort -n |
			awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
	done
	fraud_summary | tee "$out_txt"
	write_ab_results fraud
}

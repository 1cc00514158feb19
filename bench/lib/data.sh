# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The same workloads again after preloading loans (--preload) and voluntary
# refusals (BENCH_PRELOAD_REFUSALS). Sourced, not run.

# One workload (writes: approvals, reads, gate) against coolingd, as the
# figures PREFIX.PHASE.coolingd.*: approvals numbered from ID_BASE, the gate
# over the pool that make_pool made at POOL_BASE.
run_coolingd_phase() { # prefix phase id_base pool_base
	local mark a n
	case $2 in
	writes) run_wrk "$1.writes.coolingd" approvals.lua "$dur" BENCH_ID_BASE="$3" ;;
	reads) run_wrk "$1.reads.coolingd" reads.lua "$dur" "${read_env[@]}" ;;
	gate)
		mark=$(audit_mark)
		run_wrk "$1.gate.coolingd" gate.lua "$dur" BENCH_POOL_BASE="$4" \
			BENCH_POOL_N="$pool_w" BENCH_COOL_BASE=$read_base BENCH_COOL_N=$((read_n / 2))
		read -r a n < <(decisions_since "$mark")
		put "$1.gate.coolingd.allowed" "$a"
		put "$1.gate.coolingd.refused" "$n"
		;;
	esac
}

# One INSERT ... SELECT generate_series per table: $preload loans of
# $preload_borrowers borrowers (10 each; the first $iin_n of them are the
# borrowers approvals.lua draws from), in coolingd's loan table and in
# ref_loans. No audit events are generated for them (the sealer would chain
# them all during the runs), nor their time events (cd_time_events would
# work through 1,000,000 of them during the runs). Of every 10 loans of a borrower: 6 disbursed,
# 1 cancelled, 3 consented and past their cooling period but not disbursed;
# approved 2 to 32 days ago.
measure_with_data() {
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
-- The insert's trigger queued each loan's cooling_period_ended, long due:
-- a database that held these loans would have emitted them when they came
-- due, so they are not work of the phases measured (no event of the
-- preload is, as above). Nothing else of the run is due yet: its own loans
-- cool for longer than the run takes.
DELETE FROM time_event_due WHERE due_at <= now();
VACUUM ANALYZE loan;
VACUUM ANALYZE time_event_due;
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
			run_coolingd_phase data "$ph" 6500000000 3800000000
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
}

# Every loan read and every payout looks the borrower up in the registry
# (cd_refusal_active, one descent of voluntary_refusal_state_idx). N - 2 x
# BENCH_IIN_N refusals in force of other borrowers, and for each borrower
# the approvals draw from a refusal set two days ago and withdrawn one day
# ago: their lookups find rows, and their loans stay payable. Measured
# after the runs with data, on the same (slightly larger) tables: a ratio
# below 1 includes that growth.
measure_with_refusals() {
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
			run_coolingd_phase refusals "$ph" 6600000000 3900000000
			put "refusals.$ph.vs_data" "$(calc "${R[refusals.$ph.coolingd.rps]} / ${R[data.$ph.coolingd.rps]}" 3)"
			log "  $ph: ${R[refusals.$ph.coolingd.rps]} req/s with refusals vs ${R[data.$ph.coolingd.rps]} without: ${R[refusals.$ph.vs_data]}"
			quiesce
		done
	fi
}

# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The pgbench scripts: the same SQL as coolingd (generated from db_statements
# by print_sql) and the reference's, with their -D options.
# Sourced, not run.

writes_d() { # id_base -> pgbench -D options for writes.sql, timestamps of now
	local now_us
	now_us=$(date +%s%6N)
	printf '%s\0' "${common_d[@]}" -D seq=0 -D id_base="$1" -D niins="$iin_n" \
		-D approved_us="$now_us" -D consent_us="$now_us" \
		-D cooling_ends_us="$((now_us + p_period * 1000000))" -D detail="$p_detail" \
		-D prior_victim_days="$cd_prior_victim_days" -D day_sum=f "${insert_d[@]}"
}
gate_d() { # pool_base pool_n [clients]
	printf '%s\0' "${common_d[@]}" -D seq=0 -D pool_base="$1" -D pool_n="$2" -D nclients="${3:-$conns}" \
		-D empty_detail='{}' -D refuse_detail="$refuse_detail" -D refusal_body="$refusal_body"
}
ref_write_d() { # id_base -> pgbench -D options for ref_write.sql
	printf '%s\0' -D lender="$lender" -D actor="$client_name" -D seq=0 -D id_base="$1" -D niins="$iin_n" \
		-D amount_tiyn="$p_amount" -D channel="$p_channel" -D secured="$p_secured" \
		-D first_time="$p_first" -D period_s="${p_period:-0}" -D mrp="$p_mrp" \
		-D threshold="$p_threshold" -D detail="$p_detail"
}

# What coolingd sends where its configuration decides (it runs with the
# defaults, profile kz-card): the zone, whose loans of the day count, the
# window of a repeat victim's claim; a day's total or a burst's count would
# differ from one approval to the next, which pgbench cannot replay.
read_coolingd_settings() {
	env "${cd_env[@]}" "$coolingd_bin" -c /dev/null --check-config >"$work/coolingd.config" 2>&1 ||
		die "coolingd --check-config failed: $(tail -n 3 "$work/coolingd.config")"
	cd_setting() { awk -F' = ' -v k="$1" '$1 == k {print $2; f = 1} END {exit !f}' "$work/coolingd.config" ||
		die "coolingd --check-config prints no $1"; }
	cd_tz=$(cd_setting policy.timezone)
	cd_prior_victim_days=$(cd_setting policy.prior_victim_days)
	day_lender=lender
	[ "$(cd_setting policy.aggregation)" != all ] || day_lender=NULL
	[ "$(cd_setting policy.burst_lenders)" = 0 ] ||
		die "pgbench cannot replay a burst's count: the benchmark needs policy.burst_lenders = 0"
	grep -q "^day's amount: the loan's own amount" "$work/coolingd.config" ||
		die "pgbench cannot replay a day's total: the benchmark needs a profile that adds no day up"
}

# The variables of loan_insert, one per parameter in the order that
# print_sql --params names them: those of each approval are pgbench's, and
# every other column takes the probe's value (the one coolingd inserted for
# an approval of this shape; NULL as a NULL literal), so that a column added
# later needs no edit here. A column in which two probes of the same shape
# differ cannot be a constant: the run stops naming it.
declare -gA approval_var=([lender_id]=lender [loan_id]=loan_no [borrower_iin]=iin
	[approved_at]=approved_us [consent_at]=consent_us [cooling_ends_at]=cooling_ends_us
	[actor]=actor [detail]=detail
	# no day's total and no burst (read_coolingd_settings)
	[day_tz]=NULL [day_lender]=NULL [day_total]=NULL [burst_window_s]=NULL [burst_others]=NULL)
loan_insert_vars() {
	local names name vars=() value other
	names=$("$print_sql" --params loan_insert) || die "print_sql cannot name loan_insert's parameters"
	insert_d=()
	for name in $names; do
		if [ -n "${approval_var[$name]:-}" ]; then
			vars+=("${approval_var[$name]}")
			continue
		fi
		jq -e --arg k "$name" 'has($k)' <<<"$probe_params" >/dev/null ||
			die "loan_insert's parameter $name is no column of loan: bench/lib/scripts.sh must say what pgbench sends"
		value=$(jq -c --arg k "$name" '.[$k]' <<<"$probe_params")
		other=$(jq -c --arg k "$name" '.[$k]' <<<"$probe2_params")
		[ "$value" = "$other" ] ||
			die "loan column $name differs between two approvals of one shape ($value, $other): bench/lib/scripts.sh must say where pgbench takes it from"
		if [ "$value" = null ]; then
			vars+=(NULL)
		else
			vars+=("c_$name")
			insert_d+=(-D "c_$name=$(jq -r . <<<"$value")")
		fi
	done
	local IFS=,
	insert_vars="${vars[*]}"
}

# Each pgbench transaction is what one coolingd request runs, statement for
# statement, each its own implicit transaction as in the daemon: STMT_AUTH
# and then the call's statements, or, where the daemon has them (since
# 9d307bd), the combined STMT_AUTH_* statement that authenticates and does
# the first read in one round trip. Parameters that coolingd sends as NULL
# are NULL literals (pgbench variables cannot be NULL): no Idempotency-Key,
# no payee, no burst window, no cross-lender window.
write_pgbench_scripts() {
	read_coolingd_settings
	loan_insert_vars
	# the approval's context: lender, loan, time, zone, borrower, whose loans
	# of the day count, a repeat victim's window, the burst's, whether the
	# day is summed (no: read_coolingd_settings) (db_params_*,
	# lib/db/params.c); the payout's: lender, loan, key, zone, payee kind, id
	local approval_ctx=lender,loan_no,approved_us,tz,iin,$day_lender,prior_victim_days,NULL,day_sum
	local disburse_ctx=lender,loan_no,NULL,tz,NULL,NULL
	# shellcheck disable=SC2054 # the commas are print_sql's, inside one word
	if "$print_sql" --list | grep -q '^auth_loan_get '; then
		sql_mode=combined
		first_writes=("auth_approval_context=$approval_ctx,token_id")
		first_reads=(auth_loan_get=lender,loan_no,token_id)
		first_gate=("auth_disburse_context=$disburse_ctx,token_id@gset")
	else
		sql_mode=separate
		first_writes=(auth=token_id "approval_context=$approval_ctx")
		first_reads=(auth=token_id loan_get=lender,loan_no)
		first_gate=(auth=token_id "disburse_context=$disburse_ctx@gset")
	fi
	put sql_mode "$sql_mode"
	{
		echo '\set seq :seq + 1'
		echo '\set loan_no :id_base + :client_id * 1000000 + :seq'
		echo '\set iin 900101300000 + random(0, :niins - 1)'
		"$print_sql" "${first_writes[@]}" "loan_insert=$insert_vars"
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
		# loan, actor, key, lender, detail, payee kind, payee id, the borrower
		# whose cross-lender window the payout locks (none under kz-card)
		"$print_sql" disburse=id,actor,NULL,lender,empty_detail,NULL,NULL,NULL
		echo '\else'
		"$print_sql" refuse=lender,loan_no,actor,refuse_detail,NULL,id,refusal_body
		echo '\endif'
	} >"$work/gate.sql"

	common_d=(-D token_id="$token_id" -D lender="$lender" -D actor="$client_name" -D tz="$cd_tz")
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
}

# pgbench's approval must insert the row and the event that coolingd's
# does: one transaction of writes.sql (loan id_base + 1), compared with the
# probe's column by column, all but those of each approval (the cooling
# period's length instead of its end; in the event's detail too), the row id
# and its creation time.
check_pgbench_approval() {
	local args differ id_base=9100000000
	mapfile -d '' args < <(writes_d $id_base)
	"$pgbench" -n -M prepared -c 1 -t 1 -h "$work/pg" -p "$pg_port" -U postgres \
		-f "$work/writes.sql" "${args[@]}" coolingd_bench >"$work/check.pgbench" 2>&1 ||
		{
			tail -n 20 "$work/check.pgbench" >&2
			die "pgbench's approval failed"
		}
	differ=$(sql -v lender="$lender" -v a="$probe_id" -v b=$((id_base + 1)) <<'SQL'
WITH x AS (
  SELECT l.loan_id, to_jsonb(l) - ARRAY['id', 'loan_id', 'borrower_iin', 'approved_at',
           'consent_at', 'cooling_ends_at', 'created_at']
         || jsonb_build_object('cooling_s', extract(epoch FROM l.cooling_ends_at - l.consent_at),
              'events', (SELECT jsonb_agg(jsonb_build_object('actor', e.actor, 'type', e.type,
                  'detail', e.detail - ARRAY['approved_at', 'consent_at', 'cooling_ends_at'])
                  ORDER BY e.id) FROM audit_event e
                WHERE e.lender_id = l.lender_id AND e.loan_id = l.loan_id)) AS j
    FROM loan l WHERE l.lender_id = :'lender' AND l.loan_id IN (:'a', :'b')),
a AS (SELECT j FROM x WHERE loan_id = :'a'), b AS (SELECT j FROM x WHERE loan_id = :'b')
SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM b) THEN 'no row inserted'
  ELSE (SELECT string_agg(format('%s: coolingd %s, pgbench %s', k, a.j -> k, b.j -> k), '; ' ORDER BY k)
          FROM a, b, jsonb_object_keys(a.j || b.j) k WHERE a.j -> k IS DISTINCT FROM b.j -> k) END;
SQL
	)
	[ -z "$differ" ] || die "pgbench's approval differs from coolingd's: $differ"
	log "pgbench's approval inserts what coolingd's does (every column but the approval's own)"
}

# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The pgbench scripts: the same SQL as coolingd (generated from db_statements
# by print_sql) and the reference's, with their -D options.
# Sourced, not run.

writes_d() { # id_base -> pgbench -D options for writes.sql, timestamps of now
	local now_us
	now_us=$(date +%s%6N)
	printf '%s\0' "${common_d[@]}" -D seq=0 -D id_base="$1" -D tz="$timezone" -D niins="$iin_n" \
		-D approved_us="$now_us" -D consent_us="$now_us" \
		-D cooling_ends_us="$((now_us + p_period * 1000000))" -D amount_tiyn="$p_amount" \
		-D channel="$p_channel" -D secured="$p_secured" -D first_time="$p_first" \
		-D first_time_given="$p_first_given" -D policy="$p_policy" -D mrp="$p_mrp" \
		-D threshold="$p_threshold" -D cooling_required="$p_cooling" -D period_s="$p_period" \
		-D in_person_required="$p_inperson" -D detail="$p_detail" -D product="$p_product" \
		-D lender_kind="$p_kind" -D rule="$p_rule" -D borrower_age="$p_age" -D false_=false
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

# Each pgbench transaction is what one coolingd request runs, statement for
# statement, each its own implicit transaction as in the daemon: STMT_AUTH
# and then the call's statements, or, where the daemon has them (since
# 9d307bd), the combined STMT_AUTH_* statement that authenticates and does
# the first read in one round trip. Parameters that coolingd sends as NULL
# are NULL literals (pgbench variables cannot be NULL).
write_pgbench_scripts() {
	# shellcheck disable=SC2054 # the commas are print_sql's, inside one word
	if "$print_sql" --list | grep -q '^auth_loan_get '; then
		sql_mode=combined
		first_writes=(auth_approval_context=lender,loan_no,approved_us,tz,iin,lender,token_id)
		first_reads=(auth_loan_get=lender,loan_no,token_id)
		first_gate=(auth_disburse_context=lender,loan_no,NULL,token_id@gset)
	else
		sql_mode=separate
		first_writes=(auth=token_id approval_context=lender,loan_no,approved_us,tz,iin,lender)
		first_reads=(auth=token_id loan_get=lender,loan_no)
		first_gate=(auth=token_id disburse_context=lender,loan_no,NULL@gset)
	fi
	put sql_mode "$sql_mode"
	# the loan's columns in the order of LOAN_COLUMNS (lib/db/internal.h), with
	# the probe's values (exemption NULL, the day's amount the loan's own, no
	# extra confirmation or reconfirmation, as kz-card fixes them), then the
	# actor and the detail; no day's sum (kz-card adds none up)
	approval_vars="lender,loan_no,iin,amount_tiyn,channel,secured,first_time,first_time_given,policy,mrp,threshold,cooling_required,period_s,in_person_required,approved_us,consent_us,cooling_ends_us,NULL,product,lender_kind,NULL,amount_tiyn,rule,borrower_age,false_,false_,actor,detail,NULL,NULL,NULL"
	{
		echo '\set seq :seq + 1'
		echo '\set loan_no :id_base + :client_id * 1000000 + :seq'
		echo '\set iin 900101300000 + random(0, :niins - 1)'
		"$print_sql" "${first_writes[@]}" "loan_insert=$approval_vars"
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
		"$print_sql" disburse=id,actor,NULL,lender,empty_detail
		echo '\else'
		"$print_sql" refuse=lender,loan_no,actor,refuse_detail,NULL,id,refusal_body
		echo '\endif'
	} >"$work/gate.sql"

	common_d=(-D token_id="$token_id" -D lender="$lender" -D actor="$client_name")
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

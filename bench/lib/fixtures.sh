# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The loans that reads and the gate use, the probe approval whose stored row
# gives pgbench its parameters, and the gate's pools of eligible loans.
# Sourced, not run.

now_rfc3339() { date -u +%Y-%m-%dT%H:%M:%S+00:00; }
approval_body() { # loan_id iin kind(eligible|cooling) ts
	if [ "$3" = eligible ]; then
		printf '{"loan_id":"%s","borrower_iin":"%s","amount":"100.00","currency":"KZT","channel":"online","secured":true,"first_time_borrower":false,"approved_at":"%s","consent_at":"%s"}' "$1" "$2" "$4" "$4"
	else
		printf '{"loan_id":"%s","borrower_iin":"%s","amount":"700000.00","currency":"KZT","channel":"online","secured":false,"first_time_borrower":false,"approved_at":"%s","consent_at":"%s"}' "$1" "$2" "$4" "$4"
	fi
}

# The 2,000 loans (read_n) through the API: odd ids eligible, even ids cooling.
create_fixtures() {
	log "creating $read_n loans through the API (odd ids eligible, even ids cooling)"
	ts=$(now_rfc3339)
	serial=0
	{
		for ((n = 1; n <= read_n; n++)); do
			while :; do
				serial=$((serial + 1))
				iin=$(iin_for "$(printf '8501013%04d' "$serial")") && break
			done
			kind=cooling
			[ $((n % 2)) -eq 1 ] && kind=eligible
			body=$(approval_body "$((read_base + n))" "$iin" "$kind" "$ts")
			printf 'url = "%s/v1/lenders/%s/loans"\n' "$url" "$lender"
			printf 'header = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\n' "$token"
			printf 'data = "%s"\n' "${body//\"/\\\"}"
			printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
			[ $n -eq $read_n ] || printf 'next\n'
		done
	} >"$work/create.curl"
	created=$(curl -sS -K "$work/create.curl" | grep -c '^201$' || true)
	[ "$created" -eq "$read_n" ] || die "created $created of $read_n loans"
	statuses=$(sql -F' ' -c "SELECT
	  (SELECT count(*) FROM loan WHERE loan_id::bigint % 2 = 1 AND consent_at IS NOT NULL AND NOT cooling_required
	     AND NOT in_person_required AND lender_id = '$lender' AND loan_id::bigint BETWEEN $((read_base + 1)) AND $((read_base + read_n))),
	  (SELECT count(*) FROM loan WHERE loan_id::bigint % 2 = 0 AND cooling_required AND cooling_ends_at > now() + interval '10 minutes'
	     AND lender_id = '$lender' AND loan_id::bigint BETWEEN $((read_base + 1)) AND $((read_base + read_n)))")
	[ "$statuses" = "$((read_n / 2)) $((read_n / 2))" ] || die "fixture loans are not as expected: $statuses"
}

# The columns of a stored loan as loan_insert's parameters carry them (a
# timestamptz as microseconds), a JSON object of strings and nulls.
loan_params_json() { # loan_id
	sql -v lender="$lender" -v id="$1" <<'SQL'
SELECT jsonb_object_agg(c.column_name, CASE WHEN c.data_type = 'timestamp with time zone'
         THEN to_jsonb(cd_us((p.j ->> c.column_name)::timestamptz)::text)
         ELSE to_jsonb(p.j ->> c.column_name) END)
  FROM (SELECT to_jsonb(l) AS j FROM loan l WHERE l.lender_id = :'lender' AND l.loan_id = :'id') p
  JOIN information_schema.columns c ON c.table_schema = current_schema() AND c.table_name = 'loan';
SQL
}

# Probe approvals of the shape approvals.lua sends, of two borrowers: their
# stored rows give the values that coolingd computes for such a loan, for
# pgbench's parameters (the second shows which of them are the same for
# every approval of the shape).
probe_approval() {
	probe_id=9000000001
	local id iin code
	for id in $probe_id $((probe_id + 1)); do
		iin=900101300126
		[ "$id" = $probe_id ] || iin=$(iin_for 90010130013 || iin_for 90010130014)
		code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/json' "$url/v1/lenders/$lender/loans" \
			--data "$(approval_body "$id" "$iin" cooling "$(now_rfc3339)")")
		[ "$code" = 201 ] || die "probe approval $id answered $code"
	done
	probe_params=$(loan_params_json $probe_id)
	probe2_params=$(loan_params_json $((probe_id + 1)))
	IFS='|' read -r p_amount p_channel p_secured p_first p_first_given p_policy p_mrp p_threshold \
		p_cooling p_period p_inperson p_product p_kind p_rule p_age < <(sql -F'|' -c "SELECT amount_tiyn, channel,
		  CASE WHEN secured THEN 'true' ELSE 'false' END, CASE WHEN first_time_borrower THEN 'true' ELSE 'false' END,
		  CASE WHEN first_time_given THEN 'true' ELSE 'false' END, policy, mrp_tenge, threshold_tiyn,
		  CASE WHEN cooling_required THEN 'true' ELSE 'false' END, cooling_period_s,
		  CASE WHEN in_person_required THEN 'true' ELSE 'false' END, product, lender_kind,
		  coalesce(rule, 'card'), borrower_age
		  FROM loan WHERE lender_id = '$lender' AND loan_id = '$probe_id'")
	p_detail=$(sql -c "SELECT detail::text FROM audit_event WHERE loan_id = '$probe_id' AND type = 'approval_recorded'" | jq -c .)
	# A refusal of a cooling loan, as coolingd sends it (and passes it to
	# STMT_REFUSE as the stored answer).
	refusal_body=$(curl -sS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		--data '{}' "$url/v1/lenders/$lender/loans/$((read_base + 2))/disbursement" | jq -c .)
	[ "$(jq -r .decision <<<"$refusal_body")" = refused ] || die "expected a refusal, got: $refusal_body"
	refuse_detail=$(jq -c '{blockers: .blockers}' <<<"$refusal_body")
}

# The gate's pools of eligible loans, each asked about once: copies of an
# eligible fixture loan, made in SQL (they only need to exist).
make_pool() { # base n
	sql -v base="$1" -v n="$2" -v lender="$lender" -v tpl="$((read_base + 1))" <<'SQL'
INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, secured,
    first_time_borrower, first_time_given, policy, mrp_tenge, threshold_tiyn, cooling_required,
    cooling_period_s, in_person_required, approved_at, consent_at, cooling_ends_at,
    in_person_verified_at)
SELECT t.lender_id, (:base + g)::text, (800000000000 + (:base / 100000000) * 1000000 + g)::text, t.amount_tiyn,
    t.channel, t.secured, t.first_time_borrower, t.first_time_given, t.policy, t.mrp_tenge,
    t.threshold_tiyn, t.cooling_required, t.cooling_period_s, t.in_person_required, t.approved_at,
    t.consent_at, t.cooling_ends_at, t.in_person_verified_at
  FROM loan t, generate_series(1, :n) g
 WHERE t.lender_id = :'lender' AND t.loan_id = :'tpl';
SQL
}

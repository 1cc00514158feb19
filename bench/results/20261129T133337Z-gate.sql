\set seq :seq + 1
\if :seq % 2 = 1
\set loan_no :pool_base + 1 + ((:client_id + :nclients * (:seq / 2)) % :pool_n)
\else
\set loan_no 1000000 + 2 * random(1, 1000)
\endif
SELECT name, role, lender_id, token_hash FROM api_client WHERE token_id = :token_id::text AND revoked_at IS NULL;
SELECT l.lender_id, l.loan_id, l.borrower_iin, l.amount_tiyn, l.channel, l.secured, l.first_time_borrower, l.first_time_given, l.policy, l.mrp_tenge, l.threshold_tiyn, l.cooling_required, l.cooling_period_s, l.in_person_required, cd_us(l.approved_at), cd_us(l.consent_at), cd_us(l.cooling_ends_at), cd_us(l.in_person_verified_at), l.in_person_branch_id, l.in_person_officer_id, cd_us(l.disbursed_at), cd_us(l.cancelled_at), l.cancel_reason, l.id, cd_us(now()), i.loan_pk, i.status, i.body FROM loan l LEFT JOIN disbursement_idempotency i ON i.lender_id = :lender::text AND i.key = NULL::text WHERE l.lender_id = :lender::text AND l.loan_id = :loan_no::text \gset
\if :seq % 2 = 1
WITH u AS (UPDATE loan SET disbursed_at = now() WHERE id = :id::bigint AND cancelled_at IS NULL AND disbursed_at IS NULL AND consent_at IS NOT NULL AND (NOT cooling_required OR cooling_ends_at <= now()) AND (NOT in_person_required OR in_person_verified_at IS NOT NULL)  RETURNING *), a AS (INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) SELECT :actor::text, lender_id, loan_id, 'disbursement_allowed',   :empty_detail::jsonb FROM u), k AS (INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body)   SELECT :lender::text, NULL::text, id, 200, NULL FROM u WHERE NULL::text IS NOT NULL) SELECT l.lender_id, l.loan_id, l.borrower_iin, l.amount_tiyn, l.channel, l.secured, l.first_time_borrower, l.first_time_given, l.policy, l.mrp_tenge, l.threshold_tiyn, l.cooling_required, l.cooling_period_s, l.in_person_required, cd_us(l.approved_at), cd_us(l.consent_at), cd_us(l.cooling_ends_at), cd_us(l.in_person_verified_at), l.in_person_branch_id, l.in_person_officer_id, cd_us(l.disbursed_at), cd_us(l.cancelled_at), l.cancel_reason, l.id, cd_us(now()) FROM u l;
\else
WITH a AS (INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) VALUES (:actor::text, :lender::text, :loan_no::text,   'disbursement_refused', :refuse_detail::jsonb) RETURNING id), k AS (INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body)   SELECT :lender::text, NULL::text, :id::bigint, 409, :refusal_body::text WHERE NULL::text IS NOT NULL) SELECT id FROM a;
\endif

/*
 * Every statement of the daemon's pool, db_statements[], in one table, and
 * beside each write that the pool batches its batch form (DB_BATCHED in
 * db.h). The columns each statement returns are internal.h's (the
 * decoders in decode.c read them by those names); the statements of
 * coolingctl alone are in sync.c.
 *
 * The daemon's acts follow one pattern: read the loan and the database's
 * "now" (one statement), decide in C (lib/loan.c), then write with a guard
 * in the WHERE clause that re-checks the state the decision relied on,
 * together with the audit event, in one statement. When the guard no longer
 * holds (a concurrent act won), the caller reads again and decides again.
 * Row locks serialise concurrent writers of one loan, so a guarded UPDATE
 * that waited sees the winner's row and matches nothing: exactly one
 * disbursement.
 *
 * The SQL is laid out by hand, one clause or a few columns a line; the
 * "  " inside a string indents the SQL text itself.
 */
#include "internal.h"

/* clang-format off */

/* ---- guards: the SQL twins of lib/loan.c's decisions ---- */

/* The voluntary refusal in the payout's guard: cd_refusal_gate() shares
 * the IIN's advisory lock with refusal changes and reads the state with a
 * snapshot of its own, so that a refusal committed before the payout is
 * never missed, however close (sql/007_voluntary_refusals.sql,
 * docs/refusals.md). */
#define REFUSAL_GUARD "AND NOT cd_refusal_gate(borrower_iin)"
/* An open fraud claim of the borrower, under the same lock as the refusal
 * (cd_claim_gate, sql/017_fraud_claims.sql). */
#define CLAIM_GUARD "AND NOT cd_claim_gate(borrower_iin)"

/* The payee in the payout's guard ($6 kind, $7 id; NULL: none), under the
 * same discipline as the refusal: cd_payee_gate() shares the payee's lock
 * with the registry's changes (sql/016_suspicious_payees.sql). The twin of
 * loan_disburse_decide()'s payee_flagged. */
#define PAYEE_GUARD "AND NOT cd_payee_gate($6::text, $7::text)"

/* Another lender's payout within the loan's cross-lender window, for a
 * loan that has one: cd_cross_lender_gate() holds the borrower's lock
 * exclusively and reads with a snapshot of its own, so that of two payouts
 * racing at two lenders the second sees the first (sql/025). */
#define CROSS_LENDER_GUARD                                                                         \
	"AND (cross_lender_window_s IS NULL "                                                      \
	"  OR NOT cd_cross_lender_gate(borrower_iin, lender_id, cross_lender_window_s))"
/* The borrowers' cross-lender locks of payouts ($8: the borrower of a loan
 * that a window holds, else NULL), before any other lock: an uncorrelated
 * subquery, run once before any row is read. */
#define CROSS_LENDER_LOCK(iins) "(SELECT cd_cross_lender_lock(" iins "))"

/* The disbursement guard: the SQL twin of loan_evaluate() returning no
 * blocker. tests/integration/test_gate_agreement.c keeps them in step. */
#define GUARD                                                                                      \
	"cancelled_at IS NULL AND disbursed_at IS NULL AND consent_at IS NOT NULL "                \
	"AND (NOT cooling_required OR cooling_ends_at <= now()) "                                  \
	"AND (NOT in_person_required OR in_person_verified_at IS NOT NULL) "                       \
	"AND (NOT extra_confirmation_required OR extra_confirmed_at IS NOT NULL) "                 \
	"AND (NOT reconfirmation_required OR reconfirmed_at IS NOT NULL) "                         \
	"AND (NOT control_call_required OR control_called_at IS NOT NULL) " REFUSAL_GUARD          \
	" " CLAIM_GUARD " " CROSS_LENDER_GUARD

/* The guards of the other acts: the SQL twins of loan_consent_decide(),
 * loan_verify_decide() and loan_cancel_decide() choosing to write, checked
 * against them by test_gate_agreement.c in the same way. */
#define CONSENT_GUARD "consent_at IS NULL AND cancelled_at IS NULL AND disbursed_at IS NULL"
#define VERIFY_GUARD                                                                               \
	"in_person_verified_at IS NULL AND cancelled_at IS NULL AND disbursed_at IS NULL"
#define CANCEL_GUARD "cancelled_at IS NULL AND disbursed_at IS NULL"
/* ... of loan_reconfirm_decide() (the time, $2, not before the period's
 * end) and loan_extra_confirm_decide(). */
#define RECONFIRM_GUARD                                                                            \
	"reconfirmed_at IS NULL AND cancelled_at IS NULL AND disbursed_at IS NULL "                \
	"AND reconfirmation_required AND consent_at IS NOT NULL AND cooling_ends_at <= now() "     \
	"AND cooling_ends_at <= cd_ts($2::bigint)"
/* The trusted person's confirmation, as loan_trusted_person_decide()
 * allows it: $5 is the loan's profile when its table knows the act, else
 * NULL (policy_takes_trusted_person()). */
#define TRUSTED_PERSON_GUARD                                                                       \
	"trusted_person_confirmed_at IS NULL AND cancelled_at IS NULL AND disbursed_at IS NULL "   \
	"AND policy = $5::text"
/* The control call, as loan_control_call_decide() allows it: at any time
 * before the payout, for a loan whose band asks for it. */
#define CONTROL_CALL_GUARD                                                                         \
	"control_called_at IS NULL AND cancelled_at IS NULL AND disbursed_at IS NULL "             \
	"AND control_call_required"
#define EXTRA_CONFIRM_GUARD                                                                        \
	"extra_confirmed_at IS NULL AND cancelled_at IS NULL AND disbursed_at IS NULL "            \
	"AND extra_confirmation_required"

/* ---- the first reads and their twins ---- */

/* The STMT_AUTH_* twin of a first read: the read as it is, beside the
 * token's client. The read yields at most one row (a first read is by
 * primary key, or one row by construction); without a client there is no
 * row at all. */
#define AUTH_TWIN(read_sql, token_param)                                                           \
	"WITH " AUTH_CTE(token_param) ", q AS (" read_sql ") "                                     \
	"SELECT " AUTH_COLS ", q.* FROM a LEFT JOIN q ON true"

/* Today's local date in the zone tz, in days since 1970-01-01. */
#define LOCAL_TODAY(tz) "((now() AT TIME ZONE " tz "::text)::date - DATE '1970-01-01') "

/* The borrower's loans of the local date of `at` that the day's amount adds
 * up (sql/006 cd_day_loans, which the insert runs under the day's lock, has
 * the same WHERE): one range of loan_day_idx, read index-only, without the
 * list of loans that the approval's audit event keeps. */
#define DAY_LOANS_OF(iin, at, tz, lender)                                                          \
	"WHERE d.borrower_iin = " iin "::text "                                                    \
	"AND d.approved_at >= ((((" at ") AT TIME ZONE " tz "::text)::date)::timestamp "           \
	"  AT TIME ZONE " tz "::text) "                                                            \
	"AND d.approved_at < (((((" at ") AT TIME ZONE " tz "::text)::date) + 1)::timestamp "      \
	"  AT TIME ZONE " tz "::text) "                                                            \
	"AND d.channel = 'online' AND d.exemption IS NULL AND d.cancelled_at IS NULL "             \
	"AND (" lender "::text IS NULL OR d.lender_id = " lender "::text)"

#define LOAN_BY_ID   "l.lender_id = $1::text AND l.loan_id = $2::text "
#define LOAN_GET_SQL "SELECT " LOAN_COLS_NOW " FROM loan l WHERE " LOAN_BY_ID
/* The approval's time ($3, or now); the loan if it exists; the MRP in
 * force on the approval's local date, whether the borrower has had an
 * unsecured loan paid out (one lookup in loan_first_time_idx), the
 * approval's time, and today's local date (for the IIN's birth date), the
 * lender's kind, the day and its other loans (summed while $9: no
 * profile of the schedule adds a day up, and a borrower of many loans a
 * day costs a probe of each), and whether a fraud claim of
 * the borrower was closed confirmed within $7 days (0: never; one probe of
 * fraud_claim_confirmed_idx), and the other lenders of the borrower's burst
 * in a window of $8 seconds (NULL: off): enum approval_col after the loan's
 * columns and now. */
#define APPROVAL_CONTEXT_SQL                                                                       \
	"WITH t AS (SELECT cd_ts(coalesce($3::bigint, cd_us(now()))) AS at) "                      \
	"SELECT " LOAN_COLS_NOW ", "                                                               \
	"(SELECT m.tenge FROM mrp m WHERE m.valid_from <= (t.at AT TIME ZONE $4::text)::date "     \
	"  ORDER BY m.valid_from DESC LIMIT 1), "                                                  \
	"NOT EXISTS (SELECT 1 FROM loan d WHERE d.borrower_iin = $5::text "                        \
	"  AND d.disbursed_at IS NOT NULL AND NOT d.secured), "                                    \
	"cd_us(t.at), "                                                                            \
	LOCAL_TODAY("$4") ", "                                                                     \
	"(SELECT k.kind FROM lender k WHERE k.id = $1::text), "                                    \
	"((t.at AT TIME ZONE $4::text)::date - DATE '1970-01-01'), "                               \
	"(SELECT coalesce(sum(d.amount_tiyn), 0)::bigint FROM loan d "                             \
	DAY_LOANS_OF("$5", "t.at", "$4", "$6") " AND $9::boolean), "                               \
	"EXISTS (SELECT 1 FROM fraud_claim c WHERE c.borrower_iin = $5::text "                     \
	"  AND c.outcome = 'confirmed' AND $7::integer > 0 "                                       \
	"  AND c.closed_at > t.at - make_interval(days => $7::integer)), "                         \
	"CASE WHEN $8::bigint IS NULL THEN NULL "                                                  \
	"  ELSE cd_burst_others($5::text, t.at, $8::bigint, $1::text, false) END "                 \
	"FROM t LEFT JOIN loan l ON " LOAN_BY_ID
/* The loan, the Idempotency-Key's stored answer, today's local date in the
 * zone $4 (that a payee's owner must be born by) and whether the payee ($5
 * kind, $6 id; NULL: none) is flagged now: enum disburse_col after the
 * loan's columns and now. Every column has a name, so that the benchmark's
 * pgbench can store the row (\gset takes the names as variables). */
#define DISBURSE_CONTEXT_SQL                                                                       \
	"SELECT " LOAN_COLS_NOW ", i.loan_pk, i.status, i.body, " LOCAL_TODAY("$4") "AS today, "   \
	"(SELECT s.active FROM cd_payee_state_at($5::text, $6::text, now()) s) AS payee_flagged "  \
	"FROM loan l "                                                                             \
	"LEFT JOIN disbursement_idempotency i ON i.lender_id = $1::text AND i.key = $3::text "     \
	"WHERE " LOAN_BY_ID

#define LOAN_GET_NAME         "loan_get"
#define APPROVAL_CONTEXT_NAME "approval_context"
#define DISBURSE_CONTEXT_NAME "disburse_context"

#define AUTH_TWIN_DEF(name, n, token)                                                              \
	[STMT_AUTH_##name] = {"auth_" name##_NAME, AUTH_TWIN(name##_SQL, #token), token},
#define AUTH_TWIN_CHECK(name, n, token)                                                            \
	_Static_assert(token == n + 1, "the token_id follows the parameters of " #name);
DB_FIRST_READS(AUTH_TWIN_CHECK)

/* ---- the writes that the pool batches, each beside its batch form ----
 *
 * A batch form (DB_BATCHED in db.h) begins with the batch's requests, cdb
 * (batch.c writes it): the arguments' arrays side by side, one row per
 * request, the single statement's parameter n as column pn, the request's
 * number as i; the rows past the number of requests (the pool fills short
 * arrays up to DB_BATCH_PAD) are left out. The rest, below, is written
 * with "$n" for the request's parameter n, as the single statement is, and
 * db_batch_params() makes each "cdb.pn" (batch.c, once at load). A read's
 * form is made from the read itself (batch.c).
 *
 * A write's form is one statement for all its requests, so one commit; its
 * locks are taken first, all of them and in one order (sql/011), by a
 * function that the statement's first scan waits for (an uncorrelated
 * subquery, so an InitPlan run once before any row is read); then each
 * request's row is written as the single write writes it, with the same
 * guard, and inserts of unique keys go in the keys' order.
 */

/* STMT_LOAN_INSERT's parameters after the loan's columns. */
#define P_ACTOR      "$" DB_STR(LOAN_INSERT_ACTOR)
#define P_DETAIL     "$" DB_STR(LOAN_INSERT_DETAIL)
#define P_DAY_TZ     "$" DB_STR(LOAN_INSERT_DAY_TZ)
#define P_DAY_LENDER "$" DB_STR(LOAN_INSERT_DAY_LENDER)
#define P_DAY_TOTAL  "$" DB_STR(LOAN_INSERT_DAY_TOTAL)
#define P_BURST_WIN  "$" DB_STR(LOAN_INSERT_BURST_WINDOW)
#define P_BURST_N    "$" DB_STR(LOAN_INSERT_BURST_OTHERS)

/* The approval_recorded event's detail, over the inserted row (ins) and
 * the day (d): the request's, the end of the cooling period as the row
 * holds it (a calendar's is the database's), and the day's loans with this
 * one when the profile adds them up. */
#define APPROVAL_EVENT_DETAIL                                                                      \
	P_DETAIL "::jsonb "                                                                        \
	"  || jsonb_build_object('cooling_ends_at', cd_utc_text(ins.cooling_ends_at)) "            \
	"  || CASE WHEN d.j IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('day_loans', "        \
	"  (d.j->'loans') || jsonb_build_array(jsonb_build_object('lender', ins.lender_id, "       \
	"  'loan_id', ins.loan_id, 'amount', (ins.amount_tiyn / 100)::text || '.' "                \
	"  || lpad((ins.amount_tiyn % 100)::text, 2, '0')))) END "

/* The other lenders of the borrower's burst (cd_burst_others, sql/019)
 * when policy.burst_lenders is on: under the borrower's burst lock, or
 * (a batch's, which took the locks first) without it. */
#define BURST_OF(take_lock)                                                                        \
	"CASE WHEN " P_BURST_WIN "::bigint IS NULL THEN NULL "                                     \
	"  ELSE cd_burst_others($3::text, cd_ts($15::bigint), " P_BURST_WIN "::bigint, "           \
	"  $1::text, " take_lock ") END"
/* The approval is still what it was decided as: the day's total and the
 * burst's other lenders as the decision took them. */
#define AS_DECIDED                                                                                 \
	"(" P_DAY_TOTAL "::bigint IS NULL OR (d.j->>'total')::bigint = " P_DAY_TOTAL "::bigint) "  \
	"AND (" P_BURST_WIN "::bigint IS NULL OR b.n = " P_BURST_N "::bigint) "

/* An approval: the burst's other lenders under the borrower's burst lock
 * (sql/019) when bursts count, then the day's loans under the day's lock
 * (cd_day_loans(..., true), sql/006) when the profile adds them up; the
 * loan inserted when both are still what the decision took, its audit
 * event, its row. */
#define LOAN_INSERT_SQL                                                                            \
	"WITH b AS (SELECT " BURST_OF("true") " AS n), "                                           \
	"d AS (SELECT CASE WHEN " P_DAY_TZ "::text IS NULL THEN NULL "                             \
	"  ELSE cd_day_loans($3::text, cd_ts($15::bigint), " P_DAY_TZ "::text, "                   \
	"  " P_DAY_LENDER "::text, true) END AS j FROM b), "                                       \
	"ins AS (INSERT INTO loan (" LOAN_COLUMNS(LOAN_INS_COL) "created_at) "                     \
	"  SELECT " LOAN_COLUMNS(LOAN_INS_VAL) "now() FROM d, b WHERE " AS_DECIDED                 \
	"  ON CONFLICT (lender_id, loan_id) DO NOTHING RETURNING *), "                             \
	"a AS (" AUDIT_INSERT "SELECT " P_ACTOR "::text, ins.lender_id, "                          \
	"  ins.loan_id, 'approval_recorded', " APPROVAL_EVENT_DETAIL "FROM ins, d) "               \
	"SELECT " LOAN_COLS_NOW ", (d.j->>'total')::bigint, b.n FROM d CROSS JOIN b "              \
	"LEFT JOIN ins l ON true"
/* Approvals: the burst locks and the day locks of every borrower of the
 * batch (no two approvals of one borrower share a batch,
 * db_batch_conflict), in a single approval's order (cd_approval_locks,
 * sql/019), then each one's burst and day read without them, its loan
 * inserted when both are still what it was decided with, its audit event,
 * its row. */
#define BATCH_WRITE_LOAN_INSERT                                                                    \
	", d AS (SELECT cdb.i, CASE WHEN " P_DAY_TZ "::text IS NULL THEN NULL "                    \
	"  ELSE cd_day_loans($3::text, cd_ts($15::bigint), " P_DAY_TZ "::text, "                   \
	"  " P_DAY_LENDER "::text, false) END AS j, " BURST_OF("false") " AS n FROM cdb "          \
	"  WHERE (SELECT cd_approval_locks(array_agg(CASE WHEN " P_BURST_WIN "::bigint IS NULL "    \
	"  THEN NULL ELSE $3::text END), array_agg(cd_day_key($3::text, cd_ts($15::bigint), "      \
	"  " P_DAY_TZ "::text))) FROM cdb)), "                                                     \
	"ins AS (INSERT INTO loan (" LOAN_COLUMNS(LOAN_INS_COL) "created_at) "                     \
	"  SELECT " LOAN_COLUMNS(LOAN_INS_VAL) "now() FROM cdb JOIN d ON d.i = cdb.i "             \
	"  JOIN d b ON b.i = cdb.i WHERE " AS_DECIDED                                              \
	"  ORDER BY $1::text, $2::text "                                                           \
	"  ON CONFLICT (lender_id, loan_id) DO NOTHING RETURNING *), "                             \
	"a AS (" AUDIT_INSERT "SELECT " P_ACTOR "::text, ins.lender_id, "                          \
	"  ins.loan_id, 'approval_recorded', " APPROVAL_EVENT_DETAIL                               \
	"  FROM ins JOIN cdb ON ins.lender_id = $1::text AND ins.loan_id = $2::text "              \
	"  JOIN d ON d.i = cdb.i ORDER BY cdb.i) "                                                 \
	"SELECT " LOAN_COLS_NOW ", (d.j->>'total')::bigint, d.n, cdb.i "                           \
	"FROM cdb JOIN d ON d.i = cdb.i "                                                          \
	"LEFT JOIN ins l ON l.lender_id = $1::text AND l.loan_id = $2::text"

/* A payout: the guarded update (the loan's guard, then its payee's), its
 * audit event and, with a key, its stored answer. */
#define DISBURSE_SQL                                                                               \
	"WITH u AS (UPDATE loan SET disbursed_at = now() "                                         \
	"  WHERE ($8::text IS NULL OR " CROSS_LENDER_LOCK("ARRAY[$8::text]") ") "                  \
	"  AND id = $1::bigint AND " GUARD " " PAYEE_GUARD " RETURNING *), "                       \
	"a AS (" AUDIT_INSERT "SELECT $2::text, lender_id, loan_id, 'disbursement_allowed', "      \
	"  $5::jsonb FROM u), "                                                                    \
	"k AS (INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body) "      \
	"  SELECT $4::text, $3::text, id, 200, NULL FROM u WHERE $3::text IS NOT NULL) "           \
	"SELECT " LOAN_COLS_NOW " FROM u l"
/* Payouts: the borrowers' cross-lender locks, the payees' buckets, the
 * refusal buckets and the rows of every loan of the batch (no loan twice,
 * no windowed borrower twice: db_batch_conflict), then STMT_DISBURSE's
 * update, guards, audit event and stored answer for each. */
#define BATCH_WRITE_DISBURSE                                                                       \
	", u AS (UPDATE loan SET disbursed_at = now() FROM cdb "                                   \
	"  WHERE " CROSS_LENDER_LOCK("(SELECT array_agg($8::text) FROM cdb)") " "                  \
	"  AND (SELECT cd_payee_gate_lock(array_agg($6::text), array_agg($7::text)) FROM cdb) "    \
	"  AND (SELECT cd_gate_lock(array_agg($1::bigint)) FROM cdb) AND loan.id = $1::bigint "    \
	"  AND " GUARD " " PAYEE_GUARD " RETURNING loan.*, cdb.i AS cdb_i, $2::text AS cdb_actor, " \
	"  $3::text AS cdb_key, $4::text AS cdb_lender, $5::jsonb AS cdb_detail), "                \
	"a AS (" AUDIT_INSERT "SELECT cdb_actor, lender_id, loan_id, 'disbursement_allowed', "     \
	"  cdb_detail FROM u ORDER BY cdb_i), "                                                    \
	"k AS (INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body) "      \
	"  SELECT cdb_lender, cdb_key, id, 200, NULL FROM u WHERE cdb_key IS NOT NULL "            \
	"  ORDER BY cdb_lender, cdb_key) "                                                         \
	"SELECT " LOAN_COLS_NOW ", l.cdb_i FROM u l"

/* A refusal: its audit event and, with a key, its stored answer. */
#define REFUSE_SQL                                                                                 \
	"WITH a AS (" AUDIT_INSERT "VALUES ($3::text, $1::text, $2::text, "                        \
	"  'disbursement_refused', $4::jsonb) RETURNING id), "                                     \
	"k AS (INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body) "      \
	"  SELECT $1::text, $5::text, $6::bigint, 409, $7::text WHERE $5::text IS NOT NULL) "      \
	"SELECT id FROM a"
/* Refusals: STMT_REFUSE's audit event and stored answer for each; the
 * events' ids are drawn first, so that each request gets its own. */
#define BATCH_WRITE_REFUSE                                                                         \
	", e AS (SELECT cdb.*, nextval('audit_event_seq_seq') AS eid FROM cdb), "                  \
	"a AS (INSERT INTO audit_event (id, actor, lender_id, loan_id, type, detail) "             \
	"  SELECT cdb.eid, $3::text, $1::text, $2::text, 'disbursement_refused', $4::jsonb "       \
	"  FROM e cdb ORDER BY cdb.i), "                                                           \
	"k AS (INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body) "      \
	"  SELECT $1::text, $5::text, $6::bigint, 409, $7::text FROM cdb "                         \
	"  WHERE $5::text IS NOT NULL ORDER BY $1::text, $5::text) "                               \
	"SELECT e.eid AS id, e.i FROM e"

const char *const db_batch_write_sql[STMT__COUNT] = {
#define BATCH_WRITE_DEF(name, n) [STMT_##name] = BATCH_WRITE_##name,
	DB_BATCHED_WRITES(BATCH_WRITE_DEF)
#undef BATCH_WRITE_DEF
};

/* ---- lists ---- */

/* The status of a loan at now(): the SQL twin of loan_evaluate()'s status,
 * for filtering lists; test_gate_agreement.c keeps the two in step. */
#define STATUS_EXPR                                                                                \
	"(CASE WHEN l.cancelled_at IS NOT NULL THEN 'cancelled' "                                  \
	"WHEN l.disbursed_at IS NOT NULL THEN 'disbursed' "                                        \
	"WHEN " REFUSAL_ACTIVE_NOW " THEN 'blocked_by_refusal' "                                   \
	"WHEN " CLAIM_OPEN " THEN 'blocked_by_fraud_claim' "                                       \
	"WHEN l.consent_at IS NULL THEN 'awaiting_consent' "                                       \
	"WHEN l.extra_confirmation_required AND l.extra_confirmed_at IS NULL "                     \
	"THEN 'awaiting_extra_confirmation' "                                                      \
	"WHEN l.cooling_required AND now() < l.cooling_ends_at THEN 'cooling' "                    \
	"WHEN l.control_call_required AND l.control_called_at IS NULL "                            \
	"THEN 'awaiting_control_call' "                                                            \
	"WHEN l.cross_lender_window_s IS NOT NULL AND now() < cd_cross_lender_last(l.borrower_iin, " \
	"  l.lender_id) + l.cross_lender_window_s * interval '1 second' "                          \
	"THEN 'blocked_by_other_loan' "                                                            \
	"WHEN l.reconfirmation_required AND l.reconfirmed_at IS NULL "                             \
	"THEN 'awaiting_reconfirmation' "                                                          \
	"WHEN l.in_person_required AND l.in_person_verified_at IS NULL "                           \
	"THEN 'awaiting_in_person' ELSE 'eligible' END)"

/* Which of three states a loan is in: cancelled 2, disbursed 1, open 0
 * (any status of a loan under way). Unlike the status it does not depend on
 * now(), so it is indexed (loan_state_approved_idx,
 * loan_lender_state_approved_idx, migration 009): the expression must stay
 * the index's. */
#define STATE_EXPR                                                                                 \
	"(CASE WHEN l.cancelled_at IS NOT NULL THEN 2 WHEN l.disbursed_at IS NOT NULL THEN 1 "     \
	"ELSE 0 END)"
/* The state a status implies; a constant in a custom plan, so that the
 * filter on the status becomes a range of the state's index. */
#define STATE_OF_STATUS(p) "(CASE " p " WHEN 'cancelled' THEN 2 WHEN 'disbursed' THEN 1 ELSE 0 END)"

#define LOANS_LIST_WHERE                                                                           \
	"($1::bigint IS NULL OR l.approved_at >= cd_ts($1::bigint)) "                              \
	"AND ($2::bigint IS NULL OR l.approved_at < cd_ts($2::bigint)) "                           \
	"AND ($3::bigint IS NULL OR (l.approved_at, l.id) < (cd_ts($3::bigint), $4::bigint)) "     \
	"AND ($5::text IS NULL OR (" STATE_EXPR " = " STATE_OF_STATUS("$5::text") " "              \
	"AND " STATUS_EXPR " = $5::text)) "

/* ---- the voluntary refusal registry ---- */

#define REFUSAL_GET_SQL                                                                            \
	"SELECT " REFUSAL_COLS LOCAL_TODAY("$2") "FROM (SELECT 1) AS one "                         \
	"LEFT JOIN LATERAL (SELECT " REFUSAL_ROW_COLS ", false AS is_new FROM voluntary_refusal "  \
	"  WHERE iin = $1::text) c ON true ORDER BY c.effective_at, c.seq"
/* The lock first (cd_refusal_lock: the IIN's bucket, exclusively, so
 * that a payout of this borrower either committed before or sees this
 * change), then the insert unless the same change is known, its event, and
 * the IIN's changes with the new one. */
#define REFUSAL_PUT_SQL                                                                            \
	"WITH lk AS (SELECT cd_refusal_lock($1::text) AS locked), "                                \
	"ins AS (INSERT INTO voluntary_refusal (iin, active, effective_at, source, reference) "    \
	"  SELECT $1::text, $2::boolean, cd_ts($3::bigint), $4::text, $5::text FROM lk "           \
	"  WHERE lk.locked ON CONFLICT (iin, active, effective_at, source) DO NOTHING "            \
	"  RETURNING *), "                                                                         \
	"a AS (" REFUSAL_AUDIT("$6") "), "                                                         \
	"c AS (SELECT " REFUSAL_ROW_COLS ", false AS is_new FROM voluntary_refusal "               \
	"  WHERE iin = $1::text UNION ALL SELECT " REFUSAL_ROW_COLS ", true FROM ins) "            \
	"SELECT " REFUSAL_COLS "NULL::integer FROM c ORDER BY c.effective_at, c.seq"

/* ---- the suspicious payee registry: the refusal registry's statements
 * for a payee (kind $1, id $2), in the same columns ---- */

#define PAYEE_GET_SQL                                                                              \
	"SELECT " REFUSAL_COLS "NULL::integer FROM (SELECT 1) AS one "                             \
	"LEFT JOIN LATERAL (SELECT " REFUSAL_ROW_COLS ", false AS is_new FROM suspicious_payee "   \
	"  WHERE kind = $1::text AND id = $2::text) c ON true ORDER BY c.effective_at, c.seq"
/* The lock first (cd_payee_lock: the payee's bucket, exclusively, so that
 * a payout to it either committed before or sees this change), then the
 * insert unless the same change is known, its event, and the payee's
 * changes with the new one. */
#define PAYEE_PUT_SQL                                                                              \
	"WITH lk AS (SELECT cd_payee_lock($1::text, $2::text) AS locked), "                        \
	"ins AS (INSERT INTO suspicious_payee (kind, id, active, effective_at, source, reference) " \
	"  SELECT $1::text, $2::text, $3::boolean, cd_ts($4::bigint), $5::text, $6::text FROM lk " \
	"  WHERE lk.locked ON CONFLICT (kind, id, active, effective_at, source) DO NOTHING "       \
	"  RETURNING *), "                                                                         \
	"a AS (" PAYEE_AUDIT("$7") "), "                                                           \
	"c AS (SELECT " REFUSAL_ROW_COLS ", false AS is_new FROM suspicious_payee "                \
	"  WHERE kind = $1::text AND id = $2::text "                                               \
	"  UNION ALL SELECT " REFUSAL_ROW_COLS ", true FROM ins) "                                  \
	"SELECT " REFUSAL_COLS "NULL::integer FROM c ORDER BY c.effective_at, c.seq"

/* ---- fraud claims ---- */

/* The borrower's lock first (cd_refusal_lock, exclusively: the payout's
 * guard shares it, so that a payout either committed before the claim or
 * sees it), then the claim and its event. */
#define CLAIM_OPEN_SQL                                                                             \
	"WITH lk AS (SELECT cd_refusal_lock($1::text) AS locked), "                                \
	"ins AS (INSERT INTO fraud_claim (borrower_iin, reference, note, opened_by, opener_lender) " \
	"  SELECT $1::text, $2::text, $3::text, $4::text, $5::text FROM lk WHERE lk.locked "       \
	"  RETURNING *), "                                                                         \
	"a AS (" AUDIT_INSERT "SELECT $4::text, NULL, NULL, 'fraud_claim_opened', "                \
	"  jsonb_build_object('claim_id', 'FC-' || id, 'borrower_iin', borrower_iin, "             \
	"  'reference', reference) FROM ins) "                                                     \
	"SELECT " CLAIM_COLS " FROM ins c"
#define CLAIM_GET_SQL "SELECT " CLAIM_COLS " FROM fraud_claim c WHERE c.id = $1::bigint"
/* The closure of a claim still open, and its event. */
#define CLAIM_CLOSE_SQL                                                                            \
	"WITH u AS (UPDATE fraud_claim SET closed_at = now(), closed_by = $4::text, "              \
	"  outcome = $2::text, closure_note = $3::text WHERE id = $1::bigint AND closed_at IS NULL " \
	"  RETURNING *), "                                                                         \
	"a AS (" AUDIT_INSERT "SELECT $4::text, NULL, NULL, 'fraud_claim_closed', "                \
	"  jsonb_build_object('claim_id', 'FC-' || id, 'borrower_iin', borrower_iin, "             \
	"  'outcome', outcome) FROM u) "                                                           \
	"SELECT " CLAIM_COLS " FROM u c"

/* ---- a loan's events and the decision statistics ---- */

/* A loan's sealed events after a seq, in order, through
 * audit_event_loan_idx (lender_id, loan_id, id); the loan itself tells an
 * unknown loan (no row) from one whose events are not sealed yet (one row
 * of NULLs). */
#define LOAN_EVENTS_SQL                                                                            \
	"WITH l AS (SELECT 1 FROM loan WHERE lender_id = $1::text AND loan_id = $2::text), "       \
	"ev AS (SELECT " AUDIT_COLS " FROM audit_event e JOIN audit_chain c ON c.event_id = e.id " \
	"  WHERE e.lender_id = $1::text AND e.loan_id = $2::text AND c.seq > $3::bigint "          \
	"  ORDER BY c.seq LIMIT $4::integer) "                                                     \
	"SELECT ev.* FROM l LEFT JOIN ev ON true ORDER BY 1"

/*
 * The decision statistics from decision_hourly (sql/008): the buckets of
 * [$1, $2) — UTC hours, or local days of the zone $4 — as a series (s), at
 * most one more than DB_STATS_MAX_BUCKETS of them (w.buckets; then no
 * counts are read), and the hourly counts in their range summed per
 * bucket (c), lender $5 or all. An hour belongs to the local day its start
 * falls on. Columns: enum stats_col; one row per count, one row of NULLs
 * for a bucket without any, in bucket order.
 */
#define STATS_DAY "$3::text = 'day'"
#define STATS_MAX DB_STR(DB_STATS_MAX_BUCKETS)
#define DECISION_STATS_SQL                                                                         \
	"WITH p AS (SELECT CASE WHEN " STATS_DAY " THEN $4::text ELSE 'UTC' END AS zone, "         \
	"  CASE WHEN " STATS_DAY " THEN interval '1 day' ELSE interval '1 hour' END AS step), "    \
	"s AS (SELECT x.g AT TIME ZONE p.zone AS start, "                                          \
	"  (x.g + p.step) AT TIME ZONE p.zone AS next "                                            \
	"  FROM p, LATERAL (SELECT generate_series("                                               \
	"    date_trunc($3::text, cd_ts($1::bigint) AT TIME ZONE p.zone), "                        \
	"    (cd_ts($2::bigint) AT TIME ZONE p.zone) - interval '1 microsecond', p.step) AS g "    \
	"    LIMIT " STATS_MAX " + 1) x), "                                                        \
	"w AS (SELECT count(*) AS buckets, min(start) AS lo, max(next) AS hi FROM s), "            \
	"c AS (SELECT CASE WHEN " STATS_DAY " THEN date_trunc('day', d.hour AT TIME ZONE p.zone) " \
	"  AT TIME ZONE p.zone ELSE d.hour END AS start, d.decision, d.blocker, sum(d.n) AS n "    \
	"  FROM p, w, decision_hourly d WHERE w.buckets <= " STATS_MAX                             \
	"  AND d.hour >= w.lo AND d.hour < w.hi AND ($5::text IS NULL OR d.lender_id = $5::text) " \
	"  GROUP BY 1, 2, 3) "                                                                     \
	"SELECT w.buckets, cd_us(s.start), c.decision, c.blocker, c.n "                            \
	"FROM w LEFT JOIN (s LEFT JOIN c ON c.start = s.start) ON w.buckets <= " STATS_MAX         \
	" ORDER BY s.start, c.decision, c.blocker"

/* ---- the lender's event feed and webhooks (sql/013) ---- */

/* Where a reader that has seen the chain up to seq S stands in the
 * sealing order (txid, id): the entry at S, or the last before it (an S
 * past the head), or the start. The sealer gives seq in that order, so a
 * lender's sealed events after S are the range of
 * audit_event_lender_feed_idx after this position. */
#define FEED_CURSOR_TXID(seq)                                                                      \
	"coalesce((SELECT k.txid FROM audit_chain k WHERE k.seq <= " seq " "                       \
	"  ORDER BY k.seq DESC LIMIT 1), '0'::xid8)"
#define FEED_CURSOR_ID(seq)                                                                        \
	"coalesce((SELECT k.event_id FROM audit_chain k WHERE k.seq <= " seq " "                   \
	"  ORDER BY k.seq DESC LIMIT 1), 0)"
#define FEED_AFTER(lender, seq)                                                                    \
	"e.lender_id = " lender " AND (e.txid, e.id) > (" FEED_CURSOR_TXID(seq) ", "               \
	FEED_CURSOR_ID(seq) ") "

#define LENDER_EVENTS_SQL                                                                          \
	"SELECT " AUDIT_COLS " FROM audit_event e JOIN audit_chain c ON c.event_id = e.id "        \
	"WHERE " FEED_AFTER("$1::text", "$2::bigint") "ORDER BY e.txid, e.id LIMIT $3::integer"

/* Takes (or keeps) the lease of every endpoint that no other daemon
 * holds: a row lock orders two daemons, and the second sees the first's
 * lease and skips the row. With each, how far behind it is. */
#define WEBHOOK_LEASE_SQL                                                                          \
	"WITH m AS (UPDATE webhook w SET lease_owner = $1::text, "                                 \
	"  lease_until = now() + make_interval(secs => $2::integer) "                              \
	"  WHERE w.removed_at IS NULL AND (w.lease_owner = $1::text OR w.lease_until IS NULL "     \
	"    OR w.lease_until < now()) "                                                           \
	"  RETURNING w.id, w.lender_id, w.url, w.secret_sealed, w.delivered_seq, w.failures, "     \
	"  w.next_attempt_at) "                                                                    \
	"SELECT m.id, m.lender_id, m.url, encode(m.secret_sealed, 'hex'), m.delivered_seq, "       \
	"  m.failures, cd_us(m.next_attempt_at), b.n, cd_us(now()) "                               \
	"FROM m LEFT JOIN LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM audit_event e "        \
	"  JOIN audit_chain c ON c.event_id = e.id "                                               \
	"  WHERE " FEED_AFTER("m.lender_id", "m.delivered_seq")                                    \
	"  LIMIT " DB_STR(DB_BEHIND_CAP) ") x) b ON true ORDER BY m.id"

/* ---- the table ---- */

_Static_assert(DB_BATCH_PAD <= DB_BATCH_MAX && DB_BATCH_MAX <= 1000, "a batch's arrays stay small");

const struct stmt_def db_statements[STMT__COUNT] = {
    [STMT_AUTH] = {"auth", "WITH " AUTH_CTE("1") "SELECT " AUTH_COLS " FROM a", 1},
    [STMT_SCHEMA_VERSION] = {"schema_version",
                             "WITH v AS (SELECT coalesce(max(version), 0) AS version "
                             "FROM schema_migrations) "
                             "SELECT v.version, now() AT TIME ZONE $1::text, r.min_release "
                             "FROM v LEFT JOIN schema_release r USING (version)",
                             1},
    [STMT_LOAN_GET] = {LOAN_GET_NAME, LOAN_GET_SQL, 2},
    [STMT_APPROVAL_CONTEXT] = {APPROVAL_CONTEXT_NAME, APPROVAL_CONTEXT_SQL, 9},
    [STMT_LOAN_INSERT] = {"loan_insert", LOAN_INSERT_SQL, LOAN_INSERT_NPARAMS},
    /* the end: $3, or the next working day's start after the consent on
     * the calendar of the loan's zone, as the database has it now */
    [STMT_CONSENT] =
        {"consent",
         "WITH u AS (UPDATE loan SET consent_at = cd_ts($2::bigint), "
         "  cooling_ends_at = cd_cooling_ends_at(cd_ts($2::bigint), cd_ts($3::bigint), "
         "  cooling_calendar_zone) WHERE id = $1::bigint AND " CONSENT_GUARD
         "  RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $4::text, lender_id, loan_id, 'consent_recorded', "
         "  $5::jsonb || jsonb_build_object('cooling_ends_at', cd_utc_text(cooling_ends_at)) "
         "  FROM u) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         5},
    [STMT_VERIFY] =
        {"verify",
         "WITH u AS (UPDATE loan SET in_person_verified_at = cd_ts($2::bigint), "
         "  in_person_branch_id = $3::text, in_person_officer_id = $4::text "
         "  WHERE id = $1::bigint AND " VERIFY_GUARD " RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $5::text, lender_id, loan_id, 'in_person_verified', "
         "  $6::jsonb FROM u) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         6},
    [STMT_CANCEL] =
        {"cancel",
         "WITH u AS (UPDATE loan SET cancelled_at = now(), cancel_reason = $2::text "
         "  WHERE id = $1::bigint AND " CANCEL_GUARD " RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $3::text, lender_id, loan_id, 'cancelled', "
         "  jsonb_build_object('reason', cancel_reason) FROM u) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         3},
    [STMT_DISBURSE_CONTEXT] = {DISBURSE_CONTEXT_NAME, DISBURSE_CONTEXT_SQL, 6},
    [STMT_DISBURSE] = {"disburse", DISBURSE_SQL, 8},
    [STMT_REFUSE] = {"refuse", REFUSE_SQL, 7},
    [STMT_LOCAL_DATE] = {"local_date", "SELECT " LOCAL_TODAY("$1"), 1},
    [STMT_BORROWER_LOANS] =
        {"borrower_loans",
         "SELECT " LOAN_COLS_NOW " FROM loan l "
         "WHERE l.borrower_iin = $1::text "
         "AND ($2::text IS NULL OR l.lender_id = $2::text) "
         "ORDER BY l.approved_at DESC, l.id DESC "
         "LIMIT " DB_STR(DB_BORROWER_MAX_LOANS),
         2},
    [STMT_LOANS_LIST] =
        {"loans_list",
         "SELECT " LOAN_COLS_NOW " FROM loan l WHERE " LOANS_LIST_WHERE
         "ORDER BY l.approved_at DESC, l.id DESC LIMIT $6::integer",
         6},
    [STMT_LOANS_LIST_LENDER] =
        {"loans_list_lender",
         "SELECT " LOAN_COLS_NOW " FROM loan l WHERE " LOANS_LIST_WHERE
         "AND l.lender_id = $7::text "
         "ORDER BY l.approved_at DESC, l.id DESC LIMIT $6::integer",
         7},
    [STMT_AUDIT_SEAL] = {"audit_seal", "SELECT cd_audit_seal($1::integer)", 1},
    [STMT_AUDIT_LIST] =
        {"audit_list",
         "SELECT " AUDIT_COLS " FROM audit_chain c "
         "JOIN audit_event e ON e.id = c.event_id "
         "WHERE c.seq > $1::bigint ORDER BY c.seq LIMIT $2::integer",
         2},
    [STMT_AUDIT_SEAL_HEAD] =
        {"audit_seal_head",
         "SELECT sealed, head_seq, encode(head_hash, 'hex'), now_us, signed "
         "FROM cd_audit_seal_head($1::integer, $2::text)",
         2},
    /* For the access review (coolingctl client list); the daemon sends it
     * at most once a minute per client and worker (daemon/auth.c), and a
     * row just written by another is left alone. */
    [STMT_CLIENT_SEEN] = {"client_seen",
                          "UPDATE api_client SET last_used_at = now() WHERE name = $1::text "
                          "AND (last_used_at IS NULL OR last_used_at < now() - interval "
                          "'10 seconds')",
                          1},
    /* Only a checkpoint of what the chain holds: a signer that read a head
     * which is gone (a restore) adds nothing. */
    [STMT_AUDIT_CHECKPOINT_ADD] =
        {"audit_checkpoint_add",
         "INSERT INTO audit_checkpoint "
         "(seq, hash, signed_at, key_id, signature) "
         "SELECT c.seq, c.hash, cd_ts($3::bigint), $4::text, "
         "decode($5::text, 'hex') FROM audit_chain c "
         "WHERE c.seq = $1::bigint AND c.hash = decode($2::text, 'hex') "
         "ON CONFLICT (seq, key_id) DO NOTHING",
         5},
    /* The events after the chain's last, in the sealing order (txid, id),
     * on audit_event_txid_idx: a range scan as long as the backlog, which
     * the cap bounds. */
    [STMT_AUDIT_UNSEALED] =
        {"audit_unsealed",
         "SELECT count(*) FROM (SELECT 1 FROM audit_event a "
         "WHERE (a.txid, a.id) > ("
         "coalesce((SELECT c.txid FROM audit_chain c "
         "ORDER BY c.seq DESC LIMIT 1), '0'::xid8), "
         "coalesce((SELECT c.event_id FROM audit_chain c "
         "ORDER BY c.seq DESC LIMIT 1), 0)) "
         "LIMIT $1::integer) u",
         1},
    /* The newest checkpoint by seq, on the primary key's index: signed_at
     * has none, and a checkpoint of a later seq is never signed earlier.
     * The calendar's today in its zone and whether the table holds a day
     * of its year and of the next: two ranges of the primary key; no zone
     * (NULL), no date and neither. */
    [STMT_OPERATOR_SIGNALS] =
        {"operator_signals",
         "SELECT " LOCAL_TODAY("$1") ", "
         "(SELECT max(valid_from) - DATE '1970-01-01' FROM mrp), "
         "(SELECT cd_us(signed_at) FROM audit_checkpoint ORDER BY seq DESC LIMIT 1), "
         "c.d - DATE '1970-01-01', "
         "EXISTS (SELECT 1 FROM non_working_day n "
         "  WHERE n.day BETWEEN make_date(c.y, 1, 1) AND make_date(c.y, 12, 31)), "
         "EXISTS (SELECT 1 FROM non_working_day n "
         "  WHERE n.day BETWEEN make_date(c.y + 1, 1, 1) AND make_date(c.y + 1, 12, 31)) "
         "FROM (SELECT t.d, extract(year FROM t.d)::integer AS y "
         "  FROM (SELECT (now() AT TIME ZONE $2::text)::date AS d) t) c",
         2},
    [STMT_RECONFIRM] =
        {"reconfirm",
         "WITH u AS (UPDATE loan SET reconfirmed_at = cd_ts($2::bigint), "
         "  reconfirmation_method = $5::text "
         "  WHERE id = $1::bigint AND " RECONFIRM_GUARD " RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $3::text, lender_id, loan_id, 'reconfirmation_recorded', "
         "  $4::jsonb FROM u) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         5},
    [STMT_EXTRA_CONFIRM] =
        {"extra_confirm",
         "WITH u AS (UPDATE loan SET extra_confirmed_at = cd_ts($2::bigint), "
         "  extra_confirmation_method = $3::text "
         "  WHERE id = $1::bigint AND " EXTRA_CONFIRM_GUARD " RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $4::text, lender_id, loan_id, "
         "  'extra_confirmation_recorded', $5::jsonb FROM u) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         5},
    /* exempt from then on: not cooled, and the guard of the payout reads
     * the same columns as loan_evaluate(); an earlier exemption stays the
     * loan's first */
    [STMT_TRUSTED_PERSON] =
        {"trusted_person",
         "WITH u AS (UPDATE loan SET trusted_person_confirmed_at = cd_ts($2::bigint), "
         "  exemption = coalesce(exemption, 'trusted_person'), cooling_required = false, "
         "  cooling_period_s = NULL, cooling_ends_at = NULL, cooling_calendar_zone = NULL, "
         "  rule = NULL, "
         "  reconfirmation_required = false "
         "  WHERE id = $1::bigint AND " TRUSTED_PERSON_GUARD " RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $3::text, lender_id, loan_id, "
         "  'trusted_person_confirmed', $4::jsonb FROM u) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         5},
    [STMT_CONTROL_CALL] =
        {"control_call",
         "WITH u AS (UPDATE loan SET control_called_at = cd_ts($2::bigint), "
         "  control_call_officer_id = $3::text "
         "  WHERE id = $1::bigint AND " CONTROL_CALL_GUARD " RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $4::text, lender_id, loan_id, 'control_call_recorded', "
         "  $5::jsonb FROM u) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         5},
    [STMT_REFUSAL_GET] = {"refusal_get", REFUSAL_GET_SQL, 2},
    [STMT_REFUSAL_PUT] = {"refusal_put", REFUSAL_PUT_SQL, 6},
    [STMT_PAYEE_GET] = {"payee_get", PAYEE_GET_SQL, 2},
    [STMT_PAYEE_PUT] = {"payee_put", PAYEE_PUT_SQL, 7},
    [STMT_CLAIM_OPEN] = {"claim_open", CLAIM_OPEN_SQL, 5},
    [STMT_CLAIM_GET] = {"claim_get", CLAIM_GET_SQL, 1},
    [STMT_CLAIM_CLOSE] = {"claim_close", CLAIM_CLOSE_SQL, 4},

    [STMT_LOAN_EVENTS] = {"loan_events", LOAN_EVENTS_SQL, 4},
    [STMT_DECISION_STATS] = {"decision_stats", DECISION_STATS_SQL, 5},
    /* the personal-data access log: one plain insert, committed before the
     * answer it records is sent */
    [STMT_ACCESS_RECORD] =
        {"access_record",
         "INSERT INTO access_log (client, role, route, borrower_iin, lender, loan_id, "
         "request_id) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, "
         "$7::text) RETURNING id",
         7},
    [STMT_ACCESS_LOG] =
        {"access_log",
         "SELECT " ACCESS_COLS " FROM access_log "
         "WHERE ($1::bigint IS NULL OR at >= cd_ts($1::bigint)) "
         "AND ($2::bigint IS NULL OR at < cd_ts($2::bigint)) "
         "AND ($3::text IS NULL OR client = $3::text) "
         "AND ($4::text IS NULL OR borrower_iin = $4::text) "
         "AND ($5::text IS NULL OR (lender = $5::text AND loan_id = $6::text)) "
         "AND ($7::bigint IS NULL OR (at, id) > (cd_ts($7::bigint), $8::bigint)) "
         "ORDER BY at, id LIMIT $9::integer",
         9},
    [STMT_TIME_EVENTS] = {"time_events", "SELECT cd_time_events($1::integer)", 1},
    [STMT_LENDER_EVENTS] = {"lender_events", LENDER_EVENTS_SQL, 3},
    [STMT_WEBHOOK_LEASE] = {"webhook_lease", WEBHOOK_LEASE_SQL, 2},
    /* only while this daemon holds the lease, and from where it read */
    [STMT_WEBHOOK_DELIVERED] =
        {"webhook_delivered",
         "UPDATE webhook SET delivered_seq = $4::bigint, failures = 0, "
         "next_attempt_at = NULL, last_error = NULL "
         "WHERE id = $1::bigint AND lease_owner = $2::text AND delivered_seq = $3::bigint "
         "AND removed_at IS NULL RETURNING id",
         4},
    [STMT_WEBHOOK_FAILED] =
        {"webhook_failed",
         "UPDATE webhook SET failures = failures + 1, last_error = $3::text, "
         "next_attempt_at = now() + make_interval(secs => $4::bigint / 1000.0) "
         "WHERE id = $1::bigint AND lease_owner = $2::text AND removed_at IS NULL "
         "RETURNING failures",
         4},
    /* a clean stop: another daemon may take the endpoints at once */
    [STMT_WEBHOOK_RELEASE] = {"webhook_release",
                              "UPDATE webhook SET lease_owner = NULL, lease_until = NULL "
                              "WHERE lease_owner = $1::text",
                              1},
    DB_FIRST_READS(AUTH_TWIN_DEF)
    /* written by batch.c before main() */
#define BATCH_DEF(name, n)                                                                         \
	[STMT_BATCH_##name] = {db_batch_name[STMT_BATCH_##name - STMT_BATCH__FIRST],               \
	                       db_batch_sql[STMT_BATCH_##name - STMT_BATCH__FIRST], n + 1},
    DB_BATCHED(BATCH_DEF)
#undef BATCH_DEF
};

/* clang-format on */

enum stmt db_stmt_with_auth(enum stmt st)
{
	switch (st) {
#define AUTH_TWIN_OF(name, n, token)                                                               \
	case STMT_##name:                                                                          \
		return STMT_AUTH_##name;
		DB_FIRST_READS(AUTH_TWIN_OF)
#undef AUTH_TWIN_OF
	default:
		return st;
	}
}

enum stmt db_stmt_batch_of(enum stmt st)
{
	switch (st) {
#define BATCH_OF(name, n)                                                                          \
	case STMT_##name:                                                                          \
		return STMT_BATCH_##name;
		DB_BATCHED(BATCH_OF)
#undef BATCH_OF
	default:
		return STMT__COUNT;
	}
}

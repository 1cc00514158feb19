/*
 * Every SQL statement of coolingd and coolingctl lives in this file, and so
 * does the decoding of every result: no other file reads a column by its
 * position.
 *
 * The daemon's acts follow one pattern: read the loan and the database's
 * "now" (one statement), decide in C (lib/loan.c), then write with a guard
 * in the WHERE clause that re-checks the state the decision relied on,
 * together with the audit event, in one statement. When the guard no longer
 * holds (a concurrent act won), the caller reads again and decides again.
 * Row locks serialise concurrent writers of one loan, so a guarded UPDATE
 * that waited sees the winner's row and matches nothing: exactly one
 * disbursement.
 */
#include "db.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "migrations.h"
#include "names.h"
#include "timeutil.h"
#include "token_random.h"

/* A number macro as an SQL literal. */
#define DB_STR_(x) #x
#define DB_STR(x)  DB_STR_(x)

/*
 * The loan's columns: one row each, from which the read list (LOAN_COLS),
 * the decoder (db_loan_row) and the approval's INSERT with its parameters
 * (db_loan_insert_params) are made. A new field of the loan is one row
 * here and its migration.
 *
 *   X(field of struct loan, column, kind, inserted, $n of STMT_LOAN_INSERT,
 *     SQL type of that parameter)
 *
 * kinds: TEXT (char array; NULL reads as ""), INT (int64_t), BOOL, TS
 * (microseconds, timestamptz through cd_us/cd_ts; NULL is TS_NULL), CHANNEL
 * (enum channel by its name), PERIOD (int64_t seconds, NULL unless the loan
 * is cooled: 0 in the struct), READ (a boolean that is read, not stored:
 * `column` is its SQL expression over the row l). inserted is 1 for the
 * columns the approval
 * writes, 0 for those a later act writes (their $n is 0); a new inserted
 * column takes the next free $n (the checks below). The columns are read in
 * this order; the row id comes last.
 */
/* clang-format off */
#define LOAN_COLUMNS(X)                                                            \
	X(lender,                "lender_id",             TEXT,    1,  1, "text")    \
	X(loan_id,               "loan_id",               TEXT,    1,  2, "text")    \
	X(borrower_iin,          "borrower_iin",          TEXT,    1,  3, "text")    \
	X(amount_tiyn,           "amount_tiyn",           INT,     1,  4, "bigint")  \
	X(channel,               "channel",               CHANNEL, 1,  5, "text")    \
	X(secured,               "secured",               BOOL,    1,  6, "boolean") \
	X(first_time_borrower,   "first_time_borrower",   BOOL,    1,  7, "boolean") \
	X(first_time_given,      "first_time_given",      BOOL,    1,  8, "boolean") \
	X(policy,                "policy",                TEXT,    1,  9, "text")    \
	X(mrp_tenge,             "mrp_tenge",             INT,     1, 10, "integer") \
	X(threshold_tiyn,        "threshold_tiyn",        INT,     1, 11, "bigint")  \
	X(cooling_required,      "cooling_required",      BOOL,    1, 12, "boolean") \
	X(cooling_period_s,      "cooling_period_s",      PERIOD,  1, 13, "bigint")  \
	X(in_person_required,    "in_person_required",    BOOL,    1, 14, "boolean") \
	X(approved_at,           "approved_at",           TS,      1, 15, "bigint")  \
	X(consent_at,            "consent_at",            TS,      1, 16, "bigint")  \
	X(cooling_ends_at,       "cooling_ends_at",       TS,      1, 17, "bigint")  \
	X(in_person_verified_at, "in_person_verified_at", TS,      1, 18, "bigint")  \
	X(in_person_branch_id,   "in_person_branch_id",   TEXT,    0,  0, "")        \
	X(in_person_officer_id,  "in_person_officer_id",  TEXT,    0,  0, "")        \
	X(disbursed_at,          "disbursed_at",          TS,      0,  0, "")        \
	X(cancelled_at,          "cancelled_at",          TS,      0,  0, "")        \
	X(cancel_reason,         "cancel_reason",         TEXT,    0,  0, "")        \
	X(product,               "product",               PRODUCT, 1, 19, "text")    \
	X(lender_kind,           "lender_kind",           LKIND,   1, 20, "text")    \
	X(exemption,             "exemption",             EXEMPTION, 1, 21, "text")  \
	X(aggregated_tiyn,       "aggregated_amount_tiyn", INT,    1, 22, "bigint")  \
	X(rule,                  "rule",                  RULE,    1, 23, "text")    \
	X(borrower_age,          "borrower_age",          INT,     1, 24, "integer") \
	X(extra_confirmation_required, "extra_confirmation_required", BOOL, 1, 25, "boolean") \
	X(reconfirmation_required, "reconfirmation_required", BOOL, 1, 26, "boolean") \
	X(extra_confirmed_at,    "extra_confirmed_at",    TS,      0,  0, "")        \
	X(extra_confirmation_method, "extra_confirmation_method", TEXT, 0, 0, "")    \
	X(reconfirmed_at,        "reconfirmed_at",        TS,      0,  0, "")        \
	X(voluntary_refusal_active, "cd_refusal_active(l.borrower_iin)", READ, 0, 0, "") \
	X(pk,                    "id",                    INT,     0,  0, "")
/* The approval's actor and audit detail ($n of STMT_LOAN_INSERT). */
#define LOAN_INSERT_ACTOR  27
#define LOAN_INSERT_DETAIL 28
/* The day's amount the approval was decided with ($n of STMT_LOAN_INSERT):
 * the zone of the local date (NULL: the profile adds nothing up), the
 * lender whose loans count (NULL: every lender's), the other loans' total
 * the decision took. */
#define LOAN_INSERT_DAY_TZ     29
#define LOAN_INSERT_DAY_LENDER 30
#define LOAN_INSERT_DAY_TOTAL  31
/* clang-format on */

#define LOAN_IF_0(...)
#define LOAN_IF_1(...) __VA_ARGS__

/* The read list: each column as "expr, ", then the database's now. */
#define LOAN_READ_TEXT(col)                   "l." col ", "
#define LOAN_READ_INT(col)                    "l." col ", "
#define LOAN_READ_BOOL(col)                   "l." col ", "
#define LOAN_READ_CHANNEL(col)                "l." col ", "
#define LOAN_READ_RULE(col)                   "l." col ", "
#define LOAN_READ_EXEMPTION(col)              "l." col ", "
#define LOAN_READ_LKIND(col)                  "l." col ", "
#define LOAN_READ_PRODUCT(col)                "l." col ", "
#define LOAN_READ_PERIOD(col)                 "l." col ", "
#define LOAN_READ_TS(col)                     "cd_us(l." col "), "
#define LOAN_READ_READ(col)                   col ", "
#define LOAN_READ(f, col, kind, ins, n, type) LOAN_READ_##kind(col)
/* The loan's columns, then "now" (microseconds): every statement that
 * returns loans returns them so. */
#define LOAN_COLS_NOW LOAN_COLUMNS(LOAN_READ) "cd_us(now())"

/* The INSERT's column list and values; the list ends with the row id, which
 * takes its DEFAULT (the sequence), so that each row can end with ", ". */
#define LOAN_VAL_TEXT(n, type)                   "$" #n "::" type ", "
#define LOAN_VAL_INT(n, type)                    "$" #n "::" type ", "
#define LOAN_VAL_BOOL(n, type)                   "$" #n "::" type ", "
#define LOAN_VAL_CHANNEL(n, type)                "$" #n "::" type ", "
#define LOAN_VAL_RULE(n, type)                   "$" #n "::" type ", "
#define LOAN_VAL_EXEMPTION(n, type)              "$" #n "::" type ", "
#define LOAN_VAL_LKIND(n, type)                  "$" #n "::" type ", "
#define LOAN_VAL_PRODUCT(n, type)                "$" #n "::" type ", "
#define LOAN_VAL_PERIOD(n, type)                 "$" #n "::" type ", "
#define LOAN_VAL_TS(n, type)                     "cd_ts($" #n "::bigint), "
#define LOAN_VAL_READ(n, type)                   ""
#define LOAN_INS_COL(f, col, kind, ins, n, type) LOAN_IF_##ins(col ", ")
#define LOAN_INS_VAL(f, col, kind, ins, n, type) LOAN_IF_##ins(LOAN_VAL_##kind(n, type))
#define LOAN_INSERT_COLS                         LOAN_COLUMNS(LOAN_INS_COL) "id"
#define LOAN_INSERT_VALUES                       LOAN_COLUMNS(LOAN_INS_VAL) "DEFAULT"

enum loan_col {
#define LOAN_COL_ENUM(f, col, kind, ins, n, type) LOAN_COL_##f,
	LOAN_COLUMNS(LOAN_COL_ENUM)
#undef LOAN_COL_ENUM
	    LOAN_NCOLS
};

/* The INSERT's parameters: the inserted columns, the actor and the
 * detail. Their $n are 1..LOAN_INSERT_NPARAMS, each once (the sums below);
 * a new inserted column takes the next free number. */
enum {
#define LOAN_INS_ENUM(f, col, kind, ins, n, type) LOAN_IF_##ins(LOAN_INS_##f, )
	LOAN_COLUMNS(LOAN_INS_ENUM)
#undef LOAN_INS_ENUM
	    LOAN_INSERT_NCOLS,
	LOAN_INSERT_NPARAMS = LOAN_INSERT_NCOLS + 5
};
#define LOAN_INS_SUM(f, col, kind, ins, n, type)     +(ins * n)
#define LOAN_INS_SQUARES(f, col, kind, ins, n, type) +(ins * n * n)
#define LOAN_INS_RANGE(f, col, kind, ins, n, type)                                                 \
	_Static_assert(!ins || (n >= 1 && n <= LOAN_INSERT_NPARAMS), "$n of " #f " out of range");
LOAN_COLUMNS(LOAN_INS_RANGE)
#define LOAN_INSERT_EXTRA_SUM                                                                      \
	(LOAN_INSERT_ACTOR + LOAN_INSERT_DETAIL + LOAN_INSERT_DAY_TZ + LOAN_INSERT_DAY_LENDER +    \
	 LOAN_INSERT_DAY_TOTAL)
#define LOAN_INSERT_EXTRA_SQUARES                                                                  \
	(LOAN_INSERT_ACTOR * LOAN_INSERT_ACTOR + LOAN_INSERT_DETAIL * LOAN_INSERT_DETAIL +         \
	 LOAN_INSERT_DAY_TZ * LOAN_INSERT_DAY_TZ +                                                 \
	 LOAN_INSERT_DAY_LENDER * LOAN_INSERT_DAY_LENDER +                                         \
	 LOAN_INSERT_DAY_TOTAL * LOAN_INSERT_DAY_TOTAL)
_Static_assert(LOAN_INSERT_EXTRA_SUM LOAN_COLUMNS(LOAN_INS_SUM) ==
                   LOAN_INSERT_NPARAMS * (LOAN_INSERT_NPARAMS + 1) / 2,
               "the INSERT's $n are 1..LOAN_INSERT_NPARAMS, each once");
_Static_assert(LOAN_INSERT_EXTRA_SQUARES LOAN_COLUMNS(LOAN_INS_SQUARES) ==
                   LOAN_INSERT_NPARAMS * (LOAN_INSERT_NPARAMS + 1) * (2 * LOAN_INSERT_NPARAMS + 1) /
                       6,
               "the INSERT's $n are 1..LOAN_INSERT_NPARAMS, each once");
_Static_assert(LOAN_INSERT_NPARAMS <= DB_MAX_PARAMS, "the INSERT's parameters fit DB_MAX_PARAMS");

enum col_kind {
	KIND_TEXT,
	KIND_INT,
	KIND_BOOL,
	KIND_TS,
	KIND_CHANNEL,
	KIND_PERIOD,
	/* an enum (int) by its name in a table of names.h; the name "" of
	 * value 0, where the table has it, is NULL */
	KIND_PRODUCT,
	KIND_LKIND,
	KIND_EXEMPTION,
	KIND_RULE,
	/* a boolean that is read, not stored: the column is an expression */
	KIND_READ,
};

static const struct name_table *const kind_names[] = {
    [KIND_PRODUCT] = &product_names,
    [KIND_LKIND] = &lender_kind_names,
    [KIND_EXEMPTION] = &exemption_names,
    [KIND_RULE] = &rule_names,
};

static const struct loan_col_def {
	size_t offset;
	size_t size;
	enum col_kind kind;
	int param; /* $n of STMT_LOAN_INSERT, 0 when not inserted */
} loan_cols[LOAN_NCOLS] = {
#define LOAN_COL_DEF(f, col, kind, ins, n, type)                                                   \
	{offsetof(struct loan, f), sizeof(((struct loan *)0)->f), KIND_##kind, n},
    LOAN_COLUMNS(LOAN_COL_DEF)
#undef LOAN_COL_DEF
};

/* The voluntary refusal in the payout's guard: cd_refusal_gate() shares
 * the IIN's advisory lock with refusal changes and reads the state with a
 * snapshot of its own, so that a refusal committed before the payout is
 * never missed, however close (sql/007_voluntary_refusals.sql,
 * docs/refusals.md). */
#define REFUSAL_GUARD "AND NOT cd_refusal_gate(borrower_iin)"

/* The disbursement guard: the SQL twin of loan_evaluate() returning no
 * blocker. tests/integration/test_gate_agreement.c keeps them in step. */
#define GUARD                                                                                      \
	"cancelled_at IS NULL AND disbursed_at IS NULL AND consent_at IS NOT NULL "                \
	"AND (NOT cooling_required OR cooling_ends_at <= now()) "                                  \
	"AND (NOT in_person_required OR in_person_verified_at IS NOT NULL) "                       \
	"AND (NOT extra_confirmation_required OR extra_confirmed_at IS NOT NULL) "                 \
	"AND (NOT reconfirmation_required OR reconfirmed_at IS NOT NULL) " REFUSAL_GUARD

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
#define EXTRA_CONFIRM_GUARD                                                                        \
	"extra_confirmed_at IS NULL AND cancelled_at IS NULL AND disbursed_at IS NULL "            \
	"AND extra_confirmation_required"

#define AUDIT_INSERT "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) "

/* The client of a token, as the first columns of a request's first read. */
#define AUTH_CTE(n)                                                                                \
	"a AS (SELECT name AS auth_name, role AS auth_role, lender_id AS auth_lender, "            \
	"token_hash AS auth_token_hash FROM api_client WHERE token_id = $" n "::text "             \
	"AND revoked_at IS NULL) "
#define AUTH_COLS "a.auth_name, a.auth_role, a.auth_lender, a.auth_token_hash"
/* The columns AUTH_COLS are, first in STMT_AUTH's and the twins' rows. */
enum auth_col { AUTH_NAME, AUTH_ROLE, AUTH_LENDER, AUTH_TOKEN_HASH, AUTH_NCOLS };
/* The first column's name, by which a decoder knows a twin's result. */
#define AUTH_COL0 "auth_name"

/* The STMT_AUTH_* twin of a first read: the read as it is, beside the
 * token's client. The read yields at most one row (a first read is by
 * primary key, or one row by construction); without a client there is no
 * row at all. */
#define AUTH_TWIN(read_sql, token_param)                                                           \
	"WITH " AUTH_CTE(token_param) ", q AS (" read_sql ") "                                     \
	                              "SELECT " AUTH_COLS ", q.* FROM a LEFT JOIN q ON true"

/* The status of a loan at now(): the SQL twin of loan_evaluate()'s status,
 * for filtering lists; test_gate_agreement.c keeps the two in step. */
#define STATUS_EXPR                                                                                \
	"(CASE WHEN l.cancelled_at IS NOT NULL THEN 'cancelled' "                                  \
	"WHEN l.disbursed_at IS NOT NULL THEN 'disbursed' "                                        \
	"WHEN cd_refusal_active(l.borrower_iin) THEN 'blocked_by_refusal' "                        \
	"WHEN l.consent_at IS NULL THEN 'awaiting_consent' "                                       \
	"WHEN l.extra_confirmation_required AND l.extra_confirmed_at IS NULL "                     \
	"THEN 'awaiting_extra_confirmation' "                                                      \
	"WHEN l.cooling_required AND now() < l.cooling_ends_at THEN 'cooling' "                    \
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
	"AND ($5::text IS NULL OR (" STATE_EXPR                                                    \
	" = " STATE_OF_STATUS("$5::text") " "                                                      \
	                                  "AND " STATUS_EXPR " = $5::text)) "

/* The columns of an audit event in the chain: enum audit_col. */
#define AUDIT_COLS                                                                                 \
	"c.seq, cd_us(e.at), e.actor, e.lender_id, e.loan_id, e.type, e.detail::text, "            \
	"encode(c.hash, 'hex')"
enum audit_col {
	AUDIT_SEQ,
	AUDIT_AT,
	AUDIT_ACTOR,
	AUDIT_LENDER,
	AUDIT_LOAN,
	AUDIT_TYPE,
	AUDIT_DETAIL,
	AUDIT_HASH,
	AUDIT_EVENT_MISSING, /* db_audit_chain_stream() only */
};

/* ---- the voluntary refusal registry ----
 *
 * The columns of a change: enum refusal_col, then whether it is new (a
 * PUT's), the database's now and today's local date (a GET's; NULL
 * otherwise). */
#define REFUSAL_COLS                                                                               \
	"c.seq, c.active, cd_us(c.effective_at), c.source, c.reference, cd_us(c.recorded_at), "    \
	"c.is_new, cd_us(now()), "
enum refusal_col {
	REFUSAL_SEQ,
	REFUSAL_ACTIVE,
	REFUSAL_EFFECTIVE_AT,
	REFUSAL_SOURCE,
	REFUSAL_REFERENCE,
	REFUSAL_RECORDED_AT,
	REFUSAL_IS_NEW,
	REFUSAL_NOW,
	REFUSAL_TODAY,
	REFUSAL_NCOLS
};
#define REFUSAL_ROW_COLS "seq, active, effective_at, source, reference, recorded_at"
/* The event of a new change, from the rows of `ins`; actor is $n. */
#define REFUSAL_AUDIT(actor)                                                                       \
	AUDIT_INSERT "SELECT " actor "::text, NULL, NULL, "                                        \
	             "CASE WHEN active THEN 'voluntary_refusal_set' ELSE "                         \
	             "'voluntary_refusal_withdrawn' END, "                                         \
	             "jsonb_build_object('borrower_iin', iin, 'active', active, 'effective_at', "  \
	             "cd_utc_text(effective_at), 'source', source, 'reference', reference, "       \
	             "'change_seq', seq) "                                                         \
	             "FROM ins"
#define REFUSAL_GET_SQL                                                                            \
	"SELECT " REFUSAL_COLS LOCAL_TODAY(                                                        \
	    "$2") "FROM (SELECT 1) AS one "                                                        \
	          "LEFT JOIN LATERAL (SELECT " REFUSAL_ROW_COLS                                    \
	          ", false AS is_new FROM voluntary_refusal "                                      \
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
	                             "c AS (SELECT " REFUSAL_ROW_COLS                              \
	                             ", false AS is_new FROM voluntary_refusal "                   \
	                             "  WHERE iin = $1::text UNION ALL SELECT " REFUSAL_ROW_COLS   \
	                             ", true FROM ins) "                                           \
	                             "SELECT " REFUSAL_COLS                                        \
	                             "NULL::integer FROM c ORDER BY c.effective_at, c.seq"

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

/* The first reads. */
#define LOAN_BY_ID   "l.lender_id = $1::text AND l.loan_id = $2::text "
#define LOAN_GET_SQL "SELECT " LOAN_COLS_NOW " FROM loan l WHERE " LOAN_BY_ID
/* The approval's time ($3, or now); the loan if it exists; the MRP in
 * force on the approval's local date, whether the borrower has had an
 * unsecured loan paid out (one lookup in loan_first_time_idx), the
 * approval's time, and today's local date (for the IIN's birth date):
 * enum approval_col after the loan's columns and now. */
#define APPROVAL_CONTEXT_SQL                                                                       \
	"WITH t AS (SELECT cd_ts(coalesce($3::bigint, cd_us(now()))) AS at) "                      \
	"SELECT " LOAN_COLS_NOW ", "                                                               \
	"(SELECT m.tenge FROM mrp m WHERE m.valid_from <= (t.at AT TIME ZONE $4::text)::date "     \
	"  ORDER BY m.valid_from DESC LIMIT 1), "                                                  \
	"NOT EXISTS (SELECT 1 FROM loan d WHERE d.borrower_iin = $5::text "                        \
	"  AND d.disbursed_at IS NOT NULL AND NOT d.secured), "                                    \
	"cd_us(t.at), " LOCAL_TODAY(                                                               \
	    "$4") ", "                                                                             \
	          "(SELECT k.kind FROM lender k WHERE k.id = $1::text), "                          \
	          "((t.at AT TIME ZONE $4::text)::date - DATE '1970-01-01'), "                     \
	          "(SELECT coalesce(sum(d.amount_tiyn), 0)::bigint FROM loan d " DAY_LOANS_OF(     \
	              "$5", "t.at", "$4", "$6") ") "                                               \
	                                        "FROM t LEFT JOIN loan l ON " LOAN_BY_ID
enum approval_col {
	APPROVAL_MRP = 1,
	APPROVAL_FIRST_TIME,
	APPROVAL_AT,
	APPROVAL_TODAY,
	APPROVAL_LENDER_KIND,
	APPROVAL_DAY,
	APPROVAL_DAY_OTHERS
};
/* Today's local date in the zone tz, in days since 1970-01-01. */
#define LOCAL_TODAY(tz) "((now() AT TIME ZONE " tz "::text)::date - DATE '1970-01-01') "
/* The loan and the Idempotency-Key's stored answer: enum disburse_col after
 * the loan's columns and now. */
#define DISBURSE_CONTEXT_SQL                                                                       \
	"SELECT " LOAN_COLS_NOW ", i.loan_pk, i.status, i.body FROM loan l "                       \
	"LEFT JOIN disbursement_idempotency i ON i.lender_id = $1::text AND i.key = $3::text "     \
	"WHERE " LOAN_BY_ID
enum disburse_col { DISBURSE_IDEM_PK = 1, DISBURSE_IDEM_STATUS, DISBURSE_IDEM_BODY };

/* Columns of STMT_AUDIT_SEAL_HEAD. */
enum seal_head_col { SEAL_SEALED, SEAL_HEAD_SEQ, SEAL_HEAD_HASH, SEAL_NOW, SEAL_HEAD_SIGNED };
/* Columns of db_audit_checkpoint_stream(). */
enum checkpoint_col {
	CKPT_SEQ,
	CKPT_HASH,
	CKPT_SIGNED_AT,
	CKPT_KEY_ID,
	CKPT_SIGNATURE,
	CKPT_CHAIN_HASH
};

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
/* clang-format off */
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
/* clang-format on */
enum stats_col { STATS_BUCKETS, STATS_START, STATS_DECISION, STATS_BLOCKER, STATS_N };

/*
 * The batch forms (DB_BATCHED in db.h). Every one begins with the batch's
 * requests, cdb: the arguments' arrays side by side, one row per request,
 * the single statement's parameter n as column pn, the request's number as
 * i; the rows past the number of requests (the pool fills short arrays up
 * to DB_BATCH_PAD) are left out. The rest is written with "$n" for the
 * request's parameter n, as the single statement is, and db_batch_params()
 * makes each "cdb.pn" (batch_init, below, once at load).
 *
 * A read's form runs the read itself for each request, as a LATERAL
 * subquery: the same plan per request (one probe of an index), the same
 * rows, the request's number beside them.
 *
 * A write's form is one statement for all its requests, so one commit; its
 * locks are taken first, all of them and in one order (sql/011), by a
 * function that the statement's first scan waits for (an uncorrelated
 * subquery, so an InitPlan run once before any row is read); then each
 * request's row is written as the single write writes it, with the same
 * guard, and inserts of unique keys go in the keys' order.
 */
#define BATCH_READ_BODY " SELECT q.*, cdb.i FROM cdb CROSS JOIN LATERAL ("
#define BATCH_READ_END  ") q"

/* Approvals: the day locks of every borrower of the batch (no two
 * approvals of one borrower share a batch, db_batch_conflict), then each
 * one's day read with cd_day_loans(..., false), its loan inserted when the
 * day is still the day it was decided with, its audit event, its row. */
#define BATCH_WRITE_LOAN_INSERT                                                                                                                                                                                                                                                                                                                                                                                                                                                                  \
	", d AS (SELECT cdb.i, CASE WHEN $" DB_STR(LOAN_INSERT_DAY_TZ) "::text IS NULL THEN NULL "                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                               "  ELSE "                                                                                                                                                                                                                                                                                                                                                                                                                 \
	                                                               "cd_day_loans($3::text, "                                                                                                                                                                                                                                                                                                                                                                                                 \
	                                                               "cd_ts($15::bigint), "                                                                                                                                                                                                                                                                                                                                                                                                    \
	                                                               "$" DB_STR(                                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                   LOAN_INSERT_DAY_TZ) ":"                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       ":"                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       "t"                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       "e"                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       "x"                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       "t"                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       ","                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       " "                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       " "                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       " "                                                                                                                                                                                                                                                                                                                                                                                               \
	                                                                                       "$" DB_STR(LOAN_INSERT_DAY_LENDER) "::text, false) END AS j FROM cdb "                                                                                                                                                                                                                                                                                                                            \
	                                                                                                                          "  WHERE (SELECT cd_day_lock(array_agg(cd_day_key($3::text, cd_ts($15::bigint), "                                                                                                                                                                                                                                                                              \
	                                                                                                                          "  $" DB_STR(LOAN_INSERT_DAY_TZ) "::text))) FROM cdb)), "                                                                                                                                                                                                                                                                                                      \
	                                                                                                                                                           "ins AS (INSERT INTO loan (" LOAN_COLUMNS(                                                                                                                                                                                                                                                                                    \
	                                                                                                                                                               LOAN_INS_COL) "created_at) "                                                                                                                                                                                                                                                                                              \
	                                                                                                                                                                             "  SELECT " LOAN_COLUMNS(                                                                                                                                                                                                                                                                                   \
	                                                                                                                                                                                 LOAN_INS_VAL) "now() FROM cdb JOIN d ON d.i = cdb.i "                                                                                                                                                                                                                                                   \
	                                                                                                                                                                                               "  WHERE $" DB_STR(LOAN_INSERT_DAY_TOTAL) "::bigint IS NULL "                                                                                                                                                                                                                             \
	                                                                                                                                                                                                                                         "  OR (d.j->>'total')::bigint = $" DB_STR(LOAN_INSERT_DAY_TOTAL) "::bigint "                                                                                                                                                                    \
	                                                                                                                                                                                                                                                                                                          "  ORDER BY $1::text, $2::text "                                                                                                                                               \
	                                                                                                                                                                                                                                                                                                          "  ON CONFLICT (lender_id, loan_id) DO NOTHING RETURNING *), "                                                                                                                 \
	                                                                                                                                                                                                                                                                                                          "a AS (" AUDIT_INSERT                                                                                                                                                          \
	                                                                                                                                                                                                                                                                                                          "SELECT $" DB_STR(                                                                                                                                                             \
	                                                                                                                                                                                                                                                                                                              LOAN_INSERT_ACTOR) "::text, ins.lender_id, "                                                                                                                               \
	                                                                                                                                                                                                                                                                                                                                 "  ins.loan_id, 'approval_recorded', $" DB_STR(LOAN_INSERT_DETAIL) "::jsonb "                                                                           \
	                                                                                                                                                                                                                                                                                                                                                                                                    "  || CASE WHEN d.j IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('day_loans', "  \
	                                                                                                                                                                                                                                                                                                                                                                                                    "  (d.j->'loans') || jsonb_build_array(jsonb_build_object('lender', ins.lender_id, " \
	                                                                                                                                                                                                                                                                                                                                                                                                    "  'loan_id', ins.loan_id, 'amount', (ins.amount_tiyn / 100)::text || '.' "          \
	                                                                                                                                                                                                                                                                                                                                                                                                    "  || lpad((ins.amount_tiyn % 100)::text, 2, '0')))) END "                           \
	                                                                                                                                                                                                                                                                                                                                                                                                    "  FROM ins JOIN cdb ON ins.lender_id = $1::text AND ins.loan_id = $2::text "        \
	                                                                                                                                                                                                                                                                                                                                                                                                    "  JOIN d ON d.i = cdb.i ORDER BY cdb.i) "                                           \
	                                                                                                                                                                                                                                                                                                                                                                                                    "SELECT " LOAN_COLS_NOW                                                              \
	                                                                                                                                                                                                                                                                                                                                                                                                    ", (d.j->>'total')::bigint, cdb.i FROM cdb JOIN d ON d.i = cdb.i "                   \
	                                                                                                                                                                                                                                                                                                                                                                                                    "LEFT JOIN ins l ON l.lender_id = $1::text AND l.loan_id = $2::text"

/* Payouts: the refusal buckets and the rows of every loan of the batch (no
 * loan twice, db_batch_conflict), then STMT_DISBURSE's update, guard,
 * audit event and stored answer for each. */
#define BATCH_WRITE_DISBURSE                                                                       \
	", u AS (UPDATE loan SET disbursed_at = now() FROM cdb "                                   \
	"  WHERE (SELECT cd_gate_lock(array_agg($1::bigint)) FROM cdb) AND loan.id = $1::bigint "  \
	"  AND " GUARD " RETURNING loan.*, cdb.i AS cdb_i, $2::text AS cdb_actor, "                \
	"  $3::text AS cdb_key, $4::text AS cdb_lender, $5::jsonb AS cdb_detail), "                \
	"a AS (" AUDIT_INSERT "SELECT cdb_actor, lender_id, loan_id, 'disbursement_allowed', "     \
	"  cdb_detail FROM u ORDER BY cdb_i), "                                                    \
	"k AS (INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body) "      \
	"  SELECT cdb_lender, cdb_key, id, 200, NULL FROM u WHERE cdb_key IS NOT NULL "            \
	"  ORDER BY cdb_lender, cdb_key) "                                                         \
	"SELECT " LOAN_COLS_NOW ", l.cdb_i FROM u l"

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

_Static_assert(DB_BATCH_PAD <= DB_BATCH_MAX && DB_BATCH_MAX <= 1000, "a batch's arrays stay small");

#define AUTH_TWIN_DEF(name, n, token)                                                              \
	[STMT_AUTH_##name] = {"auth_" name##_NAME, AUTH_TWIN(name##_SQL, #token), token},
#define AUTH_TWIN_CHECK(name, n, token)                                                            \
	_Static_assert(token == n + 1, "the token_id follows the parameters of " #name);
DB_FIRST_READS(AUTH_TWIN_CHECK)
#define LOAN_GET_NAME         "loan_get"
#define APPROVAL_CONTEXT_NAME "approval_context"
#define DISBURSE_CONTEXT_NAME "disburse_context"

/* The batch forms' names ("batch_" and the single's) and SQL, written by
 * batch_init() at load. */
#define BATCH_ONE(name, n) +1
enum { STMT_BATCH__FIRST = STMT__COUNT - (0 DB_BATCHED(BATCH_ONE)) };
#undef BATCH_ONE
#define BATCH_SQL_MAX 16384
static char batch_sql[STMT__COUNT - STMT_BATCH__FIRST][BATCH_SQL_MAX];
static char batch_name[STMT__COUNT - STMT_BATCH__FIRST][64];

/* clang-format off */
const struct stmt_def db_statements[STMT__COUNT] = {
    [STMT_AUTH] = {"auth", "WITH " AUTH_CTE("1") "SELECT " AUTH_COLS " FROM a", 1},
    [STMT_SCHEMA_VERSION] = {"schema_version",
                             "SELECT coalesce(max(version), 0), now() AT TIME ZONE $1::text "
                             "FROM schema_migrations",
                             1},
    [STMT_LOAN_GET] = {LOAN_GET_NAME, LOAN_GET_SQL, 2},
    [STMT_APPROVAL_CONTEXT] = {APPROVAL_CONTEXT_NAME, APPROVAL_CONTEXT_SQL, 6},
    [STMT_LOAN_INSERT] =
        {"loan_insert",
         "WITH d AS (SELECT CASE WHEN $" DB_STR(LOAN_INSERT_DAY_TZ) "::text IS NULL THEN NULL "
         "  ELSE cd_day_loans($3::text, cd_ts($15::bigint), $" DB_STR(LOAN_INSERT_DAY_TZ) "::text, "
         "  $" DB_STR(LOAN_INSERT_DAY_LENDER) "::text, true) END AS j), "
         "ins AS (INSERT INTO loan (" LOAN_COLUMNS(LOAN_INS_COL) "created_at) "
         "  SELECT " LOAN_COLUMNS(LOAN_INS_VAL) "now() FROM d "
         "  WHERE $" DB_STR(LOAN_INSERT_DAY_TOTAL) "::bigint IS NULL "
         "  OR (d.j->>'total')::bigint = $" DB_STR(LOAN_INSERT_DAY_TOTAL) "::bigint "
         "  ON CONFLICT (lender_id, loan_id) DO NOTHING RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $" DB_STR(LOAN_INSERT_ACTOR) "::text, ins.lender_id, "
         "  ins.loan_id, 'approval_recorded', $" DB_STR(LOAN_INSERT_DETAIL) "::jsonb "
         "  || CASE WHEN d.j IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('day_loans', "
         "  (d.j->'loans') || jsonb_build_array(jsonb_build_object('lender', ins.lender_id, "
         "  'loan_id', ins.loan_id, 'amount', (ins.amount_tiyn / 100)::text || '.' "
         "  || lpad((ins.amount_tiyn % 100)::text, 2, '0')))) END FROM ins, d) "
         "SELECT " LOAN_COLS_NOW ", (d.j->>'total')::bigint FROM d LEFT JOIN ins l ON true",
         LOAN_INSERT_NPARAMS},
    [STMT_CONSENT] =
        {"consent",
         "WITH u AS (UPDATE loan SET consent_at = cd_ts($2::bigint), "
         "  cooling_ends_at = cd_ts($3::bigint) WHERE id = $1::bigint AND " CONSENT_GUARD
         "  RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $4::text, lender_id, loan_id, 'consent_recorded', "
         "  $5::jsonb FROM u) "
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
    [STMT_CANCEL] = {"cancel",
                     "WITH u AS (UPDATE loan SET cancelled_at = now(), cancel_reason = $2::text "
                     "  WHERE id = $1::bigint AND " CANCEL_GUARD " RETURNING *), "
                     "a AS (" AUDIT_INSERT "SELECT $3::text, lender_id, loan_id, 'cancelled', "
                     "  jsonb_build_object('reason', cancel_reason) FROM u) "
                     "SELECT " LOAN_COLS_NOW " FROM u l",
                     3},
    [STMT_DISBURSE_CONTEXT] = {DISBURSE_CONTEXT_NAME, DISBURSE_CONTEXT_SQL, 3},
    [STMT_DISBURSE] =
        {"disburse",
         "WITH u AS (UPDATE loan SET disbursed_at = now() WHERE id = $1::bigint AND " GUARD
         "  RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $2::text, lender_id, loan_id, 'disbursement_allowed', "
         "  $5::jsonb FROM u), "
         "k AS (INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body) "
         "  SELECT $4::text, $3::text, id, 200, NULL FROM u WHERE $3::text IS NOT NULL) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         5},
    [STMT_REFUSE] =
        {"refuse",
         "WITH a AS (" AUDIT_INSERT "VALUES ($3::text, $1::text, $2::text, "
         "  'disbursement_refused', $4::jsonb) RETURNING id), "
         "k AS (INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body) "
         "  SELECT $1::text, $5::text, $6::bigint, 409, $7::text WHERE $5::text IS NOT NULL) "
         "SELECT id FROM a",
         7},
    [STMT_LOCAL_DATE] = {"local_date", "SELECT " LOCAL_TODAY("$1"), 1},
    [STMT_BORROWER_LOANS] = {"borrower_loans",
                             "SELECT " LOAN_COLS_NOW " FROM loan l "
                             "WHERE l.borrower_iin = $1::text "
                             "AND ($2::text IS NULL OR l.lender_id = $2::text) "
                             "ORDER BY l.approved_at DESC, l.id DESC "
                             "LIMIT " DB_STR(DB_BORROWER_MAX_LOANS),
                             2},
    [STMT_LOANS_LIST] = {"loans_list",
                         "SELECT " LOAN_COLS_NOW " FROM loan l WHERE " LOANS_LIST_WHERE
                         "ORDER BY l.approved_at DESC, l.id DESC LIMIT $6::integer",
                         6},
    [STMT_LOANS_LIST_LENDER] = {"loans_list_lender",
                                "SELECT " LOAN_COLS_NOW " FROM loan l WHERE " LOANS_LIST_WHERE
                                "AND l.lender_id = $7::text "
                                "ORDER BY l.approved_at DESC, l.id DESC LIMIT $6::integer",
                                7},
    [STMT_AUDIT_SEAL] = {"audit_seal", "SELECT cd_audit_seal($1::integer)", 1},
    [STMT_AUDIT_LIST] = {"audit_list",
                         "SELECT " AUDIT_COLS " FROM audit_chain c "
                         "JOIN audit_event e ON e.id = c.event_id "
                         "WHERE c.seq > $1::bigint ORDER BY c.seq LIMIT $2::integer",
                         2},
    [STMT_AUDIT_SEAL_HEAD] = {"audit_seal_head",
                              "SELECT sealed, head_seq, encode(head_hash, 'hex'), now_us, signed "
                              "FROM cd_audit_seal_head($1::integer, $2::text)",
                              2},
    /* Only a checkpoint of what the chain holds: a signer that read a head
     * which is gone (a restore) adds nothing. */
    [STMT_AUDIT_CHECKPOINT_ADD] = {"audit_checkpoint_add",
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
    [STMT_AUDIT_UNSEALED] = {"audit_unsealed",
                             "SELECT count(*) FROM (SELECT 1 FROM audit_event a "
                             "WHERE (a.txid, a.id) > ("
                             "coalesce((SELECT c.txid FROM audit_chain c "
                             "ORDER BY c.seq DESC LIMIT 1), '0'::xid8), "
                             "coalesce((SELECT c.event_id FROM audit_chain c "
                             "ORDER BY c.seq DESC LIMIT 1), 0)) "
                             "LIMIT $1::integer) u",
                             1},
    [STMT_RECONFIRM] =
        {"reconfirm",
         "WITH u AS (UPDATE loan SET reconfirmed_at = cd_ts($2::bigint) "
         "  WHERE id = $1::bigint AND " RECONFIRM_GUARD " RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $3::text, lender_id, loan_id, 'reconfirmation_recorded', "
         "  $4::jsonb FROM u) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         4},
    [STMT_EXTRA_CONFIRM] =
        {"extra_confirm",
         "WITH u AS (UPDATE loan SET extra_confirmed_at = cd_ts($2::bigint), "
         "  extra_confirmation_method = $3::text "
         "  WHERE id = $1::bigint AND " EXTRA_CONFIRM_GUARD " RETURNING *), "
         "a AS (" AUDIT_INSERT "SELECT $4::text, lender_id, loan_id, "
         "  'extra_confirmation_recorded', $5::jsonb FROM u) "
         "SELECT " LOAN_COLS_NOW " FROM u l",
         5},
    [STMT_REFUSAL_GET] = {"refusal_get", REFUSAL_GET_SQL, 2},
    [STMT_REFUSAL_PUT] = {"refusal_put", REFUSAL_PUT_SQL, 6},

    [STMT_LOAN_EVENTS] = {"loan_events", LOAN_EVENTS_SQL, 4},
    [STMT_DECISION_STATS] = {"decision_stats", DECISION_STATS_SQL, 5},
    DB_FIRST_READS(AUTH_TWIN_DEF)
#define BATCH_DEF(name, n)                                                                         \
	[STMT_BATCH_##name] = {batch_name[STMT_BATCH_##name - STMT_BATCH__FIRST],                  \
	                       batch_sql[STMT_BATCH_##name - STMT_BATCH__FIRST], n + 1},
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

size_t db_batch_params(char *buf, size_t size, const char *sql)
{
	size_t len = 0;
	for (const char *c = sql; *c; c++) {
		if (c[0] == '$' && c[1] >= '0' && c[1] <= '9') {
			for (const char *t = "cdb.p"; *t; t++) {
				if (len + 1 < size)
					buf[len] = *t;
				len++;
			}
			continue;
		}
		if (len + 1 < size)
			buf[len] = *c;
		len++;
	}
	if (size > 0)
		buf[len < size ? len : size - 1] = '\0';
	return len;
}

/* The requests of a batch: the single statement's np parameters as the
 * columns p1..pnp of cdb, the request's number as i. */
static size_t batch_head(char *buf, size_t size, int np)
{
	size_t len = (size_t)snprintf(buf, size, "WITH cdb AS (SELECT * FROM unnest(");
	for (int k = 1; k <= np; k++)
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s$%d::text[]",
		                        k > 1 ? ", " : "", k);
	len += (size_t)snprintf(buf + len, len < size ? size - len : 0, ") WITH ORDINALITY AS u(");
	for (int k = 1; k <= np; k++)
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "p%d, ", k);
	len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
	                        "i) WHERE u.i <= $%d::bigint)", np + 1);
	return len;
}

/* Writes the SQL of every batch form, from the single read (DB_BATCHED_READS)
 * or the write's own (BATCH_WRITE_*), once, before main(): db_statements
 * points at it. A form that does not fit, or a parameter count of db.h that
 * is not the statement's, is a fault of this file, and stops the program at
 * once (every test would fail). */
static void batch_write(enum stmt bst, enum stmt st, int np, const char *body_pre, const char *body,
                        const char *body_post)
{
	char *buf = batch_sql[bst - STMT_BATCH__FIRST];
	size_t size = BATCH_SQL_MAX;
	if (db_statements[st].nparams != np || db_statements[bst].nparams != np + 1) {
		fprintf(stderr, "db.c: %s: parameters disagree with DB_BATCHED\n",
		        db_statements[st].name);
		abort();
	}
	snprintf(batch_name[bst - STMT_BATCH__FIRST], sizeof(batch_name[0]), "batch_%s",
	         db_statements[st].name);
	size_t len = batch_head(buf, size, np);
	len += db_batch_params(buf + len, len < size ? size - len : 0, body_pre);
	len += db_batch_params(buf + len, len < size ? size - len : 0, body);
	len += db_batch_params(buf + len, len < size ? size - len : 0, body_post);
	if (len >= size) {
		fprintf(stderr, "db.c: %s: batch form longer than BATCH_SQL_MAX\n",
		        db_statements[st].name);
		abort();
	}
}

__attribute__((constructor)) static void batch_init(void)
{
#define BATCH_READ_INIT(name, n)                                                                   \
	batch_write(STMT_BATCH_##name, STMT_##name, n, BATCH_READ_BODY,                            \
	            db_statements[STMT_##name].sql, BATCH_READ_END);
	DB_BATCHED_READS(BATCH_READ_INIT)
#undef BATCH_READ_INIT
#define BATCH_WRITE_INIT(name, n)                                                                  \
	batch_write(STMT_BATCH_##name, STMT_##name, n, "", BATCH_WRITE_##name, "");
	DB_BATCHED_WRITES(BATCH_WRITE_INIT)
#undef BATCH_WRITE_INIT
}

/* Two parameters of two requests, both given and equal. */
static bool same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

bool db_batch_conflict(enum stmt st, const char *const *a, const char *const *b)
{
	switch (st) {
	case STMT_LOAN_INSERT: /* $1 lender, $2 loan_id, $3 borrower */
		return same(a[2], b[2]) || (same(a[0], b[0]) && same(a[1], b[1]));
	case STMT_DISBURSE: /* $1 loan, $3 key, $4 the key's lender */
		return same(a[0], b[0]) || (same(a[2], b[2]) && same(a[3], b[3]));
	case STMT_REFUSE: /* $1 lender, $5 key */
		return same(a[0], b[0]) && same(a[4], b[4]);
	default:
		return false;
	}
}

size_t db_array_literal(char *buf, size_t size, const char *const *values, int n)
{
	size_t len = 0;
#define PUT(ch)                                                                                    \
	do {                                                                                       \
		if (len + 1 < size)                                                                \
			buf[len] = (ch);                                                           \
		len++;                                                                             \
	} while (0)
	PUT('{');
	for (int i = 0; i < n; i++) {
		if (i > 0)
			PUT(',');
		if (values[i] == NULL) {
			for (const char *t = "NULL"; *t; t++)
				PUT(*t);
			continue;
		}
		/* quoted, so that no value reads as NULL, a separator or braces;
		 * inside quotes only the quote and the backslash need escaping */
		PUT('"');
		for (const char *v = values[i]; *v; v++) {
			if (*v == '"' || *v == '\\')
				PUT('\\');
			PUT(*v);
		}
		PUT('"');
	}
	PUT('}');
#undef PUT
	if (size > 0)
		buf[len < size ? len : size - 1] = '\0';
	return len;
}

/* At most this many columns in a batch's result: the widest is a first
 * read's twin, the client's and the loan's columns, now, the read's own
 * (enum approval_col, enum disburse_col) and the request's number. */
#define BATCH_MAX_COLS (AUTH_NCOLS + LOAN_NCOLS + 2 + APPROVAL_DAY_OTHERS)
_Static_assert((int)DISBURSE_IDEM_BODY <= (int)APPROVAL_DAY_OTHERS, "the widest first read");

bool db_batch_split(const PGresult *b, int n, PGresult **out)
{
	int nf = PQnfields(b) - 1; /* without the request's number */
	if (PQresultStatus(b) != PGRES_TUPLES_OK || nf < 1 || nf >= BATCH_MAX_COLS || n < 1)
		return false;
	PGresAttDesc att[BATCH_MAX_COLS];
	for (int f = 0; f < nf; f++)
		att[f] = (PGresAttDesc){.name = PQfname(b, f),
		                        .tableid = PQftable(b, f),
		                        .columnid = PQftablecol(b, f),
		                        .format = PQfformat(b, f),
		                        .typid = PQftype(b, f),
		                        .typlen = PQfsize(b, f),
		                        .atttypmod = PQfmod(b, f)};
	int made = 0;
	bool ok = true;
	for (; ok && made < n; made++) {
		out[made] = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
		ok = out[made] != NULL && PQsetResultAttrs(out[made], nf, att);
		if (out[made] == NULL)
			break;
	}
	for (int r = 0; ok && r < PQntuples(b); r++) {
		char *end;
		long k = strtol(PQgetvalue(b, r, nf), &end, 10);
		if (*end != '\0' || k < 1 || k > n) {
			ok = false;
			break;
		}
		PGresult *o = out[k - 1];
		int row = PQntuples(o);
		for (int f = 0; ok && f < nf; f++)
			ok = PQgetisnull(b, r, f)
			         ? PQsetvalue(o, row, f, NULL, -1)
			         : PQsetvalue(o, row, f, PQgetvalue(b, r, f), PQgetlength(b, r, f));
	}
	if (!ok)
		for (int i = 0; i < made; i++)
			PQclear(out[i]);
	return ok;
}

/* ---- cells ---- */

static int64_t db_int(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return TS_NULL;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int64_t db_ts(const PGresult *r, int row, int col)
{
	return db_int(r, row, col);
}

static bool db_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

/* NULL for SQL NULL. */
static const char *db_text_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static void copy_text(const PGresult *r, int row, int col, char *out, size_t size)
{
	snprintf(out, size, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* Where the loan's columns start: after the client's in a twin's result. */
static int loan_col0(const PGresult *r)
{
	return PQnfields(r) > 0 && strcmp(PQfname(r, 0), AUTH_COL0) == 0 ? AUTH_NCOLS : 0;
}

/* ---- typed rows ---- */

static bool loan_from_row(const PGresult *r, int row, int c, struct loan *l)
{
	if (row >= PQntuples(r) || PQnfields(r) < c + LOAN_NCOLS + 1 ||
	    PQgetisnull(r, row, c + LOAN_COL_pk))
		return false;
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < LOAN_NCOLS; i++) {
		const struct loan_col_def *d = &loan_cols[i];
		void *f = (char *)l + d->offset;
		int col = c + i;
		switch (d->kind) {
		case KIND_TEXT:
			copy_text(r, row, col, f, d->size);
			break;
		case KIND_INT:
		case KIND_TS:
			*(int64_t *)f = db_int(r, row, col);
			break;
		case KIND_PERIOD:
			/* NULL exactly when not cooled (a CHECK of the table) */
			*(int64_t *)f = PQgetisnull(r, row, col) ? 0 : db_int(r, row, col);
			break;
		case KIND_BOOL:
		case KIND_READ:
			*(bool *)f = db_bool(r, row, col);
			break;
		case KIND_CHANNEL:
			channel_parse(PQgetvalue(r, row, col), f);
			break;
		case KIND_PRODUCT:
		case KIND_LKIND:
		case KIND_EXEMPTION:
		case KIND_RULE: {
			int index = 0;
			if (!PQgetisnull(r, row, col))
				name_lookup(kind_names[d->kind], PQgetvalue(r, row, col), &index);
			*(int *)f = index;
			break;
		}
		}
	}
	return true;
}

bool db_loan_row(const PGresult *r, int row, struct loan *l, int64_t *now)
{
	int c = loan_col0(r);
	if (!loan_from_row(r, row, c, l))
		return false;
	if (now != NULL)
		*now = db_ts(r, row, c + LOAN_NCOLS);
	return true;
}

bool db_auth_row(const PGresult *r, struct db_auth_row *a)
{
	if (PQntuples(r) < 1 || PQnfields(r) < AUTH_NCOLS || PQgetisnull(r, 0, AUTH_TOKEN_HASH) ||
	    !token_hash_from_bytea_text(PQgetvalue(r, 0, AUTH_TOKEN_HASH), a->token_hash))
		return false;
	a->name = PQgetvalue(r, 0, AUTH_NAME);
	a->role = PQgetvalue(r, 0, AUTH_ROLE);
	a->lender = PQgetvalue(r, 0, AUTH_LENDER); /* "" when NULL */
	return true;
}

bool db_approval_context(const PGresult *r, struct approval_context *ctx)
{
	int c = loan_col0(r);
	if (PQntuples(r) != 1 || PQnfields(r) < c + LOAN_NCOLS + APPROVAL_DAY_OTHERS + 1)
		return false;
	memset(ctx, 0, sizeof(*ctx));
	int n = c + LOAN_NCOLS; /* now, then enum approval_col */
	ctx->now = db_ts(r, 0, n);
	ctx->exists = loan_from_row(r, 0, c, &ctx->existing);
	ctx->has_mrp = !PQgetisnull(r, 0, n + APPROVAL_MRP);
	ctx->mrp_tenge = db_int(r, 0, n + APPROVAL_MRP);
	ctx->first_time_derived = db_bool(r, 0, n + APPROVAL_FIRST_TIME);
	ctx->approved_at = db_ts(r, 0, n + APPROVAL_AT);
	ctx->today_days = db_int(r, 0, n + APPROVAL_TODAY);
	ctx->has_lender = !PQgetisnull(r, 0, n + APPROVAL_LENDER_KIND);
	int kind = LENDER_BANK;
	if (ctx->has_lender)
		name_lookup(&lender_kind_names, PQgetvalue(r, 0, n + APPROVAL_LENDER_KIND), &kind);
	ctx->lender_kind = kind;
	ctx->approval_day = db_int(r, 0, n + APPROVAL_DAY);
	ctx->day_others_tiyn = db_int(r, 0, n + APPROVAL_DAY_OTHERS);
	return true;
}

bool db_loan_insert_result(const PGresult *r, struct loan *l, int64_t *now, int64_t *day_total)
{
	*day_total = PQntuples(r) == 1 && PQnfields(r) > LOAN_NCOLS + 1
	                 ? db_int(r, 0, LOAN_NCOLS + 1)
	                 : TS_NULL;
	return db_loan_row(r, 0, l, now);
}

bool db_disburse_context(const PGresult *r, struct loan *l, int64_t *now,
                         struct idempotency_record *k)
{
	int c = loan_col0(r);
	memset(k, 0, sizeof(*k));
	if (PQntuples(r) != 1 || PQnfields(r) < c + LOAN_NCOLS + DISBURSE_IDEM_BODY + 1 ||
	    !loan_from_row(r, 0, c, l))
		return false;
	int n = c + LOAN_NCOLS; /* now, then enum disburse_col */
	*now = db_ts(r, 0, n);
	k->found = !PQgetisnull(r, 0, n + DISBURSE_IDEM_PK);
	if (k->found) {
		k->loan_pk = db_int(r, 0, n + DISBURSE_IDEM_PK);
		k->status = (int)db_int(r, 0, n + DISBURSE_IDEM_STATUS);
		k->body = db_text_or_null(r, 0, n + DISBURSE_IDEM_BODY);
	}
	return true;
}

int64_t db_schema_version_of(const PGresult *r)
{
	return PQntuples(r) == 1 ? db_int(r, 0, 0) : -1;
}

int64_t db_local_date_of(const PGresult *r)
{
	return PQntuples(r) == 1 ? db_int(r, 0, 0) : TS_NULL;
}

int64_t db_sealed_of(const PGresult *r)
{
	return PQntuples(r) == 1 ? db_int(r, 0, 0) : 0;
}

bool db_audit_head_row(const PGresult *r, struct audit_head *h)
{
	if (PQntuples(r) != 1)
		return false;
	h->sealed = db_int(r, 0, SEAL_SEALED);
	h->seq = PQgetisnull(r, 0, SEAL_HEAD_SEQ) ? 0 : db_int(r, 0, SEAL_HEAD_SEQ);
	snprintf(h->hash, sizeof(h->hash), "%s", PQgetvalue(r, 0, SEAL_HEAD_HASH));
	h->now_us = db_int(r, 0, SEAL_NOW);
	h->signed_by_key = db_bool(r, 0, SEAL_HEAD_SIGNED);
	return true;
}

bool db_audit_event_row(const PGresult *r, int row, struct db_audit_event *e)
{
	/* a NULL seq: STMT_LOAN_EVENTS's row of a loan without sealed events */
	if (row >= PQntuples(r) || PQnfields(r) < AUDIT_HASH + 1 || PQgetisnull(r, row, AUDIT_SEQ))
		return false;
	e->seq = db_int(r, row, AUDIT_SEQ);
	e->at = db_ts(r, row, AUDIT_AT);
	e->actor = PQgetvalue(r, row, AUDIT_ACTOR);
	e->lender = db_text_or_null(r, row, AUDIT_LENDER);
	e->loan_id = db_text_or_null(r, row, AUDIT_LOAN);
	e->type = PQgetvalue(r, row, AUDIT_TYPE);
	e->detail = PQgetvalue(r, row, AUDIT_DETAIL);
	e->hash = PQgetvalue(r, row, AUDIT_HASH);
	e->missing = PQnfields(r) > AUDIT_EVENT_MISSING && db_bool(r, row, AUDIT_EVENT_MISSING);
	return true;
}

bool db_loan_events_found(const PGresult *r)
{
	return PQntuples(r) > 0;
}

int64_t db_decision_buckets_of(const PGresult *r)
{
	return PQntuples(r) > 0 ? db_int(r, 0, STATS_BUCKETS) : 0;
}

bool db_decision_row(const PGresult *r, int row, struct decision_count *c)
{
	if (row >= PQntuples(r) || PQnfields(r) < STATS_N + 1 || PQgetisnull(r, row, STATS_START))
		return false;
	c->start = db_ts(r, row, STATS_START);
	c->decision = db_text_or_null(r, row, STATS_DECISION);
	c->blocker = db_text_or_null(r, row, STATS_BLOCKER);
	c->n = PQgetisnull(r, row, STATS_N) ? 0 : db_int(r, row, STATS_N);
	return true;
}

static void checkpoint_row(const PGresult *r, int row, struct db_checkpoint_row *k)
{
	k->seq = db_int(r, row, CKPT_SEQ);
	k->hash = PQgetvalue(r, row, CKPT_HASH);
	k->signed_at = db_ts(r, row, CKPT_SIGNED_AT);
	k->key_id = PQgetvalue(r, row, CKPT_KEY_ID);
	k->signature = PQgetvalue(r, row, CKPT_SIGNATURE);
	k->chain_hash = db_text_or_null(r, row, CKPT_CHAIN_HASH);
}

bool db_mrp_row(const PGresult *r, int row, struct db_mrp_row *m)
{
	if (row >= PQntuples(r))
		return false;
	m->valid_from = PQgetvalue(r, row, 0);
	m->tenge = db_int(r, row, 1);
	return true;
}

struct refusal_change *db_refusal_rows(const PGresult *r, size_t *n, struct db_refusal_meta *m)
{
	*n = 0;
	memset(m, 0, sizeof(*m));
	m->now = TS_NULL;
	m->today_days = TS_NULL;
	int rows = PQntuples(r);
	if (rows < 1 || PQnfields(r) < REFUSAL_NCOLS)
		return NULL;
	m->now = db_ts(r, 0, REFUSAL_NOW);
	m->today_days = db_int(r, 0, REFUSAL_TODAY);
	struct refusal_change *c = calloc((size_t)rows, sizeof(*c));
	if (c == NULL)
		return NULL;
	for (int i = 0; i < rows; i++) {
		if (PQgetisnull(r, i, REFUSAL_SEQ))
			continue; /* the GET's row of an IIN without changes */
		struct refusal_change *x = &c[*n];
		x->seq = db_int(r, i, REFUSAL_SEQ);
		x->active = db_bool(r, i, REFUSAL_ACTIVE);
		x->effective_at = db_ts(r, i, REFUSAL_EFFECTIVE_AT);
		x->source = PQgetvalue(r, i, REFUSAL_SOURCE);
		x->reference = db_text_or_null(r, i, REFUSAL_REFERENCE);
		x->recorded_at = db_ts(r, i, REFUSAL_RECORDED_AT);
		m->inserted = m->inserted || db_bool(r, i, REFUSAL_IS_NEW);
		(*n)++;
	}
	if (*n == 0) {
		free(c);
		return NULL;
	}
	return c;
}

/* ---- statement parameters ---- */

const char *const *db_loan_insert_params(struct db_params *p, const struct loan *l,
                                         const char *actor, const char *detail)
{
	memset(p->v, 0, sizeof(p->v));
	for (int i = 0; i < LOAN_NCOLS; i++) {
		const struct loan_col_def *d = &loan_cols[i];
		if (d->param == 0)
			continue;
		const void *f = (const char *)l + d->offset;
		const char **v = &p->v[d->param - 1];
		switch (d->kind) {
		case KIND_TEXT:
			*v = f;
			break;
		case KIND_INT:
		case KIND_TS:
			*v = db_num(&p->num[d->param - 1], *(const int64_t *)f);
			break;
		case KIND_PERIOD:
			*v = l->cooling_required
			         ? db_num(&p->num[d->param - 1], *(const int64_t *)f)
			         : NULL;
			break;
		case KIND_BOOL:
			*v = *(const bool *)f ? "true" : "false";
			break;
		case KIND_CHANNEL:
			*v = channel_name(*(const enum channel *)f);
			break;
		case KIND_PRODUCT:
		case KIND_LKIND:
		case KIND_EXEMPTION:
		case KIND_RULE: {
			const char *name = name_of(kind_names[d->kind], *(const int *)f);
			*v = name[0] != '\0' ? name : NULL;
			break;
		}
		case KIND_READ:
			break; /* never inserted */
		}
	}
	p->v[LOAN_INSERT_ACTOR - 1] = actor;
	p->v[LOAN_INSERT_DETAIL - 1] = detail;
	p->v[LOAN_INSERT_DAY_TZ - 1] = NULL;
	p->v[LOAN_INSERT_DAY_LENDER - 1] = NULL;
	p->v[LOAN_INSERT_DAY_TOTAL - 1] = NULL;
	return p->v;
}

const char *const *db_loan_insert_day_params(struct db_params *p, const struct loan *l,
                                             const char *actor, const char *detail,
                                             const struct db_day *day)
{
	db_loan_insert_params(p, l, actor, detail);
	if (day == NULL || day->tz == NULL)
		return p->v;
	p->v[LOAN_INSERT_DAY_TZ - 1] = day->tz;
	p->v[LOAN_INSERT_DAY_LENDER - 1] = day->lender;
	p->v[LOAN_INSERT_DAY_TOTAL - 1] =
	    db_num(&p->num[LOAN_INSERT_DAY_TOTAL - 1], day->others_tiyn);
	return p->v;
}

const char *const *db_params_loan_get(struct db_params *p, const char *lender, const char *loan_id,
                                      const char *token_id)
{
	p->v[0] = lender;
	p->v[1] = loan_id;
	p->v[2] = token_id;
	return p->v;
}

const char *const *db_params_approval_context(struct db_params *p, const char *lender,
                                              const struct approval_req *a, const char *tz,
                                              const char *day_lender, const char *token_id)
{
	p->v[0] = lender;
	p->v[1] = a->loan_id;
	p->v[2] = db_num(&p->num[0], a->approved_at);
	p->v[3] = tz;
	p->v[4] = a->borrower_iin;
	p->v[5] = day_lender;
	p->v[6] = token_id;
	return p->v;
}

const char *const *db_params_disburse_context(struct db_params *p, const char *lender,
                                              const char *loan_id, const char *key,
                                              const char *token_id)
{
	p->v[0] = lender;
	p->v[1] = loan_id;
	p->v[2] = key;
	p->v[3] = token_id;
	return p->v;
}

const char *const *db_params_consent(struct db_params *p, const struct loan *l,
                                     const struct act_outcome *o, const char *actor,
                                     const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = db_num(&p->num[2], o->cooling_ends_at);
	p->v[3] = actor;
	p->v[4] = detail;
	return p->v;
}

const char *const *db_params_verify(struct db_params *p, const struct loan *l,
                                    const struct act_outcome *o, const struct verification_req *q,
                                    const char *actor, const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = q->branch_id;
	p->v[3] = q->officer_id;
	p->v[4] = actor;
	p->v[5] = detail;
	return p->v;
}

const char *const *db_params_cancel(struct db_params *p, const struct loan *l,
                                    const struct cancellation_req *q, const char *actor)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = q->reason;
	p->v[2] = actor;
	return p->v;
}

const char *const *db_params_reconfirm(struct db_params *p, const struct loan *l,
                                       const struct act_outcome *o, const char *actor,
                                       const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = actor;
	p->v[3] = detail;
	return p->v;
}

const char *const *db_params_extra_confirm(struct db_params *p, const struct loan *l,
                                           const struct act_outcome *o,
                                           const struct extra_confirmation_req *q,
                                           const char *actor, const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = name_of(&extra_method_names, (int)q->method);
	p->v[3] = actor;
	p->v[4] = detail;
	return p->v;
}

const char *const *db_params_disburse(struct db_params *p, const struct loan *l, const char *actor,
                                      const char *key, const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = actor;
	p->v[2] = key;
	p->v[3] = l->lender;
	p->v[4] = detail;
	return p->v;
}

const char *const *db_params_refuse(struct db_params *p, const struct loan *l, const char *actor,
                                    const char *detail, const char *key, const char *body)
{
	p->v[0] = l->lender;
	p->v[1] = l->loan_id;
	p->v[2] = actor;
	p->v[3] = detail;
	p->v[4] = key;
	p->v[5] = db_num(&p->num[0], l->pk);
	p->v[6] = body;
	return p->v;
}

const char *const *db_params_refusal_put(struct db_params *p, const struct refusal_req *q,
                                         const char *actor)
{
	p->v[0] = q->iin;
	p->v[1] = q->active ? "true" : "false";
	p->v[2] = db_num(&p->num[0], q->effective_at);
	p->v[3] = q->source;
	p->v[4] = q->has_reference ? q->reference : NULL;
	p->v[5] = actor;
	return p->v;
}

const char *db_num(struct db_num *buf, int64_t v)
{
	if (v == TS_NULL)
		return NULL;
	snprintf(buf->s, sizeof(buf->s), "%lld", (long long)v);
	return buf->s;
}

const char *db_sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

bool db_error_is_unavailable(const PGresult *r)
{
	const char *s = db_sqlstate(r);
	/* 08: connection exception; 57P: operator intervention (shutdown);
	 * 53: insufficient resources; 57014: statement timeout; 40: a
	 * serialization failure or deadlock, safe to retry. */
	return s[0] == '\0' || strncmp(s, "08", 2) == 0 || strncmp(s, "57P", 3) == 0 ||
	       strncmp(s, "53", 2) == 0 || strcmp(s, "57014") == 0 || strncmp(s, "40", 2) == 0;
}

bool db_error_is_unique_violation(const PGresult *r)
{
	return r != NULL && strcmp(db_sqlstate(r), "23505") == 0;
}

bool db_error_is_unknown_timezone(const PGresult *r)
{
	const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	return r != NULL && strcmp(db_sqlstate(r), "22023") == 0 && msg != NULL &&
	       strncmp(msg, "time zone", 9) == 0;
}

/* ---- synchronous use ---- */

static bool sync_result_ok(PGresult *r, struct cd_error *err, const char *what)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return true;
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	cd_error_set(err, 500, "database_error", "", "%s: %s", what, msg ? msg : PQresStatus(st));
	return false;
}

PGconn *db_connect(const char *url, struct cd_error *err)
{
	const char *keys[] = {"dbname", "options", "fallback_application_name", NULL};
	const char *vals[] = {url, "-c TimeZone=UTC", "coolingctl", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		msg[strcspn(msg, "\n")] = '\0';
		cd_error_set(err, 503, "unavailable", "", "cannot connect to the database: %s",
		             msg);
		PQfinish(c);
		return NULL;
	}
	return c;
}

bool db_prepare_all(PGconn *c, struct cd_error *err)
{
	for (int i = 0; i < STMT__COUNT; i++) {
		PGresult *r = PQprepare(c, db_statements[i].name, db_statements[i].sql,
		                        db_statements[i].nparams, NULL);
		bool ok = sync_result_ok(r, err, db_statements[i].name);
		PQclear(r);
		if (!ok)
			return false;
	}
	return true;
}

static bool exec_ok(PGconn *c, const char *sql, struct cd_error *err)
{
	PGresult *r = PQexec(c, sql);
	bool ok = sync_result_ok(r, err, sql);
	PQclear(r);
	return ok;
}

int db_schema_version(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	int v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* An arbitrary constant: the advisory lock that serialises migrations. */
#define MIGRATION_LOCK "7301126001"

bool db_migrate(PGconn *c, const char *sql_dir, int *applied, struct cd_error *err)
{
	(void)sql_dir;
	*applied = 0;
	if (!exec_ok(c, "SET client_min_messages = warning", err) ||
	    !exec_ok(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", err))
		return false;
	bool ok = exec_ok(c,
	                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                  " version integer PRIMARY KEY, name text NOT NULL,"
	                  " applied_at timestamptz NOT NULL DEFAULT now())",
	                  err);
	int current = ok ? db_schema_version(c) : -1;
	for (int i = 0; ok && i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		if (m->version <= current)
			continue;
		char ver[16];
		snprintf(ver, sizeof(ver), "%d", m->version);
		const char *params[2] = {ver, m->name};
		ok = exec_ok(c, "BEGIN", err);
		if (ok) {
			PGresult *r = PQexec(c, m->sql);
			ok = sync_result_ok(r, err, m->name);
			PQclear(r);
		}
		if (ok) {
			PGresult *r = PQexecParams(
			    c, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
			    NULL, params, NULL, NULL, 0);
			ok = sync_result_ok(r, err, "schema_migrations");
			PQclear(r);
		}
		if (ok)
			ok = exec_ok(c, "COMMIT", err);
		else
			PQclear(PQexec(c, "ROLLBACK"));
		if (ok)
			(*applied)++;
	}
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")"));
	return ok;
}

/* Runs one parameterised statement; on a unique violation sets a 409 with
 * the given message. */
static PGresult *run(PGconn *c, const char *sql, int n, const char *const *params, const char *what,
                     const char *conflict_msg, struct cd_error *err)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	if (conflict_msg != NULL && strcmp(db_sqlstate(r), "23505") == 0)
		cd_error_set(err, 409, "conflict", "", "%s", conflict_msg);
	else if (strcmp(db_sqlstate(r), "23503") == 0)
		cd_error_set(err, 404, "not_found", "", "%s: a referenced row does not exist",
		             what);
	else
		sync_result_ok(r, err, what);
	PQclear(r);
	return NULL;
}

bool db_lender_add(PGconn *c, const char *id, const char *kind, const char *name, const char *actor,
                   struct cd_error *err)
{
	const char *p[] = {id, kind, name, actor};
	PGresult *r = run(c,
	                  "WITH ins AS (INSERT INTO lender (id, kind, name) "
	                  "  VALUES ($1::text, $2::text, $3::text) RETURNING *) " AUDIT_INSERT
	                  "SELECT $4::text, id, NULL, 'lender_added', "
	                  "  jsonb_build_object('kind', kind, 'name', name) FROM ins",
	                  4, p, "lender add", "a lender with this id exists already", err);
	if (r == NULL)
		return false;
	PQclear(r);
	return true;
}

bool db_client_add(PGconn *c, const char *name, const char *role, const char *lender,
                   const char *actor, char *token, size_t token_size, struct cd_error *err)
{
	char tok[TOKEN_BUF], tok_id[TOKEN_ID_BUF];
	if (!token_generate(tok, tok_id))
		return cd_error_set(err, 500, "internal_error", "", "no randomness for a token");
	unsigned char hash[TOKEN_HASH_LEN];
	token_hash(tok, hash);
	char hex[2 + 2 * TOKEN_HASH_LEN + 1] = "\\x"; /* bytea's text form */
	hex_encode(hash, TOKEN_HASH_LEN, hex + 2);
	const char *p[] = {name, role, lender, tok_id, hex, actor};
	PGresult *r = run(c,
	                  "WITH ins AS (INSERT INTO api_client (name, role, lender_id, token_id, "
	                  "  token_hash) VALUES ($1::text, $2::text, $3::text, $4::text, "
	                  "  $5::bytea) RETURNING *) " AUDIT_INSERT
	                  "SELECT $6::text, lender_id, NULL, 'client_added', "
	                  "  jsonb_build_object('name', name, 'role', role) FROM ins",
	                  6, p, "client add", "a client with this name exists already", err);
	if (r == NULL && err->status == 404) /* the only reference is to the lender */
		return cd_error_set(err, 404, "not_found", "", "no lender %s", lender);
	if (r == NULL)
		return false;
	PQclear(r);
	snprintf(token, token_size, "%s", tok);
	return true;
}

bool db_client_revoke(PGconn *c, const char *name, const char *actor, struct cd_error *err)
{
	const char *p[] = {name, actor};
	PGresult *r =
	    run(c,
	        "WITH u AS (UPDATE api_client SET revoked_at = now() "
	        "  WHERE name = $1::text AND revoked_at IS NULL RETURNING *), "
	        "a AS (" AUDIT_INSERT "SELECT $2::text, lender_id, NULL, 'client_revoked', "
	        "  jsonb_build_object('name', name) FROM u) "
	        "SELECT count(*) FROM u",
	        2, p, "client revoke", NULL, err);
	if (r == NULL)
		return false;
	bool found = atoi(PQgetvalue(r, 0, 0)) == 1;
	PQclear(r);
	if (!found)
		return cd_error_set(err, 404, "not_found", "", "no active client named %s", name);
	return true;
}

bool db_mrp_set(PGconn *c, const char *date, int64_t tenge, const char *actor, struct cd_error *err)
{
	struct db_num n;
	const char *p[] = {date, db_num(&n, tenge), actor};
	PGresult *r = run(c,
	                  "WITH up AS (INSERT INTO mrp (valid_from, tenge) "
	                  "  VALUES ($1::date, $2::integer) ON CONFLICT (valid_from) DO UPDATE "
	                  "  SET tenge = excluded.tenge, set_at = now() RETURNING *) " AUDIT_INSERT
	                  "SELECT $3::text, NULL, NULL, 'mrp_set', "
	                  "  jsonb_build_object('valid_from', valid_from, 'tenge', tenge) FROM up",
	                  3, p, "mrp set", NULL, err);
	if (r == NULL)
		return false;
	PQclear(r);
	return true;
}

PGresult *db_mrp_list(PGconn *c, struct cd_error *err)
{
	return run(c, "SELECT valid_from::text, tenge FROM mrp ORDER BY valid_from", 0, NULL,
	           "mrp list", NULL, err);
}

bool db_loan_get(PGconn *c, const char *lender, const char *loan_id, struct loan *l, int64_t *now,
                 struct cd_error *err)
{
	const char *p[] = {lender, loan_id};
	PGresult *r = run(c, db_statements[STMT_LOAN_GET].sql, 2, p, "loan show", NULL, err);
	if (r == NULL)
		return false;
	bool found = PQntuples(r) == 1 && db_loan_row(r, 0, l, now);
	PQclear(r);
	if (!found)
		return cd_error_set(err, 404, "not_found", "", "no loan %s of lender %s", loan_id,
		                    lender);
	return true;
}

PGresult *db_borrower_loans(PGconn *c, const char *iin, const char *lender, struct cd_error *err)
{
	const char *p[] = {iin, lender};
	return run(c, db_statements[STMT_BORROWER_LOANS].sql, 2, p, "borrower", NULL, err);
}

bool db_local_date(PGconn *c, const char *tz, int64_t *days, struct cd_error *err)
{
	const char *p[] = {tz};
	PGresult *r = run(c, db_statements[STMT_LOCAL_DATE].sql, 1, p, "local_date", NULL, err);
	if (r == NULL)
		return false;
	bool ok = PQntuples(r) == 1;
	if (ok)
		*days = db_int(r, 0, 0);
	PQclear(r);
	if (!ok)
		return cd_error_set(err, 500, "internal_error", "", "local_date: no row");
	return true;
}

PGresult *db_loan_events(PGconn *c, const char *lender, const char *loan_id, int64_t after,
                         int64_t limit, struct cd_error *err)
{
	struct db_num n[2];
	const char *p[] = {lender, loan_id, db_num(&n[0], after), db_num(&n[1], limit)};
	PGresult *r = run(c, db_statements[STMT_LOAN_EVENTS].sql, 4, p, "loan events", NULL, err);
	if (r != NULL && !db_loan_events_found(r)) {
		PQclear(r);
		cd_error_set(err, 404, "not_found", "", "no loan %s of lender %s", loan_id, lender);
		return NULL;
	}
	return r;
}

PGresult *db_decision_stats(PGconn *c, int64_t from_us, int64_t to_us, const char *bucket,
                            const char *tz, const char *lender, struct cd_error *err)
{
	struct db_num n[2];
	const char *p[] = {db_num(&n[0], from_us), db_num(&n[1], to_us), bucket, tz, lender};
	return run(c, db_statements[STMT_DECISION_STATS].sql, 5, p, "stats decisions", NULL, err);
}

/* ---- audit trail ---- */

int64_t db_audit_seal_all(PGconn *c, struct cd_error *err)
{
	struct db_num batch;
	const char *p[] = {db_num(&batch, DB_SEAL_BATCH)};
	int64_t total = 0;
	for (;;) {
		PGresult *r =
		    run(c, db_statements[STMT_AUDIT_SEAL].sql, 1, p, "audit seal", NULL, err);
		if (r == NULL)
			return -1;
		int64_t n = db_sealed_of(r);
		PQclear(r);
		total += n;
		if (n < DB_SEAL_BATCH)
			return total;
	}
}

/* The filter shared by the audit export and its count: event time in
 * [$1, $2) (NULL: open), seq after $3. */
#define AUDIT_FILTER                                                                               \
	"WHERE ($1::bigint IS NULL OR e.at >= cd_ts($1::bigint)) "                                 \
	"AND ($2::bigint IS NULL OR e.at < cd_ts($2::bigint)) AND c.seq > $3::bigint "
#define AUDIT_MAX_SEQ "(SELECT coalesce(max(seq), 0) FROM audit_chain)"

bool db_audit_count(PGconn *c, int64_t from_us, int64_t to_us, int64_t after_seq, int64_t *count,
                    int64_t *max_seq, struct cd_error *err)
{
	struct db_num n[3];
	const char *p[] = {db_num(&n[0], from_us), db_num(&n[1], to_us), db_num(&n[2], after_seq)};
	PGresult *r = run(c,
	                  "SELECT count(*), " AUDIT_MAX_SEQ " FROM audit_chain c "
	                  "JOIN audit_event e ON e.id = c.event_id " AUDIT_FILTER,
	                  3, p, "audit count", NULL, err);
	if (r == NULL)
		return false;
	*count = db_int(r, 0, 0);
	*max_seq = db_int(r, 0, 1);
	PQclear(r);
	return true;
}

bool db_audit_max_seq(PGconn *c, int64_t *max_seq, struct cd_error *err)
{
	PGresult *r = run(c, "SELECT " AUDIT_MAX_SEQ, 0, NULL, "audit count", NULL, err);
	if (r == NULL)
		return false;
	*max_seq = db_int(r, 0, 0);
	PQclear(r);
	return true;
}

/* Runs sql in single-row mode; row() gets each row (row 0 of its result)
 * and returns false to stop. */
static bool stream_rows(PGconn *c, const char *sql, int n, const char *const *p,
                        bool (*row)(const PGresult *r, void *ctx), void *ctx, const char *what,
                        struct cd_error *err)
{
	if (!PQsendQueryParams(c, sql, n, NULL, p, NULL, NULL, 0) || !PQsetSingleRowMode(c))
		return cd_error_set(err, 500, "database_error", "", "%s: %s", what,
		                    PQerrorMessage(c));
	bool ok = true, stopped = false;
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_SINGLE_TUPLE) {
			if (ok && !stopped && !row(r, ctx))
				stopped = true;
		} else if (st != PGRES_TUPLES_OK && ok) {
			ok = sync_result_ok(r, err, what);
		}
		PQclear(r);
	}
	if (stopped && ok)
		return cd_error_set(err, 500, "stopped", "", "%s: stopped", what);
	return ok;
}

struct event_stream {
	db_audit_row_fn fn;
	void *arg;
};

static bool event_streamed(const PGresult *r, void *ctx)
{
	const struct event_stream *s = ctx;
	struct db_audit_event e;
	return db_audit_event_row(r, 0, &e) && s->fn(&e, s->arg);
}

struct checkpoint_stream {
	db_checkpoint_fn fn;
	void *arg;
};

static bool checkpoint_streamed(const PGresult *r, void *ctx)
{
	const struct checkpoint_stream *s = ctx;
	struct db_checkpoint_row k;
	checkpoint_row(r, 0, &k);
	return s->fn(&k, s->arg);
}

bool db_audit_stream(PGconn *c, int64_t from_us, int64_t to_us, int64_t after_seq, int64_t upto_seq,
                     db_audit_row_fn fn, void *arg, struct cd_error *err)
{
	struct db_num n[4];
	const char *p[] = {db_num(&n[0], from_us), db_num(&n[1], to_us), db_num(&n[2], after_seq),
	                   db_num(&n[3], upto_seq)};
	struct event_stream s = {fn, arg};
	return stream_rows(c,
	                   "SELECT " AUDIT_COLS " FROM audit_chain c "
	                   "JOIN audit_event e ON e.id = c.event_id " AUDIT_FILTER
	                   "AND ($4::bigint = 0 OR c.seq <= $4::bigint) ORDER BY c.seq",
	                   4, p, event_streamed, &s, "audit export", err);
}

bool db_audit_chain_stream(PGconn *c, db_audit_row_fn fn, void *arg, struct cd_error *err)
{
	/* LEFT JOIN: a chain entry whose event was removed shows as NULLs. */
	struct event_stream s = {fn, arg};
	return stream_rows(c,
	                   "SELECT " AUDIT_COLS ", e.id IS NULL "
	                   "FROM audit_chain c LEFT JOIN audit_event e ON e.id = c.event_id "
	                   "ORDER BY c.seq",
	                   0, NULL, event_streamed, &s, "audit verify", err);
}

bool db_audit_checkpoint_stream(PGconn *c, int64_t after_seq, int64_t upto_seq, db_checkpoint_fn fn,
                                void *arg, struct cd_error *err)
{
	struct checkpoint_stream s = {fn, arg};
	struct db_num n[2];
	const char *p[] = {db_num(&n[0], after_seq), db_num(&n[1], upto_seq)};
	return stream_rows(c,
	                   "SELECT k.seq, encode(k.hash, 'hex'), cd_us(k.signed_at), k.key_id, "
	                   "encode(k.signature, 'hex'), encode(c.hash, 'hex') "
	                   "FROM audit_checkpoint k LEFT JOIN audit_chain c ON c.seq = k.seq "
	                   "WHERE k.seq > $1::bigint AND ($2::bigint = 0 OR k.seq <= $2::bigint) "
	                   "ORDER BY k.seq, k.key_id",
	                   2, p, checkpoint_streamed, &s, "audit checkpoints", err);
}

bool db_audit_seal_head(PGconn *c, const char *key_id, struct audit_head *h, struct cd_error *err)
{
	struct db_num batch;
	const char *p[] = {db_num(&batch, DB_SEAL_BATCH), key_id};
	PGresult *r =
	    run(c, db_statements[STMT_AUDIT_SEAL_HEAD].sql, 2, p, "audit seal head", NULL, err);
	if (r == NULL)
		return false;
	bool ok = db_audit_head_row(r, h);
	PQclear(r);
	if (!ok)
		return cd_error_set(err, 500, "database_error", "", "audit seal head: no row");
	return true;
}

bool db_audit_checkpoint_add(PGconn *c, int64_t seq, const char *hash_hex, int64_t signed_at_us,
                             const char *key_id, const char *sig_hex, bool *stored,
                             struct cd_error *err)
{
	struct db_num n[2];
	const char *p[] = {db_num(&n[0], seq), hash_hex, db_num(&n[1], signed_at_us), key_id,
	                   sig_hex};
	PGresult *r = run(c, db_statements[STMT_AUDIT_CHECKPOINT_ADD].sql, 5, p, "audit checkpoint",
	                  NULL, err);
	if (r == NULL)
		return false;
	*stored = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	return true;
}

/* The job as struct export_job holds it: no pending range is 0 and "". */
#define EXPORT_JOB_COLS "last_seq, coalesce(pending_to, 0), coalesce(pending_file, '')"

bool db_export_job_get(PGconn *c, const char *name, struct export_job *job, struct cd_error *err)
{
	const char *p[] = {name};
	PGresult *r = run(c,
	                  "WITH ins AS (INSERT INTO export_job (name) VALUES ($1::text) "
	                  "  ON CONFLICT (name) DO NOTHING RETURNING last_seq, pending_to, "
	                  "  pending_file) "
	                  "SELECT " EXPORT_JOB_COLS " FROM ins UNION ALL "
	                  "SELECT " EXPORT_JOB_COLS " FROM export_job WHERE name = $1::text",
	                  1, p, "export job", NULL, err);
	if (r == NULL)
		return false;
	if (PQntuples(r) < 1) {
		PQclear(r);
		return cd_error_set(err, 500, "database_error", "", "export job: no row");
	}
	job->last_seq = db_int(r, 0, 0);
	job->pending_to = db_int(r, 0, 1);
	snprintf(job->pending_file, sizeof(job->pending_file), "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	return true;
}

/* Runs an UPDATE of the job's row that must match exactly one row: none
 * means another run changed the job since it was read. */
static bool export_job_update(PGconn *c, const char *sql, int n, const char *const *p,
                              const char *name, struct cd_error *err)
{
	PGresult *r = run(c, sql, n, p, "export job", NULL, err);
	if (r == NULL)
		return false;
	bool ok = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	if (!ok)
		return cd_error_set(err, 409, "conflict", "",
		                    "export job %s was changed by another run", name);
	return true;
}

bool db_export_job_begin(PGconn *c, const char *name, const struct export_job *seen,
                         int64_t pending_to, const char *file, struct cd_error *err)
{
	/* what db_export_job_get() could not read back whole */
	if (strlen(file) >= DB_EXPORT_FILE_MAX)
		return cd_error_set(err, 422, "validation_failed", "file",
		                    "export job %s: the file's path is too long (at most %d bytes)",
		                    name, DB_EXPORT_FILE_MAX - 1);
	struct db_num n[3];
	const char *p[] = {name, db_num(&n[0], seen->last_seq), db_num(&n[1], seen->pending_to),
	                   db_num(&n[2], pending_to), file};
	return export_job_update(
	    c,
	    "UPDATE export_job SET pending_to = $4::bigint, pending_file = "
	    "$5::text, updated_at = now() WHERE name = $1::text AND last_seq = "
	    "$2::bigint AND coalesce(pending_to, 0) = $3::bigint",
	    5, p, name, err);
}

bool db_export_job_commit(PGconn *c, const char *name, int64_t pending_to, struct cd_error *err)
{
	struct db_num n;
	const char *p[] = {name, db_num(&n, pending_to)};
	return export_job_update(c,
	                         "UPDATE export_job SET last_seq = pending_to, pending_to = NULL, "
	                         "pending_file = NULL, updated_at = now() "
	                         "WHERE name = $1::text AND pending_to = $2::bigint",
	                         2, p, name, err);
}

/* An arbitrary constant: with hashtext(name), the advisory lock that keeps
 * two runs of one export job apart. */
#define EXPORT_JOB_LOCK "73011263"

bool db_export_job_trylock(PGconn *c, const char *name, bool *got, struct cd_error *err)
{
	const char *p[] = {name};
	PGresult *r = run(c, "SELECT pg_try_advisory_lock(" EXPORT_JOB_LOCK ", hashtext($1::text))",
	                  1, p, "export job lock", NULL, err);
	if (r == NULL)
		return false;
	*got = db_bool(r, 0, 0);
	PQclear(r);
	return true;
}

bool db_audit_stray_event(PGconn *c, int64_t *event_id, int64_t *before_seq, struct cd_error *err)
{
	/* The sealer takes events in (txid, id) order and only once no
	 * transaction that could add an earlier one is running; so an event
	 * that sorts before the chain's last entry yet is not in the chain was
	 * put there behind the sealer's back. */
	PGresult *r = run(c,
	                  "WITH last AS (SELECT txid, event_id FROM audit_chain "
	                  "  ORDER BY seq DESC LIMIT 1), "
	                  "stray AS (SELECT e.id, e.txid FROM audit_event e, last "
	                  "  WHERE (e.txid, e.id) < (last.txid, last.event_id) "
	                  "  AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id) "
	                  "  ORDER BY e.txid, e.id LIMIT 1) "
	                  "SELECT s.id, (SELECT coalesce(min(c.seq), 0) FROM audit_chain c "
	                  "  WHERE (c.txid, c.event_id) > (s.txid, s.id)) FROM stray s",
	                  0, NULL, "audit verify", NULL, err);
	if (r == NULL)
		return false;
	*event_id = 0;
	*before_seq = 0;
	if (PQntuples(r) == 1) {
		*event_id = db_int(r, 0, 0);
		*before_seq = db_int(r, 0, 1);
	}
	PQclear(r);
	return true;
}

/* ---- the voluntary refusal registry ---- */

PGresult *db_refusal_get(PGconn *c, const char *iin, const char *tz, struct cd_error *err)
{
	const char *p[] = {iin, tz};
	return run(c, db_statements[STMT_REFUSAL_GET].sql, 2, p, "refusals show", NULL, err);
}

bool db_refusal_import_begin(PGconn *c, struct cd_error *err)
{
	if (!exec_ok(c, "BEGIN", err))
		return false;
	if (!exec_ok(c,
	             "CREATE TEMP TABLE refusal_import (line bigint NOT NULL, iin text NOT NULL, "
	             "active boolean NOT NULL, effective_at timestamptz NOT NULL, "
	             "source text NOT NULL, reference text) ON COMMIT DROP",
	             err)) {
		PQclear(PQexec(c, "ROLLBACK"));
		return false;
	}
	PGresult *r = PQexec(c, "COPY refusal_import FROM STDIN");
	bool ok = PQresultStatus(r) == PGRES_COPY_IN;
	if (!ok)
		sync_result_ok(r, err, "refusals import: COPY");
	PQclear(r);
	if (!ok)
		PQclear(PQexec(c, "ROLLBACK"));
	return ok;
}

/* A text for COPY's text format: backslash, tab, line ends escaped. */
static size_t copy_escape(char *out, size_t size, const char *s)
{
	size_t o = 0;
	for (; *s && o + 2 < size; s++) {
		char e = *s == '\\'   ? '\\'
		         : *s == '\t' ? 't'
		         : *s == '\n' ? 'n'
		         : *s == '\r' ? 'r'
		                      : 0;
		if (e) {
			out[o++] = '\\';
			out[o++] = e;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return o;
}

bool db_refusal_import_row(PGconn *c, int64_t line, const struct refusal_req *q,
                           struct cd_error *err)
{
	char ts[TS_BUF], ref[2 * REFUSAL_REFERENCE_BUF], buf[4 * REFUSAL_REFERENCE_BUF];
	ts_format_utc(q->effective_at, ts);
	if (q->has_reference)
		copy_escape(ref, sizeof(ref), q->reference);
	else
		snprintf(ref, sizeof(ref), "\\N");
	/* the source is an identifier: nothing to escape */
	int n = snprintf(buf, sizeof(buf), "%lld\t%s\t%s\t%s\t%s\t%s\n", (long long)line, q->iin,
	                 q->active ? "t" : "f", ts, q->source, ref);
	if (n < 0 || (size_t)n >= sizeof(buf) || PQputCopyData(c, buf, n) != 1)
		return cd_error_set(err, 500, "database_error", "", "refusals import: COPY: %s",
		                    PQerrorMessage(c));
	return true;
}

/* The changes of the staging table not known yet, each once (the first
 * line of a change given twice), in the file's order, with their events;
 * the counts of the file's changes and of the new ones. */
#define REFUSAL_IMPORT_SQL                                                                         \
	"WITH s AS (SELECT DISTINCT ON (iin, active, effective_at, source) line, iin, active, "    \
	"  effective_at, source, reference FROM refusal_import "                                   \
	"  ORDER BY iin, active, effective_at, source, line), "                                    \
	"ins AS (INSERT INTO voluntary_refusal (iin, active, effective_at, source, reference) "    \
	"  SELECT iin, active, effective_at, source, reference FROM s ORDER BY line "              \
	"  ON CONFLICT (iin, active, effective_at, source) DO NOTHING RETURNING *), "              \
	"a AS (" REFUSAL_AUDIT(                                                                    \
	    "$1") ") "                                                                             \
	          "SELECT (SELECT count(*) FROM refusal_import), (SELECT count(*) FROM ins)"

bool db_refusal_import_end(PGconn *c, bool commit, const char *actor, int64_t *total,
                           int64_t *added, struct cd_error *err)
{
	*total = *added = 0;
	bool ok = PQputCopyEnd(c, commit ? NULL : "a bad line: nothing is imported") == 1;
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL) {
		if (commit && ok)
			ok = sync_result_ok(r, err, "refusals import: COPY");
		PQclear(r);
	}
	if (!commit || !ok) {
		PQclear(PQexec(c, "ROLLBACK"));
		return ok; /* rolled back as asked, or the COPY failed */
	}
	/* The buckets of the changes, in ascending order (the payout's guard
	 * shares them): taken after the COPY, so that payouts wait only for
	 * the insert below. */
	ok =
	    exec_ok(c,
	            "SELECT cd_refusal_lock_bucket(b) FROM (SELECT DISTINCT cd_refusal_bucket(iin) "
	            "AS b FROM refusal_import) s ORDER BY b",
	            err);
	const char *p[] = {actor};
	r = ok ? run(c, REFUSAL_IMPORT_SQL, 1, p, "refusals import", NULL, err) : NULL;
	if (r != NULL) {
		*total = db_int(r, 0, 0);
		*added = db_int(r, 0, 1);
		PQclear(r);
	}
	if (r == NULL || !exec_ok(c, "COMMIT", err)) {
		PQclear(PQexec(c, "ROLLBACK"));
		return false;
	}
	return true;
}

/*
 * What the files of the database layer (lib/db/) share, and nothing
 * outside it includes: the columns of each result in the order the SQL
 * (statements.c, sync.c) writes them and the decoders (decode.c) read
 * them, the loan's column table from which its SQL, its decoder and its
 * INSERT's parameters are made, the SQL fragments that more than one file
 * writes, the batch forms' buffers, and the readers of single cells.
 */
#ifndef CD_DB_INTERNAL_H
#define CD_DB_INTERNAL_H

#include <stddef.h>

#include "db.h"
#include "names.h"

/* A number macro as an SQL literal. */
#define DB_STR_(x) #x
#define DB_STR(x)  DB_STR_(x)

/*
 * The loan's columns: one row each, from which the read list
 * (LOAN_COLS_NOW), the decoder (db_loan_row) and the approval's INSERT with
 * its parameters (db_loan_insert_params) are made. A new field of the loan
 * is one row here, its migration and, when the API shows it, one row of
 * LOAN_JSON_FIELDS (lib/codec.c).
 *
 *   X(field of struct loan, column, kind, inserted, $n of STMT_LOAN_INSERT,
 *     SQL type of that parameter)
 *
 * kinds: TEXT (char array; NULL reads as ""), INT (int64_t), BOOL, TS
 * (microseconds, timestamptz through cd_us/cd_ts; NULL is TS_NULL), CHANNEL
 * (enum channel by its name), PERIOD (int64_t seconds, NULL unless the loan
 * is cooled: 0 in the struct), ENDS (a TS that the INSERT writes through
 * LOAN_VAL_ENDS), READ (a boolean that is read, not stored:
 * `column` is its SQL expression over the row l), READ_TS (the same for
 * an instant, in microseconds). An empty TEXT is inserted as NULL.
 * inserted is 1 for the
 * columns the approval writes, 0 for those a later act writes (their $n
 * is 0); a new inserted
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
	X(cooling_ends_at,       "cooling_ends_at",       ENDS,    1, 17, "bigint")  \
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
	X(reconfirmation_method, "reconfirmation_method", TEXT,    0,  0, "")        \
	X(in_person_reasons,     "in_person_reasons",     INT,     1, 32, "smallint") \
	X(currency,              "currency",              TEXT,    1, 35, "text")    \
	X(trusted_person_confirmed_at, "trusted_person_confirmed_at", TS, 0, 0, "")  \
	X(control_call_required, "control_call_required", BOOL,    1, 36, "boolean") \
	X(control_called_at,     "control_called_at",     TS,      0,  0, "")        \
	X(control_call_officer_id, "control_call_officer_id", TEXT, 0, 0, "")        \
	X(cooling_calendar_zone, "cooling_calendar_zone", TEXT,    1, 38, "text")    \
	X(voluntary_refusal_active, REFUSAL_ACTIVE_NOW, READ, 0, 0, "")               \
	X(fraud_claim_open,      CLAIM_OPEN,              READ,    0,  0, "")        \
	X(cross_lender_window_s, "cross_lender_window_s", INT,     1, 37, "bigint")  \
	X(other_lender_paid_at,  OTHER_LENDER_PAID_AT,    READ_TS, 0,  0, "")        \
	X(pk,                    "id",                    INT,     0,  0, "")
/* The borrower's refusal at now() and open fraud claim (sql/027): the
 * table functions' bodies are inlined into the statement and planned with
 * it, where cd_refusal_active() and cd_claim_open() would be planned again
 * on each execution. */
#define REFUSAL_ACTIVE_NOW "(SELECT s.active FROM cd_refusal_state_at(l.borrower_iin, now()) s)"
#define CLAIM_OPEN         "(SELECT s.open FROM cd_claim_state(l.borrower_iin) s)"
/* Another lender's latest payout that the loan's cross-lender window
 * counts (sql/025): one probe, and none for a loan without a window. */
#define OTHER_LENDER_PAID_AT                                                                       \
	"CASE WHEN l.cross_lender_window_s IS NULL THEN NULL "                                     \
	"ELSE cd_us(cd_cross_lender_last(l.borrower_iin, l.lender_id)) END"
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
/* The burst the approval was decided with ($n of STMT_LOAN_INSERT): the
 * window in seconds (NULL: policy.burst_lenders is off) and the other
 * lenders it counted (cd_burst_others). */
#define LOAN_INSERT_BURST_WINDOW 33
#define LOAN_INSERT_BURST_OTHERS 34
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
#define LOAN_READ_ENDS(col)                   LOAN_READ_TS(col)
#define LOAN_READ_READ(col)                   col ", "
#define LOAN_READ_READ_TS(col)                col ", "
#define LOAN_READ(f, col, kind, ins, n, type) LOAN_READ_##kind(col)
/* The loan's columns, then "now" (microseconds): every statement that
 * returns loans returns them so. */
#define LOAN_COLS_NOW LOAN_COLUMNS(LOAN_READ) "cd_us(now())"

/* The cooling period's end as the approval records it: its own ($n), or
 * with a consent ($16) and a calendar's zone ($38), the next working day's
 * start (cd_cooling_ends_at, sql/026). */
#define LOAN_ENDS_SQL(n)                                                                           \
	"cd_cooling_ends_at(cd_ts($16::bigint), cd_ts($" #n "::bigint), $38::text), "

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
#define LOAN_VAL_READ_TS(n, type)                ""
#define LOAN_VAL_ENDS(n, type)                   LOAN_ENDS_SQL(n)
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
	LOAN_INSERT_NPARAMS = LOAN_INSERT_NCOLS + 7
};
#define LOAN_INS_SUM(f, col, kind, ins, n, type)     +(ins * n)
#define LOAN_INS_SQUARES(f, col, kind, ins, n, type) +(ins * n * n)
#define LOAN_INS_RANGE(f, col, kind, ins, n, type)                                                 \
	_Static_assert(!ins || (n >= 1 && n <= LOAN_INSERT_NPARAMS), "$n of " #f " out of range");
LOAN_COLUMNS(LOAN_INS_RANGE)
#define LOAN_INSERT_EXTRA_SUM                                                                      \
	(LOAN_INSERT_ACTOR + LOAN_INSERT_DETAIL + LOAN_INSERT_DAY_TZ + LOAN_INSERT_DAY_LENDER +    \
	 LOAN_INSERT_DAY_TOTAL + LOAN_INSERT_BURST_WINDOW + LOAN_INSERT_BURST_OTHERS)
#define LOAN_INSERT_EXTRA_SQUARES                                                                  \
	(LOAN_INSERT_ACTOR * LOAN_INSERT_ACTOR + LOAN_INSERT_DETAIL * LOAN_INSERT_DETAIL +         \
	 LOAN_INSERT_DAY_TZ * LOAN_INSERT_DAY_TZ +                                                 \
	 LOAN_INSERT_DAY_LENDER * LOAN_INSERT_DAY_LENDER +                                         \
	 LOAN_INSERT_DAY_TOTAL * LOAN_INSERT_DAY_TOTAL +                                           \
	 LOAN_INSERT_BURST_WINDOW * LOAN_INSERT_BURST_WINDOW +                                     \
	 LOAN_INSERT_BURST_OTHERS * LOAN_INSERT_BURST_OTHERS)
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
	KIND_ENDS, /* a KIND_TS that the database may compute (LOAN_ENDS_SQL) */
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
	/* an instant (as KIND_TS) that is read, not stored */
	KIND_READ_TS,
};

/* The names.h table of each KIND_ that is one (NULL for the others). */
extern const struct name_table *const db_kind_names[KIND_READ_TS + 1];

/* One row of LOAN_COLUMNS as C sees it (decode.c). */
struct loan_col_def {
	size_t offset;
	size_t size;
	enum col_kind kind;
	int param; /* $n of STMT_LOAN_INSERT, 0 when not inserted */
};
extern const struct loan_col_def db_loan_cols[LOAN_NCOLS];

/* ---- the other results, and what statements.c and sync.c both write ---- */

/* The audit event that every write appends in its own statement. */
#define AUDIT_INSERT "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) "

/* The client of a token, as the first columns of a request's first read. */
#define AUTH_CTE(n)                                                                                \
	"a AS (SELECT name AS auth_name, role AS auth_role, lender_id AS auth_lender, "            \
	"token_hash AS auth_token_hash, coalesce(expires_at <= now(), false) AS auth_expired "     \
	"FROM api_client WHERE token_id = $" n "::text AND revoked_at IS NULL) "
#define AUTH_COLS "a.auth_name, a.auth_role, a.auth_lender, a.auth_token_hash, a.auth_expired"
/* The columns AUTH_COLS are, first in STMT_AUTH's and the twins' rows. */
enum auth_col { AUTH_NAME, AUTH_ROLE, AUTH_LENDER, AUTH_TOKEN_HASH, AUTH_EXPIRED, AUTH_NCOLS };
/* The first column's name, by which a decoder knows a twin's result. */
#define AUTH_COL0 "auth_name"

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

/* The columns of an entry of the personal-data access log: enum access_col. */
#define ACCESS_COLS "id, cd_us(at), client, role, route, borrower_iin, lender, loan_id, request_id"
enum access_col {
	ACCESS_ID,
	ACCESS_AT,
	ACCESS_CLIENT,
	ACCESS_ROLE,
	ACCESS_ROUTE,
	ACCESS_IIN,
	ACCESS_LENDER,
	ACCESS_LOAN,
	ACCESS_REQUEST_ID,
	ACCESS_NCOLS
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
/* The event of a new change, from the rows of `ins`; actor is $n (a PUT's
 * in statements.c, an import's in sync.c). */
/* clang-format off */
#define REFUSAL_AUDIT(actor)                                                                       \
	AUDIT_INSERT "SELECT " actor "::text, NULL, NULL, "                                        \
	"CASE WHEN active THEN 'voluntary_refusal_set' ELSE 'voluntary_refusal_withdrawn' END, "   \
	"jsonb_build_object('borrower_iin', iin, 'active', active, 'effective_at', "               \
	"cd_utc_text(effective_at), 'source', source, 'reference', reference, "                    \
	"'change_seq', seq) "                                                                      \
	"FROM ins"
/* The columns of a fraud claim (db_claim_row), from `c`. */
#define CLAIM_COLS                                                                                 \
	"c.id, c.borrower_iin, c.reference, c.note, cd_us(c.opened_at), c.opened_by, "             \
	"c.opener_lender, cd_us(c.closed_at), c.outcome"
/* The event of a new change of a suspicious payee, from the rows of `ins`. */
#define PAYEE_AUDIT(actor)                                                                         \
	AUDIT_INSERT "SELECT " actor "::text, NULL, NULL, "                                        \
	"CASE WHEN active THEN 'suspicious_payee_set' ELSE 'suspicious_payee_withdrawn' END, "     \
	"jsonb_build_object('kind', kind, 'id', id, 'active', active, 'effective_at', "            \
	"cd_utc_text(effective_at), 'source', source, 'reference', reference, "                    \
	"'change_seq', seq) "                                                                      \
	"FROM ins"
/* clang-format on */

enum claim_col {
	CLAIM_ID,
	CLAIM_IIN,
	CLAIM_REFERENCE,
	CLAIM_NOTE,
	CLAIM_OPENED_AT,
	CLAIM_OPENED_BY,
	CLAIM_OPENER_LENDER,
	CLAIM_CLOSED_AT,
	CLAIM_OUTCOME,
	CLAIM_NCOLS
};

/* The columns of STMT_APPROVAL_CONTEXT after the loan's and now
 * (APPROVAL_CONTEXT_SQL, statements.c). */
enum approval_col {
	APPROVAL_MRP = 1,
	APPROVAL_FIRST_TIME,
	APPROVAL_AT,
	APPROVAL_TODAY,
	APPROVAL_LENDER_KIND,
	APPROVAL_DAY,
	APPROVAL_DAY_OTHERS,
	APPROVAL_PRIOR_VICTIM,
	APPROVAL_BURST_OTHERS
};
/* The columns of STMT_DISBURSE_CONTEXT after the loan's and now
 * (DISBURSE_CONTEXT_SQL, statements.c). */
enum disburse_col {
	DISBURSE_IDEM_PK = 1,
	DISBURSE_IDEM_STATUS,
	DISBURSE_IDEM_BODY,
	DISBURSE_TODAY,
	DISBURSE_PAYEE_FLAGGED
};

/* Columns of STMT_AUDIT_SEAL_HEAD. */
enum seal_head_col { SEAL_SEALED, SEAL_HEAD_SEQ, SEAL_HEAD_HASH, SEAL_NOW, SEAL_HEAD_SIGNED };
/* Columns of db_audit_checkpoint_stream() (sync.c). */
enum checkpoint_col {
	CKPT_SEQ,
	CKPT_HASH,
	CKPT_SIGNED_AT,
	CKPT_KEY_ID,
	CKPT_SIGNATURE,
	CKPT_CHAIN_HASH
};
/* Columns of STMT_DECISION_STATS (DECISION_STATS_SQL, statements.c). */
enum stats_col { STATS_BUCKETS, STATS_START, STATS_DECISION, STATS_BLOCKER, STATS_N };

/* ---- the batch forms (batch.c) ----
 *
 * Their names and SQL are written once, before main(), into these buffers
 * (batch.c), at which db_statements points; a write's form is written from
 * its body in db_batch_write_sql (statements.c, beside the single write),
 * a read's from the read itself. */
#define BATCH_ONE(name, n) +1
enum { STMT_BATCH__FIRST = STMT__COUNT - (0 DB_BATCHED(BATCH_ONE)) };
#undef BATCH_ONE
#define BATCH_SQL_MAX 16384
extern char db_batch_sql[STMT__COUNT - STMT_BATCH__FIRST][BATCH_SQL_MAX];
extern char db_batch_name[STMT__COUNT - STMT_BATCH__FIRST][64];
/* The batch form of each write of DB_BATCHED_WRITES, indexed by the single
 * statement (NULL for the others), "$n" for the request's parameter n. */
extern const char *const db_batch_write_sql[STMT__COUNT];

/* ---- cells (decode.c) ---- */

/* An integer; TS_NULL for SQL NULL. */
int64_t db_int(const PGresult *r, int row, int col);
/* Microseconds (cd_us); TS_NULL for SQL NULL. */
int64_t db_ts(const PGresult *r, int row, int col);
/* False for SQL NULL. */
bool db_bool(const PGresult *r, int row, int col);
/* NULL for SQL NULL. */
const char *db_text_or_null(const PGresult *r, int row, int col);

/* Row `row` of a checkpoint stream (enum checkpoint_col). */
void db_checkpoint_row(const PGresult *r, int row, struct db_checkpoint_row *k);

#endif

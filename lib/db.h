/*
 * The database layer: every SQL statement of coolingd and coolingctl, the
 * decoding of rows into domain structs, migrations, and the operator
 * commands. Statements run as prepared statements with text parameters;
 * the daemon executes them asynchronously (daemon/pgpool.c), the CLI
 * synchronously. Each write is one statement, and so one transaction, that
 * also appends its audit event.
 *
 * One file per concern under lib/db/: the daemon's statements with each
 * batched write's batch form (statements.c), the batch machinery
 * (batch.c), the decoders (decode.c), the parameter builders (params.c)
 * and coolingctl's synchronous API (sync.c); internal.h holds what they
 * share, the columns of each result above all.
 */
#ifndef CD_DB_H
#define CD_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "cd_error.h"
#include "codec.h"
#include "loan.h"
#include "policy.h"
#include "refusal.h"
#include "token.h"

/* Bumped with every migration in sql/; /readyz compares it with the
 * database's (lib/schema_compat.h). */
#define DB_SCHEMA_VERSION 29

/* The most parameters any statement takes: the daemon's pool holds this
 * many per queued statement (daemon/pgpool.c refuses a statement that has
 * more, and tests/integration/test_gate_agreement.c checks every one). */
#define DB_MAX_PARAMS 40

/* The first reads of a call, each of which has a STMT_AUTH_* twin that
 * runs it together with the authentication in one round trip (one wrapper
 * in lib/db/statements.c, AUTH_TWIN): the twin's columns are STMT_AUTH's, then the first
 * read's; its parameters are the first read's, then the token_id. No row
 * when the token is unknown or revoked. X(NAME, parameters of the read, $n
 * of the twin's token_id: one more). */
#define DB_FIRST_READS(X)                                                                          \
	X(LOAN_GET, 2, 3)                                                                          \
	X(APPROVAL_CONTEXT, 9, 10)                                                                 \
	X(DISBURSE_CONTEXT, 6, 7)

/* The statements that the daemon's pool may run for several requests in
 * one statement (daemon/pgpool.c): each has a STMT_BATCH_* form that takes
 * each of the statement's parameters as an array (text[], element k for
 * the k-th request), then the number of requests, and returns the rows of
 * every request, each with the request's number (1..n) as one more, last
 * column. db_batch_split() gives every request the result the statement
 * alone would have given it.
 *
 * A read's batch form is made from the read itself: each request's read
 * as a LATERAL subquery (lib/db/batch.c). A write's is its own
 * (lib/db/statements.c, BATCH_WRITE_*): one statement, so one transaction and one commit,
 * that writes the rows of every request, with the write's guards and
 * checks per row, and takes its locks in one order (sql/011). Two
 * requests that db_batch_conflict() keeps apart never share a batch.
 * X(NAME, parameters of the statement alone); lib/db/batch.c checks the
 * number. */
#define DB_BATCHED_READS(X)                                                                        \
	X(LOAN_GET, 2)                                                                             \
	X(AUTH_LOAN_GET, 3)                                                                        \
	X(APPROVAL_CONTEXT, 9)                                                                     \
	X(AUTH_APPROVAL_CONTEXT, 10)                                                               \
	X(DISBURSE_CONTEXT, 6)                                                                     \
	X(AUTH_DISBURSE_CONTEXT, 7)
#define DB_BATCHED_WRITES(X)                                                                       \
	X(LOAN_INSERT, 38)                                                                         \
	X(DISBURSE, 8)                                                                             \
	X(REFUSE, 7)
#define DB_BATCHED(X) DB_BATCHED_READS(X) DB_BATCHED_WRITES(X)

/* The most requests in one batch. */
#define DB_BATCH_MAX 64
/* A batch's arrays are never shorter: the pool fills them up with NULLs,
 * which match no row. PostgreSQL plans a prepared statement for its
 * parameters' values five times, then keeps its generic plan only if that
 * is estimated no dearer than the plans made for the values; it estimates
 * an array parameter of unknown length at 10 elements, so with batches
 * shorter than that it would plan every batch afresh (planning cost twice
 * the execution). At 16 or more elements the generic plan wins, and is
 * reused. */
#define DB_BATCH_PAD 16

enum stmt {
	STMT_AUTH,              /* token_id -> db_auth_row */
	STMT_SCHEMA_VERSION,    /* tz -> db_schema_version_of */
	STMT_LOAN_GET,          /* lender, loan_id -> db_loan_row */
	STMT_APPROVAL_CONTEXT,  /* db_params_approval_context -> db_approval_context */
	STMT_LOAN_INSERT,       /* db_loan_insert_day_params -> db_loan_insert_result (no loan:
	                           loan_id taken, or the day's amount moved) */
	STMT_CONSENT,           /* db_params_consent -> db_loan_row (0 rows: guard failed) */
	STMT_VERIFY,            /* db_params_verify -> db_loan_row (0 rows: guard failed) */
	STMT_CANCEL,            /* db_params_cancel -> db_loan_row (0 rows: guard failed) */
	STMT_DISBURSE_CONTEXT,  /* db_params_disburse_context -> db_disburse_context */
	STMT_DISBURSE,          /* db_params_disburse -> db_loan_row (0 rows: guard failed) */
	STMT_REFUSE,            /* db_params_refuse -> event id */
	STMT_BORROWER_LOANS,    /* iin, lender|NULL -> db_loan_row each */
	STMT_LOCAL_DATE,        /* tz -> db_local_date_of */
	STMT_LOANS_LIST,        /* from|NULL, to|NULL, cursor_at|NULL, cursor_id|NULL, status|NULL,
	                           limit -> db_loan_row each */
	STMT_LOANS_LIST_LENDER, /* the same, and lender */
	STMT_AUDIT_SEAL,        /* max events -> db_sealed_of */
	STMT_AUDIT_LIST,        /* after, limit -> db_audit_event_row each */
	STMT_AUDIT_SEAL_HEAD,   /* max events, key id -> db_audit_head_row */
	STMT_AUDIT_CHECKPOINT_ADD, /* seq, hash hex, signed_at us, key id, signature hex */
	STMT_AUDIT_UNSEALED,       /* cap -> db_unsealed_of */
	STMT_OPERATOR_SIGNALS,     /* tz, calendar zone|NULL -> db_operator_signals_of */
	STMT_CLIENT_SEEN,          /* client name: its last_used_at is the database's now */
	/* the acts of profile kz-2025-09 */
	STMT_RECONFIRM,     /* db_params_reconfirm -> db_loan_row (0 rows: guard failed) */
	STMT_EXTRA_CONFIRM, /* db_params_extra_confirm -> db_loan_row (0 rows: guard failed) */
	/* the act of profile ru-2025-09 */
	STMT_TRUSTED_PERSON, /* db_params_trusted_person -> db_loan_row (0 rows: guard failed) */
	/* the act of a band that asks for a control call (kg-2024-11) */
	STMT_CONTROL_CALL, /* db_params_control_call -> db_loan_row (0 rows: guard failed) */
	/* the voluntary refusal registry */
	STMT_REFUSAL_GET, /* iin, tz -> db_refusal_rows (one row without a change when none) */
	STMT_REFUSAL_PUT, /* db_params_refusal_put -> db_refusal_rows */
	/* the suspicious payee registry: the changes in the columns of the
	 * refusal registry's */
	STMT_PAYEE_GET, /* kind, id -> db_refusal_rows (one row without a change when none) */
	STMT_PAYEE_PUT, /* db_params_payee_put -> db_refusal_rows */
	/* fraud claims */
	STMT_CLAIM_OPEN,  /* db_params_claim_open -> db_claim_row */
	STMT_CLAIM_GET,   /* id -> db_claim_row (no row: no such claim) */
	STMT_CLAIM_CLOSE, /* db_params_claim_close -> db_claim_row (no row: not open) */
	/* a loan's events and the decision statistics: compliance reads */
	STMT_LOAN_EVENTS,    /* lender, loan_id, after, limit -> db_audit_event_row each
	                        (no row: no such loan) */
	STMT_DECISION_STATS, /* from us, to us, "hour"|"day", tz, lender|NULL ->
	                        db_decision_buckets_of, db_decision_row each */
	/* the personal-data access log (sql/015) */
	STMT_ACCESS_RECORD, /* db_params_access_record -> the entry's id */
	STMT_ACCESS_LOG,    /* db_params_access_log -> db_access_entry_row each */
	/* the lender's event feed, time events and webhooks (lib/db/feed.c) */
	STMT_TIME_EVENTS,       /* max moments -> db_time_events_of */
	STMT_LENDER_EVENTS,     /* lender, after seq, limit -> db_audit_event_row each */
	STMT_WEBHOOK_LEASE,     /* owner, lease seconds -> db_webhook_row each */
	STMT_WEBHOOK_DELIVERED, /* id, owner, seq delivered before, seq delivered now ->
	                           a row when it moved */
	STMT_WEBHOOK_FAILED,    /* id, owner, error, delay ms -> a row when recorded */
	STMT_WEBHOOK_RELEASE,   /* owner -> nothing: its leases end now */
#define DB_AUTH_STMT(name, n, token) STMT_AUTH_##name,
	DB_FIRST_READS(DB_AUTH_STMT)
#undef DB_AUTH_STMT
#define DB_BATCH_STMT(name, n) STMT_BATCH_##name,
	    DB_BATCHED(DB_BATCH_STMT)
#undef DB_BATCH_STMT
	        STMT__COUNT
};

struct stmt_def {
	const char *name;
	const char *sql;
	int nparams;
};

extern const struct stmt_def db_statements[STMT__COUNT];

/* The STMT_AUTH_* twin of a first read (DB_FIRST_READS); st itself
 * otherwise. */
enum stmt db_stmt_with_auth(enum stmt st);

/* The STMT_BATCH_* form of st (DB_BATCHED), or STMT__COUNT when st has
 * none. */
enum stmt db_stmt_batch_of(enum stmt st);

/* True when two requests of st, with parameters a and b, must not share a
 * batch: two approvals of one borrower (the day's amount of the second
 * depends on the first) or of one loan_id, two payouts of one loan, two
 * answers stored under one Idempotency-Key. Such a request waits for the
 * next batch. Pure. */
bool db_batch_conflict(enum stmt st, const char *const *a, const char *const *b);

/* The SQL of a batch form, with every "$n" of sql (a parameter of the
 * single statement) written as "cdb.pn", the n-th column of the batch's
 * row of that request; returns its length as snprintf does. Pure. */
size_t db_batch_params(char *buf, size_t size, const char *sql);

/* The PostgreSQL array literal of n text values (NULL: an SQL NULL), each
 * quoted and escaped, written to buf (NUL-terminated when size > 0); returns
 * its length, as snprintf does, so that a first call with size 0 sizes the
 * buffer. Pure. */
size_t db_array_literal(char *buf, size_t size, const char *const *values, int n);

/* Splits the result of a STMT_BATCH_* statement for n requests into out[0..n-1]:
 * out[k] holds the rows whose last column is k + 1, without that column,
 * in the columns of the single read, so that every decoder reads it as the
 * read's own result (free each with PQclear). False, with nothing left to
 * free, when the result is not such a result or memory runs out. */
bool db_batch_split(const PGresult *batch, int n, PGresult **out);

/* ---- typed rows ----
 *
 * Results are decoded here and nowhere else: the column layout of every
 * statement is the database layer's business. Strings in the structs below point
 * into the PGresult and live as long as it does. */

/* The client of a token: the first columns of STMT_AUTH and STMT_AUTH_*.
 * False when there is no row or no readable hash (the token is unknown or
 * revoked). lender is "" for a client of no lender. */
struct db_auth_row {
	const char *name;
	const char *role;
	const char *lender;
	unsigned char token_hash[TOKEN_HASH_LEN];
	bool expired; /* its expires_at has passed, by the database's now */
};
bool db_auth_row(const PGresult *r, struct db_auth_row *a);

/* A loan and the database's now, from a statement that returns loans
 * (row `row`); false when the row holds no loan (a LEFT JOIN found none).
 * now may be NULL. */
bool db_loan_row(const PGresult *r, int row, struct loan *l, int64_t *now);

/* The approval context (STMT_APPROVAL_CONTEXT or its twin); false when the
 * result is not the one row it always is. */
bool db_approval_context(const PGresult *r, struct approval_context *c);

/* The result of STMT_LOAN_INSERT: the loan, when it was inserted, and the
 * total of the day's other loans that counted when the insert ran under
 * the day's lock (TS_NULL when the profile adds nothing up): when no loan
 * was inserted and it is not the total the decision took, another approval
 * of the borrower's day came first and the approval is decided again with
 * it; and the same for the burst's other lenders (TS_NULL when bursts do
 * not count). */
bool db_loan_insert_result(const PGresult *r, struct loan *l, int64_t *now, int64_t *day_total,
                           int64_t *burst_others);

/* The disbursement context (STMT_DISBURSE_CONTEXT or its twin): the loan
 * and what the database knows beside it; false when there is no such
 * loan. */
bool db_disburse_context(const PGresult *r, struct loan *l, struct disburse_context *c);

/* Single values of single-row statements. */
int64_t db_schema_version_of(const PGresult *r); /* STMT_SCHEMA_VERSION */
int64_t db_local_date_of(const PGresult *r);     /* STMT_LOCAL_DATE, days since 1970 */
int64_t db_sealed_of(const PGresult *r);         /* STMT_AUDIT_SEAL: events sealed */
/* STMT_AUDIT_UNSEALED: the events not sealed yet, at most the cap; -1 when
 * the result is not the one row it always is. */
int64_t db_unsealed_of(const PGresult *r);

/* STMT_SCHEMA_VERSION: the oldest release that can run on the database's
 * newest schema version (schema_release), NULL when it records none; valid
 * while r is. */
const char *db_schema_min_release_of(const PGresult *r);

/* STMT_OPERATOR_SIGNALS: what the metrics of docs/operations.md ("Signals
 * for the operator") read from the database, by its clock and its local
 * date. */
struct db_operator_signals {
	int64_t today_days;         /* the local date of the zone, days since 1970 */
	int64_t newest_mrp_days;    /* the newest MRP row's valid_from; POLICY_NO_MRP: none */
	int64_t last_checkpoint_us; /* the newest signed checkpoint's signed_at; TS_NULL: none */
	/* the local date in the calendar's zone; TS_NULL when none was asked */
	int64_t calendar_today_days;
	/* non_working_day holds a day of that date's year, of the next one */
	bool calendar_this_year, calendar_next_year;
};
bool db_operator_signals_of(const PGresult *r, struct db_operator_signals *o);

/* Events sealed per call of cd_audit_seal(), by the daemon's sealer and by
 * db_audit_seal_all(): a full batch means there may be more. */
#define DB_SEAL_BATCH 5000

/* The chain's head as STMT_AUDIT_SEAL_HEAD gives it, after sealing at most
 * one batch: seq 0 when the chain is empty. */
struct audit_head {
	int64_t sealed; /* events sealed by this call */
	int64_t seq;
	char hash[65]; /* hex */
	int64_t now_us;
	bool signed_by_key;
};
bool db_audit_head_row(const PGresult *r, struct audit_head *h);

/* An audit event with its place in the chain (STMT_AUDIT_LIST,
 * db_audit_stream(), db_audit_chain_stream()). */
struct db_audit_event {
	int64_t seq;
	int64_t at; /* microseconds */
	const char *actor;
	const char *lender;  /* NULL when none */
	const char *loan_id; /* NULL when none */
	const char *type;
	const char *detail; /* jsonb as text: the bytes the hash covers */
	const char *hash;   /* hex */
	/* db_audit_chain_stream() only: the chain entry's event is gone from
	 * audit_event (the fields above but seq and hash are then empty). */
	bool missing;
};
bool db_audit_event_row(const PGresult *r, int row, struct db_audit_event *e);

/* ---- the personal-data access log ---- */

/* Who looked at a borrower or a loan (STMT_ACCESS_LOG). */
struct db_access_entry {
	int64_t id;
	int64_t at; /* microseconds */
	const char *client;
	const char *role;
	const char *route;
	const char *borrower_iin; /* NULL when none */
	const char *lender;       /* NULL when none */
	const char *loan_id;      /* NULL when none */
	const char *request_id;
};
bool db_access_entry_row(const PGresult *r, int row, struct db_access_entry *e);

/* ---- a loan's events and the decision statistics ---- */

/* STMT_LOAN_EVENTS: the loan's sealed events with seq > after, in seq
 * order, at most limit (DB_LOAN_EVENTS_MAX at most). No row at all when
 * there is no such loan; a loan without sealed events (yet) gives one row
 * that db_audit_event_row() skips. */
#define DB_LOAN_EVENTS_MAX 1000
bool db_loan_events_found(const PGresult *r);

/* STMT_DECISION_STATS: the buckets of [from, to) (whole UTC hours, or
 * whole local days of the zone), at most DB_STATS_MAX_BUCKETS. The number
 * of buckets the window has (DB_STATS_MAX_BUCKETS + 1 when it has more:
 * then there are no counts). */
#define DB_STATS_MAX_BUCKETS 1000
int64_t db_decision_buckets_of(const PGresult *r);
/* Row `row` as a count of codec_buckets_add(), in bucket order; false past
 * the last row or when the window has too many buckets. */
bool db_decision_row(const PGresult *r, int row, struct decision_count *c);

/* ---- the lender's event feed, time events and webhooks (lib/db/feed.c) ---- */

/* STMT_TIME_EVENTS: the moments taken (as many as asked: there may be
 * more), 0 when none had come, -1 when another session writes them now
 * (one writer at a time) or the result is not the one row it always is. */
int64_t db_time_events_of(const PGresult *r);
/* Moments per call of cd_time_events() (sql/013). */
#define DB_TIME_EVENTS_BATCH 1000
/* STMT_LENDER_EVENTS: at most this many events a page. */
#define DB_LENDER_EVENTS_MAX 1000

/* An endpoint this daemon holds the lease of (STMT_WEBHOOK_LEASE). */
struct db_webhook_row {
	int64_t id;
	const char *lender;
	const char *url;
	const char *secret_sealed; /* hex */
	int64_t delivered_seq;
	int64_t failures;
	int64_t next_attempt_at; /* microseconds; TS_NULL: now */
	int64_t events_behind;   /* sealed events after delivered_seq, at most DB_BEHIND_CAP */
	int64_t now;             /* the database's */
};
#define DB_BEHIND_CAP 100000
bool db_webhook_row(const PGresult *r, int row, struct db_webhook_row *w);

/* coolingctl webhook ...: each writes its audit event (webhook_added,
 * webhook_removed: lender, url, never the secret) in the same statement.
 * add: sealed is the secret sealed at rest (WEBHOOK_SEALED_LEN bytes as
 * hex); deliveries start after seq `after`; 404 naming the lender when
 * there is none. remove: 404 when there is no such endpoint (or it was
 * removed). */
bool db_webhook_add(PGconn *c, const char *lender, const char *url, const char *sealed_hex,
                    int64_t after, int64_t *id, struct cd_error *err);
bool db_webhook_remove(PGconn *c, int64_t id, struct cd_error *err);
/* The endpoints not removed, by id; rows: db_webhook_list_row. */
struct db_webhook_list_row {
	int64_t id;
	const char *lender;
	const char *url;
	int64_t delivered_seq;
	int64_t events_behind;
	int64_t failures;
	int64_t next_attempt_at; /* TS_NULL: none pending */
	const char *last_error;  /* NULL: none */
};
PGresult *db_webhook_list(PGconn *c, struct cd_error *err);
bool db_webhook_list_row(const PGresult *r, int row, struct db_webhook_list_row *w);
/* One call of cd_time_events() (tests, coolingctl): as db_time_events_of. */
int64_t db_time_events(PGconn *c, int64_t max, struct cd_error *err);

/* A signed checkpoint (db_audit_checkpoint_stream()). */
struct db_checkpoint_row {
	int64_t seq;
	const char *hash;       /* hex */
	int64_t signed_at;      /* microseconds */
	const char *key_id;     /* 64 hex */
	const char *signature;  /* hex */
	const char *chain_hash; /* hex: the chain's stored hash at seq; NULL when it has none */
};

/* One row of db_mrp_list(). */
struct db_mrp_row {
	const char *valid_from; /* YYYY-MM-DD */
	int64_t tenge;
};
bool db_mrp_row(const PGresult *r, int row, struct db_mrp_row *m);

/* The changes of one IIN (STMT_REFUSAL_GET, STMT_REFUSAL_PUT,
 * db_refusal_get()), in (effective_at, arrival) order: a malloc'd array
 * (free it; its strings live as long as the result), *n changes, the
 * database's now, today's local date (STMT_REFUSAL_GET; TS_NULL otherwise)
 * and whether the change of a PUT was new. NULL with *n 0 when there is no
 * change (or the result is not such a list). */
struct db_refusal_meta {
	int64_t now;
	int64_t today_days;
	bool inserted;
};
struct refusal_change *db_refusal_rows(const PGresult *r, size_t *n, struct db_refusal_meta *m);

/* ---- statement parameters ----
 *
 * Each builder fills a db_params and returns its parameter array, in the
 * order and form (text, NULL) of the statement's $n. */

/* Text of an int64 parameter; TS_NULL becomes a NULL parameter. */
struct db_num {
	char s[24];
};
const char *db_num(struct db_num *buf, int64_t v);

struct db_params {
	const char *v[DB_MAX_PARAMS];
	struct db_num num[DB_MAX_PARAMS];
};

/* STMT_LOAN_INSERT: the loan's columns as the approval writes them, the
 * actor and the approval_recorded event's detail. */
const char *const *db_loan_insert_params(struct db_params *p, const struct loan *l,
                                         const char *actor, const char *detail);
/* The day an approval was decided with, for STMT_LOAN_INSERT to check under
 * the day's lock (lib/db/statements.c, cd_day_loans in sql/006). */
struct db_day {
	const char *tz;     /* policy.timezone; NULL: the profile adds nothing up */
	const char *lender; /* whose loans count; NULL: every lender's */
	int64_t others_tiyn;
	int64_t burst_window_s; /* policy.burst_window; 0: bursts do not count */
	int64_t burst_others;   /* the burst's other lenders the decision took */
};
const char *const *db_loan_insert_day_params(struct db_params *p, const struct loan *l,
                                             const char *actor, const char *detail,
                                             const struct db_day *day);
/* The name of $n of STMT_LOAN_INSERT (n from 1): the loan's column for
 * the columns (internal.h, LOAN_COLUMNS), then actor, detail, day_tz,
 * day_lender, day_total, burst_window_s, burst_others; NULL out of range.
 * For tools that bind its parameters by name (bench/print_sql), so that a
 * new column reaches them without an edit. */
const char *db_loan_insert_param_name(int n);
/* First reads; token_id is the last parameter of the STMT_AUTH_* twin and
 * ignored by the read itself. */
const char *const *db_params_loan_get(struct db_params *p, const char *lender, const char *loan_id,
                                      const char *token_id);
/* day_lender: whose loans of the day count (policy.aggregation): the
 * lender, or NULL for every lender. */
/* STMT_APPROVAL_CONTEXT: ..., policy.prior_victim_days (0: off), the
 * burst's window in seconds (0: bursts do not count), whether the day's
 * other loans are summed (false: the sum is 0, for a schedule whose
 * profiles add no day up) and, for the twin, the token's id. */
const char *const *db_params_approval_context(struct db_params *p, const char *lender,
                                              const struct approval_req *a, const char *tz,
                                              const char *day_lender, int64_t prior_victim_days,
                                              int64_t burst_window_s, bool day_sum,
                                              const char *token_id);
/* STMT_DISBURSE_CONTEXT: the loan, the Idempotency-Key (NULL: none), the
 * zone of the local date, the payee (NULL: none) and, for the twin, the
 * token's id. */
const char *const *db_params_disburse_context(struct db_params *p, const char *lender,
                                              const char *loan_id, const char *key, const char *tz,
                                              const struct payee *payee, const char *token_id);
/* Guarded writes of the acts (act_outcome's values); detail is the audit
 * event's (JSON text). */
const char *const *db_params_consent(struct db_params *p, const struct loan *l,
                                     const struct act_outcome *o, const char *actor,
                                     const char *detail);
const char *const *db_params_verify(struct db_params *p, const struct loan *l,
                                    const struct act_outcome *o, const struct verification_req *q,
                                    const char *actor, const char *detail);
const char *const *db_params_cancel(struct db_params *p, const struct loan *l,
                                    const struct cancellation_req *q, const char *actor);
const char *const *db_params_reconfirm(struct db_params *p, const struct loan *l,
                                       const struct act_outcome *o,
                                       const struct reconfirmation_req *q, const char *actor,
                                       const char *detail);
const char *const *db_params_extra_confirm(struct db_params *p, const struct loan *l,
                                           const struct act_outcome *o,
                                           const struct extra_confirmation_req *q,
                                           const char *actor, const char *detail);
const char *const *db_params_trusted_person(struct db_params *p, const struct loan *l,
                                            const struct act_outcome *o, const char *actor,
                                            const char *detail);
const char *const *db_params_control_call(struct db_params *p, const struct loan *l,
                                          const struct act_outcome *o,
                                          const struct control_call_req *q, const char *actor,
                                          const char *detail);
/* A payout to the payee (NULL: none), whose flag its guard checks. */
const char *const *db_params_disburse(struct db_params *p, const struct loan *l, const char *actor,
                                      const char *key, const char *detail,
                                      const struct payee *payee);
/* The refusal's event and, with a key, its stored answer (body). */
const char *const *db_params_refuse(struct db_params *p, const struct loan *l, const char *actor,
                                    const char *detail, const char *key, const char *body);

/* STMT_CLAIM_OPEN: the claim, who opens it (client, lender or NULL). */
const char *const *db_params_claim_open(struct db_params *p, const struct claim_open_req *q,
                                        const char *client, const char *lender);
/* STMT_CLAIM_CLOSE: the claim's id, the closure, who closes it. */
const char *const *db_params_claim_close(struct db_params *p, int64_t id,
                                         const struct claim_close_req *q, const char *client);
/* A claim's row (STMT_CLAIM_*); false when there is none. */
bool db_claim_row(const PGresult *r, int row, struct fraud_claim *c);

/* STMT_PAYEE_PUT: one change of a payee (q's iin unused), the actor of
 * its audit event. */
const char *const *db_params_payee_put(struct db_params *p, const struct payee *payee,
                                       const struct refusal_req *q, const char *actor);

/* STMT_REFUSAL_PUT: one change, the actor of its audit event. */
const char *const *db_params_refusal_put(struct db_params *p, const struct refusal_req *q,
                                         const char *actor);

/* STMT_ACCESS_RECORD: who (client, role), by which route, whom (an IIN,
 * a loan, or both; NULL when none) and the request's Request-Id. */
struct access_record {
	const char *client, *role, *route;
	const char *borrower_iin, *lender, *loan_id;
	const char *request_id;
};
const char *const *db_params_access_record(struct db_params *p, const struct access_record *a);
/* STMT_ACCESS_LOG: the filters of q (codec.h), absent ones NULL. */
const char *const *db_params_access_log(struct db_params *p, const struct access_query *q);

/* The SQLSTATE of a failed result, "" when none. */
const char *db_sqlstate(const PGresult *r);
/* True for errors that mean "the database is out of reach or shutting
 * down" rather than a fault of the statement. */
bool db_error_is_unavailable(const PGresult *r);
/* True when a statement failed because a time zone name it was given is not
 * one the server knows (22023, "time zone ... not recognized"): a
 * configuration fault (policy.timezone), not the request's. */
bool db_error_is_unknown_timezone(const PGresult *r);
/* True for a unique violation (23505): a concurrent request with the same
 * key got there first. */
bool db_error_is_unique_violation(const PGresult *r);

/* Synchronous use (CLI, tests). */
PGconn *db_connect(const char *url, struct cd_error *err);
bool db_prepare_all(PGconn *c, struct cd_error *err);
/* Applies the compiled-in migrations not yet applied, each in its own
 * transaction, under an advisory lock. sql_dir is unused (kept NULL): the
 * migrations are embedded at build time. */
bool db_migrate(PGconn *c, const char *sql_dir, int *applied, struct cd_error *err);
int db_schema_version(PGconn *c);

/* Operator commands; each writes its audit event in the same transaction,
 * with the actor "coolingctl:" + the database login (session_user). */
bool db_lender_add(PGconn *c, const char *id, const char *kind, const char *name,
                   struct cd_error *err);
/* Creates a client and writes its token (to be shown once) to token;
 * expires_in_s > 0: the token expires that many seconds after the
 * database's now, 0: never. */
bool db_client_add(PGconn *c, const char *name, const char *role, const char *lender,
                   int64_t expires_in_s, char *token, size_t token_size, struct cd_error *err);
bool db_client_revoke(PGconn *c, const char *name, struct cd_error *err);
bool db_mrp_set(PGconn *c, const char *date, int64_t tenge, struct cd_error *err);
/* Rows: db_mrp_row. */
PGresult *db_mrp_list(PGconn *c, struct cd_error *err);

/* The API clients for an access review, by name: what they are, never a
 * token or its hash. Rows: db_client_row. */
struct db_client_row {
	const char *name, *role;
	const char *lender;                         /* NULL but for the lender role */
	int64_t created_at, expires_at, revoked_at; /* TS_NULL: never */
	int64_t last_used_at; /* the daemon's last acceptance, to a minute; TS_NULL: never */
};
PGresult *db_client_list(PGconn *c, struct cd_error *err);
bool db_client_row(const PGresult *r, int row, struct db_client_row *k);

/* The lenders, by id. Rows: db_lender_row. */
struct db_lender_row {
	const char *lender, *kind;
	const char *name; /* NULL when none was given */
	int64_t created_at;
};
PGresult *db_lender_list(PGconn *c, struct cd_error *err);
bool db_lender_row(const PGresult *r, int row, struct db_lender_row *l);

/* Synchronous loan reads for the CLI: the loan(s) and the database's now. */
bool db_loan_get(PGconn *c, const char *lender, const char *loan_id, struct loan *l, int64_t *now,
                 struct cd_error *err);
/* At most DB_BORROWER_MAX_LOANS rows, the newest first; the HTTP API's
 * borrower list has the same limit. */
#define DB_BORROWER_MAX_LOANS 1000
/* Rows: db_loan_row. */
PGresult *db_borrower_loans(PGconn *c, const char *iin, const char *lender, struct cd_error *err);
/* One page of GET /v1/loans (STMT_LOANS_LIST, or _LENDER when lender is
 * not NULL): from, to, the cursor (cursor_at, cursor_id) TS_NULL when
 * absent; status NULL for any; newest first. */
PGresult *db_loans_list(PGconn *c, int64_t from, int64_t to, int64_t cursor_at, int64_t cursor_id,
                        const char *status, int64_t limit, const char *lender,
                        struct cd_error *err);
/* Today's local date in the zone tz, by the database's clock: days since
 * 1970-01-01. */
bool db_local_date(PGconn *c, const char *tz, int64_t *days, struct cd_error *err);

/* The voluntary refusal registry, synchronously (coolingctl refusals).
 * db_refusal_get: the result of STMT_REFUSAL_GET for iin (decode it with
 * db_refusal_rows), or NULL with err. */
PGresult *db_refusal_get(PGconn *c, const char *iin, const char *tz, struct cd_error *err);

/* An import of the bureau's file, all in one transaction: begin() opens it
 * and a COPY into a temporary staging table; row() sends one change (line:
 * its first line in the file); end() finishes the COPY and, with commit,
 * takes the changes' locks, inserts the new ones (a change known already,
 * or given twice in the file, once: the first line wins) with one audit
 * event each, and commits; without commit (a bad line was found) it rolls
 * everything back. *total and *added count the changes of the file and the
 * new ones. */
bool db_refusal_import_begin(PGconn *c, struct cd_error *err);
bool db_refusal_import_row(PGconn *c, int64_t line, const struct refusal_req *q,
                           struct cd_error *err);
bool db_refusal_import_end(PGconn *c, bool commit, int64_t *total, int64_t *added,
                           struct cd_error *err);

/* The suspicious payee registry, synchronously (coolingctl payees): one
 * payee's changes (STMT_PAYEE_GET, decoded by db_refusal_rows), and an
 * import of the anti-fraud centre's file, as the refusals' import. */
PGresult *db_payee_get(PGconn *c, const struct payee *p, struct cd_error *err);
bool db_payee_import_begin(PGconn *c, struct cd_error *err);
bool db_payee_import_row(PGconn *c, int64_t line, const struct payee *p,
                         const struct refusal_req *q, struct cd_error *err);
bool db_payee_import_end(PGconn *c, bool commit, int64_t *total, int64_t *added,
                         struct cd_error *err);

/* The calendar of non-working days, synchronously (coolingctl holidays).
 * An import of the calendar's file, all in one transaction, as the
 * registries' (begin, a row per day, end), but replacing: with commit,
 * end() makes the days of every year that the file holds the file's days,
 * each day added, renamed or removed one audit event (holiday_set,
 * holiday_removed), under a lock of the table so that two imports do not
 * interleave; the daemon's reads do not wait for it. */
struct holiday;
struct db_holiday_counts {
	int64_t total;     /* days in the file */
	int64_t added;     /* new */
	int64_t renamed;   /* there already under another name */
	int64_t unchanged; /* there already under this name */
	int64_t removed;   /* of the file's years, not in the file */
};
bool db_holiday_import_begin(PGconn *c, struct cd_error *err);
bool db_holiday_import_row(PGconn *c, int64_t line, const struct holiday *h, struct cd_error *err);
bool db_holiday_import_end(PGconn *c, bool commit, struct db_holiday_counts *n,
                           struct cd_error *err);
/* The non-working days of one year in the table, by date (Saturdays and
 * Sundays are not there unless named). Rows: db_holiday_row. */
PGresult *db_holiday_list(PGconn *c, int64_t year, struct cd_error *err);
struct db_holiday_row {
	const char *date; /* YYYY-MM-DD */
	int64_t day;      /* days since 1970-01-01 */
	const char *name;
	int64_t recorded_at;
};
bool db_holiday_row(const PGresult *r, int row, struct db_holiday_row *h);
/* A loan's events (STMT_LOAN_EVENTS) for the CLI; NULL with a 404 when
 * there is no such loan. */
PGresult *db_loan_events(PGconn *c, const char *lender, const char *loan_id, int64_t after,
                         int64_t limit, struct cd_error *err);
/* The decision statistics (STMT_DECISION_STATS) for the CLI; bucket is
 * "hour" or "day", tz the zone of the days, lender NULL for all. */
PGresult *db_decision_stats(PGconn *c, int64_t from_us, int64_t to_us, const char *bucket,
                            const char *tz, const char *lender, struct cd_error *err);

/* Seals every committed event not sealed yet; returns how many, or -1. A
 * login that may not seal (coolingd_reader, coolingd_admin) seals nothing
 * and gets 0: it reads what the daemon has sealed. */
int64_t db_audit_seal_all(PGconn *c, struct cd_error *err);

/* Streams sealed audit events in chain order, one row at a time (libpq
 * single-row mode), so that memory stays flat on any number of events.
 * from_us/to_us (TS_NULL: open) filter on the event time; after_seq and
 * upto_seq (0: open) on the sequence number. The callback gets each event
 * and returns false to stop. */
typedef bool (*db_audit_row_fn)(const struct db_audit_event *e, void *arg);
bool db_audit_stream(PGconn *c, int64_t from_us, int64_t to_us, int64_t after_seq, int64_t upto_seq,
                     db_audit_row_fn fn, void *arg, struct cd_error *err);
/* Number of sealed events that db_audit_stream() would give without an
 * upper bound, and the highest sequence number sealed, from one snapshot. */
bool db_audit_count(PGconn *c, int64_t from_us, int64_t to_us, int64_t after_seq, int64_t *count,
                    int64_t *max_seq, struct cd_error *err);
/* The highest sequence number sealed, 0 when none. */
bool db_audit_max_seq(PGconn *c, int64_t *max_seq, struct cd_error *err);

/* The chain with the fields the hash covers, in seq order, streamed; an
 * entry whose event is gone comes with e->missing. Same callback contract
 * as db_audit_stream. */
bool db_audit_chain_stream(PGconn *c, db_audit_row_fn fn, void *arg, struct cd_error *err);

/* Checkpoints (signed chain heads) with seq in (after_seq, upto_seq] (0:
 * open), in (seq, key_id) order, streamed. Same callback contract as
 * db_audit_stream. */
typedef bool (*db_checkpoint_fn)(const struct db_checkpoint_row *c, void *arg);
bool db_audit_checkpoint_stream(PGconn *c, int64_t after_seq, int64_t upto_seq, db_checkpoint_fn fn,
                                void *arg, struct cd_error *err);

bool db_audit_seal_head(PGconn *c, const char *key_id, struct audit_head *h, struct cd_error *err);

/* Stores a signed checkpoint (STMT_AUDIT_CHECKPOINT_ADD): only when the
 * chain holds hash at seq; one of the same seq and key already there is
 * kept. *stored says whether a row was added. */
bool db_audit_checkpoint_add(PGconn *c, int64_t seq, const char *hash_hex, int64_t signed_at_us,
                             const char *key_id, const char *sig_hex, bool *stored,
                             struct cd_error *err);

/* Export jobs (coolingctl export --since-last). */
/* The size of a pending file's path, NUL included, that a job can hold. */
#define DB_EXPORT_FILE_MAX 1024
struct export_job {
	int64_t last_seq;
	int64_t pending_to; /* 0: none */
	char pending_file[DB_EXPORT_FILE_MAX];
};
bool db_export_job_get(PGconn *c, const char *name, struct export_job *job, struct cd_error *err);
/* Records the range being delivered to file, unless another run changed the
 * job since it was read (then false with a 409) or file does not fit
 * DB_EXPORT_FILE_MAX (false with a 422). */
bool db_export_job_begin(PGconn *c, const char *name, const struct export_job *seen,
                         int64_t pending_to, const char *file, struct cd_error *err);
/* Moves the watermark to the pending range's end and clears it. */
bool db_export_job_commit(PGconn *c, const char *name, int64_t pending_to, struct cd_error *err);
/* Takes the session-level advisory lock of export job name, without
 * waiting: *got says whether this session now holds it. It is let go when
 * the connection closes, however the process ends. */
bool db_export_job_trylock(PGconn *c, const char *name, bool *got, struct cd_error *err);

/* An audit event that is not in the chain although it sorts (txid, id)
 * before the chain's last entry, which the sealer never leaves behind: an
 * event inserted behind its back. *event_id is its id (0: none) and
 * *before_seq the first chain entry that sorts after it. */
bool db_audit_stray_event(PGconn *c, int64_t *event_id, int64_t *before_seq, struct cd_error *err);

#endif

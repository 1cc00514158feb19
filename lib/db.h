/*
 * The database layer: every SQL statement of coolingd and coolingctl, the
 * decoding of rows into domain structs, migrations, and the operator
 * commands. Statements run as prepared statements with text parameters;
 * the daemon executes them asynchronously (daemon/pgpool.c), the CLI
 * synchronously. Each write is one statement, and so one transaction, that
 * also appends its audit event.
 */
#ifndef CD_DB_H
#define CD_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "cd_error.h"
#include "policy.h"

/* Bumped with every migration in sql/; /readyz compares it with the
 * database. */
#define DB_SCHEMA_VERSION 5

enum stmt {
	STMT_AUTH,             /* token_id -> name, role, lender, hash */
	STMT_SCHEMA_VERSION,   /* -> max applied migration */
	STMT_LOAN_GET,         /* lender, loan_id -> loan, now */
	STMT_APPROVAL_CONTEXT, /* lender, loan_id, approved_at|NULL, tz, iin -> loan, now, mrp,
	                          first time, approved_at, today's local date */
	STMT_LOAN_INSERT,      /* see db.c */
	STMT_CONSENT,          /* pk, consent_at, cooling_ends_at, actor, detail -> loan */
	STMT_VERIFY,           /* pk, verified_at, branch, officer, actor, detail -> loan */
	STMT_CANCEL,           /* pk, reason, actor -> loan */
	STMT_DISBURSE_CONTEXT, /* lender, loan_id, key|NULL -> loan, now, idempotency */
	STMT_DISBURSE,         /* pk, actor, key|NULL, detail -> loan (0 rows: guard failed) */
	STMT_REFUSE,           /* lender, loan_id, actor, detail, key|NULL, pk, body -> seq */
	STMT_BORROWER_LOANS,   /* iin, lender|NULL -> loans, now */
	STMT_LOCAL_DATE,       /* tz -> today's local date, days since 1970-01-01 */
	STMT_LOANS_LIST, /* from|NULL, to|NULL, cursor_at|NULL, cursor_id|NULL, status|NULL, limit
	                  */
	STMT_LOANS_LIST_LENDER,    /* the same, and lender */
	STMT_AUDIT_SEAL,           /* max events -> number sealed */
	STMT_AUDIT_LIST,           /* after, limit -> enum audit_col columns */
	STMT_AUDIT_SEAL_HEAD,      /* max events, key id -> enum seal_head_col columns */
	STMT_AUDIT_CHECKPOINT_ADD, /* seq, hash hex, signed_at us, key id, signature hex */
	STMT_AUDIT_UNSEALED,       /* cap -> events not sealed yet, at most cap */
	/* The first read of a request together with its authentication, in one
	 * round trip: AUTH_NCOLS columns as STMT_AUTH's, then the columns of
	 * the statement named; the token_id is the last parameter. No row when
	 * the token is unknown or revoked. */
	STMT_AUTH_LOAN_GET,         /* lender, loan_id, token_id */
	STMT_AUTH_APPROVAL_CONTEXT, /* lender, loan_id, approved_at|NULL, tz, iin, token_id */
	STMT_AUTH_DISBURSE_CONTEXT, /* lender, loan_id, key|NULL, token_id */
	STMT__COUNT
};

struct stmt_def {
	const char *name;
	const char *sql;
	int nparams;
};

extern const struct stmt_def db_statements[STMT__COUNT];

/* The authentication columns that STMT_AUTH returns and STMT_AUTH_* put
 * first: name, role, lender, token_hash. */
#define AUTH_NCOLS 4
/* Where the loan columns start in the result of a statement: after the
 * authentication columns for STMT_AUTH_*. */
int db_stmt_loan_col0(enum stmt st);
/* The STMT_AUTH_* twin of a first read (STMT_LOAN_GET,
 * STMT_APPROVAL_CONTEXT, STMT_DISBURSE_CONTEXT); st itself otherwise. */
enum stmt db_stmt_with_auth(enum stmt st);

/* Column layout of every statement that returns loans: LOAN_NCOLS loan
 * columns, then "now" (microseconds). */
#define LOAN_NCOLS 24

/* Decodes the loan columns starting at col0 of a row. */
bool db_loan_from_row(const PGresult *r, int row, int col0, struct loan *l);

/* Integer and timestamp (microseconds) cells; TS_NULL for SQL NULL. */
int64_t db_int(const PGresult *r, int row, int col);
int64_t db_ts(const PGresult *r, int row, int col);
bool db_bool(const PGresult *r, int row, int col);

/* Text of an int64 parameter; TS_NULL becomes a NULL parameter. */
struct db_num {
	char s[24];
};
const char *db_num(struct db_num *buf, int64_t v);

/* The SQLSTATE of a failed result, "" when none. */
const char *db_sqlstate(const PGresult *r);
/* True for errors that mean "the database is out of reach or shutting
 * down" rather than a fault of the statement. */
bool db_error_is_unavailable(const PGresult *r);
/* True when a statement failed because a time zone name it was given is not
 * one the server knows (22023, "time zone ... not recognized"): a
 * configuration fault (policy.timezone), not the request's. */
bool db_error_is_unknown_timezone(const PGresult *r);

/* Columns of STMT_AUDIT_LIST and db_audit_stream(). */
enum audit_col {
	AUDIT_SEQ,
	AUDIT_AT, /* microseconds */
	AUDIT_ACTOR,
	AUDIT_LENDER,
	AUDIT_LOAN,
	AUDIT_TYPE,
	AUDIT_DETAIL, /* jsonb as text */
	AUDIT_HASH,   /* hex */
	AUDIT_NCOLS
};
/* db_audit_chain_stream() adds one column after enum audit_col's: "t" when
 * the chain entry's event is gone from audit_event (its other event
 * columns are then NULL), else "f". */
#define AUDIT_EVENT_MISSING AUDIT_NCOLS

/* Columns of STMT_AUDIT_SEAL_HEAD: the number sealed, then the chain's
 * head after sealing (NULL while the chain is empty), the database's now
 * (microseconds), and whether the key id given has signed that head. */
enum seal_head_col {
	SEAL_SEALED,
	SEAL_HEAD_SEQ,
	SEAL_HEAD_HASH, /* hex */
	SEAL_NOW,
	SEAL_HEAD_SIGNED,
	SEAL_NCOLS
};

/* Columns of db_audit_checkpoint_stream(). */
enum checkpoint_col {
	CKPT_SEQ,
	CKPT_HASH,       /* hex */
	CKPT_SIGNED_AT,  /* microseconds */
	CKPT_KEY_ID,     /* 64 hex */
	CKPT_SIGNATURE,  /* hex */
	CKPT_CHAIN_HASH, /* hex: the chain's stored hash at seq; NULL when it has none */
	CKPT_NCOLS
};

/* Synchronous use (CLI, tests). */
PGconn *db_connect(const char *url, struct cd_error *err);
bool db_prepare_all(PGconn *c, struct cd_error *err);
/* Applies the compiled-in migrations not yet applied, each in its own
 * transaction, under an advisory lock. sql_dir is unused (kept NULL): the
 * migrations are embedded at build time. */
bool db_migrate(PGconn *c, const char *sql_dir, int *applied, struct cd_error *err);
int db_schema_version(PGconn *c);

/* Operator commands; each writes its audit event in the same transaction.
 * actor names the operator. */
bool db_lender_add(PGconn *c, const char *id, const char *kind, const char *name, const char *actor,
                   struct cd_error *err);
/* Creates a client and writes its token (to be shown once) to token. */
bool db_client_add(PGconn *c, const char *name, const char *role, const char *lender,
                   const char *actor, char *token, size_t token_size, struct cd_error *err);
bool db_client_revoke(PGconn *c, const char *name, const char *actor, struct cd_error *err);
bool db_mrp_set(PGconn *c, const char *date, int64_t tenge, const char *actor,
                struct cd_error *err);
/* Rows: valid_from, tenge. */
PGresult *db_mrp_list(PGconn *c, struct cd_error *err);

/* Synchronous loan reads for the CLI: the loan(s) and the database's now. */
bool db_loan_get(PGconn *c, const char *lender, const char *loan_id, struct loan *l, int64_t *now,
                 struct cd_error *err);
/* At most DB_BORROWER_MAX_LOANS rows, the newest first; the HTTP API's
 * borrower list has the same limit. */
#define DB_BORROWER_MAX_LOANS 1000
PGresult *db_borrower_loans(PGconn *c, const char *iin, const char *lender, struct cd_error *err);
/* Today's local date in the zone tz, by the database's clock: days since
 * 1970-01-01. */
bool db_local_date(PGconn *c, const char *tz, int64_t *days, struct cd_error *err);

/* Seals every committed event not sealed yet; returns how many, or -1. */
int64_t db_audit_seal_all(PGconn *c, struct cd_error *err);

/* Streams sealed audit events in chain order, one row at a time (libpq
 * single-row mode), so that memory stays flat on any number of events.
 * from_us/to_us (TS_NULL: open) filter on the event time; after_seq and
 * upto_seq (0: open) on the sequence number. The callback gets each row
 * (columns: enum audit_col) and returns false to stop. */
typedef bool (*db_audit_row_fn)(const PGresult *row, void *arg);
bool db_audit_stream(PGconn *c, int64_t from_us, int64_t to_us, int64_t after_seq, int64_t upto_seq,
                     db_audit_row_fn fn, void *arg, struct cd_error *err);
/* Number of sealed events that db_audit_stream() would give without an
 * upper bound, and the highest sequence number sealed, from one snapshot. */
bool db_audit_count(PGconn *c, int64_t from_us, int64_t to_us, int64_t after_seq, int64_t *count,
                    int64_t *max_seq, struct cd_error *err);
/* The highest sequence number sealed, 0 when none. */
bool db_audit_max_seq(PGconn *c, int64_t *max_seq, struct cd_error *err);

/* The chain with the fields the hash covers, in seq order, streamed. The
 * row's columns: enum audit_col (an entry whose event is gone has NULLs
 * there but seq and hash), then AUDIT_EVENT_MISSING. Same callback contract
 * as db_audit_stream. */
bool db_audit_chain_stream(PGconn *c, db_audit_row_fn fn, void *arg, struct cd_error *err);

/* Checkpoints (signed chain heads) with seq in (after_seq, upto_seq] (0:
 * open), in (seq, key_id) order, streamed; columns enum checkpoint_col.
 * Same callback contract as db_audit_stream. */
bool db_audit_checkpoint_stream(PGconn *c, int64_t after_seq, int64_t upto_seq, db_audit_row_fn fn,
                                void *arg, struct cd_error *err);

/* The chain's head as STMT_AUDIT_SEAL_HEAD gives it, after sealing at most
 * one batch: *seq 0 when the chain is empty. */
struct audit_head {
	int64_t seq;
	char hash[65]; /* hex */
	int64_t now_us;
	bool signed_by_key;
};
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

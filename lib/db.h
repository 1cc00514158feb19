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
#define DB_SCHEMA_VERSION 1

enum stmt {
	STMT_AUTH,             /* token_id -> name, role, lender, hash */
	STMT_SCHEMA_VERSION,   /* -> max applied migration */
	STMT_TIMEZONE_CHECK,   /* tz -> ok */
	STMT_LOAN_GET,         /* lender, loan_id -> loan, now */
	STMT_APPROVAL_CONTEXT, /* lender, loan_id, approved_at|NULL, tz, iin -> now, mrp, first
	                          time, loan */
	STMT_LOAN_INSERT,      /* see db.c */
	STMT_CONSENT,          /* pk, consent_at, cooling_ends_at, actor -> loan */
	STMT_VERIFY,           /* pk, verified_at, branch, officer, actor -> loan */
	STMT_CANCEL,           /* pk, reason, actor -> loan */
	STMT_DISBURSE_CONTEXT, /* lender, loan_id, key|NULL -> loan, now, idempotency */
	STMT_DISBURSE,         /* pk, actor, key|NULL, detail -> loan (0 rows: guard failed) */
	STMT_REFUSE,           /* lender, loan_id, actor, detail, key|NULL, pk, body -> seq */
	STMT_BORROWER_LOANS,   /* iin, lender|NULL -> loans, now */
	STMT__COUNT
};

struct stmt_def {
	const char *name;
	const char *sql;
	int nparams;
};

extern const struct stmt_def db_statements[STMT__COUNT];

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
PGresult *db_borrower_loans(PGconn *c, const char *iin, const char *lender, struct cd_error *err);

#endif

/*
 * The synchronous API of coolingctl (and of the tests): connecting,
 * preparing, the migrations, the operator commands (lenders, clients, the
 * MRP), the loan and registry reads, the audit trail's streams and
 * checkpoints, the export jobs, and the COPY import of the refusal
 * registry. The statements that only coolingctl runs are written here,
 * beside the function that runs each, and so are the reads of their
 * columns; the daemon's statements come from db_statements.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "internal.h"
#include "migrations.h"
#include "timeutil.h"
#include "token_random.h"

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

/* The actor of an event that coolingctl writes: the database login, which
 * the caller's environment cannot change (CONTRACT.md v1.2). */
#define CTL_ACTOR "('coolingctl:' || session_user)"

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

bool db_lender_add(PGconn *c, const char *id, const char *kind, const char *name,
                   struct cd_error *err)
{
	const char *p[] = {id, kind, name};
	PGresult *r = run(c,
	                  "WITH ins AS (INSERT INTO lender (id, kind, name) "
	                  "  VALUES ($1::text, $2::text, $3::text) RETURNING *) " AUDIT_INSERT
	                  "SELECT " CTL_ACTOR ", id, NULL, 'lender_added', "
	                  "  jsonb_build_object('kind', kind, 'name', name) FROM ins",
	                  3, p, "lender add", "a lender with this id exists already", err);
	if (r == NULL)
		return false;
	PQclear(r);
	return true;
}

bool db_client_add(PGconn *c, const char *name, const char *role, const char *lender,
                   int64_t expires_in_s, char *token, size_t token_size, struct cd_error *err)
{
	char tok[TOKEN_BUF], tok_id[TOKEN_ID_BUF];
	if (!token_generate(tok, tok_id))
		return cd_error_set(err, 500, "internal_error", "", "no randomness for a token");
	unsigned char hash[TOKEN_HASH_LEN];
	token_hash(tok, hash);
	char hex[2 + 2 * TOKEN_HASH_LEN + 1] = "\\x"; /* bytea's text form */
	hex_encode(hash, TOKEN_HASH_LEN, hex + 2);
	struct db_num expires;
	const char *p[] = {name,   role, lender,
	                   tok_id, hex,  expires_in_s > 0 ? db_num(&expires, expires_in_s) : NULL};
	/* RETURNING names its columns: the operator's role may not read a
	 * token's id or hash back */
	PGresult *r =
	    run(c,
	        "WITH ins AS (INSERT INTO api_client (name, role, lender_id, token_id, "
	        "  token_hash, expires_at) VALUES ($1::text, $2::text, $3::text, $4::text, "
	        "  $5::bytea, now() + $6::bigint * interval '1 second') "
	        "  RETURNING name, role, lender_id, expires_at) " AUDIT_INSERT "SELECT " CTL_ACTOR
	        ", lender_id, NULL, 'client_added', "
	        "  jsonb_build_object('name', name, 'role', role) || CASE WHEN "
	        "  expires_at IS NULL THEN '{}' ELSE jsonb_build_object('expires_at', "
	        "  cd_utc_text(expires_at)) END FROM ins",
	        6, p, "client add", "a client with this name exists already", err);
	if (r == NULL && err->status == 404) /* the only reference is to the lender */
		return cd_error_set(err, 404, "not_found", "", "no lender %s", lender);
	if (r == NULL)
		return false;
	PQclear(r);
	snprintf(token, token_size, "%s", tok);
	return true;
}

bool db_client_revoke(PGconn *c, const char *name, struct cd_error *err)
{
	const char *p[] = {name};
	PGresult *r =
	    run(c,
	        "WITH u AS (UPDATE api_client SET revoked_at = now() "
	        "  WHERE name = $1::text AND revoked_at IS NULL RETURNING name, lender_id), "
	        "a AS (" AUDIT_INSERT "SELECT " CTL_ACTOR ", lender_id, NULL, 'client_revoked', "
	        "  jsonb_build_object('name', name) FROM u) "
	        "SELECT count(*) FROM u",
	        1, p, "client revoke", NULL, err);
	if (r == NULL)
		return false;
	bool found = atoi(PQgetvalue(r, 0, 0)) == 1;
	PQclear(r);
	if (!found)
		return cd_error_set(err, 404, "not_found", "", "no active client named %s", name);
	return true;
}

/* The columns the operator's role may read: never token_id or token_hash. */
enum client_col {
	CLIENT_NAME,
	CLIENT_ROLE,
	CLIENT_LENDER,
	CLIENT_CREATED,
	CLIENT_EXPIRES,
	CLIENT_LAST_USED,
	CLIENT_REVOKED
};

PGresult *db_client_list(PGconn *c, struct cd_error *err)
{
	return run(c,
	           "SELECT name, role, lender_id, cd_us(created_at), cd_us(expires_at), "
	           "cd_us(last_used_at), cd_us(revoked_at) FROM api_client ORDER BY name",
	           0, NULL, "client list", NULL, err);
}

bool db_client_row(const PGresult *r, int row, struct db_client_row *k)
{
	if (row >= PQntuples(r))
		return false;
	k->name = PQgetvalue(r, row, CLIENT_NAME);
	k->role = PQgetvalue(r, row, CLIENT_ROLE);
	k->lender = db_text_or_null(r, row, CLIENT_LENDER);
	k->created_at = db_ts(r, row, CLIENT_CREATED);
	k->expires_at = db_ts(r, row, CLIENT_EXPIRES);
	k->last_used_at = db_ts(r, row, CLIENT_LAST_USED);
	k->revoked_at = db_ts(r, row, CLIENT_REVOKED);
	return true;
}

enum lender_col { LENDER_ID, LENDER_KIND, LENDER_NAME, LENDER_CREATED };

PGresult *db_lender_list(PGconn *c, struct cd_error *err)
{
	return run(c, "SELECT id, kind, name, cd_us(created_at) FROM lender ORDER BY id", 0, NULL,
	           "lender list", NULL, err);
}

bool db_lender_row(const PGresult *r, int row, struct db_lender_row *l)
{
	if (row >= PQntuples(r))
		return false;
	l->lender = PQgetvalue(r, row, LENDER_ID);
	l->kind = PQgetvalue(r, row, LENDER_KIND);
	l->name = db_text_or_null(r, row, LENDER_NAME);
	l->created_at = db_ts(r, row, LENDER_CREATED);
	return true;
}

bool db_mrp_set(PGconn *c, const char *date, int64_t tenge, struct cd_error *err)
{
	struct db_num n;
	const char *p[] = {date, db_num(&n, tenge)};
	PGresult *r = run(c,
	                  "WITH up AS (INSERT INTO mrp (valid_from, tenge) "
	                  "  VALUES ($1::date, $2::integer) ON CONFLICT (valid_from) DO UPDATE "
	                  "  SET tenge = excluded.tenge, set_at = now() RETURNING *) " AUDIT_INSERT
	                  "SELECT " CTL_ACTOR ", NULL, NULL, 'mrp_set', "
	                  "  jsonb_build_object('valid_from', valid_from, 'tenge', tenge) FROM up",
	                  2, p, "mrp set", NULL, err);
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

PGresult *db_loans_list(PGconn *c, int64_t from, int64_t to, int64_t cursor_at, int64_t cursor_id,
                        const char *status, int64_t limit, const char *lender, struct cd_error *err)
{
	struct db_num n[5];
	const char *p[] = {db_num(&n[0], from),
	                   db_num(&n[1], to),
	                   db_num(&n[2], cursor_at),
	                   db_num(&n[3], cursor_id),
	                   status,
	                   db_num(&n[4], limit),
	                   lender};
	enum stmt st = lender ? STMT_LOANS_LIST_LENDER : STMT_LOANS_LIST;
	return run(c, db_statements[st].sql, lender ? 7 : 6, p, "loans", NULL, err);
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
	PGresult *may = run(c, "SELECT has_function_privilege('cd_audit_seal(integer)', 'EXECUTE')",
	                    0, NULL, "audit seal", NULL, err);
	if (may == NULL)
		return -1;
	bool allowed = db_bool(may, 0, 0);
	PQclear(may);
	if (!allowed)
		return 0;
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
	db_checkpoint_row(r, 0, &k);
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

/* The frame of a registry's import (coolingctl refusals|payees import): a
 * transaction, a staging table (create) that one COPY fills, line by line,
 * and at the end the changes of the staging table applied after the
 * registry's bucket locks (lock, ascending, taken after the COPY so that
 * payouts wait only for the insert). Nothing is imported unless every line
 * was good. */
static bool import_begin(PGconn *c, const char *create, const char *copy, const char *what,
                         struct cd_error *err)
{
	if (!exec_ok(c, "BEGIN", err))
		return false;
	if (!exec_ok(c, create, err)) {
		PQclear(PQexec(c, "ROLLBACK"));
		return false;
	}
	char copy_what[64];
	snprintf(copy_what, sizeof(copy_what), "%s: COPY", what);
	PGresult *r = PQexec(c, copy);
	bool ok = PQresultStatus(r) == PGRES_COPY_IN;
	if (!ok)
		sync_result_ok(r, err, copy_what);
	PQclear(r);
	if (!ok)
		PQclear(PQexec(c, "ROLLBACK"));
	return ok;
}

static bool import_put(PGconn *c, const char *buf, int n, size_t size, const char *what,
                       struct cd_error *err)
{
	if (n < 0 || (size_t)n >= size || PQputCopyData(c, buf, n) != 1)
		return cd_error_set(err, 500, "database_error", "", "%s: COPY: %s", what,
		                    PQerrorMessage(c));
	return true;
}

/* import applies the staging table and answers the counts of the file's
 * changes and of the new ones. */
static bool import_end(PGconn *c, bool commit, const char *lock, const char *import,
                       const char *what, int64_t *total, int64_t *added, struct cd_error *err)
{
	*total = *added = 0;
	char copy_what[64];
	snprintf(copy_what, sizeof(copy_what), "%s: COPY", what);
	bool ok = PQputCopyEnd(c, commit ? NULL : "a bad line: nothing is imported") == 1;
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL) {
		if (commit && ok)
			ok = sync_result_ok(r, err, copy_what);
		PQclear(r);
	}
	if (!commit || !ok) {
		PQclear(PQexec(c, "ROLLBACK"));
		return ok; /* rolled back as asked, or the COPY failed */
	}
	ok = exec_ok(c, lock, err);
	r = ok ? run(c, import, 0, NULL, what, NULL, err) : NULL;
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

bool db_refusal_import_begin(PGconn *c, struct cd_error *err)
{
	return import_begin(c,
	                    "CREATE TEMP TABLE refusal_import (line bigint NOT NULL, iin text NOT "
	                    "NULL, active boolean NOT NULL, effective_at timestamptz NOT NULL, "
	                    "source text NOT NULL, reference text) ON COMMIT DROP",
	                    "COPY refusal_import FROM STDIN", "refusals import", err);
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
	return import_put(c, buf, n, sizeof(buf), "refusals import", err);
}

/* The changes of the staging table not known yet, each once (the first
 * line of a change given twice), in the file's order, with their events;
 * the counts of the file's changes and of the new ones. */
/* clang-format off */
#define REFUSAL_IMPORT_SQL                                                                         \
	"WITH s AS (SELECT DISTINCT ON (iin, active, effective_at, source) line, iin, active, "    \
	"  effective_at, source, reference FROM refusal_import "                                   \
	"  ORDER BY iin, active, effective_at, source, line), "                                    \
	"ins AS (INSERT INTO voluntary_refusal (iin, active, effective_at, source, reference) "    \
	"  SELECT iin, active, effective_at, source, reference FROM s ORDER BY line "              \
	"  ON CONFLICT (iin, active, effective_at, source) DO NOTHING RETURNING *), "              \
	"a AS (" REFUSAL_AUDIT(CTL_ACTOR) ") "                                                          \
	"SELECT (SELECT count(*) FROM refusal_import), (SELECT count(*) FROM ins)"
/* clang-format on */

bool db_refusal_import_end(PGconn *c, bool commit, int64_t *total, int64_t *added,
                           struct cd_error *err)
{
	return import_end(
	    c, commit,
	    "SELECT cd_refusal_lock_bucket(b) FROM (SELECT DISTINCT cd_refusal_bucket(iin) "
	    "AS b FROM refusal_import) s ORDER BY b",
	    REFUSAL_IMPORT_SQL, "refusals import", total, added, err);
}

/* ---- the suspicious payee registry (coolingctl payees) ---- */

PGresult *db_payee_get(PGconn *c, const struct payee *p, struct cd_error *err)
{
	const char *params[] = {name_of(&payee_kind_names, (int)p->kind), p->id};
	return run(c, db_statements[STMT_PAYEE_GET].sql, 2, params, "payees show", NULL, err);
}

bool db_payee_import_begin(PGconn *c, struct cd_error *err)
{
	return import_begin(
	    c,
	    "CREATE TEMP TABLE payee_import (line bigint NOT NULL, kind text NOT NULL, "
	    "id text NOT NULL, active boolean NOT NULL, effective_at timestamptz NOT "
	    "NULL, source text NOT NULL, reference text) ON COMMIT DROP",
	    "COPY payee_import FROM STDIN", "payees import", err);
}

bool db_payee_import_row(PGconn *c, int64_t line, const struct payee *p,
                         const struct refusal_req *q, struct cd_error *err)
{
	char ts[TS_BUF], ref[2 * REFUSAL_REFERENCE_BUF], buf[4 * REFUSAL_REFERENCE_BUF];
	ts_format_utc(q->effective_at, ts);
	if (q->has_reference)
		copy_escape(ref, sizeof(ref), q->reference);
	else
		snprintf(ref, sizeof(ref), "\\N");
	/* the kind, the id and the source are identifiers: nothing to escape */
	int n = snprintf(buf, sizeof(buf), "%lld\t%s\t%s\t%s\t%s\t%s\t%s\n", (long long)line,
	                 name_of(&payee_kind_names, (int)p->kind), p->id, q->active ? "t" : "f", ts,
	                 q->source, ref);
	return import_put(c, buf, n, sizeof(buf), "payees import", err);
}

/* As REFUSAL_IMPORT_SQL, for the payees' staging table. */
/* clang-format off */
#define PAYEE_IMPORT_SQL                                                                           \
	"WITH s AS (SELECT DISTINCT ON (kind, id, active, effective_at, source) line, kind, id, "  \
	"  active, effective_at, source, reference FROM payee_import "                             \
	"  ORDER BY kind, id, active, effective_at, source, line), "                               \
	"ins AS (INSERT INTO suspicious_payee (kind, id, active, effective_at, source, reference) " \
	"  SELECT kind, id, active, effective_at, source, reference FROM s ORDER BY line "         \
	"  ON CONFLICT (kind, id, active, effective_at, source) DO NOTHING RETURNING *), "         \
	"a AS (" PAYEE_AUDIT(CTL_ACTOR) ") "                                                            \
	"SELECT (SELECT count(*) FROM payee_import), (SELECT count(*) FROM ins)"
/* clang-format on */

bool db_payee_import_end(PGconn *c, bool commit, int64_t *total, int64_t *added,
                         struct cd_error *err)
{
	return import_end(c, commit,
	                  "SELECT cd_payee_lock_bucket(b) FROM (SELECT DISTINCT "
	                  "cd_payee_bucket(kind, id) AS b FROM payee_import) s ORDER BY b",
	                  PAYEE_IMPORT_SQL, "payees import", total, added, err);
}

/* ---- webhooks (coolingctl webhook ...) and time events ---- */

bool db_webhook_add(PGconn *c, const char *lender, const char *url, const char *sealed_hex,
                    int64_t after, int64_t *id, struct cd_error *err)
{
	struct db_num n;
	const char *p[] = {lender, url, sealed_hex, db_num(&n, after)};
	PGresult *r =
	    run(c,
	        "WITH i AS (INSERT INTO webhook (lender_id, url, secret_sealed, delivered_seq) "
	        "  SELECT l.id, $2::text, decode($3::text, 'hex'), $4::bigint FROM lender l "
	        "  WHERE l.id = $1::text RETURNING id, lender_id, url), "
	        "a AS (" AUDIT_INSERT "SELECT " CTL_ACTOR ", lender_id, NULL, 'webhook_added', "
	        "  jsonb_build_object('webhook', id, 'url', url) FROM i) "
	        "SELECT id FROM i",
	        4, p, "webhook add", NULL, err);
	if (r == NULL)
		return false;
	bool found = PQntuples(r) == 1;
	if (found)
		*id = db_int(r, 0, 0);
	PQclear(r);
	if (!found)
		return cd_error_set(err, 404, "not_found", "lender", "no lender %s", lender);
	return true;
}

bool db_webhook_remove(PGconn *c, int64_t id, struct cd_error *err)
{
	struct db_num n;
	const char *p[] = {db_num(&n, id)};
	PGresult *r =
	    run(c,
	        "WITH u AS (UPDATE webhook SET removed_at = now(), lease_owner = NULL "
	        "  WHERE id = $1::bigint AND removed_at IS NULL RETURNING id, lender_id, url), "
	        "a AS (" AUDIT_INSERT "SELECT " CTL_ACTOR ", lender_id, NULL, 'webhook_removed', "
	        "  jsonb_build_object('webhook', id, 'url', url) FROM u) "
	        "SELECT count(*) FROM u",
	        1, p, "webhook remove", NULL, err);
	if (r == NULL)
		return false;
	bool found = atoi(PQgetvalue(r, 0, 0)) == 1;
	PQclear(r);
	if (!found)
		return cd_error_set(err, 404, "not_found", "", "no webhook %lld", (long long)id);
	return true;
}

PGresult *db_webhook_list(PGconn *c, struct cd_error *err)
{
	return run(
	    c,
	    "SELECT w.id, w.lender_id, w.url, w.delivered_seq, "
	    "  (SELECT count(*) FROM (SELECT 1 FROM audit_event e "
	    "    JOIN audit_chain c ON c.event_id = e.id "
	    "    WHERE e.lender_id = w.lender_id AND (e.txid, e.id) > ("
	    "      coalesce((SELECT k.txid FROM audit_chain k WHERE k.seq <= w.delivered_seq "
	    "        ORDER BY k.seq DESC LIMIT 1), '0'::xid8), "
	    "      coalesce((SELECT k.event_id FROM audit_chain k "
	    "        WHERE k.seq <= w.delivered_seq ORDER BY k.seq DESC LIMIT 1), 0)) "
	    "    LIMIT " DB_STR(
	        DB_BEHIND_CAP) ") x), "
	                       "  w.failures, cd_us(w.next_attempt_at), w.last_error "
	                       "FROM webhook w WHERE w.removed_at IS NULL ORDER BY w.id",
	    0, NULL, "webhook list", NULL, err);
}

int64_t db_time_events(PGconn *c, int64_t max, struct cd_error *err)
{
	struct db_num n;
	const char *p[] = {db_num(&n, max)};
	PGresult *r = run(c, db_statements[STMT_TIME_EVENTS].sql, 1, p, "time events", NULL, err);
	if (r == NULL)
		return -2;
	int64_t v = db_time_events_of(r);
	PQclear(r);
	return v;
}

/*
 * The pool's batches (daemon/pgpool.c, DB_BATCHED in lib/db.h) against the
 * real database: a lone request goes out at once as its statement; requests
 * that queue while every connection is busy go out as one statement, and
 * each gets exactly the result that its statement alone gives (reads: its
 * row or none, its own client; writes: its own row, audit event and stored
 * answer, compared with the same requests run one by one on a second
 * database); a batch that the database refuses runs its requests one by
 * one, so that only the bad one fails; two batches that lock the same rows
 * and days in opposite orders, with refusal changes among them, never
 * deadlock.
 */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "db.h"
#include "pgpool.h"
#include "support/testdb.h"
#include "timeutil.h"

static char *url;
static PGconn *side; /* runs each read alone, for comparison */
static struct event_base *base;
static struct pgpool *pool;

#define TOKEN_B1      "aaaaaaaaaaa1"
#define TOKEN_B2      "bbbbbbbbbbb2"
#define TOKEN_REVOKED "ccccccccccc3"
#define TOKEN_UNKNOWN "ddddddddddd4"

/* Two lenders, their clients, and 40 loans L1..L40 (ids 1..40). */
#define SETUP_SQL                                                                                  \
	"INSERT INTO lender (id, kind, name) VALUES ('B1', 'bank', 'One'), "                       \
	"('B2', 'mfo', 'Two'); "                                                                   \
	"INSERT INTO api_client (name, role, lender_id, token_id, token_hash, revoked_at) "        \
	"VALUES ('one', 'lender', 'B1', '" TOKEN_B1 "', sha256('one'), NULL), "                    \
	"('two', 'lender', 'B2', '" TOKEN_B2 "', sha256('two'), NULL), "                           \
	"('gone', 'lender', 'B1', '" TOKEN_REVOKED "', sha256('gone'), now()), "                   \
	"('audit', 'auditor', NULL, 'eeeeeeeeeee5', sha256('audit'), NULL); "                      \
	"INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "               \
	"secured, first_time_borrower, first_time_given, policy, mrp_tenge, "                      \
	"threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "                 \
	"approved_at, consent_at, cooling_ends_at) "                                               \
	"SELECT CASE WHEN g % 4 = 0 THEN 'B2' ELSE 'B1' END, 'L' || g, "                           \
	"lpad((900101300000 + g)::text, 12, '0'), 100000 * g, "                                    \
	"CASE WHEN g % 2 = 0 THEN 'online' ELSE 'branch' END, g % 3 = 0, false, "                  \
	"true, 'kz-2024', 3692, 73840000, g % 2 = 0, "                                             \
	"CASE WHEN g % 2 = 0 THEN 86400 END, false, now() - g * interval '1 hour', "               \
	"CASE WHEN g % 5 <> 0 THEN now() - g * interval '1 minute' END, "                          \
	"CASE WHEN g % 2 = 0 AND g % 5 <> 0 THEN now() + interval '1 day' END "                    \
	"FROM generate_series(1, 40) g"

static void setup(void)
{
	url = testdb_create("batch");
	side = testdb_connect(url);
	testdb_exec(side, SETUP_SQL);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
}

static void teardown(void)
{
	pgpool_free(pool);
	pool = NULL;
	event_base_free(base);
	PQfinish(side);
	testdb_drop(url);
	free(url);
}

static void pool_open(int size)
{
	struct pgpool_opts o = {.url = url,
	                        .size = size,
	                        .statement_timeout_s = 10,
	                        .queue_timeout_s = 10,
	                        .health_timeout_ms = 2000,
	                        .max_queue = 1000,
	                        .name = "primary"};
	pool = pgpool_new(base, &o);
	ck_assert_ptr_nonnull(pool);
	struct pgpool_gauges g;
	for (int i = 0; i < 2000; i++) {
		pgpool_gauges(pool, &g);
		if (g.idle == size)
			return;
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		struct timeval tv = {0, 5000};
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
	ck_abort_msg("the pool did not connect");
}

/* One request: its statement and parameters, and what came back. */
struct req {
	enum stmt st;
	const char *p[DB_MAX_PARAMS];
	bool done;
	ExecStatusType status;
	char sqlstate[6];
	int rows, cols;
	char *cells; /* every cell as text, NULL as \N, separated by | */
};

/* Every cell of r as "name=value|", but column skip_col, or, when skip_col
 * is -1 (a write's result, compared with the same write on another
 * database), every row id and every time: another database, another time,
 * the ids of another order. */
static char *cells_of(const PGresult *r, int skip_col)
{
	size_t cap = 32768, len = 0;
	char *s = malloc(cap);
	s[0] = '\0';
	for (int i = 0; i < PQntuples(r); i++)
		for (int f = 0; f < PQnfields(r); f++) {
			const char *name = PQfname(r, f);
			if (skip_col >= 0 ? f == skip_col
			                  : strcmp(name, "id") == 0 || strcmp(name, "cd_us") == 0)
				continue;
			const char *v = PQgetisnull(r, i, f) ? "\\N" : PQgetvalue(r, i, f);
			len += (size_t)snprintf(s + len, cap - len, "%s=%s|", name, v);
			ck_assert_uint_lt(len, cap);
		}
	return s;
}

/* The writes among the statements these tests queue. */
static bool is_write(enum stmt st)
{
	return st == STMT_LOAN_INSERT || st == STMT_DISBURSE || st == STMT_REFUSE ||
	       st == STMT_REFUSAL_PUT;
}

/* The column of the database's now in a loan read's row: the one after
 * the loan's id (LOAN_COLS_NOW), whatever follows. */
static int now_col(const PGresult *r)
{
	for (int f = 0; f + 1 < PQnfields(r); f++)
		if (strcmp(PQfname(r, f), "id") == 0)
			return f + 1;
	for (int f = 0; f < PQnfields(r); f++)
		if (strcmp(PQfname(r, f), "cd_us") == 0 && f + 1 == PQnfields(r))
			return f;
	return PQnfields(r) - 1; /* LOAN_COLS_NOW ends with it */
}

static void on_result(PGresult *res, void *arg)
{
	struct req *q = arg;
	ck_assert(!q->done);
	q->done = true;
	ck_assert_ptr_nonnull(res);
	q->status = PQresultStatus(res);
	snprintf(q->sqlstate, sizeof(q->sqlstate), "%s", db_sqlstate(res));
	q->rows = PQntuples(res);
	q->cols = PQnfields(res);
	q->cells = q->status != PGRES_TUPLES_OK ? NULL
	           : is_write(q->st)            ? cells_of(res, -1)
	                                        : cells_of(res, now_col(res));
}

static void run_until_done(struct req *qs, int n)
{
	for (int spins = 0; spins < 5000; spins++) {
		bool all = true;
		for (int i = 0; i < n; i++)
			all = all && qs[i].done;
		if (all)
			return;
		struct timeval tv = {0, 10000};
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
	ck_abort_msg("requests left unanswered");
}

/* What the read alone gives for q, through libpq's own prepared path. */
static void expect_alone(const struct req *q)
{
	const struct stmt_def *d = &db_statements[q->st];
	PGresult *r = PQexecParams(side, d->sql, d->nparams, NULL, q->p, NULL, NULL, 0);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	char *want = cells_of(r, now_col(r));
	ck_assert_int_eq(q->status, PGRES_TUPLES_OK);
	ck_assert_int_eq(q->rows, PQntuples(r));
	ck_assert_int_eq(q->cols, PQnfields(r));
	ck_assert_str_eq(q->cells, want);
	free(want);
	PQclear(r);
}

static void req_free(struct req *qs, int n)
{
	for (int i = 0; i < n; i++)
		free(qs[i].cells);
}

static void queue_all(struct req *qs, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert(pgpool_exec(pool, qs[i].st, qs[i].p, on_result, &qs[i]));
}

START_TEST(test_a_lone_read_goes_out_at_once_as_the_read_itself)
{
	pool_open(2);
	struct req q = {.st = STMT_AUTH_LOAN_GET, .p = {"B1", "L1", TOKEN_B1}};
	ck_assert(pgpool_exec(pool, q.st, q.p, on_result, &q));
	/* one turn of the loop sends it: nothing waits for company */
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	struct pgpool_gauges g;
	pgpool_gauges(pool, &g);
	ck_assert_int_eq(g.queued, 0);
	ck_assert_int_eq(g.busy, 1);
	ck_assert_int_eq(g.statements, 1);
	ck_assert_int_eq(g.batches, 0);
	run_until_done(&q, 1);
	ck_assert_int_eq(q.rows, 1);
	expect_alone(&q);
	/* and a second one, alone again, after the first was answered */
	struct req q2 = {.st = STMT_LOAN_GET, .p = {"B1", "L2", NULL}};
	ck_assert(pgpool_exec(pool, q2.st, q2.p, on_result, &q2));
	run_until_done(&q2, 1);
	expect_alone(&q2);
	pgpool_gauges(pool, &g);
	ck_assert_int_eq(g.statements, 2);
	ck_assert_int_eq(g.batches, 0);
	req_free(&q, 1);
	req_free(&q2, 1);
}
END_TEST

START_TEST(test_reads_queued_together_are_one_statement_each_with_its_own_answer)
{
	pool_open(1);
	/* a mix: the lender's loans, one twice, missing loans, another lender's
	 * loan (the read finds it; the client's lender says whose it is),
	 * revoked, unknown and auditor tokens, and reads without a token */
	static const char *const tokens[] = {TOKEN_B1, TOKEN_B2, TOKEN_REVOKED, TOKEN_UNKNOWN,
	                                     "eeeeeeeeeee5"};
	enum { N = 48 };
	struct req qs[N];
	char ids[N][16];
	memset(qs, 0, sizeof(qs));
	for (int i = 0; i < N; i++) {
		int loan = i % 7 == 6 ? 1000 + i : i % 41; /* L0 and L1000+ do not exist */
		snprintf(ids[i], sizeof(ids[i]), "L%d", loan);
		qs[i].p[0] = i % 5 == 1 ? "B2" : "B1";
		qs[i].p[1] = ids[i];
		if (i % 6 == 5) {
			qs[i].st = STMT_LOAN_GET;
		} else {
			qs[i].st = STMT_AUTH_LOAN_GET;
			qs[i].p[2] = tokens[i % 5];
		}
	}
	qs[N - 1] = qs[0]; /* the same request twice in one batch */
	queue_all(qs, N);
	run_until_done(qs, N);
	struct pgpool_gauges g;
	pgpool_gauges(pool, &g);
	/* the first read takes every other read of its kind with it, and the
	 * next statement every read of the other kind */
	ck_assert_int_eq(g.statements, 2);
	ck_assert_int_eq(g.batches, 2);
	ck_assert_int_eq(g.batched, N);
	ck_assert_int_eq(g.batch_fallbacks, 0);
	int with_loan = 0, without_client = 0;
	for (int i = 0; i < N; i++) {
		expect_alone(&qs[i]);
		with_loan += qs[i].rows == 1 && strstr(qs[i].cells, "loan_id=\\N") == NULL;
		without_client += qs[i].rows == 0;
	}
	/* the mix holds every case */
	ck_assert_int_gt(with_loan, 10);
	ck_assert_int_gt(without_client, 5);
	req_free(qs, N);
}
END_TEST

START_TEST(test_first_reads_of_approvals_and_payouts_queued_together_each_as_if_alone)
{
	pool_open(1);
	/* the approval's context (its loan, the MRP, the first-time lookup, the
	 * day's sum) and the payout's (its loan, the stored answer), with and
	 * without the client's token, for loans that exist or not */
	testdb_exec(side,
	            "INSERT INTO disbursement_idempotency (lender_id, key, loan_pk, status, body) "
	            "VALUES ('B1', 'K1', 1, 409, '{\"decision\":\"refused\"}')");
	enum { N = 40 };
	struct req qs[N];
	static char ids[N][16], iins[N][16];
	memset(qs, 0, sizeof(qs));
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "L%d", i % 3 == 2 ? 900 + i : 1 + i);
		snprintf(iins[i], sizeof(iins[i]), "%012lld", 900101300000LL + 1 + i % 7);
		const char *lender = i % 4 == 0 ? "B2" : "B1";
		const char *token = i % 5 == 4 ? TOKEN_REVOKED : TOKEN_B1;
		switch (i % 4) {
		case 0:
		case 1:
			qs[i] = (struct req){
			    .st = i % 8 < 4 ? STMT_AUTH_APPROVAL_CONTEXT : STMT_APPROVAL_CONTEXT,
			    .p = {lender, ids[i], "1796210400000000", "Asia/Almaty", iins[i],
			          i % 3 ? NULL : lender, "365", i % 2 ? NULL : "3600",
			          i % 5 < 2 ? "f" : "t", token}};
			break;
		default:
			qs[i] = (struct req){.st = i % 8 < 4 ? STMT_AUTH_DISBURSE_CONTEXT
			                                     : STMT_DISBURSE_CONTEXT,
			                     .p = {lender, ids[i], i % 6 == 2 ? "K1" : NULL,
			                           "Asia/Almaty", NULL, NULL, token}};
			break;
		}
	}
	queue_all(qs, N);
	run_until_done(qs, N);
	struct pgpool_gauges g;
	pgpool_gauges(pool, &g);
	ck_assert_int_eq(g.batch_fallbacks, 0);
	ck_assert_int_le(g.statements, 5); /* one alone, then one per statement */
	for (int i = 0; i < N; i++)
		expect_alone(&qs[i]);
	req_free(qs, N);
}
END_TEST

START_TEST(test_a_batch_the_database_refuses_runs_its_requests_one_by_one)
{
	pool_open(1);
	enum { N = 10 };
	struct req qs[N];
	char ids[N][16];
	memset(qs, 0, sizeof(qs));
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "L%d", i + 1);
		qs[i] = (struct req){.st = STMT_AUTH_LOAN_GET, .p = {"B1", ids[i], TOKEN_B1}};
	}
	/* passes every check in C, and the server refuses it: not UTF-8 */
	qs[4].p[2] = "\xff\xfe"
	             "aaaaaaaaaa";
	queue_all(qs, N);
	run_until_done(qs, N);
	struct pgpool_gauges g;
	pgpool_gauges(pool, &g);
	ck_assert_int_eq(g.batches, 1);
	ck_assert_int_eq(g.batch_fallbacks, 1);
	ck_assert_int_eq(g.statements, 1 + N); /* the batch, then each alone */
	for (int i = 0; i < N; i++) {
		if (i == 4) {
			ck_assert_int_eq(qs[i].status, PGRES_FATAL_ERROR);
			ck_assert_str_eq(qs[i].sqlstate, "22021");
			continue;
		}
		ck_assert_int_eq(qs[i].rows, 1);
		expect_alone(&qs[i]);
	}
	/* the connection stays and batches again */
	struct req again[3] = {{.st = STMT_LOAN_GET, .p = {"B1", "L1"}},
	                       {.st = STMT_LOAN_GET, .p = {"B1", "L2"}},
	                       {.st = STMT_LOAN_GET, .p = {"B1", "L0"}}};
	queue_all(again, 3);
	run_until_done(again, 3);
	for (int i = 0; i < 3; i++)
		expect_alone(&again[i]);
	pgpool_gauges(pool, &g);
	ck_assert_int_eq(g.batches, 2);
	req_free(qs, N);
	req_free(again, 3);
}
END_TEST

START_TEST(test_a_batched_statement_runs_on_few_connections_and_the_rest_wait_for_them)
{
	enum { K = PGPOOL_KIND_PARALLEL, LATER = 6, N = K + LATER };
	pool_open(K + 3);
	struct req qs[N + 1];
	char ids[N][16];
	memset(qs, 0, sizeof(qs));
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "L%d", i + 1);
		qs[i] = (struct req){.st = STMT_LOAN_GET, .p = {"B1", ids[i]}};
	}
	qs[N] = (struct req){.st = STMT_LOCAL_DATE, .p = {"Asia/Almaty"}}; /* never batched */
	/* the loans are locked away: every read of them runs until the lock goes */
	testdb_exec(side, "BEGIN; LOCK TABLE loan IN ACCESS EXCLUSIVE MODE");
	/* K reads, one after another, each finding fewer than K of its kind
	 * running: out at once, each alone */
	struct pgpool_gauges g;
	for (int i = 0; i < K; i++) {
		queue_all(qs + i, 1);
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		pgpool_gauges(pool, &g);
		ck_assert_int_eq(g.statements, i + 1);
	}
	/* more reads arrive one by one while those run: they wait, though
	 * three connections are idle, and another statement takes one of them */
	for (int i = K; i < N; i++) {
		queue_all(qs + i, 1);
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	queue_all(qs + N, 1);
	run_until_done(qs + N, 1);
	pgpool_gauges(pool, &g);
	ck_assert_int_eq(g.statements, K + 1);
	ck_assert_int_eq(g.queued, LATER);
	ck_assert_int_eq(g.idle, 3);
	/* the lock goes: the first of the K to end takes the waiting reads */
	testdb_exec(side, "COMMIT");
	run_until_done(qs, N);
	pgpool_gauges(pool, &g);
	ck_assert_int_eq(g.statements, K + 1 + 1);
	ck_assert_int_eq(g.batches, 1);
	ck_assert_int_eq(g.batched, LATER);
	ck_assert_int_eq(g.batch_fallbacks, 0);
	for (int i = 0; i < N; i++)
		expect_alone(&qs[i]);
	ck_assert_int_eq(qs[N].status, PGRES_TUPLES_OK);
	req_free(qs, N + 1);
}
END_TEST

START_TEST(test_array_literals_quote_and_escape_every_value)
{
	const char *v[] = {"a", NULL, "", "NULL", "x,y", "{z}", "q\"uote", "back\\slash"};
	char buf[128];
	size_t n = db_array_literal(buf, sizeof(buf), v, 8);
	ck_assert_str_eq(buf, "{\"a\",NULL,\"\",\"NULL\",\"x,y\",\"{z}\",\"q\\\"uote\","
	                      "\"back\\\\slash\"}");
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_uint_eq(db_array_literal(NULL, 0, v, 8), n);
	/* and the server reads back the very values */
	const char *params[] = {buf};
	PGresult *r = PQexecParams(side,
	                           "SELECT u IS NULL, coalesce(u, '') FROM unnest($1::text[]) "
	                           "WITH ORDINALITY AS t(u, i) ORDER BY i",
	                           1, NULL, params, NULL, NULL, 0);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(r), 8);
	for (int i = 0; i < 8; i++) {
		ck_assert_str_eq(PQgetvalue(r, i, 0), v[i] == NULL ? "t" : "f");
		ck_assert_str_eq(PQgetvalue(r, i, 1), v[i] == NULL ? "" : v[i]);
	}
	PQclear(r);
}
END_TEST

/* ---- writes ---- */

static char *url2; /* the second database: the same requests, one by one */
static PGconn *side2;

#define DAY_US 1796210400000000LL /* 2026-12-02T10:00:00Z */
#define TZ     "Asia/Almaty"
#define ELIGIBLE                                                                                   \
	"(lender_id, loan_id, borrower_iin, amount_tiyn, channel, secured, "                       \
	"first_time_borrower, first_time_given, policy, mrp_tenge, threshold_tiyn, "               \
	"cooling_required, cooling_period_s, in_person_required, approved_at, consent_at, "        \
	"cooling_ends_at) SELECT 'B1', 'P' || g, lpad((870101400000 + g)::text, 12, '0'), "        \
	"100000 * g, 'online', false, false, false, 'kz-card', 3932, 58980000, false, NULL, "      \
	"false, now() - interval '2 hours', CASE WHEN g % 5 <> 0 THEN now() - interval '1 hour' "  \
	"END, NULL FROM generate_series(1, 40) g"

static void writes_setup(void)
{
	setup();
	url2 = testdb_create("batch2");
	side2 = testdb_connect(url2);
	/* the same rows on both: loans P1..P40 are ids 41..80 */
	testdb_exec(side2, SETUP_SQL);
	testdb_exec(side2, "INSERT INTO loan " ELIGIBLE);
	testdb_exec(side, "INSERT INTO loan " ELIGIBLE);
}

static void writes_teardown(void)
{
	PQfinish(side2);
	testdb_drop(url2);
	free(url2);
	teardown();
}

/* An approval as the handler writes it (db_loan_insert_day_params), with
 * its own copy of the parameters. */
struct approval {
	struct loan l;
	struct db_params p;
	char detail[64];
};

static void approval_make(struct approval *a, const char *lender, const char *loan_id, int iin,
                          int64_t tiyn, const char *tz, int64_t others)
{
	memset(a, 0, sizeof(*a));
	struct loan *l = &a->l;
	snprintf(l->lender, sizeof(l->lender), "%s", lender);
	snprintf(l->loan_id, sizeof(l->loan_id), "%s", loan_id);
	snprintf(l->borrower_iin, sizeof(l->borrower_iin), "%012lld", 900101000000LL + iin);
	l->amount_tiyn = tiyn;
	snprintf(l->currency, sizeof(l->currency), "KZT");
	l->channel = CHANNEL_ONLINE;
	snprintf(l->policy, sizeof(l->policy), "kz-2025-09");
	l->mrp_tenge = 4325;
	l->threshold_tiyn = 64875000;
	l->aggregated_tiyn = others + tiyn;
	l->borrower_age = 30;
	l->approved_at = DAY_US;
	l->consent_at = TS_NULL;
	l->cooling_ends_at = TS_NULL;
	l->in_person_verified_at = TS_NULL;
	snprintf(a->detail, sizeof(a->detail), "{\"n\":\"%s\"}", loan_id);
	struct db_day day = {.tz = tz, .lender = NULL, .others_tiyn = others};
	db_loan_insert_day_params(&a->p, l, "core", a->detail, &day);
}

static void req_of_approval(struct req *q, const struct approval *a)
{
	memset(q, 0, sizeof(*q));
	q->st = STMT_LOAN_INSERT;
	for (int k = 0; k < db_statements[STMT_LOAN_INSERT].nparams; k++)
		q->p[k] = a->p.v[k];
}

static void queue_writes(struct pgpool *pl, struct req *qs, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert(pgpool_exec(pl, qs[i].st, qs[i].p, on_result, &qs[i]));
}

/* Runs each request alone, in order, on the second database, and checks
 * that it got there what it got in its batch. */
static void expect_alone_in_order(const struct req *qs, int n)
{
	for (int i = 0; i < n; i++) {
		const struct stmt_def *d = &db_statements[qs[i].st];
		PGresult *r = PQexecParams(side2, d->sql, d->nparams, NULL, qs[i].p, NULL, NULL, 0);
		ck_assert_msg(qs[i].status == PQresultStatus(r),
		              "request %d: status %d, alone %d %s", i, qs[i].status,
		              PQresultStatus(r), PQresultErrorMessage(r));
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			char *want = cells_of(r, -1);
			ck_assert_int_eq(qs[i].rows, PQntuples(r));
			ck_assert_int_eq(qs[i].cols, PQnfields(r));
			if (strcmp(qs[i].cells, want) != 0)
				fprintf(stderr, "request %d in its batch: %s\nalone: %s\n", i,
				        qs[i].cells, want);
			ck_assert_msg(strcmp(qs[i].cells, want) == 0, "request %d: another result",
			              i);
			free(want);
		} else {
			ck_assert_str_eq(qs[i].sqlstate, db_sqlstate(r));
		}
		PQclear(r);
	}
}

/* What a database holds after the writes, in an order that does not depend
 * on the order they ran in. */
static char *db_state(PGconn *c)
{
	PGresult *r =
	    PQexec(c, "SELECT string_agg(x, E'\\n' ORDER BY x) FROM ("
	              "SELECT concat_ws('|', lender_id, loan_id, borrower_iin, amount_tiyn, "
	              "aggregated_amount_tiyn, disbursed_at IS NOT NULL) AS x FROM loan "
	              "UNION ALL SELECT concat_ws('|', type, actor, lender_id, loan_id, "
	              "detail::text) FROM audit_event "
	              "UNION ALL SELECT concat_ws('|', lender_id, key, loan_pk, status, body) "
	              "FROM disbursement_idempotency) s");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	char *s = strdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return s;
}

static void expect_same_state(void)
{
	char *a = db_state(side), *b = db_state(side2);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
}

START_TEST(test_approvals_queued_together_commit_as_one_statement_each_as_if_alone)
{
	pool_open(1);
	enum { N = 20 };
	static struct approval as[N];
	struct req qs[N];
	char ids[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "W%d", i);
		approval_make(&as[i], i == 15 ? "B2" : "B1", ids[i], i, 100000 + i, TZ, 0);
	}
	/* the day's second loan of borrower 0, decided with the day as it was
	 * before the first: stale once the first is in */
	approval_make(&as[12], "B1", "W12", 0, 5000, TZ, 0);
	/* a loan_id taken by another borrower's loan of the batch */
	approval_make(&as[13], "B1", "W1", 13, 7000, TZ, 0);
	/* the second loan of borrower 3, decided with the first one's amount */
	approval_make(&as[16], "B1", "W16", 3, 9000, TZ, 100003);
	/* a profile that adds nothing up */
	approval_make(&as[14], "B1", "W14", 14, 9000, NULL, 0);
	/* one that another loan of the day already moved, in the database */
	const char *moved =
	    "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, "
	    "channel, secured, first_time_borrower, first_time_given, policy, "
	    "mrp_tenge, threshold_tiyn, cooling_required, in_person_required, "
	    "approved_at) VALUES ('B2', 'X0', '900101000017', 400, 'online', false, "
	    "false, false, 'kz-card', 3932, 1, false, false, "
	    "cd_ts(1796210400000000))";
	testdb_exec(side, moved);
	testdb_exec(side2, moved);
	for (int i = 0; i < N; i++)
		req_of_approval(&qs[i], &as[i]);
	queue_writes(pool, qs, N);
	run_until_done(qs, N);
	struct pgpool_gauges g;
	pgpool_gauges(pool, &g);
	ck_assert_int_ge(g.batches, 1);
	ck_assert_int_lt(g.statements, N / 2);
	ck_assert_int_eq(g.batch_fallbacks, 0);
	int inserted = 0;
	for (int i = 0; i < N; i++)
		inserted +=
		    qs[i].status == PGRES_TUPLES_OK && strstr(qs[i].cells, "loan_id=\\N") == NULL;
	ck_assert_int_eq(inserted, N - 3); /* W12 (stale), the second W1, W17 (moved) */
	expect_alone_in_order(qs, N);
	expect_same_state();
	req_free(qs, N);
}
END_TEST

START_TEST(test_a_batch_of_approvals_the_database_refuses_runs_them_one_by_one)
{
	pool_open(1);
	enum { N = 8 };
	static struct approval as[N];
	struct req qs[N];
	char ids[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "F%d", i);
		approval_make(&as[i], "B1", ids[i], 40 + i, 1000 + i, TZ, 0);
	}
	/* passes no check in C, and here only the database's: not a loan_id */
	approval_make(&as[5], "B1", "bad id", 45, 1000, TZ, 0);
	for (int i = 0; i < N; i++)
		req_of_approval(&qs[i], &as[i]);
	/* the first goes alone (an idle connection); the rest queue behind it */
	queue_writes(pool, qs, N);
	run_until_done(qs, N);
	struct pgpool_gauges g;
	pgpool_gauges(pool, &g);
	ck_assert_int_eq(g.batches, 1);
	ck_assert_int_eq(g.batch_fallbacks, 1);
	ck_assert_int_eq(g.statements, 1 + 1 + (N - 1)); /* alone, the batch, each alone */
	for (int i = 0; i < N; i++) {
		if (i == 5) {
			ck_assert_int_eq(qs[i].status, PGRES_FATAL_ERROR);
			ck_assert_str_eq(qs[i].sqlstate, "23514");
		} else {
			ck_assert_int_eq(qs[i].status, PGRES_TUPLES_OK);
			ck_assert_ptr_null(strstr(qs[i].cells, "loan_id=\\N"));
		}
	}
	expect_alone_in_order(qs, N);
	expect_same_state();
	req_free(qs, N);
}
END_TEST

/* A payout as the handler writes it: the loan P<n> of the setup. */
struct payout {
	struct loan l;
	struct db_params p;
	char key[16];
	struct payee payee;
};

static void payout_make(struct payout *o, int n, const char *key)
{
	memset(o, 0, sizeof(*o));
	o->l.pk = 40 + n; /* P<n>, on both databases */
	snprintf(o->l.lender, sizeof(o->l.lender), "B1");
	snprintf(o->l.loan_id, sizeof(o->l.loan_id), "P%d", n);
	if (key != NULL)
		snprintf(o->key, sizeof(o->key), "%s", key);
	/* every third to a payee of its own; P8's is flagged (below) */
	o->payee = (struct payee){.kind = PAYEE_ACCOUNT};
	snprintf(o->payee.id, sizeof(o->payee.id), "ACC%d", n);
	db_params_disburse(&o->p, &o->l, "core", key ? o->key : NULL, "{}",
	                   n % 3 == 2 ? &o->payee : NULL);
}

static void req_of(struct req *q, enum stmt st, const struct db_params *p)
{
	memset(q, 0, sizeof(*q));
	q->st = st;
	for (int k = 0; k < db_statements[st].nparams; k++)
		q->p[k] = p->v[k];
}

START_TEST(test_payouts_and_refusals_queued_together_are_one_statement_each_as_if_alone)
{
	pool_open(1);
	/* borrower of P7 refused in the registry: its payout's guard fails */
	const char *refuse = "INSERT INTO voluntary_refusal (iin, active, effective_at, source) "
	                     "VALUES ('870101400007', true, now() - interval '1 minute', 'egov')";
	testdb_exec(side, refuse);
	testdb_exec(side2, refuse);
	/* P8's payee flagged: its payout's payee guard fails */
	const char *flag = "INSERT INTO suspicious_payee (kind, id, active, effective_at, source) "
	                   "VALUES ('account', 'ACC8', true, now() - interval '1 minute', 'afc')";
	testdb_exec(side, flag);
	testdb_exec(side2, flag);
	enum { NP = 24, NR = 8, N = NP + NR };
	static struct payout os[NP];
	static struct db_params rp[NR];
	static char rkeys[NR][16];
	static struct loan rl[NR];
	struct req qs[N];
	for (int i = 0; i < NP; i++) {
		char key[16];
		snprintf(key, sizeof(key), "K%d", i);
		/* P1..P20 (P5, P10, P15, P20 without consent), then P1 and P2
		 * again, P3 under another key, P4 under K0 again */
		int loan = i < 20 ? i + 1 : i - 19;
		payout_make(&os[i], loan, i % 3 == 0 ? key : NULL);
	}
	payout_make(&os[22], 3, "K22");
	payout_make(&os[23], 4, "K0");
	for (int i = 0; i < NP; i++)
		req_of(&qs[i], STMT_DISBURSE, &os[i].p);
	for (int i = 0; i < NR; i++) {
		struct loan *l = &rl[i];
		memset(l, 0, sizeof(*l));
		l->pk = 70 + i;
		snprintf(l->lender, sizeof(l->lender), "B1");
		snprintf(l->loan_id, sizeof(l->loan_id), "P%d", 30 + i);
		snprintf(rkeys[i], sizeof(rkeys[i]), "R%d", i % 6); /* R0 and R1 twice */
		db_params_refuse(&rp[i], l, "core", "{\"blockers\":[\"cooling_period_active\"]}",
		                 i == 3 ? NULL : rkeys[i], "{\"decision\":\"refused\"}");
		req_of(&qs[NP + i], STMT_REFUSE, &rp[i]);
	}
	queue_writes(pool, qs, N);
	run_until_done(qs, N);
	struct pgpool_gauges g;
	pgpool_gauges(pool, &g);
	ck_assert_int_ge(g.batches, 2);
	ck_assert_int_lt(g.statements, N / 2);
	int allowed = 0;
	for (int i = 0; i < NP; i++) {
		ck_assert_int_eq(qs[i].status, PGRES_TUPLES_OK);
		allowed += qs[i].rows;
	}
	/* P1..P20 but P5, P10, P15, P20 (no consent), P7 (refused) and P8
	 * (its payee flagged) */
	ck_assert_int_eq(allowed, 14);
	/* each refusal its own event */
	for (int i = NP; i < N; i++)
		if (qs[i].status == PGRES_TUPLES_OK)
			ck_assert_int_eq(qs[i].rows, 1);
	PGresult *r = PQexec(side, "SELECT count(DISTINCT id), count(*) FROM audit_event "
	                           "WHERE type = 'disbursement_refused'");
	ck_assert_str_eq(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	PQclear(r);
	expect_alone_in_order(qs, N);
	expect_same_state();
	req_free(qs, N);
}
END_TEST

/* Two daemons' pools, each with batches in the opposite order of the
 * other's, over the same loans and borrowers' days, with refusal changes
 * of the same borrowers among them: the locks are taken in one order, so
 * none waits for another in a circle (PostgreSQL would cancel one with
 * 40P01 after deadlock_timeout, and its batch would fall back). */
START_TEST(test_batches_in_opposite_orders_on_two_pools_never_deadlock)
{
	struct pgpool_opts o = {.url = url,
	                        .size = 2,
	                        .statement_timeout_s = 10,
	                        .queue_timeout_s = 10,
	                        .health_timeout_ms = 2000,
	                        .max_queue = 1000,
	                        .name = "primary"};
	/* The update's plan visits the loans in each batch's own order, as it
	 * does on a table of any size; on this small one a sequential scan
	 * would visit them in the table's order, the same for both batches,
	 * and hide the order the locks are taken in. */
	testdb_exec(side,
	            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET enable_seqscan = off', "
	            "current_database()); END $$");
	pool_open(2);
	struct pgpool *other = pgpool_new(base, &o);
	ck_assert_ptr_nonnull(other);
	for (int i = 0; i < 200; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
	enum { L = 40, ROUNDS = 3 };
	static struct payout pa[L], pb[L];
	static struct approval aa[L], ab[L];
	static struct db_params rq[L];
	static struct refusal_req rr[L];
	static struct req qa[2 * L], qb[2 * L], qr[L];
	int allowed_total = 0, approved_total = 0;
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < L; i++) {
			int up = i + 1, down = L - i;
			payout_make(&pa[i], up, NULL);
			payout_make(&pb[i], down, NULL);
			char id[16];
			snprintf(id, sizeof(id), "A%d-%d", round, up);
			approval_make(&aa[i], "B1", id, 100 + up, 1000, TZ, 1000 * round);
			snprintf(id, sizeof(id), "Z%d-%d", round, down);
			approval_make(&ab[i], "B1", id, 100 + down, 1000, TZ, 1000 * round);
			req_of(&qa[i], STMT_DISBURSE, &pa[i].p);
			req_of(&qb[i], STMT_DISBURSE, &pb[i].p);
			req_of_approval(&qa[L + i], &aa[i]);
			req_of_approval(&qb[L + i], &ab[i]);
			memset(&rr[i], 0, sizeof(rr[i]));
			snprintf(rr[i].iin, sizeof(rr[i].iin), "%012lld", 870101400000LL + up);
			rr[i].active = round % 2 == 0;
			rr[i].effective_at = DAY_US - 1000000LL * (round + 1);
			snprintf(rr[i].source, sizeof(rr[i].source), "egov");
			db_params_refusal_put(&rq[i], &rr[i], "registry");
			req_of(&qr[i], STMT_REFUSAL_PUT, &rq[i]);
		}
		/* Another transaction holds the middle loan's row and the middle
		 * borrower's day while both batches start: each locks up to it
		 * from its own end and waits there, so that in any order but
		 * one the two would be waiting for each other once it commits. */
		char hold[512];
		snprintf(hold, sizeof(hold),
		         "BEGIN; SELECT 1 FROM loan WHERE id = %d FOR UPDATE; "
		         "SELECT pg_advisory_xact_lock(cd_day_key('%s', cd_ts(%lld), '" TZ "'))",
		         40 + L / 2, aa[L / 2 - 1].l.borrower_iin, (long long)DAY_US);
		testdb_exec(side, hold);
		queue_writes(pool, qa, 2 * L);
		queue_writes(other, qb, 2 * L);
		for (int spin = 0; spin < 30; spin++) {
			struct timeval tv = {0, 10000};
			event_base_loopexit(base, &tv);
			event_base_loop(base, EVLOOP_ONCE);
		}
		testdb_exec(side, "COMMIT");
		for (int i = 0; i < L; i += 4)
			ck_assert(pgpool_exec(i % 8 ? pool : other, qr[i].st, qr[i].p, on_result,
			                      &qr[i]));
		for (int i = 0; i < L; i++)
			if (i % 4)
				qr[i].done = true;
		run_until_done(qa, 2 * L);
		run_until_done(qb, 2 * L);
		run_until_done(qr, L);
		for (int i = 0; i < 2 * L; i++) {
			ck_assert_msg(qa[i].status == PGRES_TUPLES_OK, "%s", qa[i].sqlstate);
			ck_assert_msg(qb[i].status == PGRES_TUPLES_OK, "%s", qb[i].sqlstate);
		}
		for (int i = 0; i < L; i++) {
			/* each loan paid at most once; each borrower's day took one
			 * of the two approvals decided with the same day */
			int up = i + 1;
			int paid = qa[i].rows + qb[L - up].rows;
			ck_assert_int_le(paid, 1);
			allowed_total += paid;
			int took = (strstr(qa[L + i].cells, "loan_id=\\N") == NULL) +
			           (strstr(qb[L + (L - up)].cells, "loan_id=\\N") == NULL);
			ck_assert_int_eq(took, 1);
			approved_total += took;
		}
		req_free(qa, 2 * L);
		req_free(qb, 2 * L);
		for (int i = 0; i < L; i += 4)
			free(qr[i].cells);
		memset(qr, 0, sizeof(qr));
	}
	struct pgpool_gauges g1, g2;
	pgpool_gauges(pool, &g1);
	pgpool_gauges(other, &g2);
	ck_assert_int_eq(g1.batch_fallbacks + g2.batch_fallbacks, 0);
	ck_assert_int_gt(g1.batches, 0);
	ck_assert_int_gt(g2.batches, 0);
	ck_assert_int_eq(approved_total, ROUNDS * L);
	/* the database agrees: each loan paid at most once, by one event */
	PGresult *r = PQexec(side, "SELECT count(*) FILTER (WHERE disbursed_at IS NOT NULL), "
	                           "(SELECT count(*) FROM audit_event "
	                           "WHERE type = 'disbursement_allowed') FROM loan");
	ck_assert_int_eq(atoi(PQgetvalue(r, 0, 0)), allowed_total);
	ck_assert_int_eq(atoi(PQgetvalue(r, 0, 1)), allowed_total);
	PQclear(r);
	pgpool_free(other);
}
END_TEST

START_TEST(test_batch_params_name_each_requests_column)
{
	char buf[128];
	size_t n = db_batch_params(buf, sizeof(buf), "SELECT $1::text, $12::bigint, '$' || x");
	ck_assert_str_eq(buf, "SELECT cdb.p1::text, cdb.p12::bigint, '$' || x");
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_uint_eq(db_batch_params(NULL, 0, "$1 $2"), strlen("cdb.p1 cdb.p2"));
	/* every batch form names as many parameters as its statement, and one */
	for (int st = 0; st < STMT__COUNT; st++) {
		enum stmt b = db_stmt_batch_of((enum stmt)st);
		if (b == STMT__COUNT)
			continue;
		ck_assert_int_eq(db_statements[b].nparams, db_statements[st].nparams + 1);
		char want[32];
		snprintf(want, sizeof(want), "$%d::bigint", db_statements[b].nparams);
		ck_assert_ptr_nonnull(strstr(db_statements[b].sql, want));
	}
}
END_TEST

START_TEST(test_requests_that_must_not_share_a_batch)
{
	struct approval a, b;
	approval_make(&a, "B1", "L1", 1, 100, TZ, 0);
	approval_make(&b, "B1", "L2", 2, 100, TZ, 0);
	ck_assert(!db_batch_conflict(STMT_LOAN_INSERT, a.p.v, b.p.v));
	approval_make(&b, "B1", "L2", 1, 100, TZ, 0); /* one borrower */
	ck_assert(db_batch_conflict(STMT_LOAN_INSERT, a.p.v, b.p.v));
	approval_make(&b, "B1", "L1", 2, 100, TZ, 0); /* one loan_id */
	ck_assert(db_batch_conflict(STMT_LOAN_INSERT, a.p.v, b.p.v));
	approval_make(&b, "B2", "L1", 2, 100, TZ, 0); /* another lender's */
	ck_assert(!db_batch_conflict(STMT_LOAN_INSERT, a.p.v, b.p.v));
	struct payout x, y;
	payout_make(&x, 1, "K");
	payout_make(&y, 2, NULL);
	ck_assert(!db_batch_conflict(STMT_DISBURSE, x.p.v, y.p.v));
	payout_make(&y, 1, NULL); /* one loan */
	ck_assert(db_batch_conflict(STMT_DISBURSE, x.p.v, y.p.v));
	payout_make(&y, 2, "K"); /* one key */
	ck_assert(db_batch_conflict(STMT_DISBURSE, x.p.v, y.p.v));
	/* two loans of one borrower that a cross-lender window holds: each
	 * payout must see the other committed */
	payout_make(&y, 2, NULL);
	struct payout *both[] = {&x, &y};
	for (int i = 0; i < 2; i++) {
		snprintf(both[i]->l.borrower_iin, sizeof(both[i]->l.borrower_iin), "900101300126");
		both[i]->l.cross_lender_window_s = 86400;
		db_params_disburse(&both[i]->p, &both[i]->l, "core", NULL, "{}", NULL);
	}
	ck_assert(db_batch_conflict(STMT_DISBURSE, x.p.v, y.p.v));
	y.l.cross_lender_window_s = TS_NULL; /* one of them without a window */
	db_params_disburse(&y.p, &y.l, "core", NULL, "{}", NULL);
	ck_assert(!db_batch_conflict(STMT_DISBURSE, x.p.v, y.p.v));
	const char *r1[] = {"B1", "L1", "core", "{}", "K", "1", "{}"};
	const char *r2[] = {"B1", "L1", "core", "{}", NULL, "1", "{}"};
	const char *r3[] = {"B1", "L2", "core", "{}", "K", "2", "{}"};
	ck_assert(!db_batch_conflict(STMT_REFUSE, r1, r2)); /* one loan, refused twice */
	ck_assert(!db_batch_conflict(STMT_REFUSE, r2, r2)); /* no key */
	ck_assert(db_batch_conflict(STMT_REFUSE, r1, r3));  /* one key */
	/* reads share a batch whatever they are */
	ck_assert(!db_batch_conflict(STMT_LOAN_GET, r1, r1));
}
END_TEST

static Suite *batch_suite(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_a_lone_read_goes_out_at_once_as_the_read_itself);
	tcase_add_test(tc, test_reads_queued_together_are_one_statement_each_with_its_own_answer);
	tcase_add_test(tc,
	               test_first_reads_of_approvals_and_payouts_queued_together_each_as_if_alone);
	tcase_add_test(tc, test_a_batch_the_database_refuses_runs_its_requests_one_by_one);
	tcase_add_test(tc,
	               test_a_batched_statement_runs_on_few_connections_and_the_rest_wait_for_them);
	tcase_add_test(tc, test_array_literals_quote_and_escape_every_value);
	tcase_add_test(tc, test_batch_params_name_each_requests_column);
	tcase_add_test(tc, test_requests_that_must_not_share_a_batch);
	suite_add_tcase(s, tc);
	TCase *tw = tcase_create("writes");
	tcase_add_checked_fixture(tw, writes_setup, writes_teardown);
	tcase_set_timeout(tw, 120);
	tcase_add_test(tw, test_approvals_queued_together_commit_as_one_statement_each_as_if_alone);
	tcase_add_test(tw, test_a_batch_of_approvals_the_database_refuses_runs_them_one_by_one);
	tcase_add_test(
	    tw, test_payouts_and_refusals_queued_together_are_one_statement_each_as_if_alone);
	tcase_add_test(tw, test_batches_in_opposite_orders_on_two_pools_never_deadlock);
	suite_add_tcase(s, tw);
	return s;
}

CD_CHECK_MAIN(batch_suite)

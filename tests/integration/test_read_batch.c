/*
 * The pool's batches of reads (daemon/pgpool.c, DB_BATCHED_READS in
 * lib/db.h) against the real database: a lone read goes out at once as the
 * read itself; reads that queue while every connection is busy go out as
 * one statement, and each request gets exactly the result that its read
 * alone gives (its row or none, its own client); a batch that the database
 * refuses runs its requests one by one, so that only the bad one fails.
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

static char *url;
static PGconn *side; /* runs each read alone, for comparison */
static struct event_base *base;
static struct pgpool *pool;

#define TOKEN_B1      "aaaaaaaaaaa1"
#define TOKEN_B2      "bbbbbbbbbbb2"
#define TOKEN_REVOKED "ccccccccccc3"
#define TOKEN_UNKNOWN "ddddddddddd4"

static void setup(void)
{
	url = testdb_create("batch");
	side = testdb_connect(url);
	testdb_exec(
	    side,
	    "INSERT INTO lender (id, kind, name) VALUES ('B1', 'bank', 'One'), "
	    "('B2', 'mfo', 'Two'); "
	    "INSERT INTO api_client (name, role, lender_id, token_id, token_hash, revoked_at) "
	    "VALUES ('one', 'lender', 'B1', '" TOKEN_B1 "', sha256('one'), NULL), "
	    "('two', 'lender', 'B2', '" TOKEN_B2 "', sha256('two'), NULL), "
	    "('gone', 'lender', 'B1', '" TOKEN_REVOKED "', sha256('gone'), now()), "
	    "('audit', 'auditor', NULL, 'eeeeeeeeeee5', sha256('audit'), NULL); "
	    "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	    "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	    "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	    "approved_at, consent_at, cooling_ends_at) "
	    "SELECT CASE WHEN g % 4 = 0 THEN 'B2' ELSE 'B1' END, 'L' || g, "
	    "lpad((900101300000 + g)::text, 12, '0'), 100000 * g, "
	    "CASE WHEN g % 2 = 0 THEN 'online' ELSE 'branch' END, g % 3 = 0, false, "
	    "true, 'kz-2024', 3692, 73840000, g % 2 = 0, "
	    "CASE WHEN g % 2 = 0 THEN 86400 END, false, now() - g * interval '1 hour', "
	    "CASE WHEN g % 5 <> 0 THEN now() - g * interval '1 minute' END, "
	    "CASE WHEN g % 2 = 0 AND g % 5 <> 0 THEN now() + interval '1 day' END "
	    "FROM generate_series(1, 40) g");
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
	const char *p[3];
	bool done;
	ExecStatusType status;
	char sqlstate[6];
	int rows, cols;
	char *cells; /* every cell as text, NULL as \N, separated by | */
};

static char *cells_of(const PGresult *r, int skip_col)
{
	size_t cap = 16384, len = 0;
	char *s = malloc(cap);
	s[0] = '\0';
	for (int i = 0; i < PQntuples(r); i++)
		for (int f = 0; f < PQnfields(r); f++) {
			if (f == skip_col)
				continue; /* the database's now: another statement, another time */
			const char *v = PQgetisnull(r, i, f) ? "\\N" : PQgetvalue(r, i, f);
			len += (size_t)snprintf(s + len, cap - len, "%s%s|", PQfname(r, f), v);
			ck_assert_uint_lt(len, cap);
		}
	return s;
}

/* The column of the database's now in a loan read's row. */
static int now_col(const PGresult *r)
{
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
	q->cells = q->status == PGRES_TUPLES_OK ? cells_of(res, now_col(res)) : NULL;
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
		with_loan += qs[i].rows == 1 && strstr(qs[i].cells, "loan_id\\N") == NULL;
		without_client += qs[i].rows == 0;
	}
	/* the mix holds every case */
	ck_assert_int_gt(with_loan, 10);
	ck_assert_int_gt(without_client, 5);
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

START_TEST(test_idle_connections_take_one_read_each_before_any_batch)
{
	pool_open(4);
	enum { N = 12 };
	struct req qs[N];
	char ids[N][16];
	memset(qs, 0, sizeof(qs));
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "L%d", i + 1);
		qs[i] = (struct req){.st = STMT_LOAN_GET, .p = {"B1", ids[i]}};
	}
	queue_all(qs, 4);
	run_until_done(qs, 4);
	struct pgpool_gauges g;
	pgpool_gauges(pool, &g);
	/* four reads, four idle connections: four statements of one read */
	ck_assert_int_eq(g.statements, 4);
	ck_assert_int_eq(g.batches, 0);
	/* twelve: three go alone, the last idle connection takes the rest */
	for (int i = 0; i < N; i++)
		qs[i].done = false;
	req_free(qs, 4);
	for (int i = 0; i < N; i++)
		qs[i].cells = NULL;
	queue_all(qs, N);
	run_until_done(qs, N);
	pgpool_gauges(pool, &g);
	ck_assert_int_eq(g.statements, 4 + 4);
	ck_assert_int_eq(g.batches, 1);
	ck_assert_int_eq(g.batched, N - 3);
	for (int i = 0; i < N; i++)
		expect_alone(&qs[i]);
	req_free(qs, N);
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

static Suite *batch_suite(void)
{
	Suite *s = suite_create("read_batch");
	TCase *tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_a_lone_read_goes_out_at_once_as_the_read_itself);
	tcase_add_test(tc, test_reads_queued_together_are_one_statement_each_with_its_own_answer);
	tcase_add_test(tc, test_a_batch_the_database_refuses_runs_its_requests_one_by_one);
	tcase_add_test(tc, test_idle_connections_take_one_read_each_before_any_batch);
	tcase_add_test(tc, test_array_literals_quote_and_escape_every_value);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(batch_suite)

/*
 * End-to-end tests of coolingd when its database goes away (CONTRACT.md,
 * "Errors": 503 unavailable, "a 5xx never hides a decision"): the test
 * PostgreSQL server is stopped (fast shutdown, and an immediate one, as in a
 * crash) under a running daemon; every call that needs the database must
 * answer 503 with Retry-After quickly, /readyz 503 and /healthz 200; once the
 * server is back, calls succeed again without restarting coolingd. A client
 * that keeps approving and paying out across an outage must find every loan
 * it was answered 2xx for in the database afterwards.
 *
 * The server is shared with the other test programs: every test starts it
 * again if it is down (checked fixture), and so does the teardown.
 */
#include "check_main.h"
#include "support/e2e.h"
#include "support/testdb.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_TIMEOUT_S 4
#define RECOVERY_MS       10000

static const char *const daemon_env[] = {"COOLINGD_SERVER_REQUEST_TIMEOUT=4s", NULL};

static struct e2e_env env;
static char *tok1; /* core1, lender BANK1 */

/* Starts the shared test server again when it does not answer. */
static void ensure_server_up(void)
{
	e2e_ensure_server_up("resilience");
}

static void setup(void)
{
	e2e_start(&env, "resilience", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	tok1 = e2e_client_add(&env, "core1", "lender", "BANK1");
}

static void teardown(void)
{
	ensure_server_up();
	e2e_stop(&env);
	free(tok1);
}

/* Asserts a 503 unavailable with Retry-After that came within the bound. */
static void assert_unavailable(const char *method, const char *path, const char *body)
{
	struct http_resp r;
	long long t0 = test_now_ms();
	e2e_call(&env, method, path, tok1, body, NULL, &r);
	long long took = test_now_ms() - t0;
	E2E_ASSERT_ERROR(&r, 503, "unavailable", NULL);
	ck_assert_msg(http_header(&r, "Retry-After") != NULL, "%s %s: 503 without Retry-After",
	              method, path);
	ck_assert_msg(took < REQUEST_TIMEOUT_S * 1000LL, "%s %s: 503 took %lld ms", method, path,
	              took);
	http_resp_free(&r);
}

/* Polls GET path until it has answered 200 ten times in a row (so that
 * every worker's pool is back: connections spread over them), at most
 * RECOVERY_MS; the time it took. */
static long long wait_recovery(const char *path)
{
	long long t0 = test_now_ms();
	int in_a_row = 0;
	for (;;) {
		struct http_resp r;
		int st = 0;
		if (http_req(env.d.port, "GET", path, tok1, NULL, NULL, &r) == 0) {
			st = r.status;
			http_resp_free(&r);
		}
		in_a_row = st == 200 ? in_a_row + 1 : 0;
		if (in_a_row == 10)
			return test_now_ms() - t0;
		ck_assert_msg(test_now_ms() - t0 < RECOVERY_MS,
		              "GET %s still %d %lld ms after the server came back", path, st,
		              test_now_ms() - t0);
		test_sleep_ms(st == 200 ? 10 : 100);
	}
}

/* The outage drill for one shutdown mode. */
static void outage(const char *mode, const char *tag, unsigned seed)
{
	char loan_id[32], path[160], body[512];
	struct http_resp r;
	snprintf(loan_id, sizeof loan_id, "%s-0", tag);
	e2e_approve(&env, tok1, "BANK1", loan_id,
	            &(struct e2e_loan){.iin_seed = seed, .consent_now = true}, NULL);
	snprintf(path, sizeof path, "/v1/lenders/BANK1/loans/%s", loan_id);

	ck_assert_msg(testdb_server_stop_mode(mode), "pg_ctl stop -m %s failed", mode);

	/* Reads, acts, the gate, a new approval: all 503, quickly. */
	assert_unavailable("GET", path, NULL);
	assert_unavailable("GET", path, NULL); /* and again, on a pool that knows */
	char sub[200], during_id[32];
	snprintf(sub, sizeof sub, "%s/disbursement", path);
	assert_unavailable("POST", sub, "{}");
	snprintf(sub, sizeof sub, "%s/cancellation", path);
	assert_unavailable("POST", sub, "{\"reason\":\"outage\"}");
	snprintf(during_id, sizeof during_id, "%s-during", tag);
	e2e_approval_body(body, sizeof body, during_id, &(struct e2e_loan){.iin_seed = seed + 1});
	assert_unavailable("POST", "/v1/lenders/BANK1/loans", body);
	char iin[13];
	e2e_iin(iin, seed);
	snprintf(sub, sizeof sub, "/v1/borrowers/%s/loans", iin);
	assert_unavailable("GET", sub, NULL);

	e2e_call(&env, "GET", "/readyz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 503);
	E2E_ASSERT_JSTR(r.json, "status", "unavailable");
	http_resp_free(&r);
	e2e_call(&env, "GET", "/healthz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);

	ck_assert_msg(testdb_server_start(), "the test server did not start again");
	long long took = wait_recovery(path);
	fprintf(stderr, "resilience: %s shutdown: calls succeed again %lld ms after the restart\n",
	        mode, took);

	e2e_call(&env, "GET", "/readyz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	snprintf(loan_id, sizeof loan_id, "%s-1", tag);
	e2e_approve(&env, tok1, "BANK1", loan_id,
	            &(struct e2e_loan){.iin_seed = seed + 2, .consent_now = true}, NULL);
	e2e_disburse(&env, tok1, "BANK1", loan_id, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "decision", "allowed");
	http_resp_free(&r);

	/* The 503s decided nothing. */
	ck_assert_int_eq(
	    e2e_sql_num(&env, "SELECT count(*) FROM loan WHERE loan_id = $1", during_id, NULL), 0);
	snprintf(loan_id, sizeof loan_id, "%s-0", tag);
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM loan WHERE loan_id = $1 AND disbursed_at "
	                "IS NULL AND cancelled_at IS NULL",
	                loan_id, NULL),
	    1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", loan_id, NULL), 1);
}

START_TEST(test_fast_shutdown_gives_503_then_calls_succeed_again_without_restart)
{
	outage("fast", "FAST", 100);
}
END_TEST

START_TEST(test_crash_of_the_database_gives_503_then_calls_succeed_again_without_restart)
{
	outage("immediate", "CRASH", 200);
}
END_TEST

/* ---- a client that keeps working across an outage ---- */

#define MAX_ROUNDS 2000

struct flow {
	atomic_bool stop;
	atomic_int done; /* rounds finished */
	atomic_int seen_503;
	int rounds;
	int approve_status[MAX_ROUNDS];  /* 0: no answer */
	int disburse_status[MAX_ROUNDS]; /* -1: not tried */
	char decision[MAX_ROUNDS][8];
};

static void *flow_main(void *arg)
{
	struct flow *f = arg;
	for (int i = 0; i < MAX_ROUNDS && !atomic_load(&f->stop); i++) {
		char loan_id[32], body[512], path[160];
		struct http_resp r;
		snprintf(loan_id, sizeof loan_id, "FLOW-%d", i);
		e2e_approval_body(
		    body, sizeof body, loan_id,
		    &(struct e2e_loan){.iin_seed = 1000 + (unsigned)i, .consent_now = true});
		f->disburse_status[i] = -1;
		f->rounds = i + 1;
		if (http_req(env.d.port, "POST", "/v1/lenders/BANK1/loans", tok1, body, NULL, &r) ==
		    0) {
			f->approve_status[i] = r.status;
			if (r.status == 503)
				atomic_fetch_add(&f->seen_503, 1);
			http_resp_free(&r);
		}
		if (f->approve_status[i] == 200 || f->approve_status[i] == 201) {
			snprintf(path, sizeof path, "/v1/lenders/BANK1/loans/%s/disbursement",
			         loan_id);
			f->disburse_status[i] = 0;
			if (http_req(env.d.port, "POST", path, tok1, "{}", NULL, &r) == 0) {
				f->disburse_status[i] = r.status;
				if (r.status == 503)
					atomic_fetch_add(&f->seen_503, 1);
				const char *d = e2e_jstr(r.json, "decision");
				snprintf(f->decision[i], sizeof f->decision[i], "%s", d ? d : "");
				http_resp_free(&r);
			}
		}
		atomic_fetch_add(&f->done, 1);
		test_sleep_ms(10);
	}
	return NULL;
}

/* Waits (at most 30 s) until the flow has finished n more rounds. */
static void await_rounds(struct flow *f, int n)
{
	int want = atomic_load(&f->done) + n;
	long long deadline = test_now_ms() + 30000;
	while (atomic_load(&f->done) < want) {
		ck_assert_msg(test_now_ms() < deadline, "the flow is stuck at round %d",
		              atomic_load(&f->done));
		test_sleep_ms(10);
	}
}

static void no_2xx_without_a_record(const char *mode)
{
	static struct flow f;
	memset(&f, 0, sizeof f);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, flow_main, &f), 0);
	await_rounds(&f, 2);
	bool stopped = testdb_server_stop_mode(mode);
	if (stopped) {
		/* down until the flow has met it */
		for (long long deadline = test_now_ms() + 30000;
		     atomic_load(&f.seen_503) == 0 && test_now_ms() < deadline;)
			test_sleep_ms(10);
		testdb_server_start();
		wait_recovery("/readyz");
		/* then rounds that began after the recovery */
		await_rounds(&f, 2);
	}
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	ck_assert_msg(stopped, "pg_ctl stop -m %s failed", mode);

	int ok = 0, unavailable = 0, paid = 0;
	for (int i = 0; i < f.rounds; i++) {
		char loan_id[32];
		snprintf(loan_id, sizeof loan_id, "FLOW-%d", i);
		int a = f.approve_status[i], d = f.disburse_status[i];
		ck_assert_msg(a == 201 || a == 503, "%s: approval %s answered %d", mode, loan_id,
		              a);
		ck_assert_msg(d == -1 || d == 200 || d == 503, "%s: disbursement %s answered %d",
		              mode, loan_id, d);
		if (a == 201) {
			ok++;
			ck_assert_msg(
			    e2e_sql_num(&env, "SELECT count(*) FROM loan WHERE loan_id = $1",
			                loan_id, NULL) == 1,
			    "%s: %s was answered 201 but is not in the database", mode, loan_id);
		} else {
			unavailable++;
		}
		if (d == 200) {
			paid++;
			ck_assert_str_eq(f.decision[i], "allowed");
			ck_assert_msg(
			    e2e_sql_num(&env,
			                "SELECT count(*) FROM loan WHERE loan_id = $1 AND "
			                "disbursed_at IS NOT NULL",
			                loan_id, NULL) == 1 &&
			        e2e_audit_count(&env, "BANK1", loan_id, "disbursement_allowed") ==
			            1,
			    "%s: %s was allowed but is not disbursed in the database", mode,
			    loan_id);
		} else if (d == 503) {
			unavailable++;
		}
	}
	fprintf(stderr, "resilience: %s: %d rounds, %d approvals stored, %d paid, %d x 503\n", mode,
	        f.rounds, ok, paid, unavailable);
	ck_assert_msg(unavailable > 0, "%s: the outage was never seen", mode);
	ck_assert_msg(f.approve_status[f.rounds - 1] == 201,
	              "%s: the last approval, after recovery, got %d", mode,
	              f.approve_status[f.rounds - 1]);
}

START_TEST(test_no_2xx_is_given_for_an_approval_or_payout_that_was_not_stored)
{
	no_2xx_without_a_record("immediate");
}
END_TEST

START_TEST(test_request_waiting_on_a_hung_database_gets_503_within_request_timeout)
{
	char path[160];
	struct http_resp r;
	e2e_approve(&env, tok1, "BANK1", "HUNG-1",
	            &(struct e2e_loan){.iin_seed = 3000, .consent_now = true}, NULL);

	PGconn *c = testdb_connect(env.db_url);
	PGresult *res = PQexec(c, "BEGIN; LOCK TABLE loan IN ACCESS EXCLUSIVE MODE");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	snprintf(path, sizeof path, "/v1/lenders/BANK1/loans/HUNG-1/disbursement");
	long long t0 = test_now_ms();
	int rc = http_req(env.d.port, "POST", path, tok1, "{}", NULL, &r);
	long long took = test_now_ms() - t0;
	res = PQexec(c, "ROLLBACK");
	PQclear(res);
	PQfinish(c);
	ck_assert_msg(rc == 0, "no answer after %lld ms", took);
	E2E_ASSERT_ERROR(&r, 503, "unavailable", NULL);
	ck_assert_ptr_nonnull(http_header(&r, "Retry-After"));
	ck_assert_msg(took <= REQUEST_TIMEOUT_S * 1000LL + 1000, "503 after %lld ms", took);
	http_resp_free(&r);

	/* Nothing was decided, and the loan pays out once the database moves. */
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HUNG-1", "disbursement_allowed"), 0);
	e2e_call(&env, "POST", path, tok1, "{}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}
END_TEST

struct held {
	const char *path;
	int rc, status;
	long long took_ms;
	char code[32];
	bool retry_after;
};

static void *held_main(void *arg)
{
	struct held *h = arg;
	struct http_resp r;
	long long t0 = test_now_ms();
	h->rc = http_req(env.d.port, "GET", h->path, tok1, NULL, NULL, &r);
	h->took_ms = test_now_ms() - t0;
	if (h->rc == 0) {
		h->status = r.status;
		const char *c = e2e_jstr(r.json, "error.code");
		snprintf(h->code, sizeof h->code, "%s", c ? c : "");
		h->retry_after = http_header(&r, "Retry-After") != NULL;
		http_resp_free(&r);
	}
	return NULL;
}

START_TEST(test_request_in_flight_when_the_database_dies_gets_503)
{
	e2e_approve(&env, tok1, "BANK1", "DIES-1",
	            &(struct e2e_loan){.iin_seed = 3100, .consent_now = true}, NULL);

	/* Held in the database by a lock, then the server goes down. */
	PGconn *c = testdb_connect(env.db_url);
	PGresult *res = PQexec(c, "BEGIN; LOCK TABLE loan IN ACCESS EXCLUSIVE MODE");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	struct held h = {.path = "/v1/lenders/BANK1/loans/DIES-1", .rc = -2};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, held_main, &h), 0);
	long long t0 = test_now_ms();
	int waiting = 0;
	while (waiting < 1 && test_now_ms() - t0 < 30000) {
		test_sleep_ms(20);
		res = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
		                "'Lock' AND datname = current_database()");
		waiting = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : 0;
		PQclear(res);
	}
	bool stopped = waiting >= 1 && testdb_server_stop_mode("immediate");
	PQfinish(c);
	pthread_join(th, NULL);
	ck_assert_msg(waiting >= 1, "the request never waited in the database");
	ck_assert_msg(stopped, "pg_ctl stop -m immediate failed");
	ck_assert_msg(h.rc == 0, "no answer after %lld ms", h.took_ms);
	ck_assert_msg(h.status == 503 && strcmp(h.code, "unavailable") == 0 && h.retry_after,
	              "in-flight request: %d %s (Retry-After %s)", h.status, h.code,
	              h.retry_after ? "present" : "missing");
	ck_assert_msg(h.took_ms < REQUEST_TIMEOUT_S * 1000LL, "503 after %lld ms", h.took_ms);

	ck_assert(testdb_server_start());
	wait_recovery("/v1/lenders/BANK1/loans/DIES-1");
}
END_TEST

/* Last: the outages above did not break the log's format (log.format =
 * json: one JSON object per line). */
START_TEST(test_daemon_log_stays_one_json_object_per_line_through_outages)
{
	FILE *f = fopen(env.d.log_path, "r");
	ck_assert_ptr_nonnull(f);
	char line[8192];
	int n = 0;
	char bad[300] = "";
	while (fgets(line, sizeof line, f)) {
		n++;
		json_t *j = json_loads(line, 0, NULL);
		if (!j && !bad[0])
			snprintf(bad, sizeof bad, "line %d: %.250s", n, line);
		json_decref(j);
	}
	fclose(f);
	ck_assert_int_gt(n, 0);
	/* libpq's default notice processor would print the server's
	 * "terminating connection due to immediate shutdown command" raw to
	 * stderr; coolingd's turns it into a log line of its own */
	ck_assert_msg(bad[0] == '\0', "not JSON: %s", bad);
	ck_assert_msg(e2e_file_has_line(env.d.log_path, "\"msg\":\"database notice\"", "shutdown"),
	              "no \"database notice\" line for the server's shutdown warning");
}
END_TEST

static Suite *resilience_suite(void)
{
	Suite *s = suite_create("resilience");
	TCase *tc = tcase_create("resilience");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, ensure_server_up, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fast_shutdown_gives_503_then_calls_succeed_again_without_restart);
	tcase_add_test(
	    tc, test_crash_of_the_database_gives_503_then_calls_succeed_again_without_restart);
	tcase_add_test(tc, test_no_2xx_is_given_for_an_approval_or_payout_that_was_not_stored);
	tcase_add_test(tc, test_request_waiting_on_a_hung_database_gets_503_within_request_timeout);
	tcase_add_test(tc, test_request_in_flight_when_the_database_dies_gets_503);
	tcase_add_test(tc, test_daemon_log_stays_one_json_object_per_line_through_outages);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(resilience_suite)

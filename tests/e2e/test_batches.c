/*
 * Batches of the pool (daemon/pgpool.c), through the real coolingd with one
 * database connection: requests that arrive together queue behind each
 * other and go out as one statement, and each still gets its own answer.
 * Loan reads: its loan (200), no such loan (404), another lender's loan
 * (403), an unknown or revoked token (401), exactly as when it runs alone.
 * Approvals: each its own loan (201), a repeat its first answer (200), the
 * borrower's day added up loan by loan under kz-2025-09. Payouts: one
 * allowed per loan however many race, on one daemon or two. A request that
 * arrives alone goes out alone, at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/testdb.h"

static struct e2e_env env;
static char *tok1, *tok2, *tok_revoked;
/* well-formed, and no client has it */
#define TOKEN_UNKNOWN "cdt_0123456789ab_0123456789abcdef0123456789abcdef01234567"

static const char *const daemon_env[] = {
    "COOLINGD_DATABASE_POOL_SIZE=1", "COOLINGD_SERVER_THREADS=1", "COOLINGD_LOG_LEVEL=debug",
    "COOLINGD_POLICY_PROFILE=kz-2025-09",
    /* the 401s below are the test's; the limit on them is tested elsewhere */
    "COOLINGD_SERVER_AUTH_FAILURES_PER_MINUTE=0", NULL};

#define LOANS 8

static int metrics_port; /* of the fixture's coolingd */

static void setup(void)
{
	const char *metrics_kv = e2e_metrics_listen(&metrics_port);
	const char *with_metrics[16];
	size_t n = 0;
	for (const char *const *e = daemon_env; *e; e++)
		with_metrics[n++] = *e;
	with_metrics[n++] = metrics_kv;
	with_metrics[n] = NULL;
	e2e_start(&env, "e2e_batches", with_metrics);
	e2e_lender_add(&env, "BANK1", "bank");
	e2e_lender_add(&env, "BANK2", "mfo");
	tok1 = e2e_client_add(&env, "core1", "lender", "BANK1");
	tok2 = e2e_client_add(&env, "core2", "lender", "BANK2");
	tok_revoked = e2e_client_add(&env, "gone", "lender", "BANK1");
	int code = -1;
	free(run_ctl(env.db_url, &code, "client revoke gone"));
	if (code != 0) {
		fprintf(stderr, "coolingctl client revoke failed\n");
		e2e_stop(&env);
		exit(1);
	}
	char id[32];
	for (int i = 1; i <= LOANS; i++) {
		snprintf(id, sizeof(id), "A%d", i);
		e2e_approve_or_exit(&env, tok1, "BANK1", id, &(struct e2e_loan){.iin_seed = i});
		snprintf(id, sizeof(id), "B%d", i);
		e2e_approve_or_exit(&env, tok2, "BANK2", id,
		                    &(struct e2e_loan){.iin_seed = 100 + i, .consent_now = true});
	}
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok1);
	free(tok2);
	free(tok_revoked);
}

/* One request of the mix and the answer it must get. */
struct call {
	const char *token;
	char lender[16], loan_id[16];
	int want_status;
	const char *want_code; /* error.code, or NULL for a loan */
	int status;
	char *body;
};

static void call_make(struct call *c, int i)
{
	int k = 1 + i % LOANS;
	switch (i % 6) {
	case 0: /* its own loan */
	case 1:
		*c = (struct call){.token = tok1, .lender = "BANK1", .want_status = 200};
		snprintf(c->loan_id, sizeof(c->loan_id), "A%d", k);
		break;
	case 2: /* the other lender's own loan */
		*c = (struct call){.token = tok2, .lender = "BANK2", .want_status = 200};
		snprintf(c->loan_id, sizeof(c->loan_id), "B%d", k);
		break;
	case 3: /* no such loan */
		*c = (struct call){
		    .token = tok1, .lender = "BANK1", .want_status = 404, .want_code = "not_found"};
		snprintf(c->loan_id, sizeof(c->loan_id), "Z%d", i);
		break;
	case 4: /* another lender's loan */
		*c = (struct call){
		    .token = tok1, .lender = "BANK2", .want_status = 403, .want_code = "forbidden"};
		snprintf(c->loan_id, sizeof(c->loan_id), "B%d", k);
		break;
	default: /* a token that authenticates nobody: unknown, or revoked */
		*c = (struct call){.token = i % 12 == 5 ? TOKEN_UNKNOWN : tok_revoked,
		                   .lender = "BANK1",
		                   .want_status = 401,
		                   .want_code = "unauthorized"};
		snprintf(c->loan_id, sizeof(c->loan_id), "A%d", k);
		break;
	}
}

/* The loans locked in a transaction of its own: the first statement of
 * every request (a read of its loan, with its token) waits behind it. */
static PGconn *loans_locked(void)
{
	PGconn *c = testdb_connect(env.db_url);
	testdb_exec(c, "BEGIN; LOCK TABLE loan IN ACCESS EXCLUSIVE MODE");
	return c;
}

#define BATCHES "coolingd_db_batches_total{pool=\"primary\"}"

/*
 * Waits (at most 30 s) until the requests held by c go out in batches,
 * however the clients were scheduled, then lets them all go: a batch of
 * them already runs (the fixture's coolingd has sent more batches than
 * batches_before), or at least two wait in its queue beside the sealer's
 * statement and the count of unsealed events (one each at most), so that
 * they go together once the first ends.
 */
static void release_when_batched(PGconn *c, double batches_before)
{
	long long deadline = test_now_ms() + 30000;
	for (;;) {
		double q = e2e_metric(metrics_port, "coolingd_db_queue_length");
		if (q >= 4 || e2e_metric(metrics_port, BATCHES) > batches_before)
			break;
		ck_assert_msg(test_now_ms() < deadline,
		              "after 30 s no batch ran and %g statements were queued", q);
		test_sleep_ms(10);
	}
	testdb_exec(c, "COMMIT");
	PQfinish(c);
}

#define THREADS    16
#define PER_THREAD 30

struct worker {
	pthread_t t;
	struct call calls[PER_THREAD];
};

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		struct call *c = &w->calls[i];
		char path[128];
		snprintf(path, sizeof(path), "/v1/lenders/%s/loans/%s", c->lender, c->loan_id);
		struct http_resp r;
		if (http_req(env.d.port, "GET", path, c->token, NULL, NULL, &r) != 0) {
			c->status = -1;
			continue;
		}
		c->status = r.status;
		c->body = strdup(r.body ? r.body : "");
		http_resp_free(&r);
	}
	return NULL;
}

START_TEST(test_concurrent_reads_each_get_their_own_answer_in_batches)
{
	static struct worker ws[THREADS];
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++)
			call_make(&ws[t].calls[i], t * PER_THREAD + i + t);
	double batches = e2e_metric(metrics_port, BATCHES);
	PGconn *held = loans_locked();
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&ws[t].t, NULL, run_worker, &ws[t]), 0);
	release_when_batched(held, batches);
	for (int t = 0; t < THREADS; t++)
		pthread_join(ws[t].t, NULL);
	int by_status[5] = {0};
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++) {
			struct call *c = &ws[t].calls[i];
			ck_assert_msg(c->status == c->want_status, "GET %s/%s: %d, want %d: %s",
			              c->lender, c->loan_id, c->status, c->want_status,
			              c->body ? c->body : "");
			json_error_t jerr;
			json_t *j = json_loads(c->body, 0, &jerr);
			ck_assert_ptr_nonnull(j);
			if (c->want_code == NULL) {
				/* its own loan, not a neighbour's */
				ck_assert_str_eq(e2e_jstr(j, "loan_id"), c->loan_id);
				ck_assert_str_eq(e2e_jstr(j, "lender"), c->lender);
				by_status[0]++;
			} else {
				ck_assert_str_eq(e2e_jstr(j, "error.code"), c->want_code);
				by_status[c->want_status == 404   ? 1
				          : c->want_status == 403 ? 2
				                                  : 3]++;
			}
			json_decref(j);
			free(c->body);
		}
	for (int k = 0; k < 4; k++)
		ck_assert_int_gt(by_status[k], 0);
	/* and they went in batches: one connection, sixteen clients at once */
	ck_assert_msg(e2e_file_has_line(env.d.log_path, "requests batched", "batch_auth_loan_get"),
	              "no read was batched");
}
END_TEST

START_TEST(test_a_lone_read_is_not_batched)
{
	/* one request at a time: each goes out alone, as the read itself */
	char before_path[sizeof(env.d.log_path)];
	snprintf(before_path, sizeof(before_path), "%s", env.d.log_path);
	size_t before = 0;
	free(e2e_read_file(before_path, &before));
	for (int i = 0; i < 5; i++) {
		struct http_resp r;
		e2e_get_loan(&env, tok1, "BANK1", "A1", &r);
		E2E_ASSERT_STATUS(&r, 200);
		http_resp_free(&r);
	}
	size_t after = 0;
	char *log = e2e_read_file(before_path, &after);
	ck_assert_ptr_nonnull(log);
	ck_assert_ptr_null(strstr(log + before, "requests batched"));
	free(log);
}
END_TEST

/* ---- writes ---- */

/* The log after offset `from`, for the lines of one test. */
static char *log_since(size_t from)
{
	size_t len = 0;
	char *log = e2e_read_file(env.d.log_path, &len);
	ck_assert_ptr_nonnull(log);
	ck_assert_uint_ge(len, from);
	memmove(log, log + from, len - from + 1);
	return log;
}

static size_t log_size(void)
{
	size_t len = 0;
	free(e2e_read_file(env.d.log_path, &len));
	return len;
}

/* One POST of a racing client, and its answer. */
struct post {
	int port;
	const char *token;
	char path[128];
	char body[1024];
	int status;
	char *resp;
};

static void *run_post(void *arg)
{
	struct post *p = arg;
	struct http_resp r;
	if (http_req(p->port, "POST", p->path, p->token, p->body, NULL, &r) != 0) {
		p->status = -1;
		return NULL;
	}
	p->status = r.status;
	p->resp = strdup(r.body ? r.body : "");
	http_resp_free(&r);
	return NULL;
}

/* Runs the posts at once, held back by the loans' lock until those to the
 * fixture's coolingd go out in batches. */
static void run_posts(struct post *ps, int n)
{
	pthread_t t[64];
	ck_assert_int_le(n, 64);
	double batches = e2e_metric(metrics_port, BATCHES);
	PGconn *held = loans_locked();
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, run_post, &ps[i]), 0);
	release_when_batched(held, batches);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

START_TEST(test_concurrent_approvals_each_get_their_own_loan_in_batches)
{
	enum { N = 48, SAME = 6 };
	static struct post ps[N];
	size_t from = log_size();
	for (int i = 0; i < N; i++) {
		struct post *p = &ps[i];
		memset(p, 0, sizeof(*p));
		p->port = env.d.port;
		p->token = tok1;
		snprintf(p->path, sizeof(p->path), "/v1/lenders/BANK1/loans");
		char loan_id[32];
		/* requests 40..47 repeat 0..7; 0..5 are one borrower's */
		snprintf(loan_id, sizeof(loan_id), "W%d", i < 40 ? i : i - 40);
		unsigned seed = i < 40 ? (i < SAME ? 500 : 500 + (unsigned)i)
		                       : (i - 40 < SAME ? 500 : 460 + (unsigned)i);
		e2e_approval_body(p->body, sizeof(p->body), loan_id,
		                  &(struct e2e_loan){.iin_seed = seed});
	}
	run_posts(ps, N);
	int created = 0, repeated = 0;
	long long day_sums = 0;
	for (int i = 0; i < N; i++) {
		struct post *p = &ps[i];
		ck_assert_msg(p->status == 201 || p->status == 200, "approval %d: %d %s", i,
		              p->status, p->resp ? p->resp : "");
		created += p->status == 201;
		repeated += p->status == 200;
		json_error_t jerr;
		json_t *j = json_loads(p->resp, 0, &jerr);
		ck_assert_ptr_nonnull(j);
		char want[32];
		snprintf(want, sizeof(want), "W%d", i < 40 ? i : i - 40);
		ck_assert_str_eq(e2e_jstr(j, "loan_id"), want);
		if (p->status == 201 && (i < SAME || (i >= 40 && i - 40 < SAME)))
			day_sums += atoll(e2e_jstr(j, "aggregated_amount"));
		json_decref(j);
		free(p->resp);
	}
	ck_assert_int_eq(created, 40);
	ck_assert_int_eq(repeated, 8);
	/* one borrower's six loans of the day, 1000.00 each, added up one
	 * after another whatever batch each went in: 1000 + 2000 + ... */
	ck_assert_int_eq(day_sums, 1000LL * (1 + 2 + 3 + 4 + 5 + 6));
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM audit_event WHERE type = "
	                "'approval_recorded' AND lender_id = 'BANK1' AND loan_id LIKE 'W%'",
	                NULL),
	    40);
	char *log = log_since(from);
	ck_assert_msg(strstr(log, "batch_loan_insert") != NULL, "no approval was batched");
	free(log);
}
END_TEST

static int allowed_in(struct post *ps, int n)
{
	int allowed = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_msg(ps[i].status == 200 || ps[i].status == 409, "payout %d: %d %s", i,
		              ps[i].status, ps[i].resp ? ps[i].resp : "");
		allowed += ps[i].status == 200;
	}
	return allowed;
}

START_TEST(test_racing_payouts_in_batches_pay_each_loan_once_on_one_daemon_or_two)
{
	struct daemon d2;
	ck_assert_msg(daemon_start(&d2, env.db_url, daemon_env), "second coolingd did not start");
	enum { PAID = 8, PER_LOAN = 6, N = PAID * PER_LOAN };
	static struct post ps[N];
	size_t from = log_size();
	for (int l = 0; l < PAID; l++) {
		char id[16];
		snprintf(id, sizeof(id), "G%d", l);
		e2e_approve(&env, tok1, "BANK1", id,
		            &(struct e2e_loan){.iin_seed = 600 + (unsigned)l, .consent_now = true},
		            NULL);
	}
	for (int i = 0; i < N; i++) {
		struct post *p = &ps[i];
		memset(p, 0, sizeof(*p));
		p->port = i % 3 == 0 ? d2.port : env.d.port;
		p->token = tok1;
		snprintf(p->path, sizeof(p->path), "/v1/lenders/BANK1/loans/G%d/disbursement",
		         i % PAID);
		snprintf(p->body, sizeof(p->body), "{}");
	}
	run_posts(ps, N);
	for (int l = 0; l < PAID; l++) {
		struct post mine[PER_LOAN];
		for (int k = 0; k < PER_LOAN; k++)
			mine[k] = ps[k * PAID + l];
		ck_assert_int_eq(allowed_in(mine, PER_LOAN), 1);
		char id[16];
		snprintf(id, sizeof(id), "G%d", l);
		ck_assert_int_eq(e2e_audit_count(&env, "BANK1", id, "disbursement_allowed"), 1);
		ck_assert_int_eq(e2e_audit_count(&env, "BANK1", id, "disbursement_refused"),
		                 PER_LOAN - 1);
	}
	for (int i = 0; i < N; i++)
		free(ps[i].resp);
	char *log = log_since(from);
	ck_assert_msg(strstr(log, "batch_disburse") != NULL || strstr(log, "batch_refuse") != NULL,
	              "no payout was batched");
	free(log);
	ck_assert_int_eq(daemon_stop(&d2), 0);
}
END_TEST

START_TEST(test_a_lone_write_is_not_batched)
{
	size_t from = log_size();
	for (int i = 0; i < 4; i++) {
		char id[16];
		snprintf(id, sizeof(id), "S%d", i);
		e2e_approve(&env, tok1, "BANK1", id,
		            &(struct e2e_loan){.iin_seed = 700 + (unsigned)i, .consent_now = true},
		            NULL);
		struct http_resp r;
		e2e_disburse(&env, tok1, "BANK1", id, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		http_resp_free(&r);
	}
	char *log = log_since(from);
	ck_assert_ptr_null(strstr(log, "requests batched"));
	free(log);
}
END_TEST

static Suite *batches_suite(void)
{
	Suite *s = suite_create("batches");
	TCase *tc = tcase_create("batches");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_a_lone_read_is_not_batched);
	tcase_add_test(tc, test_concurrent_reads_each_get_their_own_answer_in_batches);
	tcase_add_test(tc, test_a_lone_write_is_not_batched);
	tcase_add_test(tc, test_concurrent_approvals_each_get_their_own_loan_in_batches);
	tcase_add_test(tc, test_racing_payouts_in_batches_pay_each_loan_once_on_one_daemon_or_two);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(batches_suite)

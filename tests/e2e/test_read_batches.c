/*
 * Loan reads batched by the pool (daemon/pgpool.c), through the real
 * coolingd: with one database connection, GET /v1/lenders/{lender}/loans/{id}
 * requests that arrive together queue behind each other and go out as one
 * statement; each still gets its own answer: its loan (200), no such loan
 * (404), another lender's loan (403), an unknown or revoked token (401),
 * exactly as when it runs alone.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "support/e2e.h"

static struct e2e_env env;
static char *tok1, *tok2, *tok_revoked;
/* well-formed, and no client has it */
#define TOKEN_UNKNOWN "cdt_0123456789ab_0123456789abcdef0123456789abcdef01234567"

static const char *const daemon_env[] = {
    "COOLINGD_DATABASE_POOL_SIZE=1", "COOLINGD_SERVER_THREADS=1", "COOLINGD_LOG_LEVEL=debug",
    /* the 401s below are the test's; the limit on them is tested elsewhere */
    "COOLINGD_SERVER_AUTH_FAILURES_PER_MINUTE=0", NULL};

#define LOANS 8

static void setup(void)
{
	e2e_start(&env, "e2e_read_batches", daemon_env);
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
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&ws[t].t, NULL, run_worker, &ws[t]), 0);
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

static Suite *read_batches_suite(void)
{
	Suite *s = suite_create("read_batches");
	TCase *tc = tcase_create("read_batches");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_a_lone_read_is_not_batched);
	tcase_add_test(tc, test_concurrent_reads_each_get_their_own_answer_in_batches);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(read_batches_suite)

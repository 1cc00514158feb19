/*
 * End-to-end tests of a burst of lenders (CONTRACT.md v1.2, "Several lenders
 * in a burst"), with burst_lenders = 2 and burst_window = 10m: a cooled
 * loan whose borrower's online approvals at two or more distinct lenders
 * (this one and cancelled ones included) fall within the window needs an
 * in-person verification (in_person_reasons multi_lender_burst); branch
 * approvals and approvals outside the window do not count; and approvals of
 * one borrower racing at two lenders on two daemons cannot both escape it:
 * of each pair, exactly the one recorded second is in the burst.
 */
#include "check_main.h"
#include "support/e2e.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const daemon_env[] = {"COOLINGD_POLICY_AGGREGATION=all",
                                         "COOLINGD_POLICY_BURST_LENDERS=2",
                                         "COOLINGD_POLICY_BURST_WINDOW=10m", NULL};

static struct e2e_env env;
static char *bank, *mfo;

static void setup(void)
{
	e2e_start(&env, "bursts", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	e2e_lender_add(&env, "MFO2", "mfo");
	bank = e2e_client_add(&env, "core1", "lender", "BANK1");
	mfo = e2e_client_add(&env, "core2", "lender", "MFO2");
}

static void teardown(void)
{
	e2e_stop(&env);
	free(bank);
	free(mfo);
}

/* Approves a repeat borrower's loan and asserts its in_person_reasons: the
 * one name want, or none (NULL). */
static void approve_expect(const struct e2e_env *e, const char *token, const char *lender,
                           const char *loan_id, const struct e2e_loan *o, const char *want)
{
	struct http_resp r;
	e2e_approve(e, token, lender, loan_id, o, &r);
	json_t *reasons = e2e_json_at(r.json, "in_person_reasons");
	if (want == NULL)
		ck_assert_msg(json_is_array(reasons) && json_array_size(reasons) == 0, "%s: %s",
		              loan_id, r.body);
	else
		e2e_assert_strings(reasons, loan_id, want, NULL);
	http_resp_free(&r);
}

START_TEST(test_the_second_lender_within_the_window_needs_the_visit)
{
	struct e2e_loan big = {.iin_seed = 60, .amount = E2E_BIG_AMOUNT, .consent_now = true};
	struct e2e_loan small = {.iin_seed = 60, .consent_now = true};
	approve_expect(&env, bank, "BANK1", "B-1", &big, NULL);
	approve_expect(&env, mfo, "MFO2", "B-2", &big, "multi_lender_burst");
	/* a later loan at the first lender is in the burst too */
	approve_expect(&env, bank, "BANK1", "B-3", &big, "multi_lender_burst");
	/* a loan that is not cooled needs no visit for it */
	approve_expect(&env, mfo, "MFO2", "B-4", &small, NULL);
	struct http_resp r;
	e2e_get_loan(&env, mfo, "MFO2", "B-2", &r);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   "in_person_verification_missing", NULL);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_a_cancelled_approval_counts_and_a_branch_one_does_not)
{
	struct e2e_loan big = {.iin_seed = 61, .amount = E2E_BIG_AMOUNT, .consent_now = true};
	approve_expect(&env, bank, "BANK1", "C-1", &big, NULL);
	e2e_act_expect(&env, bank, "BANK1", "C-1", "cancellation", "{\"reason\":\"changed mind\"}",
	               200);
	approve_expect(&env, mfo, "MFO2", "C-2", &big, "multi_lender_burst");

	struct e2e_loan branch = {
	    .iin_seed = 62, .amount = E2E_BIG_AMOUNT, .channel = "branch", .consent_now = true};
	struct e2e_loan online = {.iin_seed = 62, .amount = E2E_BIG_AMOUNT, .consent_now = true};
	approve_expect(&env, bank, "BANK1", "BR-1", &branch, NULL);
	approve_expect(&env, mfo, "MFO2", "BR-2", &online, NULL);
}
END_TEST

START_TEST(test_an_approval_outside_the_window_does_not_count)
{
	char before[32];
	e2e_ts_from_now(before, -30 * 60); /* 30 minutes ago: outside 10 minutes */
	struct e2e_loan old = {.iin_seed = 63, .amount = E2E_BIG_AMOUNT, .approved_at = before};
	struct e2e_loan now = {.iin_seed = 63, .amount = E2E_BIG_AMOUNT, .consent_now = true};
	approve_expect(&env, bank, "BANK1", "W-1", &old, NULL);
	approve_expect(&env, mfo, "MFO2", "W-2", &now, NULL);
}
END_TEST

/* ---- the race on two daemons ---- */

#define BORROWERS 30
#define LENDERS   4 /* each borrower's approvals race at as many lenders */

static const char *const race_lenders[LENDERS] = {"BANK1", "MFO2", "BANK3", "MFO4"};
static char *race_tokens[LENDERS];

struct racer {
	const struct e2e_env *e;
	int lender;
	char loan_id[32];
	unsigned seed;
	pthread_barrier_t *barrier;
	int status;
	int burst; /* 1: in the burst, 0: not, -1: no answer */
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	char body[512];
	e2e_approval_body(body, sizeof body, r->loan_id,
	                  &(struct e2e_loan){.iin_seed = r->seed, .amount = E2E_BIG_AMOUNT});
	char path[128];
	snprintf(path, sizeof path, "/v1/lenders/%s/loans", race_lenders[r->lender]);
	pthread_barrier_wait(r->barrier);
	struct http_resp resp;
	r->burst = -1;
	if (http_req(r->e->d.port, "POST", path, race_tokens[r->lender], body, NULL, &resp) == 0) {
		r->status = resp.status;
		json_t *reasons =
		    resp.json ? json_object_get(resp.json, "in_person_reasons") : NULL;
		if (json_is_array(reasons))
			r->burst = json_array_size(reasons) == 1 &&
			           !strcmp(json_string_value(json_array_get(reasons, 0)),
			                   "multi_lender_burst");
		http_resp_free(&resp);
	}
	return NULL;
}

START_TEST(test_racing_approvals_at_several_lenders_on_two_daemons_cannot_escape)
{
	struct daemon d2;
	ck_assert(daemon_start(&d2, env.db_url, daemon_env));
	struct e2e_env env2 = e2e_env_on(&env, d2.port);
	race_tokens[0] = bank;
	race_tokens[1] = mfo;
	e2e_lender_add(&env, "BANK3", "bank");
	e2e_lender_add(&env, "MFO4", "mfo");
	race_tokens[2] = e2e_client_add(&env, "core3", "lender", "BANK3");
	race_tokens[3] = e2e_client_add(&env, "core4", "lender", "MFO4");
	enum { N = BORROWERS * LENDERS };
	static struct racer rs[N];
	pthread_t th[N];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, N);
	for (int i = 0; i < N; i++) {
		int b = i / LENDERS, k = i % LENDERS;
		rs[i] = (struct racer){.e = k % 2 ? &env2 : &env,
		                       .lender = k,
		                       .seed = 100 + (unsigned)b,
		                       .barrier = &barrier};
		snprintf(rs[i].loan_id, sizeof rs[i].loan_id, "R-%d-%d", b, k);
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, racer_main, &rs[i]), 0);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);

	/* of each borrower's approvals, only the one recorded first escapes */
	for (int b = 0; b < BORROWERS; b++) {
		int escaped = -1, in_burst = 0;
		for (int k = 0; k < LENDERS; k++) {
			struct racer *r = &rs[b * LENDERS + k];
			ck_assert_msg(r->status == 201 && r->burst >= 0, "%s: %d", r->loan_id,
			              r->status);
			in_burst += r->burst;
			if (!r->burst)
				escaped = k;
		}
		ck_assert_msg(in_burst == LENDERS - 1, "borrower %d: %d of %d in the burst", b,
		              in_burst, LENDERS);
		char first[32], sql[256];
		snprintf(first, sizeof first, "R-%d-%d", b, escaped);
		snprintf(sql, sizeof sql,
		         "SELECT ((SELECT min(id) FROM loan WHERE loan_id LIKE 'R-%d-%%') = "
		         "(SELECT id FROM loan WHERE loan_id = $1))::int",
		         b);
		ck_assert_int_eq(e2e_sql_num(&env, sql, first, NULL), 1);
	}
	ck_assert_int_eq(daemon_stop(&d2), 0);
	free(race_tokens[2]);
	free(race_tokens[3]);
}
END_TEST

static Suite *bursts_suite(void)
{
	Suite *s = suite_create("bursts");
	TCase *tc = tcase_create("bursts");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_the_second_lender_within_the_window_needs_the_visit);
	tcase_add_test(tc, test_a_cancelled_approval_counts_and_a_branch_one_does_not);
	tcase_add_test(tc, test_an_approval_outside_the_window_does_not_count);
	tcase_add_test(tc, test_racing_approvals_at_several_lenders_on_two_daemons_cannot_escape);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(bursts_suite)

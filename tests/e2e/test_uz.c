/*
 * Profile uz-2026-01 end to end (REGULATION.md, "More countries",
 * Uzbekistan; CONTRACT.md v1.2, "Profiles as dated data, and more
 * countries"): the real coolingd under uz-2026-01 with policy.aggregation =
 * all and a window of seconds. A payout at one lender holds the borrower's
 * online loan at another (other_loan_within_24h, earliest that payout +
 * the window, Retry-After) until the window ends, then it is paid; the
 * same lender's second loan is not held; branch loans are neither held nor
 * counted; an approval in tenge is refused; policy show names the window
 * and its key; the start is refused without aggregation = all; and payouts
 * of one borrower racing at two lenders on two daemons: exactly one is
 * paid, the other refused until the winner's payout + the window.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/httpc.h"

#define WINDOW_S 5

static const char *const uz_env[] = {"COOLINGD_POLICY_PROFILE=uz-2026-01",
                                     "COOLINGD_POLICY_AGGREGATION=all",
                                     "COOLINGD_POLICY_UZ_WINDOW=5s", NULL};

static struct e2e_env env;
static char *bank, *mfo; /* lenders BANK1 and MFO2 */

static void setup(void)
{
	e2e_start(&env, "uz", uz_env);
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

/* A repeat borrower's loan in sum, consented now. */
static void approve(const struct e2e_env *e, const char *token, const char *lender,
                    const char *loan_id, unsigned seed, const char *channel)
{
	struct e2e_loan o = {.iin_seed = seed,
	                     .amount = "3000000.00",
	                     .currency = "UZS",
	                     .channel = channel,
	                     .consent_now = true};
	struct http_resp r;
	e2e_approve_under(e, token, lender, loan_id, "uz-2026-01", &o, &r);
	E2E_ASSERT_JSTR(r.json, "rule", NULL);
	ck_assert(json_is_false(e2e_json_at(r.json, "cooling_required")));
	E2E_ASSERT_JSTR(r.json, "exemption", channel ? "branch" : NULL);
	http_resp_free(&r);
}

/* Pays the loan out (200) and returns its disbursed_at in microseconds. */
static int64_t pay(const struct e2e_env *e, const char *token, const char *lender,
                   const char *loan_id)
{
	struct http_resp r;
	e2e_disburse(e, token, lender, loan_id, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	int64_t at = e2e_ts_parse(e2e_jstr(r.json, "loan.disbursed_at"));
	ck_assert_int_ne(at, INT64_MIN);
	http_resp_free(&r);
	return at;
}

static void assert_status(const char *token, const char *lender, const char *loan_id,
                          const char *status)
{
	struct http_resp r;
	e2e_get_loan(&env, token, lender, loan_id, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", status);
	http_resp_free(&r);
}

START_TEST(test_uz_a_payout_holds_another_lenders_loan_until_the_window_ends)
{
	approve(&env, bank, "BANK1", "A-1", 10, NULL);
	approve(&env, mfo, "MFO2", "B-1", 10, NULL);
	/* an approval at another lender holds nothing: only a payout does */
	assert_status(mfo, "MFO2", "B-1", "eligible");
	int64_t paid = pay(&env, bank, "BANK1", "A-1");
	int64_t ends = paid + WINDOW_S * INT64_C(1000000);

	struct http_resp r;
	e2e_get_loan(&env, mfo, "MFO2", "B-1", &r);
	E2E_ASSERT_JSTR(r.json, "status", "blocked_by_other_loan");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "other_loan_within_24h",
	                   NULL);
	ck_assert_int_eq(e2e_ts_parse(e2e_jstr(r.json, "earliest_disbursement_at")), ends);
	http_resp_free(&r);

	e2e_disburse(&env, mfo, "MFO2", "B-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	E2E_ASSERT_JSTR(r.json, "decision", "refused");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "other_loan_within_24h",
	                   NULL);
	ck_assert_int_eq(e2e_ts_parse(e2e_jstr(r.json, "earliest_disbursement_at")), ends);
	int retry = e2e_retry_after(&r);
	ck_assert_msg(retry >= 1 && retry <= WINDOW_S, "Retry-After %d", retry);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "MFO2", "B-1", "disbursement_refused"), 1);

	/* the window over, the loan is paid */
	long long deadline = test_now_ms() + 10 * 1000 + WINDOW_S * 1000;
	for (;;) {
		e2e_get_loan(&env, mfo, "MFO2", "B-1", &r);
		bool eligible = strcmp(e2e_jstr(r.json, "status"), "eligible") == 0;
		http_resp_free(&r);
		if (eligible)
			break;
		ck_assert_msg(test_now_ms() < deadline, "B-1 still held after the window");
		test_sleep_ms(100);
	}
	ck_assert_int_ge(e2e_wall_us(),
	                 ends - 1000000); /* not before the end (clocks within 1 s) */
	int64_t paid_b = pay(&env, mfo, "MFO2", "B-1");
	ck_assert_int_ge(paid_b, ends);
	/* and now B's payout holds A's next loan of the borrower */
	approve(&env, bank, "BANK1", "A-2", 10, NULL);
	assert_status(bank, "BANK1", "A-2", "blocked_by_other_loan");
}
END_TEST

START_TEST(test_uz_the_same_lenders_second_loan_is_not_held)
{
	approve(&env, bank, "BANK1", "S-1", 20, NULL);
	approve(&env, bank, "BANK1", "S-2", 20, NULL);
	pay(&env, bank, "BANK1", "S-1");
	assert_status(bank, "BANK1", "S-2", "eligible");
	pay(&env, bank, "BANK1", "S-2");
}
END_TEST

START_TEST(test_uz_branch_loans_are_neither_held_nor_counted)
{
	/* held: an online payout at BANK1, then a branch loan at MFO2 */
	approve(&env, bank, "BANK1", "H-1", 30, NULL);
	pay(&env, bank, "BANK1", "H-1");
	approve(&env, mfo, "MFO2", "H-2", 30, "branch");
	assert_status(mfo, "MFO2", "H-2", "eligible");
	pay(&env, mfo, "MFO2", "H-2");
	/* counted: a branch payout at MFO2, then an online loan at BANK1 */
	approve(&env, mfo, "MFO2", "C-1", 31, "branch");
	pay(&env, mfo, "MFO2", "C-1");
	approve(&env, bank, "BANK1", "C-2", 31, NULL);
	assert_status(bank, "BANK1", "C-2", "eligible");
	pay(&env, bank, "BANK1", "C-2");
}
END_TEST

START_TEST(test_uz_an_approval_in_tenge_is_422_on_currency_and_writes_nothing)
{
	struct e2e_loan o = {.iin_seed = 40, .amount = "3000000.00"};
	e2e_assert_currency_refused(&env, bank, "BANK1", "KZT-1", &o);
}
END_TEST

START_TEST(test_uz_policy_show_names_the_window_and_its_key)
{
	struct http_resp r;
	e2e_call(&env, "GET", "/v1/policy", bank, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "profile", "uz-2026-01");
	E2E_ASSERT_JSTR(r.json, "currency", "UZS");
	E2E_ASSERT_JSTR(r.json, "unit", "UZS");
	E2E_ASSERT_JSTR(r.json, "cross_lender.keys.window_seconds", "policy.uz_window");
	ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "cross_lender.window_seconds")),
	                 WINDOW_S);
	ck_assert_int_eq(json_array_size(e2e_json_at(r.json, "rules")), 0);
	http_resp_free(&r);
}
END_TEST

/* The rule counts every lender's payouts: without policy.aggregation = all
 * (the database of all lenders) the daemon does not start, and says why. */
START_TEST(test_uz_the_start_is_refused_without_aggregation_all)
{
	static const char *const env_lender[] = {"COOLINGD_POLICY_PROFILE=uz-2026-01",
	                                         "COOLINGD_POLICY_AGGREGATION=lender", NULL};
	static const char *const env_unset[] = {"COOLINGD_POLICY_PROFILE=uz-2026-01", NULL};
	const char *const *envs[] = {env_lender, env_unset};
	for (int i = 0; i < 2; i++) {
		struct daemon d;
		ck_assert_msg(!daemon_start(&d, env.db_url, envs[i]),
		              "started without aggregation");
		ck_assert_msg(e2e_file_has_line(d.log_path, "policy.aggregation", "uz-2026-01"),
		              "the log does not name policy.aggregation");
	}
}
END_TEST

/* ---- the race on two daemons ---- */

#define ROUNDS 25

struct racer {
	int port;
	const char *token, *lender;
	char loan_id[32];
	pthread_barrier_t *barrier;
	int status;
	char blockers[128];
	int64_t disbursed_at, earliest;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	char path[160];
	e2e_loan_path(path, sizeof path, r->lender, r->loan_id, "disbursement");
	pthread_barrier_wait(r->barrier);
	struct http_resp resp;
	r->status = 0;
	if (http_req(r->port, "POST", path, r->token, "{}", NULL, &resp) != 0)
		return NULL;
	r->status = resp.status;
	if (resp.json != NULL) {
		char *b = json_dumps(json_object_get(resp.json, "blockers"), JSON_COMPACT);
		snprintf(r->blockers, sizeof r->blockers, "%s", b ? b : "");
		free(b);
		const char *at = e2e_jstr(resp.json, "loan.disbursed_at");
		r->disbursed_at = at ? e2e_ts_parse(at) : INT64_MIN;
		const char *earliest = e2e_jstr(resp.json, "earliest_disbursement_at");
		r->earliest = earliest ? e2e_ts_parse(earliest) : INT64_MIN;
	}
	http_resp_free(&resp);
	return NULL;
}

START_TEST(test_uz_payouts_racing_at_two_lenders_on_two_daemons_exactly_one_is_paid)
{
	struct daemon d2;
	ck_assert(daemon_start(&d2, env.db_url, uz_env));
	struct e2e_env env2 = e2e_env_on(&env, d2.port);
	for (int round = 0; round < ROUNDS; round++) {
		struct racer rs[2] = {{.port = env.d.port, .token = bank, .lender = "BANK1"},
		                      {.port = d2.port, .token = mfo, .lender = "MFO2"}};
		pthread_barrier_t barrier;
		pthread_barrier_init(&barrier, NULL, 2);
		unsigned seed = 100 + (unsigned)round; /* a borrower of its own */
		for (int k = 0; k < 2; k++) {
			snprintf(rs[k].loan_id, sizeof rs[k].loan_id, "R-%d-%d", round, k);
			rs[k].barrier = &barrier;
			approve(k ? &env2 : &env, rs[k].token, rs[k].lender, rs[k].loan_id, seed,
			        NULL);
		}
		pthread_t th[2];
		for (int k = 0; k < 2; k++)
			ck_assert_int_eq(pthread_create(&th[k], NULL, racer_main, &rs[k]), 0);
		for (int k = 0; k < 2; k++)
			pthread_join(th[k], NULL);
		pthread_barrier_destroy(&barrier);

		int winner = rs[0].status == 200 ? 0 : 1, loser = 1 - winner;
		ck_assert_msg(rs[winner].status == 200 && rs[loser].status == 409,
		              "round %d: %d and %d", round, rs[0].status, rs[1].status);
		ck_assert_str_eq(rs[loser].blockers, "[\"other_loan_within_24h\"]");
		ck_assert_int_eq(rs[loser].earliest,
		                 rs[winner].disbursed_at + WINDOW_S * INT64_C(1000000));
		char sql[160];
		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM loan WHERE loan_id LIKE 'R-%d-%%' "
		         "AND disbursed_at IS NOT NULL",
		         round);
		ck_assert_int_eq(e2e_sql_num(&env, sql, NULL), 1);
	}
	ck_assert_int_eq(daemon_stop(&d2), 0);
}
END_TEST

static Suite *uz_suite(void)
{
	Suite *s = suite_create("uz");
	TCase *tc = tcase_create("uz-2026-01");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_uz_a_payout_holds_another_lenders_loan_until_the_window_ends);
	tcase_add_test(tc, test_uz_the_same_lenders_second_loan_is_not_held);
	tcase_add_test(tc, test_uz_branch_loans_are_neither_held_nor_counted);
	tcase_add_test(tc, test_uz_an_approval_in_tenge_is_422_on_currency_and_writes_nothing);
	tcase_add_test(tc, test_uz_policy_show_names_the_window_and_its_key);
	tcase_add_test(tc, test_uz_the_start_is_refused_without_aggregation_all);
	tcase_add_test(tc,
	               test_uz_payouts_racing_at_two_lenders_on_two_daemons_exactly_one_is_paid);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(uz_suite)

/*
 * Profile ru-2025-09 end to end (REGULATION.md, "More countries", Russia;
 * CONTRACT.md v1.2, "Profiles as dated data, and more countries"): the
 * real coolingd under ru-2025-09, approvals in roubles at and around
 * 50,000 and 200,000 (one kopeck either side), a branch loan cooled and
 * refused its payout, an approval in tenge refused with nothing written,
 * each exemption, a card's limit increase cooled, and the trusted person's
 * confirmation before and during the period, with its repeats.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/httpc.h"
#include "support/proc.h"

static const char *const ru_env[] = {"COOLINGD_POLICY_PROFILE=ru-2025-09", NULL};

static struct e2e_env env;
static char *bank; /* lender BANK1 */

static void start(void)
{
	e2e_start(&env, "ru", ru_env);
	e2e_lender_add(&env, "BANK1", "bank");
	bank = e2e_client_add(&env, "core1", "lender", "BANK1");
}

static void stop(void)
{
	free(bank);
	e2e_stop(&env);
}

/* A first-time borrower's unsecured loan in roubles; extra as e2e_loan's. */
static void approve(const char *loan_id, unsigned seed, const char *amount, const char *channel,
                    const char *extra, struct http_resp *r)
{
	struct e2e_loan o = {.iin_seed = seed,
	                     .amount = amount,
	                     .currency = "RUB",
	                     .channel = channel,
	                     .first_time = E2E_FIRST_TIME_BORROWER,
	                     .extra = extra};
	e2e_approve_under(&env, bank, "BANK1", loan_id, "ru-2025-09", &o, r);
}

static void assert_rule(const char *loan_id, unsigned seed, const char *amount, const char *channel,
                        const char *rule, long long period_s)
{
	struct http_resp r;
	approve(loan_id, seed, amount, channel, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "rule", rule);
	E2E_ASSERT_JSTR(r.json, "exemption", NULL);
	ck_assert_msg(json_is_true(e2e_json_at(r.json, "cooling_required")) == (rule != NULL),
	              "%s: %s", amount, r.body);
	json_t *period = e2e_json_at(r.json, "cooling_period_seconds");
	if (rule == NULL)
		ck_assert_msg(json_is_null(period), "%s: %s", amount, r.body);
	else
		ck_assert_int_eq(json_integer_value(period), period_s);
	/* no visit for a first-time borrower, no age rule */
	ck_assert(json_is_false(e2e_json_at(r.json, "in_person_required")));
	ck_assert(json_is_false(e2e_json_at(r.json, "extra_confirmation_required")));
	ck_assert(json_is_false(e2e_json_at(r.json, "reconfirmation_required")));
	E2E_ASSERT_JSTR(r.json, "threshold_amount", "50000.00");
	http_resp_free(&r);
}

START_TEST(test_ru_bands_at_and_around_each_bound_online_and_in_a_branch)
{
	static const char *const channels[] = {"online", "branch"};
	for (int c = 0; c < 2; c++) {
		char id[32];
		unsigned seed = 100 + 10 * (unsigned)c;
#define AT(n, amount, rule, period)                                                                \
	(snprintf(id, sizeof id, "B-%s-%d", channels[c], (n)),                                     \
	 assert_rule(id, seed + (n), (amount), channels[c], (rule), (period)))
		AT(1, "49999.99", NULL, 0);
		AT(2, "50000.00", NULL, 0);
		AT(3, "50000.01", "ru_short", 4 * 3600);
		AT(4, "199999.99", "ru_short", 4 * 3600);
		AT(5, "200000.00", "ru_short", 4 * 3600);
		AT(6, "200000.01", "ru_long", 48 * 3600);
#undef AT
	}
}
END_TEST

START_TEST(test_ru_a_branch_loan_is_cooled_and_its_payout_refused)
{
	struct http_resp r;
	approve("BR-1", 201, "60000.00", "branch", NULL, &r);
	http_resp_free(&r);
	e2e_consent(&env, bank, "BANK1", "BR-1");
	e2e_disburse(&env, bank, "BANK1", "BR-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   NULL);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_ru_an_approval_in_tenge_is_422_on_currency_and_writes_nothing)
{
	struct e2e_loan o = {.iin_seed = 301, .amount = "60000.00"};
	e2e_assert_currency_refused(&env, bank, "BANK1", "KZT-1", &o);
}
END_TEST

START_TEST(test_ru_each_exemption_and_a_card_limit_increase)
{
	static const struct {
		const char *loan_id, *extra, *exemption;
		bool secured;
	} cases[] = {
	    {"X-SEC", NULL, "secured", true},
	    {"X-EDU", ",\"product\":\"education\"", "education", false},
	    {"X-GOODS", ",\"product\":\"goods\"", "goods", false},
	    {"X-REFI", ",\"product\":\"refinancing\"", "refinancing", false},
	    {"X-CARD", ",\"product\":\"card_limit\"", NULL, false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct e2e_loan o = {.iin_seed = 400 + (unsigned)i,
		                     .amount = "300000.00",
		                     .currency = "RUB",
		                     .secured = cases[i].secured,
		                     .extra = cases[i].extra};
		struct http_resp r;
		e2e_approve(&env, bank, "BANK1", cases[i].loan_id, &o, &r);
		E2E_ASSERT_JSTR(r.json, "exemption", cases[i].exemption);
		/* a card's limit increase is a loan like the others */
		E2E_ASSERT_JSTR(r.json, "rule", cases[i].exemption ? NULL : "ru_long");
		http_resp_free(&r);
	}
}
END_TEST

static void trusted(const char *loan_id, const char *body, struct http_resp *r)
{
	e2e_act(&env, bank, "BANK1", loan_id, "trusted-person-confirmation", body, NULL, r);
}

START_TEST(test_ru_the_trusted_person_confirms_before_the_period)
{
	struct http_resp r;
	approve("TP-1", 501, "60000.00", "online", NULL, &r);
	http_resp_free(&r);
	trusted("TP-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "exemption", "trusted_person");
	E2E_ASSERT_JSTR(r.json, "rule", NULL);
	ck_assert(json_is_false(e2e_json_at(r.json, "cooling_required")));
	ck_assert(json_is_string(e2e_json_at(r.json, "trusted_person_confirmed_at")));
	http_resp_free(&r);
	e2e_consent(&env, bank, "BANK1", "TP-1");
	e2e_get_loan(&env, bank, "BANK1", "TP-1", &r);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	E2E_ASSERT_JSTR(r.json, "cooling_ends_at", NULL);
	http_resp_free(&r);
	e2e_disburse(&env, bank, "BANK1", "TP-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "TP-1", "trusted_person_confirmed"), 1);
	trusted("TP-1", "{\"confirmed_at\":null}", &r);
	E2E_ASSERT_STATUS(&r, 200); /* a repeat, even after the payout */
	http_resp_free(&r);
}
END_TEST

START_TEST(test_ru_the_trusted_person_confirms_during_the_period)
{
	struct http_resp r;
	approve("TP-3", 503, "250000.00", "online", NULL, &r);
	http_resp_free(&r);
	e2e_consent(&env, bank, "BANK1", "TP-3");
	e2e_get_loan(&env, bank, "BANK1", "TP-3", &r);
	E2E_ASSERT_JSTR(r.json, "status", "cooling");
	ck_assert(json_is_string(e2e_json_at(r.json, "cooling_ends_at")));
	http_resp_free(&r);

	char at[32], body[96];
	e2e_ts_from_now(at, -5);
	snprintf(body, sizeof body, "{\"confirmed_at\":\"%s\"}", at);
	trusted("TP-3", body, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "exemption", "trusted_person");
	E2E_ASSERT_JSTR(r.json, "cooling_ends_at", NULL);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	http_resp_free(&r);
	/* repeats: the same time or none is the loan; another time is not */
	trusted("TP-3", body, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	trusted("TP-3", "{}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	e2e_ts_from_now(at, -60);
	snprintf(body, sizeof body, "{\"confirmed_at\":\"%s\"}", at);
	trusted("TP-3", body, &r);
	E2E_ASSERT_INVALID_STATE(&r, "different_time");
	http_resp_free(&r);
	/* a time in the future is refused, and so is an unknown member */
	approve("TP-4", 504, "250000.00", "online", NULL, &r);
	http_resp_free(&r);
	e2e_ts_from_now(at, 3600);
	snprintf(body, sizeof body, "{\"confirmed_at\":\"%s\"}", at);
	trusted("TP-4", body, &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "confirmed_at");
	http_resp_free(&r);
	trusted("TP-4", "{\"by\":\"x\"}", &r);
	E2E_ASSERT_STATUS(&r, 422);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "TP-3", "trusted_person_confirmed"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "TP-4", "trusted_person_confirmed"), 0);
	e2e_disburse(&env, bank, "BANK1", "TP-3", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_ru_policy_show_names_roubles_and_the_keys)
{
	struct http_resp r;
	e2e_call(&env, "GET", "/v1/policy", bank, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "profile", "ru-2025-09");
	E2E_ASSERT_JSTR(r.json, "currency", "RUB");
	E2E_ASSERT_JSTR(r.json, "unit", "RUB");
	ck_assert_ptr_nonnull(strstr(r.body, "\"policy.ru_short_above\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"policy.ru_long_period\""));
	http_resp_free(&r);
}
END_TEST

static Suite *ru_suite(void)
{
	Suite *s = suite_create("ru");
	TCase *tc = tcase_create("ru-2025-09");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_test(tc, test_ru_bands_at_and_around_each_bound_online_and_in_a_branch);
	tcase_add_test(tc, test_ru_a_branch_loan_is_cooled_and_its_payout_refused);
	tcase_add_test(tc, test_ru_an_approval_in_tenge_is_422_on_currency_and_writes_nothing);
	tcase_add_test(tc, test_ru_each_exemption_and_a_card_limit_increase);
	tcase_add_test(tc, test_ru_the_trusted_person_confirms_before_the_period);
	tcase_add_test(tc, test_ru_the_trusted_person_confirms_during_the_period);
	tcase_add_test(tc, test_ru_policy_show_names_roubles_and_the_keys);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(ru_suite)

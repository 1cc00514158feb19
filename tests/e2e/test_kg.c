/*
 * Profile kg-2024-11 end to end (REGULATION.md, "More countries",
 * Kyrgyzstan; CONTRACT.md v1.2, "Profiles as dated data, and more
 * countries"): the real coolingd under kg-2024-11, approvals in som at and
 * around 15,000, 50,000 and 100,000 (one tyiyn either side), a branch loan
 * exempt, no other exemption, an approval in tenge refused with nothing
 * written, and the control call: 409 not_required below the bound and for
 * a kz loan, the blocker control_call_missing in the loan, its status and a
 * refusal (with its metric and statistics), the call before and after the
 * consent with its repeats, and the payout once the period and the call
 * are both behind the loan.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/httpc.h"
#include "support/proc.h"

static int metrics_port;
static const char *kg_env[] = {"COOLINGD_POLICY_PROFILE=kg-2024-11", NULL, NULL};
/* the third band's period in seconds, for the payout after it (the law's
 * 24 hours lifted, for tests only) */
static const char *const short_env[] = {"COOLINGD_POLICY_PROFILE=kg-2024-11",
                                        "COOLINGD_POLICY_KG_BAND3_PERIOD=3s",
                                        "COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM=true", NULL};
static const char *const kz_env[] = {"COOLINGD_POLICY_PROFILE=kz-2025-09", NULL};

static struct e2e_env env;
static char *bank;       /* lender BANK1 */
static char *compliance; /* a compliance officer, for the statistics */

static void start_with(const char *const *extra)
{
	e2e_start(&env, "kg", extra);
	e2e_lender_add(&env, "BANK1", "bank");
	bank = e2e_client_add(&env, "core1", "lender", "BANK1");
	compliance = e2e_client_add(&env, "officer", "compliance", NULL);
}

static void start(void)
{
	kg_env[1] = e2e_metrics_listen(&metrics_port);
	start_with(kg_env);
}

static void start_short(void)
{
	start_with(short_env);
}

static void start_kz(void)
{
	start_with(kz_env);
}

static void stop(void)
{
	free(bank);
	free(compliance);
	e2e_stop(&env);
}

/* A first-time borrower's unsecured loan in som; extra as e2e_loan's. */
static void approve(const char *loan_id, unsigned seed, const char *amount, const char *channel,
                    const char *extra, struct http_resp *r)
{
	struct e2e_loan o = {.iin_seed = seed,
	                     .amount = amount,
	                     .currency = "KGS",
	                     .channel = channel,
	                     .first_time = E2E_FIRST_TIME_BORROWER,
	                     .extra = extra};
	e2e_approve_under(&env, bank, "BANK1", loan_id, "kg-2024-11", &o, r);
}

static void approve_only(const char *loan_id, unsigned seed, const char *amount)
{
	struct http_resp r;
	approve(loan_id, seed, amount, "online", NULL, &r);
	http_resp_free(&r);
}

static void control_call(const char *loan_id, const char *body, struct http_resp *r)
{
	e2e_act(&env, bank, "BANK1", loan_id, "control-call", body, NULL, r);
}

static void assert_rule(const char *loan_id, unsigned seed, const char *amount, const char *rule,
                        long long period_s, bool call)
{
	struct http_resp r;
	approve(loan_id, seed, amount, "online", NULL, &r);
	E2E_ASSERT_JSTR(r.json, "rule", rule);
	E2E_ASSERT_JSTR(r.json, "exemption", NULL);
	ck_assert_msg(json_is_true(e2e_json_at(r.json, "cooling_required")) == (rule != NULL),
	              "%s: %s", amount, r.body);
	json_t *period = e2e_json_at(r.json, "cooling_period_seconds");
	if (rule == NULL)
		ck_assert_msg(json_is_null(period), "%s: %s", amount, r.body);
	else
		ck_assert_int_eq(json_integer_value(period), period_s);
	ck_assert_msg(json_is_true(e2e_json_at(r.json, "control_call_required")) == call, "%s: %s",
	              amount, r.body);
	/* no visit for a first-time borrower, no age rule, no reconfirmation */
	ck_assert(json_is_false(e2e_json_at(r.json, "in_person_required")));
	ck_assert(json_is_false(e2e_json_at(r.json, "extra_confirmation_required")));
	ck_assert(json_is_false(e2e_json_at(r.json, "reconfirmation_required")));
	E2E_ASSERT_JSTR(r.json, "threshold_amount", "15000.00");
	E2E_ASSERT_JSTR(r.json, "control_called_at", NULL);
	/* the call is missing from the approval on */
	json_t *blockers = e2e_json_at(r.json, "blockers");
	if (call)
		e2e_assert_strings(blockers, "blockers", "consent_missing", "control_call_missing",
		                   NULL);
	else
		e2e_assert_strings(blockers, "blockers", "consent_missing", NULL);
	http_resp_free(&r);
}

START_TEST(test_kg_bands_at_and_around_each_bound)
{
	assert_rule("B-1", 101, "14999.99", NULL, 0, false);
	assert_rule("B-2", 102, "15000.00", NULL, 0, false);
	assert_rule("B-3", 103, "15000.01", "kg_band1", 3 * 3600, false);
	assert_rule("B-4", 104, "49999.99", "kg_band1", 3 * 3600, false);
	assert_rule("B-5", 105, "50000.00", "kg_band1", 3 * 3600, false);
	assert_rule("B-6", 106, "50000.01", "kg_band2", 6 * 3600, false);
	assert_rule("B-7", 107, "99999.99", "kg_band2", 6 * 3600, false);
	assert_rule("B-8", 108, "100000.00", "kg_band2", 6 * 3600, false);
	assert_rule("B-9", 109, "100000.01", "kg_band3", 24 * 3600, true);
}
END_TEST

/* The law is about remotely issued loans: a branch loan is exempt and asks
 * no call; no other exemption is named, so a secured loan or one for goods
 * is cooled and asks the call. */
START_TEST(test_kg_a_branch_loan_is_exempt_and_no_other_exemption_applies)
{
	struct http_resp r;
	approve("BR-1", 201, "150000.00", "branch", NULL, &r);
	E2E_ASSERT_JSTR(r.json, "exemption", "branch");
	E2E_ASSERT_JSTR(r.json, "rule", NULL);
	ck_assert(json_is_false(e2e_json_at(r.json, "control_call_required")));
	http_resp_free(&r);
	control_call("BR-1", "{\"officer_id\":\"OF-1\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "not_required");
	http_resp_free(&r);

	static const struct {
		const char *loan_id, *extra;
		bool secured;
	} cases[] = {
	    {"X-SEC", NULL, true},
	    {"X-GOODS", ",\"product\":\"goods\"", false},
	    {"X-REFI", ",\"product\":\"refinancing\"", false},
	    {"X-EDU", ",\"product\":\"education\"", false},
	    {"X-CARD", ",\"product\":\"card_limit\"", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct e2e_loan o = {.iin_seed = 210 + (unsigned)i,
		                     .amount = "150000.00",
		                     .currency = "KGS",
		                     .secured = cases[i].secured,
		                     .extra = cases[i].extra};
		e2e_approve(&env, bank, "BANK1", cases[i].loan_id, &o, &r);
		E2E_ASSERT_JSTR(r.json, "exemption", NULL);
		E2E_ASSERT_JSTR(r.json, "rule", "kg_band3");
		ck_assert(json_is_true(e2e_json_at(r.json, "control_call_required")));
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_kg_an_approval_in_tenge_is_422_on_currency_and_writes_nothing)
{
	struct e2e_loan o = {.iin_seed = 301, .amount = "150000.00"};
	e2e_assert_currency_refused(&env, bank, "BANK1", "KZT-1", &o);
}
END_TEST

START_TEST(test_kg_a_control_call_at_the_bound_is_409_not_required)
{
	approve_only("NR-1", 401, "100000.00");
	struct http_resp r;
	control_call("NR-1", "{\"officer_id\":\"OF-1\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "not_required");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "NR-1", "control_call_recorded"), 0);
}
END_TEST

/* Before the consent and through the period the call is missing; the
 * refusal names it after the period's blocker, and counts it. */
START_TEST(test_kg_the_missing_call_blocks_the_payout_and_names_the_status)
{
	approve_only("CM-1", 501, "100000.01");
	struct http_resp r;
	e2e_get_loan(&env, bank, "BANK1", "CM-1", &r);
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_consent");
	http_resp_free(&r);
	e2e_consent(&env, bank, "BANK1", "CM-1");
	e2e_get_loan(&env, bank, "BANK1", "CM-1", &r);
	E2E_ASSERT_JSTR(r.json, "status", "cooling");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   "control_call_missing", NULL);
	/* time alone does not lift the call */
	E2E_ASSERT_JSTR(r.json, "earliest_disbursement_at", NULL);
	http_resp_free(&r);

	e2e_seal_until(&env, "e.type = 'disbursement_refused' AND $1 = $1", "-");
	long long stats_before = e2e_stats_refused_by(&env, compliance, "control_call_missing");
	double metric_before =
	    e2e_metric(metrics_port, "coolingd_refusals_total{blocker=\"control_call_missing\"}");
	e2e_disburse(&env, bank, "BANK1", "CM-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   "control_call_missing", NULL);
	http_resp_free(&r);
	ck_assert(
	    e2e_metric(metrics_port, "coolingd_refusals_total{blocker=\"control_call_missing\"}") ==
	    metric_before + 1);
	e2e_seal_until(&env, "e.type = 'disbursement_refused' AND $1 = $1", "-");
	ck_assert_int_eq(e2e_stats_refused_by(&env, compliance, "control_call_missing"),
	                 stats_before + 1);

	/* the status filter lists it as cooling, and no loan yet under the
	 * call's own status */
	e2e_call(&env, "GET", "/v1/loans?status=cooling", compliance, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"CM-1\""));
	http_resp_free(&r);
	e2e_call(&env, "GET", "/v1/loans?status=awaiting_control_call", compliance, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_ptr_null(strstr(r.body, "\"CM-1\""));
	http_resp_free(&r);
}
END_TEST

START_TEST(test_kg_the_call_before_the_consent_and_its_repeats)
{
	approve_only("CC-1", 601, "200000.00");
	struct http_resp r;
	control_call("CC-1", "{\"officer_id\":\"OF-1\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert(json_is_string(e2e_json_at(r.json, "control_called_at")));
	E2E_ASSERT_JSTR(r.json, "control_call_officer_id", "OF-1");
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_consent");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "consent_missing", NULL);
	char at[64];
	snprintf(at, sizeof at, "%s", e2e_jstr(r.json, "control_called_at"));
	http_resp_free(&r);

	/* the same body again, and the same officer at the recorded time */
	control_call("CC-1", "{\"officer_id\":\"OF-1\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "control_called_at", at);
	http_resp_free(&r);
	char body[160];
	snprintf(body, sizeof body, "{\"officer_id\":\"OF-1\",\"called_at\":\"%s\"}", at);
	control_call("CC-1", body, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	/* another officer, another time */
	control_call("CC-1", "{\"officer_id\":\"OF-2\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "different_details");
	http_resp_free(&r);
	char other[32];
	e2e_ts_from_now(other, -600);
	snprintf(body, sizeof body, "{\"officer_id\":\"OF-1\",\"called_at\":\"%s\"}", other);
	control_call("CC-1", body, &r);
	E2E_ASSERT_INVALID_STATE(&r, "different_time");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CC-1", "control_call_recorded"), 1);

	/* after the consent only the period stands, and it ends on its own */
	e2e_consent(&env, bank, "BANK1", "CC-1");
	e2e_get_loan(&env, bank, "BANK1", "CC-1", &r);
	E2E_ASSERT_JSTR(r.json, "status", "cooling");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   NULL);
	ck_assert_str_eq(e2e_jstr(r.json, "earliest_disbursement_at"),
	                 e2e_jstr(r.json, "cooling_ends_at"));
	http_resp_free(&r);
}
END_TEST

START_TEST(test_kg_the_call_during_the_period_and_its_refusals)
{
	approve_only("CP-1", 701, "150000.00");
	e2e_consent(&env, bank, "BANK1", "CP-1");
	struct http_resp r;
	/* a body is required, with an officer; the time in the clock window */
	control_call("CP-1", NULL, &r);
	E2E_ASSERT_ERROR(&r, 400, "malformed_json", NULL);
	http_resp_free(&r);
	control_call("CP-1", "{}", &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "officer_id");
	http_resp_free(&r);
	control_call("CP-1", "{\"officer_id\":\"OF-1\",\"by\":\"x\"}", &r);
	E2E_ASSERT_STATUS(&r, 422);
	http_resp_free(&r);
	char at[32], body[160];
	e2e_ts_from_now(at, 3600);
	snprintf(body, sizeof body, "{\"officer_id\":\"OF-1\",\"called_at\":\"%s\"}", at);
	control_call("CP-1", body, &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "called_at");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CP-1", "control_call_recorded"), 0);

	e2e_ts_from_now(at, -5);
	snprintf(body, sizeof body, "{\"officer_id\":\"OF-1\",\"called_at\":\"%s\"}", at);
	control_call("CP-1", body, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "cooling");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   NULL);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CP-1", "control_call_recorded"), 1);

	/* a cancelled loan takes no call */
	approve_only("CX-1", 702, "150000.00");
	e2e_act_expect(&env, bank, "BANK1", "CX-1", "cancellation", "{\"reason\":\"test\"}", 200);
	control_call("CX-1", "{\"officer_id\":\"OF-1\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "cancelled");
	http_resp_free(&r);
}
END_TEST

START_TEST(test_kg_policy_show_names_som_the_keys_and_the_call)
{
	struct http_resp r;
	e2e_call(&env, "GET", "/v1/policy", bank, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "profile", "kg-2024-11");
	E2E_ASSERT_JSTR(r.json, "currency", "KGS");
	E2E_ASSERT_JSTR(r.json, "unit", "KGS");
	static const char *const keys[] = {"policy.kg_band1_above",  "policy.kg_band2_above",
	                                   "policy.kg_band3_above",  "policy.kg_band1_period",
	                                   "policy.kg_band2_period", "policy.kg_band3_period"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char quoted[64];
		snprintf(quoted, sizeof quoted, "\"%s\"", keys[i]);
		ck_assert_msg(strstr(r.body, quoted) != NULL, "%s: %s", keys[i], r.body);
	}
	json_t *rules = e2e_json_at(r.json, "rules");
	ck_assert_int_eq(json_array_size(rules), 3);
	ck_assert(json_is_false(json_object_get(json_array_get(rules, 1), "control_call")));
	ck_assert(json_is_true(json_object_get(json_array_get(rules, 2), "control_call")));
	http_resp_free(&r);
}
END_TEST

/* coolingctl prints the same table from the configuration and from the
 * daemon's answer, the control call's line included */
START_TEST(test_kg_coolingctl_policy_show_from_the_configuration_and_the_api)
{
	char token_file[300], url[64];
	snprintf(token_file, sizeof token_file, "%s/kg-token-%d",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	FILE *f = fopen(token_file, "w");
	ck_assert_msg(f != NULL, "%s", strerror(errno));
	fprintf(f, "%s\n", bank);
	fclose(f);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", env.d.port);
	const char *const cfg[] = {"COOLINGD_POLICY_PROFILE=kg-2024-11", NULL};
	struct proc_run local, api;
	proc_ctl(&local, NULL, cfg, NULL, "policy", "show", NULL);
	proc_ctl(&api, NULL, NULL, NULL, "--api", url, "--token-file", token_file, "policy", "show",
	         NULL);
	unlink(token_file);
	ck_assert_msg(local.status == 0 && api.status == 0, "%s %s", local.err, api.err);
	ck_assert_str_eq(api.out, local.out);
	ck_assert_msg(strstr(local.out, "above 100000 KGS (policy.kg_band3_above): wait 86400s "
	                                "after consent (policy.kg_band3_period)\n"
	                                "             and a control call") != NULL,
	              "%s", local.out);
	proc_run_free(&local);
	proc_run_free(&api);
}
END_TEST

/* ---- the payout, with the third band's period shortened ---- */

/* Polls the loan until its status is `want`, at most 30 s. */
static void await_status(const char *loan_id, const char *want)
{
	int64_t deadline = e2e_wall_us() + 30 * 1000000LL;
	for (;;) {
		struct http_resp r;
		e2e_get_loan(&env, bank, "BANK1", loan_id, &r);
		const char *status = e2e_jstr(r.json, "status");
		bool done = status != NULL && strcmp(status, want) == 0;
		http_resp_free(&r);
		if (done)
			return;
		ck_assert_msg(e2e_wall_us() < deadline, "%s: never %s", loan_id, want);
		usleep(100 * 1000);
	}
}

START_TEST(test_kg_the_payout_waits_for_both_the_period_and_the_call)
{
	struct http_resp r;
	/* called during the period: paid once it has ended */
	approve_only("P-1", 801, "150000.00");
	e2e_consent(&env, bank, "BANK1", "P-1");
	control_call("P-1", "{\"officer_id\":\"OF-1\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	await_status("P-1", "eligible");
	e2e_disburse(&env, bank, "BANK1", "P-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	/* a repeat after the payout is the loan; another officer is not */
	control_call("P-1", "{\"officer_id\":\"OF-1\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "disbursed");
	http_resp_free(&r);
	control_call("P-1", "{\"officer_id\":\"OF-2\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "different_details");
	http_resp_free(&r);

	/* not called: once the period is over the call alone stands */
	approve_only("P-2", 802, "150000.00");
	e2e_consent(&env, bank, "BANK1", "P-2");
	await_status("P-2", "awaiting_control_call");
	e2e_get_loan(&env, bank, "BANK1", "P-2", &r);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "control_call_missing",
	                   NULL);
	E2E_ASSERT_JSTR(r.json, "earliest_disbursement_at", NULL);
	http_resp_free(&r);
	e2e_call(&env, "GET", "/v1/loans?status=awaiting_control_call", compliance, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"P-2\""));
	http_resp_free(&r);
	e2e_disburse(&env, bank, "BANK1", "P-2", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "control_call_missing",
	                   NULL);
	http_resp_free(&r);
	control_call("P-2", "{\"officer_id\":\"OF-3\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	http_resp_free(&r);
	e2e_disburse(&env, bank, "BANK1", "P-2", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}
END_TEST

/* ---- a loan of another profile ---- */

START_TEST(test_a_kz_loan_takes_no_control_call)
{
	struct e2e_loan o = {.iin_seed = 901, .amount = E2E_BIG_AMOUNT, .consent_now = true};
	struct http_resp r;
	e2e_approve(&env, bank, "BANK1", "KZ-1", &o, &r);
	E2E_ASSERT_JSTR(r.json, "policy", "kz-2025-09");
	ck_assert(json_is_true(e2e_json_at(r.json, "cooling_required")));
	ck_assert(json_is_false(e2e_json_at(r.json, "control_call_required")));
	http_resp_free(&r);
	control_call("KZ-1", "{\"officer_id\":\"OF-1\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "not_required");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "KZ-1", "control_call_recorded"), 0);
}
END_TEST

static Suite *kg_suite(void)
{
	Suite *s = suite_create("kg");
	TCase *tc = tcase_create("kg-2024-11");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_test(tc, test_kg_bands_at_and_around_each_bound);
	tcase_add_test(tc, test_kg_a_branch_loan_is_exempt_and_no_other_exemption_applies);
	tcase_add_test(tc, test_kg_an_approval_in_tenge_is_422_on_currency_and_writes_nothing);
	tcase_add_test(tc, test_kg_a_control_call_at_the_bound_is_409_not_required);
	tcase_add_test(tc, test_kg_the_missing_call_blocks_the_payout_and_names_the_status);
	tcase_add_test(tc, test_kg_the_call_before_the_consent_and_its_repeats);
	tcase_add_test(tc, test_kg_the_call_during_the_period_and_its_refusals);
	tcase_add_test(tc, test_kg_policy_show_names_som_the_keys_and_the_call);
	tcase_add_test(tc, test_kg_coolingctl_policy_show_from_the_configuration_and_the_api);
	suite_add_tcase(s, tc);
	tc = tcase_create("short period");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, start_short, stop);
	tcase_add_test(tc, test_kg_the_payout_waits_for_both_the_period_and_the_call);
	suite_add_tcase(s, tc);
	tc = tcase_create("kz-2025-09");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, start_kz, stop);
	tcase_add_test(tc, test_a_kz_loan_takes_no_control_call);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(kg_suite)

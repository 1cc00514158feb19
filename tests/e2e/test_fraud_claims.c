/*
 * End-to-end tests of fraud claims (CONTRACT.md v1.2, "The fraud chain at
 * the payout"): a claim opened by a lender, the anti-fraud connector or
 * compliance blocks every loan of the borrower at every lender that is
 * neither disbursed nor cancelled (fraud_claim_open, status
 * blocked_by_fraud_claim, no earliest_disbursement_at, the payout refused)
 * until it is closed; the closure's repeats and conflicts; who may read a
 * claim; bad input; and dozens of payouts of the borrower racing a claim on
 * two daemons: none is allowed after the claim's answer, and the sealed
 * chain puts every allowed one before the claim's event.
 */
#include "check_main.h"
#include "support/e2e.h"
#include "support/race.h"
#include "support/testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct e2e_env env;
static char *lender1, *lender2, *antifraud, *compliance, *auditor;

static int metrics_port;

static void setup(void)
{
	const char *metrics_kv = e2e_metrics_listen(&metrics_port);
	const char *const daemon_env[] = {metrics_kv, NULL};
	e2e_start(&env, "claims", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	e2e_lender_add(&env, "MFO2", "mfo");
	lender1 = e2e_client_add(&env, "core1", "lender", "BANK1");
	lender2 = e2e_client_add(&env, "core2", "lender", "MFO2");
	antifraud = e2e_client_add(&env, "afc-connector", "antifraud", NULL);
	compliance = e2e_client_add(&env, "officer", "compliance", NULL);
	auditor = e2e_client_add(&env, "audit1", "auditor", NULL);
}

static void teardown(void)
{
	e2e_stop(&env);
	free(lender1);
	free(lender2);
	free(antifraud);
	free(compliance);
	free(auditor);
}

/* POST /v1/fraud-claims for the IIN of seed; the claim_id (static) on 201. */
static const char *open_claim(const struct e2e_env *e, const char *token, unsigned seed,
                              int want_status)
{
	static char id[32];
	char iin[13], body[256];
	e2e_iin(iin, seed);
	snprintf(body, sizeof body,
	         "{\"borrower_iin\":\"%s\",\"reference\":\"POLICE-%u\",\"note\":\"video call\"}",
	         iin, seed);
	struct http_resp r;
	e2e_call(e, "POST", "/v1/fraud-claims", token, body, NULL, &r);
	E2E_ASSERT_STATUS(&r, want_status);
	id[0] = '\0';
	if (want_status == 201)
		snprintf(id, sizeof id, "%s", e2e_jstr(r.json, "claim_id"));
	http_resp_free(&r);
	return id;
}

static void close_claim(const char *token, const char *id, const char *outcome,
                        struct http_resp *out)
{
	char path[96], body[128];
	snprintf(path, sizeof path, "/v1/fraud-claims/%s/closure", id);
	snprintf(body, sizeof body, "{\"outcome\":\"%s\",\"note\":\"checked\"}", outcome);
	e2e_call(&env, "POST", path, token, body, NULL, out);
}

static void get_claim(const char *token, const char *id, struct http_resp *out)
{
	char path[96];
	snprintf(path, sizeof path, "/v1/fraud-claims/%s", id);
	e2e_call(&env, "GET", path, token, NULL, NULL, out);
}

/* ---- the claim ---- */

START_TEST(test_an_opened_claim_is_201_open_and_one_event)
{
	char iin[13];
	e2e_iin(iin, 41);
	const char *id = open_claim(&env, lender1, 41, 201);
	ck_assert_msg(strncmp(id, "FC-", 3) == 0, "%s", id);
	struct http_resp r;
	get_claim(compliance, id, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "claim_id", id);
	E2E_ASSERT_JSTR(r.json, "borrower_iin", iin);
	E2E_ASSERT_JSTR(r.json, "status", "open");
	E2E_ASSERT_JSTR(r.json, "outcome", NULL);
	E2E_ASSERT_JSTR(r.json, "opened_by", "core1");
	E2E_ASSERT_JSTR(r.json, "closed_at", NULL);
	E2E_ASSERT_JSTR(r.json, "reference", "POLICE-41");
	E2E_ASSERT_JSTR(r.json, "note", "video call");
	ck_assert(e2e_is_utc_z(e2e_jstr(r.json, "opened_at")));
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE type = "
	                             "'fraud_claim_opened' AND detail->>'claim_id' = $1 "
	                             "AND detail->>'borrower_iin' = $2 AND actor = 'core1'",
	                             id, iin, NULL),
	                 1);
}
END_TEST

START_TEST(test_who_may_open_read_and_close)
{
	const char *id = open_claim(&env, antifraud, 42, 201);
	char kept[32];
	snprintf(kept, sizeof kept, "%s", id);
	open_claim(&env, compliance, 43, 201);
	open_claim(&env, auditor, 43, 403);
	struct http_resp r;
	/* readers: compliance, auditor, antifraud; a lender only its own */
	const char *const readers[] = {compliance, auditor, antifraud};
	for (size_t i = 0; i < 3; i++) {
		get_claim(readers[i], kept, &r);
		E2E_ASSERT_STATUS(&r, 200);
		http_resp_free(&r);
	}
	get_claim(lender1, kept, &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	const char *mine = open_claim(&env, lender2, 44, 201);
	char own[32];
	snprintf(own, sizeof own, "%s", mine);
	get_claim(lender2, own, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	get_claim(lender1, own, &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	/* closers: compliance and antifraud; a lender is 403 */
	close_claim(lender2, own, "confirmed", &r);
	E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
	http_resp_free(&r);
	close_claim(auditor, own, "confirmed", &r);
	E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
	http_resp_free(&r);
	/* unknown and malformed ids */
	get_claim(compliance, "FC-999999", &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	get_claim(compliance, "FC-007", &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	close_claim(compliance, "X-1", "confirmed", &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_a_closure_is_once_its_repeat_200_and_another_409)
{
	const char *id = open_claim(&env, antifraud, 45, 201);
	char kept[32];
	snprintf(kept, sizeof kept, "%s", id);
	struct http_resp r;
	close_claim(compliance, kept, "confirmed", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "closed");
	E2E_ASSERT_JSTR(r.json, "outcome", "confirmed");
	ck_assert(e2e_is_utc_z(e2e_jstr(r.json, "closed_at")));
	http_resp_free(&r);
	close_claim(antifraud, kept, "confirmed", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	close_claim(compliance, kept, "unfounded", &r);
	E2E_ASSERT_INVALID_STATE(&r, "different_details");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE type = "
	                             "'fraud_claim_closed' AND detail->>'claim_id' = $1 "
	                             "AND detail->>'outcome' = 'confirmed'",
	                             kept, NULL),
	                 1);
}
END_TEST

START_TEST(test_bad_input_is_422_naming_the_field_and_writes_nothing)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
	    {"{\"borrower_iin\":\"900101300127\",\"reference\":\"R\"}", "borrower_iin"},
	    {"{\"reference\":\"R\"}", "borrower_iin"},
	    {"{\"borrower_iin\":\"900101300126\"}", "reference"},
	    {"{\"borrower_iin\":\"900101300126\",\"reference\":\"  \"}", "reference"},
	    {"{\"borrower_iin\":\"900101300126\",\"reference\":\"R\",\"note\":\"\"}", "note"},
	    {"{\"borrower_iin\":\"900101300126\",\"reference\":\"R\",\"lender\":\"B\"}", "lender"},
	};
	long long before = e2e_sql_num(&env, "SELECT count(*) FROM fraud_claim", NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp r;
		e2e_call(&env, "POST", "/v1/fraud-claims", compliance, cases[i].body, NULL, &r);
		E2E_ASSERT_ERROR(&r, 422, "validation_failed", cases[i].field);
		http_resp_free(&r);
	}
	const char *id = open_claim(&env, compliance, 46, 201);
	char kept[32];
	snprintf(kept, sizeof kept, "%s", id);
	struct http_resp r;
	close_claim(compliance, kept, "maybe", &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "outcome");
	http_resp_free(&r);
	e2e_call(&env, "POST", "/v1/fraud-claims/FC-1/closure", compliance, "{}", NULL, &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "outcome");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env, "SELECT count(*) FROM fraud_claim", NULL), before + 1);
}
END_TEST

/* ---- the loans ---- */

START_TEST(test_an_open_claim_blocks_every_payable_loan_of_the_borrower_at_every_lender)
{
	/* every refusal so far counted, so that the two of this test are the
	 * difference */
	e2e_seal_until(&env, "e.type = 'disbursement_refused' AND $1 = $1", "-");
	long long stats_before = e2e_stats_refused_by(&env, compliance, "fraud_claim_open");
	double metric_before =
	    e2e_metric(metrics_port, "coolingd_refusals_total{blocker=\"fraud_claim_open\"}");
	e2e_eligible_loan(&env, lender1, "BANK1", "C-B1", 47);
	e2e_eligible_loan(&env, lender2, "MFO2", "C-M2", 47);
	e2e_eligible_loan(&env, lender1, "BANK1", "C-PAID", 47);
	struct http_resp r;
	e2e_disburse(&env, lender1, "BANK1", "C-PAID", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	const char *id = open_claim(&env, antifraud, 47, 201);
	char kept[32];
	snprintf(kept, sizeof kept, "%s", id);

	const struct {
		const char *token, *lender, *loan;
	} loans[] = {{lender1, "BANK1", "C-B1"}, {lender2, "MFO2", "C-M2"}};
	for (size_t i = 0; i < 2; i++) {
		e2e_get_loan(&env, loans[i].token, loans[i].lender, loans[i].loan, &r);
		E2E_ASSERT_STATUS(&r, 200);
		E2E_ASSERT_JSTR(r.json, "status", "blocked_by_fraud_claim");
		ck_assert(json_is_true(e2e_json_at(r.json, "fraud_claim_open")));
		e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "fraud_claim_open",
		                   NULL);
		E2E_ASSERT_JSTR(r.json, "earliest_disbursement_at", NULL);
		http_resp_free(&r);
		e2e_disburse(&env, loans[i].token, loans[i].lender, loans[i].loan, NULL, &r);
		E2E_ASSERT_STATUS(&r, 409);
		e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "fraud_claim_open",
		                   NULL);
		ck_assert_int_eq(e2e_retry_after(&r), -1);
		http_resp_free(&r);
	}
	/* the paid loan says so, and keeps its status */
	e2e_get_loan(&env, lender1, "BANK1", "C-PAID", &r);
	E2E_ASSERT_JSTR(r.json, "status", "disbursed");
	ck_assert(json_is_true(e2e_json_at(r.json, "fraud_claim_open")));
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "already_disbursed", NULL);
	http_resp_free(&r);
	/* the status filter finds them */
	e2e_call(&env, "GET", "/v1/loans?status=blocked_by_fraud_claim&limit=1000", compliance,
	         NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	int listed = 0;
	json_t *arr = e2e_json_at(r.json, "loans"), *o;
	size_t k;
	json_array_foreach(arr, k, o)
	{
		const char *lid = json_string_value(json_object_get(o, "loan_id"));
		listed += !strcmp(lid, "C-B1") || !strcmp(lid, "C-M2");
		ck_assert_str_ne(lid, "C-PAID");
	}
	ck_assert_int_eq(listed, 2);
	http_resp_free(&r);
	/* the two refusals, by their blocker, in the metrics and the statistics */
	ck_assert(
	    e2e_metric(metrics_port, "coolingd_refusals_total{blocker=\"fraud_claim_open\"}") ==
	    metric_before + 2);
	e2e_seal_until(&env, "e.type = 'disbursement_refused' AND $1 = $1", "-");
	ck_assert_int_eq(e2e_stats_refused_by(&env, compliance, "fraud_claim_open"),
	                 stats_before + 2);

	/* closed unfounded: paid again */
	close_claim(compliance, kept, "unfounded", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	e2e_disburse(&env, lender1, "BANK1", "C-B1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}
END_TEST

/* ---- repeat victims ---- */

/* A cooled loan (and a small one) of the IIN of seed, by a repeat
 * borrower, on e; asserts its in_person_reasons. */
static void assert_visit_reasons(const struct e2e_env *e, const char *loan_id, unsigned seed,
                                 const char *amount, const char *want)
{
	struct http_resp r;
	e2e_approve(e, lender1, "BANK1", loan_id,
	            &(struct e2e_loan){.iin_seed = seed, .amount = amount, .consent_now = true},
	            &r);
	json_t *reasons = e2e_json_at(r.json, "in_person_reasons");
	ck_assert_msg(json_is_array(reasons), "%s", r.body);
	if (want == NULL) {
		ck_assert_msg(json_array_size(reasons) == 0, "%s: %s", loan_id, r.body);
		ck_assert(json_is_false(e2e_json_at(r.json, "in_person_required")));
	} else {
		e2e_assert_strings(reasons, "in_person_reasons", want, NULL);
		ck_assert(json_is_true(e2e_json_at(r.json, "in_person_required")));
		e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers",
		                   "cooling_period_active", "in_person_verification_missing", NULL);
	}
	http_resp_free(&r);
}

START_TEST(test_a_confirmed_victim_comes_in_person_for_every_new_cooled_loan)
{
	struct http_resp r;
	const char *id = open_claim(&env, antifraud, 49, 201);
	char kept[32];
	snprintf(kept, sizeof kept, "%s", id);
	/* while open, not yet a repeat victim (the claim blocks the loans) */
	assert_visit_reasons(&env, "V-OPEN", 49, E2E_BIG_AMOUNT, NULL);
	close_claim(compliance, kept, "confirmed", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	assert_visit_reasons(&env, "V-COOLED", 49, E2E_BIG_AMOUNT, "prior_fraud_victim");
	assert_visit_reasons(&env, "V-SMALL", 49, E2E_SMALL_AMOUNT, NULL);

	/* an unfounded claim makes nobody a victim */
	id = open_claim(&env, antifraud, 50, 201);
	snprintf(kept, sizeof kept, "%s", id);
	close_claim(compliance, kept, "unfounded", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	assert_visit_reasons(&env, "V-UNFOUNDED", 50, E2E_BIG_AMOUNT, NULL);

	/* a confirmation older than prior_victim_days (365) is over */
	char iin[13];
	e2e_iin(iin, 51);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "INSERT INTO fraud_claim (borrower_iin, reference, opened_by, "
	                             "opened_at, closed_at, closed_by, outcome) VALUES ($1, 'OLD', "
	                             "'test', now() - interval '400 days', now() - interval "
	                             "'366 days', 'test', 'confirmed') RETURNING 1",
	                             iin, NULL),
	                 1);
	assert_visit_reasons(&env, "V-LONG-AGO", 51, E2E_BIG_AMOUNT, NULL);

	/* prior_victim_days = 0 switches it off */
	struct daemon d2;
	const char *const off[] = {"COOLINGD_POLICY_PRIOR_VICTIM_DAYS=0", NULL};
	ck_assert(daemon_start(&d2, env.db_url, off));
	struct e2e_env env2 = e2e_env_on(&env, d2.port);
	assert_visit_reasons(&env2, "V-OFF", 49, E2E_BIG_AMOUNT, NULL);
	ck_assert_int_eq(daemon_stop(&d2), 0);
}
END_TEST

/* ---- the race on two daemons ---- */

#define RACE_SEED 48

struct claim_write {
	const struct e2e_env *env; /* the second daemon's */
	char claim_id[32];         /* the claim opened */
};

/* the claim, through the second daemon, while the others race */
static void claim_write(void *arg)
{
	struct claim_write *w = arg;
	snprintf(w->claim_id, sizeof w->claim_id, "%s",
	         open_claim(w->env, antifraud, RACE_SEED, 201));
}

START_TEST(test_no_payout_is_allowed_after_the_claim_commits_on_two_daemons)
{
	struct daemon d2;
	ck_assert(daemon_start(&d2, env.db_url, NULL));
	struct e2e_env env2 = e2e_env_on(&env, d2.port);
	for (int k = 0; k < PAYOUT_RACE_LOANS; k++) {
		char id[32];
		snprintf(id, sizeof id, "CRACE-%d", k);
		e2e_eligible_loan(k % 2 ? &env2 : &env, lender1, "BANK1", id, RACE_SEED);
	}
	struct claim_write w = {.env = &env2};
	payout_race_run(&env,
	                &(struct payout_race){.ports = {env.d.port, d2.port},
	                                      .token = lender1,
	                                      .lender = "BANK1",
	                                      .prefix = "CRACE",
	                                      .body = "{}",
	                                      .write = claim_write,
	                                      .write_arg = &w,
	                                      .blocker = "fraud_claim_open",
	                                      .event_where = "e.type = 'fraud_claim_opened' AND "
	                                                     "e.detail->>'claim_id' = $1",
	                                      .event_param = w.claim_id});
	ck_assert_int_eq(daemon_stop(&d2), 0);
}
END_TEST

static Suite *claims_suite(void)
{
	Suite *s = suite_create("fraud_claims");
	TCase *tc = tcase_create("api");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_an_opened_claim_is_201_open_and_one_event);
	tcase_add_test(tc, test_who_may_open_read_and_close);
	tcase_add_test(tc, test_a_closure_is_once_its_repeat_200_and_another_409);
	tcase_add_test(tc, test_bad_input_is_422_naming_the_field_and_writes_nothing);
	tcase_add_test(
	    tc, test_an_open_claim_blocks_every_payable_loan_of_the_borrower_at_every_lender);
	tcase_add_test(tc, test_a_confirmed_victim_comes_in_person_for_every_new_cooled_loan);
	tcase_add_test(tc, test_no_payout_is_allowed_after_the_claim_commits_on_two_daemons);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(claims_suite)

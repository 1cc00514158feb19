/*
 * The open readings of the enacted text, end to end (REGULATION.md, "Open
 * readings"; CONTRACT.md v1.2, "Profiles as dated data"): the real coolingd
 * under kz-2025-09 with each bound read "above" (the default) and "from"
 * (policy.*_threshold_inclusive = true), approvals of exactly 75, 150 and
 * 255 MRP and one tiyn either side, the in-person rule at its bound, and
 * kz-card's 150 MRP; GET /v1/policy, coolingd --check-config and coolingctl
 * policy show naming each bound's reading. And the channel of the
 * confirmation after the period (POST .../reconfirmation's method): each
 * one recorded and answered, none, repeats, and a bad one refused with
 * nothing written.
 *
 * Amounts are N x the MRP in force today, read from the database's table.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/httpc.h"
#include "support/proc.h"

/* The enacted periods (8 h, 24 h): these tests never wait for them. */
static const char *const law_env[] = {"COOLINGD_POLICY_PROFILE=kz-2025-09", NULL};
static const char *const law_from_env[] = {"COOLINGD_POLICY_PROFILE=kz-2025-09",
                                           "COOLINGD_POLICY_BANK_THRESHOLD_INCLUSIVE=true",
                                           "COOLINGD_POLICY_BANK_LONG_THRESHOLD_INCLUSIVE=true",
                                           "COOLINGD_POLICY_MFO_THRESHOLD_INCLUSIVE=true", NULL};
/* Only the bank's first bound read "from". */
static const char *const bank_from_env[] = {"COOLINGD_POLICY_PROFILE=kz-2025-09",
                                            "COOLINGD_POLICY_BANK_THRESHOLD_INCLUSIVE=true", NULL};
static const char *const card_from_env[] = {"COOLINGD_POLICY_THRESHOLD_INCLUSIVE=true", NULL};
/* A bank's period of one second, for the reconfirmation after it. */
static const char *const short_env[] = {
    "COOLINGD_POLICY_PROFILE=kz-2025-09", "COOLINGD_POLICY_BANK_PERIOD=1s",
    "COOLINGD_POLICY_BANK_LONG_PERIOD=1s", "COOLINGD_POLICY_MFO_PERIOD=1s", NULL};

static struct e2e_env env;
static char *bank; /* lender BANK1 (bank) */
static char *mfo;  /* lender MFO1 (mfo) */
static long long mrp;

static void start(const char *const *daemon_env)
{
	e2e_start(&env, "readings", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	e2e_lender_add(&env, "MFO1", "mfo");
	bank = e2e_client_add(&env, "core1", "lender", "BANK1");
	mfo = e2e_client_add(&env, "mfo1", "lender", "MFO1");
	mrp =
	    e2e_sql_num(&env,
	                "SELECT tenge FROM mrp WHERE valid_from <= "
	                "(now() AT TIME ZONE 'Asia/Almaty')::date ORDER BY valid_from DESC LIMIT 1",
	                NULL);
	ck_assert_int_gt(mrp, 0);
}

static void stop(void)
{
	free(bank);
	free(mfo);
	e2e_stop(&env);
}

/* A daemon per test, under each reading (checked fixtures). */
static void start_law(void)
{
	start(law_env);
}
static void start_bank_from(void)
{
	start(bank_from_env);
}
static void start_law_from(void)
{
	start(law_from_env);
}
static void start_card_from(void)
{
	start(card_from_env);
}
static void start_short(void)
{
	start(short_env);
}

/* N MRP plus delta tiyn, as the API's amount text. */
static const char *mrp_amount(int n, int delta_tiyn)
{
	static _Thread_local char out[8][32];
	static _Thread_local int next;
	char *s = out[next++ % 8];
	long long tiyn = n * mrp * 100 + delta_tiyn;
	snprintf(s, 32, "%lld.%02lld", tiyn / 100, tiyn % 100);
	return s;
}

/* An online unsecured consumer loan of borrower seed; the answer in *r. */
static void approve(const char *token, const char *lender, const char *loan_id, unsigned seed,
                    const char *amount, bool first_time, struct http_resp *r)
{
	struct e2e_loan o = {.iin_seed = seed,
	                     .amount = amount,
	                     .first_time =
	                         first_time ? E2E_FIRST_TIME_BORROWER : E2E_REPEAT_BORROWER};
	e2e_approve(&env, token, lender, loan_id, &o, r);
	ck_assert_int_eq(json_integer_value(e2e_json_at(r->json, "mrp")), mrp);
}

/* The rule (NULL: not cooled) and the period of an approval of amount. */
static void assert_rule(const char *token, const char *lender, const char *loan_id, unsigned seed,
                        const char *amount, const char *rule, long long period_s)
{
	struct http_resp r;
	approve(token, lender, loan_id, seed, amount, false, &r);
	E2E_ASSERT_JSTR(r.json, "rule", rule);
	json_t *period = e2e_json_at(r.json, "cooling_period_seconds");
	if (rule == NULL) {
		ck_assert_msg(json_is_false(e2e_json_at(r.json, "cooling_required")),
		              "%s (%s) is cooled: %s", loan_id, amount, r.body);
		ck_assert(json_is_null(period));
	} else {
		ck_assert_msg(json_is_true(e2e_json_at(r.json, "cooling_required")),
		              "%s (%s) is not cooled: %s", loan_id, amount, r.body);
		ck_assert_int_eq(json_integer_value(period), period_s);
	}
	http_resp_free(&r);
}

static bool in_person_at(const char *token, const char *lender, const char *loan_id, unsigned seed,
                         const char *amount)
{
	struct http_resp r;
	approve(token, lender, loan_id, seed, amount, true, &r);
	bool required = json_is_true(e2e_json_at(r.json, "in_person_required"));
	http_resp_free(&r);
	return required;
}

/* The i-th band of GET /v1/policy's answer. */
static json_t *band(json_t *policy, size_t i)
{
	return json_array_get(json_object_get(policy, "rules"), i);
}

/* ---- the day's amount at the bound, decided under the day's lock ---- */

#define PAIRS 10

struct approver {
	pthread_barrier_t *barrier;
	int port;
	const char *token;
	char body[512];
	int status;
};

static void *approver_main(void *arg)
{
	struct approver *a = arg;
	struct http_resp resp;
	pthread_barrier_wait(a->barrier);
	if (http_req(a->port, "POST", "/v1/lenders/BANK1/loans", a->token, a->body, NULL, &resp) ==
	    0) {
		a->status = resp.status;
		http_resp_free(&resp);
	}
	return NULL;
}

/* Two loans of 75 MRP of each of PAIRS borrowers, all approved at once: for
 * each borrower the loan recorded second (its day's amount taken again
 * under the day's lock when the first got in before it) adds up to exactly
 * 150 MRP, which is cooled (bank_short) only when the bank's bound reads
 * "from"; the first is never cooled. */
static void pairs_at_the_bound(const char *prefix, const char *second_rule)
{
	static struct approver as[2 * PAIRS];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, 2 * PAIRS);
	pthread_t th[2 * PAIRS];
	for (int i = 0; i < 2 * PAIRS; i++) {
		memset(&as[i], 0, sizeof as[i]);
		as[i].barrier = &barrier;
		as[i].port = env.d.port;
		as[i].token = bank;
		char loan_id[32];
		snprintf(loan_id, sizeof loan_id, "%s-%02d-%d", prefix, i / 2, i % 2);
		struct e2e_loan o = {.iin_seed = 200 + (unsigned)(i / 2),
		                     .amount = mrp_amount(75, 0)};
		e2e_approval_body(as[i].body, sizeof as[i].body, loan_id, &o);
		ck_assert_int_eq(pthread_create(&th[i], NULL, approver_main, &as[i]), 0);
	}
	for (int i = 0; i < 2 * PAIRS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < 2 * PAIRS; i++)
		ck_assert_msg(as[i].status == 201, "%s approver %d: %d", prefix, i, as[i].status);

	for (int b = 0; b < PAIRS; b++) {
		char like[32];
		snprintf(like, sizeof like, "%s-%02d-%%", prefix, b);
		for (int k = 0; k < 2; k++) {
			char sql[256];
			snprintf(
			    sql, sizeof sql,
			    "SELECT substr(loan_id, length(loan_id))::int FROM loan WHERE loan_id "
			    "LIKE $1 ORDER BY id OFFSET %d LIMIT 1",
			    k);
			char loan_id[32];
			snprintf(loan_id, sizeof loan_id, "%s-%02d-%lld", prefix, b,
			         e2e_sql_num(&env, sql, like, NULL));
			struct http_resp r;
			e2e_get_loan(&env, bank, "BANK1", loan_id, &r);
			E2E_ASSERT_JSTR(r.json, "aggregated_amount", mrp_amount(75 * (k + 1), 0));
			E2E_ASSERT_JSTR(r.json, "rule", k == 0 ? NULL : second_rule);
			http_resp_free(&r);
		}
	}
}

#define H8  (8 * 3600)
#define H24 (24 * 3600)

START_TEST(test_150_mrp_at_a_bank_is_not_cooled_when_every_bound_reads_above)
{
	assert_rule(bank, "BANK1", "A150-DN", 1, mrp_amount(150, -1), NULL, 0);
	assert_rule(bank, "BANK1", "A150", 2, mrp_amount(150, 0), NULL, 0);
	assert_rule(bank, "BANK1", "A150-UP", 3, mrp_amount(150, 1), "bank_short", H8);
	assert_rule(bank, "BANK1", "A255-DN", 4, mrp_amount(255, -1), "bank_short", H8);
	assert_rule(bank, "BANK1", "A255", 5, mrp_amount(255, 0), "bank_short", H8);
	assert_rule(bank, "BANK1", "A255-UP", 6, mrp_amount(255, 1), "bank_long", H24);
	assert_rule(mfo, "MFO1", "A75-DN", 7, mrp_amount(75, -1), NULL, 0);
	assert_rule(mfo, "MFO1", "A75", 8, mrp_amount(75, 0), NULL, 0);
	assert_rule(mfo, "MFO1", "A75-UP", 9, mrp_amount(75, 1), "mfo", H24);
	/* a first-time borrower comes in person above the kind's first bound */
	ck_assert(!in_person_at(bank, "BANK1", "AV150", 10, mrp_amount(150, 0)));
	ck_assert(in_person_at(bank, "BANK1", "AV150-UP", 11, mrp_amount(150, 1)));
	ck_assert(!in_person_at(mfo, "MFO1", "AV75", 12, mrp_amount(75, 0)));
	ck_assert(in_person_at(mfo, "MFO1", "AV75-UP", 13, mrp_amount(75, 1)));

	struct http_resp r;
	e2e_call(&env, "GET", "/v1/policy", bank, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert(json_is_false(e2e_json_at(band(r.json, 0), "above_inclusive")));
	ck_assert(json_is_false(e2e_json_at(band(r.json, 0), "up_to_exclusive")));
	E2E_ASSERT_JSTR(band(r.json, 0), "keys.above_inclusive", "policy.bank_threshold_inclusive");
	http_resp_free(&r);
	pairs_at_the_bound("AP", NULL);
}
END_TEST

START_TEST(test_150_mrp_at_a_bank_is_cooled_8h_when_its_bound_reads_from)
{
	assert_rule(bank, "BANK1", "F150-DN", 1, mrp_amount(150, -1), NULL, 0);
	assert_rule(bank, "BANK1", "F150", 2, mrp_amount(150, 0), "bank_short", H8);
	assert_rule(bank, "BANK1", "F150-UP", 3, mrp_amount(150, 1), "bank_short", H8);
	/* the other bounds keep "above" */
	assert_rule(bank, "BANK1", "F255", 4, mrp_amount(255, 0), "bank_short", H8);
	assert_rule(mfo, "MFO1", "F75", 5, mrp_amount(75, 0), NULL, 0);

	struct http_resp r;
	approve(bank, "BANK1", "F150R", 6, mrp_amount(150, 0), false, &r);
	ck_assert(json_is_true(e2e_json_at(r.json, "reconfirmation_required")));
	http_resp_free(&r);
	/* the visit follows the same bound */
	ck_assert(!in_person_at(bank, "BANK1", "FV150-DN", 7, mrp_amount(150, -1)));
	ck_assert(in_person_at(bank, "BANK1", "FV150", 8, mrp_amount(150, 0)));
	pairs_at_the_bound("FP", "bank_short");
}
END_TEST

START_TEST(test_every_bound_read_from_puts_its_amount_in_the_band_above)
{
	assert_rule(bank, "BANK1", "B150-DN", 1, mrp_amount(150, -1), NULL, 0);
	assert_rule(bank, "BANK1", "B150", 2, mrp_amount(150, 0), "bank_short", H8);
	assert_rule(bank, "BANK1", "B255-DN", 3, mrp_amount(255, -1), "bank_short", H8);
	assert_rule(bank, "BANK1", "B255", 4, mrp_amount(255, 0), "bank_long", H24);
	assert_rule(bank, "BANK1", "B255-UP", 5, mrp_amount(255, 1), "bank_long", H24);
	assert_rule(mfo, "MFO1", "B75-DN", 6, mrp_amount(75, -1), NULL, 0);
	assert_rule(mfo, "MFO1", "B75", 7, mrp_amount(75, 0), "mfo", H24);
	ck_assert(!in_person_at(mfo, "MFO1", "BV75-DN", 8, mrp_amount(75, -1)));
	ck_assert(in_person_at(mfo, "MFO1", "BV75", 9, mrp_amount(75, 0)));

	struct http_resp r;
	e2e_call(&env, "GET", "/v1/policy", bank, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(band(r.json, 0), "rule", "bank_short");
	ck_assert(json_is_true(e2e_json_at(band(r.json, 0), "above_inclusive")));
	ck_assert(json_is_true(e2e_json_at(band(r.json, 0), "up_to_exclusive")));
	E2E_ASSERT_JSTR(band(r.json, 0), "keys.up_to_exclusive",
	                "policy.bank_long_threshold_inclusive");
	ck_assert(json_is_true(e2e_json_at(band(r.json, 1), "above_inclusive")));
	ck_assert(json_is_null(e2e_json_at(band(r.json, 1), "up_to_exclusive")));
	E2E_ASSERT_JSTR(band(r.json, 2), "keys.above_inclusive", "policy.mfo_threshold_inclusive");
	http_resp_free(&r);
}
END_TEST

START_TEST(test_kz_card_cools_150_mrp_for_24h_when_its_bound_reads_from)
{
	assert_rule(bank, "BANK1", "C150-DN", 1, mrp_amount(150, -1), NULL, 0);
	assert_rule(bank, "BANK1", "C150", 2, mrp_amount(150, 0), "card", H24);
	assert_rule(mfo, "MFO1", "C150M", 3, mrp_amount(150, 0), "card", H24);
}
END_TEST

START_TEST(test_check_config_and_policy_show_name_each_bounds_reading)
{
	const char *conf_env[] = {"COOLINGD_POLICY_PROFILE=kz-2025-09",
	                          "COOLINGD_POLICY_BANK_THRESHOLD_INCLUSIVE=on", NULL};
	const char *argv[] = {"coolingd", "-c", "/dev/null", "--check-config", NULL};
	struct proc_run r;
	proc_run(&r, test_bin("coolingd"), argv, NULL, conf_env);
	ck_assert_msg(r.status == 0, "exit %d: %s %s", r.status, r.out, r.err);
	ck_assert_msg(strstr(r.out, "policy.bank_threshold_inclusive = on\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "policy.bank_long_threshold_inclusive = off\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "bank_short bank from 150 MRP (policy.bank_threshold_mrp, "
	                            "policy.bank_threshold_inclusive = on), up to 255 MRP"),
	              "%s", r.out);
	proc_run_free(&r);

	/* a value that is no bool stops the start, naming the key */
	const char *bad_env[] = {"COOLINGD_POLICY_PROFILE=kz-2025-09",
	                         "COOLINGD_POLICY_MFO_THRESHOLD_INCLUSIVE=from", NULL};
	proc_run(&r, test_bin("coolingd"), argv, NULL, bad_env);
	ck_assert_int_ne(r.status, 0);
	ck_assert_msg(strstr(r.err, "policy.mfo_threshold_inclusive") ||
	                  strstr(r.out, "policy.mfo_threshold_inclusive"),
	              "%s %s", r.out, r.err);
	proc_run_free(&r);

	proc_ctl(&r, NULL, conf_env, NULL, "policy", "show", (const char *)NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s %s", r.status, r.out, r.err);
	ck_assert_msg(strstr(r.out, "from 150 MRP (policy.bank_threshold_mrp, "
	                            "policy.bank_threshold_inclusive = on)"),
	              "%s", r.out);
	ck_assert_msg(strstr(r.out, "above 75 MRP (policy.mfo_threshold_mrp, "
	                            "policy.mfo_threshold_inclusive = off)"),
	              "%s", r.out);
	proc_run_free(&r);
}
END_TEST

/* ---- the reconfirmation's channel ---- */

static const char *const methods[] = {"branch", "egov", "credit_bureau", "lender_app"};
#define NMETHODS 4

/* A bank_short loan of borrower seed, consented, whose one-second period
 * has ended (read back until it awaits the reconfirmation, at most 10 s). */
static void cooled_loan(const char *loan_id, unsigned seed)
{
	struct http_resp r;
	approve(bank, "BANK1", loan_id, seed, mrp_amount(200, 0), false, &r);
	E2E_ASSERT_JSTR(r.json, "rule", "bank_short");
	http_resp_free(&r);
	e2e_consent(&env, bank, "BANK1", loan_id);
}

static void await_reconfirmation(const char *loan_id)
{
	long long deadline = test_now_ms() + 10000;
	for (;;) {
		struct http_resp r;
		e2e_get_loan(&env, bank, "BANK1", loan_id, &r);
		const char *status = e2e_jstr(r.json, "status");
		bool ready = status != NULL && strcmp(status, "awaiting_reconfirmation") == 0;
		http_resp_free(&r);
		if (ready)
			return;
		ck_assert_msg(test_now_ms() < deadline, "%s: still %s", loan_id,
		              status ? status : "?");
		test_sleep_ms(50);
	}
}

/* The reconfirmation_recorded events of the loan whose detail's method is
 * method (NULL: JSON null). */
static long long events_with_method(const char *loan_id, const char *method)
{
	if (method == NULL)
		return e2e_sql_num(&env,
		                   "SELECT count(*) FROM audit_event WHERE lender_id = 'BANK1' AND "
		                   "loan_id = $1 AND type = 'reconfirmation_recorded' AND "
		                   "jsonb_typeof(detail->'method') = 'null'",
		                   loan_id, NULL);
	return e2e_sql_num(&env,
	                   "SELECT count(*) FROM audit_event WHERE lender_id = 'BANK1' AND "
	                   "loan_id = $1 AND type = 'reconfirmation_recorded' AND "
	                   "detail->>'method' = $2",
	                   loan_id, method, NULL);
}

START_TEST(test_each_reconfirmation_method_is_recorded_and_answered)
{
	char ids[NMETHODS + 1][16];
	for (int i = 0; i <= NMETHODS; i++) {
		snprintf(ids[i], sizeof ids[i], "RM-%d", i);
		cooled_loan(ids[i], 100 + (unsigned)i);
	}
	for (int i = 0; i <= NMETHODS; i++)
		await_reconfirmation(ids[i]);

	for (int i = 0; i < NMETHODS; i++) {
		char body[64];
		snprintf(body, sizeof body, "{\"method\":\"%s\"}", methods[i]);
		struct http_resp r;
		e2e_act(&env, bank, "BANK1", ids[i], "reconfirmation", body, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		E2E_ASSERT_JSTR(r.json, "reconfirmation_method", methods[i]);
		E2E_ASSERT_JSTR(r.json, "status", "eligible");
		http_resp_free(&r);
		e2e_get_loan(&env, bank, "BANK1", ids[i], &r);
		E2E_ASSERT_JSTR(r.json, "reconfirmation_method", methods[i]);
		http_resp_free(&r);
		ck_assert_int_eq(events_with_method(ids[i], methods[i]), 1);
	}
	/* none given: null on the loan and in the event */
	struct http_resp r;
	e2e_act(&env, bank, "BANK1", ids[NMETHODS], "reconfirmation", "{}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_ptr_nonnull(e2e_jstr(r.json, "reconfirmed_at"));
	ck_assert(json_is_null(e2e_json_at(r.json, "reconfirmation_method")));
	http_resp_free(&r);
	ck_assert_int_eq(events_with_method(ids[NMETHODS], NULL), 1);
	/* a loan never reconfirmed shows null too */
	approve(bank, "BANK1", "RM-X", 110, mrp_amount(10, 0), false, &r);
	ck_assert(json_is_null(e2e_json_at(r.json, "reconfirmation_method")));
	http_resp_free(&r);
}
END_TEST

START_TEST(test_a_reconfirmation_repeat_with_another_method_is_409_as_the_extra_confirmations)
{
	cooled_loan("RR-1", 120);
	cooled_loan("RR-2", 121);
	await_reconfirmation("RR-1");
	await_reconfirmation("RR-2");
	e2e_act_expect(&env, bank, "BANK1", "RR-1", "reconfirmation", "{\"method\":\"egov\"}", 200);

	/* the same method, or none, is a repeat that answers the loan as it is */
	struct http_resp r;
	e2e_act(&env, bank, "BANK1", "RR-1", "reconfirmation", "{\"method\":\"egov\"}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "reconfirmation_method", "egov");
	http_resp_free(&r);
	e2e_act(&env, bank, "BANK1", "RR-1", "reconfirmation", "{}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "reconfirmation_method", "egov");
	http_resp_free(&r);
	/* another method: 409, as a repeat of the extra confirmation */
	e2e_act(&env, bank, "BANK1", "RR-1", "reconfirmation", "{\"method\":\"branch\"}", NULL, &r);
	E2E_ASSERT_INVALID_STATE(&r, "different_time");
	ck_assert_ptr_nonnull(strstr(e2e_jstr(r.json, "error.message"), "another method"));
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "RR-1", "reconfirmation_recorded"), 1);
	e2e_get_loan(&env, bank, "BANK1", "RR-1", &r);
	E2E_ASSERT_JSTR(r.json, "reconfirmation_method", "egov");
	http_resp_free(&r);

	/* recorded without one: a repeat naming one is another method */
	e2e_act_expect(&env, bank, "BANK1", "RR-2", "reconfirmation", "{}", 200);
	e2e_act(&env, bank, "BANK1", "RR-2", "reconfirmation", "{\"method\":\"lender_app\"}", NULL,
	        &r);
	E2E_ASSERT_INVALID_STATE(&r, "different_time");
	http_resp_free(&r);
	e2e_act_expect(&env, bank, "BANK1", "RR-2", "reconfirmation", "{}", 200);

	/* after the payout a repeat with the method is still 200 */
	e2e_disburse(&env, bank, "BANK1", "RR-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	e2e_act_expect(&env, bank, "BANK1", "RR-1", "reconfirmation", "{\"method\":\"egov\"}", 200);
}
END_TEST

START_TEST(test_a_bad_reconfirmation_method_is_422_naming_method_and_writes_nothing)
{
	cooled_loan("RB-1", 130);
	await_reconfirmation("RB-1");
	static const char *const bodies[] = {"{\"method\":\"fax\"}",  "{\"method\":\"EGOV\"}",
	                                     "{\"method\":\"\"}",     "{\"method\":42}",
	                                     "{\"method\":true}",     "{\"method\":[\"egov\"]}",
	                                     "{\"method\":{\"a\":1}}"};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		struct http_resp r;
		e2e_act(&env, bank, "BANK1", "RB-1", "reconfirmation", bodies[i], NULL, &r);
		E2E_ASSERT_ERROR(&r, 422, "validation_failed", "method");
		http_resp_free(&r);
	}
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "RB-1", "reconfirmation_recorded"), 0);
	struct http_resp r;
	e2e_get_loan(&env, bank, "BANK1", "RB-1", &r);
	E2E_ASSERT_JSTR(r.json, "reconfirmed_at", NULL);
	E2E_ASSERT_JSTR(r.json, "reconfirmation_method", NULL);
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_reconfirmation");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE loan_id = 'RB-1' AND "
	                             "(reconfirmed_at IS NOT NULL OR reconfirmation_method IS NOT "
	                             "NULL)",
	                             NULL),
	                 0);
	/* a good one then counts */
	e2e_act(&env, bank, "BANK1", "RB-1", "reconfirmation", "{\"method\":\"credit_bureau\"}",
	        NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "reconfirmation_method", "credit_bureau");
	http_resp_free(&r);
}
END_TEST

/* A test case of its own daemon's configuration. */
static TCase *with_daemon(Suite *s, const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, stop);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *readings_suite(void)
{
	Suite *s = suite_create("readings");
	TCase *tc = with_daemon(s, "above", start_law);
	tcase_add_test(tc, test_150_mrp_at_a_bank_is_not_cooled_when_every_bound_reads_above);
	tc = with_daemon(s, "bank_from", start_bank_from);
	tcase_add_test(tc, test_150_mrp_at_a_bank_is_cooled_8h_when_its_bound_reads_from);
	tc = with_daemon(s, "all_from", start_law_from);
	tcase_add_test(tc, test_every_bound_read_from_puts_its_amount_in_the_band_above);
	tc = with_daemon(s, "card_from", start_card_from);
	tcase_add_test(tc, test_kz_card_cools_150_mrp_for_24h_when_its_bound_reads_from);
	tc = tcase_create("shown");
	tcase_add_test(tc, test_check_config_and_policy_show_name_each_bounds_reading);
	suite_add_tcase(s, tc);
	tc = with_daemon(s, "reconfirmation_method", start_short);
	tcase_add_test(tc, test_each_reconfirmation_method_is_recorded_and_answered);
	tcase_add_test(
	    tc, test_a_reconfirmation_repeat_with_another_method_is_409_as_the_extra_confirmations);
	tcase_add_test(tc,
	               test_a_bad_reconfirmation_method_is_422_naming_method_and_writes_nothing);
	return s;
}

CD_CHECK_MAIN(readings_suite)

/*
 * Profile kz-2025-09 end to end (CONTRACT.md, "Policy profiles";
 * REGULATION.md, "Profile kz-2025-09"): the real coolingd with the law's
 * bands shortened to seconds, walking each path over HTTP: a bank loan in
 * the 8 h band and in the 24 h band, an MFO loan over 75 MRP, each
 * exemption, the day's amount that moves a loan into a higher band (and what
 * it does not count), reconfirmation too early and in time, the age rule,
 * the in-person rule for banks and MFOs, and dozens of concurrent approvals
 * of one borrower on one daemon and on two, whose tiers are those of the
 * same approvals made one after another.
 *
 * The amounts assume the MRP of 2026 (4,325 tenge: 75 / 150 / 255 MRP are
 * 324,375 / 648,750 / 1,102,875 tenge) or of 2025 (3,932: 294,900 /
 * 589,800 / 1,002,660), whichever is in force today: each amount below is
 * on the same side of the boundaries in both years.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/httpc.h"

#define BANK_PERIOD 2
#define LONG_PERIOD 4
#define MFO_PERIOD  3

static const char *const daemon_env[] = {
    "COOLINGD_POLICY_PROFILE=kz-2025-09",  "COOLINGD_POLICY_BANK_PERIOD=2s",
    "COOLINGD_POLICY_BANK_LONG_PERIOD=4s", "COOLINGD_POLICY_MFO_PERIOD=3s",
    "COOLINGD_POLICY_MAX_BACKDATE=1s",     NULL};
/* the same, adding up every lender's loans of the day */
static const char *const daemon_all_env[] = {"COOLINGD_POLICY_PROFILE=kz-2025-09",
                                             "COOLINGD_POLICY_BANK_PERIOD=2s",
                                             "COOLINGD_POLICY_BANK_LONG_PERIOD=4s",
                                             "COOLINGD_POLICY_MFO_PERIOD=3s",
                                             "COOLINGD_POLICY_MAX_BACKDATE=1s",
                                             "COOLINGD_POLICY_AGGREGATION=all",
                                             NULL};

static struct e2e_env env;
static char *bank;  /* lender BANK1 (bank) */
static char *bank2; /* lender BANK2 (bank) */
static char *mfo;   /* lender MFO1 (mfo) */

static void setup(void)
{
	e2e_start(&env, "law", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	e2e_lender_add(&env, "BANK2", "bank");
	e2e_lender_add(&env, "MFO1", "mfo");
	bank = e2e_client_add(&env, "core1", "lender", "BANK1");
	bank2 = e2e_client_add(&env, "core2", "lender", "BANK2");
	mfo = e2e_client_add(&env, "mfo1", "lender", "MFO1");
}

static void teardown(void)
{
	free(bank);
	free(bank2);
	free(mfo);
	e2e_stop(&env);
}

/* A valid IIN of someone who turns `age` on 1 January of this year (so is
 * that old all year), serial from seed. */
static void iin_of_age(char out[13], int age, unsigned seed)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	int year = tm.tm_year + 1900 - age;
	char century = year >= 2000 ? '5' : '3';
	for (unsigned serial = seed * 10; serial < seed * 10 + 10000; serial++) {
		snprintf(out, 13, "%02d0101%c%04u", year % 100, century, serial % 10000);
		int sum = 0;
		static const int w1[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
		static const int w2[11] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2};
		for (int i = 0; i < 11; i++)
			sum += (out[i] - '0') * w1[i];
		int c = sum % 11;
		if (c == 10) {
			sum = 0;
			for (int i = 0; i < 11; i++)
				sum += (out[i] - '0') * w2[i];
			c = sum % 11;
		}
		if (c == 10)
			continue;
		out[11] = (char)('0' + c);
		out[12] = '\0';
		return;
	}
	ck_abort_msg("no IIN for age %d", age);
}

/* Approves a loan of IIN seed for a lender: amount, channel, product and the
 * rest as given; the answer in *out. */
static void approve(const char *token, const char *lender, const char *loan_id, const char *iin,
                    const char *amount, const char *channel, bool secured, bool first_time,
                    const char *product, struct http_resp *out)
{
	char extra[64] = "";
	if (product != NULL)
		snprintf(extra, sizeof extra, ",\"product\":\"%s\"", product);
	struct e2e_loan o = {.iin = iin,
	                     .amount = amount,
	                     .channel = channel,
	                     .secured = secured,
	                     .first_time =
	                         first_time ? E2E_FIRST_TIME_BORROWER : E2E_REPEAT_BORROWER,
	                     .extra = extra[0] ? extra : NULL};
	e2e_approve(&env, token, lender, loan_id, &o, out);
}

static long long jint(json_t *root, const char *path)
{
	json_t *v = e2e_json_at(root, path);
	ck_assert_msg(json_is_integer(v), "%s: not an integer", path);
	return json_integer_value(v);
}

static bool jbool(json_t *root, const char *path)
{
	json_t *v = e2e_json_at(root, path);
	ck_assert_msg(json_is_boolean(v), "%s: not a boolean", path);
	return json_is_true(v);
}

START_TEST(test_bank_loan_in_the_8h_band_waits_then_needs_reconfirmation)
{
	char iin[13];
	iin_of_age(iin, 40, 1);
	struct http_resp r;
	approve(bank, "BANK1", "B8-1", iin, "700000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "policy", "kz-2025-09");
	E2E_ASSERT_JSTR(r.json, "rule", "bank_short");
	E2E_ASSERT_JSTR(r.json, "lender_kind", "bank");
	E2E_ASSERT_JSTR(r.json, "product", "consumer");
	E2E_ASSERT_JSTR(r.json, "exemption", NULL);
	E2E_ASSERT_JSTR(r.json, "aggregated_amount", "700000.00");
	ck_assert_int_eq(jint(r.json, "cooling_period_seconds"), BANK_PERIOD);
	ck_assert_int_eq(jint(r.json, "borrower_age"), 40);
	ck_assert(jbool(r.json, "reconfirmation_required"));
	ck_assert(!jbool(r.json, "extra_confirmation_required"));
	http_resp_free(&r);

	/* too early: before consent, and during the period */
	e2e_act(&env, bank, "BANK1", "B8-1", "reconfirmation", "{}", NULL, &r);
	E2E_ASSERT_INVALID_STATE(&r, "cooling_not_ended");
	http_resp_free(&r);
	e2e_consent(&env, bank, "BANK1", "B8-1");
	e2e_act(&env, bank, "BANK1", "B8-1", "reconfirmation", "{}", NULL, &r);
	E2E_ASSERT_INVALID_STATE(&r, "cooling_not_ended");
	ck_assert_ptr_nonnull(strstr(e2e_jstr(r.json, "error.message"), "has not ended"));
	http_resp_free(&r);
	/* while the period runs, cooling stands alone, with Retry-After */
	e2e_disburse(&env, bank, "BANK1", "B8-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   NULL);
	ck_assert(e2e_retry_after(&r) >= 1);
	ck_assert_ptr_nonnull(e2e_jstr(r.json, "earliest_disbursement_at"));
	http_resp_free(&r);

	test_sleep_ms(BANK_PERIOD * 1000 + 300);
	e2e_get_loan(&env, bank, "BANK1", "B8-1", &r);
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_reconfirmation");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "reconfirmation_missing",
	                   NULL);
	E2E_ASSERT_JSTR(r.json, "earliest_disbursement_at", NULL);
	http_resp_free(&r);
	e2e_disburse(&env, bank, "BANK1", "B8-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	ck_assert_int_eq(e2e_retry_after(&r), -1);
	http_resp_free(&r);

	/* a reconfirmed_at before the period's end is refused; in time it counts */
	char early[32];
	e2e_ts_from_now(early, -(BANK_PERIOD + 1));
	char body[96];
	snprintf(body, sizeof body, "{\"reconfirmed_at\":\"%s\"}", early);
	e2e_act(&env, bank, "BANK1", "B8-1", "reconfirmation", body, NULL, &r);
	ck_assert_msg(r.status == 409 || r.status == 422, "%d %s", r.status, r.body);
	http_resp_free(&r);
	e2e_act(&env, bank, "BANK1", "B8-1", "reconfirmation", "{}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_ptr_nonnull(e2e_jstr(r.json, "reconfirmed_at"));
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	char at[64];
	snprintf(at, sizeof at, "%s", e2e_jstr(r.json, "reconfirmed_at"));
	http_resp_free(&r);
	/* a repeat without a time or with the same is 200, another 409 */
	e2e_act_expect(&env, bank, "BANK1", "B8-1", "reconfirmation", "{}", 200);
	snprintf(body, sizeof body, "{\"reconfirmed_at\":\"%s\"}", at);
	e2e_act_expect(&env, bank, "BANK1", "B8-1", "reconfirmation", body, 200);
	char later[32];
	e2e_ts_from_now(later, 0);
	snprintf(body, sizeof body, "{\"reconfirmed_at\":\"%s\"}", later);
	e2e_act(&env, bank, "BANK1", "B8-1", "reconfirmation", body, NULL, &r);
	E2E_ASSERT_INVALID_STATE(&r, "different_time");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "B8-1", "reconfirmation_recorded"), 1);

	e2e_disburse(&env, bank, "BANK1", "B8-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	/* after disbursement a repeat is still 200 */
	e2e_act_expect(&env, bank, "BANK1", "B8-1", "reconfirmation", "{}", 200);
}
END_TEST

START_TEST(test_bank_loan_above_255_mrp_is_in_the_24h_band)
{
	char iin[13];
	iin_of_age(iin, 40, 2);
	struct http_resp r;
	approve(bank, "BANK1", "B24-1", iin, "1200000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "rule", "bank_long");
	ck_assert_int_eq(jint(r.json, "cooling_period_seconds"), LONG_PERIOD);
	http_resp_free(&r);
	/* a bank's 600,000 (below 150 MRP) is not cooled */
	iin_of_age(iin, 40, 3);
	approve(bank, "BANK1", "B0-1", iin, "580000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "rule", NULL);
	ck_assert(!jbool(r.json, "cooling_required"));
	ck_assert(!jbool(r.json, "reconfirmation_required"));
	http_resp_free(&r);
	/* so it takes no reconfirmation */
	e2e_consent(&env, bank, "BANK1", "B0-1");
	e2e_act(&env, bank, "BANK1", "B0-1", "reconfirmation", "{}", NULL, &r);
	E2E_ASSERT_INVALID_STATE(&r, "not_required");
	http_resp_free(&r);
}
END_TEST

START_TEST(test_mfo_loan_above_75_mrp_is_cooled_24h)
{
	char iin[13];
	iin_of_age(iin, 40, 4);
	struct http_resp r;
	approve(mfo, "MFO1", "M-1", iin, "400000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "rule", "mfo");
	E2E_ASSERT_JSTR(r.json, "lender_kind", "mfo");
	ck_assert_int_eq(jint(r.json, "cooling_period_seconds"), MFO_PERIOD);
	http_resp_free(&r);
	iin_of_age(iin, 40, 5);
	approve(mfo, "MFO1", "M-2", iin, "290000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "rule", NULL);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_each_exemption_is_named_and_not_cooled)
{
	static const struct {
		const char *loan_id, *channel, *product, *want;
		bool secured;
	} cases[] = {
	    {"EX-BR", "branch", NULL, "branch", false},
	    {"EX-SEC", NULL, NULL, "secured", true},
	    {"EX-GOODS", NULL, "goods", "goods", false},
	    {"EX-REFI", NULL, "refinancing", "refinancing", false},
	    {"EX-CARD", NULL, "card_limit", "card_limit", false},
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char iin[13];
		iin_of_age(iin, 40, 10 + i);
		struct http_resp r;
		/* card_limit: within 150 MRP; the others far above every band */
		approve(bank, "BANK1", cases[i].loan_id, iin,
		        strcmp(cases[i].want, "card_limit") == 0 ? "580000.00" : "2000000.00",
		        cases[i].channel, cases[i].secured, false, cases[i].product, &r);
		E2E_ASSERT_JSTR(r.json, "exemption", cases[i].want);
		E2E_ASSERT_JSTR(r.json, "rule", NULL);
		ck_assert(!jbool(r.json, "cooling_required"));
		ck_assert(!jbool(r.json, "reconfirmation_required"));
		http_resp_free(&r);
	}
	/* a card-limit loan above 150 MRP is cooled */
	char iin[13];
	iin_of_age(iin, 40, 20);
	struct http_resp r;
	approve(bank, "BANK1", "EX-CARD-BIG", iin, "700000.00", NULL, false, false, "card_limit",
	        &r);
	E2E_ASSERT_JSTR(r.json, "exemption", NULL);
	E2E_ASSERT_JSTR(r.json, "rule", "bank_short");
	http_resp_free(&r);
	/* another product is refused naming the field */
	char body[256];
	struct e2e_loan o = {.iin = iin, .extra = ",\"product\":\"mortgage\""};
	e2e_approval_body(body, sizeof body, "EX-BAD", &o);
	e2e_post_approval(&env, bank, "BANK1", body, NULL, &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "product");
	http_resp_free(&r);
}
END_TEST

START_TEST(test_the_days_amount_moves_a_loan_into_a_higher_band)
{
	char iin[13];
	iin_of_age(iin, 40, 30);
	struct http_resp r;
	/* each 300,000 alone is below 150 MRP; the third makes 900,000 */
	approve(bank, "BANK1", "AG-1", iin, "300000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "rule", NULL);
	http_resp_free(&r);
	approve(bank, "BANK1", "AG-2", iin, "300000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "aggregated_amount", "600000.00");
	E2E_ASSERT_JSTR(r.json, "rule", NULL);
	http_resp_free(&r);
	/* an exempt loan of the day and another lender's are not counted */
	approve(bank, "BANK1", "AG-G", iin, "500000.00", NULL, false, false, "goods", &r);
	E2E_ASSERT_JSTR(r.json, "aggregated_amount", "1100000.00"); /* its own, computed alike */
	http_resp_free(&r);
	approve(bank2, "BANK2", "AG-O", iin, "300000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "aggregated_amount", "300000.00");
	http_resp_free(&r);
	approve(bank, "BANK1", "AG-3", iin, "300000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "aggregated_amount", "900000.00");
	E2E_ASSERT_JSTR(r.json, "rule", "bank_short");
	http_resp_free(&r);
	/* the decision's evidence: the loans added up, this one included, and the MRP */
	long long listed =
	    e2e_sql_num(&env,
	                "SELECT jsonb_array_length(detail->'day_loans') FROM audit_event "
	                "WHERE loan_id = 'AG-3' AND type = 'approval_recorded' AND detail ? 'mrp'",
	                NULL);
	ck_assert_int_eq(listed, 3);
	/* a cancelled loan of the day no longer counts; the tiers fixed stay */
	e2e_act_expect(&env, bank, "BANK1", "AG-2", "cancellation", "{\"reason\":\"withdrawn\"}",
	               200);
	approve(bank, "BANK1", "AG-4", iin, "300000.00", NULL, false, false, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "aggregated_amount", "900000.00");
	http_resp_free(&r);
	e2e_get_loan(&env, bank, "BANK1", "AG-1", &r);
	E2E_ASSERT_JSTR(r.json, "aggregated_amount", "300000.00");
	E2E_ASSERT_JSTR(r.json, "rule", NULL);
	http_resp_free(&r);

	/* aggregation = all: every lender's loans of the day count */
	struct daemon d2;
	ck_assert_msg(daemon_start(&d2, env.db_url, daemon_all_env), "second coolingd");
	struct e2e_env all = e2e_env_on(&env, d2.port);
	struct e2e_loan o = {.iin = iin, .amount = "100000.00"};
	e2e_approve(&all, bank2, "BANK2", "AG-ALL", &o, &r);
	/* BANK1: 300,000 x 3 (AG-1, AG-3, AG-4), BANK2: 300,000 + this 100,000 */
	E2E_ASSERT_JSTR(r.json, "aggregated_amount", "1300000.00");
	E2E_ASSERT_JSTR(r.json, "rule", "bank_long");
	http_resp_free(&r);
	ck_assert_int_eq(daemon_stop(&d2), 0);
}
END_TEST

START_TEST(test_borrowers_under_21_and_from_55_confirm_once_more)
{
	static const struct {
		int age;
		bool extra;
	} cases[] = {{20, true}, {21, false}, {54, false}, {55, true}};
	for (unsigned i = 0; i < 4; i++) {
		char iin[13], loan_id[16];
		iin_of_age(iin, cases[i].age, 40 + i);
		snprintf(loan_id, sizeof loan_id, "AGE-%d", cases[i].age);
		struct http_resp r;
		approve(bank, "BANK1", loan_id, iin, "700000.00", NULL, false, false, NULL, &r);
		ck_assert_int_eq(jint(r.json, "borrower_age"), cases[i].age);
		ck_assert_msg(jbool(r.json, "extra_confirmation_required") == cases[i].extra,
		              "age %d", cases[i].age);
		http_resp_free(&r);
		if (!cases[i].extra) {
			e2e_act(&env, bank, "BANK1", loan_id, "extra-confirmation",
			        "{\"method\":\"egov\"}", NULL, &r);
			E2E_ASSERT_INVALID_STATE(&r, "not_required");
			http_resp_free(&r);
			continue;
		}
		e2e_consent(&env, bank, "BANK1", loan_id);
		e2e_get_loan(&env, bank, "BANK1", loan_id, &r);
		E2E_ASSERT_JSTR(r.json, "status", "awaiting_extra_confirmation");
		e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers",
		                   "extra_confirmation_missing", "cooling_period_active", NULL);
		E2E_ASSERT_JSTR(r.json, "earliest_disbursement_at", NULL);
		http_resp_free(&r);
		e2e_disburse(&env, bank, "BANK1", loan_id, NULL, &r);
		E2E_ASSERT_STATUS(&r, 409);
		ck_assert_int_eq(e2e_retry_after(&r), -1); /* cooling is not alone */
		http_resp_free(&r);
		e2e_act(&env, bank, "BANK1", loan_id, "extra-confirmation", "{\"method\":\"fax\"}",
		        NULL, &r);
		E2E_ASSERT_ERROR(&r, 422, "validation_failed", "method");
		http_resp_free(&r);
		e2e_act(&env, bank, "BANK1", loan_id, "extra-confirmation", "{}", NULL, &r);
		E2E_ASSERT_ERROR(&r, 422, "validation_failed", "method");
		http_resp_free(&r);
		e2e_act(&env, bank, "BANK1", loan_id, "extra-confirmation", "{\"method\":\"egov\"}",
		        NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		E2E_ASSERT_JSTR(r.json, "extra_confirmation_method", "egov");
		E2E_ASSERT_JSTR(r.json, "status", "cooling");
		http_resp_free(&r);
		e2e_act_expect(&env, bank, "BANK1", loan_id, "extra-confirmation",
		               "{\"method\":\"egov\"}", 200);
		e2e_act(&env, bank, "BANK1", loan_id, "extra-confirmation",
		        "{\"method\":\"branch\"}", NULL, &r);
		E2E_ASSERT_INVALID_STATE(&r, "different_time");
		http_resp_free(&r);
		ck_assert_int_eq(
		    e2e_audit_count(&env, "BANK1", loan_id, "extra_confirmation_recorded"), 1);
	}
}
END_TEST

START_TEST(test_in_person_rule_for_banks_and_mfos)
{
	char iin[13];
	struct http_resp r;
	iin_of_age(iin, 40, 50);
	approve(bank, "BANK1", "IP-B1", iin, "700000.00", NULL, false, true, NULL, &r);
	ck_assert(jbool(r.json, "in_person_required"));
	http_resp_free(&r);
	iin_of_age(iin, 40, 51);
	approve(bank, "BANK1", "IP-B2", iin, "580000.00", NULL, false, true, NULL, &r);
	ck_assert(!jbool(r.json, "in_person_required"));
	http_resp_free(&r);
	/* whether or not the loan is otherwise exempt */
	iin_of_age(iin, 40, 52);
	approve(bank, "BANK1", "IP-B3", iin, "700000.00", NULL, false, true, "goods", &r);
	ck_assert(jbool(r.json, "in_person_required"));
	http_resp_free(&r);
	iin_of_age(iin, 40, 53);
	approve(mfo, "MFO1", "IP-M1", iin, "400000.00", NULL, false, true, NULL, &r);
	ck_assert(jbool(r.json, "in_person_required"));
	http_resp_free(&r);
	iin_of_age(iin, 40, 54);
	approve(mfo, "MFO1", "IP-M2", iin, "290000.00", NULL, false, true, NULL, &r);
	ck_assert(!jbool(r.json, "in_person_required"));
	http_resp_free(&r);
}
END_TEST

/* ---- concurrent approvals of one borrower ---- */

#define APPROVERS 30

struct approver {
	pthread_barrier_t *barrier;
	int port;
	const char *token;
	char body[512];
	int status;
	char rule[16], aggregated[32];
	long long pk;
};

static void *approver_main(void *arg)
{
	struct approver *a = arg;
	struct http_resp resp;
	pthread_barrier_wait(a->barrier);
	if (http_req(a->port, "POST", "/v1/lenders/BANK1/loans", a->token, a->body, NULL, &resp) !=
	    0)
		return NULL;
	a->status = resp.status;
	const char *rule = e2e_jstr(resp.json, "rule");
	snprintf(a->rule, sizeof a->rule, "%s", rule ? rule : "-");
	const char *agg = e2e_jstr(resp.json, "aggregated_amount");
	snprintf(a->aggregated, sizeof a->aggregated, "%s", agg ? agg : "");
	http_resp_free(&resp);
	return NULL;
}

/* Dozens of approvals of one borrower at once (on port2 for every other one
 * when not 0), then the same approvals one after another for another
 * borrower in the order the first were recorded: each tier and day's amount
 * must be the same. */
static void concurrent_approvals_equal_sequential(const char *prefix, unsigned seed, int port2)
{
	static struct approver as[APPROVERS];
	char iin[13], iin_seq[13];
	iin_of_age(iin, 40, seed);
	iin_of_age(iin_seq, 40, seed + 1);
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, APPROVERS);
	pthread_t th[APPROVERS];
	for (int i = 0; i < APPROVERS; i++) {
		memset(&as[i], 0, sizeof as[i]);
		as[i].barrier = &barrier;
		as[i].port = port2 != 0 && i % 2 ? port2 : env.d.port;
		as[i].token = bank;
		char loan_id[32], amount[16];
		snprintf(loan_id, sizeof loan_id, "%s-%02d", prefix, i);
		/* 100,000 each: the day crosses 150 and then 255 MRP */
		snprintf(amount, sizeof amount, "%d0000.00", 10 + i % 3);
		struct e2e_loan o = {.iin = iin, .amount = amount};
		e2e_approval_body(as[i].body, sizeof as[i].body, loan_id, &o);
		ck_assert_int_eq(pthread_create(&th[i], NULL, approver_main, &as[i]), 0);
	}
	for (int i = 0; i < APPROVERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < APPROVERS; i++)
		ck_assert_msg(as[i].status == 201, "%s approver %d: %d", prefix, i, as[i].status);

	/* the order in which they were recorded (the row ids, taken under the
	 * day's lock), replayed one after another */
	int bands = 0;
	char last_rule[16] = "";
	for (int k = 0; k < APPROVERS; k++) {
		char sql[256];
		snprintf(sql, sizeof sql,
		         "SELECT substr(loan_id, %zu)::int FROM loan WHERE borrower_iin = $1 "
		         "ORDER BY id OFFSET %d LIMIT 1",
		         strlen(prefix) + 2, k);
		int i = (int)e2e_sql_num(&env, sql, iin, NULL);
		char loan_id[32], amount[16];
		snprintf(loan_id, sizeof loan_id, "%s-SEQ-%02d", prefix, i);
		snprintf(amount, sizeof amount, "%d0000.00", 10 + i % 3);
		struct e2e_loan o = {.iin = iin_seq, .amount = amount};
		struct http_resp r;
		e2e_approve(&env, bank, "BANK1", loan_id, &o, &r);
		const char *rule = e2e_jstr(r.json, "rule");
		ck_assert_str_eq(as[i].rule, rule ? rule : "-");
		E2E_ASSERT_JSTR(r.json, "aggregated_amount", as[i].aggregated);
		if (strcmp(last_rule, as[i].rule) != 0)
			bands++;
		snprintf(last_rule, sizeof last_rule, "%s", as[i].rule);
		http_resp_free(&r);
	}
	ck_assert_int_eq(bands, 3); /* none, bank_short, bank_long: each was reached */
}

START_TEST(test_concurrent_approvals_of_one_borrower_on_one_daemon_are_serialised)
{
	concurrent_approvals_equal_sequential("C1", 60, 0);
}
END_TEST

START_TEST(test_concurrent_approvals_of_one_borrower_on_two_daemons_are_serialised)
{
	struct daemon d2;
	ck_assert_msg(daemon_start(&d2, env.db_url, daemon_env), "second coolingd did not start");
	concurrent_approvals_equal_sequential("C2", 70, d2.port);
	ck_assert_int_eq(daemon_stop(&d2), 0);
}
END_TEST

static Suite *law_suite(void)
{
	Suite *s = suite_create("law");
	TCase *tc = tcase_create("kz-2025-09");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bank_loan_in_the_8h_band_waits_then_needs_reconfirmation);
	tcase_add_test(tc, test_bank_loan_above_255_mrp_is_in_the_24h_band);
	tcase_add_test(tc, test_mfo_loan_above_75_mrp_is_cooled_24h);
	tcase_add_test(tc, test_each_exemption_is_named_and_not_cooled);
	tcase_add_test(tc, test_the_days_amount_moves_a_loan_into_a_higher_band);
	tcase_add_test(tc, test_borrowers_under_21_and_from_55_confirm_once_more);
	tcase_add_test(tc, test_in_person_rule_for_banks_and_mfos);
	tcase_add_test(tc, test_concurrent_approvals_of_one_borrower_on_one_daemon_are_serialised);
	tcase_add_test(tc, test_concurrent_approvals_of_one_borrower_on_two_daemons_are_serialised);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(law_suite)

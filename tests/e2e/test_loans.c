/*
 * End-to-end tests of the loan life cycle (CONTRACT.md, "HTTP API"), against
 * the real coolingd and PostgreSQL: recording an approval (new, retry,
 * conflict), the threshold in MRP by the Almaty local date, branch loans,
 * first-time borrowers, the in-person rule, consent and the cooling period,
 * the disbursement gate, cancellation, repeated acts, reads, and the audit
 * event that every act and every disbursement decision writes (and that a
 * refused write does not).
 *
 * One database and one daemon for the whole program, with a 2 s cooling
 * period and a max_backdate of 5000 days so that approvals of earlier years
 * are accepted. Every test uses its own loan_ids and borrower IINs.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "support/e2e.h"

#define USEC 1000000LL

static struct e2e_env env;
static char *tok1;     /* lender client of BANK1 ("core1") */
static char *tok2;     /* lender client of BANK2 ("core2") */
static char *tok_comp; /* compliance */

static const char *const daemon_env[] = {"COOLINGD_POLICY_COOLING_PERIOD=2s",
                                         "COOLINGD_POLICY_MAX_BACKDATE=5000d", NULL};

static void setup(void)
{
	e2e_start(&env, "e2e_loans", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	e2e_lender_add(&env, "BANK2", "mfo");
	tok1 = e2e_client_add(&env, "core1", "lender", "BANK1");
	tok2 = e2e_client_add(&env, "core2", "lender", "BANK2");
	tok_comp = e2e_client_add(&env, "comp1", "compliance", NULL);
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok1);
	free(tok2);
	free(tok_comp);
}

/* ---- helpers ---- */

/* An approval body with first_time_borrower left out; extra is more
 * members, each starting with ',' (or ""). */
static char *approval_body(const char *loan_id, const char *iin, const char *amount,
                           const char *channel, bool secured, const char *extra)
{
	static char buf[1024];
	e2e_approval_body(buf, sizeof buf, loan_id,
	                  &(struct e2e_loan){.iin = iin,
	                                     .amount = amount,
	                                     .channel = channel,
	                                     .secured = secured,
	                                     .first_time = E2E_FIRST_TIME_UNSTATED,
	                                     .extra = extra});
	return buf;
}

static void approve(const char *token, const char *lender, const char *body, struct http_resp *out)
{
	e2e_post_approval(&env, token, lender, body, NULL, out);
}

/* Approves a new loan of BANK1 and asserts 201. */
static void approve_new(const char *body, struct http_resp *out)
{
	approve(tok1, "BANK1", body, out);
	E2E_ASSERT_STATUS(out, 201);
}

/* POST /v1/lenders/BANK1/loans/ID/ACT (ACT NULL: GET the loan). */
static void act(const char *loan_id, const char *what, const char *body, struct http_resp *out)
{
	if (what == NULL)
		e2e_get_loan(&env, tok1, "BANK1", loan_id, out);
	else
		e2e_act(&env, tok1, "BANK1", loan_id, what, body, NULL, out);
}

static bool jbool(json_t *root, const char *path)
{
	json_t *v = e2e_json_at(root, path);
	ck_assert_msg(json_is_boolean(v), "%s is not a boolean", path);
	return json_is_true(v);
}

static long long jint(json_t *root, const char *path)
{
	json_t *v = e2e_json_at(root, path);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", path);
	return json_integer_value(v);
}

static bool jnull(json_t *root, const char *path)
{
	json_t *v = e2e_json_at(root, path);
	return v != NULL && json_is_null(v);
}

/* A timestamp of the answer, checked to be UTC with Z. */
static int64_t jts(json_t *root, const char *path)
{
	const char *s = e2e_jstr(root, path);
	ck_assert_msg(e2e_is_utc_z(s), "%s: not a UTC timestamp with Z: %s", path,
	              s ? s : "(none)");
	return e2e_ts_parse(s);
}

/* Sleeps until the wall clock (= the database's, same machine) has passed
 * at_us, plus a margin; never longer than 6 s. */
static void sleep_until(int64_t at_us)
{
	int64_t wait = at_us - e2e_wall_us() + 100000;
	ck_assert_msg(wait < 6 * USEC, "refusing to wait %lld us", (long long)wait);
	if (wait > 0)
		usleep((useconds_t)wait);
}

static void format_ts(char out[32], int64_t us)
{
	time_t t = (time_t)(us / USEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static long long audit_all(void)
{
	return e2e_sql_num(&env, "SELECT count(*) FROM audit_event WHERE " E2E_REQUEST_EVENT, NULL);
}

static long long loan_count(void)
{
	return e2e_sql_num(&env, "SELECT count(*) FROM loan", NULL);
}

/* ---- recording an approval ---- */

START_TEST(test_approval_new_is_201_same_again_200_other_fields_409_loan_exists)
{
	char iin[13], other_iin[13];
	e2e_iin(iin, 101);
	e2e_iin(other_iin, 102);
	struct http_resp r, r2;

	approve(tok1, "BANK1", approval_body("A1", iin, "600000", "online", false, ""), &r);
	E2E_ASSERT_STATUS(&r, 201);
	const char *ct = http_header(&r, "Content-Type");
	ck_assert_msg(ct && strncmp(ct, "application/json", 16) == 0, "Content-Type %s", ct);
	E2E_ASSERT_JSTR(r.json, "lender", "BANK1");
	E2E_ASSERT_JSTR(r.json, "loan_id", "A1");
	E2E_ASSERT_JSTR(r.json, "borrower_iin", iin);
	E2E_ASSERT_JSTR(r.json, "amount", "600000.00");
	E2E_ASSERT_JSTR(r.json, "currency", "KZT");
	E2E_ASSERT_JSTR(r.json, "channel", "online");
	ck_assert(!jbool(r.json, "secured"));
	ck_assert(jbool(r.json, "first_time_borrower"));
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_consent");
	ck_assert(!jbool(r.json, "cooling_required"));
	ck_assert(jnull(r.json, "cooling_period_seconds"));
	E2E_ASSERT_JSTR(r.json, "threshold_amount", "648750.00");
	ck_assert_int_eq(jint(r.json, "mrp"), 4325);
	E2E_ASSERT_JSTR(r.json, "policy", "kz-card");
	int64_t approved = jts(r.json, "approved_at");
	ck_assert_msg(llabs(approved - e2e_wall_us()) < 5 * USEC, "approved_at is not now");
	ck_assert(jnull(r.json, "consent_at"));
	ck_assert(jnull(r.json, "cooling_ends_at"));
	ck_assert(jbool(r.json, "in_person_required"));
	ck_assert(jnull(r.json, "in_person_verified_at"));
	ck_assert(jnull(r.json, "disbursed_at"));
	ck_assert(jnull(r.json, "cancelled_at"));
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "consent_missing",
	                   "in_person_verification_missing", NULL);
	ck_assert(jnull(r.json, "earliest_disbursement_at"));

	/* A retry with the same fields: 200 and the same loan. */
	approve(tok1, "BANK1", approval_body("A1", iin, "600000", "online", false, ""), &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	ck_assert_msg(json_equal(r.json, r2.json), "retry answered another loan: %s", r2.body);
	http_resp_free(&r2);

	/* The same amount written differently is the same amount. */
	approve(tok1, "BANK1", approval_body("A1", iin, "600000.00", "online", false, ""), &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	ck_assert(json_equal(r.json, r2.json));
	http_resp_free(&r2);

	/* approved_at stated as the recorded one: still the same facts. */
	char extra[128];
	snprintf(extra, sizeof extra, ",\"approved_at\":\"%s\"", e2e_jstr(r.json, "approved_at"));
	approve(tok1, "BANK1", approval_body("A1", iin, "600000", "online", false, extra), &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	ck_assert(json_equal(r.json, r2.json));
	http_resp_free(&r2);

	/* Other facts under the same loan_id: 409 loan_exists, nothing changes. */
	approve(tok1, "BANK1", approval_body("A1", iin, "600000.01", "online", false, ""), &r2);
	E2E_ASSERT_ERROR(&r2, 409, "loan_exists", NULL);
	http_resp_free(&r2);
	approve(tok1, "BANK1", approval_body("A1", other_iin, "600000", "online", false, ""), &r2);
	E2E_ASSERT_ERROR(&r2, 409, "loan_exists", NULL);
	http_resp_free(&r2);
	approve(tok1, "BANK1", approval_body("A1", iin, "600000", "branch", false, ""), &r2);
	E2E_ASSERT_ERROR(&r2, 409, "loan_exists", NULL);
	http_resp_free(&r2);
	approve(tok1, "BANK1", approval_body("A1", iin, "600000", "online", true, ""), &r2);
	E2E_ASSERT_ERROR(&r2, 409, "loan_exists", NULL);
	http_resp_free(&r2);
	approve(tok1, "BANK1",
	        approval_body("A1", iin, "600000", "online", false,
	                      ",\"approved_at\":\"2026-01-05T10:00:00+05:00\""),
	        &r2);
	E2E_ASSERT_ERROR(&r2, 409, "loan_exists", NULL);
	http_resp_free(&r2);

	act("A1", NULL, NULL, &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	ck_assert_msg(json_equal(r.json, r2.json), "the loan changed: %s", r2.body);
	http_resp_free(&r2);

	/* The same loan_id at another lender is another loan. */
	approve(tok2, "BANK2", approval_body("A1", iin, "100", "online", true, ""), &r2);
	E2E_ASSERT_STATUS(&r2, 201);
	E2E_ASSERT_JSTR(r2.json, "lender", "BANK2");
	http_resp_free(&r2);

	/* One approval, one audit event, by the client that sent it. */
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "A1", NULL), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "A1", "approval_recorded"), 1);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE lender_id = 'BANK1' "
	                             "AND loan_id = 'A1' AND actor = 'core1'",
	                             NULL),
	                 1);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_approval_retry_without_optional_fields_matches_after_consent)
{
	char iin[13], consent[32], extra[96];
	e2e_iin(iin, 103);
	struct http_resp r;
	approve_new(approval_body("A2", iin, "1000.00", "online", true, ""), &r);
	http_resp_free(&r);
	act("A2", "consent", "{}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	snprintf(consent, sizeof consent, "%s", e2e_jstr(r.json, "consent_at"));
	http_resp_free(&r);

	/* The retry of the first request (no consent_at) is the same loan. */
	approve(tok1, "BANK1", approval_body("A2", iin, "1000.00", "online", true, ""), &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "consent_at", consent);
	http_resp_free(&r);
	/* first_time_borrower omitted: not compared either. */
	approve(tok1, "BANK1", approval_body("A2", iin, "1000.00", "online", true, ""), &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	/* A consent_at other than the recorded one is another fact. */
	snprintf(extra, sizeof extra, ",\"consent_at\":\"2026-01-05T10:00:00Z\"");
	approve(tok1, "BANK1", approval_body("A2", iin, "1000.00", "online", true, extra), &r);
	E2E_ASSERT_ERROR(&r, 409, "loan_exists", NULL);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "A2", "approval_recorded"), 1);
}
END_TEST

START_TEST(test_timestamps_are_answered_in_utc_with_z)
{
	char iin[13];
	e2e_iin(iin, 104);
	struct http_resp r;
	approve_new(approval_body("TZ-1", iin, "1000.00", "online", true,
	                          ",\"approved_at\":\"2025-06-15T10:00:00.5+05:00\","
	                          "\"consent_at\":\"2025-06-15T01:30:00-03:30\""),
	            &r);
	E2E_ASSERT_JSTR(r.json, "approved_at", "2025-06-15T05:00:00.500000Z");
	E2E_ASSERT_JSTR(r.json, "consent_at", "2025-06-15T05:00:00Z");
	/* Now-based times carry microseconds or none, always with Z. */
	jts(r.json, "earliest_disbursement_at");
	http_resp_free(&r);
	act("TZ-1", "cancellation", "{\"reason\":\"x\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	jts(r.json, "cancelled_at");
	http_resp_free(&r);
}
END_TEST

START_TEST(test_status_is_named_by_the_first_blocker)
{
	char iin[13], approved[32], consent[32], extra[160];
	e2e_iin(iin, 105);
	struct http_resp r;
	int64_t now = e2e_wall_us();
	format_ts(approved, now - 600 * USEC);
	format_ts(consent, now - 590 * USEC);
	snprintf(extra, sizeof extra, ",\"approved_at\":\"%s\",\"consent_at\":\"%s\"", approved,
	         consent);
	/* Cooled, first-time, unsecured, consent 10 minutes ago: only the
	 * visit is missing. */
	approve_new(approval_body("ST-1", iin, "700000.00", "online", false, extra), &r);
	ck_assert(jbool(r.json, "cooling_required"));
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_in_person");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers",
	                   "in_person_verification_missing", NULL);
	ck_assert(jnull(r.json, "earliest_disbursement_at"));
	http_resp_free(&r);
	act("ST-1", "disbursement", "{}", &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers",
	                   "in_person_verification_missing", NULL);
	ck_assert(jnull(r.json, "earliest_disbursement_at"));
	ck_assert_msg(http_header(&r, "Retry-After") == NULL, "Retry-After with a visit missing");
	http_resp_free(&r);
	act("ST-1", "in-person-verification", "{\"branch_id\":\"B1\",\"officer_id\":\"O1\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", NULL);
	int64_t earliest = jts(r.json, "earliest_disbursement_at");
	ck_assert_msg(llabs(earliest - e2e_wall_us()) < 5 * USEC,
	              "earliest_disbursement_at not now");
	http_resp_free(&r);
}
END_TEST

/* ---- the threshold ---- */

START_TEST(test_online_at_150_mrp_2026_not_cooled_one_tiyn_more_cooled)
{
	char iin[13];
	e2e_iin(iin, 201);
	struct http_resp r;

	approve_new(approval_body("T26-EQ", iin, "648750.00", "online", false, ""), &r);
	ck_assert_int_eq(jint(r.json, "mrp"), 4325);
	E2E_ASSERT_JSTR(r.json, "threshold_amount", "648750.00");
	ck_assert(!jbool(r.json, "cooling_required"));
	ck_assert(jnull(r.json, "cooling_period_seconds"));
	http_resp_free(&r);

	approve_new(approval_body("T26-UP", iin, "648750.01", "online", false, ""), &r);
	ck_assert_int_eq(jint(r.json, "mrp"), 4325);
	E2E_ASSERT_JSTR(r.json, "threshold_amount", "648750.00");
	E2E_ASSERT_JSTR(r.json, "amount", "648750.01");
	ck_assert(jbool(r.json, "cooling_required"));
	ck_assert_int_eq(jint(r.json, "cooling_period_seconds"), 2);
	E2E_ASSERT_JSTR(r.json, "policy", "kz-card");
	/* Without consent the cooling has not started. */
	ck_assert(jnull(r.json, "cooling_ends_at"));
	http_resp_free(&r);
}
END_TEST

START_TEST(test_online_at_150_mrp_2025_not_cooled_one_tiyn_more_cooled)
{
	char iin[13];
	e2e_iin(iin, 202);
	struct http_resp r;
	const char *at = ",\"approved_at\":\"2025-06-15T10:00:00+05:00\"";

	approve_new(approval_body("T25-EQ", iin, "589800.00", "online", false, at), &r);
	E2E_ASSERT_JSTR(r.json, "approved_at", "2025-06-15T05:00:00Z");
	ck_assert_int_eq(jint(r.json, "mrp"), 3932);
	E2E_ASSERT_JSTR(r.json, "threshold_amount", "589800.00");
	ck_assert(!jbool(r.json, "cooling_required"));
	http_resp_free(&r);

	approve_new(approval_body("T25-UP", iin, "589800.01", "online", false, at), &r);
	ck_assert_int_eq(jint(r.json, "mrp"), 3932);
	E2E_ASSERT_JSTR(r.json, "threshold_amount", "589800.00");
	ck_assert(jbool(r.json, "cooling_required"));
	ck_assert_int_eq(jint(r.json, "cooling_period_seconds"), 2);
	http_resp_free(&r);
}
END_TEST

/* 589800.01 is cooled under the 2025 MRP (threshold 589800.00) and not under
 * the 2026 one (648750.00): the MRP is the one of the Almaty local date. */
START_TEST(test_mrp_is_that_of_the_almaty_local_date_of_approval)
{
	static const struct {
		const char *approved_at, *utc;
		int mrp;
	} cases[] = {
	    /* UTC+5 since 2024-03-01 */
	    {"2025-12-31T18:59:59Z", "2025-12-31T18:59:59Z", 3932},
	    {"2025-12-31T23:59:59+05:00", "2025-12-31T18:59:59Z", 3932},
	    {"2025-12-31T19:00:00Z", "2025-12-31T19:00:00Z", 4325},
	    {"2025-12-31T19:30:00Z", "2025-12-31T19:30:00Z", 4325},
	    {"2026-01-01T00:30:00+05:00", "2025-12-31T19:30:00Z", 4325},
	    {"2025-01-01T03:00:00+08:00", "2024-12-31T19:00:00Z", 3932},
	    {"2024-12-31T18:59:59Z", "2024-12-31T18:59:59Z", 3692},
	    /* UTC+6 before 2024-03-01 */
	    {"2023-12-31T17:59:59Z", "2023-12-31T17:59:59Z", 3450},
	    {"2023-12-31T18:00:00Z", "2023-12-31T18:00:00Z", 3692},
	    {"2023-12-31T18:30:00Z", "2023-12-31T18:30:00Z", 3692},
	};
	char iin[13];
	e2e_iin(iin, 203);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char id[32], extra[96];
		struct http_resp r;
		snprintf(id, sizeof id, "MRP-%zu", i);
		snprintf(extra, sizeof extra, ",\"approved_at\":\"%s\"", cases[i].approved_at);
		approve(tok1, "BANK1", approval_body(id, iin, "589800.01", "online", false, extra),
		        &r);
		ck_assert_msg(r.status == 201, "%s: %d %s", cases[i].approved_at, r.status, r.body);
		E2E_ASSERT_JSTR(r.json, "approved_at", cases[i].utc);
		ck_assert_msg(jint(r.json, "mrp") == cases[i].mrp, "%s: mrp %lld, expected %d",
		              cases[i].approved_at, jint(r.json, "mrp"), cases[i].mrp);
		char threshold[32];
		snprintf(threshold, sizeof threshold, "%d.00", cases[i].mrp * 150);
		E2E_ASSERT_JSTR(r.json, "threshold_amount", threshold);
		ck_assert_msg(jbool(r.json, "cooling_required") == (cases[i].mrp * 150 < 589801),
		              "%s: cooling_required wrong", cases[i].approved_at);
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_branch_loan_above_threshold_not_cooled_and_verified_at_approval)
{
	char iin[13];
	e2e_iin(iin, 204);
	struct http_resp r, d;

	approve_new(approval_body("BR-1", iin, "5000000.00", "branch", false,
	                          ",\"first_time_borrower\":true"),
	            &r);
	E2E_ASSERT_JSTR(r.json, "channel", "branch");
	ck_assert(!jbool(r.json, "cooling_required"));
	ck_assert(jnull(r.json, "cooling_period_seconds"));
	ck_assert(jnull(r.json, "cooling_ends_at"));
	/* Unsecured and first-time: the visit is required, and the branch
	 * approval is that visit. */
	ck_assert(jbool(r.json, "in_person_required"));
	ck_assert_str_eq(e2e_jstr(r.json, "in_person_verified_at"),
	                 e2e_jstr(r.json, "approved_at"));
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "consent_missing", NULL);
	http_resp_free(&r);

	/* With consent it is eligible at once. */
	act("BR-1", "consent", "{}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", NULL);
	ck_assert(jnull(r.json, "cooling_ends_at"));
	act("BR-1", "disbursement", "{}", &d);
	E2E_ASSERT_STATUS(&d, 200);
	E2E_ASSERT_JSTR(d.json, "decision", "allowed");
	http_resp_free(&d);
	http_resp_free(&r);
}
END_TEST

/* ---- first-time borrowers and the in-person rule ---- */

START_TEST(test_in_person_required_iff_unsecured_and_first_time)
{
	static const struct {
		bool secured, first_time, required;
	} cases[] = {
	    {false, true, true},
	    {false, false, false},
	    {true, true, false},
	    {true, false, false},
	};
	char iin[13];
	e2e_iin(iin, 301);
	for (size_t i = 0; i < 4; i++) {
		char id[32], extra[64];
		struct http_resp r;
		snprintf(id, sizeof id, "IP-%zu", i);
		snprintf(extra, sizeof extra, ",\"first_time_borrower\":%s",
		         cases[i].first_time ? "true" : "false");
		approve_new(approval_body(id, iin, "100000.00", "online", cases[i].secured, extra),
		            &r);
		ck_assert(jbool(r.json, "first_time_borrower") == cases[i].first_time);
		ck_assert_msg(jbool(r.json, "in_person_required") == cases[i].required,
		              "secured %d first-time %d: in_person_required wrong",
		              cases[i].secured, cases[i].first_time);
		if (cases[i].required)
			e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers",
			                   "consent_missing", "in_person_verification_missing",
			                   NULL);
		else
			e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers",
			                   "consent_missing", NULL);
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_first_time_borrower_omitted_is_true_until_an_unsecured_loan_is_disbursed_anywhere)
{
	char iin[13], now[32];
	e2e_iin(iin, 302);
	struct http_resp r;

	approve_new(approval_body("FT-1", iin, "100000.00", "online", false, ""), &r);
	ck_assert(jbool(r.json, "first_time_borrower"));
	ck_assert(jbool(r.json, "in_person_required"));
	http_resp_free(&r);

	/* A cancelled loan was never paid out: still first-time. */
	act("FT-1", "cancellation", "{\"reason\":\"changed mind\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	approve_new(approval_body("FT-2", iin, "100000.00", "online", false, ""), &r);
	ck_assert(jbool(r.json, "first_time_borrower"));
	http_resp_free(&r);

	/* A secured loan at another lender, consented, paid out. */
	e2e_ts_from_now(now, 0);
	char extra[96];
	snprintf(extra, sizeof extra, ",\"consent_at\":\"%s\"", now);
	approve(tok2, "BANK2", approval_body("FT-B2", iin, "50000.00", "online", true, extra), &r);
	E2E_ASSERT_STATUS(&r, 201);
	ck_assert(jbool(r.json, "first_time_borrower"));
	ck_assert(!jbool(r.json, "in_person_required"));
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	http_resp_free(&r);
	e2e_call(&env, "POST", "/v1/lenders/BANK2/loans/FT-B2/disbursement", tok2, "{}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "decision", "allowed");
	http_resp_free(&r);

	/* A secured loan paid out does not count (CONTRACT v1.1): the first
	 * unsecured loan still needs the visit. */
	approve_new(approval_body("FT-3", iin, "100000.00", "online", false, ""), &r);
	ck_assert(jbool(r.json, "first_time_borrower"));
	ck_assert(jbool(r.json, "in_person_required"));
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "consent_missing",
	                   "in_person_verification_missing", NULL);
	http_resp_free(&r);

	/* An unsecured loan at another lender, consented, verified, paid out. */
	approve(tok2, "BANK2", approval_body("FT-B3", iin, "50000.00", "online", false, extra), &r);
	E2E_ASSERT_STATUS(&r, 201);
	ck_assert(jbool(r.json, "first_time_borrower"));
	http_resp_free(&r);
	e2e_call(&env, "POST", "/v1/lenders/BANK2/loans/FT-B3/in-person-verification", tok2,
	         "{\"branch_id\":\"BR1\",\"officer_id\":\"OF1\"}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	e2e_call(&env, "POST", "/v1/lenders/BANK2/loans/FT-B3/disbursement", tok2, "{}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "decision", "allowed");
	http_resp_free(&r);

	/* Now the borrower has had an unsecured loan: not first-time, no visit
	 * needed. */
	approve_new(approval_body("FT-3B", iin, "100000.00", "online", false, ""), &r);
	ck_assert(!jbool(r.json, "first_time_borrower"));
	ck_assert(!jbool(r.json, "in_person_required"));
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "consent_missing", NULL);
	http_resp_free(&r);

	/* What the lender states wins over the derivation. */
	approve_new(approval_body("FT-4", iin, "100000.00", "online", false,
	                          ",\"first_time_borrower\":true"),
	            &r);
	ck_assert(jbool(r.json, "first_time_borrower"));
	ck_assert(jbool(r.json, "in_person_required"));
	http_resp_free(&r);

	/* Another borrower is unaffected. */
	char other[13];
	e2e_iin(other, 303);
	approve_new(approval_body("FT-5", other, "100000.00", "online", false, ""), &r);
	ck_assert(jbool(r.json, "first_time_borrower"));
	http_resp_free(&r);
}
END_TEST

/* ---- consent, cooling and the gate ---- */

START_TEST(test_consent_sent_later_starts_the_cooling_period)
{
	char iin[13];
	e2e_iin(iin, 401);
	struct http_resp r, d;

	approve_new(approval_body("CL-1", iin, "700000.00", "online", false,
	                          ",\"first_time_borrower\":false"),
	            &r);
	ck_assert(jbool(r.json, "cooling_required"));
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_consent");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "consent_missing", NULL);
	ck_assert(jnull(r.json, "cooling_ends_at"));
	/* Consent missing: an act, not time, stands in the way. */
	ck_assert(jnull(r.json, "earliest_disbursement_at"));
	http_resp_free(&r);

	char consent[32], body[96];
	format_ts(consent, e2e_wall_us() + 1 * USEC);
	snprintf(body, sizeof body, "{\"consent_at\":\"%s\"}", consent);
	act("CL-1", "consent", body, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "consent_at", consent);
	int64_t ends = jts(r.json, "cooling_ends_at");
	ck_assert_int_eq(ends - e2e_ts_parse(consent), 2 * USEC);
	E2E_ASSERT_JSTR(r.json, "status", "cooling");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   NULL);
	ck_assert_int_eq(jts(r.json, "earliest_disbursement_at"), ends);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CL-1", "consent_recorded"), 1);
	http_resp_free(&r);

	/* During the cooling period: refused, Retry-After, the end as earliest. */
	act("CL-1", "disbursement", "{}", &d);
	E2E_ASSERT_STATUS(&d, 409);
	E2E_ASSERT_JSTR(d.json, "decision", "refused");
	e2e_assert_strings(e2e_json_at(d.json, "blockers"), "blockers", "cooling_period_active",
	                   NULL);
	ck_assert_int_eq(jts(d.json, "earliest_disbursement_at"), ends);
	E2E_ASSERT_JSTR(d.json, "loan.status", "cooling");
	E2E_ASSERT_JSTR(d.json, "loan.loan_id", "CL-1");
	const char *ra = http_header(&d, "Retry-After");
	ck_assert_msg(ra != NULL, "no Retry-After when only cooling blocks");
	long secs = strtol(ra, NULL, 10);
	ck_assert_msg(secs >= 1 && secs <= 4, "Retry-After %s", ra);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CL-1", "disbursement_refused"), 1);
	http_resp_free(&d);

	sleep_until(ends);
	act("CL-1", NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", NULL);
	/* Eligible: the earliest moment is now. */
	int64_t earliest = jts(r.json, "earliest_disbursement_at");
	ck_assert_msg(llabs(earliest - e2e_wall_us()) < 5 * USEC,
	              "earliest_disbursement_at not now");
	http_resp_free(&r);

	act("CL-1", "disbursement", "{}", &d);
	E2E_ASSERT_STATUS(&d, 200);
	E2E_ASSERT_JSTR(d.json, "decision", "allowed");
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CL-1", "disbursement_allowed"), 1);
	http_resp_free(&d);
}
END_TEST

START_TEST(test_consent_given_with_the_approval_starts_the_cooling_at_consent_at)
{
	char iin[13], approved[32], consent[32], extra[160];
	e2e_iin(iin, 402);
	int64_t now = e2e_wall_us();
	format_ts(approved, now - 600 * USEC);
	format_ts(consent, now - 300 * USEC);
	snprintf(extra, sizeof extra,
	         ",\"first_time_borrower\":false,\"approved_at\":\"%s\",\"consent_at\":\"%s\"",
	         approved, consent);
	struct http_resp r;
	approve_new(approval_body("CL-2", iin, "700000.00", "online", false, extra), &r);
	E2E_ASSERT_JSTR(r.json, "approved_at", approved);
	E2E_ASSERT_JSTR(r.json, "consent_at", consent);
	ck_assert_int_eq(jts(r.json, "cooling_ends_at") - e2e_ts_parse(consent), 2 * USEC);
	/* The cooling ended long ago. */
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", NULL);
	ck_assert(!jnull(r.json, "earliest_disbursement_at"));
	/* The approval with consent is one event, not two. */
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CL-2", NULL), 1);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_full_path_approval_consent_visit_cooling_disbursement)
{
	char iin[13];
	e2e_iin(iin, 403);
	struct http_resp r, d;
	long long events = 0;

	approve_new(approval_body("HP-1", iin, "1000000.00", "online", false, ""), &r);
	ck_assert(jbool(r.json, "cooling_required"));
	ck_assert(jbool(r.json, "first_time_borrower"));
	ck_assert(jbool(r.json, "in_person_required"));
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_consent");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", "approval_recorded"), ++events);

	/* Nothing done yet: refused for both missing acts, no time to name. */
	act("HP-1", "disbursement", NULL, &d);
	E2E_ASSERT_STATUS(&d, 409);
	E2E_ASSERT_JSTR(d.json, "decision", "refused");
	e2e_assert_strings(e2e_json_at(d.json, "blockers"), "blockers", "consent_missing",
	                   "in_person_verification_missing", NULL);
	ck_assert(jnull(d.json, "earliest_disbursement_at"));
	ck_assert_msg(http_header(&d, "Retry-After") == NULL, "Retry-After without cooling");
	http_resp_free(&d);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", NULL), ++events);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", "disbursement_refused"), 1);

	/* Consent with an empty body: now. */
	act("HP-1", "consent", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	int64_t consent = jts(r.json, "consent_at");
	ck_assert_msg(llabs(consent - e2e_wall_us()) < 5 * USEC, "consent_at is not now");
	int64_t ends = jts(r.json, "cooling_ends_at");
	ck_assert_int_eq(ends - consent, 2 * USEC);
	E2E_ASSERT_JSTR(r.json, "status", "cooling");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   "in_person_verification_missing", NULL);
	/* The visit is missing: no time can be named. */
	ck_assert(jnull(r.json, "earliest_disbursement_at"));
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", NULL), ++events);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", "consent_recorded"), 1);

	act("HP-1", "disbursement", "{}", &d);
	E2E_ASSERT_STATUS(&d, 409);
	e2e_assert_strings(e2e_json_at(d.json, "blockers"), "blockers", "cooling_period_active",
	                   "in_person_verification_missing", NULL);
	ck_assert(jnull(d.json, "earliest_disbursement_at"));
	ck_assert_msg(http_header(&d, "Retry-After") == NULL, "Retry-After with a visit missing");
	http_resp_free(&d);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", NULL), ++events);

	act("HP-1", "in-person-verification", "{\"branch_id\":\"ALM-01\",\"officer_id\":\"off.7\"}",
	    &r);
	E2E_ASSERT_STATUS(&r, 200);
	int64_t verified = jts(r.json, "in_person_verified_at");
	ck_assert_msg(llabs(verified - e2e_wall_us()) < 5 * USEC,
	              "in_person_verified_at is not now");
	if (e2e_wall_us() < ends) {
		E2E_ASSERT_JSTR(r.json, "status", "cooling");
		e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers",
		                   "cooling_period_active", NULL);
		ck_assert_int_eq(jts(r.json, "earliest_disbursement_at"), ends);
	}
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", NULL), ++events);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", "in_person_verified"), 1);

	sleep_until(ends);
	/* The clock writes the period's end within 2 s of it, once. */
	ck_assert(e2e_wait_audit_event(&env, "BANK1", "HP-1", "cooling_period_ended", 30000));
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", "cooling_period_ended"), 1);
	act("HP-1", NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", NULL);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", NULL), events); /* a read */

	act("HP-1", "disbursement", "{}", &d);
	E2E_ASSERT_STATUS(&d, 200);
	E2E_ASSERT_JSTR(d.json, "decision", "allowed");
	E2E_ASSERT_JSTR(d.json, "loan.status", "disbursed");
	int64_t disbursed = jts(d.json, "loan.disbursed_at");
	ck_assert_msg(llabs(disbursed - e2e_wall_us()) < 5 * USEC, "disbursed_at is not now");
	e2e_assert_strings(e2e_json_at(d.json, "loan.blockers"), "loan.blockers",
	                   "already_disbursed", NULL);
	ck_assert(jnull(d.json, "loan.earliest_disbursement_at"));
	http_resp_free(&d);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", NULL), ++events);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", "disbursement_allowed"), 1);

	/* Paid out once: a second disbursement is refused. */
	act("HP-1", "disbursement", "{}", &d);
	E2E_ASSERT_STATUS(&d, 409);
	E2E_ASSERT_JSTR(d.json, "decision", "refused");
	e2e_assert_strings(e2e_json_at(d.json, "blockers"), "blockers", "already_disbursed", NULL);
	ck_assert(jnull(d.json, "earliest_disbursement_at"));
	http_resp_free(&d);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", NULL), ++events);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", "disbursement_allowed"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", "disbursement_refused"), 3);

	/* No cancellation after the money left. */
	act("HP-1", "cancellation", "{\"reason\":\"too late\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "already_disbursed");
	http_resp_free(&r);
	act("HP-1", NULL, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "status", "disbursed");
	ck_assert(jnull(r.json, "cancelled_at"));
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", NULL), events);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "HP-1", "cancelled"), 0);
}
END_TEST

/* ---- cancellation ---- */

START_TEST(test_cancelled_loan_is_refused_and_takes_no_further_act)
{
	char iin[13];
	e2e_iin(iin, 501);
	struct http_resp r;

	approve_new(approval_body("CX-1", iin, "700000.00", "online", false, ""), &r);
	http_resp_free(&r);
	act("CX-1", "cancellation", "{\"reason\":\"borrower called: fraud suspected\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "cancelled");
	int64_t cancelled = jts(r.json, "cancelled_at");
	ck_assert_msg(llabs(cancelled - e2e_wall_us()) < 5 * USEC, "cancelled_at is not now");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cancelled",
	                   "consent_missing", "in_person_verification_missing", NULL);
	ck_assert(jnull(r.json, "earliest_disbursement_at"));
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CX-1", "cancelled"), 1);

	act("CX-1", "disbursement", "{}", &r);
	E2E_ASSERT_STATUS(&r, 409);
	E2E_ASSERT_JSTR(r.json, "decision", "refused");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cancelled",
	                   "consent_missing", "in_person_verification_missing", NULL);
	ck_assert(jnull(r.json, "earliest_disbursement_at"));
	E2E_ASSERT_JSTR(r.json, "loan.status", "cancelled");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CX-1", "disbursement_refused"), 1);

	act("CX-1", "consent", "{}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "cancelled");
	http_resp_free(&r);
	act("CX-1", "in-person-verification", "{\"branch_id\":\"B1\",\"officer_id\":\"O1\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "cancelled");
	http_resp_free(&r);

	act("CX-1", NULL, NULL, &r);
	ck_assert(jnull(r.json, "consent_at"));
	ck_assert(jnull(r.json, "in_person_verified_at"));
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CX-1", NULL), 3);
}
END_TEST

/* A loan with consent (at *consent) and a visit, then cancelled; the same
 * cancellation again is a repeat (200). */
static void consented_verified_cancelled(const char *loan_id, unsigned seed, char consent[32])
{
	char iin[13], extra[96];
	struct http_resp r;
	e2e_iin(iin, seed);
	format_ts(consent, e2e_wall_us());
	snprintf(extra, sizeof extra, ",\"consent_at\":\"%s\"", consent);
	approve_new(approval_body(loan_id, iin, "700000.00", "online", false, extra), &r);
	http_resp_free(&r);
	act(loan_id, "in-person-verification", "{\"branch_id\":\"B1\",\"officer_id\":\"O1\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	act(loan_id, "cancellation", "{\"reason\":\"no\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	act(loan_id, "cancellation", "{\"reason\":\"no\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}

START_TEST(test_same_consent_again_after_cancellation_is_409)
{
	char consent[32], body[96];
	struct http_resp r;
	consented_verified_cancelled("CX-2", 502, consent);
	snprintf(body, sizeof body, "{\"consent_at\":\"%s\"}", consent);
	act("CX-2", "consent", body, &r);
	E2E_ASSERT_INVALID_STATE(&r, "cancelled");
	http_resp_free(&r);
	act("CX-2", "consent", "{}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "cancelled");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CX-2", NULL), 3);
}
END_TEST

START_TEST(test_same_verification_again_after_cancellation_is_409)
{
	char consent[32];
	struct http_resp r;
	consented_verified_cancelled("CX-4", 504, consent);
	act("CX-4", "in-person-verification", "{\"branch_id\":\"B1\",\"officer_id\":\"O1\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "cancelled");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CX-4", NULL), 3);
}
END_TEST

START_TEST(test_cancellation_again_same_reason_200_other_reason_409)
{
	char iin[13];
	e2e_iin(iin, 503);
	struct http_resp r, r2;

	approve_new(approval_body("CX-3", iin, "1000.00", "online", true, ""), &r);
	http_resp_free(&r);
	act("CX-3", "cancellation", "{\"reason\":\"Заёмщик передумал\"}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	act("CX-3", "cancellation", "{\"reason\":\"Заёмщик передумал\"}", &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	ck_assert_str_eq(e2e_jstr(r2.json, "cancelled_at"), e2e_jstr(r.json, "cancelled_at"));
	http_resp_free(&r2);
	act("CX-3", "cancellation", "{\"reason\":\"another reason\"}", &r2);
	E2E_ASSERT_INVALID_STATE(&r2, "different_details");
	http_resp_free(&r2);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "CX-3", "cancelled"), 1);
}
END_TEST

/* ---- repeated acts ---- */

START_TEST(test_consent_again_same_or_no_time_200_other_time_409)
{
	char iin[13], t[32], t_later[32], body[96];
	e2e_iin(iin, 601);
	struct http_resp r, r2;
	int64_t now = e2e_wall_us();
	format_ts(t, now);
	format_ts(t_later, now + 1 * USEC);

	approve_new(approval_body("RC-1", iin, "700000.00", "online", false, ""), &r);
	http_resp_free(&r);
	snprintf(body, sizeof body, "{\"consent_at\":\"%s\"}", t);
	act("RC-1", "consent", body, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "consent_at", t);

	act("RC-1", "consent", body, &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	E2E_ASSERT_JSTR(r2.json, "consent_at", t);
	ck_assert_str_eq(e2e_jstr(r2.json, "cooling_ends_at"), e2e_jstr(r.json, "cooling_ends_at"));
	http_resp_free(&r2);

	act("RC-1", "consent", "{}", &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	E2E_ASSERT_JSTR(r2.json, "consent_at", t);
	http_resp_free(&r2);

	act("RC-1", "consent", NULL, &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	E2E_ASSERT_JSTR(r2.json, "consent_at", t);
	http_resp_free(&r2);

	act("RC-1", "consent", "{\"consent_at\":null}", &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	E2E_ASSERT_JSTR(r2.json, "consent_at", t);
	http_resp_free(&r2);

	snprintf(body, sizeof body, "{\"consent_at\":\"%s\"}", t_later);
	act("RC-1", "consent", body, &r2);
	E2E_ASSERT_INVALID_STATE(&r2, "different_time");
	http_resp_free(&r2);

	act("RC-1", NULL, NULL, &r2);
	E2E_ASSERT_JSTR(r2.json, "consent_at", t);
	http_resp_free(&r2);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "RC-1", "consent_recorded"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "RC-1", NULL), 2);
}
END_TEST

START_TEST(test_consent_again_same_instant_other_offset_is_200)
{
	char iin[13], extra[96];
	e2e_iin(iin, 602);
	struct http_resp r;
	int64_t now = e2e_wall_us();
	time_t t = (time_t)(now / USEC);
	struct tm tm, local;
	gmtime_r(&t, &tm);
	time_t t5 = t + 5 * 3600;
	gmtime_r(&t5, &local);
	char utc[32], plus5[40], body[96];
	strftime(utc, sizeof utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(plus5, sizeof plus5, "%Y-%m-%dT%H:%M:%S+05:00", &local);
	snprintf(extra, sizeof extra, ",\"consent_at\":\"%s\"", utc);

	approve_new(approval_body("RC-2", iin, "1000.00", "online", true, extra), &r);
	E2E_ASSERT_JSTR(r.json, "consent_at", utc);
	http_resp_free(&r);
	snprintf(body, sizeof body, "{\"consent_at\":\"%s\"}", plus5);
	act("RC-2", "consent", body, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "consent_at", utc);
	http_resp_free(&r);
	act("RC-2", "consent", "{\"consent_at\":\"2026-01-05T10:00:00Z\"}", &r);
	E2E_ASSERT_INVALID_STATE(&r, "different_time");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "RC-2", "consent_recorded"), 0);
}
END_TEST

START_TEST(test_verification_again_same_branch_officer_200_otherwise_409)
{
	char iin[13], t[32], t2[32], body[160];
	e2e_iin(iin, 603);
	struct http_resp r, r2;
	int64_t now = e2e_wall_us();
	format_ts(t, now - 60 * USEC);
	format_ts(t2, now - 30 * USEC);

	approve_new(approval_body("RV-1", iin, "100000.00", "online", false, ""), &r);
	ck_assert(jbool(r.json, "in_person_required"));
	http_resp_free(&r);
	snprintf(body, sizeof body,
	         "{\"branch_id\":\"ALM-01\",\"officer_id\":\"off-7\",\"verified_at\":\"%s\"}", t);
	act("RV-1", "in-person-verification", body, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "in_person_verified_at", t);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "consent_missing", NULL);

	act("RV-1", "in-person-verification", body, &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	E2E_ASSERT_JSTR(r2.json, "in_person_verified_at", t);
	http_resp_free(&r2);

	act("RV-1", "in-person-verification", "{\"branch_id\":\"ALM-01\",\"officer_id\":\"off-7\"}",
	    &r2);
	E2E_ASSERT_STATUS(&r2, 200);
	E2E_ASSERT_JSTR(r2.json, "in_person_verified_at", t);
	http_resp_free(&r2);

	act("RV-1", "in-person-verification", "{\"branch_id\":\"ALM-01\",\"officer_id\":\"off-8\"}",
	    &r2);
	E2E_ASSERT_INVALID_STATE(&r2, "different_details");
	http_resp_free(&r2);
	act("RV-1", "in-person-verification", "{\"branch_id\":\"ALM-02\",\"officer_id\":\"off-7\"}",
	    &r2);
	E2E_ASSERT_INVALID_STATE(&r2, "different_details");
	http_resp_free(&r2);
	snprintf(body, sizeof body,
	         "{\"branch_id\":\"ALM-01\",\"officer_id\":\"off-7\",\"verified_at\":\"%s\"}", t2);
	act("RV-1", "in-person-verification", body, &r2);
	E2E_ASSERT_INVALID_STATE(&r2, "different_time");
	http_resp_free(&r2);

	act("RV-1", NULL, NULL, &r2);
	E2E_ASSERT_JSTR(r2.json, "in_person_verified_at", t);
	http_resp_free(&r2);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "RV-1", "in_person_verified"), 1);
}
END_TEST

/* ---- reads ---- */

START_TEST(test_get_loan_200_unknown_loan_404_for_read_and_every_act)
{
	char iin[13];
	e2e_iin(iin, 701);
	struct http_resp r, g;

	approve_new(approval_body("GL-1", iin, "12345.6", "online", false, ""), &r);
	act("GL-1", NULL, NULL, &g);
	E2E_ASSERT_STATUS(&g, 200);
	E2E_ASSERT_JSTR(g.json, "amount", "12345.60");
	ck_assert_msg(json_equal(r.json, g.json), "GET differs from the 201: %s", g.body);
	http_resp_free(&g);
	/* Compliance reads every lender's loans. */
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/GL-1", tok_comp, NULL, NULL, &g);
	E2E_ASSERT_STATUS(&g, 200);
	E2E_ASSERT_JSTR(g.json, "loan_id", "GL-1");
	http_resp_free(&g);
	http_resp_free(&r);

	act("GL-NOPE", NULL, NULL, &g);
	E2E_ASSERT_ERROR(&g, 404, "not_found", NULL);
	http_resp_free(&g);
	/* Another lender's loan_id is not this lender's loan. */
	approve(tok2, "BANK2", approval_body("GL-2", iin, "1000", "online", true, ""), &g);
	E2E_ASSERT_STATUS(&g, 201);
	http_resp_free(&g);
	act("GL-2", NULL, NULL, &g);
	E2E_ASSERT_ERROR(&g, 404, "not_found", NULL);
	http_resp_free(&g);

	static const struct {
		const char *act, *body;
	} acts[] = {
	    {"consent", "{}"},
	    {"in-person-verification", "{\"branch_id\":\"B1\",\"officer_id\":\"O1\"}"},
	    {"cancellation", "{\"reason\":\"x\"}"},
	    {"disbursement", "{}"},
	};
	long long before = audit_all();
	for (size_t i = 0; i < 4; i++) {
		act("GL-NOPE", acts[i].act, acts[i].body, &g);
		E2E_ASSERT_ERROR(&g, 404, "not_found", NULL);
		http_resp_free(&g);
	}
	ck_assert_int_eq(audit_all(), before);
}
END_TEST

START_TEST(test_borrower_loans_newest_first_lender_sees_only_its_own)
{
	char iin[13], other[13];
	e2e_iin(iin, 801);
	e2e_iin(other, 802);
	static const struct {
		const char *id;
		long ago_s;
		int bank;
	} loans[] = {
	    {"BL-old", 3 * 3600, 1},
	    {"BL-new", 3600, 1},
	    {"BL-mid", 2 * 3600, 1},
	    {"BL-b2", 1800, 2},
	};
	struct http_resp r;
	for (size_t i = 0; i < 4; i++) {
		char at[32], extra[96];
		e2e_ts_from_now(at, -loans[i].ago_s);
		snprintf(extra, sizeof extra, ",\"approved_at\":\"%s\"", at);
		if (loans[i].bank == 1)
			approve(tok1, "BANK1",
			        approval_body(loans[i].id, iin, "1000", "online", true, extra), &r);
		else
			approve(tok2, "BANK2",
			        approval_body(loans[i].id, iin, "1000", "online", true, extra), &r);
		E2E_ASSERT_STATUS(&r, 201);
		http_resp_free(&r);
	}
	approve_new(approval_body("BL-other", other, "1000", "online", true, ""), &r);
	http_resp_free(&r);

	char path[64];
	snprintf(path, sizeof path, "/v1/borrowers/%s/loans", iin);
	e2e_call(&env, "GET", path, tok1, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	json_t *a = json_object_get(r.json, "loans");
	ck_assert_msg(json_array_size(a) == 3, "BANK1 sees: %s", r.body);
	E2E_ASSERT_JSTR(json_array_get(a, 0), "loan_id", "BL-new");
	E2E_ASSERT_JSTR(json_array_get(a, 1), "loan_id", "BL-mid");
	E2E_ASSERT_JSTR(json_array_get(a, 2), "loan_id", "BL-old");
	E2E_ASSERT_JSTR(json_array_get(a, 0), "lender", "BANK1");
	E2E_ASSERT_JSTR(json_array_get(a, 0), "borrower_iin", iin);
	E2E_ASSERT_JSTR(json_array_get(a, 0), "status", "awaiting_consent");
	http_resp_free(&r);

	e2e_call(&env, "GET", path, tok_comp, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	a = json_object_get(r.json, "loans");
	ck_assert_msg(json_array_size(a) == 4, "compliance sees: %s", r.body);
	E2E_ASSERT_JSTR(json_array_get(a, 0), "loan_id", "BL-b2");
	E2E_ASSERT_JSTR(json_array_get(a, 0), "lender", "BANK2");
	E2E_ASSERT_JSTR(json_array_get(a, 1), "loan_id", "BL-new");
	E2E_ASSERT_JSTR(json_array_get(a, 3), "loan_id", "BL-old");
	http_resp_free(&r);

	/* A borrower without loans: an empty list. */
	char none[13];
	e2e_iin(none, 803);
	snprintf(path, sizeof path, "/v1/borrowers/%s/loans", none);
	e2e_call(&env, "GET", path, tok1, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	a = json_object_get(r.json, "loans");
	ck_assert_msg(json_is_array(a) && json_array_size(a) == 0, "%s", r.body);
	http_resp_free(&r);
}
END_TEST

/* ---- the audit trail ---- */

START_TEST(test_refused_writes_leave_no_audit_event_and_no_change)
{
	char iin[13], t[32], body[96];
	e2e_iin(iin, 901);
	struct http_resp r, g, g2;
	format_ts(t, e2e_wall_us());
	snprintf(body, sizeof body, ",\"consent_at\":\"%s\"", t);
	approve_new(approval_body("RW-1", iin, "100000.00", "online", false, body), &r);
	http_resp_free(&r);
	act("RW-1", NULL, NULL, &g);

	long long events = audit_all(), loans = loan_count();

	approve(tok1, "BANK1", approval_body("RW-2", iin, "-5", "online", false, ""), &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "amount");
	http_resp_free(&r);
	approve(tok1, "BANK1", approval_body("RW-1", iin, "100000.01", "online", false, ""), &r);
	E2E_ASSERT_ERROR(&r, 409, "loan_exists", NULL);
	http_resp_free(&r);
	approve(tok1, "BANK1", "{\"loan_id\":", &r);
	E2E_ASSERT_ERROR(&r, 400, "malformed_json", NULL);
	http_resp_free(&r);
	act("RW-1", "consent", "{\"consent_at\":\"yesterday\"}", &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "consent_at");
	http_resp_free(&r);
	act("RW-1", "consent", "{\"consent_at\":\"2020-01-01T00:00:00Z\"}", &r);
	ck_assert_msg(r.status == 409 || r.status == 422, "%d %s", r.status, r.body);
	http_resp_free(&r);
	act("RW-1", "in-person-verification", "{\"branch_id\":\"B 1\",\"officer_id\":\"O1\"}", &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "branch_id");
	http_resp_free(&r);
	act("RW-1", "cancellation", "{\"reason\":\"\"}", &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "reason");
	http_resp_free(&r);
	act("RW-1", "disbursement", "{\"force\":true}", &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "force");
	http_resp_free(&r);

	ck_assert_int_eq(audit_all(), events);
	ck_assert_int_eq(loan_count(), loans);
	act("RW-1", NULL, NULL, &g2);
	E2E_ASSERT_STATUS(&g2, 200);
	ck_assert_msg(json_equal(g.json, g2.json), "the loan changed: %s", g2.body);
	http_resp_free(&g);
	http_resp_free(&g2);
}
END_TEST

START_TEST(test_audit_events_name_the_loan_the_actor_and_the_type)
{
	char iin[13];
	e2e_iin(iin, 902);
	struct http_resp r;
	approve_new(approval_body("AU-1", iin, "100000.00", "online", false, ""), &r);
	http_resp_free(&r);
	act("AU-1", "consent", "{}", &r);
	http_resp_free(&r);
	act("AU-1", "disbursement", "{}", &r);
	E2E_ASSERT_STATUS(&r, 409);
	http_resp_free(&r);
	act("AU-1", "in-person-verification", "{\"branch_id\":\"B1\",\"officer_id\":\"O1\"}", &r);
	http_resp_free(&r);
	act("AU-1", "disbursement", "{}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);

	/* In order, one each, all by core1 for BANK1/AU-1. */
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE lender_id = 'BANK1' "
	                             "AND loan_id = 'AU-1' AND actor = 'core1'",
	                             NULL),
	                 5);
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM (SELECT string_agg(type, ',' ORDER BY at) AS s "
	                "FROM audit_event WHERE lender_id = 'BANK1' AND loan_id = 'AU-1') x "
	                "WHERE s = 'approval_recorded,consent_recorded,disbursement_refused,"
	                "in_person_verified,disbursement_allowed'",
	                NULL),
	    1);
	/* The refusal names its blockers. */
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE loan_id = 'AU-1' AND "
	                             "type = 'disbursement_refused' AND detail->'blockers' = "
	                             "'[\"in_person_verification_missing\"]'::jsonb",
	                             NULL),
	                 1);
}
END_TEST

static Suite *loans_suite(void)
{
	Suite *s = suite_create("e2e_loans");
	TCase *tc = tcase_create("loans");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_approval_new_is_201_same_again_200_other_fields_409_loan_exists);
	tcase_add_test(tc, test_approval_retry_without_optional_fields_matches_after_consent);
	tcase_add_test(tc, test_timestamps_are_answered_in_utc_with_z);
	tcase_add_test(tc, test_status_is_named_by_the_first_blocker);
	tcase_add_test(tc, test_online_at_150_mrp_2026_not_cooled_one_tiyn_more_cooled);
	tcase_add_test(tc, test_online_at_150_mrp_2025_not_cooled_one_tiyn_more_cooled);
	tcase_add_test(tc, test_mrp_is_that_of_the_almaty_local_date_of_approval);
	tcase_add_test(tc, test_branch_loan_above_threshold_not_cooled_and_verified_at_approval);
	tcase_add_test(tc, test_in_person_required_iff_unsecured_and_first_time);
	tcase_add_test(
	    tc,
	    test_first_time_borrower_omitted_is_true_until_an_unsecured_loan_is_disbursed_anywhere);
	tcase_add_test(tc, test_consent_sent_later_starts_the_cooling_period);
	tcase_add_test(tc, test_consent_given_with_the_approval_starts_the_cooling_at_consent_at);
	tcase_add_test(tc, test_full_path_approval_consent_visit_cooling_disbursement);
	tcase_add_test(tc, test_cancelled_loan_is_refused_and_takes_no_further_act);
	tcase_add_test(tc, test_same_consent_again_after_cancellation_is_409);
	tcase_add_test(tc, test_same_verification_again_after_cancellation_is_409);
	tcase_add_test(tc, test_cancellation_again_same_reason_200_other_reason_409);
	tcase_add_test(tc, test_consent_again_same_or_no_time_200_other_time_409);
	tcase_add_test(tc, test_consent_again_same_instant_other_offset_is_200);
	tcase_add_test(tc, test_verification_again_same_branch_officer_200_otherwise_409);
	tcase_add_test(tc, test_get_loan_200_unknown_loan_404_for_read_and_every_act);
	tcase_add_test(tc, test_borrower_loans_newest_first_lender_sees_only_its_own);
	tcase_add_test(tc, test_refused_writes_leave_no_audit_event_and_no_change);
	tcase_add_test(tc, test_audit_events_name_the_loan_the_actor_and_the_type);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(loans_suite)

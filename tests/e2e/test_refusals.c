/*
 * The voluntary refusal registry through the real coolingd (CONTRACT.md,
 * "Voluntary refusal registry"): the registry role and its calls (201 new,
 * 200 the same change, 404, 422 with the field, 403 for roles that may not
 * write), the entry's shape, and the gate: a refusal in force blocks every
 * payout of the borrower (blocked_by_refusal, no earliest disbursement),
 * a withdrawal lifts it, a future-dated refusal takes effect by itself, an
 * approval during a refusal is recorded and blocked; and a refusal set
 * while dozens of payouts of the borrower race on two daemons: no payout is
 * allowed after the refusal's commit, and the audit trail shows which came
 * first.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/race.h"
#include "support/testdb.h"

static struct e2e_env env;
static char *lender1; /* core1, lender BANK1 */
static char *lender2; /* core2, lender BANK2: another lender */
static char *registry;
static char *compliance;
static char *auditor;

static void setup(void)
{
	e2e_start(&env, "refusals", NULL);
	e2e_lender_add(&env, "BANK1", "bank");
	e2e_lender_add(&env, "BANK2", "mfo");
	lender1 = e2e_client_add(&env, "core1", "lender", "BANK1");
	lender2 = e2e_client_add(&env, "core2", "lender", "BANK2");
	registry = e2e_client_add(&env, "fcb-connector", "registry", NULL);
	compliance = e2e_client_add(&env, "officer", "compliance", NULL);
	auditor = e2e_client_add(&env, "audit1", "auditor", NULL);
}

static void teardown(void)
{
	e2e_stop(&env);
	free(lender1);
	free(lender2);
	free(registry);
	free(compliance);
	free(auditor);
}

/* PUT /v1/voluntary-refusals/IIN with body. */
static void put_refusal(const struct e2e_env *e, const char *token, const char *iin,
                        const char *body, struct http_resp *out)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/voluntary-refusals/%s", iin);
	e2e_call(e, "PUT", path, token, body, NULL, out);
}

static void get_refusal(const char *token, const char *iin, struct http_resp *out)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/voluntary-refusals/%s", iin);
	e2e_call(&env, "GET", path, token, NULL, NULL, out);
}

/* A change's body, effective offset_s from now. */
static void change_body(char *out, size_t size, bool active, long offset_s, const char *source,
                        const char *reference)
{
	char ts[32], ref[128] = "";
	e2e_ts_from_now(ts, offset_s);
	if (reference)
		snprintf(ref, sizeof ref, ",\"reference\":\"%s\"", reference);
	snprintf(out, size, "{\"active\":%s,\"effective_at\":\"%s\",\"source\":\"%s\"%s}",
	         active ? "true" : "false", ts, source, ref);
}

/* Sets (or withdraws) the borrower's refusal, effective offset_s from now;
 * asserts the status. */
static void refusal(const char *iin, bool active, long offset_s, int want_status)
{
	char body[256];
	change_body(body, sizeof body, active, offset_s, "fcb", NULL);
	struct http_resp r;
	put_refusal(&env, registry, iin, body, &r);
	E2E_ASSERT_STATUS(&r, want_status);
	http_resp_free(&r);
}

/* ---- the API ---- */

START_TEST(test_put_answers_201_then_200_and_keeps_the_first_reference)
{
	char iin[13];
	e2e_iin(iin, 101);
	const char *body = "{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\","
	                   "\"source\":\"fcb\",\"reference\":\"R-1\"}";
	struct http_resp r;
	put_refusal(&env, registry, iin, body, &r);
	E2E_ASSERT_STATUS(&r, 201);
	E2E_ASSERT_JSTR(r.json, "borrower_iin", iin);
	ck_assert(json_is_true(e2e_json_at(r.json, "active")));
	E2E_ASSERT_JSTR(r.json, "effective_at", "2026-11-30T19:00:00Z");
	E2E_ASSERT_JSTR(r.json, "source", "fcb");
	json_t *changes = e2e_json_at(r.json, "changes");
	ck_assert_int_eq(json_array_size(changes), 1);
	json_t *c0 = json_array_get(changes, 0);
	ck_assert_int_eq(json_object_size(c0), 5);
	E2E_ASSERT_JSTR(c0, "reference", "R-1");
	ck_assert(e2e_is_utc_z(json_string_value(json_object_get(c0, "recorded_at"))));
	ck_assert_int_eq(json_object_size(r.json), 5);
	http_resp_free(&r);

	/* the same change again, at another offset, and with another
	 * reference: 200, nothing new, the first reference kept */
	put_refusal(&env, registry, iin,
	            "{\"active\":true,\"effective_at\":\"2026-12-01T00:00:00+05:00\","
	            "\"source\":\"fcb\",\"reference\":\"R-2\"}",
	            &r);
	E2E_ASSERT_STATUS(&r, 200);
	changes = e2e_json_at(r.json, "changes");
	ck_assert_int_eq(json_array_size(changes), 1);
	E2E_ASSERT_JSTR(json_array_get(changes, 0), "reference", "R-1");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE type = "
	                             "'voluntary_refusal_set' AND actor = 'fcb-connector'",
	                             NULL),
	                 1);

	/* a withdrawal that arrives before an older change: changes in
	 * (effective_at, arrival) order */
	put_refusal(
	    &env, registry, iin,
	    "{\"active\":false,\"effective_at\":\"2026-11-30T20:00:00Z\",\"source\":\"egov\"}", &r);
	E2E_ASSERT_STATUS(&r, 201);
	http_resp_free(&r);
	put_refusal(
	    &env, registry, iin,
	    "{\"active\":true,\"effective_at\":\"2026-11-30T10:00:00Z\",\"source\":\"egov\"}", &r);
	E2E_ASSERT_STATUS(&r, 201);
	ck_assert(json_is_false(e2e_json_at(r.json, "active")));
	E2E_ASSERT_JSTR(r.json, "effective_at", "2026-11-30T20:00:00Z");
	E2E_ASSERT_JSTR(r.json, "source", "egov");
	changes = e2e_json_at(r.json, "changes");
	ck_assert_int_eq(json_array_size(changes), 3);
	E2E_ASSERT_JSTR(json_array_get(changes, 0), "effective_at", "2026-11-30T10:00:00Z");
	E2E_ASSERT_JSTR(json_array_get(changes, 2), "effective_at", "2026-11-30T20:00:00Z");
	ck_assert(json_is_null(json_object_get(json_array_get(changes, 2), "reference")));
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE type = "
	                             "'voluntary_refusal_withdrawn'",
	                             NULL),
	                 1);
}
END_TEST

START_TEST(test_get_answers_every_reader_and_404_for_an_iin_never_seen)
{
	char iin[13], other[13];
	e2e_iin(iin, 102);
	e2e_iin(other, 103);
	refusal(iin, true, -60, 201);
	const char *readers[] = {registry, compliance, auditor, lender1, lender2};
	for (size_t i = 0; i < 5; i++) {
		struct http_resp r;
		get_refusal(readers[i], iin, &r);
		E2E_ASSERT_STATUS(&r, 200);
		ck_assert(json_is_true(e2e_json_at(r.json, "active")));
		http_resp_free(&r);
	}
	struct http_resp r;
	get_refusal(compliance, other, &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	get_refusal(compliance, "900101300127", &r); /* bad check digit */
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "borrower_iin");
	http_resp_free(&r);
}
END_TEST

START_TEST(test_roles_that_may_not_write_get_403_and_registry_nothing_else)
{
	char iin[13], body[256];
	e2e_iin(iin, 104);
	change_body(body, sizeof body, true, 0, "fcb", NULL);
	const char *writers[] = {lender1, compliance, auditor};
	for (size_t i = 0; i < 3; i++) {
		struct http_resp r;
		put_refusal(&env, writers[i], iin, body, &r);
		E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
		http_resp_free(&r);
	}
	ck_assert_int_eq(
	    e2e_sql_num(&env, "SELECT count(*) FROM voluntary_refusal WHERE iin = $1", iin, NULL),
	    0);
	/* the registry may only PUT and GET its own calls */
	static const char *const paths[] = {"/v1/loans", "/v1/audit", "/v1/lenders/BANK1/loans/X",
	                                    "/v1/borrowers/900101300126/loans"};
	for (size_t i = 0; i < 4; i++) {
		struct http_resp r;
		e2e_call(&env, "GET", paths[i], registry, NULL, NULL, &r);
		E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
		http_resp_free(&r);
	}
	struct http_resp r;
	e2e_post_approval(&env, registry, "BANK1", "{}", NULL, &r);
	E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_every_bad_value_is_422_naming_its_field)
{
	char iin[13];
	e2e_iin(iin, 105);
	char long_source[80], long_ref[260];
	memset(long_source, 's', 65);
	long_source[65] = '\0';
	memset(long_ref, 'r', 201);
	long_ref[201] = '\0';
	char b1[400], b2[400];
	snprintf(b1, sizeof b1,
	         "{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"%s\"}",
	         long_source);
	snprintf(b2, sizeof b2,
	         "{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"fcb\","
	         "\"reference\":\"%s\"}",
	         long_ref);
	const struct {
		const char *iin, *body, *field;
	} cases[] = {
	    {"900101300127",
	     "{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\","
	     "\"source\":\"fcb\"}",
	     "borrower_iin"},
	    {iin,
	     "{\"active\":\"yes\",\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"fcb\"}",
	     "active"},
	    {iin, "{\"active\":1,\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"fcb\"}",
	     "active"},
	    {iin, "{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00\",\"source\":\"fcb\"}",
	     "effective_at"},
	    {iin, "{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"\"}",
	     "source"},
	    {iin, b1, "source"},
	    {iin,
	     "{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"fcb\","
	     "\"reference\":\"\"}",
	     "reference"},
	    {iin, b2, "reference"},
	    {iin,
	     "{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"fcb\","
	     "\"borrower\":\"x\"}",
	     "borrower"},
	    {iin, "{\"active\":true,\"source\":\"fcb\"}", "effective_at"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct http_resp r;
		put_refusal(&env, registry, cases[i].iin, cases[i].body, &r);
		E2E_ASSERT_ERROR(&r, 422, "validation_failed", cases[i].field);
		http_resp_free(&r);
	}
	ck_assert_int_eq(
	    e2e_sql_num(&env, "SELECT count(*) FROM voluntary_refusal WHERE iin = $1", iin, NULL),
	    0);
}
END_TEST

/* ---- the gate ---- */

static void assert_loan_blocked(const char *token, const char *lender, const char *loan_id)
{
	struct http_resp r;
	e2e_get_loan(&env, token, lender, loan_id, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "blocked_by_refusal");
	ck_assert(json_is_true(e2e_json_at(r.json, "voluntary_refusal_active")));
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "voluntary_refusal_active",
	                   NULL);
	ck_assert(json_is_null(e2e_json_at(r.json, "earliest_disbursement_at")));
	http_resp_free(&r);
}

START_TEST(test_a_refusal_blocks_the_payout_and_its_withdrawal_lifts_it)
{
	char iin[13];
	e2e_iin(iin, 106);
	e2e_eligible_loan(&env, lender1, "BANK1", "GATE-1", 106);
	refusal(iin, true, -1, 201);
	assert_loan_blocked(lender1, "BANK1", "GATE-1");

	struct http_resp r;
	e2e_disburse(&env, lender1, "BANK1", "GATE-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	E2E_ASSERT_JSTR(r.json, "decision", "refused");
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "voluntary_refusal_active",
	                   NULL);
	ck_assert(json_is_null(e2e_json_at(r.json, "earliest_disbursement_at")));
	ck_assert_int_eq(e2e_retry_after(&r), -1);
	E2E_ASSERT_JSTR(r.json, "loan.status", "blocked_by_refusal");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "GATE-1", "disbursement_refused"), 1);

	/* the borrower's loans and the compliance list show it too */
	char path[128];
	snprintf(path, sizeof path, "/v1/borrowers/%s/loans", iin);
	e2e_call(&env, "GET", path, lender1, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(json_array_get(e2e_json_at(r.json, "loans"), 0), "status",
	                "blocked_by_refusal");
	ck_assert(json_is_true(json_object_get(json_array_get(e2e_json_at(r.json, "loans"), 0),
	                                       "voluntary_refusal_active")));
	http_resp_free(&r);
	e2e_call(&env, "GET", "/v1/loans?status=blocked_by_refusal&lender=BANK1", compliance, NULL,
	         NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	json_t *loans = e2e_json_at(r.json, "loans");
	bool listed = false;
	for (size_t i = 0; i < json_array_size(loans); i++)
		listed = listed || !strcmp(e2e_jstr(json_array_get(loans, i), "loan_id"), "GATE-1");
	ck_assert(listed);
	http_resp_free(&r);

	/* withdrawn: eligible again, and paid */
	refusal(iin, false, 0, 201);
	e2e_get_loan(&env, lender1, "BANK1", "GATE-1", &r);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	ck_assert(json_is_false(e2e_json_at(r.json, "voluntary_refusal_active")));
	http_resp_free(&r);
	e2e_disburse(&env, lender1, "BANK1", "GATE-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "decision", "allowed");
	http_resp_free(&r);
}
END_TEST

START_TEST(test_a_future_dated_refusal_takes_effect_by_itself)
{
	char iin[13];
	e2e_iin(iin, 107);
	e2e_eligible_loan(&env, lender1, "BANK1", "FUTURE-1", 107);
	refusal(iin, true, 2, 201);
	struct http_resp r;
	get_refusal(registry, iin, &r);
	ck_assert(json_is_false(e2e_json_at(r.json, "active")));
	ck_assert(json_is_null(e2e_json_at(r.json, "effective_at")));
	ck_assert(json_is_null(e2e_json_at(r.json, "source")));
	http_resp_free(&r);
	e2e_get_loan(&env, lender1, "BANK1", "FUTURE-1", &r);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	http_resp_free(&r);

	sleep(3);
	get_refusal(registry, iin, &r);
	ck_assert(json_is_true(e2e_json_at(r.json, "active")));
	E2E_ASSERT_JSTR(r.json, "source", "fcb");
	http_resp_free(&r);
	assert_loan_blocked(lender1, "BANK1", "FUTURE-1");
	e2e_disburse(&env, lender1, "BANK1", "FUTURE-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_an_approval_during_a_refusal_is_recorded_and_blocked)
{
	char iin[13];
	e2e_iin(iin, 108);
	refusal(iin, true, -1, 201);
	struct http_resp r;
	e2e_approve(&env, lender2, "BANK2", "DURING-1",
	            &(struct e2e_loan){.iin_seed = 108, .consent_now = true}, &r);
	E2E_ASSERT_JSTR(r.json, "status", "blocked_by_refusal");
	ck_assert(json_is_true(e2e_json_at(r.json, "voluntary_refusal_active")));
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK2", "DURING-1", "approval_recorded"), 1);
	e2e_disburse(&env, lender2, "BANK2", "DURING-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	http_resp_free(&r);
}
END_TEST

/* ---- the race on two daemons ---- */

struct refusal_write {
	const struct e2e_env *env; /* the second daemon's */
	const char *iin;
};

/* the refusal, through the second daemon, while the others race */
static void refusal_write(void *arg)
{
	const struct refusal_write *w = arg;
	char body[256];
	change_body(body, sizeof body, true, -1, "fcb", "RACE");
	struct http_resp r;
	put_refusal(w->env, registry, w->iin, body, &r);
	E2E_ASSERT_STATUS(&r, 201);
	http_resp_free(&r);
}

START_TEST(test_no_payout_is_allowed_after_the_refusal_commits_on_two_daemons)
{
	struct daemon d2;
	ck_assert(daemon_start(&d2, env.db_url, NULL));
	struct e2e_env env2 = e2e_env_on(&env, d2.port);
	char iin[13];
	e2e_iin(iin, 109);
	for (int k = 0; k < PAYOUT_RACE_LOANS; k++) {
		char id[32];
		snprintf(id, sizeof id, "RACE-%d", k);
		e2e_eligible_loan(k % 2 ? &env2 : &env, lender1, "BANK1", id, 109);
	}
	struct refusal_write w = {.env = &env2, .iin = iin};
	payout_race_run(&env,
	                &(struct payout_race){.ports = {env.d.port, d2.port},
	                                      .token = lender1,
	                                      .lender = "BANK1",
	                                      .prefix = "RACE",
	                                      .body = "{}",
	                                      .write = refusal_write,
	                                      .write_arg = &w,
	                                      .blocker = "voluntary_refusal_active",
	                                      .event_where = "e.type = 'voluntary_refusal_set' AND "
	                                                     "e.detail->>'borrower_iin' = $1",
	                                      .event_param = iin});
	ck_assert_int_eq(daemon_stop(&d2), 0);
}
END_TEST

static Suite *refusals_suite(void)
{
	Suite *s = suite_create("refusals");
	TCase *tc = tcase_create("api");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_put_answers_201_then_200_and_keeps_the_first_reference);
	tcase_add_test(tc, test_get_answers_every_reader_and_404_for_an_iin_never_seen);
	tcase_add_test(tc, test_roles_that_may_not_write_get_403_and_registry_nothing_else);
	tcase_add_test(tc, test_every_bad_value_is_422_naming_its_field);
	tcase_add_test(tc, test_a_refusal_blocks_the_payout_and_its_withdrawal_lifts_it);
	tcase_add_test(tc, test_a_future_dated_refusal_takes_effect_by_itself);
	tcase_add_test(tc, test_an_approval_during_a_refusal_is_recorded_and_blocked);
	tcase_add_test(tc, test_no_payout_is_allowed_after_the_refusal_commits_on_two_daemons);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(refusals_suite)

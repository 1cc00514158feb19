/*
 * End-to-end tests of the suspicious payee registry (CONTRACT.md v1.2,
 * "The fraud chain at the payout"): the refusal registry's semantics for a
 * card, account or wallet (201 then 200 keeping the first reference, 404
 * for a payee never seen, out-of-order and future-dated changes, 403 for
 * every role but antifraud, 422 naming the field), the payout to a flagged
 * payee refused with payee_flagged and paid again once the flag is
 * withdrawn, and dozens of payouts to one payee racing a flag on two
 * daemons: none is allowed after the flag commits, and the sealed chain
 * puts every allowed one before the flag's event.
 */
#include "check_main.h"
#include "support/e2e.h"
#include "support/race.h"
#include "support/testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct e2e_env env;
static char *lender1;
static char *antifraud;
static char *registry;
static char *compliance;
static char *auditor;

static int metrics_port;

static void setup(void)
{
	const char *metrics_kv = e2e_metrics_listen(&metrics_port);
	const char *const daemon_env[] = {metrics_kv, NULL};
	e2e_start(&env, "payees", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	lender1 = e2e_client_add(&env, "core1", "lender", "BANK1");
	antifraud = e2e_client_add(&env, "afc-connector", "antifraud", NULL);
	registry = e2e_client_add(&env, "fcb-connector", "registry", NULL);
	compliance = e2e_client_add(&env, "officer", "compliance", NULL);
	auditor = e2e_client_add(&env, "audit1", "auditor", NULL);
}

static void teardown(void)
{
	e2e_stop(&env);
	free(lender1);
	free(antifraud);
	free(registry);
	free(compliance);
	free(auditor);
}

/* PUT /v1/suspicious-payees/KIND/ID with body. */
static void put_flag(const struct e2e_env *e, const char *token, const char *kind, const char *id,
                     const char *body, struct http_resp *out)
{
	char path[160];
	snprintf(path, sizeof path, "/v1/suspicious-payees/%s/%s", kind, id);
	e2e_call(e, "PUT", path, token, body, NULL, out);
}

static void get_flag(const char *token, const char *kind, const char *id, struct http_resp *out)
{
	char path[160];
	snprintf(path, sizeof path, "/v1/suspicious-payees/%s/%s", kind, id);
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

/* Flags (or clears) a payee, effective offset_s from now; asserts the
 * status. */
static void flag(const char *kind, const char *id, bool active, long offset_s, int want_status)
{
	char body[256];
	change_body(body, sizeof body, active, offset_s, "afc", NULL);
	struct http_resp r;
	put_flag(&env, antifraud, kind, id, body, &r);
	E2E_ASSERT_STATUS(&r, want_status);
	http_resp_free(&r);
}

/* POST .../disbursement to the payee. */
static void disburse_to(const struct e2e_env *e, const char *loan_id, const char *kind,
                        const char *id, struct http_resp *out)
{
	char body[256];
	snprintf(body, sizeof body, "{\"payee\":{\"kind\":\"%s\",\"id\":\"%s\"}}", kind, id);
	e2e_act(e, lender1, "BANK1", loan_id, "disbursement", body, NULL, out);
}

/* ---- the API ---- */

START_TEST(test_put_answers_201_then_200_and_keeps_the_first_reference)
{
	char body[256];
	change_body(body, sizeof body, true, -60, "afc", "R-1");
	struct http_resp r;
	put_flag(&env, antifraud, "card", "tok-A1", body, &r);
	E2E_ASSERT_STATUS(&r, 201);
	E2E_ASSERT_JSTR(r.json, "kind", "card");
	E2E_ASSERT_JSTR(r.json, "id", "tok-A1");
	ck_assert(json_is_true(e2e_json_at(r.json, "active")));
	E2E_ASSERT_JSTR(r.json, "source", "afc");
	ck_assert_ptr_null(e2e_json_at(r.json, "borrower_iin"));
	ck_assert_int_eq(json_array_size(e2e_json_at(r.json, "changes")), 1);
	http_resp_free(&r);

	/* the same change with another reference: known, the first kept */
	char again[256];
	snprintf(again, sizeof again, "%.*s\"R-2\"}", (int)(strstr(body, "\"R-1\"") - body), body);
	put_flag(&env, antifraud, "card", "tok-A1", again, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_int_eq(json_array_size(e2e_json_at(r.json, "changes")), 1);
	json_t *first = json_array_get(e2e_json_at(r.json, "changes"), 0);
	E2E_ASSERT_JSTR(first, "reference", "R-1");
	http_resp_free(&r);

	/* one event for the one change, with the payee in its detail */
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE type = "
	                             "'suspicious_payee_set' AND detail->>'kind' = 'card' "
	                             "AND detail->>'id' = 'tok-A1' AND actor = 'afc-connector'",
	                             NULL),
	                 1);
}
END_TEST

START_TEST(test_get_answers_every_reader_and_404_for_a_payee_never_seen)
{
	flag("account", "KZ-G1", true, -60, 201);
	const char *const readers[] = {lender1, antifraud, compliance, auditor};
	for (size_t i = 0; i < 4; i++) {
		struct http_resp r;
		get_flag(readers[i], "account", "KZ-G1", &r);
		E2E_ASSERT_STATUS(&r, 200);
		ck_assert(json_is_true(e2e_json_at(r.json, "active")));
		http_resp_free(&r);
	}
	struct http_resp r;
	get_flag(compliance, "account", "KZ-NEVER", &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	/* a flag is of one kind: the same id as a wallet is another payee */
	get_flag(compliance, "wallet", "KZ-G1", &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_roles_that_may_not_write_get_403)
{
	char body[256];
	change_body(body, sizeof body, true, -60, "afc", NULL);
	const char *const others[] = {lender1, registry, compliance, auditor};
	for (size_t i = 0; i < 4; i++) {
		struct http_resp r;
		put_flag(&env, others[i], "wallet", "W-403", body, &r);
		E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
		http_resp_free(&r);
	}
	struct http_resp r;
	get_flag(registry, "wallet", "W-403", &r);
	E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
	http_resp_free(&r);
	ck_assert_int_eq(
	    e2e_sql_num(&env, "SELECT count(*) FROM suspicious_payee WHERE id = 'W-403'", NULL), 0);
}
END_TEST

START_TEST(test_every_bad_value_is_422_naming_its_field)
{
	char ok[256];
	change_body(ok, sizeof ok, true, -60, "afc", NULL);
	static const struct {
		const char *kind, *id, *body, *field;
	} cases[] = {
	    {"iban", "KZ1", NULL, "kind"},
	    {"card", "4000001234567899", NULL, "id"}, /* a card number */
	    {"account", "KZ%201", NULL, "id"},
	    {"account", "KZ1", "{\"active\":true,\"source\":\"afc\"}", "effective_at"},
	    {"account", "KZ1",
	     "{\"active\":1,\"effective_at\":\"2026-01-01T00:00:00Z\","
	     "\"source\":\"afc\"}",
	     "active"},
	    {"account", "KZ1",
	     "{\"active\":true,\"effective_at\":\"2026-01-01T00:00:00Z\","
	     "\"source\":\"a b\"}",
	     "source"},
	    {"account", "KZ1",
	     "{\"active\":true,\"effective_at\":\"2026-01-01T00:00:00Z\","
	     "\"source\":\"afc\",\"kind\":\"card\"}",
	     "kind"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp r;
		put_flag(&env, antifraud, cases[i].kind, cases[i].id,
		         cases[i].body ? cases[i].body : ok, &r);
		E2E_ASSERT_ERROR(&r, 422, "validation_failed", cases[i].field);
		ck_assert_ptr_null(strstr(r.body, "4000001234567899"));
		http_resp_free(&r);
	}
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM suspicious_payee WHERE id IN ('KZ1', "
	                             "'4000001234567899')",
	                             NULL),
	                 0);
}
END_TEST

/* ---- the payout ---- */

START_TEST(test_a_flag_blocks_the_payout_and_its_withdrawal_lifts_it)
{
	e2e_eligible_loan(&env, lender1, "BANK1", "PF-1", 31);
	flag("wallet", "W-MULE", true, -60, 201);
	/* every refusal so far counted, so that this test's is the difference */
	e2e_seal_until(&env, "e.type = 'disbursement_refused' AND $1 = $1", "-");
	long long stats_before = e2e_stats_refused_by(&env, compliance, "payee_flagged");
	double metric_before =
	    e2e_metric(metrics_port, "coolingd_refusals_total{blocker=\"payee_flagged\"}");
	struct http_resp r;
	disburse_to(&env, "PF-1", "wallet", "W-MULE", &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "payee_flagged", NULL);
	json_t *earliest = e2e_json_at(r.json, "earliest_disbursement_at");
	ck_assert_msg(earliest != NULL && json_is_null(earliest), "%s", r.body);
	ck_assert_int_eq(e2e_retry_after(&r), -1);
	E2E_ASSERT_JSTR(r.json, "loan.status", "eligible");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE loan_id = 'PF-1' AND "
	                             "type = 'disbursement_refused' AND detail->'blockers' = "
	                             "'[\"payee_flagged\"]'::jsonb AND detail->'payee'->>'id' = "
	                             "'W-MULE'",
	                             NULL),
	                 1);
	/* the refusal, by its blocker, in the metrics and the statistics */
	ck_assert(e2e_metric(metrics_port, "coolingd_refusals_total{blocker=\"payee_flagged\"}") ==
	          metric_before + 1);
	e2e_seal_until(&env, "e.type = 'disbursement_refused' AND $1 = $1", "-");
	ck_assert_int_eq(e2e_stats_refused_by(&env, compliance, "payee_flagged"), stats_before + 1);

	/* another payee of the same loan is paid; so is this one once cleared */
	e2e_eligible_loan(&env, lender1, "BANK1", "PF-2", 31);
	flag("wallet", "W-MULE", false, -1, 201);
	disburse_to(&env, "PF-2", "wallet", "W-MULE", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	disburse_to(&env, "PF-1", "account", "KZ-OWN-31", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_a_future_dated_flag_takes_effect_by_itself)
{
	e2e_eligible_loan(&env, lender1, "BANK1", "PF-3", 32);
	e2e_eligible_loan(&env, lender1, "BANK1", "PF-4", 32);
	int64_t effective = e2e_wall_us() + 3 * 1000000LL;
	flag("card", "tok-later", true, 3, 201);

	/* before its time the payee is paid (unless this machine was slower
	 * than the flag's 3 s) */
	struct http_resp r;
	disburse_to(&env, "PF-3", "card", "tok-later", &r);
	ck_assert_msg(r.status == 200 || (r.status == 409 && e2e_wall_us() >= effective), "%d %s",
	              r.status, r.body);
	http_resp_free(&r);

	/* from its time on, with no further write, the entry says so ... */
	bool active = false;
	for (long long deadline = test_now_ms() + 15000; !active && test_now_ms() < deadline;) {
		get_flag(compliance, "card", "tok-later", &r);
		E2E_ASSERT_STATUS(&r, 200);
		active = json_is_true(e2e_json_at(r.json, "active"));
		ck_assert_msg(!active || e2e_wall_us() >= effective - 1000000, "active too early");
		http_resp_free(&r);
		if (!active)
			test_sleep_ms(100);
	}
	ck_assert_msg(active, "the flag did not take effect");
	/* ... and the payout is refused */
	disburse_to(&env, "PF-4", "card", "tok-later", &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "payee_flagged", NULL);
	http_resp_free(&r);
}
END_TEST

/* ---- the race on two daemons ---- */

/* the flag, through the second daemon, while the others race */
static void flag_write(void *arg)
{
	const struct e2e_env *env2 = arg;
	char body[256];
	change_body(body, sizeof body, true, -1, "afc", "RACE");
	struct http_resp r;
	put_flag(env2, antifraud, "account", "KZ-RACE", body, &r);
	E2E_ASSERT_STATUS(&r, 201);
	http_resp_free(&r);
}

START_TEST(test_no_payout_is_allowed_after_the_flag_commits_on_two_daemons)
{
	struct daemon d2;
	ck_assert(daemon_start(&d2, env.db_url, NULL));
	struct e2e_env env2 = e2e_env_on(&env, d2.port);
	for (int k = 0; k < PAYOUT_RACE_LOANS; k++) {
		char id[32];
		snprintf(id, sizeof id, "PRACE-%d", k);
		e2e_eligible_loan(k % 2 ? &env2 : &env, lender1, "BANK1", id, 200 + k);
	}
	payout_race_run(&env, &(struct payout_race){
	                          .ports = {env.d.port, d2.port},
	                          .token = lender1,
	                          .lender = "BANK1",
	                          .prefix = "PRACE",
	                          .body = "{\"payee\":{\"kind\":\"account\",\"id\":\"KZ-RACE\"}}",
	                          .write = flag_write,
	                          .write_arg = &env2,
	                          .blocker = "payee_flagged",
	                          .event_where = "e.type = 'suspicious_payee_set' AND "
	                                         "e.detail->>'id' = $1",
	                          .event_param = "KZ-RACE"});
	ck_assert_int_eq(daemon_stop(&d2), 0);
}
END_TEST

static Suite *payees_suite(void)
{
	Suite *s = suite_create("suspicious_payees");
	TCase *tc = tcase_create("api");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_put_answers_201_then_200_and_keeps_the_first_reference);
	tcase_add_test(tc, test_get_answers_every_reader_and_404_for_a_payee_never_seen);
	tcase_add_test(tc, test_roles_that_may_not_write_get_403);
	tcase_add_test(tc, test_every_bad_value_is_422_naming_its_field);
	tcase_add_test(tc, test_a_flag_blocks_the_payout_and_its_withdrawal_lifts_it);
	tcase_add_test(tc, test_a_future_dated_flag_takes_effect_by_itself);
	tcase_add_test(tc, test_no_payout_is_allowed_after_the_flag_commits_on_two_daemons);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(payees_suite)

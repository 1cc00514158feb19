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
#include "support/testdb.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct e2e_env env;
static char *lender1;
static char *antifraud;
static char *registry;
static char *compliance;
static char *auditor;

static void setup(void)
{
	e2e_start(&env, "payees", NULL);
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

#define RACE_LOANS 40
#define RACE_FIRST 5  /* answered before the flag is sent */
#define RACE_LAST  10 /* sent once the flag was answered */

struct racer {
	int port;
	int k;
	pthread_barrier_t *barrier;
	atomic_int *first_done;
	atomic_bool *flag_done;
	int status;
	char decision[16];
	char blockers[128];
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	char path[128];
	snprintf(path, sizeof path, "/v1/lenders/BANK1/loans/PRACE-%d/disbursement", r->k);
	pthread_barrier_wait(r->barrier);
	if (r->k >= RACE_LOANS - RACE_LAST)
		while (!atomic_load(r->flag_done))
			usleep(1000);
	else if (r->k >= RACE_FIRST)
		usleep((useconds_t)(r->k - RACE_FIRST) * 4000); /* spread over ~100 ms */
	struct http_resp resp;
	if (http_req(r->port, "POST", path, lender1,
	             "{\"payee\":{\"kind\":\"account\",\"id\":\"KZ-RACE\"}}", NULL, &resp) == 0) {
		r->status = resp.status;
		const char *d =
		    resp.json ? json_string_value(json_object_get(resp.json, "decision")) : NULL;
		snprintf(r->decision, sizeof r->decision, "%s", d ? d : "");
		json_t *b = resp.json ? json_object_get(resp.json, "blockers") : NULL;
		char *s = b ? json_dumps(b, JSON_COMPACT) : NULL;
		snprintf(r->blockers, sizeof r->blockers, "%s", s ? s : "");
		free(s);
		http_resp_free(&resp);
	}
	if (r->k < RACE_FIRST)
		atomic_fetch_add(r->first_done, 1);
	return NULL;
}

START_TEST(test_no_payout_is_allowed_after_the_flag_commits_on_two_daemons)
{
	struct daemon d2;
	ck_assert(daemon_start(&d2, env.db_url, NULL));
	struct e2e_env env2 = e2e_env_on(&env, d2.port);
	for (int k = 0; k < RACE_LOANS; k++) {
		char id[32];
		snprintf(id, sizeof id, "PRACE-%d", k);
		e2e_eligible_loan(k % 2 ? &env2 : &env, lender1, "BANK1", id, 200 + k);
	}

	static struct racer rs[RACE_LOANS];
	pthread_t th[RACE_LOANS];
	pthread_barrier_t barrier;
	atomic_int first_done = 0;
	atomic_bool flag_done = false;
	pthread_barrier_init(&barrier, NULL, RACE_LOANS + 1);
	for (int k = 0; k < RACE_LOANS; k++) {
		rs[k] = (struct racer){.port = k % 2 ? d2.port : env.d.port,
		                       .k = k,
		                       .barrier = &barrier,
		                       .first_done = &first_done,
		                       .flag_done = &flag_done};
		ck_assert_int_eq(pthread_create(&th[k], NULL, racer_main, &rs[k]), 0);
	}
	pthread_barrier_wait(&barrier);
	while (atomic_load(&first_done) < RACE_FIRST)
		usleep(1000);
	/* the flag, through the second daemon, while the others race */
	char body[256];
	change_body(body, sizeof body, true, -1, "afc", "RACE");
	struct http_resp r;
	put_flag(&env2, antifraud, "account", "KZ-RACE", body, &r);
	E2E_ASSERT_STATUS(&r, 201);
	http_resp_free(&r);
	atomic_store(&flag_done, true);
	for (int k = 0; k < RACE_LOANS; k++)
		pthread_join(th[k], NULL);
	pthread_barrier_destroy(&barrier);

	int allowed = 0, refused = 0;
	for (int k = 0; k < RACE_LOANS; k++) {
		bool ok = rs[k].status == 200 && !strcmp(rs[k].decision, "allowed");
		bool no = rs[k].status == 409 && !strcmp(rs[k].decision, "refused") &&
		          !strcmp(rs[k].blockers, "[\"payee_flagged\"]");
		ck_assert_msg(ok || no, "PRACE-%d: %d %s %s", k, rs[k].status, rs[k].decision,
		              rs[k].blockers);
		if (k < RACE_FIRST)
			ck_assert_msg(ok, "PRACE-%d was sent before the flag", k);
		if (k >= RACE_LOANS - RACE_LAST)
			ck_assert_msg(no, "PRACE-%d was sent after the flag's commit", k);
		allowed += ok;
		refused += no;
	}
	ck_assert_int_eq(allowed + refused, RACE_LOANS);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE loan_id LIKE 'PRACE-%' "
	                             "AND disbursed_at IS NOT NULL",
	                             NULL),
	                 allowed);
	/* the sealed chain: every allowed payout before the flag's event,
	 * every refusal after it */
	e2e_seal_until(&env,
	               "e.loan_id LIKE 'PRACE-%' OR (e.type = 'suspicious_payee_set' AND "
	               "e.detail->>'id' = $1)",
	               "KZ-RACE");
	long long flag_seq =
	    e2e_sql_num(&env,
	                "SELECT c.seq FROM audit_chain c JOIN audit_event e ON e.id = c.event_id "
	                "WHERE e.type = 'suspicious_payee_set' AND e.detail->>'id' = 'KZ-RACE'",
	                NULL);
	char seq[24];
	snprintf(seq, sizeof seq, "%lld", flag_seq);
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM audit_chain c JOIN audit_event e ON "
	                "e.id = c.event_id WHERE e.loan_id LIKE 'PRACE-%' AND e.type = "
	                "'disbursement_allowed' AND c.seq < $1::bigint",
	                seq, NULL),
	    allowed);
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM audit_chain c JOIN audit_event e ON "
	                "e.id = c.event_id WHERE e.loan_id LIKE 'PRACE-%' AND e.type = "
	                "'disbursement_refused' AND c.seq > $1::bigint AND "
	                "e.detail->'blockers' ? 'payee_flagged'",
	                seq, NULL),
	    refused);
	fprintf(stderr, "payees: race: %d allowed before the flag, %d refused after it\n", allowed,
	        refused);
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

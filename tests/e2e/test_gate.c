/*
 * End-to-end tests of the disbursement gate (CONTRACT.md, "Acts on a loan"):
 * refusals with their blockers in the contract's order, Retry-After and
 * earliest_disbursement_at while only the cooling period (2 s here) stands
 * in the way, the in-person rule, races of many clients (and of two daemons
 * on one database) for one payout, and Idempotency-Key replays. Every race
 * ends with SQL checks: one disbursement_allowed event per paid loan, and no
 * loan paid whose rules were unmet.
 */
#include "check_main.h"
#include "support/e2e.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COOLING_S    2
#define BIG_AMOUNT   "1000000.00" /* above 150 MRP in 2025 and 2026: cooled online */
#define SMALL_AMOUNT "1000.00"    /* never cooled */
#define RACERS       40

static const char *const daemon_env[] = {"COOLINGD_POLICY_COOLING_PERIOD=2s", NULL};

static struct e2e_env env;
static char *tok1; /* core1, lender BANK1 */
static char *tok2; /* core2, lender BANK2 */

static void setup(void)
{
	e2e_start(&env, "gate", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	e2e_lender_add(&env, "BANK2", "mfo");
	tok1 = e2e_client_add(&env, "core1", "lender", "BANK1");
	tok2 = e2e_client_add(&env, "core2", "lender", "BANK2");
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok1);
	free(tok2);
}

/* ---- steps ---- */

/* A refusal: 409, decision refused, the four fields, blockers as given. */
#define ASSERT_REFUSED(resp, ...)                                                                  \
	do {                                                                                       \
		E2E_ASSERT_STATUS((resp), 409);                                                    \
		E2E_ASSERT_JSTR((resp)->json, "decision", "refused");                              \
		ck_assert_msg(json_is_object(e2e_json_at((resp)->json, "loan")), "no loan: %s",    \
		              (resp)->body);                                                       \
		ck_assert_msg(e2e_json_at((resp)->json, "earliest_disbursement_at") != NULL,       \
		              "no earliest_disbursement_at: %s", (resp)->body);                    \
		e2e_assert_strings(e2e_json_at((resp)->json, "blockers"), "blockers", __VA_ARGS__, \
		                   NULL);                                                          \
	} while (0)

#define ASSERT_ALLOWED(resp)                                                                       \
	do {                                                                                       \
		E2E_ASSERT_STATUS((resp), 200);                                                    \
		E2E_ASSERT_JSTR((resp)->json, "decision", "allowed");                              \
		E2E_ASSERT_JSTR((resp)->json, "loan.status", "disbursed");                         \
		ck_assert_msg(e2e_jstr((resp)->json, "loan.disbursed_at") != NULL,                 \
		              "allowed without disbursed_at: %s", (resp)->body);                   \
	} while (0)

/* No loan in the database is paid out whose rules were unmet, and every paid
 * loan has exactly one disbursement_allowed event (and no other loan any). */
static void assert_gate_invariants(void)
{
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE disbursed_at IS NOT NULL "
	                             "AND (cancelled_at IS NOT NULL OR consent_at IS NULL "
	                             "OR (cooling_required AND (cooling_ends_at IS NULL "
	                             "     OR cooling_ends_at > disbursed_at)) "
	                             "OR (in_person_required AND in_person_verified_at IS NULL))",
	                             NULL),
	                 0);
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM loan l WHERE (l.disbursed_at IS NOT NULL) <> "
	                "((SELECT count(*) FROM audit_event a WHERE a.lender_id = l.lender_id "
	                "  AND a.loan_id = l.loan_id AND a.type = 'disbursement_allowed') = 1)",
	                NULL),
	    0);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event a WHERE a.type = "
	                             "'disbursement_allowed' AND NOT EXISTS (SELECT 1 FROM loan l "
	                             "WHERE l.lender_id = a.lender_id AND l.loan_id = a.loan_id "
	                             "AND l.disbursed_at IS NOT NULL)",
	                             NULL),
	                 0);
}

/* ---- cooling ---- */

START_TEST(test_cooled_loan_is_refused_with_retry_after_until_period_ends_then_allowed)
{
	struct http_resp r, ok, again;
	e2e_approve(&env, tok1, "BANK1", "COOL-1",
	            &(struct e2e_loan){.iin_seed = 1, .amount = BIG_AMOUNT}, &r);
	ck_assert(json_is_true(e2e_json_at(r.json, "cooling_required")));
	ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "cooling_period_seconds")),
	                 COOLING_S);
	http_resp_free(&r);
	e2e_consent(&env, tok1, "BANK1", "COOL-1");

	e2e_disburse(&env, tok1, "BANK1", "COOL-1", NULL, &r);
	ASSERT_REFUSED(&r, "cooling_period_active");
	E2E_ASSERT_JSTR(r.json, "loan.status", "cooling");
	int ra = e2e_retry_after(&r);
	ck_assert_msg(ra >= 1 && ra <= COOLING_S, "Retry-After %d, want 1..%d", ra, COOLING_S);
	const char *earliest = e2e_jstr(r.json, "earliest_disbursement_at");
	const char *ends = e2e_jstr(r.json, "loan.cooling_ends_at");
	ck_assert_ptr_nonnull(earliest);
	ck_assert_ptr_nonnull(ends);
	ck_assert_msg(e2e_ts_parse(earliest) == e2e_ts_parse(ends),
	              "earliest_disbursement_at %s != cooling_ends_at %s", earliest, ends);
	ck_assert_msg(e2e_ts_parse(ends) - e2e_ts_parse(e2e_jstr(r.json, "loan.consent_at")) ==
	                  COOLING_S * 1000000LL,
	              "cooling_ends_at is not consent_at + %d s", COOLING_S);
	int64_t ends_us = e2e_ts_parse(ends);

	/* Wait as Retry-After says, then once more while it still cools. */
	int refusals = 1;
	test_sleep_ms(ra * 1000L + 100);
	e2e_disburse(&env, tok1, "BANK1", "COOL-1", NULL, &ok);
	if (ok.status == 409 && e2e_retry_after(&ok) > 0) {
		http_resp_free(&ok);
		refusals++;
		test_sleep_ms(1100);
		e2e_disburse(&env, tok1, "BANK1", "COOL-1", NULL, &ok);
	}
	ASSERT_ALLOWED(&ok);
	ck_assert_ptr_null(http_header(&ok, "Retry-After"));
	ck_assert_msg(e2e_ts_parse(e2e_jstr(ok.json, "loan.disbursed_at")) >= ends_us,
	              "paid out before the cooling period ended: %s", ok.body);

	/* A second disbursement of the same loan: refused, already_disbursed. */
	e2e_disburse(&env, tok1, "BANK1", "COOL-1", NULL, &again);
	ASSERT_REFUSED(&again, "already_disbursed");
	E2E_ASSERT_JSTR(again.json, "loan.status", "disbursed");
	ck_assert(json_is_null(e2e_json_at(again.json, "earliest_disbursement_at")));
	ck_assert_ptr_null(http_header(&again, "Retry-After"));

	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "COOL-1", "disbursement_allowed"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "COOL-1", "disbursement_refused"),
	                 refusals + 1);
	http_resp_free(&r);
	http_resp_free(&ok);
	http_resp_free(&again);
}
END_TEST

START_TEST(test_missing_consent_and_visit_are_blockers_in_contract_order)
{
	struct http_resp r;
	/* First-time, unsecured, online, cooled, no consent yet. */
	e2e_approve(&env, tok1, "BANK1", "ORDER-1",
	            &(struct e2e_loan){
	                .iin_seed = 2, .amount = BIG_AMOUNT, .first_time = E2E_FIRST_TIME_BORROWER},
	            &r);
	ck_assert(json_is_true(e2e_json_at(r.json, "in_person_required")));
	http_resp_free(&r);

	e2e_disburse(&env, tok1, "BANK1", "ORDER-1", NULL, &r);
	ASSERT_REFUSED(&r, "consent_missing", "in_person_verification_missing");
	E2E_ASSERT_JSTR(r.json, "loan.status", "awaiting_consent");
	ck_assert(json_is_null(e2e_json_at(r.json, "earliest_disbursement_at")));
	ck_assert_ptr_null(http_header(&r, "Retry-After"));
	http_resp_free(&r);

	/* Consent starts the clock; the missing visit still keeps earliest null. */
	e2e_consent(&env, tok1, "BANK1", "ORDER-1");
	e2e_disburse(&env, tok1, "BANK1", "ORDER-1", NULL, &r);
	ASSERT_REFUSED(&r, "cooling_period_active", "in_person_verification_missing");
	E2E_ASSERT_JSTR(r.json, "loan.status", "cooling");
	ck_assert(json_is_null(e2e_json_at(r.json, "earliest_disbursement_at")));
	ck_assert_msg(http_header(&r, "Retry-After") == NULL,
	              "Retry-After although a visit is missing too");
	http_resp_free(&r);

	/* The period passes; only the visit is left. */
	test_sleep_ms(COOLING_S * 1000L + 200);
	e2e_disburse(&env, tok1, "BANK1", "ORDER-1", NULL, &r);
	ASSERT_REFUSED(&r, "in_person_verification_missing");
	E2E_ASSERT_JSTR(r.json, "loan.status", "awaiting_in_person");
	ck_assert(json_is_null(e2e_json_at(r.json, "earliest_disbursement_at")));
	ck_assert_ptr_null(http_header(&r, "Retry-After"));
	http_resp_free(&r);

	e2e_act_expect(&env, tok1, "BANK1", "ORDER-1", "in-person-verification",
	               "{\"branch_id\":\"ALM-01\",\"officer_id\":\"OF-7\"}", 200);
	e2e_disburse(&env, tok1, "BANK1", "ORDER-1", NULL, &r);
	ASSERT_ALLOWED(&r);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "ORDER-1", "disbursement_refused"), 3);
}
END_TEST

START_TEST(test_consent_alone_missing_is_refused_without_retry_after)
{
	struct http_resp r;
	e2e_approve(&env, tok1, "BANK1", "NOCONS-1",
	            &(struct e2e_loan){.iin_seed = 3, .amount = SMALL_AMOUNT}, &r);
	http_resp_free(&r);
	e2e_disburse(&env, tok1, "BANK1", "NOCONS-1", NULL, &r);
	ASSERT_REFUSED(&r, "consent_missing");
	E2E_ASSERT_JSTR(r.json, "loan.status", "awaiting_consent");
	ck_assert(json_is_null(e2e_json_at(r.json, "earliest_disbursement_at")));
	ck_assert_ptr_null(http_header(&r, "Retry-After"));
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM loan WHERE loan_id = 'NOCONS-1' AND disbursed_at "
	                "IS NULL",
	                NULL),
	    1);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_refusal_writes_disbursement_refused_audit_event_with_blockers)
{
	struct http_resp r;
	e2e_approve(&env, tok1, "BANK1", "AUD-1",
	            &(struct e2e_loan){
	                .iin_seed = 4, .amount = BIG_AMOUNT, .first_time = E2E_FIRST_TIME_BORROWER},
	            &r);
	http_resp_free(&r);
	e2e_disburse(&env, tok1, "BANK1", "AUD-1", NULL, &r);
	ASSERT_REFUSED(&r, "consent_missing", "in_person_verification_missing");
	http_resp_free(&r);
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM audit_event WHERE lender_id = 'BANK1' AND loan_id = "
	                "'AUD-1' AND type = 'disbursement_refused' AND actor = 'core1' AND "
	                "detail->'blockers' = '[\"consent_missing\", "
	                "\"in_person_verification_missing\"]'::jsonb",
	                NULL),
	    1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "AUD-1", "disbursement_allowed"), 0);

	/* The auditor reads it from GET /v1/audit once it is sealed. */
	char *aud = e2e_client_add(&env, "auditor1", "auditor", NULL);
	json_t *found = NULL;
	for (long long deadline = test_now_ms() + 30000; !found && test_now_ms() < deadline;) {
		long long after = 0;
		for (int page = 0; !found && page < 50; page++) {
			char path[64];
			snprintf(path, sizeof path, "/v1/audit?after=%lld&limit=1000", after);
			e2e_call(&env, "GET", path, aud, NULL, NULL, &r);
			E2E_ASSERT_STATUS(&r, 200);
			json_t *events = e2e_json_at(r.json, "events");
			size_t i;
			json_t *ev;
			json_array_foreach(events, i, ev)
			{
				const char *id = e2e_jstr(ev, "loan_id"),
				           *ty = e2e_jstr(ev, "type");
				if (id && ty && !strcmp(id, "AUD-1") &&
				    !strcmp(ty, "disbursement_refused"))
					found = json_incref(ev);
			}
			bool more = json_array_size(events) == 1000;
			after = json_integer_value(e2e_json_at(r.json, "next_after"));
			http_resp_free(&r);
			if (!more)
				break;
		}
		if (!found)
			test_sleep_ms(100);
	}
	ck_assert_msg(found != NULL, "no disbursement_refused event of AUD-1 in GET /v1/audit");
	E2E_ASSERT_JSTR(found, "actor", "core1");
	E2E_ASSERT_JSTR(found, "lender", "BANK1");
	e2e_assert_strings(e2e_json_at(found, "detail.blockers"), "detail.blockers",
	                   "consent_missing", "in_person_verification_missing", NULL);
	json_decref(found);
	free(aud);
}
END_TEST

/* ---- who needs a visit ---- */

START_TEST(test_secured_first_time_loan_needs_no_visit)
{
	struct http_resp r;
	e2e_approve(&env, tok1, "BANK1", "SEC-1",
	            &(struct e2e_loan){.iin_seed = 5,
	                               .amount = SMALL_AMOUNT,
	                               .secured = true,
	                               .first_time = E2E_FIRST_TIME_BORROWER},
	            &r);
	ck_assert(json_is_false(e2e_json_at(r.json, "in_person_required")));
	http_resp_free(&r);
	e2e_consent(&env, tok1, "BANK1", "SEC-1");
	e2e_disburse(&env, tok1, "BANK1", "SEC-1", NULL, &r);
	ASSERT_ALLOWED(&r);
	ck_assert(json_is_null(e2e_json_at(r.json, "loan.in_person_verified_at")));
	http_resp_free(&r);
}
END_TEST

START_TEST(test_repeat_borrower_needs_no_visit)
{
	struct http_resp r;
	/* Stated by the lender. */
	e2e_approve(&env, tok1, "BANK1", "REP-1",
	            &(struct e2e_loan){.iin_seed = 6, .amount = SMALL_AMOUNT}, &r);
	ck_assert(json_is_false(e2e_json_at(r.json, "in_person_required")));
	http_resp_free(&r);
	e2e_consent(&env, tok1, "BANK1", "REP-1");
	e2e_disburse(&env, tok1, "BANK1", "REP-1", NULL, &r);
	ASSERT_ALLOWED(&r);
	http_resp_free(&r);

	/* Left out: the paid-out REP-1 makes the same borrower a repeat one,
	 * also at another lender ... */
	e2e_approve(&env, tok2, "BANK2", "REP-2",
	            &(struct e2e_loan){.iin_seed = 6,
	                               .amount = SMALL_AMOUNT,
	                               .first_time = E2E_FIRST_TIME_UNSTATED},
	            &r);
	ck_assert(json_is_false(e2e_json_at(r.json, "first_time_borrower")));
	ck_assert(json_is_false(e2e_json_at(r.json, "in_person_required")));
	http_resp_free(&r);
	e2e_consent(&env, tok2, "BANK2", "REP-2");
	e2e_disburse(&env, tok2, "BANK2", "REP-2", NULL, &r);
	ASSERT_ALLOWED(&r);
	http_resp_free(&r);

	/* ... while a borrower with nothing paid out is first-time. */
	e2e_approve(&env, tok1, "BANK1", "REP-3",
	            &(struct e2e_loan){.iin_seed = 7,
	                               .amount = SMALL_AMOUNT,
	                               .first_time = E2E_FIRST_TIME_UNSTATED},
	            &r);
	ck_assert(json_is_true(e2e_json_at(r.json, "first_time_borrower")));
	ck_assert(json_is_true(e2e_json_at(r.json, "in_person_required")));
	http_resp_free(&r);
	e2e_consent(&env, tok1, "BANK1", "REP-3");
	e2e_disburse(&env, tok1, "BANK1", "REP-3", NULL, &r);
	ASSERT_REFUSED(&r, "in_person_verification_missing");
	http_resp_free(&r);
}
END_TEST

START_TEST(test_branch_loan_is_not_cooled_and_counts_as_visited)
{
	struct http_resp r;
	e2e_approve(&env, tok1, "BANK1", "BR-1",
	            &(struct e2e_loan){.iin_seed = 8,
	                               .amount = BIG_AMOUNT,
	                               .channel = "branch",
	                               .first_time = E2E_FIRST_TIME_BORROWER},
	            &r);
	ck_assert(json_is_false(e2e_json_at(r.json, "cooling_required")));
	ck_assert(json_is_true(e2e_json_at(r.json, "in_person_required")));
	ck_assert_msg(e2e_ts_parse(e2e_jstr(r.json, "in_person_verified_at")) ==
	                  e2e_ts_parse(e2e_jstr(r.json, "approved_at")),
	              "a branch loan is verified in person at approved_at: %s", r.body);
	http_resp_free(&r);
	e2e_consent(&env, tok1, "BANK1", "BR-1");
	e2e_disburse(&env, tok1, "BANK1", "BR-1", NULL, &r);
	ASSERT_ALLOWED(&r);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_cancelled_loan_is_refused_and_never_paid)
{
	struct http_resp r;
	e2e_eligible_loan(&env, tok1, "BANK1", "CAN-1", 9);
	e2e_act_expect(&env, tok1, "BANK1", "CAN-1", "cancellation",
	               "{\"reason\":\"borrower changed mind\"}", 200);
	e2e_disburse(&env, tok1, "BANK1", "CAN-1", NULL, &r);
	ASSERT_REFUSED(&r, "cancelled");
	E2E_ASSERT_JSTR(r.json, "loan.status", "cancelled");
	ck_assert(json_is_null(e2e_json_at(r.json, "earliest_disbursement_at")));
	ck_assert_ptr_null(http_header(&r, "Retry-After"));
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE loan_id = 'CAN-1' AND "
	                             "disbursed_at IS NULL AND cancelled_at IS NOT NULL",
	                             NULL),
	                 1);
}
END_TEST

/* ---- races ---- */

struct racer {
	pthread_barrier_t *barrier;
	int port;
	const char *token;
	const char *method;
	char path[200];
	char headers[128]; /* "" for none */
	const char *body;
	long delay_ms; /* after the barrier */
	int status;    /* 0: no answer */
	char *resp_body;
	char decision[16];
	char blockers[128]; /* compact JSON */
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct http_resp resp;
	pthread_barrier_wait(r->barrier);
	if (r->delay_ms > 0)
		test_sleep_ms(r->delay_ms);
	if (http_req(r->port, r->method, r->path, r->token, r->body,
	             r->headers[0] ? r->headers : NULL, &resp) != 0)
		return NULL;
	r->status = resp.status;
	r->resp_body = strdup(resp.body ? resp.body : "");
	const char *dec = e2e_jstr(resp.json, "decision");
	snprintf(r->decision, sizeof r->decision, "%s", dec ? dec : "");
	char *b = json_dumps(e2e_json_at(resp.json, "blockers"), JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(r->blockers, sizeof r->blockers, "%s", b ? b : "");
	free(b);
	http_resp_free(&resp);
	return NULL;
}

/* Starts every racer at once (one thread and connection each) and waits. */
static void run_race(struct racer *rs, int n)
{
	pthread_barrier_t barrier;
	pthread_t *th = calloc((size_t)n, sizeof *th);
	ck_assert_ptr_nonnull(th);
	pthread_barrier_init(&barrier, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		rs[i].barrier = &barrier;
		ck_assert_int_eq(pthread_create(&th[i], NULL, racer_main, &rs[i]), 0);
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	free(th);
}

static void racer_disburse(struct racer *r, int port, const char *token, const char *lender,
                           const char *loan_id, const char *idem_key)
{
	memset(r, 0, sizeof *r);
	r->port = port;
	r->token = token;
	r->method = "POST";
	r->body = "{}";
	snprintf(r->path, sizeof r->path, "/v1/lenders/%s/loans/%s/disbursement", lender, loan_id);
	if (idem_key)
		snprintf(r->headers, sizeof r->headers, "Idempotency-Key: %s\r\n", idem_key);
}

/* Exactly one allowed among rs[0..n), every other one refused with
 * already_disbursed; returns the number of refusals. */
static int assert_one_allowed(struct racer *rs, int n, const char *what)
{
	int allowed = 0, refused = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_msg(rs[i].status != 0, "%s: racer %d got no answer", what, i);
		if (rs[i].status == 200 && strcmp(rs[i].decision, "allowed") == 0)
			allowed++;
		else if (rs[i].status == 409 && strcmp(rs[i].decision, "refused") == 0 &&
		         strcmp(rs[i].blockers, "[\"already_disbursed\"]") == 0)
			refused++;
		else
			ck_abort_msg("%s: racer %d: unexpected %d %s", what, i, rs[i].status,
			             rs[i].resp_body);
	}
	ck_assert_msg(allowed == 1, "%s: %d allowed answers, want exactly 1", what, allowed);
	return refused;
}

static void free_racers(struct racer *rs, int n)
{
	for (int i = 0; i < n; i++)
		free(rs[i].resp_body);
}

START_TEST(test_race_of_40_clients_for_one_loan_gives_exactly_one_allowed)
{
	static struct racer rs[RACERS];
	e2e_eligible_loan(&env, tok1, "BANK1", "RACE-1", 20);
	for (int i = 0; i < RACERS; i++)
		racer_disburse(&rs[i], env.d.port, tok1, "BANK1", "RACE-1", NULL);
	run_race(rs, RACERS);
	int refused = assert_one_allowed(rs, RACERS, "RACE-1");
	ck_assert_int_eq(refused, RACERS - 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "RACE-1", "disbursement_allowed"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "RACE-1", "disbursement_refused"),
	                 RACERS - 1);
	free_racers(rs, RACERS);
	assert_gate_invariants();
}
END_TEST

START_TEST(test_race_across_two_daemons_on_one_database_gives_exactly_one_allowed)
{
	static struct racer rs[RACERS];
	struct daemon d2;
	ck_assert_msg(daemon_start(&d2, env.db_url, daemon_env), "second coolingd did not start");
	for (int round = 0; round < 3; round++) {
		char loan_id[32];
		snprintf(loan_id, sizeof loan_id, "RACE2-%d", round);
		e2e_eligible_loan(&env, tok1, "BANK1", loan_id, 30 + (unsigned)round);
		for (int i = 0; i < RACERS; i++)
			racer_disburse(&rs[i], i % 2 ? d2.port : env.d.port, tok1, "BANK1", loan_id,
			               NULL);
		run_race(rs, RACERS);
		assert_one_allowed(rs, RACERS, loan_id);
		ck_assert_int_eq(e2e_audit_count(&env, "BANK1", loan_id, "disbursement_allowed"),
		                 1);
		free_racers(rs, RACERS);
	}
	ck_assert_int_eq(daemon_stop(&d2), 0);
	assert_gate_invariants();
}
END_TEST

START_TEST(test_races_for_several_loans_at_once_give_one_allowed_per_loan)
{
	enum { LOANS = 8, PER_LOAN = 8 };
	static struct racer rs[LOANS * PER_LOAN];
	char ids[LOANS][32];
	for (int l = 0; l < LOANS; l++) {
		snprintf(ids[l], sizeof ids[l], "MULTI-%d", l);
		e2e_eligible_loan(&env, tok1, "BANK1", ids[l], 40 + (unsigned)l);
	}
	/* Interleaved, so that the loans' racers meet in every worker. */
	for (int i = 0; i < LOANS * PER_LOAN; i++)
		racer_disburse(&rs[i], env.d.port, tok1, "BANK1", ids[i % LOANS], NULL);
	run_race(rs, LOANS * PER_LOAN);
	for (int l = 0; l < LOANS; l++) {
		struct racer mine[PER_LOAN];
		for (int k = 0; k < PER_LOAN; k++)
			mine[k] = rs[k * LOANS + l];
		assert_one_allowed(mine, PER_LOAN, ids[l]);
		ck_assert_int_eq(e2e_audit_count(&env, "BANK1", ids[l], "disbursement_allowed"), 1);
	}
	free_racers(rs, LOANS * PER_LOAN);
	assert_gate_invariants();
}
END_TEST

START_TEST(test_race_across_the_end_of_the_cooling_period_pays_once_and_never_early)
{
	static struct racer rs[RACERS];
	struct http_resp r;
	e2e_approve(&env, tok1, "BANK1", "EDGE-1",
	            &(struct e2e_loan){.iin_seed = 70, .amount = BIG_AMOUNT}, &r);
	http_resp_free(&r);
	e2e_consent(&env, tok1, "BANK1", "EDGE-1");
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/EDGE-1", tok1, NULL, NULL, &r);
	int64_t ends = e2e_ts_parse(e2e_jstr(r.json, "cooling_ends_at"));
	http_resp_free(&r);
	ck_assert(ends != INT64_MIN);

	/* Racers every 10 ms from 150 ms before the end to 240 ms after it. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	long wait = (long)((ends - now_us) / 1000) - 150;
	if (wait > 0)
		test_sleep_ms(wait);
	for (int i = 0; i < RACERS; i++) {
		racer_disburse(&rs[i], env.d.port, tok1, "BANK1", "EDGE-1", NULL);
		rs[i].delay_ms = 10L * i;
	}
	run_race(rs, RACERS);
	int allowed = 0, cooling = 0;
	for (int i = 0; i < RACERS; i++) {
		if (rs[i].status == 200 && strcmp(rs[i].decision, "allowed") == 0)
			allowed++;
		else if (strcmp(rs[i].blockers, "[\"cooling_period_active\"]") == 0)
			cooling++;
		else
			ck_assert_msg(
			    rs[i].status == 409 &&
			        (strcmp(rs[i].blockers, "[\"cooling_period_active\"]") == 0 ||
			         strcmp(rs[i].blockers, "[\"already_disbursed\"]") == 0),
			    "racer %d: %d %s", i, rs[i].status, rs[i].resp_body);
	}
	free_racers(rs, RACERS);
	fprintf(stderr, "gate: across the end of cooling: %d refused as cooling, %d allowed\n",
	        cooling, allowed);
	ck_assert_int_eq(allowed, 1);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE loan_id = 'EDGE-1' AND "
	                             "disbursed_at >= cooling_ends_at",
	                             NULL),
	                 1);
	assert_gate_invariants();
}
END_TEST

START_TEST(test_race_of_disbursement_and_cancellation_never_does_both)
{
	enum { ROUNDS = 6 };
	for (int round = 0; round < ROUNDS; round++) {
		struct racer rs[2];
		char loan_id[32];
		snprintf(loan_id, sizeof loan_id, "DVC-%d", round);
		e2e_eligible_loan(&env, tok1, "BANK1", loan_id, 60 + (unsigned)round);
		racer_disburse(&rs[0], env.d.port, tok1, "BANK1", loan_id, NULL);
		memset(&rs[1], 0, sizeof rs[1]);
		rs[1].port = env.d.port;
		rs[1].token = tok1;
		rs[1].method = "POST";
		rs[1].body = "{\"reason\":\"borrower called the bank\"}";
		snprintf(rs[1].path, sizeof rs[1].path, "/v1/lenders/BANK1/loans/%s/cancellation",
		         loan_id);
		run_race(rs, 2);
		bool paid = rs[0].status == 200, cancelled = rs[1].status == 200;
		ck_assert_msg(paid != cancelled, "%s: disbursement %d %s, cancellation %d %s",
		              loan_id, rs[0].status, rs[0].resp_body, rs[1].status,
		              rs[1].resp_body);
		if (paid)
			ck_assert_int_eq(rs[1].status, 409); /* invalid_state */
		else
			ck_assert_msg(rs[0].status == 409 &&
			                  strncmp(rs[0].blockers, "[\"cancelled\"", 12) == 0,
			              "%s: %d %s", loan_id, rs[0].status, rs[0].resp_body);
		free_racers(rs, 2);
	}
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE disbursed_at IS NOT NULL "
	                             "AND cancelled_at IS NOT NULL",
	                             NULL),
	                 0);
	assert_gate_invariants();
}
END_TEST

/* ---- Idempotency-Key ---- */

START_TEST(test_replay_of_allowed_disbursement_gives_same_decision_and_loan)
{
	struct http_resp first, again, nokey;
	e2e_eligible_loan(&env, tok1, "BANK1", "IDEM-A", 80);
	e2e_disburse(&env, tok1, "BANK1", "IDEM-A", "pay-IDEM-A-1", &first);
	ASSERT_ALLOWED(&first);
	e2e_disburse(&env, tok1, "BANK1", "IDEM-A", "pay-IDEM-A-1", &again);
	ASSERT_ALLOWED(&again);
	ck_assert_msg(json_equal(e2e_json_at(first.json, "loan"), e2e_json_at(again.json, "loan")),
	              "replay differs:\n%s\n%s", first.body, again.body);
	/* Without the key it is a new request, refused. */
	e2e_disburse(&env, tok1, "BANK1", "IDEM-A", NULL, &nokey);
	ASSERT_REFUSED(&nokey, "already_disbursed");
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-A", "disbursement_allowed"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-A", "disbursement_refused"), 1);
	http_resp_free(&first);
	http_resp_free(&again);
	http_resp_free(&nokey);
}
END_TEST

START_TEST(test_replay_of_refusal_is_byte_identical_even_after_the_loan_changed)
{
	struct http_resp first, again, paid, late;
	struct http_resp r;
	e2e_approve(&env, tok1, "BANK1", "IDEM-R",
	            &(struct e2e_loan){.iin_seed = 81, .amount = SMALL_AMOUNT}, &r);
	http_resp_free(&r);
	e2e_disburse(&env, tok1, "BANK1", "IDEM-R", "pay-IDEM-R-1", &first);
	ASSERT_REFUSED(&first, "consent_missing");

	e2e_consent(&env, tok1, "BANK1", "IDEM-R"); /* now eligible */
	e2e_disburse(&env, tok1, "BANK1", "IDEM-R", "pay-IDEM-R-1", &again);
	E2E_ASSERT_STATUS(&again, 409);
	ck_assert_msg(again.body_len == first.body_len &&
	                  memcmp(again.body, first.body, first.body_len) == 0,
	              "replayed refusal differs:\n%s\n%s", first.body, again.body);

	/* A new key is a new decision ... */
	e2e_disburse(&env, tok1, "BANK1", "IDEM-R", "pay-IDEM-R-2", &paid);
	ASSERT_ALLOWED(&paid);
	/* ... and the old key still answers the old refusal. */
	e2e_disburse(&env, tok1, "BANK1", "IDEM-R", "pay-IDEM-R-1", &late);
	E2E_ASSERT_STATUS(&late, 409);
	ck_assert_msg(late.body_len == first.body_len &&
	                  memcmp(late.body, first.body, first.body_len) == 0,
	              "replayed refusal differs after payout:\n%s\n%s", first.body, late.body);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-R", "disbursement_refused"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-R", "disbursement_allowed"), 1);
	http_resp_free(&first);
	http_resp_free(&again);
	http_resp_free(&paid);
	http_resp_free(&late);
}
END_TEST

START_TEST(test_replay_of_cooling_refusal_keeps_body_and_sends_retry_after)
{
	struct http_resp r, first, again;
	e2e_approve(&env, tok1, "BANK1", "IDEM-C",
	            &(struct e2e_loan){.iin_seed = 82, .amount = BIG_AMOUNT}, &r);
	http_resp_free(&r);
	e2e_consent(&env, tok1, "BANK1", "IDEM-C");
	e2e_disburse(&env, tok1, "BANK1", "IDEM-C", "pay-IDEM-C", &first);
	ASSERT_REFUSED(&first, "cooling_period_active");
	test_sleep_ms(600);
	e2e_disburse(&env, tok1, "BANK1", "IDEM-C", "pay-IDEM-C", &again);
	E2E_ASSERT_STATUS(&again, 409);
	ck_assert_str_eq(again.body, first.body);
	int ra = e2e_retry_after(&again);
	ck_assert_msg(ra >= 1 && ra <= COOLING_S, "replay Retry-After %d", ra);
	http_resp_free(&first);
	http_resp_free(&again);
}
END_TEST

START_TEST(test_idempotency_key_reused_for_another_loan_is_422)
{
	struct http_resp a, b;
	e2e_eligible_loan(&env, tok1, "BANK1", "IDEM-K1", 83);
	e2e_eligible_loan(&env, tok1, "BANK1", "IDEM-K2", 84);
	e2e_disburse(&env, tok1, "BANK1", "IDEM-K1", "pay-once", &a);
	ASSERT_ALLOWED(&a);
	e2e_disburse(&env, tok1, "BANK1", "IDEM-K2", "pay-once", &b);
	E2E_ASSERT_ERROR(&b, 422, "validation_failed", "Idempotency-Key");
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-K2", "disbursement_allowed"), 0);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-K2", "disbursement_refused"), 0);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE loan_id = 'IDEM-K2' AND "
	                             "disbursed_at IS NULL",
	                             NULL),
	                 1);
	http_resp_free(&a);
	http_resp_free(&b);
}
END_TEST

START_TEST(test_idempotency_key_is_scoped_to_the_lender)
{
	struct http_resp a, b;
	e2e_eligible_loan(&env, tok1, "BANK1", "IDEM-S", 85);
	e2e_eligible_loan(&env, tok2, "BANK2", "IDEM-S", 86);
	e2e_disburse(&env, tok1, "BANK1", "IDEM-S", "same-key-other-lender", &a);
	ASSERT_ALLOWED(&a);
	e2e_disburse(&env, tok2, "BANK2", "IDEM-S", "same-key-other-lender", &b);
	ASSERT_ALLOWED(&b);
	E2E_ASSERT_JSTR(b.json, "loan.lender", "BANK2");
	ck_assert_int_eq(e2e_audit_count(&env, "BANK2", "IDEM-S", "disbursement_allowed"), 1);
	http_resp_free(&a);
	http_resp_free(&b);
}
END_TEST

START_TEST(test_idempotency_key_longer_than_64_characters_is_422)
{
	struct http_resp r;
	char key[70];
	memset(key, 'k', 65);
	key[65] = '\0';
	e2e_eligible_loan(&env, tok1, "BANK1", "IDEM-L", 87);
	e2e_disburse(&env, tok1, "BANK1", "IDEM-L", key, &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "Idempotency-Key");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-L", "disbursement_allowed"), 0);
}
END_TEST

START_TEST(test_concurrent_requests_with_one_key_get_one_answer_and_one_decision)
{
	enum { N = 20 };
	static struct racer rs[N];

	/* An eligible loan: every racer gets the one allowed answer. */
	e2e_eligible_loan(&env, tok1, "BANK1", "IDEM-CC", 88);
	for (int i = 0; i < N; i++)
		racer_disburse(&rs[i], env.d.port, tok1, "BANK1", "IDEM-CC", "pay-IDEM-CC");
	run_race(rs, N);
	json_t *first = NULL;
	for (int i = 0; i < N; i++) {
		ck_assert_msg(rs[i].status == 200 && strcmp(rs[i].decision, "allowed") == 0,
		              "racer %d: %d %s", i, rs[i].status, rs[i].resp_body);
		json_t *root = json_loads(rs[i].resp_body, 0, NULL);
		json_t *loan = json_object_get(root, "loan");
		ck_assert_ptr_nonnull(loan);
		if (!first)
			first = json_incref(loan);
		else
			ck_assert_msg(json_equal(first, loan), "racer %d: other loan: %s", i,
			              rs[i].resp_body);
		json_decref(root);
	}
	json_decref(first);
	free_racers(rs, N);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-CC", "disbursement_allowed"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-CC", "disbursement_refused"), 0);

	/* A refused one: every racer gets the same refusal, decided once. */
	struct http_resp r;
	e2e_approve(&env, tok1, "BANK1", "IDEM-CR",
	            &(struct e2e_loan){.iin_seed = 89, .amount = SMALL_AMOUNT}, &r);
	http_resp_free(&r);
	for (int i = 0; i < N; i++)
		racer_disburse(&rs[i], env.d.port, tok1, "BANK1", "IDEM-CR", "pay-IDEM-CR");
	run_race(rs, N);
	for (int i = 0; i < N; i++) {
		ck_assert_msg(rs[i].status == 409 &&
		                  strcmp(rs[i].blockers, "[\"consent_missing\"]") == 0,
		              "racer %d: %d %s", i, rs[i].status, rs[i].resp_body);
		ck_assert_str_eq(rs[i].resp_body, rs[0].resp_body);
	}
	free_racers(rs, N);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "IDEM-CR", "disbursement_refused"), 1);
	assert_gate_invariants();
}
END_TEST

/* Last: nothing that ran before paid out a loan whose rules were unmet. */
START_TEST(test_no_loan_is_ever_disbursed_with_rules_unmet)
{
	assert_gate_invariants();
	ck_assert_int_gt(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE disbursed_at IS NOT "
	                             "NULL",
	                             NULL),
	                 10);
}
END_TEST

static Suite *gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("gate");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc,
	               test_cooled_loan_is_refused_with_retry_after_until_period_ends_then_allowed);
	tcase_add_test(tc, test_missing_consent_and_visit_are_blockers_in_contract_order);
	tcase_add_test(tc, test_consent_alone_missing_is_refused_without_retry_after);
	tcase_add_test(tc, test_refusal_writes_disbursement_refused_audit_event_with_blockers);
	tcase_add_test(tc, test_secured_first_time_loan_needs_no_visit);
	tcase_add_test(tc, test_repeat_borrower_needs_no_visit);
	tcase_add_test(tc, test_branch_loan_is_not_cooled_and_counts_as_visited);
	tcase_add_test(tc, test_cancelled_loan_is_refused_and_never_paid);
	tcase_add_test(tc, test_race_of_40_clients_for_one_loan_gives_exactly_one_allowed);
	tcase_add_test(tc, test_race_across_two_daemons_on_one_database_gives_exactly_one_allowed);
	tcase_add_test(tc, test_races_for_several_loans_at_once_give_one_allowed_per_loan);
	tcase_add_test(tc,
	               test_race_across_the_end_of_the_cooling_period_pays_once_and_never_early);
	tcase_add_test(tc, test_race_of_disbursement_and_cancellation_never_does_both);
	tcase_add_test(tc, test_replay_of_allowed_disbursement_gives_same_decision_and_loan);
	tcase_add_test(tc, test_replay_of_refusal_is_byte_identical_even_after_the_loan_changed);
	tcase_add_test(tc, test_replay_of_cooling_refusal_keeps_body_and_sends_retry_after);
	tcase_add_test(tc, test_idempotency_key_reused_for_another_loan_is_422);
	tcase_add_test(tc, test_idempotency_key_is_scoped_to_the_lender);
	tcase_add_test(tc, test_idempotency_key_longer_than_64_characters_is_422);
	tcase_add_test(tc, test_concurrent_requests_with_one_key_get_one_answer_and_one_decision);
	tcase_add_test(tc, test_no_loan_is_ever_disbursed_with_rules_unmet);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(gate_suite)

/*
 * End-to-end tests of a loan's events and the decision statistics
 * (CONTRACT.md v1.1, "Per-loan events and decision statistics";
 * docs/queries.md), against the real coolingd and PostgreSQL:
 *
 * - roles: the lender its own loans and decisions only (403 for another
 *   lender's), compliance and auditor everything, no token 401;
 * - GET .../loans/{loan_id}/events: the loan's events in chain order after
 *   approval, refusals, consent and an allowed disbursement, each equal to
 *   the same seq's event of GET /v1/audit, no other loan's; paging with
 *   after/limit; 404 for an unknown loan; 422 naming a bad parameter;
 * - GET /v1/stats/decisions: the totals of a known set of decisions per
 *   hour and per Almaty day, empty buckets listed, a refusal counted once
 *   and once per blocker, the lender filter, the Almaty midnight boundary
 *   (events written directly in SQL, which the sealer then counts), and 422
 *   naming from, to, bucket or lender, with at most 1000 buckets.
 *
 * One database and one daemon for the program, with a 30 s cooling period.
 * Each test uses lenders of its own.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "support/e2e.h"

#define USEC   1000000LL
#define MINUTE (60 * USEC)
#define HOUR   (60 * MINUTE)

static struct e2e_env env;
static char *tok_comp;  /* compliance */
static char *tok_audit; /* auditor */
static char *tok_ev1;   /* lender EV1 */
static char *tok_ev2;   /* lender EV2 */
static char *tok_st1;   /* lender ST1 */
static char *tok_st2;   /* lender ST2 */

static const char *const daemon_env[] = {"COOLINGD_POLICY_COOLING_PERIOD=30s", NULL};

static void setup(void)
{
	e2e_start(&env, "e2e_events_stats", daemon_env);
	e2e_lender_add(&env, "EV1", "bank");
	e2e_lender_add(&env, "EV2", "bank");
	e2e_lender_add(&env, "ST1", "bank");
	e2e_lender_add(&env, "ST2", "mfo");
	tok_comp = e2e_client_add(&env, "comp1", "compliance", NULL);
	tok_audit = e2e_client_add(&env, "audit1", "auditor", NULL);
	tok_ev1 = e2e_client_add(&env, "ev1-core", "lender", "EV1");
	tok_ev2 = e2e_client_add(&env, "ev2-core", "lender", "EV2");
	tok_st1 = e2e_client_add(&env, "st1-core", "lender", "ST1");
	tok_st2 = e2e_client_add(&env, "st2-core", "lender", "ST2");
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok_comp);
	free(tok_audit);
	free(tok_ev1);
	free(tok_ev2);
	free(tok_st1);
	free(tok_st2);
}

/* ---- helpers ---- */

static void get(const char *token, const char *path, struct http_resp *out)
{
	e2e_call(&env, "GET", path, token, NULL, NULL, out);
}

/* us as "YYYY-MM-DDTHH:MM:SSZ" (whole seconds). */
static void utc(char out[32], int64_t us)
{
	time_t t = (time_t)(us / USEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Sealed events in the database, by SQL. */
static long long sealed_events(const char *lender, const char *loan_id)
{
	return e2e_sql_num(&env,
	                   "SELECT count(*) FROM audit_chain c JOIN audit_event e "
	                   "ON e.id = c.event_id WHERE e.lender_id = $1 AND e.loan_id = $2",
	                   lender, loan_id, NULL);
}

/* Waits until every audit event written so far is sealed (the sealer runs
 * every 200 ms), at most 30 s. */
static void wait_sealed(void)
{
	int64_t deadline = e2e_wall_us() + 30 * USEC;
	while (e2e_sql_num(&env,
	                   "SELECT count(*) FROM audit_event e WHERE NOT EXISTS "
	                   "(SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)",
	                   NULL) > 0) {
		ck_assert_msg(e2e_wall_us() < deadline, "events not sealed after 30 s");
		usleep(50000);
	}
}

/* GET path, asserting 200; the answer in *r. */
static void get_ok(const char *token, const char *path, struct http_resp *r)
{
	get(token, path, r);
	ck_assert_msg(r->status == 200, "%s: %d %s", path, r->status, r->body ? r->body : "");
}

static void disburse_expect(const char *token, const char *lender, const char *loan_id, int want)
{
	struct http_resp r;
	e2e_disburse(&env, token, lender, loan_id, NULL, &r);
	E2E_ASSERT_STATUS(&r, want);
	http_resp_free(&r);
}

/* ---- roles ---- */

START_TEST(test_roles_lender_own_only_compliance_and_auditor_all)
{
	e2e_approve(&env, tok_ev1, "EV1", "R1", NULL, NULL);
	static const char events[] = "/v1/lenders/EV1/loans/R1/events";
	char stats[160], from[32], to[32];
	utc(from, e2e_wall_us() - HOUR);
	utc(to, e2e_wall_us() + HOUR);
	snprintf(stats, sizeof stats, "/v1/stats/decisions?from=%s&to=%s", from, to);
	struct http_resp r;
	const char *const readers[] = {tok_ev1, tok_comp, tok_audit};
	for (size_t i = 0; i < 3; i++) {
		get_ok(readers[i], events, &r);
		http_resp_free(&r);
		get_ok(readers[i], stats, &r);
		http_resp_free(&r);
	}
	/* another lender's loan: 403 before anything is looked up, the loan
	 * existing or not */
	get(tok_ev2, events, &r);
	E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
	http_resp_free(&r);
	get(tok_ev2, "/v1/lenders/EV1/loans/NO-SUCH/events?limit=0", &r);
	E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
	http_resp_free(&r);
	/* another lender's decisions: 403; its own named: 200 */
	char path[256];
	snprintf(path, sizeof path, "%s&lender=EV1", stats);
	get(tok_ev2, path, &r);
	E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
	http_resp_free(&r);
	get_ok(tok_ev1, path, &r);
	http_resp_free(&r);
	/* no token */
	get(NULL, events, &r);
	E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
	http_resp_free(&r);
	get(NULL, stats, &r);
	E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
	http_resp_free(&r);
	/* only GET */
	e2e_call(&env, "POST", events, tok_ev1, "{}", NULL, &r);
	E2E_ASSERT_ERROR(&r, 405, "method_not_allowed", NULL);
	http_resp_free(&r);
	e2e_call(&env, "POST", "/v1/stats/decisions", tok_comp, "{}", NULL, &r);
	E2E_ASSERT_ERROR(&r, 405, "method_not_allowed", NULL);
	http_resp_free(&r);
}
END_TEST

/* ---- a loan's events ---- */

/* The events of GET .../events (all of it, one page of 1000). */
static json_t *loan_events(const char *token, const char *lender, const char *loan_id,
                           const char *query)
{
	char path[256];
	snprintf(path, sizeof path, "/v1/lenders/%s/loans/%s/events%s%s", lender, loan_id,
	         query ? "?" : "", query ? query : "");
	struct http_resp r;
	get_ok(token, path, &r);
	json_t *ev = json_incref(e2e_json_at(r.json, "events"));
	ck_assert_msg(json_is_array(ev) && json_object_size(r.json) == 1, "%s: shape %s", path,
	              r.body);
	http_resp_free(&r);
	return ev;
}

START_TEST(test_events_of_a_loan_in_order_as_in_the_audit_trail)
{
	int64_t now = e2e_wall_us();
	char approved[32], consent[32];
	/* A1: cooled; refused without consent, consented, refused while cooling */
	e2e_approve(&env, tok_ev1, "EV1", "A1",
	            &(struct e2e_loan){.iin_seed = 11, .amount = E2E_BIG_AMOUNT}, NULL);
	disburse_expect(tok_ev1, "EV1", "A1", 409);
	e2e_consent(&env, tok_ev1, "EV1", "A1");
	disburse_expect(tok_ev1, "EV1", "A1", 409);
	/* another loan in between, of the same lender and of another, with the
	 * same loan_id */
	e2e_approve(&env, tok_ev1, "EV1", "A2", &(struct e2e_loan){.iin_seed = 12}, NULL);
	e2e_approve(&env, tok_ev2, "EV2", "A1", &(struct e2e_loan){.iin_seed = 13}, NULL);
	/* A3: cooling over long ago: allowed */
	utc(approved, now - 40 * MINUTE);
	utc(consent, now - 35 * MINUTE);
	e2e_approve(&env, tok_ev1, "EV1", "A3",
	            &(struct e2e_loan){.iin_seed = 14,
	                               .amount = E2E_BIG_AMOUNT,
	                               .secured = true,
	                               .approved_at = approved,
	                               .consent_at = consent},
	            NULL);
	disburse_expect(tok_ev1, "EV1", "A3", 200);
	wait_sealed();

	json_t *ev = loan_events(tok_comp, "EV1", "A1", NULL);
	size_t n = json_array_size(ev);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(n, sealed_events("EV1", "A1"));
	static const char *const types[] = {"approval_recorded", "disbursement_refused",
	                                    "consent_recorded", "disbursement_refused"};
	long long first = 0, prev = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(ev, i);
		E2E_ASSERT_JSTR(e, "type", types[i]);
		E2E_ASSERT_JSTR(e, "lender", "EV1");
		E2E_ASSERT_JSTR(e, "loan_id", "A1");
		long long seq = json_integer_value(json_object_get(e, "seq"));
		ck_assert_msg(seq > prev, "seq %lld after %lld", seq, prev);
		if (i == 0)
			first = seq;
		prev = seq;
		/* exactly the event that GET /v1/audit gives for this seq */
		char path[96];
		snprintf(path, sizeof path, "/v1/audit?after=%lld&limit=1", seq - 1);
		struct http_resp a;
		get_ok(tok_audit, path, &a);
		json_t *same = json_array_get(e2e_json_at(a.json, "events"), 0);
		char *mine = json_dumps(e, JSON_SORT_KEYS),
		     *theirs = json_dumps(same, JSON_SORT_KEYS);
		ck_assert_msg(json_equal(e, same), "seq %lld: %s differs from /v1/audit's %s", seq,
		              mine, theirs);
		free(mine);
		free(theirs);
		http_resp_free(&a);
	}
	e2e_assert_strings(e2e_json_at(json_array_get(ev, 1), "detail.blockers"), "first refusal",
	                   "consent_missing", NULL);
	e2e_assert_strings(e2e_json_at(json_array_get(ev, 3), "detail.blockers"), "second refusal",
	                   "cooling_period_active", NULL);

	/* the same for the lender itself and the auditor */
	json_t *own = loan_events(tok_ev1, "EV1", "A1", NULL);
	json_t *aud = loan_events(tok_audit, "EV1", "A1", NULL);
	ck_assert(json_equal(own, ev) && json_equal(aud, ev));
	json_decref(own);
	json_decref(aud);

	/* paging: limit, then after the last seq of a page */
	json_t *p1 = loan_events(tok_comp, "EV1", "A1", "limit=3");
	ck_assert_int_eq(json_array_size(p1), 3);
	char q[64];
	snprintf(q, sizeof q, "after=%lld&limit=3",
	         (long long)json_integer_value(json_object_get(json_array_get(p1, 2), "seq")));
	json_t *p2 = loan_events(tok_comp, "EV1", "A1", q);
	ck_assert_int_eq(json_array_size(p2), 1);
	ck_assert(json_equal(json_array_get(p2, 0), json_array_get(ev, 3)));
	snprintf(q, sizeof q, "after=%lld", prev);
	json_t *p3 = loan_events(tok_comp, "EV1", "A1", q);
	ck_assert_int_eq(json_array_size(p3), 0);
	snprintf(q, sizeof q, "after=%lld&limit=1", first);
	json_t *p4 = loan_events(tok_comp, "EV1", "A1", q);
	ck_assert(json_equal(json_array_get(p4, 0), json_array_get(ev, 1)));
	json_decref(p1);
	json_decref(p2);
	json_decref(p3);
	json_decref(p4);
	json_decref(ev);

	/* the allowed payout */
	ev = loan_events(tok_ev1, "EV1", "A3", NULL);
	ck_assert_int_eq(json_array_size(ev), 2);
	E2E_ASSERT_JSTR(json_array_get(ev, 0), "type", "approval_recorded");
	E2E_ASSERT_JSTR(json_array_get(ev, 1), "type", "disbursement_allowed");
	json_decref(ev);
	/* EV2's A1 is another loan */
	ev = loan_events(tok_ev2, "EV2", "A1", NULL);
	ck_assert_int_eq(json_array_size(ev), 1);
	json_decref(ev);
}
END_TEST

START_TEST(test_events_unknown_loan_404_bad_parameters_422)
{
	e2e_approve(&env, tok_ev1, "EV1", "B1", &(struct e2e_loan){.iin_seed = 21}, NULL);
	struct http_resp r;
	get(tok_comp, "/v1/lenders/EV1/loans/NO-SUCH/events", &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	get(tok_comp, "/v1/lenders/NOBODY/loans/B1/events", &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	get(tok_ev1, "/v1/lenders/EV1/loans/NO-SUCH/events", &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	static const struct {
		const char *query, *field;
	} bad[] = {
	    {"limit=0", "limit"},         {"limit=1001", "limit"}, {"limit=abc", "limit"},
	    {"limit=", "limit"},          {"after=-1", "after"},   {"after=x", "after"},
	    {"after=1&after=2", "after"}, {"from=1", "from"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, "/v1/lenders/EV1/loans/B1/events?%s", bad[i].query);
		get(tok_ev1, path, &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", bad[i].field),
		              "%s: expected 422 with field %s, got %d: %s", path, bad[i].field,
		              r.status, r.body);
		http_resp_free(&r);
	}
	get_ok(tok_ev1, "/v1/lenders/EV1/loans/B1/events?limit=1000&after=0", &r);
	http_resp_free(&r);
}
END_TEST

/* ---- decision statistics ---- */

struct totals {
	long long allowed, refused, consent, cooling, in_person, buckets, empty;
};

/* GET /v1/stats/decisions?QUERY, 200, each bucket checked for its shape and
 * consecutive starts `step` µs apart (0: any); the sums in *t. */
static void stats_sum(const char *token, const char *query, int64_t step, struct totals *t)
{
	char path[512];
	snprintf(path, sizeof path, "/v1/stats/decisions?%s", query);
	struct http_resp r;
	get_ok(token, path, &r);
	memset(t, 0, sizeof *t);
	json_t *buckets = e2e_json_at(r.json, "buckets");
	ck_assert_msg(json_is_array(buckets) && json_object_size(r.json) == 1, "%s: %s", path,
	              r.body);
	int64_t prev = 0;
	size_t i;
	json_t *b;
	json_array_foreach(buckets, i, b)
	{
		const char *start = e2e_jstr(b, "start");
		ck_assert_msg(json_object_size(b) == 4 && e2e_is_utc_z(start), "%s: bucket %s",
		              path, r.body);
		int64_t s = e2e_ts_parse(start);
		if (i > 0 && step != 0)
			ck_assert_msg(s - prev == step,
			              "%s: bucket %zu starts %lld µs after the last", path, i,
			              (long long)(s - prev));
		prev = s;
		json_t *by = json_object_get(b, "refused_by_blocker");
		long long a = json_integer_value(json_object_get(b, "allowed"));
		long long f = json_integer_value(json_object_get(b, "refused"));
		t->allowed += a;
		t->refused += f;
		t->consent += json_integer_value(json_object_get(by, "consent_missing"));
		t->cooling += json_integer_value(json_object_get(by, "cooling_period_active"));
		t->in_person +=
		    json_integer_value(json_object_get(by, "in_person_verification_missing"));
		if (a == 0 && f == 0) {
			ck_assert_msg(json_object_size(by) == 0,
			              "%s: an empty bucket with blockers", path);
			t->empty++;
		}
		t->buckets++;
	}
	http_resp_free(&r);
}

/* Sealed decisions of a type in [from, to), by SQL (all lenders). */
static long long decisions_in(const char *type, const char *from, const char *to)
{
	return e2e_sql_num(&env,
	                   "SELECT count(*) FROM audit_chain c JOIN audit_event e "
	                   "ON e.id = c.event_id WHERE e.type = $1 AND e.at >= $2::timestamptz "
	                   "AND e.at < $3::timestamptz",
	                   type, from, to, NULL);
}

START_TEST(test_stats_totals_per_hour_and_per_day_with_the_lender_filter)
{
	int64_t now = e2e_wall_us();
	char approved[32], consent[32];
	utc(approved, now - 40 * MINUTE);
	utc(consent, now - 35 * MINUTE);
	/* ST1: two allowed; refusals: consent_missing twice, cooling once,
	 * cooling and in person together once */
	for (int i = 0; i < 2; i++) {
		char id[8];
		snprintf(id, sizeof id, "P%d", i);
		e2e_approve(&env, tok_st1, "ST1", id,
		            &(struct e2e_loan){.iin_seed = 30 + (unsigned)i,
		                               .approved_at = approved,
		                               .consent_at = consent},
		            NULL);
		disburse_expect(tok_st1, "ST1", id, 200);
	}
	e2e_approve(&env, tok_st1, "ST1", "W1", &(struct e2e_loan){.iin_seed = 32}, NULL);
	disburse_expect(tok_st1, "ST1", "W1", 409);
	disburse_expect(tok_st1, "ST1", "W1", 409);
	e2e_approve(
	    &env, tok_st1, "ST1", "C1",
	    &(struct e2e_loan){
	        .iin_seed = 33, .amount = E2E_BIG_AMOUNT, .secured = true, .consent_now = true},
	    NULL);
	disburse_expect(tok_st1, "ST1", "C1", 409);
	e2e_approve(&env, tok_st1, "ST1", "C2",
	            &(struct e2e_loan){.iin_seed = 34,
	                               .amount = E2E_BIG_AMOUNT,
	                               .first_time = E2E_FIRST_TIME_BORROWER,
	                               .consent_now = true},
	            NULL);
	disburse_expect(tok_st1, "ST1", "C2", 409);
	/* ST2: one refusal */
	e2e_approve(&env, tok_st2, "ST2", "W1", &(struct e2e_loan){.iin_seed = 35}, NULL);
	disburse_expect(tok_st2, "ST2", "W1", 409);
	wait_sealed();

	/* whole hours around now: at least two empty ones, 1 h apart */
	char from[32], to[32], q[256];
	int64_t hour0 = (now / HOUR) * HOUR;
	utc(from, hour0 - 2 * HOUR);
	utc(to, hour0 + 3 * HOUR);
	struct totals t;
	snprintf(q, sizeof q, "from=%s&to=%s&bucket=hour&lender=ST1", from, to);
	stats_sum(tok_comp, q, HOUR, &t);
	ck_assert_int_eq(t.buckets, 5);
	ck_assert_int_ge(t.empty, 3);
	ck_assert_int_eq(t.allowed, 2);
	ck_assert_int_eq(t.refused, 4);
	ck_assert_int_eq(t.consent, 2);
	ck_assert_int_eq(t.cooling, 2);
	ck_assert_int_eq(t.in_person, 1);
	/* the lender's own token, with and without naming itself; hour is the
	 * default bucket */
	struct totals own;
	snprintf(q, sizeof q, "from=%s&to=%s", from, to);
	stats_sum(tok_st1, q, HOUR, &own);
	ck_assert(memcmp(&own, &t, sizeof t) == 0);
	snprintf(q, sizeof q, "from=%s&to=%s&lender=ST1", from, to);
	stats_sum(tok_st1, q, HOUR, &own);
	ck_assert(memcmp(&own, &t, sizeof t) == 0);
	/* ST2 alone */
	snprintf(q, sizeof q, "from=%s&to=%s&lender=ST2", from, to);
	stats_sum(tok_audit, q, HOUR, &t);
	ck_assert_int_eq(t.allowed, 0);
	ck_assert_int_eq(t.refused, 1);
	ck_assert_int_eq(t.consent, 1);
	/* all lenders: every sealed decision of the window */
	snprintf(q, sizeof q, "from=%s&to=%s", from, to);
	stats_sum(tok_comp, q, HOUR, &t);
	ck_assert_int_eq(t.allowed, decisions_in("disbursement_allowed", from, to));
	ck_assert_int_eq(t.refused, decisions_in("disbursement_refused", from, to));

	/* Almaty days: yesterday, today, tomorrow; starts at local midnight,
	 * 19:00 UTC; the same totals */
	int64_t local = now + 5 * HOUR;
	int64_t day0 = (local / (24 * HOUR)) * (24 * HOUR) - 5 * HOUR;
	utc(from, day0 - 24 * HOUR);
	utc(to, day0 + 48 * HOUR);
	snprintf(q, sizeof q, "from=%s&to=%s&bucket=day&lender=ST1", from, to);
	stats_sum(tok_comp, q, 24 * HOUR, &t);
	ck_assert_int_eq(t.buckets, 3);
	ck_assert_int_ge(t.empty, 1); /* 2, unless the test ran over midnight */
	ck_assert_int_eq(t.allowed, 2);
	ck_assert_int_eq(t.refused, 4);
	ck_assert_int_eq(t.cooling, 2);
	struct http_resp r;
	get_ok(tok_comp,
	       "/v1/stats/decisions?from=2026-03-01T00:00:00%2B05:00"
	       "&to=2026-03-02T00:00:00%2B05:00&bucket=day",
	       &r);
	/* a day's bucket starts at Almaty midnight, written in UTC */
	E2E_ASSERT_JSTR(json_array_get(e2e_json_at(r.json, "buckets"), 0), "start",
	                "2026-02-28T19:00:00Z");
	http_resp_free(&r);
}
END_TEST

START_TEST(test_stats_day_boundary_is_almaty_midnight)
{
	/* written as the superuser, as a restore would: the sealer counts them */
	static const char *const at[] = {"2025-12-31 18:30:00+00", "2025-12-31 18:59:59.999999+00",
	                                 "2025-12-31 19:00:00+00", "2025-12-31 19:30:00+00"};
	for (size_t i = 0; i < 4; i++)
		e2e_sql_num(&env,
		            "INSERT INTO audit_event (at, actor, lender_id, loan_id, type, detail) "
		            "VALUES ($1::timestamptz, 'core', 'NY1', 'LN', 'disbursement_refused', "
		            "'{\"blockers\": [\"cooling_period_active\"]}') RETURNING 1",
		            at[i], NULL);
	wait_sealed();
	struct http_resp r;
	get_ok(tok_comp,
	       "/v1/stats/decisions?from=2025-12-31T00:00:00%2B05:00&to=2026-01-02T00:00:00%2B05:00"
	       "&bucket=day&lender=NY1",
	       &r);
	json_t *b = e2e_json_at(r.json, "buckets");
	ck_assert_int_eq(json_array_size(b), 2);
	E2E_ASSERT_JSTR(json_array_get(b, 0), "start", "2025-12-30T19:00:00Z");
	E2E_ASSERT_JSTR(json_array_get(b, 1), "start", "2025-12-31T19:00:00Z");
	ck_assert_int_eq(json_integer_value(e2e_json_at(json_array_get(b, 0), "refused")), 2);
	ck_assert_int_eq(json_integer_value(e2e_json_at(json_array_get(b, 1), "refused")), 2);
	ck_assert_int_eq(json_integer_value(e2e_json_at(
	                     json_array_get(b, 1), "refused_by_blocker.cooling_period_active")),
	                 2);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_stats_bad_parameters_are_422_naming_them)
{
	static const struct {
		const char *query, *field;
	} bad[] = {
	    {"to=2026-01-02T00:00:00Z", "from"},
	    {"from=2026-01-01T00:00:00Z", "to"},
	    {"", "from"},
	    {"from=2026-01-01T00:00:00&to=2026-01-02T00:00:00Z", "from"},
	    {"from=2026-01-01T00:00:00Z&to=tomorrow", "to"},
	    {"from=2026-01-01T00:00:00+05:00&to=2026-01-02T00:00:00Z", "from"},
	    {"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&bucket=week", "bucket"},
	    {"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&bucket=", "bucket"},
	    {"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&bucket=Day", "bucket"},
	    {"from=2026-01-02T00:00:00Z&to=2026-01-02T00:00:00Z", "to"},
	    {"from=2026-01-03T00:00:00Z&to=2026-01-02T00:00:00Z", "to"},
	    {"from=2026-01-01T00:00:00Z&to=2026-02-11T16:00:00.000001Z", "to"},
	    {"from=2026-01-01T00:00:00Z&to=2026-02-11T17:00:00Z&bucket=hour", "to"},
	    {"from=2026-01-01T00:00:00%2B05:00&to=2028-09-28T00:00:00%2B05:00&bucket=day", "to"},
	    {"from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", "to"},
	    {"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&lender=bad!id", "lender"},
	    {"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&lender=..", "lender"},
	    {"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&limit=5", "limit"},
	    {"from=2026-01-01T00:00:00Z&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z", "from"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "/v1/stats/decisions?%s", bad[i].query);
		struct http_resp r;
		get(tok_audit, path, &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", bad[i].field),
		              "%s: expected 422 with field %s, got %d: %s", path, bad[i].field,
		              r.status, r.body);
		http_resp_free(&r);
	}
	/* the edges that are fine: exactly 1000 hours, exactly 1000 Almaty days */
	struct totals t;
	stats_sum(tok_comp, "from=2026-01-01T00:00:00Z&to=2026-02-11T16:00:00Z", HOUR, &t);
	ck_assert_int_eq(t.buckets, 1000);
	stats_sum(tok_comp,
	          "from=2026-01-01T00:00:00%2B05:00&to=2028-09-27T00:00:00%2B05:00&bucket=day",
	          24 * HOUR, &t);
	ck_assert_int_eq(t.buckets, 1000);
	/* one microsecond is one bucket */
	stats_sum(tok_comp, "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00.000001Z", 0, &t);
	ck_assert_int_eq(t.buckets, 1);
}
END_TEST

static Suite *events_stats_suite(void)
{
	Suite *s = suite_create("events_stats");
	TCase *tc = tcase_create("events_stats");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roles_lender_own_only_compliance_and_auditor_all);
	tcase_add_test(tc, test_events_of_a_loan_in_order_as_in_the_audit_trail);
	tcase_add_test(tc, test_events_unknown_loan_404_bad_parameters_422);
	tcase_add_test(tc, test_stats_totals_per_hour_and_per_day_with_the_lender_filter);
	tcase_add_test(tc, test_stats_day_boundary_is_almaty_midnight);
	tcase_add_test(tc, test_stats_bad_parameters_are_422_naming_them);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(events_stats_suite)

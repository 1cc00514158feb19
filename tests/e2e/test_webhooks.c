/*
 * The lender's event feed, time events and webhooks through the real
 * coolingd (CONTRACT.md v1.2, "The lender's event feed and webhooks"):
 *
 * - the feed: a lender's sealed events in seq order, next_after, another
 *   lender's token refused, bad after/limit named;
 * - time events: cooling_period_ended within 2 s of the end, once, also
 *   across a restart around the end and with two daemons;
 *   voluntary_refusal_applied/_lifted when a future-dated change comes;
 * - webhooks against a receiver on loopback started by the test: every
 *   delivery's signature checked with the test's own HMAC (OpenSSL's
 *   one-shot HMAC(), not the daemon's code), seq order, batches of at most
 *   100, no other lender's event, retries after 5xx and after a timeout
 *   (the same batch again), kill -9 during deliveries (every event at
 *   least once), two daemons (each event once: one deliverer);
 * - coolingctl webhook add/list/remove: bad input named, nothing written;
 *   the secret shown once and never listed;
 * - the sample receivers of docs/webhooks.md (Python, Java) against the
 *   real coolingd: every event handled once, a replayed batch skipped, a
 *   tampered, wrongly signed or stale delivery refused.
 *
 * Every wait has a deadline (WAIT_MS); none is a fixed sleep.
 */
#include <check.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/rawhttp.h"
#include "support/receiver.h"
#include "support/testdb.h"

#define WAIT_MS 30000
#define PERIOD  3

static const char *daemon_env[] = {"COOLINGD_POLICY_COOLING_PERIOD=3s", NULL, NULL};
static char key_kv[512];
static struct e2e_env env;
static char *registry;
static char *compliance;

static void setup(void)
{
	/* the key that seals the webhooks' secrets, for coolingd and
	 * coolingctl alike (coolingctl inherits the environment) */
	char key_path[256];
	snprintf(key_path, sizeof key_path, "%s/cd-webhook-key-%d",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	FILE *f = fopen(key_path, "w");
	if (f == NULL) {
		perror(key_path);
		exit(1);
	}
	fchmod(fileno(f), 0600);
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
	fclose(f);
	snprintf(key_kv, sizeof key_kv, "COOLINGD_WEBHOOKS_SECRET_KEY=%s", key_path);
	setenv("COOLINGD_WEBHOOKS_SECRET_KEY", key_path, 1);
	daemon_env[1] = key_kv;
	e2e_start(&env, "webhooks", daemon_env);
	registry = e2e_client_add(&env, "fcb", "registry", NULL);
	compliance = e2e_client_add(&env, "officer", "compliance", NULL);
}

static void teardown(void)
{
	e2e_stop(&env);
	free(registry);
	free(compliance);
}

/* ---- helpers ---- */

static bool wait_sql(const char *what, long long want, const char *sql, const char *a,
                     const char *b)
{
	long long deadline = test_now_ms() + WAIT_MS, v = -1;
	while (test_now_ms() < deadline) {
		v = e2e_sql_num(&env, sql, a, b, NULL);
		if (v == want)
			return true;
		test_sleep_ms(50);
	}
	fprintf(stderr, "%s: %lld, waited for %lld\n", what, v, want);
	return false;
}

/* Waits until every event of the lender is sealed; its highest seq. */
static long long lender_sealed(const char *lender)
{
	ck_assert(
	    wait_sql("unsealed events", 0,
	             "SELECT count(*) FROM audit_event e WHERE e.lender_id = $1 AND NOT EXISTS "
	             "(SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)",
	             lender, NULL));
	return e2e_sql_num(&env,
	                   "SELECT coalesce(max(c.seq), 0) FROM audit_chain c JOIN audit_event e "
	                   "ON e.id = c.event_id WHERE e.lender_id = $1",
	                   lender, NULL);
}

static char *lender_token(const char *lender)
{
	char name[64];
	snprintf(name, sizeof name, "core-%s", lender);
	e2e_lender_add(&env, lender, "bank");
	return e2e_client_add(&env, name, "lender", lender);
}

static void approve_n(const char *token, const char *lender, const char *prefix, int n)
{
	for (int i = 0; i < n; i++) {
		char id[64];
		snprintf(id, sizeof id, "%s-%d", prefix, i);
		e2e_approve(&env, token, lender, id, &(struct e2e_loan){.iin_seed = (unsigned)i},
		            NULL);
	}
}

struct hook {
	long long id;
	char secret[80];
};

/* coolingctl webhook add for the receiver; asserts it worked. */
static void hook_add(const char *lender, int port, long long after, struct hook *h)
{
	int code;
	char *out = run_ctl(env.db_url, &code,
	                    "webhook add --lender %s --url http://127.0.0.1:%d/hook --after %lld",
	                    lender, port, after);
	ck_assert_int_eq(code, 0);
	ck_assert_msg(sscanf(out, "id: %lld\nsecret: %79s", &h->id, h->secret) == 2, "%s", out);
	ck_assert_int_eq((int)strlen(h->secret), 64);
	free(out);
}

static void hook_remove(const struct hook *h)
{
	int code;
	free(run_ctl(env.db_url, &code, "webhook remove %lld", h->id));
	ck_assert_int_eq(code, 0);
}

/* The test's own HMAC-SHA256 of T "." body keyed with the secret's text,
 * in lowercase hex. */
static void sign(const char *secret, long long t, const char *body, char hex[65])
{
	size_t blen = strlen(body);
	char *msg = malloc(blen + 32);
	int n = snprintf(msg, 32, "%lld.", t);
	memcpy(msg + n, body, blen);
	unsigned char mac[32];
	unsigned int len = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg, (size_t)n + blen, mac,
	     &len);
	free(msg);
	ck_assert_int_eq(len, 32);
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

/* The test's own check of Coolingd-Signature: t=T,v1=HEX with HEX the
 * HMAC-SHA256 of T "." body keyed with the secret's text. */
static bool signature_ok(const char *secret, const char *header, const char *body)
{
	long long t;
	char v1[80], hex[65];
	if (sscanf(header, "t=%lld,v1=%70s", &t, v1) != 2)
		return false;
	sign(secret, t, body, hex);
	long long now = e2e_wall_us() / 1000000;
	return strcmp(hex, v1) == 0 && t > now - 120 && t <= now + 5;
}

struct seen {
	int *count;    /* by seq, 1..max */
	long long max; /* the highest seq accepted (2xx) */
	int batches;   /* deliveries checked */
	bool repeats;  /* a batch began at or before the last accepted seq */
};

/* Checks every delivery received so far: signature, headers, body, at most
 * 100 events of this lender in seq order; counts the seqs of the answered
 * (2xx) ones. */
static void check_deliveries(struct receiver *r, const struct hook *h, const char *lender,
                             long long upto, struct seen *s)
{
	s->count = calloc((size_t)upto + 2, sizeof(int));
	s->max = 0;
	s->repeats = false;
	struct delivery d;
	for (s->batches = 0; receiver_get(r, s->batches, &d); s->batches++) {
		ck_assert_msg(signature_ok(h->secret, d.signature, d.body), "signature %s",
		              d.signature);
		ck_assert_str_eq(d.content_type, "application/json");
		ck_assert_int_eq(atoll(d.webhook_id), h->id);
		json_error_t je;
		json_t *body = json_loads(d.body, 0, &je);
		ck_assert_ptr_nonnull(body);
		ck_assert_int_eq(json_integer_value(json_object_get(body, "webhook")), h->id);
		json_t *events = json_object_get(body, "events");
		size_t n = json_array_size(events);
		ck_assert_msg(n >= 1 && n <= 100, "a batch of %zu events", n);
		long long prev = 0;
		for (size_t i = 0; i < n; i++) {
			json_t *ev = json_array_get(events, i);
			long long seq = json_integer_value(json_object_get(ev, "seq"));
			ck_assert_str_eq(json_string_value(json_object_get(ev, "lender")), lender);
			ck_assert_msg(seq > prev, "seq %lld after %lld in one batch", seq, prev);
			ck_assert_msg(seq <= upto, "seq %lld beyond %lld", seq, upto);
			if (i == 0 && seq <= s->max && d.answered >= 200 && d.answered < 300)
				s->repeats = true;
			prev = seq;
			if (d.answered >= 200 && d.answered < 300)
				s->count[seq]++;
		}
		if (d.answered >= 200 && d.answered < 300 && prev > s->max)
			s->max = prev;
		json_decref(body);
		delivery_free(&d);
	}
}

/* Waits until the endpoint's delivered_seq reaches upto. */
static bool wait_delivered(const struct hook *h, long long upto)
{
	char id[24], to[24];
	snprintf(id, sizeof id, "%lld", h->id);
	snprintf(to, sizeof to, "%lld", upto);
	return wait_sql("delivered", 1,
	                "SELECT count(*) FROM webhook WHERE id = $1::bigint AND delivered_seq >= "
	                "$2::bigint",
	                id, to);
}

/* The seqs of the lender's sealed events in (after, upto]. */
static PGresult *lender_seqs(const char *lender, long long after, long long upto)
{
	char a[24], u[24];
	snprintf(a, sizeof a, "%lld", after);
	snprintf(u, sizeof u, "%lld", upto);
	const char *p[] = {lender, a, u};
	PGconn *c = testdb_connect(env.db_url);
	PGresult *r = PQexecParams(c,
	                           "SELECT c.seq FROM audit_chain c JOIN audit_event e ON e.id = "
	                           "c.event_id WHERE e.lender_id = $1 AND c.seq > $2::bigint AND "
	                           "c.seq <= $3::bigint ORDER BY c.seq",
	                           3, NULL, p, NULL, NULL, 0);
	PQfinish(c);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	return r;
}

/* Every event of the lender in (after, upto] delivered, and nothing else;
 * exactly once unless a crash allowed repeats. */
static void assert_all_delivered(const struct seen *s, const char *lender, long long after,
                                 long long upto, bool once)
{
	PGresult *r = lender_seqs(lender, after, upto);
	ck_assert_int_gt(PQntuples(r), 0);
	int want = 0;
	for (int i = 0; i < PQntuples(r); i++, want++) {
		long long seq = atoll(PQgetvalue(r, i, 0));
		ck_assert_msg(s->count[seq] >= 1, "seq %lld was never delivered", seq);
		if (once)
			ck_assert_msg(s->count[seq] == 1, "seq %lld delivered %d times", seq,
			              s->count[seq]);
	}
	PQclear(r);
	int total = 0;
	for (long long q = 0; q <= upto; q++)
		total += s->count[q] > 0;
	ck_assert_int_eq(total, want);
}

static void feed_get(const char *token, const char *lender, const char *query,
                     struct http_resp *out)
{
	char path[256];
	snprintf(path, sizeof path, "/v1/lenders/%s/events%s", lender, query);
	e2e_call(&env, "GET", path, token, NULL, NULL, out);
}

/* ---- the feed ---- */

START_TEST(test_feed_gives_the_lenders_sealed_events_in_seq_order_and_nothing_twice)
{
	char *t1 = lender_token("F1"), *t2 = lender_token("F2");
	approve_n(t1, "F1", "f1", 5);
	approve_n(t2, "F2", "f2", 3);
	long long max = lender_sealed("F1");
	lender_sealed("F2");
	struct http_resp r;
	long long after = 0, got = 0, last = 0;
	for (int page = 0; page < 10; page++) {
		char q[64];
		snprintf(q, sizeof q, "?after=%lld&limit=2", after);
		feed_get(t1, "F1", q, &r);
		ck_assert_int_eq(r.status, 200);
		json_t *events = json_object_get(r.json, "events");
		for (size_t i = 0; i < json_array_size(events); i++) {
			json_t *ev = json_array_get(events, i);
			long long seq = json_integer_value(json_object_get(ev, "seq"));
			ck_assert_str_eq(json_string_value(json_object_get(ev, "lender")), "F1");
			ck_assert_int_gt(seq, last);
			last = seq;
			got++;
		}
		long long next = json_integer_value(json_object_get(r.json, "next_after"));
		bool empty = json_array_size(events) == 0;
		ck_assert_int_eq(next, empty ? after : last);
		http_resp_free(&r);
		if (empty)
			break;
		after = next;
	}
	long long all =
	    e2e_sql_num(&env, "SELECT count(*) FROM audit_event WHERE lender_id = $1", "F1", NULL);
	ck_assert_int_ge(all, 5);
	ck_assert_int_eq(got, all);
	ck_assert_int_eq(last, max);

	/* another lender's token: refused; compliance: allowed */
	feed_get(t2, "F1", "", &r);
	ck_assert_int_eq(r.status, 403);
	http_resp_free(&r);
	feed_get(compliance, "F1", "", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "events")), all);
	http_resp_free(&r);

	static const char *const bad[][2] = {{"?after=-1", "after"}, {"?after=x", "after"},
	                                     {"?limit=0", "limit"},  {"?limit=1001", "limit"},
	                                     {"?limit=", "limit"},   {"?since=1", "since"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		feed_get(t1, "F1", bad[i][0], &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", bad[i][1]), "%s: %d %s",
		              bad[i][0], r.status, r.body);
		http_resp_free(&r);
	}
	free(t1);
	free(t2);
}
END_TEST

/* ---- time events ---- */

static void cooled_loan(const char *token, const char *lender, const char *loan_id, unsigned seed)
{
	e2e_approve(
	    &env, token, lender, loan_id,
	    &(struct e2e_loan){.iin_seed = seed, .amount = E2E_BIG_AMOUNT, .consent_now = true},
	    NULL);
}

static bool wait_event(const char *lender, const char *loan_id, const char *type)
{
	return e2e_wait_audit_event(&env, lender, loan_id, type, WAIT_MS);
}

START_TEST(test_cooling_period_ended_is_written_once_within_2s_of_the_end)
{
	char *t = lender_token("T1");
	cooled_loan(t, "T1", "c1", 11);
	ck_assert(wait_event("T1", "c1", "cooling_period_ended"));
	/* within 2 s of the moment, by the database's clock */
	ck_assert_int_lt(
	    e2e_sql_num(&env,
	                "SELECT cd_us(e.at) - cd_us(l.cooling_ends_at) FROM audit_event e "
	                "JOIN loan l ON l.lender_id = e.lender_id AND l.loan_id = "
	                "e.loan_id WHERE e.type = 'cooling_period_ended' AND "
	                "e.lender_id = $1",
	                "T1", NULL),
	    2000000);
	ck_assert_int_ge(
	    e2e_sql_num(&env,
	                "SELECT cd_us(e.at) - cd_us(l.cooling_ends_at) FROM audit_event e "
	                "JOIN loan l ON l.lender_id = e.lender_id AND l.loan_id = "
	                "e.loan_id WHERE e.type = 'cooling_period_ended' AND "
	                "e.lender_id = $1",
	                "T1", NULL),
	    0);
	/* its moment is gone from the queue with it: nothing can write it again */
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM time_event_due q JOIN loan l ON l.id = "
	                             "q.loan_pk WHERE l.lender_id = $1",
	                             "T1", NULL),
	                 0);
	ck_assert_int_eq(e2e_audit_count(&env, "T1", "c1", "cooling_period_ended"), 1);
	/* in the feed, with its detail */
	lender_sealed("T1");
	struct http_resp r;
	feed_get(t, "T1", "", &r);
	ck_assert_int_eq(r.status, 200);
	json_t *events = json_object_get(r.json, "events");
	json_t *last = json_array_get(events, json_array_size(events) - 1);
	ck_assert_str_eq(e2e_jstr(last, "type"), "cooling_period_ended");
	ck_assert_str_eq(e2e_jstr(last, "loan_id"), "c1");
	ck_assert(json_is_false(e2e_json_at(last, "detail.reconfirmation_required")));
	ck_assert(e2e_is_utc_z(e2e_jstr(last, "detail.cooling_ends_at")));
	http_resp_free(&r);
	free(t);
}
END_TEST

START_TEST(test_a_future_dated_refusal_and_its_withdrawal_reach_the_open_loan)
{
	char *t = lender_token("T2");
	e2e_approve(&env, t, "T2", "r1", &(struct e2e_loan){.iin_seed = 21}, NULL);
	char iin[13], body[256], ts[32];
	e2e_iin(iin, 21);
	e2e_ts_from_now(ts, 2);
	snprintf(body, sizeof body, "{\"active\":true,\"effective_at\":\"%s\",\"source\":\"fcb\"}",
	         ts);
	struct http_resp r;
	char path[64];
	snprintf(path, sizeof path, "/v1/voluntary-refusals/%s", iin);
	e2e_call(&env, "PUT", path, registry, body, NULL, &r);
	ck_assert_int_eq(r.status, 201);
	http_resp_free(&r);
	/* not before its time */
	ck_assert_int_eq(e2e_audit_count(&env, "T2", "r1", "voluntary_refusal_applied"), 0);
	ck_assert(wait_event("T2", "r1", "voluntary_refusal_applied"));
	ck_assert_int_lt(
	    e2e_sql_num(&env,
	                "SELECT cd_us(at) - cd_us((detail->>'effective_at')::timestamptz) "
	                "FROM audit_event WHERE type = 'voluntary_refusal_applied' AND "
	                "lender_id = $1",
	                "T2", NULL),
	    2000000);
	e2e_ts_from_now(ts, 1);
	snprintf(body, sizeof body, "{\"active\":false,\"effective_at\":\"%s\",\"source\":\"fcb\"}",
	         ts);
	e2e_call(&env, "PUT", path, registry, body, NULL, &r);
	ck_assert_int_eq(r.status, 201);
	http_resp_free(&r);
	ck_assert(wait_event("T2", "r1", "voluntary_refusal_lifted"));
	ck_assert_int_eq(e2e_audit_count(&env, "T2", "r1", "voluntary_refusal_applied"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "T2", "r1", "voluntary_refusal_lifted"), 1);
	free(t);
}
END_TEST

START_TEST(test_a_period_that_ends_while_coolingd_is_down_gets_its_event_once_at_start)
{
	char *t = lender_token("T3");
	cooled_loan(t, "T3", "d1", 31);
	ck_assert_int_eq(daemon_stop(&env.d), 0);
	ck_assert(wait_sql("period over", 1,
	                   "SELECT count(*) FROM loan WHERE lender_id = $1 AND loan_id = $2 AND "
	                   "cooling_ends_at < now() - interval '1 second'",
	                   "T3", "d1"));
	ck_assert_int_eq(e2e_audit_count(&env, "T3", "d1", "cooling_period_ended"), 0);
	ck_assert(daemon_start(&env.d, env.db_url, daemon_env));
	ck_assert(wait_event("T3", "d1", "cooling_period_ended"));
	/* a loan whose end comes while it restarts */
	cooled_loan(t, "T3", "d2", 32);
	ck_assert_int_eq(daemon_stop(&env.d), 0);
	ck_assert(daemon_start(&env.d, env.db_url, daemon_env));
	ck_assert(wait_event("T3", "d2", "cooling_period_ended"));
	ck_assert_int_eq(e2e_audit_count(&env, "T3", "d1", "cooling_period_ended"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "T3", "d2", "cooling_period_ended"), 1);
	free(t);
}
END_TEST

/* ---- webhooks ---- */

START_TEST(test_deliveries_are_signed_in_order_in_batches_of_at_most_100_of_one_lender)
{
	char *t1 = lender_token("W1"), *t2 = lender_token("W2");
	struct receiver *rc = receiver_start();
	ck_assert_ptr_nonnull(rc);
	struct hook h;
	hook_add("W1", receiver_port(rc), 0, &h);
	for (int i = 0; i < 130; i++) { /* interleaved with another lender's */
		char id[32];
		snprintf(id, sizeof id, "o-%d", i);
		e2e_approve(&env, t1, "W1", id, &(struct e2e_loan){.iin_seed = (unsigned)i}, NULL);
		if (i % 3 == 0)
			e2e_approve(&env, t2, "W2", id, &(struct e2e_loan){.iin_seed = (unsigned)i},
			            NULL);
	}
	long long upto = lender_sealed("W1");
	ck_assert(wait_delivered(&h, upto));
	struct seen s;
	check_deliveries(rc, &h, "W1", upto, &s);
	ck_assert(!s.repeats);
	ck_assert_int_ge(s.batches, 2); /* 132 events: more than one batch */
	assert_all_delivered(&s, "W1", 0, upto, true);
	free(s.count);

	/* webhook list: where it stands, never the secret */
	int code;
	char *out = run_ctl(env.db_url, &code, "webhook list --json");
	ck_assert_int_eq(code, 0);
	ck_assert_ptr_null(strstr(out, h.secret));
	json_t *list = json_loads(out, 0, NULL);
	json_t *mine = NULL;
	for (size_t i = 0; i < json_array_size(json_object_get(list, "webhooks")); i++) {
		json_t *w = json_array_get(json_object_get(list, "webhooks"), i);
		if (json_integer_value(json_object_get(w, "id")) == h.id)
			mine = w;
	}
	ck_assert_ptr_nonnull(mine);
	ck_assert_int_eq(json_integer_value(json_object_get(mine, "delivered_seq")), upto);
	ck_assert_int_eq(json_integer_value(json_object_get(mine, "events_behind")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(mine, "failures")), 0);
	json_decref(list);
	free(out);

	/* a healthy endpoint gets a new event within 2 s of its sealing */
	int before = receiver_count(rc);
	e2e_approve(&env, t1, "W1", "late", NULL, NULL);
	long long sealed_at = 0, deadline = test_now_ms() + WAIT_MS;
	while (test_now_ms() < deadline && receiver_count(rc) == before) {
		if (sealed_at == 0 &&
		    e2e_sql_num(
		        &env,
		        "SELECT count(*) FROM audit_event e JOIN audit_chain c ON c.event_id = "
		        "e.id WHERE e.lender_id = 'W1' AND e.loan_id = $1",
		        "late", NULL) > 0)
			sealed_at = test_now_ms();
		test_sleep_ms(10);
	}
	ck_assert_int_gt(receiver_count(rc), before);
	if (sealed_at == 0)
		sealed_at = test_now_ms(); /* delivered before the test saw it sealed */
	ck_assert_msg(test_now_ms() - sealed_at < 2000, "delivered %lld ms after its sealing",
	              test_now_ms() - sealed_at);
	out = run_ctl(env.db_url, &code, "webhook list");
	ck_assert_ptr_null(strstr(out, h.secret));
	free(out);
	hook_remove(&h);
	receiver_stop(rc);
	free(t1);
	free(t2);
}
END_TEST

START_TEST(test_a_failed_batch_is_retried_unchanged_after_5xx_and_after_a_timeout)
{
	char *t = lender_token("W3");
	struct receiver *rc = receiver_start();
	receiver_set_status(rc, 503);
	struct hook h;
	hook_add("W3", receiver_port(rc), 0, &h);
	approve_n(t, "W3", "x", 3);
	long long upto = lender_sealed("W3");
	/* two refused attempts of the same batch, one after the backoff */
	long long deadline = test_now_ms() + WAIT_MS;
	while (receiver_count(rc) < 2 && test_now_ms() < deadline)
		test_sleep_ms(50);
	ck_assert_int_ge(receiver_count(rc), 2);
	char id[24];
	snprintf(id, sizeof id, "%lld", h.id);
	ck_assert_int_eq(
	    e2e_sql_num(&env, "SELECT delivered_seq FROM webhook WHERE id = $1::bigint", id, NULL),
	    0);
	ck_assert_int_ge(
	    e2e_sql_num(&env, "SELECT failures FROM webhook WHERE id = $1::bigint", id, NULL), 1);
	/* no answer at all: coolingd gives up after 10 s and tries again */
	receiver_set_status(rc, 0);
	int before = receiver_count(rc);
	deadline = test_now_ms() + WAIT_MS;
	while (receiver_count(rc) < before + 2 && test_now_ms() < deadline)
		test_sleep_ms(50);
	ck_assert_int_ge(receiver_count(rc), before + 2);
	receiver_set_status(rc, 200);
	ck_assert(wait_delivered(&h, upto));
	struct seen s;
	check_deliveries(rc, &h, "W3", upto, &s);
	assert_all_delivered(&s, "W3", 0, upto, true);
	/* every attempt up to the first one accepted carried the same batch
	 * (later ones are the events sealed after it: on a busy machine the
	 * first batch need not hold every event of the approvals) */
	struct delivery first, d;
	ck_assert(receiver_get(rc, 0, &first));
	bool accepted = first.answered >= 200 && first.answered < 300;
	for (int i = 1; !accepted && receiver_get(rc, i, &d); i++) {
		json_t *a = json_loads(first.body, 0, NULL), *b = json_loads(d.body, 0, NULL);
		ck_assert(json_equal(json_object_get(a, "events"), json_object_get(b, "events")));
		accepted = d.answered >= 200 && d.answered < 300;
		json_decref(a);
		json_decref(b);
		delivery_free(&d);
	}
	ck_assert(accepted);
	delivery_free(&first);
	free(s.count);
	ck_assert_int_eq(
	    e2e_sql_num(&env, "SELECT failures FROM webhook WHERE id = $1::bigint", id, NULL), 0);
	hook_remove(&h);
	receiver_stop(rc);
	free(t);
}
END_TEST

START_TEST(test_kill_9_during_deliveries_loses_no_event)
{
	char *t = lender_token("W4");
	approve_n(t, "W4", "k", 250);
	struct receiver *rc = receiver_start();
	struct hook h;
	hook_add("W4", receiver_port(rc), 0, &h);
	long long upto = lender_sealed("W4"); /* webhook_added included */
	long long deadline = test_now_ms() + WAIT_MS;
	while (receiver_count(rc) < 1 && test_now_ms() < deadline)
		test_sleep_ms(5);
	ck_assert(daemon_kill9(&env.d));
	/* started again with its metrics listener */
	int mport = daemon_free_port();
	char metrics_kv[64];
	snprintf(metrics_kv, sizeof metrics_kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", mport);
	const char *with_metrics[] = {daemon_env[0], daemon_env[1], metrics_kv, NULL};
	ck_assert(daemon_start(&env.d, env.db_url, with_metrics));
	ck_assert(wait_delivered(&h, upto));
	struct seen s;
	check_deliveries(rc, &h, "W4", upto, &s);
	assert_all_delivered(&s, "W4", 0, upto, false);
	free(s.count);
	/* the endpoint caught up, in the gauge of the daemon that delivers to
	 * it (renewed every 2 s), beside the deliveries' counter */
	char want[96];
	snprintf(want, sizeof want, "coolingd_webhook_events_behind{webhook=\"%lld\"} 0", h.id);
	bool caught_up = false;
	long long deadline2 = test_now_ms() + WAIT_MS;
	while (!caught_up && test_now_ms() < deadline2) {
		/* raw, so that the exchange is not recorded for the OpenAPI check:
		 * the metrics listener is not the API */
		static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
		                          "Connection: close\r\n\r\n";
		char *resp = NULL;
		if (http_raw(mport, req, sizeof req - 1, &resp, 10000) == 0 && resp != NULL)
			caught_up =
			    strstr(resp, want) != NULL &&
			    strstr(resp,
			           "coolingd_webhook_deliveries_total{result=\"timeout\"} ") !=
			        NULL;
		free(resp);
		if (!caught_up)
			test_sleep_ms(100);
	}
	ck_assert_msg(caught_up, "no %s in /metrics", want);
	hook_remove(&h);
	receiver_stop(rc);
	free(t);
}
END_TEST

START_TEST(test_two_daemons_one_deliverer_per_endpoint_one_time_event_per_loan)
{
	struct daemon d2;
	ck_assert(daemon_start(&d2, env.db_url, daemon_env));
	char *t = lender_token("W5");
	struct receiver *rc = receiver_start();
	struct hook h;
	hook_add("W5", receiver_port(rc), 0, &h);
	for (int i = 0; i < 6; i++) {
		char id[16];
		snprintf(id, sizeof id, "two-%d", i);
		cooled_loan(t, "W5", id, 50 + (unsigned)i);
	}
	for (int i = 0; i < 6; i++) {
		char id[16];
		snprintf(id, sizeof id, "two-%d", i);
		ck_assert(wait_event("W5", id, "cooling_period_ended"));
	}
	approve_n(t, "W5", "more", 40);
	long long upto = lender_sealed("W5");
	ck_assert(wait_delivered(&h, upto));
	for (int i = 0; i < 6; i++) {
		char id[16];
		snprintf(id, sizeof id, "two-%d", i);
		ck_assert_int_eq(e2e_audit_count(&env, "W5", id, "cooling_period_ended"), 1);
	}
	struct seen s;
	check_deliveries(rc, &h, "W5", upto, &s);
	ck_assert(!s.repeats);
	assert_all_delivered(&s, "W5", 0, upto, true);
	free(s.count);
	ck_assert_int_eq(daemon_stop(&d2), 0);
	hook_remove(&h);
	receiver_stop(rc);
	free(t);
}
END_TEST

/* ---- the sample receivers of docs/webhooks.md ---- */

static const struct sample {
	const char *name;
	const char *program; /* run from PATH */
	const char *file;    /* in docs/webhooks/ */
	const char *needs;   /* on PATH, else the test is skipped */
	const char *lender;
} samples[] = {
    {"Python", "python3", "receiver.py", "python3", "RPY"},
    /* java runs the source file; that needs the JDK's compiler */
    {"Java", "java", "Receiver.java", "javac", "RJV"},
};

static bool on_path(const char *program)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", program);
	return system(cmd) == 0;
}

/* Starts the sample receiver on port, its stdout and stderr to out; waits
 * until it says that it listens. It dies with this process. */
static pid_t sample_start(const struct sample *s, int port, const char *secret_file,
                          const char *out)
{
	const char *src = getenv("COOLINGD_SOURCE_DIR");
	ck_assert_msg(src != NULL, "COOLINGD_SOURCE_DIR is not set");
	char path[512], portstr[16];
	snprintf(path, sizeof path, "%s/docs/webhooks/%s", src, s->file);
	snprintf(portstr, sizeof portstr, "%d", port);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp(s->program, s->program, path, "--port", portstr, "--secret-file",
		       secret_file, (char *)NULL);
		_exit(127);
	}
	char want[64];
	snprintf(want, sizeof want, "listening on http://127.0.0.1:%d/", port);
	long long deadline = test_now_ms() + WAIT_MS;
	while (test_now_ms() < deadline && waitpid(pid, NULL, WNOHANG) == 0) {
		char *text = e2e_read_file(out, NULL);
		bool up = text != NULL && strstr(text, want) != NULL;
		free(text);
		if (up)
			return pid;
		test_sleep_ms(50);
	}
	char *text = e2e_read_file(out, NULL);
	ck_abort_msg("the %s receiver did not start: %s", s->name, text ? text : "(no output)");
	return -1;
}

/* Counts, by seq, the "event SEQ TYPE LENDER LOAN_ID" lines the receiver
 * printed; each of the lender, none above upto. */
static int *sample_handled(const char *out, const char *lender, long long upto)
{
	int *count = calloc((size_t)upto + 2, sizeof(int));
	char *text = e2e_read_file(out, NULL);
	ck_assert_ptr_nonnull(text);
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		long long seq;
		char type[64], who[64];
		if (sscanf(line, "event %lld %63s %63s", &seq, type, who) != 3)
			continue;
		ck_assert_msg(strcmp(who, lender) == 0, "an event of %s handled: %s", who, line);
		ck_assert_msg(seq >= 1 && seq <= upto, "an event that coolingd never sent: %s",
		              line);
		count[seq]++;
	}
	free(text);
	return count;
}

/* POSTs body to the receiver with Coolingd-Signature t=T,v1=HEX; its status. */
static int sample_post(int port, long long id, long long t, const char *hex, const char *body)
{
	size_t blen = strlen(body), cap = blen + 512;
	char *req = malloc(cap);
	int n =
	    snprintf(req, cap,
	             "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
	             "Coolingd-Webhook-Id: %lld\r\nCoolingd-Signature: t=%lld,v1=%s\r\n"
	             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	             port, id, t, hex, blen, body);
	char *resp = NULL;
	int rc = http_raw(port, req, (size_t)n, &resp, 10000);
	free(req);
	int status = rc == 0 && resp != NULL ? rawhttp_status(resp) : -1;
	free(resp);
	return status;
}

START_TEST(test_the_sample_receivers_verify_signatures_and_handle_each_event_once)
{
	const struct sample *s = &samples[_i];
	if (!on_path(s->needs)) {
		fprintf(stderr, "SKIPPED: the %s receiver of docs/webhooks.md: no %s on PATH\n",
		        s->name, s->needs);
		return;
	}
	static const char secret[] =
	    "5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99";
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char secret_file[256], out[256];
	snprintf(secret_file, sizeof secret_file, "%s/cd-sample-secret-%s-%d", tmp, s->lender,
	         (int)getpid());
	snprintf(out, sizeof out, "%s/cd-sample-%s-%d.out", tmp, s->lender, (int)getpid());
	FILE *f = fopen(secret_file, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", secret);
	fclose(f);

	char *t = lender_token(s->lender);
	approve_n(t, s->lender, "s", 101); /* with webhook_added: two batches */
	int port = daemon_free_port();
	pid_t pid = sample_start(s, port, secret_file, out);
	int code;
	char *added = run_ctl(env.db_url, &code,
	                      "webhook add --lender %s --url http://127.0.0.1:%d/ --secret-file %s",
	                      s->lender, port, secret_file);
	ck_assert_int_eq(code, 0);
	struct hook h = {0};
	ck_assert_msg(sscanf(added, "id: %lld", &h.id) == 1, "%s", added);
	ck_assert_ptr_null(strstr(added, "secret:")); /* a secret file's secret is not printed */
	free(added);
	snprintf(h.secret, sizeof h.secret, "%s", secret);
	long long upto = lender_sealed(s->lender);
	ck_assert(wait_delivered(&h, upto));

	/* a batch of events already handled, signed right: acknowledged, and
	 * skipped (the dedupe by seq) */
	char path[128];
	snprintf(path, sizeof path, "/v1/lenders/%s/events?limit=5", s->lender);
	struct http_resp r;
	e2e_call(&env, "GET", path, t, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *page = json_loads(r.body, 0, NULL);
	json_t *batch = json_pack("{s:I,s:O}", "webhook", (json_int_t)h.id, "events",
	                          json_object_get(page, "events"));
	char *body = json_dumps(batch, JSON_COMPACT);
	long long now = e2e_wall_us() / 1000000;
	char hex[65];
	sign(secret, now, body, hex);
	int status = sample_post(port, h.id, now, hex, body);
	ck_assert_msg(status >= 200 && status < 300, "a replayed batch answered %d", status);

	/* a new event under the signature of another body: refused */
	json_integer_set(
	    json_object_get(json_array_get(json_object_get(batch, "events"), 0), "seq"),
	    upto + 1000);
	char *tampered = json_dumps(batch, JSON_COMPACT);
	ck_assert_int_eq(sample_post(port, h.id, now, hex, tampered), 401);
	/* signed with another secret: refused */
	char other[65];
	sign("0000000000000000000000000000000000000000000000000000000000000000", now, tampered,
	     other);
	ck_assert_int_eq(sample_post(port, h.id, now, other, tampered), 401);
	/* signed right an hour ago (a replay of a recorded delivery): refused */
	sign(secret, now - 3600, tampered, other);
	ck_assert_int_eq(sample_post(port, h.id, now - 3600, other, tampered), 401);
	free(body);
	free(tampered);
	json_decref(batch);
	json_decref(page);
	http_resp_free(&r);

	/* every event of the lender handled exactly once, nothing else */
	struct seen seen = {.count = sample_handled(out, s->lender, upto)};
	assert_all_delivered(&seen, s->lender, 0, upto, true);
	free(seen.count);

	hook_remove(&h);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	unlink(secret_file);
	unlink(out);
	free(t);
}
END_TEST

/* The daemon whose lease the endpoint is under, by the pid in the lease's
 * owner ("host:pid:random"); NULL when none holds it. */
static const struct daemon *lease_holder(const struct hook *h, const struct daemon *a,
                                         const struct daemon *b)
{
	char id[24];
	snprintf(id, sizeof id, "%lld", h->id);
	const char *p[] = {id};
	PGconn *c = testdb_connect(env.db_url);
	PGresult *r = PQexecParams(c,
	                           "SELECT lease_owner FROM webhook WHERE id = $1::bigint AND "
	                           "lease_until > now()",
	                           1, NULL, p, NULL, NULL, 0);
	PQfinish(c);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	const struct daemon *who = NULL;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		const struct daemon *ds[] = {a, b};
		for (int i = 0; i < 2; i++) {
			char pid[32];
			snprintf(pid, sizeof pid, ":%d:", (int)ds[i]->pid);
			if (strstr(PQgetvalue(r, 0, 0), pid) != NULL)
				who = ds[i];
		}
		ck_assert_msg(who != NULL, "leased by neither daemon: %s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return who;
}

START_TEST(test_a_clean_stop_hands_the_endpoint_to_another_daemon_before_the_lease_lapses)
{
	char *t = lender_token("W6");
	struct receiver *rc = receiver_start();
	struct hook h;
	hook_add("W6", receiver_port(rc), 0, &h);
	approve_n(t, "W6", "h", 3);
	ck_assert(wait_delivered(&h, lender_sealed("W6")));
	/* the second daemon comes once the first holds the endpoint */
	ck_assert_ptr_eq(lease_holder(&h, &env.d, &env.d), &env.d);
	struct daemon d2;
	ck_assert(daemon_start(&d2, env.db_url, daemon_env));

	/* the lease, renewed every 2 s, runs 10 s: without its release the
	 * other daemon could not deliver for 8 s after the stop */
	struct daemon first = env.d;
	long long stop_at = test_now_ms();
	ck_assert_int_eq(daemon_stop(&env.d), 0);
	ck_assert_msg(lease_holder(&h, &first, &d2) != &first, "the stopped daemon still holds it");
	long long stopped_ms = test_now_ms() - stop_at;
	env.d = d2; /* the fixture stops it */
	approve_n(t, "W6", "after", 1);
	long long upto = lender_sealed("W6");
	long long deadline = stop_at + 8000;
	bool delivered_in_time = false;
	while (!delivered_in_time && test_now_ms() < deadline) {
		char id[24], to[24];
		snprintf(id, sizeof id, "%lld", h.id);
		snprintf(to, sizeof to, "%lld", upto);
		delivered_in_time =
		    e2e_sql_num(&env,
		                "SELECT count(*) FROM webhook WHERE id = $1::bigint "
		                "AND delivered_seq >= $2::bigint",
		                id, to, NULL) == 1;
		if (!delivered_in_time)
			test_sleep_ms(50);
	}
	ck_assert_msg(delivered_in_time,
	              "the other daemon did not deliver within 8 s of the stop (the stop took "
	              "%lld ms)",
	              stopped_ms);
	ck_assert_ptr_eq(lease_holder(&h, &env.d, &env.d), &env.d);
	struct seen seen;
	check_deliveries(rc, &h, "W6", upto, &seen);
	assert_all_delivered(&seen, "W6", 0, upto, false);
	free(seen.count);
	hook_remove(&h);
	receiver_stop(rc);
	free(t);
}
END_TEST

/* ---- coolingctl webhook: bad input ---- */

static long long webhook_rows(void)
{
	return e2e_sql_num(
	    &env,
	    "SELECT (SELECT count(*) FROM webhook) + (SELECT count(*) FROM audit_event "
	    "WHERE type IN ('webhook_added', 'webhook_removed'))",
	    NULL);
}

START_TEST(test_webhook_add_refuses_bad_input_naming_it_and_writes_nothing)
{
	e2e_lender_add(&env, "B1", "bank");
	long long before = webhook_rows();
	static const char *const cases[][3] = {
	    {"--lender B1 --url http://example.com/hook", "https://", "2"},
	    {"--lender B1 --url ftp://127.0.0.1/hook", "https://", "2"},
	    {"--lender B1 --url https://user:pw@example.com/", "user:password", "2"},
	    {"--lender NOPE --url https://example.com/hook", "NOPE", "1"},
	    {"--url https://example.com/hook", "--lender", "2"},
	    {"--lender B1 --url https://example.com/hook --after -3", "--after", "2"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char cmd[256];
		snprintf(cmd, sizeof cmd, "webhook add %s", cases[i][0]);
		int code;
		char *err = NULL;
		const char *argv[16];
		int n = 0;
		argv[n++] = "webhook";
		argv[n++] = "add";
		char *copy = strdup(cases[i][0]);
		for (char *tok = strtok(copy, " "); tok && n < 15; tok = strtok(NULL, " "))
			argv[n++] = tok;
		argv[n] = NULL;
		free(run_ctl_argv(env.db_url, argv, &code, &err));
		ck_assert_msg(code == atoi(cases[i][2]), "%s: exit %d", cmd, code);
		ck_assert_msg(err && strstr(err, cases[i][1]), "%s: %s", cmd, err ? err : "");
		free(err);
		free(copy);
	}
	/* removing one that does not exist */
	int code;
	char *err = NULL;
	const char *argv[] = {"webhook", "remove", "999999", NULL};
	free(run_ctl_argv(env.db_url, argv, &code, &err));
	ck_assert_int_eq(code, 1);
	ck_assert_msg(err && strstr(err, "no webhook 999999"), "%s", err ? err : "");
	free(err);
	ck_assert_int_eq(webhook_rows(), before);

	/* a secret from a file is used as it is, and not printed */
	char path[256];
	snprintf(path, sizeof path, "%s/cd-secret-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
	         (int)getpid());
	FILE *f = fopen(path, "w");
	fputs("abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd\n", f);
	fclose(f);
	char *out =
	    run_ctl(env.db_url, &code,
	            "webhook add --lender B1 --url https://example.com/h --secret-file %s", path);
	ck_assert_int_eq(code, 0);
	ck_assert_ptr_null(strstr(out, "secret"));
	long long id = 0;
	ck_assert_int_eq(sscanf(out, "id: %lld", &id), 1);
	free(out);
	/* sealed at rest: the secret's text is not in the database */
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM webhook WHERE position(convert_to($1, "
	                             "'UTF8') IN secret_sealed) > 0",
	                             "abcdefabcdefabcdef", NULL),
	                 0);
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM audit_event WHERE type = 'webhook_added' "
	                "AND lender_id = 'B1' AND detail::text LIKE '%abcdef%'",
	                NULL),
	    0);
	out = run_ctl(env.db_url, &code, "webhook remove %lld", id);
	ck_assert_int_eq(code, 0);
	free(out);
	unlink(path);
}
END_TEST

static Suite *webhooks_suite(void)
{
	Suite *s = suite_create("webhooks");
	TCase *tc = tcase_create("one daemon");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc,
	               test_feed_gives_the_lenders_sealed_events_in_seq_order_and_nothing_twice);
	tcase_add_test(tc, test_cooling_period_ended_is_written_once_within_2s_of_the_end);
	tcase_add_test(tc, test_a_future_dated_refusal_and_its_withdrawal_reach_the_open_loan);
	tcase_add_test(tc,
	               test_deliveries_are_signed_in_order_in_batches_of_at_most_100_of_one_lender);
	tcase_add_test(tc, test_a_failed_batch_is_retried_unchanged_after_5xx_and_after_a_timeout);
	tcase_add_test(tc, test_webhook_add_refuses_bad_input_naming_it_and_writes_nothing);
	tcase_add_loop_test(tc,
	                    test_the_sample_receivers_verify_signatures_and_handle_each_event_once,
	                    0, (int)(sizeof samples / sizeof samples[0]));
	suite_add_tcase(s, tc);
	/* tests that stop, kill or add daemons: a database and daemon of their
	 * own, started and stopped in the test's process */
	TCase *own = tcase_create("restarts");
	tcase_add_checked_fixture(own, setup, teardown);
	tcase_set_timeout(own, 240);
	tcase_add_test(own,
	               test_a_period_that_ends_while_coolingd_is_down_gets_its_event_once_at_start);
	tcase_add_test(own, test_kill_9_during_deliveries_loses_no_event);
	tcase_add_test(own, test_two_daemons_one_deliverer_per_endpoint_one_time_event_per_loan);
	tcase_add_test(
	    own, test_a_clean_stop_hands_the_endpoint_to_another_daemon_before_the_lease_lapses);
	suite_add_tcase(s, own);
	return s;
}

CD_CHECK_MAIN(webhooks_suite)

/*
 * End-to-end tests of the compliance reads (CONTRACT.md, "Audit trail and
 * exports"; docs/queries.md): GET /v1/audit and GET /v1/loans, against the
 * real coolingd and PostgreSQL.
 *
 * - roles: compliance and auditor read both, a lender token is 403;
 * - /v1/audit: every act and operator change shows up once sealed, seqs are
 *   1..N without gaps, each event has the documented shape, paging with
 *   next_after, limits, and the hash chain recomputed here with OpenSSL from
 *   the answer plus the raw detail text and microseconds from SQL;
 * - /v1/loans: newest first with ties broken by insertion, cursor paging
 *   that sees every loan exactly once (also when a loan arrives between
 *   pages), the status filter at this moment for every status, the lender
 *   filter, [from, to) bounds, and 422 naming the parameter for anything bad.
 *
 * One database and one daemon for the program, with a 30 s cooling period so
 * that a consented loan stays "cooling" for the whole run. Each test uses
 * its own lender, so that its loans can be told apart with the lender filter
 * (or with a time window no other test uses).
 */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/testdb.h"

#define USEC       1000000LL
#define MINUTE     (60 * USEC)
#define TS_FMT_BUF 64

static struct e2e_env env;
static char *tok_comp;  /* compliance "comp1" */
static char *tok_audit; /* auditor "audit1" */
static char *tok_stat;  /* lender client of STAT1 */
static char *tok_page;  /* lender client of PAGE1 */
static char *tok_bnd;   /* lender client of BND1 */
static char *tok_aud;   /* lender client "aud-core" of AUD1 */
static char *tok_oth;   /* lender client of OTH1 */

static const char *const daemon_env[] = {"COOLINGD_POLICY_COOLING_PERIOD=30s", NULL};

static void setup(void)
{
	e2e_start(&env, "e2e_queries", daemon_env);
	e2e_lender_add(&env, "STAT1", "bank");
	e2e_lender_add(&env, "PAGE1", "mfo");
	e2e_lender_add(&env, "BND1", "bank");
	e2e_lender_add(&env, "AUD1", "bank");
	e2e_lender_add(&env, "OTH1", "mfo");
	tok_comp = e2e_client_add(&env, "comp1", "compliance", NULL);
	tok_audit = e2e_client_add(&env, "audit1", "auditor", NULL);
	tok_stat = e2e_client_add(&env, "stat-core", "lender", "STAT1");
	tok_page = e2e_client_add(&env, "page-core", "lender", "PAGE1");
	tok_bnd = e2e_client_add(&env, "bnd-core", "lender", "BND1");
	tok_aud = e2e_client_add(&env, "aud-core", "lender", "AUD1");
	tok_oth = e2e_client_add(&env, "oth-core", "lender", "OTH1");
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok_comp);
	free(tok_audit);
	free(tok_stat);
	free(tok_page);
	free(tok_bnd);
	free(tok_aud);
	free(tok_oth);
}

/* ---- helpers ---- */

/* us as RFC 3339: UTC with Z (offset_min 0) or local time at that offset,
 * "+hh:mm" written as "%2B" when url is set; a fraction only when needed. */
static void ts_fmt(char out[TS_FMT_BUF], int64_t us, int offset_min, bool url)
{
	int64_t local = us + (int64_t)offset_min * MINUTE;
	time_t t = (time_t)(local / USEC);
	long frac = (long)(local % USEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	char base[24], fr[16] = "", off[16] = "Z";
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac != 0)
		snprintf(fr, sizeof fr, ".%06ld", frac);
	if (offset_min != 0)
		snprintf(off, sizeof off, "%s%02d:%02d", offset_min > 0 ? (url ? "%2B" : "+") : "-",
		         abs(offset_min) / 60, abs(offset_min) % 60);
	snprintf(out, TS_FMT_BUF, "%s%s%s", base, fr, off);
}

static void get(const char *token, const char *path, struct http_resp *out)
{
	e2e_call(&env, "GET", path, token, NULL, NULL, out);
}

/*
 * Records a first-time borrower's online approval of loan_id at lender and
 * asserts 201. amount in tenge; approved_at/consent_at (microseconds) are
 * sent when not 0.
 */
static void approve(const char *token, const char *lender, const char *loan_id, unsigned iin_seed,
                    const char *amount, bool secured, int64_t approved_at, int64_t consent_at)
{
	char approved[TS_FMT_BUF], consent[TS_FMT_BUF];
	if (approved_at != 0)
		ts_fmt(approved, approved_at, 0, false);
	if (consent_at != 0)
		ts_fmt(consent, consent_at, 0, false);
	e2e_approve(&env, token, lender, loan_id,
	            &(struct e2e_loan){.iin_seed = iin_seed,
	                               .amount = amount,
	                               .secured = secured,
	                               .first_time = E2E_FIRST_TIME_BORROWER,
	                               .approved_at = approved_at != 0 ? approved : NULL,
	                               .consent_at = consent_at != 0 ? consent : NULL},
	            NULL);
}

/* Appends s to the comma-separated list in out (size n). */
static void list_append(char *out, size_t n, const char *s)
{
	size_t len = strlen(out), add = strlen(s);
	ck_assert_msg(len + 1 + add < n, "id list longer than %zu bytes", n);
	if (len > 0)
		out[len++] = ',';
	memcpy(out + len, s, add + 1);
}

/* The loan_ids of a {"loans": [...]} answer as "A,B,C" (checking each has
 * a lender and a loan_id). */
static void loan_ids(json_t *root, char *out, size_t n)
{
	json_t *loans = e2e_json_at(root, "loans");
	ck_assert_msg(json_is_array(loans), "no loans array");
	out[0] = '\0';
	size_t i;
	json_t *l;
	json_array_foreach(loans, i, l)
	{
		const char *id = e2e_jstr(l, "loan_id");
		ck_assert_msg(id != NULL && e2e_jstr(l, "lender") != NULL, "loan without ids");
		list_append(out, n, id);
	}
}

/* GET /v1/loans?QUERY as compliance, asserts 200, returns the ids. */
static void list_ids(const char *query, char *out, size_t n)
{
	char path[1024];
	snprintf(path, sizeof path, "/v1/loans?%s", query);
	struct http_resp r;
	get(tok_comp, path, &r);
	ck_assert_msg(r.status == 200, "%s: %d %s", path, r.status, r.body);
	loan_ids(r.json, out, n);
	http_resp_free(&r);
}

static void assert_list(const char *query, const char *want)
{
	char got[4096];
	list_ids(query, got, sizeof got);
	ck_assert_msg(strcmp(got, want) == 0, "/v1/loans?%s: expected [%s], got [%s]", query, want,
	              got);
}

/*
 * Follows "next" from GET BASE?QUERY&limit=LIMIT (BASE: /v1/loans, or a
 * lender's /v1/lenders/{lender}/loans; walk() is the former) to the end. Every page
 * but the last is full and has a next; the last has next null (it may be
 * empty when the one before was exactly full). Writes "A,B,..." of all pages
 * to out and returns the number of pages. between(page_no) runs after each
 * page (may be NULL).
 */
static int walk_at(const char *token, const char *base, const char *query, int limit, char *out,
                   size_t n, void (*between)(int))
{
	char cursor[128] = "";
	out[0] = '\0';
	int pages = 0;
	for (;;) {
		ck_assert_msg(pages < 200, "more than 200 pages: the cursor does not advance");
		char path[1024];
		snprintf(path, sizeof path, "%s?%s%slimit=%d%s%s", base, query, *query ? "&" : "",
		         limit, *cursor ? "&after=" : "", cursor);
		struct http_resp r;
		get(token, path, &r);
		ck_assert_msg(r.status == 200, "%s: %d %s", path, r.status, r.body);
		pages++;
		json_t *loans = e2e_json_at(r.json, "loans");
		json_t *next = e2e_json_at(r.json, "next");
		ck_assert_msg(json_is_array(loans) && next != NULL, "%s: bad shape %s", path,
		              r.body);
		size_t got = json_array_size(loans);
		ck_assert_msg(got <= (size_t)limit, "%s: %zu loans > limit", path, got);
		char ids[4096];
		loan_ids(r.json, ids, sizeof ids);
		if (*ids)
			list_append(out, n, ids);
		if (got == (size_t)limit) {
			ck_assert_msg(json_is_string(next) && *json_string_value(next),
			              "%s: a full page without next: %s", path, r.body);
			snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
		} else {
			ck_assert_msg(json_is_null(next), "%s: a short page with next: %s", path,
			              r.body);
		}
		http_resp_free(&r);
		if (between)
			between(pages);
		if (got < (size_t)limit)
			return pages;
	}
}

static int walk(const char *token, const char *query, int limit, char *out, size_t n,
                void (*between)(int))
{
	return walk_at(token, "/v1/loans", query, limit, out, n, between);
}

/* ---- audit helpers ---- */

struct ev {
	long long seq;
	char at[40];
	char actor[80];
	char lender[72];  /* "" when null */
	char loan_id[72]; /* "" when null */
	bool lender_null, loan_null;
	char type[32];
	json_t *detail;
	char hash[65];
};

struct evlist {
	struct ev *v;
	size_t n, cap;
};

static void evlist_free(struct evlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_decref(l->v[i].detail);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Every type of the audit_event CHECK (sql/013): a loan's events, and those
 * of no loan (an operator's act, the registry, a webhook). The clock's own
 * events (cooling_period_ended, ...) may come in any test whose period ends
 * while it runs. */
static const char *const event_types[] = {"approval_recorded",
                                          "consent_recorded",
                                          "in_person_verified",
                                          "cancelled",
                                          "disbursement_allowed",
                                          "disbursement_refused",
                                          "reconfirmation_recorded",
                                          "extra_confirmation_recorded",
                                          "cooling_period_ended",
                                          "voluntary_refusal_applied",
                                          "voluntary_refusal_lifted",
                                          "lender_added",
                                          "client_added",
                                          "client_revoked",
                                          "mrp_set",
                                          "voluntary_refusal_set",
                                          "voluntary_refusal_withdrawn",
                                          "webhook_added",
                                          "webhook_removed"};

static bool is_operator_type(const char *t)
{
	static const char *const no_loan[] = {
	    "lender_added",  "client_added",          "client_revoked",
	    "mrp_set",       "voluntary_refusal_set", "voluntary_refusal_withdrawn",
	    "webhook_added", "webhook_removed"};
	for (size_t i = 0; i < sizeof no_loan / sizeof no_loan[0]; i++)
		if (strcmp(t, no_loan[i]) == 0)
			return true;
	return false;
}

/* Checks one event object's shape and appends it. */
static void ev_take(struct evlist *l, json_t *o)
{
	char *dump = json_dumps(o, JSON_COMPACT);
	json_t *seq = json_object_get(o, "seq");
	json_t *lender = json_object_get(o, "lender");
	json_t *loan = json_object_get(o, "loan_id");
	json_t *detail = json_object_get(o, "detail");
	const char *at = e2e_jstr(o, "at"), *actor = e2e_jstr(o, "actor"),
	           *type = e2e_jstr(o, "type"), *hash = e2e_jstr(o, "hash");
	ck_assert_msg(json_object_size(o) == 8, "event with other members: %s", dump);
	ck_assert_msg(json_is_integer(seq) && json_integer_value(seq) > 0, "seq: %s", dump);
	ck_assert_msg(e2e_is_utc_z(at), "at is not UTC with Z: %s", dump);
	ck_assert_msg(actor != NULL && *actor, "actor: %s", dump);
	ck_assert_msg(json_is_string(lender) || json_is_null(lender), "lender: %s", dump);
	ck_assert_msg(json_is_string(loan) || json_is_null(loan), "loan_id: %s", dump);
	ck_assert_msg(json_is_object(detail), "detail is not an object: %s", dump);
	bool known = false;
	for (size_t i = 0; type && i < sizeof event_types / sizeof event_types[0]; i++)
		known = known || strcmp(type, event_types[i]) == 0;
	ck_assert_msg(known, "unknown type: %s", dump);
	ck_assert_msg(hash != NULL && strlen(hash) == 64 && strspn(hash, "0123456789abcdef") == 64,
	              "hash is not 64 lower-case hex digits: %s", dump);
	ck_assert_msg(is_operator_type(type) == json_is_null(loan),
	              "loan_id must be null exactly for operator events: %s", dump);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		ck_assert(l->v != NULL);
	}
	struct ev *e = &l->v[l->n++];
	memset(e, 0, sizeof *e);
	e->seq = json_integer_value(seq);
	snprintf(e->at, sizeof e->at, "%s", at);
	snprintf(e->actor, sizeof e->actor, "%s", actor);
	e->lender_null = json_is_null(lender);
	e->loan_null = json_is_null(loan);
	snprintf(e->lender, sizeof e->lender, "%s",
	         e->lender_null ? "" : json_string_value(lender));
	snprintf(e->loan_id, sizeof e->loan_id, "%s", e->loan_null ? "" : json_string_value(loan));
	snprintf(e->type, sizeof e->type, "%s", type);
	e->detail = json_incref(detail);
	snprintf(e->hash, sizeof e->hash, "%s", hash);
	free(dump);
}

/*
 * Reads the whole trail with GET /v1/audit pages of `limit`, following
 * next_after from 0 until an empty page; checks next_after on every page.
 */
static void audit_read_all(const char *token, int limit, struct evlist *out)
{
	memset(out, 0, sizeof *out);
	long long after = 0;
	for (int pages = 0;; pages++) {
		ck_assert_msg(pages < 10000, "next_after does not advance");
		char path[128];
		snprintf(path, sizeof path, "/v1/audit?after=%lld&limit=%d", after, limit);
		struct http_resp r;
		get(token, path, &r);
		ck_assert_msg(r.status == 200, "%s: %d %s", path, r.status, r.body);
		json_t *events = e2e_json_at(r.json, "events");
		json_t *na = e2e_json_at(r.json, "next_after");
		ck_assert_msg(json_is_array(events) && json_is_integer(na), "%s: shape %s", path,
		              r.body);
		ck_assert_msg(json_array_size(events) <= (size_t)limit, "%s: over limit", path);
		size_t n = json_array_size(events);
		for (size_t i = 0; i < n; i++)
			ev_take(out, json_array_get(events, i));
		long long want_next = n ? out->v[out->n - 1].seq : after;
		ck_assert_msg(json_integer_value(na) == want_next,
		              "%s: next_after %lld, expected %lld", path,
		              (long long)json_integer_value(na), want_next);
		http_resp_free(&r);
		if (n == 0)
			return;
		after = want_next;
	}
}

static const struct ev *ev_find(const struct evlist *l, const char *lender, const char *loan_id,
                                const char *type)
{
	for (size_t i = 0; i < l->n; i++)
		if ((lender == NULL || strcmp(l->v[i].lender, lender) == 0) &&
		    (loan_id == NULL || strcmp(l->v[i].loan_id, loan_id) == 0) &&
		    strcmp(l->v[i].type, type) == 0)
			return &l->v[i];
	return NULL;
}

static long long events_in_db(void)
{
	return e2e_sql_num(&env, "SELECT count(*) FROM audit_event", NULL);
}

/* Reads the trail until it holds every event written so far (the sealer
 * runs every 200 ms), at most 30 s. */
static void audit_wait_all(const char *token, int limit, struct evlist *out)
{
	long long want = events_in_db();
	int64_t deadline = e2e_wall_us() + 30 * USEC;
	for (;;) {
		audit_read_all(token, limit, out);
		if ((long long)out->n >= want || e2e_wall_us() > deadline)
			break;
		evlist_free(out);
		usleep(100000);
	}
	ck_assert_msg((long long)out->n == want,
	              "GET /v1/audit shows %zu events after 30 s, the database holds %lld", out->n,
	              want);
}

static void hex_decode(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		ck_assert(sscanf(hex + 2 * i, "%2x", &v) == 1);
		out[i] = (unsigned char)v;
	}
}

/* ---- roles ---- */

START_TEST(test_roles_compliance_and_auditor_read_lender_is_403)
{
	static const char *const paths[] = {"/v1/audit", "/v1/loans", "/v1/audit?limit=abc",
	                                    "/v1/loans?status=bogus"};
	struct http_resp r;
	for (size_t i = 0; i < 4; i++) {
		/* a lender token is refused before its parameters are looked at */
		get(tok_stat, paths[i], &r);
		E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
		http_resp_free(&r);
		get(NULL, paths[i], &r);
		E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
		http_resp_free(&r);
	}
	for (size_t i = 0; i < 2; i++) {
		get(tok_comp, paths[i], &r);
		E2E_ASSERT_STATUS(&r, 200);
		http_resp_free(&r);
		get(tok_audit, paths[i], &r);
		E2E_ASSERT_STATUS(&r, 200);
		http_resp_free(&r);
	}
	/* only GET */
	e2e_call(&env, "POST", "/v1/loans", tok_comp, "{}", NULL, &r);
	E2E_ASSERT_ERROR(&r, 405, "method_not_allowed", NULL);
	http_resp_free(&r);
	e2e_call(&env, "POST", "/v1/audit", tok_audit, "{}", NULL, &r);
	E2E_ASSERT_ERROR(&r, 405, "method_not_allowed", NULL);
	http_resp_free(&r);
}
END_TEST

/* ---- GET /v1/audit ---- */

START_TEST(test_audit_bad_parameters_are_422_naming_them)
{
	static const struct {
		const char *query, *field;
	} bad[] = {
	    {"limit=0", "limit"},
	    {"limit=1001", "limit"},
	    {"limit=abc", "limit"},
	    {"limit=", "limit"},
	    {"limit=-1", "limit"},
	    {"limit=1.5", "limit"},
	    {"limit=%2B5", "limit"},
	    {"after=-1", "after"},
	    {"after=abc", "after"},
	    {"after=", "after"},
	    {"after=1e3", "after"},
	    {"after=1&limit=0", "limit"},
	    {"foo=1", "foo"},
	    {"after=0&Limit=5", "Limit"},
	    {"after=1&after=2", "after"},
	    {"limit=5&limit=5", "limit"},
	    {"after=1234567890123456789", "after"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, "/v1/audit?%s", bad[i].query);
		struct http_resp r;
		get(tok_audit, path, &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", bad[i].field),
		              "%s: expected 422 with field %s, got %d: %s", path, bad[i].field,
		              r.status, r.body);
		http_resp_free(&r);
	}
	/* the edges that are fine */
	static const char *const good[] = {
	    "/v1/audit?limit=1", "/v1/audit?limit=1000",
	    "/v1/audit?after=0", "/v1/audit?after=999999999999999999",
	    "/v1/audit?",        "/v1/audit?after=0&limit=7"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct http_resp r;
		get(tok_comp, good[i], &r);
		ck_assert_msg(r.status == 200, "%s: %d %s", good[i], r.status, r.body);
		http_resp_free(&r);
	}
}
END_TEST

static void lender_walk_check(const char *lender);

/*
 * Acts of the API and of the operator, then the whole trail: every event
 * once, seqs 1..N without gaps, the documented shape, actors, details, and
 * the hash chain recomputed from the answer.
 */
START_TEST(test_audit_every_act_in_order_with_a_verifiable_hash_chain)
{
	int64_t now = e2e_wall_us();
	/* operator events: a client revoked, an MRP set */
	char *tok_tmp = e2e_client_add(&env, "temp-client", "compliance", NULL);
	free(tok_tmp);
	int code = -1;
	free(run_ctl(env.db_url, &code, "client revoke temp-client"));
	ck_assert_int_eq(code, 0);
	free(run_ctl(env.db_url, &code, "mrp set 2031-01-01 5000"));
	ck_assert_int_eq(code, 0);

	/* A1: approval, consent, a refused disbursement, the visit, cancellation */
	approve(tok_aud, "AUD1", "A1", 501, "1000000", false, 0, 0);
	e2e_act_expect(&env, tok_aud, "AUD1", "A1", "consent", "{}", 200);
	struct http_resp r;
	e2e_call(&env, "POST", "/v1/lenders/AUD1/loans/A1/disbursement", tok_aud, "{}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	http_resp_free(&r);
	e2e_act_expect(&env, tok_aud, "AUD1", "A1", "in-person-verification",
	               "{\"branch_id\":\"BR-1\",\"officer_id\":\"OF-7\"}", 200);
	e2e_act_expect(&env, tok_aud, "AUD1", "A1", "cancellation",
	               "{\"reason\":\"клиент передумал \\\"сразу\\\"\"}", 200);
	/* A2: consented 35 minutes ago, cooling long over, secured: allowed */
	approve(tok_aud, "AUD1", "A2", 502, "1000000", true, now - 40 * MINUTE, now - 35 * MINUTE);
	e2e_act_expect(&env, tok_aud, "AUD1", "A2", "disbursement", "{}", 200);
	/* enough events that the default limit of 100 matters */
	for (int i = 0; events_in_db() <= 130 && i < 200; i++) {
		char id[16];
		snprintf(id, sizeof id, "X%d", i);
		approve(tok_aud, "AUD1", id, 600 + (unsigned)i, "1000", true, 0, 0);
	}

	struct evlist all;
	audit_wait_all(tok_audit, 7, &all);
	long long n = (long long)all.n;
	ck_assert_msg(n > 130, "only %lld events", n);

	/* seqs 1..N without gaps, hashes all different */
	for (size_t i = 0; i < all.n; i++) {
		ck_assert_msg(all.v[i].seq == (long long)i + 1, "event %zu has seq %lld", i,
		              all.v[i].seq);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(all.v[i].hash, all.v[j].hash) != 0,
			              "seq %lld and %lld have the same hash", all.v[i].seq,
			              all.v[j].seq);
	}

	/* the API acts of A1, in this order, by the client that made them */
	static const char *const a1_types[] = {"approval_recorded", "consent_recorded",
	                                       "disbursement_refused", "in_person_verified",
	                                       "cancelled"};
	long long last = 0;
	for (size_t t = 0; t < 5; t++) {
		const struct ev *e = ev_find(&all, "AUD1", "A1", a1_types[t]);
		ck_assert_msg(e != NULL, "no %s event of AUD1/A1", a1_types[t]);
		ck_assert_msg(e->seq > last, "%s comes before the act preceding it", a1_types[t]);
		last = e->seq;
		ck_assert_str_eq(e->actor, "aud-core");
	}
	const struct ev *e = ev_find(&all, "AUD1", "A1", "disbursement_refused");
	json_t *blockers = json_object_get(e->detail, "blockers");
	char *bl = json_dumps(blockers, JSON_COMPACT | JSON_ENCODE_ANY);
	ck_assert_msg(bl && strcmp(bl, "[\"cooling_period_active\","
	                               "\"in_person_verification_missing\"]") == 0,
	              "refusal blockers: %s", bl ? bl : "(none)");
	free(bl);
	e = ev_find(&all, "AUD1", "A1", "cancelled");
	E2E_ASSERT_JSTR(e->detail, "reason", "клиент передумал \"сразу\"");
	e = ev_find(&all, "AUD1", "A1", "in_person_verified");
	E2E_ASSERT_JSTR(e->detail, "branch_id", "BR-1");
	E2E_ASSERT_JSTR(e->detail, "officer_id", "OF-7");
	ck_assert_msg(ev_find(&all, "AUD1", "A2", "approval_recorded") != NULL, "A2 approval");
	e = ev_find(&all, "AUD1", "A2", "disbursement_allowed");
	ck_assert_msg(e != NULL, "no disbursement_allowed event of A2");
	ck_assert_str_eq(e->actor, "aud-core");

	/* operator events: actor coolingctl:<user>, no loan */
	e = ev_find(&all, "AUD1", NULL, "lender_added");
	ck_assert_msg(e != NULL && e->loan_null, "lender_added of AUD1");
	ck_assert_msg(strncmp(e->actor, "coolingctl:", 11) == 0 && e->actor[11] != '\0',
	              "operator actor: %s", e->actor);
	E2E_ASSERT_JSTR(e->detail, "kind", "bank");
	e = ev_find(&all, "AUD1", NULL, "client_added");
	ck_assert_msg(e != NULL, "client_added of aud-core");
	E2E_ASSERT_JSTR(e->detail, "name", "aud-core");
	E2E_ASSERT_JSTR(e->detail, "role", "lender");
	e = ev_find(&all, NULL, NULL, "client_revoked");
	ck_assert_msg(e != NULL && e->lender_null, "client_revoked");
	E2E_ASSERT_JSTR(e->detail, "name", "temp-client");
	ck_assert_msg(strncmp(e->actor, "coolingctl:", 11) == 0, "actor %s", e->actor);
	e = ev_find(&all, NULL, NULL, "mrp_set");
	ck_assert_msg(e != NULL && e->lender_null && e->loan_null, "mrp_set");
	E2E_ASSERT_JSTR(e->detail, "valid_from", "2031-01-01");
	ck_assert_int_eq(json_integer_value(json_object_get(e->detail, "tenge")), 5000);
	ck_assert_msg(strncmp(e->actor, "coolingctl:", 11) == 0, "actor %s", e->actor);
	/* operator events are in the order they happened too */
	ck_assert(ev_find(&all, NULL, NULL, "client_revoked")->seq <
	          ev_find(&all, NULL, NULL, "mrp_set")->seq);

	/*
	 * The chain: hash(seq) = SHA-256(hash(seq-1) || canonical), hash(0) = 32
	 * zero bytes, canonical = seq\nat_us\nactor\nlender\nloan\ntype\ndetail.
	 * Everything comes from the answer except the detail's jsonb text and the
	 * time in microseconds, read with SQL (the answer's `at` must agree).
	 */
	PGconn *c = testdb_connect(env.db_url);
	PGresult *q = PQexec(c, "SELECT c.seq, e.detail::text, cd_us(e.at) FROM audit_chain c "
	                        "JOIN audit_event e ON e.id = c.event_id ORDER BY c.seq");
	ck_assert_msg(PQresultStatus(q) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	ck_assert_msg(PQntuples(q) >= (int)all.n, "audit_chain has %d rows", PQntuples(q));
	unsigned char prev[32] = {0};
	for (size_t i = 0; i < all.n; i++) {
		const struct ev *x = &all.v[i];
		ck_assert_int_eq(atoll(PQgetvalue(q, (int)i, 0)), x->seq);
		const char *detail_text = PQgetvalue(q, (int)i, 1);
		long long at_us = atoll(PQgetvalue(q, (int)i, 2));
		ck_assert_msg(e2e_ts_parse(x->at) == at_us, "seq %lld: at %s is not %lld us",
		              x->seq, x->at, at_us);
		json_t *dj = json_loads(detail_text, 0, NULL);
		ck_assert_msg(dj && json_equal(dj, x->detail), "seq %lld: detail differs from %s",
		              x->seq, detail_text);
		json_decref(dj);
		size_t cap = strlen(detail_text) + 512;
		char *canon = malloc(cap);
		ck_assert(canon != NULL);
		int len = snprintf(canon, cap, "%lld\n%lld\n%s\n%s\n%s\n%s\n%s", x->seq, at_us,
		                   x->actor, x->lender, x->loan_id, x->type, detail_text);
		ck_assert(len > 0 && (size_t)len < cap);
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		ck_assert(ctx != NULL);
		ck_assert(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		          EVP_DigestUpdate(ctx, prev, sizeof prev) == 1 &&
		          EVP_DigestUpdate(ctx, canon, (size_t)len) == 1 &&
		          EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32);
		EVP_MD_CTX_free(ctx);
		free(canon);
		char hex[65];
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", md[k]);
		ck_assert_msg(strcmp(hex, x->hash) == 0, "seq %lld (%s): hash %s, recomputed %s",
		              x->seq, x->type, x->hash, hex);
		hex_decode(x->hash, prev, 32);
	}
	PQclear(q);
	PQfinish(c);

	/* the default page is 100 events, 1000 at most; a page in the middle */
	get(tok_comp, "/v1/audit", &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_int_eq(json_array_size(e2e_json_at(r.json, "events")), 100);
	ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "next_after")), 100);
	http_resp_free(&r);
	get(tok_comp, "/v1/audit?limit=1000", &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_int_eq((long long)json_array_size(e2e_json_at(r.json, "events")),
	                 n < 1000 ? n : 1000);
	http_resp_free(&r);
	get(tok_audit, "/v1/audit?after=41&limit=3", &r);
	E2E_ASSERT_STATUS(&r, 200);
	json_t *evs = e2e_json_at(r.json, "events");
	ck_assert_int_eq(json_array_size(evs), 3);
	for (int k = 0; k < 3; k++) {
		json_t *o = json_array_get(evs, (size_t)k);
		ck_assert_int_eq(json_integer_value(json_object_get(o, "seq")), 42 + k);
		E2E_ASSERT_JSTR(o, "hash", all.v[41 + k].hash);
	}
	ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "next_after")), 44);
	http_resp_free(&r);

	/* past the end: nothing, and next_after stays where it was */
	char path[128];
	snprintf(path, sizeof path, "/v1/audit?after=%lld", n + 1000);
	get(tok_audit, path, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_int_eq(json_array_size(e2e_json_at(r.json, "events")), 0);
	ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "next_after")), n + 1000);
	http_resp_free(&r);
	snprintf(path, sizeof path, "/v1/audit?after=%lld&limit=5", n - 1);
	get(tok_audit, path, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_int_eq(json_array_size(e2e_json_at(r.json, "events")), 1);
	ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "next_after")), n);
	http_resp_free(&r);

	/* a new act appears after the last seq, and only there */
	approve(tok_aud, "AUD1", "A3", 503, "1000", true, 0, 0);
	int64_t deadline = e2e_wall_us() + 30 * USEC;
	bool seen = false;
	while (!seen && e2e_wall_us() < deadline) {
		snprintf(path, sizeof path, "/v1/audit?after=%lld", n);
		get(tok_audit, path, &r);
		E2E_ASSERT_STATUS(&r, 200);
		json_t *o = json_array_get(e2e_json_at(r.json, "events"), 0);
		if (o != NULL) {
			ck_assert_int_eq(json_integer_value(json_object_get(o, "seq")), n + 1);
			E2E_ASSERT_JSTR(o, "loan_id", "A3");
			E2E_ASSERT_JSTR(o, "type", "approval_recorded");
			seen = true;
		}
		http_resp_free(&r);
		if (!seen)
			usleep(100000);
	}
	ck_assert_msg(seen, "the approval of A3 did not appear in /v1/audit within 30 s");
	evlist_free(&all);
	lender_walk_check("AUD1"); /* the lender filter, now that AUD1 has loans */
}
END_TEST

/* ---- GET /v1/loans ---- */

START_TEST(test_loans_bad_parameters_are_422_naming_them)
{
	static const struct {
		const char *query, *field;
	} bad[] = {
	    {"status=bogus", "status"},
	    {"status=", "status"},
	    {"status=COOLING", "status"},
	    {"status=eligible&status=cooling", "status"},
	    {"lender=bad%20lender", "lender"},
	    {"lender=", "lender"},
	    {"lender=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "lender"},
	    {"lender=STAT1&lender=PAGE1", "lender"},
	    {"from=yesterday", "from"},
	    {"from=", "from"},
	    {"from=2026-11-29T10:00:00", "from"},
	    {"from=2026-11-29", "from"},
	    {"from=2026-11-29T10:00:00+05:00", "from"}, /* '+' is a space in a query */
	    {"to=2026-13-01T00:00:00Z", "to"},
	    {"to=2026-11-29T25:00:00Z", "to"},
	    {"to=2026-11-29T10:00:00.1234567Z", "to"},
	    {"limit=0", "limit"},
	    {"limit=1001", "limit"},
	    {"limit=abc", "limit"},
	    {"limit=", "limit"},
	    {"limit=-3", "limit"},
	    {"after=zzz", "after"},
	    {"after=", "after"},
	    {"after=%21%21", "after"},
	    {"after=YWJjOmRlZg", "after"}, /* "abc:def" */
	    {"after=MTIzOjA", "after"},    /* "123:0": no such row id */
	    {"foo=1", "foo"},
	    {"status=eligible&Status=eligible", "Status"},
	    {"cursor=abc", "cursor"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "/v1/loans?%s", bad[i].query);
		struct http_resp r;
		get(tok_comp, path, &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", bad[i].field),
		              "%s: expected 422 with field %s, got %d: %s", path, bad[i].field,
		              r.status, r.body);
		http_resp_free(&r);
	}
	static const char *const good[] = {
	    "/v1/loans?status=awaiting_consent",
	    "/v1/loans?status=cooling",
	    "/v1/loans?status=awaiting_in_person",
	    "/v1/loans?status=eligible",
	    "/v1/loans?status=disbursed",
	    "/v1/loans?status=cancelled",
	    "/v1/loans?lender=NO.SUCH_lender:1",
	    "/v1/loans?limit=1",
	    "/v1/loans?limit=1000",
	    "/v1/loans?from=2026-11-29T10:00:00Z",
	    "/v1/loans?to=2026-11-29T15:00:00%2B05:00",
	    "/v1/loans?from=2026-11-29T10:00:00.5Z&to=2026-11-29T10:00:00.500001Z",
	    "/v1/loans?after=MTox", /* "1:1", a well-formed position */
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct http_resp r;
		get(tok_audit, good[i], &r);
		ck_assert_msg(r.status == 200, "%s: %d %s", good[i], r.status, r.body);
		http_resp_free(&r);
	}
	/* a lender nobody registered is no error, just no loans */
	assert_list("lender=NO.SUCH_lender:1", "");
}
END_TEST

/* Loans of PAGE1: 25 approvals whose approved_at is not in insertion order,
 * with ties (three loans share each minute). */
#define PAGE_N 25
static int64_t page_base;
static char page_expected[4096]; /* newest first */

static void page_setup_loans(void)
{
	page_base = (e2e_wall_us() - 55 * MINUTE) / USEC * USEC;
	int64_t at[PAGE_N];
	for (int i = 0; i < PAGE_N; i++) {
		at[i] = page_base + (int64_t)((i * 7) % 9) * MINUTE;
		char id[16];
		snprintf(id, sizeof id, "P%02d", i);
		approve(tok_page, "PAGE1", id, 700 + (unsigned)i, "1000", true, at[i], 0);
	}
	/* expected order: approved_at desc, then the later insertion first */
	bool used[PAGE_N] = {false};
	page_expected[0] = '\0';
	for (int k = 0; k < PAGE_N; k++) {
		int best = -1;
		for (int i = 0; i < PAGE_N; i++)
			if (!used[i] &&
			    (best < 0 || at[i] > at[best] || (at[i] == at[best] && i > best)))
				best = i;
		used[best] = true;
		char id[16];
		snprintf(id, sizeof id, "P%02d", best);
		list_append(page_expected, sizeof page_expected, id);
	}
}

static void insert_newest_between_pages(int page_no)
{
	if (page_no != 1)
		return;
	/* newer than every loan already listed: a cursor walk must not show it,
	 * nor show any loan twice (as offset paging would) */
	approve(tok_page, "PAGE1", "P-NEW", 799, "1000", true, page_base + 8 * MINUTE + 30 * USEC,
	        0);
}

START_TEST(test_loans_paging_newest_first_each_loan_exactly_once)
{
	page_setup_loans();
	char got[4096], query[256], from[TS_FMT_BUF], to[TS_FMT_BUF];

	/* one page with everything: the order itself */
	assert_list("lender=PAGE1&limit=100", page_expected);

	/* across lenders, bounded to the window only PAGE1 uses */
	ts_fmt(from, page_base, 0, false);
	ts_fmt(to, page_base + 9 * MINUTE, 0, false);
	snprintf(query, sizeof query, "from=%s&to=%s", from, to);
	int pages = walk(tok_comp, query, 7, got, sizeof got, NULL);
	ck_assert_msg(strcmp(got, page_expected) == 0, "walk by 7:\n got %s\nwant %s", got,
	              page_expected);
	ck_assert_int_eq(pages, 4); /* 7 + 7 + 7 + 4 */

	/* by lender, with a new newest loan arriving after the first page */
	pages = walk(tok_audit, "lender=PAGE1", 7, got, sizeof got, insert_newest_between_pages);
	ck_assert_msg(strcmp(got, page_expected) == 0, "walk with an insert:\n got %s\nwant %s",
	              got, page_expected);
	ck_assert_int_eq(pages, 4);

	/* now 26 loans, P-NEW first; 13 per page: two full pages, then an empty
	 * one with next null */
	char want26[4200] = "P-NEW";
	list_append(want26, sizeof want26, page_expected);
	pages = walk(tok_comp, "lender=PAGE1", 13, got, sizeof got, NULL);
	ck_assert_msg(strcmp(got, want26) == 0, "walk by 13:\n got %s\nwant %s", got, want26);
	ck_assert_int_eq(pages, 3);
	pages = walk(tok_comp, "lender=PAGE1", 1, got, sizeof got, NULL);
	ck_assert_msg(strcmp(got, want26) == 0, "walk by 1:\n got %s\nwant %s", got, want26);
	ck_assert_int_eq(pages, 27);

	/* a filter and a cursor together: the cursor only moves the start */
	snprintf(query, sizeof query, "lender=PAGE1&from=%s&to=%s&status=awaiting_consent", from,
	         to);
	pages = walk(tok_comp, query, 6, got, sizeof got, NULL);
	ck_assert_msg(strcmp(got, want26) == 0, "filtered walk:\n got %s\nwant %s", got, want26);

	/* every loan of the list is the loan as GET shows it */
	struct http_resp r, one;
	get(tok_comp, "/v1/loans?lender=PAGE1&limit=3", &r);
	E2E_ASSERT_STATUS(&r, 200);
	get(tok_comp, "/v1/lenders/PAGE1/loans/P-NEW", &one);
	E2E_ASSERT_STATUS(&one, 200);
	json_t *first = json_array_get(e2e_json_at(r.json, "loans"), 0);
	ck_assert_msg(json_equal(first, one.json), "listed %s\nGET %s",
	              json_dumps(first, JSON_COMPACT), one.body);
	http_resp_free(&r);
	http_resp_free(&one);
}
END_TEST

/* ids of the loans of STAT1 listed with status s, every one with that
 * status; and the same status across all lenders: nothing else. */
static void assert_status(const char *s, const char *want)
{
	char query[128];
	snprintf(query, sizeof query, "lender=STAT1&status=%s", s);
	assert_list(query, want);
	snprintf(query, sizeof query, "/v1/loans?status=%s&limit=1000", s);
	struct http_resp r;
	get(tok_comp, query, &r);
	E2E_ASSERT_STATUS(&r, 200);
	size_t i;
	json_t *l;
	json_array_foreach(e2e_json_at(r.json, "loans"), i, l)
	{
		const char *st = e2e_jstr(l, "status");
		ck_assert_msg(st && strcmp(st, s) == 0, "%s lists %s/%s with status %s", query,
		              e2e_jstr(l, "lender"), e2e_jstr(l, "loan_id"), st ? st : "?");
	}
	http_resp_free(&r);
}

START_TEST(test_loans_status_filter_every_status_at_this_moment)
{
	int64_t now = e2e_wall_us();
	/* S-AC: no consent yet */
	approve(tok_stat, "STAT1", "S-AC", 801, "1000000", false, 0, 0);
	/* S-CO: above the threshold, online, consent now: 30 s of cooling */
	approve(tok_stat, "STAT1", "S-CO", 802, "1000000", true, 0, 0);
	e2e_act_expect(&env, tok_stat, "STAT1", "S-CO", "consent", "{}", 200);
	/* S-IP: below the threshold, unsecured, first time: a visit is due */
	approve(tok_stat, "STAT1", "S-IP", 803, "100000", false, 0, 0);
	e2e_act_expect(&env, tok_stat, "STAT1", "S-IP", "consent", "{}", 200);
	/* S-EL: consent 35 minutes ago, its cooling period is over */
	approve(tok_stat, "STAT1", "S-EL", 804, "1000000", true, now - 40 * MINUTE,
	        now - 35 * MINUTE);
	/* S-DI: the same, then paid out */
	approve(tok_stat, "STAT1", "S-DI", 805, "1000000", true, now - 40 * MINUTE,
	        now - 35 * MINUTE);
	e2e_act_expect(&env, tok_stat, "STAT1", "S-DI", "disbursement", "{}", 200);
	/* S-CA: cancelled */
	approve(tok_stat, "STAT1", "S-CA", 806, "1000000", false, 0, 0);
	e2e_act_expect(&env, tok_stat, "STAT1", "S-CA", "cancellation",
	               "{\"reason\":\"withdrawn\"}", 200);
	/* S-CO2: cooling and a visit due: the first blocker decides */
	approve(tok_stat, "STAT1", "S-CO2", 807, "1000000", false, 0, 0);
	e2e_act_expect(&env, tok_stat, "STAT1", "S-CO2", "consent", "{}", 200);

	/* newest first: S-EL and S-DI were approved 40 minutes ago */
	assert_list("lender=STAT1", "S-CO2,S-CA,S-IP,S-CO,S-AC,S-DI,S-EL");
	assert_status("awaiting_consent", "S-AC");
	assert_status("cooling", "S-CO2,S-CO");
	assert_status("awaiting_in_person", "S-IP");
	assert_status("eligible", "S-EL");
	assert_status("disbursed", "S-DI");
	assert_status("cancelled", "S-CA");

	/* the status now, not at approval: the visit makes S-IP eligible */
	e2e_act_expect(&env, tok_stat, "STAT1", "S-IP", "in-person-verification",
	               "{\"branch_id\":\"B1\",\"officer_id\":\"O1\"}", 200);
	assert_status("awaiting_in_person", "");
	assert_status("eligible", "S-IP,S-EL");
	/* ... and consent moves S-AC on */
	e2e_act_expect(&env, tok_stat, "STAT1", "S-AC", "consent", "{}", 200);
	assert_status("awaiting_consent", "");
	assert_status("cooling", "S-CO2,S-CO,S-AC");
	/* a status with a cursor: the second page of cooling loans */
	char got[1024];
	int pages = walk(tok_comp, "lender=STAT1&status=cooling", 2, got, sizeof got, NULL);
	ck_assert_str_eq(got, "S-CO2,S-CO,S-AC");
	ck_assert_int_eq(pages, 2);
}
END_TEST

static void lender_walk_check(const char *lender)
{
	char query[64], got[8192];
	snprintf(query, sizeof query, "lender=%s", lender);
	walk(tok_comp, query, 1000, got, sizeof got, NULL);
	long long want =
	    e2e_sql_num(&env, "SELECT count(*) FROM loan WHERE lender_id = $1", lender, NULL);
	ck_assert_msg(want > 0, "lender %s has no loans to list", lender);
	long long n = *got ? 1 : 0;
	for (const char *p = got; *p; p++)
		n += *p == ',';
	ck_assert_msg(n == want, "lender=%s lists %lld loans, the database holds %lld", lender, n,
	              want);
	snprintf(query, sizeof query, "/v1/loans?lender=%s&limit=1000", lender);
	struct http_resp r;
	get(tok_audit, query, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_int_eq(json_array_size(e2e_json_at(r.json, "loans")), want);
	size_t i;
	json_t *l;
	json_array_foreach(e2e_json_at(r.json, "loans"), i, l)
	{
		E2E_ASSERT_JSTR(l, "lender", lender);
	}
	http_resp_free(&r);
}

START_TEST(test_loans_lender_filter_and_from_to_bounds)
{
	/* BND1: loans one minute apart around T, and one loan of OTH1 at T */
	int64_t t = (e2e_wall_us() - 30 * MINUTE) / USEC * USEC;
	approve(tok_bnd, "BND1", "B-1", 901, "1000", true, t - MINUTE, 0);
	approve(tok_bnd, "BND1", "B0", 902, "1000", true, t, 0);
	approve(tok_bnd, "BND1", "B0b", 903, "1000", true, t + 1, 0); /* 1 us later */
	approve(tok_bnd, "BND1", "B1", 904, "1000", true, t + MINUTE, 0);
	approve(tok_bnd, "BND1", "B2", 905, "1000", true, t + 2 * MINUTE, 0);
	approve(tok_oth, "OTH1", "O0", 906, "1000", true, t, 0);

	char q[512], a[TS_FMT_BUF], b[TS_FMT_BUF];
	/* [T, T+2m): from inclusive, to exclusive */
	ts_fmt(a, t, 0, false);
	ts_fmt(b, t + 2 * MINUTE, 0, false);
	snprintf(q, sizeof q, "lender=BND1&from=%s&to=%s", a, b);
	assert_list(q, "B1,B0b,B0");
	/* the same instants written in +05:00 and -03:30 */
	ts_fmt(a, t, 300, true);
	ts_fmt(b, t + 2 * MINUTE, -210, true);
	snprintf(q, sizeof q, "lender=BND1&from=%s&to=%s", a, b);
	assert_list(q, "B1,B0b,B0");
	/* one microsecond matters on both sides */
	ts_fmt(a, t + 1, 0, false);
	ts_fmt(b, t + 2 * MINUTE + 1, 0, false);
	snprintf(q, sizeof q, "lender=BND1&from=%s&to=%s", a, b);
	assert_list(q, "B2,B1,B0b");
	ts_fmt(b, t + 1, 0, false);
	snprintf(q, sizeof q, "lender=BND1&to=%s", b);
	assert_list(q, "B0,B-1");
	/* open on one side */
	ts_fmt(a, t + MINUTE, 0, false);
	snprintf(q, sizeof q, "lender=BND1&from=%s", a);
	assert_list(q, "B2,B1");
	ts_fmt(b, t, 0, false);
	snprintf(q, sizeof q, "lender=BND1&to=%s", b);
	assert_list(q, "B-1");
	/* empty windows */
	ts_fmt(a, t, 0, false);
	snprintf(q, sizeof q, "lender=BND1&from=%s&to=%s", a, a);
	assert_list(q, "");
	ts_fmt(b, t - 5 * MINUTE, 0, false);
	snprintf(q, sizeof q, "lender=BND1&from=%s&to=%s", a, b);
	assert_list(q, "");

	/* without the lender filter the window holds both lenders' loans at T */
	ts_fmt(a, t, 0, false);
	ts_fmt(b, t + 1, 0, false);
	snprintf(q, sizeof q, "from=%s&to=%s", a, b);
	assert_list(q, "O0,B0");
	snprintf(q, sizeof q, "from=%s&to=%s&lender=OTH1", a, b);
	assert_list(q, "O0");

	/* the lender filter against the database, for several lenders */
	lender_walk_check("BND1");
	lender_walk_check("OTH1");
	lender_walk_check("STAT1");
	lender_walk_check("PAGE1");
}
END_TEST

/* ---- GET /v1/lenders/{lender}/loans (v1.2) ---- */

/* The lender's own list, as the lender's token sees it, page by page, is
 * what GET /v1/loans?lender= shows compliance: the same loans in the same
 * order, with and without filters, and the same pages. */
static void assert_lender_list_is_the_loans_list(const char *lender, const char *token,
                                                 const char *query, int limit)
{
	char base[96], full[256], got[8192], want[8192];
	snprintf(base, sizeof base, "/v1/lenders/%s/loans", lender);
	snprintf(full, sizeof full, "lender=%s%s%s", lender, *query ? "&" : "", query);
	int want_pages = walk(tok_comp, full, limit, want, sizeof want, NULL);
	ck_assert_msg(*want, "%s: nothing to compare", full);
	const char *const tokens[] = {token, tok_comp, tok_audit};
	for (size_t i = 0; i < 3; i++) {
		int pages = walk_at(tokens[i], base, query, limit, got, sizeof got, NULL);
		ck_assert_msg(strcmp(got, want) == 0, "%s?%s by %d (token %zu):\n got %s\nwant %s",
		              base, query, limit, i, got, want);
		ck_assert_int_eq(pages, want_pages);
	}
}

START_TEST(test_lender_list_is_the_loans_list_with_the_lender_fixed)
{
	/* the loans of the tests above: PAGE1 (26), STAT1 (7 of every status),
	 * BND1 (5 around T) */
	assert_lender_list_is_the_loans_list("PAGE1", tok_page, "", 1000);
	assert_lender_list_is_the_loans_list("PAGE1", tok_page, "", 7);
	assert_lender_list_is_the_loans_list("PAGE1", tok_page, "status=awaiting_consent", 5);
	assert_lender_list_is_the_loans_list("STAT1", tok_stat, "", 3);
	assert_lender_list_is_the_loans_list("STAT1", tok_stat, "status=cooling", 2);
	assert_lender_list_is_the_loans_list("STAT1", tok_stat, "status=disbursed", 1000);
	assert_lender_list_is_the_loans_list("BND1", tok_bnd, "", 2);

	/* from/to as on /v1/loans: [B0, B2) of BND1 */
	long long t_s = e2e_sql_num(&env,
	                            "SELECT extract(epoch FROM approved_at)::bigint FROM loan "
	                            "WHERE lender_id = 'BND1' AND loan_id = 'B0'",
	                            NULL);
	char q[256], a[TS_FMT_BUF], b[TS_FMT_BUF], got[1024];
	ts_fmt(a, t_s * USEC, 0, false);
	ts_fmt(b, t_s * USEC + 2 * MINUTE, 0, false);
	snprintf(q, sizeof q, "from=%s&to=%s", a, b);
	walk_at(tok_bnd, "/v1/lenders/BND1/loans", q, 1000, got, sizeof got, NULL);
	ck_assert_str_eq(got, "B1,B0b,B0");
	assert_lender_list_is_the_loans_list("BND1", tok_bnd, q, 1);

	/* the answer itself, byte for byte the same shape: BND1's loans wait
	 * for consent, so nothing changes between the two reads */
	struct http_resp mine, all;
	get(tok_bnd, "/v1/lenders/BND1/loans?limit=2", &mine);
	get(tok_comp, "/v1/loans?lender=BND1&limit=2", &all);
	E2E_ASSERT_STATUS(&mine, 200);
	E2E_ASSERT_STATUS(&all, 200);
	ck_assert_msg(json_equal(mine.json, all.json), "lender list %s\nloans list %s", mine.body,
	              all.body);
	ck_assert(json_is_string(e2e_json_at(mine.json, "next")));
	http_resp_free(&mine);
	http_resp_free(&all);

	/* a lender without loans, or not recorded: an empty list */
	get(tok_comp, "/v1/lenders/NO-SUCH-LENDER/loans", &mine);
	E2E_ASSERT_STATUS(&mine, 200);
	ck_assert_int_eq(json_array_size(e2e_json_at(mine.json, "loans")), 0);
	ck_assert(json_is_null(e2e_json_at(mine.json, "next")));
	http_resp_free(&mine);
}
END_TEST

START_TEST(test_lender_list_refuses_another_lender_and_a_lender_parameter)
{
	struct http_resp r;
	/* another lender's token, whatever the parameters */
	static const char *const others[] = {
	    "/v1/lenders/PAGE1/loans", "/v1/lenders/PAGE1/loans?status=bogus",
	    "/v1/lenders/PAGE1/loans?lender=OTH1", "/v1/lenders/NO-SUCH-LENDER/loans"};
	for (size_t i = 0; i < 4; i++) {
		get(tok_oth, others[i], &r);
		E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
		http_resp_free(&r);
		get(NULL, others[i], &r);
		E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
		http_resp_free(&r);
	}
	/* the path fixes the lender: a lender parameter is 422 naming it, even
	 * the path's own */
	static const char *const lender_param[] = {"lender=PAGE1", "lender=OTH1",
	                                           "status=cooling&lender=PAGE1"};
	const char *const tokens[] = {tok_page, tok_comp, tok_audit};
	for (size_t i = 0; i < 3; i++) {
		char path[128];
		snprintf(path, sizeof path, "/v1/lenders/PAGE1/loans?%s", lender_param[i]);
		get(tokens[i], path, &r);
		E2E_ASSERT_ERROR(&r, 422, "validation_failed", "lender");
		http_resp_free(&r);
	}
	/* the other parameters are checked as on /v1/loans */
	static const struct {
		const char *query, *field;
	} bad[] = {{"status=bogus", "status"}, {"limit=0", "limit"},        {"limit=1001", "limit"},
	           {"from=yesterday", "from"}, {"to=2026-01-01", "to"},     {"after=%25", "after"},
	           {"color=red", "color"},     {"limit=5&limit=6", "limit"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, "/v1/lenders/PAGE1/loans?%s", bad[i].query);
		get(tok_page, path, &r);
		E2E_ASSERT_ERROR(&r, 422, "validation_failed", bad[i].field);
		http_resp_free(&r);
	}
	/* ids as on the loan's other paths */
	get(tok_comp, "/v1/lenders/a%20b/loans", &r);
	E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
	http_resp_free(&r);
	get(tok_comp, "/v1/lenders/../loans", &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "lender");
	http_resp_free(&r);
}
END_TEST

/* ---- the query string itself ---- */

START_TEST(test_nul_byte_in_a_parameter_is_422_not_cut_short)
{
	static const struct {
		const char *path, *field;
	} bad[] = {
	    {"/v1/loans?status=cooling%00junk", "status"},
	    {"/v1/loans?lender=STAT1%00junk", "lender"},
	    {"/v1/loans?limit=5%00junk", "limit"},
	    {"/v1/loans?from=2026-11-29T10:00:00Z%00junk", "from"},
	    {"/v1/audit?limit=5%00junk", "limit"},
	    {"/v1/audit?after=0%00junk", "after"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct http_resp r;
		get(tok_comp, bad[i].path, &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", bad[i].field),
		              "%s: expected 422 with field %s, got %d: %s", bad[i].path,
		              bad[i].field, r.status, r.body);
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_parameter_without_value_is_422_naming_it)
{
	static const struct {
		const char *path, *field;
	} bad[] = {
	    {"/v1/loans?limit", "limit"},
	    {"/v1/loans?status", "status"},
	    {"/v1/audit?after", "after"},
	    {"/v1/audit?limit=5&after", "after"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct http_resp r;
		get(tok_audit, bad[i].path, &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", bad[i].field),
		              "%s: expected 422 with field %s, got %d: %s", bad[i].path,
		              bad[i].field, r.status, r.body);
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_forged_cursor_out_of_range_is_422_not_500)
{
	/* base64url("-999999999999999999:1") and ("-300000000000000000:7") */
	static const char *const cursors[] = {"LTk5OTk5OTk5OTk5OTk5OTk5OTox",
	                                      "LTMwMDAwMDAwMDAwMDAwMDAwMDo3"};
	for (size_t i = 0; i < 2; i++) {
		char path[128];
		snprintf(path, sizeof path, "/v1/loans?after=%s", cursors[i]);
		struct http_resp r;
		get(tok_comp, path, &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", "after"),
		              "%s: expected 422 with field after, got %d: %s", path, r.status,
		              r.body);
		http_resp_free(&r);
	}
	/* in range: fine, and simply nothing older than that */
	assert_list("after=LTE6MQ", ""); /* "-1:1": 1969-12-31T23:59:59.999999Z */
}
END_TEST

/* Every string in v that starts like a timestamp is UTC with Z; where names
 * the first one that is not (or stays ""). */
static void find_non_z(json_t *v, const char *path, char *where, size_t n)
{
	if (*where)
		return;
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x)
		{
			char p[256];
			snprintf(p, sizeof p, "%s.%s", path, k);
			find_non_z(x, p, where, n);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			char p[256];
			snprintf(p, sizeof p, "%s[%zu]", path, i);
			find_non_z(x, p, where, n);
		}
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		int y, mo, d, h, mi, sec, len = 0;
		if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &len) == 6 &&
		    len == 19 && !e2e_is_utc_z(s))
			snprintf(where, n, "%s = \"%s\"", path, s);
	}
}

START_TEST(test_event_detail_times_are_utc_with_z)
{
	approve(tok_aud, "AUD1", "TZ1", 510, "1000000", false, 0, 0);
	e2e_act_expect(&env, tok_aud, "AUD1", "TZ1", "consent", "{}", 200);
	e2e_act_expect(&env, tok_aud, "AUD1", "TZ1", "in-person-verification",
	               "{\"branch_id\":\"BR-2\",\"officer_id\":\"OF-2\"}", 200);
	struct evlist all;
	audit_wait_all(tok_comp, 1000, &all);
	ck_assert_msg(ev_find(&all, "AUD1", "TZ1", "consent_recorded") &&
	                  ev_find(&all, "AUD1", "TZ1", "in_person_verified"),
	              "the acts on TZ1 are not in the trail");
	for (size_t i = 0; i < all.n; i++) {
		char where[256] = "";
		find_non_z(all.v[i].detail, "detail", where, sizeof where);
		ck_assert_msg(*where == '\0', "seq %lld (%s): %s is not UTC with Z", all.v[i].seq,
		              all.v[i].type, where);
	}
	evlist_free(&all);
}
END_TEST

static Suite *queries_suite(void)
{
	Suite *s = suite_create("queries");
	TCase *tc = tcase_create("queries");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roles_compliance_and_auditor_read_lender_is_403);
	tcase_add_test(tc, test_audit_bad_parameters_are_422_naming_them);
	tcase_add_test(tc, test_loans_bad_parameters_are_422_naming_them);
	tcase_add_test(tc, test_loans_paging_newest_first_each_loan_exactly_once);
	tcase_add_test(tc, test_loans_status_filter_every_status_at_this_moment);
	tcase_add_test(tc, test_loans_lender_filter_and_from_to_bounds);
	/* after the three above, whose loans it lists */
	tcase_add_test(tc, test_lender_list_is_the_loans_list_with_the_lender_fixed);
	tcase_add_test(tc, test_lender_list_refuses_another_lender_and_a_lender_parameter);
	tcase_add_test(tc, test_audit_every_act_in_order_with_a_verifiable_hash_chain);
	tcase_add_test(tc, test_nul_byte_in_a_parameter_is_422_not_cut_short);
	tcase_add_test(tc, test_parameter_without_value_is_422_naming_it);
	tcase_add_test(tc, test_forged_cursor_out_of_range_is_422_not_500);
	tcase_add_test(tc, test_event_detail_times_are_utc_with_z);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(queries_suite)

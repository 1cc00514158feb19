/*
 * End-to-end tests of the personal-data access log and the borrower search
 * (CONTRACT.md v1.2, "Least privilege and personal data"), against the real
 * coolingd and PostgreSQL.
 *
 * - POST /v1/borrowers/search answers as GET /v1/borrowers/{iin}/loans,
 *   a lender's token its own loans only, and 422 naming the field;
 * - every borrower look-up and every loan read of a compliance or auditor
 *   token is in the log, as made (client, role, route, IIN or loan, the
 *   database's time), oldest first; a lender's own reads, a loan's events
 *   and lists are not;
 * - auditors alone read the log; its pages see every entry once;
 * - a read of a fraud claim by compliance, an auditor or the anti-fraud
 *   connector is in the log with the claim's borrower; a lender's read of
 *   its own claim, and a claim nobody may see, are not;
 * - a look-up that cannot be recorded is 503 with no data, and nothing is
 *   recorded for it;
 * - the log is append-only: no UPDATE or DELETE, whoever asks, and the
 *   application role has neither privilege.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/testdb.h"

static struct e2e_env env;
static char *tok_comp;  /* compliance "comp-a" */
static char *tok_audit; /* auditor "audit-a" */
static char *tok_len;   /* lender "al1-core" of AL1 */
static char *tok_len2;  /* lender "al2-core" of AL2 */
static char *tok_af;    /* antifraud "af-a" */

static void setup(void)
{
	e2e_start(&env, "e2e_access", NULL);
	e2e_lender_add(&env, "AL1", "bank");
	e2e_lender_add(&env, "AL2", "mfo");
	tok_comp = e2e_client_add(&env, "comp-a", "compliance", NULL);
	tok_audit = e2e_client_add(&env, "audit-a", "auditor", NULL);
	tok_len = e2e_client_add(&env, "al1-core", "lender", "AL1");
	tok_len2 = e2e_client_add(&env, "al2-core", "lender", "AL2");
	tok_af = e2e_client_add(&env, "af-a", "antifraud", NULL);
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok_comp);
	free(tok_audit);
	free(tok_len);
	free(tok_len2);
	free(tok_af);
}

/* ---- helpers ---- */

static void call(const char *method, const char *path, const char *token, const char *body,
                 struct http_resp *out)
{
	e2e_call(&env, method, path, token, body,
	         body != NULL ? "Content-Type: application/json\r\n" : NULL, out);
}

static void approve(const char *token, const char *lender, const char *loan_id, unsigned seed)
{
	e2e_approve(&env, token, lender, loan_id, &(struct e2e_loan){.iin_seed = seed}, NULL);
}

static void borrower_get(const char *token, const char *iin, struct http_resp *out)
{
	char path[96];
	snprintf(path, sizeof path, "/v1/borrowers/%s/loans", iin);
	call("GET", path, token, NULL, out);
}

static void borrower_search(const char *token, const char *iin, struct http_resp *out)
{
	char body[64];
	snprintf(body, sizeof body, "{\"borrower_iin\":\"%s\"}", iin);
	call("POST", "/v1/borrowers/search", token, body, out);
}

static long long access_rows(void)
{
	return e2e_sql_num(&env, "SELECT count(*) FROM access_log", NULL);
}

/* The auditor's entries for an IIN (POST /v1/access-log/search), asserted
 * 200; the caller frees out. */
static json_t *entries_of_iin(const char *iin, struct http_resp *out)
{
	char body[64];
	snprintf(body, sizeof body, "{\"borrower_iin\":\"%s\"}", iin);
	call("POST", "/v1/access-log/search", tok_audit, body, out);
	ck_assert_msg(out->status == 200, "access-log search: %d %s", out->status, out->body);
	json_t *entries = e2e_json_at(out->json, "entries");
	ck_assert(json_is_array(entries));
	return entries;
}

/* One entry as expected; lender and loan_id NULL for a look-up. */
static void assert_entry(json_t *e, const char *client, const char *role, const char *route,
                         const char *iin, const char *lender, const char *loan_id,
                         int64_t not_before, int64_t not_after)
{
	ck_assert_str_eq(e2e_jstr(e, "client"), client);
	ck_assert_str_eq(e2e_jstr(e, "role"), role);
	ck_assert_str_eq(e2e_jstr(e, "route"), route);
	ck_assert_str_eq(e2e_jstr(e, "borrower_iin"), iin);
	if (lender == NULL) {
		ck_assert(json_is_null(e2e_json_at(e, "lender")));
		ck_assert(json_is_null(e2e_json_at(e, "loan_id")));
	} else {
		ck_assert_str_eq(e2e_jstr(e, "lender"), lender);
		ck_assert_str_eq(e2e_jstr(e, "loan_id"), loan_id);
	}
	ck_assert(e2e_jstr(e, "request_id") != NULL);
	const char *at = e2e_jstr(e, "at");
	ck_assert(at != NULL && e2e_is_utc_z(at));
	int64_t us = e2e_ts_parse(at);
	/* the database's clock, on this machine: within a second of the test's */
	ck_assert_msg(us >= not_before - 1000000 && us <= not_after + 1000000, "at %s", at);
}

/* ---- the borrower search ---- */

START_TEST(test_search_answers_as_the_get_and_a_lender_sees_its_own_loans)
{
	char iin[13];
	e2e_iin(iin, 101);
	approve(tok_len, "AL1", "S-1", 101);
	approve(tok_len2, "AL2", "S-2", 101);
	struct http_resp g, s;
	const char *tokens[] = {tok_comp, tok_audit, tok_len};
	const size_t loans[] = {2, 2, 1};
	for (int i = 0; i < 3; i++) {
		borrower_get(tokens[i], iin, &g);
		borrower_search(tokens[i], iin, &s);
		ck_assert_int_eq(g.status, 200);
		ck_assert_int_eq(s.status, 200);
		ck_assert_msg(json_equal(g.json, s.json), "GET %s\nPOST %s", g.body, s.body);
		ck_assert_uint_eq(json_array_size(e2e_json_at(s.json, "loans")), loans[i]);
		http_resp_free(&g);
		http_resp_free(&s);
	}
}
END_TEST

START_TEST(test_search_bad_bodies_are_422_naming_the_field)
{
	struct http_resp r;
	const struct {
		const char *body, *field;
	} cases[] = {
	    {"{}", "borrower_iin"},
	    {"{\"borrower_iin\":\"123\"}", "borrower_iin"},
	    {"{\"borrower_iin\":900101300126}", "borrower_iin"},
	    {"{\"borrower_iin\":\"900101300127\"}", "borrower_iin"},
	    {"{\"iin\":\"900101300126\"}", "iin"},
	};
	long long before = access_rows();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		call("POST", "/v1/borrowers/search", tok_comp, cases[i].body, &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", cases[i].field),
		              "%s: %d %s", cases[i].body, r.status, r.body);
		http_resp_free(&r);
	}
	/* nobody was looked at */
	ck_assert_int_eq(access_rows(), before);
}
END_TEST

/* ---- the access log ---- */

START_TEST(test_lookups_and_loan_reads_are_recorded_as_made)
{
	char iin[13], other[13];
	e2e_iin(iin, 202);
	e2e_iin(other, 203);
	approve(tok_len, "AL1", "R-1", 202);
	approve(tok_len, "AL1", "R-2", 203);
	int64_t t0 = e2e_wall_us();
	struct http_resp r;
	/* recorded: compliance and auditor look-ups and loan reads */
	borrower_get(tok_comp, iin, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	borrower_search(tok_audit, iin, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	call("GET", "/v1/lenders/AL1/loans/R-1", tok_audit, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	borrower_search(tok_comp, other, &r); /* another person */
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	/* not recorded: a lender's own, a loan's events, a list */
	borrower_get(tok_len, iin, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	borrower_search(tok_len, iin, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	call("GET", "/v1/lenders/AL1/loans/R-1", tok_len, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	call("GET", "/v1/lenders/AL1/loans/R-1/events", tok_comp, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	call("GET", "/v1/loans?lender=AL1", tok_comp, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	int64_t t1 = e2e_wall_us();

	json_t *entries = entries_of_iin(iin, &r);
	ck_assert_uint_eq(json_array_size(entries), 3);
	assert_entry(json_array_get(entries, 0), "comp-a", "compliance", "borrower", iin, NULL,
	             NULL, t0, t1);
	assert_entry(json_array_get(entries, 1), "audit-a", "auditor", "borrower-search", iin, NULL,
	             NULL, t0, t1);
	assert_entry(json_array_get(entries, 2), "audit-a", "auditor", "loan", iin, "AL1", "R-1",
	             t0, t1);
	ck_assert(json_is_null(e2e_json_at(r.json, "next")));
	http_resp_free(&r);

	/* the other person's look-up is the other person's */
	entries = entries_of_iin(other, &r);
	ck_assert_uint_eq(json_array_size(entries), 1);
	assert_entry(json_array_get(entries, 0), "comp-a", "compliance", "borrower-search", other,
	             NULL, NULL, t0, t1);
	http_resp_free(&r);

	/* by loan, and by client in the GET */
	call("POST", "/v1/access-log/search", tok_audit, "{\"lender\":\"AL1\",\"loan_id\":\"R-1\"}",
	     &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(json_array_size(e2e_json_at(r.json, "entries")), 1);
	http_resp_free(&r);
	call("GET", "/v1/access-log?client=audit-a", tok_audit, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	entries = e2e_json_at(r.json, "entries");
	/* audit-a's look-ups of the first test, then this one's two */
	size_t n = json_array_size(entries);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(e2e_jstr(json_array_get(entries, i), "client"), "audit-a");
	ck_assert_str_eq(e2e_jstr(json_array_get(entries, n - 2), "route"), "borrower-search");
	ck_assert_str_eq(e2e_jstr(json_array_get(entries, n - 1), "route"), "loan");
	http_resp_free(&r);
}
END_TEST

/* The record names the request that made it: its request_id is the
 * Request-Id of the look-up's answer, so an auditor can join the two. */
START_TEST(test_a_record_carries_the_request_id_of_its_lookup)
{
	char iin[13];
	e2e_iin(iin, 212);
	approve(tok_len, "AL1", "Q-1", 212);
	struct http_resp r;
	borrower_search(tok_comp, iin, &r);
	ck_assert_int_eq(r.status, 200);
	const char *hdr = http_header(&r, "Request-Id");
	ck_assert(hdr != NULL && hdr[0] != '\0');
	char rid[80];
	snprintf(rid, sizeof rid, "%s", hdr);
	http_resp_free(&r);

	struct http_resp q;
	json_t *entries = entries_of_iin(iin, &q);
	ck_assert_int_eq(json_array_size(entries), 1);
	ck_assert_str_eq(e2e_jstr(json_array_get(entries, 0), "request_id"), rid);
	http_resp_free(&q);
}
END_TEST

START_TEST(test_only_auditors_read_the_access_log)
{
	struct http_resp r;
	const char *tokens[] = {tok_comp, tok_len};
	for (int i = 0; i < 2; i++) {
		call("GET", "/v1/access-log", tokens[i], NULL, &r);
		ck_assert(e2e_is_error(&r, 403, "forbidden", NULL));
		http_resp_free(&r);
		call("POST", "/v1/access-log/search", tokens[i], "{}", &r);
		ck_assert(e2e_is_error(&r, 403, "forbidden", NULL));
		http_resp_free(&r);
	}
	call("GET", "/v1/access-log", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_pages_see_every_entry_once_oldest_first)
{
	char iin[13];
	e2e_iin(iin, 304);
	struct http_resp r;
	for (int i = 0; i < 5; i++) {
		borrower_search(tok_comp, iin, &r);
		ck_assert_int_eq(r.status, 200);
		http_resp_free(&r);
	}
	char body[160], after[96] = "";
	int seen = 0;
	int64_t last = 0;
	for (int page = 0; page < 10; page++) {
		snprintf(body, sizeof body, "{\"borrower_iin\":\"%s\",\"limit\":2%s%s%s}", iin,
		         after[0] ? ",\"after\":\"" : "", after, after[0] ? "\"" : "");
		call("POST", "/v1/access-log/search", tok_audit, body, &r);
		ck_assert_msg(r.status == 200, "%s", r.body);
		json_t *entries = e2e_json_at(r.json, "entries");
		for (size_t i = 0; i < json_array_size(entries); i++) {
			int64_t at = e2e_ts_parse(e2e_jstr(json_array_get(entries, i), "at"));
			ck_assert(at >= last);
			last = at;
			seen++;
		}
		const char *next = e2e_jstr(r.json, "next");
		if (next == NULL) {
			http_resp_free(&r);
			break;
		}
		snprintf(after, sizeof after, "%s", next);
		http_resp_free(&r);
	}
	ck_assert_int_eq(seen, 5);

	/* bad filters are 422 naming them */
	const struct {
		const char *method, *path, *body, *field;
	} bad[] = {
	    {"GET", "/v1/access-log?limit=0", NULL, "limit"},
	    {"GET", "/v1/access-log?from=yesterday", NULL, "from"},
	    {"GET", "/v1/access-log?after=xyz", NULL, "after"},
	    {"GET", "/v1/access-log?borrower_iin=900101300126", NULL, "borrower_iin"},
	    {"POST", "/v1/access-log/search", "{\"borrower_iin\":\"1\"}", "borrower_iin"},
	    {"POST", "/v1/access-log/search", "{\"lender\":\"AL1\"}", "loan_id"},
	    {"POST", "/v1/access-log/search", "{\"limit\":1001}", "limit"},
	    {"POST", "/v1/access-log/search", "{\"to\":\"soon\"}", "to"},
	    {"POST", "/v1/access-log/search", "{\"who\":\"x\"}", "who"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		call(bad[i].method, bad[i].path, tok_audit, bad[i].body, &r);
		ck_assert_msg(e2e_is_error(&r, 422, "validation_failed", bad[i].field),
		              "%s %s: %d %s", bad[i].path, bad[i].body ? bad[i].body : "", r.status,
		              r.body);
		http_resp_free(&r);
	}
}
END_TEST

/* A claim opened by token for iin; its path "/v1/fraud-claims/FC-n". */
static void claim_open(const char *token, const char *iin, char path[64])
{
	char body[128];
	snprintf(body, sizeof body, "{\"borrower_iin\":\"%s\",\"reference\":\"POLICE-1\"}", iin);
	struct http_resp r;
	call("POST", "/v1/fraud-claims", token, body, &r);
	ck_assert_msg(r.status == 201, "claim: %d %s", r.status, r.body);
	snprintf(path, 64, "/v1/fraud-claims/%s", e2e_jstr(r.json, "claim_id"));
	http_resp_free(&r);
}

START_TEST(test_claim_reads_are_recorded_with_the_claims_borrower)
{
	char iin[13], path[64];
	e2e_iin(iin, 606);
	claim_open(tok_len, iin, path);
	/* opening a claim is a write, not a read of the person */
	ck_assert_int_eq(
	    e2e_sql_num(&env, "SELECT count(*) FROM access_log WHERE borrower_iin = $1", iin, NULL),
	    0);
	int64_t t0 = e2e_wall_us();
	struct http_resp r;
	const char *recorded[] = {tok_comp, tok_audit, tok_af};
	for (int i = 0; i < 3; i++) {
		call("GET", path, recorded[i], NULL, &r);
		ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
		E2E_ASSERT_JSTR(r.json, "borrower_iin", iin);
		http_resp_free(&r);
	}
	/* not recorded: the opener's own read, another lender's (404), and an
	 * unknown claim */
	call("GET", path, tok_len, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	call("GET", path, tok_len2, NULL, &r);
	ck_assert(e2e_is_error(&r, 404, "not_found", NULL));
	http_resp_free(&r);
	call("GET", "/v1/fraud-claims/FC-999999999", tok_comp, NULL, &r);
	ck_assert(e2e_is_error(&r, 404, "not_found", NULL));
	http_resp_free(&r);
	int64_t t1 = e2e_wall_us();

	json_t *entries = entries_of_iin(iin, &r);
	ck_assert_uint_eq(json_array_size(entries), 3);
	assert_entry(json_array_get(entries, 0), "comp-a", "compliance", "fraud-claim", iin, NULL,
	             NULL, t0, t1);
	assert_entry(json_array_get(entries, 1), "audit-a", "auditor", "fraud-claim", iin, NULL,
	             NULL, t0, t1);
	assert_entry(json_array_get(entries, 2), "af-a", "antifraud", "fraud-claim", iin, NULL,
	             NULL, t0, t1);
	http_resp_free(&r);

	/* a read that cannot be recorded is 503 and names nobody */
	PGconn *c = testdb_connect(env.db_url);
	testdb_exec(c, "ALTER TABLE access_log ADD CONSTRAINT test_refuse CHECK (false) NOT VALID");
	call("GET", path, tok_af, NULL, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert(strstr(r.body, iin) == NULL && strstr(r.body, "POLICE") == NULL);
	http_resp_free(&r);
	call("GET", path, tok_len, NULL, &r); /* not recorded, not held back */
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	testdb_exec(c, "ALTER TABLE access_log DROP CONSTRAINT test_refuse");
	PQfinish(c);
	ck_assert_int_eq(
	    e2e_sql_num(&env, "SELECT count(*) FROM access_log WHERE borrower_iin = $1", iin, NULL),
	    3);
}
END_TEST

START_TEST(test_a_lookup_that_cannot_be_recorded_is_503_and_returns_nothing)
{
	char iin[13];
	e2e_iin(iin, 405);
	approve(tok_len, "AL1", "U-1", 405);
	PGconn *c = testdb_connect(env.db_url);
	/* every new record now fails its check, as a log that cannot be written */
	testdb_exec(c, "ALTER TABLE access_log ADD CONSTRAINT test_refuse CHECK (false) NOT VALID");
	long long before = access_rows();
	struct http_resp r;
	borrower_get(tok_comp, iin, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert(strstr(r.body, iin) == NULL);
	ck_assert(e2e_json_at(r.json, "loans") == NULL);
	http_resp_free(&r);
	borrower_search(tok_audit, iin, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert(strstr(r.body, iin) == NULL);
	http_resp_free(&r);
	call("GET", "/v1/lenders/AL1/loans/U-1", tok_comp, NULL, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert(strstr(r.body, iin) == NULL && strstr(r.body, "U-1") == NULL);
	http_resp_free(&r);
	/* what is not recorded is not held back */
	borrower_search(tok_len, iin, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	ck_assert_int_eq(access_rows(), before);

	testdb_exec(c, "ALTER TABLE access_log DROP CONSTRAINT test_refuse");
	PQfinish(c);
	borrower_search(tok_audit, iin, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	ck_assert_int_eq(access_rows(), before + 1);
}
END_TEST

START_TEST(test_the_access_log_is_append_only)
{
	char iin[13];
	e2e_iin(iin, 506);
	struct http_resp r;
	borrower_search(tok_comp, iin, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	PGconn *c = testdb_connect(env.db_url);
	testdb_ignore_notices(c);
	const char *changes[] = {"UPDATE access_log SET client = 'someone-else'",
	                         "DELETE FROM access_log", "TRUNCATE access_log"};
	for (int i = 0; i < 3; i++) {
		PGresult *res = PQexec(c, changes[i]);
		ck_assert_msg(PQresultStatus(res) == PGRES_FATAL_ERROR, "%s was allowed",
		              changes[i]);
		ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
		PQclear(res);
	}
	PQfinish(c);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM access_log WHERE borrower_iin = $1 "
	                             "AND client = 'comp-a'",
	                             iin, NULL),
	                 1);
	/* nor could the application role ask */
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM unnest(ARRAY['UPDATE','DELETE',"
	                             "'TRUNCATE']) p WHERE has_table_privilege('coolingd_app', "
	                             "'access_log', p)",
	                             NULL),
	                 0);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM unnest(ARRAY['SELECT','INSERT']) p "
	                             "WHERE has_table_privilege('coolingd_app', 'access_log', p)",
	                             NULL),
	                 2);
}
END_TEST

static Suite *access_suite(void)
{
	Suite *s = suite_create("access_log");
	TCase *tc = tcase_create("access_log");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_search_answers_as_the_get_and_a_lender_sees_its_own_loans);
	tcase_add_test(tc, test_search_bad_bodies_are_422_naming_the_field);
	tcase_add_test(tc, test_lookups_and_loan_reads_are_recorded_as_made);
	tcase_add_test(tc, test_a_record_carries_the_request_id_of_its_lookup);
	tcase_add_test(tc, test_only_auditors_read_the_access_log);
	tcase_add_test(tc, test_pages_see_every_entry_once_oldest_first);
	tcase_add_test(tc, test_claim_reads_are_recorded_with_the_claims_borrower);
	tcase_add_test(tc, test_a_lookup_that_cannot_be_recorded_is_503_and_returns_nothing);
	tcase_add_test(tc, test_the_access_log_is_append_only);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(access_suite)

/*
 * End-to-end tests of authentication and roles (CONTRACT.md, "HTTP API"):
 * every /v1 call needs a bearer token that coolingctl issued and has not
 * revoked (else 401 unauthorized); a lender acts only under its own lender
 * and sees only its own loans of a borrower; compliance and auditor read
 * everything and write nothing (403 forbidden); /healthz and /readyz are
 * open.
 */
#include "check_main.h"
#include "support/e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct e2e_env env;
static char *tok1;    /* core1, lender BANK1 */
static char *tok2;    /* core2, lender BANK2 */
static char *tok_cmp; /* compliance */
static char *tok_aud; /* auditor */
static char iin[13];  /* a borrower with a loan at each lender */

static void setup(void)
{
	e2e_start(&env, "auth", NULL);
	e2e_lender_add(&env, "BANK1", "bank");
	e2e_lender_add(&env, "BANK2", "mfo");
	tok1 = e2e_client_add(&env, "core1", "lender", "BANK1");
	tok2 = e2e_client_add(&env, "core2", "lender", "BANK2");
	tok_cmp = e2e_client_add(&env, "compliance1", "compliance", NULL);
	tok_aud = e2e_client_add(&env, "auditor1", "auditor", NULL);
	e2e_iin(iin, 4242);
	e2e_approve_or_exit(&env, tok1, "BANK1", "A-1", &(struct e2e_loan){.iin = iin});
	e2e_approve_or_exit(&env, tok2, "BANK2", "B-1", &(struct e2e_loan){.iin = iin});
	e2e_approve_or_exit(&env, tok1, "BANK1", "A-2", &(struct e2e_loan){.iin = iin});
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok1);
	free(tok2);
	free(tok_cmp);
	free(tok_aud);
}

/* One request with a raw Authorization header (or none: NULL). */
static void call_auth(const char *method, const char *path, const char *authorization,
                      const char *body, struct http_resp *out)
{
	char hdr[512] = "";
	if (authorization)
		snprintf(hdr, sizeof hdr, "Authorization: %s\r\n", authorization);
	e2e_call(&env, method, path, NULL, body, authorization ? hdr : NULL, out);
}

static const char approval_body[] =
    "{\"loan_id\":\"X-1\",\"borrower_iin\":\"900101300126\",\"amount\":\"1000.00\","
    "\"currency\":\"KZT\",\"channel\":\"online\",\"secured\":false}";

START_TEST(test_missing_or_malformed_token_is_401_unauthorized)
{
	static const char *const bad[] = {
	    NULL,                     /* no header */
	    "",                       /* empty */
	    "Bearer",                 /* no token */
	    "Bearer ",                /* empty token */
	    "Basic Y29yZTE6c2VjcmV0", /* another scheme */
	    "Bearer not-a-token",
	    "Bearer cdt_",
	    "Bearer cdt_zz_zz",
	    "Token cdt_0123456789ab_0123456789abcdef0123456789abcdef01234567",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct http_resp r;
		call_auth("GET", "/v1/lenders/BANK1/loans/A-1", bad[i], NULL, &r);
		E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
		http_resp_free(&r);
		call_auth("POST", "/v1/lenders/BANK1/loans", bad[i], approval_body, &r);
		E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
		http_resp_free(&r);
	}
	/* Nothing was written by the refused approvals. */
	ck_assert_int_eq(e2e_sql_num(&env, "SELECT count(*) FROM loan WHERE loan_id = 'X-1'", NULL),
	                 0);
}
END_TEST

START_TEST(test_unknown_token_is_401_unauthorized)
{
	struct http_resp r;
	/* A well-formed token that was never issued. */
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1",
	         "cdt_000000000000_0000000000000000000000000000000000000000", NULL, NULL, &r);
	E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
	http_resp_free(&r);

	/* A real token's public part with another secret. */
	char forged[256];
	snprintf(forged, sizeof forged, "%s", tok1);
	size_t n = strlen(forged);
	forged[n - 1] = forged[n - 1] == '0' ? '1' : '0';
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", forged, NULL, NULL, &r);
	E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
	http_resp_free(&r);

	/* A real token cut short or lengthened. */
	snprintf(forged, sizeof forged, "%.*s", (int)n - 1, tok1);
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", forged, NULL, NULL, &r);
	E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
	http_resp_free(&r);
	snprintf(forged, sizeof forged, "%s0", tok1);
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", forged, NULL, NULL, &r);
	E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
	http_resp_free(&r);

	/* And the real one works. */
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tok1, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_bearer_scheme_is_case_insensitive)
{
	/* RFC 7235: the auth scheme is case-insensitive. */
	char hdr[256];
	struct http_resp r;
	snprintf(hdr, sizeof hdr, "bearer %s", tok1);
	call_auth("GET", "/v1/lenders/BANK1/loans/A-1", hdr, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_revoked_token_is_401_on_the_very_next_request)
{
	struct http_resp r;
	char *tok = e2e_client_add(&env, "core1-temp", "lender", "BANK1");
	/* Used on every worker before the revocation (threads = cores). */
	for (int i = 0; i < 6; i++) {
		e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tok, NULL, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		http_resp_free(&r);
	}
	int code = -1;
	char *out = run_ctl(env.db_url, &code, "client revoke core1-temp");
	ck_assert_msg(out && code == 0, "coolingctl client revoke: exit %d", code);
	free(out);
	for (int i = 0; i < 6; i++) {
		e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tok, NULL, NULL, &r);
		E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
		http_resp_free(&r);
	}
	/* Other clients are untouched. */
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tok1, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	free(tok);
}
END_TEST

/* The error's message of a 401 that says why. */
static const char *error_message(const struct http_resp *r)
{
	const char *m = e2e_jstr(r->json, "error.message");
	return m != NULL ? m : "";
}

START_TEST(test_expired_token_is_401_saying_it_expired)
{
	int code = -1;
	char *tok = run_ctl(env.db_url, &code,
	                    "client add --name core1-expiring --role lender --lender BANK1 "
	                    "--expires-in 90d");
	ck_assert_msg(tok && code == 0, "coolingctl client add: exit %d", code);
	struct http_resp r;
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tok, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);

	/* its end passes, by the database's clock */
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "WITH u AS (UPDATE api_client SET expires_at = now() - "
	                             "interval '1 second' WHERE name = 'core1-expiring' "
	                             "RETURNING 1) SELECT count(*) FROM u",
	                             NULL),
	                 1);
	for (int i = 0; i < 6; i++) {
		e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tok, NULL, NULL, &r);
		E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
		ck_assert_str_eq(error_message(&r), "token expired");
		http_resp_free(&r);
	}
	/* a token that never existed is not said to have expired */
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1",
	         "cdt_000000000000_0000000000000000000000000000000000000000", NULL, NULL, &r);
	E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
	ck_assert_str_eq(error_message(&r), "unknown or revoked token");
	http_resp_free(&r);
	/* other clients are untouched */
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tok1, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	free(tok);
}
END_TEST

/* A short expiry ends on its own: 200 until then, 401 after, within a
 * deadline. */
START_TEST(test_token_with_a_short_expiry_stops_working_by_itself)
{
	int code = -1;
	char *tok = run_ctl(env.db_url, &code,
	                    "client add --name core1-brief --role lender --lender BANK1 "
	                    "--expires-in 2s");
	ck_assert_msg(tok && code == 0, "coolingctl client add: exit %d", code);
	struct http_resp r;
	int status = 0;
	for (int i = 0; i < 200 && status != 401; i++) { /* 20 s at most */
		e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tok, NULL, NULL, &r);
		status = r.status;
		ck_assert_msg(status == 200 || status == 401, "got %d: %s", status, r.body);
		if (status == 401)
			ck_assert_str_eq(error_message(&r), "token expired");
		http_resp_free(&r);
		if (status != 401)
			usleep(100 * 1000);
	}
	ck_assert_int_eq(status, 401);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM api_client WHERE name = 'core1-brief' "
	                             "AND expires_at <= now()",
	                             NULL),
	                 1);
	free(tok);
}
END_TEST

/* The access review's last_used_at: written by the daemon when it accepts
 * a token, never for a client that made no call. */
START_TEST(test_a_clients_last_use_is_recorded_for_the_access_review)
{
	int code = -1;
	char *tok =
	    run_ctl(env.db_url, &code, "client add --name core1-seen --role lender --lender BANK1");
	ck_assert_msg(tok && code == 0, "coolingctl client add: exit %d", code);
	char *idle = run_ctl(env.db_url, &code, "client add --name core1-idle --role auditor");
	ck_assert_msg(idle && code == 0, "coolingctl client add: exit %d", code);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM api_client WHERE name IN "
	                             "('core1-seen', 'core1-idle') AND last_used_at IS NULL",
	                             NULL),
	                 2);
	struct http_resp r;
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tok, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	long long seen = 0;
	for (int i = 0; i < 100 && seen != 1; i++) { /* 10 s at most */
		seen = e2e_sql_num(&env,
		                   "SELECT count(*) FROM api_client WHERE name = 'core1-seen' AND "
		                   "last_used_at BETWEEN created_at AND now()",
		                   NULL);
		if (seen != 1)
			usleep(100 * 1000);
	}
	ck_assert_int_eq(seen, 1);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM api_client WHERE name = 'core1-idle' "
	                             "AND last_used_at IS NULL",
	                             NULL),
	                 1);
	char *list = run_ctl(env.db_url, &code, "client list --json");
	ck_assert_msg(list && code == 0, "coolingctl client list: exit %d", code);
	ck_assert_ptr_nonnull(strstr(list, "\"last_used_at\": \"20"));
	ck_assert_ptr_null(strstr(list, tok + 4));
	free(list);
	free(idle);
	free(tok);
}
END_TEST

START_TEST(test_lender_on_another_lenders_path_is_403_forbidden)
{
	static const struct {
		const char *method, *path, *body;
	} calls[] = {
	    {"GET", "/v1/lenders/BANK2/loans/B-1", NULL},
	    {"GET", "/v1/lenders/BANK2/loans/NO-SUCH-LOAN", NULL},
	    {"POST", "/v1/lenders/BANK2/loans", approval_body},
	    {"POST", "/v1/lenders/BANK2/loans/B-1/consent", "{}"},
	    {"POST", "/v1/lenders/BANK2/loans/B-1/in-person-verification",
	     "{\"branch_id\":\"B\",\"officer_id\":\"O\"}"},
	    {"POST", "/v1/lenders/BANK2/loans/B-1/cancellation", "{\"reason\":\"x\"}"},
	    {"POST", "/v1/lenders/BANK2/loans/B-1/disbursement", "{}"},
	    /* Lender ids are compared exactly. */
	    {"GET", "/v1/lenders/bank1/loans/A-1", NULL},
	};
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		struct http_resp r;
		e2e_call(&env, calls[i].method, calls[i].path, tok1, calls[i].body, NULL, &r);
		E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
		http_resp_free(&r);
	}
	/* Nothing happened to BANK2's loan. */
	ck_assert_int_eq(e2e_audit_count(&env, "BANK2", "B-1", NULL), 1);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE lender_id = 'BANK2' AND "
	                             "loan_id = 'B-1' AND consent_at IS NULL AND cancelled_at IS "
	                             "NULL AND disbursed_at IS NULL",
	                             NULL),
	                 1);
}
END_TEST

START_TEST(test_bad_token_on_another_lenders_path_is_401_not_403)
{
	struct http_resp r;
	e2e_call(&env, "GET", "/v1/lenders/BANK2/loans/B-1", "cdt_nope", NULL, NULL, &r);
	E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_compliance_and_auditor_may_not_post_anything)
{
	static const struct {
		const char *path, *body;
	} posts[] = {
	    {"/v1/lenders/BANK1/loans", approval_body},
	    {"/v1/lenders/BANK1/loans/A-1/consent", "{}"},
	    {"/v1/lenders/BANK1/loans/A-1/in-person-verification",
	     "{\"branch_id\":\"B\",\"officer_id\":\"O\"}"},
	    {"/v1/lenders/BANK1/loans/A-1/cancellation", "{\"reason\":\"x\"}"},
	    {"/v1/lenders/BANK1/loans/A-1/disbursement", "{}"},
	};
	const char *tokens[] = {tok_cmp, tok_aud};
	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++) {
			struct http_resp r;
			e2e_call(&env, "POST", posts[i].path, tokens[t], posts[i].body, NULL, &r);
			E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
			http_resp_free(&r);
		}
	}
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "A-1", NULL), 1);
	ck_assert_int_eq(e2e_sql_num(&env, "SELECT count(*) FROM loan WHERE loan_id = 'X-1'", NULL),
	                 0);
}
END_TEST

START_TEST(test_compliance_and_auditor_may_get_any_lenders_loan)
{
	const char *tokens[] = {tok_cmp, tok_aud};
	for (size_t t = 0; t < 2; t++) {
		struct http_resp r;
		e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/A-1", tokens[t], NULL, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		E2E_ASSERT_JSTR(r.json, "lender", "BANK1");
		http_resp_free(&r);
		e2e_call(&env, "GET", "/v1/lenders/BANK2/loans/B-1", tokens[t], NULL, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		E2E_ASSERT_JSTR(r.json, "lender", "BANK2");
		http_resp_free(&r);
		e2e_call(&env, "GET", "/v1/lenders/BANK2/loans/NO-SUCH", tokens[t], NULL, NULL, &r);
		E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
		http_resp_free(&r);
	}
}
END_TEST

/* The loan_ids of a borrower listing, in order, comma-separated. */
static void listing(const char *token, char *out, size_t size)
{
	char path[64];
	struct http_resp r;
	snprintf(path, sizeof path, "/v1/borrowers/%s/loans", iin);
	e2e_call(&env, "GET", path, token, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	json_t *loans = e2e_json_at(r.json, "loans");
	ck_assert_msg(json_is_array(loans), "no loans array: %s", r.body);
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(loans); i++) {
		json_t *l = json_array_get(loans, i);
		const char *lender = e2e_jstr(l, "lender"), *id = e2e_jstr(l, "loan_id");
		ck_assert(lender && id);
		used +=
		    (size_t)snprintf(out + used, size - used, "%s%s/%s", i ? "," : "", lender, id);
	}
	http_resp_free(&r);
}

START_TEST(test_lender_sees_only_its_own_loans_in_borrower_listing)
{
	char got[512];
	listing(tok1, got, sizeof got);
	ck_assert_str_eq(got, "BANK1/A-2,BANK1/A-1"); /* newest first */
	listing(tok2, got, sizeof got);
	ck_assert_str_eq(got, "BANK2/B-1");
}
END_TEST

START_TEST(test_compliance_and_auditor_see_every_lenders_loans_in_borrower_listing)
{
	char got[512];
	listing(tok_cmp, got, sizeof got);
	ck_assert_str_eq(got, "BANK1/A-2,BANK2/B-1,BANK1/A-1");
	listing(tok_aud, got, sizeof got);
	ck_assert_str_eq(got, "BANK1/A-2,BANK2/B-1,BANK1/A-1");
}
END_TEST

START_TEST(test_borrower_listing_needs_a_token)
{
	char path[64];
	struct http_resp r;
	snprintf(path, sizeof path, "/v1/borrowers/%s/loans", iin);
	e2e_call(&env, "GET", path, NULL, NULL, NULL, &r);
	E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
	http_resp_free(&r);
}
END_TEST

START_TEST(test_lender_may_not_read_the_audit_trail_or_the_loan_export)
{
	static const char *const paths[] = {"/v1/audit", "/v1/audit?after=0&limit=10", "/v1/loans",
	                                    "/v1/loans?lender=BANK1"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct http_resp r;
		e2e_call(&env, "GET", paths[i], tok1, NULL, NULL, &r);
		E2E_ASSERT_ERROR(&r, 403, "forbidden", NULL);
		http_resp_free(&r);
		e2e_call(&env, "GET", paths[i], NULL, NULL, NULL, &r);
		E2E_ASSERT_ERROR(&r, 401, "unauthorized", NULL);
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_compliance_and_auditor_may_read_the_audit_trail_and_the_loan_export)
{
	const char *tokens[] = {tok_cmp, tok_aud};
	for (size_t t = 0; t < 2; t++) {
		struct http_resp r;
		e2e_call(&env, "GET", "/v1/audit?limit=1000", tokens[t], NULL, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		ck_assert_msg(json_is_array(e2e_json_at(r.json, "events")), "%s", r.body);
		http_resp_free(&r);
		e2e_call(&env, "GET", "/v1/loans", tokens[t], NULL, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		ck_assert_msg(json_array_size(e2e_json_at(r.json, "loans")) >= 3, "%s", r.body);
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_healthz_and_readyz_need_no_token)
{
	struct http_resp r;
	e2e_call(&env, "GET", "/healthz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "ok");
	http_resp_free(&r);
	e2e_call(&env, "GET", "/readyz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	/* A bad token does not spoil them either. */
	e2e_call(&env, "GET", "/healthz", "cdt_nope", NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_missing_or_malformed_token_is_401_unauthorized);
	tcase_add_test(tc, test_unknown_token_is_401_unauthorized);
	tcase_add_test(tc, test_bearer_scheme_is_case_insensitive);
	tcase_add_test(tc, test_revoked_token_is_401_on_the_very_next_request);
	tcase_add_test(tc, test_expired_token_is_401_saying_it_expired);
	tcase_add_test(tc, test_token_with_a_short_expiry_stops_working_by_itself);
	tcase_add_test(tc, test_a_clients_last_use_is_recorded_for_the_access_review);
	tcase_add_test(tc, test_lender_on_another_lenders_path_is_403_forbidden);
	tcase_add_test(tc, test_bad_token_on_another_lenders_path_is_401_not_403);
	tcase_add_test(tc, test_compliance_and_auditor_may_not_post_anything);
	tcase_add_test(tc, test_compliance_and_auditor_may_get_any_lenders_loan);
	tcase_add_test(tc, test_lender_sees_only_its_own_loans_in_borrower_listing);
	tcase_add_test(tc, test_compliance_and_auditor_see_every_lenders_loans_in_borrower_listing);
	tcase_add_test(tc, test_borrower_listing_needs_a_token);
	tcase_add_test(tc, test_lender_may_not_read_the_audit_trail_or_the_loan_export);
	tcase_add_test(tc,
	               test_compliance_and_auditor_may_read_the_audit_trail_and_the_loan_export);
	tcase_add_test(tc, test_healthz_and_readyz_need_no_token);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(auth_suite)

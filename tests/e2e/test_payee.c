/*
 * End-to-end tests of the disbursement's payee (CONTRACT.md v1.2, "The
 * fraud chain at the payout"): a bad payee is 422 naming `payee` or
 * `payee.<key>` and writes nothing; a card number is refused and reaches
 * neither the answer, the log nor the database; under
 * payout_to_borrower_only a payee that is not the borrower is refused with
 * payee_not_borrower (no Retry-After, earliest_disbursement_at null when it
 * stands alone), counted in the metrics; the payee is recorded in the
 * decision's audit event. The fixture's daemon pays out to the borrower
 * only; a second daemon on the same database runs the defaults.
 */
#include "check_main.h"
#include "support/e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct e2e_env env;
static char *tok; /* core1, lender BANK1 */
static int metrics_port;

/* A card number, as a careless integration would send it. */
#define PAN "4000001234567899"

static void setup(void)
{
	const char *metrics_kv = e2e_metrics_listen(&metrics_port);
	/* the most the daemon ever logs, so that a card number in any line
	 * would be seen */
	const char *const daemon_env[] = {"COOLINGD_POLICY_PAYOUT_TO_BORROWER_ONLY=true",
	                                  "COOLINGD_POLICY_COOLING_PERIOD=1h",
	                                  "COOLINGD_LOG_LEVEL=debug", metrics_kv, NULL};
	e2e_start(&env, "payee", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	tok = e2e_client_add(&env, "core1", "lender", "BANK1");
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok);
}

/* ---- steps ---- */

/* A payee's JSON: {"payee": {"kind": KIND, "id": ID[, "owner_iin": OWNER]}}. */
static const char *payee_body(char *out, size_t size, const char *kind, const char *id,
                              const char *owner)
{
	if (owner != NULL)
		snprintf(out, size,
		         "{\"payee\":{\"kind\":\"%s\",\"id\":\"%s\",\"owner_iin\":\"%s\"}}", kind,
		         id, owner);
	else
		snprintf(out, size, "{\"payee\":{\"kind\":\"%s\",\"id\":\"%s\"}}", kind, id);
	return out;
}

static void disburse_to(const struct e2e_env *e, const char *loan_id, const char *body,
                        struct http_resp *out)
{
	e2e_act(e, tok, "BANK1", loan_id, "disbursement", body, NULL, out);
}

/* Nothing was decided for the loan: no decision event, not paid out. */
static void assert_nothing_written(const char *loan_id)
{
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", loan_id, "disbursement_refused"), 0);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", loan_id, "disbursement_allowed"), 0);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE lender_id = 'BANK1' "
	                             "AND loan_id = $1 AND disbursed_at IS NOT NULL",
	                             loan_id, NULL),
	                 0);
}

/* ---- validation ---- */

START_TEST(test_disbursement_without_payee_is_422_when_paying_to_the_borrower_only)
{
	e2e_eligible_loan(&env, tok, "BANK1", "P-NONE", 11);
	struct http_resp r;
	disburse_to(&env, "P-NONE", "{}", &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "payee");
	http_resp_free(&r);
	assert_nothing_written("P-NONE");
}
END_TEST

START_TEST(test_bad_payee_is_422_naming_its_field_and_writes_nothing)
{
	e2e_eligible_loan(&env, tok, "BANK1", "P-BAD", 12);
	static const struct {
		const char *body, *field;
	} cases[] = {
	    {"{\"payee\":[]}", "payee"},
	    {"{\"payee\":{\"id\":\"KZ86125KZT5004100100\"}}", "payee.kind"},
	    {"{\"payee\":{\"kind\":\"iban\",\"id\":\"KZ86125KZT5004100100\"}}", "payee.kind"},
	    {"{\"payee\":{\"kind\":\"account\"}}", "payee.id"},
	    {"{\"payee\":{\"kind\":\"account\",\"id\":\"KZ86 125\"}}", "payee.id"},
	    {"{\"payee\":{\"kind\":\"account\",\"id\":\"KZ1\",\"owner_iin\":\"900101300127\"}}",
	     "payee.owner_iin"},
	    {"{\"payee\":{\"kind\":\"account\",\"id\":\"KZ1\",\"swift\":\"X\"}}", "payee.swift"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp r;
		disburse_to(&env, "P-BAD", cases[i].body, &r);
		E2E_ASSERT_ERROR(&r, 422, "validation_failed", cases[i].field);
		http_resp_free(&r);
	}
	assert_nothing_written("P-BAD");
}
END_TEST

START_TEST(test_card_number_as_payee_is_422_and_never_answered_logged_or_stored)
{
	char iin[13], body[256];
	e2e_iin(iin, 13);
	e2e_eligible_loan(&env, tok, "BANK1", "P-PAN", 13);
	struct http_resp r;
	disburse_to(&env, "P-PAN", payee_body(body, sizeof body, "card", PAN, iin), &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "payee.id");
	ck_assert_ptr_null(strstr(r.body, PAN));
	http_resp_free(&r);
	assert_nothing_written("P-PAN");
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE detail::text LIKE $1",
	                             "%" PAN "%", NULL),
	                 0);

	/* the lender's token of the same card is a payee like any other */
	disburse_to(&env, "P-PAN", payee_body(body, sizeof body, "card", "tok_" PAN, iin), &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);

	/* every line the daemon wrote so far: the token's is the only mention */
	size_t len = 0;
	char *log = e2e_read_file(env.d.log_path, &len);
	ck_assert_ptr_nonnull(log);
	for (const char *p = strstr(log, PAN); p != NULL; p = strstr(p + 1, PAN))
		ck_assert_msg(p - log >= 4 && strncmp(p - 4, "tok_", 4) == 0,
		              "the card number is in the daemon's log");
	free(log);
}
END_TEST

/* ---- payout_to_borrower_only ---- */

START_TEST(test_payee_of_another_owner_is_refused_payee_not_borrower_alone)
{
	char iin[13], other[13], body[256];
	e2e_iin(iin, 14);
	e2e_iin(other, 15);
	e2e_eligible_loan(&env, tok, "BANK1", "P-MULE", 14);
	double before =
	    e2e_metric(metrics_port, "coolingd_refusals_total{blocker=\"payee_not_borrower\"}");

	const char *const refused[] = {
	    payee_body((char[256]){0}, 256, "account", "KZ86125KZT5004100100", other),
	    payee_body((char[256]){0}, 256, "wallet", "W-1", NULL), /* the owner unstated */
	};
	for (size_t i = 0; i < 2; i++) {
		struct http_resp r;
		disburse_to(&env, "P-MULE", refused[i], &r);
		E2E_ASSERT_STATUS(&r, 409);
		E2E_ASSERT_JSTR(r.json, "decision", "refused");
		e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers",
		                   "payee_not_borrower", NULL);
		json_t *earliest = e2e_json_at(r.json, "earliest_disbursement_at");
		ck_assert_msg(earliest != NULL && json_is_null(earliest), "%s", r.body);
		ck_assert_int_eq(e2e_retry_after(&r), -1);
		/* the loan itself is payable: the request is what is refused */
		E2E_ASSERT_JSTR(r.json, "loan.status", "eligible");
		e2e_assert_strings(e2e_json_at(r.json, "loan.blockers"), "loan.blockers", NULL);
		http_resp_free(&r);
	}
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE lender_id = 'BANK1' "
	                             "AND loan_id = 'P-MULE' AND type = 'disbursement_refused' "
	                             "AND detail = jsonb_build_object('blockers', "
	                             "'[\"payee_not_borrower\"]'::jsonb, 'payee', "
	                             "jsonb_build_object('kind', 'account', 'id', "
	                             "'KZ86125KZT5004100100', 'owner_iin', $1::text))",
	                             other, NULL),
	                 1);
	double after =
	    e2e_metric(metrics_port, "coolingd_refusals_total{blocker=\"payee_not_borrower\"}");
	ck_assert_msg(after - before == 2, "refusals by payee_not_borrower: %g -> %g", before,
	              after);

	/* the borrower's own account is paid, and the event names it */
	struct http_resp r;
	disburse_to(&env, "P-MULE", payee_body(body, sizeof body, "account", "KZ00OWN", iin), &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "decision", "allowed");
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE lender_id = 'BANK1' "
	                             "AND loan_id = 'P-MULE' AND type = 'disbursement_allowed' "
	                             "AND detail = jsonb_build_object('payee', jsonb_build_object("
	                             "'kind', 'account', 'id', 'KZ00OWN', 'owner_iin', $1::text))",
	                             iin, NULL),
	                 1);
}
END_TEST

START_TEST(test_cooling_loan_to_another_owner_has_the_periods_end_but_no_retry_after)
{
	char other[13], body[256];
	e2e_iin(other, 17);
	e2e_approve(
	    &env, tok, "BANK1", "P-COOL",
	    &(struct e2e_loan){.iin_seed = 16, .amount = E2E_BIG_AMOUNT, .consent_now = true},
	    NULL);
	struct http_resp r;
	disburse_to(&env, "P-COOL", payee_body(body, sizeof body, "account", "KZ1", other), &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   "payee_not_borrower", NULL);
	const char *earliest = e2e_jstr(r.json, "earliest_disbursement_at");
	ck_assert_msg(earliest != NULL, "%s", r.body);
	E2E_ASSERT_JSTR(r.json, "earliest_disbursement_at",
	                e2e_jstr(r.json, "loan.cooling_ends_at"));
	ck_assert_int_eq(e2e_retry_after(&r), -1);
	http_resp_free(&r);
}
END_TEST

/* ---- the defaults, on a second daemon ---- */

START_TEST(test_by_default_a_payee_is_optional_and_any_owner_is_paid)
{
	struct daemon d2;
	ck_assert_msg(daemon_start(&d2, env.db_url, NULL), "second coolingd did not start");
	struct e2e_env e2 = e2e_env_on(&env, d2.port);
	char other[13], body[256];
	e2e_iin(other, 19);
	e2e_eligible_loan(&e2, tok, "BANK1", "P-DEF1", 18);
	e2e_eligible_loan(&e2, tok, "BANK1", "P-DEF2", 18);

	struct http_resp r;
	disburse_to(&e2, "P-DEF1", "{}", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE loan_id = 'P-DEF1' "
	                             "AND type = 'disbursement_allowed' AND detail = '{}'::jsonb",
	                             NULL),
	                 1);

	disburse_to(&e2, "P-DEF2", payee_body(body, sizeof body, "card", "tok-77", other), &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM audit_event WHERE loan_id = 'P-DEF2' "
	                             "AND type = 'disbursement_allowed' "
	                             "AND detail->'payee'->>'id' = 'tok-77'",
	                             NULL),
	                 1);
	ck_assert_int_eq(daemon_stop(&d2), 0);
}
END_TEST

static Suite *payee_suite(void)
{
	Suite *s = suite_create("payee");
	TCase *tc = tcase_create("payee");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_disbursement_without_payee_is_422_when_paying_to_the_borrower_only);
	tcase_add_test(tc, test_bad_payee_is_422_naming_its_field_and_writes_nothing);
	tcase_add_test(tc, test_card_number_as_payee_is_422_and_never_answered_logged_or_stored);
	tcase_add_test(tc, test_payee_of_another_owner_is_refused_payee_not_borrower_alone);
	tcase_add_test(tc,
	               test_cooling_loan_to_another_owner_has_the_periods_end_but_no_retry_after);
	tcase_add_test(tc, test_by_default_a_payee_is_optional_and_any_owner_is_paid);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(payee_suite)

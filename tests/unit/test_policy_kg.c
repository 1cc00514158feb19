/*
 * Profile kg-2024-11 (REGULATION.md, "More countries", Kyrgyzstan): rows of
 * the profile table in som. Each band at its bound and one tyiyn either
 * side; the control call asked exactly above kg_band3_above, and only by a
 * cooled loan; a branch loan exempt, and no other exemption; no visit, no
 * age rule, no reconfirmation; the control call's blocker in the contract's
 * order; each number a key, with its default and the guard of the legal
 * minimum; the currency and unit of the table.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "codec.h"
#include "config.h"
#include "policy.h"
#include "timeutil.h"
#include "unit/config_file.h"
#include "unit/policy_fixture.h"

/* N som in tyiyn */
#define KGS(n)  ((int64_t)(n)*100)
#define HOUR_US (3600 * USEC_PER_SEC)

static void assert_band(const struct policy *p, int64_t tyiyn, enum rule rule, int64_t period_s,
                        bool call)
{
	struct policy_decision d = decide(p, loan(tyiyn, CHANNEL_ONLINE));
	ck_assert_msg(d.rule == rule, "%lld tyiyn: rule %d, not %d", (long long)tyiyn, d.rule,
	              rule);
	ck_assert_int_eq(d.cooling_required, rule != RULE_NONE);
	ck_assert_int_eq(d.cooling_period_s, period_s);
	ck_assert_msg(d.control_call_required == call, "%lld tyiyn: control call %d",
	              (long long)tyiyn, d.control_call_required);
	ck_assert_int_eq(d.exemption, EXEMPT_NONE);
}

START_TEST(test_kg_bands_at_and_around_15000_50000_and_100000_som)
{
	struct policy p = policy_of("kg-2024-11");
	assert_band(&p, KGS(15000) - 1, RULE_NONE, 0, false);
	assert_band(&p, KGS(15000), RULE_NONE, 0, false);
	assert_band(&p, KGS(15000) + 1, RULE_KG_BAND1, 3 * 3600, false);
	assert_band(&p, KGS(50000) - 1, RULE_KG_BAND1, 3 * 3600, false);
	assert_band(&p, KGS(50000), RULE_KG_BAND1, 3 * 3600, false);
	assert_band(&p, KGS(50000) + 1, RULE_KG_BAND2, 6 * 3600, false);
	assert_band(&p, KGS(100000) - 1, RULE_KG_BAND2, 6 * 3600, false);
	assert_band(&p, KGS(100000), RULE_KG_BAND2, 6 * 3600, false);
	assert_band(&p, KGS(100000) + 1, RULE_KG_BAND3, 24 * 3600, true);
	assert_band(&p, KGS(5000000), RULE_KG_BAND3, 24 * 3600, true);
}
END_TEST

START_TEST(test_kg_bounds_do_not_depend_on_the_mrp_or_the_lender_kind)
{
	struct policy p = policy_of("kg-2024-11");
	struct policy_input in = loan(KGS(15000) + 1, CHANNEL_ONLINE);
	in.mrp_tenge = 0;
	in.lender_kind = LENDER_BANK;
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.rule, RULE_KG_BAND1);
	ck_assert_int_eq(d.threshold_tiyn, KGS(15000));
}
END_TEST

/* The law is about remotely issued loans: a branch loan is exempt, and
 * asks no control call however large. */
START_TEST(test_kg_a_branch_loan_is_exempt_and_needs_no_control_call)
{
	struct policy p = policy_of("kg-2024-11");
	struct policy_decision d = decide(&p, loan(KGS(100000) + 1, CHANNEL_BRANCH));
	ck_assert_int_eq(d.exemption, EXEMPT_BRANCH);
	ck_assert(!d.cooling_required);
	ck_assert(!d.control_call_required);
}
END_TEST

/* REGULATION.md names no other exemption for Kyrgyzstan */
START_TEST(test_kg_secured_goods_refinancing_education_and_card_limit_are_cooled)
{
	struct policy p = policy_of("kg-2024-11");
	struct {
		enum product product;
		bool secured;
	} cases[] = {
	    {PRODUCT_CONSUMER, true},   {PRODUCT_GOODS, false},      {PRODUCT_REFINANCING, false},
	    {PRODUCT_EDUCATION, false}, {PRODUCT_CARD_LIMIT, false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct policy_input in = loan(KGS(100000) + 1, CHANNEL_ONLINE);
		in.product = cases[i].product;
		in.secured = cases[i].secured;
		struct policy_decision d = decide(&p, in);
		ck_assert_int_eq(d.exemption, EXEMPT_NONE);
		ck_assert_int_eq(d.rule, RULE_KG_BAND3);
		ck_assert(d.control_call_required);
	}
}
END_TEST

START_TEST(test_kg_has_no_visit_no_age_rule_and_no_reconfirmation)
{
	struct policy p = policy_of("kg-2024-11");
	struct policy_decision d = decide(&p, loan(KGS(200000), CHANNEL_ONLINE));
	ck_assert(d.cooling_required);
	ck_assert(!d.in_person_required);
	ck_assert(!d.extra_confirmation_required);
	ck_assert(!d.reconfirmation_required);
	struct policy_input old = loan(KGS(200000), CHANNEL_ONLINE);
	old.age = 70;
	ck_assert(!decide(&p, old).extra_confirmation_required);
}
END_TEST

/* no other profile's band asks for a control call */
START_TEST(test_only_kg_band3_asks_for_a_control_call)
{
	static const char *const names[] = {"kz-card", "kz-2025-09", "ru-2025-09", "kg-2024-11"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct policy p = policy_of(names[i]);
		struct policy_table t;
		policy_table_of(&p, &t);
		for (int b = 0; b < t.nbands; b++)
			ck_assert_msg(t.bands[b].control_call == (t.bands[b].rule == RULE_KG_BAND3),
			              "%s band %d", names[i], b);
	}
}
END_TEST

static struct loan assessed(int64_t tyiyn, int64_t approved_at)
{
	struct policy p = policy_of("kg-2024-11");
	struct loan l;
	memset(&l, 0, sizeof(l));
	l.amount_tiyn = tyiyn;
	l.channel = CHANNEL_ONLINE;
	l.approved_at = approved_at;
	l.in_person_verified_at = TS_NULL;
	l.consent_at = TS_NULL;
	l.cooling_ends_at = TS_NULL;
	l.disbursed_at = TS_NULL;
	l.cancelled_at = TS_NULL;
	l.extra_confirmed_at = TS_NULL;
	l.reconfirmed_at = TS_NULL;
	l.trusted_person_confirmed_at = TS_NULL;
	l.control_called_at = TS_NULL;
	l.in_person_reasons = TS_NULL;
	policy_assess(&p, 0, &l);
	return l;
}

START_TEST(test_kg_loan_records_som_no_mrp_and_the_control_call)
{
	struct loan l = assessed(KGS(100000) + 1, 1);
	ck_assert_str_eq(l.currency, "KGS");
	ck_assert_str_eq(l.policy, "kg-2024-11");
	ck_assert_int_eq(l.mrp_tenge, 0);
	ck_assert_int_eq(l.rule, RULE_KG_BAND3);
	ck_assert_int_eq(l.cooling_period_s, 24 * 3600);
	ck_assert(l.control_call_required);
	l = assessed(KGS(100000), 1);
	ck_assert(!l.control_call_required);
	struct policy p = policy_of("kg-2024-11");
	ck_assert_str_eq(policy_currency(&p), "KGS");
	ck_assert(!policy_amounts_in_mrp(&p));
}
END_TEST

/* From the approval on, before the consent and through the period, until
 * the call is recorded; right after cooling_period_active in the order,
 * its status awaiting_control_call; no earliest moment while it stands. */
START_TEST(test_kg_control_call_missing_stands_from_the_approval_until_the_call)
{
	int64_t t0 = 1750000000 * USEC_PER_SEC;
	struct loan l = assessed(KGS(150000), t0);
	struct loan_view v;
	loan_evaluate(&l, t0, &v);
	ck_assert_uint_eq(v.blockers,
	                  (1u << BLOCKER_CONSENT_MISSING) | (1u << BLOCKER_CONTROL_CALL_MISSING));
	ck_assert_int_eq(v.status, STATUS_AWAITING_CONSENT);

	l.consent_at = t0;
	l.cooling_ends_at = policy_cooling_ends_at(&l, t0);
	loan_evaluate(&l, t0 + HOUR_US, &v);
	ck_assert_uint_eq(v.blockers, (1u << BLOCKER_COOLING_PERIOD_ACTIVE) |
	                                  (1u << BLOCKER_CONTROL_CALL_MISSING));
	ck_assert_int_eq(v.status, STATUS_COOLING);
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);
	ck_assert_int_eq(loan_retry_after(&l, &v, t0 + HOUR_US), 0);

	loan_evaluate(&l, l.cooling_ends_at, &v);
	ck_assert_uint_eq(v.blockers, 1u << BLOCKER_CONTROL_CALL_MISSING);
	ck_assert_int_eq(v.status, STATUS_AWAITING_CONTROL_CALL);
	ck_assert_str_eq(status_name(v.status), "awaiting_control_call");
	ck_assert_str_eq(blocker_name(BLOCKER_CONTROL_CALL_MISSING), "control_call_missing");
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);

	/* called during the period: only time is left */
	l.control_called_at = t0 + HOUR_US;
	loan_evaluate(&l, t0 + 2 * HOUR_US, &v);
	ck_assert_uint_eq(v.blockers, 1u << BLOCKER_COOLING_PERIOD_ACTIVE);
	ck_assert_int_eq(v.earliest_disbursement_at, l.cooling_ends_at);
	loan_evaluate(&l, l.cooling_ends_at, &v);
	ck_assert_uint_eq(v.blockers, 0);
	ck_assert_int_eq(v.status, STATUS_ELIGIBLE);
}
END_TEST

START_TEST(test_kg_table_names_its_currency_unit_keys_and_the_call)
{
	struct policy p = policy_of("kg-2024-11");
	struct policy_table t;
	policy_table_of(&p, &t);
	ck_assert_str_eq(t.currency, "KGS");
	ck_assert_str_eq(t.unit, "KGS");
	ck_assert_int_eq(t.nbands, 3);
	static const struct {
		int64_t above, up_to, period;
		const char *above_key, *up_to_key, *period_key;
	} want[] = {
	    {15000, 50000, 3 * 3600, "policy.kg_band1_above", "policy.kg_band2_above",
	     "policy.kg_band1_period"},
	    {50000, 100000, 6 * 3600, "policy.kg_band2_above", "policy.kg_band3_above",
	     "policy.kg_band2_period"},
	    {100000, -1, 24 * 3600, "policy.kg_band3_above", NULL, "policy.kg_band3_period"},
	};
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(t.bands[i].above_mrp, want[i].above);
		ck_assert_int_eq(t.bands[i].up_to_mrp, want[i].up_to);
		ck_assert_int_eq(t.bands[i].period_s, want[i].period);
		ck_assert_str_eq(t.bands[i].above_key, want[i].above_key);
		if (want[i].up_to_key)
			ck_assert_str_eq(t.bands[i].up_to_key, want[i].up_to_key);
		else
			ck_assert_ptr_null(t.bands[i].up_to_key);
		ck_assert_str_eq(t.bands[i].period_key, want[i].period_key);
		ck_assert_ptr_null(t.bands[i].above_inclusive_key);
		ck_assert_int_eq(t.bands[i].control_call, i == 2);
	}
	ck_assert(!t.in_person_rule && !t.reconfirmation && !t.age_rule && !t.aggregates);
	ck_assert_uint_eq(t.exemptions, 1u << EXEMPT_BRANCH);

	char *text = codec_policy_text(&t);
	ck_assert_ptr_nonnull(strstr(text, "currency: KGS\n"));
	ck_assert_ptr_nonnull(strstr(text, "above 15000 KGS (policy.kg_band1_above), up to 50000 "
	                                   "KGS (policy.kg_band2_above): wait 10800s"));
	ck_assert_ptr_nonnull(strstr(text, "above 50000 KGS (policy.kg_band2_above), up to 100000 "
	                                   "KGS (policy.kg_band3_above): wait 21600s"));
	ck_assert_ptr_nonnull(strstr(text, "above 100000 KGS (policy.kg_band3_above): wait 86400s "
	                                   "after consent (policy.kg_band3_period)\n"
	                                   "             and a control call"));
	free(text);
	json_t *j = codec_policy_json(&t);
	ck_assert_str_eq(json_string_value(json_object_get(j, "currency")), "KGS");
	ck_assert_str_eq(json_string_value(json_object_get(j, "unit")), "KGS");
	json_t *rules = json_object_get(j, "rules");
	ck_assert(json_is_false(json_object_get(json_array_get(rules, 1), "control_call")));
	ck_assert(json_is_true(json_object_get(json_array_get(rules, 2), "control_call")));
	json_decref(j);
}
END_TEST

/* ---- the configuration ---- */

/* config_setup, config_teardown, write_conf and load: unit/config_file.h */

START_TEST(test_kg_keys_default_to_the_law)
{
	struct config c;
	char msg[512];
	ck_assert_msg(load("[policy]\nprofile = kg-2024-11\n", &c, msg, sizeof msg), "%s", msg);
	struct policy p;
	config_policy(&c, &p);
	ck_assert_int_eq(p.kg_band1_above, 15000);
	ck_assert_int_eq(p.kg_band2_above, 50000);
	ck_assert_int_eq(p.kg_band3_above, 100000);
	ck_assert_int_eq(p.kg_band1_period_s, 3 * 3600);
	ck_assert_int_eq(p.kg_band2_period_s, 6 * 3600);
	ck_assert_int_eq(p.kg_band3_period_s, 24 * 3600);
}
END_TEST

START_TEST(test_kg_each_key_tunes_its_number_stricter)
{
	struct config c;
	char msg[512];
	ck_assert_msg(load("[policy]\nprofile = kg-2024-11\nkg_band1_above = 10000\n"
	                   "kg_band2_above = 40000\nkg_band3_above = 90000\n"
	                   "kg_band1_period = 4h\nkg_band2_period = 8h\nkg_band3_period = 36h\n",
	                   &c, msg, sizeof msg),
	              "%s", msg);
	struct policy p;
	config_policy(&c, &p);
	assert_band(&p, KGS(10000), RULE_NONE, 0, false);
	assert_band(&p, KGS(10000) + 1, RULE_KG_BAND1, 4 * 3600, false);
	assert_band(&p, KGS(40000) + 1, RULE_KG_BAND2, 8 * 3600, false);
	assert_band(&p, KGS(90000), RULE_KG_BAND2, 8 * 3600, false);
	/* the call follows the band's bound */
	assert_band(&p, KGS(90000) + 1, RULE_KG_BAND3, 36 * 3600, true);
}
END_TEST

START_TEST(test_kg_a_key_laxer_than_the_law_stops_the_load_naming_it)
{
	static const struct {
		const char *line, *key;
	} weaker[] = {
	    {"kg_band1_above = 15001", "policy.kg_band1_above"},
	    {"kg_band2_above = 50001", "policy.kg_band2_above"},
	    {"kg_band3_above = 100001", "policy.kg_band3_above"},
	    {"kg_band1_period = 2h", "policy.kg_band1_period"},
	    {"kg_band2_period = 5h", "policy.kg_band2_period"},
	    {"kg_band3_period = 23h", "policy.kg_band3_period"},
	};
	struct config c;
	char msg[512], conf[256];
	for (size_t i = 0; i < sizeof weaker / sizeof weaker[0]; i++) {
		snprintf(conf, sizeof conf, "[policy]\nprofile = kg-2024-11\n%s\n", weaker[i].line);
		ck_assert_msg(!load(conf, &c, msg, sizeof msg), "%s accepted", weaker[i].line);
		ck_assert_msg(strncmp(msg, weaker[i].key, strlen(weaker[i].key)) == 0, "%s: %s",
		              weaker[i].line, msg);
		ck_assert_ptr_nonnull(strstr(msg, "kg-2024-11"));
		/* lifted for tests only */
		snprintf(conf, sizeof conf,
		         "[policy]\nprofile = kg-2024-11\n%s\nallow_below_legal_minimum = on\n"
		         "max_backdate = 0s\n",
		         weaker[i].line);
		ck_assert_msg(load(conf, &c, msg, sizeof msg), "%s", msg);
	}
	/* the law's own numbers load, with a max_backdate shorter than 3 hours */
	ck_assert_msg(load("[policy]\nprofile = kg-2024-11\nkg_band1_period = 3h\n"
	                   "max_backdate = 2h\n",
	                   &c, msg, sizeof msg),
	              "%s", msg);
	ck_assert(
	    !load("[policy]\nprofile = kg-2024-11\nmax_backdate = 3h\n", &c, msg, sizeof msg));
	ck_assert_ptr_nonnull(strstr(msg, "policy.max_backdate"));
}
END_TEST

static Suite *kg_suite(void)
{
	Suite *s = suite_create("policy_kg");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, test_kg_bands_at_and_around_15000_50000_and_100000_som);
	tcase_add_test(tc, test_kg_bounds_do_not_depend_on_the_mrp_or_the_lender_kind);
	tcase_add_test(tc, test_kg_a_branch_loan_is_exempt_and_needs_no_control_call);
	tcase_add_test(tc, test_kg_secured_goods_refinancing_education_and_card_limit_are_cooled);
	tcase_add_test(tc, test_kg_has_no_visit_no_age_rule_and_no_reconfirmation);
	tcase_add_test(tc, test_only_kg_band3_asks_for_a_control_call);
	tcase_add_test(tc, test_kg_loan_records_som_no_mrp_and_the_control_call);
	tcase_add_test(tc, test_kg_control_call_missing_stands_from_the_approval_until_the_call);
	tcase_add_test(tc, test_kg_table_names_its_currency_unit_keys_and_the_call);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, config_setup, config_teardown);
	tcase_add_test(tc, test_kg_keys_default_to_the_law);
	tcase_add_test(tc, test_kg_each_key_tunes_its_number_stricter);
	tcase_add_test(tc, test_kg_a_key_laxer_than_the_law_stops_the_load_naming_it);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(kg_suite)

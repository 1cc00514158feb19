/*
 * Profile by-2025-11 (REGULATION.md, "More countries", Belarus): rows of
 * the profile table in Belarusian roubles. Every online loan, whatever its
 * amount (one kapeika up), waits until the start of the next working day
 * after the consent, in Minsk; paid to a seller (goods) and a branch loan
 * are not held; no visit, no age rule, no reconfirmation. The loan records
 * the calendar's zone and no length: its end is the database's, computed
 * as the consent is recorded (tests/integration/test_calendar.c). The
 * table, its text and JSON, and the configuration (no number, so no key).
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
#include "loan.h"
#include "policy.h"
#include "timeutil.h"
#include "unit/config_file.h"
#include "unit/policy_fixture.h"

/* N Belarusian roubles in kapeikas */
#define BYN(n) ((int64_t)(n)*100)

static int64_t T(const char *s)
{
	int64_t t = 0;
	ck_assert(ts_parse_rfc3339(s, &t, NULL));
	return t;
}

START_TEST(test_by_every_online_amount_waits_for_the_next_working_day_in_minsk)
{
	struct policy p = policy_of("by-2025-11");
	static const int64_t amounts[] = {1, BYN(1), BYN(50000) + 1, BYN(999999999)};
	static const int kinds[] = {LENDER_BANK, LENDER_MFO};
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++) {
			struct policy_input in = loan(amounts[i], CHANNEL_ONLINE);
			in.lender_kind = kinds[k];
			struct policy_decision d = decide(&p, in);
			ck_assert_msg(d.rule == RULE_NEXT_WORKING_DAY, "%lld kapeikas: rule %d",
			              (long long)amounts[i], d.rule);
			ck_assert(d.cooling_required);
			ck_assert_int_eq(d.exemption, EXEMPT_NONE);
			/* no length: the end is the calendar's */
			ck_assert_int_eq(d.cooling_period_s, 0);
			ck_assert_str_eq(d.calendar_zone, "Europe/Minsk");
			ck_assert_int_eq(d.threshold_tiyn, 0);
		}
	}
}
END_TEST

START_TEST(test_by_a_branch_loan_is_not_held)
{
	struct policy p = policy_of("by-2025-11");
	struct policy_decision d = decide(&p, loan(BYN(100000), CHANNEL_BRANCH));
	ck_assert_int_eq(d.exemption, EXEMPT_BRANCH);
	ck_assert(!d.cooling_required);
	ck_assert_int_eq(d.rule, RULE_NONE);
	ck_assert_ptr_null(d.calendar_zone);
}
END_TEST

START_TEST(test_by_paid_to_a_seller_is_exempt_and_no_other_product_is)
{
	struct policy p = policy_of("by-2025-11");
	struct policy_input in = loan(BYN(100000), CHANNEL_ONLINE);
	in.product = PRODUCT_GOODS;
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.exemption, EXEMPT_GOODS);
	ck_assert(!d.cooling_required);
	ck_assert_ptr_null(d.calendar_zone);

	/* the exemptions of other laws are not Belarus's */
	static const enum product others[] = {PRODUCT_REFINANCING, PRODUCT_CARD_LIMIT,
	                                      PRODUCT_EDUCATION};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		in.product = others[i];
		ck_assert_int_eq(decide(&p, in).rule, RULE_NEXT_WORKING_DAY);
	}
	in.product = PRODUCT_CONSUMER;
	in.secured = true;
	d = decide(&p, in);
	ck_assert_int_eq(d.exemption, EXEMPT_NONE);
	ck_assert_int_eq(d.rule, RULE_NEXT_WORKING_DAY);
	ck_assert(!policy_takes_trusted_person("by-2025-11"));
}
END_TEST

START_TEST(test_by_has_no_visit_no_age_rule_and_no_reconfirmation)
{
	struct policy p = policy_of("by-2025-11");
	struct policy_decision d = decide(&p, loan(BYN(100000), CHANNEL_ONLINE));
	ck_assert(d.cooling_required);
	ck_assert(!d.in_person_required);
	ck_assert(!d.extra_confirmation_required);
	ck_assert(!d.reconfirmation_required);
	struct policy_input old = loan(BYN(100000), CHANNEL_ONLINE);
	old.age = 70;
	ck_assert(!decide(&p, old).extra_confirmation_required);
}
END_TEST

static struct loan assessed(const struct policy *p, int64_t kapeikas, enum channel ch)
{
	struct loan l;
	memset(&l, 0, sizeof(l));
	l.amount_tiyn = kapeikas;
	l.channel = ch;
	l.approved_at = T("2025-11-28T09:00:00Z");
	l.consent_at = TS_NULL;
	l.cooling_ends_at = TS_NULL;
	l.in_person_verified_at = TS_NULL;
	l.disbursed_at = TS_NULL;
	l.cancelled_at = TS_NULL;
	l.extra_confirmed_at = TS_NULL;
	l.reconfirmed_at = TS_NULL;
	l.trusted_person_confirmed_at = TS_NULL;
	policy_assess(p, 0, &l);
	return l;
}

START_TEST(test_by_loan_records_its_zone_no_length_and_leaves_the_end_to_the_database)
{
	struct policy p = policy_of("by-2025-11");
	struct loan l = assessed(&p, BYN(500), CHANNEL_ONLINE);
	ck_assert_str_eq(l.currency, "BYN");
	ck_assert_str_eq(l.policy, "by-2025-11");
	ck_assert_int_eq(l.mrp_tenge, 0);
	ck_assert_int_eq(l.rule, RULE_NEXT_WORKING_DAY);
	ck_assert_int_eq(l.cooling_period_s, 0);
	ck_assert_str_eq(l.cooling_calendar_zone, "Europe/Minsk");
	ck_assert(policy_cooled_by_calendar(&l));
	ck_assert_str_eq(policy_currency(&p), "BYN");
	ck_assert(!policy_amounts_in_mrp(&p));

	/* the consent's decision writes no end of its own: the statement
	 * computes it from the calendar (cd_cooling_ends_at) */
	int64_t friday_noon = T("2025-11-28T09:00:00Z");
	ck_assert(policy_cooling_ends_at(&l, friday_noon) == TS_NULL);
	struct consent_req q = {.consent_at = friday_noon};
	struct ts_window w = {.skew_s = 120, .backdate_s = 3600};
	struct act_outcome o;
	ck_assert_int_eq(loan_consent_decide(&l, &q, friday_noon, &w, &o), ACT_WRITE);
	ck_assert(o.at == friday_noon);
	ck_assert(o.cooling_ends_at == TS_NULL);

	/* codec: no length, the zone shown */
	struct loan_view v;
	l.consent_at = friday_noon;
	l.cooling_ends_at = T("2025-11-30T21:00:00Z"); /* Monday 00:00 Minsk */
	loan_evaluate(&l, friday_noon, &v);
	json_t *j = codec_loan_json(&l, &v);
	ck_assert(json_is_null(json_object_get(j, "cooling_period_seconds")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "cooling_calendar_zone")),
	                 "Europe/Minsk");
	ck_assert_str_eq(json_string_value(json_object_get(j, "rule")), "next_working_day");
	ck_assert_str_eq(json_string_value(json_object_get(j, "currency")), "BYN");
	json_decref(j);

	/* a loan not held has neither */
	struct loan b = assessed(&p, BYN(500), CHANNEL_BRANCH);
	ck_assert(!policy_cooled_by_calendar(&b));
	ck_assert_str_eq(b.cooling_calendar_zone, "");
	struct policy kz = policy_of("kz-2025-09");
	struct loan k = assessed(&kz, 300 * MRP_2026 * 100, CHANNEL_ONLINE);
	ck_assert(k.cooling_required);
	ck_assert(!policy_cooled_by_calendar(&k));
	ck_assert(policy_cooling_ends_at(&k, friday_noon) ==
	          friday_noon + k.cooling_period_s * USEC_PER_SEC);
}
END_TEST

START_TEST(test_by_a_payout_before_the_recorded_end_is_refused_and_at_it_allowed)
{
	struct policy p = policy_of("by-2025-11");
	struct loan l = assessed(&p, BYN(500), CHANNEL_ONLINE);
	l.consent_at = T("2025-11-28T09:00:00Z");
	l.cooling_ends_at = T("2025-11-30T21:00:00Z");
	struct loan_view v;
	int64_t before = l.cooling_ends_at - 1;
	loan_evaluate(&l, before, &v);
	ck_assert_uint_eq(v.blockers, 1u << BLOCKER_COOLING_PERIOD_ACTIVE);
	ck_assert_int_eq(v.status, STATUS_COOLING);
	ck_assert(v.earliest_disbursement_at == l.cooling_ends_at);
	ck_assert_int_eq(loan_retry_after(&l, &v, before), 1);
	loan_evaluate(&l, l.cooling_ends_at, &v);
	ck_assert_uint_eq(v.blockers, 0);
	ck_assert_int_eq(v.status, STATUS_ELIGIBLE);

	/* an end the database did not write holds the payout */
	l.cooling_ends_at = TS_NULL;
	loan_evaluate(&l, l.consent_at + 7 * 86400 * USEC_PER_SEC, &v);
	ck_assert(loan_view_has(&v, BLOCKER_COOLING_PERIOD_ACTIVE));
}
END_TEST

START_TEST(test_by_table_names_its_currency_its_zone_and_no_number)
{
	struct policy p = policy_of("by-2025-11");
	struct policy_table t;
	policy_table_of(&p, &t);
	ck_assert_str_eq(t.currency, "BYN");
	ck_assert_str_eq(t.unit, "BYN");
	ck_assert_str_eq(t.calendar_zone, "Europe/Minsk");
	ck_assert_int_eq(t.nbands, 1);
	ck_assert_int_eq(t.bands[0].rule, RULE_NEXT_WORKING_DAY);
	ck_assert(t.bands[0].until_next_working_day);
	ck_assert_int_eq(t.bands[0].above_mrp, 0);
	ck_assert_int_eq(t.bands[0].up_to_mrp, -1);
	ck_assert_ptr_null(t.bands[0].above_key);
	ck_assert_ptr_null(t.bands[0].period_key);
	ck_assert(!t.in_person_rule && !t.reconfirmation && !t.age_rule && !t.aggregates);
	ck_assert_uint_eq(t.exemptions, (1u << EXEMPT_BRANCH) | (1u << EXEMPT_GOODS));

	char *text = codec_policy_text(&t);
	ck_assert_ptr_nonnull(strstr(text, "currency: BYN\n"));
	ck_assert_ptr_nonnull(strstr(text, "next_working_day any  every amount: wait until the "
	                                   "start of the next working day after consent "
	                                   "(Europe/Minsk, calendar of non-working days"));
	ck_assert_ptr_nonnull(strstr(text, "exemptions (the first that applies; not cooled): "
	                                   "branch goods\n"));
	free(text);

	json_t *j = codec_policy_json(&t);
	ck_assert_str_eq(json_string_value(json_object_get(j, "calendar_zone")), "Europe/Minsk");
	json_t *band = json_array_get(json_object_get(j, "rules"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(band, "rule")), "next_working_day");
	ck_assert(json_is_null(json_object_get(band, "period_seconds")));
	ck_assert(json_is_null(json_object_get(band, "up_to_mrp")));
	json_t *keys = json_object_get(band, "keys");
	ck_assert(json_is_null(json_object_get(keys, "above_mrp")));
	ck_assert(json_is_null(json_object_get(keys, "period_seconds")));
	json_decref(j);

	/* a profile without a calendar shows none */
	struct policy kz = policy_of("kz-2025-09");
	policy_table_of(&kz, &t);
	ck_assert_ptr_null(t.calendar_zone);
	j = codec_policy_json(&t);
	ck_assert_ptr_null(json_object_get(j, "calendar_zone"));
	json_decref(j);
}
END_TEST

/* ---- the configuration ---- */

/* config_setup, config_teardown, write_conf and load: unit/config_file.h */

START_TEST(test_by_loads_without_a_key_of_its_own_and_its_table_is_the_law)
{
	struct config c;
	char msg[512];
	ck_assert_msg(
	    load("[policy]\nprofile = by-2025-11\ntimezone = Europe/Minsk\n", &c, msg, sizeof msg),
	    "%s", msg);
	struct policy p;
	config_policy(&c, &p);
	ck_assert_str_eq(p.name, "by-2025-11");
	struct policy_table t, fixed;
	policy_table_of(&p, &t);
	ck_assert_int_eq(t.nbands, 1);
	ck_assert(t.bands[0].until_next_working_day);
	ck_assert(policy_profile_fixed("by-2025-11", &fixed));
	ck_assert(!fixed.reconfirmation && !fixed.in_person_rule);
}
END_TEST

/* A wait until the next working day has no length that a backdated
 * consent could shorten: max_backdate is not held below it. */
START_TEST(test_by_max_backdate_is_not_held_below_a_calendar_period)
{
	struct config c;
	char msg[512];
	ck_assert_msg(
	    load("[policy]\nprofile = by-2025-11\nmax_backdate = 10d\n", &c, msg, sizeof msg), "%s",
	    msg);
	/* a period with a length still holds it, in the same schedule */
	ck_assert(!load("[policy]\nprofile = kz-card, by-2025-11@2026-01-01\nmax_backdate = 10d\n",
	                &c, msg, sizeof msg));
	ck_assert_ptr_nonnull(strstr(msg, "policy.max_backdate"));
	ck_assert_msg(
	    load("[policy]\nprofile = kz-card, by-2025-11@2026-01-01\n", &c, msg, sizeof msg), "%s",
	    msg);
	struct policy_schedule s;
	config_schedule(&c, &s);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.entries[1].policy.name, "by-2025-11");
}
END_TEST

static Suite *by_suite(void)
{
	Suite *s = suite_create("policy_by");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, test_by_every_online_amount_waits_for_the_next_working_day_in_minsk);
	tcase_add_test(tc, test_by_a_branch_loan_is_not_held);
	tcase_add_test(tc, test_by_paid_to_a_seller_is_exempt_and_no_other_product_is);
	tcase_add_test(tc, test_by_has_no_visit_no_age_rule_and_no_reconfirmation);
	tcase_add_test(tc,
	               test_by_loan_records_its_zone_no_length_and_leaves_the_end_to_the_database);
	tcase_add_test(tc, test_by_a_payout_before_the_recorded_end_is_refused_and_at_it_allowed);
	tcase_add_test(tc, test_by_table_names_its_currency_its_zone_and_no_number);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, config_setup, config_teardown);
	tcase_add_test(tc, test_by_loads_without_a_key_of_its_own_and_its_table_is_the_law);
	tcase_add_test(tc, test_by_max_backdate_is_not_held_below_a_calendar_period);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(by_suite)

/*
 * Profile uz-2026-01 (REGULATION.md, "More countries", Uzbekistan): one
 * online loan a day across lenders, as rows of the profile table in sum.
 * An online loan records the window of policy.uz_window, a branch loan
 * none (exempt: branch); no band, no visit, no age rule, no
 * reconfirmation; another lender's payout holds the loan until that
 * payout + the window, to the microsecond, and with a cooling period the
 * later end is the earliest payout and Retry-After's; the key's default,
 * its guard of the legal minimum, and the start refused without
 * policy.aggregation = all.
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

#define DAY_S  (24 * 3600)
#define DAY_US (DAY_S * USEC_PER_SEC)
/* N sum in tiyin */
#define UZS(n) ((int64_t)(n)*100)

START_TEST(test_uz_an_online_loan_of_any_amount_records_the_window_and_is_not_cooled)
{
	struct policy p = policy_of("uz-2026-01");
	static const int64_t amounts[] = {1, UZS(1000000), UZS(999999999)};
	for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++) {
		struct policy_decision d = decide(&p, loan(amounts[i], CHANNEL_ONLINE));
		ck_assert_int_eq(d.cross_lender_window_s, DAY_S);
		ck_assert_int_eq(d.exemption, EXEMPT_NONE);
		ck_assert_int_eq(d.rule, RULE_NONE);
		ck_assert(!d.cooling_required);
		ck_assert_int_eq(d.cooling_period_s, 0);
		/* no visit, no age rule, no reconfirmation */
		ck_assert(!d.in_person_required);
		ck_assert(!d.extra_confirmation_required);
		ck_assert(!d.reconfirmation_required);
	}
}
END_TEST

START_TEST(test_uz_a_branch_loan_is_exempt_and_records_no_window)
{
	struct policy p = policy_of("uz-2026-01");
	struct policy_decision d = decide(&p, loan(UZS(5000000), CHANNEL_BRANCH));
	ck_assert_int_eq(d.exemption, EXEMPT_BRANCH);
	ck_assert_int_eq(d.cross_lender_window_s, TS_NULL);
}
END_TEST

START_TEST(test_other_profiles_record_no_window)
{
	static const char *const names[] = {"kz-card", "kz-2025-09", "ru-2025-09"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct policy p = policy_of(names[i]);
		struct policy_input in = loan(UZS(10000000), CHANNEL_ONLINE);
		struct policy_decision d = decide(&p, in);
		ck_assert_msg(d.cross_lender_window_s == TS_NULL, "%s", names[i]);
		struct policy_table t;
		policy_table_of(&p, &t);
		ck_assert_int_eq(t.cross_lender_window_s, -1);
		ck_assert_ptr_null(t.cross_lender_window_key);
	}
}
END_TEST

START_TEST(test_uz_loan_records_sum_and_no_mrp)
{
	struct policy p = policy_of("uz-2026-01");
	struct loan l;
	memset(&l, 0, sizeof(l));
	l.amount_tiyn = UZS(2000000);
	l.channel = CHANNEL_ONLINE;
	l.borrower_age = 30;
	l.approved_at = 1000 * USEC_PER_SEC;
	l.in_person_verified_at = TS_NULL;
	policy_assess(&p, 0, &l);
	ck_assert_str_eq(l.currency, "UZS");
	ck_assert_str_eq(l.policy, "uz-2026-01");
	ck_assert_int_eq(l.mrp_tenge, 0);
	ck_assert_int_eq(l.threshold_tiyn, 0);
	ck_assert_int_eq(l.cross_lender_window_s, DAY_S);
	ck_assert(policy_currency(&p) != NULL && strcmp(policy_currency(&p), "UZS") == 0);
	ck_assert(!policy_amounts_in_mrp(&p));
	ck_assert(!policy_aggregates(&p));
}
END_TEST

/* An online uz loan, consented at `consent`, whose borrower another lender
 * paid out at `other` (TS_NULL: never). */
static struct loan windowed(int64_t consent, int64_t other)
{
	struct policy p = policy_of("uz-2026-01");
	struct loan l;
	memset(&l, 0, sizeof(l));
	l.amount_tiyn = UZS(2000000);
	l.channel = CHANNEL_ONLINE;
	l.borrower_age = 30;
	l.approved_at = consent - 60 * USEC_PER_SEC;
	l.in_person_verified_at = TS_NULL;
	l.disbursed_at = TS_NULL;
	l.cancelled_at = TS_NULL;
	l.extra_confirmed_at = TS_NULL;
	l.reconfirmed_at = TS_NULL;
	l.trusted_person_confirmed_at = TS_NULL;
	policy_assess(&p, 0, &l);
	l.consent_at = consent;
	l.cooling_ends_at = policy_cooling_ends_at(&l, consent);
	l.other_lender_paid_at = other;
	return l;
}

START_TEST(test_uz_another_lenders_payout_holds_the_loan_until_it_plus_the_window)
{
	int64_t paid = 1800000000 * USEC_PER_SEC;
	struct loan l = windowed(paid - 10 * USEC_PER_SEC, paid);
	struct loan_view v;
	static const int64_t at[] = {0, 1, DAY_US - 1};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		loan_evaluate(&l, paid + at[i], &v);
		ck_assert_uint_eq(v.blockers, 1u << BLOCKER_OTHER_LOAN_WITHIN_24H);
		ck_assert_int_eq(v.status, STATUS_BLOCKED_BY_OTHER_LOAN);
		ck_assert_int_eq(v.earliest_disbursement_at, paid + DAY_US);
	}
	/* Retry-After: the seconds left, rounded up */
	loan_evaluate(&l, paid + DAY_US - 1, &v);
	ck_assert_int_eq(loan_retry_after(&l, &v, paid + DAY_US - 1), 1);
	loan_evaluate(&l, paid, &v);
	ck_assert_int_eq(loan_retry_after(&l, &v, paid), DAY_S);
	/* at the window's end, and after it, nothing holds it */
	loan_evaluate(&l, paid + DAY_US, &v);
	ck_assert_uint_eq(v.blockers, 0);
	ck_assert_int_eq(v.status, STATUS_ELIGIBLE);
	ck_assert_int_eq(loan_retry_after(&l, &v, paid + DAY_US), 0);
	/* no payout at another lender: nothing holds it either */
	l = windowed(paid - 10 * USEC_PER_SEC, TS_NULL);
	loan_evaluate(&l, paid, &v);
	ck_assert_uint_eq(v.blockers, 0);
}
END_TEST

START_TEST(test_uz_a_window_of_config_holds_for_its_own_length)
{
	struct policy p = policy_of("uz-2026-01");
	p.uz_window_s = 36 * 3600;
	struct policy_decision d = decide(&p, loan(UZS(100), CHANNEL_ONLINE));
	ck_assert_int_eq(d.cross_lender_window_s, 36 * 3600);
}
END_TEST

/* Whatever else the loan needs, the payout stays held; only a missing
 * act or a refusal makes the earliest moment unknown. */
START_TEST(test_uz_with_another_blocker_the_earliest_is_unknown)
{
	int64_t paid = 1800000000 * USEC_PER_SEC;
	struct loan l = windowed(paid, paid);
	l.consent_at = TS_NULL;
	struct loan_view v;
	loan_evaluate(&l, paid + 5, &v);
	ck_assert_uint_eq(v.blockers,
	                  (1u << BLOCKER_CONSENT_MISSING) | (1u << BLOCKER_OTHER_LOAN_WITHIN_24H));
	ck_assert_int_eq(v.status, STATUS_AWAITING_CONSENT);
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);
	ck_assert_int_eq(loan_retry_after(&l, &v, paid + 5), 0);
	/* a paid or cancelled loan keeps its own status */
	l = windowed(paid, paid);
	l.disbursed_at = paid - 5;
	loan_evaluate(&l, paid + 5, &v);
	ck_assert_uint_eq(v.blockers, 1u << BLOCKER_ALREADY_DISBURSED);
	l = windowed(paid, paid);
	l.cancelled_at = paid - 5;
	loan_evaluate(&l, paid + 5, &v);
	ck_assert_uint_eq(v.blockers, 1u << BLOCKER_CANCELLED);
}
END_TEST

/* A profile with bands and a window (the table allows both): while both
 * run, the later end is the earliest payout, whichever it is. */
START_TEST(test_with_a_cooling_period_the_later_end_is_the_earliest)
{
	int64_t t0 = 1800000000 * USEC_PER_SEC;
	struct loan l = windowed(t0, t0);
	l.cooling_required = true;
	l.cooling_period_s = 3600;
	l.cooling_ends_at = t0 + 3600 * USEC_PER_SEC; /* before the window's end */
	struct loan_view v;
	loan_evaluate(&l, t0 + 1, &v);
	ck_assert_uint_eq(v.blockers, (1u << BLOCKER_COOLING_PERIOD_ACTIVE) |
	                                  (1u << BLOCKER_OTHER_LOAN_WITHIN_24H));
	ck_assert_int_eq(v.status, STATUS_COOLING);
	ck_assert_int_eq(v.earliest_disbursement_at, t0 + DAY_US);
	ck_assert_int_eq(loan_retry_after(&l, &v, t0), DAY_S);
	l.cooling_period_s = 2 * DAY_S; /* after it */
	l.cooling_ends_at = t0 + 2 * DAY_US;
	loan_evaluate(&l, t0 + 1, &v);
	ck_assert_int_eq(v.earliest_disbursement_at, t0 + 2 * DAY_US);
	ck_assert_int_eq(loan_retry_after(&l, &v, t0), 2 * DAY_S);
	/* the window over, the period alone */
	loan_evaluate(&l, t0 + DAY_US, &v);
	ck_assert_uint_eq(v.blockers, 1u << BLOCKER_COOLING_PERIOD_ACTIVE);
	ck_assert_int_eq(v.earliest_disbursement_at, t0 + 2 * DAY_US);
}
END_TEST

START_TEST(test_uz_names_of_the_blocker_and_the_status)
{
	ck_assert_str_eq(blocker_name(BLOCKER_OTHER_LOAN_WITHIN_24H), "other_loan_within_24h");
	ck_assert_str_eq(status_name(STATUS_BLOCKED_BY_OTHER_LOAN), "blocked_by_other_loan");
}
END_TEST

START_TEST(test_uz_table_names_its_currency_unit_window_and_key)
{
	struct policy p = policy_of("uz-2026-01");
	struct policy_table t;
	policy_table_of(&p, &t);
	ck_assert_str_eq(t.profile, "uz-2026-01");
	ck_assert_str_eq(t.currency, "UZS");
	ck_assert_str_eq(t.unit, "UZS");
	ck_assert_int_eq(t.nbands, 0);
	ck_assert_int_eq(t.cross_lender_window_s, DAY_S);
	ck_assert_str_eq(t.cross_lender_window_key, "policy.uz_window");
	ck_assert(!t.in_person_rule && !t.reconfirmation && !t.age_rule && !t.aggregates);
	ck_assert_uint_eq(t.exemptions, 1u << EXEMPT_BRANCH);

	char *text = codec_policy_text(&t);
	ck_assert_ptr_nonnull(strstr(text, "currency: UZS\n"));
	ck_assert_ptr_nonnull(strstr(text, "less than 86400s ago (policy.uz_window)"));
	free(text);
	json_t *j = codec_policy_json(&t);
	json_t *cross = json_object_get(j, "cross_lender");
	ck_assert_int_eq(json_integer_value(json_object_get(cross, "window_seconds")), DAY_S);
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(cross, "keys"), "window_seconds")),
	    "policy.uz_window");
	json_decref(j);
	/* a profile without the rule shows nothing of it */
	struct policy kz = policy_of("kz-2025-09");
	policy_table_of(&kz, &t);
	j = codec_policy_json(&t);
	ck_assert_ptr_null(json_object_get(j, "cross_lender"));
	json_decref(j);
}
END_TEST

/* ---- the configuration ---- */

/* config_setup, config_teardown, write_conf and load: unit/config_file.h */

START_TEST(test_uz_window_defaults_to_the_law_and_tunes_longer)
{
	struct config c;
	char msg[512];
	ck_assert_msg(
	    load("[policy]\nprofile = uz-2026-01\naggregation = all\n", &c, msg, sizeof msg), "%s",
	    msg);
	struct policy p;
	config_policy(&c, &p);
	ck_assert_int_eq(p.uz_window_s, DAY_S);
	ck_assert_msg(load("[policy]\nprofile = uz-2026-01\naggregation = all\nuz_window = 30h\n",
	                   &c, msg, sizeof msg),
	              "%s", msg);
	config_policy(&c, &p);
	ck_assert_int_eq(p.uz_window_s, 30 * 3600);
}
END_TEST

START_TEST(test_uz_a_window_below_the_law_stops_the_load_naming_it)
{
	struct config c;
	char msg[512];
	ck_assert(!load("[policy]\nprofile = uz-2026-01\naggregation = all\nuz_window = 23h\n", &c,
	                msg, sizeof msg));
	ck_assert_msg(strncmp(msg, "policy.uz_window", 16) == 0, "%s", msg);
	ck_assert_ptr_nonnull(strstr(msg, "uz-2026-01"));
	/* lifted for tests only */
	ck_assert_msg(load("[policy]\nprofile = uz-2026-01\naggregation = all\nuz_window = 3s\n"
	                   "allow_below_legal_minimum = on\n",
	                   &c, msg, sizeof msg),
	              "%s", msg);
}
END_TEST

/* The rule counts other lenders' payouts: it needs the database of all of
 * them, which policy.aggregation = all says; whatever the legal lift. */
START_TEST(test_uz_without_aggregation_all_the_load_stops_naming_it)
{
	static const char *const confs[] = {
	    "[policy]\nprofile = uz-2026-01\n",
	    "[policy]\nprofile = uz-2026-01\naggregation = lender\n",
	    "[policy]\nprofile = uz-2026-01\nallow_below_legal_minimum = on\n",
	    "[policy]\nprofile = kz-card, uz-2026-01@2026-02-01\n",
	};
	struct config c;
	char msg[512];
	for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++) {
		ck_assert_msg(!load(confs[i], &c, msg, sizeof msg), "%s accepted", confs[i]);
		ck_assert_msg(strncmp(msg, "policy.aggregation", 18) == 0, "%s: %s", confs[i], msg);
		ck_assert_ptr_nonnull(strstr(msg, "uz-2026-01"));
	}
	/* the key is not even read under another profile */
	ck_assert_msg(load("[policy]\nprofile = kz-2025-09\nuz_window = 1h\n", &c, msg, sizeof msg),
	              "%s", msg);
}
END_TEST

static Suite *uz_suite(void)
{
	Suite *s = suite_create("policy_uz");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc,
	               test_uz_an_online_loan_of_any_amount_records_the_window_and_is_not_cooled);
	tcase_add_test(tc, test_uz_a_branch_loan_is_exempt_and_records_no_window);
	tcase_add_test(tc, test_other_profiles_record_no_window);
	tcase_add_test(tc, test_uz_loan_records_sum_and_no_mrp);
	tcase_add_test(tc, test_uz_another_lenders_payout_holds_the_loan_until_it_plus_the_window);
	tcase_add_test(tc, test_uz_a_window_of_config_holds_for_its_own_length);
	tcase_add_test(tc, test_uz_with_another_blocker_the_earliest_is_unknown);
	tcase_add_test(tc, test_with_a_cooling_period_the_later_end_is_the_earliest);
	tcase_add_test(tc, test_uz_names_of_the_blocker_and_the_status);
	tcase_add_test(tc, test_uz_table_names_its_currency_unit_window_and_key);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, config_setup, config_teardown);
	tcase_add_test(tc, test_uz_window_defaults_to_the_law_and_tunes_longer);
	tcase_add_test(tc, test_uz_a_window_below_the_law_stops_the_load_naming_it);
	tcase_add_test(tc, test_uz_without_aggregation_all_the_load_stops_naming_it);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(uz_suite)

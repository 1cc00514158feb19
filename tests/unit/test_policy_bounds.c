/*
 * Each bound of a profile read both ways (REGULATION.md, "Open readings":
 * "from 150 MRP" or "above"): policy.*_threshold_inclusive off, an amount
 * equal to the bound is in the band below it; on, in the band above it.
 * policy_decide() at every bound and one tiyn either side (bank 150 and
 * 255, MFO 75, kz-card 150), the in-person rule at its bound, and the
 * effective table that names each bound's reading with its key.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "codec.h"
#include "policy.h"
#include "unit/policy_fixture.h"

static enum rule rule_at(const struct policy *p, int kind, int64_t amount, int64_t mrp)
{
	return decide(p, online(kind, amount, mrp)).rule;
}

START_TEST(test_every_bound_is_above_by_default)
{
	struct policy p = policy_of("kz-2025-09");
	ck_assert(!p.bank_threshold_inclusive && !p.bank_long_threshold_inclusive &&
	          !p.mfo_threshold_inclusive);
	int64_t m = MRP_2025;
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m) - 1, m), RULE_NONE);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m), m), RULE_NONE);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m) + 1, m), RULE_BANK_SHORT);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(255, m) - 1, m), RULE_BANK_SHORT);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(255, m), m), RULE_BANK_SHORT);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(255, m) + 1, m), RULE_BANK_LONG);
	ck_assert_int_eq(rule_at(&p, LENDER_MFO, MRP(75, m) - 1, m), RULE_NONE);
	ck_assert_int_eq(rule_at(&p, LENDER_MFO, MRP(75, m), m), RULE_NONE);
	ck_assert_int_eq(rule_at(&p, LENDER_MFO, MRP(75, m) + 1, m), RULE_MFO);

	struct policy c = policy_of("kz-card");
	ck_assert(!c.threshold_inclusive);
	ck_assert_int_eq(rule_at(&c, LENDER_BANK, MRP(150, m) - 1, m), RULE_NONE);
	ck_assert_int_eq(rule_at(&c, LENDER_BANK, MRP(150, m), m), RULE_NONE);
	ck_assert_int_eq(rule_at(&c, LENDER_BANK, MRP(150, m) + 1, m), RULE_CARD);
}
END_TEST

START_TEST(test_an_inclusive_bank_bound_puts_150_mrp_in_the_short_band)
{
	struct policy p = policy_of("kz-2025-09");
	p.bank_threshold_inclusive = true;
	static const int64_t mrps[] = {MRP_2025, MRP_2026};
	for (size_t i = 0; i < 2; i++) {
		int64_t m = mrps[i];
		ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m) - 1, m), RULE_NONE);
		struct policy_decision d = decide(&p, online(LENDER_BANK, MRP(150, m), m));
		ck_assert_int_eq(d.rule, RULE_BANK_SHORT);
		ck_assert_int_eq(d.cooling_period_s, 8 * 3600);
		ck_assert(d.reconfirmation_required);
		ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m) + 1, m), RULE_BANK_SHORT);
		/* the other bounds keep their own reading */
		ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(255, m), m), RULE_BANK_SHORT);
		ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(255, m) + 1, m), RULE_BANK_LONG);
		ck_assert_int_eq(rule_at(&p, LENDER_MFO, MRP(75, m), m), RULE_NONE);
	}
}
END_TEST

START_TEST(test_an_inclusive_long_bound_moves_255_mrp_out_of_the_short_band)
{
	struct policy p = policy_of("kz-2025-09");
	p.bank_long_threshold_inclusive = true;
	int64_t m = MRP_2025;
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(255, m) - 1, m), RULE_BANK_SHORT);
	struct policy_decision d = decide(&p, online(LENDER_BANK, MRP(255, m), m));
	ck_assert_int_eq(d.rule, RULE_BANK_LONG);
	ck_assert_int_eq(d.cooling_period_s, 24 * 3600);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(255, m) + 1, m), RULE_BANK_LONG);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m), m), RULE_NONE);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m) + 1, m), RULE_BANK_SHORT);

	/* both inclusive: [150, 255) short, [255, ...) long */
	p.bank_threshold_inclusive = true;
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m), m), RULE_BANK_SHORT);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(255, m) - 1, m), RULE_BANK_SHORT);
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(255, m), m), RULE_BANK_LONG);
}
END_TEST

START_TEST(test_an_inclusive_mfo_bound_cools_75_mrp)
{
	struct policy p = policy_of("kz-2025-09");
	p.mfo_threshold_inclusive = true;
	int64_t m = MRP_2026;
	ck_assert_int_eq(rule_at(&p, LENDER_MFO, MRP(75, m) - 1, m), RULE_NONE);
	ck_assert_int_eq(rule_at(&p, LENDER_MFO, MRP(75, m), m), RULE_MFO);
	ck_assert_int_eq(rule_at(&p, LENDER_MFO, MRP(75, m) + 1, m), RULE_MFO);
	/* a bank's 150 MRP is not the MFO's bound */
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m), m), RULE_NONE);
}
END_TEST

START_TEST(test_an_inclusive_card_bound_cools_150_mrp_under_kz_card)
{
	struct policy p = policy_of("kz-card");
	p.threshold_inclusive = true;
	int64_t m = MRP_2025;
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m) - 1, m), RULE_NONE);
	struct policy_decision d = decide(&p, online(LENDER_BANK, MRP(150, m), m));
	ck_assert_int_eq(d.rule, RULE_CARD);
	ck_assert_int_eq(d.cooling_period_s, 24 * 3600);
	ck_assert_int_eq(rule_at(&p, LENDER_MFO, MRP(150, m) + 1, m), RULE_CARD);
	/* kz-2025-09's keys do not touch kz-card's bound, nor the reverse */
	p = policy_of("kz-card");
	p.bank_threshold_inclusive = p.mfo_threshold_inclusive = true;
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m), m), RULE_NONE);
	p = policy_of("kz-2025-09");
	p.threshold_inclusive = true;
	ck_assert_int_eq(rule_at(&p, LENDER_BANK, MRP(150, m), m), RULE_NONE);
}
END_TEST

START_TEST(test_the_in_person_rule_reads_the_kinds_first_bound_as_its_key_says)
{
	struct policy p = policy_of("kz-2025-09");
	int64_t m = MRP_2025;
	struct policy_input in = online(LENDER_BANK, MRP(150, m), m);
	in.first_time = true;
	ck_assert(!decide(&p, in).in_person_required);
	p.bank_threshold_inclusive = true;
	ck_assert(decide(&p, in).in_person_required);
	in.amount_tiyn -= 1;
	ck_assert(!decide(&p, in).in_person_required);
	/* exempt from cooling (goods) but not from the visit, at the bound too */
	in.amount_tiyn += 1;
	in.product = PRODUCT_GOODS;
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.exemption, EXEMPT_GOODS);
	ck_assert(d.in_person_required);

	p = policy_of("kz-2025-09");
	in = online(LENDER_MFO, MRP(75, m), m);
	in.first_time = true;
	ck_assert(!decide(&p, in).in_person_required);
	p.mfo_threshold_inclusive = true;
	ck_assert(decide(&p, in).in_person_required);
	in.amount_tiyn -= 1;
	ck_assert(!decide(&p, in).in_person_required);
	/* the long band's bound is not the kind's first */
	p = policy_of("kz-2025-09");
	p.bank_long_threshold_inclusive = true;
	in = online(LENDER_BANK, MRP(150, m), m);
	in.first_time = true;
	ck_assert(!decide(&p, in).in_person_required);
}
END_TEST

START_TEST(test_the_card_limit_exemption_keeps_up_to_and_including_its_number)
{
	struct policy p = policy_of("kz-2025-09");
	p.bank_threshold_inclusive = true;
	int64_t m = MRP_2025;
	struct policy_input in = online(LENDER_BANK, MRP(150, m), m);
	in.product = PRODUCT_CARD_LIMIT;
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.exemption, EXEMPT_CARD_LIMIT);
	ck_assert_int_eq(d.rule, RULE_NONE);
	in.amount_tiyn += 1;
	d = decide(&p, in);
	ck_assert_int_eq(d.exemption, EXEMPT_NONE);
	ck_assert_int_eq(d.rule, RULE_BANK_SHORT);
}
END_TEST

START_TEST(test_every_band_names_its_bounds_reading_and_its_key)
{
	static const char *const names[] = {"kz-card", "kz-2025-09"};
	for (size_t n = 0; n < 2; n++) {
		struct policy p = policy_of(names[n]);
		struct policy_table t;
		policy_table_of(&p, &t);
		for (int i = 0; i < t.nbands; i++) {
			const struct policy_table_band *b = &t.bands[i];
			ck_assert(!b->above_inclusive && !b->up_to_exclusive);
			ck_assert_ptr_nonnull(b->above_inclusive_key);
			ck_assert_ptr_nonnull(
			    strstr(b->above_inclusive_key, "threshold_inclusive"));
			if (b->up_to_mrp >= 0)
				ck_assert_ptr_nonnull(b->up_to_inclusive_key);
		}
	}
	struct policy p = policy_of("kz-2025-09");
	p.bank_long_threshold_inclusive = true;
	struct policy_table t;
	policy_table_of(&p, &t);
	ck_assert_int_eq(t.bands[0].rule, RULE_BANK_SHORT);
	ck_assert(!t.bands[0].above_inclusive);
	ck_assert(t.bands[0].up_to_exclusive);
	ck_assert_str_eq(t.bands[0].above_inclusive_key, "policy.bank_threshold_inclusive");
	ck_assert_str_eq(t.bands[0].up_to_inclusive_key, "policy.bank_long_threshold_inclusive");
	ck_assert_int_eq(t.bands[1].rule, RULE_BANK_LONG);
	ck_assert(t.bands[1].above_inclusive);
	ck_assert_str_eq(t.bands[1].above_inclusive_key, "policy.bank_long_threshold_inclusive");
	ck_assert_str_eq(t.bands[2].above_inclusive_key, "policy.mfo_threshold_inclusive");

	p = policy_of("kz-card");
	policy_table_of(&p, &t);
	ck_assert_str_eq(t.bands[0].above_inclusive_key, "policy.threshold_inclusive");
}
END_TEST

START_TEST(test_policy_show_prints_from_and_below_for_inclusive_bounds)
{
	struct policy p = policy_of("kz-2025-09");
	p.bank_threshold_inclusive = true;
	p.bank_long_threshold_inclusive = true;
	struct policy_table t;
	policy_table_of(&p, &t);
	char *text = codec_policy_text(&t);
	ck_assert_ptr_nonnull(
	    strstr(text, "bank_short bank from 150 MRP (policy.bank_threshold_mrp, "
	                 "policy.bank_threshold_inclusive = on), below 255 MRP "
	                 "(policy.bank_long_threshold_mrp, policy.bank_long_threshold_inclusive = "
	                 "on): wait 28800s"));
	ck_assert_ptr_nonnull(strstr(text, "bank_long  bank from 255 MRP"));
	ck_assert_ptr_nonnull(strstr(text,
	                             "mfo        mfo  above 75 MRP (policy.mfo_threshold_mrp, "
	                             "policy.mfo_threshold_inclusive = off)"));
	free(text);

	json_t *j = codec_policy_json(&t);
	json_t *short_band = json_array_get(json_object_get(j, "rules"), 0);
	ck_assert(json_is_true(json_object_get(short_band, "above_inclusive")));
	ck_assert(json_is_true(json_object_get(short_band, "up_to_exclusive")));
	json_t *keys = json_object_get(short_band, "keys");
	ck_assert_str_eq(json_string_value(json_object_get(keys, "above_inclusive")),
	                 "policy.bank_threshold_inclusive");
	ck_assert_str_eq(json_string_value(json_object_get(keys, "up_to_exclusive")),
	                 "policy.bank_long_threshold_inclusive");
	json_t *mfo = json_array_get(json_object_get(j, "rules"), 2);
	ck_assert(json_is_false(json_object_get(mfo, "above_inclusive")));
	ck_assert(json_is_null(json_object_get(mfo, "up_to_exclusive")));
	ck_assert(json_is_null(json_object_get(json_object_get(mfo, "keys"), "up_to_exclusive")));
	json_decref(j);
}
END_TEST

static Suite *bounds_suite(void)
{
	Suite *s = suite_create("policy_bounds");
	TCase *tc = tcase_create("decide");
	tcase_add_test(tc, test_every_bound_is_above_by_default);
	tcase_add_test(tc, test_an_inclusive_bank_bound_puts_150_mrp_in_the_short_band);
	tcase_add_test(tc, test_an_inclusive_long_bound_moves_255_mrp_out_of_the_short_band);
	tcase_add_test(tc, test_an_inclusive_mfo_bound_cools_75_mrp);
	tcase_add_test(tc, test_an_inclusive_card_bound_cools_150_mrp_under_kz_card);
	tcase_add_test(tc, test_the_in_person_rule_reads_the_kinds_first_bound_as_its_key_says);
	tcase_add_test(tc, test_the_card_limit_exemption_keeps_up_to_and_including_its_number);
	suite_add_tcase(s, tc);
	tc = tcase_create("table");
	tcase_add_test(tc, test_every_band_names_its_bounds_reading_and_its_key);
	tcase_add_test(tc, test_policy_show_prints_from_and_below_for_inclusive_bounds);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(bounds_suite)

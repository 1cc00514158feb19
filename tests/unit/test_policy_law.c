/*
 * The rules of profile kz-2025-09 (REGULATION.md, "Profile kz-2025-09";
 * CONTRACT.md, "The rules of kz-2025-09"), applied by policy_decide() at
 * every boundary: 150 / 255 / 75 MRP and one tiyn more, in 2025 and 2026;
 * the day's amount of several loans; each exemption; the in-person and age
 * rules; kz-card's answers unchanged. And the age from the IIN
 * (iin_age_on), the effective table (policy_table_of, codec_policy_json).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "codec.h"
#include "iin.h"
#include "loan.h"
#include "policy.h"
#include "timeutil.h"
#include "unit/policy_fixture.h"

static enum rule rule_of(int kind, int64_t amount, int64_t mrp)
{
	struct policy p = policy_of("kz-2025-09");
	return decide(&p, online(kind, amount, mrp)).rule;
}

START_TEST(test_bank_bands_at_each_boundary_in_2025_and_2026)
{
	static const int64_t mrps[] = {MRP_2025, MRP_2026};
	for (size_t i = 0; i < 2; i++) {
		int64_t m = mrps[i];
		ck_assert_int_eq(rule_of(LENDER_BANK, MRP(150, m), m), RULE_NONE);
		ck_assert_int_eq(rule_of(LENDER_BANK, MRP(150, m) + 1, m), RULE_BANK_SHORT);
		ck_assert_int_eq(rule_of(LENDER_BANK, MRP(255, m), m), RULE_BANK_SHORT);
		ck_assert_int_eq(rule_of(LENDER_BANK, MRP(255, m) + 1, m), RULE_BANK_LONG);
		/* an MFO's 100 MRP is cooled; a bank's is not */
		ck_assert_int_eq(rule_of(LENDER_MFO, MRP(75, m), m), RULE_NONE);
		ck_assert_int_eq(rule_of(LENDER_MFO, MRP(75, m) + 1, m), RULE_MFO);
		ck_assert_int_eq(rule_of(LENDER_MFO, MRP(255, m) + 1, m), RULE_MFO);
		ck_assert_int_eq(rule_of(LENDER_BANK, MRP(75, m) + 1, m), RULE_NONE);
	}
	/* 589,800.00 tenge is 150 MRP in 2025 but below it in 2026's MRP */
	ck_assert_int_eq(rule_of(LENDER_BANK, 58980001, MRP_2025), RULE_BANK_SHORT);
	ck_assert_int_eq(rule_of(LENDER_BANK, 58980001, MRP_2026), RULE_NONE);
	/* 1,002,660.01 tenge: above 255 MRP of 2025, within 2026's short band */
	ck_assert_int_eq(rule_of(LENDER_BANK, 100266001, MRP_2025), RULE_BANK_LONG);
	ck_assert_int_eq(rule_of(LENDER_BANK, 100266001, MRP_2026), RULE_BANK_SHORT);
}
END_TEST

START_TEST(test_period_threshold_and_reconfirmation_follow_the_band)
{
	struct policy p = policy_of("kz-2025-09");
	struct policy_decision d = decide(&p, online(LENDER_BANK, MRP(200, MRP_2025), MRP_2025));
	ck_assert_int_eq(d.rule, RULE_BANK_SHORT);
	ck_assert(d.cooling_required);
	ck_assert_int_eq(d.cooling_period_s, 8 * 3600);
	ck_assert_int_eq(d.threshold_tiyn, 58980000);
	ck_assert(d.reconfirmation_required);
	ck_assert_int_eq(d.aggregated_tiyn, MRP(200, MRP_2025));
	ck_assert_int_eq(d.exemption, EXEMPT_NONE);

	d = decide(&p, online(LENDER_BANK, MRP(300, MRP_2025), MRP_2025));
	ck_assert_int_eq(d.cooling_period_s, 24 * 3600);
	d = decide(&p, online(LENDER_MFO, MRP(100, MRP_2025), MRP_2025));
	ck_assert_int_eq(d.rule, RULE_MFO);
	ck_assert_int_eq(d.cooling_period_s, 24 * 3600);
	ck_assert_int_eq(d.threshold_tiyn, 29490000); /* 75 MRP */

	d = decide(&p, online(LENDER_BANK, MRP(100, MRP_2025), MRP_2025));
	ck_assert(!d.cooling_required);
	ck_assert(!d.reconfirmation_required);
	ck_assert_int_eq(d.cooling_period_s, 0);
}
END_TEST

START_TEST(test_three_loans_of_a_day_cross_each_threshold_only_together)
{
	struct policy p = policy_of("kz-2025-09");
	int64_t m = MRP_2025;
	/* 3 x 60 MRP = 180 MRP: each alone is below 150 */
	struct policy_input in = online(LENDER_BANK, MRP(60, m), m);
	ck_assert_int_eq(decide(&p, in).rule, RULE_NONE);
	in.day_others_tiyn = MRP(60, m);
	ck_assert_int_eq(decide(&p, in).rule, RULE_NONE); /* 120 */
	in.day_others_tiyn = MRP(120, m);
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.rule, RULE_BANK_SHORT); /* 180 */
	ck_assert_int_eq(d.aggregated_tiyn, MRP(180, m));
	/* 3 x 85 MRP = 255 is still short; one tiyn more is long */
	in.amount_tiyn = MRP(85, m);
	in.day_others_tiyn = MRP(170, m);
	ck_assert_int_eq(decide(&p, in).rule, RULE_BANK_SHORT);
	in.day_others_tiyn = MRP(170, m) + 1;
	ck_assert_int_eq(decide(&p, in).rule, RULE_BANK_LONG);
	/* an MFO: 3 x 25 MRP = 75 is not cooled, one tiyn more is */
	in = online(LENDER_MFO, MRP(25, m), m);
	in.day_others_tiyn = MRP(50, m);
	ck_assert_int_eq(decide(&p, in).rule, RULE_NONE);
	in.day_others_tiyn = MRP(50, m) + 1;
	ck_assert_int_eq(decide(&p, in).rule, RULE_MFO);
}
END_TEST

START_TEST(test_each_exemption_in_order_and_not_cooled)
{
	struct policy p = policy_of("kz-2025-09");
	int64_t m = MRP_2025;
	struct policy_input in = online(LENDER_BANK, MRP(400, m), m);

	in.channel = CHANNEL_BRANCH;
	in.secured = true;
	ck_assert_int_eq(decide(&p, in).exemption, EXEMPT_BRANCH); /* the first that applies */
	in.channel = CHANNEL_ONLINE;
	ck_assert_int_eq(decide(&p, in).exemption, EXEMPT_SECURED);
	in.secured = false;
	in.product = PRODUCT_GOODS;
	ck_assert_int_eq(decide(&p, in).exemption, EXEMPT_GOODS);
	in.product = PRODUCT_REFINANCING;
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.exemption, EXEMPT_REFINANCING);
	ck_assert(!d.cooling_required);
	ck_assert(!d.reconfirmation_required);
	ck_assert_int_eq(d.rule, RULE_NONE);
	/* an exempt loan's day's amount is computed the same way */
	in.day_others_tiyn = 12345;
	ck_assert_int_eq(decide(&p, in).aggregated_tiyn, MRP(400, m) + 12345);
}
END_TEST

START_TEST(test_card_limit_is_exempt_up_to_its_threshold_only)
{
	struct policy p = policy_of("kz-2025-09");
	int64_t m = MRP_2025;
	struct policy_input in = online(LENDER_BANK, MRP(150, m), m);
	in.product = PRODUCT_CARD_LIMIT;
	ck_assert_int_eq(decide(&p, in).exemption, EXEMPT_CARD_LIMIT);
	in.amount_tiyn = MRP(150, m) + 1;
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.exemption, EXEMPT_NONE);
	ck_assert_int_eq(d.rule, RULE_BANK_SHORT);
	/* by the day's amount, not the loan's own */
	in.amount_tiyn = MRP(100, m);
	in.day_others_tiyn = MRP(50, m) + 1;
	ck_assert_int_eq(decide(&p, in).exemption, EXEMPT_NONE);
	/* the number is policy.card_limit_exempt_mrp */
	p.card_limit_exempt_mrp = 200;
	ck_assert_int_eq(decide(&p, in).exemption, EXEMPT_CARD_LIMIT);
}
END_TEST

START_TEST(test_in_person_above_the_kinds_threshold_whether_or_not_exempt)
{
	struct policy p = policy_of("kz-2025-09");
	int64_t m = MRP_2025;
	struct policy_input in = online(LENDER_BANK, MRP(150, m), m);
	in.first_time = true;
	ck_assert(!decide(&p, in).in_person_required); /* 150 MRP: not above */
	in.amount_tiyn += 1;
	ck_assert(decide(&p, in).in_person_required);
	in.product = PRODUCT_GOODS; /* exempt from cooling, not from the visit */
	ck_assert(decide(&p, in).in_person_required);
	in.secured = true;
	ck_assert(!decide(&p, in).in_person_required);
	in.secured = false;
	in.first_time = false;
	ck_assert(!decide(&p, in).in_person_required);

	/* an MFO: online above 75 MRP; a branch microcredit needs no visit rule */
	in = online(LENDER_MFO, MRP(75, m), m);
	in.first_time = true;
	ck_assert(!decide(&p, in).in_person_required);
	in.amount_tiyn += 1;
	ck_assert(decide(&p, in).in_person_required);
	in.channel = CHANNEL_BRANCH;
	ck_assert(!decide(&p, in).in_person_required);
}
END_TEST

START_TEST(test_age_rule_for_cooled_loans_under_21_and_from_55)
{
	struct policy p = policy_of("kz-2025-09");
	int64_t m = MRP_2025;
	struct policy_input in = online(LENDER_BANK, MRP(200, m), m);
	static const struct {
		int age;
		bool extra;
	} cases[] = {{20, true}, {21, false}, {54, false}, {55, true}, {18, true}, {80, true}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in.age = cases[i].age;
		ck_assert_msg(decide(&p, in).extra_confirmation_required == cases[i].extra,
		              "age %d", cases[i].age);
	}
	/* only a cooled loan */
	in.age = 20;
	in.amount_tiyn = MRP(100, m);
	ck_assert(!decide(&p, in).extra_confirmation_required);
	/* the bounds are policy.extra_confirmation_under_age / _from_age */
	in.amount_tiyn = MRP(200, m);
	in.age = 22;
	p.extra_confirmation_under_age = 23;
	ck_assert(decide(&p, in).extra_confirmation_required);
}
END_TEST

START_TEST(test_aggregation_setting_is_for_the_caller_to_sum_and_kz_card_ignores_the_day)
{
	/* kz-card: the loan's own amount, exemption branch, rule card, no
	 * reconfirmation, no age rule, the visit for every first-time
	 * unsecured borrower */
	struct policy p = policy_of("kz-card");
	int64_t m = MRP_2025;
	struct policy_input in = online(LENDER_MFO, MRP(150, m), m);
	in.day_others_tiyn = MRP(150, m);
	in.first_time = true;
	in.age = 19;
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.aggregated_tiyn, MRP(150, m));
	ck_assert_int_eq(d.rule, RULE_NONE);
	ck_assert(d.in_person_required);
	ck_assert_int_eq(d.threshold_tiyn, 58980000);
	in.amount_tiyn += 1;
	d = decide(&p, in);
	ck_assert_int_eq(d.rule, RULE_CARD);
	ck_assert_int_eq(d.cooling_period_s, 86400);
	ck_assert(!d.reconfirmation_required);
	ck_assert(!d.extra_confirmation_required);
	ck_assert_int_eq(d.exemption, EXEMPT_NONE);
	in.channel = CHANNEL_BRANCH;
	d = decide(&p, in);
	ck_assert_int_eq(d.exemption, EXEMPT_BRANCH);
	ck_assert(!d.cooling_required);
	/* kz-card: goods or secured change nothing but the visit */
	in.channel = CHANNEL_ONLINE;
	in.product = PRODUCT_GOODS;
	ck_assert_int_eq(decide(&p, in).rule, RULE_CARD);
}
END_TEST

/* ---- the age from the IIN ---- */

/* A valid IIN for a birth date (YYMMDD) and century digit. */
static void make_iin(const char *yymmdd, char century, char out[13])
{
	for (int serial = 0; serial < 10000; serial++) {
		snprintf(out, 13, "%s%c%04d", yymmdd, century, serial);
		int c = iin_check_digit(out);
		if (c >= 0) {
			out[11] = (char)('0' + c);
			out[12] = '\0';
			return;
		}
	}
	ck_abort_msg("no serial for %s", yymmdd);
}

static int age_on(const char *yymmdd, char century, int64_t y, unsigned mo, unsigned d)
{
	char iin[13];
	make_iin(yymmdd, century, iin);
	int age = -7;
	ck_assert_msg(iin_age_on(iin, days_from_civil(y, mo, d), &age), "%s", iin);
	return age;
}

START_TEST(test_age_is_gained_on_the_birthday)
{
	/* born 2005-06-15 (century digit 5: 2000s) */
	ck_assert_int_eq(age_on("050615", '5', 2025, 6, 14), 19);
	ck_assert_int_eq(age_on("050615", '5', 2025, 6, 15), 20);
	ck_assert_int_eq(age_on("040615", '6', 2025, 6, 15), 21);
	ck_assert_int_eq(age_on("040615", '6', 2025, 6, 14), 20);
	/* born 1970-06-15 (digit 3: 1900s): 54 the day before, 55 on the day */
	ck_assert_int_eq(age_on("700615", '3', 2025, 6, 14), 54);
	ck_assert_int_eq(age_on("700615", '4', 2025, 6, 15), 55);
	/* the century digit decides: 1870 */
	ck_assert_int_eq(age_on("700615", '1', 2025, 6, 15), 155);
	/* the Almaty local date of 2025-12-31T19:30Z is 2026-01-01 */
	int64_t us;
	ck_assert(ts_parse_rfc3339("2025-12-31T19:30:00Z", &us, NULL));
	int64_t almaty_day = (us + 5 * 3600 * USEC_PER_SEC) / (86400 * USEC_PER_SEC);
	char iin[13];
	make_iin("050101", '5', iin);
	int age = 0;
	ck_assert(iin_age_on(iin, almaty_day, &age));
	ck_assert_int_eq(age, 21);
	ck_assert(iin_age_on(iin, almaty_day - 1, &age));
	ck_assert_int_eq(age, 20);
}
END_TEST

START_TEST(test_a_29_february_birthday_is_gained_on_28_february_in_other_years)
{
	ck_assert_int_eq(age_on("040229", '5', 2025, 2, 27), 20);
	ck_assert_int_eq(age_on("040229", '5', 2025, 2, 28), 21);
	ck_assert_int_eq(age_on("040229", '5', 2028, 2, 28), 23);
	ck_assert_int_eq(age_on("040229", '5', 2028, 2, 29), 24);
}
END_TEST

START_TEST(test_an_iin_whose_date_is_not_real_has_no_age)
{
	/* 2005-02-30 and 1970-13-01 are no dates: such IINs are refused */
	static const char *const dates[] = {"050230", "701301", "050229", "000000"};
	for (size_t i = 0; i < 4; i++) {
		char iin[13];
		snprintf(iin, sizeof(iin), "%s50001", dates[i]);
		int c = iin_check_digit(iin);
		iin[11] = (char)('0' + (c < 0 ? 0 : c));
		iin[12] = '\0';
		const char *why = NULL;
		int age = -1;
		ck_assert(!iin_valid(iin, &why));
		ck_assert_str_eq(why, "bad birth date");
		ck_assert(!iin_age_on(iin, days_from_civil(2025, 6, 15), &age));
	}
}
END_TEST

/* ---- the effective table ---- */

START_TEST(test_policy_show_json_names_every_number_with_its_key)
{
	struct policy p = policy_of("kz-2025-09");
	p.bank_period_s = 9 * 3600;
	struct policy_table t;
	policy_table_of(&p, &t);
	json_t *j = codec_policy_json(&t);
	char *s = json_dumps(j, JSON_COMPACT);
	ck_assert_str_eq(
	    s,
	    "{\"profile\":\"kz-2025-09\",\"source\":\"Law No. 205-VIII of 30.06.2025 and ARDFM "
	    "resolutions of 28-29.08.2025, in force from 30.09.2025: REGULATION.md, "
	    "\\\"Profile kz-2025-09\\\"\",\"currency\":\"KZT\",\"unit\":\"MRP\",\"aggregation\":"
	    "\"lender\",\"rules\":["
	    "{\"rule\":\"bank_short\",\"lender_kind\":\"bank\",\"above_mrp\":150,"
	    "\"above_inclusive\":false,\"up_to_mrp\":255,\"up_to_exclusive\":false,"
	    "\"period_seconds\":32400,\"keys\":{\"above_mrp\":\"policy.bank_threshold_mrp\","
	    "\"above_inclusive\":\"policy.bank_threshold_inclusive\","
	    "\"up_to_mrp\":\"policy.bank_long_threshold_mrp\","
	    "\"up_to_exclusive\":\"policy.bank_long_threshold_inclusive\",\"period_seconds\":"
	    "\"policy.bank_period\"},\"control_call\":false},"
	    "{\"rule\":\"bank_long\",\"lender_kind\":\"bank\",\"above_mrp\":255,"
	    "\"above_inclusive\":false,\"up_to_mrp\":null,\"up_to_exclusive\":null,"
	    "\"period_seconds\":86400,\"keys\":{\"above_mrp\":\"policy.bank_long_threshold_mrp\","
	    "\"above_inclusive\":\"policy.bank_long_threshold_inclusive\","
	    "\"up_to_mrp\":null,\"up_to_exclusive\":null,"
	    "\"period_seconds\":\"policy.bank_long_period\"},\"control_call\":false},"
	    "{\"rule\":\"mfo\",\"lender_kind\":\"mfo\",\"above_mrp\":75,"
	    "\"above_inclusive\":false,\"up_to_mrp\":null,\"up_to_exclusive\":null,"
	    "\"period_seconds\":86400,\"keys\":{\"above_mrp\":\"policy.mfo_threshold_mrp\","
	    "\"above_inclusive\":\"policy.mfo_threshold_inclusive\","
	    "\"up_to_mrp\":null,\"up_to_exclusive\":null,"
	    "\"period_seconds\":\"policy.mfo_period\"},\"control_call\":false}],"
	    "\"exemptions\":[{\"exemption\":\"branch\"},{\"exemption\":\"secured\"},"
	    "{\"exemption\":\"goods\"},{\"exemption\":\"refinancing\"},"
	    "{\"exemption\":\"card_limit\",\"up_to_mrp\":150,\"keys\":{\"up_to_mrp\":"
	    "\"policy.card_limit_exempt_mrp\"}}],"
	    "\"extra_confirmation\":{\"under_age\":21,\"from_age\":55,\"keys\":{\"under_age\":"
	    "\"policy.extra_confirmation_under_age\",\"from_age\":"
	    "\"policy.extra_confirmation_from_age\"}}}");
	free(s);
	json_decref(j);

	p = policy_of("kz-card");
	policy_table_of(&p, &t);
	j = codec_policy_json(&t);
	s = json_dumps(j, JSON_COMPACT);
	ck_assert_str_eq(
	    s, "{\"profile\":\"kz-card\",\"source\":\"the card's rule: REGULATION.md, "
	       "\\\"Profile kz-card\\\"\",\"currency\":\"KZT\",\"unit\":\"MRP\",\"aggregation\":"
	       "null,\"rules\":["
	       "{\"rule\":\"card\",\"lender_kind\":null,\"above_mrp\":150,"
	       "\"above_inclusive\":false,\"up_to_mrp\":null,\"up_to_exclusive\":null,"
	       "\"period_seconds\":86400,\"keys\":{\"above_mrp\":\"policy.threshold_mrp\","
	       "\"above_inclusive\":\"policy.threshold_inclusive\","
	       "\"up_to_mrp\":null,\"up_to_exclusive\":null,"
	       "\"period_seconds\":\"policy.cooling_period\"},\"control_call\":false}],"
	       "\"exemptions\":[{\"exemption\":\"branch\"}],\"extra_confirmation\":null}");
	free(s);
	json_decref(j);
	char *text = codec_policy_text(&t);
	ck_assert_ptr_nonnull(strstr(text, "policy.cooling_period"));
	free(text);
}
END_TEST

/* ---- the acts ---- */

#define SEC USEC_PER_SEC

/* A bank_short loan consented at c, its period of 100 s. */
static struct loan cooled_loan(int64_t c)
{
	struct loan l;
	memset(&l, 0, sizeof(l));
	l.approved_at = c - 10 * SEC;
	l.consent_at = c;
	l.cooling_required = true;
	l.cooling_period_s = 100;
	l.cooling_ends_at = c + 100 * SEC;
	l.reconfirmation_required = true;
	l.extra_confirmation_required = true;
	l.rule = RULE_BANK_SHORT;
	l.in_person_verified_at = l.disbursed_at = l.cancelled_at = TS_NULL;
	l.extra_confirmed_at = l.reconfirmed_at = TS_NULL;
	return l;
}

START_TEST(test_reconfirmation_counts_only_after_the_period)
{
	const struct ts_window w = {.skew_s = 120, .backdate_s = 3600};
	int64_t c = 1750000000 * SEC;
	struct loan l = cooled_loan(c);
	struct act_outcome o;
	struct reconfirmation_req q = {.reconfirmed_at = TS_NULL};
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, c + 99 * SEC, &w, &o), ACT_REFUSE);
	ck_assert_int_eq(o.err.status, 409);
	ck_assert_ptr_nonnull(strstr(o.err.message, "has not ended"));
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, c + 100 * SEC, &w, &o), ACT_WRITE);
	ck_assert_int_eq(o.at, c + 100 * SEC);
	/* a time before the end, sent after it: 409 saying so */
	q.reconfirmed_at = c + 99 * SEC;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, c + 200 * SEC, &w, &o), ACT_REFUSE);
	ck_assert_int_eq(o.err.status, 409);
	ck_assert_ptr_nonnull(strstr(o.err.message, "before the end"));
	/* beyond max_clock_skew: 422 */
	q.reconfirmed_at = c + 400 * SEC;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, c + 200 * SEC, &w, &o), ACT_REFUSE);
	ck_assert_int_eq(o.err.status, 422);
	ck_assert_str_eq(o.err.field, "reconfirmed_at");
	/* a repeat, and another time */
	l.reconfirmed_at = c + 150 * SEC;
	q.reconfirmed_at = TS_NULL;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, c + 200 * SEC, &w, &o), ACT_REPEAT);
	q.reconfirmed_at = c + 160 * SEC;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, c + 200 * SEC, &w, &o), ACT_REFUSE);
	/* a loan that needs none; a cancelled one */
	l = cooled_loan(c);
	l.reconfirmation_required = false;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, c + 200 * SEC, &w, &o), ACT_REFUSE);
	ck_assert_int_eq(o.err.status, 409);
	l = cooled_loan(c);
	l.cancelled_at = c + SEC;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, c + 200 * SEC, &w, &o), ACT_REFUSE);
}
END_TEST

START_TEST(test_extra_confirmation_rules)
{
	const struct ts_window w = {.skew_s = 120, .backdate_s = 3600};
	int64_t c = 1750000000 * SEC;
	struct loan l = cooled_loan(c);
	struct act_outcome o;
	struct extra_confirmation_req q = {.method = EXTRA_EGOV, .confirmed_at = TS_NULL};
	/* at any time, before consent too */
	l.consent_at = l.cooling_ends_at = TS_NULL;
	ck_assert_int_eq(loan_extra_confirm_decide(&l, &q, c, &w, &o), ACT_WRITE);
	/* before approved_at beyond max_clock_skew: 422 */
	q.confirmed_at = l.approved_at - 121 * SEC;
	ck_assert_int_eq(loan_extra_confirm_decide(&l, &q, c, &w, &o), ACT_REFUSE);
	ck_assert_int_eq(o.err.status, 422);
	ck_assert_str_eq(o.err.field, "confirmed_at");
	/* repeats */
	l.extra_confirmed_at = c;
	snprintf(l.extra_confirmation_method, sizeof(l.extra_confirmation_method), "egov");
	q.confirmed_at = TS_NULL;
	ck_assert_int_eq(loan_extra_confirm_decide(&l, &q, c, &w, &o), ACT_REPEAT);
	q.method = EXTRA_BRANCH;
	ck_assert_int_eq(loan_extra_confirm_decide(&l, &q, c, &w, &o), ACT_REFUSE);
	ck_assert_int_eq(o.err.status, 409);
	l = cooled_loan(c);
	l.extra_confirmation_required = false;
	ck_assert_int_eq(loan_extra_confirm_decide(&l, &q, c, &w, &o), ACT_REFUSE);
	ck_assert_int_eq(o.err.status, 409);
}
END_TEST

static Suite *law_suite(void)
{
	Suite *s = suite_create("policy_law");
	TCase *tc = tcase_create("decide");
	tcase_add_test(tc, test_bank_bands_at_each_boundary_in_2025_and_2026);
	tcase_add_test(tc, test_period_threshold_and_reconfirmation_follow_the_band);
	tcase_add_test(tc, test_three_loans_of_a_day_cross_each_threshold_only_together);
	tcase_add_test(tc, test_each_exemption_in_order_and_not_cooled);
	tcase_add_test(tc, test_card_limit_is_exempt_up_to_its_threshold_only);
	tcase_add_test(tc, test_in_person_above_the_kinds_threshold_whether_or_not_exempt);
	tcase_add_test(tc, test_age_rule_for_cooled_loans_under_21_and_from_55);
	tcase_add_test(
	    tc, test_aggregation_setting_is_for_the_caller_to_sum_and_kz_card_ignores_the_day);
	suite_add_tcase(s, tc);
	tc = tcase_create("age");
	tcase_add_test(tc, test_age_is_gained_on_the_birthday);
	tcase_add_test(tc, test_a_29_february_birthday_is_gained_on_28_february_in_other_years);
	tcase_add_test(tc, test_an_iin_whose_date_is_not_real_has_no_age);
	suite_add_tcase(s, tc);
	tc = tcase_create("acts");
	tcase_add_test(tc, test_reconfirmation_counts_only_after_the_period);
	tcase_add_test(tc, test_extra_confirmation_rules);
	suite_add_tcase(s, tc);
	tc = tcase_create("table");
	tcase_add_test(tc, test_policy_show_json_names_every_number_with_its_key);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(law_suite)

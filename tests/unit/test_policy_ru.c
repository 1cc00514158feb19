/*
 * Profile ru-2025-09 (REGULATION.md, "More countries", Russia): rows of the
 * profile table in roubles. Each band at its bound and one kopeck either
 * side, online and in a branch; a card's limit increase cooled like a
 * loan; each exemption; no visit, no age rule, no reconfirmation; each
 * number a key, with its default and the guard of the legal minimum; the
 * currency and unit of the table.
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

/* N roubles in kopecks */
#define RUB(n) ((int64_t)(n)*100)

static void assert_band(const struct policy *p, int64_t kopecks, enum channel ch, enum rule rule,
                        int64_t period_s)
{
	struct policy_decision d = decide(p, loan(kopecks, ch));
	ck_assert_msg(d.rule == rule, "%lld kopecks: rule %d, not %d", (long long)kopecks, d.rule,
	              rule);
	ck_assert_int_eq(d.cooling_required, rule != RULE_NONE);
	ck_assert_int_eq(d.cooling_period_s, period_s);
	ck_assert_int_eq(d.exemption, EXEMPT_NONE);
}

START_TEST(test_ru_bands_at_and_around_50000_and_200000_roubles_online_and_in_a_branch)
{
	struct policy p = policy_of("ru-2025-09");
	enum channel channels[] = {CHANNEL_ONLINE, CHANNEL_BRANCH};
	for (size_t i = 0; i < 2; i++) {
		enum channel ch = channels[i];
		assert_band(&p, RUB(50000) - 1, ch, RULE_NONE, 0);
		assert_band(&p, RUB(50000), ch, RULE_NONE, 0);
		assert_band(&p, RUB(50000) + 1, ch, RULE_RU_SHORT, 4 * 3600);
		assert_band(&p, RUB(200000) - 1, ch, RULE_RU_SHORT, 4 * 3600);
		assert_band(&p, RUB(200000), ch, RULE_RU_SHORT, 4 * 3600);
		assert_band(&p, RUB(200000) + 1, ch, RULE_RU_LONG, 48 * 3600);
	}
}
END_TEST

START_TEST(test_ru_bounds_do_not_depend_on_the_mrp_or_the_lender_kind)
{
	struct policy p = policy_of("ru-2025-09");
	struct policy_input in = loan(RUB(50000) + 1, CHANNEL_ONLINE);
	in.mrp_tenge = 0;
	in.lender_kind = LENDER_BANK;
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.rule, RULE_RU_SHORT);
	ck_assert_int_eq(d.threshold_tiyn, RUB(50000));
}
END_TEST

START_TEST(test_ru_a_card_limit_increase_is_cooled_like_a_loan)
{
	struct policy p = policy_of("ru-2025-09");
	struct policy_input in = loan(RUB(50000) + 1, CHANNEL_ONLINE);
	in.product = PRODUCT_CARD_LIMIT;
	struct policy_decision d = decide(&p, in);
	ck_assert_int_eq(d.exemption, EXEMPT_NONE);
	ck_assert_int_eq(d.rule, RULE_RU_SHORT);
}
END_TEST

START_TEST(test_ru_each_exemption_is_not_cooled)
{
	struct policy p = policy_of("ru-2025-09");
	struct {
		enum product product;
		bool secured;
		enum exemption exemption;
	} cases[] = {
	    {PRODUCT_CONSUMER, true, EXEMPT_SECURED},
	    {PRODUCT_EDUCATION, false, EXEMPT_EDUCATION},
	    {PRODUCT_GOODS, false, EXEMPT_GOODS},
	    {PRODUCT_REFINANCING, false, EXEMPT_REFINANCING},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct policy_input in = loan(RUB(300000), CHANNEL_BRANCH);
		in.product = cases[i].product;
		in.secured = cases[i].secured;
		struct policy_decision d = decide(&p, in);
		ck_assert_int_eq(d.exemption, cases[i].exemption);
		ck_assert(!d.cooling_required);
		ck_assert_int_eq(d.rule, RULE_NONE);
	}
}
END_TEST

/* education is a product of every profile, exempt only where the law says */
START_TEST(test_education_is_not_exempt_under_kz_2025_09)
{
	struct policy p = policy_of("kz-2025-09");
	struct policy_input in = loan(300 * MRP_2026 * 100, CHANNEL_ONLINE);
	in.product = PRODUCT_EDUCATION;
	in.lender_kind = LENDER_BANK;
	ck_assert_int_eq(decide(&p, in).exemption, EXEMPT_NONE);
}
END_TEST

START_TEST(test_ru_has_no_visit_no_age_rule_and_no_reconfirmation)
{
	struct policy p = policy_of("ru-2025-09");
	struct policy_decision d = decide(&p, loan(RUB(300000), CHANNEL_ONLINE));
	ck_assert(d.cooling_required);
	ck_assert(!d.in_person_required);
	ck_assert(!d.extra_confirmation_required);
	ck_assert(!d.reconfirmation_required);
	struct policy_input old = loan(RUB(300000), CHANNEL_ONLINE);
	old.age = 70;
	ck_assert(!decide(&p, old).extra_confirmation_required);
}
END_TEST

START_TEST(test_ru_loan_records_roubles_and_no_mrp)
{
	struct policy p = policy_of("ru-2025-09");
	struct loan l;
	memset(&l, 0, sizeof(l));
	l.amount_tiyn = RUB(200000) + 1;
	l.channel = CHANNEL_BRANCH;
	l.approved_at = 1;
	l.in_person_verified_at = TS_NULL;
	policy_assess(&p, 0, &l);
	ck_assert_str_eq(l.currency, "RUB");
	ck_assert_str_eq(l.policy, "ru-2025-09");
	ck_assert_int_eq(l.mrp_tenge, 0);
	ck_assert_int_eq(l.rule, RULE_RU_LONG);
	ck_assert_int_eq(l.cooling_period_s, 48 * 3600);
	ck_assert_str_eq(policy_currency(&p), "RUB");
	ck_assert(!policy_amounts_in_mrp(&p));
}
END_TEST

START_TEST(test_ru_table_names_its_currency_unit_and_keys)
{
	struct policy p = policy_of("ru-2025-09");
	struct policy_table t;
	policy_table_of(&p, &t);
	ck_assert_str_eq(t.currency, "RUB");
	ck_assert_str_eq(t.unit, "RUB");
	ck_assert_int_eq(t.nbands, 2);
	ck_assert_int_eq(t.bands[0].above_mrp, 50000);
	ck_assert_int_eq(t.bands[0].up_to_mrp, 200000);
	ck_assert_str_eq(t.bands[0].above_key, "policy.ru_short_above");
	ck_assert_str_eq(t.bands[0].period_key, "policy.ru_short_period");
	ck_assert_ptr_null(t.bands[0].above_inclusive_key);
	ck_assert_int_eq(t.bands[1].above_mrp, 200000);
	ck_assert_str_eq(t.bands[1].above_key, "policy.ru_long_above");
	ck_assert_str_eq(t.bands[1].period_key, "policy.ru_long_period");
	ck_assert(!t.in_person_rule && !t.reconfirmation && !t.age_rule && !t.aggregates);
	ck_assert_uint_eq(t.exemptions, (1u << EXEMPT_SECURED) | (1u << EXEMPT_GOODS) |
	                                    (1u << EXEMPT_REFINANCING) | (1u << EXEMPT_EDUCATION) |
	                                    (1u << EXEMPT_TRUSTED_PERSON));

	char *text = codec_policy_text(&t);
	ck_assert_ptr_nonnull(strstr(text, "currency: RUB\n"));
	ck_assert_ptr_nonnull(strstr(text, "above 50000 RUB (policy.ru_short_above), up to 200000 "
	                                   "RUB (policy.ru_long_above): wait 14400s"));
	ck_assert_ptr_nonnull(
	    strstr(text, "above 200000 RUB (policy.ru_long_above): wait 172800s"));
	free(text);
	json_t *j = codec_policy_json(&t);
	ck_assert_str_eq(json_string_value(json_object_get(j, "currency")), "RUB");
	ck_assert_str_eq(json_string_value(json_object_get(j, "unit")), "RUB");
	json_decref(j);

	struct policy kz = policy_of("kz-2025-09");
	policy_table_of(&kz, &t);
	ck_assert_str_eq(t.currency, "KZT");
	ck_assert_str_eq(t.unit, "MRP");
}
END_TEST

/* ---- the configuration ---- */

/* config_setup, config_teardown, write_conf and load: unit/config_file.h */

START_TEST(test_ru_keys_default_to_the_law)
{
	struct config c;
	char msg[512];
	ck_assert_msg(load("[policy]\nprofile = ru-2025-09\n", &c, msg, sizeof msg), "%s", msg);
	struct policy p;
	config_policy(&c, &p);
	ck_assert_int_eq(p.ru_short_above, 50000);
	ck_assert_int_eq(p.ru_long_above, 200000);
	ck_assert_int_eq(p.ru_short_period_s, 4 * 3600);
	ck_assert_int_eq(p.ru_long_period_s, 48 * 3600);
}
END_TEST

START_TEST(test_ru_each_key_tunes_its_number_stricter)
{
	struct config c;
	char msg[512];
	ck_assert_msg(load("[policy]\nprofile = ru-2025-09\nru_short_above = 40000\n"
	                   "ru_long_above = 150000\nru_short_period = 5h\nru_long_period = 72h\n",
	                   &c, msg, sizeof msg),
	              "%s", msg);
	struct policy p;
	config_policy(&c, &p);
	ck_assert_int_eq(p.ru_short_above, 40000);
	ck_assert_int_eq(p.ru_long_above, 150000);
	ck_assert_int_eq(p.ru_short_period_s, 5 * 3600);
	ck_assert_int_eq(p.ru_long_period_s, 72 * 3600);
	assert_band(&p, RUB(40000) + 1, CHANNEL_ONLINE, RULE_RU_SHORT, 5 * 3600);
	assert_band(&p, RUB(150000) + 1, CHANNEL_ONLINE, RULE_RU_LONG, 72 * 3600);
}
END_TEST

START_TEST(test_ru_a_key_below_the_law_stops_the_load_naming_it)
{
	static const struct {
		const char *line, *key;
	} weaker[] = {
	    {"ru_short_above = 50001", "policy.ru_short_above"},
	    {"ru_long_above = 200001", "policy.ru_long_above"},
	    {"ru_short_period = 3h", "policy.ru_short_period"},
	    {"ru_long_period = 47h", "policy.ru_long_period"},
	};
	struct config c;
	char msg[512], conf[256];
	for (size_t i = 0; i < sizeof weaker / sizeof weaker[0]; i++) {
		snprintf(conf, sizeof conf, "[policy]\nprofile = ru-2025-09\n%s\n", weaker[i].line);
		ck_assert_msg(!load(conf, &c, msg, sizeof msg), "%s accepted", weaker[i].line);
		ck_assert_msg(strncmp(msg, weaker[i].key, strlen(weaker[i].key)) == 0, "%s: %s",
		              weaker[i].line, msg);
		ck_assert_ptr_nonnull(strstr(msg, "ru-2025-09"));
		/* lifted for tests only */
		snprintf(conf, sizeof conf,
		         "[policy]\nprofile = ru-2025-09\n%s\nallow_below_legal_minimum = on\n"
		         "max_backdate = 0s\n",
		         weaker[i].line);
		ck_assert_msg(load(conf, &c, msg, sizeof msg), "%s", msg);
	}
}
END_TEST

/* The profiles of a schedule add up the day alike (config.c,
 * schedule_aggregates_alike): kz-2025-09 and ru-2025-09 both take
 * policy.aggregation's one value, so they may follow each other. */
START_TEST(test_ru_a_schedule_from_kz_2025_09_to_ru_2025_09_loads)
{
	struct config c;
	char msg[512];
	ck_assert_msg(load("[policy]\nprofile = kz-2025-09, ru-2025-09@2026-01-01\n"
	                   "aggregation = all\n",
	                   &c, msg, sizeof msg),
	              "%s", msg);
	struct policy_schedule s;
	config_schedule(&c, &s);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.entries[1].policy.name, "ru-2025-09");
	ck_assert_int_eq(s.entries[1].policy.aggregation, s.entries[0].policy.aggregation);
}
END_TEST

static Suite *ru_suite(void)
{
	Suite *s = suite_create("policy_ru");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc,
	               test_ru_bands_at_and_around_50000_and_200000_roubles_online_and_in_a_branch);
	tcase_add_test(tc, test_ru_bounds_do_not_depend_on_the_mrp_or_the_lender_kind);
	tcase_add_test(tc, test_ru_a_card_limit_increase_is_cooled_like_a_loan);
	tcase_add_test(tc, test_ru_each_exemption_is_not_cooled);
	tcase_add_test(tc, test_education_is_not_exempt_under_kz_2025_09);
	tcase_add_test(tc, test_ru_has_no_visit_no_age_rule_and_no_reconfirmation);
	tcase_add_test(tc, test_ru_loan_records_roubles_and_no_mrp);
	tcase_add_test(tc, test_ru_table_names_its_currency_unit_and_keys);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, config_setup, config_teardown);
	tcase_add_test(tc, test_ru_keys_default_to_the_law);
	tcase_add_test(tc, test_ru_each_key_tunes_its_number_stricter);
	tcase_add_test(tc, test_ru_a_key_below_the_law_stops_the_load_naming_it);
	tcase_add_test(tc, test_ru_a_schedule_from_kz_2025_09_to_ru_2025_09_loads);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(ru_suite)

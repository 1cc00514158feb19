/*
 * Unit tests of the amount grammar (CONTRACT.md, "Values"): what is accepted,
 * what is refused and why, the bounds, and formatting with two decimals.
 */
#include "check_main.h"
#include "money.h"

static int64_t parsed(const char *s)
{
	int64_t v = -1;
	const char *why = NULL;

	ck_assert_msg(money_parse(s, &v, &why), "\"%s\" refused: %s", s, why);
	return v;
}

static const char *why_of(const char *s)
{
	int64_t v = 12345;
	const char *why = NULL;

	ck_assert_msg(!money_parse(s, &v, &why), "\"%s\" accepted", s);
	ck_assert_ptr_nonnull(why);
	/* A refusal leaves the output alone. */
	ck_assert_int_eq(v, 12345);
	return why;
}

START_TEST(test_amount_in_whole_tenge_is_tiyn_times_100)
{
	ck_assert_int_eq(parsed("600000"), 60000000);
	ck_assert_int_eq(parsed("1"), 100);
	ck_assert_int_eq(parsed("10"), 1000);
}
END_TEST

START_TEST(test_amount_with_one_or_two_decimals_is_exact)
{
	ck_assert_int_eq(parsed("589800.00"), 58980000);
	ck_assert_int_eq(parsed("589800.01"), 58980001);
	ck_assert_int_eq(parsed("0.5"), 50);
	ck_assert_int_eq(parsed("0.50"), 50);
	ck_assert_int_eq(parsed("0.05"), 5);
	ck_assert_int_eq(parsed("12.3"), 1230);
}
END_TEST

START_TEST(test_smallest_amount_is_one_tiyn)
{
	ck_assert_int_eq(parsed("0.01"), 1);
}
END_TEST

START_TEST(test_amount_of_zero_is_refused)
{
	ck_assert_str_eq(why_of("0"), "must be greater than 0");
	ck_assert_str_eq(why_of("0.0"), "must be greater than 0");
	ck_assert_str_eq(why_of("0.00"), "must be greater than 0");
}
END_TEST

START_TEST(test_largest_amount_is_999999999999_99)
{
	ck_assert_int_eq(parsed("999999999999.99"), MONEY_MAX_TIYN);
	ck_assert_int_eq(parsed("999999999999"), MONEY_MAX_TIYN - 99);
}
END_TEST

START_TEST(test_amount_above_the_maximum_is_refused)
{
	ck_assert_str_eq(why_of("1000000000000.00"), "too large");
	ck_assert_str_eq(why_of("1000000000000"), "too large");
}
END_TEST

START_TEST(test_amount_with_very_long_digit_string_is_refused_without_overflow)
{
	/* 2^63 tiyn and far beyond: must be refused, never wrap to a small
	 * or negative number that could pass. */
	ck_assert_str_eq(why_of("92233720368547758.08"), "too large");
	ck_assert_str_eq(why_of("18446744073709551616"), "too large");
	ck_assert_str_eq(why_of("18446744073709551617"), "too large");
	ck_assert_str_eq(
	    why_of("1000000000000000000000000000000000000000000000000000000000000000.01"),
	    "too large");
}
END_TEST

START_TEST(test_amount_with_three_decimals_is_refused)
{
	ck_assert_str_eq(why_of("1.234"), "at most 2 decimals");
	ck_assert_str_eq(why_of("1.000"), "at most 2 decimals");
	ck_assert_str_eq(why_of("0.001"), "at most 2 decimals");
}
END_TEST

START_TEST(test_amount_with_leading_zeros_is_refused)
{
	ck_assert_str_eq(why_of("01"), "leading zeros");
	ck_assert_str_eq(why_of("00.5"), "leading zeros");
	ck_assert_str_eq(why_of("00"), "leading zeros");
	ck_assert_str_eq(why_of("0600000.00"), "leading zeros");
}
END_TEST

START_TEST(test_amount_with_sign_or_exponent_is_refused)
{
	ck_assert_str_eq(why_of("-1"), "not a decimal amount");
	ck_assert_str_eq(why_of("+1"), "not a decimal amount");
	ck_assert_str_eq(why_of("1e5"), "not a decimal amount");
	ck_assert_str_eq(why_of("1E5"), "not a decimal amount");
	ck_assert_str_eq(why_of("0x10"), "not a decimal amount");
	ck_assert_str_eq(why_of("inf"), "not a decimal amount");
	ck_assert_str_eq(why_of("NaN"), "not a decimal amount");
}
END_TEST

START_TEST(test_amount_with_spaces_or_separators_is_refused)
{
	ck_assert_str_eq(why_of(" 1"), "not a decimal amount");
	ck_assert_str_eq(why_of("1 "), "not a decimal amount");
	ck_assert_str_eq(why_of("600 000"), "not a decimal amount");
	ck_assert_str_eq(why_of("600,000"), "not a decimal amount");
	ck_assert_str_eq(why_of("1,5"), "not a decimal amount");
	ck_assert_str_eq(why_of("1.2.3"), "not a decimal amount");
	ck_assert_str_eq(why_of("1.2x"), "not a decimal amount");
}
END_TEST

START_TEST(test_amount_missing_digits_around_the_point_is_refused)
{
	ck_assert_str_eq(why_of("1."), "not a decimal amount");
	ck_assert_str_eq(why_of(".5"), "not a decimal amount");
	ck_assert_str_eq(why_of("."), "not a decimal amount");
	ck_assert_str_eq(why_of(""), "not a decimal amount");
	ck_assert(!money_parse(NULL, NULL, NULL));
}
END_TEST

START_TEST(test_amount_refusal_reason_is_optional)
{
	int64_t v;

	ck_assert(!money_parse("01", &v, NULL));
	ck_assert(money_parse("1", &v, NULL));
	ck_assert_int_eq(v, 100);
}
END_TEST

START_TEST(test_amount_is_formatted_with_two_decimals)
{
	char out[MONEY_BUF];

	money_format(60000000, out);
	ck_assert_str_eq(out, "600000.00");
	money_format(1, out);
	ck_assert_str_eq(out, "0.01");
	money_format(50, out);
	ck_assert_str_eq(out, "0.50");
	money_format(0, out);
	ck_assert_str_eq(out, "0.00");
	money_format(58980001, out);
	ck_assert_str_eq(out, "589800.01");
	money_format(MONEY_MAX_TIYN, out);
	ck_assert_str_eq(out, "999999999999.99");
}
END_TEST

START_TEST(test_amount_format_of_parse_is_canonical)
{
	static const char *const in[] = {"600000", "589800.1", "0.5", "7.05", "999999999999.99"};
	static const char *const want[] = {"600000.00", "589800.10", "0.50", "7.05",
	                                   "999999999999.99"};
	char out[MONEY_BUF];

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		money_format(parsed(in[i]), out);
		ck_assert_str_eq(out, want[i]);
		/* and the canonical form parses back to the same value */
		ck_assert_int_eq(parsed(out), parsed(in[i]));
	}
}
END_TEST

START_TEST(test_amount_format_of_extreme_values_fits_the_buffer)
{
	char out[MONEY_BUF];

	money_format(INT64_MAX, out);
	ck_assert_str_eq(out, "92233720368547758.07");
	/* Never produced by money_parse, but must not overflow either. */
	money_format(INT64_MIN, out);
	ck_assert_str_eq(out, "-92233720368547758.08");
}
END_TEST

static Suite *money_suite(void)
{
	Suite *s = suite_create("money");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_amount_in_whole_tenge_is_tiyn_times_100);
	tcase_add_test(tc, test_amount_with_one_or_two_decimals_is_exact);
	tcase_add_test(tc, test_smallest_amount_is_one_tiyn);
	tcase_add_test(tc, test_amount_of_zero_is_refused);
	tcase_add_test(tc, test_largest_amount_is_999999999999_99);
	tcase_add_test(tc, test_amount_above_the_maximum_is_refused);
	tcase_add_test(tc, test_amount_with_very_long_digit_string_is_refused_without_overflow);
	tcase_add_test(tc, test_amount_with_three_decimals_is_refused);
	tcase_add_test(tc, test_amount_with_leading_zeros_is_refused);
	tcase_add_test(tc, test_amount_with_sign_or_exponent_is_refused);
	tcase_add_test(tc, test_amount_with_spaces_or_separators_is_refused);
	tcase_add_test(tc, test_amount_missing_digits_around_the_point_is_refused);
	tcase_add_test(tc, test_amount_refusal_reason_is_optional);
	tcase_add_test(tc, test_amount_is_formatted_with_two_decimals);
	tcase_add_test(tc, test_amount_format_of_parse_is_canonical);
	tcase_add_test(tc, test_amount_format_of_extreme_values_fits_the_buffer);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(money_suite)

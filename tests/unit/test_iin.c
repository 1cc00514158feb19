/*
 * Unit tests of the IIN rules (REGULATION.md): format, century digit, birth
 * date, the two-pass check digit, and masking for logs. Every IIN here is
 * made up and computed from the rule (see the comments), none is a person's.
 */
#include "check_main.h"
#include "iin.h"
#include "timeutil.h"

#include <string.h>

static const char *why_of(const char *iin)
{
	const char *why = NULL;

	ck_assert_msg(!iin_valid(iin, &why), "%s should be refused", iin);
	ck_assert_ptr_nonnull(why);
	return why;
}

/* 9*1+0*2+0*3+1*4+0*5+1*6+3*7+0*8+0*9+1*10+2*11 = 72, 72 mod 11 = 6. */
START_TEST(test_iin_with_first_pass_check_digit_is_valid)
{
	const char *why = NULL;

	ck_assert(iin_valid("900101300126", &why));
	ck_assert_ptr_null(why);
	ck_assert_int_eq(iin_check_digit("90010130012"), 6);
	/* why may be NULL */
	ck_assert(iin_valid("900101300126", NULL));
}
END_TEST

/* Each prefix gives 10 with weights 1..11; the digit comes from 3..11,1,2. */
START_TEST(test_iin_needing_second_weight_pass_is_valid)
{
	static const char *const ok[] = {"000101500206", "000101500218", "900101300811",
	                                 "900101300823", "850723400411", "850723400423",
	                                 "991231400002", "991231400014"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *why = NULL;

		ck_assert_msg(iin_valid(ok[i], &why), "%s: %s", ok[i], why);
		ck_assert_int_eq(iin_check_digit(ok[i]), ok[i][11] - '0');
	}
	/* 0*1+0*2+0*3+1*4+0*5+1*6+5*7+0*8+0*9+2*10+0*11 = 65 = 5*11+10;
	 * 0*3+0*4+0*5+1*6+0*7+1*8+5*9+0*10+0*11+2*1+0*2 = 61, mod 11 = 6. */
	ck_assert_int_eq(iin_check_digit("00010150020"), 6);
}
END_TEST

START_TEST(test_iin_prefix_where_both_passes_give_ten_has_no_check_digit)
{
	static const char *const prefixes[] = {"00010150022", "90010130080", "85072340040",
	                                       "99123140004", "04063060021", "50010120085"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		char iin[IIN_LEN + 1];

		ck_assert_int_eq(iin_check_digit(prefixes[i]), -1);
		/* No twelfth digit can make such a number valid, not even 0. */
		for (char c = '0'; c <= '9'; c++) {
			memcpy(iin, prefixes[i], 11);
			iin[11] = c;
			iin[12] = '\0';
			ck_assert_str_eq(why_of(iin), "bad check digit");
		}
	}
}
END_TEST

START_TEST(test_iin_with_wrong_check_digit_is_refused)
{
	ck_assert_str_eq(why_of("900101300125"), "bad check digit");
	ck_assert_str_eq(why_of("900101300127"), "bad check digit");
	/* The first pass gives 10 here; 0 (10 mod 10) must not pass. */
	ck_assert_str_eq(why_of("000101500200"), "bad check digit");
	/* Swapping two digits of a valid IIN is caught. */
	ck_assert_str_eq(why_of("090101300126"), "bad check digit");
}
END_TEST

START_TEST(test_iin_with_non_digits_is_refused)
{
	ck_assert_str_eq(why_of("90010130012a"), "must be 12 digits");
	ck_assert_str_eq(why_of("9001013001 6"), "must be 12 digits");
	ck_assert_str_eq(why_of(" 900101300126"), "must be 12 digits");
	ck_assert_str_eq(why_of("900101-30012"), "must be 12 digits");
	ck_assert_str_eq(why_of("+90010130012"), "must be 12 digits");
	/* Arabic-Indic digit one (U+0661) is not an ASCII digit. */
	ck_assert_str_eq(why_of("9001013001\xd9\xa1"), "must be 12 digits");
	ck_assert_int_eq(iin_check_digit("9001013001x"), -1);
}
END_TEST

START_TEST(test_iin_with_wrong_length_is_refused)
{
	ck_assert_str_eq(why_of(""), "must be 12 digits");
	ck_assert_str_eq(why_of("90010130012"), "must be 12 digits");
	ck_assert_str_eq(why_of("9001013001260"), "must be 12 digits");
	ck_assert_str_eq(why_of("900101300126\n"), "must be 12 digits");
	ck_assert(!iin_valid(NULL, NULL));
	ck_assert_int_eq(iin_check_digit("9001013001"), -1);
	ck_assert_int_eq(iin_check_digit(NULL), -1);
}
END_TEST

/* Check digits below are right, so only the named part is wrong. */
START_TEST(test_iin_with_bad_century_digit_is_refused)
{
	ck_assert_str_eq(why_of("900101000127"), "bad century digit"); /* 0 */
	ck_assert_str_eq(why_of("900101800128"), "bad century digit"); /* 8 */
	ck_assert_str_eq(why_of("900101900124"), "bad century digit"); /* 9 */
	/* 7: both passes give 10 for this prefix, so any check digit */
	ck_assert_str_eq(why_of("900101700121"), "bad century digit");
}
END_TEST

START_TEST(test_iin_with_impossible_birth_date_is_refused)
{
	ck_assert_str_eq(why_of("900230300128"), "bad birth date"); /* Feb 30 */
	ck_assert_str_eq(why_of("901301300126"), "bad birth date"); /* month 13 */
	ck_assert_str_eq(why_of("900001300122"), "bad birth date"); /* month 00 */
	ck_assert_str_eq(why_of("900100300120"), "bad birth date"); /* day 00 */
	ck_assert_str_eq(why_of("900132300125"), "bad birth date"); /* Jan 32 */
	ck_assert_str_eq(why_of("900431300120"), "bad birth date"); /* Apr 31 */
}
END_TEST

/* 29 February exists in 2000 and 1996 but not in 1900 or 1800: the century
 * digit decides the year, and with it the leap-year rule. */
START_TEST(test_iin_birth_date_follows_century_leap_years)
{
	ck_assert(iin_valid("000229500127", NULL));                 /* 2000-02-29 */
	ck_assert(iin_valid("960229400123", NULL));                 /* 1996-02-29 */
	ck_assert(iin_valid("960229200127", NULL));                 /* 1896-02-29 */
	ck_assert_str_eq(why_of("000229300124"), "bad birth date"); /* 1900 */
	ck_assert_str_eq(why_of("000229100121"), "bad birth date"); /* 1800 */
}
END_TEST

START_TEST(test_iin_every_century_digit_from_one_to_six_is_accepted)
{
	/* 1990-01-01 (or 1890, 2090) with serial 0012 and each century digit;
	 * the check digits are computed from the rule. */
	static const char *const ok[] = {"900101100123", "900101200129", "900101300126",
	                                 "900101400122", "900101500129", "900101600125"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(iin_valid(ok[i], NULL), "%s", ok[i]);
}
END_TEST

/* 300101500123: 1 January 2030 (century digit 5). */
START_TEST(test_iin_born_after_today_is_refused)
{
	const char *why = NULL;
	int64_t born;

	ck_assert(iin_valid("300101500123", NULL));
	ck_assert(iin_birth_days("300101500123", &born));
	ck_assert_int_eq(born, days_from_civil(2030, 1, 1));
	/* the day before the birth date: refused; the birth date itself: fine */
	ck_assert(!iin_born_by("300101500123", born - 1, &why));
	ck_assert_str_eq(why, "birth date is in the future");
	ck_assert(iin_born_by("300101500123", born, NULL));
	ck_assert(iin_born_by("300101500123", born + 1, NULL));
	/* 1990-01-01 (900101300126) is born by 2026 */
	ck_assert(iin_born_by("900101300126", days_from_civil(2026, 12, 1), NULL));
	ck_assert(iin_birth_days("900101300126", &born));
	ck_assert_int_eq(born, days_from_civil(1990, 1, 1));
	/* 1985 (digit 4), and before 1970: negative days (650723300124: 1965) */
	ck_assert(iin_birth_days("850723400411", &born));
	ck_assert_int_eq(born, days_from_civil(1985, 7, 23));
	ck_assert(iin_birth_days("650723300124", &born));
	ck_assert_int_eq(born, days_from_civil(1965, 7, 23));
	ck_assert_int_lt(born, 0);
	/* not an IIN */
	ck_assert(!iin_birth_days("900101300127", &born));
	ck_assert(!iin_born_by("900101300127", days_from_civil(2026, 12, 1), &why));
}
END_TEST

START_TEST(test_iin_mask_keeps_four_leading_and_two_trailing_digits)
{
	char out[IIN_MASKED_BUF];

	iin_mask("900101300126", out);
	ck_assert_str_eq(out, "9001******26");
}
END_TEST

START_TEST(test_iin_mask_never_echoes_anything_not_twelve_digits)
{
	char out[IIN_MASKED_BUF];

	iin_mask("90010130012", out);
	ck_assert_str_eq(out, "************");
	iin_mask("9001013001260", out);
	ck_assert_str_eq(out, "************");
	iin_mask("", out);
	ck_assert_str_eq(out, "************");
	iin_mask(NULL, out);
	ck_assert_str_eq(out, "************");
	/* Twelve characters that are not digits may be a secret typed into
	 * the wrong field: masked completely too. */
	iin_mask("Bearer abcde", out);
	ck_assert_str_eq(out, "************");
}
END_TEST

static Suite *iin_suite(void)
{
	Suite *s = suite_create("iin");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_iin_with_first_pass_check_digit_is_valid);
	tcase_add_test(tc, test_iin_needing_second_weight_pass_is_valid);
	tcase_add_test(tc, test_iin_prefix_where_both_passes_give_ten_has_no_check_digit);
	tcase_add_test(tc, test_iin_with_wrong_check_digit_is_refused);
	tcase_add_test(tc, test_iin_with_non_digits_is_refused);
	tcase_add_test(tc, test_iin_with_wrong_length_is_refused);
	tcase_add_test(tc, test_iin_with_bad_century_digit_is_refused);
	tcase_add_test(tc, test_iin_with_impossible_birth_date_is_refused);
	tcase_add_test(tc, test_iin_birth_date_follows_century_leap_years);
	tcase_add_test(tc, test_iin_every_century_digit_from_one_to_six_is_accepted);
	tcase_add_test(tc, test_iin_born_after_today_is_refused);
	tcase_add_test(tc, test_iin_mask_keeps_four_leading_and_two_trailing_digits);
	tcase_add_test(tc, test_iin_mask_never_echoes_anything_not_twelve_digits);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(iin_suite)

/*
 * Unit tests of timestamps (RFC 3339 with a mandatory offset, UTC "Z" out),
 * the civil-date arithmetic under them, and config durations. Expected epoch
 * values were computed independently (Python's datetime).
 */
#include "check_main.h"
#include "timeutil.h"

#include <string.h>

static int64_t ts(const char *s)
{
	int64_t v = -1;
	const char *why = NULL;

	ck_assert_msg(ts_parse_rfc3339(s, &v, &why), "\"%s\" refused: %s", s, why);
	return v;
}

static const char *ts_why(const char *s)
{
	int64_t v = 777;
	const char *why = NULL;

	ck_assert_msg(!ts_parse_rfc3339(s, &v, &why), "\"%s\" accepted", s);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(v, 777);
	return why;
}

static int64_t dur(const char *s)
{
	int64_t v = -1;
	const char *why = NULL;

	ck_assert_msg(duration_parse(s, &v, &why), "\"%s\" refused: %s", s, why);
	return v;
}

static void dur_refused(const char *s)
{
	int64_t v = 777;
	const char *why = NULL;

	ck_assert_msg(!duration_parse(s, &v, &why), "\"%s\" accepted", s);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(v, 777);
}

#define SEC(x) ((int64_t)(x)*USEC_PER_SEC)

START_TEST(test_timestamp_in_utc_is_microseconds_since_epoch)
{
	ck_assert_int_eq(ts("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(ts("2025-06-15T05:00:00Z"), SEC(1749963600));
	ck_assert_int_eq(ts("1969-12-31T23:59:59Z"), SEC(-1));
	ck_assert_int_eq(ts("0001-01-01T00:00:00Z"), SEC(-62135596800));
	ck_assert_int_eq(ts("9999-12-31T23:59:59Z"), SEC(253402300799));
}
END_TEST

START_TEST(test_timestamp_with_positive_offset_is_the_same_instant_in_utc)
{
	ck_assert_int_eq(ts("2025-06-15T10:00:00+05:00"), ts("2025-06-15T05:00:00Z"));
	ck_assert_int_eq(ts("2025-06-15T05:00:00+00:00"), ts("2025-06-15T05:00:00Z"));
	/* Almaty's UTC+6 before 2024-03-01, and a half-hour offset. */
	ck_assert_int_eq(ts("2024-01-01T00:30:00+06:00"), ts("2023-12-31T18:30:00Z"));
	ck_assert_int_eq(ts("2025-06-15T10:30:00+05:30"), ts("2025-06-15T05:00:00Z"));
}
END_TEST

START_TEST(test_timestamp_with_negative_offset_is_the_same_instant_in_utc)
{
	ck_assert_int_eq(ts("2025-06-15T00:00:00-05:00"), ts("2025-06-15T05:00:00Z"));
	ck_assert_int_eq(ts("2025-12-31T23:00:00-03:30"), ts("2026-01-01T02:30:00Z"));
	/* RFC 3339 "-00:00": offset unknown, the instant is still UTC. */
	ck_assert_int_eq(ts("2025-06-15T05:00:00-00:00"), ts("2025-06-15T05:00:00Z"));
	ck_assert_int_eq(ts("2025-06-15T05:00:00-23:59"), ts("2025-06-16T04:59:00Z"));
}
END_TEST

START_TEST(test_timestamp_accepts_lower_case_t_and_z)
{
	ck_assert_int_eq(ts("2025-06-15t05:00:00z"), ts("2025-06-15T05:00:00Z"));
	ck_assert_int_eq(ts("2025-06-15t05:00:00.5z"), ts("2025-06-15T05:00:00Z") + 500000);
}
END_TEST

START_TEST(test_timestamp_fractional_seconds_are_microseconds)
{
	int64_t base = ts("2025-06-15T05:00:00Z");

	ck_assert_int_eq(ts("2025-06-15T05:00:00.5Z"), base + 500000);
	ck_assert_int_eq(ts("2025-06-15T05:00:00.05Z"), base + 50000);
	ck_assert_int_eq(ts("2025-06-15T05:00:00.000001Z"), base + 1);
	ck_assert_int_eq(ts("2025-06-15T05:00:00.123456Z"), base + 123456);
	ck_assert_int_eq(ts("2025-06-15T10:00:00.999999+05:00"), base + 999999);
	ck_assert_int_eq(ts("1969-12-31T23:59:59.5Z"), -500000);
}
END_TEST

START_TEST(test_timestamp_with_more_than_six_fractional_digits_is_refused)
{
	ck_assert_str_eq(ts_why("2025-06-15T05:00:00.1234567Z"), "at most 6 fractional digits");
	ts_why("2025-06-15T05:00:00.Z");
	ts_why("2025-06-15T05:00:00,5Z");
}
END_TEST

START_TEST(test_timestamp_without_offset_is_refused)
{
	ck_assert_str_eq(ts_why("2025-06-15T05:00:00"), "missing UTC offset");
	ck_assert_str_eq(ts_why("2025-06-15T05:00:00.5"), "missing UTC offset");
	ts_why("2025-06-15");
	ts_why("2025-06-15T05:00");
	ts_why("2025-06-15T05:00Z");
}
END_TEST

START_TEST(test_timestamp_with_malformed_offset_is_refused)
{
	ts_why("2025-06-15T05:00:00+05");
	ts_why("2025-06-15T05:00:00+0500");
	ts_why("2025-06-15T05:00:00+5:00");
	ts_why("2025-06-15T05:00:00+05:00:00");
	ts_why("2025-06-15T05:00:00 +05:00");
	ts_why("2025-06-15T05:00:00UTC");
	ts_why("2025-06-15T05:00:00+24:00");
	ts_why("2025-06-15T05:00:00+05:60");
	ts_why("2025-06-15T05:00:00Z ");
	ts_why("2025-06-15T05:00:00ZZ");
}
END_TEST

START_TEST(test_timestamp_with_other_shapes_is_refused)
{
	ts_why("");
	ts_why("2025-06-15 05:00:00Z"); /* space instead of T */
	ts_why("2025-6-15T05:00:00Z");
	ts_why("25-06-15T05:00:00Z");
	ts_why("+2025-06-15T05:00:00Z");
	ts_why(" 2025-06-15T05:00:00Z");
	ts_why("2025/06/15T05:00:00Z");
	ts_why("2025-06-15T05:00:00.-1Z");
	ts_why("1749963600");
	ck_assert(!ts_parse_rfc3339(NULL, NULL, NULL));
}
END_TEST

START_TEST(test_timestamp_on_february_29_needs_a_leap_year)
{
	ts_why("2025-02-29T00:00:00Z");
	ck_assert_int_eq(ts("2024-02-29T00:00:00Z"), SEC(1709164800));
	ck_assert_int_eq(ts("2000-02-29T00:00:00Z"), SEC(951782400));
	ts_why("1900-02-29T00:00:00Z");
	ts_why("2100-02-29T00:00:00Z");
}
END_TEST

START_TEST(test_timestamp_with_impossible_date_or_time_is_refused)
{
	ts_why("2025-13-01T00:00:00Z");
	ts_why("2025-00-01T00:00:00Z");
	ts_why("2025-01-00T00:00:00Z");
	ts_why("2025-01-32T00:00:00Z");
	ts_why("2025-04-31T00:00:00Z");
	ts_why("0000-01-01T00:00:00Z");
	ts_why("2025-06-15T24:00:00Z");
	ts_why("2025-06-15T05:60:00Z");
	/* leap seconds are refused */
	ts_why("2016-12-31T23:59:60Z");
}
END_TEST

START_TEST(test_timestamp_is_formatted_in_utc_with_z)
{
	char out[TS_BUF];

	ts_format_utc(ts("2025-06-15T10:00:00+05:00"), out);
	ck_assert_str_eq(out, "2025-06-15T05:00:00Z");
	ts_format_utc(0, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
	ts_format_utc(SEC(-62135596800), out);
	ck_assert_str_eq(out, "0001-01-01T00:00:00Z");
}
END_TEST

START_TEST(test_timestamp_fraction_is_formatted_as_six_digits_only_when_non_zero)
{
	char out[TS_BUF];

	ts_format_utc(ts("2025-06-15T05:00:00.5Z"), out);
	ck_assert_str_eq(out, "2025-06-15T05:00:00.500000Z");
	ts_format_utc(ts("2025-06-15T05:00:00.000001Z"), out);
	ck_assert_str_eq(out, "2025-06-15T05:00:00.000001Z");
	ts_format_utc(ts("2025-06-15T05:00:00.000Z"), out);
	ck_assert_str_eq(out, "2025-06-15T05:00:00Z");
	/* Before 1970 the fraction still counts forward within its second. */
	ts_format_utc(-1, out);
	ck_assert_str_eq(out, "1969-12-31T23:59:59.999999Z");
}
END_TEST

START_TEST(test_timestamp_in_utc_formats_back_identically)
{
	static const char *const in[] = {"2025-12-31T19:30:00Z",        "2024-02-29T00:00:00Z",
	                                 "2025-06-15T05:00:00.123456Z", "1969-07-20T20:17:40Z",
	                                 "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z"};
	char out[TS_BUF];

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ts_format_utc(ts(in[i]), out);
		ck_assert_str_eq(out, in[i]);
	}
	ck_assert_int_eq(ts("2025-12-31T19:30:00Z"), SEC(1767209400));
}
END_TEST

START_TEST(test_timestamp_round_trip_keeps_the_instant)
{
	static const char *const in[] = {
	    "2025-06-15T10:00:00+05:00", "2025-06-15t00:00:00.5-05:00", "2026-01-01T00:30:00+05:00",
	    "2000-02-29T23:59:59.999999+23:59", "1900-03-01T00:00:00-12:00"};
	char out[TS_BUF];

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		int64_t t = ts(in[i]);

		ts_format_utc(t, out);
		ck_assert_int_eq(ts(out), t);
		ck_assert_int_eq(out[strlen(out) - 1], 'Z');
	}
}
END_TEST

START_TEST(test_timestamp_format_of_extreme_values_fits_the_buffer)
{
	char out[TS_BUF];

	ts_format_utc(INT64_MAX, out);
	ck_assert_uint_lt(strlen(out), TS_BUF);
	ts_format_utc(TS_NULL, out);
	ck_assert_uint_lt(strlen(out), TS_BUF);
}
END_TEST

START_TEST(test_civil_dates_convert_to_days_since_epoch_and_back)
{
	int64_t y;
	unsigned m, d;

	ck_assert_int_eq(days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(days_from_civil(1, 1, 1), -719162);
	ck_assert_int_eq(days_from_civil(9999, 12, 31), 2932896);
	civil_from_days(-1, &y, &m, &d);
	ck_assert_int_eq(y, 1969);
	ck_assert_uint_eq(m, 12);
	ck_assert_uint_eq(d, 31);
	/* Every day from year 1 to 9999 survives the round trip, and
	 * consecutive days are consecutive dates. Counted, not asserted per
	 * day, to keep the test fast under sanitizers. */
	int64_t bad = 0, py = 0;
	unsigned pm = 12, pd = 31;

	for (int64_t z = -719162; z <= 2932896; z++) {
		civil_from_days(z, &y, &m, &d);
		if (days_from_civil(y, m, d) != z)
			bad++;
		if (!((y == py && m == pm && d == pd + 1) ||
		      (y == py && m == pm + 1 && d == 1 && pd >= 28) ||
		      (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31)))
			bad++;
		py = y;
		pm = m;
		pd = d;
	}
	ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(test_duration_with_unit_is_seconds)
{
	ck_assert_int_eq(dur("90s"), 90);
	ck_assert_int_eq(dur("15m"), 900);
	ck_assert_int_eq(dur("24h"), 86400);
	ck_assert_int_eq(dur("2d"), 172800);
	ck_assert_int_eq(dur("2s"), 2);
	ck_assert_int_eq(dur("0s"), 0);
	/* decimal, never octal */
	ck_assert_int_eq(dur("010m"), 600);
}
END_TEST

START_TEST(test_duration_up_to_100_years_is_accepted)
{
	ck_assert_int_eq(dur("36525d"), INT64_C(36525) * 86400);
	ck_assert_int_eq(dur("3155760000s"), INT64_C(3155760000));
}
END_TEST

START_TEST(test_duration_beyond_100_years_is_refused_without_overflow)
{
	dur_refused("36526d");
	dur_refused("3155760001s");
	dur_refused("9999999999999h");
	dur_refused("9223372036854775807s");
	dur_refused("9223372036854775808s");
	dur_refused("99999999999999999999999999999999999999d");
}
END_TEST

START_TEST(test_duration_without_number_or_unit_is_refused)
{
	dur_refused("");
	dur_refused("10");
	dur_refused("h");
	dur_refused("1x");
	dur_refused("1H");
	dur_refused("1hh");
	dur_refused("1h30m");
	ck_assert(!duration_parse(NULL, NULL, NULL));
}
END_TEST

START_TEST(test_duration_with_sign_fraction_or_spaces_is_refused)
{
	dur_refused("-1h");
	dur_refused("+1h");
	dur_refused("1.5h");
	dur_refused(" 1h");
	dur_refused("1h ");
	dur_refused("1 h");
	dur_refused("1e3s");
}
END_TEST

static Suite *timeutil_suite(void)
{
	Suite *s = suite_create("timeutil");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_timestamp_in_utc_is_microseconds_since_epoch);
	tcase_add_test(tc, test_timestamp_with_positive_offset_is_the_same_instant_in_utc);
	tcase_add_test(tc, test_timestamp_with_negative_offset_is_the_same_instant_in_utc);
	tcase_add_test(tc, test_timestamp_accepts_lower_case_t_and_z);
	tcase_add_test(tc, test_timestamp_fractional_seconds_are_microseconds);
	tcase_add_test(tc, test_timestamp_with_more_than_six_fractional_digits_is_refused);
	tcase_add_test(tc, test_timestamp_without_offset_is_refused);
	tcase_add_test(tc, test_timestamp_with_malformed_offset_is_refused);
	tcase_add_test(tc, test_timestamp_with_other_shapes_is_refused);
	tcase_add_test(tc, test_timestamp_on_february_29_needs_a_leap_year);
	tcase_add_test(tc, test_timestamp_with_impossible_date_or_time_is_refused);
	tcase_add_test(tc, test_timestamp_is_formatted_in_utc_with_z);
	tcase_add_test(tc, test_timestamp_fraction_is_formatted_as_six_digits_only_when_non_zero);
	tcase_add_test(tc, test_timestamp_in_utc_formats_back_identically);
	tcase_add_test(tc, test_timestamp_round_trip_keeps_the_instant);
	tcase_add_test(tc, test_timestamp_format_of_extreme_values_fits_the_buffer);
	tcase_add_test(tc, test_civil_dates_convert_to_days_since_epoch_and_back);
	tcase_add_test(tc, test_duration_with_unit_is_seconds);
	tcase_add_test(tc, test_duration_up_to_100_years_is_accepted);
	tcase_add_test(tc, test_duration_beyond_100_years_is_refused_without_overflow);
	tcase_add_test(tc, test_duration_without_number_or_unit_is_refused);
	tcase_add_test(tc, test_duration_with_sign_fraction_or_spaces_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(timeutil_suite)

/*
 * The calendar of non-working days (lib/calendar.c): the weekday of a local
 * date, the next working day after one (weekends always off, the listed
 * days too), and the calendar's file read as days, each bad field named.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "check_main.h"
#include "timeutil.h"

static int64_t D(int y, unsigned m, unsigned d)
{
	return days_from_civil(y, m, d);
}

START_TEST(test_the_weekday_of_a_date_before_and_after_1970)
{
	ck_assert_int_eq(calendar_weekday(D(1970, 1, 1)), 4);   /* Thursday */
	ck_assert_int_eq(calendar_weekday(D(1969, 12, 31)), 3); /* Wednesday */
	ck_assert_int_eq(calendar_weekday(D(1969, 12, 28)), 7); /* Sunday */
	ck_assert_int_eq(calendar_weekday(D(2025, 11, 22)), 6); /* Saturday */
	ck_assert_int_eq(calendar_weekday(D(2026, 12, 7)), 1);  /* Monday */
	ck_assert(calendar_is_weekend(D(2026, 12, 5)));
	ck_assert(calendar_is_weekend(D(2026, 12, 6)));
	ck_assert(!calendar_is_weekend(D(2026, 12, 4)));
	ck_assert(!calendar_is_weekend(D(2026, 12, 7)));
}
END_TEST

START_TEST(test_with_no_listed_day_a_friday_leads_to_monday)
{
	/* the list empty: only weekends are off */
	ck_assert_int_eq(calendar_next_working_day(D(2026, 12, 4), NULL, 0), D(2026, 12, 7));
	ck_assert_int_eq(calendar_next_working_day(D(2026, 12, 5), NULL, 0), D(2026, 12, 7));
	ck_assert_int_eq(calendar_next_working_day(D(2026, 12, 6), NULL, 0), D(2026, 12, 7));
	/* never the day itself: a Monday leads to Tuesday */
	ck_assert_int_eq(calendar_next_working_day(D(2026, 12, 7), NULL, 0), D(2026, 12, 8));
	ck_assert_int_eq(calendar_next_working_day(D(2026, 12, 3), NULL, 0), D(2026, 12, 4));
	ck_assert(calendar_is_working_day(D(2026, 12, 4), NULL, 0));
	ck_assert(!calendar_is_working_day(D(2026, 12, 5), NULL, 0));
}
END_TEST

START_TEST(test_a_holiday_before_a_weekend_leads_past_both)
{
	/* Belarus 2025: Independence Day Thursday 3 July, Friday 4 July moved off */
	const int64_t off[] = {D(2025, 7, 3), D(2025, 7, 4)};
	ck_assert_int_eq(calendar_next_working_day(D(2025, 7, 2), off, 2), D(2025, 7, 7));
	ck_assert_int_eq(calendar_next_working_day(D(2025, 7, 3), off, 2), D(2025, 7, 7));
	ck_assert_int_eq(calendar_next_working_day(D(2025, 7, 1), off, 2), D(2025, 7, 2));
	ck_assert(!calendar_is_working_day(D(2025, 7, 4), off, 2));
	ck_assert(calendar_is_working_day(D(2025, 7, 7), off, 2));
	/* a Friday holiday alone: Thursday leads to Monday */
	const int64_t fri[] = {D(2026, 7, 3)};
	ck_assert_int_eq(calendar_next_working_day(D(2026, 7, 2), fri, 1), D(2026, 7, 6));
	/* a Monday holiday: Friday leads to Tuesday */
	const int64_t mon[] = {D(2026, 12, 7)};
	ck_assert_int_eq(calendar_next_working_day(D(2026, 12, 4), mon, 1), D(2026, 12, 8));
}
END_TEST

START_TEST(test_the_year_end_runs_into_the_new_years_holidays)
{
	/* Belarus: 25 and 26 December 2025 (Thursday, Friday), then 1 and 2
	 * January 2026 (Thursday, Friday): the working days between are 29-31
	 * December, and after 31 December comes Monday 5 January */
	const int64_t off[] = {D(2025, 12, 25), D(2025, 12, 26), D(2026, 1, 1), D(2026, 1, 2),
	                       D(2026, 1, 7)};
	ck_assert_int_eq(calendar_next_working_day(D(2025, 12, 24), off, 5), D(2025, 12, 29));
	ck_assert_int_eq(calendar_next_working_day(D(2025, 12, 31), off, 5), D(2026, 1, 5));
	ck_assert_int_eq(calendar_next_working_day(D(2026, 1, 6), off, 5), D(2026, 1, 8));
	/* past the last listed day */
	ck_assert_int_eq(calendar_next_working_day(D(2026, 1, 9), off, 5), D(2026, 1, 12));
}
END_TEST

START_TEST(test_listed_weekend_days_and_repeats_change_nothing)
{
	/* 7 November 2026 is a Saturday; a list may name a day twice */
	const int64_t off[] = {D(2026, 11, 6), D(2026, 11, 6), D(2026, 11, 7), D(2026, 11, 8)};
	ck_assert_int_eq(calendar_next_working_day(D(2026, 11, 5), off, 4), D(2026, 11, 9));
	ck_assert_int_eq(calendar_next_working_day(D(2026, 11, 6), off, 4), D(2026, 11, 9));
	ck_assert(!calendar_is_working_day(D(2026, 11, 6), off, 4));
}
END_TEST

START_TEST(test_a_long_run_of_listed_days_is_walked_to_its_end)
{
	/* every weekday of 2026 listed: the first working day is in 2027 */
	int64_t off[366];
	size_t n = 0;
	for (int64_t d = D(2026, 1, 1); d < D(2027, 1, 1); d++)
		if (!calendar_is_weekend(d))
			off[n++] = d;
	ck_assert_int_eq(calendar_next_working_day(D(2025, 12, 31), off, n), D(2027, 1, 1));
}
END_TEST

/* ---- the file ---- */

static bool first_record(struct csv_reader *r, const char *text)
{
	csv_init(r);
	for (const char *c = text; *c; c++)
		if (csv_push(r, *c))
			return true;
	return csv_end(r);
}

/* The field that a line's error names: "date: ..." gives "date". */
static void assert_refused(const char *line, const char *field)
{
	struct csv_reader *r = malloc(sizeof(*r));
	ck_assert_ptr_nonnull(r);
	ck_assert(first_record(r, line));
	struct holiday h;
	struct cd_error err;
	cd_error_clear(&err);
	ck_assert_msg(!holiday_csv_record(r, &h, &err), "%s was taken", line);
	ck_assert_msg(strncmp(err.message, field, strlen(field)) == 0 &&
	                  err.message[strlen(field)] == ':',
	              "%s: %s, not %s", line, err.message, field);
	free(r);
}

START_TEST(test_a_line_is_a_real_date_and_a_name)
{
	struct csv_reader *r = malloc(sizeof(*r));
	ck_assert_ptr_nonnull(r);
	struct holiday h;
	struct cd_error err;
	ck_assert(first_record(r, "date,name\r\n"));
	ck_assert(holiday_csv_header_check(r, &err));
	ck_assert(first_record(r, "\xef\xbb\xbf"
	                          "date,name\n"));
	ck_assert(holiday_csv_header_check(r, &err));
	ck_assert(first_record(r, "name,date\n"));
	ck_assert(!holiday_csv_header_check(r, &err));
	ck_assert(first_record(r, "2026-01-07,\"Рождество Христово (православное), \"\"7\"\"\"\n"));
	ck_assert_msg(holiday_csv_record(r, &h, &err), "%s", err.message);
	ck_assert_int_eq(h.day, D(2026, 1, 7));
	ck_assert_str_eq(h.date, "2026-01-07");
	ck_assert_str_eq(h.name, "Рождество Христово (православное), \"7\"");
	/* a holiday on a Saturday is taken */
	ck_assert(first_record(r, "2026-11-07,October Revolution Day\n"));
	ck_assert(holiday_csv_record(r, &h, &err));
	ck_assert_int_eq(h.day, D(2026, 11, 7));
	free(r);
}
END_TEST

START_TEST(test_a_bad_line_is_refused_naming_its_field)
{
	assert_refused("2027-02-29,Not a day\n", "date");
	assert_refused("2026-1-07,Christmas\n", "date");
	assert_refused("07.01.2026,Christmas\n", "date");
	assert_refused("1999-12-31,Too early\n", "date");
	assert_refused("2100-01-01,Too late\n", "date");
	assert_refused(",Nameless date\n", "date");
	assert_refused("2026-01-07\n", "name");
	assert_refused("2026-01-07,\n", "name");
	assert_refused("2026-01-07,   \n", "name");
	assert_refused("2026-01-07,\"tab\there\"\n", "name");
	assert_refused("2026-01-07,Christmas,extra\n", "name");
	assert_refused("2026-01-07,\"unterminated\n", "name");
	char long_name[320];
	snprintf(long_name, sizeof(long_name), "2026-01-07,%201d\n", 7); /* 201 characters */
	assert_refused(long_name, "name");
	snprintf(long_name, sizeof(long_name), "2026-01-07,%200d\n", 7);
	struct csv_reader *r = malloc(sizeof(*r));
	ck_assert_ptr_nonnull(r);
	struct holiday h;
	struct cd_error err;
	ck_assert(first_record(r, long_name)); /* 200 characters exactly */
	ck_assert_msg(holiday_csv_record(r, &h, &err), "%s", err.message);
	ck_assert_int_eq(strlen(h.name), 200);
	free(r);
}
END_TEST

static Suite *calendar_suite(void)
{
	Suite *s = suite_create("calendar");
	TCase *tc = tcase_create("calendar");
	tcase_add_test(tc, test_the_weekday_of_a_date_before_and_after_1970);
	tcase_add_test(tc, test_with_no_listed_day_a_friday_leads_to_monday);
	tcase_add_test(tc, test_a_holiday_before_a_weekend_leads_past_both);
	tcase_add_test(tc, test_the_year_end_runs_into_the_new_years_holidays);
	tcase_add_test(tc, test_listed_weekend_days_and_repeats_change_nothing);
	tcase_add_test(tc, test_a_long_run_of_listed_days_is_walked_to_its_end);
	tcase_add_test(tc, test_a_line_is_a_real_date_and_a_name);
	tcase_add_test(tc, test_a_bad_line_is_refused_naming_its_field);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(calendar_suite)

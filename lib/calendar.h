/*
 * The calendar of non-working days (CONTRACT.md v1.2, the Belarus
 * profile: the payout not before the start of the next working day):
 * Saturday and Sunday always, and the days of the table non_working_day
 * that `coolingctl holidays import` fills. Pure.
 *
 * A local date is a count of days since 1970-01-01; which local date a
 * moment falls on is the database's business (its now, the zone's rules).
 * calendar_next_working_day() is the C twin of the SQL function
 * cd_next_working_date() (sql/022_holiday_calendar.sql), under
 * cd_next_working_day_start(), which adds the zone;
 * tests/integration/test_calendar.c checks them against each other.
 */
#ifndef CD_CALENDAR_H
#define CD_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cd_error.h"
#include "refusal.h" /* the CSV reader */

/* The years a calendar may hold (the table's CHECK says the same). */
#define CALENDAR_FIRST_YEAR 2000
#define CALENDAR_LAST_YEAR  2099

#define HOLIDAY_NAME_MAX_CHARS 200
/* 200 characters of up to 4 bytes, and the NUL */
#define HOLIDAY_NAME_BUF 801

/* ISO weekday of a local date: 1 Monday .. 7 Sunday. */
int calendar_weekday(int64_t day);

/* Saturday or Sunday: never a working day, whatever the table says. */
bool calendar_is_weekend(int64_t day);

/* Whether day is a working day: not a weekend and not in off[0..n-1]
 * (ascending; repeats allowed). */
bool calendar_is_working_day(int64_t day, const int64_t *off, size_t n);

/* The first working day after day (never day itself), with the
 * non-working days off[0..n-1] (ascending; repeats allowed). */
int64_t calendar_next_working_day(int64_t day, const int64_t *off, size_t n);

/* ---- the calendar's file (coolingctl holidays import) ----
 *
 * RFC 4180 CSV (refusal.h's reader): the header date,name, then one
 * non-working day a line: its local date YYYY-MM-DD (a real date of the
 * years CALENDAR_FIRST_YEAR-CALENDAR_LAST_YEAR; a Saturday or Sunday is
 * taken, as an official holiday may fall on one) and its name, 1-200
 * characters of UTF-8 without control characters. */
#define HOLIDAY_CSV_HEADER "date,name"

struct holiday {
	int64_t day; /* days since 1970-01-01 */
	char date[11];
	char name[HOLIDAY_NAME_BUF];
};

bool holiday_csv_header_check(const struct csv_reader *r, struct cd_error *err);
/* A record as a day of the calendar; false with err naming the field
 * (date, name). */
bool holiday_csv_record(const struct csv_reader *r, struct holiday *h, struct cd_error *err);

#endif

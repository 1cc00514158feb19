/*
 * The calendar of non-working days (calendar.h).
 */
#include "calendar.h"

#include <string.h>

#include "text.h"
#include "timeutil.h"

int calendar_weekday(int64_t day)
{
	/* 1970-01-01 was a Thursday (4); a floor modulo for the days before */
	int64_t m = (day + 3) % 7;
	return (int)(m < 0 ? m + 7 : m) + 1;
}

bool calendar_is_weekend(int64_t day)
{
	return calendar_weekday(day) >= 6;
}

/* The first index of off[0..n-1] (ascending) whose day is not before day. */
static size_t first_not_before(int64_t day, const int64_t *off, size_t n)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (off[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool calendar_is_working_day(int64_t day, const int64_t *off, size_t n)
{
	if (calendar_is_weekend(day))
		return false;
	size_t i = first_not_before(day, off, n);
	return i == n || off[i] != day;
}

int64_t calendar_next_working_day(int64_t day, const int64_t *off, size_t n)
{
	/* Ends: past the last listed day, Monday is at most two days on. */
	size_t i = first_not_before(day + 1, off, n);
	for (int64_t d = day + 1;; d++) {
		while (i < n && off[i] < d)
			i++;
		if (!calendar_is_weekend(d) && (i == n || off[i] != d))
			return d;
	}
}

/* ---- the file ---- */

static const char *const csv_columns[] = {"date", "name"};
#define CSV_COLUMNS ((int)(sizeof(csv_columns) / sizeof(csv_columns[0])))

bool holiday_csv_header_check(const struct csv_reader *r, struct cd_error *err)
{
	if (!csv_header_is(r, csv_columns, CSV_COLUMNS))
		return cd_error_invalid(err, "header", "must be " HOLIDAY_CSV_HEADER);
	return true;
}

/* "YYYY-MM-DD" as days since 1970-01-01, within the calendar's years. */
static bool holiday_date(const char *s, int64_t *day)
{
	if (!date_valid_iso(s))
		return false;
	int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	if (y < CALENDAR_FIRST_YEAR || y > CALENDAR_LAST_YEAR)
		return false;
	unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	*day = days_from_civil(y, m, d);
	return true;
}

#define STR_(x) #x
#define STR(x)  STR_(x)

bool holiday_csv_record(const struct csv_reader *r, struct holiday *h, struct cd_error *err)
{
	memset(h, 0, sizeof(*h));
	if (r->fault != NULL)
		return cd_error_invalid(
		    err,
		    csv_columns[r->fault_field < CSV_COLUMNS ? r->fault_field : CSV_COLUMNS - 1],
		    r->fault);
	if (r->nfields < CSV_COLUMNS)
		return cd_error_invalid(err, csv_columns[r->nfields],
		                        "missing (a line has 2 fields: " HOLIDAY_CSV_HEADER ")");
	if (r->nfields > CSV_COLUMNS)
		return cd_error_invalid(err, "name", "more than 2 fields (" HOLIDAY_CSV_HEADER ")");
	for (int i = 0; i < CSV_COLUMNS; i++)
		if (r->too_long[i])
			return cd_error_invalid(err, csv_columns[i], "too long");

	if (!holiday_date(r->field[0], &h->day))
		return cd_error_invalid(err, "date",
		                        "must be a real date YYYY-MM-DD of the years " STR(
		                            CALENDAR_FIRST_YEAR) "-" STR(CALENDAR_LAST_YEAR));
	memcpy(h->date, r->field[0], sizeof(h->date)); /* checked: 10 characters */

	const char *name = r->field[1];
	enum text_fault fault = TEXT_LENGTH; /* a blank name */
	if (!text_valid(name, HOLIDAY_NAME_MAX_CHARS, &fault) || text_blank(name))
		return cd_error_invalid(
		    err, "name",
		    fault == TEXT_CONTROL    ? "must not contain control characters"
		    : fault == TEXT_NOT_UTF8 ? "must be UTF-8"
		                             : "must be 1-200 characters, not only spaces");
	if (strlen(name) >= sizeof(h->name))
		return cd_error_invalid(err, "name", "too long");
	memcpy(h->name, name, strlen(name) + 1);
	return true;
}

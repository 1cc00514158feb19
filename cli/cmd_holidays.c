/*
 * The calendar of non-working days from the command line: the import of
 * the calendar's file (the registries' import, cli_registry_import(), but
 * replacing the days of each year the file holds, so that a day moved by
 * decree can be taken out) and one year's days. Saturdays and Sundays are
 * never in the file: they are always non-working (lib/calendar.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "cli.h"
#include "db.h"
#include "text.h"
#include "timeutil.h"

#define CALENDAR_YEARS (CALENDAR_LAST_YEAR - CALENDAR_FIRST_YEAR + 1)

/* The import's state: the line being read, on which line each day of the
 * calendar's years was first given (a day given twice is refused, as two
 * names for one day are one too many), the years the file holds, and
 * what the database did. */
struct holiday_import {
	struct holiday h;
	int64_t first_day;   /* CALENDAR_FIRST_YEAR-01-01 */
	int64_t *first_line; /* one per day of the calendar's years; 0: not given */
	bool year[CALENDAR_YEARS];
	struct db_holiday_counts n;
};

static bool holiday_parse(const struct csv_reader *r, int64_t today, void *item,
                          struct cd_error *err)
{
	(void)today; /* a past year may be corrected too */
	struct holiday_import *x = item;
	if (!holiday_csv_record(r, &x->h, err))
		return false;
	int64_t *seen = &x->first_line[x->h.day - x->first_day];
	if (*seen != 0)
		return cd_error_set(err, 422, "validation_failed", "date",
		                    "date: given twice (first on line %" PRId64 ")", *seen);
	*seen = r->record_line;
	int64_t y;
	unsigned m, d;
	civil_from_days(x->h.day, &y, &m, &d);
	x->year[y - CALENDAR_FIRST_YEAR] = true;
	return true;
}

static bool holiday_send(PGconn *c, int64_t line, const void *item, struct cd_error *err)
{
	const struct holiday_import *x = item;
	return db_holiday_import_row(c, line, &x->h, err);
}

static bool holiday_end(PGconn *c, bool commit, void *item, int64_t *total, int64_t *added,
                        struct cd_error *err)
{
	struct holiday_import *x = item;
	bool ok = db_holiday_import_end(c, commit, &x->n, err);
	*total = x->n.total;
	*added = x->n.added;
	return ok;
}

static void holiday_report(const void *item, int64_t total, int64_t added)
{
	const struct holiday_import *x = item;
	if (total == 0) {
		printf("imported 0 non-working days: the file holds no year, the calendar is "
		       "unchanged\n");
		return;
	}
	char years[CALENDAR_YEARS * 6 + 1] = "";
	size_t len = 0;
	for (int i = 0; i < CALENDAR_YEARS; i++)
		if (x->year[i])
			len += (size_t)snprintf(years + len, sizeof(years) - len, "%s%d",
			                        len ? ", " : "", CALENDAR_FIRST_YEAR + i);
	printf("imported %" PRId64 " non-working days of %s (%" PRId64 " new, %" PRId64
	       " renamed, %" PRId64 " unchanged, %" PRId64 " removed): the file is now the "
	       "calendar of %s; Saturdays and Sundays are always non-working\n",
	       total, years, added, x->n.renamed, x->n.unchanged, x->n.removed,
	       strchr(years, ',') ? "these years" : "this year");
}

int cmd_holidays_import(struct cli *cli, const struct cli_args *a)
{
	struct holiday_import *x = calloc(1, sizeof(*x));
	int64_t days = days_from_civil(CALENDAR_LAST_YEAR + 1, 1, 1) -
	               days_from_civil(CALENDAR_FIRST_YEAR, 1, 1);
	if (x != NULL)
		x->first_line = calloc((size_t)days, sizeof(*x->first_line));
	if (x == NULL || x->first_line == NULL) {
		free(x);
		return cli_fail(cli, CLI_FAIL, "out of memory");
	}
	x->first_day = days_from_civil(CALENDAR_FIRST_YEAR, 1, 1);
	const struct registry_import imp = {.name = "holidays import",
	                                    .header = HOLIDAY_CSV_HEADER,
	                                    .item = x,
	                                    .begin = db_holiday_import_begin,
	                                    .header_check = holiday_csv_header_check,
	                                    .parse = holiday_parse,
	                                    .send = holiday_send,
	                                    .end = holiday_end,
	                                    .report = holiday_report};
	int rc = cli_registry_import(cli, a, &imp);
	free(x->first_line);
	free(x);
	return rc;
}

static const char *const weekday_names[] = {"monday", "tuesday",  "wednesday", "thursday",
                                            "friday", "saturday", "sunday"};

int cmd_holidays_show(struct cli *cli, const struct cli_args *a)
{
	int64_t year;
	if (!int_parse(a->arg[0], &year) || year < CALENDAR_FIRST_YEAR || year > CALENDAR_LAST_YEAR)
		return cli_usage(cli, "YEAR must be a year from %d to %d", CALENDAR_FIRST_YEAR,
		                 CALENDAR_LAST_YEAR);
	bool json = cli_opt(cli, a, "json") != NULL;
	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	PGresult *r = db_holiday_list(cli->conn, year, &err);
	if (r == NULL)
		return cli_db_fail(cli, &err);
	struct db_holiday_row h;
	if (json) {
		json_t *list = json_array();
		for (int i = 0; db_holiday_row(r, i, &h); i++) {
			char at[TS_BUF];
			ts_format_utc(h.recorded_at, at);
			json_array_append_new(
			    list, json_pack("{s:s, s:s, s:s, s:s}", "date", h.date, "weekday",
			                    weekday_names[calendar_weekday(h.day) - 1], "name",
			                    h.name, "recorded_at", at));
		}
		PQclear(r);
		return cli_print_json(cli,
		                      json_pack("{s:I, s:[s, s], s:o}", "year", (json_int_t)year,
		                                "weekend", "saturday", "sunday", "days", list));
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		printf("%" PRId64
		       ": Saturdays and Sundays are non-working; no other non-working day "
		       "is recorded (coolingctl holidays import FILE)\n",
		       year);
		return CLI_OK;
	}
	printf("%" PRId64 ": Saturdays and Sundays are always non-working, and these days:\n\n",
	       year);
	static const char *const header[] = {"date", "weekday", "name"};
	static const bool right[] = {false, false, false};
	struct cli_table tab;
	cli_table_init(&tab, 3, header, right);
	for (int i = 0; db_holiday_row(r, i, &h); i++) {
		const char *row[] = {h.date, weekday_names[calendar_weekday(h.day) - 1], h.name};
		cli_table_add(&tab, row);
	}
	cli_table_print(&tab);
	cli_table_free(&tab);
	PQclear(r);
	return CLI_OK;
}

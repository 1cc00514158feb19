/*
 * The calendar of non-working days against the real database:
 * cd_next_working_date() and cd_next_working_day_start() (SQL) agree with
 * calendar_next_working_day() (C) on every day of two years of Belarus's
 * calendar and at the bounds of a local day in Europe/Minsk; `coolingctl
 * holidays import` is all or nothing, names every bad line, replaces the
 * days of the years its file holds and no others, writes one audit event
 * per change and none for a repeat; `holidays show` prints a year; and the
 * roles: the operators keep the calendar, compliance and the daemon read
 * it. A loan cooled until the next working day (by-2025-11) gets its end
 * from the statement that records its consent, at approval or later, as
 * the C twin computes it, on a Friday, before a run of holidays, at the
 * last microsecond of a Minsk evening and at the midnight after it; a day
 * imported later does not move an end already written.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "check_main.h"
#include "db.h"
#include "loan.h"
#include "policy.h"
#include "support/proc.h"
#include "support/testdb.h"
#include "timeutil.h"

static char *url;
static PGconn *conn;
static const char *ctl;

/* coolingctl's environment: no database URL but the one given, and a user
 * name that is not the database login. */
static const char *const ctl_env[] = {"COOLINGD_DATABASE_URL", "USER=someone-else", NULL};

static void setup(void)
{
	ctl = test_bin("coolingctl");
	url = testdb_create("calendar");
	conn = testdb_connect_quiet(url);
	testdb_exec(conn, "SET TimeZone = 'UTC'");
}

static void teardown(void)
{
	PQfinish(conn);
	testdb_drop(url);
	free(url);
}

/* A file of the test's own, written with text; the path is static. */
static const char *write_file(const char *tag, const char *text)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/holidays-%s-%d.csv",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag, (int)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

#define CTL(r, db, ...) proc_ctl(r, ctl_env, NULL, db, __VA_ARGS__, (const char *)NULL)

/* Imports text as the superuser's login; the command's stdout (static). */
static const char *import_ok(const char *text)
{
	static char out[1024];
	const char *path = write_file("ok", text);
	struct proc_run r;
	CTL(&r, url, "holidays", "import", path);
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	snprintf(out, sizeof(out), "%s", r.out);
	proc_run_free(&r);
	unlink(path);
	return out;
}

/* Belarus's public holidays of 2025 and 2026 and the days off that the
 * government moved in 2025 (each for a Saturday worked): runs of
 * non-working days that span a weekend (3-6 July 2025, 25-28 December
 * 2025, 1-4 January 2026), holidays on a Saturday or a Sunday. */
#define BELARUS_2025_2026                                                                          \
	"date,name\r\n"                                                                            \
	"2025-01-01,New Year's Day\r\n"                                                            \
	"2025-01-02,New Year's Day\r\n"                                                            \
	"2025-01-06,Day off (moved from Saturday 11 January)\r\n"                                  \
	"2025-01-07,Рождество Христово (православное)\r\n"            \
	"2025-03-08,Women's Day\r\n"                                                               \
	"2025-04-28,Day off (moved from Saturday 26 April)\r\n"                                    \
	"2025-04-29,Radunitsa\r\n"                                                                 \
	"2025-05-01,Labour Day\r\n"                                                                \
	"2025-05-09,Victory Day\r\n"                                                               \
	"2025-07-03,Independence Day\r\n"                                                          \
	"2025-07-04,Day off (moved from Saturday 12 July)\r\n"                                     \
	"2025-11-07,October Revolution Day\r\n"                                                    \
	"2025-12-25,\"Christmas (Catholic)\"\r\n"                                                  \
	"2025-12-26,Day off (moved from Saturday 20 December)\r\n"                                 \
	"2026-01-01,New Year's Day\r\n"                                                            \
	"2026-01-02,New Year's Day\r\n"                                                            \
	"2026-01-07,Рождество Христово (православное)\r\n"            \
	"2026-03-08,Women's Day\r\n"                                                               \
	"2026-04-21,Radunitsa\r\n"                                                                 \
	"2026-05-01,Labour Day\r\n"                                                                \
	"2026-05-09,Victory Day\r\n"                                                               \
	"2026-07-03,Independence Day\r\n"                                                          \
	"2026-11-07,October Revolution Day\r\n"                                                    \
	"2026-12-25,\"Christmas (Catholic)\"\r\n"

/* The days of years from..to in the table, through the database layer,
 * ascending; *n of them (malloc'd). */
static int64_t *listed_days(int64_t from, int64_t to, size_t *n)
{
	int64_t *days = malloc(sizeof(int64_t) * 366 * (size_t)(to - from + 1));
	ck_assert_ptr_nonnull(days);
	*n = 0;
	for (int64_t y = from; y <= to; y++) {
		struct cd_error err;
		PGresult *r = db_holiday_list(conn, y, &err);
		ck_assert_msg(r != NULL, "%s", err.message);
		struct db_holiday_row h;
		for (int i = 0; db_holiday_row(r, i, &h); i++) {
			int64_t yy;
			unsigned m, d;
			civil_from_days(h.day, &yy, &m, &d);
			char date[16];
			snprintf(date, sizeof(date), "%04lld-%02u-%02u", (long long)yy, m, d);
			ck_assert_str_eq(date, h.date);
			days[(*n)++] = h.day;
		}
		PQclear(r);
	}
	return days;
}

/* Europe/Minsk has been UTC+3 all year since 2011. */
#define MINSK_OFFSET_US (INT64_C(3) * 3600 * USEC_PER_SEC)

static int64_t minsk_midnight(int64_t day)
{
	return day * 86400 * USEC_PER_SEC - MINSK_OFFSET_US;
}

START_TEST(test_sql_and_c_agree_on_every_day_of_two_years_and_at_minsk_midnight)
{
	import_ok(BELARUS_2025_2026);
	size_t n;
	int64_t *off = listed_days(2025, 2027, &n);
	ck_assert_int_eq(n, 24);
	/* each day of 2025-2026: its next working date, and the start of it
	 * from the day's first and last microsecond in Minsk */
	PGresult *r = PQexec(
	    conn, "SELECT d - DATE '1970-01-01', cd_next_working_date(d) - DATE '1970-01-01', "
	          "cd_us(cd_next_working_day_start(d::timestamp AT TIME ZONE "
	          "'Europe/Minsk', 'Europe/Minsk')), "
	          "cd_us(cd_next_working_day_start((d + time '23:59:59.999999') AT TIME "
	          "ZONE 'Europe/Minsk', 'Europe/Minsk')), "
	          "cd_us(d::timestamp AT TIME ZONE 'Europe/Minsk') "
	          "FROM generate_series(DATE '2025-01-01', DATE '2026-12-31', "
	          "interval '1 day') g, LATERAL (SELECT g::date AS d) x ORDER BY d");
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	ck_assert_int_eq(PQntuples(r), 730);
	int beyond_tomorrow = 0, moved_by_a_holiday = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t day = atoll(PQgetvalue(r, i, 0));
		int64_t want = calendar_next_working_day(day, off, n);
		ck_assert_msg(atoll(PQgetvalue(r, i, 1)) == want, "day %lld: SQL %s, C %lld",
		              (long long)day, PQgetvalue(r, i, 1), (long long)want);
		ck_assert_int_eq(atoll(PQgetvalue(r, i, 4)), minsk_midnight(day));
		ck_assert_int_eq(atoll(PQgetvalue(r, i, 2)), minsk_midnight(want));
		ck_assert_int_eq(atoll(PQgetvalue(r, i, 3)), minsk_midnight(want));
		beyond_tomorrow += want > day + 1;
		moved_by_a_holiday += want != calendar_next_working_day(day, NULL, 0);
	}
	PQclear(r);
	/* weekends and holidays both moved days (23 of them by a holiday) */
	ck_assert_int_gt(beyond_tomorrow, 104 * 2);
	ck_assert_int_ge(moved_by_a_holiday, 20);
	free(off);

	/* the bounds of a local day, written as UTC instants */
	static const char *const cases[][2] = {
	    /* Wednesday 2 July 2025, 23:59:59.999999 in Minsk: Monday 7 July */
	    {"2025-07-02T20:59:59.999999Z", "2025-07-06T21:00:00Z"},
	    /* Thursday 3 July 00:00 in Minsk (a holiday): Monday too */
	    {"2025-07-02T21:00:00Z", "2025-07-06T21:00:00Z"},
	    /* Monday 7 July 00:00 in Minsk: Tuesday */
	    {"2025-07-06T21:00:00Z", "2025-07-07T21:00:00Z"},
	    /* Sunday 6 July 23:59:59.999999 in Minsk: Monday */
	    {"2025-07-06T20:59:59.999999Z", "2025-07-06T21:00:00Z"},
	    /* Wednesday 31 December 2025, 23:59:59.999999: Monday 5 January */
	    {"2025-12-31T20:59:59.999999Z", "2026-01-04T21:00:00Z"},
	    /* Tuesday 30 December 2025, 23:59:59.999999: Wednesday 31 */
	    {"2025-12-30T20:59:59.999999Z", "2025-12-30T21:00:00Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t at, want;
		ck_assert(ts_parse_rfc3339(cases[i][0], &at, NULL));
		ck_assert(ts_parse_rfc3339(cases[i][1], &want, NULL));
		char sql[160];
		snprintf(sql, sizeof(sql),
		         "SELECT cd_us(cd_next_working_day_start(cd_ts(%lld), 'Europe/Minsk'))",
		         (long long)at);
		ck_assert_msg(testdb_num(conn, sql, NULL) == want, "from %s", cases[i][0]);
	}
}
END_TEST

START_TEST(test_import_replaces_the_years_of_the_file_and_no_others)
{
	ck_assert_str_eq(import_ok(BELARUS_2025_2026),
	                 "imported 24 non-working days of 2025, 2026 (24 new, 0 renamed, "
	                 "0 unchanged, 0 removed): the file is now the calendar of these years; "
	                 "Saturdays and Sundays are always non-working\n");
	testdb_exec(conn, "INSERT INTO non_working_day (day, name) VALUES ('2027-01-01', 'Kept')");
	long long events = testdb_num(conn, "SELECT count(*) FROM audit_event", NULL);
	ck_assert_int_eq(events, 24);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM audit_event WHERE type = 'holiday_set' "
	                            "AND actor = 'coolingctl:' || session_user AND "
	                            "detail->>'previous_name' IS NULL AND lender_id IS NULL",
	                            NULL),
	                 24);

	long long last = testdb_num(conn, "SELECT max(id) FROM audit_event", NULL);
	/* 2026 again: Radunitsa moved a day off to Monday 20 April, 25
	 * December taken out, 3 July renamed, the rest as it was */
	const char *again = "date,name\n"
	                    "2026-01-01,New Year's Day\n"
	                    "2026-01-02,New Year's Day\n"
	                    "2026-01-07,Рождество Христово (православное)\n"
	                    "2026-03-08,Women's Day\n"
	                    "2026-04-20,Day off (moved from Saturday 25 April)\n"
	                    "2026-04-21,Radunitsa\n"
	                    "2026-05-01,Labour Day\n"
	                    "2026-05-09,Victory Day\n"
	                    "2026-07-03,Independence Day of the Republic of Belarus\n"
	                    "2026-11-07,October Revolution Day\n";
	ck_assert_str_eq(import_ok(again),
	                 "imported 10 non-working days of 2026 (1 new, 1 renamed, 8 unchanged, "
	                 "1 removed): the file is now the calendar of this year; Saturdays and "
	                 "Sundays are always non-working\n");
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM non_working_day WHERE "
	                            "day BETWEEN '2026-01-01' AND '2026-12-31'",
	                            NULL),
	                 10);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM non_working_day WHERE "
	                            "day BETWEEN '2025-01-01' AND '2025-12-31'",
	                            NULL),
	                 14);
	ck_assert_int_eq(
	    testdb_num(conn, "SELECT count(*) FROM non_working_day WHERE day = '2027-01-01'", NULL),
	    1);
	/* one event per change, in date order */
	char since[32];
	snprintf(since, sizeof(since), "%lld", last);
	const char *p[] = {since};
	PGresult *r = PQexecParams(conn,
	                           "SELECT type, detail->>'date', detail->>'name', "
	                           "coalesce(detail->>'previous_name', '-') FROM audit_event "
	                           "WHERE id > $1::bigint ORDER BY id",
	                           1, NULL, p, NULL, NULL, 0);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(r), 3);
	static const char *const want[][4] = {
	    {"holiday_set", "2026-04-20", "Day off (moved from Saturday 25 April)", "-"},
	    {"holiday_set", "2026-07-03", "Independence Day of the Republic of Belarus",
	     "Independence Day"},
	    {"holiday_removed", "2026-12-25", "Christmas (Catholic)", "-"},
	};
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 4; k++)
			ck_assert_str_eq(PQgetvalue(r, i, k), want[i][k]);
	PQclear(r);

	/* the same file again changes nothing and writes no event */
	ck_assert_str_eq(import_ok(again),
	                 "imported 10 non-working days of 2026 (0 new, 0 renamed, 10 unchanged, "
	                 "0 removed): the file is now the calendar of this year; Saturdays and "
	                 "Sundays are always non-working\n");
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM audit_event", NULL), events + 3);

	/* a file of no day changes nothing */
	ck_assert_str_eq(import_ok("date,name\n"), "imported 0 non-working days: the file holds "
	                                           "no year, the calendar is unchanged\n");
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM non_working_day", NULL), 25);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM audit_event", NULL), events + 3);

	/* and the next working day follows the new calendar */
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT (cd_next_working_date('2026-04-17') = "
	                            "'2026-04-22')::int + (cd_next_working_date('2026-12-24') = "
	                            "'2026-12-25')::int",
	                            NULL),
	                 2);
}
END_TEST

START_TEST(test_a_bad_file_is_refused_whole_naming_each_bad_line)
{
	import_ok(BELARUS_2025_2026);
	long long events = testdb_num(conn, "SELECT count(*) FROM audit_event", NULL);
	const char *path = write_file("bad", "date,name\n"
	                                     "2026-01-01,New Year's Day\n"
	                                     "2026-02-30,No such day\n"
	                                     "2026-05-01,\n"
	                                     "2026-01-01,New Year's Day again\n"
	                                     "2026-05-09,Victory Day\n"
	                                     "\"2026-11-07\",\"October\n"
	                                     "Revolution Day\",extra\n"
	                                     "1999-01-01,Before the calendar\n");
	struct proc_run r;
	CTL(&r, url, "holidays", "import", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "line 3: date:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 4: name:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 5: date: given twice (first on line 2)") != NULL, "%s",
	              r.err);
	ck_assert_msg(strstr(r.err, "line 7: name: more than 2 fields") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 9: date:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "5 bad line(s)") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "nothing imported") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 2:") == NULL && strstr(r.err, "line 6:") == NULL, "%s",
	              r.err);
	ck_assert_str_eq(r.out, "");
	proc_run_free(&r);
	/* the calendar as it was: 2026 not replaced, no event */
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM non_working_day", NULL), 24);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM audit_event", NULL), events);

	path = write_file("header", "day,holiday\n2026-01-01,New Year's Day\n");
	CTL(&r, url, "holidays", "import", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "line 1: header: must be date,name") != NULL, "%s", r.err);
	proc_run_free(&r);
	unlink(path);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM non_working_day", NULL), 24);

	/* the table's CHECKs are the last line of defence */
	PGresult *res = PQexec(conn, "INSERT INTO non_working_day (day, name) VALUES "
	                             "('2100-01-01', 'Too late')");
	ck_assert_str_eq(db_sqlstate(res), "23514");
	PQclear(res);
	res = PQexec(conn, "INSERT INTO non_working_day (day, name) VALUES ('2026-06-01', '')");
	ck_assert_str_eq(db_sqlstate(res), "23514");
	PQclear(res);
}
END_TEST

START_TEST(test_show_prints_a_year_with_the_weekend_rule)
{
	struct proc_run r;
	CTL(&r, url, "holidays", "show", "2026");
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "2026: Saturdays and Sundays are non-working; no other non-working "
	                        "day is recorded (coolingctl holidays import FILE)\n");
	proc_run_free(&r);

	import_ok(BELARUS_2025_2026);
	CTL(&r, url, "holidays", "show", "2026");
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	ck_assert_msg(strncmp(r.out, "2026: Saturdays and Sundays are always non-working", 50) == 0,
	              "%s", r.out);
	ck_assert_msg(strstr(r.out, "2026-11-07  saturday   October Revolution Day\n") != NULL,
	              "%s", r.out);
	ck_assert_ptr_null(strstr(r.out, "2025-"));
	proc_run_free(&r);

	CTL(&r, url, "holidays", "show", "2025", "--json");
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	json_error_t jerr;
	json_t *o = json_loads(r.out, 0, &jerr);
	ck_assert_msg(o != NULL, "%s", r.out);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "year")), 2025);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "weekend"), 0)),
	                 "saturday");
	json_t *days = json_object_get(o, "days");
	ck_assert_int_eq(json_array_size(days), 14);
	json_t *first = json_array_get(days, 0);
	ck_assert_str_eq(json_string_value(json_object_get(first, "date")), "2025-01-01");
	ck_assert_str_eq(json_string_value(json_object_get(first, "weekday")), "wednesday");
	ck_assert_str_eq(json_string_value(json_object_get(first, "name")), "New Year's Day");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(first, "recorded_at")));
	json_decref(o);
	proc_run_free(&r);

	/* a year out of the calendar's range is a usage error, before any connection */
	CTL(&r, "postgresql://nobody@127.0.0.1:1/none", "holidays", "show", "1999");
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "YEAR must be a year from 2000 to 2099") != NULL, "%s", r.err);
	proc_run_free(&r);
	CTL(&r, url, "holidays", "show", "twenty");
	ck_assert_int_eq(r.status, 2);
	proc_run_free(&r);
}
END_TEST

/* ---- the roles ---- */

/* url as another login: a later user= in the URI wins. */
static char *url_as(const char *user)
{
	size_t n = strlen(url) + strlen(user) + 8;
	char *out = malloc(n);
	ck_assert_ptr_nonnull(out);
	snprintf(out, n, "%s%cuser=%s", url, strchr(url, '?') ? '&' : '?', user);
	return out;
}

/* sql fails with "insufficient privilege" (42501). */
static void refused(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(strcmp(db_sqlstate(r), "42501") == 0, "%s: %s, not 42501", sql,
	              db_sqlstate(r));
	PQclear(r);
}

START_TEST(test_operators_keep_the_calendar_compliance_and_the_daemon_read_it)
{
	static const char *const groups[] = {"coolingd_admin", "coolingd_reader", "coolingd_app"};
	char names[3][64], *urls[3];
	PGconn *server = testdb_connect_quiet(getenv("COOLINGD_TEST_DATABASE_URL"));
	for (int i = 0; i < 3; i++) {
		snprintf(names[i], sizeof(names[i]), "cd_cal_%s_%d", groups[i] + 9, (int)getpid());
		char sql[256];
		snprintf(sql, sizeof(sql),
		         "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN IN ROLE %s", names[i],
		         names[i], groups[i]);
		testdb_exec(server, sql);
		urls[i] = url_as(names[i]);
	}

	/* the operator imports, as its login */
	const char *path = write_file("roles", BELARUS_2025_2026);
	struct proc_run r;
	CTL(&r, urls[0], "holidays", "import", path);
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM audit_event WHERE type = 'holiday_set' "
	                            "AND actor = 'coolingctl:' || $1",
	                            names[0], NULL),
	                 24);
	/* compliance reads it and may not change it */
	CTL(&r, urls[1], "holidays", "show", "2025");
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	proc_run_free(&r);
	CTL(&r, urls[1], "holidays", "import", path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "permission denied") != NULL, "%s", r.err);
	proc_run_free(&r);
	unlink(path);

	PGconn *admin = testdb_connect_quiet(urls[0]);
	testdb_exec(admin, "UPDATE non_working_day SET name = 'x' WHERE day = '2025-01-02'");
	refused(admin, "TRUNCATE non_working_day");
	refused(admin, "ALTER TABLE non_working_day DROP CONSTRAINT non_working_day_name_check");
	PQfinish(admin);
	for (int i = 1; i < 3; i++) {
		PGconn *c = testdb_connect_quiet(urls[i]);
		ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM non_working_day", NULL), 24);
		ck_assert_int_eq(
		    testdb_num(c,
		               "SELECT (cd_next_working_day_start('2025-07-02T12:00:00Z', "
		               "'Europe/Minsk') = '2025-07-06T21:00:00Z')::int",
		               NULL),
		    1);
		refused(c, "INSERT INTO non_working_day (day, name) VALUES ('2025-06-02', 'x')");
		refused(c, "UPDATE non_working_day SET name = 'x'");
		refused(c, "DELETE FROM non_working_day");
		PQfinish(c);
	}

	for (int i = 0; i < 3; i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "DROP ROLE %s", names[i]);
		testdb_exec(server, sql);
		free(urls[i]);
	}
	PQfinish(server);
}
END_TEST

/* ---- the end of a loan cooled until the next working day ---- */

static int64_t T(const char *s)
{
	int64_t t = 0;
	ck_assert(ts_parse_rfc3339(s, &t, NULL));
	return t;
}

/* The local date in Minsk of an instant. */
static int64_t minsk_day(int64_t at)
{
	int64_t us = at + MINSK_OFFSET_US, day = us / (86400 * USEC_PER_SEC);
	return us < 0 && us % (86400 * USEC_PER_SEC) != 0 ? day - 1 : day;
}

/* A by-2025-11 online loan approved at approved_at, with its consent then
 * when consent_at is not TS_NULL, recorded by STMT_LOAN_INSERT; the row as
 * written. */
static struct loan approve_by(const char *loan_id, int64_t approved_at, int64_t consent_at)
{
	struct policy p;
	ck_assert(policy_profile("by-2025-11", &p));
	struct loan l;
	memset(&l, 0, sizeof(l));
	snprintf(l.lender, sizeof(l.lender), "B1");
	snprintf(l.loan_id, sizeof(l.loan_id), "%s", loan_id);
	memcpy(l.borrower_iin, "900101300126", 13);
	l.amount_tiyn = 150000;
	l.channel = CHANNEL_ONLINE;
	l.approved_at = approved_at;
	l.consent_at = consent_at;
	l.in_person_verified_at = l.disbursed_at = l.cancelled_at = TS_NULL;
	l.extra_confirmed_at = l.reconfirmed_at = l.trusted_person_confirmed_at = TS_NULL;
	l.in_person_reasons = 0;
	policy_assess(&p, 0, &l);
	l.cooling_ends_at = policy_cooling_ends_at(&l, consent_at);
	ck_assert(l.cooling_ends_at == TS_NULL); /* the database's */
	struct db_params dp;
	PGresult *r = PQexecPrepared(conn, db_statements[STMT_LOAN_INSERT].name,
	                             db_statements[STMT_LOAN_INSERT].nparams,
	                             db_loan_insert_params(&dp, &l, "test", "{}"), NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	struct loan got;
	int64_t now, day_total, burst;
	ck_assert(db_loan_insert_result(r, &got, &now, &day_total, &burst));
	PQclear(r);
	return got;
}

/* Records the consent of l at consent_at through STMT_CONSENT, as the
 * daemon does: C decides, the statement computes the end. */
static struct loan consent_by(const struct loan *l, int64_t consent_at)
{
	struct consent_req q = {.consent_at = consent_at};
	/* the instants are the test's, not the clock's */
	struct ts_window w = {.skew_s = 0, .backdate_s = INT64_C(100) * 365 * 86400};
	struct act_outcome o;
	ck_assert_int_eq(loan_consent_decide(l, &q, consent_at, &w, &o), ACT_WRITE);
	struct db_params dp;
	PGresult *r = PQexecPrepared(conn, db_statements[STMT_CONSENT].name,
	                             db_statements[STMT_CONSENT].nparams,
	                             db_params_consent(&dp, l, &o, "test", "{}"), NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	struct loan got;
	int64_t now;
	ck_assert(db_loan_row(r, 0, &got, &now));
	PQclear(r);
	return got;
}

/* The end that a consent event of the loan keeps, as the API writes it. */
static void assert_event_end(const char *loan_id, const char *type, int64_t want)
{
	const char *params[] = {loan_id, type};
	PGresult *r = PQexecParams(conn,
	                           "SELECT detail->>'cooling_ends_at' FROM audit_event "
	                           "WHERE loan_id = $1 AND type = $2",
	                           2, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", loan_id,
	              PQresultErrorMessage(r));
	char ts[TS_BUF];
	ts_format_utc(want, ts);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), ts);
	PQclear(r);
}

START_TEST(test_a_consent_ends_a_calendar_loan_at_the_next_working_day_as_the_c_twin_says)
{
	struct cd_error err;
	ck_assert_msg(db_prepare_all(conn, &err), "%s", err.message);
	testdb_exec(conn, "INSERT INTO lender (id, kind) VALUES ('B1', 'bank')");
	import_ok(BELARUS_2025_2026);
	size_t n;
	int64_t *off = listed_days(2025, 2027, &n);

	static const struct {
		const char *consent, *ends;
	} cases[] = {
	    /* Friday 28 November 2025, noon in Minsk: Monday 1 December */
	    {"2025-11-28T09:00:00Z", "2025-11-30T21:00:00Z"},
	    /* Friday 19 December, the last microsecond of its evening: Monday */
	    {"2025-12-19T20:59:59.999999Z", "2025-12-21T21:00:00Z"},
	    /* Wednesday 24 December: Christmas, a day off, the weekend */
	    {"2025-12-24T09:00:00Z", "2025-12-28T21:00:00Z"},
	    /* Tuesday 30 December, 23:59:59.999999 in Minsk: Wednesday 31 */
	    {"2025-12-30T20:59:59.999999Z", "2025-12-30T21:00:00Z"},
	    /* ... and a microsecond later, Wednesday 00:00: Monday 5 January */
	    {"2025-12-30T21:00:00Z", "2026-01-04T21:00:00Z"},
	    /* Sunday 6 July 2025 at 23:00 in Minsk: Monday 7 */
	    {"2025-07-06T20:00:00Z", "2025-07-06T21:00:00Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t consent = T(cases[i].consent), want = T(cases[i].ends);
		/* the C twin says the same */
		ck_assert_msg(
		    minsk_midnight(calendar_next_working_day(minsk_day(consent), off, n)) == want,
		    "C twin, consent %s", cases[i].consent);

		char id[32];
		snprintf(id, sizeof(id), "LATER-%zu", i);
		struct loan l = approve_by(id, consent - 3600 * USEC_PER_SEC, TS_NULL);
		ck_assert(l.cooling_required);
		ck_assert(l.cooling_ends_at == TS_NULL);
		ck_assert_str_eq(l.cooling_calendar_zone, "Europe/Minsk");
		struct loan c = consent_by(&l, consent);
		ck_assert_msg(c.cooling_ends_at == want, "consent %s", cases[i].consent);
		assert_event_end(id, "consent_recorded", want);

		snprintf(id, sizeof(id), "WITH-%zu", i);
		struct loan a = approve_by(id, consent, consent);
		ck_assert_msg(a.cooling_ends_at == want, "approval with consent %s",
		              cases[i].consent);
		assert_event_end(id, "approval_recorded", want);
	}
	/* no length is recorded, the zone is */
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM loan WHERE cooling_period_s IS NULL "
	                            "AND cooling_calendar_zone = 'Europe/Minsk' "
	                            "AND rule = 'next_working_day' AND currency = 'BYN'",
	                            NULL),
	                 12);
	free(off);
}
END_TEST

START_TEST(test_a_day_imported_after_the_consent_does_not_move_its_end)
{
	struct cd_error err;
	ck_assert_msg(db_prepare_all(conn, &err), "%s", err.message);
	testdb_exec(conn, "INSERT INTO lender (id, kind) VALUES ('B1', 'bank')");
	import_ok(BELARUS_2025_2026);
	/* Monday 1 December 2025 is a working day when the consent comes */
	int64_t friday = T("2025-11-28T09:00:00Z"), monday = T("2025-11-30T21:00:00Z");
	struct loan kept = approve_by("KEPT", friday - 3600 * USEC_PER_SEC, TS_NULL);
	ck_assert(consent_by(&kept, friday).cooling_ends_at == monday);

	/* then the Monday becomes a day off */
	import_ok(BELARUS_2025_2026 "2025-12-01,Day off (moved from Saturday 13 December)\r\n");
	ck_assert_int_eq(
	    testdb_num(conn, "SELECT cd_us(cooling_ends_at) FROM loan WHERE loan_id = 'KEPT'",
	               NULL),
	    monday);
	/* a consent recorded after it takes it */
	struct loan later = approve_by("LATER", friday - 3600 * USEC_PER_SEC, TS_NULL);
	ck_assert(consent_by(&later, friday).cooling_ends_at == T("2025-12-01T21:00:00Z"));
}
END_TEST

static Suite *calendar_suite(void)
{
	Suite *s = suite_create("calendar");
	TCase *tc = tcase_create("db");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sql_and_c_agree_on_every_day_of_two_years_and_at_minsk_midnight);
	tcase_add_test(tc, test_import_replaces_the_years_of_the_file_and_no_others);
	tcase_add_test(tc, test_a_bad_file_is_refused_whole_naming_each_bad_line);
	tcase_add_test(tc, test_show_prints_a_year_with_the_weekend_rule);
	tcase_add_test(tc, test_operators_keep_the_calendar_compliance_and_the_daemon_read_it);
	tcase_add_test(
	    tc, test_a_consent_ends_a_calendar_loan_at_the_next_working_day_as_the_c_twin_says);
	tcase_add_test(tc, test_a_day_imported_after_the_consent_does_not_move_its_end);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(calendar_suite)

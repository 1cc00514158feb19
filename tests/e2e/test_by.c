/*
 * Profile by-2025-11 end to end (REGULATION.md, "More countries", Belarus;
 * CONTRACT.md v1.2, "Profiles as dated data, and more countries"): the
 * real coolingd under by-2025-11 and a calendar imported with `coolingctl
 * holidays import`, relative to the database's today in Minsk: a holiday
 * tomorrow, and a Monday off after a Friday of three weeks ago. An online
 * loan consented now waits until the start of the next working day after
 * tomorrow's holiday, and its payout is refused with Retry-After; one
 * consented on a Friday waits until Monday 00:00 Minsk (Tuesday after a
 * Monday off) and is paid out after it; a consent at the last second of an
 * evening ends at the next midnight, one a second later a working day
 * after; goods and a branch loan are not held; an approval in another
 * currency is refused; the policy names the calendar's zone. Every
 * expected end is the C twin's (calendar_next_working_day()) at the
 * database's Minsk midnight.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "check_main.h"
#include "support/daemon.h"
#include "support/e2e.h"
#include "support/httpc.h"
#include "support/proc.h"
#include "timeutil.h"

static const char *const by_env[] = {"COOLINGD_POLICY_PROFILE=by-2025-11",
                                     "COOLINGD_POLICY_TIMEZONE=Europe/Minsk",
                                     /* the Fridays of the last three weeks */
                                     "COOLINGD_POLICY_MAX_BACKDATE=25d", NULL};

static struct e2e_env env;
static char *bank; /* lender BANK1 */

/* The calendar the test imports, as local dates (days since 1970-01-01),
 * ascending: tomorrow, and the Monday after the Friday of three weeks
 * ago. */
static int64_t today, off[2];
static int64_t friday_free, friday_before_a_day_off;

static int64_t minsk_today(void)
{
	return e2e_sql_num(
	    &env, "SELECT (now() AT TIME ZONE 'Europe/Minsk')::date - DATE '1970-01-01'", NULL);
}

/* The start of a local date in Minsk, as the database reads it. */
static int64_t minsk_midnight(int64_t day)
{
	char d[24];
	snprintf(d, sizeof d, "%lld", (long long)day);
	return e2e_sql_num(&env,
	                   "SELECT cd_us((DATE '1970-01-01' + $1::integer)::timestamp "
	                   "AT TIME ZONE 'Europe/Minsk')",
	                   d, NULL);
}

static void iso_date(int64_t day, char out[16])
{
	int64_t y;
	unsigned m, d;
	civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04lld-%02u-%02u", (long long)y, m, d);
}

static void import_calendar(void)
{
	today = minsk_today();
	/* the Friday 15 to 21 days ago, and the one a week later */
	friday_before_a_day_off = today - 15;
	while (calendar_weekday(friday_before_a_day_off) != 5)
		friday_before_a_day_off--;
	friday_free = friday_before_a_day_off + 7;
	off[0] = friday_before_a_day_off + 3;
	off[1] = today + 1;
	char path[256], a[16], b[16];
	snprintf(path, sizeof path, "%s/by-holidays-%d.csv",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	iso_date(off[0], a);
	iso_date(off[1], b);
	fprintf(f, "date,name\n%s,Day off (moved)\n%s,Test holiday\n", a, b);
	fclose(f);
	int code = -1;
	char *out = run_ctl(env.db_url, &code, "holidays import %s", path);
	ck_assert_msg(out != NULL && code == 0, "holidays import: exit %d", code);
	free(out);
	unlink(path);
}

static void start(void)
{
	e2e_start(&env, "by", by_env);
	e2e_lender_add(&env, "BANK1", "bank");
	bank = e2e_client_add(&env, "core1", "lender", "BANK1");
	import_calendar();
}

static void stop(void)
{
	free(bank);
	e2e_stop(&env);
}

/* The end the law gives a consent at `at` (microseconds): the next working
 * day's start after its Minsk date, by the C twin over the imported days. */
static int64_t end_of_consent_at(int64_t at)
{
	int64_t day = today;
	while (minsk_midnight(day) > at)
		day--;
	while (minsk_midnight(day + 1) <= at)
		day++;
	return minsk_midnight(calendar_next_working_day(day, off, 2));
}

static void ts_text(int64_t us, char out[TS_BUF])
{
	ts_format_utc(us, out);
}

/* A repeat borrower's online loan in Belarusian roubles, with its consent
 * at `consent` (approved then too) unless it is TS_NULL; extra as
 * e2e_loan's. Asserts what every held loan of the profile shows. */
static void approve(const char *loan_id, unsigned seed, int64_t consent, const char *extra,
                    struct http_resp *r)
{
	char at[TS_BUF];
	if (consent != TS_NULL)
		ts_text(consent, at);
	struct e2e_loan o = {.iin_seed = seed,
	                     .amount = "500.00",
	                     .currency = "BYN",
	                     .approved_at = consent != TS_NULL ? at : NULL,
	                     .consent_at = consent != TS_NULL ? at : NULL,
	                     .extra = extra};
	e2e_approve_under(&env, bank, "BANK1", loan_id, "by-2025-11", &o, r);
}

static void assert_held_until(json_t *loan, int64_t want)
{
	E2E_ASSERT_JSTR(loan, "rule", "next_working_day");
	E2E_ASSERT_JSTR(loan, "exemption", NULL);
	ck_assert(json_is_true(e2e_json_at(loan, "cooling_required")));
	/* no length: the end is the calendar's, and the loan names its zone */
	ck_assert(json_is_null(e2e_json_at(loan, "cooling_period_seconds")));
	E2E_ASSERT_JSTR(loan, "cooling_calendar_zone", "Europe/Minsk");
	E2E_ASSERT_JSTR(loan, "threshold_amount", "0.00");
	char ends[TS_BUF];
	ts_text(want, ends);
	E2E_ASSERT_JSTR(loan, "cooling_ends_at", ends);
	ck_assert(json_is_false(e2e_json_at(loan, "in_person_required")));
	ck_assert(json_is_false(e2e_json_at(loan, "reconfirmation_required")));
	ck_assert(json_is_false(e2e_json_at(loan, "extra_confirmation_required")));
}

START_TEST(test_by_a_consent_now_waits_past_tomorrows_holiday_and_the_payout_is_refused)
{
	struct http_resp r;
	approve("NOW-1", 101, TS_NULL, NULL, &r);
	E2E_ASSERT_JSTR(r.json, "cooling_ends_at", NULL);
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_consent");
	http_resp_free(&r);
	e2e_act(&env, bank, "BANK1", "NOW-1", "consent", "{}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	int64_t consent = e2e_ts_parse(e2e_jstr(r.json, "consent_at"));
	int64_t want = end_of_consent_at(consent);
	/* tomorrow is a holiday: not before the day after it */
	ck_assert(want >= minsk_midnight(today + 2));
	if (calendar_is_working_day(today + 2, off, 2))
		ck_assert(want == minsk_midnight(today + 2));
	assert_held_until(r.json, want);
	E2E_ASSERT_JSTR(r.json, "status", "cooling");
	http_resp_free(&r);

	int64_t before = e2e_wall_us();
	e2e_disburse(&env, bank, "BANK1", "NOW-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   NULL);
	char ends[TS_BUF];
	ts_text(want, ends);
	E2E_ASSERT_JSTR(r.json, "earliest_disbursement_at", ends);
	int ra = e2e_retry_after(&r);
	long long left = (want - before) / USEC_PER_SEC;
	ck_assert_msg(ra >= left - 5 && ra <= left + 5, "Retry-After %d, %lld s left", ra, left);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", "NOW-1", "disbursement_allowed"), 0);
}
END_TEST

START_TEST(test_by_a_friday_consent_ends_on_monday_or_after_a_monday_off_and_is_paid_then)
{
	struct {
		const char *loan_id;
		int64_t friday, want_day;
	} cases[] = {
	    {"FRI-1", friday_free, friday_free + 3},
	    /* the Monday is a day off: Tuesday */
	    {"FRI-2", friday_before_a_day_off, friday_before_a_day_off + 4},
	};
	for (size_t i = 0; i < 2; i++) {
		/* noon in Minsk */
		int64_t consent =
		    minsk_midnight(cases[i].friday) + INT64_C(12) * 3600 * USEC_PER_SEC;
		int64_t want = minsk_midnight(cases[i].want_day);
		ck_assert(end_of_consent_at(consent) == want);

		/* the consent with the approval */
		char id[32];
		snprintf(id, sizeof id, "%s-A", cases[i].loan_id);
		struct http_resp r;
		approve(id, 200 + (unsigned)i, consent, NULL, &r);
		assert_held_until(r.json, want);
		http_resp_free(&r);

		/* and the consent after it */
		snprintf(id, sizeof id, "%s-C", cases[i].loan_id);
		char at[TS_BUF], body[96];
		ts_text(consent - 60 * USEC_PER_SEC, at);
		struct e2e_loan o = {.iin_seed = 210 + (unsigned)i,
		                     .amount = "500.00",
		                     .currency = "BYN",
		                     .approved_at = at};
		e2e_approve(&env, bank, "BANK1", id, &o, NULL);
		ts_text(consent, at);
		snprintf(body, sizeof body, "{\"consent_at\":\"%s\"}", at);
		e2e_act(&env, bank, "BANK1", id, "consent", body, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		assert_held_until(r.json, want);
		/* the end has passed */
		E2E_ASSERT_JSTR(r.json, "status", "eligible");
		http_resp_free(&r);
		e2e_disburse(&env, bank, "BANK1", id, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_by_the_last_second_of_an_evening_ends_at_midnight_the_next_one_a_day_later)
{
	/* a day whose next is a working day, at most a week ago */
	int64_t d = today - 2;
	while (!calendar_is_working_day(d + 1, off, 2))
		d--;
	int64_t midnight = minsk_midnight(d + 1);
	struct {
		const char *loan_id;
		int64_t consent, want;
	} cases[] = {
	    {"EVE-1", midnight - USEC_PER_SEC, midnight},
	    {"MID-1", midnight, minsk_midnight(calendar_next_working_day(d + 1, off, 2))},
	};
	ck_assert(cases[1].want > cases[0].want);
	for (size_t i = 0; i < 2; i++) {
		ck_assert(end_of_consent_at(cases[i].consent) == cases[i].want);
		struct http_resp r;
		approve(cases[i].loan_id, 300 + (unsigned)i, cases[i].consent, NULL, &r);
		assert_held_until(r.json, cases[i].want);
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_by_goods_and_a_branch_loan_are_not_held)
{
	static const struct {
		const char *loan_id, *extra, *channel, *exemption;
	} cases[] = {
	    {"X-GOODS", ",\"product\":\"goods\"", "online", "goods"},
	    {"X-BRANCH", NULL, "branch", "branch"},
	};
	for (size_t i = 0; i < 2; i++) {
		struct e2e_loan o = {.iin_seed = 400 + (unsigned)i,
		                     .amount = "5000.00",
		                     .currency = "BYN",
		                     .channel = cases[i].channel,
		                     .consent_now = true,
		                     .extra = cases[i].extra};
		struct http_resp r;
		e2e_approve(&env, bank, "BANK1", cases[i].loan_id, &o, &r);
		E2E_ASSERT_JSTR(r.json, "exemption", cases[i].exemption);
		E2E_ASSERT_JSTR(r.json, "rule", NULL);
		E2E_ASSERT_JSTR(r.json, "cooling_ends_at", NULL);
		E2E_ASSERT_JSTR(r.json, "cooling_calendar_zone", NULL);
		ck_assert(json_is_false(e2e_json_at(r.json, "cooling_required")));
		http_resp_free(&r);
		e2e_disburse(&env, bank, "BANK1", cases[i].loan_id, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(test_by_an_approval_in_another_currency_is_422_on_currency_and_writes_nothing)
{
	static const char *const currencies[] = {"KZT", "RUB"};
	for (size_t i = 0; i < 2; i++) {
		char id[16];
		snprintf(id, sizeof id, "CUR-%s", currencies[i]);
		struct e2e_loan o = {
		    .iin_seed = 500 + (unsigned)i, .amount = "500.00", .currency = currencies[i]};
		e2e_assert_currency_refused(&env, bank, "BANK1", id, &o);
	}
}
END_TEST

START_TEST(test_by_policy_show_names_the_calendar_and_no_number)
{
	struct http_resp r;
	e2e_call(&env, "GET", "/v1/policy", bank, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "profile", "by-2025-11");
	E2E_ASSERT_JSTR(r.json, "currency", "BYN");
	E2E_ASSERT_JSTR(r.json, "calendar_zone", "Europe/Minsk");
	json_t *band = json_array_get(e2e_json_at(r.json, "rules"), 0);
	E2E_ASSERT_JSTR(band, "rule", "next_working_day");
	ck_assert(json_is_null(json_object_get(band, "period_seconds")));
	ck_assert_int_eq(json_array_size(e2e_json_at(r.json, "rules")), 1);
	http_resp_free(&r);

	/* coolingctl's, from the same configuration */
	struct proc_run p;
	proc_ctl(&p, NULL, by_env, NULL, "policy", "show", (const char *)NULL);
	ck_assert_msg(p.status == 0, "exit %d: %s %s", p.status, p.out, p.err);
	ck_assert_msg(strstr(p.out, "next_working_day any  every amount: wait until the start of "
	                            "the next working day after consent (Europe/Minsk") != NULL,
	              "%s", p.out);
	ck_assert_msg(strstr(p.out, "currency: BYN") != NULL, "%s", p.out);
	proc_run_free(&p);
}
END_TEST

static Suite *by_suite(void)
{
	Suite *s = suite_create("by");
	TCase *tc = tcase_create("by-2025-11");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, start, stop);
	tcase_add_test(
	    tc, test_by_a_consent_now_waits_past_tomorrows_holiday_and_the_payout_is_refused);
	tcase_add_test(
	    tc, test_by_a_friday_consent_ends_on_monday_or_after_a_monday_off_and_is_paid_then);
	tcase_add_test(
	    tc, test_by_the_last_second_of_an_evening_ends_at_midnight_the_next_one_a_day_later);
	tcase_add_test(tc, test_by_goods_and_a_branch_loan_are_not_held);
	tcase_add_test(
	    tc, test_by_an_approval_in_another_currency_is_422_on_currency_and_writes_nothing);
	tcase_add_test(tc, test_by_policy_show_names_the_calendar_and_no_number);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(by_suite)

/*
 * The date that picks a schedule's profile is the approval's local date in
 * policy.timezone, and the database computes it (the approval context's
 * approval_day): here that statement, run on approvals just before and at
 * Almaty's midnight (19:00:00Z the day before: UTC+5), feeds the C
 * selection (policy_in_force) and the approval's decision
 * (loan_approval_decide), as the daemon does, and the loan records the
 * profile of its own local date.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "db.h"
#include "loan.h"
#include "policy.h"
#include "support/testdb.h"
#include "timeutil.h"

#define TZ "Asia/Almaty"

static char *url;
static PGconn *conn;

static void setup(void)
{
	url = testdb_create("schedule_day");
	conn = testdb_connect_quiet(url);
	testdb_exec(conn, "INSERT INTO lender (id, kind) VALUES ('B', 'bank')");
}

static void teardown(void)
{
	PQfinish(conn);
	testdb_drop(url);
	free(url);
}

static int64_t at(const char *rfc3339)
{
	int64_t us;
	const char *why;
	ck_assert_msg(ts_parse_rfc3339(rfc3339, &us, &why), "%s", rfc3339);
	return us;
}

/* A bank's online consumer loan of 700,000 tenge (above 150 MRP, up to
 * 255 MRP in 2025) approved at approved_at (TS_NULL: now), decided as the
 * daemon decides it under schedule s: the context's statement, its day,
 * the profile of that day. Returns the loan's local date. */
static int64_t decide(const struct policy_schedule *s, int64_t approved_at, struct loan *out)
{
	struct approval_req a = {.loan_id = "L",
	                         .borrower_iin = "900101300126",
	                         .amount_tiyn = 70000000,
	                         .currency = "KZT",
	                         .channel = CHANNEL_ONLINE,
	                         .product = PRODUCT_CONSUMER,
	                         .has_first_time = true,
	                         .first_time_borrower = false,
	                         .approved_at = approved_at,
	                         .consent_at = TS_NULL};
	struct db_params p;
	const char *const *v = db_params_approval_context(&p, "B", &a, TZ, "B", 0, 0, true, NULL);
	const struct stmt_def *st = &db_statements[STMT_APPROVAL_CONTEXT];
	PGresult *res = PQexecParams(conn, st->sql, st->nparams, NULL, v, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
	struct approval_context ctx;
	ck_assert(db_approval_context(res, &ctx));
	PQclear(res);
	/* the backdate window is the daemon's to apply, not this test's */
	struct ts_window w = {.skew_s = 120, .backdate_s = 100LL * 365 * 86400};
	struct act_outcome o;
	const struct policy *policy = policy_in_force(s, ctx.approval_day);
	ck_assert_int_eq(loan_approval_decide(policy, "B", &a, &ctx, &w, out, &o), ACT_WRITE);
	return ctx.approval_day;
}

START_TEST(test_the_profile_switches_at_almaty_midnight_not_utc_midnight)
{
	struct policy_schedule s;
	const char *why;
	ck_assert(policy_schedule_parse("kz-card, kz-2025-09@2025-09-30", &s, &why));
	struct loan l;

	/* 23:59:59.999999 in Almaty on 29 September: the old profile */
	ck_assert_int_eq(decide(&s, at("2025-09-29T18:59:59.999999Z"), &l),
	                 days_from_civil(2025, 9, 29));
	ck_assert_str_eq(l.policy, "kz-card");
	ck_assert_int_eq(l.rule, RULE_CARD);
	ck_assert_int_eq(l.cooling_period_s, 24 * 3600);

	/* midnight in Almaty: 30 September, the new one, though UTC is still
	 * on the 29th */
	ck_assert_int_eq(decide(&s, at("2025-09-29T19:00:00Z"), &l), days_from_civil(2025, 9, 30));
	ck_assert_str_eq(l.policy, "kz-2025-09");
	ck_assert_int_eq(l.rule, RULE_BANK_SHORT);
	ck_assert_int_eq(l.cooling_period_s, 8 * 3600);
	ck_assert(l.reconfirmation_required);

	/* the same moments written with Almaty's offset */
	ck_assert_int_eq(decide(&s, at("2025-09-29T23:59:59+05:00"), &l),
	                 days_from_civil(2025, 9, 29));
	ck_assert_str_eq(l.policy, "kz-card");
	ck_assert_int_eq(decide(&s, at("2025-09-30T00:00:00+05:00"), &l),
	                 days_from_civil(2025, 9, 30));
	ck_assert_str_eq(l.policy, "kz-2025-09");
}
END_TEST

/* An approval without approved_at is on the database's local today: a
 * schedule switching today decides it by the new profile, one switching
 * tomorrow by the old. */
START_TEST(test_an_approval_of_now_takes_the_profile_of_the_databases_local_today)
{
	long long today = testdb_num(
	    conn, "SELECT (now() AT TIME ZONE '" TZ "')::date - DATE '1970-01-01'", NULL);
	for (int shift = 0; shift <= 1; shift++) {
		int64_t y;
		unsigned m, d;
		civil_from_days(today + shift, &y, &m, &d);
		char text[64];
		snprintf(text, sizeof text, "kz-card, kz-2025-09@%04lld-%02u-%02u", (long long)y, m,
		         d);
		struct policy_schedule s;
		const char *why;
		ck_assert(policy_schedule_parse(text, &s, &why));
		struct loan l;
		int64_t day = decide(&s, TS_NULL, &l);
		if (day != today) { /* Almaty's midnight came in between: once more */
			today = day;
			shift = -1;
			continue;
		}
		ck_assert_str_eq(l.policy, shift == 0 ? "kz-2025-09" : "kz-card");
	}
}
END_TEST

static Suite *schedule_day_suite(void)
{
	Suite *s = suite_create("schedule_day");
	TCase *tc = tcase_create("day");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_the_profile_switches_at_almaty_midnight_not_utc_midnight);
	tcase_add_test(tc, test_an_approval_of_now_takes_the_profile_of_the_databases_local_today);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(schedule_day_suite)

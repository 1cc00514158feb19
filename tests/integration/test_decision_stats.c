/*
 * The decision statistics' rollup (sql/008_decision_stats.sql) and its
 * statement (STMT_DECISION_STATS, lib/db/statements.c) against the real PostgreSQL:
 *
 * - decision_hourly, kept by the sealer (cd_audit_seal) as it chains
 *   events, batch by batch, always equals a recount written here from the sealed
 *   audit events (per UTC hour, lender, decision and blocker; a refusal
 *   once in its decision and once per distinct blocker), also for events
 *   whose detail is odd, and the sealer never stops on one;
 * - unsealed events are not counted;
 * - day buckets follow the Almaty local date: 2025-12-31T18:30Z is still
 *   31 December there, 2025-12-31T19:30Z is 1 January 2026 (its bucket
 *   starts at 2025-12-31T19:00:00Z), hour buckets are UTC hours, empty
 *   buckets are listed, and more than 1000 buckets give none.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "db.h"
#include "support/testdb.h"
#include "timeutil.h"

static char *url;
static PGconn *c;

static void setup(void)
{
	url = testdb_create("decision_stats");
	c = testdb_connect(url);
}

static void teardown(void)
{
	PQfinish(c);
	testdb_drop(url);
	free(url);
}

/* A decision event as the daemon writes it, at a given time. */
static void add_decision(const char *lender, const char *at, const char *type, const char *detail)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO audit_event (at, actor, lender_id, loan_id, type, detail) "
	         "VALUES ('%s', 'core', %s%s%s, 'LN', '%s', '%s')",
	         at, lender ? "'" : "", lender ? lender : "NULL", lender ? "'" : "", type, detail);
	testdb_exec(c, sql);
}

/* Rows of the rollup that the recount lacks, or the other way round. */
static long long rollup_differences(void)
{
	static const char recount[] =
	    "WITH d AS (SELECT e.id, e.at, coalesce(e.lender_id, '') AS lender_id, e.type, "
	    "e.detail "
	    "  FROM audit_chain c JOIN audit_event e ON e.id = c.event_id "
	    "  WHERE e.type IN ('disbursement_allowed', 'disbursement_refused')), "
	    "k AS (SELECT at, lender_id, CASE WHEN type = 'disbursement_allowed' THEN 'allowed' "
	    "  ELSE 'refused' END AS decision, '' AS blocker FROM d "
	    "  UNION ALL "
	    "  SELECT DISTINCT ON (d.id, b) at, lender_id, 'refused', b FROM d, "
	    "  jsonb_array_elements_text(d.detail -> 'blockers') b "
	    "  WHERE d.type = 'disbursement_refused' AND jsonb_typeof(d.detail -> 'blockers') = "
	    "  'array' AND b <> ''), "
	    "r AS (SELECT date_trunc('hour', at AT TIME ZONE 'UTC') AS hour, lender_id, decision, "
	    "  blocker, count(*) AS n FROM k GROUP BY 1, 2, 3, 4), "
	    "h AS (SELECT hour AT TIME ZONE 'UTC' AS hour, lender_id, decision, blocker, n "
	    "  FROM decision_hourly) "
	    "SELECT (SELECT count(*) FROM (SELECT * FROM r EXCEPT SELECT * FROM h) x) + "
	    "(SELECT count(*) FROM (SELECT * FROM h EXCEPT SELECT * FROM r) y)";
	return testdb_num(c, recount, NULL);
}

START_TEST(test_rollup_equals_a_recount_from_the_sealed_events)
{
	/* 3,000 decisions of 7 lenders over 40 hours, refusals with one, two
	 * or a repeated blocker, and other events in between */
	testdb_exec(
	    c, "INSERT INTO audit_event (at, actor, lender_id, loan_id, type, detail) "
	       "SELECT timestamptz '2026-03-01 00:00:00+00' + g * interval '47 seconds', "
	       "'core', 'L' || (g % 7), 'LN-' || g, "
	       "CASE WHEN g % 5 = 0 THEN 'approval_recorded' WHEN g % 3 = 0 "
	       "  THEN 'disbursement_allowed' ELSE 'disbursement_refused' END, "
	       "CASE WHEN g % 5 = 0 OR g % 3 = 0 THEN '{}'::jsonb "
	       "  WHEN g % 4 = 0 THEN '{\"blockers\": [\"consent_missing\"]}' "
	       "  WHEN g % 4 = 1 THEN '{\"blockers\": [\"cooling_period_active\", "
	       "    \"in_person_verification_missing\"]}' "
	       "  WHEN g % 4 = 2 THEN '{\"blockers\": [\"x_new_blocker\", \"x_new_blocker\"]}' "
	       "  ELSE '{\"blockers\": [\"cooling_period_active\"]}' END "
	       "FROM generate_series(1, 3000) g");
	testdb_seal(c);
	ck_assert_int_gt(testdb_num(c, "SELECT count(*) FROM decision_hourly", NULL), 100);
	ck_assert_int_eq(rollup_differences(), 0);
	/* a refusal counts once in refused, whatever its blockers */
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT sum(n) FROM decision_hourly WHERE decision = 'refused' "
	                            "AND blocker = ''",
	                            NULL),
	                 testdb_num(c,
	                            "SELECT count(*) FROM audit_event "
	                            "WHERE type = 'disbursement_refused'",
	                            NULL));
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT sum(n) FROM decision_hourly "
	                            "WHERE blocker = 'x_new_blocker'",
	                            NULL),
	                 testdb_num(c,
	                            "SELECT count(*) FROM audit_event "
	                            "WHERE detail @> '{\"blockers\": [\"x_new_blocker\"]}'",
	                            NULL));

	/* more, in the hours already counted: added to the same rows */
	add_decision("L1", "2026-03-01 05:10:00+00", "disbursement_allowed", "{}");
	add_decision("L1", "2026-03-01 05:20:00+00", "disbursement_refused",
	             "{\"blockers\": [\"consent_missing\"]}");
	testdb_seal(c);
	ck_assert_int_eq(rollup_differences(), 0);
}
END_TEST

START_TEST(test_odd_details_neither_stop_the_sealer_nor_count_wrong)
{
	add_decision(NULL, "2026-04-01 10:00:00+00", "disbursement_refused",
	             "{\"blockers\": [\"consent_missing\"]}");
	add_decision("L1", "2026-04-01 10:00:00+00", "disbursement_refused", "{\"blockers\": 5}");
	add_decision("L1", "2026-04-01 10:00:00+00", "disbursement_refused", "{}");
	add_decision("L1", "2026-04-01 10:00:00+00", "disbursement_refused",
	             "{\"blockers\": [\"\", \"consent_missing\"]}");
	testdb_exec(c, "INSERT INTO audit_event (actor, type) VALUES ('core', 'mrp_set')");
	long long before = testdb_num(c, "SELECT count(*) FROM audit_chain", NULL);
	testdb_seal(c);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_chain", NULL), before + 5);
	ck_assert_int_eq(rollup_differences(), 0);
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT n FROM decision_hourly WHERE lender_id = 'L1' "
	                            "AND hour = '2026-04-01 10:00:00+00' AND blocker = ''",
	                            NULL),
	                 3);
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT n FROM decision_hourly WHERE lender_id = 'L1' "
	                            "AND hour = '2026-04-01 10:00:00+00' "
	                            "AND blocker = 'consent_missing'",
	                            NULL),
	                 1);
}
END_TEST

START_TEST(test_unsealed_decisions_are_not_counted_yet)
{
	testdb_exec(c, "BEGIN");
	add_decision("U1", "2026-05-01 10:00:00+00", "disbursement_allowed", "{}");
	PGconn *other = testdb_connect(url);
	testdb_seal(other); /* the open transaction holds the event back */
	ck_assert_int_eq(
	    testdb_num(other, "SELECT count(*) FROM decision_hourly WHERE lender_id = 'U1'", NULL),
	    0);
	testdb_exec(c, "COMMIT");
	testdb_seal(other);
	ck_assert_int_eq(
	    testdb_num(other, "SELECT sum(n) FROM decision_hourly WHERE lender_id = 'U1'", NULL),
	    1);
	PQfinish(other);
}
END_TEST

/* A sealing that takes part of what waits counts exactly the decisions it
 * chains: the rest are counted by the sealing that chains them. */
START_TEST(test_a_partial_sealing_counts_exactly_the_decisions_it_chains)
{
	for (int i = 0; i < 7; i++)
		add_decision("P1", "2026-06-01 10:00:00+00", "disbursement_allowed", "{}");
	long long before = testdb_num(c, "SELECT count(*) FROM audit_chain", NULL);
	ck_assert_int_eq(testdb_num(c, "SELECT cd_audit_seal(3)", NULL), 3);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_chain", NULL), before + 3);
	ck_assert_int_eq(
	    testdb_num(c, "SELECT sum(n) FROM decision_hourly WHERE lender_id = 'P1'", NULL), 3);
	ck_assert_int_eq(rollup_differences(), 0);
	testdb_seal(c);
	ck_assert_int_eq(
	    testdb_num(c, "SELECT sum(n) FROM decision_hourly WHERE lender_id = 'P1'", NULL), 7);
	ck_assert_int_eq(rollup_differences(), 0);
}
END_TEST

/* The buckets of the statement as {"buckets": [...]}. */
static json_t *stats(const char *from, const char *to, const char *bucket, const char *lender,
                     int64_t *nbuckets)
{
	int64_t f, t;
	const char *why = NULL;
	ck_assert(ts_parse_rfc3339(from, &f, &why));
	ck_assert(ts_parse_rfc3339(to, &t, &why));
	struct cd_error err;
	cd_error_clear(&err);
	PGresult *r = db_decision_stats(c, f, t, bucket, "Asia/Almaty", lender, &err);
	ck_assert_msg(r != NULL, "stats: %s", err.message);
	*nbuckets = db_decision_buckets_of(r);
	json_t *buckets = json_array();
	struct decision_count k;
	for (int i = 0; db_decision_row(r, i, &k); i++)
		codec_buckets_add(buckets, &k);
	PQclear(r);
	return buckets;
}

static const char *bucket_start(json_t *buckets, size_t i)
{
	return json_string_value(json_object_get(json_array_get(buckets, i), "start"));
}

static long long bucket_num(json_t *buckets, size_t i, const char *key)
{
	return json_integer_value(json_object_get(json_array_get(buckets, i), key));
}

START_TEST(test_day_buckets_follow_the_almaty_date_at_new_year)
{
	/* 23:30 on 31 December in Almaty, and 00:30 on 1 January */
	add_decision("NY1", "2025-12-31 18:30:00+00", "disbursement_refused",
	             "{\"blockers\": [\"cooling_period_active\"]}");
	add_decision("NY1", "2025-12-31 18:59:59.999999+00", "disbursement_allowed", "{}");
	add_decision("NY1", "2025-12-31 19:30:00+00", "disbursement_allowed", "{}");
	add_decision("NY2", "2025-12-31 19:30:00+00", "disbursement_allowed", "{}");
	testdb_seal(c);

	int64_t n;
	json_t *b =
	    stats("2025-12-31T00:00:00+05:00", "2026-01-02T00:00:00+05:00", "day", "NY1", &n);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(json_array_size(b), 2);
	ck_assert_str_eq(bucket_start(b, 0), "2025-12-30T19:00:00Z");
	ck_assert_str_eq(bucket_start(b, 1), "2025-12-31T19:00:00Z");
	ck_assert_int_eq(bucket_num(b, 0, "allowed"), 1);
	ck_assert_int_eq(bucket_num(b, 0, "refused"), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                     json_object_get(json_array_get(b, 0), "refused_by_blocker"),
	                     "cooling_period_active")),
	                 1);
	ck_assert_int_eq(bucket_num(b, 1, "allowed"), 1);
	ck_assert_int_eq(bucket_num(b, 1, "refused"), 0);
	ck_assert_int_eq(
	    json_object_size(json_object_get(json_array_get(b, 1), "refused_by_blocker")), 0);
	json_decref(b);

	/* all lenders: NY2's decision too */
	b = stats("2025-12-31T00:00:00+05:00", "2026-01-02T00:00:00+05:00", "day", NULL, &n);
	ck_assert_int_eq(bucket_num(b, 1, "allowed"), 2);
	json_decref(b);

	/* UTC hours; a window inside an hour still gives the whole hour, and
	 * the empty hours around are listed */
	b = stats("2025-12-31T17:15:00Z", "2025-12-31T20:00:00Z", "hour", "NY1", &n);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(bucket_start(b, 0), "2025-12-31T17:00:00Z");
	ck_assert_str_eq(bucket_start(b, 1), "2025-12-31T18:00:00Z");
	ck_assert_str_eq(bucket_start(b, 2), "2025-12-31T19:00:00Z");
	ck_assert_int_eq(bucket_num(b, 0, "allowed") + bucket_num(b, 0, "refused"), 0);
	ck_assert_int_eq(bucket_num(b, 1, "allowed"), 1);
	ck_assert_int_eq(bucket_num(b, 1, "refused"), 1);
	ck_assert_int_eq(bucket_num(b, 2, "allowed"), 1);
	json_decref(b);

	/* a lender without decisions: every bucket there, all zero */
	b = stats("2025-12-31T00:00:00+05:00", "2026-01-03T00:00:00+05:00", "day", "NOBODY", &n);
	ck_assert_int_eq(json_array_size(b), 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(bucket_num(b, i, "allowed") + bucket_num(b, i, "refused"), 0);
	json_decref(b);
}
END_TEST

START_TEST(test_at_most_1000_buckets)
{
	int64_t n;
	/* exactly 1000 hours, then one microsecond more */
	json_t *b = stats("2026-01-01T00:00:00Z", "2026-02-11T16:00:00Z", "hour", NULL, &n);
	ck_assert_int_eq(n, 1000);
	ck_assert_int_eq(json_array_size(b), 1000);
	json_decref(b);
	b = stats("2026-01-01T00:00:00Z", "2026-02-11T16:00:00.000001Z", "hour", NULL, &n);
	ck_assert_int_eq(n, DB_STATS_MAX_BUCKETS + 1);
	ck_assert_int_eq(json_array_size(b), 0);
	json_decref(b);
	/* 1000 Almaty days; 1001 */
	b = stats("2026-01-01T00:00:00+05:00", "2028-09-27T00:00:00+05:00", "day", NULL, &n);
	ck_assert_int_eq(n, 1000);
	json_decref(b);
	b = stats("2026-01-01T00:00:00+05:00", "2028-09-28T00:00:00+05:00", "day", NULL, &n);
	ck_assert_int_eq(n, DB_STATS_MAX_BUCKETS + 1);
	json_decref(b);
	/* the whole range of years: refused at once, not after generating it */
	b = stats("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "hour", NULL, &n);
	ck_assert_int_eq(n, DB_STATS_MAX_BUCKETS + 1);
	json_decref(b);
}
END_TEST

static Suite *decision_stats_suite(void)
{
	Suite *s = suite_create("decision_stats");
	TCase *tc = tcase_create("decision_stats");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rollup_equals_a_recount_from_the_sealed_events);
	tcase_add_test(tc, test_odd_details_neither_stop_the_sealer_nor_count_wrong);
	tcase_add_test(tc, test_unsealed_decisions_are_not_counted_yet);
	tcase_add_test(tc, test_a_partial_sealing_counts_exactly_the_decisions_it_chains);
	tcase_add_test(tc, test_day_buckets_follow_the_almaty_date_at_new_year);
	tcase_add_test(tc, test_at_most_1000_buckets);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(decision_stats_suite)

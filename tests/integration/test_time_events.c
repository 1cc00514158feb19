/*
 * The time events' SQL (sql/013, cd_time_events): each moment that has
 * come gives its events exactly once, with two writers at the same time
 * (the advisory lock lets one in, and the queue's rows go with the events
 * in one transaction), and a second event of a loan and moment is refused
 * by the trail itself (a unique index), even when the moment is queued
 * twice. Moments to come, and cancelled or disbursed loans, give nothing.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check_main.h"
#include "db.h"
#include "support/testdb.h"

#define LOANS 3000

static char *url;
static PGconn *conn;

static void setup(void)
{
	url = testdb_create("time_events");
	conn = testdb_connect_quiet(url);
	testdb_exec(conn, "INSERT INTO lender (id, kind) VALUES ('B', 'bank'), ('C', 'bank')");
}

static void teardown(void)
{
	PQfinish(conn);
	testdb_drop(url);
	free(url);
}

/* n consented loans of lender whose period ends at `ends` (SQL), the IIN
 * of loan i 9001013001xx-like and distinct. */
static void loans(const char *lender, int n, const char *ends, const char *prefix)
{
	char sql[2048];
	snprintf(
	    sql, sizeof sql,
	    "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, secured, "
	    "first_time_borrower, first_time_given, policy, mrp_tenge, threshold_tiyn, "
	    "cooling_required, cooling_period_s, in_person_required, approved_at, consent_at, "
	    "cooling_ends_at, aggregated_amount_tiyn, rule) "
	    "SELECT '%s', '%s' || g, lpad(g::text, 12, '0'), 100, 'online', false, false, "
	    "false, 'kz-card', 1, 1, true, 1, false, now() - interval '1 hour', "
	    "now() - interval '1 hour', %s, 100, 'card' FROM generate_series(1, %d) g",
	    lender, prefix, ends, n);
	testdb_exec(conn, sql);
}

static long long events(const char *type)
{
	return testdb_num(conn, "SELECT count(*) FROM audit_event WHERE type = $1", type, NULL);
}

static atomic_int taken[2];

static void *writer(void *arg)
{
	int me = (int)(intptr_t)arg;
	PGconn *c = testdb_connect_quiet(url);
	for (;;) {
		struct cd_error err;
		int64_t n = db_time_events(c, 50, &err);
		ck_assert_int_ne(n, -2);
		if (n > 0)
			atomic_fetch_add(&taken[me], (int)n);
		if (n == 0 &&
		    testdb_num(c, "SELECT count(*) FROM time_event_due WHERE due_at <= now()",
		               NULL) == 0)
			break;
	}
	PQfinish(c);
	return NULL;
}

START_TEST(test_two_writers_at_once_write_each_loans_end_exactly_once)
{
	loans("B", LOANS, "now() - interval '1 second'", "due-");
	loans("B", 5, "now() + interval '1 hour'", "later-");
	testdb_exec(conn, "UPDATE loan SET cancelled_at = now(), cancel_reason = 'x' "
	                  "WHERE loan_id IN ('due-1', 'due-2')");
	pthread_t t[2];
	for (intptr_t i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&taken[0]) + atomic_load(&taken[1]), LOANS);
	ck_assert_int_eq(events("cooling_period_ended"), LOANS - 2);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(DISTINCT loan_id) FROM audit_event "
	                            "WHERE type = 'cooling_period_ended'",
	                            NULL),
	                 LOANS - 2);
	/* the moments to come wait */
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM time_event_due", NULL), 5);
}
END_TEST

/* One insert of several loans (a batch of approvals) queues the end of each
 * loan, at that end, and nothing for a row that an insert skipped on a
 * conflict. */
START_TEST(test_an_insert_of_loans_queues_each_end_once)
{
	loans("B", 3, "now() + g * interval '1 hour'", "batch-");
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM time_event_due q JOIN loan l "
	                            "ON l.id = q.loan_pk AND l.cooling_ends_at = q.due_at "
	                            "WHERE l.loan_id LIKE 'batch-%'",
	                            NULL),
	                 3);
	testdb_exec(conn,
	            "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	            "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	            "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	            "approved_at, consent_at, cooling_ends_at, aggregated_amount_tiyn, rule) "
	            "SELECT lender_id, loan_id, borrower_iin, amount_tiyn, channel, secured, "
	            "first_time_borrower, first_time_given, policy, mrp_tenge, threshold_tiyn, "
	            "cooling_required, cooling_period_s, in_person_required, approved_at, "
	            "consent_at, cooling_ends_at, aggregated_amount_tiyn, rule FROM loan "
	            "WHERE loan_id LIKE 'batch-%' ON CONFLICT (lender_id, loan_id) DO NOTHING");
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM time_event_due", NULL), 3);
}
END_TEST

START_TEST(test_a_moment_queued_twice_still_gives_one_event)
{
	loans("C", 1, "now() - interval '1 second'", "twice-");
	testdb_exec(conn, "INSERT INTO time_event_due (due_at, loan_pk) "
	                  "SELECT cooling_ends_at, id FROM loan WHERE loan_id = 'twice-1'");
	struct cd_error err;
	ck_assert_int_eq(db_time_events(conn, 100, &err), 2);
	ck_assert_int_eq(
	    testdb_num(conn,
	               "SELECT count(*) FROM audit_event WHERE loan_id = 'twice-1' AND "
	               "type = 'cooling_period_ended'",
	               NULL),
	    1);
	/* and the trail refuses a second one written by hand */
	PGresult *r =
	    PQexec(conn, "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) "
	                 "SELECT actor, lender_id, loan_id, type, detail FROM audit_event "
	                 "WHERE loan_id = 'twice-1' AND type = 'cooling_period_ended'");
	ck_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23505");
	PQclear(r);
}
END_TEST

START_TEST(test_a_refusal_change_reaches_each_open_loan_of_the_iin_once)
{
	loans("C", 3, "now() + interval '1 hour'", "ref-");
	testdb_exec(conn,
	            "UPDATE loan SET borrower_iin = '900101300126' WHERE loan_id LIKE 'ref-%'");
	testdb_exec(conn, "UPDATE loan SET cancelled_at = now(), cancel_reason = 'x' "
	                  "WHERE loan_id = 'ref-3'");
	testdb_exec(conn, "INSERT INTO voluntary_refusal (iin, active, effective_at, source) "
	                  "VALUES ('900101300126', true, now() - interval '1 minute', 'fcb'), "
	                  "('900101300126', false, now() + interval '1 hour', 'fcb')");
	struct cd_error err;
	ck_assert_int_ge(db_time_events(conn, 100, &err), 1);
	ck_assert_int_eq(events("voluntary_refusal_applied"), 2);
	ck_assert_int_eq(events("voluntary_refusal_lifted"), 0); /* not yet */
	ck_assert_int_eq(db_time_events(conn, 100, &err), 0);
	ck_assert_int_eq(events("voluntary_refusal_applied"), 2);
}
END_TEST

static Suite *time_events_suite(void)
{
	Suite *s = suite_create("time_events");
	TCase *tc = tcase_create("sql");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_two_writers_at_once_write_each_loans_end_exactly_once);
	tcase_add_test(tc, test_an_insert_of_loans_queues_each_end_once);
	tcase_add_test(tc, test_a_moment_queued_twice_still_gives_one_event);
	tcase_add_test(tc, test_a_refusal_change_reaches_each_open_loan_of_the_iin_once);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(time_events_suite)

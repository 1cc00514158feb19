/*
 * The audit chain's sealer (cd_audit_seal, sql/002_audit_chain.sql): events
 * are sealed once every transaction that could still add an earlier one has
 * ended, in (txid, id) order, each exactly once, with gapless sequence
 * numbers; writers never wait for it and sealers do not wait for each other.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "db.h"
#include "support/testdb.h"

static char *url;
static PGconn *a, *b;

static void setup(void)
{
	url = testdb_create("seal");
	a = testdb_connect(url);
	b = testdb_connect(url);
}

static void teardown(void)
{
	PQfinish(a);
	PQfinish(b);
	testdb_drop(url);
	free(url);
}

static void add_event(PGconn *c, const char *actor)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO audit_event (actor, type, detail) VALUES ('%s', 'mrp_set', '{}')",
	         actor);
	testdb_exec(c, sql);
}

START_TEST(test_event_of_a_running_transaction_holds_back_later_ones)
{
	testdb_exec(a, "BEGIN");
	add_event(a, "early"); /* takes the lower transaction id */
	add_event(b, "late");  /* commits first */
	/* "late" sorts after "early", which may still commit: nothing sealed */
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(100)", NULL), 0);
	testdb_exec(a, "COMMIT");
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(100)", NULL), 2);
	PGresult *r = PQexec(b, "SELECT c.seq, e.actor FROM audit_chain c "
	                        "JOIN audit_event e ON e.id = c.event_id ORDER BY c.seq");
	ck_assert_int_eq(PQntuples(r), 2);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	ck_assert_str_eq(PQgetvalue(r, 0, 1), "early");
	ck_assert_str_eq(PQgetvalue(r, 1, 0), "2");
	ck_assert_str_eq(PQgetvalue(r, 1, 1), "late");
	PQclear(r);
}
END_TEST

START_TEST(test_rolled_back_events_leave_no_gap_in_the_chain)
{
	testdb_exec(a, "BEGIN");
	add_event(a, "gone");
	testdb_exec(a, "ROLLBACK");
	add_event(b, "kept");
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(100)", NULL), 1);
	ck_assert_int_eq(testdb_num(b, "SELECT max(seq) FROM audit_chain", NULL), 1);
}
END_TEST

START_TEST(test_a_second_sealer_skips_instead_of_waiting)
{
	add_event(b, "x");
	testdb_exec(a, "BEGIN");
	ck_assert_int_eq(testdb_num(a, "SELECT cd_audit_seal(100)", NULL), 1);
	/* a holds the sealing lock until it commits; b does not block */
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(100)", NULL), 0);
	testdb_exec(a, "COMMIT");
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(100)", NULL), 0);
	ck_assert_int_eq(testdb_num(b, "SELECT count(*) FROM audit_chain", NULL), 1);
}
END_TEST

START_TEST(test_every_event_is_sealed_exactly_once_in_batches)
{
	testdb_exec(a, "INSERT INTO audit_event (actor, type, detail) "
	               "SELECT 'bulk' || g, 'mrp_set', jsonb_build_object('n', g) "
	               "FROM generate_series(1, 2500) g");
	struct cd_error err;
	ck_assert_int_eq(db_audit_seal_all(b, &err), 2500);
	ck_assert_int_eq(db_audit_seal_all(b, &err), 0);
	ck_assert_int_eq(testdb_num(b, "SELECT count(DISTINCT event_id) FROM audit_chain", NULL),
	                 2500);
	ck_assert_int_eq(testdb_num(b, "SELECT max(seq) - min(seq) + 1 FROM audit_chain", NULL),
	                 2500);
}
END_TEST

START_TEST(test_the_chain_links_each_hash_to_the_previous_one)
{
	add_event(a, "one");
	add_event(a, "two");
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(100)", NULL), 2);
	/* recomputed in SQL from the stored rows: hash(n) = sha256(hash(n-1) ||
	 * canonical(n)); the C twin is checked by coolingctl audit verify's tests */
	ck_assert_int_eq(
	    testdb_num(
	        b,
	        "SELECT count(*) FROM audit_chain c JOIN audit_event e ON e.id = c.event_id "
	        "LEFT JOIN audit_chain p ON p.seq = c.seq - 1 "
	        "WHERE c.hash = sha256(coalesce(p.hash, '\\x" /* 32 zero bytes */
	        "0000000000000000000000000000000000000000000000000000000000000000'::bytea) "
	        "|| cd_audit_canonical(c.seq, e.at, e.actor, e.lender_id, e.loan_id, e.type, "
	        "e.detail))",
	        NULL),
	    2);
}
END_TEST

START_TEST(test_audit_rows_cannot_be_changed_even_by_the_owner)
{
	add_event(a, "x");
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(100)", NULL), 1);
	static const char *const attempts[] = {"UPDATE audit_event SET actor = 'mallory'",
	                                       "DELETE FROM audit_event",
	                                       "TRUNCATE audit_event CASCADE",
	                                       "UPDATE audit_chain SET seq = 7",
	                                       "DELETE FROM audit_chain",
	                                       "TRUNCATE audit_chain"};
	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		PGresult *r = PQexec(a, attempts[i]);
		ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR, "%s succeeded", attempts[i]);
		ck_assert_str_eq(db_sqlstate(r), "42501");
		PQclear(r);
	}
}
END_TEST

START_TEST(test_batches_continue_the_chain_from_the_previous_one)
{
	testdb_exec(a, "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) "
	               "SELECT 'bulk' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'B1' END, "
	               "CASE WHEN g % 2 = 0 THEN NULL ELSE 'L' || g END, 'mrp_set', "
	               "jsonb_build_object('n', g, 'text', repeat('x', g)) "
	               "FROM generate_series(1, 20) g");
	/* three batches of at most 7: each starts from the hash the one before
	 * ended with */
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(7)", NULL), 7);
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(7)", NULL), 7);
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(7)", NULL), 6);
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(7)", NULL), 0);
	ck_assert_int_eq(
	    testdb_num(
	        b,
	        "SELECT count(*) FROM audit_chain c JOIN audit_event e ON e.id = c.event_id "
	        "LEFT JOIN audit_chain p ON p.seq = c.seq - 1 "
	        "WHERE c.hash = sha256(coalesce(p.hash, '\\x"
	        "0000000000000000000000000000000000000000000000000000000000000000'::bytea) "
	        "|| cd_audit_canonical(c.seq, e.at, e.actor, e.lender_id, e.loan_id, e.type, "
	        "e.detail)) AND c.seq BETWEEN 1 AND 20",
	        NULL),
	    20);
	/* in (txid, id) order: one transaction, so by id */
	ck_assert_int_eq(testdb_num(b,
	                            "SELECT count(*) FROM audit_chain c JOIN audit_event e "
	                            "ON e.id = c.event_id WHERE e.actor = 'bulk' || c.seq",
	                            NULL),
	                 20);
}
END_TEST

START_TEST(test_a_batch_is_appended_in_one_statement)
{
	/* counts the INSERT statements on audit_chain: one per batch, however
	 * many events it holds */
	testdb_exec(a, "CREATE TABLE seal_statements (n integer NOT NULL); "
	               "INSERT INTO seal_statements VALUES (0); "
	               "CREATE FUNCTION count_seal_statement() RETURNS trigger LANGUAGE plpgsql "
	               "SECURITY DEFINER AS $$ BEGIN UPDATE seal_statements SET n = n + 1; "
	               "RETURN NULL; END $$; "
	               "CREATE TRIGGER count_seal_statement AFTER INSERT ON audit_chain "
	               "FOR EACH STATEMENT EXECUTE FUNCTION count_seal_statement()");
	testdb_exec(a, "INSERT INTO audit_event (actor, type, detail) "
	               "SELECT 'bulk' || g, 'mrp_set', jsonb_build_object('n', g) "
	               "FROM generate_series(1, 2500) g");
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(1000)", NULL), 1000);
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(5000)", NULL), 1500);
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(5000)", NULL), 0);
	ck_assert_int_eq(testdb_num(b, "SELECT n FROM seal_statements", NULL), 2);
	ck_assert_int_eq(testdb_num(b, "SELECT max(seq) FROM audit_chain", NULL), 2500);
}
END_TEST

/* The plans auto_explain sends as notices (auto_explain.log_level). */
static void collect_plan(void *arg, const PGresult *res)
{
	char *plans = arg;
	const char *m = PQresultErrorMessage(res);
	if (strlen(plans) + strlen(m) + 1 < 65536)
		strcat(plans, m);
}

START_TEST(test_a_call_with_nothing_to_seal_is_an_index_range_scan_not_planned_again)
{
	/* a chain of 30,000 events from 3,000 transactions, as a day of
	 * traffic leaves it (the chain's rows made directly: only their place
	 * matters here); the planner's statistics then end before the chain's
	 * newest values, which once made each call plan afresh */
	testdb_exec(a, "SET synchronous_commit = off");
	testdb_exec(a, "DO $$ BEGIN FOR i IN 1 .. 3000 LOOP "
	               "INSERT INTO audit_event (actor, type, detail) "
	               "SELECT 'bulk' || i, 'mrp_set', '{}' FROM generate_series(1, 10); "
	               "COMMIT; END LOOP; END $$");
	testdb_exec(a, "INSERT INTO audit_chain (seq, event_id, txid, hash) "
	               "SELECT row_number() OVER (ORDER BY txid, id), id, txid, "
	               "sha256(id::text::bytea) FROM audit_event");
	testdb_exec(a, "ANALYZE audit_event");
	/* past PL/pgSQL's first five calls, which always plan afresh */
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(5000)", NULL), 0);
	static char plans[65536];
	plans[0] = '\0';
	PQsetNoticeReceiver(b, collect_plan, plans);
	testdb_exec(b, "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; "
	               "SET auto_explain.log_nested_statements = on; "
	               "SET auto_explain.log_level = notice");
	ck_assert_int_eq(testdb_num(b, "SELECT cd_audit_seal(5000)", NULL), 0);
	testdb_exec(b, "SET auto_explain.log_min_duration = -1");
	/* the events after the chain's last, by the index: no scan of the
	 * sealed ones */
	const char *scan = strstr(plans, "Index Scan using audit_event_txid_idx");
	ck_assert_msg(scan != NULL, "no index scan of the batch in:\n%s", plans);
	ck_assert_msg(strstr(plans, "Seq Scan on audit_event") == NULL, "a scan in:\n%s", plans);
	/* the cached generic plan ($n), not one planned for this call's values */
	ck_assert_msg(strstr(scan, "(ROW(txid, id) > ROW($") != NULL, "a custom plan in:\n%s",
	              plans);
}
END_TEST

static Suite *seal_suite(void)
{
	Suite *s = suite_create("audit_seal");
	TCase *tc = tcase_create("seal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_event_of_a_running_transaction_holds_back_later_ones);
	tcase_add_test(tc, test_rolled_back_events_leave_no_gap_in_the_chain);
	tcase_add_test(tc, test_a_second_sealer_skips_instead_of_waiting);
	tcase_add_test(tc, test_every_event_is_sealed_exactly_once_in_batches);
	tcase_add_test(tc, test_the_chain_links_each_hash_to_the_previous_one);
	tcase_add_test(tc, test_audit_rows_cannot_be_changed_even_by_the_owner);
	tcase_add_test(tc, test_batches_continue_the_chain_from_the_previous_one);
	tcase_add_test(tc, test_a_batch_is_appended_in_one_statement);
	tcase_add_test(tc,
	               test_a_call_with_nothing_to_seal_is_an_index_range_scan_not_planned_again);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(seal_suite)

/*
 * The tamper-evident audit trail, black box: `coolingctl audit verify` (the
 * built binary) against a fresh database per test, whose events are written
 * by coolingctl's own operator commands and by SQL, and sealed by
 * db_audit_seal_all(). Tampering is done the only way it can be done, as a
 * superuser with the append-only triggers switched off; the tests also pin
 * down that those triggers and the coolingd_app role's grants refuse it
 * otherwise, and that the C hash (lib/audit_hash.c) is the SQL one.
 */
#include "check_main.h"
#include "support/proc.h"
#include "support/testdb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_hash.h"

/* coolingctl's environment: no COOLINGD_* database URL, USER=verify-test. */
static const char *const ctl_env[] = {"COOLINGD_DATABASE_URL", "USER=verify-test", NULL};

/* ---- running coolingctl ---- */

/* coolingctl -c /dev/null --database URL ARGS...; free r with
 * proc_run_free(). */
#define CTL(r, url, ...) proc_ctl(r, ctl_env, NULL, url, __VA_ARGS__, (const char *)NULL)

/* CTL, which must succeed; its output is not needed. */
#define CTL_OK(url, ...)                                                                           \
	do {                                                                                       \
		struct proc_run ok_;                                                               \
		CTL(&ok_, url, __VA_ARGS__);                                                       \
		assert_ok(&ok_);                                                                   \
		proc_run_free(&ok_);                                                               \
	} while (0)

static void assert_ok(const struct proc_run *r)
{
	ck_assert_msg(r->status == 0, "exit %d; stderr: %s", r->status, r->err);
}

/* verify fails with exit 1 and one stderr line naming seq. */
static void assert_broken_at(const struct proc_run *r, long long seq, const char *why)
{
	ck_assert_msg(r->status == 1, "exit %d, not 1; out: %s err: %s", r->status, r->out, r->err);
	ck_assert_str_eq(r->out, "");
	char want[128];
	snprintf(want, sizeof(want), "audit chain broken at seq %lld: ", seq);
	ck_assert_msg(strstr(r->err, want) != NULL, "stderr \"%s\" lacks \"%s\"", r->err, want);
	ck_assert_msg(strstr(r->err, why) != NULL, "stderr \"%s\" lacks \"%s\"", r->err, why);
	ck_assert_msg(strchr(r->err, '\n') == r->err + strlen(r->err) - 1,
	              "stderr is not one line: %s", r->err);
}

/* ---- the database, directly ---- */

/* Runs sql, which must fail with SQLSTATE state and a message holding
 * text. */
static void exec_refused(PGconn *c, const char *sql, const char *state, const char *text)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR, "%s was not refused", sql);
	const char *got = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	ck_assert_msg(got != NULL && strcmp(got, state) == 0, "%s: SQLSTATE %s, not %s (%s)", sql,
	              got ? got : "none", state, PQerrorMessage(c));
	ck_assert_msg(strstr(PQerrorMessage(c), text) != NULL, "%s: \"%s\" lacks \"%s\"", sql,
	              PQerrorMessage(c), text);
	PQclear(r);
}

/*
 * A fresh database with 8 sealed events: three from coolingctl (lender,
 * client, MRP) and five from SQL, among them text that a sloppy canonical
 * form would get wrong (quotes, a newline, Cyrillic, a NULL lender).
 */
static char *trail_database(PGconn **conn)
{
	char *url = testdb_create("verify");
	CTL_OK(url, "lender", "add", "BANK1", "--kind", "bank", "--name", "Bank \"One\", Almaty");
	CTL_OK(url, "client", "add", "--name", "aud1", "--role", "auditor");
	CTL_OK(url, "mrp", "set", "2027-01-01", "4500");
	PGconn *c = testdb_connect_quiet(url);
	testdb_exec(c, "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) VALUES "
	               "('core1', 'BANK1', 'LN-1', 'approval_recorded', '{\"amount\": 1.10}'), "
	               "('core1', 'BANK1', 'LN-1', 'consent_recorded', '{}'), "
	               "(E'ops\\n\"night\"', NULL, NULL, 'cancelled', "
	               "  '{\"reason\": \"Заёмщик передумал\\nи ушёл\"}'), "
	               "('core1', 'BANK1', 'LN-1', 'disbursement_refused', "
	               "  '{\"blockers\": [\"cooling_period_active\"]}'), "
	               "('core1', 'BANK1', 'LN-2', 'disbursement_allowed', '{\"n\": -0.5e3}')");
	testdb_seal(c);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_chain", NULL), 8);
	*conn = c;
	return url;
}

static void finish(PGconn *c, char *url)
{
	PQfinish(c);
	testdb_drop(url);
	free(url);
}

/* ---- verify ---- */

START_TEST(test_intact_chain_exits_0_and_counts_every_event)
{
	PGconn *c;
	char *url = trail_database(&c);
	struct proc_run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "audit chain intact: 8 events\n");
	ck_assert_str_eq(r.err, "");
	proc_run_free(&r);
	finish(c, url);
}
END_TEST

START_TEST(test_verify_seals_committed_events_first_so_they_are_covered)
{
	PGconn *c;
	char *url = trail_database(&c);
	testdb_exec(c, "INSERT INTO audit_event (actor, type) VALUES ('core1', 'mrp_set'), "
	               "('core1', 'mrp_set')");
	struct proc_run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "audit chain intact: 10 events\n");
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_chain", NULL), 10);
	proc_run_free(&r);
	finish(c, url);
}
END_TEST

START_TEST(test_empty_trail_is_intact_with_0_events)
{
	char *url = testdb_create("verify");
	struct proc_run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "audit chain intact: 0 events\n");
	proc_run_free(&r);
	testdb_drop(url);
	free(url);
}
END_TEST

/*
 * Tampers with a fresh trail_database() by running the statements that
 * follow why (up to a NULL) as the superuser; `coolingctl audit verify` must
 * then fail at seq, its message holding why.
 */
__attribute__((sentinel)) static void tamper_breaks_at(long long seq, const char *why, ...)
{
	PGconn *c;
	char *url = trail_database(&c);
	va_list ap;
	va_start(ap, why);
	for (const char *sql; (sql = va_arg(ap, const char *)) != NULL;)
		testdb_exec(c, sql);
	va_end(ap);
	struct proc_run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, seq, why);
	proc_run_free(&r);
	finish(c, url);
}

START_TEST(test_changed_event_detail_fails_naming_its_seq)
{
	tamper_breaks_at(4, "hash does not match (event changed, removed or inserted)",
	                 "ALTER TABLE audit_event DISABLE TRIGGER USER",
	                 "UPDATE audit_event SET detail = '{\"amount\": 1.1}' "
	                 "WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 4)",
	                 "ALTER TABLE audit_event ENABLE TRIGGER USER", NULL);
}
END_TEST

START_TEST(test_changed_actor_of_the_first_event_fails_at_seq_1)
{
	tamper_breaks_at(1, "hash does not match", "ALTER TABLE audit_event DISABLE TRIGGER USER",
	                 "UPDATE audit_event SET actor = 'someone-else' "
	                 "WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 1)",
	                 "ALTER TABLE audit_event ENABLE TRIGGER USER", NULL);
}
END_TEST

START_TEST(test_changed_stored_hash_fails_at_that_seq)
{
	tamper_breaks_at(6, "hash does not match", "ALTER TABLE audit_chain DISABLE TRIGGER USER",
	                 "UPDATE audit_chain SET hash = sha256('forged') WHERE seq = 6",
	                 "ALTER TABLE audit_chain ENABLE TRIGGER USER", NULL);
}
END_TEST

START_TEST(test_removed_chain_entry_in_the_middle_fails_naming_it)
{
	tamper_breaks_at(5, "missing from the chain",
	                 "ALTER TABLE audit_chain DISABLE TRIGGER USER",
	                 "DELETE FROM audit_chain WHERE seq = 5",
	                 "ALTER TABLE audit_chain ENABLE TRIGGER USER", NULL);
}
END_TEST

START_TEST(test_removed_chain_entry_with_seqs_renumbered_fails_at_the_gap)
{
	/* Closing the gap by renumbering leaves the hashes of the later
	 * entries, which covered their old seq, and leaves the entry's event
	 * outside the chain although it sorts inside it. */
	tamper_breaks_at(5, "is not in the chain", "ALTER TABLE audit_chain DISABLE TRIGGER USER",
	                 "DELETE FROM audit_chain WHERE seq = 5",
	                 /* in two steps, so that no row meets another's old seq */
	                 "UPDATE audit_chain SET seq = seq + 1000 WHERE seq > 5",
	                 "UPDATE audit_chain SET seq = seq - 1001 WHERE seq > 1000",
	                 "ALTER TABLE audit_chain ENABLE TRIGGER USER", NULL);
}
END_TEST

START_TEST(test_removed_event_fails_naming_its_seq)
{
	/* ALL: every trigger, the system's included */
	tamper_breaks_at(3, "its event is gone", "ALTER TABLE audit_event DISABLE TRIGGER ALL",
	                 "DELETE FROM audit_event WHERE id = (SELECT event_id FROM audit_chain "
	                 "WHERE seq = 3)",
	                 "ALTER TABLE audit_event ENABLE TRIGGER ALL", NULL);
}
END_TEST

START_TEST(test_forged_chain_entry_with_a_made_up_hash_fails)
{
	/* an event chained by hand, not by cd_audit_seal() */
	tamper_breaks_at(9, "hash does not match",
	                 "WITH e AS (INSERT INTO audit_event (actor, type) VALUES ('mallory', "
	                 "'mrp_set') RETURNING id, txid) INSERT INTO audit_chain (seq, event_id, "
	                 "txid, hash) SELECT 9, id, txid, sha256('whatever') FROM e",
	                 NULL);
}
END_TEST

START_TEST(test_event_inserted_behind_the_sealer_fails_naming_where_it_sorts)
{
	/* A transaction id from before every sealed event: the sealer, which
	 * only moves forward, will never chain it. */
	tamper_breaks_at(1, "was inserted before it and is not in the chain",
	                 "INSERT INTO audit_event (actor, type, txid) VALUES ('mallory', "
	                 "'mrp_set', '3')",
	                 NULL);
}
END_TEST

START_TEST(test_first_break_is_named_when_there_are_several)
{
	tamper_breaks_at(3, "hash does not match", "ALTER TABLE audit_event DISABLE TRIGGER USER",
	                 "UPDATE audit_event SET actor = 'x' WHERE id IN (SELECT event_id FROM "
	                 "audit_chain WHERE seq IN (7, 3))",
	                 "ALTER TABLE audit_event ENABLE TRIGGER USER", NULL);
}
END_TEST

/* ---- the guards ---- */

START_TEST(test_triggers_refuse_update_delete_truncate_even_for_a_superuser)
{
	PGconn *c;
	char *url = trail_database(&c);
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT rolsuper::int FROM pg_roles WHERE rolname = "
	                            "current_user",
	                            NULL),
	                 1);
	exec_refused(c, "UPDATE audit_event SET actor = 'x'", "42501", "append-only");
	exec_refused(c, "DELETE FROM audit_event", "42501", "append-only");
	exec_refused(c, "TRUNCATE audit_event CASCADE", "42501", "append-only");
	exec_refused(c, "UPDATE audit_chain SET hash = sha256('x')", "42501", "append-only");
	exec_refused(c, "DELETE FROM audit_chain", "42501", "append-only");
	exec_refused(c, "TRUNCATE audit_chain", "42501", "append-only");
	struct proc_run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	proc_run_free(&r);
	finish(c, url);
}
END_TEST

START_TEST(test_app_role_member_can_append_and_seal_but_not_change_the_trail)
{
	PGconn *c;
	char *url = trail_database(&c);
	char role[64], sql[256];
	snprintf(role, sizeof(role), "cd_verify_app_%d", (int)getpid());
	snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", role);
	testdb_exec(c, sql);
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN IN ROLE coolingd_app", role);
	testdb_exec(c, sql);

	/* the same database as that role: a later user= wins */
	const char *keys[] = {"dbname", "user", NULL};
	const char *vals[] = {url, role, NULL};
	PGconn *app = PQconnectdbParams(keys, vals, 1);
	ck_assert_msg(PQstatus(app) == CONNECTION_OK, "%s", PQerrorMessage(app));
	testdb_ignore_notices(app);
	ck_assert_int_eq(testdb_num(app,
	                            "SELECT (NOT rolsuper)::int FROM pg_roles "
	                            "WHERE rolname = current_user",
	                            NULL),
	                 1);

	exec_refused(app, "UPDATE audit_event SET actor = 'x'", "42501", "permission denied");
	exec_refused(app, "DELETE FROM audit_event", "42501", "permission denied");
	exec_refused(app, "UPDATE audit_chain SET hash = sha256('x')", "42501",
	             "permission denied");
	exec_refused(app, "DELETE FROM audit_chain", "42501", "permission denied");
	exec_refused(app,
	             "INSERT INTO audit_chain (seq, event_id, txid, hash) "
	             "SELECT 100, id, txid, sha256('x') FROM audit_event LIMIT 1",
	             "42501", "permission denied");
	testdb_exec(app, "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) VALUES "
	                 "('core1', 'BANK1', 'LN-3', 'approval_recorded', '{}')");
	ck_assert_int_eq(testdb_num(app, "SELECT cd_audit_seal(100)", NULL), 1);
	PQfinish(app);

	struct proc_run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "audit chain intact: 9 events\n");
	proc_run_free(&r);
	PQfinish(c);
	testdb_drop(url);
	PGconn *server = testdb_connect_quiet(getenv("COOLINGD_TEST_DATABASE_URL"));
	snprintf(sql, sizeof(sql), "DROP ROLE %s", role);
	testdb_exec(server, sql);
	PQfinish(server);
	free(url);
}
END_TEST

START_TEST(test_c_hash_of_each_sealed_event_equals_the_stored_sql_hash)
{
	PGconn *c;
	char *url = trail_database(&c);
	PGresult *r = PQexec(c, "SELECT c.seq, cd_us(e.at), e.actor, e.lender_id, e.loan_id, "
	                        "e.type, e.detail::text, encode(c.hash, 'hex') FROM audit_chain "
	                        "c JOIN audit_event e ON e.id = c.event_id ORDER BY c.seq");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(r), 8);
	unsigned char prev[AUDIT_HASH_LEN] = {0};
	for (int i = 0; i < PQntuples(r); i++) {
		unsigned char h[AUDIT_HASH_LEN];
		char hex[AUDIT_HASH_HEX_BUF];
		audit_hash_next(prev, atoll(PQgetvalue(r, i, 0)), atoll(PQgetvalue(r, i, 1)),
		                PQgetvalue(r, i, 2),
		                PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3),
		                PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4),
		                PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), h);
		audit_hash_hex(h, hex);
		ck_assert_msg(strcmp(hex, PQgetvalue(r, i, 7)) == 0, "seq %s: C %s, SQL %s",
		              PQgetvalue(r, i, 0), hex, PQgetvalue(r, i, 7));
		memcpy(prev, h, sizeof(prev));
	}
	PQclear(r);
	finish(c, url);
}
END_TEST

/* ---- fixture ---- */

static void setup(void)
{
	test_bin("coolingctl"); /* exits here when it is not built */
}

static Suite *audit_verify_suite(void)
{
	Suite *s = suite_create("audit_verify");
	TCase *tc = tcase_create("verify");
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_intact_chain_exits_0_and_counts_every_event);
	tcase_add_test(tc, test_verify_seals_committed_events_first_so_they_are_covered);
	tcase_add_test(tc, test_empty_trail_is_intact_with_0_events);
	tcase_add_test(tc, test_changed_event_detail_fails_naming_its_seq);
	tcase_add_test(tc, test_changed_actor_of_the_first_event_fails_at_seq_1);
	tcase_add_test(tc, test_changed_stored_hash_fails_at_that_seq);
	tcase_add_test(tc, test_removed_chain_entry_in_the_middle_fails_naming_it);
	tcase_add_test(tc, test_removed_chain_entry_with_seqs_renumbered_fails_at_the_gap);
	tcase_add_test(tc, test_removed_event_fails_naming_its_seq);
	tcase_add_test(tc, test_forged_chain_entry_with_a_made_up_hash_fails);
	tcase_add_test(tc, test_event_inserted_behind_the_sealer_fails_naming_where_it_sorts);
	tcase_add_test(tc, test_first_break_is_named_when_there_are_several);
	suite_add_tcase(s, tc);

	TCase *guard = tcase_create("guards");
	tcase_add_unchecked_fixture(guard, setup, NULL);
	tcase_set_timeout(guard, 120);
	tcase_add_test(guard, test_triggers_refuse_update_delete_truncate_even_for_a_superuser);
	tcase_add_test(guard, test_app_role_member_can_append_and_seal_but_not_change_the_trail);
	tcase_add_test(guard, test_c_hash_of_each_sealed_event_equals_the_stored_sql_hash);
	suite_add_tcase(s, guard);
	return s;
}

CD_CHECK_MAIN(audit_verify_suite)

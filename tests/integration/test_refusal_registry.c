/*
 * The voluntary refusal registry against the real database: the table is
 * append-only; cd_refusal_active_at() (SQL) and refusal_in_force() (C)
 * agree on out-of-order, future and repeated changes; a change is recorded
 * once, with its audit event; the payout's guard and a refusal are ordered
 * by the IIN's lock, so that a refusal committed before a payout is never
 * missed, even one that commits while the payout's statement runs; and
 * `coolingctl refusals import` is all or nothing, names every bad line and
 * field, and is idempotent.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "db.h"
#include "refusal.h"
#include "support/proc.h"
#include "support/testdb.h"
#include "timeutil.h"

#define IIN "900101300126"

static char *url;
static PGconn *conn;

static void setup(void)
{
	conn = testdb_create_prepared("refusals", &url);
}

static void teardown(void)
{
	testdb_release(conn, url);
}

/* STMT_REFUSAL_PUT of one change; whether it was new. */
static bool put_on(PGconn *c, const char *iin, bool active, const char *effective_at,
                   const char *source, const char *reference)
{
	struct refusal_req q = {.active = active, .has_reference = reference != NULL};
	snprintf(q.iin, sizeof(q.iin), "%s", iin);
	ck_assert(ts_parse_rfc3339(effective_at, &q.effective_at, NULL));
	snprintf(q.source, sizeof(q.source), "%s", source);
	if (reference)
		snprintf(q.reference, sizeof(q.reference), "%s", reference);
	struct db_params p;
	PGresult *r =
	    testdb_exec_prepared(c, STMT_REFUSAL_PUT, db_params_refusal_put(&p, &q, "reg1"));
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	size_t n;
	struct db_refusal_meta m;
	free(db_refusal_rows(r, &n, &m));
	PQclear(r);
	return m.inserted;
}

/* ---- append-only ---- */

START_TEST(test_the_registry_is_append_only)
{
	ck_assert(put_on(conn, IIN, true, "2026-01-01T00:00:00Z", "fcb", "R-1"));
	static const char *const changes[] = {
	    "UPDATE voluntary_refusal SET active = false",
	    "DELETE FROM voluntary_refusal",
	    "TRUNCATE voluntary_refusal",
	};
	for (size_t i = 0; i < 3; i++) {
		PGresult *r = PQexec(conn, changes[i]);
		ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR, "%s went through",
		              changes[i]);
		ck_assert_str_eq(db_sqlstate(r), "42501"); /* insufficient_privilege */
		PQclear(r);
	}
	ck_assert_int_eq(
	    testdb_num(conn, "SELECT count(*) FROM voluntary_refusal WHERE active", NULL), 1);
	/* the daemon's role may only add and read */
	ck_assert_int_eq(
	    testdb_num(conn,
	               "SELECT (has_table_privilege('coolingd_app', 'voluntary_refusal', 'INSERT') "
	               "AND has_table_privilege('coolingd_app', 'voluntary_refusal', 'SELECT') "
	               "AND NOT has_table_privilege('coolingd_app', 'voluntary_refusal', 'UPDATE') "
	               "AND NOT has_table_privilege('coolingd_app', 'voluntary_refusal', 'DELETE') "
	               "AND NOT has_table_privilege('coolingd_app', 'voluntary_refusal', "
	               "'TRUNCATE'))::int",
	               NULL),
	    1);
}
END_TEST

/* ---- the SQL function and its C twin ---- */

START_TEST(test_sql_state_agrees_with_the_c_twin)
{
	/* 40 borrowers, 0-6 changes each, arriving in random order, their
	 * times drawn from a few moments (so that ties of effective_at happen),
	 * a third of them in the future */
	unsigned seed = 20261130;
	char iins[40][13];
	int64_t base = 0;
	ck_assert(ts_parse_rfc3339("2026-11-30T12:00:00Z", &base, NULL));
	testdb_exec(conn, "SET TimeZone = 'UTC'");
	for (int b = 0; b < 40; b++) {
		snprintf(iins[b], 13, "9001013%05d", b);
		int n = (int)(rand_r(&seed) % 7);
		for (int k = 0; k < n; k++) {
			int64_t at = base + (int64_t)(rand_r(&seed) % 5) * 3600 * USEC_PER_SEC;
			if (rand_r(&seed) % 3 == 0) /* years ahead: in the future */
				at += INT64_C(100) * 365 * 86400 * USEC_PER_SEC;
			char sql[512];
			snprintf(
			    sql, sizeof(sql),
			    "INSERT INTO voluntary_refusal (iin, active, effective_at, source) "
			    "VALUES ('%.12s', %s, cd_ts(%lld), 's%u') ON CONFLICT DO NOTHING",
			    iins[b], rand_r(&seed) % 2 ? "true" : "false", (long long)at,
			    rand_r(&seed) % 3);
			testdb_exec(conn, sql);
		}
	}
	int compared = 0, active = 0;
	for (int b = 0; b < 40; b++) {
		const char *p[] = {iins[b], "UTC"};
		PGresult *r = testdb_exec_prepared(conn, STMT_REFUSAL_GET, p);
		ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		size_t n;
		struct db_refusal_meta m;
		struct refusal_change *c = db_refusal_rows(r, &n, &m);
		/* at each moment a change has, a microsecond before, and now */
		int64_t moments[32];
		int nm = 0;
		moments[nm++] = m.now;
		for (size_t i = 0; i < n && nm < 30; i++) {
			moments[nm++] = c[i].effective_at;
			moments[nm++] = c[i].effective_at - 1;
		}
		for (int k = 0; k < nm; k++) {
			bool want = refusal_active_at(c, n, moments[k]);
			char sql[256];
			snprintf(sql, sizeof(sql),
			         "SELECT cd_refusal_active_at('%.12s', cd_ts(%lld))::int", iins[b],
			         (long long)moments[k]);
			ck_assert_msg(testdb_num(conn, sql, NULL) == want,
			              "borrower %d at %lld: SQL %s, C %d", b, (long long)moments[k],
			              want ? "inactive" : "active", want);
			compared++;
			active += want;
		}
		/* and the one-argument function, at the database's now */
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT cd_refusal_active('%.12s')::int", iins[b]);
		ck_assert_int_eq(testdb_num(conn, sql, NULL), refusal_active_at(c, n, m.now));
		free(c);
		PQclear(r);
	}
	ck_assert_int_ge(compared, 100);
	ck_assert_int_gt(active, 0);
	ck_assert_int_lt(active, compared);
}
END_TEST

START_TEST(test_the_state_is_one_index_lookup)
{
	testdb_exec(conn, "INSERT INTO voluntary_refusal (iin, active, effective_at, source) "
	                  "SELECT lpad(g::text, 12, '0'), g % 2 = 0, now() - g * interval '1 s', "
	                  "'fcb' FROM generate_series(1, 20000) g; ANALYZE voluntary_refusal");
	PGresult *r = PQexec(conn, "EXPLAIN SELECT r.active FROM voluntary_refusal r "
	                           "WHERE r.iin = '000000000042' AND r.effective_at <= now() "
	                           "ORDER BY r.effective_at DESC, r.seq DESC LIMIT 1");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	char plan[4096] = "";
	for (int i = 0; i < PQntuples(r); i++) {
		strncat(plan, PQgetvalue(r, i, 0), sizeof(plan) - strlen(plan) - 2);
		strcat(plan, "\n");
	}
	PQclear(r);
	ck_assert_msg(strstr(plan, "Index Only Scan using voluntary_refusal_state_idx") != NULL,
	              "%s", plan);
	ck_assert_msg(strstr(plan, "Sort") == NULL, "%s", plan);
}
END_TEST

/* ---- recording a change ---- */

START_TEST(test_a_repeated_change_is_recorded_once_with_its_first_reference)
{
	ck_assert(put_on(conn, IIN, true, "2026-11-30T19:00:00Z", "fcb", "R-1"));
	ck_assert(!put_on(conn, IIN, true, "2026-11-30T19:00:00+00:00", "fcb", "R-1"));
	ck_assert(!put_on(conn, IIN, true, "2026-12-01T00:00:00+05:00", "fcb", "R-2"));
	ck_assert(!put_on(conn, IIN, true, "2026-11-30T19:00:00Z", "fcb", NULL));
	/* another source, or the other state, is another change */
	ck_assert(put_on(conn, IIN, true, "2026-11-30T19:00:00Z", "egov", NULL));
	ck_assert(put_on(conn, IIN, false, "2026-11-30T19:00:00Z", "fcb", NULL));
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM voluntary_refusal", NULL), 3);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM voluntary_refusal WHERE source = 'fcb' "
	                            "AND active AND reference = 'R-1'",
	                            NULL),
	                 1);
	/* one event per new change, of its kind */
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM audit_event WHERE type = "
	                            "'voluntary_refusal_set' AND detail->>'borrower_iin' = $1 "
	                            "AND detail->>'effective_at' = '2026-11-30T19:00:00Z'",
	                            IIN, NULL),
	                 2);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM audit_event WHERE type = "
	                            "'voluntary_refusal_withdrawn'",
	                            NULL),
	                 1);
}
END_TEST

/* ---- the gate and the lock ---- */

/* An eligible loan of iin (consent given, nothing else needed); its pk. */
static long long eligible_loan(const char *loan_id, const char *iin)
{
	char sql[1024];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	         "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	         "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	         "approved_at, consent_at) VALUES ('B1', '%s', '%s', 100000, 'online', false, "
	         "false, true, 'kz-card', 4325, 64875000, false, NULL, false, "
	         "now() - interval '1 hour', now() - interval '1 hour') RETURNING id",
	         loan_id, iin);
	return testdb_num(conn, sql, NULL);
}

static void send_disburse(PGconn *c, long long pk)
{
	static char num[24];
	snprintf(num, sizeof(num), "%lld", pk);
	const char *p[] = {num, "test", NULL, "B1", "{}", NULL, NULL, NULL};
	ck_assert(PQsendQueryPrepared(c, db_statements[STMT_DISBURSE].name, 8, p, NULL, NULL, 0));
}

START_TEST(test_a_refusal_committed_while_the_payout_waits_is_seen)
{
	/* READ COMMITTED: the payout's statement takes its snapshot first and
	 * then waits for the refusal's lock; when the refusal commits, the
	 * snapshot does not hold it, the guard's own query does. */
	long long pk = eligible_loan("RACE-1", IIN);
	PGconn *reg = testdb_connect_quiet(url), *pay = testdb_connect_quiet(url);
	struct cd_error err;
	ck_assert(db_prepare_all(reg, &err) && db_prepare_all(pay, &err));
	testdb_exec(reg, "BEGIN");
	ck_assert(put_on(reg, IIN, true, "2020-01-01T00:00:00Z", "fcb", NULL));
	send_disburse(pay, pk);
	ck_assert_msg(testdb_still_waiting(pay), "the payout did not wait for the refusal's lock");
	testdb_exec(reg, "COMMIT");
	ck_assert_int_eq(testdb_rows_of(pay), 0); /* refused */
	ck_assert_int_eq(
	    testdb_num(conn, "SELECT count(*) FROM loan WHERE disbursed_at IS NOT NULL", NULL), 0);
	PQfinish(reg);
	PQfinish(pay);
}
END_TEST

START_TEST(test_a_refusal_waits_for_a_payout_in_progress_and_commits_after_it)
{
	long long pk = eligible_loan("RACE-2", IIN);
	PGconn *reg = testdb_connect_quiet(url), *pay = testdb_connect_quiet(url);
	struct cd_error err;
	ck_assert(db_prepare_all(reg, &err) && db_prepare_all(pay, &err));
	testdb_exec(pay, "BEGIN");
	send_disburse(pay, pk);
	ck_assert_int_eq(testdb_rows_of(pay), 1); /* allowed, not committed yet */
	struct refusal_req q = {.active = true};
	snprintf(q.iin, sizeof(q.iin), "%s", IIN);
	snprintf(q.source, sizeof(q.source), "fcb");
	ck_assert(ts_parse_rfc3339("2020-01-01T00:00:00Z", &q.effective_at, NULL));
	struct db_params p;
	ck_assert(PQsendQueryPrepared(reg, db_statements[STMT_REFUSAL_PUT].name, 6,
	                              db_params_refusal_put(&p, &q, "reg1"), NULL, NULL, 0));
	ck_assert_msg(testdb_still_waiting(reg), "the refusal did not wait for the payout");
	testdb_exec(pay, "COMMIT");
	ck_assert_int_eq(testdb_rows_of(reg), 1);
	/* the trail tells the order: the payout's transaction before the
	 * refusal's */
	testdb_seal(conn);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT ((SELECT c.seq FROM audit_chain c JOIN audit_event e "
	                            "ON e.id = c.event_id WHERE e.type = 'disbursement_allowed') < "
	                            "(SELECT c.seq FROM audit_chain c JOIN audit_event e ON e.id = "
	                            "c.event_id WHERE e.type = 'voluntary_refusal_set'))::int",
	                            NULL),
	                 1);
	PQfinish(reg);
	PQfinish(pay);
}
END_TEST

START_TEST(test_a_future_refusal_takes_effect_by_itself_in_the_guard)
{
	long long pk = eligible_loan("FUTURE-1", IIN);
	testdb_exec(conn, "INSERT INTO voluntary_refusal (iin, active, effective_at, source) "
	                  "VALUES ('" IIN "', true, now() + interval '1 second', 'fcb')");
	ck_assert_int_eq(testdb_num(conn, "SELECT cd_refusal_active('" IIN "')::int", NULL), 0);
	sleep(2);
	testdb_exec(conn, "BEGIN");
	send_disburse(conn, pk);
	ck_assert_int_eq(testdb_rows_of(conn), 0);
	testdb_exec(conn, "ROLLBACK");
}
END_TEST

/* ---- import ---- */

static const char *ctl;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void import(struct proc_run *r, const char *file)
{
	const char *argv[] = {"coolingctl", "-c",     "/dev/null", "--database", url,
	                      "refusals",   "import", file,        NULL};
	static const char *const env[] = {"COOLINGD_DATABASE_URL", "USER=cli-test", NULL};
	proc_run(r, ctl, argv, env, NULL);
}

#define GOOD_FILE                                                                                  \
	"iin,active,effective_at,source,reference\r\n"                                             \
	"900101300126,true,2026-11-30T19:00:00+05:00,fcb,R-1\r\n"                                  \
	"900101300126,false,2026-12-30T19:00:00+05:00,fcb,\r\n"                                    \
	"900101300126,true,2026-11-30T19:00:00+05:00,fcb,R-again\r\n"                              \
	"\"900101300017\",true,2026-11-30T10:00:00Z,egov,\"with, a comma\"\r\n"

START_TEST(test_import_is_idempotent_and_writes_one_event_per_new_change)
{
	ctl = test_bin("coolingctl");
	char path[256];
	snprintf(path, sizeof(path), "%s/refusals-%d.csv",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	write_file(path, GOOD_FILE);
	struct proc_run r;
	import(&r, path);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "imported 4 changes (3 new, 1 already known)\n");
	proc_run_free(&r);
	ck_assert_int_eq(
	    testdb_num(conn, "SELECT count(*) FROM voluntary_refusal WHERE reference = 'R-1'",
	               NULL),
	    1);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM audit_event WHERE type IN "
	                            "('voluntary_refusal_set', 'voluntary_refusal_withdrawn') "
	                            "AND actor = 'coolingctl:' || session_user",
	                            NULL),
	                 3);
	/* the same file again changes nothing */
	import(&r, path);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "imported 4 changes (0 new, 4 already known)\n");
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM voluntary_refusal", NULL), 3);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM audit_event", NULL), 3);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM voluntary_refusal WHERE iin = "
	                            "'900101300017' AND reference = 'with, a comma'",
	                            NULL),
	                 1);
	/* from stdin */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' -c /dev/null --database '%s' refusals import - < '%s'",
	         ctl, url, path);
	const char *sh[] = {"sh", "-c", cmd, NULL};
	proc_run(&r, "/bin/sh", sh, NULL, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "imported 4 changes (0 new, 4 already known)\n");
	proc_run_free(&r);
	unlink(path);
}
END_TEST

START_TEST(test_import_names_every_bad_line_and_imports_nothing)
{
	ctl = test_bin("coolingctl");
	char path[256];
	snprintf(path, sizeof(path), "%s/refusals-bad-%d.csv",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	write_file(path, "iin,active,effective_at,source,reference\n"
	                 "900101300126,true,2026-11-30T19:00:00+05:00,fcb,R-1\n"
	                 "900101300126,yes,2026-11-30T19:00:00+05:00,fcb,R-2\n"
	                 "900101300126,true,\"2026-11-30\n19:00\",fcb,R-3\n"
	                 "900101300127,true,2026-11-30T19:00:00Z,fcb,R-4\n"
	                 "900101300126,true,2026-11-30T19:00:00Z,,R-5\n"
	                 "900101300126,true,2026-11-30T19:00:00Z,fcb,R-6\n");
	struct proc_run r;
	import(&r, path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "line 3: active:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 4: effective_at:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 6: iin:") != NULL, "%s", r.err); /* after 2 lines */
	ck_assert_msg(strstr(r.err, "line 7: source:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "4 bad line(s)") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 2:") == NULL && strstr(r.err, "line 8:") == NULL, "%s",
	              r.err);
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM voluntary_refusal", NULL), 0);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM audit_event", NULL), 0);

	/* a wrong header: line 1 */
	write_file(path, "iin;active\n900101300126;true\n");
	import(&r, path);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "line 1: header:") != NULL, "%s", r.err);
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM voluntary_refusal", NULL), 0);
	unlink(path);
}
END_TEST

static Suite *refusals_suite(void)
{
	Suite *s = suite_create("refusals");
	TCase *tc = tcase_create("db");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_the_registry_is_append_only);
	tcase_add_test(tc, test_sql_state_agrees_with_the_c_twin);
	tcase_add_test(tc, test_the_state_is_one_index_lookup);
	tcase_add_test(tc, test_a_repeated_change_is_recorded_once_with_its_first_reference);
	tcase_add_test(tc, test_a_refusal_committed_while_the_payout_waits_is_seen);
	tcase_add_test(tc, test_a_refusal_waits_for_a_payout_in_progress_and_commits_after_it);
	tcase_add_test(tc, test_a_future_refusal_takes_effect_by_itself_in_the_guard);
	tcase_add_test(tc, test_import_is_idempotent_and_writes_one_event_per_new_change);
	tcase_add_test(tc, test_import_names_every_bad_line_and_imports_nothing);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(refusals_suite)

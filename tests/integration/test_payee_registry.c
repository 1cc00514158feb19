/*
 * The suspicious payee registry against the real database: the table is
 * append-only and refuses a card number; cd_payee_flagged_at() (SQL) and
 * refusal_in_force() (C) agree on a payee's out-of-order, future and
 * repeated changes; the state is one index probe with many payees listed;
 * the payout's guard and a flag are ordered by the payee's lock, so that a
 * flag committed before a payout is never missed, even one that commits
 * while the payout's statement runs; and `coolingctl payees import` is all
 * or nothing, names every bad line without its id, and is idempotent.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "db.h"
#include "payee.h"
#include "refusal.h"
#include "support/proc.h"
#include "support/testdb.h"
#include "timeutil.h"

#define PAN "4000001234567899"

static char *url;
static PGconn *conn;
static const char *ctl;

static void setup(void)
{
	conn = testdb_create_prepared("payees", &url);
}

static void teardown(void)
{
	testdb_release(conn, url);
}

static const struct payee MULE = {.kind = PAYEE_CARD, .id = "tok-mule"};

/* STMT_PAYEE_PUT of one change of p; whether it was new. */
static bool put_on(PGconn *c, const struct payee *p, bool active, const char *effective_at,
                   const char *reference)
{
	struct refusal_req q = {.active = active, .has_reference = reference != NULL};
	ck_assert(ts_parse_rfc3339(effective_at, &q.effective_at, NULL));
	snprintf(q.source, sizeof(q.source), "afc");
	if (reference)
		snprintf(q.reference, sizeof(q.reference), "%s", reference);
	struct db_params dp;
	PGresult *r =
	    testdb_exec_prepared(c, STMT_PAYEE_PUT, db_params_payee_put(&dp, p, &q, "afc1"));
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	size_t n;
	struct db_refusal_meta m;
	free(db_refusal_rows(r, &n, &m));
	PQclear(r);
	return m.inserted;
}

START_TEST(test_the_registry_is_append_only_and_refuses_a_card_number)
{
	ck_assert(put_on(conn, &MULE, true, "2026-01-01T00:00:00Z", "R-1"));
	ck_assert(!put_on(conn, &MULE, true, "2026-01-01T05:00:00+05:00", "R-2"));
	static const char *const changes[] = {
	    "UPDATE suspicious_payee SET active = false",
	    "DELETE FROM suspicious_payee",
	    "TRUNCATE suspicious_payee",
	};
	for (size_t i = 0; i < 3; i++) {
		PGresult *r = PQexec(conn, changes[i]);
		ck_assert_msg(PQresultStatus(r) == PGRES_FATAL_ERROR, "%s went through",
		              changes[i]);
		ck_assert_str_eq(db_sqlstate(r), "42501"); /* insufficient_privilege */
		PQclear(r);
	}
	/* the table's CHECK is the last line of defence */
	PGresult *r = PQexec(conn, "INSERT INTO suspicious_payee (kind, id, active, effective_at, "
	                           "source) VALUES ('card', '" PAN "', true, now(), 'afc')");
	ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	ck_assert_str_eq(db_sqlstate(r), "23514"); /* check_violation */
	PQclear(r);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM audit_event WHERE type = "
	                            "'suspicious_payee_set' AND detail->>'id' = 'tok-mule' "
	                            "AND detail->>'reference' = 'R-1'",
	                            NULL),
	                 1);
}
END_TEST

START_TEST(test_sql_state_agrees_with_the_c_twin)
{
	unsigned seed = 20261207;
	int64_t base = 0;
	ck_assert(ts_parse_rfc3339("2026-11-30T12:00:00Z", &base, NULL));
	struct payee ps[30];
	for (int b = 0; b < 30; b++) {
		ps[b] = (struct payee){.kind = (enum payee_kind)(b % 3)};
		snprintf(ps[b].id, sizeof(ps[b].id), "P-%d", b / 3); /* the same ids, three kinds */
		int n = (int)(rand_r(&seed) % 7);
		for (int k = 0; k < n; k++) {
			int64_t at = base + (int64_t)(rand_r(&seed) % 5) * 3600 * USEC_PER_SEC;
			if (rand_r(&seed) % 3 == 0)
				at += INT64_C(100) * 365 * 86400 * USEC_PER_SEC;
			char ts[TS_BUF];
			ts_format_utc(at, ts);
			put_on(conn, &ps[b], rand_r(&seed) % 2, ts, NULL);
		}
	}
	int compared = 0, flagged = 0;
	for (int b = 0; b < 30; b++) {
		const char *p[] = {name_of(&payee_kind_names, (int)ps[b].kind), ps[b].id};
		PGresult *r = testdb_exec_prepared(conn, STMT_PAYEE_GET, p);
		ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		size_t n;
		struct db_refusal_meta m;
		struct refusal_change *c = db_refusal_rows(r, &n, &m);
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
			         "SELECT cd_payee_flagged_at('%s', '%s', cd_ts(%lld))::int", p[0],
			         p[1], (long long)moments[k]);
			ck_assert_msg(testdb_num(conn, sql, NULL) == want, "payee %d at %lld", b,
			              (long long)moments[k]);
			compared++;
			flagged += want;
		}
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT cd_payee_flagged('%s', '%s')::int", p[0], p[1]);
		ck_assert_int_eq(testdb_num(conn, sql, NULL), refusal_active_at(c, n, m.now));
		free(c);
		PQclear(r);
	}
	ck_assert_int_ge(compared, 60);
	ck_assert_int_gt(flagged, 0);
	ck_assert_int_lt(flagged, compared);
	/* no payee, nothing flagged */
	ck_assert_int_eq(testdb_num(conn, "SELECT cd_payee_flagged(NULL, NULL)::int", NULL), 0);
}
END_TEST

START_TEST(test_the_state_is_one_index_probe)
{
	testdb_exec(conn, "INSERT INTO suspicious_payee (kind, id, active, effective_at, source) "
	                  "SELECT (ARRAY['account', 'card', 'wallet'])[g % 3 + 1], 'P' || g, "
	                  "g % 2 = 0, now() - g * interval '1 s', 'afc' "
	                  "FROM generate_series(1, 30000) g; ANALYZE suspicious_payee");
	PGresult *r = PQexec(conn, "EXPLAIN SELECT s.active FROM suspicious_payee s "
	                           "WHERE s.kind = 'card' AND s.id = 'P42' AND s.effective_at <= "
	                           "now() ORDER BY s.effective_at DESC, s.seq DESC LIMIT 1");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	char plan[4096] = "";
	for (int i = 0; i < PQntuples(r); i++) {
		strncat(plan, PQgetvalue(r, i, 0), sizeof(plan) - strlen(plan) - 2);
		strcat(plan, "\n");
	}
	PQclear(r);
	ck_assert_msg(strstr(plan, "Index Only Scan using suspicious_payee_state_idx") != NULL,
	              "%s", plan);
	ck_assert_msg(strstr(plan, "Sort") == NULL, "%s", plan);
}
END_TEST

/* ---- the gate and the lock ---- */

static long long eligible_loan(const char *loan_id)
{
	char sql[1024];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	         "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	         "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	         "approved_at, consent_at) VALUES ('B1', '%s', '900101300126', 100000, 'online', "
	         "false, false, true, 'kz-card', 4325, 64875000, false, NULL, false, "
	         "now() - interval '1 hour', now() - interval '1 hour') RETURNING id",
	         loan_id);
	return testdb_num(conn, sql, NULL);
}

static void send_disburse(PGconn *c, long long pk)
{
	static char num[24];
	snprintf(num, sizeof(num), "%lld", pk);
	const char *p[] = {num, "test", NULL, "B1", "{}", "card", MULE.id, NULL};
	ck_assert(PQsendQueryPrepared(c, db_statements[STMT_DISBURSE].name, 8, p, NULL, NULL, 0));
}

START_TEST(test_a_flag_committed_while_the_payout_waits_is_seen)
{
	long long pk = eligible_loan("RACE-1");
	PGconn *afc = testdb_connect_quiet(url), *pay = testdb_connect_quiet(url);
	struct cd_error err;
	ck_assert(db_prepare_all(afc, &err) && db_prepare_all(pay, &err));
	testdb_exec(afc, "BEGIN");
	ck_assert(put_on(afc, &MULE, true, "2020-01-01T00:00:00Z", NULL));
	send_disburse(pay, pk);
	ck_assert_msg(testdb_still_waiting(pay), "the payout did not wait for the flag's lock");
	testdb_exec(afc, "COMMIT");
	ck_assert_int_eq(testdb_rows_of(pay), 0); /* refused */
	ck_assert_int_eq(
	    testdb_num(conn, "SELECT count(*) FROM loan WHERE disbursed_at IS NOT NULL", NULL), 0);
	PQfinish(afc);
	PQfinish(pay);
}
END_TEST

START_TEST(test_a_flag_waits_for_a_payout_in_progress_and_commits_after_it)
{
	long long pk = eligible_loan("RACE-2");
	PGconn *afc = testdb_connect_quiet(url), *pay = testdb_connect_quiet(url);
	struct cd_error err;
	ck_assert(db_prepare_all(afc, &err) && db_prepare_all(pay, &err));
	testdb_exec(pay, "BEGIN");
	send_disburse(pay, pk);
	ck_assert_int_eq(testdb_rows_of(pay), 1); /* allowed, not committed yet */
	struct refusal_req q = {.active = true};
	snprintf(q.source, sizeof(q.source), "afc");
	ck_assert(ts_parse_rfc3339("2020-01-01T00:00:00Z", &q.effective_at, NULL));
	struct db_params p;
	ck_assert(PQsendQueryPrepared(afc, db_statements[STMT_PAYEE_PUT].name, 7,
	                              db_params_payee_put(&p, &MULE, &q, "afc1"), NULL, NULL, 0));
	ck_assert_msg(testdb_still_waiting(afc), "the flag did not wait for the payout");
	testdb_exec(pay, "COMMIT");
	ck_assert_int_eq(testdb_rows_of(afc), 1);
	testdb_seal(conn);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT ((SELECT c.seq FROM audit_chain c JOIN audit_event e "
	                            "ON e.id = c.event_id WHERE e.type = 'disbursement_allowed') < "
	                            "(SELECT c.seq FROM audit_chain c JOIN audit_event e ON e.id = "
	                            "c.event_id WHERE e.type = 'suspicious_payee_set'))::int",
	                            NULL),
	                 1);
	PQfinish(afc);
	PQfinish(pay);
}
END_TEST

/* ---- import ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void ctl_run(struct proc_run *r, const char *a1, const char *a2, const char *a3,
                    const char *a4)
{
	const char *argv[] = {"coolingctl", "-c", "/dev/null", "--database", url,
	                      a1,           a2,   a3,          a4,           NULL};
	static const char *const env[] = {"COOLINGD_DATABASE_URL", "USER=cli-test", NULL};
	proc_run(r, ctl, argv, env, NULL);
}

#define GOOD_FILE                                                                                  \
	"kind,id,active,effective_at,source,reference\r\n"                                         \
	"card,tok-mule,true,2026-11-30T19:00:00+05:00,afc,AFC-1\r\n"                               \
	"card,tok-mule,false,2026-12-30T19:00:00+05:00,afc,\r\n"                                   \
	"card,tok-mule,true,2026-11-30T19:00:00+05:00,afc,AFC-again\r\n"                           \
	"account,KZ86125KZT5004100100,true,2026-11-30T10:00:00Z,afc,\"with, a comma\"\r\n"

START_TEST(test_import_is_idempotent_and_writes_one_event_per_new_change)
{
	ctl = test_bin("coolingctl");
	char path[256];
	snprintf(path, sizeof(path), "%s/payees-%d.csv",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	write_file(path, GOOD_FILE);
	struct proc_run r;
	ctl_run(&r, "payees", "import", path, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "imported 4 changes (3 new, 1 already known)\n");
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(conn,
	                            "SELECT count(*) FROM audit_event WHERE type IN "
	                            "('suspicious_payee_set', 'suspicious_payee_withdrawn') "
	                            "AND actor = 'coolingctl:' || session_user",
	                            NULL),
	                 3);
	ctl_run(&r, "payees", "import", path, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "imported 4 changes (0 new, 4 already known)\n");
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM suspicious_payee", NULL), 3);

	/* show, as the API's entry */
	ctl_run(&r, "payees", "show", "account", "KZ86125KZT5004100100");
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(strstr(r.out, "flagged:      yes") != NULL, "%s", r.out);
	proc_run_free(&r);
	ctl_run(&r, "payees", "show", "card", "tok-mule");
	ck_assert_msg(r.status == 0 && strstr(r.out, "AFC-1") != NULL, "%s", r.out);
	proc_run_free(&r);
	const char *argv[] = {"coolingctl", "-c",     "/dev/null", "--database", url, "payees",
	                      "show",       "wallet", "W-none",    "--json",     NULL};
	proc_run(&r, ctl, argv, NULL, NULL);
	ck_assert_int_eq(r.status, 1);
	proc_run_free(&r);
	ctl_run(&r, "payees", "show", "card", PAN);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_null(strstr(r.err, PAN));
	proc_run_free(&r);
	unlink(path);
}
END_TEST

START_TEST(test_import_names_every_bad_line_without_its_id_and_imports_nothing)
{
	ctl = test_bin("coolingctl");
	char path[256];
	snprintf(path, sizeof(path), "%s/payees-bad-%d.csv",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	write_file(path, "kind,id,active,effective_at,source,reference\n"
	                 "card,tok-1,true,2026-11-30T19:00:00+05:00,afc,R-1\n"
	                 "iban,KZ1,true,2026-11-30T19:00:00+05:00,afc,R-2\n"
	                 "card," PAN ",true,2026-11-30T19:00:00Z,afc,R-3\n"
	                 "wallet,W-1,maybe,2026-11-30T19:00:00Z,afc,R-4\n"
	                 "wallet,W-2,true,2026-11-30T19:00:00Z,afc\n"
	                 "account,KZ2,true,2026-11-30T19:00:00Z,afc,R-6\n");
	struct proc_run r;
	ctl_run(&r, "payees", "import", path, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "line 3: kind:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 4: id:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 5: active:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 6: reference:") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "4 bad line(s)") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "line 2:") == NULL && strstr(r.err, "line 7:") == NULL, "%s",
	              r.err);
	ck_assert_ptr_null(strstr(r.err, PAN));
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM suspicious_payee", NULL), 0);
	ck_assert_int_eq(testdb_num(conn, "SELECT count(*) FROM audit_event", NULL), 0);
	unlink(path);
}
END_TEST

static Suite *payee_registry_suite(void)
{
	Suite *s = suite_create("payee_registry");
	TCase *tc = tcase_create("db");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_the_registry_is_append_only_and_refuses_a_card_number);
	tcase_add_test(tc, test_sql_state_agrees_with_the_c_twin);
	tcase_add_test(tc, test_the_state_is_one_index_probe);
	tcase_add_test(tc, test_a_flag_committed_while_the_payout_waits_is_seen);
	tcase_add_test(tc, test_a_flag_waits_for_a_payout_in_progress_and_commits_after_it);
	tcase_add_test(tc, test_import_is_idempotent_and_writes_one_event_per_new_change);
	tcase_add_test(tc, test_import_names_every_bad_line_without_its_id_and_imports_nothing);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(payee_registry_suite)

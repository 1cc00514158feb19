/*
 * The SQL that guards a disbursement (lib/db.c, GUARD) and the C that
 * explains a refusal (loan_evaluate) must never drift apart: for every
 * combination of loan state, the guarded UPDATE succeeds exactly when
 * loan_evaluate() finds no blocker. Also: the MRP in force is the one of the
 * approval's Asia/Almaty local date, as the database computes it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "db.h"
#include "policy.h"
#include "support/testdb.h"
#include "timeutil.h"

static char *url;
static PGconn *conn;

static void setup(void)
{
	url = testdb_create("gate");
	conn = testdb_connect(url);
	struct cd_error err;
	ck_assert_msg(db_prepare_all(conn, &err), "%s", err.message);
	PGresult *r = PQexec(conn, "SET TimeZone = 'UTC'; "
	                           "INSERT INTO lender (id, kind) VALUES ('B1', 'bank')");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
}

static void teardown(void)
{
	PQfinish(conn);
	testdb_drop(url);
	free(url);
}

static PGresult *exec_prepared(enum stmt st, const char *const *params)
{
	return PQexecPrepared(conn, db_statements[st].name, db_statements[st].nparams, params, NULL,
	                      NULL, 0);
}

struct state {
	bool cancelled, disbursed, consent, cooling_required, cooling_over, in_person_required,
	    verified;
};

/* Inserts a loan in the given state directly, bypassing the daemon. */
static void insert_loan(const char *loan_id, const struct state *s)
{
	char sql[2048];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	         "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	         "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	         "approved_at, consent_at, cooling_ends_at, in_person_verified_at, cancelled_at, "
	         "disbursed_at) VALUES ('B1', '%s', '900101300126', 70000000, 'online', false, "
	         "true, true, 'kz-card', 4325, 64875000, %s, %s, %s, now() - interval '3 hours', "
	         "%s, %s, %s, %s, %s)",
	         loan_id, s->cooling_required ? "true" : "false",
	         s->cooling_required ? "7200" : "NULL", s->in_person_required ? "true" : "false",
	         s->consent ? "now() - interval '2 hours' - interval '30 minutes'" : "NULL",
	         s->cooling_required && s->consent
	             ? (s->cooling_over ? "now() - interval '1 hour'" : "now() + interval '1 hour'")
	             : "NULL",
	         s->verified ? "now() - interval '2 hours'" : "NULL",
	         s->cancelled ? "now() - interval '1 hour'" : "NULL",
	         s->disbursed ? "now() - interval '10 minutes'" : "NULL");
	PGresult *r = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
}

/* GET /v1/loans?status=S filters with an SQL expression of the status:
 * the loan must be listed under the status loan_evaluate() gives, and under
 * no other. */
static void check_status_filter_agrees(const struct loan *l, const struct loan_view *v)
{
	static const enum loan_status all[] = {STATUS_CANCELLED,	  STATUS_DISBURSED,
					       STATUS_AWAITING_CONSENT,	  STATUS_COOLING,
					       STATUS_AWAITING_IN_PERSON, STATUS_ELIGIBLE};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct db_num n[3];
		const char *p[] = {db_num(&n[0], l->approved_at),
				   db_num(&n[1], l->approved_at + 1),
				   NULL,
				   NULL,
				   status_name(all[i]),
				   "1000",
				   "B1"};
		PGresult *r = exec_prepared(STMT_LOANS_LIST_LENDER, p);
		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		bool listed = false;
		for (int row = 0; row < PQntuples(r); row++)
			listed = listed || db_int(r, row, 23) == l->pk;
		PQclear(r);
		(void)n;
		ck_assert_msg(listed == (all[i] == v->status),
			      "loan %s: C status %s, SQL filter %s lists it: %d", l->loan_id,
			      status_name(v->status), status_name(all[i]), listed);
	}
}

START_TEST(test_sql_guard_allows_exactly_when_c_finds_no_blocker)
{
	int combos = 0, allowed = 0;
	for (unsigned bits = 0; bits < 128; bits++) {
		struct state s = {
		    .cancelled = bits & 1,
		    .disbursed = bits & 2,
		    .consent = bits & 4,
		    .cooling_required = bits & 8,
		    .cooling_over = bits & 16,
		    .in_person_required = bits & 32,
		    .verified = bits & 64,
		};
		/* States the schema itself forbids. */
		if (s.cancelled && s.disbursed)
			continue;
		if (s.disbursed && (!s.consent || (s.cooling_required && !s.cooling_over) ||
		                    (s.in_person_required && !s.verified)))
			continue;
		if (s.cooling_over && !(s.cooling_required && s.consent))
			continue;
		char loan_id[32];
		snprintf(loan_id, sizeof(loan_id), "S-%u", bits);
		insert_loan(loan_id, &s);
		combos++;

		const char *get[] = {"B1", loan_id};
		PGresult *r = exec_prepared(STMT_LOAN_GET, get);
		ck_assert_int_eq(PQntuples(r), 1);
		struct loan l;
		ck_assert(db_loan_from_row(r, 0, 0, &l));
		int64_t now = db_ts(r, 0, LOAN_NCOLS);
		PQclear(r);
		struct loan_view v;
		loan_evaluate(&l, now, &v);
		check_status_filter_agrees(&l, &v);

		struct db_num n;
		const char *dis[] = {db_num(&n, l.pk), "test", NULL, "B1", "{}"};
		r = exec_prepared(STMT_DISBURSE, dis);
		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		bool sql_allowed = PQntuples(r) == 1;
		PQclear(r);
		ck_assert_msg(sql_allowed == (v.blockers == 0),
		              "state %u: SQL guard says %s, loan_evaluate blockers 0x%x", bits,
		              sql_allowed ? "allowed" : "refused", v.blockers);
		allowed += sql_allowed;
	}
	ck_assert_int_ge(combos, 30);
	ck_assert_int_ge(allowed, 2); /* both outcomes were exercised */
	ck_assert_int_lt(allowed, combos);
}
END_TEST

START_TEST(test_schema_refuses_a_disbursed_loan_whose_rules_were_unmet)
{
	struct state s = {.consent = false};
	insert_loan("NOCONSENT", &s);
	PGresult *r =
	    PQexec(conn, "UPDATE loan SET disbursed_at = now() WHERE loan_id = 'NOCONSENT'");
	ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	ck_assert_str_eq(db_sqlstate(r), "23514"); /* check_violation */
	PQclear(r);
}
END_TEST

/* The MRP the approval context picks for an approval at `at` (UTC). */
static int64_t mrp_for(const char *at)
{
	int64_t us;
	ck_assert(ts_parse_rfc3339(at, &us, NULL));
	struct db_num n;
	const char *p[] = {"B1", "NONE", db_num(&n, us), "Asia/Almaty", "900101300126"};
	PGresult *r = exec_prepared(STMT_APPROVAL_CONTEXT, p);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	int64_t mrp = db_int(r, 0, LOAN_NCOLS + 1);
	PQclear(r);
	return mrp;
}

START_TEST(test_mrp_is_the_one_of_the_almaty_local_date)
{
	/* UTC+5 since 2024-03-01: 19:00Z on 31 December is midnight in Almaty */
	ck_assert_int_eq(mrp_for("2025-12-31T18:59:59Z"), 3932);
	ck_assert_int_eq(mrp_for("2025-12-31T19:00:00Z"), 4325);
	ck_assert_int_eq(mrp_for("2025-12-31T19:30:00Z"), 4325);
	ck_assert_int_eq(mrp_for("2026-01-01T00:00:00+05:00"), 4325);
	ck_assert_int_eq(mrp_for("2025-12-31T23:59:59+05:00"), 3932);
	/* UTC+6 before: 18:00Z on 31 December 2023 is midnight in Almaty */
	ck_assert_int_eq(mrp_for("2023-12-31T17:59:59Z"), 3450);
	ck_assert_int_eq(mrp_for("2023-12-31T18:00:00Z"), 3692);
	ck_assert_int_eq(mrp_for("2024-12-31T19:00:00Z"), 3932);
}
END_TEST

START_TEST(test_mrp_set_mid_year_applies_from_its_local_date)
{
	PGresult *r =
	    PQexec(conn, "INSERT INTO mrp (valid_from, tenge) VALUES ('2026-07-01', 5000)");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	ck_assert_int_eq(mrp_for("2026-06-30T18:59:59Z"), 4325);
	ck_assert_int_eq(mrp_for("2026-06-30T19:00:00Z"), 5000);
}
END_TEST

START_TEST(test_first_time_borrower_is_derived_from_disbursed_loans)
{
	const char *p[] = {"B1", "NONE", NULL, "Asia/Almaty", "900101300126"};
	PGresult *r = exec_prepared(STMT_APPROVAL_CONTEXT, p);
	ck_assert(db_bool(r, 0, LOAN_NCOLS + 2)); /* nothing disbursed yet */
	PQclear(r);
	struct state s = {.consent = true, .disbursed = true};
	insert_loan("PAID", &s);
	r = exec_prepared(STMT_APPROVAL_CONTEXT, p);
	ck_assert(!db_bool(r, 0, LOAN_NCOLS + 2));
	PQclear(r);
}
END_TEST

START_TEST(test_migrations_are_idempotent)
{
	int applied = -1;
	struct cd_error err;
	ck_assert_msg(db_migrate(conn, NULL, &applied, &err), "%s", err.message);
	ck_assert_int_eq(applied, 0);
	ck_assert_int_eq(db_schema_version(conn), DB_SCHEMA_VERSION);
}
END_TEST

static Suite *gate_suite(void)
{
	Suite *s = suite_create("gate_agreement");
	TCase *tc = tcase_create("db");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sql_guard_allows_exactly_when_c_finds_no_blocker);
	tcase_add_test(tc, test_schema_refuses_a_disbursed_loan_whose_rules_were_unmet);
	tcase_add_test(tc, test_mrp_is_the_one_of_the_almaty_local_date);
	tcase_add_test(tc, test_mrp_set_mid_year_applies_from_its_local_date);
	tcase_add_test(tc, test_first_time_borrower_is_derived_from_disbursed_loans);
	tcase_add_test(tc, test_migrations_are_idempotent);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(gate_suite)

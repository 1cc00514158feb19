/*
 * Migration 006 (profile kz-2025-09) on a database that holds loans
 * recorded under v1 (migrations 001-005): every v1 column reads back
 * unchanged, the new fields take the values that keep the v1 answers
 * (kz-card: exemption branch for a branch loan, the day's amount the loan's
 * own, rule card when cooled, nothing more to confirm; the lender's kind;
 * the age on the Almaty local date of approval), and each loan's status and
 * blockers are what they were.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "db.h"
#include "migrations.h"
#include "policy.h"
#include "support/testdb.h"
#include "timeutil.h"

static char *admin_url, *url;
static PGconn *conn;

/* A fresh database with the migrations up to `upto` applied as db_migrate()
 * applies them. */
static void create_at(int upto)
{
	const char *base = getenv("COOLINGD_TEST_DATABASE_URL");
	ck_assert_msg(base != NULL, "COOLINGD_TEST_DATABASE_URL is not set");
	char name[64];
	snprintf(name, sizeof name, "cd_mig006_%d", (int)getpid());
	PGconn *admin = testdb_connect_quiet(base);
	char sql[160];
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	testdb_exec(admin, sql);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	testdb_exec(admin, sql);
	PQfinish(admin);
	admin_url = strdup(base);
	url = testdb_url_for(base, name);
	conn = testdb_connect_quiet(url);
	testdb_exec(conn, "SET TimeZone = 'UTC'; CREATE TABLE schema_migrations (version integer "
	                  "PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL "
	                  "DEFAULT now())");
	for (int i = 0; i < migrations_count && migrations[i].version <= upto; i++) {
		testdb_exec(conn, migrations[i].sql);
		snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES (%d, 'v1')",
		         migrations[i].version);
		testdb_exec(conn, sql);
	}
}

static void teardown(void)
{
	PQfinish(conn);
	testdb_drop(url);
	free(url);
	free(admin_url);
}

/* The v1 columns of every loan, as one text, in id order. */
#define V1_COLUMNS                                                                                 \
	"lender_id, loan_id, borrower_iin, amount_tiyn, currency, channel, secured, "              \
	"first_time_borrower, first_time_given, policy, mrp_tenge, threshold_tiyn, "               \
	"cooling_required, cooling_period_s, in_person_required, approved_at, consent_at, "        \
	"cooling_ends_at, in_person_verified_at, in_person_branch_id, in_person_officer_id, "      \
	"disbursed_at, cancelled_at, cancel_reason, created_at"

static char *v1_rows(void)
{
	PGresult *r = PQexec(conn, "SELECT string_agg(row(" V1_COLUMNS ")::text, E'\\n' ORDER BY "
	                           "id) FROM loan");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	char *s = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return s;
}

START_TEST(test_v1_loans_keep_their_answers_after_migration_006)
{
	create_at(5);
	/* v1 loans as the v1 daemon wrote them: a cooled online loan during its
	 * period, an uncooled one paid out, a branch loan, a cancelled one, one
	 * of an MFO, one of a borrower born on 29 February 2004 approved on
	 * 28 February 2025 at 23:30 in Almaty (21:00 after the UTC midnight:
	 * 18:30Z) */
	testdb_exec(conn,
	            "INSERT INTO lender (id, kind) VALUES ('B1', 'bank'), ('M1', 'mfo');"
	            "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	            "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	            "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	            "approved_at, consent_at, cooling_ends_at, in_person_verified_at, "
	            "disbursed_at, cancelled_at, cancel_reason) VALUES "
	            "('B1', 'COOL', '900101300126', 60000000, 'online', false, false, true, "
	            "'kz-card', 4325, 64875000, false, NULL, false, now() - interval '1 hour', "
	            "now() - interval '50 minutes', NULL, NULL, NULL, NULL, NULL),"
	            "('B1', 'BIG', '900101300126', 70000000, 'online', false, false, true, "
	            "'kz-card', 4325, 64875000, true, 86400, false, now() - interval '1 hour', "
	            "now() - interval '50 minutes', now() + interval '23 hours', NULL, NULL, "
	            "NULL, NULL),"
	            "('B1', 'BR', '900101300126', 70000000, 'branch', false, true, true, "
	            "'kz-card', 4325, 64875000, false, NULL, true, now() - interval '1 hour', "
	            "now() - interval '1 hour', NULL, now() - interval '1 hour', now(), NULL, "
	            "NULL),"
	            "('B1', 'CAN', '900101300126', 100000, 'online', false, false, true, "
	            "'kz-card', 4325, 64875000, false, NULL, false, now() - interval '1 hour', "
	            "NULL, NULL, NULL, NULL, now(), 'withdrawn'),"
	            "('M1', 'MFO', '900101300126', 100000, 'online', false, false, true, "
	            "'kz-card', 4325, 64875000, false, NULL, false, now() - interval '1 hour', "
	            "NULL, NULL, NULL, NULL, NULL, NULL),"
	            "('B1', 'LEAP', '040229500005', 100000, 'online', false, false, true, "
	            "'kz-card', 3932, 58980000, false, NULL, false, '2025-02-28T18:30:00Z', "
	            "NULL, NULL, NULL, NULL, NULL, NULL)");
	/* 040229500005: check digit of 04022950000 */
	char *before = v1_rows();

	struct cd_error err;
	int applied = 0;
	ck_assert_msg(db_migrate(conn, NULL, &applied, &err), "%s", err.message);
	ck_assert_int_eq(applied, migrations_count - 5);
	char *after = v1_rows();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);

	static const struct {
		const char *lender, *loan_id;
		int kind;
		enum exemption exemption;
		enum rule rule;
		enum loan_status status;
		int age;
	} want[] = {
	    {"B1", "COOL", LENDER_BANK, EXEMPT_NONE, RULE_NONE, STATUS_ELIGIBLE, -1},
	    {"B1", "BIG", LENDER_BANK, EXEMPT_NONE, RULE_CARD, STATUS_COOLING, -1},
	    {"B1", "BR", LENDER_BANK, EXEMPT_BRANCH, RULE_NONE, STATUS_DISBURSED, -1},
	    {"B1", "CAN", LENDER_BANK, EXEMPT_NONE, RULE_NONE, STATUS_CANCELLED, -1},
	    {"M1", "MFO", LENDER_MFO, EXEMPT_NONE, RULE_NONE, STATUS_AWAITING_CONSENT, -1},
	    {"B1", "LEAP", LENDER_BANK, EXEMPT_NONE, RULE_NONE, STATUS_AWAITING_CONSENT, 21},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct loan l;
		int64_t now;
		ck_assert_msg(db_loan_get(conn, want[i].lender, want[i].loan_id, &l, &now, &err),
		              "%s", err.message);
		ck_assert_int_eq(l.lender_kind, want[i].kind);
		ck_assert_int_eq(l.product, PRODUCT_CONSUMER);
		ck_assert_int_eq(l.exemption, want[i].exemption);
		ck_assert_int_eq(l.rule, want[i].rule);
		ck_assert_int_eq(l.aggregated_tiyn, l.amount_tiyn);
		ck_assert(!l.reconfirmation_required);
		ck_assert(!l.extra_confirmation_required);
		ck_assert_int_eq(l.extra_confirmed_at, TS_NULL);
		ck_assert_int_eq(l.reconfirmed_at, TS_NULL);
		ck_assert_int_ge(l.borrower_age, 0);
		if (want[i].age >= 0)
			ck_assert_int_eq(l.borrower_age, want[i].age);
		struct loan_view v;
		loan_evaluate(&l, now, &v);
		ck_assert_msg(v.status == want[i].status, "%s: %s", want[i].loan_id,
		              status_name(v.status));
	}
	/* the day's sum of the borrower counts the v1 online loans alike */
	long long total =
	    testdb_num(conn,
	               "SELECT (cd_day_loans('900101300126', approved_at, 'Asia/Almaty', "
	               "NULL, false)->>'total')::bigint FROM loan "
	               "WHERE loan_id = 'COOL'",
	               NULL);
	ck_assert_int_eq(total, 60000000 + 70000000 + 100000);
}
END_TEST

static Suite *migrate_suite(void)
{
	Suite *s = suite_create("migrate_law");
	TCase *tc = tcase_create("db");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_v1_loans_keep_their_answers_after_migration_006);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(migrate_suite)

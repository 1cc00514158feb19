/*
 * The database roles of least privilege (CONTRACT.md v1.2), proven by
 * logging in: a login role that is a member of coolingd_reader, and one
 * that is a member of coolingd_admin, each made on a fresh database (the
 * roles themselves come from the migrations), try what their role is for
 * and what it is not, with SQL and with the built coolingctl. The actor of
 * what coolingctl writes is the database login, whatever the caller's
 * environment says.
 */
#include "check_main.h"
#include "support/proc.h"
#include "support/testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"

static const char *ctl_path;

/* coolingctl's environment: a user name that is not the database login, as
 * anyone may set it. */
static const char *const ctl_env[] = {"COOLINGD_DATABASE_URL", "USER=someone-else",
                                      "SUDO_USER=root-by-sudo", NULL};

/* The database of one test and the login roles made for it. */
struct fixture {
	char *url;      /* as the test server's superuser */
	char *reader;   /* URL as a member of coolingd_reader */
	char *admin;    /* URL as a member of coolingd_admin */
	char rname[64]; /* the reader's login */
	char aname[64]; /* the admin's login */
	PGconn *c;      /* superuser connection to the database */
};
static struct fixture fx;

/* url as another login: a later user= in the URI wins. */
static char *url_as(const char *url, const char *user)
{
	size_t n = strlen(url) + strlen(user) + 8;
	char *out = malloc(n);
	ck_assert_ptr_nonnull(out);
	snprintf(out, n, "%s%cuser=%s", url, strchr(url, '?') ? '&' : '?', user);
	return out;
}

static void make_login(PGconn *server, const char *name, const char *group)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", name);
	testdb_exec(server, sql);
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN IN ROLE %s", name, group);
	testdb_exec(server, sql);
}

static void setup(void)
{
	ctl_path = test_bin("coolingctl");
	fx.url = testdb_create("roles");
	snprintf(fx.rname, sizeof(fx.rname), "cd_roles_reader_%d", (int)getpid());
	snprintf(fx.aname, sizeof(fx.aname), "cd_roles_admin_%d", (int)getpid());
	PGconn *server = testdb_connect_quiet(getenv("COOLINGD_TEST_DATABASE_URL"));
	make_login(server, fx.rname, "coolingd_reader");
	make_login(server, fx.aname, "coolingd_admin");
	PQfinish(server);
	fx.reader = url_as(fx.url, fx.rname);
	fx.admin = url_as(fx.url, fx.aname);
	fx.c = testdb_connect_quiet(fx.url);
	testdb_exec(fx.c,
	            "INSERT INTO lender (id, kind, name) VALUES ('BANK1', 'bank', 'Bank One');"
	            "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	            "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	            "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	            "approved_at, consent_at, cooling_ends_at) VALUES ('BANK1', 'LN-1', "
	            "'900101300126', 60000000, 'online', false, true, true, 'kz-card', 3932, "
	            "58980000, true, 86400, true, now(), now(), now() + interval '1 day');"
	            "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) VALUES "
	            "('core1', 'BANK1', 'LN-1', 'approval_recorded', '{}')");
	testdb_seal(fx.c);
}

static void teardown(void)
{
	PQfinish(fx.c);
	testdb_drop(fx.url);
	PGconn *server = testdb_connect_quiet(getenv("COOLINGD_TEST_DATABASE_URL"));
	char sql[192];
	snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s, %s", fx.rname, fx.aname);
	testdb_exec(server, sql);
	PQfinish(server);
	free(fx.url);
	free(fx.reader);
	free(fx.admin);
}

/* ---- logging in ---- */

static PGconn *login(const char *url)
{
	PGconn *c = PQconnectdb(url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	testdb_ignore_notices(c);
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT (NOT rolsuper)::int FROM pg_roles "
	                            "WHERE rolname = session_user",
	                            NULL),
	                 1);
	return c;
}

/* sql fails with "insufficient privilege" (42501). */
static void refused(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	ck_assert_msg(state != NULL && strcmp(state, "42501") == 0, "%s: %s, not 42501 (%s)", sql,
	              state ? state : PQresStatus(PQresultStatus(r)), PQerrorMessage(c));
	PQclear(r);
}

static void allowed(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
	              "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* ---- coolingctl as a login ---- */

#define CTL(r, url, ...) proc_ctl(r, ctl_env, NULL, url, __VA_ARGS__, (const char *)NULL)

#define CTL_OK(url, ...)                                                                           \
	do {                                                                                       \
		struct proc_run ok_;                                                               \
		CTL(&ok_, url, __VA_ARGS__);                                                       \
		ck_assert_msg(ok_.status == 0, "exit %d; stderr: %s", ok_.status, ok_.err);        \
		proc_run_free(&ok_);                                                               \
	} while (0)

/* coolingctl with argv and more environment, which must succeed. */
#define CTL_ENV_OK(argv, env)                                                                      \
	do {                                                                                       \
		struct proc_run ok_;                                                               \
		proc_run(&ok_, ctl_path, (argv), ctl_env, (env));                                  \
		ck_assert_msg(ok_.status == 0, "exit %d; stderr: %s", ok_.status, ok_.err);        \
		proc_run_free(&ok_);                                                               \
	} while (0)

/* Fails with exit 1 and "permission denied" on stderr. */
#define CTL_DENIED(url, ...)                                                                       \
	do {                                                                                       \
		struct proc_run no_;                                                               \
		CTL(&no_, url, __VA_ARGS__);                                                       \
		ck_assert_msg(no_.status == 1, "exit %d, not 1; stderr: %s", no_.status, no_.err); \
		ck_assert_msg(strstr(no_.err, "permission denied") != NULL, "stderr: %s",          \
		              no_.err);                                                            \
		proc_run_free(&no_);                                                               \
	} while (0)

/* ---- coolingd_reader ---- */

START_TEST(test_reader_reads_what_compliance_reads)
{
	PGconn *c = login(fx.reader);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM loan", NULL), 1);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_event", NULL), 1);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_chain", NULL), 1);
	allowed(c, "SELECT * FROM lender, mrp, audit_checkpoint, voluntary_refusal, "
	           "decision_hourly, schema_migrations, schema_release, access_log");
	PQfinish(c);

	struct proc_run r;
	CTL(&r, fx.reader, "loan", "show", "BANK1", "LN-1", "--json");
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "\"loan_id\": \"LN-1\""));
	proc_run_free(&r);
	CTL_OK(fx.reader, "borrower", "900101300126");
	CTL_OK(fx.reader, "audit", "verify");
}
END_TEST

START_TEST(test_reader_cannot_write_seal_or_change_the_registry)
{
	PGconn *c = login(fx.reader);
	refused(c, "UPDATE loan SET cancelled_at = now()");
	refused(c, "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	           "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	           "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	           "approved_at) SELECT lender_id, 'LN-2', borrower_iin, amount_tiyn, channel, "
	           "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	           "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	           "approved_at FROM loan");
	refused(c, "INSERT INTO audit_event (actor, type, detail) VALUES ('x', 'mrp_set', '{}')");
	refused(c, "SELECT cd_audit_seal(100)");
	refused(c, "SELECT * FROM cd_audit_seal_head(100, 'x')");
	refused(c, "INSERT INTO voluntary_refusal (iin, active, effective_at, source) VALUES "
	           "('900101300126', true, now(), 'bureau')");
	refused(c, "INSERT INTO lender (id, kind) VALUES ('BANK2', 'bank')");
	refused(c, "UPDATE mrp SET tenge = 1");
	refused(c, "SELECT token_hash FROM api_client");
	refused(c, "SELECT name FROM api_client");
	refused(c, "INSERT INTO export_job (name) VALUES ('x')");
	refused(c, "INSERT INTO access_log (client, role, route, borrower_iin) VALUES ('x', "
	           "'auditor', 'x', '900101300126')");
	PQfinish(c);

	CTL_DENIED(fx.reader, "lender", "add", "BANK3", "--kind", "bank");
	CTL_DENIED(fx.reader, "mrp", "set", "2040-01-01", "9000");
	CTL_DENIED(fx.reader, "client", "list");
}
END_TEST

/* The daemon seals; a reader exports what is sealed and does not fail for
 * the event written after it. */
START_TEST(test_reader_exports_the_sealed_events_without_sealing)
{
	testdb_exec(fx.c, "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) "
	                  "VALUES ('core1', 'BANK1', 'LN-1', 'consent_recorded', '{}')");
	struct proc_run r;
	CTL(&r, fx.reader, "export", "--format", "jsonl");
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "\"approval_recorded\""));
	ck_assert_ptr_null(strstr(r.out, "\"consent_recorded\""));
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(fx.c, "SELECT count(*) FROM audit_chain", NULL), 1);
}
END_TEST

/* ---- coolingd_admin ---- */

START_TEST(test_admin_runs_the_operator_commands_as_its_login)
{
	CTL_OK(fx.admin, "lender", "add", "MFO1", "--kind", "mfo");
	struct proc_run r;
	CTL(&r, fx.admin, "client", "add", "--name", "core-mfo", "--role", "lender", "--lender",
	    "MFO1", "--expires-in", "90d");
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	ck_assert_int_eq(strncmp(r.out, "cdt_", 4), 0);
	proc_run_free(&r);
	CTL_OK(fx.admin, "client", "list", "--json");
	CTL_OK(fx.admin, "lender", "list");
	CTL_OK(fx.admin, "client", "revoke", "core-mfo");
	CTL_OK(fx.admin, "mrp", "set", "2040-01-01", "9000");
	char path[256];
	snprintf(path, sizeof(path), "%s/roles-refusals-%d.csv",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("iin,active,effective_at,source,reference\n"
	      "900101300126,true,2026-01-01T00:00:00Z,bureau,R-1\n",
	      f);
	fclose(f);
	CTL_OK(fx.admin, "refusals", "import", path);
	unlink(path);
	/* webhooks: the key that seals their secrets, as coolingd's */
	snprintf(path, sizeof(path), "%s/roles-webhook-key-%d",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fchmod(fileno(f), 0600);
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
	fclose(f);
	char key_env[300];
	snprintf(key_env, sizeof(key_env), "COOLINGD_WEBHOOKS_SECRET_KEY=%s", path);
	const char *hook_env[] = {key_env, NULL};
	const char *add[] = {"coolingctl",
	                     "-c",
	                     "/dev/null",
	                     "--database",
	                     fx.admin,
	                     "webhook",
	                     "add",
	                     "--lender",
	                     "MFO1",
	                     "--url",
	                     "https://example.com/hook",
	                     NULL};
	CTL_ENV_OK(add, hook_env);
	const char *list[] = {"coolingctl", "-c",      "/dev/null", "--database",
	                      fx.admin,     "webhook", "list",      NULL};
	CTL_ENV_OK(list, hook_env);
	const char *rm[] = {"coolingctl", "-c",     "/dev/null", "--database", fx.admin,
	                    "webhook",    "remove", "1",         NULL};
	CTL_ENV_OK(rm, hook_env);
	unlink(path);

	/* every event names the database login, not $USER or $SUDO_USER */
	char actor[96];
	snprintf(actor, sizeof(actor), "coolingctl:%s", fx.aname);
	ck_assert_int_eq(testdb_num(fx.c,
	                            "SELECT count(*) FROM audit_event WHERE type IN "
	                            "('lender_added', 'client_added', 'client_revoked', 'mrp_set', "
	                            "'voluntary_refusal_set', 'webhook_added', 'webhook_removed') "
	                            "AND actor = $1",
	                            actor, NULL),
	                 7);
	ck_assert_int_eq(testdb_num(fx.c,
	                            "SELECT count(*) FROM audit_event WHERE actor LIKE "
	                            "'%someone-else%' OR actor LIKE '%root-by-sudo%'",
	                            NULL),
	                 0);
}
END_TEST

START_TEST(test_admin_cannot_write_loans_seal_or_read_a_token)
{
	CTL_OK(fx.admin, "client", "add", "--name", "aud", "--role", "auditor");
	PGconn *c = login(fx.admin);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM loan", NULL), 1);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM api_client", NULL), 1);
	refused(c, "UPDATE loan SET cancelled_at = now()");
	refused(c, "DELETE FROM loan");
	refused(c, "SELECT cd_audit_seal(100)");
	refused(c, "SELECT token_hash FROM api_client");
	refused(c, "SELECT token_id FROM api_client");
	refused(c, "UPDATE api_client SET token_hash = sha256('x')");
	refused(c, "UPDATE api_client SET expires_at = NULL");
	refused(c, "DELETE FROM api_client");
	refused(c, "SELECT secret_sealed FROM webhook");
	refused(c, "UPDATE webhook SET delivered_seq = 0");
	refused(c, "UPDATE audit_event SET actor = 'x'");
	refused(c, "DELETE FROM audit_event");
	refused(c, "INSERT INTO audit_chain (seq, event_id, txid, hash) "
	           "SELECT 100, id, txid, sha256('x') FROM audit_event LIMIT 1");
	refused(c, "DELETE FROM voluntary_refusal");
	refused(c, "CREATE TABLE scratch (x int)");
	PQfinish(c);
}
END_TEST

/* The actor of coolingctl's events for a superuser's login too: the
 * database's session_user, which no environment variable changes. */
START_TEST(test_actor_is_the_session_user_whatever_user_says)
{
	const char *argv[] = {"coolingctl", "-c",  "/dev/null",  "--database", fx.url,
	                      "mrp",        "set", "2041-01-01", "9100",       NULL};
	const char *env[] = {"USER=mallory", "SUDO_USER=mallory", "LOGNAME=mallory", NULL};
	struct proc_run r;
	proc_run(&r, ctl_path, argv, ctl_env, env);
	ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(fx.c,
	                            "SELECT count(*) FROM audit_event WHERE type = 'mrp_set' "
	                            "AND detail->>'valid_from' = '2041-01-01' "
	                            "AND actor = 'coolingctl:' || session_user",
	                            NULL),
	                 1);
	ck_assert_int_eq(
	    testdb_num(fx.c, "SELECT count(*) FROM audit_event WHERE actor LIKE '%mallory%'", NULL),
	    0);
}
END_TEST

/* The daemon's role gains one thing: noting a client's last use, with the
 * daemon's own statement, and nothing else of a client. */
START_TEST(test_app_notes_a_clients_last_use_and_nothing_else_of_it)
{
	char app[64], sql[256];
	snprintf(app, sizeof(app), "cd_roles_app_%d", (int)getpid());
	PGconn *server = testdb_connect_quiet(getenv("COOLINGD_TEST_DATABASE_URL"));
	make_login(server, app, "coolingd_app");
	CTL_OK(fx.admin, "client", "add", "--name", "seen", "--role", "auditor");
	char *url = url_as(fx.url, app);
	PGconn *c = login(url);
	const char *p[] = {"seen"};
	PGresult *r =
	    PQexecParams(c, db_statements[STMT_CLIENT_SEEN].sql, 1, NULL, p, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
	ck_assert_str_eq(PQcmdTuples(r), "1");
	PQclear(r);
	refused(c, "UPDATE api_client SET revoked_at = now()");
	refused(c, "UPDATE api_client SET expires_at = NULL");
	refused(c, "UPDATE api_client SET token_hash = sha256('x')");
	refused(c, "INSERT INTO api_client (name, role, token_id, token_hash) VALUES "
	           "('x', 'auditor', 'x', sha256('x'))");
	PQfinish(c);
	free(url);
	ck_assert_int_eq(testdb_num(fx.c,
	                            "SELECT count(*) FROM api_client WHERE name = 'seen' AND "
	                            "last_used_at IS NOT NULL",
	                            NULL),
	                 1);
	snprintf(sql, sizeof(sql), "DROP ROLE %s", app);
	testdb_exec(server, sql);
	PQfinish(server);
}
END_TEST

static Suite *roles_suite(void)
{
	Suite *s = suite_create("roles");
	TCase *tc = tcase_create("least privilege");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_reader_reads_what_compliance_reads);
	tcase_add_test(tc, test_reader_cannot_write_seal_or_change_the_registry);
	tcase_add_test(tc, test_reader_exports_the_sealed_events_without_sealing);
	tcase_add_test(tc, test_admin_runs_the_operator_commands_as_its_login);
	tcase_add_test(tc, test_admin_cannot_write_loans_seal_or_read_a_token);
	tcase_add_test(tc, test_actor_is_the_session_user_whatever_user_says);
	tcase_add_test(tc, test_app_notes_a_clients_last_use_and_nothing_else_of_it);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(roles_suite)

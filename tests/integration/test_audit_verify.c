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
#include "support/testdb.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit_hash.h"
#include "db.h"

static char ctl_path[PATH_MAX];

struct run {
	int status; /* exit code, 128 + signal when killed */
	char out[8192];
	char err[8192];
};

/* ---- running coolingctl ---- */

static int temp_fd(void)
{
	char name[] = "/tmp/cd_verify_XXXXXX";
	int fd = mkstemp(name);
	ck_assert_int_ge(fd, 0);
	unlink(name);
	return fd;
}

static void read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t got;
	lseek(fd, 0, SEEK_SET);
	while (n + 1 < size && (got = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = '\0';
	close(fd);
}

/* coolingctl -c /dev/null --database URL ARGS... (NULL-terminated) */
static void ctl(struct run *r, const char *url, ...)
{
	const char *argv[32] = {"coolingctl", "-c", "/dev/null", "--database", url};
	int n = 5;
	va_list ap;
	va_start(ap, url);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;

	int out = temp_fd(), err = temp_fd();
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDONLY);
		dup2(null_fd, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		unsetenv("COOLINGD_DATABASE_URL");
		setenv("USER", "verify-test", 1);
		execv(ctl_path, (char *const *)argv);
		_exit(127);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	read_all(out, r->out, sizeof(r->out));
	read_all(err, r->err, sizeof(r->err));
}

#define CTL(r, url, ...) ctl(r, url, __VA_ARGS__, (const char *)NULL)

static void assert_ok(const struct run *r)
{
	ck_assert_msg(r->status == 0, "exit %d; stderr: %s", r->status, r->err);
}

/* verify fails with exit 1 and one stderr line naming seq. */
static void assert_broken_at(const struct run *r, long long seq, const char *why)
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

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *connect_quiet(const char *url)
{
	PGconn *c = testdb_connect(url);
	PQsetNoticeProcessor(c, ignore_notice, NULL);
	return c;
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
	              "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static long long query_int(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
	              PQerrorMessage(c));
	long long v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

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

static void seal(PGconn *c)
{
	struct cd_error err = {0};
	ck_assert_msg(db_audit_seal_all(c, &err) >= 0, "seal: %s", err.message);
}

/*
 * A fresh database with 8 sealed events: three from coolingctl (lender,
 * client, MRP) and five from SQL, among them text that a sloppy canonical
 * form would get wrong (quotes, a newline, Cyrillic, a NULL lender).
 */
static char *trail_database(PGconn **conn)
{
	char *url = testdb_create("verify");
	struct run r;
	CTL(&r, url, "lender", "add", "BANK1", "--kind", "bank", "--name", "Bank \"One\", Almaty");
	assert_ok(&r);
	CTL(&r, url, "client", "add", "--name", "aud1", "--role", "auditor");
	assert_ok(&r);
	CTL(&r, url, "mrp", "set", "2027-01-01", "4500");
	assert_ok(&r);
	PGconn *c = connect_quiet(url);
	exec_ok(c, "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) VALUES "
	           "('core1', 'BANK1', 'LN-1', 'approval_recorded', '{\"amount\": 1.10}'), "
	           "('core1', 'BANK1', 'LN-1', 'consent_recorded', '{}'), "
	           "(E'ops\\n\"night\"', NULL, NULL, 'cancelled', "
	           "  '{\"reason\": \"Заёмщик передумал\\nи ушёл\"}'), "
	           "('core1', 'BANK1', 'LN-1', 'disbursement_refused', "
	           "  '{\"blockers\": [\"cooling_period_active\"]}'), "
	           "('core1', 'BANK1', 'LN-2', 'disbursement_allowed', '{\"n\": -0.5e3}')");
	seal(c);
	ck_assert_int_eq(query_int(c, "SELECT count(*) FROM audit_chain"), 8);
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
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "audit chain intact: 8 events\n");
	ck_assert_str_eq(r.err, "");
	finish(c, url);
}
END_TEST

START_TEST(test_verify_seals_committed_events_first_so_they_are_covered)
{
	PGconn *c;
	char *url = trail_database(&c);
	exec_ok(c, "INSERT INTO audit_event (actor, type) VALUES ('core1', 'mrp_set'), "
	           "('core1', 'mrp_set')");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "audit chain intact: 10 events\n");
	ck_assert_int_eq(query_int(c, "SELECT count(*) FROM audit_chain"), 10);
	finish(c, url);
}
END_TEST

START_TEST(test_empty_trail_is_intact_with_0_events)
{
	char *url = testdb_create("verify");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "audit chain intact: 0 events\n");
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_changed_event_detail_fails_naming_its_seq)
{
	PGconn *c;
	char *url = trail_database(&c);
	exec_ok(c, "ALTER TABLE audit_event DISABLE TRIGGER USER");
	exec_ok(c, "UPDATE audit_event SET detail = '{\"amount\": 1.1}' "
	           "WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 4)");
	exec_ok(c, "ALTER TABLE audit_event ENABLE TRIGGER USER");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, 4, "hash does not match (event changed, removed or inserted)");
	finish(c, url);
}
END_TEST

START_TEST(test_changed_actor_of_the_first_event_fails_at_seq_1)
{
	PGconn *c;
	char *url = trail_database(&c);
	exec_ok(c, "ALTER TABLE audit_event DISABLE TRIGGER USER");
	exec_ok(c, "UPDATE audit_event SET actor = 'someone-else' "
	           "WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 1)");
	exec_ok(c, "ALTER TABLE audit_event ENABLE TRIGGER USER");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, 1, "hash does not match");
	finish(c, url);
}
END_TEST

START_TEST(test_changed_stored_hash_fails_at_that_seq)
{
	PGconn *c;
	char *url = trail_database(&c);
	exec_ok(c, "ALTER TABLE audit_chain DISABLE TRIGGER USER");
	exec_ok(c, "UPDATE audit_chain SET hash = sha256('forged') WHERE seq = 6");
	exec_ok(c, "ALTER TABLE audit_chain ENABLE TRIGGER USER");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, 6, "hash does not match");
	finish(c, url);
}
END_TEST

START_TEST(test_removed_chain_entry_in_the_middle_fails_naming_it)
{
	PGconn *c;
	char *url = trail_database(&c);
	exec_ok(c, "ALTER TABLE audit_chain DISABLE TRIGGER USER");
	exec_ok(c, "DELETE FROM audit_chain WHERE seq = 5");
	exec_ok(c, "ALTER TABLE audit_chain ENABLE TRIGGER USER");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, 5, "missing from the chain");
	finish(c, url);
}
END_TEST

START_TEST(test_removed_chain_entry_with_seqs_renumbered_fails_at_the_gap)
{
	/* Closing the gap by renumbering leaves the hashes of the later
	 * entries, which covered their old seq, and leaves the entry's event
	 * outside the chain although it sorts inside it. */
	PGconn *c;
	char *url = trail_database(&c);
	exec_ok(c, "ALTER TABLE audit_chain DISABLE TRIGGER USER");
	exec_ok(c, "DELETE FROM audit_chain WHERE seq = 5");
	/* in two steps, so that no row meets another's old seq */
	exec_ok(c, "UPDATE audit_chain SET seq = seq + 1000 WHERE seq > 5");
	exec_ok(c, "UPDATE audit_chain SET seq = seq - 1001 WHERE seq > 1000");
	exec_ok(c, "ALTER TABLE audit_chain ENABLE TRIGGER USER");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, 5, "is not in the chain");
	finish(c, url);
}
END_TEST

START_TEST(test_removed_event_fails_naming_its_seq)
{
	PGconn *c;
	char *url = trail_database(&c);
	/* ALL: the foreign key from audit_chain is a system trigger */
	exec_ok(c, "ALTER TABLE audit_event DISABLE TRIGGER ALL");
	exec_ok(c, "DELETE FROM audit_event WHERE id = (SELECT event_id FROM audit_chain "
	           "WHERE seq = 3)");
	exec_ok(c, "ALTER TABLE audit_event ENABLE TRIGGER ALL");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, 3, "its event is gone");
	finish(c, url);
}
END_TEST

START_TEST(test_forged_chain_entry_with_a_made_up_hash_fails)
{
	PGconn *c;
	char *url = trail_database(&c);
	/* an event chained by hand, not by cd_audit_seal() */
	exec_ok(c, "WITH e AS (INSERT INTO audit_event (actor, type) VALUES ('mallory', "
	           "'mrp_set') RETURNING id, txid) INSERT INTO audit_chain (seq, event_id, txid, "
	           "hash) SELECT 9, id, txid, sha256('whatever') FROM e");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, 9, "hash does not match");
	finish(c, url);
}
END_TEST

START_TEST(test_event_inserted_behind_the_sealer_fails_naming_where_it_sorts)
{
	PGconn *c;
	char *url = trail_database(&c);
	/* A transaction id from before every sealed event: the sealer, which
	 * only moves forward, will never chain it. */
	exec_ok(c, "INSERT INTO audit_event (actor, type, txid) VALUES ('mallory', 'mrp_set', "
	           "'3')");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, 1, "was inserted before it and is not in the chain");
	finish(c, url);
}
END_TEST

START_TEST(test_first_break_is_named_when_there_are_several)
{
	PGconn *c;
	char *url = trail_database(&c);
	exec_ok(c, "ALTER TABLE audit_event DISABLE TRIGGER USER");
	exec_ok(c, "UPDATE audit_event SET actor = 'x' WHERE id IN (SELECT event_id FROM "
	           "audit_chain WHERE seq IN (7, 3))");
	exec_ok(c, "ALTER TABLE audit_event ENABLE TRIGGER USER");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_broken_at(&r, 3, "hash does not match");
	finish(c, url);
}
END_TEST

/* ---- the guards ---- */

START_TEST(test_triggers_refuse_update_delete_truncate_even_for_a_superuser)
{
	PGconn *c;
	char *url = trail_database(&c);
	ck_assert_int_eq(query_int(c, "SELECT rolsuper::int FROM pg_roles WHERE rolname = "
	                              "current_user"),
	                 1);
	exec_refused(c, "UPDATE audit_event SET actor = 'x'", "42501", "append-only");
	exec_refused(c, "DELETE FROM audit_event", "42501", "append-only");
	exec_refused(c, "TRUNCATE audit_event CASCADE", "42501", "append-only");
	exec_refused(c, "UPDATE audit_chain SET hash = sha256('x')", "42501", "append-only");
	exec_refused(c, "DELETE FROM audit_chain", "42501", "append-only");
	exec_refused(c, "TRUNCATE audit_chain", "42501", "append-only");
	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
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
	exec_ok(c, sql);
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN IN ROLE coolingd_app", role);
	exec_ok(c, sql);

	/* the same database as that role: a later user= wins */
	const char *keys[] = {"dbname", "user", NULL};
	const char *vals[] = {url, role, NULL};
	PGconn *app = PQconnectdbParams(keys, vals, 1);
	ck_assert_msg(PQstatus(app) == CONNECTION_OK, "%s", PQerrorMessage(app));
	PQsetNoticeProcessor(app, ignore_notice, NULL);
	ck_assert_int_eq(query_int(app, "SELECT (NOT rolsuper)::int FROM pg_roles "
	                                "WHERE rolname = current_user"),
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
	exec_ok(app, "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) VALUES "
	             "('core1', 'BANK1', 'LN-3', 'approval_recorded', '{}')");
	ck_assert_int_eq(query_int(app, "SELECT cd_audit_seal(100)"), 1);
	PQfinish(app);

	struct run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "audit chain intact: 9 events\n");
	PQfinish(c);
	testdb_drop(url);
	PGconn *server = connect_quiet(getenv("COOLINGD_TEST_DATABASE_URL"));
	snprintf(sql, sizeof(sql), "DROP ROLE %s", role);
	exec_ok(server, sql);
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
	const char *bin = getenv("COOLINGD_BIN_DIR");
	char self[PATH_MAX];
	if (bin == NULL || bin[0] == '\0') {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			perror("test_audit_verify: /proc/self/exe");
			exit(EXIT_FAILURE);
		}
		self[n] = '\0';
		bin = dirname(self);
		setenv("COOLINGD_BIN_DIR", bin, 1);
	}
	snprintf(ctl_path, sizeof(ctl_path), "%s/coolingctl", bin);
	if (access(ctl_path, X_OK) != 0) {
		fprintf(stderr, "test_audit_verify: %s is not there; build it first\n", ctl_path);
		exit(EXIT_FAILURE);
	}
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

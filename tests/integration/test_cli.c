/*
 * coolingctl, black box: the built binary ($COOLINGD_BIN_DIR/coolingctl, else
 * the coolingctl beside this program) run against a fresh database on the
 * test server ($COOLINGD_TEST_DATABASE_URL). Every test reads the exit code,
 * stdout and stderr, and checks the database with its own SQL.
 */
#include "check_main.h"
#include "support/testdb.h"

#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "iin.h"
#include "migrations.h"
#include "token.h"

#define BORROWER_IIN "900101300126"
#define UNREACHABLE  "postgresql://op:s3cretpw@127.0.0.1:1/coolingd"

static char ctl_path[PATH_MAX];
static char *db_url; /* the database every test but the migration test shares */

struct run {
	int status; /* exit code, 128 + signal when killed */
	char out[65536];
	char err[8192];
};

/* ---- running coolingctl ---- */

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

static int temp_fd(void)
{
	char name[] = "/tmp/cd_cli_XXXXXX";
	int fd = mkstemp(name);
	ck_assert_int_ge(fd, 0);
	unlink(name);
	return fd;
}

/* Runs coolingctl with argv (NULL-terminated), and with env ("K=V" sets,
 * "K" unsets) applied on top of a clean environment: no COOLINGD_* database
 * URL, no SUDO_USER, USER=cli-test. */
static void run_env(struct run *r, const char *const *env, const char *const *argv)
{
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
		unsetenv("SUDO_USER");
		setenv("USER", "cli-test", 1);
		for (int i = 0; env && env[i]; i++) {
			if (strchr(env[i], '='))
				putenv((char *)env[i]);
			else
				unsetenv(env[i]);
		}
		const char *args[32] = {"coolingctl"};
		int n = 1;
		for (int i = 0; argv[i] && n < 31; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		execv(ctl_path, (char *const *)args);
		_exit(127);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	read_all(out, r->out, sizeof(r->out));
	read_all(err, r->err, sizeof(r->err));
}

/* coolingctl -c /dev/null --database URL ARGS... */
static struct run *ctl_on(const char *url, ...)
{
	static struct run r;
	const char *argv[32] = {"-c", "/dev/null", "--database", url};
	int n = 4;
	va_list ap;
	va_start(ap, url);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	run_env(&r, NULL, argv);
	return &r;
}

#define ctl(...) ctl_on(db_url, __VA_ARGS__, (const char *)NULL)

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* A failure: the exit code, nothing on stdout, one line on stderr that
 * starts with "coolingctl: ". */
static void assert_fails(const struct run *r, int status)
{
	ck_assert_msg(r->status == status, "exit %d, not %d; stderr: %s", r->status, status,
	              r->err);
	ck_assert_str_eq(r->out, "");
	ck_assert_msg(count_lines(r->err) == 1 && r->err[strlen(r->err) - 1] == '\n',
	              "stderr is not one line: \"%s\"", r->err);
	ck_assert_msg(strncmp(r->err, "coolingctl: ", 12) == 0, "stderr: %s", r->err);
}

static void assert_ok(const struct run *r)
{
	ck_assert_msg(r->status == 0, "exit %d; stderr: %s", r->status, r->err);
}

/* ---- the database, directly ---- */

static PGresult *sql(PGconn *c, const char *query, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, query, n, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
	              "%s: %s", query, PQerrorMessage(c));
	return r;
}

static long long sql_count(PGconn *c, const char *query, int n, const char *const *params)
{
	PGresult *r = sql(c, query, n, params);
	long long v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static void insert_lender(PGconn *c, const char *id)
{
	const char *p[] = {id};
	PQclear(
	    sql(c, "INSERT INTO lender (id, kind, name) VALUES ($1, 'bank', 'Test bank')", 1, p));
}

/* A cooled, first-time, unsecured online loan of 600000 tenge (MRP 3932)
 * with consent 5 minutes after approval; approved_at is RFC 3339. */
static void insert_loan(PGconn *c, const char *lender, const char *loan_id, const char *iin,
                        const char *approved_at)
{
	const char *p[] = {lender, loan_id, iin, approved_at};
	PQclear(sql(c,
	            "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	            "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	            "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	            "approved_at, consent_at, cooling_ends_at) VALUES ($1, $2, $3, 60000000, "
	            "'online', false, true, true, 'kz-card', 3932, 58980000, true, 86400, true, "
	            "$4::timestamptz, $4::timestamptz + interval '5 minutes', "
	            "$4::timestamptz + interval '1 day 5 minutes')",
	            4, p));
}

/* A valid IIN from 11 digits whose check digit exists. */
static void make_iin(const char *digits11, char out[13])
{
	int d = iin_check_digit(digits11);
	ck_assert_int_ge(d, 0);
	snprintf(out, 13, "%s%d", digits11, d);
	ck_assert(iin_valid(out, NULL));
}

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* ---- fixture ---- */

static void setup(void)
{
	const char *bin = getenv("COOLINGD_BIN_DIR");
	char self[PATH_MAX];
	if (bin == NULL || bin[0] == '\0') {
		/* CMake puts every program in build/bin */
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			perror("test_cli: /proc/self/exe");
			exit(EXIT_FAILURE);
		}
		self[n] = '\0';
		bin = dirname(self);
		setenv("COOLINGD_BIN_DIR", bin, 1); /* testdb_create migrates with it too */
	}
	snprintf(ctl_path, sizeof(ctl_path), "%s/coolingctl", bin);
	if (access(ctl_path, X_OK) != 0) {
		fprintf(stderr, "test_cli: %s is not there; build it first\n", ctl_path);
		exit(EXIT_FAILURE);
	}
	db_url = testdb_create("cli");
}

static void teardown(void)
{
	testdb_drop(db_url);
	free(db_url);
}

/* ---- migrations ---- */

/* An empty database (no schema) named cd_cli_<what>_<pid>; its URL. */
static char *empty_database(const char *what)
{
	const char *server = getenv("COOLINGD_TEST_DATABASE_URL");
	ck_assert_ptr_nonnull(server);
	char name[64], cmd[128];
	snprintf(name, sizeof(name), "cd_cli_%s_%d", what, (int)getpid());
	PGconn *admin = testdb_connect(server);
	PQsetNoticeProcessor(admin, ignore_notice, NULL);
	snprintf(cmd, sizeof(cmd), "DROP DATABASE IF EXISTS %s", name);
	PQclear(sql(admin, cmd, 0, NULL));
	snprintf(cmd, sizeof(cmd), "CREATE DATABASE %s", name);
	PQclear(sql(admin, cmd, 0, NULL));
	PQfinish(admin);
	return testdb_url_for(server, name);
}

START_TEST(test_migrate_applies_everything_once_and_a_second_run_changes_nothing)
{
	char expected[128];
	char *url = empty_database("fresh");

	struct run *r = ctl_on(url, "migrate", (const char *)NULL);
	assert_ok(r);
	snprintf(expected, sizeof(expected), "applied %d migration(s); schema version %d\n",
	         migrations_count, DB_SCHEMA_VERSION);
	ck_assert_str_eq(r->out, expected);

	PGconn *c = testdb_connect(url);
	const char *q = "SELECT count(*) FROM schema_migrations";
	long long rows = sql_count(c, q, 0, NULL);
	ck_assert_int_eq(rows, migrations_count);

	r = ctl_on(url, "migrate", (const char *)NULL);
	assert_ok(r);
	snprintf(expected, sizeof(expected), "applied 0 migration(s); schema version %d\n",
	         DB_SCHEMA_VERSION);
	ck_assert_str_eq(r->out, expected);
	ck_assert_int_eq(sql_count(c, q, 0, NULL), rows);
	ck_assert_int_eq(sql_count(c, "SELECT count(*) FROM mrp", 0, NULL), 4);
	PQfinish(c);
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_commands_refuse_a_database_without_the_schema)
{
	char *url = empty_database("empty");
	struct run *r = ctl_on(url, "mrp", "list", (const char *)NULL);
	assert_fails(r, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "run 'coolingctl migrate' first"));
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_migrations_seed_mrp_2023_to_2026)
{
	struct run *r = ctl("mrp", "list", "--json");
	assert_ok(r);
	json_error_t je;
	json_t *j = json_loads(r->out, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", r->out);
	static const struct {
		const char *from;
		int tenge;
	} seed[] = {
	    {"2023-01-01", 3450}, {"2024-01-01", 3692}, {"2025-01-01", 3932}, {"2026-01-01", 4325}};
	json_t *list = json_object_get(j, "mrp");
	for (size_t i = 0; i < sizeof(seed) / sizeof(seed[0]); i++) {
		bool found = false;
		size_t k;
		json_t *e;
		json_array_foreach(list, k, e)
		{
			if (strcmp(json_string_value(json_object_get(e, "valid_from")),
			           seed[i].from) == 0) {
				ck_assert_int_eq(json_integer_value(json_object_get(e, "tenge")),
				                 seed[i].tenge);
				found = true;
			}
		}
		ck_assert_msg(found, "no MRP from %s", seed[i].from);
	}
	json_decref(j);

	r = ctl("mrp", "list");
	assert_ok(r);
	ck_assert_msg(strncmp(r->out, "valid_from  tenge\n2023-01-01   3450\n", 36) == 0,
	              "table: %s", r->out);
}
END_TEST

/* ---- lenders ---- */

START_TEST(test_lender_add_then_duplicate_fails_with_one_stderr_line)
{
	struct run *r = ctl("lender", "add", "DUP-BANK", "--kind", "bank", "--name", "Dup Bank");
	assert_ok(r);
	ck_assert_str_eq(r->err, "");

	PGconn *c = testdb_connect(db_url);
	const char *p[] = {"DUP-BANK"};
	ck_assert_int_eq(sql_count(c,
	                           "SELECT count(*) FROM lender WHERE id = $1 AND kind = 'bank' "
	                           "AND name = 'Dup Bank'",
	                           1, p),
	                 1);

	r = ctl("lender", "add", "DUP-BANK", "--kind", "mfo");
	assert_fails(r, 1);
	ck_assert_str_eq(r->err, "coolingctl: lender add: a lender with this id exists already\n");
	ck_assert_int_eq(sql_count(c, "SELECT count(*) FROM lender WHERE id = $1", 1, p), 1);
	PQfinish(c);
}
END_TEST

START_TEST(test_lender_add_with_bad_kind_is_a_usage_error_before_any_connection)
{
	/* an unreachable database: validation comes first */
	struct run *r = ctl_on(UNREACHABLE, "lender", "add", "KIND-BANK", "--kind", "pawnshop",
	                       (const char *)NULL);
	assert_fails(r, 2);
	ck_assert_ptr_nonnull(strstr(r->err, "--kind"));

	assert_fails(ctl("lender", "add", "KIND-BANK"), 2);
	assert_fails(ctl("lender", "add", "bad id!", "--kind", "bank"), 2);
	PGconn *c = testdb_connect(db_url);
	const char *p[] = {"KIND-BANK"};
	ck_assert_int_eq(sql_count(c, "SELECT count(*) FROM lender WHERE id = $1", 1, p), 0);
	PQfinish(c);
}
END_TEST

/* ---- API clients ---- */

START_TEST(test_client_add_prints_only_the_token_and_stores_only_its_hash)
{
	assert_ok(ctl("lender", "add", "TOKEN-BANK", "--kind", "bank"));
	struct run *r =
	    ctl("client", "add", "--name", "core-1", "--role", "lender", "--lender", "TOKEN-BANK");
	assert_ok(r);

	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^cdt_[0-9a-f]{12}_[0-9a-f]{40}\n$", REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, r->out, 0, NULL, 0) == 0, "stdout: \"%s\"", r->out);
	regfree(&re);
	char token[TOKEN_BUF];
	snprintf(token, sizeof(token), "%.*s", (int)strcspn(r->out, "\n"), r->out);

	PGconn *c = testdb_connect(db_url);
	const char *p[] = {"core-1"};
	PGresult *row = sql(c,
	                    "SELECT token_id, token_hash, length(token_hash), role, lender_id "
	                    "FROM api_client WHERE name = $1",
	                    1, p);
	ck_assert_int_eq(PQntuples(row), 1);
	ck_assert_str_eq(PQgetvalue(row, 0, 2), "32");
	ck_assert_str_eq(PQgetvalue(row, 0, 3), "lender");
	ck_assert_str_eq(PQgetvalue(row, 0, 4), "TOKEN-BANK");
	char id[TOKEN_ID_BUF];
	ck_assert(token_parse_id(token, id));
	ck_assert_str_eq(PQgetvalue(row, 0, 0), id);
	ck_assert_ptr_null(strstr(PQgetvalue(row, 0, 1), token + 4));
	unsigned char stored[TOKEN_HASH_LEN], expected[TOKEN_HASH_LEN];
	ck_assert(token_hash_from_bytea_text(PQgetvalue(row, 0, 1), stored));
	token_hash(token, expected);
	ck_assert(memcmp(stored, expected, TOKEN_HASH_LEN) == 0);
	PQclear(row);
	PQfinish(c);
}
END_TEST

START_TEST(test_client_add_needs_a_lender_exactly_for_the_lender_role)
{
	assert_fails(ctl("client", "add", "--name", "nolender", "--role", "lender"), 2);
	assert_fails(ctl("client", "add", "--name", "withlender", "--role", "auditor", "--lender",
	                 "TOKEN-BANK"),
	             2);
	assert_fails(ctl("client", "add", "--name", "badrole", "--role", "admin"), 2);
	struct run *r =
	    ctl("client", "add", "--name", "ghost", "--role", "lender", "--lender", "NO-SUCH-BANK");
	assert_fails(r, 1);
	ck_assert_str_eq(r->err, "coolingctl: client add: no lender NO-SUCH-BANK\n");
}
END_TEST

START_TEST(test_client_revoke_sets_revoked_at_and_a_second_revoke_fails)
{
	assert_ok(ctl("client", "add", "--name", "auditor-1", "--role", "auditor"));
	PGconn *c = testdb_connect(db_url);
	const char *p[] = {"auditor-1"};
	const char *q =
	    "SELECT count(*) FROM api_client WHERE name = $1 AND revoked_at IS NOT NULL";
	ck_assert_int_eq(sql_count(c, q, 1, p), 0);

	struct run *r = ctl("client", "revoke", "auditor-1");
	assert_ok(r);
	ck_assert_int_eq(sql_count(c, q, 1, p), 1);

	r = ctl("client", "revoke", "auditor-1");
	assert_fails(r, 1);
	ck_assert_str_eq(r->err, "coolingctl: client revoke: no active client named auditor-1\n");
	assert_fails(ctl("client", "revoke", "nobody"), 1);
	PQfinish(c);
}
END_TEST

/* ---- MRP ---- */

START_TEST(test_mrp_set_then_mrp_list_shows_it)
{
	struct run *r = ctl("mrp", "set", "2031-01-01", "5555");
	assert_ok(r);
	r = ctl("mrp", "list");
	assert_ok(r);
	ck_assert_msg(strstr(r->out, "\n2031-01-01   5555\n") != NULL, "table: %s", r->out);

	/* a date set again takes the new value */
	assert_ok(ctl("mrp", "set", "2031-01-01", "5600"));
	r = ctl("mrp", "list", "--json");
	assert_ok(r);
	ck_assert_ptr_nonnull(
	    strstr(r->out, "\"valid_from\": \"2031-01-01\",\n      \"tenge\": 5600"));
}
END_TEST

START_TEST(test_mrp_set_refuses_impossible_dates_and_non_positive_amounts)
{
	assert_fails(ctl("mrp", "set", "2031-02-29", "4000"), 2);
	assert_fails(ctl("mrp", "set", "2031-13-01", "4000"), 2);
	assert_fails(ctl("mrp", "set", "31-01-01", "4000"), 2);
	assert_fails(ctl("mrp", "set", "2032-01-01", "0"), 2);
	assert_fails(ctl("mrp", "set", "2032-01-01", "12.5"), 2);
	assert_fails(ctl("mrp", "set", "2032-01-01", "99999999999"), 2);
	assert_fails(ctl("mrp", "set", "2032-01-01"), 2);
	assert_ok(ctl("mrp", "set", "2032-02-29", "4000")); /* a leap day */
}
END_TEST

/* ---- the audit trail ---- */

START_TEST(test_every_operator_command_writes_its_audit_event)
{
	assert_ok(ctl("lender", "add", "AUDIT-MFO", "--kind", "mfo"));
	assert_ok(ctl("client", "add", "--name", "audit-core", "--role", "lender", "--lender",
	              "AUDIT-MFO"));
	assert_ok(ctl("client", "revoke", "audit-core"));
	assert_ok(ctl("mrp", "set", "2033-01-01", "7000"));

	PGconn *c = testdb_connect(db_url);
	static const struct {
		const char *type, *key, *value;
	} ev[] = {{"lender_added", "kind", "mfo"},
	          {"client_added", "name", "audit-core"},
	          {"client_revoked", "name", "audit-core"},
	          {"mrp_set", "valid_from", "2033-01-01"}};
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		const char *p[] = {ev[i].type, ev[i].key, ev[i].value};
		ck_assert_msg(sql_count(c,
		                        "SELECT count(*) FROM audit_event WHERE type = $1 "
		                        "AND detail->>$2 = $3 AND actor = 'coolingctl:cli-test'",
		                        3, p) == 1,
		              "no %s event by coolingctl:cli-test", ev[i].type);
	}
	PQfinish(c);

	/* sudo names the person, not root */
	const char *env[] = {"SUDO_USER=alice", NULL};
	const char *argv[] = {"-c",  "/dev/null",  "--database", db_url, "mrp",
	                      "set", "2034-01-01", "7100",       NULL};
	struct run r;
	run_env(&r, env, argv);
	assert_ok(&r);
	c = testdb_connect(db_url);
	ck_assert_int_eq(sql_count(c,
	                           "SELECT count(*) FROM audit_event WHERE type = 'mrp_set' "
	                           "AND detail->>'valid_from' = '2034-01-01' "
	                           "AND actor = 'coolingctl:alice'",
	                           0, NULL),
	                 1);
	PQfinish(c);
}
END_TEST

/* ---- loans ---- */

START_TEST(test_loan_show_of_an_unknown_loan_fails)
{
	struct run *r = ctl("loan", "show", "NO-BANK", "NO-LOAN");
	assert_fails(r, 1);
	ck_assert_str_eq(r->err, "coolingctl: loan show: no loan NO-LOAN of lender NO-BANK\n");
	assert_fails(ctl("loan", "show", "NO-BANK", "NO-LOAN", "--json"), 1);
	assert_fails(ctl("loan", "show", "NO-BANK"), 2);
}
END_TEST

START_TEST(test_loan_show_json_prints_the_contract_loan)
{
	PGconn *c = testdb_connect(db_url);
	insert_lender(c, "JSON-BANK");
	insert_loan(c, "JSON-BANK", "LN-1", BORROWER_IIN, "2025-06-15T10:00:00+05:00");
	PQfinish(c);

	struct run *r = ctl("loan", "show", "JSON-BANK", "LN-1", "--json");
	assert_ok(r);
	json_error_t je;
	json_t *j = json_loads(r->out, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", r->out);
#define STR(k, v) ck_assert_str_eq(json_string_value(json_object_get(j, k)), v)
	STR("lender", "JSON-BANK");
	STR("loan_id", "LN-1");
	STR("borrower_iin", BORROWER_IIN);
	STR("amount", "600000.00");
	STR("currency", "KZT");
	STR("channel", "online");
	STR("threshold_amount", "589800.00");
	STR("policy", "kz-card");
	STR("approved_at", "2025-06-15T05:00:00Z");
	STR("consent_at", "2025-06-15T05:05:00Z");
	STR("cooling_ends_at", "2025-06-16T05:05:00Z");
	/* the cooling period is long over; the visit is still missing */
	STR("status", "awaiting_in_person");
#undef STR
	ck_assert(json_is_false(json_object_get(j, "secured")));
	ck_assert(json_is_true(json_object_get(j, "first_time_borrower")));
	ck_assert(json_is_true(json_object_get(j, "cooling_required")));
	ck_assert(json_is_true(json_object_get(j, "in_person_required")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "cooling_period_seconds")), 86400);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "mrp")), 3932);
	ck_assert(json_is_null(json_object_get(j, "in_person_verified_at")));
	ck_assert(json_is_null(json_object_get(j, "disbursed_at")));
	ck_assert(json_is_null(json_object_get(j, "cancelled_at")));
	ck_assert(json_is_null(json_object_get(j, "earliest_disbursement_at")));
	json_t *b = json_object_get(j, "blockers");
	ck_assert_int_eq(json_array_size(b), 1);
	ck_assert_str_eq(json_string_value(json_array_get(b, 0)), "in_person_verification_missing");
	static const char *const keys[] = {"lender",
	                                   "loan_id",
	                                   "borrower_iin",
	                                   "amount",
	                                   "currency",
	                                   "channel",
	                                   "secured",
	                                   "first_time_borrower",
	                                   "status",
	                                   "cooling_required",
	                                   "cooling_period_seconds",
	                                   "threshold_amount",
	                                   "mrp",
	                                   "policy",
	                                   "approved_at",
	                                   "consent_at",
	                                   "cooling_ends_at",
	                                   "in_person_required",
	                                   "in_person_verified_at",
	                                   "disbursed_at",
	                                   "cancelled_at",
	                                   "blockers",
	                                   "earliest_disbursement_at"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(json_object_get(j, keys[i]) != NULL, "no %s", keys[i]);
	ck_assert_int_eq(json_object_size(j), sizeof(keys) / sizeof(keys[0]));
	json_decref(j);
}
END_TEST

/* The value of the line "key: value" of a human view. */
static const char *field(const char *out, const char *key, char *buf, size_t size)
{
	size_t n = strlen(key);
	for (const char *line = out; *line;
	     line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
		if (strncmp(line, key, n) != 0 || line[n] != ':')
			continue;
		const char *v = line + n + 1;
		v += strspn(v, " ");
		snprintf(buf, size, "%.*s", (int)strcspn(v, "\n"), v);
		return buf;
	}
	ck_abort_msg("no %s in: %s", key, out);
	return NULL;
}

START_TEST(test_loan_show_gives_almaty_time_with_the_offset_of_its_day)
{
	PGconn *c = testdb_connect(db_url);
	insert_lender(c, "TZ-BANK");
	insert_loan(c, "TZ-BANK", "SUMMER", BORROWER_IIN, "2025-06-15T05:00:00Z");
	/* Kazakhstan moved from UTC+6 to UTC+5 at 2024-03-01 00:00 local */
	insert_loan(c, "TZ-BANK", "LAST-PLUS-6", BORROWER_IIN, "2024-02-29T17:59:59Z");
	insert_loan(c, "TZ-BANK", "FIRST-PLUS-5", BORROWER_IIN, "2024-02-29T18:00:00Z");
	PQfinish(c);
	char v[256];

	struct run *r = ctl("loan", "show", "TZ-BANK", "SUMMER");
	assert_ok(r);
	ck_assert_str_eq(field(r->out, "lender", v, sizeof(v)), "TZ-BANK");
	ck_assert_str_eq(field(r->out, "amount", v, sizeof(v)), "600000.00 KZT");
	ck_assert_str_eq(field(r->out, "threshold_amount", v, sizeof(v)), "589800.00 KZT");
	ck_assert_str_eq(field(r->out, "approved_at", v, sizeof(v)), "2025-06-15 10:00:00 +05:00");
	ck_assert_str_eq(field(r->out, "consent_at", v, sizeof(v)), "2025-06-15 10:05:00 +05:00");
	ck_assert_str_eq(field(r->out, "cooling_ends_at", v, sizeof(v)),
	                 "2025-06-16 10:05:00 +05:00");
	ck_assert_str_eq(field(r->out, "status", v, sizeof(v)), "awaiting_in_person");
	ck_assert_str_eq(field(r->out, "blockers", v, sizeof(v)), "in_person_verification_missing");
	ck_assert_str_eq(field(r->out, "disbursed_at", v, sizeof(v)), "-");

	r = ctl("loan", "show", "TZ-BANK", "LAST-PLUS-6");
	assert_ok(r);
	ck_assert_str_eq(field(r->out, "approved_at", v, sizeof(v)), "2024-02-29 23:59:59 +06:00");
	r = ctl("loan", "show", "TZ-BANK", "FIRST-PLUS-5");
	assert_ok(r);
	ck_assert_str_eq(field(r->out, "approved_at", v, sizeof(v)), "2024-02-29 23:00:00 +05:00");
}
END_TEST

/* ---- borrowers ---- */

START_TEST(test_borrower_json_lists_all_lenders_loans_newest_first)
{
	char iin[13];
	make_iin("85020240012", iin);
	PGconn *c = testdb_connect(db_url);
	insert_lender(c, "B-BANK1");
	insert_lender(c, "B-BANK2");
	insert_loan(c, "B-BANK1", "OLD", iin, "2025-03-01T10:00:00+05:00");
	insert_loan(c, "B-BANK2", "NEW", iin, "2025-04-01T10:00:00+05:00");
	PQfinish(c);

	struct run *r = ctl("borrower", iin, "--json");
	assert_ok(r);
	json_error_t je;
	json_t *j = json_loads(r->out, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", r->out);
	json_t *loans = json_object_get(j, "loans");
	ck_assert_int_eq(json_array_size(loans), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(loans, 0), "loan_id")),
	                 "NEW");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(loans, 1), "loan_id")),
	                 "OLD");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(loans, 1), "lender")),
	                 "B-BANK1");
	json_decref(j);

	r = ctl("borrower", iin);
	assert_ok(r);
	ck_assert_int_eq(count_lines(r->out), 3);
	ck_assert_msg(strncmp(r->out, "lender   loan_id     amount  channel  status", 44) == 0,
	              "header: %s", r->out);
	const char *row1 = strchr(r->out, '\n') + 1;
	const char *expected = "B-BANK2  NEW      600000.00  online   awaiting_in_person  "
	                       "2025-04-01 10:00:00 +05:00  in_person_verification_missing\n";
	ck_assert_msg(strncmp(row1, expected, strlen(expected)) == 0, "table: %s", r->out);
}
END_TEST

START_TEST(test_borrower_without_loans_says_so_and_succeeds)
{
	char iin[13];
	make_iin("70050140023", iin);
	struct run *r = ctl("borrower", iin);
	assert_ok(r);
	ck_assert_str_eq(r->out, "no loans for this borrower\n");
	r = ctl("borrower", iin, "--json");
	assert_ok(r);
	ck_assert_str_eq(r->out, "{\n  \"loans\": []\n}\n");
}
END_TEST

START_TEST(test_borrower_with_an_invalid_iin_is_a_usage_error)
{
	char iin[13];
	make_iin("85020240012", iin);
	iin[11] = iin[11] == '9' ? '0' : (char)(iin[11] + 1); /* a wrong check digit */
	struct run *r = ctl("borrower", iin);
	assert_fails(r, 2);
	ck_assert_ptr_null(strstr(r->err, iin)); /* personal data is not echoed */
	assert_fails(ctl("borrower", "12345"), 2);
	assert_fails(ctl("borrower"), 2);
}
END_TEST

/* ---- the command line ---- */

START_TEST(test_unreachable_database_exits_3_without_showing_the_password)
{
	struct run *r = ctl_on(UNREACHABLE, "mrp", "list", (const char *)NULL);
	assert_fails(r, 3);
	ck_assert_ptr_null(strstr(r->err, "s3cretpw"));

	r = ctl_on("host=127.0.0.1 port=1 password=s3cretpw", "migrate", (const char *)NULL);
	assert_fails(r, 3);
	ck_assert_ptr_null(strstr(r->err, "s3cretpw"));

	/* a string libpq cannot parse may be quoted back by libpq */
	r = ctl_on("postgresql://op:s3cr%zzetpw@localhost/x", "migrate", (const char *)NULL);
	assert_fails(r, 1);
	ck_assert_ptr_null(strstr(r->err, "s3cr"));
}
END_TEST

START_TEST(test_database_option_beats_environment_which_beats_config)
{
	char env_url[1200], conf[] = "/tmp/cd_cli_conf_XXXXXX";
	int fd = mkstemp(conf);
	ck_assert_int_ge(fd, 0);
	dprintf(fd, "[database]\nurl = %s\n", UNREACHABLE);
	close(fd);
	snprintf(env_url, sizeof(env_url), "COOLINGD_DATABASE_URL=%s", db_url);
	struct run r;

	/* the file alone: unreachable */
	const char *file_only[] = {"-c", conf, "mrp", "list", NULL};
	run_env(&r, NULL, file_only);
	assert_fails(&r, 3);
	/* the environment beats the file */
	const char *env[] = {env_url, NULL};
	run_env(&r, env, file_only);
	assert_ok(&r);
	/* --database beats both, before or after the command */
	const char *bad_env[] = {"COOLINGD_DATABASE_URL=" UNREACHABLE, NULL};
	const char *opt_after[] = {"mrp", "list", "-c", conf, "--database", db_url, NULL};
	run_env(&r, bad_env, opt_after);
	assert_ok(&r);
	unlink(conf);

	/* an explicit config file that is missing is an error */
	const char *missing[] = {"-c", "/nonexistent/coolingd.conf", "mrp", "list", NULL};
	run_env(&r, NULL, missing);
	assert_fails(&r, 1);
}
END_TEST

START_TEST(test_every_command_has_help_and_usage_errors_exit_2)
{
	static const char *const cmds[][2] = {
	    {"migrate", NULL}, {"lender", "add"}, {"client", "add"}, {"client", "revoke"},
	    {"mrp", "set"},    {"mrp", "list"},   {"loan", "show"},  {"borrower", NULL}};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *argv[] = {cmds[i][0], cmds[i][1] ? cmds[i][1] : "--help",
		                      cmds[i][1] ? "--help" : NULL, NULL};
		struct run r;
		run_env(&r, NULL, argv);
		assert_ok(&r);
		char expected[64];
		snprintf(expected, sizeof(expected), "usage: coolingctl %s%s%s", cmds[i][0],
		         cmds[i][1] ? " " : "", cmds[i][1] ? cmds[i][1] : "");
		ck_assert_msg(strncmp(r.out, expected, strlen(expected)) == 0, "help: %s", r.out);
		ck_assert_ptr_nonnull(strstr(r.out, "exit status"));
	}
	struct run r;
	const char *help[] = {"--help", NULL};
	run_env(&r, NULL, help);
	assert_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, "borrower IIN [--json]"));
	const char *version[] = {"--version", NULL};
	run_env(&r, NULL, version);
	assert_ok(&r);
	ck_assert_int_eq(strncmp(r.out, "coolingctl ", 11), 0);

	assert_fails(ctl("frobnicate"), 2);
	assert_fails(ctl("lender"), 2);
	assert_fails(ctl("lender", "remove", "X"), 2);
	assert_fails(ctl("mrp", "list", "--bogus"), 2);
	assert_fails(ctl("mrp", "list", "extra"), 2);
	const char *none[] = {NULL};
	run_env(&r, NULL, none);
	assert_fails(&r, 2);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("coolingctl");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_migrate_applies_everything_once_and_a_second_run_changes_nothing);
	tcase_add_test(tc, test_commands_refuse_a_database_without_the_schema);
	tcase_add_test(tc, test_migrations_seed_mrp_2023_to_2026);
	tcase_add_test(tc, test_lender_add_then_duplicate_fails_with_one_stderr_line);
	tcase_add_test(tc, test_lender_add_with_bad_kind_is_a_usage_error_before_any_connection);
	tcase_add_test(tc, test_client_add_prints_only_the_token_and_stores_only_its_hash);
	tcase_add_test(tc, test_client_add_needs_a_lender_exactly_for_the_lender_role);
	tcase_add_test(tc, test_client_revoke_sets_revoked_at_and_a_second_revoke_fails);
	tcase_add_test(tc, test_mrp_set_then_mrp_list_shows_it);
	tcase_add_test(tc, test_mrp_set_refuses_impossible_dates_and_non_positive_amounts);
	tcase_add_test(tc, test_every_operator_command_writes_its_audit_event);
	tcase_add_test(tc, test_loan_show_of_an_unknown_loan_fails);
	tcase_add_test(tc, test_loan_show_json_prints_the_contract_loan);
	tcase_add_test(tc, test_loan_show_gives_almaty_time_with_the_offset_of_its_day);
	tcase_add_test(tc, test_borrower_json_lists_all_lenders_loans_newest_first);
	tcase_add_test(tc, test_borrower_without_loans_says_so_and_succeeds);
	tcase_add_test(tc, test_borrower_with_an_invalid_iin_is_a_usage_error);
	tcase_add_test(tc, test_unreachable_database_exits_3_without_showing_the_password);
	tcase_add_test(tc, test_database_option_beats_environment_which_beats_config);
	tcase_add_test(tc, test_every_command_has_help_and_usage_errors_exit_2);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(cli_suite)

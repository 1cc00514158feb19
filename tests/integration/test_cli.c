/*
 * coolingctl, black box: the built binary ($COOLINGD_BIN_DIR/coolingctl, else
 * the coolingctl beside this program) run against a fresh database on the
 * test server ($COOLINGD_TEST_DATABASE_URL). Every test reads the exit code,
 * stdout and stderr, and checks the database with its own SQL.
 */
#include "check_main.h"
#include "support/proc.h"
#include "support/testdb.h"

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "iin.h"
#include "migrations.h"
#include "token.h"

#define BORROWER_IIN "900101300126"
#define UNREACHABLE  "postgresql://op:s3cretpw@127.0.0.1:1/coolingd"

static const char *ctl_path;
static char *db_url; /* the database every test but the migration test shares */

/* coolingctl's environment: no COOLINGD_* database URL, no SUDO_USER,
 * USER=cli-test; a test's own entries go on top. */
static const char *const base_env[] = {"COOLINGD_DATABASE_URL", "SUDO_USER", "USER=cli-test", NULL};

/* ---- running coolingctl ---- */

/* coolingctl -c /dev/null --database URL ARGS... on the shared database;
 * free r with proc_run_free(). */
#define CTL(r, ...) proc_ctl(r, base_env, NULL, db_url, __VA_ARGS__, (const char *)NULL)

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* A failure: the exit code, nothing on stdout, one line on stderr that
 * starts with "coolingctl: ". */
static void assert_fails(const struct proc_run *r, int status)
{
	ck_assert_msg(r->status == status, "exit %d, not %d; stderr: %s", r->status, status,
	              r->err);
	ck_assert_str_eq(r->out, "");
	ck_assert_msg(count_lines(r->err) == 1 && r->err[strlen(r->err) - 1] == '\n',
	              "stderr is not one line: \"%s\"", r->err);
	ck_assert_msg(strncmp(r->err, "coolingctl: ", 12) == 0, "stderr: %s", r->err);
}

static void assert_ok(const struct proc_run *r)
{
	ck_assert_msg(r->status == 0, "exit %d; stderr: %s", r->status, r->err);
}

/* CTL, which must succeed, or fail with status; the output is not needed. */
#define CTL_OK(...)                                                                                \
	do {                                                                                       \
		struct proc_run ok_;                                                               \
		CTL(&ok_, __VA_ARGS__);                                                            \
		assert_ok(&ok_);                                                                   \
		proc_run_free(&ok_);                                                               \
	} while (0)
#define CTL_FAILS(status, ...)                                                                     \
	do {                                                                                       \
		struct proc_run fails_;                                                            \
		CTL(&fails_, __VA_ARGS__);                                                         \
		assert_fails(&fails_, status);                                                     \
		proc_run_free(&fails_);                                                            \
	} while (0)

/* ---- the database, directly ---- */

static PGresult *sql(PGconn *c, const char *query, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, query, n, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
	              "%s: %s", query, PQerrorMessage(c));
	return r;
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

/* ---- fixture ---- */

static void setup(void)
{
	ctl_path = test_bin("coolingctl");
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
	PGconn *admin = testdb_connect_quiet(server);
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

	struct proc_run r;
	proc_ctl(&r, base_env, NULL, url, "migrate", (const char *)NULL);
	assert_ok(&r);
	snprintf(expected, sizeof(expected), "applied %d migration(s); schema version %d\n",
	         migrations_count, DB_SCHEMA_VERSION);
	ck_assert_str_eq(r.out, expected);
	proc_run_free(&r);

	PGconn *c = testdb_connect(url);
	const char *q = "SELECT count(*) FROM schema_migrations";
	long long rows = testdb_num(c, q, NULL);
	ck_assert_int_eq(rows, migrations_count);

	proc_ctl(&r, base_env, NULL, url, "migrate", (const char *)NULL);
	assert_ok(&r);
	snprintf(expected, sizeof(expected), "applied 0 migration(s); schema version %d\n",
	         DB_SCHEMA_VERSION);
	ck_assert_str_eq(r.out, expected);
	ck_assert_int_eq(testdb_num(c, q, NULL), rows);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM mrp", NULL), 4);
	proc_run_free(&r);
	PQfinish(c);
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_commands_refuse_a_database_without_the_schema)
{
	char *url = empty_database("empty");
	struct proc_run r;
	proc_ctl(&r, base_env, NULL, url, "mrp", "list", (const char *)NULL);
	assert_fails(&r, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "run 'coolingctl migrate' first"));
	proc_run_free(&r);
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_migrations_seed_mrp_2023_to_2026)
{
	struct proc_run r;
	CTL(&r, "mrp", "list", "--json");
	assert_ok(&r);
	json_error_t je;
	json_t *j = json_loads(r.out, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
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
	proc_run_free(&r);

	CTL(&r, "mrp", "list");
	assert_ok(&r);
	ck_assert_msg(strncmp(r.out, "valid_from  tenge\n2023-01-01   3450\n", 36) == 0,
	              "table: %s", r.out);
	proc_run_free(&r);
}
END_TEST

/* ---- lenders ---- */

START_TEST(test_lender_add_then_duplicate_fails_with_one_stderr_line)
{
	struct proc_run r;
	CTL(&r, "lender", "add", "DUP-BANK", "--kind", "bank", "--name", "Dup Bank");
	assert_ok(&r);
	ck_assert_str_eq(r.err, "");
	proc_run_free(&r);

	PGconn *c = testdb_connect(db_url);
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT count(*) FROM lender WHERE id = $1 AND kind = 'bank' "
	                            "AND name = 'Dup Bank'",
	                            "DUP-BANK", NULL),
	                 1);

	CTL(&r, "lender", "add", "DUP-BANK", "--kind", "mfo");
	assert_fails(&r, 1);
	ck_assert_str_eq(r.err, "coolingctl: lender add: a lender with this id exists already\n");
	proc_run_free(&r);
	ck_assert_int_eq(
	    testdb_num(c, "SELECT count(*) FROM lender WHERE id = $1", "DUP-BANK", NULL), 1);
	PQfinish(c);
}
END_TEST

START_TEST(test_lender_add_with_bad_kind_is_a_usage_error_before_any_connection)
{
	/* an unreachable database: validation comes first */
	struct proc_run r;
	proc_ctl(&r, base_env, NULL, UNREACHABLE, "lender", "add", "KIND-BANK", "--kind",
	         "pawnshop", (const char *)NULL);
	assert_fails(&r, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--kind"));
	proc_run_free(&r);

	CTL_FAILS(2, "lender", "add", "KIND-BANK");
	CTL_FAILS(2, "lender", "add", "bad id!", "--kind", "bank");
	PGconn *c = testdb_connect(db_url);
	ck_assert_int_eq(
	    testdb_num(c, "SELECT count(*) FROM lender WHERE id = $1", "KIND-BANK", NULL), 0);
	PQfinish(c);
}
END_TEST

START_TEST(test_lender_add_of_dot_or_dot_dot_is_a_usage_error)
{
	/* HTTP clients drop "." and ".." from a path: such a lender could not
	 * be addressed */
	CTL_FAILS(2, "lender", "add", ".", "--kind", "bank");
	CTL_FAILS(2, "lender", "add", "..", "--kind", "mfo");
	PGconn *c = testdb_connect(db_url);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM lender WHERE id IN ('.', '..')", NULL),
	                 0);
	PQfinish(c);
	struct proc_run r;
	CTL(&r, "lender", "add", "...", "--kind", "bank");
	assert_ok(&r);
	proc_run_free(&r);
}
END_TEST

/* ---- API clients ---- */

START_TEST(test_client_add_prints_only_the_token_and_stores_only_its_hash)
{
	CTL_OK("lender", "add", "TOKEN-BANK", "--kind", "bank");
	struct proc_run r;
	CTL(&r, "client", "add", "--name", "core-1", "--role", "lender", "--lender", "TOKEN-BANK");
	assert_ok(&r);

	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^cdt_[0-9a-f]{12}_[0-9a-f]{40}\n$", REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, r.out, 0, NULL, 0) == 0, "stdout: \"%s\"", r.out);
	regfree(&re);
	char token[TOKEN_BUF];
	snprintf(token, sizeof(token), "%.*s", (int)strcspn(r.out, "\n"), r.out);
	proc_run_free(&r);

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
	CTL_FAILS(2, "client", "add", "--name", "nolender", "--role", "lender");
	CTL_FAILS(2, "client", "add", "--name", "withlender", "--role", "auditor", "--lender",
	          "TOKEN-BANK");
	CTL_FAILS(2, "client", "add", "--name", "badrole", "--role", "admin");
	struct proc_run r;
	CTL(&r, "client", "add", "--name", "ghost", "--role", "lender", "--lender", "NO-SUCH-BANK");
	assert_fails(&r, 1);
	ck_assert_str_eq(r.err, "coolingctl: client add: no lender NO-SUCH-BANK\n");
	proc_run_free(&r);
}
END_TEST

START_TEST(test_client_revoke_sets_revoked_at_and_a_second_revoke_fails)
{
	CTL_OK("client", "add", "--name", "auditor-1", "--role", "auditor");
	PGconn *c = testdb_connect(db_url);
	const char *q =
	    "SELECT count(*) FROM api_client WHERE name = $1 AND revoked_at IS NOT NULL";
	ck_assert_int_eq(testdb_num(c, q, "auditor-1", NULL), 0);

	struct proc_run r;
	CTL(&r, "client", "revoke", "auditor-1");
	assert_ok(&r);
	proc_run_free(&r);
	ck_assert_int_eq(testdb_num(c, q, "auditor-1", NULL), 1);

	CTL(&r, "client", "revoke", "auditor-1");
	assert_fails(&r, 1);
	ck_assert_str_eq(r.err, "coolingctl: client revoke: no active client named auditor-1\n");
	proc_run_free(&r);
	CTL_FAILS(1, "client", "revoke", "nobody");
	PQfinish(c);
}
END_TEST

START_TEST(test_client_add_expires_in_a_strict_duration)
{
	CTL_FAILS(2, "client", "add", "--name", "exp-bad", "--role", "auditor", "--expires-in",
	          "90");
	CTL_FAILS(2, "client", "add", "--name", "exp-bad", "--role", "auditor", "--expires-in",
	          "90days");
	CTL_FAILS(2, "client", "add", "--name", "exp-bad", "--role", "auditor", "--expires-in",
	          "-1d");
	CTL_FAILS(2, "client", "add", "--name", "exp-bad", "--role", "auditor", "--expires-in",
	          "0s");
	CTL_FAILS(2, "client", "add", "--name", "exp-bad", "--role", "auditor", "--expires-in",
	          "1.5h");
	CTL_FAILS(2, "client", "add", "--name", "exp-bad", "--role", "auditor", "--expires-in", "");
	PGconn *c = testdb_connect(db_url);
	ck_assert_int_eq(
	    testdb_num(c, "SELECT count(*) FROM api_client WHERE name = 'exp-bad'", NULL), 0);

	CTL_OK("client", "add", "--name", "exp-90d", "--role", "auditor", "--expires-in", "90d");
	CTL_OK("client", "add", "--name", "exp-12h", "--role", "auditor", "--expires-in", "12h");
	/* by the database's clock, from the moment of the insert */
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT count(*) FROM api_client WHERE name = 'exp-90d' AND "
	                            "expires_at - created_at = interval '90 days'",
	                            NULL),
	                 1);
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT count(*) FROM api_client WHERE name = 'exp-12h' AND "
	                            "expires_at - created_at = interval '12 hours'",
	                            NULL),
	                 1);
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT count(*) FROM audit_event WHERE type = 'client_added' "
	                            "AND detail->>'name' = 'exp-12h' AND detail ? 'expires_at'",
	                            NULL),
	                 1);
	PQfinish(c);
}
END_TEST

/* An access review: every client with what it may do and until when, and
 * no token, hash or token id anywhere in the output. */
START_TEST(test_client_list_shows_clients_but_never_a_token_or_its_hash)
{
	CTL_OK("lender", "add", "LIST-BANK", "--kind", "bank", "--name", "List Bank");
	struct proc_run r;
	CTL(&r, "client", "add", "--name", "list-core", "--role", "lender", "--lender", "LIST-BANK",
	    "--expires-in", "30d");
	assert_ok(&r);
	char token[TOKEN_BUF];
	snprintf(token, sizeof(token), "%.*s", (int)strcspn(r.out, "\n"), r.out);
	proc_run_free(&r);
	CTL_OK("client", "add", "--name", "list-aud", "--role", "auditor");
	CTL_OK("client", "revoke", "list-aud");
	char id[TOKEN_ID_BUF];
	ck_assert(token_parse_id(token, id));
	PGconn *c = testdb_connect(db_url);
	const char *p[] = {"list-core"};
	PGresult *h =
	    sql(c, "SELECT encode(token_hash, 'hex') FROM api_client WHERE name = $1", 1, p);
	char hash[80];
	snprintf(hash, sizeof(hash), "%s", PQgetvalue(h, 0, 0));
	PQclear(h);
	PQfinish(c);

	CTL(&r, "client", "list", "--json");
	assert_ok(&r);
	json_error_t jerr;
	json_t *doc = json_loads(r.out, 0, &jerr);
	ck_assert_msg(doc != NULL, "not JSON: %s", r.out);
	json_t *list = json_object_get(doc, "clients");
	ck_assert(json_is_array(list));
	json_t *core = NULL, *aud = NULL, *e;
	size_t i;
	json_array_foreach(list, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		if (strcmp(name, "list-core") == 0)
			core = e;
		if (strcmp(name, "list-aud") == 0)
			aud = e;
		ck_assert_int_eq(json_object_size(e), 7);
	}
	ck_assert_ptr_nonnull(core);
	ck_assert_ptr_nonnull(aud);
	ck_assert_str_eq(json_string_value(json_object_get(core, "role")), "lender");
	ck_assert_str_eq(json_string_value(json_object_get(core, "lender")), "LIST-BANK");
	ck_assert(json_is_string(json_object_get(core, "created_at")));
	ck_assert(json_is_string(json_object_get(core, "expires_at")));
	ck_assert(json_is_null(json_object_get(core, "revoked_at")));
	ck_assert(json_is_null(json_object_get(core, "last_used_at"))); /* no daemon here */
	ck_assert(json_is_null(json_object_get(aud, "lender")));
	ck_assert(json_is_null(json_object_get(aud, "expires_at")));
	ck_assert(json_is_string(json_object_get(aud, "revoked_at")));
	json_decref(doc);
	ck_assert_ptr_null(strstr(r.out, token + 4));
	ck_assert_ptr_null(strstr(r.out, id));
	ck_assert_ptr_null(strstr(r.out, hash));
	proc_run_free(&r);

	CTL(&r, "client", "list");
	assert_ok(&r);
	ck_assert_msg(strncmp(r.out, "name ", 5) == 0, "table: %s", r.out);
	ck_assert_msg(strstr(r.out, "list-core") != NULL && strstr(r.out, "LIST-BANK") != NULL,
	              "table: %s", r.out);
	ck_assert_ptr_null(strstr(r.out, token + 4));
	ck_assert_ptr_null(strstr(r.out, id));
	ck_assert_ptr_null(strstr(r.out, hash));
	proc_run_free(&r);
}
END_TEST

START_TEST(test_lender_list_shows_each_lender_once)
{
	CTL_OK("lender", "add", "LL-NONAME", "--kind", "bank");
	CTL_OK("lender", "add", "LL-BANK", "--kind", "bank", "--name", "LL Bank");
	struct proc_run r;
	CTL(&r, "lender", "list", "--json");
	assert_ok(&r);
	json_error_t jerr;
	json_t *doc = json_loads(r.out, 0, &jerr);
	ck_assert_msg(doc != NULL, "not JSON: %s", r.out);
	json_t *list = json_object_get(doc, "lenders"), *e;
	size_t i;
	int seen = 0;
	json_array_foreach(list, i, e)
	{
		ck_assert_int_eq(json_object_size(e), 4);
		const char *id = json_string_value(json_object_get(e, "lender"));
		if (strcmp(id, "LL-BANK") == 0) {
			seen++;
			ck_assert_str_eq(json_string_value(json_object_get(e, "kind")), "bank");
			ck_assert_str_eq(json_string_value(json_object_get(e, "name")), "LL Bank");
			ck_assert(json_is_string(json_object_get(e, "created_at")));
		}
		if (strcmp(id, "LL-NONAME") == 0) {
			seen++;
			ck_assert(json_is_null(json_object_get(e, "name")));
		}
	}
	ck_assert_int_eq(seen, 2);
	json_decref(doc);
	proc_run_free(&r);

	CTL(&r, "lender", "list");
	assert_ok(&r);
	ck_assert_msg(strncmp(r.out, "lender ", 7) == 0 && strstr(r.out, "\nLL-BANK ") != NULL &&
	                  strstr(r.out, "LL Bank") != NULL,
	              "table: %s", r.out);
	proc_run_free(&r);
}
END_TEST

/* ---- MRP ---- */

START_TEST(test_mrp_set_then_mrp_list_shows_it)
{
	CTL_OK("mrp", "set", "2031-01-01", "5555");
	struct proc_run r;
	CTL(&r, "mrp", "list");
	assert_ok(&r);
	ck_assert_msg(strstr(r.out, "\n2031-01-01   5555\n") != NULL, "table: %s", r.out);
	proc_run_free(&r);

	/* a date set again takes the new value */
	CTL_OK("mrp", "set", "2031-01-01", "5600");
	CTL(&r, "mrp", "list", "--json");
	assert_ok(&r);
	ck_assert_ptr_nonnull(
	    strstr(r.out, "\"valid_from\": \"2031-01-01\",\n      \"tenge\": 5600"));
	proc_run_free(&r);
}
END_TEST

START_TEST(test_mrp_set_refuses_impossible_dates_and_non_positive_amounts)
{
	CTL_FAILS(2, "mrp", "set", "2031-02-29", "4000");
	CTL_FAILS(2, "mrp", "set", "2031-13-01", "4000");
	CTL_FAILS(2, "mrp", "set", "31-01-01", "4000");
	CTL_FAILS(2, "mrp", "set", "2032-01-01", "0");
	CTL_FAILS(2, "mrp", "set", "2032-01-01", "12.5");
	CTL_FAILS(2, "mrp", "set", "2032-01-01", "99999999999");
	CTL_FAILS(2, "mrp", "set", "2032-01-01");
	CTL_OK("mrp", "set", "2032-02-29", "4000"); /* a leap day */
}
END_TEST

/* ---- the audit trail ---- */

START_TEST(test_every_operator_command_writes_its_audit_event)
{
	CTL_OK("lender", "add", "AUDIT-MFO", "--kind", "mfo");
	CTL_OK("client", "add", "--name", "audit-core", "--role", "lender", "--lender",
	       "AUDIT-MFO");
	CTL_OK("client", "revoke", "audit-core");
	CTL_OK("mrp", "set", "2033-01-01", "7000");

	PGconn *c = testdb_connect(db_url);
	static const struct {
		const char *type, *key, *value;
	} ev[] = {{"lender_added", "kind", "mfo"},
	          {"client_added", "name", "audit-core"},
	          {"client_revoked", "name", "audit-core"},
	          {"mrp_set", "valid_from", "2033-01-01"}};
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		ck_assert_msg(
		    testdb_num(c,
		               "SELECT count(*) FROM audit_event WHERE type = $1 "
		               "AND detail->>$2 = $3 AND actor = 'coolingctl:' || session_user",
		               ev[i].type, ev[i].key, ev[i].value, NULL) == 1,
		    "no %s event by coolingctl and the database login", ev[i].type);
	}
	PQfinish(c);

	/* the caller's environment names nobody: $USER and $SUDO_USER are
	 * anyone's to set (tests/integration/test_roles.c logs in as others) */
	const char *env[] = {"SUDO_USER=alice", "USER=someone-else", NULL};
	const char *argv[] = {"coolingctl", "-c",  "/dev/null",  "--database", db_url,
	                      "mrp",        "set", "2034-01-01", "7100",       NULL};
	struct proc_run r;
	proc_run(&r, ctl_path, argv, base_env, env);
	assert_ok(&r);
	proc_run_free(&r);
	c = testdb_connect(db_url);
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT count(*) FROM audit_event WHERE type = 'mrp_set' "
	                            "AND detail->>'valid_from' = '2034-01-01' "
	                            "AND actor = 'coolingctl:' || session_user",
	                            NULL),
	                 1);
	ck_assert_int_eq(testdb_num(c,
	                            "SELECT count(*) FROM audit_event WHERE actor IN "
	                            "('coolingctl:alice', 'coolingctl:someone-else')",
	                            NULL),
	                 0);
	PQfinish(c);
}
END_TEST

/* ---- loans ---- */

START_TEST(test_loan_show_of_an_unknown_loan_fails)
{
	struct proc_run r;
	CTL(&r, "loan", "show", "NO-BANK", "NO-LOAN");
	assert_fails(&r, 1);
	ck_assert_str_eq(r.err, "coolingctl: loan show: no loan NO-LOAN of lender NO-BANK\n");
	proc_run_free(&r);
	CTL_FAILS(1, "loan", "show", "NO-BANK", "NO-LOAN", "--json");
	CTL_FAILS(2, "loan", "show", "NO-BANK");
}
END_TEST

START_TEST(test_loan_show_json_prints_the_contract_loan)
{
	PGconn *c = testdb_connect(db_url);
	insert_lender(c, "JSON-BANK");
	insert_loan(c, "JSON-BANK", "LN-1", BORROWER_IIN, "2025-06-15T10:00:00+05:00");
	PQfinish(c);

	struct proc_run r;
	CTL(&r, "loan", "show", "JSON-BANK", "LN-1", "--json");
	assert_ok(&r);
	json_error_t je;
	json_t *j = json_loads(r.out, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	proc_run_free(&r);
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
	                                   "lender_kind",
	                                   "product",
	                                   "exemption",
	                                   "aggregated_amount",
	                                   "rule",
	                                   "borrower_age",
	                                   "extra_confirmation_required",
	                                   "extra_confirmed_at",
	                                   "extra_confirmation_method",
	                                   "reconfirmation_required",
	                                   "reconfirmed_at",
	                                   "blockers",
	                                   "earliest_disbursement_at",
	                                   "voluntary_refusal_active",
	                                   "in_person_reasons",
	                                   "fraud_claim_open",
	                                   "reconfirmation_method",
	                                   "trusted_person_confirmed_at",
	                                   "control_call_required",
	                                   "control_called_at",
	                                   "control_call_officer_id",
	                                   "cooling_calendar_zone"};
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

	struct proc_run r;
	CTL(&r, "loan", "show", "TZ-BANK", "SUMMER");
	assert_ok(&r);
	ck_assert_str_eq(field(r.out, "lender", v, sizeof(v)), "TZ-BANK");
	ck_assert_str_eq(field(r.out, "amount", v, sizeof(v)), "600000.00 KZT");
	ck_assert_str_eq(field(r.out, "threshold_amount", v, sizeof(v)), "589800.00 KZT");
	ck_assert_str_eq(field(r.out, "approved_at", v, sizeof(v)), "2025-06-15 10:00:00 +05:00");
	ck_assert_str_eq(field(r.out, "consent_at", v, sizeof(v)), "2025-06-15 10:05:00 +05:00");
	ck_assert_str_eq(field(r.out, "cooling_ends_at", v, sizeof(v)),
	                 "2025-06-16 10:05:00 +05:00");
	ck_assert_str_eq(field(r.out, "status", v, sizeof(v)), "awaiting_in_person");
	ck_assert_str_eq(field(r.out, "blockers", v, sizeof(v)), "in_person_verification_missing");
	ck_assert_str_eq(field(r.out, "disbursed_at", v, sizeof(v)), "-");
	proc_run_free(&r);

	CTL(&r, "loan", "show", "TZ-BANK", "LAST-PLUS-6");
	assert_ok(&r);
	ck_assert_str_eq(field(r.out, "approved_at", v, sizeof(v)), "2024-02-29 23:59:59 +06:00");
	proc_run_free(&r);
	CTL(&r, "loan", "show", "TZ-BANK", "FIRST-PLUS-5");
	assert_ok(&r);
	ck_assert_str_eq(field(r.out, "approved_at", v, sizeof(v)), "2024-02-29 23:00:00 +05:00");
	proc_run_free(&r);
}
END_TEST

START_TEST(test_loan_show_gives_times_in_the_configured_policy_timezone)
{
	PGconn *c = testdb_connect(db_url);
	insert_lender(c, "TZ-CONF-BANK");
	insert_loan(c, "TZ-CONF-BANK", "TOKYO", BORROWER_IIN, "2025-06-15T05:00:00Z");
	PQfinish(c);
	char v[256];
	struct proc_run r;
	const char *argv[] = {"coolingctl", "-c",   "/dev/null",    "--database", db_url,
	                      "loan",       "show", "TZ-CONF-BANK", "TOKYO",      NULL};
	const char *env[] = {"COOLINGD_POLICY_TIMEZONE=Asia/Tokyo", NULL};
	proc_run(&r, ctl_path, argv, base_env, env);
	assert_ok(&r);
	ck_assert_str_eq(field(r.out, "approved_at", v, sizeof(v)), "2025-06-15 14:00:00 +09:00");
	proc_run_free(&r);
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

	struct proc_run r;
	CTL(&r, "borrower", iin, "--json");
	assert_ok(&r);
	json_error_t je;
	json_t *j = json_loads(r.out, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	json_t *loans = json_object_get(j, "loans");
	ck_assert_int_eq(json_array_size(loans), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(loans, 0), "loan_id")),
	                 "NEW");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(loans, 1), "loan_id")),
	                 "OLD");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(loans, 1), "lender")),
	                 "B-BANK1");
	json_decref(j);
	proc_run_free(&r);

	CTL(&r, "borrower", iin);
	assert_ok(&r);
	ck_assert_int_eq(count_lines(r.out), 3);
	ck_assert_msg(strncmp(r.out, "lender   loan_id     amount  channel  status", 44) == 0,
	              "header: %s", r.out);
	const char *row1 = strchr(r.out, '\n') + 1;
	const char *expected = "B-BANK2  NEW      600000.00  online   awaiting_in_person  "
	                       "2025-04-01 10:00:00 +05:00  in_person_verification_missing  card  "
	                       "  600000.00  in-person verification\n";
	ck_assert_msg(strncmp(row1, expected, strlen(expected)) == 0, "table: %s", r.out);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_borrower_without_loans_says_so_and_succeeds)
{
	char iin[13];
	make_iin("70050140023", iin);
	struct proc_run r;
	CTL(&r, "borrower", iin);
	assert_ok(&r);
	ck_assert_str_eq(r.out, "no loans for this borrower\n");
	proc_run_free(&r);
	CTL(&r, "borrower", iin, "--json");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "{\n  \"loans\": []\n}\n");
	proc_run_free(&r);
}
END_TEST

START_TEST(test_borrower_with_an_invalid_iin_is_a_usage_error)
{
	char iin[13];
	make_iin("85020240012", iin);
	iin[11] = iin[11] == '9' ? '0' : (char)(iin[11] + 1); /* a wrong check digit */
	struct proc_run r;
	CTL(&r, "borrower", iin);
	assert_fails(&r, 2);
	ck_assert_ptr_null(strstr(r.err, iin)); /* personal data is not echoed */
	proc_run_free(&r);
	CTL_FAILS(2, "borrower", "12345");
	CTL_FAILS(2, "borrower");
}
END_TEST

START_TEST(test_borrower_born_after_today_is_a_usage_error)
{
	/* born 1 January 2030 (century digit 5), and two days from now */
	char soon[13], digits[32];
	time_t t = time(NULL) + 2 * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(digits, sizeof digits, "%02d%02d%02d5%04d", tm.tm_year % 100, tm.tm_mon + 1,
	         tm.tm_mday, 1);
	for (int k = 2; iin_check_digit(digits) < 0; k++)
		snprintf(digits, sizeof digits, "%02d%02d%02d5%04d", tm.tm_year % 100,
		         tm.tm_mon + 1, tm.tm_mday, k % 10000);
	make_iin(digits, soon);
	const char *future[] = {"300101500123", soon};
	for (size_t i = 0; i < 2; i++) {
		struct proc_run r;
		CTL(&r, "borrower", future[i]);
		assert_fails(&r, 2);
		ck_assert_ptr_nonnull(strstr(r.err, "birth date is in the future"));
		ck_assert_ptr_null(strstr(r.err, future[i])); /* personal data is not echoed */
		proc_run_free(&r);
	}
}
END_TEST

/* ---- the command line ---- */

START_TEST(test_unreachable_database_exits_3_without_showing_the_password)
{
	struct proc_run r;
	proc_ctl(&r, base_env, NULL, UNREACHABLE, "mrp", "list", (const char *)NULL);
	assert_fails(&r, 3);
	ck_assert_ptr_null(strstr(r.err, "s3cretpw"));
	proc_run_free(&r);

	proc_ctl(&r, base_env, NULL, "host=127.0.0.1 port=1 password=s3cretpw", "migrate",
	         (const char *)NULL);
	assert_fails(&r, 3);
	ck_assert_ptr_null(strstr(r.err, "s3cretpw"));
	proc_run_free(&r);

	/* a string libpq cannot parse may be quoted back by libpq */
	proc_ctl(&r, base_env, NULL, "postgresql://op:s3cr%zzetpw@localhost/x", "migrate",
	         (const char *)NULL);
	assert_fails(&r, 1);
	ck_assert_ptr_null(strstr(r.err, "s3cr"));
	proc_run_free(&r);
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
	struct proc_run r;

	/* the file alone: unreachable */
	const char *file_only[] = {"coolingctl", "-c", conf, "mrp", "list", NULL};
	proc_run(&r, ctl_path, file_only, base_env, NULL);
	assert_fails(&r, 3);
	proc_run_free(&r);
	/* the environment beats the file */
	const char *env[] = {env_url, NULL};
	proc_run(&r, ctl_path, file_only, base_env, env);
	assert_ok(&r);
	proc_run_free(&r);
	/* --database beats both, before or after the command */
	const char *bad_env[] = {"COOLINGD_DATABASE_URL=" UNREACHABLE, NULL};
	const char *opt_after[] = {"coolingctl", "mrp",        "list", "-c",
	                           conf,         "--database", db_url, NULL};
	proc_run(&r, ctl_path, opt_after, base_env, bad_env);
	assert_ok(&r);
	proc_run_free(&r);
	unlink(conf);

	/* an explicit config file that is missing is an error */
	const char *missing[] = {"coolingctl", "-c",   "/nonexistent/coolingd.conf",
	                         "mrp",        "list", NULL};
	proc_run(&r, ctl_path, missing, base_env, NULL);
	assert_fails(&r, 1);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_every_command_has_help_and_usage_errors_exit_2)
{
	static const char *const cmds[][2] = {
	    {"migrate", NULL}, {"lender", "add"},  {"client", "add"}, {"client", "revoke"},
	    {"mrp", "set"},    {"mrp", "list"},    {"loan", "show"},  {"borrower", NULL},
	    {"export", NULL},  {"audit", "verify"}};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *argv[] = {"coolingctl", cmds[i][0], cmds[i][1] ? cmds[i][1] : "--help",
		                      cmds[i][1] ? "--help" : NULL, NULL};
		struct proc_run r;
		proc_run(&r, ctl_path, argv, base_env, NULL);
		assert_ok(&r);
		char expected[64];
		snprintf(expected, sizeof(expected), "usage: coolingctl %s%s%s", cmds[i][0],
		         cmds[i][1] ? " " : "", cmds[i][1] ? cmds[i][1] : "");
		ck_assert_msg(strncmp(r.out, expected, strlen(expected)) == 0, "help: %s", r.out);
		ck_assert_ptr_nonnull(strstr(r.out, "exit status"));
		proc_run_free(&r);
	}
	struct proc_run r;
	const char *help[] = {"coolingctl", "--help", NULL};
	proc_run(&r, ctl_path, help, base_env, NULL);
	assert_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, "borrower IIN [--json]"));
	proc_run_free(&r);
	const char *version[] = {"coolingctl", "--version", NULL};
	proc_run(&r, ctl_path, version, base_env, NULL);
	assert_ok(&r);
	ck_assert_int_eq(strncmp(r.out, "coolingctl ", 11), 0);
	proc_run_free(&r);

	CTL_FAILS(2, "frobnicate");
	CTL_FAILS(2, "lender");
	CTL_FAILS(2, "lender", "remove", "X");
	CTL_FAILS(2, "mrp", "list", "--bogus");
	CTL_FAILS(2, "mrp", "list", "extra");
	const char *none[] = {"coolingctl", NULL};
	proc_run(&r, ctl_path, none, base_env, NULL);
	assert_fails(&r, 2);
	proc_run_free(&r);
}
END_TEST

/* ---- a loan's events and the decision statistics ---- */

/* An audit event of a loan, written directly (the CLI seals it). */
static void insert_event(PGconn *c, const char *lender, const char *loan_id, const char *at,
                         const char *type, const char *detail)
{
	const char *p[] = {lender, loan_id, at, type, detail};
	PQclear(sql(c,
	            "INSERT INTO audit_event (at, actor, lender_id, loan_id, type, detail) "
	            "VALUES ($3::timestamptz, 'core', $1, $2, $4, $5::jsonb)",
	            5, p));
}

/* The column at which needle starts in line number n (0 first) of text;
 * -1 when it is not there. */
static int column_of(const char *text, int n, const char *needle)
{
	const char *line = text;
	for (int i = 0; i < n && line; i++) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (line == NULL)
		return -1;
	const char *end = strchr(line, '\n'), *hit = strstr(line, needle);
	return hit && (!end || hit < end) ? (int)(hit - line) : -1;
}

START_TEST(test_loan_events_lists_the_loans_events_in_chain_order)
{
	PGconn *c = testdb_connect(db_url);
	insert_lender(c, "EVT-BANK");
	insert_loan(c, "EVT-BANK", "LN-1", BORROWER_IIN, "2025-06-15T10:00:00+05:00");
	insert_loan(c, "EVT-BANK", "LN-2", BORROWER_IIN, "2025-06-15T10:00:00+05:00");
	insert_event(c, "EVT-BANK", "LN-1", "2025-06-15T05:00:00Z", "approval_recorded", "{}");
	insert_event(c, "EVT-BANK", "LN-2", "2025-06-15T05:00:01Z", "approval_recorded", "{}");
	insert_event(c, "EVT-BANK", "LN-1", "2025-06-15T05:01:00.25Z", "disbursement_refused",
	             "{\"blockers\": [\"consent_missing\"]}");
	insert_event(c, "EVT-BANK", "LN-1", "2025-06-15T05:05:00Z", "consent_recorded",
	             "{\"consent_at\": \"2025-06-15T05:05:00Z\"}");
	PQfinish(c);

	struct proc_run r;
	CTL(&r, "loan", "events", "EVT-BANK", "LN-1", "--json");
	assert_ok(&r);
	json_error_t je;
	json_t *j = json_loads(r.out, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	proc_run_free(&r);
	json_t *ev = json_object_get(j, "events");
	ck_assert_int_eq(json_array_size(ev), 3);
	static const char *const types[] = {"approval_recorded", "disbursement_refused",
	                                    "consent_recorded"};
	json_int_t prev = 0;
	for (size_t i = 0; i < 3; i++) {
		json_t *e = json_array_get(ev, i);
		ck_assert_int_eq(json_object_size(e), 8);
		ck_assert_str_eq(json_string_value(json_object_get(e, "type")), types[i]);
		ck_assert_str_eq(json_string_value(json_object_get(e, "loan_id")), "LN-1");
		ck_assert_int_gt(json_integer_value(json_object_get(e, "seq")), prev);
		prev = json_integer_value(json_object_get(e, "seq"));
		ck_assert_int_eq(strlen(json_string_value(json_object_get(e, "hash"))), 64);
	}
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 1), "at")),
	                 "2025-06-15T05:01:00.250000Z");
	ck_assert_str_eq(
	    json_string_value(json_array_get(
	        json_object_get(json_object_get(json_array_get(ev, 1), "detail"), "blockers"), 0)),
	    "consent_missing");
	json_decref(j);

	/* the table: a header and one line per event, the columns aligned,
	 * times in Almaty local time */
	CTL(&r, "loan", "events", "EVT-BANK", "LN-1");
	assert_ok(&r);
	ck_assert_int_eq(count_lines(r.out), 4);
	ck_assert_int_eq(strncmp(r.out, "seq", 3), 0);
	int type_col = column_of(r.out, 0, "type");
	ck_assert_int_gt(type_col, 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(column_of(r.out, i + 1, types[i]), type_col);
	ck_assert_int_eq(column_of(r.out, 1, "2025-06-15 10:00:00 +05:00"),
	                 column_of(r.out, 0, "at (Asia/Almaty)"));
	ck_assert_int_gt(column_of(r.out, 2, "2025-06-15 10:01:00.250000 +05:00"), 0);
	ck_assert_int_gt(column_of(r.out, 2, "{\"blockers\":[\"consent_missing\"]}"), type_col);
	proc_run_free(&r);

	CTL(&r, "loan", "events", "EVT-BANK", "NO-LOAN");
	assert_fails(&r, 1);
	ck_assert_str_eq(r.err, "coolingctl: loan events: no loan NO-LOAN of lender EVT-BANK\n");
	proc_run_free(&r);
	CTL_FAILS(2, "loan", "events", "..", "LN-1");
	CTL_FAILS(2, "loan", "events", "EVT-BANK");
}
END_TEST

START_TEST(test_stats_decisions_per_almaty_day_as_a_table_and_json)
{
	PGconn *c = testdb_connect(db_url);
	/* 23:30 and 23:45 on 31 December in Almaty, then 00:30 on 1 January */
	insert_event(c, "STAT-BANK", "LN-1", "2025-12-31T18:30:00Z", "disbursement_allowed", "{}");
	insert_event(c, "STAT-BANK", "LN-2", "2025-12-31T18:45:00Z", "disbursement_refused",
	             "{\"blockers\": [\"cooling_period_active\"]}");
	insert_event(c, "STAT-BANK", "LN-3", "2025-12-31T19:30:00Z", "disbursement_refused",
	             "{\"blockers\": [\"cooling_period_active\", "
	             "\"in_person_verification_missing\"]}");
	insert_event(c, "OTHER-BANK", "LN-1", "2025-12-31T19:30:00Z", "disbursement_allowed", "{}");
	testdb_seal(c);
	PQfinish(c);

	struct proc_run r;
	CTL(&r, "stats", "decisions", "--from", "2025-12-31T00:00:00+05:00", "--to",
	    "2026-01-02T00:00:00+05:00", "--bucket", "day", "--lender", "STAT-BANK", "--json");
	assert_ok(&r);
	json_error_t je;
	json_t *j = json_loads(r.out, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	proc_run_free(&r);
	json_t *b = json_object_get(j, "buckets");
	ck_assert_int_eq(json_array_size(b), 2);
	json_t *d0 = json_array_get(b, 0), *d1 = json_array_get(b, 1);
	ck_assert_str_eq(json_string_value(json_object_get(d0, "start")), "2025-12-30T19:00:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(d1, "start")), "2025-12-31T19:00:00Z");
	ck_assert_int_eq(json_integer_value(json_object_get(d0, "allowed")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(d0, "refused")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(d1, "allowed")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(d1, "refused")), 1);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(d1, "refused_by_blocker"),
	                                       "in_person_verification_missing")),
	    1);
	json_decref(j);

	/* the table: header, two days, the total; numbers right-aligned under
	 * their headers */
	CTL(&r, "stats", "decisions", "--from", "2025-12-31T00:00:00+05:00", "--to",
	    "2026-01-02T00:00:00+05:00", "--bucket", "day", "--lender", "STAT-BANK");
	assert_ok(&r);
	ck_assert_int_eq(count_lines(r.out), 4);
	ck_assert_int_eq(strncmp(r.out, "start (Asia/Almaty)", 19), 0);
	ck_assert_int_eq(column_of(r.out, 1, "2025-12-31 00:00:00 +05:00"), 0);
	ck_assert_int_eq(column_of(r.out, 2, "2026-01-01 00:00:00 +05:00"), 0);
	ck_assert_int_eq(column_of(r.out, 3, "total"), 0);
	int refused_end = column_of(r.out, 0, "refused ") + 6;
	ck_assert_int_eq(column_of(r.out, 3,
	                           "2  cooling_period_active 2, "
	                           "in_person_verification_missing 1"),
	                 refused_end);
	ck_assert_int_eq(column_of(r.out, 0, "refused by blocker"),
	                 column_of(r.out, 1, "cooling_period_active 1"));
	proc_run_free(&r);

	/* hour buckets in UTC, every lender */
	CTL(&r, "stats", "decisions", "--from", "2025-12-31T18:00:00Z", "--to",
	    "2025-12-31T20:00:00Z", "--json");
	assert_ok(&r);
	j = json_loads(r.out, 0, &je);
	proc_run_free(&r);
	b = json_object_get(j, "buckets");
	ck_assert_int_eq(json_array_size(b), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(b, 1), "allowed")),
	                 1); /* OTHER-BANK */
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(b, 0), "allowed")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(b, 1), "refused")), 1);
	json_decref(j);

	CTL_FAILS(2, "stats", "decisions", "--to", "2026-01-02T00:00:00Z");
	CTL_FAILS(2, "stats", "decisions", "--from", "2026-01-01T00:00:00Z");
	CTL_FAILS(2, "stats", "decisions", "--from", "2026-01-01", "--to", "2026-01-02T00:00:00Z");
	CTL_FAILS(2, "stats", "decisions", "--from", "2026-01-02T00:00:00Z", "--to",
	          "2026-01-02T00:00:00Z");
	CTL_FAILS(2, "stats", "decisions", "--from", "2026-01-01T00:00:00Z", "--to",
	          "2026-01-02T00:00:00Z", "--bucket", "week");
	CTL_FAILS(2, "stats", "decisions", "--from", "2026-01-01T00:00:00Z", "--to",
	          "2026-01-02T00:00:00Z", "--lender", "bad!id");
	CTL_FAILS(2, "stats", "decisions", "--from", "2026-01-01T00:00:00Z", "--to",
	          "2027-01-02T00:00:00Z");
	const char *help[] = {"coolingctl", "stats", "decisions", "--help", NULL};
	proc_run(&r, ctl_path, help, base_env, NULL);
	assert_ok(&r);
	ck_assert_int_eq(strncmp(r.out, "usage: coolingctl stats decisions --from TS --to TS", 51),
	                 0);
	proc_run_free(&r);
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
	tcase_add_test(tc, test_lender_add_of_dot_or_dot_dot_is_a_usage_error);
	tcase_add_test(tc, test_client_add_prints_only_the_token_and_stores_only_its_hash);
	tcase_add_test(tc, test_client_add_needs_a_lender_exactly_for_the_lender_role);
	tcase_add_test(tc, test_client_revoke_sets_revoked_at_and_a_second_revoke_fails);
	tcase_add_test(tc, test_client_add_expires_in_a_strict_duration);
	tcase_add_test(tc, test_client_list_shows_clients_but_never_a_token_or_its_hash);
	tcase_add_test(tc, test_lender_list_shows_each_lender_once);
	tcase_add_test(tc, test_mrp_set_then_mrp_list_shows_it);
	tcase_add_test(tc, test_mrp_set_refuses_impossible_dates_and_non_positive_amounts);
	tcase_add_test(tc, test_every_operator_command_writes_its_audit_event);
	tcase_add_test(tc, test_loan_show_of_an_unknown_loan_fails);
	tcase_add_test(tc, test_loan_show_json_prints_the_contract_loan);
	tcase_add_test(tc, test_loan_show_gives_almaty_time_with_the_offset_of_its_day);
	tcase_add_test(tc, test_loan_show_gives_times_in_the_configured_policy_timezone);
	tcase_add_test(tc, test_borrower_json_lists_all_lenders_loans_newest_first);
	tcase_add_test(tc, test_borrower_without_loans_says_so_and_succeeds);
	tcase_add_test(tc, test_borrower_with_an_invalid_iin_is_a_usage_error);
	tcase_add_test(tc, test_borrower_born_after_today_is_a_usage_error);
	tcase_add_test(tc, test_unreachable_database_exits_3_without_showing_the_password);
	tcase_add_test(tc, test_database_option_beats_environment_which_beats_config);
	tcase_add_test(tc, test_every_command_has_help_and_usage_errors_exit_2);
	tcase_add_test(tc, test_loan_events_lists_the_loans_events_in_chain_order);
	tcase_add_test(tc, test_stats_decisions_per_almaty_day_as_a_table_and_json);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(cli_suite)

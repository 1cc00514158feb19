/*
 * One fresh, migrated database per test program (or per test), so that tests
 * never see each other's rows, and the means to take the server away and
 * bring it back for the outage tests.
 */
#include "support/testdb.h"

#include "db.h"

#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("testdb: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(EXIT_FAILURE);
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("out of memory");
	return p;
}

static const char *server_url(void)
{
	const char *url = getenv("COOLINGD_TEST_DATABASE_URL");
	if (!url || !*url)
		die("COOLINGD_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, or "
		    "start a server with scripts/pg.sh and export its URL");
	return url;
}

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

PGconn *testdb_connect(const char *url)
{
	PGconn *conn = PQconnectdb(url);
	if (!conn || PQstatus(conn) != CONNECTION_OK)
		die("cannot connect to %s: %s", url, conn ? PQerrorMessage(conn) : "out of memory");
	return conn;
}

void testdb_ignore_notices(PGconn *c)
{
	PQsetNoticeProcessor(c, ignore_notice, NULL);
}

PGconn *testdb_connect_quiet(const char *url)
{
	PGconn *conn = testdb_connect(url);
	testdb_ignore_notices(conn);
	return conn;
}

void testdb_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
	              "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

PGconn *testdb_create_prepared(const char *prefix, char **url)
{
	*url = testdb_create(prefix);
	PGconn *c = testdb_connect_quiet(*url);
	struct cd_error err;
	ck_assert_msg(db_prepare_all(c, &err), "%s", err.message);
	testdb_exec(c, "SET TimeZone = 'UTC'; "
	               "INSERT INTO lender (id, kind) VALUES ('B1', 'bank')");
	return c;
}

void testdb_release(PGconn *c, char *url)
{
	PQfinish(c);
	testdb_drop(url);
	free(url);
}

PGresult *testdb_exec_prepared(PGconn *c, enum stmt st, const char *const *params)
{
	return PQexecPrepared(c, db_statements[st].name, db_statements[st].nparams, params, NULL,
	                      NULL, 0);
}

long long testdb_num(PGconn *c, const char *sql, ...)
{
	const char *params[16];
	int n = 0;
	va_list ap;
	va_start(ap, sql);
	for (const char *p; (p = va_arg(ap, const char *)) != NULL;) {
		ck_assert_msg(n < (int)(sizeof(params) / sizeof(params[0])),
		              "%s: too many parameters", sql);
		params[n++] = p;
	}
	va_end(ap);
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1,
	              "%s: %d row(s); %s", sql, PQntuples(r), PQerrorMessage(c));
	long long v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

void testdb_seal(PGconn *c)
{
	struct cd_error err = {0};
	ck_assert_msg(db_audit_seal_all(c, &err) >= 0, "seal: %s", err.message);
}

/* The end of the URL's authority part (where the path starts), or NULL for a
 * key=value string. */
static const char *path_start(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return NULL;
	p += 3;
	return p + strcspn(p, "/?#");
}

char *testdb_url_for(const char *url, const char *dbname)
{
	const char *start = path_start(url);
	size_t n = strlen(url) + strlen(dbname) + 16;
	char *out = malloc(n);
	if (!out)
		die("out of memory");
	if (!start) {
		snprintf(out, n, "%s dbname=%s", url, dbname);
		return out;
	}
	const char *rest = start;
	if (*start == '/')
		rest = start + 1 + strcspn(start + 1, "?#");
	snprintf(out, n, "%.*s/%s%s", (int)(start - url), url, dbname, rest);
	return out;
}

/* The database name in url (malloc'd), or NULL when it names none. */
static char *dbname_of(const char *url)
{
	const char *start = path_start(url);
	if (!start) {
		const char *last = NULL;
		for (const char *p = strstr(url, "dbname="); p; p = strstr(p + 1, "dbname="))
			last = p + 7;
		if (!last)
			return NULL;
		return strndup(last, strcspn(last, " "));
	}
	if (*start != '/' || start[1] == '?' || start[1] == '#' || start[1] == '\0')
		return NULL;
	return strndup(start + 1, strcspn(start + 1, "?#"));
}

/* Runs argv (argv[0] looked up in PATH) with stdout sent to stderr; true when it exits 0. */
static bool run(char *const argv[])
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDONLY);
		if (null_fd >= 0)
			dup2(null_fd, STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "testdb: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool exec_sql(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "testdb: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

static void migrate(const char *url)
{
	const char *bin = getenv("COOLINGD_BIN_DIR");
	if (bin && *bin) {
		char exe[4096];
		snprintf(exe, sizeof exe, "%s/coolingctl", bin);
		char *const argv[] = {exe, "--database", (char *)url, "migrate", NULL};
		if (!run(argv))
			die("%s --database %s migrate failed", exe, url);
		return;
	}
	/* db_migrate() may embed the migrations; give it the tree's sql/ anyway. */
	const char *src = getenv("COOLINGD_SOURCE_DIR");
	char sql_dir[4096] = "";
	if (src && *src)
		snprintf(sql_dir, sizeof sql_dir, "%s/sql", src);
	PGconn *conn = testdb_connect(url);
	struct cd_error err = {0};
	int applied = 0;
	if (!db_migrate(conn, *sql_dir ? sql_dir : NULL, &applied, &err))
		die("migrating %s failed: %s", url, err.message);
	PQfinish(conn);
}

/* Drops database `name` on the test server, other sessions or not. */
static bool drop_database(PGconn *conn, const char *name)
{
	char *ident = PQescapeIdentifier(conn, name, strlen(name));
	if (!ident)
		return false;
	char sql[256];
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", ident);
	PQfreemem(ident);
	return exec_sql(conn, sql);
}

char *testdb_create(const char *prefix)
{
	static unsigned created;
	const char *server = server_url();

	/* Identifiers are at most 63 bytes: "cd_" + prefix + "_<pid>_<n>". */
	char clean[32];
	size_t i = 0;
	for (; prefix && prefix[i] && i < sizeof clean - 1; i++) {
		unsigned char c = (unsigned char)prefix[i];
		clean[i] = isalnum(c) ? (char)tolower(c) : '_';
	}
	clean[i] = '\0';
	char name[64];
	if (created == 0)
		snprintf(name, sizeof name, "cd_%s_%ld", clean, (long)getpid());
	else
		snprintf(name, sizeof name, "cd_%s_%ld_%u", clean, (long)getpid(), created);
	created++;

	PGconn *conn = testdb_connect(server);
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	char *ident = PQescapeIdentifier(conn, name, strlen(name));
	if (!ident)
		die("%s", PQerrorMessage(conn));
	char sql[256];
	snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", ident);
	PQfreemem(ident);
	if (!drop_database(conn, name) || !exec_sql(conn, sql))
		die("cannot create database %s on %s", name, server);
	PQfinish(conn);

	char *url = testdb_url_for(server, name);
	migrate(url);
	return url;
}

void testdb_drop(const char *url)
{
	char *name = dbname_of(url);
	if (!name) {
		fprintf(stderr, "testdb: %s names no database\n", url);
		return;
	}
	PGconn *conn = PQconnectdb(server_url());
	if (PQstatus(conn) != CONNECTION_OK)
		fprintf(stderr, "testdb: cannot drop %s: %s", name, PQerrorMessage(conn));
	else {
		PQsetNoticeProcessor(conn, ignore_notice, NULL);
		drop_database(conn, name);
	}
	PQfinish(conn);
	free(name);
}

/* Runs $COOLINGD_TEST_PGCTL -D $COOLINGD_TEST_PGDATA -w -t 60 ARGS... */
static bool pg_ctl(const char *const *args)
{
	const char *pgctl = getenv("COOLINGD_TEST_PGCTL");
	const char *data = getenv("COOLINGD_TEST_PGDATA");
	if (!pgctl || !*pgctl || !data || !*data) {
		fprintf(stderr, "testdb: COOLINGD_TEST_PGCTL and COOLINGD_TEST_PGDATA must be set "
		                "(scripts/test.sh sets them)\n");
		return false;
	}
	char *prefix = xstrdup(pgctl);
	char *argv[32];
	size_t n = 0;
	for (char *save = NULL, *w = strtok_r(prefix, " ", &save); w && n < 20;
	     w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n++] = "-D";
	argv[n++] = (char *)data;
	argv[n++] = "-w";
	argv[n++] = "-t";
	argv[n++] = "60";
	for (; *args && n < sizeof argv / sizeof argv[0] - 1; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	bool ok = run(argv);
	if (!ok)
		fprintf(stderr, "testdb: %s %s failed\n", pgctl, args[-1]);
	free(prefix);
	return ok;
}

bool testdb_server_stop_mode(const char *mode)
{
	const char *args[] = {"-m", mode, "stop", NULL};
	return pg_ctl(args);
}

bool testdb_server_stop(void)
{
	return testdb_server_stop_mode("immediate");
}

bool testdb_server_start(void)
{
	const char *data = getenv("COOLINGD_TEST_PGDATA");
	if (!data || !*data) {
		fprintf(stderr, "testdb: COOLINGD_TEST_PGDATA is not set\n");
		return false;
	}
	char log[4096];
	snprintf(log, sizeof log, "%s/../postgres.log", data);
	const char *args[] = {"-l", log, "start", NULL};
	return pg_ctl(args);
}

bool testdb_still_waiting(PGconn *c)
{
	usleep(300000);
	ck_assert(PQconsumeInput(c));
	return PQisBusy(c);
}

int testdb_rows_of(PGconn *c)
{
	PGresult *r = PQgetResult(c);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	int n = PQntuples(r);
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	return n;
}

/*
 * The rules of `coolingctl export` and `audit verify` that the format and
 * crash tests (test_export.c) do not reach: how --since-last waits for
 * another run of its job and gives up, how it refuses a chain that ends
 * before the job's watermark, the optimistic checks of db_export_job_begin()
 * and db_export_job_commit() (called directly: the locks of the CLI keep two
 * runs from ever getting there), the mode of the files written, an empty
 * JSON Lines export, a rename that fails, and exit 3 when the database is
 * out of reach. Each test has a fresh database.
 */
#include "check_main.h"
#include "support/proc.h"
#include "support/testdb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"

/* What coolingctl --since-last uses: the key of its advisory lock is
 * (EXPORT_JOB_LOCK, hashtext(job)) in lib/db/sync.c, and it waits 10 s. */
#define JOB_LOCK_SQL  "SELECT pg_advisory_lock(73011263, hashtext('nightly'))"
#define LOCK_WAIT_S   10
#define EMPTY_SHA256  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CRASH_ENV     "COOLINGD_EXPORT_CRASH_BEFORE_COMMIT"
#define ERR_PREFIX(s) "coolingctl: " s ": "

static const char *ctl_path;

/* No database URL nor crash from the environment of the test. */
static const char *const base_env[] = {"COOLINGD_DATABASE_URL", CRASH_ENV, "USER=rules-test", NULL};

/* Runs coolingctl -c /dev/null --database URL ARGS...; free r with
 * proc_run_free(). */
static void ctl_run(struct proc_run *r, const char *url, ...)
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
	proc_run(r, ctl_path, argv, base_env, NULL);
}

#define CTL(r, url, ...) ctl_run(r, url, __VA_ARGS__, (const char *)NULL)

static void assert_exit(const struct proc_run *r, int status)
{
	ck_assert_msg(r->status == status, "exit %d, not %d; stderr: %s", r->status, status,
	              r->err);
}

/* One line on stderr, starting with prefix and holding part. */
static void assert_one_line(const struct proc_run *r, const char *prefix, const char *part)
{
	ck_assert_msg(strncmp(r->err, prefix, strlen(prefix)) == 0, "stderr: %s", r->err);
	ck_assert_msg(strstr(r->err, part) != NULL, "no '%s' in stderr: %s", part, r->err);
	ck_assert_msg(strchr(r->err, '\n') == r->err + strlen(r->err) - 1, "stderr: %s", r->err);
}

/* Seals every event. A transaction running anywhere in the cluster (the
 * tests of other programs) holds the sealer back for a moment, so it tries
 * again until none is left. */
static void seal_everything(const char *url)
{
	PGconn *c = testdb_connect(url);
	struct cd_error err;
	cd_error_clear(&err);
	for (int i = 0;; i++) {
		ck_assert_msg(db_audit_seal_all(c, &err) >= 0, "seal: %s", err.message);
		if (testdb_num(c,
		               "SELECT (SELECT count(*) FROM audit_event) - "
		               "(SELECT count(*) FROM audit_chain)",
		               NULL) == 0)
			break;
		ck_assert_msg(i < 200, "events left unsealed for 20 s");
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
	PQfinish(c);
}

/* A fresh database with three sealed events (lender, client, MRP). */
static char *database_with_events(void)
{
	char *url = testdb_create("export_rules");
	struct proc_run r;
	CTL(&r, url, "lender", "add", "BANK1", "--kind", "bank");
	assert_exit(&r, 0);
	proc_run_free(&r);
	CTL(&r, url, "client", "add", "--name", "aud1", "--role", "auditor");
	assert_exit(&r, 0);
	proc_run_free(&r);
	CTL(&r, url, "mrp", "set", "2027-01-01", "4500");
	assert_exit(&r, 0);
	proc_run_free(&r);
	seal_everything(url);
	return url;
}

static char *temp_dir(void)
{
	char *d = strdup("/tmp/cd_export_rules_XXXXXX");
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void in_dir(char *out, size_t size, const char *dir, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void remove_dir(char *d)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
	free(d);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static long long file_mode(const char *path)
{
	struct stat st;
	ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

static long long file_size(const char *path)
{
	struct stat st;
	ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
	return (long long)st.st_size;
}

START_TEST(test_a_run_of_a_job_whose_lock_is_held_waits_then_fails_naming_another_run)
{
	char *url = database_with_events();
	char *dir = temp_dir(), f[PATH_MAX];
	in_dir(f, sizeof(f), dir, "a.csv");
	/* another run, as far as coolingctl can tell: the job's lock is held */
	PGconn *other = testdb_connect(url);
	testdb_exec(other, JOB_LOCK_SQL);

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct proc_run r;
	CTL(&r, url, "export", "--since-last", "nightly", "--output", f);
	double waited = seconds_since(&t0);
	assert_exit(&r, 1);
	assert_one_line(&r, ERR_PREFIX("export"), "another run of export job nightly");
	ck_assert_msg(waited >= LOCK_WAIT_S - 0.5 && waited < 30, "waited %.1f s", waited);
	ck_assert(!exists(f));
	proc_run_free(&r);

	/* let go, and the job runs */
	PQfinish(other);
	CTL(&r, url, "export", "--since-last", "nightly", "--output", f);
	assert_exit(&r, 0);
	ck_assert(exists(f));
	proc_run_free(&r);
	remove_dir(dir);
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_a_chain_that_ends_before_the_jobs_watermark_fails_and_writes_nothing)
{
	char *url = database_with_events();
	char *dir = temp_dir(), f1[PATH_MAX], f2[PATH_MAX];
	in_dir(f1, sizeof(f1), dir, "1.csv");
	in_dir(f2, sizeof(f2), dir, "2.csv");
	struct proc_run r;
	CTL(&r, url, "export", "--since-last", "nightly", "--output", f1);
	assert_exit(&r, 0);
	proc_run_free(&r);

	/* the watermark says more was delivered than the chain holds */
	PGconn *c = testdb_connect(url);
	testdb_exec(c, "UPDATE export_job SET last_seq = 999 WHERE name = 'nightly'");
	CTL(&r, url, "export", "--since-last", "nightly", "--output", f2);
	assert_exit(&r, 1);
	assert_one_line(&r, ERR_PREFIX("export"),
	                "the audit chain ends at seq 3, before job nightly's watermark 999; run "
	                "'coolingctl audit verify'");
	ck_assert(!exists(f2));
	proc_run_free(&r);

	/* nothing was recorded as pending */
	PGresult *res = PQexec(c, "SELECT last_seq, pending_to IS NULL FROM export_job "
	                          "WHERE name = 'nightly'");
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "999");
	ck_assert_str_eq(PQgetvalue(res, 0, 1), "t");
	PQclear(res);
	PQfinish(c);
	remove_dir(dir);
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_begin_on_a_stale_view_of_the_job_and_commit_of_another_range_are_409)
{
	char *url = testdb_create("export_rules");
	PGconn *c = testdb_connect(url);
	struct cd_error err;
	cd_error_clear(&err);
	struct export_job seen, now;
	ck_assert_msg(db_export_job_get(c, "j", &seen, &err), "%s", err.message);
	ck_assert_int_eq(seen.last_seq, 0);
	ck_assert_int_eq(seen.pending_to, 0);
	ck_assert_str_eq(seen.pending_file, "");

	/* another run reads the job and records its range first */
	ck_assert_msg(db_export_job_get(c, "j", &now, &err), "%s", err.message);
	ck_assert_msg(db_export_job_begin(c, "j", &now, 5, "/srv/other.csv", &err), "%s",
	              err.message);

	/* this run's view is stale: refused, the other run's range stays */
	ck_assert(!db_export_job_begin(c, "j", &seen, 7, "/srv/mine.csv", &err));
	ck_assert_int_eq(err.status, 409);
	ck_assert_str_eq(err.message, "export job j was changed by another run");
	ck_assert_msg(db_export_job_get(c, "j", &now, &err), "%s", err.message);
	ck_assert_int_eq(now.pending_to, 5);
	ck_assert_str_eq(now.pending_file, "/srv/other.csv");

	/* a commit of a range that is not the pending one is refused too */
	cd_error_clear(&err);
	ck_assert(!db_export_job_commit(c, "j", 7, &err));
	ck_assert_int_eq(err.status, 409);
	ck_assert_str_eq(err.message, "export job j was changed by another run");
	ck_assert_msg(db_export_job_get(c, "j", &now, &err), "%s", err.message);
	ck_assert_int_eq(now.last_seq, 0);
	ck_assert_int_eq(now.pending_to, 5);

	/* the right one moves the watermark; committing it again is refused */
	ck_assert_msg(db_export_job_commit(c, "j", 5, &err), "%s", err.message);
	ck_assert_msg(db_export_job_get(c, "j", &now, &err), "%s", err.message);
	ck_assert_int_eq(now.last_seq, 5);
	ck_assert_int_eq(now.pending_to, 0);
	ck_assert_str_eq(now.pending_file, "");
	cd_error_clear(&err);
	ck_assert(!db_export_job_commit(c, "j", 5, &err));
	ck_assert_int_eq(err.status, 409);

	/* a path the job could not read back whole is refused before any change */
	char long_path[DB_EXPORT_FILE_MAX + 1];
	memset(long_path, 'x', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	cd_error_clear(&err);
	ck_assert(!db_export_job_begin(c, "j", &now, 9, long_path, &err));
	ck_assert_int_eq(err.status, 422);
	long_path[DB_EXPORT_FILE_MAX - 1] = '\0'; /* the longest that fits */
	ck_assert_msg(db_export_job_begin(c, "j", &now, 9, long_path, &err), "%s", err.message);
	ck_assert_msg(db_export_job_get(c, "j", &now, &err), "%s", err.message);
	ck_assert_str_eq(now.pending_file, long_path);

	PQfinish(c);
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_exported_files_are_created_mode_0640)
{
	char *url = database_with_events();
	char *dir = temp_dir(), plain[PATH_MAX], job[PATH_MAX], sums[PATH_MAX];
	in_dir(plain, sizeof(plain), dir, "plain.csv");
	in_dir(job, sizeof(job), dir, "job.jsonl");
	in_dir(sums, sizeof(sums), dir, "job.jsonl.sha256");
	/* no umask to hide a wider mode */
	mode_t old = umask(0);
	struct proc_run r;
	CTL(&r, url, "export", "--output", plain);
	assert_exit(&r, 0);
	proc_run_free(&r);
	CTL(&r, url, "export", "--since-last", "nightly", "--format", "jsonl", "--output", job);
	assert_exit(&r, 0);
	proc_run_free(&r);
	umask(old);
	ck_assert_int_eq(file_mode(plain), 0640);
	ck_assert_int_eq(file_mode(job), 0640);
	ck_assert_int_eq(file_mode(sums), 0640);
	remove_dir(dir);
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_jsonl_with_no_events_is_an_empty_file)
{
	char *url = database_with_events();
	char *dir = temp_dir(), f[PATH_MAX], first[PATH_MAX], next[PATH_MAX], sums[PATH_MAX];
	in_dir(f, sizeof(f), dir, "range.jsonl");
	in_dir(first, sizeof(first), dir, "first.jsonl");
	in_dir(next, sizeof(next), dir, "next.jsonl");
	in_dir(sums, sizeof(sums), dir, "next.jsonl.sha256");
	struct proc_run r;

	/* a time range without events */
	CTL(&r, url, "export", "--format", "jsonl", "--from", "2000-01-01T00:00:00Z", "--to",
	    "2000-01-02T00:00:00Z", "--output", f);
	assert_exit(&r, 0);
	char want[PATH_MAX + 32];
	snprintf(want, sizeof(want), "exported 0 events to %s\n", f);
	ck_assert_str_eq(r.err, want);
	proc_run_free(&r);
	ck_assert_int_eq(file_size(f), 0);

	/* a job with nothing after its watermark: an empty file and its sums */
	CTL(&r, url, "export", "--since-last", "nightly", "--format", "jsonl", "--output", first);
	assert_exit(&r, 0);
	proc_run_free(&r);
	ck_assert_int_gt(file_size(first), 0);
	CTL(&r, url, "export", "--since-last", "nightly", "--format", "jsonl", "--output", next);
	assert_exit(&r, 0);
	proc_run_free(&r);
	ck_assert_int_eq(file_size(next), 0);
	FILE *fp = fopen(sums, "r");
	ck_assert_ptr_nonnull(fp);
	char line[256] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), fp));
	fclose(fp);
	ck_assert_str_eq(line, EMPTY_SHA256 "  next.jsonl\n");
	remove_dir(dir);
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_a_file_that_cannot_be_moved_into_place_leaves_no_tmp_behind)
{
	char *url = database_with_events();
	char *dir = temp_dir(), f[PATH_MAX], tmp[PATH_MAX], inside[PATH_MAX];
	/* --output names a directory that is not empty: rename() cannot
	 * replace it */
	in_dir(f, sizeof(f), dir, "taken");
	in_dir(tmp, sizeof(tmp), dir, "taken.tmp");
	in_dir(inside, sizeof(inside), dir, "taken/keep");
	ck_assert_int_eq(mkdir(f, 0700), 0);
	FILE *fp = fopen(inside, "w");
	ck_assert_ptr_nonnull(fp);
	fclose(fp);

	struct proc_run r;
	CTL(&r, url, "export", "--output", f);
	assert_exit(&r, 1);
	assert_one_line(&r, ERR_PREFIX("export"), "cannot move ");
	ck_assert_msg(strstr(r.err, "taken.tmp into place") != NULL, "stderr: %s", r.err);
	ck_assert(!exists(tmp));
	ck_assert(exists(inside));
	proc_run_free(&r);
	remove_dir(dir);
	testdb_drop(url);
	free(url);
}
END_TEST

START_TEST(test_export_and_audit_verify_exit_3_when_the_database_is_out_of_reach)
{
	/* A port of our own that takes no connections: bound, never
	 * listening, so that a connection is refused at once and nobody else
	 * can start listening there meanwhile. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
	char url[128];
	snprintf(url, sizeof(url), "host=127.0.0.1 port=%d dbname=none user=nobody",
	         ntohs(a.sin_port));
	char *dir = temp_dir(), f[PATH_MAX], g[PATH_MAX];
	in_dir(f, sizeof(f), dir, "plain.csv");
	in_dir(g, sizeof(g), dir, "job.csv");

	struct proc_run r;
	CTL(&r, url, "export", "--output", f);
	assert_exit(&r, 3);
	assert_one_line(&r, ERR_PREFIX("export"), "cannot connect to the database");
	proc_run_free(&r);
	CTL(&r, url, "export", "--format", "jsonl");
	assert_exit(&r, 3);
	ck_assert_str_eq(r.out, "");
	proc_run_free(&r);
	CTL(&r, url, "export", "--since-last", "nightly", "--output", g);
	assert_exit(&r, 3);
	assert_one_line(&r, ERR_PREFIX("export"), "cannot connect to the database");
	proc_run_free(&r);
	CTL(&r, url, "audit", "verify");
	assert_exit(&r, 3);
	assert_one_line(&r, ERR_PREFIX("audit verify"), "cannot connect to the database");
	ck_assert_str_eq(r.out, "");
	proc_run_free(&r);
	ck_assert(!exists(f));
	ck_assert(!exists(g));
	close(s);
	remove_dir(dir);
}
END_TEST

static void setup(void)
{
	ctl_path = test_bin("coolingctl");
}

static Suite *export_rules_suite(void)
{
	Suite *s = suite_create("export_rules");
	TCase *tc = tcase_create("rules");
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc,
	               test_a_run_of_a_job_whose_lock_is_held_waits_then_fails_naming_another_run);
	tcase_add_test(tc,
	               test_a_chain_that_ends_before_the_jobs_watermark_fails_and_writes_nothing);
	tcase_add_test(tc,
	               test_begin_on_a_stale_view_of_the_job_and_commit_of_another_range_are_409);
	tcase_add_test(tc, test_exported_files_are_created_mode_0640);
	tcase_add_test(tc, test_jsonl_with_no_events_is_an_empty_file);
	tcase_add_test(tc, test_a_file_that_cannot_be_moved_into_place_leaves_no_tmp_behind);
	tcase_add_test(tc, test_export_and_audit_verify_exit_3_when_the_database_is_out_of_reach);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(export_rules_suite)

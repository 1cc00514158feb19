/*
 * Upgrades without an outage (CONTRACT.md, "Installing and upgrading like a
 * bank's other services"; docs/upgrading.md). The previous release is the
 * last line of RELEASES ("VERSION COMMIT"); its coolingd and coolingctl are
 * built from that commit (tests/scripts/build_release.sh, cached in the
 * build folder by commit, so that a re-run builds nothing). A clone without
 * that commit fails here, saying so.
 *
 * - RELEASES itself, the schema_release row of every schema version, and
 *   the current coolingd's /readyz as those rows change under it.
 * - The previous release's coolingd on the current schema: /readyz 200,
 *   approvals, acts and payouts as the contract says, and what it wrote
 *   read back by the current coolingd.
 * - A rolling upgrade under load: a database at the previous release's
 *   schema (migrated by its own coolingctl), its coolingd behind a load
 *   balancer that follows /readyz, clients approving and paying out; then
 *   the current `coolingctl migrate`, the current coolingd started, the old
 *   one taken out of rotation and stopped with SIGTERM. No answer is 5xx
 *   but 503 with Retry-After, no moment has no ready daemon, every approval
 *   and payout answered 2xx is in the database. The tallies are printed.
 */
#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "migrations.h"
#include "schema_compat.h"
#include "support/daemon.h"
#include "support/e2e.h"
#include "support/httpc.h"
#include "support/load.h"
#include "support/proc.h"
#include "support/testdb.h"

#define TEST_TIMEOUT_S 1500 /* the previous release's build, when not cached */
#define WAIT_MS        30000

/* ---- the previous release ---- */

static char prev_version[64], prev_commit[64];
static char old_coolingd[4200], old_ctl[4200];
static char releases_problem[4600]; /* why RELEASES does not fit, "" when it does */

/* Reads RELEASES: every line "VERSION COMMIT" (40 hex digits), versions
 * rising, none newer than this build. The last line is the previous
 * release. False, saying why in releases_problem, when it does not fit. */
static bool read_releases(const char *src)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/RELEASES", src);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(releases_problem, sizeof releases_problem, "%s: %s", path,
		         strerror(errno));
		return false;
	}
	char line[256];
	int n = 0;
	struct release_version last = {0};
	while (fgets(line, sizeof line, f) != NULL) {
		n++;
		char version[64], commit[64], rest[8];
		struct release_version v;
		if (sscanf(line, "%63s %63s %7s", version, commit, rest) != 2 ||
		    !release_version_parse(version, &v) || strlen(commit) != 40 ||
		    strspn(commit, "0123456789abcdef") != 40) {
			snprintf(releases_problem, sizeof releases_problem,
			         "RELEASES line %d is not \"VERSION COMMIT\": %s", n, line);
			fclose(f);
			return false;
		}
		if (n > 1 && release_version_cmp(&v, &last) <= 0) {
			snprintf(releases_problem, sizeof releases_problem,
			         "RELEASES line %d: %s is not newer than the line before", n,
			         version);
			fclose(f);
			return false;
		}
		last = v;
		snprintf(prev_version, sizeof prev_version, "%s", version);
		snprintf(prev_commit, sizeof prev_commit, "%s", commit);
	}
	fclose(f);
	struct release_version own;
	if (n == 0)
		snprintf(releases_problem, sizeof releases_problem, "RELEASES names no release");
	else if (!release_version_parse(COOLINGD_VERSION, &own) ||
	         release_version_cmp(&own, &last) < 0)
		snprintf(releases_problem, sizeof releases_problem,
		         "this build's version %s is older than the last release %s",
		         COOLINGD_VERSION, prev_version);
	return releases_problem[0] == '\0';
}

/* Builds (or finds in the cache) the previous release's binaries. */
static bool build_previous(const char *src)
{
	const char *cache = getenv("COOLINGD_RELEASES_CACHE");
	char cmd[8600];
	snprintf(cmd, sizeof cmd, "'%s/tests/scripts/build_release.sh' '%s' '%s' '%s'", src, src,
	         prev_commit, cache && *cache ? cache : "releases");
	long long t0 = test_now_ms();
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return false;
	char dir[4096] = "";
	char buf[4096];
	while (fgets(buf, sizeof buf, p) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		if (buf[0] != '\0')
			snprintf(dir, sizeof dir, "%s", buf);
	}
	int st = pclose(p);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || dir[0] == '\0')
		return false;
	snprintf(old_coolingd, sizeof old_coolingd, "%s/coolingd", dir);
	snprintf(old_ctl, sizeof old_ctl, "%s/coolingctl", dir);
	printf("upgrade: previous release %s (%s), binaries ready in %lld ms\n", prev_version,
	       prev_commit, test_now_ms() - t0);
	fflush(stdout);
	return true;
}

/* The previous release's coolingctl --database url ARGS...: its stdout,
 * trailing newlines stripped (malloc'd); fails the test unless it exits 0. */
static char *old_ctl_ok(const char *url, const char *const *args)
{
	const char *argv[16] = {"coolingctl", "--database", url};
	int n = 3;
	for (; args[n - 3] != NULL; n++) {
		ck_assert_int_lt(n, 15);
		argv[n] = args[n - 3];
	}
	argv[n] = NULL;
	struct proc_run r;
	proc_run(&r, old_ctl, argv, NULL, (const char *const[]){"COOLINGD_DATABASE_URL", NULL});
	ck_assert_msg(r.status == 0, "previous coolingctl %s: exit %d: %s", args[0], r.status,
	              r.err);
	char *out = strdup(r.out);
	proc_run_free(&r);
	size_t len = strlen(out);
	while (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	return out;
}

/* An empty database (no migration) on the test server: its URL, malloc'd. */
static char *empty_database(const char *name)
{
	const char *base = getenv("COOLINGD_TEST_DATABASE_URL");
	ck_assert_msg(base != NULL, "COOLINGD_TEST_DATABASE_URL is not set");
	char db[64], sql[160];
	snprintf(db, sizeof db, "cd_%s_%d", name, (int)getpid());
	PGconn *admin = testdb_connect_quiet(base);
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
	testdb_exec(admin, sql);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
	testdb_exec(admin, sql);
	PQfinish(admin);
	return testdb_url_for(base, db);
}

static long long sql_num(const char *url, const char *sql)
{
	PGconn *c = testdb_connect_quiet(url);
	long long n = testdb_num(c, sql, NULL);
	PQfinish(c);
	return n;
}

/* ---- RELEASES and the previous release's binaries ---- */

START_TEST(test_releases_rise_and_end_at_or_before_this_build)
{
	ck_assert_msg(releases_problem[0] == '\0', "%s", releases_problem);
}
END_TEST

START_TEST(test_previous_release_is_the_version_that_releases_names)
{
	struct proc_run r;
	proc_run(&r, old_coolingd, (const char *const[]){"coolingd", "--version", NULL}, NULL,
	         NULL);
	ck_assert_int_eq(r.status, 0);
	char want[96];
	snprintf(want, sizeof want, "coolingd %s", prev_version);
	size_t n = strlen(want);
	ck_assert_msg(strncmp(r.out, want, n) == 0 && (r.out[n] == ' ' || r.out[n] == '\n'),
	              "%s --version printed: %s", old_coolingd, r.out);
	proc_run_free(&r);
}
END_TEST

/* Every schema version from sql/012 on records the oldest release that can
 * run on it, rising with the version, none above this build. */
START_TEST(test_every_schema_version_records_its_oldest_release)
{
	char *url = testdb_create("upgrade_rows");
	PGconn *c = testdb_connect_quiet(url);
	ck_assert_int_eq(testdb_num(c, "SELECT max(version) FROM schema_migrations", NULL),
	                 DB_SCHEMA_VERSION);
	PGresult *r = PQexec(c, "SELECT m.version, r.min_release FROM schema_migrations m "
	                        "LEFT JOIN schema_release r USING (version) "
	                        "WHERE m.version >= 12 ORDER BY m.version");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	int from_12 = 0; /* the migrations of this build from 012 on */
	for (int i = 0; i < migrations_count; i++)
		from_12 += migrations[i].version >= 12;
	ck_assert_int_eq(PQntuples(r), from_12);
	struct release_version before = {0}, own;
	ck_assert(release_version_parse(COOLINGD_VERSION, &own));
	for (int i = 0; i < PQntuples(r); i++) {
		const char *v = PQgetvalue(r, i, 0);
		ck_assert_msg(!PQgetisnull(r, i, 1), "schema version %s records no min_release", v);
		struct release_version min;
		ck_assert_msg(release_version_parse(PQgetvalue(r, i, 1), &min),
		              "schema version %s: min_release %s", v, PQgetvalue(r, i, 1));
		ck_assert_msg(release_version_cmp(&min, &before) >= 0,
		              "schema version %s lowers min_release", v);
		ck_assert_msg(release_version_cmp(&min, &own) <= 0,
		              "schema version %s needs %s, newer than this build's %s", v,
		              PQgetvalue(r, i, 1), COOLINGD_VERSION);
		before = min;
	}
	PQclear(r);
	PQfinish(c);
	testdb_drop(url);
	free(url);
}
END_TEST

/* /readyz of the current coolingd as the database's records change under
 * it: ready on its schema and on a newer one that allows its release, not
 * ready (503, Retry-After, the reason) on an older one, on one that needs a
 * newer release, or on one that records none. */
static void expect_readyz(const struct e2e_env *env, int status, const char *reason,
                          const char *min_release)
{
	struct http_resp r;
	e2e_call(env, "GET", "/readyz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, status);
	if (status == 503) {
		ck_assert_int_ge(e2e_retry_after(&r), 1);
		E2E_ASSERT_JSTR(r.json, "reason", reason);
		E2E_ASSERT_JSTR(r.json, "release", COOLINGD_VERSION);
		ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "expected")),
		                 DB_SCHEMA_VERSION);
	}
	E2E_ASSERT_JSTR(r.json, "min_release", min_release);
	http_resp_free(&r);
}

START_TEST(test_readyz_follows_the_schema_version_and_its_oldest_release)
{
	struct e2e_env env;
	e2e_start(&env, "upgrade_ready", NULL);
	PGconn *c = testdb_connect_quiet(env.db_url);
	char sql[256], min[32];
	PGresult *r = PQexec(c, "SELECT min_release FROM schema_release "
	                        "ORDER BY version DESC LIMIT 1");
	ck_assert_int_eq(PQntuples(r), 1);
	snprintf(min, sizeof min, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	expect_readyz(&env, 200, NULL, min);

	/* a newer schema, expand: the same oldest release */
	snprintf(sql, sizeof sql,
	         "INSERT INTO schema_migrations (version, name) VALUES (%d, 'expand');"
	         "INSERT INTO schema_release VALUES (%d, '%s')",
	         DB_SCHEMA_VERSION + 1, DB_SCHEMA_VERSION + 1, min);
	testdb_exec(c, sql);
	expect_readyz(&env, 200, NULL, min);
	/* ... contract, past this release */
	snprintf(sql, sizeof sql,
	         "UPDATE schema_release SET min_release = '999.0.0' WHERE version = %d",
	         DB_SCHEMA_VERSION + 1);
	testdb_exec(c, sql);
	expect_readyz(&env, 503, "schema needs a newer release", "999.0.0");
	/* ... without its row */
	snprintf(sql, sizeof sql, "DELETE FROM schema_release WHERE version = %d",
	         DB_SCHEMA_VERSION + 1);
	testdb_exec(c, sql);
	expect_readyz(&env, 503, "schema records no oldest compatible release", NULL);
	/* an older schema than this build's (with the oldest release it
	 * records, none before schema 12; a number may be skipped) */
	char older[32] = "";
	snprintf(sql, sizeof sql,
	         "SELECT min_release FROM schema_release WHERE version = "
	         "(SELECT max(version) FROM schema_migrations WHERE version < %d)",
	         DB_SCHEMA_VERSION);
	r = PQexec(c, sql);
	if (PQntuples(r) == 1)
		snprintf(older, sizeof older, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	snprintf(sql, sizeof sql, "DELETE FROM schema_migrations WHERE version >= %d",
	         DB_SCHEMA_VERSION);
	testdb_exec(c, sql);
	expect_readyz(&env, 503, "schema older than this build's (run coolingctl migrate)",
	              older[0] ? older : NULL);
	PQfinish(c);
	e2e_stop(&env);
}
END_TEST

/* ---- the previous release on the current schema ---- */

static void assert_first_blocker(const struct http_resp *r, const char *want)
{
	json_t *b = json_array_get(e2e_json_at(r->json, "blockers"), 0);
	ck_assert_msg(json_is_string(b) && strcmp(json_string_value(b), want) == 0,
	              "expected the blocker %s first: %s", want, r->body);
}

/* The previous release's answers follow its own OpenAPI document, not this
 * one's (a header or a member added since): they are not recorded for
 * tests/api's check of this build's answers. */
static void do_not_record_answers(void)
{
	unsetenv("COOLINGD_TEST_RECORD_DIR");
}

START_TEST(test_previous_release_serves_approvals_acts_and_payouts_on_the_current_schema)
{
	do_not_record_answers();
	struct e2e_env env = {.db_url = testdb_create("upgrade_cur"), .d = {.pid = -1}};
	e2e_lender_add(&env, "OLD", "bank");
	char *tok = e2e_client_add(&env, "old-core", "lender", "OLD");
	const char *extra[] = {"COOLINGD_POLICY_COOLING_PERIOD=2s", NULL};
	ck_assert(daemon_start_exe(&env.d, old_coolingd, env.db_url, extra));

	struct http_resp r;
	e2e_call(&env, "GET", "/readyz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "schema_version")),
	                 DB_SCHEMA_VERSION);
	http_resp_free(&r);

	/* A first-time borrower's big online loan: consent, visit, cooling, payout. */
	char iin[13];
	e2e_iin(iin, 7301);
	struct e2e_loan big = {
	    .iin = iin, .amount = E2E_BIG_AMOUNT, .first_time = E2E_FIRST_TIME_UNSTATED};
	e2e_approve(&env, tok, "OLD", "OLD-1", &big, &r);
	E2E_ASSERT_JSTR(r.json, "status", "awaiting_consent");
	http_resp_free(&r);
	e2e_act(&env, tok, "OLD", "OLD-1", "disbursement", "{}", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "consent_missing",
	                   "in_person_verification_missing", NULL);
	http_resp_free(&r);
	e2e_consent(&env, tok, "OLD", "OLD-1");
	e2e_act_expect(&env, tok, "OLD", "OLD-1", "in-person-verification",
	               "{\"branch_id\":\"B1\",\"officer_id\":\"O1\"}", 200);
	long long deadline = test_now_ms() + WAIT_MS;
	const char *status = NULL;
	do {
		test_sleep_ms(200);
		e2e_get_loan(&env, tok, "OLD", "OLD-1", &r);
		E2E_ASSERT_STATUS(&r, 200);
		status = e2e_jstr(r.json, "status");
		bool eligible = status != NULL && strcmp(status, "eligible") == 0;
		if (!eligible)
			ck_assert_msg(status != NULL && strcmp(status, "cooling") == 0, "%s",
			              r.body);
		http_resp_free(&r);
		if (eligible)
			break;
	} while (test_now_ms() < deadline);
	e2e_disburse(&env, tok, "OLD", "OLD-1", "pay-old-1", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "decision", "allowed");
	http_resp_free(&r);
	e2e_disburse(&env, tok, "OLD", "OLD-1", "pay-old-1", &r); /* the same call again */
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "decision", "allowed");
	http_resp_free(&r);
	e2e_disburse(&env, tok, "OLD", "OLD-1", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "already_disbursed", NULL);
	http_resp_free(&r);

	/* A cancelled loan is refused. */
	e2e_approve(&env, tok, "OLD", "OLD-2", &(struct e2e_loan){.iin_seed = 7302}, NULL);
	e2e_act(&env, tok, "OLD", "OLD-2", "cancellation", "{\"reason\":\"changed mind\"}", NULL,
	        &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "cancelled");
	http_resp_free(&r);
	e2e_disburse(&env, tok, "OLD", "OLD-2", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	E2E_ASSERT_JSTR(r.json, "decision", "refused");
	assert_first_blocker(&r, "cancelled");
	http_resp_free(&r);
	ck_assert_int_eq(daemon_stop(&env.d), 0);

	/* What it wrote is in the trail, once each, and reads back through
	 * the current coolingd. */
	ck_assert_int_eq(e2e_audit_count(&env, "OLD", "OLD-1", "approval_recorded"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "OLD", "OLD-1", "consent_recorded"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "OLD", "OLD-1", "in_person_verified"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "OLD", "OLD-1", "disbursement_allowed"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "OLD", "OLD-1", "disbursement_refused"), 2);
	ck_assert_int_eq(e2e_audit_count(&env, "OLD", "OLD-2", "cancelled"), 1);
	ck_assert_int_eq(e2e_audit_count(&env, "OLD", "OLD-2", "disbursement_refused"), 1);
	ck_assert(daemon_start(&env.d, env.db_url, extra));
	e2e_get_loan(&env, tok, "OLD", "OLD-1", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "disbursed");
	http_resp_free(&r);
	e2e_get_loan(&env, tok, "OLD", "OLD-2", &r);
	E2E_ASSERT_JSTR(r.json, "status", "cancelled");
	http_resp_free(&r);
	ck_assert_int_eq(daemon_stop(&env.d), 0);
	testdb_drop(env.db_url);
	free(env.db_url);
	free(tok);
}
END_TEST

/* ---- the rolling upgrade: a load balancer that follows /readyz ---- */

#define LOAD_THREADS     3
#define LOANS_PER_THREAD 20000
#define SLOW_MS          5000
#define STEP_2XX         30 /* answers 2xx to see between two steps */
#define POLL_MS          50

struct backend {
	const char *name;
	struct daemon d;
	atomic_bool started;
	atomic_bool in_rotation; /* its /readyz said 200 and it is not drained */
	atomic_bool drained;     /* taken out by the operator: never back */
	_Atomic int inflight;    /* requests sent to it and not yet answered */
	_Atomic long served;     /* its answers 2xx */
	_Atomic long unready;    /* /readyz not 200 while it was in rotation */
};
static struct backend backends[2] = {{.name = "previous"}, {.name = "current"}};

enum { T_SENT, T_2XX, T_503, T_NO_RETRY_AFTER, T_OTHER, T_LOST, T_SLOW, T_NO_BACKEND, T__N };
static const char *const tally_names[T__N] = {"sent",  "2xx",  "503",  "503 without Retry-After",
                                              "other", "lost", "slow", "no ready daemon"};
static _Atomic long tally[T__N];
static atomic_bool stop_load, stop_poll;
static _Atomic unsigned rr;
static char load_token[128];

static void *poll_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_poll)) {
		for (int i = 0; i < 2; i++) {
			struct backend *b = &backends[i];
			if (!atomic_load(&b->started) || atomic_load(&b->drained))
				continue;
			/* an answer, however late on a busy machine: only one that is
			 * not 200 says the backend is not ready */
			bool ready = http_get_status(b->d.port, "/readyz", 30000) == 200;
			if (atomic_load(&b->drained))
				continue;
			if (!ready && atomic_load(&b->in_rotation))
				atomic_fetch_add(&b->unready, 1);
			atomic_store(&b->in_rotation, ready);
		}
		test_sleep_ms(POLL_MS);
	}
	return NULL;
}

/* A backend in rotation with this request counted in its inflight, or NULL.
 * The count goes up before the check, so that once the operator has taken a
 * backend out and seen its inflight at 0, no request can still reach it. */
static struct backend *pick(void)
{
	unsigned start = atomic_fetch_add(&rr, 1);
	for (unsigned k = 0; k < 2; k++) {
		struct backend *b = &backends[(start + k) % 2];
		atomic_fetch_add(&b->inflight, 1);
		if (atomic_load(&b->in_rotation))
			return b;
		atomic_fetch_sub(&b->inflight, 1);
	}
	return NULL;
}

static struct load loads[LOAD_THREADS];

/* Sends one call through the balancer again until it is answered 2xx (every
 * call of coolingd is safe to retry) or the load stops; tallies every
 * answer. */
static bool until_2xx(struct load *l, const char *path, const char *body, const char *headers,
                      struct http_resp *out)
{
	while (!atomic_load(&stop_load)) {
		struct backend *b = pick();
		if (b == NULL) {
			atomic_fetch_add(&tally[T_NO_BACKEND], 1);
			test_sleep_ms(20);
			continue;
		}
		long long t0 = test_now_ms();
		struct http_resp r;
		int rc = http_req(b->d.port, "POST", path, load_token, body, headers, &r);
		atomic_fetch_sub(&b->inflight, 1);
		atomic_fetch_add(&tally[T_SENT], 1);
		if (test_now_ms() - t0 > SLOW_MS)
			atomic_fetch_add(&tally[T_SLOW], 1);
		if (rc != 0) {
			atomic_fetch_add(&tally[T_LOST], 1);
			if (l->other[0] == '\0')
				snprintf(l->other, sizeof l->other,
				         "%s: no answer from the %s daemon", path, b->name);
			test_sleep_ms(20);
			continue;
		}
		if (r.status >= 200 && r.status < 300) {
			atomic_fetch_add(&tally[T_2XX], 1);
			atomic_fetch_add(&b->served, 1);
			*out = r;
			return true;
		}
		if (r.status == 503) {
			atomic_fetch_add(&tally[T_503], 1);
			if (e2e_retry_after(&r) < 1)
				atomic_fetch_add(&tally[T_NO_RETRY_AFTER], 1);
		} else {
			atomic_fetch_add(&tally[T_OTHER], 1);
			if (l->other[0] == '\0')
				snprintf(l->other, sizeof l->other, "%s: %d from the %s daemon: %s",
				         path, r.status, b->name, r.body ? r.body : "");
		}
		http_resp_free(&r);
		test_sleep_ms(20);
	}
	return false;
}

/* Waits until *counter reaches at least want; fails the test at the
 * deadline, naming the step. */
static void wait_count(_Atomic long *counter, long want, const char *step)
{
	long long deadline = test_now_ms() + WAIT_MS;
	while (atomic_load(counter) < want) {
		ck_assert_msg(test_now_ms() < deadline,
		              "%s: %ld of %ld answers 2xx after %d ms (no ready daemon %ld "
		              "times; the previous daemon's /readyz turned non-200 %ld times)",
		              step, atomic_load(counter), want, WAIT_MS,
		              atomic_load(&tally[T_NO_BACKEND]), atomic_load(&backends[0].unready));
		test_sleep_ms(POLL_MS);
	}
}

static void wait_in_rotation(struct backend *b)
{
	long long deadline = test_now_ms() + WAIT_MS;
	while (!atomic_load(&b->in_rotation)) {
		ck_assert_msg(test_now_ms() < deadline, "the %s daemon's /readyz is not 200",
		              b->name);
		test_sleep_ms(POLL_MS);
	}
}

static void step(const char *what)
{
	printf("upgrade: %s (%ld answers 2xx so far)\n", what, atomic_load(&tally[T_2XX]));
	fflush(stdout);
}

/* What the load was answered 2xx for, checked against the database. */
struct acknowledged {
	struct load_acks loans;
	long long twice;          /* loans paid out twice */
	long long schema_version; /* the database's at the end */
};

static struct acknowledged acknowledged_in(const char *url)
{
	struct acknowledged a = {0};
	PGconn *c = testdb_connect_quiet(url);
	a.loans = load_check(c, loads, LOAD_THREADS);
	for (int i = 0; i < LOAD_THREADS; i++)
		free(loads[i].loans);
	a.twice = testdb_num(c,
	                     "SELECT count(*) FROM (SELECT loan_id FROM audit_event "
	                     "WHERE type = 'disbursement_allowed' "
	                     "GROUP BY lender_id, loan_id HAVING count(*) > 1) twice",
	                     NULL);
	a.schema_version = testdb_num(c, "SELECT max(version) FROM schema_migrations", NULL);
	PQfinish(c);
	return a;
}

/* A database as the previous release leaves it: migrated, a lender UP and
 * the load's client (load_token), all by the previous coolingctl. Its URL,
 * malloc'd. */
static char *previous_release_database(void)
{
	char *url = empty_database("upgrade_roll");
	free(old_ctl_ok(url, (const char *const[]){"migrate", NULL}));
	free(old_ctl_ok(url, (const char *const[]){"lender", "add", "UP", "--kind", "bank", NULL}));
	char *tok =
	    old_ctl_ok(url, (const char *const[]){"client", "add", "--name", "up-load", "--role",
	                                          "lender", "--lender", "UP", NULL});
	ck_assert_msg(strncmp(tok, "cdt_", 4) == 0 && strlen(tok) < sizeof load_token, "token: %s",
	              tok);
	snprintf(load_token, sizeof load_token, "%s", tok);
	free(tok);
	return url;
}

START_TEST(test_rolling_upgrade_under_load_answers_no_5xx_but_503_and_loses_nothing)
{
	do_not_record_answers();
	char *url = previous_release_database();
	long long schema_before = sql_num(url, "SELECT max(version) FROM schema_migrations");

	const char *extra[] = {"COOLINGD_SERVER_THREADS=2", "COOLINGD_DATABASE_POOL_SIZE=4", NULL};
	struct backend *old = &backends[0], *cur = &backends[1];
	ck_assert(daemon_start_exe(&old->d, old_coolingd, url, extra));
	atomic_store(&old->started, true);
	pthread_t poller;
	ck_assert_int_eq(pthread_create(&poller, NULL, poll_main, NULL), 0);
	wait_in_rotation(old);
	static const struct load_spec spec = {
	    .lender = "UP", .loans = LOANS_PER_THREAD, .stop = &stop_load, .until_2xx = until_2xx};
	load_start(loads, LOAD_THREADS, &spec);
	wait_count(&tally[T_2XX], STEP_2XX, "the previous release under load");

	step("coolingctl migrate, the previous release serving");
	int rc = -1;
	char *out = run_ctl(url, &rc, "migrate");
	ck_assert_msg(rc == 0, "migrate: exit %d: %s", rc, out ? out : "");
	printf("upgrade: schema %lld -> %lld: %s\n", schema_before,
	       sql_num(url, "SELECT max(version) FROM schema_migrations"), out);
	free(out);
	wait_count(&tally[T_2XX], atomic_load(&tally[T_2XX]) + STEP_2XX,
	           "the previous release on the new schema");
	ck_assert_msg(atomic_load(&old->in_rotation),
	              "the previous release left the rotation after migrate");

	step("the current coolingd started");
	ck_assert(daemon_start(&cur->d, url, extra));
	atomic_store(&cur->started, true);
	wait_in_rotation(cur);
	wait_count(&cur->served, STEP_2XX, "the current release in rotation");

	step("the previous coolingd out of rotation, then SIGTERM");
	atomic_store(&old->drained, true);
	atomic_store(&old->in_rotation, false);
	long long deadline = test_now_ms() + WAIT_MS;
	while (atomic_load(&old->inflight) > 0) {
		ck_assert_msg(test_now_ms() < deadline,
		              "the previous daemon's requests never ended");
		test_sleep_ms(5);
	}
	ck_assert_int_eq(daemon_stop(&old->d), 0);
	wait_count(&cur->served, atomic_load(&cur->served) + STEP_2XX, "the current release alone");

	step("the load stopped");
	load_stop(loads, LOAD_THREADS);
	atomic_store(&stop_poll, true);
	pthread_join(poller, NULL);

	struct acknowledged a = acknowledged_in(url);

	printf("upgrade: tallies:");
	for (int t = 0; t < T__N; t++)
		printf(" %s=%ld", tally_names[t], atomic_load(&tally[t]));
	printf("\nupgrade: answers 2xx from the previous daemon %ld, from the current %ld; "
	       "loans approved %ld, paid out %ld; lost %ld, allowed but unpaid %ld, paid twice "
	       "%lld\n",
	       atomic_load(&old->served), atomic_load(&cur->served), a.loans.approved,
	       a.loans.allowed, a.loans.missing + a.loans.unpaid, a.loans.unpaid, a.twice);
	fflush(stdout);

	ck_assert_int_eq(daemon_stop(&cur->d), 0);
	testdb_drop(url);
	free(url);

	ck_assert_int_eq(a.schema_version, DB_SCHEMA_VERSION);
	ck_assert_int_eq(a.loans.missing, 0);
	ck_assert_int_eq(a.loans.unpaid, 0);
	ck_assert_int_eq(a.twice, 0);
	ck_assert_int_eq(atomic_load(&tally[T_NO_BACKEND]), 0);
	ck_assert_int_eq(atomic_load(&tally[T_LOST]), 0);
	ck_assert_int_eq(atomic_load(&tally[T_OTHER]), 0);
	ck_assert_int_eq(atomic_load(&tally[T_SLOW]), 0);
	ck_assert_int_eq(atomic_load(&tally[T_NO_RETRY_AFTER]), 0);
	ck_assert_int_eq(atomic_load(&old->unready), 0);
	ck_assert_int_eq(atomic_load(&cur->unready), 0);
}
END_TEST

/* ---- the program ---- */

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "upgrade: timed out\n";
	ssize_t n = write(2, msg, sizeof msg - 1);
	(void)n;
	_exit(1);
}

int main(void)
{
	const char *src = getenv("COOLINGD_SOURCE_DIR");
	if (src == NULL || *src == '\0') {
		fprintf(stderr,
		        "upgrade: COOLINGD_SOURCE_DIR is not set (run the tests with ctest)\n");
		return 1;
	}
	signal(SIGALRM, on_alarm);
	alarm(TEST_TIMEOUT_S);
	if (!read_releases(src) && prev_commit[0] == '\0') {
		fprintf(stderr, "upgrade: no previous release to test: %s\n", releases_problem);
		return 1;
	}
	if (!build_previous(src)) {
		fprintf(stderr, "upgrade: the previous release %s (%s) could not be built\n",
		        prev_version, prev_commit);
		return 1;
	}

	Suite *s = suite_create("upgrade");
	TCase *tc = tcase_create("previous release");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_releases_rise_and_end_at_or_before_this_build);
	tcase_add_test(tc, test_previous_release_is_the_version_that_releases_names);
	tcase_add_test(tc, test_every_schema_version_records_its_oldest_release);
	tcase_add_test(tc, test_readyz_follows_the_schema_version_and_its_oldest_release);
	tcase_add_test(
	    tc, test_previous_release_serves_approvals_acts_and_payouts_on_the_current_schema);
	tcase_add_test(tc,
	               test_rolling_upgrade_under_load_answers_no_5xx_but_503_and_loses_nothing);
	suite_add_tcase(s, tc);
	/* One process for the daemons, the load and the tests (no fork): the
	 * daemons die with the thread that started them. */
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

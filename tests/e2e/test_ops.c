/*
 * End-to-end tests of running coolingd (CONTRACT.md, "Names" and "Config
 * keys"): --version and --check-config, configuration errors that name the
 * key (from the file and from the environment), the environment beating the
 * file, SIGTERM answering the requests in flight before exit 0, SIGHUP
 * reloading policy.* from the file, and the logs: one access line per
 * request, no full IIN and no token anywhere in them.
 */
#include "check_main.h"
#include "db.h"
#include "support/e2e.h"
#include "support/rawhttp.h"
#include "support/testdb.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static struct e2e_env env;
static char *tok1; /* core1, lender BANK1 */

static void setup(void)
{
	static const char *const extra[] = {"COOLINGD_POLICY_COOLING_PERIOD=2s", NULL};
	e2e_start(&env, "ops", extra);
	e2e_lender_add(&env, "BANK1", "bank");
	tok1 = e2e_client_add(&env, "core1", "lender", "BANK1");
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok1);
}

/* ---- processes ---- */

static const char *bin(const char *name)
{
	static _Thread_local char path[4096];
	const char *dir = getenv("COOLINGD_BIN_DIR");
	ck_assert_msg(dir && *dir, "COOLINGD_BIN_DIR is not set");
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

/* Our environment without configuration variables, plus extra ("K=V",
 * NULL-terminated, may be NULL); free the array only. */
static char **child_env(const char *const *extra)
{
	size_t n = 0, k = 0;
	for (char **e = environ; *e; e++)
		n++;
	for (const char *const *e = extra; e && *e; e++)
		n++;
	char **out = calloc(n + 3, sizeof *out);
	ck_assert_ptr_nonnull(out);
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "COOLINGD_SERVER_", 16) && strncmp(*e, "COOLINGD_DATABASE_", 18) &&
		    strncmp(*e, "COOLINGD_POLICY_", 16) && strncmp(*e, "COOLINGD_LOG_", 13) &&
		    strncmp(*e, "COOLINGD_METRICS_", 17))
			out[k++] = *e;
	/* The tests cool for seconds, below the legal minimum: lifted unless
	 * extra says otherwise. */
	static const char lift[] = "COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM=";
	/* and no metrics listener, whose default port every daemon would want */
	static const char metrics[] = "COOLINGD_METRICS_LISTEN=";
	bool lift_given = false, metrics_given = false;
	for (const char *const *e = extra; e && *e; e++) {
		out[k++] = (char *)*e;
		lift_given |= strncmp(*e, lift, sizeof lift - 1) == 0;
		metrics_given |= strncmp(*e, metrics, sizeof metrics - 1) == 0;
	}
	if (!lift_given)
		out[k++] = (char *)"COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM=true";
	if (!metrics_given)
		out[k++] = (char *)metrics;
	out[k] = NULL;
	return out;
}

/* fork + exec with stdout/stderr on the given descriptors; dies with us. */
static pid_t spawn(const char *const *argv, const char *const *extra_env, int out_fd, int err_fd)
{
	char **envp = child_env(extra_env);
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int null_fd = open("/dev/null", O_RDONLY);
		if (null_fd >= 0)
			dup2(null_fd, STDIN_FILENO);
		dup2(out_fd, STDOUT_FILENO);
		dup2(err_fd, STDERR_FILENO);
		execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	free(envp);
	ck_assert_msg(pid > 0, "fork: %s", strerror(errno));
	return pid;
}

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

/* Waits up to timeout_ms for pid; its exit code, or -1 after killing it. */
static int wait_exit(pid_t pid, long timeout_ms)
{
	long long deadline = test_now_ms() + timeout_ms;
	int status;
	while (test_now_ms() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return exit_code_of(status);
		if (r < 0 && errno != EINTR)
			return -1;
		test_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

struct run_result {
	int code; /* exit code; -1 when it had to be killed after 30 s */
	char out[16384];
	char err[16384];
};

static void drain_into(int fd, char *buf, size_t size, size_t *len, bool *open_)
{
	ssize_t r = read(fd, buf + *len, size - 1 - *len);
	if (r <= 0 || *len + (size_t)r >= size - 1)
		*open_ = false;
	if (r > 0)
		*len += (size_t)r;
	buf[*len] = '\0';
}

/* Runs coolingd ARGS... (NULL-terminated) with extra_env; waits at most 30 s. */
static void run_coolingd(struct run_result *res, const char *const *extra_env, ...)
{
	const char *argv[16] = {bin("coolingd")};
	va_list ap;
	va_start(ap, extra_env);
	for (size_t i = 1; i < 15 && (argv[i] = va_arg(ap, const char *)) != NULL; i++)
		;
	va_end(ap);
	argv[15] = NULL;
	int o[2], e[2];
	ck_assert(pipe2(o, O_CLOEXEC) == 0 && pipe2(e, O_CLOEXEC) == 0);
	pid_t pid = spawn(argv, extra_env, o[1], e[1]);
	close(o[1]);
	close(e[1]);
	size_t ol = 0, el = 0;
	bool oo = true, eo = true;
	res->out[0] = res->err[0] = '\0';
	long long deadline = test_now_ms() + 30000;
	while ((oo || eo) && test_now_ms() < deadline) {
		struct pollfd p[2] = {{.fd = oo ? o[0] : -1, .events = POLLIN},
		                      {.fd = eo ? e[0] : -1, .events = POLLIN}};
		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents)
			drain_into(o[0], res->out, sizeof res->out, &ol, &oo);
		if (p[1].revents)
			drain_into(e[0], res->err, sizeof res->err, &el, &eo);
	}
	close(o[0]);
	close(e[0]);
	res->code = wait_exit(pid, deadline - test_now_ms() + 100);
}

/* A fresh directory under $TMPDIR for a config file and a log. */
static void make_dir(char *out, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(out, size, "%s/coolingd-ops-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp: %s", strerror(errno));
}

static void write_file(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void write_file(const char *path, const char *fmt, ...)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	FILE *f = fopen(tmp, "w");
	ck_assert_msg(f != NULL, "%s: %s", tmp, strerror(errno));
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0); /* the daemon never reads half a file */
}

static int count_substr(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/*
 * Starts coolingd -c conf with extra_env only (no listen or database
 * defaults), its output in dir/coolingd.log, and waits up to 30 s for
 * /healthz on port. d works with daemon_stop() and daemon_kill9().
 */
static bool start_with_config(struct daemon *d, const char *dir, const char *conf, int port,
                              const char *const *extra_env)
{
	memset(d, 0, sizeof *d);
	d->pid = -1;
	d->port = port;
	snprintf(d->log_path, sizeof d->log_path, "%s/coolingd.log", dir);
	int fd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	const char *argv[] = {bin("coolingd"), "-c", conf, NULL};
	d->pid = spawn(argv, extra_env, fd, fd);
	close(fd);
	long long deadline = test_now_ms() + 30000;
	while (test_now_ms() < deadline) {
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = -1;
			daemon_dump_log(d);
			return false;
		}
		if (http_get_status(port, "/healthz", 1000) == 200)
			return true;
		test_sleep_ms(50);
	}
	daemon_kill9(d);
	daemon_dump_log(d);
	return false;
}

/* ---- version and configuration ---- */

/* The value that --check-config printed for key ("key = value" lines), or
 * "" when the key is not there. */
static const char *printed_value(const char *out, const char *key)
{
	static _Thread_local char value[256];
	value[0] = '\0';
	const char *p = strstr(out, key);
	if (p && strncmp(p + strlen(key), " = ", 3) == 0)
		snprintf(value, sizeof value, "%.*s", (int)strcspn(p + strlen(key) + 3, "\n"),
		         p + strlen(key) + 3);
	return value;
}

/* "coolingd VERSION schema A-B": the schema it was built for and the newest
 * it knows, which for one build are the same (docs/upgrading.md). */
START_TEST(test_version_prints_the_version_and_schema_range_and_exits_0)
{
	struct run_result r;
	run_coolingd(&r, NULL, "--version", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	char want[96];
	snprintf(want, sizeof want, "coolingd %s schema %d-%d\n", COOLINGD_VERSION,
	         DB_SCHEMA_VERSION, DB_SCHEMA_VERSION);
	ck_assert_str_eq(r.out, want);
}
END_TEST

START_TEST(test_check_config_prints_effective_config_and_ok_and_exits_0)
{
	char dir[256], conf[300];
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	write_file(conf, "[server]\nlisten = 127.0.0.1:18181\n"
	                 "[database]\nurl = postgresql://svc:s3cr3t-pw@db.invalid/coolingd\n"
	                 "[policy]\ncooling_period = 5m\n"
	                 "[log]\nlevel = warn\n");
	struct run_result r;
	run_coolingd(&r, NULL, "-c", conf, "--check-config", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s %s", r.code, r.out, r.err);
	ck_assert_msg(strstr(r.out, "configuration OK"), "no 'configuration OK': %s", r.out);
	/* The file's values are the effective ones; the rest are defaults. */
	ck_assert_msg(strstr(r.out, "127.0.0.1:18181"), "listen not shown: %s", r.out);
	const char *cp = printed_value(r.out, "policy.cooling_period");
	ck_assert_msg(strcmp(cp, "300s") == 0 || strcmp(cp, "5m") == 0,
	              "cooling_period not 5 minutes: %s", r.out);
	ck_assert_msg(strstr(r.out, "pool_size"), "defaults not shown: %s", r.out);
	/* The database password is never printed. */
	ck_assert_msg(!strstr(r.out, "s3cr3t-pw") && !strstr(r.err, "s3cr3t-pw"),
	              "password printed: %s", r.out);
}
END_TEST

START_TEST(test_check_config_shows_the_profiles_values_when_not_overridden)
{
	char dir[256], conf[300];
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/empty.conf", dir);
	write_file(conf, "%s", "");
	struct run_result r;
	run_coolingd(&r, NULL, "-c", conf, "--check-config", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	const char *cp = printed_value(r.out, "policy.cooling_period");
	ck_assert_msg(strcmp(cp, "86400s") == 0 || strcmp(cp, "24h") == 0 || strcmp(cp, "1d") == 0,
	              "policy.cooling_period printed as \"%s\", not the kz-card 24 hours", cp);
	const char *th = printed_value(r.out, "policy.threshold_mrp");
	ck_assert_msg(strcmp(th, "150") == 0, "policy.threshold_mrp printed as \"%s\", not 150",
	              th);
}
END_TEST

START_TEST(test_missing_config_file_given_with_c_is_an_error)
{
	struct run_result r;
	run_coolingd(&r, NULL, "-c", "/nonexistent/coolingd.conf", "--check-config", NULL);
	ck_assert_msg(r.code != 0 && r.code != -1, "exit %d for a missing file: %s", r.code, r.out);
	ck_assert_msg(strstr(r.err, "/nonexistent/coolingd.conf"), "file not named: %s", r.err);
}
END_TEST

START_TEST(test_bad_value_in_env_stops_with_message_naming_the_key)
{
	static const char *const bad[][2] = {
	    {"COOLINGD_POLICY_COOLING_PERIOD=abc", "policy.cooling_period"},
	    {"COOLINGD_POLICY_COOLING_PERIOD=-5s", "policy.cooling_period"},
	    {"COOLINGD_SERVER_LISTEN=localhost", "server.listen"},
	    {"COOLINGD_SERVER_REQUEST_TIMEOUT=soon", "server.request_timeout"},
	    {"COOLINGD_DATABASE_POOL_SIZE=many", "database.pool_size"},
	    {"COOLINGD_POLICY_THRESHOLD_MRP=1.5", "policy.threshold_mrp"},
	    {"COOLINGD_LOG_LEVEL=loud", "log.level"},
	    {"COOLINGD_LOG_FORMAT=xml", "log.format"},
	};
	char dir[256], conf[300];
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/empty.conf", dir);
	write_file(conf, "%s", "");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *extra[] = {bad[i][0], NULL};
		struct run_result r;
		run_coolingd(&r, extra, "-c", conf, "--check-config", NULL);
		ck_assert_msg(r.code != 0 && r.code != -1, "%s: exit %d", bad[i][0], r.code);
		ck_assert_msg(strstr(r.err, bad[i][1]), "%s: message does not name %s: %s",
		              bad[i][0], bad[i][1], r.err);
	}
	/* Not only --check-config: the daemon itself refuses to start. */
	const char *extra[] = {"COOLINGD_POLICY_COOLING_PERIOD=abc", NULL};
	struct run_result r;
	run_coolingd(&r, extra, "-c", conf, NULL);
	ck_assert_msg(r.code != 0 && r.code != -1, "coolingd started with a bad value: exit %d",
	              r.code);
	ck_assert_msg(strstr(r.err, "policy.cooling_period"), "key not named: %s", r.err);
}
END_TEST

START_TEST(test_bad_value_in_file_stops_with_message_naming_the_key)
{
	static const char *const bad[][2] = {
	    {"[policy]\ncooling_period = 5 hours\n", "policy.cooling_period"},
	    {"[policy]\nprofile = nowhere\n", "policy.profile"},
	    {"[policy]\ncolling_period = 2s\n", "policy.colling_period"},
	    {"[server]\nlisten = 127.0.0.1:99999\n", "server.listen"},
	    {"[server]\nmax_body_bytes = lots\n", "server.max_body_bytes"},
	    {"[log]\nlevel = verbose\n", "log.level"},
	};
	char dir[256], conf[300];
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/bad.conf", dir);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(conf, "%s", bad[i][0]);
		struct run_result r;
		run_coolingd(&r, NULL, "-c", conf, "--check-config", NULL);
		ck_assert_msg(r.code != 0 && r.code != -1, "%s: exit %d", bad[i][0], r.code);
		ck_assert_msg(strstr(r.err, bad[i][1]), "'%s': message does not name %s: %s",
		              bad[i][0], bad[i][1], r.err);
		ck_assert_msg(!strstr(r.out, "configuration OK"), "'%s': said OK", bad[i][0]);
	}
}
END_TEST

START_TEST(test_env_beats_file_for_listen_database_and_policy)
{
	char dir[256], conf[300], listen_kv[64], db_kv[1100];
	int file_port = daemon_free_port(), env_port = daemon_free_port();
	ck_assert(file_port > 0 && env_port > 0);
	ck_assert_int_ne(file_port, env_port);
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	write_file(conf,
	           "[server]\nlisten = 127.0.0.1:%d\n"
	           "[database]\nurl = postgresql:///no_such_db?host=/nonexistent\n"
	           "[policy]\ncooling_period = 5m\n",
	           file_port);
	snprintf(listen_kv, sizeof listen_kv, "COOLINGD_SERVER_LISTEN=127.0.0.1:%d", env_port);
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s", env.db_url);
	const char *extra[] = {listen_kv, db_kv, "COOLINGD_POLICY_COOLING_PERIOD=3s", NULL};

	struct run_result r;
	run_coolingd(&r, extra, "-c", conf, "--check-config", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	char want[64];
	snprintf(want, sizeof want, "127.0.0.1:%d", env_port);
	ck_assert_msg(strstr(r.out, want), "env listen not in force: %s", r.out);
	const char *cp = printed_value(r.out, "policy.cooling_period");
	ck_assert_msg(strcmp(cp, "3s") == 0, "env cooling_period not in force: %s", r.out);

	struct daemon d;
	ck_assert_msg(start_with_config(&d, dir, conf, env_port, extra),
	              "coolingd did not answer on the env's port");
	ck_assert_int_eq(http_get_status(env_port, "/readyz", 30000), 200); /* env's database */
	ck_assert_int_eq(http_get_status(file_port, "/healthz", 1000), -1);
	struct http_resp a;
	char iin[13], body[512];
	e2e_iin(iin, 300);
	snprintf(body, sizeof body,
	         "{\"loan_id\":\"ENV-1\",\"borrower_iin\":\"%s\",\"amount\":\"1000000.00\","
	         "\"currency\":\"KZT\",\"channel\":\"online\",\"secured\":false,"
	         "\"first_time_borrower\":false}",
	         iin);
	ck_assert_int_eq(
	    http_req(env_port, "POST", "/v1/lenders/BANK1/loans", tok1, body, NULL, &a), 0);
	E2E_ASSERT_STATUS(&a, 201);
	ck_assert_int_eq(json_integer_value(e2e_json_at(a.json, "cooling_period_seconds")), 3);
	http_resp_free(&a);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- signals ---- */

struct inflight {
	pthread_t th;
	int port;
	const char *method;
	char path[160];
	const char *body;
	int rc; /* http_req(): 0 = a complete answer */
	int status;
	int retry_after; /* -1 when none */
	char decision[16];
};

static void *inflight_main(void *arg)
{
	struct inflight *f = arg;
	struct http_resp r;
	f->rc = http_req(f->port, f->method, f->path, tok1, f->body, NULL, &r);
	if (f->rc == 0) {
		f->status = r.status;
		f->retry_after = e2e_retry_after(&r);
		const char *d = e2e_jstr(r.json, "decision");
		snprintf(f->decision, sizeof f->decision, "%s", d ? d : "");
		http_resp_free(&r);
	}
	return NULL;
}

/* Backends of our database waiting for a lock. */
static int lock_waiters(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
	                        "current_database() AND wait_event_type = 'Lock'");
	int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
	PQclear(r);
	return n;
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* Holds every loan in a transaction of c's. The clock's advisory lock
 * (cd_time_events, sql/013) first: the daemon's time events, which would
 * otherwise wait on the loans when a period ends during the hold and count
 * as a held request, then return at once without touching them. */
static void hold_loans(PGconn *c)
{
	exec_ok(c, "BEGIN");
	PGresult *r = PQexec(c, "SELECT pg_advisory_xact_lock(7301126013)");
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "the clock's lock: %s",
	              PQerrorMessage(c));
	PQclear(r);
	exec_ok(c, "LOCK TABLE loan IN ACCESS EXCLUSIVE MODE");
}

/* An approved loan with consent at the coolingd on port (not read back). */
static void eligible_loan(int port, const char *loan_id, unsigned seed)
{
	struct e2e_env at = e2e_env_on(&env, port);
	e2e_approve(&at, tok1, "BANK1", loan_id, &(struct e2e_loan){.iin_seed = seed}, NULL);
	e2e_consent(&at, tok1, "BANK1", loan_id);
}

/*
 * A coolingd for holding requests in the database while it stops: one
 * worker, so that every connection of the test meets the same pool and the
 * same drain; its metrics listener on *mport, for the pool's queue; no
 * sealer, whose statements would count with the requests; and
 * request_timeout (start_for_holding: far above what a loaded machine needs
 * to set the scene) and, unless NULL, database.health_timeout. Returns once
 * every connection of the pool is up, so that a request goes to the
 * database or to the queue at once and stays there.
 */
static void start_for_holding_with(struct daemon *d, int *mport, const char *request_timeout,
                                   const char *health_timeout)
{
	*mport = daemon_free_port();
	ck_assert(*mport > 0);
	char metrics_kv[64], timeout_kv[64], health_kv[64];
	snprintf(metrics_kv, sizeof metrics_kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", *mport);
	snprintf(timeout_kv, sizeof timeout_kv, "COOLINGD_SERVER_REQUEST_TIMEOUT=%s",
	         request_timeout);
	snprintf(health_kv, sizeof health_kv, "COOLINGD_DATABASE_HEALTH_TIMEOUT=%s",
	         health_timeout ? health_timeout : "");
	const char *extra[] = {
	    metrics_kv, "COOLINGD_SERVER_THREADS=1",       "COOLINGD_AUDIT_SEAL=off",
	    timeout_kv, health_timeout ? health_kv : NULL, NULL};
	ck_assert(daemon_start(d, env.db_url, extra));
	long long deadline = test_now_ms() + 30000;
	while (e2e_metric(*mport, "coolingd_db_pool_connections{state=\"connecting\"}") +
	           e2e_metric(*mport, "coolingd_db_pool_connections{state=\"down\"}") >
	       0) {
		ck_assert_msg(test_now_ms() < deadline, "the pool's connections never came up");
		test_sleep_ms(20);
	}
}

static void start_for_holding(struct daemon *d, int *mport)
{
	start_for_holding_with(d, mport, "120s", NULL);
}

/* Requests held while c holds the loans: each waiting backend runs one
 * (start_held() keeps them out of batches), and the rest wait in the pool's
 * queue. */
static int held_requests(PGconn *c, int mport)
{
	return lock_waiters(c) + (int)e2e_metric(mport, "coolingd_db_queue_length");
}

/*
 * Sends f's request (from a thread of its own) and waits until the pool
 * holds it, the held_before-th held one. Sent one at a time, each request
 * either starts at once, alone, or waits in the queue behind the
 * PGPOOL_KIND_PARALLEL statements of its kind, which do not end while the
 * loans are locked: no batch forms, so that every held request is counted.
 */
static void start_held(struct inflight *f, PGconn *c, int mport, int held_before)
{
	ck_assert_int_eq(pthread_create(&f->th, NULL, inflight_main, f), 0);
	long long deadline = test_now_ms() + 30000;
	int n;
	while ((n = held_requests(c, mport)) != held_before + 1) {
		ck_assert_msg(test_now_ms() < deadline,
		              "%s %s never reached the database or the pool's queue (%d held, "
		              "want %d)",
		              f->method, f->path, n, held_before + 1);
		test_sleep_ms(5);
	}
}

/* A kept-alive HTTP/1.1 connection to 127.0.0.1:port; -1 on failure. */
static int ka_connect(int port)
{
	return rawhttp_connect(NULL, port);
}

static bool ka_send(int fd, const char *path)
{
	char req[512];
	int n = snprintf(req, sizeof req,
	                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
	                 path, tok1);
	return rawhttp_send(fd, req, (size_t)n);
}

/* Reads one response (head and Content-Length body) within timeout_ms into
 * buf; its status, or 0 when none came. */
static int ka_read(int fd, char *buf, size_t size, long timeout_ms)
{
	struct rawhttp_answer a;
	rawhttp_read(fd, (int)timeout_ms, true, &a);
	int st = rawhttp_complete(&a) ? rawhttp_status(a.data) : 0;
	snprintf(buf, size, "%s", a.data);
	rawhttp_free(&a);
	return st;
}

/* A kept-alive connection that has had its first answer (so the worker
 * holds it). */
static int ka_open(int port)
{
	char buf[8192];
	int fd = ka_connect(port);
	ck_assert_int_ge(fd, 0);
	ck_assert(ka_send(fd, "/healthz"));
	ck_assert_int_eq(ka_read(fd, buf, sizeof buf, 30000), 200);
	return fd;
}

/* Asks GET /healthz on the kept-alive connection fd until it is answered
 * 503: the worker drains. Until then it answers 200 and keeps the
 * connection; after the 503 it closes it. */
static void await_draining(int fd)
{
	char buf[8192];
	long long deadline = test_now_ms() + 30000;
	for (;;) {
		ck_assert(ka_send(fd, "/healthz"));
		int st = ka_read(fd, buf, sizeof buf, 30000);
		if (st == 503)
			break;
		ck_assert_msg(st == 200, "GET /healthz after SIGTERM: %d: %s", st, buf);
		ck_assert_msg(test_now_ms() < deadline, "coolingd never began to drain");
		test_sleep_ms(20);
	}
	close(fd);
}

START_TEST(test_sigterm_answers_requests_in_flight_then_exits_0)
{
	enum { N = 20 };
	struct daemon d;
	int mport;
	start_for_holding(&d, &mport);
	for (int i = 0; i < N / 2; i++) {
		char id[32];
		snprintf(id, sizeof id, "TERM-%d", i);
		eligible_loan(d.port, id, 400 + (unsigned)i);
	}
	int probe = ka_open(d.port), later = ka_open(d.port);

	/* Hold the loans so that every request stays in flight. */
	PGconn *c = testdb_connect(env.db_url);
	hold_loans(c);
	static struct inflight f[N];
	for (int i = 0; i < N; i++) {
		memset(&f[i], 0, sizeof f[i]);
		f[i].port = d.port;
		f[i].rc = -2;
		if (i % 2) {
			f[i].method = "GET";
			snprintf(f[i].path, sizeof f[i].path, "/v1/lenders/BANK1/loans/TERM-%d",
			         i / 2);
		} else {
			f[i].method = "POST";
			f[i].body = "{}";
			snprintf(f[i].path, sizeof f[i].path,
			         "/v1/lenders/BANK1/loans/TERM-%d/disbursement", i / 2);
		}
		start_held(&f[i], c, mport, i);
	}

	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	/* No new work is taken on while draining (the probe is answered 503),
	 * and coolingd stays for the requests it holds: a second on, five
	 * times the moment it gives its last answers before it exits, it is
	 * there and its worker still answers. */
	await_draining(probe);
	test_sleep_ms(1000);
	ck_assert_msg(waitpid(d.pid, NULL, WNOHANG) == 0, "coolingd exited with requests held");
	char buf[8192];
	ck_assert(ka_send(later, "/healthz"));
	ck_assert_msg(ka_read(later, buf, sizeof buf, 30000) == 503,
	              "a request while draining with requests held: %s", buf);
	close(later);

	exec_ok(c, "COMMIT");
	PQfinish(c);
	for (int i = 0; i < N; i++)
		pthread_join(f[i].th, NULL);
	int code = wait_exit(d.pid, 30000);
	d.pid = -1;
	for (int i = 0; i < N; i++) {
		ck_assert_msg(f[i].rc == 0, "%s %s: no complete answer", f[i].method, f[i].path);
		ck_assert_msg(f[i].status == 200, "%s %s: %d", f[i].method, f[i].path, f[i].status);
		if (i % 2 == 0)
			ck_assert_str_eq(f[i].decision, "allowed");
	}
	ck_assert_msg(code == 0, "coolingd exit status %d after SIGTERM", code);
	ck_assert_int_eq(http_get_status(d.port, "/healthz", 500), -1);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM loan WHERE loan_id LIKE 'TERM-%' AND "
	                             "disbursed_at IS NOT NULL",
	                             NULL),
	                 N / 2);
}
END_TEST

START_TEST(test_request_on_a_kept_alive_connection_while_draining_gets_503_with_retry_after)
{
	enum { HELD = 8, KA = 6 };
	struct daemon d;
	int mport;
	start_for_holding(&d, &mport);
	eligible_loan(d.port, "KA-0", 450);

	int probe = ka_open(d.port), ka[KA];
	for (int i = 0; i < KA; i++)
		ka[i] = ka_open(d.port);

	/* Requests held in the database keep the worker draining. */
	PGconn *c = testdb_connect(env.db_url);
	hold_loans(c);
	static struct inflight f[HELD];
	for (int i = 0; i < HELD; i++) {
		memset(&f[i], 0, sizeof f[i]);
		f[i].port = d.port;
		f[i].rc = -2;
		f[i].method = "GET";
		snprintf(f[i].path, sizeof f[i].path, "/v1/lenders/BANK1/loans/KA-0");
		start_held(&f[i], c, mport, i);
	}
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	await_draining(probe);

	for (int i = 0; i < KA; i++)
		ck_assert(ka_send(ka[i], "/v1/lenders/BANK1/loans/KA-0"));
	char buf[8192];
	for (int i = 0; i < KA; i++) {
		int st = ka_read(ka[i], buf, sizeof buf, 30000);
		close(ka[i]);
		ck_assert_msg(st == 503 && strstr(buf, "\"unavailable\"") &&
		                  strcasestr(buf, "\r\nRetry-After:"),
		              "a request while draining must get 503 unavailable with "
		              "Retry-After: %s",
		              buf);
	}
	exec_ok(c, "COMMIT");
	PQfinish(c);
	for (int i = 0; i < HELD; i++)
		pthread_join(f[i].th, NULL);
	int code = wait_exit(d.pid, 30000);
	d.pid = -1;
	for (int i = 0; i < HELD; i++)
		ck_assert_msg(f[i].rc == 0 && f[i].status == 200, "held request: rc %d status %d",
		              f[i].rc, f[i].status);
	ck_assert_int_eq(code, 0);
}
END_TEST

/* The backends of our database waiting for a lock: their pids, at most max. */
static int lock_waiter_pids(PGconn *c, pid_t *pids, int max)
{
	PGresult *r = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE datname = "
	                        "current_database() AND wait_event_type = 'Lock'");
	int n = 0;
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		for (int i = 0; i < PQntuples(r) && n < max; i++)
			pids[n++] = (pid_t)atoi(PQgetvalue(r, i, 0));
	PQclear(r);
	return n;
}

/*
 * A request may wait on the database longer than the drain allows
 * (request_timeout + 2 s): when the drain times out, each request still
 * waiting gets its one answer, 503 with Retry-After, and coolingd exits 0,
 * touching no freed memory and leaking nothing (under the ASan build a
 * sanitizer report aborts it: a non-zero exit). A lock alone would not do:
 * the statement_timeout (request_timeout) ends a lock wait before the drain
 * times out; so the backends waiting on the lock are stopped (SIGSTOP),
 * as a database that no longer answers, until coolingd has exited. The
 * pool gives up on such a statement at statement_timeout +
 * health_timeout: set far above the drain, so that the drain ends first.
 */
START_TEST(test_a_drain_that_times_out_answers_each_request_still_waiting_then_exits_0)
{
	/* two requests of one kind: as many as run at once
	 * (PGPOOL_KIND_PARALLEL) wait on the lock, the rest in the pool's
	 * queue; the drain answers both kinds */
	enum { HELD = 2, REQUEST_TIMEOUT_S = 4 };
	struct daemon d;
	int mport;
	char timeout[16];
	snprintf(timeout, sizeof timeout, "%ds", REQUEST_TIMEOUT_S);
	start_for_holding_with(&d, &mport, timeout, "600s");

	PGconn *c = testdb_connect(env.db_url);
	hold_loans(c);
	static struct inflight f[HELD];
	for (int i = 0; i < HELD; i++) {
		memset(&f[i], 0, sizeof f[i]);
		f[i].port = d.port;
		f[i].rc = -2;
		f[i].method = "GET";
		snprintf(f[i].path, sizeof f[i].path, "/v1/lenders/BANK1/loans/DRAIN-%d", i);
		start_held(&f[i], c, mport, i);
	}
	pid_t pids[HELD + 1];
	int waiting = lock_waiter_pids(c, pids, HELD + 1);
	ck_assert_int_ge(waiting, 1);
	ck_assert_int_eq(waiting + (int)e2e_metric(mport, "coolingd_db_queue_length"), HELD);

	/* No assertion until the backends run again: a failed one would leave
	 * them stopped, holding their locks, for the tests after this one. */
	int stopped = 0, stop_errno = 0;
	for (; stopped < waiting; stopped++)
		if (kill(pids[stopped], SIGSTOP) != 0) {
			stop_errno = errno;
			break;
		}
	int term = stopped == waiting ? kill(d.pid, SIGTERM) : -1;
	int code = term == 0 ? wait_exit(d.pid, (REQUEST_TIMEOUT_S + 2) * 1000 + 30000) : -1;
	for (int i = 0; i < stopped; i++)
		kill(pids[i], SIGCONT);
	if (term != 0)
		daemon_stop(&d);
	d.pid = -1;
	exec_ok(c, "COMMIT");
	PQfinish(c);
	for (int i = 0; i < HELD; i++)
		pthread_join(f[i].th, NULL);

	ck_assert_msg(stopped == waiting, "SIGSTOP to a backend: %s", strerror(stop_errno));
	ck_assert_msg(e2e_file_has_line(d.log_path, "drain timed out", NULL),
	              "the drain did not time out: nothing was left to answer at its end");
	char *report = e2e_log_sanitizer_report(d.log_path);
	if (report != NULL)
		daemon_dump_log(&d);
	ck_assert_msg(report == NULL, "a sanitizer report: %s", report);
	ck_assert_msg(code == 0, "coolingd exit status %d after a drain that timed out", code);
	for (int i = 0; i < HELD; i++)
		ck_assert_msg(f[i].rc == 0 && f[i].status == 503 && f[i].retry_after >= 1,
		              "a request still waiting when the drain timed out: rc %d, status %d, "
		              "Retry-After %d",
		              f[i].rc, f[i].status, f[i].retry_after);
}
END_TEST

/* The cooling period of a new cooled online loan at the coolingd on port. */
static int approve_period(int port, const char *loan_id, unsigned seed)
{
	struct e2e_env at = e2e_env_on(&env, port);
	struct http_resp r;
	e2e_approve(&at, tok1, "BANK1", loan_id,
	            &(struct e2e_loan){.iin_seed = seed, .amount = E2E_BIG_AMOUNT}, &r);
	int s = (int)json_integer_value(e2e_json_at(r.json, "cooling_period_seconds"));
	http_resp_free(&r);
	return s;
}

/* The cooling period of a recorded loan, read from the coolingd on port. */
static int loan_period(int port, const char *loan_id)
{
	struct e2e_env at = e2e_env_on(&env, port);
	struct http_resp r;
	e2e_get_loan(&at, tok1, "BANK1", loan_id, &r);
	E2E_ASSERT_STATUS(&r, 200);
	int s = (int)json_integer_value(e2e_json_at(r.json, "cooling_period_seconds"));
	http_resp_free(&r);
	return s;
}

/* Sends SIGHUP and waits (at most 30 s) until the log has grown by a line
 * holding `marker`. */
static void sighup_and_wait(const struct daemon *d, const char *marker)
{
	char *before = e2e_read_file(d->log_path, NULL);
	ck_assert_ptr_nonnull(before);
	int n = count_substr(before, marker);
	free(before);
	ck_assert_int_eq(kill(d->pid, SIGHUP), 0);
	long long deadline = test_now_ms() + 30000;
	for (;;) {
		char *log = e2e_read_file(d->log_path, NULL);
		ck_assert_ptr_nonnull(log);
		int m = count_substr(log, marker);
		free(log);
		if (m > n)
			return;
		ck_assert_msg(test_now_ms() < deadline, "no \"%s\" in the log after SIGHUP",
		              marker);
		test_sleep_ms(50);
	}
}

START_TEST(test_sighup_reloads_cooling_period_for_new_approvals)
{
	char dir[256], conf[300], db_kv[1100];
	int port = daemon_free_port(), other = daemon_free_port();
	ck_assert(port > 0 && other > 0);
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s", env.db_url);
	const char *extra[] = {db_kv, NULL};
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\ncooling_period = 2s\n", port);
	struct daemon d;
	ck_assert(start_with_config(&d, dir, conf, port, extra));
	ck_assert_int_eq(approve_period(port, "HUP-1", 500), 2);

	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\ncooling_period = 4s\n", port);
	sighup_and_wait(&d, "configuration reloaded");
	ck_assert_int_eq(approve_period(port, "HUP-2", 501), 4);
	ck_assert_int_eq(loan_period(port, "HUP-1"), 2); /* a recorded loan keeps its period */

	/* A bad file is refused, naming the key; the running policy stays. */
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\ncooling_period = abc\n", port);
	sighup_and_wait(&d, "policy.cooling_period");
	ck_assert_int_eq(http_get_status(port, "/healthz", 2000), 200);
	ck_assert_int_eq(approve_period(port, "HUP-3", 502), 4);

	/* server.* changes only at restart: still on the old port. */
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\ncooling_period = 4s\n", other);
	sighup_and_wait(&d, "configuration reloaded");
	ck_assert_int_eq(http_get_status(port, "/healthz", 2000), 200);
	ck_assert_int_eq(http_get_status(other, "/healthz", 500), -1);
	ck_assert_msg(
	    e2e_file_has_line(d.log_path, "these keys change only at restart", "server.listen"),
	    "the reload did not say that server.listen waits for a restart");
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- guards on the configuration ---- */

#define NO_LIFT "COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM=false"

START_TEST(test_start_is_refused_for_settings_that_switch_the_gate_off)
{
	static const char *const bad[][2] = {
	    {"[policy]\ncooling_period = 0s\n", "policy.cooling_period"},
	    {"[policy]\ncooling_period = 2s\n", "policy.cooling_period"},
	    {"[policy]\nmax_backdate = 2d\n", "policy.max_backdate"},
	    {"[policy]\ntimezone = Mars/Phobos\n", "policy.timezone"},
	};
	char dir[256], conf[300], db_kv[1100];
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s", env.db_url);
	char listen_kv[64];
	int port = daemon_free_port();
	ck_assert(port > 0);
	snprintf(listen_kv, sizeof listen_kv, "COOLINGD_SERVER_LISTEN=127.0.0.1:%d", port);
	const char *extra[] = {db_kv, listen_kv, NO_LIFT, NULL};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(conf, "%s", bad[i][0]);
		struct run_result r;
		run_coolingd(&r, extra, "-c", conf, NULL); /* the daemon itself */
		ck_assert_msg(r.code != 0 && r.code != -1, "%s: started (exit %d)", bad[i][0],
		              r.code);
		ck_assert_msg(strstr(r.err, bad[i][1]), "%s: message does not name %s: %s",
		              bad[i][0], bad[i][1], r.err);
	}
	/* a misspelt variable, as a misspelt key in the file is */
	write_file(conf, "%s", "");
	const char *typo[] = {db_kv, listen_kv, "COOLINGD_POLICY_COOLINGPERIOD=2m", NULL};
	struct run_result r;
	run_coolingd(&r, typo, "-c", conf, NULL);
	ck_assert_msg(r.code != 0 && r.code != -1, "started with a misspelt variable");
	ck_assert_msg(strstr(r.err, "COOLINGD_POLICY_COOLINGPERIOD"), "variable not named: %s",
	              r.err);
	/* variables of the build and the tests (COOLINGD_BIN_DIR, ...) are no keys */
	ck_assert_ptr_nonnull(getenv("COOLINGD_BIN_DIR"));
	run_coolingd(&r, extra, "-c", conf, "--check-config", NULL);
	ck_assert_msg(r.code == 0, "legal defaults refused: %s", r.err);
}
END_TEST

static int count_in_file(const char *path, const char *needle)
{
	char *log = e2e_read_file(path, NULL);
	ck_assert_ptr_nonnull(log);
	int n = count_substr(log, needle);
	free(log);
	return n;
}

START_TEST(test_the_lift_is_warned_about_at_start_and_at_every_reload)
{
	static const char warning[] = "policy.allow_below_legal_minimum is on";
	char dir[256], conf[300], db_kv[1100];
	int port = daemon_free_port();
	ck_assert(port > 0);
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s", env.db_url);
	const char *extra[] = {db_kv, NULL};
	write_file(conf,
	           "[server]\nlisten = 127.0.0.1:%d\n"
	           "[policy]\ncooling_period = 0s\nmax_backdate = 2d\n"
	           "allow_below_legal_minimum = true\n",
	           port);
	struct daemon d;
	ck_assert(start_with_config(&d, dir, conf, port, extra));
	ck_assert_int_eq(count_in_file(d.log_path, warning), 1);
	sighup_and_wait(&d, "configuration reloaded");
	ck_assert_int_eq(count_in_file(d.log_path, warning), 2);
	sighup_and_wait(&d, "configuration reloaded");
	ck_assert_int_eq(count_in_file(d.log_path, warning), 3);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(test_a_reload_that_breaks_a_guard_keeps_the_running_configuration)
{
	char dir[256], conf[300], db_kv[1100];
	int port = daemon_free_port();
	ck_assert(port > 0);
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s", env.db_url);
	const char *extra[] = {db_kv, NO_LIFT, NULL};
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\nmax_backdate = 1h\n", port);
	struct daemon d;
	ck_assert(start_with_config(&d, dir, conf, port, extra));
	ck_assert_int_eq(approve_period(port, "GUARD-1", 610), 86400);

	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\nmax_backdate = 2d\n", port);
	sighup_and_wait(&d, "policy.max_backdate");
	ck_assert(e2e_file_has_line(d.log_path, "reload failed", "policy.max_backdate"));
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\ncooling_period = 0s\n", port);
	sighup_and_wait(&d, "policy.cooling_period");
	ck_assert(e2e_file_has_line(d.log_path, "reload failed", "policy.cooling_period"));

	/* still 24 h, and still no approval backdated beyond 1 h */
	ck_assert_int_eq(approve_period(port, "GUARD-2", 611), 86400);
	char iin[13], at[40], body[512];
	e2e_iin(iin, 612);
	e2e_ts_from_now(at, -25 * 3600);
	snprintf(body, sizeof body,
	         "{\"loan_id\":\"GUARD-3\",\"borrower_iin\":\"%s\",\"amount\":\"700000.00\","
	         "\"currency\":\"KZT\",\"channel\":\"online\",\"secured\":false,"
	         "\"first_time_borrower\":false,\"approved_at\":\"%s\",\"consent_at\":\"%s\"}",
	         iin, at, at);
	struct http_resp r;
	ck_assert_int_eq(http_req(port, "POST", "/v1/lenders/BANK1/loans", tok1, body, NULL, &r),
	                 0);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "approved_at");
	http_resp_free(&r);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* Copies src to dst (a zone file into a zone directory of the test's). */
static void copy_file(const char *src, const char *dst)
{
	size_t len = 0;
	char *data = e2e_read_file(src, &len);
	ck_assert_ptr_nonnull(data);
	FILE *f = fopen(dst, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	free(data);
}

START_TEST(test_a_time_zone_the_database_does_not_know_is_503_never_500)
{
	/* A zone directory (TZDIR) that has Mars/Phobos, which the daemon's
	 * system check accepts and the database does not know. */
	char dir[256], conf[300], db_kv[1100], tzdir[300], mars[320], phobos[340], tz_kv[340];
	int port = daemon_free_port();
	ck_assert(port > 0);
	make_dir(dir, sizeof dir);
	snprintf(tzdir, sizeof tzdir, "%s/zoneinfo", dir);
	snprintf(mars, sizeof mars, "%s/Mars", tzdir);
	snprintf(phobos, sizeof phobos, "%s/Phobos", mars);
	ck_assert_int_eq(mkdir(tzdir, 0700), 0);
	ck_assert_int_eq(mkdir(mars, 0700), 0);
	copy_file("/usr/share/zoneinfo/Asia/Almaty", phobos);
	char asia[320], almaty[340];
	snprintf(asia, sizeof asia, "%s/Asia", tzdir);
	snprintf(almaty, sizeof almaty, "%s/Almaty", asia);
	ck_assert_int_eq(mkdir(asia, 0700), 0);
	copy_file("/usr/share/zoneinfo/Asia/Almaty", almaty);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s", env.db_url);
	snprintf(tz_kv, sizeof tz_kv, "TZDIR=%s", tzdir);
	const char *extra[] = {db_kv, tz_kv, NULL};
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\ntimezone = Mars/Phobos\n",
	           port);
	struct daemon d;
	ck_assert(start_with_config(&d, dir, conf, port, extra));

	struct http_resp r;
	ck_assert_int_eq(http_req(port, "GET", "/readyz", NULL, NULL, NULL, &r), 0);
	E2E_ASSERT_STATUS(&r, 503);
	ck_assert_ptr_nonnull(
	    strstr(json_string_value(e2e_json_at(r.json, "reason")), "policy.timezone"));
	http_resp_free(&r);

	char iin[13], body[512];
	e2e_iin(iin, 620);
	snprintf(body, sizeof body,
	         "{\"loan_id\":\"TZ-1\",\"borrower_iin\":\"%s\",\"amount\":\"700000.00\","
	         "\"currency\":\"KZT\",\"channel\":\"online\",\"secured\":false}",
	         iin);
	for (int i = 0; i < 2; i++) { /* the first authenticates in the same statement */
		ck_assert_int_eq(
		    http_req(port, "POST", "/v1/lenders/BANK1/loans", tok1, body, NULL, &r), 0);
		E2E_ASSERT_ERROR(&r, 503, "unavailable", NULL);
		http_resp_free(&r);
	}
	ck_assert_int_eq(
	    e2e_sql_num(&env, "SELECT count(*) FROM loan WHERE loan_id = 'TZ-1'", NULL), 0);
	ck_assert(e2e_file_has_line(
	    d.log_path, "policy.timezone is not a time zone of the database", "Mars/Phobos"));
	ck_assert(!e2e_file_has_line(d.log_path, "database error", "approval_context"));

	/* fixed and reloaded: ready, and the approval goes through */
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\ntimezone = Asia/Almaty\n",
	           port);
	sighup_and_wait(&d, "configuration reloaded");
	ck_assert_int_eq(http_get_status(port, "/readyz", 30000), 200);
	ck_assert_int_eq(http_req(port, "POST", "/v1/lenders/BANK1/loans", tok1, body, NULL, &r),
	                 0);
	E2E_ASSERT_STATUS(&r, 201);
	http_resp_free(&r);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* Access lines of requests for path. */
static int path_lines(const char *log_path, const char *path)
{
	char *log = e2e_read_file(log_path, NULL);
	ck_assert_ptr_nonnull(log);
	char needle[160];
	snprintf(needle, sizeof needle, "\"path\":\"%s\"", path);
	int n = count_substr(log, needle);
	free(log);
	return n;
}

/* Waits (at most 30 s) until the log holds want access lines of path: a
 * request's line is written just after its answer is sent. */
static void await_path_lines(const char *log_path, const char *path, int want)
{
	long long deadline = test_now_ms() + 30000;
	int n;
	while ((n = path_lines(log_path, path)) < want) {
		ck_assert_msg(test_now_ms() < deadline, "%d access lines of %s, want %d", n, path,
		              want);
		test_sleep_ms(20);
	}
	ck_assert_msg(n == want, "%d access lines of %s, want %d", n, path, want);
}

START_TEST(test_sighup_reloads_log_level)
{
	char dir[256], conf[300], db_kv[1100];
	int port = daemon_free_port();
	ck_assert(port > 0);
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s", env.db_url);
	const char *extra[] = {db_kv, NULL};
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[log]\nlevel = info\n", port);
	struct daemon d;
	ck_assert(start_with_config(&d, dir, conf, port, extra));

	/* warn: access lines (info) stop; the reload itself is then not logged,
	 * so wait until a new approval shows the new cooling period. */
	write_file(conf,
	           "[server]\nlisten = 127.0.0.1:%d\n[log]\nlevel = warn\n"
	           "[policy]\ncooling_period = 5s\n",
	           port);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	long long deadline = test_now_ms() + 30000;
	for (int i = 0;; i++) {
		char id[32];
		snprintf(id, sizeof id, "LVL-W%d", i);
		if (approve_period(port, id, 520 + (unsigned)i) == 5)
			break;
		ck_assert_msg(test_now_ms() < deadline, "the reload never took effect");
		test_sleep_ms(50);
	}
	/* /healthz while at warn, /readyz after the reload to info: once the
	 * /readyz lines are in, a /healthz line would be too */
	int healthz = path_lines(d.log_path, "/healthz"),
	    readyz = path_lines(d.log_path, "/readyz");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(http_get_status(port, "/healthz", 30000), 200);

	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[log]\nlevel = info\n", port);
	sighup_and_wait(&d, "configuration reloaded");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(http_get_status(port, "/readyz", 30000), 200);
	await_path_lines(d.log_path, "/readyz", readyz + 3);
	ck_assert_msg(path_lines(d.log_path, "/healthz") == healthz,
	              "requests answered at level warn were logged");
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(test_env_still_beats_file_after_sighup)
{
	char dir[256], conf[300], db_kv[1100];
	int port = daemon_free_port();
	ck_assert(port > 0);
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s", env.db_url);
	const char *extra[] = {db_kv, "COOLINGD_POLICY_COOLING_PERIOD=3s", NULL};
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\ncooling_period = 5m\n", port);
	struct daemon d;
	ck_assert(start_with_config(&d, dir, conf, port, extra));
	ck_assert_int_eq(approve_period(port, "HUPENV-1", 510), 3);
	write_file(conf, "[server]\nlisten = 127.0.0.1:%d\n[policy]\ncooling_period = 7m\n", port);
	sighup_and_wait(&d, "configuration reloaded");
	ck_assert_int_eq(approve_period(port, "HUPENV-2", 511), 3);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- logs ---- */

/* The daemon of these tests connects as the server's superuser: it says so,
 * once, however many connections its workers open. */
START_TEST(test_superuser_connection_is_warned_about_once)
{
	/* the warning comes with the first connection, which the fixture's
	 * calls have made by now */
	size_t len = 0;
	char *log = e2e_read_file(env.d.log_path, &len);
	ck_assert_ptr_nonnull(log);
	int n = count_substr(log, "connected to the database as a superuser");
	free(log);
	ck_assert_int_eq(n, 1);
}
END_TEST

/* The access lines of LOGLINE-0 and LOGLINE-1 answered 404, and of either
 * answered 401, each checked for its status, duration and method. */
static void logline_counts(int lines[2], int *unauth)
{
	char *log = e2e_read_file(env.d.log_path, NULL);
	ck_assert_ptr_nonnull(log);
	lines[0] = lines[1] = *unauth = 0;
	/* only whole lines: the daemon may be writing the last one */
	char *end = strrchr(log, '\n');
	*(end ? end + 1 : log) = '\0';
	for (char *save = NULL, *line = strtok_r(log, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		ck_assert_msg(j != NULL, "log line is not JSON: %s", line);
		const char *msg = e2e_jstr(j, "msg"), *p = e2e_jstr(j, "path");
		if (msg && strcmp(msg, "request") == 0 && p && strstr(p, "/LOGLINE-")) {
			int which = p[strlen(p) - 1] - '0';
			json_t *st = e2e_json_at(j, "status"), *dur = e2e_json_at(j, "duration_ms");
			long status = json_is_integer(st)  ? (long)json_integer_value(st)
			              : json_is_string(st) ? atol(json_string_value(st))
			                                   : 0;
			ck_assert_msg(status == 404 || status == 401, "status in %s", line);
			ck_assert_msg(
			    json_is_number(dur) ||
			        (json_is_string(dur) && strtod(json_string_value(dur), NULL) >= 0),
			    "duration_ms in %s", line);
			ck_assert_msg(e2e_jstr(j, "method") &&
			                  !strcmp(e2e_jstr(j, "method"), "GET"),
			              "method in %s", line);
			if (status == 401)
				(*unauth)++;
			else
				lines[which]++;
		}
		json_decref(j);
	}
	free(log);
}

START_TEST(test_every_request_gets_one_access_log_line_with_status_and_duration)
{
	char path[128];
	for (int i = 0; i < 5; i++) {
		struct http_resp r;
		snprintf(path, sizeof path, "/v1/lenders/BANK1/loans/LOGLINE-%d", i % 2);
		e2e_call(&env, "GET", path, tok1, NULL, NULL, &r);
		E2E_ASSERT_ERROR(&r, 404, "not_found", NULL);
		http_resp_free(&r);
	}
	struct http_resp r;
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/LOGLINE-0", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 401);
	http_resp_free(&r);
	/* the lines are written just after the answers are sent */
	int lines[2], unauth;
	for (long long deadline = test_now_ms() + 30000;; test_sleep_ms(20)) {
		logline_counts(lines, &unauth);
		if (lines[0] + lines[1] + unauth >= 6 || test_now_ms() >= deadline)
			break;
	}
	ck_assert_int_eq(lines[0], 3);
	ck_assert_int_eq(lines[1], 2);
	ck_assert_int_eq(unauth, 1);
}
END_TEST

/* Access-log lines ("msg":"request") with that status. */
static int access_lines(const char *log_path, int status)
{
	char *log = e2e_read_file(log_path, NULL);
	ck_assert_ptr_nonnull(log);
	int n = 0;
	for (char *save = NULL, *line = strtok_r(log, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *msg = e2e_jstr(j, "msg");
		json_t *st = e2e_json_at(j, "status");
		long v = json_is_integer(st)  ? (long)json_integer_value(st)
		         : json_is_string(st) ? atol(json_string_value(st))
		                              : 0;
		if (msg && strcmp(msg, "request") == 0 && v == status)
			n++;
		json_decref(j);
	}
	free(log);
	return n;
}

START_TEST(test_unserved_methods_get_a_json_405_and_a_log_line_and_huge_bodies_a_413)
{
	/* A body far over max_body_bytes, and a method nobody serves. */
	size_t big = 4u << 20;
	char *body = malloc(big + 1);
	ck_assert_ptr_nonnull(body);
	memset(body, ' ', big);
	body[big] = '\0';
	int before413 = access_lines(env.d.log_path, 413);
	struct http_resp r;
	int rc = http_req(env.d.port, "POST", "/v1/lenders/BANK1/loans", tok1, body, NULL, &r);
	free(body);
	ck_assert_msg(rc == 0, "no answer to a 4 MiB body");
	E2E_ASSERT_STATUS(&r, 413);
	http_resp_free(&r);

	char *raw = NULL;
	const char trace[] = "TRACE /v1/lenders/BANK1/loans HTTP/1.1\r\nHost: x\r\n"
	                     "Connection: close\r\n\r\n";
	ck_assert_int_ge(http_raw(env.d.port, trace, sizeof trace - 1, &raw, 3000), 0);
	int trace_status = strncmp(raw, "HTTP/1.", 7) == 0 ? atoi(raw + 9) : 0;
	bool json_body = strstr(raw, "\"method_not_allowed\"") != NULL;
	free(raw);
	/* Every method reaches the router, which answers in JSON and logs it. */
	ck_assert_msg(trace_status == 405, "TRACE answered %d", trace_status);
	ck_assert_msg(json_body, "TRACE's 405 is not the contract's JSON error");
	for (long long deadline = test_now_ms() + 30000; access_lines(env.d.log_path, 405) < 1;
	     test_sleep_ms(20))
		ck_assert_msg(test_now_ms() < deadline, "no access-log line for TRACE's 405");
	/* A body over the HTTP layer's hard cap (4 x max_body_bytes, at least
	 * 1 MiB) is refused by libevent before routing (docs/api.md): the client
	 * still reads a 413, but no access-log line is written for it. */
	(void)before413;
}
END_TEST

START_TEST(test_log_never_holds_a_full_iin_or_a_token)
{
	/* The server trusts local connections, so a password in the URL is
	 * harmless to the connection and must still never be logged. */
	char db_kv[1100];
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s%cpassword=db-pw-s3cr3t", env.db_url,
	         strchr(env.db_url, '?') ? '&' : '?');
	const char *const debug_env[] = {"COOLINGD_LOG_LEVEL=debug", db_kv, NULL};
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, debug_env));
	char *tok = e2e_client_add(&env, "core-log", "lender", "BANK1");
	char iin[13], bad_iin[13], path[200], body[512], auth[300];
	struct http_resp r;
	e2e_iin(iin, 600);
	snprintf(bad_iin, sizeof bad_iin, "%.11s%c", iin, iin[11] == '9' ? '0' : iin[11] + 1);

	/* The IIN in a body, accepted and refused. */
	const char *iins[] = {iin, bad_iin};
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof body,
		         "{\"loan_id\":\"LOG-%d\",\"borrower_iin\":\"%s\",\"amount\":\"1000.00\","
		         "\"currency\":\"KZT\",\"channel\":\"online\",\"secured\":false}",
		         i, iins[i]);
		ck_assert_int_eq(
		    http_req(d.port, "POST", "/v1/lenders/BANK1/loans", tok, body, NULL, &r), 0);
		E2E_ASSERT_STATUS(&r, i == 0 ? 201 : 422);
		http_resp_free(&r);
	}
	/* The IIN in a path and a query. */
	snprintf(path, sizeof path, "/v1/borrowers/%s/loans?iin=%s", iin, iin);
	ck_assert_int_eq(http_req(d.port, "GET", path, tok, NULL, NULL, &r), 0);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	snprintf(path, sizeof path, "/v1/borrowers/%s/loans", bad_iin);
	ck_assert_int_eq(http_req(d.port, "GET", path, tok, NULL, NULL, &r), 0);
	http_resp_free(&r);
	/* The token, good, mangled and in the wrong scheme. */
	snprintf(auth, sizeof auth, "%sX", tok);
	ck_assert_int_eq(
	    http_req(d.port, "GET", "/v1/lenders/BANK1/loans/LOG-0", auth, NULL, NULL, &r), 0);
	E2E_ASSERT_STATUS(&r, 401);
	http_resp_free(&r);
	snprintf(auth, sizeof auth, "Authorization: Basic %s\r\n", tok);
	ck_assert_int_eq(
	    http_req(d.port, "GET", "/v1/lenders/BANK1/loans/LOG-0", NULL, NULL, auth, &r), 0);
	E2E_ASSERT_STATUS(&r, 401);
	http_resp_free(&r);
	snprintf(path, sizeof path, "/v1/lenders/BANK1/loans/LOG-0?token=%s", tok);
	ck_assert_int_eq(http_req(d.port, "GET", path, tok, NULL, NULL, &r), 0);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	ck_assert_int_eq(daemon_stop(&d), 0);

	char *log = e2e_read_file(d.log_path, NULL);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(!strstr(log, iin), "the log holds the IIN %s", iin);
	ck_assert_msg(!strstr(log, bad_iin), "the log holds the IIN %s", bad_iin);
	ck_assert_msg(!strstr(log, tok), "the log holds a bearer token");
	ck_assert_msg(!strstr(log, "db-pw-s3cr3t"), "the log holds the database password");
	const char *secret = strrchr(tok, '_');
	ck_assert_msg(secret && !strstr(log, secret + 1), "the log holds a token's secret");
	char masked[13];
	snprintf(masked, sizeof masked, "%.4s******%.2s", iin, iin + 10);
	ck_assert_msg(strstr(log, masked), "the borrower path is not logged masked as %s", masked);
	free(log);
	free(tok);
}
END_TEST

START_TEST(test_a_second_daemon_on_the_same_port_is_refused_and_the_first_serves_every_request)
{
	/* the first, with the real period */
	const char *const first_env[] = {"COOLINGD_POLICY_COOLING_PERIOD=1h", NULL};
	struct daemon first;
	ck_assert(daemon_start(&first, env.db_url, first_env));
	/* a stray one with a 2 s period on the same address */
	char listen_kv[64], db_kv[1100], dir[256], conf[300];
	snprintf(listen_kv, sizeof listen_kv, "COOLINGD_SERVER_LISTEN=127.0.0.1:%d", first.port);
	snprintf(db_kv, sizeof db_kv, "COOLINGD_DATABASE_URL=%s", env.db_url);
	make_dir(dir, sizeof dir);
	snprintf(conf, sizeof conf, "%s/empty.conf", dir);
	write_file(conf, "%s", "");
	const char *const stray_env[] = {listen_kv, db_kv, "COOLINGD_POLICY_COOLING_PERIOD=2s",
	                                 "COOLINGD_SERVER_THREADS=2", NULL};
	struct run_result r;
	run_coolingd(&r, stray_env, "-c", conf, NULL);
	ck_assert_msg(r.code != 0 && r.code != -1, "the second daemon started (exit %d): %s",
	              r.code, r.err);
	ck_assert_msg(strcasestr(r.err, "address already in use"), "no reason given: %s", r.err);
	ck_assert_msg(strstr(r.err, "server.listen"), "the key is not named: %s", r.err);
	/* every connection reaches the first */
	for (int i = 0; i < 20; i++) {
		char id[32];
		snprintf(id, sizeof id, "PORT-%d", i);
		ck_assert_int_eq(approve_period(first.port, id, 700 + (unsigned)i), 3600);
	}
	ck_assert_int_eq(daemon_stop(&first), 0);
}
END_TEST

START_TEST(test_log_masks_every_run_of_12_or_more_digits_in_paths)
{
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, NULL));
	char iin[13], path[256];
	e2e_iin(iin, 610);
	struct http_resp r;
	/* one digit too many; an IIN inside a longer loan id; percent-encoded */
	for (int i = 0; i < 4; i++) {
		if (i == 0)
			snprintf(path, sizeof path, "/v1/borrowers/%s0/loans", iin);
		else if (i == 1)
			snprintf(path, sizeof path, "/v1/lenders/BANK1/loans/L%s7", iin);
		else if (i == 2)
			snprintf(path, sizeof path, "/v1/lenders/BANK1/loans/X-%s-Y", iin);
		else /* the first digit percent-encoded */
			snprintf(path, sizeof path, "/v1/borrowers/%%3%c%s/loans", iin[0], iin + 1);
		ck_assert_int_eq(http_req(d.port, "GET", path, tok1, NULL, NULL, &r), 0);
		http_resp_free(&r);
	}
	ck_assert_int_eq(daemon_stop(&d), 0);
	char *log = e2e_read_file(d.log_path, NULL);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(e2e_file_has_line(d.log_path, "\"path\":\"/v1/borrowers/", NULL),
	              "no access line for the borrower paths");
	/* no 6 digits of the IIN in a row anywhere, in any of the paths */
	for (int k = 0; k + 6 <= 12; k++) {
		char part[7];
		memcpy(part, iin + k, 6);
		part[6] = '\0';
		ck_assert_msg(!strstr(log, part), "the log holds %s of the IIN %s", part, iin);
	}
	ck_assert_msg(strstr(log, "/v1/borrowers/*************/loans"),
	              "13 digits are not masked whole");
	free(log);
}
END_TEST

START_TEST(test_openapi_yaml_is_served_without_a_token_as_the_document_in_docs)
{
	const char *src = getenv("COOLINGD_SOURCE_DIR");
	ck_assert_ptr_nonnull(src);
	char path[1024];
	snprintf(path, sizeof(path), "%s/docs/openapi.yaml", src);
	size_t len = 0;
	char *want = e2e_read_file(path, &len);
	ck_assert_ptr_nonnull(want);

	struct http_resp r;
	e2e_call(&env, "GET", "/openapi.yaml", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_str_eq(http_header(&r, "Content-Type"), "application/yaml; charset=utf-8");
	ck_assert_msg(r.body_len == len && memcmp(r.body, want, len) == 0,
	              "GET /openapi.yaml is not docs/openapi.yaml (%zu bytes, want %zu)",
	              r.body_len, len);
	char etag[128];
	snprintf(etag, sizeof(etag), "%s", http_header(&r, "ETag"));
	ck_assert_msg(etag[0] == '"', "ETag: %s", etag);
	http_resp_free(&r);

	/* revalidation: the same ETag is a 304 without a body */
	char hdr[192];
	snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", etag);
	e2e_call(&env, "GET", "/openapi.yaml", NULL, NULL, hdr, &r);
	E2E_ASSERT_STATUS(&r, 304);
	ck_assert_uint_eq(r.body_len, 0);
	http_resp_free(&r);
	free(want);
}
END_TEST

static Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *tc = tcase_create("ops");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_version_prints_the_version_and_schema_range_and_exits_0);
	tcase_add_test(tc, test_openapi_yaml_is_served_without_a_token_as_the_document_in_docs);
	tcase_add_test(tc, test_check_config_prints_effective_config_and_ok_and_exits_0);
	tcase_add_test(tc, test_check_config_shows_the_profiles_values_when_not_overridden);
	tcase_add_test(tc, test_missing_config_file_given_with_c_is_an_error);
	tcase_add_test(tc, test_bad_value_in_env_stops_with_message_naming_the_key);
	tcase_add_test(tc, test_bad_value_in_file_stops_with_message_naming_the_key);
	tcase_add_test(tc, test_env_beats_file_for_listen_database_and_policy);
	tcase_add_test(tc, test_sigterm_answers_requests_in_flight_then_exits_0);
	tcase_add_test(
	    tc, test_request_on_a_kept_alive_connection_while_draining_gets_503_with_retry_after);
	tcase_add_test(tc,
	               test_a_drain_that_times_out_answers_each_request_still_waiting_then_exits_0);
	tcase_add_test(tc, test_sighup_reloads_cooling_period_for_new_approvals);
	tcase_add_test(tc, test_sighup_reloads_log_level);
	tcase_add_test(tc, test_start_is_refused_for_settings_that_switch_the_gate_off);
	tcase_add_test(tc, test_the_lift_is_warned_about_at_start_and_at_every_reload);
	tcase_add_test(tc, test_a_reload_that_breaks_a_guard_keeps_the_running_configuration);
	tcase_add_test(tc, test_a_time_zone_the_database_does_not_know_is_503_never_500);
	tcase_add_test(tc, test_env_still_beats_file_after_sighup);
	tcase_add_test(tc, test_every_request_gets_one_access_log_line_with_status_and_duration);
	tcase_add_test(tc, test_superuser_connection_is_warned_about_once);
	tcase_add_test(tc,
	               test_unserved_methods_get_a_json_405_and_a_log_line_and_huge_bodies_a_413);
	tcase_add_test(tc, test_log_never_holds_a_full_iin_or_a_token);
	tcase_add_test(
	    tc,
	    test_a_second_daemon_on_the_same_port_is_refused_and_the_first_serves_every_request);
	tcase_add_test(tc, test_log_masks_every_run_of_12_or_more_digits_in_paths);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(ops_suite)

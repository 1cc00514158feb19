/*
 * Failover under load: a pg_auto_failover formation on loopback (a monitor
 * and two nodes with synchronous replication, tests/ha/formation.sh),
 * coolingd on the url that docs/ha.md recommends (every node,
 * target_session_attrs=read-write, connect_timeout=2: no session options)
 * with its default timeouts, and six threads that record loans and pay them
 * out while the primary node is killed (SIGKILL of its pg_autoctl and
 * postmaster), the standby is promoted, and the old primary comes back as a
 * standby; then the same the other way.
 *
 * Afterwards: every approval and every "allowed" that coolingd answered 2xx
 * is on the new primary, no loan was paid twice, every failed call was a 503
 * with Retry-After (never a 500, a hang or a dropped connection), and within
 * 2 s of the new primary's first committed write (as a client of its own
 * sees it) /readyz answered 200 and a write through coolingd was
 * acknowledged. The tallies and times are printed.
 *
 * COOLINGD_HA_ROUNDS (default 2: one failover each way) runs more rounds.
 */
#include <check.h>
#include <libpq-fe.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/daemon.h"
#include "support/e2e.h"
#include "support/httpc.h"
#include "support/load.h"

#define LOAD_THREADS     6
#define LOANS_PER_THREAD 100000
/* From the new primary's first committed write to /readyz 200 and to the
 * first acknowledged write: measured at 20-150 ms on a loaded 2-core
 * machine, so the bound has room for a slow scheduler. */
#define SERVE_WITHIN_MS 2000
#define SLOW_MS         5000 /* an answer slower than this counts as a hang */

static char fdir[128];
static char script[512];
static char url[640]; /* coolingd's: target_session_attrs=read-write */
static char hosts[2][32];
static struct e2e_env env;
static char *token;

/* ---- the formation ---- */

/* Runs formation.sh with CMD and ARG (may be NULL); its stdout's last line
 * goes to out (when not NULL). The exit status. */
static int formation(const char *cmd, const char *arg, char *out, size_t size)
{
	char line[1024];
	snprintf(line, sizeof(line), "'%s' %s '%s' %s", script, cmd, fdir, arg ? arg : "");
	FILE *f = popen(line, "r");
	if (f == NULL)
		return -1;
	char buf[1024];
	if (out != NULL)
		out[0] = '\0';
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (out != NULL) {
			buf[strcspn(buf, "\n")] = '\0';
			size_t n = strlen(buf);
			if (n > 0 && size > 0) { /* the last non-empty line, cut to fit */
				n = n < size - 1 ? n : size - 1;
				memcpy(out, buf, n);
				out[n] = '\0';
			}
		}
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void formation_down(void)
{
	if (fdir[0] != '\0')
		formation("stop", NULL, NULL, 0);
}

/* One direct write on whichever node is primary, as a client of its own
 * would make it: true when it committed with no warning (a commit that
 * waited for a synchronous standby and was cancelled warns). The probe
 * bounds its own statement (SET, 1 s) so that it cannot hang on a commit
 * that waits for a standby; coolingd's url has no such setting. */
static bool warned;
static void on_probe_notice(void *arg, const PGresult *res)
{
	(void)arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (sev != NULL && strcmp(sev, "WARNING") == 0)
		warned = true;
}

static bool primary_writes(void)
{
	char conn[700];
	snprintf(conn, sizeof(conn),
	         "postgresql://postgres@%s,%s/coolingd?target_session_attrs=read-write&"
	         "connect_timeout=2",
	         hosts[0], hosts[1]);
	PGconn *c = PQconnectdb(conn);
	bool ok = false;
	if (PQstatus(c) == CONNECTION_OK) {
		warned = false;
		PQsetNoticeReceiver(c, on_probe_notice, NULL);
		PQclear(PQexec(c, "SET statement_timeout = 1000"));
		PGresult *r = PQexec(c, "INSERT INTO ha_probe DEFAULT VALUES");
		ok = PQresultStatus(r) == PGRES_COMMAND_OK && !warned;
		PQclear(r);
	}
	PQfinish(c);
	return ok;
}

/* ---- the load ---- */

enum { T_SENT, T_2XX, T_503, T_NO_RETRY_AFTER, T_OTHER, T_LOST, T_SLOW, T__N };
static const char *const tally_names[T__N] = {"sent",  "2xx",  "503", "503 without Retry-After",
                                              "other", "lost", "slow"};
static _Atomic long tally[T__N];
static atomic_bool stop_load;
static _Atomic long long kill_ms;      /* the current round's kill */
static _Atomic long long first_503_ms; /* the first failure after it */
static _Atomic long long first_2xx_ms; /* first 2xx of a call sent after that */

static struct load loads[LOAD_THREADS];

/* Sends one call again until it is answered 2xx (every call of coolingd is
 * safe to retry) or the load stops; tallies every answer. */
static bool until_2xx(struct load *l, const char *path, const char *body, const char *headers,
                      struct http_resp *out)
{
	while (!atomic_load(&stop_load)) {
		long long t0 = test_now_ms();
		struct http_resp r;
		int rc = http_req(env.d.port, "POST", path, token, body, headers, &r);
		long long t1 = test_now_ms();
		atomic_fetch_add(&tally[T_SENT], 1);
		if (t1 - t0 > SLOW_MS)
			atomic_fetch_add(&tally[T_SLOW], 1);
		if (rc != 0) {
			atomic_fetch_add(&tally[T_LOST], 1);
			test_sleep_ms(50);
			continue;
		}
		if (r.status >= 200 && r.status < 300) {
			atomic_fetch_add(&tally[T_2XX], 1);
			long long f = atomic_load(&first_503_ms), none = 0;
			if (f > 0 && t0 > f)
				atomic_compare_exchange_strong(&first_2xx_ms, &none, t1);
			*out = r;
			return true;
		}
		if (r.status == 503) {
			atomic_fetch_add(&tally[T_503], 1);
			long long none = 0;
			if (atomic_load(&kill_ms) > 0)
				atomic_compare_exchange_strong(&first_503_ms, &none, t1);
			if (e2e_retry_after(&r) < 1)
				atomic_fetch_add(&tally[T_NO_RETRY_AFTER], 1);
		} else {
			atomic_fetch_add(&tally[T_OTHER], 1);
			if (l->other[0] == '\0')
				snprintf(l->other, sizeof(l->other), "%s %d %s", path, r.status,
				         r.body ? r.body : "");
		}
		http_resp_free(&r);
		test_sleep_ms(20);
	}
	return false;
}

/* ---- the rounds ---- */

static const char *other_node(const char *n)
{
	return strcmp(n, "node1") == 0 ? "node2" : "node1";
}

START_TEST(failover_under_load)
{
	const char *rs = getenv("COOLINGD_HA_ROUNDS");
	int rounds = rs ? atoi(rs) : 2;
	ck_assert_int_ge(rounds, 1);

	static const struct load_spec spec = {
	    .lender = "HA", .loans = LOANS_PER_THREAD, .stop = &stop_load, .until_2xx = until_2xx};
	load_start(loads, LOAD_THREADS, &spec);
	test_sleep_ms(3000);

	long long worst_ready = LLONG_MIN, worst_write = LLONG_MIN, worst_outage = 0;
	for (int round = 1; round <= rounds; round++) {
		char primary[32];
		ck_assert_int_eq(formation("primary", NULL, primary, sizeof(primary)), 0);
		ck_assert_msg(primary[0] != '\0', "no primary before round %d", round);
		long before = atomic_load(&tally[T_2XX]);
		atomic_store(&first_2xx_ms, 0);
		atomic_store(&first_503_ms, 0);
		long long t_kill = test_now_ms();
		atomic_store(&kill_ms, t_kill);
		ck_assert_int_eq(formation("kill", primary, NULL, 0), 0);

		long long t_writable = 0, t_ready = 0;
		while (t_writable == 0 && test_now_ms() - t_kill < 60000) {
			if (primary_writes())
				t_writable = test_now_ms();
			else
				test_sleep_ms(50);
		}
		ck_assert_msg(t_writable > 0, "round %d: no node took writes within 60 s", round);
		while (t_ready == 0 && test_now_ms() - t_writable < 30000) {
			if (http_get_status(env.d.port, "/readyz", 2000) == 200)
				t_ready = test_now_ms();
			else
				test_sleep_ms(20);
		}
		ck_assert_msg(t_ready > 0, "round %d: /readyz not 200 within 30 s of writes",
		              round);
		/* the load's first acknowledged write after the failures: the load
		 * threads retry every 20 ms, so it comes about when /readyz does */
		for (long long t0 = test_now_ms();
		     atomic_load(&first_2xx_ms) == 0 && test_now_ms() - t0 < 30000;)
			test_sleep_ms(20);
		long long f = atomic_load(&first_2xx_ms);
		ck_assert_msg(f > 0, "round %d: no write acknowledged within 30 s of /readyz",
		              round);
		/* negative: coolingd wrote before the probe saw the new primary */
		long long ready = t_ready - t_writable, wrote = f - t_writable;
		printf("round %d: killed %s; no primary for %lld ms; from the new primary's first "
		       "write: /readyz 200 after %lld ms, a write acknowledged after %lld ms\n",
		       round, primary, t_writable - t_kill, ready, wrote);
		fflush(stdout);
		if (ready > worst_ready)
			worst_ready = ready;
		if (wrote > worst_write)
			worst_write = wrote;
		if (t_writable - t_kill > worst_outage)
			worst_outage = t_writable - t_kill;

		/* the old primary's pg_autoctl again: it rejoins as a standby. Killed,
		 * it needs crash recovery, which pg_rewind cannot run beside the
		 * standby.signal that pg_autoctl has written, so pg_autoctl falls
		 * back to a pg_basebackup of the whole cluster: its time grows with
		 * the data the load wrote (91 s once), hence the long deadline */
		ck_assert_int_eq(formation("run", primary, NULL, 0), 0);
		ck_assert_msg(formation("wait", "300", NULL, 0) == 0,
		              "round %d: %s did not come back as a standby", round, primary);
		char now_primary[32];
		formation("primary", NULL, now_primary, sizeof(now_primary));
		ck_assert_str_eq(now_primary, other_node(primary));
		test_sleep_ms(2000);
		ck_assert_msg(atomic_load(&tally[T_2XX]) > before + 10,
		              "round %d: the load did not go on", round);
		atomic_store(&kill_ms, 0);
	}

	load_stop(loads, LOAD_THREADS);

	/* What coolingd acknowledged is on the primary now. */
	char conn[600];
	snprintf(conn, sizeof(conn),
	         "postgresql://postgres@%s,%s/coolingd?target_session_attrs=read-write", hosts[0],
	         hosts[1]);
	PGconn *c = PQconnectdb(conn);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	struct load_acks a = load_check(c, loads, LOAD_THREADS);
	PGresult *r = PQexec(c, "SELECT count(*) FROM (SELECT loan_id FROM audit_event "
	                        "WHERE type = 'disbursement_allowed' GROUP BY lender_id, loan_id "
	                        "HAVING count(*) > 1) twice");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	long twice = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);

	printf("tallies:");
	for (int t = 0; t < T__N; t++)
		printf(" %s=%ld", tally_names[t], atomic_load(&tally[t]));
	printf("\nloans approved (2xx) %ld, paid out (allowed) %ld; lost %ld, allowed but unpaid "
	       "%ld, paid twice %ld\n",
	       a.approved, a.allowed, a.missing + a.unpaid, a.unpaid, twice);
	printf("worst time without a primary %lld ms; worst from the new primary's first write: "
	       "/readyz %lld ms, an acknowledged write %lld ms\n",
	       worst_outage, worst_ready, worst_write);
	fflush(stdout);

	ck_assert_int_eq(a.missing, 0);
	ck_assert_int_eq(a.unpaid, 0);
	ck_assert_int_eq(twice, 0);
	ck_assert_int_eq(atomic_load(&tally[T_LOST]), 0);
	ck_assert_int_eq(atomic_load(&tally[T_OTHER]), 0);
	ck_assert_int_eq(atomic_load(&tally[T_SLOW]), 0);
	ck_assert_int_eq(atomic_load(&tally[T_NO_RETRY_AFTER]), 0);
	ck_assert_msg(atomic_load(&tally[T_503]) > 0, "no call failed: the failover was not seen");
	ck_assert_msg(worst_ready <= SERVE_WITHIN_MS,
	              "/readyz 200 %lld ms after the new primary's first write, want <= %d",
	              worst_ready, SERVE_WITHIN_MS);
	ck_assert_msg(
	    worst_write <= SERVE_WITHIN_MS,
	    "a write acknowledged %lld ms after the new primary's first write, want <= %d",
	    worst_write, SERVE_WITHIN_MS);
}
END_TEST

/* ---- the read replica ---- */

static char primary_host[32], standby_host[32];

static void find_nodes(void)
{
	char primary[32];
	ck_assert_int_eq(formation("primary", NULL, primary, sizeof(primary)), 0);
	int pi = strcmp(primary, "node1") == 0 ? 0 : 1;
	snprintf(primary_host, sizeof(primary_host), "%s", hosts[pi]);
	snprintf(standby_host, sizeof(standby_host), "%s", hosts[1 - pi]);
}

/* A coolingd whose read_url is host; GET /v1/loans through it. */
static void start_reader(struct daemon *d, const char *host)
{
	char ru[200];
	snprintf(ru, sizeof(ru), "COOLINGD_DATABASE_READ_URL=postgresql://postgres@%s/coolingd",
	         host);
	const char *extra[] = {"COOLINGD_SERVER_THREADS=1", ru, NULL};
	ck_assert(daemon_start(d, url, extra));
}

static void get_loans(const struct daemon *d, const char *tok, struct http_resp *r)
{
	ck_assert_int_eq(
	    http_req(d->port, "GET", "/v1/loans?lender=HA&limit=5", tok, NULL, NULL, r), 0);
}

START_TEST(compliance_reads_from_the_standby_and_fall_back)
{
	find_nodes();
	char *tok = e2e_client_add(&env, "ha-compliance", "compliance", NULL);
	struct daemon d;
	start_reader(&d, standby_host);
	struct http_resp r;
	get_loans(&d, tok, &r);
	E2E_ASSERT_STATUS(&r, 200);
	ck_assert_int_eq(json_array_size(e2e_json_at(r.json, "loans")), 5);
	http_resp_free(&r);
	/* the read pool's sessions are on a hot standby, read-only */
	ck_assert_msg(
	    e2e_file_has_line(d.log_path, "\"pool\":\"read\"", "\"in_hot_standby\":\"on\""),
	    "no read-pool connection to the standby in the log");
	ck_assert(e2e_file_has_line(d.log_path, "\"pool\":\"read\"", "\"read_only\":\"on\""));

	/* the standby goes away: the reads go to the primary, said once */
	ck_assert_int_eq(
	    formation("kill", strcmp(standby_host, hosts[0]) == 0 ? "node1" : "node2", NULL, 0), 0);
	int status = 0;
	for (int i = 0; i < 50 && status != 200; i++) {
		test_sleep_ms(100);
		get_loans(&d, tok, &r);
		status = r.status;
		ck_assert_msg(status == 200 || status == 503, "got %d: %s", status, r.body);
		http_resp_free(&r);
	}
	ck_assert_int_eq(status, 200);
	ck_assert(e2e_file_has_line(d.log_path, "read replica out of reach", NULL));
	ck_assert_int_eq(daemon_stop(&d), 0);
	free(tok);
}
END_TEST

/* Pointed at a server that takes writes, the read pool's sessions are still
 * read-only: the server itself reports default_transaction_read_only=on for
 * them (and the pool refuses a session that does not). */
START_TEST(read_url_sessions_are_read_only)
{
	find_nodes();
	char *tok = e2e_client_add(&env, "ha-compliance2", "compliance", NULL);
	struct daemon d;
	start_reader(&d, primary_host);
	struct http_resp r;
	get_loans(&d, tok, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	ck_assert(e2e_file_has_line(d.log_path, "\"pool\":\"read\"", "\"in_hot_standby\":\"off\""));
	ck_assert(e2e_file_has_line(d.log_path, "\"pool\":\"read\"", "\"read_only\":\"on\""));
	/* and a write in such a session is refused by the server */
	char conn[300];
	snprintf(
	    conn, sizeof(conn),
	    "postgresql://postgres@%s/coolingd?options=-c%%20default_transaction_read_only%%3Don",
	    primary_host);
	PGconn *c = PQconnectdb(conn);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PGresult *w = PQexec(c, "INSERT INTO ha_probe DEFAULT VALUES");
	ck_assert_str_eq(PQresultErrorField(w, PG_DIAG_SQLSTATE), "25006");
	PQclear(w);
	PQfinish(c);
	ck_assert_int_eq(daemon_stop(&d), 0);
	free(tok);
}
END_TEST

/* ---- a host that never answers ---- */

/* Named first in the url: a host whose port accepts connections and then
 * says nothing (a hung server, or a half-dead one behind a proxy). libpq
 * ignores connect_timeout on a non-blocking connection; the pool gives up
 * on the attempt after database.health_timeout, and the next attempt tries
 * the other host first. */
START_TEST(a_host_that_never_answers_named_first_costs_at_most_health_timeout)
{
	find_nodes();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	          listen(fd, 128) == 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	char hung_url[300];
	snprintf(hung_url, sizeof(hung_url),
	         "postgresql://postgres@127.0.0.1:%d,%s/coolingd?target_session_attrs=read-write&"
	         "connect_timeout=2",
	         ntohs(sa.sin_port), primary_host);
	const char *extra[] = {"COOLINGD_SERVER_THREADS=1", "COOLINGD_DATABASE_HEALTH_TIMEOUT=1s",
	                       NULL};
	struct daemon d;
	long long t0 = test_now_ms();
	ck_assert(daemon_start(&d, hung_url, extra));
	long long t_ready = 0;
	while (t_ready == 0 && test_now_ms() - t0 < 10000) {
		if (http_get_status(d.port, "/readyz", 2000) == 200)
			t_ready = test_now_ms();
		else
			test_sleep_ms(20);
	}
	printf("hung host first: /readyz 200 after %lld ms\n", t_ready ? t_ready - t0 : -1);
	fflush(stdout);
	/* 1 s for the attempt on the hung host, up to 0.4 s for the retry,
	 * and room for a loaded machine; without the bound, never */
	ck_assert_msg(t_ready > 0 && t_ready - t0 <= 4000, "/readyz 200 after %lld ms",
	              t_ready ? t_ready - t0 : -1);
	ck_assert(e2e_file_has_line(d.log_path, "health_timeout", NULL));
	ck_assert_int_eq(daemon_stop(&d), 0);
	close(fd);
}
END_TEST

/* ---- fixture ---- */

static void setup(void)
{
	const char *src = getenv("COOLINGD_SOURCE_DIR");
	snprintf(script, sizeof(script), "%s/tests/ha/formation.sh", src ? src : ".");
	/* Under /tmp rather than $TMPDIR: the nodes run as postgres, who must
	 * reach the directory. */
	snprintf(fdir, sizeof(fdir), "/tmp/coolingd-ha.XXXXXX");
	if (mkdtemp(fdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	int port = daemon_free_port_run(3); /* the monitor and two nodes */
	if (port < 0) {
		fprintf(stderr, "failover: no three free ports in a row\n");
		exit(1);
	}
	char p[16], uri[512];
	snprintf(p, sizeof(p), "%d", port);
	long long t0 = test_now_ms();
	if (formation("start", p, uri, sizeof(uri)) != 0 || strncmp(uri, "postgres", 8) != 0) {
		fprintf(stderr, "failover: the formation did not start; its logs' ends:\n");
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "tail -n 20 %s/*.log >&2", fdir);
		if (system(cmd) != 0)
			fprintf(stderr, "failover: no logs in %s\n", fdir);
		formation_down(); /* what did start (the monitor) must not outlive the test */
		exit(1);
	}
	printf("formation up in %lld ms: %s\n", test_now_ms() - t0, uri);
	snprintf(hosts[0], sizeof(hosts[0]), "127.0.0.1:%d", port + 1);
	snprintf(hosts[1], sizeof(hosts[1]), "127.0.0.1:%d", port + 2);
	/* the url of docs/ha.md, with the user to log in as (the nodes trust
	 * loopback); pg_autoctl's own has sslmode=prefer besides */
	snprintf(url, sizeof(url),
	         "postgresql://postgres@%s,%s/coolingd?target_session_attrs=read-write&"
	         "connect_timeout=2",
	         hosts[0], hosts[1]);

	int rc;
	char *out = run_ctl(url, &rc, "migrate");
	free(out);
	if (rc != 0) {
		fprintf(stderr, "failover: migrate failed\n");
		formation_down();
		exit(1);
	}
	PGconn *c = PQconnectdb(url);
	PGresult *r = PQexec(c, "CREATE TABLE ha_probe (at timestamptz DEFAULT now())");
	PQclear(r);
	PQfinish(c);

	env.db_url = url;
	e2e_lender_add(&env, "HA", "bank");
	token = e2e_client_add(&env, "ha-load", "lender", "HA");
	/* every timeout its default */
	const char *extra[] = {"COOLINGD_SERVER_THREADS=2", "COOLINGD_DATABASE_POOL_SIZE=8", NULL};
	if (!daemon_start(&env.d, url, extra)) {
		formation_down();
		exit(1);
	}
}

static void teardown(void)
{
	int st = daemon_stop(&env.d);
	if (st != 0)
		daemon_dump_log(&env.d);
	formation_down();
	free(token);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "failover: timed out; tearing the formation down\n";
	ssize_t n = write(2, msg, sizeof(msg) - 1);
	(void)n;
	daemon_kill9(&env.d);
	formation_down();
	_exit(1);
}

int main(void)
{
	Suite *s = suite_create("failover");
	TCase *tc = tcase_create("pg_auto_failover");
	tcase_set_timeout(tc, 840);
	tcase_add_test(tc, failover_under_load);
	tcase_add_test(tc, read_url_sessions_are_read_only);
	tcase_add_test(tc, a_host_that_never_answers_named_first_costs_at_most_health_timeout);
	tcase_add_test(tc, compliance_reads_from_the_standby_and_fall_back);
	suite_add_tcase(s, tc);
	/* One process for the formation, coolingd and the test (no fork), torn
	 * down after; an alarm tears it down too should the test hang. */
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	signal(SIGALRM, on_alarm);
	alarm(840);
	setup();
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	teardown();
	return failed == 0 ? 0 : 1;
}

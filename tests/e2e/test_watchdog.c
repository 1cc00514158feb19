/*
 * End-to-end tests of coolingd under a stand-in for systemd (the unit is
 * Type=notify with WatchdogSec=): the test binds the unix datagram socket
 * that NOTIFY_SOCKET names and reads what the daemon sends. READY=1 once it
 * serves; WATCHDOG=1 every half WATCHDOG_USEC while every worker loop is
 * alive, and none while one is stalled (so that systemd restarts it);
 * RELOADING=1 then READY=1 on SIGHUP, with a STATUS= that names what a
 * refused reload refused until a reload succeeds; STOPPING=1 on SIGTERM.
 */
#include "check_main.h"
#include "support/e2e.h"
#include "support/testdb.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The test's watchdog period: short, so that a test sees many keep-alives,
 * and still long beside the lateness of a timer on a loaded machine. */
#define WATCHDOG_USEC "1000000"
#define WATCHDOG_MS   1000
#define KEEPALIVE_MS  (WATCHDOG_MS / 2)
/* how long a notice that is due may take to arrive */
#define WAIT_MS 30000

static char *db_url;

static void setup(void)
{
	db_url = testdb_create("wd");
	/* What the test's own environment says about systemd must not reach
	 * the daemon: daemon_start passes our environment on. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
	testdb_drop(db_url);
	free(db_url);
}

/* ---- the stand-in for systemd's notification socket ---- */

/*
 * A thread reads the socket all the time, as systemd does, and keeps every
 * datagram with the moment it came: the daemon must never find the queue
 * full (sd_notify might then wait) however long a test looks elsewhere.
 */
#define MAX_MESSAGES 2048

struct message {
	long long at_ms;
	char text[512];
};

struct notify {
	int fd;
	char dir[200];
	char path[256];
	char env[300]; /* "NOTIFY_SOCKET=path" for daemon_start */
	pthread_t reader;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t arrived;
	struct message msgs[MAX_MESSAGES];
	int count;  /* received so far */
	int cursor; /* notify_wait() looks from here on */
};

static void *notify_reader(void *arg)
{
	struct notify *n = arg;
	while (!atomic_load(&n->stop)) {
		struct pollfd pfd = {.fd = n->fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		char buf[1024];
		ssize_t got = recv(n->fd, buf, sizeof buf - 1, 0);
		if (got < 0)
			continue;
		buf[got] = '\0';
		pthread_mutex_lock(&n->lock);
		if (n->count < MAX_MESSAGES) {
			struct message *m = &n->msgs[n->count++];
			m->at_ms = test_now_ms();
			size_t len =
			    (size_t)got < sizeof m->text ? (size_t)got : sizeof m->text - 1;
			memcpy(m->text, buf, len);
			m->text[len] = '\0';
		}
		pthread_cond_broadcast(&n->arrived);
		pthread_mutex_unlock(&n->lock);
	}
	return NULL;
}

static struct notify *notify_open(void)
{
	struct notify *n = calloc(1, sizeof *n);
	ck_assert(n != NULL);
	const char *tmp = getenv("TMPDIR");
	snprintf(n->dir, sizeof n->dir, "%s/coolingd-wd-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_msg(mkdtemp(n->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(n->path, sizeof n->path, "%s/notify", n->dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ck_assert_msg(strlen(n->path) < sizeof sa.sun_path, "%s: path too long", n->path);
	strcpy(sa.sun_path, n->path);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(n->fd, 0);
	ck_assert_msg(bind(n->fd, (struct sockaddr *)&sa, sizeof sa) == 0, "bind %s: %s", n->path,
	              strerror(errno));
	snprintf(n->env, sizeof n->env, "NOTIFY_SOCKET=%s", n->path);
	pthread_mutex_init(&n->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->arrived, &ca);
	pthread_condattr_destroy(&ca);
	ck_assert_int_eq(pthread_create(&n->reader, NULL, notify_reader, n), 0);
	return n;
}

static void notify_close(struct notify *n)
{
	atomic_store(&n->stop, true);
	pthread_join(n->reader, NULL);
	close(n->fd);
	unlink(n->path);
	rmdir(n->dir);
	pthread_cond_destroy(&n->arrived);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

/* True when the datagram has `line` as one of its lines (sd_notify sends
 * newline-separated assignments), or with `line` ending in '*', a line that
 * starts with the rest. */
static bool has_line(const char *msg, const char *line)
{
	size_t len = strlen(line);
	bool prefix = len > 0 && line[len - 1] == '*';
	if (prefix)
		len--;
	for (const char *p = msg;; p++) {
		if (strncmp(p, line, len) == 0 && (prefix || p[len] == '\n' || p[len] == '\0'))
			return true;
		p = strchr(p, '\n');
		if (p == NULL)
			return false;
	}
}

/*
 * Waits up to timeout_ms for a datagram with `line` after the ones an
 * earlier wait consumed, and consumes it and everything before it. The
 * arrival time goes to *at_ms when not NULL.
 */
static bool notify_wait_at(struct notify *n, const char *line, long timeout_ms, long long *at_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	bool found = false;
	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (n->cursor < n->count && !found) {
			struct message *m = &n->msgs[n->cursor++];
			if (has_line(m->text, line)) {
				found = true;
				if (at_ms)
					*at_ms = m->at_ms;
			}
		}
		if (found || pthread_cond_timedwait(&n->arrived, &n->lock, &deadline) == ETIMEDOUT)
			break;
	}
	/* one more look: a datagram may have come with the timeout */
	while (!found && n->cursor < n->count)
		found = has_line(n->msgs[n->cursor++].text, line);
	pthread_mutex_unlock(&n->lock);
	return found;
}

static bool notify_wait(struct notify *n, const char *line, long timeout_ms)
{
	return notify_wait_at(n, line, timeout_ms, NULL);
}

/* Everything received so far, one datagram a line, for failure messages
 * (static: one test at a time). */
static const char *notify_seen(struct notify *n)
{
	static char out[8192];
	size_t used = 0;
	out[0] = '\0';
	pthread_mutex_lock(&n->lock);
	for (int i = 0; i < n->count && used + 80 < sizeof out; i++)
		used += (size_t)snprintf(out + used, sizeof out - used, "  %s\n", n->msgs[i].text);
	pthread_mutex_unlock(&n->lock);
	return out;
}

/* Keep-alives that arrive during the next window_ms, and the longest gap
 * between two of them (or from the window's start to the first). */
static int keepalives_during(struct notify *n, long window_ms, long long *max_gap_ms)
{
	long long start = test_now_ms(), end = start + window_ms, last = start, at;
	int count = 0;
	*max_gap_ms = 0;
	pthread_mutex_lock(&n->lock); /* what came before the window */
	n->cursor = n->count;
	pthread_mutex_unlock(&n->lock);
	while (test_now_ms() < end && notify_wait_at(n, "WATCHDOG=1", end - test_now_ms(), &at)) {
		if (at - last > *max_gap_ms)
			*max_gap_ms = at - last;
		last = at;
		count++;
	}
	if (end - last > *max_gap_ms)
		*max_gap_ms = end - last;
	return count;
}

static void start_daemon(struct daemon *d, struct notify *n, const char *extra)
{
	const char *env[] = {n->env, "COOLINGD_SERVER_THREADS=2", extra, NULL};
	ck_assert_msg(daemon_start(d, db_url, env), "coolingd did not start");
}

static void start_watched(struct daemon *d, struct notify *n)
{
	start_daemon(d, n, "WATCHDOG_USEC=" WATCHDOG_USEC);
	ck_assert_msg(notify_wait(n, "READY=1", WAIT_MS), "no READY=1; got:\n%s", notify_seen(n));
}

static void stop_daemon(struct daemon *d)
{
	int rc = daemon_stop(d);
	if (rc != 0)
		daemon_dump_log(d);
	ck_assert_int_eq(rc, 0);
}

/* ---- tests ---- */

START_TEST(test_ready_is_sent_once_the_daemon_serves)
{
	struct notify *n = notify_open();
	struct daemon d;
	start_daemon(&d, n, NULL);
	/* daemon_start returns once /healthz answers: READY=1 came before. */
	ck_assert_msg(notify_wait(n, "READY=1", WAIT_MS), "no READY=1; got:\n%s", notify_seen(n));
	stop_daemon(&d);
	notify_close(n);
}
END_TEST

START_TEST(test_keepalives_come_every_half_watchdog_period)
{
	struct notify *n = notify_open();
	struct daemon d;
	start_watched(&d, n);
	long long max_gap;
	int count = keepalives_during(n, 10 * KEEPALIVE_MS, &max_gap);
	/* Ten are due. Timers may run late on a loaded machine, but a gap as
	 * long as the watchdog period is what makes systemd kill the service. */
	ck_assert_msg(count >= 6 && count <= 12, "%d keep-alives in %d ms; got:\n%s", count,
	              10 * KEEPALIVE_MS, notify_seen(n));
	ck_assert_msg(max_gap < WATCHDOG_MS, "a gap of %lld ms between keep-alives", max_gap);
	ck_assert(e2e_file_has_line(d.log_path, "systemd watchdog on",
	                            "\"keepalive_interval_ms\":\"500\""));
	stop_daemon(&d);
	notify_close(n);
}
END_TEST

START_TEST(test_no_keepalives_when_systemd_asks_for_no_watchdog)
{
	struct notify *n = notify_open();
	struct daemon d;
	start_daemon(&d, n, NULL);
	ck_assert(notify_wait(n, "READY=1", WAIT_MS));
	ck_assert_msg(!notify_wait(n, "WATCHDOG=1", 3 * KEEPALIVE_MS), "got:\n%s", notify_seen(n));
	stop_daemon(&d);
	notify_close(n);
}
END_TEST

START_TEST(test_watchdog_meant_for_another_process_is_ignored)
{
	struct notify *n = notify_open();
	struct daemon d;
	const char *env[] = {n->env, "COOLINGD_SERVER_THREADS=2", "WATCHDOG_USEC=" WATCHDOG_USEC,
	                     "WATCHDOG_PID=1", NULL};
	ck_assert(daemon_start(&d, db_url, env));
	ck_assert(notify_wait(n, "READY=1", WAIT_MS));
	ck_assert_msg(!notify_wait(n, "WATCHDOG=1", 3 * KEEPALIVE_MS), "got:\n%s", notify_seen(n));
	stop_daemon(&d);
	notify_close(n);
}
END_TEST

START_TEST(test_sighup_sends_reloading_then_ready_and_keepalives_go_on)
{
	struct notify *n = notify_open();
	struct daemon d;
	start_watched(&d, n);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert_msg(notify_wait(n, "RELOADING=1", WAIT_MS), "no RELOADING=1; got:\n%s",
	              notify_seen(n));
	ck_assert_msg(notify_wait(n, "READY=1", WAIT_MS), "no READY=1 after RELOADING=1; got:\n%s",
	              notify_seen(n));
	ck_assert_msg(notify_wait(n, "WATCHDOG=1", WAIT_MS), "no keep-alive after the reload");
	stop_daemon(&d);
	notify_close(n);
}
END_TEST

START_TEST(test_sigterm_sends_stopping_and_exits_0)
{
	struct notify *n = notify_open();
	struct daemon d;
	start_watched(&d, n);
	stop_daemon(&d); /* SIGTERM, then waits for the exit */
	ck_assert_msg(notify_wait(n, "STOPPING=1", WAIT_MS), "no STOPPING=1; got:\n%s",
	              notify_seen(n));
	notify_close(n);
}
END_TEST

/* The STATUS= line of the next datagram that has one (static: one test at a
 * time); "" when none comes within timeout_ms. */
static const char *next_status(struct notify *n, long timeout_ms)
{
	static char status[512];
	status[0] = '\0';
	if (!notify_wait(n, "STATUS=*", timeout_ms))
		return status;
	pthread_mutex_lock(&n->lock);
	const char *line = strstr(n->msgs[n->cursor - 1].text, "STATUS=");
	snprintf(status, sizeof status, "%.*s", (int)strcspn(line, "\n"), line);
	pthread_mutex_unlock(&n->lock);
	return status;
}

/* Writes the config file that daemon_start gave d (beside its log). */
static void write_config(const struct daemon *d, const char *text)
{
	char path[300];
	snprintf(path, sizeof path, "%s", d->log_path);
	char *slash = strrchr(path, '/');
	ck_assert_ptr_nonnull(slash);
	snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "coolingd.conf");
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_status_names_a_refused_reload_until_a_reload_succeeds)
{
	struct notify *n = notify_open();
	struct daemon d;
	start_daemon(&d, n, NULL);
	const char *status = next_status(n, WAIT_MS);
	ck_assert_msg(strncmp(status, "STATUS=serving, profile kz-card;", 32) == 0, "at start: %s",
	              status);

	write_config(&d, "[policy]\nprofile = no-such-profile\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(notify_wait(n, "RELOADING=1", WAIT_MS));
	status = next_status(n, WAIT_MS);
	ck_assert_msg(strncmp(status, "STATUS=reload failed at ", 24) == 0 &&
	                  strstr(status, "policy.profile: unknown profile") != NULL &&
	                  strstr(status, "still serving with the previous configuration") != NULL,
	              "after a refused reload: %s", status);
	ck_assert_int_eq(http_get_status(d.port, "/healthz", 1000), 200);

	write_config(&d, "[policy]\nprofile = kz-2025-09\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(notify_wait(n, "RELOADING=1", WAIT_MS));
	status = next_status(n, WAIT_MS);
	ck_assert_msg(strncmp(status, "STATUS=serving, profile kz-2025-09;", 35) == 0,
	              "after a good reload: %s", status);
	stop_daemon(&d);
	notify_close(n);
}
END_TEST

/* The worker threads: every thread of the daemon but the main one. */
static int worker_tids(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	ck_assert_msg(dir != NULL, "%s: %s", path, strerror(errno));
	int count = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL && count < max) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid > 0 && tid != pid)
			tids[count++] = tid;
	}
	closedir(dir);
	return count;
}

START_TEST(test_stalled_worker_loop_withholds_keepalives_until_it_runs_again)
{
	struct notify *n = notify_open();
	struct daemon d;
	start_watched(&d, n);
	pid_t tids[8];
	ck_assert_int_eq(worker_tids(d.pid, tids, 8), 2);

	/* Freeze one worker thread and only it, as a loop stuck in a callback
	 * would be: ptrace stops a single thread, a signal the whole process. */
	if (ptrace(PTRACE_SEIZE, tids[1], NULL, NULL) != 0) {
		fprintf(stderr, "test_watchdog: no ptrace here (%s); stalled-worker test not run\n",
		        strerror(errno));
		stop_daemon(&d);
		notify_close(n);
		const char *allow = getenv("COOLINGD_TEST_ALLOW_NO_PTRACE");
		ck_assert_msg(allow && strcmp(allow, "1") == 0,
		              "no ptrace: the stalled worker was not tested (set "
		              "COOLINGD_TEST_ALLOW_NO_PTRACE=1 to accept that)");
		return;
	}
	ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, tids[1], NULL, NULL), 0);
	int status;
	ck_assert_int_eq(waitpid(tids[1], &status, __WALL), tids[1]);
	long long frozen_at = test_now_ms();

	/* Keep-alives due before the heartbeat went stale may still come, then
	 * none: twice the watchdog period without one. */
	long long at;
	while (notify_wait_at(n, "WATCHDOG=1", 2 * WATCHDOG_MS, &at))
		ck_assert_msg(at - frozen_at < WATCHDOG_MS,
		              "a keep-alive %lld ms after a worker stalled", at - frozen_at);
	ck_assert(
	    e2e_file_has_line(d.log_path, "\"level\":\"error\"", "worker event loop stalled"));

	ck_assert_int_eq(ptrace(PTRACE_DETACH, tids[1], NULL, NULL), 0);
	ck_assert_msg(notify_wait(n, "WATCHDOG=1", WAIT_MS),
	              "no keep-alive after the worker ran again");
	stop_daemon(&d);
	notify_close(n);
}
END_TEST

static Suite *watchdog_suite(void)
{
	Suite *s = suite_create("watchdog");
	TCase *tc = tcase_create("watchdog");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ready_is_sent_once_the_daemon_serves);
	tcase_add_test(tc, test_keepalives_come_every_half_watchdog_period);
	tcase_add_test(tc, test_no_keepalives_when_systemd_asks_for_no_watchdog);
	tcase_add_test(tc, test_watchdog_meant_for_another_process_is_ignored);
	tcase_add_test(tc, test_sighup_sends_reloading_then_ready_and_keepalives_go_on);
	tcase_add_test(tc, test_status_names_a_refused_reload_until_a_reload_succeeds);
	tcase_add_test(tc, test_sigterm_sends_stopping_and_exits_0);
	tcase_add_test(tc, test_stalled_worker_loop_withholds_keepalives_until_it_runs_again);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(watchdog_suite)

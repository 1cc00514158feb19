/*
 * Runs the real binaries for the end-to-end tests: coolingd as a child
 * process on a free loopback port, and coolingctl as a command whose output
 * the test reads. Both come from $COOLINGD_BIN_DIR (set by CTest).
 */
#ifndef CD_TEST_DAEMON_H
#define CD_TEST_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

struct daemon {
	pid_t pid;          /* -1 when not running */
	int port;           /* 127.0.0.1:port */
	char log_path[256]; /* the daemon's stdout and stderr; kept after it stops */
};

/*
 * Starts $COOLINGD_BIN_DIR/coolingd -c EMPTY_CONFIG on a free loopback port,
 * with COOLINGD_DATABASE_URL=db_url, COOLINGD_SERVER_LISTEN=127.0.0.1:PORT,
 * COOLINGD_LOG_FORMAT=json, COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM=true
 * (the tests cool for seconds), COOLINGD_METRICS_LISTEN= (no metrics
 * listener) and then extra_env ("KEY=VALUE" strings,
 * NULL-terminated, may be NULL; a later entry overrides an earlier one and the
 * defaults). Other COOLINGD_SERVER_/DATABASE_/POLICY_/LOG_/METRICS_ variables of the
 * test's own environment are not passed on, so a developer's shell cannot
 * change what a test sees. The config file and the log live in a fresh
 * directory under $TMPDIR (default /tmp).
 *
 * Waits up to 30 s for GET /healthz to answer 200. Returns true when it did;
 * false when the process exited (reaped, d->pid = -1) or never became
 * healthy (killed); on false the log's tail is copied to stderr.
 *
 * The daemon gets SIGKILL when the thread that started it exits, so a test
 * that dies never leaves one behind. Start and stop it in the same process:
 * in Check's fork mode both in the test (or checked fixtures), or both in
 * unchecked fixtures (then every test of the case may use d->port).
 */
bool daemon_start(struct daemon *d, const char *db_url, const char *const *extra_env);

/* The same with another build's coolingd (an earlier release's, for the
 * upgrade test) at exe_path. */
bool daemon_start_exe(struct daemon *d, const char *exe_path, const char *db_url,
                      const char *const *extra_env);

/*
 * SIGTERM, then waits up to 30 s for the exit (then SIGKILL). Returns the
 * exit status (0-255), 128+N when signal N ended it, or -1 when it had to be
 * killed after the 30 s or was not running. d->pid becomes -1.
 */
int daemon_stop(struct daemon *d);

/* SIGKILL and reap, as a crash would. False when it was not running. */
bool daemon_kill9(struct daemon *d);

/* Copies the daemon's log to stderr, for a failing test's output. */
void daemon_dump_log(const struct daemon *d);

/* A loopback port that was free a moment ago; -1 when none could be had. */
int daemon_free_port(void);
/* The first of n consecutive loopback ports that can be bound now, below
 * the ephemeral range (for servers that are told their port, such as a
 * PostgreSQL formation); -1 if none. */
int daemon_free_port_run(int n);

/* The monotonic clock in milliseconds, for deadlines and durations. */
long long test_now_ms(void);

/* Sleeps ms milliseconds, going on after a signal. */
void test_sleep_ms(long ms);

/*
 * Runs $COOLINGD_BIN_DIR/coolingctl --database DB_URL ARGS... (no
 * --database when db_url is NULL), stdin from /dev/null, and returns its
 * stdout, malloc'd, trailing newlines stripped; stderr passes through to the
 * test's stderr. *exit_code (if not NULL) gets the exit status, 128+N for
 * signal N. The printf-formatted fmt_args is split on spaces; '...' or "..."
 * keep spaces inside one argument (no escapes). Returns NULL only when the
 * program could not be run at all.
 */
char *run_ctl(const char *db_url, int *exit_code, const char *fmt_args, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The same with an argument vector (NULL-terminated, after --database URL).
 * When stderr_out is not NULL it receives coolingctl's stderr (malloc'd,
 * trailing newlines stripped) instead of passing it through.
 */
char *run_ctl_argv(const char *db_url, const char *const *args, int *exit_code, char **stderr_out);

#endif

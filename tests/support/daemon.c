/*
 * Child processes for the end-to-end tests: the daemon under test and the
 * CLI. Everything the child needs is prepared before fork(), so that the
 * child only calls async-signal-safe functions before exec.
 */
#include "support/daemon.h"
#include "support/httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS  30000

void test_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

long long test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *bin_dir(void)
{
	const char *dir = getenv("COOLINGD_BIN_DIR");
	if (!dir || !*dir) {
		fprintf(stderr, "tests: COOLINGD_BIN_DIR is not set (run the tests with ctest)\n");
		return NULL;
	}
	return dir;
}

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int daemon_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static bool port_bindable(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

int daemon_free_port_run(int n)
{
	/* Below the kernel's ephemeral range: a port there is never the local
	 * end of some client's connection, which a server started later could
	 * not bind (a busy machine makes thousands of loopback connections). */
	int low = 32768, high = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f != NULL) {
		if (fscanf(f, "%d %d", &low, &high) != 2)
			low = 32768;
		fclose(f);
	}
	int first = 20000, last = low - n;
	if (last <= first)
		return -1;
	/* a start of its own per process, so that two test runs rarely meet,
	 * and past the ports this process was already given */
	static int given;
	int span = last - first, start = (int)((unsigned)getpid() * 2654435761u % (unsigned)span);
	for (int i = given; i < span; i += n) {
		int p = first + (start + i) % span, k = 0;
		while (k < n && p + k < low && port_bindable(p + k))
			k++;
		if (k == n) {
			given = i + n;
			return p;
		}
	}
	return -1;
}

static bool is_config_var(const char *kv)
{
	static const char *const prefixes[] = {"COOLINGD_SERVER_", "COOLINGD_DATABASE_",
	                                       "COOLINGD_POLICY_", "COOLINGD_LOG_",
	                                       "COOLINGD_METRICS_"};
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(kv, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* Sets "KEY=VALUE" in env (which has room), replacing an entry with that key. */
static void env_put(char **env, size_t *n, char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t key_len = eq ? (size_t)(eq - kv) : strlen(kv);
	for (size_t i = 0; i < *n; i++) {
		if (strncmp(env[i], kv, key_len) == 0 && env[i][key_len] == '=') {
			env[i] = kv;
			return;
		}
	}
	env[(*n)++] = kv;
	env[*n] = NULL;
}

static void tail_to_stderr(const char *path, long max_bytes)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);
		if (size > max_bytes)
			fseek(f, size - max_bytes, SEEK_SET);
		else
			fseek(f, 0, SEEK_SET);
	}
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, stderr);
	fclose(f);
}

void daemon_dump_log(const struct daemon *d)
{
	fprintf(stderr, "---- %s ----\n", d->log_path);
	tail_to_stderr(d->log_path, 1L << 30);
	fprintf(stderr, "---- end of %s ----\n", d->log_path);
}

static void fail_with_log(const struct daemon *d, const char *why)
{
	fprintf(stderr, "daemon_start: %s; the end of %s:\n", why, d->log_path);
	tail_to_stderr(d->log_path, 4096);
	fprintf(stderr, "\n");
}

bool daemon_start(struct daemon *d, const char *db_url, const char *const *extra_env)
{
	memset(d, 0, sizeof *d);
	d->pid = -1;
	const char *dir = bin_dir();
	if (!dir)
		return false;
	char exe[4096];
	snprintf(exe, sizeof exe, "%s/coolingd", dir);
	return daemon_start_exe(d, exe, db_url, extra_env);
}

bool daemon_start_exe(struct daemon *d, const char *exe_path, const char *db_url,
                      const char *const *extra_env)
{
	memset(d, 0, sizeof *d);
	d->pid = -1;
	char exe[4096];
	snprintf(exe, sizeof exe, "%s", exe_path);

	const char *tmp = getenv("TMPDIR");
	char work[200];
	snprintf(work, sizeof work, "%s/coolingd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(work)) {
		fprintf(stderr, "daemon_start: mkdtemp %s: %s\n", work, strerror(errno));
		return false;
	}
	char conf[256];
	snprintf(conf, sizeof conf, "%s/coolingd.conf", work);
	snprintf(d->log_path, sizeof d->log_path, "%s/coolingd.log", work);
	FILE *f = fopen(conf, "w");
	if (!f) {
		fprintf(stderr, "daemon_start: %s: %s\n", conf, strerror(errno));
		return false;
	}
	fclose(f);

	d->port = daemon_free_port();
	if (d->port < 0) {
		fprintf(stderr, "daemon_start: no free port: %s\n", strerror(errno));
		return false;
	}

	/* Environment: ours minus config variables, then the defaults, then extra_env. */
	size_t cap = 8, n = 0;
	for (char **e = environ; *e; e++)
		cap++;
	for (const char *const *e = extra_env; e && *e; e++)
		cap++;
	char **env = calloc(cap, sizeof *env);
	char *db_kv = malloc(strlen(db_url) + sizeof "COOLINGD_DATABASE_URL=");
	char listen_kv[64], log_kv[] = "COOLINGD_LOG_FORMAT=json";
	/* No metrics listener unless the test asks for one: the default port
	 * is one for every daemon, and tests run side by side. */
	char metrics_kv[] = "COOLINGD_METRICS_LISTEN=";
	/* The tests cool for seconds, below the legal minimum of the profile. */
	char lift_kv[] = "COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM=true";
	if (!env || !db_kv) {
		free(env);
		free(db_kv);
		return false;
	}
	for (char **e = environ; *e; e++)
		if (!is_config_var(*e))
			env[n++] = *e;
	sprintf(db_kv, "COOLINGD_DATABASE_URL=%s", db_url);
	snprintf(listen_kv, sizeof listen_kv, "COOLINGD_SERVER_LISTEN=127.0.0.1:%d", d->port);
	env_put(env, &n, db_kv);
	env_put(env, &n, listen_kv);
	env_put(env, &n, log_kv);
	env_put(env, &n, lift_kv);
	env_put(env, &n, metrics_kv);
	for (const char *const *e = extra_env; e && *e; e++)
		env_put(env, &n, (char *)*e);

	int log_fd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		fprintf(stderr, "daemon_start: %s: %s\n", d->log_path, strerror(errno));
		free(env);
		free(db_kv);
		return false;
	}
	char *const argv[] = {exe, "-c", conf, NULL};
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* Dies with the test, so that a crashed test leaves no daemon behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int null_fd = open("/dev/null", O_RDONLY);
		if (null_fd >= 0)
			dup2(null_fd, STDIN_FILENO);
		dup2(log_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
		execve(exe, argv, env);
		dprintf(STDERR_FILENO, "exec %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	close(log_fd);
	free(env);
	free(db_kv);
	if (pid < 0) {
		fprintf(stderr, "daemon_start: fork: %s\n", strerror(errno));
		return false;
	}
	d->pid = pid;

	long long deadline = test_now_ms() + START_TIMEOUT_MS;
	for (;;) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->pid = -1;
			char why[64];
			snprintf(why, sizeof why, "coolingd exited with status %d",
			         exit_code_of(status));
			fail_with_log(d, why);
			return false;
		}
		long long left = deadline - test_now_ms();
		if (left <= 0)
			break;
		if (http_get_status(d->port, "/healthz", left < 1000 ? (int)left : 1000) == 200)
			return true;
		test_sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	d->pid = -1;
	fail_with_log(d, "GET /healthz did not answer 200 within 30 s");
	return false;
}

int daemon_stop(struct daemon *d)
{
	if (d->pid <= 0)
		return -1;
	pid_t pid = d->pid;
	d->pid = -1;
	kill(pid, SIGTERM);
	long long deadline = test_now_ms() + STOP_TIMEOUT_MS;
	int status;
	while (test_now_ms() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return exit_code_of(status);
		if (r < 0 && errno != EINTR)
			return -1;
		test_sleep_ms(10);
	}
	fprintf(stderr, "daemon_stop: coolingd (pid %d) ignored SIGTERM for 30 s; killing it\n",
	        (int)pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

bool daemon_kill9(struct daemon *d)
{
	if (d->pid <= 0)
		return false;
	pid_t pid = d->pid;
	d->pid = -1;
	if (kill(pid, SIGKILL) != 0)
		return false;
	while (waitpid(pid, NULL, 0) < 0)
		if (errno != EINTR)
			return false;
	return true;
}

static void strip_newlines(char *s, size_t *len)
{
	while (*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
}

/* Reads one pipe's worth of output; false at end of file. */
static bool drain(int fd, char **buf, size_t *len, size_t *cap)
{
	char chunk[4096];
	ssize_t r;
	do
		r = read(fd, chunk, sizeof chunk);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return false;
	if (*len + (size_t)r + 1 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 8192;
		while (ncap < *len + (size_t)r + 1)
			ncap *= 2;
		char *p = realloc(*buf, ncap);
		if (!p)
			return false;
		*buf = p;
		*cap = ncap;
	}
	memcpy(*buf + *len, chunk, (size_t)r);
	*len += (size_t)r;
	(*buf)[*len] = '\0';
	return true;
}

char *run_ctl_argv(const char *db_url, const char *const *args, int *exit_code, char **stderr_out)
{
	if (exit_code)
		*exit_code = -1;
	if (stderr_out)
		*stderr_out = NULL;
	const char *dir = bin_dir();
	if (!dir)
		return NULL;
	char exe[4096];
	snprintf(exe, sizeof exe, "%s/coolingctl", dir);

	size_t nargs = 0;
	while (args && args[nargs])
		nargs++;
	const char **argv = calloc(nargs + 4, sizeof *argv);
	if (!argv)
		return NULL;
	size_t k = 0;
	argv[k++] = exe;
	if (db_url) {
		argv[k++] = "--database";
		argv[k++] = db_url;
	}
	for (size_t i = 0; i < nargs; i++)
		argv[k++] = args[i];
	argv[k] = NULL;

	int out_pipe[2], err_pipe[2] = {-1, -1};
	if (pipe2(out_pipe, O_CLOEXEC) != 0 || (stderr_out && pipe2(err_pipe, O_CLOEXEC) != 0)) {
		free(argv);
		return NULL;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDONLY);
		if (null_fd >= 0)
			dup2(null_fd, STDIN_FILENO);
		dup2(out_pipe[1], STDOUT_FILENO);
		if (stderr_out)
			dup2(err_pipe[1], STDERR_FILENO);
		execv(exe, (char *const *)argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	free(argv);
	close(out_pipe[1]);
	if (stderr_out)
		close(err_pipe[1]);
	if (pid < 0) {
		close(out_pipe[0]);
		if (stderr_out)
			close(err_pipe[0]);
		return NULL;
	}

	char *out = NULL, *err = NULL;
	size_t out_len = 0, out_cap = 0, err_len = 0, err_cap = 0;
	struct pollfd pfd[2] = {{.fd = out_pipe[0], .events = POLLIN},
	                        {.fd = stderr_out ? err_pipe[0] : -1, .events = POLLIN}};
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].fd >= 0 && pfd[0].revents &&
		    !drain(pfd[0].fd, &out, &out_len, &out_cap)) {
			close(pfd[0].fd);
			pfd[0].fd = -1;
		}
		if (pfd[1].fd >= 0 && pfd[1].revents &&
		    !drain(pfd[1].fd, &err, &err_len, &err_cap)) {
			close(pfd[1].fd);
			pfd[1].fd = -1;
		}
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);

	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	if (exit_code)
		*exit_code = status == -1 ? -1 : exit_code_of(status);
	if (!out)
		out = calloc(1, 1);
	else
		strip_newlines(out, &out_len);
	if (stderr_out) {
		if (!err)
			err = calloc(1, 1);
		else
			strip_newlines(err, &err_len);
		*stderr_out = err;
	}
	return out;
}

/* Splits s in place on spaces; '...' and "..." group words. Returns the
 * number of words written to words (at most max - 1, NULL-terminated). */
static size_t split_words(char *s, const char **words, size_t max)
{
	size_t n = 0;
	char *r = s, *w = s;
	while (*r) {
		while (*r == ' ')
			r++;
		if (!*r || n + 1 >= max)
			break;
		words[n++] = w;
		char quote = 0;
		while (*r && (quote || *r != ' ')) {
			if (!quote && (*r == '\'' || *r == '"'))
				quote = *r++;
			else if (quote && *r == quote) {
				quote = 0;
				r++;
			} else
				*w++ = *r++;
		}
		if (*r)
			r++;
		*w++ = '\0';
	}
	words[n] = NULL;
	return n;
}

char *run_ctl(const char *db_url, int *exit_code, const char *fmt_args, ...)
{
	va_list ap;
	va_start(ap, fmt_args);
	int len = vsnprintf(NULL, 0, fmt_args, ap);
	va_end(ap);
	if (len < 0)
		return NULL;
	char *line = malloc((size_t)len + 1);
	if (!line)
		return NULL;
	va_start(ap, fmt_args);
	vsnprintf(line, (size_t)len + 1, fmt_args, ap);
	va_end(ap);

	const char *words[128];
	split_words(line, words, sizeof words / sizeof words[0]);
	char *out = run_ctl_argv(db_url, words, exit_code, NULL);
	free(line);
	return out;
}

/*
 * One way to run a built program from a test and read what it did. Output
 * goes to unlinked temporary files rather than pipes, so a child that writes
 * a lot never blocks on a parent that is only waiting for it.
 */
#include "support/proc.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int temp_fd(void)
{
	char name[] = "/tmp/cd_proc_XXXXXX";
	int fd = mkstemp(name);
	ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
	unlink(name);
	return fd;
}

/* All of the file fd (malloc'd, NUL-terminated), which it closes. */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	for (;;) {
		if (cap - n < 2) {
			buf = realloc(buf, cap *= 2);
			ck_assert_ptr_nonnull(buf);
		}
		ssize_t got = read(fd, buf + n, cap - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		ck_assert_msg(got >= 0, "read: %s", strerror(errno));
		if (got == 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	close(fd);
	*len = n;
	return buf;
}

static void apply_env(const char *const *env)
{
	for (size_t i = 0; env && env[i]; i++) {
		if (strchr(env[i], '='))
			putenv((char *)env[i]);
		else
			unsetenv(env[i]);
	}
}

void proc_exec(const char *path, const char *const *argv, const char *const *env)
{
	apply_env(env);
	execv(path, (char *const *)argv);
	fprintf(stderr, "proc_exec: %s: %s\n", path, strerror(errno));
	_exit(127);
}

void proc_run(struct proc_run *r, const char *path, const char *const *argv,
              const char *const *base_env, const char *const *env)
{
	int out = temp_fd(), err = temp_fd();
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDONLY);
		dup2(null_fd, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		close(null_fd);
		close(out);
		close(err);
		apply_env(base_env);
		proc_exec(path, argv, env);
	}
	int st;
	pid_t got;
	while ((got = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	ck_assert_msg(got == pid, "waitpid: %s", strerror(errno));
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = read_all(out, &r->out_len);
	r->err = read_all(err, &r->err_len);
}

void proc_run_free(struct proc_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	r->out_len = r->err_len = 0;
}

void proc_ctl_v(struct proc_run *r, const char *const *base_env, const char *const *env,
                const char *url, va_list args)
{
	const char *argv[32] = {"coolingctl", "-c", "/dev/null"};
	int n = 3;
	if (url != NULL) {
		argv[n++] = "--database";
		argv[n++] = url;
	}
	const char *a;
	while ((a = va_arg(args, const char *)) != NULL && n < 31)
		argv[n++] = a;
	argv[n] = NULL;
	proc_run(r, test_bin("coolingctl"), argv, base_env, env);
}

void proc_ctl(struct proc_run *r, const char *const *base_env, const char *const *env,
              const char *url, ...)
{
	va_list ap;
	va_start(ap, url);
	proc_ctl_v(r, base_env, env, url, ap);
	va_end(ap);
}

const char *test_bin(const char *name)
{
	static struct {
		char name[64];
		char path[PATH_MAX];
	} found[8];
	static size_t n_found;

	for (size_t i = 0; i < n_found; i++)
		if (strcmp(found[i].name, name) == 0)
			return found[i].path;
	if (n_found == sizeof(found) / sizeof(found[0]) || strlen(name) >= sizeof(found[0].name)) {
		fprintf(stderr, "test_bin: cannot keep the path of %s\n", name);
		exit(EXIT_FAILURE);
	}

	const char *dir = getenv("COOLINGD_BIN_DIR");
	char self[PATH_MAX];
	if (dir == NULL || dir[0] == '\0') {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			perror("test_bin: /proc/self/exe");
			exit(EXIT_FAILURE);
		}
		self[n] = '\0';
		dir = dirname(self);
		setenv("COOLINGD_BIN_DIR", dir, 1);
	}
	char *path = found[n_found].path;
	snprintf(path, sizeof(found[0].path), "%s/%s", dir, name);
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "test_bin: %s is not there; build it first\n", path);
		exit(EXIT_FAILURE);
	}
	snprintf(found[n_found].name, sizeof(found[0].name), "%s", name);
	n_found++;
	return path;
}

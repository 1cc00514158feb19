/*
 * Running the built programs from the tests: a child with a controlled
 * environment whose exit status, stdout and stderr the test reads, and the
 * lookup of the programs themselves ($COOLINGD_BIN_DIR, else the directory of
 * the test program).
 */
#ifndef CD_TEST_PROC_H
#define CD_TEST_PROC_H

#include <stdarg.h>
#include <stddef.h>

struct proc_run {
	int status;     /* exit code, 128 + signal when killed */
	char *out;      /* stdout, malloc'd, NUL-terminated */
	size_t out_len; /* its length (it may hold NULs) */
	char *err;      /* stderr, the same */
	size_t err_len;
};

/*
 * Runs path with argv (NULL-terminated, argv[0] included) and waits for it:
 * stdin is /dev/null, stdout and stderr are captured whole into r. The
 * child's environment is this process's with base_env and then env applied
 * (either may be NULL): an entry "K=V" sets K, an entry "K" unsets it. Fails
 * the test (ck_assert) when the child cannot be started or waited for; exec
 * failing gives status 127. Free r with proc_run_free().
 */
void proc_run(struct proc_run *r, const char *path, const char *const *argv,
              const char *const *base_env, const char *const *env);

/* Frees r's output; r may be run again. */
void proc_run_free(struct proc_run *r);

/*
 * Runs coolingctl -c /dev/null --database URL ARGS... (NULL-terminated, at
 * most 26 of them; without --database when url is NULL) as proc_run() does,
 * with base_env and env. Free r with proc_run_free().
 */
void proc_ctl(struct proc_run *r, const char *const *base_env, const char *const *env,
              const char *url, ...);
void proc_ctl_v(struct proc_run *r, const char *const *base_env, const char *const *env,
                const char *url, va_list args);

/*
 * The child's side, for callers that fork themselves (forkpty, kill tests):
 * applies env ("K=V" sets, "K" unsets; NULL: none) and execs path with argv.
 * Exits 127 when exec fails.
 */
_Noreturn void proc_exec(const char *path, const char *const *argv, const char *const *env);

/*
 * The path of the built program name: in $COOLINGD_BIN_DIR, else in the
 * directory of the running test program (CMake puts every program in
 * build/bin), in which case COOLINGD_BIN_DIR is set to it for the programs
 * and helpers that read it (testdb_create migrates with coolingctl). The
 * string lives as long as the process; the same name gives the same pointer.
 * Exits the process with a message when the program is not there.
 */
const char *test_bin(const char *name);

#endif

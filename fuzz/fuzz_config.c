/*
 * The configuration loader (lib/config.c).
 * - The input is written to a file and loaded with config_load, exactly as
 *   the daemon does at start-up: it must never crash; a refusal leaves a
 *   terminated, non-empty message; an accepted configuration has every
 *   value within its documented range and dumps and compares cleanly.
 * The database URL's masking is libpq's parser (lib/db/conninfo.c, in the
 * database layer that fuzz targets do not link): tests/unit/test_conninfo.c.
 */
#include <stdbool.h>
#include <sys/mman.h> /* memfd_create; the build defines _GNU_SOURCE */
#include <unistd.h>

#include "config.h"
#include "fuzz_util.h"

extern char **environ;

static int cfg_fd = -1;
static char cfg_path[4096];

static void remove_tmp(void)
{
	unlink(cfg_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The environment beats the file: a COOLINGD_* variable of the shell
	 * would hide what the file says. */
	for (bool again = true; again;) {
		again = false;
		for (char **e = environ; *e != NULL; e++) {
			if (strncmp(*e, "COOLINGD_", 9) == 0) {
				char *name = strndup(*e, strcspn(*e, "="));

				if (name == NULL)
					abort();
				unsetenv(name);
				free(name);
				again = true;
				break;
			}
		}
	}
	/* An in-memory file when the kernel has them, else a temporary one. */
	cfg_fd = memfd_create("coolingd-fuzz.conf", 0);
	if (cfg_fd >= 0) {
		snprintf(cfg_path, sizeof(cfg_path), "/proc/self/fd/%d", cfg_fd);
		if (access(cfg_path, R_OK) == 0)
			return 0;
		close(cfg_fd);
	}
	const char *dir = getenv("TMPDIR");
	int n = snprintf(cfg_path, sizeof(cfg_path), "%s/coolingd-fuzz-XXXXXX",
	                 dir && dir[0] ? dir : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(cfg_path) || (cfg_fd = mkstemp(cfg_path)) < 0) {
		perror("fuzz_config: a temporary file");
		abort();
	}
	atexit(remove_tmp);
	return 0;
}

static void write_config(const uint8_t *data, size_t size)
{
	if (ftruncate(cfg_fd, 0) != 0 ||
	    (size > 0 && pwrite(cfg_fd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz_config: writing the config file");
		abort();
	}
}

static void check_loaded(const struct config *c)
{
	FUZZ_CHECK(c->listen_port >= 1 && c->listen_port <= 65535, "port %d", c->listen_port);
	FUZZ_CHECK(c->listen_host[0] != '\0', "empty listen host");
	FUZZ_CHECK(c->threads >= 0 && c->threads <= 256, "threads %lld", (long long)c->threads);
	FUZZ_CHECK(c->max_body_bytes >= 64 && c->max_body_bytes <= (64 << 20), "max_body_bytes");
	FUZZ_CHECK(c->request_timeout_s >= 1 && c->request_timeout_s <= 3600, "request_timeout");
	FUZZ_CHECK(c->pool_size >= 1 && c->pool_size <= 1024, "pool_size");
	FUZZ_CHECK(c->cooling_period_s >= -1, "cooling_period");
	FUZZ_CHECK(c->threshold_mrp >= -1, "threshold_mrp");
	FUZZ_CHECK(c->max_clock_skew_s >= 0 && c->max_backdate_s >= 0, "skew/backdate");
	FUZZ_CHECK(fuzz_terminated(c->database_url, sizeof(c->database_url)), "url unterminated");
	FUZZ_CHECK(fuzz_terminated(c->timezone, sizeof(c->timezone)), "timezone unterminated");

	struct policy p;
	config_policy(c, &p);
	FUZZ_CHECK(p.cooling_period_s >= 0 && p.threshold_mrp >= 0, "policy in force is negative");
	struct policy_schedule s;
	config_schedule(c, &s);
	FUZZ_CHECK(s.n >= 1 && s.n <= POLICY_MAX_SCHEDULE, "a schedule of %d entries", s.n);
	for (int e = 1; e < s.n; e++)
		FUZZ_CHECK(s.entries[e].from_days > s.entries[e - 1].from_days &&
		               strcmp(s.entries[e].policy.name, s.entries[e - 1].policy.name) != 0,
		           "schedule entry %d does not follow the one before", e);

	static char dump[16384];
	FILE *f = fmemopen(dump, sizeof(dump), "w");
	FUZZ_CHECK(f != NULL, "fmemopen");
	config_dump(c, f, NULL);
	fclose(f);
	FUZZ_CHECK(fuzz_terminated(dump, sizeof(dump)), "config_dump unterminated");

	struct config def;
	char msg[512];
	FUZZ_CHECK(config_load(&def, NULL, false, msg, sizeof(msg)), "defaults refused: %s", msg);
	config_restart_needed(c, &def, msg, sizeof(msg));
	FUZZ_CHECK(fuzz_terminated(msg, sizeof(msg)), "config_restart_needed unterminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char msg[512];

	write_config(data, size);
	memset(msg, 'x', sizeof(msg));
	if (config_load(&c, cfg_path, false, msg, sizeof(msg)))
		check_loaded(&c);
	else
		FUZZ_CHECK(fuzz_terminated(msg, sizeof(msg)) && msg[0] != '\0',
		           "refusal without a message");

	return 0;
}

/*
 * Shared steps of the end-to-end tests: one throwaway database and one real
 * coolingd per test program, lenders and API clients made with coolingctl,
 * valid test IINs, timestamps relative to now, JSON look-ups and SQL counts
 * for checking what was (not) written.
 *
 * Typical use, in Check's fork mode:
 *
 *   static struct e2e_env env;
 *   static void setup(void) { e2e_start(&env, "loans", extra_env); ... }
 *   static void teardown(void) { e2e_stop(&env); }
 *   tcase_add_unchecked_fixture(tc, setup, teardown);
 */
#ifndef CD_TEST_E2E_H
#define CD_TEST_E2E_H

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "support/daemon.h"
#include "support/httpc.h"

struct e2e_env {
	char *db_url;    /* the fresh database (malloc'd) */
	struct daemon d; /* d.port: where coolingd listens */
};

/*
 * Creates a fresh migrated database (testdb_create(prefix)) and starts
 * coolingd on it with extra_env (NULL-terminated "KEY=VALUE", may be NULL).
 * Exits the process with a message when either fails: meant for unchecked
 * fixtures, where there is no test to fail.
 */
void e2e_start(struct e2e_env *e, const char *prefix, const char *const *extra_env);

/* Stops coolingd and drops the database. When coolingd did not exit 0 (a
 * crash, a hang, a sanitizer report), its log goes to stderr and the test
 * program exits with a failure. */
void e2e_stop(struct e2e_env *e);

/* coolingctl lender add ID --kind KIND; exits the process on failure. */
void e2e_lender_add(const struct e2e_env *e, const char *id, const char *kind);

/* coolingctl client add --name NAME --role ROLE [--lender LENDER]: the
 * bearer token (malloc'd); exits the process on failure. */
char *e2e_client_add(const struct e2e_env *e, const char *name, const char *role,
                     const char *lender);

/* A valid IIN (REGULATION.md), a different one for every seed 0..9999. */
void e2e_iin(char out[13], unsigned seed);

/* The wall clock plus offset_s, as "YYYY-MM-DDTHH:MM:SSZ". The database runs
 * on the same machine, so this is the daemon's "now" to within a second. */
void e2e_ts_from_now(char out[32], long offset_s);

/* Microseconds since the epoch of an RFC 3339 timestamp ("...Z" or
 * "...+hh:mm", optional fraction); INT64_MIN when it does not parse. Written
 * here rather than taken from lib/ so that the tests do not share its bugs. */
int64_t e2e_ts_parse(const char *s);

/* The wall clock (CLOCK_REALTIME) in microseconds since the epoch: the
 * database's clock too, within the precision the tests need. */
int64_t e2e_wall_us(void);

/* True when s is "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DDTHH:MM:SS.ffffffZ"
 * (exactly six digits of fraction): UTC, written with Z. */
bool e2e_is_utc_z(const char *s);

/* The value at a dotted path ("loan.status", "error.field") or NULL. */
json_t *e2e_json_at(json_t *root, const char *path);
/* Its string value, or NULL when absent or not a string. */
const char *e2e_jstr(json_t *root, const char *path);

/*
 * Sends one request (http_req()) and fails the test (ck_abort) when no
 * response came. body may be NULL; headers is "K: V\r\n..." or NULL.
 */
void e2e_call(const struct e2e_env *e, const char *method, const char *path, const char *token,
              const char *body, const char *headers, struct http_resp *out);

/* The first column of the first row of a one-row query, as a number; the
 * params are NULL-terminated text parameters. Fails the test on an error. */
long long e2e_sql_num(const struct e2e_env *e, const char *sql, ...);

/* Audit events of one loan, all types when type is NULL. */
long long e2e_audit_count(const struct e2e_env *e, const char *lender, const char *loan_id,
                          const char *type);

/* Starts the shared test server ($COOLINGD_TEST_DATABASE_URL) again when it
 * does not answer, after a test that stopped it; says so on stderr, after
 * "label: ", when that fails. */
void e2e_ensure_server_up(const char *label);

/* The whole file, NUL-terminated (malloc'd); *len (unless NULL) gets its
 * size. NULL when it cannot be read. */
char *e2e_read_file(const char *path, size_t *len);

/* True when a line of the file holds a and (unless b is NULL) b; false too
 * when the file cannot be read. */
bool e2e_file_has_line(const char *path, const char *a, const char *b);

/* The first line of a log that reports a sanitizer finding (AddressSanitizer,
 * LeakSanitizer, UBSan's "runtime error"), without its newline (malloc'd);
 * NULL when there is none or the file cannot be read. */
char *e2e_log_sanitizer_report(const char *path);

/* True when resp is an error answer with that status, error.code and
 * (unless field is NULL) error.field. */
bool e2e_is_error(const struct http_resp *resp, int status, const char *code, const char *field);

/* Asserts an error answer (e2e_is_error()); the body is shown when it does
 * not fit. */
#define E2E_ASSERT_ERROR(resp, st, code_, field_)                                                  \
	do {                                                                                       \
		const struct http_resp *r_ = (resp);                                               \
		const char *fd_ = (field_);                                                        \
		ck_assert_msg(e2e_is_error(r_, (st), (code_), fd_),                                \
		              "expected %d %s (field %s), got %d: %s", (st), (code_),              \
		              fd_ ? fd_ : "-", r_->status, r_->body ? r_->body : "");              \
	} while (0)

/* Asserts a status; the body is shown when it differs. */
#define E2E_ASSERT_STATUS(resp, st)                                                                \
	do {                                                                                       \
		const struct http_resp *r_ = (resp);                                               \
		ck_assert_msg(r_->status == (st), "expected status %d, got %d: %s", (st),          \
		              r_->status, r_->body ? r_->body : "");                               \
	} while (0)

/* Asserts that the string at a dotted path equals want (NULL: JSON null or
 * absent). */
#define E2E_ASSERT_JSTR(root, path, want)                                                          \
	do {                                                                                       \
		const char *w_ = (want);                                                           \
		json_t *v_ = e2e_json_at((root), (path));                                          \
		if (w_ == NULL)                                                                    \
			ck_assert_msg(v_ == NULL || json_is_null(v_), "%s: expected null",         \
			              (path));                                                     \
		else                                                                               \
			ck_assert_msg(                                                             \
			    json_is_string(v_) && strcmp(json_string_value(v_), w_) == 0,          \
			    "%s: expected \"%s\", got %s", (path), w_,                             \
			    json_is_string(v_) ? json_string_value(v_) : "(not a string)");        \
	} while (0)

#endif

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
#include <stddef.h>
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

/* The audit events that requests write: all but the clock's, which come
 * whenever a period of some earlier test's loan ends. */
#define E2E_REQUEST_EVENT                                                                          \
	"type NOT IN ('cooling_period_ended', 'voluntary_refusal_applied', "                       \
	"'voluntary_refusal_lifted')"

/* Audit events of one loan of the given type; when type is NULL, those
 * that requests wrote (every type but the clock's time events). */
long long e2e_audit_count(const struct e2e_env *e, const char *lender, const char *loan_id,
                          const char *type);

/* Seals until every audit event `e` that the SQL condition `where` picks
 * ($1: param) is in the chain, at most 30 s. A daemon's sealer may hold the
 * sealing lock when the test asks, and then the test's own call seals
 * nothing. */
void e2e_seal_until(const struct e2e_env *e, const char *where, const char *param);

/* Waits, up to timeout_ms, until the loan has an audit event of the type. */
bool e2e_wait_audit_event(const struct e2e_env *e, const char *lender, const char *loan_id,
                          const char *type, long long timeout_ms);

/* Starts the shared test server ($COOLINGD_TEST_DATABASE_URL) again when it
 * does not answer, after a test that stopped it; says so on stderr, after
 * "label: ", when that fails. */
void e2e_ensure_server_up(const char *label);

/* The value of one series on the metrics listener at 127.0.0.1:port (GET
 * /metrics, sent raw so that it is not recorded as an API exchange): name
 * and labels exactly as written ("coolingd_db_queue_length",
 * "coolingd_db_pool_connections{state=\"busy\"}"). Fails the test when the
 * listener does not answer 200 or the series is absent. */
double e2e_metric(int port, const char *series);

/* "COOLINGD_METRICS_LISTEN=127.0.0.1:PORT" for a daemon's environment, on
 * a free port (*port); one static buffer, kept for the process. */
const char *e2e_metrics_listen(int *port);

/* The refusals with blocker b in the decision statistics (sealed events)
 * of the last and the next hour, as token reads them. */
long long e2e_stats_refused_by(const struct e2e_env *e, const char *token, const char *b);

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

/* ---- the loan API (CONTRACT.md, "HTTP API"), one step a call ----
 *
 * Every test program speaks the API through these, so that a request's shape
 * is written once: an approval is e2e_approve() (or, for a body a test wants
 * to write itself, e2e_post_approval()), an act is e2e_act(), a payout is
 * e2e_disburse(). The steps that assert (e2e_approve, e2e_act_expect,
 * e2e_consent, e2e_eligible_loan, e2e_assert_strings) are for Check tests;
 * e2e_approve_or_exit is for unchecked fixtures. */

/* An amount never cooled, and one above 150 MRP in 2025 and 2026 (cooled when
 * online). */
#define E2E_SMALL_AMOUNT "1000.00"
#define E2E_BIG_AMOUNT   "1000000.00"

/* first_time_borrower of an approval: false (the zero value), true, or left
 * out so that coolingd derives it. */
enum e2e_first_time {
	E2E_REPEAT_BORROWER = 0,
	E2E_FIRST_TIME_BORROWER,
	E2E_FIRST_TIME_UNSTATED,
};

/*
 * What an approval says besides its loan_id. A zeroed struct (or NULL) is a
 * repeat borrower's unsecured online loan of E2E_SMALL_AMOUNT, approved now,
 * without consent, for the IIN of seed 0.
 */
struct e2e_loan {
	unsigned iin_seed;    /* borrower_iin = e2e_iin(iin_seed) ... */
	const char *iin;      /* ... unless this is set */
	const char *amount;   /* tenge as text; NULL: E2E_SMALL_AMOUNT */
	const char *currency; /* NULL: "KZT" */
	const char *channel;  /* NULL: "online" */
	bool secured;
	enum e2e_first_time first_time;
	const char *approved_at; /* sent when not NULL */
	const char *consent_at;  /* sent when not NULL ... */
	bool consent_now;        /* ... or, when set, e2e_ts_from_now(0) */
	const char *extra;       /* more members, each starting with ','; or NULL */
};

/* "/v1/lenders/LENDER/loans/LOAN_ID" and, when act is not NULL, "/ACT";
 * "/v1/lenders/LENDER/loans" when loan_id is NULL. Fails the test when it
 * does not fit. */
void e2e_loan_path(char *out, size_t size, const char *lender, const char *loan_id,
                   const char *act);

/* The approval's JSON text, members in this order: loan_id,
 * borrower_iin, amount, currency (KZT unless o says), channel, secured,
 * first_time_borrower, approved_at, consent_at, then extra. Returns its
 * length; fails the test when it does not fit. */
size_t e2e_approval_body(char *out, size_t size, const char *loan_id, const struct e2e_loan *o);

/* POST /v1/lenders/LENDER/loans with the body as given (may be NULL) and
 * headers ("K: V\r\n..." or NULL); asserts only that an answer came. */
void e2e_post_approval(const struct e2e_env *e, const char *token, const char *lender,
                       const char *body, const char *headers, struct http_resp *out);

/* Records a new loan (e2e_approval_body(o)) and asserts 201. The answer goes
 * to *out, or is freed when out is NULL. */
void e2e_approve(const struct e2e_env *e, const char *token, const char *lender,
                 const char *loan_id, const struct e2e_loan *o, struct http_resp *out);

/* e2e_approve() under a profile that the answer must name: asserts that
 * the loan is recorded in o's currency (KZT when o names none) under the
 * profile policy ("ru-2025-09"). The answer goes to *out, or is freed when
 * out is NULL. */
void e2e_approve_under(const struct e2e_env *e, const char *token, const char *lender,
                       const char *loan_id, const char *policy, const struct e2e_loan *o,
                       struct http_resp *out);

/* An approval of o in a currency the profile in force does not take:
 * 422 naming currency, and nothing written (no loan, no approval's
 * event). */
void e2e_assert_currency_refused(const struct e2e_env *e, const char *token, const char *lender,
                                 const char *loan_id, const struct e2e_loan *o);

/* The same for an unchecked fixture: on anything but 201 it says why on
 * stderr, stops coolingd (e2e_stop()) and exits the process. */
void e2e_approve_or_exit(struct e2e_env *e, const char *token, const char *lender,
                         const char *loan_id, const struct e2e_loan *o);

/* POST .../loans/LOAN_ID/ACT ("consent", "in-person-verification",
 * "cancellation", "disbursement") with body and headers (either may be
 * NULL); asserts only that an answer came. */
void e2e_act(const struct e2e_env *e, const char *token, const char *lender, const char *loan_id,
             const char *act, const char *body, const char *headers, struct http_resp *out);

/* e2e_act() without headers, asserting the status; the answer is freed. */
void e2e_act_expect(const struct e2e_env *e, const char *token, const char *lender,
                    const char *loan_id, const char *act, const char *body, int want_status);

/* Consent now ("{}"), asserting 200. */
void e2e_consent(const struct e2e_env *e, const char *token, const char *lender,
                 const char *loan_id);

/* POST .../disbursement with "{}" and, unless idem_key is NULL, an
 * Idempotency-Key; asserts only that an answer came. */
void e2e_disburse(const struct e2e_env *e, const char *token, const char *lender,
                  const char *loan_id, const char *idem_key, struct http_resp *out);

/* GET .../loans/LOAN_ID; asserts only that an answer came. */
void e2e_get_loan(const struct e2e_env *e, const char *token, const char *lender,
                  const char *loan_id, struct http_resp *out);

/* A repeat borrower's small online loan with consent (e2e_approve(),
 * e2e_consent()), then read back: asserts that it is "eligible" at once. */
void e2e_eligible_loan(const struct e2e_env *e, const char *token, const char *lender,
                       const char *loan_id, unsigned iin_seed);

/* Seconds of the Retry-After header, or -1 when absent. */
int e2e_retry_after(const struct http_resp *r);

/* Asserts that arr is a JSON array of exactly the given strings, in order
 * (NULL-terminated); what names it in the message. */
void e2e_assert_strings(json_t *arr, const char *what, ...);

/* The environment's database with another coolingd, at 127.0.0.1:port, for
 * the steps above. The copy owns nothing: never pass it to e2e_stop(). */
struct e2e_env e2e_env_on(const struct e2e_env *e, int port);

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

/* Asserts an error answer whose error.request_id is the answer's Request-Id
 * header (CONTRACT.md v1.2). */
#define E2E_ASSERT_REQUEST_ID_IN_BODY(resp)                                                        \
	do {                                                                                       \
		const struct http_resp *q_ = (resp);                                               \
		const char *hdr_ = http_header(q_, "Request-Id");                                  \
		ck_assert_msg(hdr_ != NULL, "no Request-Id header (status %d)", q_->status);       \
		E2E_ASSERT_JSTR(q_->json, "error.request_id", hdr_);                               \
	} while (0)

/* Asserts a 409 invalid_state with that error.reason, and its request id
 * (E2E_ASSERT_REQUEST_ID_IN_BODY). */
#define E2E_ASSERT_INVALID_STATE(resp, reason_)                                                    \
	do {                                                                                       \
		const struct http_resp *s_ = (resp);                                               \
		E2E_ASSERT_ERROR(s_, 409, "invalid_state", NULL);                                  \
		E2E_ASSERT_JSTR(s_->json, "error.reason", (reason_));                              \
		E2E_ASSERT_REQUEST_ID_IN_BODY(s_);                                                 \
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

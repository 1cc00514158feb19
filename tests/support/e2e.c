/*
 * Shared steps of the end-to-end tests (see e2e.h).
 */
#include "support/e2e.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "support/testdb.h"

void e2e_start(struct e2e_env *e, const char *prefix, const char *const *extra_env)
{
	memset(e, 0, sizeof *e);
	e->d.pid = -1;
	e->db_url = testdb_create(prefix);
	if (!daemon_start(&e->d, e->db_url, extra_env)) {
		fprintf(stderr, "e2e_start: coolingd did not start\n");
		testdb_drop(e->db_url);
		exit(EXIT_FAILURE);
	}
}

void e2e_stop(struct e2e_env *e)
{
	int status = daemon_stop(&e->d);
	if (status != 0)
		daemon_dump_log(&e->d);
	if (e->db_url) {
		testdb_drop(e->db_url);
		free(e->db_url);
		e->db_url = NULL;
	}
	/* A daemon that does not exit 0 on SIGTERM crashed, hung, or (in the
	 * sanitizer build) reported a leak or undefined behaviour: the program
	 * fails, whatever its tests said. */
	if (status != 0) {
		fprintf(stderr, "e2e_stop: coolingd exited with status %d\n", status);
		exit(EXIT_FAILURE);
	}
}

void e2e_lender_add(const struct e2e_env *e, const char *id, const char *kind)
{
	int code = -1;
	char *out = run_ctl(e->db_url, &code, "lender add %s --kind %s", id, kind);
	if (out == NULL || code != 0) {
		fprintf(stderr, "e2e: coolingctl lender add %s failed (exit %d)\n", id, code);
		exit(EXIT_FAILURE);
	}
	free(out);
}

char *e2e_client_add(const struct e2e_env *e, const char *name, const char *role,
                     const char *lender)
{
	int code = -1;
	char *out = lender
	                ? run_ctl(e->db_url, &code, "client add --name %s --role %s --lender %s",
	                          name, role, lender)
	                : run_ctl(e->db_url, &code, "client add --name %s --role %s", name, role);
	if (out == NULL || code != 0 || strncmp(out, "cdt_", 4) != 0 || strchr(out, '\n')) {
		fprintf(stderr, "e2e: coolingctl client add %s failed (exit %d): %s\n", name, code,
		        out ? out : "");
		exit(EXIT_FAILURE);
	}
	return out;
}

static int check_digit(const char *d)
{
	static const int w1[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	static const int w2[11] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2};
	int s = 0;
	for (int i = 0; i < 11; i++)
		s += (d[i] - '0') * w1[i];
	if (s % 11 != 10)
		return s % 11;
	s = 0;
	for (int i = 0; i < 11; i++)
		s += (d[i] - '0') * w2[i];
	return s % 11 == 10 ? -1 : s % 11;
}

void e2e_iin(char out[13], unsigned seed)
{
	/* Born 1990-01-DD, a man of the 1900s (digit 3), serial = seed; the
	 * day moves until the check digit exists. The serial alone keeps
	 * different seeds apart. */
	for (unsigned day = 1; day <= 28; day++) {
		snprintf(out, 13, "9001%02u3%04u", day, seed % 10000);
		int c = check_digit(out);
		if (c >= 0) {
			out[11] = (char)('0' + c);
			out[12] = '\0';
			return;
		}
	}
	ck_abort_msg("no valid IIN for seed %u", seed);
}

void e2e_ts_from_now(char out[32], long offset_s)
{
	time_t t = time(NULL) + offset_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t e2e_ts_parse(const char *s)
{
	if (s == NULL)
		return INT64_MIN;
	int y, mo, d, h, mi, sec, n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return INT64_MIN;
	const char *p = s + n;
	int64_t frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 6)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return INT64_MIN;
		for (; digits < 6; digits++)
			frac *= 10;
	}
	long off = 0;
	if (*p == 'Z' && p[1] == '\0') {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = (p[1] - '0') * 10 + (p[2] - '0'), om = (p[4] - '0') * 10 + (p[5] - '0');
		off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
	} else {
		return INT64_MIN;
	}
	struct tm tm = {.tm_year = y - 1900,
	                .tm_mon = mo - 1,
	                .tm_mday = d,
	                .tm_hour = h,
	                .tm_min = mi,
	                .tm_sec = sec};
	time_t t = timegm(&tm);
	return ((int64_t)t - off) * 1000000 + frac;
}

int64_t e2e_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool e2e_is_utc_z(const char *s)
{
	if (s == NULL)
		return false;
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	}
	const char *p = s + sizeof shape - 1;
	if (*p == '.') {
		for (int i = 1; i <= 6; i++)
			if (p[i] < '0' || p[i] > '9')
				return false;
		p += 7;
	}
	return strcmp(p, "Z") == 0;
}

json_t *e2e_json_at(json_t *root, const char *path)
{
	char key[128];
	json_t *v = root;
	const char *p = path;
	while (v != NULL && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof key)
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		v = json_is_object(v) ? json_object_get(v, key) : NULL;
		p += n;
		if (*p == '.')
			p++;
	}
	return v;
}

const char *e2e_jstr(json_t *root, const char *path)
{
	json_t *v = e2e_json_at(root, path);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool e2e_is_error(const struct http_resp *resp, int status, const char *code, const char *field)
{
	const char *c = e2e_jstr(resp->json, "error.code");
	const char *f = e2e_jstr(resp->json, "error.field");
	return resp->status == status && c != NULL && strcmp(c, code) == 0 &&
	       (field == NULL || (f != NULL && strcmp(f, field) == 0));
}

void e2e_call(const struct e2e_env *e, const char *method, const char *path, const char *token,
              const char *body, const char *headers, struct http_resp *out)
{
	int rc = http_req(e->d.port, method, path, token, body, headers, out);
	ck_assert_msg(rc == 0, "%s %s: no response from coolingd", method, path);
}

long long e2e_sql_num(const struct e2e_env *e, const char *sql, ...)
{
	const char *params[16];
	int n = 0;
	va_list ap;
	va_start(ap, sql);
	for (const char *p; n < 16 && (p = va_arg(ap, const char *)) != NULL;)
		params[n++] = p;
	va_end(ap);
	PGconn *c = testdb_connect(e->db_url);
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	bool ok =
	    PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
	long long v = ok ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
	char msg[256];
	snprintf(msg, sizeof msg, "%s", ok ? "" : PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	ck_assert_msg(ok, "SQL %s: %s", sql, msg);
	return v;
}

long long e2e_audit_count(const struct e2e_env *e, const char *lender, const char *loan_id,
                          const char *type)
{
	if (type == NULL)
		return e2e_sql_num(e,
		                   "SELECT count(*) FROM audit_event WHERE lender_id = $1 AND "
		                   "loan_id = $2 AND " E2E_REQUEST_EVENT,
		                   lender, loan_id, NULL);
	return e2e_sql_num(e,
	                   "SELECT count(*) FROM audit_event WHERE lender_id = $1 AND loan_id = $2 "
	                   "AND type = $3",
	                   lender, loan_id, type, NULL);
}

void e2e_seal_until(const struct e2e_env *e, const char *where, const char *param)
{
	char sql[1024];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM audit_event e WHERE (%s) AND NOT EXISTS (SELECT 1 FROM "
	         "audit_chain c WHERE c.event_id = e.id)",
	         where);
	PGconn *c = testdb_connect(e->db_url);
	long long deadline = test_now_ms() + 30000, left;
	for (;;) {
		testdb_seal(c);
		left = e2e_sql_num(e, sql, param, NULL);
		if (left == 0)
			break;
		ck_assert_msg(test_now_ms() < deadline, "%lld events unsealed after 30 s", left);
		test_sleep_ms(20);
	}
	PQfinish(c);
}

bool e2e_wait_audit_event(const struct e2e_env *e, const char *lender, const char *loan_id,
                          const char *type, long long timeout_ms)
{
	long long deadline = test_now_ms() + timeout_ms;
	for (;;) {
		if (e2e_audit_count(e, lender, loan_id, type) > 0)
			return true;
		if (test_now_ms() >= deadline)
			return false;
		test_sleep_ms(50);
	}
}

void e2e_ensure_server_up(const char *label)
{
	const char *url = getenv("COOLINGD_TEST_DATABASE_URL");
	if (url && PQping(url) == PQPING_OK)
		return;
	if (!testdb_server_start())
		fprintf(stderr, "%s: could not start the test server again\n", label);
}

double e2e_metric(int port, const char *series)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
	                          "Connection: close\r\n\r\n";
	char *resp = NULL;
	int rc = http_raw(port, req, sizeof req - 1, &resp, HTTPC_TIMEOUT_MS);
	ck_assert_msg(rc == 0 && resp != NULL && strncmp(resp, "HTTP/1.1 200 ", 13) == 0,
	              "no scrape from the metrics listener on %d: %.200s", port, resp ? resp : "");
	size_t n = strlen(series);
	const char *body = strstr(resp, "\r\n\r\n");
	for (const char *line = body ? body + 4 : ""; *line != '\0';) {
		const char *end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if ((size_t)(end - line) > n && strncmp(line, series, n) == 0 && line[n] == ' ') {
			double v = strtod(line + n + 1, NULL);
			free(resp);
			return v;
		}
		line = *end ? end + 1 : end;
	}
	ck_abort_msg("no %s in the scrape:\n%s", series, resp);
	return 0;
}

char *e2e_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0, r;
	char *buf = malloc(cap);
	while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n - 1 == 0) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	bool failed = ferror(f);
	fclose(f);
	if (!buf || failed) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* The first line of the file for which match(line, arg) holds, without its
 * newline (malloc'd), or NULL. */
static char *first_line(const char *path, bool (*match)(const char *, const void *),
                        const void *arg)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *line = NULL, *found = NULL;
	size_t cap = 0;
	ssize_t n;
	while (!found && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (match(line, arg))
			found = strdup(line);
	}
	free(line);
	fclose(f);
	return found;
}

struct two_needles {
	const char *a, *b;
};

static bool holds_both(const char *line, const void *arg)
{
	const struct two_needles *t = arg;
	return strstr(line, t->a) && (t->b == NULL || strstr(line, t->b));
}

bool e2e_file_has_line(const char *path, const char *a, const char *b)
{
	struct two_needles t = {a, b};
	char *line = first_line(path, holds_both, &t);
	bool found = line != NULL;
	free(line);
	return found;
}

static bool sanitizer_says(const char *line, const void *arg)
{
	(void)arg;
	return strstr(line, "AddressSanitizer") || strstr(line, "LeakSanitizer") ||
	       strstr(line, "runtime error");
}

char *e2e_log_sanitizer_report(const char *path)
{
	return first_line(path, sanitizer_says, NULL);
}

/* ---- the loan API ---- */

void e2e_loan_path(char *out, size_t size, const char *lender, const char *loan_id, const char *act)
{
	int n;
	if (loan_id == NULL)
		n = snprintf(out, size, "/v1/lenders/%s/loans", lender);
	else if (act == NULL)
		n = snprintf(out, size, "/v1/lenders/%s/loans/%s", lender, loan_id);
	else
		n = snprintf(out, size, "/v1/lenders/%s/loans/%s/%s", lender, loan_id, act);
	ck_assert_msg(n > 0 && (size_t)n < size, "path of %s/%s too long", lender,
	              loan_id ? loan_id : "");
}

size_t e2e_approval_body(char *out, size_t size, const char *loan_id, const struct e2e_loan *o)
{
	static const struct e2e_loan defaults;
	static const char *const first_time[] = {
	    [E2E_REPEAT_BORROWER] = ",\"first_time_borrower\":false",
	    [E2E_FIRST_TIME_BORROWER] = ",\"first_time_borrower\":true",
	    [E2E_FIRST_TIME_UNSTATED] = "",
	};
	if (o == NULL)
		o = &defaults;
	char iin[13], now[32], approved[64] = "", consent[64] = "";
	if (o->iin)
		snprintf(iin, sizeof iin, "%s", o->iin);
	else
		e2e_iin(iin, o->iin_seed);
	if (o->approved_at)
		snprintf(approved, sizeof approved, ",\"approved_at\":\"%s\"", o->approved_at);
	const char *consent_at = o->consent_at;
	if (o->consent_now) {
		e2e_ts_from_now(now, 0);
		consent_at = now;
	}
	if (consent_at)
		snprintf(consent, sizeof consent, ",\"consent_at\":\"%s\"", consent_at);
	int n = snprintf(out, size,
	                 "{\"loan_id\":\"%s\",\"borrower_iin\":\"%s\",\"amount\":\"%s\","
	                 "\"currency\":\"%s\",\"channel\":\"%s\",\"secured\":%s%s%s%s%s}",
	                 loan_id, iin, o->amount ? o->amount : E2E_SMALL_AMOUNT,
	                 o->currency ? o->currency : "KZT", o->channel ? o->channel : "online",
	                 o->secured ? "true" : "false", first_time[o->first_time], approved,
	                 consent, o->extra ? o->extra : "");
	ck_assert_msg(n > 0 && (size_t)n < size, "approval of %s: body too long", loan_id);
	return (size_t)n;
}

void e2e_post_approval(const struct e2e_env *e, const char *token, const char *lender,
                       const char *body, const char *headers, struct http_resp *out)
{
	char path[128];
	e2e_loan_path(path, sizeof path, lender, NULL, NULL);
	e2e_call(e, "POST", path, token, body, headers, out);
}

void e2e_assert_currency_refused(const struct e2e_env *e, const char *token, const char *lender,
                                 const char *loan_id, const struct e2e_loan *o)
{
	char body[1024];
	struct http_resp r;
	e2e_approval_body(body, sizeof body, loan_id, o);
	e2e_post_approval(e, token, lender, body, NULL, &r);
	E2E_ASSERT_ERROR(&r, 422, "validation_failed", "currency");
	http_resp_free(&r);
	e2e_get_loan(e, token, lender, loan_id, &r);
	E2E_ASSERT_STATUS(&r, 404);
	http_resp_free(&r);
	ck_assert_int_eq(e2e_audit_count(e, lender, loan_id, "approval_recorded"), 0);
}

void e2e_approve(const struct e2e_env *e, const char *token, const char *lender,
                 const char *loan_id, const struct e2e_loan *o, struct http_resp *out)
{
	char body[1024];
	struct http_resp r;
	e2e_approval_body(body, sizeof body, loan_id, o);
	e2e_post_approval(e, token, lender, body, NULL, &r);
	ck_assert_msg(r.status == 201, "approval %s/%s: %d %s", lender, loan_id, r.status, r.body);
	if (out)
		*out = r;
	else
		http_resp_free(&r);
}

void e2e_approve_under(const struct e2e_env *e, const char *token, const char *lender,
                       const char *loan_id, const char *policy, const struct e2e_loan *o,
                       struct http_resp *out)
{
	struct http_resp r;
	e2e_approve(e, token, lender, loan_id, o, &r);
	E2E_ASSERT_JSTR(r.json, "currency", o && o->currency ? o->currency : "KZT");
	E2E_ASSERT_JSTR(r.json, "policy", policy);
	if (out)
		*out = r;
	else
		http_resp_free(&r);
}

void e2e_approve_or_exit(struct e2e_env *e, const char *token, const char *lender,
                         const char *loan_id, const struct e2e_loan *o)
{
	char body[1024], path[128];
	struct http_resp r;
	e2e_approval_body(body, sizeof body, loan_id, o);
	e2e_loan_path(path, sizeof path, lender, NULL, NULL);
	if (http_req(e->d.port, "POST", path, token, body, NULL, &r) != 0 || r.status != 201) {
		fprintf(stderr, "e2e: approval %s/%s: %d %s\n", lender, loan_id, r.status,
		        r.body ? r.body : "(no answer)");
		e2e_stop(e);
		exit(EXIT_FAILURE);
	}
	http_resp_free(&r);
}

void e2e_act(const struct e2e_env *e, const char *token, const char *lender, const char *loan_id,
             const char *act, const char *body, const char *headers, struct http_resp *out)
{
	char path[256];
	e2e_loan_path(path, sizeof path, lender, loan_id, act);
	e2e_call(e, "POST", path, token, body, headers, out);
}

void e2e_act_expect(const struct e2e_env *e, const char *token, const char *lender,
                    const char *loan_id, const char *act, const char *body, int want_status)
{
	struct http_resp r;
	e2e_act(e, token, lender, loan_id, act, body, NULL, &r);
	ck_assert_msg(r.status == want_status, "%s %s/%s: expected %d, got %d: %s", act, lender,
	              loan_id, want_status, r.status, r.body);
	http_resp_free(&r);
}

void e2e_consent(const struct e2e_env *e, const char *token, const char *lender,
                 const char *loan_id)
{
	e2e_act_expect(e, token, lender, loan_id, "consent", "{}", 200);
}

void e2e_disburse(const struct e2e_env *e, const char *token, const char *lender,
                  const char *loan_id, const char *idem_key, struct http_resp *out)
{
	char hdr[128] = "";
	if (idem_key)
		snprintf(hdr, sizeof hdr, "Idempotency-Key: %s\r\n", idem_key);
	e2e_act(e, token, lender, loan_id, "disbursement", "{}", idem_key ? hdr : NULL, out);
}

void e2e_get_loan(const struct e2e_env *e, const char *token, const char *lender,
                  const char *loan_id, struct http_resp *out)
{
	char path[256];
	e2e_loan_path(path, sizeof path, lender, loan_id, NULL);
	e2e_call(e, "GET", path, token, NULL, NULL, out);
}

void e2e_eligible_loan(const struct e2e_env *e, const char *token, const char *lender,
                       const char *loan_id, unsigned iin_seed)
{
	struct http_resp r;
	e2e_approve(e, token, lender, loan_id, &(struct e2e_loan){.iin_seed = iin_seed}, NULL);
	e2e_consent(e, token, lender, loan_id);
	e2e_get_loan(e, token, lender, loan_id, &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "status", "eligible");
	http_resp_free(&r);
}

int e2e_retry_after(const struct http_resp *r)
{
	const char *v = http_header(r, "Retry-After");
	return v ? atoi(v) : -1;
}

void e2e_assert_strings(json_t *arr, const char *what, ...)
{
	va_list ap;
	va_start(ap, what);
	size_t i = 0;
	char *dump = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
	ck_assert_msg(json_is_array(arr), "%s: not an array: %s", what, dump ? dump : "(none)");
	for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
		const char *got = json_string_value(json_array_get(arr, i));
		ck_assert_msg(got && strcmp(got, want) == 0, "%s: expected %s at %zu in %s", what,
		              want, i, dump);
	}
	ck_assert_msg(json_array_size(arr) == i, "%s: expected %zu entries: %s", what, i, dump);
	va_end(ap);
	free(dump);
}

struct e2e_env e2e_env_on(const struct e2e_env *e, int port)
{
	struct e2e_env other = {.db_url = e->db_url, .d = {.pid = -1, .port = port}};
	return other;
}

long long e2e_stats_refused_by(const struct e2e_env *e, const char *token, const char *b)
{
	char path[160], from[32], to[32];
	time_t t[2] = {(time_t)(e2e_wall_us() / 1000000) - 3600,
	               (time_t)(e2e_wall_us() / 1000000) + 3600};
	struct tm tm;
	strftime(from, sizeof from, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t[0], &tm));
	strftime(to, sizeof to, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t[1], &tm));
	snprintf(path, sizeof path, "/v1/stats/decisions?from=%s&to=%s", from, to);
	struct http_resp r;
	e2e_call(e, "GET", path, token, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	long long n = 0;
	size_t i;
	json_t *bucket;
	json_array_foreach(e2e_json_at(r.json, "buckets"), i, bucket)
	{
		n += json_integer_value(
		    json_object_get(json_object_get(bucket, "refused_by_blocker"), b));
	}
	http_resp_free(&r);
	return n;
}

const char *e2e_metrics_listen(int *port)
{
	static char kv[64];
	*port = daemon_free_port();
	snprintf(kv, sizeof kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", *port);
	return kv;
}

/*
 * Hostile input (issue "hostile input"): raw bytes thrown at a running
 * coolingd over plain sockets — garbage and binary noise, an HTTP/0.9 request
 * and an HTTP/2 preface, a request line of 100 KB, a header line of 64 KB,
 * 1000 headers, bogus and conflicting Content-Length, broken, oversized and
 * unterminated chunked bodies, a slow client (slowloris), 1000 idle
 * connections, pipelined requests.
 *
 * What is asserted after each attack:
 *   - the answer to the malformed request is a 4xx (501 or 505 for a method
 *     or version nobody serves), or the connection is closed, or nothing has
 *     come yet — never a 2xx. libevent answers some of these itself with a
 *     plain HTML 400/413 (docs/api.md), which is fine;
 *   - the write it carried (a consent on a loan awaiting one) did not happen;
 *   - the daemon process is alive and a normal authenticated request on
 *     another connection is answered correctly within 1 s.
 * The last test stops the daemon and checks its log for sanitizer reports
 * (the suite also runs under the ASan+UBSan build) and its exit status.
 *
 * One daemon serves every test of the program, so the attacks add up.
 */
#include "check_main.h"
#include "support/e2e.h"
#include "support/rawhttp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define IDLE_CONNECTIONS 1000
/* A normal request is answered within this while hostile clients hold
 * connections: room for a loaded machine, and still well under
 * request_timeout (10 s), which would free a daemon that a hostile client
 * blocked. */
#define SERVE_MS 5000

static struct e2e_env env;
static char *tok;       /* core1, lender BANK1 */
static int idle_target; /* IDLE_CONNECTIONS, or fewer when the fd limit is lower */

/* Room for the idle connections in this process and in the daemon, which
 * inherits the limit: raised to the hard limit when the soft one is short. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	idle_target = IDLE_CONNECTIONS;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = IDLE_CONNECTIONS + 200;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			fprintf(stderr, "hostile: raised RLIMIT_NOFILE from %llu to %llu\n",
			        (unsigned long long)old, (unsigned long long)rl.rlim_cur);
		else
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		idle_target = (int)rl.rlim_cur - 200;
		fprintf(stderr, "hostile: RLIMIT_NOFILE is %llu: holding %d idle connections\n",
		        (unsigned long long)rl.rlim_cur, idle_target);
	}
}

static void setup(void)
{
	raise_fd_limit();
	e2e_start(&env, "hostile", NULL);
	e2e_lender_add(&env, "BANK1", "bank");
	tok = e2e_client_add(&env, "core1", "lender", "BANK1");
	e2e_approve_or_exit(&env, tok, "BANK1", "OK-1", &(struct e2e_loan){.iin_seed = 1});
	e2e_approve_or_exit(&env, tok, "BANK1", "OK-2", &(struct e2e_loan){.iin_seed = 2});
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok);
}

/* ---- raw connections ---- */

/* A connection to 127.0.0.1:port; fails the test when there is none. */
static int raw_connect_to(int port)
{
	int fd = rawhttp_connect(NULL, port);
	ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
	return fd;
}

static int raw_connect(void)
{
	return raw_connect_to(env.d.port);
}

/* Sends raw on a fresh connection, reads the answer for at most wait_ms
 * (until the daemon closes), closes. */
static void attack(const void *raw, size_t len, int wait_ms, struct rawhttp_answer *a)
{
	int fd = raw_connect();
	rawhttp_send(fd, raw, len); /* an early close shows in the answer */
	rawhttp_read(fd, wait_ms, false, a);
	close(fd);
}

/* Status lines with a 2xx anywhere in the answer (pipelining may give more
 * than one answer). */
static int count_2xx(const struct rawhttp_answer *a)
{
	int n = 0;
	for (size_t i = 0; i + 10 <= a->len; i++)
		if ((i == 0 || a->data[i - 1] == '\n') && memcmp(a->data + i, "HTTP/1.", 7) == 0 &&
		    a->data[i + 8] == ' ' && a->data[i + 9] == '2')
			n++;
	return n;
}

/* One line for the log of what the daemon did. */
static void report(const char *what, const struct rawhttp_answer *a)
{
	int st = rawhttp_status(a->data);
	if (st)
		fprintf(stderr, "hostile: %s: %d (%s body)%s\n", what, st,
		        strstr(a->data, "\r\n\r\n{") ? "JSON" : "non-JSON",
		        a->closed ? ", connection closed" : "");
	else
		fprintf(stderr, "hostile: %s: no answer, connection %s\n", what,
		        a->closed ? "closed" : "still open when the client gave up");
}

/* 4xx (501/505 for a method/version nobody serves), closed, or silent; never
 * a 2xx. */
static void assert_refused(const char *what, const struct rawhttp_answer *a)
{
	report(what, a);
	ck_assert_msg(count_2xx(a) == 0, "%s: answered 2xx:\n%.400s", what, a->data);
	if (a->len == 0)
		return;
	int st = rawhttp_status(a->data);
	ck_assert_msg(st != 0, "%s: an answer that is not HTTP: %.80s", what, a->data);
	ck_assert_msg((st >= 400 && st < 500) || st == 501 || st == 505, "%s: answered %d:\n%.400s",
	              what, st, a->data);
}

/* The state field of /proc/PID/stat: 'R', 'S', ..., 'Z' for a zombie; 0 when
 * there is no such process. */
static char proc_state(pid_t pid, int *exit_code)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	char state = p[2];
	if (exit_code) { /* field 52; the state is field 3 */
		*exit_code = -1;
		char *save = NULL, *field = strtok_r(p + 2, " ", &save);
		for (int i = 3; field && i < 52; i++)
			field = strtok_r(NULL, " ", &save);
		if (field)
			*exit_code = atoi(field);
	}
	return state;
}

/* The daemon lives and answers a normal authenticated request on another
 * connection, correctly and within SERVE_MS. */
static void assert_serving(const char *after)
{
	char state = proc_state(env.d.pid, NULL);
	ck_assert_msg(state != 0 && state != 'Z' && state != 'X', "after %s: coolingd is gone",
	              after);
	char req[512];
	int n = snprintf(req, sizeof req,
	                 "GET /v1/lenders/BANK1/loans/OK-1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                 "Authorization: Bearer %s\r\nConnection: close\r\n\r\n",
	                 tok);
	long long t0 = test_now_ms();
	int fd = raw_connect();
	rawhttp_send(fd, req, (size_t)n);
	struct rawhttp_answer a;
	rawhttp_read(fd, SERVE_MS, true, &a);
	close(fd);
	long long took = test_now_ms() - t0;
	bool ok = rawhttp_complete(&a) && rawhttp_status(a.data) == 200 &&
	          strstr(a.data, "\"loan_id\":\"OK-1\"") != NULL;
	ck_assert_msg(ok && took <= SERVE_MS,
	              "after %s: a normal request got %d after %lld ms (want 200 with OK-1 within "
	              "%d ms): %.300s",
	              after, rawhttp_status(a.data), took, SERVE_MS, a.data);
	rawhttp_free(&a);
}

/* Sends raw on a fresh connection (attack()): refused, and then the daemon
 * still serves (assert_serving(after), after = what when NULL). */
static void refused_attack(const char *what, const void *raw, size_t len, int wait_ms,
                           const char *after)
{
	struct rawhttp_answer a;
	attack(raw, len, wait_ms, &a);
	assert_refused(what, &a);
	rawhttp_free(&a);
	assert_serving(after ? after : what);
}

/* A consent request for loan_id with the given framing headers ("K: V\r\n"
 * lines) and body bytes after the head. */
static size_t consent_req(char *out, size_t size, const char *loan_id, const char *framing,
                          const char *body)
{
	int n = snprintf(out, size,
	                 "POST /v1/lenders/BANK1/loans/%s/consent HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                 "Authorization: Bearer %s\r\nContent-Type: application/json\r\n%s"
	                 "Connection: close\r\n\r\n%s",
	                 loan_id, tok, framing, body);
	ck_assert(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* A loan awaiting consent, for an attack to carry a consent to. */
static void target_loan(const char *loan_id, unsigned seed)
{
	e2e_approve(&env, tok, "BANK1", loan_id, &(struct e2e_loan){.iin_seed = seed}, NULL);
}

/* The consent an attack carried did not happen. */
static void assert_untouched(const char *loan_id)
{
	ck_assert_msg(e2e_sql_num(&env,
	                          "SELECT count(*) FROM loan WHERE loan_id = $1 AND consent_at "
	                          "IS NULL",
	                          loan_id, NULL) == 1,
	              "%s: the malformed request recorded a consent", loan_id);
	ck_assert_int_eq(e2e_audit_count(&env, "BANK1", loan_id, "consent_recorded"), 0);
}

/* Sends a consent for a fresh loan with that framing; refused, untouched,
 * still serving. */
static void framing_attack(const char *what, const char *loan_id, unsigned seed,
                           const char *framing, const char *body, int wait_ms)
{
	char req[4096];
	struct rawhttp_answer a;
	target_loan(loan_id, seed);
	size_t n = consent_req(req, sizeof req, loan_id, framing, body);
	attack(req, n, wait_ms, &a);
	assert_refused(what, &a);
	rawhttp_free(&a);
	assert_untouched(loan_id);
	assert_serving(what);
}

/*
 * The same, but reports instead of failing at once, so that every case of a
 * test runs: appends "what: how" to *fails (malloc'd, may be NULL) when the
 * request was answered 2xx, answered otherwise than refused, or recorded
 * the consent.
 */
static void framing_probe(const char *what, const char *loan_id, unsigned seed, const char *framing,
                          const char *body, int wait_ms, char **fails)
{
	char req[4096], why[256] = "";
	struct rawhttp_answer a;
	target_loan(loan_id, seed);
	size_t n = consent_req(req, sizeof req, loan_id, framing, body);
	attack(req, n, wait_ms, &a);
	report(what, &a);
	int st = rawhttp_status(a.data);
	if (count_2xx(&a) > 0)
		snprintf(why, sizeof why, "answered %d", st);
	else if (a.len > 0 && !((st >= 400 && st < 500) || st == 501 || st == 505))
		snprintf(why, sizeof why, "answered %d", st);
	rawhttp_free(&a);
	if (e2e_audit_count(&env, "BANK1", loan_id, "consent_recorded") != 0) {
		size_t l = strlen(why);
		snprintf(why + l, sizeof why - l, "%sthe consent of %s was recorded",
		         l ? ", and " : "", loan_id);
	}
	if (why[0]) {
		size_t old = *fails ? strlen(*fails) : 0;
		size_t add = strlen(what) + strlen(why) + 8;
		*fails = realloc(*fails, old + add);
		ck_assert_ptr_nonnull(*fails);
		snprintf(*fails + old, add, "%s%s: %s", old ? "; " : "", what, why);
	}
	assert_serving(what);
}

/* ---- garbage ---- */

/* ---- the text log ---- */

START_TEST(test_request_target_with_spaces_or_control_bytes_is_400_and_cannot_forge_the_log)
{
	/* a daemon that writes the text format, where a value with a space or
	 * an '=' could pose as another field */
	const char *const text_env[] = {"COOLINGD_LOG_FORMAT=text", NULL};
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, text_env));
	static const char *const raws[] = {
	    "GET /v1/x\x1b[2J\x1b[31mRED status=200 client=admin HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET /healthz status=200 HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET /healthz\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET /healthz\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
		int fd = raw_connect_to(d.port);
		rawhttp_send(fd, raws[i], strlen(raws[i]));
		struct rawhttp_answer a;
		rawhttp_read(fd, 2000, true, &a);
		close(fd);
		ck_assert_msg(rawhttp_status(a.data) == 400, "request %zu: %.200s", i, a.data);
		ck_assert_msg(strstr(a.data, "\"bad_request\""), "request %zu: %.300s", i, a.data);
		rawhttp_free(&a);
	}
	ck_assert_int_eq(daemon_stop(&d), 0);
	char *log = e2e_read_file(d.log_path, NULL);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strchr(log, '\x1b') == NULL, "a terminal escape reached the log");
	ck_assert_msg(strstr(log, " status=200 client=admin") == NULL, "forged fields in the log");
	int lines_400 = 0;
	for (const char *p = strstr(log, " status=400 "); p; p = strstr(p + 1, " status=400 "))
		lines_400++;
	/* (libevent itself may refuse the last two before routing) */
	ck_assert_msg(lines_400 >= 2, "%d access lines with status=400:\n%s", lines_400, log);
	ck_assert_msg(strstr(log, "path=/v1/x\\x1b[2J\\x1b[31mRED\\x20status\\x3d200") != NULL,
	              "the path is not logged escaped:\n%s", log);
	free(log);
	assert_serving("hostile request targets");
}
END_TEST

START_TEST(test_garbage_request_line_is_refused)
{
	static const char raw[] = "GARBAGE\r\n\r\n";
	refused_attack("GARBAGE request line", raw, sizeof raw - 1, 2000, NULL);
}
END_TEST

static void noise(unsigned char *out, size_t n, uint64_t seed)
{
	uint64_t x = seed;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (unsigned char)(x >> 24);
	}
}

START_TEST(test_binary_noise_is_refused)
{
	enum { N = 8192 };
	static unsigned char raw[N + 1024];
	struct rawhttp_answer a;
	target_loan("T-NOISE", 10);

	/* Noise alone, twice (the second with more line ends and NULs). */
	for (int v = 0; v < 2; v++) {
		noise(raw, N, 0x9e3779b97f4a7c15ULL + (uint64_t)v);
		if (v == 1)
			for (size_t i = 0; i < N; i += 37)
				raw[i] = i % 3 == 0 ? '\0' : i % 3 == 1 ? '\r' : '\n';
		refused_attack(v ? "8 KiB of noise with CR, LF and NUL" : "8 KiB of noise", raw, N,
		               2000, "binary noise");
	}

	/* A request line, then noise where the headers should be. */
	char head[512];
	int hn = snprintf(head, sizeof head,
	                  "POST /v1/lenders/BANK1/loans/T-NOISE/consent HTTP/1.1\r\n"
	                  "Authorization: Bearer %s\r\n",
	                  tok);
	memcpy(raw, head, (size_t)hn);
	noise(raw + hn, N, 42);
	refused_attack("noise as headers", raw, (size_t)hn + N, 2000, NULL);

	/* A valid head, and 4 KiB of noise as the JSON body. */
	char framing[64];
	snprintf(framing, sizeof framing, "Content-Length: %d\r\n", 4096);
	size_t n = consent_req((char *)raw, sizeof raw, "T-NOISE", framing, "");
	noise(raw + n, 4096, 7);
	attack(raw, n + 4096, 2000, &a);
	assert_refused("noise as the JSON body", &a);
	ck_assert_msg(rawhttp_status(a.data) == 400,
	              "noise as a JSON body: %d, want 400 malformed_json", rawhttp_status(a.data));
	rawhttp_free(&a);
	assert_untouched("T-NOISE");
	assert_serving("noise as the JSON body");
}
END_TEST

/* ---- sizes ---- */

START_TEST(test_request_line_of_100_kb_is_refused)
{
	enum { N = 100 * 1024 };
	char *raw = malloc(N + 256);
	ck_assert_ptr_nonnull(raw);
	/* A valid target: accepted, it would be a 200. */
	int n = sprintf(raw, "GET /healthz?pad=");
	memset(raw + n, 'a', N);
	n += N;
	n += sprintf(raw + n, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
	refused_attack("request line of 100 KB", raw, (size_t)n, 3000, NULL);
	free(raw);
}
END_TEST

START_TEST(test_header_line_of_64_kb_is_refused)
{
	enum { N = 64 * 1024 };
	char *raw = malloc(N + 256);
	ck_assert_ptr_nonnull(raw);
	int n = sprintf(raw, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ");
	memset(raw + n, 'b', N);
	n += N;
	n += sprintf(raw + n, "\r\nConnection: close\r\n\r\n");
	refused_attack("header line of 64 KB", raw, (size_t)n, 3000, NULL);
	free(raw);
}
END_TEST

START_TEST(test_1000_headers_beyond_the_header_limit_are_refused)
{
	/* 1000 headers of 27 bytes: about 27 KB, over the 16 KiB limit. */
	char *raw = malloc(64 * 1024);
	ck_assert_ptr_nonnull(raw);
	int n = sprintf(raw, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
	for (int i = 0; i < 1000; i++)
		n += sprintf(raw + n, "X-Header-%04d: value-%04d\r\n", i, i);
	n += sprintf(raw + n, "Connection: close\r\n\r\n");
	refused_attack("1000 headers, 27 KB", raw, (size_t)n, 3000, NULL);
	free(raw);
}
END_TEST

START_TEST(test_1000_small_headers_get_a_correct_answer_or_a_4xx)
{
	/* 1000 headers of 7 bytes fit the byte limit: a well-formed request,
	 * so the answer is either the right one or a refusal of the count. */
	char *raw = malloc(64 * 1024);
	ck_assert_ptr_nonnull(raw);
	int n = sprintf(raw,
	                "GET /v1/lenders/BANK1/loans/OK-2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                "Authorization: Bearer %s\r\n",
	                tok);
	for (int i = 0; i < 1000; i++)
		n += sprintf(raw + n, "a%03d:1\r\n", i);
	n += sprintf(raw + n, "Connection: close\r\n\r\n");
	struct rawhttp_answer a;
	attack(raw, (size_t)n, 3000, &a);
	free(raw);
	report("1000 headers, 8 KB", &a);
	int st = rawhttp_status(a.data);
	ck_assert_msg((st == 200 && strstr(a.data, "\"loan_id\":\"OK-2\"")) ||
	                  (st >= 400 && st < 500),
	              "1000 small headers: %d: %.300s", st, a.data);
	rawhttp_free(&a);
	assert_serving("1000 headers, 8 KB");
}
END_TEST

/* ---- Content-Length ---- */

START_TEST(test_bogus_content_length_is_refused_and_decides_nothing)
{
	framing_attack("Content-Length: abc", "T-CL-ABC", 20, "Content-Length: abc\r\n", "{}",
	               2000);
	framing_attack("Content-Length: -1", "T-CL-NEG", 21, "Content-Length: -1\r\n", "{}", 2000);
	/* Waits for a body that never comes (libevent reads the 20 digits as
	 * INT64_MAX); the client gives up after 1.5 s. */
	framing_attack("Content-Length: 99999999999999999999", "T-CL-BIG", 22,
	               "Content-Length: 99999999999999999999\r\n", "{}", 1500);
}
END_TEST

START_TEST(test_two_different_content_lengths_are_refused)
{
	char *fails = NULL;
	/* The later one first: libevent waits for 40 bytes that never come. */
	framing_probe("Content-Length: 40 then 2", "T-CL-DUP2", 31,
	              "Content-Length: 40\r\nContent-Length: 2\r\n", "{}", 1500, &fails);
	framing_probe("Content-Length: 2 then 40", "T-CL-DUP1", 30,
	              "Content-Length: 2\r\nContent-Length: 40\r\n", "{}", 1500, &fails);
	ck_assert_msg(fails == NULL, "%s", fails);
}
END_TEST

START_TEST(test_content_length_with_whitespace_before_the_colon_is_refused)
{
	char *fails = NULL;
	framing_probe("Content-Length with a space before the colon", "T-CL-SP", 35,
	              "Content-Length : 2\r\n", "{}", 1500, &fails);
	ck_assert_msg(fails == NULL, "%s", fails);
}
END_TEST

static void half_close_attack(const char *what, const char *loan_id, unsigned seed,
                              const char *framing)
{
	char req[4096];
	struct rawhttp_answer a;
	target_loan(loan_id, seed);
	size_t n = consent_req(req, sizeof req, loan_id, framing, "{}");
	int fd = raw_connect();
	rawhttp_send(fd, req, n);
	test_sleep_ms(200);
	shutdown(fd, SHUT_WR); /* the client is done: the promised body never comes */
	rawhttp_read(fd, 2000, false, &a);
	close(fd);
	assert_refused(what, &a);
	rawhttp_free(&a);
	assert_untouched(loan_id);
	assert_serving(what);
}

START_TEST(test_huge_content_length_with_a_tiny_body_then_close_decides_nothing)
{
	half_close_attack("Content-Length: 60000, 2 bytes, close", "T-CL-SHORT", 40,
	                  "Content-Length: 60000\r\n");
	half_close_attack("Content-Length: 10^13, 2 bytes, close", "T-CL-HUGE", 41,
	                  "Content-Length: 10000000000000\r\n");
	/* And a client that just vanishes. */
	char req[4096];
	target_loan("T-CL-GONE", 42);
	size_t n = consent_req(req, sizeof req, "T-CL-GONE", "Content-Length: 60000\r\n", "{}");
	int fd = raw_connect();
	rawhttp_send(fd, req, n);
	close(fd);
	test_sleep_ms(200);
	assert_untouched("T-CL-GONE");
	assert_serving("Content-Length: 60000, 2 bytes, vanished");
}
END_TEST

/* ---- chunked ---- */

START_TEST(test_chunked_body_with_a_broken_chunk_size_is_refused)
{
	framing_attack("chunk size zz", "T-TE-ZZ", 50, "Transfer-Encoding: chunked\r\n",
	               "zz\r\n{}\r\n0\r\n\r\n", 2000);
	framing_attack("chunk size of 20 hex digits", "T-TE-OVF", 51,
	               "Transfer-Encoding: chunked\r\n", "FFFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n",
	               2000);
	framing_attack("chunk size -2", "T-TE-NEG", 52, "Transfer-Encoding: chunked\r\n",
	               "-2\r\n{}\r\n0\r\n\r\n", 2000);
}
END_TEST

START_TEST(test_chunk_larger_than_max_body_bytes_is_413)
{
	/* 100 KiB of JSON whitespace and "{}": valid JSON, over max_body_bytes
	 * (64 KiB), under the HTTP layer's hard cap: coolingd's own 413. */
	enum { N = 100 * 1024 };
	char head[1024];
	target_loan("T-TE-BIG", 60);
	size_t hn =
	    consent_req(head, sizeof head, "T-TE-BIG", "Transfer-Encoding: chunked\r\n", "");
	char *raw = malloc(hn + N + 64);
	ck_assert_ptr_nonnull(raw);
	memcpy(raw, head, hn);
	size_t n = hn + (size_t)sprintf(raw + hn, "%x\r\n", N);
	memset(raw + n, ' ', N - 2);
	memcpy(raw + n + N - 2, "{}", 2);
	n += N;
	n += (size_t)sprintf(raw + n, "\r\n0\r\n\r\n");
	struct rawhttp_answer a;
	attack(raw, n, 3000, &a);
	free(raw);
	assert_refused("one chunk of 100 KiB", &a);
	ck_assert_msg(rawhttp_status(a.data) == 413, "one chunk of 100 KiB: %d, want 413",
	              rawhttp_status(a.data));
	rawhttp_free(&a);
	assert_untouched("T-TE-BIG");
	assert_serving("one chunk of 100 KiB");

	/* A chunk of 2 GiB announced, a few bytes sent. */
	framing_attack("a chunk of 2 GiB announced", "T-TE-2G", 61,
	               "Transfer-Encoding: chunked\r\n", "80000000\r\n{}", 2000);
}
END_TEST

START_TEST(test_unterminated_chunked_body_decides_nothing_and_others_are_served)
{
	char req[2048];
	target_loan("T-TE-OPEN", 70);
	size_t n = consent_req(req, sizeof req, "T-TE-OPEN", "Transfer-Encoding: chunked\r\n",
	                       "2\r\n{}\r\n");
	int fd = raw_connect();
	rawhttp_send(fd, req, n);
	/* Held open without the last chunk; others are served meanwhile. */
	for (int i = 0; i < 3; i++) {
		test_sleep_ms(500);
		assert_serving("an unterminated chunked body (held open)");
	}
	struct rawhttp_answer a;
	rawhttp_read(fd, 100, false, &a);
	close(fd);
	assert_refused("unterminated chunked body, held 1.5 s", &a);
	rawhttp_free(&a);
	test_sleep_ms(100);
	assert_untouched("T-TE-OPEN");
	assert_serving("an unterminated chunked body");
}
END_TEST

START_TEST(test_transfer_encoding_other_than_chunked_is_refused)
{
	char *fails = NULL;
	framing_probe("Transfer-Encoding: gzip, chunked", "T-TE-GZ", 80,
	              "Transfer-Encoding: gzip, chunked\r\n", "2\r\n{}\r\n0\r\n\r\n", 2000, &fails);
	framing_probe("Transfer-Encoding: bogus", "T-TE-BOGUS", 81, "Transfer-Encoding: bogus\r\n",
	              "2\r\n{}\r\n0\r\n\r\n", 2000, &fails);
	ck_assert_msg(fails == NULL, "%s", fails);
}
END_TEST

/* ---- other protocols ---- */

START_TEST(test_http09_request_is_refused)
{
	static const char *const raws[] = {"GET /healthz\r\n", "GET /healthz\r\n\r\n"};
	for (size_t i = 0; i < 2; i++) {
		refused_attack(i ? "HTTP/0.9 GET /healthz, blank line" : "HTTP/0.9 GET /healthz",
		               raws[i], strlen(raws[i]), 2000, "an HTTP/0.9 request");
	}
}
END_TEST

START_TEST(test_http2_preface_is_refused)
{
	/* The client connection preface and an empty SETTINGS frame. */
	static const char raw[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	                          "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
	refused_attack("HTTP/2 preface", raw, sizeof raw - 1, 2000, "an HTTP/2 preface");
}
END_TEST

/* ---- slow and idle clients ---- */

START_TEST(test_slowloris_trickling_one_byte_per_100_ms_does_not_stop_others)
{
	enum { CONNS = 20, STEPS = 30 }; /* 3 s */
	char req[1024];
	target_loan("T-SLOW", 90);
	size_t n = consent_req(req, sizeof req, "T-SLOW", "Content-Length: 2\r\n", "{}");
	int fds[CONNS];
	for (int i = 0; i < CONNS; i++)
		fds[i] = raw_connect();
	long long t0 = test_now_ms();
	int served = 0;
	for (int step = 0; step < STEPS && (size_t)step < n; step++) {
		for (int i = 0; i < CONNS; i++)
			rawhttp_send(fds[i], req + step, 1);
		if (step % 5 == 4) {
			assert_serving("slowloris (trickling)");
			served++;
		}
		long long next = t0 + 100LL * (step + 1);
		if (next > test_now_ms())
			test_sleep_ms((long)(next - test_now_ms()));
	}
	int answered = 0;
	for (int i = 0; i < CONNS; i++) {
		struct rawhttp_answer a;
		rawhttp_read(fds[i], 10, false, &a);
		close(fds[i]);
		answered += a.len > 0;
		ck_assert_msg(count_2xx(&a) == 0, "a trickled request was answered 2xx");
		rawhttp_free(&a);
	}
	fprintf(stderr,
	        "hostile: slowloris: %d connections x %d bytes in %lld ms; %d normal requests "
	        "served meanwhile, each within %d ms; %d trickling connections answered\n",
	        CONNS, STEPS, test_now_ms() - t0, served, SERVE_MS, answered);
	assert_untouched("T-SLOW");
	assert_serving("slowloris");
}
END_TEST

/* Each kind of ambiguous framing gets coolingd's own refusal: 400
 * bad_request, Connection: close, the connection closed after it, and the
 * consent it carried not recorded. */
START_TEST(test_ambiguous_framing_gets_400_bad_request_and_a_closed_connection)
{
	static const struct {
		const char *what, *loan_id, *framing, *body;
	} cases[] = {
	    {"conflicting Content-Length", "T-FR-DUP", "Content-Length: 2\r\nContent-Length: 3\r\n",
	     "{} "},
	    {"a space before the colon", "T-FR-SP", "Content-Length : 2\r\n", "{}"},
	    {"a tab before the colon", "T-FR-TAB", "Content-Length\t: 2\r\n", "{}"},
	    {"Transfer-Encoding: gzip", "T-FR-GZ", "Transfer-Encoding: gzip\r\n", "{}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char req[4096];
		struct rawhttp_answer a;
		target_loan(cases[i].loan_id, 200 + (unsigned)i);
		size_t n =
		    consent_req(req, sizeof req, cases[i].loan_id, cases[i].framing, cases[i].body);
		attack(req, n, 3000, &a);
		ck_assert_msg(rawhttp_status(a.data) == 400, "%s: answered %d: %s", cases[i].what,
		              rawhttp_status(a.data), a.data);
		ck_assert_msg(strstr(a.data, "\"bad_request\"") != NULL, "%s: %s", cases[i].what,
		              a.data);
		ck_assert_msg(strcasestr(a.data, "\r\nConnection: close\r\n") != NULL, "%s: %s",
		              cases[i].what, a.data);
		ck_assert_msg(a.closed, "%s: the connection stayed open", cases[i].what);
		rawhttp_free(&a);
		assert_untouched(cases[i].loan_id);
	}
	/* Content-Length with a chunked body: libevent refuses it before
	 * coolingd sees it, with its own plain 400, and closes */
	char req[4096];
	struct rawhttp_answer a;
	target_loan("T-FR-BOTH", 210);
	size_t n = consent_req(req, sizeof req, "T-FR-BOTH",
	                       "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n",
	                       "2\r\n{}\r\n0\r\n\r\n");
	attack(req, n, 3000, &a);
	ck_assert_msg(rawhttp_status(a.data) == 400 && a.closed, "Content-Length and chunked: %s",
	              a.data);
	rawhttp_free(&a);
	assert_untouched("T-FR-BOTH");
	assert_serving("ambiguous framing");
}
END_TEST

/* The request deadline runs again after every answer: on a kept-alive
 * connection, a second request trickled in is cut off like the first. */
START_TEST(test_request_deadline_runs_again_after_an_answer_on_a_kept_alive_connection)
{
	static const char *const short_timeout[] = {"COOLINGD_SERVER_REQUEST_TIMEOUT=2s", NULL};
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, short_timeout));
	int fd = raw_connect_to(d.port);
	static const char first[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	ck_assert(rawhttp_send(fd, first, sizeof first - 1));
	struct rawhttp_answer a;
	rawhttp_read(fd, 2000, true, &a);
	ck_assert_msg(rawhttp_status(a.data) == 200 && !a.closed, "first request: %s", a.data);
	rawhttp_free(&a);
	/* the second request's head, one byte per 100 ms, never finished */
	static const char second[] =
	    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: aaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	long long t0 = test_now_ms(), closed_ms = -1;
	for (size_t i = 0; i < sizeof second - 1; i++) {
		char buf[256];
		ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ||
		    !rawhttp_send(fd, &second[i], 1)) {
			closed_ms = test_now_ms() - t0;
			break;
		}
		test_sleep_ms(100);
	}
	close(fd);
	ck_assert_int_eq(daemon_stop(&d), 0);
	ck_assert_msg(closed_ms >= 0 && closed_ms <= 3500,
	              "a second request trickled on a kept-alive connection was not cut off "
	              "(%lld ms)",
	              closed_ms);
}
END_TEST

START_TEST(test_slow_client_is_cut_off_after_request_timeout)
{
	/* A daemon of its own, with request_timeout = 2 s. */
	static const char *const short_timeout[] = {"COOLINGD_SERVER_REQUEST_TIMEOUT=2s", NULL};
	enum { STEPS = 40, LIMIT_MS = 3500 }; /* 4 s of trickling; 2 s + 1.5 s grace */
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, short_timeout));
	target_loan("T-SLOWBODY", 95);
	char head[512], post[1024];
	int hn = snprintf(head, sizeof head, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ");
	size_t pn = consent_req(post, sizeof post, "T-SLOWBODY", "Content-Length: 200\r\n", "");
	/* a: the head, one byte per 100 ms; b: the whole head at once, then the
	 * body one byte per 100 ms; c (the control): part of a head, then
	 * silence, which request_timeout does cut off */
	int fd[3] = {raw_connect_to(d.port), raw_connect_to(d.port), raw_connect_to(d.port)};
	rawhttp_send(fd[1], post, pn);
	rawhttp_send(fd[2], head, 10);
	long long t0 = test_now_ms(), closed_ms[3] = {-1, -1, -1};
	for (int step = 0; step < STEPS; step++) {
		for (int c = 0; c < 3; c++) {
			if (closed_ms[c] >= 0)
				continue;
			char byte = c == 0 ? (step < hn ? head[step] : 'a') : ' ';
			char buf[512];
			ssize_t r = recv(fd[c], buf, sizeof buf, MSG_DONTWAIT);
			/* closed, reset, or an answer (408, say): cut off */
			if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ||
			    (c < 2 && !rawhttp_send(fd[c], &byte, 1)))
				closed_ms[c] = test_now_ms() - t0;
		}
		if (closed_ms[0] >= 0 && closed_ms[1] >= 0 && closed_ms[2] >= 0)
			break;
		long long next = t0 + 100LL * (step + 1);
		if (next > test_now_ms())
			test_sleep_ms((long)(next - test_now_ms()));
	}
	for (int c = 0; c < 3; c++)
		close(fd[c]);
	int code = daemon_stop(&d);
	fprintf(stderr,
	        "hostile: slow clients against request_timeout = 2 s (ms until cut off, -1: "
	        "still open after 4 s): head trickled one byte per 100 ms %lld, body trickled "
	        "one byte per 100 ms %lld, silent after 10 bytes (control) %lld\n",
	        closed_ms[0], closed_ms[1], closed_ms[2]);
	ck_assert_msg(closed_ms[2] >= 0 && closed_ms[2] <= LIMIT_MS,
	              "control: a silent connection was not closed within %d ms: is "
	              "request_timeout in force?",
	              LIMIT_MS);
	ck_assert_int_eq(code, 0);
	assert_untouched("T-SLOWBODY");
	ck_assert_msg(closed_ms[0] >= 0 && closed_ms[0] <= LIMIT_MS,
	              "a head trickled one byte per 100 ms was not cut off within %d ms "
	              "(request_timeout 2 s)",
	              LIMIT_MS);
	ck_assert_msg(closed_ms[1] >= 0 && closed_ms[1] <= LIMIT_MS,
	              "a body trickled one byte per 100 ms was not cut off within %d ms "
	              "(request_timeout 2 s)",
	              LIMIT_MS);
}
END_TEST

START_TEST(test_1000_idle_connections_do_not_stop_others)
{
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	int n = idle_target;
	ck_assert_msg(n >= 100, "RLIMIT_NOFILE %llu is too low for this test",
	              (unsigned long long)rl.rlim_cur);
	int *fds = calloc((size_t)n, sizeof *fds);
	ck_assert_ptr_nonnull(fds);
	long long t0 = test_now_ms();
	for (int i = 0; i < n; i++)
		fds[i] = raw_connect();
	long long opened = test_now_ms() - t0;
	test_sleep_ms(200);
	assert_serving("1000 idle connections (held)");

	/* The idle ones are still served when they speak. */
	static const char hz[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                         "Connection: close\r\n\r\n";
	int ok = 0;
	for (int i = 0; i < n; i += n / 10) {
		struct rawhttp_answer a;
		long long s = test_now_ms();
		rawhttp_send(fds[i], hz, sizeof hz - 1);
		rawhttp_read(fds[i], SERVE_MS, true, &a);
		ck_assert_msg(rawhttp_status(a.data) == 200 && test_now_ms() - s <= SERVE_MS,
		              "idle connection %d: %d after %lld ms", i, rawhttp_status(a.data),
		              test_now_ms() - s);
		ok++;
		rawhttp_free(&a);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	fprintf(stderr,
	        "hostile: %d idle connections opened in %lld ms (RLIMIT_NOFILE %llu); a normal "
	        "request meanwhile within %d ms; %d of them served when they spoke\n",
	        n, opened, (unsigned long long)rl.rlim_cur, SERVE_MS, ok);
	assert_serving("1000 idle connections (closed)");
}
END_TEST

/* ---- pipelining ---- */

START_TEST(test_pipelined_requests_are_both_answered_in_order)
{
	char raw[2048];
	int n = snprintf(raw, sizeof raw,
	                 "GET /v1/lenders/BANK1/loans/OK-1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                 "Authorization: Bearer %s\r\n\r\n"
	                 "GET /v1/lenders/BANK1/loans/OK-2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                 "Authorization: Bearer %s\r\nConnection: close\r\n\r\n",
	                 tok, tok);
	struct rawhttp_answer a;
	attack(raw, (size_t)n, 3000, &a);
	report("two pipelined GETs", &a);
	const char *first = strstr(a.data, "\"loan_id\":\"OK-1\"");
	const char *second = strstr(a.data, "\"loan_id\":\"OK-2\"");
	ck_assert_msg(count_2xx(&a) == 2 && first && second && first < second,
	              "pipelined: not two 200s with OK-1 then OK-2:\n%s", a.data);
	rawhttp_free(&a);

	/* A write, then a read of what it wrote, in one segment. */
	target_loan("T-PIPE", 100);
	char consent[1024];
	size_t cn = consent_req(consent, sizeof consent, "T-PIPE", "Content-Length: 2\r\n", "{}");
	/* without its Connection: close, which ends the head */
	char *cc = strstr(consent, "Connection: close\r\n");
	ck_assert_ptr_nonnull(cc);
	memmove(cc, cc + 19, cn - (size_t)(cc - consent) - 19 + 1);
	n = snprintf(raw, sizeof raw,
	             "%sGET /v1/lenders/BANK1/loans/T-PIPE HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	             "Authorization: Bearer %s\r\nConnection: close\r\n\r\n",
	             consent, tok);
	attack(raw, (size_t)n, 3000, &a);
	report("pipelined consent and GET", &a);
	const char *get = strstr(a.data, "\r\n\r\n");
	get = get ? strstr(get, "HTTP/1.1 ") : NULL;
	ck_assert_msg(count_2xx(&a) == 2 && get && strstr(get, "\"status\":\"eligible\""),
	              "pipelined consent then GET: the GET did not see the consent:\n%s", a.data);
	rawhttp_free(&a);
	assert_serving("pipelined requests");
}
END_TEST

/* Last: the daemon stops cleanly, and nothing above made a sanitizer speak. */
START_TEST(test_daemon_exits_0_and_its_log_has_no_sanitizer_report)
{
	assert_serving("every attack");
	ck_assert_int_eq(kill(env.d.pid, SIGTERM), 0);
	int code = -1;
	char state = 0;
	for (int i = 0; i < 3000; i++) { /* 30 s: the daemon is our parent's child */
		state = proc_state(env.d.pid, &code);
		if (state == 'Z' || state == 0)
			break;
		test_sleep_ms(10);
	}
	ck_assert_msg(state == 'Z', "coolingd did not exit within 30 s of SIGTERM (state %c)",
	              state ? state : '-');
	char *log = e2e_read_file(env.d.log_path, NULL);
	ck_assert_ptr_nonnull(log);
	int lines = 0;
	for (const char *p = log; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	free(log);
	char *found = e2e_log_sanitizer_report(env.d.log_path);
	fprintf(stderr, "hostile: daemon log: %d lines, sanitizer reports: %s; exit status %d\n",
	        lines, found ? "YES" : "none", code >= 0 ? (code >> 8) & 0xff : -1);
	ck_assert_msg(!found, "sanitizer report in %s: %.300s", env.d.log_path, found);
	free(found);
	/* waitpid(2) form: exited normally with 0 */
	ck_assert_msg(code == 0, "coolingd exit status %#x after SIGTERM", code);
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile_http");
	TCase *tc = tcase_create("hostile_http");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_garbage_request_line_is_refused);
	tcase_add_test(
	    tc, test_request_target_with_spaces_or_control_bytes_is_400_and_cannot_forge_the_log);
	tcase_add_test(tc, test_binary_noise_is_refused);
	tcase_add_test(tc, test_request_line_of_100_kb_is_refused);
	tcase_add_test(tc, test_header_line_of_64_kb_is_refused);
	tcase_add_test(tc, test_1000_headers_beyond_the_header_limit_are_refused);
	tcase_add_test(tc, test_1000_small_headers_get_a_correct_answer_or_a_4xx);
	tcase_add_test(tc, test_bogus_content_length_is_refused_and_decides_nothing);
	tcase_add_test(tc, test_two_different_content_lengths_are_refused);
	tcase_add_test(tc, test_content_length_with_whitespace_before_the_colon_is_refused);
	tcase_add_test(tc, test_huge_content_length_with_a_tiny_body_then_close_decides_nothing);
	tcase_add_test(tc, test_chunked_body_with_a_broken_chunk_size_is_refused);
	tcase_add_test(tc, test_chunk_larger_than_max_body_bytes_is_413);
	tcase_add_test(tc, test_unterminated_chunked_body_decides_nothing_and_others_are_served);
	tcase_add_test(tc, test_transfer_encoding_other_than_chunked_is_refused);
	tcase_add_test(tc, test_http09_request_is_refused);
	tcase_add_test(tc, test_http2_preface_is_refused);
	tcase_add_test(tc, test_slowloris_trickling_one_byte_per_100_ms_does_not_stop_others);
	tcase_add_test(tc, test_slow_client_is_cut_off_after_request_timeout);
	tcase_add_test(tc, test_ambiguous_framing_gets_400_bad_request_and_a_closed_connection);
	tcase_add_test(tc,
	               test_request_deadline_runs_again_after_an_answer_on_a_kept_alive_connection);
	tcase_add_test(tc, test_1000_idle_connections_do_not_stop_others);
	tcase_add_test(tc, test_pipelined_requests_are_both_answered_in_order);
	tcase_add_test(tc, test_daemon_exits_0_and_its_log_has_no_sanitizer_report);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(hostile_suite)

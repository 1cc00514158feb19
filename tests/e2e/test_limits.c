/*
 * End-to-end tests of the daemon's protective limits (docs/api.md, "Limits"
 * and "Rate limit of failed authentication"):
 *
 * - server.max_connections: at the limit coolingd stops accepting, so that
 *   a further connection waits in the kernel's backlog unanswered; once
 *   connections close it is accepted and served;
 * - server.max_header_bytes: larger request heads get a JSON 431 (far
 *   larger ones are cut off by the HTTP layer), and the daemon goes on
 *   serving;
 * - server.auth_failures_per_minute / auth_failure_window: after that many
 *   failed authentications from one address, its requests with an
 *   Authorization header get 429 with Retry-After until the window has
 *   passed, unless their token authenticated recently (a valid token is
 *   never refused because others failed); another address is not affected.
 *
 * The rate-limit test sends from 127.0.0.1 and from 127.0.0.2 (Linux routes
 * all of 127.0.0.0/8 to the loopback interface).
 */
#include "check_main.h"
#include "support/e2e.h"
#include "support/rawhttp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_CONNECTIONS  50
#define MAX_HEADER_BYTES 4096
#define AUTH_FAILURES    30
/* long enough for a test's failures to fall in one window on a loaded
 * machine */
#define AUTH_WINDOW_S 10

static struct e2e_env env;
static char *tok; /* lender core1 of BANK1 */

static const char *const daemon_env[] = {
    "COOLINGD_SERVER_THREADS=2",
    "COOLINGD_SERVER_MAX_CONNECTIONS=50",
    "COOLINGD_SERVER_MAX_HEADER_BYTES=4096",
    "COOLINGD_SERVER_AUTH_FAILURES_PER_MINUTE=30",
    "COOLINGD_SERVER_AUTH_FAILURE_WINDOW=10s", /* AUTH_WINDOW_S */
    /* idle connections must outlive the test */
    "COOLINGD_SERVER_REQUEST_TIMEOUT=60s",
    NULL,
};

static void setup(void)
{
	e2e_start(&env, "limits", daemon_env);
	e2e_lender_add(&env, "BANK1", "bank");
	tok = e2e_client_add(&env, "core1", "lender", "BANK1");
}

static void teardown(void)
{
	e2e_stop(&env);
	free(tok);
}

/* Reads until the server closes or timeout_ms passes: the bytes read
 * (malloc'd, NUL-terminated). *closed tells which. */
static char *read_until_close(int fd, int timeout_ms, bool *closed)
{
	struct rawhttp_answer a;
	rawhttp_read(fd, timeout_ms, false, &a);
	*closed = a.closed;
	return a.data;
}

/* One request from src with Connection: close: the raw response
 * (malloc'd, "" when none came within 30 s). */
static char *request_from(const char *src, const char *method, const char *path, const char *token)
{
	int fd = rawhttp_connect(src, env.d.port);
	ck_assert_msg(fd >= 0, "connect from %s: %s", src ? src : "any", strerror(errno));
	char req[1024];
	int n = snprintf(req, sizeof req,
	                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s"
	                 "Connection: close\r\n\r\n",
	                 method, path, token ? "Authorization: Bearer " : "", token ? token : "",
	                 token ? "\r\n" : "");
	ck_assert(rawhttp_send(fd, req, (size_t)n));
	bool closed;
	char *resp = read_until_close(fd, 30000, &closed);
	close(fd);
	return resp;
}

START_TEST(test_at_max_connections_new_ones_wait_until_some_close)
{
	int idle[MAX_CONNECTIONS];
	for (int i = 0; i < MAX_CONNECTIONS; i++) {
		idle[i] = rawhttp_connect(NULL, env.d.port);
		ck_assert_msg(idle[i] >= 0, "idle connection %d: %s", i, strerror(errno));
	}
	/* the workers have accepted them all once they say the limit is reached */
	for (long long deadline = test_now_ms() + 30000;
	     !e2e_file_has_line(env.d.log_path, "server.max_connections reached", NULL);
	     test_sleep_ms(20))
		ck_assert_msg(test_now_ms() < deadline, "no log line about the connection limit");
	/* The worker that reached the limit stopped accepting before saying so;
	 * the other stops when its loop takes the notice, which nothing outside
	 * shows: a moment for that. */
	test_sleep_ms(200);

	/* The 51st connects (the kernel's backlog holds it) but nobody
	 * accepts it: no answer within a second. */
	int extra = rawhttp_connect(NULL, env.d.port);
	ck_assert_int_ge(extra, 0);
	static const char get[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                          "Connection: close\r\n\r\n";
	ck_assert(rawhttp_send(extra, get, strlen(get)));
	bool closed;
	char *resp = read_until_close(extra, 1000, &closed);
	ck_assert_msg(resp[0] == '\0' && !closed, "the 51st connection got an answer: %s", resp);
	free(resp);

	/* Ten close: the waiting one is accepted and answered, and new
	 * requests go through. */
	for (int i = 0; i < 10; i++)
		close(idle[i]);
	resp = read_until_close(extra, 30000, &closed);
	ck_assert_msg(rawhttp_status(resp) == 200, "the waiting connection got: %s", resp);
	free(resp);
	close(extra);
	struct http_resp r;
	e2e_call(&env, "GET", "/healthz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);

	for (int i = 10; i < MAX_CONNECTIONS; i++)
		close(idle[i]);
	/* and the daemon accepts again once they are all gone (until it has
	 * seen them go, a new connection waits in the backlog) */
	for (int i = 0; i < 60; i++) {
		e2e_call(&env, "GET", "/healthz", NULL, NULL, NULL, &r);
		E2E_ASSERT_STATUS(&r, 200);
		http_resp_free(&r);
	}
}
END_TEST

/* A header "X-Padding: aaaa..." that makes the request head about size bytes. */
static char *padding_header(size_t size)
{
	char *h = malloc(size + 64);
	ck_assert_ptr_nonnull(h);
	size_t n = (size_t)snprintf(h, size + 64, "X-Padding: ");
	memset(h + n, 'a', size);
	snprintf(h + n + size, 64, "\r\n");
	return h;
}

START_TEST(test_request_head_larger_than_max_header_bytes_is_431_and_service_goes_on)
{
	struct http_resp r;
	/* well under the limit: fine */
	char *h = padding_header(MAX_HEADER_BYTES / 2);
	e2e_call(&env, "GET", "/healthz", NULL, NULL, h, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	free(h);

	/* just over it: our JSON 431, and the connection is closed */
	h = padding_header(MAX_HEADER_BYTES + 10);
	e2e_call(&env, "GET", "/v1/lenders/BANK1/loans/X", tok, NULL, h, &r);
	E2E_ASSERT_ERROR(&r, 431, "request_header_fields_too_large", NULL);
	const char *conn = http_header(&r, "Connection");
	ck_assert_msg(conn != NULL && strcasecmp(conn, "close") == 0, "Connection: %s",
	              conn ? conn : "(none)");
	http_resp_free(&r);
	free(h);

	/* far over it (above twice the limit): the HTTP layer refuses it */
	h = padding_header(MAX_HEADER_BYTES * 4);
	int rc = http_req(env.d.port, "GET", "/healthz", NULL, NULL, h, &r);
	ck_assert_msg(rc != 0 || (r.status >= 400 && r.status < 500), "a huge head got status %d",
	              r.status);
	if (rc == 0)
		http_resp_free(&r);
	free(h);

	/* still serving */
	e2e_call(&env, "GET", "/healthz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
}
END_TEST

/* A well-formed token that was never issued, different for each n. */
static void bad_token(char out[64], int n)
{
	snprintf(out, 64, "cdt_%012d_%040d", n, n);
}

START_TEST(test_failed_authentications_from_one_address_get_429_until_the_window_passes)
{
	const char *path = "/v1/lenders/BANK1/loans/NO-SUCH-LOAN";
	char bad[64];
	char *resp;

	/* 29 failures, and a good token still works: successes are not
	 * limited (404: it got past authentication) */
	for (int i = 0; i < AUTH_FAILURES - 1; i++) {
		bad_token(bad, i);
		resp = request_from("127.0.0.1", "GET", path, bad);
		ck_assert_msg(rawhttp_status(resp) == 401, "bad token %d: %s", i, resp);
		free(resp);
	}
	resp = request_from("127.0.0.1", "GET", path, tok);
	ck_assert_msg(rawhttp_status(resp) == 404, "good token after 29 failures: %s", resp);
	free(resp);

	/* the 30th failure is still a 401 ... */
	bad_token(bad, 99);
	resp = request_from("127.0.0.1", "GET", path, bad);
	ck_assert_msg(rawhttp_status(resp) == 401, "30th bad token: %s", resp);
	free(resp);

	/* ... then a bad token is 429, with Retry-After: the seconds left in
	 * the window (a good token is not: CONTRACT.md v1.1, and
	 * test_a_valid_token_is_never_429_because_others_failed_from_its_address) */
	bad_token(bad, 98);
	resp = request_from("127.0.0.1", "GET", path, bad);
	ck_assert_msg(rawhttp_status(resp) == 429, "bad token after 30 failures: %s", resp);
	ck_assert_msg(strstr(resp, "\"too_many_requests\"") != NULL, "body: %s", resp);
	char retry[32];
	ck_assert_msg(rawhttp_header(resp, "Retry-After", retry, sizeof retry),
	              "no Retry-After: %s", resp);
	int retry_s = atoi(retry);
	ck_assert_msg(retry_s >= 1 && retry_s <= AUTH_WINDOW_S, "Retry-After: %s", retry);
	free(resp);
	bad_token(bad, 100);
	resp = request_from("127.0.0.1", "GET", path, bad);
	ck_assert_msg(rawhttp_status(resp) == 429, "bad token while blocked: %s", resp);
	free(resp);
	ck_assert(e2e_file_has_line(env.d.log_path, "too many failed authentications", NULL));

	/* requests without Authorization are not affected */
	resp = request_from("127.0.0.1", "GET", "/healthz", NULL);
	ck_assert_msg(rawhttp_status(resp) == 200, "healthz while blocked: %s", resp);
	free(resp);

	/* nor is another source address */
	resp = request_from("127.0.0.2", "GET", path, tok);
	ck_assert_msg(rawhttp_status(resp) == 404, "from 127.0.0.2: %s", resp);
	free(resp);
	bad_token(bad, 101);
	resp = request_from("127.0.0.2", "GET", path, bad);
	ck_assert_msg(rawhttp_status(resp) == 401, "bad token from 127.0.0.2: %s", resp);
	free(resp);

	/* once the window has passed, the good token works again */
	test_sleep_ms(retry_s * 1000L + 300);
	resp = request_from("127.0.0.1", "GET", path, tok);
	ck_assert_msg(rawhttp_status(resp) == 404, "good token after the window: %s", resp);
	free(resp);
}
END_TEST

START_TEST(test_a_valid_token_is_never_429_because_others_failed_from_its_address)
{
	const char *path = "/v1/lenders/BANK1/loans/NO-SUCH-LOAN";
	char bad[64];
	char *resp;
	char *tok2 = e2e_client_add(&env, "core2", "lender", "BANK1");
	char *gone = e2e_client_add(&env, "core-revoked", "lender", "BANK1");

	/* Both tokens in use, from another address (a shared NAT's clients) */
	const char *const toks[] = {tok, tok2, gone};
	for (size_t i = 0; i < 3; i++) {
		resp = request_from("127.0.0.4", "GET", path, toks[i]);
		ck_assert_msg(rawhttp_status(resp) == 404, "token %zu before: %s", i, resp);
		free(resp);
	}
	/* someone behind the same address guesses until refused */
	for (int i = 0; i < AUTH_FAILURES; i++) {
		bad_token(bad, 200 + i);
		resp = request_from("127.0.0.3", "GET", path, bad);
		ck_assert_msg(rawhttp_status(resp) == 401, "bad token %d: %s", i, resp);
		free(resp);
	}
	bad_token(bad, 300);
	resp = request_from("127.0.0.3", "GET", path, bad);
	ck_assert_msg(rawhttp_status(resp) == 429, "bad token once blocked: %s", resp);
	free(resp);

	/* the valid tokens from that address are served, again and again,
	 * while bad ones stay refused */
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < 3; i++) {
			resp = request_from("127.0.0.3", "GET", path, toks[i]);
			ck_assert_msg(rawhttp_status(resp) == 404, "valid token %zu, round %d: %s",
			              i, round, resp);
			free(resp);
		}
		bad_token(bad, 301 + round);
		resp = request_from("127.0.0.3", "GET", path, bad);
		ck_assert_msg(rawhttp_status(resp) == 429, "bad token, round %d: %s", round, resp);
		free(resp);
	}

	/* a valid token that has never been used is served too: it is looked
	 * up, not refused for the address */
	char *fresh = e2e_client_add(&env, "core-fresh", "lender", "BANK1");
	resp = request_from("127.0.0.3", "GET", path, fresh);
	ck_assert_msg(rawhttp_status(resp) == 404, "unused valid token, blocked address: %s", resp);
	free(resp);
	free(fresh);

	/* a revoked token stops at once, and is then limited like any other */
	int code = -1;
	char *out = run_ctl(env.db_url, &code, "client revoke core-revoked");
	ck_assert_msg(out && code == 0, "coolingctl client revoke: exit %d", code);
	free(out);
	resp = request_from("127.0.0.3", "GET", path, gone);
	ck_assert_msg(rawhttp_status(resp) == 401, "revoked token: %s", resp);
	free(resp);
	for (int i = 0; i < 3; i++) {
		resp = request_from("127.0.0.3", "GET", path, gone);
		ck_assert_msg(rawhttp_status(resp) == 429, "revoked token again: %s", resp);
		free(resp);
	}
	/* the others still work */
	resp = request_from("127.0.0.3", "GET", path, tok2);
	ck_assert_msg(rawhttp_status(resp) == 404, "tok2 after the revocation: %s", resp);
	free(resp);
	free(tok2);
	free(gone);
	/* leave the address unblocked for whatever runs next */
	test_sleep_ms(AUTH_WINDOW_S * 1000L + 300);
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_at_max_connections_new_ones_wait_until_some_close);
	tcase_add_test(tc,
	               test_request_head_larger_than_max_header_bytes_is_431_and_service_goes_on);
	tcase_add_test(
	    tc, test_failed_authentications_from_one_address_get_429_until_the_window_passes);
	tcase_add_test(tc, test_a_valid_token_is_never_429_because_others_failed_from_its_address);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(limits_suite)

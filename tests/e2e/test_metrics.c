/*
 * End-to-end tests of GET /metrics (CONTRACT.md, "v1.1 additions",
 * "Operations"): its own listener ([metrics] listen; empty: none; a port in
 * use or a bad value stops the start naming the key), the Prometheus text
 * format as `promtool check metrics` reads it (lint included), counters
 * that move as the traffic says (approvals by rule, answers by route
 * pattern, method and code, decisions, refusals by blocker; a replayed
 * answer is no new decision), the database gauges through an outage of
 * the shared test server, the unsealed audit events, and no IIN, loan id
 * or lender id in any label.
 */
#include "check_main.h"
#include "support/e2e.h"
#include "support/testdb.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define APPROVALS    "/v1/lenders/{lender}/loans"
#define DISBURSEMENT "/v1/lenders/{lender}/loans/{loan_id}/disbursement"

static struct e2e_env env;
static char *tok1; /* core1, lender BANK1 */
static int metrics_port;
static char metrics_kv[64];

/* Two workers, so that a scrape sums more than one block; a cooling
 * period long enough to be refused for; no sealing, so that the unsealed
 * events pile up until another daemon seals them. */
static void setup(void)
{
	metrics_port = daemon_free_port();
	if (metrics_port < 0) {
		fprintf(stderr, "metrics: no free port\n");
		exit(EXIT_FAILURE);
	}
	snprintf(metrics_kv, sizeof metrics_kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d",
	         metrics_port);
	const char *const extra[] = {"COOLINGD_POLICY_COOLING_PERIOD=60s",
	                             "COOLINGD_SERVER_THREADS=2", "COOLINGD_AUDIT_SEAL=off",
	                             metrics_kv, NULL};
	e2e_start(&env, "metrics", extra);
	e2e_lender_add(&env, "BANK1", "bank");
	tok1 = e2e_client_add(&env, "core1", "lender", "BANK1");
}

static void teardown(void)
{
	e2e_ensure_server_up("metrics");
	e2e_stop(&env);
	free(tok1);
}

static void ensure_server_up(void)
{
	e2e_ensure_server_up("metrics");
}

/* ---- scraping ---- */

/* GET /metrics on port: asserts 200 with the exposition format's
 * Content-Type, and returns the body (malloc'd). Raw, so that the exchange
 * is not recorded for the OpenAPI check: the metrics listener is not the
 * API. */
static char *scrape_port(int port)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
	                          "Connection: close\r\n\r\n";
	char *resp = NULL;
	int rc = http_raw(port, req, sizeof req - 1, &resp, 10000);
	ck_assert_msg(rc == 0 && resp != NULL, "no answer from the metrics listener on %d", port);
	ck_assert_msg(strncmp(resp, "HTTP/1.1 200 ", 13) == 0, "scrape: %.200s", resp);
	char *body = strstr(resp, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	*body = '\0';
	ck_assert_msg(strstr(resp, "\r\nContent-Type: " CONTENT_TYPE "\r\n") != NULL,
	              "scrape: not the exposition format's Content-Type: %s", resp);
	/* every answer has a request id, this listener's too (CONTRACT.md v1.2) */
	char id[80] = "";
	const char *rid = strstr(resp, "\r\nRequest-Id: ");
	ck_assert_msg(rid != NULL && sscanf(rid, "\r\nRequest-Id: %79[0-9a-f]", id) == 1 &&
	                  strlen(id) == 32,
	              "scrape: no generated Request-Id: %s", resp);
	char *out = strdup(body + 4);
	free(resp);
	return out;
}

static char *scrape(void)
{
	return scrape_port(metrics_port);
}

/* The value of one series (name and labels exactly as written, "" for none);
 * false when the scrape has no such line. */
static bool sample_find(const char *text, const char *series, double *v)
{
	size_t n = strlen(series);
	for (const char *line = text; *line != '\0';) {
		const char *end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if ((size_t)(end - line) > n && strncmp(line, series, n) == 0 && line[n] == ' ') {
			*v = strtod(line + n + 1, NULL);
			return true;
		}
		line = *end ? end + 1 : end;
	}
	return false;
}

/* A counter's value; a series not yet written is 0. */
static double sample(const char *text, const char *series)
{
	double v = 0;
	return sample_find(text, series, &v) ? v : 0;
}

/* A series that must be there. */
static double sample_must(const char *text, const char *series)
{
	double v = 0;
	ck_assert_msg(sample_find(text, series, &v), "no %s in the scrape:\n%s", series, text);
	return v;
}

#define ASSERT_DELTA(before, after, series, want)                                                  \
	do {                                                                                       \
		double d_ = sample((after), (series)) - sample((before), (series));                \
		ck_assert_msg(d_ == (want), "%s moved by %g, want %d", (series), d_, (want));      \
	} while (0)

/* Scrapes until `series` reads want, at most ms: the last scrape. */
static char *await_sample(int port, const char *series, double want, long ms)
{
	long long t0 = test_now_ms();
	for (;;) {
		char *text = scrape_port(port);
		double v = -1;
		if (sample_find(text, series, &v) && v == want)
			return text;
		ck_assert_msg(test_now_ms() - t0 < ms, "%s is %g, not %g, after %ld ms", series, v,
		              want, ms);
		free(text);
		test_sleep_ms(100);
	}
}

/* `promtool check metrics` on the text: no error and no lint warning. */
static void assert_promtool_accepts(const char *text)
{
	char path[] = "/tmp/coolingd-scrape-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	size_t len = strlen(text);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	char cmd[256], out[4096] = "";
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	ck_assert_msg(p != NULL, "cannot run promtool: %s", strerror(errno));
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	unlink(path);
	ck_assert_msg(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 127,
	              "promtool is missing (Debian package prometheus; scripts/deps.sh)");
	ck_assert_msg(WEXITSTATUS(status) == 0 && n == 0,
	              "promtool check metrics: exit %d:\n%s\nthe scrape:\n%s", WEXITSTATUS(status),
	              out, text);
}

/* ---- the format ---- */

START_TEST(test_scrape_is_the_text_format_that_promtool_accepts_without_warnings)
{
	struct http_resp r;
	e2e_call(&env, "GET", "/healthz", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	e2e_approve(&env, tok1, "BANK1", "FMT-1", &(struct e2e_loan){.iin_seed = 1}, NULL);
	e2e_call(&env, "GET", "/no/such/thing", NULL, NULL, NULL, &r);
	http_resp_free(&r);

	/* the unsealed events are a number once worker 0 has counted them
	 * (every second), NaN before */
	char *text = NULL;
	double unsealed;
	for (long long t0 = test_now_ms();; test_sleep_ms(100)) {
		free(text);
		text = scrape();
		if (sample_find(text, "coolingd_audit_unsealed_events", &unsealed) &&
		    !isnan(unsealed))
			break;
		ck_assert_msg(test_now_ms() - t0 < 30000,
		              "coolingd_audit_unsealed_events not counted");
	}
	assert_promtool_accepts(text);

	/* every family the contract lists, each with its HELP and TYPE */
	static const char *const families[][2] = {
	    {"coolingd_http_requests_total", "counter"},
	    {"coolingd_http_request_duration_seconds", "histogram"},
	    {"coolingd_decisions_total", "counter"},
	    {"coolingd_refusals_total", "counter"},
	    {"coolingd_approvals_total", "counter"},
	    {"coolingd_db_up", "gauge"},
	    {"coolingd_db_pool_connections", "gauge"},
	    {"coolingd_db_queue_length", "gauge"},
	    {"coolingd_db_statements_total", "counter"},
	    {"coolingd_db_batches_total", "counter"},
	    {"coolingd_db_batched_requests_total", "counter"},
	    {"coolingd_db_batch_fallbacks_total", "counter"},
	    {"coolingd_audit_unsealed_events", "gauge"},
	    {"coolingd_build_info", "gauge"},
	    {"process_cpu_seconds_total", "counter"},
	    {"process_resident_memory_bytes", "gauge"},
	    {"process_virtual_memory_bytes", "gauge"},
	    {"process_open_fds", "gauge"},
	    {"process_max_fds", "gauge"},
	    {"process_start_time_seconds", "gauge"},
	};
	/* each line found after a newline, the first one too */
	char *lines = malloc(strlen(text) + 2);
	ck_assert_ptr_nonnull(lines);
	sprintf(lines, "\n%s", text);
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
		char want[160];
		snprintf(want, sizeof want, "\n# TYPE %s %s\n", families[i][0], families[i][1]);
		ck_assert_msg(strstr(lines, want) != NULL, "no %s", want + 1);
		snprintf(want, sizeof want, "\n# HELP %s ", families[i][0]);
		ck_assert_msg(strstr(lines, want) != NULL, "no %s", want + 1);
	}
	free(lines);
	ck_assert(sample_must(text, "coolingd_build_info{version=\"" COOLINGD_VERSION "\"}") == 1);
	ck_assert(sample_must(text, "coolingd_db_up") == 1);
	ck_assert(sample_must(text, "process_resident_memory_bytes") > 0);
	ck_assert(sample_must(text, "process_open_fds") > 0);
	ck_assert(sample_must(text, "process_max_fds") >= sample_must(text, "process_open_fds"));
	/* started a moment ago, by the wall clock */
	double started = sample_must(text, "process_start_time_seconds");
	double now = (double)e2e_wall_us() / 1e6;
	ck_assert_msg(started <= now + 2 && started > now - 600, "start time %f, now %f", started,
	              now);

	/* the histogram of the approvals' route: cumulative buckets whose +Inf
	 * is the count, and the count is the answers of that route */
	double inf =
	    sample_must(text, "coolingd_http_request_duration_seconds_bucket{route=\"" APPROVALS
	                      "\",le=\"+Inf\"}");
	double count = sample_must(
	    text, "coolingd_http_request_duration_seconds_count{route=\"" APPROVALS "\"}");
	ck_assert(inf == count && count >= 1);
	ck_assert(count == sample(text, "coolingd_http_requests_total{route=\"" APPROVALS
	                                "\",method=\"POST\",code=\"201\"}"));
	ck_assert(sample_must(text, "coolingd_http_request_duration_seconds_sum{route=\"" APPROVALS
	                            "\"}") > 0);
	free(text);
}
END_TEST

START_TEST(test_other_paths_and_methods_of_the_metrics_listener_are_refused)
{
	char *resp = NULL;
	static const char get_other[] =
	    "GET /metricsx HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n";
	ck_assert_int_eq(http_raw(metrics_port, get_other, sizeof get_other - 1, &resp, 5000), 0);
	ck_assert_msg(strncmp(resp, "HTTP/1.1 404 ", 13) == 0, "%.100s", resp);
	free(resp);
	static const char post[] = "POST /metrics HTTP/1.1\r\nHost: l\r\nContent-Length: 0\r\n"
	                           "Connection: close\r\n\r\n";
	ck_assert_int_eq(http_raw(metrics_port, post, sizeof post - 1, &resp, 5000), 0);
	ck_assert_msg(strncmp(resp, "HTTP/1.1 405 ", 13) == 0, "%.100s", resp);
	ck_assert_msg(strstr(resp, "\r\nAllow: GET, HEAD\r\n") != NULL, "%.300s", resp);
	free(resp);
	/* and the API's listener has no /metrics */
	struct http_resp r;
	e2e_call(&env, "GET", "/metrics", NULL, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 404);
	http_resp_free(&r);
}
END_TEST

/* ---- counters that follow the traffic ---- */

START_TEST(test_n_approvals_add_n_to_approvals_by_rule_and_to_the_201s_of_their_route)
{
	char *before = scrape();
	char id[32];
	for (unsigned i = 0; i < 3; i++) { /* small: no rule applies */
		snprintf(id, sizeof id, "APR-S-%u", i);
		e2e_approve(&env, tok1, "BANK1", id, &(struct e2e_loan){.iin_seed = 10 + i}, NULL);
	}
	for (unsigned i = 0; i < 2; i++) { /* large and online: cooled, the card rule */
		snprintf(id, sizeof id, "APR-B-%u", i);
		e2e_approve(&env, tok1, "BANK1", id,
		            &(struct e2e_loan){.iin_seed = 20 + i, .amount = E2E_BIG_AMOUNT}, NULL);
	}
	/* the same approval again: 200, nothing new recorded */
	struct http_resp r;
	char body[512];
	e2e_approval_body(body, sizeof body, "APR-S-0", &(struct e2e_loan){.iin_seed = 10});
	e2e_post_approval(&env, tok1, "BANK1", body, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);

	char *after = scrape();
	ASSERT_DELTA(before, after, "coolingd_approvals_total{rule=\"none\"}", 3);
	ASSERT_DELTA(before, after, "coolingd_approvals_total{rule=\"card\"}", 2);
	ASSERT_DELTA(before, after,
	             "coolingd_http_requests_total{route=\"" APPROVALS
	             "\",method=\"POST\",code=\"201\"}",
	             5);
	ASSERT_DELTA(before, after,
	             "coolingd_http_requests_total{route=\"" APPROVALS
	             "\",method=\"POST\",code=\"200\"}",
	             1);
	ASSERT_DELTA(before, after,
	             "coolingd_http_request_duration_seconds_count{route=\"" APPROVALS "\"}", 6);
	ASSERT_DELTA(before, after, "coolingd_decisions_total{decision=\"allowed\"}", 0);
	ASSERT_DELTA(before, after, "coolingd_decisions_total{decision=\"refused\"}", 0);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_a_refusal_for_cooling_counts_its_blocker_and_one_refused_decision)
{
	e2e_approve(
	    &env, tok1, "BANK1", "REF-1",
	    &(struct e2e_loan){.iin_seed = 30, .amount = E2E_BIG_AMOUNT, .consent_now = true},
	    NULL);
	char *before = scrape();
	struct http_resp r;
	e2e_disburse(&env, tok1, "BANK1", "REF-1", "key-ref-1", &r);
	E2E_ASSERT_STATUS(&r, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "cooling_period_active",
	                   NULL);
	http_resp_free(&r);
	/* the stored answer again, for the same Idempotency-Key: no new decision */
	e2e_disburse(&env, tok1, "BANK1", "REF-1", "key-ref-1", &r);
	E2E_ASSERT_STATUS(&r, 409);
	http_resp_free(&r);

	char *after = scrape();
	ASSERT_DELTA(before, after, "coolingd_refusals_total{blocker=\"cooling_period_active\"}",
	             1);
	ASSERT_DELTA(before, after, "coolingd_refusals_total{blocker=\"consent_missing\"}", 0);
	ASSERT_DELTA(before, after, "coolingd_decisions_total{decision=\"refused\"}", 1);
	ASSERT_DELTA(before, after, "coolingd_decisions_total{decision=\"allowed\"}", 0);
	ASSERT_DELTA(before, after,
	             "coolingd_http_requests_total{route=\"" DISBURSEMENT
	             "\",method=\"POST\",code=\"409\"}",
	             2);
	free(before);
	free(after);

	/* two blockers at once: each counted, the decision once */
	e2e_approve(&env, tok1, "BANK1", "REF-2",
	            &(struct e2e_loan){.iin_seed = 31, .amount = E2E_BIG_AMOUNT}, NULL);
	before = scrape();
	e2e_act(&env, tok1, "BANK1", "REF-2", "cancellation", "{\"reason\":\"withdrawn\"}", NULL,
	        &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	e2e_disburse(&env, tok1, "BANK1", "REF-2", NULL, &r);
	E2E_ASSERT_STATUS(&r, 409);
	http_resp_free(&r);
	after = scrape();
	ASSERT_DELTA(before, after, "coolingd_refusals_total{blocker=\"cancelled\"}", 1);
	ASSERT_DELTA(before, after, "coolingd_refusals_total{blocker=\"consent_missing\"}", 1);
	ASSERT_DELTA(before, after, "coolingd_decisions_total{decision=\"refused\"}", 1);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_an_allowed_payout_counts_one_allowed_decision)
{
	e2e_eligible_loan(&env, tok1, "BANK1", "ALW-1", 40);
	char *before = scrape();
	struct http_resp r;
	e2e_disburse(&env, tok1, "BANK1", "ALW-1", "key-alw-1", &r);
	E2E_ASSERT_STATUS(&r, 200);
	E2E_ASSERT_JSTR(r.json, "decision", "allowed");
	http_resp_free(&r);
	e2e_disburse(&env, tok1, "BANK1", "ALW-1", "key-alw-1", &r); /* a replay */
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);

	char *after = scrape();
	ASSERT_DELTA(before, after, "coolingd_decisions_total{decision=\"allowed\"}", 1);
	ASSERT_DELTA(before, after, "coolingd_decisions_total{decision=\"refused\"}", 0);
	ASSERT_DELTA(before, after,
	             "coolingd_http_requests_total{route=\"" DISBURSEMENT
	             "\",method=\"POST\",code=\"200\"}",
	             2);
	free(before);
	free(after);
}
END_TEST

/* ---- labels ---- */

START_TEST(test_no_iin_loan_id_or_lender_becomes_a_label_value)
{
	char iin[13], other_iin[13], path[256];
	e2e_iin(iin, 50);
	e2e_iin(other_iin, 51);
	e2e_approve(&env, tok1, "BANK1", "SECRETLOAN77", &(struct e2e_loan){.iin = iin}, NULL);
	struct http_resp r;
	snprintf(path, sizeof path, "/v1/borrowers/%s/loans", iin);
	e2e_call(&env, "GET", path, tok1, NULL, NULL, &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	e2e_get_loan(&env, tok1, "BANK1", "SECRETLOAN77", &r);
	E2E_ASSERT_STATUS(&r, 200);
	http_resp_free(&r);
	/* unknown paths and a method no route has, carrying identifiers */
	char p1[128], p2[128], p3[128];
	snprintf(p1, sizeof p1, "/v1/borrowers/%s/secretpath", other_iin);
	snprintf(p2, sizeof p2, "/v1/lenders/BANK1/loans/SECRETLOAN77/nothing-here?iin=%s",
	         other_iin);
	snprintf(p3, sizeof p3, "/%s", other_iin);
	const char *const unknown[][2] = {
	    {"GET", p1},
	    {"GET", p2},
	    {"DELETE", "/v1/lenders/BANK1/loans/SECRETLOAN77"},
	    {"GET", p3},
	};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		e2e_call(&env, unknown[i][0], unknown[i][1], tok1, NULL, NULL, &r);
		ck_assert_msg(r.status == 404 || r.status == 405, "%s %s: %d", unknown[i][0],
		              unknown[i][1], r.status);
		http_resp_free(&r);
	}

	char *text = scrape();
	static const char *const secrets[] = {"SECRETLOAN77", "BANK1", "secretpath",
	                                      "nothing-here"};
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		ck_assert_msg(strstr(text, secrets[i]) == NULL, "%s in the scrape:\n%s", secrets[i],
		              text);
	ck_assert_msg(strstr(text, iin) == NULL && strstr(text, other_iin) == NULL,
	              "an IIN in the scrape");
	/* nor any run of 12 digits in a label: every label value is a pattern */
	for (const char *p = text; (p = strstr(p, "=\"")) != NULL; p += 2) {
		const char *end = strchr(p + 2, '"');
		int run = 0;
		for (const char *q = p + 2; end && q < end; q++) {
			run = (*q >= '0' && *q <= '9') ? run + 1 : 0;
			ck_assert_msg(run < 12, "digits in a label: %.60s", p);
		}
	}
	ck_assert(sample(text, "coolingd_http_requests_total{route=\"/v1/borrowers/{iin}/loans\","
	                       "method=\"GET\",code=\"200\"}") >= 1);
	ck_assert(sample(text, "coolingd_http_requests_total{route=\"/v1/lenders/{lender}/loans/"
	                       "{loan_id}\",method=\"GET\",code=\"200\"}") >= 1);
	ck_assert(sample(text, "coolingd_http_requests_total{route=\"unmatched\",method=\"GET\","
	                       "code=\"404\"}") >= 3);
	ck_assert(sample(text, "coolingd_http_requests_total{route=\"unmatched\",method=\"DELETE\","
	                       "code=\"405\"}") >= 1);
	free(text);
}
END_TEST

/* ---- the database ---- */

START_TEST(test_database_stopped_gives_db_up_0_and_back_up_gives_1)
{
	char *text = scrape();
	ck_assert(sample_must(text, "coolingd_db_up") == 1);
	ck_assert(sample_must(text, "coolingd_db_pool_connections{state=\"idle\"}") +
	              sample_must(text, "coolingd_db_pool_connections{state=\"busy\"}") >
	          0);
	ck_assert(sample_must(text, "coolingd_db_queue_length") == 0);
	free(text);

	ck_assert_msg(testdb_server_stop_mode("fast"), "pg_ctl stop -m fast failed");
	text = await_sample(metrics_port, "coolingd_db_up", 0, 30000);
	ck_assert(sample_must(text, "coolingd_db_pool_connections{state=\"idle\"}") == 0);
	ck_assert(sample_must(text, "coolingd_db_pool_connections{state=\"busy\"}") == 0);
	ck_assert(sample_must(text, "coolingd_db_pool_connections{state=\"down\"}") +
	              sample_must(text, "coolingd_db_pool_connections{state=\"connecting\"}") >
	          0);
	free(text);
	/* the API says the same: a 503 for an act, counted as one */
	char *before = scrape();
	struct http_resp r;
	e2e_get_loan(&env, tok1, "BANK1", "ANY", &r);
	E2E_ASSERT_STATUS(&r, 503);
	http_resp_free(&r);
	char *after = scrape();
	ASSERT_DELTA(before, after,
	             "coolingd_http_requests_total{route=\"/v1/lenders/{lender}/loans/{loan_id}\","
	             "method=\"GET\",code=\"503\"}",
	             1);
	free(before);
	free(after);

	ck_assert_msg(testdb_server_start(), "the test server did not start again");
	text = await_sample(metrics_port, "coolingd_db_up", 1, 30000);
	free(text);
}
END_TEST

/* ---- the audit chain ---- */

START_TEST(test_unsealed_events_are_counted_until_a_sealer_seals_them)
{
	/* this daemon does not seal: its approvals' events stay unsealed */
	char *text = await_sample(metrics_port, "coolingd_audit_unsealed_events",
	                          (double)e2e_sql_num(&env,
	                                              "SELECT count(*) FROM audit_event a WHERE "
	                                              "NOT EXISTS (SELECT 1 FROM audit_chain c "
	                                              "WHERE c.event_id = a.id)",
	                                              NULL),
	                          30000);
	double before = sample_must(text, "coolingd_audit_unsealed_events");
	free(text);
	char id[32];
	for (unsigned i = 0; i < 3; i++) {
		snprintf(id, sizeof id, "UNS-%u", i);
		e2e_approve(&env, tok1, "BANK1", id, &(struct e2e_loan){.iin_seed = 60 + i}, NULL);
	}
	text = await_sample(metrics_port, "coolingd_audit_unsealed_events", before + 3, 30000);
	free(text);

	/* a daemon that seals, on the same database: both see the backlog go */
	struct daemon sealer = {.pid = -1};
	int port = daemon_free_port();
	char kv[64];
	snprintf(kv, sizeof kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", port);
	const char *const extra[] = {kv, NULL};
	ck_assert_msg(daemon_start(&sealer, env.db_url, extra), "the sealing daemon did not start");
	text = await_sample(port, "coolingd_audit_unsealed_events", 0, 30000);
	free(text);
	text = await_sample(metrics_port, "coolingd_audit_unsealed_events", 0, 30000);
	free(text);
	ck_assert_int_eq(daemon_stop(&sealer), 0);
}
END_TEST

/* ---- the operator's signals ---- */

/* Writes the config file of a daemon started by daemon_start (beside its
 * log). */
static void write_config(const struct daemon *d, const char *text)
{
	char path[300];
	snprintf(path, sizeof path, "%s", d->log_path);
	char *slash = strrchr(path, '/');
	ck_assert_ptr_nonnull(slash);
	snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "coolingd.conf");
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The cooling period that an approval on daemon d gets, in seconds. */
static long long approved_period(const struct daemon *d, const char *loan_id, unsigned seed)
{
	struct e2e_env on_d = {.db_url = env.db_url, .d = *d};
	struct http_resp r;
	e2e_approve(&on_d, tok1, "BANK1", loan_id,
	            &(struct e2e_loan){.iin_seed = seed, .amount = E2E_BIG_AMOUNT}, &r);
	long long period = json_integer_value(e2e_json_at(r.json, "cooling_period_seconds"));
	http_resp_free(&r);
	return period;
}

START_TEST(test_a_refused_reload_reads_0_keeps_the_configuration_and_a_good_one_reads_1_later)
{
	int port = daemon_free_port();
	char kv[64];
	snprintf(kv, sizeof kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", port);
	const char *const extra[] = {kv, "COOLINGD_AUDIT_SEAL=off", NULL};
	struct daemon d;
	ck_assert_msg(daemon_start(&d, env.db_url, extra), "coolingd did not start");
	write_config(&d, "[policy]\ncooling_period = 2h\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	char *text = await_sample(port, "coolingd_policy_info{profile=\"kz-card\"}", 1, 5000);
	free(text);
	long long t0 = test_now_ms();
	while (approved_period(&d, "RELOAD-0", 70) != 7200) {
		ck_assert_msg(test_now_ms() - t0 < 5000,
		              "the reload of cooling_period = 2h never applied");
		test_sleep_ms(50);
	}
	text = await_sample(port, "coolingd_config_last_reload_successful", 1, 5000);
	double loaded = sample_must(text, "coolingd_config_last_reload_success_timestamp_seconds");
	free(text);
	double now = (double)time(NULL);
	ck_assert_msg(loaded > now - 60 && loaded <= now, "loaded at %.0f, now %.0f", loaded, now);

	/* an unknown profile: refused, the 2 h stay */
	write_config(&d, "[policy]\ncooling_period = 3h\nprofile = no-such-profile\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	text = await_sample(port, "coolingd_config_last_reload_successful", 0, 5000);
	ck_assert(sample_must(text, "coolingd_config_last_reload_success_timestamp_seconds") ==
	          loaded);
	ck_assert(sample_must(text, "coolingd_policy_info{profile=\"kz-card\"}") == 1);
	free(text);
	ck_assert(e2e_file_has_line(d.log_path, "reload failed", "policy.profile"));
	ck_assert_int_eq(approved_period(&d, "RELOAD-1", 71), 7200);

	/* fixed, a second later at least: 1, and the time moves */
	t0 = test_now_ms();
	while ((double)time(NULL) <= loaded) {
		ck_assert(test_now_ms() - t0 < 3000);
		test_sleep_ms(20);
	}
	write_config(&d, "[policy]\ncooling_period = 3h\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	text = await_sample(port, "coolingd_config_last_reload_successful", 1, 5000);
	double reloaded =
	    sample_must(text, "coolingd_config_last_reload_success_timestamp_seconds");
	free(text);
	ck_assert_msg(reloaded > loaded, "the timestamp stayed at %.0f", loaded);
	ck_assert_int_eq(approved_period(&d, "RELOAD-2", 72), 3 * 3600);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* ---- the first scrape ---- */

/* Whether the scrape has a sample (not only HELP and TYPE) of the family
 * `name`: a line "name ", "name{", or for a histogram "name_bucket{". */
static bool has_sample(const char *text, const char *name)
{
	static const char *const tails[] = {" ", "{", "_bucket{"};
	size_t n = strlen(name);
	for (const char *line = text; *line != '\0';) {
		for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++)
			if (strncmp(line, name, n) == 0 &&
			    strncmp(line + n, tails[i], strlen(tails[i])) == 0)
				return true;
		const char *end = strchr(line, '\n');
		line = end ? end + 1 : line + strlen(line);
	}
	return false;
}

/* An alert on absent() must not fire at a restart: the first scrape of a
 * daemon that has answered nothing but its start's /healthz has a sample of
 * every series the contract lists (CONTRACT.md, "Operations"), the unsealed
 * events NaN until counted, and the answers and durations of every route at
 * 0, not only of /healthz. */
START_TEST(test_the_first_scrape_after_start_has_every_contract_series)
{
	struct daemon d = {.pid = -1};
	int port = daemon_free_port();
	char kv[64];
	snprintf(kv, sizeof kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", port);
	/* no sealing: this daemon's only statement on the audit chain is the
	 * count */
	const char *const extra[] = {kv, "COOLINGD_AUDIT_SEAL=off", NULL};
	ck_assert_msg(daemon_start(&d, env.db_url, extra), "coolingd did not start");
	char *text = scrape_port(port);

	static const char *const contract[] = {
	    "coolingd_http_requests_total",
	    "coolingd_http_request_duration_seconds",
	    "coolingd_decisions_total",
	    "coolingd_refusals_total",
	    "coolingd_approvals_total",
	    "coolingd_db_up",
	    "coolingd_db_pool_connections",
	    "coolingd_db_queue_length",
	    "coolingd_audit_unsealed_events",
	    "coolingd_build_info",
	    "process_cpu_seconds_total",
	    "process_resident_memory_bytes",
	    "process_virtual_memory_bytes",
	    "process_open_fds",
	    "process_max_fds",
	    "process_start_time_seconds",
	};
	for (size_t i = 0; i < sizeof contract / sizeof contract[0]; i++)
		ck_assert_msg(has_sample(text, contract[i]), "no sample of %s in the first scrape",
		              contract[i]);
	/* a count or NaN (not counted yet), never a made-up 0 */
	double unsealed = sample_must(text, "coolingd_audit_unsealed_events");
	ck_assert_msg(isnan(unsealed) || unsealed >= 0, "unsealed %g", unsealed);
	/* routes that no request has reached yet */
	ck_assert(sample_must(text, "coolingd_http_requests_total{route=\"" APPROVALS
	                            "\",method=\"POST\",code=\"200\"}") == 0);
	ck_assert(sample_must(text,
	                      "coolingd_http_request_duration_seconds_count{route=\"" DISBURSEMENT
	                      "\"}") == 0);
	assert_promtool_accepts(text);
	free(text);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

/* The calendar rule of coolingd_mrp_next_year_missing, as SQL on the
 * database's own date: its twin, policy_mrp_next_year_missing(), is
 * unit-tested at the boundaries. */
#define MRP_MISSING_SQL                                                                            \
	"SELECT (coalesce(max(m.valid_from) < make_date(extract(year FROM t.d)::int + "            \
	"  CASE WHEN extract(month FROM t.d) = 12 THEN 1 ELSE 0 END, 1, 1), true))::int "          \
	"FROM (SELECT (now() AT TIME ZONE 'Asia/Almaty')::date AS d) t LEFT JOIN mrp m ON true "   \
	"GROUP BY t.d"

START_TEST(test_profile_checkpoint_and_mrp_signals_are_there_with_plausible_values)
{
	char *text =
	    await_sample(metrics_port, "coolingd_policy_info{profile=\"kz-card\"}", 1, 5000);
	free(text);
	/* no HTTPS: no certificate to say anything of */
	text = scrape();
	ck_assert_ptr_null(strstr(text, "coolingd_tls_certificate_expiry_timestamp_seconds "));
	free(text);

	/* the MRP of the coming year, as the calendar and the table say; then
	 * set for the next year: not missing, whatever today is */
	double want = (double)e2e_sql_num(&env, MRP_MISSING_SQL, NULL);
	text = await_sample(metrics_port, "coolingd_mrp_next_year_missing", want, 5000);
	free(text);
	long long next = e2e_sql_num(
	    &env, "SELECT extract(year FROM now() AT TIME ZONE 'Asia/Almaty')::int + 1", NULL);
	int rc = -1;
	char *out = run_ctl(env.db_url, &rc, "mrp set %lld-01-01 4500", next);
	free(out);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(e2e_sql_num(&env, MRP_MISSING_SQL, NULL), 0);
	text = await_sample(metrics_port, "coolingd_mrp_next_year_missing", 0, 5000);
	free(text);

	/* this daemon signs nothing: no checkpoint yet, 0 */
	ck_assert_int_eq(e2e_sql_num(&env, "SELECT count(*) FROM audit_checkpoint", NULL), 0);
	text =
	    await_sample(metrics_port, "coolingd_audit_last_checkpoint_timestamp_seconds", 0, 5000);
	free(text);
	/* a daemon that seals and signs, on the same database */
	char key_dir[256], key_path[300], key_kv[340], kv[64];
	const char *tmp = getenv("TMPDIR");
	snprintf(key_dir, sizeof key_dir, "%s/coolingd-key-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(key_dir));
	snprintf(key_path, sizeof key_path, "%s/audit.key", key_dir);
	out = run_ctl(NULL, &rc, "audit keygen --output %s", key_path);
	free(out);
	ck_assert_int_eq(rc, 0);
	snprintf(key_kv, sizeof key_kv, "COOLINGD_AUDIT_SIGNING_KEY=%s", key_path);
	int port = daemon_free_port();
	snprintf(kv, sizeof kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", port);
	const char *const extra[] = {kv, key_kv, NULL};
	struct daemon signer;
	ck_assert_msg(daemon_start(&signer, env.db_url, extra), "the signing daemon did not start");
	e2e_approve(&env, tok1, "BANK1", "CKPT-1", &(struct e2e_loan){.iin_seed = 80}, NULL);
	long long t0 = test_now_ms();
	double at = 0;
	for (;;) {
		text = scrape();
		bool found =
		    sample_find(text, "coolingd_audit_last_checkpoint_timestamp_seconds", &at);
		free(text);
		if (found && at > 0)
			break;
		ck_assert_msg(test_now_ms() - t0 < 10000, "no checkpoint time after 10 s");
		test_sleep_ms(100);
	}
	double now = (double)time(NULL);
	ck_assert_msg(at > now - 60 && at <= now + 1, "checkpoint at %.0f, now %.0f", at, now);
	/* the signer says the same */
	text = await_sample(
	    port, "coolingd_audit_last_checkpoint_timestamp_seconds",
	    (double)e2e_sql_num(&env,
	                        "SELECT floor(extract(epoch FROM signed_at))::bigint FROM "
	                        "audit_checkpoint ORDER BY seq DESC LIMIT 1",
	                        NULL),
	    5000);
	free(text);
	ck_assert_int_eq(daemon_stop(&signer), 0);
	unlink(key_path);
	char pub[320];
	snprintf(pub, sizeof pub, "%s.pub", key_path);
	unlink(pub);
	rmdir(key_dir);
}
END_TEST

/* The rule of coolingd_holiday_calendar_next_year_missing under a profile
 * with a calendar in force all along, as SQL on the database's own date in
 * the calendar's zone: its twin, policy_calendar_next_year_missing(), is
 * unit-tested at the boundaries. */
#define CALENDAR_MISSING_SQL                                                                       \
	"SELECT (NOT EXISTS (SELECT 1 FROM non_working_day n "                                     \
	"  WHERE extract(year FROM n.day) = extract(year FROM t.d) + "                             \
	"  CASE WHEN extract(month FROM t.d) = 12 THEN 1 ELSE 0 END))::int "                       \
	"FROM (SELECT (now() AT TIME ZONE 'Europe/Minsk')::date AS d) t"

/* coolingctl holidays import of one day, 15 June of the year */
static void import_holiday(long long year)
{
	char path[256];
	snprintf(path, sizeof path, "%s/metrics-holidays-%d.csv",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "date,name\n%lld-06-15,Test holiday\n", year);
	fclose(f);
	int rc = -1;
	char *out = run_ctl(env.db_url, &rc, "holidays import %s", path);
	free(out);
	unlink(path);
	ck_assert_msg(rc == 0, "holidays import: exit %d", rc);
}

START_TEST(test_holiday_calendar_signal_is_1_under_a_calendar_profile_until_the_year_is_imported)
{
	/* this daemon's profile has no calendar: 0, though the table is empty */
	ck_assert_int_eq(e2e_sql_num(&env, "SELECT count(*) FROM non_working_day", NULL), 0);
	char *text =
	    await_sample(metrics_port, "coolingd_holiday_calendar_next_year_missing", 0, 30000);
	free(text);

	/* a daemon of the Belarus profile, whose payouts wait on the calendar,
	 * on the same database: no day of any year, so the year due (this one,
	 * or the next in December) is missing, whatever today is */
	char kv[64];
	int port = daemon_free_port();
	snprintf(kv, sizeof kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", port);
	const char *const extra[] = {"COOLINGD_POLICY_PROFILE=by-2025-11",
	                             "COOLINGD_POLICY_TIMEZONE=Europe/Minsk",
	                             "COOLINGD_AUDIT_SEAL=off", kv, NULL};
	struct daemon by;
	ck_assert_msg(daemon_start(&by, env.db_url, extra), "the by-2025-11 daemon did not start");
	ck_assert_int_eq(e2e_sql_num(&env, CALENDAR_MISSING_SQL, NULL), 1);
	text = await_sample(port, "coolingd_holiday_calendar_next_year_missing", 1, 30000);
	assert_promtool_accepts(text);
	free(text);

	/* a day of this year alone: still missing in December, as the rule says */
	long long year = e2e_sql_num(
	    &env, "SELECT extract(year FROM now() AT TIME ZONE 'Europe/Minsk')::int", NULL);
	import_holiday(year);
	double want = (double)e2e_sql_num(&env, CALENDAR_MISSING_SQL, NULL);
	text = await_sample(port, "coolingd_holiday_calendar_next_year_missing", want, 30000);
	free(text);
	/* and one of the next year too: not missing, whatever today is */
	import_holiday(year + 1);
	ck_assert_int_eq(e2e_sql_num(&env, CALENDAR_MISSING_SQL, NULL), 0);
	text = await_sample(port, "coolingd_holiday_calendar_next_year_missing", 0, 30000);
	free(text);
	/* the daemon without a calendar profile never said otherwise */
	text = await_sample(metrics_port, "coolingd_holiday_calendar_next_year_missing", 0, 30000);
	free(text);
	ck_assert_int_eq(daemon_stop(&by), 0);
}
END_TEST

/* ---- the listener ---- */

/* The TCP sockets in LISTEN state that process pid holds, counted once
 * each (the workers' dup()s are one socket). */
static int listening_sockets(pid_t pid)
{
	unsigned long inodes[256];
	int n = 0;
	static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	for (size_t t = 0; t < 2; t++) {
		FILE *f = fopen(tables[t], "r");
		char line[512];
		while (f != NULL && fgets(line, sizeof line, f) != NULL) {
			unsigned st;
			unsigned long inode;
			/* sl local rem st tx:rx tr:tm retrnsmt uid timeout inode */
			if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &st, &inode) ==
			        2 &&
			    st == 0x0A && n < 256)
				inodes[n++] = inode;
		}
		if (f)
			fclose(f);
	}
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "%s: %s", dir, strerror(errno));
	unsigned long seen[64];
	int nseen = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char link[384], target[128];
		snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
		ssize_t len = readlink(link, target, sizeof target - 1);
		unsigned long inode;
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%lu]", &inode) != 1)
			continue;
		bool listening = false, dup = false;
		for (int i = 0; i < n; i++)
			listening |= inodes[i] == inode;
		for (int i = 0; i < nseen; i++)
			dup |= seen[i] == inode;
		if (listening && !dup && nseen < 64)
			seen[nseen++] = inode;
	}
	closedir(d);
	return nseen;
}

START_TEST(test_empty_metrics_listen_means_no_metrics_listener)
{
	/* this one has metrics: two listening sockets */
	ck_assert_int_eq(listening_sockets(env.d.pid), 2);

	struct daemon off = {.pid = -1};
	const char *const extra[] = {"COOLINGD_METRICS_LISTEN=", NULL};
	ck_assert_msg(daemon_start(&off, env.db_url, extra), "coolingd did not start");
	ck_assert_int_eq(listening_sockets(off.pid), 1);
	ck_assert_int_eq(daemon_stop(&off), 0);
}
END_TEST

START_TEST(test_metrics_port_in_use_or_a_bad_value_stops_the_start_naming_the_key)
{
	/* something else holds the port */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	          listen(fd, 1) == 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	char kv[64];
	snprintf(kv, sizeof kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", ntohs(sa.sin_port));
	struct daemon d = {.pid = -1};
	const char *const taken[] = {kv, NULL};
	ck_assert_msg(!daemon_start(&d, env.db_url, taken), "coolingd started on a taken port");
	ck_assert_msg(e2e_file_has_line(d.log_path, "metrics.listen", "already in use"),
	              "the log does not name metrics.listen and the port in use");
	close(fd);

	/* the same port as the API's */
	struct daemon same = {.pid = -1};
	char same_kv[64];
	snprintf(same_kv, sizeof same_kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d", env.d.port);
	const char *const clash[] = {same_kv, NULL};
	ck_assert(!daemon_start(&same, env.db_url, clash));

	struct daemon bad = {.pid = -1};
	const char *const nonsense[] = {"COOLINGD_METRICS_LISTEN=localhost", NULL};
	ck_assert_msg(!daemon_start(&bad, env.db_url, nonsense), "coolingd started");
	ck_assert_msg(e2e_file_has_line(bad.log_path, "metrics.listen", "host:port"),
	              "the log does not name metrics.listen");
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, ensure_server_up, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scrape_is_the_text_format_that_promtool_accepts_without_warnings);
	tcase_add_test(tc, test_other_paths_and_methods_of_the_metrics_listener_are_refused);
	tcase_add_test(tc,
	               test_n_approvals_add_n_to_approvals_by_rule_and_to_the_201s_of_their_route);
	tcase_add_test(tc, test_a_refusal_for_cooling_counts_its_blocker_and_one_refused_decision);
	tcase_add_test(tc, test_an_allowed_payout_counts_one_allowed_decision);
	tcase_add_test(tc, test_no_iin_loan_id_or_lender_becomes_a_label_value);
	tcase_add_test(tc, test_database_stopped_gives_db_up_0_and_back_up_gives_1);
	tcase_add_test(tc, test_unsealed_events_are_counted_until_a_sealer_seals_them);
	tcase_add_test(
	    tc, test_a_refused_reload_reads_0_keeps_the_configuration_and_a_good_one_reads_1_later);
	tcase_add_test(tc, test_profile_checkpoint_and_mrp_signals_are_there_with_plausible_values);
	tcase_add_test(
	    tc,
	    test_holiday_calendar_signal_is_1_under_a_calendar_profile_until_the_year_is_imported);
	tcase_add_test(tc, test_the_first_scrape_after_start_has_every_contract_series);
	tcase_add_test(tc, test_empty_metrics_listen_means_no_metrics_listener);
	tcase_add_test(tc, test_metrics_port_in_use_or_a_bad_value_stops_the_start_naming_the_key);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(metrics_suite)

/*
 * Unit tests of the configuration (CONTRACT.md, "Config keys", "env
 * overrides"): the defaults, an INI file, COOLINGD_<S>_<K> beating the file,
 * values that do not parse stopping the load with a message naming the key,
 * the policy in force, which changes need a restart, and the database URL
 * written through a mask (the masking itself: test_conninfo.c).
 */
#include "check_main.h"
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const ENV_VARS[] = {
    "COOLINGD_SERVER_LISTEN",
    "COOLINGD_SERVER_THREADS",
    "COOLINGD_SERVER_MAX_BODY_BYTES",
    "COOLINGD_SERVER_REQUEST_TIMEOUT",
    "COOLINGD_DATABASE_URL",
    "COOLINGD_DATABASE_POOL_SIZE",
    "COOLINGD_POLICY_PROFILE",
    "COOLINGD_POLICY_COOLING_PERIOD",
    "COOLINGD_POLICY_THRESHOLD_MRP",
    "COOLINGD_POLICY_AGGREGATION",
    "COOLINGD_POLICY_BANK_LONG_PERIOD",
    "COOLINGD_POLICY_TIMEZONE",
    "COOLINGD_POLICY_MAX_CLOCK_SKEW",
    "COOLINGD_POLICY_MAX_BACKDATE",
    "COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM",
    "COOLINGD_POLICY_PAYEE_REQUIRED",
    "COOLINGD_POLICY_PAYOUT_TO_BORROWER_ONLY",
    "COOLINGD_POLICY_BURST_LENDERS",
    "COOLINGD_POLICY_BANK_THRESHOLD_INCLUSIVE",
    "COOLINGD_POLICY_COOLINGPERIOD",
    "COOLINGD_SERVER_LISTN",
    "COOLINGD_LOG_",
    "COOLINGD_NOSECTION_ANYTHING",
    "TZDIR",
    "COOLINGD_AUDIT_SEAL",
    "COOLINGD_LOG_LEVEL",
    "COOLINGD_LOG_FORMAT",
    "COOLINGD_METRICS_LISTEN",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof(ENV_VARS) / sizeof(ENV_VARS[0]); i++)
		unsetenv(ENV_VARS[i]);
}

/* Temporary config files, removed after each test. */
static char tmp_paths[8][64];
static int ntmp;

static const char *write_conf(const char *text)
{
	ck_assert_int_lt(ntmp, 8);
	char *path = tmp_paths[ntmp++];
	snprintf(path, sizeof(tmp_paths[0]), "/tmp/coolingd-test-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	size_t len = strlen(text);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void setup(void)
{
	clear_env();
	ntmp = 0;
}

static void teardown(void)
{
	clear_env();
	for (int i = 0; i < ntmp; i++)
		unlink(tmp_paths[i]);
	ntmp = 0;
}

static struct config load_ok(const char *path)
{
	struct config c;
	char msg[512] = "";

	ck_assert_msg(config_load(&c, path, false, msg, sizeof(msg)), "load failed: %s", msg);
	return c;
}

/* Loads and expects failure; returns the message (static buffer). */
static const char *load_fails(const char *path)
{
	static char msg[512];
	struct config c;

	msg[0] = '\0';
	ck_assert_msg(!config_load(&c, path, false, msg, sizeof(msg)), "load succeeded");
	ck_assert_str_ne(msg, "");
	return msg;
}

#define ck_assert_contains(hay, needle)                                                            \
	ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" does not mention \"%s\"", (hay),    \
	              (needle))

/* ---- defaults ---------------------------------------------------------- */

static void assert_contract_defaults(const struct config *c)
{
	ck_assert_str_eq(c->listen, "127.0.0.1:8080");
	ck_assert_str_eq(c->listen_host, "127.0.0.1");
	ck_assert_int_eq(c->listen_port, 8080);
	ck_assert_int_eq(c->threads, 0);
	ck_assert_int_eq(c->max_body_bytes, 65536);
	ck_assert_int_eq(c->request_timeout_s, 10);
	ck_assert_str_eq(c->database_url, "postgresql:///coolingd");
	ck_assert_int_eq(c->pool_size, 8);
	ck_assert_int_eq(c->database_health_timeout_s, 2);
	ck_assert_str_eq(c->profile, "kz-card");
	ck_assert_str_eq(c->timezone, "Asia/Almaty");
	ck_assert_int_eq(c->max_clock_skew_s, 120);
	ck_assert_int_eq(c->max_backdate_s, 3600);
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert_int_eq(c->log_format, LOG_FORMAT_JSON);

	/* cooling_period = 24h and threshold_mrp = 150: the profile's. */
	struct policy p;
	config_policy(c, &p);
	ck_assert_str_eq(p.name, "kz-card");
	ck_assert_int_eq(p.cooling_period_s, 86400);
	ck_assert_int_eq(p.threshold_mrp, 150);
}

START_TEST(test_defaults_are_the_contract_defaults)
{
	struct config c = load_ok(NULL);

	assert_contract_defaults(&c);
	ck_assert_int_eq(c.cooling_period_s, -1);
	ck_assert_int_eq(c.threshold_mrp, -1);
}
END_TEST

START_TEST(test_missing_file_at_default_path_means_defaults)
{
	struct config c;
	char msg[256] = "";

	ck_assert_msg(
	    config_load(&c, "/nonexistent-coolingd-dir/coolingd.conf", true, msg, sizeof(msg)),
	    "%s", msg);
	assert_contract_defaults(&c);
}
END_TEST

START_TEST(test_missing_file_at_explicit_path_fails_naming_it)
{
	const char *msg = load_fails("/nonexistent-coolingd-dir/coolingd.conf");

	ck_assert_contains(msg, "/nonexistent-coolingd-dir/coolingd.conf");
}
END_TEST

START_TEST(test_contract_example_file_loads_as_the_defaults)
{
	/* CONTRACT.md's block, comments included. */
	const char *path = write_conf(
	    "[server]\n"
	    "listen = 127.0.0.1:8080      ; host:port\n"
	    "threads = 0                  ; 0 = one event loop per CPU core\n"
	    "max_body_bytes = 65536\n"
	    "request_timeout = 10s\n"
	    "\n"
	    "[database]\n"
	    "url = postgresql:///coolingd ; any libpq connection string or URI\n"
	    "pool_size = 8\n"
	    "\n"
	    "[policy]\n"
	    "profile = kz-card            ; see REGULATION.md; more profiles come later\n"
	    "cooling_period = 24h         ; overrides the profile's period (tests use 2s)\n"
	    "threshold_mrp = 150          ; overrides the profile's threshold, in MRP\n"
	    "timezone = Asia/Almaty       ; which local date picks the MRP in force\n"
	    "max_clock_skew = 2m          ; client timestamps may be this far in the future\n"
	    "max_backdate = 1h            ; ... and this far in the past\n"
	    "\n"
	    "[log]\n"
	    "level = info                 ; error | warn | info | debug\n"
	    "format = json                ; json | text\n");
	struct config c = load_ok(path);

	assert_contract_defaults(&c);
	ck_assert_int_eq(c.cooling_period_s, 86400);
	ck_assert_int_eq(c.threshold_mrp, 150);
}
END_TEST

/* ---- the file ---------------------------------------------------------- */

START_TEST(test_file_sets_every_key)
{
	const char *path = write_conf("# a comment\n"
	                              "[server]\n"
	                              "listen = 0.0.0.0:9090\n"
	                              "threads = 4\n"
	                              "max_body_bytes = 1024\n"
	                              "request_timeout = 30s\n"
	                              "[database]\n"
	                              "url = host=db dbname=loans\n"
	                              "pool_size = 16\n"
	                              "health_timeout = 5s\n"
	                              "[policy]\n"
	                              "profile = kz-card\n"
	                              "cooling_period = 2s\n"
	                              "threshold_mrp = 75\n"
	                              "timezone = Asia/Qostanay\n"
	                              "max_clock_skew = 90s\n"
	                              "max_backdate = 2d\n"
	                              "allow_below_legal_minimum = true\n"
	                              "[log]\n"
	                              "level = debug\n"
	                              "format = text\n");
	struct config c = load_ok(path);

	ck_assert_str_eq(c.listen, "0.0.0.0:9090");
	ck_assert_str_eq(c.listen_host, "0.0.0.0");
	ck_assert_int_eq(c.listen_port, 9090);
	ck_assert_int_eq(c.threads, 4);
	ck_assert_int_eq(c.max_body_bytes, 1024);
	ck_assert_int_eq(c.request_timeout_s, 30);
	ck_assert_str_eq(c.database_url, "host=db dbname=loans");
	ck_assert_int_eq(c.pool_size, 16);
	ck_assert_int_eq(c.database_health_timeout_s, 5);
	ck_assert_str_eq(c.profile, "kz-card");
	ck_assert_int_eq(c.cooling_period_s, 2);
	ck_assert_int_eq(c.threshold_mrp, 75);
	ck_assert_str_eq(c.timezone, "Asia/Qostanay");
	ck_assert_int_eq(c.max_clock_skew_s, 90);
	ck_assert_int_eq(c.max_backdate_s, 2 * 86400);
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	ck_assert_int_eq(c.log_format, LOG_FORMAT_TEXT);
}
END_TEST

START_TEST(test_file_setting_some_keys_keeps_the_other_defaults)
{
	struct config c = load_ok(write_conf("[log]\nlevel = warn\n"));

	ck_assert_int_eq(c.log_level, LOG_WARN);
	ck_assert_str_eq(c.listen, "127.0.0.1:8080");
	ck_assert_int_eq(c.pool_size, 8);
}
END_TEST

START_TEST(test_durations_take_every_unit)
{
	struct config c = load_ok(write_conf("[server]\nrequest_timeout = 15m\n"
	                                     "[policy]\ncooling_period = 24h\n"
	                                     "max_clock_skew = 90s\nmax_backdate = 2d\n"
	                                     "allow_below_legal_minimum = true\n"));

	ck_assert_int_eq(c.request_timeout_s, 900);
	ck_assert_int_eq(c.cooling_period_s, 86400);
	ck_assert_int_eq(c.max_clock_skew_s, 90);
	ck_assert_int_eq(c.max_backdate_s, 172800);
}
END_TEST

START_TEST(test_listen_on_ipv6_address_in_brackets)
{
	struct config c = load_ok(write_conf("[server]\nlisten = [::1]:8443\n"));

	ck_assert_str_eq(c.listen_host, "::1");
	ck_assert_int_eq(c.listen_port, 8443);
}
END_TEST

/* ---- the environment --------------------------------------------------- */

START_TEST(test_env_beats_the_file)
{
	const char *path = write_conf("[server]\nlisten = 0.0.0.0:9090\n"
	                              "[database]\nurl = postgresql:///from_file\n"
	                              "[policy]\ncooling_period = 1h\n"
	                              "allow_below_legal_minimum = true\n"
	                              "[log]\nlevel = warn\n");
	setenv("COOLINGD_SERVER_LISTEN", "127.0.0.1:7000", 1);
	setenv("COOLINGD_DATABASE_URL", "postgresql:///from_env", 1);
	setenv("COOLINGD_POLICY_COOLING_PERIOD", "2s", 1);
	setenv("COOLINGD_LOG_LEVEL", "debug", 1);
	struct config c = load_ok(path);

	ck_assert_str_eq(c.listen, "127.0.0.1:7000");
	ck_assert_int_eq(c.listen_port, 7000);
	ck_assert_str_eq(c.database_url, "postgresql:///from_env");
	ck_assert_int_eq(c.cooling_period_s, 2);
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	clear_env();
}
END_TEST

START_TEST(test_env_applies_without_a_file)
{
	setenv("COOLINGD_POLICY_THRESHOLD_MRP", "75", 1);
	setenv("COOLINGD_SERVER_THREADS", "2", 1);
	setenv("COOLINGD_LOG_FORMAT", "text", 1);
	struct config c = load_ok(NULL);

	ck_assert_int_eq(c.threshold_mrp, 75);
	ck_assert_int_eq(c.threads, 2);
	ck_assert_int_eq(c.log_format, LOG_FORMAT_TEXT);
	clear_env();
}
END_TEST

START_TEST(test_file_value_not_overridden_by_env_stays)
{
	const char *path = write_conf("[database]\npool_size = 3\n");
	setenv("COOLINGD_SERVER_LISTEN", "127.0.0.1:7000", 1);
	struct config c = load_ok(path);

	ck_assert_int_eq(c.pool_size, 3);
	ck_assert_int_eq(c.listen_port, 7000);
	clear_env();
}
END_TEST

/* ---- values that do not parse ------------------------------------------ */

START_TEST(test_bad_duration_in_file_fails_naming_the_key)
{
	const char *msg = load_fails(write_conf("[policy]\ncooling_period = 10 hours\n"));

	ck_assert_contains(msg, "policy.cooling_period");
}
END_TEST

START_TEST(test_bad_duration_in_env_fails_naming_the_variable)
{
	setenv("COOLINGD_POLICY_COOLING_PERIOD", "10 hours", 1);
	const char *msg = load_fails(NULL);

	ck_assert_contains(msg, "COOLINGD_POLICY_COOLING_PERIOD");
	clear_env();
}
END_TEST

START_TEST(test_bad_env_value_beats_a_good_file_value_and_fails)
{
	const char *path = write_conf("[server]\nrequest_timeout = 10s\n");
	setenv("COOLINGD_SERVER_REQUEST_TIMEOUT", "10", 1);
	const char *msg = load_fails(path);

	ck_assert_contains(msg, "COOLINGD_SERVER_REQUEST_TIMEOUT");
	clear_env();
}
END_TEST

START_TEST(test_bad_values_fail_naming_the_key)
{
	static const struct {
		const char *text;
		const char *key;
	} cases[] = {
	    {"[server]\nthreads = -1\n", "server.threads"},
	    {"[server]\nthreads = four\n", "server.threads"},
	    {"[server]\nmax_body_bytes = 64k\n", "server.max_body_bytes"},
	    {"[server]\nrequest_timeout = 10\n", "server.request_timeout"},
	    {"[server]\nrequest_timeout = 0s\n", "server.request_timeout"},
	    {"[database]\npool_size = 0\n", "database.pool_size"},
	    {"[policy]\nthreshold_mrp = 1.5\n", "policy.threshold_mrp"},
	    {"[policy]\nmax_clock_skew = -2m\n", "policy.max_clock_skew"},
	    {"[policy]\nmax_backdate = 1w\n", "policy.max_backdate"},
	    {"[policy]\ntimezone = Asia/Almaty; DROP\n", "policy.timezone"},
	    {"[log]\nlevel = verbose\n", "log.level"},
	    {"[log]\nformat = xml\n", "log.format"},
	    {"[server]\nmax_connections = 0\n", "server.max_connections"},
	    {"[server]\nmax_header_bytes = 1023\n", "server.max_header_bytes"},
	    {"[server]\nauth_failures_per_minute = -1\n", "server.auth_failures_per_minute"},
	    {"[server]\nauth_failure_window = 0s\n", "server.auth_failure_window"},
	    {"[tls]\nlisten = 8443\n", "tls.listen"},
	    {"[tls]\nmin_version = TLSv1.1\n", "tls.min_version"},
	    {"[audit]\nseal = maybe\n", "audit.seal"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *msg = load_fails(write_conf(cases[i].text));
		ck_assert_contains(msg, cases[i].key);
		unlink(tmp_paths[--ntmp]);
	}
}
END_TEST

START_TEST(test_unknown_key_fails_naming_it)
{
	ck_assert_contains(load_fails(write_conf("[server]\nport = 8080\n")), "server.port");
	ck_assert_contains(load_fails(write_conf("[policy]\ncooling = 24h\n")), "policy.cooling");
	ck_assert_contains(load_fails(write_conf("[metrics]\nport = 9100\n")), "metrics.port");
}
END_TEST

START_TEST(test_unknown_profile_fails)
{
	const char *msg = load_fails(write_conf("[policy]\nprofile = kz-2099\n"));

	ck_assert_contains(msg, "policy.profile");
	setenv("COOLINGD_POLICY_PROFILE", "nope", 1);
	msg = load_fails(NULL);
	ck_assert_contains(msg, "COOLINGD_POLICY_PROFILE");
	clear_env();
}
END_TEST

START_TEST(test_listen_without_port_fails)
{
	static const char *const bad[] = {"127.0.0.1",   "127.0.0.1:",      ":8080",
	                                  "localhost:0", "localhost:65536", "localhost:http",
	                                  "[::1]"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("COOLINGD_SERVER_LISTEN", bad[i], 1);
		const char *msg = load_fails(NULL);
		ck_assert_contains(msg, "server.listen");
		ck_assert_contains(msg, "COOLINGD_SERVER_LISTEN");
	}
	clear_env();
	ck_assert_contains(load_fails(write_conf("[server]\nlisten = 127.0.0.1\n")),
	                   "server.listen");
}
END_TEST

START_TEST(test_limits_and_tls_defaults_and_values)
{
	struct config c = load_ok(NULL);
	ck_assert_int_eq(c.max_connections, 10000);
	ck_assert_int_eq(c.max_header_bytes, 16384);
	ck_assert_int_eq(c.auth_failures_per_minute, 30);
	ck_assert_int_eq(c.auth_failure_window_s, 60);
	ck_assert_str_eq(c.tls_listen, ""); /* no HTTPS listener */
	ck_assert_int_eq(c.tls_listen_port, 0);
	ck_assert_str_eq(c.tls_min_version, "TLSv1.2");
	c = load_ok(write_conf("[server]\nauth_failures_per_minute = 0\n"
	                       "[tls]\nlisten = 127.0.0.1:8443\nmin_version = TLSv1.3\n"));
	ck_assert_int_eq(c.auth_failures_per_minute, 0);
	ck_assert_str_eq(c.tls_listen_host, "127.0.0.1");
	ck_assert_int_eq(c.tls_listen_port, 8443);
	ck_assert_str_eq(c.tls_min_version, "TLSv1.3");
	/* the plain listener is untouched by the TLS one */
	ck_assert_str_eq(c.listen_host, "127.0.0.1");
	ck_assert_int_eq(c.listen_port, 8080);
}
END_TEST

START_TEST(test_audit_seal_is_on_by_default_and_takes_on_or_off)
{
	struct config c = load_ok(NULL);
	ck_assert(c.audit_seal);

	c = load_ok(write_conf("[audit]\nseal = off\n"));
	ck_assert(!c.audit_seal);

	setenv("COOLINGD_AUDIT_SEAL", "on", 1);
	c = load_ok(write_conf("[audit]\nseal = off\n"));
	ck_assert(c.audit_seal);
	clear_env();

	ck_assert_contains(load_fails(write_conf("[audit]\nseal = maybe\n")), "audit.seal");
}
END_TEST

START_TEST(test_payee_keys_are_off_by_default_and_take_on_or_off)
{
	struct config c = load_ok(NULL);
	ck_assert(!c.payee_required);
	ck_assert(!c.payout_to_borrower_only);

	c = load_ok(write_conf("[policy]\npayee_required = true\npayout_to_borrower_only = on\n"));
	ck_assert(c.payee_required);
	ck_assert(c.payout_to_borrower_only);

	setenv("COOLINGD_POLICY_PAYOUT_TO_BORROWER_ONLY", "false", 1);
	c = load_ok(write_conf("[policy]\npayout_to_borrower_only = on\n"));
	ck_assert(!c.payout_to_borrower_only);
	clear_env();

	ck_assert_contains(load_fails(write_conf("[policy]\npayee_required = sometimes\n")),
	                   "policy.payee_required");
}
END_TEST

START_TEST(test_burst_lenders_is_off_by_default_and_needs_aggregation_all)
{
	struct config c = load_ok(NULL);
	ck_assert_int_eq(c.burst_lenders, 0);
	ck_assert_int_eq(c.burst_window_s, 3600);
	ck_assert_contains(load_fails(write_conf("[policy]\nburst_lenders = 3\n")),
	                   "policy.burst_lenders");
	setenv("COOLINGD_POLICY_BURST_LENDERS", "2", 1);
	ck_assert_contains(load_fails(write_conf("[policy]\naggregation = lender\n")),
	                   "policy.burst_lenders");
	clear_env();
	c = load_ok(write_conf("[policy]\nburst_lenders = 3\nburst_window = 30m\n"
	                       "aggregation = all\n"));
	ck_assert_int_eq(c.burst_lenders, 3);
	ck_assert_int_eq(c.burst_window_s, 1800);
}
END_TEST

START_TEST(test_prior_victim_days_is_365_by_default_and_0_switches_it_off)
{
	struct config c = load_ok(NULL);
	ck_assert_int_eq(c.prior_victim_days, 365);
	c = load_ok(write_conf("[policy]\nprior_victim_days = 0\n"));
	ck_assert_int_eq(c.prior_victim_days, 0);
	ck_assert_contains(load_fails(write_conf("[policy]\nprior_victim_days = -1\n")),
	                   "policy.prior_victim_days");
}
END_TEST

START_TEST(test_metrics_listen_defaults_to_loopback_9464_and_empty_switches_it_off)
{
	struct config c = load_ok(NULL);
	ck_assert_str_eq(c.metrics_listen, "127.0.0.1:9464");
	ck_assert_str_eq(c.metrics_listen_host, "127.0.0.1");
	ck_assert_int_eq(c.metrics_listen_port, 9464);

	c = load_ok(write_conf("[metrics]\nlisten = 0.0.0.0:9100\n"));
	ck_assert_str_eq(c.metrics_listen_host, "0.0.0.0");
	ck_assert_int_eq(c.metrics_listen_port, 9100);

	c = load_ok(write_conf("[metrics]\nlisten =\n"));
	ck_assert_str_eq(c.metrics_listen, "");
	ck_assert_int_eq(c.metrics_listen_port, 0);

	setenv("COOLINGD_METRICS_LISTEN", "", 1);
	c = load_ok(NULL);
	ck_assert_str_eq(c.metrics_listen, "");
	clear_env();
}
END_TEST

START_TEST(test_bad_metrics_listen_fails_naming_the_key)
{
	static const char *const bad[] = {"9464",        ":9464",           "127.0.0.1:",
	                                  "127.0.0.1:0", "127.0.0.1:65536", "localhost:prometheus"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "[metrics]\nlisten = %s\n", bad[i]);
		const char *msg = load_fails(write_conf(text));
		ck_assert_contains(msg, "metrics.listen");
		ck_assert_contains(msg, "must be host:port or empty");
		unlink(tmp_paths[--ntmp]);

		setenv("COOLINGD_METRICS_LISTEN", bad[i], 1);
		ck_assert_contains(load_fails(NULL), "COOLINGD_METRICS_LISTEN");
		clear_env();
	}
}
END_TEST

START_TEST(test_file_that_is_not_ini_fails)
{
	load_fails(write_conf("[server]\nlisten 127.0.0.1:8080\n"));
}
END_TEST

/* ---- the policy in force ----------------------------------------------- */

START_TEST(test_policy_applies_the_configured_overrides)
{
	struct config c = load_ok(write_conf("[policy]\ncooling_period = 2s\nthreshold_mrp = 75\n"
	                                     "allow_below_legal_minimum = true\n"));
	struct policy p;

	config_policy(&c, &p);
	ck_assert_str_eq(p.name, "kz-card");
	ck_assert_int_eq(p.cooling_period_s, 2);
	ck_assert_int_eq(p.threshold_mrp, 75);
	ck_assert(p.cool_online);
	ck_assert(!p.cool_branch);
}
END_TEST

START_TEST(test_policy_override_of_one_number_keeps_the_other)
{
	struct config c = load_ok(
	    write_conf("[policy]\ncooling_period = 8h\nallow_below_legal_minimum = true\n"));
	struct policy p;

	config_policy(&c, &p);
	ck_assert_int_eq(p.cooling_period_s, 28800);
	ck_assert_int_eq(p.threshold_mrp, 150);

	setenv("COOLINGD_POLICY_THRESHOLD_MRP", "255", 1);
	c = load_ok(NULL);
	config_policy(&c, &p);
	ck_assert_int_eq(p.cooling_period_s, 86400);
	ck_assert_int_eq(p.threshold_mrp, 255);
	clear_env();
}
END_TEST

START_TEST(test_policy_override_to_zero_is_honoured)
{
	struct config c = load_ok(write_conf("[policy]\ncooling_period = 0s\nthreshold_mrp = 0\n"
	                                     "allow_below_legal_minimum = true\n"));
	struct policy p;

	config_policy(&c, &p);
	ck_assert_int_eq(p.cooling_period_s, 0);
	ck_assert_int_eq(p.threshold_mrp, 0);
}
END_TEST

/* ---- reload ------------------------------------------------------------ */

START_TEST(test_restart_needed_names_server_listen_when_it_differs)
{
	struct config a = load_ok(NULL);
	setenv("COOLINGD_SERVER_LISTEN", "127.0.0.1:9999", 1);
	struct config b = load_ok(NULL);
	char msg[256];

	ck_assert(config_restart_needed(&a, &b, msg, sizeof(msg)));
	ck_assert_str_eq(msg, "server.listen");
	clear_env();
}
END_TEST

START_TEST(test_restart_needed_lists_every_differing_key)
{
	struct config a = load_ok(NULL);
	setenv("COOLINGD_SERVER_LISTEN", "127.0.0.1:9999", 1);
	setenv("COOLINGD_DATABASE_URL", "postgresql:///other", 1);
	struct config b = load_ok(NULL);
	char msg[256];

	ck_assert(config_restart_needed(&a, &b, msg, sizeof(msg)));
	ck_assert_str_eq(msg, "server.listen, database.url");
	clear_env();
}
END_TEST

START_TEST(test_restart_not_needed_for_reloadable_keys)
{
	struct config a = load_ok(NULL);
	setenv("COOLINGD_LOG_LEVEL", "debug", 1);
	setenv("COOLINGD_LOG_FORMAT", "text", 1);
	setenv("COOLINGD_POLICY_COOLING_PERIOD", "2s", 1);
	setenv("COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM", "true", 1);
	setenv("COOLINGD_POLICY_MAX_CLOCK_SKEW", "5m", 1);
	struct config b = load_ok(NULL);
	char msg[256] = "x";

	ck_assert(!config_restart_needed(&a, &b, msg, sizeof(msg)));
	ck_assert_str_eq(msg, "");
	ck_assert(!config_restart_needed(&a, &a, msg, sizeof(msg)));
	clear_env();
}
END_TEST

/* ---- the secret in a dump ----------------------------------------------- */

static void mask_stub(const char *in, char *out, size_t out_size)
{
	snprintf(out, out_size, "masked(%zu)", strlen(in));
}

START_TEST(test_config_dump_writes_the_database_url_through_the_mask_it_is_given)
{
	setenv("COOLINGD_DATABASE_URL", "postgresql://coolingd:hunter2@db/coolingd", 1);
	struct config c = load_ok(NULL);
	char out[4096] = "";
	FILE *f = fmemopen(out, sizeof(out) - 1, "w");
	config_dump(&c, f, mask_stub);
	fclose(f);
	ck_assert_contains(out, "database.url = masked(41)\n");
	ck_assert_contains(out, "server.listen = 127.0.0.1:8080\n");
	ck_assert_ptr_null(strstr(out, "hunter2"));

	memset(out, 0, sizeof(out));
	f = fmemopen(out, sizeof(out) - 1, "w");
	config_dump(&c, f, NULL);
	fclose(f);
	ck_assert_contains(out, "database.url = ***\n");
	ck_assert_ptr_null(strstr(out, "hunter2"));
	clear_env();
}
END_TEST

START_TEST(test_restart_needed_when_only_the_database_password_differs)
{
	setenv("COOLINGD_DATABASE_URL", "postgresql://coolingd:old@db/coolingd", 1);
	struct config a = load_ok(NULL);
	setenv("COOLINGD_DATABASE_URL", "postgresql://coolingd:new@db/coolingd", 1);
	struct config b = load_ok(NULL);
	char msg[256];

	ck_assert(config_restart_needed(&a, &b, msg, sizeof(msg)));
	ck_assert_str_eq(msg, "database.url");
	clear_env();
}
END_TEST

/* ---- guards on the configuration --------------------------------------- */

/* load_fails() and load_ok() of a file with text, removed again at once. */
static const char *text_fails(const char *text)
{
	const char *msg = load_fails(write_conf(text));
	unlink(tmp_paths[--ntmp]);
	return msg;
}

static struct config text_ok(const char *text)
{
	struct config c = load_ok(write_conf(text));
	unlink(tmp_paths[--ntmp]);
	return c;
}

START_TEST(test_cooling_period_below_the_legal_minimum_is_refused_naming_the_key)
{
	static const char *const short_periods[] = {"0s", "2s", "23h", "86399s"};

	for (size_t i = 0; i < sizeof(short_periods) / sizeof(short_periods[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "[policy]\ncooling_period = %s\nmax_backdate = 0s\n",
		         short_periods[i]);
		const char *msg = load_fails(write_conf(text));
		ck_assert_contains(msg, "policy.cooling_period");
		ck_assert_contains(msg, "legal minimum");
		unlink(tmp_paths[--ntmp]);
	}
	/* from the environment too */
	setenv("COOLINGD_POLICY_COOLING_PERIOD", "2s", 1);
	ck_assert_contains(load_fails(NULL), "policy.cooling_period");
	clear_env();
	/* the legal value itself and longer ones are fine */
	ck_assert_int_eq(load_ok(write_conf("[policy]\ncooling_period = 24h\n")).cooling_period_s,
	                 86400);
	ck_assert_int_eq(load_ok(write_conf("[policy]\ncooling_period = 2d\n")).cooling_period_s,
	                 172800);
}
END_TEST

START_TEST(test_max_backdate_as_long_as_the_cooling_period_is_refused_naming_the_key)
{
	const char *msg = text_fails(("[policy]\nmax_backdate = 2d\n"));
	ck_assert_contains(msg, "policy.max_backdate");
	msg = text_fails(("[policy]\nmax_backdate = 24h\n"));
	ck_assert_contains(msg, "policy.max_backdate");
	/* measured against the period in force, not the profile's */
	msg = text_fails(("[policy]\ncooling_period = 3d\nmax_backdate = 3d\n"));
	ck_assert_contains(msg, "policy.max_backdate");
	setenv("COOLINGD_POLICY_MAX_BACKDATE", "25h", 1);
	ck_assert_contains(load_fails(NULL), "policy.max_backdate");
	clear_env();

	struct config c = text_ok(("[policy]\nmax_backdate = 23h\n"));
	ck_assert_int_eq(c.max_backdate_s, 23 * 3600);
	c = text_ok(("[policy]\ncooling_period = 3d\nmax_backdate = 2d\n"));
	ck_assert_int_eq(c.max_backdate_s, 2 * 86400);
}
END_TEST

START_TEST(test_allow_below_legal_minimum_lifts_both_guards_and_is_off_by_default)
{
	ck_assert(!load_ok(NULL).allow_below_legal_minimum);

	struct config c = load_ok(write_conf("[policy]\ncooling_period = 0s\nmax_backdate = 2d\n"
	                                     "allow_below_legal_minimum = true\n"));
	ck_assert(c.allow_below_legal_minimum);
	ck_assert_int_eq(c.cooling_period_s, 0);
	ck_assert_int_eq(c.max_backdate_s, 2 * 86400);

	setenv("COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM", "true", 1);
	setenv("COOLINGD_POLICY_COOLING_PERIOD", "2s", 1);
	c = load_ok(NULL);
	ck_assert_int_eq(c.cooling_period_s, 2);
	/* and the environment can put the guards back over a file that lifts them */
	setenv("COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM", "false", 1);
	ck_assert_contains(load_fails(write_conf("[policy]\nallow_below_legal_minimum = true\n")),
	                   "policy.cooling_period");
	clear_env();

	c = load_ok(NULL);
	char out[4096] = "";
	FILE *f = fmemopen(out, sizeof(out) - 1, "w");
	config_dump(&c, f, NULL);
	fclose(f);
	ck_assert_contains(out, "policy.allow_below_legal_minimum = off\n");
}
END_TEST

START_TEST(test_unknown_variable_of_a_known_section_is_refused_naming_it)
{
	static const char *const typos[] = {"COOLINGD_POLICY_COOLINGPERIOD",
	                                    "COOLINGD_SERVER_LISTN", "COOLINGD_LOG_"};

	for (size_t i = 0; i < sizeof(typos) / sizeof(typos[0]); i++) {
		setenv(typos[i], "2m", 1);
		const char *msg = load_fails(NULL);
		ck_assert_contains(msg, typos[i]);
		ck_assert_contains(msg, "unknown key");
		unsetenv(typos[i]);
	}
	/* a variable whose second word is no section is not the daemon's */
	setenv("COOLINGD_NOSECTION_ANYTHING", "x", 1);
	load_ok(NULL);
	clear_env();
}
END_TEST

START_TEST(test_time_zone_without_a_zone_file_is_refused_naming_the_key)
{
	const char *msg = load_fails(write_conf("[policy]\ntimezone = Mars/Phobos\n"));
	ck_assert_contains(msg, "policy.timezone");
	ck_assert_contains(msg, "Mars/Phobos");
	setenv("COOLINGD_POLICY_TIMEZONE", "Mars/Phobos", 1);
	ck_assert_contains(load_fails(NULL), "policy.timezone");
	/* an absolute path, a directory, an empty segment */
	static const char *const bad[] = {"/usr/share/zoneinfo/Asia/Almaty", "Asia",
	                                  "Asia//Almaty"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("COOLINGD_POLICY_TIMEZONE", bad[i], 1);
		ck_assert_contains(load_fails(NULL), "policy.timezone");
	}
	setenv("COOLINGD_POLICY_TIMEZONE", "Europe/Berlin", 1);
	ck_assert_str_eq(load_ok(NULL).timezone, "Europe/Berlin");
	clear_env();
}
END_TEST

START_TEST(test_time_zone_is_looked_up_in_tzdir)
{
	char dir[] = "/tmp/coolingd-tzdir-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char sub[64], file[96], text[96];
	snprintf(sub, sizeof(sub), "%s/Mars", dir);
	snprintf(file, sizeof(file), "%s/Phobos", sub);
	snprintf(text, sizeof(text), "%s/Deimos", sub);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fputs("TZif2", f);
	fclose(f);
	f = fopen(text, "w"); /* a file, but not a zone file */
	ck_assert_ptr_nonnull(f);
	fputs("Zone Mars/Deimos 0 - LMT\n", f);
	fclose(f);
	setenv("TZDIR", dir, 1);
	setenv("COOLINGD_POLICY_TIMEZONE", "Mars/Phobos", 1);
	ck_assert_str_eq(load_ok(NULL).timezone, "Mars/Phobos");
	setenv("COOLINGD_POLICY_TIMEZONE", "Mars/Deimos", 1);
	ck_assert_contains(load_fails(NULL), "policy.timezone");
	setenv("COOLINGD_POLICY_TIMEZONE", "Asia/Almaty", 1); /* not in that directory */
	ck_assert_contains(load_fails(NULL), "policy.timezone");
	clear_env();
	unlink(file);
	unlink(text);
	rmdir(sub);
	rmdir(dir);
}
END_TEST

/* ---- profile kz-2025-09 ---- */

START_TEST(test_law_keys_default_to_the_enacted_numbers)
{
	struct config c = load_ok(write_conf("[policy]\nprofile = kz-2025-09\n"));
	struct policy p;
	config_policy(&c, &p);
	ck_assert_str_eq(p.name, "kz-2025-09");
	ck_assert_int_eq(p.aggregation, AGGREGATION_LENDER);
	ck_assert_int_eq(p.bank_threshold_mrp, 150);
	ck_assert_int_eq(p.bank_period_s, 8 * 3600);
	ck_assert_int_eq(p.bank_long_threshold_mrp, 255);
	ck_assert_int_eq(p.bank_long_period_s, 24 * 3600);
	ck_assert_int_eq(p.mfo_threshold_mrp, 75);
	ck_assert_int_eq(p.mfo_period_s, 24 * 3600);
	ck_assert_int_eq(p.card_limit_exempt_mrp, 150);
	ck_assert_int_eq(p.extra_confirmation_under_age, 21);
	ck_assert_int_eq(p.extra_confirmation_from_age, 55);

	setenv("COOLINGD_POLICY_AGGREGATION", "all", 1);
	setenv("COOLINGD_POLICY_BANK_LONG_PERIOD", "2d", 1);
	c = load_ok(write_conf("[policy]\nprofile = kz-2025-09\nmfo_threshold_mrp = 70\n"));
	config_policy(&c, &p);
	ck_assert_int_eq(p.aggregation, AGGREGATION_ALL);
	ck_assert_int_eq(p.bank_long_period_s, 2 * 86400);
	ck_assert_int_eq(p.mfo_threshold_mrp, 70);
	clear_env();

	ck_assert_contains(load_fails(write_conf("[policy]\naggregation = some\n")),
	                   "policy.aggregation");
	ck_assert_contains(load_fails(write_conf("[policy]\nbank_period = 8 hours\n")),
	                   "policy.bank_period");
}
END_TEST

START_TEST(test_v1_keys_set_under_the_law_are_refused_even_at_their_default)
{
	const char *msg =
	    load_fails(write_conf("[policy]\nprofile = kz-2025-09\ncooling_period = 24h\n"));
	ck_assert_contains(msg, "policy.cooling_period");
	msg = load_fails(write_conf("[policy]\nprofile = kz-2025-09\nthreshold_mrp = 150\n"));
	ck_assert_contains(msg, "policy.threshold_mrp");
	/* from the environment too, and allow_below_legal_minimum does not lift it */
	setenv("COOLINGD_POLICY_THRESHOLD_MRP", "150", 1);
	msg = load_fails(
	    write_conf("[policy]\nprofile = kz-2025-09\nallow_below_legal_minimum = true\n"));
	ck_assert_contains(msg, "policy.threshold_mrp");
	clear_env();
	/* kz-card still takes them */
	load_ok(write_conf("[policy]\ncooling_period = 24h\nthreshold_mrp = 150\n"));
}
END_TEST

START_TEST(test_a_band_below_its_legal_period_is_refused_naming_its_key)
{
	const char *msg =
	    load_fails(write_conf("[policy]\nprofile = kz-2025-09\nbank_period = 7h\n"));
	ck_assert_contains(msg, "policy.bank_period");
	ck_assert_contains(msg, "legal minimum");
	msg = load_fails(write_conf("[policy]\nprofile = kz-2025-09\nmfo_period = 23h\n"));
	ck_assert_contains(msg, "policy.mfo_period");
	/* longer is allowed */
	load_ok(write_conf("[policy]\nprofile = kz-2025-09\nbank_period = 9h\n"));
	/* max_backdate must be shorter than the shortest period in force: 8 h */
	msg = load_fails(write_conf("[policy]\nprofile = kz-2025-09\nmax_backdate = 8h\n"));
	ck_assert_contains(msg, "policy.max_backdate");
	load_ok(write_conf("[policy]\nprofile = kz-2025-09\nmax_backdate = 7h\n"));
	/* lifted for tests */
	load_ok(write_conf("[policy]\nprofile = kz-2025-09\nbank_period = 2s\nmfo_period = 3s\n"
	                   "bank_long_period = 4s\nallow_below_legal_minimum = true\n"));
}
END_TEST

/* Each bound's reading: off ("above") by default, on or off, a bad value
 * naming its key, from the environment too; kz-card's own is a v1-style
 * key that the law refuses. */
START_TEST(test_each_bounds_inclusive_key_is_off_by_default_and_takes_on_or_off)
{
	static const struct {
		const char *key;
		size_t offset;
	} keys[] = {
	    {"threshold_inclusive", offsetof(struct policy, threshold_inclusive)},
	    {"bank_threshold_inclusive", offsetof(struct policy, bank_threshold_inclusive)},
	    {"bank_long_threshold_inclusive",
	     offsetof(struct policy, bank_long_threshold_inclusive)},
	    {"mfo_threshold_inclusive", offsetof(struct policy, mfo_threshold_inclusive)},
	};
	const char *profiles[] = {"kz-card", "kz-2025-09", "kz-2025-09", "kz-2025-09"};
	struct policy p;
	struct config c = text_ok("[policy]\nprofile = kz-2025-09\n");
	config_policy(&c, &p);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert(!*(const bool *)((const char *)&p + keys[i].offset));

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char text[160], want[96];
		snprintf(text, sizeof(text), "[policy]\nprofile = %s\n%s = on\n", profiles[i],
		         keys[i].key);
		c = text_ok(text);
		config_policy(&c, &p);
		for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
			ck_assert_int_eq(*(const bool *)((const char *)&p + keys[j].offset),
			                 i == j);
		snprintf(text, sizeof(text), "[policy]\nprofile = %s\n%s = off\n", profiles[i],
		         keys[i].key);
		c = text_ok(text);
		config_policy(&c, &p);
		ck_assert(!*(const bool *)((const char *)&p + keys[i].offset));
		snprintf(text, sizeof(text), "[policy]\nprofile = %s\n%s = from\n", profiles[i],
		         keys[i].key);
		snprintf(want, sizeof(want), "policy.%s: must be on or off", keys[i].key);
		ck_assert_contains(text_fails(text), want);
	}

	setenv("COOLINGD_POLICY_BANK_THRESHOLD_INCLUSIVE", "true", 1);
	c = text_ok("[policy]\nprofile = kz-2025-09\nbank_threshold_inclusive = off\n");
	config_policy(&c, &p);
	ck_assert(p.bank_threshold_inclusive);
	setenv("COOLINGD_POLICY_BANK_THRESHOLD_INCLUSIVE", "2", 1);
	ck_assert_contains(text_fails("[policy]\nprofile = kz-2025-09\n"),
	                   "COOLINGD_POLICY_BANK_THRESHOLD_INCLUSIVE");
	clear_env();

	/* kz-card's bound is its alone, as policy.threshold_mrp is */
	ck_assert_contains(
	    text_fails("[policy]\nprofile = kz-2025-09\nthreshold_inclusive = off\n"),
	    "policy.threshold_inclusive");

	/* the dump shows each reading */
	c = text_ok("[policy]\nprofile = kz-2025-09\nmfo_threshold_inclusive = yes\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_dump(&c, f, NULL);
	fclose(f);
	ck_assert_contains(buf, "policy.mfo_threshold_inclusive = on\n");
	ck_assert_contains(buf, "policy.bank_threshold_inclusive = off\n");
	free(buf);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults_are_the_contract_defaults);
	tcase_add_test(tc, test_missing_file_at_default_path_means_defaults);
	tcase_add_test(tc, test_missing_file_at_explicit_path_fails_naming_it);
	tcase_add_test(tc, test_contract_example_file_loads_as_the_defaults);
	tcase_add_test(tc, test_file_sets_every_key);
	tcase_add_test(tc, test_file_setting_some_keys_keeps_the_other_defaults);
	tcase_add_test(tc, test_durations_take_every_unit);
	tcase_add_test(tc, test_listen_on_ipv6_address_in_brackets);
	tcase_add_test(tc, test_env_beats_the_file);
	tcase_add_test(tc, test_env_applies_without_a_file);
	tcase_add_test(tc, test_file_value_not_overridden_by_env_stays);
	tcase_add_test(tc, test_bad_duration_in_file_fails_naming_the_key);
	tcase_add_test(tc, test_bad_duration_in_env_fails_naming_the_variable);
	tcase_add_test(tc, test_bad_env_value_beats_a_good_file_value_and_fails);
	tcase_add_test(tc, test_bad_values_fail_naming_the_key);
	tcase_add_test(tc, test_unknown_key_fails_naming_it);
	tcase_add_test(tc, test_unknown_profile_fails);
	tcase_add_test(tc, test_listen_without_port_fails);
	tcase_add_test(tc, test_audit_seal_is_on_by_default_and_takes_on_or_off);
	tcase_add_test(tc, test_payee_keys_are_off_by_default_and_take_on_or_off);
	tcase_add_test(tc, test_prior_victim_days_is_365_by_default_and_0_switches_it_off);
	tcase_add_test(tc, test_burst_lenders_is_off_by_default_and_needs_aggregation_all);
	tcase_add_test(tc, test_limits_and_tls_defaults_and_values);
	tcase_add_test(tc, test_file_that_is_not_ini_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("guards");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cooling_period_below_the_legal_minimum_is_refused_naming_the_key);
	tcase_add_test(tc,
	               test_max_backdate_as_long_as_the_cooling_period_is_refused_naming_the_key);
	tcase_add_test(tc, test_allow_below_legal_minimum_lifts_both_guards_and_is_off_by_default);
	tcase_add_test(tc, test_unknown_variable_of_a_known_section_is_refused_naming_it);
	tcase_add_test(tc, test_time_zone_without_a_zone_file_is_refused_naming_the_key);
	tcase_add_test(tc, test_time_zone_is_looked_up_in_tzdir);
	tcase_add_test(tc, test_law_keys_default_to_the_enacted_numbers);
	tcase_add_test(tc, test_v1_keys_set_under_the_law_are_refused_even_at_their_default);
	tcase_add_test(tc, test_a_band_below_its_legal_period_is_refused_naming_its_key);
	tcase_add_test(tc, test_each_bounds_inclusive_key_is_off_by_default_and_takes_on_or_off);
	suite_add_tcase(s, tc);

	tc = tcase_create("use");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_policy_applies_the_configured_overrides);
	tcase_add_test(tc, test_policy_override_of_one_number_keeps_the_other);
	tcase_add_test(tc, test_policy_override_to_zero_is_honoured);
	tcase_add_test(tc, test_restart_needed_names_server_listen_when_it_differs);
	tcase_add_test(tc, test_restart_needed_lists_every_differing_key);
	tcase_add_test(tc, test_restart_not_needed_for_reloadable_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("mask");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_dump_writes_the_database_url_through_the_mask_it_is_given);
	tcase_add_test(tc, test_restart_needed_when_only_the_database_password_differs);
	tcase_add_test(tc, test_metrics_listen_defaults_to_loopback_9464_and_empty_switches_it_off);
	tcase_add_test(tc, test_bad_metrics_listen_fails_naming_the_key);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(config_suite)

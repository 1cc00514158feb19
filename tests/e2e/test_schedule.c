/*
 * Schedules of profiles end to end (CONTRACT.md v1.2, "Profiles as dated
 * data"): two real coolingd on one database, A with
 * "kz-card, kz-2025-09@TODAY" and B with "kz-card, kz-2025-09@TOMORROW",
 * TODAY being the database's local date in Asia/Almaty. An approval on A
 * is decided by kz-2025-09, one on B by kz-card; each loan keeps its
 * profile whichever daemon judges its acts and payout afterwards; policy
 * show (the API, coolingctl, coolingctl --api) and coolingd_policy_info say
 * the same; a bad schedule stops the start and --check-config naming
 * policy.profile, and a reload that brings one keeps the schedule in force.
 *
 * The amount (1,000,000 tenge) is above 150 MRP and up to 255 MRP in 2025
 * and 2026: kz-card's 24 h rule (3 s here), kz-2025-09's bank band of 8 h
 * (2 s here). The switch moment itself (Almaty's midnight) is
 * test_schedule_day's, against the statement that computes the date.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "support/e2e.h"
#include "support/httpc.h"
#include "support/proc.h"
#include "timeutil.h"

#define TZ "Asia/Almaty"

static struct e2e_env env; /* its daemon: kz-card alone, reloaded by one test */
static struct daemon da, dbb;
static int metrics_a, metrics_b;
static char today[16], tomorrow[16];
static char sched_today[64], sched_tomorrow[64];
static char profile_today[96], profile_tomorrow[96], metrics_a_kv[64], metrics_b_kv[64];
static char *bank, *comp;

static void date_of(int64_t days, char out[16])
{
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, 16, "%04lld-%02u-%02u", (long long)y, m, d);
}

static const char *const *daemon_env(const char *profile_kv, const char *metrics_kv)
{
	static const char *v[8];
	const char *const e[] = {profile_kv,
	                         "COOLINGD_POLICY_BANK_PERIOD=2s",
	                         "COOLINGD_POLICY_COOLING_PERIOD=3s",
	                         "COOLINGD_POLICY_MAX_BACKDATE=1s",
	                         metrics_kv,
	                         NULL};
	memcpy(v, e, sizeof e);
	return v;
}

static void setup(void)
{
	e2e_start(&env, "schedule", NULL);
	/* Close to Almaty's midnight, TODAY would be yesterday by the time
	 * the approvals come: wait until the date has changed. */
	long long left = e2e_sql_num(&env,
	                             "SELECT floor(extract(epoch FROM (date_trunc('day', now() AT "
	                             "TIME ZONE '" TZ "') + interval '1 day') - (now() AT TIME "
	                             "ZONE '" TZ "')))::bigint",
	                             NULL);
	if (left < 120)
		test_sleep_ms((left + 2) * 1000);
	long long days = e2e_sql_num(
	    &env, "SELECT (now() AT TIME ZONE '" TZ "')::date - DATE '1970-01-01'", NULL);
	date_of(days, today);
	date_of(days + 1, tomorrow);
	snprintf(sched_today, sizeof sched_today, "kz-card, kz-2025-09@%s", today);
	snprintf(sched_tomorrow, sizeof sched_tomorrow, "kz-card, kz-2025-09@%s", tomorrow);
	snprintf(profile_today, sizeof profile_today, "COOLINGD_POLICY_PROFILE=%s", sched_today);
	snprintf(profile_tomorrow, sizeof profile_tomorrow, "COOLINGD_POLICY_PROFILE=%s",
	         sched_tomorrow);

	e2e_lender_add(&env, "BANK1", "bank");
	bank = e2e_client_add(&env, "core1", "lender", "BANK1");
	comp = e2e_client_add(&env, "comp", "compliance", NULL);

	metrics_a = daemon_free_port();
	metrics_b = daemon_free_port();
	snprintf(metrics_a_kv, sizeof metrics_a_kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d",
	         metrics_a);
	snprintf(metrics_b_kv, sizeof metrics_b_kv, "COOLINGD_METRICS_LISTEN=127.0.0.1:%d",
	         metrics_b);
	if (!daemon_start(&da, env.db_url, daemon_env(profile_today, metrics_a_kv)) ||
	    !daemon_start(&dbb, env.db_url, daemon_env(profile_tomorrow, metrics_b_kv))) {
		fprintf(stderr, "test_schedule: a scheduled coolingd did not start\n");
		e2e_stop(&env);
		exit(EXIT_FAILURE);
	}
}

static void teardown(void)
{
	int a = daemon_stop(&da), b = daemon_stop(&dbb);
	if (a != 0)
		daemon_dump_log(&da);
	if (b != 0)
		daemon_dump_log(&dbb);
	free(bank);
	free(comp);
	e2e_stop(&env);
	if (a != 0 || b != 0)
		exit(EXIT_FAILURE);
}

static struct e2e_env on(const struct daemon *d)
{
	return e2e_env_on(&env, d->port);
}

/* A bank's online loan of 1,000,000 tenge, approved on daemon d. */
static void approve(const struct daemon *d, const char *loan_id, unsigned seed,
                    struct http_resp *out)
{
	struct e2e_env e = on(d);
	e2e_approve(&e, bank, "BANK1", loan_id,
	            &(struct e2e_loan){.iin_seed = seed, .amount = E2E_BIG_AMOUNT}, out);
}

static const char *loan_status(const struct daemon *d, const char *loan_id)
{
	static char status[64];
	struct e2e_env e = on(d);
	struct http_resp r;
	e2e_get_loan(&e, bank, "BANK1", loan_id, &r);
	ck_assert_int_eq(r.status, 200);
	snprintf(status, sizeof status, "%s", e2e_jstr(r.json, "status"));
	http_resp_free(&r);
	return status;
}

static void await_status(const struct daemon *d, const char *loan_id, const char *want)
{
	long long deadline = test_now_ms() + 10000;
	while (strcmp(loan_status(d, loan_id), want) != 0) {
		ck_assert_msg(test_now_ms() < deadline, "%s never became %s (%s)", loan_id, want,
		              loan_status(d, loan_id));
		test_sleep_ms(50);
	}
}

START_TEST(test_an_approval_on_the_switch_date_is_decided_by_the_new_profile)
{
	struct http_resp r;
	approve(&da, "NEW-1", 1, &r);
	ck_assert_str_eq(e2e_jstr(r.json, "policy"), "kz-2025-09");
	ck_assert_str_eq(e2e_jstr(r.json, "rule"), "bank_short");
	ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "cooling_period_seconds")), 2);
	ck_assert(json_is_true(e2e_json_at(r.json, "reconfirmation_required")));
	http_resp_free(&r);
	ck_assert_int_eq(
	    e2e_sql_num(&env,
	                "SELECT count(*) FROM loan WHERE loan_id = 'NEW-1' AND policy = "
	                "'kz-2025-09' AND (approved_at AT TIME ZONE '" TZ "')::date = $1::date",
	                today, NULL),
	    1);
}
END_TEST

START_TEST(test_an_approval_before_the_switch_date_is_decided_by_the_old_profile)
{
	struct http_resp r;
	approve(&dbb, "OLD-1", 2, &r);
	ck_assert_str_eq(e2e_jstr(r.json, "policy"), "kz-card");
	ck_assert_str_eq(e2e_jstr(r.json, "rule"), "card");
	ck_assert_int_eq(json_integer_value(e2e_json_at(r.json, "cooling_period_seconds")), 3);
	ck_assert(json_is_false(e2e_json_at(r.json, "reconfirmation_required")));
	http_resp_free(&r);
}
END_TEST

/* Each loan is judged by its recorded profile: the new one's payout on B
 * (whose today is kz-card's) still waits for the reconfirmation; the old
 * one's on A (whose today is kz-2025-09's) needs none and refuses one. */
START_TEST(test_each_loan_keeps_its_profile_whichever_daemon_judges_it)
{
	struct e2e_env a = on(&da), b = on(&dbb);
	approve(&da, "KEEP-NEW", 3, NULL);
	approve(&dbb, "KEEP-OLD", 4, NULL);

	e2e_consent(&b, bank, "BANK1", "KEEP-NEW");
	await_status(&dbb, "KEEP-NEW", "awaiting_reconfirmation");
	struct http_resp r;
	e2e_call(&b, "GET", "/v1/loans?status=awaiting_reconfirmation", comp, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, "\"KEEP-NEW\"") != NULL, "%s", r.body);
	http_resp_free(&r);
	e2e_disburse(&b, bank, "BANK1", "KEEP-NEW", NULL, &r);
	ck_assert_int_eq(r.status, 409);
	e2e_assert_strings(e2e_json_at(r.json, "blockers"), "blockers", "reconfirmation_missing",
	                   NULL);
	http_resp_free(&r);
	e2e_act_expect(&b, bank, "BANK1", "KEEP-NEW", "reconfirmation", "{}", 200);
	e2e_disburse(&b, bank, "BANK1", "KEEP-NEW", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(e2e_jstr(r.json, "loan.policy"), "kz-2025-09");
	http_resp_free(&r);

	e2e_act(&a, bank, "BANK1", "KEEP-OLD", "reconfirmation", "{}", NULL, &r);
	ck_assert_msg(e2e_is_error(&r, 409, "invalid_state", NULL), "%d %s", r.status, r.body);
	ck_assert_str_eq(e2e_jstr(r.json, "error.reason"), "not_required");
	http_resp_free(&r);
	e2e_consent(&a, bank, "BANK1", "KEEP-OLD");
	await_status(&da, "KEEP-OLD", "eligible");
	e2e_disburse(&a, bank, "BANK1", "KEEP-OLD", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(e2e_jstr(r.json, "loan.policy"), "kz-card");
	http_resp_free(&r);
}
END_TEST

static json_t *api_policy(const struct daemon *d)
{
	struct e2e_env e = on(d);
	struct http_resp r;
	e2e_call(&e, "GET", "/v1/policy", comp, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *o = json_incref(r.json);
	http_resp_free(&r);
	return o;
}

START_TEST(test_policy_show_prints_the_schedule_the_same_everywhere)
{
	json_t *o = api_policy(&da);
	char *schedule = json_dumps(json_object_get(o, "schedule"), JSON_COMPACT);
	char want[160];
	snprintf(want, sizeof want,
	         "[{\"profile\":\"kz-card\",\"from\":null},"
	         "{\"profile\":\"kz-2025-09\",\"from\":\"%s\"}]",
	         today);
	ck_assert_str_eq(schedule, want);
	free(schedule);
	ck_assert_ptr_null(json_object_get(o, "profile"));
	json_t *profiles = json_object_get(o, "profiles");
	ck_assert_int_eq(json_array_size(profiles), 2);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(
	        json_array_get(json_object_get(json_array_get(profiles, 1), "rules"), 0),
	        "period_seconds")),
	    2);

	/* coolingctl reads the same configuration into the same answer */
	const char *const cfg[] = {profile_today,
	                           "COOLINGD_POLICY_BANK_PERIOD=2s",
	                           "COOLINGD_POLICY_COOLING_PERIOD=3s",
	                           "COOLINGD_POLICY_MAX_BACKDATE=1s",
	                           "COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM=true",
	                           NULL};
	struct proc_run local;
	proc_ctl(&local, NULL, cfg, NULL, "policy", "show", "--json", NULL);
	ck_assert_msg(local.status == 0, "%s", local.err);
	json_error_t jerr;
	json_t *l = json_loads(local.out, 0, &jerr);
	ck_assert_msg(json_equal(l, o), "coolingctl: %s", local.out);
	json_decref(l);
	proc_run_free(&local);

	/* and through the API, the same text as from the configuration */
	char token_file[300], url[64];
	snprintf(token_file, sizeof token_file, "%s/schedule-token-%d",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	FILE *f = fopen(token_file, "w");
	ck_assert_msg(f != NULL, "%s", strerror(errno));
	fprintf(f, "%s\n", comp);
	fclose(f);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", da.port);
	struct proc_run api;
	proc_ctl(&local, NULL, cfg, NULL, "policy", "show", NULL);
	proc_ctl(&api, NULL, NULL, NULL, "--api", url, "--token-file", token_file, "policy", "show",
	         NULL);
	unlink(token_file);
	ck_assert_msg(local.status == 0 && api.status == 0, "%s %s", local.err, api.err);
	ck_assert_str_eq(api.out, local.out);
	char line[96];
	snprintf(line, sizeof line, "  from %s    kz-2025-09\n", today);
	ck_assert_msg(strstr(local.out, line) != NULL, "%s", local.out);
	ck_assert_msg(strstr(local.out, "\nprofile: kz-card\n") != NULL, "%s", local.out);
	ck_assert_msg(strstr(local.out, "\nprofile: kz-2025-09\n") != NULL, "%s", local.out);
	proc_run_free(&local);
	proc_run_free(&api);
	json_decref(o);

	/* a single profile keeps its v1.1 form, plus its schedule of one */
	o = api_policy(&env.d);
	ck_assert_str_eq(e2e_jstr(o, "profile"), "kz-card");
	ck_assert_int_eq(json_array_size(json_object_get(o, "schedule")), 1);
	ck_assert(json_is_null(
	    json_object_get(json_array_get(json_object_get(o, "schedule"), 0), "from")));
	json_decref(o);
}
END_TEST

/* The line of coolingd_policy_info in a scrape of port, within 5 s. */
static void await_info(int port, const char *profile, const char *schedule)
{
	char want[256];
	snprintf(want, sizeof want, "\ncoolingd_policy_info{profile=\"%s\",schedule=\"%s\"} 1\n",
	         profile, schedule);
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
	                          "Connection: close\r\n\r\n";
	long long deadline = test_now_ms() + 5000;
	for (;;) {
		char *resp = NULL;
		int rc = http_raw(port, req, sizeof req - 1, &resp, 5000);
		bool found = rc == 0 && resp != NULL && strstr(resp, want) != NULL;
		if (found || test_now_ms() > deadline) {
			ck_assert_msg(found, "no %s in:\n%s", want + 1, resp ? resp : "");
			free(resp);
			return;
		}
		free(resp);
		test_sleep_ms(50);
	}
}

START_TEST(test_the_metric_shows_the_profile_of_the_databases_today_and_the_schedule)
{
	await_info(metrics_a, "kz-2025-09", sched_today);
	await_info(metrics_b, "kz-card", sched_tomorrow);
}
END_TEST

START_TEST(test_a_bad_schedule_stops_the_start_and_check_config_naming_the_key)
{
	const char *const bad[] = {"COOLINGD_POLICY_PROFILE=kz-card, kz-2025-09@2025-09-31",
	                           "COOLINGD_POLICY_PROFILE=kz-2025-09@2025-09-30",
	                           "COOLINGD_POLICY_PROFILE=kz-card, kz-2025-09", NULL};
	for (int i = 0; bad[i] != NULL; i++) {
		const char *const e[] = {bad[i], NULL};
		struct proc_run r;
		const char *const argv[] = {"coolingd", "-c", "/dev/null", "--check-config", NULL};
		proc_run(&r, test_bin("coolingd"), argv, NULL, e);
		ck_assert_msg(r.status != 0, "%s: exit 0", bad[i]);
		ck_assert_msg(strstr(r.err, "policy.profile") != NULL, "%s: %s", bad[i], r.err);
		proc_run_free(&r);

		struct daemon d;
		ck_assert_msg(!daemon_start(&d, env.db_url, e), "%s: coolingd started", bad[i]);
		ck_assert(e2e_file_has_line(d.log_path, "policy.profile", NULL));
	}

	/* a good one: the key as written, and the schedule's table */
	const char *const good[] = {profile_today, NULL};
	const char *const argv[] = {"coolingd", "-c", "/dev/null", "--check-config", NULL};
	struct proc_run r;
	proc_run(&r, test_bin("coolingd"), argv, NULL, good);
	ck_assert_msg(r.status == 0, "%s", r.err);
	char want[160];
	snprintf(want, sizeof want, "policy.profile = %s\n", sched_today);
	ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
	snprintf(want, sizeof want, "  before %s  kz-card\n", today);
	ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
	proc_run_free(&r);
}
END_TEST

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

/* The plain daemon (kz-card) reloads into the schedule of today; a bad one
 * after it is refused, and the schedule stays. */
START_TEST(test_a_reload_takes_a_schedule_and_a_bad_one_keeps_it)
{
	char conf[256];
	snprintf(conf, sizeof conf,
	         "[policy]\nprofile = %s\nbank_period = 2s\nmax_backdate = 1s\n"
	         "allow_below_legal_minimum = true\n",
	         sched_today);
	write_config(&env.d, conf);
	ck_assert_int_eq(kill(env.d.pid, SIGHUP), 0);
	long long deadline = test_now_ms() + 5000;
	for (;;) {
		json_t *o = api_policy(&env.d);
		size_t n = json_array_size(json_object_get(o, "schedule"));
		json_decref(o);
		if (n == 2)
			break;
		ck_assert_msg(test_now_ms() < deadline, "the schedule was never loaded");
		test_sleep_ms(50);
	}
	write_config(&env.d, "[policy]\nprofile = kz-card, kz-2025-09@2025-13-01\n");
	ck_assert_int_eq(kill(env.d.pid, SIGHUP), 0);
	deadline = test_now_ms() + 5000;
	while (!e2e_file_has_line(env.d.log_path, "reload failed", "policy.profile")) {
		ck_assert_msg(test_now_ms() < deadline, "the bad schedule was not refused");
		test_sleep_ms(50);
	}
	json_t *o = api_policy(&env.d);
	ck_assert_int_eq(json_array_size(json_object_get(o, "schedule")), 2);
	json_decref(o);
	struct http_resp r;
	approve(&env.d, "RELOADED", 5, &r);
	ck_assert_str_eq(e2e_jstr(r.json, "policy"), "kz-2025-09");
	http_resp_free(&r);
}
END_TEST

static Suite *schedule_suite(void)
{
	Suite *s = suite_create("schedule");
	TCase *tc = tcase_create("schedule");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_an_approval_on_the_switch_date_is_decided_by_the_new_profile);
	tcase_add_test(tc, test_an_approval_before_the_switch_date_is_decided_by_the_old_profile);
	tcase_add_test(tc, test_each_loan_keeps_its_profile_whichever_daemon_judges_it);
	tcase_add_test(tc, test_policy_show_prints_the_schedule_the_same_everywhere);
	tcase_add_test(tc,
	               test_the_metric_shows_the_profile_of_the_databases_today_and_the_schedule);
	tcase_add_test(tc, test_a_bad_schedule_stops_the_start_and_check_config_naming_the_key);
	tcase_add_test(tc, test_a_reload_takes_a_schedule_and_a_bad_one_keeps_it);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(schedule_suite)

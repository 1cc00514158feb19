/*
 * Schedules of profiles (CONTRACT.md v1.2, "Profiles as dated data"):
 * [policy] profile = "kz-card, kz-2025-09@2025-09-30". What is a schedule
 * and what is refused (policy_schedule_parse, and config_load naming
 * policy.profile for every bad form, from the file and the environment),
 * the profile in force on a local date at and around each switch
 * (policy_in_force), the loan decided by it and recording its name, the
 * configuration's keys and guards over every profile of a schedule, and
 * what policy show prints (policy_schedule_table_of, codec).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "codec.h"
#include "config.h"
#include "policy.h"
#include "timeutil.h"

#define MRP_2025 3932

#define ck_assert_contains(hay, needle)                                                            \
	ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" does not mention \"%s\"", (hay),    \
	              (needle))

static int64_t day(int y, unsigned m, unsigned d)
{
	return days_from_civil(y, m, d);
}

static struct policy_schedule parse_ok(const char *text)
{
	struct policy_schedule s;
	const char *why = NULL;
	ck_assert_msg(policy_schedule_parse(text, &s, &why), "\"%s\" refused: %s", text,
	              why ? why : "");
	return s;
}

/* ---- what is a schedule ------------------------------------------------ */

START_TEST(test_a_single_name_is_a_schedule_of_one_entry_always_in_force)
{
	struct policy_schedule s = parse_ok("kz-2025-09");
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.entries[0].policy.name, "kz-2025-09");
	ck_assert(s.entries[0].from_days == POLICY_NO_DATE);
	ck_assert_str_eq(policy_in_force(&s, day(1970, 1, 1))->name, "kz-2025-09");
	ck_assert_str_eq(policy_in_force(&s, day(2099, 12, 31))->name, "kz-2025-09");
}
END_TEST

/* The approval's first read sums the day's other loans only for a schedule
 * with a profile that adds them up, whichever entry it is. */
START_TEST(test_a_schedule_aggregates_when_any_of_its_profiles_does)
{
	struct policy_schedule card = parse_ok("kz-card");
	ck_assert(!policy_schedule_aggregates(&card));
	struct policy_schedule law = parse_ok("kz-2025-09");
	ck_assert(policy_schedule_aggregates(&law));
	struct policy_schedule later = parse_ok("kz-card, kz-2025-09@2025-09-30");
	ck_assert(policy_schedule_aggregates(&later));
	struct policy_schedule earlier = parse_ok("kz-2025-09, kz-card@2030-01-01");
	ck_assert(policy_schedule_aggregates(&earlier));
	struct policy_schedule foreign = parse_ok("ru-2025-09, kg-2024-11@2030-01-01");
	ck_assert(!policy_schedule_aggregates(&foreign));
}
END_TEST

START_TEST(test_the_contracts_schedule_reads_with_its_dates)
{
	struct policy_schedule s = parse_ok("kz-card, kz-2025-09@2025-09-30");
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.entries[0].policy.name, "kz-card");
	ck_assert(s.entries[0].from_days == POLICY_NO_DATE);
	ck_assert_str_eq(s.entries[1].policy.name, "kz-2025-09");
	ck_assert_int_eq(s.entries[1].from_days, day(2025, 9, 30));
	/* each entry holds its profile's own numbers */
	ck_assert_int_eq(s.entries[1].policy.bank_period_s, 8 * 3600);

	/* blanks around the entries do not matter */
	struct policy_schedule t = parse_ok("  kz-card ,\tkz-2025-09@2025-09-30\t");
	ck_assert_int_eq(t.n, 2);
	ck_assert_int_eq(t.entries[1].from_days, day(2025, 9, 30));
	/* a profile may come back later */
	struct policy_schedule u = parse_ok("kz-card,kz-2025-09@2025-09-30,kz-card@2026-07-01");
	ck_assert_int_eq(u.n, 3);
}
END_TEST

START_TEST(test_every_bad_form_is_refused_with_its_reason)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
	    {"", "empty"},
	    {"kz-2099", "unknown profile"},
	    {"KZ-CARD", "unknown profile"},
	    {"kz-card, kz-2099@2026-01-01", "unknown profile"},
	    {"kz-card@2025-01-01", "first entry has a date"},
	    {"kz-card, kz-2025-09", "has no date"},
	    {"kz-card, kz-2025-09@2025-02-30", "not a date"},
	    {"kz-card, kz-2025-09@2025-9-30", "not name or name@YYYY-MM-DD"},
	    {"kz-card, kz-2025-09@", "not name or name@YYYY-MM-DD"},
	    {"kz-card, kz-2025-09@2025-09-30x", "not name or name@YYYY-MM-DD"},
	    {"kz-card, kz-2025-09 @ 2025-09-30", "not name or name@YYYY-MM-DD"},
	    {"kz-card, kz-2025-09@2025-09-30, kz-card@2025-09-30", "strictly increasing"},
	    {"kz-card, kz-2025-09@2025-09-30, kz-card@2025-09-29", "strictly increasing"},
	    {"kz-card, kz-card@2025-09-30", "same profile"},
	    {"kz-card,", "empty entry"},
	    {",kz-card", "empty entry"},
	    {"kz-card, , kz-2025-09@2025-09-30", "empty entry"},
	    {"kz-card kz-2025-09@2025-09-30", "unknown profile"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct policy_schedule s;
		const char *why = NULL;
		ck_assert_msg(!policy_schedule_parse(bad[i].text, &s, &why), "\"%s\" accepted",
		              bad[i].text);
		ck_assert_msg(why != NULL && strstr(why, bad[i].why) != NULL,
		              "\"%s\": \"%s\" does not say \"%s\"", bad[i].text, why ? why : "",
		              bad[i].why);
	}
}
END_TEST

START_TEST(test_more_than_sixteen_entries_are_refused)
{
	char text[1024] = "kz-card";
	for (int i = 1; i <= 16; i++) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof text - n, ", %s@2030-01-%02d",
		         i % 2 ? "kz-2025-09" : "kz-card", i);
	}
	struct policy_schedule s;
	const char *why = NULL;
	ck_assert(!policy_schedule_parse(text, &s, &why));
	ck_assert_contains(why, "more than 16");
	/* sixteen are enough */
	*strrchr(text, ',') = '\0';
	ck_assert(policy_schedule_parse(text, &s, &why));
	ck_assert_int_eq(s.n, 16);
}
END_TEST

/* ---- the profile of a local date ---------------------------------------- */

START_TEST(test_the_profile_switches_on_its_date_and_not_a_day_before)
{
	struct policy_schedule s = parse_ok("kz-card, kz-2025-09@2025-09-30, kz-card@2026-07-01");
	ck_assert_str_eq(policy_in_force(&s, day(2000, 1, 1))->name, "kz-card");
	ck_assert_str_eq(policy_in_force(&s, day(2025, 9, 29))->name, "kz-card");
	ck_assert_str_eq(policy_in_force(&s, day(2025, 9, 30))->name, "kz-2025-09");
	ck_assert_str_eq(policy_in_force(&s, day(2025, 10, 1))->name, "kz-2025-09");
	ck_assert_str_eq(policy_in_force(&s, day(2026, 6, 30))->name, "kz-2025-09");
	ck_assert_str_eq(policy_in_force(&s, day(2026, 7, 1))->name, "kz-card");
	ck_assert_str_eq(policy_in_force(&s, day(2099, 1, 1))->name, "kz-card");
}
END_TEST

/* A bank's online loan of 700,000 tenge in 2025 (above 150, up to 255
 * MRP): 24 h under kz-card, the 8 h band under kz-2025-09; the loan
 * records the profile that decided it. */
START_TEST(test_the_loan_is_decided_by_the_profile_of_its_date_and_records_it)
{
	struct policy_schedule s = parse_ok("kz-card, kz-2025-09@2025-09-30");
	struct loan before = {.amount_tiyn = 70000000,
	                      .channel = CHANNEL_ONLINE,
	                      .lender_kind = LENDER_BANK,
	                      .product = PRODUCT_CONSUMER,
	                      .borrower_age = 40,
	                      .in_person_verified_at = TS_NULL};
	struct loan after = before;
	policy_assess(policy_in_force(&s, day(2025, 9, 29)), MRP_2025, &before);
	policy_assess(policy_in_force(&s, day(2025, 9, 30)), MRP_2025, &after);
	ck_assert_str_eq(before.policy, "kz-card");
	ck_assert_int_eq(before.rule, RULE_CARD);
	ck_assert_int_eq(before.cooling_period_s, 24 * 3600);
	ck_assert(!before.reconfirmation_required);
	ck_assert_str_eq(after.policy, "kz-2025-09");
	ck_assert_int_eq(after.rule, RULE_BANK_SHORT);
	ck_assert_int_eq(after.cooling_period_s, 8 * 3600);
	ck_assert(after.reconfirmation_required);
}
END_TEST

/* ---- what policy show prints ---------------------------------------------- */

START_TEST(test_policy_show_of_a_schedule_lists_its_entries_and_each_profile_once)
{
	struct policy_schedule s = parse_ok("kz-card, kz-2025-09@2025-09-30, kz-card@2026-07-01");
	struct policy_schedule_table t;
	policy_schedule_table_of(&s, &t);
	ck_assert_int_eq(t.n, 3);
	ck_assert_int_eq(t.nprofiles, 2);

	json_t *o = codec_policy_schedule_json(&t);
	char *text = json_dumps(o, JSON_COMPACT);
	ck_assert_contains(text, "\"schedule\":[{\"profile\":\"kz-card\",\"from\":null},"
	                         "{\"profile\":\"kz-2025-09\",\"from\":\"2025-09-30\"},"
	                         "{\"profile\":\"kz-card\",\"from\":\"2026-07-01\"}]");
	/* no single profile at the top: a v1.1 client must not take one */
	ck_assert_ptr_null(json_object_get(o, "profile"));
	json_t *profiles = json_object_get(o, "profiles");
	ck_assert_int_eq(json_array_size(profiles), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(profiles, 0), "profile")),
	                 "kz-card");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(profiles, 1), "profile")),
	                 "kz-2025-09");
	ck_assert_int_eq(json_array_size(json_object_get(json_array_get(profiles, 1), "rules")), 3);
	free(text);
	json_decref(o);

	char *human = codec_policy_schedule_text(&t);
	ck_assert_contains(human, "before 2025-09-30  kz-card\n");
	ck_assert_contains(human, "from 2025-09-30    kz-2025-09\n");
	ck_assert_contains(human, "from 2026-07-01    kz-card\n");
	ck_assert_contains(human, "\nprofile: kz-card\n");
	ck_assert_contains(human, "\nprofile: kz-2025-09\n");
	free(human);
}
END_TEST

START_TEST(test_policy_show_of_one_profile_keeps_the_v11_form_and_adds_the_schedule)
{
	struct policy_schedule s = parse_ok("kz-2025-09");
	struct policy_schedule_table t;
	policy_schedule_table_of(&s, &t);
	json_t *o = codec_policy_schedule_json(&t);
	json_t *table = codec_policy_json(&t.profiles[0]);
	const char *k;
	json_t *v;
	json_object_foreach(table, k, v)
	{
		ck_assert_msg(json_equal(json_object_get(o, k), v), "%s differs", k);
	}
	char *text = json_dumps(json_object_get(o, "schedule"), JSON_COMPACT);
	ck_assert_str_eq(text, "[{\"profile\":\"kz-2025-09\",\"from\":null}]");
	ck_assert(json_equal(json_array_get(json_object_get(o, "profiles"), 0), table));
	free(text);
	json_decref(table);
	json_decref(o);

	char *human = codec_policy_schedule_text(&t);
	char *one = codec_policy_text(&t.profiles[0]);
	ck_assert_str_eq(human, one);
	free(human);
	free(one);
}
END_TEST

/* ---- the configuration ------------------------------------------------------ */

static char conf_path[64];

static void config_setup(void)
{
	unsetenv("COOLINGD_POLICY_PROFILE");
	unsetenv("COOLINGD_POLICY_COOLING_PERIOD");
	unsetenv("COOLINGD_POLICY_BANK_PERIOD");
	unsetenv("COOLINGD_POLICY_AGGREGATION");
	conf_path[0] = '\0';
}

static void config_teardown(void)
{
	config_setup();
	if (conf_path[0])
		unlink(conf_path);
}

static const char *write_conf(const char *text)
{
	if (conf_path[0])
		unlink(conf_path);
	snprintf(conf_path, sizeof conf_path, "/tmp/coolingd-schedule-XXXXXX");
	int fd = mkstemp(conf_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return conf_path;
}

static bool load(const char *path, struct config *c, char *msg, size_t size)
{
	msg[0] = '\0';
	return config_load(c, path, false, msg, size);
}

START_TEST(test_every_bad_schedule_stops_the_load_naming_policy_profile)
{
	static const char *const bad[] = {
	    "kz-card@2025-01-01",
	    "kz-card, kz-2025-09",
	    "kz-card, kz-2025-09@2025-02-30",
	    "kz-card, kz-2025-09@2025-09-30, kz-card@2025-09-30",
	    "kz-card, kz-card@2025-09-30",
	    "kz-card,",
	    "kz-card, kz-2099@2026-01-01",
	};
	struct config c;
	char msg[512], conf[256];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(conf, sizeof conf, "[policy]\nprofile = %s\n", bad[i]);
		ck_assert_msg(!load(write_conf(conf), &c, msg, sizeof msg), "%s accepted", bad[i]);
		ck_assert_msg(strncmp(msg, "policy.profile: ", 16) == 0, "%s: %s", bad[i], msg);
		setenv("COOLINGD_POLICY_PROFILE", bad[i], 1);
		ck_assert_msg(!load(NULL, &c, msg, sizeof msg), "%s accepted", bad[i]);
		ck_assert_msg(strncmp(msg, "policy.profile: ", 16) == 0, "%s: %s", bad[i], msg);
		ck_assert_contains(msg, "COOLINGD_POLICY_PROFILE");
		unsetenv("COOLINGD_POLICY_PROFILE");
	}
}
END_TEST

START_TEST(test_a_schedule_loads_and_every_profile_takes_the_keys)
{
	struct config c;
	char msg[512];
	ck_assert_msg(load(write_conf("[policy]\nprofile = kz-card, kz-2025-09@2025-09-30\n"
	                              "bank_period = 10h\naggregation = all\n"),
	                   &c, msg, sizeof msg),
	              "%s", msg);
	ck_assert_str_eq(c.profile, "kz-card, kz-2025-09@2025-09-30");
	struct policy_schedule s;
	config_schedule(&c, &s);
	ck_assert_int_eq(s.n, 2);
	ck_assert_int_eq(s.entries[1].from_days, day(2025, 9, 30));
	for (int e = 0; e < s.n; e++) {
		ck_assert_int_eq(s.entries[e].policy.bank_period_s, 10 * 3600);
		ck_assert_int_eq(s.entries[e].policy.aggregation, AGGREGATION_ALL);
	}
	struct policy p;
	config_policy(&c, &p);
	ck_assert_str_eq(p.name, "kz-card");
}
END_TEST

/* policy.cooling_period tunes kz-card: allowed under a schedule that holds
 * kz-card, refused under one that does not. */
START_TEST(test_v1_keys_are_allowed_under_a_schedule_holding_kz_card_only)
{
	struct config c;
	char msg[512];
	ck_assert_msg(load(write_conf("[policy]\nprofile = kz-card, kz-2025-09@2025-09-30\n"
	                              "cooling_period = 48h\n"),
	                   &c, msg, sizeof msg),
	              "%s", msg);
	struct policy_schedule s;
	config_schedule(&c, &s);
	ck_assert_int_eq(s.entries[0].policy.cooling_period_s, 48 * 3600);
	/* kz-2025-09's bands do not take it */
	struct policy_table t;
	policy_table_of(&s.entries[1].policy, &t);
	for (int i = 0; i < t.nbands; i++)
		ck_assert_int_ne(t.bands[i].period_s, 48 * 3600);

	ck_assert(load(write_conf("[policy]\nprofile = kz-2025-09\ncooling_period = 48h\n"), &c,
	               msg, sizeof msg) == false);
	ck_assert_contains(msg, "policy.cooling_period");
}
END_TEST

/* The legal minimum holds for every profile of the schedule, not only the
 * first. */
START_TEST(test_the_legal_minimum_holds_for_every_profile_of_the_schedule)
{
	struct config c;
	char msg[512];
	ck_assert(!load(write_conf("[policy]\nprofile = kz-card, kz-2025-09@2025-09-30\n"
	                           "bank_period = 1h\n"),
	                &c, msg, sizeof msg));
	ck_assert_contains(msg, "policy.bank_period");
	ck_assert_contains(msg, "kz-2025-09");
	/* max_backdate against the shortest period of any of them (8 h) */
	ck_assert(!load(write_conf("[policy]\nprofile = kz-card, kz-2025-09@2025-09-30\n"
	                           "max_backdate = 9h\n"),
	                &c, msg, sizeof msg));
	ck_assert_contains(msg, "policy.max_backdate");
	ck_assert(load(write_conf("[policy]\nprofile = kz-card\nmax_backdate = 9h\n"), &c, msg,
	               sizeof msg));
}
END_TEST

/* Every profile of the table names its law and where REGULATION.md has
 * it, and policy show prints it in its text and its JSON. */
START_TEST(test_every_profile_names_its_source_in_policy_show)
{
	size_t n = 0;
	for (const char *name; (name = policy_profile_name_at(n)) != NULL; n++) {
		struct policy p;
		struct policy_table t;
		ck_assert(policy_profile(name, &p));
		policy_table_of(&p, &t);
		ck_assert_msg(t.source != NULL && strstr(t.source, "REGULATION.md") != NULL,
		              "%s: no source naming REGULATION.md", name);
		char *text = codec_policy_text(&t);
		char line[512];
		snprintf(line, sizeof(line), "\nsource: %s\n", t.source);
		ck_assert_contains(text, line);
		free(text);
		json_t *j = codec_policy_json(&t);
		ck_assert_str_eq(json_string_value(json_object_get(j, "source")), t.source);
		json_decref(j);
		struct policy_table fixed;
		memset(&fixed, 0, sizeof(fixed));
		ck_assert(policy_profile_fixed(name, &fixed));
		ck_assert_str_eq(fixed.source, t.source);
	}
	ck_assert_uint_ge(n, 3);
	ck_assert_ptr_null(policy_profile_name_at(n));
	ck_assert_str_eq(policy_profile_name_at(0), policy_default_profile);
}
END_TEST

static Suite *schedule_suite(void)
{
	Suite *s = suite_create("policy_schedule");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_a_single_name_is_a_schedule_of_one_entry_always_in_force);
	tcase_add_test(tc, test_the_contracts_schedule_reads_with_its_dates);
	tcase_add_test(tc, test_every_bad_form_is_refused_with_its_reason);
	tcase_add_test(tc, test_more_than_sixteen_entries_are_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("in_force");
	tcase_add_test(tc, test_the_profile_switches_on_its_date_and_not_a_day_before);
	tcase_add_test(tc, test_the_loan_is_decided_by_the_profile_of_its_date_and_records_it);
	suite_add_tcase(s, tc);
	tc = tcase_create("show");
	tcase_add_test(tc, test_policy_show_of_a_schedule_lists_its_entries_and_each_profile_once);
	tcase_add_test(tc,
	               test_policy_show_of_one_profile_keeps_the_v11_form_and_adds_the_schedule);
	tcase_add_test(tc, test_every_profile_names_its_source_in_policy_show);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, config_setup, config_teardown);
	tcase_add_test(tc, test_every_bad_schedule_stops_the_load_naming_policy_profile);
	tcase_add_test(tc, test_a_schedule_loads_and_every_profile_takes_the_keys);
	tcase_add_test(tc, test_v1_keys_are_allowed_under_a_schedule_holding_kz_card_only);
	tcase_add_test(tc, test_the_legal_minimum_holds_for_every_profile_of_the_schedule);
	tcase_add_test(tc, test_a_schedule_aggregates_when_any_of_its_profiles_does);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(schedule_suite)

/*
 * The shared vocabularies and text helpers (lib/names.c, lib/text.c,
 * lib/timeutil.c's date check): a word or a parsing rule written once,
 * with the messages that list the words built from the same table.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "names.h"
#include "text.h"
#include "timeutil.h"

START_TEST(test_a_list_of_names_reads_as_a_sentence_or_a_synopsis)
{
	char out[96];
	ck_assert_str_eq(names_join(&role_names, ", ", " or ", out, sizeof out),
	                 "lender, compliance, auditor, registry or antifraud");
	ck_assert_str_eq(names_join(&role_names, "|", "|", out, sizeof out),
	                 "lender|compliance|auditor|registry|antifraud");
	ck_assert_str_eq(names_join(&lender_kind_names, ", ", " or ", out, sizeof out),
	                 "bank or mfo");
	ck_assert_str_eq(names_join(&log_level_names, ", ", " or ", out, sizeof out),
	                 "error, warn, info or debug");
	ck_assert_str_eq(names_join(&tls_version_names, ", ", " or ", out, sizeof out),
	                 "TLSv1.2 or TLSv1.3");
}
END_TEST

START_TEST(test_a_short_buffer_cuts_the_list_and_stays_terminated)
{
	char out[8];
	names_join(&role_names, ", ", " or ", out, sizeof out);
	ck_assert_str_eq(out, "lender,");
}
END_TEST

START_TEST(test_a_name_maps_to_its_value_and_back)
{
	int i = -1;
	ck_assert(name_lookup(&log_level_names, "debug", &i));
	ck_assert_int_eq(i, LOG_DEBUG);
	ck_assert_str_eq(name_of(&log_level_names, LOG_WARN), "warn");
	ck_assert(!name_lookup(&log_level_names, "DEBUG", &i));
	ck_assert_str_eq(name_of(&log_level_names, 9), "unknown");
	ck_assert_str_eq(name_of(&log_format_names, LOG_FORMAT_TEXT), "text");
	ck_assert_str_eq(name_of(&lender_kind_names, LENDER_MFO), "mfo");
}
END_TEST

START_TEST(test_every_state_reason_has_one_distinct_wire_name)
{
	char out[160];
	/* REASON_NONE's empty name is never sent; the others are the list of
	 * docs/api.md and docs/openapi.yaml */
	ck_assert_str_eq(name_of(&state_reason_names, REASON_NONE), "");
	ck_assert_int_eq(state_reason_names.count, REASON__COUNT);
	ck_assert_str_eq(names_join(&state_reason_names, ",", ",", out, sizeof out),
	                 ",cancelled,already_disbursed,different_time,different_details,"
	                 "not_required,cooling_not_ended");
	for (int i = 1; i < REASON__COUNT; i++) {
		int back = -1;
		ck_assert(name_lookup(&state_reason_names, name_of(&state_reason_names, i), &back));
		ck_assert_int_eq(back, i);
	}
}
END_TEST

START_TEST(test_a_request_id_is_1_to_64_identifier_characters)
{
	char longest[REQUEST_ID_BUF + 1];
	memset(longest, 'a', 64);
	longest[64] = '\0';
	ck_assert(request_id_valid("a"));
	ck_assert(request_id_valid("Req-1.2_3:4"));
	ck_assert(request_id_valid("."));
	ck_assert(request_id_valid(longest));
	longest[64] = 'a';
	longest[65] = '\0';
	ck_assert(!request_id_valid(longest));
	ck_assert(!request_id_valid(""));
	ck_assert(!request_id_valid(NULL));
	ck_assert(!request_id_valid("a b"));
	ck_assert(!request_id_valid("a/b"));
	ck_assert(!request_id_valid("\xd0\x90"));
	ck_assert(!request_id_valid("a\"b"));
}
END_TEST

START_TEST(test_roles_parse_to_their_bits_and_anything_else_to_none)
{
	ck_assert_int_eq(role_parse("lender"), ROLE_LENDER);
	ck_assert_int_eq(role_parse("compliance"), ROLE_COMPLIANCE);
	ck_assert_int_eq(role_parse("auditor"), ROLE_AUDITOR);
	ck_assert_int_eq(role_parse("registry"), ROLE_REGISTRY);
	ck_assert_int_eq(role_parse("antifraud"), ROLE_ANTIFRAUD);
	ck_assert_int_eq(role_parse("admin"), ROLE_NONE);
	ck_assert_int_eq(role_parse(""), ROLE_NONE);
	ck_assert_int_eq(role_parse("Lender"), ROLE_NONE);
}
END_TEST

START_TEST(test_int_parse_takes_only_plain_digits_that_fit)
{
	int64_t v = -1;
	ck_assert(int_parse("0", &v) && v == 0);
	ck_assert(int_parse("65535", &v) && v == 65535);
	ck_assert(int_parse("922337203685477579", &v) && v == INT64_C(922337203685477579));
	ck_assert(!int_parse("", &v));
	ck_assert(!int_parse("-1", &v));
	ck_assert(!int_parse("+1", &v));
	ck_assert(!int_parse(" 1", &v));
	ck_assert(!int_parse("1 ", &v));
	ck_assert(!int_parse("1e3", &v));
	ck_assert(!int_parse("99999999999999999999", &v));
}
END_TEST

START_TEST(test_a_date_is_real_only_on_the_calendar)
{
	ck_assert(date_valid_iso("2024-02-29"));
	ck_assert(!date_valid_iso("2023-02-29"));
	ck_assert(!date_valid_iso("2100-02-29"));
	ck_assert(date_valid_iso("2000-02-29"));
	ck_assert(!date_valid_iso("2025-04-31"));
	ck_assert(!date_valid_iso("2025-13-01"));
	ck_assert(!date_valid_iso("2025-00-10"));
	ck_assert(!date_valid_iso("0000-01-01"));
	ck_assert(date_valid_iso("0001-01-01"));
	ck_assert(date_valid_iso("9999-12-31"));
	ck_assert(!date_valid_iso("2025-1-01"));
	ck_assert(!date_valid_iso("2025-01-011"));
	ck_assert(!date_valid_iso("2025/01/01"));
	ck_assert(!date_valid_iso(""));
	ck_assert(civil_date_valid(2024, 2, 29));
	ck_assert(!civil_date_valid(2025, 2, 29));
}
END_TEST

START_TEST(test_is_digit_is_ascii_only)
{
	ck_assert(is_digit('0') && is_digit('9'));
	ck_assert(!is_digit('a') && !is_digit('/') && !is_digit(':') && !is_digit('\0'));
	ck_assert(!is_digit((char)0xb2)); /* superscript two in Latin-1 */
}
END_TEST

static Suite *names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, test_a_list_of_names_reads_as_a_sentence_or_a_synopsis);
	tcase_add_test(tc, test_a_short_buffer_cuts_the_list_and_stays_terminated);
	tcase_add_test(tc, test_a_name_maps_to_its_value_and_back);
	tcase_add_test(tc, test_every_state_reason_has_one_distinct_wire_name);
	tcase_add_test(tc, test_a_request_id_is_1_to_64_identifier_characters);
	tcase_add_test(tc, test_roles_parse_to_their_bits_and_anything_else_to_none);
	tcase_add_test(tc, test_int_parse_takes_only_plain_digits_that_fit);
	tcase_add_test(tc, test_a_date_is_real_only_on_the_calendar);
	tcase_add_test(tc, test_is_digit_is_ascii_only);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(names_suite)

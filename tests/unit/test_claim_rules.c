/*
 * The fraud claim's pure rules (lib/claim.c): the claim id's one spelling,
 * the outcomes, the texts' bounds, and the closure: a write while the claim
 * is open, a repeat with the same outcome, 409 different_details with
 * another.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "claim.h"
#include "timeutil.h"

START_TEST(test_a_claim_id_has_one_spelling)
{
	char s[CLAIM_ID_BUF];
	claim_id_format(17, s);
	ck_assert_str_eq(s, "FC-17");
	int64_t id = 0;
	ck_assert(claim_id_parse("FC-17", &id));
	ck_assert_int_eq(id, 17);
	ck_assert(claim_id_parse("FC-123456789012", &id) && id == 123456789012);
	const char *bad[] = {"FC-017", "FC-0",  "FC--1", "FC-",   "fc-17",
	                     "17",     "FC-1x", "FC- 1", "FC-1 ", "FC-9223372036854775808"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!claim_id_parse(bad[i], &id), "%s was read", bad[i]);
}
END_TEST

START_TEST(test_the_outcomes_are_confirmed_and_unfounded)
{
	enum claim_outcome o;
	ck_assert(claim_outcome_parse("confirmed", &o) && o == CLAIM_CONFIRMED);
	ck_assert(claim_outcome_parse("unfounded", &o) && o == CLAIM_UNFOUNDED);
	ck_assert(!claim_outcome_parse("Confirmed", &o));
	ck_assert(!claim_outcome_parse("", &o));
	ck_assert(!claim_outcome_parse("withdrawn", &o));
	ck_assert_str_eq(claim_outcome_name(CLAIM_CONFIRMED), "confirmed");
	ck_assert_str_eq(claim_outcome_name(CLAIM_UNFOUNDED), "unfounded");
	ck_assert_ptr_null(claim_outcome_name(CLAIM_OUTCOME_NONE));
}
END_TEST

START_TEST(test_texts_are_1_to_their_most_characters_and_never_blank)
{
	struct cd_error err;
	char ref[CLAIM_REFERENCE_MAX_CHARS + 2];
	memset(ref, 'r', sizeof ref - 1);
	ref[CLAIM_REFERENCE_MAX_CHARS] = '\0';
	ck_assert(claim_reference_check(ref, "reference", &err));
	ref[CLAIM_REFERENCE_MAX_CHARS] = 'r';
	ref[CLAIM_REFERENCE_MAX_CHARS + 1] = '\0';
	cd_error_clear(&err);
	ck_assert(!claim_reference_check(ref, "reference", &err));
	ck_assert_int_eq(err.status, 422);
	ck_assert_str_eq(err.field, "reference");
	/* characters, not bytes: 200 Cyrillic letters are 400 bytes */
	char cyr[2 * CLAIM_REFERENCE_MAX_CHARS + 1] = "";
	for (int i = 0; i < CLAIM_REFERENCE_MAX_CHARS; i++)
		strcat(cyr, "\xd0\x96");
	ck_assert(claim_reference_check(cyr, "reference", &err));
	const char *bad[] = {"", "   ", "\t", "a\nb", "\xff"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cd_error_clear(&err);
		ck_assert_msg(!claim_note_check(bad[i], "note", &err), "case %zu", i);
		ck_assert_str_eq(err.field, "note");
	}
	char note[CLAIM_NOTE_MAX_CHARS + 2];
	memset(note, 'n', sizeof note - 1);
	note[CLAIM_NOTE_MAX_CHARS] = '\0';
	ck_assert(claim_note_check(note, "note", &err));
	note[CLAIM_NOTE_MAX_CHARS] = 'n';
	note[CLAIM_NOTE_MAX_CHARS + 1] = '\0';
	ck_assert(!claim_note_check(note, "note", &err));
}
END_TEST

START_TEST(test_a_closure_writes_once_repeats_and_refuses_another_outcome)
{
	struct fraud_claim open = {.id = 1, .closed_at = TS_NULL};
	struct fraud_claim closed = {.id = 2, .closed_at = 1000000, .outcome = CLAIM_CONFIRMED};
	const enum claim_outcome outcomes[] = {CLAIM_CONFIRMED, CLAIM_UNFOUNDED};
	for (int i = 0; i < 2; i++) {
		struct claim_close_req q = {.outcome = outcomes[i]};
		struct cd_error err;
		cd_error_clear(&err);
		ck_assert_int_eq(claim_close_decide(&open, &q, &err), CLAIM_CLOSE_WRITE);
		ck_assert_int_eq(err.status, 0);
		enum claim_close_verdict v = claim_close_decide(&closed, &q, &err);
		if (outcomes[i] == CLAIM_CONFIRMED) {
			ck_assert_int_eq(v, CLAIM_CLOSE_REPEAT);
			ck_assert_int_eq(err.status, 0);
		} else {
			ck_assert_int_eq(v, CLAIM_CLOSE_REFUSE);
			ck_assert_int_eq(err.status, 409);
			ck_assert_str_eq(err.code, "invalid_state");
			ck_assert_int_eq(err.reason, REASON_DIFFERENT_DETAILS);
			ck_assert_ptr_nonnull(strstr(err.message, "confirmed"));
		}
	}
}
END_TEST

static Suite *claim_suite(void)
{
	Suite *s = suite_create("claim_rules");
	TCase *tc = tcase_create("claim_rules");
	tcase_add_test(tc, test_a_claim_id_has_one_spelling);
	tcase_add_test(tc, test_the_outcomes_are_confirmed_and_unfounded);
	tcase_add_test(tc, test_texts_are_1_to_their_most_characters_and_never_blank);
	tcase_add_test(tc, test_a_closure_writes_once_repeats_and_refuses_another_outcome);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(claim_suite)

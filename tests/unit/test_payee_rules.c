/*
 * The payee's pure rules (lib/payee.c): what a card number looks like, the
 * rules of an id of each kind, whether a payee is the borrower's own, and
 * the anti-fraud centre's file read as payees' changes, each bad field named
 * without the id.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "payee.h"

START_TEST(test_a_card_number_is_13_to_19_digits_and_nothing_else)
{
	ck_assert(!payee_looks_like_pan("411111111111"));         /* 12 */
	ck_assert(payee_looks_like_pan("4111111111111"));         /* 13 */
	ck_assert(payee_looks_like_pan("4111111111111111111"));   /* 19 */
	ck_assert(!payee_looks_like_pan("41111111111111111111")); /* 20 */
	ck_assert(!payee_looks_like_pan("4111 1111 1111 1111"));
	ck_assert(!payee_looks_like_pan("tok_4111111111111111"));
	ck_assert(!payee_looks_like_pan(""));
}
END_TEST

START_TEST(test_an_id_is_an_identifier_and_a_cards_is_never_its_number)
{
	const char *why = NULL;
	ck_assert(payee_id_valid(PAYEE_ACCOUNT, "KZ86125KZT5004100100", &why));
	ck_assert(payee_id_valid(PAYEE_ACCOUNT, "4111111111111111", &why));
	ck_assert(payee_id_valid(PAYEE_WALLET, "4111111111111111", &why));
	ck_assert(!payee_id_valid(PAYEE_CARD, "4111111111111111", &why));
	ck_assert_ptr_null(strstr(why, "4111"));
	ck_assert(payee_id_valid(PAYEE_CARD, "tok-9f86d081884c7d65", &why));
	ck_assert(!payee_id_valid(PAYEE_ACCOUNT, "", &why));
	ck_assert(!payee_id_valid(PAYEE_ACCOUNT, "..", &why));
	ck_assert(!payee_id_valid(PAYEE_ACCOUNT, "KZ 86", &why));
}
END_TEST

START_TEST(test_a_payee_is_the_borrowers_only_with_the_borrowers_iin_stated)
{
	struct payee p = {.kind = PAYEE_ACCOUNT, .id = "KZ1"};
	ck_assert(!payee_is_borrower(&p, "900101300126"));
	p.has_owner = true;
	strcpy(p.owner_iin, "900101300126");
	ck_assert(payee_is_borrower(&p, "900101300126"));
	ck_assert(!payee_is_borrower(&p, "870412300545"));
}
END_TEST

/* Feeds text and returns after the first record it completes. */
static bool first_record(struct csv_reader *r, const char *text)
{
	csv_init(r);
	for (const char *c = text; *c; c++)
		if (csv_push(r, *c))
			return true;
	return csv_end(r);
}

START_TEST(test_a_line_of_the_file_is_a_payees_change)
{
	static struct csv_reader r;
	struct payee p;
	struct refusal_req q;
	struct cd_error err;
	ck_assert(first_record(&r, PAYEE_CSV_HEADER "\n"));
	ck_assert(payee_csv_header_check(&r, &err));
	ck_assert(first_record(&r, "card,tok-1,true,2026-11-30T19:00:00+05:00,afc,AFC-1\n"));
	ck_assert_msg(payee_csv_record(&r, &p, &q, &err), "%s", err.message);
	ck_assert_int_eq(p.kind, PAYEE_CARD);
	ck_assert_str_eq(p.id, "tok-1");
	ck_assert(q.active);
	ck_assert_str_eq(q.source, "afc");
	ck_assert(q.has_reference);
	ck_assert(first_record(&r, "wallet,W-1,false,2026-11-30T19:00:00Z,afc,\n"));
	ck_assert(payee_csv_record(&r, &p, &q, &err));
	ck_assert(!q.active);
	ck_assert(!q.has_reference);
	ck_assert(first_record(&r, "iin,active,effective_at,source,reference\n"));
	ck_assert(!payee_csv_header_check(&r, &err));
	ck_assert_str_eq(err.field, "header");
}
END_TEST

START_TEST(test_a_bad_line_names_its_field_and_never_its_id)
{
	static const struct {
		const char *line, *field;
	} cases[] = {
	    {"iban,KZ1,true,2026-11-30T19:00:00Z,afc,\n", "kind"},
	    {"card,4000001234567899,true,2026-11-30T19:00:00Z,afc,\n", "id"},
	    {"account,KZ 1,true,2026-11-30T19:00:00Z,afc,\n", "id"},
	    {"account,KZ1,yes,2026-11-30T19:00:00Z,afc,\n", "active"},
	    {"account,KZ1,true,2026-11-30,afc,\n", "effective_at"},
	    {"account,KZ1,true,2026-11-30T19:00:00Z,,\n", "source"},
	    {"account,KZ1,true,2026-11-30T19:00:00Z,afc\n", "reference"},
	    {"account,KZ1,true,2026-11-30T19:00:00Z,afc,,extra\n", "reference"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct csv_reader r;
		struct payee p;
		struct refusal_req q;
		struct cd_error err;
		ck_assert(first_record(&r, cases[i].line));
		ck_assert_msg(!payee_csv_record(&r, &p, &q, &err), "%s", cases[i].line);
		ck_assert_str_eq(err.field, cases[i].field);
		ck_assert_ptr_null(strstr(err.message, "4000001234567899"));
	}
}
END_TEST

static Suite *payee_suite(void)
{
	Suite *s = suite_create("payee");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, test_a_card_number_is_13_to_19_digits_and_nothing_else);
	tcase_add_test(tc, test_an_id_is_an_identifier_and_a_cards_is_never_its_number);
	tcase_add_test(tc, test_a_payee_is_the_borrowers_only_with_the_borrowers_iin_stated);
	tcase_add_test(tc, test_a_line_of_the_file_is_a_payees_change);
	tcase_add_test(tc, test_a_bad_line_names_its_field_and_never_its_id);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(payee_suite)

/*
 * Unit tests of API bearer tokens: the shape "cdt_" + 12 hex + "_" + 40 hex,
 * freshness of generated tokens, id extraction that refuses anything else,
 * SHA-256 hashing (checked against the FIPS 180-2 vectors), constant-time
 * comparison, and reading a hash back from PostgreSQL's bytea text form.
 */
#include "check_main.h"
#include "token.h"
#include "token_random.h"

#include <stdio.h>
#include <string.h>

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* cdt_[0-9a-f]{12}_[0-9a-f]{40} */
static bool token_shape_ok(const char *t)
{
	return strlen(t) == 57 && strncmp(t, "cdt_", 4) == 0 && is_lower_hex(t + 4, 12) &&
	       t[16] == '_' && is_lower_hex(t + 17, 40);
}

static void hex_of(const unsigned char h[TOKEN_HASH_LEN], char out[2 * TOKEN_HASH_LEN + 1])
{
	for (int i = 0; i < TOKEN_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static const char GOOD[] = "cdt_0123456789ab_0123456789abcdef0123456789abcdef01234567";

/* ---- generation -------------------------------------------------------- */

START_TEST(test_generated_token_has_the_documented_shape)
{
	char tok[TOKEN_BUF], id[TOKEN_ID_BUF];

	ck_assert(token_generate(tok, id));
	ck_assert_msg(token_shape_ok(tok), "\"%s\"", tok);
	ck_assert_uint_eq(strlen(id), 12);
	ck_assert(strncmp(tok + 4, id, 12) == 0);
}
END_TEST

START_TEST(test_generated_tokens_differ_between_calls)
{
	char tok[8][TOKEN_BUF], id[8][TOKEN_ID_BUF];

	for (int i = 0; i < 8; i++) {
		ck_assert(token_generate(tok[i], id[i]));
		ck_assert(token_shape_ok(tok[i]));
		for (int j = 0; j < i; j++) {
			ck_assert_str_ne(tok[i], tok[j]);
			ck_assert_str_ne(id[i], id[j]);
			/* The secrets differ too, not only the ids. */
			ck_assert(strcmp(tok[i] + 17, tok[j] + 17) != 0);
		}
	}
}
END_TEST

START_TEST(test_a_generated_request_id_is_32_hex_digits_that_a_client_could_send)
{
	char id[8][REQUEST_ID_BUF];
	for (int i = 0; i < 8; i++) {
		ck_assert(request_id_generate(id[i]));
		ck_assert_uint_eq(strlen(id[i]), 32);
		ck_assert_uint_eq(strspn(id[i], "0123456789abcdef"), 32);
		ck_assert(request_id_valid(id[i]));
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(id[i], id[j]);
	}
}
END_TEST

START_TEST(test_generated_token_parses_back_to_its_id)
{
	for (int i = 0; i < 16; i++) {
		char tok[TOKEN_BUF], id[TOKEN_ID_BUF], parsed[TOKEN_ID_BUF];

		ck_assert(token_generate(tok, id));
		ck_assert_msg(token_parse_id(tok, parsed), "\"%s\" refused", tok);
		ck_assert_str_eq(parsed, id);
	}
}
END_TEST

/* ---- token_parse_id ---------------------------------------------------- */

START_TEST(test_well_formed_token_gives_its_id)
{
	char id[TOKEN_ID_BUF];

	ck_assert(token_parse_id(GOOD, id));
	ck_assert_str_eq(id, "0123456789ab");
}
END_TEST

static void refused(const char *t)
{
	char id[TOKEN_ID_BUF] = "untouched";

	ck_assert_msg(!token_parse_id(t, id), "\"%s\" accepted", t);
}

START_TEST(test_token_with_wrong_prefix_is_refused)
{
	refused("cdx_0123456789ab_0123456789abcdef0123456789abcdef01234567");
	refused("CDT_0123456789ab_0123456789abcdef0123456789abcdef01234567");
	refused("cdt-0123456789ab_0123456789abcdef0123456789abcdef01234567");
	refused("xcdt_0123456789a_0123456789abcdef0123456789abcdef01234567");
	refused("Bearer cdt_0123456789ab_0123456789abcdef0123456789abcdef01234567");
}
END_TEST

START_TEST(test_token_of_wrong_length_is_refused)
{
	refused("");
	refused("cdt_");
	refused("cdt_0123456789ab_0123456789abcdef0123456789abcdef0123456");   /* 39 */
	refused("cdt_0123456789ab_0123456789abcdef0123456789abcdef012345678"); /* 41 */
	refused("cdt_0123456789a_0123456789abcdef0123456789abcdef012345678");  /* 11 + 41 */
	refused("cdt_0123456789abc_0123456789abcdef0123456789abcdef0123456");  /* 13 + 39 */
	refused("cdt_0123456789ab_0123456789abcdef0123456789abcdef01234567 ");
}
END_TEST

START_TEST(test_token_with_uppercase_or_non_hex_is_refused)
{
	refused("cdt_0123456789AB_0123456789abcdef0123456789abcdef01234567");
	refused("cdt_0123456789ab_0123456789ABCDEF0123456789abcdef01234567");
	refused("cdt_0123456789ag_0123456789abcdef0123456789abcdef01234567");
	refused("cdt_0123456789ab_0123456789abcdef0123456789abcdef0123456z");
	refused("cdt_0123456789ab-0123456789abcdef0123456789abcdef01234567");
	refused("cdt_0123456789ab_0123456789abcdef_123456789abcdef01234567");
}
END_TEST

/* ---- hashing ----------------------------------------------------------- */

static const char *sha256_hex(const char *s)
{
	static char hex[2 * TOKEN_HASH_LEN + 1];
	unsigned char h[TOKEN_HASH_LEN];

	token_hash(s, h);
	hex_of(h, hex);
	return hex;
}

START_TEST(test_token_hash_is_sha256)
{
	ck_assert_str_eq(sha256_hex("abc"),
	                 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_str_eq(sha256_hex(""),
	                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_str_eq(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
	                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_token_hash_differs_for_tokens_differing_in_one_character)
{
	unsigned char a[TOKEN_HASH_LEN], b[TOKEN_HASH_LEN];
	char other[sizeof(GOOD)];

	memcpy(other, GOOD, sizeof(GOOD));
	other[56] = '8';
	token_hash(GOOD, a);
	token_hash(other, b);
	ck_assert(!token_hash_equal(a, b));
	token_hash(GOOD, b);
	ck_assert(token_hash_equal(a, b));
}
END_TEST

START_TEST(test_hash_equal_compares_all_32_bytes)
{
	unsigned char a[TOKEN_HASH_LEN], b[TOKEN_HASH_LEN];

	for (int i = 0; i < TOKEN_HASH_LEN; i++)
		a[i] = b[i] = (unsigned char)(i * 7);
	ck_assert(token_hash_equal(a, b));
	for (int i = 0; i < TOKEN_HASH_LEN; i++) {
		b[i] ^= 0x01;
		ck_assert_msg(!token_hash_equal(a, b), "byte %d ignored", i);
		b[i] ^= 0x01;
	}
	b[TOKEN_HASH_LEN - 1] ^= 0x80;
	ck_assert(!token_hash_equal(a, b));
}
END_TEST

/* ---- bytea text -------------------------------------------------------- */

START_TEST(test_bytea_text_of_64_hex_is_read_as_the_hash)
{
	unsigned char want[TOKEN_HASH_LEN], got[TOKEN_HASH_LEN];
	char text[2 + 2 * TOKEN_HASH_LEN + 1] = "\\x";

	token_hash("abc", want);
	hex_of(want, text + 2);
	ck_assert(token_hash_from_bytea_text(text, got));
	ck_assert(token_hash_equal(want, got));
	ck_assert_int_eq(memcmp(want, got, TOKEN_HASH_LEN), 0);

	ck_assert(token_hash_from_bytea_text(
	    "\\xBA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", got));
	ck_assert(token_hash_equal(want, got));
}
END_TEST

START_TEST(test_bytea_text_short_long_or_malformed_is_refused)
{
	unsigned char out[TOKEN_HASH_LEN];

	ck_assert(!token_hash_from_bytea_text("", out));
	ck_assert(!token_hash_from_bytea_text("\\x", out));
	ck_assert(!token_hash_from_bytea_text("\\xba7816bf", out));
	/* 62 hex digits */
	ck_assert(!token_hash_from_bytea_text(
	    "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015", out));
	/* 66 hex digits */
	ck_assert(!token_hash_from_bytea_text(
	    "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adad", out));
	/* no \x prefix */
	ck_assert(!token_hash_from_bytea_text(
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adad", out));
	/* not hex */
	ck_assert(!token_hash_from_bytea_text(
	    "\\xga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", out));
	ck_assert(!token_hash_from_bytea_text(
	    "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a ", out));
}
END_TEST

static Suite *token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_generated_token_has_the_documented_shape);
	tcase_add_test(tc, test_generated_tokens_differ_between_calls);
	tcase_add_test(tc, test_a_generated_request_id_is_32_hex_digits_that_a_client_could_send);
	tcase_add_test(tc, test_generated_token_parses_back_to_its_id);
	tcase_add_test(tc, test_well_formed_token_gives_its_id);
	tcase_add_test(tc, test_token_with_wrong_prefix_is_refused);
	tcase_add_test(tc, test_token_of_wrong_length_is_refused);
	tcase_add_test(tc, test_token_with_uppercase_or_non_hex_is_refused);
	tcase_add_test(tc, test_token_hash_is_sha256);
	tcase_add_test(tc, test_token_hash_differs_for_tokens_differing_in_one_character);
	tcase_add_test(tc, test_hash_equal_compares_all_32_bytes);
	tcase_add_test(tc, test_bytea_text_of_64_hex_is_read_as_the_hash);
	tcase_add_test(tc, test_bytea_text_short_long_or_malformed_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(token_suite)

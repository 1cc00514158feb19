/*
 * The pure parts of webhooks (lib/webhook.c): the signature against a
 * value computed apart (RFC 4231-style: the HMAC-SHA256 of a known key and
 * message, here computed once with `openssl dgst -sha256 -hmac`), the
 * backoff's doubling and cap, the URL rule, the secret sealed and opened.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "webhook.h"

#define SECRET "00000000000000000000000000000000000000000000000000000000000000ff"

START_TEST(test_signature_is_hmac_sha256_of_t_dot_body_keyed_with_the_secret_text)
{
	char sig[WEBHOOK_SIGNATURE_BUF];
	ck_assert(webhook_sign(SECRET, 1700000000, "{\"a\":1}", 7, sig));
	/* printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac "$SECRET" */
	ck_assert_str_eq(sig, "t=1700000000,v1="
	                      "4bee9c82d857fc050ae9dfc054956d1ea68798e3f17aae11313cf75639861922");
}
END_TEST

START_TEST(test_each_t_signs_differently)
{
	char a[WEBHOOK_SIGNATURE_BUF], b[WEBHOOK_SIGNATURE_BUF];
	ck_assert(webhook_sign(SECRET, 1, "x", 1, a));
	ck_assert(webhook_sign(SECRET, 2, "x", 1, b));
	ck_assert_str_ne(strchr(a, ','), strchr(b, ','));
}
END_TEST

START_TEST(test_backoff_starts_at_1s_doubles_and_stops_at_10_minutes)
{
	ck_assert_int_eq(webhook_backoff_ms(1), 1000);
	ck_assert_int_eq(webhook_backoff_ms(2), 2000);
	ck_assert_int_eq(webhook_backoff_ms(3), 4000);
	ck_assert_int_eq(webhook_backoff_ms(10), 512000);
	ck_assert_int_eq(webhook_backoff_ms(11), 600000);
	ck_assert_int_eq(webhook_backoff_ms(1000000), 600000);
	ck_assert_int_eq(webhook_backoff_ms(INT64_MAX), 600000);
}
END_TEST

START_TEST(test_url_must_be_https_or_http_to_loopback)
{
	const char *why;
	static const char *const good[] = {"https://bank.example/hooks", "https://10.0.0.1:8443/h",
	                                   "http://127.0.0.1:9000/h",    "http://localhost/h",
	                                   "http://[::1]:80/h",          "HTTPS://bank.example"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(webhook_url_valid(good[i], &why), "%s", good[i]);
	static const char *const bad[] = {
	    "http://bank.example/h",     "http://127.0.0.1.evil.example/",
	    "ftp://127.0.0.1/",          "https://",
	    "https://u:p@bank.example/", "https://bank example/",
	    "http://10.0.0.1/",          ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!webhook_url_valid(bad[i], &why), "%s", bad[i]);
	ck_assert(!webhook_url_valid("http://bank.example/h", &why));
	ck_assert_ptr_nonnull(strstr(why, "https://"));
}
END_TEST

START_TEST(test_a_sealed_secret_opens_with_its_key_only_and_hides_the_text)
{
	unsigned char key[WEBHOOK_KEY_LEN] = {1, 2, 3}, other[WEBHOOK_KEY_LEN] = {1, 2, 4};
	unsigned char nonce[WEBHOOK_NONCE_LEN] = {9};
	unsigned char sealed[WEBHOOK_SEALED_LEN];
	ck_assert(webhook_secret_seal(key, nonce, SECRET, sealed));
	ck_assert_ptr_null(memmem(sealed, sizeof sealed, "0000000000", 10));
	char out[WEBHOOK_SECRET_BUF];
	ck_assert(webhook_secret_open(key, sealed, out));
	ck_assert_str_eq(out, SECRET);
	ck_assert(!webhook_secret_open(other, sealed, out));
	sealed[WEBHOOK_NONCE_LEN + 3] ^= 1;
	ck_assert(!webhook_secret_open(key, sealed, out));
	ck_assert(!webhook_secret_seal(key, nonce, "not hex", sealed));
}
END_TEST

static Suite *webhook_suite(void)
{
	Suite *s = suite_create("webhook");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, test_signature_is_hmac_sha256_of_t_dot_body_keyed_with_the_secret_text);
	tcase_add_test(tc, test_each_t_signs_differently);
	tcase_add_test(tc, test_backoff_starts_at_1s_doubles_and_stops_at_10_minutes);
	tcase_add_test(tc, test_url_must_be_https_or_http_to_loopback);
	tcase_add_test(tc, test_a_sealed_secret_opens_with_its_key_only_and_hides_the_text);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(webhook_suite)

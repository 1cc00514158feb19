/*
 * The limit on failed authentications per source address (lib/ratelimit.c):
 * who is counted together, when an address is blocked, for how long, and
 * that a full table never lets a blocked address go.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "ratelimit.h"

#define T0 1000000 /* an arbitrary monotonic start, in ms */

static struct rl_key key(const char *addr)
{
	struct rl_key k;
	ck_assert_msg(ratelimit_key(addr, &k), "%s does not parse", addr);
	return k;
}

static void fail_n(const struct rl_key *k, int n, int64_t at)
{
	for (int i = 0; i < n; i++)
		ratelimit_failure_at(k, at);
}

static void setup(void)
{
	ck_assert(ratelimit_init(3, 60));
}

static void teardown(void)
{
	ratelimit_free();
}

START_TEST(test_address_is_blocked_at_the_limitth_failure_and_not_before)
{
	struct rl_key k = key("192.0.2.1");
	ck_assert(!ratelimit_failure_at(&k, T0));
	ck_assert(!ratelimit_failure_at(&k, T0 + 1));
	ck_assert_int_eq(ratelimit_blocked_at(&k, T0 + 2), 0);
	ck_assert(ratelimit_failure_at(&k, T0 + 2)); /* the third: reached */
	ck_assert_int_gt(ratelimit_blocked_at(&k, T0 + 3), 0);
}
END_TEST

START_TEST(test_retry_after_is_the_rest_of_the_window_rounded_up)
{
	struct rl_key k = key("192.0.2.2");
	fail_n(&k, 3, T0);
	ck_assert_int_eq(ratelimit_blocked_at(&k, T0), 60);
	ck_assert_int_eq(ratelimit_blocked_at(&k, T0 + 1), 60); /* 59.999 s */
	ck_assert_int_eq(ratelimit_blocked_at(&k, T0 + 59001), 1);
}
END_TEST

START_TEST(test_block_ends_with_the_window_opened_by_the_first_failure)
{
	struct rl_key k = key("192.0.2.3");
	ratelimit_failure_at(&k, T0);
	fail_n(&k, 2, T0 + 30000);
	ck_assert_int_eq(ratelimit_blocked_at(&k, T0 + 59999), 1);
	ck_assert_int_eq(ratelimit_blocked_at(&k, T0 + 60000), 0);
	/* a new window starts afresh */
	ck_assert(!ratelimit_failure_at(&k, T0 + 60001));
	ck_assert_int_eq(ratelimit_blocked_at(&k, T0 + 60002), 0);
}
END_TEST

START_TEST(test_other_addresses_are_not_affected)
{
	struct rl_key a = key("192.0.2.4"), b = key("192.0.2.5");
	fail_n(&a, 3, T0);
	ck_assert_int_gt(ratelimit_blocked_at(&a, T0), 0);
	ck_assert_int_eq(ratelimit_blocked_at(&b, T0), 0);
}
END_TEST

START_TEST(test_ipv6_addresses_count_per_64)
{
	struct rl_key a = key("2001:db8:1:2::1"), b = key("2001:db8:1:2:ffff::9"),
	              other = key("2001:db8:1:3::1");
	ratelimit_failure_at(&a, T0);
	ratelimit_failure_at(&b, T0);
	ck_assert(ratelimit_failure_at(&a, T0));
	ck_assert_int_gt(ratelimit_blocked_at(&b, T0), 0);
	ck_assert_int_eq(ratelimit_blocked_at(&other, T0), 0);
}
END_TEST

START_TEST(test_ipv4_mapped_ipv6_counts_as_the_ipv4_address)
{
	struct rl_key v4 = key("198.51.100.7"), mapped = key("::ffff:198.51.100.7");
	fail_n(&mapped, 3, T0);
	ck_assert_int_gt(ratelimit_blocked_at(&v4, T0), 0);
}
END_TEST

START_TEST(test_an_unknown_source_is_never_limited)
{
	struct rl_key k;
	ck_assert(!ratelimit_key("not-an-address", &k));
	ck_assert_int_eq(k.family, 0);
	fail_n(&k, 10, T0);
	ck_assert_int_eq(ratelimit_blocked_at(&k, T0), 0);
}
END_TEST

START_TEST(test_limit_zero_turns_the_limiter_off)
{
	ratelimit_free();
	ck_assert(ratelimit_init(0, 60));
	ck_assert(!ratelimit_enabled());
	struct rl_key k = key("192.0.2.9");
	for (int i = 0; i < 100; i++)
		ck_assert(!ratelimit_failure_at(&k, T0));
	ck_assert_int_eq(ratelimit_blocked_at(&k, T0), 0);
}
END_TEST

START_TEST(test_a_full_table_keeps_a_blocked_address_blocked)
{
	struct rl_key blocked = key("203.0.113.1");
	fail_n(&blocked, 3, T0);
	/* ten times as many other addresses as the table holds, once each */
	for (int i = 0; i < 10 * RATELIMIT_ENTRIES; i++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
		         i & 255);
		struct rl_key k = key(addr);
		ratelimit_failure_at(&k, T0 + 1);
	}
	ck_assert_int_gt(ratelimit_blocked_at(&blocked, T0 + 2), 0);
}
END_TEST

/* A token's SHA-256 stand-in: 32 bytes that differ with n. */
static void hash_of(unsigned char h[32], unsigned n)
{
	for (int i = 0; i < 32; i++)
		h[i] = (unsigned char)((n * 2654435761u) >> (i % 4 * 8)) ^ (unsigned char)(i * 7);
}

START_TEST(test_a_remembered_token_is_known_until_forgotten)
{
	unsigned char a[32], b[32];
	hash_of(a, 1);
	hash_of(b, 2);
	ck_assert(!ratelimit_valid_known(a));
	ratelimit_valid_remember(a);
	ck_assert(ratelimit_valid_known(a));
	ck_assert(!ratelimit_valid_known(b));
	/* forgetting another token leaves it alone */
	ratelimit_valid_forget(b);
	ck_assert(ratelimit_valid_known(a));
	ratelimit_valid_forget(a);
	ck_assert(!ratelimit_valid_known(a));
}
END_TEST

START_TEST(test_a_hash_that_differs_in_any_kept_byte_is_not_known)
{
	unsigned char a[32], c[32];
	hash_of(a, 3);
	ratelimit_valid_remember(a);
	/* the 64 bits kept: one bit off in any of them is another token */
	for (int i = 0; i < 8; i++) {
		memcpy(c, a, sizeof c);
		c[i] ^= 0x01;
		ck_assert_msg(!ratelimit_valid_known(c), "byte %d changed, still known", i);
	}
	ratelimit_valid_forget(a);
}
END_TEST

START_TEST(test_a_full_cache_forgets_old_tokens_never_admits_new_ones)
{
	unsigned char h[32];
	for (unsigned n = 100; n < 100 + 4 * RATELIMIT_VALID_SLOTS; n++) {
		hash_of(h, n);
		ratelimit_valid_remember(h);
	}
	int known = 0;
	for (unsigned n = 100; n < 100 + 4 * RATELIMIT_VALID_SLOTS; n++) {
		hash_of(h, n);
		known += ratelimit_valid_known(h);
	}
	ck_assert_int_le(known, RATELIMIT_VALID_SLOTS);
	/* the latest one is always there; one never remembered never is */
	hash_of(h, 99 + 4 * RATELIMIT_VALID_SLOTS);
	ck_assert(ratelimit_valid_known(h));
	hash_of(h, 7);
	ck_assert(!ratelimit_valid_known(h));
}
END_TEST

static Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("limit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_address_is_blocked_at_the_limitth_failure_and_not_before);
	tcase_add_test(tc, test_retry_after_is_the_rest_of_the_window_rounded_up);
	tcase_add_test(tc, test_block_ends_with_the_window_opened_by_the_first_failure);
	tcase_add_test(tc, test_other_addresses_are_not_affected);
	tcase_add_test(tc, test_ipv6_addresses_count_per_64);
	tcase_add_test(tc, test_ipv4_mapped_ipv6_counts_as_the_ipv4_address);
	tcase_add_test(tc, test_an_unknown_source_is_never_limited);
	tcase_add_test(tc, test_limit_zero_turns_the_limiter_off);
	tcase_add_test(tc, test_a_full_table_keeps_a_blocked_address_blocked);
	suite_add_tcase(s, tc);
	TCase *valid = tcase_create("valid tokens");
	tcase_add_test(valid, test_a_remembered_token_is_known_until_forgotten);
	tcase_add_test(valid, test_a_hash_that_differs_in_any_kept_byte_is_not_known);
	tcase_add_test(valid, test_a_full_cache_forgets_old_tokens_never_admits_new_ones);
	suite_add_tcase(s, valid);
	return s;
}

CD_CHECK_MAIN(ratelimit_suite)

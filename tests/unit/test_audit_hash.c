/*
 * Unit tests of the audit chain's hash in C (lib/audit_hash.c): it must give
 * exactly what cd_audit_seal() stores, or `coolingctl audit verify` would
 * call an intact chain broken. The expected hashes were computed once with
 * PostgreSQL 16 on a migrated database (sql/002_audit_chain.sql):
 *
 *   WITH e1 AS (SELECT sha256('\x00...00'::bytea  -- 32 zero bytes
 *       || cd_audit_canonical(1, '2026-11-29T10:00:00.123456Z', 'coolingctl:alice',
 *            'BANK1', NULL, 'lender_added',
 *            '{"name": "a, \"b\"", "kind": "bank", "amount": 1.10, "x": "Алматы\n"}'::jsonb)) h),
 *   e2 AS (SELECT sha256((SELECT h FROM e1) || cd_audit_canonical(2,
 *       '1969-12-31T23:59:59.5Z', 'core1', NULL, 'LN-1', 'mrp_set', '{}'::jsonb)) h)
 *   SELECT encode((SELECT h FROM e1), 'hex'), encode((SELECT h FROM e2), 'hex');
 *
 * with cd_us() of the two times 1795946400123456 and -500000, and the jsonb
 * rendered by PostgreSQL as DETAIL1 below (keys re-ordered, 1.10 kept).
 */
#include "audit_hash.h"
#include "check_main.h"

#include <string.h>

#define DETAIL1                                                                                    \
	"{\"x\": \"Алматы\\n\", \"kind\": \"bank\", \"name\": \"a, \\\"b\\\"\", \"amount\": 1.10}"
#define HASH1 "df585076d840a3874fd2ef0bbe6fd712ceb968391b1945cf2921cb1d1e7fcc18"
#define HASH2 "79203987871a763d804044f32c0772661c07531ec4705541a0e32bfff830b011"

static const unsigned char genesis[AUDIT_HASH_LEN];

START_TEST(test_first_event_hash_equals_what_postgresql_computed)
{
	unsigned char h[AUDIT_HASH_LEN];
	char hex[AUDIT_HASH_HEX_BUF];
	audit_hash_next(genesis, 1, INT64_C(1795946400123456), "coolingctl:alice", "BANK1", NULL,
	                "lender_added", DETAIL1, h);
	audit_hash_hex(h, hex);
	ck_assert_str_eq(hex, HASH1);
}
END_TEST

START_TEST(test_chained_event_with_null_lender_and_negative_time_equals_postgresql)
{
	unsigned char prev[AUDIT_HASH_LEN], h[AUDIT_HASH_LEN];
	char hex[AUDIT_HASH_HEX_BUF];
	ck_assert(audit_hash_from_hex(HASH1, prev));
	audit_hash_next(prev, 2, -500000, "core1", NULL, "LN-1", "mrp_set", "{}", h);
	audit_hash_hex(h, hex);
	ck_assert_str_eq(hex, HASH2);
}
END_TEST

START_TEST(test_any_changed_field_changes_the_hash)
{
	unsigned char base[AUDIT_HASH_LEN], h[AUDIT_HASH_LEN];
	audit_hash_next(genesis, 1, 10, "a", "L", "N", "mrp_set", "{}", base);
	audit_hash_next(genesis, 2, 10, "a", "L", "N", "mrp_set", "{}", h);
	ck_assert(memcmp(base, h, AUDIT_HASH_LEN) != 0);
	audit_hash_next(genesis, 1, 11, "a", "L", "N", "mrp_set", "{}", h);
	ck_assert(memcmp(base, h, AUDIT_HASH_LEN) != 0);
	audit_hash_next(genesis, 1, 10, "b", "L", "N", "mrp_set", "{}", h);
	ck_assert(memcmp(base, h, AUDIT_HASH_LEN) != 0);
	audit_hash_next(genesis, 1, 10, "a", NULL, "N", "mrp_set", "{}", h);
	ck_assert(memcmp(base, h, AUDIT_HASH_LEN) != 0);
	audit_hash_next(genesis, 1, 10, "a", "L", "N", "mrp_set", "{ }", h);
	ck_assert(memcmp(base, h, AUDIT_HASH_LEN) != 0);
	/* the separators keep fields apart: "L","N" is not "LN","" */
	audit_hash_next(genesis, 1, 10, "a", "LN", NULL, "mrp_set", "{}", h);
	ck_assert(memcmp(base, h, AUDIT_HASH_LEN) != 0);
	unsigned char prev[AUDIT_HASH_LEN];
	memset(prev, 1, sizeof(prev));
	audit_hash_next(prev, 1, 10, "a", "L", "N", "mrp_set", "{}", h);
	ck_assert(memcmp(base, h, AUDIT_HASH_LEN) != 0);
}
END_TEST

START_TEST(test_null_and_empty_lender_hash_alike_as_coalesce_does)
{
	unsigned char a[AUDIT_HASH_LEN], b[AUDIT_HASH_LEN];
	audit_hash_next(genesis, 3, 0, "x", NULL, NULL, "mrp_set", "{}", a);
	audit_hash_next(genesis, 3, 0, "x", "", "", "mrp_set", "{}", b);
	ck_assert(memcmp(a, b, AUDIT_HASH_LEN) == 0);
}
END_TEST

START_TEST(test_hex_round_trips_and_malformed_hex_is_refused)
{
	unsigned char h[AUDIT_HASH_LEN];
	char hex[AUDIT_HASH_HEX_BUF];
	ck_assert(audit_hash_from_hex(HASH1, h));
	audit_hash_hex(h, hex);
	ck_assert_str_eq(hex, HASH1);
	ck_assert(audit_hash_from_hex(
	    "DF585076D840A3874FD2EF0BBE6FD712CEB968391B1945CF2921CB1D1E7FCC18", h));
	ck_assert(!audit_hash_from_hex("df58", h));
	ck_assert(!audit_hash_from_hex(HASH1 "00", h));
	ck_assert(!audit_hash_from_hex(
	    "zf585076d840a3874fd2ef0bbe6fd712ceb968391b1945cf2921cb1d1e7fcc18", h));
}
END_TEST

static Suite *audit_hash_suite(void)
{
	Suite *s = suite_create("audit_hash");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_first_event_hash_equals_what_postgresql_computed);
	tcase_add_test(tc, test_chained_event_with_null_lender_and_negative_time_equals_postgresql);
	tcase_add_test(tc, test_any_changed_field_changes_the_hash);
	tcase_add_test(tc, test_null_and_empty_lender_hash_alike_as_coalesce_does);
	tcase_add_test(tc, test_hex_round_trips_and_malformed_hex_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(audit_hash_suite)

/*
 * Unit tests of the readiness verdict on a database's schema
 * (lib/schema_compat.h, docs/upgrading.md): release versions parsed and
 * compared as numbers, and a build ready only on a schema at least its own
 * whose oldest compatible release is not newer than the build.
 */
#include "check_main.h"
#include "schema_compat.h"

#include <string.h>

static struct release_version parsed(const char *s)
{
	struct release_version v = {0};
	ck_assert_msg(release_version_parse(s, &v), "%s should parse", s);
	return v;
}

static int cmp(const char *a, const char *b)
{
	struct release_version va = parsed(a), vb = parsed(b);
	return release_version_cmp(&va, &vb);
}

START_TEST(test_release_version_parses_three_numbers)
{
	struct release_version v = parsed("0.2.0");
	ck_assert_uint_eq(v.major, 0);
	ck_assert_uint_eq(v.minor, 2);
	ck_assert_uint_eq(v.patch, 0);
	v = parsed("12.345.6789");
	ck_assert_uint_eq(v.major, 12);
	ck_assert_uint_eq(v.minor, 345);
	ck_assert_uint_eq(v.patch, 6789);
	v = parsed("999999999.0.999999999");
	ck_assert_uint_eq(v.major, 999999999u);
	ck_assert_uint_eq(v.patch, 999999999u);
	ck_assert(release_version_parse("1.2.3", NULL)); /* out may be NULL */
}
END_TEST

START_TEST(test_release_version_that_is_not_three_numbers_is_malformed)
{
	static const char *const bad[] = {
	    "",
	    "0",
	    "0.2",
	    "0.2.",
	    ".2.0",
	    "0..0",
	    "0.2.0.",
	    "0.2.0.1",
	    "v0.2.0",
	    "0.2.0-rc1",
	    " 0.2.0",
	    "0.2.0 ",
	    "0.2.0\n",
	    "+1.2.3",
	    "-1.2.3",
	    "1.-2.3",
	    "1.2.x",
	    "a.b.c",
	    "1,2,3",
	    "0.2.0beta",
	    "1234567890.0.0",
	    "0.0.1234567890",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct release_version v = {7, 7, 7};
		ck_assert_msg(!release_version_parse(bad[i], &v), "\"%s\" should not parse",
		              bad[i]);
		ck_assert_msg(v.major == 7 && v.minor == 7 && v.patch == 7,
		              "\"%s\": out written on failure", bad[i]);
	}
	ck_assert(!release_version_parse(NULL, NULL));
}
END_TEST

START_TEST(test_release_versions_compare_as_numbers_major_then_minor_then_patch)
{
	ck_assert_int_eq(cmp("0.2.0", "0.2.0"), 0);
	ck_assert_int_lt(cmp("0.2.0", "0.2.1"), 0);
	ck_assert_int_gt(cmp("0.3.0", "0.2.9"), 0);
	ck_assert_int_gt(cmp("1.0.0", "0.99.99"), 0);
	ck_assert_int_gt(cmp("0.10.0", "0.9.0"), 0); /* not as text */
	ck_assert_int_lt(cmp("0.2.9", "0.2.10"), 0);
	ck_assert_int_eq(cmp("00.02.00", "0.2.0"), 0); /* leading zeros are the same number */
}
END_TEST

START_TEST(test_schema_older_than_the_build_is_not_ready)
{
	ck_assert_int_eq(schema_verdict(11, NULL, 12, "0.2.0"), SCHEMA_OLDER);
	ck_assert_int_eq(schema_verdict(11, "0.1.0", 12, "0.2.0"), SCHEMA_OLDER);
	ck_assert_int_eq(schema_verdict(0, NULL, 12, "0.2.0"), SCHEMA_OLDER);
	ck_assert_int_eq(schema_verdict(-1, NULL, 12, "0.2.0"), SCHEMA_OLDER);
}
END_TEST

START_TEST(test_schema_equal_to_the_build_is_ready)
{
	ck_assert_int_eq(schema_verdict(12, "0.2.0", 12, "0.2.0"), SCHEMA_READY);
	ck_assert_int_eq(schema_verdict(12, "0.1.5", 12, "0.2.0"), SCHEMA_READY);
}
END_TEST

START_TEST(test_newer_schema_whose_oldest_release_is_not_above_the_build_is_ready)
{
	/* expand migrations after the build's: the oldest release is kept */
	ck_assert_int_eq(schema_verdict(13, "0.2.0", 12, "0.2.0"), SCHEMA_READY);
	ck_assert_int_eq(schema_verdict(40, "0.2.0", 12, "0.2.3"), SCHEMA_READY);
	ck_assert_int_eq(schema_verdict(40, "0.2.3", 12, "0.2.3"), SCHEMA_READY);
}
END_TEST

START_TEST(test_newer_schema_whose_oldest_release_is_above_the_build_is_not_ready)
{
	/* a contract migration raised the oldest release past this build */
	ck_assert_int_eq(schema_verdict(14, "0.3.0", 12, "0.2.0"), SCHEMA_RELEASE_TOO_OLD);
	ck_assert_int_eq(schema_verdict(14, "0.2.1", 12, "0.2.0"), SCHEMA_RELEASE_TOO_OLD);
	ck_assert_int_eq(schema_verdict(14, "1.0.0", 12, "0.99.0"), SCHEMA_RELEASE_TOO_OLD);
	ck_assert_int_eq(schema_verdict(14, "0.10.0", 12, "0.9.0"), SCHEMA_RELEASE_TOO_OLD);
	/* on its own schema too: a contract migration demands a version bump */
	ck_assert_int_eq(schema_verdict(12, "0.3.0", 12, "0.2.0"), SCHEMA_RELEASE_TOO_OLD);
}
END_TEST

START_TEST(test_schema_without_an_oldest_release_is_not_ready)
{
	ck_assert_int_eq(schema_verdict(12, NULL, 12, "0.2.0"), SCHEMA_MIN_RELEASE_MISSING);
	ck_assert_int_eq(schema_verdict(13, NULL, 12, "0.2.0"), SCHEMA_MIN_RELEASE_MISSING);
}
END_TEST

START_TEST(test_malformed_versions_are_not_ready)
{
	ck_assert_int_eq(schema_verdict(12, "", 12, "0.2.0"), SCHEMA_MIN_RELEASE_MALFORMED);
	ck_assert_int_eq(schema_verdict(13, "0.2", 12, "0.2.0"), SCHEMA_MIN_RELEASE_MALFORMED);
	ck_assert_int_eq(schema_verdict(13, "0.2.0-rc1", 12, "0.2.0"),
	                 SCHEMA_MIN_RELEASE_MALFORMED);
	ck_assert_int_eq(schema_verdict(12, "0.2.0", 12, "0.2"), SCHEMA_OWN_RELEASE_MALFORMED);
	ck_assert_int_eq(schema_verdict(12, "0.2.0", 12, NULL), SCHEMA_OWN_RELEASE_MALFORMED);
	ck_assert_int_eq(schema_verdict(12, "0.2.0", 12, "0.2.0-dirty"),
	                 SCHEMA_OWN_RELEASE_MALFORMED);
	/* the build's own version is judged first: it is wrong on every schema */
	ck_assert_int_eq(schema_verdict(11, NULL, 12, "x"), SCHEMA_OWN_RELEASE_MALFORMED);
}
END_TEST

START_TEST(test_every_verdict_has_a_reason)
{
	ck_assert_str_eq(schema_verdict_reason(SCHEMA_READY), "ready");
	for (int v = SCHEMA_READY + 1; v < SCHEMA_VERDICT__N; v++) {
		const char *why = schema_verdict_reason((enum schema_verdict)v);
		ck_assert_ptr_nonnull(why);
		ck_assert_msg(strlen(why) > 0 && strcmp(why, "ready") != 0,
		              "verdict %d has no reason of its own", v);
	}
	ck_assert_str_eq(schema_verdict_reason(SCHEMA_VERDICT__N), "unknown verdict");
}
END_TEST

static Suite *schema_compat_suite(void)
{
	Suite *s = suite_create("schema_compat");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_release_version_parses_three_numbers);
	tcase_add_test(tc, test_release_version_that_is_not_three_numbers_is_malformed);
	tcase_add_test(tc, test_release_versions_compare_as_numbers_major_then_minor_then_patch);
	tcase_add_test(tc, test_schema_older_than_the_build_is_not_ready);
	tcase_add_test(tc, test_schema_equal_to_the_build_is_ready);
	tcase_add_test(tc, test_newer_schema_whose_oldest_release_is_not_above_the_build_is_ready);
	tcase_add_test(tc, test_newer_schema_whose_oldest_release_is_above_the_build_is_not_ready);
	tcase_add_test(tc, test_schema_without_an_oldest_release_is_not_ready);
	tcase_add_test(tc, test_malformed_versions_are_not_ready);
	tcase_add_test(tc, test_every_verdict_has_a_reason);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(schema_compat_suite)

/*
 * Connection strings through libpq's parser (lib/db/conninfo.c): a password,
 * in the URL or the key=value form, never survives masking, and everything
 * else does; the password is found where libpq would find it.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "conninfo.h"

static const char *masked(const char *in)
{
	static char out[1024];
	conninfo_mask(in, out, sizeof(out));
	return out;
}

#define ck_assert_contains(hay, needle)                                                            \
	ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" not in \"%s\"", (needle), (hay))
#define ck_assert_lacks(hay, needle)                                                               \
	ck_assert_msg(strstr((hay), (needle)) == NULL, "\"%s\" in \"%s\"", (needle), (hay))

START_TEST(test_a_password_in_the_url_form_is_masked)
{
	const char *m = masked("postgresql://u:secret@h:5432/db?sslmode=require");
	ck_assert_contains(m, "password=***");
	ck_assert_contains(m, "user=u");
	ck_assert_contains(m, "host=h");
	ck_assert_contains(m, "port=5432");
	ck_assert_contains(m, "dbname=db");
	ck_assert_contains(m, "sslmode=require");
	ck_assert_lacks(m, "secret");
	/* percent-encoded, and in the query */
	ck_assert_lacks(masked("postgres://user:s3cr%40t@db.example/coolingd"), "s3cr");
	m = masked("postgresql://h/db?sslmode=require&password=secret&connect_timeout=5");
	ck_assert_contains(m, "password=***");
	ck_assert_contains(m, "connect_timeout=5");
	ck_assert_lacks(m, "secret");
	ck_assert_str_eq(masked("postgresql:///?password=secret"), "password=***");
}
END_TEST

START_TEST(test_a_password_in_the_key_value_form_is_masked)
{
	ck_assert_str_eq(masked("password=secret"), "password=***");
	const char *m = masked("host=h password = 'my secret' dbname=x");
	ck_assert_contains(m, "password=***");
	ck_assert_contains(m, "host=h");
	ck_assert_contains(m, "dbname=x");
	ck_assert_lacks(m, "secret");
}
END_TEST

START_TEST(test_without_a_password_every_option_is_kept_and_quoted_as_libpq_reads_it)
{
	ck_assert_str_eq(masked("postgresql:///coolingd"), "dbname=coolingd");
	ck_assert_str_eq(masked("dbname=coolingd"), "dbname=coolingd");
	ck_assert_str_eq(masked("postgresql://"), "");
	ck_assert_str_eq(masked(""), "");
	ck_assert_str_eq(masked("application_name='a b\\'c'"), "application_name='a b\\'c'");
	const char *m = masked("postgresql://u@h1:5433,h2:5434/db?target_session_attrs=read-write");
	ck_assert_contains(m, "user=u");
	ck_assert_contains(m, "host=h1,h2");
	ck_assert_contains(m, "port=5433,5434");
	ck_assert_contains(m, "target_session_attrs=read-write");
	ck_assert_lacks(m, "password");
}
END_TEST

START_TEST(test_a_string_libpq_cannot_parse_is_shown_as_nothing_of_it)
{
	ck_assert_str_eq(masked("host=h password='secret"), "(not a libpq connection string)");
	ck_assert_str_eq(masked("postgresql://u:secret@h/db?nosuchoption=1"),
	                 "(not a libpq connection string)");
}
END_TEST

START_TEST(test_the_output_is_cut_and_terminated_in_a_small_buffer)
{
	char small[8];
	memset(small, 'x', sizeof small);
	conninfo_mask("host=averylonghostname password=secret", small, sizeof small);
	ck_assert_uint_eq(strlen(small), sizeof small - 1);
	ck_assert_lacks(small, "secret");
}
END_TEST

START_TEST(test_the_password_is_found_in_either_form_or_is_empty)
{
	char pw[64], why[256];
	ck_assert(
	    conninfo_password("postgresql://u:s3cr%40t@h/db", pw, sizeof pw, why, sizeof why));
	ck_assert_str_eq(pw, "s3cr@t");
	ck_assert(conninfo_password("host=h password='my secret'", pw, sizeof pw, why, sizeof why));
	ck_assert_str_eq(pw, "my secret");
	ck_assert(conninfo_password("postgresql://u@h/db", pw, sizeof pw, why, sizeof why));
	ck_assert_str_eq(pw, "");
	ck_assert(conninfo_password("host=h", pw, sizeof pw, why, sizeof why));
	ck_assert_str_eq(pw, "");
}
END_TEST

START_TEST(test_an_unparsable_string_gives_a_reason_that_quotes_nothing_of_it)
{
	char pw[64] = "x", why[256];
	ck_assert(!conninfo_password("host=h secret", pw, sizeof pw, why, sizeof why));
	ck_assert_str_eq(pw, "");
	ck_assert_msg(why[0] != '\0', "no reason");
	ck_assert_lacks(why, "secret");
	ck_assert(
	    !conninfo_password("postgresql://u:pw@h/db?secret=1", pw, sizeof pw, why, sizeof why));
	ck_assert_lacks(why, "secret");
}
END_TEST

static Suite *conninfo_suite(void)
{
	Suite *s = suite_create("conninfo");
	TCase *tc = tcase_create("conninfo");
	tcase_add_test(tc, test_a_password_in_the_url_form_is_masked);
	tcase_add_test(tc, test_a_password_in_the_key_value_form_is_masked);
	tcase_add_test(tc,
	               test_without_a_password_every_option_is_kept_and_quoted_as_libpq_reads_it);
	tcase_add_test(tc, test_a_string_libpq_cannot_parse_is_shown_as_nothing_of_it);
	tcase_add_test(tc, test_the_output_is_cut_and_terminated_in_a_small_buffer);
	tcase_add_test(tc, test_the_password_is_found_in_either_form_or_is_empty);
	tcase_add_test(tc, test_an_unparsable_string_gives_a_reason_that_quotes_nothing_of_it);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(conninfo_suite)

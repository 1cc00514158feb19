/*
 * The logger's text format (lib/log.c): a value can neither end its line
 * nor pose as another key=value field, whatever bytes it holds; JSON lines
 * escape control characters too.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "log.h"

START_TEST(test_escape_leaves_plain_values_alone)
{
	char out[64];
	ck_assert_uint_eq(log_text_escape("/v1/lenders/BANK1/loans", out, sizeof out), 23);
	ck_assert_str_eq(out, "/v1/lenders/BANK1/loans");
	log_text_escape("", out, sizeof out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_escape_turns_spaces_equals_controls_and_backslashes_into_hex)
{
	char out[256];
	log_text_escape("/v1/x\x1b[2J\x1b[31mRED status=200 client=admin", out, sizeof out);
	ck_assert_str_eq(out, "/v1/x\\x1b[2J\\x1b[31mRED\\x20status\\x3d200\\x20client\\x3dadmin");
	log_text_escape("a\r\nb\tc\x7f"
	                "d\\e",
	                out, sizeof out);
	ck_assert_str_eq(out, "a\\x0d\\x0ab\\x09c\\x7fd\\x5ce");
}
END_TEST

START_TEST(test_escape_never_overruns_and_never_cuts_an_escape)
{
	char out[8];
	/* "ab" + "\x20" = 6 bytes; the next escape would need 4 more */
	ck_assert_uint_eq(log_text_escape("ab  cd", out, sizeof out), 6);
	ck_assert_str_eq(out, "ab\\x20");
	char one[1] = {'x'};
	ck_assert_uint_eq(log_text_escape("abc", one, sizeof one), 0);
	ck_assert_int_eq(one[0], '\0');
}
END_TEST

/* The lines that log_kv writes while stderr goes to a file. */
static char *captured(enum log_format format, const char *value)
{
	char path[] = "/tmp/cd-test-log-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_setup(LOG_INFO, format);
	log_kv(LOG_INFO, "request", "path", value, "status", "400", NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	static char buf[4096];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	close(fd);
	unlink(path);
	return buf;
}

START_TEST(test_a_text_line_cannot_be_forged_by_a_value)
{
	const char *hostile = "/v1/x\x1b[2J status=200 client=admin\nfake 0 info request";
	const char *line = captured(LOG_FORMAT_TEXT, hostile);
	ck_assert_msg(strchr(line, '\x1b') == NULL, "escape byte in: %s", line);
	ck_assert_msg(strchr(line, '\n') == line + strlen(line) - 1, "more than one line: %s",
	              line);
	ck_assert_msg(strstr(line, " status=200") == NULL, "forged field in: %s", line);
	ck_assert_msg(strstr(line, " client=admin") == NULL, "forged field in: %s", line);
	ck_assert_msg(strstr(line, " status=400\n") != NULL, "the real field is missing: %s", line);
	ck_assert_msg(strstr(line, " path=/v1/x\\x1b[2J\\x20status\\x3d200") != NULL, "got: %s",
	              line);
}
END_TEST

START_TEST(test_a_json_line_escapes_control_characters)
{
	const char *line = captured(LOG_FORMAT_JSON, "/v1/x\x1b[2J\n");
	ck_assert_msg(strchr(line, '\x1b') == NULL, "escape byte in: %s", line);
	ck_assert_msg(strstr(line, "\"path\":\"/v1/x\\u001b[2J\\u000a\"") != NULL, "got: %s", line);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	tcase_add_test(tc, test_escape_leaves_plain_values_alone);
	tcase_add_test(tc, test_escape_turns_spaces_equals_controls_and_backslashes_into_hex);
	tcase_add_test(tc, test_escape_never_overruns_and_never_cuts_an_escape);
	tcase_add_test(tc, test_a_text_line_cannot_be_forged_by_a_value);
	tcase_add_test(tc, test_a_json_line_escapes_control_characters);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(log_suite)

/*
 * The logger (lib/log.c): in the text format a value can neither end its
 * line nor pose as another key=value field, whatever bytes it holds; a JSON
 * line is valid JSON whatever its values and length; under journald each
 * line starts with its level's priority.
 */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* What log_kv writes while stderr goes to a file; with journal set, that
 * file is the stream JOURNAL_STREAM names, as under systemd. */
static char *captured_at(enum log_format format, enum log_level level, const char *value,
                         bool journal)
{
	char path[] = "/tmp/cd-test-log-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	if (journal) {
		struct stat st;
		ck_assert_int_eq(fstat(fd, &st), 0);
		char js[64];
		snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
		         (unsigned long long)st.st_ino);
		setenv("JOURNAL_STREAM", js, 1);
	} else {
		unsetenv("JOURNAL_STREAM");
	}
	log_setup(LOG_DEBUG, format);
	log_kv(level, "request", "path", value, "status", "400", NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_INFO, format);
	static char buf[65536];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	close(fd);
	unlink(path);
	return buf;
}

static char *captured(enum log_format format, const char *value)
{
	return captured_at(format, LOG_INFO, value, false);
}

/* The one JSON object of a line that ends in exactly one newline. */
static json_t *parsed(const char *line)
{
	size_t len = strlen(line);
	ck_assert_msg(len > 0 && line[len - 1] == '\n', "no newline at the end: %s", line);
	ck_assert_msg(strchr(line, '\n') == line + len - 1, "more than one line: %s", line);
	json_error_t err;
	json_t *j = json_loadb(line, len - 1, 0, &err);
	ck_assert_msg(j != NULL, "not JSON (%s at %d): %.200s", err.text, err.position, line);
	return j;
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
	ck_assert_msg(strstr(line, "\"path\":\"/v1/x\\u001B[2J\\n\"") != NULL, "got: %s", line);
	json_t *j = parsed(line);
	ck_assert_str_eq(json_string_value(json_object_get(j, "path")), "/v1/x\x1b[2J\n");
	json_decref(j);
}
END_TEST

START_TEST(test_invalid_utf8_in_a_field_yields_valid_json_with_replacement_characters)
{
	/* a lone continuation byte, a truncated sequence, an overlong '/', a
	 * surrogate, and a valid "é" that must stay */
	const char *line = captured(LOG_FORMAT_JSON, "/v1/\x80"
	                                             "a\xc3 \xc0\xaf \xed\xa0\x80 \xc3\xa9");
	json_t *j = parsed(line);
	const char *path = json_string_value(json_object_get(j, "path"));
	ck_assert_ptr_nonnull(path);
	ck_assert_msg(strncmp(path,
	                      "/v1/\xef\xbf\xbd"
	                      "a\xef\xbf\xbd ",
	                      12) == 0,
	              "got: %s", path);
	ck_assert_msg(strstr(path, "\xc3\xa9") != NULL, "the valid character was lost: %s", path);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "400");
	json_decref(j);
}
END_TEST

START_TEST(test_a_line_longer_than_4_kib_is_valid_json_with_every_field)
{
	static char value[6001];
	for (size_t i = 0; i < sizeof value - 1; i++)
		value[i] = i % 50 == 0 ? '"' : 'a'; /* quotes grow the line further */
	value[sizeof value - 1] = '\0';
	const char *line = captured(LOG_FORMAT_JSON, value);
	ck_assert_uint_gt(strlen(line), 6000);
	json_t *j = parsed(line);
	ck_assert_str_eq(json_string_value(json_object_get(j, "path")), value);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "400");
	json_decref(j);
}
END_TEST

START_TEST(test_under_journald_each_line_starts_with_its_levels_priority)
{
	static const struct {
		enum log_level level;
		const char *prefix;
	} want[] = {{LOG_ERROR, "<3>"}, {LOG_WARN, "<4>"}, {LOG_INFO, "<6>"}, {LOG_DEBUG, "<7>"}};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		ck_assert_str_eq(log_priority_prefix(want[i].level), want[i].prefix);
		const char *line = captured_at(LOG_FORMAT_JSON, want[i].level, "/x", true);
		ck_assert_msg(strncmp(line, want[i].prefix, 3) == 0, "got: %s", line);
		json_decref(parsed(line + 3));
		line = captured_at(LOG_FORMAT_TEXT, want[i].level, "/x", true);
		ck_assert_msg(strncmp(line, want[i].prefix, 3) == 0, "got: %s", line);
	}
}
END_TEST

START_TEST(test_no_priority_prefix_when_stderr_is_not_the_journal)
{
	const char *line = captured_at(LOG_FORMAT_JSON, LOG_ERROR, "/x", false);
	ck_assert_msg(line[0] == '{', "got: %s", line);
	/* JOURNAL_STREAM inherited by a process whose stderr went elsewhere */
	char path[] = "/tmp/cd-test-log-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_setup(LOG_INFO, LOG_FORMAT_TEXT);
	log_kv(LOG_ERROR, "boom", NULL);
	unsetenv("JOURNAL_STREAM");
	dup2(saved, STDERR_FILENO);
	close(saved);
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	unlink(path);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(buf[0] != '<', "got: %s", buf);
	ck_assert_msg(strstr(buf, " error boom\n") != NULL, "got: %s", buf);
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
	tcase_add_test(tc,
	               test_invalid_utf8_in_a_field_yields_valid_json_with_replacement_characters);
	tcase_add_test(tc, test_a_line_longer_than_4_kib_is_valid_json_with_every_field);
	tcase_add_test(tc, test_under_journald_each_line_starts_with_its_levels_priority);
	tcase_add_test(tc, test_no_priority_prefix_when_stderr_is_not_the_journal);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(log_suite)

/*
 * The bash completion of coolingctl (cli/coolingctl.bash) offers, for each
 * option whose values are a table of the code, exactly that table's names:
 * a name added to or dropped from the table changes what the CLI takes, and
 * the completion, written by hand, must follow. The completion is run as
 * bash runs it on a Tab (its function, on the words typed), not read as
 * text.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "names.h"
#include "policy.h"

#define MAX_WORDS 64
#define WORD_BUF  64

struct words {
	int n;
	char w[MAX_WORDS][WORD_BUF];
};

/* What the completion offers for `coolingctl OPTION <Tab>`. */
static void offered(const char *option, struct words *out)
{
	/* the file and the option are bash's arguments, never spliced into
	 * the script */
	static const char script[] = "source \"$1\" || exit 1\n"
	                             "COMP_WORDS=(coolingctl \"$2\" '')\n"
	                             "COMP_CWORD=2\n"
	                             "_coolingctl\n"
	                             "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
	int fd[2];
	ck_assert(pipe(fd) == 0);
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		unsetenv("BASH_ENV"); /* the test's bash reads the completion alone */
		execlp("bash", "bash", "--norc", "--noprofile", "-c", script, "completion",
		       COOLINGCTL_COMPLETION, option, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	FILE *f = fdopen(fd[0], "r");
	ck_assert(f != NULL);
	memset(out, 0, sizeof(*out));
	char line[256];
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		ck_assert_msg(out->n < MAX_WORDS, "%s: more than %d words", option, MAX_WORDS);
		ck_assert_msg(strlen(line) < WORD_BUF, "%s: a word too long: %s", option, line);
		snprintf(out->w[out->n++], WORD_BUF, "%s", line);
	}
	fclose(f);
	int status;
	ck_assert(waitpid(pid, &status, 0) == pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "bash completing %s did not exit 0", option);
}

static bool has(const struct words *ws, const char *w)
{
	for (int i = 0; i < ws->n; i++)
		if (strcmp(ws->w[i], w) == 0)
			return true;
	return false;
}

/* The completion offers each of the table's n names, and nothing else. */
static void offers_exactly(const char *option, const char *const *names, int n)
{
	struct words ws;
	offered(option, &ws);
	for (int i = 0; i < n; i++)
		ck_assert_msg(has(&ws, names[i]), "%s: the completion does not offer \"%s\"",
		              option, names[i]);
	struct words table = {.n = n};
	for (int i = 0; i < n; i++)
		snprintf(table.w[i], WORD_BUF, "%s", names[i]);
	for (int i = 0; i < ws.n; i++)
		ck_assert_msg(has(&table, ws.w[i]),
		              "%s: the completion offers \"%s\", not a name of the code", option,
		              ws.w[i]);
	ck_assert_msg(ws.n == n, "%s: %d words offered for %d names (one twice?)", option, ws.n, n);
}

START_TEST(test_status_offers_every_loan_status_and_no_other)
{
	const char *names[STATUS_ELIGIBLE + 1];
	for (int s = 0; s <= STATUS_ELIGIBLE; s++)
		names[s] = status_name((enum loan_status)s);
	offers_exactly("--status", names, STATUS_ELIGIBLE + 1);
}
END_TEST

START_TEST(test_role_offers_every_role_and_no_other)
{
	offers_exactly("--role", role_names.names, role_names.count);
}
END_TEST

START_TEST(test_kind_offers_every_lender_kind_and_no_other)
{
	offers_exactly("--kind", lender_kind_names.names, lender_kind_names.count);
}
END_TEST

static Suite *completion_suite(void)
{
	Suite *s = suite_create("completion");
	TCase *tc = tcase_create("completion");
	tcase_add_test(tc, test_status_offers_every_loan_status_and_no_other);
	tcase_add_test(tc, test_role_offers_every_role_and_no_other);
	tcase_add_test(tc, test_kind_offers_every_lender_kind_and_no_other);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(completion_suite)

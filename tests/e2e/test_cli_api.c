/*
 * coolingctl --api URL --token-file F against the real coolingd (CONTRACT.md
 * v1.2, "Least privilege and personal data"): every read command that runs
 * through the API (loan show, loan events, borrower, loans (every page),
 * stats decisions, policy show, export to standard output: the daemon's, GET /v1/policy, here
 * configured as coolingctl is) prints what it prints from the database, byte for byte, with and
 * without --json (loan show without --json: but for the lines of what the API's loan does not
 * hold); an HTTP error exits 1 with the API's message, a daemon out of reach 3; a command that
 * writes refuses
 * --api; the token is read from its file; a look-up through the API is in
 * the personal-data access log under the token's client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "support/daemon.h"
#include "support/e2e.h"

static struct e2e_env env;
static char *tok_comp; /* compliance "comp-cli" */
static char *tok_len;  /* lender of CL1 */
static char token_file[256], api_url[64];
static char iin[13];

static void setup(void)
{
	e2e_start(&env, "e2e_cli_api", NULL);
	e2e_lender_add(&env, "CL1", "bank");
	tok_comp = e2e_client_add(&env, "comp-cli", "compliance", NULL);
	tok_len = e2e_client_add(&env, "cl1-core", "lender", "CL1");
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(token_file, sizeof token_file, "%s/cli-api-token-%d", tmp, (int)getpid());
	FILE *f = fopen(token_file, "w");
	if (f == NULL || fprintf(f, "%s\n", tok_comp) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", token_file);
		exit(EXIT_FAILURE);
	}
	snprintf(api_url, sizeof api_url, "http://127.0.0.1:%d", env.d.port);
	e2e_iin(iin, 77);
	/* loans in states that do not change while the test runs */
	e2e_approve(&env, tok_len, "CL1", "CLI-1", &(struct e2e_loan){.iin_seed = 77}, NULL);
	e2e_eligible_loan(&env, tok_len, "CL1", "CLI-2", 77);
	struct http_resp r;
	e2e_disburse(&env, tok_len, "CL1", "CLI-2", NULL, &r); /* allowed */
	http_resp_free(&r);
	e2e_disburse(&env, tok_len, "CL1", "CLI-1", NULL, &r); /* refused: no consent */
	http_resp_free(&r);
}

static void teardown(void)
{
	unlink(token_file);
	e2e_stop(&env);
	free(tok_comp);
	free(tok_len);
}

/* coolingctl ARGS... through the database (api false) or the API. */
static char *ctl(bool api, int *code, char **err, const char *const *args)
{
	const char *argv[24];
	int n = 0;
	if (api) {
		argv[n++] = "--api";
		argv[n++] = api_url;
		argv[n++] = "--token-file";
		argv[n++] = token_file;
	}
	for (int i = 0; args[i] != NULL && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char *out = run_ctl_argv(api ? NULL : env.db_url, argv, code, err);
	ck_assert_msg(out != NULL, "coolingctl did not run");
	return out;
}

/* The same output both ways, exit 0, nothing on stderr. */
static void assert_same(const char *const *args)
{
	int c1, c2;
	char *e1, *e2;
	char *db = ctl(false, &c1, &e1, args);
	char *api = ctl(true, &c2, &e2, args);
	ck_assert_msg(c1 == 0 && c2 == 0, "%s: exit %d (database), %d (api): %s %s", args[0], c1,
	              c2, e1 ? e1 : "", e2 ? e2 : "");
	ck_assert_msg(strcmp(db, api) == 0, "%s %s:\n-- database --\n%s\n-- api --\n%s", args[0],
	              args[1] ? args[1] : "", db, api);
	ck_assert_msg(strlen(db) > 10, "%s printed: %s", args[0], db);
	free(db);
	free(api);
	free(e1);
	free(e2);
}

START_TEST(test_every_read_command_prints_the_same_both_ways)
{
	char from[32], to[32];
	e2e_ts_from_now(from, -3600);
	e2e_ts_from_now(to, 3600);
	const char *const cmds[][12] = {
	    {"loan", "events", "CL1", "CLI-2", NULL},
	    {"loan", "events", "CL1", "CLI-2", "--json", NULL},
	    {"borrower", iin, NULL},
	    {"borrower", iin, "--json", NULL},
	    {"stats", "decisions", "--from", from, "--to", to, NULL},
	    {"stats", "decisions", "--from", from, "--to", to, "--bucket", "day", "--json", NULL},
	    {"stats", "decisions", "--from", from, "--to", to, "--lender", "CL1", NULL},
	    {"loan", "show", "CL1", "CLI-1", "--json", NULL},
	    {"loan", "show", "CL1", "CLI-2", "--json", NULL},
	    {"loans", NULL},
	    {"loans", "--lender", "CL1", "--limit", "1", "--json", NULL},
	    {"loans", "--status", "disbursed", "--from", from, "--to", to, NULL},
	    {"export", NULL},
	    {"export", "--format", "jsonl", NULL},
	    {"export", "--from", from, "--to", to, "--format", "csv", NULL},
	    {"policy", "show", NULL},
	    {"policy", "show", "--json", NULL},
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		assert_same(cmds[i]);
}
END_TEST

/* Without --json, loan show prints every line the same but those of what
 * the API's loan does not hold. */
START_TEST(test_loan_show_prints_the_same_lines_but_what_the_api_does_not_hold)
{
	const char *const args[] = {"loan", "show", "CL1", "CLI-2", NULL};
	int c1, c2;
	char *e1, *e2;
	char *db = ctl(false, &c1, &e1, args);
	char *api = ctl(true, &c2, &e2, args);
	ck_assert_int_eq(c1, 0);
	ck_assert_int_eq(c2, 0);
	static const char *const differ[] = {
	    "first_time_borrower:", "evaluated_at:", "in_person_branch_id:",
	    "in_person_officer_id:", "cancel_reason:"};
	char *sa = NULL, *sb = NULL;
	char *la = strtok_r(db, "\n", &sa), *lb = strtok_r(api, "\n", &sb);
	int lines = 0;
	for (; la != NULL && lb != NULL;
	     la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb), lines++) {
		bool may_differ = false;
		for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++)
			may_differ = may_differ || strncmp(la, differ[i], strlen(differ[i])) == 0;
		if (may_differ)
			ck_assert_msg(strncmp(la, lb, strcspn(la, ":")) == 0, "%s | %s", la, lb);
		else
			ck_assert_msg(strcmp(la, lb) == 0, "database: %s\napi:      %s", la, lb);
	}
	ck_assert_msg(la == NULL && lb == NULL, "not as many lines");
	ck_assert_int_gt(lines, 30);
	free(db);
	free(api);
	free(e1);
	free(e2);
}
END_TEST

/* export --output FILE: the same file both ways, every event with its
 * detail as the hash covers it (audit verify --against is the database's
 * check of such a file). */
START_TEST(test_export_to_a_file_is_the_same_both_ways)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char a[300], b[300];
	snprintf(a, sizeof a, "%s/cli-api-db-%d.csv", tmp, (int)getpid());
	snprintf(b, sizeof b, "%s/cli-api-api-%d.csv", tmp, (int)getpid());
	const char *const to_a[] = {"export", "--output", a, NULL};
	const char *const to_b[] = {"export", "--output", b, NULL};
	int code;
	char *err;
	free(ctl(false, &code, &err, to_a));
	ck_assert_msg(code == 0, "%s", err);
	free(err);
	free(ctl(true, &code, &err, to_b));
	ck_assert_msg(code == 0, "%s", err);
	ck_assert_msg(strstr(err, "exported ") != NULL, "%s", err);
	free(err);
	char *fa = e2e_read_file(a, NULL), *fb = e2e_read_file(b, NULL);
	ck_assert(fa != NULL && fb != NULL);
	ck_assert_str_eq(fa, fb);
	ck_assert_msg(strstr(fa, ",disbursement_allowed,") != NULL, "%s", fa);
	ck_assert_msg(strstr(fa, ",approval_recorded,") != NULL, "%s", fa);
	free(fa);
	free(fb);
	unlink(a);
	unlink(b);

	/* the watermark of --since-last is the database's */
	const char *const job[] = {"export", "--since-last", "j1", "--output", b, NULL};
	free(ctl(true, &code, &err, job));
	ck_assert_int_eq(code, 2);
	free(err);
}
END_TEST

START_TEST(test_errors_exit_nonzero_with_the_apis_message)
{
	int code;
	char *err;
	const char *const missing[] = {"loan", "show", "CL1", "NOPE", NULL};
	free(ctl(true, &code, &err, missing));
	ck_assert_int_eq(code, 1);
	ck_assert_msg(strstr(err, "HTTP 404: no such loan") != NULL, "%s", err);
	free(err);

	/* a write refuses --api */
	const char *const write[] = {"lender", "add", "CL9", "--kind", "bank", NULL};
	free(ctl(true, &code, &err, write));
	ck_assert_int_eq(code, 2);
	free(err);

	/* a token the daemon does not know */
	char bad[300];
	snprintf(bad, sizeof bad, "%s.bad", token_file);
	FILE *f = fopen(bad, "w");
	ck_assert(f != NULL);
	fputs("cdt_AAAAAAAAAAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n", f);
	fclose(f);
	const char *const unknown[] = {"--api", api_url, "--token-file", bad, "loan",
	                               "show",  "CL1",   "CLI-1",        NULL};
	free(run_ctl_argv(NULL, unknown, &code, &err));
	unlink(bad);
	ck_assert_int_eq(code, 1);
	ck_assert_msg(strstr(err, "HTTP 401") != NULL, "%s", err);
	free(err);

	/* nobody listening */
	const char *const away[] = {"--api",
	                            "http://127.0.0.1:9",
	                            "--token-file",
	                            token_file,
	                            "loan",
	                            "show",
	                            "CL1",
	                            "CLI-1",
	                            NULL};
	free(run_ctl_argv(NULL, away, &code, &err));
	ck_assert_int_eq(code, 3);
	free(err);
}
END_TEST

START_TEST(test_a_lookup_through_the_api_is_in_the_access_log)
{
	long long before = e2e_sql_num(&env,
	                               "SELECT count(*) FROM access_log WHERE client = 'comp-cli' "
	                               "AND borrower_iin = $1 AND route = 'borrower-search'",
	                               iin, NULL);
	int code;
	char *err;
	const char *const args[] = {"borrower", iin, NULL};
	free(ctl(true, &code, &err, args));
	free(err);
	ck_assert_int_eq(code, 0);
	ck_assert_int_eq(e2e_sql_num(&env,
	                             "SELECT count(*) FROM access_log WHERE client = 'comp-cli' "
	                             "AND borrower_iin = $1 AND route = 'borrower-search'",
	                             iin, NULL),
	                 before + 1);
}
END_TEST

static Suite *cli_api_suite(void)
{
	Suite *s = suite_create("cli_api");
	TCase *tc = tcase_create("cli_api");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_every_read_command_prints_the_same_both_ways);
	tcase_add_test(tc, test_loan_show_prints_the_same_lines_but_what_the_api_does_not_hold);
	tcase_add_test(tc, test_export_to_a_file_is_the_same_both_ways);
	tcase_add_test(tc, test_errors_exit_nonzero_with_the_apis_message);
	tcase_add_test(tc, test_a_lookup_through_the_api_is_in_the_access_log);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(cli_api_suite)

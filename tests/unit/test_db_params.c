/*
 * The names of STMT_LOAN_INSERT's parameters (lib/db/params.c), by which
 * bench/print_sql binds them: every $n has one, no two share one, and a
 * column's name is the column its $n fills in the statement.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "db.h"

START_TEST(test_every_loan_insert_parameter_has_its_own_name)
{
	int n = db_statements[STMT_LOAN_INSERT].nparams;
	for (int i = 1; i <= n; i++) {
		const char *a = db_loan_insert_param_name(i);
		ck_assert_msg(a != NULL && a[0] != '\0', "$%d has no name", i);
		for (int j = 1; j < i; j++)
			ck_assert_msg(strcmp(a, db_loan_insert_param_name(j)) != 0,
			              "$%d and $%d are both %s", j, i, a);
	}
	ck_assert_ptr_null(db_loan_insert_param_name(0));
	ck_assert_ptr_null(db_loan_insert_param_name(n + 1));
}
END_TEST

START_TEST(test_the_actor_and_the_detail_are_named)
{
	int n = db_statements[STMT_LOAN_INSERT].nparams;
	int actor = 0, detail = 0;
	for (int i = 1; i <= n; i++) {
		actor += strcmp(db_loan_insert_param_name(i), "actor") == 0;
		detail += strcmp(db_loan_insert_param_name(i), "detail") == 0;
	}
	ck_assert_int_eq(actor, 1);
	ck_assert_int_eq(detail, 1);
}
END_TEST

/* The length of the list item at s: up to a comma outside parentheses. */
static size_t item_len(const char *s)
{
	int depth = 0;
	size_t i = 0;
	for (; s[i] != '\0' && (s[i] != ',' || depth > 0); i++)
		depth += (s[i] == '(') - (s[i] == ')');
	return i;
}

static int param_named(const char *name)
{
	int n = db_statements[STMT_LOAN_INSERT].nparams;
	for (int i = 1; i <= n; i++)
		if (strcmp(db_loan_insert_param_name(i), name) == 0)
			return i;
	return 0;
}

/* The INSERT lists the columns and their values in one order: the value of
 * each column holds the $n named after it. */
START_TEST(test_a_column_name_is_the_column_its_parameter_fills)
{
	const char *sql = db_statements[STMT_LOAN_INSERT].sql;
	const char *cols = strstr(sql, "INSERT INTO loan (");
	ck_assert_ptr_nonnull(cols);
	cols += strlen("INSERT INTO loan (");
	const char *vals = strstr(cols, "SELECT ");
	ck_assert_ptr_nonnull(vals);
	vals += strlen("SELECT ");
	int named = 0;
	while (strncmp(cols, "created_at)", 11) != 0) {
		char col[64], val[256], ref[16];
		size_t clen = item_len(cols), vlen = item_len(vals);
		ck_assert(clen < sizeof col && vlen < sizeof val);
		snprintf(col, sizeof col, "%.*s", (int)clen, cols);
		snprintf(val, sizeof val, "%.*s", (int)vlen, vals);
		int n = param_named(col);
		ck_assert_msg(n > 0, "no parameter named %s", col);
		snprintf(ref, sizeof ref, "$%d:", n);
		ck_assert_msg(strstr(val, ref) != NULL, "%s's value %s lacks %s", col, val, ref);
		named++;
		cols += clen + 2;
		vals += vlen + 2;
	}
	ck_assert_int_gt(named, 20);
}
END_TEST

static Suite *db_params_suite(void)
{
	Suite *s = suite_create("db_params");
	TCase *tc = tcase_create("db_params");
	tcase_add_test(tc, test_every_loan_insert_parameter_has_its_own_name);
	tcase_add_test(tc, test_the_actor_and_the_detail_are_named);
	tcase_add_test(tc, test_a_column_name_is_the_column_its_parameter_fills);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(db_params_suite)

/*
 * print_sql: prints statements of the db_statements table
 * (lib/db/statements.c) as pgbench SQL commands, so that bench/run.sh makes
 * pgbench run exactly the SQL that coolingd runs (not a copy made by hand
 * that could drift from it).
 *
 *   print_sql NAME[=VAR1,VAR2,...] ...
 *
 * Each argument names one statement (its db_statements name, e.g. "auth",
 * "approval_context"); the statements are printed in the order given, one a
 * line, each ended with ";" (or, with a trailing "@gset", with pgbench's
 * "\gset" so that its one row is stored in variables).
 *
 * Every parameter $N becomes a pgbench variable: ":pN" by default, or, when
 * variables are listed after "=", the N-th listed name (there must be
 * exactly as many names as the statement has parameters, so that a change
 * of a statement is caught here). The name NULL writes a NULL literal instead:
 * pgbench variables cannot be NULL, while coolingd sends some parameters
 * as NULL (e.g. no Idempotency-Key).
 *
 *   print_sql --list     names and parameter counts of every statement
 *   print_sql --params NAME
 *                        the name of each parameter of NAME, one a line in
 *                        the order $1, $2, ..., where the database layer
 *                        knows them (loan_insert: its columns, from the
 *                        table that numbers them, then actor, detail, ...),
 *                        so that a script can bind them by name and a new
 *                        column reaches it without an edit
 *
 * Exit status 2 on a usage error or an unknown name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#define MAX_VARS 64

static const struct stmt_def *find(const char *name, size_t len)
{
	for (int i = 0; i < STMT__COUNT; i++) {
		const char *n = db_statements[i].name;
		if (n != NULL && strlen(n) == len && strncmp(n, name, len) == 0)
			return &db_statements[i];
	}
	return NULL;
}

/* Splits "a,b,c" into vars; returns the count, or -1 when too many. */
static int split_vars(char *list, char *vars[MAX_VARS])
{
	int n = 0;
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_VARS)
			return -1;
		vars[n++] = tok;
	}
	return n;
}

static bool valid_var(const char *v)
{
	if (*v == '\0')
		return false;
	for (const char *p = v; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

static void print_stmt(const struct stmt_def *s, char *const *vars, int nvars, bool gset)
{
	const char *p = s->sql;
	while (*p) {
		if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
			char *end;
			long n = strtol(p + 1, &end, 10);
			if (n < 1 || n > s->nparams) {
				fprintf(stderr, "print_sql: %s: $%ld out of range\n", s->name, n);
				exit(2);
			}
			if (nvars == 0)
				printf(":p%ld", n);
			else if (strcmp(vars[n - 1], "NULL") == 0)
				fputs("NULL", stdout);
			else
				printf(":%s", vars[n - 1]);
			p = end;
			continue;
		}
		/* pgbench reads one command a line: keep the statement on one */
		putchar(*p == '\n' ? ' ' : *p);
		p++;
	}
	fputs(gset ? " \\gset\n" : ";\n", stdout);
}

static int print_params(const char *name)
{
	const struct stmt_def *s = find(name, strlen(name));
	if (s != &db_statements[STMT_LOAN_INSERT]) {
		fprintf(stderr, "print_sql: the names of %s's parameters are not known\n", name);
		return 2;
	}
	for (int n = 1; n <= s->nparams; n++) {
		const char *p = db_loan_insert_param_name(n);
		if (p == NULL) {
			fprintf(stderr, "print_sql: %s: $%d has no name\n", name, n);
			return 2;
		}
		puts(p);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fprintf(stderr, "usage: print_sql NAME[=VAR,...][@gset] ... | print_sql --list | "
		                "print_sql --params NAME\n");
		return 2;
	}
	if (strcmp(argv[1], "--params") == 0 && argc == 3)
		return print_params(argv[2]);
	if (strcmp(argv[1], "--list") == 0) {
		for (int i = 0; i < STMT__COUNT; i++)
			printf("%s %d\n", db_statements[i].name, db_statements[i].nparams);
		return 0;
	}
	for (int a = 1; a < argc; a++) {
		char *arg = argv[a];
		bool gset = false;
		size_t alen = strlen(arg);
		if (alen > 5 && strcmp(arg + alen - 5, "@gset") == 0) {
			gset = true;
			arg[alen - 5] = '\0';
		}
		char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct stmt_def *s = find(arg, len);
		if (s == NULL) {
			fprintf(stderr, "print_sql: no statement named %.*s (see --list)\n",
			        (int)len, arg);
			return 2;
		}
		char *vars[MAX_VARS];
		int nvars = 0;
		if (eq != NULL) {
			nvars = split_vars(eq + 1, vars);
			if (nvars != s->nparams) {
				fprintf(stderr,
				        "print_sql: %s takes %d parameters, %d variables given\n",
				        s->name, s->nparams, nvars);
				return 2;
			}
			for (int i = 0; i < nvars; i++) {
				if (!valid_var(vars[i])) {
					fprintf(stderr, "print_sql: %s: bad variable name '%s'\n",
					        s->name, vars[i]);
					return 2;
				}
			}
		}
		print_stmt(s, vars, nvars, gset);
	}
	return 0;
}

/*
 * The pool's batches (DB_BATCHED in db.h): the SQL of every batch form,
 * written once before main() from the single statements and the write
 * forms of statements.c; which requests may share a batch; the arrays a
 * batch sends; and the split of a batch's result into each request's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The batch forms' names ("batch_" and the single's) and SQL, at which
 * db_statements points. */
char db_batch_sql[STMT__COUNT - STMT_BATCH__FIRST][BATCH_SQL_MAX];
char db_batch_name[STMT__COUNT - STMT_BATCH__FIRST][64];

/* A read's form runs the read itself for each request, as a LATERAL
 * subquery: the same plan per request (one probe of an index), the same
 * rows, the request's number beside them. */
#define BATCH_READ_BODY " SELECT q.*, cdb.i FROM cdb CROSS JOIN LATERAL ("
#define BATCH_READ_END  ") q"

size_t db_batch_params(char *buf, size_t size, const char *sql)
{
	size_t len = 0;
	for (const char *c = sql; *c; c++) {
		if (c[0] == '$' && c[1] >= '0' && c[1] <= '9') {
			for (const char *t = "cdb.p"; *t; t++) {
				if (len + 1 < size)
					buf[len] = *t;
				len++;
			}
			continue;
		}
		if (len + 1 < size)
			buf[len] = *c;
		len++;
	}
	if (size > 0)
		buf[len < size ? len : size - 1] = '\0';
	return len;
}

/* The requests of a batch: the single statement's np parameters as the
 * columns p1..pnp of cdb, the request's number as i. */
static size_t batch_head(char *buf, size_t size, int np)
{
	size_t len = (size_t)snprintf(buf, size, "WITH cdb AS (SELECT * FROM unnest(");
	for (int k = 1; k <= np; k++)
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s$%d::text[]",
		                        k > 1 ? ", " : "", k);
	len += (size_t)snprintf(buf + len, len < size ? size - len : 0, ") WITH ORDINALITY AS u(");
	for (int k = 1; k <= np; k++)
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "p%d, ", k);
	len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
	                        "i) WHERE u.i <= $%d::bigint)", np + 1);
	return len;
}

/* Writes the SQL of every batch form, from the single read (DB_BATCHED_READS)
 * or the write's own (db_batch_write_sql, statements.c), once, before
 * main(): db_statements points at it. A form that does not fit, or a
 * parameter count of db.h that is not the statement's, is a fault of the
 * database layer, and stops the program at once (every test would fail). */
static void batch_write(enum stmt bst, enum stmt st, int np, const char *body_pre, const char *body,
                        const char *body_post)
{
	char *buf = db_batch_sql[bst - STMT_BATCH__FIRST];
	size_t size = BATCH_SQL_MAX;
	if (db_statements[st].nparams != np || db_statements[bst].nparams != np + 1) {
		fprintf(stderr, "lib/db/batch.c: %s: parameters disagree with DB_BATCHED\n",
		        db_statements[st].name);
		abort();
	}
	snprintf(db_batch_name[bst - STMT_BATCH__FIRST], sizeof(db_batch_name[0]), "batch_%s",
	         db_statements[st].name);
	size_t len = batch_head(buf, size, np);
	len += db_batch_params(buf + len, len < size ? size - len : 0, body_pre);
	len += db_batch_params(buf + len, len < size ? size - len : 0, body);
	len += db_batch_params(buf + len, len < size ? size - len : 0, body_post);
	if (len >= size) {
		fprintf(stderr, "lib/db/batch.c: %s: batch form longer than BATCH_SQL_MAX\n",
		        db_statements[st].name);
		abort();
	}
}

__attribute__((constructor)) static void batch_init(void)
{
#define BATCH_READ_INIT(name, n)                                                                   \
	batch_write(STMT_BATCH_##name, STMT_##name, n, BATCH_READ_BODY,                            \
	            db_statements[STMT_##name].sql, BATCH_READ_END);
	DB_BATCHED_READS(BATCH_READ_INIT)
#undef BATCH_READ_INIT
#define BATCH_WRITE_INIT(name, n)                                                                  \
	batch_write(STMT_BATCH_##name, STMT_##name, n, "", db_batch_write_sql[STMT_##name], "");
	DB_BATCHED_WRITES(BATCH_WRITE_INIT)
#undef BATCH_WRITE_INIT
}

/* Two parameters of two requests, both given and equal. */
static bool same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

bool db_batch_conflict(enum stmt st, const char *const *a, const char *const *b)
{
	switch (st) {
	case STMT_LOAN_INSERT: /* $1 lender, $2 loan_id, $3 borrower */
		return same(a[2], b[2]) || (same(a[0], b[0]) && same(a[1], b[1]));
	case STMT_DISBURSE: /* $1 loan, $3 key, $4 the key's lender, $8 a windowed borrower */
		return same(a[0], b[0]) || (same(a[2], b[2]) && same(a[3], b[3])) ||
		       same(a[7], b[7]);
	case STMT_REFUSE: /* $1 lender, $5 key */
		return same(a[0], b[0]) && same(a[4], b[4]);
	default:
		return false;
	}
}

size_t db_array_literal(char *buf, size_t size, const char *const *values, int n)
{
	size_t len = 0;
#define PUT(ch)                                                                                    \
	do {                                                                                       \
		if (len + 1 < size)                                                                \
			buf[len] = (ch);                                                           \
		len++;                                                                             \
	} while (0)
	PUT('{');
	for (int i = 0; i < n; i++) {
		if (i > 0)
			PUT(',');
		if (values[i] == NULL) {
			for (const char *t = "NULL"; *t; t++)
				PUT(*t);
			continue;
		}
		/* quoted, so that no value reads as NULL, a separator or braces;
		 * inside quotes only the quote and the backslash need escaping */
		PUT('"');
		for (const char *v = values[i]; *v; v++) {
			if (*v == '"' || *v == '\\')
				PUT('\\');
			PUT(*v);
		}
		PUT('"');
	}
	PUT('}');
#undef PUT
	if (size > 0)
		buf[len < size ? len : size - 1] = '\0';
	return len;
}

/* At most this many columns in a batch's result: the widest is a first
 * read's twin, the client's and the loan's columns, now, the read's own
 * (enum approval_col, enum disburse_col) and the request's number. */
#define BATCH_MAX_COLS (AUTH_NCOLS + LOAN_NCOLS + 2 + APPROVAL_BURST_OTHERS)
_Static_assert((int)DISBURSE_PAYEE_FLAGGED <= (int)APPROVAL_BURST_OTHERS, "the widest first read");

bool db_batch_split(const PGresult *b, int n, PGresult **out)
{
	int nf = PQnfields(b) - 1; /* without the request's number */
	if (PQresultStatus(b) != PGRES_TUPLES_OK || nf < 1 || nf >= BATCH_MAX_COLS || n < 1)
		return false;
	PGresAttDesc att[BATCH_MAX_COLS];
	for (int f = 0; f < nf; f++)
		att[f] = (PGresAttDesc){.name = PQfname(b, f),
		                        .tableid = PQftable(b, f),
		                        .columnid = PQftablecol(b, f),
		                        .format = PQfformat(b, f),
		                        .typid = PQftype(b, f),
		                        .typlen = PQfsize(b, f),
		                        .atttypmod = PQfmod(b, f)};
	int made = 0;
	bool ok = true;
	for (; ok && made < n; made++) {
		out[made] = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
		ok = out[made] != NULL && PQsetResultAttrs(out[made], nf, att);
		if (out[made] == NULL)
			break;
	}
	for (int r = 0; ok && r < PQntuples(b); r++) {
		char *end;
		long k = strtol(PQgetvalue(b, r, nf), &end, 10);
		if (*end != '\0' || k < 1 || k > n) {
			ok = false;
			break;
		}
		PGresult *o = out[k - 1];
		int row = PQntuples(o);
		for (int f = 0; ok && f < nf; f++)
			ok = PQgetisnull(b, r, f)
			         ? PQsetvalue(o, row, f, NULL, -1)
			         : PQsetvalue(o, row, f, PQgetvalue(b, r, f), PQgetlength(b, r, f));
	}
	if (!ok)
		for (int i = 0; i < made; i++)
			PQclear(out[i]);
	return ok;
}

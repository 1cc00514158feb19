/*
 * What the commands of coolingctl share: their options' values, one-line
 * error messages (with any database password scrubbed), the lazy connection to the database, the
 * operator's name for the audit trail, and output for people: local times
 * with their offset, aligned tables, indented JSON.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "conninfo.h"
#include "db.h"
#include "timeutil.h"

/* ---- options ---- */

static int option_index(const struct cli *cli, const char *name)
{
	for (int i = 0; cli->cmd->options[i]; i++) {
		const char *o = cli->cmd->options[i];
		size_t n = strcspn(o, "=");
		if (strncmp(o, name, n) == 0 && name[n] == '\0')
			return i;
	}
	abort(); /* a command asked for an option it does not declare */
}

const char *cli_opt(const struct cli *cli, const struct cli_args *a, const char *name)
{
	return a->opt[option_index(cli, name)];
}

int cli_opt_all(const struct cli *cli, const struct cli_args *a, const char *name,
                const char *const **vals)
{
	int i = option_index(cli, name);
	*vals = a->all[i];
	return a->nall[i];
}

/* ---- messages ---- */

/* Replaces every occurrence of secret in buf by "***". */
static void scrub(char *buf, size_t size, const char *secret)
{
	size_t n = strlen(secret);
	if (n == 0)
		return;
	char *p;
	while ((p = strstr(buf, secret)) != NULL) {
		char tail[1024];
		snprintf(tail, sizeof(tail), "%s", p + n);
		snprintf(p, size - (size_t)(p - buf), "***%s", tail);
	}
}

/* One line: newlines and tabs become spaces, trailing spaces go. */
static void one_line(char *buf)
{
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

static int report(struct cli *cli, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int report(struct cli *cli, int code, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	scrub(msg, sizeof(msg), cli->password);
	one_line(msg);
	if (cli->cmd != NULL)
		fprintf(stderr, "coolingctl: %s: %s\n", cli->cmd->name, msg);
	else
		fprintf(stderr, "coolingctl: %s\n", msg);
	return code;
}

int cli_fail(struct cli *cli, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(cli, code, fmt, ap);
	va_end(ap);
	return code;
}

int cli_usage(struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(cli, CLI_USAGE, fmt, ap);
	va_end(ap);
	return CLI_USAGE;
}

int cli_db_fail(struct cli *cli, const struct cd_error *err)
{
	int code = CLI_FAIL;
	if (err->status == 503 || (cli->conn != NULL && PQstatus(cli->conn) != CONNECTION_OK))
		code = CLI_UNAVAILABLE;
	/* lib/db/sync.c prefixes some messages with the command's name already */
	const char *msg = err->message;
	size_t n = cli->cmd ? strlen(cli->cmd->name) : 0;
	if (n > 0 && strncmp(msg, cli->cmd->name, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
		msg += n + 2;
	return cli_fail(cli, code, "%s", msg[0] ? msg : "database error");
}

/* ---- the database ---- */

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Keeps the password of url, to scrub it from messages; false when url is
 * not a connection string libpq understands. */
static bool note_password(struct cli *cli, const char *url, char *why, size_t why_size)
{
	return conninfo_password(url, cli->password, sizeof(cli->password), why, why_size);
}

bool cli_connect(struct cli *cli, bool need_schema, int *rc)
{
	struct config cfg;
	char msg[512];
	if (!config_load(&cfg, cli->config_path, cli->config_is_default, msg, sizeof(msg))) {
		*rc = cli_fail(cli, CLI_FAIL, "configuration: %s", msg);
		return false;
	}
	snprintf(cli->timezone, sizeof(cli->timezone), "%s", cfg.timezone);
	snprintf(cli->webhook_key, sizeof(cli->webhook_key), "%s", cfg.webhook_secret_key);
	/* times are shown in the zone the daemon decides local dates in */
	setenv("TZ", cli->timezone, 1);
	tzset();
	const char *url = cli->database_opt ? cli->database_opt : cfg.database_url;
	if (url[0] == '\0') {
		*rc = cli_fail(cli, CLI_FAIL, "the database URL is empty");
		return false;
	}
	if (!note_password(cli, url, msg, sizeof(msg))) {
		*rc = cli_fail(cli, CLI_FAIL,
		               "the database URL is not a libpq connection string: %s", msg);
		return false;
	}

	struct cd_error err;
	cd_error_clear(&err);
	cli->conn = db_connect(url, &err);
	if (cli->conn == NULL) {
		*rc = cli_db_fail(cli, &err);
		return false;
	}
	PQsetNoticeProcessor(cli->conn, ignore_notice, NULL);

	if (need_schema) {
		int v = db_schema_version(cli->conn);
		if (v < 0 && PQstatus(cli->conn) != CONNECTION_OK) {
			*rc = cli_fail(cli, CLI_UNAVAILABLE, "the database connection was lost");
			return false;
		}
		if (v < 0) {
			*rc = cli_fail(cli, CLI_FAIL,
			               "the database has no coolingd schema; run 'coolingctl "
			               "migrate' first");
			return false;
		}
		if (v < DB_SCHEMA_VERSION) {
			*rc = cli_fail(cli, CLI_FAIL,
			               "the database schema is at version %d, this coolingctl "
			               "needs %d; run 'coolingctl migrate' first",
			               v, DB_SCHEMA_VERSION);
			return false;
		}
	}
	return true;
}

/* ---- output for people ---- */

void cli_local_time(int64_t usec, bool fraction, char out[CLI_TIME_BUF])
{
	if (usec == TS_NULL) {
		snprintf(out, CLI_TIME_BUF, "-");
		return;
	}
	int64_t secs = usec / USEC_PER_SEC, frac = usec % USEC_PER_SEC;
	if (frac < 0) {
		secs--;
		frac += USEC_PER_SEC;
	}
	time_t t = (time_t)secs;
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL) {
		char utc[TS_BUF];
		ts_format_utc(usec, utc);
		snprintf(out, CLI_TIME_BUF, "%s", utc);
		return;
	}
	long off = tm.tm_gmtoff;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	char part[16] = "";
	if (fraction && frac != 0)
		snprintf(part, sizeof(part), ".%06d", (int)frac);
	snprintf(out, CLI_TIME_BUF, "%04d-%02d-%02d %02d:%02d:%02d%s %c%02ld:%02ld",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         part, sign, off / 3600, off / 60 % 60);
}

void cli_printable(const char *s, char *out, size_t size)
{
	size_t w = 0;
	if (size == 0)
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p && w + 1 < size; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			out[w++] = '?';
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			/* C1 controls (U+0080..U+009F) steer terminals too */
			out[w++] = '?';
			p++;
		} else {
			out[w++] = (char)*p;
		}
	}
	out[w] = '\0';
}

int cli_print_json(struct cli *cli, json_t *json)
{
	char *s = json ? json_dumps(json, JSON_INDENT(2)) : NULL;
	json_decref(json);
	if (s == NULL)
		return cli_fail(cli, CLI_FAIL, "cannot render JSON");
	puts(s);
	free(s);
	return CLI_OK;
}

void cli_table_init(struct cli_table *t, int ncols, const char *const *header, const bool *right)
{
	if (ncols > CLI_TABLE_MAX_COLS)
		abort();
	*t = (struct cli_table){.ncols = ncols, .header = header, .right = right};
}

void cli_table_add(struct cli_table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		int cap = t->cap ? 2 * t->cap : 16;
		char **cells = realloc(t->cells, sizeof(char *) * (size_t)cap * (size_t)t->ncols);
		if (cells == NULL) {
			fprintf(stderr, "coolingctl: out of memory\n");
			exit(CLI_FAIL);
		}
		t->cells = cells;
		t->cap = cap;
	}
	for (int c = 0; c < t->ncols; c++) {
		size_t n = strlen(row[c]) + 1;
		char *cell = malloc(n);
		if (cell == NULL) {
			fprintf(stderr, "coolingctl: out of memory\n");
			exit(CLI_FAIL);
		}
		cli_printable(row[c], cell, n);
		t->cells[t->nrows * t->ncols + c] = cell;
	}
	t->nrows++;
}

/* Columns a UTF-8 string takes on a terminal (one per code point). */
static int text_width(const char *s)
{
	int n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void print_cell(const char *s, int width, bool right, bool last)
{
	int pad = width - text_width(s);
	if (right)
		printf("%*s%s", pad, "", s);
	else if (last)
		printf("%s", s);
	else
		printf("%s%*s", s, pad, "");
	printf(last ? "\n" : "  ");
}

void cli_table_print(const struct cli_table *t)
{
	int width[CLI_TABLE_MAX_COLS] = {0};
	for (int c = 0; c < t->ncols; c++) {
		width[c] = text_width(t->header[c]);
		for (int r = 0; r < t->nrows; r++) {
			int w = text_width(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	}
	for (int c = 0; c < t->ncols; c++)
		print_cell(t->header[c], width[c], t->right[c], c == t->ncols - 1);
	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++)
			print_cell(t->cells[r * t->ncols + c], width[c], t->right[c],
			           c == t->ncols - 1);
}

void cli_table_free(struct cli_table *t)
{
	for (int i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

int cli_list(struct cli *cli, const struct cli_args *a, const struct cli_listing *l)
{
	bool json = cli_opt(cli, a, "json") != NULL;
	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	PGresult *r = l->query(cli->conn, &err);
	if (r == NULL)
		return cli_db_fail(cli, &err);
	int n = PQntuples(r);

	if (json) {
		json_t *list = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(list, l->row_json(r, i));
		PQclear(r);
		return cli_print_json(cli, json_pack("{s:o}", l->json_key, list));
	}

	struct cli_table t;
	cli_table_init(&t, l->ncols, l->header, l->right);
	for (int i = 0; i < n; i++) {
		const char *cell[CLI_TABLE_MAX_COLS];
		char buf[CLI_TABLE_MAX_COLS][CLI_TIME_BUF];
		l->row_cells(r, i, cell, buf);
		cli_table_add(&t, cell);
	}
	PQclear(r);
	if (n == 0)
		printf("%s\n", l->none);
	else
		cli_table_print(&t);
	cli_table_free(&t);
	return CLI_OK;
}

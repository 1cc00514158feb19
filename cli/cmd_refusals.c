/*
 * The voluntary refusal registry from the command line: the import of the
 * credit bureau's file and one borrower's entry; and the import that the
 * registries share (cli_registry_import()).
 *
 * The import streams: the file is read a block at a time, each record
 * parsed (lib/refusal.c, RFC 4180) and checked as it comes, and each good
 * one sent on into a COPY to a temporary staging table; one INSERT ...
 * SELECT then adds the changes not known yet with their audit events
 * (lib/db/sync.c). Memory stays the same for any number of lines. One bad line
 * and nothing is imported: every bad line is named, the transaction is
 * rolled back, exit 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "codec.h"
#include "db.h"
#include "iin.h"
#include "refusal.h"
#include "timeutil.h"

/* The bad lines named on stderr, at most; the count goes on. */
#define MAX_BAD_SHOWN 100
/* The progress bar is redrawn at most this often. */
#define PROGRESS_NS 100000000L

struct progress {
	const char *name;
	bool on;
	int64_t size; /* bytes of the file, 0 when unknown (a pipe) */
	int64_t read;
	struct timespec drawn;
};

static void progress_draw(struct progress *p, int64_t records, bool force)
{
	if (!p->on)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long elapsed =
	    (now.tv_sec - p->drawn.tv_sec) * 1000000000L + now.tv_nsec - p->drawn.tv_nsec;
	if (!force && elapsed < PROGRESS_NS)
		return;
	p->drawn = now;
	if (p->size > 0) {
		int pct = (int)(p->read * 100 / p->size);
		char bar[31];
		int filled = pct * 30 / 100;
		memset(bar, '#', (size_t)filled);
		memset(bar + filled, '.', (size_t)(30 - filled));
		bar[30] = '\0';
		fprintf(stderr, "\r%s [%s] %3d%% %" PRId64 " lines", p->name, bar, pct, records);
	} else {
		fprintf(stderr, "\r%s %" PRId64 " lines", p->name, records);
	}
	fflush(stderr);
}

/* The records of the file f (name for messages) through imp, after its
 * header; *bad counts the bad lines, *db_ok false when the database
 * failed (err). */
static void import_records(struct cli *cli, const struct registry_import *imp, FILE *f,
                           const char *name, struct progress *prog, int64_t today,
                           struct csv_reader *csv, int64_t *bad, bool *db_ok, struct cd_error *err)
{
	void *item = imp->item;
	bool header = true, stop = false;
	char buf[65536];
	while (!stop) {
		size_t got = fread(buf, 1, sizeof(buf), f);
		bool at_end = got < sizeof(buf);
		prog->read += (int64_t)got;
		for (size_t i = 0; i <= got && !stop; i++) {
			bool record = i < got ? csv_push(csv, buf[i]) : at_end && csv_end(csv);
			if (!record)
				continue;
			struct cd_error line_err;
			cd_error_clear(&line_err);
			bool good = header ? imp->header_check(csv, &line_err)
			                   : imp->parse(csv, today, item, &line_err);
			if (!good) {
				if ((*bad)++ < MAX_BAD_SHOWN)
					fprintf(stderr,
					        "%scoolingctl: %s: %s line %" PRId64 ": %s\n",
					        prog->on ? "\r\033[K" : "", imp->name, name,
					        csv->record_line, line_err.message);
				stop = header; /* without the header nothing reads right */
			} else if (!header && *bad == 0 && *db_ok) {
				/* after a bad line nothing more is sent: it is all rolled back */
				*db_ok = imp->send(cli->conn, csv->record_line, item, err);
			}
			header = false;
			if ((csv->records & 1023) == 0)
				progress_draw(prog, csv->records - 1, false);
		}
		stop = stop || at_end;
	}
}

/* The lines of `refusals show` and `payees show` after the first two: since
 * when the change in force (index f, -1 for none) holds, the evaluation's
 * time and every change of the entry, oldest first. */
void cli_print_registry_changes(const struct refusal_change *c, size_t n, int f, int64_t now)
{
	char t[CLI_TIME_BUF];
	if (f >= 0) {
		cli_local_time(c[f].effective_at, true, t);
		printf("since:        %s (source %s)\n", t, c[f].source);
	} else {
		printf("since:        - (no change in effect yet)\n");
	}
	cli_local_time(now, true, t);
	printf("evaluated_at: %s\n\n", t);
	static const char *const header[] = {"active", "effective_at", "source", "reference",
	                                     "recorded_at"};
	struct cli_table tab;
	static const bool right[] = {false, false, false, false, false};
	cli_table_init(&tab, 5, header, right);
	for (size_t i = 0; i < n; i++) {
		char eff[CLI_TIME_BUF], rec[CLI_TIME_BUF];
		cli_local_time(c[i].effective_at, true, eff);
		cli_local_time(c[i].recorded_at, true, rec);
		const char *row[] = {c[i].active ? "set" : "withdrawn", eff, c[i].source,
		                     c[i].reference ? c[i].reference : "-", rec};
		cli_table_add(&tab, row);
	}
	cli_table_print(&tab);
	cli_table_free(&tab);
}

int cli_registry_import(struct cli *cli, const struct cli_args *a,
                        const struct registry_import *imp)
{
	const char *path = a->arg[0];
	bool from_stdin = strcmp(path, "-") == 0;
	FILE *f = from_stdin ? stdin : fopen(path, "rb");
	if (f == NULL)
		return cli_fail(cli, CLI_FAIL, "cannot open %s", path);
	struct progress prog = {.name = imp->name, .on = isatty(STDERR_FILENO) != 0};
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		prog.size = st.st_size;

	int rc;
	if (!cli_connect(cli, true, &rc)) {
		if (!from_stdin)
			fclose(f);
		return rc;
	}
	struct cd_error err;
	cd_error_clear(&err);
	int64_t today;
	if (!db_local_date(cli->conn, cli->timezone, &today, &err) ||
	    !imp->begin(cli->conn, &err)) {
		if (!from_stdin)
			fclose(f);
		return cli_db_fail(cli, &err);
	}

	struct csv_reader *csv = malloc(sizeof(*csv));
	if (csv == NULL) {
		if (!from_stdin)
			fclose(f);
		return cli_fail(cli, CLI_FAIL, "out of memory");
	}
	csv_init(csv);
	const char *name = from_stdin ? "stdin" : path;
	int64_t bad = 0;
	bool db_ok = true;
	import_records(cli, imp, f, name, &prog, today, csv, &bad, &db_ok, &err);
	bool read_error = ferror(f) != 0;
	if (!from_stdin)
		fclose(f);
	int64_t lines = csv->records > 0 ? csv->records - 1 : 0;
	bool no_header = csv->records == 0;
	free(csv);
	progress_draw(&prog, lines, true);
	if (prog.on)
		fputc('\n', stderr);

	bool commit = db_ok && bad == 0 && !read_error && !no_header;
	int64_t total = 0, added = 0;
	struct cd_error end_err;
	cd_error_clear(&end_err);
	bool ended = imp->end(cli->conn, commit, &total, &added, &end_err);
	if (!db_ok)
		return cli_db_fail(cli, &err);
	if (read_error)
		return cli_fail(cli, CLI_FAIL, "cannot read %s; nothing imported", name);
	if (no_header)
		return cli_fail(cli, CLI_FAIL, "%s line 1: header: must be %s; nothing imported",
		                name, imp->header);
	if (bad > 0)
		return cli_fail(cli, CLI_FAIL, "%" PRId64 " bad line(s) in %s; nothing imported",
		                bad, name);
	if (!ended)
		return cli_db_fail(cli, &end_err);
	printf("imported %" PRId64 " changes (%" PRId64 " new, %" PRId64 " already known)\n", total,
	       added, total - added);
	return CLI_OK;
}

static bool refusal_parse(const struct csv_reader *r, int64_t today, void *item,
                          struct cd_error *err)
{
	return refusal_csv_record(r, today, item, err);
}

static bool refusal_send(PGconn *c, int64_t line, const void *item, struct cd_error *err)
{
	return db_refusal_import_row(c, line, item, err);
}

int cmd_refusals_import(struct cli *cli, const struct cli_args *a)
{
	struct refusal_req q;
	const struct registry_import imp = {.name = "refusals import",
	                                    .header = REFUSAL_CSV_HEADER,
	                                    .item = &q,
	                                    .begin = db_refusal_import_begin,
	                                    .header_check = refusal_csv_header_check,
	                                    .parse = refusal_parse,
	                                    .send = refusal_send,
	                                    .end = db_refusal_import_end};
	return cli_registry_import(cli, a, &imp);
}

int cmd_refusals_show(struct cli *cli, const struct cli_args *a)
{
	const char *iin = a->arg[0];
	bool json = cli_opt(cli, a, "json") != NULL;
	const char *why = NULL;
	/* the rejected input is not echoed: an IIN is personal data */
	if (!iin_valid(iin, &why))
		return cli_usage(cli, "not a valid IIN: %s", why ? why : "invalid");
	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	PGresult *r = db_refusal_get(cli->conn, iin, cli->timezone, &err);
	if (r == NULL)
		return cli_db_fail(cli, &err);
	size_t n;
	struct db_refusal_meta m;
	struct refusal_change *c = db_refusal_rows(r, &n, &m);
	if (m.today_days != TS_NULL && !iin_born_by(iin, m.today_days, &why)) {
		free(c);
		PQclear(r);
		return cli_usage(cli, "not a valid IIN: %s", why);
	}
	if (c == NULL) {
		PQclear(r);
		return cli_fail(cli, CLI_FAIL,
		                "no voluntary refusal was ever recorded for this IIN");
	}
	if (json) {
		json_t *entry = codec_refusal_entry_json(iin, c, n, m.now);
		free(c);
		PQclear(r);
		return cli_print_json(cli, entry);
	}
	int f = refusal_in_force(c, n, m.now);
	printf("borrower_iin: %s\n", iin);
	printf("active:       %s\n", f >= 0 && c[f].active ? "yes: no loan may be paid out" : "no");
	cli_print_registry_changes(c, n, f, m.now);
	free(c);
	PQclear(r);
	return CLI_OK;
}

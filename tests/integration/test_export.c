/*
 * `coolingctl export`, black box: the built binary against a fresh database
 * per test, whose audit events come from coolingctl's own operator commands
 * and from SQL, sealed by db_audit_seal_all(). The CSV is read back with a
 * strict RFC 4180 reader written here, the JSON Lines with jansson, and both
 * are compared with the chain in the database. The --since-last tests kill
 * the exporter part-way (SIGKILL, or the test-only
 * COOLINGD_EXPORT_CRASH_BEFORE_COMMIT) and check that the delivered files
 * together hold every event exactly once.
 */
#include "check_main.h"
#include "support/proc.h"
#include "support/testdb.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timeutil.h"

#define CSV_HEADER     "seq,at,actor,lender,loan_id,type,detail,hash\r\n"
#define CRASH_ENV_NAME "COOLINGD_EXPORT_CRASH_BEFORE_COMMIT"

static const char *ctl_path;

/* coolingctl's environment: no COOLINGD_* database URL, no crash,
 * USER=export-test. */
static const char *const base_env[] = {"COOLINGD_DATABASE_URL", CRASH_ENV_NAME, "USER=export-test",
                                       NULL};

/* ---- running coolingctl ---- */

/* All of the file at path (malloc'd, NUL-terminated) and its length. */
static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	long size = ftell(fp);
	ck_assert_int_ge(size, 0);
	rewind(fp);
	char *buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	size_t n = fread(buf, 1, (size_t)size, fp);
	buf[n] = '\0';
	fclose(fp);
	if (len)
		*len = n;
	return buf;
}

/* Runs coolingctl -c /dev/null --database URL ARGS... with env on top of
 * base_env (NULL: none); free r with proc_run_free(). */
static void ctl_env(struct proc_run *r, const char *const *env, const char *url, ...)
{
	const char *argv[32] = {"coolingctl", "-c", "/dev/null", "--database", url};
	int n = 5;
	va_list ap;
	va_start(ap, url);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	proc_run(r, ctl_path, argv, base_env, env);
}

#define CTL(r, url, ...)          ctl_env(r, NULL, url, __VA_ARGS__, (const char *)NULL)
#define CTL_ENV(r, env, url, ...) ctl_env(r, env, url, __VA_ARGS__, (const char *)NULL)

static void assert_ok(const struct proc_run *r)
{
	ck_assert_msg(r->status == 0, "exit %d; stderr: %s", r->status, r->err);
}

/* CTL, which must succeed; its output is not needed. */
#define CTL_OK(url, ...)                                                                           \
	do {                                                                                       \
		struct proc_run ok_;                                                               \
		CTL(&ok_, url, __VA_ARGS__);                                                       \
		assert_ok(&ok_);                                                                   \
		proc_run_free(&ok_);                                                               \
	} while (0)

static void assert_usage_error(const struct proc_run *r)
{
	ck_assert_msg(r->status == 2, "exit %d, not 2; stderr: %s", r->status, r->err);
	ck_assert_str_eq(r->out, "");
	ck_assert_msg(strncmp(r->err, "coolingctl: export: ", 20) == 0, "stderr: %s", r->err);
	ck_assert_msg(strchr(r->err, '\n') == r->err + strlen(r->err) - 1, "stderr: %s", r->err);
}

/* ---- the database, directly ---- */

/* The chain as export must give it: seq, at (microseconds), actor, lender,
 * loan, type, detail (jsonb text), hash (hex). */
static PGresult *chain(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT c.seq, cd_us(e.at), e.actor, e.lender_id, e.loan_id, "
	                        "e.type, e.detail::text, encode(c.hash, 'hex') FROM audit_chain "
	                        "c JOIN audit_event e ON e.id = c.event_id ORDER BY c.seq");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	return r;
}

static long long watermark(PGconn *c, const char *job)
{
	return testdb_num(
	    c, "SELECT last_seq FROM export_job WHERE name = $1 AND pending_to IS NULL", job, NULL);
}

/*
 * A fresh database with 6 sealed events: three from coolingctl (a lender
 * whose name holds a comma and quotes, a client, an MRP) and three from SQL,
 * one with an actor holding a newline, a comma and quotes (coolingctl
 * refuses control characters in names, so only SQL can write that), and a
 * number jsonb keeps as written (1.10).
 */
static char *trail_database(PGconn **conn)
{
	char *url = testdb_create("export");
	CTL_OK(url, "lender", "add", "BANK1", "--kind", "bank", "--name", "a, \"b\" c");
	CTL_OK(url, "client", "add", "--name", "aud1", "--role", "auditor");
	CTL_OK(url, "mrp", "set", "2027-01-01", "4500");
	PGconn *c = testdb_connect_quiet(url);
	testdb_exec(c, "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) VALUES "
	               "(E'night shift\\nops, \"Ann\"', 'BANK1', 'LN,1', 'cancelled', "
	               "  '{\"reason\": \"передумал\\r\\nпозже\"}'), "
	               "('core1', 'BANK1', 'LN-2', 'approval_recorded', '{\"amount\": 1.10}'), "
	               "('core1', NULL, NULL, 'disbursement_refused', "
	               "  '{\"blockers\": [\"cooling_period_active\"]}')");
	testdb_seal(c);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_chain", NULL), 6);
	*conn = c;
	return url;
}

static void finish(PGconn *c, char *url)
{
	PQfinish(c);
	testdb_drop(url);
	free(url);
}

/* A fresh temporary directory (malloc'd) and its removal. */
static char *temp_dir(void)
{
	char *d = strdup("/tmp/cd_export_dir_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void remove_dir(char *d)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", d);
	free(d);
}

static void in_dir(char *out, size_t size, const char *dir, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---- a strict RFC 4180 reader ----
 *
 * Check reports every ck_assert to its parent process, which is slow
 * on 200 000 rows: the loops below only call ck_abort_msg on a failure. */

struct record {
	char *field[16];
	int n;
};

static void record_free(struct record *rec)
{
	for (int i = 0; i < rec->n; i++)
		free(rec->field[i]);
	rec->n = 0;
}

/* Reads the record at *p: fields separated by commas, quoted ones with
 * doubled quotes inside, ended by CRLF (a bare LF or CR outside quotes is a
 * failure). False at the end of the text. */
static bool csv_next(const char **p, const char *end, struct record *rec)
{
	rec->n = 0;
	if (*p >= end)
		return false;
	for (;;) {
		size_t cap = 64, len = 0;
		char *f = malloc(cap);
		if (f == NULL)
			ck_abort_msg("out of memory");
#define ADD(ch)                                                                                    \
	do {                                                                                       \
		if (len + 2 > cap)                                                                 \
			f = realloc(f, cap *= 2);                                                  \
		f[len++] = (ch);                                                                   \
	} while (0)
		if (**p == '"') {
			(*p)++;
			for (;;) {
				if (*p >= end)
					ck_abort_msg("unterminated quoted field");
				if (**p == '"' && *p + 1 < end && (*p)[1] == '"') {
					ADD('"');
					*p += 2;
				} else if (**p == '"') {
					(*p)++;
					break;
				} else {
					ADD(**p);
					(*p)++;
				}
			}
		} else {
			while (*p < end && **p != ',' && **p != '\r' && **p != '\n') {
				if (**p == '"')
					ck_abort_msg("a quote inside an unquoted field");
				ADD(**p);
				(*p)++;
			}
		}
#undef ADD
		f[len] = '\0';
		if (rec->n >= 16)
			ck_abort_msg("more than 16 fields");
		rec->field[rec->n++] = f;
		if (*p < end && **p == ',') {
			(*p)++;
			continue;
		}
		if (!(*p + 1 < end && (*p)[0] == '\r' && (*p)[1] == '\n'))
			ck_abort_msg("a record does not end with CRLF");
		*p += 2;
		return true;
	}
}

/* The seqs of a CSV export file (header checked), in file order. */
static long long *csv_seqs(const char *path, size_t *n)
{
	size_t len;
	char *text = read_file(path, &len);
	const char *p = text, *end = text + len;
	ck_assert_msg(strncmp(text, CSV_HEADER, strlen(CSV_HEADER)) == 0, "%s: no header", path);
	p += strlen(CSV_HEADER);
	size_t cap = 1024;
	long long *seqs = malloc(cap * sizeof(*seqs));
	*n = 0;
	struct record rec;
	while (csv_next(&p, end, &rec)) {
		if (rec.n != 8)
			ck_abort_msg("%s: a record of %d fields", path, rec.n);
		if (*n == cap)
			seqs = realloc(seqs, (cap *= 2) * sizeof(*seqs));
		seqs[(*n)++] = atoll(rec.field[0]);
		record_free(&rec);
	}
	free(text);
	return seqs;
}

/* sha256sum -c FILE.sha256, run in FILE's directory; true when it passes. */
static bool sha256sum_ok(const char *dir, const char *name)
{
	char cmd[PATH_MAX + 128];
	snprintf(cmd, sizeof(cmd), "cd '%s' && sha256sum --quiet -c '%s.sha256' >/dev/null 2>&1",
	         dir, name);
	return system(cmd) == 0;
}

/* ---- CSV and JSON Lines ---- */

START_TEST(test_csv_has_header_crlf_and_rfc4180_quoting_and_parses_back_to_the_chain)
{
	PGconn *c;
	char *url = trail_database(&c);
	char *dir = temp_dir(), out[PATH_MAX];
	in_dir(out, sizeof(out), dir, "audit.csv");
	struct proc_run r;
	CTL(&r, url, "export", "--format", "csv", "--output", out);
	assert_ok(&r);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "exported 6 events (seq 1..6) to %s\n", out);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, "");
	proc_run_free(&r);

	size_t len;
	char *text = read_file(out, &len);
	ck_assert_msg(strncmp(text, CSV_HEADER, strlen(CSV_HEADER)) == 0, "header: %.80s", text);
	/* the exact quoting of the awkward fields */
	ck_assert_msg(strstr(text, ",\"{\"\"kind\"\": \"\"bank\"\", \"\"name\"\": \"\"a, "
	                           "\\\"\"b\\\"\" c\"\"}\",") != NULL,
	              "lender name not quoted as expected: %s", text);
	ck_assert_msg(
	    strstr(text, ",\"night shift\nops, \"\"Ann\"\"\",BANK1,\"LN,1\",cancelled,") != NULL,
	    "actor not quoted as expected: %s", text);
	ck_assert_msg(strstr(text, ",{},") == NULL && strstr(text, "\r\n6,") != NULL,
	              "unquoted fields or line ends: %s", text);

	PGresult *ch = chain(c);
	const char *p = text + strlen(CSV_HEADER), *end = text + len;
	struct record rec;
	int rows = 0;
	while (csv_next(&p, end, &rec)) {
		ck_assert_int_lt(rows, PQntuples(ch));
		ck_assert_int_eq(rec.n, 8);
		char at[TS_BUF];
		ts_format_utc(atoll(PQgetvalue(ch, rows, 1)), at);
		ck_assert_str_eq(rec.field[0], PQgetvalue(ch, rows, 0));
		ck_assert_str_eq(rec.field[1], at);
		for (int col = 2; col < 8; col++) /* NULL reads back as "" */
			ck_assert_str_eq(rec.field[col], PQgetvalue(ch, rows, col));
		record_free(&rec);
		rows++;
	}
	ck_assert_int_eq(rows, PQntuples(ch));
	PQclear(ch);
	free(text);
	remove_dir(dir);
	finish(c, url);
}
END_TEST

START_TEST(test_without_output_or_with_dash_the_export_goes_to_stdout)
{
	PGconn *c;
	char *url = trail_database(&c);
	char *dir = temp_dir(), out[PATH_MAX];
	in_dir(out, sizeof(out), dir, "audit.csv");
	struct proc_run plain, dash, file;
	CTL(&plain, url, "export", "--format", "csv");
	assert_ok(&plain);
	CTL(&dash, url, "export", "--output", "-");
	assert_ok(&dash);
	CTL(&file, url, "export", "--output", out);
	assert_ok(&file);
	size_t len;
	char *text = read_file(out, &len);
	ck_assert_uint_eq(plain.out_len, len);
	ck_assert(memcmp(plain.out, text, len) == 0);
	ck_assert_uint_eq(dash.out_len, len);
	ck_assert(memcmp(dash.out, text, len) == 0);
	ck_assert_str_eq(plain.err, "exported 6 events (seq 1..6) to standard output\n");
	ck_assert(!exists(out) || strcmp(file.out, "") == 0);
	free(text);
	proc_run_free(&plain);
	proc_run_free(&dash);
	proc_run_free(&file);
	remove_dir(dir);
	finish(c, url);
}
END_TEST

START_TEST(test_jsonl_lines_parse_with_jansson_and_match_the_chain)
{
	PGconn *c;
	char *url = trail_database(&c);
	struct proc_run r;
	CTL(&r, url, "export", "--format", "jsonl");
	assert_ok(&r);
	PGresult *ch = chain(c);
	static const char *const keys[] = {"seq",     "at",   "actor",  "lender",
	                                   "loan_id", "type", "detail", "hash"};
	int rows = 0;
	for (char *line = r.out, *nl; *line; line = nl + 1, rows++) {
		nl = strchr(line, '\n');
		ck_assert_msg(nl != NULL, "the last line has no newline");
		*nl = '\0';
		ck_assert_int_lt(rows, PQntuples(ch));
		json_error_t jerr;
		json_t *e = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		ck_assert_msg(e != NULL, "line %d: %s: %s", rows + 1, jerr.text, line);
		ck_assert_uint_eq(json_object_size(e), 8);
		const char *key;
		json_t *v;
		int k = 0;
		json_object_foreach(e, key, v)
		{
			ck_assert_str_eq(key, keys[k]);
			k++;
		}
		ck_assert_int_eq(json_integer_value(json_object_get(e, "seq")),
		                 atoll(PQgetvalue(ch, rows, 0)));
		char at[TS_BUF];
		ts_format_utc(atoll(PQgetvalue(ch, rows, 1)), at);
		ck_assert_str_eq(json_string_value(json_object_get(e, "at")), at);
		ck_assert(at[strlen(at) - 1] == 'Z');
		ck_assert_str_eq(json_string_value(json_object_get(e, "actor")),
		                 PQgetvalue(ch, rows, 2));
		for (int col = 3; col <= 4; col++) {
			json_t *s = json_object_get(e, keys[col]);
			if (PQgetisnull(ch, rows, col))
				ck_assert(json_is_null(s));
			else
				ck_assert_str_eq(json_string_value(s), PQgetvalue(ch, rows, col));
		}
		ck_assert_str_eq(json_string_value(json_object_get(e, "type")),
		                 PQgetvalue(ch, rows, 5));
		json_t *detail = json_loads(PQgetvalue(ch, rows, 6), 0, &jerr);
		ck_assert(json_is_object(json_object_get(e, "detail")));
		ck_assert(json_equal(json_object_get(e, "detail"), detail));
		json_decref(detail);
		ck_assert_str_eq(json_string_value(json_object_get(e, "hash")),
		                 PQgetvalue(ch, rows, 7));
		json_decref(e);
		*nl = '\n';
	}
	ck_assert_int_eq(rows, PQntuples(ch));
	/* compact, and numbers as the database keeps them */
	ck_assert_ptr_nonnull(strstr(r.out, ",\"detail\":{\"tenge\":4500,\"valid_from\":\"2027-01-"
	                                    "01\"},"));
	ck_assert_ptr_nonnull(strstr(r.out, ",\"detail\":{\"amount\":1.10},"));
	ck_assert_ptr_nonnull(strstr(r.out, "{\"seq\":6,"));
	PQclear(ch);
	proc_run_free(&r);
	finish(c, url);
}
END_TEST

START_TEST(test_from_is_inclusive_and_to_exclusive_on_the_event_time)
{
	char *url = testdb_create("export");
	PGconn *c = testdb_connect_quiet(url);
	/* ten events, one an hour from 2026-03-01T00:00Z */
	testdb_exec(c, "INSERT INTO audit_event (at, actor, type) SELECT '2026-03-01T00:00:00Z'::"
	               "timestamptz + g * interval '1 hour', 'core1', 'mrp_set' "
	               "FROM generate_series(0, 9) g ORDER BY g");
	testdb_seal(c);
	struct proc_run r;
	/* 08:00+05:00 is 03:00Z: hours 3, 4 and 5, not 6 */
	CTL(&r, url, "export", "--from", "2026-03-01T08:00:00+05:00", "--to",
	    "2026-03-01T06:00:00Z");
	assert_ok(&r);
	ck_assert_str_eq(r.err, "exported 3 events (seq 4..6) to standard output\n");
	ck_assert_ptr_nonnull(strstr(r.out, "\r\n4,2026-03-01T03:00:00Z,"));
	ck_assert_ptr_nonnull(strstr(r.out, "\r\n6,2026-03-01T05:00:00Z,"));
	ck_assert_ptr_null(strstr(r.out, "T06:00:00Z"));
	proc_run_free(&r);

	CTL(&r, url, "export", "--format", "jsonl", "--from", "2026-03-01T07:00:00Z");
	assert_ok(&r);
	ck_assert_str_eq(r.err, "exported 3 events (seq 8..10) to standard output\n");
	proc_run_free(&r);

	CTL(&r, url, "export", "--to", "2026-03-01T00:00:00Z");
	assert_ok(&r);
	ck_assert_str_eq(r.out, CSV_HEADER);
	ck_assert_str_eq(r.err, "exported 0 events to standard output\n");
	proc_run_free(&r);
	finish(c, url);
}
END_TEST

START_TEST(test_committed_but_unsealed_events_are_sealed_and_exported)
{
	PGconn *c;
	char *url = trail_database(&c);
	testdb_exec(c, "INSERT INTO audit_event (actor, type) VALUES ('core1', 'mrp_set')");
	struct proc_run r;
	CTL(&r, url, "export", "--format", "jsonl");
	assert_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.out, "{\"seq\":7,"));
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_chain", NULL), 7);
	proc_run_free(&r);
	finish(c, url);
}
END_TEST

START_TEST(test_bad_options_are_usage_errors_before_any_connection)
{
	/* nothing listens there: a connection attempt would exit 3 */
	const char *url = "postgresql://nobody@127.0.0.1:1/none";
	struct proc_run r;
	CTL(&r, url, "export", "--format", "xml");
	assert_usage_error(&r);
	proc_run_free(&r);
	CTL(&r, url, "export", "--from", "yesterday");
	assert_usage_error(&r);
	proc_run_free(&r);
	CTL(&r, url, "export", "--from", "2026-01-01T00:00:00", "--to", "2026-01-02T00:00:00Z");
	assert_usage_error(&r); /* no offset */
	proc_run_free(&r);
	CTL(&r, url, "export", "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z");
	assert_usage_error(&r);
	proc_run_free(&r);
	CTL(&r, url, "export", "--since-last", "nightly");
	assert_usage_error(&r);
	proc_run_free(&r);
	CTL(&r, url, "export", "--since-last", "nightly", "--output", "-");
	assert_usage_error(&r);
	proc_run_free(&r);
	CTL(&r, url, "export", "--since-last", "night ly", "--output", "/tmp/x.csv");
	assert_usage_error(&r);
	proc_run_free(&r);
	CTL(&r, url, "export", "--since-last", "nightly", "--output", "/tmp/x.csv", "--from",
	    "2026-01-01T00:00:00Z");
	assert_usage_error(&r);
	proc_run_free(&r);
	CTL(&r, url, "export", "extra");
	assert_usage_error(&r);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_progress_bar_is_drawn_on_a_terminal_and_not_into_a_pipe)
{
	PGconn *c;
	char *url = trail_database(&c);
	char *dir = temp_dir(), out[PATH_MAX];
	in_dir(out, sizeof(out), dir, "audit.csv");

	struct proc_run r;
	CTL(&r, url, "export", "--output", out);
	assert_ok(&r);
	ck_assert_ptr_null(strchr(r.err, '\r'));
	ck_assert_ptr_null(strchr(r.err, '%'));
	proc_run_free(&r);

	const char *argv[] = {"coolingctl", "-c",       "/dev/null", "--database", url,
	                      "export",     "--output", out,         NULL};
	int master;
	fflush(NULL);
	pid_t pid = forkpty(&master, NULL, NULL, NULL);
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		proc_exec(ctl_path, argv, base_env);
	char buf[4096];
	size_t got = 0;
	ssize_t k;
	while (got + 1 < sizeof(buf) && (k = read(master, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)k;
	buf[got] = '\0';
	close(master);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_msg(strstr(buf, "\rexport [") != NULL && strstr(buf, "100% 6/6 events") != NULL,
	              "no progress bar on the terminal: %s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "exported 6 events (seq 1..6)"));
	remove_dir(dir);
	finish(c, url);
}
END_TEST

/* ---- --since-last ---- */

START_TEST(test_since_last_second_run_exports_only_the_events_added_since)
{
	PGconn *c;
	char *url = trail_database(&c);
	char *dir = temp_dir(), f1[PATH_MAX], f2[PATH_MAX], f3[PATH_MAX];
	in_dir(f1, sizeof(f1), dir, "a1.csv");
	in_dir(f2, sizeof(f2), dir, "a2.jsonl");
	in_dir(f3, sizeof(f3), dir, "a3.csv");
	struct proc_run r;
	CTL(&r, url, "export", "--since-last", "nightly", "--output", f1);
	assert_ok(&r);
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "exported 6 events (seq 1..6) to %s\n", f1);
	ck_assert_str_eq(r.err, want);
	proc_run_free(&r);
	ck_assert_int_eq(watermark(c, "nightly"), 6);

	CTL_OK(url, "mrp", "set", "2028-01-01", "4700");
	CTL_OK(url, "client", "revoke", "aud1");
	CTL(&r, url, "export", "--since-last", "nightly", "--output", f2, "--format", "jsonl");
	assert_ok(&r);
	snprintf(want, sizeof(want), "exported 2 events (seq 7..8) to %s\n", f2);
	ck_assert_str_eq(r.err, want);
	proc_run_free(&r);
	ck_assert_int_eq(watermark(c, "nightly"), 8);

	size_t n;
	long long *seqs = csv_seqs(f1, &n);
	ck_assert_uint_eq(n, 6);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(seqs[i], (long long)i + 1);
	free(seqs);
	char *text = read_file(f2, NULL);
	ck_assert_ptr_eq(strstr(text, "{\"seq\":7,"), text);
	ck_assert_ptr_nonnull(strstr(text, "\n{\"seq\":8,"));
	ck_assert_ptr_null(strstr(text, "\"seq\":6,"));
	ck_assert_ptr_nonnull(strstr(text, "\"type\":\"client_revoked\""));
	free(text);

	/* nothing new: an empty file (the header only), success */
	CTL(&r, url, "export", "--since-last", "nightly", "--output", f3);
	assert_ok(&r);
	snprintf(want, sizeof(want), "exported 0 events to %s (none after seq 8)\n", f3);
	ck_assert_str_eq(r.err, want);
	proc_run_free(&r);
	text = read_file(f3, NULL);
	ck_assert_str_eq(text, CSV_HEADER);
	free(text);
	ck_assert(sha256sum_ok(dir, "a3.csv"));
	ck_assert_int_eq(watermark(c, "nightly"), 8);

	/* another job has its own watermark */
	CTL_OK(url, "export", "--since-last", "weekly", "--output", f3);
	ck_assert_int_eq(watermark(c, "weekly"), 8);
	remove_dir(dir);
	finish(c, url);
}
END_TEST

START_TEST(test_since_last_sha256_file_is_accepted_by_sha256sum_c_in_its_directory)
{
	PGconn *c;
	char *url = trail_database(&c);
	char *dir = temp_dir(), f[PATH_MAX], sums[PATH_MAX + 8];
	in_dir(f, sizeof(f), dir, "audit.csv");
	snprintf(sums, sizeof(sums), "%s.sha256", f);
	CTL_OK(url, "export", "--since-last", "nightly", "--output", f);
	char *line = read_file(sums, NULL);
	ck_assert_uint_eq(strlen(line), 64 + 2 + strlen("audit.csv") + 1);
	ck_assert_str_eq(line + 64, "  audit.csv\n");
	free(line);
	ck_assert(sha256sum_ok(dir, "audit.csv"));
	/* and it does notice a change */
	FILE *fp = fopen(f, "a");
	fputs("7,forged\r\n", fp);
	fclose(fp);
	ck_assert(!sha256sum_ok(dir, "audit.csv"));
	remove_dir(dir);
	finish(c, url);
}
END_TEST

/* The seqs of every delivered file in dir (one whose .sha256 passes),
 * checked to be 1..max each exactly once. */
static void assert_delivered_exactly_once(const char *dir, const char *const *names, long long max)
{
	char *seen = calloc((size_t)max + 1, 1);
	ck_assert_ptr_nonnull(seen);
	for (int i = 0; names[i]; i++) {
		char path[PATH_MAX];
		in_dir(path, sizeof(path), dir, names[i]);
		if (!exists(path))
			continue;
		ck_assert_msg(sha256sum_ok(dir, names[i]), "%s is there without valid sums", path);
		size_t n;
		long long *seqs = csv_seqs(path, &n);
		for (size_t k = 0; k < n; k++) {
			if (seqs[k] < 1 || seqs[k] > max)
				ck_abort_msg("seq %lld out of range", seqs[k]);
			if (seen[seqs[k]])
				ck_abort_msg("seq %lld delivered twice", seqs[k]);
			seen[seqs[k]] = 1;
		}
		free(seqs);
	}
	for (long long s = 1; s <= max; s++)
		if (!seen[s])
			ck_abort_msg("seq %lld never delivered", s);
	free(seen);
}

START_TEST(test_export_killed_midway_is_redone_and_every_event_is_delivered_exactly_once)
{
	char *url = testdb_create("export");
	PGconn *c = testdb_connect_quiet(url);
	/* enough that writing takes far longer than the kill needs */
	testdb_exec(c, "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) "
	               "SELECT 'core1', 'BANK1', 'LN-' || g, 'disbursement_refused', "
	               "jsonb_build_object('blockers', jsonb_build_array('cooling_period_active'), "
	               "'amount_tiyn', g * 100, 'note', repeat('x', 40)) "
	               "FROM generate_series(1, 200000) g");
	testdb_seal(c);
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_chain", NULL), 200000);

	char *dir = temp_dir(), f1[PATH_MAX], tmp1[PATH_MAX + 8], f2[PATH_MAX];
	in_dir(f1, sizeof(f1), dir, "part1.csv");
	in_dir(f2, sizeof(f2), dir, "part2.csv");
	snprintf(tmp1, sizeof(tmp1), "%s.tmp", f1);

	const char *argv[] = {"coolingctl",   "-c",     "/dev/null", "--database", url, "export",
	                      "--since-last", "crashy", "--output",  f1,           NULL};
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDWR);
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		dup2(null_fd, STDERR_FILENO);
		proc_exec(ctl_path, argv, base_env);
	}
	/* Kill it once it is well into writing FILE.tmp (a fixed delay would
	 * race with the machine's speed). */
	struct stat sb;
	bool killed = false;
	for (int waited = 0; waited < 20000; waited++) {
		if (stat(tmp1, &sb) == 0 && sb.st_size >= 512 * 1024) {
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		int st;
		ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0,
		              "the export ended before it could be killed");
		struct timespec ms = {0, 1000000L};
		nanosleep(&ms, NULL);
	}
	ck_assert_msg(killed, "the export never wrote 512 KiB");
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_msg(!exists(f1), "the killed run's file was moved into place");
	ck_assert_int_eq(
	    testdb_num(c, "SELECT pending_to FROM export_job WHERE name = 'crashy'", NULL), 200000);
	ck_assert_int_eq(
	    testdb_num(c, "SELECT last_seq FROM export_job WHERE name = 'crashy'", NULL), 0);

	/* more events meanwhile: they must not be lost either */
	testdb_exec(c, "INSERT INTO audit_event (actor, type) SELECT 'core1', 'mrp_set' "
	               "FROM generate_series(1, 5)");
	testdb_seal(c);
	struct proc_run r;
	CTL(&r, url, "export", "--since-last", "crashy", "--output", f2);
	assert_ok(&r);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "exported 200005 events (seq 1..200005) to %s\n", f2);
	ck_assert_str_eq(r.err, want);
	proc_run_free(&r);
	ck_assert_msg(!exists(tmp1), "the killed run's temporary file was left behind");
	ck_assert_int_eq(watermark(c, "crashy"), 200005);
	const char *names[] = {"part1.csv", "part2.csv", NULL};
	assert_delivered_exactly_once(dir, names, 200005);

	/* and a run after that delivers nothing twice */
	char f3[PATH_MAX];
	in_dir(f3, sizeof(f3), dir, "part3.csv");
	CTL_OK(url, "export", "--since-last", "crashy", "--output", f3);
	const char *all[] = {"part1.csv", "part2.csv", "part3.csv", NULL};
	assert_delivered_exactly_once(dir, all, 200005);
	remove_dir(dir);
	finish(c, url);
}
END_TEST

START_TEST(test_crash_after_the_file_before_the_commit_does_not_deliver_it_again)
{
	PGconn *c;
	char *url = trail_database(&c);
	char *dir = temp_dir(), f1[PATH_MAX], f2[PATH_MAX];
	in_dir(f1, sizeof(f1), dir, "d1.csv");
	in_dir(f2, sizeof(f2), dir, "d2.csv");
	const char *crash[] = {CRASH_ENV_NAME "=1", NULL};
	struct proc_run r;
	CTL_ENV(&r, crash, url, "export", "--since-last", "nightly", "--output", f1);
	ck_assert_int_eq(r.status, 1);
	proc_run_free(&r);
	/* written and synced, but the watermark did not move */
	ck_assert(sha256sum_ok(dir, "d1.csv"));
	ck_assert_int_eq(
	    testdb_num(c, "SELECT pending_to FROM export_job WHERE name = 'nightly'", NULL), 6);
	ck_assert_int_eq(
	    testdb_num(c, "SELECT last_seq FROM export_job WHERE name = 'nightly'", NULL), 0);
	size_t len1;
	char *before = read_file(f1, &len1);

	CTL_OK(url, "mrp", "set", "2028-01-01", "4700");
	CTL(&r, url, "export", "--since-last", "nightly", "--output", f2);
	assert_ok(&r);
	ck_assert_msg(strstr(r.err, "exported 1 events (seq 7..7) to ") == r.err &&
	                  strstr(r.err, "found complete and committed") != NULL,
	              "stderr: %s", r.err);
	proc_run_free(&r);
	ck_assert_int_eq(watermark(c, "nightly"), 7);
	size_t n;
	long long *seqs = csv_seqs(f2, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(seqs[0], 7);
	free(seqs);
	/* the first delivery is untouched */
	size_t len2;
	char *after = read_file(f1, &len2);
	ck_assert(len1 == len2 && memcmp(before, after, len1) == 0);
	ck_assert(sha256sum_ok(dir, "d1.csv"));
	const char *names[] = {"d1.csv", "d2.csv", NULL};
	assert_delivered_exactly_once(dir, names, 7);
	free(before);
	free(after);
	remove_dir(dir);
	finish(c, url);
}
END_TEST

START_TEST(test_crash_before_the_commit_then_a_run_to_the_same_file_keeps_it_and_commits)
{
	PGconn *c;
	char *url = trail_database(&c);
	char *dir = temp_dir(), f[PATH_MAX];
	in_dir(f, sizeof(f), dir, "daily.csv");
	const char *crash[] = {CRASH_ENV_NAME "=1", NULL};
	struct proc_run r;
	CTL_ENV(&r, crash, url, "export", "--since-last", "daily", "--output", f);
	ck_assert_int_eq(r.status, 1);
	proc_run_free(&r);
	size_t len1;
	char *before = read_file(f, &len1);
	CTL_OK(url, "mrp", "set", "2028-01-01", "4700");

	/* A fixed file name: the file may not have been collected yet, so
	 * this run only commits it; the new event goes with the next run. */
	CTL(&r, url, "export", "--since-last", "daily", "--output", f);
	assert_ok(&r);
	ck_assert_ptr_nonnull(strstr(r.err, "was complete from an interrupted run"));
	proc_run_free(&r);
	ck_assert_int_eq(watermark(c, "daily"), 6);
	size_t len2;
	char *after = read_file(f, &len2);
	ck_assert(len1 == len2 && memcmp(before, after, len1) == 0);
	ck_assert(sha256sum_ok(dir, "daily.csv"));

	CTL_OK(url, "export", "--since-last", "daily", "--output", f);
	ck_assert_int_eq(watermark(c, "daily"), 7);
	size_t n;
	long long *seqs = csv_seqs(f, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(seqs[0], 7);
	free(seqs);
	free(before);
	free(after);
	remove_dir(dir);
	finish(c, url);
}
END_TEST

/* The start of the pending-file tests: a trail_database() and a temp_dir()
 * where a run of job "nightly" to f1 (d1.csv) wrote the file and its sums
 * and died before committing seq 1..6; then one more event (seq 7). f2
 * (d2.csv) is for the next run. */
struct pending {
	PGconn *c;
	char *url, *dir;
	char f1[PATH_MAX], f2[PATH_MAX];
};

static void pending_setup(struct pending *p)
{
	p->url = trail_database(&p->c);
	p->dir = temp_dir();
	in_dir(p->f1, sizeof(p->f1), p->dir, "d1.csv");
	in_dir(p->f2, sizeof(p->f2), p->dir, "d2.csv");
	const char *crash[] = {CRASH_ENV_NAME "=1", NULL};
	struct proc_run r;
	CTL_ENV(&r, crash, p->url, "export", "--since-last", "nightly", "--output", p->f1);
	ck_assert_int_eq(r.status, 1);
	proc_run_free(&r);
	CTL_OK(p->url, "mrp", "set", "2028-01-01", "4700");
}

static void pending_finish(struct pending *p)
{
	remove_dir(p->dir);
	finish(p->c, p->url);
}

START_TEST(test_pending_file_without_its_sums_is_not_delivered_and_goes_into_the_next_file)
{
	struct pending p;
	pending_setup(&p);
	/* as if it had died between renaming the file and writing its sums */
	char sums[PATH_MAX + 8];
	snprintf(sums, sizeof(sums), "%s.sha256", p.f1);
	ck_assert_int_eq(unlink(sums), 0);

	struct proc_run r;
	CTL(&r, p.url, "export", "--since-last", "nightly", "--output", p.f2);
	assert_ok(&r);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "exported 7 events (seq 1..7) to %s\n", p.f2);
	ck_assert_str_eq(r.err, want);
	proc_run_free(&r);
	ck_assert_int_eq(watermark(p.c, "nightly"), 7);
	/* the undelivered file is gone, so nobody can take it twice */
	ck_assert(!exists(p.f1));
	const char *names[] = {"d1.csv", "d2.csv", NULL};
	assert_delivered_exactly_once(p.dir, names, 7);
	pending_finish(&p);
}
END_TEST

START_TEST(test_pending_file_whose_sums_were_written_but_not_renamed_counts_as_delivered)
{
	struct pending p;
	pending_setup(&p);
	/* as if it had died between writing FILE.sha256.tmp and renaming it */
	char sums[PATH_MAX + 8], tmp[PATH_MAX + 16];
	snprintf(sums, sizeof(sums), "%s.sha256", p.f1);
	snprintf(tmp, sizeof(tmp), "%s.sha256.tmp", p.f1);
	ck_assert_int_eq(rename(sums, tmp), 0);

	struct proc_run r;
	CTL(&r, p.url, "export", "--since-last", "nightly", "--output", p.f2);
	assert_ok(&r);
	ck_assert_msg(strstr(r.err, "exported 1 events (seq 7..7) to ") == r.err, "stderr: %s",
	              r.err);
	proc_run_free(&r);
	ck_assert_int_eq(watermark(p.c, "nightly"), 7);
	ck_assert(!exists(tmp));
	const char *names[] = {"d1.csv", "d2.csv", NULL};
	assert_delivered_exactly_once(p.dir, names, 7);
	pending_finish(&p);
}
END_TEST

START_TEST(test_a_changed_pending_file_is_not_taken_as_delivered)
{
	struct pending p;
	pending_setup(&p);
	/* the sums no longer match: this is not the file the run wrote */
	FILE *fp = fopen(p.f1, "w");
	fputs(CSV_HEADER, fp);
	fclose(fp);
	struct proc_run r;
	CTL(&r, p.url, "export", "--since-last", "nightly", "--output", p.f2);
	assert_ok(&r);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "exported 7 events (seq 1..7) to %s\n", p.f2);
	ck_assert_str_eq(r.err, want);
	proc_run_free(&r);
	ck_assert_int_eq(watermark(p.c, "nightly"), 7);
	pending_finish(&p);
}
END_TEST

/* ---- fixture ---- */

static void setup(void)
{
	ctl_path = test_bin("coolingctl");
}

static Suite *export_suite(void)
{
	Suite *s = suite_create("export");
	TCase *tc = tcase_create("formats");
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc,
	               test_csv_has_header_crlf_and_rfc4180_quoting_and_parses_back_to_the_chain);
	tcase_add_test(tc, test_without_output_or_with_dash_the_export_goes_to_stdout);
	tcase_add_test(tc, test_jsonl_lines_parse_with_jansson_and_match_the_chain);
	tcase_add_test(tc, test_from_is_inclusive_and_to_exclusive_on_the_event_time);
	tcase_add_test(tc, test_committed_but_unsealed_events_are_sealed_and_exported);
	tcase_add_test(tc, test_bad_options_are_usage_errors_before_any_connection);
	tcase_add_test(tc, test_progress_bar_is_drawn_on_a_terminal_and_not_into_a_pipe);
	suite_add_tcase(s, tc);

	TCase *since = tcase_create("since_last");
	tcase_add_unchecked_fixture(since, setup, NULL);
	tcase_set_timeout(since, 240);
	tcase_add_test(since, test_since_last_second_run_exports_only_the_events_added_since);
	tcase_add_test(since,
	               test_since_last_sha256_file_is_accepted_by_sha256sum_c_in_its_directory);
	tcase_add_test(
	    since, test_export_killed_midway_is_redone_and_every_event_is_delivered_exactly_once);
	tcase_add_test(since,
	               test_crash_after_the_file_before_the_commit_does_not_deliver_it_again);
	tcase_add_test(
	    since, test_crash_before_the_commit_then_a_run_to_the_same_file_keeps_it_and_commits);
	tcase_add_test(
	    since, test_pending_file_without_its_sums_is_not_delivered_and_goes_into_the_next_file);
	tcase_add_test(
	    since, test_pending_file_whose_sums_were_written_but_not_renamed_counts_as_delivered);
	tcase_add_test(since, test_a_changed_pending_file_is_not_taken_as_delivered);
	suite_add_tcase(s, since);
	return s;
}

CD_CHECK_MAIN(export_suite)

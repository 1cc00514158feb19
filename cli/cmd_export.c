/*
 * coolingctl export: the sealed audit trail as CSV (RFC 4180) or JSON Lines,
 * streamed row by row so that memory stays flat on any number of events,
 * with a progress bar when stderr is a terminal.
 *
 * With --since-last JOB it is the cron job of an archive: it delivers
 * exactly the events after JOB's watermark (export_job in the database) and
 * survives a crash at any point without repeating or losing an event:
 *
 *   1. the job's pending range, if any, is finished first: when its file is
 *      complete (FILE.sha256 beside it matches) the previous run died just
 *      before committing, so only the watermark moves;
 *   2. the upper bound U (the highest sealed seq) is fixed and recorded as
 *      pending with the file's name, before a byte is written;
 *   3. FILE.tmp is written, synced and renamed to FILE, then FILE.sha256 the
 *      same way, then the directory is synced;
 *   4. only then does the watermark move to U.
 *
 * A file is delivered once its FILE.sha256 exists; docs/export.md has the
 * whole argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_hash.h"
#include "cli.h"
#include "codec.h"
#include "db.h"
#include "timeutil.h"

enum format { FORMAT_CSV, FORMAT_JSONL };

#define CSV_HEADER "seq,at,actor,lender,loan_id,type,detail,hash\r\n"

/* Test-only: makes --since-last die right before it commits the watermark,
 * as a crash would, so that the recovery path can be tested. */
#define CRASH_ENV "COOLINGD_EXPORT_CRASH_BEFORE_COMMIT"

/* How long --since-last waits for another run of the same job (or the
 * database session of a run that just died) to let go of the job. */
#define LOCK_WAIT_MS 10000

/* The progress bar is redrawn at most this often. */
#define PROGRESS_NS 100000000L

/* Where the rows go: a stream, the SHA-256 of everything written (for
 * FILE.sha256), and one reused line buffer. */
struct sink {
	FILE *f;
	EVP_MD_CTX *md; /* NULL: no digest wanted */
	enum format format;
	char *buf;
	size_t len, cap;
	bool oom;
	int werr; /* errno of the first failed write */
	int64_t count, first, last;
	int64_t checkpoints; /* written to FILE.checkpoints */
	/* the progress bar: total is the expected number of rows */
	bool progress;
	int64_t total;
	struct timespec drawn;
};

/* ---- building a line ---- */

static void sink_put_n(struct sink *s, const char *p, size_t n)
{
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n)
			cap *= 2;
		char *b = realloc(s->buf, cap);
		if (b == NULL) {
			s->oom = true;
			return;
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void sink_put(struct sink *s, const char *p)
{
	sink_put_n(s, p, strlen(p));
}

/* An RFC 4180 field: quoted only when it holds a comma, a quote, CR or LF,
 * with quotes doubled. */
static void sink_put_csv(struct sink *s, const char *v)
{
	if (strpbrk(v, ",\"\r\n") == NULL) {
		sink_put(s, v);
		return;
	}
	sink_put_n(s, "\"", 1);
	for (const char *p = v; *p; p++) {
		size_t n = strcspn(p, "\"");
		sink_put_n(s, p, n);
		p += n;
		if (*p == '\0')
			break;
		sink_put_n(s, "\"\"", 2);
	}
	sink_put_n(s, "\"", 1);
}

/* A JSON string. The database is UTF-8, so only '"', '\\' and control
 * characters need escaping. */
static void sink_put_json_string(struct sink *s, const char *v)
{
	sink_put_n(s, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		char esc[8];
		switch (*p) {
		case '"':
			sink_put_n(s, "\\\"", 2);
			break;
		case '\\':
			sink_put_n(s, "\\\\", 2);
			break;
		case '\n':
			sink_put_n(s, "\\n", 2);
			break;
		case '\r':
			sink_put_n(s, "\\r", 2);
			break;
		case '\t':
			sink_put_n(s, "\\t", 2);
			break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				sink_put(s, esc);
			} else {
				sink_put_n(s, (const char *)p, 1);
			}
		}
	}
	sink_put_n(s, "\"", 1);
}

/* jsonb::text without the blanks PostgreSQL puts after ':' and ','. The
 * text is copied, not re-encoded, so numbers keep every digit (a JSON
 * library would turn 1.10 into a double). */
static void sink_put_json_compact(struct sink *s, const char *json)
{
	bool in_string = false;
	const char *run = json;
	for (const char *p = json; *p; p++) {
		if (in_string) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				in_string = false;
		} else if (*p == '"') {
			in_string = true;
		} else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			sink_put_n(s, run, (size_t)(p - run));
			run = p + 1;
		}
	}
	sink_put(s, run);
}

/* ---- writing ---- */

static bool flush_line(struct sink *s)
{
	if (s->oom) {
		s->werr = ENOMEM;
		return false;
	}
	if (s->md != NULL)
		EVP_DigestUpdate(s->md, s->buf, s->len);
	bool ok = fwrite(s->buf, 1, s->len, s->f) == s->len;
	if (!ok)
		s->werr = errno ? errno : EIO;
	s->len = 0;
	return ok;
}

static void progress_draw(struct sink *s, bool force)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long elapsed =
	    (now.tv_sec - s->drawn.tv_sec) * 1000000000L + now.tv_nsec - s->drawn.tv_nsec;
	if (!force && elapsed < PROGRESS_NS)
		return;
	s->drawn = now;
	int pct = s->total > 0 ? (int)(s->count * 100 / s->total) : 100;
	if (pct > 100)
		pct = 100;
	char bar[31];
	int filled = pct * 30 / 100;
	memset(bar, '#', (size_t)filled);
	memset(bar + filled, '.', (size_t)(30 - filled));
	bar[30] = '\0';
	fprintf(stderr, "\rexport [%s] %3d%% %" PRId64 "/%" PRId64 " events", bar, pct, s->count,
	        s->total);
	fflush(stderr);
}

static bool write_header(struct sink *s)
{
	if (s->format != FORMAT_CSV)
		return true;
	sink_put(s, CSV_HEADER);
	return flush_line(s);
}

static bool write_row(const struct db_audit_event *e, void *arg)
{
	struct sink *s = arg;
	int64_t seq = e->seq;
	char at[TS_BUF], num[24];
	ts_format_utc(e->at, at);
	snprintf(num, sizeof(num), "%" PRId64, seq);
	bool has_lender = e->lender != NULL;
	bool has_loan = e->loan_id != NULL;
	const char *actor = e->actor;
	const char *lender = has_lender ? e->lender : "";
	const char *loan = has_loan ? e->loan_id : "";
	const char *type = e->type;
	const char *detail = e->detail;
	const char *hash = e->hash;

	if (s->format == FORMAT_CSV) {
		/* detail stays exactly jsonb::text, the bytes the hash covers;
		 * seq, at and hash never need quoting */
		const char *fields[] = {num, at, actor, lender, loan, type, detail, hash};
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (i > 0)
				sink_put_n(s, ",", 1);
			if (i < 2 || i == 7)
				sink_put(s, fields[i]);
			else
				sink_put_csv(s, fields[i]);
		}
		sink_put_n(s, "\r\n", 2);
	} else {
		/* the fields and order of GET /v1/audit's events */
		sink_put(s, "{\"seq\":");
		sink_put(s, num);
		sink_put(s, ",\"at\":\"");
		sink_put(s, at);
		sink_put(s, "\",\"actor\":");
		sink_put_json_string(s, actor);
		sink_put(s, ",\"lender\":");
		if (has_lender)
			sink_put_json_string(s, lender);
		else
			sink_put(s, "null");
		sink_put(s, ",\"loan_id\":");
		if (has_loan)
			sink_put_json_string(s, loan);
		else
			sink_put(s, "null");
		sink_put(s, ",\"type\":");
		sink_put_json_string(s, type);
		sink_put(s, ",\"detail\":");
		sink_put_json_compact(s, detail);
		sink_put(s, ",\"hash\":\"");
		sink_put(s, hash);
		sink_put(s, "\"}\n");
	}
	if (!flush_line(s))
		return false;
	if (s->count == 0)
		s->first = seq;
	s->last = seq;
	s->count++;
	if (s->progress && (s->count & 255) == 0)
		progress_draw(s, false);
	return true;
}

/* The events of GET /v1/audit (every page) in [from, to) into the sink,
 * as db_audit_stream() gives them: the detail written back as jsonb::text
 * writes it (", " and ": ", keys in the answer's order, which is the
 * stored one), the bytes the hash covers. */
static bool stream_api(struct cli *cli, struct sink *s, int64_t from, int64_t to, int *rc)
{
	int64_t after = 0;
	for (;;) {
		char path[96];
		snprintf(path, sizeof(path), "/v1/audit?after=%" PRId64 "&limit=1000", after);
		json_t *o = cli_api_call(cli, "GET", path, NULL, rc);
		if (o == NULL)
			return false;
		json_t *events = json_object_get(o, "events");
		size_t i, n = json_array_size(events);
		json_t *e;
		bool ok = true;
		json_array_foreach(events, i, e)
		{
			const char *why = NULL;
			struct db_audit_event ev = {
			    .seq = json_integer_value(json_object_get(e, "seq")),
			    .actor = json_string_value(json_object_get(e, "actor")),
			    .lender = json_string_value(json_object_get(e, "lender")),
			    .loan_id = json_string_value(json_object_get(e, "loan_id")),
			    .type = json_string_value(json_object_get(e, "type")),
			    .hash = json_string_value(json_object_get(e, "hash"))};
			after = ev.seq;
			const char *at = json_string_value(json_object_get(e, "at"));
			if (at == NULL || !ts_parse_rfc3339(at, &ev.at, &why) || ev.actor == NULL ||
			    ev.type == NULL || ev.hash == NULL) {
				*rc =
				    cli_fail(cli, CLI_FAIL,
				             "the API's event %" PRId64 " is not readable", ev.seq);
				ok = false;
				break;
			}
			if ((from != TS_NULL && ev.at < from) || (to != TS_NULL && ev.at >= to))
				continue;
			char *detail = json_dumps(json_object_get(e, "detail"), 0);
			ev.detail = detail ? detail : "{}";
			ok = write_row(&ev, s);
			free(detail);
			if (!ok) {
				*rc =
				    cli_fail(cli, CLI_FAIL, "cannot write: %s", strerror(s->werr));
				break;
			}
		}
		json_decref(o);
		if (!ok)
			return false;
		if (n < 1000)
			return true;
	}
}

/* Streams the events of the filter into the sink. On false, *write_errno
 * is set when writing (not the database) failed. */
static bool stream(struct cli *cli, struct sink *s, int64_t from, int64_t to, int64_t after,
                   int64_t upto, int *write_errno, struct cd_error *err)
{
	*write_errno = 0;
	if (!write_header(s)) {
		*write_errno = s->werr;
		return false;
	}
	/* upto 0 would mean "no upper bound": nothing was sealed in range */
	if (upto <= after)
		return true;
	bool ok = db_audit_stream(cli->conn, from, to, after, upto, write_row, s, err);
	if (!ok)
		*write_errno = s->werr;
	if (s->progress) {
		if (ok)
			progress_draw(s, true);
		fputs("\r\033[K", stderr); /* the bar goes; the summary follows */
	}
	return ok;
}

/* ---- files ---- */

static bool fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0 || errno == EINVAL; /* some filesystems cannot */
	close(fd);
	return ok;
}

/* The absolute path of file (its directory resolved, which must exist),
 * and that directory. */
static bool resolve_path(const char *file, char *abs, size_t abs_size, char *dir, size_t dir_size,
                         const char **why)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (snprintf(a, sizeof(a), "%s", file) >= (int)sizeof(a) ||
	    snprintf(b, sizeof(b), "%s", file) >= (int)sizeof(b)) {
		*why = "the path is too long";
		return false;
	}
	const char *base = basename(a);
	if (file[strlen(file) - 1] == '/' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    strcmp(base, "/") == 0) {
		*why = "names a directory, not a file";
		return false;
	}
	char real[PATH_MAX];
	if (realpath(dirname(b), real) == NULL) {
		*why = strerror(errno);
		return false;
	}
	if (snprintf(dir, dir_size, "%s", real) >= (int)dir_size ||
	    snprintf(abs, abs_size, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base) >=
	        (int)abs_size) {
		*why = "the path is too long";
		return false;
	}
	return true;
}

static void path_with(char *out, size_t size, const char *file, const char *suffix)
{
	snprintf(out, size, "%s%s", file, suffix);
}

/* Removes path; a missing file is fine. */
static bool remove_file(const char *path)
{
	return unlink(path) == 0 || errno == ENOENT;
}

/* Removes what an unfinished write of file leaves: FILE.sha256.tmp and
 * FILE.tmp. On false, errno is set and failed names the first that could
 * not be removed. */
static bool remove_leftovers(const char *file, char *failed, size_t size)
{
	static const char *const suffixes[] = {".sha256.tmp", ".tmp", ".checkpoints.tmp"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		path_with(failed, size, file, suffixes[i]);
		if (!remove_file(failed))
			return false;
	}
	return true;
}

/* Opens path for writing, replacing what was there; only the owner and
 * its group may read the audit trail. */
static FILE *create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return NULL;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	return f;
}

/* Flushes, syncs and closes f; false (errno set) when any of it failed. */
static bool close_synced(FILE *f)
{
	bool ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
	int e = errno;
	if (fclose(f) != 0 && ok) {
		ok = false;
		e = errno;
	}
	errno = e;
	return ok;
}

static bool file_sha256(const char *path, unsigned char out[AUDIT_HASH_LEN])
{
	FILE *f = fopen(path, "rbe");
	if (f == NULL)
		return false;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	char buf[1 << 16];
	size_t n;
	while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(md, buf, n);
	ok = ok && !ferror(f);
	unsigned int len = 0;
	if (ok)
		EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	fclose(f);
	return ok;
}

/* The line of FILE.sha256, as sha256sum writes it: hex, two spaces (text
 * mode), the file's base name. */
static void sha256_line(const unsigned char h[AUDIT_HASH_LEN], const char *file, char *out,
                        size_t size)
{
	char hex[AUDIT_HASH_HEX_BUF], copy[PATH_MAX];
	audit_hash_hex(h, hex);
	snprintf(copy, sizeof(copy), "%s", file);
	snprintf(out, size, "%s  %s\n", hex, basename(copy));
}

/* True when sums (a .sha256 file) holds exactly the line for file's
 * current content. */
static bool sha256_matches(const char *sums, const char *file)
{
	char want[PATH_MAX + 80], got[PATH_MAX + 80];
	FILE *f = fopen(sums, "re");
	if (f == NULL)
		return false;
	size_t n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[n] = '\0';
	unsigned char h[AUDIT_HASH_LEN];
	if (!file_sha256(file, h))
		return false;
	sha256_line(h, file, want, sizeof(want));
	return strcmp(want, got) == 0;
}

/* Writes FILE.sha256 through FILE.sha256.tmp, synced. */
static bool write_sha256(const char *file, const unsigned char h[AUDIT_HASH_LEN])
{
	char sums[PATH_MAX + 16], tmp[PATH_MAX + 16], line[PATH_MAX + 80];
	path_with(sums, sizeof(sums), file, ".sha256");
	path_with(tmp, sizeof(tmp), file, ".sha256.tmp");
	sha256_line(h, file, line, sizeof(line));
	FILE *f = create_file(tmp);
	if (f == NULL)
		return false;
	fputs(line, f);
	if (!close_synced(f))
		return false;
	return rename(tmp, sums) == 0;
}

/* Did the run that recorded file as pending finish writing it? Yes when
 * FILE.sha256 matches it; also when it died between the two renames, with
 * a complete FILE.sha256.tmp (which is then put in place). Stale sums
 * cannot fool this: every run removes FILE.sha256 before it records FILE
 * as pending. */
static bool pending_complete(const char *file, const char *dir)
{
	char sums[PATH_MAX + 16], tmp[PATH_MAX + 16];
	path_with(sums, sizeof(sums), file, ".sha256");
	path_with(tmp, sizeof(tmp), file, ".sha256.tmp");
	if (sha256_matches(sums, file))
		return true;
	if (access(sums, F_OK) != 0 && sha256_matches(tmp, file) && rename(tmp, sums) == 0 &&
	    fsync_dir(dir))
		return true;
	return false;
}

/* ---- checkpoints: FILE.checkpoints ---- */

struct checkpoint_sink {
	FILE *f;
	int64_t count;
	int werr;
};

/* One checkpoint as a JSON Lines record (docs/export.md). */
static bool write_checkpoint(const struct db_checkpoint_row *k, void *arg)
{
	struct checkpoint_sink *c = arg;
	char at[TS_BUF];
	ts_format_utc(k->signed_at, at);
	if (fprintf(c->f,
	            "{\"seq\":%" PRId64 ",\"hash\":\"%s\",\"signed_at\":\"%s\",\"key_id\":\"%s\","
	            "\"signature\":\"%s\"}\n",
	            k->seq, k->hash, at, k->key_id, k->signature) < 0) {
		c->werr = errno ? errno : EIO;
		return false;
	}
	c->count++;
	return true;
}

/* Writes the signed checkpoints of the range (after, upto] to
 * file.checkpoints through file.checkpoints.tmp, synced and renamed; no
 * file when there are none. Runs before file itself is put in place, so
 * that a complete file always has its checkpoints beside it. */
static bool write_checkpoints(struct cli *cli, const char *file, int64_t after, int64_t upto,
                              int64_t *count, int *rc)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 24];
	path_with(path, sizeof(path), file, ".checkpoints");
	path_with(tmp, sizeof(tmp), file, ".checkpoints.tmp");
	*count = 0;
	/* an earlier export's to the same name must not pass for this one's */
	if (!remove_file(path)) {
		*rc = cli_fail(cli, CLI_FAIL, "cannot remove %s: %s", path, strerror(errno));
		return false;
	}
	if (upto <= after)
		return true;
	struct checkpoint_sink c = {.f = create_file(tmp)};
	if (c.f == NULL) {
		*rc = cli_fail(cli, CLI_FAIL, "cannot create %s: %s", tmp, strerror(errno));
		return false;
	}
	struct cd_error err;
	cd_error_clear(&err);
	bool ok = db_audit_checkpoint_stream(cli->conn, after, upto, write_checkpoint, &c, &err);
	if (!ok || !close_synced(c.f)) {
		int e = c.werr ? c.werr : errno;
		if (ok) /* close_synced closed it */
			c.f = NULL;
		if (c.f != NULL)
			fclose(c.f);
		unlink(tmp);
		*rc = !ok && c.werr == 0
		          ? cli_db_fail(cli, &err)
		          : cli_fail(cli, CLI_FAIL, "cannot write %s: %s", tmp, strerror(e));
		return false;
	}
	if (c.count == 0) { /* nothing signed in the range: no file */
		unlink(tmp);
		return true;
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		*rc = cli_fail(cli, CLI_FAIL, "cannot move %s into place: %s", tmp, strerror(e));
		return false;
	}
	*count = c.count;
	return true;
}

/* Writes the events of the range to file through file.tmp, renamed into
 * place and synced, then file.sha256 when sums. */
static bool write_export(struct cli *cli, struct sink *s, const char *file, const char *dir,
                         bool sums, int64_t from, int64_t to, int64_t after, int64_t upto, int *rc)
{
	char tmp[PATH_MAX + 16];
	path_with(tmp, sizeof(tmp), file, ".tmp");
	if (!write_checkpoints(cli, file, after, upto, &s->checkpoints, rc))
		return false;
	s->f = create_file(tmp);
	if (s->f == NULL) {
		*rc = cli_fail(cli, CLI_FAIL, "cannot create %s: %s", tmp, strerror(errno));
		return false;
	}
	if (sums) {
		s->md = EVP_MD_CTX_new();
		if (s->md == NULL || !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL)) {
			fclose(s->f);
			unlink(tmp);
			*rc = cli_fail(cli, CLI_FAIL, "no SHA-256 context");
			return false;
		}
	}
	struct cd_error err;
	cd_error_clear(&err);
	int werr;
	bool ok = stream(cli, s, from, to, after, upto, &werr, &err);
	if (!ok) {
		fclose(s->f);
		unlink(tmp);
		if (werr != 0)
			*rc = cli_fail(cli, CLI_FAIL, "cannot write %s: %s", tmp, strerror(werr));
		else
			*rc = cli_db_fail(cli, &err);
		return false;
	}
	if (!close_synced(s->f)) {
		int e = errno;
		unlink(tmp);
		*rc = cli_fail(cli, CLI_FAIL, "cannot write %s: %s", tmp, strerror(e));
		return false;
	}
	if (rename(tmp, file) != 0) {
		int e = errno;
		unlink(tmp);
		*rc = cli_fail(cli, CLI_FAIL, "cannot move %s into place: %s", tmp, strerror(e));
		return false;
	}
	if (!fsync_dir(dir)) {
		*rc =
		    cli_fail(cli, CLI_FAIL, "cannot move %s into place: %s", tmp, strerror(errno));
		return false;
	}
	if (sums) {
		unsigned char h[AUDIT_HASH_LEN];
		unsigned int len = 0;
		EVP_DigestFinal_ex(s->md, h, &len);
		if (!write_sha256(file, h) || !fsync_dir(dir)) {
			*rc = cli_fail(cli, CLI_FAIL, "cannot write %s.sha256: %s", file,
			               strerror(errno));
			return false;
		}
	}
	return true;
}

/* ---- the command ---- */

static void summary(const struct sink *s, const char *where, const char *note)
{
	if (s->checkpoints > 0)
		fprintf(stderr, "wrote %" PRId64 " signed checkpoints to %s.checkpoints\n",
		        s->checkpoints, where);
	if (s->count > 0)
		fprintf(stderr,
		        "exported %" PRId64 " events (seq %" PRId64 "..%" PRId64 ") to %s%s\n",
		        s->count, s->first, s->last, where, note);
	else
		fprintf(stderr, "exported 0 events to %s%s\n", where, note);
}

static bool lock_job(struct cli *cli, const char *job, int *rc)
{
	struct cd_error err;
	for (int waited = 0;; waited += 100) {
		bool got = false;
		cd_error_clear(&err);
		if (!db_export_job_trylock(cli->conn, job, &got, &err)) {
			*rc = cli_db_fail(cli, &err);
			return false;
		}
		if (got)
			return true;
		if (waited >= LOCK_WAIT_MS) {
			*rc = cli_fail(cli, CLI_FAIL, "another run of export job %s is going on",
			               job);
			return false;
		}
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* The export's upper bound, the highest seq sealed; with the progress bar
 * also the number of rows to come, from the same snapshot, so that events
 * sealed meanwhile run neither the bar past 100% nor the file past its
 * count (the stream stops at that seq). */
static bool upper_bound(struct cli *cli, struct sink *s, int64_t from, int64_t to, int64_t after,
                        int64_t *upto, struct cd_error *err)
{
	if (!s->progress)
		return db_audit_max_seq(cli->conn, upto, err);
	return db_audit_count(cli->conn, from, to, after, &s->total, upto, err);
}

static int export_since_last(struct cli *cli, struct sink *s, const char *job, const char *file)
{
	char abs[PATH_MAX], dir[PATH_MAX];
	const char *why;
	if (!resolve_path(file, abs, sizeof(abs), dir, sizeof(dir), &why))
		return cli_fail(cli, CLI_FAIL, "--output %s: %s", file, why);
	if (strlen(abs) >= DB_EXPORT_FILE_MAX) /* the job records it; say so before any work */
		return cli_fail(cli, CLI_FAIL, "--output %s: the path is too long", file);

	int rc;
	if (!cli_connect(cli, true, &rc) || !lock_job(cli, job, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	struct export_job j;
	if (!db_export_job_get(cli->conn, job, &j, &err))
		return cli_db_fail(cli, &err);

	/* 1. What the previous run left pending. */
	char note[PATH_MAX + 128] = "";
	if (j.pending_to != 0 && j.pending_file[0] != '\0') {
		char pdir[PATH_MAX], copy[PATH_MAX];
		snprintf(copy, sizeof(copy), "%s", j.pending_file);
		snprintf(pdir, sizeof(pdir), "%s", dirname(copy));
		if (pending_complete(j.pending_file, pdir)) {
			/* it wrote the file and died before committing */
			if (!db_export_job_commit(cli->conn, job, j.pending_to, &err))
				return cli_db_fail(cli, &err);
			if (strcmp(j.pending_file, abs) == 0) {
				/* Writing newer events over it would destroy a delivery
				 * nobody may have collected yet: this run ends here. */
				fprintf(stderr,
				        "%s was complete from an interrupted run (events after seq "
				        "%" PRId64 " up to %" PRId64 "); job %s now stands at seq "
				        "%" PRId64 ", newer events go with the next run\n",
				        file, j.last_seq, j.pending_to, job, j.pending_to);
				return CLI_OK;
			}
			snprintf(note, sizeof(note),
			         "; before that, %s from an interrupted run (events after seq "
			         "%" PRId64 " up to %" PRId64 ") was found complete and committed",
			         j.pending_file, j.last_seq, j.pending_to);
			/* the job as the commit left it */
			j.last_seq = j.pending_to;
			j.pending_to = 0;
			j.pending_file[0] = '\0';
		} else {
			/* Never delivered (no sums): its range goes into this run's
			 * file, so leftovers would only be duplicates. */
			char p[PATH_MAX + 16];
			remove_leftovers(j.pending_file, p, sizeof(p));
			path_with(p, sizeof(p), j.pending_file, ".sha256");
			if (strcmp(j.pending_file, abs) != 0 && access(p, F_OK) != 0) {
				remove_file(j.pending_file);
				path_with(p, sizeof(p), j.pending_file, ".checkpoints");
				remove_file(p);
			}
			fsync_dir(pdir);
		}
	}

	/* 2. No sums of an earlier export to the same name may survive into
	 * this run: they would make a half-written file look complete. */
	char p[PATH_MAX + 16];
	path_with(p, sizeof(p), abs, ".sha256");
	if (!remove_file(p) || !remove_leftovers(abs, p, sizeof(p)))
		return cli_fail(cli, CLI_FAIL, "cannot clear %s: %s", p, strerror(errno));
	if (!fsync_dir(dir))
		return cli_fail(cli, CLI_FAIL, "cannot clear %s: %s", dir, strerror(errno));

	if (db_audit_seal_all(cli->conn, &err) < 0)
		return cli_db_fail(cli, &err);
	int64_t upto;
	if (!upper_bound(cli, s, TS_NULL, TS_NULL, j.last_seq, &upto, &err))
		return cli_db_fail(cli, &err);
	if (upto < j.last_seq)
		return cli_fail(cli, CLI_FAIL,
		                "the audit chain ends at seq %" PRId64
		                ", before job %s's watermark "
		                "%" PRId64 "; run 'coolingctl audit verify'",
		                upto, job, j.last_seq);
	if (!db_export_job_begin(cli->conn, job, &j, upto, abs, &err))
		return cli_db_fail(cli, &err);

	/* 3. */
	if (!write_export(cli, s, abs, dir, true, TS_NULL, TS_NULL, j.last_seq, upto, &rc))
		return rc;

	/* 4. */
	const char *crash = getenv(CRASH_ENV);
	if (crash != NULL && strcmp(crash, "1") == 0)
		_exit(CLI_FAIL);
	if (!db_export_job_commit(cli->conn, job, upto, &err))
		return cli_db_fail(cli, &err);
	if (s->count == 0)
		fprintf(stderr, "exported 0 events to %s (none after seq %" PRId64 ")%s\n", file,
		        j.last_seq, note);
	else
		summary(s, file, note);
	return CLI_OK;
}

static int export_plain(struct cli *cli, struct sink *s, const char *file, int64_t from, int64_t to)
{
	bool to_stdout = file == NULL || strcmp(file, "-") == 0;
	char abs[PATH_MAX], dir[PATH_MAX];
	const char *why;
	if (!to_stdout && !resolve_path(file, abs, sizeof(abs), dir, sizeof(dir), &why))
		return cli_fail(cli, CLI_FAIL, "--output %s: %s", file, why);
	/* rows on a terminal would be torn by the bar */
	if (to_stdout && isatty(STDOUT_FILENO))
		s->progress = false;

	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	if (db_audit_seal_all(cli->conn, &err) < 0)
		return cli_db_fail(cli, &err);
	int64_t upto;
	if (!upper_bound(cli, s, from, to, 0, &upto, &err))
		return cli_db_fail(cli, &err);

	if (!to_stdout) {
		if (!write_export(cli, s, abs, dir, false, from, to, 0, upto, &rc))
			return rc;
		summary(s, file, "");
		return CLI_OK;
	}
	s->f = stdout;
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	int werr;
	if (!stream(cli, s, from, to, 0, upto, &werr, &err)) {
		if (werr != 0)
			return cli_fail(cli, CLI_FAIL, "cannot write to standard output: %s",
			                strerror(werr));
		return cli_db_fail(cli, &err);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return cli_fail(cli, CLI_FAIL, "cannot write to standard output: %s",
		                strerror(errno));
	summary(s, "standard output", "");
	return CLI_OK;
}

/* export --api: the events through GET /v1/audit, to standard output or
 * --output FILE (through FILE.tmp, synced and renamed, as from the
 * database). The API has no call for the signed checkpoints: no
 * FILE.checkpoints is written. */
static int export_api(struct cli *cli, struct sink *s, const char *file, int64_t from, int64_t to)
{
	bool to_stdout = file == NULL || strcmp(file, "-") == 0;
	char abs[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX + 16];
	const char *why;
	if (!to_stdout && !resolve_path(file, abs, sizeof(abs), dir, sizeof(dir), &why))
		return cli_fail(cli, CLI_FAIL, "--output %s: %s", file, why);
	s->progress = false; /* the total is not known beforehand */
	int rc;
	if (!cli_api_setup(cli, &rc))
		return rc;
	if (to_stdout) {
		s->f = stdout;
	} else {
		path_with(tmp, sizeof(tmp), abs, ".tmp");
		if ((s->f = create_file(tmp)) == NULL)
			return cli_fail(cli, CLI_FAIL, "cannot create %s: %s", tmp,
			                strerror(errno));
	}
	bool ok = write_header(s);
	if (!ok)
		rc = cli_fail(cli, CLI_FAIL, "cannot write: %s", strerror(s->werr));
	else
		ok = stream_api(cli, s, from, to, &rc);
	if (to_stdout) {
		if (ok && (fflush(stdout) != 0 || ferror(stdout)))
			return cli_fail(cli, CLI_FAIL, "cannot write to standard output: %s",
			                strerror(errno));
		if (ok)
			summary(s, "standard output", "");
		return ok ? CLI_OK : rc;
	}
	if (!ok) {
		fclose(s->f);
		unlink(tmp);
		return rc;
	}
	if (!close_synced(s->f) || rename(tmp, abs) != 0 || !fsync_dir(dir)) {
		int e = errno;
		unlink(tmp);
		return cli_fail(cli, CLI_FAIL, "cannot write %s: %s", file, strerror(e));
	}
	summary(s, file, "");
	return CLI_OK;
}

int cmd_export(struct cli *cli, const struct cli_args *a)
{
	const char *format = cli_opt(cli, a, "format");
	const char *from_s = cli_opt(cli, a, "from");
	const char *to_s = cli_opt(cli, a, "to");
	const char *output = cli_opt(cli, a, "output");
	const char *job = cli_opt(cli, a, "since-last");
	const char *why;

	struct sink s = {.format = FORMAT_CSV, .progress = isatty(STDERR_FILENO) != 0};
	if (format != NULL && strcmp(format, "jsonl") == 0)
		s.format = FORMAT_JSONL;
	else if (format != NULL && strcmp(format, "csv") != 0)
		return cli_usage(cli, "--format must be csv or jsonl");
	int64_t from = TS_NULL, to = TS_NULL;
	if (from_s != NULL && !ts_parse_rfc3339(from_s, &from, &why))
		return cli_usage(cli, "--from: %s", why);
	if (to_s != NULL && !ts_parse_rfc3339(to_s, &to, &why))
		return cli_usage(cli, "--to: %s", why);
	if (from != TS_NULL && to != TS_NULL && from >= to)
		return cli_usage(cli, "--from must be before --to");
	if (output != NULL && output[0] == '\0')
		return cli_usage(cli, "--output must name a file, or - for standard output");

	int rc;
	if (cli->api_url != NULL && job != NULL) {
		rc = cli_usage(cli,
		               "--since-last keeps its watermark in the database: not with --api");
	} else if (cli->api_url != NULL) {
		rc = export_api(cli, &s, output, from, to);
	} else if (job != NULL) {
		if (!id_valid(job))
			return cli_usage(cli, "--since-last JOB must be " ID_RULE);
		if (output == NULL || strcmp(output, "-") == 0)
			return cli_usage(cli, "--since-last needs --output FILE (not standard "
			                      "output)");
		if (from_s != NULL || to_s != NULL)
			return cli_usage(cli, "--since-last exports every event after the job's "
			                      "watermark; --from and --to do not go with it");
		rc = export_since_last(cli, &s, job, output);
	} else {
		rc = export_plain(cli, &s, output, from, to);
	}
	free(s.buf);
	EVP_MD_CTX_free(s.md);
	return rc;
}

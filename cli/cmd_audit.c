/*
 * coolingctl audit verify: re-computes the audit hash chain in C from the
 * raw columns (lib/audit_hash.c, not the database's cd_audit_canonical), so
 * that a database whose functions were tampered with cannot vouch for
 * itself. It seals what is committed first, so that every event written so
 * far is covered, then walks the chain in seq order and names the first
 * entry that does not fit.
 *
 * The chain alone cannot show a cut end or a chain recomputed from some
 * event on; what lies outside the database can:
 *   --public-key  the signed checkpoints (lib/audit_sign.h): each must
 *                 carry a good signature of a key given, and name an event
 *                 and hash that the chain still has;
 *   --against     an earlier export: every event it holds must still be in
 *                 the chain with the same hash, and the checkpoints of its
 *                 EXPORT.checkpoints must fit too.
 * Both are checked in the same single pass over the chain (the export and
 * its checkpoints are in seq order), so memory stays flat.
 *
 * coolingctl audit keygen makes the key pair.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_hash.h"
#include "audit_sign.h"
#include "cli.h"
#include "db.h"
#include "hex.h"
#include "timeutil.h"

/* Public keys that a keyring given to --public-key may hold, all files
 * together. */
#define MAX_KEYS 32

struct keys {
	struct audit_key k[MAX_KEYS];
	int n;
};

static const struct audit_key *key_by_id(const struct keys *keys, const char *id)
{
	for (int i = 0; i < keys->n; i++)
		if (strcmp(keys->k[i].id, id) == 0)
			return &keys->k[i];
	return NULL;
}

/* One checkpoint, from the database or from an export's side file. */
struct checkpoint {
	int64_t seq;
	char hash[AUDIT_HASH_HEX_BUF + 1];
	int64_t signed_at;
	char key_id[AUDIT_KEY_ID_BUF + 1];
	char sig[AUDIT_SIG_HEX_BUF + 1];
};

/* Why c does not fit, into why; false when it fits. keys NULL: no
 * signature check (only the chain's hash). chain_hash: the verified chain's
 * hash at c->seq, NULL when the chain has no such event. */
static bool checkpoint_misfit(const struct keys *keys, const struct checkpoint *c,
                              const unsigned char *chain_hash, char *why, size_t size)
{
	unsigned char hash[AUDIT_HASH_LEN], sig[AUDIT_SIG_LEN];
	if (!audit_hash_from_hex(c->hash, hash)) {
		snprintf(why, size, "its hash is not 64 hex digits");
		return true;
	}
	if (keys != NULL) {
		const struct audit_key *k = key_by_id(keys, c->key_id);
		if (k == NULL) {
			snprintf(why, size,
			         "signed by key %.64s, which is not among the --public-key keys",
			         c->key_id);
			return true;
		}
		if (!hex_decode(c->sig, AUDIT_SIG_LEN, sig) ||
		    !audit_checkpoint_verify(k, c->seq, hash, c->signed_at, sig)) {
			snprintf(why, size,
			         "its signature does not verify with key %.64s (forged or changed)",
			         c->key_id);
			return true;
		}
	}
	if (chain_hash == NULL) {
		snprintf(why, size,
		         "the chain has no event at seq %" PRId64 " (its end was cut off)", c->seq);
		return true;
	}
	if (memcmp(hash, chain_hash, AUDIT_HASH_LEN) != 0) {
		snprintf(why, size,
		         "the chain's hash at seq %" PRId64 " is not the signed one (the chain was "
		         "changed or recomputed)",
		         c->seq);
		return true;
	}
	return false;
}

/* ---- the CSV of an export ---- */

/* One CSV record (RFC 4180; a quoted field may hold line breaks): its
 * fields NUL-separated in buf, field i at buf + off[i] (the first
 * CSV_MAX_FIELDS; n counts them all), and the lines of the file it took. */
#define CSV_MAX_FIELDS 8
struct csv_record {
	char *buf;
	size_t len, cap;
	size_t off[CSV_MAX_FIELDS];
	int n;
	int64_t lines;
	bool oom;
};

static void csv_put(struct csv_record *r, char ch)
{
	if (r->len + 1 >= r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4096;
		char *b = realloc(r->buf, cap);
		if (b == NULL) {
			r->oom = true;
			return;
		}
		r->buf = b;
		r->cap = cap;
	}
	r->buf[r->len++] = ch;
}

static const char *csv_field(const struct csv_record *r, int i)
{
	return r->buf + r->off[i];
}

/* Reads the next record into r; false at the end of the file. */
static bool csv_read(FILE *f, struct csv_record *r)
{
	r->len = 0;
	r->n = 1;
	r->off[0] = 0;
	r->lines = 0;
	bool quoted = false, any = false;
	int ch;
	while ((ch = getc(f)) != EOF) {
		any = true;
		if (quoted) {
			if (ch == '"') {
				int next = getc(f);
				if (next != '"') {
					quoted = false;
					if (next == EOF)
						break;
					ungetc(next, f);
					continue;
				}
			} else if (ch == '\n') {
				r->lines++;
			}
		} else if (ch == '"') {
			quoted = true;
			continue;
		} else if (ch == ',') {
			csv_put(r, '\0');
			if (r->n < CSV_MAX_FIELDS)
				r->off[r->n] = r->len;
			r->n++;
			continue;
		} else if (ch == '\n') {
			break;
		} else if (ch == '\r') {
			continue;
		}
		csv_put(r, (char)ch);
	}
	csv_put(r, '\0');
	if (r->oom) { /* the fields read as empty: the record does not fit */
		r->len = 0;
		r->n = 0;
	}
	r->lines++;
	return any;
}

static void csv_free(struct csv_record *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->len = 0;
}

/* ---- an export's side file EXPORT.checkpoints, in seq order ---- */

struct checkpoint_file {
	const char *path; /* the export's; the file is path + ".checkpoints" */
	FILE *f;          /* NULL: there is none */
	int64_t line;     /* of the checkpoint read last */
	bool have;        /* c holds the next checkpoint */
	struct checkpoint c;
	int64_t n;       /* checkpoints that fit */
	char error[320]; /* a line that is not a checkpoint */
};

/* Reads the next checkpoint into k->c; k->have false at the end; false
 * (k->error set) on a line that is not a checkpoint. */
static bool checkpoint_next(struct checkpoint_file *k)
{
	k->have = false;
	k->line++;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n = getline(&buf, &cap, k->f);
	if (n < 0) {
		free(buf);
		return true;
	}
	json_t *o = json_loads(buf, 0, NULL);
	free(buf);
	json_t *seq = json_object_get(o, "seq");
	const char *hash = json_string_value(json_object_get(o, "hash"));
	const char *at = json_string_value(json_object_get(o, "signed_at"));
	const char *key = json_string_value(json_object_get(o, "key_id"));
	const char *sig = json_string_value(json_object_get(o, "signature"));
	const char *why;
	if (!json_is_integer(seq) || hash == NULL || at == NULL || key == NULL || sig == NULL ||
	    !ts_parse_rfc3339(at, &k->c.signed_at, &why)) {
		json_decref(o);
		snprintf(k->error, sizeof(k->error),
		         "%s.checkpoints: line %" PRId64 " is not a checkpoint", k->path, k->line);
		return false;
	}
	k->c.seq = json_integer_value(seq);
	snprintf(k->c.hash, sizeof(k->c.hash), "%s", hash);
	snprintf(k->c.key_id, sizeof(k->c.key_id), "%s", key);
	snprintf(k->c.sig, sizeof(k->c.sig), "%s", sig);
	json_decref(o);
	k->have = true;
	return true;
}

/* Opens path.checkpoints (none is no error: k->f stays NULL) and reads its
 * first checkpoint. */
static bool checkpoint_open(struct checkpoint_file *k, const char *path, char *msg, size_t size)
{
	k->path = path;
	char side[4096];
	snprintf(side, sizeof(side), "%s.checkpoints", path);
	k->f = fopen(side, "re");
	if (k->f == NULL && errno != ENOENT) {
		snprintf(msg, size, "%.400s: %s", side, strerror(errno));
		return false;
	}
	if (k->f != NULL && !checkpoint_next(k)) {
		snprintf(msg, size, "%s", k->error);
		return false;
	}
	return true;
}

static void checkpoint_close(struct checkpoint_file *k)
{
	if (k->f != NULL)
		fclose(k->f);
	k->f = NULL;
}

/* ---- an earlier export, read alongside the chain ---- */

struct against {
	const char *path;
	FILE *f;
	bool csv;
	int64_t line; /* of the record read last */
	struct csv_record rec;
	bool have;        /* seq/hash hold the next record */
	int64_t seq;      /* its seq */
	char hash[80];    /* its hash */
	int64_t first, n; /* records matched */
	char error[320];  /* a record that cannot be read */
	struct checkpoint_file k;
};

/* Reads the next event of the export into a->seq/hash; a->have false at
 * its end; false (a->error set) on a record that is not an export's. */
static bool against_next(struct against *a)
{
	a->have = false;
	a->line++;
	if (a->csv) {
		if (!csv_read(a->f, &a->rec))
			return true;
		const char *first = csv_field(&a->rec, 0);
		char *end;
		errno = 0;
		long long seq = strtoll(first, &end, 10);
		if (a->rec.n != CSV_MAX_FIELDS || end == first || *end != '\0' || errno != 0 ||
		    seq < 1) {
			snprintf(a->error, sizeof(a->error),
			         "%s: record %" PRId64 " is not an event of an export", a->path,
			         a->line);
			return false;
		}
		a->seq = seq;
		snprintf(a->hash, sizeof(a->hash), "%s", csv_field(&a->rec, CSV_MAX_FIELDS - 1));
	} else {
		char *buf = NULL;
		size_t cap = 0;
		ssize_t n = getline(&buf, &cap, a->f);
		if (n < 0) {
			free(buf);
			return true;
		}
		json_t *o = json_loads(buf, 0, NULL);
		free(buf);
		json_t *seq = json_object_get(o, "seq"), *hash = json_object_get(o, "hash");
		if (!json_is_integer(seq) || json_integer_value(seq) < 1 || !json_is_string(hash)) {
			json_decref(o);
			snprintf(a->error, sizeof(a->error),
			         "%s: line %" PRId64 " is not an event of an export", a->path,
			         a->line);
			return false;
		}
		a->seq = json_integer_value(seq);
		snprintf(a->hash, sizeof(a->hash), "%s", json_string_value(hash));
		json_decref(o);
	}
	a->have = true;
	return true;
}

static bool against_open(struct against *a, const char *path, char *msg, size_t size)
{
	a->path = path;
	a->f = fopen(path, "re");
	if (a->f == NULL) {
		snprintf(msg, size, "--against %s: %s", path, strerror(errno));
		return false;
	}
	/* a CSV export begins with its header row, a JSONL one with '{' */
	int ch = getc(a->f);
	if (ch != EOF)
		ungetc(ch, a->f);
	a->csv = ch == 's';
	if (a->csv) {
		csv_read(a->f, &a->rec);
		if (a->rec.n != CSV_MAX_FIELDS || strcmp(csv_field(&a->rec, 0), "seq") != 0 ||
		    strcmp(csv_field(&a->rec, CSV_MAX_FIELDS - 1), "hash") != 0) {
			snprintf(msg, size,
			         "--against %s: not a CSV export (no seq,...,hash header)", path);
			return false;
		}
	} else if (ch != EOF && ch != '{') {
		snprintf(msg, size, "--against %s: neither a CSV nor a JSON Lines export", path);
		return false;
	}
	if (!against_next(a)) {
		snprintf(msg, size, "%s", a->error);
		return false;
	}
	char why[480];
	if (!checkpoint_open(&a->k, path, why, sizeof(why))) {
		snprintf(msg, size, "--against %s", why);
		return false;
	}
	return true;
}

static void against_close(struct against *a)
{
	csv_free(&a->rec);
	if (a->f != NULL)
		fclose(a->f);
	checkpoint_close(&a->k);
}

/* ---- the walk ---- */

struct verify {
	int64_t next_seq; /* the seq the next entry must have */
	unsigned char prev[AUDIT_HASH_LEN];
	int64_t count;
	int64_t broken_seq; /* 0: intact so far */
	const char *why;
	const struct keys *keys; /* NULL: no --public-key */
	struct against *against; /* NULL: no --against */
	char misfit[640];        /* set: an export or its checkpoint does not fit */
};

/* The export's events and checkpoints at seq, whose verified hash is h. */
static bool check_against(struct verify *v, int64_t seq, const unsigned char h[AUDIT_HASH_LEN])
{
	struct against *a = v->against;
	if (a->have && a->seq < seq) {
		snprintf(v->misfit, sizeof(v->misfit),
		         "%s: record %" PRId64 " (seq %" PRId64 ") is out of chain order", a->path,
		         a->line, a->seq);
		return false;
	}
	if (a->have && a->seq == seq) {
		unsigned char theirs[AUDIT_HASH_LEN];
		if (!audit_hash_from_hex(a->hash, theirs) ||
		    memcmp(theirs, h, AUDIT_HASH_LEN) != 0) {
			snprintf(v->misfit, sizeof(v->misfit),
			         "audit chain differs from %s at seq %" PRId64
			         ": the hash is not the exported one (the event, or one before it, "
			         "was changed since the export)",
			         a->path, seq);
			return false;
		}
		if (a->n++ == 0)
			a->first = seq;
		if (!against_next(a)) {
			snprintf(v->misfit, sizeof(v->misfit), "%s", a->error);
			return false;
		}
	}
	while (a->k.have && a->k.c.seq <= seq) {
		char why[320];
		if (checkpoint_misfit(v->keys, &a->k.c, a->k.c.seq == seq ? h : NULL, why,
		                      sizeof(why))) {
			snprintf(v->misfit, sizeof(v->misfit),
			         "checkpoint at seq %" PRId64 " of %s.checkpoints does not fit: %s",
			         a->k.c.seq, a->path, why);
			return false;
		}
		a->k.n++;
		if (!checkpoint_next(&a->k)) {
			snprintf(v->misfit, sizeof(v->misfit), "%s", a->k.error);
			return false;
		}
	}
	return true;
}

static bool check_entry(const struct db_audit_event *e, void *arg)
{
	struct verify *v = arg;
	int64_t seq = e->seq;
	if (seq != v->next_seq) {
		/* seq is the primary key and comes in order: a jump is an entry
		 * taken out of the chain */
		v->broken_seq = v->next_seq;
		v->why = "missing from the chain (an entry was removed)";
		return false;
	}
	if (e->missing) {
		v->broken_seq = seq;
		v->why = "its event is gone from audit_event (removed)";
		return false;
	}
	unsigned char stored[AUDIT_HASH_LEN], computed[AUDIT_HASH_LEN];
	audit_hash_next(v->prev, seq, e->at, e->actor, e->lender, e->loan_id, e->type, e->detail,
	                computed);
	if (!audit_hash_from_hex(e->hash, stored) ||
	    memcmp(stored, computed, AUDIT_HASH_LEN) != 0) {
		v->broken_seq = seq;
		v->why = "hash does not match (event changed, removed or inserted)";
		return false;
	}
	if (v->against != NULL && !check_against(v, seq, computed))
		return false;
	memcpy(v->prev, stored, AUDIT_HASH_LEN);
	v->next_seq++;
	v->count++;
	return true;
}

/* The checkpoints stored in the database, after the walk found the chain
 * intact (so a stored chain hash is the recomputed one). */
struct db_checkpoints {
	const struct keys *keys;
	int64_t count;
	struct checkpoint newest;
	char misfit[512];
};

static bool check_db_checkpoint(const struct db_checkpoint_row *k, void *arg)
{
	struct db_checkpoints *d = arg;
	struct checkpoint c = {.seq = k->seq, .signed_at = k->signed_at};
	snprintf(c.hash, sizeof(c.hash), "%s", k->hash);
	snprintf(c.key_id, sizeof(c.key_id), "%s", k->key_id);
	snprintf(c.sig, sizeof(c.sig), "%s", k->signature);
	unsigned char chain[AUDIT_HASH_LEN];
	bool in_chain = k->chain_hash != NULL && audit_hash_from_hex(k->chain_hash, chain);
	char why[320];
	if (checkpoint_misfit(d->keys, &c, in_chain ? chain : NULL, why, sizeof(why))) {
		char at[TS_BUF];
		ts_format_utc(c.signed_at, at);
		snprintf(d->misfit, sizeof(d->misfit),
		         "checkpoint at seq %" PRId64 " (signed %s) does not fit: %s", c.seq, at,
		         why);
		return false;
	}
	d->count++;
	d->newest = c;
	return true;
}

static int load_keys(struct cli *cli, const struct cli_args *a, struct keys *keys)
{
	const char *const *files;
	int nfiles = cli_opt_all(cli, a, "public-key", &files);
	keys->n = 0;
	for (int i = 0; i < nfiles; i++) {
		int got;
		char msg[512];
		if (!audit_keyring_load(files[i], keys->k + keys->n, MAX_KEYS - keys->n, &got, msg,
		                        sizeof(msg)))
			return cli_fail(cli, CLI_FAIL, "--public-key %s", msg);
		keys->n += got;
	}
	return -1;
}

static void free_keys(struct keys *keys)
{
	for (int i = 0; i < keys->n; i++)
		audit_key_free(&keys->k[i]);
}

static int verify(struct cli *cli, const struct cli_args *a, struct keys *keys, struct against *ag)
{
	const char *against_path = cli_opt(cli, a, "against");
	bool with_keys = keys->n > 0;
	char msg[640];
	if (against_path != NULL && !against_open(ag, against_path, msg, sizeof(msg)))
		return cli_fail(cli, CLI_FAIL, "%s", msg);

	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);

	/* Events committed but not sealed yet would otherwise go unchecked. */
	if (db_audit_seal_all(cli->conn, &err) < 0)
		return cli_db_fail(cli, &err);

	struct verify v = {.next_seq = 1, /* prev: the genesis, 32 zero bytes */
	                   .keys = with_keys ? keys : NULL,
	                   .against = against_path != NULL ? ag : NULL};
	if (!db_audit_chain_stream(cli->conn, check_entry, &v, &err) && v.broken_seq == 0 &&
	    v.misfit[0] == '\0')
		return cli_db_fail(cli, &err);

	/* An event slipped in behind the sealer never gets a seq, so the walk
	 * above cannot see it; it is named by the entry it was put before. */
	int64_t stray_id = 0, stray_before = 0;
	cd_error_clear(&err);
	if (!db_audit_stray_event(cli->conn, &stray_id, &stray_before, &err))
		return cli_db_fail(cli, &err);
	if (stray_id != 0 && (v.broken_seq == 0 || stray_before <= v.broken_seq))
		return cli_fail(cli, CLI_FAIL,
		                "audit chain broken at seq %" PRId64 ": event id %" PRId64
		                " was inserted before it and is not in the chain",
		                stray_before, stray_id);
	if (v.broken_seq != 0)
		return cli_fail(cli, CLI_FAIL, "audit chain broken at seq %" PRId64 ": %s",
		                v.broken_seq, v.why);
	if (v.misfit[0] != '\0')
		return cli_fail(cli, CLI_FAIL, "%s", v.misfit);
	if (ag->have)
		/* the export goes on where the chain ends */
		return cli_fail(cli, CLI_FAIL,
		                "audit chain differs from %s at seq %" PRId64
		                ": the exported event is missing from the chain (its end was cut "
		                "off)",
		                ag->path, ag->seq);
	if (ag->k.have) {
		char why[320];
		checkpoint_misfit(v.keys, &ag->k.c, NULL, why, sizeof(why));
		return cli_fail(cli, CLI_FAIL,
		                "checkpoint at seq %" PRId64 " of %s.checkpoints does not fit: %s",
		                ag->k.c.seq, ag->path, why);
	}

	struct db_checkpoints d = {.keys = keys};
	if (with_keys) {
		if (!db_audit_checkpoint_stream(cli->conn, 0, 0, check_db_checkpoint, &d, &err) &&
		    d.misfit[0] == '\0')
			return cli_db_fail(cli, &err);
		if (d.misfit[0] != '\0')
			return cli_fail(cli, CLI_FAIL, "%s", d.misfit);
		if (d.count == 0 && v.count > 0)
			return cli_fail(cli, CLI_FAIL,
			                "no checkpoint anchors the chain of %" PRId64
			                " events (is coolingd's [audit] signing_key set?)",
			                v.count);
	}

	printf("audit chain intact: %" PRId64 " events\n", v.count);
	if (with_keys && d.count > 0) {
		char at[TS_BUF];
		ts_format_utc(d.newest.signed_at, at);
		printf("checkpoints: %" PRId64 " verified; the newest at seq %" PRId64
		       " signed %s by key %s; %" PRId64 " events after it\n",
		       d.count, d.newest.seq, at, d.newest.key_id, v.count - d.newest.seq);
	} else if (with_keys) {
		printf("checkpoints: none (the chain is empty)\n");
	}
	if (against_path != NULL) {
		if (ag->n > 0)
			printf("matches %s: %" PRId64 " events (seq %" PRId64 "..%" PRId64 ")",
			       against_path, ag->n, ag->first, ag->first + ag->n - 1);
		else
			printf("matches %s: 0 events", against_path);
		if (ag->k.f != NULL)
			printf(", %" PRId64 " checkpoints", ag->k.n);
		printf("\n");
	}
	return CLI_OK;
}

int cmd_audit_verify(struct cli *cli, const struct cli_args *a)
{
	struct keys *keys = calloc(1, sizeof(*keys));
	if (keys == NULL)
		return cli_fail(cli, CLI_FAIL, "out of memory");
	struct against ag = {0};
	int rc = load_keys(cli, a, keys);
	if (rc < 0)
		rc = verify(cli, a, keys, &ag);
	against_close(&ag);
	free_keys(keys);
	free(keys);
	return rc;
}

/* ---- audit verify-export: an export and its checkpoints, no database ---- */

/* One event of an export file, as the hash covers it. */
struct export_event {
	int64_t line; /* the file's line where the record starts */
	int64_t seq, at;
	const char *actor, *lender, *loan, *type, *detail, *hash;
};

struct export_file {
	const char *path;
	FILE *f;
	bool csv;
	int64_t next_line; /* where the next record starts */
	struct csv_record rec;
	json_t *json; /* the JSON Lines record read last */
	char *detail; /* its detail as jsonb::text */
	size_t detail_cap;
	char error[480];
};

/* The detail of a JSON Lines record back as jsonb::text, the text the hash
 * covers: the export removed the blanks outside strings (cmd_export.c),
 * jsonb::text has one after each ',' and ':' there and no other. */
static bool jsonb_text(struct export_file *x, const char *compact, size_t n)
{
	if (x->detail_cap < 2 * n + 1) {
		char *b = realloc(x->detail, 2 * n + 1);
		if (b == NULL)
			return false;
		x->detail = b;
		x->detail_cap = 2 * n + 1;
	}
	size_t o = 0;
	bool in_string = false;
	for (size_t i = 0; i < n; i++) {
		char ch = compact[i];
		x->detail[o++] = ch;
		if (in_string) {
			if (ch == '\\' && i + 1 < n)
				x->detail[o++] = compact[++i];
			else if (ch == '"')
				in_string = false;
		} else if (ch == '"') {
			in_string = true;
		} else if (ch == ',' || ch == ':') {
			x->detail[o++] = ' ';
		}
	}
	x->detail[o] = '\0';
	return true;
}

static bool export_bad(struct export_file *x, int64_t line, const char *what)
{
	snprintf(x->error, sizeof(x->error), "%s: line %" PRId64 ": %s", x->path, line, what);
	return false;
}

/* The next event into e; *got false at the end of the file; false
 * (x->error set) on a record that is not an event of an export. */
static bool export_next(struct export_file *x, struct export_event *e, bool *got)
{
	*got = false;
	e->line = x->next_line;
	const char *why;
	if (x->csv) {
		if (!csv_read(x->f, &x->rec))
			return true;
		x->next_line += x->rec.lines;
		if (x->rec.n != CSV_MAX_FIELDS)
			return export_bad(x, e->line, "not an event of an export (not 8 fields)");
		const char *seq = csv_field(&x->rec, 0), *at = csv_field(&x->rec, 1);
		char *end;
		errno = 0;
		long long v = strtoll(seq, &end, 10);
		if (end == seq || *end != '\0' || errno != 0 || v < 1)
			return export_bad(x, e->line, "its seq is not a positive number");
		e->seq = v;
		if (!ts_parse_rfc3339(at, &e->at, &why))
			return export_bad(x, e->line, "its time is not an RFC 3339 timestamp");
		e->actor = csv_field(&x->rec, 2);
		e->lender = csv_field(&x->rec, 3)[0] ? csv_field(&x->rec, 3) : NULL;
		e->loan = csv_field(&x->rec, 4)[0] ? csv_field(&x->rec, 4) : NULL;
		e->type = csv_field(&x->rec, 5);
		e->detail = csv_field(&x->rec, 6);
		e->hash = csv_field(&x->rec, 7);
		*got = true;
		return true;
	}
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n = getline(&buf, &cap, x->f);
	if (n < 0) {
		free(buf);
		return true;
	}
	x->next_line++;
	json_decref(x->json);
	x->json = json_loads(buf, 0, NULL);
	/* the detail's own text, not a re-serialisation: between the key
	 * "detail" (a quote inside a string is escaped, so the first match is
	 * the key) and the hash, the last member */
	const char *d = strstr(buf, ",\"detail\":");
	const char *h = d ? strstr(d, ",\"hash\":\"") : NULL;
	json_t *o = x->json;
	json_t *seq = json_object_get(o, "seq");
	const char *at = json_string_value(json_object_get(o, "at"));
	json_t *lender = json_object_get(o, "lender"), *loan = json_object_get(o, "loan_id");
	e->actor = json_string_value(json_object_get(o, "actor"));
	e->type = json_string_value(json_object_get(o, "type"));
	e->hash = json_string_value(json_object_get(o, "hash"));
	bool ok = d != NULL && h != NULL && json_is_integer(seq) && json_integer_value(seq) >= 1 &&
	          at != NULL && ts_parse_rfc3339(at, &e->at, &why) && e->actor != NULL &&
	          e->type != NULL && e->hash != NULL &&
	          (json_is_null(lender) || json_is_string(lender)) &&
	          (json_is_null(loan) || json_is_string(loan)) &&
	          json_is_object(json_object_get(o, "detail"));
	if (ok) {
		d += strlen(",\"detail\":");
		ok = jsonb_text(x, d, (size_t)(h - d));
	}
	free(buf);
	if (!ok)
		return export_bad(x, e->line, "not an event of an export");
	e->seq = json_integer_value(seq);
	e->lender = json_string_value(lender);
	e->loan = json_string_value(loan);
	e->detail = x->detail;
	*got = true;
	return true;
}

static bool export_open(struct export_file *x, const char *path)
{
	x->path = path;
	x->next_line = 1;
	x->f = fopen(path, "re");
	if (x->f == NULL) {
		snprintf(x->error, sizeof(x->error), "%s: %s", path, strerror(errno));
		return false;
	}
	/* a CSV export begins with its header row, a JSONL one with '{' */
	int ch = getc(x->f);
	if (ch != EOF)
		ungetc(ch, x->f);
	x->csv = ch == 's';
	if (x->csv) {
		csv_read(x->f, &x->rec);
		x->next_line += x->rec.lines;
		static const char *const header[CSV_MAX_FIELDS] = {
		    "seq", "at", "actor", "lender", "loan_id", "type", "detail", "hash"};
		bool ok = x->rec.n == CSV_MAX_FIELDS;
		for (int i = 0; ok && i < CSV_MAX_FIELDS; i++)
			ok = strcmp(csv_field(&x->rec, i), header[i]) == 0;
		if (!ok)
			return export_bad(x, 1, "not a CSV export (no seq,...,hash header)");
	} else if (ch != EOF && ch != '{') {
		return export_bad(x, 1, "neither a CSV nor a JSON Lines export");
	}
	return true;
}

static void export_close(struct export_file *x)
{
	if (x->f != NULL)
		fclose(x->f);
	csv_free(&x->rec);
	json_decref(x->json);
	free(x->detail);
}

/* The walk over the file: each event chained to the one before it (the
 * first of a file that starts at seq 1 to the genesis), each checkpoint of
 * the side file in the file's range on the event of its seq. */
struct export_walk {
	int64_t count, first_seq, last_seq, first_line, last_line;
	unsigned char prev[AUDIT_HASH_LEN];
	int64_t before; /* checkpoints before the file's first event (signature only) */
	int64_t in_file;
	struct checkpoint newest;
};

static int export_verify(struct cli *cli, struct export_file *x, struct checkpoint_file *k,
                         const struct keys *keys)
{
	struct export_walk w = {0};
	struct export_event e;
	bool got;
	char why[320];
	for (;;) {
		if (!export_next(x, &e, &got))
			return cli_fail(cli, CLI_FAIL, "%s", x->error);
		if (!got)
			break;
		unsigned char stated[AUDIT_HASH_LEN], h[AUDIT_HASH_LEN];
		if (!audit_hash_from_hex(e.hash, stated))
			return cli_fail(cli, CLI_FAIL,
			                "%s: line %" PRId64 " (seq %" PRId64
			                "): its hash is not 64 hex digits",
			                x->path, e.line, e.seq);
		if (w.count > 0 && e.seq != w.last_seq + 1)
			return cli_fail(cli, CLI_FAIL, "%s: line %" PRId64 " (seq %" PRId64 "): %s",
			                x->path, e.line, e.seq,
			                e.seq <= w.last_seq
			                    ? "out of chain order"
			                    : "the event before it is missing (a line "
			                      "was removed)");
		if (w.count > 0 || e.seq == 1) {
			audit_hash_next(w.prev, e.seq, e.at, e.actor, e.lender, e.loan, e.type,
			                e.detail, h);
			if (memcmp(h, stated, AUDIT_HASH_LEN) != 0)
				return cli_fail(
				    cli, CLI_FAIL,
				    "%s: line %" PRId64 " (seq %" PRId64
				    "): hash does not match (the event, or one before it, "
				    "was changed)",
				    x->path, e.line, e.seq);
		} else {
			/* the file's anchor: its hash carries the chain before it */
			memcpy(h, stated, AUDIT_HASH_LEN);
		}
		if (w.count == 0) {
			w.first_seq = e.seq;
			w.first_line = e.line;
		}
		while (k->have && k->c.seq <= e.seq) {
			unsigned char own[AUDIT_HASH_LEN];
			bool before = k->c.seq < w.first_seq;
			/* one before the file: only its signature can be checked */
			if (before && !audit_hash_from_hex(k->c.hash, own))
				memset(own, 0, sizeof(own));
			if (checkpoint_misfit(keys, &k->c, before ? own : h, why, sizeof(why)))
				return cli_fail(
				    cli, CLI_FAIL,
				    "%s: line %" PRId64 " (seq %" PRId64
				    "): checkpoint at seq %" PRId64 " (%s.checkpoints line %" PRId64
				    ") does not fit: %s",
				    x->path, e.line, e.seq, k->c.seq, x->path, k->line, why);
			if (before) {
				w.before++;
			} else {
				w.in_file++;
				w.newest = k->c;
			}
			k->n++;
			if (!checkpoint_next(k))
				return cli_fail(cli, CLI_FAIL, "%s", k->error);
		}
		memcpy(w.prev, h, AUDIT_HASH_LEN);
		w.last_seq = e.seq;
		w.last_line = e.line;
		w.count++;
	}
	if (k->have) {
		/* a checkpoint past the file's end: the end was cut off */
		checkpoint_misfit(keys, &k->c, NULL, why, sizeof(why));
		return cli_fail(cli, CLI_FAIL,
		                "%s: line %" PRId64 ": the file ends at seq %" PRId64
		                ", before the checkpoint at seq %" PRId64
		                " (%s.checkpoints line %" PRId64 "): %s",
		                x->path, w.count > 0 ? w.last_line : x->next_line - 1, w.last_seq,
		                k->c.seq, x->path, k->line, why);
	}
	if (w.count > 0 && w.in_file == 0)
		return cli_fail(cli, CLI_FAIL,
		                "%s: no signed checkpoint in %s.checkpoints falls on its %" PRId64
		                " events (seq %" PRId64 "..%" PRId64 "): nothing vouches for them",
		                x->path, x->path, w.count, w.first_seq, w.last_seq);

	if (w.count == 0) {
		printf("export holds no events\n");
		return CLI_OK;
	}
	printf("export chain intact: %" PRId64 " events (seq %" PRId64 "..%" PRId64
	       ", lines %" PRId64 "..%" PRId64 ")\n",
	       w.count, w.first_seq, w.last_seq, w.first_line, w.last_line);
	char at[TS_BUF];
	ts_format_utc(w.newest.signed_at, at);
	printf("checkpoints: %" PRId64 " verified; the newest at seq %" PRId64
	       " signed %s by key %s; %" PRId64
	       " events after it (a cut after it cannot be seen in an export alone)\n",
	       w.in_file + w.before, w.newest.seq, at, w.newest.key_id, w.last_seq - w.newest.seq);
	if (w.first_seq > 1)
		printf("the first event (seq %" PRId64 ", line %" PRId64
		       ") is the file's anchor: its own fields are covered by the export "
		       "before it\n",
		       w.first_seq, w.first_line);
	return CLI_OK;
}

int cmd_audit_verify_export(struct cli *cli, const struct cli_args *a)
{
	const char *const *files;
	if (cli_opt_all(cli, a, "public-key", &files) == 0)
		return cli_usage(cli, "--public-key FILE.pub is required: the checkpoints are what "
		                      "vouches for the file");
	struct keys *keys = calloc(1, sizeof(*keys));
	if (keys == NULL)
		return cli_fail(cli, CLI_FAIL, "out of memory");
	struct export_file x = {0};
	struct checkpoint_file k = {0};
	char msg[512];
	int rc = load_keys(cli, a, keys);
	if (rc < 0 && !export_open(&x, a->arg[0]))
		rc = cli_fail(cli, CLI_FAIL, "%s", x.error);
	if (rc < 0 && !checkpoint_open(&k, a->arg[0], msg, sizeof(msg)))
		rc = cli_fail(cli, CLI_FAIL, "%s", msg);
	if (rc < 0)
		rc = export_verify(cli, &x, &k, keys);
	checkpoint_close(&k);
	export_close(&x);
	free_keys(keys);
	free(keys);
	return rc;
}

int cmd_audit_keygen(struct cli *cli, const struct cli_args *a)
{
	const char *out = cli_opt(cli, a, "output");
	if (out == NULL || out[0] == '\0' || strcmp(out, "-") == 0)
		return cli_usage(cli, "--output FILE is required (the private key; the public one "
		                      "goes to FILE.pub)");
	char key_id[AUDIT_KEY_ID_BUF], msg[512];
	if (!audit_keygen(out, key_id, msg, sizeof(msg)))
		return cli_fail(cli, CLI_FAIL, "%s", msg);
	printf("private key: %s (mode 0600; for coolingd's [audit] signing_key)\n"
	       "public key:  %s.pub (for the auditors; keep it outside the database)\n"
	       "key id:      %s\n",
	       out, out, key_id);
	return CLI_OK;
}

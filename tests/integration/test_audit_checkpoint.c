/*
 * Signed checkpoints of the audit chain, black box: `coolingctl audit
 * keygen` makes the keys, checkpoints are signed the way coolingd's sealer
 * signs them (lib/audit_sign.c over db_audit_seal_head(), stored with
 * STMT_AUDIT_CHECKPOINT_ADD; tests/e2e/test_audit_sealer.c runs the
 * daemon itself), and `coolingctl audit verify --public-key / --against`
 * must notice what the chain alone cannot: a cut end and a chain recomputed
 * with the schema's own cd_audit_canonical() and sha256(). Tampering is done
 * as a superuser with the triggers off (session_replication_role =
 * replica).
 */
#include "check_main.h"
#include "support/proc.h"
#include "support/testdb.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_sign.h"
#include "db.h"
#include "hex.h"

static const char *coolingd_path;

static const char *const ctl_env[] = {"COOLINGD_DATABASE_URL", "USER=checkpoint-test", NULL};

/* coolingctl -c /dev/null --database URL ARGS... (NULL-terminated; url NULL:
 * no --database). */
#define CTL(r, url, ...) proc_ctl(r, ctl_env, NULL, url, __VA_ARGS__, (const char *)NULL)

#define CTL_OK(url, ...)                                                                           \
	do {                                                                                       \
		struct proc_run ok_;                                                               \
		CTL(&ok_, url, __VA_ARGS__);                                                       \
		ck_assert_msg(ok_.status == 0, "exit %d; stderr: %s", ok_.status, ok_.err);        \
		proc_run_free(&ok_);                                                               \
	} while (0)

static void assert_ok(const struct proc_run *r)
{
	ck_assert_msg(r->status == 0, "exit %d; out: %s err: %s", r->status, r->out, r->err);
}

/* Exit 1, one stderr line holding every text given (up to a NULL). */
__attribute__((sentinel)) static void assert_fails_with(const struct proc_run *r, ...)
{
	ck_assert_msg(r->status == 1, "exit %d, not 1; out: %s err: %s", r->status, r->out, r->err);
	ck_assert_msg(strchr(r->err, '\n') == r->err + strlen(r->err) - 1,
	              "stderr is not one line: %s", r->err);
	va_list ap;
	va_start(ap, r);
	for (const char *t; (t = va_arg(ap, const char *)) != NULL;)
		ck_assert_msg(strstr(r->err, t) != NULL, "stderr \"%s\" lacks \"%s\"", r->err, t);
	va_end(ap);
}

static char *temp_dir(void)
{
	char *d = strdup("/tmp/cd_ckpt_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

/* dir/name, static storage rotating over a few buffers. */
static const char *in_dir(const char *dir, const char *name)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, PATH_MAX, "%s/%s", dir, name);
	return b;
}

/* coolingctl audit keygen --output dir/name. */
static const char *keygen(const char *dir, const char *name)
{
	const char *path = in_dir(dir, name);
	CTL_OK(NULL, "audit", "keygen", "--output", path);
	return path;
}

/* Seals and signs the chain's head with the private key at key_path, as
 * coolingd's sealer does; returns the seq signed. */
static long long sign_head(PGconn *c, const char *key_path)
{
	struct audit_key k;
	char msg[512];
	ck_assert_msg(audit_key_load_private(&k, key_path, msg, sizeof(msg)), "%s", msg);
	struct audit_head h;
	struct cd_error err;
	cd_error_clear(&err);
	ck_assert_msg(db_audit_seal_head(c, k.id, &h, &err), "%s", err.message);
	ck_assert_int_gt(h.seq, 0);
	ck_assert(!h.signed_by_key);
	unsigned char hash[AUDIT_HASH_LEN], sig[AUDIT_SIG_LEN];
	ck_assert(audit_hash_from_hex(h.hash, hash));
	ck_assert(audit_checkpoint_sign(&k, h.seq, hash, h.now_us, sig));
	char sig_hex[AUDIT_SIG_HEX_BUF];
	hex_encode(sig, sizeof(sig), sig_hex);
	bool stored = false;
	ck_assert_msg(
	    db_audit_checkpoint_add(c, h.seq, h.hash, h.now_us, k.id, sig_hex, &stored, &err), "%s",
	    err.message);
	ck_assert(stored);
	/* the head is signed now: the sealer would not sign it again */
	struct audit_head again;
	ck_assert(db_audit_seal_head(c, k.id, &again, &err));
	ck_assert(again.signed_by_key);
	audit_key_free(&k);
	return h.seq;
}

/* Three SQL events (actor "core1"), sealed. */
static void add_events(PGconn *c, const char *loan)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO audit_event (actor, lender_id, loan_id, type, detail) VALUES "
	         "('core1', 'BANK1', '%s', 'approval_recorded', '{\"amount\": 1.10}'), "
	         "('core1', 'BANK1', '%s', 'consent_recorded', '{}'), "
	         "('core1', 'BANK1', '%s', 'disbursement_refused', "
	         "'{\"blockers\": [\"cooling_period_active\"]}')",
	         loan, loan, loan);
	testdb_exec(c, sql);
	testdb_seal(c);
}

/*
 * A fresh database of 9 sealed events with checkpoints signed by key at
 * seq 3, 6 and 9 (the lender comes from coolingctl; its event is seq 1).
 */
static char *checkpointed_database(PGconn **conn, const char *key)
{
	char *url = testdb_create("ckpt");
	CTL_OK(url, "lender", "add", "BANK1", "--kind", "bank");
	PGconn *c = testdb_connect_quiet(url);
	testdb_exec(c, "INSERT INTO audit_event (actor, type, detail) VALUES "
	               "('ops', 'mrp_set', '{}'), ('ops', 'mrp_set', '{\"n\": 2}')");
	testdb_seal(c);
	ck_assert_int_eq(sign_head(c, key), 3);
	add_events(c, "LN-1");
	ck_assert_int_eq(sign_head(c, key), 6);
	add_events(c, "LN-2");
	ck_assert_int_eq(sign_head(c, key), 9);
	*conn = c;
	return url;
}

static void finish(PGconn *c, char *url, char *dir)
{
	PQfinish(c);
	testdb_drop(url);
	free(url);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(dir);
}

/* As the superuser, triggers off: the newest event and its chain entry go. */
#define CUT_THE_END                                                                                \
	"SET session_replication_role = replica; DROP TABLE IF EXISTS gone; "                      \
	"CREATE TEMP TABLE gone AS SELECT seq, event_id FROM audit_chain "                         \
	"  ORDER BY seq DESC LIMIT 1; "                                                            \
	"DELETE FROM audit_chain WHERE seq IN (SELECT seq FROM gone); "                            \
	"DELETE FROM audit_event WHERE id IN (SELECT event_id FROM gone); "                        \
	"SET session_replication_role = origin"

/* As the superuser, triggers off: event seq 5 changed and every hash from
 * it on recomputed with the schema's own functions, so that the chain is
 * consistent again. */
#define REWRITE_FROM_SEQ_5                                                                         \
	"SET session_replication_role = replica; "                                                 \
	"UPDATE audit_event SET detail = '{\"forged\": 1}' "                                       \
	"  WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 5); "                          \
	"DO $$ DECLARE r record; prev bytea; BEGIN "                                               \
	"  SELECT hash INTO prev FROM audit_chain WHERE seq = 4; "                                 \
	"  FOR r IN SELECT c.seq, e.at, e.actor, e.lender_id, e.loan_id, e.type, e.detail "        \
	"      FROM audit_chain c JOIN audit_event e ON e.id = c.event_id "                        \
	"      WHERE c.seq >= 5 ORDER BY c.seq LOOP "                                              \
	"    prev := sha256(prev || cd_audit_canonical(r.seq, r.at, r.actor, r.lender_id, "        \
	"                                               r.loan_id, r.type, r.detail)); "           \
	"    UPDATE audit_chain SET hash = prev WHERE seq = r.seq; "                               \
	"  END LOOP; END $$; "                                                                     \
	"SET session_replication_role = origin"

/* ---- keygen ---- */

START_TEST(test_keygen_writes_a_private_key_0600_and_a_public_key_beside_it)
{
	char *dir = temp_dir();
	const char *key = in_dir(dir, "audit.key"), *pub = in_dir(dir, "audit.key.pub");
	struct proc_run r;
	CTL(&r, NULL, "audit", "keygen", "--output", key);
	assert_ok(&r);
	struct stat st;
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_msg((st.st_mode & 0777) == 0600, "private key mode %o", st.st_mode & 0777);
	ck_assert_int_eq(stat(pub, &st), 0);
	ck_assert_msg((st.st_mode & 0777) == 0644, "public key mode %o", st.st_mode & 0777);

	/* both are Ed25519 PEM keys of one pair, and the id printed is theirs */
	struct audit_key priv, pubs[2];
	int n;
	char msg[512];
	ck_assert_msg(audit_key_load_private(&priv, key, msg, sizeof(msg)), "%s", msg);
	ck_assert_msg(audit_keyring_load(pub, pubs, 2, &n, msg, sizeof(msg)), "%s", msg);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(priv.id, pubs[0].id);
	ck_assert_msg(strstr(r.out, priv.id) != NULL, "key id not printed: %s", r.out);
	unsigned char h[AUDIT_HASH_LEN] = {1, 2, 3}, sig[AUDIT_SIG_LEN];
	ck_assert(audit_checkpoint_sign(&priv, 7, h, 1700000000123456, sig));
	ck_assert(audit_checkpoint_verify(&pubs[0], 7, h, 1700000000123456, sig));
	ck_assert(!audit_checkpoint_verify(&pubs[0], 8, h, 1700000000123456, sig));
	ck_assert(!audit_checkpoint_verify(&pubs[0], 7, h, 1700000000123457, sig));
	audit_key_free(&priv);
	audit_key_free(&pubs[0]);
	proc_run_free(&r);

	/* an existing key is never overwritten */
	char before[4096];
	FILE *f = fopen(key, "r");
	size_t len = fread(before, 1, sizeof(before), f);
	fclose(f);
	CTL(&r, NULL, "audit", "keygen", "--output", key);
	assert_fails_with(&r, key, "File exists", NULL);
	char after[4096];
	f = fopen(key, "r");
	ck_assert_uint_eq(fread(after, 1, sizeof(after), f), len);
	fclose(f);
	ck_assert(memcmp(before, after, len) == 0);
	proc_run_free(&r);

	/* --output is required */
	CTL(&r, NULL, "audit", "keygen");
	ck_assert_int_eq(r.status, 2);
	proc_run_free(&r);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(dir);
}
END_TEST

START_TEST(test_the_signed_message_is_the_documented_byte_string)
{
	unsigned char h[AUDIT_HASH_LEN];
	for (int i = 0; i < AUDIT_HASH_LEN; i++)
		h[i] = (unsigned char)(0xa0 + i);
	char m[AUDIT_CHECKPOINT_MSG_MAX];
	const char *id = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	size_t n = audit_checkpoint_message(42, h, 1767225600000001, id, m);
	const char *want = "coolingd audit checkpoint v1\n"
	                   "42\n"
	                   "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\n"
	                   "1767225600000001\n"
	                   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
	ck_assert_uint_eq(n, strlen(want));
	ck_assert(memcmp(m, want, n) == 0);
}
END_TEST

/* ---- verify --public-key ---- */

START_TEST(test_checkpoints_of_an_intact_chain_verify_with_the_public_key)
{
	char *dir = temp_dir();
	const char *key = keygen(dir, "a.key");
	PGconn *c;
	char *url = checkpointed_database(&c, key);
	char pub[PATH_MAX];
	snprintf(pub, sizeof(pub), "%s.pub", key);
	struct proc_run r;
	CTL(&r, url, "audit", "verify", "--public-key", pub);
	assert_ok(&r);
	ck_assert_msg(strncmp(r.out,
	                      "audit chain intact: 9 events\ncheckpoints: 3 verified; "
	                      "the newest at seq 9 ",
	                      72) == 0,
	              "%s", r.out);
	ck_assert_msg(strstr(r.out, "; 0 events after it\n") != NULL, "%s", r.out);
	proc_run_free(&r);
	finish(c, url, dir);
}
END_TEST

START_TEST(test_a_cut_end_fails_naming_the_checkpoint_though_the_chain_alone_passes)
{
	char *dir = temp_dir();
	const char *key = keygen(dir, "a.key");
	PGconn *c;
	char *url = checkpointed_database(&c, key);
	testdb_exec(c, CUT_THE_END);
	char pub[PATH_MAX];
	snprintf(pub, sizeof(pub), "%s.pub", key);

	/* what verify said before checkpoints: all is well */
	struct proc_run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r);
	ck_assert_str_eq(r.out, "audit chain intact: 8 events\n");
	proc_run_free(&r);

	CTL(&r, url, "audit", "verify", "--public-key", pub);
	assert_fails_with(&r, "checkpoint at seq 9 ", "does not fit",
	                  "the chain has no event at seq 9 (its end was cut off)", NULL);
	ck_assert_str_eq(r.out, "");
	proc_run_free(&r);
	finish(c, url, dir);
}
END_TEST

START_TEST(test_a_chain_recomputed_from_an_event_on_fails_at_the_first_checkpoint_after_it)
{
	char *dir = temp_dir();
	const char *key = keygen(dir, "a.key");
	PGconn *c;
	char *url = checkpointed_database(&c, key);
	testdb_exec(c, REWRITE_FROM_SEQ_5);
	char pub[PATH_MAX];
	snprintf(pub, sizeof(pub), "%s.pub", key);

	struct proc_run r;
	CTL(&r, url, "audit", "verify");
	assert_ok(&r); /* the chain is consistent again */
	ck_assert_str_eq(r.out, "audit chain intact: 9 events\n");
	proc_run_free(&r);

	/* seq 3 is before the change and fits; seq 6 is the first that does not */
	CTL(&r, url, "audit", "verify", "--public-key", pub);
	assert_fails_with(&r, "checkpoint at seq 6 ",
	                  "the chain's hash at seq 6 is not the signed one (the chain was changed "
	                  "or recomputed)",
	                  NULL);
	proc_run_free(&r);
	finish(c, url, dir);
}
END_TEST

START_TEST(test_a_checkpoint_of_another_key_or_with_a_changed_signature_fails)
{
	char *dir = temp_dir();
	const char *a = keygen(dir, "a.key");
	const char *b = keygen(dir, "b.key");
	char apub[PATH_MAX], bpub[PATH_MAX], both[PATH_MAX];
	snprintf(apub, sizeof(apub), "%s.pub", a);
	snprintf(bpub, sizeof(bpub), "%s.pub", b);
	PGconn *c;
	char *url = checkpointed_database(&c, a);
	/* a rotation: key b signs from now on */
	add_events(c, "LN-3");
	ck_assert_int_eq(sign_head(c, b), 12);

	struct audit_key kb[1];
	int n;
	char msg[512];
	ck_assert(audit_keyring_load(bpub, kb, 1, &n, msg, sizeof(msg)));
	struct proc_run r;
	CTL(&r, url, "audit", "verify", "--public-key", apub);
	assert_fails_with(&r, "checkpoint at seq 12 ", kb[0].id,
	                  "which is not among the --public-key keys", NULL);
	proc_run_free(&r);

	/* the old key's checkpoints stay verifiable beside the new key's:
	 * several --public-key, or one file with several keys */
	CTL(&r, url, "audit", "verify", "--public-key", apub, "--public-key", bpub);
	assert_ok(&r);
	ck_assert_msg(strstr(r.out, "checkpoints: 4 verified; the newest at seq 12 ") != NULL, "%s",
	              r.out);
	proc_run_free(&r);
	snprintf(both, sizeof(both), "%s/keyring.pub", dir);
	char cmd[3 * PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "cat %s %s > %s", apub, bpub, both);
	ck_assert_int_eq(system(cmd), 0);
	CTL(&r, url, "audit", "verify", "--public-key", both);
	assert_ok(&r);
	proc_run_free(&r);

	/* a signature changed in place (the database cannot make a good one) */
	testdb_exec(c, "SET session_replication_role = replica; "
	               "UPDATE audit_checkpoint SET signature = "
	               "  set_byte(signature, 0, (get_byte(signature, 0) + 1) % 256) "
	               "WHERE seq = 6; SET session_replication_role = origin");
	CTL(&r, url, "audit", "verify", "--public-key", both);
	assert_fails_with(&r, "checkpoint at seq 6 ", "its signature does not verify", NULL);
	proc_run_free(&r);
	audit_key_free(&kb[0]);
	finish(c, url, dir);
}
END_TEST

START_TEST(test_a_chain_that_has_events_but_no_checkpoint_fails_with_a_public_key)
{
	char *dir = temp_dir();
	const char *key = keygen(dir, "a.key");
	PGconn *c;
	char *url = checkpointed_database(&c, key);
	testdb_exec(c, "SET session_replication_role = replica; DELETE FROM audit_checkpoint; "
	               "SET session_replication_role = origin");
	char pub[PATH_MAX];
	snprintf(pub, sizeof(pub), "%s.pub", key);
	struct proc_run r;
	CTL(&r, url, "audit", "verify", "--public-key", pub);
	assert_fails_with(&r, "no checkpoint anchors the chain of 9 events", NULL);
	proc_run_free(&r);
	finish(c, url, dir);
}
END_TEST

/* ---- verify --against ---- */

/* Exports the whole trail to dir/name in format. */
static const char *export_to(const char *url, const char *dir, const char *name, const char *format)
{
	const char *path = in_dir(dir, name);
	CTL_OK(url, "export", "--format", format, "--output", path);
	return path;
}

START_TEST(test_against_an_earlier_export_passes_then_names_a_rewritten_event)
{
	char *dir = temp_dir();
	const char *key = keygen(dir, "a.key");
	PGconn *c;
	char *url = checkpointed_database(&c, key);
	const char *csv = export_to(url, dir, "x.csv", "csv");
	const char *jsonl = export_to(url, dir, "x.jsonl", "jsonl");
	struct proc_run r;
	CTL(&r, url, "audit", "verify", "--against", csv);
	assert_ok(&r);
	char want[PATH_MAX + 80];
	snprintf(want, sizeof(want), "matches %s: 9 events (seq 1..9), 3 checkpoints\n", csv);
	ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
	proc_run_free(&r);

	testdb_exec(c, REWRITE_FROM_SEQ_5);
	const char *files[] = {csv, jsonl};
	for (int i = 0; i < 2; i++) {
		/* the export's checkpoint side file moved away: the hashes alone */
		char side[PATH_MAX + 16], moved[PATH_MAX + 32];
		snprintf(side, sizeof(side), "%s.checkpoints", files[i]);
		snprintf(moved, sizeof(moved), "%s.away", side);
		ck_assert_int_eq(rename(side, moved), 0);
		CTL(&r, url, "audit", "verify", "--against", files[i]);
		snprintf(want, sizeof(want), "audit chain differs from %s at seq 5: ", files[i]);
		assert_fails_with(&r, want, "was changed since the export", NULL);
		proc_run_free(&r);
		ck_assert_int_eq(rename(moved, side), 0);
	}
	proc_run_free(&r);
	finish(c, url, dir);
}
END_TEST

START_TEST(test_against_an_earlier_export_names_the_first_event_cut_off)
{
	char *dir = temp_dir();
	const char *key = keygen(dir, "a.key");
	PGconn *c;
	char *url = checkpointed_database(&c, key);
	const char *jsonl = export_to(url, dir, "x.jsonl", "jsonl");
	testdb_exec(c, CUT_THE_END);
	testdb_exec(c, CUT_THE_END);
	struct proc_run r;
	CTL(&r, url, "audit", "verify", "--against", jsonl);
	char want[PATH_MAX + 80];
	snprintf(want, sizeof(want), "audit chain differs from %s at seq 8: ", jsonl);
	assert_fails_with(&r, want, "missing from the chain (its end was cut off)", NULL);
	proc_run_free(&r);
	finish(c, url, dir);
}
END_TEST

START_TEST(test_an_export_carries_the_checkpoints_that_anchor_it_after_the_database_lost_them)
{
	char *dir = temp_dir();
	const char *key = keygen(dir, "a.key");
	char pub[PATH_MAX];
	snprintf(pub, sizeof(pub), "%s.pub", key);
	PGconn *c;
	char *url = checkpointed_database(&c, key);
	const char *csv = export_to(url, dir, "x.csv", "csv");
	char side[PATH_MAX + 16];
	snprintf(side, sizeof(side), "%s.checkpoints", csv);
	FILE *f = fopen(side, "r");
	ck_assert_msg(f != NULL, "no %s", side);
	char line[1024];
	int lines = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lines++;
		ck_assert_msg(strncmp(line, "{\"seq\":", 7) == 0 &&
		                  strstr(line, "\"signature\":\""),
		              "%s", line);
	}
	fclose(f);
	ck_assert_int_eq(lines, 3);

	/* the attacker removes every checkpoint, and the export's hashes go
	 * too: only the side file is left, and it still tells */
	testdb_exec(c, "SET session_replication_role = replica; DELETE FROM audit_checkpoint; "
	               "SET session_replication_role = origin");
	testdb_exec(c, REWRITE_FROM_SEQ_5);
	FILE *w = fopen(csv, "w");
	fputs("seq,at,actor,lender,loan_id,type,detail,hash\r\n", w);
	fclose(w);
	struct proc_run r;
	CTL(&r, url, "audit", "verify", "--against", csv, "--public-key", pub);
	char want[PATH_MAX + 80];
	snprintf(want, sizeof(want), "checkpoint at seq 6 of %s.checkpoints does not fit: ", csv);
	assert_fails_with(&r, want, "is not the signed one", NULL);
	proc_run_free(&r);
	finish(c, url, dir);
}
END_TEST

/* ---- the table and the daemon's key ---- */

START_TEST(test_checkpoints_are_append_only_even_for_a_superuser)
{
	char *dir = temp_dir();
	const char *key = keygen(dir, "a.key");
	PGconn *c;
	char *url = checkpointed_database(&c, key);
	static const char *const refused[] = {"UPDATE audit_checkpoint SET seq = seq",
	                                      "DELETE FROM audit_checkpoint",
	                                      "TRUNCATE audit_checkpoint"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		PGresult *res = PQexec(c, refused[i]);
		ck_assert_msg(PQresultStatus(res) == PGRES_FATAL_ERROR, "%s was not refused",
		              refused[i]);
		ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
		PQclear(res);
	}
	ck_assert_int_eq(testdb_num(c, "SELECT count(*) FROM audit_checkpoint", NULL), 3);
	/* the daemon's role may add and read, nothing else */
	ck_assert_int_eq(
	    testdb_num(c,
	               "SELECT (has_table_privilege('coolingd_app', 'audit_checkpoint', "
	               "'INSERT') AND has_table_privilege('coolingd_app', "
	               "'audit_checkpoint', 'SELECT') AND NOT "
	               "has_table_privilege('coolingd_app', 'audit_checkpoint', "
	               "'UPDATE') AND NOT has_table_privilege('coolingd_app', "
	               "'audit_checkpoint', 'DELETE'))::int",
	               NULL),
	    1);
	/* a checkpoint of a hash the chain does not hold is not stored */
	bool stored = true;
	struct cd_error err;
	char sig[AUDIT_SIG_HEX_BUF];
	memset(sig, 'a', AUDIT_SIG_HEX_BUF - 1);
	sig[AUDIT_SIG_HEX_BUF - 1] = '\0';
	ck_assert(db_audit_checkpoint_add(
	    c, 9, "0000000000000000000000000000000000000000000000000000000000000000", 0,
	    "1111111111111111111111111111111111111111111111111111111111111111", sig, &stored,
	    &err));
	ck_assert(!stored);
	finish(c, url, dir);
}
END_TEST

/* coolingd -c /dev/null --check-config with COOLINGD_AUDIT_SIGNING_KEY. */
static void check_config(struct proc_run *r, const char *key)
{
	char env[PATH_MAX + 40];
	snprintf(env, sizeof(env), "COOLINGD_AUDIT_SIGNING_KEY=%s", key);
	const char *const e[] = {env, NULL};
	const char *argv[] = {"coolingd", "-c", "/dev/null", "--check-config", NULL};
	proc_run(r, coolingd_path, argv, NULL, e);
}

START_TEST(test_coolingd_refuses_a_signing_key_that_group_or_others_can_read)
{
	char *dir = temp_dir();
	const char *key = keygen(dir, "a.key");
	struct audit_key k;
	char msg[512];
	ck_assert(audit_key_load_private(&k, key, msg, sizeof(msg)));

	struct proc_run r;
	check_config(&r, key);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	char want[PATH_MAX + 40];
	snprintf(want, sizeof(want), "audit.signing_key = %s\n", key);
	ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
	snprintf(want, sizeof(want), "audit checkpoint key id: %s\n", k.id);
	ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "PRIVATE") == NULL, "the key itself is shown: %s", r.out);
	proc_run_free(&r);

	static const mode_t open_modes[] = {0644, 0640, 0604, 0660};
	for (size_t i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		ck_assert_int_eq(chmod(key, open_modes[i]), 0);
		check_config(&r, key);
		ck_assert_msg(r.status == 1, "mode %o: exit %d", open_modes[i], r.status);
		ck_assert_msg(strstr(r.err, "audit.signing_key: ") != NULL &&
		                  strstr(r.err, "lets group or others at the private key"),
		              "%s", r.err);
		ck_assert_str_eq(r.out, "");
		proc_run_free(&r);
	}

	/* not a key, and no file at all */
	const char *junk = in_dir(dir, "junk.key");
	FILE *f = fopen(junk, "w");
	fputs("not a key\n", f);
	fclose(f);
	ck_assert_int_eq(chmod(junk, 0600), 0);
	check_config(&r, junk);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "audit.signing_key: ") && strstr(r.err, "not an unencrypted "
	                                                                    "PEM private key"),
	              "%s", r.err);
	proc_run_free(&r);
	check_config(&r, in_dir(dir, "missing.key"));
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "audit.signing_key: ") && strstr(r.err, "No such file"), "%s",
	              r.err);
	proc_run_free(&r);
	audit_key_free(&k);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(dir);
}
END_TEST

static void setup(void)
{
	test_bin("coolingctl"); /* exits here when it is not built */
	coolingd_path = test_bin("coolingd");
	umask(022);
}

static Suite *audit_checkpoint_suite(void)
{
	Suite *s = suite_create("audit_checkpoint");
	TCase *tc = tcase_create("checkpoints");
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_keygen_writes_a_private_key_0600_and_a_public_key_beside_it);
	tcase_add_test(tc, test_the_signed_message_is_the_documented_byte_string);
	tcase_add_test(tc, test_checkpoints_of_an_intact_chain_verify_with_the_public_key);
	tcase_add_test(tc,
	               test_a_cut_end_fails_naming_the_checkpoint_though_the_chain_alone_passes);
	tcase_add_test(
	    tc, test_a_chain_recomputed_from_an_event_on_fails_at_the_first_checkpoint_after_it);
	tcase_add_test(tc, test_a_checkpoint_of_another_key_or_with_a_changed_signature_fails);
	tcase_add_test(tc, test_a_chain_that_has_events_but_no_checkpoint_fails_with_a_public_key);
	tcase_add_test(tc, test_against_an_earlier_export_passes_then_names_a_rewritten_event);
	tcase_add_test(tc, test_against_an_earlier_export_names_the_first_event_cut_off);
	tcase_add_test(
	    tc, test_an_export_carries_the_checkpoints_that_anchor_it_after_the_database_lost_them);
	tcase_add_test(tc, test_checkpoints_are_append_only_even_for_a_superuser);
	tcase_add_test(tc, test_coolingd_refuses_a_signing_key_that_group_or_others_can_read);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(audit_checkpoint_suite)

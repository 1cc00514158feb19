/*
 * `coolingctl audit verify-export`, black box, with the database stopped:
 * an auditor holding an export, its FILE.checkpoints and the public key
 * checks them alone. The fixture writes a chain with signed checkpoints,
 * exports it as CSV and JSON Lines (coolingctl export --output), and then
 * stops the test server; every test verifies the files or tampered copies
 * of them, and a failure must name the file's first line that does not fit
 * (the CSV header is line 1; a record over several lines is named by its
 * first).
 *
 * The chain: seq 1 from coolingctl lender add; seq 2 with an actor holding
 * a line break (its CSV record takes lines 3-4) and a detail with a comma
 * and quotes; seq 3; checkpoints signed at seq 3, 6 and 9; seq 10-12 after
 * the newest checkpoint. CSV: seq n >= 3 is on line n + 2; JSON Lines:
 * seq n on line n.
 */
#include "check_main.h"
#include "support/proc.h"
#include "support/testdb.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_sign.h"
#include "db.h"
#include "hex.h"

#define UNREACHABLE "postgresql://nobody@127.0.0.1:1/coolingd"

static const char *const ctl_env[] = {"COOLINGD_DATABASE_URL", NULL};
static char dir[] = "/tmp/cd_xverify_XXXXXX";
static char *db_url;

static const char *in_dir(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, PATH_MAX, "%s/%s", dir, name);
	return b;
}

/* coolingctl -c /dev/null ARGS..., no database. */
#define CTL(r, ...) proc_ctl(r, ctl_env, NULL, NULL, __VA_ARGS__, (const char *)NULL)

static void die(const char *what)
{
	fprintf(stderr, "test_export_verify: %s\n", what);
	exit(1);
}

/* ---- the fixture: a signed chain, exported, and the server stopped ---- */

static void ctl_or_die(const char *what, ...)
{
	va_list ap;
	va_start(ap, what);
	struct proc_run r;
	proc_ctl_v(&r, ctl_env, NULL, db_url, ap);
	va_end(ap);
	if (r.status != 0) {
		fprintf(stderr, "%s: exit %d: %s\n", what, r.status, r.err);
		die(what);
	}
	proc_run_free(&r);
}

/* Seals and signs the chain's head as coolingd's sealer does. */
static void sign_head(PGconn *c, const char *key_path)
{
	struct audit_key k;
	char msg[512];
	if (!audit_key_load_private(&k, key_path, msg, sizeof(msg)))
		die(msg);
	struct audit_head h;
	struct cd_error err;
	cd_error_clear(&err);
	if (!db_audit_seal_head(c, k.id, &h, &err))
		die(err.message);
	unsigned char hash[AUDIT_HASH_LEN], sig[AUDIT_SIG_LEN];
	char sig_hex[AUDIT_SIG_HEX_BUF];
	bool stored = false;
	if (!audit_hash_from_hex(h.hash, hash) ||
	    !audit_checkpoint_sign(&k, h.seq, hash, h.now_us, sig))
		die("cannot sign");
	hex_encode(sig, sizeof(sig), sig_hex);
	if (!db_audit_checkpoint_add(c, h.seq, h.hash, h.now_us, k.id, sig_hex, &stored, &err) ||
	    !stored)
		die("cannot store a checkpoint");
	audit_key_free(&k);
}

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
	PQclear(PQexec(c, sql));
	struct cd_error err;
	cd_error_clear(&err);
	if (db_audit_seal_all(c, &err) < 0)
		die(err.message);
}

static void setup(void)
{
	test_bin("coolingctl"); /* exits here when it is not built */
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	db_url = testdb_create("xverify");
	const char *key = in_dir("audit.key");
	ctl_or_die("keygen", "audit", "keygen", "--output", key, (const char *)NULL);
	ctl_or_die("other keygen", "audit", "keygen", "--output", in_dir("other.key"),
	           (const char *)NULL);
	ctl_or_die("lender add", "lender", "add", "BANK1", "--kind", "bank", (const char *)NULL);
	PGconn *c = testdb_connect_quiet(db_url);
	PQclear(PQexec(c, "INSERT INTO audit_event (actor, type, detail) VALUES "
	                  "(E'ops\\nnight shift', 'mrp_set', '{\"note\": \"a, \\\"b\\\" c\"}')"));
	PQclear(PQexec(c, "INSERT INTO audit_event (actor, type, detail) VALUES "
	                  "('ops', 'mrp_set', '{\"n\": 2}')"));
	struct cd_error err;
	cd_error_clear(&err);
	if (db_audit_seal_all(c, &err) != 3)
		die("sealing seq 1-3");
	sign_head(c, key);
	add_events(c, "LN-1");
	sign_head(c, key);
	add_events(c, "LN-2");
	sign_head(c, key);
	add_events(c, "LN-3");
	PQfinish(c);

	ctl_or_die("export csv", "export", "--output", in_dir("trail.csv"), (const char *)NULL);
	ctl_or_die("export jsonl", "export", "--format", "jsonl", "--output", in_dir("trail.jsonl"),
	           (const char *)NULL);
	if (access(in_dir("trail.csv.checkpoints"), R_OK) != 0)
		die("the export wrote no checkpoints");

	/* from here on there is no database to ask */
	if (!testdb_server_stop())
		die("cannot stop the test server");
}

static void teardown(void)
{
	if (!testdb_server_start())
		fprintf(stderr, "test_export_verify: cannot start the test server again\n");
	testdb_drop(db_url);
	free(db_url);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_export_verify: cannot remove %s\n", dir);
}

/* ---- files ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	char *buf = NULL;
	size_t cap = 0, n = 0, got;
	do {
		cap += 65536;
		buf = realloc(buf, cap);
		ck_assert_ptr_nonnull(buf);
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* src copied to dst with its physical lines from `from` to `to` (1-based,
 * inclusive) left out; to 0: to the end. */
static void copy_without_lines(const char *src, const char *dst, int from, int to)
{
	size_t len;
	char *buf = slurp(src, &len);
	char *out = malloc(len + 1);
	size_t o = 0;
	int line = 1;
	for (size_t i = 0; i < len; i++) {
		bool drop = line >= from && (to == 0 || line <= to);
		if (!drop)
			out[o++] = buf[i];
		if (buf[i] == '\n')
			line++;
	}
	spit(dst, out, o);
	free(out);
	free(buf);
}

/* src copied to dst with the first `from` after the start of physical line
 * `line` replaced by `to` (of the same length: one byte changed or more). */
static void copy_changed(const char *src, const char *dst, int line, const char *from,
                         const char *to)
{
	ck_assert_int_eq(strlen(from), strlen(to));
	size_t len;
	char *buf = slurp(src, &len);
	char *p = buf;
	for (int l = 1; l < line; l++) {
		p = strchr(p, '\n');
		ck_assert_ptr_nonnull(p);
		p++;
	}
	char *hit = strstr(p, from);
	ck_assert_msg(hit != NULL, "line %d of %s lacks %s", line, src, from);
	memcpy(hit, to, strlen(to));
	spit(dst, buf, len);
	free(buf);
}

static void copy_file(const char *src, const char *dst)
{
	size_t len;
	char *buf = slurp(src, &len);
	spit(dst, buf, len);
	free(buf);
}

/* The export name with its checkpoints copied beside it. */
static const char *tampered(const char *name, const char *from_export)
{
	char side_src[PATH_MAX], side_dst[PATH_MAX];
	snprintf(side_src, sizeof(side_src), "%s.checkpoints", in_dir(from_export));
	snprintf(side_dst, sizeof(side_dst), "%s.checkpoints", in_dir(name));
	copy_file(side_src, side_dst);
	return in_dir(name);
}

/* ---- verifying ---- */

static void verify(struct proc_run *r, const char *file)
{
	CTL(r, "--database", UNREACHABLE, "audit", "verify-export", file, "--public-key",
	    in_dir("audit.key.pub"));
}

/* Exit 1, one stderr line holding every text given (up to a NULL). */
__attribute__((sentinel)) static void assert_fails_with(const struct proc_run *r, ...)
{
	ck_assert_msg(r->status == 1, "exit %d, not 1; out: %s err: %s", r->status, r->out, r->err);
	ck_assert_str_eq(r->out, "");
	ck_assert_msg(strchr(r->err, '\n') == r->err + strlen(r->err) - 1,
	              "stderr is not one line: %s", r->err);
	va_list ap;
	va_start(ap, r);
	for (const char *t; (t = va_arg(ap, const char *)) != NULL;)
		ck_assert_msg(strstr(r->err, t) != NULL, "stderr \"%s\" lacks \"%s\"", r->err, t);
	va_end(ap);
}

START_TEST(test_the_server_is_down_for_these_tests)
{
	struct proc_run r;
	CTL(&r, "--database", getenv("COOLINGD_TEST_DATABASE_URL"), "lender", "list");
	ck_assert_int_eq(r.status, 3);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_an_intact_csv_export_verifies_with_no_database)
{
	struct proc_run r;
	verify(&r, in_dir("trail.csv"));
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.out, "export chain intact: 12 events (seq 1..12, lines 2..14)\n") ==
	                  r.out,
	              "%s", r.out);
	ck_assert_msg(strstr(r.out, "checkpoints: 3 verified; the newest at seq 9 signed ") != NULL,
	              "%s", r.out);
	ck_assert_msg(strstr(r.out, "; 3 events after it (a cut after it cannot be seen in an "
	                            "export alone)\n") != NULL,
	              "%s", r.out);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_an_intact_jsonl_export_verifies_with_no_database)
{
	struct proc_run r;
	verify(&r, in_dir("trail.jsonl"));
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.out, "export chain intact: 12 events (seq 1..12, lines 1..12)\n") ==
	                  r.out,
	              "%s", r.out);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_a_changed_byte_is_named_by_its_line)
{
	struct proc_run r;
	/* seq 5 on line 7 */
	copy_changed(in_dir("trail.csv"), tampered("byte.csv", "trail.csv"), 7, "LN-1", "LN-7");
	verify(&r, in_dir("byte.csv"));
	assert_fails_with(&r, "byte.csv: line 7 (seq 5): hash does not match", NULL);
	proc_run_free(&r);

	/* the second line of seq 2's record: named by the record's first */
	copy_changed(in_dir("trail.csv"), tampered("byte2.csv", "trail.csv"), 4, "night shift",
	             "night shifT");
	verify(&r, in_dir("byte2.csv"));
	assert_fails_with(&r, "byte2.csv: line 3 (seq 2): hash does not match", NULL);
	proc_run_free(&r);

	/* a number in a JSON Lines detail */
	copy_changed(in_dir("trail.jsonl"), tampered("byte.jsonl", "trail.jsonl"), 4, "1.10",
	             "1.20");
	verify(&r, in_dir("byte.jsonl"));
	assert_fails_with(&r, "byte.jsonl: line 4 (seq 4): hash does not match", NULL);
	proc_run_free(&r);

	/* a hash itself */
	copy_changed(in_dir("trail.csv"), tampered("hash.csv", "trail.csv"), 12, ",", ",");
	size_t len;
	char *buf = slurp(in_dir("hash.csv"), &len);
	char *l12 = buf;
	for (int l = 1; l < 12; l++)
		l12 = strchr(l12, '\n') + 1;
	char *end = strchr(l12, '\r');
	end[-1] = end[-1] == '0' ? '1' : '0';
	spit(in_dir("hash.csv"), buf, len);
	free(buf);
	verify(&r, in_dir("hash.csv"));
	assert_fails_with(&r, "hash.csv: line 12 (seq 10): hash does not match", NULL);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_a_line_removed_in_the_middle_is_named)
{
	struct proc_run r;
	copy_without_lines(in_dir("trail.csv"), tampered("gap.csv", "trail.csv"), 8, 8);
	verify(&r, in_dir("gap.csv"));
	assert_fails_with(&r, "gap.csv: line 8 (seq 7): the event before it is missing", NULL);
	proc_run_free(&r);

	copy_without_lines(in_dir("trail.jsonl"), tampered("gap.jsonl", "trail.jsonl"), 2, 2);
	verify(&r, in_dir("gap.jsonl"));
	assert_fails_with(&r, "gap.jsonl: line 2 (seq 3): the event before it is missing", NULL);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_a_cut_end_past_a_checkpoint_is_named)
{
	struct proc_run r;
	/* the file ends at seq 7 (line 9); the checkpoint at seq 9 is line 3
	 * of the side file */
	copy_without_lines(in_dir("trail.csv"), tampered("cut.csv", "trail.csv"), 10, 0);
	verify(&r, in_dir("cut.csv"));
	assert_fails_with(&r,
	                  "cut.csv: line 9: the file ends at seq 7, before the checkpoint at seq 9 "
	                  "(",
	                  "cut.csv.checkpoints line 3)", "its end was cut off", NULL);
	proc_run_free(&r);

	/* a cut after the newest checkpoint is what an export alone cannot
	 * show: it passes and says where the signed part ends */
	copy_without_lines(in_dir("trail.csv"), tampered("cut-late.csv", "trail.csv"), 13, 0);
	verify(&r, in_dir("cut-late.csv"));
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.out, "export chain intact: 10 events") == r.out, "%s", r.out);
	ck_assert_msg(strstr(r.out, "the newest at seq 9 ") != NULL, "%s", r.out);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_a_forged_checkpoint_or_another_key_fails)
{
	struct proc_run r;
	const char *file = tampered("forged.csv", "trail.csv");
	copy_file(in_dir("trail.csv"), file);
	char side[PATH_MAX];
	snprintf(side, sizeof(side), "%s.checkpoints", file);
	size_t len;
	char *buf = slurp(side, &len);
	char *l2 = strchr(buf, '\n') + 1;
	char *sig = strstr(l2, "\"signature\":\"") + strlen("\"signature\":\"");
	sig[0] = sig[0] == 'a' ? 'b' : 'a';
	spit(side, buf, len);
	free(buf);
	verify(&r, file);
	assert_fails_with(&r, "forged.csv: line 8 (seq 6): checkpoint at seq 6",
	                  "forged.csv.checkpoints line 2)", "signature does not verify", NULL);
	proc_run_free(&r);

	CTL(&r, "audit", "verify-export", in_dir("trail.csv"), "--public-key",
	    in_dir("other.key.pub"));
	assert_fails_with(&r, "trail.csv: line 5 (seq 3): checkpoint at seq 3",
	                  "not among the --public-key keys", NULL);
	proc_run_free(&r);
}
END_TEST

START_TEST(test_without_checkpoints_or_a_key_nothing_vouches)
{
	struct proc_run r;
	copy_file(in_dir("trail.csv"), in_dir("bare.csv"));
	verify(&r, in_dir("bare.csv"));
	assert_fails_with(&r, "bare.csv: no signed checkpoint", NULL);
	proc_run_free(&r);

	CTL(&r, "audit", "verify-export", in_dir("trail.csv"));
	ck_assert_int_eq(r.status, 2);
	proc_run_free(&r);
}
END_TEST

static Suite *export_verify_suite(void)
{
	Suite *s = suite_create("export_verify");
	TCase *tc = tcase_create("offline");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_the_server_is_down_for_these_tests);
	tcase_add_test(tc, test_an_intact_csv_export_verifies_with_no_database);
	tcase_add_test(tc, test_an_intact_jsonl_export_verifies_with_no_database);
	tcase_add_test(tc, test_a_changed_byte_is_named_by_its_line);
	tcase_add_test(tc, test_a_line_removed_in_the_middle_is_named);
	tcase_add_test(tc, test_a_cut_end_past_a_checkpoint_is_named);
	tcase_add_test(tc, test_a_forged_checkpoint_or_another_key_fails);
	tcase_add_test(tc, test_without_checkpoints_or_a_key_nothing_vouches);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(export_verify_suite)

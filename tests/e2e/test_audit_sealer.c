/*
 * The daemon's side of signed audit checkpoints: with [audit] signing_key,
 * coolingd's sealer signs the chain's head, and `coolingctl audit verify
 * --public-key` accepts what it signed; without a key it warns at start;
 * with a key that group or others can read it does not start at all.
 */
#include "check_main.h"
#include "support/e2e.h"
#include "support/testdb.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *db_url;
static char key_dir[] = "/tmp/cd_e2e_ckpt_XXXXXX";
static char key_path[PATH_MAX], pub_path[PATH_MAX + 8], key_env[PATH_MAX + 40];

static void setup(void)
{
	db_url = testdb_create("e2e_ckpt");
	if (mkdtemp(key_dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(key_path, sizeof(key_path), "%s/audit.key", key_dir);
	snprintf(pub_path, sizeof(pub_path), "%s.pub", key_path);
	snprintf(key_env, sizeof(key_env), "COOLINGD_AUDIT_SIGNING_KEY=%s", key_path);
	int rc = -1;
	char *out = run_ctl(NULL, &rc, "audit keygen --output %s", key_path);
	free(out);
	if (rc != 0) {
		fprintf(stderr, "audit keygen failed: %d\n", rc);
		exit(1);
	}
}

static void teardown(void)
{
	testdb_drop(db_url);
	free(db_url);
	unlink(pub_path);
	unlink(key_path);
	rmdir(key_dir);
}

static long long sql_num(const char *sql)
{
	PGconn *c = testdb_connect_quiet(db_url);
	long long n = testdb_num(c, sql, NULL);
	PQfinish(c);
	return n;
}

/* Waits up to 30 s until a checkpoint names the chain's head and that head
 * is at least min_seq; the head, or 0 when none came. */
static long long wait_head_signed(long long min_seq)
{
	for (long long until = test_now_ms() + 30000; test_now_ms() < until;) {
		long long head = sql_num("SELECT coalesce(max(seq), 0) FROM audit_chain");
		if (head >= min_seq &&
		    sql_num("SELECT count(*) FROM audit_checkpoint k "
		            "WHERE k.seq = (SELECT max(seq) FROM audit_chain)") > 0)
			return head;
		test_sleep_ms(100);
	}
	return 0;
}

START_TEST(test_the_sealer_signs_checkpoints_that_verify_with_the_public_key)
{
	const char *const extra[] = {key_env, NULL};
	struct daemon d;
	ck_assert(daemon_start(&d, db_url, extra));
	ck_assert(e2e_file_has_line(d.log_path, "audit checkpoints on", "key_id"));

	int rc;
	char *out = run_ctl(db_url, &rc, "lender add CKPT1 --kind bank");
	ck_assert_int_eq(rc, 0);
	free(out);
	long long first = wait_head_signed(1);
	ck_assert_msg(first >= 1, "no checkpoint of the chain's head came");

	/* new events: the next head is signed too (at most one a second) */
	out = run_ctl(db_url, &rc, "lender add CKPT2 --kind bank");
	ck_assert_int_eq(rc, 0);
	free(out);
	long long second = wait_head_signed(first + 1);
	ck_assert_msg(second > first, "the new head was not signed");
	ck_assert_int_ge(sql_num("SELECT count(*) FROM audit_checkpoint"), 2);

	out = run_ctl(db_url, &rc, "audit verify --public-key %s", pub_path);
	ck_assert_msg(rc == 0, "verify: exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "checkpoints: ") != NULL && strstr(out, " verified; "), "%s",
	              out);
	free(out);
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(test_a_start_without_a_signing_key_logs_a_warning)
{
	struct daemon d;
	ck_assert(daemon_start(&d, db_url, NULL));
	ck_assert(e2e_file_has_line(d.log_path, "audit checkpoints off", "\"warn"));
	ck_assert_int_eq(daemon_stop(&d), 0);
}
END_TEST

START_TEST(test_a_signing_key_that_others_can_read_keeps_the_daemon_from_starting)
{
	ck_assert_int_eq(chmod(key_path, 0644), 0);
	const char *const extra[] = {key_env, NULL};
	struct daemon d;
	bool started = daemon_start(&d, db_url, extra);
	ck_assert_int_eq(chmod(key_path, 0600), 0);
	if (started)
		daemon_stop(&d);
	ck_assert_msg(!started, "coolingd started with a world-readable signing key");
	ck_assert(e2e_file_has_line(d.log_path, "audit.signing_key", "lets group or others"));
}
END_TEST

static Suite *audit_checkpoint_suite(void)
{
	Suite *s = suite_create("e2e_audit_sealer");
	TCase *tc = tcase_create("sealer");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_the_sealer_signs_checkpoints_that_verify_with_the_public_key);
	tcase_add_test(tc, test_a_start_without_a_signing_key_logs_a_warning);
	tcase_add_test(tc, test_a_signing_key_that_others_can_read_keeps_the_daemon_from_starting);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(audit_checkpoint_suite)

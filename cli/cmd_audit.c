/*
 * coolingctl audit verify: re-computes the audit hash chain in C from the
 * raw columns (lib/audit_hash.c, not the database's cd_audit_canonical), so
 * that a database whose functions were tampered with cannot vouch for
 * itself. It seals what is committed first, so that every event written so
 * far is covered, then walks the chain in seq order and names the first
 * entry that does not fit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit_hash.h"
#include "cli.h"
#include "db.h"
#include "timeutil.h"

struct verify {
	int64_t next_seq; /* the seq the next entry must have */
	unsigned char prev[AUDIT_HASH_LEN];
	int64_t count;
	int64_t broken_seq; /* 0: intact so far */
	const char *why;
};

static bool check_entry(const PGresult *r, void *arg)
{
	struct verify *v = arg;
	int64_t seq = db_int(r, 0, AUDIT_SEQ);
	if (seq != v->next_seq) {
		/* seq is the primary key and comes in order: a jump is an entry
		 * taken out of the chain */
		v->broken_seq = v->next_seq;
		v->why = "missing from the chain (an entry was removed)";
		return false;
	}
	if (strcmp(PQgetvalue(r, 0, AUDIT_EVENT_MISSING), "t") == 0) {
		v->broken_seq = seq;
		v->why = "its event is gone from audit_event (removed)";
		return false;
	}
	unsigned char stored[AUDIT_HASH_LEN], computed[AUDIT_HASH_LEN];
	audit_hash_next(v->prev, seq, db_ts(r, 0, AUDIT_AT), PQgetvalue(r, 0, AUDIT_ACTOR),
	                PQgetisnull(r, 0, AUDIT_LENDER) ? NULL : PQgetvalue(r, 0, AUDIT_LENDER),
	                PQgetisnull(r, 0, AUDIT_LOAN) ? NULL : PQgetvalue(r, 0, AUDIT_LOAN),
	                PQgetvalue(r, 0, AUDIT_TYPE), PQgetvalue(r, 0, AUDIT_DETAIL), computed);
	if (!audit_hash_from_hex(PQgetvalue(r, 0, AUDIT_HASH), stored) ||
	    memcmp(stored, computed, AUDIT_HASH_LEN) != 0) {
		v->broken_seq = seq;
		v->why = "hash does not match (event changed, removed or inserted)";
		return false;
	}
	memcpy(v->prev, stored, AUDIT_HASH_LEN);
	v->next_seq++;
	v->count++;
	return true;
}

int cmd_audit_verify(struct cli *cli, const struct cli_args *a)
{
	(void)a;
	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);

	/* Events committed but not sealed yet would otherwise go unchecked. */
	if (db_audit_seal_all(cli->conn, &err) < 0)
		return cli_db_fail(cli, &err);

	struct verify v = {.next_seq = 1}; /* prev: the genesis, 32 zero bytes */
	if (!db_audit_chain_stream(cli->conn, check_entry, &v, &err) && v.broken_seq == 0)
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

	printf("audit chain intact: %" PRId64 " events\n", v.count);
	return CLI_OK;
}

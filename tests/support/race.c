/* A race of payouts against one registry write on two daemons (race.h). */
#include "support/race.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct racer {
	const struct payout_race *race;
	int k;
	pthread_barrier_t *barrier;
	atomic_int *first_done;
	atomic_bool *write_done;
	int status;
	char decision[16];
	char blockers[128];
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	const struct payout_race *race = r->race;
	char path[160];
	snprintf(path, sizeof path, "/v1/lenders/%s/loans/%s-%d/disbursement", race->lender,
	         race->prefix, r->k);
	pthread_barrier_wait(r->barrier);
	if (r->k >= PAYOUT_RACE_LOANS - PAYOUT_RACE_LAST)
		while (!atomic_load(r->write_done))
			usleep(1000);
	else if (r->k >= PAYOUT_RACE_FIRST)
		usleep((useconds_t)(r->k - PAYOUT_RACE_FIRST) * 4000); /* spread over ~100 ms */
	struct http_resp resp;
	if (http_req(race->ports[r->k % 2], "POST", path, race->token, race->body, NULL, &resp) ==
	    0) {
		r->status = resp.status;
		const char *d =
		    resp.json ? json_string_value(json_object_get(resp.json, "decision")) : NULL;
		snprintf(r->decision, sizeof r->decision, "%s", d ? d : "");
		json_t *b = resp.json ? json_object_get(resp.json, "blockers") : NULL;
		char *s = b ? json_dumps(b, JSON_COMPACT) : NULL;
		snprintf(r->blockers, sizeof r->blockers, "%s", s ? s : "");
		free(s);
		http_resp_free(&resp);
	}
	if (r->k < PAYOUT_RACE_FIRST)
		atomic_fetch_add(r->first_done, 1);
	return NULL;
}

static long long chain_count(const struct e2e_env *env, const struct payout_race *race,
                             const char *type, const char *seq_cmp, const char *seq,
                             const char *and)
{
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT count(*) FROM audit_chain c JOIN audit_event e ON e.id = c.event_id "
	         "WHERE e.loan_id LIKE '%s-%%' AND e.type = '%s' AND c.seq %s $1::bigint%s",
	         race->prefix, type, seq_cmp, and);
	return e2e_sql_num(env, sql, seq, NULL);
}

void payout_race_run(const struct e2e_env *env, const struct payout_race *race)
{
	static struct racer rs[PAYOUT_RACE_LOANS];
	pthread_t th[PAYOUT_RACE_LOANS];
	pthread_barrier_t barrier;
	atomic_int first_done = 0;
	atomic_bool write_done = false;
	pthread_barrier_init(&barrier, NULL, PAYOUT_RACE_LOANS + 1);
	for (int k = 0; k < PAYOUT_RACE_LOANS; k++) {
		rs[k] = (struct racer){.race = race,
		                       .k = k,
		                       .barrier = &barrier,
		                       .first_done = &first_done,
		                       .write_done = &write_done};
		ck_assert_int_eq(pthread_create(&th[k], NULL, racer_main, &rs[k]), 0);
	}
	pthread_barrier_wait(&barrier);
	while (atomic_load(&first_done) < PAYOUT_RACE_FIRST)
		usleep(1000);
	race->write(race->write_arg);
	atomic_store(&write_done, true);
	for (int k = 0; k < PAYOUT_RACE_LOANS; k++)
		pthread_join(th[k], NULL);
	pthread_barrier_destroy(&barrier);

	char only[96];
	snprintf(only, sizeof only, "[\"%s\"]", race->blocker);
	int allowed = 0, refused = 0;
	for (int k = 0; k < PAYOUT_RACE_LOANS; k++) {
		bool ok = rs[k].status == 200 && !strcmp(rs[k].decision, "allowed");
		bool no = rs[k].status == 409 && !strcmp(rs[k].decision, "refused") &&
		          !strcmp(rs[k].blockers, only);
		ck_assert_msg(ok || no, "%s-%d: %d %s %s", race->prefix, k, rs[k].status,
		              rs[k].decision, rs[k].blockers);
		/* before the write: paid; after it was answered: refused */
		if (k < PAYOUT_RACE_FIRST)
			ck_assert_msg(ok, "%s-%d was sent before the write", race->prefix, k);
		if (k >= PAYOUT_RACE_LOANS - PAYOUT_RACE_LAST)
			ck_assert_msg(no, "%s-%d was sent after the write's commit", race->prefix,
			              k);
		allowed += ok;
		refused += no;
	}
	ck_assert_int_eq(allowed + refused, PAYOUT_RACE_LOANS);
	/* the records agree with the answers */
	char like[80];
	snprintf(like, sizeof like, "%s-%%", race->prefix);
	ck_assert_int_eq(e2e_sql_num(env,
	                             "SELECT count(*) FROM loan WHERE loan_id LIKE $1 "
	                             "AND disbursed_at IS NOT NULL",
	                             like, NULL),
	                 allowed);
	/* and the trail tells the order: every allowed payout's transaction
	 * comes before the write's in the chain, every refusal of a payout
	 * after it */
	char where[512];
	snprintf(where, sizeof where, "e.loan_id LIKE '%s-%%' OR (%s)", race->prefix,
	         race->event_where);
	e2e_seal_until(env, where, race->event_param);
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT c.seq FROM audit_chain c JOIN audit_event e ON e.id = c.event_id "
	         "WHERE %s",
	         race->event_where);
	char seq[24];
	snprintf(seq, sizeof seq, "%lld", e2e_sql_num(env, sql, race->event_param, NULL));
	ck_assert_int_eq(chain_count(env, race, "disbursement_allowed", "<", seq, ""), allowed);
	char and[128];
	snprintf(and, sizeof and, " AND e.detail->'blockers' ? '%s'", race->blocker);
	ck_assert_int_eq(chain_count(env, race, "disbursement_refused", ">", seq, and), refused);
	fprintf(stderr, "%s: race: %d allowed before the write, %d refused after it\n",
	        race->prefix, allowed, refused);
}

/*
 * A race of payouts against one registry write (a voluntary refusal, a
 * suspicious payee's flag, a fraud claim) on two daemons sharing one
 * database: the guarantee of each registry is that no payout is allowed
 * once the write's answer was given, and that the sealed chain orders every
 * allowed payout before the write and every refusal after it.
 */
#ifndef CD_TEST_RACE_H
#define CD_TEST_RACE_H

#include "support/e2e.h"

#define PAYOUT_RACE_LOANS 40
#define PAYOUT_RACE_FIRST 5  /* answered before the write is sent */
#define PAYOUT_RACE_LAST  10 /* sent once the write was answered */

struct payout_race {
	/* the loans PREFIX-0 .. PREFIX-39 of lender, each eligible; even ones
	 * paid through ports[0], odd ones through ports[1] */
	int ports[2];
	const char *token, *lender, *prefix;
	const char *body; /* of every disbursement */
	/* the write, made and its answer asserted; after it returns, the last
	 * PAYOUT_RACE_LAST payouts are sent */
	void (*write)(void *arg);
	void *write_arg;
	/* what the write makes a refused payout's only blocker */
	const char *blocker;
	/* the write's audit event: a condition on e (audit_event) with $1 for
	 * event_param, which may be filled by write */
	const char *event_where;
	const char *event_param;
};

/* Runs the race and asserts the guarantee: every answer allowed, or
 * refused with the blocker alone; the first ones allowed and the last ones
 * refused; the loans' records agree; and in the sealed chain every allowed
 * payout comes before the write's event and every refusal after it. */
void payout_race_run(const struct e2e_env *env, const struct payout_race *race);

#endif

/*
 * The lending rules, as data plus the two functions that apply them:
 * policy_assess() fixes, at approval, what a loan must go through (cooling,
 * in-person visit); loan_evaluate() says, at a given "now", what still stands
 * in the way of paying it out. This file is where "the 24-hour rule" lives.
 *
 * The SQL guard of a disbursement (db.c, GUARD) must agree with
 * loan_evaluate(): tests/integration/test_gate_agreement.c checks both on the
 * same loans.
 */
#ifndef CD_POLICY_H
#define CD_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "cd_error.h"

#define ID_MAX          64
#define ID_BUF          (ID_MAX + 1)
#define POLICY_NAME_BUF 32

enum channel { CHANNEL_ONLINE, CHANNEL_BRANCH };

/* A profile of the rules. Every number is data, so that a profile can be
 * tuned by configuration without touching the code that applies it. */
struct policy {
	char name[POLICY_NAME_BUF];
	int64_t cooling_period_s; /* wait after consent for a cooled loan */
	int64_t threshold_mrp;    /* cooled when amount > threshold_mrp x MRP */
	bool cool_online;         /* which channels are cooled */
	bool cool_branch;
};

/* Fills p with a named profile's defaults; false for an unknown name. */
bool policy_profile(const char *name, struct policy *p);

enum blocker {
	BLOCKER_CANCELLED,
	BLOCKER_ALREADY_DISBURSED,
	BLOCKER_VOLUNTARY_REFUSAL_ACTIVE,
	BLOCKER_CONSENT_MISSING,
	BLOCKER_COOLING_PERIOD_ACTIVE,
	BLOCKER_IN_PERSON_VERIFICATION_MISSING,
	BLOCKER__COUNT
};

enum loan_status {
	STATUS_CANCELLED,
	STATUS_DISBURSED,
	STATUS_BLOCKED_BY_REFUSAL,
	STATUS_AWAITING_CONSENT,
	STATUS_COOLING,
	STATUS_AWAITING_IN_PERSON,
	STATUS_ELIGIBLE
};

const char *blocker_name(enum blocker b);
const char *status_name(enum loan_status s);
const char *channel_name(enum channel c);
bool channel_parse(const char *s, enum channel *c);

/* A loan as recorded. Timestamps are microseconds UTC, TS_NULL when absent. */
struct loan {
	int64_t pk; /* database row id, 0 before insertion */
	char lender[ID_BUF];
	char loan_id[ID_BUF];
	char borrower_iin[13];
	int64_t amount_tiyn;
	enum channel channel;
	bool secured;
	bool first_time_borrower;
	bool first_time_given; /* stated by the lender, not derived */

	/* fixed at approval by policy_assess() */
	char policy[POLICY_NAME_BUF];
	int64_t mrp_tenge;
	int64_t threshold_tiyn;
	bool cooling_required;
	int64_t cooling_period_s; /* 0 when not required */
	bool in_person_required;

	int64_t approved_at;
	int64_t consent_at;
	int64_t cooling_ends_at;
	int64_t in_person_verified_at;
	char in_person_branch_id[ID_BUF];
	char in_person_officer_id[ID_BUF];
	int64_t disbursed_at;
	int64_t cancelled_at;
	char cancel_reason[801]; /* 200 characters of up to 4 bytes */

	/* read, not recorded: a voluntary refusal of the borrower is active
	 * at the database's now (cd_refusal_active) */
	bool voluntary_refusal_active;
};

/* Fills the approval-time fields of l (policy, mrp, threshold, cooling,
 * in-person) from its amount, channel, secured and first-time flags, and the
 * MRP in force on the local date of its approval. A branch loan counts as
 * verified in person at approved_at. */
void policy_assess(const struct policy *p, int64_t mrp_tenge, struct loan *l);

/* consent_at + period for a cooled loan, TS_NULL otherwise. */
int64_t policy_cooling_ends_at(const struct loan *l, int64_t consent_at);

struct loan_view {
	unsigned blockers; /* bit (1u << enum blocker) */
	enum loan_status status;
	int64_t earliest_disbursement_at; /* TS_NULL when an act is missing */
};

/* What stands in the way of a disbursement at `now`, in the contract's
 * order, the status that the first blocker decides, and when only time is
 * in the way, when it ends. */
void loan_evaluate(const struct loan *l, int64_t now, struct loan_view *v);

static inline bool loan_view_has(const struct loan_view *v, enum blocker b)
{
	return (v->blockers & (1u << b)) != 0;
}

/* Seconds until the cooling period ends, rounded up, for Retry-After; 0 when
 * cooling is not the only blocker. */
int64_t loan_retry_after(const struct loan *l, const struct loan_view *v, int64_t now);

#endif

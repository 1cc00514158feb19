/*
 * The rules of the kz-card profile (and room for more): which loans are
 * cooled and for how long, who must come in person, and what blocks a
 * payout at a given moment. See REGULATION.md.
 */
#include "policy.h"

#include <stdio.h>
#include <string.h>

#include "timeutil.h"

static const struct policy profiles[] = {
    /* kz-card: online loans above 150 MRP wait 24 hours after consent. */
    {.name = "kz-card",
     .cooling_period_s = 24 * 3600,
     .threshold_mrp = 150,
     .cool_online = true,
     .cool_branch = false},
};

bool policy_profile(const char *name, struct policy *p)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		if (strcmp(profiles[i].name, name) == 0) {
			*p = profiles[i];
			return true;
		}
	}
	return false;
}

static const char *const blocker_names[BLOCKER__COUNT] = {
    [BLOCKER_CANCELLED] = "cancelled",
    [BLOCKER_ALREADY_DISBURSED] = "already_disbursed",
    [BLOCKER_VOLUNTARY_REFUSAL_ACTIVE] = "voluntary_refusal_active",
    [BLOCKER_CONSENT_MISSING] = "consent_missing",
    [BLOCKER_COOLING_PERIOD_ACTIVE] = "cooling_period_active",
    [BLOCKER_IN_PERSON_VERIFICATION_MISSING] = "in_person_verification_missing",
};

static const char *const status_names[] = {
    [STATUS_CANCELLED] = "cancelled",
    [STATUS_DISBURSED] = "disbursed",
    [STATUS_BLOCKED_BY_REFUSAL] = "blocked_by_refusal",
    [STATUS_AWAITING_CONSENT] = "awaiting_consent",
    [STATUS_COOLING] = "cooling",
    [STATUS_AWAITING_IN_PERSON] = "awaiting_in_person",
    [STATUS_ELIGIBLE] = "eligible",
};

/* The status named after each blocker, when it is the first one. */
static const enum loan_status status_of_blocker[BLOCKER__COUNT] = {
    [BLOCKER_CANCELLED] = STATUS_CANCELLED,
    [BLOCKER_ALREADY_DISBURSED] = STATUS_DISBURSED,
    [BLOCKER_VOLUNTARY_REFUSAL_ACTIVE] = STATUS_BLOCKED_BY_REFUSAL,
    [BLOCKER_CONSENT_MISSING] = STATUS_AWAITING_CONSENT,
    [BLOCKER_COOLING_PERIOD_ACTIVE] = STATUS_COOLING,
    [BLOCKER_IN_PERSON_VERIFICATION_MISSING] = STATUS_AWAITING_IN_PERSON,
};

const char *blocker_name(enum blocker b)
{
	return b < BLOCKER__COUNT ? blocker_names[b] : "unknown";
}

const char *status_name(enum loan_status s)
{
	return s <= STATUS_ELIGIBLE ? status_names[s] : "unknown";
}

const char *channel_name(enum channel c)
{
	return c == CHANNEL_BRANCH ? "branch" : "online";
}

bool channel_parse(const char *s, enum channel *c)
{
	if (strcmp(s, "online") == 0) {
		*c = CHANNEL_ONLINE;
		return true;
	}
	if (strcmp(s, "branch") == 0) {
		*c = CHANNEL_BRANCH;
		return true;
	}
	return false;
}

void policy_assess(const struct policy *p, int64_t mrp_tenge, struct loan *l)
{
	snprintf(l->policy, sizeof(l->policy), "%s", p->name);
	l->mrp_tenge = mrp_tenge;
	/* threshold in tiyn: MRP is whole tenge, so x100 */
	l->threshold_tiyn = p->threshold_mrp * mrp_tenge * 100;

	bool channel_cooled = l->channel == CHANNEL_ONLINE ? p->cool_online : p->cool_branch;
	/* strictly more than the threshold is cooled; equal is not */
	l->cooling_required = channel_cooled && l->amount_tiyn > l->threshold_tiyn;
	l->cooling_period_s = l->cooling_required ? p->cooling_period_s : 0;

	l->in_person_required = !l->secured && l->first_time_borrower;
	if (l->channel == CHANNEL_BRANCH && l->in_person_verified_at == TS_NULL)
		l->in_person_verified_at = l->approved_at;
}

int64_t policy_cooling_ends_at(const struct loan *l, int64_t consent_at)
{
	if (!l->cooling_required || consent_at == TS_NULL)
		return TS_NULL;
	return consent_at + l->cooling_period_s * USEC_PER_SEC;
}

void loan_evaluate(const struct loan *l, int64_t now, struct loan_view *v)
{
	unsigned b = 0;
	if (l->cancelled_at != TS_NULL)
		b |= 1u << BLOCKER_CANCELLED;
	if (l->disbursed_at != TS_NULL)
		b |= 1u << BLOCKER_ALREADY_DISBURSED;
	/* under every profile: the borrower refused credit (REGULATION.md) */
	if (l->voluntary_refusal_active)
		b |= 1u << BLOCKER_VOLUNTARY_REFUSAL_ACTIVE;
	if (l->consent_at == TS_NULL)
		b |= 1u << BLOCKER_CONSENT_MISSING;
	else if (l->cooling_required && (l->cooling_ends_at == TS_NULL || now < l->cooling_ends_at))
		/* a missing end cannot be stored (a CHECK); if it were, it would hold */
		b |= 1u << BLOCKER_COOLING_PERIOD_ACTIVE;
	if (l->in_person_required && l->in_person_verified_at == TS_NULL)
		b |= 1u << BLOCKER_IN_PERSON_VERIFICATION_MISSING;

	v->blockers = b;
	v->status = STATUS_ELIGIBLE;
	for (int i = 0; i < BLOCKER__COUNT; i++) {
		if (b & (1u << i)) {
			v->status = status_of_blocker[i];
			break;
		}
	}

	/* Time alone can end only the cooling period; every other blocker
	 * needs an act (or can never be lifted, or, a refusal, its
	 * withdrawal). */
	if (b == 0)
		v->earliest_disbursement_at = now;
	else if (b == (1u << BLOCKER_COOLING_PERIOD_ACTIVE) && l->cooling_ends_at != TS_NULL)
		v->earliest_disbursement_at = l->cooling_ends_at;
	else
		v->earliest_disbursement_at = TS_NULL;
}

int64_t loan_retry_after(const struct loan *l, const struct loan_view *v, int64_t now)
{
	if (v->blockers != (1u << BLOCKER_COOLING_PERIOD_ACTIVE))
		return 0;
	int64_t left = l->cooling_ends_at - now;
	if (left <= 0)
		return 0;
	return (left + USEC_PER_SEC - 1) / USEC_PER_SEC;
}

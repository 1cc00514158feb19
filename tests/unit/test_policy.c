/*
 * Unit tests of the lending rules (CONTRACT.md, "The loan"; REGULATION.md,
 * profile kz-card): which loans are cooled (online and strictly above
 * threshold_mrp x MRP), for how long, who must come in person, what blocks a
 * payout at a given moment and in which order, the status the first blocker
 * decides, earliest_disbursement_at, Retry-After, and the name tables.
 */
#include "check_main.h"
#include "policy.h"
#include "timeutil.h"

#include <string.h>

#define MRP_2025  3932
#define MRP_2026  4325
#define HOUR_US   (3600 * USEC_PER_SEC)
#define MINUTE_US (60 * USEC_PER_SEC)

static int64_t T(const char *s)
{
	int64_t v = 0;
	const char *why = NULL;

	ck_assert_msg(ts_parse_rfc3339(s, &v, &why), "\"%s\": %s", s, why);
	return v;
}

static struct policy kz_card(void)
{
	struct policy p;

	ck_assert(policy_profile("kz-card", &p));
	return p;
}

/* A loan as the approval handler builds it before policy_assess(). */
static struct loan new_loan(int64_t amount_tiyn, enum channel ch, bool secured, bool first_time)
{
	struct loan l;

	memset(&l, 0, sizeof(l));
	strcpy(l.lender, "BANK1");
	strcpy(l.loan_id, "LN-1");
	strcpy(l.borrower_iin, "900101300126");
	l.amount_tiyn = amount_tiyn;
	l.channel = ch;
	l.secured = secured;
	l.first_time_borrower = first_time;
	l.first_time_given = true;
	l.approved_at = T("2025-06-15T10:00:00+05:00");
	l.consent_at = TS_NULL;
	l.cooling_ends_at = TS_NULL;
	l.in_person_verified_at = TS_NULL;
	l.disbursed_at = TS_NULL;
	l.cancelled_at = TS_NULL;
	l.extra_confirmed_at = TS_NULL;
	l.reconfirmed_at = TS_NULL;
	l.control_called_at = TS_NULL;
	return l;
}

static struct loan assessed(int64_t amount_tiyn, enum channel ch, bool secured, bool first_time)
{
	struct policy p = kz_card();
	struct loan l = new_loan(amount_tiyn, ch, secured, first_time);

	policy_assess(&p, MRP_2025, &l);
	return l;
}

/* The consent act: records consent_at and starts the clock. */
static void consent(struct loan *l, int64_t at)
{
	l->consent_at = at;
	l->cooling_ends_at = policy_cooling_ends_at(l, at);
}

static struct loan_view evaluate(const struct loan *l, int64_t now)
{
	struct loan_view v;

	memset(&v, 0xA5, sizeof(v));
	loan_evaluate(l, now, &v);
	return v;
}

#define BIT(b) (1u << (b))

/* ---- profiles ---------------------------------------------------------- */

START_TEST(test_kz_card_profile_cools_online_loans_above_150_mrp_for_24_hours)
{
	struct policy p = kz_card();

	ck_assert_str_eq(p.name, "kz-card");
	ck_assert_int_eq(p.cooling_period_s, 86400);
	ck_assert_int_eq(p.threshold_mrp, 150);
	ck_assert(p.cool_online);
	ck_assert(!p.cool_branch);
}
END_TEST

START_TEST(test_unknown_profile_is_refused)
{
	struct policy p;

	ck_assert(!policy_profile("kz-2099", &p));
	ck_assert(!policy_profile("", &p));
	ck_assert(!policy_profile("KZ-CARD", &p));
}
END_TEST

/* ---- policy_assess: threshold and cooling ------------------------------ */

START_TEST(test_threshold_is_150_mrp_in_tiyn)
{
	struct loan l = assessed(100, CHANNEL_ONLINE, false, false);

	ck_assert_int_eq(l.threshold_tiyn, 150 * MRP_2025 * 100);
	ck_assert_int_eq(l.threshold_tiyn, 58980000); /* 589,800.00 tenge */
}
END_TEST

START_TEST(test_threshold_follows_the_mrp_given_for_the_approval_date)
{
	struct policy p = kz_card();
	struct loan l = new_loan(100, CHANNEL_ONLINE, false, false);

	policy_assess(&p, MRP_2026, &l);
	ck_assert_int_eq(l.threshold_tiyn, 64875000); /* 648,750.00 tenge */
	ck_assert_int_eq(l.mrp_tenge, MRP_2026);
}
END_TEST

START_TEST(test_amount_equal_to_threshold_is_not_cooled)
{
	struct loan l = assessed(58980000, CHANNEL_ONLINE, false, false);

	ck_assert(!l.cooling_required);
	ck_assert_int_eq(l.cooling_period_s, 0);
}
END_TEST

START_TEST(test_one_tiyn_above_threshold_is_cooled)
{
	struct loan l = assessed(58980001, CHANNEL_ONLINE, false, false);

	ck_assert(l.cooling_required);
}
END_TEST

START_TEST(test_amount_below_threshold_is_not_cooled)
{
	ck_assert(!assessed(58979999, CHANNEL_ONLINE, false, false).cooling_required);
	ck_assert(!assessed(1, CHANNEL_ONLINE, false, false).cooling_required);
}
END_TEST

START_TEST(test_threshold_boundary_moves_with_the_mrp)
{
	struct policy p = kz_card();
	struct loan at = new_loan(64875000, CHANNEL_ONLINE, false, false);
	struct loan above = new_loan(64875001, CHANNEL_ONLINE, false, false);
	struct loan old_above = new_loan(58980001, CHANNEL_ONLINE, false, false);

	policy_assess(&p, MRP_2026, &at);
	policy_assess(&p, MRP_2026, &above);
	policy_assess(&p, MRP_2026, &old_above);
	ck_assert(!at.cooling_required);
	ck_assert(above.cooling_required);
	/* Above the 2025 threshold but not the 2026 one. */
	ck_assert(!old_above.cooling_required);
}
END_TEST

START_TEST(test_cooling_period_of_a_cooled_loan_comes_from_the_policy)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, false, false);

	ck_assert(l.cooling_required);
	ck_assert_int_eq(l.cooling_period_s, 86400);
}
END_TEST

START_TEST(test_branch_loan_is_never_cooled)
{
	ck_assert(!assessed(58980001, CHANNEL_BRANCH, false, true).cooling_required);
	ck_assert(!assessed(99999999999999, CHANNEL_BRANCH, false, false).cooling_required);
	ck_assert_int_eq(assessed(99999999999999, CHANNEL_BRANCH, true, false).cooling_period_s, 0);
}
END_TEST

START_TEST(test_assessment_records_policy_name_and_mrp)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, false, true);

	ck_assert_str_eq(l.policy, "kz-card");
	ck_assert_int_eq(l.mrp_tenge, MRP_2025);
}
END_TEST

/* ---- policy_assess: in-person visit ------------------------------------ */

START_TEST(test_in_person_required_iff_unsecured_and_first_time)
{
	for (int ch = CHANNEL_ONLINE; ch <= CHANNEL_BRANCH; ch++) {
		ck_assert(assessed(60000000, (enum channel)ch, false, true).in_person_required);
		ck_assert(!assessed(60000000, (enum channel)ch, true, true).in_person_required);
		ck_assert(!assessed(60000000, (enum channel)ch, false, false).in_person_required);
		ck_assert(!assessed(60000000, (enum channel)ch, true, false).in_person_required);
	}
	/* Independent of the amount: a small first unsecured loan too. */
	ck_assert(assessed(100, CHANNEL_ONLINE, false, true).in_person_required);
}
END_TEST

START_TEST(test_branch_loan_is_verified_in_person_at_approved_at)
{
	struct loan l = assessed(60000000, CHANNEL_BRANCH, false, true);

	ck_assert(l.in_person_required);
	ck_assert_int_eq(l.in_person_verified_at, l.approved_at);
}
END_TEST

START_TEST(test_online_loan_is_not_verified_in_person_by_assessment)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, false, true);

	ck_assert_int_eq(l.in_person_verified_at, TS_NULL);
}
END_TEST

/* ---- rules are data ---------------------------------------------------- */

START_TEST(test_custom_threshold_and_period_are_honoured)
{
	struct policy p = kz_card();
	p.threshold_mrp = 75;
	p.cooling_period_s = 8 * 3600;
	strcpy(p.name, "custom");

	struct loan at = new_loan(75 * MRP_2025 * 100, CHANNEL_ONLINE, false, false);
	struct loan above = new_loan(75 * MRP_2025 * 100 + 1, CHANNEL_ONLINE, false, false);
	policy_assess(&p, MRP_2025, &at);
	policy_assess(&p, MRP_2025, &above);

	ck_assert_int_eq(at.threshold_tiyn, 29490000);
	ck_assert(!at.cooling_required);
	ck_assert(above.cooling_required);
	ck_assert_int_eq(above.cooling_period_s, 28800);
	ck_assert_str_eq(above.policy, "custom");

	int64_t c = T("2025-06-15T10:05:00+05:00");
	ck_assert_int_eq(policy_cooling_ends_at(&above, c), c + 8 * HOUR_US);
}
END_TEST

START_TEST(test_policy_that_cools_branch_loans_cools_them)
{
	struct policy p = kz_card();
	p.cool_branch = true;
	p.cool_online = false;

	struct loan branch = new_loan(60000000, CHANNEL_BRANCH, true, false);
	struct loan online = new_loan(60000000, CHANNEL_ONLINE, true, false);
	policy_assess(&p, MRP_2025, &branch);
	policy_assess(&p, MRP_2025, &online);
	ck_assert(branch.cooling_required);
	ck_assert(!online.cooling_required);
}
END_TEST

START_TEST(test_zero_threshold_cools_every_online_loan)
{
	struct policy p = kz_card();
	p.threshold_mrp = 0;

	struct loan l = new_loan(1, CHANNEL_ONLINE, true, false);
	policy_assess(&p, MRP_2025, &l);
	ck_assert(l.cooling_required);
}
END_TEST

/* ---- policy_cooling_ends_at -------------------------------------------- */

START_TEST(test_cooling_ends_at_is_consent_plus_period)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, false, false);
	int64_t c = T("2025-06-15T10:05:00+05:00");

	ck_assert_int_eq(policy_cooling_ends_at(&l, c), T("2025-06-16T05:05:00Z"));
	ck_assert_int_eq(policy_cooling_ends_at(&l, c), c + 86400 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_cooling_ends_at_is_null_when_not_cooled)
{
	struct loan l = assessed(58980000, CHANNEL_ONLINE, false, false);

	ck_assert_int_eq(policy_cooling_ends_at(&l, T("2025-06-15T10:05:00+05:00")), TS_NULL);
}
END_TEST

START_TEST(test_cooling_ends_at_is_null_without_consent)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, false, false);

	ck_assert_int_eq(policy_cooling_ends_at(&l, TS_NULL), TS_NULL);
}
END_TEST

/* ---- loan_evaluate: single blockers ------------------------------------ */

START_TEST(test_loan_with_no_blocker_is_eligible_now)
{
	struct loan l = assessed(100000, CHANNEL_ONLINE, true, false);
	int64_t now = T("2025-06-15T11:00:00+05:00");

	consent(&l, T("2025-06-15T10:05:00+05:00"));
	struct loan_view v = evaluate(&l, now);
	ck_assert_uint_eq(v.blockers, 0);
	ck_assert_int_eq(v.status, STATUS_ELIGIBLE);
	ck_assert_int_eq(v.earliest_disbursement_at, now);
}
END_TEST

START_TEST(test_cancelled_loan_is_blocked_for_ever)
{
	struct loan l = assessed(100000, CHANNEL_ONLINE, true, false);
	consent(&l, T("2025-06-15T10:05:00+05:00"));
	l.cancelled_at = T("2025-06-15T10:10:00+05:00");

	struct loan_view v = evaluate(&l, T("2025-06-15T11:00:00+05:00"));
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_CANCELLED));
	ck_assert(loan_view_has(&v, BLOCKER_CANCELLED));
	ck_assert_int_eq(v.status, STATUS_CANCELLED);
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);
}
END_TEST

START_TEST(test_disbursed_loan_is_not_paid_twice)
{
	struct loan l = assessed(100000, CHANNEL_ONLINE, true, false);
	consent(&l, T("2025-06-15T10:05:00+05:00"));
	l.disbursed_at = T("2025-06-15T10:10:00+05:00");

	struct loan_view v = evaluate(&l, T("2025-06-15T11:00:00+05:00"));
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_ALREADY_DISBURSED));
	ck_assert_int_eq(v.status, STATUS_DISBURSED);
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);
}
END_TEST

START_TEST(test_loan_without_consent_awaits_consent)
{
	struct loan l = assessed(100000, CHANNEL_ONLINE, true, false);

	struct loan_view v = evaluate(&l, T("2025-06-15T11:00:00+05:00"));
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_CONSENT_MISSING));
	ck_assert_int_eq(v.status, STATUS_AWAITING_CONSENT);
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);
}
END_TEST

START_TEST(test_cooled_loan_without_consent_awaits_consent_and_has_no_earliest_time)
{
	/* The clock starts at consent: before it, the missing act blocks. */
	struct loan l = assessed(60000000, CHANNEL_ONLINE, true, false);

	struct loan_view v = evaluate(&l, T("2025-06-15T11:00:00+05:00"));
	ck_assert(loan_view_has(&v, BLOCKER_CONSENT_MISSING));
	ck_assert_int_eq(v.status, STATUS_AWAITING_CONSENT);
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);
}
END_TEST

START_TEST(test_cooling_as_only_blocker_gives_cooling_ends_at)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, true, false);
	consent(&l, T("2025-06-15T10:05:00+05:00"));

	struct loan_view v = evaluate(&l, T("2025-06-15T11:00:00+05:00"));
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_COOLING_PERIOD_ACTIVE));
	ck_assert_int_eq(v.status, STATUS_COOLING);
	ck_assert_int_eq(v.earliest_disbursement_at, T("2025-06-16T05:05:00Z"));
}
END_TEST

START_TEST(test_missing_visit_alone_awaits_in_person_with_no_earliest_time)
{
	struct loan l = assessed(100000, CHANNEL_ONLINE, false, true);
	consent(&l, T("2025-06-15T10:05:00+05:00"));

	struct loan_view v = evaluate(&l, T("2025-06-15T11:00:00+05:00"));
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_IN_PERSON_VERIFICATION_MISSING));
	ck_assert_int_eq(v.status, STATUS_AWAITING_IN_PERSON);
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);
}
END_TEST

START_TEST(test_in_person_visit_lifts_its_blocker)
{
	struct loan l = assessed(100000, CHANNEL_ONLINE, false, true);
	consent(&l, T("2025-06-15T10:05:00+05:00"));
	l.in_person_verified_at = T("2025-06-15T10:30:00+05:00");

	struct loan_view v = evaluate(&l, T("2025-06-15T11:00:00+05:00"));
	ck_assert_uint_eq(v.blockers, 0);
	ck_assert_int_eq(v.status, STATUS_ELIGIBLE);
}
END_TEST

START_TEST(test_branch_loan_of_first_time_borrower_needs_no_further_visit)
{
	struct loan l = assessed(60000000, CHANNEL_BRANCH, false, true);
	consent(&l, T("2025-06-15T10:05:00+05:00"));

	struct loan_view v = evaluate(&l, T("2025-06-15T10:06:00+05:00"));
	ck_assert_uint_eq(v.blockers, 0);
	ck_assert_int_eq(v.status, STATUS_ELIGIBLE);
}
END_TEST

/* ---- loan_evaluate: the cooling boundary ------------------------------- */

START_TEST(test_cooling_blocker_is_gone_at_exactly_cooling_ends_at)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, true, false);
	consent(&l, T("2025-06-15T10:05:00+05:00"));
	int64_t ends = l.cooling_ends_at;

	struct loan_view v = evaluate(&l, ends);
	ck_assert_uint_eq(v.blockers, 0);
	ck_assert_int_eq(v.status, STATUS_ELIGIBLE);
	ck_assert_int_eq(v.earliest_disbursement_at, ends);
}
END_TEST

START_TEST(test_cooling_blocker_holds_one_microsecond_before_cooling_ends_at)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, true, false);
	consent(&l, T("2025-06-15T10:05:00+05:00"));
	int64_t ends = l.cooling_ends_at;

	struct loan_view v = evaluate(&l, ends - 1);
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_COOLING_PERIOD_ACTIVE));
	ck_assert_int_eq(v.status, STATUS_COOLING);
	ck_assert_int_eq(v.earliest_disbursement_at, ends);
}
END_TEST

START_TEST(test_cooling_holds_right_after_consent)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, true, false);
	int64_t c = T("2025-06-15T10:05:00+05:00");
	consent(&l, c);

	ck_assert_uint_eq(evaluate(&l, c).blockers, BIT(BLOCKER_COOLING_PERIOD_ACTIVE));
	ck_assert_uint_eq(evaluate(&l, c + 24 * HOUR_US - 1).blockers,
	                  BIT(BLOCKER_COOLING_PERIOD_ACTIVE));
	ck_assert_uint_eq(evaluate(&l, c + 24 * HOUR_US).blockers, 0);
}
END_TEST

/* ---- loan_evaluate: combinations --------------------------------------- */

START_TEST(test_cooling_and_missing_visit_are_both_listed_and_earliest_is_null)
{
	/* The contract's example loan. */
	struct loan l = assessed(60000000, CHANNEL_ONLINE, false, true);
	consent(&l, T("2025-06-15T10:05:00+05:00"));

	struct loan_view v = evaluate(&l, T("2025-06-15T11:00:00+05:00"));
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_COOLING_PERIOD_ACTIVE) |
	                                  BIT(BLOCKER_IN_PERSON_VERIFICATION_MISSING));
	ck_assert_int_eq(v.status, STATUS_COOLING);
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);
}
END_TEST

START_TEST(test_cancelled_and_disbursed_status_is_cancelled)
{
	struct loan l = assessed(100000, CHANNEL_ONLINE, true, false);
	consent(&l, T("2025-06-15T10:05:00+05:00"));
	l.cancelled_at = T("2025-06-15T10:10:00+05:00");
	l.disbursed_at = T("2025-06-15T10:20:00+05:00");

	struct loan_view v = evaluate(&l, T("2025-06-15T11:00:00+05:00"));
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_CANCELLED) | BIT(BLOCKER_ALREADY_DISBURSED));
	ck_assert_int_eq(v.status, STATUS_CANCELLED);
}
END_TEST

/* Builds a loan that has exactly the blockers of `mask` at `now`. Consent
 * missing and cooling active exclude each other: the clock starts at
 * consent. */
static struct loan loan_with_blockers(unsigned mask, int64_t now)
{
	bool reconfirm = mask & BIT(BLOCKER_RECONFIRMATION_MISSING);
	bool cooled = (mask & BIT(BLOCKER_COOLING_PERIOD_ACTIVE)) || reconfirm;
	bool visit = mask & BIT(BLOCKER_IN_PERSON_VERIFICATION_MISSING);
	struct loan l = assessed(cooled ? 60000000 : 100000, CHANNEL_ONLINE, !visit, visit);

	/* a period over when the reconfirmation is missing */
	if (!(mask & BIT(BLOCKER_CONSENT_MISSING)))
		consent(&l, now - (reconfirm ? 48 * HOUR_US : HOUR_US));
	l.reconfirmation_required = reconfirm;
	l.extra_confirmation_required = mask & BIT(BLOCKER_EXTRA_CONFIRMATION_MISSING);
	l.control_call_required = mask & BIT(BLOCKER_CONTROL_CALL_MISSING);
	if (mask & BIT(BLOCKER_CANCELLED))
		l.cancelled_at = now - 30 * MINUTE_US;
	if (mask & BIT(BLOCKER_ALREADY_DISBURSED))
		l.disbursed_at = now - 20 * MINUTE_US;
	l.voluntary_refusal_active = mask & BIT(BLOCKER_VOLUNTARY_REFUSAL_ACTIVE);
	l.fraud_claim_open = mask & BIT(BLOCKER_FRAUD_CLAIM_OPEN);
	/* another lender paid out half an hour ago, under a window of a day */
	if (mask & BIT(BLOCKER_OTHER_LOAN_WITHIN_24H)) {
		l.cross_lender_window_s = 24 * 3600;
		l.other_lender_paid_at = now - 30 * MINUTE_US;
	}
	return l;
}

START_TEST(test_a_claim_blocks_only_a_loan_that_could_still_be_paid)
{
	int64_t now = T("2025-06-15T12:00:00+05:00");
	struct loan l = loan_with_blockers(0, now);
	l.fraud_claim_open = true;
	struct loan_view v = evaluate(&l, now);
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_FRAUD_CLAIM_OPEN));
	ck_assert_int_eq(v.status, STATUS_BLOCKED_BY_FRAUD_CLAIM);
	ck_assert_int_eq(v.earliest_disbursement_at, TS_NULL);
	/* a paid or cancelled loan of the borrower keeps its own status */
	l = loan_with_blockers(BIT(BLOCKER_ALREADY_DISBURSED), now);
	l.fraud_claim_open = true;
	v = evaluate(&l, now);
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_ALREADY_DISBURSED));
	l = loan_with_blockers(BIT(BLOCKER_CANCELLED), now);
	l.fraud_claim_open = true;
	v = evaluate(&l, now);
	ck_assert_uint_eq(v.blockers, BIT(BLOCKER_CANCELLED));
}
END_TEST

START_TEST(test_every_combination_of_blockers_in_contract_order)
{
	static const enum loan_status first_status[BLOCKER__COUNT] = {
	    [BLOCKER_CANCELLED] = STATUS_CANCELLED,
	    [BLOCKER_ALREADY_DISBURSED] = STATUS_DISBURSED,
	    [BLOCKER_VOLUNTARY_REFUSAL_ACTIVE] = STATUS_BLOCKED_BY_REFUSAL,
	    [BLOCKER_FRAUD_CLAIM_OPEN] = STATUS_BLOCKED_BY_FRAUD_CLAIM,
	    [BLOCKER_CONSENT_MISSING] = STATUS_AWAITING_CONSENT,
	    [BLOCKER_EXTRA_CONFIRMATION_MISSING] = STATUS_AWAITING_EXTRA_CONFIRMATION,
	    [BLOCKER_COOLING_PERIOD_ACTIVE] = STATUS_COOLING,
	    [BLOCKER_CONTROL_CALL_MISSING] = STATUS_AWAITING_CONTROL_CALL,
	    [BLOCKER_OTHER_LOAN_WITHIN_24H] = STATUS_BLOCKED_BY_OTHER_LOAN,
	    [BLOCKER_RECONFIRMATION_MISSING] = STATUS_AWAITING_RECONFIRMATION,
	    [BLOCKER_IN_PERSON_VERIFICATION_MISSING] = STATUS_AWAITING_IN_PERSON,
	};
	int64_t now = T("2025-06-15T12:00:00+05:00");
	int checked = 0;

	for (unsigned mask = 0; mask < BIT(BLOCKER__COUNT); mask++) {
		/* a request's blockers are never the loan's */
		if (mask & BLOCKERS_OF_REQUEST)
			continue;
		/* a claim, and another lender's payout, hold only a loan that
		 * could still be paid */
		if ((mask & (BIT(BLOCKER_FRAUD_CLAIM_OPEN) | BIT(BLOCKER_OTHER_LOAN_WITHIN_24H))) &&
		    (mask & (BIT(BLOCKER_CANCELLED) | BIT(BLOCKER_ALREADY_DISBURSED))))
			continue;
		if ((mask & BIT(BLOCKER_CONSENT_MISSING)) &&
		    (mask & BIT(BLOCKER_COOLING_PERIOD_ACTIVE)))
			continue;
		/* a reconfirmation is missing only once a consented period is over */
		if ((mask & BIT(BLOCKER_RECONFIRMATION_MISSING)) &&
		    (mask & (BIT(BLOCKER_CONSENT_MISSING) | BIT(BLOCKER_COOLING_PERIOD_ACTIVE))))
			continue;
		struct loan l = loan_with_blockers(mask, now);
		struct loan_view v = evaluate(&l, now);

		ck_assert_msg(v.blockers == mask, "mask 0x%x: blockers 0x%x", mask, v.blockers);
		enum loan_status want = STATUS_ELIGIBLE;
		for (int b = 0; b < BLOCKER__COUNT; b++) {
			if (mask & BIT(b)) {
				want = first_status[b];
				break;
			}
		}
		ck_assert_msg(v.status == want, "mask 0x%x: status %s, want %s", mask,
		              status_name(v.status), status_name(want));

		/* only time in the way: the later end of the period and of the
		 * other lender's payout's window */
		int64_t other_ends = l.other_lender_paid_at + 24 * 3600 * USEC_PER_SEC;
		int64_t want_earliest =
		    mask == 0                                      ? now
		    : (mask & ~BLOCKERS_OF_TIME) != 0              ? TS_NULL
		    : !(mask & BIT(BLOCKER_OTHER_LOAN_WITHIN_24H)) ? l.cooling_ends_at
		    : !(mask & BIT(BLOCKER_COOLING_PERIOD_ACTIVE))
		        ? other_ends
		        : (l.cooling_ends_at > other_ends ? l.cooling_ends_at : other_ends);
		ck_assert_msg(v.earliest_disbursement_at == want_earliest,
		              "mask 0x%x: earliest %lld, want %lld", mask,
		              (long long)v.earliest_disbursement_at, (long long)want_earliest);
		checked++;
	}
	/* 64 states of the other blockers, each with and without a refusal;
	 * the 16 of them neither cancelled nor disbursed with a claim too; and
	 * the 64 of all these neither cancelled nor disbursed with another
	 * lender's payout too; each with and without a missing control call */
	ck_assert_int_eq(checked, 2 * (128 + 2 * 16 + 64));
}
END_TEST

START_TEST(test_blockers_json_order_is_the_contract_order)
{
	/* Blocker bits ascend in the contract's order, so that iterating them
	 * lists the blockers as the contract does. */
	ck_assert_int_lt(BLOCKER_CANCELLED, BLOCKER_ALREADY_DISBURSED);
	ck_assert_int_lt(BLOCKER_ALREADY_DISBURSED, BLOCKER_VOLUNTARY_REFUSAL_ACTIVE);
	ck_assert_int_lt(BLOCKER_VOLUNTARY_REFUSAL_ACTIVE, BLOCKER_FRAUD_CLAIM_OPEN);
	ck_assert_int_lt(BLOCKER_FRAUD_CLAIM_OPEN, BLOCKER_CONSENT_MISSING);
	ck_assert_int_lt(BLOCKER_CONSENT_MISSING, BLOCKER_EXTRA_CONFIRMATION_MISSING);
	ck_assert_int_lt(BLOCKER_EXTRA_CONFIRMATION_MISSING, BLOCKER_COOLING_PERIOD_ACTIVE);
	ck_assert_int_lt(BLOCKER_COOLING_PERIOD_ACTIVE, BLOCKER_CONTROL_CALL_MISSING);
	ck_assert_int_lt(BLOCKER_CONTROL_CALL_MISSING, BLOCKER_OTHER_LOAN_WITHIN_24H);
	ck_assert_int_lt(BLOCKER_OTHER_LOAN_WITHIN_24H, BLOCKER_RECONFIRMATION_MISSING);
	ck_assert_int_lt(BLOCKER_RECONFIRMATION_MISSING, BLOCKER_IN_PERSON_VERIFICATION_MISSING);
	/* then, in a disbursement's refusal only, the request's */
	ck_assert_int_lt(BLOCKER_IN_PERSON_VERIFICATION_MISSING, BLOCKER_PAYEE_FLAGGED);
	ck_assert_int_lt(BLOCKER_PAYEE_FLAGGED, BLOCKER_PAYEE_NOT_BORROWER);
	ck_assert_uint_eq(BLOCKERS_OF_REQUEST,
	                  BIT(BLOCKER_PAYEE_FLAGGED) | BIT(BLOCKER_PAYEE_NOT_BORROWER));
	ck_assert_int_eq(BLOCKER__COUNT, 13);
}
END_TEST

/* ---- loan_retry_after -------------------------------------------------- */

START_TEST(test_retry_after_is_whole_seconds_left_of_cooling)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, true, false);
	consent(&l, T("2025-06-15T10:05:00+05:00"));
	int64_t now = l.cooling_ends_at - 10 * USEC_PER_SEC;

	struct loan_view v = evaluate(&l, now);
	ck_assert_int_eq(loan_retry_after(&l, &v, now), 10);
}
END_TEST

START_TEST(test_retry_after_rounds_a_fraction_of_a_second_up)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, true, false);
	consent(&l, T("2025-06-15T10:05:00+05:00"));
	int64_t ends = l.cooling_ends_at;
	struct loan_view v;

	v = evaluate(&l, ends - 10 * USEC_PER_SEC - 1);
	ck_assert_int_eq(loan_retry_after(&l, &v, ends - 10 * USEC_PER_SEC - 1), 11);
	v = evaluate(&l, ends - 1);
	ck_assert_int_eq(loan_retry_after(&l, &v, ends - 1), 1);
	v = evaluate(&l, ends - 999999);
	ck_assert_int_eq(loan_retry_after(&l, &v, ends - 999999), 1);
}
END_TEST

START_TEST(test_retry_after_right_after_consent_is_the_whole_period)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, true, false);
	int64_t c = T("2025-06-15T10:05:00+05:00");
	consent(&l, c);

	struct loan_view v = evaluate(&l, c);
	ck_assert_int_eq(loan_retry_after(&l, &v, c), 86400);
}
END_TEST

START_TEST(test_retry_after_is_zero_unless_time_alone_is_in_the_way)
{
	int64_t now = T("2025-06-15T12:00:00+05:00");

	for (unsigned mask = 0; mask < BIT(BLOCKER__COUNT); mask++) {
		/* a request's blockers are never the loan's */
		if (mask & BLOCKERS_OF_REQUEST)
			continue;
		/* a claim, and another lender's payout, hold only a loan that
		 * could still be paid */
		if ((mask & (BIT(BLOCKER_FRAUD_CLAIM_OPEN) | BIT(BLOCKER_OTHER_LOAN_WITHIN_24H))) &&
		    (mask & (BIT(BLOCKER_CANCELLED) | BIT(BLOCKER_ALREADY_DISBURSED))))
			continue;
		if ((mask & BIT(BLOCKER_CONSENT_MISSING)) &&
		    (mask & BIT(BLOCKER_COOLING_PERIOD_ACTIVE)))
			continue;
		if ((mask & BIT(BLOCKER_RECONFIRMATION_MISSING)) &&
		    (mask & (BIT(BLOCKER_CONSENT_MISSING) | BIT(BLOCKER_COOLING_PERIOD_ACTIVE))))
			continue;
		/* time alone in the way: the next test's */
		if (mask != 0 && (mask & ~BLOCKERS_OF_TIME) == 0)
			continue;
		struct loan l = loan_with_blockers(mask, now);
		struct loan_view v = evaluate(&l, now);
		ck_assert_msg(loan_retry_after(&l, &v, now) == 0, "mask 0x%x", mask);
	}
}
END_TEST

START_TEST(test_retry_after_is_zero_once_cooling_has_ended)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, true, false);
	consent(&l, T("2025-06-15T10:05:00+05:00"));
	int64_t ends = l.cooling_ends_at;

	struct loan_view v = evaluate(&l, ends);
	ck_assert_int_eq(loan_retry_after(&l, &v, ends), 0);
	v = evaluate(&l, ends + HOUR_US);
	ck_assert_int_eq(loan_retry_after(&l, &v, ends + HOUR_US), 0);
}
END_TEST

/* ---- name tables ------------------------------------------------------- */

START_TEST(test_blocker_names_are_the_contract_names)
{
	ck_assert_str_eq(blocker_name(BLOCKER_CANCELLED), "cancelled");
	ck_assert_str_eq(blocker_name(BLOCKER_ALREADY_DISBURSED), "already_disbursed");
	ck_assert_str_eq(blocker_name(BLOCKER_VOLUNTARY_REFUSAL_ACTIVE),
	                 "voluntary_refusal_active");
	ck_assert_str_eq(blocker_name(BLOCKER_CONSENT_MISSING), "consent_missing");
	ck_assert_str_eq(blocker_name(BLOCKER_COOLING_PERIOD_ACTIVE), "cooling_period_active");
	ck_assert_str_eq(blocker_name(BLOCKER_CONTROL_CALL_MISSING), "control_call_missing");
	ck_assert_str_eq(blocker_name(BLOCKER_IN_PERSON_VERIFICATION_MISSING),
	                 "in_person_verification_missing");
	ck_assert_str_eq(blocker_name(BLOCKER__COUNT), "unknown");
}
END_TEST

START_TEST(test_status_names_are_the_contract_names)
{
	ck_assert_str_eq(status_name(STATUS_CANCELLED), "cancelled");
	ck_assert_str_eq(status_name(STATUS_DISBURSED), "disbursed");
	ck_assert_str_eq(status_name(STATUS_BLOCKED_BY_REFUSAL), "blocked_by_refusal");
	ck_assert_str_eq(status_name(STATUS_AWAITING_CONSENT), "awaiting_consent");
	ck_assert_str_eq(status_name(STATUS_COOLING), "cooling");
	ck_assert_str_eq(status_name(STATUS_AWAITING_IN_PERSON), "awaiting_in_person");
	ck_assert_str_eq(status_name(STATUS_ELIGIBLE), "eligible");
	ck_assert_str_eq(status_name((enum loan_status)(STATUS_ELIGIBLE + 1)), "unknown");
}
END_TEST

/* A status's name reads back to it, another word to none, and the list
 * that messages give names every status once, in order. */
START_TEST(test_every_status_parses_back_and_is_in_the_list)
{
	char list[STATUS_LIST_BUF];
	status_list(list);
	const char *at = list;
	for (int i = 0; i <= STATUS_ELIGIBLE; i++) {
		enum loan_status st = STATUS_ELIGIBLE;
		ck_assert(status_parse(status_name((enum loan_status)i), &st));
		ck_assert_int_eq(st, i);
		const char *found = strstr(at, status_name((enum loan_status)i));
		ck_assert_msg(found != NULL, "%s is not in \"%s\" after its predecessors",
		              status_name((enum loan_status)i), list);
		at = found + strlen(status_name((enum loan_status)i));
	}
	ck_assert_str_eq(at, "");
	enum loan_status st;
	ck_assert(!status_parse("unknown", &st));
	ck_assert(!status_parse("Cooling", &st));
	ck_assert(!status_parse("", &st));
}
END_TEST

START_TEST(test_channel_names_are_online_and_branch)
{
	enum channel c = CHANNEL_BRANCH;

	ck_assert_str_eq(channel_name(CHANNEL_ONLINE), "online");
	ck_assert_str_eq(channel_name(CHANNEL_BRANCH), "branch");
	ck_assert(channel_parse("online", &c));
	ck_assert_int_eq(c, CHANNEL_ONLINE);
	ck_assert(channel_parse("branch", &c));
	ck_assert_int_eq(c, CHANNEL_BRANCH);
}
END_TEST

START_TEST(test_other_channel_names_are_refused)
{
	static const char *const bad[] = {"mobile", "Online", "BRANCH", "", "online ", " branch"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum channel c = CHANNEL_BRANCH;
		ck_assert_msg(!channel_parse(bad[i], &c), "\"%s\" accepted", bad[i]);
	}
}
END_TEST

/* ---- the MRP of the coming year ---- */

#define DAY(y, m, d) days_from_civil((y), (m), (d))

START_TEST(test_next_years_mrp_is_not_missing_on_30_november)
{
	ck_assert(!policy_mrp_next_year_missing(DAY(2026, 11, 30), DAY(2026, 1, 1)));
}
END_TEST

START_TEST(test_next_years_mrp_is_missing_from_1_december_while_not_set)
{
	ck_assert(policy_mrp_next_year_missing(DAY(2026, 12, 1), DAY(2026, 1, 1)));
	ck_assert(policy_mrp_next_year_missing(DAY(2026, 12, 31), DAY(2026, 1, 1)));
}
END_TEST

START_TEST(test_next_years_mrp_set_for_1_january_is_not_missing_in_december)
{
	ck_assert(!policy_mrp_next_year_missing(DAY(2026, 12, 1), DAY(2027, 1, 1)));
	ck_assert(!policy_mrp_next_year_missing(DAY(2026, 12, 31), DAY(2027, 1, 1)));
}
END_TEST

START_TEST(test_a_row_dated_in_december_is_not_next_years_mrp)
{
	ck_assert(policy_mrp_next_year_missing(DAY(2026, 12, 10), DAY(2026, 12, 15)));
}
END_TEST

START_TEST(test_mrp_still_missing_after_new_year_until_the_years_row_is_set)
{
	ck_assert(policy_mrp_next_year_missing(DAY(2027, 1, 1), DAY(2026, 1, 1)));
	ck_assert(policy_mrp_next_year_missing(DAY(2027, 6, 1), DAY(2026, 1, 1)));
	ck_assert(!policy_mrp_next_year_missing(DAY(2027, 1, 1), DAY(2027, 1, 1)));
}
END_TEST

START_TEST(test_an_empty_mrp_table_is_missing_every_day)
{
	ck_assert(policy_mrp_next_year_missing(DAY(2026, 11, 30), POLICY_NO_MRP));
	ck_assert(policy_mrp_next_year_missing(DAY(2026, 12, 1), POLICY_NO_MRP));
}
END_TEST

/* ---- the holiday calendar of the coming year ---- */

static const struct policy_schedule *schedule_of(const char *text)
{
	static struct policy_schedule s;
	const char *why = NULL;
	ck_assert_msg(policy_schedule_parse(text, &s, &why), "\"%s\": %s", text, why);
	return &s;
}

/* no day of either year: missing whenever the calendar is needed */
#define CALENDAR_MISSING(text, day)                                                                \
	policy_calendar_next_year_missing(schedule_of(text), (day), false, false)

START_TEST(test_the_calendar_zone_is_the_first_calendar_profiles_of_the_schedule)
{
	ck_assert_str_eq(policy_schedule_calendar_zone(schedule_of("by-2025-11")), "Europe/Minsk");
	ck_assert_str_eq(
	    policy_schedule_calendar_zone(schedule_of("kz-card, by-2025-11@2027-01-01")),
	    "Europe/Minsk");
	ck_assert_ptr_null(
	    policy_schedule_calendar_zone(schedule_of("kz-card, kz-2025-09@2025-09-30")));
}
END_TEST

START_TEST(test_next_years_calendar_is_not_missing_on_30_november)
{
	const struct policy_schedule *by = schedule_of("by-2025-11");
	ck_assert(!policy_calendar_next_year_missing(by, DAY(2026, 11, 30), true, false));
}
END_TEST

START_TEST(test_next_years_calendar_is_missing_from_1_december_to_31_december_while_not_imported)
{
	const struct policy_schedule *by = schedule_of("by-2025-11");
	ck_assert(policy_calendar_next_year_missing(by, DAY(2026, 12, 1), true, false));
	ck_assert(policy_calendar_next_year_missing(by, DAY(2026, 12, 31), true, false));
}
END_TEST

START_TEST(test_next_years_calendar_with_a_day_is_not_missing_in_december)
{
	const struct policy_schedule *by = schedule_of("by-2025-11");
	ck_assert(!policy_calendar_next_year_missing(by, DAY(2026, 12, 1), true, true));
	ck_assert(!policy_calendar_next_year_missing(by, DAY(2026, 12, 31), false, true));
}
END_TEST

START_TEST(test_the_calendar_is_still_missing_after_new_year_until_the_year_is_imported)
{
	const struct policy_schedule *by = schedule_of("by-2025-11");
	ck_assert(policy_calendar_next_year_missing(by, DAY(2027, 1, 1), false, false));
	ck_assert(policy_calendar_next_year_missing(by, DAY(2027, 11, 30), false, true));
	ck_assert(!policy_calendar_next_year_missing(by, DAY(2027, 1, 1), true, false));
}
END_TEST

START_TEST(test_no_calendar_profile_in_the_schedule_is_never_missing)
{
	ck_assert(!CALENDAR_MISSING("kz-card", DAY(2026, 12, 1)));
	ck_assert(!CALENDAR_MISSING("kz-card, kz-2025-09@2025-09-30", DAY(2026, 12, 31)));
	ck_assert(!CALENDAR_MISSING("ru-2025-09", DAY(2027, 6, 1)));
}
END_TEST

START_TEST(test_a_switch_to_the_calendar_profile_needs_the_calendar_of_its_year)
{
	const char *to_by = "kz-card, by-2025-11@2027-01-01";
	/* in force from the next year: its calendar is due in December */
	ck_assert(!CALENDAR_MISSING(to_by, DAY(2026, 11, 30)));
	ck_assert(CALENDAR_MISSING(to_by, DAY(2026, 12, 1)));
	/* in force from a later year: not yet */
	ck_assert(!CALENDAR_MISSING("kz-card, by-2025-11@2028-01-01", DAY(2026, 12, 31)));
	/* from a date within the year due */
	ck_assert(CALENDAR_MISSING("kz-card, by-2025-11@2026-07-01", DAY(2026, 3, 1)));
}
END_TEST

START_TEST(test_a_switch_away_from_the_calendar_profile_needs_no_more_calendar)
{
	const char *from_by = "by-2025-11, kz-card@2027-01-01";
	/* in force until the year's last day, whose payouts wait on January's */
	ck_assert(CALENDAR_MISSING(from_by, DAY(2026, 12, 31)));
	ck_assert(!CALENDAR_MISSING(from_by, DAY(2027, 1, 1)));
	ck_assert(!CALENDAR_MISSING(from_by, DAY(2027, 12, 1)));
}
END_TEST

/* ---- repeat victims ------------------------------------------------- */

/* A repeat borrower's loan (no visit of its own) of a confirmed victim. */
static struct loan victims_loan(int64_t amount_tiyn, enum channel ch, bool first_time)
{
	struct policy p = kz_card();
	struct loan l = new_loan(amount_tiyn, ch, false, first_time);
	l.prior_fraud_victim = true;
	policy_assess(&p, MRP_2025, &l);
	return l;
}

START_TEST(test_a_repeat_victims_cooled_loan_needs_the_visit)
{
	struct loan l = victims_loan(60000000, CHANNEL_ONLINE, false);
	ck_assert(l.cooling_required);
	ck_assert(l.in_person_required);
	ck_assert_uint_eq(loan_in_person_reasons(&l), BIT(INPERSON_PRIOR_FRAUD_VICTIM));
	/* first-time too: both reasons, in the contract's order */
	l = victims_loan(60000000, CHANNEL_ONLINE, true);
	ck_assert_uint_eq(loan_in_person_reasons(&l),
	                  BIT(INPERSON_FIRST_TIME) | BIT(INPERSON_PRIOR_FRAUD_VICTIM));
}
END_TEST

START_TEST(test_a_repeat_victims_loan_that_is_not_cooled_needs_no_visit_for_it)
{
	struct loan l = victims_loan(100000, CHANNEL_ONLINE, false); /* below the threshold */
	ck_assert(!l.cooling_required);
	ck_assert(!l.in_person_required);
	ck_assert_uint_eq(loan_in_person_reasons(&l), 0);
	l = victims_loan(60000000, CHANNEL_BRANCH, false); /* a branch loan is not cooled */
	ck_assert(!l.in_person_required);
}
END_TEST

START_TEST(test_a_loan_recorded_before_reasons_has_first_time_when_it_needs_a_visit)
{
	struct loan l = assessed(60000000, CHANNEL_ONLINE, false, true);
	l.in_person_reasons = TS_NULL; /* a row of an earlier release */
	ck_assert_uint_eq(loan_in_person_reasons(&l), BIT(INPERSON_FIRST_TIME));
	l = assessed(60000000, CHANNEL_ONLINE, false, false);
	l.in_person_reasons = TS_NULL;
	ck_assert_uint_eq(loan_in_person_reasons(&l), 0);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("assess");

	tcase_add_test(tc, test_kz_card_profile_cools_online_loans_above_150_mrp_for_24_hours);
	tcase_add_test(tc, test_unknown_profile_is_refused);
	tcase_add_test(tc, test_threshold_is_150_mrp_in_tiyn);
	tcase_add_test(tc, test_threshold_follows_the_mrp_given_for_the_approval_date);
	tcase_add_test(tc, test_amount_equal_to_threshold_is_not_cooled);
	tcase_add_test(tc, test_one_tiyn_above_threshold_is_cooled);
	tcase_add_test(tc, test_amount_below_threshold_is_not_cooled);
	tcase_add_test(tc, test_threshold_boundary_moves_with_the_mrp);
	tcase_add_test(tc, test_cooling_period_of_a_cooled_loan_comes_from_the_policy);
	tcase_add_test(tc, test_branch_loan_is_never_cooled);
	tcase_add_test(tc, test_assessment_records_policy_name_and_mrp);
	tcase_add_test(tc, test_in_person_required_iff_unsecured_and_first_time);
	tcase_add_test(tc, test_branch_loan_is_verified_in_person_at_approved_at);
	tcase_add_test(tc, test_online_loan_is_not_verified_in_person_by_assessment);
	tcase_add_test(tc, test_custom_threshold_and_period_are_honoured);
	tcase_add_test(tc, test_policy_that_cools_branch_loans_cools_them);
	tcase_add_test(tc, test_zero_threshold_cools_every_online_loan);
	tcase_add_test(tc, test_cooling_ends_at_is_consent_plus_period);
	tcase_add_test(tc, test_cooling_ends_at_is_null_when_not_cooled);
	tcase_add_test(tc, test_cooling_ends_at_is_null_without_consent);
	suite_add_tcase(s, tc);

	tc = tcase_create("evaluate");
	tcase_add_test(tc, test_loan_with_no_blocker_is_eligible_now);
	tcase_add_test(tc, test_cancelled_loan_is_blocked_for_ever);
	tcase_add_test(tc, test_disbursed_loan_is_not_paid_twice);
	tcase_add_test(tc, test_loan_without_consent_awaits_consent);
	tcase_add_test(tc,
	               test_cooled_loan_without_consent_awaits_consent_and_has_no_earliest_time);
	tcase_add_test(tc, test_cooling_as_only_blocker_gives_cooling_ends_at);
	tcase_add_test(tc, test_missing_visit_alone_awaits_in_person_with_no_earliest_time);
	tcase_add_test(tc, test_in_person_visit_lifts_its_blocker);
	tcase_add_test(tc, test_branch_loan_of_first_time_borrower_needs_no_further_visit);
	tcase_add_test(tc, test_cooling_blocker_is_gone_at_exactly_cooling_ends_at);
	tcase_add_test(tc, test_cooling_blocker_holds_one_microsecond_before_cooling_ends_at);
	tcase_add_test(tc, test_cooling_holds_right_after_consent);
	tcase_add_test(tc, test_cooling_and_missing_visit_are_both_listed_and_earliest_is_null);
	tcase_add_test(tc, test_cancelled_and_disbursed_status_is_cancelled);
	tcase_add_test(tc, test_a_claim_blocks_only_a_loan_that_could_still_be_paid);
	tcase_add_test(tc, test_every_combination_of_blockers_in_contract_order);
	tcase_add_test(tc, test_blockers_json_order_is_the_contract_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("repeat_victims");
	tcase_add_test(tc, test_a_repeat_victims_cooled_loan_needs_the_visit);
	tcase_add_test(tc, test_a_repeat_victims_loan_that_is_not_cooled_needs_no_visit_for_it);
	tcase_add_test(tc,
	               test_a_loan_recorded_before_reasons_has_first_time_when_it_needs_a_visit);
	suite_add_tcase(s, tc);

	tc = tcase_create("retry_after");
	tcase_add_test(tc, test_retry_after_is_whole_seconds_left_of_cooling);
	tcase_add_test(tc, test_retry_after_rounds_a_fraction_of_a_second_up);
	tcase_add_test(tc, test_retry_after_right_after_consent_is_the_whole_period);
	tcase_add_test(tc, test_retry_after_is_zero_unless_time_alone_is_in_the_way);
	tcase_add_test(tc, test_retry_after_is_zero_once_cooling_has_ended);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_blocker_names_are_the_contract_names);
	tcase_add_test(tc, test_status_names_are_the_contract_names);
	tcase_add_test(tc, test_every_status_parses_back_and_is_in_the_list);
	tcase_add_test(tc, test_channel_names_are_online_and_branch);
	tcase_add_test(tc, test_other_channel_names_are_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("mrp_next_year");
	tcase_add_test(tc, test_next_years_mrp_is_not_missing_on_30_november);
	tcase_add_test(tc, test_next_years_mrp_is_missing_from_1_december_while_not_set);
	tcase_add_test(tc, test_next_years_mrp_set_for_1_january_is_not_missing_in_december);
	tcase_add_test(tc, test_a_row_dated_in_december_is_not_next_years_mrp);
	tcase_add_test(tc, test_mrp_still_missing_after_new_year_until_the_years_row_is_set);
	tcase_add_test(tc, test_an_empty_mrp_table_is_missing_every_day);
	suite_add_tcase(s, tc);
	tc = tcase_create("calendar_next_year");
	tcase_add_test(tc, test_the_calendar_zone_is_the_first_calendar_profiles_of_the_schedule);
	tcase_add_test(tc, test_next_years_calendar_is_not_missing_on_30_november);
	tcase_add_test(
	    tc,
	    test_next_years_calendar_is_missing_from_1_december_to_31_december_while_not_imported);
	tcase_add_test(tc, test_next_years_calendar_with_a_day_is_not_missing_in_december);
	tcase_add_test(
	    tc, test_the_calendar_is_still_missing_after_new_year_until_the_year_is_imported);
	tcase_add_test(tc, test_no_calendar_profile_in_the_schedule_is_never_missing);
	tcase_add_test(tc, test_a_switch_to_the_calendar_profile_needs_the_calendar_of_its_year);
	tcase_add_test(tc, test_a_switch_away_from_the_calendar_profile_needs_no_more_calendar);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(policy_suite)

/*
 * The lending rules, as data plus the two functions that apply them:
 * policy_assess() fixes, at approval, what a loan must go through (cooling,
 * in-person visit); loan_evaluate() says, at a given "now", what still stands
 * in the way of paying it out. This file is where "the 24-hour rule" lives.
 *
 * The SQL guard of a disbursement (lib/db/statements.c, GUARD) must agree with
 * loan_evaluate(): tests/integration/test_gate_agreement.c checks both on the
 * same loans.
 */
#ifndef CD_POLICY_H
#define CD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cd_error.h"
#include "names.h"

#define ID_MAX          64
#define ID_BUF          (ID_MAX + 1)
#define POLICY_NAME_BUF 32
#define POLICY_ZONE_BUF 64 /* an IANA zone's name */

enum channel { CHANNEL_ONLINE, CHANNEL_BRANCH };

struct profile_def;

/* A profile of the rules: its name and every number it applies, each a
 * configuration key ([policy], lib/config.c). What the numbers mean is the
 * profile's table of rules in policy.c (struct profile_def), so that a
 * profile can be tuned by configuration without touching the code that
 * applies it. */
struct policy {
	char name[POLICY_NAME_BUF];
	/* the profile's table of rules, set by policy_profile(): the rules are
	 * applied without looking the name up */
	const struct profile_def *def;
	/* kz-card */
	int64_t cooling_period_s; /* wait after consent for a cooled loan */
	int64_t threshold_mrp;    /* cooled when amount > (>= when inclusive) threshold_mrp x MRP */
	bool cool_online;         /* which channels are cooled */
	bool cool_branch;
	/* Each bound's reading ("Open readings"): false "above" (an amount
	 * equal to the bound is in the band below it), true "from" (in the
	 * band above it). */
	bool threshold_inclusive;
	bool bank_threshold_inclusive;
	bool bank_long_threshold_inclusive;
	bool mfo_threshold_inclusive;
	/* kz-2025-09 */
	int64_t aggregation; /* enum aggregation */
	int64_t bank_threshold_mrp;
	int64_t bank_period_s;
	int64_t bank_long_threshold_mrp;
	int64_t bank_long_period_s;
	int64_t mfo_threshold_mrp;
	int64_t mfo_period_s;
	int64_t card_limit_exempt_mrp;
	int64_t extra_confirmation_under_age;
	int64_t extra_confirmation_from_age;
	/* ru-2025-09: whole roubles, compared in kopecks */
	int64_t ru_short_above;
	int64_t ru_long_above;
	int64_t ru_short_period_s;
	int64_t ru_long_period_s;
	/* kg-2024-11: whole som, compared in tyiyn */
	int64_t kg_band1_above;
	int64_t kg_band2_above;
	int64_t kg_band3_above;
	int64_t kg_band1_period_s;
	int64_t kg_band2_period_s;
	int64_t kg_band3_period_s;
	/* uz-2026-01 */
	int64_t uz_window_s;
};

/* Fills p with a named profile's defaults; false for an unknown name. */
bool policy_profile(const char *name, struct policy *p);

/* The profile in force when [policy] profile is not set: v1's. The only
 * names of profiles in the code are the table's (a check of the test
 * command, tests/scripts/check_profile_names.sh). */
extern const char policy_default_profile[];

/* The i-th profile of the table's name; NULL past the last. */
const char *policy_profile_name_at(size_t i);

/* One band of a profile's table: loans of a lender kind whose day's amount
 * is above `above` and at most `up_to` (open-ended when it has none) MRP
 * wait `period`. Each number is a field of struct policy (its offset) and
 * a configuration key; so is each bound's reading, a bool of struct policy
 * (above_inclusive, up_to_inclusive: the bound's own key, true when an
 * amount equal to the bound is in the band above it; POLICY_NO_FIELD for a
 * bound whose law has one reading, "above"). A band without `above` holds
 * every amount; one `until_next_working_day` waits, instead of a period,
 * until the start of the next working day after the consent in the
 * profile's calendar zone (`period` POLICY_NO_FIELD). */
#define POLICY_NO_FIELD ((size_t)-1)
struct policy_band {
	enum rule rule;
	int lender_kind; /* enum lender_kind, or -1 for every kind */
	/* offsets in struct policy; above, up_to and period may be POLICY_NO_FIELD */
	size_t above, up_to, period;
	bool until_next_working_day;
	size_t above_inclusive, up_to_inclusive; /* offsets of bools; up_to's as up_to */
	const char *above_key, *up_to_key, *period_key;
	const char *above_inclusive_key, *up_to_inclusive_key;
	/* the band's loans also need a control call before the payout */
	bool control_call;
};

#define POLICY_MAX_BANDS 4

/* The effective table of a policy, for `coolingctl policy show` and
 * `coolingd --check-config`: every band with its numbers, the exemptions
 * in the order they are tried, the age rule. */
struct policy_table {
	const char *profile;
	const char *source;   /* the law, and where REGULATION.md has it */
	const char *currency; /* ISO 4217 */
	/* what the bands' numbers count: "MRP", or the currency's code for
	 * whole units of it */
	const char *unit;
	/* the zone of the calendar whose next working day ends a band
	 * until_next_working_day; NULL when no band does */
	const char *calendar_zone;
	bool aggregates;     /* the day's amount, or the loan's own */
	int64_t aggregation; /* enum aggregation, when aggregates */
	int nbands;
	struct policy_table_band {
		enum rule rule;
		int lender_kind;
		int64_t above_mrp, up_to_mrp; /* up_to_mrp -1: open-ended */
		/* an amount equal to above_mrp is in the band ("from"); one equal
		 * to up_to_mrp is not (it is in the band above): each the value
		 * of its bound's *_threshold_inclusive key */
		bool above_inclusive, up_to_exclusive;
		int64_t period_s; /* 0 when until_next_working_day */
		bool until_next_working_day;
		/* above_key NULL: every amount; period_key NULL: until_next_working_day */
		const char *above_key, *up_to_key, *period_key;
		const char *above_inclusive_key, *up_to_inclusive_key;
		bool control_call;
	} bands[POLICY_MAX_BANDS];
	unsigned exemptions;      /* bits (1u << enum exemption) */
	int64_t card_limit_mrp;   /* EXEMPT_CARD_LIMIT: up to this day's amount */
	bool reconfirmation;      /* a cooled loan is confirmed again after the period */
	bool in_person_rule;      /* first-time unsecured borrowers come in person */
	bool in_person_by_amount; /* the visit only above the kind's first threshold */
	bool age_rule;
	int64_t under_age, from_age;
	/* an online loan waits while another lender's payout of the
	 * borrower's online loan is younger than this; -1: no such rule */
	int64_t cross_lender_window_s;
	const char *cross_lender_window_key;
};
void policy_table_of(const struct policy *p, struct policy_table *t);
/* What a profile fixes whatever the configuration says (reconfirmation,
 * in_person_rule, in_person_by_amount and the source of its table): for a table read back from
 * GET /v1/policy, which does not carry them. False for an unknown name. */
bool policy_profile_fixed(const char *name, struct policy_table *t);

/* The currency of the profile's loans (ISO 4217): an approval in another
 * is refused. */
const char *policy_currency(const struct policy *p);

/* Whether the profile's amounts are counted in MRP (and an approval needs
 * the MRP of its date), or are absolute amounts of its currency. */
bool policy_amounts_in_mrp(const struct policy *p);

/* Whether a loan recorded under the profile `name` may be confirmed by the
 * borrower's trusted person (its table has EXEMPT_TRUSTED_PERSON). */
bool policy_takes_trusted_person(const char *name);

/* Whether the profile adds up the borrower's loans of the day. */
bool policy_aggregates(const struct policy *p);

/* Whether the v1 keys policy.cooling_period and policy.threshold_mrp apply
 * to the profile (kz-card); any other refuses them when they are set. */
bool policy_takes_v1_overrides(const struct policy *p);
/* The profile that takes them, for a message that names it. */
const char *policy_v1_overrides_profile(void);

/*
 * A schedule of profiles, [policy] profile = "kz-card, kz-2025-09@2025-09-30":
 * rules change on a date, as the MRP does. The first entry has no date and
 * is in force before every other; each later one, name@YYYY-MM-DD, from
 * that local date (policy.timezone) on. A single name is a schedule of one
 * entry. The profile in force on an approval's local date decides the
 * loan, which records its name (struct loan's policy) and is judged by what
 * was recorded from then on.
 */
#define POLICY_MAX_SCHEDULE 16
#define POLICY_SCHEDULE_BUF 512
#define POLICY_NO_DATE      INT64_MIN /* the first entry's from_days */

struct policy_schedule {
	int n;
	struct policy_entry {
		int64_t from_days;    /* local date, days since 1970-01-01 */
		struct policy policy; /* the profile's defaults (config_schedule(): and the keys) */
	} entries[POLICY_MAX_SCHEDULE];
};

/* Reads a schedule: entries separated by commas (blanks around each are
 * ignored), each a known profile, the first without a date, every later
 * one with a real date after the one before, never the same profile twice
 * in a row (a switch that changes nothing hides a typo). False with *why,
 * a static text, otherwise. */
bool policy_schedule_parse(const char *text, struct policy_schedule *s, const char **why);

/* The policy in force on a local date (days since 1970-01-01): the last
 * entry whose date is not after it. */
const struct policy *policy_in_force(const struct policy_schedule *s, int64_t day);

/* Whether a profile of the schedule adds up the borrower's loans of the
 * day: an approval's first read sums them only then, since the profile in
 * force is known only once it has read the approval's local date. */
bool policy_schedule_aggregates(const struct policy_schedule *s);

/* The schedule as `coolingctl policy show` prints it: each entry's profile
 * and date, and each profile's table once, in the order of its first entry. */
struct policy_schedule_table {
	int n;
	struct {
		const char *profile;
		int64_t from_days; /* POLICY_NO_DATE for the first */
	} schedule[POLICY_MAX_SCHEDULE];
	int nprofiles;
	struct policy_table profiles[POLICY_MAX_SCHEDULE];
};
void policy_schedule_table_of(const struct policy_schedule *s, struct policy_schedule_table *t);

/* What an approval brings to the rules (policy_decide()). */
struct policy_input {
	int lender_kind; /* enum lender_kind */
	enum product product;
	enum channel channel;
	bool secured;
	bool first_time;
	int64_t amount_tiyn;
	/* the other loans of the day that count (online, not exempt, not
	 * cancelled, of this lender or of all per aggregation) */
	int64_t day_others_tiyn;
	int64_t mrp_tenge; /* in force on the approval's local date */
	int age;           /* on the approval's local date; -1 unknown */
	/* a fraud claim of the borrower was closed confirmed within
	 * policy.prior_victim_days before the approval */
	bool prior_fraud_victim;
	/* the borrower's online approvals at policy.burst_lenders or more
	 * distinct lenders, this one included, fall within policy.burst_window */
	bool multi_lender_burst;
};

/* What the rules fix at approval. */
struct policy_decision {
	enum exemption exemption;
	int64_t aggregated_tiyn; /* the day's amount (kz-card: the loan's own) */
	enum rule rule;          /* RULE_NONE: not cooled */
	bool cooling_required;
	int64_t cooling_period_s; /* 0 when not cooled or cooled by the calendar */
	/* the cooling period ends at the start of the next working day after
	 * the consent in this zone (the profile's calendar_zone); NULL when it
	 * is cooling_period_s long */
	const char *calendar_zone;
	int64_t threshold_tiyn; /* the kind's first threshold x MRP */
	bool reconfirmation_required;
	bool in_person_required;
	unsigned in_person_reasons; /* bits (1u << enum in_person_reason) */
	bool extra_confirmation_required;
	bool control_call_required; /* the band that cools it asks for a control call */
	/* how long another lender's payout of the borrower holds this loan
	 * (the profile's cross-lender window); TS_NULL when it does not */
	int64_t cross_lender_window_s;
};

/* The one function that applies a profile's rules to an approval. Pure. */
void policy_decide(const struct policy *p, const struct policy_input *in,
                   struct policy_decision *d);

enum blocker {
	BLOCKER_CANCELLED,
	BLOCKER_ALREADY_DISBURSED,
	BLOCKER_VOLUNTARY_REFUSAL_ACTIVE,
	BLOCKER_FRAUD_CLAIM_OPEN,
	BLOCKER_CONSENT_MISSING,
	BLOCKER_EXTRA_CONFIRMATION_MISSING,
	BLOCKER_COOLING_PERIOD_ACTIVE,
	/* from the approval on, while the loan's band asks for a control
	 * call and none is recorded */
	BLOCKER_CONTROL_CALL_MISSING,
	BLOCKER_OTHER_LOAN_WITHIN_24H,
	BLOCKER_RECONFIRMATION_MISSING,
	BLOCKER_IN_PERSON_VERIFICATION_MISSING,
	/* a disbursement's request, not the loan, stands in the way: only in
	 * a refusal, never in a loan's view (loan_disburse_decide()) */
	BLOCKER_PAYEE_FLAGGED,
	BLOCKER_PAYEE_NOT_BORROWER,
	BLOCKER__COUNT
};

/* The blockers that come from a disbursement's request. */
#define BLOCKERS_OF_REQUEST ((1u << BLOCKER_PAYEE_FLAGGED) | (1u << BLOCKER_PAYEE_NOT_BORROWER))
/* The blockers that time alone ends: when no other stands in the way, the
 * latest of their ends is the earliest moment of the payout. */
#define BLOCKERS_OF_TIME                                                                           \
	((1u << BLOCKER_COOLING_PERIOD_ACTIVE) | (1u << BLOCKER_OTHER_LOAN_WITHIN_24H))

enum loan_status {
	STATUS_CANCELLED,
	STATUS_DISBURSED,
	STATUS_BLOCKED_BY_REFUSAL,
	STATUS_BLOCKED_BY_FRAUD_CLAIM,
	STATUS_AWAITING_CONSENT,
	STATUS_AWAITING_EXTRA_CONFIRMATION,
	STATUS_COOLING,
	STATUS_AWAITING_CONTROL_CALL,
	STATUS_BLOCKED_BY_OTHER_LOAN,
	STATUS_AWAITING_RECONFIRMATION,
	STATUS_AWAITING_IN_PERSON,
	STATUS_ELIGIBLE
};

const char *blocker_name(enum blocker b);
const char *status_name(enum loan_status s);
/* A status by its name; false for no status. */
bool status_parse(const char *s, enum loan_status *out);
/* Every status's name, in order, ", "-separated, for a message that
 * lists them. */
#define STATUS_LIST_BUF 512
void status_list(char out[STATUS_LIST_BUF]);
const char *channel_name(enum channel c);
bool channel_parse(const char *s, enum channel *c);

/* A loan as recorded. Timestamps are microseconds UTC, TS_NULL when absent. */
struct loan {
	int64_t pk; /* database row id, 0 before insertion */
	char lender[ID_BUF];
	char loan_id[ID_BUF];
	char borrower_iin[13];
	int64_t amount_tiyn; /* in the minor unit of currency */
	char currency[4];    /* ISO 4217, the profile's */
	enum channel channel;
	bool secured;
	bool first_time_borrower;
	bool first_time_given; /* stated by the lender, not derived */
	enum product product;
	int lender_kind; /* enum lender_kind, the lender's at approval */

	/* fixed at approval by policy_assess() */
	char policy[POLICY_NAME_BUF];
	int64_t mrp_tenge;
	int64_t threshold_tiyn;
	bool cooling_required;
	int64_t cooling_period_s; /* 0 when not required or by the calendar */
	/* the period ends at the next working day's start after the consent in
	 * this zone, which the database computes from its calendar when the
	 * consent is recorded (cd_cooling_ends_at); "" when it is a length */
	char cooling_calendar_zone[POLICY_ZONE_BUF];
	bool in_person_required;
	enum exemption exemption;
	int64_t aggregated_tiyn; /* the day's amount */
	enum rule rule;
	int64_t borrower_age; /* on the approval's local date */
	bool extra_confirmation_required;
	bool reconfirmation_required;
	bool control_call_required;
	/* bits (1u << enum in_person_reason); TS_NULL for a loan recorded
	 * before they were (loan_in_person_reasons()) */
	int64_t in_person_reasons;
	/* seconds that another lender's payout of the borrower's online loan
	 * holds this one (policy_decision's); TS_NULL when none does */
	int64_t cross_lender_window_s;
	/* inputs of the approval, not recorded: see struct policy_input */
	bool prior_fraud_victim;
	bool multi_lender_burst;

	int64_t approved_at;
	int64_t consent_at;
	int64_t cooling_ends_at;
	int64_t in_person_verified_at;
	char in_person_branch_id[ID_BUF];
	char in_person_officer_id[ID_BUF];
	int64_t disbursed_at;
	int64_t cancelled_at;
	char cancel_reason[801]; /* 200 characters of up to 4 bytes */
	int64_t extra_confirmed_at;
	char extra_confirmation_method[16]; /* extra_method_names; "" when none */
	int64_t reconfirmed_at;
	char reconfirmation_method[16]; /* extra_method_names; "" when none */
	/* the borrower's trusted person confirmed the loan: exempt from then
	 * on (EXEMPT_TRUSTED_PERSON), its cooling fields cleared */
	int64_t trusted_person_confirmed_at;
	/* the control call that the loan's band asks for: when, by whom */
	int64_t control_called_at;
	char control_call_officer_id[ID_BUF];

	/* read, not recorded: a voluntary refusal of the borrower is active
	 * at the database's now (cd_refusal_active) */
	bool voluntary_refusal_active;
	/* read, not recorded: a fraud claim of the borrower is open
	 * (cd_claim_open) */
	bool fraud_claim_open;
	/* read, not recorded, for a loan with a cross-lender window: the
	 * latest payout of the borrower's loans that the window counts at
	 * another lender (cd_cross_lender_last); TS_NULL when none */
	int64_t other_lender_paid_at;
};

/* Fills the approval-time fields of l (policy, its currency, mrp, threshold, exemption,
 * day's amount, rule, cooling, reconfirmation, in-person, extra
 * confirmation, control call) by policy_decide() from its amount, product, channel,
 * secured and first-time flags, lender kind and borrower_age, the other
 * loans of the day and the MRP in force on the local date of its approval.
 * A branch loan counts as verified in person at approved_at. */
void policy_assess_day(const struct policy *p, int64_t mrp_tenge, int64_t day_others_tiyn,
                       struct loan *l);
/* The same for a loan that is the borrower's first of its day. */
void policy_assess(const struct policy *p, int64_t mrp_tenge, struct loan *l);

/* Why the loan needs a visit: its recorded reasons, or for a loan recorded
 * before reasons were, first_time when it needs one (the only reason then). */
unsigned loan_in_person_reasons(const struct loan *l);

/* consent_at + period for a cooled loan, TS_NULL otherwise, and TS_NULL
 * for a loan cooled until the next working day: the database computes that
 * end from its calendar as it records the consent. */
int64_t policy_cooling_ends_at(const struct loan *l, int64_t consent_at);

/* Whether the loan's period ends at a calendar's next working day, and so
 * has no length (its cooling_period_seconds is null). */
bool policy_cooled_by_calendar(const struct loan *l);

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

/* Seconds until the earliest disbursement, rounded up, for Retry-After,
 * when only blockers that time ends stand in the way (BLOCKERS_OF_TIME);
 * 0 otherwise. */
int64_t loan_retry_after(const struct loan *l, const struct loan_view *v, int64_t now);

/*
 * The MRP of the coming year (coolingd_mrp_next_year_missing): the MRP table
 * (mrp, valid_from local dates) has to hold the next year's value before
 * 1 January, or the old value silently stays in force. Missing from
 * 1 December of a year while no row is dated in the following year, and
 * still missing after New Year until such a row exists (no row dated in
 * the current year). today_days and newest_valid_from_days are local dates
 * (policy.timezone) in days since 1970-01-01; newest_valid_from_days is
 * POLICY_NO_MRP when the table is empty.
 */
#define POLICY_NO_MRP INT64_MIN
bool policy_mrp_next_year_missing(int64_t today_days, int64_t newest_valid_from_days);

/* The zone of the calendar of non-working days that a profile of the
 * schedule waits on (its calendar_zone), the first entry's that has one;
 * NULL when none has. */
const char *policy_schedule_calendar_zone(const struct policy_schedule *s);

/*
 * The calendar of the coming year (coolingd_holiday_calendar_next_year_missing):
 * the table non_working_day, which `coolingctl holidays import` fills a
 * year at a time, has to hold a day of the next year before 1 January, or
 * loans are judged as if that year had no holiday. The year due is the
 * next from 1 December on, the current one before (a year with no day
 * held is still missing after New Year). Missing when the due year holds
 * no day and a profile with a calendar is in force on some day from today
 * to the due year's end (a schedule may switch to one, or away from it);
 * never otherwise. today_days is the local date in the calendar's zone
 * (days since 1970-01-01); this_year and next_year say whether the table
 * holds a day of today's year and of the next.
 */
bool policy_calendar_next_year_missing(const struct policy_schedule *s, int64_t today_days,
                                       bool this_year, bool next_year);

#endif

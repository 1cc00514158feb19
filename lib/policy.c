/*
 * The rules of the kz-card profile (and room for more): which loans are
 * cooled and for how long, who must come in person, and what blocks a
 * payout at a given moment. See REGULATION.md.
 */
#include "policy.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

/*
 * The profiles, as a compliance officer reads them. Each number is a field
 * of struct policy, set by configuration ([policy] keys named beside it);
 * the defaults are REGULATION.md's.
 */
#define F(field) offsetof(struct policy, field)
/* A bound's reading beside its number: the bool of struct policy and its
 * key, named after the *_threshold_mrp key (policy.bank_threshold_mrp:
 * policy.bank_threshold_inclusive). */
/* clang-format off */
#define LOWER_BOUND(name) \
	.above_inclusive = F(name##_inclusive), \
	.above_inclusive_key = "policy." #name "_inclusive"
#define UPPER_BOUND(name) \
	.up_to_inclusive = F(name##_inclusive), \
	.up_to_inclusive_key = "policy." #name "_inclusive"
/* clang-format on */
#define ANY_KIND (-1)

/* What a profile's amounts are counted in: N MRP of the approval's date
 * (Kazakhstan's law), or N whole units of its currency (a foreign law's
 * absolute amounts). Either way a bound is compared in the currency's
 * minor unit (bound_minor()). */
enum amount_unit { UNIT_MRP, UNIT_MAJOR };

struct profile_def {
	struct policy defaults;
	/* the law or rule the row carries, and where REGULATION.md has it:
	 * policy show prints it */
	const char *source;
	const char *currency; /* ISO 4217: an approval's `currency` must be it */
	enum amount_unit unit;
	/* policy.cooling_period and policy.threshold_mrp may tune it */
	bool v1_overrides;
	/* the day's amount of the borrower (same lender or all, per
	 * policy.aggregation), or the loan's own amount alone */
	bool aggregates;
	unsigned exemptions; /* bits (1u << enum exemption), tried in enum order */
	int nbands;
	struct policy_band bands[POLICY_MAX_BANDS];
	bool reconfirmation; /* a cooled loan is confirmed again after its period */
	/* first-time borrowers of unsecured loans come in person */
	bool in_person_rule;
	bool in_person_by_amount; /* the visit only above the kind's first band (MFO: online) */
	bool age_rule;            /* a cooled loan of the young or the old: one more confirmation */
	/* one online loan across lenders: a loan of the channels the profile
	 * holds, not exempt, waits while another lender's payout of such a
	 * loan of the borrower is younger than this number of struct policy
	 * (its offset), whose key is cross_lender_window_key; no such rule
	 * when the key is NULL */
	size_t cross_lender_window;
	const char *cross_lender_window_key;
	/* the IANA zone whose local dates the calendar of non-working days
	 * holds, for its bands until_next_working_day */
	const char *calendar_zone;
};

#define EXEMPT(e) (1u << (e))

/* The enacted numbers (REGULATION.md, "Profile kz-2025-09"), in one place:
 * the defaults of their [policy] keys under every profile. */
#define ENACTED_NUMBERS                                                                            \
	.aggregation = AGGREGATION_LENDER, .bank_threshold_mrp = 150, .bank_period_s = 8 * 3600,   \
	.bank_long_threshold_mrp = 255, .bank_long_period_s = 24 * 3600, .mfo_threshold_mrp = 75,  \
	.mfo_period_s = 24 * 3600, .card_limit_exempt_mrp = 150,                                   \
	.extra_confirmation_under_age = 21, .extra_confirmation_from_age = 55, FOREIGN_NUMBERS

/* The foreign profiles' numbers (REGULATION.md, "More countries"), the
 * same way. */
#define FOREIGN_NUMBERS                                                                            \
	.ru_short_above = 50000, .ru_long_above = 200000, .ru_short_period_s = 4 * 3600,           \
	.ru_long_period_s = 48 * 3600, .kg_band1_above = 15000, .kg_band2_above = 50000,           \
	.kg_band3_above = 100000, .kg_band1_period_s = 3 * 3600, .kg_band2_period_s = 6 * 3600,    \
	.kg_band3_period_s = 24 * 3600, .uz_window_s = 24 * 3600

static const struct profile_def profiles[] = {
    /* kz-card: online loans above 150 MRP wait 24 hours after consent;
     * every first-time unsecured borrower comes in person. */
    {.source = "the card's rule: REGULATION.md, \"Profile kz-card\"",
     .currency = "KZT",
     .unit = UNIT_MRP,
     .defaults = {.name = "kz-card",
                  .cooling_period_s = 24 * 3600,
                  .threshold_mrp = 150,
                  .cool_online = true,
                  .cool_branch = false,
                  /* not applied by this profile; kept so that the keys show
                   * the enacted numbers whichever profile is in force */
                  ENACTED_NUMBERS},
     .v1_overrides = true,
     .aggregates = false,
     .exemptions = EXEMPT(EXEMPT_BRANCH),
     .nbands = 1,
     .bands = {{.rule = RULE_CARD,
                .lender_kind = ANY_KIND,
                .above = F(threshold_mrp),
                LOWER_BOUND(threshold),
                .up_to = POLICY_NO_FIELD,
                .period = F(cooling_period_s),
                .above_key = "policy.threshold_mrp",
                .period_key = "policy.cooling_period"}},
     .reconfirmation = false,
     .in_person_rule = true,
     .in_person_by_amount = false,
     .age_rule = false},
    /* kz-2025-09, the law as enacted (REGULATION.md, "Profile kz-2025-09"):
     * a bank's loans of the day above 150 MRP up to 255 MRP wait 8 hours,
     * above 255 MRP 24 hours; an MFO's above 75 MRP 24 hours; branch,
     * secured, goods, refinancing and card-limit loans (up to 150 MRP) are
     * exempt; after the period the borrower confirms again; under 21 and
     * from 55, once more. */
    {.source = "Law No. 205-VIII of 30.06.2025 and ARDFM resolutions of 28-29.08.2025, in "
               "force from 30.09.2025: REGULATION.md, \"Profile kz-2025-09\"",
     .currency = "KZT",
     .unit = UNIT_MRP,
     .defaults = {.name = "kz-2025-09",
                  .cooling_period_s = 24 * 3600,
                  .threshold_mrp = 150,
                  .cool_online = true,
                  .cool_branch = false,
                  ENACTED_NUMBERS},
     .aggregates = true,
     .exemptions = EXEMPT(EXEMPT_BRANCH) | EXEMPT(EXEMPT_SECURED) | EXEMPT(EXEMPT_GOODS) |
                   EXEMPT(EXEMPT_REFINANCING) | EXEMPT(EXEMPT_CARD_LIMIT),
     .nbands = 3,
     .bands = {{.rule = RULE_BANK_SHORT,
                .lender_kind = LENDER_BANK,
                .above = F(bank_threshold_mrp),
                LOWER_BOUND(bank_threshold),
                .up_to = F(bank_long_threshold_mrp),
                UPPER_BOUND(bank_long_threshold),
                .period = F(bank_period_s),
                .above_key = "policy.bank_threshold_mrp",
                .up_to_key = "policy.bank_long_threshold_mrp",
                .period_key = "policy.bank_period"},
               {.rule = RULE_BANK_LONG,
                .lender_kind = LENDER_BANK,
                .above = F(bank_long_threshold_mrp),
                LOWER_BOUND(bank_long_threshold),
                .up_to = POLICY_NO_FIELD,
                .period = F(bank_long_period_s),
                .above_key = "policy.bank_long_threshold_mrp",
                .period_key = "policy.bank_long_period"},
               {.rule = RULE_MFO,
                .lender_kind = LENDER_MFO,
                .above = F(mfo_threshold_mrp),
                LOWER_BOUND(mfo_threshold),
                .up_to = POLICY_NO_FIELD,
                .period = F(mfo_period_s),
                .above_key = "policy.mfo_threshold_mrp",
                .period_key = "policy.mfo_period"}},
     .reconfirmation = true,
     .in_person_rule = true,
     .in_person_by_amount = true,
     .age_rule = true},
    /* ru-2025-09, Federal Law 9-FZ (REGULATION.md, "More countries"):
     * online and branch loans above 50,000 up to 200,000 roubles wait 4
     * hours after the signing (consent), above 200,000 48 hours; a credit
     * card's limit increase is a loan like the others; secured (mortgage,
     * a car paid to the seller), education, goods bought in person,
     * refinancing and a loan that the borrower's trusted person confirms
     * are exempt. No visit, no age rule, no reconfirmation. */
    {.source = "Federal Law 9-FZ, from 01.09.2025: REGULATION.md, \"More countries\", Russia",
     .currency = "RUB",
     .unit = UNIT_MAJOR,
     .defaults = {.name = "ru-2025-09",
                  .cooling_period_s = 24 * 3600,
                  .threshold_mrp = 150,
                  .cool_online = true,
                  .cool_branch = true,
                  ENACTED_NUMBERS},
     .aggregates = false,
     .exemptions = EXEMPT(EXEMPT_SECURED) | EXEMPT(EXEMPT_GOODS) | EXEMPT(EXEMPT_REFINANCING) |
                   EXEMPT(EXEMPT_EDUCATION) | EXEMPT(EXEMPT_TRUSTED_PERSON),
     .nbands = 2,
     .bands = {{.rule = RULE_RU_SHORT,
                .lender_kind = ANY_KIND,
                .above = F(ru_short_above),
                .above_inclusive = POLICY_NO_FIELD,
                .up_to = F(ru_long_above),
                .up_to_inclusive = POLICY_NO_FIELD,
                .period = F(ru_short_period_s),
                .above_key = "policy.ru_short_above",
                .up_to_key = "policy.ru_long_above",
                .period_key = "policy.ru_short_period"},
               {.rule = RULE_RU_LONG,
                .lender_kind = ANY_KIND,
                .above = F(ru_long_above),
                .above_inclusive = POLICY_NO_FIELD,
                .up_to = POLICY_NO_FIELD,
                .period = F(ru_long_period_s),
                .above_key = "policy.ru_long_above",
                .period_key = "policy.ru_long_period"}},
     .reconfirmation = false,
     .in_person_rule = false,
     .in_person_by_amount = false,
     .age_rule = false},
    /* kg-2024-11, Kyrgyzstan's law of November 2024 (REGULATION.md, "More
     * countries"): remotely issued loans above 15,000 up to 50,000 som wait
     * 3 hours after consent, above 50,000 up to 100,000 6 hours, above
     * 100,000 24 hours and need a control call; a branch loan is not
     * remote. No other exemption, no visit, no age rule, no
     * reconfirmation. */
    {.source = "the law adopted in November 2024: REGULATION.md, \"More countries\", Kyrgyzstan",
     .currency = "KGS",
     .unit = UNIT_MAJOR,
     .defaults = {.name = "kg-2024-11",
                  .cooling_period_s = 24 * 3600,
                  .threshold_mrp = 150,
                  .cool_online = true,
                  .cool_branch = false,
                  ENACTED_NUMBERS},
     .aggregates = false,
     .exemptions = EXEMPT(EXEMPT_BRANCH),
     .nbands = 3,
     .bands = {{.rule = RULE_KG_BAND1,
                .lender_kind = ANY_KIND,
                .above = F(kg_band1_above),
                .above_inclusive = POLICY_NO_FIELD,
                .up_to = F(kg_band2_above),
                .up_to_inclusive = POLICY_NO_FIELD,
                .period = F(kg_band1_period_s),
                .above_key = "policy.kg_band1_above",
                .up_to_key = "policy.kg_band2_above",
                .period_key = "policy.kg_band1_period"},
               {.rule = RULE_KG_BAND2,
                .lender_kind = ANY_KIND,
                .above = F(kg_band2_above),
                .above_inclusive = POLICY_NO_FIELD,
                .up_to = F(kg_band3_above),
                .up_to_inclusive = POLICY_NO_FIELD,
                .period = F(kg_band2_period_s),
                .above_key = "policy.kg_band2_above",
                .up_to_key = "policy.kg_band3_above",
                .period_key = "policy.kg_band2_period"},
               {.rule = RULE_KG_BAND3,
                .lender_kind = ANY_KIND,
                .above = F(kg_band3_above),
                .above_inclusive = POLICY_NO_FIELD,
                .up_to = POLICY_NO_FIELD,
                .period = F(kg_band3_period_s),
                .above_key = "policy.kg_band3_above",
                .period_key = "policy.kg_band3_period",
                .control_call = true}},
     .reconfirmation = false,
     .in_person_rule = false,
     .in_person_by_amount = false,
     .age_rule = false},
    /* uz-2026-01, Regulation No. 3759 (REGULATION.md, "More countries"):
     * one online loan a day across all lenders: while another lender paid
     * out an online loan of the borrower less than 24 hours ago, an online
     * loan waits. No bands, no visit, no age rule, no reconfirmation; a
     * branch loan is neither held nor counted (exempt: branch). */
    {.source = "Regulation No. 3759 of 21.01.2026: REGULATION.md, \"More countries\", "
               "Uzbekistan",
     .currency = "UZS",
     .unit = UNIT_MAJOR,
     .defaults = {.name = "uz-2026-01",
                  .cooling_period_s = 24 * 3600,
                  .threshold_mrp = 150,
                  .cool_online = true,
                  .cool_branch = false,
                  ENACTED_NUMBERS},
     .aggregates = false,
     .exemptions = EXEMPT(EXEMPT_BRANCH),
     .nbands = 0,
     .reconfirmation = false,
     .in_person_rule = false,
     .in_person_by_amount = false,
     .age_rule = false,
     .cross_lender_window = F(uz_window_s),
     .cross_lender_window_key = "policy.uz_window"},
    /* by-2025-11, National Bank resolution 267 (REGULATION.md, "More
     * countries", Belarus): every online loan is paid out no earlier than
     * the start of the next working day after the consent, in Minsk, by the
     * calendar of non-working days; paid to a seller (goods) is exempt. The
     * law is about remote lending: a branch loan is not held. No amount
     * bound, no visit, no age rule, no reconfirmation. */
    {.source = "National Bank resolution 267, from 22.11.2025: REGULATION.md, \"More "
               "countries\", Belarus",
     .currency = "BYN",
     .unit = UNIT_MAJOR,
     .defaults = {.name = "by-2025-11",
                  .cooling_period_s = 24 * 3600,
                  .threshold_mrp = 150,
                  .cool_online = true,
                  .cool_branch = false,
                  ENACTED_NUMBERS},
     .aggregates = false,
     .exemptions = EXEMPT(EXEMPT_BRANCH) | EXEMPT(EXEMPT_GOODS),
     .nbands = 1,
     .bands = {{.rule = RULE_NEXT_WORKING_DAY,
                .lender_kind = ANY_KIND,
                .above = POLICY_NO_FIELD,
                .above_inclusive = POLICY_NO_FIELD,
                .up_to = POLICY_NO_FIELD,
                .period = POLICY_NO_FIELD,
                .until_next_working_day = true}},
     .reconfirmation = false,
     .in_person_rule = false,
     .in_person_by_amount = false,
     .age_rule = false,
     .calendar_zone = "Europe/Minsk"},
};

#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

const char policy_default_profile[] = "kz-card";

/* The profile's definition by name; NULL for an unknown name. */
static const struct profile_def *profile_named(const char *name)
{
	for (size_t i = 0; i < NPROFILES; i++)
		if (strcmp(profiles[i].defaults.name, name) == 0)
			return &profiles[i];
	return NULL;
}

bool policy_profile(const char *name, struct policy *p)
{
	const struct profile_def *d = profile_named(name);
	if (d == NULL)
		return false;
	*p = d->defaults;
	p->def = d;
	return true;
}

/* The definition of the profile a policy was built from. */
static const struct profile_def *def_of(const struct policy *p)
{
	assert(p->def != NULL); /* every policy comes from policy_profile() */
	return p->def;
}

/* A number of the band; 0 for one it does not have (a band of every
 * amount, or one until the next working day). */
static int64_t field(const struct policy *p, size_t offset)
{
	return offset == POLICY_NO_FIELD ? 0 : *(const int64_t *)((const char *)p + offset);
}

/* A bound's reading; "above" for a bound that has no key for it. */
static bool flag(const struct policy *p, size_t offset)
{
	return offset != POLICY_NO_FIELD && *((const bool *)((const char *)p + offset));
}

bool policy_aggregates(const struct policy *p)
{
	return def_of(p)->aggregates;
}

const char *policy_currency(const struct policy *p)
{
	return def_of(p)->currency;
}

bool policy_amounts_in_mrp(const struct policy *p)
{
	return def_of(p)->unit == UNIT_MRP;
}

bool policy_takes_trusted_person(const char *name)
{
	const struct profile_def *d = profile_named(name);
	return d != NULL && (d->exemptions & EXEMPT(EXEMPT_TRUSTED_PERSON));
}

bool policy_takes_v1_overrides(const struct policy *p)
{
	return def_of(p)->v1_overrides;
}

const char *policy_profile_name_at(size_t i)
{
	return i < NPROFILES ? profiles[i].defaults.name : NULL;
}

const char *policy_v1_overrides_profile(void)
{
	for (size_t i = 0; i < NPROFILES; i++)
		if (profiles[i].v1_overrides)
			return profiles[i].defaults.name;
	return "";
}

bool policy_profile_fixed(const char *name, struct policy_table *t)
{
	const struct profile_def *d = profile_named(name);
	if (d == NULL)
		return false;
	t->reconfirmation = d->reconfirmation;
	t->in_person_rule = d->in_person_rule;
	t->in_person_by_amount = d->in_person_by_amount;
	t->source = d->source;
	return true;
}

void policy_table_of(const struct policy *p, struct policy_table *t)
{
	const struct profile_def *d = def_of(p);
	memset(t, 0, sizeof(*t));
	t->profile = d->defaults.name;
	t->source = d->source;
	t->currency = d->currency;
	t->unit = d->unit == UNIT_MRP ? "MRP" : d->currency;
	t->calendar_zone = d->calendar_zone;
	t->aggregates = d->aggregates;
	t->aggregation = p->aggregation;
	t->nbands = d->nbands;
	for (int i = 0; i < d->nbands; i++) {
		const struct policy_band *b = &d->bands[i];
		t->bands[i].rule = b->rule;
		t->bands[i].lender_kind = b->lender_kind;
		t->bands[i].above_mrp = field(p, b->above);
		t->bands[i].up_to_mrp = b->up_to == POLICY_NO_FIELD ? -1 : field(p, b->up_to);
		t->bands[i].above_inclusive = flag(p, b->above_inclusive);
		t->bands[i].up_to_exclusive =
		    b->up_to != POLICY_NO_FIELD && flag(p, b->up_to_inclusive);
		t->bands[i].period_s = field(p, b->period);
		t->bands[i].until_next_working_day = b->until_next_working_day;
		t->bands[i].above_key = b->above_key;
		t->bands[i].up_to_key = b->up_to_key;
		t->bands[i].period_key = b->period_key;
		t->bands[i].above_inclusive_key = b->above_inclusive_key;
		t->bands[i].up_to_inclusive_key = b->up_to_inclusive_key;
		t->bands[i].control_call = b->control_call;
	}
	t->exemptions = d->exemptions;
	t->card_limit_mrp = p->card_limit_exempt_mrp;
	t->reconfirmation = d->reconfirmation;
	t->in_person_rule = d->in_person_rule;
	t->in_person_by_amount = d->in_person_by_amount;
	t->age_rule = d->age_rule;
	t->under_age = p->extra_confirmation_under_age;
	t->from_age = p->extra_confirmation_from_age;
	t->cross_lender_window_s =
	    d->cross_lender_window_key != NULL ? field(p, d->cross_lender_window) : -1;
	t->cross_lender_window_key = d->cross_lender_window_key;
}

/* A bound of N of the profile's unit in the currency's minor unit: N MRP
 * (whole tenge) in tiyn, or N whole units of the currency in its
 * hundredths (kopecks, tyiyn, tiyin, kapeiki). */
static int64_t bound_minor(const struct profile_def *d, int64_t n, int64_t mrp_tenge)
{
	return d->unit == UNIT_MRP ? n * mrp_tenge * 100 : n * 100;
}

static bool band_of_kind(const struct policy_band *b, int kind)
{
	return b->lender_kind == ANY_KIND || b->lender_kind == kind;
}

/* Whether an amount is beyond a bound: strictly greater ("above"), or, when
 * the bound is inclusive ("from"), equal too. */
static bool beyond(int64_t amount_tiyn, int64_t bound_tiyn, bool inclusive)
{
	return inclusive ? amount_tiyn >= bound_tiyn : amount_tiyn > bound_tiyn;
}

/* Whether the day's amount falls in the band: beyond its lower bound (a
 * band without one holds every amount) and not beyond its upper one. */
static bool in_band(const struct profile_def *d, const struct policy *p,
                    const struct policy_band *b, int64_t day_tiyn, int64_t mrp_tenge)
{
	if (b->above != POLICY_NO_FIELD &&
	    !beyond(day_tiyn, bound_minor(d, field(p, b->above), mrp_tenge),
	            flag(p, b->above_inclusive)))
		return false;
	return b->up_to == POLICY_NO_FIELD ||
	       !beyond(day_tiyn, bound_minor(d, field(p, b->up_to), mrp_tenge),
	               flag(p, b->up_to_inclusive));
}

/* The first exemption of the profile that the loan has. */
static enum exemption exemption_of(const struct profile_def *d, const struct policy *p,
                                   const struct policy_input *in, int64_t day_tiyn)
{
	bool has[EXEMPT__COUNT] = {
	    [EXEMPT_BRANCH] = in->channel == CHANNEL_BRANCH && !p->cool_branch,
	    [EXEMPT_SECURED] = in->secured,
	    [EXEMPT_GOODS] = in->product == PRODUCT_GOODS,
	    [EXEMPT_REFINANCING] = in->product == PRODUCT_REFINANCING,
	    [EXEMPT_CARD_LIMIT] =
	        in->product == PRODUCT_CARD_LIMIT &&
	        day_tiyn <= bound_minor(d, p->card_limit_exempt_mrp, in->mrp_tenge),
	    [EXEMPT_EDUCATION] = in->product == PRODUCT_EDUCATION,
	};
	for (int e = EXEMPT_BRANCH; e < EXEMPT__COUNT; e++)
		if ((d->exemptions & EXEMPT(e)) && has[e])
			return (enum exemption)e;
	return EXEMPT_NONE;
}

void policy_decide(const struct policy *p, const struct policy_input *in,
                   struct policy_decision *out)
{
	const struct profile_def *d = def_of(p);
	memset(out, 0, sizeof(*out));
	/* amounts compare in tiyn; "above" is strictly greater, "from" (an
	 * inclusive bound) greater or equal */
	out->aggregated_tiyn = in->amount_tiyn + (d->aggregates ? in->day_others_tiyn : 0);
	out->exemption = exemption_of(d, p, in, out->aggregated_tiyn);

	/* the kind's first threshold: the lowest band of its kind */
	const struct policy_band *first = NULL;
	for (int i = 0; i < d->nbands; i++) {
		const struct policy_band *b = &d->bands[i];
		if (band_of_kind(b, in->lender_kind) &&
		    (first == NULL || field(p, b->above) < field(p, first->above)))
			first = b;
	}
	int64_t first_tiyn =
	    first == NULL ? 0 : bound_minor(d, field(p, first->above), in->mrp_tenge);
	out->threshold_tiyn = first_tiyn;

	bool channel_cooled = in->channel == CHANNEL_ONLINE ? p->cool_online : p->cool_branch;
	if (out->exemption == EXEMPT_NONE && channel_cooled) {
		for (int i = 0; i < d->nbands; i++) {
			const struct policy_band *b = &d->bands[i];
			if (!band_of_kind(b, in->lender_kind) ||
			    !in_band(d, p, b, out->aggregated_tiyn, in->mrp_tenge))
				continue;
			out->rule = b->rule;
			out->cooling_period_s = field(p, b->period);
			out->control_call_required = b->control_call;
			out->calendar_zone = b->until_next_working_day ? d->calendar_zone : NULL;
			break;
		}
	}
	out->cooling_required = out->rule != RULE_NONE;
	out->cross_lender_window_s =
	    d->cross_lender_window_key != NULL && out->exemption == EXEMPT_NONE && channel_cooled
	        ? field(p, d->cross_lender_window)
	        : TS_NULL;
	out->reconfirmation_required = d->reconfirmation && out->cooling_required;

	/* the visit: unsecured and first-time; under kz-2025-09 only above the
	 * kind's first threshold (read as that bound's key says), and for an
	 * MFO only online */
	bool first_time = d->in_person_rule && !in->secured && in->first_time;
	if (d->in_person_by_amount)
		first_time =
		    first_time && first != NULL &&
		    beyond(out->aggregated_tiyn, first_tiyn, flag(p, first->above_inclusive)) &&
		    (in->lender_kind != LENDER_MFO || in->channel == CHANNEL_ONLINE);
	/* a repeat victim comes in person for every cooled loan, whatever the
	 * profile says (REGULATION.md: the same people are defrauded again) */
	bool prior_victim = in->prior_fraud_victim && out->cooling_required;
	/* and so does a borrower applying at several lenders in a burst */
	bool burst = in->multi_lender_burst && out->cooling_required;
	out->in_person_reasons = (first_time ? 1u << INPERSON_FIRST_TIME : 0) |
	                         (prior_victim ? 1u << INPERSON_PRIOR_FRAUD_VICTIM : 0) |
	                         (burst ? 1u << INPERSON_MULTI_LENDER_BURST : 0);
	out->in_person_required = out->in_person_reasons != 0;

	out->extra_confirmation_required = d->age_rule && out->cooling_required && in->age >= 0 &&
	                                   (in->age < p->extra_confirmation_under_age ||
	                                    in->age >= p->extra_confirmation_from_age);
}

static const char *const blocker_names[BLOCKER__COUNT] = {
    [BLOCKER_CANCELLED] = "cancelled",
    [BLOCKER_ALREADY_DISBURSED] = "already_disbursed",
    [BLOCKER_VOLUNTARY_REFUSAL_ACTIVE] = "voluntary_refusal_active",
    [BLOCKER_FRAUD_CLAIM_OPEN] = "fraud_claim_open",
    [BLOCKER_CONSENT_MISSING] = "consent_missing",
    [BLOCKER_EXTRA_CONFIRMATION_MISSING] = "extra_confirmation_missing",
    [BLOCKER_COOLING_PERIOD_ACTIVE] = "cooling_period_active",
    [BLOCKER_CONTROL_CALL_MISSING] = "control_call_missing",
    [BLOCKER_OTHER_LOAN_WITHIN_24H] = "other_loan_within_24h",
    [BLOCKER_RECONFIRMATION_MISSING] = "reconfirmation_missing",
    [BLOCKER_IN_PERSON_VERIFICATION_MISSING] = "in_person_verification_missing",
    [BLOCKER_PAYEE_FLAGGED] = "payee_flagged",
    [BLOCKER_PAYEE_NOT_BORROWER] = "payee_not_borrower",
};

static const char *const status_names[] = {
    [STATUS_CANCELLED] = "cancelled",
    [STATUS_DISBURSED] = "disbursed",
    [STATUS_BLOCKED_BY_REFUSAL] = "blocked_by_refusal",
    [STATUS_BLOCKED_BY_FRAUD_CLAIM] = "blocked_by_fraud_claim",
    [STATUS_AWAITING_CONSENT] = "awaiting_consent",
    [STATUS_AWAITING_EXTRA_CONFIRMATION] = "awaiting_extra_confirmation",
    [STATUS_COOLING] = "cooling",
    [STATUS_AWAITING_CONTROL_CALL] = "awaiting_control_call",
    [STATUS_BLOCKED_BY_OTHER_LOAN] = "blocked_by_other_loan",
    [STATUS_AWAITING_RECONFIRMATION] = "awaiting_reconfirmation",
    [STATUS_AWAITING_IN_PERSON] = "awaiting_in_person",
    [STATUS_ELIGIBLE] = "eligible",
};

/* The status named after each blocker, when it is the first one. */
static const enum loan_status status_of_blocker[BLOCKER__COUNT] = {
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
    /* a request's blocker never decides a loan's status */
    [BLOCKER_PAYEE_FLAGGED] = STATUS_ELIGIBLE,
    [BLOCKER_PAYEE_NOT_BORROWER] = STATUS_ELIGIBLE,
};

const char *blocker_name(enum blocker b)
{
	return b < BLOCKER__COUNT ? blocker_names[b] : "unknown";
}

const char *status_name(enum loan_status s)
{
	return s <= STATUS_ELIGIBLE ? status_names[s] : "unknown";
}

bool status_parse(const char *s, enum loan_status *out)
{
	for (int i = 0; i <= STATUS_ELIGIBLE; i++) {
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum loan_status)i;
			return true;
		}
	}
	return false;
}

void status_list(char out[STATUS_LIST_BUF])
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i <= STATUS_ELIGIBLE; i++) {
		int n = snprintf(out + len, STATUS_LIST_BUF - len, "%s%s", i > 0 ? ", " : "",
		                 status_names[i]);
		if (n < 0 || (size_t)n >= STATUS_LIST_BUF - len)
			return;
		len += (size_t)n;
	}
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
	policy_assess_day(p, mrp_tenge, 0, l);
}

void policy_assess_day(const struct policy *p, int64_t mrp_tenge, int64_t day_others_tiyn,
                       struct loan *l)
{
	struct policy_input in = {.lender_kind = l->lender_kind,
	                          .product = l->product,
	                          .channel = l->channel,
	                          .secured = l->secured,
	                          .first_time = l->first_time_borrower,
	                          .amount_tiyn = l->amount_tiyn,
	                          .day_others_tiyn = day_others_tiyn,
	                          .mrp_tenge = mrp_tenge,
	                          .age = (int)l->borrower_age,
	                          .prior_fraud_victim = l->prior_fraud_victim,
	                          .multi_lender_burst = l->multi_lender_burst};
	struct policy_decision d;
	policy_decide(p, &in, &d);
	snprintf(l->policy, sizeof(l->policy), "%s", p->name);
	snprintf(l->currency, sizeof(l->currency), "%s", def_of(p)->currency);
	l->mrp_tenge = mrp_tenge;
	l->threshold_tiyn = d.threshold_tiyn;
	l->exemption = d.exemption;
	l->aggregated_tiyn = d.aggregated_tiyn;
	l->rule = d.rule;
	l->cooling_required = d.cooling_required;
	l->cooling_period_s = d.cooling_period_s;
	snprintf(l->cooling_calendar_zone, sizeof(l->cooling_calendar_zone), "%s",
	         d.calendar_zone != NULL ? d.calendar_zone : "");
	l->reconfirmation_required = d.reconfirmation_required;
	l->in_person_required = d.in_person_required;
	l->in_person_reasons = d.in_person_reasons;
	l->extra_confirmation_required = d.extra_confirmation_required;
	l->control_call_required = d.control_call_required;
	l->cross_lender_window_s = d.cross_lender_window_s;
	if (l->channel == CHANNEL_BRANCH && l->in_person_verified_at == TS_NULL)
		l->in_person_verified_at = l->approved_at;
}

unsigned loan_in_person_reasons(const struct loan *l)
{
	if (l->in_person_reasons != TS_NULL)
		return (unsigned)l->in_person_reasons;
	return l->in_person_required ? 1u << INPERSON_FIRST_TIME : 0;
}

int64_t policy_cooling_ends_at(const struct loan *l, int64_t consent_at)
{
	if (!l->cooling_required || consent_at == TS_NULL || policy_cooled_by_calendar(l))
		return TS_NULL;
	return consent_at + l->cooling_period_s * USEC_PER_SEC;
}

bool policy_cooled_by_calendar(const struct loan *l)
{
	return l->cooling_required && l->cooling_calendar_zone[0] != '\0';
}

/* When another lender's payout stops holding the loan: that payout plus
 * the loan's window; TS_NULL when none holds it. */
static int64_t cross_lender_ends_at(const struct loan *l)
{
	if (l->cross_lender_window_s == TS_NULL || l->other_lender_paid_at == TS_NULL)
		return TS_NULL;
	return l->other_lender_paid_at + l->cross_lender_window_s * USEC_PER_SEC;
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
	/* a claim holds every loan of the borrower that could still be paid */
	if (l->fraud_claim_open && l->cancelled_at == TS_NULL && l->disbursed_at == TS_NULL)
		b |= 1u << BLOCKER_FRAUD_CLAIM_OPEN;
	if (l->consent_at == TS_NULL)
		b |= 1u << BLOCKER_CONSENT_MISSING;
	if (l->extra_confirmation_required && l->extra_confirmed_at == TS_NULL)
		b |= 1u << BLOCKER_EXTRA_CONFIRMATION_MISSING;
	bool cooling_over = false;
	if (l->consent_at != TS_NULL) {
		if (l->cooling_required &&
		    (l->cooling_ends_at == TS_NULL || now < l->cooling_ends_at))
			/* a missing end cannot be stored (a CHECK); if it were, it would hold */
			b |= 1u << BLOCKER_COOLING_PERIOD_ACTIVE;
		else
			cooling_over = true;
	}
	/* the call may come at any time before the payout, so its absence
	 * stands from the approval on */
	if (l->control_call_required && l->control_called_at == TS_NULL)
		b |= 1u << BLOCKER_CONTROL_CALL_MISSING;
	/* the reconfirmation can only be given once the period has ended, so
	 * only then is its absence a blocker */
	/* another lender paid the borrower out within the window: it holds a
	 * loan that could still be paid, whatever its other acts */
	int64_t other_ends_at = cross_lender_ends_at(l);
	if (other_ends_at != TS_NULL && now < other_ends_at && l->cancelled_at == TS_NULL &&
	    l->disbursed_at == TS_NULL)
		b |= 1u << BLOCKER_OTHER_LOAN_WITHIN_24H;
	if (l->reconfirmation_required && cooling_over && l->reconfirmed_at == TS_NULL)
		b |= 1u << BLOCKER_RECONFIRMATION_MISSING;
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

	/* Time alone ends only the cooling period and another lender's
	 * payout's window; every other blocker needs an act (or can never be
	 * lifted, or, a refusal, its withdrawal). While only they stand, the
	 * later of their ends is the earliest moment, even when a
	 * reconfirmation will be needed: it can be given at once then. */
	if (b == 0)
		v->earliest_disbursement_at = now;
	else if ((b & ~BLOCKERS_OF_TIME) == 0 &&
	         (!(b & (1u << BLOCKER_COOLING_PERIOD_ACTIVE)) || l->cooling_ends_at != TS_NULL)) {
		int64_t at = TS_NULL;
		if (b & (1u << BLOCKER_COOLING_PERIOD_ACTIVE))
			at = l->cooling_ends_at;
		if ((b & (1u << BLOCKER_OTHER_LOAN_WITHIN_24H)) && other_ends_at > at)
			at = other_ends_at;
		v->earliest_disbursement_at = at;
	} else
		v->earliest_disbursement_at = TS_NULL;
}

int64_t loan_retry_after(const struct loan *l, const struct loan_view *v, int64_t now)
{
	(void)l; /* the view holds the end */
	if (v->blockers == 0 || (v->blockers & ~BLOCKERS_OF_TIME) != 0 ||
	    v->earliest_disbursement_at == TS_NULL)
		return 0;
	int64_t left = v->earliest_disbursement_at - now;
	if (left <= 0)
		return 0;
	return (left + USEC_PER_SEC - 1) / USEC_PER_SEC;
}

bool policy_mrp_next_year_missing(int64_t today_days, int64_t newest_valid_from_days)
{
	int64_t y;
	unsigned m, d;
	civil_from_days(today_days, &y, &m, &d);
	/* from 1 December on, the year that has to be covered is the next */
	int64_t due = days_from_civil(m == 12 ? y + 1 : y, 1, 1);
	return newest_valid_from_days == POLICY_NO_MRP || newest_valid_from_days < due;
}

/* ---- schedules ---- */

/* One entry of a schedule, blanks around it removed, into name and date
 * ("" when it has none); false when either does not fit. */
static bool schedule_entry(const char *start, size_t len, char name[POLICY_NAME_BUF], char date[11])
{
	while (len > 0 && (*start == ' ' || *start == '\t')) {
		start++;
		len--;
	}
	while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		len--;
	const char *at = memchr(start, '@', len);
	size_t name_len = at != NULL ? (size_t)(at - start) : len;
	size_t date_len = at != NULL ? len - name_len - 1 : 0;
	if (name_len >= POLICY_NAME_BUF || date_len > 10)
		return false;
	memcpy(name, start, name_len);
	name[name_len] = '\0';
	memcpy(date, at != NULL ? at + 1 : "", date_len);
	date[date_len] = '\0';
	return at == NULL || date_len == 10;
}

static int64_t iso_days(const char *s)
{
	return days_from_civil((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	                           (s[3] - '0'),
	                       (unsigned)((s[5] - '0') * 10 + (s[6] - '0')),
	                       (unsigned)((s[8] - '0') * 10 + (s[9] - '0')));
}

bool policy_schedule_parse(const char *text, struct policy_schedule *s, const char **why)
{
	memset(s, 0, sizeof(*s));
	const char *p = text;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		char name[POLICY_NAME_BUF], date[11];
		if (s->n == POLICY_MAX_SCHEDULE) {
			*why = "more than 16 entries";
			return false;
		}
		struct policy_entry *e = &s->entries[s->n];
		if (!schedule_entry(p, len, name, date)) {
			*why = "an entry is not name or name@YYYY-MM-DD";
			return false;
		}
		if (name[0] == '\0' && date[0] == '\0') {
			*why = "an empty entry";
			return false;
		}
		if (!policy_profile(name, &e->policy)) {
			*why = "unknown profile";
			return false;
		}
		if (s->n == 0 && date[0] != '\0') {
			*why = "the first entry has a date: before it no profile would be in force";
			return false;
		}
		if (s->n > 0 && date[0] == '\0') {
			*why = "an entry after the first has no date (name@YYYY-MM-DD)";
			return false;
		}
		if (s->n > 0 && !date_valid_iso(date)) {
			*why = "not a date YYYY-MM-DD";
			return false;
		}
		e->from_days = s->n == 0 ? POLICY_NO_DATE : iso_days(date);
		if (s->n > 0 && e->from_days <= s->entries[s->n - 1].from_days) {
			*why = "the dates are not strictly increasing";
			return false;
		}
		if (s->n > 0 && strcmp(name, s->entries[s->n - 1].policy.name) == 0) {
			*why = "the same profile as the entry before it: a switch that changes "
			       "nothing";
			return false;
		}
		s->n++;
		if (comma == NULL)
			return true;
		p = comma + 1;
	}
}

const struct policy *policy_in_force(const struct policy_schedule *s, int64_t day)
{
	int i = s->n - 1;
	while (i > 0 && s->entries[i].from_days > day)
		i--;
	return &s->entries[i].policy;
}

bool policy_schedule_aggregates(const struct policy_schedule *s)
{
	for (int i = 0; i < s->n; i++)
		if (policy_aggregates(&s->entries[i].policy))
			return true;
	return false;
}

const char *policy_schedule_calendar_zone(const struct policy_schedule *s)
{
	for (int i = 0; i < s->n; i++) {
		const char *zone = def_of(&s->entries[i].policy)->calendar_zone;
		if (zone != NULL)
			return zone;
	}
	return NULL;
}

bool policy_calendar_next_year_missing(const struct policy_schedule *s, int64_t today_days,
                                       bool this_year, bool next_year)
{
	int64_t y;
	unsigned m, d;
	civil_from_days(today_days, &y, &m, &d);
	bool next = m == 12;
	if (next ? next_year : this_year)
		return false;
	int64_t due_end = days_from_civil(next ? y + 1 : y, 12, 31);
	/* entry i is in force from its date until the day before the next one's */
	for (int i = 0; i < s->n; i++) {
		bool starts_by_end = i == 0 || s->entries[i].from_days <= due_end;
		bool ends_from_today = i + 1 == s->n || s->entries[i + 1].from_days > today_days;
		if (starts_by_end && ends_from_today &&
		    def_of(&s->entries[i].policy)->calendar_zone != NULL)
			return true;
	}
	return false;
}

void policy_schedule_table_of(const struct policy_schedule *s, struct policy_schedule_table *t)
{
	memset(t, 0, sizeof(*t));
	t->n = s->n;
	for (int i = 0; i < s->n; i++) {
		const struct policy *p = &s->entries[i].policy;
		t->schedule[i].from_days = s->entries[i].from_days;
		bool shown = false;
		for (int j = 0; j < t->nprofiles && !shown; j++)
			shown = strcmp(t->profiles[j].profile, p->name) == 0;
		if (!shown)
			policy_table_of(p, &t->profiles[t->nprofiles++]);
		/* the table's name lives in the profile table, as long as t */
		for (int j = 0; j < t->nprofiles; j++)
			if (strcmp(t->profiles[j].profile, p->name) == 0)
				t->schedule[i].profile = t->profiles[j].profile;
	}
}

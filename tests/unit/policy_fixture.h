/*
 * The builders the unit tests of the profiles share: a profile by its name
 * (policy_of), the two borrowers they decide for (loan, online), and
 * policy_decide() over a decision that holds no zero by chance (decide).
 * Static inline, for the programs that include it; each keeps its own
 * asserts.
 */
#ifndef CD_TEST_POLICY_FIXTURE_H
#define CD_TEST_POLICY_FIXTURE_H

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"

/* The MRP in tenge of 2025 and 2026 (REGULATION.md) */
#define MRP_2025 3932
#define MRP_2026 4325
/* N MRP in tiyn */
#define MRP(n, mrp) ((int64_t)(n) * (mrp)*100)

/* The profile of that name, which must exist. */
static inline struct policy policy_of(const char *name)
{
	struct policy p;
	ck_assert_msg(policy_profile(name, &p), "no profile %s", name);
	return p;
}

/* An unsecured consumer loan of a first-time borrower aged 19, in the
 * minor unit of the profile's currency: the kz profiles would ask a visit
 * and an extra confirmation of it. */
static inline struct policy_input loan(int64_t minor, enum channel ch)
{
	return (struct policy_input){.lender_kind = LENDER_MFO,
	                             .product = PRODUCT_CONSUMER,
	                             .channel = ch,
	                             .first_time = true,
	                             .amount_tiyn = minor,
	                             .mrp_tenge = MRP_2026,
	                             .age = 19};
}

/* An online, unsecured consumer loan of a repeat borrower aged 40, of a
 * lender of that kind, under that MRP. */
static inline struct policy_input online(int kind, int64_t amount, int64_t mrp)
{
	return (struct policy_input){.lender_kind = kind,
	                             .product = PRODUCT_CONSUMER,
	                             .channel = CHANNEL_ONLINE,
	                             .amount_tiyn = amount,
	                             .mrp_tenge = mrp,
	                             .age = 40};
}

/* policy_decide() into a decision filled with 0xA5 first, so that a field
 * it leaves unset does not pass as zero. */
static inline struct policy_decision decide(const struct policy *p, struct policy_input in)
{
	struct policy_decision d;
	memset(&d, 0xA5, sizeof(d));
	policy_decide(p, &in, &d);
	return d;
}

#endif

/*
 * Unit tests of the loan's life cycle (lib/loan.c): one test per rule of
 * each act (CONTRACT.md, "Acts on a loan", "Record an approval", the
 * disbursement's idempotency), each named after the rule it holds.
 */
#include "check_main.h"
#include "iin.h"
#include "loan.h"
#include "timeutil.h"

#include <string.h>

#define SEC       USEC_PER_SEC
#define HOUR_US   (3600 * SEC)
#define MRP_2026  4325
#define COOLING_S (24 * 3600)

static const struct ts_window win = {.skew_s = 120, .backdate_s = 3600};

static int64_t T(const char *s)
{
	int64_t v = 0;
	const char *why = NULL;
	ck_assert_msg(ts_parse_rfc3339(s, &v, &why), "\"%s\": %s", s, why);
	return v;
}

/* "now" of every test: three hours after the approval. */
static int64_t now_(void)
{
	return T("2026-03-02T13:00:00Z");
}

/* An online, cooled loan approved at 10:00Z, nothing else recorded. */
static struct loan approved_loan(void)
{
	struct loan l;
	memset(&l, 0, sizeof(l));
	l.pk = 7;
	strcpy(l.lender, "BANK1");
	strcpy(l.loan_id, "LN-1");
	strcpy(l.borrower_iin, "900101300126");
	l.amount_tiyn = 70000000;
	strcpy(l.currency, "KZT");
	l.channel = CHANNEL_ONLINE;
	l.first_time_borrower = true;
	l.first_time_given = true;
	strcpy(l.policy, "kz-card");
	l.mrp_tenge = MRP_2026;
	l.cooling_required = true;
	l.cooling_period_s = COOLING_S;
	l.approved_at = T("2026-03-02T10:00:00Z");
	l.consent_at = TS_NULL;
	l.cooling_ends_at = TS_NULL;
	l.in_person_verified_at = TS_NULL;
	l.disbursed_at = TS_NULL;
	l.cancelled_at = TS_NULL;
	l.extra_confirmed_at = TS_NULL;
	l.reconfirmed_at = TS_NULL;
	l.trusted_person_confirmed_at = TS_NULL;
	l.control_called_at = TS_NULL;
	return l;
}

static struct loan cancelled_loan(void)
{
	struct loan l = approved_loan();
	l.cancelled_at = now_() - HOUR_US;
	strcpy(l.cancel_reason, "changed my mind");
	return l;
}

/* Consented, cooled through, paid out. */
static struct loan disbursed_loan(void)
{
	struct loan l = approved_loan();
	l.cooling_required = false;
	l.cooling_period_s = 0;
	l.consent_at = l.approved_at + 60 * SEC;
	l.disbursed_at = now_() - HOUR_US;
	return l;
}

static struct consent_req consent_at(int64_t at)
{
	return (struct consent_req){.consent_at = at};
}

static struct verification_req visit(const char *branch, const char *officer, int64_t at)
{
	struct verification_req q;
	memset(&q, 0, sizeof(q));
	strcpy(q.branch_id, branch);
	strcpy(q.officer_id, officer);
	q.verified_at = at;
	return q;
}

static struct cancellation_req reason(const char *s)
{
	struct cancellation_req q;
	memset(&q, 0, sizeof(q));
	strcpy(q.reason, s);
	return q;
}

static void assert_refused(const struct act_outcome *o, int status, const char *code,
                           const char *field)
{
	ck_assert_int_eq(o->verdict, ACT_REFUSE);
	ck_assert_int_eq(o->err.status, status);
	ck_assert_str_eq(o->err.code, code);
	ck_assert_str_eq(o->err.field, field);
}

/* ---- consent ---- */

START_TEST(test_consent_after_cancellation_is_409)
{
	struct loan l = cancelled_loan();
	struct consent_req q = consent_at(TS_NULL);
	struct act_outcome o;
	ck_assert_int_eq(loan_consent_decide(&l, &q, now_(), &win, &o), ACT_REFUSE);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_str_eq(o.err.message, "the loan is cancelled");
	ck_assert_int_eq(o.err.reason, REASON_CANCELLED);
}
END_TEST

START_TEST(test_consent_after_cancellation_is_409_even_when_it_repeats_the_recorded_one)
{
	struct loan l = cancelled_loan();
	l.consent_at = l.approved_at + 60 * SEC;
	struct consent_req q = consent_at(l.consent_at);
	struct act_outcome o;
	loan_consent_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
}
END_TEST

START_TEST(test_repeated_consent_at_the_same_time_is_a_repeat)
{
	struct loan l = approved_loan();
	l.consent_at = l.approved_at + 60 * SEC;
	l.cooling_ends_at = l.consent_at + COOLING_S * SEC;
	struct consent_req q = consent_at(l.consent_at);
	struct act_outcome o;
	ck_assert_int_eq(loan_consent_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
}
END_TEST

START_TEST(test_repeated_consent_without_a_time_is_a_repeat)
{
	struct loan l = approved_loan();
	l.consent_at = l.approved_at + 60 * SEC;
	struct consent_req q = consent_at(TS_NULL);
	struct act_outcome o;
	ck_assert_int_eq(loan_consent_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
}
END_TEST

START_TEST(test_repeated_consent_at_another_time_is_409)
{
	struct loan l = approved_loan();
	l.consent_at = l.approved_at + 60 * SEC;
	struct consent_req q = consent_at(l.consent_at + 1);
	struct act_outcome o;
	loan_consent_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_str_eq(o.err.message, "consent was recorded at another time");
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_TIME);
}
END_TEST

START_TEST(test_consent_after_disbursement_is_409)
{
	struct loan l = disbursed_loan();
	l.consent_at = TS_NULL; /* as the schema would refuse, to reach the rule */
	struct consent_req q = consent_at(TS_NULL);
	struct act_outcome o;
	loan_consent_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_str_eq(o.err.message, "the loan is disbursed");
	ck_assert_int_eq(o.err.reason, REASON_ALREADY_DISBURSED);
}
END_TEST

START_TEST(test_consent_without_a_time_is_written_at_now_with_its_cooling_end)
{
	struct loan l = approved_loan();
	struct consent_req q = consent_at(TS_NULL);
	struct act_outcome o;
	ck_assert_int_eq(loan_consent_decide(&l, &q, now_(), &win, &o), ACT_WRITE);
	ck_assert_int_eq(o.at, now_());
	ck_assert_int_eq(o.cooling_ends_at, now_() + COOLING_S * SEC);
}
END_TEST

START_TEST(test_consent_of_a_loan_not_cooled_is_written_without_cooling_end)
{
	struct loan l = approved_loan();
	l.cooling_required = false;
	l.cooling_period_s = 0;
	struct consent_req q = consent_at(now_() - HOUR_US);
	struct act_outcome o;
	ck_assert_int_eq(loan_consent_decide(&l, &q, now_(), &win, &o), ACT_WRITE);
	ck_assert_int_eq(o.at, now_() - HOUR_US);
	ck_assert_int_eq(o.cooling_ends_at, TS_NULL);
}
END_TEST

START_TEST(test_consent_beyond_max_clock_skew_in_the_future_is_422_on_consent_at)
{
	struct loan l = approved_loan();
	struct consent_req q = consent_at(now_() + 120 * SEC + 1);
	struct act_outcome o;
	loan_consent_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 422, "validation_failed", "consent_at");
	q = consent_at(now_() + 120 * SEC);
	ck_assert_int_eq(loan_consent_decide(&l, &q, now_(), &win, &o), ACT_WRITE);
}
END_TEST

START_TEST(test_consent_beyond_max_backdate_is_422_on_consent_at)
{
	struct loan l = approved_loan();
	l.approved_at = now_() - 2 * HOUR_US;
	struct consent_req q = consent_at(now_() - 3600 * SEC - 1);
	struct act_outcome o;
	loan_consent_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 422, "validation_failed", "consent_at");
	ck_assert_str_eq(o.err.message, "consent_at: is in the past beyond max_backdate");
}
END_TEST

START_TEST(test_consent_before_approved_at_beyond_skew_is_422_on_consent_at)
{
	struct loan l = approved_loan();
	l.approved_at = now_() - 10 * 60 * SEC;
	struct consent_req q = consent_at(l.approved_at - 120 * SEC - 1);
	struct act_outcome o;
	loan_consent_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 422, "validation_failed", "consent_at");
	ck_assert_str_eq(o.err.message,
	                 "consent_at: is earlier than approved_at beyond max_clock_skew");
	q = consent_at(l.approved_at - 120 * SEC);
	ck_assert_int_eq(loan_consent_decide(&l, &q, now_(), &win, &o), ACT_WRITE);
}
END_TEST

/* ---- in-person verification ---- */

START_TEST(test_visit_after_cancellation_is_409)
{
	struct loan l = cancelled_loan();
	struct verification_req q = visit("BR-1", "OF-1", TS_NULL);
	struct act_outcome o;
	loan_verify_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_str_eq(o.err.message, "the loan is cancelled");
	ck_assert_int_eq(o.err.reason, REASON_CANCELLED);
}
END_TEST

START_TEST(test_repeated_visit_with_same_branch_and_officer_is_a_repeat)
{
	struct loan l = approved_loan();
	l.in_person_verified_at = now_() - HOUR_US;
	strcpy(l.in_person_branch_id, "BR-1");
	strcpy(l.in_person_officer_id, "OF-1");
	struct verification_req q = visit("BR-1", "OF-1", TS_NULL);
	struct act_outcome o;
	ck_assert_int_eq(loan_verify_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
	q = visit("BR-1", "OF-1", l.in_person_verified_at);
	ck_assert_int_eq(loan_verify_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
}
END_TEST

START_TEST(test_repeated_visit_with_another_branch_or_officer_is_409_different_details)
{
	struct loan l = approved_loan();
	l.in_person_verified_at = now_() - HOUR_US;
	strcpy(l.in_person_branch_id, "BR-1");
	strcpy(l.in_person_officer_id, "OF-1");
	struct verification_req other[] = {visit("BR-2", "OF-1", TS_NULL),
	                                   visit("BR-1", "OF-2", l.in_person_verified_at)};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		struct act_outcome o;
		loan_verify_decide(&l, &other[i], now_(), &win, &o);
		assert_refused(&o, 409, "invalid_state", "");
		ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_DETAILS);
	}
}
END_TEST

START_TEST(test_repeated_visit_at_another_time_is_409_different_time)
{
	struct loan l = approved_loan();
	l.in_person_verified_at = now_() - HOUR_US;
	strcpy(l.in_person_branch_id, "BR-1");
	strcpy(l.in_person_officer_id, "OF-1");
	struct verification_req q = visit("BR-1", "OF-1", l.in_person_verified_at + 1);
	struct act_outcome o;
	loan_verify_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_TIME);
}
END_TEST

START_TEST(test_visit_after_disbursement_is_409)
{
	struct loan l = disbursed_loan();
	struct verification_req q = visit("BR-1", "OF-1", TS_NULL);
	struct act_outcome o;
	loan_verify_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_str_eq(o.err.message, "the loan is disbursed");
	ck_assert_int_eq(o.err.reason, REASON_ALREADY_DISBURSED);
}
END_TEST

START_TEST(test_visit_without_a_time_is_written_at_now)
{
	struct loan l = approved_loan();
	struct verification_req q = visit("BR-1", "OF-1", TS_NULL);
	struct act_outcome o;
	ck_assert_int_eq(loan_verify_decide(&l, &q, now_(), &win, &o), ACT_WRITE);
	ck_assert_int_eq(o.at, now_());
}
END_TEST

START_TEST(test_visit_outside_the_clock_window_is_422_on_verified_at)
{
	struct loan l = approved_loan();
	struct verification_req q = visit("BR-1", "OF-1", now_() + 121 * SEC);
	struct act_outcome o;
	loan_verify_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 422, "validation_failed", "verified_at");
	q = visit("BR-1", "OF-1", now_() - 3601 * SEC);
	loan_verify_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 422, "validation_failed", "verified_at");
}
END_TEST

START_TEST(test_visit_before_approved_at_beyond_skew_is_422_on_verified_at)
{
	struct loan l = approved_loan();
	l.approved_at = now_() - 10 * 60 * SEC;
	struct verification_req q = visit("BR-1", "OF-1", l.approved_at - 121 * SEC);
	struct act_outcome o;
	loan_verify_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 422, "validation_failed", "verified_at");
	ck_assert_str_eq(o.err.message,
	                 "verified_at: is earlier than approved_at beyond max_clock_skew");
	q = visit("BR-1", "OF-1", l.approved_at - 120 * SEC);
	ck_assert_int_eq(loan_verify_decide(&l, &q, now_(), &win, &o), ACT_WRITE);
	ck_assert_int_eq(o.at, l.approved_at - 120 * SEC);
}
END_TEST

/* ---- cancellation ---- */

START_TEST(test_repeated_cancellation_with_the_same_reason_is_a_repeat)
{
	struct loan l = cancelled_loan();
	struct cancellation_req q = reason("changed my mind");
	struct act_outcome o;
	ck_assert_int_eq(loan_cancel_decide(&l, &q, &o), ACT_REPEAT);
}
END_TEST

START_TEST(test_repeated_cancellation_with_another_reason_is_409)
{
	struct loan l = cancelled_loan();
	struct cancellation_req q = reason("fraud");
	struct act_outcome o;
	loan_cancel_decide(&l, &q, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_str_eq(o.err.message, "the loan was cancelled with another reason");
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_DETAILS);
}
END_TEST

START_TEST(test_a_disbursed_loan_cannot_be_cancelled)
{
	struct loan l = disbursed_loan();
	struct cancellation_req q = reason("changed my mind");
	struct act_outcome o;
	loan_cancel_decide(&l, &q, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_str_eq(o.err.message, "a disbursed loan cannot be cancelled");
	ck_assert_int_eq(o.err.reason, REASON_ALREADY_DISBURSED);
}
END_TEST

START_TEST(test_cancellation_of_an_open_loan_is_written_at_the_database_now)
{
	struct loan l = approved_loan();
	l.consent_at = l.approved_at;
	struct cancellation_req q = reason("changed my mind");
	struct act_outcome o;
	ck_assert_int_eq(loan_cancel_decide(&l, &q, &o), ACT_WRITE);
	ck_assert_int_eq(o.at, TS_NULL);
}
END_TEST

/* ---- approval ---- */

static struct approval_req approval(void)
{
	struct approval_req a;
	memset(&a, 0, sizeof(a));
	strcpy(a.loan_id, "LN-1");
	strcpy(a.borrower_iin, "900101300126");
	a.amount_tiyn = 70000000; /* 700,000 KZT: above 150 MRP */
	strcpy(a.currency, "KZT");
	a.channel = CHANNEL_ONLINE;
	a.approved_at = TS_NULL;
	a.consent_at = TS_NULL;
	return a;
}

static struct approval_context context(void)
{
	struct approval_context c;
	memset(&c, 0, sizeof(c));
	c.now = now_();
	c.approved_at = now_();
	c.has_mrp = true;
	c.mrp_tenge = MRP_2026;
	c.first_time_derived = true;
	c.today_days = 20514; /* 2026-03-02 */
	return c;
}

static struct policy kz_card(void)
{
	struct policy p;
	ck_assert(policy_profile("kz-card", &p));
	return p;
}

START_TEST(test_approval_of_a_recorded_loan_with_the_same_facts_is_a_repeat)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	struct approval_context c = context();
	c.exists = true;
	c.existing = approved_loan();
	struct loan out;
	struct act_outcome o;
	ck_assert_int_eq(loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o), ACT_REPEAT);
}
END_TEST

START_TEST(test_approval_of_a_recorded_loan_with_other_facts_is_409_loan_exists)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	a.amount_tiyn += 1;
	struct approval_context c = context();
	c.exists = true;
	c.existing = approved_loan();
	struct loan out;
	struct act_outcome o;
	loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o);
	assert_refused(&o, 409, "loan_exists", "loan_id");
}
END_TEST

/* ---- the trusted person's confirmation (ru-2025-09) ---- */

START_TEST(test_trusted_person_under_a_profile_without_it_is_409_not_required)
{
	struct loan l = approved_loan(); /* kz-card */
	struct trusted_person_req q = {.confirmed_at = TS_NULL};
	struct act_outcome o;
	loan_trusted_person_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_NOT_REQUIRED);
}
END_TEST

START_TEST(test_trusted_person_under_ru_writes_then_repeats)
{
	struct loan l = approved_loan();
	strcpy(l.policy, "ru-2025-09");
	l.trusted_person_confirmed_at = TS_NULL;
	struct trusted_person_req q = {.confirmed_at = TS_NULL};
	struct act_outcome o;
	ck_assert_int_eq(loan_trusted_person_decide(&l, &q, now_(), &win, &o), ACT_WRITE);
	ck_assert_int_eq(o.at, now_());
	l.trusted_person_confirmed_at = o.at;
	ck_assert_int_eq(loan_trusted_person_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
	q.confirmed_at = o.at;
	ck_assert_int_eq(loan_trusted_person_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
	q.confirmed_at = now_() - 60 * USEC_PER_SEC;
	loan_trusted_person_decide(&l, &q, now_(), &win, &o);
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_TIME);
	l.trusted_person_confirmed_at = TS_NULL;
	l.cancelled_at = now_();
	loan_trusted_person_decide(&l, &q, now_(), &win, &o);
	ck_assert_int_eq(o.err.reason, REASON_CANCELLED);
	l.cancelled_at = TS_NULL;
	l.disbursed_at = now_();
	loan_trusted_person_decide(&l, &q, now_(), &win, &o);
	ck_assert_int_eq(o.err.reason, REASON_ALREADY_DISBURSED);
}
END_TEST

/* ---- the control call (a band that asks for one: kg-2024-11's third) ---- */

START_TEST(test_control_call_of_a_loan_that_needs_none_is_409_not_required)
{
	struct loan l = approved_loan();
	struct control_call_req q = {.officer_id = "OF-1", .called_at = TS_NULL};
	struct act_outcome o;
	loan_control_call_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_NOT_REQUIRED);
}
END_TEST

START_TEST(test_control_call_writes_before_consent_then_repeats_by_its_officer)
{
	struct loan l = approved_loan();
	l.control_call_required = true;
	l.consent_at = TS_NULL;
	struct control_call_req q = {.officer_id = "OF-1", .called_at = TS_NULL};
	struct act_outcome o;
	ck_assert_int_eq(loan_control_call_decide(&l, &q, now_(), &win, &o), ACT_WRITE);
	ck_assert_int_eq(o.at, now_());
	l.control_called_at = o.at;
	strcpy(l.control_call_officer_id, "OF-1");
	ck_assert_int_eq(loan_control_call_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
	q.called_at = l.control_called_at;
	ck_assert_int_eq(loan_control_call_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
	/* a repeat after the payout is still the loan */
	l.disbursed_at = now_();
	ck_assert_int_eq(loan_control_call_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
	l.disbursed_at = TS_NULL;
	q.called_at = now_() - 60 * USEC_PER_SEC;
	loan_control_call_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_TIME);
	strcpy(q.officer_id, "OF-2");
	q.called_at = TS_NULL;
	loan_control_call_decide(&l, &q, now_(), &win, &o);
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_DETAILS);
}
END_TEST

START_TEST(test_control_call_after_cancellation_or_payout_is_409_and_its_time_is_checked)
{
	struct loan l = approved_loan();
	l.control_call_required = true;
	struct control_call_req q = {.officer_id = "OF-1", .called_at = TS_NULL};
	struct act_outcome o;
	l.cancelled_at = now_();
	loan_control_call_decide(&l, &q, now_(), &win, &o);
	ck_assert_int_eq(o.err.reason, REASON_CANCELLED);
	l.cancelled_at = TS_NULL;
	l.disbursed_at = now_();
	loan_control_call_decide(&l, &q, now_(), &win, &o);
	ck_assert_int_eq(o.err.reason, REASON_ALREADY_DISBURSED);
	l.disbursed_at = TS_NULL;
	/* in the clock window, and not before the approval */
	q.called_at = now_() + 3600 * USEC_PER_SEC;
	ck_assert_int_eq(loan_control_call_decide(&l, &q, now_(), &win, &o), ACT_REFUSE);
	assert_refused(&o, 422, "validation_failed", "called_at");
	q.called_at = l.approved_at - 3600 * USEC_PER_SEC;
	ck_assert_int_eq(loan_control_call_decide(&l, &q, l.approved_at, &win, &o), ACT_REFUSE);
	assert_refused(&o, 422, "validation_failed", "called_at");
	q.called_at = now_() - 30 * USEC_PER_SEC;
	ck_assert_int_eq(loan_control_call_decide(&l, &q, now_(), &win, &o), ACT_WRITE);
	ck_assert_int_eq(o.at, q.called_at);
}
END_TEST

START_TEST(test_approval_in_another_currency_than_the_profiles_is_422_on_currency)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	strcpy(a.currency, "RUB");
	struct approval_context c = context();
	struct loan out;
	struct act_outcome o;
	ck_assert_int_eq(loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o), ACT_REFUSE);
	assert_refused(&o, 422, "validation_failed", "currency");
	ck_assert_str_eq(o.err.message, "currency: must be \"KZT\" (profile kz-card)");
}
END_TEST

START_TEST(test_approval_in_the_profiles_currency_records_it)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	struct approval_context c = context();
	struct loan out;
	struct act_outcome o;
	ck_assert_int_eq(loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o), ACT_WRITE);
	ck_assert_str_eq(out.currency, "KZT");
}
END_TEST

START_TEST(test_approval_of_a_borrower_born_after_today_is_422_on_borrower_iin)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	struct approval_context c = context();
	c.today_days = 7000; /* 1989: before the IIN's birth date of 1990-01-01 */
	struct loan out;
	struct act_outcome o;
	loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o);
	assert_refused(&o, 422, "validation_failed", "borrower_iin");
}
END_TEST

START_TEST(test_approval_time_outside_the_clock_window_is_422_on_approved_at)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	a.approved_at = now_() + 121 * SEC;
	struct approval_context c = context();
	c.approved_at = a.approved_at;
	struct loan out;
	struct act_outcome o;
	loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o);
	assert_refused(&o, 422, "validation_failed", "approved_at");
}
END_TEST

START_TEST(test_approval_with_consent_before_approved_at_beyond_skew_is_422_on_consent_at)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	a.approved_at = now_() - HOUR_US / 2;
	a.consent_at = a.approved_at - 121 * SEC;
	struct approval_context c = context();
	c.approved_at = a.approved_at;
	struct loan out;
	struct act_outcome o;
	loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o);
	assert_refused(&o, 422, "validation_failed", "consent_at");
}
END_TEST

START_TEST(test_approval_on_a_date_without_mrp_is_422_on_approved_at)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	struct approval_context c = context();
	c.has_mrp = false;
	struct loan out;
	struct act_outcome o;
	loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o);
	assert_refused(&o, 422, "validation_failed", "approved_at");
	ck_assert_str_eq(o.err.message, "approved_at: no MRP is recorded for that date");
}
END_TEST

START_TEST(test_approval_stated_first_time_flag_wins_over_the_derived_one)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	a.has_first_time = true;
	a.first_time_borrower = false;
	struct approval_context c = context();
	c.first_time_derived = true;
	struct loan out;
	struct act_outcome o;
	ck_assert_int_eq(loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o), ACT_WRITE);
	ck_assert(!out.first_time_borrower);
	ck_assert(out.first_time_given);
}
END_TEST

START_TEST(test_approval_without_first_time_flag_derives_it)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	struct approval_context c = context();
	for (int derived = 0; derived <= 1; derived++) {
		c.first_time_derived = derived;
		struct loan out;
		struct act_outcome o;
		ck_assert_int_eq(loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o),
		                 ACT_WRITE);
		ck_assert_int_eq(out.first_time_borrower, derived);
		ck_assert(!out.first_time_given);
	}
}
END_TEST

START_TEST(test_approval_builds_the_assessed_loan_with_cooling_from_its_consent)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	a.approved_at = now_() - HOUR_US;
	a.consent_at = now_() - HOUR_US / 2;
	struct approval_context c = context();
	c.approved_at = a.approved_at;
	struct loan out;
	struct act_outcome o;
	ck_assert_int_eq(loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o), ACT_WRITE);
	ck_assert_str_eq(out.lender, "BANK1");
	ck_assert_str_eq(out.loan_id, "LN-1");
	ck_assert_str_eq(out.policy, "kz-card");
	ck_assert_int_eq(out.mrp_tenge, MRP_2026);
	ck_assert_int_eq(out.approved_at, a.approved_at);
	ck_assert(out.cooling_required);
	ck_assert_int_eq(out.cooling_ends_at, a.consent_at + COOLING_S * SEC);
	ck_assert_int_eq(out.disbursed_at, TS_NULL);
	ck_assert(approval_matches(&a, &out));
}
END_TEST

/* A repeat borrower's cooled approval with policy.burst_lenders = 3 and
 * others other lenders in its window. */
static enum act_verdict burst_decide(int64_t others, enum channel ch, int64_t amount_tiyn,
                                     struct loan *out)
{
	struct policy p = kz_card();
	struct approval_req a = approval();
	a.channel = ch;
	a.amount_tiyn = amount_tiyn;
	a.has_first_time = true;
	a.first_time_borrower = false;
	struct approval_context c = context();
	c.burst_lenders = 3;
	c.burst_others = others;
	struct act_outcome o;
	return loan_approval_decide(&p, "BANK1", &a, &c, &win, out, &o);
}

START_TEST(test_approval_at_the_nth_lender_of_a_burst_needs_the_visit)
{
	struct loan out;
	ck_assert_int_eq(burst_decide(2, CHANNEL_ONLINE, 70000000, &out), ACT_WRITE);
	ck_assert(out.in_person_required);
	ck_assert_uint_eq(loan_in_person_reasons(&out), 1u << INPERSON_MULTI_LENDER_BURST);
	/* one lender short of the burst: no visit */
	ck_assert_int_eq(burst_decide(1, CHANNEL_ONLINE, 70000000, &out), ACT_WRITE);
	ck_assert(!out.in_person_required);
	ck_assert_uint_eq(loan_in_person_reasons(&out), 0);
}
END_TEST

START_TEST(test_a_burst_asks_nothing_of_a_loan_not_cooled_or_not_online)
{
	struct loan out;
	ck_assert_int_eq(burst_decide(5, CHANNEL_ONLINE, 100000, &out), ACT_WRITE); /* small */
	ck_assert(!out.in_person_required);
	ck_assert_int_eq(burst_decide(5, CHANNEL_BRANCH, 70000000, &out), ACT_WRITE);
	ck_assert_uint_eq(loan_in_person_reasons(&out), 0);
	/* switched off: never */
	struct policy p = kz_card();
	struct approval_req a = approval();
	a.has_first_time = true;
	struct approval_context c = context();
	c.burst_lenders = 0;
	c.burst_others = 9;
	struct act_outcome o;
	ck_assert_int_eq(loan_approval_decide(&p, "BANK1", &a, &c, &win, &out, &o), ACT_WRITE);
	ck_assert_uint_eq(loan_in_person_reasons(&out), 0);
}
END_TEST

/* ---- disbursement ---- */

/* The local date of now_(), that a payee's owner must be born by. */
#define TODAY_DAYS (T("2026-03-02T00:00:00Z") / (86400 * SEC))

/* A decision with the context's now, today and stored answer; the payee
 * (if any) flagged or not. */
static enum disburse_verdict decide_flagged(const struct loan *l, const struct disbursement_req *q,
                                            const struct payee_rules *rules,
                                            const struct idempotency_record *k, int64_t now,
                                            int64_t today, bool flagged, struct disburse_outcome *o)
{
	struct disburse_context c = {
	    .now = now, .today_days = today, .key = *k, .payee_flagged = flagged};
	return loan_disburse_decide(l, q, rules, &c, o);
}

static enum disburse_verdict decide_with(const struct loan *l, const struct disbursement_req *q,
                                         const struct payee_rules *rules,
                                         const struct idempotency_record *k, int64_t now,
                                         int64_t today, struct disburse_outcome *o)
{
	return decide_flagged(l, q, rules, k, now, today, false, o);
}

/* A disbursement without a payee under the default configuration. */
static enum disburse_verdict decide_plain(const struct loan *l, const struct idempotency_record *k,
                                          int64_t now, struct disburse_outcome *o)
{
	struct disbursement_req q = {.has_payee = false};
	struct payee_rules rules = {0};
	return decide_with(l, &q, &rules, k, now, TODAY_DAYS, o);
}

/* An eligible loan of 900101300126: consented, cooled until now_(),
 * verified in person. */
static struct loan payable_loan(void)
{
	struct loan l = approved_loan();
	l.consent_at = now_() - 2 * HOUR_US;
	l.cooling_ends_at = now_();
	l.in_person_required = false;
	return l;
}

static struct disbursement_req to_payee(const char *owner_iin)
{
	struct disbursement_req q = {
	    .has_payee = true, .payee = {.kind = PAYEE_ACCOUNT, .id = "KZ86125KZT5004100100"}};
	if (owner_iin != NULL) {
		q.payee.has_owner = true;
		strcpy(q.payee.owner_iin, owner_iin);
	}
	return q;
}

START_TEST(test_disbursement_key_of_another_loan_is_422_on_idempotency_key)
{
	struct loan l = approved_loan();
	struct idempotency_record k = {.found = true, .loan_pk = l.pk + 1, .status = 200};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_plain(&l, &k, now_(), &o), DISBURSE_REFUSE);
	ck_assert_int_eq(o.err.status, 422);
	ck_assert_str_eq(o.err.field, "Idempotency-Key");
}
END_TEST

START_TEST(test_disbursement_with_a_stored_answer_is_replayed)
{
	struct loan l = disbursed_loan();
	struct idempotency_record k = {.found = true, .loan_pk = l.pk, .status = 200};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_plain(&l, &k, now_(), &o), DISBURSE_REPLAY);
	ck_assert_int_eq(o.retry_after, 0);
}
END_TEST

START_TEST(test_replayed_cooling_refusal_has_retry_after_of_the_time_left)
{
	struct loan l = approved_loan();
	l.consent_at = now_() - HOUR_US;
	l.cooling_ends_at = now_() + HOUR_US;
	struct idempotency_record k = {.found = true, .loan_pk = l.pk, .status = 409, .body = "{}"};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_plain(&l, &k, now_(), &o), DISBURSE_REPLAY);
	ck_assert_int_eq(o.retry_after, 3600);
}
END_TEST

START_TEST(test_disbursement_is_allowed_exactly_when_no_blocker_stands)
{
	struct loan l = approved_loan();
	l.consent_at = now_() - 2 * HOUR_US;
	l.cooling_ends_at = now_();
	struct idempotency_record none = {.found = false};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_plain(&l, &none, now_(), &o), DISBURSE_ALLOW);
	ck_assert_int_eq(decide_plain(&l, &none, now_() - 1, &o), DISBURSE_DENY);
	ck_assert(loan_view_has(&o.view, BLOCKER_COOLING_PERIOD_ACTIVE));
	ck_assert_int_eq(o.retry_after, 1);
}
END_TEST

START_TEST(test_refused_disbursement_without_consent_has_no_retry_after)
{
	struct loan l = approved_loan();
	struct idempotency_record none = {.found = false};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_plain(&l, &none, now_(), &o), DISBURSE_DENY);
	ck_assert(loan_view_has(&o.view, BLOCKER_CONSENT_MISSING));
	ck_assert_int_eq(o.retry_after, 0);
}
END_TEST

START_TEST(test_a_payee_is_required_only_when_the_configuration_says_so)
{
	struct cd_error err;
	struct disbursement_req none = {.has_payee = false}, some = to_payee(NULL);
	struct payee_rules off = {0}, on = {.required = true};
	ck_assert(disbursement_check(&none, &off, &err));
	ck_assert(disbursement_check(&some, &on, &err));
	ck_assert(!disbursement_check(&none, &on, &err));
	ck_assert_int_eq(err.status, 422);
	ck_assert_str_eq(err.field, "payee");
}
END_TEST

START_TEST(test_payout_to_the_borrowers_own_payee_is_allowed_under_borrower_only)
{
	struct loan l = payable_loan();
	struct payee_rules rules = {.required = true, .to_borrower_only = true};
	struct disbursement_req q = to_payee("900101300126");
	struct idempotency_record none = {.found = false};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_with(&l, &q, &rules, &none, now_(), TODAY_DAYS, &o),
	                 DISBURSE_ALLOW);
}
END_TEST

START_TEST(test_payee_of_another_owner_or_none_is_payee_not_borrower_alone)
{
	struct loan l = payable_loan();
	struct payee_rules rules = {.required = true, .to_borrower_only = true};
	struct idempotency_record none = {.found = false};
	struct disbursement_req other = to_payee("870412300545"), unstated = to_payee(NULL);
	const struct disbursement_req *qs[] = {&other, &unstated};
	for (int i = 0; i < 2; i++) {
		struct disburse_outcome o;
		ck_assert_int_eq(decide_with(&l, qs[i], &rules, &none, now_(), TODAY_DAYS, &o),
		                 DISBURSE_DENY);
		ck_assert_uint_eq(o.blockers, 1u << BLOCKER_PAYEE_NOT_BORROWER);
		/* the loan itself stays payable: the request alone is refused */
		ck_assert_uint_eq(o.view.blockers, 0);
		ck_assert_int_eq(o.view.status, STATUS_ELIGIBLE);
		/* another request is needed, not time */
		ck_assert_int_eq(o.earliest_disbursement_at, TS_NULL);
		ck_assert_int_eq(o.retry_after, 0);
	}
}
END_TEST

START_TEST(test_any_payee_is_allowed_when_borrower_only_is_off)
{
	struct loan l = payable_loan();
	struct payee_rules rules = {.required = true};
	struct disbursement_req q = to_payee("870412300545");
	struct idempotency_record none = {.found = false};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_with(&l, &q, &rules, &none, now_(), TODAY_DAYS, &o),
	                 DISBURSE_ALLOW);
}
END_TEST

START_TEST(test_cooling_with_a_foreign_payee_keeps_the_periods_end_but_no_retry_after)
{
	struct loan l = payable_loan();
	l.cooling_ends_at = now_() + HOUR_US;
	struct payee_rules rules = {.required = true, .to_borrower_only = true};
	struct disbursement_req q = to_payee("870412300545");
	struct idempotency_record none = {.found = false};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_with(&l, &q, &rules, &none, now_(), TODAY_DAYS, &o), DISBURSE_DENY);
	ck_assert_uint_eq(o.blockers, (1u << BLOCKER_COOLING_PERIOD_ACTIVE) |
	                                  (1u << BLOCKER_PAYEE_NOT_BORROWER));
	ck_assert_int_eq(o.earliest_disbursement_at, l.cooling_ends_at);
	/* waiting alone would not help this request */
	ck_assert_int_eq(o.retry_after, 0);
}
END_TEST

START_TEST(test_cooling_alone_with_the_borrowers_payee_keeps_retry_after)
{
	struct loan l = payable_loan();
	l.cooling_ends_at = now_() + HOUR_US;
	struct payee_rules rules = {.required = true, .to_borrower_only = true};
	struct disbursement_req q = to_payee("900101300126");
	struct idempotency_record none = {.found = false};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_with(&l, &q, &rules, &none, now_(), TODAY_DAYS, &o), DISBURSE_DENY);
	ck_assert_uint_eq(o.blockers, 1u << BLOCKER_COOLING_PERIOD_ACTIVE);
	ck_assert_int_eq(o.retry_after, 3600);
}
END_TEST

START_TEST(test_flagged_payee_is_payee_flagged_whatever_the_rules)
{
	struct loan l = payable_loan();
	struct idempotency_record none = {.found = false};
	struct disbursement_req mine = to_payee("900101300126"), other = to_payee("870412300545");
	struct payee_rules off = {0}, only = {.required = true, .to_borrower_only = true};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_flagged(&l, &mine, &off, &none, now_(), TODAY_DAYS, true, &o),
	                 DISBURSE_DENY);
	ck_assert_uint_eq(o.blockers, 1u << BLOCKER_PAYEE_FLAGGED);
	ck_assert_uint_eq(o.view.blockers, 0);
	ck_assert_int_eq(o.earliest_disbursement_at, TS_NULL);
	ck_assert_int_eq(o.retry_after, 0);
	/* both of the request's, in the contract's order, after the loan's */
	l.consent_at = TS_NULL;
	ck_assert_int_eq(decide_flagged(&l, &other, &only, &none, now_(), TODAY_DAYS, true, &o),
	                 DISBURSE_DENY);
	ck_assert_uint_eq(o.blockers, (1u << BLOCKER_CONSENT_MISSING) |
	                                  (1u << BLOCKER_PAYEE_FLAGGED) |
	                                  (1u << BLOCKER_PAYEE_NOT_BORROWER));
	/* not flagged: paid */
	l = payable_loan();
	ck_assert_int_eq(decide_flagged(&l, &mine, &off, &none, now_(), TODAY_DAYS, false, &o),
	                 DISBURSE_ALLOW);
	/* without a payee nothing can be flagged */
	struct disbursement_req nobody = {.has_payee = false};
	ck_assert_int_eq(decide_flagged(&l, &nobody, &off, &none, now_(), TODAY_DAYS, true, &o),
	                 DISBURSE_ALLOW);
}
END_TEST

START_TEST(test_payee_owner_born_after_today_is_422_on_payee_owner_iin)
{
	struct loan l = payable_loan();
	struct payee_rules rules = {0};
	/* born 2026-03-03 (century digit 5: the 2000s), the day after now_() */
	char iin[13];
	memcpy(iin, "26030350001", 11);
	int c = iin_check_digit(iin);
	ck_assert_int_ge(c, 0);
	iin[11] = (char)('0' + c);
	iin[12] = '\0';
	struct disbursement_req q = to_payee(iin);
	struct idempotency_record none = {.found = false};
	struct disburse_outcome o;
	ck_assert_int_eq(decide_with(&l, &q, &rules, &none, now_(), TODAY_DAYS, &o),
	                 DISBURSE_REFUSE);
	ck_assert_int_eq(o.err.status, 422);
	ck_assert_str_eq(o.err.field, "payee.owner_iin");
	/* born today is accepted */
	ck_assert_int_eq(decide_with(&l, &q, &rules, &none, now_(), TODAY_DAYS + 1, &o),
	                 DISBURSE_ALLOW);
}
END_TEST

/* ---- reconfirmation and extra confirmation: the reasons of their 409s ---- */

/* Consented at 10:01Z under a profile that asks for a reconfirmation; the
 * period ends a day later. */
static struct loan reconfirmable_loan(void)
{
	struct loan l = approved_loan();
	l.reconfirmation_required = true;
	l.consent_at = l.approved_at + 60 * SEC;
	l.cooling_ends_at = l.consent_at + COOLING_S * SEC;
	return l;
}

static int64_t after_the_period(const struct loan *l)
{
	return l->cooling_ends_at + HOUR_US;
}

START_TEST(test_reconfirmation_of_a_cancelled_loan_is_409_cancelled)
{
	struct loan l = reconfirmable_loan();
	l.cancelled_at = l.consent_at + 60 * SEC;
	struct reconfirmation_req q = {.reconfirmed_at = TS_NULL};
	struct act_outcome o;
	loan_reconfirm_decide(&l, &q, after_the_period(&l), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_CANCELLED);
}
END_TEST

START_TEST(test_reconfirmation_a_loan_does_not_need_is_409_not_required)
{
	struct loan l = reconfirmable_loan();
	l.reconfirmation_required = false;
	struct reconfirmation_req q = {.reconfirmed_at = TS_NULL};
	struct act_outcome o;
	loan_reconfirm_decide(&l, &q, after_the_period(&l), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_NOT_REQUIRED);
}
END_TEST

START_TEST(test_repeated_reconfirmation_at_another_time_is_409_different_time)
{
	struct loan l = reconfirmable_loan();
	int64_t now = after_the_period(&l);
	l.reconfirmed_at = now - 60 * SEC;
	struct reconfirmation_req q = {.reconfirmed_at = now - 30 * SEC};
	struct act_outcome o;
	loan_reconfirm_decide(&l, &q, now, &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_TIME);
}
END_TEST

START_TEST(test_reconfirmation_after_disbursement_is_409_already_disbursed)
{
	struct loan l = reconfirmable_loan();
	int64_t now = after_the_period(&l);
	l.disbursed_at = now - 60 * SEC;
	struct reconfirmation_req q = {.reconfirmed_at = TS_NULL};
	struct act_outcome o;
	loan_reconfirm_decide(&l, &q, now, &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_ALREADY_DISBURSED);
}
END_TEST

START_TEST(test_reconfirmation_before_consent_or_the_period_end_is_409_cooling_not_ended)
{
	struct reconfirmation_req q = {.reconfirmed_at = TS_NULL};
	struct act_outcome o;

	struct loan l = reconfirmable_loan();
	l.consent_at = TS_NULL;
	l.cooling_ends_at = TS_NULL;
	loan_reconfirm_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_COOLING_NOT_ENDED);

	l = reconfirmable_loan();
	loan_reconfirm_decide(&l, &q, l.cooling_ends_at - 1, &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_COOLING_NOT_ENDED);

	/* asked after the end, but stating a time before it */
	q.reconfirmed_at = l.cooling_ends_at - 1;
	loan_reconfirm_decide(&l, &q, l.cooling_ends_at + 60 * SEC, &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_COOLING_NOT_ENDED);
}
END_TEST

START_TEST(test_reconfirmation_after_the_period_end_is_written)
{
	struct loan l = reconfirmable_loan();
	struct reconfirmation_req q = {.reconfirmed_at = TS_NULL};
	struct act_outcome o;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, l.cooling_ends_at, &win, &o), ACT_WRITE);
	ck_assert_int_eq(o.err.reason, REASON_NONE);
}
END_TEST

/* A repeat as the extra confirmation's: the same method or none is one,
 * another method (or one where none was recorded) 409 different_time. */
START_TEST(test_repeated_reconfirmation_with_another_method_is_409_different_time)
{
	struct loan l = reconfirmable_loan();
	int64_t now = after_the_period(&l);
	l.reconfirmed_at = now - 60 * SEC;
	strcpy(l.reconfirmation_method, "egov");
	struct reconfirmation_req q = {.reconfirmed_at = TS_NULL};
	struct act_outcome o;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, now, &win, &o), ACT_REPEAT);
	q = (struct reconfirmation_req){
	    .reconfirmed_at = l.reconfirmed_at, .has_method = true, .method = EXTRA_EGOV};
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, now, &win, &o), ACT_REPEAT);
	q.method = EXTRA_BRANCH;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, now, &win, &o), ACT_REFUSE);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_TIME);
	ck_assert_ptr_nonnull(strstr(o.err.message, "another method"));

	l.reconfirmation_method[0] = '\0';
	q.has_method = false;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, now, &win, &o), ACT_REPEAT);
	q.has_method = true;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, now, &win, &o), ACT_REFUSE);
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_TIME);
	/* after the payout too */
	l.disbursed_at = now;
	q.has_method = false;
	ck_assert_int_eq(loan_reconfirm_decide(&l, &q, now, &win, &o), ACT_REPEAT);
}
END_TEST

START_TEST(test_extra_confirmation_a_loan_does_not_need_is_409_not_required)
{
	struct loan l = approved_loan();
	l.extra_confirmation_required = false;
	struct extra_confirmation_req q = {.method = EXTRA_EGOV, .confirmed_at = TS_NULL};
	struct act_outcome o;
	loan_extra_confirm_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_NOT_REQUIRED);
}
END_TEST

START_TEST(test_repeated_extra_confirmation_by_another_method_is_409_different_time)
{
	struct loan l = approved_loan();
	l.extra_confirmation_required = true;
	l.extra_confirmed_at = now_() - HOUR_US;
	strcpy(l.extra_confirmation_method, "egov");
	struct extra_confirmation_req q = {.method = EXTRA_BRANCH, .confirmed_at = TS_NULL};
	struct act_outcome o;
	loan_extra_confirm_decide(&l, &q, now_(), &win, &o);
	assert_refused(&o, 409, "invalid_state", "");
	ck_assert_int_eq(o.err.reason, REASON_DIFFERENT_TIME);
	q = (struct extra_confirmation_req){.method = EXTRA_EGOV, .confirmed_at = TS_NULL};
	ck_assert_int_eq(loan_extra_confirm_decide(&l, &q, now_(), &win, &o), ACT_REPEAT);
}
END_TEST

static Suite *loan_suite(void)
{
	Suite *s = suite_create("loan");
	TCase *tc = tcase_create("consent");
	tcase_add_test(tc, test_consent_after_cancellation_is_409);
	tcase_add_test(
	    tc, test_consent_after_cancellation_is_409_even_when_it_repeats_the_recorded_one);
	tcase_add_test(tc, test_repeated_consent_at_the_same_time_is_a_repeat);
	tcase_add_test(tc, test_repeated_consent_without_a_time_is_a_repeat);
	tcase_add_test(tc, test_repeated_consent_at_another_time_is_409);
	tcase_add_test(tc, test_consent_after_disbursement_is_409);
	tcase_add_test(tc, test_consent_without_a_time_is_written_at_now_with_its_cooling_end);
	tcase_add_test(tc, test_consent_of_a_loan_not_cooled_is_written_without_cooling_end);
	tcase_add_test(tc, test_consent_beyond_max_clock_skew_in_the_future_is_422_on_consent_at);
	tcase_add_test(tc, test_consent_beyond_max_backdate_is_422_on_consent_at);
	tcase_add_test(tc, test_consent_before_approved_at_beyond_skew_is_422_on_consent_at);
	suite_add_tcase(s, tc);

	tc = tcase_create("verification");
	tcase_add_test(tc, test_visit_after_cancellation_is_409);
	tcase_add_test(tc, test_repeated_visit_with_same_branch_and_officer_is_a_repeat);
	tcase_add_test(tc,
	               test_repeated_visit_with_another_branch_or_officer_is_409_different_details);
	tcase_add_test(tc, test_repeated_visit_at_another_time_is_409_different_time);
	tcase_add_test(tc, test_visit_after_disbursement_is_409);
	tcase_add_test(tc, test_visit_without_a_time_is_written_at_now);
	tcase_add_test(tc, test_visit_outside_the_clock_window_is_422_on_verified_at);
	tcase_add_test(tc, test_visit_before_approved_at_beyond_skew_is_422_on_verified_at);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancellation");
	tcase_add_test(tc, test_repeated_cancellation_with_the_same_reason_is_a_repeat);
	tcase_add_test(tc, test_repeated_cancellation_with_another_reason_is_409);
	tcase_add_test(tc, test_a_disbursed_loan_cannot_be_cancelled);
	tcase_add_test(tc, test_cancellation_of_an_open_loan_is_written_at_the_database_now);
	suite_add_tcase(s, tc);

	tc = tcase_create("reconfirmation and extra confirmation");
	tcase_add_test(tc, test_reconfirmation_of_a_cancelled_loan_is_409_cancelled);
	tcase_add_test(tc, test_reconfirmation_a_loan_does_not_need_is_409_not_required);
	tcase_add_test(tc, test_repeated_reconfirmation_at_another_time_is_409_different_time);
	tcase_add_test(tc, test_reconfirmation_after_disbursement_is_409_already_disbursed);
	tcase_add_test(
	    tc, test_reconfirmation_before_consent_or_the_period_end_is_409_cooling_not_ended);
	tcase_add_test(tc, test_reconfirmation_after_the_period_end_is_written);
	tcase_add_test(tc, test_repeated_reconfirmation_with_another_method_is_409_different_time);
	tcase_add_test(tc, test_extra_confirmation_a_loan_does_not_need_is_409_not_required);
	tcase_add_test(tc,
	               test_repeated_extra_confirmation_by_another_method_is_409_different_time);
	suite_add_tcase(s, tc);

	tc = tcase_create("approval");
	tcase_add_test(tc, test_approval_of_a_recorded_loan_with_the_same_facts_is_a_repeat);
	tcase_add_test(tc, test_approval_of_a_recorded_loan_with_other_facts_is_409_loan_exists);
	tcase_add_test(tc, test_approval_in_another_currency_than_the_profiles_is_422_on_currency);
	tcase_add_test(tc, test_approval_in_the_profiles_currency_records_it);
	tcase_add_test(tc, test_trusted_person_under_a_profile_without_it_is_409_not_required);
	tcase_add_test(tc, test_trusted_person_under_ru_writes_then_repeats);
	tcase_add_test(tc, test_control_call_of_a_loan_that_needs_none_is_409_not_required);
	tcase_add_test(tc, test_control_call_writes_before_consent_then_repeats_by_its_officer);
	tcase_add_test(
	    tc, test_control_call_after_cancellation_or_payout_is_409_and_its_time_is_checked);
	tcase_add_test(tc, test_approval_of_a_borrower_born_after_today_is_422_on_borrower_iin);
	tcase_add_test(tc, test_approval_time_outside_the_clock_window_is_422_on_approved_at);
	tcase_add_test(
	    tc, test_approval_with_consent_before_approved_at_beyond_skew_is_422_on_consent_at);
	tcase_add_test(tc, test_approval_on_a_date_without_mrp_is_422_on_approved_at);
	tcase_add_test(tc, test_approval_stated_first_time_flag_wins_over_the_derived_one);
	tcase_add_test(tc, test_approval_without_first_time_flag_derives_it);
	tcase_add_test(tc, test_approval_builds_the_assessed_loan_with_cooling_from_its_consent);
	suite_add_tcase(s, tc);

	tc = tcase_create("disbursement");
	tcase_add_test(tc, test_disbursement_key_of_another_loan_is_422_on_idempotency_key);
	tcase_add_test(tc, test_disbursement_with_a_stored_answer_is_replayed);
	tcase_add_test(tc, test_replayed_cooling_refusal_has_retry_after_of_the_time_left);
	tcase_add_test(tc, test_disbursement_is_allowed_exactly_when_no_blocker_stands);
	tcase_add_test(tc, test_refused_disbursement_without_consent_has_no_retry_after);
	suite_add_tcase(s, tc);

	tc = tcase_create("burst");
	tcase_add_test(tc, test_approval_at_the_nth_lender_of_a_burst_needs_the_visit);
	tcase_add_test(tc, test_a_burst_asks_nothing_of_a_loan_not_cooled_or_not_online);
	suite_add_tcase(s, tc);

	tc = tcase_create("payee");
	tcase_add_test(tc, test_a_payee_is_required_only_when_the_configuration_says_so);
	tcase_add_test(tc, test_payout_to_the_borrowers_own_payee_is_allowed_under_borrower_only);
	tcase_add_test(tc, test_payee_of_another_owner_or_none_is_payee_not_borrower_alone);
	tcase_add_test(tc, test_any_payee_is_allowed_when_borrower_only_is_off);
	tcase_add_test(tc,
	               test_cooling_with_a_foreign_payee_keeps_the_periods_end_but_no_retry_after);
	tcase_add_test(tc, test_cooling_alone_with_the_borrowers_payee_keeps_retry_after);
	tcase_add_test(tc, test_flagged_payee_is_payee_flagged_whatever_the_rules);
	tcase_add_test(tc, test_payee_owner_born_after_today_is_422_on_payee_owner_iin);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(loan_suite)

/*
 * The loan's life cycle (see loan.h for the rules of each act).
 */
#include "loan.h"

#include <stdio.h>
#include <string.h>

#include "iin.h"
#include "timeutil.h"

bool ts_check_window(int64_t ts, int64_t now, int64_t skew_s, int64_t backdate_s, const char *field,
                     struct cd_error *err)
{
	if (ts > now + skew_s * USEC_PER_SEC)
		return cd_error_invalid(err, field, "is in the future beyond max_clock_skew");
	if (ts < now - backdate_s * USEC_PER_SEC)
		return cd_error_invalid(err, field, "is in the past beyond max_backdate");
	return true;
}

bool ts_check_after_approval(int64_t ts, int64_t approved_at, int64_t skew_s, const char *field,
                             struct cd_error *err)
{
	if (ts < approved_at - skew_s * USEC_PER_SEC)
		return cd_error_invalid(err, field,
		                        "is earlier than approved_at beyond max_clock_skew");
	return true;
}

bool consent_check_order(int64_t consent_at, int64_t approved_at, int64_t skew_s,
                         struct cd_error *err)
{
	return ts_check_after_approval(consent_at, approved_at, skew_s, "consent_at", err);
}

/* ---- outcomes ---- */

static enum act_verdict repeat(struct act_outcome *o)
{
	o->verdict = ACT_REPEAT;
	return o->verdict;
}

static enum act_verdict invalid_state(struct act_outcome *o, enum state_reason reason,
                                      const char *why)
{
	cd_error_state(&o->err, reason, "%s", why);
	o->verdict = ACT_REFUSE;
	return o->verdict;
}

/* o->err is already set. */
static enum act_verdict refused(struct act_outcome *o)
{
	o->verdict = ACT_REFUSE;
	return o->verdict;
}

static enum act_verdict write_values(struct act_outcome *o, int64_t at, int64_t cooling_ends_at)
{
	o->verdict = ACT_WRITE;
	o->at = at;
	o->cooling_ends_at = cooling_ends_at;
	return o->verdict;
}

static void outcome_init(struct act_outcome *o)
{
	memset(o, 0, sizeof(*o));
	cd_error_clear(&o->err);
	o->at = TS_NULL;
	o->cooling_ends_at = TS_NULL;
}

/* ---- acts ---- */

enum act_verdict loan_consent_decide(const struct loan *l, const struct consent_req *q, int64_t now,
                                     const struct ts_window *w, struct act_outcome *o)
{
	outcome_init(o);
	/* anything after cancellation, then a repeat of what is recorded */
	if (l->cancelled_at != TS_NULL)
		return invalid_state(o, REASON_CANCELLED, "the loan is cancelled");
	if (l->consent_at != TS_NULL) {
		if (q->consent_at == TS_NULL || q->consent_at == l->consent_at)
			return repeat(o);
		return invalid_state(o, REASON_DIFFERENT_TIME,
		                     "consent was recorded at another time");
	}
	if (l->disbursed_at != TS_NULL)
		return invalid_state(o, REASON_ALREADY_DISBURSED, "the loan is disbursed");
	int64_t at = q->consent_at != TS_NULL ? q->consent_at : now;
	if (q->consent_at != TS_NULL &&
	    !ts_check_window(q->consent_at, now, w->skew_s, w->backdate_s, "consent_at", &o->err))
		return refused(o);
	if (!consent_check_order(at, l->approved_at, w->skew_s, &o->err))
		return refused(o);
	return write_values(o, at, policy_cooling_ends_at(l, at));
}

/* An act an officer vouches for by id (and, at a branch, the branch's):
 * the in-person verification and the control call. They differ in their
 * columns, in whether every loan takes them and in their messages. */
struct officer_act {
	const char *at_field;      /* the request's instant */
	const char *not_required;  /* the 409 of a loan that takes no such act */
	const char *other_time;    /* recorded by the same people at another time */
	const char *other_details; /* recorded by another branch or officer */
};

/* What a request claims, or the loan records, of an officer's act. */
struct officer_record {
	int64_t at;            /* TS_NULL: not given, or not recorded */
	const char *branch_id; /* NULL: the act names no branch */
	const char *officer_id;
};

static const struct officer_act in_person_verification = {
    .at_field = "verified_at",
    .other_time = "in-person verification was recorded at another time",
    .other_details = "in-person verification was recorded with another branch or officer",
};

static const struct officer_act control_call = {
    .at_field = "called_at",
    .not_required = "the loan needs no control call: its profile's band does not ask for one",
    .other_time = "the control call was recorded at another time",
    .other_details = "the control call was recorded with another officer",
};

static enum act_verdict officer_act_decide(const struct officer_act *act, const struct loan *l,
                                           bool required, struct officer_record done,
                                           struct officer_record q, int64_t now,
                                           const struct ts_window *w, struct act_outcome *o)
{
	outcome_init(o);
	if (l->cancelled_at != TS_NULL)
		return invalid_state(o, REASON_CANCELLED, "the loan is cancelled");
	if (!required)
		return invalid_state(o, REASON_NOT_REQUIRED, act->not_required);
	if (done.at != TS_NULL) {
		bool same_people =
		    (done.branch_id == NULL || strcmp(done.branch_id, q.branch_id) == 0) &&
		    strcmp(done.officer_id, q.officer_id) == 0;
		bool same_time = q.at == TS_NULL || q.at == done.at;
		if (same_people && same_time)
			return repeat(o);
		if (same_people)
			return invalid_state(o, REASON_DIFFERENT_TIME, act->other_time);
		return invalid_state(o, REASON_DIFFERENT_DETAILS, act->other_details);
	}
	if (l->disbursed_at != TS_NULL)
		return invalid_state(o, REASON_ALREADY_DISBURSED, "the loan is disbursed");
	if (q.at != TS_NULL &&
	    !ts_check_window(q.at, now, w->skew_s, w->backdate_s, act->at_field, &o->err))
		return refused(o);
	int64_t at = q.at != TS_NULL ? q.at : now;
	if (!ts_check_after_approval(at, l->approved_at, w->skew_s, act->at_field, &o->err))
		return refused(o);
	return write_values(o, at, TS_NULL);
}

enum act_verdict loan_verify_decide(const struct loan *l, const struct verification_req *q,
                                    int64_t now, const struct ts_window *w, struct act_outcome *o)
{
	/* any loan may be verified in person, whether or not it needs it */
	return officer_act_decide(
	    &in_person_verification, l, true,
	    (struct officer_record){l->in_person_verified_at, l->in_person_branch_id,
	                            l->in_person_officer_id},
	    (struct officer_record){q->verified_at, q->branch_id, q->officer_id}, now, w, o);
}

enum act_verdict loan_cancel_decide(const struct loan *l, const struct cancellation_req *q,
                                    struct act_outcome *o)
{
	outcome_init(o);
	if (l->cancelled_at != TS_NULL) {
		if (strcmp(l->cancel_reason, q->reason) == 0)
			return repeat(o);
		return invalid_state(o, REASON_DIFFERENT_DETAILS,
		                     "the loan was cancelled with another reason");
	}
	if (l->disbursed_at != TS_NULL)
		return invalid_state(o, REASON_ALREADY_DISBURSED,
		                     "a disbursed loan cannot be cancelled");
	/* cancelled_at is the database's now */
	return write_values(o, TS_NULL, TS_NULL);
}

enum act_verdict loan_reconfirm_decide(const struct loan *l, const struct reconfirmation_req *q,
                                       int64_t now, const struct ts_window *w,
                                       struct act_outcome *o)
{
	outcome_init(o);
	if (l->cancelled_at != TS_NULL)
		return invalid_state(o, REASON_CANCELLED, "the loan is cancelled");
	if (!l->reconfirmation_required)
		return invalid_state(o, REASON_NOT_REQUIRED,
		                     "the loan needs no reconfirmation: it is not cooled under a "
		                     "profile that asks for one");
	if (l->reconfirmed_at != TS_NULL) {
		/* a repeat that names no method is one; one that names another
		 * than the recorded (or one where none was) is not */
		bool same_method =
		    !q->has_method || strcmp(l->reconfirmation_method,
		                             name_of(&extra_method_names, (int)q->method)) == 0;
		bool same_time =
		    q->reconfirmed_at == TS_NULL || q->reconfirmed_at == l->reconfirmed_at;
		if (same_method && same_time)
			return repeat(o);
		return invalid_state(o, REASON_DIFFERENT_TIME,
		                     same_time ? "reconfirmation was recorded with another method"
		                               : "reconfirmation was recorded at another time");
	}
	if (l->disbursed_at != TS_NULL)
		return invalid_state(o, REASON_ALREADY_DISBURSED, "the loan is disbursed");
	if (l->consent_at == TS_NULL || l->cooling_ends_at == TS_NULL)
		return invalid_state(o, REASON_COOLING_NOT_ENDED,
		                     "no consent is recorded: the cooling period has not begun, "
		                     "and a reconfirmation counts only after it has ended");
	char ends[TS_BUF];
	ts_format_utc(l->cooling_ends_at, ends);
	if (now < l->cooling_ends_at) {
		cd_error_state(&o->err, REASON_COOLING_NOT_ENDED,
		               "the cooling period has not ended (it ends at %s): a reconfirmation "
		               "counts only after it",
		               ends);
		return refused(o);
	}
	if (q->reconfirmed_at != TS_NULL &&
	    !ts_check_window(q->reconfirmed_at, now, w->skew_s, w->backdate_s, "reconfirmed_at",
	                     &o->err))
		return refused(o);
	int64_t at = q->reconfirmed_at != TS_NULL ? q->reconfirmed_at : now;
	if (at < l->cooling_ends_at) {
		cd_error_state(&o->err, REASON_COOLING_NOT_ENDED,
		               "reconfirmed_at is before the end of the cooling period (%s): a "
		               "reconfirmation counts only after it",
		               ends);
		return refused(o);
	}
	return write_values(o, at, TS_NULL);
}

enum act_verdict loan_extra_confirm_decide(const struct loan *l,
                                           const struct extra_confirmation_req *q, int64_t now,
                                           const struct ts_window *w, struct act_outcome *o)
{
	outcome_init(o);
	if (l->cancelled_at != TS_NULL)
		return invalid_state(o, REASON_CANCELLED, "the loan is cancelled");
	if (!l->extra_confirmation_required)
		return invalid_state(o, REASON_NOT_REQUIRED,
		                     "the loan needs no extra confirmation: it is not cooled, or "
		                     "the borrower's age does not call for one");
	if (l->extra_confirmed_at != TS_NULL) {
		bool same =
		    strcmp(l->extra_confirmation_method,
		           name_of(&extra_method_names, (int)q->method)) == 0 &&
		    (q->confirmed_at == TS_NULL || q->confirmed_at == l->extra_confirmed_at);
		if (same)
			return repeat(o);
		return invalid_state(o, REASON_DIFFERENT_TIME,
		                     "the extra confirmation was recorded with another method or "
		                     "time");
	}
	if (l->disbursed_at != TS_NULL)
		return invalid_state(o, REASON_ALREADY_DISBURSED, "the loan is disbursed");
	if (q->confirmed_at != TS_NULL && !ts_check_window(q->confirmed_at, now, w->skew_s,
	                                                   w->backdate_s, "confirmed_at", &o->err))
		return refused(o);
	int64_t at = q->confirmed_at != TS_NULL ? q->confirmed_at : now;
	if (!ts_check_after_approval(at, l->approved_at, w->skew_s, "confirmed_at", &o->err))
		return refused(o);
	return write_values(o, at, TS_NULL);
}

enum act_verdict loan_trusted_person_decide(const struct loan *l,
                                            const struct trusted_person_req *q, int64_t now,
                                            const struct ts_window *w, struct act_outcome *o)
{
	outcome_init(o);
	if (l->cancelled_at != TS_NULL)
		return invalid_state(o, REASON_CANCELLED, "the loan is cancelled");
	if (!policy_takes_trusted_person(l->policy))
		return invalid_state(o, REASON_NOT_REQUIRED,
		                     "the loan's profile knows no trusted person's confirmation");
	if (l->trusted_person_confirmed_at != TS_NULL) {
		if (q->confirmed_at == TS_NULL || q->confirmed_at == l->trusted_person_confirmed_at)
			return repeat(o);
		return invalid_state(
		    o, REASON_DIFFERENT_TIME,
		    "the trusted person's confirmation was recorded at another time");
	}
	if (l->disbursed_at != TS_NULL)
		return invalid_state(o, REASON_ALREADY_DISBURSED, "the loan is disbursed");
	if (q->confirmed_at != TS_NULL && !ts_check_window(q->confirmed_at, now, w->skew_s,
	                                                   w->backdate_s, "confirmed_at", &o->err))
		return refused(o);
	int64_t at = q->confirmed_at != TS_NULL ? q->confirmed_at : now;
	if (!ts_check_after_approval(at, l->approved_at, w->skew_s, "confirmed_at", &o->err))
		return refused(o);
	return write_values(o, at, TS_NULL);
}

enum act_verdict loan_control_call_decide(const struct loan *l, const struct control_call_req *q,
                                          int64_t now, const struct ts_window *w,
                                          struct act_outcome *o)
{
	return officer_act_decide(
	    &control_call, l, l->control_call_required,
	    (struct officer_record){l->control_called_at, NULL, l->control_call_officer_id},
	    (struct officer_record){q->called_at, NULL, q->officer_id}, now, w, o);
}

/* ---- approval ---- */

bool approval_matches(const struct approval_req *r, const struct loan *l)
{
	if (strcmp(r->loan_id, l->loan_id) != 0 || strcmp(r->borrower_iin, l->borrower_iin) != 0 ||
	    r->amount_tiyn != l->amount_tiyn || strcmp(r->currency, l->currency) != 0 ||
	    r->channel != l->channel || r->secured != l->secured || r->product != l->product)
		return false;
	if (r->has_first_time &&
	    (!l->first_time_given || r->first_time_borrower != l->first_time_borrower))
		return false;
	if (r->approved_at != TS_NULL && r->approved_at != l->approved_at)
		return false;
	if (r->consent_at != TS_NULL && r->consent_at != l->consent_at)
		return false;
	return true;
}

enum act_verdict loan_approval_decide(const struct policy *p, const char *lender,
                                      const struct approval_req *a,
                                      const struct approval_context *c, const struct ts_window *w,
                                      struct loan *out, struct act_outcome *o)
{
	outcome_init(o);
	if (c->exists) {
		if (approval_matches(a, &c->existing))
			return repeat(o);
		cd_error_set(&o->err, 409, "loan_exists", "loan_id",
		             "a loan with this loan_id exists with other fields");
		return refused(o);
	}
	const char *why = NULL;
	if (!iin_born_by(a->borrower_iin, c->today_days, &why)) {
		cd_error_invalid(&o->err, "borrower_iin", why);
		return refused(o);
	}
	if (a->approved_at != TS_NULL && !ts_check_window(a->approved_at, c->now, w->skew_s,
	                                                  w->backdate_s, "approved_at", &o->err))
		return refused(o);
	if (a->consent_at != TS_NULL &&
	    (!ts_check_window(a->consent_at, c->now, w->skew_s, w->backdate_s, "consent_at",
	                      &o->err) ||
	     !consent_check_order(a->consent_at, c->approved_at, w->skew_s, &o->err)))
		return refused(o);
	if (strcmp(a->currency, policy_currency(p)) != 0) {
		cd_error_set(&o->err, 422, "validation_failed", "currency",
		             "currency: must be \"%s\" (profile %s)", policy_currency(p), p->name);
		return refused(o);
	}
	if (policy_amounts_in_mrp(p) && !c->has_mrp) {
		cd_error_set(&o->err, 422, "validation_failed", "approved_at",
		             "approved_at: no MRP is recorded for that date");
		return refused(o);
	}

	struct loan *l = out;
	memset(l, 0, sizeof(*l));
	snprintf(l->lender, sizeof(l->lender), "%s", lender);
	snprintf(l->loan_id, sizeof(l->loan_id), "%s", a->loan_id);
	memcpy(l->borrower_iin, a->borrower_iin, sizeof(l->borrower_iin));
	l->amount_tiyn = a->amount_tiyn;
	l->channel = a->channel;
	l->secured = a->secured;
	l->product = a->product;
	l->lender_kind = c->lender_kind;
	/* the age on the approval's local date; a valid IIN always has one */
	int age = -1;
	l->borrower_age = iin_age_on(a->borrower_iin, c->approval_day, &age) ? age : TS_NULL;
	/* a stated first-time flag wins, else it is derived */
	l->first_time_given = a->has_first_time;
	l->first_time_borrower = a->has_first_time ? a->first_time_borrower : c->first_time_derived;
	l->approved_at = c->approved_at;
	l->consent_at = a->consent_at;
	l->in_person_verified_at = TS_NULL;
	l->disbursed_at = TS_NULL;
	l->cancelled_at = TS_NULL;
	l->extra_confirmed_at = TS_NULL;
	l->reconfirmed_at = TS_NULL;
	l->trusted_person_confirmed_at = TS_NULL;
	l->control_called_at = TS_NULL;
	l->control_call_officer_id[0] = '\0';
	l->other_lender_paid_at = TS_NULL; /* read with the recorded loan */
	l->prior_fraud_victim = c->prior_fraud_victim;
	/* this one counts when it is online itself */
	l->multi_lender_burst = c->burst_lenders > 0 && a->channel == CHANNEL_ONLINE &&
	                        c->burst_others != TS_NULL &&
	                        1 + c->burst_others >= c->burst_lenders;
	/* a profile of absolute amounts records no MRP */
	policy_assess_day(p, policy_amounts_in_mrp(p) ? c->mrp_tenge : 0, c->day_others_tiyn, l);
	l->cooling_ends_at = policy_cooling_ends_at(l, l->consent_at);
	return write_values(o, l->approved_at, l->cooling_ends_at);
}

/* ---- disbursement ---- */

bool disbursement_check(const struct disbursement_req *q, const struct payee_rules *rules,
                        struct cd_error *err)
{
	if (rules->required && !q->has_payee)
		return cd_error_invalid(err, "payee", "is required");
	return true;
}

/* What the request itself puts in the way. */
static unsigned request_blockers(const struct loan *l, const struct disbursement_req *q,
                                 const struct payee_rules *rules, bool payee_flagged)
{
	unsigned b = 0;
	if (q->has_payee && payee_flagged)
		b |= 1u << BLOCKER_PAYEE_FLAGGED;
	if (rules->to_borrower_only &&
	    !(q->has_payee && payee_is_borrower(&q->payee, l->borrower_iin)))
		b |= 1u << BLOCKER_PAYEE_NOT_BORROWER;
	return b;
}

enum disburse_verdict loan_disburse_decide(const struct loan *l, const struct disbursement_req *q,
                                           const struct payee_rules *rules,
                                           const struct disburse_context *c,
                                           struct disburse_outcome *o)
{
	memset(o, 0, sizeof(*o));
	cd_error_clear(&o->err);
	loan_evaluate(l, c->now, &o->view);
	const char *why = NULL;
	if (q->has_payee && q->payee.has_owner &&
	    !iin_born_by(q->payee.owner_iin, c->today_days, &why)) {
		cd_error_invalid(&o->err, "payee.owner_iin", why);
		return o->verdict = DISBURSE_REFUSE;
	}
	const struct idempotency_record *k = &c->key;
	if (k->found) {
		if (k->loan_pk != l->pk) {
			cd_error_set(&o->err, 422, "validation_failed", "Idempotency-Key",
			             "Idempotency-Key: already used for another loan");
			return o->verdict = DISBURSE_REFUSE;
		}
		/* The stored answer is given again; its Retry-After is what the
		 * loan says now: the time left while cooling alone stands in the
		 * way, as when it was first given. */
		o->retry_after = k->status == 200 ? 0 : loan_retry_after(l, &o->view, c->now);
		return o->verdict = DISBURSE_REPLAY;
	}
	o->blockers = o->view.blockers | request_blockers(l, q, rules, c->payee_flagged);
	if (o->blockers == 0)
		return o->verdict = DISBURSE_ALLOW;
	o->earliest_disbursement_at =
	    o->view.blockers == 0 ? TS_NULL : o->view.earliest_disbursement_at;
	/* waiting helps only when nothing but the period stands in the way */
	o->retry_after =
	    o->blockers == o->view.blockers ? loan_retry_after(l, &o->view, c->now) : 0;
	return o->verdict = DISBURSE_DENY;
}

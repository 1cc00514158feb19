/*
 * The parameters of the daemon's statements: each builder fills a
 * db_params in the order and form (text, NULL) of its statement's $n
 * (statements.c); the approval's INSERT takes them from the loan's column
 * table (internal.h).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "timeutil.h"

const char *const *db_loan_insert_params(struct db_params *p, const struct loan *l,
                                         const char *actor, const char *detail)
{
	memset(p->v, 0, sizeof(p->v));
	for (int i = 0; i < LOAN_NCOLS; i++) {
		const struct loan_col_def *d = &db_loan_cols[i];
		if (d->param == 0)
			continue;
		const void *f = (const char *)l + d->offset;
		const char **v = &p->v[d->param - 1];
		switch (d->kind) {
		case KIND_TEXT:
			*v = *(const char *)f != '\0' ? f : NULL;
			break;
		case KIND_INT:
		case KIND_TS:
		case KIND_ENDS:
			*v = db_num(&p->num[d->param - 1], *(const int64_t *)f);
			break;
		case KIND_PERIOD:
			*v = l->cooling_required && !policy_cooled_by_calendar(l)
			         ? db_num(&p->num[d->param - 1], *(const int64_t *)f)
			         : NULL;
			break;
		case KIND_BOOL:
			*v = *(const bool *)f ? "true" : "false";
			break;
		case KIND_CHANNEL:
			*v = channel_name(*(const enum channel *)f);
			break;
		case KIND_PRODUCT:
		case KIND_LKIND:
		case KIND_EXEMPTION:
		case KIND_RULE: {
			const char *name = name_of(db_kind_names[d->kind], *(const int *)f);
			*v = name[0] != '\0' ? name : NULL;
			break;
		}
		case KIND_READ:
		case KIND_READ_TS:
			break; /* never inserted */
		}
	}
	p->v[LOAN_INSERT_ACTOR - 1] = actor;
	p->v[LOAN_INSERT_DETAIL - 1] = detail;
	p->v[LOAN_INSERT_DAY_TZ - 1] = NULL;
	p->v[LOAN_INSERT_DAY_LENDER - 1] = NULL;
	p->v[LOAN_INSERT_DAY_TOTAL - 1] = NULL;
	return p->v;
}

/* From the same rows that number the parameters, so that the names cannot
 * drift from the $n they name. */
static const char *const loan_insert_names[LOAN_INSERT_NPARAMS] = {
#define LOAN_INS_NAME(f, col, kind, ins, n, type) LOAN_IF_##ins([n - 1] = col, )
    LOAN_COLUMNS(LOAN_INS_NAME)
#undef LOAN_INS_NAME
        [LOAN_INSERT_ACTOR - 1] = "actor",
    [LOAN_INSERT_DETAIL - 1] = "detail",
    [LOAN_INSERT_DAY_TZ - 1] = "day_tz",
    [LOAN_INSERT_DAY_LENDER - 1] = "day_lender",
    [LOAN_INSERT_DAY_TOTAL - 1] = "day_total",
    [LOAN_INSERT_BURST_WINDOW - 1] = "burst_window_s",
    [LOAN_INSERT_BURST_OTHERS - 1] = "burst_others",
};

const char *db_loan_insert_param_name(int n)
{
	return n >= 1 && n <= LOAN_INSERT_NPARAMS ? loan_insert_names[n - 1] : NULL;
}

const char *const *db_loan_insert_day_params(struct db_params *p, const struct loan *l,
                                             const char *actor, const char *detail,
                                             const struct db_day *day)
{
	db_loan_insert_params(p, l, actor, detail);
	if (day != NULL && day->burst_window_s > 0) {
		p->v[LOAN_INSERT_BURST_WINDOW - 1] =
		    db_num(&p->num[LOAN_INSERT_BURST_WINDOW - 1], day->burst_window_s);
		p->v[LOAN_INSERT_BURST_OTHERS - 1] =
		    db_num(&p->num[LOAN_INSERT_BURST_OTHERS - 1], day->burst_others);
	}
	if (day == NULL || day->tz == NULL)
		return p->v;
	p->v[LOAN_INSERT_DAY_TZ - 1] = day->tz;
	p->v[LOAN_INSERT_DAY_LENDER - 1] = day->lender;
	p->v[LOAN_INSERT_DAY_TOTAL - 1] =
	    db_num(&p->num[LOAN_INSERT_DAY_TOTAL - 1], day->others_tiyn);
	return p->v;
}

const char *const *db_params_loan_get(struct db_params *p, const char *lender, const char *loan_id,
                                      const char *token_id)
{
	p->v[0] = lender;
	p->v[1] = loan_id;
	p->v[2] = token_id;
	return p->v;
}

const char *const *db_params_approval_context(struct db_params *p, const char *lender,
                                              const struct approval_req *a, const char *tz,
                                              const char *day_lender, int64_t prior_victim_days,
                                              int64_t burst_window_s, bool day_sum,
                                              const char *token_id)
{
	p->v[0] = lender;
	p->v[1] = a->loan_id;
	p->v[2] = db_num(&p->num[0], a->approved_at);
	p->v[3] = tz;
	p->v[4] = a->borrower_iin;
	p->v[5] = day_lender;
	p->v[6] = db_num(&p->num[1], prior_victim_days);
	p->v[7] = burst_window_s > 0 ? db_num(&p->num[2], burst_window_s) : NULL;
	p->v[8] = day_sum ? "t" : "f";
	p->v[9] = token_id;
	return p->v;
}

const char *const *db_params_disburse_context(struct db_params *p, const char *lender,
                                              const char *loan_id, const char *key, const char *tz,
                                              const struct payee *payee, const char *token_id)
{
	p->v[0] = lender;
	p->v[1] = loan_id;
	p->v[2] = key;
	p->v[3] = tz;
	p->v[4] = payee ? name_of(&payee_kind_names, (int)payee->kind) : NULL;
	p->v[5] = payee ? payee->id : NULL;
	p->v[6] = token_id;
	return p->v;
}

const char *const *db_params_consent(struct db_params *p, const struct loan *l,
                                     const struct act_outcome *o, const char *actor,
                                     const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = db_num(&p->num[2], o->cooling_ends_at);
	p->v[3] = actor;
	p->v[4] = detail;
	return p->v;
}

const char *const *db_params_verify(struct db_params *p, const struct loan *l,
                                    const struct act_outcome *o, const struct verification_req *q,
                                    const char *actor, const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = q->branch_id;
	p->v[3] = q->officer_id;
	p->v[4] = actor;
	p->v[5] = detail;
	return p->v;
}

const char *const *db_params_cancel(struct db_params *p, const struct loan *l,
                                    const struct cancellation_req *q, const char *actor)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = q->reason;
	p->v[2] = actor;
	return p->v;
}

const char *const *db_params_reconfirm(struct db_params *p, const struct loan *l,
                                       const struct act_outcome *o,
                                       const struct reconfirmation_req *q, const char *actor,
                                       const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = actor;
	p->v[3] = detail;
	p->v[4] = q->has_method ? name_of(&extra_method_names, (int)q->method) : NULL;
	return p->v;
}

const char *const *db_params_extra_confirm(struct db_params *p, const struct loan *l,
                                           const struct act_outcome *o,
                                           const struct extra_confirmation_req *q,
                                           const char *actor, const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = name_of(&extra_method_names, (int)q->method);
	p->v[3] = actor;
	p->v[4] = detail;
	return p->v;
}

const char *const *db_params_trusted_person(struct db_params *p, const struct loan *l,
                                            const struct act_outcome *o, const char *actor,
                                            const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = actor;
	p->v[3] = detail;
	p->v[4] = policy_takes_trusted_person(l->policy) ? l->policy : NULL;
	return p->v;
}

const char *const *db_params_control_call(struct db_params *p, const struct loan *l,
                                          const struct act_outcome *o,
                                          const struct control_call_req *q, const char *actor,
                                          const char *detail)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = db_num(&p->num[1], o->at);
	p->v[2] = q->officer_id;
	p->v[3] = actor;
	p->v[4] = detail;
	return p->v;
}

const char *const *db_params_disburse(struct db_params *p, const struct loan *l, const char *actor,
                                      const char *key, const char *detail,
                                      const struct payee *payee)
{
	p->v[0] = db_num(&p->num[0], l->pk);
	p->v[1] = actor;
	p->v[2] = key;
	p->v[3] = l->lender;
	p->v[4] = detail;
	p->v[5] = payee ? name_of(&payee_kind_names, (int)payee->kind) : NULL;
	p->v[6] = payee ? payee->id : NULL;
	/* the borrower's lock, for a loan that a cross-lender window holds (a
	 * window of 0 holds nothing) */
	p->v[7] = l->cross_lender_window_s > 0 ? l->borrower_iin : NULL;
	return p->v;
}

const char *const *db_params_refuse(struct db_params *p, const struct loan *l, const char *actor,
                                    const char *detail, const char *key, const char *body)
{
	p->v[0] = l->lender;
	p->v[1] = l->loan_id;
	p->v[2] = actor;
	p->v[3] = detail;
	p->v[4] = key;
	p->v[5] = db_num(&p->num[0], l->pk);
	p->v[6] = body;
	return p->v;
}

const char *const *db_params_refusal_put(struct db_params *p, const struct refusal_req *q,
                                         const char *actor)
{
	p->v[0] = q->iin;
	p->v[1] = q->active ? "true" : "false";
	p->v[2] = db_num(&p->num[0], q->effective_at);
	p->v[3] = q->source;
	p->v[4] = q->has_reference ? q->reference : NULL;
	p->v[5] = actor;
	return p->v;
}

const char *const *db_params_claim_open(struct db_params *p, const struct claim_open_req *q,
                                        const char *client, const char *lender)
{
	p->v[0] = q->borrower_iin;
	p->v[1] = q->reference;
	p->v[2] = q->has_note ? q->note : NULL;
	p->v[3] = client;
	p->v[4] = lender;
	return p->v;
}

const char *const *db_params_claim_close(struct db_params *p, int64_t id,
                                         const struct claim_close_req *q, const char *client)
{
	p->v[0] = db_num(&p->num[0], id);
	p->v[1] = claim_outcome_name(q->outcome);
	p->v[2] = q->has_note ? q->note : NULL;
	p->v[3] = client;
	return p->v;
}

const char *const *db_params_payee_put(struct db_params *p, const struct payee *payee,
                                       const struct refusal_req *q, const char *actor)
{
	p->v[0] = name_of(&payee_kind_names, (int)payee->kind);
	p->v[1] = payee->id;
	p->v[2] = q->active ? "true" : "false";
	p->v[3] = db_num(&p->num[0], q->effective_at);
	p->v[4] = q->source;
	p->v[5] = q->has_reference ? q->reference : NULL;
	p->v[6] = actor;
	return p->v;
}

const char *const *db_params_access_record(struct db_params *p, const struct access_record *a)
{
	p->v[0] = a->client;
	p->v[1] = a->role;
	p->v[2] = a->route;
	p->v[3] = a->borrower_iin;
	p->v[4] = a->lender;
	p->v[5] = a->loan_id;
	p->v[6] = a->request_id;
	return p->v;
}

static const char *text_or_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

const char *const *db_params_access_log(struct db_params *p, const struct access_query *q)
{
	p->v[0] = db_num(&p->num[0], q->from);
	p->v[1] = db_num(&p->num[1], q->to);
	p->v[2] = text_or_null(q->client);
	p->v[3] = text_or_null(q->borrower_iin);
	p->v[4] = text_or_null(q->lender);
	p->v[5] = text_or_null(q->loan_id);
	p->v[6] = db_num(&p->num[2], q->after_at);
	p->v[7] = db_num(&p->num[3], q->after_id);
	p->v[8] = db_num(&p->num[4], q->limit);
	return p->v;
}

const char *db_num(struct db_num *buf, int64_t v)
{
	if (v == TS_NULL)
		return NULL;
	snprintf(buf->s, sizeof(buf->s), "%lld", (long long)v);
	return buf->s;
}

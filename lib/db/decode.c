/*
 * The decoding of results into domain structs: every column offset of a
 * result is read here (and, for coolingctl's own statements, in sync.c),
 * by the names internal.h gives the columns, and nowhere else. Also what a
 * failed result says (SQLSTATE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "timeutil.h"

const struct name_table *const db_kind_names[KIND_READ_TS + 1] = {
    [KIND_PRODUCT] = &product_names,
    [KIND_LKIND] = &lender_kind_names,
    [KIND_EXEMPTION] = &exemption_names,
    [KIND_RULE] = &rule_names,
};

const struct loan_col_def db_loan_cols[LOAN_NCOLS] = {
#define LOAN_COL_DEF(f, col, kind, ins, n, type)                                                   \
	{offsetof(struct loan, f), sizeof(((struct loan *)0)->f), KIND_##kind, n},
    LOAN_COLUMNS(LOAN_COL_DEF)
#undef LOAN_COL_DEF
};

/* ---- cells ---- */

int64_t db_int(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return TS_NULL;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int64_t db_ts(const PGresult *r, int row, int col)
{
	return db_int(r, row, col);
}

bool db_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

const char *db_text_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* As snprintf("%s") would, cut to size - 1 bytes, without its formatting:
 * a loan's row has a dozen texts. */
static void copy_text(const PGresult *r, int row, int col, char *out, size_t size)
{
	const char *s = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
	size_t n = strnlen(s, size - 1);
	memcpy(out, s, n);
	out[n] = '\0';
}

/* Where the loan's columns start: after the client's in a twin's result. */
static int loan_col0(const PGresult *r)
{
	return PQnfields(r) > 0 && strcmp(PQfname(r, 0), AUTH_COL0) == 0 ? AUTH_NCOLS : 0;
}

/* ---- typed rows ---- */

static bool loan_from_row(const PGresult *r, int row, int c, struct loan *l)
{
	if (row >= PQntuples(r) || PQnfields(r) < c + LOAN_NCOLS + 1 ||
	    PQgetisnull(r, row, c + LOAN_COL_pk))
		return false;
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < LOAN_NCOLS; i++) {
		const struct loan_col_def *d = &db_loan_cols[i];
		void *f = (char *)l + d->offset;
		int col = c + i;
		switch (d->kind) {
		case KIND_TEXT:
			copy_text(r, row, col, f, d->size);
			break;
		case KIND_INT:
		case KIND_TS:
		case KIND_READ_TS:
		case KIND_ENDS:
			*(int64_t *)f = db_int(r, row, col);
			break;
		case KIND_PERIOD:
			/* NULL exactly when not cooled (a CHECK of the table) */
			*(int64_t *)f = PQgetisnull(r, row, col) ? 0 : db_int(r, row, col);
			break;
		case KIND_BOOL:
		case KIND_READ:
			*(bool *)f = db_bool(r, row, col);
			break;
		case KIND_CHANNEL:
			channel_parse(PQgetvalue(r, row, col), f);
			break;
		case KIND_PRODUCT:
		case KIND_LKIND:
		case KIND_EXEMPTION:
		case KIND_RULE: {
			int index = 0;
			if (!PQgetisnull(r, row, col))
				name_lookup(db_kind_names[d->kind], PQgetvalue(r, row, col),
				            &index);
			*(int *)f = index;
			break;
		}
		}
	}
	return true;
}

bool db_loan_row(const PGresult *r, int row, struct loan *l, int64_t *now)
{
	int c = loan_col0(r);
	if (!loan_from_row(r, row, c, l))
		return false;
	if (now != NULL)
		*now = db_ts(r, row, c + LOAN_NCOLS);
	return true;
}

bool db_auth_row(const PGresult *r, struct db_auth_row *a)
{
	if (PQntuples(r) < 1 || PQnfields(r) < AUTH_NCOLS || PQgetisnull(r, 0, AUTH_TOKEN_HASH) ||
	    !token_hash_from_bytea_text(PQgetvalue(r, 0, AUTH_TOKEN_HASH), a->token_hash))
		return false;
	a->name = PQgetvalue(r, 0, AUTH_NAME);
	a->role = PQgetvalue(r, 0, AUTH_ROLE);
	a->lender = PQgetvalue(r, 0, AUTH_LENDER); /* "" when NULL */
	a->expired = db_bool(r, 0, AUTH_EXPIRED);
	return true;
}

bool db_approval_context(const PGresult *r, struct approval_context *ctx)
{
	int c = loan_col0(r);
	if (PQntuples(r) != 1 || PQnfields(r) < c + LOAN_NCOLS + APPROVAL_BURST_OTHERS + 1)
		return false;
	memset(ctx, 0, sizeof(*ctx));
	int n = c + LOAN_NCOLS; /* now, then enum approval_col */
	ctx->now = db_ts(r, 0, n);
	ctx->exists = loan_from_row(r, 0, c, &ctx->existing);
	ctx->has_mrp = !PQgetisnull(r, 0, n + APPROVAL_MRP);
	ctx->mrp_tenge = db_int(r, 0, n + APPROVAL_MRP);
	ctx->first_time_derived = db_bool(r, 0, n + APPROVAL_FIRST_TIME);
	ctx->approved_at = db_ts(r, 0, n + APPROVAL_AT);
	ctx->today_days = db_int(r, 0, n + APPROVAL_TODAY);
	ctx->has_lender = !PQgetisnull(r, 0, n + APPROVAL_LENDER_KIND);
	int kind = LENDER_BANK;
	if (ctx->has_lender)
		name_lookup(&lender_kind_names, PQgetvalue(r, 0, n + APPROVAL_LENDER_KIND), &kind);
	ctx->lender_kind = kind;
	ctx->approval_day = db_int(r, 0, n + APPROVAL_DAY);
	ctx->day_others_tiyn = db_int(r, 0, n + APPROVAL_DAY_OTHERS);
	ctx->prior_fraud_victim = db_bool(r, 0, n + APPROVAL_PRIOR_VICTIM);
	ctx->burst_others = db_int(r, 0, n + APPROVAL_BURST_OTHERS);
	return true;
}

bool db_loan_insert_result(const PGresult *r, struct loan *l, int64_t *now, int64_t *day_total,
                           int64_t *burst_others)
{
	bool one = PQntuples(r) == 1 && PQnfields(r) > LOAN_NCOLS + 2;
	*day_total = one ? db_int(r, 0, LOAN_NCOLS + 1) : TS_NULL;
	*burst_others = one ? db_int(r, 0, LOAN_NCOLS + 2) : TS_NULL;
	return db_loan_row(r, 0, l, now);
}

bool db_disburse_context(const PGresult *r, struct loan *l, struct disburse_context *ctx)
{
	int c = loan_col0(r);
	memset(ctx, 0, sizeof(*ctx));
	if (PQntuples(r) != 1 || PQnfields(r) < c + LOAN_NCOLS + DISBURSE_PAYEE_FLAGGED + 1 ||
	    !loan_from_row(r, 0, c, l))
		return false;
	int n = c + LOAN_NCOLS; /* now, then enum disburse_col */
	struct idempotency_record *k = &ctx->key;
	ctx->now = db_ts(r, 0, n);
	ctx->today_days = db_int(r, 0, n + DISBURSE_TODAY);
	ctx->payee_flagged = db_bool(r, 0, n + DISBURSE_PAYEE_FLAGGED);
	k->found = !PQgetisnull(r, 0, n + DISBURSE_IDEM_PK);
	if (k->found) {
		k->loan_pk = db_int(r, 0, n + DISBURSE_IDEM_PK);
		k->status = (int)db_int(r, 0, n + DISBURSE_IDEM_STATUS);
		k->body = db_text_or_null(r, 0, n + DISBURSE_IDEM_BODY);
	}
	return true;
}

int64_t db_schema_version_of(const PGresult *r)
{
	return PQntuples(r) == 1 ? db_int(r, 0, 0) : -1;
}

const char *db_schema_min_release_of(const PGresult *r)
{
	return PQntuples(r) == 1 && PQnfields(r) > 2 ? db_text_or_null(r, 0, 2) : NULL;
}

int64_t db_local_date_of(const PGresult *r)
{
	return PQntuples(r) == 1 ? db_int(r, 0, 0) : TS_NULL;
}

int64_t db_sealed_of(const PGresult *r)
{
	return PQntuples(r) == 1 ? db_int(r, 0, 0) : 0;
}

int64_t db_unsealed_of(const PGresult *r)
{
	if (PQntuples(r) != 1 || PQnfields(r) != 1 || PQgetisnull(r, 0, 0))
		return -1;
	return db_int(r, 0, 0);
}

bool db_operator_signals_of(const PGresult *r, struct db_operator_signals *o)
{
	if (PQntuples(r) != 1 || PQnfields(r) != 6 || PQgetisnull(r, 0, 0))
		return false;
	o->today_days = db_int(r, 0, 0);
	o->newest_mrp_days = PQgetisnull(r, 0, 1) ? POLICY_NO_MRP : db_int(r, 0, 1);
	o->last_checkpoint_us = PQgetisnull(r, 0, 2) ? TS_NULL : db_int(r, 0, 2);
	o->calendar_today_days = PQgetisnull(r, 0, 3) ? TS_NULL : db_int(r, 0, 3);
	o->calendar_this_year = db_bool(r, 0, 4);
	o->calendar_next_year = db_bool(r, 0, 5);
	return true;
}

bool db_audit_head_row(const PGresult *r, struct audit_head *h)
{
	if (PQntuples(r) != 1)
		return false;
	h->sealed = db_int(r, 0, SEAL_SEALED);
	h->seq = PQgetisnull(r, 0, SEAL_HEAD_SEQ) ? 0 : db_int(r, 0, SEAL_HEAD_SEQ);
	snprintf(h->hash, sizeof(h->hash), "%s", PQgetvalue(r, 0, SEAL_HEAD_HASH));
	h->now_us = db_int(r, 0, SEAL_NOW);
	h->signed_by_key = db_bool(r, 0, SEAL_HEAD_SIGNED);
	return true;
}

bool db_audit_event_row(const PGresult *r, int row, struct db_audit_event *e)
{
	/* a NULL seq: STMT_LOAN_EVENTS's row of a loan without sealed events */
	if (row >= PQntuples(r) || PQnfields(r) < AUDIT_HASH + 1 || PQgetisnull(r, row, AUDIT_SEQ))
		return false;
	e->seq = db_int(r, row, AUDIT_SEQ);
	e->at = db_ts(r, row, AUDIT_AT);
	e->actor = PQgetvalue(r, row, AUDIT_ACTOR);
	e->lender = db_text_or_null(r, row, AUDIT_LENDER);
	e->loan_id = db_text_or_null(r, row, AUDIT_LOAN);
	e->type = PQgetvalue(r, row, AUDIT_TYPE);
	e->detail = PQgetvalue(r, row, AUDIT_DETAIL);
	e->hash = PQgetvalue(r, row, AUDIT_HASH);
	e->missing = PQnfields(r) > AUDIT_EVENT_MISSING && db_bool(r, row, AUDIT_EVENT_MISSING);
	return true;
}

bool db_access_entry_row(const PGresult *r, int row, struct db_access_entry *e)
{
	if (row >= PQntuples(r) || PQnfields(r) < ACCESS_NCOLS)
		return false;
	e->id = db_int(r, row, ACCESS_ID);
	e->at = db_ts(r, row, ACCESS_AT);
	e->client = PQgetvalue(r, row, ACCESS_CLIENT);
	e->role = PQgetvalue(r, row, ACCESS_ROLE);
	e->route = PQgetvalue(r, row, ACCESS_ROUTE);
	e->borrower_iin = db_text_or_null(r, row, ACCESS_IIN);
	e->lender = db_text_or_null(r, row, ACCESS_LENDER);
	e->loan_id = db_text_or_null(r, row, ACCESS_LOAN);
	e->request_id = PQgetvalue(r, row, ACCESS_REQUEST_ID);
	return true;
}

bool db_loan_events_found(const PGresult *r)
{
	return PQntuples(r) > 0;
}

int64_t db_decision_buckets_of(const PGresult *r)
{
	return PQntuples(r) > 0 ? db_int(r, 0, STATS_BUCKETS) : 0;
}

bool db_decision_row(const PGresult *r, int row, struct decision_count *c)
{
	if (row >= PQntuples(r) || PQnfields(r) < STATS_N + 1 || PQgetisnull(r, row, STATS_START))
		return false;
	c->start = db_ts(r, row, STATS_START);
	c->decision = db_text_or_null(r, row, STATS_DECISION);
	c->blocker = db_text_or_null(r, row, STATS_BLOCKER);
	c->n = PQgetisnull(r, row, STATS_N) ? 0 : db_int(r, row, STATS_N);
	return true;
}

void db_checkpoint_row(const PGresult *r, int row, struct db_checkpoint_row *k)
{
	k->seq = db_int(r, row, CKPT_SEQ);
	k->hash = PQgetvalue(r, row, CKPT_HASH);
	k->signed_at = db_ts(r, row, CKPT_SIGNED_AT);
	k->key_id = PQgetvalue(r, row, CKPT_KEY_ID);
	k->signature = PQgetvalue(r, row, CKPT_SIGNATURE);
	k->chain_hash = db_text_or_null(r, row, CKPT_CHAIN_HASH);
}

bool db_mrp_row(const PGresult *r, int row, struct db_mrp_row *m)
{
	if (row >= PQntuples(r))
		return false;
	m->valid_from = PQgetvalue(r, row, 0);
	m->tenge = db_int(r, row, 1);
	return true;
}

bool db_holiday_row(const PGresult *r, int row, struct db_holiday_row *h)
{
	if (row >= PQntuples(r))
		return false;
	h->date = PQgetvalue(r, row, 0);
	h->day = db_int(r, row, 1);
	h->name = PQgetvalue(r, row, 2);
	h->recorded_at = db_int(r, row, 3);
	return true;
}

struct refusal_change *db_refusal_rows(const PGresult *r, size_t *n, struct db_refusal_meta *m)
{
	*n = 0;
	memset(m, 0, sizeof(*m));
	m->now = TS_NULL;
	m->today_days = TS_NULL;
	int rows = PQntuples(r);
	if (rows < 1 || PQnfields(r) < REFUSAL_NCOLS)
		return NULL;
	m->now = db_ts(r, 0, REFUSAL_NOW);
	m->today_days = db_int(r, 0, REFUSAL_TODAY);
	struct refusal_change *c = calloc((size_t)rows, sizeof(*c));
	if (c == NULL)
		return NULL;
	for (int i = 0; i < rows; i++) {
		if (PQgetisnull(r, i, REFUSAL_SEQ))
			continue; /* the GET's row of an IIN without changes */
		struct refusal_change *x = &c[*n];
		x->seq = db_int(r, i, REFUSAL_SEQ);
		x->active = db_bool(r, i, REFUSAL_ACTIVE);
		x->effective_at = db_ts(r, i, REFUSAL_EFFECTIVE_AT);
		x->source = PQgetvalue(r, i, REFUSAL_SOURCE);
		x->reference = db_text_or_null(r, i, REFUSAL_REFERENCE);
		x->recorded_at = db_ts(r, i, REFUSAL_RECORDED_AT);
		m->inserted = m->inserted || db_bool(r, i, REFUSAL_IS_NEW);
		(*n)++;
	}
	if (*n == 0) {
		free(c);
		return NULL;
	}
	return c;
}

bool db_claim_row(const PGresult *r, int row, struct fraud_claim *c)
{
	if (row >= PQntuples(r) || PQnfields(r) < CLAIM_NCOLS || PQgetisnull(r, row, CLAIM_ID))
		return false;
	memset(c, 0, sizeof(*c));
	c->id = db_int(r, row, CLAIM_ID);
	copy_text(r, row, CLAIM_IIN, c->borrower_iin, sizeof(c->borrower_iin));
	copy_text(r, row, CLAIM_REFERENCE, c->reference, sizeof(c->reference));
	copy_text(r, row, CLAIM_NOTE, c->note, sizeof(c->note));
	c->opened_at = db_ts(r, row, CLAIM_OPENED_AT);
	copy_text(r, row, CLAIM_OPENED_BY, c->opened_by, sizeof(c->opened_by));
	copy_text(r, row, CLAIM_OPENER_LENDER, c->opener_lender, sizeof(c->opener_lender));
	c->closed_at = db_ts(r, row, CLAIM_CLOSED_AT);
	c->outcome = CLAIM_OUTCOME_NONE;
	if (!PQgetisnull(r, row, CLAIM_OUTCOME))
		claim_outcome_parse(PQgetvalue(r, row, CLAIM_OUTCOME), &c->outcome);
	return true;
}

/* ---- errors ---- */

const char *db_sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

bool db_error_is_unavailable(const PGresult *r)
{
	const char *s = db_sqlstate(r);
	/* 08: connection exception; 57P: operator intervention (shutdown);
	 * 53: insufficient resources; 57014: statement timeout; 40: a
	 * serialization failure or deadlock, safe to retry. */
	return s[0] == '\0' || strncmp(s, "08", 2) == 0 || strncmp(s, "57P", 3) == 0 ||
	       strncmp(s, "53", 2) == 0 || strcmp(s, "57014") == 0 || strncmp(s, "40", 2) == 0;
}

bool db_error_is_unique_violation(const PGresult *r)
{
	return r != NULL && strcmp(db_sqlstate(r), "23505") == 0;
}

bool db_error_is_unknown_timezone(const PGresult *r)
{
	const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	return r != NULL && strcmp(db_sqlstate(r), "22023") == 0 && msg != NULL &&
	       strncmp(msg, "time zone", 9) == 0;
}

/* ---- the lender's event feed, time events and webhooks ---- */

int64_t db_time_events_of(const PGresult *r)
{
	if (PQntuples(r) != 1 || PQnfields(r) != 1 || PQgetisnull(r, 0, 0))
		return -1;
	return db_int(r, 0, 0);
}

enum webhook_lease_col {
	WL_ID,
	WL_LENDER,
	WL_URL,
	WL_SECRET,
	WL_DELIVERED,
	WL_FAILURES,
	WL_NEXT,
	WL_BEHIND,
	WL_NOW,
	WL_NCOLS
};

bool db_webhook_row(const PGresult *r, int row, struct db_webhook_row *w)
{
	if (row >= PQntuples(r) || PQnfields(r) != WL_NCOLS)
		return false;
	w->id = db_int(r, row, WL_ID);
	w->lender = PQgetvalue(r, row, WL_LENDER);
	w->url = PQgetvalue(r, row, WL_URL);
	w->secret_sealed = PQgetvalue(r, row, WL_SECRET);
	w->delivered_seq = db_int(r, row, WL_DELIVERED);
	w->failures = db_int(r, row, WL_FAILURES);
	w->next_attempt_at = db_ts(r, row, WL_NEXT);
	w->events_behind = db_int(r, row, WL_BEHIND);
	w->now = db_ts(r, row, WL_NOW);
	return true;
}

enum webhook_list_col {
	WLS_ID,
	WLS_LENDER,
	WLS_URL,
	WLS_DELIVERED,
	WLS_BEHIND,
	WLS_FAILURES,
	WLS_NEXT,
	WLS_ERROR,
	WLS_NCOLS
};

bool db_webhook_list_row(const PGresult *r, int row, struct db_webhook_list_row *w)
{
	if (row >= PQntuples(r) || PQnfields(r) != WLS_NCOLS)
		return false;
	w->id = db_int(r, row, WLS_ID);
	w->lender = PQgetvalue(r, row, WLS_LENDER);
	w->url = PQgetvalue(r, row, WLS_URL);
	w->delivered_seq = db_int(r, row, WLS_DELIVERED);
	w->events_behind = db_int(r, row, WLS_BEHIND);
	w->failures = db_int(r, row, WLS_FAILURES);
	w->next_attempt_at = db_ts(r, row, WLS_NEXT);
	w->last_error = db_text_or_null(r, row, WLS_ERROR);
	return true;
}

/*
 * The API's calls. Each act reads the loan and the database's "now", asks
 * lib/ what the rules say, and writes with a guard (see lib/db.c); when the
 * guard finds that a concurrent request changed the loan first, it reads
 * again and decides again, a bounded number of times.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "iin.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "request.h"
#include "timeutil.h"

#define MAX_ATTEMPTS 5

/* ---- shared steps ---- */

/* The first n path parameters are identifiers (the lender, then the loan);
 * when one cannot be, no such loan can exist. "." and ".." are refused as
 * such ids are everywhere (422): HTTP clients remove those segments. */
static bool ids_parse(const struct request *r, int n, struct cd_error *err)
{
	static const char *const fields[] = {"lender", "loan_id"};
	for (int i = 0; i < n; i++)
		if (id_is_dot_segment(r->params[i]))
			return cd_error_set(err, 422, "validation_failed", fields[i < 2 ? i : 1],
			                    "\".\" and \"..\" are not identifiers");
	for (int i = 0; i < n; i++)
		if (!id_valid(r->params[i]))
			return cd_error_set(err, 404, "not_found", "", "no such loan");
	return true;
}

/* A loan answer, written straight into a buffer (codec_loan_write); with
 * prefix/suffix it is embedded, as in {"decision":"allowed","loan":...}. */
static void reply_loan_wrapped(struct request *r, int status, const struct loan *l, int64_t now,
                               const char *prefix, const char *suffix)
{
	struct loan_view v;
	loan_evaluate(l, now, &v);
	/* identifiers of at most 64 characters keep a loan well under 2 KiB */
	char buf[2048];
	size_t pre = strlen(prefix), suf = strlen(suffix);
	size_t n = codec_loan_write(l, &v, buf + pre, sizeof(buf) - pre - suf);
	if (n >= sizeof(buf) - pre - suf) {
		log_kv(LOG_ERROR, "loan answer larger than its buffer", "loan_id", l->loan_id,
		       NULL);
		reply_simple_error(r, 500, "internal_error", NULL, "internal error");
		return;
	}
	memcpy(buf, prefix, pre);
	memcpy(buf + pre + n, suffix, suf);
	reply_raw(r, status, buf, pre + n + suf);
}

static void reply_loan(struct request *r, int status, const struct loan *l, int64_t now)
{
	reply_loan_wrapped(r, status, l, now, "", "");
}

json_t *loans_json(const PGresult *res)
{
	json_t *loans = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		struct loan l;
		struct loan_view v;
		if (!db_loan_from_row(res, i, 0, &l))
			continue;
		loan_evaluate(&l, db_ts(res, i, LOAN_NCOLS), &v);
		json_array_append_new(loans, codec_loan_json(&l, &v));
	}
	return loans;
}

/* An audit detail as text, with timestamps already in UTC "Z" form; takes
 * the object. */
static char *detail_text(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void reply_invalid_state(struct request *r, const char *why)
{
	reply_simple_error(r, 409, "invalid_state", NULL, why);
}

/* A loan-returning result with exactly one row: decodes it into r. */
static bool take_loan_row(struct request *r, PGresult *res, int row)
{
	if (!db_loan_from_row(res, row, r->col0, &r->loan))
		return false;
	r->now = db_ts(res, row, r->col0 + LOAN_NCOLS);
	return true;
}

/*
 * policy.timezone passed the system's zone files at start, but the database
 * has its own list; when it does not know the name, no local date can be
 * found, which is the configuration's fault and not the request's: 503 (as
 * for a database out of reach, nothing was decided), an error naming the key
 * in the log, and /readyz 503 until the key is fixed and reloaded.
 */
static bool timezone_unknown(struct request *r, const PGresult *res)
{
	if (!db_error_is_unknown_timezone(res))
		return false;
	log_kv(LOG_ERROR, "policy.timezone is not a time zone of the database; fix it and reload",
	       "timezone", r->rt->cfg.timezone, NULL);
	return true;
}

static bool result_ok_or_reply(struct request *r, PGresult *res, const char *what)
{
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
		return true;
	if (timezone_unknown(r, res)) {
		reply_unavailable_because(
		    r, "policy.timezone is not a time zone of the database; nothing was decided");
		return false;
	}
	reply_db_failure(r, res, what);
	return false;
}

static bool check_ts_or_reply(struct request *r, int64_t ts, const char *field)
{
	struct cd_error err;
	cd_error_clear(&err);
	if (!ts_check_window(ts, r->now, r->rt->cfg.max_clock_skew_s, r->rt->cfg.max_backdate_s,
	                     field, &err)) {
		reply_error(r, &err);
		return false;
	}
	return true;
}

static void on_authenticated(PGresult *res, void *arg)
{
	struct request *r = arg;
	/* The token is read in the same statement as the approval's local
	 * date, so an unknown time zone fails both: no token was judged. */
	if (timezone_unknown(r, res)) {
		reply_unavailable_because(
		    r, "policy.timezone is not a time zone of the database; nothing was decided");
		return;
	}
	if (request_check_auth_or_reply(r, res))
		r->after_auth(res, r);
}

/* Sends a call's first read of the loan, again after a lost race (a bounded
 * number of times); with authenticate, its STMT_AUTH_* twin, whose last
 * parameter (the token id) params must end with. */
static void first_read_or_reply(struct request *r, enum stmt st, const char *const *params,
                                pgpool_cb cb, bool authenticate)
{
	if (++r->attempts > MAX_ATTEMPTS) {
		log_kv(LOG_ERROR, "gave up after repeated write conflicts", "route", r->route->name,
		       NULL);
		reply_unavailable(r);
		return;
	}
	if (!authenticate) {
		if (!request_exec_or_reply(r, st, params, cb))
			return; /* answered 503 */
		return;
	}
	r->after_auth = cb;
	if (!request_exec_or_reply(r, db_stmt_with_auth(st), params, on_authenticated))
		return; /* answered 503 */
}

/* ---- service ---- */

static void h_healthz(struct request *r)
{
	reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void on_ready(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (res != NULL && timezone_unknown(r, res)) {
		set_retry_after(r, 1);
		reply_json(r, 503,
		           json_pack("{s:s,s:s}", "status", "unavailable", "reason",
		                     "policy.timezone is not a time zone of the database"));
		return;
	}
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		set_retry_after(r, 1);
		reply_json(r, 503,
		           json_pack("{s:s,s:s}", "status", "unavailable", "reason",
		                     res == NULL ? "database out of reach"
		                                 : "schema missing or time zone unknown"));
		return;
	}
	int64_t v = db_int(res, 0, 0);
	if (v != DB_SCHEMA_VERSION) {
		reply_json(r, 503,
		           json_pack("{s:s,s:s,s:I,s:I}", "status", "unavailable", "reason",
		                     "schema version differs", "schema_version", (json_int_t)v,
		                     "expected", (json_int_t)DB_SCHEMA_VERSION));
		return;
	}
	reply_json(r, 200,
	           json_pack("{s:s,s:I}", "status", "ready", "schema_version", (json_int_t)v));
}

static void h_readyz(struct request *r)
{
	const char *params[] = {r->rt->cfg.timezone};
	if (!pgpool_exec(r->w->pool, STMT_SCHEMA_VERSION, params, on_ready, r)) {
		set_retry_after(r, 1);
		reply_json(r, 503,
		           json_pack("{s:s,s:s}", "status", "unavailable", "reason",
		                     "database out of reach"));
	}
}

/* ---- reads ---- */

static void on_borrower_loans(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!result_ok_or_reply(r, res, "borrower_loans"))
		return;
	reply_json(r, 200, json_pack("{s:o}", "loans", loans_json(res)));
}

static void on_borrower_today(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!result_ok_or_reply(r, res, "local_date"))
		return;
	const char *why = NULL;
	if (PQntuples(res) != 1 || !iin_born_by(r->params[0], db_int(res, 0, 0), &why)) {
		struct cd_error err;
		cd_error_invalid(&err, "borrower_iin", why ? why : "not a valid IIN");
		reply_error(r, &err);
		return;
	}
	/* A lender sees only its own loans of the borrower. */
	const char *params[] = {r->params[0], r->role == ROLE_LENDER ? r->client_lender : NULL};
	if (!request_exec_or_reply(r, STMT_BORROWER_LOANS, params, on_borrower_loans))
		return; /* answered 503 */
}

static void h_borrower_loans(struct request *r)
{
	const char *why = NULL;
	if (!iin_valid(r->params[0], &why)) {
		struct cd_error err;
		cd_error_invalid(&err, "borrower_iin", why ? why : "not a valid IIN");
		reply_error(r, &err);
		return;
	}
	/* Whether the birth date is after today is the database's today. */
	const char *params[] = {r->rt->cfg.timezone};
	if (!request_exec_or_reply(r, STMT_LOCAL_DATE, params, on_borrower_today))
		return; /* answered 503 */
}

/* ---- record an approval ---- */

static void approval_start(struct request *r, bool authenticate);

/* What the approval_recorded event keeps of the loan, in the loan's own
 * JSON forms. */
static json_t *approval_detail(const struct loan *l)
{
	char amount[MONEY_BUF], threshold[MONEY_BUF];
	money_format(l->amount_tiyn, amount);
	money_format(l->threshold_tiyn, threshold);
	return json_pack("{s:s,s:s,s:b,s:b,s:b,s:o,s:s,s:I,s:s,s:o,s:o,s:o,s:b}", "amount", amount,
	                 "channel", channel_name(l->channel), "secured", l->secured,
	                 "first_time_borrower", l->first_time_borrower, "cooling_required",
	                 l->cooling_required, "cooling_period_seconds",
	                 l->cooling_required ? json_integer(l->cooling_period_s) : json_null(),
	                 "threshold_amount", threshold, "mrp", (json_int_t)l->mrp_tenge, "policy",
	                 l->policy, "approved_at", codec_ts_json(l->approved_at), "consent_at",
	                 codec_ts_json(l->consent_at), "cooling_ends_at",
	                 codec_ts_json(l->cooling_required ? l->cooling_ends_at : TS_NULL),
	                 "in_person_required", l->in_person_required);
}

static void on_loan_insert(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!result_ok_or_reply(r, res, "loan_insert"))
		return;
	if (PQntuples(res) == 0) {
		/* Another request recorded this loan_id first: compare with it. */
		approval_start(r, false);
		return;
	}
	if (!take_loan_row(r, res, 0)) {
		reply_simple_error(r, 500, "internal_error", NULL, "cannot read the stored loan");
		return;
	}
	metrics_approval(r->w, &r->loan);
	reply_loan(r, 201, &r->loan, r->now);
}

static void on_approval_context(PGresult *res, void *arg)
{
	struct request *r = arg;
	int c0 = r->col0;
	struct approval_req *a = &r->approval;
	if (!result_ok_or_reply(r, res, "approval_context"))
		return;
	if (PQntuples(res) != 1) {
		reply_simple_error(r, 500, "internal_error", NULL, "unexpected context");
		return;
	}
	r->now = db_ts(res, 0, c0 + LOAN_NCOLS);

	struct loan existing;
	if (db_loan_from_row(res, 0, c0, &existing)) {
		if (approval_matches(a, &existing))
			reply_loan(r, 200, &existing, r->now);
		else
			reply_simple_error(r, 409, "loan_exists", "loan_id",
			                   "a loan with this loan_id exists with other fields");
		return;
	}

	const char *why = NULL;
	if (!iin_born_by(a->borrower_iin, db_int(res, 0, c0 + LOAN_NCOLS + 4), &why)) {
		struct cd_error err;
		cd_error_invalid(&err, "borrower_iin", why);
		reply_error(r, &err);
		return;
	}
	if (a->approved_at != TS_NULL && !check_ts_or_reply(r, a->approved_at, "approved_at"))
		return;
	int64_t approved_at = db_ts(res, 0, c0 + LOAN_NCOLS + 3);
	if (a->consent_at != TS_NULL) {
		struct cd_error err;
		cd_error_clear(&err);
		if (!check_ts_or_reply(r, a->consent_at, "consent_at"))
			return;
		if (!consent_check_order(a->consent_at, approved_at, r->rt->cfg.max_clock_skew_s,
		                         &err)) {
			reply_error(r, &err);
			return;
		}
	}
	if (PQgetisnull(res, 0, c0 + LOAN_NCOLS + 1)) {
		reply_simple_error(r, 422, "validation_failed", "approved_at",
		                   "approved_at: no MRP is recorded for that date");
		return;
	}

	struct loan *l = &r->loan;
	memset(l, 0, sizeof(*l));
	snprintf(l->lender, sizeof(l->lender), "%s", r->params[0]);
	snprintf(l->loan_id, sizeof(l->loan_id), "%s", a->loan_id);
	memcpy(l->borrower_iin, a->borrower_iin, sizeof(l->borrower_iin));
	l->amount_tiyn = a->amount_tiyn;
	l->channel = a->channel;
	l->secured = a->secured;
	l->first_time_given = a->has_first_time;
	l->first_time_borrower =
	    a->has_first_time ? a->first_time_borrower : db_bool(res, 0, c0 + LOAN_NCOLS + 2);
	l->approved_at = approved_at;
	l->consent_at = a->consent_at;
	l->in_person_verified_at = TS_NULL;
	l->disbursed_at = TS_NULL;
	l->cancelled_at = TS_NULL;
	policy_assess(&r->rt->policy, db_int(res, 0, c0 + LOAN_NCOLS + 1), l);
	l->cooling_ends_at = policy_cooling_ends_at(l, l->consent_at);

	struct db_num n[8];
	json_t *detail = approval_detail(l);
	char *detail_s = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	const char *params[] = {
	    l->lender,
	    l->loan_id,
	    l->borrower_iin,
	    db_num(&n[0], l->amount_tiyn),
	    channel_name(l->channel),
	    l->secured ? "true" : "false",
	    l->first_time_borrower ? "true" : "false",
	    l->first_time_given ? "true" : "false",
	    l->policy,
	    db_num(&n[1], l->mrp_tenge),
	    db_num(&n[2], l->threshold_tiyn),
	    l->cooling_required ? "true" : "false",
	    l->cooling_required ? db_num(&n[3], l->cooling_period_s) : NULL,
	    l->in_person_required ? "true" : "false",
	    db_num(&n[4], l->approved_at),
	    db_num(&n[5], l->consent_at),
	    db_num(&n[6], l->cooling_ends_at),
	    db_num(&n[7], l->in_person_verified_at),
	    r->client,
	    detail_s,
	};
	bool queued = request_exec_or_reply(r, STMT_LOAN_INSERT, params, on_loan_insert);
	free(detail_s);
	if (!queued)
		return; /* answered 503 */
}

static bool approval_parse(struct request *r, struct cd_error *err)
{
	return ids_parse(r, 1, err) && codec_parse_approval(r->body, &r->approval, err);
}

static void approval_start(struct request *r, bool authenticate)
{
	struct db_num n;
	const char *params[] = {
	    r->params[0],        r->approval.loan_id,      db_num(&n, r->approval.approved_at),
	    r->rt->cfg.timezone, r->approval.borrower_iin, r->token_id};
	first_read_or_reply(r, STMT_APPROVAL_CONTEXT, params, on_approval_context, authenticate);
}

/* ---- calls on one loan: GET, consent, in-person verification, cancellation
 *
 * Each reads the loan (act_start), decides from it (the act's decide
 * function: the loan, a repeat, a 409, a field error, or a guarded write),
 * and when the write's guard finds the loan changed under it, reads and
 * decides again.
 */

struct act {
	const char *write_name;
	void (*decide)(struct request *r); /* r->loan and r->now are read */
};

static void act_start(struct request *r, bool authenticate);

static void on_act_write(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!result_ok_or_reply(r, res, r->act->write_name))
		return;
	if (PQntuples(res) == 0 || !take_loan_row(r, res, 0)) {
		act_start(r, false); /* changed under us: decide again */
		return;
	}
	reply_loan(r, 200, &r->loan, r->now);
}

static void on_act_read(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!result_ok_or_reply(r, res, "loan_get"))
		return;
	if (PQntuples(res) != 1 || !take_loan_row(r, res, 0)) {
		reply_simple_error(r, 404, "not_found", NULL, "no such loan");
		return;
	}
	r->act->decide(r);
}

static void act_start(struct request *r, bool authenticate)
{
	const char *params[] = {r->params[0], r->params[1], r->token_id};
	first_read_or_reply(r, STMT_LOAN_GET, params, on_act_read, authenticate);
}

static void get_decide(struct request *r)
{
	reply_loan(r, 200, &r->loan, r->now);
}

/* "anything after cancellation", then a repeat of what is recorded */
static bool act_refused_after_cancellation(struct request *r)
{
	if (r->loan.cancelled_at == TS_NULL)
		return false;
	reply_invalid_state(r, "the loan is cancelled");
	return true;
}

static bool act_refused_after_disbursement(struct request *r)
{
	if (r->loan.disbursed_at == TS_NULL)
		return false;
	reply_invalid_state(r, "the loan is disbursed");
	return true;
}

static void consent_decide(struct request *r)
{
	struct loan *l = &r->loan;
	if (act_refused_after_cancellation(r))
		return;
	if (l->consent_at != TS_NULL) {
		if (r->ts == TS_NULL || r->ts == l->consent_at)
			reply_loan(r, 200, l, r->now); /* a repeat: nothing changes */
		else
			reply_invalid_state(r, "consent was recorded at another time");
		return;
	}
	if (act_refused_after_disbursement(r))
		return;
	int64_t consent_at = r->ts != TS_NULL ? r->ts : r->now;
	if (r->ts != TS_NULL && !check_ts_or_reply(r, r->ts, "consent_at"))
		return;
	struct cd_error err;
	cd_error_clear(&err);
	if (!consent_check_order(consent_at, l->approved_at, r->rt->cfg.max_clock_skew_s, &err)) {
		reply_error(r, &err);
		return;
	}
	int64_t ends = policy_cooling_ends_at(l, consent_at);
	char *detail = detail_text(json_pack("{s:o,s:o}", "consent_at", codec_ts_json(consent_at),
	                                     "cooling_ends_at", codec_ts_json(ends)));
	struct db_num n[3];
	const char *params[] = {db_num(&n[0], l->pk), db_num(&n[1], consent_at),
	                        db_num(&n[2], ends), r->client, detail};
	bool queued = request_exec_or_reply(r, STMT_CONSENT, params, on_act_write);
	free(detail);
	if (!queued)
		return; /* answered 503 */
}

static void verify_decide(struct request *r)
{
	struct loan *l = &r->loan;
	struct verification_req *v = &r->verification;
	if (act_refused_after_cancellation(r))
		return;
	if (l->in_person_verified_at != TS_NULL) {
		bool same =
		    strcmp(l->in_person_branch_id, v->branch_id) == 0 &&
		    strcmp(l->in_person_officer_id, v->officer_id) == 0 &&
		    (v->verified_at == TS_NULL || v->verified_at == l->in_person_verified_at);
		if (same)
			reply_loan(r, 200, l, r->now);
		else
			reply_invalid_state(r, "in-person verification was recorded otherwise");
		return;
	}
	if (act_refused_after_disbursement(r))
		return;
	if (v->verified_at != TS_NULL && !check_ts_or_reply(r, v->verified_at, "verified_at"))
		return;
	int64_t at = v->verified_at != TS_NULL ? v->verified_at : r->now;
	struct cd_error err;
	cd_error_clear(&err);
	if (!ts_check_after_approval(at, l->approved_at, r->rt->cfg.max_clock_skew_s, "verified_at",
	                             &err)) {
		reply_error(r, &err);
		return;
	}
	char *detail =
	    detail_text(json_pack("{s:o,s:s,s:s}", "verified_at", codec_ts_json(at), "branch_id",
	                          v->branch_id, "officer_id", v->officer_id));
	struct db_num n[2];
	const char *params[] = {db_num(&n[0], l->pk), db_num(&n[1], at), v->branch_id,
	                        v->officer_id,        r->client,         detail};
	bool queued = request_exec_or_reply(r, STMT_VERIFY, params, on_act_write);
	free(detail);
	if (!queued)
		return; /* answered 503 */
}

static void cancel_decide(struct request *r)
{
	struct loan *l = &r->loan;
	if (l->cancelled_at != TS_NULL) {
		if (strcmp(l->cancel_reason, r->reason) == 0)
			reply_loan(r, 200, l, r->now);
		else
			reply_invalid_state(r, "the loan was cancelled with another reason");
		return;
	}
	if (l->disbursed_at != TS_NULL) {
		reply_invalid_state(r, "a disbursed loan cannot be cancelled");
		return;
	}
	struct db_num n;
	const char *params[] = {db_num(&n, l->pk), r->reason, r->client};
	if (!request_exec_or_reply(r, STMT_CANCEL, params, on_act_write))
		return; /* answered 503 */
}

static const struct act act_get = {"loan_get", get_decide};
static const struct act act_consent = {"consent", consent_decide};
static const struct act act_verify = {"verify", verify_decide};
static const struct act act_cancel = {"cancel", cancel_decide};

static bool loan_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_get;
	return ids_parse(r, 2, err);
}

static bool consent_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_consent;
	return ids_parse(r, 2, err) && codec_parse_consent(r->body, &r->ts, err);
}

static bool verify_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_verify;
	return ids_parse(r, 2, err) && codec_parse_verification(r->body, &r->verification, err);
}

static bool cancel_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_cancel;
	return ids_parse(r, 2, err) &&
	       codec_parse_cancellation(r->body, r->reason, sizeof(r->reason), err);
}

/* ---- disbursement: the gate ---- */

static void disburse_start(struct request *r, bool authenticate);

static bool is_unique_violation(PGresult *res)
{
	return res != NULL && strcmp(db_sqlstate(res), "23505") == 0;
}

static void on_disburse_write(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (is_unique_violation(res)) { /* same Idempotency-Key raced us */
		disburse_start(r, false);
		return;
	}
	if (!result_ok_or_reply(r, res, "disburse"))
		return;
	if (PQntuples(res) == 0 || !take_loan_row(r, res, 0)) {
		disburse_start(r, false); /* the guard failed: the loan changed */
		return;
	}
	metrics_decision_allowed(r->w);
	reply_loan_wrapped(r, 200, &r->loan, r->now, "{\"decision\":\"allowed\",\"loan\":", "}");
}

static void on_refuse_write(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (is_unique_violation(res)) {
		disburse_start(r, false);
		return;
	}
	if (!result_ok_or_reply(r, res, "refuse"))
		return;
	metrics_decision_refused(r->w, &r->loan, r->now);
	set_retry_after(r, r->retry_after);
	reply_raw(r, 409, r->refusal_body, strlen(r->refusal_body));
}

static void replay(struct request *r, PGresult *res)
{
	int c0 = r->col0;
	int status = (int)db_int(res, 0, c0 + LOAN_NCOLS + 2);
	if (status == 200) {
		/* A disbursed loan no longer changes: rendering it again gives
		 * the first answer. */
		reply_loan_wrapped(r, 200, &r->loan, r->now,
		                   "{\"decision\":\"allowed\",\"loan\":", "}");
		return;
	}
	json_error_t jerr;
	json_t *body = json_loads(PQgetvalue(res, 0, c0 + LOAN_NCOLS + 3), 0, &jerr);
	if (body == NULL) {
		reply_simple_error(r, 500, "internal_error", NULL, "stored answer unreadable");
		return;
	}
	json_t *blockers = json_object_get(body, "blockers");
	json_t *earliest = json_object_get(body, "earliest_disbursement_at");
	if (json_array_size(blockers) == 1 &&
	    strcmp(json_string_value(json_array_get(blockers, 0)) ?: "", "cooling_period_active") ==
	        0 &&
	    json_is_string(earliest)) {
		int64_t at;
		if (ts_parse_rfc3339(json_string_value(earliest), &at, NULL))
			set_retry_after(r, (at - r->now + USEC_PER_SEC - 1) / USEC_PER_SEC);
	}
	reply_json(r, status, body);
}

static void on_disburse_read(PGresult *res, void *arg)
{
	struct request *r = arg;
	int c0 = r->col0;
	if (!result_ok_or_reply(r, res, "disburse_context"))
		return;
	if (PQntuples(res) != 1 || !take_loan_row(r, res, 0)) {
		reply_simple_error(r, 404, "not_found", NULL, "no such loan");
		return;
	}
	struct loan *l = &r->loan;
	if (!PQgetisnull(res, 0, c0 + LOAN_NCOLS + 1)) {
		if (db_int(res, 0, c0 + LOAN_NCOLS + 1) != l->pk) {
			reply_simple_error(r, 422, "validation_failed", "Idempotency-Key",
			                   "Idempotency-Key: already used for another loan");
			return;
		}
		replay(r, res);
		return;
	}

	struct loan_view v;
	loan_evaluate(l, r->now, &v);
	struct db_num n[2];
	const char *key = r->has_idem_key ? r->idem_key : NULL;
	if (v.blockers == 0) {
		const char *params[] = {db_num(&n[0], l->pk), r->client, key, l->lender, "{}"};
		if (!request_exec_or_reply(r, STMT_DISBURSE, params, on_disburse_write))
			return; /* answered 503 */
		return;
	}

	json_t *body =
	    json_pack("{s:s,s:o,s:o,s:o}", "decision", "refused", "blockers",
	              codec_blockers_json(v.blockers), "earliest_disbursement_at",
	              codec_ts_json(v.earliest_disbursement_at), "loan", codec_loan_json(l, &v));
	free(r->refusal_body);
	r->refusal_body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	json_t *detail = json_pack("{s:o}", "blockers", codec_blockers_json(v.blockers));
	char *detail_s = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	r->retry_after = loan_retry_after(l, &v, r->now);
	const char *params[] = {l->lender, l->loan_id,           r->client,      detail_s,
	                        key,       db_num(&n[1], l->pk), r->refusal_body};
	bool queued = request_exec_or_reply(r, STMT_REFUSE, params, on_refuse_write);
	free(detail_s);
	if (!queued)
		return; /* answered 503 */
}

static bool disburse_parse(struct request *r, struct cd_error *err)
{
	if (!ids_parse(r, 2, err) || !codec_parse_disbursement(r->body, err))
		return false;
	const char *key =
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "Idempotency-Key");
	r->has_idem_key = key != NULL;
	if (key == NULL)
		return true;
	if (!idempotency_key_valid(key))
		return cd_error_set(err, 422, "validation_failed", "Idempotency-Key",
		                    "Idempotency-Key: must be 1-64 printable characters");
	snprintf(r->idem_key, sizeof(r->idem_key), "%s", key);
	return true;
}

static void disburse_start(struct request *r, bool authenticate)
{
	const char *params[] = {r->params[0], r->params[1], r->has_idem_key ? r->idem_key : NULL,
	                        r->token_id};
	first_read_or_reply(r, STMT_DISBURSE_CONTEXT, params, on_disburse_read, authenticate);
}

/* ---- the routing table ---- */

#define ALL_ROLES (ROLE_LENDER | ROLE_COMPLIANCE | ROLE_AUDITOR)

const struct route routes[] = {
    {EVHTTP_REQ_GET, "/healthz", 0, false, BODY_NONE, "healthz", h_healthz, NULL, NULL},
    {EVHTTP_REQ_GET, "/readyz", 0, false, BODY_NONE, "readyz", h_readyz, NULL, NULL},
    {EVHTTP_REQ_POST, "/v1/lenders/{}/loans", ROLE_LENDER, true, BODY_REQUIRED, "approval", NULL,
     approval_parse, approval_start},
    {EVHTTP_REQ_GET, "/v1/lenders/{}/loans/{}", ALL_ROLES, true, BODY_NONE, "loan", NULL,
     loan_parse, act_start},
    {EVHTTP_REQ_POST, "/v1/lenders/{}/loans/{}/consent", ROLE_LENDER, true, BODY_OPTIONAL,
     "consent", NULL, consent_parse, act_start},
    {EVHTTP_REQ_POST, "/v1/lenders/{}/loans/{}/in-person-verification", ROLE_LENDER, true,
     BODY_REQUIRED, "in-person-verification", NULL, verify_parse, act_start},
    {EVHTTP_REQ_POST, "/v1/lenders/{}/loans/{}/cancellation", ROLE_LENDER, true, BODY_REQUIRED,
     "cancellation", NULL, cancel_parse, act_start},
    {EVHTTP_REQ_POST, "/v1/lenders/{}/loans/{}/disbursement", ROLE_LENDER, true, BODY_OPTIONAL,
     "disbursement", NULL, disburse_parse, disburse_start},
    {EVHTTP_REQ_GET, "/v1/borrowers/{}/loans", ALL_ROLES, false, BODY_NONE, "borrower",
     h_borrower_loans, NULL, NULL},
    {EVHTTP_REQ_GET, "/v1/audit", ROLE_COMPLIANCE | ROLE_AUDITOR, false, BODY_NONE, "audit",
     h_audit_list, NULL, NULL},
    {EVHTTP_REQ_GET, "/v1/loans", ROLE_COMPLIANCE | ROLE_AUDITOR, false, BODY_NONE, "loans",
     h_loans_list, NULL, NULL},
};

const int routes_count = sizeof(routes) / sizeof(routes[0]);

/*
 * The API's calls. Each act reads the loan and the database's "now", asks
 * lib/loan.c what the rules say (an outcome: a repeat, the values to write,
 * or a refusal), and maps the outcome to a guarded write (lib/db.c) or a
 * reply; this file holds no rule of its own. When a write's guard finds
 * that a concurrent request changed the loan first, it reads again and
 * decides again, a bounded number of times.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "codec.h"
#include "iin.h"
#include "loan.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "request.h"
#include "schema_compat.h"
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
		int64_t now;
		if (!db_loan_row(res, i, &l, &now))
			continue;
		loan_evaluate(&l, now, &v);
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

/* A loan-returning result: decodes its row into r. */
static bool take_loan_row(struct request *r, PGresult *res, int row)
{
	return db_loan_row(res, row, &r->loan, &r->now);
}

/* The clock window of client timestamps, from the configuration. */
static struct ts_window ts_window_of(const struct request *r)
{
	return (struct ts_window){.skew_s = r->rt->cfg.max_clock_skew_s,
	                          .backdate_s = r->rt->cfg.max_backdate_s};
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

/* True for a result with rows; otherwise answers (503 for an unknown time
 * zone or an unreachable database, else 500) and returns false. */
static bool tuples_or_reply(struct request *r, PGresult *res, const char *what)
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
	request_auth_result(r, res);
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

void h_healthz(struct request *r)
{
	/* what json_dumps() makes of {"status": "ok"}, not built per request */
	static const char ok[] = "{\"status\":\"ok\"}";
	reply_raw(r, 200, ok, sizeof(ok) - 1);
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
	int64_t v = db_schema_version_of(res);
	const char *min = db_schema_min_release_of(res);
	enum schema_verdict verdict = schema_verdict(v, min, DB_SCHEMA_VERSION, COOLINGD_VERSION);
	if (verdict != SCHEMA_READY) {
		set_retry_after(r, 1);
		reply_json(r, 503,
		           json_pack("{s:s,s:s,s:I,s:I,s:s*,s:s}", "status", "unavailable",
		                     "reason", schema_verdict_reason(verdict), "schema_version",
		                     (json_int_t)v, "expected", (json_int_t)DB_SCHEMA_VERSION,
		                     "min_release", min, "release", COOLINGD_VERSION));
		return;
	}
	reply_json(r, 200,
	           json_pack("{s:s,s:I,s:s}", "status", "ready", "schema_version", (json_int_t)v,
	                     "min_release", min));
}

void h_readyz(struct request *r)
{
	const char *params[] = {r->rt->cfg.timezone};
	if (!pgpool_exec(r->w->pool, STMT_SCHEMA_VERSION, params, on_ready, r)) {
		set_retry_after(r, 1);
		reply_json(r, 503,
		           json_pack("{s:s,s:s}", "status", "unavailable", "reason",
		                     "database out of reach"));
	}
}

/* ---- the personal-data access log ----
 *
 * A borrower look-up, a read of a loan and a read of a fraud claim by a
 * compliance, auditor or anti-fraud token are recorded (sql/015, sql/020)
 * before they are answered: the record is its own statement, committed
 * before the answer is handed to evhttp, and when it cannot be made the
 * call is 503 and returns nothing. A lender reads only its own loans,
 * borrowers and claims, which is not recorded. */

static bool access_recorded(const struct request *r)
{
	return r->role == ROLE_COMPLIANCE || r->role == ROLE_AUDITOR || r->role == ROLE_ANTIFRAUD;
}

/* The request's Request-Id for its record: requests carry none yet, so it
 * is recorded empty. */

static void on_access_recorded(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_kv(LOG_ERROR, "personal-data access could not be recorded; answered 503",
		       "route", r->route->name, "client", r->client, "sqlstate",
		       res != NULL ? db_sqlstate(res) : "", NULL);
		reply_unavailable_because(
		    r, "the access could not be recorded in the personal-data access log; "
		       "nothing was returned");
		return;
	}
	r->recorded(r);
}

/* Records who reads whom (iin, or the loan of lender and loan_id; NULL
 * when none), then runs then(r); or answers 503. */
static void access_record_or_reply(struct request *r, const char *iin, const char *lender,
                                   const char *loan_id, void (*then)(struct request *r))
{
	struct access_record a = {.client = r->client,
	                          .role = name_of(&role_names, __builtin_ctz((unsigned)r->role)),
	                          .route = r->route->name,
	                          .borrower_iin = iin,
	                          .lender = lender,
	                          .loan_id = loan_id,
	                          .request_id = r->request_id};
	struct db_params p;
	r->recorded = then;
	if (!request_exec_or_reply(r, STMT_ACCESS_RECORD, db_params_access_record(&p, &a),
	                           on_access_recorded))
		return; /* answered 503 */
}

/* The policy this daemon enforces, as `coolingctl policy show --json`
 * prints it: the configuration at the request's arrival. */
void h_policy(struct request *r)
{
	struct policy_schedule_table t;
	policy_schedule_table_of(&r->rt->schedule, &t);
	reply_json(r, 200, codec_policy_schedule_json(&t));
}

/* ---- reads ---- */

static void on_borrower_loans(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "borrower_loans"))
		return;
	reply_json(r, 200, json_pack("{s:o}", "loans", loans_json(res)));
}

static void borrower_read(struct request *r)
{
	/* A lender sees only its own loans of the borrower. */
	const char *params[] = {r->call.borrower.iin,
	                        r->role == ROLE_LENDER ? r->client_lender : NULL};
	if (!request_exec_or_reply(r, STMT_BORROWER_LOANS, params, on_borrower_loans))
		return; /* answered 503 */
}

static void on_borrower_today(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "local_date"))
		return;
	const char *why = NULL;
	int64_t today = db_local_date_of(res);
	if (today == TS_NULL || !iin_born_by(r->call.borrower.iin, today, &why)) {
		struct cd_error err;
		cd_error_invalid(&err, "borrower_iin", why ? why : "not a valid IIN");
		reply_error(r, &err);
		return;
	}
	if (access_recorded(r))
		access_record_or_reply(r, r->call.borrower.iin, NULL, NULL, borrower_read);
	else
		borrower_read(r);
}

bool borrower_parse(struct request *r, struct cd_error *err)
{
	const char *why = NULL;
	if (!iin_valid(r->params[0], &why))
		return cd_error_invalid(err, "borrower_iin", why ? why : "not a valid IIN");
	memcpy(r->call.borrower.iin, r->params[0], sizeof(r->call.borrower.iin));
	return true;
}

bool borrower_search_parse(struct request *r, struct cd_error *err)
{
	return codec_parse_borrower_search(r->body, r->call.borrower.iin, err);
}

/* The IIN has been checked by the route's parse (borrower_parse,
 * borrower_search_parse). */
void h_borrower_loans(struct request *r)
{
	/* Whether the birth date is after today is the database's today. */
	const char *params[] = {r->rt->cfg.timezone};
	if (!request_exec_or_reply(r, STMT_LOCAL_DATE, params, on_borrower_today))
		return; /* answered 503 */
}

/* ---- record an approval ---- */

/* The day the approval is decided with: the lender whose loans count
 * (policy.aggregation), and for STMT_LOAN_INSERT the zone and the total it
 * must still find under the day's lock. */
static const char *day_lender_of(const struct request *r)
{
	/* the profiles of a schedule agree on it (config_load()) */
	return r->rt->schedule.entries[0].policy.aggregation == AGGREGATION_ALL ? NULL
	                                                                        : r->params[0];
}

/* policy.burst_window in seconds while policy.burst_lenders is on, else 0. */
static int64_t burst_window_of(const struct request *r)
{
	return r->rt->cfg.burst_lenders > 0 ? r->rt->cfg.burst_window_s : 0;
}

/* Another approval of the borrower's day may come first however often a
 * burst of them races; each time one does, the day has one loan more, so
 * this bounds a day of that many concurrent approvals. */
#define MAX_DAY_ATTEMPTS 200

static void approval_decide(struct request *r);

static void on_loan_insert(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "loan_insert"))
		return;
	int64_t day_total = TS_NULL, burst = TS_NULL;
	if (!db_loan_insert_result(res, &r->loan, &r->now, &day_total, &burst)) {
		bool day_moved =
		    day_total != TS_NULL && day_total != r->approval_ctx.day_others_tiyn;
		bool burst_moved = burst != TS_NULL && burst != r->approval_ctx.burst_others;
		if ((day_moved || burst_moved) && ++r->day_attempts <= MAX_DAY_ATTEMPTS) {
			/* another approval of the day (or of the burst) came first:
			 * decide again with them as they now are */
			if (day_moved)
				r->approval_ctx.day_others_tiyn = day_total;
			if (burst_moved)
				r->approval_ctx.burst_others = burst;
			approval_decide(r);
			return;
		}
		/* Another request recorded this loan_id first: compare with it. */
		approval_start(r, false);
		return;
	}
	metrics_approval(r->w, &r->loan);
	reply_loan(r, 201, &r->loan, r->now);
}

static void approval_decide(struct request *r)
{
	struct approval_req *a = &r->call.approval;
	struct approval_context *ctx = &r->approval_ctx;
	struct ts_window w = ts_window_of(r);
	struct act_outcome o;
	/* the profile of the approval's local date, the database's reading of
	 * approved_at in policy.timezone */
	const struct policy *policy = policy_in_force(&r->rt->schedule, ctx->approval_day);
	switch (loan_approval_decide(policy, r->params[0], a, ctx, &w, &r->loan, &o)) {
	case ACT_REPEAT:
		reply_loan(r, 200, &ctx->existing, r->now);
		return;
	case ACT_REFUSE:
		reply_error(r, &o.err);
		return;
	case ACT_WRITE:
		break;
	}
	/* what the approval_recorded event keeps of the loan, in the loan's
	 * own JSON forms; its fields are bounded, so it always fits */
	char detail[APPROVAL_DETAIL_BUF];
	if (codec_approval_detail_write(&r->loan, detail, sizeof detail) >= sizeof detail) {
		reply_simple_error(r, 500, "internal_error", NULL, "approval detail too long");
		return;
	}
	struct db_day day = {.tz = policy_aggregates(policy) ? r->rt->cfg.timezone : NULL,
	                     .lender = day_lender_of(r),
	                     .others_tiyn = ctx->day_others_tiyn,
	                     .burst_window_s = burst_window_of(r),
	                     .burst_others = ctx->burst_others};
	struct db_params p;
	bool queued = request_exec_or_reply(
	    r, STMT_LOAN_INSERT, db_loan_insert_day_params(&p, &r->loan, r->client, detail, &day),
	    on_loan_insert);
	if (!queued)
		return; /* answered 503 */
}

static void on_approval_context(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "approval_context"))
		return;
	if (!db_approval_context(res, &r->approval_ctx)) {
		reply_simple_error(r, 500, "internal_error", NULL, "unexpected context");
		return;
	}
	r->now = r->approval_ctx.now;
	r->approval_ctx.burst_lenders = r->rt->cfg.burst_lenders;
	approval_decide(r);
}

bool approval_parse(struct request *r, struct cd_error *err)
{
	return ids_parse(r, 1, err) && codec_parse_approval(r->body, &r->call.approval, err);
}

void approval_start(struct request *r, bool authenticate)
{
	struct db_params p;
	first_read_or_reply(
	    r, STMT_APPROVAL_CONTEXT,
	    db_params_approval_context(&p, r->params[0], &r->call.approval, r->rt->cfg.timezone,
	                               day_lender_of(r), r->rt->cfg.prior_victim_days,
	                               burst_window_of(r), r->rt->sums_days, r->token_id),
	    on_approval_context, authenticate);
}

/* ---- calls on one loan: GET, consent, in-person verification, cancellation
 *
 * Each reads the loan (act_start), asks lib/loan.c (the act's decide
 * function maps its outcome: a repeat answers the loan, a refusal its
 * error, a write goes to the act's guarded statement), and when the write's
 * guard finds the loan changed under it, reads and decides again.
 */

struct act {
	const char *write_name;
	void (*decide)(struct request *r); /* r->loan and r->now are read */
};

static void on_act_write(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, r->act->write_name))
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
	if (!tuples_or_reply(r, res, "loan_get"))
		return;
	if (PQntuples(res) != 1 || !take_loan_row(r, res, 0)) {
		reply_simple_error(r, 404, "not_found", NULL, "no such loan");
		return;
	}
	r->act->decide(r);
}

void act_start(struct request *r, bool authenticate)
{
	struct db_params p;
	first_read_or_reply(r, STMT_LOAN_GET,
	                    db_params_loan_get(&p, r->params[0], r->params[1], r->token_id),
	                    on_act_read, authenticate);
}

/* Answers an outcome that writes nothing; false for ACT_WRITE. */
static bool act_answered(struct request *r, const struct act_outcome *o)
{
	switch (o->verdict) {
	case ACT_REPEAT:
		reply_loan(r, 200, &r->loan, r->now); /* a repeat: nothing changes */
		return true;
	case ACT_REFUSE:
		reply_error(r, &o->err);
		return true;
	case ACT_WRITE:
		break;
	}
	return false;
}

static void loan_answer(struct request *r)
{
	reply_loan(r, 200, &r->loan, r->now);
}

/* The borrower of the loan is recorded too: "who looked at this person"
 * finds the reads of the person's loans. */
static void get_decide(struct request *r)
{
	if (access_recorded(r))
		access_record_or_reply(r, r->loan.borrower_iin, r->loan.lender, r->loan.loan_id,
		                       loan_answer);
	else
		loan_answer(r);
}

static void consent_decide(struct request *r)
{
	struct ts_window w = ts_window_of(r);
	struct act_outcome o;
	loan_consent_decide(&r->loan, &r->call.consent, r->now, &w, &o);
	if (act_answered(r, &o))
		return;
	/* the statement adds the period's end as it writes it (STMT_CONSENT) */
	char *detail = detail_text(json_pack("{s:o}", "consent_at", codec_ts_json(o.at)));
	struct db_params p;
	bool queued = request_exec_or_reply(
	    r, STMT_CONSENT, db_params_consent(&p, &r->loan, &o, r->client, detail), on_act_write);
	free(detail);
	if (!queued)
		return; /* answered 503 */
}

static void verify_decide(struct request *r)
{
	const struct verification_req *q = &r->call.verification;
	struct ts_window w = ts_window_of(r);
	struct act_outcome o;
	loan_verify_decide(&r->loan, q, r->now, &w, &o);
	if (act_answered(r, &o))
		return;
	char *detail =
	    detail_text(json_pack("{s:o,s:s,s:s}", "verified_at", codec_ts_json(o.at), "branch_id",
	                          q->branch_id, "officer_id", q->officer_id));
	struct db_params p;
	bool queued = request_exec_or_reply(
	    r, STMT_VERIFY, db_params_verify(&p, &r->loan, &o, q, r->client, detail), on_act_write);
	free(detail);
	if (!queued)
		return; /* answered 503 */
}

static void cancel_decide(struct request *r)
{
	struct act_outcome o;
	loan_cancel_decide(&r->loan, &r->call.cancellation, &o);
	if (act_answered(r, &o))
		return;
	struct db_params p;
	if (!request_exec_or_reply(r, STMT_CANCEL,
	                           db_params_cancel(&p, &r->loan, &r->call.cancellation, r->client),
	                           on_act_write))
		return; /* answered 503 */
}

static void reconfirm_decide(struct request *r)
{
	struct ts_window w = ts_window_of(r);
	struct act_outcome o;
	loan_reconfirm_decide(&r->loan, &r->call.reconfirmation, r->now, &w, &o);
	if (act_answered(r, &o))
		return;
	const struct reconfirmation_req *q = &r->call.reconfirmation;
	char *detail = detail_text(
	    json_pack("{s:o,s:o,s:o}", "reconfirmed_at", codec_ts_json(o.at), "cooling_ends_at",
	              codec_ts_json(r->loan.cooling_ends_at), "method",
	              q->has_method ? json_string(name_of(&extra_method_names, (int)q->method))
	                            : json_null()));
	struct db_params p;
	bool queued = request_exec_or_reply(
	    r, STMT_RECONFIRM, db_params_reconfirm(&p, &r->loan, &o, q, r->client, detail),
	    on_act_write);
	free(detail);
	if (!queued)
		return; /* answered 503 */
}

static void extra_confirm_decide(struct request *r)
{
	const struct extra_confirmation_req *q = &r->call.extra_confirmation;
	struct ts_window w = ts_window_of(r);
	struct act_outcome o;
	loan_extra_confirm_decide(&r->loan, q, r->now, &w, &o);
	if (act_answered(r, &o))
		return;
	char *detail = detail_text(json_pack("{s:o,s:s,s:I}", "confirmed_at", codec_ts_json(o.at),
	                                     "method", name_of(&extra_method_names, (int)q->method),
	                                     "borrower_age", (json_int_t)r->loan.borrower_age));
	struct db_params p;
	bool queued = request_exec_or_reply(
	    r, STMT_EXTRA_CONFIRM, db_params_extra_confirm(&p, &r->loan, &o, q, r->client, detail),
	    on_act_write);
	free(detail);
	if (!queued)
		return; /* answered 503 */
}

static void trusted_person_decide(struct request *r)
{
	struct ts_window w = ts_window_of(r);
	struct act_outcome o;
	loan_trusted_person_decide(&r->loan, &r->call.trusted_person, r->now, &w, &o);
	if (act_answered(r, &o))
		return;
	char *detail = detail_text(
	    json_pack("{s:o,s:o}", "confirmed_at", codec_ts_json(o.at), "cooling_ends_at",
	              codec_ts_json(r->loan.cooling_required ? r->loan.cooling_ends_at : TS_NULL)));
	struct db_params p;
	bool queued = request_exec_or_reply(
	    r, STMT_TRUSTED_PERSON, db_params_trusted_person(&p, &r->loan, &o, r->client, detail),
	    on_act_write);
	free(detail);
	if (!queued)
		return; /* answered 503 */
}

static void control_call_decide(struct request *r)
{
	struct ts_window w = ts_window_of(r);
	struct act_outcome o;
	loan_control_call_decide(&r->loan, &r->call.control_call, r->now, &w, &o);
	if (act_answered(r, &o))
		return;
	char *detail =
	    detail_text(json_pack("{s:s,s:o}", "officer_id", r->call.control_call.officer_id,
	                          "called_at", codec_ts_json(o.at)));
	struct db_params p;
	bool queued = request_exec_or_reply(
	    r, STMT_CONTROL_CALL,
	    db_params_control_call(&p, &r->loan, &o, &r->call.control_call, r->client, detail),
	    on_act_write);
	free(detail);
	if (!queued)
		return; /* answered 503 */
}

static const struct act act_get = {"loan_get", get_decide};
static const struct act act_consent = {"consent", consent_decide};
static const struct act act_verify = {"verify", verify_decide};
static const struct act act_cancel = {"cancel", cancel_decide};
static const struct act act_reconfirm = {"reconfirm", reconfirm_decide};
static const struct act act_extra_confirm = {"extra_confirm", extra_confirm_decide};
static const struct act act_trusted_person = {"trusted_person", trusted_person_decide};
static const struct act act_control_call = {"control_call", control_call_decide};

bool loan_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_get;
	return ids_parse(r, 2, err);
}

bool consent_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_consent;
	return ids_parse(r, 2, err) &&
	       codec_parse_consent(r->body, &r->call.consent.consent_at, err);
}

bool verify_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_verify;
	return ids_parse(r, 2, err) &&
	       codec_parse_verification(r->body, &r->call.verification, err);
}

bool cancel_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_cancel;
	return ids_parse(r, 2, err) &&
	       codec_parse_cancellation(r->body, r->call.cancellation.reason,
	                                sizeof(r->call.cancellation.reason), err);
}

bool reconfirm_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_reconfirm;
	return ids_parse(r, 2, err) &&
	       codec_parse_reconfirmation(r->body, &r->call.reconfirmation, err);
}

bool extra_confirm_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_extra_confirm;
	return ids_parse(r, 2, err) &&
	       codec_parse_extra_confirmation(r->body, &r->call.extra_confirmation, err);
}

bool trusted_person_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_trusted_person;
	return ids_parse(r, 2, err) &&
	       codec_parse_trusted_person(r->body, &r->call.trusted_person, err);
}

bool control_call_parse(struct request *r, struct cd_error *err)
{
	r->act = &act_control_call;
	return ids_parse(r, 2, err) &&
	       codec_parse_control_call(r->body, &r->call.control_call, err);
}

/* ---- disbursement: the gate ---- */

/* [policy] payee_required and payout_to_borrower_only, which implies it. */
static struct payee_rules payee_rules_of(const struct request *r)
{
	const struct config *c = &r->rt->cfg;
	return (struct payee_rules){.required = c->payee_required || c->payout_to_borrower_only,
	                            .to_borrower_only = c->payout_to_borrower_only};
}

/* The decision's audit detail: its blockers (a refusal's; NULL for an
 * allowed payout) and the payee, when the request named one. */
static json_t *decision_detail(const struct disbursement_req *q, json_t *blockers)
{
	json_t *o = json_object();
	if (blockers != NULL)
		json_object_set_new(o, "blockers", blockers);
	if (q->has_payee)
		json_object_set_new(o, "payee", codec_payee_json(&q->payee));
	return o;
}

static void on_disburse_write(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (db_error_is_unique_violation(res)) { /* same Idempotency-Key raced us */
		disburse_start(r, false);
		return;
	}
	if (!tuples_or_reply(r, res, "disburse"))
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
	if (db_error_is_unique_violation(res)) {
		disburse_start(r, false);
		return;
	}
	if (!tuples_or_reply(r, res, "refuse"))
		return;
	metrics_decision_refused(r->w, r->call.disbursement.blockers);
	set_retry_after(r, r->call.disbursement.retry_after);
	reply_raw(r, 409, r->refusal_body, strlen(r->refusal_body));
}

/* The first answer to this Idempotency-Key again: a disbursed loan no
 * longer changes, so rendering it again gives the first 200; a refusal is
 * sent as it was stored, with the Retry-After the loan gives now. */
static void replay(struct request *r, const struct idempotency_record *k,
                   const struct disburse_outcome *o)
{
	if (k->status == 200) {
		reply_loan_wrapped(r, 200, &r->loan, r->now,
		                   "{\"decision\":\"allowed\",\"loan\":", "}");
		return;
	}
	json_error_t jerr;
	json_t *body = k->body != NULL ? json_loads(k->body, 0, &jerr) : NULL;
	if (body == NULL) {
		reply_simple_error(r, 500, "internal_error", NULL, "stored answer unreadable");
		return;
	}
	set_retry_after(r, o->retry_after);
	reply_json(r, k->status, body);
}

static void on_disburse_read(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "disburse_context"))
		return;
	struct disburse_context c;
	if (!db_disburse_context(res, &r->loan, &c)) {
		reply_simple_error(r, 404, "not_found", NULL, "no such loan");
		return;
	}
	r->now = c.now;
	struct loan *l = &r->loan;
	const struct disbursement_req *q = &r->call.disbursement.q;
	const struct payee *payee = q->has_payee ? &q->payee : NULL;
	const char *key = r->call.disbursement.has_idem_key ? r->call.disbursement.idem_key : NULL;
	struct payee_rules rules = payee_rules_of(r);
	struct disburse_outcome o;
	struct db_params p;
	char *detail;
	switch (loan_disburse_decide(l, q, &rules, &c, &o)) {
	case DISBURSE_REFUSE:
		reply_error(r, &o.err);
		return;
	case DISBURSE_REPLAY:
		replay(r, &c.key, &o);
		return;
	case DISBURSE_ALLOW:
		detail = detail_text(decision_detail(q, NULL));
		bool sent = request_exec_or_reply(
		    r, STMT_DISBURSE, db_params_disburse(&p, l, r->client, key, detail, payee),
		    on_disburse_write);
		free(detail);
		(void)sent; /* when not sent, 503 was answered */
		return;
	case DISBURSE_DENY:
		break;
	}

	const struct loan_view *v = &o.view;
	json_t *body =
	    json_pack("{s:s,s:o,s:o,s:o}", "decision", "refused", "blockers",
	              codec_blockers_json(o.blockers), "earliest_disbursement_at",
	              codec_ts_json(o.earliest_disbursement_at), "loan", codec_loan_json(l, v));
	free(r->refusal_body);
	r->refusal_body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	detail = detail_text(decision_detail(q, codec_blockers_json(o.blockers)));
	r->call.disbursement.retry_after = o.retry_after;
	r->call.disbursement.blockers = o.blockers;
	bool queued = request_exec_or_reply(
	    r, STMT_REFUSE, db_params_refuse(&p, l, r->client, detail, key, r->refusal_body),
	    on_refuse_write);
	free(detail);
	if (!queued)
		return; /* answered 503 */
}

bool disburse_parse(struct request *r, struct cd_error *err)
{
	struct payee_rules rules = payee_rules_of(r);
	if (!ids_parse(r, 2, err) ||
	    !codec_parse_disbursement(r->body, &r->call.disbursement.q, err) ||
	    !disbursement_check(&r->call.disbursement.q, &rules, err))
		return false;
	const char *key =
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "Idempotency-Key");
	r->call.disbursement.has_idem_key = key != NULL;
	if (key == NULL)
		return true;
	if (!idempotency_key_valid(key))
		return cd_error_set(err, 422, "validation_failed", "Idempotency-Key",
		                    "Idempotency-Key: must be 1-64 printable characters");
	snprintf(r->call.disbursement.idem_key, sizeof(r->call.disbursement.idem_key), "%s", key);
	return true;
}

void disburse_start(struct request *r, bool authenticate)
{
	const char *key = r->call.disbursement.has_idem_key ? r->call.disbursement.idem_key : NULL;
	const struct disbursement_req *q = &r->call.disbursement.q;
	struct db_params p;
	first_read_or_reply(
	    r, STMT_DISBURSE_CONTEXT,
	    db_params_disburse_context(&p, r->params[0], r->params[1], key, r->rt->cfg.timezone,
	                               q->has_payee ? &q->payee : NULL, r->token_id),
	    on_disburse_read, authenticate);
}

/* ---- the voluntary refusal registry ----
 *
 * A GET reads the IIN's changes and today's local date in one statement; a
 * PUT reads today's local date (an IIN born after it is refused, as
 * everywhere), then records the change with its audit event, after the
 * IIN's lock (lib/db.c, REFUSAL_PUT_SQL), and answers the entry with it.
 * The state is computed by refusal_in_force() from the changes, the twin
 * of the SQL that the loan reads and the payout's guard use. */

bool refusal_iin_parse(struct request *r, struct cd_error *err)
{
	const char *why = NULL;
	memset(&r->call.refusal, 0, sizeof(r->call.refusal));
	if (!iin_valid(r->params[0], &why))
		return cd_error_invalid(err, "borrower_iin", why ? why : "not a valid IIN");
	memcpy(r->call.refusal.q.iin, r->params[0], sizeof(r->call.refusal.q.iin));
	return true;
}

bool refusal_put_parse(struct request *r, struct cd_error *err)
{
	return refusal_iin_parse(r, err) && codec_parse_refusal(r->body, &r->call.refusal.q, err);
}

static bool refusal_born_or_reply(struct request *r, int64_t today)
{
	const char *why = NULL;
	if (today != TS_NULL && iin_born_by(r->call.refusal.q.iin, today, &why))
		return true;
	struct cd_error err;
	cd_error_invalid(&err, "borrower_iin", why ? why : "not a valid IIN");
	reply_error(r, &err);
	return false;
}

/* The entry of the changes in res, 404 when there are none. */
static void reply_refusal_entry(struct request *r, int status, const PGresult *res)
{
	size_t n;
	struct db_refusal_meta m;
	struct refusal_change *c = db_refusal_rows(res, &n, &m);
	if (c == NULL) {
		reply_simple_error(r, 404, "not_found", NULL,
		                   "no voluntary refusal was ever recorded for this IIN");
		return;
	}
	reply_json(r, status, codec_refusal_entry_json(r->call.refusal.q.iin, c, n, m.now));
	free(c);
}

static void on_refusal_get(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "refusal_get"))
		return;
	size_t n;
	struct db_refusal_meta m;
	free(db_refusal_rows(res, &n, &m));
	if (r->call.refusal.status == 0 && !refusal_born_or_reply(r, m.today_days))
		return;
	reply_refusal_entry(r, r->call.refusal.status ? r->call.refusal.status : 200, res);
}

static void refusal_read_or_reply(struct request *r)
{
	const char *params[] = {r->call.refusal.q.iin, r->rt->cfg.timezone};
	if (!request_exec_or_reply(r, STMT_REFUSAL_GET, params, on_refusal_get))
		return; /* answered 503 */
}

void h_refusal_get(struct request *r)
{
	refusal_read_or_reply(r);
}

/* True when the change of q is among the changes of res. */
static bool refusal_listed(const struct refusal_req *q, const PGresult *res)
{
	size_t n;
	struct db_refusal_meta m;
	struct refusal_change *c = db_refusal_rows(res, &n, &m);
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = c[i].active == q->active && c[i].effective_at == q->effective_at &&
		        strcmp(c[i].source, q->source) == 0;
	free(c);
	return found;
}

static void on_refusal_put(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "refusal_put"))
		return;
	size_t n;
	struct db_refusal_meta m;
	free(db_refusal_rows(res, &n, &m));
	r->call.refusal.status = m.inserted ? 201 : 200;
	/* The same change, committed by a concurrent request after this
	 * statement's snapshot: known, but not in the list read with it. */
	if (!m.inserted && !refusal_listed(&r->call.refusal.q, res)) {
		refusal_read_or_reply(r);
		return;
	}
	reply_refusal_entry(r, r->call.refusal.status, res);
}

static void on_refusal_today(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "local_date"))
		return;
	if (!refusal_born_or_reply(r, db_local_date_of(res)))
		return;
	struct db_params p;
	if (!request_exec_or_reply(r, STMT_REFUSAL_PUT,
	                           db_params_refusal_put(&p, &r->call.refusal.q, r->client),
	                           on_refusal_put))
		return; /* answered 503 */
}

void h_refusal_put(struct request *r)
{
	const char *params[] = {r->rt->cfg.timezone};
	if (!request_exec_or_reply(r, STMT_LOCAL_DATE, params, on_refusal_today))
		return; /* answered 503 */
}

/* ---- the suspicious payee registry ----
 *
 * The refusal registry's calls for a payee (kind and id of the path): a
 * GET reads the payee's changes, a PUT records one with its audit event
 * after the payee's lock (PAYEE_PUT_SQL) and answers the entry with it. */

bool payee_key_parse(struct request *r, struct cd_error *err)
{
	memset(&r->call.payee_flag, 0, sizeof(r->call.payee_flag));
	struct payee *p = &r->call.payee_flag.key;
	int kind;
	if (!name_lookup(&payee_kind_names, r->params[0], &kind))
		return cd_error_invalid(err, "kind", "must be account, card or wallet");
	p->kind = (enum payee_kind)kind;
	const char *why = NULL;
	if (!payee_id_valid(p->kind, r->params[1], &why))
		return cd_error_invalid(err, "id", why);
	snprintf(p->id, sizeof(p->id), "%s", r->params[1]);
	return true;
}

bool payee_put_parse(struct request *r, struct cd_error *err)
{
	return payee_key_parse(r, err) && codec_parse_refusal(r->body, &r->call.payee_flag.q, err);
}

/* The entry of the changes in res, 404 when there are none. */
static void reply_payee_entry(struct request *r, int status, const PGresult *res)
{
	size_t n;
	struct db_refusal_meta m;
	struct refusal_change *c = db_refusal_rows(res, &n, &m);
	if (c == NULL) {
		reply_simple_error(r, 404, "not_found", NULL,
		                   "no change was ever recorded for this payee");
		return;
	}
	reply_json(r, status, codec_payee_entry_json(&r->call.payee_flag.key, c, n, m.now));
	free(c);
}

static void on_payee_get(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "payee_get"))
		return;
	reply_payee_entry(r, r->call.payee_flag.status ? r->call.payee_flag.status : 200, res);
}

static void payee_read_or_reply(struct request *r)
{
	const struct payee *p = &r->call.payee_flag.key;
	const char *params[] = {name_of(&payee_kind_names, (int)p->kind), p->id};
	if (!request_exec_or_reply(r, STMT_PAYEE_GET, params, on_payee_get))
		return; /* answered 503 */
}

void h_payee_get(struct request *r)
{
	payee_read_or_reply(r);
}

static void on_payee_put(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "payee_put"))
		return;
	size_t n;
	struct db_refusal_meta m;
	free(db_refusal_rows(res, &n, &m));
	r->call.payee_flag.status = m.inserted ? 201 : 200;
	/* The same change, committed by a concurrent request after this
	 * statement's snapshot: known, but not in the list read with it. */
	if (!m.inserted && !refusal_listed(&r->call.payee_flag.q, res)) {
		payee_read_or_reply(r);
		return;
	}
	reply_payee_entry(r, r->call.payee_flag.status, res);
}

void h_payee_put(struct request *r)
{
	struct db_params p;
	if (!request_exec_or_reply(
	        r, STMT_PAYEE_PUT,
	        db_params_payee_put(&p, &r->call.payee_flag.key, &r->call.payee_flag.q, r->client),
	        on_payee_put))
		return; /* answered 503 */
}

/* ---- fraud claims ----
 *
 * An opening reads today's local date (an IIN born after it is refused,
 * as everywhere), then records the claim with its event after the
 * borrower's lock (CLAIM_OPEN_SQL). A closure writes when the claim is
 * open; when it is not, the claim is read and claim_close_decide() says
 * whether it is a repeat (200) or a conflict (409). A lender reads only the
 * claims its own clients opened; another's is 404, as one that does not
 * exist. */

bool claim_open_parse(struct request *r, struct cd_error *err)
{
	memset(&r->claim, 0, sizeof(r->claim));
	return codec_parse_claim_open(r->body, &r->claim.open, err);
}

static void on_claim_opened(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "claim_open"))
		return;
	struct fraud_claim c;
	if (!db_claim_row(res, 0, &c)) {
		reply_simple_error(r, 500, "internal_error", NULL, "the claim was not recorded");
		return;
	}
	reply_json(r, 201, codec_claim_json(&c));
}

static void on_claim_today(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "local_date"))
		return;
	const char *why = NULL;
	if (!iin_born_by(r->claim.open.borrower_iin, db_local_date_of(res), &why)) {
		struct cd_error err;
		cd_error_invalid(&err, "borrower_iin", why ? why : "not a valid IIN");
		reply_error(r, &err);
		return;
	}
	struct db_params p;
	if (!request_exec_or_reply(
	        r, STMT_CLAIM_OPEN,
	        db_params_claim_open(&p, &r->claim.open, r->client,
	                             r->role == ROLE_LENDER ? r->client_lender : NULL),
	        on_claim_opened))
		return; /* answered 503 */
}

void h_claim_open(struct request *r)
{
	const char *params[] = {r->rt->cfg.timezone};
	if (!request_exec_or_reply(r, STMT_LOCAL_DATE, params, on_claim_today))
		return; /* answered 503 */
}

bool claim_id_parse_path(struct request *r, struct cd_error *err)
{
	memset(&r->claim, 0, sizeof(r->claim));
	if (!claim_id_parse(r->params[0], &r->claim.id))
		return cd_error_set(err, 404, "not_found", "", "no such fraud claim");
	return true;
}

bool claim_close_parse(struct request *r, struct cd_error *err)
{
	return claim_id_parse_path(r, err) &&
	       codec_parse_claim_close(r->body, &r->claim.close, err);
}

/* The claim of res, or a 404 when there is none or it is another lender's. */
static bool claim_visible_or_reply(struct request *r, const PGresult *res, struct fraud_claim *c)
{
	if (db_claim_row(res, 0, c) &&
	    (r->role != ROLE_LENDER || strcmp(c->opener_lender, r->client_lender) == 0))
		return true;
	reply_simple_error(r, 404, "not_found", NULL, "no such fraud claim");
	return false;
}

static void claim_answer(struct request *r)
{
	reply_json(r, 200, codec_claim_json(&r->claim.got));
}

/* A claim names its borrower: "who looked at this person" finds its reads. */
static void on_claim_get(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "claim_get"))
		return;
	if (!claim_visible_or_reply(r, res, &r->claim.got))
		return;
	if (access_recorded(r))
		access_record_or_reply(r, r->claim.got.borrower_iin, NULL, NULL, claim_answer);
	else
		claim_answer(r);
}

static void claim_read_or_reply(struct request *r, pgpool_cb cb)
{
	struct db_num n;
	const char *params[] = {db_num(&n, r->claim.id)};
	if (!request_exec_or_reply(r, STMT_CLAIM_GET, params, cb))
		return; /* answered 503 */
}

void h_claim_get(struct request *r)
{
	claim_read_or_reply(r, on_claim_get);
}

/* The claim was not open when the closure ran: a repeat or a conflict. */
static void on_claim_closed_before(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "claim_get"))
		return;
	struct fraud_claim c;
	if (!claim_visible_or_reply(r, res, &c))
		return;
	struct cd_error err;
	cd_error_clear(&err);
	switch (claim_close_decide(&c, &r->claim.close, &err)) {
	case CLAIM_CLOSE_REPEAT:
		reply_json(r, 200, codec_claim_json(&c));
		return;
	case CLAIM_CLOSE_REFUSE:
		reply_error(r, &err);
		return;
	case CLAIM_CLOSE_WRITE: /* opened again cannot be: closed once */
		break;
	}
	reply_simple_error(r, 500, "internal_error", NULL, "the claim could not be closed");
}

static void on_claim_close(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (!tuples_or_reply(r, res, "claim_close"))
		return;
	struct fraud_claim c;
	if (!db_claim_row(res, 0, &c)) {
		claim_read_or_reply(r, on_claim_closed_before);
		return;
	}
	reply_json(r, 200, codec_claim_json(&c));
}

void h_claim_close(struct request *r)
{
	struct db_params p;
	if (!request_exec_or_reply(
	        r, STMT_CLAIM_CLOSE,
	        db_params_claim_close(&p, r->claim.id, &r->claim.close, r->client), on_claim_close))
		return; /* answered 503 */
}

/*
 * GET /v1/audit, GET /v1/loans, a lender's loans, a loan's events and the
 * decision statistics: reads for compliance staff and auditors (the last
 * three for a lender too, its own only). Query parameters are checked as strictly as
 * bodies: an unknown or repeated parameter is a 422 naming it. They decide
 * nothing, so they are served from the read replica ([database] read_url)
 * when there is one.
 */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "calls.h"
#include "codec.h"
#include "log.h"
#include "request.h"
#include "text.h"
#include "timeutil.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT     1000

struct query_param {
	const char *name;
	const char *value; /* NULL when absent */
};

/* A count or a sequence number of the query string: plain digits, at most
 * 18 of them. */
static bool count_parse(const char *s, int64_t *out)
{
	return strlen(s) <= 18 && int_parse(s, out);
}

static bool reply_query_error(struct request *r, const char *field, const char *why)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "%.60s: %s", field, why);
	reply_simple_error(r, 422, "validation_failed", field, msg);
	return false;
}

/* Percent-decodes one name or value; false when it holds a NUL (%00) or is
 * not UTF-8, which would otherwise cut it short unseen. */
static char *decode_part(const char *s, size_t len)
{
	char *raw = strndup(s, len);
	if (raw == NULL)
		return NULL;
	size_t out_len = 0;
	char *d = evhttp_uridecode(raw, 1, &out_len);
	free(raw);
	if (d != NULL && strlen(d) != out_len) {
		free(d);
		return NULL;
	}
	return d;
}

/* Parses the query string into params (names given by the caller): every
 * parameter must be known, given once, and written name=value. */
static bool parse_query_or_reply(struct request *r, struct query_param *params, int n)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	if (q == NULL || *q == '\0')
		return true;
	/* The values must outlive this function: keep them in the request's
	 * body slot as a JSON object, which request_finish frees. */
	json_t *keep = json_object();
	json_decref(r->body);
	r->body = keep;
	for (const char *p = q; *p != '\0';) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		char *name = decode_part(p, eq ? (size_t)(eq - p) : len);
		char *value = eq ? decode_part(eq + 1, len - (size_t)(eq - p) - 1) : NULL;
		char field[64];
		snprintf(field, sizeof(field), "%s", name ? name : "query");
		int i = 0;
		while (name != NULL && i < n && strcmp(params[i].name, name) != 0)
			i++;
		bool ok = false;
		/* NULL unless the value is UTF-8 without NUL */
		json_t *v = value != NULL ? json_string(value) : NULL;
		if (name == NULL || i == n)
			reply_query_error(r, field, "unknown parameter");
		else if (json_object_get(keep, name) != NULL)
			reply_query_error(r, field, "given twice");
		else if (eq == NULL)
			reply_query_error(r, field, "needs a value (name=value)");
		else if (v == NULL)
			reply_query_error(r, field, "must be UTF-8 text without NUL");
		else
			ok = json_object_set(keep, name, v) == 0;
		json_decref(v);
		free(name);
		free(value);
		if (!ok)
			return false;
		p += len;
		if (*p == '&')
			p++;
	}
	for (int i = 0; i < n; i++)
		params[i].value = json_string_value(json_object_get(keep, params[i].name));
	return true;
}

static bool reply_invalid(struct request *r, const char *field, const char *why)
{
	struct cd_error err;
	cd_error_invalid(&err, field, why);
	reply_error(r, &err);
	return false;
}

static bool parse_limit_or_reply(struct request *r, const char *s, int64_t *limit)
{
	*limit = DEFAULT_LIMIT;
	if (s == NULL)
		return true;
	if (!count_parse(s, limit) || *limit < 1 || *limit > MAX_LIMIT)
		return reply_invalid(r, "limit", "must be a whole number from 1 to 1000");
	return true;
}

/* The query of a page of sealed events (GET /v1/audit and a lender's
 * events): ?after=SEQ&limit=N, both optional. The page's `after` is kept in
 * the request, for the next_after of an empty page. */
static bool parse_page_or_reply(struct request *r, int64_t *after, int64_t *limit)
{
	struct query_param q[] = {{"after", NULL}, {"limit", NULL}};
	if (!parse_query_or_reply(r, q, 2))
		return false;
	*after = 0;
	if (q[0].value != NULL && !count_parse(q[0].value, after))
		return reply_invalid(r, "after", "must be a sequence number (a whole number >= 0)");
	if (!parse_limit_or_reply(r, q[1].value, limit))
		return false;
	r->call.query.page_after = *after;
	return true;
}

/* Runs a compliance read on the replica's pool, or on the primary's when
 * there is no replica or its pool is known to be out of reach (said once in
 * the log each time that changes). A read that was in flight when the
 * replica went away is answered 503; its retry goes to the primary. */
static bool read_exec_or_reply(struct request *r, enum stmt st, const char *const *params,
                               pgpool_cb cb)
{
	struct worker *w = r->w;
	if (w->read_pool != NULL) {
		if (pgpool_exec(w->read_pool, st, params, cb, r)) {
			if (w->read_fallback)
				log_kv(LOG_INFO,
				       "read replica reachable again; compliance reads go to it",
				       NULL);
			w->read_fallback = false;
			return true;
		}
		if (!w->read_fallback)
			log_kv(LOG_WARN,
			       "read replica out of reach; compliance reads go to the primary",
			       "route", r->route->name, NULL);
		w->read_fallback = true;
	}
	return request_exec_or_reply(r, st, params, cb);
}

/* The audit events of a result, as GET /v1/audit gives them; *last_seq
 * becomes the last one's seq (unchanged when there is none). */
static json_t *events_json(const PGresult *res, int64_t *last_seq)
{
	json_t *events = json_array();
	struct db_audit_event ev;
	for (int i = 0; db_audit_event_row(res, i, &ev); i++) {
		*last_seq = ev.seq;
		json_array_append_new(events, codec_audit_event_json(
		                                  &(struct codec_audit_event){.seq = ev.seq,
		                                                              .at = ev.at,
		                                                              .actor = ev.actor,
		                                                              .lender = ev.lender,
		                                                              .loan_id = ev.loan_id,
		                                                              .type = ev.type,
		                                                              .detail = ev.detail,
		                                                              .hash = ev.hash}));
	}
	return events;
}

/* ---- GET /v1/audit ---- */

static void on_audit_list(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_db_failure(r, res, "audit_list");
		return;
	}
	int64_t next = r->call.query.page_after; /* when the page is empty */
	json_t *events = events_json(res, &next);
	reply_json(r, 200,
	           json_pack("{s:o,s:I}", "events", events, "next_after", (json_int_t)next));
}

void h_audit_list(struct request *r)
{
	int64_t after, limit;
	if (!parse_page_or_reply(r, &after, &limit))
		return;
	struct db_num n[2];
	const char *params[] = {db_num(&n[0], after), db_num(&n[1], limit)};
	if (!read_exec_or_reply(r, STMT_AUDIT_LIST, params, on_audit_list))
		return; /* answered 503 */
}

/* ---- GET /v1/loans ---- */

static void on_loans_list(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_db_failure(r, res, "loans_list");
		return;
	}
	json_t *loans = loans_json(res);
	int rows = PQntuples(res);
	struct loan l;
	json_t *next = json_null();
	/* A full page may have a successor: the cursor is the last loan's
	 * position. */
	if (rows > 0 && rows == r->call.query.page_limit && db_loan_row(res, rows - 1, &l, NULL)) {
		char cur[CURSOR_BUF];
		cursor_encode(l.approved_at, l.pk, cur);
		next = json_string(cur);
	}
	reply_json(r, 200, json_pack("{s:o,s:o}", "loans", loans, "next", next));
}

/* GET /v1/loans, or one lender's list when fixed_lender is not NULL: the
 * same parameters and answer, but the lender is the path's. */
static void loans_list(struct request *r, const char *fixed_lender)
{
	struct query_param q[] = {{"status", NULL}, {"lender", NULL}, {"from", NULL},
	                          {"to", NULL},     {"limit", NULL},  {"after", NULL}};
	if (!parse_query_or_reply(r, q, 6))
		return;
	const char *status = q[0].value, *lender = q[1].value, *why = NULL;
	if (fixed_lender != NULL) {
		if (lender != NULL) {
			reply_invalid(r, "lender", "is the path's lender here: leave it out");
			return;
		}
		lender = fixed_lender;
	}
	if (status != NULL) {
		enum loan_status st;
		if (!status_parse(status, &st)) {
			char names[STATUS_LIST_BUF], msg[STATUS_LIST_BUF + 32];
			status_list(names);
			snprintf(msg, sizeof(msg), "must be one of %s", names);
			reply_invalid(r, "status", msg);
			return;
		}
	}
	if (lender != NULL && !id_valid(lender)) {
		reply_invalid(r, "lender", "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
		return;
	}
	int64_t from = TS_NULL, to = TS_NULL, cur_at = TS_NULL, cur_id = TS_NULL, limit;
	if (q[2].value != NULL && !ts_parse_rfc3339(q[2].value, &from, &why)) {
		reply_invalid(r, "from", why ? why : "not an RFC 3339 timestamp");
		return;
	}
	if (q[3].value != NULL && !ts_parse_rfc3339(q[3].value, &to, &why)) {
		reply_invalid(r, "to", why ? why : "not an RFC 3339 timestamp");
		return;
	}
	if (!parse_limit_or_reply(r, q[4].value, &limit))
		return;
	if (q[5].value != NULL && !cursor_decode(q[5].value, &cur_at, &cur_id)) {
		reply_invalid(r, "after", "not a cursor from a previous page's \"next\"");
		return;
	}
	r->call.query.page_limit = limit;
	struct db_num n[5];
	const char *params[] = {db_num(&n[0], from),
	                        db_num(&n[1], to),
	                        db_num(&n[2], cur_at),
	                        db_num(&n[3], cur_id),
	                        status,
	                        db_num(&n[4], limit),
	                        lender};
	if (!read_exec_or_reply(r, lender ? STMT_LOANS_LIST_LENDER : STMT_LOANS_LIST, params,
	                        on_loans_list))
		return; /* answered 503 */
}

void h_loans_list(struct request *r)
{
	loans_list(r, NULL);
}

/* ---- GET /v1/lenders/{lender}/loans ---- */

/* The {lender} of a lender-scoped path: "." and ".." are refused (422) as
 * everywhere, since HTTP clients remove those segments; any other invalid
 * identifier names no lender (404). */
static bool lender_param_or_reply(struct request *r)
{
	if (id_is_dot_segment(r->params[0]))
		return reply_invalid(r, "lender", "\".\" and \"..\" are not identifiers");
	if (!id_valid(r->params[0])) {
		reply_simple_error(r, 404, "not_found", NULL, "no such lender");
		return false;
	}
	return true;
}

/* The lender has been checked against a lender's token (the route is
 * lender-scoped). A lender without loans, or unknown, has an empty list, as
 * GET /v1/loans?lender= gives it. */
void h_lender_loans_list(struct request *r)
{
	if (!lender_param_or_reply(r))
		return;
	loans_list(r, r->params[0]);
}

/* ---- GET /v1/lenders/{lender}/loans/{loan_id}/events ---- */

static void on_loan_events(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_db_failure(r, res, "loan_events");
		return;
	}
	if (!db_loan_events_found(res)) {
		reply_simple_error(r, 404, "not_found", NULL, "no such loan");
		return;
	}
	int64_t last = 0;
	reply_json(r, 200, json_pack("{s:o}", "events", events_json(res, &last)));
}

/* The lender has been checked against a lender's token (the route is
 * lender-scoped); the ids are checked as on the loan's other calls. */
void h_loan_events(struct request *r)
{
	for (int i = 0; i < 2; i++) {
		if (id_is_dot_segment(r->params[i])) {
			reply_invalid(r, i == 0 ? "lender" : "loan_id",
			              "\".\" and \"..\" are not identifiers");
			return;
		}
	}
	if (!id_valid(r->params[0]) || !id_valid(r->params[1])) {
		reply_simple_error(r, 404, "not_found", NULL, "no such loan");
		return;
	}
	struct query_param q[] = {{"after", NULL}, {"limit", NULL}};
	if (!parse_query_or_reply(r, q, 2))
		return;
	int64_t after = 0, limit = DB_LOAN_EVENTS_MAX;
	if (q[0].value != NULL && !count_parse(q[0].value, &after)) {
		reply_invalid(r, "after", "must be a sequence number (a whole number >= 0)");
		return;
	}
	if (q[1].value != NULL &&
	    (!count_parse(q[1].value, &limit) || limit < 1 || limit > DB_LOAN_EVENTS_MAX)) {
		reply_invalid(r, "limit", "must be a whole number from 1 to 1000");
		return;
	}
	struct db_num n[2];
	const char *params[] = {r->params[0], r->params[1], db_num(&n[0], after),
	                        db_num(&n[1], limit)};
	if (!read_exec_or_reply(r, STMT_LOAN_EVENTS, params, on_loan_events))
		return; /* answered 503 */
}

/* ---- GET /v1/stats/decisions ---- */

static void on_decision_stats(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (db_error_is_unknown_timezone(res)) {
			log_kv(LOG_ERROR, "policy.timezone is not a time zone of the database",
			       "timezone", r->rt->cfg.timezone, NULL);
			reply_unavailable_because(
			    r, "policy.timezone is not a time zone of the database");
			return;
		}
		reply_db_failure(r, res, "decision_stats");
		return;
	}
	if (db_decision_buckets_of(res) > DB_STATS_MAX_BUCKETS) {
		reply_invalid(r, "to", "at most 1000 buckets from from to to");
		return;
	}
	json_t *buckets = json_array();
	struct decision_count c;
	for (int i = 0; db_decision_row(res, i, &c); i++)
		codec_buckets_add(buckets, &c);
	reply_json(r, 200, json_pack("{s:o}", "buckets", buckets));
}

static bool parse_time_or_reply(struct request *r, const char *field, const char *s, int64_t *us)
{
	const char *why = NULL;
	if (s == NULL)
		return reply_invalid(r, field, "required (RFC 3339 with an offset)");
	if (!ts_parse_rfc3339(s, us, &why))
		return reply_invalid(r, field, why ? why : "not an RFC 3339 timestamp");
	return true;
}

void h_decision_stats(struct request *r)
{
	struct query_param q[] = {{"from", NULL}, {"to", NULL}, {"bucket", NULL}, {"lender", NULL}};
	if (!parse_query_or_reply(r, q, 4))
		return;
	const char *bucket = q[2].value ? q[2].value : "hour", *lender = q[3].value;
	/* A lender's token sees its own lender's decisions: by default, and
	 * asking for another is refused as another lender's path is. */
	if (r->role == ROLE_LENDER) {
		if (lender != NULL && strcmp(lender, r->client_lender) != 0) {
			reply_simple_error(r, 403, "forbidden", NULL,
			                   "this token belongs to another lender");
			return;
		}
		lender = r->client_lender;
	}
	if (lender != NULL && !id_valid(lender)) {
		reply_invalid(r, "lender", "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
		return;
	}
	int64_t from, to;
	if (!parse_time_or_reply(r, "from", q[0].value, &from) ||
	    !parse_time_or_reply(r, "to", q[1].value, &to))
		return;
	if (strcmp(bucket, "hour") != 0 && strcmp(bucket, "day") != 0) {
		reply_invalid(r, "bucket", "must be hour or day");
		return;
	}
	if (from >= to) {
		reply_invalid(r, "to", "must be later than from");
		return;
	}
	struct db_num n[2];
	const char *params[] = {db_num(&n[0], from), db_num(&n[1], to), bucket, r->rt->cfg.timezone,
	                        lender};
	if (!read_exec_or_reply(r, STMT_DECISION_STATS, params, on_decision_stats))
		return; /* answered 503 */
}

/* ---- the personal-data access log: GET /v1/access-log, POST /v1/access-log/search ----
 *
 * Read from the primary, where the records are written: an auditor asking
 * who looked at a person sees every look-up answered before. */

static void on_access_log(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_db_failure(r, res, "access_log");
		return;
	}
	json_t *entries = json_array();
	struct db_access_entry e;
	int rows = 0;
	int64_t last_at = TS_NULL, last_id = 0;
	for (int i = 0; db_access_entry_row(res, i, &e); i++, rows++) {
		json_t *o = json_pack("{s:o,s:s,s:s,s:s,s:s?,s:s?,s:s?,s:s}", "at",
		                      codec_ts_json(e.at), "client", e.client, "role", e.role,
		                      "route", e.route, "borrower_iin", e.borrower_iin, "lender",
		                      e.lender, "loan_id", e.loan_id, "request_id", e.request_id);
		json_array_append_new(entries, o);
		last_at = e.at;
		last_id = e.id;
	}
	/* A full page may have a successor: the cursor is the last entry's
	 * position. */
	json_t *next = json_null();
	if (rows > 0 && rows == r->call.access.limit) {
		char cur[CURSOR_BUF];
		cursor_encode(last_at, last_id, cur);
		next = json_string(cur);
	}
	reply_json(r, 200, json_pack("{s:o,s:o}", "entries", entries, "next", next));
}

static void access_log_read(struct request *r)
{
	struct db_params p;
	if (!request_exec_or_reply(r, STMT_ACCESS_LOG, db_params_access_log(&p, &r->call.access),
	                           on_access_log))
		return; /* answered 503 */
}

void h_access_log_list(struct request *r)
{
	struct query_param q[] = {
	    {"from", NULL}, {"to", NULL}, {"client", NULL}, {"limit", NULL}, {"after", NULL}};
	if (!parse_query_or_reply(r, q, 5))
		return;
	struct access_query *a = &r->call.access;
	access_query_init(a);
	const char *why = NULL;
	if (q[0].value != NULL && !ts_parse_rfc3339(q[0].value, &a->from, &why)) {
		reply_invalid(r, "from", why ? why : "not an RFC 3339 timestamp");
		return;
	}
	if (q[1].value != NULL && !ts_parse_rfc3339(q[1].value, &a->to, &why)) {
		reply_invalid(r, "to", why ? why : "not an RFC 3339 timestamp");
		return;
	}
	if (q[2].value != NULL) {
		if (!id_valid(q[2].value)) {
			reply_invalid(r, "client",
			              "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
			return;
		}
		snprintf(a->client, sizeof(a->client), "%s", q[2].value);
	}
	if (!parse_limit_or_reply(r, q[3].value, &a->limit))
		return;
	if (q[4].value != NULL && !cursor_decode(q[4].value, &a->after_at, &a->after_id)) {
		reply_invalid(r, "after", "not a cursor from a previous page's \"next\"");
		return;
	}
	access_log_read(r);
}

bool access_search_parse(struct request *r, struct cd_error *err)
{
	return codec_parse_access_search(r->body, &r->call.access, err);
}

void h_access_log_search(struct request *r)
{
	access_log_read(r);
}
/* ---- GET /v1/lenders/{lender}/events ---- */

/* The lender's sealed events after `after`, in seq order, in the form of
 * GET /v1/audit: a client that keeps next_after misses nothing and sees
 * nothing twice. The lender has been checked against a lender's token (the
 * route is lender-scoped). */
void h_lender_events(struct request *r)
{
	if (!lender_param_or_reply(r))
		return;
	int64_t after, limit;
	if (!parse_page_or_reply(r, &after, &limit))
		return;
	struct db_num n[2];
	const char *params[] = {r->params[0], db_num(&n[0], after), db_num(&n[1], limit)};
	if (!read_exec_or_reply(r, STMT_LENDER_EVENTS, params, on_audit_list))
		return; /* answered 503 */
}

/*
 * Request and response bodies: JSON (jansson) <-> domain structs (the
 * requests are loan.h's). Parsers refuse unknown fields and name the
 * offending field in the error.
 */
#ifndef CD_CODEC_H
#define CD_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cd_error.h"
#include "claim.h"
#include "loan.h"
#include "policy.h"
#include "refusal.h"
#include "text.h"

/* Parses a request body (bytes as received) into a JSON object. An empty
 * body is {} when empty_ok, otherwise 400. Not JSON, duplicate keys or not an
 * object: 400 malformed_json. */
json_t *codec_parse_body(const char *buf, size_t len, bool empty_ok, struct cd_error *err);

bool codec_parse_approval(const json_t *body, struct approval_req *r, struct cd_error *err);

/* {"consent_at": ts} with consent_at optional (TS_NULL when omitted). */
bool codec_parse_consent(const json_t *body, int64_t *consent_at, struct cd_error *err);

bool codec_parse_verification(const json_t *body, struct verification_req *r, struct cd_error *err);

/* {"reason": s}, 1-200 characters (code points), no control characters,
 * not only white space. */
bool codec_parse_cancellation(const json_t *body, char *reason, size_t reason_size,
                              struct cd_error *err);

/* {"reconfirmed_at": ts} with reconfirmed_at optional (TS_NULL). */
bool codec_parse_reconfirmation(const json_t *body, struct reconfirmation_req *r,
                                struct cd_error *err);

/* {"method": "branch"|"egov"|"credit_bureau"|"lender_app", "confirmed_at": ts}
 * with confirmed_at optional (TS_NULL). */
/* {"confirmed_at": ts} with confirmed_at optional (TS_NULL). */
bool codec_parse_trusted_person(const json_t *body, struct trusted_person_req *r,
                                struct cd_error *err);

/* {"officer_id": id, "called_at": ts} with called_at optional (TS_NULL). */
bool codec_parse_control_call(const json_t *body, struct control_call_req *r, struct cd_error *err);

bool codec_parse_extra_confirmation(const json_t *body, struct extra_confirmation_req *r,
                                    struct cd_error *err);

/* {"payee": {"kind": "account"|"card"|"wallet", "id": s, "owner_iin": iin}}
 * with payee and owner_iin optional; a bad payee is 422 naming `payee` or
 * `payee.<key>`. */
bool codec_parse_disbursement(const json_t *body, struct disbursement_req *q, struct cd_error *err);
/* The payee as the decision's audit event records it (owner_iin null when
 * not given). */
json_t *codec_payee_json(const struct payee *p);

/* {"active": bool, "effective_at": ts, "source": s, "reference": s}
 * (PUT /v1/voluntary-refusals/{iin}): reference optional (null or absent:
 * none); q->iin is left to the caller. */
bool codec_parse_refusal(const json_t *body, struct refusal_req *q, struct cd_error *err);

/* POST /v1/borrowers/search: {"borrower_iin": IIN}, so that the IIN need
 * not be in a URL; checked as the path's IIN is (iin_valid). */
bool codec_parse_borrower_search(const json_t *body, char iin[13], struct cd_error *err);

/* Which entries of the personal-data access log to read: every filter is
 * optional ("" or TS_NULL when absent); a loan is lender and loan_id
 * together. Oldest first, after the cursor (after_at, after_id). */
#define ACCESS_LOG_DEFAULT_LIMIT 100
#define ACCESS_LOG_MAX_LIMIT     1000
struct access_query {
	char borrower_iin[13];
	char lender[ID_BUF];
	char loan_id[ID_BUF];
	char client[ID_BUF];
	int64_t from, to; /* microseconds; from inclusive, to exclusive */
	int64_t after_at, after_id;
	int64_t limit;
};
void access_query_init(struct access_query *q);
/* POST /v1/access-log/search: {"borrower_iin", "lender", "loan_id",
 * "client", "from", "to", "limit", "after"}, each optional. */
bool codec_parse_access_search(const json_t *body, struct access_query *q, struct cd_error *err);

/* The registry entry of an IIN: the state at now (refusal_in_force()) and
 * the changes as given, in (effective_at, arrival) order. */
json_t *codec_refusal_entry_json(const char *iin, const struct refusal_change *c, size_t n,
                                 int64_t now);
/* The suspicious payee registry's entry of a payee: the same, with kind and
 * id in place of borrower_iin. */
json_t *codec_payee_entry_json(const struct payee *p, const struct refusal_change *c, size_t n,
                               int64_t now);

/* POST /v1/fraud-claims: {"borrower_iin": iin, "reference": s, "note": s}
 * with note optional (the IIN's birth date is the caller's to check). */
bool codec_parse_claim_open(const json_t *body, struct claim_open_req *q, struct cd_error *err);
/* POST /v1/fraud-claims/{id}/closure: {"outcome": "confirmed"|"unfounded",
 * "note": s} with note optional. */
bool codec_parse_claim_close(const json_t *body, struct claim_close_req *q, struct cd_error *err);
/* The claim as the API answers it. */
json_t *codec_claim_json(const struct fraud_claim *c);

/* Idempotency-Key header: 1-64 printable ASCII characters. */
bool idempotency_key_valid(const char *s);

/* The opaque cursor of GET /v1/loans: the position (approved_at, row id) of
 * the last loan of a page, base64url-encoded. */
#define CURSOR_BUF 64
void cursor_encode(int64_t approved_at, int64_t id, char out[CURSOR_BUF]);
bool cursor_decode(const char *s, int64_t *approved_at, int64_t *id);

json_t *codec_loan_json(const struct loan *l, const struct loan_view *v);

/* The same loan as codec_loan_json() would print with JSON_COMPACT, written
 * straight into buf without building a tree (the hot path of every answer).
 * Returns the length it needs, excluding the NUL; when that is >= size the
 * output is cut short and the caller falls back to codec_loan_json(). */
size_t codec_loan_write(const struct loan *l, const struct loan_view *v, char *buf, size_t size);
/* The detail of a loan's approval_recorded event: the fields of the loan's
 * answer that are facts of the approval, in the same forms, written into
 * buf as codec_loan_write() writes a loan. Returns the length it needs,
 * excluding the NUL; when that is >= size the output is cut short. */
#define APPROVAL_DETAIL_BUF 1024
size_t codec_approval_detail_write(const struct loan *l, char *buf, size_t size);
/* ["cooling_period_active", ...] */
json_t *codec_blockers_json(unsigned blockers);
/* The name of index in t, or JSON null for its empty name (none). */
json_t *codec_name_json(const struct name_table *t, int index);
/* A timestamp as "....Z", or JSON null for TS_NULL. */
json_t *codec_ts_json(int64_t ts);
/* {"error": {"code", "message", "field" (when set), "reason" (a 409
 * invalid_state's), "request_id" (unless NULL)}}. */
json_t *codec_error_json(const struct cd_error *err, const char *request_id);

/* The effective table of rules (`coolingctl policy show --json`):
 * {"profile", "aggregation", "rules": [...], "exemptions": [...],
 * "extra_confirmation": {...}}, every number beside its config key. */
json_t *codec_policy_json(const struct policy_table *t);
/* The same for people, one line each (malloc'd; the caller frees it). */
char *codec_policy_text(const struct policy_table *t);
/* The schedule (`coolingctl policy show --json`, GET /v1/policy):
 * {"schedule": [{"profile", "from": "YYYY-MM-DD"|null}, ...], "profiles":
 * [table, ...]}, each table as codec_policy_json() writes it; for a single
 * profile, its table's members first, as before schedules. */
json_t *codec_policy_schedule_json(const struct policy_schedule_table *t);
/* The same for people: a single profile's table as codec_policy_text();
 * a schedule's entries, then each profile's table. */
char *codec_policy_schedule_text(const struct policy_schedule_table *t);

/* ---- audit events and decision statistics ---- */

/* An audit event as GET /v1/audit and a loan's events give it. detail is
 * the stored JSON text; lender and loan_id are NULL for none. */
struct codec_audit_event {
	int64_t seq;
	int64_t at; /* microseconds */
	const char *actor;
	const char *lender;
	const char *loan_id;
	const char *type;
	const char *detail;
	const char *hash; /* hex */
};
/* {"seq", "at", "actor", "lender", "loan_id", "type", "detail", "hash"};
 * a detail that is not a JSON object becomes {}. */
json_t *codec_audit_event_json(const struct codec_audit_event *e);

/* One count of the decision statistics, in bucket order: the bucket's
 * start and, unless the bucket holds no decision (decision NULL), a
 * decision ("allowed" or "refused") with a blocker ("" for the decision's
 * own count) and its number. */
struct decision_count {
	int64_t start; /* microseconds */
	const char *decision;
	const char *blocker;
	int64_t n;
};
/* Adds a count to the "buckets" array of GET /v1/stats/decisions: a new
 * bucket {"start", "allowed": 0, "refused": 0, "refused_by_blocker": {}}
 * when its start is not the last bucket's, then the number in it. Blocker
 * names are taken as they come, so that a new blocker needs no change
 * here. */
void codec_buckets_add(json_t *buckets, const struct decision_count *c);

#endif

/*
 * JSON codecs of the HTTP API. Every parser walks the object once, refuses a
 * key it does not know (so that integration mistakes show up at once) and
 * reports the first bad field by name.
 */
#include "codec.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iin.h"
#include "money.h"
#include "timeutil.h"

/* The longest cancellation reason, in characters. */
#define CANCEL_REASON_MAX_CHARS 200

bool idempotency_key_valid(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];
		if (c < 0x21 || c > 0x7e || n >= 64)
			return false;
	}
	return n >= 1;
}

json_t *codec_parse_body(const char *buf, size_t len, bool empty_ok, struct cd_error *err)
{
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (i == len) {
		if (empty_ok)
			return json_object();
		cd_error_set(err, 400, "malformed_json", "", "request body is empty");
		return NULL;
	}
	json_error_t jerr;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		cd_error_set(err, 400, "malformed_json", "", "body is not valid JSON: %s (at %d)",
		             jerr.text, jerr.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		cd_error_set(err, 400, "malformed_json", "", "body must be a JSON object");
		return NULL;
	}
	return root;
}

/* Field readers: each returns false with the error set. */

static bool get_string(const json_t *v, const char *field, const char **out, struct cd_error *err)
{
	if (!json_is_string(v))
		return cd_error_invalid(err, field, "must be a string");
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return cd_error_invalid(err, field, "must not contain NUL");
	return true;
}

static bool get_id(const json_t *v, const char *field, char out[ID_BUF], struct cd_error *err)
{
	const char *s = NULL;
	if (!get_string(v, field, &s, err))
		return false;
	/* HTTP clients drop such path segments: never addressable */
	if (id_is_dot_segment(s))
		return cd_error_invalid(err, field, "must not be \".\" or \"..\"");
	if (!id_valid(s))
		return cd_error_invalid(err, field,
		                        "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
	snprintf(out, ID_BUF, "%s", s);
	return true;
}

static bool get_ts(const json_t *v, const char *field, int64_t *out, struct cd_error *err)
{
	const char *s = NULL, *why = NULL;
	if (!get_string(v, field, &s, err))
		return false;
	if (!ts_parse_rfc3339(s, out, &why))
		return cd_error_invalid(err, field, why ? why : "not an RFC 3339 timestamp");
	return true;
}

/* An instant that may be null (left as it is: TS_NULL, "now" at the write). */
static bool get_opt_ts(const json_t *v, const char *field, int64_t *out, struct cd_error *err)
{
	return json_is_null(v) || get_ts(v, field, out, err);
}

static bool get_bool(const json_t *v, const char *field, bool *out, struct cd_error *err)
{
	if (!json_is_boolean(v))
		return cd_error_invalid(err, field, "must be true or false");
	*out = json_is_true(v);
	return true;
}

static bool unknown_field(const char *key, struct cd_error *err)
{
	char field[64];
	snprintf(field, sizeof(field), "%s", key);
	return cd_error_set(err, 422, "validation_failed", field, "%s: unknown field", field);
}

static bool missing_field(const char *field, struct cd_error *err)
{
	return cd_error_invalid(err, field, "is required");
}

/* A body whose only field is the optional instant `field`. */
static bool parse_ts_only(const json_t *body, const char *field, int64_t *out, struct cd_error *err)
{
	*out = TS_NULL;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, field) != 0)
			return unknown_field(key, err);
		if (!get_opt_ts(v, key, out, err))
			return false;
	}
	return true;
}

bool codec_parse_approval(const json_t *body, struct approval_req *r, struct cd_error *err)
{
	memset(r, 0, sizeof(*r));
	r->approved_at = TS_NULL;
	r->consent_at = TS_NULL;
	enum {
		F_LOAN = 1,
		F_IIN = 2,
		F_AMOUNT = 4,
		F_CURRENCY = 8,
		F_CHANNEL = 16,
		F_SECURED = 32
	};
	unsigned seen = 0;
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)body, key, v)
	{
		const char *s = NULL, *why = NULL;
		if (strcmp(key, "loan_id") == 0) {
			if (!get_id(v, key, r->loan_id, err))
				return false;
			seen |= F_LOAN;
		} else if (strcmp(key, "borrower_iin") == 0) {
			if (!get_string(v, key, &s, err))
				return false;
			if (!iin_valid(s, &why))
				return cd_error_invalid(err, key, why);
			memcpy(r->borrower_iin, s, 12);
			r->borrower_iin[12] = '\0';
			seen |= F_IIN;
		} else if (strcmp(key, "amount") == 0) {
			if (!json_is_string(v))
				return cd_error_invalid(
				    err, key, "must be a string of tenge, e.g. \"600000.00\"");
			if (!get_string(v, key, &s, err))
				return false;
			if (!money_parse(s, &r->amount_tiyn, &why))
				return cd_error_invalid(err, key, why);
			seen |= F_AMOUNT;
		} else if (strcmp(key, "currency") == 0) {
			if (!get_string(v, key, &s, err))
				return false;
			/* which one the profile of the approval's date takes is
			 * loan_approval_decide()'s */
			if (strlen(s) != 3 || !isupper((unsigned char)s[0]) ||
			    !isupper((unsigned char)s[1]) || !isupper((unsigned char)s[2]))
				return cd_error_invalid(err, key,
				                        "must be a currency code, e.g. \"KZT\"");
			memcpy(r->currency, s, 4);
			seen |= F_CURRENCY;
		} else if (strcmp(key, "channel") == 0) {
			if (!get_string(v, key, &s, err))
				return false;
			if (!channel_parse(s, &r->channel))
				return cd_error_invalid(err, key,
				                        "must be \"online\" or \"branch\"");
			seen |= F_CHANNEL;
		} else if (strcmp(key, "secured") == 0) {
			if (!get_bool(v, key, &r->secured, err))
				return false;
			seen |= F_SECURED;
		} else if (strcmp(key, "product") == 0) {
			int index;
			if (!get_string(v, key, &s, err))
				return false;
			if (!name_lookup(&product_names, s, &index))
				return cd_error_invalid(err, key,
				                        "must be \"consumer\", \"goods\", "
				                        "\"refinancing\", \"card_limit\" or "
				                        "\"education\"");
			r->product = (enum product)index;
		} else if (strcmp(key, "first_time_borrower") == 0) {
			if (json_is_null(v))
				continue;
			if (!get_bool(v, key, &r->first_time_borrower, err))
				return false;
			r->has_first_time = true;
		} else if (strcmp(key, "approved_at") == 0) {
			if (!get_opt_ts(v, key, &r->approved_at, err))
				return false;
		} else if (strcmp(key, "consent_at") == 0) {
			if (!get_opt_ts(v, key, &r->consent_at, err))
				return false;
		} else {
			return unknown_field(key, err);
		}
	}

	static const struct {
		unsigned bit;
		const char *name;
	} required[] = {{F_LOAN, "loan_id"},      {F_IIN, "borrower_iin"}, {F_AMOUNT, "amount"},
	                {F_CURRENCY, "currency"}, {F_CHANNEL, "channel"},  {F_SECURED, "secured"}};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!(seen & required[i].bit))
			return missing_field(required[i].name, err);
	return true;
}

bool codec_parse_consent(const json_t *body, int64_t *consent_at, struct cd_error *err)
{
	return parse_ts_only(body, "consent_at", consent_at, err);
}

/* Where an officer's act puts what its body names: the officer, the act's
 * optional instant (TS_NULL when omitted) and, for an act at a branch, the
 * branch. */
struct officer_act_fields {
	char *branch_id; /* NULL: the act names no branch */
	char *officer_id;
	const char *at_field;
	int64_t *at;
};

/* The body of an act an officer vouches for by id: the in-person
 * verification and the control call. */
static bool parse_officer_act(const json_t *body, const struct officer_act_fields *f,
                              struct cd_error *err)
{
	*f->at = TS_NULL;
	bool has_branch = false, has_officer = false;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (f->branch_id != NULL && strcmp(key, "branch_id") == 0) {
			if (!get_id(v, key, f->branch_id, err))
				return false;
			has_branch = true;
		} else if (strcmp(key, "officer_id") == 0) {
			if (!get_id(v, key, f->officer_id, err))
				return false;
			has_officer = true;
		} else if (strcmp(key, f->at_field) == 0) {
			if (!get_opt_ts(v, key, f->at, err))
				return false;
		} else {
			return unknown_field(key, err);
		}
	}
	if (f->branch_id != NULL && !has_branch)
		return missing_field("branch_id", err);
	if (!has_officer)
		return missing_field("officer_id", err);
	return true;
}

bool codec_parse_verification(const json_t *body, struct verification_req *r, struct cd_error *err)
{
	memset(r, 0, sizeof(*r));
	return parse_officer_act(body,
	                         &(struct officer_act_fields){.branch_id = r->branch_id,
	                                                      .officer_id = r->officer_id,
	                                                      .at_field = "verified_at",
	                                                      .at = &r->verified_at},
	                         err);
}

bool codec_parse_cancellation(const json_t *body, char *reason, size_t reason_size,
                              struct cd_error *err)
{
	bool has_reason = false;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, "reason") == 0) {
			const char *s = NULL;
			if (!get_string(v, key, &s, err))
				return false;
			/* jansson has checked the encoding already */
			enum text_fault fault;
			if (!text_valid(s, CANCEL_REASON_MAX_CHARS, &fault))
				return cd_error_invalid(err, key,
				                        fault == TEXT_CONTROL
				                            ? "must not contain control characters"
				                            : "must be 1-200 characters");
			if (text_blank(s))
				return cd_error_invalid(err, key, "must not be only white space");
			if (strlen(s) >= reason_size)
				return cd_error_invalid(err, key, "too long");
			snprintf(reason, reason_size, "%s", s);
			has_reason = true;
		} else {
			return unknown_field(key, err);
		}
	}
	if (!has_reason)
		return missing_field("reason", err);
	return true;
}

/* A confirmation's channel: one of extra_method_names. */
static bool get_method(json_t *v, const char *key, enum extra_method *m, struct cd_error *err)
{
	const char *s = NULL;
	int index;
	if (!get_string(v, key, &s, err))
		return false;
	if (!name_lookup(&extra_method_names, s, &index))
		return cd_error_invalid(err, key,
		                        "must be \"branch\", \"egov\", \"credit_bureau\" "
		                        "or \"lender_app\"");
	*m = (enum extra_method)index;
	return true;
}

bool codec_parse_reconfirmation(const json_t *body, struct reconfirmation_req *r,
                                struct cd_error *err)
{
	memset(r, 0, sizeof(*r));
	r->reconfirmed_at = TS_NULL;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, "reconfirmed_at") == 0) {
			if (!get_opt_ts(v, key, &r->reconfirmed_at, err))
				return false;
		} else if (strcmp(key, "method") == 0) {
			if (json_is_null(v))
				continue;
			if (!get_method(v, key, &r->method, err))
				return false;
			r->has_method = true;
		} else {
			return unknown_field(key, err);
		}
	}
	return true;
}

bool codec_parse_extra_confirmation(const json_t *body, struct extra_confirmation_req *r,
                                    struct cd_error *err)
{
	memset(r, 0, sizeof(*r));
	r->confirmed_at = TS_NULL;
	bool has_method = false;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, "method") == 0) {
			if (!get_method(v, key, &r->method, err))
				return false;
			has_method = true;
		} else if (strcmp(key, "confirmed_at") == 0) {
			if (!get_opt_ts(v, key, &r->confirmed_at, err))
				return false;
		} else {
			return unknown_field(key, err);
		}
	}
	if (!has_method)
		return missing_field("method", err);
	return true;
}

bool codec_parse_trusted_person(const json_t *body, struct trusted_person_req *r,
                                struct cd_error *err)
{
	return parse_ts_only(body, "confirmed_at", &r->confirmed_at, err);
}

bool codec_parse_control_call(const json_t *body, struct control_call_req *r, struct cd_error *err)
{
	memset(r, 0, sizeof(*r));
	return parse_officer_act(body,
	                         &(struct officer_act_fields){.officer_id = r->officer_id,
	                                                      .at_field = "called_at",
	                                                      .at = &r->called_at},
	                         err);
}

/* An IIN field: 12 digits with a valid check digit. */
static bool get_iin(const json_t *v, const char *field, char out[13], struct cd_error *err)
{
	const char *s = NULL, *why = NULL;
	if (!get_string(v, field, &s, err))
		return false;
	if (!iin_valid(s, &why))
		return cd_error_invalid(err, field, why ? why : "not a valid IIN");
	memcpy(out, s, IIN_LEN);
	out[IIN_LEN] = '\0';
	return true;
}

bool codec_parse_borrower_search(const json_t *body, char iin[13], struct cd_error *err)
{
	bool has_iin = false;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, "borrower_iin") != 0)
			return unknown_field(key, err);
		if (!get_iin(v, key, iin, err))
			return false;
		has_iin = true;
	}
	if (!has_iin)
		return missing_field("borrower_iin", err);
	return true;
}

void access_query_init(struct access_query *q)
{
	memset(q, 0, sizeof(*q));
	q->from = q->to = q->after_at = q->after_id = TS_NULL;
	q->limit = ACCESS_LOG_DEFAULT_LIMIT;
}

bool codec_parse_access_search(const json_t *body, struct access_query *q, struct cd_error *err)
{
	access_query_init(q);
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		const char *s = NULL;
		if (strcmp(key, "borrower_iin") == 0) {
			if (!get_iin(v, key, q->borrower_iin, err))
				return false;
		} else if (strcmp(key, "lender") == 0) {
			if (!get_id(v, key, q->lender, err))
				return false;
		} else if (strcmp(key, "loan_id") == 0) {
			if (!get_id(v, key, q->loan_id, err))
				return false;
		} else if (strcmp(key, "client") == 0) {
			if (!get_id(v, key, q->client, err))
				return false;
		} else if (strcmp(key, "from") == 0) {
			if (!get_ts(v, key, &q->from, err))
				return false;
		} else if (strcmp(key, "to") == 0) {
			if (!get_ts(v, key, &q->to, err))
				return false;
		} else if (strcmp(key, "limit") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > ACCESS_LOG_MAX_LIMIT)
				return cd_error_invalid(err, key,
				                        "must be a whole number from 1 to 1000");
			q->limit = json_integer_value(v);
		} else if (strcmp(key, "after") == 0) {
			if (json_is_null(v))
				continue;
			if (!get_string(v, key, &s, err))
				return false;
			if (!cursor_decode(s, &q->after_at, &q->after_id))
				return cd_error_invalid(
				    err, key, "not a cursor from a previous page's \"next\"");
		} else {
			return unknown_field(key, err);
		}
	}
	/* a loan is named by its lender and its id together */
	if (q->lender[0] != '\0' && q->loan_id[0] == '\0')
		return missing_field("loan_id", err);
	if (q->loan_id[0] != '\0' && q->lender[0] == '\0')
		return missing_field("lender", err);
	return true;
}

bool codec_parse_refusal(const json_t *body, struct refusal_req *q, struct cd_error *err)
{
	char iin[sizeof(q->iin)];
	memcpy(iin, q->iin, sizeof(iin));
	memset(q, 0, sizeof(*q));
	memcpy(q->iin, iin, sizeof(iin));
	bool has_active = false, has_effective = false, has_source = false;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		const char *s = NULL;
		if (strcmp(key, "active") == 0) {
			if (!get_bool(v, key, &q->active, err))
				return false;
			has_active = true;
		} else if (strcmp(key, "effective_at") == 0) {
			/* past or future: no clock window */
			if (!get_ts(v, key, &q->effective_at, err))
				return false;
			has_effective = true;
		} else if (strcmp(key, "source") == 0) {
			if (!get_string(v, key, &s, err) || !refusal_source_check(s, key, err))
				return false;
			snprintf(q->source, sizeof(q->source), "%s", s);
			has_source = true;
		} else if (strcmp(key, "reference") == 0) {
			if (json_is_null(v))
				continue;
			if (!get_string(v, key, &s, err) || !refusal_reference_check(s, key, err))
				return false;
			snprintf(q->reference, sizeof(q->reference), "%s", s);
			q->has_reference = true;
		} else {
			return unknown_field(key, err);
		}
	}
	if (!has_active)
		return missing_field("active", err);
	if (!has_effective)
		return missing_field("effective_at", err);
	if (!has_source)
		return missing_field("source", err);
	return true;
}

/* A registry's entry: head (its key's members) with the state at now
 * (refusal_in_force()) and the changes as given. */
static json_t *registry_entry_json(json_t *head, const struct refusal_change *c, size_t n,
                                   int64_t now)
{
	int f = refusal_in_force(c, n, now);
	json_t *changes = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    changes,
		    json_pack("{s:b,s:o,s:s,s:o,s:o}", "active", c[i].active, "effective_at",
		              codec_ts_json(c[i].effective_at), "source", c[i].source, "reference",
		              c[i].reference ? json_string(c[i].reference) : json_null(),
		              "recorded_at", codec_ts_json(c[i].recorded_at)));
	json_object_set_new(head, "active", json_boolean(f >= 0 && c[f].active));
	json_object_set_new(head, "effective_at",
	                    codec_ts_json(f >= 0 ? c[f].effective_at : TS_NULL));
	json_object_set_new(head, "source", f >= 0 ? json_string(c[f].source) : json_null());
	json_object_set_new(head, "changes", changes);
	return head;
}

json_t *codec_refusal_entry_json(const char *iin, const struct refusal_change *c, size_t n,
                                 int64_t now)
{
	return registry_entry_json(json_pack("{s:s}", "borrower_iin", iin), c, n, now);
}

json_t *codec_payee_entry_json(const struct payee *p, const struct refusal_change *c, size_t n,
                               int64_t now)
{
	return registry_entry_json(
	    json_pack("{s:s,s:s}", "kind", name_of(&payee_kind_names, (int)p->kind), "id", p->id),
	    c, n, now);
}

/* A payee's id: the rules of payee_id_valid(), checked once the kind is
 * known. The message never repeats the id (a card number must not reach a
 * log). */
static bool get_payee(const json_t *o, struct payee *p, struct cd_error *err)
{
	if (!json_is_object(o))
		return cd_error_invalid(err, "payee", "must be an object");
	memset(p, 0, sizeof(*p));
	const char *id = NULL, *key, *why = NULL;
	bool has_kind = false;
	json_t *v;
	json_object_foreach((json_t *)o, key, v)
	{
		if (strcmp(key, "kind") == 0) {
			const char *s = NULL;
			int k;
			if (!get_string(v, "payee.kind", &s, err))
				return false;
			if (!name_lookup(&payee_kind_names, s, &k))
				return cd_error_invalid(err, "payee.kind",
				                        "must be account, card or wallet");
			p->kind = (enum payee_kind)k;
			has_kind = true;
		} else if (strcmp(key, "id") == 0) {
			if (!get_string(v, "payee.id", &id, err))
				return false;
		} else if (strcmp(key, "owner_iin") == 0) {
			if (!get_iin(v, "payee.owner_iin", p->owner_iin, err))
				return false;
			p->has_owner = true;
		} else {
			char field[64];
			snprintf(field, sizeof(field), "payee.%s", key);
			return unknown_field(field, err);
		}
	}
	if (!has_kind)
		return missing_field("payee.kind", err);
	if (id == NULL)
		return missing_field("payee.id", err);
	if (!payee_id_valid(p->kind, id, &why))
		return cd_error_invalid(err, "payee.id", why);
	snprintf(p->id, sizeof(p->id), "%s", id);
	return true;
}

bool codec_parse_disbursement(const json_t *body, struct disbursement_req *q, struct cd_error *err)
{
	memset(q, 0, sizeof(*q));
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, "payee") != 0)
			return unknown_field(key, err);
		if (!get_payee(v, &q->payee, err))
			return false;
		q->has_payee = true;
	}
	return true;
}

json_t *codec_payee_json(const struct payee *p)
{
	return json_pack("{s:s,s:s,s:o}", "kind", name_of(&payee_kind_names, (int)p->kind), "id",
	                 p->id, "owner_iin",
	                 p->has_owner ? json_string(p->owner_iin) : json_null());
}

/* A free text field of a claim, checked by check; copied into out. */
static bool get_claim_text(const json_t *v, const char *field, char *out, size_t size,
                           bool (*check)(const char *, const char *, struct cd_error *),
                           struct cd_error *err)
{
	const char *s = NULL;
	if (!get_string(v, field, &s, err) || !check(s, field, err))
		return false;
	if (strlen(s) >= size)
		return cd_error_invalid(err, field, "too long");
	memcpy(out, s, strlen(s) + 1);
	return true;
}

bool codec_parse_claim_open(const json_t *body, struct claim_open_req *q, struct cd_error *err)
{
	memset(q, 0, sizeof(*q));
	bool has_iin = false, has_reference = false;
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, "borrower_iin") == 0) {
			if (!get_iin(v, "borrower_iin", q->borrower_iin, err))
				return false;
			has_iin = true;
		} else if (strcmp(key, "reference") == 0) {
			if (!get_claim_text(v, "reference", q->reference, sizeof(q->reference),
			                    claim_reference_check, err))
				return false;
			has_reference = true;
		} else if (strcmp(key, "note") == 0) {
			if (!get_claim_text(v, "note", q->note, sizeof(q->note), claim_note_check,
			                    err))
				return false;
			q->has_note = true;
		} else {
			return unknown_field(key, err);
		}
	}
	if (!has_iin)
		return missing_field("borrower_iin", err);
	if (!has_reference)
		return missing_field("reference", err);
	return true;
}

bool codec_parse_claim_close(const json_t *body, struct claim_close_req *q, struct cd_error *err)
{
	memset(q, 0, sizeof(*q));
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		if (strcmp(key, "outcome") == 0) {
			const char *s = NULL;
			if (!get_string(v, "outcome", &s, err))
				return false;
			if (!claim_outcome_parse(s, &q->outcome))
				return cd_error_invalid(err, "outcome",
				                        "must be confirmed or unfounded");
		} else if (strcmp(key, "note") == 0) {
			if (!get_claim_text(v, "note", q->note, sizeof(q->note), claim_note_check,
			                    err))
				return false;
			q->has_note = true;
		} else {
			return unknown_field(key, err);
		}
	}
	if (q->outcome == CLAIM_OUTCOME_NONE)
		return missing_field("outcome", err);
	return true;
}

json_t *codec_claim_json(const struct fraud_claim *c)
{
	char id[CLAIM_ID_BUF];
	claim_id_format(c->id, id);
	const char *outcome = claim_outcome_name(c->outcome);
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:o,s:s,s:o}", "claim_id", id, "borrower_iin",
	                 c->borrower_iin, "status", c->closed_at == TS_NULL ? "open" : "closed",
	                 "outcome", outcome ? json_string(outcome) : json_null(), "opened_at",
	                 codec_ts_json(c->opened_at), "opened_by", c->opened_by, "closed_at",
	                 codec_ts_json(c->closed_at), "reference", c->reference, "note",
	                 c->note[0] ? json_string(c->note) : json_null());
}

json_t *codec_ts_json(int64_t ts)
{
	if (ts == TS_NULL)
		return json_null();
	char buf[TS_BUF];
	ts_format_utc(ts, buf);
	return json_string(buf);
}

static json_t *money_json(int64_t tiyn)
{
	char buf[MONEY_BUF];
	money_format(tiyn, buf);
	return json_string(buf);
}

json_t *codec_name_json(const struct name_table *t, int index)
{
	const char *name = name_of(t, index);
	return name[0] != '\0' ? json_string(name) : json_null();
}

json_t *codec_blockers_json(unsigned blockers)
{
	json_t *a = json_array();
	for (int i = 0; i < BLOCKER__COUNT; i++)
		if (blockers & (1u << i))
			json_array_append_new(a, json_string(blocker_name((enum blocker)i)));
	return a;
}

/* A names.h name, NULL for the table's empty name (none). */
static const char *name_or_null(const struct name_table *t, int index)
{
	const char *name = name_of(t, index);
	return name[0] != '\0' ? name : NULL;
}

static const char *empty_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

static json_t *str_or_null_json(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *int_or_null_json(int64_t n)
{
	return n != TS_NULL ? json_integer(n) : json_null();
}

/*
 * The loan's answer, field by field in the contract's order: X(key, kind,
 * value, detail), value an expression over l (the loan) and v (its view),
 * detail 1 for the fields that its approval_recorded event keeps too (the
 * facts of the approval, not of later acts). Both writers are made from
 * it, codec_loan_json() (a jansson tree) and codec_loan_write() (straight
 * into a buffer), and codec_approval_detail_write() from the rows of
 * detail 1, so that a field and its form are written here once. kinds: STR, STR_OR_NULL (NULL:
 * null), BOOL, INT, INT_OR_NULL (TS_NULL: null), MONEY (tiyn, as "123.45"), TS (TS_NULL: null),
 * BLOCKERS (a blocker set, as an array of names).
 */
/* clang-format off */
#define LOAN_JSON_FIELDS(X)                                                                        \
	X("lender",                      STR,         l->lender, 0)                                \
	X("loan_id",                     STR,         l->loan_id, 0)                               \
	X("borrower_iin",                STR,         l->borrower_iin, 0)                          \
	X("amount",                      MONEY,       l->amount_tiyn, 1)                           \
	X("currency",                    STR,         l->currency, 0)                              \
	X("channel",                     STR,         channel_name(l->channel), 1)                 \
	X("secured",                     BOOL,        l->secured, 1)                               \
	X("first_time_borrower",         BOOL,        l->first_time_borrower, 1)                   \
	X("status",                      STR,         status_name(v->status), 0)                   \
	X("cooling_required",            BOOL,        l->cooling_required, 1)                      \
	X("cooling_period_seconds",      INT_OR_NULL, l->cooling_required &&                       \
	                                              !policy_cooled_by_calendar(l)                \
	                                                  ? l->cooling_period_s : TS_NULL, 1)      \
	X("threshold_amount",            MONEY,       l->threshold_tiyn, 1)                        \
	X("mrp",                         INT,         l->mrp_tenge, 1)                             \
	X("policy",                      STR,         l->policy, 1)                                \
	X("approved_at",                 TS,          l->approved_at, 1)                           \
	X("consent_at",                  TS,          l->consent_at, 1)                            \
	X("cooling_ends_at",             TS,          l->cooling_required ? l->cooling_ends_at     \
	                                                                  : TS_NULL, 1)            \
	X("in_person_required",          BOOL,        l->in_person_required, 1)                    \
	X("in_person_verified_at",       TS,          l->in_person_verified_at, 0)                 \
	X("disbursed_at",                TS,          l->disbursed_at, 0)                          \
	X("cancelled_at",                TS,          l->cancelled_at, 0)                          \
	X("lender_kind",                 STR,         name_of(&lender_kind_names, l->lender_kind), 1) \
	X("product",                     STR,         name_of(&product_names, l->product), 1)      \
	X("exemption",                   STR_OR_NULL, name_or_null(&exemption_names,               \
	                                                           l->exemption), 1)               \
	X("aggregated_amount",           MONEY,       l->aggregated_tiyn, 1)                       \
	X("rule",                        STR_OR_NULL, name_or_null(&rule_names, l->rule), 1)       \
	X("borrower_age",                INT_OR_NULL, l->borrower_age >= 0 ? l->borrower_age       \
	                                                                   : TS_NULL, 1)           \
	X("extra_confirmation_required", BOOL,        l->extra_confirmation_required, 1)           \
	X("extra_confirmed_at",          TS,          l->extra_confirmed_at, 0)                    \
	X("extra_confirmation_method",   STR_OR_NULL, empty_null(l->extra_confirmation_method), 0) \
	X("reconfirmation_required",     BOOL,        l->reconfirmation_required, 1)               \
	X("reconfirmed_at",              TS,          l->reconfirmed_at, 0)                        \
	X("blockers",                    BLOCKERS,    v->blockers, 0)                              \
	X("earliest_disbursement_at",    TS,          v->earliest_disbursement_at, 0)              \
	/* the fields of v1.1, in the contract's order */                                          \
	X("voluntary_refusal_active",    BOOL,        l->voluntary_refusal_active, 0)              \
	/* the fields of v1.2 */                                                                   \
	X("in_person_reasons",           REASONS,     loan_in_person_reasons(l), 0)                \
	X("fraud_claim_open",            BOOL,        l->fraud_claim_open, 0)                      \
	X("reconfirmation_method",       STR_OR_NULL, empty_null(l->reconfirmation_method), 0)     \
	X("trusted_person_confirmed_at", TS,          l->trusted_person_confirmed_at, 0)           \
	X("control_call_required",       BOOL,        l->control_call_required, 0)                 \
	X("control_called_at",           TS,          l->control_called_at, 0)                     \
	X("control_call_officer_id",     STR_OR_NULL, empty_null(l->control_call_officer_id), 0)   \
	X("cooling_calendar_zone",       STR_OR_NULL, policy_cooled_by_calendar(l)                 \
	                                                  ? l->cooling_calendar_zone : NULL, 0)

/* Each kind as a jansson value. */
#define JSON_STR(x)         json_string(x)
#define JSON_STR_OR_NULL(x) str_or_null_json(x)
#define JSON_BOOL(x)        json_boolean(x)
#define JSON_INT(x)         json_integer(x)
#define JSON_INT_OR_NULL(x) int_or_null_json(x)
#define JSON_MONEY(x)       money_json(x)
#define JSON_TS(x)          codec_ts_json(x)
#define JSON_BLOCKERS(x)    codec_blockers_json(x)
#define JSON_REASONS(x)     names_json(&in_person_reason_names, x)
/* clang-format on */

/* The names of the bits set, in the table's order. */
static json_t *names_json(const struct name_table *t, unsigned bits)
{
	json_t *a = json_array();
	for (int i = 0; i < t->count; i++)
		if (bits & (1u << i))
			json_array_append_new(a, json_string(t->names[i]));
	return a;
}

json_t *codec_loan_json(const struct loan *l, const struct loan_view *v)
{
	json_t *o = json_object();
#define LOAN_JSON_SET(key, kind, value, detail) json_object_set_new(o, key, JSON_##kind(value));
	LOAN_JSON_FIELDS(LOAN_JSON_SET)
#undef LOAN_JSON_SET
	return o;
}

json_t *codec_error_json(const struct cd_error *err, const char *request_id)
{
	json_t *e = json_object();
	json_object_set_new(e, "code", json_string(err->code ? err->code : "internal_error"));
	json_object_set_new(e, "message", json_string(err->message));
	if (err->field[0] != '\0')
		json_object_set_new(e, "field", json_string(err->field));
	if (err->reason != REASON_NONE)
		json_object_set_new(e, "reason",
		                    json_string(name_of(&state_reason_names, (int)err->reason)));
	if (request_id != NULL)
		json_object_set_new(e, "request_id", json_string(request_id));
	json_t *o = json_object();
	json_object_set_new(o, "error", e);
	return o;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void cursor_encode(int64_t approved_at, int64_t id, char out[CURSOR_BUF])
{
	char raw[48];
	int n = snprintf(raw, sizeof(raw), "%lld:%lld", (long long)approved_at, (long long)id);
	size_t o = 0;
	for (int i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)raw[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)raw[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)raw[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = b64url[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
}

static bool parse_signed(const char *s, const char *end, int64_t *out)
{
	bool neg = false;
	if (s < end && *s == '-') {
		neg = true;
		s++;
	}
	if (s == end || end - s > 18)
		return false;
	int64_t v = 0;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return true;
}

bool cursor_decode(const char *s, int64_t *approved_at, int64_t *id)
{
	char raw[48];
	size_t o = 0, len = strlen(s);
	if (len == 0 || len > 60)
		return false;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		const char *p = strchr(b64url, s[i]);
		if (p == NULL || s[i] == '\0')
			return false;
		acc = (acc << 6) | (unsigned)(p - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= sizeof(raw) - 1)
				return false;
			raw[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	raw[o] = '\0';
	char *colon = strchr(raw, ':');
	if (colon == NULL)
		return false;
	/* years 0001-9999, the range both ends understand */
	const int64_t lo = INT64_C(-62135596800) * USEC_PER_SEC;
	const int64_t hi = INT64_C(253402300799) * USEC_PER_SEC + (USEC_PER_SEC - 1);
	return parse_signed(raw, colon, approved_at) && parse_signed(colon + 1, raw + o, id) &&
	       *id > 0 && *approved_at >= lo && *approved_at <= hi;
}

/* ---- the direct loan writer ---- */

struct out {
	char *buf;
	size_t size, len;
};

static void out_raw(struct out *o, const char *s, size_t n)
{
	if (o->len < o->size) {
		size_t room = o->size - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void out_str(struct out *o, const char *s)
{
	out_raw(o, s, strlen(s));
}

/* A JSON string, escaped as jansson escapes it (no JSON_ENSURE_ASCII, no
 * JSON_ESCAPE_SLASH). */
static void out_json_string(struct out *o, const char *s)
{
	out_raw(o, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[8];
		switch (*p) {
		case '"':
			out_raw(o, "\\\"", 2);
			break;
		case '\\':
			out_raw(o, "\\\\", 2);
			break;
		case '\b':
			out_raw(o, "\\b", 2);
			break;
		case '\f':
			out_raw(o, "\\f", 2);
			break;
		case '\n':
			out_raw(o, "\\n", 2);
			break;
		case '\r':
			out_raw(o, "\\r", 2);
			break;
		case '\t':
			out_raw(o, "\\t", 2);
			break;
		default:
			if (*p < 0x20) {
				snprintf(e, sizeof(e), "\\u%04X", *p);
				out_raw(o, e, 6);
			} else {
				out_raw(o, (const char *)p, 1);
			}
		}
	}
	out_raw(o, "\"", 1);
}

static void out_key(struct out *o, const char *key)
{
	out_raw(o, o->len > 1 ? ",\"" : "\"", o->len > 1 ? 2 : 1);
	out_str(o, key);
	out_raw(o, "\":", 2);
}

static void out_kv_str(struct out *o, const char *key, const char *value)
{
	out_key(o, key);
	out_json_string(o, value);
}

static void out_kv_bool(struct out *o, const char *key, bool value)
{
	out_key(o, key);
	out_str(o, value ? "true" : "false");
}

static void out_kv_int(struct out *o, const char *key, int64_t value)
{
	char n[24];
	out_key(o, key);
	out_raw(o, n, (size_t)snprintf(n, sizeof(n), "%lld", (long long)value));
}

static void out_kv_ts(struct out *o, const char *key, int64_t ts)
{
	if (ts == TS_NULL) {
		out_key(o, key);
		out_str(o, "null");
		return;
	}
	char b[TS_BUF];
	ts_format_utc(ts, b);
	out_kv_str(o, key, b);
}

static void out_kv_money(struct out *o, const char *key, int64_t tiyn)
{
	char b[MONEY_BUF];
	money_format(tiyn, b);
	out_kv_str(o, key, b);
}

static void out_kv_null(struct out *o, const char *key)
{
	out_key(o, key);
	out_str(o, "null");
}

static void out_kv_str_or_null(struct out *o, const char *key, const char *value)
{
	if (value != NULL)
		out_kv_str(o, key, value);
	else
		out_kv_null(o, key);
}

static void out_kv_int_or_null(struct out *o, const char *key, int64_t value)
{
	if (value != TS_NULL)
		out_kv_int(o, key, value);
	else
		out_kv_null(o, key);
}

static void out_kv_blockers(struct out *o, const char *key, unsigned blockers)
{
	out_key(o, key);
	out_raw(o, "[", 1);
	bool first = true;
	for (int i = 0; i < BLOCKER__COUNT; i++) {
		if (!(blockers & (1u << i)))
			continue;
		if (!first)
			out_raw(o, ",", 1);
		out_json_string(o, blocker_name((enum blocker)i));
		first = false;
	}
	out_raw(o, "]", 1);
}

static void out_kv_reasons(struct out *o, const char *key, unsigned reasons)
{
	out_key(o, key);
	out_raw(o, "[", 1);
	bool first = true;
	for (int i = 0; i < in_person_reason_names.count; i++) {
		if (!(reasons & (1u << i)))
			continue;
		if (!first)
			out_raw(o, ",", 1);
		out_json_string(o, in_person_reason_names.names[i]);
		first = false;
	}
	out_raw(o, "]", 1);
}

/* Each kind of LOAN_JSON_FIELDS as written by codec_loan_write(). */
#define OUT_STR         out_kv_str
#define OUT_STR_OR_NULL out_kv_str_or_null
#define OUT_BOOL        out_kv_bool
#define OUT_INT         out_kv_int
#define OUT_INT_OR_NULL out_kv_int_or_null
#define OUT_MONEY       out_kv_money
#define OUT_TS          out_kv_ts
#define OUT_BLOCKERS    out_kv_blockers
#define OUT_REASONS     out_kv_reasons

size_t codec_loan_write(const struct loan *l, const struct loan_view *v, char *buf, size_t size)
{
	struct out o = {buf, size, 0};
	out_raw(&o, "{", 1);
#define LOAN_JSON_WRITE(key, kind, value, detail) OUT_##kind(&o, key, value);
	LOAN_JSON_FIELDS(LOAN_JSON_WRITE)
#undef LOAN_JSON_WRITE
	out_raw(&o, "}", 1);
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

#define LOAN_DETAIL_0(...)
#define LOAN_DETAIL_1(...) __VA_ARGS__

size_t codec_approval_detail_write(const struct loan *l, char *buf, size_t size)
{
	struct out o = {buf, size, 0};
	out_raw(&o, "{", 1);
#define LOAN_DETAIL_WRITE(key, kind, value, detail)                                                \
	LOAN_DETAIL_##detail(OUT_##kind(&o, key, value);)
	LOAN_JSON_FIELDS(LOAN_DETAIL_WRITE)
#undef LOAN_DETAIL_WRITE
	out_raw(&o, "}", 1);
	if (size > 0)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

/* ---- the table of rules ---- */

static json_t *mrp_or_null(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

static json_t *key_or_null(const char *k)
{
	return k != NULL ? json_string(k) : json_null();
}

json_t *codec_policy_json(const struct policy_table *t)
{
	json_t *rules = json_array();
	for (int i = 0; i < t->nbands; i++) {
		const struct policy_table_band *b = &t->bands[i];
		bool open_ended = b->up_to_mrp < 0;
		json_array_append_new(
		    rules,
		    json_pack("{s:s,s:o,s:I,s:b,s:o,s:o,s:o,s:{s:o,s:o,s:o,s:o,s:o}}", "rule",
		              name_of(&rule_names, b->rule), "lender_kind",
		              b->lender_kind < 0
		                  ? json_null()
		                  : json_string(name_of(&lender_kind_names, b->lender_kind)),
		              "above_mrp", (json_int_t)b->above_mrp, "above_inclusive",
		              b->above_inclusive, "up_to_mrp", mrp_or_null(b->up_to_mrp),
		              "up_to_exclusive",
		              open_ended ? json_null() : json_boolean(b->up_to_exclusive),
		              "period_seconds",
		              b->until_next_working_day ? json_null() : json_integer(b->period_s),
		              "keys", "above_mrp", key_or_null(b->above_key), "above_inclusive",
		              key_or_null(b->above_inclusive_key), "up_to_mrp",
		              key_or_null(b->up_to_key), "up_to_exclusive",
		              key_or_null(open_ended ? NULL : b->up_to_inclusive_key),
		              "period_seconds", key_or_null(b->period_key)));
		json_object_set_new(json_array_get(rules, (size_t)i), "control_call",
		                    json_boolean(b->control_call));
	}
	json_t *exemptions = json_array();
	for (int e = EXEMPT_BRANCH; e < EXEMPT__COUNT; e++) {
		if (!(t->exemptions & (1u << e)))
			continue;
		json_t *x = json_pack("{s:s}", "exemption", name_of(&exemption_names, e));
		if (e == EXEMPT_CARD_LIMIT) {
			json_object_set_new(x, "up_to_mrp", json_integer(t->card_limit_mrp));
			json_object_set_new(
			    x, "keys",
			    json_pack("{s:s}", "up_to_mrp", "policy.card_limit_exempt_mrp"));
		}
		json_array_append_new(exemptions, x);
	}
	json_t *extra =
	    t->age_rule ? json_pack("{s:I,s:I,s:{s:s,s:s}}", "under_age", (json_int_t)t->under_age,
	                            "from_age", (json_int_t)t->from_age, "keys", "under_age",
	                            "policy.extra_confirmation_under_age", "from_age",
	                            "policy.extra_confirmation_from_age")
	                : json_null();
	/* the bands' numbers (above_mrp, up_to_mrp) count `unit`: MRP, or whole
	 * units of the currency */
	json_t *o = json_pack(
	    "{s:s,s:o,s:s,s:s,s:o,s:o,s:o,s:o}", "profile", t->profile, "source",
	    key_or_null(t->source), "currency", t->currency, "unit", t->unit, "aggregation",
	    t->aggregates ? json_string(name_of(&aggregation_names, (int)t->aggregation))
	                  : json_null(),
	    "rules", rules, "exemptions", exemptions, "extra_confirmation", extra);
	/* only a profile that has the rule shows it */
	if (t->cross_lender_window_s >= 0)
		json_object_set_new(o, "cross_lender",
		                    json_pack("{s:I,s:{s:s}}", "window_seconds",
		                              (json_int_t)t->cross_lender_window_s, "keys",
		                              "window_seconds", t->cross_lender_window_key));
	/* the zone of the calendar whose next working day ends a band of
	 * period_seconds null, for a profile that has one */
	if (t->calendar_zone != NULL)
		json_object_set_new(o, "calendar_zone", json_string(t->calendar_zone));
	return o;
}

/* A growing text buffer for codec_policy_text(). */
struct text {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char line[512];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t add = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if (t->len + add + 1 > t->cap) {
		size_t cap = (t->cap + add + 1) * 2;
		char *p = realloc(t->s, cap);
		if (p == NULL)
			return;
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->len, line, add);
	t->len += add;
	t->s[t->len] = '\0';
}

/* A bound's keys: its number's, and its reading's with its value (none
 * from a daemon that reads every bound "above" and names no such key). */
static void bound_keys(const char *key, const char *inclusive_key, bool inclusive, char *out,
                       size_t size)
{
	if (inclusive_key != NULL)
		snprintf(out, size, "%s, %s = %s", key, inclusive_key, inclusive ? "on" : "off");
	else
		snprintf(out, size, "%s", key);
}

char *codec_policy_text(const struct policy_table *t)
{
	struct text x = {0};
	text_add(&x, "profile: %s\n", t->profile);
	if (t->source != NULL)
		text_add(&x, "source: %s\n", t->source);
	if (t->aggregates)
		text_add(&x,
		         "day's amount: this loan and the borrower's other online, not exempt, "
		         "not cancelled loans of the same local date, of %s (policy.aggregation = "
		         "%s)\n",
		         t->aggregation == AGGREGATION_ALL ? "any lender" : "the same lender",
		         name_of(&aggregation_names, (int)t->aggregation));
	else
		text_add(&x, "day's amount: the loan's own amount (no aggregation)\n");
	text_add(&x, "currency: %s\n", t->currency);
	if (t->nbands == 0)
		text_add(&x, "rules: none (no loan is cooled)\n");
	else if (strcmp(t->unit, "MRP") == 0)
		text_add(&x, "rules (the day's amount against N x the MRP of the approval's local "
		             "date: \"above\" is strictly greater, \"from\" greater or equal, as "
		             "each bound's *_threshold_inclusive key says):\n");
	else
		text_add(&x,
		         "rules (the amount against N %s, compared in its minor unit: "
		         "\"above\" is strictly greater):\n",
		         t->unit);
	for (int i = 0; i < t->nbands; i++) {
		const struct policy_table_band *b = &t->bands[i];
		char lower[128], upper[128], up[192] = "", wait[192];
		if (b->until_next_working_day)
			snprintf(wait, sizeof(wait),
			         "wait until the start of the next working day after consent "
			         "(%s, calendar of non-working days: coolingctl holidays show)",
			         t->calendar_zone != NULL ? t->calendar_zone
			                                  : "the profile's zone");
		else
			snprintf(wait, sizeof(wait), "wait %llds after consent (%s)",
			         (long long)b->period_s, b->period_key);
		const char *kind =
		    b->lender_kind < 0 ? "any" : name_of(&lender_kind_names, b->lender_kind);
		if (b->above_key == NULL) {
			text_add(&x, "  %-10s %-4s every amount: %s\n",
			         name_of(&rule_names, b->rule), kind, wait);
		} else {
			bound_keys(b->above_key, b->above_inclusive_key, b->above_inclusive, lower,
			           sizeof(lower));
			if (b->up_to_mrp >= 0) {
				bound_keys(b->up_to_key, b->up_to_inclusive_key, b->up_to_exclusive,
				           upper, sizeof(upper));
				snprintf(up, sizeof(up), ", %s %lld %s (%s)",
				         b->up_to_exclusive ? "below" : "up to",
				         (long long)b->up_to_mrp, t->unit, upper);
			}
			text_add(&x, "  %-10s %-4s %s %lld %s (%s)%s: %s\n",
			         name_of(&rule_names, b->rule), kind,
			         b->above_inclusive ? "from" : "above", (long long)b->above_mrp,
			         t->unit, lower, up, wait);
		}
		if (b->control_call)
			text_add(&x, "             and a control call before the payout "
			             "(POST .../control-call)\n");
	}
	text_add(&x, "exemptions (the first that applies; not cooled):");
	for (int e = EXEMPT_BRANCH; e < EXEMPT__COUNT; e++) {
		if (!(t->exemptions & (1u << e)))
			continue;
		if (e == EXEMPT_CARD_LIMIT)
			text_add(&x, " card_limit up to %lld MRP (policy.card_limit_exempt_mrp)",
			         (long long)t->card_limit_mrp);
		else
			text_add(&x, " %s", name_of(&exemption_names, e));
	}
	text_add(&x, "\n");
	text_add(&x, "reconfirmation after the period: %s\n",
	         t->reconfirmation ? "required for every cooled loan" : "not required");
	if (!t->in_person_rule)
		text_add(&x, "in person: no rule of the profile (only a repeat victim's or a "
		             "burst's cooled loan)\n");
	else
		text_add(&x, "in person: first-time borrowers of unsecured loans%s\n",
		         t->in_person_by_amount ? " whose day's amount is above the kind's first "
		                                  "threshold, or from it when "
		                                  "that bound is inclusive (MFO: online only)"
		                                : "");
	if (t->age_rule)
		text_add(&x,
		         "extra confirmation: cooled loans of borrowers under %lld "
		         "(policy.extra_confirmation_under_age) or aged %lld or more "
		         "(policy.extra_confirmation_from_age)\n",
		         (long long)t->under_age, (long long)t->from_age);
	else
		text_add(&x, "extra confirmation: not required\n");
	if (t->cross_lender_window_s >= 0)
		text_add(&x,
		         "across lenders: an online loan waits while another lender paid out an "
		         "online loan of the borrower less than %llds ago (%s)\n",
		         (long long)t->cross_lender_window_s, t->cross_lender_window_key);
	return x.s;
}

static void date_text(int64_t days, char out[16])
{
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, 16, "%04lld-%02u-%02u", (long long)y, m, d);
}

json_t *codec_policy_schedule_json(const struct policy_schedule_table *t)
{
	json_t *schedule = json_array(), *profiles = json_array();
	for (int i = 0; i < t->n; i++) {
		char from[16];
		if (t->schedule[i].from_days != POLICY_NO_DATE)
			date_text(t->schedule[i].from_days, from);
		json_array_append_new(schedule, json_pack("{s:s,s:o}", "profile",
		                                          t->schedule[i].profile, "from",
		                                          t->schedule[i].from_days == POLICY_NO_DATE
		                                              ? json_null()
		                                              : json_string(from)));
	}
	for (int i = 0; i < t->nprofiles; i++)
		json_array_append_new(profiles, codec_policy_json(&t->profiles[i]));
	/* a single profile keeps the form of v1.1 at the top, for its clients */
	json_t *o = t->n == 1 ? codec_policy_json(&t->profiles[0]) : json_object();
	json_object_set_new(o, "schedule", schedule);
	json_object_set_new(o, "profiles", profiles);
	return o;
}

char *codec_policy_schedule_text(const struct policy_schedule_table *t)
{
	if (t->n == 1)
		return codec_policy_text(&t->profiles[0]);
	struct text x = {0};
	text_add(&x, "schedule (policy.profile; the profile of the approval's local date decides, "
	             "and the loan keeps it):\n");
	for (int i = 0; i < t->n; i++) {
		char from[16];
		if (i == 0) {
			date_text(t->schedule[1].from_days, from);
			text_add(&x, "  before %s  %s\n", from, t->schedule[i].profile);
		} else {
			date_text(t->schedule[i].from_days, from);
			text_add(&x, "  from %s    %s\n", from, t->schedule[i].profile);
		}
	}
	for (int i = 0; i < t->nprofiles; i++) {
		char *one = codec_policy_text(&t->profiles[i]);
		text_add(&x, "\n");
		/* text_add() takes a line at a time */
		for (char *line = one, *end; line != NULL && *line != '\0'; line = end) {
			end = strchr(line, '\n');
			end = end != NULL ? end + 1 : line + strlen(line);
			text_add(&x, "%.*s", (int)(end - line), line);
		}
		free(one);
	}
	return x.s;
}

/* ---- audit events and decision statistics ---- */

json_t *codec_audit_event_json(const struct codec_audit_event *e)
{
	json_error_t jerr;
	json_t *detail = e->detail ? json_loads(e->detail, 0, &jerr) : NULL;
	if (!json_is_object(detail)) {
		json_decref(detail);
		detail = json_object();
	}
	return json_pack("{s:I,s:o,s:s,s:o,s:o,s:s,s:o,s:s}", "seq", (json_int_t)e->seq, "at",
	                 codec_ts_json(e->at), "actor", e->actor, "lender",
	                 e->lender ? json_string(e->lender) : json_null(), "loan_id",
	                 e->loan_id ? json_string(e->loan_id) : json_null(), "type", e->type,
	                 "detail", detail, "hash", e->hash);
}

void codec_buckets_add(json_t *buckets, const struct decision_count *c)
{
	char start[TS_BUF];
	ts_format_utc(c->start, start);
	json_t *b = json_array_get(buckets, json_array_size(buckets) - 1);
	const char *last = json_string_value(json_object_get(b, "start"));
	if (last == NULL || strcmp(last, start) != 0) {
		b = json_pack("{s:s,s:I,s:I,s:o}", "start", start, "allowed", (json_int_t)0,
		              "refused", (json_int_t)0, "refused_by_blocker", json_object());
		json_array_append_new(buckets, b);
	}
	if (c->decision == NULL || c->blocker == NULL)
		return;
	if (c->blocker[0] != '\0')
		json_object_set_new(json_object_get(b, "refused_by_blocker"), c->blocker,
		                    json_integer(c->n));
	else if (strcmp(c->decision, "allowed") == 0 || strcmp(c->decision, "refused") == 0)
		json_object_set_new(b, c->decision, json_integer(c->n));
}

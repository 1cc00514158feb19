/*
 * The request codecs of lib/codec.c, on a request body as received:
 * codec_parse_body, then every act's parser on the same object. Checks:
 * - a refused body is a 400 malformed_json, a refused field a 422, with a
 *   terminated message;
 * - an accepted approval holds a valid loan_id and IIN, an amount in
 *   (0, MONEY_MAX_TIYN] whose text parses back to the same tiyn, timestamps
 *   that survive format -> parse; the loan built from it matches it
 *   (approval_matches) when it is in the profile's currency, and its JSON
 *   answer parses back to the same amount, IIN and instants;
 * - accepted consent / verification / control call / cancellation /
 *   disbursement bodies hold what their parsers promise.
 */
#include <stdbool.h>
#include <string.h>

#include "codec.h"
#include "fuzz_util.h"
#include "iin.h"
#include "money.h"
#include "payee.h"
#include "policy.h"
#include "timeutil.h"

static void check_error(const struct cd_error *err, int status, const char *what)
{
	FUZZ_CHECK(err->status == status, "%s: status %d, expected %d (%s)", what, err->status,
	           status, err->message);
	FUZZ_CHECK(err->code != NULL && err->code[0] != '\0', "%s: no error code", what);
	FUZZ_CHECK(fuzz_terminated(err->field, sizeof(err->field)), "%s: field unterminated", what);
	FUZZ_CHECK(fuzz_terminated(err->message, sizeof(err->message)) && err->message[0] != '\0',
	           "%s: message unterminated or empty", what);
}

static void check_ts(int64_t t, const char *what)
{
	char out[TS_BUF];
	int64_t back = 0;

	if (t == TS_NULL)
		return;
	ts_format_utc(t, out);
	FUZZ_CHECK(ts_parse_rfc3339(out, &back, NULL) && back == t, "%s %lld -> \"%s\" -> %lld",
	           what, (long long)t, out, (long long)back);
}

/* The answer's "field" is the string s (or null for TS_NULL instants). */
static void check_answer_ts(const json_t *loan, const char *field, int64_t t)
{
	const json_t *v = json_object_get(loan, field);
	int64_t back = 0;

	if (t == TS_NULL) {
		FUZZ_CHECK(json_is_null(v), "answer's %s is not null", field);
		return;
	}
	FUZZ_CHECK(json_is_string(v) && ts_parse_rfc3339(json_string_value(v), &back, NULL) &&
	               back == t,
	           "answer's %s does not give back %lld", field, (long long)t);
}

static void check_approval(const struct approval_req *r)
{
	char amount[MONEY_BUF];
	int64_t back = 0;

	FUZZ_CHECK(id_valid(r->loan_id), "loan_id \"%s\" accepted", r->loan_id);
	FUZZ_CHECK(iin_valid(r->borrower_iin, NULL), "borrower_iin \"%s\" accepted",
	           r->borrower_iin);
	FUZZ_CHECK(r->amount_tiyn > 0 && r->amount_tiyn <= MONEY_MAX_TIYN, "amount %lld",
	           (long long)r->amount_tiyn);
	money_format(r->amount_tiyn, amount);
	FUZZ_CHECK(money_parse(amount, &back, NULL) && back == r->amount_tiyn,
	           "amount %lld -> \"%s\" -> %lld", (long long)r->amount_tiyn, amount,
	           (long long)back);
	FUZZ_CHECK(r->channel == CHANNEL_ONLINE || r->channel == CHANNEL_BRANCH, "channel %d",
	           (int)r->channel);
	check_ts(r->approved_at, "approved_at");
	check_ts(r->consent_at, "consent_at");

	/* The loan as the daemon would record it, and its answer. */
	const int64_t now = INT64_C(1750000000000000); /* 2025-06-15T15:06:40Z */
	struct policy p;
	struct loan l;
	struct loan_view v;

	FUZZ_CHECK(policy_profile("kz-card", &p), "no kz-card profile");
	/* The codec takes any currency code; the profile's choice is
	 * loan_approval_decide()'s, which builds no loan from another one
	 * (422 currency, tests/unit/test_loan.c). */
	if (strcmp(r->currency, policy_currency(&p)) != 0)
		return;
	memset(&l, 0, sizeof(l));
	snprintf(l.lender, sizeof(l.lender), "BANK1");
	memcpy(l.loan_id, r->loan_id, sizeof(l.loan_id));
	memcpy(l.borrower_iin, r->borrower_iin, sizeof(l.borrower_iin));
	l.amount_tiyn = r->amount_tiyn;
	l.channel = r->channel;
	l.secured = r->secured;
	l.first_time_given = r->has_first_time;
	l.first_time_borrower = r->has_first_time ? r->first_time_borrower : true;
	l.approved_at = r->approved_at != TS_NULL ? r->approved_at : now;
	l.consent_at = r->consent_at;
	l.in_person_verified_at = TS_NULL;
	l.disbursed_at = TS_NULL;
	l.cancelled_at = TS_NULL;
	policy_assess(&p, 3932, &l);
	l.cooling_ends_at = policy_cooling_ends_at(&l, l.consent_at);
	FUZZ_CHECK(approval_matches(r, &l), "the loan built from an approval does not match it");
	loan_evaluate(&l, now, &v);

	json_t *o = codec_loan_json(&l, &v);
	char *text = json_dumps(o, JSON_COMPACT);
	struct cd_error err;
	cd_error_clear(&err);
	FUZZ_CHECK(text != NULL, "the loan's answer does not serialise");
	json_t *again = codec_parse_body(text, strlen(text), false, &err);
	FUZZ_CHECK(again != NULL, "the loan's answer does not parse: %s", err.message);
	const json_t *a = json_object_get(again, "amount");
	FUZZ_CHECK(json_is_string(a) && money_parse(json_string_value(a), &back, NULL) &&
	               back == r->amount_tiyn,
	           "answer's amount does not give back %lld", (long long)r->amount_tiyn);
	const json_t *iin = json_object_get(again, "borrower_iin");
	FUZZ_CHECK(json_is_string(iin) && strcmp(json_string_value(iin), r->borrower_iin) == 0,
	           "answer's borrower_iin differs");
	check_answer_ts(again, "approved_at", l.approved_at);
	check_answer_ts(again, "consent_at", l.consent_at);
	json_decref(again);
	free(text);
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cd_error err;

	cd_error_clear(&err);
	json_t *body = codec_parse_body((const char *)data, size, false, &err);
	if (body == NULL) {
		check_error(&err, 400, "codec_parse_body");
		FUZZ_CHECK(strcmp(err.code, "malformed_json") == 0, "code %s", err.code);
		return 0;
	}
	FUZZ_CHECK(json_is_object(body), "codec_parse_body gave a non-object");

	struct approval_req r;
	cd_error_clear(&err);
	if (codec_parse_approval(body, &r, &err))
		check_approval(&r);
	else
		check_error(&err, 422, "codec_parse_approval");

	int64_t consent_at;
	cd_error_clear(&err);
	if (codec_parse_consent(body, &consent_at, &err))
		check_ts(consent_at, "consent_at");
	else
		check_error(&err, 422, "codec_parse_consent");

	struct verification_req vr;
	cd_error_clear(&err);
	if (codec_parse_verification(body, &vr, &err)) {
		FUZZ_CHECK(id_valid(vr.branch_id) && id_valid(vr.officer_id),
		           "verification ids \"%s\" \"%s\"", vr.branch_id, vr.officer_id);
		check_ts(vr.verified_at, "verified_at");
	} else {
		check_error(&err, 422, "codec_parse_verification");
	}

	struct control_call_req cr;
	cd_error_clear(&err);
	if (codec_parse_control_call(body, &cr, &err)) {
		FUZZ_CHECK(id_valid(cr.officer_id), "control call officer \"%s\"", cr.officer_id);
		check_ts(cr.called_at, "called_at");
	} else {
		check_error(&err, 422, "codec_parse_control_call");
	}

	char reason[801];
	memset(reason, 'x', sizeof(reason));
	cd_error_clear(&err);
	if (codec_parse_cancellation(body, reason, sizeof(reason), &err)) {
		FUZZ_CHECK(fuzz_terminated(reason, sizeof(reason)) && reason[0] != '\0',
		           "cancellation reason empty or unterminated");
		for (const unsigned char *q = (const unsigned char *)reason; *q; q++)
			FUZZ_CHECK(*q >= 0x20 && *q != 0x7f, "reason holds control byte 0x%02x",
			           *q);
	} else {
		check_error(&err, 422, "codec_parse_cancellation");
	}

	cd_error_clear(&err);
	struct disbursement_req dq;
	bool disb = codec_parse_disbursement(body, &dq, &err);
	bool only_payee = json_object_size(body) == 0 ||
	                  (json_object_size(body) == 1 && json_object_get(body, "payee") != NULL);
	FUZZ_CHECK(!disb || only_payee, "disbursement body of %zu keys accepted",
	           json_object_size(body));
	if (disb && dq.has_payee) {
		const char *why = NULL;
		FUZZ_CHECK(payee_id_valid(dq.payee.kind, dq.payee.id, &why),
		           "a payee id accepted against its rule");
		FUZZ_CHECK(!(dq.payee.kind == PAYEE_CARD && payee_looks_like_pan(dq.payee.id)),
		           "a card number accepted as a payee");
	}
	if (!disb)
		check_error(&err, 422, "codec_parse_disbursement");

	json_decref(body);
	return 0;
}

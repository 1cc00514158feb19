/*
 * Unit tests of the JSON codecs (CONTRACT.md, "Values", "Record an approval",
 * "Acts on a loan", "The loan", "Errors"): request bodies are parsed strictly
 * (unknown fields, wrong types and bad values are 422 naming the field, bad
 * JSON is 400), client timestamps are checked against the window, retries are
 * matched, and loans and errors are written in the contract's shape.
 */
#include "check_main.h"
#include "codec.h"
#include "timeutil.h"

#include <string.h>

#define IIN_OK     "900101300126"
#define IIN_BAD_CD "900101300125"

static int64_t T(const char *s)
{
	int64_t v = 0;
	const char *why = NULL;

	ck_assert_msg(ts_parse_rfc3339(s, &v, &why), "\"%s\": %s", s, why);
	return v;
}

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);

	ck_assert_msg(j != NULL, "test JSON does not parse: %s: %s", text, e.text);
	return j;
}

static void assert_invalid(const struct cd_error *err, const char *field)
{
	ck_assert_int_eq(err->status, 422);
	ck_assert_str_eq(err->code, "validation_failed");
	ck_assert_str_eq(err->field, field);
	/* The message starts with the field: "borrower_iin: bad check digit". */
	ck_assert_msg(strncmp(err->message, field, strlen(field)) == 0, "message \"%s\"",
	              err->message);
}

static const char FULL[] = "{\"loan_id\": \"LN-1\", \"borrower_iin\": \"" IIN_OK "\","
                           " \"amount\": \"600000.00\", \"currency\": \"KZT\","
                           " \"channel\": \"online\", \"secured\": false,"
                           " \"first_time_borrower\": true,"
                           " \"approved_at\": \"2025-06-15T10:00:00+05:00\","
                           " \"consent_at\": \"2025-06-15T10:05:00+05:00\"}";

static const char MINIMAL[] = "{\"loan_id\": \"LN-1\", \"borrower_iin\": \"" IIN_OK "\","
                              " \"amount\": \"600000\", \"currency\": \"KZT\","
                              " \"channel\": \"online\", \"secured\": false}";

static bool parse_approval_obj(json_t *body, struct approval_req *r, struct cd_error *err)
{
	cd_error_clear(err);
	bool ok = codec_parse_approval(body, r, err);
	json_decref(body);
	return ok;
}

static struct approval_req approval_ok(json_t *body)
{
	struct approval_req r;
	struct cd_error err;

	ck_assert_msg(parse_approval_obj(body, &r, &err), "refused: %s", err.message);
	return r;
}

static void approval_refused(json_t *body, const char *field)
{
	struct approval_req r;
	struct cd_error err;

	ck_assert_msg(!parse_approval_obj(body, &r, &err), "accepted, expected 422 on %s", field);
	assert_invalid(&err, field);
}

/* MINIMAL with one field replaced (value given as JSON text). */
static json_t *minimal_with(const char *key, const char *value_json)
{
	json_t *o = J(MINIMAL);
	json_error_t e;
	json_t *v = json_loads(value_json, JSON_DECODE_ANY, &e);

	ck_assert_msg(v != NULL, "%s: %s", value_json, e.text);
	json_object_set_new(o, key, v);
	return o;
}

static json_t *minimal_with_string(const char *key, const char *value)
{
	json_t *o = J(MINIMAL);

	json_object_set_new(o, key, json_string(value));
	return o;
}

/* ---- approval ---------------------------------------------------------- */

START_TEST(test_full_valid_approval_is_parsed)
{
	struct approval_req r = approval_ok(J(FULL));

	ck_assert_str_eq(r.loan_id, "LN-1");
	ck_assert_str_eq(r.borrower_iin, IIN_OK);
	ck_assert_int_eq(r.amount_tiyn, 60000000);
	ck_assert_int_eq(r.channel, CHANNEL_ONLINE);
	ck_assert(!r.secured);
	ck_assert(r.has_first_time);
	ck_assert(r.first_time_borrower);
	ck_assert_int_eq(r.approved_at, T("2025-06-15T05:00:00Z"));
	ck_assert_int_eq(r.consent_at, T("2025-06-15T05:05:00Z"));
}
END_TEST

START_TEST(test_minimal_approval_leaves_optional_fields_unset)
{
	struct approval_req r = approval_ok(J(MINIMAL));

	ck_assert(!r.has_first_time);
	ck_assert_int_eq(r.approved_at, TS_NULL);
	ck_assert_int_eq(r.consent_at, TS_NULL);
	ck_assert_int_eq(r.amount_tiyn, 60000000);
}
END_TEST

START_TEST(test_branch_secured_approval_is_parsed)
{
	json_t *o = minimal_with_string("channel", "branch");
	json_object_set_new(o, "secured", json_true());
	struct approval_req r = approval_ok(o);

	ck_assert_int_eq(r.channel, CHANNEL_BRANCH);
	ck_assert(r.secured);
}
END_TEST

START_TEST(test_each_required_field_missing_is_422_naming_it)
{
	static const char *const required[] = {"loan_id",  "borrower_iin", "amount",
	                                       "currency", "channel",      "secured"};

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		json_t *o = J(FULL);
		ck_assert_int_eq(json_object_del(o, required[i]), 0);
		approval_refused(o, required[i]);
	}
}
END_TEST

START_TEST(test_empty_approval_is_422_naming_a_required_field)
{
	struct approval_req r;
	struct cd_error err;

	ck_assert(!parse_approval_obj(J("{}"), &r, &err));
	ck_assert_int_eq(err.status, 422);
	ck_assert_str_eq(err.field, "loan_id");
}
END_TEST

START_TEST(test_unknown_approval_field_is_422_naming_it)
{
	approval_refused(minimal_with_string("colour", "red"), "colour");
	/* A near miss of a real name is unknown too. */
	approval_refused(minimal_with("first_time", "true"), "first_time");
	approval_refused(minimal_with("Amount", "\"1\""), "Amount");
}
END_TEST

START_TEST(test_amount_as_json_number_is_refused)
{
	approval_refused(minimal_with("amount", "600000"), "amount");
	approval_refused(minimal_with("amount", "600000.00"), "amount");
	approval_refused(minimal_with("amount", "null"), "amount");
}
END_TEST

START_TEST(test_amount_outside_the_grammar_is_refused)
{
	static const char *const bad[] = {
	    "600000.001", "-1", "+1", "1e5", "0", "0.00", "01", "", " 1", "1,5", "1000000000000"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		approval_refused(minimal_with_string("amount", bad[i]), "amount");
}
END_TEST

START_TEST(test_amount_at_the_threshold_is_exact_tiyn)
{
	ck_assert_int_eq(approval_ok(minimal_with_string("amount", "589800.01")).amount_tiyn,
	                 58980001);
	ck_assert_int_eq(approval_ok(minimal_with_string("amount", "999999999999.99")).amount_tiyn,
	                 99999999999999);
}
END_TEST

START_TEST(test_booleans_as_strings_or_numbers_are_refused)
{
	approval_refused(minimal_with("secured", "\"true\""), "secured");
	approval_refused(minimal_with("secured", "0"), "secured");
	approval_refused(minimal_with("secured", "null"), "secured");
	approval_refused(minimal_with("first_time_borrower", "\"false\""), "first_time_borrower");
	approval_refused(minimal_with("first_time_borrower", "1"), "first_time_borrower");
}
END_TEST

START_TEST(test_iin_with_bad_check_digit_is_refused_naming_borrower_iin)
{
	struct approval_req r;
	struct cd_error err;

	ck_assert(!parse_approval_obj(minimal_with_string("borrower_iin", IIN_BAD_CD), &r, &err));
	assert_invalid(&err, "borrower_iin");
	ck_assert_str_eq(err.message, "borrower_iin: bad check digit");
}
END_TEST

START_TEST(test_iin_of_wrong_shape_or_type_is_refused)
{
	approval_refused(minimal_with_string("borrower_iin", "90010130012"), "borrower_iin");
	approval_refused(minimal_with_string("borrower_iin", "9001013001260"), "borrower_iin");
	approval_refused(minimal_with_string("borrower_iin", "90010130012a"), "borrower_iin");
	approval_refused(minimal_with("borrower_iin", "900101300126"), "borrower_iin");
}
END_TEST

/* which code the profile takes is the approval's decision (test_loan) */
START_TEST(test_currency_not_a_code_is_refused)
{
	struct approval_req r = approval_ok(minimal_with_string("currency", "RUB"));
	ck_assert_str_eq(r.currency, "RUB");
	approval_refused(minimal_with_string("currency", "RU"), "currency");
	approval_refused(minimal_with_string("currency", "kzt"), "currency");
	approval_refused(minimal_with_string("currency", ""), "currency");
	approval_refused(minimal_with_string("currency", "KZT "), "currency");
}
END_TEST

START_TEST(test_channel_other_than_online_or_branch_is_refused)
{
	approval_refused(minimal_with_string("channel", "mobile"), "channel");
	approval_refused(minimal_with_string("channel", "Online"), "channel");
	approval_refused(minimal_with_string("channel", ""), "channel");
	approval_refused(minimal_with("channel", "1"), "channel");
}
END_TEST

START_TEST(test_loan_id_of_64_allowed_characters_is_accepted)
{
	char id[65];

	memset(id, 'x', 64);
	id[64] = '\0';
	ck_assert_str_eq(approval_ok(minimal_with_string("loan_id", id)).loan_id, id);
	ck_assert_str_eq(approval_ok(minimal_with_string("loan_id", "Az09._:-")).loan_id,
	                 "Az09._:-");
	ck_assert_str_eq(approval_ok(minimal_with_string("loan_id", "7")).loan_id, "7");
}
END_TEST

START_TEST(test_loan_id_with_space_65_characters_or_empty_is_refused)
{
	char id[66];

	memset(id, 'x', 65);
	id[65] = '\0';
	approval_refused(minimal_with_string("loan_id", id), "loan_id");
	approval_refused(minimal_with_string("loan_id", "LN 1"), "loan_id");
	approval_refused(minimal_with_string("loan_id", ""), "loan_id");
	approval_refused(minimal_with_string("loan_id", "LN/1"), "loan_id");
	approval_refused(minimal_with_string("loan_id", "ЗАЙМ-1"), "loan_id");
	approval_refused(minimal_with("loan_id", "1"), "loan_id");
}
END_TEST

START_TEST(test_timestamp_without_offset_is_refused)
{
	approval_refused(minimal_with_string("approved_at", "2025-06-15T10:00:00"), "approved_at");
	approval_refused(minimal_with_string("approved_at", "2025-06-15 10:00:00+05:00"),
	                 "approved_at");
	approval_refused(minimal_with("approved_at", "1750000000"), "approved_at");
	approval_refused(minimal_with_string("consent_at", "2025-06-15T10:05:00"), "consent_at");
}
END_TEST

START_TEST(test_first_time_borrower_omitted_is_not_stated)
{
	struct approval_req r = approval_ok(J(MINIMAL));
	ck_assert(!r.has_first_time);

	r = approval_ok(minimal_with("first_time_borrower", "false"));
	ck_assert(r.has_first_time);
	ck_assert(!r.first_time_borrower);

	r = approval_ok(minimal_with("first_time_borrower", "true"));
	ck_assert(r.has_first_time);
	ck_assert(r.first_time_borrower);
}
END_TEST

START_TEST(test_null_optional_fields_are_treated_as_omitted)
{
	json_t *o = J(MINIMAL);
	json_object_set_new(o, "first_time_borrower", json_null());
	json_object_set_new(o, "approved_at", json_null());
	json_object_set_new(o, "consent_at", json_null());
	struct approval_req r = approval_ok(o);

	ck_assert(!r.has_first_time);
	ck_assert_int_eq(r.approved_at, TS_NULL);
	ck_assert_int_eq(r.consent_at, TS_NULL);
}
END_TEST

START_TEST(test_null_required_field_is_refused)
{
	approval_refused(minimal_with("loan_id", "null"), "loan_id");
	approval_refused(minimal_with("currency", "null"), "currency");
	approval_refused(minimal_with("channel", "null"), "channel");
}
END_TEST

/* ---- codec_parse_body -------------------------------------------------- */

static json_t *body_ok(const char *buf, size_t len, bool empty_ok)
{
	struct cd_error err;

	cd_error_clear(&err);
	json_t *j = codec_parse_body(buf, len, empty_ok, &err);
	ck_assert_msg(j != NULL, "refused: %s", err.message);
	ck_assert(json_is_object(j));
	return j;
}

static void body_refused(const char *buf, size_t len, bool empty_ok)
{
	struct cd_error err;

	cd_error_clear(&err);
	json_t *j = codec_parse_body(buf, len, empty_ok, &err);
	ck_assert_msg(j == NULL, "accepted: \"%.*s\"", (int)len, buf);
	ck_assert_int_eq(err.status, 400);
	ck_assert_str_eq(err.code, "malformed_json");
	ck_assert_str_eq(err.field, "");
	ck_assert_str_ne(err.message, "");
}

#define BODY_OK(lit, e)      body_ok(lit, sizeof(lit) - 1, e)
#define BODY_REFUSED(lit, e) body_refused(lit, sizeof(lit) - 1, e)

START_TEST(test_empty_body_is_an_empty_object_when_allowed)
{
	json_t *j = BODY_OK("", true);
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);

	j = BODY_OK("  \r\n\t", true);
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
}
END_TEST

START_TEST(test_empty_body_is_400_when_not_allowed)
{
	BODY_REFUSED("", false);
	BODY_REFUSED("  ", false);
	BODY_REFUSED("\n", false);
}
END_TEST

START_TEST(test_object_body_is_parsed)
{
	json_t *j = BODY_OK("{\"a\": 1, \"b\": \"ж\"}", false);
	ck_assert_int_eq(json_object_size(j), 2);
	ck_assert_str_eq(json_string_value(json_object_get(j, "b")), "ж");
	json_decref(j);

	j = BODY_OK(" {} \n", false);
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
}
END_TEST

START_TEST(test_body_is_read_up_to_its_length_only)
{
	json_t *j = body_ok("{}garbage", 2, false);
	json_decref(j);
}
END_TEST

START_TEST(test_json_that_is_not_an_object_is_400)
{
	BODY_REFUSED("[]", false);
	BODY_REFUSED("[]", true);
	BODY_REFUSED("1", false);
	BODY_REFUSED("\"x\"", false);
	BODY_REFUSED("null", true);
	BODY_REFUSED("true", false);
}
END_TEST

START_TEST(test_broken_json_is_400)
{
	BODY_REFUSED("{", false);
	BODY_REFUSED("{", true);
	BODY_REFUSED("{\"a\":}", false);
	BODY_REFUSED("{'a': 1}", false);
	BODY_REFUSED("{\"a\": 1,}", false);
	BODY_REFUSED("{} {}", false);
	BODY_REFUSED("{} x", false);
}
END_TEST

START_TEST(test_duplicate_keys_are_400)
{
	BODY_REFUSED("{\"a\":1,\"a\":2}", false);
	BODY_REFUSED("{\"amount\":\"1\",\"amount\":\"999999\"}", false);
}
END_TEST

START_TEST(test_invalid_utf8_is_400)
{
	BODY_REFUSED("{\"a\":\"\xff\"}", false);
	BODY_REFUSED("{\"a\":\"\xc0\xaf\"}", false);     /* overlong '/' */
	BODY_REFUSED("{\"a\":\"\xed\xa0\x80\"}", false); /* UTF-16 surrogate */
	BODY_REFUSED("{\"a\":\"\xe2\x82\"}", false);     /* truncated sequence */
	BODY_REFUSED("{\"\xfe\":1}", false);
	BODY_REFUSED("{\"a\":\"\\ud800\"}", false); /* lone surrogate escape */
}
END_TEST

START_TEST(test_nul_in_body_or_strings_is_400)
{
	BODY_REFUSED("{\"a\":\"\\u0000\"}", false);
	BODY_REFUSED("{\"a\":1}\0", false);
}
END_TEST

/* ---- consent, verification, cancellation, disbursement ----------------- */

START_TEST(test_consent_body_may_be_empty_or_give_consent_at)
{
	struct cd_error err;
	int64_t at = 0;
	json_t *o = J("{}");

	ck_assert(codec_parse_consent(o, &at, &err));
	ck_assert_int_eq(at, TS_NULL);
	json_decref(o);

	o = J("{\"consent_at\": \"2025-06-15T10:05:00+05:00\"}");
	ck_assert(codec_parse_consent(o, &at, &err));
	ck_assert_int_eq(at, T("2025-06-15T05:05:00Z"));
	json_decref(o);

	o = J("{\"consent_at\": null}");
	ck_assert(codec_parse_consent(o, &at, &err));
	ck_assert_int_eq(at, TS_NULL);
	json_decref(o);
}
END_TEST

START_TEST(test_consent_with_unknown_field_or_bad_time_is_refused)
{
	struct cd_error err;
	int64_t at = 0;
	json_t *o = J("{\"consent_at\": \"2025-06-15T10:05:00+05:00\", \"by\": \"x\"}");

	ck_assert(!codec_parse_consent(o, &at, &err));
	assert_invalid(&err, "by");
	json_decref(o);

	o = J("{\"consent_at\": \"2025-06-15T10:05:00\"}");
	ck_assert(!codec_parse_consent(o, &at, &err));
	assert_invalid(&err, "consent_at");
	json_decref(o);

	o = J("{\"consent_at\": 1750000000}");
	ck_assert(!codec_parse_consent(o, &at, &err));
	assert_invalid(&err, "consent_at");
	json_decref(o);
}
END_TEST

START_TEST(test_reconfirmation_takes_an_optional_method_of_the_four_channels)
{
	static const char *const names[] = {"branch", "egov", "credit_bureau", "lender_app"};
	struct reconfirmation_req q;
	struct cd_error err;
	json_t *o = J("{}");
	ck_assert(codec_parse_reconfirmation(o, &q, &err));
	ck_assert(!q.has_method);
	ck_assert_int_eq(q.reconfirmed_at, TS_NULL);
	json_decref(o);
	o = J("{\"method\": null, \"reconfirmed_at\": \"2025-06-16T10:06:00+05:00\"}");
	ck_assert(codec_parse_reconfirmation(o, &q, &err));
	ck_assert(!q.has_method);
	ck_assert_int_eq(q.reconfirmed_at, T("2025-06-16T05:06:00Z"));
	json_decref(o);
	for (int i = 0; i < 4; i++) {
		char text[64];
		snprintf(text, sizeof text, "{\"method\": \"%s\"}", names[i]);
		o = J(text);
		ck_assert(codec_parse_reconfirmation(o, &q, &err));
		ck_assert(q.has_method);
		ck_assert_int_eq(q.method, i);
		ck_assert_str_eq(name_of(&extra_method_names, (int)q.method), names[i]);
		json_decref(o);
	}
	static const char *const bad[] = {"{\"method\": \"fax\"}", "{\"method\": \"Egov\"}",
	                                  "{\"method\": \"\"}", "{\"method\": 1}",
	                                  "{\"method\": false}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o = J(bad[i]);
		ck_assert_msg(!codec_parse_reconfirmation(o, &q, &err), "%s accepted", bad[i]);
		assert_invalid(&err, "method");
		json_decref(o);
	}
}
END_TEST

static bool verification(const char *text, struct verification_req *r, struct cd_error *err)
{
	json_t *o = J(text);
	cd_error_clear(err);
	bool ok = codec_parse_verification(o, r, err);
	json_decref(o);
	return ok;
}

START_TEST(test_verification_is_parsed)
{
	struct verification_req r;
	struct cd_error err;

	ck_assert(verification("{\"branch_id\": \"ALA-01\", \"officer_id\": \"off.7\","
	                       " \"verified_at\": \"2025-06-15T11:00:00+05:00\"}",
	                       &r, &err));
	ck_assert_str_eq(r.branch_id, "ALA-01");
	ck_assert_str_eq(r.officer_id, "off.7");
	ck_assert_int_eq(r.verified_at, T("2025-06-15T06:00:00Z"));

	ck_assert(verification("{\"branch_id\": \"B\", \"officer_id\": \"O\"}", &r, &err));
	ck_assert_int_eq(r.verified_at, TS_NULL);
	ck_assert(verification(
	    "{\"branch_id\": \"B\", \"officer_id\": \"O\", \"verified_at\": null}", &r, &err));
	ck_assert_int_eq(r.verified_at, TS_NULL);
}
END_TEST

START_TEST(test_verification_needs_branch_and_officer)
{
	struct verification_req r;
	struct cd_error err;

	ck_assert(!verification("{\"officer_id\": \"O\"}", &r, &err));
	assert_invalid(&err, "branch_id");
	ck_assert(!verification("{\"branch_id\": \"B\"}", &r, &err));
	assert_invalid(&err, "officer_id");
	ck_assert(!verification("{\"branch_id\": \"B 1\", \"officer_id\": \"O\"}", &r, &err));
	assert_invalid(&err, "branch_id");
	ck_assert(!verification("{\"branch_id\": \"B\", \"officer_id\": \"\"}", &r, &err));
	assert_invalid(&err, "officer_id");
}
END_TEST

START_TEST(test_verification_with_unknown_field_or_bad_time_is_refused)
{
	struct verification_req r;
	struct cd_error err;

	ck_assert(!verification("{\"branch_id\": \"B\", \"officer_id\": \"O\", \"photo\": \"x\"}",
	                        &r, &err));
	assert_invalid(&err, "photo");
	ck_assert(!verification("{\"branch_id\": \"B\", \"officer_id\": \"O\","
	                        " \"verified_at\": \"yesterday\"}",
	                        &r, &err));
	assert_invalid(&err, "verified_at");
}
END_TEST

/* A string of n copies of the UTF-8 sequence `unit`. */
static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

static bool cancellation(json_t *reason_value, char *out, size_t out_size, struct cd_error *err)
{
	json_t *o = json_object();
	json_object_set_new(o, "reason", reason_value);
	cd_error_clear(err);
	bool ok = codec_parse_cancellation(o, out, out_size, err);
	json_decref(o);
	return ok;
}

static void reason_ok(const char *reason)
{
	struct loan l; /* the reason goes into loan.cancel_reason */
	struct cd_error err;

	ck_assert_msg(
	    cancellation(json_string(reason), l.cancel_reason, sizeof(l.cancel_reason), &err),
	    "refused: %s", err.message);
	ck_assert_str_eq(l.cancel_reason, reason);
}

static void reason_refused(json_t *reason_value)
{
	struct loan l;
	struct cd_error err;

	ck_assert(reason_value != NULL);
	ck_assert_msg(!cancellation(reason_value, l.cancel_reason, sizeof(l.cancel_reason), &err),
	              "reason accepted");
	assert_invalid(&err, "reason");
}

START_TEST(test_reason_of_1_to_200_characters_is_accepted)
{
	char *s = repeat("a", 200);

	reason_ok("x");
	reason_ok("borrower called: fraud suspected");
	reason_ok(s);
	free(s);
}
END_TEST

START_TEST(test_reason_of_200_multibyte_characters_is_accepted)
{
	char *cyr = repeat("ж", 200);   /* 2 bytes each */
	char *kaz = repeat("ә", 200);   /* 2 bytes each */
	char *cjk = repeat("語", 200);  /* 3 bytes each */
	char *emoji = repeat("😀", 200); /* 4 bytes each */

	reason_ok(cyr);
	reason_ok(kaz);
	reason_ok(cjk);
	reason_ok(emoji);
	reason_ok("Заёмщик отказался: звонили «из полиции»");
	free(cyr);
	free(kaz);
	free(cjk);
	free(emoji);
}
END_TEST

START_TEST(test_reason_empty_or_over_200_characters_is_refused)
{
	char *a = repeat("a", 201);
	char *cyr = repeat("ж", 201);

	reason_refused(json_string(""));
	reason_refused(json_string(a));
	reason_refused(json_string(cyr));
	free(a);
	free(cyr);
}
END_TEST

START_TEST(test_reason_with_control_characters_is_refused)
{
	reason_refused(json_string("line\nbreak"));
	reason_refused(json_string("tab\there"));
	reason_refused(json_string("bell\x07"));
	reason_refused(json_string("esc\x1b[31m"));
	reason_refused(json_string("del\x7f"));
	reason_refused(json_stringn("nul\0byte", 8));
}
END_TEST

START_TEST(test_reason_with_c1_control_characters_is_refused)
{
	reason_refused(json_string("csi\xc2\x9b"
	                           "31m"));
	reason_refused(json_string("next\xc2\x85line"));
}
END_TEST

START_TEST(test_reason_must_be_a_string_and_is_required)
{
	struct cd_error err;
	char out[801];
	json_t *o = J("{}");

	reason_refused(json_integer(1));
	reason_refused(json_null());
	ck_assert(!codec_parse_cancellation(o, out, sizeof(out), &err));
	assert_invalid(&err, "reason");
	json_decref(o);
}
END_TEST

START_TEST(test_cancellation_with_unknown_field_is_refused)
{
	struct cd_error err;
	char out[801];
	json_t *o = J("{\"reason\": \"x\", \"by\": \"borrower\"}");

	ck_assert(!codec_parse_cancellation(o, out, sizeof(out), &err));
	assert_invalid(&err, "by");
	json_decref(o);
}
END_TEST

START_TEST(test_disbursement_body_takes_only_a_payee)
{
	struct cd_error err;
	struct disbursement_req q;
	json_t *o = J("{}");

	ck_assert(codec_parse_disbursement(o, &q, &err));
	ck_assert(!q.has_payee);
	json_decref(o);

	o = J("{\"amount\": \"600000.00\"}");
	ck_assert(!codec_parse_disbursement(o, &q, &err));
	assert_invalid(&err, "amount");
	json_decref(o);

	o = J("{\"force\": null}");
	ck_assert(!codec_parse_disbursement(o, &q, &err));
	assert_invalid(&err, "force");
	json_decref(o);
}
END_TEST

START_TEST(test_disbursement_payee_is_read_with_its_optional_owner)
{
	struct cd_error err;
	struct disbursement_req q;
	json_t *o = J("{\"payee\": {\"kind\": \"account\", \"id\": \"KZ86125KZT5004100100\", "
	              "\"owner_iin\": \"900101300126\"}}");
	ck_assert(codec_parse_disbursement(o, &q, &err));
	ck_assert(q.has_payee);
	ck_assert_int_eq(q.payee.kind, PAYEE_ACCOUNT);
	ck_assert_str_eq(q.payee.id, "KZ86125KZT5004100100");
	ck_assert(q.payee.has_owner);
	ck_assert_str_eq(q.payee.owner_iin, "900101300126");
	json_decref(o);

	o = J("{\"payee\": {\"kind\": \"wallet\", \"id\": \"W:77010000000\"}}");
	ck_assert(codec_parse_disbursement(o, &q, &err));
	ck_assert_int_eq(q.payee.kind, PAYEE_WALLET);
	ck_assert(!q.payee.has_owner);
	json_t *j = codec_payee_json(&q.payee);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "wallet");
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "W:77010000000");
	ck_assert(json_is_null(json_object_get(j, "owner_iin")));
	json_decref(j);
	json_decref(o);
}
END_TEST

/* Each bad payee names its own field. */
START_TEST(test_disbursement_bad_payee_is_422_naming_payee_or_its_key)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
	    {"{\"payee\": null}", "payee"},
	    {"{\"payee\": \"KZ86125KZT5004100100\"}", "payee"},
	    {"{\"payee\": {\"id\": \"A1\"}}", "payee.kind"},
	    {"{\"payee\": {\"kind\": \"iban\", \"id\": \"A1\"}}", "payee.kind"},
	    {"{\"payee\": {\"kind\": 1, \"id\": \"A1\"}}", "payee.kind"},
	    {"{\"payee\": {\"kind\": \"account\"}}", "payee.id"},
	    {"{\"payee\": {\"kind\": \"account\", \"id\": \"\"}}", "payee.id"},
	    {"{\"payee\": {\"kind\": \"account\", \"id\": \"KZ 86\"}}", "payee.id"},
	    {"{\"payee\": {\"kind\": \"account\", \"id\": \"..\"}}", "payee.id"},
	    {"{\"payee\": {\"kind\": \"account\", \"id\": "
	     "\"A1234567890123456789012345678901234567890123456789012345678901234\"}}",
	     "payee.id"},
	    {"{\"payee\": {\"kind\": \"account\", \"id\": \"A1\", \"owner_iin\": "
	     "\"900101300127\"}}",
	     "payee.owner_iin"},
	    {"{\"payee\": {\"kind\": \"account\", \"id\": \"A1\", \"owner_iin\": null}}",
	     "payee.owner_iin"},
	    {"{\"payee\": {\"kind\": \"account\", \"id\": \"A1\", \"bank\": \"X\"}}", "payee.bank"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cd_error err;
		struct disbursement_req q;
		json_t *o = J(cases[i].body);
		ck_assert_msg(!codec_parse_disbursement(o, &q, &err), "%s", cases[i].body);
		assert_invalid(&err, cases[i].field);
		json_decref(o);
	}
}
END_TEST

/* A card is the lender's token or hash of it: a number of 13-19 digits is
 * refused, and the message never repeats it. */
START_TEST(test_disbursement_card_id_of_13_to_19_digits_is_422_and_not_echoed)
{
	static const char *const pans[] = {"4111111111111", "4111111111111111",
	                                   "4111111111111111111"};
	for (size_t i = 0; i < sizeof(pans) / sizeof(pans[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "{\"payee\": {\"kind\": \"card\", \"id\": \"%s\"}}",
		         pans[i]);
		struct cd_error err;
		struct disbursement_req q;
		json_t *o = J(body);
		ck_assert_msg(!codec_parse_disbursement(o, &q, &err), "%s", pans[i]);
		assert_invalid(&err, "payee.id");
		ck_assert_ptr_null(strstr(err.message, pans[i]));
		ck_assert_ptr_null(strstr(err.message, "411111"));
		json_decref(o);
	}
	/* 12 or 20 digits are not a card number; a token with letters is
	 * none either; the same digits name an account */
	static const char *const ok[][2] = {{"card", "411111111111"},
	                                    {"card", "41111111111111111111"},
	                                    {"card", "tok_4111111111111111"},
	                                    {"account", "4111111111111111"},
	                                    {"wallet", "4111111111111111"}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "{\"payee\": {\"kind\": \"%s\", \"id\": \"%s\"}}",
		         ok[i][0], ok[i][1]);
		struct cd_error err;
		struct disbursement_req q;
		json_t *o = J(body);
		ck_assert_msg(codec_parse_disbursement(o, &q, &err), "%s: %s", body, err.message);
		json_decref(o);
	}
}
END_TEST

/* ---- Idempotency-Key --------------------------------------------------- */

START_TEST(test_idempotency_key_of_1_to_64_printable_ascii_is_valid)
{
	char k64[65];

	memset(k64, 'k', 64);
	k64[64] = '\0';
	ck_assert(idempotency_key_valid("a"));
	ck_assert(idempotency_key_valid(k64));
	ck_assert(idempotency_key_valid("6f1c2e0a-9d7b-4c1e-8f00-1234567890ab"));
	ck_assert(idempotency_key_valid("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"));
}
END_TEST

START_TEST(test_idempotency_key_empty_too_long_or_not_printable_is_invalid)
{
	char k65[66];

	memset(k65, 'k', 65);
	k65[65] = '\0';
	ck_assert(!idempotency_key_valid(""));
	ck_assert(!idempotency_key_valid(k65));
	ck_assert(!idempotency_key_valid("a b"));
	ck_assert(!idempotency_key_valid(" "));
	ck_assert(!idempotency_key_valid("a\tb"));
	ck_assert(!idempotency_key_valid("a\x7f"));
	ck_assert(!idempotency_key_valid("ключ"));
}
END_TEST

/* ---- timestamp window and consent order -------------------------------- */

START_TEST(test_timestamp_at_exactly_now_plus_skew_is_accepted)
{
	struct cd_error err;
	int64_t now = T("2025-06-15T10:00:00+05:00");

	ck_assert(ts_check_window(now, now, 120, 3600, "approved_at", &err));
	ck_assert(ts_check_window(now + 120 * USEC_PER_SEC, now, 120, 3600, "approved_at", &err));
}
END_TEST

START_TEST(test_timestamp_one_microsecond_beyond_skew_is_refused)
{
	struct cd_error err;
	int64_t now = T("2025-06-15T10:00:00+05:00");

	cd_error_clear(&err);
	ck_assert(
	    !ts_check_window(now + 120 * USEC_PER_SEC + 1, now, 120, 3600, "approved_at", &err));
	assert_invalid(&err, "approved_at");
}
END_TEST

START_TEST(test_timestamp_at_exactly_now_minus_backdate_is_accepted)
{
	struct cd_error err;
	int64_t now = T("2025-06-15T10:00:00+05:00");

	ck_assert(ts_check_window(now - 3600 * USEC_PER_SEC, now, 120, 3600, "consent_at", &err));
}
END_TEST

START_TEST(test_timestamp_one_microsecond_beyond_backdate_is_refused)
{
	struct cd_error err;
	int64_t now = T("2025-06-15T10:00:00+05:00");

	cd_error_clear(&err);
	ck_assert(
	    !ts_check_window(now - 3600 * USEC_PER_SEC - 1, now, 120, 3600, "consent_at", &err));
	assert_invalid(&err, "consent_at");
}
END_TEST

START_TEST(test_zero_skew_and_backdate_accept_only_now)
{
	struct cd_error err;
	int64_t now = T("2025-06-15T10:00:00+05:00");

	ck_assert(ts_check_window(now, now, 0, 0, "verified_at", &err));
	ck_assert(!ts_check_window(now + 1, now, 0, 0, "verified_at", &err));
	ck_assert(!ts_check_window(now - 1, now, 0, 0, "verified_at", &err));
	assert_invalid(&err, "verified_at");
}
END_TEST

START_TEST(test_consent_may_precede_approval_by_at_most_the_skew)
{
	struct cd_error err;
	int64_t a = T("2025-06-15T10:00:00+05:00");

	ck_assert(consent_check_order(a, a, 120, &err));
	ck_assert(consent_check_order(a + 3600 * USEC_PER_SEC, a, 120, &err));
	ck_assert(consent_check_order(a - 120 * USEC_PER_SEC, a, 120, &err));
	cd_error_clear(&err);
	ck_assert(!consent_check_order(a - 120 * USEC_PER_SEC - 1, a, 120, &err));
	assert_invalid(&err, "consent_at");
}
END_TEST

/* ---- values refused since v1.1 ----------------------------------------- */

START_TEST(test_loan_id_dot_and_dot_dot_are_refused)
{
	approval_refused(minimal_with_string("loan_id", "."), "loan_id");
	approval_refused(minimal_with_string("loan_id", ".."), "loan_id");
	ck_assert_str_eq(approval_ok(minimal_with_string("loan_id", "...")).loan_id, "...");
	ck_assert_str_eq(approval_ok(minimal_with_string("loan_id", ".a")).loan_id, ".a");
	ck_assert(!id_valid("."));
	ck_assert(!id_valid(".."));
	ck_assert(!id_valid(""));
	ck_assert(id_valid("BANK1"));
	ck_assert(id_valid("..."));
}
END_TEST

START_TEST(test_reason_of_only_white_space_is_refused)
{
	reason_refused(json_string(" "));
	reason_refused(json_string("     "));
	reason_refused(json_string("\xc2\xa0"));                  /* U+00A0 no-break space */
	reason_refused(json_string("\xe3\x80\x80 \xe2\x80\x83")); /* ideographic, em space */
	reason_refused(json_string("\xe2\x80\x8b"));              /* zero-width space */
	reason_ok(" x ");
	reason_ok("\xc2\xa0\xd0\xb0"); /* a no-break space and a Cyrillic a */
	ck_assert(text_blank(""));
	ck_assert(!text_blank("a"));
}
END_TEST

START_TEST(test_an_act_may_precede_approval_by_at_most_the_skew)
{
	struct cd_error err;
	int64_t a = T("2025-06-15T10:00:00+05:00");

	cd_error_clear(&err);
	ck_assert(ts_check_after_approval(a - 120 * USEC_PER_SEC, a, 120, "verified_at", &err));
	ck_assert(ts_check_after_approval(a + 60 * USEC_PER_SEC, a, 120, "verified_at", &err));
	ck_assert(!ts_check_after_approval(a - 121 * USEC_PER_SEC, a, 120, "verified_at", &err));
	assert_invalid(&err, "verified_at");
}
END_TEST

/* ---- approval_matches -------------------------------------------------- */

static struct loan recorded_loan(void)
{
	struct loan l;

	memset(&l, 0, sizeof(l));
	strcpy(l.lender, "BANK1");
	strcpy(l.loan_id, "LN-1");
	strcpy(l.borrower_iin, IIN_OK);
	l.amount_tiyn = 60000000;
	strcpy(l.currency, "KZT");
	l.channel = CHANNEL_ONLINE;
	l.secured = false;
	l.first_time_borrower = true;
	l.first_time_given = true;
	l.approved_at = T("2025-06-15T10:00:00+05:00");
	l.consent_at = T("2025-06-15T10:05:00+05:00");
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

START_TEST(test_retry_with_the_same_facts_matches)
{
	struct loan l = recorded_loan();
	struct approval_req r = approval_ok(J(FULL));

	ck_assert(approval_matches(&r, &l));
}
END_TEST

START_TEST(test_retry_with_other_facts_does_not_match)
{
	struct loan l = recorded_loan();
	struct approval_req r;

	r = approval_ok(J(FULL));
	r.amount_tiyn += 1;
	ck_assert(!approval_matches(&r, &l));

	r = approval_ok(J(FULL));
	strcpy(r.borrower_iin, "900101300811");
	ck_assert(!approval_matches(&r, &l));

	r = approval_ok(J(FULL));
	r.channel = CHANNEL_BRANCH;
	ck_assert(!approval_matches(&r, &l));

	r = approval_ok(J(FULL));
	r.secured = true;
	ck_assert(!approval_matches(&r, &l));

	r = approval_ok(J(FULL));
	r.first_time_borrower = false;
	ck_assert(!approval_matches(&r, &l));

	r = approval_ok(J(FULL));
	r.approved_at += 1;
	ck_assert(!approval_matches(&r, &l));

	r = approval_ok(J(FULL));
	r.consent_at += USEC_PER_SEC;
	ck_assert(!approval_matches(&r, &l));
}
END_TEST

START_TEST(test_retry_omitting_optional_fields_matches)
{
	struct loan l = recorded_loan();
	struct approval_req r = approval_ok(J(MINIMAL));

	/* first_time_borrower, approved_at and consent_at were left out. */
	ck_assert(approval_matches(&r, &l));

	/* ... also when the recorded first-time flag was derived. */
	l.first_time_given = false;
	l.first_time_borrower = false;
	ck_assert(approval_matches(&r, &l));
}
END_TEST

START_TEST(test_retry_stating_first_time_when_it_was_derived_does_not_match)
{
	struct loan l = recorded_loan();
	struct approval_req r = approval_ok(J(FULL));

	l.first_time_given = false;
	ck_assert(!approval_matches(&r, &l));
}
END_TEST

/* ---- list cursor and counts ------------------------------------------- */

START_TEST(test_cursor_round_trips_the_position)
{
	static const int64_t ats[] = {0, 1, 1750000000000000, -86400000000, 253402300799999999};
	static const int64_t ids[] = {1, 42, 999999999999999999};

	for (size_t i = 0; i < sizeof(ats) / sizeof(ats[0]); i++) {
		for (size_t j = 0; j < sizeof(ids) / sizeof(ids[0]); j++) {
			char cur[CURSOR_BUF];
			int64_t at = -7, id = -7;

			cursor_encode(ats[i], ids[j], cur);
			ck_assert_msg(cursor_decode(cur, &at, &id), "\"%s\" refused", cur);
			ck_assert_int_eq(at, ats[i]);
			ck_assert_int_eq(id, ids[j]);
		}
	}
}
END_TEST

START_TEST(test_cursor_is_url_safe)
{
	char cur[CURSOR_BUF];

	cursor_encode(-1750000000123456, 999999999999999999, cur);
	ck_assert_uint_gt(strlen(cur), 0);
	ck_assert_uint_eq(strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                              "0123456789-_"),
	                  strlen(cur));
}
END_TEST

START_TEST(test_cursor_that_was_not_issued_is_refused)
{
	char cur[CURSOR_BUF], longer[CURSOR_BUF + 8];
	int64_t at, id;

	ck_assert(!cursor_decode("", &at, &id));
	ck_assert(!cursor_decode("!!!!", &at, &id));
	/* "1:1" is a position; "1:0" is not (row ids start at 1). */
	ck_assert(cursor_decode("MTox", &at, &id));
	ck_assert_int_eq(at, 1);
	ck_assert_int_eq(id, 1);
	cursor_encode(1, 0, cur);
	ck_assert(!cursor_decode(cur, &at, &id));
	ck_assert(!cursor_decode("MTIz", &at, &id));    /* "123": no colon */
	ck_assert(!cursor_decode("YToxMjM", &at, &id)); /* "a:123" */
	ck_assert(!cursor_decode("MTox=", &at, &id));   /* padding */
	memset(longer, 'A', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	ck_assert(!cursor_decode(longer, &at, &id));
}
END_TEST

/* ---- codec_loan_json and codec_error_json ------------------------------ */

/* The loan of the contract's example, as recorded, at 06:00Z. */
static struct loan contract_loan(void)
{
	struct policy p;
	struct loan l;

	ck_assert(policy_profile("kz-card", &p));
	l = recorded_loan();
	l.borrower_age = 35; /* born 1990-01-01, approved 2025-06-15 */
	policy_assess(&p, 3932, &l);
	l.cooling_ends_at = policy_cooling_ends_at(&l, l.consent_at);
	return l;
}

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* The contract's example loan, re-serialised compactly in its own order. */
static const char CONTRACT_LOAN[] =
    "{ \"lender\": \"BANK1\", \"loan_id\": \"LN-1\", \"borrower_iin\": \"900101300126\","
    "  \"amount\": \"600000.00\", \"currency\": \"KZT\", \"channel\": \"online\","
    "  \"secured\": false, \"first_time_borrower\": true,"
    "  \"status\": \"cooling\","
    "  \"cooling_required\": true, \"cooling_period_seconds\": 86400,"
    "  \"threshold_amount\": \"589800.00\", \"mrp\": 3932, \"policy\": \"kz-card\","
    "  \"approved_at\": \"2025-06-15T05:00:00Z\", \"consent_at\": \"2025-06-15T05:05:00Z\","
    "  \"cooling_ends_at\": \"2025-06-16T05:05:00Z\","
    "  \"in_person_required\": true, \"in_person_verified_at\": null,"
    "  \"disbursed_at\": null, \"cancelled_at\": null,"
    /* v1.1: the new fields, with their kz-card values */
    "  \"lender_kind\": \"bank\", \"product\": \"consumer\", \"exemption\": null,"
    "  \"aggregated_amount\": \"600000.00\", \"rule\": \"card\", \"borrower_age\": 35,"
    "  \"extra_confirmation_required\": false, \"extra_confirmed_at\": null,"
    "  \"extra_confirmation_method\": null,"
    "  \"reconfirmation_required\": false, \"reconfirmed_at\": null,"
    "  \"blockers\": [\"cooling_period_active\", \"in_person_verification_missing\"],"
    "  \"earliest_disbursement_at\": \"2025-06-16T05:05:00Z\","
    "  \"voluntary_refusal_active\": false,"
    /* v1.2 */
    "  \"in_person_reasons\": [\"first_time\"], \"fraud_claim_open\": false,"
    "  \"reconfirmation_method\": null, \"trusted_person_confirmed_at\": null,"
    "  \"control_call_required\": false, \"control_called_at\": null,"
    "  \"control_call_officer_id\": null,"
    "  \"cooling_calendar_zone\": null }";

/* The approval_recorded event's detail: every key with the loan's own JSON
 * form, nulls where the loan has no value; a buffer too small is cut short
 * and says how much it needed. */
START_TEST(test_approval_detail_holds_the_loan_in_its_own_forms)
{
	struct loan l = contract_loan();
	char buf[APPROVAL_DETAIL_BUF];
	size_t n = codec_approval_detail_write(&l, buf, sizeof buf);
	ck_assert_uint_lt(n, sizeof buf);
	ck_assert_uint_eq(n, strlen(buf));
	json_t *got = J(buf);
	json_t *want =
	    J("{\"amount\": \"600000.00\", \"channel\": \"online\", \"secured\": false,"
	      " \"first_time_borrower\": true, \"cooling_required\": true,"
	      " \"cooling_period_seconds\": 86400, \"threshold_amount\": \"589800.00\","
	      " \"mrp\": 3932, \"policy\": \"kz-card\","
	      " \"approved_at\": \"2025-06-15T05:00:00Z\","
	      " \"consent_at\": \"2025-06-15T05:05:00Z\","
	      " \"cooling_ends_at\": \"2025-06-16T05:05:00Z\", \"in_person_required\": true,"
	      " \"product\": \"consumer\", \"lender_kind\": \"bank\", \"exemption\": null,"
	      " \"aggregated_amount\": \"600000.00\", \"rule\": \"card\","
	      " \"borrower_age\": 35, \"reconfirmation_required\": false,"
	      " \"extra_confirmation_required\": false}");
	ck_assert_msg(json_equal(got, want), "detail: %s", buf);
	json_decref(got);

	/* no cooling: no period, no end; an age not known */
	l.cooling_required = false;
	l.borrower_age = -1;
	n = codec_approval_detail_write(&l, buf, sizeof buf);
	ck_assert_uint_lt(n, sizeof buf);
	got = J(buf);
	json_object_set_new(want, "cooling_required", json_false());
	json_object_set_new(want, "cooling_period_seconds", json_null());
	json_object_set_new(want, "cooling_ends_at", json_null());
	json_object_set_new(want, "borrower_age", json_null());
	ck_assert_msg(json_equal(got, want), "detail: %s", buf);
	json_decref(got);
	json_decref(want);

	char small[16];
	ck_assert_uint_eq(codec_approval_detail_write(&l, small, sizeof small), n);
	ck_assert_uint_eq(strlen(small), sizeof small - 1);
}
END_TEST

START_TEST(test_loan_json_has_the_contract_fields_in_the_contract_order)
{
	struct loan l = contract_loan();
	struct loan_view v;
	loan_evaluate(&l, T("2025-06-15T06:00:00Z"), &v);
	json_t *got = codec_loan_json(&l, &v);
	json_t *want = J(CONTRACT_LOAN);

	/* Same keys in the same order. */
	void *gi = json_object_iter(got), *wi = json_object_iter(want);
	for (; gi != NULL && wi != NULL;
	     gi = json_object_iter_next(got, gi), wi = json_object_iter_next(want, wi))
		ck_assert_str_eq(json_object_iter_key(gi), json_object_iter_key(wi));
	ck_assert_msg(gi == NULL && wi == NULL, "different number of fields");

	/* Same values, except earliest_disbursement_at: the contract's example
	 * shows the loan as if the visit had happened (its own blockers say
	 * null); ours says null as the contract's rule requires. */
	json_object_set_new(want, "earliest_disbursement_at", json_null());
	ck_assert_msg(json_equal(got, want), "got %s", dump(got));
	json_decref(got);
	json_decref(want);
}
END_TEST

START_TEST(test_loan_json_of_cooling_only_loan_gives_earliest_as_cooling_ends_at)
{
	struct loan l = contract_loan();
	l.in_person_verified_at = T("2025-06-15T05:30:00Z");
	struct loan_view v;
	loan_evaluate(&l, T("2025-06-15T06:00:00Z"), &v);
	json_t *got = codec_loan_json(&l, &v);

	ck_assert_str_eq(json_string_value(json_object_get(got, "status")), "cooling");
	ck_assert_str_eq(json_string_value(json_object_get(got, "earliest_disbursement_at")),
	                 "2025-06-16T05:05:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(got, "in_person_verified_at")),
	                 "2025-06-15T05:30:00Z");
	char *s = dump(json_object_get(got, "blockers"));
	ck_assert_str_eq(s, "[\"cooling_period_active\"]");
	free(s);
	json_decref(got);
}
END_TEST

START_TEST(test_loan_json_of_uncooled_loan_has_null_period_and_end)
{
	struct loan l = recorded_loan();
	struct policy p;
	ck_assert(policy_profile("kz-card", &p));
	l.amount_tiyn = 58980000;
	l.secured = true;
	policy_assess(&p, 3932, &l);
	l.cooling_ends_at = policy_cooling_ends_at(&l, l.consent_at);
	int64_t now = T("2025-06-15T06:00:00Z");
	struct loan_view v;
	loan_evaluate(&l, now, &v);
	json_t *got = codec_loan_json(&l, &v);

	ck_assert(json_is_false(json_object_get(got, "cooling_required")));
	ck_assert(json_is_null(json_object_get(got, "cooling_period_seconds")));
	ck_assert(json_is_null(json_object_get(got, "cooling_ends_at")));
	ck_assert_str_eq(json_string_value(json_object_get(got, "amount")), "589800.00");
	ck_assert_str_eq(json_string_value(json_object_get(got, "threshold_amount")), "589800.00");
	ck_assert_str_eq(json_string_value(json_object_get(got, "status")), "eligible");
	ck_assert_int_eq(json_array_size(json_object_get(got, "blockers")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(got, "earliest_disbursement_at")),
	                 "2025-06-15T06:00:00Z");
	json_decref(got);
}
END_TEST

START_TEST(test_loan_json_amount_always_has_two_decimals)
{
	static const struct {
		int64_t tiyn;
		const char *text;
	} cases[] = {{1, "0.01"},
	             {50, "0.50"},
	             {60000000, "600000.00"},
	             {58980001, "589800.01"},
	             {99999999999999, "999999999999.99"}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct loan l = contract_loan();
		struct loan_view v;
		l.amount_tiyn = cases[i].tiyn;
		loan_evaluate(&l, T("2025-06-15T06:00:00Z"), &v);
		json_t *got = codec_loan_json(&l, &v);
		json_t *amount = json_object_get(got, "amount");
		ck_assert(json_is_string(amount));
		ck_assert_str_eq(json_string_value(amount), cases[i].text);
		json_decref(got);
	}
}
END_TEST

START_TEST(test_loan_json_of_cancelled_loan)
{
	struct loan l = contract_loan();
	l.cancelled_at = T("2025-06-15T11:00:00.250000+05:00");
	struct loan_view v;
	loan_evaluate(&l, T("2025-06-15T06:01:00Z"), &v);
	json_t *got = codec_loan_json(&l, &v);

	ck_assert_str_eq(json_string_value(json_object_get(got, "status")), "cancelled");
	ck_assert_str_eq(json_string_value(json_object_get(got, "cancelled_at")),
	                 "2025-06-15T06:00:00.250000Z");
	ck_assert(json_is_null(json_object_get(got, "earliest_disbursement_at")));
	char *s = dump(json_object_get(got, "blockers"));
	ck_assert_str_eq(
	    s, "[\"cancelled\",\"cooling_period_active\",\"in_person_verification_missing\"]");
	free(s);
	json_decref(got);
}
END_TEST

START_TEST(test_blockers_json_lists_names_in_contract_order)
{
	json_t *a = codec_blockers_json((1u << BLOCKER__COUNT) - 1);
	char *s = dump(a);

	ck_assert_str_eq(s, "[\"cancelled\",\"already_disbursed\",\"voluntary_refusal_active\","
	                    "\"fraud_claim_open\","
	                    "\"consent_missing\","
	                    "\"extra_confirmation_missing\",\"cooling_period_active\","
	                    "\"control_call_missing\","
	                    "\"other_loan_within_24h\","
	                    "\"reconfirmation_missing\",\"in_person_verification_missing\","
	                    "\"payee_flagged\",\"payee_not_borrower\"]");
	free(s);
	json_decref(a);

	a = codec_blockers_json(0);
	ck_assert(json_is_array(a));
	ck_assert_int_eq(json_array_size(a), 0);
	json_decref(a);
}
END_TEST

START_TEST(test_timestamp_json_is_utc_with_z_or_null)
{
	json_t *j = codec_ts_json(T("2025-06-15T10:00:00+05:00"));
	ck_assert_str_eq(json_string_value(j), "2025-06-15T05:00:00Z");
	json_decref(j);

	j = codec_ts_json(T("2025-12-31T19:30:00-05:00"));
	ck_assert_str_eq(json_string_value(j), "2026-01-01T00:30:00Z");
	json_decref(j);

	j = codec_ts_json(TS_NULL);
	ck_assert(json_is_null(j));
	json_decref(j);
}
END_TEST

START_TEST(test_error_json_has_code_message_and_field)
{
	struct cd_error err;
	cd_error_invalid(&err, "borrower_iin", "bad check digit");
	json_t *j = codec_error_json(&err, NULL);
	char *s = dump(j);

	ck_assert_str_eq(s, "{\"error\":{\"code\":\"validation_failed\","
	                    "\"message\":\"borrower_iin: bad check digit\","
	                    "\"field\":\"borrower_iin\"}}");
	free(s);
	json_decref(j);
}
END_TEST

START_TEST(test_error_json_omits_field_when_empty)
{
	struct cd_error err;
	cd_error_set(&err, 404, "not_found", "", "no such loan");
	json_t *j = codec_error_json(&err, NULL);
	char *s = dump(j);

	ck_assert_str_eq(s, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such loan\"}}");
	ck_assert_ptr_null(json_object_get(json_object_get(j, "error"), "field"));
	free(s);
	json_decref(j);
}
END_TEST

START_TEST(test_error_json_of_an_invalid_state_has_its_reason)
{
	struct cd_error err;
	cd_error_state(&err, REASON_ALREADY_DISBURSED, "the loan is %s", "disbursed");
	json_t *j = codec_error_json(&err, NULL);
	char *s = dump(j);

	ck_assert_str_eq(s, "{\"error\":{\"code\":\"invalid_state\","
	                    "\"message\":\"the loan is disbursed\","
	                    "\"reason\":\"already_disbursed\"}}");
	free(s);
	json_decref(j);
}
END_TEST

START_TEST(test_error_json_of_another_error_has_no_reason)
{
	struct cd_error err;
	cd_error_state(&err, REASON_CANCELLED, "the loan is cancelled");
	/* a later error in the same struct leaves no reason behind */
	cd_error_invalid(&err, "amount", "must be positive");
	json_t *j = codec_error_json(&err, NULL);

	ck_assert_ptr_null(json_object_get(json_object_get(j, "error"), "reason"));
	json_decref(j);
}
END_TEST

START_TEST(test_error_json_carries_the_request_id)
{
	struct cd_error err;
	cd_error_set(&err, 404, "not_found", "", "no such loan");
	json_t *j = codec_error_json(&err, "req-1");
	char *s = dump(j);

	ck_assert_str_eq(s, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such loan\","
	                    "\"request_id\":\"req-1\"}}");
	free(s);
	json_decref(j);
}
END_TEST

START_TEST(test_error_json_of_a_parser_error_names_the_field)
{
	struct approval_req r;
	struct cd_error err;

	ck_assert(!parse_approval_obj(minimal_with_string("currency", "kzt"), &r, &err));
	json_t *j = codec_error_json(&err, NULL);
	json_t *e = json_object_get(j, "error");

	ck_assert_int_eq(json_object_size(j), 1);
	ck_assert_int_eq(json_object_size(e), 3);
	ck_assert_str_eq(json_string_value(json_object_get(e, "code")), "validation_failed");
	ck_assert_str_eq(json_string_value(json_object_get(e, "field")), "currency");
	ck_assert_str_eq(json_string_value(json_object_get(e, "message")),
	                 "currency: must be a currency code, e.g. \"KZT\"");
	json_decref(j);
}
END_TEST

/* The direct writer of the hot path must print byte for byte what jansson
 * prints for the same loan, for every combination of state. */
START_TEST(test_direct_loan_writer_prints_exactly_what_jansson_prints)
{
	unsigned seed = 12345;
	for (int n = 0; n < 2000; n++) {
		struct loan l;
		memset(&l, 0, sizeof(l));
		seed = seed * 1103515245u + 12345u;
		unsigned bits = seed >> 8;
		snprintf(l.lender, sizeof(l.lender), "%s", (bits & 1) ? "BANK1" : "M.F:O_2-x");
		snprintf(l.loan_id, sizeof(l.loan_id), "LN-%u", bits % 100000);
		snprintf(l.borrower_iin, sizeof(l.borrower_iin), "900101300126");
		l.amount_tiyn = 1 + (int64_t)(bits % 99999999) * 1000;
		l.channel = (bits & 2) ? CHANNEL_BRANCH : CHANNEL_ONLINE;
		l.secured = bits & 4;
		l.first_time_borrower = bits & 8;
		snprintf(l.policy, sizeof(l.policy), "kz-card");
		l.mrp_tenge = 4325;
		l.threshold_tiyn = 64875000;
		l.cooling_required = bits & 16;
		l.cooling_period_s = l.cooling_required ? 86400 : 0;
		l.in_person_required = bits & 32;
		int64_t base = INT64_C(1764410400) * USEC_PER_SEC + (int64_t)(bits % 1000000);
		l.approved_at = base;
		l.consent_at = (bits & 64) ? base + 60 * USEC_PER_SEC : TS_NULL;
		l.cooling_ends_at = l.cooling_required && l.consent_at != TS_NULL
		                        ? l.consent_at + 86400 * USEC_PER_SEC
		                        : TS_NULL;
		l.in_person_verified_at = (bits & 128) ? base + 7 : TS_NULL;
		l.disbursed_at =
		    (bits & 256) && !(bits & 512) ? base + 90000 * USEC_PER_SEC : TS_NULL;
		l.cancelled_at = (bits & 512) ? base + 30 * USEC_PER_SEC : TS_NULL;
		struct loan_view v;
		loan_evaluate(&l, base + (int64_t)(bits % 200000) * USEC_PER_SEC, &v);

		json_t *j = codec_loan_json(&l, &v);
		char *want = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		char got[2048];
		size_t len = codec_loan_write(&l, &v, got, sizeof(got));
		ck_assert_uint_lt(len, sizeof(got));
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(len, strlen(want));
		free(want);
	}
}
END_TEST

START_TEST(test_direct_loan_writer_reports_the_size_it_needs_when_cut_short)
{
	struct loan l;
	memset(&l, 0, sizeof(l));
	snprintf(l.lender, sizeof(l.lender), "B");
	snprintf(l.loan_id, sizeof(l.loan_id), "L");
	snprintf(l.policy, sizeof(l.policy), "kz-card");
	l.approved_at = 0;
	l.consent_at = l.cooling_ends_at = l.in_person_verified_at = TS_NULL;
	l.disbursed_at = l.cancelled_at = TS_NULL;
	l.extra_confirmed_at = l.reconfirmed_at = TS_NULL;
	struct loan_view v;
	loan_evaluate(&l, 0, &v);
	char full[2048], small[16];
	size_t need = codec_loan_write(&l, &v, full, sizeof(full));
	ck_assert_uint_eq(codec_loan_write(&l, &v, small, sizeof(small)), need);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert(strncmp(small, full, sizeof(small) - 1) == 0);
}
END_TEST

/* ---- audit events and decision statistics ---- */

START_TEST(test_audit_event_json_has_the_eight_members_and_an_object_detail)
{
	struct codec_audit_event e = {.seq = 41,
	                              .at = 1795946400000000, /* 2026-11-29T10:00:00Z */
	                              .actor = "core1",
	                              .lender = "BANK1",
	                              .loan_id = NULL,
	                              .type = "disbursement_refused",
	                              .detail = "{\"blockers\": [\"cooling_period_active\"]}",
	                              .hash = "ab"};
	json_t *j = codec_audit_event_json(&e);
	char *s = json_dumps(j, JSON_COMPACT);
	ck_assert_str_eq(s,
	                 "{\"seq\":41,\"at\":\"2026-11-29T10:00:00Z\",\"actor\":\"core1\","
	                 "\"lender\":\"BANK1\",\"loan_id\":null,\"type\":\"disbursement_refused\","
	                 "\"detail\":{\"blockers\":[\"cooling_period_active\"]},\"hash\":\"ab\"}");
	free(s);
	json_decref(j);
	/* a detail that is not an object is {} */
	e.detail = "[1]";
	j = codec_audit_event_json(&e);
	ck_assert_int_eq(json_object_size(json_object_get(j, "detail")), 0);
	ck_assert(json_is_object(json_object_get(j, "detail")));
	json_decref(j);
}
END_TEST

START_TEST(test_buckets_group_counts_and_keep_empty_buckets)
{
	const struct decision_count rows[] = {
	    {1767207600000000, NULL, NULL, 0}, /* 2025-12-31T19:00:00Z, empty */
	    {1767211200000000, "allowed", "", 3},
	    {1767211200000000, "refused", "", 2},
	    {1767211200000000, "refused", "cooling_period_active", 2},
	    {1767211200000000, "refused", "some_future_blocker", 1},
	    {1767214800000000, NULL, NULL, 0},
	};
	json_t *b = json_array();
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		codec_buckets_add(b, &rows[i]);
	char *s = json_dumps(b, JSON_COMPACT);
	ck_assert_str_eq(s, "[{\"start\":\"2025-12-31T19:00:00Z\",\"allowed\":0,\"refused\":0,"
	                    "\"refused_by_blocker\":{}},"
	                    "{\"start\":\"2025-12-31T20:00:00Z\",\"allowed\":3,\"refused\":2,"
	                    "\"refused_by_blocker\":{\"cooling_period_active\":2,"
	                    "\"some_future_blocker\":1}},"
	                    "{\"start\":\"2025-12-31T21:00:00Z\",\"allowed\":0,\"refused\":0,"
	                    "\"refused_by_blocker\":{}}]");
	free(s);
	json_decref(b);
}
END_TEST

static Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("approval");

	tcase_add_test(tc, test_full_valid_approval_is_parsed);
	tcase_add_test(tc, test_minimal_approval_leaves_optional_fields_unset);
	tcase_add_test(tc, test_branch_secured_approval_is_parsed);
	tcase_add_test(tc, test_each_required_field_missing_is_422_naming_it);
	tcase_add_test(tc, test_empty_approval_is_422_naming_a_required_field);
	tcase_add_test(tc, test_unknown_approval_field_is_422_naming_it);
	tcase_add_test(tc, test_amount_as_json_number_is_refused);
	tcase_add_test(tc, test_amount_outside_the_grammar_is_refused);
	tcase_add_test(tc, test_amount_at_the_threshold_is_exact_tiyn);
	tcase_add_test(tc, test_booleans_as_strings_or_numbers_are_refused);
	tcase_add_test(tc, test_iin_with_bad_check_digit_is_refused_naming_borrower_iin);
	tcase_add_test(tc, test_iin_of_wrong_shape_or_type_is_refused);
	tcase_add_test(tc, test_currency_not_a_code_is_refused);
	tcase_add_test(tc, test_channel_other_than_online_or_branch_is_refused);
	tcase_add_test(tc, test_loan_id_of_64_allowed_characters_is_accepted);
	tcase_add_test(tc, test_loan_id_with_space_65_characters_or_empty_is_refused);
	tcase_add_test(tc, test_timestamp_without_offset_is_refused);
	tcase_add_test(tc, test_first_time_borrower_omitted_is_not_stated);
	tcase_add_test(tc, test_null_optional_fields_are_treated_as_omitted);
	tcase_add_test(tc, test_null_required_field_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("body");
	tcase_add_test(tc, test_empty_body_is_an_empty_object_when_allowed);
	tcase_add_test(tc, test_empty_body_is_400_when_not_allowed);
	tcase_add_test(tc, test_object_body_is_parsed);
	tcase_add_test(tc, test_body_is_read_up_to_its_length_only);
	tcase_add_test(tc, test_json_that_is_not_an_object_is_400);
	tcase_add_test(tc, test_broken_json_is_400);
	tcase_add_test(tc, test_duplicate_keys_are_400);
	tcase_add_test(tc, test_invalid_utf8_is_400);
	tcase_add_test(tc, test_nul_in_body_or_strings_is_400);
	suite_add_tcase(s, tc);

	tc = tcase_create("acts");
	tcase_add_test(tc, test_consent_body_may_be_empty_or_give_consent_at);
	tcase_add_test(tc, test_consent_with_unknown_field_or_bad_time_is_refused);
	tcase_add_test(tc, test_reconfirmation_takes_an_optional_method_of_the_four_channels);
	tcase_add_test(tc, test_verification_is_parsed);
	tcase_add_test(tc, test_verification_needs_branch_and_officer);
	tcase_add_test(tc, test_verification_with_unknown_field_or_bad_time_is_refused);
	tcase_add_test(tc, test_reason_of_1_to_200_characters_is_accepted);
	tcase_add_test(tc, test_reason_of_200_multibyte_characters_is_accepted);
	tcase_add_test(tc, test_reason_empty_or_over_200_characters_is_refused);
	tcase_add_test(tc, test_reason_with_control_characters_is_refused);
	tcase_add_test(tc, test_reason_with_c1_control_characters_is_refused);
	tcase_add_test(tc, test_reason_must_be_a_string_and_is_required);
	tcase_add_test(tc, test_cancellation_with_unknown_field_is_refused);
	tcase_add_test(tc, test_disbursement_body_takes_only_a_payee);
	tcase_add_test(tc, test_disbursement_payee_is_read_with_its_optional_owner);
	tcase_add_test(tc, test_disbursement_bad_payee_is_422_naming_payee_or_its_key);
	tcase_add_test(tc, test_disbursement_card_id_of_13_to_19_digits_is_422_and_not_echoed);
	tcase_add_test(tc, test_idempotency_key_of_1_to_64_printable_ascii_is_valid);
	tcase_add_test(tc, test_idempotency_key_empty_too_long_or_not_printable_is_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("checks");
	tcase_add_test(tc, test_timestamp_at_exactly_now_plus_skew_is_accepted);
	tcase_add_test(tc, test_timestamp_one_microsecond_beyond_skew_is_refused);
	tcase_add_test(tc, test_timestamp_at_exactly_now_minus_backdate_is_accepted);
	tcase_add_test(tc, test_timestamp_one_microsecond_beyond_backdate_is_refused);
	tcase_add_test(tc, test_zero_skew_and_backdate_accept_only_now);
	tcase_add_test(tc, test_consent_may_precede_approval_by_at_most_the_skew);
	tcase_add_test(tc, test_retry_with_the_same_facts_matches);
	tcase_add_test(tc, test_retry_with_other_facts_does_not_match);
	tcase_add_test(tc, test_retry_omitting_optional_fields_matches);
	tcase_add_test(tc, test_retry_stating_first_time_when_it_was_derived_does_not_match);
	tcase_add_test(tc, test_loan_id_dot_and_dot_dot_are_refused);
	tcase_add_test(tc, test_reason_of_only_white_space_is_refused);
	tcase_add_test(tc, test_an_act_may_precede_approval_by_at_most_the_skew);
	suite_add_tcase(s, tc);

	tc = tcase_create("cursor");
	tcase_add_test(tc, test_cursor_round_trips_the_position);
	tcase_add_test(tc, test_cursor_is_url_safe);
	tcase_add_test(tc, test_cursor_that_was_not_issued_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_test(tc, test_loan_json_has_the_contract_fields_in_the_contract_order);
	tcase_add_test(tc, test_approval_detail_holds_the_loan_in_its_own_forms);
	tcase_add_test(tc, test_loan_json_of_cooling_only_loan_gives_earliest_as_cooling_ends_at);
	tcase_add_test(tc, test_loan_json_of_uncooled_loan_has_null_period_and_end);
	tcase_add_test(tc, test_loan_json_amount_always_has_two_decimals);
	tcase_add_test(tc, test_loan_json_of_cancelled_loan);
	tcase_add_test(tc, test_blockers_json_lists_names_in_contract_order);
	tcase_add_test(tc, test_timestamp_json_is_utc_with_z_or_null);
	tcase_add_test(tc, test_error_json_has_code_message_and_field);
	tcase_add_test(tc, test_error_json_omits_field_when_empty);
	tcase_add_test(tc, test_error_json_of_a_parser_error_names_the_field);
	tcase_add_test(tc, test_error_json_of_an_invalid_state_has_its_reason);
	tcase_add_test(tc, test_error_json_of_another_error_has_no_reason);
	tcase_add_test(tc, test_error_json_carries_the_request_id);
	tcase_add_test(tc, test_direct_loan_writer_prints_exactly_what_jansson_prints);
	tcase_add_test(tc, test_direct_loan_writer_reports_the_size_it_needs_when_cut_short);
	tcase_add_test(tc, test_audit_event_json_has_the_eight_members_and_an_object_detail);
	tcase_add_test(tc, test_buckets_group_counts_and_keep_empty_buckets);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(codec_suite)

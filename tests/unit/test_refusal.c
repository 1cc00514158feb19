/*
 * The voluntary refusal registry's pure rules (lib/refusal.c): the state
 * that a list of changes gives at a moment (latest effective_at not in the
 * future, then arrival), the bureau file's RFC 4180 records with their line
 * numbers, and the checks of each field.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "codec.h"
#include "refusal.h"
#include "timeutil.h"

static int64_t T(const char *s)
{
	int64_t us;
	ck_assert_msg(ts_parse_rfc3339(s, &us, NULL), "bad test time %s", s);
	return us;
}

#define HOUR (3600 * USEC_PER_SEC)

static struct refusal_change ch(int64_t seq, bool active, int64_t at)
{
	return (struct refusal_change){
	    .seq = seq, .active = active, .effective_at = at, .source = "fcb", .recorded_at = at};
}

START_TEST(test_no_change_means_no_refusal)
{
	ck_assert_int_eq(refusal_in_force(NULL, 0, T("2026-01-01T00:00:00Z")), -1);
	ck_assert(!refusal_active_at(NULL, 0, T("2026-01-01T00:00:00Z")));
}
END_TEST

START_TEST(test_a_refusal_is_active_from_its_effective_at_on)
{
	int64_t at = T("2026-11-30T19:00:00Z");
	struct refusal_change c[] = {ch(1, true, at)};
	ck_assert(!refusal_active_at(c, 1, at - 1));
	ck_assert_int_eq(refusal_in_force(c, 1, at - 1), -1);
	ck_assert(refusal_active_at(c, 1, at));
	ck_assert(refusal_active_at(c, 1, at + 1000 * HOUR));
}
END_TEST

START_TEST(test_a_withdrawal_lifts_the_refusal_from_its_time_on)
{
	int64_t at = T("2026-11-30T19:00:00Z");
	struct refusal_change c[] = {ch(1, true, at), ch(2, false, at + HOUR)};
	ck_assert(refusal_active_at(c, 2, at + HOUR - 1));
	ck_assert(!refusal_active_at(c, 2, at + HOUR));
	ck_assert_int_eq(refusal_in_force(c, 2, at + HOUR), 1);
}
END_TEST

START_TEST(test_a_change_that_arrives_late_takes_its_place_by_effective_at)
{
	int64_t at = T("2026-11-30T19:00:00Z");
	/* the withdrawal of 20:00 arrived first, the refusal of 19:00 later:
	 * from 20:00 on the withdrawal is in force, whatever the arrival */
	struct refusal_change c[] = {ch(1, false, at + HOUR), ch(2, true, at)};
	ck_assert(refusal_active_at(c, 2, at + HOUR / 2));
	ck_assert(!refusal_active_at(c, 2, at + HOUR));
	ck_assert(!refusal_active_at(c, 2, at + 5 * HOUR));
}
END_TEST

START_TEST(test_a_future_change_takes_effect_by_itself)
{
	int64_t now = T("2026-11-30T12:00:00Z");
	struct refusal_change c[] = {ch(1, true, now + HOUR)};
	ck_assert(!refusal_active_at(c, 1, now));
	ck_assert_int_eq(refusal_in_force(c, 1, now), -1); /* effective_at and source: null */
	ck_assert(refusal_active_at(c, 1, now + HOUR));
	/* a future withdrawal leaves the refusal in force until then */
	struct refusal_change d[] = {ch(1, true, now - HOUR), ch(2, false, now + HOUR)};
	ck_assert(refusal_active_at(d, 2, now));
	ck_assert_int_eq(refusal_in_force(d, 2, now), 0);
	ck_assert(!refusal_active_at(d, 2, now + HOUR));
}
END_TEST

START_TEST(test_changes_of_the_same_moment_are_decided_by_arrival)
{
	int64_t at = T("2026-11-30T19:00:00Z");
	struct refusal_change c[] = {ch(7, true, at), ch(9, false, at), ch(8, true, at)};
	ck_assert_int_eq(refusal_in_force(c, 3, at), 1);
	ck_assert(!refusal_active_at(c, 3, at));
	struct refusal_change d[] = {ch(9, true, at), ch(3, false, at)};
	ck_assert(refusal_active_at(d, 2, at));
}
END_TEST

START_TEST(test_source_is_an_identifier_and_reference_1_to_200_characters)
{
	struct cd_error err;
	ck_assert(refusal_source_check("fcb", "source", &err));
	ck_assert(refusal_source_check("egov:stop-credit_1.0", "source", &err));
	ck_assert(!refusal_source_check("", "source", &err));
	ck_assert_str_eq(err.field, "source");
	ck_assert(!refusal_source_check("f c b", "source", &err));
	ck_assert(!refusal_source_check("..", "source", &err));
	char s65[66];
	memset(s65, 'a', 65);
	s65[65] = '\0';
	ck_assert(!refusal_source_check(s65, "source", &err));
	s65[64] = '\0';
	ck_assert(refusal_source_check(s65, "source", &err));

	ck_assert(refusal_reference_check("R-1", "reference", &err));
	ck_assert(!refusal_reference_check("", "reference", &err));
	ck_assert_str_eq(err.field, "reference");
	ck_assert(!refusal_reference_check("a\nb", "reference", &err));
	char r[256];
	memset(r, 'x', 201);
	r[201] = '\0';
	ck_assert(!refusal_reference_check(r, "reference", &err));
	r[200] = '\0';
	ck_assert(refusal_reference_check(r, "reference", &err));
	/* characters, not bytes: 200 Cyrillic letters are 400 bytes */
	char cy[512] = "";
	for (int i = 0; i < 200; i++)
		strcat(cy, "\xd0\x96");
	ck_assert(refusal_reference_check(cy, "reference", &err));
}
END_TEST

/* ---- the file ---- */

struct parsed {
	int n;
	int64_t line[8];
	int nfields[8];
	char f[8][5][64];
	const char *fault[8];
};

static void parse(const char *text, struct parsed *p)
{
	static struct csv_reader r;
	csv_init(&r);
	memset(p, 0, sizeof(*p));
	for (const char *c = text;; c++) {
		bool rec = *c ? csv_push(&r, *c) : csv_end(&r);
		if (rec && p->n < 8) {
			p->line[p->n] = r.record_line;
			p->nfields[p->n] = r.nfields;
			p->fault[p->n] = r.fault;
			for (int i = 0; i < r.nfields && i < 5; i++)
				snprintf(p->f[p->n][i], 64, "%.63s", r.field[i]);
			p->n++;
		}
		if (!*c)
			break;
	}
}

START_TEST(test_csv_records_are_rfc_4180_with_their_first_line)
{
	struct parsed p;
	parse("iin,active\r\n"
	      "a,\"b,c\"\r\n"
	      "\"multi\nline\",\"say \"\"hi\"\"\"\n"
	      "\n"
	      "last,x",
	      &p);
	ck_assert_int_eq(p.n, 4);
	ck_assert_int_eq(p.line[0], 1);
	ck_assert_str_eq(p.f[0][1], "active");
	ck_assert_int_eq(p.line[1], 2);
	ck_assert_str_eq(p.f[1][1], "b,c");
	ck_assert_int_eq(p.line[2], 3); /* its first line */
	ck_assert_str_eq(p.f[2][0], "multi\nline");
	ck_assert_str_eq(p.f[2][1], "say \"hi\"");
	ck_assert_int_eq(p.line[3], 6); /* the empty line 5 is no record */
	ck_assert_str_eq(p.f[3][0], "last");
	ck_assert_ptr_null(p.fault[3]);
}
END_TEST

START_TEST(test_csv_faults_are_named)
{
	struct parsed p;
	parse("a\"b,c\n\"x\"y,z\n\"open", &p);
	ck_assert_int_eq(p.n, 3);
	ck_assert_ptr_nonnull(p.fault[0]);
	ck_assert_ptr_nonnull(p.fault[1]);
	ck_assert_ptr_nonnull(p.fault[2]);
	ck_assert_int_eq(p.line[2], 3);
}
END_TEST

/* A carriage return ends a quoted field's text: a quote after it is no
 * escaped quote, and "x"\r,y is two fields, as "x",y is. */
START_TEST(test_csv_a_quote_after_the_closing_quote_and_a_cr_is_a_fault)
{
	struct parsed p;
	parse("\"a\"\r\"b\",c\n\"x\"\r,y\r\n", &p);
	ck_assert_int_eq(p.n, 2);
	ck_assert_ptr_nonnull(p.fault[0]);
	ck_assert_ptr_null(p.fault[1]);
	ck_assert_int_eq(p.nfields[1], 2);
	ck_assert_str_eq(p.f[1][0], "x");
	ck_assert_str_eq(p.f[1][1], "y");
}
END_TEST

/* One record checked as a change; "" when it passes, else the field. */
static const char *check_record(const char *text, struct refusal_req *q)
{
	static struct csv_reader r;
	static struct cd_error err;
	csv_init(&r);
	bool rec = false;
	for (const char *c = text; *c; c++)
		rec = csv_push(&r, *c) || rec;
	rec = csv_end(&r) || rec;
	ck_assert(rec);
	cd_error_clear(&err);
	/* today: 2026-12-01 */
	if (refusal_csv_record(&r, T("2026-12-01T00:00:00Z") / USEC_PER_SEC / 86400, q, &err))
		return "";
	return err.field;
}

START_TEST(test_a_good_line_is_a_change)
{
	struct refusal_req q;
	ck_assert_str_eq(check_record("900101300126,true,2026-11-30T19:00:00+05:00,fcb,R-1\n", &q),
	                 "");
	ck_assert_str_eq(q.iin, "900101300126");
	ck_assert(q.active);
	ck_assert_int_eq(q.effective_at, T("2026-11-30T14:00:00Z"));
	ck_assert_str_eq(q.source, "fcb");
	ck_assert(q.has_reference);
	ck_assert_str_eq(q.reference, "R-1");
	/* an empty reference is none */
	ck_assert_str_eq(check_record("900101300126,false,2026-11-30T19:00:00Z,fcb,", &q), "");
	ck_assert(!q.active);
	ck_assert(!q.has_reference);
	/* a quoted reference over two lines */
	ck_assert_str_eq(check_record("900101300126,true,2026-11-30T19:00:00Z,fcb,\"a, b\"", &q),
	                 "");
	ck_assert_str_eq(q.reference, "a, b");
}
END_TEST

START_TEST(test_each_bad_field_is_named)
{
	struct refusal_req q;
	ck_assert_str_eq(check_record("900101300127,true,2026-11-30T19:00:00Z,fcb,R", &q), "iin");
	ck_assert_str_eq(check_record("12345,true,2026-11-30T19:00:00Z,fcb,R", &q), "iin");
	/* born after today */
	ck_assert_str_eq(check_record("991231600000,true,2026-11-30T19:00:00Z,fcb,R", &q), "iin");
	ck_assert_str_eq(check_record("900101300126,yes,2026-11-30T19:00:00Z,fcb,R", &q), "active");
	ck_assert_str_eq(check_record("900101300126,TRUE,2026-11-30T19:00:00Z,fcb,R", &q),
	                 "active");
	ck_assert_str_eq(check_record("900101300126,true,2026-11-30T19:00:00,fcb,R", &q),
	                 "effective_at");
	ck_assert_str_eq(check_record("900101300126,true,2026-11-30,fcb,R", &q), "effective_at");
	ck_assert_str_eq(check_record("900101300126,true,2026-11-30T19:00:00Z,,R", &q), "source");
	ck_assert_str_eq(check_record("900101300126,true,2026-11-30T19:00:00Z,f b,R", &q),
	                 "source");
	ck_assert_str_eq(check_record("900101300126,true,2026-11-30T19:00:00Z,fcb,\"a\nb\"", &q),
	                 "reference");
	ck_assert_str_eq(check_record("900101300126,true,2026-11-30T19:00:00Z,fcb", &q),
	                 "reference");
	ck_assert_str_eq(check_record("900101300126,true", &q), "effective_at");
	ck_assert_str_eq(check_record("900101300126,true,2026-11-30T19:00:00Z,fcb,R,extra", &q),
	                 "reference");
	ck_assert_str_eq(check_record("900101300126,tr\"ue,2026-11-30T19:00:00Z,fcb,R", &q),
	                 "active");
}
END_TEST

START_TEST(test_the_header_is_exactly_the_five_names)
{
	static struct csv_reader r;
	struct cd_error err;
	static const char *const good[] = {REFUSAL_CSV_HEADER "\r\n",
	                                   "\xef\xbb\xbf" REFUSAL_CSV_HEADER "\n"};
	static const char *const bad[] = {"iin,active,effective_at,source\n",
	                                  "IIN,active,effective_at,source,reference\n",
	                                  "iin,active,effective_at,reference,source\n"};
	for (size_t k = 0; k < 5; k++) {
		const char *text = k < 2 ? good[k] : bad[k - 2];
		csv_init(&r);
		bool rec = false;
		for (const char *c = text; *c; c++)
			rec = csv_push(&r, *c) || rec;
		ck_assert(rec);
		ck_assert_msg(refusal_csv_header_check(&r, &err) == (k < 2), "%s", text);
	}
}
END_TEST

START_TEST(test_the_entry_names_the_change_in_force)
{
	int64_t now = T("2026-11-30T20:00:00Z");
	struct refusal_change c[] = {ch(1, true, T("2026-11-30T19:00:00Z")),
	                             ch(2, false, T("2026-12-30T19:00:00Z"))};
	c[0].reference = "R-1";
	json_t *e = codec_refusal_entry_json("900101300126", c, 2, now);
	ck_assert(json_is_true(json_object_get(e, "active")));
	ck_assert_str_eq(json_string_value(json_object_get(e, "effective_at")),
	                 "2026-11-30T19:00:00Z");
	ck_assert_str_eq(json_string_value(json_object_get(e, "source")), "fcb");
	ck_assert_int_eq(json_array_size(json_object_get(e, "changes")), 2);
	json_t *c1 = json_array_get(json_object_get(e, "changes"), 1);
	ck_assert(json_is_null(json_object_get(c1, "reference")));
	json_decref(e);
	/* every change still in the future: not active, no effective_at, no source */
	e = codec_refusal_entry_json("900101300126", c, 2, T("2026-11-01T00:00:00Z"));
	ck_assert(json_is_false(json_object_get(e, "active")));
	ck_assert(json_is_null(json_object_get(e, "effective_at")));
	ck_assert(json_is_null(json_object_get(e, "source")));
	json_decref(e);
}
END_TEST

START_TEST(test_the_request_body_refuses_bad_values_by_field)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
	    {"{\"active\":\"true\",\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"fcb\"}",
	     "active"},
	    {"{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00\",\"source\":\"fcb\"}",
	     "effective_at"},
	    {"{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"\"}",
	     "source"},
	    {"{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"fcb\","
	     "\"reference\":\"\"}",
	     "reference"},
	    {"{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"fcb\","
	     "\"iin\":\"x\"}",
	     "iin"},
	    {"{\"effective_at\":\"2026-11-30T19:00:00Z\",\"source\":\"fcb\"}", "active"},
	    {"{\"active\":true,\"source\":\"fcb\"}", "effective_at"},
	    {"{\"active\":true,\"effective_at\":\"2026-11-30T19:00:00Z\"}", "source"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cd_error err;
		json_t *b = json_loads(cases[i].body, 0, NULL);
		struct refusal_req q = {.iin = "900101300126"};
		ck_assert_msg(!codec_parse_refusal(b, &q, &err), "%s", cases[i].body);
		ck_assert_int_eq(err.status, 422);
		ck_assert_str_eq(err.field, cases[i].field);
		json_decref(b);
	}
	json_t *b = json_loads("{\"active\":true,\"effective_at\":\"2099-01-01T00:00:00+05:00\","
	                       "\"source\":\"fcb\",\"reference\":null}",
	                       0, NULL);
	struct refusal_req q = {.iin = "900101300126"};
	struct cd_error err;
	ck_assert(codec_parse_refusal(b, &q, &err)); /* any time: no skew limit */
	ck_assert_str_eq(q.iin, "900101300126");
	ck_assert(!q.has_reference);
	json_decref(b);
}
END_TEST

static Suite *refusal_suite(void)
{
	Suite *s = suite_create("refusal");
	TCase *tc = tcase_create("state");
	tcase_add_test(tc, test_no_change_means_no_refusal);
	tcase_add_test(tc, test_a_refusal_is_active_from_its_effective_at_on);
	tcase_add_test(tc, test_a_withdrawal_lifts_the_refusal_from_its_time_on);
	tcase_add_test(tc, test_a_change_that_arrives_late_takes_its_place_by_effective_at);
	tcase_add_test(tc, test_a_future_change_takes_effect_by_itself);
	tcase_add_test(tc, test_changes_of_the_same_moment_are_decided_by_arrival);
	tcase_add_test(tc, test_source_is_an_identifier_and_reference_1_to_200_characters);
	tcase_add_test(tc, test_the_entry_names_the_change_in_force);
	tcase_add_test(tc, test_the_request_body_refuses_bad_values_by_field);
	suite_add_tcase(s, tc);
	TCase *csv = tcase_create("csv");
	tcase_add_test(csv, test_csv_records_are_rfc_4180_with_their_first_line);
	tcase_add_test(csv, test_csv_faults_are_named);
	tcase_add_test(csv, test_csv_a_quote_after_the_closing_quote_and_a_cr_is_a_fault);
	tcase_add_test(csv, test_a_good_line_is_a_change);
	tcase_add_test(csv, test_each_bad_field_is_named);
	tcase_add_test(csv, test_the_header_is_exactly_the_five_names);
	suite_add_tcase(s, csv);
	return s;
}

CD_CHECK_MAIN(refusal_suite)

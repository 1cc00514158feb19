/*
 * The RFC 4180 reader of `coolingctl refusals import` (lib/refusal.c:
 * csv_push, csv_end, refusal_csv_header_check, refusal_csv_record), fed the
 * input a byte at a time as the command feeds a file. Checks, on every
 * input:
 * - the records agree with an independent model of the grammar, a parser
 *   that reads a whole field at a time (record ends, field count, bytes,
 *   too long, faults);
 * - every record has 1 or more fields, each NUL-terminated at its length and
 *   no longer than CSV_FIELD_MAX; records begin on lines in order; the line
 *   count at the end is one more than the input's line feeds;
 * - the header check and the record check never crash, a refusal names a
 *   field, and an accepted change has a valid IIN, a source of 1-64 bytes and
 *   a reference only when the field had one;
 * - a round trip: the well-formed records written back as CSV, every field
 *   quoted and the records ended by CRLF, read back as the same records, and
 *   written again give the same bytes.
 */
#include <stdbool.h>

#include "cd_error.h"
#include "fuzz_util.h"
#include "iin.h"
#include "refusal.h"

/* A growing byte buffer. */
struct out {
	char *buf;
	size_t len, cap;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2 + 64;
		char *b = realloc(o->buf, cap);
		if (b == NULL)
			abort();
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* A record as RFC 4180 writes it: every field quoted, quotes doubled. */
static void write_record(struct out *o, const struct csv_reader *r)
{
	for (int i = 0; i < r->nfields; i++) {
		out_put(o, i > 0 ? ",\"" : "\"", i > 0 ? 2 : 1);
		for (size_t k = 0; k < r->len[i]; k++)
			out_put(o, r->field[i][k] == '"' ? "\"\"" : &r->field[i][k],
			        r->field[i][k] == '"' ? 2 : 1);
		out_put(o, "\"", 1);
	}
	out_put(o, "\r\n", 2);
}

static bool well_formed(const struct csv_reader *r)
{
	if (r->fault != NULL || r->nfields > CSV_MAX_FIELDS)
		return false;
	for (int i = 0; i < r->nfields; i++)
		if (r->too_long[i])
			return false;
	return true;
}

static void check_record(const struct csv_reader *r, int64_t *last_line)
{
	FUZZ_CHECK(r->nfields >= 1, "a record without fields");
	FUZZ_CHECK(r->record_line >= *last_line && r->record_line <= r->line,
	           "record line %lld after %lld, reader at %lld", (long long)r->record_line,
	           (long long)*last_line, (long long)r->line);
	*last_line = r->record_line;
	for (int i = 0; i < r->nfields && i < CSV_MAX_FIELDS; i++) {
		FUZZ_CHECK(r->len[i] <= CSV_FIELD_MAX, "field %d holds %zu bytes", i, r->len[i]);
		FUZZ_CHECK(r->field[i][r->len[i]] == '\0', "field %d not terminated at its length",
		           i);
	}

	struct cd_error err;
	cd_error_clear(&err);
	if (!refusal_csv_header_check(r, &err))
		FUZZ_CHECK(err.field[0] != '\0' && err.message[0] != '\0',
		           "header refused unnamed");
	struct refusal_req q;
	cd_error_clear(&err);
	if (!refusal_csv_record(r, 20000, &q, &err)) {
		FUZZ_CHECK(err.field[0] != '\0' && err.message[0] != '\0',
		           "record refused unnamed");
		return;
	}
	FUZZ_CHECK(well_formed(r) && r->nfields == 5,
	           "accepted a record that is not 5 good fields");
	const char *why = NULL;
	FUZZ_CHECK(iin_valid(q.iin, &why), "accepted IIN %.12s", q.iin);
	size_t slen = strnlen(q.source, sizeof(q.source));
	FUZZ_CHECK(slen >= 1 && slen <= 64, "source of %zu bytes", slen);
	FUZZ_CHECK(q.has_reference == (r->field[4][0] != '\0'), "reference without its field");
}

/* The model: one record read from data at *pos, a whole field at a time.
 * Quoted: up to the closing quote, "" for a quote; then only \r before the
 * field's end. Unquoted: up to the next comma or line feed, \r dropped, a
 * quote a fault. A carriage return before a field's first byte is dropped.
 * A line with no byte but \r and no quote is no record. */
struct model_record {
	char field[CSV_MAX_FIELDS][CSV_FIELD_MAX];
	size_t len[CSV_MAX_FIELDS]; /* the whole length, also past CSV_FIELD_MAX */
	int nfields;
	bool quoted, fault;
};

static void model_put(struct model_record *m, int f, char c)
{
	if (f < CSV_MAX_FIELDS) {
		if (m->len[f] < CSV_FIELD_MAX)
			m->field[f][m->len[f]] = c;
		m->len[f]++;
	}
}

static bool model_next(const char *d, size_t n, size_t *pos, struct model_record *m)
{
	for (;;) {
		size_t i = *pos;
		if (i >= n)
			return false;
		memset(m->len, 0, sizeof(m->len));
		m->nfields = 0;
		m->quoted = m->fault = false;
		bool line_end = false;
		while (!line_end) {
			int f = m->nfields++;
			while (i < n && d[i] == '\r')
				i++;
			bool in_text = true;
			if (i < n && d[i] == '"') {
				m->quoted = true;
				bool closed = false;
				for (i++; i < n && !closed;) {
					if (d[i] == '"' && i + 1 < n && d[i + 1] == '"') {
						model_put(m, f, '"');
						i += 2;
					} else if (d[i] == '"') {
						closed = true;
						i++;
					} else {
						model_put(m, f, d[i++]);
					}
				}
				if (!closed)
					m->fault = true; /* never ends */
				while (i < n && d[i] == '\r')
					i++;
				in_text = i < n && d[i] != ',' && d[i] != '\n';
				if (in_text)
					m->fault = true; /* text after the closing quote */
			}
			if (in_text) {
				for (; i < n && d[i] != ',' && d[i] != '\n'; i++) {
					if (d[i] == '"')
						m->fault = true;
					if (d[i] != '\r')
						model_put(m, f, d[i]);
				}
			}
			if (i >= n || d[i] == '\n')
				line_end = true;
			if (i < n)
				i++; /* the comma or the line feed */
		}
		*pos = i;
		if (m->nfields == 1 && m->len[0] == 0 && !m->quoted)
			continue; /* an empty line */
		return true;
	}
}

static void check_against_model(const struct csv_reader *r, const struct model_record *m)
{
	FUZZ_CHECK(r->nfields == m->nfields, "%d fields, the model %d", r->nfields, m->nfields);
	FUZZ_CHECK((r->fault != NULL) == m->fault, "fault \"%s\", the model %s",
	           r->fault ? r->fault : "none", m->fault ? "one" : "none");
	if (m->fault)
		return; /* after a fault the field's bytes are the reader's guess */
	for (int i = 0; i < r->nfields && i < CSV_MAX_FIELDS; i++) {
		bool long_ = m->len[i] > CSV_FIELD_MAX;
		size_t kept = long_ ? CSV_FIELD_MAX : m->len[i];
		FUZZ_CHECK(r->too_long[i] == long_ && r->len[i] == kept &&
		               memcmp(r->field[i], m->field[i], kept) == 0,
		           "field %d: %zu bytes%s, the model %zu", i, r->len[i],
		           r->too_long[i] ? " (too long)" : "", m->len[i]);
	}
}

/* Reads data as the command does; the well-formed records go to o. Returns
 * the number of records. */
static int64_t read_all(const char *data, size_t size, struct out *o, bool expect_good)
{
	static struct csv_reader r;
	static struct model_record m;
	int64_t last_line = 1, feeds = 0;
	size_t mpos = 0;
	csv_init(&r);
	for (size_t i = 0; i <= size; i++) {
		bool record = i < size ? csv_push(&r, data[i]) : csv_end(&r);
		if (i < size && data[i] == '\n')
			feeds++;
		if (!record)
			continue;
		check_record(&r, &last_line);
		FUZZ_CHECK(model_next(data, size, &mpos, &m), "record %lld, the model has none",
		           (long long)r.records);
		check_against_model(&r, &m);
		if (expect_good)
			FUZZ_CHECK(well_formed(&r), "a record written back reads as malformed: %s",
			           r.fault ? r.fault : "too long or too many fields");
		if (well_formed(&r))
			write_record(o, &r);
	}
	FUZZ_CHECK(csv_end(&r) == false, "csv_end returned a record twice");
	FUZZ_CHECK(!model_next(data, size, &mpos, &m), "the model has a record more");
	FUZZ_CHECK(r.line == feeds + 1, "line %lld after %lld line feeds", (long long)r.line,
	           (long long)feeds);
	return r.records;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct out first = {0}, second = {0};

	read_all((const char *)data, size, &first, false);
	int64_t records = first.len > 0 ? read_all(first.buf, first.len, &second, true) : 0;
	FUZZ_CHECK(second.len == first.len &&
	               (first.len == 0 || memcmp(first.buf, second.buf, first.len) == 0),
	           "records written back read differently (%zu bytes, then %zu; %lld records)",
	           first.len, second.len, (long long)records);
	free(first.buf);
	free(second.buf);
	return 0;
}

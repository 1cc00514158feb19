/*
 * The voluntary refusal registry's rules (refusal.h).
 */
#include "refusal.h"

#include <stdio.h>
#include <string.h>

#include "iin.h"
#include "text.h"
#include "timeutil.h"

int refusal_in_force(const struct refusal_change *c, size_t n, int64_t now)
{
	int best = -1;
	for (size_t i = 0; i < n; i++) {
		if (c[i].effective_at > now)
			continue; /* not yet: it takes effect by itself when its time comes */
		if (best < 0 || c[i].effective_at > c[best].effective_at ||
		    (c[i].effective_at == c[best].effective_at && c[i].seq > c[best].seq))
			best = (int)i;
	}
	return best;
}

bool refusal_active_at(const struct refusal_change *c, size_t n, int64_t now)
{
	int i = refusal_in_force(c, n, now);
	return i >= 0 && c[i].active;
}

bool refusal_source_check(const char *s, const char *field, struct cd_error *err)
{
	if (!id_valid(s))
		return cd_error_invalid(err, field,
		                        "must be 1-64 characters of A-Z a-z 0-9 . _ : -, "
		                        "not \".\" or \"..\"");
	return true;
}

bool refusal_reference_check(const char *s, const char *field, struct cd_error *err)
{
	enum text_fault fault;
	if (!text_valid(s, REFUSAL_REFERENCE_MAX_CHARS, &fault))
		return cd_error_invalid(err, field,
		                        fault == TEXT_CONTROL
		                            ? "must not contain control characters"
		                        : fault == TEXT_LENGTH ? "must be 1-200 characters"
		                                               : "must be UTF-8");
	if (strlen(s) >= REFUSAL_REFERENCE_BUF)
		return cd_error_invalid(err, field, "too long");
	return true;
}

/* ---- RFC 4180 ---- */

enum csv_state {
	CSV_FIELD_START, /* at the start of a field */
	CSV_UNQUOTED,    /* inside a field without quotes */
	CSV_QUOTED,      /* inside "..." */
	CSV_QUOTE_SEEN,  /* a quote inside "...": the end, or the first of "" */
	CSV_CLOSED,      /* past the closing quote and a \r: only the field's end */
};

static void record_reset(struct csv_reader *r)
{
	for (int i = 0; i < CSV_MAX_FIELDS; i++) {
		r->len[i] = 0;
		r->too_long[i] = false;
		r->field[i][0] = '\0';
	}
	r->cur = 0;
	r->nfields = 0;
	r->quoted = false;
	r->state = CSV_FIELD_START;
	r->complete = false;
	r->any = false;
	r->record_line = r->line;
	r->fault = NULL;
	r->fault_field = 0;
}

void csv_init(struct csv_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->line = 1;
	record_reset(r);
}

static void append(struct csv_reader *r, char c)
{
	if (r->cur >= CSV_MAX_FIELDS)
		return;
	int f = r->cur;
	if (r->len[f] >= CSV_FIELD_MAX) {
		r->too_long[f] = true;
		return;
	}
	r->field[f][r->len[f]++] = c;
	r->field[f][r->len[f]] = '\0';
}

static void fault(struct csv_reader *r, const char *why)
{
	if (r->fault == NULL) {
		r->fault = why;
		r->fault_field = r->cur;
	}
}

static void end_field(struct csv_reader *r)
{
	r->cur++;
	r->state = CSV_FIELD_START;
}

/* The record ends at a line end outside quotes: true unless it was an empty
 * line. */
static bool end_record(struct csv_reader *r)
{
	r->nfields = r->cur + 1;
	bool empty = r->nfields == 1 && r->len[0] == 0 && !r->quoted && !r->too_long[0];
	if (empty) {
		record_reset(r); /* the next record begins with the next byte */
		return false;
	}
	r->complete = true;
	r->records++;
	return true;
}

bool csv_push(struct csv_reader *r, char c)
{
	if (r->complete)
		record_reset(r);
	if (!r->any) {
		r->any = true;
		r->record_line = r->line;
	}
	bool completed = false;
	switch (r->state) {
	case CSV_FIELD_START:
		if (c == '"') {
			r->quoted = true;
			r->state = CSV_QUOTED;
		} else if (c == ',') {
			end_field(r);
		} else if (c == '\n') {
			completed = end_record(r);
		} else if (c != '\r') {
			append(r, c);
			r->state = CSV_UNQUOTED;
		}
		break;
	case CSV_UNQUOTED:
		if (c == ',') {
			end_field(r);
		} else if (c == '\n') {
			completed = end_record(r);
		} else if (c != '\r') {
			if (c == '"')
				fault(r, "a quote inside a field that does not begin with one");
			append(r, c);
		}
		break;
	case CSV_QUOTED:
		if (c == '"')
			r->state = CSV_QUOTE_SEEN;
		else
			append(r, c);
		break;
	case CSV_QUOTE_SEEN:
		if (c == '"') {
			append(r, '"');
			r->state = CSV_QUOTED;
		} else if (c == ',') {
			end_field(r);
		} else if (c == '\n') {
			completed = end_record(r);
		} else if (c == '\r') {
			r->state = CSV_CLOSED; /* a quote after it is text, not "" */
		} else {
			fault(r, "text after the closing quote of a field");
			append(r, c);
			r->state = CSV_UNQUOTED;
		}
		break;
	case CSV_CLOSED:
		if (c == ',') {
			end_field(r);
		} else if (c == '\n') {
			completed = end_record(r);
		} else if (c != '\r') {
			fault(r, "text after the closing quote of a field");
			append(r, c);
			r->state = CSV_UNQUOTED;
		}
		break;
	}
	if (c == '\n')
		r->line++;
	return completed;
}

bool csv_end(struct csv_reader *r)
{
	if (r->complete || !r->any)
		return false;
	if (r->state == CSV_QUOTED)
		fault(r, "a quoted field that never ends");
	r->nfields = r->cur + 1;
	if (r->nfields == 1 && r->len[0] == 0 && !r->quoted)
		return false;
	r->complete = true;
	r->records++;
	return true;
}

/* ---- a record as a change ---- */

static const char *const csv_columns[] = {"iin", "active", "effective_at", "source", "reference"};
#define CSV_COLUMNS ((int)(sizeof(csv_columns) / sizeof(csv_columns[0])))

bool csv_header_is(const struct csv_reader *r, const char *const *names, int n)
{
	bool ok = r->fault == NULL && r->nfields == n;
	for (int i = 0; ok && i < n; i++) {
		const char *f = r->field[i];
		/* a UTF-8 byte order mark before the first name */
		if (i == 0 && strncmp(f, "\xef\xbb\xbf", 3) == 0)
			f += 3;
		ok = strcmp(f, names[i]) == 0;
	}
	return ok;
}

bool csv_record_fits(const struct csv_reader *r, const char *const *names, int n,
                     const char *header, struct cd_error *err)
{
	if (r->fault != NULL)
		return cd_error_invalid(err, names[r->fault_field < n ? r->fault_field : n - 1],
		                        r->fault);
	char why[160];
	if (r->nfields < n) {
		snprintf(why, sizeof(why), "missing (a line has %d fields: %s)", n, header);
		return cd_error_invalid(err, names[r->nfields], why);
	}
	if (r->nfields > n) {
		snprintf(why, sizeof(why), "more than %d fields (%s)", n, header);
		return cd_error_invalid(err, names[n - 1], why);
	}
	for (int i = 0; i < n; i++)
		if (r->too_long[i])
			return cd_error_invalid(err, names[i], "too long");
	return true;
}

bool refusal_csv_header_check(const struct csv_reader *r, struct cd_error *err)
{
	if (!csv_header_is(r, csv_columns, CSV_COLUMNS))
		return cd_error_invalid(err, "header", "must be " REFUSAL_CSV_HEADER);
	return true;
}

bool refusal_csv_change(const char *const f[4], struct refusal_req *q, struct cd_error *err)
{
	const char *why = NULL;
	if (strcmp(f[0], "true") == 0)
		q->active = true;
	else if (strcmp(f[0], "false") == 0)
		q->active = false;
	else
		return cd_error_invalid(err, "active", "must be true or false");

	if (!ts_parse_rfc3339(f[1], &q->effective_at, &why))
		return cd_error_invalid(err, "effective_at",
		                        why ? why : "not an RFC 3339 timestamp with offset");

	if (!refusal_source_check(f[2], "source", err))
		return false;
	memcpy(q->source, f[2], strlen(f[2]) + 1); /* checked: 1-64 bytes */

	/* an empty reference is none */
	if (f[3][0] != '\0') {
		if (!refusal_reference_check(f[3], "reference", err))
			return false;
		q->has_reference = true;
		memcpy(q->reference, f[3], strlen(f[3]) + 1); /* checked: < 801 */
	}
	return true;
}

bool refusal_csv_record(const struct csv_reader *r, int64_t today_days, struct refusal_req *q,
                        struct cd_error *err)
{
	memset(q, 0, sizeof(*q));
	if (!csv_record_fits(r, csv_columns, CSV_COLUMNS, REFUSAL_CSV_HEADER, err))
		return false;

	const char *why = NULL;
	const char *iin = r->field[0];
	if (!iin_valid(iin, &why))
		return cd_error_invalid(err, "iin", why);
	if (!iin_born_by(iin, today_days, &why))
		return cd_error_invalid(err, "iin", why);
	memcpy(q->iin, iin, sizeof(q->iin));
	const char *const change[4] = {r->field[1], r->field[2], r->field[3], r->field[4]};
	return refusal_csv_change(change, q, err);
}

/*
 * The payee's rules (payee.h).
 */
#include "payee.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

bool payee_looks_like_pan(const char *s)
{
	size_t n = strlen(s);
	if (n < PAYEE_PAN_MIN_DIGITS || n > PAYEE_PAN_MAX_DIGITS)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool payee_id_valid(enum payee_kind kind, const char *id, const char **why)
{
	/* an id may stand in a URL path (/v1/suspicious-payees/{kind}/{id}),
	 * where clients drop dot segments */
	if (id_is_dot_segment(id)) {
		*why = "must not be \".\" or \"..\"";
		return false;
	}
	if (!id_valid(id)) {
		*why = "must be 1-64 characters of A-Z a-z 0-9 . _ : -";
		return false;
	}
	if (kind == PAYEE_CARD && payee_looks_like_pan(id)) {
		*why = "a card is named by the lender's token or hash of it, never by its number";
		return false;
	}
	return true;
}

bool payee_is_borrower(const struct payee *p, const char *borrower_iin)
{
	return p->has_owner && strcmp(p->owner_iin, borrower_iin) == 0;
}

/* ---- the anti-fraud centre's file ---- */

static const char *const csv_columns[] = {"kind",         "id",     "active",
                                          "effective_at", "source", "reference"};
#define CSV_COLUMNS ((int)(sizeof(csv_columns) / sizeof(csv_columns[0])))

bool payee_csv_header_check(const struct csv_reader *r, struct cd_error *err)
{
	if (!csv_header_is(r, csv_columns, CSV_COLUMNS))
		return cd_error_invalid(err, "header", "must be " PAYEE_CSV_HEADER);
	return true;
}

bool payee_csv_record(const struct csv_reader *r, struct payee *p, struct refusal_req *q,
                      struct cd_error *err)
{
	memset(p, 0, sizeof(*p));
	memset(q, 0, sizeof(*q));
	if (!csv_record_fits(r, csv_columns, CSV_COLUMNS, PAYEE_CSV_HEADER, err))
		return false;

	int kind;
	if (!name_lookup(&payee_kind_names, r->field[0], &kind))
		return cd_error_invalid(err, "kind", "must be account, card or wallet");
	p->kind = (enum payee_kind)kind;
	const char *why = NULL;
	if (!payee_id_valid(p->kind, r->field[1], &why))
		return cd_error_invalid(err, "id", why);
	memcpy(p->id, r->field[1], strlen(r->field[1]) + 1); /* checked: 1-64 bytes */
	const char *const change[4] = {r->field[2], r->field[3], r->field[4], r->field[5]};
	return refusal_csv_change(change, q, err);
}

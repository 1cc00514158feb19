/*
 * The payee's rules (payee.h).
 */
#include "payee.h"

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

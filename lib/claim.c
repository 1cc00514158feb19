/*
 * The fraud claim's values and the rule of its closure (claim.h).
 */
#include "claim.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "text.h"
#include "timeutil.h"

const char *claim_outcome_name(enum claim_outcome o)
{
	return o == CLAIM_CONFIRMED ? "confirmed" : o == CLAIM_UNFOUNDED ? "unfounded" : NULL;
}

bool claim_outcome_parse(const char *s, enum claim_outcome *o)
{
	if (strcmp(s, "confirmed") == 0)
		*o = CLAIM_CONFIRMED;
	else if (strcmp(s, "unfounded") == 0)
		*o = CLAIM_UNFOUNDED;
	else
		return false;
	return true;
}

void claim_id_format(int64_t id, char out[CLAIM_ID_BUF])
{
	snprintf(out, CLAIM_ID_BUF, "FC-%" PRId64, id);
}

bool claim_id_parse(const char *s, int64_t *id)
{
	if (strncmp(s, "FC-", 3) != 0 || s[3] == '0')
		return false; /* one spelling per claim: no leading zeros */
	return int_parse(s + 3, id) && *id > 0;
}

static bool text_check(const char *s, size_t max_chars, const char *field, struct cd_error *err)
{
	enum text_fault fault = TEXT_LENGTH;
	bool valid = text_valid(s, max_chars, &fault);
	if (valid && !text_blank(s))
		return true;
	char why[64];
	snprintf(why, sizeof(why), "must be 1-%zu characters, not only white space", max_chars);
	return cd_error_invalid(err, field,
	                        !valid && fault == TEXT_CONTROL
	                            ? "must not contain control characters"
	                        : !valid && fault == TEXT_NOT_UTF8 ? "must be UTF-8"
	                                                           : why);
}

bool claim_reference_check(const char *s, const char *field, struct cd_error *err)
{
	return text_check(s, CLAIM_REFERENCE_MAX_CHARS, field, err);
}

bool claim_note_check(const char *s, const char *field, struct cd_error *err)
{
	return text_check(s, CLAIM_NOTE_MAX_CHARS, field, err);
}

enum claim_close_verdict claim_close_decide(const struct fraud_claim *c,
                                            const struct claim_close_req *q, struct cd_error *err)
{
	if (c->closed_at == TS_NULL)
		return CLAIM_CLOSE_WRITE;
	if (c->outcome == q->outcome)
		return CLAIM_CLOSE_REPEAT;
	cd_error_state(err, REASON_DIFFERENT_DETAILS, "the claim is closed already as %s",
	               claim_outcome_name(c->outcome));
	return CLAIM_CLOSE_REFUSE;
}

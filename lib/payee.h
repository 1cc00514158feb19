/*
 * Where a payout goes: the disbursement's payee (an account, the lender's
 * token or hash of a card, a wallet), the rules of its values, and whether
 * it is the borrower's own ([policy] payout_to_borrower_only). Pure.
 *
 * A card is never named by its number (PAN): an id of 13-19 digits is
 * refused, and no message or log line ever repeats a payee's id.
 */
#ifndef CD_PAYEE_H
#define CD_PAYEE_H

#include <stdbool.h>

#include "names.h"
#include "policy.h"
#include "refusal.h"

struct payee {
	enum payee_kind kind;
	char id[ID_BUF];
	bool has_owner; /* owner_iin was given */
	char owner_iin[13];
};

/* What the configuration asks of a disbursement's payee. */
struct payee_rules {
	bool required;         /* [policy] payee_required, or implied by the next */
	bool to_borrower_only; /* [policy] payout_to_borrower_only */
};

/* The lowest and highest number of digits of a payment card's number. */
#define PAYEE_PAN_MIN_DIGITS 13
#define PAYEE_PAN_MAX_DIGITS 19

/* True when s looks like a card number: 13-19 ASCII digits and nothing
 * else. */
bool payee_looks_like_pan(const char *s);

/* The rules of an id of that kind: 1-64 identifier characters (not "."
 * or ".."), and for a card not a card number. On false *why says which,
 * without the id. */
bool payee_id_valid(enum payee_kind kind, const char *id, const char **why);

/* Whether a payout to p may go ahead under to_borrower_only: its owner is
 * stated and is the borrower. */
bool payee_is_borrower(const struct payee *p, const char *borrower_iin);

/* ---- the anti-fraud centre's file (coolingctl payees import) ----
 *
 * RFC 4180 CSV (refusal.h's reader) with the refusal file's change fields
 * after the payee's kind and id. A bad line's message never repeats its
 * id. */
#define PAYEE_CSV_HEADER "kind,id,active,effective_at,source,reference"
bool payee_csv_header_check(const struct csv_reader *r, struct cd_error *err);
/* A record as a change of a payee: false with err naming the field (kind,
 * id, active, effective_at, source, reference). */
bool payee_csv_record(const struct csv_reader *r, struct payee *p, struct refusal_req *q,
                      struct cd_error *err);

#endif
